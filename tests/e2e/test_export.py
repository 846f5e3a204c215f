#!/usr/bin/python3
"""End-to-end: `scandb export JOB | --current` in every format, on both
backends.

nmap-xml: the export of a job imported from nmap's own sample files gives
no difference under ndiff against the original, xsltproc renders it with
nmap.xsl, and importing it into a fresh database stores the same job (the
hosts' JSON, the job's fields, and the export of the copy is the same
document); hostile text (markup in script output and banners, control
characters, and on SQLite bytes that are not UTF-8) still gives a
well-formed document.  --current is one <nmaprun> that says it is scandb's
current state.  csv: python's csv reads the rows of `hosts --format csv`.
json: one document whose hosts are what `hosts --format json` prints.
html: one self-contained file (html.parser reads it; no script, no
http(s) address in a src or href) with every text escaped.  -o FILE is
written whole or not at all.  Usage errors exit 2, a missing job 1.
`scan --keep-xml FILE` keeps nmap's own XML (a real scan of 127.0.0.1); an
interrupted scan leaves neither FILE nor a temporary file.
Memory: an export takes no more than `hosts --format ndjson` (which streams)
at N and 4N hosts.
"""
import csv
import html.parser
import io
import json
import os
import re
import shutil
import subprocess
import signal
import sys
import tempfile
import time
import xml.etree.ElementTree as ET

from e2e_util import (PG, REPO, SCANDB, Tests, check, data, eq, newdb, nodb, run, run_ndiff,
                      skip_case, sql, sql_script, tmpdir, write)

sys.path.insert(0, os.path.join(REPO, "bench"))
from loopback_scan import Listeners  # noqa: E402
from test_scan import free_ports  # noqa: E402

t = Tests("export")

XSL = "/usr/share/nmap/nmap.xsl"
SAMPLES = ["complex.xml", "os.xml", "simple.xml", "single.xml", "down.xml", "empty.xml"]
T1 = 1700000000

# Markup, quotes, CDATA ends and entities in every kind of text a scan holds.
EVIL = '<script>alert("x")</script> ]]> &amp; \'q\' <!-- c -->'
EVIL_XML = (EVIL.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
            .replace('"', "&quot;"))

