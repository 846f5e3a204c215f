#!/usr/bin/env python3
# e2e: no database
"""test_build_nopg.py - scandb builds without libpq (-DSCANDB_WITH_PG=OFF,
issue 10 rule 7): configure and build the scandb target alone into a
temporary directory (-j2; about 15 s on 2 cores), then a PostgreSQL target
fails to open with a message saying why (exit 1, its password not shown),
and a SQLite import and query work.  Runs once (no database of the suite).
"""
import os
import shutil
import subprocess
import time

from e2e_util import REPO, Tests, check, eq, skip_case, tmpdir

t = Tests("test_build_nopg")
DATA = os.environ.get("SCANDB_TEST_DATA", os.path.join(REPO, "tests", "data", "nmap"))
MSG = "this scandb was built without PostgreSQL support (-DSCANDB_WITH_PG=OFF)"


def build():
    cmake = os.environ.get("SCANDB_CMAKE") or shutil.which("cmake")
    if not cmake:
        skip_case("no cmake")
    if not shutil.which("ninja"):
        skip_case("no ninja")
    b = tmpdir("scandb-nopg-")
    start = time.monotonic()
    p = subprocess.run([cmake, "-S", REPO, "-B", b, "-G", "Ninja",
                        "-DCMAKE_BUILD_TYPE=RelWithDebInfo", "-DSCANDB_WITH_PG=OFF",
                        "-DSCANDB_TESTS=OFF"],
                       capture_output=True, text=True, timeout=300)
    eq(p.returncode, 0, f"configure with SCANDB_WITH_PG=OFF: {p.stdout}{p.stderr}")
    check("Building without PostgreSQL" in p.stdout, f"configure says so: {p.stdout}")
    p = subprocess.run([cmake, "--build", b, "-j2", "--target", "scandb"],
                       capture_output=True, text=True, timeout=600)
    eq(p.returncode, 0, f"build with SCANDB_WITH_PG=OFF: {p.stdout[-3000:]}{p.stderr}")
    print(f"     configure + build of scandb without PostgreSQL: "
          f"{time.monotonic() - start:.1f} s", flush=True)
    return b, os.path.join(b, "scandb")


@t.case
def builds_without_libpq_and_says_so_for_postgresql_targets():
    b, exe = build()
    cache = open(os.path.join(b, "CMakeCache.txt")).read()
    check("LIBPQ_FOUND" not in cache, "libpq was looked for")
    p = subprocess.run(["ldd", exe], capture_output=True, text=True)
    check("libpq" not in p.stdout, f"linked to libpq: {p.stdout}")
    for target in ["postgresql://x/y", "postgresql://u:S3cret@h/db",
                   "pg:host=h password=S3cret dbname=x"]:
        p = subprocess.run([exe, "--db", target, "hosts"], capture_output=True, text=True,
                           timeout=60)
        eq(p.returncode, 1, f"exit status for {target}: {p.stderr}")
        check(MSG in p.stderr, f"message for {target}: {p.stderr!r}")
        check("S3cret" not in p.stderr, f"password shown: {p.stderr!r}")
    db = os.path.join(b, "scan.db")
    p = subprocess.run([exe, "--db", db, "import", os.path.join(DATA, "complex.xml")],
                       capture_output=True, text=True, timeout=60)
    eq(p.returncode, 0, f"SQLite import: {p.stdout}{p.stderr}")
    p = subprocess.run([exe, "--db", db, "hosts"], capture_output=True, text=True, timeout=60)
    eq(p.returncode, 0, f"SQLite hosts: {p.stderr}")
    check("64.13.134.52" in p.stdout, f"hosts output: {p.stdout}")


if __name__ == "__main__":
    t.main()
