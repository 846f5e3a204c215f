#!/usr/bin/python3
"""End-to-end: the search language (docs/SEARCH.md) as operands of `hosts`
and `services`: every term, and/or/not and parentheses, port terms that
hold for one port together, the typed flags ANDed with it, a job's view,
injection attempts that simply match nothing (the database unchanged), and
bad expressions (exit 2, naming the term and its argument).  The same
expectations run on both backends (e2e.test_search.sqlite / .pg), so the
results are the same on both."""
import fnmatch
import ipaddress
import json
import os
import re
import time

from e2e_util import (PG, Tests, check, eq, newdb, run, skip_case, sql1, sql_script, tmpdir,
                       top_both,
                       ts_sql, write)
from gen_nmap_xml import generate

t = Tests("search")

NOW = int(time.time())
T1 = NOW - 10 * 86400  # ten days ago
T2 = NOW - 3600        # an hour ago


def host(addr, ports="", status="up", names="", os_="", mac="", scripts=""):
    fam = "ipv6" if ":" in addr else "ipv4"
    mac_el = f'<address addr="00:11:22:33:44:55" addrtype="mac" vendor="{mac}"/>' if mac else ""
    names_el = f"<hostnames>{names}</hostnames>" if names else ""
    os_el = (f'<os><osmatch name="{os_}" accuracy="98"><osclass type="general purpose" '
             f'vendor="x" osfamily="{os_.split()[0]}" accuracy="98"/></osmatch></os>'
             if os_ else "")
    ports_el = f"<ports>{ports}</ports>" if ports else ""
    return (f'<host><status state="{status}" reason="x" reason_ttl="0"/>'
            f'<address addr="{addr}" addrtype="{fam}"/>{mac_el}{names_el}{ports_el}{os_el}'
            f'{scripts}</host>\n')


def port(num, svc, product="", version="", proto="tcp", state="open", cpe="", scripts=""):
    attrs = f'name="{svc}"' + (f' product="{product}"' if product else "") + \
        (f' version="{version}"' if version else "")
    cpe_el = f"<cpe>{cpe}</cpe>" if cpe else ""
    return (f'<port protocol="{proto}" portid="{num}"><state state="{state}" reason="x" '
            f'reason_ttl="64"/><service {attrs} method="probed" conf="10">{cpe_el}</service>'
            f'{scripts}</port>')


def script(sid, output):
    return f'<script id="{sid}" output="{output}"/>'


def scan(start, hosts, ports="22,53,80,443,3306"):
    return (f'<?xml version="1.0"?>\n<nmaprun scanner="nmap" args="nmap" start="{start}" '
            f'version="7.94" xmloutputversion="1.05">\n'
            f'<scaninfo type="syn" protocol="tcp" numservices="5" services="{ports}"/>\n'
            f'<scaninfo type="udp" protocol="udp" numservices="1" services="53"/>\n'
            + "".join(hosts) +
            f'<runstats><finished time="{start + 10}" timestr="x" elapsed="10" summary="x" '
            f'exit="success"/><hosts up="1" down="0" total="1"/></runstats></nmaprun>\n')


WEB1 = host("192.0.2.10", names='<hostname name="web1.corp.example" type="PTR"/>',
            os_="Linux 5.4", mac="Cisco Systems",
            ports=port(22, "ssh", "OpenSSH", "7.4", cpe="cpe:/a:openbsd:openssh:7.4") +
            port(443, "http", "nginx", "1.22",
                 scripts=script("ssl-cert", "Subject: commonName=web1") +
                 script("http-title", "Admin Login Page")))
DB = host("192.0.2.20", names='<hostname name="DB.lab.test" type="user"/>',
          os_="Microsoft Windows 10",
          ports=port(22, "SSH", "OpenSSH", "8.9p1", cpe="cpe:/a:openbsd:openssh:8.9p1") +
          port(80, "http", "Apache httpd", "2.4.57",
               scripts=script("http-title", "Welcome to nginx")) +
          port(3306, "mysql", "MySQL", "5.7.1") + port(25, "smtp", state="closed"))
