#!/usr/bin/python3
"""End-to-end tests of `scandb diff` against ndiff (Debian package ndiff).

The claim under test: on two nmap XML files, `scandb diff` reports the same
host/port/service/OS/script changes as ndiff.  Both tools write ndiff's
`nmapdiff` XML (--xml / --format xml); each document is reduced to a set of
facts - (host, what changed, old, new) - and the sets must be equal, as must
the exit statuses (0 same, 1 different).

ndiff 7.93 under Python 3 crashes (exit 2) on any host or port with two or
more scripts; the comparison therefore runs the installed ndiff with only
that fixed (e2e_util.run_ndiff(fixed=True)), and the stock ndiff too wherever
it does not crash.  Where scandb differs from ndiff on purpose (ndiff's bugs,
docs/DIFF.md) the fact sets are normalised for that one difference, or the
case is asserted on its own (test ndiff_divergences).

Pairs: every ordered pair of the sample files in $SCANDB_TEST_DATA; pairs
made by editing them (one change each); pairs made by running nmap twice
against listeners on 127.0.0.1 that change in between (-sV with banners,
--script=banner).  Job mode: the same files imported, `scandb diff 1 2`
gives the same output.  Errors exit 2.

Skips loudly (exit 77) if ndiff or nmap is missing.
"""
import json
import os
import re
import selectors
import shutil
import socket
import subprocess
import sys
import xml.etree.ElementTree as ET

import e2e_util
from e2e_util import (DATA, NDIFF, PG, REPO, Tests, check, data, db_exists, eq, newdb, run,
                      run_ndiff, skip, tmpdir, write)

sys.path.insert(0, os.path.join(REPO, "bench"))
from loopback_scan import Listeners  # noqa: E402

t = Tests("diff")
NMAP = shutil.which("nmap")
SAMPLES = ["simple.xml", "complex.xml", "os.xml", "single.xml", "down.xml", "empty.xml"]
NMAP_TIMEOUT = 240
LOOPBACK = "127.0.0.1"


# ---- nmapdiff XML -> facts -----------------------------------------------------

def norm(s):
    """Script output as an XML parser returns it from either tool: ndiff
    (minidom) writes newlines raw inside attributes, which parsers turn into
    spaces; scandb writes &#xa;.  Compare with whitespace controls as spaces."""
    if s is None:
        return None
    return s.replace("\r\n", " ").replace("\n", " ").replace("\r", " ").replace("\t", " ")


NO_SERVICE = (None, None, None, None, None)


def service_of(port):
    sv = port.find("service") if port is not None else None
    if sv is None:
        return NO_SERVICE
    return tuple(sv.get(k) for k in ("name", "product", "version", "extrainfo", "tunnel"))


def port_view(port):
    """(state, service, {script id: output}) of a <port>; a bare one is absent."""
    st = port.find("state")
    return (st.get("state") if st is not None else None, service_of(port),
            {s.get("id"): norm(s.get("output")) for s in port.findall("script")})


def full_host(h):
    """A whole <host> (an added or removed one) as a comparable dict."""
    v = {"addr": None, "mac": None, "status": None, "hostnames": frozenset(),
         "extraports": (), "ports": {}, "os": None, "scripts": {}}
    st = h.find("status")
    v["status"] = st.get("state") if st is not None else None
    for a in h.findall("address"):
        if a.get("addrtype") == "mac":
            v["mac"] = a.get("addr")
        else:
            v["addr"] = a.get("addr")
    v["hostnames"] = frozenset(n.get("name") for n in h.findall("hostnames/hostname"))
    v["extraports"] = tuple(sorted((e.get("state"), int(e.get("count")))
                                   for e in h.findall("ports/extraports")))
    for p in h.findall("ports/port"):
        v["ports"][(int(p.get("portid")), p.get("protocol"))] = port_view(p)
    v["os"] = tuple(m.get("name") for m in h.findall("os/osmatch")) or None
    v["scripts"] = {s.get("id"): norm(s.get("output")) for s in h.findall("hostscript/script")}
    return v


def script_facts(out, key, a, b):
    for sid in sorted(set(a) | set(b)):
        if a.get(sid) != b.get(sid):
            out.add(key + (sid, a.get(sid), b.get(sid)))


def port_facts(out, addr, spec, pa, pb):
    """Facts of one port: pa/pb are port_view()s or None (not listed)."""
    sa, va, xa = pa if pa else (None, NO_SERVICE, {})
    sb, vb, xb = pb if pb else (None, NO_SERVICE, {})
    if sa != sb:
        out.add(("state", addr, spec, sa, sb))
    if va != vb:
        out.add(("service", addr, spec, va, vb))
    script_facts(out, ("port_script", addr, spec), xa, xb)


def compare_views(out, a, b):
    """Facts between two whole hosts (used to fold ndiff's removed+added
    pair of one address, its host-name quirk, into one changed host)."""
    addr = a["addr"]
    if a["status"] != b["status"]:
        out.add(("status", addr, a["status"], b["status"]))
    if a["mac"] != b["mac"]:
        out.add(("mac", addr, a["mac"], b["mac"]))
    if a["hostnames"] != b["hostnames"]:
        out.add(("hostnames", addr, a["hostnames"] - b["hostnames"],
                 b["hostnames"] - a["hostnames"]))
    if a["extraports"] != b["extraports"]:
        out.add(("extraports", addr, a["extraports"], b["extraports"]))
    for spec in sorted(set(a["ports"]) | set(b["ports"])):
        pa, pb = a["ports"].get(spec), b["ports"].get(spec)
        if pa != pb:
            port_facts(out, addr, spec, pa, pb)
    if a["os"] != b["os"]:
        out.add(("os", addr, a["os"], b["os"]))
    script_facts(out, ("host_script", addr), a["scripts"], b["scripts"])


def freeze(v):
    return tuple(sorted((k, tuple(sorted(x.items())) if isinstance(x, dict) else x)
                        for k, x in v.items() if k != "ports")) + \
        tuple(sorted((s, (p[0], p[1], tuple(sorted(p[2].items())))) for s, p in v["ports"].items()))