# One rich scan: two run scripts, MAC, hostnames, OS with a class and other
# matches, uptime, distance, extraports with reasons, tunnelled service
# with CPEs, port and host scripts (multi-line, tabs, CR), an IPv6 host, a
# down host, hostile text everywhere.
RICH = f"""<?xml version="1.0" encoding="UTF-8"?>
<nmaprun scanner="nmap" args="nmap -sS -sV -O -p 1-1000 192.0.2.0/28 {EVIL_XML}" start="{T1}" version="7.94" xmloutputversion="1.05">
<scaninfo type="syn" protocol="tcp" numservices="1000" services="1-1000"/>
<verbose level="0"/><debugging level="0"/>
<prescript><script id="broadcast-x" output="pre&#xa;{EVIL_XML}"/></prescript>
<host starttime="{T1 + 5}" endtime="{T1 + 9}"><status state="up" reason="arp-response" reason_ttl="0"/>
<address addr="192.0.2.10" addrtype="ipv4"/>
<address addr="00:11:22:33:44:55" addrtype="mac" vendor="Acme &amp; {EVIL_XML}"/>
<hostnames><hostname name="a.example" type="user"/><hostname name="a.example" type="PTR"/><hostname name="b.example" type="PTR"/></hostnames>
<ports><extraports state="closed" count="990"><extrareasons reason="reset" count="990"/></extraports>
<extraports state="filtered" count="6"><extrareasons reason="no-response" count="5"/><extrareasons reason="admin-prohibited" count="1"/></extraports>
<port protocol="tcp" portid="22"><state state="open" reason="syn-ack" reason_ttl="64"/><service name="ssh" product="OpenSSH" version="9.2p1" extrainfo="protocol 2.0" ostype="Linux" method="probed" conf="10"><cpe>cpe:/a:openbsd:openssh:9.2p1</cpe><cpe>cpe:/o:linux:linux_kernel</cpe></service><script id="ssh-hostkey" output="&#xa;  256 aa:bb (ECDSA)&#xa;  256 cc:dd (ED25519)"/></port>
<port protocol="tcp" portid="443"><state state="open" reason="syn-ack" reason_ttl="64"/><service name="http" product="{EVIL_XML}" version="1.0 &quot;x&quot;" tunnel="ssl" method="probed" conf="10"/><script id="http-title" output="{EVIL_XML}&#x9;tab&#xd;cr"/></port>
<port protocol="tcp" portid="25"><state state="closed" reason="reset" reason_ttl="64"/><service name="smtp" method="table" conf="3"/></port>
<port protocol="udp" portid="53"><state state="open|filtered" reason="no-response" reason_ttl="0"/><service name="domain" method="table" conf="3"/></port>
</ports>
<os><portused state="open" proto="tcp" portid="22"/>
<osmatch name="Linux 5.0 - 5.14" accuracy="98" line="1"><osclass type="general purpose" vendor="Linux" osfamily="Linux" osgen="5.X" accuracy="98"><cpe>cpe:/o:linux:linux_kernel:5</cpe></osclass></osmatch>
<osmatch name="Linux 4.15 {EVIL_XML}" accuracy="90" line="2"><osclass type="general purpose" vendor="Linux" osfamily="Linux" osgen="4.X" accuracy="90"/></osmatch>
</os>
<uptime seconds="123456" lastboot="Mon Nov 13 12:00:00 2023"/>
<distance value="1"/>
<hostscript><script id="smb-os-discovery" output="&#xa;  OS: {EVIL_XML}&#xa;"/></hostscript>
<times srtt="100" rttvar="50" to="100000"/>
</host>
<host starttime="{T1 + 6}" endtime="{T1 + 7}"><status state="down" reason="no-response" reason_ttl="0"/>
<address addr="192.0.2.11" addrtype="ipv4"/>
</host>
<host starttime="{T1 + 7}" endtime="{T1 + 8}"><status state="up" reason="echo-reply" reason_ttl="64"/>
<address addr="2001:db8::10" addrtype="ipv6"/>
<hostnames/>
<ports><port protocol="tcp" portid="80"><state state="open" reason="syn-ack" reason_ttl="64"/><service name="http" product="nginx" method="probed" conf="10"/></port></ports>
</host>
<postscript><script id="post-x" output="{EVIL_XML}"/></postscript>
<runstats><finished time="{T1 + 60}" timestr="x" elapsed="60.25" summary="x" exit="success"/><hosts up="2" down="1" total="3"/></runstats>
</nmaprun>
"""

# The job's fields that an import of its export must give back (the rest
# say where this copy came from: source, content hash, worker, created).
JOB_KEYS = ["kind", "status", "args", "scanner", "scanner_version", "started_at",
            "completed_at", "error", "probed_scope", "hosts_up", "hosts_down", "hosts_total",
            "ports_open", "elapsed", "partial"]


def imported(*paths):
    """A fresh database with the files imported, in order."""
    db = newdb()
    for p in paths:
        run(db, "-q", "import", p, expect=0)
    return db


def rich_file():
    return write(os.path.join(tmpdir(), "rich.xml"), RICH)


def export(db, *args, expect=0):
    return run(db, "export", *args, expect=expect)


def hosts_json(db, *args):
    return run(db, "hosts", "--format", "json", *args, expect=0).json()


def xslt(path):
    if not shutil.which("xsltproc") or not os.path.exists(XSL):
        skip_case("xsltproc or nmap.xsl is not installed (scripts/install-deps.sh)")
    p = subprocess.run(["xsltproc", XSL, path], capture_output=True, text=True, timeout=120)
    eq(p.returncode, 0, f"xsltproc {path}: {p.stderr}")
    return p.stdout


def libnmap_view(path):
    """What python-libnmap (another reader of nmap's XML) makes of a file:
    each host's address, status, names, OS matches and services (in port
    order: the store keeps them so)."""
    try:
        from libnmap.parser import NmapParser
    except ImportError:
        skip_case("python3-libnmap is not installed (scripts/install-deps.sh)")
    rep = NmapParser.parse_fromfile(path)
    return [(h.address, h.status, sorted(set(h.hostnames)),
             [m.name for m in h.os_match_probabilities()],
             sorted((s.protocol, s.port, s.state, s.service, s.banner, s.tunnel,
                     sorted((x["id"], x["output"]) for x in s.scripts_results))
                    for s in h.services))
            for h in rep.hosts]


