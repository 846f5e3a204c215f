#!/usr/bin/python3
# e2e: no database
"""scripts/install-deps.sh and the tool-only build (the README's first
command on a machine with nothing installed).

install-deps.sh runs against stand-ins for dpkg-query, apt-get and sudo put
first on PATH: they record their arguments, say which packages are missing,
and can make `apt-get update` fail as when another apt holds the package
lists' lock.  Nothing is installed for real.  The tool-only build configures
CMake with a pkg-config search path that lacks cmocka, as on a machine that
ran `install-deps.sh --runtime-only`."""
import os
import re
import shutil
import stat
import subprocess

from e2e_util import REPO, Tests, check, eq, skip_case, tmpdir

t = Tests("install_deps")
SCRIPT = os.path.join(REPO, "scripts/install-deps.sh")


def stand_ins(d, installed, update_failures=0):
    """A bin directory of stand-ins; returns (bin dir, log path)."""
    b = os.path.join(d, "bin")
    os.makedirs(b)
    log = os.path.join(d, "log")
    count = os.path.join(d, "update-count")
    scripts = {
        # dpkg-query -W -f='${Status}' PKG
        "dpkg-query": f"""#!/bin/sh
for p in {' '.join(installed)}; do
  [ "$p" = "$3" ] && {{ printf 'install ok installed'; exit 0; }}
done
exit 1
""",
        "apt-get": f"""#!/bin/sh
echo "apt-get $*" >>{log}
case " $* " in
*" update "*)
  n=$(cat {count} 2>/dev/null || echo 0); n=$((n + 1)); echo $n >{count}
  if [ $n -le {update_failures} ]; then
    echo "E: Could not get lock /var/lib/apt/lists/lock" >&2; exit 100
  fi ;;
esac
exit 0
""",
        "sudo": """#!/bin/sh
exec "$@"
""",
        "sleep": "#!/bin/sh\nexit 0\n",  # the retry's pause, made instant
    }
    for name, text in scripts.items():
        p = os.path.join(b, name)
        with open(p, "w") as f:
            f.write(text)
        os.chmod(p, stat.S_IRWXU)
    return b, log


def run_script(b, *args):
    env = dict(os.environ, PATH=f"{b}:{os.environ['PATH']}")
    return subprocess.run(["bash", SCRIPT, *args], capture_output=True, text=True, env=env,
                          timeout=60)


def apt_calls(log):
    if not os.path.exists(log):
        return []
    with open(log) as f:
        return f.read().splitlines()


@t.case
def nothing_missing_runs_no_apt():
    d = tmpdir()
    everything = ["build-essential", "cmake", "ninja-build", "pkg-config", "libsqlite3-dev",
                  "libexpat1-dev", "libjansson-dev", "libssl-dev", "libpq-dev",
                  "libmicrohttpd-dev", "nmap"]
    b, log = stand_ins(d, everything)
    r = run_script(b, "--runtime-only")
    eq(r.returncode, 0, f"exit status ({r.stderr})")
    eq(apt_calls(log), [], "apt-get calls when nothing is missing")


@t.case
def waits_for_the_dpkg_lock_and_retries_a_locked_update():
    d = tmpdir()
    b, log = stand_ins(d, ["cmake"], update_failures=2)
    r = run_script(b, "--runtime-only")
    eq(r.returncode, 0, f"exit status ({r.stderr})")
    calls = apt_calls(log)
    updates = [c for c in calls if " update" in c]
    installs = [c for c in calls if " install " in c]
    eq(len(updates), 3, f"apt-get update tries (two failed on the lock): {calls}")
    eq(len(installs), 1, f"apt-get install calls: {calls}")
    for c in updates + installs:
        check("DPkg::Lock::Timeout=" in c, f"apt-get does not wait for the dpkg lock: {c}")
    check("retrying" in r.stderr, f"the retry is not said: {r.stderr!r}")
    # the runtime set: no test tools
    for p in ("libcmocka-dev", "postgresql", "clang", "valgrind"):
        check(p not in installs[0], f"--runtime-only installs {p}: {installs[0]}")
    check("libpq-dev" in installs[0] and "nmap" in installs[0] and
          "libmicrohttpd-dev" in installs[0],
          f"--runtime-only misses a runtime package: {installs[0]}")
    check("cmake" not in installs[0].split(), "an installed package is installed again")


@t.case
def full_set_has_the_test_tools():
    d = tmpdir()
    b, log = stand_ins(d, [])
    r = run_script(b)
    eq(r.returncode, 0, f"exit status ({r.stderr})")
    installs = [c for c in apt_calls(log) if " install " in c]
    for p in ("libcmocka-dev", "postgresql", "clang", "ndiff", "valgrind"):
        check(p in installs[0], f"the full set lacks {p}: {installs[0]}")


@t.case
def a_bad_option_is_a_usage_error():
    d = tmpdir()
    b, log = stand_ins(d, [])
    r = run_script(b, "--runtime")
    eq(r.returncode, 2, "exit status of an unknown option")
    check("usage:" in r.stderr, f"no usage line: {r.stderr!r}")
    eq(apt_calls(log), [], "apt-get calls after a usage error")


def pkg_config_dir_without_cmocka(d):
    out = subprocess.run(["pkg-config", "--variable", "pc_path", "pkg-config"],
                         capture_output=True, text=True, check=True).stdout.strip()
    pc = os.path.join(d, "pc")
    os.makedirs(pc)
    for src in out.split(":"):
        if os.path.isdir(src):
            for f in os.listdir(src):
                if f.endswith(".pc") and f != "cmocka.pc":
                    shutil.copy(os.path.join(src, f), pc)
    return pc


def configure(d, pc, *options):
    build = os.path.join(d, "build")
    env = dict(os.environ, PKG_CONFIG_LIBDIR=pc)
    return build, subprocess.run(["cmake", "-S", REPO, "-B", build, "-G", "Ninja", *options],
                                 capture_output=True, text=True, env=env, timeout=300)


@t.case
def runtime_only_machine_builds_the_tool_alone_without_a_warning():
    if not shutil.which("cmake") or not shutil.which("ninja"):
        skip_case("cmake or ninja not installed")
    d = tmpdir()
    pc = pkg_config_dir_without_cmocka(d)
    build, r = configure(d, pc)
    eq(r.returncode, 0, f"configure without cmocka: {r.stderr}")
    both = r.stdout + r.stderr
    check(not re.search(r"warning", both, re.I), f"configure warns: {both}")
    check("Building the scandb tool only" in both, f"configure does not say so: {r.stdout}")
    targets = subprocess.run(["ninja", "-C", build, "-t", "targets", "all"], capture_output=True,
                             text=True, timeout=60).stdout
    names = {line.split(":")[0] for line in targets.splitlines()}
    check("scandb" in names, "no scandb target")
    extra = sorted(n for n in names if re.fullmatch(r"(test_|bench_)\w+", n))
    eq(extra, [], "test and benchmark programs in a tool-only build")
    check(not os.path.exists(os.path.join(build, "CTestTestfile.cmake")),
          "tests registered in a tool-only build")
    # the test suite asks for them: no cmocka is an error there
    build2, r = configure(os.path.join(d, "on"), pc, "-DSCANDB_TESTS=ON")
    check(r.returncode != 0 and "cmocka" in r.stderr,
          f"SCANDB_TESTS=ON without cmocka: exit {r.returncode}, {r.stderr[-300:]}")


t.main()
