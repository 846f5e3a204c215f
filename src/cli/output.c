/*
 * output.c - the output formatters of the read commands (see output.h):
 * host and job JSON objects, their CSV rows, the json/ndjson stream, and
 * terminal-safe aligned tables.  The field names here are a public contract
 * documented in docs/OUTPUT.md; change both together or not at all.
 * Not here: what to query (cmd_hosts.c, cmd_jobs.c).
 */
#include "cli/output.h"

#include <inttypes.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "core/buf.h"
#include "core/error.h"
#include "core/timeutil.h"
#include "core/utf8.h"
#include "core/vec.h"

/* Compact objects; 15 significant digits print 122.97 as 122.97. */
#define OUTPUT_JSON_FLAGS (JSON_COMPACT | JSON_REAL_PRECISION(15))
/* Cap on one formatted text value (a cell, a joined list). */
#define OUTPUT_TEXT_MAX (64u << 20)

/*
 * JSON text goes out through a 64 KiB buffer: not json_dumps() (the whole
 * text in memory: a host's object may hold megabytes of script output),
 * not json_dumpf() (one fwrite() per token: several times slower).
 */
struct dumpbuf {
	FILE *f;
	size_t n;
	int skip; /* drop the next byte (an object's "{") */
	int err;  /* the text writer below: the first failure */
	char b[64 * 1024];
};

static int dump_flush(struct dumpbuf *d)
{
	int r = d->n && fwrite(d->b, 1, d->n, d->f) != d->n ? -1 : 0;

	d->n = 0;
	return r;
}

static int dump_cb(const char *buf, size_t size, void *data)
{
	struct dumpbuf *d = data;

	if (d->skip && size > 0) {
		d->skip = 0;
		buf++;
		size--;
	}
	if (size > sizeof(d->b) - d->n) {
		if (dump_flush(d) != 0)
			return -1;
		if (size >= sizeof(d->b))
			return fwrite(buf, 1, size, d->f) == size ? 0 : -1;
	}
	memcpy(d->b + d->n, buf, size);
	d->n += size;
	return 0;
}

/* Write obj's JSON text, without an object's opening brace (trim & 1)
 * and/or its closing one (trim & 2), to join objects by hand. */
static int dump_json(struct dumpbuf *d, const json_t *obj, int trim)
{
	d->skip = trim & 1;
	if (json_dump_callback(obj, dump_cb, d, OUTPUT_JSON_FLAGS) != 0)
		return SDB_EIO;
	/* jansson writes the closing "}" last, on its own: still buffered */
	if ((trim & 2) && (d->n == 0 || d->b[d->n - 1] != '}'))
		return SDB_EUSAGE;
	if (trim & 2)
		d->n--;
	return 0;
}

/* Print obj then `after`, and release obj. */
static int put_json(FILE *f, json_t *obj, const char *after)
{
	struct dumpbuf *d;
	int r;

	if (!obj)
		return SDB_ENOMEM;
	if (!(d = malloc(sizeof(*d)))) {
		json_decref(obj);
		return SDB_ENOMEM;
	}
	*d = (struct dumpbuf){.f = f};
	r = dump_json(d, obj, 0);
	json_decref(obj);
	if (r == 0 && (dump_flush(d) != 0 || fputs(after, f) == EOF))
		r = SDB_EIO;
	free(d);
	return r;
}

int output_host_json_write(FILE *f, const struct store_host *h, const char *after)
{
	return output_host_json_write_more(f, h, NULL, after);
}

/*
 * A host written straight as JSON text, byte for byte what jansson made of
 * its object tree (compact, keys in the order of docs/OUTPUT.md, strings as
 * jstr() makes them; tests/e2e/test_query_output.py checks the bytes):
 * no object per port to build, dump and free.
 * Failures stick in d->err; the text already written is not taken back.
 */
static void put(struct dumpbuf *d, const char *s, size_t n)
{
	if (d->err == 0 && dump_cb(s, n, d) != 0)
		d->err = SDB_EIO;
}

