#!/usr/bin/env python3
"""scripts/openapi.py - writes docs/openapi.json, the OpenAPI 3.1 document of
`scandb serve` (served at /api/v1/openapi.json; tests/e2e/test_serve.py checks
every response against it, and that this script writes the file as it is).
Run it after changing an endpoint:  scripts/openapi.py > docs/openapi.json"""
import json
S = lambda t, **kw: dict(type=t, **kw)
def nul(t, **kw):
    return dict(type=[t, "null"], **kw)
def obj(props, required=None, extra=False):
    o = {"type": "object", "properties": props,
         "required": sorted(props) if required is None else required}
    if not extra:
        o["additionalProperties"] = False
    return o
ref = lambda n: {"$ref": f"#/components/schemas/{n}"}
arr = lambda it: {"type": "array", "items": it}
time_ = nul("string", format="date-time")
script = obj({"id": nul("string"), "output": nul("string")})
port = obj({
    "protocol": nul("string"), "port": S("integer"), "state": nul("string"),
    "reason": nul("string"), "reason_ttl": nul("integer"), "service": nul("string"),
    "product": nul("string"), "version": nul("string"), "extrainfo": nul("string"),
    "ostype": nul("string"), "method": nul("string"), "conf": nul("integer"),
    "tunnel": nul("string"), "cpe": arr(nul("string")), "scripts": arr(ref("Script")),
    "first_seen": time_, "last_seen": time_, "closed_at": time_,
    "state_job_id": nul("integer")})
host = obj({
    "addr": S("string"), "family": S("integer"), "status": nul("string"),
    "reason": nul("string"), "hostnames": arr(nul("string")), "mac": nul("string"),
    "mac_vendor": nul("string"), "os": nul("string"), "os_accuracy": nul("integer"),
    "os_family": nul("string"), "os_vendor": nul("string"), "os_gen": nul("string"),
    "os_type": nul("string"), "os_cpe": nul("string"), "uptime": nul("integer"),
    "lastboot": nul("string"), "distance": nul("integer"), "first_seen": time_,
    "last_seen": time_, "job_id": S("integer"), "scanned_at": time_,
    "ports": arr(ref("Port")),
    "extraports": arr(obj({"state": nul("string"), "count": S("integer"), "reasons": nul("string")})),
    "scripts": arr(ref("Script"))})
# one host (GET /api/v1/hosts/{addr}, `scandb host --format json`) also has
# what people say about it
host["properties"]["tags"] = arr(obj({"tag": S("string"), "added": time_, "author": nul("string")},
                                     required=["tag", "added"]))
host["properties"]["notes"] = arr(obj({"id": S("integer"), "at": time_, "author": nul("string"),
                                       "text": S("string")}, required=["id", "at", "text"]))
job = obj({
    "id": S("integer"), "kind": S("string", enum=["import", "scan"]), "source": nul("string"),
    "status": S("string", enum=["queued", "running", "completed", "failed", "cancelled"]),
    "args": nul("string"), "scanner": nul("string"), "scanner_version": nul("string"),
    "progress": S("integer"), "worker_id": nul("string"), "created_at": time_,
    "started_at": time_, "completed_at": time_, "timeout_at": time_, "error": nul("string"),
    "content_hash": nul("string"), "forced": S("boolean"), "probed_scope": nul("string"),
    "hosts_up": nul("integer"), "hosts_down": nul("integer"), "hosts_total": nul("integer"),
    "ports_open": nul("integer"), "elapsed": nul("number"), "partial": S("boolean")})
event = obj({
    "id": S("integer"), "at": S("string"), "addr": nul("string"), "kind": nul("string"),
    "protocol": nul("string"), "port": nul("integer"), "script": nul("string"),
    "old": nul("string"), "new": nul("string"), "job_id": S("integer"),
    "prev_job_id": nul("integer")})
change = obj({"at": time_, "job": nul("integer"), "old_status": nul("string"),
              "new_status": S("string"), "note": nul("string")},
             required=["at", "job", "new_status"])
finding = obj({
    "id": S("integer"), "addr": S("string"), "protocol": nul("string"), "port": nul("integer"),
    "type": S("string"), "source": S("string"), "title": S("string"), "severity": S("string"),
    "status": S("string"), "fingerprint": S("string"), "first_seen": time_, "last_seen": time_,
    "jobs": arr(S("integer")), "details": {}, "history": arr(ref("FindingChange"))})
