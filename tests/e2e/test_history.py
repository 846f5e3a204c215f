#!/usr/bin/python3
"""End-to-end: network history (issue 4) through the real `scandb` binary.

Change events derived at import (host up/down, port opened/closed, service,
OS, MAC, hostname and script changes), the scope-aware current state of
`scandb hosts` (first_seen/last_seen/closed_at/state_job_id), out-of-order
imports, and the `changes`, `history` and `hosts --changed-since/--new-since`
commands in every format.  The nmap XML is written by this file (nmap's own
layout, see xml_scan); the last two cases run the real nmap against
listeners on 127.0.0.1 only, with timeouts (each skipped alone, loudly, when
nmap is missing; the -sA one also without root).

Every event is checked field by field: kind, address, protocol/port, script,
old, new, job, previous job and time.
"""
import csv
import io
import json
import os
import random
import re
import selectors
import shutil
import socket
import subprocess
import sys
import time
import xml.etree.ElementTree as ET
from xml.sax.saxutils import quoteattr

from e2e_util import (SCANDB as SCANDB_BIN, REPO, CaseTests, addr_key, check, eq, iso, newdb, run,
                      skip_case, sql1, sql_script, tmpdir, write)

t = CaseTests("history")

# Fixed scan times for the cases that do not depend on "now": one a day.
D0 = 1700000000


def D(n):
    return D0 + n * 86400


# ---- nmap XML, the way nmap writes it ---------------------------------------------

def q(v):
    return quoteattr(str(v))


def xml_port(p):
    """p: dict(proto, port, state, service=dict|None, scripts=[(id, output)])."""
    out = [f'<port protocol={q(p.get("proto", "tcp"))} portid={q(p["port"])}>'
           f'<state state={q(p["state"])} reason={q(p.get("reason", "syn-ack"))} '
           f'reason_ttl="64"/>']
    sv = p.get("service")
    if sv:
        attrs = " ".join(f"{k}={q(v)}" for k, v in sv.items() if v is not None)
        out.append(f"<service {attrs}/>")
    for sid, text in p.get("scripts", []):
        out.append(f"<script id={q(sid)} output={q(text)}/>")
    out.append("</port>")
    return "".join(out)


def xml_host(h, start):
    start = h.get("start", start)  # a host's own time in the scan, else the scan's
    status = h.get("status", "up")
    out = []
    if status == "up":
        out.append(f'<host starttime="{start}" endtime="{start + 5}">')
        out.append('<status state="up" reason="syn-ack" reason_ttl="0"/>')
    else:
        out.append("<host>")
        out.append(f'<status state={q(status)} reason="no-response" reason_ttl="0"/>')
    fam = "ipv6" if ":" in h["addr"] else "ipv4"
    out.append(f'<address addr={q(h["addr"])} addrtype="{fam}"/>')
    if h.get("mac"):
        out.append(f'<address addr={q(h["mac"])} addrtype="mac"/>')
    names = h.get("names", [])
    if names:
        out.append("<hostnames>" + "".join(
            f"<hostname name={q(n)} type={q(ty)}/>" for n, ty in names) + "</hostnames>")
    else:
        out.append("<hostnames/>")
    if status == "up":
        out.append("<ports>")
        for st, count in h.get("extra", []):
            out.append(f'<extraports state={q(st)} count="{count}">'
                       f'<extrareasons reason="reset" count="{count}"/></extraports>')
        out.extend(xml_port(p) for p in h.get("ports", []))
        out.append("</ports>")
        if h.get("os"):
            out.append(f'<os><osmatch name={q(h["os"])} accuracy="98" line="1">'
                       f'<osclass type="general purpose" vendor="Linux" osfamily="Linux" '
                       f'osgen="5.X" accuracy="98"/></osmatch></os>')
        if h.get("hostscripts"):
            out.append("<hostscript>" + "".join(
                f"<script id={q(i)} output={q(o)}/>" for i, o in h["hostscripts"])
                + "</hostscript>")
    out.append("</host>")
    return "\n".join(out)


def xml_scan(start, hosts, tcp="1-1000", udp=None, args=None):
    """One nmap -oX document: scaninfo per scanned protocol, the hosts."""
    args = args or f"nmap -oX - -p {tcp or ''} test"
    si = ""
    if tcp is not None:
        si += f'<scaninfo type="syn" protocol="tcp" numservices="1" services={q(tcp)}/>\n'
    if udp is not None:
        si += f'<scaninfo type="udp" protocol="udp" numservices="1" services={q(udp)}/>\n'
    up = sum(1 for h in hosts if h.get("status", "up") == "up")
    return (f'<?xml version="1.0" encoding="UTF-8"?>\n<!DOCTYPE nmaprun>\n'
            f'<nmaprun scanner="nmap" args={q(args)} start="{start}" startstr="x" '
            f'version="7.94" xmloutputversion="1.05">\n{si}'
            f'<verbose level="0"/>\n<debugging level="0"/>\n'
            + "\n".join(xml_host(h, start) for h in hosts)
            + f'\n<runstats><finished time="{start + 60}" timestr="x" elapsed="60.00" '
              f'summary="x" exit="success"/><hosts up="{up}" down="{len(hosts) - up}" '
              f'total="{len(hosts)}"/></runstats>\n</nmaprun>\n')


def P(port, state="open", proto="tcp", service=None, scripts=None, reason=None):
    p = {"proto": proto, "port": port, "state": state, "service": service,
         "scripts": scripts or []}
    if reason:
        p["reason"] = reason
    elif state != "open":
        p["reason"] = "reset" if state == "closed" else "no-response"
    return p


def probed(name, product=None, version=None, extrainfo=None, tunnel=None):
    return {"name": name, "product": product, "version": version, "extrainfo": extrainfo,
            "tunnel": tunnel, "method": "probed", "conf": "10"}


def table(name):
    return {"name": name, "method": "table", "conf": "3"}


class Dir:
    """Scan files of one case: dir.scan("s1", start, hosts, ...) -> path."""

    def __init__(self):
        self.d = tmpdir("scandb-hist-")

    def scan(self, name, start, hosts, **kw):
        return write(os.path.join(self.d, name + ".xml"), xml_scan(start, hosts, **kw))


# ---- reading scandb ----------------------------------------------------------------

def imp(db, *files):
    run(db, "import", *files, expect=0)


def js(db, *args):
    return run(db, *args, "--format", "json", expect=0).json()


def changes(db, *args):
    return js(db, "changes", *args)


def history(db, addr, *args):
    return js(db, "history", addr, *args)


def job_of(db, path):
    """The id of the job that imported `path`."""
    ids = [j["id"] for j in js(db, "jobs") if j["source"].endswith("/" + os.path.basename(path))]
    eq(len(ids), 1, f"jobs importing {path}")
    return ids[0]


def host(db, addr, *args):
    hs = js(db, "hosts", "--net", addr, *args)
    eq(len(hs), 1, f"hosts --net {addr}")
    return hs[0]


def port_of(h, port, proto="tcp"):
    ps = [p for p in h["ports"] if p["port"] == port and p["protocol"] == proto]
    eq(len(ps), 1, f"{h['addr']}: port {port}/{proto} in the view")
    return ps[0]


EV_KEYS = ["id", "at", "addr", "kind", "protocol", "port", "script", "old", "new", "job_id",
           "prev_job_id"]


def ev(e, kind, addr, port=None, proto=None, old=None, new=None, job=None, prev=None, at=None,
       script=None, what=""):
    """Event `e` is exactly this one (prev=... means not checked)."""
    eq(list(e.keys()), EV_KEYS, f"{what}: event keys")
    got = {k: e[k] for k in EV_KEYS if k != "id"}
    want = {"at": iso(at), "addr": addr, "kind": kind,
            "protocol": proto or ("tcp" if port is not None else None), "port": port,
            "script": script, "old": old, "new": new, "job_id": job, "prev_job_id": prev}
    if prev is ...:
        del got["prev_job_id"], want["prev_job_id"]
    eq(got, want, f"{what}: event")


def kinds(evs):
    return [(e["kind"], e["port"]) for e in evs]


def state(p):
    return (p["state"], p["first_seen"], p["last_seen"], p["closed_at"], p["state_job_id"])


# ---- events at ingest -------------------------------------------------------------

A = "192.0.2.10"