DOWN = host("192.0.2.30", status="down")
NET10 = host("10.1.2.3", ports=port(22, "ssh", "Dropbear sshd", "2020.81") +
             port(53, "domain", proto="udp"))
V6 = host("2001:db8::1", ports=port(22, "ssh", "OpenSSH", "beta"))

DAY1 = scan(T1, [WEB1, DB, DOWN, NET10, V6])
# Day 2: web1 only; 443 now closed (a change event an hour ago), and a new
# host first seen today.
WEB1_DAY2 = host("192.0.2.10", names='<hostname name="web1.corp.example" type="PTR"/>',
                 os_="Linux 5.4", mac="Cisco Systems",
                 ports=port(22, "ssh", "OpenSSH", "7.4", cpe="cpe:/a:openbsd:openssh:7.4") +
                 port(443, "http", state="closed"))
NEW = host("192.0.2.40", ports=port(8080, "http-proxy", "Squid", "4.10"))
DAY2 = scan(T2, [WEB1_DAY2, NEW], ports="22,443,8080")

ALL = ["10.1.2.3", "192.0.2.10", "192.0.2.20", "192.0.2.30", "192.0.2.40", "2001:db8::1"]

_db = None


def db():
    """The database of both days, with a tag and a finding (made once)."""
    global _db
    if _db:
        return _db
    _db = newdb(shared=True)
    d = tmpdir(shared=True)
    run(_db, "import", write(os.path.join(d, "day1.xml"), DAY1), expect=0)
    run(_db, "import", write(os.path.join(d, "day2.xml"), DAY2), expect=0)
    sql_script(_db, f"""
INSERT INTO host_tags (host_id, tag, created_at, author)
  SELECT id, 'lab', {ts_sql(NOW)}, 'test' FROM hosts WHERE addr IN ('192.0.2.20', '10.1.2.3');
INSERT INTO host_tags (host_id, tag, created_at, author)
  SELECT id, 'it''s', {ts_sql(NOW)}, 'test' FROM hosts WHERE addr = '2001:db8::1';
INSERT INTO findings (host_id, type, source, title, severity, status, fingerprint,
                      first_seen, last_seen, state_at)
  SELECT id, 'rule', 'port_opened', 'x', 'high', 'open', 'fp-high', {ts_sql(T1)}, {ts_sql(T1)},
         {ts_sql(T1)} FROM hosts WHERE addr = '192.0.2.20';
INSERT INTO findings (host_id, type, source, title, severity, status, fingerprint,
                      first_seen, last_seen, state_at)
  SELECT id, 'rule', 'port_opened', 'y', 'medium', 'open', 'fp-med', {ts_sql(T1)}, {ts_sql(T1)},
         {ts_sql(T1)} FROM hosts WHERE addr = '10.1.2.3';
INSERT INTO findings (host_id, type, source, title, severity, status, fingerprint,
                      first_seen, last_seen, state_at)
  SELECT id, 'rule', 'port_opened', 'z', 'critical', 'resolved', 'fp-res', {ts_sql(T1)},
         {ts_sql(T1)}, {ts_sql(T1)} FROM hosts WHERE addr = '192.0.2.10';
""")
    return _db


def hosts(*terms, code=0):
    r = run(db(), "hosts", "--format", "json", *terms, expect=code)
    return [h["addr"] for h in json.loads(r.out)] if code == 0 else r


def expect(terms, want):
    if isinstance(terms, str):
        terms = (terms,)
    eq(hosts(*terms), want, "hosts " + " ".join(terms))


@t.case
def port_terms():
    expect("port:22", ["10.1.2.3", "192.0.2.10", "192.0.2.20", "2001:db8::1"])
    expect("port:22/tcp", ["10.1.2.3", "192.0.2.10", "192.0.2.20", "2001:db8::1"])
    expect("port:53/udp", ["10.1.2.3"])
    expect("port:53/tcp", [])
    expect("port:443", [])  # closed on day 2: the current state
    expect("port:25", [])   # closed
    expect("port:3306,8080", ["192.0.2.20", "192.0.2.40"])
    expect("port:80,53/udp", ["10.1.2.3", "192.0.2.20"])