static void put_s(struct dumpbuf *d, const char *s)
{
	put(d, s, strlen(s));
}

/* A JSON string as jansson dumps it: '"', '\\' and the control characters
 * escaped (\b \f \n \r \t, else \u00XX), everything else as is; a byte
 * that does not start a valid UTF-8 sequence becomes U+FFFD, as in jstr(). */
static void put_jstr(struct dumpbuf *d, const char *s)
{
	const unsigned char *u = (const unsigned char *)s;
	size_t run = 0, i = 0;

	if (!s) {
		put(d, "null", 4);
		return;
	}
	put(d, "\"", 1);
	while (u[i]) {
		unsigned char c = u[i];
		const char *esc = NULL;
		char hex[8];
		size_t n = 1;

		if (c >= 0x20 && c != '"' && c != '\\' && c < 0x80) {
			i++;
			continue;
		}
		if (c >= 0x80) {
			if ((n = utf8_seq_len(u + i)) != 0) {
				i += n;
				continue;
			}
			esc = "\xef\xbf\xbd", n = 1;
		} else if (c == '"' || c == '\\') {
			esc = c == '"' ? "\\\"" : "\\\\";
		} else {
			esc = c == '\b'   ? "\\b"
			      : c == '\f' ? "\\f"
			      : c == '\n' ? "\\n"
			      : c == '\r' ? "\\r"
			      : c == '\t' ? "\\t"
			                  : (snprintf(hex, sizeof(hex), "\\u%04X", c), hex);
		}
		put(d, s + run, i - run);
		put_s(d, esc);
		i += n;
		run = i;
	}
	put(d, s + run, i - run);
	put(d, "\"", 1);
}

/* key (with its separator: ",\"k\":") then the value. */
static void put_str(struct dumpbuf *d, const char *key, const char *v)
{
	put_s(d, key);
	put_jstr(d, v);
}

static void put_int(struct dumpbuf *d, const char *key, long long v)
{
	char num[32];

	put_s(d, key);
	put(d, num, (size_t)snprintf(num, sizeof(num), "%lld", v));
}

/* jint(): < 0 is null */
static void put_opt(struct dumpbuf *d, const char *key, long long v)
{
	if (v < 0) {
		put_s(d, key);
		put(d, "null", 4);
	} else {
		put_int(d, key, v);
	}
}

/* jtime(): 0 is null */
static void put_time(struct dumpbuf *d, const char *key, int64_t t)
{
	char iso[TIME_ISO_LEN];

	time_format_iso(t, iso);
	put_str(d, key, iso[0] ? iso : NULL);
}

static void put_strings(struct dumpbuf *d, const char *key, char *const *v, size_t n)
{
	put_s(d, key);
	put(d, "[", 1);
	for (size_t i = 0; i < n; i++) {
		if (i > 0)
			put(d, ",", 1);
		put_jstr(d, v[i]);
	}
	put(d, "]", 1);
}

static void put_scripts(struct dumpbuf *d, const char *key, const struct store_script *s, size_t n)
{
	put_s(d, key);
	put(d, "[", 1);
	for (size_t i = 0; i < n; i++) {
		put_str(d, i > 0 ? ",{\"id\":" : "{\"id\":", s[i].id);
		put_str(d, ",\"output\":", s[i].output);
		put(d, "}", 1);
	}
	put(d, "]", 1);
}