def dtd_errors(path):
    """xmllint's validity errors of path against nmap.dtd, but the one
    documented in docs/EXPORT.md (a host's reason_ttl is not in its stored
    view)."""
    if not shutil.which("xmllint"):
        skip_case("xmllint is not installed")
    p = subprocess.run(["xmllint", "--noout", "--dtdvalid", data("nmap.dtd"), path],
                       capture_output=True, text=True, timeout=120)
    return [line for line in p.stderr.splitlines()
            if "validity error" in line
            and "Element status does not carry attribute reason_ttl" not in line]


def well_formed(text, what):
    try:
        return ET.fromstring(text.encode("utf-8"))
    except ET.ParseError as e:
        raise AssertionError(f"{what}: not well-formed XML: {e}")


def same_job(a, b, what):
    ja = run(a, "job", "1", "--format", "json", expect=0).json()
    jb = run(b, "job", "1", "--format", "json", expect=0).json()
    eq({k: jb[k] for k in JOB_KEYS}, {k: ja[k] for k in JOB_KEYS}, f"{what}: job fields")
    eq(hosts_json(b, "--job", "1"), hosts_json(a, "--job", "1"), f"{what}: hosts of the job")
    eq(hosts_json(b), hosts_json(a), f"{what}: current state")
    for h in hosts_json(a):
        eq(run(b, "host", h["addr"], "--format", "json", expect=0).json(),
           run(a, "host", h["addr"], "--format", "json", expect=0).json(), f"{what}: host {h['addr']}")


def round_trip(src, what):
    """Import src, export job 1, import the export into a fresh database:
    the same stored job, and its export is the same document."""
    a = imported(src)
    out = export(a, "1").out
    path = write(os.path.join(tmpdir(), "export.xml"), out)
    b = imported(path)
    same_job(a, b, what)
    eq(export(b, "1").out, out, f"{what}: the copy's export")
    return a, path


@t.case
def samples_ndiff_xsltproc_and_reimport():
    """nmap's own sample scans: ndiff sees no difference between each file
    and the export of its job; xsltproc renders the export; importing it
    gives the same stored job."""
    for name in SAMPLES:
        a, path = round_trip(data(name), name)
        r = run_ndiff(data(name), path)
        eq((r.code, r.out), (0, ""), f"ndiff {name} export: {r!r}")
        eq(libnmap_view(path), libnmap_view(data(name)), f"python-libnmap reads {name}'s export")
        eq(dtd_errors(path), [], f"{name}'s export against nmap.dtd")
        page = xslt(path)
        for h in hosts_json(a):
            check(h["addr"] in page, f"{name}: nmap.xsl shows {h['addr']}")


@t.case
def rich_scan_round_trip():
    """A scan holding every kind of field and hostile text: import of the
    export stores the same job (hosts, ports, services, CPEs, scripts, OS,
    hostnames, MAC, extraports, uptime, distance, run scripts, times)."""
    src = rich_file()
    a, path = round_trip(src, "rich")
    r = run_ndiff(src, path, fixed=True)
    eq((r.code, r.out), (0, ""), f"ndiff rich export: {r!r}")
    eq(libnmap_view(path), libnmap_view(src), "python-libnmap reads the rich export")
    xslt(path)
    eq(dtd_errors(path), [], "the rich export against nmap.dtd")
    root = well_formed(open(path, encoding="utf-8").read(), "rich export")
    eq([s.get("output") for s in root.iter("script") if s.get("id") == "http-title"],
       [f"{EVIL}\ttab\rcr"], "hostile script output, tab and CR kept exactly")
    eq([s.get("id") for s in root.find("prescript")], ["broadcast-x"], "prescript")
    eq([s.get("id") for s in root.find("postscript")], ["post-x"], "postscript")
    eq([e.get("state") for e in root.iter("extraports")], ["closed", "filtered"],
       "extraports, the largest first (nmap's order)")


