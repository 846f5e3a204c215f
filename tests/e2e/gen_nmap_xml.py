#!/usr/bin/python3
"""Generate large, synthetic but realistic nmap XML (-oX) for tests and benchmarks.

Output is valid against nmap's DTD (shared/data/nmap/nmap.dtd) and deterministic:
the same parameters and seed always give the same bytes.  N hosts x M ports,
with service versions, CPEs, NSE scripts (with characters that need escaping),
extraports, MAC addresses, OS matches, uptime, task progress and runstats, the
way nmap 7.9x writes them.

  gen_nmap_xml.py --hosts 20000 --ports 10 --seed 1 -o big.xml
  gen_nmap_xml.py --hosts 5 --ports 3 --first-host 100 --start 1700000000 \\
                  --states open:1,closed:1 --down 0.2 > small.xml

As a module:
  from gen_nmap_xml import generate, host_addr
  s = generate("f.xml", hosts=100, ports=5, seed=7)
  s.hosts, s.hosts_up, s.ports, s.ports_open, s.addrs, s.ports_by_addr, s.time_by_addr

Addresses: host index k is 10.a.b.c with k = a*65536 + b*256 + c (host_addr),
so files with overlapping --first-host ranges share hosts; or pass --addrs /
addrs=[...] to choose them.  IPv6 (--ipv6) uses fd00::k instead.
"""
import argparse
import io
import json
import random
import sys
import time
from xml.sax.saxutils import escape, quoteattr

# (port, service, product, version, extrainfo, cpe) of common services.
COMMON = [
    (21, "ftp", "vsftpd", "3.0.3", None, "cpe:/a:vsftpd:vsftpd:3.0.3"),
    (22, "ssh", "OpenSSH", "8.9p1 Ubuntu 3ubuntu0.6", "Ubuntu Linux; protocol 2.0",
     "cpe:/a:openbsd:openssh:8.9p1"),
    (23, "telnet", "Linux telnetd", None, None, "cpe:/o:linux:linux_kernel"),
    (25, "smtp", "Postfix smtpd", None, None, "cpe:/a:postfix:postfix"),
    (53, "domain", "ISC BIND", "9.18.18", "Ubuntu Linux", "cpe:/a:isc:bind:9.18.18"),
    (80, "http", "nginx", "1.24.0", None, "cpe:/a:igor_sysoev:nginx:1.24.0"),
    (110, "pop3", "Dovecot pop3d", None, None, "cpe:/a:dovecot:dovecot"),
    (111, "rpcbind", None, "2-4", "RPC #100000", None),
    (135, "msrpc", "Microsoft Windows RPC", None, None, "cpe:/o:microsoft:windows"),
    (139, "netbios-ssn", "Microsoft Windows netbios-ssn", None, None,
     "cpe:/o:microsoft:windows"),
    (143, "imap", "Dovecot imapd", None, None, "cpe:/a:dovecot:dovecot"),
    (389, "ldap", "OpenLDAP", "2.2.X - 2.3.X", None, "cpe:/a:openldap:openldap"),
    (443, "https", "Apache httpd", "2.4.58", "(Debian)", "cpe:/a:apache:http_server:2.4.58"),
    (445, "microsoft-ds", None, None, None, None),
    (587, "submission", "Postfix smtpd", None, None, "cpe:/a:postfix:postfix"),
    (631, "ipp", "CUPS", "2.4", None, "cpe:/a:apple:cups:2.4"),
    (993, "imaps", "Dovecot imapd", None, None, "cpe:/a:dovecot:dovecot"),
    (995, "pop3s", "Dovecot pop3d", None, None, "cpe:/a:dovecot:dovecot"),
    (1433, "ms-sql-s", "Microsoft SQL Server 2019", "15.00.2000", None,
     "cpe:/a:microsoft:sql_server:2019"),
    (1521, "oracle-tns", "Oracle TNS listener", "19.0.0.0.0", "unauthorized",
     "cpe:/a:oracle:database_server"),
    (2049, "nfs", None, "3-4", "RPC #100003", None),
    (3306, "mysql", "MySQL", "8.0.36-0ubuntu0.22.04.1", None, "cpe:/a:mysql:mysql:8.0.36"),
    (3389, "ms-wbt-server", "Microsoft Terminal Services", None, None,
     "cpe:/o:microsoft:windows"),
    (5432, "postgresql", "PostgreSQL DB", "9.6.0 or later", None,
     "cpe:/a:postgresql:postgresql"),
    (5900, "vnc", "VNC", None, "protocol 3.8", None),
    (6379, "redis", "Redis key-value store", "7.2.4", None, "cpe:/a:redislabs:redis:7.2.4"),
    (8000, "http-alt", None, None, None, None),
    (8080, "http-proxy", "Apache Tomcat", "9.0.85", None, "cpe:/a:apache:tomcat:9.0.85"),
    (8443, "https-alt", "Jetty", "9.4.53.v20231009", None, "cpe:/a:eclipse:jetty:9.4.53"),
    (9200, "wap-wsp", "Elasticsearch REST API", "8.12.0", "name: node-1",
     "cpe:/a:elasticsearch:elasticsearch:8.12.0"),
    (11211, "memcache", "Memcached", "1.6.21", "uptime 123456 seconds", None),
    (27017, "mongodb", "MongoDB", "6.0.13", None, "cpe:/a:mongodb:mongodb:6.0.13"),
]
COMMON_BY_PORT = {c[0]: c for c in COMMON}