/* A port's object (the keys of docs/OUTPUT.md) */
static void put_port(struct dumpbuf *d, const struct store_port *p)
{
	put_str(d, "{\"protocol\":", p->protocol);
	put_int(d, ",\"port\":", p->port);
	put_str(d, ",\"state\":", p->state);
	put_str(d, ",\"reason\":", p->reason);
	put_opt(d, ",\"reason_ttl\":", p->reason_ttl);
	put_str(d, ",\"service\":", p->service);
	put_str(d, ",\"product\":", p->product);
	put_str(d, ",\"version\":", p->version);
	put_str(d, ",\"extrainfo\":", p->extrainfo);
	put_str(d, ",\"ostype\":", p->ostype);
	put_str(d, ",\"method\":", p->method);
	put_opt(d, ",\"conf\":", p->conf);
	put_str(d, ",\"tunnel\":", p->tunnel);
	put_strings(d, ",\"cpe\":", p->cpes, p->ncpes);
	put_scripts(d, ",\"scripts\":", p->scripts, p->nscripts);
	put_time(d, ",\"first_seen\":", p->first_seen);
	put_time(d, ",\"last_seen\":", p->last_seen);
	put_time(d, ",\"closed_at\":", p->closed_at);
	put_opt(d, ",\"state_job_id\":", p->state_job_id ? p->state_job_id : -1);
	put(d, "}", 1);
}

/* The host's keys before "ports", without the braces */
static void put_host_head(struct dumpbuf *d, const struct store_host *h)
{
	put_str(d, "\"addr\":", h->addr);
	put_int(d, ",\"family\":", h->family);
	put_str(d, ",\"status\":", h->status);
	put_str(d, ",\"reason\":", h->reason);
	put_strings(d, ",\"hostnames\":", h->hostnames, h->nhostnames);
	put_str(d, ",\"mac\":", h->mac);
	put_str(d, ",\"mac_vendor\":", h->mac_vendor);
	put_str(d, ",\"os\":", h->os);
	put_opt(d, ",\"os_accuracy\":", h->os_accuracy);
	put_str(d, ",\"os_family\":", h->os_family);
	put_str(d, ",\"os_vendor\":", h->os_vendor);
	put_str(d, ",\"os_gen\":", h->os_gen);
	put_str(d, ",\"os_type\":", h->os_type);
	put_str(d, ",\"os_cpe\":", h->os_cpe);
	put_opt(d, ",\"uptime\":", h->uptime);
	put_str(d, ",\"lastboot\":", h->lastboot);
	put_opt(d, ",\"distance\":", h->distance);
	put_time(d, ",\"first_seen\":", h->first_seen);
	put_time(d, ",\"last_seen\":", h->last_seen);
	put_int(d, ",\"job_id\":", h->job_id);
	put_time(d, ",\"scanned_at\":", h->scanned_at);
}

/* ... and after them */
static void put_host_tail(struct dumpbuf *d, const struct store_host *h)
{
	put_s(d, ",\"extraports\":[");
	for (size_t i = 0; i < h->nextraports; i++) {
		put_str(d, i > 0 ? ",{\"state\":" : "{\"state\":", h->extraports[i].state);
		put_int(d, ",\"count\":", h->extraports[i].count);
		put_str(d, ",\"reasons\":", h->extraports[i].reasons);
		put(d, "}", 1);
	}
	put(d, "]", 1);
	put_scripts(d, ",\"scripts\":", h->scripts, h->nscripts);
}

int output_host_json_write_more(FILE *f, const struct store_host *h, json_t *more,
                                const char *after)
{
	struct dumpbuf *d = malloc(sizeof(*d));
	int r;

	if (!d)
		return SDB_ENOMEM;
	*d = (struct dumpbuf){.f = f};
	/* {HEAD,"ports":[PORT,PORT],TAIL[,MORE]}: more's keys (new ones)
	 * after the host's own */
	put(d, "{", 1);
	put_host_head(d, h);
	put_s(d, ",\"ports\":[");
	for (size_t i = 0; i < h->nports && d->err == 0; i++) {
		if (i > 0)
			put(d, ",", 1);
		put_port(d, &h->ports[i]);
	}
	put(d, "]", 1);
	put_host_tail(d, h);
	if (more && json_object_size(more) > 0) {
		put(d, ",", 1);
		if (d->err == 0)
			d->err = dump_json(d, more, 1);
	} else {
		put(d, "}", 1);
	}
	r = d->err;
	if (r == 0 && (dump_flush(d) != 0 || fputs(after, f) == EOF))
		r = SDB_EIO;
	free(d);
	return r;
}

