"""Shared helpers for scandb's end-to-end tests (Python 3 standard library).

Every e2e test runs the real `scandb` binary ($SCANDB) on real files.
  t = Tests("import")          # registry
  @t.case
  def something(): ...         # raise AssertionError (use check/eq) to fail
  t.main()                     # runs all, prints "ok"/"FAIL", summary, exits
skip(reason) prints a loud SKIPPED line and exits 77 (CTest: skipped).
"""
import json
import os
import shutil
import subprocess
import sys
import tempfile
import traceback

SCANDB = os.environ.get("SCANDB") or shutil.which("scandb") or "scandb"
DATA = os.environ.get("SHARED_NMAP_DATA",
                      os.path.join(os.path.dirname(__file__), "../../../shared/data/nmap"))
TMP_ROOT = os.environ.get("TEST_TMPDIR") or tempfile.gettempdir()
REPO = os.path.abspath(os.path.join(os.path.dirname(__file__), "../.."))


def skip(reason):
    print(f"SKIPPED: {reason}", flush=True)
    print(f"*** SKIPPED: {reason} ***", file=sys.stderr, flush=True)
    sys.exit(77)


def tmpdir(prefix="scandb-e2e-"):
    os.makedirs(TMP_ROOT, exist_ok=True)
    return tempfile.mkdtemp(prefix=prefix, dir=TMP_ROOT)


def data(name):
    return os.path.join(DATA, name)


class Result:
    def __init__(self, args, proc):
        self.args = args
        self.code = proc.returncode
        self.out = proc.stdout
        self.err = proc.stderr

    def json(self):
        try:
            return json.loads(self.out)
        except ValueError as e:
            raise AssertionError(f"{self.args}: stdout is not JSON ({e}): {self.out[:500]!r}")

    def __repr__(self):
        return f"<{' '.join(self.args)} -> {self.code}\nstdout: {self.out[:2000]}\nstderr: {self.err[:2000]}>"


def run(db, *args, input=None, timeout=120, env=None, expect=None):
    """Run `scandb --db DB ARGS...`; db=None omits --db.  expect: exit code."""
    argv = [SCANDB] + (["--db", db] if db else []) + [str(a) for a in args]
    e = dict(os.environ)
    if env:
        e.update(env)
    p = subprocess.run(argv, input=input, capture_output=True, text=True,
                       timeout=timeout, env=e)
    r = Result(argv, p)
    if expect is not None and r.code != expect:
        raise AssertionError(f"expected exit {expect}, got {r.code}: {r!r}")
    return r


def check(cond, msg):
    if not cond:
        raise AssertionError(msg)


def eq(actual, expected, what):
    if actual != expected:
        raise AssertionError(f"{what}: expected {expected!r}, got {actual!r}")


class Tests:
    def __init__(self, name):
        self.name = name
        self.cases = []

    def case(self, fn):
        self.cases.append(fn)
        return fn

    def main(self):
        if not os.path.exists(SCANDB):
            print(f"FAIL: scandb binary not found at {SCANDB}")
            sys.exit(1)
        passed = failed = 0
        for fn in self.cases:
            try:
                fn()
            except Exception:
                failed += 1
                print(f"FAIL {self.name}.{fn.__name__}:\n{traceback.format_exc()}", flush=True)
            else:
                passed += 1
                print(f"ok   {self.name}.{fn.__name__}", flush=True)
        print(f"{passed} passed, {failed} failed")
        sys.exit(1 if failed else 0)


# ---- appended for test_query_output.py (read commands) ----

def newdb(name="t.db"):
    """A fresh database path in a new temporary directory."""
    return os.path.join(tmpdir(), name)


def iso(t):
    """Unix seconds -> scandb's timestamp text "2026-11-22T21:54:03Z" (UTC)."""
    import datetime
    return datetime.datetime.fromtimestamp(int(t), datetime.timezone.utc).strftime(
        "%Y-%m-%dT%H:%M:%SZ")


def write(path, text):
    """Write `text` (UTF-8) to `path`; returns path."""
    with open(path, "w", encoding="utf-8") as f:
        f.write(text)
    return path