@t.case
def service_product_cpe_terms():
    expect("service:ssh", ["10.1.2.3", "192.0.2.10", "192.0.2.20", "2001:db8::1"])
    expect("service:SsH", ["10.1.2.3", "192.0.2.10", "192.0.2.20", "2001:db8::1"])
    expect("service:ss", [])  # whole names
    expect("product:openssh", ["192.0.2.10", "192.0.2.20", "2001:db8::1"])
    expect("product:SSH", ["10.1.2.3", "192.0.2.10", "192.0.2.20", "2001:db8::1"])
    expect("product:apache httpd", ["192.0.2.20"])
    expect('product:"Apache httpd"', ["192.0.2.20"])
    expect("cpe:cpe:/a:openbsd:openssh", ["192.0.2.10", "192.0.2.20"])
    expect("cpe:cpe:/a:openbsd:openssh:8", ["192.0.2.20"])
    expect("cpe:openssh", [])  # a prefix, not a substring


@t.case
def version_terms():
    expect("version:<8.0", ["192.0.2.10", "192.0.2.20", "192.0.2.40"])
    expect(("product:openssh", "version:<8.0"), ["192.0.2.10"])  # one port passes both
    expect(("product:openssh", "version:>=8.0"), ["192.0.2.20"])
    expect(("product:openssh", "version:>8.9"), [])  # 8.9p1 is 8.9
    expect(("product:openssh", "version:=8.9.0"), ["192.0.2.20"])
    expect(("product:openssh", "version:8.9"), ["192.0.2.20"])
    expect(("product:openssh", "version:<=7.4"), ["192.0.2.10"])
    expect("version:>=2020", ["10.1.2.3"])  # 2020.81, numerically
    expect("version:>1000.5", ["10.1.2.3"])
    expect("version:<4.9", ["192.0.2.20"])  # Apache 2.4.57; Squid 4.10 is above 4.9
    # "beta" has no leading number: it passes no comparison, either way
    expect(("net:2001:db8::/32", "version:<999"), [])
    expect(("net:2001:db8::/32", "version:>=0"), [])
    expect(("net:2001:db8::/32", "!version:>=0"), ["2001:db8::1"])


# One host, a port per version spelling: which ports pass each comparison
# (services lists the ports that pass the port terms), the same on both
# backends (SQLite's scandb_vercmp, PostgreSQL's numeric[] expression).
VERSIONS = {1001: "8", 1002: "8.0.0", 1003: "08.00", 1004: "8.0.1", 1005: "10", 1006: "9.99",
            1007: "4.10", 1008: "99999999999999999999.1", 1009: "8.0p1-Debian", 1010: "beta",
            1011: "v8.0", 1012: "8.", 1013: "0", 1014: "8.10.0.0.0.1"}
VERSION_CASES = {
    "version:=8": [1001, 1002, 1003, 1009, 1012],
    "version:<8": [1007, 1013],
    "version:<=8.0.0": [1001, 1002, 1003, 1007, 1009, 1012, 1013],
    "version:>8": [1004, 1005, 1006, 1008, 1014],
    "version:>=9.99": [1005, 1006, 1008],
    "version:<4.9": [1013],
    "version:>8.10": [1005, 1006, 1008, 1014],
    "version:>=99999999999999999999": [1008],
}


@t.case
def version_order_on_one_host():
    ports = "".join(port(n, "x", "p", v) for n, v in VERSIONS.items())
    db_ = newdb()
    text = scan(T1, [host("198.51.100.1", ports=ports)],
                ports=",".join(str(n) for n in VERSIONS))
    run(db_, "import", write(os.path.join(tmpdir(), "v.xml"), text), expect=0)
    for term, want in VERSION_CASES.items():
        r = run(db_, "services", "--format", "json", term, expect=0)
        eq([x["port"] for x in json.loads(r.out)], want, f"services {term}")
        r = run(db_, "hosts", "--format", "json", "--job", "1", "!" + term, expect=0)
        eq(len(json.loads(r.out)), 0, f"hosts --job 1 !{term}: some port passes")


