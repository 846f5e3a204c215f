#!/usr/bin/env python3
"""The command line surprises nobody: another application's database is
never touched, reading commands never create or write, global options go
anywhere, typos get a suggestion, every --help lists every option, and the
progress line fits the terminal.  Runs the real binary on both backends."""
import fcntl
import hashlib
import os
import pty
import re
import select
import shutil
import sqlite3
import stat
import struct
import subprocess
import sys
import termios
import time

from e2e_util import (PG, REPO, SCANDB, Tests, check, data, db_exists, eq, nodb, newdb, psql,
                      run, skip_case, sqlite_case, tmpdir)

t = Tests("cli")
TIMEOUT = 120

# every command that only reads, with arguments that need no data
READERS = [["hosts"], ["host", "192.0.2.1"], ["jobs"], ["job", "1"], ["changes"],
           ["history", "192.0.2.1"], ["findings"], ["finding", "1"], ["stats"], ["doctor"],
           ["health"], ["diff", "1", "2"], ["migrate", "status"], ["migrate", "verify"]]


def sha(path):
    with open(path, "rb") as f:
        return hashlib.sha256(f.read()).hexdigest()


def listing(d):
    return sorted(os.listdir(d))


def foreign_db():
    """A database of another application: one table of its own."""
    if PG:
        db = newdb()
        psql(db, "CREATE TABLE notes (id integer PRIMARY KEY, body text);"
                 "INSERT INTO notes VALUES (1, 'mine');")
        return db
    path = os.path.join(tmpdir(), "other.db")
    con = sqlite3.connect(path)
    con.execute("CREATE TABLE notes (id INTEGER PRIMARY KEY, body TEXT)")
    con.execute("INSERT INTO notes VALUES (1, 'mine')")
    con.commit()
    con.close()
    return path


def foreign_state(db):
    if PG:
        return psql(db, "SELECT string_agg(table_name, ',' ORDER BY table_name) FROM "
                        "information_schema.tables WHERE table_schema = current_schema();"
                        "SELECT body FROM notes;")
    return (sha(db), listing(os.path.dirname(db)))


@t.case
def foreign_database_is_refused_by_every_command():
    db = foreign_db()
    before = foreign_state(db)
    shown = db.split("@")[-1] if PG else db
    src = newdb()
    run(src, "-q", "import", data("simple.xml"), expect=0)
    bak = os.path.join(tmpdir(), "b.db")
    backup_ok = run(src, "backup", bak).code == 0
    cmds = READERS + [["migrate", "up"], ["migrate", "down", "--force", "0"],
                      ["import", data("simple.xml")],
                      ["scan", "-sT", "-p", "1", "127.0.0.1"],
                      ["prune", "--older-than", "90d"],
                      ["finding", "1", "set-status", "confirmed"],
                      ["doctor", "--fix"], ["backup", os.path.join(tmpdir(), "x.db")]]
    if backup_ok and not PG:
        cmds.append(["restore", "--force", bak])
    for args in cmds:
        r = run(db, *args, timeout=TIMEOUT)
        want = 2 if args[0] == "diff" else 1  # diff: 2 is its error status
        eq(r.code, want, f"{' '.join(args)} on another application's database: exit ({r.err!r})")
        check("is not a scandb database" in r.err and shown.split("?")[0] in r.err,
              f"{' '.join(args)}: says '{shown} is not a scandb database': {r.err!r}")
        eq(foreign_state(db), before, f"{' '.join(args)}: the database is unchanged")


@t.case
def reading_commands_on_a_missing_database_create_nothing():
    db = nodb()
    for args in READERS + [["backup", os.path.join(tmpdir(), "copy.db")]]:
        r = run(db, *args, timeout=TIMEOUT)
        want = 2 if args[0] == "diff" else 1
        eq(r.code, want, f"{' '.join(args)} on a missing database: exit ({r.err!r})")
        eq(r.out, "", f"{' '.join(args)}: stdout")
        if not PG:
            check(f"no database at {db}" in r.err, f"{' '.join(args)}: message {r.err!r}")
            check(not os.path.exists(os.path.dirname(db)),
                  f"{' '.join(args)}: created {os.path.dirname(db)}")
        check(not db_exists(db), f"{' '.join(args)}: created the database")
    if not PG:  # a writer creates it (PostgreSQL: the server's CREATE DATABASE)
        run(db, "-q", "import", data("simple.xml"), expect=0)
        check(db_exists(db), "import creates the database")