# ---- appended: nmap XML -> the expected JSON view, and the comparisons ----
# (moved verbatim from test_query_output.py; also used by test_nmap_live.py)

import ipaddress  # noqa: E402
import xml.etree.ElementTree as ET  # noqa: E402

HOST_KEYS = ["addr", "family", "status", "reason", "hostnames", "mac", "mac_vendor", "os",
             "os_accuracy", "os_family", "os_vendor", "os_gen", "os_type", "os_cpe", "uptime",
             "lastboot", "distance", "first_seen", "last_seen", "job_id", "scanned_at", "ports",
             "extraports", "scripts"]
PORT_KEYS = ["protocol", "port", "state", "reason", "reason_ttl", "service", "product",
             "version", "extrainfo", "ostype", "method", "conf", "tunnel", "cpe", "scripts"]
# a port's history: set in the current state, null in a job's view
HIST_PORT_KEYS = ["first_seen", "last_seen", "closed_at", "state_job_id"]
JOB_KEYS = ["id", "kind", "source", "status", "args", "scanner", "scanner_version", "progress",
            "worker_id", "created_at", "started_at", "completed_at", "timeout_at", "error",
            "content_hash", "forced", "probed_scope", "hosts_up", "hosts_down", "hosts_total",
            "ports_open", "elapsed"]


def opt_int(v):
    return int(v) if v is not None else None


def addr_key(a):
    """scandb's address order: IPv4 as ::ffff:a.b.c.d, numeric."""
    ip = ipaddress.ip_address(a)
    return int(ip) + (0xffff << 32) if ip.version == 4 else int(ip)


def parse_nmap(path):
    """(run, {addr: expected host object without the per-database fields})."""
    root = ET.parse(path).getroot()
    fin = root.find("runstats/finished")
    counts = root.find("runstats/hosts")
    run_ = {
        "args": root.get("args"), "scanner": root.get("scanner"),
        "version": root.get("version"), "start": int(root.get("start")),
        "end": int(fin.get("time")), "elapsed": float(fin.get("elapsed")),
        "up": int(counts.get("up")), "down": int(counts.get("down")),
        "total": int(counts.get("total")), "open": 0,
    }
    hosts = {}
    for h in root.findall("host"):
        x = {"mac": None, "mac_vendor": None}
        for a in h.findall("address"):
            kind = a.get("addrtype")
            if kind in ("ipv4", "ipv6"):
                x["addr"] = str(ipaddress.ip_address(a.get("addr")))
                x["family"] = 4 if kind == "ipv4" else 6
            elif kind == "mac":
                x["mac"] = a.get("addr").upper()
                x["mac_vendor"] = a.get("vendor")
        st = h.find("status")
        x["status"] = st.get("state")
        x["reason"] = st.get("reason")
        x["hostnames"] = [n.get("name") for n in h.findall("hostnames/hostname")]
        ports = []
        for p in h.findall("ports/port"):
            s = p.find("state")
            sv = p.find("service")
            a = sv.attrib if sv is not None else {}
            ports.append({
                "protocol": p.get("protocol"), "port": int(p.get("portid")),
                "state": s.get("state"), "reason": s.get("reason"),
                "reason_ttl": opt_int(s.get("reason_ttl")),
                "service": a.get("name"), "product": a.get("product"),
                "version": a.get("version"), "extrainfo": a.get("extrainfo"),
                "ostype": a.get("ostype"), "method": a.get("method"),
                "conf": opt_int(a.get("conf")), "tunnel": a.get("tunnel"),
                "cpe": [c.text for c in sv.findall("cpe")] if sv is not None else [],
                "scripts": [{"id": sc.get("id"), "output": sc.get("output")}
                            for sc in p.findall("script")],
            })
            run_["open"] += s.get("state") == "open"
        x["ports"] = sorted(ports, key=lambda p: (p["protocol"], p["port"]))
        x["extraports"] = sorted(({
            "state": e.get("state"), "count": int(e.get("count")),
            "reasons": ",".join(f"{r.get('reason')}:{r.get('count')}"
                                for r in e.findall("extrareasons")) or None,
        } for e in h.findall("ports/extraports")), key=lambda e: e["state"])
        best = h.find("os/osmatch")
        cls = None
        if best is not None:
            cls = best.find("osclass")
        if cls is None:
            cls = h.find("os/osclass")
        x["os"] = best.get("name") if best is not None else None
        x["os_accuracy"] = int(best.get("accuracy")) if best is not None else None
        x["os_family"] = cls.get("osfamily") if cls is not None else None
        x["os_vendor"] = cls.get("vendor") if cls is not None else None
        x["os_gen"] = cls.get("osgen") if cls is not None else None
        x["os_type"] = cls.get("type") if cls is not None else None
        cpe = cls.find("cpe") if cls is not None else None
        x["os_cpe"] = cpe.text if cpe is not None else None
        up = h.find("uptime")
        x["uptime"] = int(up.get("seconds")) if up is not None else None
        x["lastboot"] = up.get("lastboot") if up is not None else None
        dist = h.find("distance")
        x["distance"] = int(dist.get("value")) if dist is not None else None
        x["scanned_at"] = iso(h.get("starttime") or root.get("start"))
        x["scripts"] = [{"id": sc.get("id"), "output": sc.get("output")}
                        for sc in h.findall("hostscript/script")]
        hosts[x["addr"]] = x
    return run_, hosts


