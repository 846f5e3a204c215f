/*
 * store_sql.h - the rules both backends must run in SQL (inside the
 * statement that writes the row, so that concurrent writers and late scans
 * cannot split them), written once.  Each rule is a macro of the pieces
 * where the dialects differ; each backend passes its own:
 *
 *   N(col), O(col)  the new value of a column and the stored one
 *                   (SQLite: excluded.col or a bound parameter, hosts.col;
 *                   PostgreSQL: excluded.col, h.col)
 *   NO_NAMES        the empty hostnames list ('[]', '[]'::jsonb)
 *   NO_TIME         a time that was never set (0, 'epoch')
 *   LEAST, GREATEST the two-argument minimum and maximum (min/max,
 *                   LEAST/GREATEST)
 *
 * Changing a rule here changes it for both backends; the contract suite
 * (tests/unit/contract/) holds them to the same answers.
 */
#ifndef SDB_STORE_STORE_SQL_H
#define SDB_STORE_STORE_SQL_H

/* clang-format off */

/* The host merge rule (the SET list of the hosts upsert): the host's
 * current fields follow the newest observation by scan time, so importing
 * an old file after a new one does not roll them back.  A status other
 * than up/down (unknown) never replaces up or down; an absent MAC, OS or
 * hostname list never replaces a known one; first_seen and last_seen only
 * widen. */
#define STORE_SQL_HOST_MERGE_SET(N, O, NO_NAMES, NO_TIME, LEAST, GREATEST) \
	" status = CASE WHEN " STORE_SQL_NEWER_(N, O) " AND (" N(status) " IN ('up', 'down')" \
	"  OR " O(status) " NOT IN ('up', 'down')) THEN " N(status) " ELSE " O(status) " END," \
	" mac = CASE WHEN " STORE_SQL_NEWER_(N, O) " AND " N(mac) " IS NOT NULL" \
	"  THEN " N(mac) " ELSE " O(mac) " END," \
	" mac_vendor = CASE WHEN " STORE_SQL_NEWER_(N, O) " AND " N(mac) " IS NOT NULL" \
	"  THEN " N(mac_vendor) " ELSE " O(mac_vendor) " END," \
	" hostnames = CASE WHEN " STORE_SQL_NEWER_(N, O) " AND " N(hostnames) " <> " NO_NAMES \
	"  THEN " N(hostnames) " ELSE " O(hostnames) " END," \
	" os_name = CASE WHEN " STORE_SQL_NEWER_(N, O) " AND " N(os_name) " IS NOT NULL" \
	"  THEN " N(os_name) " ELSE " O(os_name) " END," \
	" os_accuracy = CASE WHEN " STORE_SQL_NEWER_(N, O) " AND " N(os_name) " IS NOT NULL" \
	"  THEN " N(os_accuracy) " ELSE " O(os_accuracy) " END," \
	" last_job_id = CASE WHEN " STORE_SQL_NEWER_(N, O) " THEN " N(last_job_id) \
	"  ELSE " O(last_job_id) " END," \
	" first_seen = CASE WHEN " N(first_seen) " = " NO_TIME " THEN " O(first_seen) \
	"  WHEN " O(first_seen) " = " NO_TIME " THEN " N(first_seen) \
	"  ELSE " LEAST "(" O(first_seen) ", " N(first_seen) ") END," \
	" last_seen = " GREATEST "(" O(last_seen) ", " N(last_seen) ")"
#define STORE_SQL_NEWER_(N, O) N(last_seen) " >= " O(last_seen)

/* The host merge rule applied to a host's scans in scan-time order, as one
 * SET list (job rm, store_jobrm.c: the host's fields as if job $1 had never
 * been stored): each field is the newest scan's that the rule above lets
 * win -- status: the newest up/down, else the newest; MAC, OS, hostnames:
 * the newest that has one; last_job_id: the newest; first_seen the first
 * set time, last_seen the latest.  "Newest" is (scanned_at, job_id), the
 * order an import in scan order stores them in.  T0: the time never set
 * (the NO_TIME above). */
#define STORE_SQL_HOST_OTHER_ " FROM host_scans x WHERE x.host_id = hosts.id AND x.job_id <> $1"
#define STORE_SQL_HOST_NEWEST_ " ORDER BY x.scanned_at DESC, x.job_id DESC LIMIT 1)"
#define STORE_SQL_HOST_REFOLD_SET(T0) \
	" status = coalesce((SELECT x.status" STORE_SQL_HOST_OTHER_ \
	"  AND (x.status = 'up' OR x.status = 'down')" STORE_SQL_HOST_NEWEST_ "," \
	"  (SELECT x.status" STORE_SQL_HOST_OTHER_ STORE_SQL_HOST_NEWEST_ ")," \
	" mac = (SELECT x.mac" STORE_SQL_HOST_OTHER_ " AND x.mac IS NOT NULL" STORE_SQL_HOST_NEWEST_ "," \
	" mac_vendor = (SELECT x.mac_vendor" STORE_SQL_HOST_OTHER_ " AND x.mac IS NOT NULL" \
	"  " STORE_SQL_HOST_NEWEST_ "," \
	" hostnames = coalesce((SELECT x.hostnames" STORE_SQL_HOST_OTHER_ \
	"  AND x.hostnames <> '[]'" STORE_SQL_HOST_NEWEST_ ", '[]')," \
	" os_name = (SELECT x.os_name" STORE_SQL_HOST_OTHER_ " AND x.os_name IS NOT NULL" \
	"  " STORE_SQL_HOST_NEWEST_ "," \
	" os_accuracy = (SELECT x.os_accuracy" STORE_SQL_HOST_OTHER_ " AND x.os_name IS NOT NULL" \
	"  " STORE_SQL_HOST_NEWEST_ "," \
	" last_job_id = (SELECT x.job_id" STORE_SQL_HOST_OTHER_ STORE_SQL_HOST_NEWEST_ "," \
	" first_seen = coalesce((SELECT min(x.scanned_at)" STORE_SQL_HOST_OTHER_ \
	"  AND x.scanned_at > " T0 "), " T0 ")," \
	" last_seen = (SELECT max(x.scanned_at)" STORE_SQL_HOST_OTHER_ ")"

/* A finding seen again (the SET list of its update; AT the sighting's
 * time, TITLE/SEV/DETAILS its words): the newest sighting's words win; the
 * times only widen. */
#define STORE_SQL_FINDING_SEEN_SET(AT, TITLE, SEV, DETAILS, LEAST, GREATEST) \
	" title = CASE WHEN " AT " >= last_seen THEN " TITLE " ELSE title END," \
	" severity = CASE WHEN " AT " >= last_seen THEN " SEV " ELSE severity END," \
	" details = CASE WHEN " AT " >= last_seen THEN " DETAILS " ELSE details END," \
	" first_seen = " LEAST "(first_seen, " AT ")," \
	" last_seen = " GREATEST "(last_seen, " AT ")," \
	" state_at = " GREATEST "(state_at, " AT ")"

/* A finding's status set (the state_at part of its SET list): a change a
 * scan made (GIVEN > 0; AT: that time as the column's type) moves state_at
 * forward only; a user's change (GIVEN 0) leaves it.  OLD: the stored
 * state_at. */
#define STORE_SQL_FINDING_STATE_AT(GIVEN, AT, OLD, GREATEST) \
	" state_at = CASE WHEN " GIVEN " > 0 THEN " GREATEST "(" OLD ", " AT ") ELSE " OLD " END"

/* clang-format on */

#endif