@t.case
def new_host_then_open_close_reopen():
    """host_up (old null) and no per-port events for a new host; then a port
    opens, closes (listed closed), reopens: events, first/last_seen, closed_at."""
    d, db = Dir(), newdb()
    f1 = d.scan("s1", D(1), [{"addr": A, "ports": [P(22), P(113, "closed")],
                              "extra": [("closed", 998)]}])
    f2 = d.scan("s2", D(2), [{"addr": A, "ports": [P(22), P(80)], "extra": [("closed", 998)]}])
    f3 = d.scan("s3", D(3), [{"addr": A, "ports": [P(22), P(80, "closed")],
                              "extra": [("closed", 998)]}])
    f4 = d.scan("s4", D(4), [{"addr": A, "ports": [P(22), P(80)], "extra": [("closed", 998)]}])
    imp(db, f1)
    evs = history(db, A)
    eq(len(evs), 1, "one event for a new host")
    ev(evs[0], "host_up", A, new="up", job=1, prev=None, at=D(1), what="s1")
    h = host(db, A)
    eq(state(port_of(h, 22)), ("open", iso(D(1)), iso(D(1)), None, 1), "22 after s1")
    eq(state(port_of(h, 113)), ("closed", None, None, None, 1), "113 after s1")

    imp(db, f2)
    evs = history(db, A)
    eq(len(evs), 2, f"events after s2: {evs}")
    ev(evs[1], "port_opened", A, port=80, new="open", job=2, prev=..., at=D(2), what="s2")
    # 113 was not listed by s2 but covered: the extraports state
    eq(state(port_of(host(db, A), 113)), ("closed", None, None, None, 2), "113 after s2")

    imp(db, f3)
    evs = history(db, A)
    eq(len(evs), 3, f"events after s3: {evs}")
    ev(evs[2], "port_closed", A, port=80, old="open", new="closed", job=3, prev=2, at=D(3),
       what="s3")
    h = host(db, A)
    eq(state(port_of(h, 80)), ("closed", iso(D(2)), iso(D(2)), iso(D(3)), 3), "80 after s3")
    eq(state(port_of(h, 22)), ("open", iso(D(1)), iso(D(3)), None, 3), "22 after s3")

    imp(db, f4)
    evs = history(db, A)
    eq(len(evs), 4, f"events after s4: {evs}")
    ev(evs[3], "port_opened", A, port=80, old="closed", new="open", job=4, prev=3, at=D(4),
       what="s4")
    h = host(db, A)
    eq(state(port_of(h, 80)), ("open", iso(D(2)), iso(D(4)), None, 4), "80 after s4")
    # `changes` holds the same events as `history`
    eq(changes(db), evs, "changes == history for the only host")


@t.case
def port_opened_names_previous_job():
    """Issue 4: "Each event names the job that saw it and the previous job it
    is compared with".  s1 probed tcp 1-1000 (80 folded into extraports
    closed); s2 finds 80 open: the event compares with job 1."""
    d, db = Dir(), newdb()
    imp(db, d.scan("s1", D(1), [{"addr": A, "ports": [P(22)], "extra": [("closed", 999)]}]))
    imp(db, d.scan("s2", D(2), [{"addr": A, "ports": [P(22), P(80)],
                                 "extra": [("closed", 998)]}]))
    evs = history(db, A)
    eq(len(evs), 2, f"events: {evs}")
    ev(evs[1], "port_opened", A, port=80, new="open", job=2, prev=1, at=D(2), what="s2")


@t.case
def scope_aware_no_false_closed():
    """s1 (tcp 1-1000) sees 22,443 open; s2 probes only 1-100 and lists 22:
    no event for 443, which stays open with its old last_seen; s3 probes
    1-1000 and lists only 22: port_closed 443 new "closed" (extraports)."""
    d, db = Dir(), newdb()
    imp(db, d.scan("s1", D(1), [{"addr": A, "ports": [P(22), P(443)],
                                 "extra": [("closed", 998)]}]))
    imp(db, d.scan("s2", D(2), [{"addr": A, "ports": [P(22)], "extra": [("closed", 99)]}],
                   tcp="1-100"))
    eq(len(history(db, A)), 1, "no event from the 1-100 scan")
    h = host(db, A)
    eq(state(port_of(h, 443)), ("open", iso(D(1)), iso(D(1)), None, 1),
       "443 keeps s1's state")
    eq(state(port_of(h, 22)), ("open", iso(D(1)), iso(D(2)), None, 2), "22 moved to s2")
    eq(h["job_id"], 2, "the host row is s2's")
    eq([x["addr"] for x in js(db, "hosts", "--port", "443")], [A],
       "hosts --port 443 (current view) still has the host")
    eq(js(db, "hosts", "--port", "443", "--job", "2"), [], "job 2's view has no 443")
    # the table view lists 443 among the open ports
    out = run(db, "hosts", expect=0).out
    check("443/tcp" in out and "22/tcp" in out, f"table lists both open ports:\n{out}")

    imp(db, d.scan("s3", D(3), [{"addr": A, "ports": [P(22)], "extra": [("closed", 999)]}]))
    evs = history(db, A)
    eq(len(evs), 2, f"events after s3: {evs}")
    ev(evs[1], "port_closed", A, port=443, old="open", new="closed", job=3, prev=1, at=D(3),
       what="s3")
    eq(state(port_of(host(db, A), 443)), ("closed", iso(D(1)), iso(D(1)), iso(D(3)), 3),
       "443 after s3")


@t.case
def scope_aware_filtered_and_udp():
    """Unlisted covered ports take the extraports state: "filtered" for TCP
    closes an open port; UDP's "open|filtered" (no answer) cannot tell open
    from filtered, so it is no news about a port known open."""
    d, db = Dir(), newdb()
    imp(db, d.scan("s1", D(1), [{"addr": A, "ports": [P(22), P(443), P(53, proto="udp"),
                                                      P(161, proto="udp")],
                                 "extra": [("closed", 998)]}], udp="53,161"))
    imp(db, d.scan("s2", D(2), [{"addr": A, "ports": [P(22), P(53, proto="udp")],
                                 "extra": [("filtered", 999), ("open|filtered", 199)]}],
                   udp="1-200"))
    evs = history(db, A)
    eq(kinds(evs), [("host_up", None), ("port_closed", 443)], "events after s2")
    ev(evs[1], "port_closed", A, port=443, old="open", new="filtered", job=2, prev=1, at=D(2),
       what="443")
    h = host(db, A)
    eq(state(port_of(h, 161, "udp")), ("open", iso(D(1)), iso(D(1)), None, 1),
       "161/udp: still open, as s1 saw it")
    eq(state(port_of(h, 443)), ("filtered", iso(D(1)), iso(D(1)), iso(D(2)), 2), "443/tcp")
    # a TCP-only scan says nothing about UDP
    imp(db, d.scan("s3", D(3), [{"addr": A, "ports": [P(22)], "extra": [("closed", 999)]}]))
    eq(len(history(db, A)), 2, "no event from the TCP-only scan")
    eq(state(port_of(host(db, A), 53, "udp")), ("open", iso(D(1)), iso(D(2)), None, 2),
       "53/udp untouched by s3")


@t.case
def host_down_then_up():
    """A down scan: host_down, no port events, ports unchanged; back up:
    host_up (old "down")."""
    d, db = Dir(), newdb()
    up = {"addr": A, "ports": [P(22), P(80)], "extra": [("closed", 998)]}
    imp(db, d.scan("s1", D(1), [up]))
    imp(db, d.scan("s2", D(2), [{"addr": A, "status": "down"}]))
    evs = history(db, A)
    eq(len(evs), 2, f"events after down: {evs}")
    ev(evs[1], "host_down", A, old="up", new="down", job=2, prev=1, at=D(2), what="down")
    h = host(db, A)
    eq(h["status"], "down", "current status")
    eq(state(port_of(h, 22)), ("open", iso(D(1)), iso(D(1)), None, 1), "22 unchanged")
    eq(state(port_of(h, 80)), ("open", iso(D(1)), iso(D(1)), None, 1), "80 unchanged")
    imp(db, d.scan("s3", D(3), [up]))
    evs = history(db, A)
    eq(len(evs), 3, f"events after back up: {evs}")
    ev(evs[2], "host_up", A, old="down", new="up", job=3, prev=2, at=D(3), what="up")
    eq(state(port_of(host(db, A), 80)), ("open", iso(D(1)), iso(D(3)), None, 3), "80 after up")


