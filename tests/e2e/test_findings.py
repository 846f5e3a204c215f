"""Findings end to end: NSE vulnerability output and user rules become
findings; the lifecycle (seen again, resolved by a scan that probed it,
reopened) holds across imports, including out of order; set-status records
time and note.  See docs/FINDINGS.md."""
import os

from e2e_util import Tests, check, eq, newdb, run, sql1, tmpdir

t = Tests("findings")

VULNERS = ("&#xa;  cpe:/a:openbsd:openssh:7.4: &#xa;"
           "    &#x9;CVE-2023-38408&#x9;9.8&#x9;https://vulners.com/cve/CVE-2023-38408&#xa;"
           "    &#x9;CVE-2020-15778&#x9;6.8&#x9;https://vulners.com/cve/CVE-2020-15778&#xa;")
VULNERS_CLEAN = "&#xa;  cpe:/a:openbsd:openssh:9.9: &#xa;"
HEARTBLEED = ("&#xa;  VULNERABLE:&#xa;  The Heartbleed Bug is a serious vulnerability&#xa;"
              "    State: VULNERABLE&#xa;    Risk factor: High&#xa;")
HEARTBLEED_NOT = "&#xa;  NOT VULNERABLE:&#xa;  The Heartbleed Bug&#xa;    State: NOT VULNERABLE&#xa;"

HOST_TMPL = """<?xml version="1.0"?>
<!DOCTYPE nmaprun>
<nmaprun scanner="nmap" args="nmap -p {services} 192.0.2.9" start="{t}" version="7.93" xmloutputversion="1.05">
<scaninfo type="connect" protocol="tcp" numservices="2" services="{services}"/>
<host starttime="{t}" endtime="{t1}"><status state="up" reason="syn-ack" reason_ttl="0"/>
<address addr="192.0.2.9" addrtype="ipv4"/>
<ports>{ports}</ports>
</host>
<runstats><finished time="{t2}" timestr="x" elapsed="2.00" summary="x" exit="success"/><hosts up="1" down="0" total="1"/></runstats>
</nmaprun>
"""

PORT_TMPL = """<port protocol="tcp" portid="{port}"><state state="open" reason="syn-ack" reason_ttl="0"/>
<service name="{svc}" method="table" conf="3"/>{scripts}</port>
"""


def scan(d, name, t, ports, services="22,443,3389"):
    """ports: {port: [(script_id, output), ...]} (all open)."""
    body = ""
    for port, scripts in sorted(ports.items()):
        s = "".join(f'<script id="{i}" output="{o}"/>' for i, o in scripts)
        body += PORT_TMPL.format(port=port, svc="ssh", scripts=s)
    path = os.path.join(d, name)
    with open(path, "w") as f:
        f.write(HOST_TMPL.format(services=services, t=t, t1=t + 1, t2=t + 2, ports=body))
    return path


T0 = 1700000000


def findings(db, *args, env=None):
    return run(db, "findings", "--format", "json", *args, env=env, expect=0).json()


def by_cve(fs, cve):
    got = [f for f in fs if f["details"] and f["details"].get("cve") == cve]
    eq(len(got), 1, f"findings for {cve}")
    return got[0]