OS_MATCHES = [
    ("Linux 4.15 - 5.19", "Linux", "Linux", "4.X", "general purpose",
     "cpe:/o:linux:linux_kernel:4"),
    ("Linux 5.0 - 5.14", "Linux", "Linux", "5.X", "general purpose",
     "cpe:/o:linux:linux_kernel:5"),
    ("Microsoft Windows Server 2019", "Microsoft", "Windows", "2019", "general purpose",
     "cpe:/o:microsoft:windows_server_2019"),
    ("Microsoft Windows 10 1909 - 21H2", "Microsoft", "Windows", "10", "general purpose",
     "cpe:/o:microsoft:windows_10"),
    ("FreeBSD 13.0-RELEASE", "FreeBSD", "FreeBSD", "13.X", "general purpose",
     "cpe:/o:freebsd:freebsd:13"),
    ("Cisco IOS 15.X", "Cisco", "IOS", "15.X", "router", "cpe:/o:cisco:ios:15"),
]
MAC_VENDORS = [("00:50:56", "VMware"), ("52:54:00", "QEMU virtual NIC"),
               ("B8:27:EB", "Raspberry Pi Foundation"), ("00:1B:21", "Intel Corporate"),
               ("3C:EC:EF", "Super Micro Computer")]
DEFAULT_STATES = {"open": 6, "closed": 3, "filtered": 1}
PORT_STATES = ("open", "closed", "filtered", "unfiltered", "open|filtered", "closed|filtered")
STATE_REASON = {"open": "syn-ack", "closed": "reset", "filtered": "no-response",
                "unfiltered": "reset", "open|filtered": "no-response",
                "closed|filtered": "no-response"}
DAYS = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")
MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")


def host_addr(k, ipv6=False):
    """The address of host index k (10.a.b.c, or fd00::k with ipv6)."""
    if ipv6:
        return "fd00::%x" % (k + 1) if k + 1 <= 0xffff else "fd00::%x:%x" % ((k + 1) >> 16,
                                                                             (k + 1) & 0xffff)
    if not 0 <= k < 1 << 24:
        raise ValueError(f"host index {k} out of range")
    return f"10.{k >> 16}.{(k >> 8) & 255}.{k & 255}"


def timestr(t):
    """nmap's ctime()-style timestamp (UTC)."""
    tm = time.gmtime(t)
    return "%s %s %2d %02d:%02d:%02d %d" % (DAYS[tm.tm_wday], MONTHS[tm.tm_mon - 1],
                                            tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec,
                                            tm.tm_year)


