#!/usr/bin/python3
"""End-to-end: a host that stopped answering becomes `gone` (docs/HISTORY.md, "Gone").

Scans of 10.0.0.0/28 (nmap's command line `nmap -p 22 10.0.0.0/28` in the files,
generated with gen_nmap_xml.py): a host missing from the last 3 scans that covered
it is `gone`, with one host_gone event; a scan that does not cover it (another range,
-iL, a host name) does not count; listed up again gives host_up; `--gone-after 1`;
a host listed down counts too; any import order gives the same statuses, events and
miss counts as the import in scan-time order; migration 0012 goes down (a gone host
becomes down, its host_gone events go) and up again on a database with data.
Runs on SQLite and on PostgreSQL (SCANDB_TEST_BACKEND)."""
import io
import itertools
import os
import random
import re

from e2e_util import PG, Tests, check, eq, iso, newdb, run, sql, tmpdir
from gen_nmap_xml import generate

t = Tests("gone")
T0 = 1700000000
HOUR = 3600
NET = "nmap -p 22 10.0.0.0/28"
ALL = [f"10.0.0.{i}" for i in range(1, 6)]


def scan(d, name, hour, addrs, args=NET, down=(), unknown=()):
    """One nmap XML file: `addrs` listed up (and `down` listed down, `unknown`
    as a list scan lists them), at T0 + hour."""
    buf = io.StringIO()
    generate(buf, ports=2, seed=1, start=T0 + int(hour * HOUR),
             addrs=list(addrs) + list(down) + list(unknown), scripts=False, os_detect=False,
             progress=False)
    x = re.sub(r'args="[^"]*"', f'args="{args}"', buf.getvalue(), count=1)
    for a in list(down) + list(unknown):  # that host's <status>, without ports
        i = x.index(f'<address addr="{a}"')
        j = x.rindex("<host ", 0, i)
        k = x.index("</host>", i)
        host = x[j:k]
        host = re.sub(r'<status state="up"',
                      f'<status state="{"down" if a in down else "unknown"}"', host)
        host = re.sub(r"<ports>.*?</ports>", "", host, flags=re.S)
        x = x[:j] + host + x[k:]
    path = os.path.join(d, name + ".xml")
    with open(path, "w", encoding="utf-8") as f:
        f.write(x)
    return path


def status(db):
    rows = run(db, "hosts", "--format", "json", expect=0).json()
    return {h["addr"]: h["status"] for h in rows}


def at(hour):
    return iso(T0 + int(hour * HOUR))


def events(db, kind=None):
    args = ["changes", "--format", "json"] + (["--kind", kind] if kind else [])
    return [(e["addr"], e["kind"], e["old"], e["new"], e["at"])
            for e in run(db, *args, expect=0).json()]


def misses(db):
    return dict(sql(db, "SELECT h.addr, s.misses FROM hosts h JOIN host_state s"
                        " ON s.host_id = h.id ORDER BY h.addr_key")) if not PG else \
        dict((str(a).split("/")[0], m) for a, m in
             sql(db, "SELECT host(h.addr), s.misses FROM hosts h JOIN host_state s"
                     " ON s.host_id = h.id ORDER BY h.addr_key"))


def series(d):
    """s1: all five up; s2..s4: 10.0.0.5 missing; s5: back."""
    return [scan(d, "s1", 0, ALL), scan(d, "s2", 1, ALL[:4]), scan(d, "s3", 2, ALL[:4]),
            scan(d, "s4", 3, ALL[:4]), scan(d, "s5", 4, ALL)]


def imported(files, *extra):
    db = newdb()
    for f in files:
        run(db, "import", *extra, f, expect=0)
    return db


