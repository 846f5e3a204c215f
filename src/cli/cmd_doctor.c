/*
 * cmd_doctor.c - `scandb doctor [--quick] [--fix]`: is the data right?
 * Runs every check of store_doctor (migrations, the engine's integrity and
 * foreign-key checks, CHECK constraints, orphans of every relation, stuck
 * jobs, and on PostgreSQL ownership/privileges) and prints each problem
 * with how to fix it.  --quick is the routine check (store.h
 * STORE_DOCTOR_QUICK); --fix marks stuck jobs failed (one transaction).
 * Exit 0 when nothing is wrong (after --fix), 1 otherwise.
 * docs/OPERATIONS.md.
 */
#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "cli/cli.h"
#include "cli/ops_util.h"
#include "cli/output.h"
#include "core/error.h"
#include "core/timeutil.h"

static const char usage[] =
    "usage: scandb doctor [--quick] [--fix] [--format table|json|ndjson|csv]\n"
    "\n"
    "Check the database: applied migrations and their checksums, the\n"
    "engine's integrity check (SQLite: integrity_check, foreign_key_check),\n"
    "CHECK constraints re-validated on every row, orphan rows of every\n"
    "relation, and jobs stuck in 'running' past their timeout.  Each problem\n"
    "is printed with the command or SQL that fixes it.\n"
    "\n"
    "  --quick           the routine check: SQLite's quick_check (every page\n"
    "                    and constraint, but index entries are not matched to\n"
    "                    their rows; it says how long the full check would\n"
    "                    take), and on PostgreSQL the keys and constraints it\n"
    "                    enforces are checked in the catalog, rows not re-read\n"
    "  --fix             mark stuck jobs failed (in one transaction)\n"
    "  --format FORMAT   table (default), json, or ndjson/csv (one row per\n"
    "                    problem: check, count, what, fix)\n"
    "\n"
    "Exit status: 0 nothing wrong, 1 problems found (or the checks could not\n"
    "run), 2 usage error.\n";

static int print_json(const struct store_doctor_report *rep)
{
	json_t *o = json_object(), *checks = json_array(), *problems = json_array();

	if (!o || !checks || !problems) {
		json_decref(o);
		json_decref(checks);
		json_decref(problems);
		return output_err("doctor", SDB_ENOMEM);
	}
	for (size_t i = 0; i < rep->nchecks; i++)
		json_array_append_new(checks,
		                      json_pack("{s:s, s:s, s:o}", "name", rep->checks[i].name,
		                                "status", rep->checks[i].status, "detail",
		                                ops_json_str(rep->checks[i].detail)));
	for (size_t i = 0; i < rep->nproblems; i++) {
		const struct store_problem *p = &rep->problems[i];
		json_array_append_new(
		    problems, json_pack("{s:s, s:o, s:s, s:o}", "check", p->check, "count",
		                        p->count >= 0 ? json_integer(p->count) : json_null(),
		                        "what", p->what, "fix", ops_json_str(p->fix)));
	}
	json_object_set_new(o, "ok", json_boolean(rep->nproblems == 0));
	json_object_set_new(o, "checks", checks);
	json_object_set_new(o, "problems", problems);
	json_object_set_new(o, "fixed_stuck_jobs", json_integer(rep->fixed_stuck_jobs));
	return output_json_print(stdout, o) ? output_err("doctor", SDB_EIO) : CLI_OK;
}

/* ndjson/csv: one row per problem. */
static int print_rows(const struct store_doctor_report *rep, enum cli_format fmt)
{
	static const char *const keys[] = {"check", "count", "what", "fix"};
	json_t *rows = json_array();

	for (size_t i = 0; rows && i < rep->nproblems; i++) {
		const struct store_problem *p = &rep->problems[i];
		json_array_append_new(rows, json_pack("{s:s, s:o, s:s, s:o}", "check", p->check,
		                                      "count", ops_json_opt(p->count), "what",
		                                      p->what, "fix", ops_json_str(p->fix)));
	}
	return ops_print_rows(fmt, keys, 4, rows) ? output_err("doctor", SDB_EIO) : CLI_OK;
}

