#!/usr/bin/python3
"""End-to-end: the database operations commands (docs/OPERATIONS.md) on the
real binary and a real database of the backend under test
(SCANDB_TEST_BACKEND: sqlite or pg, e2e_util): health, stats, doctor
[--fix], backup [--keep N], restore [--force], prune.

Damage (orphans, CHECK violations, corrupt pages, stuck jobs) is made
behind scandb's back: on SQLite with Python's sqlite3 module (which scandb
never uses), on PostgreSQL with psql (session_replication_role = replica
for orphans, a CHECK dropped and re-added NOT VALID for rows that break
it).  Cases about the SQLite file itself skip loudly on PostgreSQL, and
PostgreSQL-only cases (roles, ownership, grants) skip loudly on SQLite."""
import csv
import hashlib
import io
import json
import os
import random
import re
import shutil
import signal
import sqlite3
import subprocess
import time

from e2e_util import (PG, SCANDB, Tests, check, data, db_exists, dump, eq, newdb, nodb, pg_dbname,
                      pg_env, pg_super, pg_url, psql, run, skip_case, sql, sql1, sql_script,
                      sqlite_case, tables, tmpdir, ts_sql)
from gen_nmap_xml import generate, host_addr

t = Tests("ops")
DAY = 86400
NOW = int(time.time())
BACKEND = "postgresql" if PG else "sqlite"


# ---- helpers -----------------------------------------------------------------

def new_db(files=None):
    """A fresh database with `files` imported (default: the shared samples),
    and a fresh directory for the files a test writes (backups)."""
    d = tmpdir("scandb-ops-")
    db = newdb() if PG else os.path.join(d, "s.db")
    files = files if files is not None else [data(n) for n in
                                             ("simple.xml", "complex.xml", "os.xml",
                                              "single.xml", "down.xml")]
    run(db, "-q", "import", *files, expect=0)
    return d, db


def rw(db):
    return sqlite3.connect(db, timeout=30, isolation_level=None)


def ro(db):
    return sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=30)


def counts(db):
    """{table: rows} of every table."""
    return {tb: sql1(db, f'SELECT count(*) FROM "{tb}"') for tb in tables(db)}


def sha(path):
    with open(path, "rb") as f:
        return hashlib.sha256(f.read()).hexdigest()


def checkpoint(db):
    """Move the WAL into the main file (so the file alone holds everything)."""
    con = rw(db)
    try:
        con.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    finally:
        con.close()


def doctor_json(db, *extra, expect=None):
    r = run(db, "doctor", "--format", "json", *extra, expect=expect)
    return r, r.json()


def problems_of(rep, check_name):
    return [p for p in rep["problems"] if p["check"] == check_name]


def backup_method_ok(method):
    return method.startswith("pg_dump -Fc") if PG else method.startswith(
        "sqlite3 online backup API")


def pg_break_check(db, table, column_hint, update):
    """PostgreSQL: make rows of `table` break one of its CHECKs: drop the
    CHECK that mentions column_hint, run `update`, add it back NOT VALID
    (so PostgreSQL does not look at the existing rows)."""
    name, expr = sql(db, "SELECT conname, pg_get_constraintdef(oid) FROM pg_constraint "
                         "WHERE conrelid = ?::regclass AND contype = 'c' AND "
                         "pg_get_constraintdef(oid) LIKE ? ORDER BY conname LIMIT 1",
                     (table, f"%{column_hint}%"))[0]
    sql_script(db, f"ALTER TABLE {table} DROP CONSTRAINT {name};\n{update};\n"
                   f"ALTER TABLE {table} ADD CONSTRAINT {name} {expr} NOT VALID;")


# ---- every command -------------------------------------------------------------

@t.case
def every_command_has_help():
    for cmd in ("health", "stats", "doctor", "backup", "restore", "prune"):
        r = run(None, cmd, "--help", expect=0)
        check(r.out.startswith(f"usage: scandb {cmd}"), f"{cmd} --help: {r.out[:200]!r}")
        eq(r.err, "", f"{cmd} --help stderr")
    top = run(None, "--help", expect=0).out
    for cmd in ("health", "stats", "doctor", "backup", "restore", "prune"):
        check(f"  {cmd} " in top, f"top-level help lists {cmd}")


@t.case
def usage_errors_exit_2():
    d, db = new_db([data("simple.xml")])
    before = dump(db)
    for args in (["health", "--format", "csv"], ["stats", "extra"], ["doctor", "--fixx"],
                 ["backup"], ["backup", os.path.join(d, "a-%Q.db")],
                 ["backup", "--keep", "2", os.path.join(d, "plain.db")],
                 ["backup", "--keep", "0", os.path.join(d, "b-%Y.db")],
                 ["backup", os.path.join(d, "%Y", "x.db")],
                 ["restore"], ["restore", ""], ["backup", ""],
                 ["prune"], ["prune", "--older-than", "soon"],
                 ["prune", "--older-than", "90d", "--keep-last", "-1"]):
        r = run(db, *args)
        eq(r.code, 2, f"{args}: exit status ({r.err.strip()})")
        check(r.err.strip(), f"{args}: an error message")
        eq(r.out, "", f"{args}: nothing on stdout")
    eq(dump(db), before, "usage errors change nothing")
    if PG:
        eq(os.listdir(d), [], "no files created")
    else:
        eq(sorted(os.listdir(d)), ["s.db", "s.db-shm", "s.db-wal"]
           if os.path.exists(db + "-wal") else ["s.db"], "no files created")
    # an empty FILE is a usage error before anything is opened: a restore
    # into a database that does not exist creates none
    missing = nodb()
    r = run(missing, "restore", "")
    eq(r.code, 2, f"restore '' into a missing database: {r!r}")
    check("FILE is empty" in r.err, f"says why: {r.err!r}")
    check(not db_exists(missing), "restore '' created no database")


# ---- health --------------------------------------------------------------------

@t.case
def health_ok():
    d, db = new_db([data("simple.xml")])
    r = run(db, "health", expect=0)
    check("healthy" in r.out and BACKEND in r.out, f"table output: {r.out}")
    h = run(db, "health", "--format", "json", expect=0).json()
    eq(h["healthy"], True, "healthy")
    eq(h["backend"], BACKEND, "backend")
    eq(h["schema_version"], h["latest_version"], "schema version is the latest")
    check(h["schema_version"] >= 4, "migration 0004 applied")
    eq(h["pending_migrations"], 0, "pending")
    check(isinstance(h["latency_ms"], float) and h["latency_ms"] >= 0, f"latency {h}")
    if PG:
        server = sql1(db, "SELECT current_setting('server_version')")
        eq(h["server_version"], server, "server version")
    else:
        check(h["server_version"].startswith("3."), f"server version {h['server_version']}")
    eq(h["problem"], None, "problem")


@t.case
def health_unreachable():
    missing = nodb()
    r = run(missing, "health", "--format", "json", expect=1)
    eq(r.json()["healthy"], False, "missing: healthy")
    check("no database" in r.err or "does not exist" in r.err, f"missing: message {r.err!r}")
    check(not db_exists(missing), "health does not create a database")


@t.case
def health_garbage_file():
    sqlite_case("a garbage file and a directory given as the SQLite database")
    d = tmpdir("scandb-ops-")
    garbage = os.path.join(d, "garbage.db")
    with open(garbage, "wb") as f:
        f.write(random.Random(1).randbytes(20000))
    h0 = sha(garbage)
    r = run(garbage, "health", "--format", "json", expect=1)
    eq(r.json()["healthy"], False, "garbage: healthy")
    check(f"{garbage} is not a SQLite database" in r.err, f"garbage: message {r.err!r}")
    eq(sha(garbage), h0, "garbage file unchanged")
    run(os.path.join(d, "no", "such", "dir", "x.db"), "health", expect=1)
    check(not os.path.exists(os.path.join(d, "no")), "no directory created")
    run(d, "health", expect=1)  # a directory is not a database either


@t.case
def health_schema_behind():
    d, db = new_db([data("simple.xml")])
    run(db, "-q", "migrate", "down", "--force", expect=0)
    h = run(db, "health", "--format", "json", expect=1).json()
    eq(h["healthy"], False, "behind: healthy")
    eq(h["pending_migrations"], 1, "behind: pending")
    check("migrate up" in h["problem"], f"behind: says what to do: {h['problem']}")


# ---- stats ---------------------------------------------------------------------

@t.case
def stats_json_and_table():
    d, db = new_db()
    s = run(db, "stats", "--format", "json", expect=0).json()
    c = counts(db)
    tables_ = {x["name"]: x for x in s["tables"]}
    eq(sorted(tables_), sorted(c), "every table")
    for tb, n in c.items():
        eq(tables_[tb]["rows"], n, f"rows of {tb}")
        # (PostgreSQL: a table that never had a row has no pages at all)
        check(tables_[tb]["bytes"] > 0 or (PG and n == 0 and tables_[tb]["bytes"] == 0),
              f"size of {tb}: {tables_[tb]}")
    idx = {x["name"]: x for x in s["indexes"]}
    eq(idx["host_events_job"]["table"], "host_events", "host_events_job index")
    eq(idx["host_events_job"]["entries"], c["host_events"], "host_events_job entries")
    check("port_state" not in tables_, "port_state is a view (one document per host in "
                                       "host_state), not a table")
    if PG:
        eq(s["size_method"], "pg_table_size", "sizes from the catalog")
        eq(s["free_bytes"] if "free_bytes" in s else None, None, "no free-space figure")
        # (no partial index of data is left since migration 0010 dropped
        # ports_open; targets_name has no rows here)
        eq(idx["host_events_job"]["entries"], c["host_events"], "host_events_job entries")
        for x in s["indexes"]:
            check(x["bytes"] > 0, f"size of index {x['name']} (a b-tree has its metapage)")
        size = sql1(db, "SELECT pg_database_size(current_database())")
        check(abs(s["database_bytes"] - size) <= size // 10,
              f"database size {s['database_bytes']} ~ {size}")
    else:
        eq(s["size_method"], "dbstat", "sizes from dbstat")
        con = ro(db)
        pages = con.execute("PRAGMA page_count").fetchone()[0]
        psize = con.execute("PRAGMA page_size").fetchone()[0]
        con.close()
        eq(s["database_bytes"], pages * psize, "database size")
    eq(s["jobs"]["total"], c["jobs"], "jobs total")
    eq(s["jobs"]["by_status"]["completed"], c["jobs"], "completed jobs")
    oldest = sql1(db, "SELECT id FROM jobs ORDER BY coalesce(started_at, created_at), id "
                      "LIMIT 1")
    eq(s["jobs"]["oldest"]["id"], oldest, "oldest job")
    r = run(db, "stats", expect=0)
    check("host_events_job" in r.out and "TABLE" in r.out, f"table output {r.out[:300]}")
    rows = list(csv.DictReader(io.StringIO(run(db, "stats", "--format", "csv", expect=0).out)))
    eq(len(rows), len(s["tables"]) + len(s["indexes"]), "csv rows")
    eq({r["name"]: int(r["rows"]) for r in rows if r["kind"] == "table"}, c, "csv table rows")
    nd = [json.loads(x) for x in
          run(db, "stats", "--format", "ndjson", expect=0).out.splitlines()]
    eq(len(nd), len(rows), "ndjson rows")


