#!/usr/bin/python3
"""End-to-end: `scandb scan` runs real nmap against listeners on 127.0.0.1
(loopback only) and stores the results as one job; nmap failures, a missing
nmap, interruption and a killed scandb all leave a failed job, never a
completed one."""
import json
import os
import signal
import shutil
import socket
import subprocess
import sys
import time

from e2e_util import REPO, SCANDB, Tests, check, db_exists, eq, newdb, run, skip

sys.path.insert(0, os.path.join(REPO, "bench"))
from loopback_scan import Listeners  # noqa: E402

t = Tests("scan")


def free_ports(n):
    socks, ports = [], []
    for _ in range(n):
        s = socket.socket()
        s.bind(("127.0.0.1", 0))
        socks.append(s)
        ports.append(s.getsockname()[1])
    for s in socks:
        s.close()
    return ports


def jobs(db):
    return run(db, "jobs", "--format", "json", expect=0).json()


@t.case
def scan_stores_open_and_closed_ports():
    db = newdb()
    p_open1, p_open2, p_closed = free_ports(3)
    ls = Listeners([p_open1, p_open2])
    try:
        r = run(db, "--no-progress", "scan", "-sT", "-Pn", "-n",
                "-p", f"{p_open1},{p_open2},{p_closed}", "127.0.0.1", timeout=120, expect=0)
    finally:
        ls.close()
    check("completed" in r.out, f"{r!r}")
    js = jobs(db)
    eq(len(js), 1, "jobs")
    j = js[0]
    eq((j["kind"], j["status"], j["source"]), ("scan", "completed", "nmap"), "job")
    # nmap's own record of its command line, including the -oX - scandb adds
    check("nmap -sT -Pn -n -p" in j["args"] and "-oX -" in j["args"], f"args {j['args']!r}")
    eq(j["ports_open"], 2, "ports_open")
    eq(j["probed_scope"], "tcp:" + ",".join(map(str, sorted([p_open1, p_open2, p_closed]))),
       "probed scope")
    hosts = run(db, "hosts", "--format", "json", expect=0).json()
    eq([h["addr"] for h in hosts], ["127.0.0.1"], "hosts")
    states = {p["port"]: p["state"] for p in hosts[0]["ports"]}
    eq(states, {p_open1: "open", p_open2: "open", p_closed: "closed"}, "port states")


@t.case
def nmap_failure_marks_job_failed_with_stderr():
    db = newdb()
    r = run(db, "scan", "--this-is-not-an-nmap-option", "127.0.0.1", timeout=60, expect=1)
    check("failed" in r.err, f"{r!r}")
    js = jobs(db)
    eq([j["status"] for j in js], ["failed"], "job status")
    check("nmap exited with status" in js[0]["error"], f"error {js[0]['error']!r}")
    check("this-is-not-an-nmap-option" in js[0]["error"] or "unrecognized" in js[0]["error"],
          f"nmap's stderr not kept: {js[0]['error']!r}")
    eq(run(db, "hosts", "--format", "json", expect=0).json(), [], "hosts after failed scan")


@t.case
def missing_nmap_says_how_to_install():
    db = newdb()
    r = run(db, "scan", "127.0.0.1", env={"PATH": "/nonexistent", "SCANDB_NMAP": ""},
            expect=1)
    check("apt-get install nmap" in r.err, f"no install hint: {r.err!r}")
    # (a new PostgreSQL database stays empty: `jobs` says so, exit 1)
    check(not db_exists(db) or run(db, "jobs", "--format", "json").out.strip() in ("", "[]"),
          "a job was created without nmap")


@t.case
def output_options_refused():
    db = newdb()
    r = run(db, "scan", "-oX", "out.xml", "127.0.0.1", expect=2)
    check("not allowed" in r.err, f"{r!r}")
    run(db, "scan", expect=2)
    r = run(db, "scan", "--help", expect=0)
    check("usage: scandb scan" in r.out, f"{r!r}")


def start_slow_scan(db):
    """A scan that runs for a while: a rate-limited full port range."""
    argv = [SCANDB, "--db", db, "--no-progress", "scan", "-sT", "-Pn", "-n",
            "--max-rate", "50", "-p", "1-65535", "127.0.0.1"]
    p = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                         start_new_session=True)
    deadline = time.time() + 30
    while time.time() < deadline:
        if db_exists(db):
            js = run(db, "jobs", "--format", "json").out
            if '"running"' in js:
                return p
        time.sleep(0.2)
    p.kill()
    raise AssertionError("scan job never showed up as running")


@t.case
def running_job_visible_then_interrupted():
    db = newdb()
    p = start_slow_scan(db)
    js = jobs(db)
    eq(js[0]["status"], "running", "status while nmap runs")
    check(js[0]["completed_at"] is None, "running job has completed_at")
    p.send_signal(signal.SIGINT)
    out, err = p.communicate(timeout=30)
    eq(p.returncode, 1, f"exit after SIGINT ({err!r})")
    js = jobs(db)
    eq(js[0]["status"], "failed", "status after SIGINT")
    check("interrupted" in js[0]["error"], f"error {js[0]['error']!r}")


@t.case
def killed_scandb_is_reaped_as_failed():
    db = newdb()
    p = start_slow_scan(db)
    os.killpg(p.pid, signal.SIGKILL)  # scandb and its nmap, no chance to clean up
    p.communicate(timeout=30)
    js = jobs(db)
    eq(js[0]["status"], "failed", "status after SIGKILL")
    check("gone" in js[0]["error"], f"error {js[0]['error']!r}")
    eq(run(db, "hosts", "--format", "json", expect=0).json(), [], "no hosts from killed scan")


if __name__ == "__main__":
    if not shutil.which("nmap"):
        skip("nmap is not installed (apt-get install nmap); scan tests need it")
    t.main()