@t.case
def control_characters_and_bad_utf8_still_well_formed():
    """Text no import could store (written into the database directly):
    control characters on both backends, and on SQLite bytes that are not
    UTF-8.  The nmap XML export stays well-formed (control characters as
    '?', bad bytes as U+FFFD), xsltproc reads it, the HTML parses."""
    db = imported(rich_file())
    sql(db, "UPDATE scripts SET output = ? WHERE script_id = ?",
        ("bell\x07esc\x1b[31mred\x01nul?", "http-title"))
    if not PG:
        sql_script(db, "UPDATE scripts SET output = CAST(X'6f6b20ff20c3' AS TEXT) "
                       "WHERE script_id = 'ssh-hostkey';")
    for args in (["1"], ["--current"]):
        out = export(db, *args).out
        root = well_formed(out, f"export {args}")
        outs = {s.get("id"): s.get("output") for s in root.iter("script")}
        eq(outs["http-title"], "bell?esc?[31mred?nul?", f"{args}: control characters")
        if not PG:
            eq(outs["ssh-hostkey"], "ok \ufffd \ufffd", f"{args}: bytes that are not UTF-8")
        xslt(write(os.path.join(tmpdir(), "x.xml"), out))
        page = export(db, *args, "--format", "html").out
        check("\x07" not in page and "\x1b" not in page, f"{args}: html has no control chars")
        parse_html(page, f"html {args}")


@t.case
def current_state_is_one_nmaprun_that_says_so():
    """--current: every host as its latest scan saw it, in one <nmaprun>
    that says (comment and profile_name) it is scandb's current state;
    ndiff and xsltproc read it, and importing it gives the same hosts and
    ports."""
    a = imported(data("complex.xml"), rich_file())
    out = export(a, "--current").out
    check("<!-- scandb" in out and "current state" in out.split("<nmaprun", 1)[0],
          "a comment says it is the current state")
    root = well_formed(out, "current")
    check("current state" in root.get("profile_name", ""), f"profile_name: {root.attrib}")
    eq(root.get("scanner"), "nmap", "scanner")
    path = write(os.path.join(tmpdir(), "cur.xml"), out)
    r = run_ndiff(path, path, fixed=True)
    eq(r.code, 0, f"ndiff reads it: {r!r}")
    xslt(path)
    eq(dtd_errors(path), [], "the current state against nmap.dtd")
    one = imported(data("complex.xml"))
    r = run_ndiff(data("complex.xml"),
                  write(os.path.join(tmpdir(), "c.xml"), export(one, "--current").out))
    check(all(line[1:].startswith("Nmap ") for line in r.out.splitlines()),
          f"one scan's current state: ndiff sees only the run's banner differ: {r!r}")
    eq(sorted(h.find("address").get("addr") for h in root.iter("host")),
       sorted(h["addr"] for h in hosts_json(a)), "every host once")
    b = imported(path)

    def view(db):
        return [(h["addr"], h["status"], h["hostnames"], h["os"],
                 [(p["protocol"], p["port"], p["state"], p["service"], p["product"],
                   p["version"], [s["output"] for s in p["scripts"]]) for p in h["ports"]],
                 h["scripts"]) for h in hosts_json(db)]
    eq(view(b), view(a), "the current state imported back")


@t.case
def csv_rows_per_host_and_port():
    """One row per (host, port) and one for a host without ports, as
    `hosts --format csv`; python's csv reads the quoted hostile text."""
    db = imported(rich_file())
    out = export(db, "1", "--format", "csv").out
    eq(out, run(db, "hosts", "--job", "1", "--format", "csv", expect=0).out, "hosts' rows")
    rows = list(csv.DictReader(io.StringIO(out)))
    eq([(r["addr"], r["protocol"], r["port"], r["state"]) for r in rows],
       [("192.0.2.10", "tcp", "22", "open"), ("192.0.2.10", "tcp", "25", "closed"),
        ("192.0.2.10", "tcp", "443", "open"), ("192.0.2.10", "udp", "53", "open|filtered"),
        ("192.0.2.11", "", "", ""), ("2001:db8::10", "tcp", "80", "open")], "rows")
    eq(rows[2]["product"], EVIL, "hostile product read back")
    eq(rows[0]["hostnames"], "a.example;b.example", "hostnames")
    cur = export(db, "--current", "--format", "csv").out
    eq(cur, run(db, "hosts", "--format", "csv", expect=0).out, "current state's rows")


