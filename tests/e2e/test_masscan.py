#!/usr/bin/python3
"""End-to-end: `scandb import` of masscan (-oX, -oJ, -oL, -oD) and zmap
(CSV, JSON, address list) output - the real files in tests/data/masscan and
tests/data/zmap, made by masscan and zmap in a test network namespace.
Every format gives the same stored host; the format is told from the
content, never the file name (a renamed file, standard input); history is
scope-aware: a port a masscan file does not report is not closed by it
unless `--ports` says it was probed; broken files fail with FILE:LINE[:COL]
and store nothing; bad --ports is a usage error."""
import json
import os
import shutil

from e2e_util import Tests, check, dump, eq, newdb, run, tmpdir, write

t = Tests("masscan")

HERE = os.path.dirname(os.path.abspath(__file__))
MASSCAN = os.path.join(HERE, "../data/masscan")
ZMAP = os.path.join(HERE, "../data/zmap")
HOSTILE = os.path.join(HERE, "../data/hostile")


def host_ports(db, addr):
    """(protocol, port, state) of a host's current ports, sorted."""
    h = run(db, "host", addr, "--format", "json", expect=0).json()
    return sorted((p["protocol"], p["port"], p["state"]) for p in h["ports"])


def job(db, job_id):
    return run(db, "job", job_id, "--format", "json", expect=0).json()


def events(db, kind=None):
    rows = run(db, "changes", "--format", "json", expect=0).json()
    return [(e["kind"], e["protocol"], e["port"]) for e in rows if not kind or e["kind"] == kind]


@t.case
def every_masscan_format_gives_the_same_host():
    for f in ["scan1.xml", "scan1.json", "scan1.list", "scan1.ndjson"]:
        db = newdb()
        r = run(db, "import", os.path.join(MASSCAN, f), expect=0)
        check("imported as job 1: 1 hosts (1 up), 2 ports (2 open)" in r.out, f"{f}: {r.out!r}")
        eq(host_ports(db, "10.77.0.2"), [("tcp", 22, "open"), ("tcp", 80, "open")], f)
        j = job(db, 1)
        eq(j["scanner"], "masscan", f"{f}: scanner")
        eq(j["probed_scope"], "tcp:22,80", f"{f}: scope from the reported ports")
        eq(j["hosts_up"], 1, f"{f}: hosts up")
        h = run(db, "host", "10.77.0.2", "--format", "json", expect=0).json()
        eq(h["status"], "up", f"{f}: masscan lists only hosts that answered")


@t.case
def ipv6_written_as_ipv4_is_ipv6():
    for f in ["mixed-v6.xml", "mixed-v6.json", "mixed-v6.ndjson"]:
        db = newdb()
        run(db, "import", os.path.join(MASSCAN, f), expect=0)
        eq(host_ports(db, "fd77::2"), [("tcp", 8080, "open")], f)
        eq(host_ports(db, "10.77.0.2"),
           [("tcp", 22, "open"), ("tcp", 80, "open"), ("tcp", 8080, "open")], f)


@t.case
def banners_are_scripts():
    for f in ["banners.xml", "banners.list", "banners.json", "banners.ndjson"]:
        db = newdb()
        run(db, "import", os.path.join(MASSCAN, f), expect=0)
        h = run(db, "host", "10.77.0.2", "--format", "json", expect=0).json()
        p22 = [p for p in h["ports"] if p["port"] == 22][0]
        ids = {s["id"]: s["output"] for s in p22.get("scripts", [])}
        eq(ids.get("banner-ssh"), "SSH-2.0-OpenSSH_7.4 scandb-fixture", f"{f}: ssh banner")
        eq(p22.get("service"), "ssh", f"{f}: service from the banner type")