@t.case
def empty_file_is_new_for_writers_and_empty_for_readers():
    sqlite_case("a 0-byte file")
    db = os.path.join(tmpdir(), "zero.db")
    open(db, "wb").close()
    r = run(db, "hosts", expect=1)
    check("is empty" in r.err, f"hosts on a 0-byte file: {r.err!r}")
    eq(os.path.getsize(db), 0, "a reader leaves the 0-byte file as it was")
    run(db, "-q", "import", data("simple.xml"), expect=0)
    eq(len(run(db, "hosts", "--format", "json", expect=0).json()), 1, "hosts after import")


@t.case
def not_a_sqlite_file_is_named_once():
    sqlite_case("a file that is not SQLite")
    db = os.path.join(tmpdir(), "x.db")
    with open(db, "wb") as f:
        f.write(b"this is not a database, just text " * 100)
    h = sha(db)
    for args in (["hosts"], ["import", data("simple.xml")], ["migrate", "up"]):
        r = run(db, *args, expect=1)
        eq(r.err, f"scandb: {db} is not a SQLite database\n", f"{args[0]}: message")
    eq(sha(db), h, "file unchanged")


def as_nobody(argv):
    return ["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups"] + argv


@t.case
def reading_commands_read_a_read_only_database():
    """As an unprivileged user (setpriv; root ignores permission bits), a
    database in a directory and file this user may not write is read by
    every reading command, and nothing is written next to it."""
    sqlite_case("file permissions")
    if os.geteuid() != 0 or not shutil.which("setpriv"):
        skip_case("needs root and setpriv to run scandb as another user")
    d = tmpdir()
    db = os.path.join(d, "ro", "s.db")
    run(db, "-q", "import", data("simple.xml"), expect=0)
    run(db, "-q", "import", data("complex.xml"), expect=0)
    os.chmod(d, 0o755)
    p = os.path.dirname(d)
    while p != "/":  # the way down must be open to the other user
        if not os.stat(p).st_mode & stat.S_IXOTH:
            skip_case(f"{p} is not searchable by other users")
        p = os.path.dirname(p)
    os.chmod(db, 0o444)
    os.chmod(os.path.dirname(db), 0o555)
    before = (sha(db), listing(os.path.dirname(db)))
    try:
        for args in READERS + [["jobs", "--format", "json"]]:
            args = [a.replace("192.0.2.1", "64.13.134.52") for a in args]
            p = subprocess.run(as_nobody([SCANDB, "--db", db] + args), capture_output=True,
                               text=True, timeout=TIMEOUT)
            want = {"diff": 1}.get(args[0], 0)  # diff 1 2: the jobs differ
            if args[0] == "finding":
                want = 1  # no finding 1 in these files
            eq(p.returncode, want, f"{' '.join(args)} as nobody on a read-only database "
                                   f"({p.stderr.strip()!r})")
            eq((sha(db), listing(os.path.dirname(db))), before,
               f"{' '.join(args)}: nothing written")
        # and a writer is told why it cannot write
        p = subprocess.run(as_nobody([SCANDB, "--db", db, "-q", "import", data("os.xml")]),
                           capture_output=True, text=True, timeout=TIMEOUT)
        eq(p.returncode, 1, f"import as nobody ({p.stderr!r})")
    finally:
        os.chmod(os.path.dirname(db), 0o755)
        os.chmod(db, 0o644)


@t.case
def global_options_after_the_command():
    db = newdb()
    run(db, "-q", "import", data("simple.xml"), expect=0)
    want = run(db, "hosts", "--format", "json", expect=0).out
    for argv in (["hosts", "--format", "json", "--db", db],
                 ["hosts", f"--db={db}", "--format", "json"],
                 ["hosts", "-q", "--no-progress", "--format", "json", "--db", db]):
        r = run(None, *argv, env={"SCANDB_DB": os.path.join(tmpdir(), "not-this.db")})
        eq((r.code, r.out), (0, want), f"scandb {' '.join(argv)}")
    # scan: scandb's options are taken out before nmap's are passed on
    if not shutil.which("nmap"):
        skip_case("nmap is not installed")
    other = os.path.join(tmpdir(), "default.db")
    r = run(None, "scan", "-sT", "-p", "1", "127.0.0.1", "--db", db, "-q",
            env={"SCANDB_DB": other}, timeout=TIMEOUT)
    eq(r.code, 0, f"scan ... --db DB: {r!r}")
    check(not os.path.exists(other), "scan wrote to the default database")
    jobs = run(db, "jobs", "--format", "json", expect=0).json()
    eq([j["status"] for j in jobs if j["kind"] == "scan"], ["completed"], "the scan's job")
    check("--db" not in jobs[0]["args"], f"--db was handed to nmap: {jobs[0]['args']!r}")


