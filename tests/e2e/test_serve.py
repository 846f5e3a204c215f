#!/usr/bin/python3
"""End-to-end: `scandb serve`, the HTTP API, on loopback, on each backend.
Started with --listen 127.0.0.1:0 (a free port, read from its "listening
on" line) and waited for on /healthz with a deadline.  Tokens and scopes
(401 without, with a bad, revoked or expired token; 403 for a scope too
small; Bearer and X-API-Key), 400 naming the bad parameter, 404, 405, 413
for an oversized header and body, a slow client (headers a byte at a time)
cut off while other clients are served, the JSON bodies against what
`scandb hosts|host|jobs|job|changes|findings --format json` prints for the
same database (pages joined by cursor), metrics, database health and
migrations, --no-auth, and a stop on SIGTERM."""
import json
import os
import re
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request

import e2e_util
from e2e_util import DATA, SCANDB, Tests, check, eq, newdb, run, tmpdir

t = Tests("serve")
HERE = os.path.dirname(os.path.abspath(__file__))


# ---- the fixture: one database with tokens --------------------------------

_fx = {}


def fixture():
    """A database with three scans of 120 IPv4 hosts, overlapping (changes
    between them), and one of 20 IPv6 hosts; and
    tokens: read, admin, revoked, expired.  Built once."""
    if _fx:
        return _fx
    d = tmpdir(shared=True)
    db = newdb(shared=True)
    scans = ((1700000000, 0, []), (1700086400, 0, []), (1700172800, 100, []),
             (1700200000, 0, ["--ipv6", "--hosts", "20"]))
    for i, (start, first, more) in enumerate(scans):
        x = os.path.join(d, f"s{i}.xml")
        subprocess.run([sys.executable, os.path.join(HERE, "gen_nmap_xml.py"), "--hosts", "120",
                        "--ports", "6", "--seed", str(i + 1), "--start", str(start),
                        "--first-host", str(first), *more, "-o", x], check=True, timeout=120)
        run(db, "import", x, expect=0)
    vuln = os.path.join(d, "vuln.xml")
    with open(vuln, "w") as f:
        f.write(VULN_XML)
    run(db, "import", vuln, expect=0)
    tok = {}
    for name, scope in (("reader", "read"), ("boss", "admin"), ("gone", "read"),
                        ("writer", "write")):
        r = run(db, "token", "create", name, "--scope", scope, expect=0)
        tok[name] = r.out.split()[-1]
    run(db, "token", "revoke", "gone", expect=0)
    tok["old"] = run(db, "token", "create", "old", "--scope", "admin", "--expires", "1",
                     expect=0).out.split()[-1]
    _fx.update(db=db, tok=tok, dir=d, made=time.time())
    return _fx


# a host whose ssh has CVEs (vulners): findings to list, show and decide on
VULN_XML = """<?xml version="1.0"?>
<nmaprun scanner="nmap" args="nmap -sV --script vulners -p 22 192.0.2.9" start="1700300000" version="7.93" xmloutputversion="1.05">
<scaninfo type="connect" protocol="tcp" numservices="1" services="22"/>
<host starttime="1700300000" endtime="1700300001"><status state="up" reason="syn-ack" reason_ttl="0"/>
<address addr="192.0.2.9" addrtype="ipv4"/>
<ports><port protocol="tcp" portid="22"><state state="open" reason="syn-ack" reason_ttl="0"/>
<service name="ssh" product="OpenSSH" version="7.4" method="probed" conf="10"/>
<script id="vulners" output="&#xa;  cpe:/a:openbsd:openssh:7.4: &#xa;    &#x9;CVE-2023-38408&#x9;9.8&#x9;https://vulners.com/cve/CVE-2023-38408&#xa;    &#x9;CVE-2020-15778&#x9;6.8&#x9;https://vulners.com/cve/CVE-2020-15778&#xa;"/>
</port></ports>
</host>
<runstats><finished time="1700300002" timestr="x" elapsed="2.00" summary="x" exit="success"/><hosts up="1" down="0" total="1"/></runstats>
</nmaprun>
"""


# ---- the OpenAPI document: every JSON response is checked against it ----------

OPENAPI = json.load(open(os.path.join(e2e_util.REPO, "docs", "openapi.json")))
_validated = {"n": 0}


def _resolve(schema):
    while "$ref" in schema:
        schema = OPENAPI["components"]["schemas"][schema["$ref"].rsplit("/", 1)[1]]
    return schema


def conforms(value, schema, where="$"):
    """The JSON Schema subset the document uses: type (or a list of types),
    enum, properties, required, additionalProperties false, items, oneOf,
    $ref.  Raises AssertionError naming the first place that differs."""
    schema = _resolve(schema)
    if "oneOf" in schema:
        errors = []
        for sub in schema["oneOf"]:
            try:
                conforms(value, sub, where)
                return
            except AssertionError as e:
                errors.append(str(e))
        raise AssertionError(f"{where}: matches none of oneOf: {errors}")
    kinds = {"string": str, "integer": int, "number": (int, float), "boolean": bool,
             "object": dict, "array": list, "null": type(None)}
    types = schema.get("type")
    if types is not None:
        types = types if isinstance(types, list) else [types]
        ok = any(isinstance(value, kinds[t]) and not (t in ("integer", "number") and
                                                      isinstance(value, bool))
                 for t in types)
        check(ok, f"{where}: {value!r:.80} is not {types}")
    if "enum" in schema:
        check(value in schema["enum"], f"{where}: {value!r} not in {schema['enum']}")
    if isinstance(value, dict):
        props = schema.get("properties", {})
        for k in schema.get("required", []):
            check(k in value, f"{where}: lacks {k!r}")
        if schema.get("additionalProperties") is False:
            extra = set(value) - set(props)
            check(not extra, f"{where}: keys not in the document: {sorted(extra)}")
        for k, v in value.items():
            if k in props:
                conforms(v, props[k], f"{where}.{k}")
    if isinstance(value, list) and "items" in schema:
        for i, v in enumerate(value):
            conforms(v, schema["items"], f"{where}[{i}]")


