/*
 * tags.h - what people say about hosts: the `tag` and `note` use cases.
 * Tags are labels on known hosts (an address or every known host of a
 * CIDR block); notes are dated remarks with their author.  The values are
 * checked by the store (store.h "tags and notes"); reading them is the
 * store's read API (store_tags_each, store_host_tags, store_host_notes).
 */
#ifndef SDB_APP_TAGS_H
#define SDB_APP_TAGS_H

#include <stddef.h>
#include <stdint.h>

#include "store/store.h"

/* Who writes: $SCANDB_AUTHOR when set (NULL and *bad = 1 when it is not a
 * valid author: store_note_text_valid one line), else the user's login
 * name, else NULL.  A static buffer. */
const char *app_author(int *bad);

/* What a tag command changed. */
struct app_tag_result {
	int64_t matched; /* known hosts in the target */
	int64_t changed; /* of those, hosts whose tags changed */
};
/*
 * Add (add != 0) or remove tags[0..n) on the known hosts of `target` (an
 * address or a CIDR block, already valid), in one transaction; at and
 * author: when and by whom.  SDB_ENOTFOUND (store_errmsg says so) when no
 * known host is in the target: nothing changed.
 */
int app_tag(struct store *st, const char *target, int add, const char *const *tags, size_t n,
            int64_t at, const char *author, struct app_tag_result *out);
/* A note on the known host `addr` (canonical); *id: the note's id.
 * SDB_ENOTFOUND for a host the database does not know. */
int app_note_add(struct store *st, const char *addr, const char *text, int64_t at,
                 const char *author, int64_t *id);

#endif
