#!/usr/bin/python3
"""End-to-end: the order and length of every listing and `services --top`.
`--sort FIELD`, `--sort -FIELD` and `--limit N` on hosts, services, changes,
history, findings and jobs give what Python gets by sorting the unsorted
JSON listing (stably: ties keep the natural order) and cutting it, with and
without a limit (the heap and the held paths); `services --top F [-n N]`
counts equal the rows counted in Python, in every format; unknown fields and
bad combinations are usage errors (exit 2) naming what was wrong."""
import csv
import io
import json
import os

from e2e_util import Tests, addr_key, check, eq, newdb, run, tmpdir, top_both
from gen_nmap_xml import generate

t = Tests("listing")

T0 = 1700000000
RULES = """port_opened     *   medium  "Port opened"
service_changed *   low     "Service changed"
host_down       *   high    "Host down"
"""

_db = {}


def db3():
    """Three scans of overlapping hosts (40, 40, 30 hosts; some down), with
    rules that make findings: built once, read by every case."""
    if "db" in _db:
        return _db["db"]
    db = newdb(shared=True)
    d = tmpdir(shared=True)
    rules = os.path.join(d, "rules.conf")
    with open(rules, "w") as f:
        f.write(RULES)
    for i, (first, n, down) in enumerate([(0, 40, 0.0), (10, 40, 0.1), (5, 30, 0.2)]):
        p = os.path.join(d, f"s{i}.xml")
        generate(p, hosts=n, ports=6, seed=i + 1, start=T0 + i * 86400, first_host=first,
                 down=down, states="open:5,closed:1")
        run(db, "import", p, env={"SCANDB_RULES": rules}, expect=0)
    _db["db"] = db
    return db


def js(db, *args):
    return json.loads(run(db, *args, "--format", "json", expect=0).out)


def nkey(v):
    """None first, then the value (strings and ISO times as text)."""
    return (0, "") if v is None else (1, v)


def expect_sorted(rows, key, desc, limit=None):
    out = sorted(rows, key=key, reverse=desc)
    return out[:limit] if limit else out


def open_ports(h):
    return sum(1 for p in h["ports"] if p["state"] == "open")


HOST_KEYS = {
    "status": lambda h: nkey(h["status"]),
    "hostname": lambda h: nkey(h["hostnames"][0] if h["hostnames"] else None),
    "os": lambda h: nkey(h["os"]),
    "ports": open_ports,
    "first_seen": lambda h: nkey(h["first_seen"]),
    "last_seen": lambda h: nkey(h["last_seen"]),
    "addr": lambda h: addr_key(h["addr"]),
}
SERVICE_KEYS = {
    "port": lambda r: (r["port"], nkey(r["protocol"])),
    "protocol": lambda r: nkey(r["protocol"]),
    "service": lambda r: nkey(r["service"]),
    "product": lambda r: nkey(r["product"]),
    "version": lambda r: nkey(r["version"]),
    "first_seen": lambda r: nkey(r["first_seen"]),
    "last_seen": lambda r: nkey(r["last_seen"]),
    "addr": lambda r: addr_key(r["addr"]),
}
EVENT_KEYS = {
    "at": lambda e: e["at"],
    "addr": lambda e: addr_key(e["addr"]),
    "kind": lambda e: e["kind"],
    "port": lambda e: -1 if e["port"] is None else e["port"],
    "job_id": lambda e: e["job_id"],
}
SEV = {"info": 0, "low": 1, "medium": 2, "high": 3, "critical": 4}
FINDING_KEYS = {
    "id": lambda f: f["id"],
    "severity": lambda f: SEV[f["severity"]],
    "status": lambda f: f["status"],
    "addr": lambda f: addr_key(f["addr"]),
    "port": lambda f: -1 if f["port"] is None else f["port"],
    "type": lambda f: f["type"],
    "title": lambda f: f["title"],
    "first_seen": lambda f: nkey(f["first_seen"]),
    "last_seen": lambda f: nkey(f["last_seen"]),
}
JOB_KEYS = {
    "created_at": lambda j: (j["created_at"], j["id"]),
    "id": lambda j: j["id"],
    "kind": lambda j: j["kind"],
    "status": lambda j: j["status"],
    "started_at": lambda j: nkey(j["started_at"]),
    "completed_at": lambda j: nkey(j["completed_at"]),
    "hosts_up": lambda j: j["hosts_up"] if j["hosts_up"] is not None else -1,
    "ports_open": lambda j: j["ports_open"] if j["ports_open"] is not None else -1,
    "elapsed": lambda j: j["elapsed"] if j["elapsed"] is not None else -1,
}


