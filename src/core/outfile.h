/*
 * outfile.h - a file written under a temporary name beside its own and
 * renamed over it only when complete (`export -o FILE`, `scan --keep-xml
 * FILE`): a reader never sees half a file, and a failed or interrupted
 * writer leaves the old file (if any) as it was.
 *
 *   outfile_open    "<FILE>.tmp-XXXXXX" exists (mode 0666 less the umask),
 *                   open for writing as o->f
 *   outfile_commit  flushed, fsync'ed, closed and renamed to FILE
 *   outfile_abort   closed and removed (an error, or nothing worth keeping)
 *
 * A process killed outright leaves the temporary file behind (its name
 * says what it is).
 */
#ifndef SDB_CORE_OUTFILE_H
#define SDB_CORE_OUTFILE_H

#include <stddef.h>
#include <stdio.h>

struct outfile {
	FILE *f;    /* write here between open and commit/abort */
	char *path; /* the final name */
	char *tmp;  /* the temporary name */
};

/* 0, or -1 with "cannot write PATH: reason" in err[errlen]; o is then
 * empty (nothing to abort). */
int outfile_open(struct outfile *o, const char *path, char *err, size_t errlen);
/* 0, or -1 with "cannot write PATH: reason" in err[errlen] and the
 * temporary file removed.  Either way o is released. */
int outfile_commit(struct outfile *o, char *err, size_t errlen);
/* Remove the temporary file and release o; safe on an empty o. */
void outfile_abort(struct outfile *o);

#endif
