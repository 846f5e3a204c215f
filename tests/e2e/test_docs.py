#!/usr/bin/env python3
# e2e: no database
"""The documentation is true to the binary: every option each `scandb CMD
--help` lists is in the man page and in the shell completions, and nothing
else is; the man page renders without warnings; `cmake --install` puts the
binary, the man page and both completions in place; the README starts with
its two commands and stays short; every relative link in README.md and
docs/ points at a file; nothing in the tree reads the old shared directory;
the loopback example runs.  Touches no database of the suite: runs once,
whatever the backend (CTest: e2e.test_docs)."""
import glob
import os
import re
import shutil
import subprocess
import time

from e2e_util import REPO, SCANDB, Tests, check, eq, skip_case, tmpdir

t = Tests("docs")
TIMEOUT = 60
MAN = os.path.join(REPO, "man", "scandb.1")
BASH = os.path.join(REPO, "completions", "scandb.bash")
ZSH = os.path.join(REPO, "completions", "_scandb")
README = os.path.join(REPO, "README.md")

OPT = re.compile(r"(?<![\w-])(--?[A-Za-z][\w-]*)")
# accepted after a command too; --version only before it
AFTER_COMMAND = {"--db", "-q", "--quiet", "--no-progress"}


def sh(args, **kw):
    kw.setdefault("timeout", TIMEOUT)
    return subprocess.run(args, capture_output=True, text=True, **kw)


def help_text(*args):
    r = sh([SCANDB, *args, "--help"])
    eq(r.returncode, 0, f"scandb {' '.join(args)} --help exit status")
    return r.stdout


def help_options(text):
    """Options a --help lists: those in its usage lines (up to the first
    blank line) and those that start an indented option line; the closing
    paragraph on global options is not the command's."""
    lines = text.splitlines()
    opts, i = set(), 0
    while i < len(lines) and lines[i].strip():
        opts |= set(OPT.findall(lines[i]))
        i += 1
    for line in lines[i:]:
        if line.startswith("Global options"):
            break
        m = re.match(r"^\s+(-\S.*?)(?:\s{2,}|$)", line)
        if m:
            opts |= set(OPT.findall(m.group(1)))
    return opts


_cache = {}


def commands():
    if "commands" not in _cache:
        text = help_text()
        body = text.split("Commands:\n", 1)[1].split("\n\n", 1)[0]
        _cache["commands"] = [ln.split()[0] for ln in body.splitlines() if ln.strip()]
        check(len(_cache["commands"]) >= 18, f"commands in --help: {_cache['commands']}")
    return _cache["commands"]


def global_options():
    return help_options(help_text())


def command_options(cmd):
    key = "opts." + cmd
    if key not in _cache:
        _cache[key] = help_options(help_text(cmd))
    return _cache[key]


def read(path):
    with open(path, encoding="utf-8") as f:
        return f.read()


def roff_plain(s):
    s = re.sub(r"\\f[BIRP]", "", s).replace("\\-", "-").replace("\\&", "")
    return s


def man_options():
    """{section: options} from the man page: the tag of every .TP item,
    per .SH section and per .SS subsection (one per command)."""
    lines = read(MAN).splitlines()
    secs, cur = {}, None
    for i, line in enumerate(lines):
        if line.startswith(".SH "):
            cur = line[4:].strip().strip('"')
            secs.setdefault(cur, set())
        elif line.startswith(".SS "):
            cur = "COMMANDS/" + line[4:].strip().strip('"')
            secs.setdefault(cur, set())
        elif line.startswith(".TP") and cur and i + 1 < len(lines):
            secs[cur] |= set(OPT.findall(roff_plain(lines[i + 1])))
    return secs


@t.case
def every_help_option_is_in_the_man_page_and_nothing_else():
    secs = man_options()
    documented = sorted(k.split("/", 1)[1] for k in secs if k.startswith("COMMANDS/"))
    eq(documented, sorted(commands()), "commands with a section in the man page")
    for cmd in commands():
        eq(sorted(secs["COMMANDS/" + cmd]), sorted(command_options(cmd)),
           f"options of '{cmd}' in the man page (against 'scandb {cmd} --help')")
    eq(sorted(secs["GLOBAL OPTIONS"]), sorted(global_options()),
       "GLOBAL OPTIONS against 'scandb --help'")
    for want in ("NAME", "SYNOPSIS", "DESCRIPTION", "ENVIRONMENT", "FILES", "EXIT STATUS",
                 "EXAMPLES", "SEE ALSO"):
        check(want in secs, f"man page section {want}")
    text = roff_plain(read(MAN))
    for var in ("SCANDB_DB", "XDG_DATA_HOME"):
        check(var in text, f"{var} in the man page")
    check("0 the scans are the same, 1 they differ, 2 error" in text,
          "diff's exit status (as ndiff) in the man page")


