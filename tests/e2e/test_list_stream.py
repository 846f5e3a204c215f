#!/usr/bin/python3
"""test_list_stream.py - listings in table format stream (issue 11, "Listing
at scale"): the first OUTPUT_LIST_SIZE_ROWS (256) rows size the columns and
are printed with the header at once; every later row is printed as it comes
with those widths, so memory does not grow with the number of rows.

Nmap XML is generated here (loopback addresses only): N hosts scanned twice
with a different open port, so `changes` lists three events a host.  Checked:
the table of `hosts` and `changes` has the header and every row, rows past
the first 256 aligned when their cells fit (a wider one printed whole, then
two spaces); `hosts | head -1` prints the header; the peak RSS of `changes`
and `hosts` (release build) does not grow from N to 4N hosts.
"""
import os
import re
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from e2e_util import SCANDB, Tests, check, eq, newdb, run, skip_case, tmpdir  # noqa: E402

t = Tests("list_stream")
SIZE_ROWS = 256  # OUTPUT_LIST_SIZE_ROWS in src/cli/output.h
MB = 1 << 20


def sanitized():
    """Is $SCANDB built with a sanitizer (its memory figures mean nothing)?"""
    with open(SCANDB, "rb") as f:
        data = f.read()
    return b"__asan_init" in data or b"__tsan_init" in data or b"__msan_init" in data


SAN = sanitized()
TIME = "/usr/bin/time"  # GNU time, for a child's peak RSS


def addr(k):
    return f"127.{1 + k // 65536}.{(k // 256) % 256}.{k % 256}"


def scan_xml(path, n, start, port, names=None):
    """n hosts 127.1.0.0 up, each with tcp `port` open; names maps a host
    index to a hostname."""
    names = names or {}
    with open(path, "w", encoding="utf-8") as f:
        f.write('<?xml version="1.0"?>\n'
                f'<nmaprun scanner="nmap" args="nmap -sS -p 22,80 127.1.0.0/16" '
                f'start="{start}" version="7.94" xmloutputversion="1.05">\n'
                '<scaninfo type="syn" protocol="tcp" numservices="2" services="22,80"/>\n')
        for k in range(n):
            hn = (f'<hostnames><hostname name="{names[k]}" type="PTR"/></hostnames>'
                  if k in names else "")
            f.write(f'<host starttime="{start}" endtime="{start + 1}">'
                    '<status state="up" reason="syn-ack"/>'
                    f'<address addr="{addr(k)}" addrtype="ipv4"/>{hn}<ports>'
                    f'<port protocol="tcp" portid="{port}"><state state="open" reason="syn-ack"/>'
                    f'<service name="svc{port}" method="table" conf="3"/></port>'
                    '</ports></host>\n')
        f.write(f'<runstats><finished time="{start + 10}" exit="success"/>'
                f'<hosts up="{n}" down="0" total="{n}"/></runstats></nmaprun>\n')
    return path


def twice_scanned(n, names=None):
    """A database holding two scans of n hosts: port 22 open, then 80."""
    db = newdb()
    d = tmpdir()
    run(db, "-q", "import", scan_xml(os.path.join(d, "a.xml"), n, 1700000000, 22, names),
        expect=0, timeout=600)
    run(db, "-q", "import", scan_xml(os.path.join(d, "b.xml"), n, 1700001000, 80, names),
        expect=0, timeout=600)
    return db


def check_table(lines, what):
    """Every row has the header's cells (cells hold no two spaces in a row
    here); a row whose cells fit their columns starts each cell where the
    header's starts; one with a wider cell has it whole and two spaces after.
    Returns how many rows past the first SIZE_ROWS were aligned."""
    head = re.split(r"  +", lines[0].rstrip())
    at = [m.start() for m in re.finditer(r"(?:^|(?<=  ))\S", lines[0])]
    eq(len(at), len(head), f"{what}: header columns")
    width = [at[i + 1] - at[i] - 2 for i in range(len(at) - 1)]
    aligned = 0
    for i, line in enumerate(lines[1:], 1):
        cells = re.split(r"  +", line)
        eq(len(cells), len(head), f"{what}: cells of row {i}: {line!r}")
        if all(len(c) <= w for c, w in zip(cells, width)):
            got = [m.start() for m in re.finditer(r"(?:^|(?<=  ))\S", line)]
            eq(got, at, f"{what}: columns of row {i}: {line!r}\n{lines[0]!r}")
            aligned += i > SIZE_ROWS
    return aligned


def peak_rss(db, *args):
    """Peak RSS (bytes) of `scandb --db DB ARGS` writing to /dev/null, as
    GNU time reports it (the rusage of a child forked from this interpreter
    counts the interpreter's pages, ~20 MB, before its exec)."""
    argv = [SCANDB, "--db", db] + list(args)
    env = dict(os.environ, MALLOC_ARENA_MAX="1")
    with tempfile.NamedTemporaryFile("r") as rss:
        p = subprocess.run([TIME, "-f", "%M", "-o", rss.name] + argv, stdout=subprocess.DEVNULL,
                           stderr=subprocess.PIPE, text=True, env=env, timeout=600)
        eq(p.returncode, 0, f"{argv}: exit status ({p.stderr})")
        return int(rss.read().split()[-1]) * 1024