@t.case
def service_changes():
    """-sV on both sides: product/version change -> service_changed with the
    text as a person reads it; table vs probed -> no event."""
    d, db = Dir(), newdb()
    s1 = [P(22, service=probed("ssh", "OpenSSH", "8.9p1", "Ubuntu Linux; protocol 2.0")),
          P(443, service=probed("http", "nginx", "1.22.1", tunnel="ssl")),
          P(8080, service=table("http-proxy"))]
    s2 = [P(22, service=probed("ssh", "OpenSSH", "9.2p1", "Debian; protocol 2.0")),
          P(443, service=probed("http", "Apache httpd", "2.4.57", "(Debian)", tunnel="ssl")),
          P(8080, service=probed("http", "Jetty", "9.4"))]
    s3 = [P(22, service=table("ssh")), P(443, service=table("https")),
          P(8080, service=probed("http", "Jetty", "9.4"))]
    for i, ports in enumerate((s1, s2, s3), 1):
        imp(db, d.scan(f"s{i}", D(i), [{"addr": A, "ports": ports,
                                        "extra": [("closed", 997)]}], tcp="1-10000"))
    evs = history(db, A)
    eq(kinds(evs), [("host_up", None), ("service_changed", 22), ("service_changed", 443)],
       "events (8080 table->probed and s3's table guesses say nothing)")
    ev(evs[1], "service_changed", A, port=22, old="ssh OpenSSH 8.9p1 (Ubuntu Linux; protocol 2.0)",
       new="ssh OpenSSH 9.2p1 (Debian; protocol 2.0)", job=2, prev=1, at=D(2), what="22")
    ev(evs[2], "service_changed", A, port=443, old="ssl/http nginx 1.22.1",
       new="ssl/http Apache httpd 2.4.57 ((Debian))", job=2, prev=1, at=D(2), what="443")
    # the current view keeps the probed details over a later table guess
    p = port_of(host(db, A), 22)
    eq((p["service"], p["product"], p["version"], p["method"]),
       ("ssh", "OpenSSH", "9.2p1", "probed"), "22's service in the current view")


@t.case
def os_mac_hostname_script_changes():
    """Compared only when both scans report them; a scan without OS (or MAC,
    names, scripts) says nothing.  script_changed names the script."""
    d, db = Dir(), newdb()
    h1 = {"addr": A, "os": "Linux 5.0 - 5.14", "mac": "00:11:22:33:44:55",
          "names": [("a.example.test", "PTR")],
          "ports": [P(80, service=table("http"), scripts=[("http-title", "Welcome")])],
          "hostscripts": [("smb-os-discovery", "OS: Windows 10")], "extra": [("closed", 999)]}
    h2 = {"addr": A, "ports": [P(80, service=table("http"))], "extra": [("closed", 999)]}
    h3 = {"addr": A, "os": "Linux 6.1", "mac": "66:77:88:99:AA:BB",
          "names": [("b.example.test", "PTR"), ("a.example.test", "user")],
          "ports": [P(80, service=table("http"), scripts=[("http-title", "Login, please\nnow")])],
          "hostscripts": [("smb-os-discovery", "OS: Windows 11")], "extra": [("closed", 999)]}
    imp(db, d.scan("s1", D(1), [h1]))
    imp(db, d.scan("s2", D(2), [h2]))
    eq(len(history(db, A)), 1, "s2 reported nothing to compare")
    imp(db, d.scan("s3", D(3), [h3]))
    evs = history(db, A)
    eq(kinds(evs), [("host_up", None), ("os_changed", None), ("mac_changed", None),
                    ("hostname_changed", None), ("script_changed", None),
                    ("script_changed", 80)], "events")
    ev(evs[1], "os_changed", A, old="Linux 5.0 - 5.14", new="Linux 6.1", job=3, prev=2,
       at=D(3), what="os")
    ev(evs[2], "mac_changed", A, old="00:11:22:33:44:55", new="66:77:88:99:AA:BB", job=3,
       prev=2, at=D(3), what="mac")
    ev(evs[3], "hostname_changed", A, old="a.example.test",
       new="a.example.test,b.example.test", job=3, prev=2, at=D(3), what="hostnames")
    ev(evs[4], "script_changed", A, script="smb-os-discovery", old="OS: Windows 10",
       new="OS: Windows 11", job=3, prev=1, at=D(3), what="host script")
    ev(evs[5], "script_changed", A, port=80, script="http-title", old="Welcome",
       new="Login, please\nnow", job=3, prev=1, at=D(3), what="port script")
    # the same values again: nothing
    imp(db, d.scan("s4", D(4), [dict(h3)]))
    eq(len(history(db, A)), 6, "s4 repeats s3")


@t.case
def hosts_of_one_scan_at_other_times():
    """Hosts of one scan differ in time (nmap's starttime per host): a host
    scanned after its latest stored scan is in order even when the scan
    began before that one, and its script outputs are compared with the
    latest stored ones (PostgreSQL reads a block of hosts at once, leaving
    out the scripts of hosts seen after the scan began, which a late scan
    does not need; this one is not late, so it reads its own)."""
    d = Dir()
    b = "192.0.2.11"  # in A's block of addresses
    web = lambda title: {"addr": A, "ports": [P(80, service=table("http"),  # noqa: E731
                                                 scripts=[("http-title", title)])],
                         "extra": [("closed", 999)]}
    other = {"addr": b, "ports": [P(22)], "extra": [("closed", 999)]}
    db = newdb()
    imp(db, d.scan("t1", D(1), [other, web("One")]))
    imp(db, d.scan("t2", D(3), [web("Two")]))
    # begins at D(2), before A's latest (D(3)); A itself is scanned at D(4)
    imp(db, d.scan("t3", D(2), [dict(other, start=D(2)), dict(web("Three"), start=D(4))]))
    evs = [e for e in history(db, A) if e["kind"] == "script_changed"]
    eq(len(evs), 2, f"script changes of A: {evs}")
    ev(evs[0], "script_changed", A, port=80, script="http-title", old="One", new="Two",
       job=2, prev=1, at=D(3), what="t2")
    ev(evs[1], "script_changed", A, port=80, script="http-title", old="Two", new="Three",
       job=3, prev=2, at=D(4), what="t3, in order for A")
    eq([e["kind"] for e in history(db, b)], ["host_up"], "b: nothing changed")


def list_scan_files(d):
    """up(a) at D1; nmap -sL (status "unknown", a user name b) at D2; then
    down at D3, or up(b) at D3."""
    up_a = {"addr": A, "names": [("a.example.test", "PTR")], "ports": [P(22)],
            "extra": [("closed", 999)]}
    ls_b = {"addr": A, "status": "unknown", "names": [("b.example.test", "user")]}
    return (d.scan("s1", D(1), [up_a]),
            d.scan("s2", D(2), [ls_b], tcp=None, args="nmap -sL -oX - b.example.test"),
            d.scan("s3", D(3), [{"addr": A, "status": "down"}]),
            d.scan("s3b", D(3), [{"addr": A, "names": [("b.example.test", "PTR")],
                                  "ports": [P(22)], "extra": [("closed", 999)]}]))


@t.case
def list_scan_then_down_is_host_down():
    """nmap -sL writes hosts with status "unknown": such a scan says nothing
    about up/down, so up -> -sL -> down is still a host_down."""
    f1, f2, f3, _ = list_scan_files(Dir())
    db = newdb()
    imp(db, f1, f2, f3)
    evs = history(db, A)
    eq([e["kind"] for e in evs], ["host_up", "host_down"], f"up, -sL, down: {evs}")
    ev(evs[1], "host_down", A, old="up", new="down", job=3, prev=..., at=D(3), what="down")


@t.case
def list_scan_names_say_nothing():
    """A host that was not seen up says nothing about its names (events.h):
    up(a) -> -sL(b) -> up(b) is hostname_changed a -> b at the third scan,
    compared with the first (the last that reported names while up)."""
    f1, f2, _, f3 = list_scan_files(Dir())
    db = newdb()
    imp(db, f1, f2, f3)
    evs = history(db, A)
    eq([e["kind"] for e in evs], ["host_up", "hostname_changed"],
       f"up(a), -sL(b), up(b): {evs}")
    ev(evs[1], "hostname_changed", A, old="a.example.test", new="b.example.test", job=3,
       prev=2, at=D(3), what="names")


@t.case
def ack_scan_is_not_a_close():
    """nmap -sA cannot tell open from closed: it folds every port it probed,
    open ones included, into <extraports state="unfiltered"> (nmap 7.93, a
    listener on 127.0.0.1).  Such a scan must not close an open port, nor
    make the next SYN scan report it opened again."""
    d, db = Dir(), newdb()
    syn = {"addr": A, "ports": [P(22), P(80)], "extra": [("closed", 998)]}
    imp(db, d.scan("s1", D(1), [syn]))
    imp(db, d.scan("s2", D(2), [{"addr": A, "extra": [("unfiltered", 1000)]}],
                   args="nmap -sA -oX - x"))
    imp(db, d.scan("s3", D(3), [syn]))
    eq(kinds(history(db, A)), [("host_up", None)], "an ACK scan in between changes nothing")
    h = host(db, A)
    eq(port_of(h, 22)["state"], "open", "22 still open")