int output_json_print(FILE *f, json_t *obj)
{
	return put_json(f, obj, "\n");
}

int output_stream_begin(struct output_stream *s, FILE *f, enum cli_format fmt)
{
	s->f = f;
	s->fmt = fmt;
	s->n = 0;
	if (fmt == CLI_FMT_JSON && fputc('[', f) == EOF)
		return SDB_EIO;
	return 0;
}

int output_stream_item(struct output_stream *s, json_t *obj)
{
	const char *sep = s->n > 0 ? ",\n" : "";

	switch (s->fmt) {
	case CLI_FMT_NDJSON:
		s->n++;
		return put_json(s->f, obj, "\n");
	case CLI_FMT_JSON:
		if (obj && fputs(sep, s->f) == EOF) {
			json_decref(obj);
			return SDB_EIO;
		}
		s->n++;
		return put_json(s->f, obj, "");
	default:
		json_decref(obj);
		return 0;
	}
}

int output_stream_host(struct output_stream *s, const struct store_host *h)
{
	switch (s->fmt) {
	case CLI_FMT_NDJSON:
		s->n++;
		return output_host_json_write(s->f, h, "\n");
	case CLI_FMT_JSON:
		if (fputs(s->n > 0 ? ",\n" : "", s->f) == EOF)
			return SDB_EIO;
		s->n++;
		return output_host_json_write(s->f, h, "");
	default:
		return 0;
	}
}

int output_stream_end(struct output_stream *s)
{
	if (s->fmt == CLI_FMT_JSON && fputs("]\n", s->f) == EOF)
		return SDB_EIO;
	return 0;
}

/* ---- CSV ------------------------------------------------------------------ */

int output_csv_row(FILE *f, const char *const *fields, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		const char *v = fields[i];

		if (i > 0)
			fputc(',', f);
		if (!v)
			continue;
		if (!strpbrk(v, ",\"\r\n")) {
			fputs(v, f);
			continue;
		}
		fputc('"', f);
		for (; *v; v++) {
			if (*v == '"')
				fputc('"', f);
			fputc(*v, f);
		}
		fputc('"', f);
	}
	fputc('\n', f);
	return ferror(f) ? SDB_EIO : 0;
}

static const char *const host_csv_cols[] = {
    "addr",   "status",   "hostnames", "mac",   "os",      "first_seen", "last_seen",
    "job_id", "protocol", "port",      "state", "service", "product",    "version",
};
#define HOST_CSV_NCOLS (sizeof(host_csv_cols) / sizeof(host_csv_cols[0]))

int output_host_csv_header(FILE *f)
{
	return output_csv_row(f, host_csv_cols, HOST_CSV_NCOLS);
}

int output_host_csv_rows(FILE *f, const struct store_host *h)
{
	char first[TIME_ISO_LEN], last[TIME_ISO_LEN], job[24], port[8];
	const char *v[HOST_CSV_NCOLS];
	struct buf names;
	size_t i = 0;
	int r = 0;

	buf_init(&names, OUTPUT_TEXT_MAX);
	for (size_t k = 0; k < h->nhostnames && r == 0; k++)
		r = buf_printf(&names, "%s%s", k ? ";" : "", h->hostnames[k]);
	if (r != 0)
		goto out;
	time_format_iso(h->first_seen, first);
	time_format_iso(h->last_seen, last);
	snprintf(job, sizeof(job), "%" PRId64, h->job_id);
	v[0] = h->addr;
	v[1] = h->status;
	v[2] = buf_str(&names);
	v[3] = h->mac;
	v[4] = h->os;
	v[5] = first;
	v[6] = last;
	v[7] = job;
	do {
		const struct store_port *p = i < h->nports ? &h->ports[i] : NULL;

		if (p)
			snprintf(port, sizeof(port), "%d", p->port);
		v[8] = p ? p->protocol : NULL;
		v[9] = p ? port : NULL;
		v[10] = p ? p->state : NULL;
		v[11] = p ? p->service : NULL;
		v[12] = p ? p->product : NULL;
		v[13] = p ? p->version : NULL;
		r = output_csv_row(f, v, HOST_CSV_NCOLS);
	} while (r == 0 && ++i < h->nports);
out:
	buf_free(&names);
	return r;
}

