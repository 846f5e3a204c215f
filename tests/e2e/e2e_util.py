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