def check_response(method, path, code, body, ctype):
    """The response's body against the document's schema for its route,
    method and status (JSON bodies; text is checked for being a string)."""
    path = path.split("?", 1)[0]
    for tmpl, ops in OPENAPI["paths"].items():
        if re.fullmatch(re.sub(r"\{[^}]+\}", "[^/]+", tmpl), path):
            break
    else:
        check(code == 404, f"{method} {path}: {code} for a path the document lacks")
        return
    op = ops.get(method.lower())
    if op is None:
        eq(code, 405, f"{method} {path}: not in the document")
        return
    resp = op["responses"].get(str(code))
    check(resp is not None, f"{method} {path}: status {code} not in the document")
    media = ctype.split(";")[0].strip()
    content = resp.get("content", {})
    check(media in content, f"{method} {path} {code}: {media} not in the document")
    if media == "application/json":
        conforms(json.loads(body), content[media]["schema"], f"{method} {path} {code}")
        _validated["n"] += 1


class Server:
    """`scandb serve` on 127.0.0.1 and a free port; stop() sends SIGTERM."""

    def __init__(self, db, *args, env=None):
        e = dict(os.environ)
        e.update(env or {})
        self.err_path = os.path.join(tmpdir(), "serve.err")
        self.errf = open(self.err_path, "w+")
        self.p = subprocess.Popen([SCANDB, "--db", db, "serve", "--listen", "127.0.0.1:0",
                                   *args], stdout=subprocess.DEVNULL, stderr=self.errf, env=e)
        self.port = None
        deadline = time.time() + 30
        while time.time() < deadline and self.port is None:
            check(self.p.poll() is None, f"serve exited {self.p.returncode}: {self.stderr()}")
            m = re.search(r"listening on http://127\.0\.0\.1:(\d+)/", self.stderr())
            if m:
                self.port = int(m.group(1))
            else:
                time.sleep(0.05)
        check(self.port, f"serve did not say where it listens: {self.stderr()}")
        while time.time() < deadline:
            try:
                if self.get("/healthz")[0] == 200:
                    return
            except OSError:
                pass
            time.sleep(0.05)
        raise AssertionError(f"/healthz did not answer within 30 s: {self.stderr()}")

    def stderr(self):
        with open(self.err_path) as f:
            return f.read()

    def get(self, path, token=None, header="bearer", method="GET", headers=None, data=None):
        h = dict(headers or {})
        if token is not None:
            if header == "bearer":
                h["Authorization"] = f"Bearer {token}"
            else:
                h["X-API-Key"] = token
        req = urllib.request.Request(f"http://127.0.0.1:{self.port}{path}", headers=h,
                                     method=method, data=data)
        try:
            with urllib.request.urlopen(req, timeout=30) as r:
                got = r.status, r.read(), dict(r.headers)
        except urllib.error.HTTPError as e:
            got = e.code, e.read(), dict(e.headers)
        if got[0] not in (413, 431) or got[2].get("Content-Type"):
            check_response(method, path, got[0], got[1], got[2].get("Content-Type", ""))
        return got

    def json(self, path, token, expect=200, **kw):
        code, body, _ = self.get(path, token, **kw)
        eq(code, expect, f"GET {path}: {body[:300]!r}")
        return json.loads(body)

    def stop(self):
        if self.p.poll() is None:
            self.p.send_signal(signal.SIGTERM)
        try:
            code = self.p.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.p.kill()
            raise AssertionError("serve did not stop within 30 s of SIGTERM")
        self.errf.close()
        return code


def serving(*args, env=None):
    fx = fixture()
    return Server(fx["db"], *args, env=env), fx


def error_of(body):
    e = json.loads(body)["error"]
    check(set(e) == {"code", "message", "param"}, f"error body: {e}")
    return e


# ---- cases -----------------------------------------------------------------

@t.case
def health_and_readiness_need_no_token():
    s, fx = serving()
    try:
        eq(s.get("/healthz")[0], 200, "/healthz")
        code, body, _ = s.get("/readyz")
        eq((code, json.loads(body)["status"]), (200, "ready"), "/readyz")
        h = s.json("/api/v1/database/health", fx["tok"]["reader"])
        eq(h["status"], "healthy", "health status")
        check(h["backend"] in ("sqlite", "postgresql"), f"backend {h['backend']}")
        check(h["schema_version"] >= 15 and h["pending"] == 0, f"schema: {h}")
        check(isinstance(h["latency_ms"], (int, float)) and h["server_version"], f"{h}")
        eq(sorted(h["pool"]), sorted(["max", "open", "in_use", "idle", "waiting",
                                      "wait_seconds_total"]), "pool keys")
        eq(h["pool"]["max"], 10, "default pool size")
        m = s.json("/api/v1/database/migrations", fx["tok"]["reader"])
        eq(m["pending"], [], "pending migrations")
        check(m["current_version"] == max(a["version"] for a in m["applied"]), f"{m}")
        check(any(a["name"] == "api_tokens" for a in m["applied"]), "0015 applied")
        st = s.json("/api/v1/database/stats?exact=1", fx["tok"]["reader"])
        want = run(fx["db"], "stats", "--exact", "--format", "json", expect=0).json()
        eq(st["jobs"], want["jobs"], "stats: jobs")
        eq(sorted(x["name"] for x in st["tables"]), sorted(x["name"] for x in want["tables"]),
           "stats: tables")
        eq({x["name"]: x["rows"] for x in st["tables"]},
           {x["name"]: x["rows"] for x in want["tables"]}, "stats: exact rows")
        check(any(x["name"] == "api_tokens" for x in st["tables"]), "api_tokens in stats")
    finally:
        eq(s.stop(), 0, "exit after SIGTERM")


