#!/usr/bin/python3
"""nmap XML shaped to stress scandb's memory, written as a stream (to a pipe:
no disk needed for millions of hosts).  Used by tests/e2e/test_memory.py and
bench/memory.sh.

  memory_xml.py hosts N [--start T] [--first K]   N small hosts (one open port each)
  memory_xml.py scripts N [--size B] [--hosts H] [--fill C] [--start T] [--vulnerable]
                           H hosts of N port scripts of B bytes each
  memory_xml.py ports N [--field B] [--hosts H]  H hosts of N listed ports, each
                           with service fields of B bytes
  memory_xml.py runscripts N [--size B]         N pre-scan scripts of B bytes

Addresses: host k is 10.a.b.c with k = a*65536 + b*256 + c (as gen_nmap_xml.py),
up to 16,777,216 hosts.  Output is deterministic.
"""
import argparse
import sys

HEAD = ('<?xml version="1.0" encoding="UTF-8"?>\n'
        '<nmaprun scanner="nmap" args="nmap -sS -p- 10.0.0.0/8" start="{start}" '
        'version="7.94" xmloutputversion="1.05">\n'
        '<scaninfo type="syn" protocol="tcp" numservices="65535" services="1-65535"/>\n')
TAIL = ('<runstats><finished time="{end}" elapsed="1.00" exit="success"/>'
        '<hosts up="{n}" down="0" total="{n}"/></runstats>\n</nmaprun>\n')
CHUNK = 1 << 20


def addr(k):
    return f"10.{(k >> 16) & 255}.{(k >> 8) & 255}.{k & 255}"


def host_open(k, t):
    return (f'<host starttime="{t}" endtime="{t}"><status state="up" reason="syn-ack" '
            f'reason_ttl="64"/>\n<address addr="{addr(k)}" addrtype="ipv4"/>\n<ports>')


def many_hosts(out, n, start=1700000000, first=0):
    """n hosts of one open port each; about 330 bytes a host."""
    out.write(HEAD.format(start=start))
    buf = []
    size = 0
    for k in range(first, first + n):
        h = (f'<host starttime="{start}" endtime="{start}"><status state="up" '
             f'reason="syn-ack" reason_ttl="64"/>\n<address addr="{addr(k)}" addrtype="ipv4"/>\n'
             f'<ports><extraports state="closed" count="65534"/><port protocol="tcp" '
             f'portid="{22 + k % 3}"><state state="open" reason="syn-ack" reason_ttl="64"/>'
             f'<service name="ssh" method="table" conf="3"/></port></ports>\n</host>\n')
        buf.append(h)
        size += len(h)
        if size >= CHUNK:
            out.write("".join(buf))
            buf, size = [], 0
    out.write("".join(buf))
    out.write(TAIL.format(end=start + 1, n=n))


def _filler(size, fill, seed):
    """Script output of `size` bytes in the file (an attribute value):
    lines of `fill` (a character) starting with the seed, so that outputs
    of different seeds differ on every line.  64 bytes a line in the file,
    60 once parsed ("&#xa;" is one newline)."""
    line = f"{seed:08d} " + fill * 50 + "&#xa;"
    whole, rest = divmod(size, 64)
    return line * whole + fill * rest


def parsed_size(size):
    """The length of a _filler(size) output once parsed."""
    whole, rest = divmod(size, 64)
    return whole * 60 + rest


def script_hosts(out, nscripts, size, hosts=1, start=1700000000, fill="y", seed=0,
                 vulnerable=False):
    """hosts hosts, each with nscripts port scripts of `size` bytes (saying
    "VULNERABLE:" first, a finding each, if `vulnerable`)."""
    out.write(HEAD.format(start=start))
    body = _filler(size, fill, seed)
    if vulnerable:
        body = "VULNERABLE:&#xa;" + body[16:]
    for k in range(hosts):
        out.write(host_open(k, start))
        for i in range(nscripts):
            out.write(f'<port protocol="tcp" portid="{i + 1}"><state state="open" '
                      f'reason="syn-ack"/><service name="http" method="table" conf="3"/>'
                      f'<script id="s{i}" output="')
            out.write(body)
            out.write('"/></port>\n')
        out.write("</ports>\n</host>\n")
    out.write(TAIL.format(end=start + 1, n=hosts))