token = obj({"id": S("integer"), "name": S("string"),
             "scope": S("string", enum=["read", "write", "admin"]), "created_at": time_,
             "expires_at": time_, "last_used_at": time_, "revoked_at": time_})
error = obj({"error": obj({"code": S("string"), "message": S("string"), "param": nul("string")})})
pool = obj({"max": S("integer"), "open": S("integer"), "in_use": S("integer"),
            "idle": S("integer"), "waiting": S("integer"), "wait_seconds_total": S("number")})
health = obj({"status": S("string", enum=["healthy", "degraded", "unhealthy"]), "latency_ms": S("number"),
              "backend": S("string"), "server_version": S("string"),
              "schema_version": S("integer"), "latest_version": S("integer"),
              "pending": S("integer"), "problem": nul("string"), "pool": ref("Pool")},
             required=["status", "backend", "pool"])
migration = obj({"version": S("integer"), "name": S("string"), "checksum": S("string"),
                 "applied_at": time_, "checksum_ok": S("boolean"), "known": S("boolean")})
stat_table = obj({"name": S("string"), "rows": nul("integer"), "bytes": nul("integer"),
                  "estimated": S("boolean")})
stat_index = obj({"name": S("string"), "table": S("string"), "entries": nul("integer"),
                  "bytes": nul("integer"), "estimated": S("boolean")})
stats_job = {"oneOf": [{"type": "null"}, obj({"id": S("integer"), "at": time_,
                                               "source": nul("string"), "status": nul("string")})]}
stats = obj({"backend": S("string"), "size_method": S("string"), "estimated": S("boolean"),
             "database_bytes": S("integer"), "free_bytes": nul("integer"),
             "tables": arr(stat_table), "indexes": arr(stat_index),
             "jobs": obj({"total": S("integer"), "by_status": {"type": "object"},
                          "oldest": stats_job, "newest": stats_job}),
             "hosts": obj({"total": S("integer"), "by_status": {"type": "object"}})})

def page(key, item, cursor=False):
    p = {key: arr(item)}
    if cursor:
        p["next_cursor"] = nul("string")
    else:
        p["more"] = S("boolean")
    return obj(p)

E = lambda *codes: {str(c): {"description": "an error", "content": {"application/json": {"schema": ref("Error")}}} for c in codes}
def ok(schema, code=200, ctype="application/json", desc="OK"):
    return {str(code): {"description": desc, "content": {ctype: {"schema": schema}}}}
def q(name, desc, schema=None):
    return {"name": name, "in": "query", "required": False, "description": desc,
            "schema": schema or S("string")}
def pth(name, desc):
    return {"name": name, "in": "path", "required": True, "description": desc, "schema": S("string")}
limit = q("limit", "1-10000, default 100", S("integer", minimum=1, maximum=10000))
auth = [{"bearer": []}, {"apiKey": []}]
def op(summary, responses, params=(), security=True, body=None):
    o = {"summary": summary, "parameters": list(params), "responses": responses}
    if security:
        o["security"] = auth
    if body:
        o["requestBody"] = body
    return o