def parse_states(spec):
    """"open:6,closed:3" (or "open,closed") -> {state: weight}."""
    if isinstance(spec, dict):
        out = dict(spec)
    else:
        out = {}
        for part in spec.split(","):
            name, _, w = part.partition(":")
            out[name] = float(w) if w else 1.0
    for name, w in out.items():
        if name not in PORT_STATES:
            raise ValueError(f"unknown port state {name!r} (want one of {PORT_STATES})")
        if w < 0:
            raise ValueError(f"negative weight for {name}")
    if not any(w > 0 for w in out.values()):
        raise ValueError("no port state has a positive weight")
    return out


class Summary:
    """What a generated file holds, for tests to compare the database with."""

    def __init__(self):
        self.hosts = 0
        self.hosts_up = 0
        self.hosts_down = 0
        self.ports = 0
        self.ports_open = 0
        self.scripts = 0      # <script> elements: port scripts and host scripts
        self.extraports = 0   # <extraports> elements
        self.addrs = []
        self.ports_by_addr = {}
        self.open_by_addr = {}
        # when each host was seen: its starttime, or the run's start if it has none
        self.time_by_addr = {}
        self.start = 0
        self.end = 0
        self.chars = 0  # characters written (not bytes)

    def as_dict(self):
        return {k: v for k, v in self.__dict__.items()}