@t.case
def stats_estimates_large_tables_and_says_so():
    """A table too large to read whole in a fraction of a second is counted
    from a sample of its pages (issue 18: stats read every page, 3.8 s at
    100 stored scans): marked estimated, close to the truth; --exact counts
    it; small tables stay exact."""
    d = tmpdir("scandb-ops-")
    xml = os.path.join(d, "big.xml")
    # ~15 MB of ports on PostgreSQL (1,024 heap pages = 8 MB is counted
    # exactly), 9 MB on SQLite (a b-tree of 256 4 KB pages is read whole)
    generate(xml, hosts=12000, ports=10, seed=5, scripts=False, os_detect=False, progress=False)
    db = newdb() if PG else os.path.join(d, "s.db")
    run(db, "-q", "import", xml, expect=0, timeout=300)
    c = counts(db)
    s = run(db, "stats", "--format", "json", expect=0).json()
    tables_ = {x["name"]: x for x in s["tables"]}
    eq(s["estimated"], True, "stats says it estimated")
    eq(tables_["ports"]["estimated"], True, "ports estimated")
    got = tables_["ports"]["rows"]
    check(abs(got - c["ports"]) <= c["ports"] * 0.25,
          f"ports: estimated {got} rows, there are {c['ports']}")
    for name in ("jobs", "schema_migrations"):
        eq(tables_[name]["estimated"], False, f"{name} is small: exact")
        eq(tables_[name]["rows"], c[name], f"rows of {name}")
    if not PG:
        eq(s["size_method"], "dbstat sample", "sizes from a sample")
        total = sum(x["bytes"] for x in s["tables"] + s["indexes"])
        check(abs(total - s["database_bytes"]) <= s["database_bytes"] * 0.05,
              f"the b-trees add up to the file: {total} of {s['database_bytes']}")
    r = run(db, "stats", expect=0)
    check(re.search(r"\nports\s+~\d+", r.out) and "--exact" in r.out,
          f"the table marks estimates and says how to count: {r.out}")
    rows = list(csv.DictReader(io.StringIO(run(db, "stats", "--format", "csv", expect=0).out)))
    eq({x["name"]: x["estimated"] for x in rows}["ports"], "true", "csv estimated column")
    x = run(db, "stats", "--exact", "--format", "json", expect=0).json()
    eq(x["estimated"], False, "--exact estimates nothing")
    eq({t_["name"]: t_["rows"] for t_ in x["tables"]}, c, "--exact counts every row")
    check(not any(i["estimated"] for i in x["indexes"]), "--exact: no index estimated")


# ---- doctor --------------------------------------------------------------------

@t.case
def doctor_healthy():
    d, db = new_db()
    before = dump(db)
    r, rep = doctor_json(db, expect=0)
    eq(rep["ok"], True, "ok")
    eq(rep["problems"], [], "problems")
    names = {c["name"]: c["status"] for c in rep["checks"]}
    for n in ("migrations", "check_constraints", "foreign_keys", "orphans", "stuck_jobs",
              "port_state"):
        eq(names.get(n), "ok", f"check {n}")
    if PG:
        eq(names.get("integrity"), "skipped", "integrity (PostgreSQL checks its own pages)")
        eq(names.get("privileges"), "ok", "privileges")
    else:
        eq(names.get("integrity"), "ok", "integrity")
        eq(names.get("privileges"), "skipped", "privileges (PostgreSQL only)")
    run(db, "doctor", expect=0)
    eq(dump(db), before, "doctor changes nothing")


@t.case
def doctor_quick():
    """--quick, the routine check: SQLite's quick_check (it says how long
    the full integrity_check would take), PostgreSQL's enforced keys and
    constraints checked in the catalog; checks that repeat another are not
    run (issue 18)."""
    d, db = new_db()
    before = dump(db)
    r, rep = doctor_json(db, "--quick", expect=0)
    eq(rep["ok"], True, "ok")
    checks = {c["name"]: c for c in rep["checks"]}
    for n in ("migrations", "integrity", "check_constraints", "foreign_keys", "orphans",
              "stuck_jobs", "port_state"):
        check(n in checks, f"--quick runs {n}: {sorted(checks)}")
    if PG:
        check("--quick" in checks["check_constraints"]["detail"], f"{checks['check_constraints']}")
        check("rows not read" in checks["foreign_keys"]["detail"], f"{checks['foreign_keys']}")
        check("enforced by the database" in checks["orphans"]["detail"], f"{checks['orphans']}")
    else:
        det = checks["integrity"]["detail"]
        check(re.search(r"quick_check in [0-9.]+ s; the full check .* about \d+ s", det),
              f"quick: how long the full check takes: {det}")
        check("proven by the foreign_keys check" in checks["orphans"]["detail"],
              f"orphans of declared keys not looked for twice: {checks['orphans']}")
        _, full = doctor_json(db, expect=0)
        fc = {c["name"]: c for c in full["checks"]}
        check(fc["integrity"]["detail"].startswith("integrity_check in "), f"{fc['integrity']}")
        check("proven by the foreign_keys check" in fc["orphans"]["detail"],
              f"the full check does not repeat foreign_key_check either: {fc['orphans']}")
    eq(dump(db), before, "doctor --quick changes nothing")
    r = run(db, "doctor", "--quick", expect=0)
    check("no problems found" in r.out, r.out)


@t.case
def doctor_quick_still_finds_damage():
    """--quick finds rows that break a foreign key and a CHECK (SQLite: its
    foreign_key_check and quick_check; then the orphans check gives the SQL
    that fixes them)."""
    sqlite_case("PostgreSQL's --quick trusts the keys and constraints it enforces")
    d, db = new_db()
    host = sql1(db, "SELECT id FROM hosts ORDER BY id LIMIT 1")
    con = rw(db)
    con.execute("PRAGMA foreign_keys=OFF")
    con.execute(f"INSERT INTO ports (job_id, host_id, protocol, port, state) "
                f"VALUES (999, {host}, 'tcp', 1, 'open')")
    con.execute("PRAGMA ignore_check_constraints=ON")
    con.execute("UPDATE jobs SET progress = 200 WHERE id = 1")
    con.close()
    r, rep = doctor_json(db, "--quick", expect=1)
    eq(bool(problems_of(rep, "foreign_keys")), True, f"foreign keys: {rep['problems']}")
    orphans = problems_of(rep, "orphans")
    check(any("ports" in p["what"] and p["fix"].startswith("DELETE FROM ports") for p in orphans),
          f"the orphans check gives the fix: {orphans}")
    check(problems_of(rep, "check_constraints"), f"CHECK broken: {rep['problems']}")


@t.case
def doctor_orphans_and_their_fix():
    d, db = new_db()
    host = sql1(db, "SELECT id FROM hosts ORDER BY id LIMIT 1")
    inserts = (f"INSERT INTO ports (job_id, host_id, protocol, port, state) "
               f"VALUES (999, {host}, 'tcp', 1, 'open');\n"
               f"INSERT INTO host_events (host_id, job_id, kind, at) "
               f"VALUES (12345, 1, 'host_up', {ts_sql(0)});\n"
               f"INSERT INTO finding_status_changes (finding_id, at, job_id, new_status) "
               f"VALUES (777, {ts_sql(0)}, NULL, 'open');\n")
    if PG:
        # foreign keys are triggers; replica mode does not fire them
        sql_script(db, "SET LOCAL session_replication_role = replica;\n" + inserts)
    else:
        con = rw(db)
        con.execute("PRAGMA foreign_keys=OFF")
        for stmt in inserts.strip().split(";\n"):
            con.execute(stmt.rstrip(";"))
        con.close()
    r, rep = doctor_json(db, expect=1)
    orphans = problems_of(rep, "orphans")
    what = " | ".join(p["what"] for p in orphans)
    check("ports.job_id -> jobs.id" in what, what)
    check("host_events.host_id -> hosts.id" in what, what)
    check("finding_status_changes.finding_id -> findings.id" in what, what)
    check(all(p["count"] == 1 for p in orphans), f"counts {orphans}")
    eq(len(orphans), 3, f"orphan problems: {what}")
    if not PG:
        check(problems_of(rep, "foreign_keys"), "foreign_key_check reports them too")
    else:
        # ports' foreign key is (job_id, host_id) -> host_scans on PostgreSQL:
        # the catalog-driven check of multi-column keys finds the port too
        fk = problems_of(rep, "foreign_keys")
        eq([p["count"] for p in fk], [1], f"foreign_keys problems: {fk}")
        check("public.ports" in fk[0]["what"] and "host_scans" in fk[0]["what"], fk[0]["what"])
    # the table output names each problem with its fix
    r = run(db, "doctor", expect=1)
    check("[orphans]" in r.out and "fix: DELETE FROM ports" in r.out, r.out)
    nd = [json.loads(x) for x in run(db, "doctor", "--format", "ndjson", expect=1).out.splitlines()]
    eq(len(nd), len(rep["problems"]), "ndjson: one line per problem")
    # the printed SQL fixes them
    sql_script(db, "\n".join(p["fix"] for p in orphans))
    r, rep = doctor_json(db, expect=0)
    eq(rep["problems"], [], "after running the fixes")