def changed_host(out, h):
    """Facts of a <host> inside <hostdiff> (present in both scans)."""
    addr = None
    for a in h.findall("address"):
        if a.get("addrtype") != "mac":
            addr = a.get("addr")
    side = {"a": {}, "b": {}}
    for w in ("a", "b"):
        for el in h.findall(w):
            st = el.find("status")
            if st is not None:
                side[w]["status"] = st.get("state")
            for ad in el.findall("address"):
                if ad.get("addrtype") == "mac":
                    side[w]["mac"] = ad.get("addr")
            hs = el.find("hostscript")
            if hs is not None:
                side[w]["all_scripts"] = {s.get("id"): norm(s.get("output"))
                                          for s in hs.findall("script")}
    if "status" in side["a"] or "status" in side["b"]:
        out.add(("status", addr, side["a"].get("status"), side["b"].get("status")))
    if "mac" in side["a"] or "mac" in side["b"]:
        out.add(("mac", addr, side["a"].get("mac"), side["b"].get("mac")))
    names = h.find("hostnames")
    if names is not None:
        only_a = frozenset(n.get("name") for n in names.findall("a/hostname"))
        only_b = frozenset(n.get("name") for n in names.findall("b/hostname"))
        if only_a or only_b:
            out.add(("hostnames", addr, only_a, only_b))
    ports = h.find("ports")
    if ports is not None:
        if ports.find("a") is not None or ports.find("b") is not None:
            ea = tuple(sorted((e.get("state"), int(e.get("count")))
                              for e in ports.findall("a/extraports")))
            eb = tuple(sorted((e.get("state"), int(e.get("count")))
                              for e in ports.findall("b/extraports")))
            out.add(("extraports", addr, ea, eb))
        for pd in ports.findall("portdiff"):
            same = pd.find("port")
            if same is not None:
                spec = (int(same.get("portid")), same.get("protocol"))
                state = same.find("state").get("state")
                if same.find("a") is not None or same.find("b") is not None:
                    va = service_of(same.find("a"))
                    vb = service_of(same.find("b"))
                else:
                    va = vb = service_of(same)
                xa = {s.get("id"): norm(s.get("output")) for s in same.findall("script")}
                xb = dict(xa)
                for s in same.findall("a/script"):
                    xa[s.get("id")] = norm(s.get("output"))
                for s in same.findall("b/script"):
                    xb[s.get("id")] = norm(s.get("output"))
                port_facts(out, addr, spec, (state, va, xa), (state, vb, xb))
            else:
                pa, pb = pd.find("a/port"), pd.find("b/port")
                ref = pa if pa is not None else pb
                spec = (int(ref.get("portid")), ref.get("protocol"))
                port_facts(out, addr, spec, port_view(pa) if pa is not None else None,
                           port_view(pb) if pb is not None else None)
    os_el = h.find("os")
    if os_el is not None:
        la, lb = [], []
        for el in os_el:
            if el.tag == "osmatch":
                la.append(el.get("name"))
                lb.append(el.get("name"))
            elif el.tag in ("a", "b"):
                (la if el.tag == "a" else lb).extend(m.get("name") for m in el.findall("osmatch"))
        if la != lb:
            out.add(("os", addr, tuple(la) or None, tuple(lb) or None))
    if "all_scripts" in side["a"] or "all_scripts" in side["b"]:
        script_facts(out, ("host_script", addr), side["a"].get("all_scripts", {}),
                     side["b"].get("all_scripts", {}))
    hs = h.find("hostscript")
    if hs is not None:
        xa = {s.get("id"): norm(s.get("output")) for s in hs.findall("script")}
        xb = dict(xa)
        for s in hs.findall("a/script"):
            xa[s.get("id")] = norm(s.get("output"))
        for s in hs.findall("b/script"):
            xb[s.get("id")] = norm(s.get("output"))
        script_facts(out, ("host_script", addr), xa, xb)


def run_scripts(out, sd):
    """Facts of the run's pre-/post-scan scripts: <prescript> with changed
    scripts in <a>/<b>, or a whole <prescript> in <a>/<b> when the other
    side has none (as ndiff means to write it: its XMLWriter loses these
    wrappers, docs/DIFF.md; run_ndiff(fixed=True) mends that)."""
    for tag in ("prescript", "postscript"):
        xa, xb = {}, {}
        for el in sd.findall(tag):
            for sc in el.findall("script"):
                xa[sc.get("id")] = xb[sc.get("id")] = norm(sc.get("output"))
            for sc in el.findall("a/script"):
                xa[sc.get("id")] = norm(sc.get("output"))
            for sc in el.findall("b/script"):
                xb[sc.get("id")] = norm(sc.get("output"))
        for sc in sd.findall(f"a/{tag}/script"):
            xa[sc.get("id")] = norm(sc.get("output"))
        for sc in sd.findall(f"b/{tag}/script"):
            xb[sc.get("id")] = norm(sc.get("output"))
        script_facts(out, ("run_script", tag), xa, xb)


def facts(xml_text):
    """The set of facts an nmapdiff document states."""
    root = ET.fromstring(xml_text)
    eq(root.tag, "nmapdiff", "root element")
    eq(root.get("version"), "1", "nmapdiff version")
    sd = root.find("scandiff")
    check(sd is not None, "no <scandiff>")
    out, gone, new = set(), {}, {}
    run_scripts(out, sd)
    for hd in sd.findall("hostdiff"):
        ha, hb, hc = hd.find("a/host"), hd.find("b/host"), hd.find("host")
        if hc is not None:
            changed_host(out, hc)
        elif ha is not None:
            v = full_host(ha)
            gone[v["addr"]] = v
        elif hb is not None:
            v = full_host(hb)
            new[v["addr"]] = v
    for addr in sorted(set(gone) | set(new)):
        if addr in gone and addr in new:
            compare_views(out, gone[addr], new[addr])  # ndiff's host-name quirk
        elif addr in gone:
            out.add(("host", addr, "removed", freeze(gone[addr])))
        else:
            out.add(("host", addr, "added", freeze(new[addr])))
    return out


