#!/usr/bin/python3
"""End-to-end: the read commands `hosts`, `host`, `jobs`, `job` in every
format (table, json, ndjson, csv), checked field by field against the nmap
XML they were imported from (parsed here with xml.etree), plus the filters,
the "most recent scan wins" view, --job views, terminal-safe tables and
usage errors.  The output contract is docs/OUTPUT.md."""
import csv
import io
import json
import os
import re
import socket

from e2e_util import (JOB_KEYS, Tests, addr_key, check, check_host, check_job, data, eq, iso,
                      newdb, parse_nmap, run, sql, sql_script, sqlite_case, tmpdir, ts_sql,
                      write)

t = Tests("query_output")
SAMPLES = ["simple.xml", "complex.xml", "os.xml", "single.xml", "down.xml", "empty.xml"]

HOST_CSV = ["addr", "status", "hostnames", "mac", "os", "first_seen", "last_seen", "job_id",
            "protocol", "port", "state", "service", "product", "version"]
JOB_CSV = JOB_KEYS

# Four hosts: a rich one (MAC, OS, cpe, tunnel, scripts, a product with a
# comma and quotes, a long hostname), a plain one, a down one without ports,
# and an IPv6 one whose PTR name holds a C1 CSI, a tab and a newline.
MULTI = """<?xml version="1.0"?>
<nmaprun scanner="nmap" args="nmap -sS -sU -sV -O -p T:22,80,443,U:53 192.0.2.0/27 2001:db8::1" start="1700000000" version="7.94" xmloutputversion="1.05">
<scaninfo type="syn" protocol="tcp" numservices="3" services="22,80,443"/>
<scaninfo type="udp" protocol="udp" numservices="1" services="53"/>
<host starttime="1700000010" endtime="1700000020"><status state="up" reason="arp-response" reason_ttl="0"/>
<address addr="192.0.2.10" addrtype="ipv4"/>
<address addr="00:11:22:aa:bb:cc" addrtype="mac" vendor="Acme, Inc."/>
<hostnames><hostname name="web.example.com" type="user"/><hostname name="a-very-long-host-name-that-goes-on.example.com" type="PTR"/></hostnames>
<ports>
<extraports state="closed" count="997"><extrareasons reason="reset" count="997"/></extraports>
<port protocol="tcp" portid="22"><state state="open" reason="syn-ack" reason_ttl="64"/><service name="ssh" product="OpenSSH" version="9.2p1 Debian 2" extrainfo="protocol 2.0" ostype="Linux" method="probed" conf="10"><cpe>cpe:/a:openbsd:openssh:9.2p1</cpe><cpe>cpe:/o:linux:linux_kernel</cpe></service><script id="ssh-hostkey" output="&#xa;  256 aa:bb (ECDSA)&#xa;  256 cc:dd (ED25519)"/></port>
<port protocol="tcp" portid="443"><state state="open" reason="syn-ack" reason_ttl="64"/><service name="http" product="nginx, &quot;patched&quot;" version="1.22" tunnel="ssl" method="probed" conf="10"/><script id="http-title" output="Welcome&#10;to nginx"/></port>
<port protocol="tcp" portid="80"><state state="filtered" reason="no-response" reason_ttl="0"/><service name="http" method="table" conf="3"/></port>
<port protocol="udp" portid="53"><state state="open" reason="udp-response" reason_ttl="64"/><service name="domain" method="table" conf="3"/></port>
</ports>
<os><osmatch name="Linux 5.0 - 5.14" accuracy="98" line="1"><osclass type="general purpose" vendor="Linux" osfamily="Linux" osgen="5.X" accuracy="98"><cpe>cpe:/o:linux:linux_kernel:5</cpe></osclass></osmatch><osmatch name="Linux 4.15" accuracy="90" line="2"><osclass type="general purpose" vendor="Linux" osfamily="Linux" osgen="4.X" accuracy="90"/></osmatch></os>
<uptime seconds="3600" lastboot="Tue Nov 14 21:13:20 2023"/>
<distance value="1"/>
<hostscript><script id="smb-os-discovery" output="OS: none&#10;Name: web"/></hostscript>
</host>
<host starttime="1700000011" endtime="1700000021"><status state="up" reason="echo-reply" reason_ttl="63"/>
<address addr="192.0.2.20" addrtype="ipv4"/>
<hostnames/>
<ports>
<port protocol="tcp" portid="22"><state state="closed" reason="reset" reason_ttl="63"/><service name="ssh" method="table" conf="3"/></port>
<port protocol="tcp" portid="80"><state state="open" reason="syn-ack" reason_ttl="63"/><service name="http" product="Apache httpd" method="probed" conf="10"/></port>
</ports>
</host>
<host starttime="1700000012" endtime="1700000022"><status state="down" reason="no-response" reason_ttl="0"/>
<address addr="192.0.2.30" addrtype="ipv4"/>
</host>
<host starttime="1700000013" endtime="1700000023"><status state="up" reason="echo-reply" reason_ttl="64"/>
<address addr="2001:db8:0:0::1" addrtype="ipv6"/>
<hostnames><hostname name="evil&#x9b;[31m&#9;x&#10;y" type="PTR"/></hostnames>
<ports>
<port protocol="tcp" portid="22"><state state="open" reason="syn-ack" reason_ttl="64"/><service name="ssh" method="table" conf="3"/></port>
</ports>
</host>
<runstats><finished time="1700000030" timestr="x" elapsed="30.50" summary="x" exit="success"/><hosts up="3" down="1" total="4"/></runstats>
</nmaprun>
"""
EVIL = "evil\x9b[31m\tx\ny"


