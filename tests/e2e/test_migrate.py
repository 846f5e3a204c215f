#!/usr/bin/python3
"""End-to-end: schema migrations (ARCHITECTURE invariant 6).

Concurrent `migrate up` applies each migration exactly once; `down` and `up`
round-trip; a database that is behind, ahead (unknown migration) or whose
applied migration text changed (checksum) is refused by every command with a
message naming the way out, exit 1, and is left exactly as it was.
Runs on SQLite and on PostgreSQL (SCANDB_TEST_BACKEND); the database is read
and tampered with through e2e_util's sql helpers."""
import glob
import os
import subprocess
import time

import e2e_util
from e2e_util import (PG, REPO, SCANDB, Tests, check, data, db_exists, eq, integrity, nodb, run, sql,
                      sql_snapshot, sqlite_case, tmpdir, wait_idle)

t = Tests("migrate")
TIMEOUT = 60
DATA_TABLES = {"jobs", "hosts", "ports", "host_scans", "scripts", "extraports", "host_events",
               "targets"}


MIGRATIONS = os.path.join(REPO, "src/store/migrations", "pg" if PG else "sqlite")


def known_versions():
    """Versions of the migrations embedded in this scandb (from the source tree)."""
    ups = glob.glob(os.path.join(MIGRATIONS, "*.up.sql"))
    vs = sorted(int(os.path.basename(p).split("_", 1)[0]) for p in ups)
    check(vs, f"no migrations found under {MIGRATIONS}")
    return vs


def query(db, q, args=(), rw=False):
    # (rw: SQLite opens the file read-write anyway, so that a hot journal
    # left by a kill is rolled back, as scandb's own recovery does)
    return sql(db, q, args)


def rw_exec(db, q, args=()):
    """Tamper with the database (the test plays a newer scandb / an editor)."""
    sql(db, q, args)


def tables(db, rw=False):
    return set(e2e_util.tables(db))


def snapshot(db):
    """The whole logical content: schema text and every row of every table."""
    if PG:
        schema = sql_snapshot(db, [
            "SELECT table_name, column_name, data_type, is_nullable, column_default "
            "FROM information_schema.columns WHERE table_schema = 'public' ORDER BY 1, 2",
            "SELECT indexname, indexdef FROM pg_indexes WHERE schemaname = 'public' ORDER BY 1",
            "SELECT conrelid::regclass::text, conname, pg_get_constraintdef(oid) "
            "FROM pg_constraint WHERE connamespace = 'public'::regnamespace ORDER BY 1, 2"])
    else:
        schema = sorted(sql(db, "SELECT type, name, tbl_name, sql FROM sqlite_master"))
    return {"schema": schema, "rows": e2e_util.dump(db)}


def now_sql(db):
    """SQL for "now" in schema_migrations.applied_at, whatever its type."""
    if not PG:
        return str(int(time.time()))
    typ = sql(db, "SELECT data_type FROM information_schema.columns WHERE table_schema = "
                  "'public' AND table_name = 'schema_migrations' AND column_name = 'applied_at'")
    return "now()" if typ and "timestamp" in typ[0][0] else "CAST(extract(epoch FROM now()) " \
        "AS bigint)"


def applied(db, rw=False):
    return query(db, "SELECT version, count(*) FROM schema_migrations GROUP BY version "
                     "ORDER BY version", rw=rw)


def newdb():
    return e2e_util.newdb("m.db")


def status_json(db):
    r = run(db, "migrate", "status", "--format", "json", timeout=TIMEOUT, expect=0)
    return r.json()


def refused(db, args, needle, what):
    """`scandb ARGS` must exit 1, say `needle`, and leave the db unchanged."""
    before = snapshot(db)
    r = run(db, *args, timeout=TIMEOUT)
    eq(r.code, 1, f"{what}: exit code of `scandb {' '.join(args)}` (stderr: {r.err.strip()!r})")
    check(needle.lower() in r.err.lower(),
          f"{what}: stderr of `scandb {' '.join(args)}` should contain {needle!r}; "
          f"got {r.err.strip()!r}")
    check("Traceback" not in r.err and "sqlite3_" not in r.err,
          f"{what}: internal detail leaked: {r.err!r}")
    after = snapshot(db)
    check(before == after, f"{what}: `scandb {' '.join(args)}` modified the database")
    return r


