#!/usr/bin/python3
"""End-to-end: `scandb services`, one row per open (host, port) of the
current state, in every format (table, json, ndjson, csv): closed and
filtered ports are left out, a port a later scan found closed drops out, a
port a later scan did not probe stays with its first sighting, the service,
product and version are the latest scan's; the shared filter flags select
rows, --limit cuts the list, usage errors exit 2 naming the option."""
import csv
import io
import json
import os

from e2e_util import Tests, check, eq, iso, newdb, run, tmpdir, top_both, write

t = Tests("services")

T1, T2 = 1700000000, 1700086400

# Day 1: a rich host (open, filtered and UDP ports, a tunnelled service),
# a host with a closed and an open port, a down host, an IPv6 host.
DAY1 = f"""<?xml version="1.0"?>
<nmaprun scanner="nmap" args="nmap -sS -sU -sV -p T:22,80,443,U:53 192.0.2.0/27 2001:db8::1" start="{T1}" version="7.94" xmloutputversion="1.05">
<scaninfo type="syn" protocol="tcp" numservices="3" services="22,80,443"/>
<scaninfo type="udp" protocol="udp" numservices="1" services="53"/>
<host><status state="up" reason="arp-response" reason_ttl="0"/>
<address addr="192.0.2.10" addrtype="ipv4"/>
<ports>
<port protocol="tcp" portid="22"><state state="open" reason="syn-ack" reason_ttl="64"/><service name="ssh" product="OpenSSH" version="9.2p1" extrainfo="protocol 2.0" method="probed" conf="10"/></port>
<port protocol="tcp" portid="80"><state state="filtered" reason="no-response" reason_ttl="0"/><service name="http" method="table" conf="3"/></port>
<port protocol="tcp" portid="443"><state state="open" reason="syn-ack" reason_ttl="64"/><service name="http" product="nginx, &quot;patched&quot;" version="1.22" tunnel="ssl" method="probed" conf="10"/></port>
<port protocol="udp" portid="53"><state state="open" reason="udp-response" reason_ttl="64"/><service name="domain" method="table" conf="3"/></port>
</ports>
</host>
<host><status state="up" reason="echo-reply" reason_ttl="63"/>
<address addr="192.0.2.20" addrtype="ipv4"/>
<ports>
<port protocol="tcp" portid="22"><state state="closed" reason="reset" reason_ttl="63"/><service name="ssh" method="table" conf="3"/></port>
<port protocol="tcp" portid="80"><state state="open" reason="syn-ack" reason_ttl="63"/><service name="http" product="Apache httpd" version="2.4.57" method="probed" conf="10"/></port>
</ports>
</host>
<host><status state="down" reason="no-response" reason_ttl="0"/>
<address addr="192.0.2.30" addrtype="ipv4"/>
</host>
<host><status state="up" reason="echo-reply" reason_ttl="64"/>
<address addr="2001:db8::1" addrtype="ipv6"/>
<ports>
<port protocol="tcp" portid="22"><state state="open" reason="syn-ack" reason_ttl="64"/><service name="ssh" method="table" conf="3"/></port>
</ports>
</host>
<runstats><finished time="{T1 + 30}" timestr="x" elapsed="30" summary="x" exit="success"/><hosts up="3" down="1" total="4"/></runstats>
</nmaprun>
"""

# Day 2: only 192.0.2.10, TCP 22 and 443: ssh upgraded, 443 closed; the
# UDP port is not probed and stays open.
DAY2 = f"""<?xml version="1.0"?>
<nmaprun scanner="nmap" args="nmap -sS -sV -p 22,443 192.0.2.10" start="{T2}" version="7.94" xmloutputversion="1.05">
<scaninfo type="syn" protocol="tcp" numservices="2" services="22,443"/>
<host><status state="up" reason="arp-response" reason_ttl="0"/>
<address addr="192.0.2.10" addrtype="ipv4"/>
<ports>
<port protocol="tcp" portid="22"><state state="open" reason="syn-ack" reason_ttl="64"/><service name="ssh" product="OpenSSH" version="9.3p1" extrainfo="protocol 2.0" method="probed" conf="10"/></port>
<port protocol="tcp" portid="443"><state state="closed" reason="reset" reason_ttl="64"/><service name="https" method="table" conf="3"/></port>
</ports>
</host>
<runstats><finished time="{T2 + 10}" timestr="x" elapsed="10" summary="x" exit="success"/><hosts up="1" down="0" total="1"/></runstats>
</nmaprun>
"""