@t.case
def zmap_formats():
    db = newdb()
    run(db, "import", os.path.join(ZMAP, "zmap80.csv"), expect=0)
    eq(job(db, 1)["scanner"], "zmap", "scanner")
    eq(job(db, 1)["probed_scope"], "tcp:80", "zmap: one port per scan")
    run(db, "import", os.path.join(ZMAP, "zmap443.csv"), expect=0)
    run(db, "import", os.path.join(ZMAP, "zmap22.csv"), expect=0)
    eq(host_ports(db, "10.77.0.2"),
       [("tcp", 22, "open"), ("tcp", 80, "open"), ("tcp", 443, "closed")], "zmap ports")
    db = newdb()
    run(db, "import", os.path.join(ZMAP, "zmap443.json"), expect=0)
    eq(host_ports(db, "10.77.0.2"), [("tcp", 443, "closed")], "zmap json (rst)")
    # zmap's default output: addresses alone, the port from --ports
    d = tmpdir()
    addrs = write(os.path.join(d, "out"), "10.77.0.2\n10.77.0.3\n")
    r = run(db, "import", addrs, expect=1)
    check(f"{addrs}:1:1:" in r.err and "--ports" in r.err, f"no port: {r.err!r}")
    run(db, "import", "--ports", "8443", addrs, expect=0)
    eq(host_ports(db, "10.77.0.3"), [("tcp", 8443, "open")], "zmap address list")


@t.case
def format_from_content_not_name():
    d = tmpdir()
    want = None
    src = os.path.join(MASSCAN, "scan1.list")
    for name in ["scan.xml", "scan.json", "report.nmap", "noextension"]:
        db = newdb()
        p = os.path.join(d, name)
        shutil.copy(src, p)
        run(db, "import", p, expect=0)
        got = host_ports(db, "10.77.0.2")
        want = want or got
        eq(got, want, f"{name}: same result whatever the name")
    for f in ["scan1.xml", "scan1.json", "scan1.ndjson", "scan1.list"]:
        db = newdb()
        with open(os.path.join(MASSCAN, f)) as fh:
            run(db, "import", "-", input=fh.read(), expect=0)
        eq(host_ports(db, "10.77.0.2"), want, f"{f} on standard input")
    # nmap XML on standard input still goes through the nmap parser
    db = newdb()
    with open(os.path.join(HERE, "../data/nmap/simple.xml")) as fh:
        r = run(db, "import", "-", input=fh.read())
    eq(r.code, 0, f"nmap XML on stdin: {r.err!r}")
    eq(job(db, 1)["scanner"], "nmap", "nmap XML on stdin")


@t.case
def history_is_scope_aware():
    # scan 1 saw 22 and 80 open; scan 2 (port 80's listener gone) reports 22
    db = newdb()
    run(db, "import", os.path.join(MASSCAN, "scan1.xml"), expect=0)
    run(db, "import", os.path.join(MASSCAN, "scan2.xml"), expect=0)
    eq(events(db, "port_closed"), [], "a port masscan did not report is not closed")
    eq(host_ports(db, "10.77.0.2"), [("tcp", 22, "open"), ("tcp", 80, "open")],
       "80 stays open: not probed as far as the file says")
    # the same second scan, stated as probing 22 and 80: 80 closed
    db = newdb()
    run(db, "import", os.path.join(MASSCAN, "scan1.xml"), expect=0)
    run(db, "import", "--ports", "22,80", os.path.join(MASSCAN, "scan2.xml"), expect=0)
    eq(job(db, 2)["probed_scope"], "tcp:22,80", "scope from --ports")
    eq(events(db, "port_closed"), [("port_closed", "tcp", 80)], "closed within the scope")
    eq(host_ports(db, "10.77.0.2"), [("tcp", 22, "open"), ("tcp", 80, "closed")], "ports")
    # a new open port is opened; ports outside --ports still count (reported)
    d = tmpdir()
    third = write(os.path.join(d, "third.list"),
                  "#masscan\nopen tcp 22 10.77.0.2 1796690000\nopen tcp 443 10.77.0.2 1796690000\n"
                  "# end\n")
    run(db, "import", "--ports", "22", third, expect=0)
    eq(job(db, 3)["probed_scope"], "tcp:22,443", "reported ports join --ports")
    eq(events(db, "port_opened"), [("port_opened", "tcp", 443)], "443 opened")
    eq(events(db, "port_closed"), [("port_closed", "tcp", 80)], "80 not closed again")


