/*
 * test_findings_decide.c - history/findings.c's decision rule, called
 * directly with plain data (no database): what a scan detects
 * (findings_detect) and what it decides on the host's known findings
 * (findings_decide): a new finding opened, one seen again, reopened,
 * resolved when the scan probed its cause and did not find it, kept when
 * it did not probe it or the scan is older, and the user's statuses
 * (false_positive, skipped) kept.  app/findings.c writes these decisions;
 * tests/e2e/test_findings.py checks them end to end on both backends.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "core/error.h"
#include "core/scope.h"
#include "history/findings.h"

#define ADDR "10.0.0.7"
#define FP22 "nse_vuln|ssh-vuln||" ADDR "|22/tcp"

static const char vuln_out[] = "\n  VULNERABLE:\n  Weak SSH thing\n    State: VULNERABLE\n"
                               "    Risk factor: Medium\n";
static const struct rec_script vuln_script = {"ssh-vuln", vuln_out};
static const struct rec_script clean_script = {"ssh-vuln", "State: NOT VULNERABLE"};

/* A host up with port 22/tcp in `state` running `script` (or none). */
struct scan_of {
	struct rec_port port;
	struct rec_host host;
};

static void scan_init(struct scan_of *s, enum rec_host_status status, enum rec_port_state state,
                      const struct rec_script *script)
{
	memset(s, 0, sizeof(*s));
	s->port.proto = REC_PROTO_TCP;
	s->port.port = 22;
	s->port.state = state;
	s->port.reason_ttl = -1;
	s->port.scripts = script;
	s->port.nscripts = script ? 1 : 0;
	s->host.status = status;
	s->host.addr = ADDR;
	s->host.family = 4;
	s->host.uptime_seconds = -1;
	s->host.distance = -1;
	if (status == REC_HOST_UP) {
		s->host.ports = &s->port;
		s->host.nports = 1;
	}
}

/* The known nse_vuln finding of FP22. */
static struct findings_known known22(const char *status, int64_t state_at)
{
	return (struct findings_known){.fingerprint = FP22,
	                               .type = "nse_vuln",
	                               .source = "ssh-vuln",
	                               .proto = REC_PROTO_TCP,
	                               .port = 22,
	                               .status = status,
	                               .state_at = state_at};
}

/* Detect and decide one scan at `at` (job 9); the plan is the caller's. */
static void run(struct findings_plan *p, const struct findings_rules *rules,
                const struct rec_host *scan, const struct ev_event *evs, size_t nevs,
                const struct scan_scope *scope, const struct findings_known *known, size_t nknown,
                int64_t at)
{
	memset(p, 0, sizeof(*p));
	assert_int_equal(findings_detect(rules, scan, evs, nevs, p), 0);
	assert_int_equal(findings_decide(p, scan, scope, known, nknown, at, 9), 0);
}

static void expect(const struct findings_plan *p, size_t i, enum findings_action a, long det,
                   long known)
{
	assert_true(i < p->n);
	assert_int_equal(p->v[i].action, a);
	assert_int_equal(p->v[i].det, det);
	assert_int_equal(p->v[i].known, known);
	assert_int_equal(p->v[i].at, 200);
	assert_int_equal(p->v[i].job_id, 9);
}

static void test_new_finding_opened(void **state)
{
	struct scan_of s;
	struct findings_plan p;
	char *details;

	(void)state;
	scan_init(&s, REC_HOST_UP, REC_PORT_OPEN, &vuln_script);
	run(&p, NULL, &s.host, NULL, 0, NULL, NULL, 0, 200);
	assert_int_equal(p.ndets, 1);
	assert_string_equal(p.dets[0].type, "nse_vuln");
	assert_string_equal(p.dets[0].source, "ssh-vuln");
	assert_null(p.dets[0].key);
	assert_int_equal(p.dets[0].proto, REC_PROTO_TCP);
	assert_int_equal(p.dets[0].port, 22);
	assert_string_equal(p.dets[0].title, "ssh-vuln: Weak SSH thing");
	assert_int_equal(p.dets[0].severity, FINDINGS_SEV_MEDIUM);
	assert_string_equal(p.dets[0].fingerprint, FP22);
	assert_null(p.dets[0].details); /* made when stored */
	assert_non_null(details = findings_detection_details(&p.dets[0]));
	assert_non_null(strstr(details, "\"script\":\"ssh-vuln\""));
	assert_non_null(strstr(details, "Weak SSH thing"));
	free(details);
	assert_int_equal(p.n, 1);
	expect(&p, 0, FINDINGS_ACT_NEW, 0, -1);
	findings_plan_free(&p);

	/* the host has another finding (of a script this scan did not run):
	 * this one is still new, that one stays */
	struct findings_known other = known22("open", 100);
	other.fingerprint = "nse_vuln|other||" ADDR "|22/tcp";
	other.source = "other";
	run(&p, NULL, &s.host, NULL, 0, NULL, &other, 1, 200);
	assert_int_equal(p.n, 1);
	expect(&p, 0, FINDINGS_ACT_NEW, 0, -1);
	findings_plan_free(&p);
}

