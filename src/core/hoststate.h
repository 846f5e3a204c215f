/*
 * hoststate.h - what scandb knows of one host at a point of its history:
 * its status, latest scan, OS, MAC and names, each port's scope-aware
 * state and each script's latest output (struct ev_host), and the change
 * events (struct ev_event) that the rules (history/events.h) derive from
 * a state and a newer scan.  Data and its container operations only: the
 * store loads and saves states and events, the rules step them, app/
 * carries them between the two.
 */
#ifndef SDB_CORE_HOSTSTATE_H
#define SDB_CORE_HOSTSTATE_H

#include <stddef.h>
#include <stdint.h>

#include "core/record.h"

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
	EV_HOST_GONE,
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
	/* Gone (history/events.h): the covering scans in a row, up to the
	 * latest, that saw it down or did not list it (0 after an up), and
	 * the latest that did not list it (job and time; 0: none).  Changed
	 * by the last ev_step or ev_miss: gone_dirty (status or misses). */
	int misses;
	int64_t miss_job, miss_at;
	int gone_dirty;
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
 * and time), its misses in a row, OS, MAC and names; the same ports, each with its state,
 * latest probing scan and service; the same scripts, each with its output
 * and the scan that wrote it.  What ev_step only writes is not compared:
 * a port's reason, first_seen, last_seen, closed_at and seen_at (the time
 * of the scan it names), and the dirty flags.  Else 0.
 */
int ev_host_same(const struct ev_host *a, const struct ev_host *b);

/* ---- for the rules (history/events.c), which step a state ---------------- */

/* Position of (proto, port) in h->ports (sorted): *found 1 when there,
 * else 0 and where it would go. */
size_t ev_host_port_find(const struct ev_host *h, int proto, int port, int *found);
/* A zeroed port entry inserted at position i; NULL: out of memory. */
struct ev_port *ev_host_port_insert_at(struct ev_host *h, size_t i);
/* The latest output entry of a script, or NULL. */
struct ev_script *ev_host_script_find(struct ev_host *h, int proto, int port, const char *id);
/* ... or a new empty one (id copied); NULL: out of memory. */
struct ev_script *ev_host_script_entry(struct ev_host *h, int proto, int port, const char *id);
/* s's output becomes `output`: borrowed (h->borrow) or copied; the old one
 * is kept in h->dropped until ev_host_drop_dropped.  0 or SDB_ENOMEM. */
int ev_host_script_set(struct ev_host *h, struct ev_script *s, const char *output);
/* Free the outputs the last step replaced. */
void ev_host_drop_dropped(struct ev_host *h);
/* Strings that may be NULL: equal (NULL == NULL); *dst = a copy of src
 * (NULL stays NULL), 0 or SDB_ENOMEM. */
int ev_str_eq(const char *a, const char *b);
int ev_str_set(char **dst, const char *src);

#endif