@t.case
def host_terms():
    expect("os:linux", ["192.0.2.10"])
    expect("os:WINDOWS", ["192.0.2.20"])
    expect("mac-vendor:cisco", ["192.0.2.10"])
    expect("hostname:*.corp.example", ["192.0.2.10"])
    expect("hostname:db.lab.*", ["192.0.2.20"])
    expect("hostname:web?.corp.example", ["192.0.2.10"])
    expect("hostname:corp", [])  # a glob over the whole name
    expect("net:192.0.2.0/24", ["192.0.2.10", "192.0.2.20", "192.0.2.30", "192.0.2.40"])
    expect("net:192.0.2.20", ["192.0.2.20"])
    expect("net:2001:db8::/32", ["2001:db8::1"])
    expect("tag:lab", ["10.1.2.3", "192.0.2.20"])
    expect("tag:it's", ["2001:db8::1"])
    expect("tag:LAB", [])  # tags are exact
    expect("status:down", ["192.0.2.30"])
    expect("status:UP", ["10.1.2.3", "192.0.2.10", "192.0.2.20", "192.0.2.40", "2001:db8::1"])
    expect("status:gone", [])
    expect("script:ssl-cert", [])  # web1's latest scan ran none
    expect(("script:http-title"), ["192.0.2.20"])
    expect("script:http-title~/welcome/", [])
    expect("script:http-title~/welcome/i", ["192.0.2.20"])
    expect("script:http-title~/^Welcome to (nginx|apache)$/", ["192.0.2.20"])


@t.case
def time_and_finding_terms():
    expect("first-seen:<7d", ["192.0.2.40"])
    expect("first-seen:>7d", [a for a in ALL if a != "192.0.2.40"])
    day = time.strftime("%Y-%m-%d", time.gmtime(NOW - 5 * 86400))
    expect(f"first-seen:>{day}", ["192.0.2.40"])
    expect(f"first-seen:<{day}", [a for a in ALL if a != "192.0.2.40"])
    # web1 changed an hour ago (443 closed), the new host came up then; the
    # others' last change was the first scan, ten days ago (a host first
    # seen down has no event)
    expect("changed:<1d", ["192.0.2.10", "192.0.2.40"])
    expect("changed:>7d", ["10.1.2.3", "192.0.2.20", "2001:db8::1"])
    expect("changed:>2h", ["10.1.2.3", "192.0.2.20", "2001:db8::1"])
    expect("changed:<11d", ["10.1.2.3", "192.0.2.10", "192.0.2.20", "192.0.2.40",
                            "2001:db8::1"])
    expect(("changed:<1d", "!first-seen:<1d"), ["192.0.2.10"])
    expect("finding:high+", ["192.0.2.20"])
    expect("finding:medium+", ["10.1.2.3", "192.0.2.20"])
    expect("finding:medium", ["10.1.2.3"])
    expect("finding:critical", [])  # resolved: not open


@t.case
def and_or_not_parentheses():
    expect(("port:22", "tag:lab"), ["10.1.2.3", "192.0.2.20"])
    expect(("port:22", "and", "!tag:lab"), ["192.0.2.10", "2001:db8::1"])
    expect(("port:22", "not", "tag:lab"), ["192.0.2.10", "2001:db8::1"])
    expect(("port:3306", "or", "port:8080"), ["192.0.2.20", "192.0.2.40"])
    expect(("port:3306", "OR", "os:linux"), ["192.0.2.10", "192.0.2.20"])
    expect(("(port:3306", "or", "os:linux)", "tag:lab"), ["192.0.2.20"])
    expect(("(", "port:3306", "or", "os:linux", ")", "!tag:lab"), ["192.0.2.10"])
    expect(("!(tag:lab", "or", "status:down)"),
           ["192.0.2.10", "192.0.2.40", "2001:db8::1"])
    expect(("!!tag:lab",), ["10.1.2.3", "192.0.2.20"])
    expect("!service:ssh", ["192.0.2.30", "192.0.2.40"])  # no open ssh port at all
    # port terms under one AND hold for one port; under OR, for any
    expect(("service:http", "product:mysql"), [])
    expect(("service:mysql", "or", "product:apache"), ["192.0.2.20"])
    expect(("port:22", "(product:dropbear", "or", "version:<8)"), ["10.1.2.3", "192.0.2.10"])


