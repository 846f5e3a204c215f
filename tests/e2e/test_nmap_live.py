#!/usr/bin/python3
"""End-to-end with real nmap: what today's nmap writes is what scandb shows.

Starts TCP listeners on free ports of 127.0.0.1 (bench/loopback_scan.py's
Listeners, bound to loopback only): one answers with an OpenSSH banner,
one with an HTTP response; one more port is left closed.  Runs the nmap
installed here, only against 127.0.0.1, twice:

  scan 1: ssh, http open; one port closed
  scan 2: the http listener stopped (now closed), an SMTP listener started;
          the target named `localhost` (when /etc/hosts maps it to
          127.0.0.1) so nmap records a real user hostname

imports both files with `scandb import`, and checks `jobs`, `job`, `hosts`,
`host` and `host --job N` (JSON) field by field against the XML parsed with
xml.etree (e2e_util.parse_nmap / check_host / check_job, shared with
test_query_output.py), plus probed_scope from <scaninfo>, the filters and
the table view on the same real data.

Skips (exit 77) when nmap is not installed.  Every subprocess has a timeout.
"""
import os
import selectors
import shutil
import socket
import subprocess
import sys
import time
import xml.etree.ElementTree as ET

from e2e_util import (REPO, Tests, check, check_host, check_job, eq, newdb, parse_nmap, run, skip,
                      tmpdir)

sys.path.insert(0, os.path.join(REPO, "bench"))
from loopback_scan import Listeners  # noqa: E402

t = Tests("nmap_live")
NMAP = shutil.which("nmap")
NMAP_TIMEOUT = 180
LOOPBACK = "127.0.0.1"
SSH_BANNER = b"SSH-2.0-OpenSSH_9.2p1 Debian-2+deb12u3\r\n"
HTTP_RESPONSE = (b"HTTP/1.1 200 OK\r\nServer: nginx/1.22.1\r\nContent-Type: text/html\r\n"
                 b"Content-Length: 0\r\nConnection: close\r\n\r\n")
SMTP_BANNER = b"220 mail.example.test ESMTP Postfix (Debian/GNU)\r\n"
PROTO_ORDER = ["tcp", "udp", "sctp", "ip"]  # scandb's probed_scope order (rec_proto)


class LoopbackListener(Listeners):
    """bench's accept-and-close Listeners (same thread, banner and close),
    on one free port of 127.0.0.1 instead of a given port of 0.0.0.0."""

    def __init__(self, banner):
        super().__init__([], banner)
        s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        s.bind((LOOPBACK, 0))
        s.listen(64)
        s.setblocking(False)
        self.socks.append(s)
        self.sel.register(s, selectors.EVENT_READ)
        self.port = s.getsockname()[1]