# ---- fixtures (the expected view from the XML: e2e_util.parse_nmap) -----------

def multi_file():
    return write(os.path.join(tmpdir(), "multi.xml"), MULTI)


def imported(*files):
    """A new database with `files` imported in this order."""
    db = newdb()
    for f in files:  # one command each: one `import A B` sorts them by scan time
        run(db, "import", f, expect=0)
    return db


# ---- comparisons (field by field: e2e_util.check_host, check_job) ---------------

def csv_rows(text):
    rows = list(csv.reader(io.StringIO(text, newline="")))
    check(rows, "csv output has a header")
    return rows[0], rows[1:]


def expected_host_csv(hosts):
    """hosts: host objects as the JSON output gives them."""
    out = []
    for h in hosts:
        base = [h["addr"], h["status"], ";".join(h["hostnames"]), h["mac"] or "", h["os"] or "",
                h["first_seen"] or "", h["last_seen"] or "", str(h["job_id"])]
        if not h["ports"]:
            out.append(base + [""] * 6)
        for p in h["ports"]:
            out.append(base + [p["protocol"], str(p["port"]), p["state"], p["service"] or "",
                               p["product"] or "", p["version"] or ""])
    return out


def hosts_json(db, *args):
    return run(db, "hosts", "--format", "json", *args, expect=0).json()


def addrs(db, *args):
    return [h["addr"] for h in hosts_json(db, *args)]


# ---- cases ----------------------------------------------------------------------

