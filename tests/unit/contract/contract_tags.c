/*
 * contract_tags.c - the storage contract of what people say about hosts
 * (store.h "tags and notes") and of `job rm` (store.h "job rm", through
 * app/job_rm.c): tags on the known hosts of a range, counted; the values
 * refused the same way on both backends; notes added, listed, removed;
 * a removed job's hosts folded again from their other scans, and the
 * hosts only it saw gone with their tags and notes.
 */
#include "contract.h"

#include <string.h>

#include "app/job_rm.h"

/* Three hosts 10.0.0.1, 10.0.0.2, 10.0.1.1 scanned once at `start`. */
static int64_t three_hosts(struct store *st, int64_t start, const char *source)
{
	struct rec_host hs[3] = {host_rec("10.0.0.1", REC_HOST_UP, start),
	                         host_rec("10.0.0.2", REC_HOST_UP, start),
	                         host_rec("10.0.1.1", REC_HOST_UP, start)};
	struct job_spec js = {.source = source, .start = start, .hosts = hs, .nhosts = 3};
	int64_t id = 0;

	assert_ok(st, write_job(st, &js, &id, NULL));
	return id;
}

static int collect_changed(void *ctx, int64_t host_id)
{
	(void)host_id;
	++*(int *)ctx;
	return 0;
}

struct tag_text {
	char s[256];
};

static int tag_line(void *ctx, const char *tag, int64_t hosts)
{
	struct tag_text *t = ctx;
	size_t n = strlen(t->s);

	snprintf(t->s + n, sizeof(t->s) - n, "%s%s=%lld", n ? "," : "", tag, (long long)hosts);
	return 0;
}

static int host_tag_line(void *ctx, const char *tag, int64_t at, const char *author)
{
	struct tag_text *t = ctx;
	size_t n = strlen(t->s);

	snprintf(t->s + n, sizeof(t->s) - n, "%s%s@%lld/%s", n ? "," : "", tag, (long long)at,
	         author ? author : "-");
	return 0;
}

static void tag_range(struct store *st, const char *cidr, const char *tag, int add,
                      int64_t want_matched, int want_changed)
{
	unsigned char lo[16], hi[16];
	int64_t matched = -1;
	int changed = 0;

	assert_int_equal(addr_cidr_parse(cidr, lo, hi), 0);
	assert_ok(st, store_tag_set(st, lo, hi, tag, add, 5000, "o'brien", &matched,
	                            collect_changed, &changed));
	assert_int_equal(matched, want_matched);
	assert_int_equal(changed, want_changed);
}

static void test_tags_on_ranges(void **state)
{
	struct fixture *fx = *state;
	struct store *st = fx->st;
	struct tag_text t = {""};
	unsigned char lo[16], hi[16];
	int64_t id = 0, matched = 0;

	three_hosts(st, 1000, "t.xml");
	tag_range(st, "10.0.0.0/24", "web", 1, 2, 2);
	tag_range(st, "10.0.0.0/24", "web", 1, 2, 0); /* again: no change */
	tag_range(st, "10.0.0.0/8", "web", 1, 3, 1);
	tag_range(st, "10.0.0.2", "a:b.c-d_e", 1, 1, 1);
	tag_range(st, "10.0.0.0/24", "web", 0, 2, 2);
	tag_range(st, "10.0.0.0/24", "nosuch", 0, 2, 0);
	tag_range(st, "192.168.0.0/16", "web", 1, 0, 0);
	assert_ok(st, store_tags_each(st, tag_line, &t));
	assert_string_equal(t.s, "a:b.c-d_e=1,web=1");
	assert_ok(st, store_host_id(st, "10.0.0.2", &id));
	t.s[0] = 0;
	assert_ok(st, store_host_tags(st, id, host_tag_line, &t));
	assert_string_equal(t.s, "a:b.c-d_e@5000/o'brien");
	/* refused values change nothing, on both backends alike */
	assert_int_equal(addr_cidr_parse("10.0.0.0/8", lo, hi), 0);
	assert_rc(st, store_tag_set(st, lo, hi, "bad tag", 1, 1, NULL, &matched, NULL, NULL),
	          SDB_ERANGE);
	assert_rc(st, store_tag_set(st, lo, hi, "x';--", 1, 1, NULL, &matched, NULL, NULL),
	          SDB_ERANGE);
	assert_rc(st, store_tag_set(st, lo, hi, "", 1, 1, NULL, &matched, NULL, NULL), SDB_ERANGE);
	assert_rc(st, store_tag_set(st, lo, hi, "x", 1, 1, "two\nlines", &matched, NULL, NULL),
	          SDB_ERANGE);
	t.s[0] = 0;
	assert_ok(st, store_tags_each(st, tag_line, &t));
	assert_string_equal(t.s, "a:b.c-d_e=1,web=1");
	assert_rc(st, store_host_id(st, "10.9.9.9", &id), SDB_ENOTFOUND);
}

struct note_list {
	char s[512];
	int64_t first;
};

