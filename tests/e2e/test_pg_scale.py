#!/usr/bin/python3
"""End-to-end, PostgreSQL only: an import's cost stays linear in the scan
whatever else the transaction did (issue 18).

The PostgreSQL backend buffers rows in memory and sends them with COPY;
host upserts and port state documents go through session-local staging
tables.  Before issue 18 every findings statement flushed the buffers, and
every flush emptied the staging tables with DELETE ... RETURNING, whose
dead rows stay in the table until commit: each flush scanned the dead rows
of all flushes before it, and a re-scan with findings was quadratic.

What is checked here is what the server did, not how long it took: the
import runs with auto_explain loaded into its session (PGOPTIONS, the
test cluster's superuser may), which writes every statement's plan with its
buffer counts into the server's log.
  - a first scan whose every new host raises a finding (a host_up rule)
    flushes once per host; each flush reads only its own staged rows: a
    page or two of the staging table, the same at the end of the import as
    at its start;
  - a re-scan that raises findings on hosts already stored flushes nothing
    for them: the staging tables are applied at commit (or when the
    buffers fill), not once per finding.
"""
import os
import re

from e2e_util import PG, Tests, check, eq, pg_env, run, skip, sql1, tmpdir, write
from gen_nmap_xml import generate

if not PG:
    skip("PostgreSQL only (SCANDB_TEST_BACKEND=pg)")

from e2e_util import newdb  # noqa: E402  (after the backend check)

t = Tests("pg_scale")

AUTO_EXPLAIN = ("-c session_preload_libraries=auto_explain -c auto_explain.log_min_duration=0"
                " -c auto_explain.log_analyze=on -c auto_explain.log_buffers=on"
                " -c auto_explain.log_timing=off -c auto_explain.log_nested_statements=on")
# a staging table node and the buffer line under it
STAGE_NODE = re.compile(r"on (scandb_stage_\w+)[^\n]*\n\s*Buffers: ([^\n]*)")


def server_log():
    return pg_env()["SCANDB_PG_LOG"]


def explained_import(db, path, rules):
    """Import `path` with auto_explain on; the server log's text written
    meanwhile (this test's session is the only one that logs plans)."""
    log = server_log()
    check(os.access(log, os.R_OK), f"cannot read the server log {log}")
    start = os.path.getsize(log)
    run(db, "-q", "import", path, expect=0,
        env={"SCANDB_RULES": rules, "PGOPTIONS": AUTO_EXPLAIN}, timeout=600)
    with open(log, encoding="utf-8", errors="replace") as f:
        f.seek(start)
        return f.read()


def stage_reads(text):
    """[(table, pages read)] of every plan node on a staging table."""
    out = []
    for table, bufs in STAGE_NODE.findall(text):
        pages = sum(int(n) for n in re.findall(r"local (?:hit|read)=(\d+)", bufs))
        out.append((table, pages))
    return out


@t.case
def flush_reads_only_its_own_rows():
    d = tmpdir()
    rules = write(os.path.join(d, "rules.conf"), 'host_up * info "Host appeared"\n')
    xml = os.path.join(d, "a.xml")
    hosts = 800
    generate(xml, hosts=hosts, ports=5, seed=3, progress=False)
    db = newdb()
    text = explained_import(db, xml, rules)
    eq(sql1(db, "SELECT count(*) FROM findings"), hosts, "findings (one per new host)")
    reads = [p for table, p in stage_reads(text) if table == "scandb_stage_hosts"]
    # one flush per new host: its finding needs the host's row
    check(len(reads) >= hosts, f"{len(reads)} scans of the host staging table, want >= {hosts}"
          " (auto_explain did not log them?)")
    # a flush of one host reads one page, however many flushes came before
    # (DELETE ... RETURNING read 20 and more by the end)
    check(max(reads) <= 2, f"a flush read {max(reads)} pages of the host staging table"
          f" (first {reads[:3]}, last {reads[-3:]}): the table keeps what earlier flushes"
          " took from it")


@t.case
def rescan_findings_flush_nothing():
    d = tmpdir()
    rules = write(os.path.join(d, "rules.conf"),
                  'port_opened * medium "Port opened"\n'
                  'service_changed * low "Service changed"\n'
                  'port_closed * low "Port closed"\n')
    a, b = os.path.join(d, "a.xml"), os.path.join(d, "b.xml")
    hosts = 400
    generate(a, hosts=hosts, ports=8, seed=1, progress=False)
    # the same hosts a day later, every host's ports different
    generate(b, hosts=hosts, ports=8, seed=2, start=1700086400, progress=False)
    db = newdb()
    run(db, "-q", "import", a, expect=0, env={"SCANDB_RULES": rules})
    before = sql1(db, "SELECT count(*) FROM findings")
    text = explained_import(db, b, rules)
    made = sql1(db, "SELECT count(*) FROM findings") - before
    check(made >= hosts, f"the re-scan raised {made} findings, want >= {hosts}")
    applies = [r for r in stage_reads(text)]
    # the buffers go out at commit (and when they fill: 4 MB, not reached
    # here), never once per finding
    check(len(applies) <= 4, f"{len(applies)} staging table scans in a re-scan with {made}"
          f" findings: the buffers were flushed for findings statements")


t.main()