@t.case
def flags_and_terms_together():
    eq(hosts("--net", "192.0.2.0/24", "port:22"), ["192.0.2.10", "192.0.2.20"], "--net + term")
    eq(hosts("port:22", "--service", "ssh", "!tag:lab"), ["192.0.2.10", "2001:db8::1"],
       "flag between terms")
    eq(hosts("--port", "3306", "net:10.0.0.0/8"), [], "disjoint")


@t.case
def job_view():
    eq(hosts("--job", "1", "port:443"), ["192.0.2.10"], "443 open in job 1")
    eq(hosts("--job", "1", "script:ssl-cert"), ["192.0.2.10"], "job 1 ran ssl-cert")
    eq(hosts("--job", "1", "status:down"), ["192.0.2.30"], "down in job 1")
    eq(hosts("--job", "2", "cpe:cpe:/a:openbsd"), ["192.0.2.10"], "cpe in job 2")
    eq(hosts("--job", "1", "product:nginx", "version:1.22"), ["192.0.2.10"], "version in job 1")


@t.case
def top_counts_follow_the_terms():
    """services --top: the store's count equals the walk's under the terms."""
    eq(top_both(db(), "port", "product:openssh", "version:<8.0"), [("22/tcp", 1)],
       "--top port: only the port that passes")
    eq(top_both(db(), "service", "tag:lab"), [("SSH", 1), ("domain", 1), ("http", 1),
                                              ("mysql", 1), ("ssh", 1)],
       "--top service: a host term keeps every open port")
    for field in ("service", "product", "port", "os", "cpe"):
        for terms in (("port:22", "or", "port:80"), ("not", "tag:lab"), ("finding:high",),
                      ("cpe:cpe:/a:openbsd",), ("version:>=8", "or", "os:linux"),
                      ("hostname:*.example",), ("changed:<1d",), ("script:http-title~/admin/i",),
                      ("net:192.0.2.0/24", "not", "port:443"), ("tag:it's",)):
            top_both(db(), field, *terms)


@t.case
def services_rows_follow_the_port_terms():
    r = run(db(), "services", "--format", "json", "product:openssh", "version:<8.0", expect=0)
    eq([(x["addr"], x["port"]) for x in json.loads(r.out)], [("192.0.2.10", 22)],
       "services: only the port that passes")
    r = run(db(), "services", "--format", "json", "tag:lab", expect=0)
    eq([(x["addr"], x["port"]) for x in json.loads(r.out)],
       [("10.1.2.3", 22), ("10.1.2.3", 53), ("192.0.2.20", 22), ("192.0.2.20", 80),
        ("192.0.2.20", 3306)], "services: a host term keeps every open port")
    r = run(db(), "services", "--format", "json", "port:22", "or", "port:80", expect=0)
    eq([(x["addr"], x["port"]) for x in json.loads(r.out)],
       [("10.1.2.3", 22), ("192.0.2.10", 22), ("192.0.2.20", 22), ("192.0.2.20", 80),
        ("2001:db8::1", 22)], "services: a port expression under or")


@t.case
def pg_without_standard_conforming_strings():
    if not PG:
        skip_case("PostgreSQL only: a server setting")
    env = {"PGOPTIONS": "-c standard_conforming_strings=off"}
    for terms, want in ((("product:apache httpd",), ["192.0.2.20"]),
                        (("product:openssh", "version:<8.0"), ["192.0.2.10"]),
                        (("product:50%",), [])):
        r = run(db(), "hosts", "--format", "json", *terms, env=env, expect=0)
        eq([h["addr"] for h in json.loads(r.out)], want, f"{terms} without conforming strings")


# ---- the real samples and generated scans, against a reading in Python ----

def py_version(v):
    """The rule of docs/SEARCH.md, written again: the leading dotted number
    as integers, trailing zeros cut; None without a leading number."""
    m = re.match(r"[0-9]+(?:\.[0-9]+)*", v or "")
    if not m:
        return None
    parts = [int(x) for x in m.group(0).split(".")]
    while len(parts) > 1 and parts[-1] == 0:
        parts.pop()
    return parts


