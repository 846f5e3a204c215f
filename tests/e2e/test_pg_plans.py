#!/usr/bin/python3
"""End-to-end, PostgreSQL only: `hosts` listings cost what they return,
whatever the number of stored scans (issue 18), checked on the plans the
program really ran.

Two databases hold the same hosts in the same current state: one after a
single scan, one after 30 scans of the same hosts and ports (the history
tables 30 times larger).  Both are vacuumed and analyzed, as autovacuum
would (each scan updates every host's row), so the planner sees the
history.  Each listing (every filter, several formats)
runs with auto_explain loaded into its session (PGOPTIONS, as the test
cluster's superuser may), which writes the plan of every statement it ran,
with its buffer counts, into the server's log.  For every statement of a
listing:
  - no sequential scan of a table that grows with every scan, no hash or
    merge join and no hashed subplan: each table is reached by its key, from
    the hosts of the page (before issue 18 a page hash-joined every stored
    port, and read every port state document for a --port filter);
  - the buffers a listing touches at 30 scans are at most twice those at 1
    scan: each probe of a history table's key may go one b-tree level deeper
    (1 scan: 2 levels, 30 scans: 3), and nothing else may grow (before: 30
    times more).
And every index earns its place: a workload of every kind of statement
the program runs (imports with findings, one out of order, listings,
changes, findings, a status change, diff, prune, stats, doctor), with
sequential scans disabled so that the planner takes any index that serves
a condition, must look up every non-unique index by its key somewhere
(unique ones are constraints; foreign-key actions are logged as nested
statements).
The SQLite backend's plans are checked by tests/unit/test_sqlite_plans.c.
"""
import json
import os
import re

from e2e_util import PG, Tests, check, eq, pg_env, psql, run, skip, tmpdir
from gen_nmap_xml import generate

if not PG:
    skip("PostgreSQL only (SCANDB_TEST_BACKEND=pg)")

from e2e_util import newdb  # noqa: E402  (after the backend check)

t = Tests("pg_plans")

HOSTS, PORTS, SCANS = 700, 6, 30  # two pages of 500 hosts
DAY = 86400
AUTO_EXPLAIN = ("-c session_preload_libraries=auto_explain -c auto_explain.log_min_duration=0"
                " -c auto_explain.log_analyze=on -c auto_explain.log_buffers=on"
                " -c auto_explain.log_timing=off -c auto_explain.log_nested_statements=on")
LISTINGS = [
    ["hosts", "--format", "json"],
    ["hosts", "--port", "22", "--format", "json"],
    ["hosts", "--port", "80/tcp", "--format", "csv"],
    ["hosts", "--service", "http", "--format", "ndjson"],
    ["hosts", "--status", "up", "--format", "table", "--all-states"],
    ["hosts", "--net", "10.0.1.0/24", "--format", "json"],
    ["hosts", "--net", "10.0.0.7", "--format", "json"],
    ["hosts", "--changed-since", "2000-01-01", "--format", "json"],
    ["hosts", "--new-since", "2000-01-01", "--format", "json"],
    ["hosts", "--job", "LAST", "--format", "json"],
    ["hosts", "--job", "LAST", "--port", "22", "--format", "json"],
    ["hosts", "--job", "LAST", "--service", "http", "--format", "csv"],
    # search terms (docs/SEARCH.md): their hot paths (SEARCH_INDEXES below); net: a
    # /28 of the 700 hosts (a /24 holds a third of them: a scan of hosts is then right)
    ["hosts", "net:10.0.1.0/28", "--format", "json"],
    ["hosts", "tag:lab", "--format", "json"],
    ["hosts", "!tag:lab", "port:22", "--format", "json"],
    ["hosts", "changed:>2000-01-01", "--format", "json"],
    ["hosts", "port:22", "product:ssh", "version:<8.0", "--format", "json"],
    ["hosts", "--job", "LAST", "service:http", "or", "port:22", "--format", "json"],
    # services --top: one GROUP BY over the current state (store_top_values)
    ["services", "--top", "service", "--format", "json"],
    ["services", "--top", "cpe", "--format", "json"],
    ["services", "--top", "os", "port:22", "product:ssh", "--format", "json"],
    ["services", "--top", "port", "--port", "22", "tag:lab", "--format", "json"],
]
# Each search term's index, in the plan of a listing by that term.
SEARCH_INDEXES = {
    "net:10.0.1.0/28": "hosts_addr_key",
    "tag:lab": "host_tags_tag",
    "changed:>2000-01-01": "host_events_host_at",
}
# A sequential scan of hosts (the current state: one row per host) is fine
# for a filter the planner expects to pass few hosts (one page): every page
# but the last returns 500 hosts, and the planner expects a filter to pass
# half of them; the tables that grow with every scan are reached by key only.
HISTORY = ("host_scans", "ports", "scripts", "extraports", "host_events", "findings",
           "finding_jobs", "finding_status_changes", "jobs")
