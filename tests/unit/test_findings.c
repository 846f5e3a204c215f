/*
 * test_findings.c - history/findings.c's names (severity/status, CVSS to
 * severity), nse_vuln.c's "VULNERABLE" detection and its title/risk factor
 * and vulners CVE lines, findings_rules.c's strict parsing with file:line
 * errors, and app/findings.c's reading of the rules file.  The decision
 * rule is in test_findings_decide.c; the lifecycle against a database is in
 * tests/e2e/test_findings.py.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "app/findings.h"
#include "core/buf.h"
#include "core/error.h"
#include "history/findings.h"

static void test_names(void **state)
{
	enum findings_severity s;
	enum findings_status st;

	(void)state;
	for (int i = 0; i < FINDINGS_SEV__COUNT; i++) {
		assert_int_equal(
		    findings_severity_parse(findings_severity_name((enum findings_severity)i), &s),
		    0);
		assert_int_equal(s, i);
	}
	for (int i = 0; i < FINDINGS_STATUS__COUNT; i++) {
		assert_int_equal(
		    findings_status_parse(findings_status_name((enum findings_status)i), &st), 0);
		assert_int_equal(st, i);
	}
	assert_string_equal(findings_status_name(FINDINGS_PENDING_VALIDATION),
	                    "pending_validation");
	assert_int_equal(findings_status_parse("Open", &st), SDB_EPARSE);
	assert_int_equal(findings_status_parse("", &st), SDB_EPARSE);
	assert_int_equal(findings_severity_parse("severe", &s), SDB_EPARSE);
	assert_int_equal(findings_severity_parse(NULL, &s), SDB_EPARSE);
}

static void test_cvss(void **state)
{
	(void)state;
	assert_int_equal(findings_severity_from_cvss(0.0), FINDINGS_SEV_INFO);
	assert_int_equal(findings_severity_from_cvss(0.1), FINDINGS_SEV_LOW);
	assert_int_equal(findings_severity_from_cvss(3.9), FINDINGS_SEV_LOW);
	assert_int_equal(findings_severity_from_cvss(4.0), FINDINGS_SEV_MEDIUM);
	assert_int_equal(findings_severity_from_cvss(6.9), FINDINGS_SEV_MEDIUM);
	assert_int_equal(findings_severity_from_cvss(7.0), FINDINGS_SEV_HIGH);
	assert_int_equal(findings_severity_from_cvss(8.9), FINDINGS_SEV_HIGH);
	assert_int_equal(findings_severity_from_cvss(9.0), FINDINGS_SEV_CRITICAL);
	assert_int_equal(findings_severity_from_cvss(10.0), FINDINGS_SEV_CRITICAL);
}

static void test_vulnerable(void **state)
{
	static const char ms17[] =
	    "\n  VULNERABLE:\n  Remote Code Execution vulnerability in Microsoft SMBv1 servers "
	    "(ms17-010)\n    State: VULNERABLE\n    IDs:  CVE:CVE-2017-0143\n    Risk factor: "
	    "HIGH\n";
	static const char heartbleed[] =
	    "\n  VULNERABLE:\n\n  The Heartbleed Bug is a serious vulnerability\n    State: "
	    "VULNERABLE\n    Risk factor: Medium\n";
	static const char likely[] = "\n  LIKELY VULNERABLE:\n  Something\n";
	char title[200];
	enum findings_severity sev = FINDINGS_SEV_INFO;

	(void)state;
	assert_int_equal(findings_nse_vulnerable(ms17, title, sizeof(title), &sev), 1);
	assert_string_equal(title, "Remote Code Execution vulnerability in Microsoft SMBv1 servers "
	                           "(ms17-010)");
	assert_int_equal(sev, FINDINGS_SEV_HIGH);

	assert_int_equal(findings_nse_vulnerable(heartbleed, title, sizeof(title), &sev), 1);
	assert_string_equal(title, "The Heartbleed Bug is a serious vulnerability");
	assert_int_equal(sev, FINDINGS_SEV_MEDIUM);

	/* no risk factor: high */
	assert_int_equal(findings_nse_vulnerable(likely, title, sizeof(title), &sev), 1);
	assert_string_equal(title, "Something");
	assert_int_equal(sev, FINDINGS_SEV_HIGH);

	/* a short title buffer truncates */
	assert_int_equal(findings_nse_vulnerable(ms17, title, 7, &sev), 1);
	assert_string_equal(title, "Remote");

	/* not vulnerable */
	assert_int_equal(findings_nse_vulnerable("\n  NOT VULNERABLE:\n  x\n    State: NOT "
	                                         "VULNERABLE\n",
	                                         title, sizeof(title), &sev),
	                 0);
	assert_int_equal(findings_nse_vulnerable("SSH-2.0-OpenSSH_9.6", title, sizeof(title), &sev),
	                 0);
	assert_int_equal(findings_nse_vulnerable("INVULNERABLE things", title, sizeof(title), &sev),
	                 0);
	assert_int_equal(
	    findings_nse_vulnerable("vulnerable (lower case)", title, sizeof(title), &sev), 0);
	assert_int_equal(findings_nse_vulnerable(NULL, title, sizeof(title), &sev), 0);
	/* VULNERABLE without a heading block: no title */
	assert_int_equal(
	    findings_nse_vulnerable("State: VULNERABLE (DoS)", title, sizeof(title), &sev), 1);
	assert_string_equal(title, "");
}

