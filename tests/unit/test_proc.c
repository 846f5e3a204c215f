/*
 * test_proc.c - unit tests of src/core/proc.c, the subprocess runner: exit
 * status and signal reported, a child past its timeout killed, stdout
 * streamed, stdin written (and SIGPIPE never ours), a missing program, a
 * child that closes stdout early, fds passed and no other, the environment,
 * the hold/on_pid protocol.  Children are /bin/sh one-liners; every wait is
 * bounded (and CTest's timeout bounds the program).
 */
#define _GNU_SOURCE
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "core/buf.h"
#include "core/error.h"
#include "core/proc.h"
#include "core/timeutil.h"

/* Start `sh -c script` with the given stdin/stdout. */
static void start_sh(struct proc *p, const char *script, enum proc_io in, enum proc_io out)
{
	char *argv[] = {"/bin/sh", "-c", (char *)script, NULL};
	struct proc_spec s = {
	    .argv = argv, .in = in, .out = out, .err = PROC_PIPE, .err_max = 4096};

	assert_int_equal(proc_start(p, &s), 0);
	assert_true(p->pid > 0);
}

/* Read its stdout to the end into b, 10 s at most. */
static void read_all(struct proc *p, struct buf *b)
{
	double until = time_mono() + 10;
	char tmp[256];
	long n;

	while ((n = proc_read(p, tmp, sizeof(tmp), 1000)) != 0) {
		assert_true(n > 0 || n == SDB_EINTR);
		if (n > 0)
			assert_int_equal(buf_append(b, tmp, (size_t)n), 0);
		assert_true(time_mono() < until);
	}
}

static void exit_status_reported(void **state)
{
	struct proc p;

	(void)state;
	start_sh(&p, "echo oops >&2; exit 3", PROC_NULL, PROC_NULL);
	assert_int_equal(proc_collect(&p, NULL, 10), 0);
	assert_true(p.reaped);
	assert_int_equal(proc_exit_code(&p), 3);
	assert_int_equal(proc_term_signal(&p), 0);
	assert_string_equal(buf_str(&p.err), "oops\n");
	proc_free(&p);
}

static void signal_reported(void **state)
{
	struct proc p;

	(void)state;
	start_sh(&p, "kill -USR1 $$", PROC_NULL, PROC_NULL);
	assert_int_equal(proc_wait(&p, 10000), 0);
	assert_int_equal(proc_term_signal(&p), SIGUSR1);
	assert_int_equal(proc_exit_code(&p), 128 + SIGUSR1);
	proc_free(&p);
}

/* proc_collect past its deadline: killed at once (SIGKILL), reaped, said. */
static void timeout_kills(void **state)
{
	struct proc p;
	double t0 = time_mono();

	(void)state;
	start_sh(&p, "echo started >&2; exec sleep 30", PROC_NULL, PROC_PIPE);
	assert_int_equal(proc_collect(&p, NULL, 0.3), SDB_EINTR);
	assert_true(time_mono() - t0 < 5);
	assert_true(p.reaped);
	assert_int_equal(p.pid, -1);
	assert_int_equal(proc_term_signal(&p), SIGKILL);
	assert_string_equal(buf_str(&p.err), "started\n");
	proc_free(&p);
}

/* proc_wait with a timeout leaves it running; proc_kill ends it with
 * SIGTERM, or SIGKILL once the grace is over if it ignores SIGTERM. */
static void wait_timeout_then_kill(void **state)
{
	struct proc p;
	char ready[16];
	double t0;

	(void)state;
	start_sh(&p, "exec sleep 30", PROC_NULL, PROC_NULL);
	t0 = time_mono();
	assert_int_equal(proc_wait(&p, 200), SDB_EINTR);
	assert_true(time_mono() - t0 < 5);
	assert_false(p.reaped);
	proc_kill(&p, 5000);
	assert_true(p.reaped);
	assert_int_equal(proc_term_signal(&p), SIGTERM);
	proc_free(&p);

	/* (SIGTERM only once it is ignored: the child says when) */
	start_sh(&p, "trap '' TERM; echo ready; exec sleep 30", PROC_NULL, PROC_PIPE);
	assert_int_equal(proc_read(&p, ready, sizeof(ready), 5000), 6);
	t0 = time_mono();
	proc_kill(&p, 300);
	assert_true(time_mono() - t0 >= 0.25);
	assert_true(time_mono() - t0 < 5);
	assert_int_equal(proc_term_signal(&p), SIGKILL);
	proc_free(&p);
}