@t.case
def doctor_port_state_document_naming_a_missing_job():
    """The job a port's state came from sits inside the host's port state
    document (host_state.ports), not in a foreign key: doctor counts the
    ports whose job is gone, and its fix drops those hosts' state (which
    then starts again from their next scan: an event naming the missing job
    as the previous scan could not be stored)."""
    d, db = new_db()
    host = sql1(db, "SELECT min(host_id) FROM host_state WHERE ports <> '[]'")
    if PG:
        sql_script(db, "UPDATE host_state SET ports = jsonb_set(ports, '{0,3}', '999') "
                       f"WHERE host_id = {host};")
    else:
        sql_script(db, "UPDATE host_state SET ports = json_set(ports, '$[0][3]', 999) "
                       f"WHERE host_id = {host};")
    r, rep = doctor_json(db, expect=1)
    orphans = problems_of(rep, "orphans")
    eq([p["count"] for p in orphans], [1], f"orphans {orphans}")
    check("port_state.job_id -> jobs.id" in orphans[0]["what"] and
          "host_state.ports" in orphans[0]["what"], orphans[0]["what"])
    check(orphans[0]["fix"].startswith("DELETE FROM host_state WHERE host_id IN"),
          orphans[0]["fix"])
    # prune reads the documents for the jobs it keeps, and is not thrown by it
    run(db, "prune", "--older-than", "0s", "--dry-run", expect=0)
    sql_script(db, orphans[0]["fix"].split(";")[0] + ";")
    eq(sql1(db, f"SELECT count(*) FROM host_state WHERE host_id = {host}"), 0,
       "that host's state is dropped")
    doctor_json(db, expect=0)


@t.case
def doctor_port_state_document_not_readable():
    """A port state document that is not what scandb writes: an import of a
    scan of that host fails naming the host, changing nothing; doctor finds
    it and its DELETE lets the next import start the host's state again."""
    d, db = new_db([data("simple.xml")])
    host = sql1(db, "SELECT min(host_id) FROM host_state")
    cast = "::jsonb" if PG else ""
    sql_script(db, f"UPDATE host_state SET ports = '[[\"tcp\", 22]]'{cast} "
                   f"WHERE host_id = {host};")
    before = dump(db)
    r = run(db, "import", "--force", data("simple.xml"), expect=1)
    check(f"port state of host {host} is not a valid document" in r.err, r.err)
    eq(dump(db), before, "a failed import changes nothing")
    r, rep = doctor_json(db, expect=1)
    bad = problems_of(rep, "port_state")
    eq([p["count"] for p in bad], [1], f"port_state problems {bad}")
    check(bad[0]["fix"].startswith(f"DELETE FROM host_state WHERE host_id IN ({host});"),
          bad[0]["fix"])
    sql_script(db, bad[0]["fix"].split(";")[0] + ";")
    doctor_json(db, expect=0)
    run(db, "-q", "import", "--force", data("simple.xml"), expect=0)
    check(sql1(db, f"SELECT count(*) FROM port_state WHERE host_id = {host}") > 0,
          "the host has a port state again")


@t.case
def doctor_port_state_documents_past_the_first_page():
    """The documents are read a page of 2,000 hosts at a time, the same SQL
    on both backends (store_doctor.c): a bad one on a later page is found
    and every document is counted."""
    d = tmpdir("scandb-ops-")
    db = big_db(d, hosts=2500, ports=1)
    n = sql1(db, "SELECT count(*) FROM host_state")
    check(n > 2000, f"{n} documents: more than a page")
    host = sql1(db, "SELECT max(host_id) FROM host_state")
    cast = "::jsonb" if PG else ""
    sql_script(db, f"UPDATE host_state SET ports = '[[\"tcp\", 22]]'{cast} "
                   f"WHERE host_id = {host};")
    r, rep = doctor_json(db, expect=1)
    bad = problems_of(rep, "port_state")
    eq([p["count"] for p in bad], [1], f"port_state problems {bad}")
    check(bad[0]["what"].startswith(f"1 of {n} port state documents"), bad[0]["what"])
    check(bad[0]["fix"].startswith(f"DELETE FROM host_state WHERE host_id IN ({host});"),
          bad[0]["fix"])


@t.case
def doctor_multi_column_foreign_key():
    """PostgreSQL: a port whose job and host both exist, but not the host
    scan (job_id, host_id) it references: only the multi-column check sees
    it; its DELETE removes it."""
    if not PG:
        skip_case("PostgreSQL-only: ports reference host_scans(job_id, host_id) there "
                  "(SQLite: foreign_key_check covers every key)")
    d, db = new_db()
    job, host = sql(db, "SELECT j.id, h.id FROM jobs j, hosts h WHERE NOT EXISTS (SELECT 1 "
                        "FROM host_scans s WHERE s.job_id = j.id AND s.host_id = h.id) "
                        "ORDER BY 1, 2 LIMIT 1")[0]
    sql_script(db, "SET LOCAL session_replication_role = replica;\n"
                   "INSERT INTO ports (job_id, host_id, protocol, port, state) "
                   f"VALUES ({job}, {host}, 'tcp', 1, 'open');")
    r, rep = doctor_json(db, expect=1)
    eq([(p["check"], p["count"]) for p in rep["problems"]], [("foreign_keys", 1)],
       f"problems: {rep['problems']}")
    check(rep["problems"][0]["fix"].startswith("DELETE FROM public.ports c WHERE"),
          rep["problems"][0]["fix"])
    sql_script(db, rep["problems"][0]["fix"])
    doctor_json(db, expect=0)


@t.case
def doctor_check_constraint_violation():
    d, db = new_db()
    if PG:
        pg_break_check(db, "jobs", "(progress >= 0)", "UPDATE jobs SET progress = 200 WHERE id = 1")
        pg_break_check(db, "ports", "(state = ANY", "UPDATE ports SET state = 'bogus' "
                       "WHERE port = (SELECT min(port) FROM ports)")
    else:
        con = rw(db)
        con.execute("PRAGMA ignore_check_constraints=ON")
        con.execute("UPDATE jobs SET progress = 200 WHERE id = 1")
        con.execute("UPDATE ports SET state = 'bogus' WHERE port = "
                    "(SELECT min(port) FROM ports)")
        con.close()
    r, rep = doctor_json(db, expect=1)
    bad = problems_of(rep, "check_constraints")
    tables_ = sorted(p["what"].split(" of ")[1].split(" ")[0] for p in bad)
    eq(tables_, ["jobs", "ports"], f"tables with CHECK violations: {bad}")
    check(all(p["fix"] for p in bad), "each has a fix")
    if PG:
        # the fix's query finds exactly the rows
        for p in bad:
            q = re.search(r"find them: (SELECT .*?);", p["fix"]).group(1)
            eq(len(sql(db, q)), p["count"], f"rows found by {q}")
        sql_script(db, "UPDATE jobs SET progress = 100 WHERE id = 1;\n"
                       "UPDATE ports SET state = 'open' WHERE state = 'bogus';")
        doctor_json(db, expect=0)


@t.case
def doctor_corrupt_file():
    sqlite_case("pages of the SQLite file overwritten")
    d, db = new_db()
    checkpoint(db)
    con = ro(db)
    pages = [r[0] for r in con.execute(
        "SELECT pageno FROM dbstat WHERE name IN ('ports', 'host_scans')")]
    con.close()
    check(pages, "pages to corrupt")
    rnd = random.Random(7)
    with open(db, "r+b") as f:
        for p in pages:
            f.seek((p - 1) * 4096)
            f.write(rnd.randbytes(4096))
    r = run(db, "doctor")
    eq(r.code, 1, f"doctor on a corrupt file: {r!r}")
    text = (r.out + r.err).lower()
    check("integrity" in text or "malformed" in text or "corrupt" in text,
          f"names the damage: {r!r}")


@t.case
def doctor_disabled_foreign_keys():
    if not PG:
        skip_case("PostgreSQL-only: foreign keys switched off by DISABLE TRIGGER ALL "
                  "(SQLite: foreign_key_check, see doctor_orphans_and_their_fix)")
    d, db = new_db([data("simple.xml")])
    sql_script(db, "ALTER TABLE ports DISABLE TRIGGER ALL;")
    r, rep = doctor_json(db, expect=1)
    p = problems_of(rep, "foreign_keys")
    check(p and all("ALTER TABLE public.ports ENABLE TRIGGER ALL;" in x["fix"] for x in p),
          f"foreign_keys problems: {p}")
    sql_script(db, "ALTER TABLE public.ports ENABLE TRIGGER ALL;")
    doctor_json(db, expect=0)


@t.case
def doctor_stuck_job_and_fix():
    d, db = new_db([data("simple.xml")])
    ins = ("INSERT INTO jobs (kind, source, status, created_at, timeout_at, worker_id) "
           "VALUES ('scan', 'nmap', 'running', {}, {}, '{}');")
    sql_script(db, ins.format(ts_sql(NOW - 3600), ts_sql(NOW - 60), "elsewhere:1"))
    stuck = sql1(db, "SELECT max(id) FROM jobs")
    sql_script(db, ins.format(ts_sql(NOW - 60), ts_sql(NOW + 3600), "elsewhere:2"))
    live = sql1(db, "SELECT max(id) FROM jobs")
    r, rep = doctor_json(db, expect=1)
    p = problems_of(rep, "stuck_jobs")
    eq(len(p), 1, f"stuck job problems {rep['problems']}")
    eq(p[0]["count"], 1, "one stuck job")
    check(str(stuck) in p[0]["what"] and "--fix" in p[0]["fix"], f"problem {p[0]}")
    r, rep = doctor_json(db, "--fix", expect=0)
    eq(rep["fixed_stuck_jobs"], 1, "fixed")
    check("marked 1 stuck job failed" in r.err, f"says how many: {r.err!r}")
    st = dict(sql(db, "SELECT id, status FROM jobs WHERE id IN (?, ?)", (stuck, live)))
    eq(st, {stuck: "failed", live: "running"}, "statuses after --fix")
    doctor_json(db, expect=0)


@t.case
def doctor_missing_or_behind():
    missing = nodb()
    run(missing, "doctor", expect=1)
    check(not db_exists(missing), "doctor does not create a database")
    d, db = new_db([data("simple.xml")])
    run(db, "-q", "migrate", "down", "--force", expect=0)
    r, rep = doctor_json(db, expect=1)
    p = problems_of(rep, "migrations")
    check(p and "migrate up" in p[0]["fix"], f"behind: {rep['problems']}")