@t.case
def json_is_one_document_of_the_hosts():
    db = imported(data("complex.xml"), rich_file())
    d = json.loads(export(db, "2", "--format", "json").out)
    eq(d["export"]["of"], "job", "of")
    eq(d["export"]["job_id"], 2, "job_id")
    eq(d["job"], run(db, "job", "2", "--format", "json", expect=0).json(), "the job's object")
    eq(d["hosts"], hosts_json(db, "--job", "2"), "the hosts, as `hosts --format json`")
    eq(d["totals"], {"hosts": 3, "up": 2, "down": 1, "ports_open": 3}, "totals")
    d = json.loads(export(db, "--current", "--format", "json").out)
    eq((d["export"]["of"], d["job"]), ("current state", None), "current: no job")
    eq(d["hosts"], hosts_json(db), "current: the hosts")
    d = json.loads(export(db, "--current", "--format", "json", "--net", "192.0.2.0/24").out)
    eq([h["addr"] for h in d["hosts"]], ["192.0.2.10", "192.0.2.11"], "--net")
    check(d["export"]["filtered"], "filtered said")


class Page(html.parser.HTMLParser):
    """Collects tags, checks nesting of the elements that must close, the
    src/href values and the text."""
    VOID = {"meta", "br", "hr", "img", "link", "input", "col", "wbr"}

    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.stack, self.tags, self.urls, self.text = [], [], [], []

    def handle_starttag(self, tag, attrs):
        self.tags.append(tag)
        for k, v in attrs:
            if k in ("src", "href") or (k == "style" and "url(" in (v or "")):
                self.urls.append(v)
        if tag not in self.VOID:
            self.stack.append(tag)

    def handle_endtag(self, tag):
        if not self.stack or self.stack[-1] != tag:
            raise AssertionError(f"</{tag}> closes <{self.stack[-1] if self.stack else None}>")
        self.stack.pop()

    def handle_data(self, d):
        self.text.append(d)


def parse_html(page, what):
    p = Page()
    p.feed(page)
    p.close()
    eq(p.stack, [], f"{what}: every element closed")
    check("script" not in p.tags and "link" not in p.tags and "img" not in p.tags,
          f"{what}: no script, link or img: {sorted(set(p.tags))}")
    check(not any(re.match(r"(?i)\s*(https?:)?//", u or "") for u in p.urls),
          f"{what}: no external address: {p.urls}")
    check(not re.search(r"(?i)@import|url\(\s*['\"]?(https?:)?//", page),
          f"{what}: nothing fetched from the style sheet")
    return p


@t.case
def html_is_self_contained_and_escaped():
    db = imported(rich_file())
    for args in (["1"], ["--current"]):
        page = export(db, *args, "--format", "html").out
        p = parse_html(page, f"html {args}")
        check(page.startswith("<!DOCTYPE html>"), "doctype")
        check("<style>" in page, "inline css")
        check("default-src 'none'" in page, "a policy that fetches nothing")
        text = "".join(p.text)
        for s in ("192.0.2.10", "2001:db8::10", "OpenSSH", "9.2p1", EVIL, "Summary"):
            check(s in text, f"html {args}: shows {s!r}")
        check("<script>alert" not in page, f"html {args}: markup escaped")
        check("smtp" not in text, f"html {args}: closed ports are left out")


@t.case
def output_file_is_whole_or_absent():
    db = imported(data("simple.xml"))
    d = tmpdir()
    out = os.path.join(d, "out.xml")
    r = export(db, "1", "-o", out)
    eq(r.out, "", "-o: nothing on stdout")
    eq(open(out, encoding="utf-8").read(), export(db, "1").out, "-o FILE holds the export")
    write(out, "old")
    r = export(db, "99", "--output", out, expect=1)
    check("no job 99" in r.err, f"missing job: {r!r}")
    eq(open(out, encoding="utf-8").read(), "old", "a failed export leaves the file as it was")
    eq(sorted(os.listdir(d)), ["out.xml"], "no temporary file left")
    r = export(db, "1", "-o", os.path.join(d, "no", "such", "dir.xml"), expect=1)
    check("cannot write" in r.err and "no/such/dir.xml" in r.err, f"names the path: {r!r}")


@t.case
def search_terms_select_the_hosts():
    """export takes the search terms of `hosts` as operands (after JOB, or
    all of them with --current): the same hosts as `hosts` with the terms."""
    db = imported(data("simple.xml"), data("complex.xml"), data("os.xml"))
    for args in (["port:22"], ["service:ssh", "or", "port:80"], ["!port:22"], ["net:10.0.0.0/8"]):
        want = sorted(h["addr"] for h in hosts_json(db, *args))
        got = json.loads(export(db, "--current", "--format", "json", *args).out)
        eq(sorted(h["addr"] for h in got["hosts"]), want, f"--current {args}")
    job = json.loads(run(db, "jobs", "--format", "json").out)[0]["id"]
    want = sorted(h["addr"] for h in hosts_json(db, "--job", str(job), "port:22"))
    got = json.loads(export(db, str(job), "--format", "json", "port:22").out)
    eq(sorted(h["addr"] for h in got["hosts"]), want, f"job {job} port:22")