def check_host(got, exp, job_id, first=None, last=None, current=True, port_jobs=None):
    """One host object against the XML, field by field.  current: the
    object is the current state (hosts/host without --job), whose ports
    carry their history; port_jobs maps (protocol, port) to the job that
    last probed it when that is not job_id."""
    a = exp["addr"]
    eq(list(got.keys()), HOST_KEYS, f"{a}: host object keys (names and order)")
    for k in HOST_KEYS:
        if k in ("ports", "extraports", "first_seen", "last_seen", "job_id"):
            continue
        eq(got[k], exp[k], f"{a}.{k}")
    eq(got["job_id"], job_id, f"{a}.job_id")
    eq(got["first_seen"], first or exp["scanned_at"], f"{a}.first_seen")
    eq(got["last_seen"], last or exp["scanned_at"], f"{a}.last_seen")
    eq([(p["protocol"], p["port"]) for p in got["ports"]],
       [(p["protocol"], p["port"]) for p in exp["ports"]], f"{a}: ports (sorted)")
    for gp, ep in zip(got["ports"], exp["ports"]):
        where = f"{a} {ep['port']}/{ep['protocol']}"
        eq(list(gp.keys()), PORT_KEYS + HIST_PORT_KEYS, f"{a}: port object keys")
        for k in PORT_KEYS:
            eq(gp[k], ep[k], f"{where}.{k}")
        if not current:
            eq([gp[k] for k in HIST_PORT_KEYS], [None] * 4, f"{where}: no history in a job view")
            continue
        want_job = (port_jobs or {}).get((ep["protocol"], ep["port"]), job_id)
        eq(gp["state_job_id"], want_job, f"{where}.state_job_id")
        if gp["state"] == "open":
            check(gp["first_seen"] and gp["last_seen"] and gp["closed_at"] is None,
                  f"{where}: an open port has first_seen/last_seen and no closed_at: {gp}")
    eq(sorted(got["extraports"], key=lambda e: e["state"]), exp["extraports"],
       f"{a}.extraports")