const char *const output_job_keys[OUTPUT_JOB_NFIELDS] = {
    "id",           "kind",       "source",          "status",
    "args",         "scanner",    "scanner_version", "progress",
    "worker_id",    "created_at", "started_at",      "completed_at",
    "timeout_at",   "error",      "content_hash",    "forced",
    "probed_scope", "hosts_up",   "hosts_down",      "hosts_total",
    "ports_open",   "elapsed",    "partial",
};

int output_job_csv_header(FILE *f)
{
	return output_csv_row(f, output_job_keys, OUTPUT_JOB_NFIELDS);
}

/* An optional count (< 0 = absent) as text into out[24], or NULL. */
static const char *opt_count(long v, char out[24])
{
	if (v < 0)
		return NULL;
	snprintf(out, 24, "%ld", v);
	return out;
}

void output_job_text(const struct store_job *j, struct output_job_text *t)
{
	const char **v = t->v;

	snprintf(t->id, sizeof(t->id), "%" PRId64, j->id);
	snprintf(t->progress, sizeof(t->progress), "%d", j->progress);
	snprintf(t->elapsed, sizeof(t->elapsed), "%.15g", j->elapsed);
	time_format_iso(j->created_at, t->created);
	time_format_iso(j->started_at, t->started);
	time_format_iso(j->completed_at, t->completed);
	time_format_iso(j->timeout_at, t->timeout);
	v[0] = t->id;
	v[1] = j->kind;
	v[2] = j->source;
	v[3] = j->status;
	v[4] = j->args;
	v[5] = j->scanner;
	v[6] = j->scanner_version;
	v[7] = t->progress;
	v[8] = j->worker_id;
	v[9] = t->created[0] ? t->created : NULL;
	v[10] = t->started[0] ? t->started : NULL;
	v[11] = t->completed[0] ? t->completed : NULL;
	v[12] = t->timeout[0] ? t->timeout : NULL;
	v[13] = j->error;
	v[14] = j->content_hash;
	v[15] = j->forced ? "true" : "false";
	v[16] = j->probed_scope;
	v[17] = opt_count(j->hosts_up, t->up);
	v[18] = opt_count(j->hosts_down, t->down);
	v[19] = opt_count(j->hosts_total, t->total);
	v[20] = opt_count(j->ports_open, t->open);
	v[21] = j->elapsed >= 0 ? t->elapsed : NULL;
	v[22] = j->partial ? "true" : "false";
}

int output_job_csv_row(FILE *f, const struct store_job *j)
{
	struct output_job_text t;

	output_job_text(j, &t);
	return output_csv_row(f, t.v, OUTPUT_JOB_NFIELDS);
}

/* ---- text tables ------------------------------------------------------------ */

size_t output_width(const char *s)
{
	size_t w = 0;

	for (; s && *s; s++)
		w += ((unsigned char)*s & 0xc0) != 0x80;
	return w;
}

int output_service_append(struct buf *b, const struct store_port *p)
{
	if (!p->service || !*p->service)
		return 0;
	if (p->tunnel && *p->tunnel)
		return buf_printf(b, "%s/%s", p->tunnel, p->service);
	return buf_append_str(b, p->service);
}

