/*
 * record.h - the record model: what every source (nmap XML import, nmap run,
 * later masscan and the built-in scanner) produces and the job writer stores.
 *
 * Records are plain structs pushed to a sink (struct ingest_sink, see
 * ingest/sink.h).  A record and every string/array it points at belong to the
 * source and are valid only for the duration of the callback: a sink that
 * needs data later copies it.  Optional strings are NULL when absent;
 * optional integers are -1 when absent; times are Unix seconds, 0 = absent.
 */
#ifndef SDB_CORE_RECORD_H
#define SDB_CORE_RECORD_H

#include <stddef.h>
#include <stdint.h>

/* Each enumeration below is mirrored by a CHECK constraint in the schema;
 * the *_name() strings are exactly the values stored.  The *_ANY values
 * are a host filter's wildcard (store.h): never in a record, no name, and
 * the store refuses a record that holds one. */
enum rec_host_status {
	REC_HOST_ANY = -1,
	REC_HOST_UNKNOWN = 0,
	REC_HOST_UP,
	REC_HOST_DOWN,
	REC_HOST_SKIPPED,
	/* Never in a scan: the history's word for a host that the last N
	 * scans covering it saw down or did not list (history/events.h). */
	REC_HOST_GONE,
};

enum rec_proto {
	REC_PROTO_ANY = -1,
	REC_PROTO_TCP = 0,
	REC_PROTO_UDP,
	REC_PROTO_SCTP,
	REC_PROTO_IP,
	REC_PROTO__COUNT
};

enum rec_port_state {
	REC_PORT_OPEN = 0,
	REC_PORT_CLOSED,
	REC_PORT_FILTERED,
	REC_PORT_UNFILTERED,
	REC_PORT_OPEN_FILTERED,
	REC_PORT_CLOSED_FILTERED,
	REC_PORT__COUNT
};

const char *rec_host_status_name(enum rec_host_status s);
const char *rec_proto_name(enum rec_proto p);
const char *rec_port_state_name(enum rec_port_state s);
/* Parse the stored/nmap spelling; return 0 or SDB_EPARSE. */
int rec_host_status_parse(const char *s, enum rec_host_status *out);
int rec_proto_parse(const char *s, enum rec_proto *out);
int rec_port_state_parse(const char *s, enum rec_port_state *out);

struct rec_script {
	const char *id;
	const char *output;
};

struct rec_service {
	const char *name;
	const char *product;
	const char *version;
	const char *extrainfo;
	const char *ostype;
	const char *method; /* "table" or "probed" (the only values sources pass) */
	const char *tunnel; /* e.g. "ssl" */
	int conf;           /* 0-10, -1 absent */
	const char *const *cpes;
	size_t ncpes;
};

struct rec_port {
	enum rec_proto proto;
	int port; /* 0-65535 */
	enum rec_port_state state;
	const char *reason;
	int reason_ttl; /* -1 absent */
	int has_service;
	struct rec_service service;
	const struct rec_script *scripts;
	size_t nscripts;
};

struct rec_extraports {
	enum rec_port_state state;
	long count;
	const char *reasons; /* "reset:990,no-response:3", NULL if none */
};

struct rec_hostname {
	const char *name;
	const char *type; /* "user", "PTR", ... */
};

struct rec_os {
	const char *name; /* best osmatch */
	int accuracy;     /* 0-100 */
	const char *vendor;
	const char *family;
	const char *gen;
	const char *type;
	const char *cpe;
};

struct rec_host {
	enum rec_host_status status;
	const char *reason;
	int reason_ttl;
	int64_t starttime;
	int64_t endtime;
	const char *addr; /* canonical IPv4/IPv6 text; never NULL */
	int family;       /* 4 or 6 */
	const char *mac;  /* upper-case aa:bb:.. or NULL */
	const char *mac_vendor;
	const struct rec_hostname *hostnames;
	size_t nhostnames;
	int has_os;
	struct rec_os os;
	const char *const *osmatches; /* every <osmatch> name, in file order */
	size_t nosmatches;
	int64_t uptime_seconds; /* -1 absent */
	const char *lastboot;
	int distance; /* hops, -1 absent */
	const struct rec_extraports *extraports;
	size_t nextraports;
	const struct rec_port *ports;
	size_t nports;
	const struct rec_script *scripts; /* hostscript */
	size_t nscripts;
};

struct rec_scaninfo {
	const char *type; /* "syn", "connect", ... */
	enum rec_proto proto;
	long numservices;
	const char *services; /* "1-1000,1025" as nmap wrote it */
};

struct rec_run {
	const char *scanner; /* "nmap" */
	const char *args;    /* nmap's command line */
	const char *version;
	const char *xmloutputversion;
	int64_t start;
};

struct rec_runstats {
	int finished; /* <finished> seen */
	int64_t end;
	double elapsed; /* -1 absent */
	const char *summary;
	const char *exit; /* "success" / "error" */
	const char *errormsg;
	long hosts_up, hosts_down, hosts_total; /* -1 absent */
	/* The run's pre-scan and post-scan script results (<prescript>,
	 * <postscript>), in file order: delivered with the end of the run. */
	const struct rec_script *prescripts;
	size_t nprescripts;
	const struct rec_script *postscripts;
	size_t npostscripts;
	int truncated; /* the document was cut off (see sink.h accept_truncated) */
};

/*
 * Deep copies, for a sink that must keep a record past its callback (e.g.
 * ingest_pipe.c hands records from the parser thread to the calling one).
 *
 * rec_X_copy_size(src) is the number of bytes the strings and arrays that
 * *src points at need, not counting *src itself; SIZE_MAX if that overflows.
 * rec_X_copy(dst, src, mem) sets *dst to a copy of *src whose every pointer
 * points into `mem`, which must hold rec_X_copy_size(src) bytes and be
 * aligned for any type (a malloc'ed block, or an offset into one that is a
 * multiple of _Alignof(max_align_t)).  The copy owns nothing: it stays valid
 * as long as `mem` does and is released by freeing `mem`.  NULL strings stay
 * NULL and arrays with no elements become NULL.  *src is only read.
 */
size_t rec_host_copy_size(const struct rec_host *src);
void rec_host_copy(struct rec_host *dst, const struct rec_host *src, void *mem);
size_t rec_run_copy_size(const struct rec_run *src);
void rec_run_copy(struct rec_run *dst, const struct rec_run *src, void *mem);
size_t rec_scaninfo_copy_size(const struct rec_scaninfo *src);
void rec_scaninfo_copy(struct rec_scaninfo *dst, const struct rec_scaninfo *src, void *mem);
size_t rec_runstats_copy_size(const struct rec_runstats *src);
void rec_runstats_copy(struct rec_runstats *dst, const struct rec_runstats *src, void *mem);

/* A deep copy of *src in one malloc'ed block (the struct first, then what it
 * points at); the caller frees it with free().  NULL if out of memory. */
struct rec_host *rec_host_dup(const struct rec_host *src);

#endif