@t.case
def ipv6_history():
    """IPv6 hosts: events, `history` with a non-canonical address, --net."""
    d, db = Dir(), newdb()
    a6 = "2001:db8::1"
    imp(db, d.scan("s1", D(1), [{"addr": a6, "ports": [P(22)], "extra": [("closed", 999)]},
                                {"addr": A, "ports": [P(22)], "extra": [("closed", 999)]}]))
    imp(db, d.scan("s2", D(2), [{"addr": a6, "ports": [P(22, "filtered")],
                                 "extra": [("closed", 999)]}]))
    evs = history(db, "2001:0DB8:0:0::0001")
    eq(len(evs), 2, f"history of {a6}: {evs}")
    ev(evs[1], "port_closed", a6, port=22, old="open", new="filtered", job=2, prev=1, at=D(2),
       what="v6")
    eq(brief(changes(db, "--net", "2001:db8::/32")), brief(evs), "--net 2001:db8::/32")
    eq(brief(changes(db, "--net", "192.0.2.0/24")), [(A, "host_up", None, iso(D(1)))],
       "--net v4 leaves v6 out")
    eq([h["addr"] for h in js(db, "hosts", "--changed-since", iso(D(2)))], [a6],
       "hosts --changed-since")


# ---- out of order ---------------------------------------------------------------

B = "192.0.2.20"
C = "198.51.100.7"


def ooo_files(d):
    """Six scans of three hosts, exercising every rule, in time order."""
    ssh1 = probed("ssh", "OpenSSH", "8.9p1")
    ssh2 = probed("ssh", "OpenSSH", "9.2p1")

    def a(ports, extra, **kw):
        h = {"addr": A, "ports": ports, "extra": extra, "os": kw.pop("os", "Linux 5.X"),
             "mac": kw.pop("mac", "00:11:22:33:44:55"),
             "names": kw.pop("names", [("a.example.test", "PTR")])}
        h.update(kw)
        return h

    return [
        d.scan("o1", D(1), [
            a([P(22, service=ssh1), P(80, scripts=[("http-title", "Welcome")]), P(443),
               P(113, "closed")], [("filtered", 996)]),
            {"addr": B, "ports": [P(3389)], "extra": [("closed", 999)]},
        ]),
        d.scan("o2", D(2), [
            a([P(22, service=ssh2), P(80, scripts=[("http-title", "Login")])], [("closed", 98)]),
            {"addr": B, "status": "down"},
        ], tcp="1-100"),
        d.scan("o3", D(3), [{"addr": A, "status": "down"},
                            {"addr": C, "ports": [P(25)], "extra": [("closed", 999)]}]),
        d.scan("o4", D(4), [
            a([P(22, service=ssh2), P(80, "closed"), P(8080), P(53, proto="udp"),
               P(161, "open|filtered", proto="udp")], [("filtered", 997)],
              os="Linux 6.X", mac="66:77:88:99:AA:BB", names=[("b.example.test", "PTR")]),
            {"addr": B, "ports": [P(3389), P(22)], "extra": [("closed", 998)]},
        ], udp="53,161"),
        d.scan("o5", D(5), [
            a([P(22, service=ssh2), P(80, scripts=[("http-title", "Login")])],
              [("closed", 9997)], os="Linux 6.X", mac="66:77:88:99:AA:BB",
              names=[("b.example.test", "PTR")]),
            {"addr": C, "ports": [P(25, "filtered")], "extra": [("closed", 9999)]},
        ], tcp="1-10000"),
        d.scan("o6", D(6), [{"addr": B, "ports": [P(22)], "extra": [("closed", 9999)]}],
               tcp="1-10000"),
    ]


def normalized(db):
    """Everything history-related of a database, with jobs named by file."""
    src = {j["id"]: os.path.basename(j["source"]) for j in js(db, "jobs")}
    evs = []
    for e in changes(db):
        e = dict(e)
        del e["id"]
        e["job_id"] = src[e["job_id"]]
        e["prev_job_id"] = src.get(e["prev_job_id"])
        evs.append(e)
    # Events of one scan time: each host's in their derivation order, hosts
    # in address order (the order across hosts of one scan follows insertion,
    # which a late import's replay changes; see the report of issue 4 tests).
    check(all(evs[i]["at"] <= evs[i + 1]["at"] for i in range(len(evs) - 1)),
          "events in scan-time order")
    evs.sort(key=lambda e: (e["at"], addr_key(e["addr"])))
    hosts = js(db, "hosts")
    for h in hosts:
        h["job_id"] = src[h["job_id"]]
        for p in h["ports"]:
            p["state_job_id"] = src.get(p["state_job_id"])
    return evs, hosts


@t.case
def out_of_order_imports_identical_history():
    """The same files imported in time order, reversed, shuffled (one file
    per import and all in one import) give identical events (kind, address,
    port, old, new, time, job file, previous job file) and identical current
    state; events come in scan-time order."""
    d = Dir()
    files = ooo_files(d)
    dba = newdb()
    for f in files:
        imp(dba, f)
    evs, hosts = normalized(dba)
    # the in-order history, spelled out
    eq([(e["addr"], e["kind"], e["port"], e["job_id"]) for e in evs], [
        (A, "host_up", None, "o1.xml"), (B, "host_up", None, "o1.xml"),
        (A, "service_changed", 22, "o2.xml"), (A, "script_changed", 80, "o2.xml"),
        (B, "host_down", None, "o2.xml"),
        (A, "host_down", None, "o3.xml"), (C, "host_up", None, "o3.xml"),
        (A, "host_up", None, "o4.xml"), (A, "port_closed", 80, "o4.xml"),
        (A, "port_opened", 8080, "o4.xml"), (A, "port_opened", 53, "o4.xml"),
        (A, "port_closed", 443, "o4.xml"), (A, "os_changed", None, "o4.xml"),
        (A, "mac_changed", None, "o4.xml"), (A, "hostname_changed", None, "o4.xml"),
        (B, "host_up", None, "o4.xml"), (B, "port_opened", 22, "o4.xml"),
        (A, "port_opened", 80, "o5.xml"), (A, "port_closed", 8080, "o5.xml"),
        (C, "port_closed", 25, "o5.xml"),
        (B, "port_closed", 3389, "o6.xml"),
    ], "in-order events (addr, kind, port, job file)")
    byk = {(e["addr"], e["kind"], e["port"], e["job_id"]): e for e in evs}
    eq(byk[(A, "port_closed", 443, "o4.xml")]["prev_job_id"], "o1.xml",
       "443 compared with the last scan that probed it")
    eq((byk[(A, "port_closed", 443, "o4.xml")]["old"],
        byk[(A, "port_closed", 443, "o4.xml")]["new"]), ("open", "filtered"), "443 old/new")
    eq(byk[(A, "port_closed", 80, "o4.xml")]["prev_job_id"], "o2.xml", "80 vs o2")
    eq(byk[(C, "port_closed", 25, "o5.xml")]["new"], "filtered", "25 listed filtered")
    eq(byk[(B, "host_up", None, "o4.xml")]["prev_job_id"], "o2.xml", "B up vs its down scan")

    orders = {"reversed": list(reversed(files))}
    rng = random.Random(4)
    for k in range(3):
        o = files[:]
        rng.shuffle(o)
        orders[f"shuffled#{k}"] = o
    for name, order in orders.items():
        db = newdb()
        for f in order:
            imp(db, f)
        e2, h2 = normalized(db)
        eq(e2, evs, f"events, files imported {name} ({[os.path.basename(f) for f in order]})")
        eq(h2, hosts, f"current view, files imported {name}")
    # all files in one import command, reversed
    db = newdb()
    imp(db, *reversed(files))
    e2, h2 = normalized(db)
    eq(e2, evs, "events, one import of all files reversed")
    eq(h2, hosts, "current view, one import of all files reversed")


@t.case
def late_scan_rewrites_only_what_it_changes():
    """A late scan's events, and those of the later scans up to where the
    history with it meets the history without it, are derived again; the
    events before it and after that point stay as they are (same ids)."""
    d = Dir()
    open80 = [True, False, True, True, False, True]  # s1..s6
    f = [d.scan(f"w{i + 1}", D(i + 1),
                [{"addr": A, "ports": [P(22), P(80, "open" if o else "closed")],
                  "extra": [("closed", 998)]}]) for i, o in enumerate(open80)]
    other = d.scan("wb", D(7), [{"addr": B, "ports": [P(22)], "extra": [("closed", 999)]}])
    db = newdb()
    for x in f[:2] + f[3:] + [other]:  # s3 comes last, after another host's events
        imp(db, x)
    name = {job_of(db, x): os.path.basename(x) for x in f[:2] + f[3:]}
    old = {(name[e["job_id"]], e["kind"], e["port"]): e["id"] for e in history(db, A)}
    eq(sorted(old), [("w1.xml", "host_up", None), ("w2.xml", "port_closed", 80),
                     ("w4.xml", "port_opened", 80), ("w5.xml", "port_closed", 80),
                     ("w6.xml", "port_opened", 80)], "events without s3")
    imp(db, f[2])
    name[job_of(db, f[2])] = "w3.xml"
    new = {(name[e["job_id"]], e["kind"], e["port"]): e["id"] for e in history(db, A)}
    eq(sorted(new), [("w1.xml", "host_up", None), ("w2.xml", "port_closed", 80),
                     ("w3.xml", "port_opened", 80), ("w5.xml", "port_closed", 80),
                     ("w6.xml", "port_opened", 80)], "events with s3")
    for k in [("w1.xml", "host_up", None), ("w2.xml", "port_closed", 80),
              ("w5.xml", "port_closed", 80), ("w6.xml", "port_opened", 80)]:
        eq(new[k], old[k], f"event {k} untouched")
    ref = newdb()
    for x in f + [other]:
        imp(ref, x)
    e1, h1 = normalized(ref)
    e2, h2 = normalized(db)
    eq(e2, e1, "events as in time order")
    eq(h2, h1, "current view as in time order")