char *output_text(const char *s, size_t max, const char *dflt)
{
	const unsigned char *p;
	size_t n = 0, w = 0;
	char *out;

	if (!s || !*s)
		s = dflt ? dflt : "";
	/* The copy is never longer than s, plus "…" (3 bytes) and the NUL. */
	if (!(out = malloc(strlen(s) + 4)))
		return NULL;
	for (p = (const unsigned char *)s; *p; p++) {
		unsigned c = *p;

		if ((c & 0xc0) != 0x80 && max > 0 && ++w == max &&
		    output_width((const char *)p) > 1) {
			memcpy(out + n, "\xe2\x80\xa6", 3);
			n += 3;
			break;
		}
		if (c == 0xc2 && p[1] >= 0x80 && p[1] <= 0x9f) {
			out[n++] = '?'; /* a C1 control, U+0080-U+009F */
			p++;
		} else {
			out[n++] = c < 0x20 || c == 0x7f ? '?' : (char)c;
		}
	}
	out[n] = '\0';
	return out;
}

int output_table_init(struct output_table *t, size_t ncols, const char *const *headers)
{
	memset(t, 0, sizeof(*t));
	t->ncols = ncols;
	t->headers = headers;
	t->maxw = calloc(ncols, sizeof(*t->maxw));
	t->widths = calloc(ncols, sizeof(*t->widths));
	if (!t->maxw || !t->widths) {
		output_table_free(t);
		return SDB_ENOMEM;
	}
	for (size_t i = 0; i < ncols; i++)
		t->widths[i] = output_width(headers[i]);
	return 0;
}

void output_table_max(struct output_table *t, size_t col, size_t max)
{
	if (col < t->ncols)
		t->maxw[col] = max;
}

/* row[ncols] = the cells made safe (output_text, each column's max width):
 * 0, or SDB_ENOMEM with nothing left allocated. */
static int row_cells(const struct output_table *t, const char *const *cells, char **row)
{
	for (size_t i = 0; i < t->ncols; i++) {
		if (!(row[i] = output_text(cells[i], t->maxw[i], "-"))) {
			while (i-- > 0)
				free(row[i]);
			return SDB_ENOMEM;
		}
	}
	return 0;
}

int output_table_add(struct output_table *t, const char *const *cells)
{
	char **row;

	/* a row is ncols cells: the element is the row */
	if (vec_reserve(&t->cells, &t->cap, t->nrows + 1, t->ncols * sizeof(char *), 16) != 0)
		return SDB_ENOMEM;
	row = t->cells + t->nrows * t->ncols;
	if (row_cells(t, cells, row) != 0)
		return SDB_ENOMEM;
	for (size_t i = 0; i < t->ncols; i++) {
		size_t w = output_width(row[i]);

		if (w > t->widths[i])
			t->widths[i] = w;
	}
	t->nrows++;
	return 0;
}

/* Cells padded to their column's width plus two spaces; a cell wider than
 * its column (a streamed row) is followed by the two spaces alone. */
static void print_row(const struct output_table *t, FILE *f, const char *const *cells)
{
	for (size_t i = 0; i < t->ncols; i++) {
		size_t w = output_width(cells[i]);
		size_t end = (w > t->widths[i] ? w : t->widths[i]) + 2;

		fputs(cells[i], f);
		if (i + 1 == t->ncols)
			break;
		for (; w < end; w++)
			fputc(' ', f);
	}
	fputc('\n', f);
}

int output_table_print_header(const struct output_table *t, FILE *f)
{
	print_row(t, f, t->headers);
	return ferror(f) ? SDB_EIO : 0;
}

int output_table_print_row(const struct output_table *t, FILE *f, size_t r)
{
	if (r >= t->nrows)
		return SDB_EUSAGE;
	print_row(t, f, (const char *const *)(t->cells + r * t->ncols));
	return ferror(f) ? SDB_EIO : 0;
}