def iso(t):
    import datetime
    return datetime.datetime.fromtimestamp(t, datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


NORULES = {"SCANDB_RULES": ""}


@t.case
def vulners_lifecycle_open_seen_resolved_reopened():
    d = tmpdir()
    db = newdb()
    a = scan(d, "a.xml", T0, {22: [("vulners", VULNERS)]})
    run(db, "import", a, env=NORULES, expect=0)
    fs = findings(db)
    eq(len(fs), 2, "one finding per CVE")
    f = by_cve(fs, "CVE-2023-38408")
    eq((f["status"], f["severity"], f["type"], f["port"], f["protocol"]),
       ("open", "critical", "nse_vuln", 22, "tcp"), "new finding")
    eq(by_cve(fs, "CVE-2020-15778")["severity"], "medium", "CVSS 6.8")
    fid = f["id"]

    b = scan(d, "b.xml", T0 + 100, {22: [("vulners", VULNERS)]})
    run(db, "import", b, env=NORULES, expect=0)
    fs = findings(db)
    eq(len(fs), 2, "no duplicate after a second scan")
    f = by_cve(fs, "CVE-2023-38408")
    eq((f["id"], f["first_seen"], f["last_seen"], f["jobs"]),
       (fid, iso(T0), iso(T0 + 100), [1, 2]), "seen again")

    c = scan(d, "c.xml", T0 + 200, {22: [("vulners", VULNERS_CLEAN)]})
    run(db, "import", c, env=NORULES, expect=0)
    f = by_cve(findings(db), "CVE-2023-38408")
    eq(f["status"], "resolved", "vulners ran again without the CVE")
    eq(f["history"][-1]["new_status"], "resolved", "resolution recorded")
    eq(f["history"][-1]["job"], 3, "resolving job")

    e = scan(d, "e.xml", T0 + 300, {22: [("vulners", VULNERS)]})
    run(db, "import", e, env=NORULES, expect=0)
    fs = findings(db)
    eq(len(fs), 2, "reopened, not duplicated")
    f = by_cve(fs, "CVE-2023-38408")
    eq((f["id"], f["status"]), (fid, "open"), "reopened")
    eq([(h["old_status"], h["new_status"]) for h in f["history"]],
       [(None, "open"), ("open", "resolved"), ("resolved", "open")], "history")


@t.case
def closed_port_resolves_unprobed_port_does_not():
    d = tmpdir()
    db = newdb()
    run(db, "import", scan(d, "a.xml", T0, {443: [("ssl-heartbleed", HEARTBLEED)]}),
        env=NORULES, expect=0)
    fs = findings(db)
    eq(len(fs), 1, "heartbleed finding")
    eq((fs[0]["severity"], fs[0]["source"], fs[0]["status"]), ("high", "ssl-heartbleed", "open"),
       "heartbleed")
    check("Heartbleed" in fs[0]["title"], f"title: {fs[0]['title']!r}")
    # a scan of port 22 only says nothing about 443
    run(db, "import", scan(d, "b.xml", T0 + 100, {22: []}, services="22"), env=NORULES, expect=0)
    eq(findings(db)[0]["status"], "open", "not probed: still open")
    # port open, script ran and says NOT VULNERABLE: resolved
    run(db, "import", scan(d, "c.xml", T0 + 200, {443: [("ssl-heartbleed", HEARTBLEED_NOT)]}),
        env=NORULES, expect=0)
    eq(findings(db)[0]["status"], "resolved", "script ran, not vulnerable")
    run(db, "import", scan(d, "d.xml", T0 + 300, {443: [("ssl-heartbleed", HEARTBLEED)]}),
        env=NORULES, expect=0)
    eq(findings(db)[0]["status"], "open", "back")
    # the port probed and not open (extraports): resolved
    run(db, "import", scan(d, "e.xml", T0 + 400, {22: []}), env=NORULES, expect=0)
    eq(findings(db)[0]["status"], "resolved", "port gone")
    eq(len(findings(db)), 1, "one finding throughout")


@t.case
def rule_on_port_opened_is_high():
    d = tmpdir()
    db = newdb()
    rules = os.path.join(d, "rules.conf")
    with open(rules, "w") as f:
        f.write("# remote access\nport_opened 3389/tcp,23/tcp high \"Remote access port opened\"\n")
    env = {"SCANDB_RULES": rules}
    run(db, "import", scan(d, "a.xml", T0, {22: []}), env=env, expect=0)
    eq(findings(db), [], "no rule match")
    run(db, "import", scan(d, "b.xml", T0 + 100, {22: [], 3389: []}), env=env, expect=0)
    fs = findings(db, "--severity", "high")
    eq(len(fs), 1, "rule finding")
    eq((fs[0]["type"], fs[0]["port"], fs[0]["title"], fs[0]["status"]),
       ("rule", 3389, "Remote access port opened", "open"), "rule finding")
    # the port closes in a scan that probed it: resolved
    run(db, "import", scan(d, "c.xml", T0 + 200, {22: []}), env=env, expect=0)
    eq(findings(db)[0]["status"], "resolved", "port closed")
    run(db, "import", scan(d, "d.xml", T0 + 300, {22: [], 3389: []}), env=env, expect=0)
    fs = findings(db)
    eq((len(fs), fs[0]["status"]), (1, "open"), "reopened by the rule")


@t.case
def bad_rules_file_fails_import_with_line():
    d = tmpdir()
    db = newdb()
    rules = os.path.join(d, "rules.conf")
    with open(rules, "w") as f:
        f.write("port_opened 3389/tcp high \"ok\"\nport_open 23/tcp high \"typo\"\n")
    r = run(db, "import", scan(d, "a.xml", T0, {22: []}), env={"SCANDB_RULES": rules})
    eq(r.code, 1, "exit status")
    check(f"{rules}:2:1: unknown event 'port_open'" in r.err, f"stderr: {r.err!r}")


@t.case
def set_status_records_note_bad_status_unknown_id():
    d = tmpdir()
    db = newdb()
    run(db, "import", scan(d, "a.xml", T0, {22: [("vulners", VULNERS)]}), env=NORULES, expect=0)
    fid = by_cve(findings(db), "CVE-2023-38408")["id"]
    run(db, "finding", fid, "set-status", "false_positive", "--note", "lab box", expect=0)
    f = run(db, "finding", fid, "--format", "json", expect=0).json()
    eq(f["status"], "false_positive", "status")
    h = f["history"][-1]
    eq((h["old_status"], h["new_status"], h["note"], h["job"]),
       ("open", "false_positive", "lab box", None), "recorded change")
    check(h["at"] and h["at"].endswith("Z"), f"time recorded: {h!r}")
    r = run(db, "finding", fid, "set-status", "fixed")
    eq(r.code, 2, "bad status exit")
    check("unknown status 'fixed'" in r.err, r.err)
    r = run(db, "finding", 999, "set-status", "confirmed")
    eq(r.code, 1, "unknown id exit")
    check("no finding 999" in r.err, r.err)
    eq(run(db, "findings", "--status", "bogus").code, 2, "bad --status")
    eq(len(findings(db, "--status", "false_positive")), 1, "filter by status")
    eq(len(findings(db, "--host", "192.0.2.9")), 2, "filter by host")
    eq(findings(db, "--host", "192.0.2.10"), [], "other host")
    # a user's false_positive survives a later scan without the CVE, and re-detection
    run(db, "import", scan(d, "b.xml", T0 + 100, {22: [("vulners", VULNERS_CLEAN)]}),
        env=NORULES, expect=0)
    run(db, "import", scan(d, "c.xml", T0 + 200, {22: [("vulners", VULNERS)]}),
        env=NORULES, expect=0)
    eq(run(db, "finding", fid, "--format", "json", expect=0).json()["status"], "false_positive",
       "user status kept")
    # other formats run
    r = run(db, "findings", "--format", "csv", expect=0)
    check(r.out.startswith("id,addr,protocol,port,"), r.out[:100])
    r = run(db, "findings", expect=0)
    check("CVE-2023-38408" in r.out, r.out)
    nd = run(db, "findings", "--format", "ndjson", expect=0).out.strip().splitlines()
    eq(len(nd), 2, "ndjson lines")


@t.case
def out_of_order_import_does_not_duplicate():
    d = tmpdir()
    db = newdb()
    a = scan(d, "a.xml", T0, {22: [("vulners", VULNERS)]})
    b = scan(d, "b.xml", T0 + 100, {22: [("vulners", VULNERS)]})
    c = scan(d, "c.xml", T0 + 200, {22: [("vulners", VULNERS_CLEAN)]})
    run(db, "import", c, env=NORULES, expect=0)
    run(db, "import", b, env=NORULES, expect=0)
    run(db, "import", a, env=NORULES, expect=0)
    fs = findings(db)
    eq(len(fs), 2, "one finding per CVE")
    f = by_cve(fs, "CVE-2023-38408")
    eq((f["first_seen"], f["last_seen"], sorted(f["jobs"])), (iso(T0), iso(T0 + 100), [2, 3]),
       "times widened, jobs a set")
    eq(f["status"], "resolved", "the newest scan (c) does not see it")
    eq(sql1(db, "SELECT count(*) FROM finding_jobs"), 4, "finding_jobs rows")
    dup = sql1(db, "SELECT count(*) FROM (SELECT finding_id, new_status, at FROM "
                   "finding_status_changes GROUP BY 1, 2, 3 HAVING count(*) > 1) d")
    eq(dup, 0, "no duplicated status changes")


def lifecycle(db):
    """Each finding's status, times and history, with jobs named by their
    file (job ids depend on the import order)."""
    src = {j["id"]: os.path.basename(j["source"])
           for j in run(db, "jobs", "--format", "json", expect=0).json()}
    out = {}
    for f in findings(db):
        out[f["fingerprint"]] = (
            f["status"], f["first_seen"], f["last_seen"], sorted(src[j] for j in f["jobs"]),
            [(h["at"], src.get(h["job"]), h["old_status"], h["new_status"], h["note"] and
              h["note"].split(" by job ")[0]) for h in f["history"]])
    return out


@t.case
def out_of_order_lifecycle_is_the_in_order_one():
    """Findings only scans decided are derived again when an older scan
    arrives: any import order gives the statuses and the recorded history
    (open, resolved, reopened, at each scan's time) of importing in scan
    order."""
    d = tmpdir()
    files = [scan(d, "a.xml", T0, {22: [("vulners", VULNERS)]}),
             scan(d, "b.xml", T0 + 100, {22: [("vulners", VULNERS_CLEAN)]}),
             scan(d, "c.xml", T0 + 200, {22: [("vulners", VULNERS)]}),
             scan(d, "e.xml", T0 + 300, {22: [("vulners", VULNERS_CLEAN)]}),
             scan(d, "g.xml", T0 + 400, {22: [("vulners", VULNERS)]})]
    ref = newdb()
    for f in files:
        run(ref, "import", f, env=NORULES, expect=0)
    want = lifecycle(ref)
    hist = want["nse_vuln|vulners|CVE-2023-38408|192.0.2.9|22/tcp"][4]
    eq([(h[2], h[3]) for h in hist],
       [(None, "open"), ("open", "resolved"), ("resolved", "open"), ("open", "resolved"),
        ("resolved", "open")], "in scan order: open, resolved, reopened twice")
    for order in ([4, 3, 2, 1, 0], [0, 2, 4, 1, 3], [2, 0, 4, 3, 1], [4, 0, 1, 2, 3]):
        db = newdb()
        for i in order:
            run(db, "import", files[i], env=NORULES, expect=0)
        got = lifecycle(db)
        eq(got, want, f"import order {order}: the findings of the in-order import")


@t.case
def out_of_order_keeps_a_users_decision():
    """A finding a user has decided on is not derived again: its recorded
    history stays, the user's change included, and older scans do not flip
    its status."""
    d = tmpdir()
    db = newdb()
    a = scan(d, "a.xml", T0, {22: [("vulners", VULNERS)]})
    b = scan(d, "b.xml", T0 + 100, {22: [("vulners", VULNERS_CLEAN)]})
    c = scan(d, "c.xml", T0 + 200, {22: [("vulners", VULNERS)]})
    run(db, "import", c, env=NORULES, expect=0)
    f = by_cve(findings(db), "CVE-2023-38408")
    run(db, "finding", f["id"], "set-status", "confirmed", "--note", "triaged", expect=0)
    run(db, "import", a, b, env=NORULES, expect=0)
    f = by_cve(findings(db), "CVE-2023-38408")
    eq(f["status"], "confirmed", "the user's decision stands")
    eq([(h["old_status"], h["new_status"], h["note"]) for h in f["history"]],
       [(None, "open", "found by job 1"), ("open", "confirmed", "triaged")],
       "history as recorded")
    eq(f["first_seen"], iso(T0), "first_seen widened by the older scan")


t.main()
