#!/usr/bin/python3
"""End-to-end: many `scandb import` processes on one database at once
(ARCHITECTURE invariants 1, 2, 3, 7).

50 importers of 50 different files whose host sets overlap: every process
succeeds without an error, every job is complete, each address is one host
row, the latest scan wins the host's current fields, and the database is
consistent.  Then 20 importers of the SAME single host.  Runs on SQLite and
on PostgreSQL (SCANDB_TEST_BACKEND); the database is read with e2e_util's
sql helpers (SQLite: the sqlite3 module; PostgreSQL: psql)."""
import json
import os
import shutil
import subprocess
import threading
import time

from e2e_util import (PG, SCANDB, DBError, Tests, WriteLockHolder, check, epoch, eq, integrity,
                      missing_table, newdb, pg_env, skip_case, sql, sql1, sql_snapshot, tmpdir)
from gen_nmap_xml import generate, host_addr

t = Tests("concurrency")

def _load_scale():
    """A wave of 50 processes on 2 cores is CPU-bound: on a machine already
    busy (CI running the sanitizer build beside us) it takes proportionally
    longer.  The limit grows with the load at the start (at most 4x), or as
    SCANDB_TEST_TIMEOUT_SCALE says."""
    env = os.environ.get("SCANDB_TEST_TIMEOUT_SCALE")
    if env:
        return max(1.0, float(env))
    per_cpu = os.getloadavg()[0] / (os.cpu_count() or 1)
    return min(4.0, max(1.0, per_cpu))


DEADLINE = 300 * _load_scale()  # seconds for a whole wave of processes
START = 1700000000


def run_parallel(argvs, timeout=DEADLINE):
    """Start every command at once, then wait for all; kill all on timeout.
    Returns [(returncode, stdout, stderr)] in argv order."""
    procs = [subprocess.Popen(a, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                              stdin=subprocess.DEVNULL) for a in argvs]
    deadline = time.monotonic() + timeout
    res = []
    try:
        for p in procs:
            left = deadline - time.monotonic()
            out, err = p.communicate(timeout=max(0.1, left))
            res.append((p.returncode, out, err))
    except subprocess.TimeoutExpired:
        for p in procs:
            if p.poll() is None:
                p.kill()
        for p in procs:
            p.wait()
        raise AssertionError(f"{len(argvs)} concurrent processes did not all finish within "
                             f"{timeout}s ({len(res)} had)")
    return res


def q(db, query, args=()):
    return sql(db, query, args)


def stderr_problems(err):
    """Lines of an importer's stderr that report a problem."""
    bad = []
    for line in err.splitlines():
        low = line.lower()
        if any(w in low for w in ("error", "busy", "locked", "constraint", "unique",
                                  "retry", "warning")):
            bad.append(line)
        elif "failed" in low and " 0 failed" not in low:
            bad.append(line)
    return bad


def check_consistent(db, what):
    eq(integrity(db), [], f"{what}: integrity (SQLite integrity_check; foreign keys)")
    dup = q(db, "SELECT addr, count(*) FROM hosts GROUP BY addr HAVING count(*) > 1")
    eq(dup, [], f"{what}: duplicate host addresses")
    orphans = q(db, """
        SELECT 'ports', count(*) FROM ports WHERE job_id NOT IN (SELECT id FROM jobs)
               OR host_id NOT IN (SELECT id FROM hosts)
        UNION ALL SELECT 'host_scans', count(*) FROM host_scans
               WHERE job_id NOT IN (SELECT id FROM jobs) OR host_id NOT IN (SELECT id FROM hosts)
        UNION ALL SELECT 'scripts', count(*) FROM scripts
               WHERE job_id NOT IN (SELECT id FROM jobs) OR host_id NOT IN (SELECT id FROM hosts)
        UNION ALL SELECT 'hosts without a scan', count(*) FROM hosts
               WHERE id NOT IN (SELECT host_id FROM host_scans)""")
    eq([o for o in orphans if o[1]], [], f"{what}: orphan rows")