@t.case
def help_points_at_no_file_of_the_source_tree():
    for cmd in [None] + commands():
        text = help_text(*([cmd] if cmd else []))
        for where in ("docs/", "src/", "tests/", "README"):
            check(where not in text, f"'scandb {cmd or ''} --help' mentions {where}")


@t.case
def man_page_renders_without_warnings():
    text = read(MAN)
    check(text.startswith(".\\\"") or text.startswith(".TH"), "man page starts with .TH")
    check(re.search(r"^\.TH SCANDB 1 ", text, re.M), ".TH SCANDB 1")
    version = sh([SCANDB, "--version"]).stdout.strip()  # "scandb 0.1.0"
    check(re.search(rf'^\.TH SCANDB 1 "[0-9-]+" "{re.escape(version)}"', text, re.M),
          f"the man page's .TH names {version!r}")
    ran = []
    env = dict(os.environ, LC_ALL="C.UTF-8", MANWIDTH="80")
    if shutil.which("groff"):
        r = sh(["groff", "-man", "-ww", "-z", MAN], env=env)
        eq((r.returncode, r.stderr), (0, ""), "groff -man -ww -z: exit status and warnings")
        ran.append("groff")
    if shutil.which("man"):
        r = sh(["man", "--warnings", "-l", MAN], env=env)
        eq((r.returncode, r.stderr), (0, ""), "man --warnings -l: exit status and warnings")
        out = re.sub(r".\x08", "", r.stdout)
        for cmd in commands():
            check(re.search(rf"^   {cmd}$", out, re.M), f"rendered page: section for {cmd}")
        ran.append("man")
    if not ran:
        # no formatter here: the structure at least (every request known)
        known = {"TH", "SH", "SS", "TP", "PP", "B", "I", "BR", "BI", "IR", "RB", "RI", "br",
                 "RS", "RE", "EX", "EE", "IP"}
        for n, line in enumerate(text.splitlines(), 1):
            if line.startswith(".") and not line.startswith(".\\\""):
                req = line[1:].split()[0] if line[1:].split() else ""
                check(req in known, f"{MAN}:{n}: unknown request .{req}")
        skip_case("neither groff nor man is installed: checked the structure only")


def bash_complete(words):
    """COMPREPLY of the bash completion for the command line `words` (the
    last word is the one being completed)."""
    script = ('source "$1"; shift; COMP_WORDS=("$@"); COMP_CWORD=$((${#COMP_WORDS[@]} - 1)); '
              'COMP_LINE="$*"; _scandb; printf "%s\\n" "${COMPREPLY[@]}"')
    r = sh(["bash", "--norc", "--noprofile", "-c", script, "bash", BASH, *words], cwd=REPO)
    eq((r.returncode, r.stderr), (0, ""), f"bash completion of {words}")
    return [w for w in r.stdout.splitlines() if w]


