#!/usr/bin/python3
"""End-to-end: `scandb import` on real, re-imported, forced, bad and hostile
files.  Every failure must name the file (and line), exit 1, and leave the
database exactly as it was; other files in the same command still import."""
import os
import subprocess

from e2e_util import (SCANDB, Tests, check, data, db_exists, dump, eq, iso, newdb, run, sql, sql1,
                      sqlite_case, tmpdir, write)

t = Tests("import")
SAMPLES = ["simple.xml", "complex.xml", "os.xml", "single.xml", "down.xml", "empty.xml"]


def snapshot(db):
    """Every row of every table, to prove a failed import changed nothing."""
    return dump(db)


def count(db, query):
    return sql1(db, query)


def read(name):
    with open(data(name), encoding="utf-8") as f:
        return f.read()


HOST_TMPL = """<?xml version="1.0"?>
<!DOCTYPE nmaprun>
<nmaprun scanner="nmap" args="nmap -p 22 192.0.2.9" start="1700000000" version="7.93" xmloutputversion="1.05">
<scaninfo type="connect" protocol="tcp" numservices="1" services="22"/>
<host starttime="1700000000" endtime="1700000001"><status state="up" reason="syn-ack" reason_ttl="0"/>
<address addr="192.0.2.9" addrtype="ipv4"/>
<hostnames><hostname name="{hostname}" type="user"/></hostnames>
<ports><port protocol="tcp" portid="{port}"><state state="open" reason="syn-ack" reason_ttl="0"/>
<service name="ssh" method="table" conf="3"/><script id="banner" output="{output}"/></port>
</ports>
</host>
<runstats><finished time="1700000002" timestr="x" elapsed="2.00" summary="x" exit="success"/><hosts up="1" down="0" total="1"/></runstats>
</nmaprun>
"""


def host_xml(hostname="h.example", port="22", output="SSH-2.0-x"):
    return HOST_TMPL.format(hostname=hostname, port=port, output=output)


@t.case
def samples_import_one_job_each():
    db = newdb()
    r = run(db, "import", *[data(s) for s in SAMPLES], expect=0)
    for s in SAMPLES:
        check(f"{data(s)}: imported as job" in r.out, f"no result line for {s}: {r!r}")
    eq(count(db, "SELECT count(*) FROM jobs WHERE status='completed' AND kind='import'"),
       len(SAMPLES), "completed import jobs")
    check("6 imported, 0 already imported, 0 failed" in r.err, f"summary: {r.err!r}")
    # every <port> element of every file is a row
    want = sum(read(s).count("<port ") for s in SAMPLES)
    eq(count(db, "SELECT count(*) FROM ports"), want, "stored ports")


@t.case
def reimport_is_recognised_force_stores_again():
    db = newdb()
    r1 = run(db, "import", data("complex.xml"), expect=0)
    job = int(r1.out.split("imported as job ")[1].split(":")[0])
    before = snapshot(db)
    r2 = run(db, "import", data("complex.xml"), expect=0)
    check(f"already imported as job {job}" in r2.out, f"duplicate not reported: {r2!r}")
    eq(snapshot(db), before, "database after duplicate import")
    # same bytes through stdin are the same content
    r3 = run(db, "import", "-", input=read("complex.xml"), expect=0)
    check(f"already imported as job {job}" in r3.out, f"stdin duplicate: {r3!r}")
    r4 = run(db, "import", "--force", data("complex.xml"), expect=0)
    check("imported as job" in r4.out and "already" not in r4.out, f"--force: {r4!r}")
    eq(count(db, "SELECT count(*) FROM jobs"), 2, "jobs after --force")
    eq(count(db, "SELECT count(*) FROM jobs WHERE forced"), 1, "forced jobs")


@t.case
def stdin_import():
    db = newdb()
    r = run(db, "import", "-", input=read("simple.xml"), expect=0)
    check("-: imported as job 1" in r.out, f"{r!r}")
    eq(count(db, "SELECT source FROM jobs"), "<stdin>", "job source")