def many_scripts_host(out, nports, per=4, start=1700000000):
    """One host of nports ports with `per` small scripts each, every one
    saying VULNERABLE (a finding each): 65,536 scripts at most."""
    out.write(HEAD.format(start=start))
    out.write(host_open(0, start))
    buf = []
    for p in range(1, nports + 1):
        buf.append(f'<port protocol="tcp" portid="{p}"><state state="open" reason="syn-ack"/>')
        for k in range(per):
            buf.append(f'<script id="s{k}" output="VULNERABLE: {p} {k}"/>')
        buf.append("</port>\n")
        if len(buf) >= 4096:
            out.write("".join(buf))
            buf = []
    out.write("".join(buf))
    out.write("</ports>\n</host>\n")
    out.write(TAIL.format(end=start + 1, n=1))


def port_hosts(out, nports, field=16, hosts=1, start=1700000000):
    """hosts hosts, each listing nports open ports with service fields of
    `field` bytes (a tarpit scanned with -sV)."""
    out.write(HEAD.format(start=start))
    f = "p" * field
    for k in range(hosts):
        out.write(host_open(k, start))
        buf = []
        for p in range(1, nports + 1):
            buf.append(f'<port protocol="tcp" portid="{p}"><state state="open" '
                       f'reason="syn-ack" reason_ttl="64"/><service name="tcpwrapped" '
                       f'product="{f}" version="{f}" method="probed" conf="8"/></port>\n')
            if len(buf) >= 4096:
                out.write("".join(buf))
                buf = []
        out.write("".join(buf))
        out.write("</ports>\n</host>\n")
    out.write(TAIL.format(end=start + 1, n=hosts))


def run_scripts(out, nscripts, size, start=1700000000):
    """nscripts pre-scan scripts of `size` bytes, then one host."""
    out.write(HEAD.format(start=start))
    body = _filler(size, "r", 0)
    out.write("<prescript>")
    for i in range(nscripts):
        out.write(f'<script id="pre{i}" output="')
        out.write(body)
        out.write('"/>\n')
    out.write("</prescript>\n")
    out.write(host_open(0, start) + "</ports>\n</host>\n")
    out.write(TAIL.format(end=start + 1, n=1))


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("kind", choices=("hosts", "scripts", "ports", "runscripts"))
    ap.add_argument("n", type=int)
    ap.add_argument("--size", type=int, default=4 << 20,
                    help="bytes of each script output in the file")
    ap.add_argument("--field", type=int, default=16, help="bytes per service field")
    ap.add_argument("--hosts", type=int, default=1)
    ap.add_argument("--fill", default="y", help="the character script output is made of")
    ap.add_argument("--seed", type=int, default=0, help="numbers the output lines")
    ap.add_argument("--vulnerable", action="store_true",
                    help="script outputs say VULNERABLE: (a finding each)")
    ap.add_argument("--start", type=int, default=1700000000)
    ap.add_argument("--first", type=int, default=0, help="index of the first host")
    a = ap.parse_args(argv)
    out = sys.stdout
    try:
        if a.kind == "hosts":
            many_hosts(out, a.n, a.start, a.first)
        elif a.kind == "scripts":
            script_hosts(out, a.n, a.size, a.hosts, a.start, a.fill[:1], a.seed, a.vulnerable)
        elif a.kind == "ports":
            port_hosts(out, a.n, a.field, a.hosts, a.start)
        else:
            run_scripts(out, a.n, a.size, a.start)
        out.flush()
    except BrokenPipeError:  # the reader stopped (a refused file): not our error
        sys.stderr.close()
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
