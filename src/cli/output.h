/*
 * output.h - how the read-side commands (hosts, host, jobs, job) print
 * query results: the JSON objects and CSV rows that are the public output
 * contract (docs/OUTPUT.md), a streaming writer for json/ndjson, and a
 * column-aligned text table that makes hostile bytes harmless.  Prints to
 * the FILE it is given; never chooses exit statuses (the cmd_*.c do).
 */
#ifndef SDB_CLI_OUTPUT_H
#define SDB_CLI_OUTPUT_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include <jansson.h>

#include "cli/cli.h"
#include "core/timeutil.h"
#include "store/store.h"

/* ---- JSON objects (the contract in docs/OUTPUT.md) --------------------- */

/* A job as one JSON object; absent values are JSON null.  New reference
 * owned by the caller (json_decref); NULL on ENOMEM. */
json_t *output_job_json(const struct store_job *j);
/* A host as one JSON object's text (docs/OUTPUT.md; absent values null),
 * then `after`, written as it goes (no object tree: a host of 65,535 ports
 * as one jansson object took ~170 MB).  0, SDB_EIO or SDB_ENOMEM. */
int output_host_json_write(FILE *f, const struct store_host *h, const char *after);
/* The same with the keys of the object `more` (borrowed) after the host's
 * own (`host` adds its tags and notes). */
int output_host_json_write_more(FILE *f, const struct store_host *h, json_t *more,
                                const char *after);

/*
 * Streams objects as a `json` array ("[", objects separated by ",\n",
 * "]\n") or as `ndjson` (one object per line) without holding them; other
 * formats are ignored.  begin/end print nothing for ndjson.  Functions
 * return 0 or SDB_EIO when writing failed.
 */
struct output_stream {
	FILE *f;
	enum cli_format fmt;
	size_t n; /* objects written so far */
};
int output_stream_begin(struct output_stream *s, FILE *f, enum cli_format fmt);
/* Writes and takes `obj` (decref'ed here, also on error; NULL = ENOMEM). */
int output_stream_item(struct output_stream *s, json_t *obj);
/* The host as one item of the stream (output_host_json_write). */
int output_stream_host(struct output_stream *s, const struct store_host *h);
int output_stream_end(struct output_stream *s);

/* One JSON value and a newline; takes `obj` like output_stream_item. */
int output_json_print(FILE *f, json_t *obj);

/* ---- CSV (RFC 4180) ------------------------------------------------------ */

/* One record of n fields: RFC 4180 quoting (a field containing ',', '"',
 * CR or LF is quoted, its quotes doubled), NULL printed empty, values
 * otherwise verbatim.  Records end with "\n" (not CRLF). */
int output_csv_row(FILE *f, const char *const *fields, size_t n);

/* The hosts CSV: header, then one row per (host, port), or one row with
 * empty port columns for a host without ports. */
int output_host_csv_header(FILE *f);
int output_host_csv_rows(FILE *f, const struct store_host *h);
/* The jobs CSV: header, then one row per job (its scalar fields). */
int output_job_csv_header(FILE *f);
int output_job_csv_row(FILE *f, const struct store_job *j);

/* A job's fields as text, named and ordered as in its JSON object: the
 * CSV row, and the `job ID` table.  Absent values are NULL in v[]. */
#define OUTPUT_JOB_NFIELDS 23
extern const char *const output_job_keys[OUTPUT_JOB_NFIELDS];
struct output_job_text {
	const char *v[OUTPUT_JOB_NFIELDS]; /* point into j and the arrays below */
	char id[24], progress[24], up[24], down[24], total[24], open[24], elapsed[32];
	char created[TIME_ISO_LEN], started[TIME_ISO_LEN], completed[TIME_ISO_LEN];
	char timeout[TIME_ISO_LEN];
};
/* Fill t from j; t->v stays valid while j and t live. */
void output_job_text(const struct store_job *j, struct output_job_text *t);

/* ---- text tables ---------------------------------------------------------- */

/*
 * A copy of `s` safe to show on a terminal: every control character
 * (bytes < 0x20 and 0x7f, and the UTF-8 encoded C1 controls U+0080-U+009F)
 * becomes '?'; all other bytes are kept.  If max > 0 and `s` is wider than
 * max columns it is cut to max - 1 columns plus "…".  NULL or "" becomes
 * `dflt`.  malloc'ed (free()); NULL on ENOMEM.
 */