static void test_seen_again_and_reopened(void **state)
{
	struct scan_of s;
	struct findings_plan p;
	struct findings_known k;

	(void)state;
	scan_init(&s, REC_HOST_UP, REC_PORT_OPEN, &vuln_script);
	k = known22("open", 100);
	run(&p, NULL, &s.host, NULL, 0, NULL, &k, 1, 200);
	assert_int_equal(p.n, 1);
	expect(&p, 0, FINDINGS_ACT_SEEN, 0, 0);
	findings_plan_free(&p);

	/* resolved, then seen by a newer scan: open again */
	k = known22("resolved", 100);
	run(&p, NULL, &s.host, NULL, 0, NULL, &k, 1, 200);
	assert_int_equal(p.n, 1);
	expect(&p, 0, FINDINGS_ACT_REOPEN, 0, 0);
	findings_plan_free(&p);

	/* resolved by a newer scan than this one (imported late): seen only */
	k = known22("resolved", 300);
	run(&p, NULL, &s.host, NULL, 0, NULL, &k, 1, 200);
	assert_int_equal(p.n, 1);
	expect(&p, 0, FINDINGS_ACT_SEEN, 0, 0);
	findings_plan_free(&p);

	/* the user's false positive seen again stays the user's */
	k = known22("false_positive", 100);
	run(&p, NULL, &s.host, NULL, 0, NULL, &k, 1, 200);
	assert_int_equal(p.n, 1);
	expect(&p, 0, FINDINGS_ACT_SEEN, 0, 0);
	findings_plan_free(&p);
}

static void test_resolved_when_probed(void **state)
{
	static const char *const resolvable[] = {"open", "pending_validation", "confirmed",
	                                         "manual_review", "error"};
	struct scan_of s;
	struct findings_plan p;
	struct findings_known k;

	(void)state;
	/* the port is closed now */
	scan_init(&s, REC_HOST_UP, REC_PORT_CLOSED, NULL);
	for (size_t i = 0; i < sizeof(resolvable) / sizeof(*resolvable); i++) {
		k = known22(resolvable[i], 100);
		run(&p, NULL, &s.host, NULL, 0, NULL, &k, 1, 200);
		assert_int_equal(p.ndets, 0);
		assert_int_equal(p.n, 1);
		expect(&p, 0, FINDINGS_ACT_RESOLVE, -1, 0);
		findings_plan_free(&p);
	}

	/* the port is open and the script ran: not vulnerable any more */
	scan_init(&s, REC_HOST_UP, REC_PORT_OPEN, &clean_script);
	k = known22("open", 100);
	run(&p, NULL, &s.host, NULL, 0, NULL, &k, 1, 200);
	assert_int_equal(p.n, 1);
	expect(&p, 0, FINDINGS_ACT_RESOLVE, -1, 0);
	findings_plan_free(&p);

	/* not reported, but in the scanned range: probed, not open */
	struct scan_scope scope;
	scope_init(&scope);
	assert_int_equal(scope_add(&scope, REC_PROTO_TCP, "1-1000"), 0);
	scan_init(&s, REC_HOST_UP, REC_PORT_OPEN, NULL);
	s.host.nports = 0;
	run(&p, NULL, &s.host, NULL, 0, &scope, &k, 1, 200);
	assert_int_equal(p.n, 1);
	expect(&p, 0, FINDINGS_ACT_RESOLVE, -1, 0);
	findings_plan_free(&p);
	scope_free(&scope);
}