@t.case
def several_pipes_imported_whole():
    """`import <(zcat a.xml.gz) <(zcat b.xml.gz)`: files that are pipes are
    not read ahead to order them by scan time (a pipe cannot be read twice);
    each is imported whole, in the order given."""
    db = newdb()
    a, b = data("simple.xml"), data("complex.xml")
    r = subprocess.run(["bash", "-c", f'"$0" --db "$1" import <(cat "$2") <(cat "$3")',
                        SCANDB, db, b, a], capture_output=True, text=True, timeout=120)
    eq(r.returncode, 0, f"import of two pipes: {r.stderr!r}")
    eq(len(r.stdout.splitlines()), 2, f"a line per pipe: {r.stdout!r}")
    check(all("imported as job" in ln for ln in r.stdout.splitlines()), f"{r.stdout!r}")
    eq(count(db, "SELECT count(*) FROM jobs"), 2, "jobs")


@t.case
def truncated_file_changes_nothing():
    d = tmpdir()
    db = newdb()
    run(db, "import", data("simple.xml"), expect=0)
    before = snapshot(db)
    text = read("complex.xml")
    for cut in (len(text) // 3, len(text) // 2, len(text) - 20):
        bad = write(os.path.join(d, f"trunc{cut}.xml"), text[:cut])
        r = run(db, "import", bad, expect=1)
        check(bad in r.err and ":" in r.err, f"error does not name the file: {r.err!r}")
        check("truncated" in r.err or "end of file" in r.err, f"not called truncated: {r.err!r}")
        eq(snapshot(db), before, f"database after truncated import at {cut}")


@t.case
def bad_file_among_good_ones_others_still_imported():
    d = tmpdir()
    db = newdb()
    bad = write(os.path.join(d, "bad.xml"), host_xml(port="70000"))
    r = run(db, "import", data("simple.xml"), bad, data("os.xml"), expect=1)
    check(f"{bad}:" in r.err and "70000" in r.err, f"error must name file and value: {r.err!r}")
    line = r.err.split(f"{bad}:")[1].split(":")[0]
    check(line.isdigit() and int(line) == 8, f"error must name line 8, got {line!r}: {r.err!r}")
    check("2 imported, 0 already imported, 1 failed" in r.err, f"summary: {r.err!r}")
    eq(count(db, "SELECT count(*) FROM jobs"), 2, "jobs stored")
    eq(count(db, "SELECT count(*) FROM hosts WHERE addr='192.0.2.9'"), 0, "host from bad file")


@t.case
def malformed_and_hostile_files():
    d = tmpdir()
    db = newdb()
    run(db, "import", data("simple.xml"), expect=0)
    before = snapshot(db)
    laughs = ('<?xml version="1.0"?>\n<!DOCTYPE nmaprun [\n<!ENTITY a "aaaaaaaaaa">\n'
              + "".join(f'<!ENTITY {chr(98 + i)} "{("&" + chr(97 + i) + ";") * 10}">\n'
                        for i in range(9))
              + '\n]>\n<nmaprun scanner="nmap" args="&j;" start="1"></nmaprun>\n')
    xxe = ('<?xml version="1.0"?>\n<!DOCTYPE nmaprun [<!ENTITY x SYSTEM "file:///etc/passwd">]>\n'
           '<nmaprun scanner="nmap" args="&x;" start="1"></nmaprun>\n')
    cases = {
        "laughs.xml": laughs,
        "xxe.xml": xxe,
        "notnmap.xml": '<?xml version="1.0"?><html><body/></html>',
        "garbage.xml": "\x00\x01 this is not xml at all",
        "empty-file.xml": "",
        "badport.xml": host_xml(port="abc"),
        "hugename.xml": host_xml(hostname="a" * (1 << 20)),
        "badstate.xml": host_xml().replace('state="open"', 'state="wide-open"'),
        "badutf8.xml": host_xml(hostname="caf\udce9"),
    }
    for name, text in cases.items():
        path = os.path.join(d, name)
        with open(path, "wb") as f:
            f.write(text.encode("utf-8", "surrogateescape"))
        r = run(db, "import", path, expect=1)
        check(path in r.err, f"{name}: error does not name the file: {r.err!r}")
        check("root:" not in r.out + r.err, f"{name}: leaked /etc/passwd")
        eq(snapshot(db), before, f"database after {name}")


@t.case
def sql_text_is_stored_verbatim():
    d = tmpdir()
    db = newdb()
    evil = "x'); DROP TABLE hosts;--"
    out = "Robert'); DROP TABLE jobs;-- &quot;quoted&quot; &lt;tag&gt;"
    path = write(os.path.join(d, "evil.xml"), host_xml(hostname=evil.replace("'", "&apos;"),
                                                       output=out))
    run(db, "import", path, expect=0)
    h = run(db, "host", "192.0.2.9", "--format", "json", expect=0).json()
    eq(h["hostnames"], [evil], "hostname")
    eq(h["ports"][0]["scripts"][0]["output"], "Robert'); DROP TABLE jobs;-- \"quoted\" <tag>",
       "script output")
    eq(count(db, "SELECT count(*) FROM jobs"), 1, "jobs table still there")


@t.case
def missing_file_and_usage_errors():
    db = newdb()
    r = run(db, "import", "/nonexistent/x.xml", expect=1)
    check("/nonexistent/x.xml" in r.err and "cannot open" in r.err, f"{r!r}")
    r = run(db, "import", tmpdir(), expect=1)
    check("directory" in r.err, f"{r!r}")
    run(db, "import", expect=2)
    run(db, "import", "--bogus", data("simple.xml"), expect=2)
    run(db, "import", "-", "-", expect=2)
    r = run(db, "import", "--help", expect=0)
    check("usage: scandb import" in r.out, f"{r!r}")


@t.case
def default_database_location():
    sqlite_case("no --db: the default database is a SQLite file under XDG_DATA_HOME/HOME")
    d = tmpdir()
    env = {"XDG_DATA_HOME": d, "SCANDB_DB": ""}
    run(None, "import", data("simple.xml"), env=env, expect=0)
    check(os.path.exists(os.path.join(d, "scandb", "scandb.db")), "no db under XDG_DATA_HOME")
    home = tmpdir()
    run(None, "import", data("simple.xml"), env={"XDG_DATA_HOME": "", "SCANDB_DB": "",
                                                 "HOME": home}, expect=0)
    check(os.path.exists(os.path.join(home, ".local/share/scandb/scandb.db")), "no db under HOME")


@t.case
def scandb_db_environment_variable():
    env_db = newdb("env.db")  # a file, or a postgresql:// URL
    run(None, "import", data("simple.xml"), env={"SCANDB_DB": env_db}, expect=0)
    check(db_exists(env_db), "SCANDB_DB ignored")
    eq(count(env_db, "SELECT count(*) FROM jobs"), 1, "jobs stored in the SCANDB_DB database")


@t.case
def host_listed_twice_keeps_the_first():
    """nmap lists a host twice when the target is given twice: the import
    keeps the first listing and says so, instead of failing."""
    d = tmpdir()
    db = newdb()
    text = host_xml(port="22")
    i, j = text.index("<host "), text.index("</host>") + len("</host>")
    second = text[i:j].replace('portid="22"', 'portid="23"')
    path = write(os.path.join(d, "twice.xml"), text[:j] + "\n" + second + text[j:])
    r = run(db, "import", path, expect=0)
    check("1 host listed more than once" in r.err, f"no warning: {r!r}")
    h = run(db, "host", "192.0.2.9", "--format", "json", expect=0).json()
    eq([p["port"] for p in h["ports"]], [22], "the first listing's ports")


@t.case
def json_result_format():
    db = newdb()
    r = run(db, "import", "--format", "json", data("simple.xml"), "/nonexistent.xml", expect=1)
    res = r.json()
    eq([x["status"] for x in res], ["imported", "failed"], "statuses")
    eq(res[0]["job_id"], 1, "job id")
    check(res[1]["job_id"] is None and "cannot open" in res[1]["error"], f"{res[1]}")



# ---- "every nmap file ever written imports" --------------------------------

CORPUS = os.path.join(os.path.dirname(os.path.abspath(data("simple.xml"))), "..", "nmap-corpus")


def corpus(*parts):
    return os.path.normpath(os.path.join(CORPUS, *parts))


def corpus_files():
    return sorted(f for f in os.listdir(CORPUS) if f.endswith(".xml"))


def file_counts(path):
    """What a file holds, counted in its text: addresses of <host>s, <port>s
    (none of the corpus' ports is in state "unknown"), <extraports> other
    than state "unknown"."""
    import xml.etree.ElementTree as ET
    root = ET.parse(path).getroot()
    addrs, ports, extra = set(), 0, 0
    for h in root.findall("host"):
        for a in h.findall("address"):
            if a.get("addrtype", "ipv4") in ("ipv4", "ipv6"):
                addrs.add(a.get("addr"))
                break
        ports += len(h.findall("ports/port"))
        extra += len({e.get("state").lower() for e in h.findall("ports/extraports")
                      if e.get("state").lower() != "unknown"})
    return len(addrs), ports, extra


@t.case
def corpus_every_file_imports_and_diffs():
    """Every real file of the corpus (nmap 3.75 to 7.93, Zenmap-saved) is
    accepted by import and by `diff FILE FILE` (the same parser), and all
    it holds is stored."""
    db = newdb()
    files = corpus_files()
    check(len(files) >= 20, f"corpus too small: {files}")
    for f in files:
        path = corpus(f)
        r = run(db, "import", "--format", "json", path, expect=0)
        job = r.json()[0]
        eq(job["status"], "imported", f"{f}: status")
        jid = job["job_id"]
        nhosts, nports, nextra = file_counts(path)
        eq(count(db, f"SELECT count(*) FROM host_scans WHERE job_id = {jid}"), nhosts,
           f"{f}: hosts stored")
        eq(count(db, f"SELECT count(*) FROM ports WHERE job_id = {jid}"), nports,
           f"{f}: ports stored")
        eq(count(db, f"SELECT count(*) FROM extraports WHERE job_id = {jid}"), nextra,
           f"{f}: extraports stored")
        d = run(db, "diff", path, path, expect=0)
        check("not supported" not in d.err and f not in d.err, f"{f}: diff: {d!r}")


@t.case
def corpus_old_shapes_stored_as_documented():
    db = newdb()
    # nmap 3.75 <extraports state="unknown" count="0">: accepted, nothing lost, no warning
    r = run(db, "import", corpus("zenmap-xml_test3.xml"), expect=0)
    eq(r.err, "", "stderr of a 3.75 file")
    # Zenmap's <uptime seconds="" lastboot="">: absent
    run(db, "import", corpus("zenmap-xml_test16.xml"), expect=0)
    eq(count(db, "SELECT count(*) FROM host_scans hs JOIN jobs j ON j.id = hs.job_id"
                 " WHERE j.source LIKE '%xml_test16.xml' AND hs.uptime IS NULL"
                 " AND hs.lastboot IS NULL"), 1, "uptime of xml_test16")
    # nmap 7.91 <extraports state="unknown" count="10">: left out, said where
    r = run(db, "import", corpus("libnmap-extra_ports.xml"), expect=0)
    check(f'{corpus("libnmap-extra_ports.xml")}:34:1: <extraports> of 10 ports in state '
          '"unknown" left out' in r.err, f"warning: {r.err!r}")


REFUSED = [
    # file, LINE:COL, what the message says
    ("zenmap-nmap-output-error.xml", "14:54", "malformed XML: not well-formed"),
    ("libnmap-defused_et_local_includer.xml", "3:41", "entity declarations are not allowed"),
    ("libnmap-defused_et_included.xml", "2:1", "not an nmap XML file"),
    ("libnmap-test_osclass.xml", "14:1", 'invalid ipv4 address "IP"'),
    ("scaninfo-port-70000.xml", "3:1", 'services "1-70000" of <scaninfo> is not a port list'),
    ("scaninfo-reversed-range.xml", "3:1", 'services "1000-1" of <scaninfo> is not a port list'),
    ("port-state-ajar.xml", "6:41", 'unknown port state "ajar"'),
]


@t.case
def corpus_refusals_name_file_line_col_and_store_nothing():
    db = newdb()
    run(db, "import", corpus("nmap793-connect.xml"), expect=0)
    before = snapshot(db)
    eq(sorted(f for f, _, _ in REFUSED),
       sorted(f for f in os.listdir(corpus("refused")) if f.endswith(".xml")),
       "every refused file has its row")
    for f, pos, what in REFUSED:
        path = corpus("refused", f)
        r = run(db, "import", path, expect=1)
        check(f"{path}:{pos}: {what}" in r.err, f"{f}: want {pos}: {what}, got {r.err!r}")
        eq(snapshot(db), before, f"database after {f}")
        d = run(db, "diff", path, corpus("nmap793-connect.xml"))
        check(d.code != 0 and f"{path}:{pos}:" in d.err, f"{f}: diff: {d!r}")


@t.case
def partial_file_kept_only_with_the_flag():
    db = newdb()
    killed = corpus("partial", "nmap793-killed.xml")
    run(db, "import", killed, expect=1)
    eq(count(db, "SELECT count(*) FROM jobs"), 0, "jobs after refusing a cut-off file")
    # the flag may come after the file
    r = run(db, "import", killed, "--partial", expect=0)
    check("imported as partial job 1: kept 6 complete hosts" in r.out, f"{r!r}")
    check(f"{killed}:" in r.err and "cut off" in r.err, f"warning: {r.err!r}")
    eq(count(db, "SELECT count(*) FROM host_scans WHERE job_id = 1"), 6, "hosts kept")
    j = run(db, "job", "1", "--format", "json", expect=0).json()
    eq(j["partial"], True, "job.partial (json)")
    eq(j["probed_scope"], None, "a partial job's probed scope")
    check("(partial)" in run(db, "jobs", expect=0).out, "jobs table says partial")
    check("partial:" in run(db, "job", "1", expect=0).out, "job block says partial")
    lib = corpus("partial", "libnmap-1_hosts_incomplete.xml")
    r = run(db, "import", "--format", "json", "--partial", "--", lib, expect=0)
    eq(r.json()[0]["partial"], True, "json result partial")
    eq(r.json()[0]["hosts"], 1, "libnmap's incomplete file keeps its host")


SCOPE_TMPL = """<?xml version="1.0"?>
<nmaprun scanner="nmap" args="nmap -p 1-1000 192.0.2.1-2" start="{t}" version="7.93" xmloutputversion="1.05">
<scaninfo type="connect" protocol="tcp" numservices="1000" services="1-1000"/>
{hosts}"""
SCOPE_HOST = """<host starttime="{t}" endtime="{t}"><status state="up" reason="syn-ack" reason_ttl="0"/>
<address addr="{addr}" addrtype="ipv4"/>
<ports><extraports state="closed" count="{n}"/>{ports}</ports>
</host>
"""
END = """<runstats><finished time="{t}" elapsed="1.00" exit="success"/><hosts up="2" down="0" total="2"/></runstats>
</nmaprun>
"""


def open_port(p):
    return (f'<port protocol="tcp" portid="{p}"><state state="open" reason="syn-ack" '
            f'reason_ttl="0"/></port>')


@t.case
def partial_job_closes_no_port_and_downs_no_host():
    d = tmpdir()
    db = newdb()
    t0, t1 = 1700000000, 1700003600
    full = SCOPE_TMPL.format(t=t0, hosts="".join(
        SCOPE_HOST.format(t=t0, addr=a, n=998, ports=open_port(22) + open_port(80))
        for a in ("192.0.2.1", "192.0.2.2"))) + END.format(t=t0 + 5)
    run(db, "import", write(os.path.join(d, "full.xml"), full), expect=0)
    # a later scan, killed while on its second host: .1 lists 22 only
    cut = SCOPE_TMPL.format(t=t1, hosts=SCOPE_HOST.format(
        t=t1, addr="192.0.2.1", n=999, ports=open_port(22))) + '<host starttime="1'
    path = write(os.path.join(d, "cut.xml"), cut)
    before_events = count(db, "SELECT count(*) FROM host_events")
    r = run(db, "import", "--partial", path, expect=0)
    check("kept 1 complete host" in r.out, f"{r!r}")
    eq(count(db, "SELECT count(*) FROM host_events WHERE kind IN ('port_closed', 'host_down')"),
       0, "port_closed/host_down events of a partial job")
    eq(count(db, "SELECT count(*) FROM host_events"), before_events, "events")
    for a in ("192.0.2.1", "192.0.2.2"):
        h = run(db, "host", a, "--format", "json", expect=0).json()
        eq(sorted(p["port"] for p in h["ports"] if p["state"] == "open"), [22, 80],
           f"{a}: open ports after the partial job")


UNDATED = """<?xml version="1.0"?>
<nmaprun scanner="nmap" args="nmap -p 22,80 192.0.2.9" {start} version="4.20" xmloutputversion="1.01">
<scaninfo type="connect" protocol="tcp" numservices="2" services="22,80"/>
<host><status state="up"/>
<address addr="192.0.2.9" addrtype="ipv4"/>
<ports><port protocol="tcp" portid="22"><state state="closed"/></port>{p80}</ports>
</host>
{runstats}</nmaprun>
"""


@t.case
def undated_scan_is_null_and_never_the_newest():
    d = tmpdir()
    db = newdb()
    run(db, "import", write(os.path.join(d, "dated.xml"), host_xml(port="22")), expect=0)
    for name, start, runstats in (
            ("nostart.xml", "", ""),
            ("zero.xml", 'start="0"', '<runstats><finished time="1800000000"/></runstats>\n')):
        path = write(os.path.join(d, name), UNDATED.format(
            start=start, runstats=runstats,
            p80='<port protocol="tcp" portid="80"><state state="open"/></port>'))
        r = run(db, "import", "--format", "json", path, expect=0)
        jid = r.json()[0]["job_id"]
        j = run(db, "job", str(jid), "--format", "json", expect=0).json()
        eq(j["started_at"], None, f"{name}: started_at")
        eq(j["elapsed"], None, f"{name}: elapsed")
        eq(j["hosts_up"], None, f"{name}: hosts_up")
        eq(j["hosts_total"], None, f"{name}: hosts_total")
        if runstats:
            eq(j["completed_at"], iso(1800000000), f"{name}: nmap's finish time kept")
        # the dated scan (22 open) stays the current view of the host
        h = run(db, "host", "192.0.2.9", "--format", "json", expect=0).json()
        states = {p["port"]: p["state"] for p in h["ports"]}
        eq(states.get(22), "open", f"{name}: port 22 (closed only in the undated scan)")
        eq(states.get(80), "open", f"{name}: port 80 (no dated scan probed it)")
        eq(h["first_seen"], iso(1700000000), f"{name}: first_seen (the dated scan's)")
        eq(h["last_seen"], iso(1700000000), f"{name}: last_seen (the dated scan's)")
        eq(count(db, "SELECT count(*) FROM host_events WHERE kind = 'port_closed'"), 0,
           f"{name}: an undated scan closed a port of a dated one")


@t.case
def nmap_error_run_is_a_failed_job():
    d = tmpdir()
    db = newdb()
    text = host_xml().replace(
        'exit="success"', 'exit="error" errormsg="Failed to open device eth9"')
    r = run(db, "import", "--format", "json", write(os.path.join(d, "err.xml"), text), expect=0)
    jid = r.json()[0]["job_id"]
    eq(r.json()[0]["job_status"], "failed", "import result job_status")
    j = run(db, "job", str(jid), "--format", "json", expect=0).json()
    eq(j["status"], "failed", "job status")
    check("Failed to open device eth9" in (j["error"] or ""), f"job error: {j['error']!r}")
    eq(count(db, "SELECT count(*) FROM host_scans"), 0, "hosts of a failed run")


@t.case
def unknown_values_become_documented_ones_with_a_warning():
    d = tmpdir()
    db = newdb()
    text = host_xml().replace('method="table"', 'method="detection"').replace(
        'endtime="1700000001"', 'endtime="1699999999"')
    path = write(os.path.join(d, "odd.xml"), text)
    r = run(db, "import", path, expect=0)
    check(f'{path}:9:1: unknown service method "detection" left out' in r.err,
          f"method warning: {r.err!r}")
    check(f"{path}:5:1: <host> endtime is before its starttime" in r.err,
          f"endtime warning: {r.err!r}")
    eq(count(db, "SELECT count(*) FROM ports WHERE method IS NULL AND service = 'ssh'"), 1,
       "method stored as NULL")
    eq(count(db, "SELECT count(*) FROM host_scans WHERE endtime IS NULL"), 1, "endtime NULL")


@t.case
def ipv4_mapped_ipv6_is_the_ipv4_host():
    d = tmpdir()
    db = newdb()
    run(db, "import", write(os.path.join(d, "v4.xml"), host_xml()), expect=0)
    mapped = host_xml(port="23").replace(
        'addr="192.0.2.9" addrtype="ipv4"', 'addr="::ffff:192.0.2.9" addrtype="ipv6"')
    run(db, "import", write(os.path.join(d, "v6.xml"), mapped), expect=0)
    eq(count(db, "SELECT count(*) FROM hosts"), 1, "hosts")
    h = run(db, "host", "192.0.2.9", "--format", "json", expect=0).json()
    eq(h["addr"], "192.0.2.9", "address")


@t.case
def options_anywhere_and_double_dash():
    d = tmpdir()
    db = newdb()
    r = run(db, "import", data("simple.xml"), "--format", "json", expect=0)
    eq(r.json()[0]["status"], "imported", "--format after the file")
    r = run(db, "import", data("simple.xml"), "--force", expect=0)
    check("imported as job 2" in r.out, f"--force after the file: {r!r}")
    odd = write(os.path.join(d, "--force"), read("os.xml"))
    cwd = os.getcwd()
    os.chdir(d)
    try:
        r = run(db, "import", "--", "--force", expect=0)
    finally:
        os.chdir(cwd)
    check("--force: imported as job 3" in r.out, f"'--' ends the options: {r!r}")
    check(os.path.exists(odd), "file named --force")

@t.case
def job_ids_are_never_reused():
    """A job id names one scan forever (migration 0008): removing the newest
    job (prune, here) does not hand its id to the next one."""
    from gen_nmap_xml import generate
    d = tmpdir()
    db = newdb()
    newer, older, later = (os.path.join(d, n) for n in ("newer.xml", "older.xml", "later.xml"))
    generate(newer, hosts=3, ports=2, seed=1, start=1_800_000_000)
    generate(older, hosts=3, ports=2, seed=2, start=1_700_000_000)  # same hosts, older scan
    generate(later, hosts=3, ports=2, seed=3, start=1_800_100_000)
    run(db, "import", newer, expect=0)
    run(db, "import", older, expect=0)  # job 2: superseded by job 1 everywhere
    eq(sql(db, "SELECT max(id) FROM jobs"), [(2,)], "jobs before prune")
    out = run(db, "prune", "--older-than", "2025-01-01", "--format", "json", expect=0)
    eq(sql(db, "SELECT id FROM jobs ORDER BY id"), [(1,)], f"jobs after prune: {out.out}")
    run(db, "import", later, expect=0)
    eq(sql(db, "SELECT id FROM jobs ORDER BY id"), [(1,), (3,)],
       "the next job after the newest was pruned")
    # a job whose transaction rolled back takes no id (both backends alike)
    bad = os.path.join(d, "cut.xml")
    with open(later) as f:
        text = f.read()
    with open(bad, "w") as f:
        f.write(text[:len(text) // 2])
    run(db, "import", bad, expect=1)
    generate(later, hosts=3, ports=2, seed=4, start=1_800_200_000)
    run(db, "import", later, expect=0)
    eq(sql(db, "SELECT max(id) FROM jobs"), [(4,)], "ids after a refused import")


if __name__ == "__main__":
    t.main()
