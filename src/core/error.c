/* error.c - descriptions of the SDB_E* codes declared in error.h. */
#include "core/error.h"

const char *sdb_strerror(int err)
{
	switch (err) {
	case SDB_OK:
		return "success";
	case SDB_ENOMEM:
		return "out of memory";
	case SDB_EIO:
		return "input/output error";
	case SDB_EPARSE:
		return "malformed input";
	case SDB_EDB:
		return "database error";
	case SDB_EBUSY:
		return "database is busy";
	case SDB_ECONSTRAINT:
		return "constraint violation";
	case SDB_ENOTFOUND:
		return "not found";
	case SDB_EEXISTS:
		return "already exists";
	case SDB_ESCHEMA:
		return "database schema does not match this scandb";
	case SDB_EUSAGE:
		return "invalid usage";
	case SDB_EUNSUPPORTED:
		return "not supported";
	case SDB_ETOOBIG:
		return "size limit exceeded";
	case SDB_ERANGE:
		return "value out of range";
	case SDB_ECHILD:
		return "subprocess failed";
	case SDB_EINTR:
		return "interrupted";
	case SDB_ETRANSIENT:
		return "transaction lost to a transient failure (retry it)";
	}
	return "unknown error";
}
