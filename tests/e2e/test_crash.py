#!/usr/bin/python3
"""End-to-end: `scandb import` killed with SIGKILL at random moments
(ARCHITECTURE invariants 1 and 3: atomic jobs, referential integrity).

A large generated scan (8000 hosts x 10 ports, ~24 MB, about a second; made
smaller when the build is slow, e.g. under sanitizers) is imported again and
again and killed at a random moment each time (some aimed at the end, where
the commit happens, some just after the job became visible).  After every kill the database must be
intact: integrity_check ok, no foreign key violations, every job completed
and complete (exactly its file's hosts and ports), no row of the killed job,
no orphan rows, no host that only the killed import had.  A final clean
import must succeed.  Prints how many kills landed before / during / after
the commit.

Runs on SQLite and on PostgreSQL (SCANDB_TEST_BACKEND).  "During the
write" is told by uncommitted frames in SQLite's WAL file, or by the WAL
position PostgreSQL reports having moved on without the job."""
import os
import random
import shutil
import signal
import struct
import subprocess
import sys
import time

from e2e_util import (PG, SCANDB, Tests, check, eq, newdb, skip, sql1, tmpdir,
                      verify_complete_jobs, wait_idle)
from gen_nmap_xml import generate

t = Tests("crash")
KILLS = 22
HOSTS, PORTS = 8000, 10
MAX_JOBS = 5  # then go on with a fresh database file, to bound each run's cost
IMPORT_TIMEOUT = 120
BUDGET = 100  # seconds: stop adding kills beyond 20 once past this
# PostgreSQL: an import's duration varies more with the load of the other
# tests, and a kill "when the job appeared" mostly comes too late (the client
# exits right after its commit), so more runs may be needed for 20 kills
MAX_RUNS = 60 if PG else 40
# else the files are made smaller (PostgreSQL: more often, so that its
# slower, noisier imports keep the run's length about the same)
MAX_IMPORT_SECONDS = 1.0 if PG else 2.0


def wal_frames(db):
    """(salts, valid frames, frames after the last commit frame) of db's WAL
    file.  Frames the killed importer wrote but never committed show as a
    change of salts or frame count with the job absent: the kill hit the
    transaction mid-write.  PostgreSQL: (None, WAL position in bytes, 0)."""
    if PG:
        return None, sql1(db, "SELECT pg_current_wal_lsn() - '0/0'::pg_lsn"), 0
    path = db + "-wal"
    try:
        f = open(path, "rb")
    except FileNotFoundError:
        return None, 0, 0
    with f:
        hdr = f.read(32)
        if len(hdr) < 32:
            return None, 0, 0
        _, _, pgsz, _, salt1, salt2, _, _ = struct.unpack(">8I", hdr)
        if pgsz == 1:
            pgsz = 65536
        size = os.fstat(f.fileno()).st_size
        n = (size - 32) // (24 + pgsz) if pgsz else 0
        valid, last_commit = 0, -1
        for i in range(n):
            f.seek(32 + i * (24 + pgsz))
            fh = f.read(16)
            if len(fh) < 16:
                break
            _, dbsize, s1, s2 = struct.unpack(">4I", fh)
            if (s1, s2) != (salt1, salt2):
                break
            valid = i + 1
            if dbsize:
                last_commit = i
        return (salt1, salt2), valid, valid - (last_commit + 1)


def job_count(db):
    return sql1(db, "SELECT count(*) FROM jobs")


def killed_mid_write(wal_before, wal_after, uncommitted):
    """Did the killed import write anything that was never committed?"""
    if PG:  # the WAL moved on (by more than a few records) without the job
        return int(wal_after[1]) - int(wal_before[1]) > 256 * 1024
    return wal_after[:2] != wal_before and uncommitted > 0


def import_cmd(db, path, force=True):
    return [SCANDB, "--db", db, "-q", "--no-progress", "import"] + \
        (["--force"] if force else []) + [path]