def check_sorts(db, cmd, keys, ident, natural_desc=False):
    """Every field of `cmd`, ascending and descending, held and with a
    limit (the heap), against Python's stable sort of the natural order."""
    base = js(db, *cmd)
    check(len(base) >= 5, f"{cmd}: enough rows to sort ({len(base)})")
    if natural_desc:  # jobs: newest first; Python sorts from the oldest
        base_asc = list(reversed(base))
    else:
        base_asc = base
    for field, key in keys.items():
        for desc in (False, True):
            spec = ("-" if desc else "") + field
            # ties keep the store's order: sort the store's order, stably
            exp = [ident(r) for r in expect_sorted(base, key, desc)]
            got = [ident(r) for r in js(db, *cmd, "--sort", spec)]
            if natural_desc and field == "created_at":
                exp = [ident(r) for r in expect_sorted(base_asc, key, desc)]
            eq(got, exp, f"{' '.join(cmd)} --sort {spec}")
            for n in (1, 3, len(base) + 5):
                got = [ident(r) for r in js(db, *cmd, "--sort", spec, "--limit", str(n))]
                eq(got, exp[:n], f"{' '.join(cmd)} --sort {spec} --limit {n}")
    eq([ident(r) for r in js(db, *cmd, "--limit", "2")], [ident(r) for r in base[:2]],
       f"{' '.join(cmd)} --limit 2 (natural order)")


@t.case
def hosts_sort_and_limit():
    db = db3()
    check_sorts(db, ("hosts",), HOST_KEYS, lambda h: h["addr"])
    check_sorts(db, ("hosts", "--status", "up"), {"last_seen": HOST_KEYS["last_seen"]},
                lambda h: h["addr"])
    r = run(db, "hosts", "--sort", "-ports", "--limit", "3", expect=0)
    eq(len(r.out.splitlines()), 4, f"table: header and 3 rows: {r.out}")
    r = run(db, "hosts", "--sort", "-last_seen", "--limit", "4", "--format", "csv", expect=0)
    addrs = []
    for row in list(csv.reader(io.StringIO(r.out)))[1:]:
        if row[0] not in addrs:
            addrs.append(row[0])
    eq(len(addrs), 4, f"csv: rows of 4 hosts: {addrs}")


@t.case
def services_sort_and_limit():
    db = db3()
    check_sorts(db, ("services",), SERVICE_KEYS, lambda r: (r["addr"], r["protocol"], r["port"]))


@t.case
def changes_and_history_sort_and_limit():
    db = db3()
    check_sorts(db, ("changes",), EVENT_KEYS, lambda e: e["id"])
    addr = js(db, "changes", "--sort", "-at", "--limit", "1")[0]["addr"]
    check_sorts(db, ("history", addr), {"kind": EVENT_KEYS["kind"], "at": EVENT_KEYS["at"]},
                lambda e: e["id"])
    latest = js(db, "changes", "--sort", "-at", "--limit", "5")
    allev = js(db, "changes")
    eq([e["id"] for e in latest], [e["id"] for e in sorted(allev, key=lambda e: e["at"],
                                                            reverse=True)[:5]],
       "--sort -at --limit 5: the 5 latest")


@t.case
def findings_sort_and_limit():
    db = db3()
    check_sorts(db, ("findings",), FINDING_KEYS, lambda f: f["id"])


@t.case
def jobs_sort_and_limit():
    db = db3()
    d = tmpdir()
    for i in range(3):  # more jobs to sort: three small imports more
        p = os.path.join(d, f"j{i}.xml")
        generate(p, hosts=2 + i, ports=2, seed=10 + i, start=T0 + (5 + i) * 86400,
                 first_host=100 + i)
        run(db, "import", p, expect=0)
    check_sorts(db, ("jobs",), JOB_KEYS, lambda j: j["id"], natural_desc=True)
    eq([j["id"] for j in js(db, "jobs", "--sort", "id", "--limit", "2")],
       sorted(j["id"] for j in js(db, "jobs"))[:2], "jobs --sort id: the oldest first")


def top_expected(db, field):
    """Counts of `field` over the services rows, counted here."""
    rows = js(db, "services")
    counts = {}

    def add(v):
        if v:
            counts[v] = counts.get(v, 0) + 1

    if field == "os":
        hosts = {h["addr"]: h for h in js(db, "hosts")}
        for a in dict.fromkeys(r["addr"] for r in rows):
            add(hosts[a]["os"])
    elif field == "cpe":
        hosts = {h["addr"]: h for h in js(db, "hosts")}
        for r in rows:
            port = [p for p in hosts[r["addr"]]["ports"]
                    if p["port"] == r["port"] and p["protocol"] == r["protocol"]][0]
            for c in dict.fromkeys(port["cpe"] or []):
                add(c)
    else:
        for r in rows:
            add(f"{r['port']}/{r['protocol']}" if field == "port" else r[field])
    return sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))