class SnapshotReader(threading.Thread):
    """Reads the database over and over while importers run, each time in
    one read transaction (one snapshot): every job it can see must be
    completed and hold exactly its file's ports and hosts (invariant 1)."""

    def __init__(self, db, expect):
        super().__init__(daemon=True)
        self.db, self.expect = db, expect  # expect: source -> Summary
        self.stop = threading.Event()
        self.snapshots = 0
        self.max_jobs_seen = 0
        self.problems = []

    def run(self):
        while not self.stop.is_set() and len(self.problems) < 5:
            if not db_exists_quiet(self.db):
                time.sleep(0.01)
                continue
            try:
                jobs, ports, hosts = sql_snapshot(self.db, [
                    "SELECT id, source, status FROM jobs",
                    "SELECT job_id, count(*) FROM ports GROUP BY job_id",
                    "SELECT job_id, count(*) FROM host_scans GROUP BY job_id"])
                ports, hosts = dict(ports), dict(hosts)
            except DBError as e:
                # a database still being created has no tables yet
                if not missing_table(e):
                    self.problems.append(f"reader error: {e}")
                time.sleep(0.01)
                continue
            self.snapshots += 1
            self.max_jobs_seen = max(self.max_jobs_seen, len(jobs))
            for jid, src, status in jobs:
                s = self.expect.get(src)
                if status != "completed" or s is None:
                    self.problems.append(f"visible job {jid} {src} is {status!r}")
                elif (ports.get(jid, 0), hosts.get(jid, 0)) != (s.ports, s.hosts):
                    self.problems.append(
                        f"visible job {jid} {os.path.basename(src)} has "
                        f"{ports.get(jid, 0)} ports/{hosts.get(jid, 0)} hosts, file has "
                        f"{s.ports}/{s.hosts} (half-written job seen)")
            orphan = q_safe(self.db, "SELECT count(*) FROM ports "
                                     "WHERE job_id NOT IN (SELECT id FROM jobs)")
            if orphan:
                self.problems.append(f"{orphan} ports of invisible jobs")
            time.sleep(0.005)


def db_exists_quiet(db):
    """A SQLite file not created yet; a PostgreSQL database always is."""
    return "://" in db or os.path.exists(db)


def q_safe(db, query):
    try:
        return sql1(db, query)
    except DBError:
        return 0


def import_all(db, files, readers=0):
    argvs = [[SCANDB, "--db", db, "-q", "import", f] for f in files]
    # CLI readers interleaved with the importers: they must never fail either
    argvs += [[SCANDB, "--db", db, "jobs", "--format", "json"] for _ in range(readers)]
    t0 = time.monotonic()
    res = run_parallel(argvs)
    took = time.monotonic() - t0
    not_yet = 0
    for i, (rc, out, err) in enumerate(res[len(files):]):
        # a reader that starts before the first importer has created the
        # schema is told so (reading commands never create a database):
        # exit 1 with that message, and nothing else, is right then
        if rc == 1 and ("is empty: there is no scandb data in it yet" in err
                        or "no database at" in err):
            not_yet += 1
            continue
        check(rc == 0, f"a `scandb jobs` run during the imports failed ({rc}): {err.strip()}")
        jobs = json.loads(out)
        check(all(j["status"] == "completed" for j in jobs),
              f"`scandb jobs` during the imports showed unfinished jobs: "
              f"{[j for j in jobs if j['status'] != 'completed'][:3]}")
    res = res[:len(files)]
    bad = [(files[i], rc, err.strip()[-500:]) for i, (rc, out, err) in enumerate(res)
           if rc != 0]
    check(not bad, f"{len(bad)} of {len(files)} concurrent imports failed: {bad[:5]}")
    noisy = [(files[i], stderr_problems(err)) for i, (rc, out, err) in enumerate(res)
             if stderr_problems(err)]
    check(not noisy, f"importers reported problems on stderr: {noisy[:5]}")
    if readers:
        print(f"     {readers - not_yet} of {readers} `scandb jobs` readers saw the database; "
              f"{not_yet} started before it existed", flush=True)
    return took


