#!/usr/bin/python3
"""End-to-end: `scandb import` on real, re-imported, forced, bad and hostile
files.  Every failure must name the file (and line), exit 1, and leave the
database exactly as it was; other files in the same command still import."""
import os

from e2e_util import Tests, check, data, dump, eq, newdb, run, sql1, sqlite_case, tmpdir, write

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
    env_db = os.path.join(tmpdir(), "env.db")
    run(None, "import", data("simple.xml"), env={"SCANDB_DB": env_db}, expect=0)
    check(os.path.exists(env_db), "SCANDB_DB ignored")


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


if __name__ == "__main__":
    t.main()
