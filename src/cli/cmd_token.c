/*
 * cmd_token.c - `scandb token create|list|revoke`: the API tokens of
 * `scandb serve` (app/tokens.c makes and checks them).  `create` prints the
 * secret once, as the last word of its output; nothing else ever shows it.
 */
#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "app/tokens.h"
#include "app/views.h"
#include "cli/cli.h"
#include "cli/output.h"
#include "core/error.h"
#include "core/timeutil.h"

static const char token_usage[] =
    "usage: scandb token create NAME --scope read|write|admin [--expires DURATION]\n"
    "       scandb token list [--format table|json|ndjson]\n"
    "       scandb token revoke NAME|ID\n"
    "\n"
    "API tokens of `scandb serve`.  create prints the new token's secret once,\n"
    "as the last word of its output: only a salted hash of it is stored.\n"
    "list never shows secrets; revoke ends a token at once (its name stays taken).\n"
    "\n"
    "  --scope SCOPE       read (GET requests), write (also uploads and a\n"
    "                      finding's status) or admin (everything)\n"
    "  --expires DURATION  the token ends after DURATION (90d, 12h, 2w, 1y);\n"
    "                      default: never\n"
    "  --format FORMAT     list: table (default), json or ndjson\n";

enum { OPT_SCOPE = 256, OPT_EXPIRES, OPT_FORMAT };

static const struct option token_opts[] = {
    {"scope", required_argument, NULL, OPT_SCOPE},
    {"expires", required_argument, NULL, OPT_EXPIRES},
    {"format", required_argument, NULL, OPT_FORMAT},
    {"help", no_argument, NULL, 'h'},
    {NULL, 0, NULL, 0},
};

struct token_args {
	const char *sub;
	const char *scope;
	int64_t expires; /* seconds; 0: never */
	enum cli_format fmt;
};

static int token_opt(void *ctx, int ch, char *arg)
{
	struct token_args *a = ctx;

	switch (ch) {
	case OPT_SCOPE:
		a->scope = arg;
		return 0;
	case OPT_EXPIRES:
		if (time_parse_duration(arg, &a->expires) != 0 || a->expires <= 0)
			return cli_usage_err(
			    "token", "--expires: '%s' is not a duration (90d, 12h, 2w, 1y)", arg);
		return 0;
	case OPT_FORMAT:
		return cli_parse_format("token", arg, &a->fmt);
	default:
		return CLI_ARG_UNKNOWN;
	}
}

static int token_create_cmd(struct cli *c, const struct token_args *a, const char *name)
{
	char secret[TOKEN_SECRET_MAX], exp[TIME_ISO_LEN];
	enum token_scope scope;
	int64_t now = time_now(), id = 0;
	int r;

	if (!a->scope)
		return cli_usage_err("token", "create needs --scope read, write or admin");
	if (token_scope_parse(a->scope, &scope) != 0)
		return cli_usage_err("token", "--scope: '%s' is not read, write or admin",
		                     a->scope);
	if (strlen(name) < 1 || strlen(name) > 64)
		return cli_usage_err("token", "a token name has 1 to 64 bytes");
	if ((r = cli_open_as(c, CLI_OPEN_WRITE, NULL, 0)) != CLI_OK)
		return r;
	r = token_create(c->st, name, scope, now, a->expires ? now + a->expires : 0, secret, &id);
	if (r != 0)
		return output_store_err(c, "cannot create the token", r);
	time_format_iso(a->expires ? now + a->expires : 0, exp);
	printf("token %" PRId64 " '%s' (scope %s, expires %s); its secret, shown only now: %s\n",
	       id, name, token_scope_name(scope), exp[0] ? exp : "never", secret);
	memset(secret, 0, sizeof(secret));
	return CLI_OK;
}

static const char *const list_cols[] = {"ID",      "NAME",      "SCOPE",  "CREATED",
                                        "EXPIRES", "LAST USED", "REVOKED"};

static int on_token(void *ctx, struct store_token *t)
{
	struct output_list *l = ctx;
	char id[24], times[4][TIME_ISO_LEN];
	const char *cells[7];
	int r;

	if (l->fmt == CLI_FMT_JSON || l->fmt == CLI_FMT_NDJSON) {
		r = output_stream_item(&l->js, view_token_json(t));
	} else {
		snprintf(id, sizeof(id), "%" PRId64, t->id);
		time_format_iso(t->created_at, times[0]);
		time_format_iso(t->expires_at, times[1]);
		time_format_iso(t->last_used_at, times[2]);
		time_format_iso(t->revoked_at, times[3]);
		cells[0] = id;
		cells[1] = t->name;
		cells[2] = t->scope;
		cells[3] = times[0];
		cells[4] = t->expires_at ? times[1] : "never";
		cells[5] = t->last_used_at ? times[2] : "never";
		cells[6] = times[3];
		r = output_list_row(l, cells);
	}
	store_token_free(t);
	l->n++;
	l->err = r;
	return r;
}

static int token_list_cmd(struct cli *c, const struct token_args *a)
{
	struct output_list l;
	int r;

	if (a->fmt == CLI_FMT_CSV)
		return cli_usage_err("token", "--format: list prints table, json or ndjson");
	if ((r = cli_open_as(c, CLI_OPEN_READ, NULL, 0)) != CLI_OK)
		return r;
	memset(&l, 0, sizeof(l));
	if ((r = output_list_begin(&l, a->fmt, 7, list_cols, NULL)) == 0)
		r = store_tokens_each(c->st, 0, on_token, &l);
	return output_list_end(c, &l, r, "token");
}

static int token_revoke_cmd(struct cli *c, const char *name)
{
	int64_t id = 0;
	int changed = 0, r;

	if ((r = cli_open_as(c, CLI_OPEN_UPDATE, NULL, 0)) != CLI_OK)
		return r;
	if ((r = token_revoke(c->st, name, time_now(), &id, &changed)) != 0)
		return output_store_err(c, "cannot revoke the token", r);
	if (!c->quiet)
		fprintf(stderr, "token %" PRId64 " %s\n", id,
		        changed ? "revoked" : "was revoked already");
	return CLI_OK;
}

int cmd_token(struct cli *c, int argc, char **argv)
{
	struct token_args a = {NULL, NULL, 0, CLI_FMT_TABLE};
	const struct cli_args spec = {.cmd = "token",
	                              .usage = token_usage,
	                              .shortopts = ":h",
	                              .opts = token_opts,
	                              .on_opt = token_opt,
	                              .ctx = &a,
	                              .min = 1,
	                              .max = 2,
	                              .missing = "create, list or revoke"};
	int first, r, nargs;

	if ((r = cli_parse_args(&spec, argc, argv, &first)) != CLI_GO_ON)
		return r;
	a.sub = argv[first];
	nargs = argc - first - 1;
	if (strcmp(a.sub, "list") == 0) {
		if (nargs != 0)
			return cli_usage_err("token", "unexpected argument '%s'", argv[first + 1]);
		return token_list_cmd(c, &a);
	}
	if (strcmp(a.sub, "create") != 0 && strcmp(a.sub, "revoke") != 0)
		return cli_usage_err("token", "unknown subcommand '%s' (create, list or revoke)",
		                     a.sub);
	if (nargs != 1)
		return cli_usage_err("token", "%s needs a token %s", a.sub,
		                     a.sub[0] == 'c' ? "NAME" : "NAME or ID");
	if (a.sub[0] == 'c')
		return token_create_cmd(c, &a, argv[first + 1]);
	if (a.scope || a.expires)
		return cli_usage_err("token", "revoke takes no --scope or --expires");
	return token_revoke_cmd(c, argv[first + 1]);
}
