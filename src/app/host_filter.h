/*
 * host_filter.h - the one parser of the host listing filters (port,
 * service, status, net, job, changed-since, new-since) into a
 * store_host_filter, for every front door: the CLI's flags
 * (cli/host_filter.c) and the HTTP API's query parameters (http/).  Each
 * value is checked the same way wherever it comes from.
 */
#ifndef SDB_APP_HOST_FILTER_H
#define SDB_APP_HOST_FILTER_H

#include <stddef.h>
#include <stdint.h>

#include "store/store.h"

enum host_filter_key {
	HOST_FILTER_PORT = 0,
	HOST_FILTER_SERVICE,
	HOST_FILTER_STATUS,
	HOST_FILTER_NET,
	HOST_FILTER_JOB,
	HOST_FILTER_CHANGED_SINCE,
	HOST_FILTER_NEW_SINCE,
};

/*
 * Set filter `key` of *f from text `v` (times relative to `now`).  The
 * service name is borrowed: v must outlive f.  0, or SDB_EUSAGE with
 * msg[len] saying what is wrong with the value, without naming the key
 * ("'70000' is not a port (...)"): the caller names its flag or parameter.
 */
int host_filter_set(struct store_host_filter *f, enum host_filter_key key, const char *v,
                    int64_t now, char *msg, size_t len);

#endif