static void test_vulners(void **state)
{
	static const char out[] =
	    "\n  cpe:/a:openbsd:openssh:7.4: \n"
	    "    \tCVE-2023-38408\t9.8\thttps://vulners.com/cve/CVE-2023-38408\n"
	    "    \tSSV:92579\t7.5\thttps://vulners.com/seebug/SSV:92579\t*EXPLOIT*\n"
	    "    \tCVE-2020-15778\t6.8\thttps://vulners.com/cve/CVE-2020-15778\n"
	    "    \tCVE-2021-41617\t4.4\thttps://vulners.com/cve/CVE-2021-41617\n"
	    "  cpe:/a:openbsd:openssh:7.4p1: \n"
	    "    \tCVE-2020-15778\t7.8\thttps://x\n"
	    "    \tCVE-2019-0001\tbad\thttps://x\n"
	    "    \tCVE-2019-0002\t11.0\thttps://x\n"
	    "    \tCVE-20-1\t5.0\thttps://x\n"
	    "    \tPRION:CVE-2019-6111\t5.8\thttps://x\n"
	    "    \tCVE-2018-15473\t5.3\thttps://x";
	struct findings_cve *v;
	size_t n;

	(void)state;
	assert_int_equal(findings_vulners_parse(out, &v, &n), 0);
	assert_int_equal(n, 4);
	assert_string_equal(v[0].id, "CVE-2023-38408");
	assert_true(v[0].cvss > 9.79 && v[0].cvss < 9.81);
	assert_string_equal(v[0].cpe, "cpe:/a:openbsd:openssh:7.4");
	assert_string_equal(v[1].id, "CVE-2020-15778");
	assert_true(v[1].cvss > 7.79 && v[1].cvss < 7.81); /* highest of both */
	assert_string_equal(v[2].id, "CVE-2021-41617");
	assert_string_equal(v[3].id, "CVE-2018-15473"); /* last line without newline */
	assert_string_equal(v[3].cpe, "cpe:/a:openbsd:openssh:7.4p1");
	free(v);

	assert_int_equal(findings_vulners_parse("", &v, &n), 0);
	assert_int_equal(n, 0);
	free(v);
}

static void test_rules_ok(void **state)
{
	static const char text[] =
	    "# comment\n"
	    "\n"
	    "port_opened 3389/tcp,23/tcp high \"Remote access port opened\"\n"
	    "  port_opened 1-1024/udp,53 medium \"Low UDP port\"   # trailing comment\r\n"
	    "host_up * info \"New host \\\"seen\\\"\"\n"
	    "service_changed * low \"Service changed\"";
	struct findings_rules *r = NULL;
	char err[300];

	(void)state;
	assert_int_equal(findings_rules_parse("rules.conf", text, &r, err, sizeof(err)), 0);
	assert_non_null(r);
	assert_int_equal(findings_rules_count(r), 4);
	findings_rules_free(r);

	/* nothing but comments: no rules at all */
	assert_int_equal(findings_rules_parse("rules.conf", "# none\n\n", &r, err, sizeof(err)), 0);
	assert_null(r);
	assert_int_equal(findings_rules_count(NULL), 0);
}

/* A rule listing every port one by one (the 1 MiB rules file allows
 * ~190,000 entries): parsed in linear time (it grew its list one entry
 * at a time: 174 s under ASan for 65,535 ports) into merged ranges. */
static void test_rules_long_port_list(void **state)
{
	struct findings_rules *r = NULL;
	struct buf b;
	struct timespec t0, t1;
	char err[300];
	double secs;

	(void)state;
	buf_init(&b, 2u << 20);
	assert_int_equal(buf_append_str(&b, "port_opened "), 0);
	for (int p = 1; p <= 65535; p++)
		assert_int_equal(buf_printf(&b, "%s%d/tcp", p > 1 ? "," : "", p), 0);
	assert_int_equal(buf_append_str(&b, " high \"every tcp port\"\n"
	                                    "port_closed 80,443,81-90,82,1000-2000,2001,7/udp,"
	                                    "8/udp,10/udp high \"web\"\n"
	                                    "port_opened "),
	                 0);
	/* the same port over and over, up to the 1 MiB limit */
	for (int i = 0; i < 100000; i++)
		assert_int_equal(buf_append_str(&b, i ? ",22" : "22"), 0);
	assert_int_equal(buf_append_str(&b, " low \"ssh\"\n"), 0);
	clock_gettime(CLOCK_MONOTONIC, &t0);
	assert_int_equal(findings_rules_parse("rules.conf", buf_str(&b), &r, err, sizeof(err)), 0);
	clock_gettime(CLOCK_MONOTONIC, &t1);
	secs = (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) / 1e9;
	assert_int_equal(findings_rules_count(r), 3);
	assert_int_equal(findings_rules_ranges(r, 0), 1); /* 1-65535/tcp */
	assert_int_equal(findings_rules_ranges(r, 1), 5); /* 80-90,443,1000-2001; 7-8,10/udp */
	assert_int_equal(findings_rules_ranges(r, 2), 1); /* 22 */
	assert_int_equal(findings_rules_ranges(r, 3), 0); /* no such rule */
	if (secs > 10.0)
		fail_msg("parsing took %.1f s", secs);
	findings_rules_free(r);
	buf_free(&b);
}