@t.case
def each_sample_every_format():
    for name in SAMPLES:
        run_, exp = parse_nmap(data(name))
        db = imported(data(name))
        what = f"[{name}] "

        # hosts json: the array, in address order, field by field
        got = hosts_json(db)
        eq([h["addr"] for h in got], sorted(exp, key=addr_key), what + "hosts json addresses")
        for h in got:
            check_host(h, exp[h["addr"]], 1)

        # ndjson: the same objects, one per line
        r = run(db, "hosts", "--format", "ndjson", expect=0)
        lines = r.out.splitlines()
        eq([json.loads(x) for x in lines], got, what + "ndjson == json")
        check(r.out == "" or r.out.endswith("\n"), what + "ndjson ends with a newline")

        # host ADDR json: the same object, alone
        for h in got:
            # (plus its tags and notes, none here)
            one = run(db, "host", h["addr"], "--format", "json", expect=0).json()
            eq(one, {**h, "tags": [], "notes": []},
               what + f"host {h['addr']} json == its hosts element")
            one = run(db, "host", h["addr"], "--format", "ndjson", expect=0)
            eq(json.loads(one.out), {**h, "tags": [], "notes": []}, what + "host ndjson")
            hdr, rows = csv_rows(run(db, "host", h["addr"], "--format", "csv", expect=0).out)
            eq(hdr, HOST_CSV, what + "host csv header")
            eq(rows, expected_host_csv([h]), what + "host csv rows")

        # csv: one row per (host, port)
        hdr, rows = csv_rows(run(db, "hosts", "--format", "csv", expect=0).out)
        eq(hdr, HOST_CSV, what + "hosts csv header")
        eq(rows, expected_host_csv(got), what + "hosts csv rows")

        # table
        r = run(db, "hosts", expect=0)
        if exp:
            check(r.out.startswith("ADDRESS"), what + f"table header: {r.out!r}")
            for h in exp.values():
                check(h["addr"] in r.out, what + f"table shows {h['addr']}")
                for p in h["ports"]:
                    spec = f"{p['port']}/{p['protocol']}"
                    check((spec in r.out) == (p["state"] == "open"),
                          what + f"table lists {spec} iff open: {r.out!r}")
            r = run(db, "hosts", "--all-states", expect=0)
            for h in exp.values():
                for p in h["ports"]:
                    check(f"{p['port']}/{p['protocol']} {p['state']}" in r.out,
                          what + f"--all-states shows {p['port']} {p['state']}: {r.out!r}")
        else:
            eq(r.out, "", what + "no hosts: table prints nothing on stdout")
            check("no hosts match" in r.err, what + f"no hosts: stderr says so: {r.err!r}")
            eq(run(db, "hosts", "--format", "json", expect=0).out, "[]\n", what + "empty json")

        # host table: every port and every script line
        for h in exp.values():
            r = run(db, "host", h["addr"], expect=0)
            check(h["addr"] in r.out and "STATUS" not in r.out.split("\n")[0],
                  what + f"host block starts with the address: {r.out!r}")
            for p in h["ports"]:
                check(f"{p['port']}/{p['protocol']}" in r.out, what + f"host shows port {p}")
                for s in p["scripts"]:
                    first = s["output"].split("\n")[0]
                    check(f"| {s['id']}: {first}" in r.out, what + f"script {s['id']}")
            for s in h["scripts"]:
                check(f"| {s['id']}:" in r.out, what + f"host script {s['id']}")
            if h["os"]:
                check(f"{h['os']} ({h['os_accuracy']}%)" in r.out, what + "OS with accuracy")

        # jobs json / job ID / csv / table
        jobs = run(db, "jobs", "--format", "json", expect=0).json()
        eq(len(jobs), 1, what + "one job")
        check_job(jobs[0], run_, 1, name)
        eq(run(db, "job", "1", "--format", "json", expect=0).json(), jobs[0], what + "job 1")
        eq([json.loads(x) for x in run(db, "jobs", "--format", "ndjson", expect=0)
            .out.splitlines()], jobs, what + "jobs ndjson")
        hdr, rows = csv_rows(run(db, "jobs", "--format", "csv", expect=0).out)
        eq(hdr, JOB_CSV, what + "jobs csv header")
        eq(len(rows), 1, what + "jobs csv rows")
        row = dict(zip(hdr, rows[0]))
        for k in ("id", "kind", "status", "args", "scanner_version", "started_at",
                  "completed_at", "hosts_up", "ports_open", "content_hash"):
            eq(row[k], str(jobs[0][k]), what + f"jobs csv {k}")
        eq(row["forced"], "false", what + "jobs csv forced")
        eq(row["timeout_at"], "", what + "jobs csv: absent is empty")
        r = run(db, "jobs", expect=0)
        check(r.out.startswith("ID") and "completed" in r.out and name in r.out,
              what + f"jobs table: {r.out!r}")
        r = run(db, "job", "1", expect=0)
        for k in ("kind", "status", "args", "started_at"):
            check(any(ln.split()[:1] == [k + ":"] for ln in r.out.splitlines()),
                  what + f"job table has {k}: {r.out!r}")
        check(run_["args"] in r.out, what + "job table shows args")