KEYS = ["addr", "protocol", "port", "service", "tunnel", "product", "version", "extrainfo",
        "first_seen", "last_seen"]

# The current state after both days, in address then (protocol, port) order.
EXPECTED = [
    {"addr": "192.0.2.10", "protocol": "tcp", "port": 22, "service": "ssh", "tunnel": None,
     "product": "OpenSSH", "version": "9.3p1", "extrainfo": "protocol 2.0",
     "first_seen": iso(T1), "last_seen": iso(T2)},
    {"addr": "192.0.2.10", "protocol": "udp", "port": 53, "service": "domain", "tunnel": None,
     "product": None, "version": None, "extrainfo": None,
     "first_seen": iso(T1), "last_seen": iso(T1)},
    {"addr": "192.0.2.20", "protocol": "tcp", "port": 80, "service": "http", "tunnel": None,
     "product": "Apache httpd", "version": "2.4.57", "extrainfo": None,
     "first_seen": iso(T1), "last_seen": iso(T1)},
    {"addr": "2001:db8::1", "protocol": "tcp", "port": 22, "service": "ssh", "tunnel": None,
     "product": None, "version": None, "extrainfo": None,
     "first_seen": iso(T1), "last_seen": iso(T1)},
]


def imported(*texts):
    db = newdb()
    d = tmpdir()
    for i, text in enumerate(texts):
        run(db, "import", write(os.path.join(d, f"day{i + 1}.xml"), text), expect=0)
    return db


def as_json(db, *args):
    return json.loads(run(db, "services", "--format", "json", *args, expect=0).out)


@t.case
def top_counts_the_rows_listed():
    """--top counts the rows `services` lists: by the store and by the walk
    alike (top_both), under the same filters."""
    db = imported(DAY1, DAY2)
    for field in ("service", "product", "port", "os", "cpe"):
        for f in ((), ("--port", "443"), ("--port", "53/udp"), ("--service", "https")):
            rows = as_json(db, *f)
            got = top_both(db, field, "-n", "1000", *f)
            if field == "port":
                want = {}
                for r in rows:
                    k = f"{r['port']}/{r['protocol']}"
                    want[k] = want.get(k, 0) + 1
                eq(got, sorted(want.items(), key=lambda kv: (-kv[1], kv[0])),
                   f"--top port {f}")


@t.case
def json_rows_are_the_open_ports_now():
    db = imported(DAY1, DAY2)
    got = as_json(db)
    eq(got, EXPECTED, "services --format json")
    for row in got:
        eq(list(row), KEYS, "keys in order")


@t.case
def one_scan_keeps_tunnel_and_quoted_product():
    db = imported(DAY1)
    got = as_json(db, "--port", "443/tcp")
    eq(got, [{"addr": "192.0.2.10", "protocol": "tcp", "port": 443, "service": "http",
              "tunnel": "ssl", "product": 'nginx, "patched"', "version": "1.22",
              "extrainfo": None, "first_seen": iso(T1), "last_seen": iso(T1)}], "443 on day 1")
    eq([(r["addr"], r["port"]) for r in as_json(db)],
       [("192.0.2.10", 22), ("192.0.2.10", 443), ("192.0.2.10", 53), ("192.0.2.20", 80),
        ("2001:db8::1", 22)], "day 1 rows: no filtered 80, no closed 22, no down host")
    r = run(db, "services", "--format", "csv", "--port", "443", expect=0)
    eq(list(csv.reader(io.StringIO(r.out)))[1][5], 'nginx, "patched"', "CSV quoting")


@t.case
def ndjson_and_csv_shapes():
    db = imported(DAY1, DAY2)
    r = run(db, "services", "--format", "ndjson", expect=0)
    eq([json.loads(ln) for ln in r.out.splitlines()], EXPECTED, "one object per line")
    r = run(db, "services", "--format", "csv", expect=0)
    rows = list(csv.reader(io.StringIO(r.out)))
    eq(rows[0], KEYS, "CSV header")
    exp = [["" if e[k] is None else str(e[k]) for k in KEYS] for e in EXPECTED]
    eq(rows[1:], exp, "CSV rows")


