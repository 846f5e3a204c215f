/*
 * error.h - the one error type of scandb.
 *
 * Every library function returns 0 on success or one negative SDB_E* code.
 * Detail (which file, which line, what the database said) is kept by the
 * object that failed (parser, store handle) and read with its *_errmsg().
 * Only main()-level code prints errors and chooses exit statuses.
 */
#ifndef SDB_CORE_ERROR_H
#define SDB_CORE_ERROR_H

enum sdb_err {
	SDB_OK = 0,
	SDB_ENOMEM = -1,        /* allocation failed */
	SDB_EIO = -2,           /* read/write/open failed (errno kept in detail) */
	SDB_EPARSE = -3,        /* malformed or hostile input */
	SDB_EDB = -4,           /* database error (driver message in detail) */
	SDB_EBUSY = -5,         /* database locked/busy after retries */
	SDB_ECONSTRAINT = -6,   /* a constraint refused the data */
	SDB_ENOTFOUND = -7,     /* no such row/object */
	SDB_EEXISTS = -8,       /* already there (e.g. same content imported) */
	SDB_ESCHEMA = -9,       /* schema behind/ahead of binary, checksum mismatch */
	SDB_EUSAGE = -10,       /* bad arguments */
	SDB_EUNSUPPORTED = -11, /* backend or build lacks the feature */
	SDB_ETOOBIG = -12,      /* a bounded buffer/limit was exceeded */
	SDB_ERANGE = -13,       /* a value out of its allowed range */
	SDB_ECHILD = -14,       /* a subprocess failed */
	SDB_EINTR = -15,        /* interrupted by a signal / cancelled */
	SDB_ETRANSIENT = -16,   /* a transaction was lost to a transient failure
	                           (serialization failure, deadlock, lost
	                           connection): retry the whole transaction */
};

/* Static description of an error code; never NULL. */
const char *sdb_strerror(int err);

#endif