@t.case
def multi_host_fields_and_order():
    path = multi_file()
    run_, exp = parse_nmap(path)
    db = imported(path)
    got = hosts_json(db)
    eq([h["addr"] for h in got], ["192.0.2.10", "192.0.2.20", "192.0.2.30", "2001:db8::1"],
       "hosts in numeric address order, IPv4 first")
    for h in got:
        check_host(h, exp[h["addr"]], 1)
    eq(got[0]["mac"], "00:11:22:AA:BB:CC", "MAC canonical upper case")
    eq(got[0]["ports"][1]["cpe"], [], "a port without cpe has []")
    eq(got[0]["ports"][0]["cpe"], ["cpe:/a:openbsd:openssh:9.2p1", "cpe:/o:linux:linux_kernel"],
       "port cpe list")
    eq(got[3]["hostnames"], [EVIL], "JSON keeps a hostile hostname verbatim")
    eq(got[2]["ports"], [], "down host: no ports")
    jobs = run(db, "jobs", "--format", "json", expect=0).json()
    check_job(jobs[0], run_, 1, "multi.xml")

    # CSV: RFC 4180 quoting, values verbatim, a host without ports has one row
    text = run(db, "hosts", "--format", "csv", expect=0).out
    check('"nginx, ""patched"""' in text, f"csv quotes a comma and doubles quotes: {text!r}")
    check('"evil\x9b[31m\tx\ny"' in text, "csv keeps the hostile name verbatim, quoted")
    hdr, rows = csv_rows(text)
    eq(rows, expected_host_csv(got), "multi csv rows")
    eq([r for r in rows if r[0] == "192.0.2.30"],
       [["192.0.2.30", "down", "", "", "", iso(1700000012), iso(1700000012), "1"] + [""] * 6],
       "portless host: one row, empty port columns")

    # table: one line per host, hostile bytes neutralised, long cells cut
    r = run(db, "hosts", expect=0)
    lines = r.out.split("\n")
    eq(len(lines), 1 + 4 + 1, f"table: header + 4 rows + final newline: {r.out!r}")
    check("\x9b" not in r.out and "\t" not in r.out and "\x1b" not in r.out,
          f"no control characters reach the terminal: {r.out!r}")
    check("evil?[31m?x?y" in r.out, f"controls shown as '?': {r.out!r}")
    check("a-very-long-host-name-that-goes-on.example.com" not in r.out and "\u2026" in r.out,
          f"long hostname cut with an ellipsis: {r.out!r}")
    check("22/tcp ssh, 443/tcp ssl/http, 53/udp domain" in r.out, f"open ports cell: {r.out!r}")
    check("filtered" not in r.out, "closed/filtered ports not listed without --all-states")
    heads = lines[0]
    for col in ("ADDRESS", "STATUS", "HOSTNAME", "OS", "OPEN PORTS", "LAST SEEN"):
        check(col in heads, f"table header has {col}: {heads!r}")
    cols = [heads.index(c) for c in ("STATUS", "HOSTNAME", "LAST SEEN")]
    for ln in lines[1:5]:
        for c in cols:
            check(ln[c - 2:c] == "  " and ln[c] != " ", f"column at {c} aligned in {ln!r}")
    r = run(db, "hosts", "--all-states", expect=0)
    check("80/tcp filtered http" in r.out and "22/tcp closed ssh" in r.out,
          f"--all-states lists every port with its state: {r.out!r}")

    # host table: nmap-like block
    r = run(db, "host", "192.0.2.10", expect=0)
    for want in ("192.0.2.10", "web.example.com", "00:11:22:AA:BB:CC", "Acme, Inc.", "up",
                 "arp-response", "Linux 5.0 - 5.14 (98%)", "PORT", "STATE", "SERVICE", "VERSION",
                 "OpenSSH 9.2p1 Debian 2 protocol 2.0", "ssl/http", 'nginx, "patched" 1.22',
                 "| http-title: Welcome\n|  to nginx\n", "| smb-os-discovery: OS: none\n",
                 "|  Name: web", iso(1700000010), "997 closed"):
        check(want in r.out, f"host block shows {want!r}: {r.out}")
    check(r.out.index("22/tcp") < r.out.index("| ssh-hostkey:") < r.out.index("80/tcp"),
          "port script output sits under its port")
    r = run(db, "host", "2001:db8::1", expect=0)
    check("\x9b" not in r.out and "\t" not in r.out, f"host block neutralises controls: {r.out!r}")
    r = run(db, "host", "2001:0db8:0::0001", "--format", "json", expect=0)
    eq(r.json()["addr"], "2001:db8::1", "host ADDRESS is canonicalised")