std = (400, 401, 403, 413, 500, 503)
paths = {
  "/healthz": {"get": op("liveness: the process answers", {**ok(obj({"status": S("string")})), **E(413)}, security=False)},
  "/readyz": {"get": op("readiness: the database answers, its schema is current",
                        {**ok(obj({"status": S("string")})), **E(413, 503)}, security=False)},
  "/metrics": {"get": op("Prometheus text format", {**ok(S("string"), ctype="text/plain"), **E(401, 403, 413, 500, 503)})},
  "/api/v1/database/health": {"get": op("database health and the pool", {**ok(ref("Health")), "503": {"description": "unhealthy", "content": {"application/json": {"schema": ref("Health")}}}, **E(401, 403, 413, 500)})},
  "/api/v1/database/migrations": {"get": op("applied and pending migrations", {**ok(obj({"current_version": S("integer"), "applied": arr(ref("Migration")), "pending": arr(ref("Migration"))})), **E(*std)})},
  "/api/v1/database/stats": {"get": op("rows and sizes per table and index, jobs by status", {**ok(ref("Stats")), **E(*std)}, [q("exact", "1: count every row", S("string", enum=["0", "1"]))])},
  "/api/v1/hosts": {"get": op("hosts, a page at a time (as scandb hosts); format=ndjson: every host, one a line", {"200": {"description": "a page, or every host as NDJSON", "content": {"application/json": {"schema": page("hosts", ref("Host"), cursor=True)}, "application/x-ndjson": {"schema": S("string")}}}, **E(404, *std)}, [
      q("format", "json (a page) or ndjson (every host, no limit)", S("string", enum=["json", "ndjson"])),
      q("port", "N or N/tcp|udp|sctp"), q("service", "service name"), q("status", "up, down, unknown, skipped"),
      q("net", "CIDR block"), q("job", "hosts as job N saw them"), q("changed_since", "7d or a date"),
      q("new_since", "7d or a date"), limit, q("cursor", "next_cursor of the previous page")])},
  "/api/v1/hosts/{addr}": {"get": op("one host (as scandb host)", {**ok(ref("Host")), **E(404, *std)}, [pth("addr", "IPv4 or IPv6 address"), q("job", "as job N saw it")])},
  "/api/v1/hosts/{addr}/history": {"get": op("a host's change events (as scandb history)", {**ok(page("changes", ref("Event"))), **E(404, *std)}, [pth("addr", "IPv4 or IPv6 address"), q("since", "7d or a date"), limit])},
  "/api/v1/jobs": {"get": op("jobs, newest first", {**ok(page("jobs", ref("Job"))), **E(*std)}, [q("status", "a job status"), limit])},
  "/api/v1/jobs/{id}": {"get": op("one job", {**ok(ref("Job")), **E(404, *std)}, [pth("id", "job id")])},
  "/api/v1/changes": {"get": op("change events, oldest first (as scandb changes)", {**ok(page("changes", ref("Event"))), **E(*std)}, [q("since", "7d or a date"), q("host", "address"), q("net", "CIDR block"), q("kind", "event kinds, comma-separated"), limit])},
  "/api/v1/findings": {"get": op("findings (as scandb findings)", {**ok(page("findings", ref("Finding"))), **E(*std)}, [q("status", "finding status"), q("severity", "info, low, medium, high, critical"), q("host", "address"), limit])},
  "/api/v1/findings/{id}": {
      "get": op("one finding (as scandb finding)", {**ok(ref("Finding")), **E(404, *std)}, [pth("id", "finding id")]),
      "patch": op("a user's decision on a finding (write scope)", {**ok(ref("Finding")), **E(404, 413, *std)}, [pth("id", "finding id")],
                  body={"required": True, "content": {"application/json": {"schema": obj({"status": S("string"), "note": nul("string")}, required=["status"])}}})},
  "/api/v1/diff": {"get": op("what changed between two stored jobs (as scandb diff)", {"200": {"description": "the diff", "content": {"application/json": {"schema": {"type": "object"}}, "application/xml": {"schema": S("string")}, "text/plain": {"schema": S("string")}}}, **E(404, 409, *std)},
      [q("a", "job id"), q("b", "job id"), q("format", "json, xml or text", S("string", enum=["json", "xml", "text"])), q("verbose", "1: also what did not change", S("string", enum=["0", "1"]))])},
  "/api/v1/imports": {"post": op("import an nmap XML file (write scope)", {
      **ok(obj({"status": S("string", enum=["imported"]), "job": ref("Job")}), 201, desc="imported"),
      **ok(obj({"status": S("string", enum=["duplicate"]), "job": ref("Job")}), 200, desc="already imported"),
      **E(413, 422, *std)}, [q("name", "the job's source becomes upload:NAME"), q("force", "1: import content already stored", S("string", enum=["0", "1"]))],
      body={"required": True, "content": {"application/xml": {"schema": S("string")}}})},
  "/api/v1/tokens": {"get": op("the API tokens, never a secret (admin scope)", {**ok(obj({"tokens": arr(ref("Token"))})), **E(*std)})},
  "/api/v1/openapi.json": {"get": op("this document", {**ok({"type": "object"}), **E(413)}, security=False)},
}
doc = {
  "openapi": "3.1.0",
  "info": {"title": "scandb HTTP API", "version": "0.1.0",
           "description": "scandb serve: the network-scan history database over HTTP (docs/API.md). Every error is {\"error\": {\"code\", \"message\", \"param\"}}."},
  "servers": [{"url": "http://127.0.0.1:8080"}],
  "paths": paths,
  "components": {
    "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"},
                        "apiKey": {"type": "apiKey", "in": "header", "name": "X-API-Key"}},
    "schemas": {"Host": host, "Port": port, "Script": script, "Job": job, "Event": event,
                "Finding": finding, "FindingChange": change, "Token": token, "Error": error,
                "Pool": pool, "Health": health, "Migration": migration, "Stats": stats}},
}
print(json.dumps(doc, indent=1))
