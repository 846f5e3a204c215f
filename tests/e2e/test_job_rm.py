#!/usr/bin/python3
"""End-to-end: `scandb job rm ID [--dry-run]` (issue 11), on both backends.

Removing a job gives the stored history of importing every other file
alone: the same change events (kind, address, port, old, new, time, job
file, previous job file), the same current state of every host (`hosts`),
the same findings and their lifecycle; hosts only the removed job saw are
gone; --dry-run changes nothing; a running job is refused; bad arguments
are usage errors (exit 2); a scandb killed with SIGKILL during a removal
leaves the old or the new state, never a mix.
"""
import os
import signal
import subprocess

from e2e_util import SCANDB, Tests, check, eq, newdb, run, sql, sql1, ts_sql, wait_idle
import test_history as th

t = Tests("job_rm")


# vulners output as nmap writes it (test_findings.py has the same, escaped)
VULNERS = ("\n  cpe:/a:openbsd:openssh:7.4: \n"
           "    \tCVE-2023-38408\t9.8\thttps://vulners.com/cve/CVE-2023-38408\n"
           "    \tCVE-2020-15778\t6.8\thttps://vulners.com/cve/CVE-2020-15778\n")
VULNERS_CLEAN = "\n  cpe:/a:openbsd:openssh:9.9: \n"
NORULES = {"SCANDB_RULES": ""}


def vscan(d, name, day, text):
    return d.scan(name, th.D(day), [{"addr": th.A, "ports": [th.P(22, scripts=[("vulners", text)])],
                                     "extra": [("closed", 999)]}])


def findings_norm(db):
    """Every finding, with jobs named by file, without ids."""
    src = {j["id"]: os.path.basename(j["source"]) for j in th.js(db, "jobs")}
    out = []
    for f in th.js(db, "findings"):
        f = dict(f)
        f.pop("id", None)
        f["jobs"] = sorted(src[j] for j in f.get("jobs") or [])
        for h in f.get("history") or []:
            if h.get("job") is not None:
                h["job"] = src[h["job"]]
            if h.get("note"):
                h["note"] = " ".join(src.get(int(w), w) if w.isdigit() else w
                                     for w in h["note"].split(" "))
        out.append(f)
    out.sort(key=lambda f: (f["addr"], f.get("port") or -1, f["title"]))
    return out


def state(db):
    """Events (as test_history's, and within one scan of one host by kind
    and port: derived from a stored scan, its ports come sorted, from a
    file in the file's order), hosts, findings."""
    evs, hosts = th.normalized(db)
    evs.sort(key=lambda e: (e["at"], th.addr_key(e["addr"]), e["kind"], e["protocol"] or "",
                            e["port"] or -1))
    return evs, hosts, findings_norm(db)


def imported(files, env=None):
    db = newdb()
    for f in files:
        run(db, "import", f, env=env, expect=0)
    return db


def same_as_without(files, k, order=None, env=None):
    """Import files (in `order`, default as given), remove files[k]'s job:
    the state is that of importing the others alone (in time order)."""
    db = imported(order or files, env)
    job = th.job_of(db, files[k])
    r = run(db, "job", "rm", job, "--format", "json", expect=0).json()
    eq((r["job"], r["dry_run"]), (job, False), "job rm's answer")
    want = state(imported(files[:k] + files[k + 1:], env))
    got = state(db)
    for i, what in enumerate(("events", "hosts", "findings")):
        eq(got[i], want[i], f"{what} after job rm of {os.path.basename(files[k])}")
    return db


@t.case
def removing_any_job_gives_the_history_without_it():
    """Six scans of three hosts exercising every event rule: removing each
    one (first, middle, last) gives the history of the other five."""
    files = th.ooo_files(th.Dir())
    for k in range(len(files)):
        same_as_without(files, k)


@t.case
def removing_a_job_imported_late():
    """Files imported newest first (every scan late); removing one gives the
    in-order history of the others."""
    files = th.ooo_files(th.Dir())
    same_as_without(files, 3, order=list(reversed(files)))


@t.case
def a_removed_file_imports_again():
    """Its content hash goes with it: importing the file again is no
    duplicate, and gives the history of importing every file."""
    files = th.ooo_files(th.Dir())
    db = same_as_without(files, 2)
    r = run(db, "import", files[2], expect=0)
    check("already imported" not in r.err, r.err)
    eq(state(db), state(imported(files)), "removed, then imported again (late)")


@t.case
def findings_as_if_never_seen():
    """A finding opened by A, resolved by B, reopened by C: without B it is
    open from A with no resolution; without A it opens at B's time."""
    d = th.Dir()
    a = vscan(d, "a", 1, VULNERS)
    b = vscan(d, "b", 2, VULNERS_CLEAN)
    c = vscan(d, "c", 3, VULNERS)
    db = same_as_without([a, b, c], 1, env=NORULES)
    f = [f for f in th.js(db, "findings") if "CVE-2023-38408" in f["title"]]
    eq(len(f), 1, f"one finding for the CVE: {f}")
    eq([h["new_status"] for h in f[0]["history"]], ["open"], "never resolved without b")
    same_as_without([a, b, c], 0, env=NORULES)
    same_as_without([a, b, c], 2, env=NORULES)


