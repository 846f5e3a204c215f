"""Shared helpers for scandb's end-to-end tests (Python 3 standard library).

Every e2e test runs the real `scandb` binary ($SCANDB) on real files.
  t = Tests("import")          # registry
  @t.case
  def something(): ...         # raise AssertionError (use check/eq) to fail
  t.main()                     # runs all, prints "ok"/"FAIL", summary, exits
skip(reason) prints a loud SKIPPED line and exits 77 (CTest: skipped);
skip_case(reason) skips one case alone, loudly.  A program whose every case
skipped exits 77.  The database helpers (newdb, sql, ...) are at the end.
"""
import json
import os
import shutil
import subprocess
import sys
import tempfile
import traceback

SCANDB = os.environ.get("SCANDB") or shutil.which("scandb") or "scandb"
DATA = os.environ.get("SCANDB_TEST_DATA",
                      os.path.join(os.path.dirname(__file__), "../data/nmap"))
TMP_ROOT = os.environ.get("TEST_TMPDIR") or tempfile.gettempdir()
REPO = os.path.abspath(os.path.join(os.path.dirname(__file__), "../.."))


def skip(reason):
    print(f"SKIPPED: {reason}", flush=True)
    print(f"*** SKIPPED: {reason} ***", file=sys.stderr, flush=True)
    sys.exit(77)


# What the tests made (("dir", path) or ("pg", database name)), in order.
# Tests.main() removes what a case made when the case passes; what a failed
# case made is kept and named, to look at.  shared=True is for fixtures
# cached across cases: removed at the end of a run that passed.
# SCANDB_KEEP_TMP=1 keeps everything.  (A run of the suite made ~5 GB of
# scratch before this, and a CI machine's disk ran out.)
_made = []
_made_shared = []


def _remember(item, shared):
    (_made_shared if shared else _made).append(item)


def tmpdir(prefix="scandb-e2e-", shared=False):
    os.makedirs(TMP_ROOT, exist_ok=True)
    d = tempfile.mkdtemp(prefix=prefix, dir=TMP_ROOT)
    _remember(("dir", d), shared)
    return d


def _remove(items):
    """Remove test scratch: directories, then PostgreSQL databases in one
    psql.  Failing to remove is a note, not a failure."""
    if os.environ.get("SCANDB_KEEP_TMP") == "1":
        return
    for kind, name in items:
        if kind == "dir":
            shutil.rmtree(name, ignore_errors=True)
    dbs = [name for kind, name in items if kind == "pg"]
    if dbs:
        try:
            pg_super("".join(f"DROP DATABASE IF EXISTS {n} WITH (FORCE);\n" for n in dbs),
                     timeout=60)
        except Exception as e:  # the throw-away cluster goes anyway
            print(f"note: dropping test databases: {e}", file=sys.stderr)


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


def top_both(db, *args):
    """`services --top ARGS --format json`, counted by the store (GROUP BY)
    and by the walk (SCANDB_TOP_WALK=1): the two must be equal, values,
    counts and order; returns [(value, count), ...]."""
    argv = ("services", "--top") + tuple(str(a) for a in args) + ("--format", "json")
    counted = run(db, *argv, expect=0)
    walked = run(db, *argv, env={"SCANDB_TOP_WALK": "1"}, expect=0)
    if counted.out != walked.out:
        raise AssertionError(f"services --top {' '.join(map(str, args))}: counted "
                             f"{counted.out!r}, walked {walked.out!r}")
    return [(o["value"], o["count"]) for o in json.loads(counted.out)]


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
        # SCANDB_TEST_CASES=a,b runs only those cases (while working on them;
        # the suite never sets it)
        only = os.environ.get("SCANDB_TEST_CASES")
        if not only or fn.__name__ in only.split(","):
            self.cases.append(fn)
        return fn

    def main(self):
        if not os.path.exists(SCANDB):
            print(f"FAIL: scandb binary not found at {SCANDB}")
            sys.exit(1)
        passed = failed = skipped = 0
        digest = []
        for fn in self.cases:
            mark = len(_made)
            try:
                fn()
            except SkipCase as e:
                skipped += 1
                print(f"SKIPPED {self.name}.{fn.__name__}: {e}", flush=True)
                print(f"*** SKIPPED {self.name}.{fn.__name__}: {e} ***", file=sys.stderr,
                      flush=True)
            except Exception as e:
                failed += 1
                print(f"FAIL {self.name}.{fn.__name__}:\n{traceback.format_exc()}", flush=True)
                why = f"{type(e).__name__}: " + " | ".join(str(e).splitlines()[:3])
                digest.append(f"FAILED {self.name}.{fn.__name__}: {why[:400]}")
                kept = [name for _, name in _made[mark:]]
                if kept:
                    print(f"     kept for inspection: {' '.join(kept)}", flush=True)
                continue
            else:
                passed += 1
                print(f"ok   {self.name}.{fn.__name__}", flush=True)
            _remove(_made[mark:])
            del _made[mark:]
        if not failed:
            _remove(_made + _made_shared)
        # the failures again, a line each, where the end of a long log shows them
        for line in digest:
            print(line)
        print(f"{passed} passed, {failed} failed" + (f", {skipped} skipped" if skipped else ""))
        sys.exit(1 if failed else 77 if skipped and not passed else 0)