@t.case
def tokens_and_scopes():
    s, fx = serving()
    tok = fx["tok"]
    # the expired token was made with --expires 1: make sure a second went by
    time.sleep(max(0.0, fx["made"] + 1.5 - time.time()))
    try:
        for header in ("bearer", "x-api-key"):
            eq(s.get("/api/v1/jobs", tok["reader"], header=header)[0], 200, header)
        code, body, hdr = s.get("/api/v1/jobs")
        eq(code, 401, "no token")
        check("Bearer" in hdr.get("WWW-Authenticate", ""), f"WWW-Authenticate: {hdr}")
        eq(error_of(body)["code"], "unauthorized", "no token: code")
        wrong = re.sub(r"_[0-9a-f]{64}$", "_" + "0" * 64, tok["reader"])
        bad = {"garbage": "not-a-token", "wrong secret": wrong,
               "unknown id": "sdb_999999_" + "a" * 64, "revoked": tok["gone"],
               "expired": tok["old"]}
        for what, secret in bad.items():
            code, body, _ = s.get("/api/v1/hosts", secret)
            eq(code, 401, what)
            check(secret not in body.decode(), f"{what}: secret echoed")
        eq(error_of(s.get("/api/v1/hosts", tok["gone"])[1])["message"], "token revoked", "why")
        eq(error_of(s.get("/api/v1/hosts", tok["old"])[1])["message"], "token expired", "why")
        eq(s.get("/api/v1/jobs", "x", headers={"Authorization": "Basic eDp5"})[0], 401, "Basic")
        code, body, _ = s.get("/api/v1/tokens", tok["reader"])
        eq((code, error_of(body)["code"]), (403, "forbidden"), "read token on admin route")
        listed = s.json("/api/v1/tokens", tok["boss"])["tokens"]
        eq(sorted(x["name"] for x in listed), ["boss", "gone", "old", "reader", "writer"],
           "tokens")
        text = json.dumps(listed)
        for secret in tok.values():
            check(secret.split("_")[-1] not in text, "a secret in the token list")
        check("hash" not in listed[0] and "salt" not in listed[0], "hash or salt listed")
        used = {x["name"]: x["last_used_at"] for x in listed}
        check(used["reader"] and used["boss"], f"last_used_at kept: {used}")
    finally:
        eq(s.stop(), 0, "exit after SIGTERM")
    log = s.stderr()
    for secret in tok.values():
        check(secret not in log and secret.split("_")[-1] not in log, "a secret in the log")
    check(re.search(r'"GET /api/v1/tokens" 403 ', log), f"access log: {log[-800:]}")
    out = run(fx["db"], "token", "list", "--format", "json", expect=0).json()
    eq({x["name"]: bool(x["revoked_at"]) for x in out},
       {"reader": False, "boss": False, "gone": True, "old": False, "writer": False},
       "token list: revoked")
    check(all(tok[n] not in run(fx["db"], "token", "list").out for n in tok), "list shows secret")


def pages(s, tok, query, limit):
    """Every host of /api/v1/hosts?query, `limit` at a time, by cursor."""
    hosts, cursor, n = [], None, 0
    while True:
        q = f"{query}&limit={limit}" + (f"&cursor={cursor}" if cursor else "")
        body = s.json(f"/api/v1/hosts?{q}", tok)
        check(len(body["hosts"]) <= limit, "page longer than limit")
        hosts += body["hosts"]
        cursor = body["next_cursor"]
        n += 1
        check(n < 1000, "cursor loop")
        if not cursor:
            return hosts, n