@t.case
def many_files_import_oldest_scan_first():
    db = newdb()
    r = run(db, "import", os.path.join(MASSCAN, "scan2.xml"), os.path.join(ZMAP, "zmap80.csv"),
            os.path.join(MASSCAN, "scan1.list"), expect=0)
    order = [line.split(":")[0] for line in r.out.splitlines() if "imported as job" in line]
    eq([os.path.basename(f) for f in order], ["scan1.list", "zmap80.csv", "scan2.xml"],
       "oldest scan first (masscan's and zmap's times read from their first bytes)")


@t.case
def broken_files_fail_with_position_and_store_nothing():
    db = newdb()
    run(db, "import", os.path.join(MASSCAN, "scan1.xml"), expect=0)
    before = dump(db)
    cases = {
        "masscan_truncated.xml": ":7:28: unexpected end of file (truncated?)",
        "masscan_truncated.json": ":4:67:",
        "masscan_after_end.json": ":4:1: text after the list's closing ']'",
        "masscan_bad_line.list": ":3:10: 'eighty' is not a port",
        "masscan_bad_addr.ndjson": ":2:1: '10.0.0.300' is not an IP address",
        "masscan_bad_utf8.json": ":2:",
        "masscan_doctype.xml": ":2:19: DOCTYPE not accepted",
        "zmap_short_row.csv": ":3:10: 2 fields where the header names 4",
        "unknown_format.txt": ":1:1: unknown format",
    }
    for f, what in cases.items():
        path = os.path.join(HOSTILE, f)
        r = run(db, "import", path, expect=1)
        check(f"{path}{what}" in r.err, f"{f}: {r.err!r}")
        eq(dump(db), before, f"database after {f}")
    # what masscan is known for is taken
    for f in ["masscan_trailing_comma.json", "masscan_missing_bracket.json",
              "masscan_ipv6.xml", "masscan_bad_utf8.list"]:
        run(db, "import", os.path.join(HOSTILE, f), expect=0)
    h = run(db, "host", "10.0.0.1", "--format", "json", expect=0).json()
    p21 = [p for p in h["ports"] if p["port"] == 21][0]
    eq(p21["scripts"][0]["output"], "220 caf\\xe9 \\xff\\xfe ready\\x01",
       "bytes that are not UTF-8 escaped as masscan does")
    r = run(db, "import", os.path.join(HOSTILE, "masscan_huge_banner.list"), expect=0)
    check("banner of 10.0.0.1 port 22 cut to 65536" in r.err, f"warning: {r.err!r}")
    # the shape the nmap corpus used to refuse (one <host> per port)
    run(db, "import", os.path.join(MASSCAN, "handwritten.xml"), expect=0)
    eq(host_ports(db, "192.0.2.7"), [("tcp", 80, "open"), ("tcp", 443, "open")], "handwritten")
    # `scandb diff` reads nmap XML only: a masscan file is refused there
    r = run(db, "diff", os.path.join(MASSCAN, "handwritten.xml"),
            os.path.join(MASSCAN, "scan1.xml"))
    check(r.code != 0 and "masscan XML is not supported" in r.err, f"diff: {r!r}")
    # --partial keeps the complete entries of a cut-off -oX
    db = newdb()
    r = run(db, "import", "--partial", os.path.join(HOSTILE, "masscan_truncated.xml"), expect=0)
    check("partial job 1" in r.out, f"partial: {r.out!r}")
    eq(host_ports(db, "10.77.0.2"), [("tcp", 22, "open"), ("tcp", 80, "open")], "partial")


@t.case
def ports_option():
    db = newdb()
    for bad in ["", "80,", "0-70000", "90-80", "X:80", "eighty"]:
        r = run(db, "import", "--ports", bad, os.path.join(MASSCAN, "scan1.xml"), expect=2)
        check("--ports" in r.err, f"{bad!r}: {r.err!r}")
    r = run(db, "import", "--ports", expect=2)
    check("--ports needs a value" in r.err, r.err)
    r = run(db, "import", "--ports=22", os.path.join(HERE, "../data/nmap/simple.xml"), expect=1)
    check("--ports is for masscan and zmap files" in r.err, r.err)
    r = run(db, "import", "--help", expect=0)
    check("--ports SPEC" in r.out and "masscan" in r.out, "help names --ports")


t.main()
