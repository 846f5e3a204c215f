#!/usr/bin/python3
"""test_memory.py - scandb's memory does not grow with the number of hosts,
and no file can make it hold more than its limits allow (issue 17, item 10).

Files come from tests/e2e/memory_xml.py: many small hosts streamed through a
pipe (`scandb import -`), a host of 20 port scripts of 4 MiB, the run's
pre-scan scripts of 4 MiB, a host listing all 65,535 ports.

A release build runs every scandb with its address space limited (RLIMIT_AS,
`ulimit -v`, glibc's malloc held to one arena so that the limit is about
memory, not reserved address space) and checks its peak RSS (ru_maxrss of the
child): under 64 MB for any number of hosts and for script-heavy hosts, and
no growth from 50,000 to 200,000 hosts; under 128 MB for a host of 65,535
ports.  A sanitizer build (ASan's shadow memory and quarantine change every
figure) runs the same cases, smaller, and checks what they store only.

The cases also check that the limits keep what they promise: a script output
past 1 MiB, or a host's past 8 MiB in all, is cut with a note and a warning
naming file:line:col, and a host listed twice is found whatever the filter
says (SCANDB_TEST_SEEN_BITS makes nearly every host a false positive).
"""
import json
import os
import resource
import subprocess
import sys
import tempfile
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import memory_xml  # noqa: E402
from e2e_util import (PG, SCANDB, Tests, check, eq, newdb, run, sql1,  # noqa: E402
                      tmpdir)

t = Tests("memory")
MB = 1 << 20
MiB = 1 << 20


def sanitized():
    """Is $SCANDB built with a sanitizer (its memory figures mean nothing)?"""
    with open(SCANDB, "rb") as f:
        data = f.read()
    return b"__asan_init" in data or b"__tsan_init" in data or b"__msan_init" in data


SAN = sanitized()
# the address space a release scandb may use in these cases, and the peak
# RSS the README promises
AS_LIMIT = 192 * MB
RSS_MAX = 64 * MB
RSS_MAX_ALL_PORTS = 128 * MB


class Measured:
    def __init__(self, argv, code, out, err, maxrss):
        self.argv = argv
        self.code = code
        self.out = out
        self.err = err
        self.maxrss = maxrss  # bytes

    def __repr__(self):
        return (f"<{' '.join(self.argv[:6])}... -> {self.code}, peak RSS "
                f"{self.maxrss / MB:.1f} MB\nstderr: {self.err[:1500]}>")


def measured(db, *args, feed=None, env=None, expect=0):
    """Run scandb --db DB ARGS with feed(out) (a memory_xml writer) on its
    stdin; its peak RSS from wait4().  Release build: RLIMIT_AS applies."""
    argv = [SCANDB, "--db", db] + [str(a) for a in args]
    e = dict(os.environ)
    e["MALLOC_ARENA_MAX"] = "1"
    if env:
        e.update(env)

    def limit():
        if not SAN:
            resource.setrlimit(resource.RLIMIT_AS, (AS_LIMIT, AS_LIMIT))

    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        p = subprocess.Popen(argv, stdin=subprocess.PIPE if feed else subprocess.DEVNULL,
                             stdout=out, stderr=err, env=e, preexec_fn=limit)
        writer = None
        if feed:
            def write():
                try:
                    with open(p.stdin.fileno(), "w", encoding="utf-8", closefd=False) as w:
                        feed(w)
                except (BrokenPipeError, ValueError):
                    pass  # scandb stopped reading (a refused file): its exit says why
                finally:
                    try:
                        p.stdin.close()
                    except BrokenPipeError:
                        pass
            writer = threading.Thread(target=write, daemon=True)
            writer.start()
        _, status, ru = os.wait4(p.pid, 0)
        p.returncode = os.waitstatus_to_exitcode(status)
        if writer:
            writer.join(timeout=60)
        out.seek(0)
        err.seek(0)
        m = Measured(argv, p.returncode, out.read().decode("utf-8", "replace"),
                     err.read().decode("utf-8", "replace"), ru.ru_maxrss * 1024)
    if expect is not None and m.code != expect:
        raise AssertionError(f"expected exit {expect}: {m!r}")
    return m