@t.case
def hosts_json_is_the_clis():
    s, fx = serving()
    tok, db = fx["tok"]["reader"], fx["db"]
    try:
        cli = run(db, "hosts", "--format", "json", expect=0).json()
        check(len(cli) > 200, f"fixture hosts: {len(cli)}")
        got, n = pages(s, tok, "", 37)
        eq(got, cli, "all hosts, 37 a page, joined")
        eq(n, (len(cli) + 36) // 37, "pages")
        eq(s.json("/api/v1/hosts", tok)["hosts"], cli[:100], "default limit 100")
        code, body, hdr = s.get("/api/v1/hosts?format=ndjson", tok)
        eq((code, hdr["Content-Type"]), (200, "application/x-ndjson"), "format=ndjson")
        eq(body.decode(), run(db, "hosts", "--format", "ndjson", expect=0).out,
           "ndjson: the CLI's bytes")
        code, body, _ = s.get("/api/v1/hosts?format=ndjson&port=22&net=10.0.0.0%2F26", tok)
        eq(body.decode(), run(db, "hosts", "--format", "ndjson", "--port", "22", "--net",
                              "10.0.0.0/26", expect=0).out, "ndjson filtered")
        eq(error_of(s.get("/api/v1/hosts?format=ndjson&limit=5", tok)[1])["param"], "limit",
           "ndjson takes no limit")
        eq(error_of(s.get("/api/v1/hosts?format=xml", tok)[1])["param"], "format", "format")
        for query, flags in (("port=22", ["--port", "22"]),
                             ("port=80%2Ftcp&status=up", ["--port", "80/tcp", "--status", "up"]),
                             ("net=10.0.0.0%2F26", ["--net", "10.0.0.0/26"]),
                             ("job=2&net=10.0.0.0%2F25", ["--job", "2", "--net", "10.0.0.0/25"]),
                             ("changed_since=2023-11-16", ["--changed-since", "2023-11-16"])):
            want = run(db, "hosts", "--format", "json", *flags, expect=0).json()
            check(want, f"{flags}: the fixture has matches")
            eq(pages(s, tok, query, 9)[0], want, f"hosts?{query}")
        addr = cli[5]["addr"]
        eq(s.json(f"/api/v1/hosts/{addr}", tok),
           run(db, "host", addr, "--format", "json", expect=0).json(), f"hosts/{addr}")
        eq(s.json(f"/api/v1/hosts/{addr}?job=1", tok),
           run(db, "host", addr, "--job", "1", "--format", "json", expect=0).json(), "?job=1")
        v6 = [h["addr"] for h in cli if ":" in h["addr"]]
        check(v6, "the fixture has IPv6 hosts")
        eq(s.json(f"/api/v1/hosts/{v6[0]}", tok)["addr"], v6[0], "an IPv6 host")
    finally:
        eq(s.stop(), 0, "exit after SIGTERM")


@t.case
def jobs_changes_findings_are_the_clis():
    s, fx = serving()
    tok, db = fx["tok"]["reader"], fx["db"]
    try:
        jobs = run(db, "jobs", "--format", "json", expect=0).json()
        eq(s.json("/api/v1/jobs", tok)["jobs"], jobs, "jobs")
        eq(s.json("/api/v1/jobs?status=completed&limit=2", tok)["jobs"], jobs[:2], "jobs page")
        eq(s.json("/api/v1/jobs/2", tok), run(db, "job", "2", "--format", "json").json(), "job 2")
        ch = run(db, "changes", "--since", "2020-01-01", "--format", "json", expect=0).json()
        check(len(ch) > 10, "fixture changes")
        got = s.json("/api/v1/changes?since=2020-01-01&limit=10000", tok)
        eq((got["changes"], got["more"]), (ch, False), "changes")
        k = run(db, "changes", "--since", "2020-01-01", "--kind", "port_opened,host_down",
                "--format", "json", expect=0).json()
        eq(s.json("/api/v1/changes?since=2020-01-01&kind=port_opened,host_down&limit=10000",
                  tok)["changes"], k, "changes by kind")
        eq(s.json("/api/v1/changes?since=2020-01-01&limit=3", tok)["more"], True, "more")
        f = run(db, "findings", "--format", "json", expect=0).json()
        check(len(f) >= 2, f"fixture findings: {f}")
        eq(s.json("/api/v1/findings?limit=10000", tok)["findings"], f, "findings")
        eq(s.json("/api/v1/findings?host=192.0.2.9&status=open", tok)["findings"],
           run(db, "findings", "--host", "192.0.2.9", "--status", "open", "--format", "json",
               expect=0).json(), "findings filtered")
        fid = f[0]["id"]
        eq(s.json(f"/api/v1/findings/{fid}", tok),
           run(db, "finding", str(fid), "--format", "json", expect=0).json(), "one finding")
        for fmt in ("json", "xml", "text"):
            want = run(db, "diff", "1", "3", "--format", fmt, expect=1).out
            code, body, hdr = s.get(f"/api/v1/diff?a=1&b=3&format={fmt}", tok)
            eq((code, body.decode()), (200, want), f"diff as {fmt}")
        eq(json.loads(s.get("/api/v1/diff?a=2&b=2", tok)[1]),
           run(db, "diff", "2", "2", "--json", expect=0).json(), "no difference")
        eq(s.get("/api/v1/diff?a=1&b=999", tok)[0], 404, "diff: unknown job")
        eq(error_of(s.get("/api/v1/diff?a=1", tok)[1])["param"], "b", "diff: b missing")
        h = run(db, "history", "192.0.2.9", "--format", "json", expect=0).json()
        eq(s.json("/api/v1/hosts/192.0.2.9/history", tok)["changes"], h, "history")
        eq(s.get("/api/v1/hosts/192.0.2.250/history", tok)[0], 404, "history of no host")
    finally:
        eq(s.stop(), 0, "exit after SIGTERM")


@t.case
def bad_requests_name_the_parameter():
    s, fx = serving()
    tok = fx["tok"]["reader"]
    try:
        for path, param in (("/api/v1/hosts?port=99999", "port"),
                            ("/api/v1/hosts?port=22&bogus=1", "bogus"),
                            ("/api/v1/hosts?limit=0", "limit"),
                            ("/api/v1/hosts?limit=10001", "limit"),
                            ("/api/v1/hosts?status=sideways", "status"),
                            ("/api/v1/hosts?net=10.0.0.0%2F99", "net"),
                            ("/api/v1/hosts?cursor=h00", "cursor"),
                            ("/api/v1/hosts?new_since=yesterday", "new_since"),
                            ("/api/v1/hosts/not-an-address", "addr"),
                            ("/api/v1/jobs?status=sleeping", "status"),
                            ("/api/v1/jobs/abc", "id"),
                            ("/api/v1/changes?kind=port_opened,nope", "kind"),
                            ("/api/v1/findings?severity=dire", "severity")):
            code, body, _ = s.get(path, tok)
            e = error_of(body)
            eq((code, e["code"], e["param"]), (400, "bad_parameter", param), path)
        for path, param in (("/api/v1/jobs/999999", "id"), ("/api/v1/hosts/192.0.2.99", "addr"),
                            ("/api/v1/hosts?job=999999", "job"), ("/api/v1/findings/999999", "id")):
            code, body, _ = s.get(path, tok)
            eq((code, error_of(body)["param"]), (404, param), path)
        code, body, _ = s.get("/api/v1/nothing", tok)
        eq((code, error_of(body)["code"]), (404, "not_found"), "unknown route")
        code, body, _ = s.get("/api/v1/hosts", tok, method="DELETE")
        eq((code, error_of(body)["code"]), (405, "method_not_allowed"), "DELETE hosts")
    finally:
        eq(s.stop(), 0, "exit after SIGTERM")


def raw(port, data, timeout=10):
    """Send bytes on a new connection; the status code of the answer."""
    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as c:
        c.sendall(data)
        got = b""
        while b"\r\n" not in got:
            part = c.recv(4096)
            if not part:
                break
            got += part
    return int(got.split()[1]) if got.startswith(b"HTTP/1.1 ") else None


@t.case
def oversized_headers_and_bodies_get_413():
    s, fx = serving("--max-body", "1000")
    tok = fx["tok"]["reader"]
    try:
        code, body, _ = s.get("/api/v1/jobs", tok, headers={"X-Pad": "a" * 12000})
        eq((code, error_of(body)["param"]), (413, "headers"), "a 12 KB header")
        code, body, _ = s.get("/api/v1/jobs?" + "x=" + "b" * 9000, tok)
        eq((code, error_of(body)["param"]), (413, "headers"), "a 9 KB query string")
        code, body, _ = s.get("/api/v1/jobs", tok, method="GET", data=b"z" * 5000)
        eq((code, error_of(body)["param"]), (413, "body"), "a 5 KB body")
        chunk = b"1000\r\n" + b"y" * 4096 + b"\r\n0\r\n\r\n"
        eq(raw(s.port, b"GET /api/v1/jobs HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer " +
               tok.encode() + b"\r\nTransfer-Encoding: chunked\r\n\r\n" + chunk), 413,
           "a chunked 4 KB body")
        eq(s.get("/api/v1/jobs", tok, data=b"z" * 500)[0], 200, "a small body is fine")
        # a header too big even for the connection's memory: refused, never served
        code = raw(s.port, b"GET /healthz HTTP/1.1\r\nX-Pad: " + b"c" * 200000 + b"\r\n\r\n")
        check(code in (413, 431, None), f"a 200 KB header: {code}")
        eq(s.get("/healthz")[0], 200, "still serving")
    finally:
        eq(s.stop(), 0, "exit after SIGTERM")


@t.case
def slow_client_is_cut_off_while_others_are_served():
    s, fx = serving("--timeout", "2")
    tok = fx["tok"]["reader"]
    result = {}

    def slow():
        c = socket.create_connection(("127.0.0.1", s.port), timeout=20)
        req = b"GET /api/v1/jobs HTTP/1.1\r\nHost: x\r\nX-Slow: " + b"s" * 200 + b"\r\n\r\n"
        t0 = time.time()
        try:
            for b in req:
                c.sendall(bytes([b]))
                time.sleep(0.1)  # never idle for long: MHD's idle timeout alone keeps it
            result["answer"] = c.recv(100)
        except OSError as e:
            result["error"] = repr(e)
        result["secs"] = time.time() - t0
        c.close()

    th = threading.Thread(target=slow)
    try:
        th.start()
        served = 0
        t0 = time.time()
        while th.is_alive() and time.time() - t0 < 30:
            eq(s.get("/api/v1/hosts?limit=5", tok)[0], 200, "another client")
            served += 1
            time.sleep(0.2)
        th.join(timeout=30)
        check(not th.is_alive(), "the slow client was never cut off")
        check(served >= 5, f"others served meanwhile: {served}")
        check("error" in result or not result.get("answer", b"").startswith(b"HTTP/1.1 200"),
              f"the slow client was answered: {result}")
        check(result["secs"] < 10, f"cut after {result['secs']:.1f} s (timeout 2 s)")
    finally:
        eq(s.stop(), 0, "exit after SIGTERM")


@t.case
def metrics_in_prometheus_text():
    s, fx = serving()
    tok = fx["tok"]["reader"]
    try:
        s.get("/api/v1/hosts?limit=1", tok)
        s.get("/api/v1/hosts/10.0.0.5", tok)
        s.get("/api/v1/hosts")
        code, body, hdr = s.get("/metrics", tok)
        eq(code, 200, "/metrics")
        check(hdr["Content-Type"].startswith("text/plain"), f"type {hdr['Content-Type']}")
        text = body.decode()
        for want in (r'scandb_http_requests_total\{route="/api/v1/hosts",code="200"\} 1\n',
                     r'scandb_http_requests_total\{route="/api/v1/hosts",code="401"\} 1\n',
                     r'scandb_http_requests_total\{route="/api/v1/hosts/\{addr\}",code="200"\} 1',
                     r'scandb_http_request_duration_seconds_bucket\{route="/api/v1/hosts",'
                     r'le="\+Inf"\} 2\n',
                     r'scandb_http_request_duration_seconds_count\{route="/api/v1/hosts"\} 2\n',
                     r'scandb_build_info\{version="[0-9.]+",backend="[a-z]+"\} 1\n',
                     r'scandb_jobs\{status="completed"\} 5\n',
                     r'scandb_db_pool_connections\{state="max"\} 10\n'):
            check(re.search(want, text), f"/metrics lacks {want}:\n{text[:3000]}")
        eq(s.get("/metrics")[0], 401, "/metrics needs a token")
    finally:
        eq(s.stop(), 0, "exit after SIGTERM")


@t.case
def no_auth_only_on_loopback_with_a_warning():
    fx = fixture()
    r = run(fx["db"], "serve", "--no-auth", "--listen", "0.0.0.0:0", expect=2)
    check("loopback" in r.err, r.err)
    r = run(fx["db"], "serve", "--listen", "localhost:80", expect=2)
    check("--listen" in r.err, r.err)
    r = run(e2e_util.nodb(), "serve", "--listen", "127.0.0.1:0", expect=1)
    check("no database" in r.err or "does not exist" in r.err, f"a missing database: {r.err}")
    s = Server(fx["db"], "--no-auth", "--pool-size", "3")
    try:
        check("WARNING" in s.stderr() and "--no-auth" in s.stderr(), s.stderr())
        r = run(fx["db"], "serve", "--listen", f"127.0.0.1:{s.port}", expect=1)
        check("cannot listen" in r.err, f"a port in use: {r.err}")
        eq(s.get("/api/v1/tokens")[0], 200, "no token needed")
        eq(s.json("/api/v1/database/health", None)["pool"]["max"], 3, "--pool-size")
    finally:
        eq(s.stop(), 0, "exit after SIGTERM")
    s = Server(fx["db"], env={"SCANDB_POOL_MAX": "4"})
    try:
        eq(s.json("/api/v1/database/health", fx["tok"]["boss"])["pool"]["max"], 4,
           "SCANDB_POOL_MAX")
    finally:
        s.stop()


@t.case
def uploads_import_like_the_cli():
    db = newdb()
    spool = tmpdir()
    run(db, "migrate", "up", expect=0)
    w = run(db, "token", "create", "up", "--scope", "write", expect=0).out.split()[-1]
    r = run(db, "token", "create", "ro", "--scope", "read", expect=0).out.split()[-1]
    s = Server(db, "--max-upload", "200000", env={"TMPDIR": spool})
    xml = open(os.path.join(DATA, "complex.xml"), "rb").read()
    try:
        eq(s.get("/api/v1/imports", r, method="POST", data=xml)[0], 403, "read token")
        eq(s.get("/api/v1/imports", None, method="POST", data=xml)[0], 401, "no token")
        code, body, _ = s.get("/api/v1/imports?name=complex.xml", w, method="POST", data=xml)
        eq(code, 201, f"upload: {body[:300]!r}")
        got = json.loads(body)
        jid = got["job"]["id"]
        eq(got["job"], run(db, "job", str(jid), "--format", "json", expect=0).json(), "job")
        eq(got["job"]["source"], "upload:complex.xml", "source")
        code, body, _ = s.get("/api/v1/imports", w, method="POST", data=xml)
        eq((code, json.loads(body)["status"], json.loads(body)["job"]["id"]),
           (200, "duplicate", jid), "the same content again")
        code, body, _ = s.get("/api/v1/imports?force=1", w, method="POST", data=xml)
        eq(code, 201, "force=1")
        jobs = run(db, "jobs", "--format", "json", expect=0).json()
        eq(len(jobs), 2, "jobs after two imports")
        # a file the parser refuses: 422 naming NAME:LINE:COL, nothing stored
        code, body, _ = s.get("/api/v1/imports?name=cut.xml", w, method="POST",
                              data=xml[:len(xml) // 2])
        e = error_of(body)
        eq((code, e["code"], e["param"]), (422, "invalid_scan", "body"), "a cut file")
        check(re.match(r"upload:cut\.xml:\d+:\d+: ", e["message"]), e["message"])
        eq(len(run(db, "jobs", "--format", "json", expect=0).json()), 2, "nothing stored")
        # too big: announced, and chunked
        eq(s.get("/api/v1/imports", w, method="POST", data=b"x" * 300000)[0], 413, "too big")
        chunk = b"%x\r\n" % 250000 + b"y" * 250000 + b"\r\n0\r\n\r\n"
        eq(raw(s.port, b"POST /api/v1/imports HTTP/1.1\r\nHost: x\r\nX-API-Key: " +
               w.encode() + b"\r\nTransfer-Encoding: chunked\r\n\r\n" + chunk), 413,
           "a chunked body over --max-upload")
        # a client gone mid-body: nothing imported, the spool removed
        with socket.create_connection(("127.0.0.1", s.port), timeout=10) as c:
            c.sendall(b"POST /api/v1/imports HTTP/1.1\r\nHost: x\r\nX-API-Key: " +
                      w.encode() + b"\r\nContent-Length: %d\r\n\r\n" % len(xml) +
                      xml[:len(xml) // 2])
            time.sleep(0.5)
        deadline = time.time() + 10
        while os.listdir(spool) and time.time() < deadline:
            time.sleep(0.1)
        eq(os.listdir(spool), [], "spool files left")
        eq(len(run(db, "jobs", "--format", "json", expect=0).json()), 2, "nothing stored")
        eq(s.json("/api/v1/hosts", r)["hosts"], run(db, "hosts", "--format", "json").json(),
           "hosts after uploads")
        # the server killed outright mid-upload: no job, no spool file
        c = socket.create_connection(("127.0.0.1", s.port), timeout=10)
        c.sendall(b"POST /api/v1/imports?force=1 HTTP/1.1\r\nHost: x\r\nX-API-Key: " +
                  w.encode() + b"\r\nContent-Length: %d\r\n\r\n" % len(xml) +
                  xml[:len(xml) // 2])
        time.sleep(0.5)
        s.p.kill()
        s.p.wait(timeout=30)
        c.close()
        eq(os.listdir(spool), [], "spool files left by a kill -9")
        eq(len(run(db, "jobs", "--format", "json", expect=0).json()), 2, "nothing stored")
    finally:
        s.stop()


@t.case
def finding_status_is_set_with_a_write_token():
    s, fx = serving()
    tok, db = fx["tok"], fx["db"]
    fid = run(db, "findings", "--format", "json", expect=0).json()[0]["id"]
    path = f"/api/v1/findings/{fid}"
    hdr = {"Content-Type": "application/json"}
    body = json.dumps({"status": "confirmed", "note": "seen by hand"}).encode()
    try:
        eq(s.get(path, tok["reader"], method="PATCH", data=body, headers=hdr)[0], 403, "read")
        for bad, param in ((b"{", "body"), (b"[]", "body"),
                           (b'{"status": "sideways"}', "status"),
                           (b'{"status": "confirmed", "colour": 1}', "colour"),
                           (b'{"status": "confirmed", "note": 5}', "note")):
            code, out, _ = s.get(path, tok["writer"], method="PATCH", data=bad, headers=hdr)
            eq((code, error_of(out)["param"]), (400, param), bad)
        code, out, _ = s.get("/api/v1/findings/999999", tok["writer"], method="PATCH",
                             data=body, headers=hdr)
        eq(code, 404, "unknown finding")
        code, out, _ = s.get(path, tok["writer"], method="PATCH", data=body, headers=hdr)
        eq(code, 200, f"PATCH: {out[:300]!r}")
        got = json.loads(out)
        eq(got, run(db, "finding", str(fid), "--format", "json", expect=0).json(), "as the CLI")
        eq((got["status"], got["history"][-1]["new_status"], got["history"][-1]["note"]),
           ("confirmed", "confirmed", "seen by hand"), "the decision recorded")
    finally:
        eq(s.stop(), 0, "exit after SIGTERM")


def hold_write_lock(db, seconds):
    """Another client holds the lock a finding's change needs for `seconds`
    (SQLite: a write transaction; PostgreSQL: the findings table locked);
    returns once it holds it, with the thread to join."""
    held = threading.Event()

    def sqlite_hold():
        import sqlite3
        con = sqlite3.connect(db, timeout=10, isolation_level=None)
        con.execute("BEGIN IMMEDIATE")
        held.set()
        time.sleep(seconds)
        con.execute("ROLLBACK")
        con.close()

    def pg_hold():
        e = e2e_util.pg_env()
        p = subprocess.Popen([os.path.join(e["SCANDB_PG_BIN"], "psql"), "-X", "-q", "-d", db,
                              "-c", "BEGIN", "-c", "LOCK TABLE findings IN ACCESS EXCLUSIVE MODE",
                              "-c", "SELECT 'locked'", "-c", f"SELECT pg_sleep({seconds})",
                              "-c", "COMMIT"], stdout=subprocess.PIPE, text=True)
        for line in p.stdout:  # psql's table: a header, then "locked" (EOF: failed)
            if "locked" in line:
                held.set()
                break
        p.wait(timeout=seconds + 30)

    th = threading.Thread(target=pg_hold if e2e_util.PG else sqlite_hold)
    th.start()
    check(held.wait(30), "the lock was never taken")
    return th


@t.case
def pool_exhausted_is_503_with_retry_after_then_recovers():
    s, fx = serving("--pool-size", "1", env={"SCANDB_POOL_ACQUIRE_TIMEOUT": "0.3"})
    tok, db = fx["tok"], fx["db"]
    fid = run(db, "findings", "--format", "json", expect=0).json()[0]["id"]
    result = {}

    def patch():
        result["code"] = s.get(f"/api/v1/findings/{fid}", tok["writer"], method="PATCH",
                               data=b'{"status": "manual_review"}')[0]

    try:
        holder = hold_write_lock(db, 2.5)
        th = threading.Thread(target=patch)
        th.start()
        time.sleep(0.7)  # the PATCH has the only connection, waiting for the lock
        code, body, hdr = s.get("/api/v1/jobs", tok["reader"])
        eq((code, error_of(body)["code"]), (503, "unavailable"), "pool exhausted")
        eq(hdr.get("Retry-After"), "1", "Retry-After")
        th.join(timeout=30)
        holder.join(timeout=30)
        eq(result.get("code"), 200, "the waiting PATCH, once the lock is free")
        eq(s.get("/api/v1/jobs", tok["reader"])[0], 200, "recovered")
        h = s.json("/api/v1/database/health", tok["reader"])["pool"]
        eq((h["max"], h["open"]), (1, 1), "pool")
        check(h["wait_seconds_total"] >= 0.25, f"wait time counted: {h}")
    finally:
        eq(s.stop(), 0, "exit after SIGTERM")


@t.case
def sigterm_lets_a_request_in_flight_finish():
    s, fx = serving()
    tok, db = fx["tok"], fx["db"]
    fid = run(db, "findings", "--format", "json", expect=0).json()[0]["id"]
    result = {}

    def patch():
        result["code"] = s.get(f"/api/v1/findings/{fid}", tok["writer"], method="PATCH",
                               data=b'{"status": "open"}')[0]

    holder = hold_write_lock(db, 2.0)
    th = threading.Thread(target=patch)
    th.start()
    time.sleep(0.5)  # the PATCH is in flight, waiting for the lock
    t0 = time.time()
    s.p.send_signal(signal.SIGTERM)
    time.sleep(0.3)
    try:
        socket.create_connection(("127.0.0.1", s.port), timeout=2).close()
        raise AssertionError("still accepting after SIGTERM")
    except OSError:
        pass
    th.join(timeout=30)
    holder.join(timeout=30)
    eq(result.get("code"), 200, "the request in flight was answered")
    eq(s.stop(), 0, "exit status")
    check(time.time() - t0 < 15, "stopped within the drain deadline")
    eq(run(db, "finding", str(fid), "--format", "json", expect=0).json()["status"], "open",
       "its change stored")


@t.case
def readers_during_an_import_see_whole_jobs_and_no_5xx():
    db = newdb()
    d = tmpdir()
    small, big = os.path.join(d, "small.xml"), os.path.join(d, "big.xml")
    for path, n, first in ((small, 50, 0), (big, 6000, 1000)):
        subprocess.run([sys.executable, os.path.join(HERE, "gen_nmap_xml.py"), "--hosts",
                        str(n), "--ports", "8", "--first-host", str(first), "-o", path],
                       check=True, timeout=300)
    run(db, "import", small, expect=0)
    # a token never used: its first use is recorded while the import holds
    # the write lock, and must not hold the request up
    tok = run(db, "token", "create", "fresh", "--scope", "read", expect=0).out.split()[-1]
    s = Server(db)
    try:
        imp = subprocess.Popen([SCANDB, "--db", db, "-q", "import", big],
                               stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
        if not e2e_util.PG:  # wait until the import holds SQLite's write lock
            import sqlite3
            deadline = time.time() + 60
            while time.time() < deadline and imp.poll() is None:
                con = sqlite3.connect(db, timeout=0, isolation_level=None)
                try:
                    con.execute("BEGIN IMMEDIATE")
                    con.execute("ROLLBACK")
                except sqlite3.OperationalError:
                    break  # locked: the import is writing
                finally:
                    con.close()
                time.sleep(0.01)
        n = slow = 0
        seen = []  # the big file's first host: absent, then present, never back
        while imp.poll() is None and n < 5000:
            t0 = time.time()
            code, body, _ = s.get("/api/v1/jobs", tok)
            slow = max(slow, time.time() - t0)
            eq(code, 200, f"GET jobs during the import: {body[:200]!r}")
            jobs = json.loads(body)["jobs"]
            check(all(j["status"] == "completed" for j in jobs), f"a job not whole: {jobs}")
            code, body, _ = s.get("/api/v1/hosts/10.0.3.232", tok)
            check(code in (200, 404), f"GET a host during the import: {code} {body[:200]!r}")
            if not seen or seen[-1] != code:
                seen.append(code)
            code, body, _ = s.get("/api/v1/hosts?limit=20", tok)
            eq((code, len(json.loads(body)["hosts"])), (200, 20), "a page during the import")
            n += 1
        eq(imp.wait(timeout=600), 0, f"the import: {imp.stderr.read()}")
        check(n >= 3, f"requests during the import: {n}")
        check(seen in ([404], [404, 200]), f"the new host seen as {seen}")
        check(slow < 2.5, f"a request waited {slow:.1f} s for the import's lock")
        eq(s.get("/api/v1/hosts/10.0.3.232", tok)[0], 200, "the new host, after")
    finally:
        eq(s.stop(), 0, "exit after SIGTERM")


@t.case
def the_openapi_document_is_served_and_every_response_follows_it():
    s, fx = serving()
    try:
        code, body, hdr = s.get("/api/v1/openapi.json")
        eq(code, 200, "/api/v1/openapi.json")
        eq(json.loads(body), OPENAPI, "the served document is docs/openapi.json")
        check(OPENAPI["openapi"].startswith("3."), "an OpenAPI 3 document")
        gen = subprocess.run([sys.executable, os.path.join(e2e_util.REPO, "scripts", "openapi.py")],
                             capture_output=True, text=True, timeout=60, check=True).stdout
        eq(json.loads(gen), OPENAPI, "docs/openapi.json is what scripts/openapi.py writes")
        # every route the server has is in the document (and its 404 is not)
        for path in OPENAPI["paths"]:
            probe = path.replace("{addr}", "10.0.0.5").replace("{id}", "1")
            check(s.get(probe, fx["tok"]["boss"])[0] in (200, 400, 404, 405), probe)
    finally:
        eq(s.stop(), 0, "exit after SIGTERM")
    check(_validated["n"] > 10, f"responses checked: {_validated['n']}")


@t.case
def slow_requests_are_logged_without_parameters_and_degrade_health():
    s, fx = serving("--pool-size", "5", env={"SCANDB_SLOW_QUERY_MS": "1"})
    tok = fx["tok"]["reader"]
    try:
        eq(s.json("/api/v1/database/health", tok)["status"], "healthy", "before")
        s.get("/api/v1/hosts?limit=10000&net=10.0.0.0%2F8", tok)
        eq(s.json("/api/v1/database/health", tok)["status"], "degraded", "after a slow one")
        text = s.get("/metrics", tok)[1].decode()
        m = re.search(r"^scandb_http_slow_requests_total (\d+)$", text, re.M)
        check(m and int(m.group(1)) >= 1, f"slow requests counted: {text[-400:]}")
    finally:
        eq(s.stop(), 0, "exit after SIGTERM")
    log = s.stderr()
    check(re.search(r"slow request: GET /api/v1/hosts took \d+ ms", log), log[-800:])
    check("10.0.0.0" not in log and "limit=" not in log, "a parameter in the log")
    r = run(fx["db"], "serve", env={"SCANDB_SLOW_QUERY_MS": "soon"}, expect=2)
    check("SCANDB_SLOW_QUERY_MS" in r.err, r.err)


@t.case
def sigterm_stops_cleanly():
    s, fx = serving()
    code = s.stop()
    eq(code, 0, "exit status")
    check("stopped" in s.stderr(), s.stderr())
    try:
        socket.create_connection(("127.0.0.1", s.port), timeout=2).close()
        raise AssertionError("still accepting after SIGTERM")
    except OSError:
        pass


t.main()