def check_job(got, run_, job_id, source):
    eq(list(got.keys()), JOB_KEYS, "job object keys (names and order)")
    eq(got["id"], job_id, "job.id")
    eq(got["kind"], "import", "job.kind")
    eq(got["status"], "completed", "job.status")
    check(got["source"].endswith("/" + source), f"job.source {got['source']!r} names {source}")
    eq(got["args"], run_["args"], "job.args")
    eq(got["scanner"], run_["scanner"], "job.scanner")
    eq(got["scanner_version"], run_["version"], "job.scanner_version")
    eq(got["started_at"], iso(run_["start"]), "job.started_at (nmaprun start)")
    eq(got["completed_at"], iso(run_["end"]), "job.completed_at (runstats finished)")
    eq(got["hosts_up"], run_["up"], "job.hosts_up")
    eq(got["hosts_down"], run_["down"], "job.hosts_down")
    eq(got["hosts_total"], run_["total"], "job.hosts_total")
    eq(got["ports_open"], run_["open"], "job.ports_open")
    check(abs(got["elapsed"] - run_["elapsed"]) < 1e-6, f"job.elapsed {got['elapsed']}")
    eq(got["forced"], False, "job.forced")
    eq(got["error"], None, "job.error")
    check(isinstance(got["content_hash"], str) and len(got["content_hash"]) == 64,
          f"job.content_hash {got['content_hash']!r}")
    check(isinstance(got["created_at"], str) and got["created_at"].endswith("Z"),
          f"job.created_at {got['created_at']!r}")


# ---- appended for test_diff.py: ndiff (stock, and with its Python 3 crash fixed) ----

NDIFF = shutil.which("ndiff")

# ndiff 7.93's ScriptResult has no __lt__, so sorting two or more scripts of
# one host or port raises TypeError under Python 3 and ndiff exits 2 (see
# docs/DIFF.md).  This runs the installed ndiff with only that fixed: the
# order it meant, (id, output).
_NDIFF_FIXED = r'''
import runpy, sys
path = sys.argv.pop(1)
sys.argv[0] = path
g = runpy.run_path(path, run_name="ndiff_script")
nd = g["ndiff"]
nd.ScriptResult.__lt__ = lambda a, b: (a.id, a.output) < (b.id, b.output)
sys.excepthook = nd.excepthook
sys.exit(nd.main())
'''


def ndiff_interpreter():
    """The Python that the installed ndiff script names in its #! line."""
    with open(NDIFF, "rb") as f:
        first = f.readline().decode("utf-8", "replace").strip()
    if first.startswith("#!"):
        argv = first[2:].split()
        if argv and argv[0].endswith("/env") and len(argv) > 1:
            return shutil.which(argv[1]) or argv[1]
        if argv:
            return argv[0]
    return sys.executable


def run_ndiff(*args, fixed=False, timeout=600):
    """Run ndiff ARGS (fixed=True: with the script-sorting crash fixed).
    Returns a Result (code, out, err)."""
    if fixed:
        argv = [ndiff_interpreter(), "-c", _NDIFF_FIXED, NDIFF] + [str(a) for a in args]
    else:
        argv = [NDIFF] + [str(a) for a in args]
    p = subprocess.run(argv, capture_output=True, text=True, timeout=timeout)
    return Result(argv, p)


# ---- appended for test_history.py: cases that skip alone --------------------

class SkipCase(Exception):
    """Raised by a case that cannot run here (e.g. nmap missing)."""


def skip_case(reason):
    """Skip the current case only, loudly; the other cases still run."""
    raise SkipCase(reason)


class CaseTests(Tests):
    """Tests whose cases may skip alone (skip_case).  Exit status: 1 if any
    case failed, else 77 if every case skipped, else 0.  Summary line:
    "N passed, N failed, N skipped"."""

    def main(self):
        if not os.path.exists(SCANDB):
            print(f"FAIL: scandb binary not found at {SCANDB}")
            sys.exit(1)
        passed = failed = skipped = 0
        for fn in self.cases:
            try:
                fn()
            except SkipCase as e:
                skipped += 1
                print(f"SKIPPED {self.name}.{fn.__name__}: {e}", flush=True)
                print(f"*** SKIPPED {self.name}.{fn.__name__}: {e} ***", file=sys.stderr,
                      flush=True)
            except Exception:
                failed += 1
                print(f"FAIL {self.name}.{fn.__name__}:\n{traceback.format_exc()}", flush=True)
            else:
                passed += 1
                print(f"ok   {self.name}.{fn.__name__}", flush=True)
        print(f"{passed} passed, {failed} failed, {skipped} skipped")
        sys.exit(1 if failed else 77 if skipped and not passed else 0)