def free_port():
    """A port of 127.0.0.1 nothing listens on (closed)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind((LOOPBACK, 0))
        return s.getsockname()[1]


def localhost_is_loopback():
    """Does /etc/hosts name 127.0.0.1 `localhost`?  (Read here, not resolved:
    nmap resolves the target name the same way, through files first.)"""
    try:
        with open("/etc/hosts", encoding="utf-8", errors="replace") as f:
            for ln in f:
                w = ln.split("#", 1)[0].split()
                if len(w) >= 2 and w[0] == LOOPBACK and "localhost" in w[1:]:
                    return True
    except OSError:
        pass
    return False


def nmap(ports, target, out):
    """Real nmap, loopback only, bounded; returns the XML path."""
    check(target in (LOOPBACK, "localhost"), f"refusing non-loopback target {target}")
    argv = [NMAP, "-sT", "-sV", "--version-light", "-Pn", "-n", "--script", "banner",
            "--host-timeout", "120s", "-p", ",".join(str(p) for p in ports), target, "-oX", out]
    p = subprocess.run(argv, capture_output=True, text=True, timeout=NMAP_TIMEOUT)
    check(p.returncode == 0, f"{' '.join(argv)} exited {p.returncode}: {p.stderr}")
    root = ET.parse(out).getroot()
    got = [a.get("addr") for a in root.iter("address")]
    eq(got, [LOOPBACK], f"{out}: nmap scanned exactly {LOOPBACK}")
    return out


class Scans:
    """Both real scans and a database with both imported (job 1, job 2)."""

    def __init__(self):
        d = tmpdir("scandb-live-", shared=True)
        ssh = LoopbackListener(SSH_BANNER)
        http = LoopbackListener(HTTP_RESPONSE)
        smtp = None
        self.closed = free_port()
        self.ssh, self.http = ssh.port, http.port
        try:
            self.f1 = nmap([ssh.port, http.port, self.closed], LOOPBACK,
                           os.path.join(d, "scan1.xml"))
            http.close()
            smtp = LoopbackListener(SMTP_BANNER)
            self.smtp = smtp.port
            # the second scan must be seen later than the first: a later second
            end1 = int(ET.parse(self.f1).getroot().find("runstats/finished").get("time"))
            while time.time() < end1 + 1.05:
                time.sleep(0.1)
            self.target2 = "localhost" if localhost_is_loopback() else LOOPBACK
            self.f2 = nmap([ssh.port, http.port, self.closed, smtp.port], self.target2,
                           os.path.join(d, "scan2.xml"))
        finally:
            for ls in (ssh, http, smtp):
                if ls:
                    ls.close()
        self.run1, h1 = parse_nmap(self.f1)
        self.run2, h2 = parse_nmap(self.f2)
        self.h1, self.h2 = h1[LOOPBACK], h2[LOOPBACK]
        # one import each, in scan order: job 1 and job 2
        self.db = newdb(shared=True)
        run(self.db, "import", self.f1, expect=0)
        run(self.db, "import", self.f2, expect=0)
        self.first = self.h1["scanned_at"]
        self.last = self.h2["scanned_at"]


_scans = None


def scans():
    """The fixture, made once; if making it failed, every case fails with
    that reason (nmap is not run again)."""
    global _scans
    if _scans is None:
        try:
            _scans = Scans()
        except Exception as e:
            _scans = e
            raise
    if isinstance(_scans, Exception):
        raise AssertionError(f"the scans fixture failed: {_scans!r}")
    return _scans


def port_of(h, port):
    ps = [p for p in h["ports"] if p["port"] == port and p["protocol"] == "tcp"]
    eq(len(ps), 1, f"port {port}/tcp in the XML")
    return ps[0]


def expected_scope(path):
    """probed_scope from <scaninfo>: per protocol the merged port ranges,
    "tcp:22,80-81;udp:53"."""
    ports = {}
    for si in ET.parse(path).getroot().findall("scaninfo"):
        s = ports.setdefault(si.get("protocol"), set())
        for part in si.get("services").split(","):
            lo, _, hi = part.partition("-")
            s.update(range(int(lo or 1), int(hi or (65535 if "-" in part else lo)) + 1))
    out = []
    for proto in PROTO_ORDER:
        if proto not in ports:
            continue
        rng, v = [], sorted(ports[proto])
        i = 0
        while i < len(v):
            j = i
            while j + 1 < len(v) and v[j + 1] == v[j] + 1:
                j += 1
            rng.append(str(v[i]) if i == j else f"{v[i]}-{v[j]}")
            i = j + 1
        out.append(f"{proto}:{','.join(rng)}")
    return ";".join(out) or None


def js(db, *args):
    return run(db, *args, "--format", "json", expect=0).json()


# ---- cases ----------------------------------------------------------------------

@t.case
def nmap_wrote_what_the_test_relies_on():
    """The fixture is rich: service detection, cpe, scripts, states, names."""
    s = scans()
    ssh = port_of(s.h1, s.ssh)
    eq((ssh["state"], ssh["service"], ssh["product"]), ("open", "ssh", "OpenSSH"),
       "scan1: the SSH banner is detected")
    check(ssh["version"] and ssh["version"].startswith("9.2p1"), f"ssh version {ssh['version']!r}")
    eq(ssh["method"], "probed", "ssh service method")
    check(ssh["cpe"], f"ssh service has a cpe: {ssh}")
    eq([sc["id"] for sc in ssh["scripts"]], ["banner"], "scan1: banner script on ssh")
    check("OpenSSH_9.2p1" in ssh["scripts"][0]["output"], f"banner output {ssh['scripts']}")
    eq(port_of(s.h1, s.http)["state"], "open", "scan1: http open")
    closed = port_of(s.h1, s.closed)
    eq((closed["state"], closed["reason"]), ("closed", "conn-refused"), "scan1: closed port")
    eq(port_of(s.h2, s.http)["state"], "closed", "scan2: stopped listener is closed")
    eq(port_of(s.h2, s.smtp)["state"], "open", "scan2: new listener is open")
    eq(s.h1["hostnames"], [], "scan1 (-n, address target): no hostnames")
    if s.target2 == "localhost":
        eq(s.h2["hostnames"], ["localhost"], "scan2: the target name is a user hostname")
    check(s.first < s.last, f"scan2 seen later than scan1: {s.first} {s.last}")


@t.case
def jobs_field_by_field():
    s = scans()
    jobs = js(s.db, "jobs")
    eq([j["id"] for j in jobs], [2, 1], "jobs newest first")
    for j, run_, f in ((jobs[1], s.run1, s.f1), (jobs[0], s.run2, s.f2)):
        check_job(j, run_, j["id"], os.path.basename(f))
        eq(j["probed_scope"], expected_scope(f), f"job {j['id']}.probed_scope (scaninfo)")
        eq(j["progress"], 100, f"job {j['id']}.progress")
        eq(js(s.db, "job", str(j["id"])), j, f"job {j['id']} json == its jobs element")
    eq(js(s.db, "jobs", "--status", "completed"), jobs, "jobs --status completed")


@t.case
def hosts_latest_field_by_field():
    s = scans()
    got = js(s.db, "hosts")
    eq([h["addr"] for h in got], [LOOPBACK], "one host across both scans")
    check_host(got[0], s.h2, 2, s.first, s.last)
    one = js(s.db, "host", LOOPBACK)
    eq((one.pop("tags"), one.pop("notes")), ([], []), "host: no tags, no notes")
    eq(one, got[0], "host 127.0.0.1 json == its hosts element (less tags and notes)")
    check_host(one, s.h2, 2, s.first, s.last)
    nd = run(s.db, "hosts", "--format", "ndjson", expect=0).out.splitlines()
    eq(len(nd), 1, "ndjson: one line")


@t.case
def host_per_job_field_by_field():
    s = scans()
    for job, exp in ((1, s.h1), (2, s.h2)):
        one = js(s.db, "host", LOOPBACK, "--job", str(job))
        check_host(one, exp, job, s.first, s.last, current=False)
        eq((one.pop("tags"), one.pop("notes")), ([], []), f"host --job {job}: no tags, notes")
        eq(js(s.db, "hosts", "--job", str(job)), [one], f"hosts --job {job} == host --job {job}")
        # the table view of the same job shows each port, service and script
        r = run(s.db, "host", LOOPBACK, "--job", str(job), expect=0)
        for p in exp["ports"]:
            check(f"{p['port']}/tcp" in r.out, f"host --job {job} shows port {p['port']}: {r.out}")
            if p["product"]:
                check(p["product"] in r.out, f"host --job {job} shows {p['product']}: {r.out}")
            for sc in p["scripts"]:
                first = sc["output"].split("\n")[0]
                check(f"| {sc['id']}: {first}" in r.out,
                      f"host --job {job} shows script {sc['id']}: {r.out}")


@t.case
def filters_on_real_scans():
    s = scans()
    cases = [
        ([], [LOOPBACK]),
        (["--port", str(s.ssh)], [LOOPBACK]),
        (["--port", f"{s.ssh}/tcp"], [LOOPBACK]),
        (["--port", f"{s.ssh}/udp"], []),
        (["--port", str(s.http)], []),  # closed in the latest scan
        (["--port", str(s.http), "--job", "1"], [LOOPBACK]),
        (["--port", str(s.smtp)], [LOOPBACK]),
        (["--port", str(s.smtp), "--job", "1"], []),  # not scanned then
        (["--port", str(s.closed)], []),
        (["--service", "ssh"], [LOOPBACK]),
        (["--service", port_of(s.h1, s.http)["service"], "--job", "1"], [LOOPBACK]),
        (["--status", "up"], [LOOPBACK]),
        (["--status", "down"], []),
        (["--net", "127.0.0.0/8"], [LOOPBACK]),
        (["--net", "10.0.0.0/8"], []),
    ]
    for args, want in cases:
        eq([h["addr"] for h in js(s.db, "hosts", *args)], want, f"hosts {' '.join(args)}")


# Attributes of what scandb stores per port, as nmap writes them: those
# check_host compares, and those scandb knowingly does not store (nmap-dtd).
COMPARED = {
    "port": {"protocol", "portid"},
    "state": {"state", "reason", "reason_ttl"},
    "service": {"name", "product", "version", "extrainfo", "ostype", "method", "conf",
                "tunnel"},
    "script": {"id", "output"},
}
NOT_STORED = {
    "port": set(),
    "state": {"reason_ip"},
    "service": {"hostname", "devicetype", "servicefp", "lowver", "highver", "rpcnum", "proto"},
    "script": set(),
}


@t.case
def every_attribute_nmap_wrote_is_accounted_for():
    """A field today's nmap writes is either compared above or known not to
    be stored; a new one fails here instead of vanishing silently."""
    s = scans()
    dropped = set()
    for f in (s.f1, s.f2):
        for port in ET.parse(f).getroot().iter("port"):
            for el in [port] + [c for c in port if c.tag in COMPARED]:
                for a in el.attrib:
                    known = a in COMPARED[el.tag] or a in NOT_STORED[el.tag]
                    check(known, f"{os.path.basename(f)}: nmap wrote <{el.tag} {a}=...>, "
                                 f"which scandb neither stores nor knowingly drops")
                    if a in NOT_STORED[el.tag]:
                        dropped.add(f"{el.tag}@{a}={el.get(a)!r}")
    if dropped:
        print(f"     (nmap wrote, scandb does not store: {', '.join(sorted(dropped))})")


@t.case
def reimport_stores_nothing_new():
    s = scans()
    run(s.db, "import", s.f1, s.f2, expect=0)
    eq([j["id"] for j in js(s.db, "jobs")], [2, 1], "the same files again: no new job")


if __name__ == "__main__":
    if not NMAP:
        skip("nmap is not installed: real nmap output is not tested (apt-get install nmap)")
    # installed but not runnable is a failure, not a skip
    v = subprocess.run([NMAP, "--version"], capture_output=True, text=True, timeout=30)
    if v.returncode != 0 or not v.stdout:
        print(f"FAIL: {NMAP} --version exited {v.returncode}: {v.stderr}", flush=True)
        sys.exit(1)
    print(v.stdout.splitlines()[0], flush=True)
    t.main()