def py_vercmp(v, op, q):
    a, b = py_version(v), py_version(q)
    if a is None:
        return False
    return {"<": a < b, "<=": a <= b, ">": a > b, ">=": a >= b, "=": a == b}[op]


def opened(h):
    return [p for p in h["ports"] if p["state"] == "open"]


def low(v):
    return (v or "").lower()


ORACLE = {
    ("port:22",): lambda h: any(p["port"] == 22 for p in opened(h)),
    ("port:80,443/tcp",): lambda h: any(p["port"] == 80 or (p["port"] == 443 and
                                        p["protocol"] == "tcp") for p in opened(h)),
    ("service:http",): lambda h: any(low(p["service"]) == "http" for p in opened(h)),
    ("product:openssh",): lambda h: any("openssh" in low(p["product"]) for p in opened(h)),
    ("product:microsoft",): lambda h: any("microsoft" in low(p["product"]) for p in opened(h)),
    ("version:<3",): lambda h: any(py_vercmp(p["version"], "<", "3") for p in opened(h)),
    ("version:>=9.18.18",): lambda h: any(py_vercmp(p["version"], ">=", "9.18.18")
                                          for p in opened(h)),
    ("product:bind", "version:<9.18.18"):
        lambda h: any("bind" in low(p["product"]) and py_vercmp(p["version"], "<", "9.18.18")
                      for p in opened(h)),
    ("cpe:cpe:/a:isc",): lambda h: any(c.lower().startswith("cpe:/a:isc")
                                       for p in opened(h) for c in p["cpe"]),
    ("os:windows",): lambda h: "windows" in low(h["os"]) or "windows" in low(h["os_family"]),
    ("mac-vendor:qemu",): lambda h: "qemu" in low(h["mac_vendor"]),
    ("hostname:*.org",): lambda h: any(fnmatch.fnmatchcase(n.lower(), "*.org")
                                       for n in h["hostnames"]),
    ("script:http-title",): lambda h: any(sc["id"] == "http-title" for sc in h["scripts"]) or
        any(sc["id"] == "http-title" for p in h["ports"] for sc in p["scripts"]),
    ("net:10.0.0.0/25",): lambda h: ipaddress.ip_address(h["addr"]) in
        ipaddress.ip_network("10.0.0.0/25"),
    ("status:up",): lambda h: h["status"] == "up",
    ("!service:http",): lambda h: not any(low(p["service"]) == "http" for p in opened(h)),
    ("service:ssh", "or", "os:linux"):
        lambda h: any(low(p["service"]) == "ssh" for p in opened(h)) or
        "linux" in low(h["os"]) or "linux" in low(h["os_family"]),
}


@t.case
def real_and_generated_scans_match_a_reading_in_python():
    db_ = newdb()
    d = tmpdir()
    files = [os.path.join(os.environ["SCANDB_TEST_DATA"], f)
             for f in ("simple.xml", "complex.xml", "os.xml", "down.xml", "single.xml")]
    for k in range(2):
        f = os.path.join(d, f"gen{k}.xml")
        generate(f, hosts=300, ports=8, seed=k + 1, start=1700000000 + k * 86400, down=0.05,
                 progress=False)
        files.append(f)
    for f in files:
        run(db_, "-q", "import", "--force", f, expect=0, env={"SCANDB_RULES": ""})
    every = json.loads(run(db_, "hosts", "--format", "json", expect=0).out)
    check(len(every) > 300, f"{len(every)} hosts")
    for terms, pred in ORACLE.items():
        got = [h["addr"] for h in json.loads(
            run(db_, "hosts", "--format", "json", *terms, expect=0).out)]
        want = [h["addr"] for h in every if pred(h)]
        eq(got, want, f"hosts {' '.join(terms)} ({len(want)} expected)")
        check(0 < len(want) or terms == ("hostname:*.org",), f"{terms}: a term that selects")


