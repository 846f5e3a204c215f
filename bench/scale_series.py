#!/usr/bin/env python3
"""bench/scale_series.py - one day of a realistic daily scan series, as nmap
-sT -sV writes it (-oX), for bench/scale.sh.

Day 0 is a scan of HOSTS hosts (10.0.0.0 upward) with 10 listed TCP ports
each (about 80 % open, with product and version; the rest closed) and the
rest of ports 1-10000 folded into one <extraports> line.  Each later day is
derived from the one before: about 1 % of the listed ports flip (open <->
closed, as many each way), about 1 % of the open ports change version, and about 0.5 % of the
hosts are down that day (a different draw each day; a host down one day is
usually up the next).  So a day's file is the state of the network on that
day, and every day is reproducible on its own (the series is replayed from
day 0 with fixed seeds: cheap next to writing the file).

--seed FILE takes the shape of the documents from a real nmap -oX (bench/
scale.sh scans 127.0.0.1 for it): nmap's version and XML version, the scan
type, how nmap wrote an up host's status, an open and a closed port's
state reasons and a host's <times>; and --start puts day 0 at a chosen
time (scale.sh: so that the last day is the seed's, today).

  scale_series.py --hosts 16384 --day 7 [--seed real.xml] [--start T] -o day7.xml
"""
import argparse
import random
import sys
import xml.etree.ElementTree as ET

PORT_POOL = [
    (21, "ftp", "vsftpd", ["2.3.4", "3.0.2", "3.0.3", "3.0.5"]),
    (22, "ssh", "OpenSSH", ["7.4", "8.2p1", "8.9p1", "9.2p1", "9.6p1"]),
    (23, "telnet", "Linux telnetd", [None]),
    (25, "smtp", "Postfix smtpd", [None]),
    (53, "domain", "ISC BIND", ["9.11.4", "9.16.1", "9.18.12"]),
    (80, "http", "nginx", ["1.18.0", "1.22.1", "1.24.0", "1.25.3"]),
    (110, "pop3", "Dovecot pop3d", [None]),
    (111, "rpcbind", None, ["2-4"]),
    (139, "netbios-ssn", "Samba smbd", ["3.X - 4.X", "4.6.2"]),
    (143, "imap", "Dovecot imapd", [None]),
    (443, "https", "Apache httpd", ["2.4.41", "2.4.57", "2.4.58"]),
    (445, "microsoft-ds", "Samba smbd", ["4.6.2", "4.17.12"]),
    (993, "imaps", "Dovecot imapd", [None]),
    (1433, "ms-sql-s", "Microsoft SQL Server 2019", ["15.00.2000"]),
    (3306, "mysql", "MySQL", ["5.7.42", "8.0.35", "8.0.36"]),
    (3389, "ms-wbt-server", "xrdp", [None]),
    (5432, "postgresql", "PostgreSQL DB", ["12.17", "15.5", "16.1"]),
    (5900, "vnc", "VNC", ["protocol 3.8"]),
    (6379, "redis", "Redis key-value store", ["6.0.16", "7.2.3"]),
    (8080, "http-proxy", "Jetty", ["9.4.51", "10.0.18"]),
    (8443, "https-alt", "Tomcat", ["9.0.83", "10.1.16"]),
    (9200, "http", "Elasticsearch REST API", ["7.17.15", "8.11.1"]),
]
NPORTS = 10
START = 1700000000
DAY = 86400


