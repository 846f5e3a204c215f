/*
 * listing_fields.c - the fields each listing sorts on (listing.h): one
 * table per listing, names as in its JSON keys, each with a comparison of
 * two items.  Absent values (NULL strings, unknown times) sort first.
 */
#include <stdint.h>
#include <string.h>

#include "app/listing.h"
#include "app/services.h"
#include "core/addr.h"
#include "history/findings.h"
#include "store/store.h"

/* ---- values ------------------------------------------------------------- */

static int cmp_str(const char *a, const char *b)
{
	if (!a || !b)
		return (a != NULL) - (b != NULL);
	return strcmp(a, b);
}

static int cmp_i64(int64_t a, int64_t b)
{
	return (a > b) - (a < b);
}

static int cmp_double(double a, double b)
{
	return (a > b) - (a < b);
}

/* Addresses in address order: IPv4 before IPv6, then by their bytes (as
 * the store lists them); unparsable text after, by text. */
static int cmp_addr(const char *a, const char *b)
{
	unsigned char ka[16], kb[16];
	int fa = 0, fb = 0, pa, pb, c;

	pa = a && addr_parse(a, NULL, &fa, ka) == 0;
	pb = b && addr_parse(b, NULL, &fb, kb) == 0;
	if (!pa || !pb)
		return pa != pb ? pb - pa : cmp_str(a, b);
	if (fa != fb)
		return fa - fb;
	c = memcmp(ka, kb, sizeof(ka));
	return c;
}

/* A severity's rank (info lowest), -1 if absent or unknown. */
static int sev_rank(const char *s)
{
	enum findings_severity v;

	return s && findings_severity_parse(s, &v) == 0 ? (int)v : -1;
}

/* ---- hosts (struct store_host) ------------------------------------------- */

#define HOST(x) ((const struct store_host *)(x))

static size_t open_ports(const struct store_host *h)
{
	size_t n = 0;

	for (size_t i = 0; i < h->nports; i++)
		n += h->ports[i].state && strcmp(h->ports[i].state, "open") == 0;
	return n;
}

static int host_addr(const void *a, const void *b)
{
	return cmp_addr(HOST(a)->addr, HOST(b)->addr);
}
static int host_status(const void *a, const void *b)
{
	return cmp_str(HOST(a)->status, HOST(b)->status);
}
static int host_hostname(const void *a, const void *b)
{
	return cmp_str(HOST(a)->nhostnames ? HOST(a)->hostnames[0] : NULL,
	               HOST(b)->nhostnames ? HOST(b)->hostnames[0] : NULL);
}
static int host_os(const void *a, const void *b)
{
	return cmp_str(HOST(a)->os, HOST(b)->os);
}
static int host_ports(const void *a, const void *b)
{
	return cmp_i64((int64_t)open_ports(HOST(a)), (int64_t)open_ports(HOST(b)));
}
static int host_first(const void *a, const void *b)
{
	return cmp_i64(HOST(a)->first_seen, HOST(b)->first_seen);
}
static int host_last(const void *a, const void *b)
{
	return cmp_i64(HOST(a)->last_seen, HOST(b)->last_seen);
}

const struct listing_field listing_host_fields[] = {
    {"addr", host_addr, 1},         {"status", host_status, 0},
    {"hostname", host_hostname, 0}, {"os", host_os, 0},
    {"ports", host_ports, 0},       {"first_seen", host_first, 0},
    {"last_seen", host_last, 0},    {NULL, NULL, 0},
};

/* ---- services (struct services_row) -------------------------------------- */

#define ROW(x) ((const struct services_row *)(x))

static int svc_addr(const void *a, const void *b)
{
	return cmp_addr(ROW(a)->h->addr, ROW(b)->h->addr);
}
static int svc_port(const void *a, const void *b)
{
	int c = cmp_i64(ROW(a)->p->port, ROW(b)->p->port);

	return c ? c : cmp_str(ROW(a)->p->protocol, ROW(b)->p->protocol);
}
static int svc_protocol(const void *a, const void *b)
{
	return cmp_str(ROW(a)->p->protocol, ROW(b)->p->protocol);
}
static int svc_service(const void *a, const void *b)
{
	return cmp_str(ROW(a)->p->service, ROW(b)->p->service);
}
static int svc_product(const void *a, const void *b)
{
	return cmp_str(ROW(a)->p->product, ROW(b)->p->product);
}
static int svc_version(const void *a, const void *b)
{
	return cmp_str(ROW(a)->p->version, ROW(b)->p->version);
}
static int svc_first(const void *a, const void *b)
{
	return cmp_i64(ROW(a)->p->first_seen, ROW(b)->p->first_seen);
}
static int svc_last(const void *a, const void *b)
{
	return cmp_i64(ROW(a)->p->last_seen, ROW(b)->p->last_seen);
}