def show(fs):
    return "\n  ".join(repr(f) for f in sorted(fs, key=repr)) or "(none)"


# ---- comparing the two tools --------------------------------------------------

def scandb_diff(a, b, *opts, db=None, expect=None):
    r = run(db, "diff", *opts, a, b, timeout=600)
    check(r.code in (0, 1), f"scandb diff failed: {r!r}")
    if expect is not None:
        eq(r.code, expect, f"scandb diff {a} {b} exit status")
    return r


def same_substance(a, b, label, verbose=False, stock=True):
    """scandb's facts == ndiff's facts (and exit statuses) for A B."""
    opts = ["--xml"] + (["-v"] if verbose else [])
    s = scandb_diff(a, b, *opts)
    n = run_ndiff(*opts, a, b, fixed=True)
    check(n.code in (0, 1), f"{label}: ndiff (fixed) failed: {n!r}")
    fs, fn = facts(s.out), facts(n.out)
    if fs != fn:
        raise AssertionError(f"{label}: facts differ\n only scandb:\n  {show(fs - fn)}\n"
                             f" only ndiff:\n  {show(fn - fs)}")
    if not verbose:
        # (ndiff -v counts unchanged scripts as changes: docs/DIFF.md; the
        # run's pre-/post-scan scripts never count, in either tool)
        eq(s.code, n.code, f"{label}: exit status (scandb vs ndiff)")
        eq(s.code, 1 if any(f[0] != "run_script" for f in fs) else 0,
           f"{label}: exit status vs facts")
    if stock and not any(f[0] == "run_script" for f in fs):
        k = run_ndiff(*opts, a, b)
        if k.code in (0, 1):
            eq(facts(k.out), fs, f"{label}: facts of the stock ndiff")
        else:
            check("TypeError" in k.err, f"{label}: stock ndiff failed unexpectedly: {k!r}")
    return fs


# ---- sample files and edits of them -------------------------------------------

@t.case
def sample_pairs():
    """Every ordered pair of the sample files, plain and -v."""
    total = 0
    for a in SAMPLES:
        for b in SAMPLES:
            fs = same_substance(data(a), data(b), f"{a} {b}")
            same_substance(data(a), data(b), f"-v {a} {b}", verbose=True)
            total += len(fs)
    check(total > 50, f"the sample pairs state only {total} facts")


def read(name):
    with open(data(name), encoding="utf-8") as f:
        return f.read()


def edit(text, old, new, count=1):
    check(old in text, f"edit: {old!r} not in the file")
    return text.replace(old, new, count)


def variants():
    """(name, text, fact kinds it must produce) - one change each."""
    c = read("complex.xml")
    s = read("simple.xml")
    host_start = '<host starttime="1247269633" endtime="1247269755">'
    second_host = (
        '<host starttime="1247269633" endtime="1247269755"><status state="up" reason="echo-reply"/>\n'
        '<address addr="2001:db8::1" addrtype="ipv6" />\n'
        '<ports><port protocol="tcp" portid="443"><state state="open" reason="syn-ack"/>'
        '<service name="https" method="table" conf="3" /></port></ports>\n</host>\n')
    return [
        ("port_closed", edit(c, '<port protocol="tcp" portid="22"><state state="open" reason="syn-ack"',
                             '<port protocol="tcp" portid="22"><state state="closed" reason="reset"'),
         {"state"}),
        ("version", edit(c, 'product="OpenSSH" version="4.3"', 'product="OpenSSH" version="4.4"'),
         {"service"}),
        ("extrainfo", edit(c, 'extrainfo="(Fedora)"', 'extrainfo="(Red Hat)"'), {"service"}),
        ("service_name", edit(c, '<service name="domain" product="ISC BIND" version="9.3.4" method="probed" conf="10" /></port>\n<port protocol="tcp" portid="70">',
                              '<service name="dns" product="ISC BIND" version="9.3.4" method="probed" conf="10" /></port>\n<port protocol="tcp" portid="70">'),
         {"service"}),
        ("port_script", edit(c, "Go ahead and ScanMe!", "Changed title"), {"port_script"}),
        ("port_script_added", edit(c, '<script id="html-title" output="Go ahead and ScanMe!" />',
                                   '<script id="html-title" output="Go ahead and ScanMe!" />'
                                   '<script id="http-methods" output="GET HEAD POST" />'),
         {"port_script"}),
        ("host_script", edit(c, "orgname: Titan Networks", "orgname: Other Networks"),
         {"host_script"}),
        ("host_script_added", edit(c, '<hostscript><script id="whois"',
                                   '<hostscript><script id="zz-new" output="x&#xa;y"/><script id="whois"'),
         {"host_script"}),
        ("os", edit(c, 'osmatch name="Linux 2.6.9 - 2.6.24"', 'osmatch name="Linux 2.6.32"'), {"os"}),
        ("os_second_match", edit(c, '<osmatch name="Linux 2.6.9 - 2.6.24" accuracy="100" line="21905" />',
                                 '<osmatch name="Linux 2.6.9 - 2.6.24" accuracy="100" line="21905" />'
                                 '<osmatch name="Linux 2.6.32" accuracy="95" line="22000" />'), {"os"}),
        ("prescript", edit(c, '<verbose level="0" />',
                           '<verbose level="0" /><prescript><script id="broadcast-ping" '
                           'output="&#xa;  IP: 10.0.0.9&#xa;  IP: 10.0.0.8"/></prescript>'),
         {"run_script"}),
        ("postscript", edit(c, '<runstats>', '<postscript><script id="reverse-index" '
                            'output="&#xa;  22/tcp: 64.13.134.52"/><script id="ssh-hostkey" '
                            'output="x"/></postscript><runstats>'), {"run_script"}),
        ("mac", edit(c, '<address addr="64.13.134.52" addrtype="ipv4" />',
                     '<address addr="64.13.134.52" addrtype="ipv4" />'
                     '<address addr="00:11:22:AA:BB:CC" addrtype="mac" vendor="Acme" />'), {"mac"}),
        ("status", edit(c, '<status state="up" reason="echo-reply"/>',
                        '<status state="down" reason="no-response"/>'), {"status"}),
        ("extraports", edit(c, 'count="95">', 'count="94">'), {"extraports"}),
        ("port_gone", edit(c, '<port protocol="udp" portid="53">', '<port protocol="udp" portid="54">'),
         {"state", "service", "port_script"}),
        ("second_name", edit(c, '<hostname name="scanme.nmap.org" type="PTR" />',
                             '<hostname name="scanme.nmap.org" type="PTR" /><hostname name="www.scanme.test" type="user" />'),
         {"hostnames"}),
        ("new_name", edit(s, 'name="scanme.nmap.org"', 'name="other.nmap.org"'), {"hostnames"}),
        ("ipv6_host", edit(c, host_start, second_host + host_start), {"host"}),
    ]