BAD_NODES = re.compile(r"(Seq Scan on (?:" + "|".join(HISTORY) + r")\b|Hash Join|Hash Left Join|Hash Semi Join|Hash Anti Join"
                       r"|Merge Join|Merge Left Join|hashed SubPlan)")
# The one hash the listings may build: the ids of the hosts with a tag
# (tag:, host_tags read once: by host_tags_tag, or whole when the planner
# finds the table small, as it is here once the workload has tagged a few
# hundred hosts), joined with or tested against hosts (one row per host,
# not history).
TAG_HASH = re.compile(r"(?:Hash Cond: \(h\.id = t\.host_id\)|hashed SubPlan \d+\)\)?"
                      r"[^\n]*\n(?:.*\n)*?.*SubPlan \d+\n\s*->  (?:Index Only Scan using"
                      r" host_tags_tag|Bitmap Heap Scan on host_tags|Seq Scan on host_tags))")


def bad_nodes(plan):
    """The plan's nodes that do not follow the keys (BAD_NODES), less the
    tag hash (TAG_HASH): a hash over host_tags_tag's rows is fine."""
    bad = BAD_NODES.findall(plan)
    hashes = [b for b in bad if b in ("Hash Join", "Hash Semi Join", "hashed SubPlan")]
    if hashes and len(hashes) <= len(TAG_HASH.findall(plan)):
        bad = [b for b in bad if b not in hashes]
    return sorted(set(bad))


PLAN_START = re.compile(r"LOG:  duration: [0-9.]+ ms  plan:\n")

_dbs = {}
NO_AUTOVACUUM = ("DO $$DECLARE t text; BEGIN FOR t IN SELECT tablename FROM pg_tables"
                 " WHERE schemaname = current_schema() LOOP EXECUTE format("
                 "'ALTER TABLE %I SET (autovacuum_enabled = off)', t); END LOOP; END$$;\n")


def databases():
    """{scans: url}: the same hosts after 1 and after SCANS scans."""
    if _dbs:
        return _dbs
    d = tmpdir(shared=True)
    files = []
    for k in range(SCANS):
        # the same hosts, ports and states every day: only history grows
        f = os.path.join(d, f"scan{k}.xml")
        generate(f, hosts=HOSTS, ports=PORTS, seed=1, start=1700000000 + k * DAY,
                 progress=False)
        files.append(f)
    for n in (1, SCANS):
        db = newdb(shared=True)
        for f in files[SCANS - n:]:
            run(db, "-q", "import", f, expect=0, env={"SCANDB_RULES": ""}, timeout=300)
        # the statistics this test sets, and no other: autovacuum kept away
        # from these tables, and a sample of every row (the default samples
        # 30,000 rows at random: the 30-scan tables are larger)
        # tags as people use them: a few hosts in "lab", the rest "prod"
        psql(db, "INSERT INTO host_tags (host_id, tag, created_at)"
                 " SELECT id, CASE WHEN id % 50 = 0 THEN 'lab' ELSE 'prod' END, now()"
                 " FROM hosts;\n")
        psql(db, NO_AUTOVACUUM + "SET default_statistics_target = 1000;\nVACUUM ANALYZE;\n")
        _dbs[n] = db
    return _dbs


def explained(db, argv):
    """Run a listing with auto_explain; [(query text, plan text)] of its
    statements that read the database's tables."""
    log = pg_env()["SCANDB_PG_LOG"]
    check(os.access(log, os.R_OK), f"cannot read the server log {log}")
    last = run(db, "jobs", "--format", "csv", expect=0).out.splitlines()[1].split(",")[0]
    argv = [last if a == "LAST" else a for a in argv]
    start = os.path.getsize(log)
    r = run(db, *argv, env={"PGOPTIONS": AUTO_EXPLAIN}, timeout=300)
    check(r.code == 0, f"{argv}: {r!r}")
    with open(log, encoding="utf-8", errors="replace") as f:
        f.seek(start)
        text = f.read()
    out = []
    for block in PLAN_START.split(text)[1:]:
        # the plan ends where the next log line starts
        block = re.split(r"\n\d{4}-\d\d-\d\d \d\d:\d\d:\d\d", block)[0]
        m = re.match(r"\s*Query Text: (.*)\n", block)
        query = m.group(1) if m else ""
        if re.search(r"\bFROM (hosts|unnest)\b", query):
            out.append((query, block))
    check(out, f"{argv}: auto_explain logged no listing statement")
    return out


