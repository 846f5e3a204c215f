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
 */
#ifndef SDB_HISTORY_EVENTS_H
#define SDB_HISTORY_EVENTS_H

#include <stddef.h>
#include <stdint.h>

#include "core/record.h"
#include "core/scope.h"

/* Mirrored by the CHECK on host_events.kind. */
enum ev_kind {
	EV_HOST_UP = 0,
	EV_HOST_DOWN,
	EV_PORT_OPENED,
	EV_PORT_CLOSED,
	EV_SERVICE_CHANGED,
	EV_OS_CHANGED,
	EV_MAC_CHANGED,
	EV_HOSTNAME_CHANGED,
	EV_SCRIPT_CHANGED,
	EV__COUNT
};
const char *ev_kind_name(enum ev_kind k);
int ev_kind_parse(const char *s, enum ev_kind *out);

struct ev_event {
	enum ev_kind kind;
	int proto;          /* enum rec_proto, or -1 for host-level events */
	int port;           /* -1 for host-level events */
	const char *detail; /* script id for script_changed, else NULL */
	const char *old_value;
	const char *new_value;
	int64_t job_id;
	int64_t prev_job_id; /* 0: none */
	int64_t at;          /* scan time of job_id */
};

/* The current state of one port of a host (an entry of its port state
 * document; a row of the port_state view). */
struct ev_port {
	enum rec_proto proto;
	int port;
	enum rec_port_state state;
	char *reason;
	char *service, *product, *version, *extrainfo, *tunnel, *method;
	int64_t job_id;     /* latest scan that probed it */
	int64_t seen_at;    /* that scan's time */
	int64_t first_seen; /* first scan time that saw it open; 0 never */
	int64_t last_seen;  /* latest scan time that saw it open; 0 never */
	int64_t closed_at;  /* scan time it was found no longer open; 0 */
	int dirty;          /* probed (so changed) by the last ev_step */
};

struct ev_script {
	int proto; /* -1: host script */
	int port;
	char *id;
	char *output; /* owned, or borrowed from the last scan (ev_host.borrow) */
	int borrowed;
	int64_t job_id;
};

struct ev_host {
	int known;  /* seen by an earlier scan */
	int stored; /* its state was loaded from the store (a host_state row) */
	enum rec_host_status status;
	int64_t job_id; /* its latest scan */
	int64_t at;
	char *os, *mac, *hostnames; /* latest reported; hostnames "a,b" sorted */
	int attrs_dirty;            /* the last ev_step changed os, mac or hostnames */
	/* (a store writes the host's state -- its latest OS, MAC, names and its
	 * ports' state as one document -- when a port is dirty or attrs_dirty) */
	struct ev_port *ports; /* sorted by (proto, port) */
	size_t nports, cap;
	struct ev_script *scripts; /* latest output per (proto, port, id) */
	size_t nscripts, scap;
	uint32_t *sidx;  /* hash index of scripts (1 + position; 0 empty) */
	size_t sidx_cap; /* a power of two, over twice nscripts; 0: none yet */
	/* Set by a caller whose scan outlives the state (the job writer, one
	 * scan per state): ev_step() points the state at the scan's script
	 * outputs instead of copying them (a host's outputs are held once).
	 * ev_host_own() copies them in, for a state kept across scans. */
	int borrow;
	char **dropped; /* outputs replaced by the last ev_step (see ev_step) */
	size_t ndropped, cdropped;
};

void ev_host_init(struct ev_host *h);
void ev_host_free(struct ev_host *h);
/* Loading a stored state: copy `p` in (strings duplicated); any order. */
int ev_host_put_port(struct ev_host *h, const struct ev_port *p);
int ev_host_put_script(struct ev_host *h, int proto, int port, const char *id, const char *output,
                       int64_t job_id);
/* Make every script output the state borrowed its own copy (and forget
 * the outputs the last ev_step replaced): for a state that must outlive
 * the scan it was last stepped with.  0 or SDB_ENOMEM. */
int ev_host_own(struct ev_host *h);
/* Canonical hostnames text ("a,b", sorted, unique) of a scan; malloc'ed or
 * NULL when it has none. */
char *ev_hostnames(const struct rec_host *scan);

/* dst (initialised, emptied first) becomes a deep copy of src.  0 or
 * SDB_ENOMEM (dst is then empty). */
int ev_host_copy(struct ev_host *dst, const struct ev_host *src);
/*
 * 1 when every later scan would derive the same events from a and from b:
 * they agree on what ev_step reads -- the host's status, latest scan (job
 * and time), OS, MAC and names; the same ports, each with its state,
 * latest probing scan and service; the same scripts, each with its output
 * and the scan that wrote it.  What ev_step only writes is not compared:
 * a port's reason, first_seen, last_seen, closed_at and seen_at (the time
 * of the scan it names), and the dirty flags.  Else 0.
 */
int ev_host_same(const struct ev_host *a, const struct ev_host *b);

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
            const struct rec_host *scan, ev_emit_fn emit, void *ctx);

#endif