@t.case
def impossible_dates_and_durations():
    db = newdb()
    run(db, "-q", "import", data("simple.xml"), expect=0)
    for args, opt in ((["changes", "--since", "2026-02-31"], "--since"),
                      (["history", "64.13.134.52", "--since", "2026-02-30"], "--since"),
                      (["hosts", "--new-since", "2025-02-29"], "--new-since"),
                      (["prune", "--older-than", "2026-04-31"], "--older-than")):
        r = run(db, *args)
        eq(r.code, 2, f"{' '.join(args)}: exit ({r.err!r})")
        check(opt in r.err, f"{' '.join(args)}: names {opt}: {r.err!r}")
    for ok in ("6m", "2mo", "1y", "2028-02-29"):
        run(db, "changes", "--since", ok, expect=0)
    # 6m is six minutes: the import (scanned in 2009) is older than that
    r = run(db, "changes", "--since", "6m", "--format", "json", expect=0)
    eq(r.json(), [], "changes in the last 6 minutes (the scan is from 2009)")


@t.case
def prune_under_a_day_asks_for_force():
    db = newdb()
    run(db, "-q", "import", data("simple.xml"), expect=0)
    run(db, "-q", "import", data("complex.xml"), expect=0)
    for when in ("6m", "23h", "30s"):
        r = run(db, "prune", "--older-than", when)
        eq(r.code, 2, f"prune --older-than {when}: exit ({r.err!r})")
        check("--force" in r.err and when in r.err, f"asks for --force: {r.err!r}")
        eq(len(run(db, "jobs", "--format", "json", expect=0).json()), 2, "nothing removed")
    run(db, "prune", "--older-than", "6m", "--dry-run", expect=0)
    run(db, "-q", "prune", "--older-than", "6m", "--force", expect=0)


@t.case
def migrate_down_asks_for_force():
    db = newdb()
    run(db, "-q", "import", data("simple.xml"), expect=0)
    before = run(db, "migrate", "status", "--format", "json", expect=0).out
    # (down to 7 reverts 0008, which drops a table; 0009 only drops indexes)
    for args in (["migrate", "down", "0"], ["migrate", "down", "7"]):
        r = run(db, *args)
        eq(r.code, 2, f"{' '.join(args)} without --force: exit ({r.err!r})")
        check("--force" in r.err and re.search(r"\d{4}_\w+", r.err),
              f"{' '.join(args)}: names what would be dropped: {r.err!r}")
        eq(run(db, "migrate", "status", "--format", "json", expect=0).out, before,
           "nothing reverted")
    eq(len(run(db, "hosts", "--format", "json", expect=0).json()), 1, "data kept")


@t.case
def history_of_an_unknown_address():
    db = newdb()
    run(db, "-q", "import", data("simple.xml"), expect=0)
    for fmt in ("table", "json"):
        r = run(db, "history", "192.0.2.99", "--format", fmt)
        eq((r.code, r.out), (1, ""), f"history of an unknown address ({fmt})")
        eq(r.err, "scandb: no host 192.0.2.99 in the database\n", "message, as `host` says")
    run(db, "history", "64.13.134.52", expect=0)