@t.case
def edited_pairs():
    """One change at a time, both directions: the right kind of fact, and
    the same facts as ndiff."""
    d = tmpdir()
    for name, text, kinds in variants():
        p = write(os.path.join(d, name + ".xml"), text)
        base = data("simple.xml") if name == "new_name" else data("complex.xml")
        for a, b in ((base, p), (p, base)):
            fs = same_substance(a, b, f"{name}: {os.path.basename(a)} {os.path.basename(b)}")
            got = {f[0] for f in fs}
            eq(got, kinds, f"{name}: kinds of change found")


# ---- where scandb differs from ndiff on purpose ---------------------------------

@t.case
def ndiff_divergences():
    """docs/DIFF.md "ndiff bugs": scandb's side is asserted; ndiff's side
    is checked and reported (a fixed ndiff is not a failure of ours)."""
    d = tmpdir()
    c = read("complex.xml")
    cx = data("complex.xml")
    notes = []

    def note(ok, what):
        if not ok:
            notes.append(what)

    # 1. two scripts on one host: stock ndiff crashes
    two = write(os.path.join(d, "two.xml"), edit(c, '<hostscript><script id="whois"',
                                                 '<hostscript><script id="aa" output="x"/><script id="whois"'))
    r = scandb_diff(cx, two, expect=1)
    check("+|_ aa: x" in r.out, f"two scripts: text shows the new script: {r.out}")
    k = run_ndiff(cx, two)
    note(k.code == 2 and "TypeError" in k.err, "ndiff no longer crashes on two scripts")

    # 2. only a port script changed: ndiff's text output crashes
    title = write(os.path.join(d, "title.xml"), edit(c, "Go ahead and ScanMe!", "Changed title"))
    r = scandb_diff(cx, title, expect=1)
    check(" 80/tcp open  http    Apache httpd 2.2.2 ((Fedora))\n"
          "-|_ html-title: Go ahead and ScanMe!\n+|_ html-title: Changed title\n" in r.out,
          f"port script change in text: {r.out}")
    k = run_ndiff(cx, title)
    note(k.code == 2 and "TypeError" in k.err, "ndiff text no longer crashes on a port script change")

    # 3. -v on identical scans with scripts: ndiff says "different"
    r = scandb_diff(cx, cx, "-v", expect=0)
    check(" Host is up." in r.out, "-v shows the unchanged host")
    k = run_ndiff("-v", cx, cx)
    note(k.code == 1, "ndiff -v no longer exits 1 on identical scans")

    # 4. a new PTR name: ndiff shows two hosts (removed + added)
    s = read("simple.xml")
    hn = write(os.path.join(d, "hn.xml"), edit(s, 'name="scanme.nmap.org"', 'name="other.nmap.org"'))
    r = scandb_diff(data("simple.xml"), hn, "--xml", expect=1)
    eq(len(ET.fromstring(r.out).findall("scandiff/hostdiff")), 1, "new name: one hostdiff")
    r = scandb_diff(data("simple.xml"), hn, expect=1)
    check("-scanme.nmap.org (64.13.134.52):\n+other.nmap.org (64.13.134.52):\n" in r.out,
          f"new name in text: {r.out}")
    check("Host is up" not in r.out and "PORT" not in r.out, f"new name: only the name: {r.out}")
    k = run_ndiff("--xml", data("simple.xml"), hn)
    note(len(ET.fromstring(k.out).findall("scandiff/hostdiff")) == 2,
         "ndiff no longer splits a renamed host in two")

    # 5. ssl tunnel appears: ndiff ignores the tunnel
    tun = write(os.path.join(d, "tunnel.xml"), edit(c, '<service name="http" product="Apache httpd"',
                                                    '<service name="http" tunnel="ssl" product="Apache httpd"'))
    r = scandb_diff(cx, tun, "--xml", expect=1)
    eq({f[0] for f in facts(r.out)}, {"service"}, "tunnel: a service change")
    r = scandb_diff(cx, tun, expect=1)
    check("-80/tcp open  http     Apache httpd 2.2.2 ((Fedora))\n"
          "+80/tcp open  ssl/http Apache httpd 2.2.2 ((Fedora))\n" in r.out, f"tunnel in text: {r.out}")
    k = run_ndiff(cx, tun)
    note(k.code == 0, "ndiff now reports a tunnel change")

    # 6. the same extraports in another order: ndiff says "different"
    ep = c.replace('<extraports state="open|filtered" count="99">\n<extrareasons reason="no-responses" count="99"/>\n</extraports>\n', "", 1)
    ep = ep.replace('</extraports>\n<port protocol="tcp" portid="22">',
                    '</extraports>\n<extraports state="open|filtered" count="99">\n'
                    '<extrareasons reason="no-responses" count="99"/>\n</extraports>\n'
                    '<port protocol="tcp" portid="22">', 1)
    check(ep != c, "extraports order: the edit applied")
    swapped = write(os.path.join(d, "swapped.xml"), ep)
    scandb_diff(cx, swapped, expect=0)
    k = run_ndiff(cx, swapped)
    note(k.code == 1, "ndiff no longer compares extraports in file order")

    # 7. newlines in script output survive scandb's XML (not ndiff's)
    r = scandb_diff(data("simple.xml"), cx, "--xml")
    outs = [s.get("output") for s in ET.fromstring(r.out).iter("script") if s.get("id") == "whois"]
    check(outs and "\nnetrange: 64.13.134.0" in outs[0], f"whois output keeps its newlines: {outs}")
    k = run_ndiff("--xml", data("simple.xml"), cx)
    outs = [s.get("output") for s in ET.fromstring(k.out).iter("script") if s.get("id") == "whois"]
    note(outs and "\n" not in outs[0], "ndiff's XML now keeps newlines in attributes")

    # 8. the run's scripts in ndiff's XML lose their <prescript>/<postscript>
    # (and <a>/<b>) element: its XMLWriter.frag() writes only the children
    pa = write(os.path.join(d, "pre-a.xml"), RUN_A)
    pb = write(os.path.join(d, "pre-b.xml"), run_b())
    r = scandb_diff(pa, pb, "--xml", expect=1)
    sd = ET.fromstring(r.out).find("scandiff")
    eq([el.tag for el in sd if el.tag != "hostdiff"], ["prescript", "a"], "scandb: run script elements")
    eq([sc.get("id") for sc in sd.findall("a/postscript/script")], ["reverse-index"],
       "scandb: the post-scan script only A has, in <a><postscript>")
    k = run_ndiff("--xml", pa, pb)
    ksd = ET.fromstring(k.out).find("scandiff") if k.code in (0, 1) else None
    note(ksd is not None and ksd.find("prescript") is None and ksd.find("a/postscript") is None,
         "ndiff's XML now keeps the <prescript>/<postscript> elements")

    for n in notes:
        print(f"NOTE: {n} (update docs/DIFF.md)", flush=True)