@t.case
def gone_after_three_covering_scans_that_missed_it():
    d = tmpdir()
    s = series(d)
    db = imported(s[:3])
    eq(status(db)["10.0.0.5"], "up", "two misses: still up")
    eq(events(db, "host_gone"), [], "no host_gone yet")
    run(db, "import", s[3], expect=0)
    eq(status(db), {**{a: "up" for a in ALL[:4]}, "10.0.0.5": "gone"}, "after 3 misses")
    eq(events(db, "host_gone"), [("10.0.0.5", "host_gone", "up", "gone", at(3))],
       "one host_gone, at the third miss")
    gone = run(db, "hosts", "--status", "gone", "--format", "json", expect=0).json()
    eq(sorted({h["addr"] for h in gone}), ["10.0.0.5"], "hosts --status gone")
    st = run(db, "stats", "--format", "json", expect=0).json()["hosts"]["by_status"]
    eq((st["gone"], st["up"]), (1, 4), "stats hosts by status")
    # back up: host_up from gone
    run(db, "import", s[4], expect=0)
    eq(status(db)["10.0.0.5"], "up", "listed up again")
    eq(events(db, "host_up")[-1], ("10.0.0.5", "host_up", "gone", "up", at(4)),
       "host_up from gone")
    eq(len(events(db, "host_gone")), 1, "still one host_gone")


@t.case
def a_scan_that_does_not_cover_it_does_not_count():
    d = tmpdir()
    s = series(d)
    other = [scan(d, "o1", 1.5, ["10.0.1.1"], args="nmap -p 22 10.0.1.0/24"),
             scan(d, "o2", 2.5, ALL[:2], args="nmap -p 22 -iL targets.txt"),
             scan(d, "o3", 2.7, ALL[:2], args="nmap -p 22 scanme.example.com 10.0.0.1-4"),
             scan(d, "o4", 2.8, ALL[:2], args="nmap -p 22 --exclude 10.0.0.5 10.0.0.0/28"),
             scan(d, "o5", 2.9, ALL[:2], args="nmap -S 10.0.0.5 -e eth0 -p 22 10.0.0.1")]
    db = imported([s[0], s[1], other[0], other[1], other[2], other[3], other[4], s[2]])
    eq(status(db)["10.0.0.5"], "up", "two covering misses; five scans that did not cover it")
    eq(events(db, "host_gone"), [], "no host_gone")
    # (the -iL scan still covers the hosts it lists: 10.0.0.3 and .4 missed it once)
    m = misses(db)
    eq(m.get("10.0.0.5"), 2, "misses of 10.0.0.5")
    run(db, "import", s[3], expect=0)
    eq(status(db)["10.0.0.5"], "gone", "the third covering miss")


@t.case
def gone_after_one_and_down_scans_count():
    d = tmpdir()
    db = imported([scan(d, "a", 0, ALL), scan(d, "b", 1, ALL[:4])], "--gone-after", "1")
    eq(status(db)["10.0.0.5"], "gone", "--gone-after 1: the first miss")
    eq(events(db, "host_gone"), [("10.0.0.5", "host_gone", "up", "gone", at(1))],
       "host_gone at once")
    # listed down counts as a miss: down, then gone at the third
    db = imported([scan(d, "c", 0, ALL), scan(d, "e", 1, ALL[:4], down=["10.0.0.5"]),
                   scan(d, "f", 2, ALL[:4], down=["10.0.0.5"])])
    eq(status(db)["10.0.0.5"], "down", "listed down twice")
    run(db, "import", scan(d, "g", 3, ALL[:4]), expect=0)
    eq(status(db)["10.0.0.5"], "gone", "down, down, then not listed")
    eq([e[1:4] for e in events(db) if e[0] == "10.0.0.5"],
       [("host_up", None, "up"), ("host_down", "up", "down"), ("host_gone", "down", "gone")],
       "the host's events")
    run(db, "import", scan(d, "h", 4, ALL[:4], down=["10.0.0.5"]), expect=0)
    eq(status(db)["10.0.0.5"], "gone", "a down scan keeps it gone")
    run(db, "import", scan(d, "h2", 5, ALL[:4], unknown=["10.0.0.5"]), expect=0)
    eq(status(db)["10.0.0.5"], "gone", "a list scan's unknown keeps it gone")
    # --gone-after 0: never
    db = imported([scan(d, "i", 0, ALL)] + [scan(d, f"j{k}", k, ALL[:4]) for k in (1, 2, 3, 4)],
                  "--gone-after", "0")
    eq(status(db)["10.0.0.5"], "up", "--gone-after 0: never gone")
    r = run(db, "import", "--gone-after", "x", scan(d, "bad", 9, ALL), expect=2)
    check("--gone-after" in r.err, r.err)
    eq(status(db)["10.0.0.5"], "up", "a usage error changes nothing")