@t.case
def bash_completion_completes_commands_options_and_values():
    if not shutil.which("bash"):
        skip_case("no bash")
    eq(sorted(bash_complete(["scandb", "ho"])), ["host", "hosts"], "scandb ho<TAB>")
    eq(sorted(bash_complete(["scandb", ""])), sorted(commands()), "scandb <TAB>")
    eq(sorted(bash_complete(["scandb", "-"])), sorted(global_options()), "scandb -<TAB>")
    eq(sorted(bash_complete(["scandb", "--db", "x.db", "jo"])), ["job", "jobs"],
       "the command after --db's value")
    for cmd in commands():
        want = command_options(cmd) | AFTER_COMMAND | {"--help"}
        eq(sorted(bash_complete(["scandb", cmd, "-"])), sorted(want),
           f"scandb {cmd} -<TAB> (against 'scandb {cmd} --help')")
    for cmd in ("hosts", "jobs", "changes", "stats"):
        eq(bash_complete(["scandb", cmd, "--format", ""]), ["table", "json", "ndjson", "csv"],
           f"scandb {cmd} --format <TAB>")
    eq(bash_complete(["scandb", "diff", "--format", ""]), ["text", "xml", "json"],
       "diff --format")
    eq(bash_complete(["scandb", "import", "--format", ""]), ["table", "json"], "import --format")
    eq(bash_complete(["scandb", "changes", "--kind", "host_up,port_c"]),
       ["host_up,port_closed"], "a list of kinds")
    eq(bash_complete(["scandb", "migrate", ""]), ["status", "up", "down", "verify"],
       "migrate <TAB>")
    for cmd in ("import", "backup", "restore"):
        got = bash_complete(["scandb", cmd, "tests/data/nmap/si"])
        eq(sorted(got), ["tests/data/nmap/simple.xml", "tests/data/nmap/single.xml"],
           f"scandb {cmd} FILE<TAB>")


def zsh_branches():
    """{command: options} from the zsh completion's case branches."""
    text = read(ZSH)
    body = text[text.index("case $cmd in"):]
    out = {}
    for m in re.finditer(r"^  ([a-z][a-z-]*)\)\n(.*?);;", body, re.M | re.S):
        cmd, code = m.group(1), m.group(2)
        opts = set(re.findall(r"'(?:\([^)']*\))?(--?[A-Za-z][\w-]*)\[", code))
        for short, long_ in re.findall(r"\{(-[\w-]+),(--[\w-]+)\}", code):
            opts |= {short, long_}
        opts |= set(re.findall(r'"(--?[A-Za-z][\w-]*)\[', code))
        if re.search(r'"\$fmt2?"', code):
            opts.add("--format")
        out[cmd] = opts
    return out


@t.case
def zsh_completion_lists_every_option():
    branches = zsh_branches()
    eq(sorted(branches), sorted(commands()), "commands with a branch in _scandb")
    for cmd in commands():
        eq(sorted(branches[cmd]), sorted(command_options(cmd)),
           f"options of '{cmd}' in _scandb (against 'scandb {cmd} --help')")
    text = read(ZSH)
    for opt in global_options():
        check(f"{opt}[" in text or f",{opt}}}" in text or f"{{{opt}," in text,
              f"global option {opt} in _scandb")
    check(text.startswith("#compdef scandb"), "#compdef line")
    if not shutil.which("zsh"):
        skip_case("no zsh: the options were checked, not the syntax")
    r = sh(["zsh", "-n", ZSH])
    eq((r.returncode, r.stderr), (0, ""), "zsh -n _scandb")


def build_dir():
    d = os.environ.get("SCANDB_BUILD_DIR") or os.path.dirname(os.path.abspath(SCANDB))
    return d if os.path.exists(os.path.join(d, "cmake_install.cmake")) else None


@t.case
def cmake_install_puts_binary_man_page_and_completions_in_place():
    b = build_dir()
    if not b:
        skip_case(f"no CMake build directory beside {SCANDB}")
    cmake = os.environ.get("SCANDB_CMAKE") or shutil.which("cmake")
    if not cmake:
        skip_case("no cmake")
    prefix = os.path.join(tmpdir(), "prefix")
    r = sh([cmake, "--install", b, "--prefix", prefix], timeout=120)
    eq((r.returncode, r.stderr), (0, ""), "cmake --install")
    files = {
        "bin/scandb": None,
        "share/man/man1/scandb.1": MAN,
        "share/bash-completion/completions/scandb": BASH,
        "share/zsh/site-functions/_scandb": ZSH,
    }
    for rel, src in files.items():
        path = os.path.join(prefix, rel)
        check(os.path.isfile(path), f"installed {rel}")
        if src:
            eq(read(path), read(src), f"installed {rel} is {os.path.relpath(src, REPO)}")
    check(os.access(os.path.join(prefix, "bin/scandb"), os.X_OK), "bin/scandb is executable")
    r = sh([os.path.join(prefix, "bin/scandb"), "--help"], env=dict(os.environ, HOME=prefix))
    eq(r.returncode, 0, "installed scandb --help")
    check(r.stdout.startswith("usage: scandb"), f"installed scandb --help: {r.stdout[:80]!r}")
    check(not os.path.exists(os.path.join(prefix, ".local")), "--help created nothing")