@t.case
def fifty_importers_overlapping_hosts():
    d = tmpdir("scandb-conc-")
    db = newdb()
    n_files, own, step = 50, 120, 40
    # 10 hosts that every file has, plus a sliding window: file k shares
    # hosts with files k-2..k+2
    shared = [host_addr(0x640000 + j) for j in range(10)]
    files, sums = [], []
    for k in range(n_files):
        addrs = shared[:5] + [host_addr(k * step + i) for i in range(own)] + shared[5:]
        path = os.path.join(d, f"scan{k:02d}.xml")
        s = generate(path, addrs=addrs, ports=6, seed=k, start=START + k * 3600,
                     down=0.05 if k % 5 == 0 else 0.0)
        files.append(os.path.realpath(path))
        sums.append(s)
    union = set()
    for s in sums:
        union.update(s.addrs)

    reader = SnapshotReader(db, dict(zip(files, sums)))
    reader.start()
    try:
        took = import_all(db, files, readers=10)
    finally:
        reader.stop.set()
        reader.join(30)
    print(f"     {n_files} concurrent imports took {took:.1f}s; a reader took "
          f"{reader.snapshots} snapshots meanwhile (most jobs seen: {reader.max_jobs_seen})",
          flush=True)
    eq(reader.problems, [], "what a concurrent reader saw")
    check(reader.snapshots > 0, "the concurrent reader never got a snapshot")

    jobs = q(db, "SELECT id, source, status, kind, error FROM jobs ORDER BY id")
    eq(len(jobs), n_files, "number of jobs")
    notdone = [j for j in jobs if j[2] != "completed"]
    eq(notdone, [], "jobs not completed")
    by_source = {j[1]: j[0] for j in jobs}
    eq(sorted(by_source), sorted(files), "job sources")

    eq(q(db, "SELECT count(*) FROM hosts")[0][0], len(union),
       "hosts = size of the union of all files' addresses")
    eq({r[0] for r in q(db, "SELECT addr FROM hosts")}, union, "host addresses")

    per_job_ports = dict(q(db, "SELECT job_id, count(*) FROM ports GROUP BY job_id"))
    per_job_hosts = dict(q(db, "SELECT job_id, count(*) FROM host_scans GROUP BY job_id"))
    per_job_scripts = dict(q(db, "SELECT job_id, count(*) FROM scripts GROUP BY job_id"))
    for f, s in zip(files, sums):
        jid = by_source[f]
        eq(per_job_ports.get(jid, 0), s.ports, f"ports of job {jid} ({os.path.basename(f)})")
        eq(per_job_hosts.get(jid, 0), s.hosts, f"hosts of job {jid} ({os.path.basename(f)})")
        eq(per_job_scripts.get(jid, 0), s.scripts,
           f"scripts of job {jid} ({os.path.basename(f)})")
    eq(q(db, "SELECT count(*) FROM ports")[0][0], sum(s.ports for s in sums), "all ports")
    # per (job, host): exactly the ports the file listed for that host
    rows = q(db, """SELECT j.source, h.addr, count(p.port) FROM host_scans hs
                     JOIN jobs j ON j.id = hs.job_id JOIN hosts h ON h.id = hs.host_id
                     LEFT JOIN ports p ON p.job_id = hs.job_id AND p.host_id = hs.host_id
                     GROUP BY hs.job_id, hs.host_id, j.source, h.addr""")
    want = {f: s.ports_by_addr for f, s in zip(files, sums)}
    wrong = [(os.path.basename(src), a, n, want[src].get(a)) for src, a, n in rows
             if want[src].get(a) != n]
    eq(wrong[:10], [], "ports per (job, host): (file, addr, stored, in file)")

    # first/last seen across files, and the latest scan wins current fields
    seen = {}
    for f, s in zip(files, sums):
        for a, tm in s.time_by_addr.items():
            lo, hi, hf = seen.get(a, (tm, tm, f))
            seen[a] = (min(lo, tm), max(hi, tm), f if tm >= hi else hf)
    got = {a: (fs, ls, lj) for a, fs, ls, lj in
           q(db, f"SELECT addr, {epoch('first_seen')}, {epoch('last_seen')}, last_job_id "
                 "FROM hosts")}
    wrong = [(a, got[a][:2], seen[a][:2]) for a in union if got[a][:2] != seen[a][:2]]
    eq(wrong[:10], [], "first_seen/last_seen: (addr, stored, expected)")
    wrong = [(a, got[a][2], by_source[seen[a][2]]) for a in shared
             if got[a][2] != by_source[seen[a][2]]]
    eq(wrong, [], "shared hosts' last_job_id: (addr, stored, job of the latest scan)")
    check_consistent(db, "after 50 concurrent imports")
    shutil.rmtree(d, ignore_errors=True)  # kept only when the test fails