def outcome(db):
    evs = sorted(events(db), key=repr)
    return status(db), evs, misses(db)


@t.case
def out_of_order_imports_give_the_same_result():
    d = tmpdir()
    s = series(d)
    s.insert(2, scan(d, "o", 1.5, ["10.0.1.1"], args="nmap -p 22 10.0.1.0/24"))
    want = outcome(imported(s))
    eq(want[0]["10.0.0.5"], "up", "in order: gone, then up again")
    check(any(e[1] == "host_gone" for e in want[1]), want[1])
    orders = [list(reversed(s)), [s[5], s[0], s[1], s[2], s[3], s[4]],
              [s[0], s[4], s[1], s[5], s[3], s[2]]]
    rng = random.Random(11)
    perms = list(itertools.permutations(s))
    orders += rng.sample(perms, 3 if PG else 7)
    for order in orders:
        got = outcome(imported(order))
        names = [os.path.basename(p) for p in order]
        eq(got, want, f"imported in the order {names}")
    # and one command with every file, given newest first (stored in scan-time order)
    db = newdb()
    run(db, "import", *reversed(s), expect=0)
    eq(outcome(db), want, "one import of every file")


@t.case
def job_rm_forgets_the_misses_of_the_job():
    """`job rm` of a scan that covered a host without listing it: the host's
    misses and status are derived again without that scan, as if it had never
    been imported (issue 11: job rm and gone together)."""
    d = tmpdir()
    s = series(d)[:4]  # s2..s4 miss 10.0.0.5: gone after s4
    for k in range(4):
        db = imported(s)
        eq(status(db)["10.0.0.5"], "gone", "gone before the removal")
        run(db, "-q", "job", "rm", str(k + 1), expect=0)
        want = imported(s[:k] + s[k + 1:])
        eq(status(db), status(want), f"job rm {k + 1}: statuses as without it")
        eq(sorted(events(db)), sorted(events(want)), f"job rm {k + 1}: events as without it")
        eq(misses(db), misses(want), f"job rm {k + 1}: miss counts as without it")


@t.case
def scan_covers_the_targets_it_was_given():
    """`scandb scan --gone-after N ARGS`: the job's ranges are read from the
    arguments nmap was given (here a stand-in nmap, SCANDB_NMAP, that prints
    a file whose own command line names no target)."""
    d = tmpdir()
    db = newdb()
    fake = os.path.join(d, "nmap")
    for k in range(3):
        out = scan(d, f"n{k}", k, ALL if k == 0 else ALL[:4], args="nmap -iL list.txt")
        with open(fake, "w", encoding="utf-8") as f:
            f.write(f"#!/bin/sh\ncat '{out}'\n")
        os.chmod(fake, 0o755)
        run(db, "scan", "--gone-after", "2", "-p", "22", "10.0.0.0/28",
            env={"SCANDB_NMAP": fake}, expect=0)
    eq(status(db)["10.0.0.5"], "gone", "two scans of 10.0.0.0/28 without it")
    eq([e[1:4] for e in events(db, "host_gone")], [("host_gone", "up", "gone")], "host_gone")
    r = run(db, "scan", "--gone-after", env={"SCANDB_NMAP": fake}, expect=2)
    check("--gone-after" in r.err, r.err)


@t.case
def a_scan_late_by_more_than_eight_scans():
    """A late scan's host list is read 8 later scans at a time; past that the
    list goes on (job_late.c): with misses in it, the derivation still ends,
    and gives what the import in order gives."""
    d = tmpdir()
    s = [scan(d, f"m{k:02d}", k, ALL if k in (0, 5, 11) else ALL[:4]) for k in range(12)]
    want = outcome(imported(s))
    eq(sorted(e[1] for e in want[1] if e[0] == "10.0.0.5"),
       ["host_gone"] * 2 + ["host_up"] * 3, "in order: the events of .5")
    got = outcome(imported(list(reversed(s))))
    eq(got, want, "imported newest first")
    got = outcome(imported(s[1:] + s[:1]))
    eq(got, want, "the first scan last")
    # a late miss with exactly 8 later scans of the host, which never meet
    # (the late one's miss stays one ahead in the count): the list that
    # stopped short is read on to its end, and the derivation ends there
    s = [scan(d, "u0", 0, ALL)] + [scan(d, f"d{k}", k, ALL[:4], down=["10.0.0.5"])
                                   for k in range(1, 9)]
    late = scan(d, "late_miss", 0.5, ALL[:4])
    want = outcome(imported([s[0], late] + s[1:]))
    eq(want[2]["10.0.0.5"], 9, "in order: 9 misses")
    got = outcome(imported(s + [late]))
    eq(got, want, "the miss imported late")