# ---- real scans: nmap twice against listeners on 127.0.0.1 --------------------------

def listener(banner, port=0):
    """bench's accept-and-close Listeners (its thread, banner and close) on
    one port of 127.0.0.1 (0: a free one; .port says which).  SO_REUSEADDR
    on the listening socket (and so on what it accepts), so that the port
    can be listened on again for the second scan."""
    lst = Listeners([], banner)
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.bind((LOOPBACK, port))
    s.listen(64)
    s.setblocking(False)
    lst.socks.append(s)
    lst.sel.register(s, selectors.EVENT_READ)
    lst.port = s.getsockname()[1]
    return lst


def free_port():
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind((LOOPBACK, 0))
        return s.getsockname()[1]


def nmap_scan(ports, out):
    cmd = [NMAP, "-sT", "-sV", "--version-light", "-Pn", "-n", "--script=banner",
           "-p", ",".join(str(p) for p in ports), LOOPBACK, "-oX", out]
    p = subprocess.run(cmd, capture_output=True, text=True, timeout=NMAP_TIMEOUT)
    check(p.returncode == 0 and os.path.getsize(out) > 0, f"nmap failed: {p.stderr[-2000:]}")


LIVE = {}


def live_pair():
    """Two real scans of the same ports of 127.0.0.1 (cached for the run):
    scan 1: ssh (OpenSSH 8.9), smtp, http open; one port closed.
    scan 2: ssh now OpenSSH 9.2 (version + banner script change), smtp
    stopped (closed), the closed port now answers ftp (opened), http same."""
    if LIVE:
        return LIVE["a"], LIVE["b"]
    d = tmpdir(shared=True)
    ssh1 = listener(b"SSH-2.0-OpenSSH_8.9p1 Ubuntu-3ubuntu0.1\r\n")
    smtp = listener(b"220 mail.example.test ESMTP Postfix (Ubuntu)\r\n")
    http = listener(b"HTTP/1.1 200 OK\r\nServer: nginx/1.22.1\r\nContent-Length: 0\r\n\r\n")
    later = free_port()
    ports = [ssh1.port, smtp.port, http.port, later]
    a, b = os.path.join(d, "live-a.xml"), os.path.join(d, "live-b.xml")
    up = [ssh1, smtp, http]
    try:
        nmap_scan(ports, a)
        ssh1.close()
        smtp.close()
        up = [http]
        # the same ports, changed: a newer ssh on the same port, ftp on `later`
        up.append(listener(b"SSH-2.0-OpenSSH_9.2p1 Debian-2+deb12u3\r\n", ports[0]))
        up.append(listener(b"220 (vsFTPd 3.0.3)\r\n", later))
        nmap_scan(ports, b)
    finally:
        for lst in up:
            lst.close()
    LIVE.update(a=a, b=b, ports=ports)
    return a, b


@t.case
def loopback_scans():
    """Real nmap output, changed in between: same facts as ndiff, and the
    changes made are the ones found."""
    if not NMAP:
        skip("nmap is not installed (apt-get install nmap)")
    a, b = live_pair()
    ssh, smtp, http, later = LIVE["ports"]
    for x, y in ((a, b), (b, a)):
        same_substance(x, y, f"live {os.path.basename(x)} {os.path.basename(y)}")
        same_substance(x, y, f"live -v {os.path.basename(x)} {os.path.basename(y)}", verbose=True)
    fs = facts(scandb_diff(a, b, "--xml", expect=1).out)
    kinds = {(f[0], f[2][0]) for f in fs if f[0] in ("state", "service", "port_script")}
    for k in (("service", ssh), ("port_script", ssh), ("state", smtp), ("state", later),
              ("service", later), ("port_script", later)):
        check(k in kinds, f"live: expected a {k[0]} change on port {k[1]}; facts:\n  {show(fs)}")
    check(not any(f[0] in ("state", "service", "port_script") and f[2][0] == http for f in fs),
          f"live: the http port did not change: {show(fs)}")
    # text names the versions, like ndiff
    r = scandb_diff(a, b, expect=1)
    check("OpenSSH 8.9p1" in r.out and "OpenSSH 9.2p1" in r.out, f"live text: {r.out}")


# ---- job mode -----------------------------------------------------------------------