static void test_not_resolved_when_not_probed(void **state)
{
	struct scan_of s;
	struct findings_plan p;
	struct findings_known k = known22("open", 100);
	struct scan_scope scope;

	(void)state;
	/* the port is open, the script did not run */
	scan_init(&s, REC_HOST_UP, REC_PORT_OPEN, NULL);
	run(&p, NULL, &s.host, NULL, 0, NULL, &k, 1, 200);
	assert_int_equal(p.n, 0);
	findings_plan_free(&p);

	/* the port is not reported and not in the scanned range */
	scope_init(&scope);
	assert_int_equal(scope_add(&scope, REC_PROTO_TCP, "80,443"), 0);
	s.host.nports = 0;
	run(&p, NULL, &s.host, NULL, 0, &scope, &k, 1, 200);
	assert_int_equal(p.n, 0);
	findings_plan_free(&p);
	run(&p, NULL, &s.host, NULL, 0, NULL, &k, 1, 200);
	assert_int_equal(p.n, 0);
	findings_plan_free(&p);
	scope_free(&scope);

	/* the host is down: nothing was probed */
	scan_init(&s, REC_HOST_DOWN, REC_PORT_CLOSED, NULL);
	run(&p, NULL, &s.host, NULL, 0, NULL, &k, 1, 200);
	assert_int_equal(p.n, 0);
	findings_plan_free(&p);

	/* an older scan (imported late) than the one that decided it */
	scan_init(&s, REC_HOST_UP, REC_PORT_CLOSED, NULL);
	k = known22("open", 200);
	run(&p, NULL, &s.host, NULL, 0, NULL, &k, 1, 200);
	assert_int_equal(p.n, 0);
	findings_plan_free(&p);
}

static void test_user_statuses_kept(void **state)
{
	struct scan_of s;
	struct findings_plan p;
	struct findings_known k[3];

	(void)state;
	scan_init(&s, REC_HOST_UP, REC_PORT_CLOSED, NULL);
	k[0] = known22("false_positive", 100);
	k[1] = known22("skipped", 100);
	k[1].fingerprint = "nse_vuln|ssh-vuln|x|" ADDR "|22/tcp";
	k[2] = known22("resolved", 100); /* stays resolved: no second resolution */
	k[2].fingerprint = "nse_vuln|ssh-vuln|y|" ADDR "|22/tcp";
	run(&p, NULL, &s.host, NULL, 0, NULL, k, 3, 200);
	assert_int_equal(p.n, 0);
	findings_plan_free(&p);
}

static void test_rule_findings(void **state)
{
	struct findings_rules *rules = NULL;
	struct scan_of s;
	struct findings_plan p;
	struct findings_known k[2];
	struct ev_event ev = {.kind = EV_PORT_OPENED,
	                      .proto = REC_PROTO_TCP,
	                      .port = 22,
	                      .new_value = "open",
	                      .job_id = 9,
	                      .at = 200};
	char err[300], *details;

	(void)state;
	assert_int_equal(findings_rules_parse("r.conf",
	                                      "port_opened 22/tcp high \"SSH exposed\"\n"
	                                      "host_down * low \"Host went down\"\n",
	                                      &rules, err, sizeof(err)),
	                 0);
	scan_init(&s, REC_HOST_UP, REC_PORT_OPEN, NULL);
	run(&p, rules, &s.host, &ev, 1, NULL, NULL, 0, 200);
	assert_int_equal(p.ndets, 1);
	assert_string_equal(p.dets[0].type, "rule");
	assert_string_equal(p.dets[0].source, "port_opened");
	assert_string_equal(p.dets[0].key, "SSH exposed");
	assert_string_equal(p.dets[0].title, "SSH exposed");
	assert_int_equal(p.dets[0].severity, FINDINGS_SEV_HIGH);
	assert_string_equal(p.dets[0].fingerprint, "rule|port_opened|SSH exposed|" ADDR "|22/tcp");
	assert_non_null(details = findings_detection_details(&p.dets[0]));
	assert_non_null(strstr(details, "\"rule_file\":\"r.conf\""));
	assert_non_null(strstr(details, "\"rule_line\":\"1\""));
	free(details);
	expect(&p, 0, FINDINGS_ACT_NEW, 0, -1);
	findings_plan_free(&p);

	/* the port closed and the host came back up: both causes are gone */
	k[0] = (struct findings_known){"rule|port_opened|SSH exposed|" ADDR "|22/tcp",
	                               "rule",
	                               "port_opened",
	                               REC_PROTO_TCP,
	                               22,
	                               "open",
	                               100,
	                               0};
	k[1] = (struct findings_known){"rule|host_down|Host went down|" ADDR "|-",
	                               "rule",
	                               "host_down",
	                               -1,
	                               -1,
	                               "confirmed",
	                               100,
	                               0};
	scan_init(&s, REC_HOST_UP, REC_PORT_CLOSED, NULL);
	run(&p, rules, &s.host, NULL, 0, NULL, k, 2, 200);
	assert_int_equal(p.n, 2);
	expect(&p, 0, FINDINGS_ACT_RESOLVE, -1, 0);
	expect(&p, 1, FINDINGS_ACT_RESOLVE, -1, 1);
	findings_plan_free(&p);

	/* the host is down: the port was not probed, host_down's cause is there */
	scan_init(&s, REC_HOST_DOWN, REC_PORT_CLOSED, NULL);
	run(&p, rules, &s.host, NULL, 0, NULL, k, 2, 200);
	assert_int_equal(p.n, 0);
	findings_plan_free(&p);
	findings_rules_free(rules);
}