@t.case
def doctor_privileges_owner():
    """PostgreSQL: one table owned by another role: exit 1 with the ALTER
    ... OWNER TO statement; running it makes doctor pass."""
    if not PG:
        skip_case("PostgreSQL-only: roles and ownership (SQLite reports 'privileges' "
                  "skipped, see doctor_healthy)")
    d, db = new_db([data("simple.xml")])
    owner = pg_env()["SCANDB_PG_SUPERUSER"]
    other = f"e2e_other_{os.getpid()}"
    pg_super(f"CREATE ROLE {other} NOLOGIN")
    try:
        sql_script(db, f"ALTER TABLE hosts OWNER TO {other};")
        r, rep = doctor_json(db, expect=1)
        p = problems_of(rep, "privileges")
        fixes = sorted({x["fix"] for x in p})
        eq(fixes, [f"ALTER TABLE public.hosts OWNER TO {owner};"], f"fixes: {p}")
        what = " | ".join(x["what"] for x in p)
        check(f"table public.hosts is owned by {other}, not by {owner}" in what, what)
        check("index public.hosts_pkey" in what, f"its indexes are named too: {what}")
        check("sequence public.hosts_id_seq" in what, f"and its identity sequence: {what}")
        eq(len(rep["problems"]), len(p), f"nothing else is wrong: {rep['problems']}")
        r = run(db, "doctor", expect=1)
        check(f"fix: ALTER TABLE public.hosts OWNER TO {owner};" in r.out, r.out)
        sql_script(db, "\n".join(fixes))
        doctor_json(db, expect=0)
    finally:
        psql(db, f"REASSIGN OWNED BY {other} TO {owner};\n", check_errors=False)
        pg_super(f"DROP ROLE IF EXISTS {other}")


@t.case
def doctor_privileges_grants():
    """PostgreSQL: a connecting role (with a password) that lacks privileges
    gets the GRANT statements; granted, doctor passes; one privilege
    revoked is one problem, with exactly that GRANT."""
    if not PG:
        skip_case("PostgreSQL-only: roles and grants (SQLite reports 'privileges' skipped, "
                  "see doctor_healthy)")
    d, db = new_db([data("simple.xml")])
    e = pg_env()
    user, pw = e["SCANDB_PG_PW_USER"], e["SCANDB_PG_PW_PASSWORD"]
    udb = pg_url(pg_dbname(db), user=user, password=pw)
    r, rep = doctor_json(udb, expect=1)
    check(pw not in r.out + r.err, "the password is never shown")
    grants = [p["fix"] for p in problems_of(rep, "privileges")]
    check(grants and all(g.startswith("GRANT ") and g.endswith(f" TO {user};") for g in grants),
          f"GRANT statements: {grants}")
    for g in (f"GRANT SELECT, INSERT, UPDATE, DELETE ON TABLE public.jobs TO {user};",
              f"GRANT SELECT, INSERT, UPDATE, DELETE ON TABLE public.schema_migrations TO "
              f"{user};",
              f"GRANT USAGE, SELECT, UPDATE ON SEQUENCE public.jobs_id_seq TO {user};",
              f"GRANT CREATE ON SCHEMA public TO {user};"):
        check(g in grants, f"{g} in {grants}")
    # the checks that could not run say so, and point at the grants
    cant = [p for p in rep["problems"] if p["check"] != "privileges"]
    check(cant and all("could not run" in p["what"] and "privileges" in p["fix"] for p in cant),
          f"other problems: {cant}")
    psql(db, "\n".join(grants) + "\n")  # as the owner
    r, rep = doctor_json(udb, expect=0)
    eq(rep["problems"], [], "after the grants")
    psql(db, f"REVOKE DELETE ON hosts FROM {user};\n")
    r, rep = doctor_json(udb, expect=1)
    eq([(p["check"], p["fix"]) for p in rep["problems"]],
       [("privileges", f"GRANT DELETE ON TABLE public.hosts TO {user};")], "one privilege")
    psql(db, rep["problems"][0]["fix"] + "\n")
    doctor_json(udb, expect=0)
    # the role backs up and restores with its password (a passfile, never argv)
    b = os.path.join(d, "pw.db")
    r = run(udb, "backup", b, expect=0)
    check(pw not in r.out + r.err, "the password is never shown")
    target = newdb()
    run(target, "-q", "restore", b, expect=0)
    eq(dump(target), dump(db), "restored by the password role")


# ---- backup / restore ----------------------------------------------------------

def run_parallel(argvs, timeout=300):
    procs = [subprocess.Popen(a, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                              stdin=subprocess.DEVNULL) for a in argvs]
    return procs


@t.case
def backup_while_importing_restores_consistent():
    d = tmpdir("scandb-ops-bk-")
    db = newdb() if PG else os.path.join(d, "live.db")
    files, sums = [], {}
    for k in range(12):
        addrs = [host_addr(j) for j in range(k * 150, k * 150 + 1500)]
        path = os.path.realpath(os.path.join(d, f"scan{k:02d}.xml"))
        sums[path] = generate(path, addrs=addrs, ports=4, seed=k, start=1700000000 + k * 3600)
        files.append(path)
    run(db, "-q", "import", data("simple.xml"), expect=0)  # the schema exists
    procs = run_parallel([[SCANDB, "--db", db, "-q", "import", f] for f in files])
    backups, during, took = [], 0, []
    deadline = time.monotonic() + 300
    while time.monotonic() < deadline:
        running = any(p.poll() is None for p in procs)
        b = os.path.join(d, f"bk{len(took):03d}.db")
        t0 = time.monotonic()
        r = run(db, "-q", "backup", b)
        took.append(time.monotonic() - t0)
        eq(r.code, 0, f"backup during imports: {r!r}")
        backups.append(b)
        during += running
        # keep at most 16 of the files (~20 MB each), evenly spread: a fast
        # machine takes hundreds of backups here (3 GB filled a CI disk)
        if len(backups) > 16:
            for gone in backups[-2::-2]:
                os.unlink(gone)
            backups = backups[::-1][::2][::-1]
        if not running:
            break
        time.sleep(0.1)
    for p in procs:
        out, err = p.communicate(timeout=600)
        eq(p.returncode, 0, f"importer: {err}")
    if running:
        # the deadline came first (a loaded machine): one backup after all
        b = os.path.join(d, f"bk{len(took):03d}.db")
        run(db, "-q", "backup", b, expect=0)
        backups.append(b)
    check(during >= 1, "at least one backup was taken while importers ran")
    seen = set()
    # every kept backup (the last included) is restored and checked
    for b in backups[::-1]:
        target = newdb() if PG else os.path.join(d, "restored-" + os.path.basename(b))
        r = run(target, "restore", b, "--format", "json", expect=0)
        info = r.json()
        r = run(target, "doctor", "--format", "json")
        eq(r.code, 0, f"doctor on the restore of {b}: {r.out}")
        jobs = sql(target, "SELECT id, source, status FROM jobs")
        eq(info["jobs"], len(jobs), "restore reports the job count")
        per_job = {jid: (nh, np) for jid, nh, np in sql(
            target, "SELECT j.id, (SELECT count(*) FROM host_scans h WHERE h.job_id = j.id), "
                    "(SELECT count(*) FROM ports p WHERE p.job_id = j.id) FROM jobs j")}
        addrs = set()
        for jid, src, status in jobs:
            eq(status, "completed", f"{b}: job {jid}")
            if src not in sums:
                continue
            s = sums[src]
            eq(per_job[jid], (s.hosts, s.ports),
               f"{b}: job {jid} is whole ({os.path.basename(src)})")
            addrs.update(s.addrs)
        nhosts = sql1(target, "SELECT count(*) FROM hosts")
        eq(nhosts, len(addrs) + 1, f"{b}: hosts = the union of its jobs' hosts (+ scanme)")
        seen.add(len(jobs))
        os.unlink(b)
        if not PG:
            os.unlink(target)
    print(f"     {len(took)} backups ({during} during the imports, {len(backups)} kept, "
          f"{min(took):.2f}-{max(took):.2f} s each); job counts in the "
          f"restored ones: {sorted(seen)}", flush=True)
    eq(max(seen), len(files) + 1, "the last backup has every job")


@t.case
def backup_keep_n():
    d, db = new_db([data("simple.xml")])
    bdir = os.path.join(d, "backups")
    os.makedirs(bdir)
    old = ["scandb-20200101-000000.db", "scandb-20210101-000000.db", "scandb-20220101-120000.db"]
    other = ["scandb-latest.db", "notes.txt", "scandb-2020.db", "scandb-20230101-000000.db.bak"]
    for n in old + other:
        with open(os.path.join(bdir, n), "w") as f:
            f.write("x")
    pat = os.path.join(bdir, "scandb-%Y%m%d-%H%M%S.db")
    r = run(db, "backup", "--keep", "2", "--format", "json", pat, expect=0)
    res = r.json()
    new = os.path.basename(res["file"])
    check(new.startswith("scandb-2") and new.endswith(".db"), f"expanded name {new}")
    eq(sorted(os.path.basename(x) for x in res["removed"]), old[:2], "removed")
    eq(sorted(os.listdir(bdir)), sorted([new, old[2]] + other), "what is left")
    check(backup_method_ok(res["method"]), f"method {res['method']}")
    check(res["bytes"] == os.path.getsize(res["file"]), "bytes")
    eq(os.stat(res["file"]).st_mode & 0o777, 0o600, "the backup is readable by its owner only")
    # --keep 1 leaves only the new one of the pattern
    time.sleep(1.1)
    r = run(db, "-q", "backup", "--keep", "1", pat, expect=0)
    newer = os.path.basename(r.out.strip())
    eq(sorted(os.listdir(bdir)), sorted([newer] + other), "keep 1")
    # an existing FILE is refused
    h0 = sha(os.path.join(bdir, newer))
    r = run(db, "backup", os.path.join(bdir, newer), expect=1)
    check("already exists" in r.err, r.err)
    eq(sha(os.path.join(bdir, newer)), h0, "existing file untouched")


def corrupt_pages(db, tables=("ports", "host_scans"), seed=7):
    """Overwrite the pages of `tables` with noise (the file still opens)."""
    checkpoint(db)
    con = ro(db)
    pages = [r[0] for r in con.execute(
        f"SELECT pageno FROM dbstat WHERE name IN ({','.join('?' * len(tables))})", tables)]
    con.close()
    check(pages, "pages to corrupt")
    rnd = random.Random(seed)
    with open(db, "r+b") as f:
        for p in pages:
            f.seek((p - 1) * 4096)
            f.write(rnd.randbytes(4096))