@t.case
def usage_errors():
    db = imported(data("simple.xml"))
    for args, says in ((["export"], "missing JOB"),
                       (["export", "1", "--current"], "not a term"),
                       (["export", "1", "version:<x"], "version:<x"),
                       (["export", "1", "--format", "pdf"], "unknown format 'pdf'"),
                       (["export", "x"], "JOB"),
                       (["export", "0"], "JOB"),
                       (["export", "1", "2"], "not a term"),
                       (["export", "1", "--port", "99999"], "--port"),
                       (["export", "1", "--frmat", "csv"], "--format"),
                       (["export", "1", "-o", ""], "-o")):
        r = run(db, *args, expect=2)
        check(says in r.err, f"{args}: says {says!r}: {r!r}")
        eq(r.out, "", f"{args}: nothing on stdout")
    r = run(db, "export", "--help", expect=0)
    check("nmap-xml" in r.out and "--current" in r.out, "--help")
    r = export(db, "42", expect=1)
    check("no job 42 in the database" in r.err, f"{r!r}")
    missing = nodb()
    r = run(missing, "export", "--current", expect=1)
    check("no database" in r.err or "does not exist" in r.err, f"{r!r}")


@t.case
def scan_keep_xml_keeps_nmaps_output():
    """`scan --keep-xml FILE` (127.0.0.1 only): FILE is nmap's own XML,
    complete; ndiff finds no difference between it and the export of the
    job; an unwritable path fails before nmap starts and makes no job."""
    if not shutil.which("nmap"):
        skip_case("nmap is not installed")
    db = newdb()
    d = tmpdir()
    kept = os.path.join(d, "kept.xml")
    p_open, p_closed = free_ports(2)
    ls = Listeners([p_open])
    try:
        r = run(db, "--no-progress", "scan", "--keep-xml", kept, "-sT", "-Pn", "-n",
                "-p", f"{p_open},{p_closed}", "127.0.0.1", timeout=120, expect=0)
    finally:
        ls.close()
    check("completed" in r.out, f"{r!r}")
    eq(sorted(os.listdir(d)), ["kept.xml"], "the kept file, no temporary one")
    text = open(kept, encoding="utf-8").read()
    root = well_formed(text, "kept")
    eq(root.tag, "nmaprun", "nmap's document")
    check("--keep-xml" not in root.get("args"), f"not passed to nmap: {root.get('args')}")
    check(text.rstrip().endswith("</nmaprun>"), "complete")
    exported = write(os.path.join(tmpdir(), "e.xml"), export(db, "1").out)
    r = run_ndiff(kept, exported)
    eq((r.code, r.out), (0, ""), f"ndiff kept export: {r!r}")
    b = imported(kept)
    eq(hosts_json(b, "--job", "1")[0]["ports"], hosts_json(db, "--job", "1")[0]["ports"],
       "the kept file imports to the same ports")

    db2 = newdb()
    bad = os.path.join(d, "missing-dir", "k.xml")
    r = run(db2, "--no-progress", "scan", "--keep-xml", bad, "-sT", "-p", str(p_closed),
            "127.0.0.1", timeout=120, expect=1)
    check(bad in r.err and "--keep-xml" in r.err, f"names the path: {r!r}")
    check("running nmap" not in r.err, f"before nmap starts: {r!r}")
    r = run(db, "jobs", "--format", "json", expect=0).json()
    eq(len(r), 1, "no job for the refused scan in the first database")
    for args, says in ((["--keep-xml"], "needs a FILE"),
                       (["--keep-xml", kept, "--keep-xml=x", "127.0.0.1"], "twice"),
                       (["--keep-xml="], "empty")):
        r = run(db, "scan", *args, expect=2)
        check(says in r.err, f"{args}: {r!r}")