const struct listing_field listing_service_fields[] = {
    {"addr", svc_addr, 1},        {"port", svc_port, 0},       {"protocol", svc_protocol, 0},
    {"service", svc_service, 0},  {"product", svc_product, 0}, {"version", svc_version, 0},
    {"first_seen", svc_first, 0}, {"last_seen", svc_last, 0},  {NULL, NULL, 0},
};

/* ---- changes (struct store_event) ---------------------------------------- */

#define EV(x) ((const struct store_event *)(x))

static int ev_at(const void *a, const void *b)
{
	return cmp_i64(EV(a)->at, EV(b)->at);
}
static int ev_addr(const void *a, const void *b)
{
	return cmp_addr(EV(a)->addr, EV(b)->addr);
}
static int ev_kind(const void *a, const void *b)
{
	return cmp_str(EV(a)->kind, EV(b)->kind);
}
static int ev_port(const void *a, const void *b)
{
	return cmp_i64(EV(a)->port, EV(b)->port);
}
static int ev_job(const void *a, const void *b)
{
	return cmp_i64(EV(a)->job_id, EV(b)->job_id);
}

const struct listing_field listing_event_fields[] = {
    {"at", ev_at, 1},     {"addr", ev_addr, 0},  {"kind", ev_kind, 0},
    {"port", ev_port, 0}, {"job_id", ev_job, 0}, {NULL, NULL, 0},
};

/* ---- findings (struct store_finding) ------------------------------------- */

#define FND(x) ((const struct store_finding *)(x))

static int fnd_id(const void *a, const void *b)
{
	return cmp_i64(FND(a)->id, FND(b)->id);
}
static int fnd_severity(const void *a, const void *b)
{
	return sev_rank(FND(a)->severity) - sev_rank(FND(b)->severity);
}
static int fnd_status(const void *a, const void *b)
{
	return cmp_str(FND(a)->status, FND(b)->status);
}
static int fnd_addr(const void *a, const void *b)
{
	return cmp_addr(FND(a)->addr, FND(b)->addr);
}
static int fnd_port(const void *a, const void *b)
{
	return cmp_i64(FND(a)->port, FND(b)->port);
}
static int fnd_type(const void *a, const void *b)
{
	return cmp_str(FND(a)->type, FND(b)->type);
}
static int fnd_title(const void *a, const void *b)
{
	return cmp_str(FND(a)->title, FND(b)->title);
}
static int fnd_first(const void *a, const void *b)
{
	return cmp_i64(FND(a)->first_seen, FND(b)->first_seen);
}
static int fnd_last(const void *a, const void *b)
{
	return cmp_i64(FND(a)->last_seen, FND(b)->last_seen);
}

const struct listing_field listing_finding_fields[] = {
    {"id", fnd_id, 1},       {"severity", fnd_severity, 0}, {"status", fnd_status, 0},
    {"addr", fnd_addr, 0},   {"port", fnd_port, 0},         {"type", fnd_type, 0},
    {"title", fnd_title, 0}, {"first_seen", fnd_first, 0},  {"last_seen", fnd_last, 0},
    {NULL, NULL, 0},
};

/* ---- jobs (struct store_job) --------------------------------------------- */

#define JOB(x) ((const struct store_job *)(x))

static int job_created(const void *a, const void *b)
{
	int c = cmp_i64(JOB(a)->created_at, JOB(b)->created_at);

	return c ? c : cmp_i64(JOB(a)->id, JOB(b)->id);
}
static int job_id(const void *a, const void *b)
{
	return cmp_i64(JOB(a)->id, JOB(b)->id);
}
static int job_kind(const void *a, const void *b)
{
	return cmp_str(JOB(a)->kind, JOB(b)->kind);
}
static int job_status(const void *a, const void *b)
{
	return cmp_str(JOB(a)->status, JOB(b)->status);
}
static int job_started(const void *a, const void *b)
{
	return cmp_i64(JOB(a)->started_at, JOB(b)->started_at);
}
static int job_completed(const void *a, const void *b)
{
	return cmp_i64(JOB(a)->completed_at, JOB(b)->completed_at);
}
static int job_hosts_up(const void *a, const void *b)
{
	return cmp_i64(JOB(a)->hosts_up, JOB(b)->hosts_up);
}
static int job_ports_open(const void *a, const void *b)
{
	return cmp_i64(JOB(a)->ports_open, JOB(b)->ports_open);
}
static int job_elapsed(const void *a, const void *b)
{
	return cmp_double(JOB(a)->elapsed, JOB(b)->elapsed);
}

/* The store lists jobs newest first: created_at, then id, descending. */
const struct listing_field listing_job_fields[] = {
    {"created_at", job_created, -1}, {"id", job_id, 0},
    {"kind", job_kind, 0},           {"status", job_status, 0},
    {"started_at", job_started, 0},  {"completed_at", job_completed, 0},
    {"hosts_up", job_hosts_up, 0},   {"ports_open", job_ports_open, 0},
    {"elapsed", job_elapsed, 0},     {NULL, NULL, 0},
};
