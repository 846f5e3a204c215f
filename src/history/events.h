/*
 * events.h - change events, derived from one host's successive scans.
 *
 * Owns: the rules that turn "what we knew about a host" + "what a newer scan
 * saw" into events (host up/down, port opened/closed, service/OS/MAC/
 * hostname/script changed) and the host's new scope-aware state.  Pure: no
 * database, no I/O; the job writer loads the state, calls ev_step() and
 * stores what it emits, inside the job's transaction.
 *
 * No false alarms:
 *  - a port is closed only by a scan that probed it (its scope covers the
 *    protocol/port) while the host was up; a port the scan does not list but
 *    covered takes the state of the scan's `extraports`;
 *  - a state that cannot tell open from not open ("unfiltered" of an ACK
 *    scan, "open|filtered" of FIN/NULL/Xmas/UDP scans) is no news about a
 *    port known to be open, listed or folded into extraports;
 *  - a host status other than up or down (a list scan's "unknown") does not
 *    replace a known up or down;
 *  - a host that was down says nothing about its ports, OS, names, scripts;
 *  - services are compared at the same level of detail only (version
 *    detection on both sides, or on neither); an open port keeps the
 *    service last detected on it, a port that is no longer open keeps none;
 *  - OS, MAC, hostnames and script output are compared with the latest scan
 *    that reported them, not with a scan that did not look (the event's
 *    previous job is the host's previous scan; for scripts, the scan that
 *    wrote the old output).
 * A new host gives one host_up event (old value NULL); its ports are not
 * each reported as opened.
 *
 * Gone: a host is `gone` when the last `gone_after` scans that covered it
 * (docs/HISTORY.md: a scan covers the addresses of its targets and those
 * it listed) saw it down or did not list it.  A scan that lists it down
 * (ev_step) or covers it without listing it (ev_miss) counts one miss; a
 * scan that lists it up resets the count; a list scan's "unknown" neither
 * counts nor resets.  Reaching the count gives one host_gone event (old
 * value: the status before; the event replaces the host_down such a down
 * scan would give); a gone host stays gone, whatever further misses, until
 * a scan lists it up: host_up (old value "gone").  gone_after 0: never.
 */
#ifndef SDB_HISTORY_EVENTS_H
#define SDB_HISTORY_EVENTS_H

#include <stddef.h>
#include <stdint.h>

#include "core/hoststate.h"
#include "core/record.h"
#include "core/scope.h"

typedef int (*ev_emit_fn)(void *ctx, const struct ev_event *e);

/*
 * Apply one scan (job_id at time `at`, probed `scope`, the host as it saw
 * it) to the state, calling emit for every change in a fixed order, and
 * mark changed ports dirty.  The scan must not be older than h->at (the
 * caller replays a host's scans in time order when an older file comes in
 * late).  Returns 0, SDB_ENOMEM, or the first non-zero emit return.
 *
 * An event's strings are valid during the emit call; those of a
 * script_changed event (detail, old and new output: possibly megabytes)
 * stay valid until the next ev_step() on h, ev_host_own() or
 * ev_host_free() - and while `scan` does - so that they need no copy.
 */
int ev_step(struct ev_host *h, int64_t job_id, int64_t at, const struct scan_scope *scope,
            const struct rec_host *scan, int gone_after, ev_emit_fn emit, void *ctx);

/*
 * Apply a scan (job_id at time `at`) that covered the host and did not
 * list it: one more miss (h->miss_job, h->miss_at become this scan), and
 * at `gone_after` misses in a row the host_gone event.  A host not known
 * yet (h->known 0) is left as it is.  Sets h->gone_dirty when the state
 * changed (and clears the port and attribute dirty flags: nothing else
 * changed).  Returns 0, or the first non-zero emit return.
 */
int ev_miss(struct ev_host *h, int64_t job_id, int64_t at, int gone_after, ev_emit_fn emit,
            void *ctx);

/* The default of `--gone-after`. */
#define EV_GONE_AFTER_DEFAULT 3

#endif