def job_pairs():
    d = tmpdir()
    pairs = [(data("simple.xml"), data("complex.xml")), (data("complex.xml"), data("os.xml"))]
    for name, text, _ in variants():
        if name in ("version", "host_script_added", "ipv6_host", "mac", "status"):
            pairs.append((data("complex.xml"), write(os.path.join(d, name + ".xml"), text)))
    if NMAP:
        pairs.append(live_pair())
    return pairs


def strip_meta(doc):
    doc = dict(doc)
    for k in ("a", "b"):
        m = dict(doc[k])
        m.pop("job_id")
        m.pop("file")
        doc[k] = m
    return doc


@t.case
def job_mode():
    """Import both files, `scandb diff JOB_A JOB_B` == `scandb diff FILE_A
    FILE_B`: text, XML and JSON (but for where each side came from)."""
    for a, b in job_pairs():
        db = newdb()
        # one command each: one `import A B` stores them in scan-time order
        run(db, "import", a, expect=0)
        run(db, "import", b, expect=0)
        label = f"{os.path.basename(a)} {os.path.basename(b)}"
        for opts in ([], ["-v"], ["--format", "xml"], ["--format", "xml", "-v"]):
            f = scandb_diff(a, b, *opts)
            j = run(db, "diff", *opts, "1", "2")
            eq(j.code, f.code, f"{label} {opts}: exit status, jobs vs files")
            eq(j.out, f.out, f"{label} {opts}: output, jobs vs files")
        f = scandb_diff(a, b, "--format", "json").json()
        j = run(db, "diff", "--format", "json", "1", "2").json()
        eq((j["a"]["job_id"], j["b"]["job_id"], j["a"]["file"]), (1, 2, None), "job meta")
        eq(strip_meta(j), strip_meta(f), f"{label}: json, jobs vs files")
        # a job against a file works too
        m = run(db, "diff", "1", b)
        eq(m.out, scandb_diff(a, b).out, f"{label}: job 1 vs file B")
        # the reverse direction
        eq(run(db, "diff", "2", "1").out, scandb_diff(b, a).out, f"{label}: diff 2 1")


# ---- JSON ----------------------------------------------------------------------------

HOST_KEYS = ["addr", "family", "change", "changes", "status", "mac", "hostnames", "os",
             "extraports", "ports", "scripts"]
PORT_KEYS = ["protocol", "port", "change", "changes", "a", "b", "scripts"]
SIDE_KEYS = ["state", "service", "product", "version", "extrainfo", "tunnel"]
META_KEYS = ["job_id", "file", "scanner", "version", "args", "start", "end"]


@t.case
def json_document():
    """--format json: the keys and values docs/DIFF.md promises."""
    d = tmpdir()
    variant = dict((n, x) for n, x, _ in variants())
    b = write(os.path.join(d, "b.xml"), variant["ipv6_host"].replace(
        'product="OpenSSH" version="4.3"', 'product="OpenSSH" version="4.4"').replace(
        "Go ahead and ScanMe!", "New title"))
    doc = scandb_diff(data("complex.xml"), b, "--format", "json", expect=1).json()
    eq(list(doc.keys()), ["a", "b", "prescript", "hosts", "postscript", "summary", "different"],
       "top-level keys")
    eq((doc["prescript"], doc["postscript"]), ([], []), "no pre-/post-scan scripts")
    eq(list(doc["a"].keys()), META_KEYS, "a keys")
    eq(doc["a"]["file"], data("complex.xml"), "a.file")
    eq(doc["a"]["start"], "2009-07-10T23:47:13Z", "a.start")
    eq(doc["a"]["scanner"], "nmap", "a.scanner")
    eq(doc["summary"], {"added": 1, "removed": 0, "changed": 1, "unchanged": 0}, "summary")
    eq(doc["different"], True, "different")
    eq([h["addr"] for h in doc["hosts"]], ["64.13.134.52", "2001:db8::1"], "hosts in address order")
    h, n = doc["hosts"]
    eq(list(h.keys()), HOST_KEYS, "host keys")
    eq((h["change"], h["changes"]), ("changed", ["ports"]), "changed host")
    eq(h["status"], {"a": "up", "b": "up"}, "status both sides")
    eq(h["hostnames"], {"a": ["scanme.nmap.org"], "b": ["scanme.nmap.org"]}, "hostnames")
    eq(h["os"]["a"], {"name": "Linux 2.6.9 - 2.6.24", "accuracy": 100,
                      "matches": ["Linux 2.6.9 - 2.6.24"]}, "os.a")
    eq(h["extraports"]["a"], [{"state": "open|filtered", "count": 99},
                              {"state": "filtered", "count": 95}], "extraports.a (scan order)")
    eq([(p["port"], p["change"], p["changes"]) for p in h["ports"]],
       [(22, "changed", ["service"]), (80, "changed", ["scripts"])], "changed ports")
    p22, p80 = h["ports"]
    eq(list(p22.keys()), PORT_KEYS, "port keys")
    eq(list(p22["a"].keys()), SIDE_KEYS, "port side keys")
    eq((p22["a"]["version"], p22["b"]["version"]), ("4.3", "4.4"), "version a/b")
    eq(p80["scripts"], [{"id": "html-title", "a": "Go ahead and ScanMe!", "b": "New title"}],
       "port script pair")
    eq(h["scripts"], [], "no host script change")
    eq((n["change"], n["family"], n["status"], n["hostnames"], n["os"]),
       ("added", 6, {"a": None, "b": "up"}, {"a": None, "b": []}, {"a": None, "b": None}),
       "added IPv6 host")
    eq([(p["protocol"], p["port"], p["change"], p["a"], p["b"]["state"]) for p in n["ports"]],
       [("tcp", 443, "added", None, "open")], "added host's ports")
    # -v lists unchanged hosts and ports
    v = scandb_diff(data("complex.xml"), data("complex.xml"), "--format", "json", "-v",
                    expect=0).json()
    eq((v["different"], v["summary"]["unchanged"], v["hosts"][0]["change"]),
       (False, 1, "unchanged"), "-v same scans")
    check(all(p["change"] == "unchanged" for p in v["hosts"][0]["ports"]) and
          len(v["hosts"][0]["ports"]) == 6, "-v: every listed port, unchanged")
    s = scandb_diff(data("complex.xml"), data("complex.xml"), "--format", "json", expect=0).json()
    eq((s["hosts"], s["different"]), ([], False), "no -v: no hosts")


