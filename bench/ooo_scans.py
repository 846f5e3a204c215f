#!/usr/bin/python3
"""Scans of the same hosts an hour apart, a few ports changing, for
bench/out_of_order.sh (and tests): one base scan written by
tests/e2e/gen_nmap_xml.py, then N copies of it, scan k starting k hours
after the first, in which a few hosts (about 2%) have one listed port
turned from open to closed or back (each flip lasts a few scans), and a
few others list one port more, open, that the base scan does not list.

  ooo_scans.py --hosts 1024 --scans 20 --seed 1 OUTDIR
writes OUTDIR/scan001.xml ... (scan001 the oldest).  Deterministic.
"""
import argparse
import os
import random
import re
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tests", "e2e"))
from gen_nmap_xml import generate  # noqa: E402

HOUR = 3600
TIME_ATTRS = re.compile(r'\b(start|starttime|endtime|time)="(\d+)"')
PORT_STATE = re.compile(r'(<port protocol="tcp" portid="(\d+)"><state state=")(open|closed)(")')


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--hosts", type=int, default=1024)
    ap.add_argument("--scans", type=int, default=20)
    ap.add_argument("--ports", type=int, default=8)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--start", type=int, default=1700000000)
    ap.add_argument("outdir")
    a = ap.parse_args()
    os.makedirs(a.outdir, exist_ok=True)
    base = os.path.join(a.outdir, "base.xml")
    generate(base, hosts=a.hosts, ports=a.ports, seed=a.seed, start=a.start,
             states="open:6,closed:3,filtered:1")
    with open(base, encoding="utf-8") as f:
        text = f.read()
    os.unlink(base)
    # split into the head, one chunk per host, and the tail
    parts = re.split(r"(?=<host[ >])", text)
    head, hosts = parts[0], parts[1:]
    last = hosts[-1]
    cut = last.index("</host>") + len("</host>\n")
    hosts[-1], tail = last[:cut], last[cut:]
    rng = random.Random(a.seed)
    flips = {}  # host index -> (port, scans left)
    extra = {}  # host index -> (port, scans left)
    for k in range(a.scans):
        for _ in range(max(1, a.hosts // 50)):
            i = rng.randrange(a.hosts)
            if rng.random() < 0.7:
                ports = PORT_STATE.findall(hosts[i])
                if ports:
                    flips[i] = (rng.choice(ports)[1], rng.randint(1, 4))
            else:
                extra[i] = (str(rng.randint(40000, 40010)), rng.randint(1, 4))
        shift = k * HOUR
        out = [TIME_ATTRS.sub(lambda m: f'{m.group(1)}="{int(m.group(2)) + shift}"', head)]
        for i, h in enumerate(hosts):
            h = TIME_ATTRS.sub(lambda m: f'{m.group(1)}="{int(m.group(2)) + shift}"', h)
            if i in flips:
                port, _ = flips[i]
                h = PORT_STATE.sub(
                    lambda m: m.group(1) + ("closed" if m.group(3) == "open" else "open")
                    + m.group(4) if m.group(2) == port else m.group(0), h)
            if i in extra:
                port, _ = extra[i]
                anchor = "</extraports>\n" if "</extraports>\n" in h else "<ports>"
                h = h.replace(anchor, anchor + f'<port protocol="tcp" portid="{port}">'
                              f'<state state="open" reason="syn-ack" reason_ttl="64"/>'
                              f'<service name="unknown" method="table" conf="3"/></port>\n', 1)
            out.append(h)
        out.append(TIME_ATTRS.sub(lambda m: f'{m.group(1)}="{int(m.group(2)) + shift}"', tail))
        with open(os.path.join(a.outdir, "scan%03d.xml" % (k + 1)), "w", encoding="utf-8") as f:
            f.write("".join(out))
        for d in (flips, extra):
            for i in list(d):
                port, left = d[i]
                if left <= 1:
                    del d[i]
                else:
                    d[i] = (port, left - 1)
    return 0


if __name__ == "__main__":
    sys.exit(main())