@t.case
def backup_refuses_damaged_database():
    """Issue 17: a backup of a database doctor calls corrupt is refused
    (exit 1, nothing written, --keep removes nothing), with the reason;
    before, it exited 0 and restore refused the file later."""
    sqlite_case("pages of the SQLite file overwritten")
    d, db = new_db()
    corrupt_pages(db)
    run(db, "doctor", expect=1)
    bdir = os.path.join(d, "backups")
    os.makedirs(bdir)
    old = os.path.join(bdir, "scandb-20200101-000000.db")
    shutil.copy(db, old)  # an older "backup" --keep 1 would remove
    for args in (["backup", os.path.join(bdir, "one.db")],
                 ["backup", "--keep", "1", os.path.join(bdir, "scandb-%Y%m%d-%H%M%S.db")]):
        r = run(db, *args)
        eq(r.code, 1, f"{args}: backup of a damaged database: {r!r}")
        check("damaged" in r.err and "doctor" in r.err, f"{args}: says why: {r.err!r}")
        eq(r.out, "", f"{args}: no file named on stdout")
        eq(os.listdir(bdir), [os.path.basename(old)], f"{args}: nothing written or removed")


@t.case
def backup_refuses_orphans_restore_would_refuse():
    """Issue 17 item 7 on PostgreSQL: rows that break a foreign key (written
    with the key's triggers off) made an archive that restore refused later.
    backup checks its snapshot as doctor does and refuses, writing nothing;
    once doctor's fix is applied, the same backup is written and restores."""
    if not PG:
        skip_case("PostgreSQL: orphan rows written behind the foreign keys' triggers "
                  "(the SQLite file's damage is backup_refuses_damaged_database)")
    d, db = new_db()
    host = sql1(db, "SELECT id FROM hosts ORDER BY id LIMIT 1")
    sql_script(db, "SET LOCAL session_replication_role = replica;\n"
                   f"INSERT INTO ports (job_id, host_id, protocol, port, state) "
                   f"VALUES (999, {host}, 'tcp', 1, 'open');\n")
    path = os.path.join(d, "orphans.dump")
    r = run(db, "backup", path)
    eq(r.code, 1, f"backup of a database with an orphan row: {r!r}")
    check("damaged" in r.err and "FOREIGN KEY" in r.err and "doctor" in r.err,
          f"says why: {r.err!r}")
    eq(os.listdir(d), [], "nothing written")
    _, rep = doctor_json(db, expect=1)
    sql_script(db, "\n".join(p["fix"] for p in problems_of(rep, "orphans")))
    run(db, "backup", path, expect=0)
    target = newdb()
    run(target, "migrate", "up", expect=0)
    run(target, "restore", path, expect=0)
    eq(sql1(target, "SELECT count(*) FROM ports"), sql1(db, "SELECT count(*) FROM ports"),
       "ports restored")

def big_db(d, hosts=6000, ports=10):
    """A database of the backend under test with one generated scan of
    `hosts` hosts (a backup of it takes a noticeable moment)."""
    db = newdb() if PG else os.path.join(d, "big.db")
    path = os.path.join(d, "big.xml")
    generate(path, hosts=hosts, ports=ports, seed=3)
    run(db, "-q", "--no-progress", "import", path, expect=0, timeout=600)
    os.unlink(path)
    return db


def backup_is_whole(path):
    """A file `backup` published is a complete backup: SQLite's
    integrity_check passes, or pg_restore can list the archive."""
    if PG:
        p = subprocess.run([os.path.join(pg_env()["SCANDB_PG_BIN"], "pg_restore"), "--list",
                            path], capture_output=True, text=True, timeout=120)
        return p.returncode == 0 and "TABLE DATA" in p.stdout
    con = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    try:
        return con.execute("PRAGMA integrity_check").fetchall() == [("ok",)] and \
            con.execute("SELECT count(*) FROM jobs").fetchone()[0] == 1
    finally:
        con.close()


def tools_writing(path):
    """Processes (pg_dump) whose command line names `path`."""
    found = []
    for pid in os.listdir("/proc"):
        if not pid.isdigit():
            continue
        try:
            with open(f"/proc/{pid}/cmdline", "rb") as f:
                if path.encode() in f.read():
                    found.append(int(pid))
        except OSError:
            pass
    return found


@t.case
def backup_signals_leave_nothing_partial():
    """Issue 17: SIGINT, SIGTERM or SIGHUP at a random moment of a backup
    ends scandb by the signal (or the backup was done), and leaves either
    nothing or the complete backup: never FILE.tmp-XXXXXX nor its journal,
    nor a pg_dump still writing."""
    d = tmpdir("scandb-ops-sig-")
    db = big_db(d)
    bdir, tmp = os.path.join(d, "backups"), os.path.join(d, "tmp")
    os.makedirs(bdir)
    os.makedirs(tmp)
    t0 = time.monotonic()
    run(db, "-q", "backup", os.path.join(bdir, "first.db"), expect=0, timeout=300)
    dur = time.monotonic() - t0
    os.unlink(os.path.join(bdir, "first.db"))
    rnd = random.Random(17)
    sigs = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)
    seen = {"ended by the signal": 0, "completed": 0}
    for i in range(15):
        sig = sigs[i % 3]
        out = os.path.join(bdir, f"b{i:02d}.db")
        p = subprocess.Popen([SCANDB, "--db", db, "-q", "backup", out],
                             env=dict(os.environ, TMPDIR=tmp), stdout=subprocess.PIPE,
                             stderr=subprocess.PIPE, text=True)
        time.sleep(rnd.uniform(0.0, dur * 1.1))
        p.send_signal(sig)
        _, err = p.communicate(timeout=300)
        names = sorted(os.listdir(bdir))
        eq([n for n in names if n != os.path.basename(out)], [],
           f"round {i} ({sig.name}): leftovers (exit {p.returncode}, {err.strip()!r})")
        if p.returncode == 0:
            seen["completed"] += 1
        else:
            eq(p.returncode, -sig, f"round {i}: scandb ends by {sig.name} ({err.strip()!r})")
            seen["ended by the signal"] += 1
        if names:  # published just before the signal: then it is whole
            check(backup_is_whole(out), f"round {i}: a published backup is complete")
            os.unlink(out)
        eq(os.listdir(tmp), [], f"round {i}: nothing in TMPDIR")
        deadline = time.monotonic() + 10
        while tools_writing(out) and time.monotonic() < deadline:
            time.sleep(0.05)
        eq(tools_writing(out), [], f"round {i}: no tool still writing the backup")
    print(f"     one backup {dur:.2f}s; {seen}", flush=True)
    check(seen["ended by the signal"] >= 5, f"signals landed during the backup: {seen}")


