#!/usr/bin/python3
"""End-to-end, PostgreSQL only: a password in the database URL never shows.

The cluster's role scandb_pw must log in with a password (scram-sha-256,
scripts/pg-cluster.sh).  scandb is given postgresql://scandb_pw:PASSWORD@...:
  - while it runs, its command line (/proc/PID/cmdline, what `ps` shows)
    does not hold the password;
  - a connection that fails (unknown database, wrong password, nothing
    listening, the password given as ?password=) is reported with a clear
    error that does not echo the password;
  - and the password does work: an import through that URL is stored.
"""
import os
import resource
import shutil
import socket
import subprocess
import tempfile
import time

from e2e_util import (PG, SCANDB, Tests, check, data, eq, pg_env, pg_newdb, pg_require_backend,
                      pg_url, run, skip, sql1)

t = Tests("pg_password")


def secret():
    return pg_env()["SCANDB_PG_PW_PASSWORD"]


def pw_url(dbname, password=None):
    return pg_url(dbname, user=pg_env()["SCANDB_PG_PW_USER"],
                  password=secret() if password is None else password)


def conninfo(dbname, password=None):
    """The same, as a libpq key=value target (scandb's `pg:` form)."""
    e = pg_env()
    return (f"pg:host={e['SCANDB_PG_HOST']} port={e['SCANDB_PG_PORT']} "
            f"user={e['SCANDB_PG_PW_USER']} password={password or secret()} dbname={dbname}")


def owned_db():
    """A fresh database owned by the password role; its name."""
    url = pg_newdb(owner=pg_env()["SCANDB_PG_PW_USER"])
    return url.rsplit("/", 1)[1]


def no_secret(r, what, pw=None):
    pw = pw or secret()
    check(pw not in r.out and pw not in r.err,
          f"{what}: the password appears in scandb's output: stdout {r.out[-500:]!r}, "
          f"stderr {r.err[-500:]!r}")


def cmdline(pid):
    with open(f"/proc/{pid}/cmdline", "rb") as f:
        return f.read().replace(b"\0", b" ").decode("utf-8", "replace")


def ps_args(pid):
    p = subprocess.run(["ps", "-ww", "-o", "args=", "-p", str(pid)], capture_output=True,
                       text=True, timeout=10)
    return p.stdout


@t.case
def password_url_works():
    """The password is accepted (scram): an import through it is stored."""
    name = owned_db()
    r = run(pw_url(name), "import", data("simple.xml"), expect=0)
    no_secret(r, "import")
    r = run(pw_url(name), "hosts", "--format", "json", expect=0)
    no_secret(r, "hosts")
    eq(len(r.json()), 1, "hosts of simple.xml")
    eq(sql1(pg_url(name), "SELECT count(*) FROM jobs WHERE status = 'completed'"), 1,
       "jobs stored through the password URL")


@t.case
def password_not_in_process_arguments():
    """A scandb that blocks (import - on a pipe kept open): /proc/PID/cmdline
    and ps do not show the password once it is connected."""
    name = owned_db()
    run(pw_url(name), "migrate", "up", expect=0)
    blocked_import_hides_password(name, pw_url(name))


@t.case
def password_not_in_process_arguments_key_value_target():
    name = owned_db()
    run(conninfo(name), "migrate", "up", expect=0)
    blocked_import_hides_password(name, conninfo(name))