static void expect_bad(const char *text, const char *want)
{
	struct findings_rules *r = (struct findings_rules *)1;
	char err[300];

	assert_int_equal(findings_rules_parse("my.conf", text, &r, err, sizeof(err)), SDB_EPARSE);
	assert_null(r);
	if (!strstr(err, want))
		fail_msg("error '%s' does not contain '%s'", err, want);
}

static void test_rules_bad(void **state)
{
	(void)state;
	expect_bad("port_open 3389/tcp high \"x\"\n", "my.conf:1:1: unknown event 'port_open'");
	expect_bad("# ok\nport_opened 3389/tcp severe \"x\"\n",
	           "my.conf:2:22: unknown severity 'severe'");
	expect_bad("port_opened 3389/tcpx high \"x\"\n", "my.conf:1:13: bad port list");
	expect_bad("port_opened 70000/tcp high \"x\"\n", "bad port list");
	expect_bad("port_opened 20-10/tcp high \"x\"\n", "bad port list");
	expect_bad("port_opened 22, high \"x\"\n", "bad port list");
	expect_bad("port_opened 22,/tcp high \"x\"\n", "bad port list");
	expect_bad("port_opened 22/tcp, high \"x\"\n", "bad port list");
	expect_bad("port_opened 22/tcp high x\n", "my.conf:1:25: expected a double-quoted TITLE");
	expect_bad("port_opened 22/tcp high \"x\n", "unterminated TITLE");
	expect_bad("port_opened 22/tcp high \"x\" extra\n",
	           "my.conf:1:29: unexpected text after the TITLE");
	expect_bad("port_opened 22/tcp high \"\"\n", "empty TITLE");
	expect_bad("port_opened 22/tcp\n", "my.conf:1:19: expected EVENT PORTS SEVERITY");
	expect_bad("host_up 22/tcp info \"x\"\n",
	           "my.conf:1:9: host_up is a host event: its PORTS must be '*'");
	expect_bad("\n\n\nport_opened 22/tcp high \"x\"\nhost_down * critical\n", "my.conf:5:21:");
}

static void test_rules_load_env(void **state)
{
	struct findings_rules *r = NULL;
	char err[300] = "", path[256];
	FILE *f;
	const char *tmp = getenv("TEST_TMPDIR");

	(void)state;
	snprintf(path, sizeof(path), "%s/test_findings_rules_%ld.conf", tmp ? tmp : "/tmp",
	         (long)getpid());
	assert_non_null(f = fopen(path, "w"));
	fputs("port_opened 23/tcp high \"telnet\"\nbogus\n", f);
	fclose(f);
	setenv("SCANDB_RULES", path, 1);
	assert_int_equal(findings_rules_load(&r, err, sizeof(err)), SDB_EPARSE);
	assert_null(r);
	assert_non_null(strstr(err, ":2:6: "));
	assert_non_null(strstr(err, path));

	assert_non_null(f = fopen(path, "w"));
	fputs("port_opened 23/tcp high \"telnet\"\n", f);
	fclose(f);
	assert_int_equal(findings_rules_load(&r, err, sizeof(err)), 0);
	assert_int_equal(findings_rules_count(r), 1);
	findings_rules_free(r);
	unlink(path);

	/* a named file that is missing is an error; "" means no rules */
	assert_int_equal(findings_rules_load(&r, err, sizeof(err)), SDB_EIO);
	assert_non_null(strstr(err, "cannot read rules file"));
	setenv("SCANDB_RULES", "", 1);
	assert_int_equal(findings_rules_load(&r, err, sizeof(err)), 0);
	assert_null(r);
	unsetenv("SCANDB_RULES");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_names),          cmocka_unit_test(test_cvss),
	    cmocka_unit_test(test_vulnerable),     cmocka_unit_test(test_vulners),
	    cmocka_unit_test(test_rules_ok),       cmocka_unit_test(test_rules_bad),
	    cmocka_unit_test(test_rules_load_env), cmocka_unit_test(test_rules_long_port_list),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