@t.case
def filters():
    db = imported(multi_file())
    cases = [
        (["--port", "22"], ["192.0.2.10", "2001:db8::1"]),
        (["--port", "22/tcp"], ["192.0.2.10", "2001:db8::1"]),
        (["--port", "22/udp"], []),
        (["--port", "53"], ["192.0.2.10"]),
        (["--port", "53/udp"], ["192.0.2.10"]),
        (["--port", "53/tcp"], []),
        (["--port", "80"], ["192.0.2.20"]),  # filtered on .10 does not count
        (["--port", "443"], ["192.0.2.10"]),
        (["--service", "http"], ["192.0.2.10", "192.0.2.20"]),
        (["--service", "domain"], ["192.0.2.10"]),
        (["--service", "gopher"], []),
        (["--status", "down"], ["192.0.2.30"]),
        (["--status", "up"], ["192.0.2.10", "192.0.2.20", "2001:db8::1"]),
        (["--status", "skipped"], []),
        (["--net", "192.0.2.0/28"], ["192.0.2.10"]),
        (["--net", "192.0.2.16/28"], ["192.0.2.20", "192.0.2.30"]),
        (["--net", "192.0.2.0/24"], ["192.0.2.10", "192.0.2.20", "192.0.2.30"]),
        (["--net", "192.0.2.20"], ["192.0.2.20"]),
        (["--net", "2001:db8::/32"], ["2001:db8::1"]),
        (["--net", "10.0.0.0/8"], []),
        (["--net", "192.0.2.0/24", "--status", "up"], ["192.0.2.10", "192.0.2.20"]),
        (["--port", "22", "--net", "192.0.2.0/24"], ["192.0.2.10"]),
        (["--service", "ssh", "--port", "22", "--status", "up"], ["192.0.2.10", "2001:db8::1"]),
        (["--job", "1"], ["192.0.2.10", "192.0.2.20", "192.0.2.30", "2001:db8::1"]),
        (["--job", "1", "--port", "80"], ["192.0.2.20"]),
    ]
    for args, want in cases:
        eq(addrs(db, *args), want, f"hosts {' '.join(args)}")
        # every format applies the same filter
        nd = run(db, "hosts", "--format", "ndjson", *args, expect=0).out.splitlines()
        eq([json.loads(x)["addr"] for x in nd], want, f"ndjson {args}")
        hdr, rows = csv_rows(run(db, "hosts", "--format", "csv", *args, expect=0).out)
        eq(sorted({r[0] for r in rows}), sorted(want), f"csv {args}")
        r = run(db, "hosts", *args, expect=0)
        if want:
            eq([ln.split()[0] for ln in r.out.splitlines()[1:]], want, f"table {args}")
        else:
            eq(r.out, "", f"table {args}: nothing on stdout")
            check("no hosts match" in r.err, f"table {args}: stderr {r.err!r}")
    # a filtered view still shows every port of the host
    h = hosts_json(db, "--port", "53/udp")[0]
    eq(len(h["ports"]), 4, "filter selects hosts, not ports")


@t.case
def newest_scan_wins_and_job_views():
    # complex.xml (scanned 1247269633) is newer than simple.xml (1247268210):
    # import the newer first, so import order and scan order disagree.
    _, new = parse_nmap(data("complex.xml"))
    _, old = parse_nmap(data("simple.xml"))
    db = imported(data("complex.xml"), data("simple.xml"))
    a = "64.13.134.52"
    first, last = old[a]["scanned_at"], new[a]["scanned_at"]
    check(first < last, "fixture: simple.xml is older")
    # The current state is scope-aware: complex.xml probed tcp 1-100 only,
    # so 113/tcp keeps the state the older simple.xml saw (closed).
    cur = dict(new[a])
    old113 = [p for p in old[a]["ports"] if (p["protocol"], p["port"]) == ("tcp", 113)]
    eq(len(old113), 1, "fixture: simple.xml lists 113/tcp")
    cur["ports"] = sorted(new[a]["ports"] + old113, key=lambda p: (p["protocol"], p["port"]))
    got = hosts_json(db)
    eq(len(got), 1, "one host across both jobs")
    check_host(got[0], cur, 1, first, last, port_jobs={("tcp", 113): 2})
    one = run(db, "host", a, "--format", "json", expect=0).json()
    check_host(one, cur, 1, first, last, port_jobs={("tcp", 113): 2})
    # each job's own view
    check_host(hosts_json(db, "--job", "2")[0], old[a], 2, first, last, current=False)
    check_host(hosts_json(db, "--job", "1")[0], new[a], 1, first, last, current=False)
    check_host(run(db, "host", a, "--job", "2", "--format", "json", expect=0).json(),
               old[a], 2, first, last, current=False)
    r = run(db, "host", a, "--job", "2", expect=0)
    check("113/tcp" in r.out and "80/tcp" not in r.out, f"host --job 2 table: {r.out}")
    r = run(db, "host", a, expect=0)
    check("80/tcp" in r.out and "113/tcp" in r.out, f"host table, current: {r.out}")
    # filters apply to the state shown
    eq(addrs(db, "--port", "80"), [a], "--port 80 matches the newest scan")
    eq(addrs(db, "--port", "80", "--job", "2"), [], "--port 80 not open in job 2")
    eq(addrs(db, "--port", "113"), [], "113 is closed")
    r = run(db, "hosts", expect=0)
    check("80/tcp http" in r.out and "113" not in r.out, f"hosts table, open ports: {r.out}")
    r = run(db, "hosts", "--job", "2", "--all-states", expect=0)
    check("113/tcp closed auth" in r.out, f"hosts --job 2 table: {r.out}")
    # jobs: newest first by creation, both listed
    jobs = run(db, "jobs", "--format", "json", expect=0).json()
    eq(sorted(j["id"] for j in jobs), [1, 2], "both jobs listed")
    eq(run(db, "jobs", "--status", "completed", "--format", "json", expect=0).json(), jobs,
       "--status completed")
    eq(run(db, "jobs", "--status", "failed", "--format", "json", expect=0).out, "[]\n",
       "--status failed: none")
    r = run(db, "jobs", "--status", "failed", expect=0)
    eq(r.out, "", "no jobs: table prints nothing on stdout")