def blocked_import_hides_password(name, url):
    p = subprocess.Popen([SCANDB, "--db", url, "-q", "import", "-"], stdin=subprocess.PIPE,
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        # connected: its session shows in pg_stat_activity (bounded wait)
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline and p.poll() is None:
            n = sql1(pg_url("postgres"), "SELECT count(*) FROM pg_stat_activity "
                                         "WHERE usename = ? AND datname = ?",
                     (pg_env()["SCANDB_PG_PW_USER"], name))
            if n:
                break
            time.sleep(0.05)
        else:
            if p.poll() is not None:
                out, err = p.communicate(timeout=30)
                raise AssertionError(f"scandb import - exited early ({p.returncode}): "
                                     f"{err.decode(errors='replace')[-500:]!r}")
            raise AssertionError("scandb never connected within 30 s")
        time.sleep(0.2)
        check(p.poll() is None, "scandb import - should still be reading its standard input")
        cl, ps = cmdline(p.pid), ps_args(p.pid)
        check(secret() not in cl, f"/proc/{p.pid}/cmdline shows the password: {cl!r}")
        check(secret() not in ps, f"ps shows the password: {ps!r}")
        check("import" in cl, f"/proc/{p.pid}/cmdline still names the command: {cl!r}")
    finally:
        try:  # end of input: the import ends (nothing to import)
            out, err = p.communicate(input=b"", timeout=30)
        except subprocess.TimeoutExpired:
            p.kill()
            out, err = p.communicate(timeout=30)
    both = (out + err).decode(errors="replace")
    check(secret() not in both, f"the password appears in scandb's output: {both[-500:]!r}")


@t.case
def failing_connections_do_not_echo_the_password():
    e = pg_env()
    # a port nothing listens on: the cluster's port + 1 is checked first
    closed = int(e["SCANDB_PG_PORT"]) + 1
    p = subprocess.run(["bash", "-c", f"exec 3<>/dev/tcp/127.0.0.1/{closed}"],
                       capture_output=True, timeout=10)
    closed_url = None
    if p.returncode != 0:
        closed_url = (f"postgresql://{e['SCANDB_PG_PW_USER']}:{secret()}@127.0.0.1:{closed}/"
                      "scandb")
    name = owned_db()
    cases = [
        ("unknown database", pw_url("no_such_database_here"), secret(),
         ("does not exist", "no_such_database_here")),
        ("wrong password", pw_url(name, password="WrongPw" + secret()[::-1]),
         "WrongPw" + secret()[::-1], ("password", "authentication")),
        ("password as a URI parameter",
         pg_url("no_such_database_here", user=e["SCANDB_PG_PW_USER"]) +
         f"?password={secret()}", secret(), ("does not exist",)),
        ("key=value target", conninfo("no_such_database_here"), secret(), ("does not exist",)),
    ]
    if closed_url:
        cases.append(("nothing listening", closed_url, secret(),
                      ("connect", "refused", "connection")))
    problems = []
    for what, url, pw, words in cases:
        for args in (["hosts"], ["import", data("simple.xml")], ["migrate", "status"]):
            r = run(url, *args, timeout=60)
            if r.code != 1:
                problems.append(f"{what}, {args[0]}: exit {r.code}, want 1 ({r.err[-300:]!r})")
            if pw in r.out or pw in r.err:
                problems.append(f"{what}, {args[0]}: the password is echoed: {r.err[-300:]!r}")
            low = r.err.lower()
            if not any(w in low for w in words):
                problems.append(f"{what}, {args[0]}: the error does not say what failed "
                                f"(want one of {words}): {r.err[-300:]!r}")
    eq(problems, [], "failing connections")


@t.case
def malformed_uri_passwords_do_not_echo():
    """libpq's URI parse errors quote the raw value ("invalid percent-encoded
    token: ..."), before it knows which part is the password: scandb finds
    the password in the target itself and never shows it."""
    e = pg_env()
    user, host, port = e["SCANDB_PG_PW_USER"], e["SCANDB_PG_HOST"], e["SCANDB_PG_PORT"]
    if host.startswith("/"):
        host = "127.0.0.1"
    cases = [
        ("a bad percent escape", "Zq%zzSecretPw7", ["Zq%zzSecretPw7", "SecretPw7"]),
        ("a question mark", "Zq?SecretPw8x", ["Zq?SecretPw8x", "SecretPw8x"]),
        ("the mask itself", "***", []),
        # libpq reads a raw '/' as the end of the host: "Zq" becomes the port
        ("a raw slash", "Zq/SecretPw9y", ["Zq/SecretPw9y", "SecretPw9y", '"Zq"']),
    ]
    problems = []
    for what, pw, needles in cases:
        url = f"postgresql://{user}:{pw}@{host}:{port}/no_such_database_here"
        for args in (["hosts"], ["migrate", "status"]):
            r = run(url, *args, timeout=60)
            if r.code != 1:
                problems.append(f"{what}, {args[0]}: exit {r.code}, want 1 ({r.err[-300:]!r})")
            for n in needles:
                if n in r.out or n in r.err:
                    problems.append(f"{what}, {args[0]}: {n!r} is echoed: {r.err[-300:]!r}")
            if "could not connect" not in r.err.lower():
                problems.append(f"{what}, {args[0]}: no clear error: {r.err[-300:]!r}")
    eq(problems, [], "malformed URI passwords")


def silent_server():
    """A TCP listener on 127.0.0.1 that accepts and never answers: a scandb
    connecting to it waits (connect_timeout) with its target in argv."""
    srv = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    srv.bind(("127.0.0.1", 0))
    srv.listen(8)
    srv.settimeout(30)
    return srv


def core_limit_up():
    """In the child: the core size limit as high as allowed, so that only
    scandb itself can bring it to 0."""
    soft, hard = resource.getrlimit(resource.RLIMIT_CORE)
    resource.setrlimit(resource.RLIMIT_CORE, (hard, hard))


@t.case
def no_core_dump_while_a_password_is_held():
    """A scandb holding a password (issue 17) is not dumpable and its core
    size limit is 0: a crash writes no core file with the password in it.
    (Non-dumpable shows as /proc/PID owned by root; as root, scandb runs
    as nobody so that this can be seen.)"""
    name = owned_db()
    run(pw_url(name), "migrate", "up", expect=0)
    user = 65534 if os.geteuid() == 0 else None
    env = dict(os.environ)
    binary, own = SCANDB, None
    if user is not None:  # nobody reads nothing of root's home
        env["HOME"] = "/nonexistent"
        env.pop("XDG_CONFIG_HOME", None)
        # nor, maybe, the tree (a clone in a private `mktemp -d`): a copy of
        # the binary where any user may run it
        own = tempfile.mkdtemp(prefix="scandb-nobody-", dir="/tmp")
        os.chmod(own, 0o755)
        binary = shutil.copy(SCANDB, own)
    try:
        for url in (pw_url(name), conninfo(name)):
            p = subprocess.Popen([binary, "--db", url, "-q", "import", "-"],
                                 stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                 stderr=subprocess.PIPE, user=user, preexec_fn=core_limit_up,
                                 env=env, cwd="/")
            try:
                wait_connected(p, name)
                with open(f"/proc/{p.pid}/limits") as f:
                    core = [ln for ln in f if ln.startswith("Max core file size")][0].split()
                eq(core[4], "0", f"RLIMIT_CORE (soft) while connected: {core}")
                eq(os.stat(f"/proc/{p.pid}/status").st_uid, 0,
                   "/proc/PID owned by root: the process is not dumpable")
            finally:
                out, err = p.communicate(input=b"", timeout=30)
            check(secret() not in (out + err).decode(errors="replace"),
                  "no password in output")
    finally:
        if own:
            shutil.rmtree(own, ignore_errors=True)


def wait_connected(p, name):
    """Until scandb p has a session in database `name` (bounded)."""
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline and p.poll() is None:
        if sql1(pg_url("postgres"), "SELECT count(*) FROM pg_stat_activity "
                                    "WHERE usename = ? AND datname = ?",
                (pg_env()["SCANDB_PG_PW_USER"], name)):
            time.sleep(0.1)
            return
        time.sleep(0.05)
    if p.poll() is not None:
        out, err = p.communicate(timeout=30)
        raise AssertionError(f"scandb exited early ({p.returncode}): {err[-500:]!r}")
    raise AssertionError("scandb never connected within 30 s")


# Issue 17: what libpq reads as a password, however it is written: a
# percent-encoded keyword, sslpassword, an escaped space inside the value,
# \v \r \f as separators.  SECRET is a part of the value no masking by
# spelling would catch.
SECRET = "Zk7SecretPart"


def odd_targets(host, port, user, dbname):
    kv = f"host={host} port={port} user={user}"
    return [
        f"postgresql://{user}@{host}:{port}/{dbname}?pass%77ord={SECRET}",
        f"postgresql://{user}@{host}:{port}/{dbname}?%70assword=x{SECRET}&sslmode=disable",
        f"postgresql://{user}@{host}:{port}/{dbname}?sslpassword={SECRET}",
        f"postgresql://{user}@{host}:{port}/{dbname}?sslpass%77ord={SECRET}",
        f"pg:{kv} sslpassword={SECRET} dbname={dbname}",
        f"pg:{kv} password=abc\\ {SECRET} dbname={dbname}",
        f"pg:{kv} password='abc {SECRET}' dbname={dbname}",
        f"pg:{kv}\vpassword={SECRET} dbname={dbname}",
        f"pg:{kv}\rpassword={SECRET} dbname={dbname}",
        f"pg:{kv}\fpassword={SECRET} dbname={dbname}",
        f"pg:{kv}\vpassword\f=\r{SECRET}\tdbname={dbname}",
    ]


@t.case
def odd_spellings_hidden_from_ps():
    """scandb connecting to a server that never answers, the target on its
    command line: /proc/PID/cmdline and ps show no part of the secret."""
    problems = []
    for template in odd_targets("127.0.0.1", "{port}", "scandb_pw", "db"):
        problems += cmdline_while_connecting(template)
    eq(problems, [], "secrets shown in the process arguments")


def cmdline_while_connecting(template):
    """scandb --db TARGET hosts, TARGET with "{port}" replaced by the port of
    a silent listener; the problems seen once it has connected."""
    problems = []
    srv = silent_server()
    target = template.replace("{port}", str(srv.getsockname()[1]))
    p = subprocess.Popen([SCANDB, "--db", target, "hosts"], stdout=subprocess.PIPE,
                         stderr=subprocess.PIPE, env=dict(os.environ, PGCONNECT_TIMEOUT="30"))
    conn = None
    try:
        try:
            conn, _ = srv.accept()
        except socket.timeout:
            p.kill()
            out, err = p.communicate(timeout=30)
            return [f"{target!r}: never connected (exit {p.returncode}): {err[-300:]!r}"]
        cl, ps = cmdline(p.pid), ps_args(p.pid)
        for where, text in (("/proc/PID/cmdline", cl), ("ps", ps)):
            if SECRET in text:
                problems.append(f"{target!r}: {where} shows the secret: {text!r}")
        if "hosts" not in cl:
            problems.append(f"{target!r}: the command line lost its command: {cl!r}")
    finally:
        p.kill()  # our own child, by its pid
        out, err = p.communicate(timeout=30)
        if conn:
            conn.close()
        srv.close()
    if SECRET.encode() in out + err:
        problems.append(f"{target!r}: scandb printed the secret: {(out + err)[-300:]!r}")
    return problems


@t.case
def odd_spellings_not_in_messages():
    """Every failing connection (an unknown database, the password refused,
    nothing listening) with the secret spelled as libpq allows: the message
    says what failed and never shows it."""
    e = pg_env()
    host, port, user = "127.0.0.1", e["SCANDB_PG_PORT"], e["SCANDB_PG_PW_USER"]
    closed = silent_server()
    closed_port = closed.getsockname()[1]
    closed.close()  # nothing listens there now
    problems = []
    for p_, db, words in ((port, "no_such_database_here",
                           ("does not exist", "password", "authentication")),
                          (closed_port, "db", ("connect", "refused"))):
        for target in odd_targets(host, p_, user, db):
            r = run(target, "hosts", timeout=60)
            if r.code != 1:
                problems.append(f"{target!r}: exit {r.code}, want 1 ({r.err[-300:]!r})")
            if SECRET in r.out or SECRET in r.err:
                problems.append(f"{target!r}: the secret is echoed: {r.err[-300:]!r}")
            if not any(w in r.err.lower() for w in words):
                problems.append(f"{target!r}: the error does not say what failed: "
                                f"{r.err[-300:]!r}")
    # the password role's real password through a percent-encoded keyword:
    # libpq uses it (the import is stored), and it never shows
    name = owned_db()
    url = pg_url(name, user=user) + f"?pass%77ord={secret()}"
    r = run(url, "import", data("simple.xml"))
    if r.code != 0:
        problems.append(f"?pass%77ord=: import exit {r.code}: {r.err[-300:]!r}")
    if secret() in r.out + r.err:
        problems.append(f"?pass%77ord=: the password is echoed: {r.err[-300:]!r}")
    # a target libpq cannot parse: nothing of it after the scheme is shown
    for target in (f"postgresql://{user}@{host}:{port}/db?pass%77ord={SECRET}%zz",
                   f"postgresql://{user}:{SECRET}@[::1/db",
                   f"pg:host={host} passwd={SECRET}"):
        r = run(target, "hosts", timeout=60)
        if r.code != 1 or SECRET in r.out + r.err or "not a valid" not in r.err:
            problems.append(f"{target!r}: exit {r.code}, stderr {r.err[-300:]!r}")
    eq(problems, [], "odd spellings of the password")


if __name__ == "__main__":
    if not PG:
        skip("PostgreSQL-only test (run with SCANDB_TEST_BACKEND=pg)")
    pg_env()  # no cluster: a loud skip (or a failure in CI)
    pg_require_backend()
    t.main()