@t.case
def twenty_importers_same_single_host():
    d = tmpdir("scandb-conc1-")
    db = newdb()
    addr = "192.0.2.77"
    files, sums = [], []
    # different start times, imported in an order unrelated to them
    starts = [START + ((k * 7) % 20) * 86400 for k in range(20)]
    for k, st in enumerate(starts):
        path = os.path.join(d, f"one{k:02d}.xml")
        sums.append(generate(path, addrs=[addr], ports=4, seed=100 + k, start=st))
        files.append(os.path.realpath(path))

    for rnd in range(2):
        # round 1 imports the same files again with --force (without it each
        # would be a duplicate): 20 more jobs, still one host row
        argvs = [[SCANDB, "--db", db, "-q", "import"] + (["--force"] if rnd else []) + [f]
                 for f in files]
        res = run_parallel(argvs)
        bad = [(os.path.basename(files[i]), rc, err.strip()[-300:])
               for i, (rc, out, err) in enumerate(res) if rc != 0]
        check(not bad, f"round {rnd}: imports of the same host failed: {bad[:5]}")
        noisy = [stderr_problems(err) for rc, out, err in res if stderr_problems(err)]
        check(not noisy, f"round {rnd}: importers reported problems: {noisy[:5]}")
        eq(q(db, "SELECT count(*) FROM hosts WHERE addr = ?", (addr,))[0][0], 1,
           f"round {rnd}: rows for {addr}")
        eq(q(db, "SELECT count(*) FROM hosts")[0][0], 1, f"round {rnd}: hosts")
        eq(q(db, "SELECT count(*) FROM jobs WHERE status = 'completed'")[0][0],
           20 * (rnd + 1), f"round {rnd}: completed jobs")
        eq(q(db, "SELECT count(*) FROM jobs")[0][0], 20 * (rnd + 1), f"round {rnd}: jobs")
        times = [s.time_by_addr[addr] for s in sums]
        fs, ls, lj = q(db, f"SELECT {epoch('first_seen')}, {epoch('last_seen')}, "
                           "last_job_id FROM hosts")[0]
        eq((fs, ls), (min(times), max(times)), f"round {rnd}: first_seen/last_seen")
        latest = files[times.index(max(times))]
        lj_src = q(db, "SELECT source FROM jobs WHERE id = ?", (lj,))[0][0]
        eq(lj_src, latest, f"round {rnd}: the host's last job is the latest scan's")
        eq(q(db, "SELECT count(*) FROM ports")[0][0], 4 * 20 * (rnd + 1),
           f"round {rnd}: ports")
        check_consistent(db, f"round {rnd}: same host")
    shutil.rmtree(d, ignore_errors=True)  # kept only when the test fails