INJECTIONS = [
    "service:x' OR 1=1 --", "service:x' OR '1'='1", 'product:x"); DROP TABLE hosts; --',
    "tag:lab' OR 1=1 --", "os:%", "product:_", "hostname:%", "mac-vendor:\\",
    "script:x' OR 1=1 --~/./", "script:http-title~/x' OR 1=1 --/", "cpe:' UNION SELECT 1 --",
    "tag:$13", "service:?1", "product:'||(SELECT 1)||'",
]


@t.case
def injection_matches_nothing():
    before = sql1(db(), "SELECT count(*) FROM hosts")
    for term in INJECTIONS:
        eq(hosts(term), [], f"hosts {term!r}")
    eq(hosts("!service:x' OR 1=1 --"), ALL, "its negation: every host")
    eq(sql1(db(), "SELECT count(*) FROM hosts"), before, "hosts table unchanged")
    eq(hosts(), ALL, "every host still there")


BAD = {
    ("version:<x",): ("'version:<x' at argument 1", "version must start with a digit"),
    ("port:22", "version:<x"): ("'version:<x' at argument 2", "start with a digit"),
    ("version:<8.x",): ("argument 1", "dotted numbers"),
    ("bogus:1",): ("'bogus:1'", "unknown term"),
    ("port22",): ("'port22'", "not a term"),
    ("(port:22",): ("'(port:22'", "never closed"),
    ("port:22)",): ("'port:22)'", "without its '('"),
    ("port:99999",): ("port:99999", "not a port"),
    ("port:",): ("'port:'", "port"),
    ("net:1.2.3.4/33",): ("net:1.2.3.4/33", "CIDR"),
    ("status:sideways",): ("status:sideways", "up, down"),
    ("finding:severe",): ("finding:severe", "severity"),
    ("first-seen:7d",): ("first-seen:7d", "< or >"),
    ("changed:<soon",): ("changed:<soon", "not a duration"),
    ("script:x~/(/",): ("script:x~/(/", "bad regex"),
    ("script:x~/') OR 1=1 --/",): ("argument 1", "unbalanced parentheses"),
    ("script:x~/[a/",): ("argument 1", "bad regex"),
    ("script:x~admin",): ("script:x~admin", "ID~/REGEX/"),
    ("script:x~/a/g",): ("script:x~/a/g", "flag"),
    ("tag:" + "x" * 65,): ("argument 1", "1 to 64"),
    ("port:22", "or"): ("'or' at argument 2", "ends where a term"),
    ("or", "port:22"): ("'or' at argument 1", "where a term is expected"),
    ("!",): ("'!' at argument 1", "ends"),
    ("()",): ("'()' at argument 1", "')' where a term"),
    ('product:"open',): ("product:\"open", "unterminated quote"),
    ("(" * 40 + "port:22" + ")" * 40,): ("argument 1", "nested deeper than 32"),
    ("!" * 40 + "port:22",): ("argument 1", "nested deeper than 32"),
    tuple(["port:22"] * 65): ("argument 65", "more than 64 terms"),
    ("product:" + "x" * 5000,): ("", "longer than 4096 bytes"),
    ("product:" + "x" * 2000,): ("argument 1", "longer than 1024 bytes"),
}


@t.case
def bad_expressions_exit_2():
    before = sql1(db(), "SELECT count(*) FROM hosts")
    for args, (where, why) in BAD.items():
        for cmd in ("hosts", "services"):
            r = run(db(), cmd, *args)
            shown = " ".join(a[:40] for a in args)[:80]
            eq(r.code, 2, f"{cmd} {shown} exit code ({r.err[:300]!r})")
            eq(r.out, "", f"{cmd} {shown}: nothing on stdout")
            check(r.err.startswith("scandb: filter: "), f"{cmd} {shown}: {r.err[:300]!r}")
            check(where in r.err and why in r.err, f"{cmd} {shown}: {r.err[:300]!r}")
    eq(sql1(db(), "SELECT count(*) FROM hosts"), before, "nothing changed")


@t.case
def help_names_the_terms():
    for cmd in ("hosts", "services"):
        r = run(None, cmd, "--help", expect=0)
        for word in ("FILTER", "product:openssh", "version:<8.0", "SEARCH"):
            check(word in r.out, f"{cmd} --help mentions {word}: {r.out}")


if __name__ == "__main__":
    t.main()
