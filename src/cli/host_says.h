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

/* The JSON objects of tags and notes: app/views.h (view_host_tag_json,
 * view_host_note_json, view_host_says_add). */
/* The lines `host` prints: "Tags:" and, under "Notes:", each note's
 * header and its text a line at a time, made safe (output_text). */
int host_says_print(struct store *st, int64_t host_id, FILE *f);

#endif