char *output_text(const char *s, size_t max, const char *dflt);
/* Columns `s` takes on a terminal: its UTF-8 code points. */
size_t output_width(const char *s);
/* Append a port's service to b as nmap shows it: "ssl/http" when
 * tunnelled; nothing if none.  0 or an SDB_* code (buf's). */
struct buf;
int output_service_append(struct buf *b, const struct store_port *p);

/*
 * A table: rows are buffered so that column widths fit every row; columns
 * are separated by two spaces and the last one is not padded.  Cells are
 * made safe with output_text().  A row can also be printed without being
 * kept (output_table_stream_row), with the widths the kept rows set.
 */
struct output_table {
	size_t ncols;
	const char *const *headers; /* borrowed, ncols of them */
	size_t *maxw;               /* per column truncation width, 0 = none */
	size_t *widths;
	char **cells; /* nrows * ncols, owned */
	size_t nrows, cap;
};
int output_table_init(struct output_table *t, size_t ncols, const char *const *headers);
/* Truncate cells of column `col` to `max` columns (see output_text). */
void output_table_max(struct output_table *t, size_t col, size_t max);
/* Append a row of ncols cells (NULL or "" shown as "-"). */
int output_table_add(struct output_table *t, const char *const *cells);
int output_table_print(const struct output_table *t, FILE *f);
/* The same, a piece at a time: the header, then row r, so that a caller
 * can print long text between rows without buffering it (`host` streams
 * script output under its port row this way). */
int output_table_print_header(const struct output_table *t, FILE *f);
int output_table_print_row(const struct output_table *t, FILE *f, size_t r);
/* Print a row of ncols cells (made safe as by output_table_add) without
 * keeping it, padded to the current widths; a cell wider than its column
 * is printed whole, followed by the two-space separator.  0, SDB_ENOMEM or
 * SDB_EIO. */
int output_table_stream_row(const struct output_table *t, FILE *f, const char *const *cells);
/* Free the kept rows; the widths they set stay. */
void output_table_drop_rows(struct output_table *t);
void output_table_free(struct output_table *t);

/* ---- listings (hosts, jobs) ---------------------------------------------- */

/*
 * A listing: json/ndjson/csv items are written as they come from the store
 * walk.  A table keeps its first OUTPUT_LIST_SIZE_ROWS rows in `tab` to
 * size the columns; when it has that many it prints the header and them
 * (and flushes, so that `| head -1` sees them at once), then prints every
 * later row as it comes, with those widths: memory does not grow with the
 * number of rows.  A smaller listing is printed whole at the end, as one
 * table.  The walk's callback writes one item for `fmt` (a table row with
 * output_list_row), counts it in `n`, and records its own failure in `err`.
 */
#define OUTPUT_LIST_SIZE_ROWS 256
struct output_list {
	enum cli_format fmt;
	struct output_stream js;
	struct output_table tab;
	size_t n;
	int err;
	int streaming; /* the first rows are printed; rows are no longer kept */
};
/* Make the table (ncols columns named by cols) and print what precedes the
 * items: "[" for json, the header for csv (csv_header).  Returns 0 or an
 * SDB_* code kept in l->err; either way finish with output_list_end(). */
int output_list_begin(struct output_list *l, enum cli_format fmt, size_t ncols,
                      const char *const *cols, int (*csv_header)(FILE *f));
/* Add (or, once streaming, print) a table row of the list's ncols cells.
 * 0 or an SDB_* code. */
int output_list_row(struct output_list *l, const char *const *cells);
/*
 * After the store walk returned `r`: report a failure (the callback's own,
 * or the store's), else print the table's rows not printed yet, or "no
 * NOUNs match" on stderr if it is empty, or close the json array.  Frees
 * the list.  Returns CLI_OK or CLI_FAIL.
 */
int output_list_end(struct cli *c, struct output_list *l, int r, const char *noun);

/* ---- shared by the read commands ----------------------------------------- */

/* Report our own failure `err` (SDB_*) as "scandb: WHAT: reason", except a
 * write error, which main() reports when it checks stdout.  Returns
 * CLI_FAIL. */
int output_err(const char *what, int err);
/* Print "scandb: WHAT: <store detail>" for a failed store call; returns
 * CLI_FAIL. */
int output_store_err(struct cli *c, const char *what, int err);
/* Fetch job `id` into *out (store_job_free()), or with out == NULL only
 * check that it exists; prints "no job N in the database" or the store
 * error and returns CLI_FAIL, else CLI_OK. */
int output_find_job(struct cli *c, int64_t id, struct store_job **out);

#endif
