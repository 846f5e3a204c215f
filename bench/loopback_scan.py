#!/usr/bin/python3
"""Run real nmap against TCP listeners on loopback and write its XML.

Starts listeners on the given ports (bound to 0.0.0.0 so that every address
in 127.0.0.0/8 answers; the scan itself only ever targets loopback), runs
`nmap -sT -Pn -n -p PORTS TARGET -oX OUT` plus any extra nmap options, and
stops the listeners.  Refuses any target outside 127.0.0.0/8 or ::1.

  loopback_scan.py --open 8001,8002 --closed 9001 --target 127.0.0.0/16 OUT.xml
"""
import argparse
import ipaddress
import os
import selectors
import socket
import subprocess
import sys
import threading


def check_loopback(target):
    net = ipaddress.ip_network(target, strict=False)
    if not (net.subnet_of(ipaddress.ip_network("127.0.0.0/8"))
            if net.version == 4 else net == ipaddress.ip_network("::1/128")):
        sys.exit(f"loopback_scan: refusing non-loopback target {target}")


class Listeners:
    """Accept-and-close listeners, one thread, bounded lifetime."""

    def __init__(self, ports, banner=None):
        self.sel = selectors.DefaultSelector()
        self.socks = []
        self.banner = banner
        for p in ports:
            s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            s.bind(("0.0.0.0", p))
            s.listen(4096)
            s.setblocking(False)
            self.sel.register(s, selectors.EVENT_READ)
            self.socks.append(s)
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self.run, daemon=True)
        self.thread.start()

    def run(self):
        while not self.stop.is_set():
            for key, _ in self.sel.select(timeout=0.2):
                for _ in range(256):
                    try:
                        c, _ = key.fileobj.accept()
                    except (BlockingIOError, OSError):
                        break
                    try:
                        if self.banner:
                            c.setblocking(False)
                            c.send(self.banner)
                    except OSError:
                        pass
                    c.close()

    def close(self):
        self.stop.set()
        self.thread.join(timeout=5)
        for s in self.socks:
            s.close()


def ports_arg(s):
    return [int(x) for x in s.split(",") if x]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--open", type=ports_arg, default=[])
    ap.add_argument("--closed", type=ports_arg, default=[])
    ap.add_argument("--target", default="127.0.0.1")
    ap.add_argument("--timeout", type=int, default=1800)
    ap.add_argument("--nmap-arg", action="append", default=[])
    ap.add_argument("out")
    a = ap.parse_args()
    check_loopback(a.target)
    ls = Listeners(a.open)
    try:
        ports = ",".join(str(p) for p in sorted(a.open + a.closed))
        cmd = ["nmap", "-sT", "-Pn", "-n", "-p", ports, *a.nmap_arg, a.target,
               "-oX", a.out]
        print("loopback_scan:", " ".join(cmd), file=sys.stderr)
        r = subprocess.run(cmd, stdout=subprocess.DEVNULL, timeout=a.timeout)
        return r.returncode
    finally:
        ls.close()


if __name__ == "__main__":
    sys.exit(main())