@t.case
def typos_get_one_line_and_a_suggestion():
    r = run(None, "hots")
    eq(r.code, 2, "exit")
    eq(r.err, "scandb: unknown command 'hots'; did you mean 'hosts'?\n"
              "Try 'scandb --help'.\n", "unknown command")
    db = newdb()
    r = run(db, "hosts", "--formt", "json")
    eq(r.code, 2, "exit")
    check("did you mean '--format'?" in r.err and len(r.err.splitlines()) == 2,
          f"unknown option: {r.err!r}")
    # -q: an empty answer is no output at all (a cron job mails only news)
    run(db, "import", data("simple.xml"), expect=0)
    r = run(db, "-q", "hosts", "--port", "9/tcp")
    eq((r.code, r.out, r.err), (0, "", ""), "-q hosts that match nothing")
    r = run(db, "hosts", "--port", "9/tcp")
    eq((r.code, r.err), (0, "no hosts match\n"), "hosts that match nothing")
    r = run(db, "import", "-f", data("simple.xml"))
    eq(r.code, 2, "-f is no option of import (--force is)")
    r = run(db, "--qiet", "hosts")
    eq(r.code, 2, "exit of a mistyped global option")
    check("did you mean '--quiet'?" in r.err, f"mistyped global option: {r.err!r}")
    # every command's own options: one letter dropped from each command's
    # first long option gets that option suggested (scan passes what it
    # does not know to nmap; migrate takes a subcommand first)
    for cmd in commands():
        if cmd in ("scan", "migrate"):
            continue
        opts = [o for o in re.findall(r"--([a-z][a-z-]{3,})", run(None, cmd, "--help").out)
                if o not in ("help", "quiet", "no-progress", "db")]
        check(opts, f"{cmd} --help lists no option")
        typo = "--" + opts[0][0] + opts[0][2:]
        r = run(db, cmd, typo)
        eq(r.code, 2, f"exit of `{cmd} {typo}`")
        check(f"did you mean '--{opts[0]}'?" in r.err and len(r.err.splitlines()) == 2,
              f"`{cmd} {typo}`: {r.err!r}")


def commands():
    """The command names, from `scandb --help` (the program's own table)."""
    out = run(None, "--help", expect=0).out
    sect = out.split("Commands:\n", 1)[1].split("\n\n", 1)[0]
    return [ln.split()[0] for ln in sect.splitlines() if ln.strip()]


def option_names():
    """Every long option any command's code knows: getopt tables and the
    hand-parsed ones, read from the source."""
    names = set()
    for f in os.listdir(os.path.join(REPO, "src/cli")):
        if f.endswith(".c"):
            with open(os.path.join(REPO, "src/cli", f), encoding="utf-8") as fh:
                s = fh.read()
            names |= set(re.findall(r'\{"([a-z][a-z-]*)",\s*(?:no|required|optional)_argument',
                                    s))
            names |= set(re.findall(r'strcmp\(argv\[\w+\], "--([a-z][a-z-]*)"\)', s))
    names -= {"help", "db", "quiet", "no-progress", "version"}
    return sorted(names)


@t.case
def every_help_lists_every_option():
    d = tmpdir()
    db = os.path.join(d, "none", "x.db") if not PG else nodb()
    cands = option_names()
    check(len(cands) > 10, f"options found in the source: {cands}")
    missing = []
    for cmd in commands():
        subs = [["migrate", s] for s in ("status", "up", "down", "verify")] \
            if cmd == "migrate" else [[cmd]]
        h = run(None, cmd, "--help", expect=0).out
        check("docs/" not in h and ".md" not in h, f"{cmd} --help points into the source: {h}")
        check("Global options" in h and "--db" in h and "--no-progress" in h and "-q" in h,
              f"{cmd} --help has the global options line")
        if cmd == "scan":
            continue  # its options are nmap's
        for base in subs:
            for name in cands:
                p = subprocess.run([SCANDB, "--db", db] + base + [f"--{name}", "x"], cwd=d,
                                   capture_output=True, text=True, timeout=TIMEOUT)
                refused = ("unknown option" in p.stderr
                           or f"unexpected argument '--{name}'" in p.stderr)
                if not refused and f"--{name}" not in h:
                    missing.append(f"{' '.join(base)} --{name}")
    check(not missing, f"options accepted but not in --help: {missing}")


@t.case
def stdout_and_stderr_keep_their_order_in_one_log():
    db = newdb()
    d = tmpdir()
    bad = os.path.join(d, "bad.xml")
    with open(bad, "w") as f:
        f.write("<nmaprun><host>")
    log = os.path.join(d, "log")
    files = [data("simple.xml"), bad, data("complex.xml"), data("os.xml")]
    with open(log, "w") as f:
        p = subprocess.run([SCANDB, "--db", db, "import"] + files, stdout=f, stderr=f,
                           timeout=TIMEOUT)
    eq(p.returncode, 1, "one bad file: exit")
    lines = open(log).read().splitlines()
    idx = [next((i for i, ln in enumerate(lines) if os.path.basename(fn) in ln), -1)
           for fn in files]
    summary = next((i for i, ln in enumerate(lines) if "3 imported" in ln), -1)
    check(-1 not in idx and summary >= 0, f"every file and the summary in the log: {lines}")
    eq(idx, sorted(idx), f"files in order in the log: {lines}")
    check(summary > max(idx), f"the summary comes last: {lines}")