/* The first line arrives while the child is still running. */
static void stdout_streamed(void **state)
{
	struct proc p;
	char tmp[64];
	struct buf rest;
	long n;

	(void)state;
	buf_init(&rest, 1024);
	start_sh(&p, "echo one; sleep 2; echo two", PROC_NULL, PROC_PIPE);
	n = proc_read(&p, tmp, sizeof(tmp), 1500);
	assert_int_equal(n, 4);
	assert_memory_equal(tmp, "one\n", 4);
	/* nothing more within 100 ms: "two" is 2 s away */
	assert_int_equal(proc_read(&p, tmp, sizeof(tmp), 100), SDB_EINTR);
	read_all(&p, &rest);
	assert_string_equal(buf_str(&rest), "two\n");
	assert_int_equal(proc_read(&p, tmp, sizeof(tmp), 100), 0);
	assert_int_equal(proc_wait(&p, 10000), 0);
	assert_int_equal(proc_exit_code(&p), 0);
	proc_free(&p);
	buf_free(&rest);
}

static void stdin_written(void **state)
{
	static const char msg[] = "hello\nworld\n";
	struct proc p;
	struct buf out;
	size_t off = 0;
	double until = time_mono() + 10;

	(void)state;
	buf_init(&out, 1024);
	start_sh(&p, "exec cat", PROC_PIPE, PROC_PIPE);
	while (off < sizeof(msg) - 1) {
		long n = proc_write(&p, msg + off, sizeof(msg) - 1 - off, 1000);
		assert_true(n > 0 || n == SDB_EINTR);
		if (n > 0)
			off += (size_t)n;
		assert_true(time_mono() < until);
	}
	proc_close_in(&p);
	assert_int_equal(proc_collect(&p, &out, 10), 0);
	assert_string_equal(buf_str(&out), msg);
	assert_int_equal(proc_exit_code(&p), 0);
	proc_free(&p);
	buf_free(&out);
}

/* Writing to a child that closed its stdin: EPIPE, and we are still here
 * (SIGPIPE not raised, nor left pending). */
static void stdin_closed_no_sigpipe(void **state)
{
	char big[65536];
	struct proc p;
	sigset_t pending;
	long n = 0;
	double until = time_mono() + 10;

	(void)state;
	memset(big, 'x', sizeof(big));
	start_sh(&p, "exec 0<&-; sleep 0.2", PROC_PIPE, PROC_NULL);
	while (time_mono() < until) {
		n = proc_write(&p, big, sizeof(big), 1000);
		if (n < 0 && n != SDB_EINTR)
			break;
	}
	assert_int_equal(n, SDB_EIO);
	assert_int_equal(errno, EPIPE);
	sigpending(&pending);
	assert_false(sigismember(&pending, SIGPIPE));
	assert_int_equal(proc_wait(&p, 10000), 0);
	assert_int_equal(proc_exit_code(&p), 0);
	proc_free(&p);
}

static void missing_program(void **state)
{
	char *argv[] = {"/nonexistent/scandb-no-such-tool", "x", NULL};
	struct proc_spec s = {.argv = argv, .out = PROC_PIPE, .err = PROC_PIPE, .err_max = 64};
	struct proc p;
	char tmp[8];

	(void)state;
	assert_int_equal(proc_start(&p, &s), SDB_ENOTFOUND);
	assert_int_equal(errno, ENOENT);
	assert_string_equal(
	    p.errmsg, "cannot run /nonexistent/scandb-no-such-tool: No such file or directory");
	assert_int_equal(p.pid, -1);
	assert_int_equal(p.out_fd, -1);
	assert_int_equal(proc_read(&p, tmp, sizeof(tmp), 10), 0);
	assert_int_equal(proc_wait(&p, 10), 0);
	proc_free(&p);

	/* a file that is not a program */
	argv[0] = "/etc/passwd";
	assert_int_equal(proc_start(&p, &s), SDB_EIO);
	assert_int_equal(errno, EACCES);
	assert_string_equal(p.errmsg, "cannot run /etc/passwd: Permission denied");
	proc_free(&p);

	/* nothing to run */
	argv[0] = NULL;
	assert_int_equal(proc_start(&p, &s), SDB_EUSAGE);
	proc_free(&p);
}