@t.case
def scan_keep_xml_stopped_keeps_nothing():
    """A scan interrupted (SIGINT) while nmap writes: neither FILE nor its
    temporary file is left; a FILE there before is as it was."""
    if not shutil.which("nmap"):
        skip_case("nmap is not installed")
    db = newdb()
    d = tmpdir()
    kept = write(os.path.join(d, "kept.xml"), "before")
    argv = [SCANDB, "--db", db, "--no-progress", "scan", f"--keep-xml={kept}", "-sT", "-Pn",
            "-n", "--max-rate", "50", "-p", "1-65535", "127.0.0.1"]
    p = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                         start_new_session=True)
    try:
        deadline = time.time() + 30
        while time.time() < deadline and len(os.listdir(d)) < 2:
            time.sleep(0.2)
        eq(len(os.listdir(d)), 2, "the temporary file beside FILE while nmap runs")
        time.sleep(1)
        p.send_signal(signal.SIGINT)
        out, err = p.communicate(timeout=30)
    finally:
        if p.poll() is None:
            os.killpg(p.pid, signal.SIGKILL)
            p.wait()
    eq(p.returncode, 1, f"exit after SIGINT ({err!r})")
    eq(sorted(os.listdir(d)), ["kept.xml"], "no temporary file left")
    eq(open(kept, encoding="utf-8").read(), "before", "FILE as it was")


def many_hosts(path, n):
    with open(path, "w", encoding="utf-8") as f:
        f.write(f'<?xml version="1.0"?>\n<nmaprun scanner="nmap" args="nmap -p 22,80 x" '
                f'start="{T1}" version="7.94" xmloutputversion="1.05">\n'
                '<scaninfo type="syn" protocol="tcp" numservices="2" services="22,80"/>\n')
        for k in range(n):
            f.write(f'<host starttime="{T1}"><status state="up" reason="syn-ack"/>'
                    f'<address addr="127.{1 + k // 65536}.{(k // 256) % 256}.{k % 256}" '
                    'addrtype="ipv4"/><ports>'
                    '<port protocol="tcp" portid="22"><state state="open" reason="syn-ack"/>'
                    '<service name="ssh" product="OpenSSH" method="probed" conf="10"/>'
                    '<script id="banner" output="SSH-2.0-OpenSSH_9.2p1 a banner of some length"/>'
                    '</port></ports></host>\n')
        f.write(f'<runstats><finished time="{T1 + 10}" exit="success"/>'
                f'<hosts up="{n}" down="0" total="{n}"/></runstats></nmaprun>\n')
    return path


def peak_rss(db, *args):
    argv = [SCANDB, "--db", db] + list(args)
    env = dict(os.environ, MALLOC_ARENA_MAX="1")
    with tempfile.NamedTemporaryFile("r") as rss:
        p = subprocess.run(["/usr/bin/time", "-f", "%M", "-o", rss.name] + argv,
                           stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
                           env=env, timeout=600)
        eq(p.returncode, 0, f"{argv}: exit status ({p.stderr})")
        return int(rss.read().split()[-1]) * 1024


@t.case
def memory_does_not_grow_with_hosts():
    """Every format of a job and of the current state over N, then 4N hosts:
    the export's peak RSS stays within 3 MB of `hosts --format ndjson`
    (which streams) at the same size.  What the store's walk itself takes
    (SQLite's page cache grows to its cap) is the same for both and is not
    this test's subject."""
    if not os.access("/usr/bin/time", os.X_OK):
        skip_case("no /usr/bin/time to measure the peak RSS")
    with open(SCANDB, "rb") as f:
        san = b"__asan_init" in f.read()
    n = 500 if san else 4000
    peaks = {}
    for size in (n, 4 * n):
        db = imported(many_hosts(os.path.join(tmpdir(), "m.xml"), size))
        base = peak_rss(db, "hosts", "--format", "ndjson")
        print(f"     hosts --format ndjson: peak RSS {base / 2**20:.1f} MB at {size} hosts")
        for fmt in ("nmap-xml", "csv", "json", "html"):
            for what in ("1", "--current"):
                got = peak_rss(db, "export", what, "--format", fmt)
                peaks.setdefault((fmt, what), []).append(got)
                check(san or got - base < 3 << 20,
                      f"export {what} {fmt} of {size} hosts: {got >> 20} MB, ndjson {base >> 20} MB")
    for k, (small, big) in peaks.items():
        print(f"     export {k[1]} --format {k[0]}: peak RSS {small / 2**20:.1f} MB at {n} hosts, "
              f"{big / 2**20:.1f} MB at {4 * n}", flush=True)


if __name__ == "__main__":
    t.main()