@t.case
def table_lists_each_row():
    db = imported(DAY1, DAY2)
    r = run(db, "services", expect=0)
    lines = r.out.splitlines()
    eq(lines[0].split(), ["ADDRESS", "PORT", "SERVICE", "PRODUCT", "VERSION", "FIRST", "SEEN",
                          "LAST", "SEEN"], "table header")
    eq(len(lines), 1 + len(EXPECTED), f"a line per row: {r.out}")
    check(lines[1].split()[:5] == ["192.0.2.10", "22/tcp", "ssh", "OpenSSH", "9.3p1"], lines[1])
    check(iso(T1) in lines[1] and iso(T2) in lines[1], lines[1])
    check(lines[2].split()[:3] == ["192.0.2.10", "53/udp", "domain"], lines[2])
    check("443" not in r.out, "the port closed on day 2 is gone")
    r = run(imported(DAY1), "services", "--port", "443", expect=0)
    check("ssl/http" in r.out, f"tunnelled service shown as nmap does: {r.out}")


@t.case
def filters_select_rows():
    db = imported(DAY1, DAY2)
    pick = lambda *a: [(r["addr"], r["protocol"], r["port"]) for r in as_json(db, *a)]
    eq(pick("--port", "22"), [("192.0.2.10", "tcp", 22), ("2001:db8::1", "tcp", 22)], "--port 22")
    eq(pick("--port", "53/udp"), [("192.0.2.10", "udp", 53)], "--port 53/udp")
    eq(pick("--port", "53/tcp"), [], "--port 53/tcp")
    eq(pick("--service", "http"), [("192.0.2.20", "tcp", 80)], "--service http")
    eq(pick("--net", "192.0.2.0/28"), [("192.0.2.10", "tcp", 22), ("192.0.2.10", "udp", 53)],
       "--net")
    eq(pick("--net", "2001:db8::/32", "--service", "ssh"), [("2001:db8::1", "tcp", 22)],
       "--net and --service")
    eq(pick("--status", "down"), [], "--status down")
    eq(len(pick("--status", "up")), len(EXPECTED), "--status up")


@t.case
def limit_cuts_the_list():
    db = imported(DAY1, DAY2)
    eq(as_json(db, "--limit", "1"), EXPECTED[:1], "--limit 1")
    eq(as_json(db, "--limit", "3"), EXPECTED[:3], "--limit 3")
    eq(as_json(db, "--limit", "100"), EXPECTED, "--limit past the end")
    r = run(db, "services", "--limit", "2", expect=0)
    eq(len(r.out.splitlines()), 3, f"table: header and 2 rows: {r.out}")
    eq(as_json(db, "--port", "22", "--limit", "1"), EXPECTED[:1], "--limit after a filter")


@t.case
def empty_result_says_so():
    db = imported(DAY1, DAY2)
    r = run(db, "services", "--port", "9999", expect=0)
    eq(r.out, "", "nothing on stdout")
    check("no services match" in r.err, r.err)
    eq(as_json(db, "--port", "9999"), [], "json: an empty array")


@t.case
def usage_errors_exit_2():
    db = imported(DAY1)
    bad = {
        ("--bogus",): "--bogus", ("--limit", "0"): "--limit", ("--limit", "x"): "--limit",
        ("--limit",): "--limit", ("--port", "70000"): "--port", ("--net", "1.2.3.4/33"): "--net",
        ("--status", "sideways"): "--status", ("--format", "xml"): "xml",
        ("--service", ""): "--service", ("--job", "1"): "--job", ("stray",): "stray",
    }
    for args, named in bad.items():
        r = run(db, "services", *args)
        eq(r.code, 2, f"services {' '.join(args)} exit code ({r.err!r})")
        eq(r.out, "", f"services {' '.join(args)}: nothing on stdout")
        check(named in r.err, f"services {' '.join(args)}: names {named}: {r.err!r}")
    r = run(db, "services", "--help", expect=0)
    check(r.out.startswith("usage: scandb services"), r.out)


if __name__ == "__main__":
    t.main()