@t.case
def late_scan_starts_from_a_checkpoint():
    """About one scan in eight of each host keeps the host's state with it
    (host_scans.state); a late scan starts from the nearest one before it,
    gives the history of an import in time order, and keeps the states of
    the scans it derived again true for the next one.  A kept state that is
    not a valid document is an error that names it, and nothing is stored."""
    d = Dir()
    hosts = [f"10.9.{i // 250}.{i % 250 + 1}" for i in range(64)]
    files = [d.scan(f"k{k:02d}", D0 + k * 3600, [
        {"addr": h, "ports": [P(22), P(80, "open" if (k + i) % 3 else "closed"),
                              P(443 + i % 2, "open" if (k * i) % 5 else "filtered")],
         "extra": [("closed", 997)], "os": "Linux 6.X" if (k + i) % 4 else None}
        for i, h in enumerate(hosts)]) for k in range(14)]
    ref = newdb()
    import_each(ref, files, NORULES_ENV)
    evs, view = normalized(ref)
    db, bad = newdb(), newdb()
    order = files[:9] + files[10:12] + files[13:]
    for x in (db, bad):
        import_each(x, order, NORULES_ENV)
    kept = sql1(db, "SELECT count(*) FROM host_scans WHERE state IS NOT NULL")
    total = sql1(db, "SELECT count(*) FROM host_scans")
    check(total // 16 < kept < total // 4, f"{kept} of {total} scans keep a state")
    # late by a place, twice: the second starts from states the first wrote
    import_each(db, [files[12], files[9]], NORULES_ENV)
    e2, h2 = normalized(db)
    eq(e2, evs, "events, late scans starting from kept states")
    eq(h2, view, "current view, late scans starting from kept states")
    sql_script(bad, "UPDATE host_scans SET state = '{\"status\": 7}' WHERE state IS NOT NULL;")
    njobs = len(js(bad, "jobs"))
    r = run(bad, "import", files[12], env=NORULES_ENV, expect=1)
    check("host_scans.state" in r.err and "not a valid document" in r.err, r.err)
    eq(len(js(bad, "jobs")), njobs, "no job stored")


# ---- many scans, any order ---------------------------------------------------------

VULNERS_BAD = ("&#xa;  cpe:/a:openbsd:openssh:7.4: &#xa;"
               "    &#x9;CVE-2023-38408&#x9;9.8&#x9;https://vulners.com/cve/CVE-2023-38408&#xa;")
VULNERS_OK = "&#xa;  cpe:/a:openbsd:openssh:9.9: &#xa;"
MANY_HOSTS = [A, B, C, "192.0.2.30", "2001:db8::5", "198.51.100.9", "203.0.113.4"]
TCP_PORTS = [21, 22, 25, 80, 443, 3389, 8080]
SERVICES = {21: "ftp", 22: "ssh", 25: "smtp", 80: "http", 443: "https", 3389: "ms-wbt-server",
            8080: "http-proxy"}


def many_scans(d, n, seed=16, prefix="m"):
    """n scans of the same hosts an hour apart, oldest first, each host's
    ports, services, attributes and scripts drifting at random (seeded):
    ports open, closed (listed or folded into extraports), filtered, UDP's
    open|filtered, an ACK scan's unfiltered; services probed, from the port
    table or none (so a closed port keeps a probed one or not); narrower and
    UDP scopes; hosts down, unknown (a list scan) or not in a scan; OS, MAC
    and names reported or not; a script changing; a vulners output that
    comes and goes (findings)."""
    rng = random.Random(seed)
    state = {h: {p: rng.choice(["open", "closed", "closed", "filtered"]) for p in TCP_PORTS}
             for h in MANY_HOSTS}
    udp = {h: rng.choice(["open", "open|filtered"]) for h in MANY_HOSTS}
    files = []
    for k in range(n):
        tcp_scope = rng.choice(["1-10000"] * 6 + ["1-100", "20-30,80", None])
        udp_scope = rng.choice([None, None, "53,161"]) if tcp_scope else "53,161"
        ack = tcp_scope is not None and rng.random() < 0.05
        hosts = []
        for h in MANY_HOSTS:
            st = state[h]
            for p in TCP_PORTS:
                if rng.random() < 0.15:
                    st[p] = rng.choice(["open", "closed", "filtered"])
            if rng.random() < 0.3:
                udp[h] = rng.choice(["open", "open|filtered", "closed"])
            r = rng.random()
            if r < 0.08:
                continue
            if r < 0.16:
                hosts.append({"addr": h, "status": "down"})
                continue
            if r < 0.19:
                hosts.append({"addr": h, "status": "unknown"})
                continue
            ports = []
            for p in TCP_PORTS:
                s = "unfiltered" if ack and st[p] != "filtered" else st[p]
                if s == "closed" and rng.random() < 0.6:
                    continue  # folded into extraports
                svc = None
                if s == "open":
                    svc = rng.choice([probed(SERVICES[p], "Prod", rng.choice(["1.0", "2.0"])),
                                      probed(SERVICES[p], "Prod", "1.0"),
                                      table(SERVICES[p]), None])
                elif rng.random() < 0.5:
                    svc = table(SERVICES[p])
                scripts = []
                if p == 80 and s == "open" and rng.random() < 0.7:
                    scripts = [("http-title", rng.choice(["Welcome", "Login"]))]
                if p == 22 and s == "open" and h in (A, B) and rng.random() < 0.8:
                    scripts = [("vulners", rng.choice([VULNERS_BAD, VULNERS_OK]))]
                ports.append(P(p, s, service=svc, scripts=scripts))
            if udp_scope:
                ports.append(P(53, udp[h], proto="udp", reason="udp-response"))
            host = {"addr": h, "ports": ports,
                    "extra": [(rng.choice(["closed", "closed", "filtered"]), 9990)]}
            if rng.random() < 0.6:
                host["os"] = rng.choice(["Linux 5.X", "Linux 6.X"])
            if ":" not in h and rng.random() < 0.5:
                host["mac"] = rng.choice(["00:11:22:33:44:55", "66:77:88:99:AA:BB"])
            if rng.random() < 0.6:
                host["names"] = [(rng.choice(["a.example.test", "b.example.test"]), "PTR")]
            if rng.random() < 0.3:
                host["hostscripts"] = [("clock-skew", rng.choice(["0s", "-1s"]))]
            hosts.append(host)
        files.append(d.scan(f"{prefix}{k:03d}", D0 + k * 3600, hosts, tcp=tcp_scope,
                            udp=udp_scope))
    return files


RULES_TEXT = ('port_opened 8080/tcp,53/udp medium "proxy or DNS opened"\n'
              'host_down * low "host went down"\n')


def rules_env(d):
    return {"SCANDB_RULES": write(os.path.join(d.d, "rules.conf"), RULES_TEXT)}


def lifecycle(db, env):
    """Each finding's status, times, jobs and history, jobs named by file."""
    src = {j["id"]: os.path.basename(j["source"]) for j in js(db, "jobs")}
    out = {}
    for f in run(db, "findings", "--format", "json", env=env, expect=0).json():
        out[f["fingerprint"]] = (
            f["status"], f["first_seen"], f["last_seen"], sorted(src[j] for j in f["jobs"]),
            [(h["at"], src.get(h["job"]), h["old_status"], h["new_status"],
              h["note"] and h["note"].split(" by job ")[0]) for h in f["history"]])
    return out


NORULES_ENV = {"SCANDB_RULES": ""}


def import_each(db, files, env):
    for f in files:
        run(db, "import", f, env=env, expect=0)


@t.case
def out_of_order_100_scans_identical_history():
    """100 scans of seven hosts, everything drifting (many_scans), imported
    one file per import in time order, newest first and shuffled, and all
    in one command: the same events, current state and findings lifecycle
    (rules on events included) in every order."""
    d = Dir()
    files = many_scans(d, 100)
    env = rules_env(d)
    ref = newdb()
    import_each(ref, files, env)
    evs, hosts = normalized(ref)
    life = lifecycle(ref, env)
    check(len(evs) > 300, f"the scans derive many events: {len(evs)}")
    check(len(life) >= 3, f"findings from vulners and rules: {sorted(life)}")
    check(any(len(v[4]) >= 3 for v in life.values()),
          "a finding resolved and reopened: " + repr([v[4] for v in life.values()]))
    rng = random.Random(100)
    shuffled = files[:]
    rng.shuffle(shuffled)
    for name, order in (("newest first", list(reversed(files))), ("shuffled", shuffled)):
        db = newdb()
        import_each(db, order, env)
        e2, h2 = normalized(db)
        eq(e2, evs, f"events, 100 files imported {name}")
        eq(h2, hosts, f"current view, 100 files imported {name}")
        eq(lifecycle(db, env), life, f"findings, 100 files imported {name}")
    db = newdb()
    run(db, "import", *reversed(files), env=env, expect=0)
    e2, h2 = normalized(db)
    eq(e2, evs, "events, one import command of the 100 files newest first")
    eq(h2, hosts, "current view, one import command of the 100 files newest first")
    eq(lifecycle(db, env), life, "findings, one import command")


@t.case
def concurrent_importers_identical_history():
    """20 importers at once (their commits land in any order; on
    PostgreSQL each waits for the write lock), then 10 more while two older
    files come in: the events, current state and findings of an import in
    time order."""
    d = Dir()
    files = many_scans(d, 32, seed=61, prefix="c")
    env = rules_env(d)
    ref = newdb()
    import_each(ref, files, env)
    evs, hosts = normalized(ref)
    life = lifecycle(ref, env)
    db = newdb()
    run(db, "migrate", "up", expect=0)
    e = dict(os.environ, **env)
    for batch in (files[6:26], files[26:] + files[:6]):
        procs = [subprocess.Popen([SCANDB_BIN, "--db", db, "-q", "import", f], env=e,
                                  stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
                 for f in batch]
        for p in procs:
            out, err = p.communicate(timeout=300)
            eq(p.returncode, 0, f"a concurrent importer: {err}")
    e2, h2 = normalized(db)
    eq(e2, evs, "events, concurrent importers")
    eq(h2, hosts, "current view, concurrent importers")
    eq(lifecycle(db, env), life, "findings, concurrent importers")


@t.case
def one_import_stores_files_in_scan_time_order():
    """`import FILE...` reads each file's start time first and stores the
    files oldest scan first, files without a start time before them; a file
    whose time cannot be read keeps its place (and fails as it would);
    standard input comes last.  The results are listed in that order, and
    the history is the one of importing the files one by one in time order."""
    d = Dir()
    files = ooo_files(d)
    undated = write(os.path.join(d.d, "undated.xml"), re.sub(
        r' start="\d+"', "", xml_scan(D(0), [{"addr": C, "ports": [P(25)],
                                              "extra": [("closed", 999)]}])))
    missing = os.path.join(d.d, "missing.xml")
    with open(files[0], encoding="utf-8") as f:
        stdin = f.read()
    rest = files[1:]
    given = [rest[4], missing, "-", rest[1], undated, rest[0], rest[3], rest[2]]
    db = newdb()
    r = run(db, "import", *given, "--format", "json", input=stdin, expect=1)
    names = [os.path.basename(x["file"]) if x["file"] != "-" else "-" for x in r.json()]
    eq(names, ["undated.xml", "missing.xml", "o2.xml", "o3.xml", "o4.xml", "o5.xml",
               "o6.xml", "-"], "results in import order")
    eq([x["status"] for x in r.json()], ["imported", "failed"] + ["imported"] * 6, "statuses")
    jobs = {os.path.basename(j["source"]): j["id"] for j in js(db, "jobs")}
    eq(sorted(jobs, key=jobs.get), ["undated.xml", "o2.xml", "o3.xml", "o4.xml", "o5.xml",
                                    "o6.xml", "<stdin>"], "jobs made in scan-time order")
    tab = run(db, "import", "--force", rest[2], rest[0], rest[1], expect=0).out.splitlines()
    eq([ln.split(":")[0] for ln in tab], [rest[0], rest[1], rest[2]], "table lines in order")
    # the same history as the files imported one by one, oldest first
    ref = newdb()
    for f in [undated] + files:
        imp(ref, f)
    db2 = newdb()
    run(db2, "import", *given, input=stdin, expect=1)
    e1, h1 = normalized(ref)
    e2, h2 = normalized(db2)
    for e in e2:
        for k in ("job_id", "prev_job_id"):
            e[k] = "o1.xml" if e[k] == "<stdin>" else e[k]
    for h in h2:
        h["job_id"] = "o1.xml" if h["job_id"] == "<stdin>" else h["job_id"]
        for p in h["ports"]:
            p["state_job_id"] = "o1.xml" if p["state_job_id"] == "<stdin>" else p["state_job_id"]
    eq(e2, e1, "events of one import command")
    eq(h2, h1, "current view of one import command")


@t.case
def older_file_keeps_reported_attributes():
    """Scan s1 reports OS/MAC/names, s2 does not, s3 reports new ones.  In
    time order s3 is compared with s1 (os/mac/hostname_changed).  Importing
    s2, then s1 (late), then s3 must give the same events."""
    d = Dir()
    f1 = d.scan("s1", D(1), [{"addr": A, "os": "Linux 5.X", "mac": "00:11:22:33:44:55",
                              "names": [("a.example.test", "PTR")], "ports": [P(22)],
                              "extra": [("closed", 999)]}])
    f2 = d.scan("s2", D(2), [{"addr": A, "ports": [P(22)], "extra": [("closed", 999)]}])
    f3 = d.scan("s3", D(3), [{"addr": A, "os": "Microsoft Windows 11",
                              "mac": "66:77:88:99:AA:BB", "names": [("c.example.test", "PTR")],
                              "ports": [P(22)], "extra": [("closed", 999)]}])
    dba, dbb = newdb(), newdb()
    for f in (f1, f2, f3):
        imp(dba, f)
    for f in (f2, f1, f3):
        imp(dbb, f)
    ea, _ = normalized(dba)
    eq([e["kind"] for e in ea], ["host_up", "os_changed", "mac_changed", "hostname_changed"],
       "in time order")
    eb, _ = normalized(dbb)
    eq(eb, ea, "s2, s1, s3 imported in that order")


# ---- commands -------------------------------------------------------------------

NOW = int(time.time())
T_OLD, T_MID, T_NEW = NOW - 10 * 86400, NOW - 3 * 86400, NOW - 3600


def command_db():
    """Three scans (10 days, 3 days, 1 hour ago) of 10.1.0.1, 10.1.0.2,
    10.2.0.1 and a host new in the last one."""
    d, db = Dir(), newdb()
    imp(db, d.scan("c1", T_OLD, [
        {"addr": "10.1.0.1", "ports": [P(22)], "extra": [("closed", 999)]},
        {"addr": "10.1.0.2", "ports": [P(80)], "extra": [("closed", 999)]},
        {"addr": "10.2.0.1", "ports": [P(443, scripts=[("ssl-cert", "CN=a, O=x")])],
         "extra": [("closed", 999)]},
    ]))
    imp(db, d.scan("c2", T_MID, [
        {"addr": "10.1.0.1", "ports": [P(22, "closed"), P(23)], "extra": [("closed", 998)]},
        {"addr": "10.1.0.2", "status": "down"},
        {"addr": "10.2.0.1", "ports": [P(443, scripts=[("ssl-cert", 'CN=b, "quoted"')])],
         "extra": [("closed", 999)]},
    ]))
    imp(db, d.scan("c3", T_NEW, [
        {"addr": "10.2.0.1", "ports": [P(443, "closed")], "extra": [("closed", 999)]},
        {"addr": "10.3.0.1", "ports": [P(22)], "extra": [("closed", 999)]},
    ]))
    return db


CMD_EVENTS = [  # (addr, kind, port, at)
    ("10.1.0.1", "host_up", None, T_OLD), ("10.1.0.2", "host_up", None, T_OLD),
    ("10.2.0.1", "host_up", None, T_OLD),
    ("10.1.0.1", "port_closed", 22, T_MID), ("10.1.0.1", "port_opened", 23, T_MID),
    ("10.1.0.2", "host_down", None, T_MID), ("10.2.0.1", "script_changed", 443, T_MID),
    ("10.2.0.1", "port_closed", 443, T_NEW), ("10.3.0.1", "host_up", None, T_NEW),
]


def brief(evs):
    return [(e["addr"], e["kind"], e["port"], e["at"]) for e in evs]


def want(pred):
    return [(a, k, p, iso(at)) for a, k, p, at in CMD_EVENTS if pred(a, k, p, at)]


@t.case
def changes_all_and_since():
    db = command_db()
    evs = changes(db)
    eq(brief(evs), want(lambda *_: True), "changes (all)")
    ev(evs[6], "script_changed", "10.2.0.1", port=443, script="ssl-cert", old="CN=a, O=x",
       new='CN=b, "quoted"', job=2, prev=1, at=T_MID, what="script_changed")
    ev(evs[7], "port_closed", "10.2.0.1", port=443, old="open", new="closed", job=3, prev=2,
       at=T_NEW, what="443 closed")
    # durations
    eq(brief(changes(db, "--since", "7d")), want(lambda a, k, p, at: at >= T_MID), "--since 7d")
    eq(brief(changes(db, "--since", "2w")), want(lambda *_: True), "--since 2w")
    eq(brief(changes(db, "--since", "2h")), want(lambda a, k, p, at: at == T_NEW), "--since 2h")
    eq(brief(changes(db, "--since", "90m")), want(lambda a, k, p, at: at == T_NEW),
       "--since 90m")
    eq(changes(db, "--since", "30m"), [], "--since 30m")
    # dates, and the exact boundary (events at >= WHEN)
    eq(brief(changes(db, "--since", iso(T_MID))), want(lambda a, k, p, at: at >= T_MID),
       "--since exact time of the middle scan")
    eq(brief(changes(db, "--since", iso(T_MID)[:-1])), want(lambda a, k, p, at: at >= T_MID),
       "--since without Z")
    eq(brief(changes(db, "--since", iso(T_MID + 1))), want(lambda a, k, p, at: at == T_NEW),
       "--since one second after the middle scan")
    day = iso(T_MID)[:10]
    eq(brief(changes(db, "--since", day)), want(lambda a, k, p, at: at >= T_MID),
       f"--since {day} (a date)")
    eq(brief(changes(db, "--since", "1970-01-01")), want(lambda *_: True), "--since 1970")
    for bad in ("yesterday", "7x", "2026-13-45", ""):
        r = run(db, "changes", "--since", bad)
        eq(r.code, 2, f"--since {bad!r} is a usage error: {r!r}")


@t.case
def changes_kind_host_net():
    db = command_db()
    eq(brief(changes(db, "--kind", "port_closed")),
       want(lambda a, k, p, at: k == "port_closed"), "--kind port_closed")
    eq(brief(changes(db, "--kind", "host_down,port_opened")),
       want(lambda a, k, p, at: k in ("host_down", "port_opened")), "--kind list")
    for bad in ("port_open", "host_up,nope", "", "HOST_UP"):
        r = run(db, "changes", "--kind", bad)
        eq(r.code, 2, f"--kind {bad!r}: {r!r}")
        eq(r.out, "", f"--kind {bad!r}: nothing on stdout")
    eq(brief(changes(db, "--host", "10.1.0.1")), want(lambda a, k, p, at: a == "10.1.0.1"),
       "--host")
    eq(brief(changes(db, "--host", "10.1.0.1", "--since", "7d")),
       want(lambda a, k, p, at: a == "10.1.0.1" and at >= T_MID), "--host --since")
    eq(changes(db, "--host", "10.9.9.9"), [], "--host unknown")
    eq(brief(changes(db, "--net", "10.1.0.0/16")),
       want(lambda a, k, p, at: a.startswith("10.1.")), "--net 10.1.0.0/16")
    eq(brief(changes(db, "--net", "10.0.0.0/8", "--kind", "host_up", "--since", "7d")),
       want(lambda a, k, p, at: k == "host_up" and at >= T_MID), "--net --kind --since")
    eq(brief(changes(db, "--net", "10.2.0.1")), want(lambda a, k, p, at: a == "10.2.0.1"),
       "--net one address")
    eq(brief(changes(db, "--host", "10.1.0.1", "--kind", "port_opened")),
       want(lambda a, k, p, at: a == "10.1.0.1" and k == "port_opened"), "--host --kind")
    for args in (["--host", "not-an-ip"], ["--net", "10.0.0.0/33"], ["--bogus"], ["extra"]):
        r = run(db, "changes", *args)
        eq(r.code, 2, f"changes {args}: {r!r}")


@t.case
def changes_host_outside_net():
    """--host and --net together select the host's events only when it is in
    the block (`hosts` with an address outside --net lists nothing)."""
    db = command_db()
    eq(changes(db, "--host", "10.1.0.1", "--net", "10.2.0.0/16"), [],
       "--host 10.1.0.1 --net 10.2.0.0/16")


@t.case
def changes_formats():
    db = command_db()
    evs = changes(db)
    # ndjson: one object per line, the same objects
    r = run(db, "changes", "--format", "ndjson", expect=0)
    eq([json.loads(ln) for ln in r.out.splitlines() if ln.strip()], evs, "ndjson == json")
    # csv: header and one row per event; quoting survives commas and quotes
    r = run(db, "changes", "--format", "csv", expect=0)
    rows = list(csv.reader(io.StringIO(r.out)))
    eq(rows[0], ["at", "addr", "kind", "protocol", "port", "script", "old", "new", "job_id",
                 "prev_job_id"], "csv header")
    eq(len(rows) - 1, len(evs), "csv rows")
    for row, e in zip(rows[1:], evs):
        eq(row, [e["at"], e["addr"], e["kind"], e["protocol"] or "",
                 "" if e["port"] is None else str(e["port"]), e["script"] or "",
                 e["old"] or "", e["new"] or "", str(e["job_id"]),
                 "" if e["prev_job_id"] is None else str(e["prev_job_id"])], "csv row")
    # table
    r = run(db, "changes", expect=0)
    lines = r.out.splitlines()
    for col in ("WHEN", "ADDRESS", "EVENT", "PORT", "OLD", "NEW", "JOB"):
        check(col in lines[0], f"table header has {col}: {lines[0]!r}")
    eq(len(lines), 1 + len(evs), f"table lines:\n{r.out}")
    closed = [ln for ln in lines if "port_closed" in ln and "443/tcp" in ln]
    eq(len(closed), 1, f"the 443 port_closed row:\n{r.out}")
    for cell in (iso(T_NEW), "10.2.0.1", "open", "closed", "3 (vs 2)"):
        check(cell in closed[0], f"{cell!r} in {closed[0]!r}")
    check(any("script_changed ssl-cert" in ln for ln in lines), f"script id in table:\n{r.out}")
    # nothing matches: table says so on stderr, exit 0; json is []
    r = run(db, "changes", "--since", "1m", expect=0)
    eq(r.out, "", "empty table")
    check("no changes match" in r.err, f"stderr: {r.err!r}")
    eq(changes(db, "--since", "1m"), [], "empty json")
    eq(run(db, "changes", "--since", "1m", "--format", "ndjson", expect=0).out, "",
       "empty ndjson")
    r = run(db, "changes", "--format", "xml")
    eq(r.code, 2, f"--format xml: {r!r}")


@t.case
def history_command():
    db = command_db()
    evs = history(db, "10.2.0.1")
    eq(brief(evs), want(lambda a, k, p, at: a == "10.2.0.1"), "history 10.2.0.1")
    eq(evs, changes(db, "--host", "10.2.0.1"), "history == changes --host")
    eq(brief(history(db, "10.2.0.1", "--since", "2h")),
       want(lambda a, k, p, at: a == "10.2.0.1" and at == T_NEW), "history --since")
    r = run(db, "history", "10.9.9.9", "--format", "json", expect=1)
    eq((r.out, r.err), ("", "scandb: no host 10.9.9.9 in the database\n"),
       "history of an unknown host: an error, as `host` says")
    r = run(db, "history", "10.1.0.1", expect=0)
    eq(len(r.out.splitlines()), 4, f"history table:\n{r.out}")
    for args in ([], ["nope"], ["10.1.0.1", "10.1.0.2"], ["10.1.0.1", "--kind", "host_up"]):
        r = run(db, "history", *args)
        eq(r.code, 2, f"history {args}: {r!r}")
    eq(run(db, "changes", "--help", expect=0).code, 0, "changes --help")
    eq(run(db, "history", "--help", expect=0).code, 0, "history --help")


@t.case
def hosts_changed_since_new_since():
    db = command_db()

    def addrs(*args):
        return [h["addr"] for h in js(db, "hosts", *args)]

    eq(addrs("--changed-since", "7d"), ["10.1.0.1", "10.1.0.2", "10.2.0.1", "10.3.0.1"],
       "--changed-since 7d")
    eq(addrs("--changed-since", "2h"), ["10.2.0.1", "10.3.0.1"], "--changed-since 2h")
    eq(addrs("--changed-since", "30m"), [], "--changed-since 30m")
    eq(addrs("--changed-since", iso(T_NEW)), ["10.2.0.1", "10.3.0.1"],
       "--changed-since exact boundary")
    eq(addrs("--new-since", "7d"), ["10.3.0.1"], "--new-since 7d")
    eq(addrs("--new-since", "30d"), ["10.1.0.1", "10.1.0.2", "10.2.0.1", "10.3.0.1"],
       "--new-since 30d")
    eq(addrs("--new-since", iso(T_NEW)), ["10.3.0.1"], "--new-since exact boundary")
    eq(addrs("--new-since", iso(T_NEW + 1)), [], "--new-since after the last")
    eq(addrs("--changed-since", "7d", "--net", "10.1.0.0/16"), ["10.1.0.1", "10.1.0.2"],
       "--changed-since with --net")
    eq(addrs("--changed-since", "7d", "--job", "2"), ["10.1.0.1", "10.1.0.2", "10.2.0.1"],
       "--changed-since in job 2's view")
    for bad in ("soon", "7yr", "2026-02-31"):
        for opt in ("--changed-since", "--new-since"):
            r = run(db, "hosts", opt, bad)
            eq(r.code, 2, f"hosts {opt} {bad}: {r!r}")


@t.case
def current_view_port_history_fields():
    """Ports of the current view carry first_seen/last_seen/closed_at and
    state_job_id; a job's view (--job, host --job) has them null."""
    db = command_db()
    h = host(db, "10.1.0.1")
    p22, p23 = port_of(h, 22), port_of(h, 23)
    eq(list(p22.keys())[-4:], ["first_seen", "last_seen", "closed_at", "state_job_id"],
       "the four history keys end each port object")
    eq(state(p22), ("closed", iso(T_OLD), iso(T_OLD), iso(T_MID), 2), "22")
    eq(state(p23), ("open", iso(T_MID), iso(T_MID), None, 2), "23")
    h = host(db, "10.1.0.2")
    eq(h["status"], "down", "10.1.0.2 status (latest scan)")
    eq(state(port_of(h, 80)), ("open", iso(T_OLD), iso(T_OLD), None, 1),
       "80 of the down host keeps its state")
    for view in (js(db, "hosts", "--job", "1"), [js(db, "host", "10.1.0.1", "--job", "1")]):
        for hh in view:
            for p in hh["ports"]:
                eq((p["first_seen"], p["last_seen"], p["closed_at"], p["state_job_id"]),
                   (None, None, None, None), f"{hh['addr']} {p['port']} in job 1's view")
    # host ADDRESS (current) has them too
    one = js(db, "host", "10.1.0.1")
    eq(state(port_of(one, 22)), ("closed", iso(T_OLD), iso(T_OLD), iso(T_MID), 2),
       "host 10.1.0.1: 22")
    # csv and table of hosts still work on the current view
    run(db, "hosts", "--format", "csv", expect=0)
    out = run(db, "hosts", "--all-states", expect=0).out
    check("22/tcp closed" in out and "23/tcp open" in out, f"hosts --all-states:\n{out}")


# ---- real nmap ------------------------------------------------------------------

LOOPBACK = "127.0.0.1"


def listener(port=0):
    """bench/loopback_scan.py's accept-and-close Listeners, on one port of
    127.0.0.1 (0: a free one); .port is the port."""
    sys.path.insert(0, os.path.join(REPO, "bench"))
    from loopback_scan import Listeners

    ls = Listeners([], None)
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.bind((LOOPBACK, port))
    s.listen(64)
    s.setblocking(False)
    ls.socks.append(s)
    ls.sel.register(s, selectors.EVENT_READ)
    ls.port = s.getsockname()[1]
    return ls


def need_nmap():
    nmap = shutil.which("nmap")
    if not nmap:
        skip_case("nmap is not installed: the real-nmap history cases cannot run")
    return nmap


def nmap_xml(nmap, kind, ports, out):
    """Real nmap (kind "-sT" or "-sA"), 127.0.0.1 only, bounded."""
    argv = [nmap, kind, "-Pn", "-n", "--host-timeout", "60s", "-p",
            ",".join(str(p) for p in ports), LOOPBACK, "-oX", out]
    p = subprocess.run(argv, capture_output=True, text=True, timeout=120)
    check(p.returncode == 0, f"{argv} exited {p.returncode}: {p.stderr}")
    eq([a.get("addr") for a in ET.parse(out).getroot().iter("address")], [LOOPBACK],
       "nmap scanned loopback only")
    return out


def wait_past(xml_path):
    """Sleep until the clock is past the end of that scan (a later scan)."""
    end = int(ET.parse(xml_path).getroot().find("runstats/finished").get("time"))
    while time.time() < end + 1.05:
        time.sleep(0.1)


def free_port():
    """A port of 127.0.0.1 nothing listens on (closed)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind((LOOPBACK, 0))
        return s.getsockname()[1]


@t.case
def real_nmap_port_closed_and_opened():
    """Listeners on 127.0.0.1 ports P1, P2 (P3 closed); scan; stop P2's
    listener, start P3's; scan again; import both: port_closed P2 (new
    "closed") and port_opened P3, and the current view agrees."""
    nmap = need_nmap()
    d = tmpdir("scandb-hist-live-")
    l1, l2, l3 = listener(), listener(), None
    try:
        p1, p2, p3 = l1.port, l2.port, free_port()
        ports = sorted([p1, p2, p3])
        f1 = nmap_xml(nmap, "-sT", ports, os.path.join(d, "live1.xml"))
        l2.close()
        l2 = None
        l3 = listener(p3)
        wait_past(f1)
        f2 = nmap_xml(nmap, "-sT", ports, os.path.join(d, "live2.xml"))
    finally:
        for ls in (l1, l2, l3):
            if ls:
                ls.close()
    states1 = {int(p.get("portid")): p.find("state").get("state")
               for p in ET.parse(f1).getroot().iter("port")}
    states2 = {int(p.get("portid")): p.find("state").get("state")
               for p in ET.parse(f2).getroot().iter("port")}
    eq(states1, {p1: "open", p2: "open", p3: "closed"}, "nmap saw scan 1")
    eq(states2, {p1: "open", p2: "closed", p3: "open"}, "nmap saw scan 2")
    t1 = int(ET.parse(f1).getroot().find("host").get("starttime"))
    t2 = int(ET.parse(f2).getroot().find("host").get("starttime"))

    for order in ((f1, f2), (f2, f1)):
        db = newdb()
        for f in order:
            imp(db, f)
        j1, j2 = job_of(db, f1), job_of(db, f2)
        evs = history(db, LOOPBACK)
        eq([(e["kind"], e["port"]) for e in evs],
           [("host_up", None)] + sorted([("port_closed", p2), ("port_opened", p3)],
                                        key=lambda k: ports.index(k[1])),
           f"events, imported {[os.path.basename(f) for f in order]}")
        ev(evs[0], "host_up", LOOPBACK, new="up", job=j1, prev=None, at=t1, what="live up")
        for e in evs[1:]:
            if e["kind"] == "port_closed":
                ev(e, "port_closed", LOOPBACK, port=p2, old="open", new="closed", job=j2,
                   prev=j1, at=t2, what="live P2")
            else:
                ev(e, "port_opened", LOOPBACK, port=p3, old="closed", new="open", job=j2,
                   prev=j1, at=t2, what="live P3")
        h = host(db, LOOPBACK)
        eq(state(port_of(h, p1)), ("open", iso(t1), iso(t2), None, j2), "P1")
        eq(state(port_of(h, p2)), ("closed", iso(t1), iso(t1), iso(t2), j2), "P2")
        eq(state(port_of(h, p3)), ("open", iso(t2), iso(t2), None, j2), "P3")



@t.case
def real_nmap_ack_scan_is_not_a_close():
    """Real nmap: -sT sees P1 open, P2 closed; -sA (raw packets: root only)
    of the same ports; -sT again.  The ACK scan cannot see open ports and
    must not produce port_closed/port_opened for P1."""
    nmap = need_nmap()
    if os.geteuid() != 0:
        skip_case("nmap -sA needs raw sockets (root)")
    d = tmpdir("scandb-hist-ack-")
    l1 = listener()
    try:
        p1, p2 = l1.port, free_port()
        ports = sorted([p1, p2])
        f1 = nmap_xml(nmap, "-sT", ports, os.path.join(d, "syn1.xml"))
        wait_past(f1)
        f2 = nmap_xml(nmap, "-sA", ports, os.path.join(d, "ack.xml"))
        wait_past(f2)
        f3 = nmap_xml(nmap, "-sT", ports, os.path.join(d, "syn2.xml"))
    finally:
        l1.close()
    root = ET.parse(f2).getroot()
    eq(root.find("scaninfo").get("type"), "ack", "the second scan is an ACK scan")
    db = newdb()
    imp(db, f1, f2, f3)
    eq(kinds(history(db, LOOPBACK)), [("host_up", None)],
       "an ACK scan between two SYN scans changes nothing")
    eq(state(port_of(host(db, LOOPBACK), p1))[0], "open", "P1 open")


if __name__ == "__main__":
    t.main()