# ---- the run's scripts and whole OS match lists ---------------------------------------

RUN_A = """<?xml version="1.0"?>
<nmaprun scanner="nmap" args="nmap -O --script broadcast-ping 10.0.0.0/30" start="1700000000" version="7.93" xmloutputversion="1.05">
<prescript><script id="broadcast-ping" output="IP: 10.0.0.9&#10;IP: 10.0.0.8"/><script id="gone" output="bye"/></prescript>
<host><status state="up"/><address addr="10.0.0.1" addrtype="ipv4"/>
<ports><port protocol="tcp" portid="22"><state state="open"/><service name="ssh"/></port></ports>
<os><osmatch name="Linux 5.0 - 5.4" accuracy="98"/><osmatch name="Linux 4.15" accuracy="95"/><osmatch name="Linux 3.2" accuracy="90"/></os>
</host>
<host><status state="up"/><address addr="10.0.0.2" addrtype="ipv4"/>
<os><osmatch name="A" accuracy="98"/><osmatch name="B" accuracy="95"/></os>
</host>
<postscript><script id="reverse-index" output="&#10;  22/tcp: 10.0.0.1"/></postscript>
<runstats><finished time="1700000100" elapsed="100"/><hosts up="2" down="0" total="2"/></runstats>
</nmaprun>
"""


def run_b():
    """RUN_A one scan later: a pre-scan script changed, one gone, one new; the
    post-scan script gone; 10.0.0.1's second OS match gone and a fourth
    added (the best unchanged); 10.0.0.2 the same."""
    return (RUN_A.replace("IP: 10.0.0.8", "IP: 10.0.0.7")
            .replace('<script id="gone" output="bye"/>', '<script id="new" output="hello"/>')
            .replace('<postscript><script id="reverse-index" output="&#10;  22/tcp: 10.0.0.1"/></postscript>\n', "")
            .replace('<osmatch name="Linux 4.15" accuracy="95"/><osmatch name="Linux 3.2" accuracy="90"/>',
                     '<osmatch name="Linux 3.2" accuracy="95"/><osmatch name="Linux 2.6" accuracy="90"/>'))


@t.case
def run_scripts_and_os_lists():
    """The run's pre-/post-scan scripts and every OS match, as ndiff
    compares them: the same text as ndiff (byte for byte here), the same
    facts as the (fixed) ndiff's XML, ndiff's exit status (the run's
    scripts do not count), and the same answer from stored jobs."""
    d = tmpdir()
    a = write(os.path.join(d, "a.xml"), RUN_A)
    b = write(os.path.join(d, "b.xml"), run_b())
    pre_only = write(os.path.join(d, "pre-only.xml"), RUN_A.replace("IP: 10.0.0.8", "IP: 10.0.0.6"))
    for x, y in ((a, b), (b, a), (a, pre_only)):
        label = f"{os.path.basename(x)} {os.path.basename(y)}"
        fs = same_substance(x, y, label)
        same_substance(x, y, "-v " + label, verbose=True)
        check(any(f[0] == "run_script" for f in fs), f"{label}: run script facts {fs}")
        for opts in ([], ["-v"]):
            n, s = run_ndiff(*opts, x, y), scandb_diff(x, y, *opts)
            eq(s.out, n.out, f"{label} {opts}: text, scandb vs ndiff")
            eq(s.code, n.code, f"{label} {opts}: exit status, scandb vs ndiff")
    r = scandb_diff(a, b, expect=1)
    check(" Pre-scan script results:\n |  broadcast-ping: IP: 10.0.0.9\n-|_ IP: 10.0.0.8\n"
          "+|_ IP: 10.0.0.7\n-|_ gone: bye\n+|_ new: hello\n" in r.out, f"pre-scan text: {r.out}")
    check(" OS details:\n   Linux 5.0 - 5.4\n-  Linux 4.15\n   Linux 3.2\n+  Linux 2.6\n" in r.out,
          f"OS list text: {r.out}")
    check("\n-Post-scan script results:\n-|  reverse-index: \n-|_   22/tcp: 10.0.0.1\n" in r.out,
          f"post-scan text: {r.out}")
    check("10.0.0.2" not in r.out, "a host with the same OS list is unchanged")
    # only the run's scripts differ: shown, exit 0 (as ndiff)
    r = scandb_diff(a, pre_only, expect=0)
    check("+|_ IP: 10.0.0.6" in r.out, f"pre-scan change shown: {r.out}")
    j = scandb_diff(a, b, "--format", "json", expect=1).json()
    eq(j["prescript"], [{"id": "broadcast-ping", "a": "IP: 10.0.0.9\nIP: 10.0.0.8",
                         "b": "IP: 10.0.0.9\nIP: 10.0.0.7"},
                        {"id": "gone", "a": "bye", "b": None},
                        {"id": "new", "a": None, "b": "hello"}], "json prescript")
    eq(j["postscript"], [{"id": "reverse-index", "a": "\n  22/tcp: 10.0.0.1", "b": None}],
       "json postscript")
    eq(j["hosts"][0]["os"]["b"]["matches"], ["Linux 5.0 - 5.4", "Linux 3.2", "Linux 2.6"],
       "json OS matches")
    eq(j["hosts"][0]["changes"], ["os"], "json changes")
    # stored jobs give the same answer
    db = newdb()
    run(db, "import", a, b, pre_only, expect=0)
    for (x, y), (ja, jb) in (((a, b), ("1", "2")), ((b, a), ("2", "1")), ((a, pre_only), ("1", "3"))):
        for opts in ([], ["-v"], ["--format", "xml"], ["--format", "xml", "-v"]):
            f = scandb_diff(x, y, *opts)
            s = run(db, "diff", *opts, ja, jb)
            eq((s.code, s.out), (f.code, f.out), f"jobs {ja} {jb} {opts} vs files")
        eq(strip_meta(run(db, "diff", "--format", "json", ja, jb).json()),
           strip_meta(scandb_diff(x, y, "--format", "json").json()), f"json jobs {ja} {jb}")