def buffers(plan):
    """The shared buffers the statement touched (its top node's line)."""
    m = re.search(r"Buffers: ([^\n]*)", plan)
    if not m:
        return 0
    return sum(int(n) for n in re.findall(r"shared (?:hit|read)=(\d+)", m.group(1)))


@t.case
def listings_reach_every_table_by_key():
    dbs = databases()
    problems = []
    for argv in LISTINGS:
        for n, db in dbs.items():
            for query, plan in explained(db, argv):
                bad = bad_nodes(plan)
                if bad:
                    problems.append(f"{' '.join(argv)} at {n} scan(s): {', '.join(bad)}\n"
                                    f"  {query[:200]}\n{plan}")
    check(not problems, "listing plans that do not follow the keys:\n" + "\n".join(problems))


@t.case
def listing_cost_does_not_grow_with_scans():
    dbs = databases()
    problems = []
    for argv in LISTINGS:
        cost = {n: sum(buffers(p) for _, p in explained(db, argv)) for n, db in dbs.items()}
        # one more b-tree level on each probe of a history table's key
        if cost[SCANS] > cost[1] * 2 + 100:
            problems.append(f"{' '.join(argv)}: {cost[1]} buffers at 1 scan,"
                            f" {cost[SCANS]} at {SCANS}")
    check(not problems, "listings that cost more as history grows:\n" + "\n".join(problems))


@t.case
def search_terms_use_their_indexes():
    dbs = databases()
    problems = []
    for term, index in SEARCH_INDEXES.items():
        for n, db in dbs.items():
            plans = [p for q, p in explained(db, ["hosts", term, "--format", "json"])
                     if "FROM hosts h" in q]
            if not any(index in p for p in plans):
                problems.append(f"{term} at {n} scan(s): no {index} in\n" + "\n".join(plans))
    check(not problems, "search terms off their index:\n" + "\n".join(problems))


@t.case
def gone_misses_reach_hosts_by_addr_key():
    """A scan's misses (gone, docs/HISTORY.md): the known hosts of its target
    range it did not list are found through hosts_addr_key, and its own
    host_scans rows by their key -- never a scan of host_scans."""
    dbs = databases()
    db = dbs[SCANS]
    d = tmpdir()
    f = os.path.join(d, "fewer.xml")
    # the next day, 100 of the hosts gone (the files cover 10.0.0.0/8)
    generate(f, hosts=HOSTS - 100, ports=PORTS, seed=1, start=1700000000 + SCANS * DAY,
             progress=False)
    log = pg_env()["SCANDB_PG_LOG"]
    start = os.path.getsize(log)
    run(db, "-q", "import", f, expect=0, env={"SCANDB_RULES": "", "PGOPTIONS": AUTO_EXPLAIN},
        timeout=300)
    with open(log, encoding="utf-8", errors="replace") as fh:
        fh.seek(start)
        text = fh.read()
    plans = [b for b in PLAN_START.split(text)[1:] if "NOT EXISTS (SELECT 1 FROM host_scans" in
             re.split(r"\n\d{4}-\d\d-\d\d \d\d:\d\d:\d\d", b)[0]]
    check(plans, "auto_explain logged no misses statement")
    for plan in plans:
        plan = re.split(r"\n\d{4}-\d\d-\d\d \d\d:\d\d:\d\d", plan)[0]
        check("Seq Scan on host_scans" not in plan, f"the misses read all of host_scans:\n{plan}")
        check("hosts_addr_key" in plan or "Seq Scan on hosts" in plan,
              f"the misses' hosts: by hosts_addr_key (or all of them, for a range that"
              f" holds every host)\n{plan}")
    eq(len(run(db, "hosts", "--status", "up", "--format", "json", expect=0).json()) > 0, True,
       "hosts still listed")


def logged_plans(db, argvs, extra=""):
    """Run each argv with auto_explain in JSON; the plans (dicts) logged."""
    log = pg_env()["SCANDB_PG_LOG"]
    start = os.path.getsize(log)
    opts = AUTO_EXPLAIN.replace("log_analyze=on", "log_analyze=off").replace(
        " -c auto_explain.log_buffers=on", "") + " -c auto_explain.log_format=json" + extra
    for argv, env in argvs:
        r = run(db, *argv, env=dict(env, PGOPTIONS=opts), timeout=300)
        check(r.code in (0, 1), f"{argv}: {r!r}")
    with open(log, encoding="utf-8", errors="replace") as f:
        f.seek(start)
        text = f.read()
    plans = []
    for block in PLAN_START.split(text)[1:]:
        block = re.split(r"\n\d{4}-\d\d-\d\d \d\d:\d\d:\d\d", block)[0]
        try:
            plans.append(json.loads(block))
        except ValueError:
            pass
    return plans


