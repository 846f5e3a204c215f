/*
 * testutil.h - small helpers shared by the unit tests: where the sample data
 * lives (SCANDB_TEST_DATA), a per-test scratch directory (TEST_TMPDIR),
 * reading whole files, and a loud skip (exit 77, CTest's SKIP_RETURN_CODE).
 * Not part of scandb; linked into every tests/unit/test_*.c program.
 */
#ifndef SDB_TESTS_TESTUTIL_H
#define SDB_TESTS_TESTUTIL_H

#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>

/* Skip the whole test program: prints "SKIPPED: reason" to stdout and
 * stderr (so it is seen in CTest logs) and exits 77. */
#define TU_SKIP(...) tu_skip(__FILE__, __LINE__, __VA_ARGS__)
void tu_skip(const char *file, int line, const char *fmt, ...)
    __attribute__((format(printf, 3, 4), noreturn));

/* The nmap sample directory from $SCANDB_TEST_DATA; skips the program if
 * it is unset or not a directory.  Static storage (the environment). */
const char *tu_nmap_data_dir(void);

/* "dir/file" (malloc'ed; the caller frees).  Aborts on ENOMEM. */
char *tu_path(const char *dir, const char *file);

/* Read a whole file into a malloc'ed, NUL-terminated buffer (*len excludes
 * the NUL).  Returns 0, or -1 with errno set.  The caller frees *data. */
int tu_read_file(const char *path, char **data, size_t *len);

/* Read $SCANDB_TEST_DATA/name; skips the program if it cannot be read. */
char *tu_read_nmap_sample(const char *name, size_t *len);

/* Create a fresh directory "$TEST_TMPDIR/prefix.XXXXXX" (TEST_TMPDIR
 * defaults to /tmp; it is created if missing).  Returns the malloc'ed path
 * (the caller frees it and may remove the tree with tu_rmtree). */
char *tu_mkdtemp(const char *prefix);

/* Remove a directory tree (best effort; for cleanup only). */
void tu_rmtree(const char *path);

struct buf;
struct rec_host;
struct rec_script;
/* Append every field of a record to b as text (" key=[value]" or
 * " key=NULL"), so that two code paths' records compare as strings.
 * Aborts if b is full. */
void tu_dump_str(struct buf *b, const char *k, const char *v);
void tu_dump_scripts(struct buf *b, const struct rec_script *s, size_t n);
void tu_dump_host(struct buf *b, const struct rec_host *h);

#endif
