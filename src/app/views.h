/*
 * views.h - the JSON objects of what the read side shows: a host, a job,
 * a change event, a finding (docs/OUTPUT.md), built once for both front
 * doors (the CLI's json/ndjson output and the HTTP API); and the reader's
 * view of a running job the reaper would fail.  Nothing here prints.
 */
#ifndef SDB_APP_VIEWS_H
#define SDB_APP_VIEWS_H

#include <stdint.h>

#include <jansson.h>

#include "store/store.h"

/* Each returns a new reference owned by the caller (json_decref), or NULL
 * on ENOMEM.  Absent values are JSON null; text that is not valid UTF-8 has
 * its bad bytes replaced by U+FFFD. */
json_t *view_host_json(const struct store_host *h);
json_t *view_job_json(const struct store_job *j);
json_t *view_event_json(const struct store_event *e);
json_t *view_finding_json(const struct store_finding *f);
/* A host's tag {"tag", "added", "author"} and note {"id", "at", "author",
 * "text"}; and both lists added to obj as "tags" and "notes" (what `host
 * --format json` and GET /api/v1/hosts/{addr} show besides the host). */
json_t *view_host_tag_json(const char *tag, int64_t at, const char *author);
json_t *view_host_note_json(const struct store_note *n);
int view_host_says_add(struct store *st, int64_t host_id, json_t *obj);
/* store_stats as `scandb stats --format json` prints it: tables, indexes,
 * sizes, jobs by status, the oldest and newest job. */
json_t *view_stats_json(const struct store_stats *s);
/* An API token: id, name, scope and its times; never its salt or hash. */
json_t *view_token_json(const struct store_token *t);

/* A running job the reaper would fail at `now` is shown as it will be
 * recorded: status failed, with the reaper's error (nothing is written:
 * invariant 13).  0 or SDB_ENOMEM. */
int view_job_as_reaped(struct store_job *j, int64_t now);

#endif
