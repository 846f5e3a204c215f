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

/* static int NAME(a, b): CMP(MAC(a)->FIELD, MAC(b)->FIELD), MAC casting an
 * item to its type. */
#define CMP_FIELD(name, MAC, field, CMP)                                                           \
	static int name(const void *a, const void *b)                                              \
	{                                                                                          \
		return CMP(MAC(a)->field, MAC(b)->field);                                          \
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

CMP_FIELD(host_addr, HOST, addr, cmp_addr)
CMP_FIELD(host_status, HOST, status, cmp_str)
static int host_hostname(const void *a, const void *b)
{
	return cmp_str(HOST(a)->nhostnames ? HOST(a)->hostnames[0] : NULL,
	               HOST(b)->nhostnames ? HOST(b)->hostnames[0] : NULL);
}
CMP_FIELD(host_os, HOST, os, cmp_str)
static int host_ports(const void *a, const void *b)
{
	return cmp_i64((int64_t)open_ports(HOST(a)), (int64_t)open_ports(HOST(b)));
}
CMP_FIELD(host_first, HOST, first_seen, cmp_i64)
CMP_FIELD(host_last, HOST, last_seen, cmp_i64)

const struct listing_field listing_host_fields[] = {
    {"addr", host_addr, 1},         {"status", host_status, 0},
    {"hostname", host_hostname, 0}, {"os", host_os, 0},
    {"ports", host_ports, 0},       {"first_seen", host_first, 0},
    {"last_seen", host_last, 0},    {NULL, NULL, 0},
};

/* ---- services (struct services_row) -------------------------------------- */

#define ROW(x) ((const struct services_row *)(x))

CMP_FIELD(svc_addr, ROW, h->addr, cmp_addr)
static int svc_port(const void *a, const void *b)
{
	int c = cmp_i64(ROW(a)->p->port, ROW(b)->p->port);

	return c ? c : cmp_str(ROW(a)->p->protocol, ROW(b)->p->protocol);
}
CMP_FIELD(svc_protocol, ROW, p->protocol, cmp_str)
CMP_FIELD(svc_service, ROW, p->service, cmp_str)
CMP_FIELD(svc_product, ROW, p->product, cmp_str)
CMP_FIELD(svc_version, ROW, p->version, cmp_str)
CMP_FIELD(svc_first, ROW, p->first_seen, cmp_i64)
CMP_FIELD(svc_last, ROW, p->last_seen, cmp_i64)

const struct listing_field listing_service_fields[] = {
    {"addr", svc_addr, 1},        {"port", svc_port, 0},       {"protocol", svc_protocol, 0},
    {"service", svc_service, 0},  {"product", svc_product, 0}, {"version", svc_version, 0},
    {"first_seen", svc_first, 0}, {"last_seen", svc_last, 0},  {NULL, NULL, 0},
};

/* ---- changes (struct store_event) ---------------------------------------- */

#define EV(x) ((const struct store_event *)(x))

CMP_FIELD(ev_at, EV, at, cmp_i64)
CMP_FIELD(ev_addr, EV, addr, cmp_addr)
CMP_FIELD(ev_kind, EV, kind, cmp_str)
CMP_FIELD(ev_port, EV, port, cmp_i64)
CMP_FIELD(ev_job, EV, job_id, cmp_i64)

const struct listing_field listing_event_fields[] = {
    {"at", ev_at, 1},     {"addr", ev_addr, 0},  {"kind", ev_kind, 0},
    {"port", ev_port, 0}, {"job_id", ev_job, 0}, {NULL, NULL, 0},
};

/* ---- findings (struct store_finding) ------------------------------------- */

#define FND(x) ((const struct store_finding *)(x))

CMP_FIELD(fnd_id, FND, id, cmp_i64)
static int fnd_severity(const void *a, const void *b)
{
	return sev_rank(FND(a)->severity) - sev_rank(FND(b)->severity);
}
CMP_FIELD(fnd_status, FND, status, cmp_str)
CMP_FIELD(fnd_addr, FND, addr, cmp_addr)
CMP_FIELD(fnd_port, FND, port, cmp_i64)
CMP_FIELD(fnd_type, FND, type, cmp_str)
CMP_FIELD(fnd_title, FND, title, cmp_str)
CMP_FIELD(fnd_first, FND, first_seen, cmp_i64)
CMP_FIELD(fnd_last, FND, last_seen, cmp_i64)

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
CMP_FIELD(job_id, JOB, id, cmp_i64)
CMP_FIELD(job_kind, JOB, kind, cmp_str)
CMP_FIELD(job_status, JOB, status, cmp_str)
CMP_FIELD(job_started, JOB, started_at, cmp_i64)
CMP_FIELD(job_completed, JOB, completed_at, cmp_i64)
CMP_FIELD(job_hosts_up, JOB, hosts_up, cmp_i64)
CMP_FIELD(job_ports_open, JOB, ports_open, cmp_i64)
CMP_FIELD(job_elapsed, JOB, elapsed, cmp_double)

/* The store lists jobs newest first: created_at, then id, descending. */
const struct listing_field listing_job_fields[] = {
    {"created_at", job_created, -1}, {"id", job_id, 0},
    {"kind", job_kind, 0},           {"status", job_status, 0},
    {"started_at", job_started, 0},  {"completed_at", job_completed, 0},
    {"hosts_up", job_hosts_up, 0},   {"ports_open", job_ports_open, 0},
    {"elapsed", job_elapsed, 0},     {NULL, NULL, 0},
};