@t.case
def dead_running_job_shown_failed():
    db = imported(data("simple.xml"))
    # a 'running' job owned by a process of this machine that is gone (its
    # id as scandb assigns them: the PostgreSQL backend numbers jobs max + 1
    # under its write lock, like SQLite's rowids, not by the identity default)
    sql(db, "INSERT INTO jobs (id, kind, source, status, worker_id, created_at, started_at)"
            " VALUES ((SELECT coalesce(max(id), 0) + 1 FROM jobs), 'scan', 'nmap', 'running', ?,"
            f" {ts_sql(1700000000)}, {ts_sql(1700000000)})",
        (f"{socket.gethostname()}:999999999",))
    j = run(db, "job", "2", "--format", "json", expect=0).json()
    eq(j["status"], "failed", "jobs whose process died are shown failed")
    check(j["error"], "a reaped job says why")
    r = run(db, "jobs", expect=0)
    check("failed" in r.out, f"jobs table shows the failed job: {r.out}")
    eq([x["id"] for x in run(db, "jobs", "--status", "failed", "--format", "json",
                             expect=0).json()], [2], "--status failed")
    eq(run(db, "jobs", "--status", "running", "--format", "json", expect=0).json(), [],
       "--status running: a dead job is not running")
    # reads never write (invariant 13): the database still says running
    eq(sql(db, "SELECT status, error FROM jobs WHERE id = 2"), [("running", None)],
       "the dead job in the database after `jobs` and `job`")
    # the next command that makes a job records it, with the error shown
    run(db, "import", data("simple.xml"), "--force", expect=0)
    eq(sql(db, "SELECT status, error FROM jobs WHERE id = 2"), [("failed", j["error"])],
       "the dead job after an import")


@t.case
def jobs_table_keeps_the_end_of_a_long_source():
    d = os.path.join(tmpdir(), "a-rather-long-directory-name", "and-another-one-nested")
    os.makedirs(d)
    with open(data("simple.xml"), encoding="utf-8") as f:
        path = write(os.path.join(d, "scan-2026-11-22-office.xml"), f.read())
    db = imported(path)
    r = run(db, "jobs", expect=0)
    row = r.out.splitlines()[1]
    check(path not in row and "\u2026" in row and "/scan-2026-11-22-office.xml" in row,
          f"SOURCE cut at the front: {row!r}")
    eq(run(db, "jobs", "--format", "json", expect=0).json()[0]["source"], os.path.realpath(path),
       "json keeps the whole source")


