#!/usr/bin/env bash
# bench/api.sh - requests/s and latency of `scandb serve` (the HTTP API),
# loopback only, with wrk (Debian's package): GET /api/v1/hosts/{addr} (one
# host) and GET /api/v1/hosts?port=22&limit=100 (a filtered page), C
# connections for D seconds each, on SQLite (and PostgreSQL with --pg URL, an
# empty database), with the server's RSS before and after, and the same
# query's cost as a CLI process beside it.
#
#   bench/api.sh [--hosts 16384] [--connections 64] [--seconds 20] [--pg URL]
#
# The database: --hosts synthetic hosts (tests/e2e/gen_nmap_xml.py, 10 ports
# each), cached in bench/out/.  Issue 12's targets on 2 cores (server and
# load generator share them): 5,000 req/s for one host, 1,000 for the page,
# p99 under 50 ms, memory flat.  Not a test: it reports, it never fails on a
# missed target.
set -euo pipefail
cd "$(dirname "$0")/.."
hosts=16384
conns=64
secs=20
pg=
while [ $# -gt 0 ]; do
	case "$1" in
	--hosts) hosts=$2; shift 2 ;;
	--connections) conns=$2; shift 2 ;;
	--seconds) secs=$2; shift 2 ;;
	--pg) pg=$2; shift 2 ;;
	*) echo "usage: $0 [--hosts N] [--connections C] [--seconds D] [--pg URL]" >&2; exit 2 ;;
	esac
done
command -v wrk >/dev/null || { echo "bench/api.sh: needs wrk (./scripts/install-deps.sh)" >&2; exit 1; }
scandb=${SCANDB:-build/scandb}
[ -x "$scandb" ] || { echo "bench/api.sh: no $scandb (build first)" >&2; exit 1; }

out=bench/out
mkdir -p "$out"
xml="$out/api-$hosts.xml"
[ -s "$xml" ] || python3 tests/e2e/gen_nmap_xml.py --hosts "$hosts" --ports 10 --seed 7 -o "$xml"

rss() { awk '/^VmRSS/ {print $2 " kB"}' "/proc/$1/status"; }

one_backend() {
	local db=$1 label=$2 tok pid port addr
	"$scandb" --db "$db" import -q "$xml" >/dev/null 2>&1 || true
	tok=$("$scandb" --db "$db" token create "bench-$$-$RANDOM" --scope read | awk '{print $NF}')
	"$scandb" --db "$db" -q serve --listen 127.0.0.1:0 --pool-size 8 2>"$out/serve.err" &
	pid=$!
	for _ in $(seq 100); do
		port=$(sed -n 's/.*listening on http:\/\/127\.0\.0\.1:\([0-9]*\)\/.*/\1/p' "$out/serve.err")
		[ -n "$port" ] && break
		sleep 0.1
	done
	[ -n "$port" ] || { echo "serve did not start: $(cat "$out/serve.err")" >&2; kill "$pid"; return 1; }
	addr=10.0.0.77
	echo "== $label: $hosts hosts, $conns connections, ${secs}s each; server RSS at start $(rss "$pid")"
	for path in "/api/v1/hosts/$addr" "/api/v1/hosts?port=22&limit=100"; do
		echo "-- GET $path"
		wrk -t2 -c"$conns" -d"${secs}s" --latency -H "Authorization: Bearer $tok" \
			"http://127.0.0.1:$port$path" | grep -E "Requests/sec|Latency|50%|99%|Non-2xx|errors"
		echo "   server RSS after: $(rss "$pid")"
	done
	echo "-- the same as CLI processes (one run each):"
	/usr/bin/time -f "   scandb host $addr --format json: %e s, %M kB" \
		"$scandb" --db "$db" host "$addr" --format json >/dev/null
	/usr/bin/time -f "   scandb hosts --port 22 --format json (all pages): %e s, %M kB" \
		"$scandb" --db "$db" hosts --port 22 --format json >/dev/null
	kill -TERM "$pid"
	wait "$pid" || true
}

d=$(mktemp -d "$out/api-db.XXXXXX")
one_backend "$d/bench.db" sqlite
if [ -n "$pg" ]; then
	one_backend "$pg" postgresql
fi
rm -rf "$d"