@t.case
def backup_keep_removes_leftovers_of_killed_backups():
    """Issue 17: what a SIGKILLed backup leaves (FILE.tmp-XXXXXX and its
    -journal: SIGKILL cannot be caught) is removed by the next `backup
    --keep` of the same pattern, once no live backup holds it; a file a
    running backup holds, a young one, or one of another pattern stays."""
    import fcntl
    d, db = new_db([data("simple.xml")])
    bdir = os.path.join(d, "backups")
    os.makedirs(bdir)
    hour_ago = time.time() - 3600

    def make(name, age=True):
        path = os.path.join(bdir, name)
        with open(path, "wb") as f:
            f.write(b"x" * 4096)
        if age:
            os.utime(path, (hour_ago, hour_ago))
        return path

    stale = [make("scandb-20240101-000000.db.tmp-AbC123"),
             make("scandb-20240101-000000.db.tmp-AbC123-journal"),
             make("scandb-20240102-000000.db.tmp-ZyX987-journal")]  # its file is gone
    held = make("scandb-20240103-000000.db.tmp-Held12")
    young = make("scandb-20240104-000000.db.tmp-Young1", age=False)
    other = [make("other-20240101-000000.db.tmp-AbC123"), make("notes.tmp-AbC123")]
    # a live backup holds its file's lock (flock, as scandb does)
    fd = os.open(held, os.O_RDONLY)
    fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    try:
        pat = os.path.join(bdir, "scandb-%Y%m%d-%H%M%S.db")
        r = run(db, "backup", "--keep", "5", "--format", "json", pat, expect=0)
    finally:
        os.close(fd)
    res = r.json()
    eq(sorted(res["removed"]), sorted(stale), "removed: the leftovers no backup holds")
    eq(sorted(os.listdir(bdir)),
       sorted(os.path.basename(x) for x in [held, young] + other + [res["file"]]),
       "what is left")
    # a real one: pg_dump (PostgreSQL) or SQLite killed with SIGKILL
    if PG:
        time.sleep(1.1)  # another second: another name
        wrap, started = sleeping_pg_dump(d)
        env = dict(os.environ, SCANDB_PG_BINDIR=wrap)
        p = subprocess.Popen([SCANDB, "--db", db, "backup", pat], env=env,
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        child = wait_started(p, started)
        p.kill()
        p.communicate(timeout=30)
        os.kill(child, 9)  # the wrapper we wrote, by its pid
        gone(child)
        left = [x for x in os.listdir(bdir) if ".tmp-" in x and x not in
                [os.path.basename(y) for y in [held, young] + other]]
        eq(len(left), 1, f"SIGKILL left the temporary file: {os.listdir(bdir)}")
        for x in left:
            os.utime(os.path.join(bdir, x), (hour_ago, hour_ago))
        time.sleep(1.1)
        r = run(db, "backup", "--keep", "5", "--format", "json", pat, expect=0)
        # (and the one the test held: nobody holds it now)
        eq(sorted(os.path.basename(x) for x in r.json()["removed"]),
           sorted(left + [os.path.basename(held)]),
           "the SIGKILLed backup's leftover is removed")


FULL_SCRIPT = r"""size=$1; dir=$2; shift 2
mount -t tmpfs -o "size=$size" tmpfs "$dir" || exit 97
"$@"; rc=$?
printf '@@LEFT@@\n'; ls -A "$dir"
exit $rc
"""


def with_full_disk(d, size, argv, env=None):
    """Run argv with a fresh tmpfs of `size` mounted on the directory d: a
    real full disk (ENOSPC), in a private mount namespace (unshare -m; a
    user namespace too when not root) that nothing else sees and that goes
    with the process.  Returns (exit code, stdout, stderr, the names left in
    d before the tmpfs went away).  Skips loudly where no tmpfs can be
    mounted.  (RLIMIT_FSIZE is no full disk: SIGXFSZ, then EFBIG.)"""
    ns = ["unshare", "-m", "--propagation", "private"] + (["-r"] if os.geteuid() else [])
    argv = ns + ["sh", "-c", FULL_SCRIPT, "sh", size, d] + [str(a) for a in argv]
    p = subprocess.run(argv, capture_output=True, text=True, timeout=600,
                       env=dict(os.environ, **(env or {})))
    if p.returncode == 97 or "@@LEFT@@" not in p.stdout:
        skip_case(f"cannot mount a small tmpfs (needs root or user namespaces): "
                  f"{p.stderr.strip()[-200:]!r}")
    out, _, left = p.stdout.partition("@@LEFT@@\n")
    return p.returncode, out, p.stderr, sorted(left.split())


@t.case
def full_disk_says_so_and_leaves_nothing():
    """Issue 17: a backup onto a full disk fails with "the disk is full" and
    the directory (not "disk I/O error"), and leaves neither the file nor
    FILE.tmp-XXXXXX nor its journal; an import into a database on a full
    disk says the same and leaves the database sound."""
    d = tmpdir("scandb-ops-full-")
    db = big_db(d, hosts=3000, ports=10)
    full = os.path.join(d, "full")
    os.makedirs(full)
    for args in (["backup", os.path.join(full, "b.db")],
                 ["backup", "--keep", "2", os.path.join(full, "b-%Y%m%d-%H%M%S.db")]):
        code, out, err, left = with_full_disk(full, "256k", [SCANDB, "--db", db] + args)
        eq(code, 1, f"{args}: exit status ({err.strip()!r})")
        check("the disk is full" in err and full in err,
              f"{args}: says the disk is full, and where: {err.strip()!r}")
        check("I/O error" not in err, f"{args}: no 'disk I/O error': {err.strip()!r}")
        eq(left, [], f"{args}: nothing left on the full disk")
    if PG:
        return
    # SQLite: the database itself on the full disk
    xml = os.path.join(d, "more.xml")
    generate(xml, hosts=3000, ports=10, seed=9)
    sdb = os.path.join(full, "s.db")
    script = (f'"$0" --db "$1" -q import "$2"; echo "import=$?"; '
              f'"$0" --db "$1" -q import "$3"; "$0" --db "$1" doctor >/dev/null; '
              f'echo "doctor=$?"')
    code, out, err, left = with_full_disk(
        full, "1m", ["sh", "-c", script, SCANDB, sdb, data("simple.xml"), xml])
    check("import=0" in out, f"a small import fits: {out!r} {err!r}")
    check("the disk is full" in err and full in err,
          f"import: says the disk is full, and where: {err.strip()!r}")
    check("I/O error" not in err, f"import: no 'disk I/O error': {err.strip()!r}")
    check("doctor=0" in out, f"the database is sound after the failed import: {out!r}")


@t.case
def backup_keep_first_in_empty_directory():
    """The first `backup --keep N` in a directory has no older backup to
    sort (issue 17: qsort(NULL, 0) was undefined behaviour, and the
    sanitizer build exited 1 after writing the backup)."""
    d, db = new_db([data("simple.xml")])
    bdir = os.path.join(d, "first")
    os.makedirs(bdir)
    pat = os.path.join(bdir, "scandb-%Y%m%d-%H%M%S.db")
    r = run(db, "backup", "--keep", "3", "--format", "json", pat)
    eq(r.code, 0, f"first backup --keep in an empty directory: {r!r}")
    res = r.json()
    eq(res["removed"], [], "nothing to remove")
    eq(os.listdir(bdir), [os.path.basename(res["file"])], "only the new backup")
    check("runtime error" not in r.err, f"no sanitizer report: {r.err!r}")


@t.case
def backup_tool_missing():
    if not PG:
        skip_case("PostgreSQL-only: pg_dump (SQLite backs up in-process)")
    d, db = new_db([data("simple.xml")])
    empty = os.path.join(d, "no-tools")
    os.makedirs(empty)
    b = os.path.join(d, "b.db")
    r = run(db, "backup", b, env={"SCANDB_PG_BINDIR": empty}, expect=1)
    check("pg_dump not found" in r.err and "postgresql-client" in r.err, r.err)
    eq(sorted(os.listdir(d)), ["no-tools"], "nothing written")
    r = run(db, "restore", "--force", b, env={"SCANDB_PG_BINDIR": empty}, expect=1)
    check("nothing was changed" in r.err, r.err)


@t.case
def backup_password_never_in_argv_or_environment():
    """PostgreSQL: pg_dump and pg_restore get the password in a 0600
    passfile (PGPASSFILE) that is an anonymous file (/dev/fd/N: no name on
    any disk); never in argv or PGPASSWORD.  Wrappers in SCANDB_PG_BINDIR
    record what they were given."""
    if not PG:
        skip_case("PostgreSQL-only: the password of a server connection")
    d, db, _, user, pw = pw_role_db()
    e = pg_env()
    udb = pg_url(pg_dbname(db), user=user, password=pw)
    wrap = os.path.join(d, "bin")
    os.makedirs(wrap)
    for tool in ("pg_dump", "pg_restore"):
        rec = os.path.join(d, f"{tool}.seen")
        path = os.path.join(wrap, tool)
        with open(path, "w") as f:
            f.write("#!/bin/sh\n"
                    f"{{ printf '%s\\n' \"$@\"; env; echo mode=$(stat -L -c %a \"$PGPASSFILE\"); "
                    f"}} >> '{rec}'\n"
                    f"exec '{os.path.join(e['SCANDB_PG_BIN'], tool)}' \"$@\"\n")
        os.chmod(path, 0o755)
    b = os.path.join(d, "b.db")
    env = {"SCANDB_PG_BINDIR": wrap, "PGPASSWORD": "not-this-one"}
    r = run(udb, "backup", b, env=env, expect=0)
    target = newdb()
    psql(target, f"GRANT CREATE ON SCHEMA public TO {user};\n")
    tdb = pg_url(pg_dbname(target), user=user, password=pw)
    run(tdb, "restore", b, env=env, expect=0)
    for tool in ("pg_dump", "pg_restore"):
        with open(os.path.join(d, f"{tool}.seen")) as f:
            # (pg-cluster.sh exec exports the test cluster's own variables,
            # the password role's among them: not scandb's doing)
            seen = "".join(x for x in f if not x.startswith("SCANDB_PG_PW_PASSWORD="))
        check(pw not in seen, f"{tool}: the password is not in its argv or environment")
        check("PGPASSWORD=" not in seen, f"{tool}: no PGPASSWORD")
        check("PGPASSFILE=" in seen and "mode=600" in seen, f"{tool}: a 0600 passfile: {seen}")
        for pf in re.findall(r"^PGPASSFILE=(.*)$", seen, re.M):
            check(re.fullmatch(r"/dev/fd/[0-9]+", pf),
                  f"{tool}: the passfile is an anonymous file, not {pf!r}")
    eq(dump(target), dump(db), "restored by the password role through the wrappers")


def pw_role_db():
    """PostgreSQL: a database with the shared samples, usable by the password
    role; (dir, scandb db, URL without password, user, password)."""
    d, db = new_db([data("simple.xml")])
    e = pg_env()
    user, pw = e["SCANDB_PG_PW_USER"], e["SCANDB_PG_PW_PASSWORD"]
    psql(db, f"GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA public TO {user};\n"
             f"GRANT USAGE, SELECT, UPDATE ON ALL SEQUENCES IN SCHEMA public TO {user};\n"
             f"GRANT CREATE ON SCHEMA public TO {user};\n")
    return d, db, pg_url(pg_dbname(db), user=user), user, pw


def sleeping_pg_dump(d):
    """A pg_dump (in SCANDB_PG_BINDIR) that records its pid and the passfile
    it was given, then sleeps; (bin dir, file naming its pid)."""
    wrap = os.path.join(d, "bin")
    os.makedirs(wrap)
    started = os.path.join(d, "started")
    with open(os.path.join(wrap, "pg_dump"), "w") as f:
        f.write(f"#!/bin/sh\ncat \"$PGPASSFILE\" > /dev/null\n"
                f"echo $$ > '{started}.new'; mv '{started}.new' '{started}'\n"
                "exec sleep 60\n")
    os.chmod(os.path.join(wrap, "pg_dump"), 0o755)
    return wrap, started


def wait_started(p, started):
    deadline = time.monotonic() + 30
    while not os.path.exists(started) and time.monotonic() < deadline and p.poll() is None:
        time.sleep(0.05)
    check(os.path.exists(started), f"pg_dump never started (exit {p.poll()})")
    with open(started) as f:
        return int(f.read())


def gone(pid, timeout=10):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return True
        time.sleep(0.05)
    return False


def files_holding(dirs, needle, shallow=()):
    """Every regular file under `dirs` (and directly in the `shallow` ones,
    up to 1 MB each) whose content holds `needle`; the test cluster's own
    environment file (which names the password role's password) aside."""
    found, own = [], os.path.realpath(os.environ.get("SCANDB_PG_ENV", "/nonexistent"))

    def look(path, limit=None):
        try:
            if not os.path.isfile(path) or os.path.islink(path) or \
                    os.path.realpath(path) == own:
                return
            if limit and os.path.getsize(path) > limit:
                return
            with open(path, "rb") as f:
                if needle.encode() in f.read():
                    found.append(path)
        except OSError:
            pass
    for top in dirs:
        for root, _, names in os.walk(top):
            for n in names:
                look(os.path.join(root, n))
    for top in shallow:
        if os.path.isdir(top):
            for n in os.listdir(top):
                look(os.path.join(top, n), 1 << 20)
    return found


@t.case
def backup_signal_leaves_nothing():
    """PostgreSQL: SIGTERM while pg_dump runs (a wrapper that sleeps) ends
    scandb by the signal, kills the tool, and leaves neither a passfile nor
    the backup's temporary file behind."""
    if not PG:
        skip_case("PostgreSQL-only: pg_dump")
    d, db, url, user, pw = pw_role_db()
    udb = pg_url(pg_dbname(db), user=user, password=pw)
    wrap, started = sleeping_pg_dump(d)
    tmp, out = os.path.join(d, "tmp"), os.path.join(d, "out")
    os.makedirs(tmp)
    os.makedirs(out)
    env = dict(os.environ, SCANDB_PG_BINDIR=wrap, TMPDIR=tmp)
    p = subprocess.Popen([SCANDB, "--db", udb, "backup", os.path.join(out, "b.db")], env=env,
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        child = wait_started(p, started)
        eq(os.listdir(tmp), [], "nothing in TMPDIR while pg_dump runs")
        eq(files_holding([d], pw), [], "files holding the password while pg_dump runs")
        p.send_signal(15)
        p.communicate(timeout=30)
    finally:
        if p.poll() is None:
            p.kill()
            p.communicate(timeout=30)
    eq(p.returncode, -15, "scandb ends by SIGTERM")
    eq(os.listdir(out), [], "no backup and no temporary file left")
    eq(os.listdir(tmp), [], "nothing left in TMPDIR")
    if not gone(child):
        os.kill(child, 9)
        raise AssertionError("pg_dump (the wrapper) was not killed")


@t.case
def backup_sigkill_leaves_no_password():
    """PostgreSQL (issue 17): SIGKILL during a backup cannot be caught, so
    the password must never have been in a file with a name: nothing under
    TMPDIR, /tmp, /dev/shm or the backup's directory holds it afterwards."""
    if not PG:
        skip_case("PostgreSQL-only: the password handed to pg_dump")
    d, db, url, user, pw = pw_role_db()
    udb = pg_url(pg_dbname(db), user=user, password=pw)
    wrap, started = sleeping_pg_dump(d)
    tmp, out = os.path.join(d, "tmp"), os.path.join(d, "out")
    os.makedirs(tmp)
    os.makedirs(out)
    env = dict(os.environ, SCANDB_PG_BINDIR=wrap, TMPDIR=tmp)
    # (the test cluster's own variables name the password: not scandb's)
    env.pop("SCANDB_PG_PW_PASSWORD", None)
    p = subprocess.Popen([SCANDB, "--db", udb, "backup", os.path.join(out, "b.db")], env=env,
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    child = None
    try:
        child = wait_started(p, started)
        p.kill()  # SIGKILL, our own child
        p.communicate(timeout=30)
    finally:
        if p.poll() is None:
            p.kill()
            p.communicate(timeout=30)
        if child and not gone(child, 0):
            os.kill(child, 9)  # the wrapper we wrote, by its pid
    eq(p.returncode, -9, "scandb was killed")
    eq(files_holding([tmp, out], pw, shallow=["/tmp", "/dev/shm"]), [],
       "files holding the password after SIGKILL")
    eq([x for x in os.listdir(tmp)], [], "nothing in TMPDIR")


@t.case
def backup_with_users_own_passfile():
    """PostgreSQL: a login through the user's own PGPASSFILE (no password in
    the target): pg_dump and pg_restore keep that PGPASSFILE."""
    if not PG:
        skip_case("PostgreSQL-only: PGPASSFILE")
    d, db, url, user, pw = pw_role_db()
    pf = os.path.join(d, "my.pgpass")
    with open(pf, "w") as f:
        f.write(f"*:*:*:{user}:{pw}\n")
    os.chmod(pf, 0o600)
    env = {"PGPASSFILE": pf}
    b = os.path.join(d, "b.db")
    r = run(url, "backup", b, env=env)
    eq(r.code, 0, f"backup through PGPASSFILE: {r!r}")
    target = newdb()
    psql(target, f"GRANT CREATE ON SCHEMA public TO {user};\n")
    r = run(pg_url(pg_dbname(target), user=user), "restore", b, env=env)
    eq(r.code, 0, f"restore through PGPASSFILE: {r!r}")
    eq(dump(target), dump(db), "restored through PGPASSFILE")


def make_backup(db, d):
    b = os.path.join(d, f"bk-{random.Random().randrange(1 << 30)}.db")
    run(db, "-q", "backup", b, expect=0)
    return b


def pg_dump_other(d):
    """PostgreSQL: a pg_dump custom archive of a database that is not scandb's."""
    other_db = newdb()
    sql_script(other_db, "CREATE TABLE foo (x integer); INSERT INTO foo VALUES (1);")
    path = os.path.join(d, "other.db")
    subprocess.run([os.path.join(pg_env()["SCANDB_PG_BIN"], "pg_dump"), "-Fc", "-f", path,
                    "-d", other_db], check=True, capture_output=True, timeout=120)
    return path


def tampered_backup(good, d, script):
    """A backup of `good` restored somewhere, changed by `script`, dumped
    (as a backup made by another tool, or before scandb checked them)."""
    if not PG:
        path = os.path.join(d, f"tampered-{random.Random().randrange(1 << 30)}.db")
        shutil.copy(good, path)
        con = sqlite3.connect(path)
        con.executescript(script)
        con.close()
        return path
    scratch = newdb()
    run(scratch, "-q", "restore", good, expect=0)
    sql_script(scratch, script)
    # pg_dump itself: scandb's backup refuses a database restore would refuse
    path = os.path.join(d, f"tampered-{random.Random().randrange(1 << 30)}.db")
    subprocess.run([os.path.join(pg_env()["SCANDB_PG_BIN"], "pg_dump"), "-Fc", "-f", path,
                    "-d", scratch], check=True, capture_output=True, timeout=120)
    return path


@t.case
def restore_refuses_bad_files_changing_nothing():
    d, src = new_db([data("complex.xml")])
    good = make_backup(src, d)
    good_sum = sha(good)
    _, target = new_db([data("simple.xml")])
    before = dump(target)

    def refused(path, why, *extra):
        r = run(target, "restore", *extra, path)
        eq(r.code, 1, f"restore {why}: {r!r}")
        check("nothing was changed" in r.err, f"{why}: says nothing changed: {r.err!r}")
        eq(dump(target), before, f"{why}: target unchanged")
        return r

    notdb = os.path.join(d, "notes.txt")
    with open(notdb, "w") as f:
        f.write("hello\n" * 1000)
    r = refused(notdb, "a text file", "--force")
    check(("not a pg_dump custom-format archive" if PG else "not a SQLite database") in r.err,
          r.err)

    if PG:
        other = pg_dump_other(d)
    else:
        other = os.path.join(d, "other.db")
        con = sqlite3.connect(other)
        con.execute("CREATE TABLE foo (x)")
        con.commit()
        con.close()
    r = refused(other, "another database", "--force")
    check("not a scandb database" in r.err, r.err)

    tampered = tampered_backup(good, d, "UPDATE schema_migrations SET checksum = '{}' "
                                        "WHERE version = 2;".format("a" * 64))
    r = refused(tampered, "a changed migration", "--force")
    check("differs" in r.err and "0002" in r.err, r.err)

    newer = tampered_backup(good, d, "INSERT INTO schema_migrations (version, name, checksum, "
                                     "applied_at) VALUES (9999, 'future', '{}', {});"
                                     .format("b" * 64, ts_sql(0)))
    r = refused(newer, "a newer database", "--force")
    check("newer scandb" in r.err, r.err)

    if PG:
        # the archive is read whole only by the restore itself: a
        # truncated one fails while listing or reading, a damaged one
        # (orphan rows: the foreign key is added after the rows) inside
        # the restore's transaction, which rolls back
        trunc = os.path.join(d, "truncated.db")
        with open(good, "rb") as f, open(trunc, "wb") as g:
            g.write(f.read()[:os.path.getsize(good) * 2 // 3])
        refused(trunc, "a truncated backup", "--force")
        orphan = tampered_backup(good, d, "SET LOCAL session_replication_role = replica;\n"
                                          "INSERT INTO ports (job_id, host_id, protocol, port, "
                                          "state) VALUES (999, 1, 'tcp', 1, 'open');")
        r = refused(orphan, "a backup whose rows break a foreign key", "--force")
        check("foreign key" in r.err, r.err)
    else:
        corrupt = os.path.join(d, "corrupt.db")
        shutil.copy(good, corrupt)
        con = ro(corrupt)
        pages = [r[0] for r in con.execute("SELECT pageno FROM dbstat WHERE name = 'ports'")]
        con.close()
        with open(corrupt, "r+b") as f:
            for p in pages:
                f.seek((p - 1) * 4096 + 8)
                f.write(random.Random(3).randbytes(4000))
        r = refused(corrupt, "a corrupt backup", "--force")
        check("integrity" in r.err or "malformed" in r.err, r.err)

    r = refused(good, "into a non-empty database without --force")
    check("--force" in r.err and "not empty" in r.err, r.err)
    r = refused(os.path.join(d, "missing.db"), "a missing file", "--force")

    # --force: the target becomes the backup's content
    r = run(target, "restore", "--force", good, expect=0)
    check("restored" in r.out, r.out)
    eq(run(target, "hosts", "--format", "json", expect=0).out,
       run(src, "hosts", "--format", "json", expect=0).out, "restored hosts")
    eq(dump(target), dump(src), "restored rows")
    run(target, "doctor", expect=0)
    eq(sha(good), good_sum, "restore does not change the backup file")
    # and scandb goes on writing to it
    run(target, "-q", "import", data("os.xml"), expect=0)
    run(target, "doctor", expect=0)


def damage(path, kind):
    """Damage a SQLite file the ways a disk or a careless copy does."""
    size = os.path.getsize(path)
    with open(path, "r+b") as f:
        if kind == "truncated to half":
            f.truncate(size // 2)
        elif kind == "truncated to one page":
            f.truncate(4096)
        elif kind == "header overwritten":
            f.write(b"not a database!!")
        elif kind == "page size field":
            f.seek(16)
            f.write(b"\x00\x03")
        elif kind == "first page garbled":
            f.seek(100)
            f.write(random.Random(5).randbytes(3996))
        else:
            raise ValueError(kind)


DAMAGES = ("truncated to half", "truncated to one page", "header overwritten",
           "page size field", "first page garbled")


@t.case
def restore_force_replaces_damaged_database():
    """Issue 17: restoring over a damaged database is what restore is for.
    A SQLite file too damaged to open: doctor says restore is the way out,
    restore without --force changes nothing and says to add it, restore
    --force BACKUP replaces it (the damaged file kept aside, byte for byte);
    a bad backup over it changes nothing either."""
    sqlite_case("a damaged SQLite file")
    d, src = new_db()
    good = make_backup(src, d)
    bad = os.path.join(d, "bad.db")
    with open(bad, "wb") as f:
        f.write(b"this is no backup" * 100)
    want = counts(src)
    for kind in DAMAGES:
        wd = os.path.join(d, kind.replace(" ", "-"))
        os.makedirs(wd)
        db = os.path.join(wd, "s.db")
        shutil.copy(src, db)
        checkpoint(db)
        for x in ("-wal", "-shm"):
            if os.path.exists(db + x):
                os.unlink(db + x)
        damage(db, kind)
        h0 = sha(db)
        r, rep = doctor_json(db, expect=1)
        fixes = " ".join(p["fix"] or "" for p in rep["problems"])
        check("restore --force" in fixes, f"{kind}: doctor says restore is the way out: {rep}")
        r = run(db, "doctor")
        check("restore --force" in r.out, f"{kind}: doctor (table) says so too: {r.out!r}")
        r = run(db, "restore", good)
        eq(r.code, 1, f"{kind}: restore without --force: {r!r}")
        check("--force" in r.err and "nothing was changed" in r.err, f"{kind}: {r.err!r}")
        eq(sha(db), h0, f"{kind}: untouched without --force")
        r = run(db, "restore", "--force", bad)
        eq(r.code, 1, f"{kind}: a bad backup over it: {r!r}")
        check("nothing was changed" in r.err, f"{kind}: {r.err!r}")
        eq(sha(db), h0, f"{kind}: untouched by a bad backup")
        eq(sorted(x for x in os.listdir(wd) if not x.startswith("s.db-")), ["s.db"],
           f"{kind}: nothing left by the refused restores")
        r = run(db, "restore", "--force", "--format", "json", good)
        eq(r.code, 0, f"{kind}: restore --force over the damaged file: {r!r}")
        kept = r.json()["damaged_kept_as"]
        check(kept.startswith(db + ".damaged-"), f"{kind}: kept as {kept}")
        eq(sha(kept), h0, f"{kind}: the damaged file is kept byte for byte")
        check(kept in r.err, f"{kind}: says where the damaged file is: {r.err!r}")
        run(db, "doctor", expect=0)
        eq(counts(db), want, f"{kind}: the restored database is the backup")
        check(not [x for x in os.listdir(wd) if ".restore-" in x or ".tmp-" in x],
              f"{kind}: no temporary file left: {os.listdir(wd)}")


@t.case
def restore_into_new_database():
    d, src = new_db()
    b = make_backup(src, d)
    target = newdb() if PG else os.path.join(d, "fresh", "new.db")
    r = run(target, "restore", "--format", "json", b, expect=0)
    info = r.json()
    eq(info["pending_migrations"], 0, "pending")
    eq(info["jobs"], counts(src)["jobs"], "jobs")
    eq(counts(target), counts(src), "row counts")
    if not PG:
        con = ro(target)
        eq(con.execute("PRAGMA journal_mode").fetchone()[0], "wal", "restored db is WAL again")
        con.close()
    run(target, "doctor", expect=0)
    # a failed restore into a missing database leaves no database behind
    missing = nodb()
    run(missing, "restore", os.path.join(d, "nothing-here.db"), expect=1)
    check(not db_exists(missing), "no database left behind")


@t.case
def restore_older_backup_then_migrate():
    d, src = new_db([data("simple.xml")])
    run(src, "-q", "migrate", "down", "--force", expect=0)
    b = make_backup(src, d)
    target = newdb() if PG else os.path.join(d, "t.db")
    r = run(target, "restore", b, expect=0)
    check("migrate up" in r.err, f"says to migrate: {r.err!r}")
    run(target, "-q", "migrate", "up", expect=0)
    run(target, "doctor", expect=0)


# ---- prune ---------------------------------------------------------------------

def prune_fixture():
    """J0: host 50 alone, 400 days ago; J1..J3: hosts 0-19 300/200/100 days
    ago (same content); J4: hosts 0-9 10 days ago; an old running job."""
    d = tmpdir("scandb-ops-prune-")
    db = newdb() if PG else os.path.join(d, "p.db")
    specs = [([host_addr(50)], 400, 1), ([host_addr(j) for j in range(20)], 300, 2),
             ([host_addr(j) for j in range(20)], 200, 2),
             ([host_addr(j) for j in range(20)], 100, 2),
             ([host_addr(j) for j in range(10)], 10, 3)]
    files = []
    for k, (addrs, age, seed) in enumerate(specs):
        path = os.path.realpath(os.path.join(d, f"j{k}.xml"))
        generate(path, addrs=addrs, ports=5, seed=seed, start=NOW - age * DAY)
        files.append(path)
    for f in files:  # one at a time: job ids follow the list
        run(db, "-q", "import", f, expect=0)
    sql_script(db, "INSERT INTO jobs (kind, source, status, created_at, timeout_at, worker_id) "
                   f"VALUES ('scan', 'nmap', 'running', {ts_sql(NOW - 500 * DAY)}, "
                   f"{ts_sql(NOW + 3600)}, 'elsewhere:1');")
    ids = [r[0] for r in sql(db, "SELECT id FROM jobs ORDER BY id")]
    return d, db, ids


@t.case
def prune_dry_run_changes_nothing():
    d, db, ids = prune_fixture()
    before = dump(db)
    r = run(db, "prune", "--older-than", "90d", "--dry-run", "--format", "json", expect=0)
    res = r.json()
    eq(res["dry_run"], True, "dry_run")
    eq(res["jobs"], [ids[1], ids[2]], "jobs that would go")
    check("nothing was changed" in r.err, r.err)
    eq(dump(db), before, "dry run changed nothing")
    r = run(db, "prune", "--older-than", "90d", "--dry-run", expect=0)
    check(r.out.startswith("would remove 2 jobs"), r.out)
    rows = list(csv.DictReader(io.StringIO(
        run(db, "prune", "--older-than", "90d", "--dry-run", "--format", "csv", expect=0).out)))
    eq({r["table"]: int(r["rows"]) for r in rows if r["action"] == "deleted"},
       {**res["deleted"]}, "csv: deleted rows per table (one cascade column each)")
    eq(dump(db), before, "dry run (table) changed nothing")


@t.case
def prune_keeps_current_state_and_reports_counts():
    d, db, ids = prune_fixture()
    hosts_before = run(db, "hosts", "--format", "json", expect=0).out
    latest = {h["addr"]: h["job_id"] for h in json.loads(hosts_before)}
    c0 = counts(db)
    res = run(db, "prune", "--older-than", "90d", "--format", "json", expect=0).json()
    eq(res["dry_run"], False, "dry_run")
    eq(res["jobs"], [ids[1], ids[2]], "removed jobs")
    c1 = counts(db)
    for tb, n in res["deleted"].items():
        eq(c0[tb] - c1[tb], n, f"rows removed from {tb}")
    for tb in c0:
        if tb not in res["deleted"]:
            eq(c1[tb], c0[tb], f"{tb} untouched")
    eq(res["kept"], {"current_state": 2, "unfinished": 1, "keep_last": 0}, "kept")
    # the current state did not change, and every host's latest job is there
    eq(run(db, "hosts", "--format", "json", expect=0).out, hosts_before, "hosts")
    have = {r[0] for r in sql(db, "SELECT id FROM jobs")}
    check(set(latest.values()) <= have, "every host's latest job is kept")
    check(ids[0] in have, "the only job that saw host 50 is kept (400 days old)")
    check(ids[5] in have, "the running job is kept")
    run(db, "doctor", expect=0)
    # nothing more to do
    res = run(db, "prune", "--older-than", "90d", "--format", "json", expect=0).json()
    eq(res["jobs"], [], "second prune")
    # a cutoff beyond everything still keeps what the current state needs
    run(db, "-q", "prune", "--older-than", "2099-01-01", "--force", expect=0)
    eq(run(db, "hosts", "--format", "json", expect=0).out, hosts_before, "hosts after all")
    run(db, "doctor", expect=0)


@t.case
def prune_cutoff_is_exact():
    """A date cutoff is that day's midnight UTC, compared with the scan
    times (PostgreSQL: timestamptz against to_timestamp(cutoff)): a job
    scanned that day stays, with the next day's cutoff it goes."""
    d, db, ids = prune_fixture()
    at = sql1(db, "SELECT {} FROM jobs WHERE id = ?".format(
        "CAST(extract(epoch FROM coalesce(started_at, created_at)) AS bigint)" if PG
        else "coalesce(started_at, created_at)"), (ids[1],))
    day = time.strftime("%Y-%m-%d", time.gmtime(at))
    # a date cutoff is midnight UTC: J1 (300 days ago) is before the next
    # day's midnight and not before its own day's
    res = run(db, "prune", "--older-than", day, "--dry-run", "--format", "json", expect=0).json()
    check(ids[1] not in res["jobs"], f"cutoff {day} (J1 at {at}): {res['jobs']}")
    nxt = time.strftime("%Y-%m-%d", time.gmtime(at + DAY))
    res = run(db, "prune", "--older-than", nxt, "--dry-run", "--format", "json", expect=0).json()
    eq(res["jobs"], [ids[1]], f"cutoff {nxt} (J1 at {at})")


@t.case
def prune_keep_last():
    d, db, ids = prune_fixture()
    res = run(db, "prune", "--older-than", "90d", "--keep-last", "3", "--format", "json",
              expect=0).json()
    # the three newest by scan time: J4, J3, J2
    eq(res["jobs"], [ids[1]], "removed with --keep-last 3")
    eq(res["kept"]["keep_last"], 2, "old jobs kept by --keep-last (J2, J3)")


@t.case
def prune_while_importing():
    """prune takes the write lock like an importer: run together, every
    process succeeds, and the result is consistent."""
    d, db, ids = prune_fixture()
    files = []
    for k in range(6):
        path = os.path.realpath(os.path.join(d, f"new{k}.xml"))
        generate(path, addrs=[host_addr(j) for j in range(k * 30, k * 30 + 200)], ports=4,
                 seed=10 + k, start=NOW - (300 - k * 50) * DAY)
        files.append(path)
    argvs = [[SCANDB, "--db", db, "-q", "import", f] for f in files]
    argvs += [[SCANDB, "--db", db, "-q", "prune", "--older-than", "90d"] for _ in range(3)]
    procs = [subprocess.Popen(a, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                              stdin=subprocess.DEVNULL) for a in argvs]
    for a, p in zip(argvs, procs):
        out, err = p.communicate(timeout=300)
        eq(p.returncode, 0, f"{a[3:]}: {err}")
    run(db, "doctor", expect=0)
    before = run(db, "hosts", "--format", "json", expect=0).out
    res = run(db, "prune", "--older-than", "90d", "--format", "json", expect=0).json()
    eq(run(db, "hosts", "--format", "json", expect=0).out, before,
       f"hosts after pruning {len(res['jobs'])} more jobs")
    run(db, "doctor", expect=0)


t.main()