@t.case
def sigkill_during_import():
    t_start = time.monotonic()
    d = tmpdir("scandb-crash-")
    db = None
    hosts = HOSTS
    for attempt in range(2):
        # three overlapping files and one disjoint: a killed import of the
        # disjoint one must leave none of its hosts behind
        specs = [("a.xml", 0, 1), ("b.xml", hosts // 2, 2), ("c.xml", 4 * hosts, 3)]
        files = {}
        order = []
        for name, first, seed in specs:
            p = os.path.realpath(os.path.join(d, name))
            files[p] = generate(p, hosts=hosts, ports=PORTS, seed=seed, first_host=first,
                                start=1700000000 + seed * 86400)
            order.append(p)
        size = os.path.getsize(order[0])
        print(f"     generated {len(files)} files of ~{size / 1e6:.0f} MB "
              f"({hosts} hosts x {PORTS} ports)", flush=True)

        # calibrate: one clean import, also so the kills happen with data present
        db = newdb()
        t0 = time.monotonic()
        r = subprocess.run(import_cmd(db, order[0], force=False), capture_output=True,
                           text=True, timeout=IMPORT_TIMEOUT)
        dur = time.monotonic() - t0
        eq(r.returncode, 0, f"calibration import (stderr {r.stderr.strip()!r})")
        verify_complete_jobs(db, files, "after the calibration import")
        print(f"     one import takes {dur:.2f}s", flush=True)
        # a slow build (sanitizers) gets smaller files, to keep the runtime bounded
        if dur <= MAX_IMPORT_SECONDS or attempt:
            break
        hosts = max(1000, int(hosts * MAX_IMPORT_SECONDS / dur))

    rng = random.Random(int(os.environ.get("CRASH_SEED", "20261122")))
    counts = {"before": 0, "during": 0, "after": 0, "finished": 0}
    kills = 0
    i = -1
    while kills < KILLS and i + 1 < MAX_RUNS:
        i += 1
        if kills >= 20 and time.monotonic() - t_start > BUDGET:
            break
        src = order[i % 3]
        # mode 0: anywhere in the import; 1: aimed at the end (the commit);
        # 2: right after the commit became visible (the importer is closing;
        # SQLite only: a PostgreSQL client exits as soon as its commit
        # returns, long before a poll through psql sees the job)
        mode = (0, 1, 0, 1 if PG else 2)[i % 4]
        delay = rng.uniform(0, 0.95 * dur) if mode == 0 else rng.uniform(0.75 * dur, 0.95 * dur)
        jobs_before = job_count(db)
        if jobs_before >= MAX_JOBS:
            db = newdb()
            jobs_before = 0
            # with its schema, so that every kill lands in an import (kills
            # during the schema's creation are test_migrate's business)
            r = subprocess.run([SCANDB, "--db", db, "migrate", "up"], capture_output=True,
                               text=True, timeout=IMPORT_TIMEOUT)
            eq(r.returncode, 0, f"migrate up of a fresh database ({r.stderr.strip()!r})")
        wal_before = wal_frames(db)[:2]
        p = subprocess.Popen(import_cmd(db, src), stdout=subprocess.PIPE,
                             stderr=subprocess.PIPE, stdin=subprocess.DEVNULL)
        t0 = time.monotonic()
        if mode == 2:
            delay = None
            while p.poll() is None and time.monotonic() - t0 < IMPORT_TIMEOUT:
                if job_count(db) > jobs_before:
                    delay = time.monotonic() - t0
                    dur = delay
                    break
                time.sleep(0.002)
        else:
            # sleep until the moment, or until the import ends by itself (then
            # `elapsed` below is its real duration, for the next estimate)
            while p.poll() is None and time.monotonic() - t0 < delay:
                time.sleep(min(0.01, max(0.0, delay - (time.monotonic() - t0))))
        rc = p.poll()
        if rc is None:
            p.send_signal(signal.SIGKILL)
            kills += 1
        try:
            out, err = p.communicate(timeout=IMPORT_TIMEOUT)
        except subprocess.TimeoutExpired:
            p.kill()
            raise AssertionError(f"run {i}: importer did not exit after SIGKILL")
        elapsed = time.monotonic() - t0
        wait_idle(db)  # PostgreSQL: the killed client's session has ended (or committed)
        salts, valid, uncommitted = wal_frames(db)
        jobs_after = job_count(db)
        if p.returncode == 0:
            kind = "finished"
            dur = elapsed  # the database grows: keep the estimate current
            eq(jobs_after, jobs_before + 1, f"run {i}: a finished import adds one job")
        else:
            eq(p.returncode, -signal.SIGKILL,
               f"run {i}: importer exit status (stderr {err.decode(errors='replace')!r})")
            if jobs_after == jobs_before + 1:
                kind = "after"
            else:
                eq(jobs_after, jobs_before, f"run {i}: jobs after a kill")
                kind = "during" if killed_mid_write(wal_before, (salts, valid), uncommitted) \
                    else "before"
        counts[kind] += 1
        at = "when the job appeared" if mode == 2 else "aimed at the end" if mode == 1 \
            else "at random"
        wal = (f"WAL +{int(valid) - int(wal_before[1])} bytes" if PG else
               f"WAL: {valid} frames, {uncommitted} uncommitted")
        print(f"     run {i:2d}: {os.path.basename(src)} killed at "
              f"{'-' if delay is None else f'{delay:.2f}s'} ({at}) -> {kind}"
              f" ({wal})", flush=True)
        verify_complete_jobs(db, files, f"run {i} ({kind}, mode {mode})")

    check(kills >= 20, f"only {kills} imports were actually killed (want >= 20)")
    print(f"     kills: {counts['before']} before the commit, {counts['during']} during the "
          f"write/commit (uncommitted frames on disk), {counts['after']} after the commit; "
          f"{counts['finished']} imports finished before the kill", flush=True)

    # a final clean import (no --force: a file never completed before, or the
    # duplicate answer for one that was) must succeed, and all is consistent
    per_file = verify_complete_jobs(db, files, "before the final import")
    fresh = [p for p in order if p not in per_file]
    final = fresh[0] if fresh else order[1]
    r = subprocess.run(import_cmd(db, final, force=False), capture_output=True, text=True,
                       timeout=IMPORT_TIMEOUT)
    eq(r.returncode, 0, f"final clean import of {os.path.basename(final)} "
                        f"(stderr {r.stderr.strip()!r})")
    per_file = verify_complete_jobs(db, files, "after the final import")
    check(final in per_file, f"final import of {final} left no job")
    r = subprocess.run(import_cmd(db, order[2], force=True), capture_output=True, text=True,
                       timeout=IMPORT_TIMEOUT)
    eq(r.returncode, 0, f"final forced import (stderr {r.stderr.strip()!r})")
    verify_complete_jobs(db, files, "after the final forced import")
    print(f"     total {time.monotonic() - t_start:.0f}s", flush=True)
    shutil.rmtree(d, ignore_errors=True)  # ~100 MB; kept only when the test fails


if __name__ == "__main__":
    if sys.platform != "linux":
        skip("the crash test needs Linux (SIGKILL, SQLite WAL file layout)")
    t.main()