def build(hosts, day):
    """The state of the network on `day`: per host a list of [pool index,
    open, version index], and the set of hosts down that day."""
    base = random.Random(20240101)
    state = []
    for _ in range(hosts):
        slots = base.sample(range(len(PORT_POOL)), NPORTS)
        slots.sort(key=lambda k: PORT_POOL[k][0])
        state.append([[k, base.random() < 0.8, base.randrange(len(PORT_POOL[k][3]))]
                      for k in slots])
    nslots = hosts * NPORTS
    down = set()
    for d in range(1, day + 1):
        rnd = random.Random(1000003 * d + hosts)
        # 1 % of the ports flip, as many closing as opening (so about 80 %
        # stay open): of 2.5 % drawn, a closed one opens, an open one
        # closes one time in four
        for s in rnd.sample(range(nslots), max(1, nslots // 40)):
            p = state[s // NPORTS][s % NPORTS]
            if not p[1] or rnd.random() < 0.25:
                p[1] = not p[1]
        for s in rnd.sample(range(nslots), max(1, nslots // 100)):
            p = state[s // NPORTS][s % NPORTS]
            if p[1]:
                nv = len(PORT_POOL[p[0]][3])
                p[2] = (p[2] + 1 + rnd.randrange(max(1, nv - 1))) % nv if nv > 1 else p[2]
        down = set(rnd.sample(range(hosts), max(1, hosts // 200)))
    return state, down


def addr(i):
    return f"10.{(i >> 16) & 255}.{(i >> 8) & 255}.{i & 255}"


def esc(s):
    return s.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;").replace('"', "&quot;")


# The document's shape when there is no --seed (nmap 7.94 -sT).
SHAPE = {"version": "7.94", "xmloutputversion": "1.05", "scantype": "connect",
         "up_reason": "conn-refused", "open_reason": "syn-ack", "closed_reason": "conn-refused",
         "times": 'srtt="50" rttvar="20" to="100000"'}


def seed_shape(path):
    """SHAPE as the real nmap output at `path` wrote it."""
    shape = dict(SHAPE)
    root = ET.parse(path).getroot()
    if root.tag != "nmaprun" or root.get("scanner") != "nmap":
        sys.exit(f"scale_series: {path}: not nmap -oX output")
    shape["version"] = root.get("version", shape["version"])
    shape["xmloutputversion"] = root.get("xmloutputversion", shape["xmloutputversion"])
    si = root.find("scaninfo")
    if si is not None and si.get("protocol") == "tcp":
        shape["scantype"] = si.get("type", shape["scantype"])
    host = root.find("host")
    if host is None:
        sys.exit(f"scale_series: {path}: no host in the seed scan")
    st = host.find("status")
    if st is not None and st.get("state") == "up":
        shape["up_reason"] = st.get("reason", shape["up_reason"])
    for port in host.iter("port"):
        ps = port.find("state")
        if ps is not None and ps.get("state") in ("open", "closed"):
            shape[ps.get("state") + "_reason"] = ps.get("reason")
    times = host.find("times")
    if times is not None:
        shape["times"] = " ".join(f'{k}="{esc(v)}"' for k, v in times.attrib.items())
    return shape


def write(out, hosts, day, shape=None, start=START):
    shape = shape or SHAPE
    state, down = build(hosts, day)
    t0 = start + day * DAY
    w = out.write
    args = "nmap -sT -sV -p 1-10000 -oX - 10.0.0.0/16"
    w('<?xml version="1.0" encoding="UTF-8"?>\n<!DOCTYPE nmaprun>\n')
    w(f'<nmaprun scanner="nmap" args="{args}" start="{t0}" version="{esc(shape["version"])}" '
      f'xmloutputversion="{esc(shape["xmloutputversion"])}">\n')
    w(f'<scaninfo type="{esc(shape["scantype"])}" protocol="tcp" numservices="10000" '
      'services="1-10000"/>\n')
    w('<verbose level="0"/>\n<debugging level="0"/>\n')
    nup = 0
    for i in range(hosts):
        st = t0 + i // 64
        a = addr(i)
        if i in down:
            w(f'<host starttime="{st}" endtime="{st}"><status state="down" '
              'reason="no-response" reason_ttl="0"/>\n'
              f'<address addr="{a}" addrtype="ipv4"/>\n<hostnames>\n</hostnames>\n'
              '<times srtt="-1" rttvar="-1" to="1000000"/>\n</host>\n')
            continue
        nup += 1
        w(f'<host starttime="{st}" endtime="{st + 9}"><status state="up" '
          f'reason="{esc(shape["up_reason"])}" reason_ttl="0"/>\n<address addr="{a}" addrtype="ipv4"/>\n<hostnames>\n'
          f'<hostname name="h{i}.example.test" type="PTR"/>\n</hostnames>\n'
          f'<ports><extraports state="closed" count="{10000 - NPORTS}">\n'
          f'<extrareasons reason="{esc(shape["closed_reason"])}" count="{10000 - NPORTS}"/>\n</extraports>\n')
        for k, is_open, vi in state[i]:
            port, name, product, versions = PORT_POOL[k]
            if is_open:
                ver = versions[vi]
                attrs = f'name="{name}"'
                if product:
                    attrs += f' product="{esc(product)}"'
                if ver:
                    attrs += f' version="{esc(ver)}"'
                cpe = ""
                if product and ver:
                    cpe = (f'<cpe>cpe:/a:{product.split()[0].lower()}:'
                           f'{product.split()[0].lower()}:{esc(ver.split()[0])}</cpe>')
                w(f'<port protocol="tcp" portid="{port}"><state state="open" '
                  f'reason="{esc(shape["open_reason"])}" reason_ttl="0"/><service {attrs} method="probed" conf="10">{cpe}'
                  '</service></port>\n')
            else:
                w(f'<port protocol="tcp" portid="{port}"><state state="closed" '
                  f'reason="{esc(shape["closed_reason"])}" reason_ttl="0"/><service name="{name}" '
                  'method="table" conf="3"/></port>\n')
        w(f'</ports>\n<times {shape["times"]}/>\n</host>\n')
    end = t0 + hosts // 64 + 10
    w(f'<runstats><finished time="{end}" elapsed="{end - t0}.00" exit="success" '
      f'summary="Nmap done; {hosts} IP addresses ({nup} hosts up)"/>'
      f'<hosts up="{nup}" down="{hosts - nup}" total="{hosts}"/>\n</runstats>\n</nmaprun>\n')


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--hosts", type=int, default=16384)
    ap.add_argument("--day", type=int, default=0, help="0 = the first scan")
    ap.add_argument("--seed", help="a real nmap -oX whose shape the days take")
    ap.add_argument("--start", type=int, default=START, help="day 0's scan time (epoch)")
    ap.add_argument("-o", "--output", default="-")
    a = ap.parse_args()
    if a.hosts < 1 or a.hosts > 1 << 24 or a.day < 0 or a.start < 1:
        ap.error("--hosts must be 1..16777216, --day >= 0 and --start > 0")
    shape = seed_shape(a.seed) if a.seed else None
    if a.output == "-":
        write(sys.stdout, a.hosts, a.day, shape, a.start)
    else:
        with open(a.output + ".tmp", "w") as f:
            write(f, a.hosts, a.day, shape, a.start)
        import os
        os.replace(a.output + ".tmp", a.output)


if __name__ == "__main__":
    main()