@t.case
def ten_importers_same_file():
    """The same content raced: stored once; the others answer "already
    imported" (exit 0), decided by the database's unique index."""
    d = tmpdir("scandb-conc2-")
    db = newdb()
    path = os.path.realpath(os.path.join(d, "same.xml"))
    s = generate(path, hosts=300, ports=5, seed=5)
    # distinct names for the same bytes, so the source differs but the hash does not
    paths = []
    for k in range(10):
        pk = os.path.join(d, f"copy{k}.xml")
        os.link(path, pk)
        paths.append(os.path.realpath(pk))
    res = run_parallel([[SCANDB, "--db", db, "import", p] for p in paths])
    bad = [(rc, err.strip()[-300:]) for rc, out, err in res if rc != 0]
    check(not bad, f"racing imports of the same content: failures {bad[:5]}")
    outs = [out + err for rc, out, err in res]
    imported = [o for o in outs if "imported as job" in o and "already" not in o]
    dups = [o for o in outs if "already imported" in o]
    eq((len(imported), len(dups)), (1, 9), "(imported, already imported) answers")
    eq(q(db, "SELECT count(*), min(status), max(status) FROM jobs"),
       [(1, "completed", "completed")], "jobs")
    eq(q(db, "SELECT count(*) FROM ports")[0][0], s.ports, "ports")
    eq(q(db, "SELECT count(*) FROM hosts")[0][0], s.hosts, "hosts")
    check_consistent(db, "same file raced")
    shutil.rmtree(d, ignore_errors=True)  # kept only when the test fails


@t.case
def many_importers_of_large_files():
    """Invariant 2 ("any number of concurrent writers ... raise no error")
    and 7 under load: N importers of a ~29 MB file each.  Each holds the
    write lock for its whole parse, so the last in line waits about N x the
    import time, longer than the bounded BUSY retries if N is large.  Slow
    (a minute or more): runs only with SCANDB_SLOW_TESTS=1; N is
    $SCANDB_SLOW_IMPORTERS (default 60)."""
    if os.environ.get("SCANDB_SLOW_TESTS") != "1":
        print("     many_importers_of_large_files: not run (slow; set SCANDB_SLOW_TESTS=1)",
              flush=True)
        return
    n = int(os.environ.get("SCANDB_SLOW_IMPORTERS", "60"))
    d = tmpdir("scandb-conc4-")
    db = newdb()
    path = os.path.join(d, "big.xml")
    s = generate(path, hosts=10000, ports=10, seed=11)
    argvs = [[SCANDB, "--db", db, "-q", "--no-progress", "import", "--force", path]
             for _ in range(n)]
    t0 = time.monotonic()
    res = run_parallel(argvs, timeout=1800)
    took = time.monotonic() - t0
    bad = [(rc, err.strip()[-200:]) for rc, out, err in res if rc != 0]
    print(f"     {n} imports of {s.ports} ports each took {took:.0f}s", flush=True)
    check(not bad, f"{len(bad)} of {n} importers failed; e.g. {bad[:3]}")
    eq(q(db, "SELECT count(*) FROM jobs WHERE status = 'completed'")[0][0], n, "jobs")
    check_consistent(db, f"{n} large imports")
    shutil.rmtree(d, ignore_errors=True)  # kept only when the test fails


@t.case
def import_waits_for_a_held_write_lock():
    """Invariant 7: another writer holding the database for a few seconds is
    a transient failure: the importer retries and succeeds once it is free."""
    d = tmpdir("scandb-conc3-")
    db = newdb()
    path = os.path.join(d, "lock.xml")
    s = generate(path, hosts=50, ports=5, seed=9)
    r = subprocess.run([SCANDB, "--db", db, "migrate", "up"], capture_output=True, text=True,
                       timeout=60)
    eq(r.returncode, 0, f"migrate up ({r.stderr.strip()})")
    holder = WriteLockHolder(db)  # SQLite: BEGIN IMMEDIATE; PG: jobs locked
    try:
        p = subprocess.Popen([SCANDB, "--db", db, "-q", "import", path],
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                             stdin=subprocess.DEVNULL)
        time.sleep(3)
        if p.poll() is not None:
            raise AssertionError(f"the importer gave up while the lock was held for 3s "
                                 f"(exit {p.returncode}: {p.communicate()[1].strip()!r})")
    finally:
        holder.release()
    out, err = p.communicate(timeout=120)
    eq(p.returncode, 0, f"import after the lock was released (stdout {out.strip()!r}, "
                        f"stderr {err.strip()!r})")
    eq(stderr_problems(err), [], "importer stderr")
    eq(q(db, "SELECT count(*), min(status) FROM jobs"), [(1, "completed")], "jobs")
    eq(q(db, "SELECT count(*) FROM ports")[0][0], s.ports, "ports")
    shutil.rmtree(d, ignore_errors=True)  # kept only when the test fails