def rss_under(m, limit, what):
    if SAN:
        return
    print(f"     {what}: peak RSS {m.maxrss / MB:.1f} MB", flush=True)
    check(m.maxrss < limit, f"{what}: peak RSS {m.maxrss / MB:.1f} MB, limit "
                            f"{limit / MB:.0f} MB: {m!r}")


def write_file(path, writer, *args, **kw):
    with open(path, "w", encoding="utf-8") as f:
        writer(f, *args, **kw)
    return path


@t.case
def many_hosts_memory_does_not_grow():
    """50,000 then 200,000 hosts through a pipe: the same peak RSS (a set of
    every address seen took ~45 bytes a host), under 64 MB."""
    small, big = (2000, 8000) if SAN else (50000, 200000)
    peaks = []
    for n in (small, big):
        db = newdb()
        m = measured(db, "-q", "import", "-", feed=lambda w, n=n: memory_xml.many_hosts(w, n))
        check(f"{n} hosts ({n} up)" in m.out, f"{m!r}\n{m.out}")
        eq(sql1(db, "SELECT count(*) FROM host_scans"), n, "hosts stored")
        rss_under(m, RSS_MAX, f"import of {n} hosts")
        peaks.append(m.maxrss)
    if not SAN:
        grew = peaks[1] - peaks[0]
        check(grew < 3 * MB, f"peak RSS grew {grew / MB:.1f} MB from {small} to {big} hosts "
                             f"({peaks[0] / MB:.1f} -> {peaks[1] / MB:.1f} MB)")


@t.case
def script_heavy_host_is_cut_and_bounded():
    """A host of 20 port scripts of 4 MiB (an 84 MB file): each output is
    cut to 1 MiB and the host's to 8 MiB in all, with a warning saying
    where; import, a re-import with every output changed, host, host
    --format json and diff stay under 64 MB."""
    d = tmpdir()
    n, size = (10, 1300 * 1024) if SAN else (20, 4194000)
    a = write_file(os.path.join(d, "a.xml"), memory_xml.script_hosts, n, size)
    b = write_file(os.path.join(d, "b.xml"), memory_xml.script_hosts, n, size, fill="z",
                   seed=1, start=1700003600)
    db = newdb()
    m = measured(db, "import", a)
    rss_under(m, RSS_MAX, "import of the script-heavy host")
    # one warning per script: where its <script> starts, what was cut, why
    warns = [ln for ln in m.err.splitlines() if "output of script" in ln]
    eq(len(warns), n, f"warnings: {m.err[:2000]}")
    check(warns[0].startswith(f"scandb: warning: {a}:6:") and
          f'output of script "s0" ({memory_xml.parsed_size(size)} bytes) cut to 1048576 '
          'bytes: over 1 MiB' in warns[0],
          f"first warning: {warns[0]!r}")
    check("the host's script output is over 8 MiB in all" in warns[-1], f"{warns[-1]!r}")
    kept = sql1(db, "SELECT sum(length(output)) FROM scripts")
    notes = sql1(db, "SELECT count(*) FROM scripts WHERE output LIKE '%[scandb: output cut to %'")
    eq(notes, n, "every output carries the note")
    check(8 * MiB <= kept < 8 * MiB + n * 100, f"{kept} bytes of script output kept")
    m = measured(db, "import", b)
    rss_under(m, RSS_MAX, "re-import with every output changed")
    # s0-s7 kept 1 MiB each, and changed; the rest are notes alike
    eq(sql1(db, "SELECT count(*) FROM host_events WHERE kind = 'script_changed'"), 8,
       "script_changed events")
    host = measured(db, "host", "10.0.0.0")
    rss_under(host, RSS_MAX, "host")
    check("|  [scandb: output cut to " in host.out, "host shows the note")
    js = measured(db, "host", "10.0.0.0", "--format", "json")
    rss_under(js, RSS_MAX, "host --format json")
    check('[scandb: output cut to ' in js.out, "json has the note")
    dif = measured(db, "diff", "1", "2", expect=1)
    rss_under(dif, RSS_MAX, "diff 1 2")
    check(dif.out.count("|  ") > 1000, "diff shows the changed lines")
    dif = measured(db, "diff", a, b, expect=1)
    rss_under(dif, RSS_MAX, "diff of the two files")