@t.case
def concurrent_migrate_up_applies_each_once():
    versions = known_versions()
    for rnd in range(3):
        db = newdb()
        procs = [subprocess.Popen([SCANDB, "--db", db, "migrate", "up"], stdout=subprocess.PIPE,
                                  stderr=subprocess.PIPE, text=True) for _ in range(10)]
        results = []
        deadline = time.monotonic() + TIMEOUT
        for p in procs:
            try:
                out, err = p.communicate(timeout=max(1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                for q in procs:
                    q.kill()
                raise AssertionError(f"round {rnd}: concurrent `migrate up` did not finish "
                                     f"within {TIMEOUT}s")
            results.append((p.returncode, out, err))
        bad = [(i, c, e.strip()) for i, (c, o, e) in enumerate(results) if c != 0]
        check(not bad, f"round {rnd}: every `migrate up` should exit 0; failures: {bad}")
        for c, out, err in results:
            check("error" not in err.lower() and "busy" not in err.lower(),
                  f"round {rnd}: unexpected stderr from a concurrent migrate up: {err!r}")
        rows = applied(db)
        eq([v for v, _ in rows], versions, f"round {rnd}: versions in schema_migrations")
        eq([c for _, c in rows], [1] * len(versions),
           f"round {rnd}: rows per version in schema_migrations")
        eq(query(db, "SELECT count(*) FROM schema_migrations")[0][0], len(versions),
           f"round {rnd}: schema_migrations rows")
        check(DATA_TABLES <= tables(db),
              f"round {rnd}: tables missing after migrate up: {DATA_TABLES - tables(db)}")
        st = status_json(db)
        eq([m["version"] for m in st], versions, f"round {rnd}: versions in migrate status")
        check(all(m["applied"] and m["checksum_ok"] and m["known"] for m in st),
              f"round {rnd}: migrate status should show all applied and matching: {st}")
        eq(integrity(db), [], f"round {rnd}: integrity_check / foreign keys")
        run(db, "migrate", "verify", timeout=TIMEOUT, expect=0)
        run(db, "hosts", "--format", "json", timeout=TIMEOUT, expect=0)


@t.case
def concurrent_first_use_by_other_commands():
    """Ten `jobs` at once on a database that does not exist: none creates it
    (reads never write); ten at once on a new, migrated one: all answer."""
    db = nodb()
    procs = [subprocess.Popen([SCANDB, "--db", db, "jobs", "--format", "json"],
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
             for _ in range(10)]
    res = [p.communicate(timeout=TIMEOUT) + (p.returncode,) for p in procs]
    for o, e, c in res:
        eq(c, 1, f"jobs on a missing database: exit ({e.strip()!r})")
        eq(o, "", "jobs on a missing database: stdout")
    check(not db_exists(db), f"{db}: a reading command created the database")
    db = newdb()
    run(db, "migrate", "up", timeout=TIMEOUT, expect=0)
    procs = [subprocess.Popen([SCANDB, "--db", db, "jobs", "--format", "json"],
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
             for _ in range(10)]
    res = [p.communicate(timeout=TIMEOUT) + (p.returncode,) for p in procs]
    bad = [(c, e.strip()) for o, e, c in res if c != 0]
    check(not bad, f"concurrent first use: failures {bad}")
    for o, e, c in res:
        eq(o.strip(), "[]", "jobs of a new database")
    eq([c for _, c in applied(db)], [1] * len(known_versions()), "rows per version")


@t.case
def concurrent_migrate_and_import_on_new_db():
    """`migrate up` and `import` racing on a file that does not exist yet."""
    db = newdb()
    samples = ["simple.xml", "complex.xml", "os.xml", "single.xml", "empty.xml"]
    argvs = []
    for k in range(5):
        argvs.append([SCANDB, "--db", db, "migrate", "up"])
        argvs.append([SCANDB, "--db", db, "-q", "import", data(samples[k])])
    procs = [subprocess.Popen(a, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
             for a in argvs]
    res = []
    for p in procs:
        try:
            out, err = p.communicate(timeout=TIMEOUT)
        except subprocess.TimeoutExpired:
            for q in procs:
                q.kill()
            raise AssertionError(f"racing migrate/import did not finish within {TIMEOUT}s")
        res.append((p.returncode, err.strip()))
    bad = [(" ".join(a[3:]), r) for a, r in zip(argvs, res) if r[0] != 0]
    check(not bad, f"racing migrate up / import on a new database: failures {bad}")
    eq([c for _, c in applied(db)], [1] * len(known_versions()), "rows per version")
    eq(query(db, "SELECT count(*) FROM jobs WHERE status = 'completed'")[0][0], 5,
       "completed imports")
    run(db, "migrate", "verify", timeout=TIMEOUT, expect=0)


@t.case
def killed_migrate_is_all_or_nothing():
    """SIGKILL `migrate up` on a new file at random moments: each migration
    and its bookkeeping row land together or not at all, and a later
    `migrate up` finishes the job."""
    import random
    import signal
    versions = known_versions()
    rng = random.Random(7)
    outcomes = {}
    for i in range(20):
        db = newdb()
        p = subprocess.Popen([SCANDB, "--db", db, "migrate", "up"], stdout=subprocess.DEVNULL,
                             stderr=subprocess.DEVNULL)
        time.sleep(rng.uniform(0, 0.03))
        p.send_signal(signal.SIGKILL)
        p.wait(timeout=TIMEOUT)
        wait_idle(db)  # PostgreSQL: the killed client's session has ended
        if not db_exists(db):
            outcomes["no file"] = outcomes.get("no file", 0) + 1
        else:
            tb = tables(db, rw=True)
            rows = [v for v, _ in applied(db, rw=True)] if "schema_migrations" in tb else []
            if rows:
                check(DATA_TABLES <= tb, f"kill {i}: migration recorded as applied but "
                                         f"tables are missing: {sorted(DATA_TABLES - tb)}")
            else:
                check(not (tb & DATA_TABLES), f"kill {i}: tables {sorted(tb & DATA_TABLES)} "
                                              f"exist but no migration is recorded")
            key = "applied" if rows else "nothing applied"
            outcomes[key] = outcomes.get(key, 0) + 1
            eq(integrity(db), [], f"kill {i}: integrity_check / foreign keys")
        done = [v for v, _ in applied(db, rw=True)] if db_exists(db) and \
            "schema_migrations" in tables(db, rw=True) else []
        if i % 2:
            run(db, "migrate", "up", timeout=TIMEOUT, expect=0)
        elif done and done != versions:
            # killed between two migrations: the database is behind, and
            # other commands refuse it (never upgraded silently) until an
            # explicit `migrate up` finishes the job
            outcomes["between migrations"] = outcomes.get("between migrations", 0) + 1
            r = run(db, "hosts", timeout=TIMEOUT)
            eq(r.code, 1, f"kill {i}: `hosts` on a database left behind ({r.err.strip()!r})")
            check("scandb migrate up" in r.err, f"kill {i}: refusal names the fix: {r.err!r}")
            run(db, "migrate", "up", timeout=TIMEOUT, expect=0)
        else:
            # a first run killed before its first commit leaves a database as
            # new as before: any writer bootstraps it
            r = run(db, "-q", "import", data("simple.xml"), timeout=TIMEOUT)
            eq(r.code, 0, f"kill {i}: `import` after a killed first migrate ({r.err.strip()!r})")
        eq([v for v, _ in applied(db)], versions, f"kill {i}: applied after a new run")
        run(db, "hosts", timeout=TIMEOUT, expect=0)
    print(f"     killed migrate up: {outcomes}", flush=True)


@t.case
def down_and_up_round_trip():
    versions = known_versions()
    db = newdb()
    run(db, "migrate", "up", timeout=TIMEOUT, expect=0)
    run(db, "import", data("complex.xml"), timeout=TIMEOUT, expect=0)
    eq(query(db, "SELECT count(*) FROM jobs")[0][0], 1, "jobs before down")

    r = run(db, "migrate", "down", "--force", "0", timeout=TIMEOUT, expect=0)
    left = tables(db) & DATA_TABLES
    check(not left, f"data tables still there after `migrate down 0`: {sorted(left)}")
    eq(query(db, "SELECT count(*) FROM schema_migrations")[0][0], 0,
       "schema_migrations rows after down 0")
    st = status_json(db)
    check(all(not m["applied"] for m in st), f"status after down 0 shows applied: {st}")
    # down again: nothing to do, still fine
    run(db, "migrate", "down", "--force", "0", timeout=TIMEOUT, expect=0)

    run(db, "migrate", "up", timeout=TIMEOUT, expect=0)
    check(DATA_TABLES <= tables(db), f"tables missing after up: {DATA_TABLES - tables(db)}")
    eq(query(db, "SELECT count(*) FROM jobs")[0][0], 0, "jobs after down+up (data is gone)")
    eq([v for v, _ in applied(db)], versions, "applied after up")
    st = status_json(db)
    check(all(m["applied"] and m["checksum_ok"] for m in st), f"status after up: {st}")
    run(db, "migrate", "verify", timeout=TIMEOUT, expect=0)

    # one step down (no VERSION), then up again
    run(db, "migrate", "down", "--force", timeout=TIMEOUT, expect=0)
    eq([v for v, _ in applied(db)], versions[:-1], "applied after one step down")
    run(db, "migrate", "up", timeout=TIMEOUT, expect=0)
    eq([v for v, _ in applied(db)], versions, "applied after up again")
    # up when current: nothing to do, exit 0
    run(db, "migrate", "up", timeout=TIMEOUT, expect=0)
    eq([c for _, c in applied(db)], [1] * len(versions), "rows per version after repeated up")

    # and the database is usable
    run(db, "import", data("complex.xml"), timeout=TIMEOUT, expect=0)
    eq(query(db, "SELECT count(*) FROM jobs WHERE status='completed'")[0][0], 1, "jobs after")
    eq(integrity(db), [], "integrity_check / foreign keys")


@t.case
def port_state_kept_across_0005():
    """Migration 0005 turns port_state rows into one document per host
    (host_state, with the latest OS/MAC/names) and its down turns them
    back: every port's state, service and times survive both ways, and
    `hosts` says the same."""
    db = newdb()
    for f in ("simple.xml", "complex.xml", "os.xml"):
        run(db, "import", data(f), timeout=TIMEOUT, expect=0)
    q = ("SELECT host_id, protocol, port, state, reason, service, product, version, extrainfo,"
         " tunnel, method, job_id, seen_at, first_seen, last_seen, closed_at FROM port_state"
         " ORDER BY host_id, protocol, port")
    rows = query(db, q)
    check(len(rows) >= 5, f"port_state rows: {len(rows)}")
    # the latest OS/MAC/names the history keeps: what 0005 computes from the
    # scans must be what the job writer kept
    qa = "SELECT host_id, os, mac, hostnames FROM host_state ORDER BY host_id"
    attrs = query(db, qa)
    check(any(r[1] for r in attrs) and any(r[3] for r in attrs), f"host_state: {attrs}")
    hosts = run(db, "hosts", "--format", "json", timeout=TIMEOUT, expect=0).out
    run(db, "migrate", "down", "--force", "4", timeout=TIMEOUT, expect=0)
    check("host_state" not in tables(db) and "port_state" in tables(db),
          f"tables at version 4: {sorted(tables(db))}")
    eq(query(db, q), rows, "port_state rows at version 4")
    run(db, "migrate", "up", timeout=TIMEOUT, expect=0)
    check("host_state" in tables(db), "host_state at version 5")
    eq(query(db, q), rows, "port_state rows back at version 5")
    eq(query(db, qa), attrs, "latest OS/MAC/names back at version 5")
    eq(run(db, "hosts", "--format", "json", timeout=TIMEOUT, expect=0).out, hosts,
       "hosts after down and up")
    eq(integrity(db), [], "integrity_check / foreign keys")


@t.case
def behind_database_is_refused():
    db = newdb()
    run(db, "migrate", "up", timeout=TIMEOUT, expect=0)
    run(db, "migrate", "down", "--force", "0", timeout=TIMEOUT, expect=0)
    for args in (["hosts"], ["hosts", "--format", "json"], ["jobs"],
                 ["import", data("simple.xml")], ["job", "1"]):
        refused(db, args, "scandb migrate up", f"behind db, {args[0]}")
    check(not (tables(db) & DATA_TABLES), "a refused command created tables")
    # migrate itself still works on it
    run(db, "migrate", "status", timeout=TIMEOUT, expect=0)
    run(db, "migrate", "up", timeout=TIMEOUT, expect=0)
    run(db, "hosts", timeout=TIMEOUT, expect=0)


@t.case
def ahead_database_is_refused():
    db = newdb()
    run(db, "migrate", "up", timeout=TIMEOUT, expect=0)
    run(db, "import", data("simple.xml"), timeout=TIMEOUT, expect=0)
    rw_exec(db, "INSERT INTO schema_migrations (version, name, checksum, applied_at) "
                f"VALUES (9999, 'from_the_future', ?, {now_sql(db)})", ("ab" * 32,))
    for args in (["hosts"], ["jobs", "--format", "json"], ["import", data("complex.xml")],
                 ["migrate", "up"], ["migrate", "verify"], ["migrate", "down", "0"]):
        refused(db, args, "newer", f"ahead db, {' '.join(args[:2])}")
    # status still reports, and shows the unknown migration
    st = status_json(db)
    fut = [m for m in st if m["version"] == 9999]
    check(fut and fut[0]["applied"] and not fut[0]["known"],
          f"migrate status should list 9999 as applied and unknown: {st}")
    eq(query(db, "SELECT count(*) FROM jobs")[0][0], 1, "jobs untouched")


@t.case
def changed_checksum_is_refused():
    versions = known_versions()
    db = newdb()
    run(db, "migrate", "up", timeout=TIMEOUT, expect=0)
    run(db, "import", data("simple.xml"), timeout=TIMEOUT, expect=0)
    run(db, "migrate", "verify", timeout=TIMEOUT, expect=0)
    rw_exec(db, "UPDATE schema_migrations SET checksum = ? WHERE version = ?",
            ("0" * 64, versions[0]))
    r = refused(db, ["migrate", "verify"], "changed", "changed checksum, verify")
    name = os.path.basename(glob.glob(os.path.join(
        MIGRATIONS, f"{versions[0]:04d}_*.up.sql"))[0]).split(".")[0]
    check(name in r.err or f"{versions[0]:04d}" in r.err,
          f"verify should name the changed migration {name}: {r.err!r}")
    for args in (["hosts"], ["jobs"], ["import", data("complex.xml")], ["migrate", "up"]):
        refused(db, args, "changed", f"changed checksum, {args[0]} {args[1:2]}")
    st = status_json(db)
    m = [m for m in st if m["version"] == versions[0]][0]
    check(m["applied"] and not m["checksum_ok"], f"status should flag the checksum: {m}")
    # put it back: everything works again
    good = m["checksum"]
    rw_exec(db, "UPDATE schema_migrations SET checksum = ? WHERE version = ?",
            (good, versions[0]))
    run(db, "migrate", "verify", timeout=TIMEOUT, expect=0)
    run(db, "hosts", timeout=TIMEOUT, expect=0)


@t.case
def not_a_database_is_refused():
    sqlite_case("a file of junk bytes given as the database")
    d = tmpdir("scandb-migrate-")
    db = os.path.join(d, "junk.db")
    with open(db, "wb") as f:
        f.write(b"this is not an SQLite database, just some bytes\n" * 100)
    with open(db, "rb") as f:
        before = f.read()
    for args in (["migrate", "up"], ["migrate", "status"], ["hosts"]):
        r = run(db, *args, timeout=TIMEOUT)
        eq(r.code, 1, f"`scandb {' '.join(args)}` on a non-database (stderr {r.err!r})")
        check(r.err.strip(), f"`scandb {' '.join(args)}` on a non-database printed no error")
    with open(db, "rb") as f:
        eq(f.read() == before, True, "non-database file unchanged")


if __name__ == "__main__":
    t.main()
