/*
 * host_says.h - what people say about a host (its tags and notes) as the
 * CLI shows it: the JSON objects (docs/OUTPUT.md) and the lines `host`
 * prints, shared by `host`, `tags ADDR` and `note ADDR`.
 */
#ifndef SDB_CLI_HOST_SAYS_H
#define SDB_CLI_HOST_SAYS_H

#include <stdint.h>
#include <stdio.h>

#include <jansson.h>

#include "store/store.h"

/* {"tag", "added", "author"} and {"id", "at", "author", "text"}; new
 * references, NULL on ENOMEM. */
json_t *host_tag_json(const char *tag, int64_t at, const char *author);
json_t *host_note_json(const struct store_note *n);
/* Add "tags" and "notes" (arrays of those) of host host_id to obj. */
int host_says_add_json(struct store *st, int64_t host_id, json_t *obj);
/* The lines `host` prints: "Tags:" and, under "Notes:", each note's
 * header and its text a line at a time, made safe (output_text). */
int host_says_print(struct store *st, int64_t host_id, FILE *f);

#endif
