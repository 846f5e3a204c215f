/*
 * test_outfile.c - unit tests of core/outfile.c: a file is published under
 * its name only when committed, replacing an old one at once; an aborted
 * or failed one leaves the old file and no temporary file; a directory
 * that cannot be written is an error naming the path.
 */
#include <dirent.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "core/outfile.h"

/* A new empty directory (removed with its files by rm_dir). */
static char *new_dir(void)
{
	char tmpl[] = "/tmp/scandb-outfile-XXXXXX";
	char *d = mkdtemp(tmpl);

	assert_non_null(d);
	return strdup(d);
}

static size_t count_files(const char *dir)
{
	DIR *d = opendir(dir);
	struct dirent *e;
	size_t n = 0;

	assert_non_null(d);
	while ((e = readdir(d)))
		n += e->d_name[0] != '.';
	closedir(d);
	return n;
}

static void rm_dir(char *dir)
{
	DIR *d = opendir(dir);
	struct dirent *e;
	char p[512];

	assert_non_null(d);
	while ((e = readdir(d))) {
		if (e->d_name[0] == '.')
			continue;
		snprintf(p, sizeof(p), "%s/%s", dir, e->d_name);
		unlink(p);
	}
	closedir(d);
	rmdir(dir);
	free(dir);
}

static void read_file(const char *path, char *out, size_t len)
{
	FILE *f = fopen(path, "r");
	size_t n;

	assert_non_null(f);
	n = fread(out, 1, len - 1, f);
	out[n] = '\0';
	fclose(f);
}

static void write_file(const char *path, const char *text)
{
	FILE *f = fopen(path, "w");

	assert_non_null(f);
	fputs(text, f);
	assert_int_equal(fclose(f), 0);
}

static void test_commit_replaces_at_once(void **state)
{
	char *dir = new_dir(), path[256], got[64], err[256];
	struct outfile o;

	(void)state;
	snprintf(path, sizeof(path), "%s/out.xml", dir);
	write_file(path, "old");
	assert_int_equal(outfile_open(&o, path, err, sizeof(err)), 0);
	fputs("new ", o.f);
	read_file(path, got, sizeof(got));
	assert_string_equal(got, "old"); /* not yet */
	assert_int_equal(count_files(dir), 2);
	fputs("text", o.f);
	assert_int_equal(outfile_commit(&o, err, sizeof(err)), 0);
	assert_null(o.f);
	read_file(path, got, sizeof(got));
	assert_string_equal(got, "new text");
	assert_int_equal(count_files(dir), 1);
	rm_dir(dir);
}

static void test_abort_leaves_the_old_file(void **state)
{
	char *dir = new_dir(), path[256], got[64], err[256];
	struct outfile o;

	(void)state;
	snprintf(path, sizeof(path), "%s/out.xml", dir);
	write_file(path, "old");
	assert_int_equal(outfile_open(&o, path, err, sizeof(err)), 0);
	fputs("half", o.f);
	outfile_abort(&o);
	outfile_abort(&o); /* safe twice */
	read_file(path, got, sizeof(got));
	assert_string_equal(got, "old");
	assert_int_equal(count_files(dir), 1);
	rm_dir(dir);
}

static void test_unwritable_path_names_it(void **state)
{
	char *dir = new_dir(), path[256], err[512];
	struct outfile o;

	(void)state;
	snprintf(path, sizeof(path), "%s/missing/out.xml", dir);
	assert_int_equal(outfile_open(&o, path, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "cannot write "));
	assert_non_null(strstr(err, path));
	assert_null(o.f);
	outfile_abort(&o); /* an empty one */
	assert_int_equal(outfile_open(&o, "", err, sizeof(err)), -1);
	assert_int_equal(count_files(dir), 0);
	rm_dir(dir);
}

static void test_failed_rename_removes_the_temporary(void **state)
{
	char *dir = new_dir(), path[256], err[512];
	struct outfile o;

	(void)state;
	/* a directory in the way: the rename fails */
	snprintf(path, sizeof(path), "%s/sub", dir);
	assert_int_equal(mkdir(path, 0700), 0);
	snprintf(path + strlen(path), sizeof(path) - strlen(path), "/x");
	write_file(path, "x");
	path[strlen(path) - 2] = '\0';
	assert_int_equal(outfile_open(&o, path, err, sizeof(err)), 0);
	fputs("data", o.f);
	assert_int_equal(outfile_commit(&o, err, sizeof(err)), -1);
	assert_non_null(strstr(err, path));
	assert_int_equal(count_files(dir), 1); /* sub only */
	snprintf(path + strlen(path), sizeof(path) - strlen(path), "/x");
	unlink(path);
	path[strlen(path) - 2] = '\0';
	rmdir(path);
	rm_dir(dir);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_commit_replaces_at_once),
	    cmocka_unit_test(test_abort_leaves_the_old_file),
	    cmocka_unit_test(test_unwritable_path_names_it),
	    cmocka_unit_test(test_failed_rename_removes_the_temporary),
	};

	return cmocka_run_group_tests(tests, NULL, NULL) ? 1 : 0;
}