@t.case
def top_counts_match_the_rows():
    db = db3()
    for field in ("service", "product", "port", "os", "cpe"):
        exp = top_expected(db, field)
        check(len(exp) >= 2, f"--top {field}: several values to count ({exp})")
        # counted by the store and by the walk alike (top_both compares them)
        eq(top_both(db, field), exp[:20], f"services --top {field}")
        eq(top_both(db, field, "-n", "2"), exp[:2], f"services --top {field} -n 2")
        eq(top_both(db, field, "-n", "1000"), exp, f"services --top {field} -n 1000: every value")


@t.case
def top_counted_as_walked_under_filters():
    """The store's GROUP BY counts the walk's rows under every filter flag
    and search term (host terms, port terms: those services applies per
    row, under and, or and not), and finds nothing where the walk does."""
    db = db3()
    rows = js(db, "services")
    ssh = [r for r in rows if r["service"] == "ssh"]
    check(ssh and any(r["service"] != "ssh" for r in rows), "services to pick from")
    filters = [("--port", "22"), ("--service", "ssh"), ("--port", "22/tcp"),
               ("--status", "up"), ("--net", "10.0.0.0/28"), ("--new-since", "2023-11-15"),
               ("--changed-since", "2023-11-15"), ("--port", "9"), ("port:22",),
               ("service:ssh",), ("product:open",), ("version:>5",), ("cpe:cpe:/a",),
               ("os:linux",), ("status:up", "port:22"), ("port:22", "or", "port:80"),
               ("not", "port:22"), ("product:open", "version:<9", "net:10.0.0.0/27"),
               ("(", "port:22", "or", "service:http", ")", "and", "not", "os:windows"),
               ("--port", "22", "product:openssh")]
    seen = 0
    for field in ("service", "product", "port", "os", "cpe"):
        for f in filters:
            seen += len(top_both(db, field, "-n", "1000", *f))
    check(seen > 0, "some filters count something")


@t.case
def top_formats_and_filters():
    db = db3()
    exp = top_expected(db, "service")
    r = run(db, "services", "--top", "service", "--format", "csv", expect=0)
    rows = list(csv.reader(io.StringIO(r.out)))
    eq(rows[0], ["value", "count"], "csv header")
    eq([(a, int(b)) for a, b in rows[1:]], exp[:20], "csv rows")
    r = run(db, "services", "--top", "service", "--format", "ndjson", expect=0)
    eq([(o["value"], o["count"]) for o in map(json.loads, r.out.splitlines())], exp[:20],
       "ndjson")
    r = run(db, "services", "--top", "service", "-n", "3", expect=0)
    lines = r.out.splitlines()
    eq(lines[0].split(), ["SERVICE", "COUNT"], "table header")
    eq([tuple(ln.split()) for ln in lines[1:]], [(v, str(n)) for v, n in exp[:3]], "table")
    # a filter selects the rows counted
    rows = js(db, "services", "--port", "22")
    got = [(o["value"], o["count"]) for o in js(db, "services", "--top", "port", "--port", "22")]
    eq(got, [("22/tcp", len(rows))] if rows else [], "--top port --port 22")
    r = run(db, "services", "--top", "service", "--port", "9", expect=0)
    check("no values match" in r.err, r.err)
    eq(js(db, "services", "--top", "product", "--port", "9"), [], "json: empty array")


@t.case
def usage_errors_exit_2():
    db = db3()
    bad = [
        (("hosts", "--sort", "bogus"), "bogus"),
        (("hosts", "--sort", "-"), "--sort"),
        (("hosts", "--limit", "0"), "--limit"),
        (("services", "--sort", "nope"), "nope"),
        (("changes", "--sort", "when"), "when"),
        (("history", "10.0.0.1", "--sort", "x"), "'x'"),
        (("findings", "--sort", "cvss"), "cvss"),
        (("jobs", "--sort", "name"), "name"),
        (("jobs", "--limit", "-1"), "--limit"),
        (("services", "--top", "colour"), "colour"),
        (("services", "-n", "3"), "-n"),
        (("services", "--top", "service", "-n", "0"), "-n"),
        (("services", "--top", "service", "--sort", "addr"), "--top"),
        (("services", "--top", "service", "--limit", "2"), "--top"),
    ]
    for args, named in bad:
        r = run(db, *args)
        eq(r.code, 2, f"{' '.join(args)} exit code ({r.err!r})")
        eq(r.out, "", f"{' '.join(args)}: nothing on stdout")
        check(named in r.err, f"{' '.join(args)}: names {named}: {r.err!r}")
    r = run(db, "hosts", "--sort", "bogus")
    check("addr" in r.err and "last_seen" in r.err, f"lists the fields: {r.err!r}")


if __name__ == "__main__":
    t.main()