static int print_table(const struct store_doctor_report *rep)
{
	static const char *const cols[] = {"CHECK", "STATUS", "DETAIL"};
	struct output_table t;
	int r;

	if ((r = output_table_init(&t, 3, cols)) != 0)
		return output_err("doctor", r);
	for (size_t i = 0; i < rep->nchecks && r == 0; i++) {
		const char *cells[3] = {rep->checks[i].name, rep->checks[i].status,
		                        rep->checks[i].detail};
		r = output_table_add(&t, cells);
	}
	if (r == 0)
		r = output_table_print(&t, stdout);
	output_table_free(&t);
	if (r != 0)
		return output_err("doctor", r);
	if (rep->nproblems)
		printf("\n%zu problem%s:\n", rep->nproblems, rep->nproblems == 1 ? "" : "s");
	for (size_t i = 0; i < rep->nproblems; i++) {
		const struct store_problem *p = &rep->problems[i];
		char *what = output_text(p->what, 0, "-"), *fix = output_text(p->fix, 0, "-");

		printf("\n[%s] %s\n  fix: %s\n", p->check, what ? what : "-", fix ? fix : "-");
		free(what);
		free(fix);
	}
	if (!rep->nproblems)
		printf("\nno problems found\n");
	return CLI_OK;
}

/* What `doctor` was asked. */
struct doctor_args {
	enum cli_format fmt;
	int fix, quick;
};

/* cli_args.on_opt: --fix, --quick, --format. */
static int doctor_opt(void *ctx, int ch, char *arg)
{
	struct doctor_args *a = ctx;

	if (ch == 'x')
		a->fix = 1;
	else if (ch == 'q')
		a->quick = 1;
	else if (ch == 'f')
		return ops_parse_format("doctor", arg, 1, &a->fmt);
	else
		return CLI_ARG_UNKNOWN;
	return 0;
}

int cmd_doctor(struct cli *c, int argc, char **argv)
{
	static const struct option opts[] = {
	    {"fix", no_argument, NULL, 'x'},
	    {"quick", no_argument, NULL, 'q'},
	    {"format", required_argument, NULL, 'f'},
	    {"help", no_argument, NULL, 'h'},
	    {NULL, 0, NULL, 0},
	};
	struct doctor_args a = {CLI_FMT_TABLE, 0, 0};
	const struct cli_args spec = {.cmd = "doctor",
	                              .usage = usage,
	                              .shortopts = ":h",
	                              .opts = opts,
	                              .on_opt = doctor_opt,
	                              .ctx = &a};
	struct store_doctor_report rep;
	char msg[1024];
	int r;

	if ((r = cli_parse_args(&spec, argc, argv, NULL)) != CLI_GO_ON)
		return r;
	if ((r = cli_open_as(c, a.fix ? CLI_OPEN_ADMIN : CLI_OPEN_INSPECT, msg, sizeof(msg))) !=
	    CLI_OK) {
		/* a SQLite file too damaged to open is doctor's finding, with
		 * restore as the way out */
		cli_err("%s", msg);
		if (store_doctor_damaged(c->db, &rep) != 1)
			return r;
	} else if ((r = store_doctor(
	                c->st, (a.fix ? STORE_DOCTOR_FIX : 0) | (a.quick ? STORE_DOCTOR_QUICK : 0),
	                time_now(), &rep)) != 0) {
		return output_store_err(c, "doctor", r);
	}
	r = a.fmt == CLI_FMT_JSON    ? print_json(&rep)
	    : a.fmt == CLI_FMT_TABLE ? print_table(&rep)
	                             : print_rows(&rep, a.fmt);
	if (r == CLI_OK && !c->quiet) {
		if (rep.fixed_stuck_jobs)
			cli_err("marked %d stuck job%s failed", rep.fixed_stuck_jobs,
			        rep.fixed_stuck_jobs == 1 ? "" : "s");
		if (rep.nproblems)
			cli_err("doctor: %zu problem%s found", rep.nproblems,
			        rep.nproblems == 1 ? "" : "s");
	}
	if (r == CLI_OK && rep.nproblems)
		r = CLI_FAIL;
	store_doctor_report_free(&rep);
	return r;
}