FIRST = ("./scripts/install-deps.sh --runtime-only && cmake -S . -B build -G Ninja && "
         "cmake --build build && ./build/scandb import tests/data/nmap/*.xml && "
         "./build/scandb hosts")
SECOND = "./scripts/test.sh"


@t.case
def readme_starts_with_the_two_commands_and_stays_short():
    text = read(README)
    lines = text.splitlines()
    check(len(lines) <= 300, f"README.md has {len(lines)} lines (at most 300)")
    m = re.search(r"^```sh\n(.*?)^```$", text, re.M | re.S)
    check(m, "a ```sh block in README.md")
    eq(m.group(1).splitlines(), [FIRST, SECOND], "the first ```sh block of README.md")
    before = text[:m.start()]
    check("```" not in before, "no other code block before the two commands")
    for cmd in ("import", "scan", "hosts", "changes", "findings", "diff"):
        check(f"scandb {cmd}" in text, f"README mentions scandb {cmd}")


LINK = re.compile(r"\]\(([^)\s]+)\)")


@t.case
def every_relative_link_points_at_a_file():
    docs = [README] + sorted(glob.glob(os.path.join(REPO, "docs", "*.md"))) + \
        sorted(glob.glob(os.path.join(REPO, "examples", "*.md")))
    seen = 0
    for doc in docs:
        for n, line in enumerate(read(doc).splitlines(), 1):
            for target in LINK.findall(line):
                if re.match(r"^[a-z]+:", target) or target.startswith("#"):
                    continue
                path = target.split("#", 1)[0]
                full = os.path.normpath(os.path.join(os.path.dirname(doc), path))
                check(os.path.exists(full),
                      f"{os.path.relpath(doc, REPO)}:{n}: link to {target}: no such file")
                check(full.startswith(REPO + os.sep),
                      f"{os.path.relpath(doc, REPO)}:{n}: link {target} leaves the tree")
                seen += 1
    check(seen >= 5, f"only {seen} relative links found: is the link pattern right?")


def tree_files():
    r = sh(["git", "-C", REPO, "ls-files", "-z"]) if shutil.which("git") else None
    if r and r.returncode == 0 and r.stdout:
        return [os.path.join(REPO, p) for p in r.stdout.split("\0") if p]
    out = []
    for root, dirs, files in os.walk(REPO):
        dirs[:] = [d for d in dirs if not (d.startswith("build") or d.startswith("."))]
        out += [os.path.join(root, f) for f in files]
    return out


@t.case
def nothing_in_the_tree_reads_the_old_shared_directory():
    needle = ".." + "/shared"  # spelled so that this file does not match itself
    found = []
    for path in tree_files():
        if not os.path.isfile(path):
            continue
        with open(path, "rb") as f:
            if needle.encode() in f.read():
                found.append(os.path.relpath(path, REPO))
    eq(found, [], f"files mentioning {needle}")


@t.case
def loopback_tour_example_runs():
    if not shutil.which("nmap"):
        skip_case("no nmap")
    d = tmpdir()
    binary = shutil.which(SCANDB) if os.sep not in SCANDB else os.path.abspath(SCANDB)
    env = dict(os.environ, SCANDB=binary or SCANDB, TMPDIR=d, HOME=d)
    env.pop("SCANDB_DB", None)
    t0 = time.monotonic()
    r = sh(["sh", os.path.join(REPO, "examples", "loopback-tour.sh")], env=env, cwd=d,
           timeout=60)
    took = time.monotonic() - t0
    eq(r.returncode, 0, f"examples/loopback-tour.sh exit status; stderr: {r.stderr[-2000:]}")
    check(re.search(r"port_opened\s+\d+/tcp\s+closed\s+open", r.stdout),
          f"the tour shows the port that opened: {r.stdout[-2000:]}")
    check(re.search(r"port_closed\s+\d+/tcp\s+open\s+closed", r.stdout),
          "the tour shows the port that closed")
    eq(os.listdir(d), [], "the tour removed its temporary directory")
    check(took < 30, f"the tour took {took:.1f} s")


t.main()