def run_pty(argv, cols, timeout=TIMEOUT):
    """argv with stderr on a terminal `cols` wide; (exit, stderr bytes)."""
    master, slave = pty.openpty()
    fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", 24, cols, 0, 0))
    env = dict(os.environ, COLUMNS=str(cols))
    p = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                         stderr=slave, env=env)
    os.close(slave)
    buf = b""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        r, _, _ = select.select([master], [], [], 1)
        if not r:
            if p.poll() is not None:
                break
            continue
        try:
            chunk = os.read(master, 65536)
        except OSError:
            break
        if not chunk:
            break
        buf += chunk
    os.close(master)
    return p.wait(timeout=timeout), buf


@t.case
def progress_line_fits_a_narrow_terminal():
    sys.path.insert(0, os.path.dirname(__file__))
    from gen_nmap_xml import generate
    d = tmpdir()
    deep = os.path.join(d, "a-rather-long-directory-name", "and-another-one-below-it")
    os.makedirs(deep)
    big = os.path.join(deep, "a-big-scan-of-many-hosts.xml")
    db = newdb()
    # the progress line appears after a second: an idle machine imports a
    # small file faster than that, so the file grows until one takes longer
    hosts = 9000
    for cols in (40, 60):
        for _ in range(5):
            if not os.path.exists(big):
                generate(big, hosts=hosts, ports=10, seed=3)
            t0 = time.monotonic()
            code, err = run_pty([SCANDB, "--db", db, "import", "--force", big], cols)
            took = time.monotonic() - t0
            if took >= 2.5:
                break
            os.unlink(big)
            hosts *= 3
        eq(code, 0, f"import under a pty: {err[-300:]!r}")
        text = err.decode("utf-8")
        segs = [s.replace("\x1b[K", "") for s in re.split(r"[\r\n]", text)]
        progress = [s for s in segs if s.startswith("importing")]
        check(progress, f"a progress line was shown ({cols} columns): {text[:300]!r}")
        long_ = [s for s in segs if len(s) > cols - 1]
        check(not long_, f"lines wider than {cols - 1} columns: {long_[:3]}")
        check(all("\n" not in s for s in progress), "progress lines are rewritten with \\r")
        eq(text.count("\n"), text.count("scandb:"),
           f"newlines only after scandb's messages, none from the progress: {text[-300:]!r}")
        check(any("ETA" in s for s in progress), f"an ETA is shown: {progress[:3]}")
        check(any("\u2026" in s for s in progress), f"the path is shortened: {progress[:3]}")


@t.case
def scan_warnings_are_shown_and_kept():
    if not shutil.which("nmap"):
        skip_case("nmap is not installed")
    db = newdb()
    # nothing scanned because of the warnings: failed, not an empty success
    r = run(db, "scan", "-sT", "-p", "1", "nonexistent.invalid", timeout=TIMEOUT)
    eq(r.code, 1, f"scan of a name that does not resolve: {r!r}")
    check('Failed to resolve "nonexistent.invalid"' in r.err, f"warning shown: {r.err!r}")
    # something scanned: completed, with the warning kept on the job
    r = run(db, "scan", "-sT", "-p", "1", "127.0.0.1", "nonexistent.invalid", timeout=TIMEOUT)
    eq(r.code, 0, f"scan of 127.0.0.1 and a bad name: {r!r}")
    check('Failed to resolve "nonexistent.invalid"' in r.err, f"warning shown: {r.err!r}")
    r = run(db, "scan", "-sT", "-p", "1", "127.0.0.1/33", timeout=TIMEOUT)
    check("Illegal netmask" in r.err, f"netmask warning shown: {r.err!r}")
    jobs = {j["id"]: j for j in run(db, "jobs", "--format", "json", expect=0).json()}
    eq([jobs[i]["status"] for i in (1, 2, 3)], ["failed", "completed", "completed"], "statuses")
    check("Failed to resolve" in jobs[1]["error"] and "No targets" in jobs[1]["error"],
          f"job 1 keeps nmap's warnings: {jobs[1]['error']!r}")
    check("Failed to resolve" in (jobs[2]["error"] or ""), f"job 2 keeps it: {jobs[2]!r}")
    check("Illegal netmask" in (jobs[3]["error"] or ""), f"job 3 keeps it: {jobs[3]!r}")
    check("Failed to resolve" in run(db, "job", "2", expect=0).out, "`job 2` shows it")


t.main()