/* stdout ends long before the child does: the read says so at once, and
 * the child's later stderr and its exit still arrive. */
static void stdout_closed_early(void **state)
{
	struct proc p;
	char tmp[64];
	double t0;

	(void)state;
	start_sh(&p, "echo first; exec >&-; sleep 0.5; echo after >&2; exit 0", PROC_NULL,
	         PROC_PIPE);
	assert_int_equal(proc_read(&p, tmp, sizeof(tmp), 5000), 6);
	t0 = time_mono();
	assert_int_equal(proc_read(&p, tmp, sizeof(tmp), 5000), 0);
	assert_true(time_mono() - t0 < 0.4);
	assert_int_equal(p.out_fd, -1);
	assert_int_equal(proc_wait(&p, 10000), 0);
	assert_int_equal(proc_exit_code(&p), 0);
	assert_string_equal(buf_str(&p.err), "after\n");
	proc_free(&p);
}

/* We stop reading its stdout: the child writing on dies of SIGPIPE (its
 * default), and that is what is reported. */
static void reader_gone_child_sigpipe(void **state)
{
	struct proc p;
	char tmp[16];

	(void)state;
	start_sh(&p, "while :; do echo y; done", PROC_NULL, PROC_PIPE);
	assert_true(proc_read(&p, tmp, sizeof(tmp), 5000) > 0);
	close(p.out_fd);
	p.out_fd = -1;
	assert_int_equal(proc_wait(&p, 10000), 0);
	assert_int_equal(proc_term_signal(&p), SIGPIPE);
	proc_free(&p);
}

/* stderr is kept up to err_max, the rest read and dropped (the child is
 * never blocked on it). */
static void stderr_bounded(void **state)
{
	char *argv[] = {"/bin/sh", "-c",
	                "i=0; while [ $i -lt 2000 ]; do echo 0123456789 >&2; "
	                "i=$((i+1)); done; echo done",
	                NULL};
	struct proc_spec s = {.argv = argv, .out = PROC_PIPE, .err = PROC_PIPE, .err_max = 100};
	struct proc p;
	struct buf out;

	(void)state;
	buf_init(&out, 64);
	assert_int_equal(proc_start(&p, &s), 0);
	assert_int_equal(proc_collect(&p, &out, 20), 0);
	assert_int_equal(p.err.len, 100);
	assert_string_equal(buf_str(&out), "done\n");
	proc_free(&p);
	buf_free(&out);
}

/* stdout past the caller's buffer: SDB_ETOOBIG, the child still runs to its
 * end and is reaped. */
static void stdout_too_big(void **state)
{
	struct proc p;
	struct buf out;

	(void)state;
	buf_init(&out, 10);
	start_sh(&p, "echo 0123456789abcdef; exit 4", PROC_NULL, PROC_PIPE);
	assert_int_equal(proc_collect(&p, &out, 10), SDB_ETOOBIG);
	assert_true(p.reaped);
	assert_int_equal(proc_exit_code(&p), 4);
	proc_free(&p);
	buf_free(&out);
}

/* pass[i] is its fd 3 + i; an fd of ours that is not passed (not even one
 * without close-on-exec) is not its. */
static void fds_passed_and_no_other(void **state)
{
	char *argv[] = {"/bin/sh", "-c",
	                "cat <&3; cat <&4; for f in 5 6 7 8 9 10 11 12 13 14 15 16 17 18 19 20; do "
	                "if [ -e /proc/$$/fd/$f ]; then echo leaked $f; fi; done",
	                NULL};
	int a = memfd_create("a", 0), b = memfd_create("b", 0), leak = open("/dev/null", O_RDONLY);
	int pass[2] = {b, a};
	struct proc_spec s = {.argv = argv,
	                      .out = PROC_PIPE,
	                      .err = PROC_PIPE,
	                      .err_max = 1024,
	                      .pass = pass,
	                      .npass = 2};
	struct proc p;
	struct buf out;

	(void)state;
	assert_true(a >= 0 && b >= 0 && leak >= 0);
	assert_int_equal(write(a, "A\n", 2), 2);
	assert_int_equal(write(b, "B\n", 2), 2);
	lseek(a, 0, SEEK_SET);
	lseek(b, 0, SEEK_SET);
	buf_init(&out, 1024);
	assert_int_equal(proc_start(&p, &s), 0);
	assert_int_equal(proc_collect(&p, &out, 10), 0);
	assert_string_equal(buf_str(&p.err), "");
	assert_string_equal(buf_str(&out), "B\nA\n");
	assert_int_equal(proc_exit_code(&p), 0);
	proc_free(&p);
	buf_free(&out);
	close(a);
	close(b);
	close(leak);
}