@t.case
def findings_of_a_script_heavy_host_are_bounded():
    """20 outputs of 4 MiB that say VULNERABLE: the 8 kept whole are 8
    findings whose evidence holds their output; made one at a time, under
    64 MB."""
    d = tmpdir()
    n, size = (10, 1300 * 1024) if SAN else (20, 4194000)
    # backslashes: twice as long as JSON text
    path = write_file(os.path.join(d, "vuln.xml"), memory_xml.script_hosts, n, size,
                      fill="\\", vulnerable=True)
    db = newdb()
    m = measured(db, "-q", "import", path)
    rss_under(m, RSS_MAX, "import of 20 vulnerable outputs")
    eq(sql1(db, "SELECT count(*) FROM findings"), 8, "findings (the outputs kept whole)")
    check(sql1(db, "SELECT min(length(CAST(details AS TEXT))) FROM findings") > MiB,
          "evidence kept")


@t.case
def host_of_many_scripts_is_linear():
    """A host of 65,536 small scripts that all say VULNERABLE: 65,536
    findings, imported twice in seconds (the change-event state and the
    findings found each script and finding by a linear search: 40 s)."""
    nports = 2048 if SAN else 16384
    # PostgreSQL: a round trip per finding, and its history load holds the
    # host's rows and its block's (every finding) at once: ~130 MB
    rss_max, secs = (192 * MB, 120) if PG else (RSS_MAX_ALL_PORTS, 30)
    db = newdb()
    start = time.monotonic()
    for force in ((), ("--force",)):
        m = measured(db, "-q", "import", *force, "-",
                     feed=lambda w: memory_xml.many_scripts_host(w, nports))
        rss_under(m, rss_max, "import of a host of 65,536 scripts")
    took = time.monotonic() - start
    eq(sql1(db, "SELECT count(*) FROM findings"), nports * 4, "findings")
    eq(sql1(db, "SELECT count(*) FROM finding_jobs"), nports * 8, "findings seen twice")
    if not SAN:
        check(took < secs, f"two imports took {took:.1f} s")


@t.case
def run_scripts_are_cut_and_bounded():
    """17 pre-scan scripts of 4 MiB (they are held until the end of the
    run): 8 MiB in all are kept, the rest cut; under 64 MB."""
    d = tmpdir()
    n, size = (10, 1300 * 1024) if SAN else (17, 4194000)
    path = write_file(os.path.join(d, "pre.xml"), memory_xml.run_scripts, n, size)
    db = newdb()
    m = measured(db, "import", path)
    rss_under(m, RSS_MAX, "import of the run's scripts")
    check("the run's pre-/post-scan script output is over 8 MiB in all" in m.err, m.err[-500:])
    kept = sql1(db, "SELECT sum(length(output)) FROM run_scripts")
    check(8 * MiB <= kept < 8 * MiB + n * 100, f"{kept} bytes of pre-scan output kept")


@t.case
def host_of_every_port_is_bounded():
    """A host listing all 65,535 ports (a tarpit scanned with -sV) imports,
    twice, shows (as a table and as JSON) and diffs under 128 MB; one whose
    fields make it hold over 16 MiB is refused with file:line:col."""
    d = tmpdir()
    nports = 8000 if SAN else 65535
    path = write_file(os.path.join(d, "tarpit.xml"), memory_xml.port_hosts, nports, 16)
    db = newdb()
    for args in (("import", path), ("import", "--force", path)):
        m = measured(db, "-q", *args)
        rss_under(m, RSS_MAX_ALL_PORTS, " ".join(args[:2]))
    eq(sql1(db, "SELECT count(*) FROM ports WHERE job_id = 2"), nports, "ports of job 2")
    rss_under(measured(db, "host", "10.0.0.0"), RSS_MAX_ALL_PORTS, "host")
    js = measured(db, "host", "10.0.0.0", "--format", "json")
    rss_under(js, RSS_MAX_ALL_PORTS, "host --format json")
    eq(len(json.loads(js.out)["ports"]), nports, "ports in the JSON")
    rss_under(measured(db, "diff", "1", "2"), RSS_MAX_ALL_PORTS, "diff")
    # 65,535 ports of 4 KiB fields: ~540 MB of strings for one host (a
    # pipe: the file is never written whole)
    m = measured(db, "import", "-", feed=lambda w: memory_xml.port_hosts(w, 65535, 4096),
                 expect=1)
    check("scandb: <stdin>:" in m.err and "the <host> at line 4 holds more than 16 MiB "
          "(ports, names, fields; script output aside)" in m.err, m.err[-500:])
    rss_under(m, RSS_MAX, "the refused host")
    eq(sql1(db, "SELECT count(*) FROM jobs"), 2, "nothing stored of the refused file")