# store/pg/pg_lock.c: the writers' advisory lock, and the space of the scan times
# ordered writers announce while they queue for it
LOCK_SPACE, LOCK_WRITER, ORDER_SPACE = 1935893602, 1, 1935893615


@t.case
def pg_writers_take_the_lock_in_scan_time_order():
    """PostgreSQL: importers that queue for the write lock store their scans
    in scan-time order, not in the order they came (three importers come
    newest scan first while the lock is held; their jobs are made oldest
    first, so none is stored late), and while they queue they hold no
    snapshot (a waiter that did would keep every row version the writer
    replaces: backend_xmin NULL) and no transaction."""
    if not PG:
        skip_case("PostgreSQL only: SQLite's writers take the lock as they come")
    d = tmpdir("scandb-conc-order-")
    db = newdb()
    run_parallel([[SCANDB, "--db", db, "migrate", "up"]])
    files = []
    for i in range(3):  # scan i at START + i hours
        path = os.path.join(d, f"s{i}.xml")
        generate(path, hosts=20, ports=3, seed=70 + i, start=START + 3600 * i)
        files.append(path)
    e = pg_env()
    holder = subprocess.Popen(
        [os.path.join(e["SCANDB_PG_BIN"], "psql"), "-X", "-q", "-At", "-v", "ON_ERROR_STOP=1",
         "-d", db], stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
        text=True, env=dict(os.environ, PGCONNECT_TIMEOUT="10"))
    procs = []
    try:
        holder.stdin.write(f"SELECT 'locked' FROM pg_advisory_lock({LOCK_SPACE}, {LOCK_WRITER});\n")
        holder.stdin.flush()
        eq(holder.stdout.readline().strip(), "locked", "the write lock held by psql")
        for n, path in enumerate(reversed(files), 1):  # newest scan first
            procs.append(subprocess.Popen([SCANDB, "--db", db, "-q", "import", path],
                                          stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                          text=True, stdin=subprocess.DEVNULL))
            deadline = time.monotonic() + 60
            while sql1(db, "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND "
                           f"classid = {ORDER_SPACE} AND objsubid = 2") < n:
                if procs[-1].poll() is not None:
                    raise AssertionError(f"importer {n} ended while the lock was held: "
                                         f"{procs[-1].communicate()[1]!r}")
                check(time.monotonic() < deadline, f"importer {n} did not queue within 60 s")
                time.sleep(0.05)
        time.sleep(0.5)  # each has looked at the lock and gone to wait
        waiting = sql(db, "SELECT backend_xmin IS NULL, backend_xid IS NULL, state "
                          "FROM pg_stat_activity WHERE datname = current_database() AND "
                          "application_name = 'scandb'")
        eq(len(waiting), 3, f"three importers connected: {waiting}")
        for snap_free, xid_free, state in waiting:
            check(snap_free in (True, "t") and xid_free in (True, "t") and state == "idle",
                  f"a queued importer holds a snapshot or a transaction: {waiting}")
        check(all(p.poll() is None for p in procs), "the importers wait for the lock")
    finally:
        try:
            holder.communicate(f"SELECT pg_advisory_unlock({LOCK_SPACE}, {LOCK_WRITER});\n",
                               timeout=30)
        except subprocess.TimeoutExpired:
            holder.kill()
            holder.wait()
    for p in procs:
        out, err = p.communicate(timeout=120)
        eq(p.returncode, 0, f"an importer: {err.strip()}")
    made = [os.path.basename(r[0]) for r in sql(db, "SELECT source FROM jobs ORDER BY id")]
    eq(made, ["s0.xml", "s1.xml", "s2.xml"], "jobs made in scan-time order")
    eq(sql1(db, "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND "
                f"classid = {ORDER_SPACE}"), 0, "no scan time left announced")
    shutil.rmtree(d, ignore_errors=True)  # kept only when the test fails


if __name__ == "__main__":
    t.main()