# ---- appended for test_query_output.py (read commands) ----

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
            "ports_open", "elapsed", "partial"]


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
    keys = list(got.keys())
    if keys[-2:] == ["tags", "notes"]:  # `host` adds what people say about it (tags, notes)
        keys = keys[:-2]
    eq(keys, HOST_KEYS, f"{a}: host object keys (names and order)")
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
    eq(got["partial"], False, "job.partial")
    eq(got["error"], None, "job.error")
    check(isinstance(got["content_hash"], str) and len(got["content_hash"]) == 64,
          f"job.content_hash {got['content_hash']!r}")
    check(isinstance(got["created_at"], str) and got["created_at"].endswith("Z"),
          f"job.created_at {got['created_at']!r}")


# ---- appended for test_diff.py: ndiff (stock, and with its Python 3 crash fixed) ----

NDIFF = shutil.which("ndiff")

# ndiff 7.93's ScriptResult has no __lt__, so sorting two or more scripts of
# one host or port raises TypeError under Python 3 and ndiff exits 2 (see
# docs/DIFF.md).  And its XMLWriter.frag() writes the children of what it is
# given, meant for DocumentFragments: the <prescript>/<postscript> element
# (or the <a>/<b> around it) it is given for the run's scripts is lost.
# This runs the installed ndiff with only those two fixed: the order it
# meant, (id, output), and an element written whole.
_NDIFF_FIXED = r'''
import runpy, sys
path = sys.argv.pop(1)
sys.argv[0] = path
g = runpy.run_path(path, run_name="ndiff_script")
nd = g["ndiff"]
nd.ScriptResult.__lt__ = lambda a, b: (a.id, a.output) < (b.id, b.output)
_frag = nd.XMLWriter.frag
def _frag_fixed(self, frag):
    if frag.nodeType == frag.ELEMENT_NODE:
        frag.writexml(self.f, newl="\n")
    else:
        _frag(self, frag)
nd.XMLWriter.frag = _frag_fixed
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
    """Run ndiff ARGS (fixed=True: with the script-sorting crash and the
    pre-/post-scan script XML fixed).
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


# Tests' cases could always skip alone (skip_case); the name stays for the
# modules that use it.
CaseTests = Tests


# ---- the database under test: SQLite (a file) or PostgreSQL (a URL) ---------
#
# SCANDB_TEST_BACKEND=sqlite (default) or pg.  For pg, SCANDB_PG_ENV names the
# env file written by `scripts/pg-cluster.sh start` (CTest's pg.cluster.start).
#   newdb()                 a fresh, empty database: a path, or a postgresql:// URL
#   sql(db, q, params)      rows (tuples) of one statement; `?` placeholders
#   sql1(db, q, params)     the first column of the first row (or None)
#   sql_snapshot(db, qs)    [rows, ...] of several SELECTs in ONE read snapshot
#   sql_script(db, text)    several statements, no result
#   tables(db), dump(db)    table names; every row of every table (sorted reprs)
#   integrity(db)           [] or the problems: integrity_check, foreign keys
#   epoch(col)              SQL for a time column as Unix seconds (PG: timestamptz)
#   ts_sql(seconds)         SQL for a time value (PG: to_timestamp(N))
#   wait_idle(db)           PG: until no other session is connected (after a kill)
#   WriteLockHolder(db)     holds the database against writers until release()
#   jsonval(v)              a JSON column's value as Python (SQLite: text, PG: jsonb)
#   sqlite_only(why)        skip the whole test program loudly on PostgreSQL
# SQL that differs between the dialects branches on PG.

import random  # noqa: E402
import time  # noqa: E402
import re  # noqa: E402
import sqlite3  # noqa: E402



class DBError(Exception):
    """A statement the database refused (the driver's or psql's message)."""


def missing_table(e):
    """True when DBError e says a table does not exist (yet)."""
    s = str(e)
    return "no such table" in s or ("relation" in s and "does not exist" in s)


def sqlite_only(why):
    """A test program that is about the SQLite file itself: loud skip on PG."""
    if PG:
        skip(f"SQLite-only on PostgreSQL: {why}")


def sqlite_case(why):
    """A case that is about the SQLite file itself: a loud skip of this case
    alone on PostgreSQL (the other cases still run)."""
    if PG:
        skip_case(f"SQLite-only on PostgreSQL: {why}")


_pg_env_cache = None


def pg_env():
    """The cluster's variables (scripts/pg-cluster.sh's env file).  No
    cluster: a loud skip (exit 77), or a failure when CI=true."""
    global _pg_env_cache
    if _pg_env_cache is not None:
        return _pg_env_cache
    path = os.environ.get("SCANDB_PG_ENV", "")
    env = {}
    why = None
    if not path or not os.path.exists(path):
        why = f"SCANDB_PG_ENV={path!r}: no env file (start one: scripts/pg-cluster.sh start FILE)"
    else:
        with open(path, encoding="utf-8") as f:
            for line in f:
                k, _, v = line.rstrip("\n").partition("=")
                env[k] = v[1:-1] if len(v) > 1 and v[0] == v[-1] == "'" else v
        if env.get("SCANDB_PG_UNAVAILABLE"):
            why = env["SCANDB_PG_UNAVAILABLE"]
    if why:
        if os.environ.get("CI") == "true":
            print(f"FAIL: no PostgreSQL cluster in CI: {why}", flush=True)
            sys.exit(1)
        skip(f"no PostgreSQL cluster: {why}")
    env["ENV_FILE"] = path
    _pg_env_cache = env
    return env


def pg_url(dbname, user=None, password=None):
    e = pg_env()
    cred = user or e["SCANDB_PG_SUPERUSER"]
    if password is not None:
        cred += ":" + password
    return f"postgresql://{cred}@{e['SCANDB_PG_HOST']}:{e['SCANDB_PG_PORT']}/{dbname}"


def pg_dbname(url):
    return url.rsplit("/", 1)[1].split("?", 1)[0]


def psql(url, script, variables=None, timeout=120, check_errors=True):
    """Runs `script` (stdin) with psql -X -At -v ON_ERROR_STOP=1 against url.
    variables: {name: text}, used in the script as :'name' (psql quotes
    them as literals).  Returns stdout; raises DBError on an error."""
    e = pg_env()
    argv = [os.path.join(e["SCANDB_PG_BIN"], "psql"), "-X", "-q", "-At",
            "-v", "ON_ERROR_STOP=1", "-d", url]
    for k, v in (variables or {}).items():
        argv += ["-v", f"{k}={v}"]
    env = dict(os.environ, PGCONNECT_TIMEOUT="10", PGOPTIONS="-c client_min_messages=warning",
               PGTZ="UTC")
    env.pop("PGPASSWORD", None)
    p = subprocess.run(argv + ["-f", "-"], input=script, capture_output=True, text=True,
                       timeout=timeout, env=env)
    if p.returncode != 0 and check_errors:
        raise DBError(f"psql {url}: {p.stderr.strip()}")
    return p.stdout


def pg_super(script, **kw):
    """A script as the superuser on the maintenance database."""
    return psql(pg_url("postgres"), script, **kw)


_pg_backend_checked = False
_pg_count = 0


def pg_require_backend():
    """Once per program: does this scandb have the PostgreSQL backend?  A
    build without it is a loud skip, like the contract suite's."""
    global _pg_backend_checked
    if _pg_backend_checked:
        return
    _pg_backend_checked = True
    name = f"e2e_probe_{os.getpid()}"
    pg_super(f"CREATE DATABASE {name}")
    try:
        p = subprocess.run([SCANDB, "--db", pg_url(name), "migrate", "status"],
                           capture_output=True, text=True, timeout=60)
    finally:
        pg_super(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
    if p.returncode != 0 and "not built" in p.stderr:
        skip(f"this scandb has no PostgreSQL backend: {p.stderr.strip()}")


def pg_newdb(owner=None, shared=False):
    """CREATE DATABASE with a unique name; its URL (the superuser's).
    Dropped like tmpdir()'s directories (see _made)."""
    global _pg_count
    pg_require_backend()
    name = f"e2e_{os.getpid()}_{_pg_count}_{random.randrange(1 << 32):08x}"
    _pg_count += 1
    pg_super(f"CREATE DATABASE {name}" + (f" OWNER {owner}" if owner else ""))
    _remember(("pg", name), shared)
    return pg_url(name)


def newdb(name="t.db", shared=False):
    """A fresh database that does not exist yet (SQLite: a path in a new
    temporary directory) or is empty (PostgreSQL: a new database's URL)."""
    if PG:
        return pg_newdb(shared=shared)
    return os.path.join(tmpdir(shared=shared), name)


def db_exists(db):
    """SQLite: the file exists.  PostgreSQL: the database exists."""
    if not PG:
        return os.path.exists(db)
    return sql1(pg_url("postgres"), "SELECT count(*) FROM pg_database WHERE datname = ?",
                (pg_dbname(db),)) == 1


def nodb():
    """A database that does not exist (and that scandb must not create)."""
    if PG:
        return pg_url(f"e2e_absent_{os.getpid()}_{random.randrange(1 << 32):08x}")
    return os.path.join(tmpdir(), "never", "created.db")


def epoch(col):
    """SQL for a time column as Unix seconds (an integer) on this backend."""
    return f"CAST(extract(epoch FROM {col}) AS bigint)" if PG else col


def ts_sql(seconds):
    """SQL for a time literal, from Unix seconds, on this backend."""
    return f"to_timestamp({int(seconds)})" if PG else str(int(seconds))


def jsonval(v):
    """A JSON column's value: SQLite gives its text, PostgreSQL (jsonb) the value."""
    if isinstance(v, str) and not PG:
        return json.loads(v)
    return v


# -- statements --

_READ = ("SELECT", "WITH", "VALUES", "TABLE")


def _pg_bind(query, params):
    """`?` placeholders (outside quotes) -> psql variables / literals."""
    variables = {}
    out = []
    it = iter(params)
    n = 0
    i = 0
    quote = None
    while i < len(query):
        c = query[i]
        if quote:
            out.append(c)
            if c == quote:
                quote = None
        elif c in ("'", '"'):
            quote = c
            out.append(c)
        elif c == "?":
            try:
                v = next(it)
            except StopIteration:
                raise DBError(f"too few parameters for {query!r}")
            n += 1
            if v is None:
                out.append("NULL")
            elif isinstance(v, bool):
                out.append("true" if v else "false")
            elif isinstance(v, (int, float)):
                out.append(repr(v))
            elif isinstance(v, bytes):
                out.append(f"'\\x{v.hex()}'::bytea")
            else:
                variables[f"p{n}"] = str(v)
                out.append(f":'p{n}'")
        else:
            out.append(c)
        i += 1
    if next(it, None) is not None:
        raise DBError(f"too many parameters for {query!r}")
    return "".join(out), variables


def _pg_wrap(stmt):
    """One statement -> SQL printing its rows as one JSON line (or nothing)."""
    s = stmt.strip().rstrip(";")
    head = s.split(None, 1)[0].upper() if s else ""
    agg = ("SELECT replace(coalesce(json_agg(row_to_json(q))::text, '[]'), chr(10), ' ') "
           "FROM ({}) q")
    if head in _READ:
        return agg.format(s) + ";", True
    if head in ("INSERT", "UPDATE", "DELETE") and re.search(r"\bRETURNING\b", s, re.I):
        return ("WITH q AS (" + s + ") SELECT replace(coalesce(json_agg(row_to_json(q))::text, "
                "'[]'), chr(10), ' ') FROM q;"), True
    return s + ";", False


def _rows(text):
    return [tuple(v for _, v in r) for r in
            json.loads(text, object_pairs_hook=lambda pairs: pairs)]


def _sqlite_con(db):
    if not os.path.exists(db):
        raise DBError(f"no such database file: {db}")
    return sqlite3.connect(f"file:{db}?mode=rw", uri=True, timeout=30, isolation_level=None)


def sql(db, query, params=()):
    """Rows of one statement, as tuples.  PostgreSQL values come through
    JSON: integers, floats, text, booleans, inet as text, timestamptz as
    ISO text (use epoch()), jsonb as Python values (use jsonval())."""
    if not PG:
        try:
            con = _sqlite_con(db)
            try:
                return con.execute(query, params).fetchall()
            finally:
                con.close()
        except sqlite3.Error as e:
            raise DBError(f"{db}: {e}") from None
    q, variables = _pg_bind(query, params)
    text, returns = _pg_wrap(q)
    out = psql(db, text, variables)
    return _rows(out.strip()) if returns else []


def sql1(db, query, params=()):
    rows = sql(db, query, params)
    return rows[0][0] if rows else None


def sql_snapshot(db, queries):
    """Several (query, params) or query strings read in one transaction, so
    that they see one consistent state.  Returns one rows list per query."""
    qs = [(q, ()) if isinstance(q, str) else q for q in queries]
    if not PG:
        try:
            con = _sqlite_con(db)
            try:
                con.execute("BEGIN")
                res = [con.execute(q, p).fetchall() for q, p in qs]
                con.execute("COMMIT")
                return res
            finally:
                con.close()
        except sqlite3.Error as e:
            raise DBError(f"{db}: {e}") from None
    script = ["BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY;"]
    variables = {}
    for k, (q, p) in enumerate(qs):
        bound, v = _pg_bind(q, p)
        for name, val in v.items():  # distinct names per statement
            bound = bound.replace(f":'{name}'", f":'q{k}{name}'")
            variables[f"q{k}{name}"] = val
        text, returns = _pg_wrap(bound)
        if not returns:
            raise DBError(f"sql_snapshot: not a query: {q!r}")
        script.append(text)
    script.append("COMMIT;")
    lines = psql(db, "\n".join(script) + "\n", variables).strip().split("\n")
    if len(lines) != len(qs):
        raise DBError(f"sql_snapshot: {len(qs)} queries, {len(lines)} results: {lines[:3]!r}")
    return [_rows(line) for line in lines]


def sql_script(db, text):
    """Several statements (no parameters, no results), in one transaction."""
    if not PG:
        try:
            con = _sqlite_con(db)
            try:
                con.executescript("BEGIN;\n" + text + "\nCOMMIT;")
            finally:
                con.close()
        except sqlite3.Error as e:
            raise DBError(f"{db}: {e}") from None
        return
    psql(db, "BEGIN;\n" + text + "\nCOMMIT;\n")


def tables(db):
    """The database's tables, sorted by name."""
    if PG:
        q = ("SELECT table_name FROM information_schema.tables WHERE table_schema = "
             "'public' AND table_type = 'BASE TABLE' ORDER BY table_name")
    else:
        q = "SELECT name FROM sqlite_master WHERE type='table' ORDER BY name"
    return [r[0] for r in sql(db, q)]


def dump(db):
    """Every row of every table, as {table: sorted reprs of its rows}: to
    prove that something changed nothing."""
    names = tables(db)
    res = sql_snapshot(db, [f'SELECT * FROM "{tb}"' for tb in names])
    return {tb: sorted(map(repr, rows)) for tb, rows in zip(names, res)}


def fk_violations(db):
    """[(table, count)] of rows whose foreign key points at nothing.
    SQLite: PRAGMA foreign_key_check.  PostgreSQL enforces its foreign keys
    itself; this checks every declared one anyway, by query."""
    if not PG:
        rows = sql(db, "PRAGMA foreign_key_check")
        counts = {}
        for r in rows:
            counts[r[0]] = counts.get(r[0], 0) + 1
        return sorted(counts.items())
    fks = sql(db, """
        SELECT c.conrelid::regclass::text, c.confrelid::regclass::text,
               (SELECT json_agg(a.attname ORDER BY k.i) FROM unnest(c.conkey) WITH ORDINALITY
                    k(n, i) JOIN pg_attribute a ON a.attrelid = c.conrelid AND a.attnum = k.n),
               (SELECT json_agg(a.attname ORDER BY k.i) FROM unnest(c.confkey) WITH ORDINALITY
                    k(n, i) JOIN pg_attribute a ON a.attrelid = c.confrelid AND a.attnum = k.n)
        FROM pg_constraint c WHERE c.contype = 'f' ORDER BY 1, 2""")
    if not fks:
        return []
    qs = []
    for child, parent, ccols, pcols in fks:
        notnull = " AND ".join(f'c."{x}" IS NOT NULL' for x in ccols)
        match = " AND ".join(f'p."{y}" = c."{x}"' for x, y in zip(ccols, pcols))
        qs.append(f"SELECT '{child}' AS t, count(*) AS n FROM {child} c WHERE {notnull} "
                  f"AND NOT EXISTS (SELECT 1 FROM {parent} p WHERE {match})")
    res = sql_snapshot(db, qs)
    counts = {}
    for rows in res:
        t_, n = rows[0]
        if n:
            counts[t_] = counts.get(t_, 0) + n
    return sorted(counts.items())


def integrity(db):
    """[] when the database is consistent, else what is wrong: SQLite's
    integrity_check, and foreign keys that point at nothing (both backends)."""
    problems = []
    if not PG:
        ic = sql(db, "PRAGMA integrity_check")
        if ic != [("ok",)]:
            problems.append(f"integrity_check: {ic[:5]}")
    fk = fk_violations(db)
    if fk:
        problems.append(f"foreign keys pointing at nothing: {fk}")
    return problems


class WriteLockHolder:
    """Holds the database against writers until release(): SQLite BEGIN
    IMMEDIATE (the write lock); PostgreSQL an ACCESS EXCLUSIVE lock on the
    jobs table, in a psql session kept open."""

    def __init__(self, db):
        self.db = db
        if not PG:
            self.con = sqlite3.connect(db, timeout=10, isolation_level=None)
            self.con.execute("BEGIN IMMEDIATE")
            return
        e = pg_env()
        self.p = subprocess.Popen(
            [os.path.join(e["SCANDB_PG_BIN"], "psql"), "-X", "-q", "-At", "-v",
             "ON_ERROR_STOP=1", "-d", db], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
            stderr=subprocess.PIPE, text=True, env=dict(os.environ, PGCONNECT_TIMEOUT="10"))
        self.p.stdin.write("BEGIN;\nLOCK TABLE jobs IN ACCESS EXCLUSIVE MODE;\n"
                           "SELECT 'locked';\n")
        self.p.stdin.flush()
        line = self.p.stdout.readline().strip()  # psql answers at once or exits
        if line != "locked":
            self.p.kill()
            raise DBError(f"could not lock {db}: {line!r} {self.p.stderr.read()!r}")

    def release(self):
        if not PG:
            self.con.execute("ROLLBACK")
            self.con.close()
            return
        try:
            self.p.communicate("ROLLBACK;\n", timeout=30)
        except subprocess.TimeoutExpired:
            self.p.kill()
            self.p.wait()


def wait_idle(db, timeout=60):
    """PostgreSQL: waits until no other session is connected to db (the
    server process of a killed client finishes its statement, notices the
    client is gone and rolls back - or commits a COMMIT it had already
    received).  SQLite: nothing to wait for."""
    if not PG:
        return
    deadline = time.monotonic() + timeout
    while True:
        n = sql1(db, "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() "
                     "AND pid <> pg_backend_pid()")
        if n == 0:
            return
        if time.monotonic() > deadline:
            raise AssertionError(f"{n} sessions still connected to {db} after {timeout}s")
        time.sleep(0.05)


# ---- the backend under test, decided once, when a test imports this --------

BACKEND = os.environ.get("SCANDB_TEST_BACKEND", "sqlite")
PG = BACKEND == "pg"
if BACKEND not in ("sqlite", "pg"):
    print(f"FAIL: SCANDB_TEST_BACKEND={BACKEND!r}: sqlite or pg")
    sys.exit(1)
if PG and os.path.exists(SCANDB):
    # no cluster, or a scandb without the backend: skip now, loudly, before
    # a test spends time on setting up
    pg_env()
    pg_require_backend()


def verify_complete_jobs(db, files, what):
    """After imports were killed or lost their connection (test_crash,
    test_pg_restart): the database is consistent and holds only complete
    jobs, each exactly the rows of its file; files = {source path as given
    to import: gen_nmap_xml stats}.  Returns the number of jobs per file."""
    # the killed client's server process (PostgreSQL) must be gone first,
    # or a commit it still had in hand could land between the reads below
    wait_idle(db)
    eq(integrity(db), [], f"{what}: integrity_check / foreign keys")
    (jobs, hosts, ports, scripts, extra, orphans, got, dups) = sql_snapshot(db, [
        "SELECT id, source, status, hosts_up, ports_open FROM jobs ORDER BY id",
        "SELECT job_id, count(*) FROM host_scans GROUP BY job_id",
        "SELECT job_id, count(*) FROM ports GROUP BY job_id",
        "SELECT job_id, count(*) FROM scripts GROUP BY job_id",
        "SELECT job_id, count(*) FROM extraports GROUP BY job_id",
        """
        SELECT 'ports', count(*) FROM ports WHERE job_id NOT IN (SELECT id FROM jobs)
        UNION ALL SELECT 'host_scans', count(*) FROM host_scans
            WHERE job_id NOT IN (SELECT id FROM jobs)
        UNION ALL SELECT 'scripts', count(*) FROM scripts
            WHERE job_id NOT IN (SELECT id FROM jobs)
        UNION ALL SELECT 'extraports', count(*) FROM extraports
            WHERE job_id NOT IN (SELECT id FROM jobs)
        UNION ALL SELECT 'host_events', count(*) FROM host_events
            WHERE job_id NOT IN (SELECT id FROM jobs)
        UNION ALL SELECT 'hosts never scanned', count(*) FROM hosts
            WHERE id NOT IN (SELECT host_id FROM host_scans)""",
        "SELECT addr FROM hosts",
        "SELECT addr, count(*) FROM hosts GROUP BY addr HAVING count(*) > 1"])
    notdone = [j[:3] for j in jobs if j[2] != "completed"]
    eq(notdone, [], f"{what}: jobs that are not completed (partial/running)")
    unknown = [j[:2] for j in jobs if j[1] not in files]
    eq(unknown, [], f"{what}: jobs from unknown sources")
    hosts, ports, scripts, extra = dict(hosts), dict(ports), dict(scripts), dict(extra)
    for jid, src, _, up, popen in jobs:
        s = files[src]
        eq((hosts.get(jid, 0), ports.get(jid, 0), scripts.get(jid, 0), extra.get(jid, 0)),
           (s.hosts, s.ports, s.scripts, s.extraports),
           f"{what}: (hosts, ports, scripts, extraports) of job {jid} from "
           f"{os.path.basename(src)}")
        eq((up, popen), (s.hosts_up, s.ports_open),
           f"{what}: (hosts_up, ports_open) recorded for job {jid}")
    eq([o for o in orphans if o[1]], [], f"{what}: rows of no job (the killed import's)")
    eq(dups, [], f"{what}: duplicate host addresses")
    # hosts: exactly the union of the files that have a completed job
    want = set()
    per_file = {}
    for _, src, _, _, _ in jobs:
        per_file[src] = per_file.get(src, 0) + 1
        want.update(files[src].addrs)
    got = {r[0] for r in got}
    extra, missing = got - want, want - got
    check(not extra and not missing,
          f"{what}: hosts should be the union of completed files' hosts; "
          f"{len(extra)} extra (e.g. {sorted(extra)[:3]}), {len(missing)} missing "
          f"(e.g. {sorted(missing)[:3]})")
    return per_file