static int note_line(void *ctx, const struct store_note *n)
{
	struct note_list *l = ctx;
	size_t len = strlen(l->s);

	if (!l->first)
		l->first = n->id;
	snprintf(l->s + len, sizeof(l->s) - len, "%s[%lld %s] %s", len ? "|" : "", (long long)n->at,
	         n->author ? n->author : "-", n->text);
	return 0;
}

static void test_notes(void **state)
{
	struct fixture *fx = *state;
	struct store *st = fx->st;
	struct note_list l = {"", 0};
	int64_t host = 0, id = 0;

	three_hosts(st, 1000, "n.xml");
	assert_ok(st, store_host_id(st, "10.0.0.1", &host));
	assert_ok(st, store_note_add(st, host, 2000, "alice", "it's; DROP TABLE hosts;--", &id));
	assert_ok(st, store_note_add(st, host, 1500, NULL, "older\n\tindented", &id));
	assert_rc(st, store_note_add(st, host, 1, NULL, "bell\a", &id), SDB_ERANGE);
	assert_rc(st, store_note_add(st, host, 1, NULL, "", &id), SDB_ERANGE);
	assert_rc(st, store_note_add(st, host, 1, NULL, "bad \xff utf-8", &id), SDB_ERANGE);
	assert_ok(st, store_host_notes(st, host, note_line, &l));
	assert_string_equal(l.s,
	                    "[1500 -] older\n\tindented|[2000 alice] it's; DROP TABLE hosts;--");
	assert_ok(st, store_note_rm(st, l.first));
	assert_rc(st, store_note_rm(st, l.first), SDB_ENOTFOUND);
	l.s[0] = 0;
	assert_ok(st, store_host_notes(st, host, note_line, &l));
	assert_string_equal(l.s, "[2000 alice] it's; DROP TABLE hosts;--");
}

/* job rm: the host's fields folded again from the scans that stay; a host
 * only the removed job saw goes, with its tags and notes. */
static void test_job_rm_refolds_and_drops(void **state)
{
	struct fixture *fx = *state;
	struct store *st = fx->st;
	struct rec_host a = host_rec("10.0.0.1", REC_HOST_UP, 1000);
	struct rec_host b[2] = {host_rec("10.0.0.1", REC_HOST_UP, 2000),
	                        host_rec("10.0.0.9", REC_HOST_UP, 2000)};
	struct job_spec ja = {.source = "a.xml", .start = 1000, .hosts = &a, .nhosts = 1};
	struct job_spec jb = {.source = "b.xml", .start = 2000, .hosts = b, .nhosts = 2};
	struct store_job_rm_count n;
	struct store_host *h;
	int64_t ida = 0, idb = 0, only = 0, note = 0;

	a.mac = "00:11:22:33:44:55";
	b[0].mac = "66:77:88:99:AA:BB";
	b[0].has_os = 1;
	b[0].os = (struct rec_os){.name = "Linux 6.X", .accuracy = 90};
	assert_ok(st, write_job(st, &ja, &ida, NULL));
	assert_ok(st, write_job(st, &jb, &idb, NULL));
	tag_range(st, "10.0.0.9", "gone", 1, 1, 1);
	assert_ok(st, store_host_id(st, "10.0.0.9", &only));
	assert_ok(st, store_note_add(st, only, 1, NULL, "goes too", &note));
	h = get_host(st, "10.0.0.1", 0);
	assert_string_equal(h->mac, "66:77:88:99:AA:BB");
	store_host_free(h);

	assert_ok(st, app_job_rm(st, idb, 1, &n)); /* dry run */
	assert_int_equal(n.hosts, 2);
	assert_int_equal(n.hosts_gone, 1);
	assert_int_equal(count_hosts(st), 2);
	assert_ok(st, app_job_rm(st, idb, 0, &n));
	assert_int_equal(count_hosts(st), 1);
	h = get_host(st, "10.0.0.1", 0);
	assert_non_null(h);
	assert_string_equal(h->mac, "00:11:22:33:44:55");
	assert_null(h->os);
	assert_int_equal(h->first_seen, 1000);
	assert_int_equal(h->last_seen, 1000);
	assert_int_equal(h->job_id, ida);
	store_host_free(h);
	assert_rc(st, store_host_id(st, "10.0.0.9", &only), SDB_ENOTFOUND);
	assert_rc(st, store_note_rm(st, note), SDB_ENOTFOUND);
	assert_int_equal(count_jobs(st, NULL), 1);
	assert_rc(st, app_job_rm(st, idb, 0, &n), SDB_ENOTFOUND);
}

static const struct CMUnitTest tests[] = {
    cmocka_unit_test_setup_teardown(test_tags_on_ranges, setup, teardown),
    cmocka_unit_test_setup_teardown(test_notes, setup, teardown),
    cmocka_unit_test_setup_teardown(test_job_rm_refolds_and_drops, setup, teardown),
};
const struct contract_group contract_tags = {"tags", tests, sizeof(tests) / sizeof(tests[0])};