/* A replay's finding no replayed scan has seen yet: a detection creates
 * it, nothing resolves it. */
static void test_unborn(void **state)
{
	struct scan_of s;
	struct findings_plan p;
	struct findings_known k = known22("resolved", 300);

	(void)state;
	k.unborn = 1;
	scan_init(&s, REC_HOST_UP, REC_PORT_OPEN, &vuln_script);
	run(&p, NULL, &s.host, NULL, 0, NULL, &k, 1, 200);
	assert_int_equal(p.n, 1);
	expect(&p, 0, FINDINGS_ACT_NEW, 0, 0);
	findings_plan_free(&p);

	k = known22("open", 0);
	k.unborn = 1;
	scan_init(&s, REC_HOST_UP, REC_PORT_CLOSED, NULL);
	run(&p, NULL, &s.host, NULL, 0, NULL, &k, 1, 200);
	assert_int_equal(p.n, 0);
	findings_plan_free(&p);
}

/* Detections first, in scan order, then resolutions in known order; the
 * same finding twice in a scan is one detection; a vulners CVE carries
 * its details at once. */
static void test_order_and_vulners(void **state)
{
	static const char vulners[] = "\n  cpe:/a:openbsd:openssh:7.4: \n"
	                              "    \tCVE-2023-38408\t9.8\thttps://x\n"
	                              "    \tCVE-2021-41617\t4.4\thttps://x\n";
	struct rec_script scripts[3] = {{"vulners", vulners}, vuln_script, vuln_script};
	struct scan_of s;
	struct findings_plan p;
	struct findings_known k[2];
	int detects = -1;

	(void)state;
	scan_init(&s, REC_HOST_UP, REC_PORT_OPEN, NULL);
	s.port.scripts = scripts;
	s.port.nscripts = 3;
	k[0] = known22("open", 100);
	k[0].fingerprint = "nse_vuln|other||" ADDR "|-";
	k[0].source = "other";
	k[0].proto = k[0].port = -1;
	s.host.scripts = &(struct rec_script){"other", "nothing to see"};
	s.host.nscripts = 1;
	k[1] = known22("open", 100);
	k[1].fingerprint = "nse_vuln|vulners|CVE-2023-38408|" ADDR "|22/tcp";
	k[1].source = "vulners";
	run(&p, NULL, &s.host, NULL, 0, NULL, k, 2, 200);
	assert_int_equal(p.ndets, 3);
	assert_string_equal(p.dets[0].key, "CVE-2023-38408");
	assert_string_equal(p.dets[0].title, "CVE-2023-38408 (CVSS 9.8)");
	assert_int_equal(p.dets[0].severity, FINDINGS_SEV_CRITICAL);
	assert_non_null(p.dets[0].details);
	assert_non_null(strstr(p.dets[0].details, "\"cve\":\"CVE-2023-38408\""));
	assert_string_equal(p.dets[1].key, "CVE-2021-41617");
	assert_string_equal(p.dets[2].fingerprint, FP22);
	assert_int_equal(p.n, 4);
	expect(&p, 0, FINDINGS_ACT_SEEN, 0, 1);
	expect(&p, 1, FINDINGS_ACT_NEW, 1, -1);
	expect(&p, 2, FINDINGS_ACT_NEW, 2, -1);
	expect(&p, 3, FINDINGS_ACT_RESOLVE, -1, 0); /* the host script ran, clean */
	findings_plan_free(&p);

	assert_int_equal(findings_scan_detects(NULL, &s.host, NULL, 0, &detects), 0);
	assert_int_equal(detects, 1);
	scan_init(&s, REC_HOST_UP, REC_PORT_OPEN, &clean_script);
	assert_int_equal(findings_scan_detects(NULL, &s.host, NULL, 0, &detects), 0);
	assert_int_equal(detects, 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_new_finding_opened),
	    cmocka_unit_test(test_seen_again_and_reopened),
	    cmocka_unit_test(test_resolved_when_probed),
	    cmocka_unit_test(test_not_resolved_when_not_probed),
	    cmocka_unit_test(test_user_statuses_kept),
	    cmocka_unit_test(test_rule_findings),
	    cmocka_unit_test(test_unborn),
	    cmocka_unit_test(test_order_and_vulners),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