# ---- text output details ------------------------------------------------------------

@t.case
def text_terminal_safety():
    """Control characters in script output (XML 1.0 allows TAB and the C1
    controls, e.g. U+009B CSI) are shown as '?' in text; XML and JSON keep
    them."""
    d = tmpdir()
    c = read("complex.xml")
    b = write(os.path.join(d, "esc.xml"), edit(c, "Go ahead and ScanMe!", "evil&#x9b;31m&#x9;x"))
    r = scandb_diff(data("complex.xml"), b, expect=1)
    check("+|_ html-title: evil?31m?x\n" in r.out and "\x9b" not in r.out, f"text: {r.out!r}")
    j = scandb_diff(data("complex.xml"), b, "--json").json()
    eq(j["hosts"][0]["ports"][0]["scripts"][0]["b"], "evil\x9b31m\tx", "json keeps the characters")
    x = scandb_diff(data("complex.xml"), b, "--xml").out
    got = [s.get("output") for s in ET.fromstring(x).iter("script") if s.get("output").startswith("evil")]
    eq(got, ["evil\x9b31m\tx"], "xml keeps the characters")


@t.case
def stdin_and_same():
    """'-' reads standard input; a scan against itself is exit 0."""
    with open(data("complex.xml"), "rb") as f:
        p = subprocess.run([os.environ.get("SCANDB", "scandb"), "diff", "-", data("single.xml")],
                           stdin=f, capture_output=True, timeout=60)
    eq(p.returncode, 1, f"stdin diff exit: {p.stderr!r}")
    eq(p.stdout.decode(), scandb_diff(data("complex.xml"), data("single.xml")).out,
       "stdin = file")
    r = scandb_diff(data("complex.xml"), data("complex.xml"), expect=0)
    eq(r.out, "", "same scan: no output")
    r = scandb_diff(data("complex.xml"), data("complex.xml"), "--xml", expect=0)
    eq(r.out, '<?xml version="1.0" encoding="utf-8"?>\n'
              '<nmapdiff version="1"><scandiff></scandiff></nmapdiff>\n', "same scan: xml")


# ---- errors ---------------------------------------------------------------------------

@t.case
def errors():
    """Bad arguments, unreadable or malformed files and unknown jobs exit 2
    with a message; files never create a database."""
    d = tmpdir()
    nodb = e2e_util.nodb()  # SQLite: d/never/created.db; PostgreSQL: an absent database
    cx = data("complex.xml")

    def fails(*args, msg, db=nodb):
        r = run(db, "diff", *args)
        eq(r.code, 2, f"diff {args}: exit status ({r!r})")
        check(re.search(msg, r.err), f"diff {args}: stderr {r.err!r} lacks /{msg}/")
        eq(r.out, "", f"diff {args}: nothing on stdout")

    fails(cx, os.path.join(d, "missing.xml"), msg=r"missing\.xml: no such file, and not a job id")
    fails("x1", cx, msg=r"x1: no such file, and not a job id")
    fails(cx, msg=r"need exactly two")
    fails(cx, cx, cx, msg=r"need exactly two")
    fails(cx, cx, "--format", "yaml", msg=r"unknown format 'yaml'")
    fails(cx, cx, "--xml", "--json", msg=r"contradictory")
    fails(cx, cx, "--bogus", msg=r"unknown option '--bogus'")
    fails("-", "-", msg=r"standard input")
    fails(d, cx, msg=r"is a directory")
    with open(cx, encoding="utf-8") as f:
        text = f.read()
    trunc = write(os.path.join(d, "trunc.xml"), text[:len(text) // 2])
    fails(cx, trunc, msg=re.escape(trunc) + r":\d+:\d+: ")
    bad = write(os.path.join(d, "bad.xml"), text.replace('portid="22"', 'portid="70000"'))
    fails(bad, cx, msg=re.escape(bad) + r":\d+:\d+: .*70000")
    unreadable = write(os.path.join(d, "unreadable.xml"), text)
    os.chmod(unreadable, 0)
    if os.geteuid() != 0:
        fails(unreadable, cx, msg=r"unreadable\.xml: Permission denied")
    check(not db_exists(nodb) and (PG or not os.path.exists(os.path.dirname(nodb))),
          "file mode created a database")
    # job ids: no database, unknown job, a job that is not completed
    fails("1", "2", msg=r"no database|does not exist")
    check(not db_exists(nodb), "a job lookup created a database")
    db = newdb()
    run(db, "import", cx, expect=0)
    fails("1", "7", db=db, msg=r"no job 7 in the database")
    fails("0", "1", db=db, msg=r"0: no such file, and not a job id")
    r = run(db, "diff", "1", "1")
    eq(r.code, 0, "job against itself")
    if NMAP:  # a scan whose nmap fails leaves a failed job: not comparable
        run(db, "scan", "--no-such-nmap-option", LOOPBACK, timeout=NMAP_TIMEOUT, expect=1)
        fails("1", "2", db=db, msg=r"job 2 is failed, not completed")
    # output that cannot be written: 2, not 1 ("different")
    if os.path.exists("/dev/full"):
        with open("/dev/full", "w") as full:
            p = subprocess.run([os.environ.get("SCANDB", "scandb"), "diff", data("simple.xml"), cx],
                               stdout=full, stderr=subprocess.PIPE, text=True, timeout=60)
        eq(p.returncode, 2, f"diff > /dev/full: exit status ({p.stderr!r})")
        check("error writing output" in p.stderr, f"diff > /dev/full: {p.stderr!r}")
    r = run(None, "diff", "--help")
    eq(r.code, 0, "--help")
    check(r.out.startswith("usage: scandb diff"), "--help prints usage")


if __name__ == "__main__":
    if not NDIFF:
        skip("ndiff is not installed (apt-get install ndiff): nothing to compare with")
    if not NMAP:
        skip("nmap is not installed (apt-get install nmap): the live pairs cannot run")
    t.main()