@t.case
def missed_hosts_are_read_a_page_at_a_time():
    """The misses of a job are read 4,096 hosts at a time (a test makes the
    pages 2 hosts): every page counts, the same as in one."""
    d = tmpdir()
    many = [scan(d, "w0", 0, ALL), scan(d, "w1", 1, ALL[:1]), scan(d, "w2", 2, ALL[:2]),
            scan(d, "w3", 3, ALL[:1])]
    want = outcome(imported(many))
    eq(want[0], {"10.0.0.1": "up", "10.0.0.2": "up", "10.0.0.3": "gone", "10.0.0.4": "gone",
                 "10.0.0.5": "gone"}, "in one page")
    db = newdb()
    for f in many:
        run(db, "import", f, expect=0, env={"SCANDB_TEST_MISSED_PAGE": "2"})
    eq(outcome(db), want, "in pages of 2")


@t.case
def late_scan_that_lists_it_up_breaks_the_run_of_misses():
    d = tmpdir()
    s = series(d)[:4]
    db = imported(s)
    eq(status(db)["10.0.0.5"], "gone", "gone after s2..s4")
    # a scan between s2 and s3 that saw it up, imported late: not gone any more
    run(db, "import", scan(d, "late", 1.5, ALL), expect=0)
    eq(status(db)["10.0.0.5"], "up", "two misses after the late up")
    eq(events(db, "host_gone"), [], "its host_gone is derived away")
    eq(misses(db)["10.0.0.5"], 2, "misses after the late scan")


@t.case
def migration_0012_down_and_up_with_data():
    d = tmpdir()
    s = series(d)
    db = imported(s[:4])
    eq(status(db)["10.0.0.5"], "gone", "gone before down")
    run(db, "migrate", "down", "--force", "11" if has_11() else "10", expect=0)
    st = dict(sql(db, "SELECT addr, status FROM hosts")) if not PG else \
        dict((str(a).split("/")[0], b) for a, b in sql(db, "SELECT host(addr), status FROM hosts"))
    eq(st["10.0.0.5"], "down", "a gone host becomes down")
    eq(sql(db, "SELECT count(*) FROM host_events WHERE kind = 'host_gone'")[0][0], 0,
       "host_gone events removed")
    bad = ("INSERT INTO host_events (host_id, job_id, kind, at) SELECT id, last_job_id,"
           " 'host_gone', last_seen FROM hosts LIMIT 1")
    try:
        sql(db, bad)
        check(False, "the CHECK allowed host_gone after down")
    except Exception as e:  # the CHECK refuses it again
        check("check" in str(e).lower() or "constraint" in str(e).lower(), str(e))
    run(db, "migrate", "up", expect=0)
    run(db, "import", s[4], expect=0)
    eq(status(db)["10.0.0.5"], "up", "after up again: imports work")
    run(db, "import", scan(d, "x1", 5, ALL[:4]), expect=0)
    run(db, "import", scan(d, "x2", 6, ALL[:4]), expect=0)
    run(db, "import", scan(d, "x3", 7, ALL[:4]), expect=0)
    eq(status(db)["10.0.0.5"], "gone", "gone again after up")
    r = run(db, "doctor", expect=None)
    check(r.code == 0, f"doctor after down and up: {r!r}")


def has_11():
    from e2e_util import REPO
    mig = os.path.join(REPO, "src/store/migrations", "pg" if PG else "sqlite")
    return any(n.startswith("0011_") for n in os.listdir(mig))


if __name__ == "__main__":
    t.main()