@t.case
def hosts_only_the_job_saw_are_gone_tags_too():
    d = th.Dir()
    a = d.scan("a", th.D(1), [{"addr": th.A, "ports": [th.P(22)]}])
    b = d.scan("b", th.D(2), [{"addr": th.A, "ports": [th.P(22)]},
                              {"addr": "203.0.113.99", "ports": [th.P(80)]}])
    db = imported([a, b])
    run(db, "tag", "203.0.113.99", "add", "mistake", expect=0)
    r = run(db, "job", "rm", th.job_of(db, b), "--format", "json", expect=0).json()
    eq((r["hosts"], r["hosts_removed"], r["ports"]), (2, 1, 2), "counts")
    eq([h["addr"] for h in th.js(db, "hosts")], [th.A], "only A is left")
    run(db, "host", "203.0.113.99", expect=1)
    eq(th.js(db, "tags"), [], "its tag went with it")
    eq([j["source"].endswith("a.xml") for j in th.js(db, "jobs")], [True], "jobs left")


@t.case
def dry_run_changes_nothing():
    files = th.ooo_files(th.Dir())
    db = imported(files)
    before = state(db)
    job = th.job_of(db, files[1])
    r = run(db, "job", "rm", job, "--dry-run", "--format", "json", expect=0)
    j = r.json()
    eq(sorted(j), sorted(["job", "dry_run", "hosts", "hosts_removed", "ports", "events",
                          "events_derived_again", "findings"]), "dry-run keys")
    eq((j["job"], j["dry_run"], j["hosts"], j["hosts_removed"]), (job, True, 2, 0), "dry run")
    check(j["events"] >= 1 and j["events_derived_again"] >= 1, f"events counted: {j}")
    eq(state(db), before, "nothing changed by --dry-run")
    txt = run(db, "job", "rm", job, "--dry-run", expect=0)
    check(txt.out.startswith(f"would remove job {job}: 2 hosts"), txt.out)
    check("nothing was changed" in txt.err, txt.err)
    csv = run(db, "job", "rm", job, "--dry-run", "--format", "csv", expect=0).out.splitlines()
    eq(csv[0], "job,dry_run,hosts,hosts_removed,ports,events,events_derived_again,findings",
       "csv header")
    nd = run(db, "job", "rm", job, "--dry-run", "--format", "ndjson", expect=0).out
    eq(len(nd.splitlines()), 1, "one ndjson line")


@t.case
def usage_errors_and_refusals():
    files = th.ooo_files(th.Dir())
    db = imported(files[:2])
    before = state(db)
    for args, code, words in [((), 2, "missing job ID"), (("x",), 2, "ID"),
                              (("0",), 2, "ID"), (("1", "2"), 2, "unexpected"),
                              (("1", "--bogus"), 2, "unknown option"),
                              (("1", "--format", "xml"), 2, "format"),
                              (("99",), 1, "no job 99")]:
        r = run(db, "job", "rm", *args)
        eq(r.code, code, f"job rm {args}: {r!r}")
        check(words in r.err, f"job rm {args}: {r.err!r} names {words!r}")
    eq(run(db, "job", "rm", "--help", expect=0).out.split("\n")[0],
       "usage: scandb job rm ID [--dry-run] [--format table|json|ndjson|csv]", "help")
    # a running job (its process alive: this test's) is refused
    sql(db, "INSERT INTO jobs (kind, source, status, created_at, started_at, worker_id,"
        f" timeout_at) VALUES ('scan', 'nmap', 'running', {ts_sql(1)}, {ts_sql(1)},"
        f" '{os.uname().nodename}:{os.getpid()}', {ts_sql(4102444800)})")
    running = int(sql1(db, "SELECT max(id) FROM jobs"))
    r = run(db, "job", "rm", running)
    eq(r.code, 1, f"running job: {r!r}")
    check("running" in r.err, r.err)
    eq(state(db), before, "nothing changed by the refusals")
    run(db, "job", "rm", "--dry-run", expect=2)


def big_scan(d, name, day, n, ports):
    hosts = [{"addr": f"10.{(i >> 16) & 255}.{(i >> 8) & 255}.{i & 255}",
              "ports": [th.P(p) for p in ports(i)], "extra": [("closed", 997)]}
             for i in range(1, n + 1)]
    return d.scan(name, th.D(day), hosts)


@t.case
def sigkill_leaves_old_or_new_state():
    """SIGKILL at increasing moments during the removal of a big job: after
    each, the database holds the history with the job or without it."""
    d = th.Dir()
    n = 3000
    files = [big_scan(d, "k1", 1, n, lambda i: [22, 80]),
             big_scan(d, "k2", 2, n, lambda i: [22] if i % 2 else [22, 443]),
             big_scan(d, "k3", 3, n, lambda i: [22, 80, 8080] if i % 3 else [22])]
    want_new = state(imported([files[0], files[2]]))
    db = imported(files)
    old = state(db)
    job = th.job_of(db, files[1])
    argv = [SCANDB, "--db", db, "job", "rm", str(job)]
    # kills later and later (0.1 s, x1.5 each time) until one removal ends
    # on its own: every moment of it, the start to the commit, is hit
    kills = 0
    for k in range(30):
        p = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        try:
            p.wait(timeout=0.1 * 1.5 ** k)
        except subprocess.TimeoutExpired:
            p.send_signal(signal.SIGKILL)
            kills += 1
        p.wait(timeout=60)
        wait_idle(db)
        now = state(db)
        if now == old:
            check(p.returncode == -signal.SIGKILL, f"run {k}: exit {p.returncode}, old state")
            continue
        for i, what in enumerate(("events", "hosts", "findings")):
            eq(now[i], want_new[i], f"after run {k}: {what} are the new state's")
        break
    else:
        raise AssertionError("the removal never finished")
    check(kills >= 1, "at least one removal was killed")
    print(f"     {kills} kills before the removal ended on its own", flush=True)


if __name__ == "__main__":
    t.main()