@t.case
def table_has_header_and_every_row_aligned():
    """600 hosts: `hosts` prints the header and 600 rows, the ones past the
    first 256 in the same columns; a hostname wider than its column (row
    400) is printed whole and the row goes on after two spaces."""
    n, wide = 600, 400
    long_name = "a-long-name-past-the-buffer.ex"  # 30 columns, HOSTS_NAME_MAX
    db = twice_scanned(n, names={10: "h10.ex", wide: long_name})
    lines = run(db, "hosts", expect=0).out.splitlines()
    eq(len(lines), n + 1, "hosts: header and rows")
    check(lines[0].startswith("ADDRESS") and "LAST SEEN" in lines[0], f"header: {lines[0]!r}")
    eq(sorted(line.split()[0] for line in lines[1:]), sorted(addr(k) for k in range(n)),
       "hosts: every address once")
    check(check_table(lines, "hosts") == n - SIZE_ROWS - 1, "hosts: rows past the buffer aligned")
    row = next(line for line in lines if long_name in line)
    check(f"  {long_name}  -   80/tcp svc80" in row, f"wide cell printed whole: {row!r}")

    lines = run(db, "changes", expect=0).out.splitlines()
    eq(len(lines), 3 * n + 1, "changes: header and rows (host_up, port open, port closed)")
    check(lines[0].startswith("WHEN") and lines[0].rstrip().endswith("JOB"),
          f"header: {lines[0]!r}")
    # the first 256 rows are host_up events: a wider EVENT cell
    # (port_opened) is printed whole; host_up rows past them are aligned
    check(check_table(lines, "changes") == n - SIZE_ROWS, "changes: host_up rows aligned")


@t.case
def small_listing_unchanged():
    """Fewer rows than the buffer, and exactly as many: one table, sized to
    every row (a wide cell in the last row widens its column for all)."""
    for n in (SIZE_ROWS - 1, SIZE_ROWS):
        long_name = "wide-name.example"
        db = twice_scanned(n, names={n - 1: long_name})
        lines = run(db, "hosts", expect=0).out.splitlines()
        eq(len(lines), n + 1, f"{n} hosts: header and rows")
        check_table(lines, f"{n} hosts")
        name_at = lines[0].index("HOSTNAME")
        for line in lines[1:]:
            eq(line.index("80/tcp") - name_at, len(long_name) + 2 + len("OS  "),
               f"{n} hosts: the wide name widens its column: {line!r}")


@t.case
def empty_listing_unchanged():
    db = twice_scanned(3)
    r = run(db, "hosts", "--net", "127.9.0.0/16", expect=0)
    eq(r.out, "", "no hosts: stdout")
    eq(r.err, "no hosts match\n", "no hosts: stderr")


@t.case
def head_sees_the_header():
    """`scandb hosts | head -1` prints the header (and does not wait for the
    whole walk: the first rows are flushed as soon as they are sized)."""
    n = 3000
    db = twice_scanned(n)
    p = subprocess.run(f'"{SCANDB}" --db "{db}" hosts | head -1', shell=True,
                       capture_output=True, text=True, timeout=120)
    eq(p.returncode, 0, f"pipeline status ({p.stderr})")
    check(p.stdout.startswith("ADDRESS"), f"head -1: {p.stdout!r}")
    eq(p.stdout.count("\n"), 1, "head -1: one line")


@t.case
def memory_does_not_grow_with_rows():
    """`changes` and `hosts` over N then 4N hosts (3 events a host): the
    table takes no more memory than ndjson, which holds no rows, give or
    take 3 MB (keeping every row took ~300 bytes an event: 25 MB more for
    `changes` over 32,000 hosts).  What the store's walk itself takes is
    the same for both formats and is not this test's subject."""
    if not os.access(TIME, os.X_OK):
        skip_case(f"no {TIME} to measure the peak RSS")
    n = 1000 if SAN else 8000  # ASan's figures mean nothing: check that it runs
    for size in (n, 4 * n):
        db = twice_scanned(size)
        for cmd in ("changes", "hosts"):
            table = peak_rss(db, cmd)
            ndjson = peak_rss(db, cmd, "--format", "ndjson")
            print(f"     {cmd} over {size} hosts: peak RSS {table / MB:.1f} MB as a table, "
                  f"{ndjson / MB:.1f} MB as ndjson", flush=True)
            check(SAN or table - ndjson < 3 * MB,
                  f"{cmd} over {size} hosts: the table took {(table - ndjson) / MB:.1f} MB "
                  "more than ndjson")


if __name__ == "__main__":
    t.main()