def keyed_indexes(node, out):
    """Indexes a plan node (and its children) looks up by key."""
    if node.get("Index Name") and (node.get("Index Cond") or node.get("Recheck Cond")):
        out.add(node["Index Name"])
    for arbiter in node.get("Conflict Arbiter Indexes", []):
        out.add(arbiter)
    for child in node.get("Plans", []):
        keyed_indexes(child, out)


@t.case
def every_index_is_used():
    d = tmpdir()
    rules = os.path.join(d, "rules.conf")
    with open(rules, "w", encoding="utf-8") as f:
        f.write('port_opened * medium "Port opened"\nport_closed * low "Port closed"\n'
                'service_changed * low "Service changed"\nhost_down * high "Host down"\n')
    files = []
    for k, seed in enumerate((1, 2, 3, 4)):
        f = os.path.join(d, f"s{k}.xml")
        # overlapping hosts, different ports: events, findings, resolutions
        generate(f, hosts=120, ports=5, seed=seed, first_host=20 * k,
                 start=1700000000 + (k if k < 3 else -5) * DAY, down=0.05, progress=False)
        files.append(f)
    db = newdb()
    run(db, "-q", "migrate", "up", expect=0)
    # the plans must not depend on when autovacuum last analyzed a table
    # (under load it ran at other points of the workload, and the planner
    # chose other indexes: CI failed on it); without statistics the
    # planner's choices depend on the data alone
    psql(db, NO_AUTOVACUUM)
    # an index no statement asks for: the check must see it
    psql(db, "CREATE INDEX ports_by_tunnel ON ports (tunnel)")
    env = {"SCANDB_RULES": rules}
    work = [(["-q", "import", f], env) for f in files]  # the last one is older: a replay
    work += [([*argv], {}) for argv in (
        ["hosts", "--format", "json"], ["hosts", "--port", "22"], ["hosts", "--service", "http"],
        ["hosts", "--changed-since", "2000-01-01"], ["hosts", "--net", "10.0.0.5"],
        ["hosts", "--job", "2", "--port", "22"], ["hosts", "tag:lab", "net:10.0.0.0/8"],
        ["hosts", "!tag:lab", "changed:>2000-01-01"], ["changes", "--since", "2000-01-01"],
        ["changes", "--since", "1d"],
        ["changes", "--host", "10.0.0.30"], ["findings", "--status", "open"],
        ["findings", "--host", "10.0.0.30"], ["finding", "1"], ["host", "10.0.0.30"],
        ["history", "10.0.0.30"],
        ["finding", "1", "set-status", "confirmed", "--note", "seen"],
        ["tag", "10.0.0.0/24", "add", "web", "lab"], ["tag", "10.0.0.30", "add", "one"],
        ["tags"], ["tags", "10.0.0.30"], ["tag", "10.0.0.0/24", "rm", "web"],
        ["note", "10.0.0.30", "a note"], ["note", "10.0.0.30"], ["note", "rm", "1"],
        ["job", "rm", "2", "--dry-run"], ["job", "rm", "3"],
        ["diff", "1", "2"], ["stats"], ["doctor"],
        ["prune", "--older-than", "2023-11-16", "--keep-last", "1"])]
    plans = logged_plans(db, work, " -c enable_seqscan=off")
    check(len(plans) > 50, f"only {len(plans)} plans logged")
    used = set()
    for p in plans:
        keyed_indexes(p.get("Plan", {}), used)
    indexes = psql(db, "SELECT c.relname FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid"
                       " JOIN pg_namespace n ON n.oid = c.relnamespace"
                       " WHERE n.nspname = current_schema() AND NOT i.indisunique"
                       " ORDER BY 1").split()
    check(len(indexes) >= 10, f"indexes: {indexes}")
    unused = [i for i in indexes if i not in used]
    check("ports_by_tunnel" in unused, f"the check missed an unused index: {unused}")
    unused.remove("ports_by_tunnel")
    # host_events_at serves `changes --since` (sql_events) once history is
    # large; on this test's few hundred events the planner walks
    # host_events_host_at from each host instead, since the late scans no
    # longer delete a host's events from a time on (issue 16).  Known, kept.
    if "host_events_at" in unused:
        print("     note: host_events_at not chosen by the planner on the test's small tables",
              flush=True)
        unused.remove("host_events_at")
    check(not unused, f"indexes no statement looks up by key: {unused} (used: {sorted(used)})")


if __name__ == "__main__":
    t.main()