def _pick_ports(rng, m):
    """m distinct (port, service-tuple-or-None), sorted by port as nmap prints."""
    chosen = {}
    common = rng.sample(COMMON, min(m, len(COMMON), max(1, m * 2 // 3)))
    for c in common:
        chosen[c[0]] = c
    while len(chosen) < m:
        p = rng.randint(1, 65535)
        if p not in chosen:
            chosen[p] = COMMON_BY_PORT.get(p)
    return sorted(chosen.items())


def _service(rng, port, svc, state):
    if state not in ("open", "open|filtered") or svc is None:
        name = svc[1] if svc else "unknown"
        return f'<service name="{name}" method="table" conf="3"/>'
    _, name, product, version, extra, cpe = svc
    attrs = [f'name="{name}"']
    if product:
        attrs.append(f"product={quoteattr(product)}")
    if version:
        attrs.append(f"version={quoteattr(version)}")
    if extra:
        attrs.append(f"extrainfo={quoteattr(extra)}")
    if name in ("https", "https-alt", "imaps", "pop3s") and rng.random() < 0.5:
        attrs.append('tunnel="ssl"')
    if name in ("ssh", "ms-wbt-server", "msrpc"):
        attrs.append('ostype="Linux"' if name == "ssh" else 'ostype="Windows"')
    attrs.append('method="probed" conf="10"')
    body = f"<cpe>{escape(cpe)}</cpe>" if cpe else ""
    return f"<service {' '.join(attrs)}>{body}</service>" if body else \
        f"<service {' '.join(attrs)}/>"


def _scripts(rng, port, svc, addr):
    if svc is None or rng.random() >= 0.3:
        return ""
    name = svc[1]
    if name in ("http", "https", "http-alt", "http-proxy", "https-alt"):
        title = rng.choice(["Welcome to nginx!", "Apache2 Ubuntu Default Page: It works",
                            "Login & Dashboard <Admin>", 'Site "quoted" \u2013 caf\u00e9',
                            "Robert'); DROP TABLE hosts;--"])
        out = quoteattr(title)
        return (f'<script id="http-title" output={out}>'
                f'<elem key="title">{escape(title)}</elem></script>')
    if name == "ssh":
        k1 = "%032x" % rng.getrandbits(128)
        k2 = "%032x" % rng.getrandbits(128)
        fp1 = ":".join(k1[i:i + 2] for i in range(0, 32, 2))
        fp2 = ":".join(k2[i:i + 2] for i in range(0, 32, 2))
        out = f"&#xa;  256 {fp1} (ECDSA)&#xa;  256 {fp2} (ED25519)"
        return (f'<script id="ssh-hostkey" output="{out}">'
                f'<table><elem key="type">ecdsa-sha2-nistp256</elem>'
                f'<elem key="fingerprint">{k1}</elem><elem key="bits">256</elem></table>'
                f'<table><elem key="type">ssh-ed25519</elem>'
                f'<elem key="fingerprint">{k2}</elem><elem key="bits">256</elem></table>'
                f"</script>")
    banner = f"{svc[2] or name} on {addr}:{port} ready & waiting <v{rng.randint(1, 9)}>"
    return f'<script id="banner" output={quoteattr(banner)}/>'


def generate(out, hosts=10, ports=5, seed=1, start=1700000000, states=None, first_host=0,
             addrs=None, down=0.0, ipv6=False, host_interval=None, scripts=True, os_detect=True,
             progress=True):
    """Write one nmap XML document to `out` (a path, or a text stream) and
    return a Summary.  `states` maps port state -> weight (or "open:6,closed:3").
    `down`: fraction of hosts reported down (status + address only).
    `host_interval`: seconds between host start times (default: spread the
    scan over about hosts/50 seconds)."""
    rng = random.Random(f"{seed}:{hosts}:{ports}:{first_host}")
    weights = parse_states(states or DEFAULT_STATES)
    state_names = list(weights)
    state_w = [weights[s] for s in state_names]
    if addrs is None:
        addrs = [host_addr(first_host + i, ipv6) for i in range(hosts)]
    else:
        addrs = list(addrs)
        hosts = len(addrs)
    if host_interval is None:
        host_interval = 0.02
    s = Summary()
    s.start = start
    proto = "tcp"
    addrtype = "ipv6" if ipv6 else "ipv4"
    args = f"nmap -sS -sV -O -p- -T4 --script=default -oX - {'-6 ' if ipv6 else ''}" \
           f"10.0.0.0/8 --seed {seed}"

    own = isinstance(out, str)
    f = open(out, "w", encoding="utf-8", newline="\n") if own else out
    w = io.StringIO()
    try:
        w.write('<?xml version="1.0" encoding="UTF-8"?>\n<!DOCTYPE nmaprun>\n')
        w.write('<?xml-stylesheet href="file:///usr/bin/../share/nmap/nmap.xsl" '
                'type="text/xsl"?>\n')
        # nmap writes "--" inside its comment as "-&#45;"
        cargs = args.replace("--", "-&#45;")
        w.write(f"<!-- Nmap 7.94SVN scan initiated {timestr(start)} as: {cargs} -->\n")
        w.write(f'<nmaprun scanner="nmap" args={quoteattr(args)} start="{start}" '
                f'startstr="{timestr(start)}" version="7.94SVN" xmloutputversion="1.05">\n')
        w.write(f'<scaninfo type="syn" protocol="{proto}" numservices="65535" '
                f'services="1-65535"/>\n')
        w.write('<verbose level="0"/>\n<debugging level="0"/>\n')
        if progress:
            w.write(f'<taskbegin task="SYN Stealth Scan" time="{start}"/>\n')
        t = float(start)
        for i, addr in enumerate(addrs):
            hstart = int(t)
            t += host_interval
            hend = hstart + rng.randint(1, 30)
            is_down = down > 0 and rng.random() < down
            s.hosts += 1
            s.addrs.append(addr)
            s.end = max(s.end, hend)
            if is_down:
                s.hosts_down += 1
                s.time_by_addr[addr] = start
                s.ports_by_addr[addr] = 0
                s.open_by_addr[addr] = 0
                w.write(f'<host><status state="down" reason="no-response" reason_ttl="0"/>\n'
                        f'<address addr="{addr}" addrtype="{addrtype}"/>\n'
                        f"<hostnames>\n</hostnames>\n</host>\n")
            else:
                s.hosts_up += 1
                s.time_by_addr[addr] = hstart
                ttl = rng.choice((64, 128, 255)) - rng.randint(0, 10)
                w.write(f'<host starttime="{hstart}" endtime="{hend}">'
                        f'<status state="up" reason="syn-ack" reason_ttl="{ttl}"/>\n'
                        f'<address addr="{addr}" addrtype="{addrtype}"/>\n')
                if not ipv6 and rng.random() < 0.5:
                    oui, vendor = rng.choice(MAC_VENDORS)
                    mac = oui + ":%02X:%02X:%02X" % (rng.randrange(256), rng.randrange(256),
                                                     rng.randrange(256))
                    w.write(f'<address addr="{mac}" addrtype="mac" vendor={quoteattr(vendor)}/>\n')
                w.write("<hostnames>\n")
                if rng.random() < 0.7:
                    w.write(f'<hostname name="host-{i}-{seed}.example.net" type="PTR"/>\n')
                if rng.random() < 0.1:
                    w.write(f'<hostname name="alias{i}.corp.example" type="user"/>\n')
                w.write("</hostnames>\n<ports>")
                plist = _pick_ports(rng, ports)
                extra = 65535 - len(plist)
                if extra > 0:
                    s.extraports += 1
                    w.write(f'<extraports state="closed" count="{extra}">\n'
                            f'<extrareasons reason="reset" count="{extra}"/>\n'
                            f"</extraports>\n")
                nopen = 0
                first = {}  # state -> first port listed in it (for <portused>)
                for port, svc in plist:
                    st = rng.choices(state_names, state_w)[0]
                    nopen += st == "open"
                    first.setdefault(st, port)
                    reason = STATE_REASON[st]
                    rttl = ttl if reason != "no-response" else 0
                    w.write(f'<port protocol="{proto}" portid="{port}">'
                            f'<state state="{st}" reason="{reason}" reason_ttl="{rttl}"/>')
                    w.write(_service(rng, port, svc, st))
                    if scripts and st == "open":
                        sc = _scripts(rng, port, svc, addr)
                        s.scripts += sc.count("<script ")
                        w.write(sc)
                    w.write("</port>\n")
                w.write("</ports>\n")
                s.ports += len(plist)
                s.ports_open += nopen
                s.ports_by_addr[addr] = len(plist)
                s.open_by_addr[addr] = nopen
                if os_detect and plist:
                    m = rng.choice(OS_MATCHES)
                    acc = rng.randint(85, 100)
                    w.write("<os>")
                    for pst in ("open", "closed"):
                        if pst in first:
                            w.write(f'<portused state="{pst}" proto="tcp" '
                                    f'portid="{first[pst]}"/>\n')
                    w.write(f'<osmatch name={quoteattr(m[0])} accuracy="{acc}" '
                            f'line="{rng.randint(1000, 99999)}">\n'
                            f'<osclass type={quoteattr(m[4])} vendor={quoteattr(m[1])} '
                            f'osfamily={quoteattr(m[2])} osgen={quoteattr(m[3])} '
                            f'accuracy="{acc}"><cpe>{m[5]}</cpe></osclass>\n'
                            f"</osmatch>\n</os>\n")
                    up = rng.randint(60, 90 * 86400)
                    w.write(f'<uptime seconds="{up}" lastboot="{timestr(hstart - up)}"/>\n')
                    w.write(f'<distance value="{rng.randint(1, 12)}"/>\n')
                    w.write(f'<tcpsequence index="{rng.randint(1, 262)}" '
                            f'difficulty="Good luck!" values="A1B2C3D4,E5F60718"/>\n'
                            f'<ipidsequence class="All zeros" values="0,0,0,0,0,0"/>\n'
                            f'<tcptssequence class="1000HZ" values="8A0B1C2D,8A0B1C91"/>\n')
                if scripts and rng.random() < 0.1:
                    s.scripts += 1
                    w.write('<hostscript><script id="clock-skew" output="mean: -1s, '
                            'deviation: 0s, median: -1s"><elem key="mean">-1</elem>'
                            "</script></hostscript>\n")
                w.write(f'<times srtt="{rng.randint(100, 90000)}" '
                        f'rttvar="{rng.randint(100, 50000)}" to="100000"/>\n</host>\n')
            if progress and hosts >= 20 and (i + 1) % max(1, hosts // 10) == 0 \
                    and i + 1 < hosts:
                pct = 100.0 * (i + 1) / hosts
                w.write(f'<taskprogress task="SYN Stealth Scan" time="{int(t)}" '
                        f'percent="{pct:.2f}" remaining="{int(hosts - i)}" '
                        f'etc="{int(t) + hosts - i}"/>\n')
            if w.tell() > 1 << 20:
                s.chars += f.write(w.getvalue())
                w = io.StringIO()
        end = max(s.end, int(t), start)
        s.end = end
        if progress:
            w.write(f'<taskend task="SYN Stealth Scan" time="{end}" '
                    f'extrainfo="{s.ports} total ports"/>\n')
        elapsed = end - start
        summary = (f"Nmap done at {timestr(end)}; {s.hosts} IP address"
                   f"{'' if s.hosts == 1 else 'es'} ({s.hosts_up} host"
                   f"{'' if s.hosts_up == 1 else 's'} up) scanned in {elapsed:.2f} seconds")
        w.write(f'<runstats><finished time="{end}" timestr="{timestr(end)}" '
                f'summary={quoteattr(summary)} elapsed="{elapsed:.2f}" exit="success"/>'
                f'<hosts up="{s.hosts_up}" down="{s.hosts_down}" total="{s.hosts}"/>\n'
                f"</runstats>\n</nmaprun>\n")
        s.chars += f.write(w.getvalue())
    finally:
        if own:
            f.close()
    return s


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--hosts", type=int, default=10, help="number of hosts (default 10)")
    ap.add_argument("--ports", type=int, default=5, help="ports listed per host (default 5)")
    ap.add_argument("--seed", type=int, default=1, help="random seed (default 1)")
    ap.add_argument("--start", type=int, default=1700000000,
                    help="scan start, Unix seconds (default 1700000000)")
    ap.add_argument("--states", default="open:6,closed:3,filtered:1",
                    help="port states with weights, e.g. open:6,closed:3,filtered:1")
    ap.add_argument("--first-host", type=int, default=0,
                    help="index of the first host (10.a.b.c = index a*65536+b*256+c)")
    ap.add_argument("--addrs", help="comma-separated addresses instead of an index range")
    ap.add_argument("--down", type=float, default=0.0, help="fraction of hosts down")
    ap.add_argument("--ipv6", action="store_true", help="fd00::/64 addresses")
    ap.add_argument("--interval", type=float, default=None,
                    help="seconds between host start times")
    ap.add_argument("--no-scripts", action="store_true")
    ap.add_argument("--no-os", action="store_true")
    ap.add_argument("--summary", action="store_true",
                    help="print a JSON summary (counts) to stderr")
    ap.add_argument("-o", "--output", default="-", help="output file (default stdout)")
    a = ap.parse_args(argv)
    if a.hosts < 0 or a.ports < 0 or a.ports > 65535:
        ap.error("--hosts must be >= 0 and --ports 0..65535")
    addrs = a.addrs.split(",") if a.addrs else None
    try:
        parse_states(a.states)
    except ValueError as e:
        ap.error(f"--states: {e}")
    out = sys.stdout if a.output == "-" else a.output
    s = generate(out, hosts=a.hosts, ports=a.ports, seed=a.seed, start=a.start,
                 states=a.states, first_host=a.first_host, addrs=addrs, down=a.down,
                 ipv6=a.ipv6, host_interval=a.interval, scripts=not a.no_scripts,
                 os_detect=not a.no_os)
    if a.summary:
        d = s.as_dict()
        d.pop("ports_by_addr")
        d.pop("open_by_addr")
        d.pop("time_by_addr")
        d.pop("addrs")
        print(json.dumps(d), file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