TWICE = """<?xml version="1.0"?>
<nmaprun scanner="nmap" args="nmap -p 22,80 192.0.2.0/30 192.0.2.2" start="{t}" version="7.94" xmloutputversion="1.05">
<scaninfo type="syn" protocol="tcp" numservices="2" services="22,80"/>
{hosts}<runstats><finished time="{t}" elapsed="1.00" exit="success"/><hosts up="1" down="0" total="1"/></runstats>
</nmaprun>
"""
HOST = """<host starttime="{t}" endtime="{t}"><status state="up" reason="syn-ack"/>
<address addr="{a}" addrtype="ipv4"/><ports><port protocol="tcp" portid="{p}"><state state="open" reason="syn-ack"/></port></ports></host>
"""


@t.case
def host_listed_twice_is_found_without_a_set_of_addresses():
    """A host nmap lists twice keeps its first listing - also when the
    first listing is older than what the database has (its scans are
    replayed), without change events (a benchmark knob), and when every
    host is a false positive of the filter (the store settles each)."""
    d = tmpdir()
    t0, t1 = 1700000000, 1700007200
    hosts = "".join(HOST.format(t=t0 + i, a=f"192.0.2.{i}", p=22) for i in range(4))
    twice = TWICE.format(t=t0, hosts=hosts + HOST.format(t=t0 + 9, a="192.0.2.2", p=80))
    path = os.path.join(d, "twice.xml")
    with open(path, "w") as f:
        f.write(twice)
    newer = os.path.join(d, "newer.xml")
    with open(newer, "w") as f:
        f.write(TWICE.format(t=t1, hosts=HOST.format(t=t1, a="192.0.2.2", p=443)))
    cases = [("in order", {}, False), ("without events", {"SCANDB_BENCH_NO_HISTORY": "1"}, False),
             ("older than the database (replayed)", {}, True),
             ("every host a false positive", {"SCANDB_TEST_SEEN_BITS": "64"}, True)]
    for what, env, newer_first in cases:
        db = newdb()
        if newer_first:
            run(db, "import", newer, expect=0)
        r = run(db, "import", path, env=env, expect=0)
        check("1 host listed more than once" in r.err, f"{what}: {r!r}")
        job = 2 if newer_first else 1
        eq(sql1(db, "SELECT count(*) FROM host_scans WHERE job_id = ?", (job,)), 4,
           f"{what}: hosts of the job")
        eq(sql1(db, "SELECT count(*) FROM ports p JOIN hosts h ON h.id = p.host_id "
                    "WHERE p.job_id = ? AND h.addr = '192.0.2.2' AND p.port = 22", (job,)), 1,
           f"{what}: the first listing's port")
        eq(sql1(db, "SELECT count(*) FROM ports WHERE job_id = ? AND port = 80", (job,)), 0,
           f"{what}: the second listing left out")
    # every one of 3,000 hosts a false positive: all stored, none dropped
    db = newdb()
    m = measured(db, "-q", "import", "-", feed=lambda w: memory_xml.many_hosts(w, 3000),
                 env={"SCANDB_TEST_SEEN_BITS": "64"})
    eq(sql1(db, "SELECT count(*) FROM host_scans"), 3000, "hosts stored")


if __name__ == "__main__":
    if SAN:
        print("note: sanitizer build: memory figures are not checked, only what is stored",
              flush=True)
    t.main()