static void environment_given(void **state)
{
	char *argv[] = {"/bin/sh", "-c", "echo \"[$SCANDB_T][$HOME]\"", NULL};
	char *env[] = {"SCANDB_T=yes", NULL};
	struct proc_spec s = {.argv = argv, .envp = env, .out = PROC_PIPE};
	struct proc p;
	struct buf out;

	(void)state;
	buf_init(&out, 1024);
	assert_int_equal(proc_start(&p, &s), 0);
	assert_int_equal(proc_collect(&p, &out, 10), 0);
	assert_string_equal(buf_str(&out), "[yes][]\n");
	proc_free(&p);
	buf_free(&out);
}

struct pid_log {
	pid_t seen[4];
	int n;
	int held; /* SIGUSR2 blocked while on_pid ran */
};

static void log_pid(void *ctx, pid_t pid)
{
	struct pid_log *l = ctx;
	sigset_t now;

	pthread_sigmask(SIG_BLOCK, NULL, &now);
	if (pid > 0)
		l->held = sigismember(&now, SIGUSR2);
	if (l->n < 4)
		l->seen[l->n++] = pid;
}

/* Our own "SigBlk:\t<mask>\n" line of /proc/self/status. */
static void sig_blocked_line(char *out, size_t len)
{
	FILE *f = fopen("/proc/self/status", "r");
	char line[256];

	assert_non_null(f);
	out[0] = '\0';
	while (fgets(line, sizeof(line), f))
		if (strncmp(line, "SigBlk:", 7) == 0)
			snprintf(out, len, "%s", line);
	fclose(f);
	assert_true(out[0] != '\0');
}

/* on_pid sees the pid with `hold` blocked, then 0 once reaped; the hold is
 * ours only: the child starts with our mask as it was. */
static void hold_and_on_pid(void **state)
{
	char *argv[] = {"/bin/sh", "-c", "exec grep -E '^SigBlk' /proc/self/status", NULL};
	struct pid_log log = {{0}, 0, 0};
	sigset_t hold, now;
	struct proc_spec s = {
	    .argv = argv, .out = PROC_PIPE, .hold = &hold, .on_pid = log_pid, .ctx = &log};
	struct proc p;
	struct buf out;
	char ours[64];
	pid_t pid;

	(void)state;
	sig_blocked_line(ours, sizeof(ours));
	sigemptyset(&hold);
	sigaddset(&hold, SIGUSR2);
	buf_init(&out, 1024);
	assert_int_equal(proc_start(&p, &s), 0);
	pid = p.pid;
	pthread_sigmask(SIG_BLOCK, NULL, &now);
	assert_false(sigismember(&now, SIGUSR2));
	assert_int_equal(proc_collect(&p, &out, 10), 0);
	assert_int_equal(log.n, 2);
	assert_int_equal(log.seen[0], pid);
	assert_int_equal(log.seen[1], 0);
	assert_true(log.held);
	assert_string_equal(buf_str(&out), ours);
	proc_free(&p);
	buf_free(&out);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(exit_status_reported),    cmocka_unit_test(signal_reported),
	    cmocka_unit_test(timeout_kills),           cmocka_unit_test(wait_timeout_then_kill),
	    cmocka_unit_test(stdout_streamed),         cmocka_unit_test(stdin_written),
	    cmocka_unit_test(stdin_closed_no_sigpipe), cmocka_unit_test(missing_program),
	    cmocka_unit_test(stdout_closed_early),     cmocka_unit_test(reader_gone_child_sigpipe),
	    cmocka_unit_test(stderr_bounded),          cmocka_unit_test(stdout_too_big),
	    cmocka_unit_test(fds_passed_and_no_other), cmocka_unit_test(environment_given),
	    cmocka_unit_test(hold_and_on_pid),
	};
	/* as in scandb: SIGPIPE's default action, which proc_write must not
	 * meet, and which a child killed by it reports */
	signal(SIGPIPE, SIG_DFL);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