int output_table_stream_row(const struct output_table *t, FILE *f, const char *const *cells)
{
	char **row = calloc(t->ncols ? t->ncols : 1, sizeof(*row));
	int r = SDB_ENOMEM;

	if (row && row_cells(t, cells, row) == 0) {
		print_row(t, f, (const char *const *)row);
		r = ferror(f) ? SDB_EIO : 0;
		for (size_t i = 0; i < t->ncols; i++)
			free(row[i]);
	}
	free(row);
	return r;
}

int output_table_print(const struct output_table *t, FILE *f)
{
	int e = output_table_print_header(t, f);

	for (size_t r = 0; r < t->nrows && e == 0; r++)
		e = output_table_print_row(t, f, r);
	return e;
}

void output_table_drop_rows(struct output_table *t)
{
	for (size_t i = 0; i < t->nrows * t->ncols; i++)
		free(t->cells[i]);
	free(t->cells);
	t->cells = NULL;
	t->nrows = t->cap = 0;
}

void output_table_free(struct output_table *t)
{
	output_table_drop_rows(t);
	free(t->maxw);
	free(t->widths);
	memset(t, 0, sizeof(*t));
}

/* ---- listings ------------------------------------------------------------- */

int output_list_begin(struct output_list *l, enum cli_format fmt, size_t ncols,
                      const char *const *cols, int (*csv_header)(FILE *f))
{
	int r;

	memset(l, 0, sizeof(*l));
	l->fmt = fmt;
	if ((r = output_table_init(&l->tab, ncols, cols)) == 0)
		r = fmt == CLI_FMT_CSV ? csv_header(stdout)
		                       : output_stream_begin(&l->js, stdout, fmt);
	l->err = r;
	return r;
}

int output_list_row(struct output_list *l, const char *const *cells)
{
	int r;

	if (l->streaming)
		return output_table_stream_row(&l->tab, stdout, cells);
	if ((r = output_table_add(&l->tab, cells)) != 0 || l->tab.nrows < OUTPUT_LIST_SIZE_ROWS)
		return r;
	/* the widths are set: print what we have, at once, and keep nothing */
	r = output_table_print(&l->tab, stdout);
	output_table_drop_rows(&l->tab);
	l->streaming = 1;
	if (r == 0 && fflush(stdout) != 0)
		r = SDB_EIO;
	return r;
}

int output_list_end(struct cli *c, struct output_list *l, int r, const char *noun)
{
	if (r != 0) {
		if (l->err)
			r = output_err("cannot list", l->err);
		else
			r = output_store_err(c, "cannot read the database", r);
		goto out;
	}
	if (l->fmt != CLI_FMT_TABLE)
		r = output_stream_end(&l->js);
	else if (l->n == 0) {
		if (!c->quiet) /* -q: an empty answer is no output at all */
			fprintf(stderr, "no %ss match\n", noun);
	} else if (!l->streaming)
		r = output_table_print(&l->tab, stdout);
	r = r ? output_err("cannot list", r) : CLI_OK;
out:
	output_table_free(&l->tab);
	return r;
}

/* ---- shared by the read commands -------------------------------------------- */

int output_err(const char *what, int err)
{
	if (err != SDB_EIO)
		cli_err("%s: %s", what, sdb_strerror(err));
	return CLI_FAIL;
}

int output_store_err(struct cli *c, const char *what, int err)
{
	const char *msg = c->st ? store_errmsg(c->st) : NULL;

	if (err == SDB_ENOMEM || !msg || !*msg)
		msg = sdb_strerror(err);
	cli_err("%s: %s", what, msg);
	return CLI_FAIL;
}

int output_find_job(struct cli *c, int64_t id, struct store_job **out)
{
	struct store_job *j = NULL;
	int r = store_job_get(c->st, id, &j);

	if (r == SDB_ENOTFOUND) {
		cli_err("no job %" PRId64 " in the database", id);
		return CLI_FAIL;
	}
	if (r != 0)
		return output_store_err(c, "cannot read jobs", r);
	if (out)
		*out = j;
	else
		store_job_free(j);
	return CLI_OK;
}