@t.case
def empty_database():
    db = newdb()
    run(db, "migrate", "up", expect=0)  # scandb's schema, no data
    eq(run(db, "hosts", "--format", "json", expect=0).out, "[]\n", "hosts json []")
    eq(run(db, "hosts", "--format", "ndjson", expect=0).out, "", "hosts ndjson empty")
    eq(run(db, "hosts", "--format", "csv", expect=0).out, ",".join(HOST_CSV) + "\n",
       "hosts csv: header only")
    eq(run(db, "jobs", "--format", "json", expect=0).out, "[]\n", "jobs json []")
    eq(run(db, "jobs", "--format", "csv", expect=0).out, ",".join(JOB_CSV) + "\n",
       "jobs csv: header only")
    r = run(db, "hosts", expect=0)
    eq(r.out, "", "empty table stdout")
    check("no hosts match" in r.err, r.err)


@t.case
def not_found_exit_1():
    db = imported(data("simple.xml"))
    r = run(db, "host", "192.0.2.99", expect=1)
    check("no host 192.0.2.99 in the database" in r.err, r.err)
    eq(r.out, "", "nothing on stdout")
    r = run(db, "job", "42", expect=1)
    check("no job 42" in r.err, r.err)
    run(db, "hosts", "--job", "42", expect=1)
    run(db, "host", "64.13.134.52", "--job", "42", expect=1)


@t.case
def usage_errors_exit_2():
    db = imported(data("simple.xml"))
    bad = [
        ["hosts", "--port", "70000"], ["hosts", "--port", "-1"], ["hosts", "--port", "22/xyz"],
        ["hosts", "--port", "x"], ["hosts", "--port"], ["hosts", "--net", "1.2.3.4/33"],
        ["hosts", "--net", "not-a-net"], ["hosts", "--status", "sideways"],
        ["hosts", "--job", "x"], ["hosts", "--job", "0"], ["hosts", "--format", "xml"],
        ["hosts", "--bogus"], ["hosts", "-z"], ["hosts", "stray"], ["hosts", "--service", ""],
        ["host"], ["host", "1.2.3"], ["host", "64.13.134.52", "extra"],
        ["host", "64.13.134.52", "--job", "x"], ["host", "64.13.134.52", "--format", "yaml"],
        ["jobs", "--status", "done"], ["jobs", "--format", "x"], ["jobs", "extra"],
        ["job"], ["job", "x"], ["job", "1", "2"], ["job", "1", "--status", "failed"],
        ["job", "-5"],
    ]
    for args in bad:
        r = run(db, *args)
        eq(r.code, 2, f"{' '.join(args)} exit code ({r.err!r})")
        eq(r.out, "", f"{' '.join(args)}: nothing on stdout")
        check(r.err.strip(), f"{' '.join(args)}: an error message")
    for cmd in ("hosts", "host", "jobs", "job"):
        r = run(db, cmd, "--help", expect=0)
        check(r.out.startswith(f"usage: scandb {cmd}"), f"{cmd} --help: {r.out!r}")


# Every byte a value may hold, as the JSON writer must spell it: the control
# characters, quote, backslash, slash and DEL, multi-byte UTF-8 (kept), and
# bytes that are not UTF-8 (each one U+FFFD).
NASTY = (bytes(range(1, 0x20)) + b'"\\/\x7f' + "é€😀\u2028".encode() + b"\x80" +
         b"\xc0\xaf" + b"\xff" + b"\xed\xa0\x80" + b"end")


def jansson_text(raw):
    """The JSON string jansson writes for raw (compact, not ASCII-only):
    Python's, with jansson's upper-case \\u00XX."""
    text = json.dumps(raw.decode("utf-8", "replace"), ensure_ascii=False)
    return re.sub(r"\\u00([0-9a-f]{2})", lambda m: "\\u00" + m.group(1).upper(), text)


@t.case
def json_spells_every_byte_as_jansson():
    sqlite_case("bytes that are not UTF-8 (PostgreSQL refuses them)")
    db = imported(multi_file())
    sql_script(db, f"UPDATE host_scans SET os_name = CAST(X'{NASTY.hex()}' AS TEXT);")
    want = '"os":' + jansson_text(NASTY) + ',"os_accuracy"'
    for fmt in ("json", "ndjson"):
        out = run(db, "hosts", "--format", fmt, expect=0).out
        check(want in out, f"hosts --format {fmt}: {want!r} not in {out[:600]!r}")
        for addr in ("192.0.2.10", "2001:db8::1"):
            out = run(db, "host", addr, "--format", fmt, expect=0).out
            check(want in out, f"host {addr} --format {fmt}: {out[:600]!r}")


if __name__ == "__main__":
    t.main()
