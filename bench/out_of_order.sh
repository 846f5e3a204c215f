#!/usr/bin/env bash
# bench/out_of_order.sh - what scans that arrive out of order cost (issue 16),
# before and after, side by side in one run:
#   1. 20 and 100 scans of the same 1,024 hosts, an hour apart, a few ports
#      changing (bench/ooo_scans.py, from tests/e2e/gen_nmap_xml.py), each
#      file imported by its own `scandb import`, oldest first and newest
#      first (every file then older than all stored: the worst order), on
#      SQLite and PostgreSQL; also newest first in one `scandb import`
#      command (which stores them in scan-time order);
#   2. the 20 scans imported by 20 concurrent importers on PostgreSQL,
#      against one after another (oldest first);
#   3. one out-of-order import of a 4,096-host scan (older than the three
#      scans of the same hosts already stored), PostgreSQL against SQLite;
#   4. (not with --quick) one scan late by one place after 99 stored (what
#      a scan worker that finishes a little late does), against the next
#      scan in order after the same 99, on both backends: a late scan
#      starts from a state kept a few scans before it, not from the first.
# Targets: newest first within 1.5x of oldest first (both backends, 20 and
# 100 scans); concurrent within 1.2x of one after another; the 4,096-host
# out-of-order import on PostgreSQL within 3x of SQLite.
#
# "before" is scandb built from another commit (default: where this branch
# left main, `git merge-base HEAD main`), exported with `git archive` into
# bench/out and built there; "after" is this tree.  A measurement that
# passes --limit seconds is stopped and shown as ">LIMIT" (the old replay
# takes hours on some of these).  PostgreSQL is a throw-away cluster
# (scripts/pg-cluster.sh) on 127.0.0.1, switched to durable settings
# (fsync, synchronous_commit, full_page_writes on) as bench/pg_import.sh
# does; SQLite runs with synchronous=FULL.  Server and clients share this
# machine's cores.  Prints figures and ratios; never fails on a missed target.
#
#   bench/out_of_order.sh [--before REF | --no-before] [--limit 300] [--runs 2] [--quick]
# (--runs: best of N runs of each measurement of after, before's are run
# once; one that was stopped is not run again.  --quick: 20 scans only, no 100-scan case)
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD
before_ref=""
no_before=0
limit=300
runs=2
quick=0
while [ $# -gt 0 ]; do
	case "$1" in
	--before) before_ref=$2; shift 2 ;;
	--no-before) no_before=1; shift ;;
	--limit) limit=$2; shift 2 ;;
	--runs) runs=$2; shift 2 ;;
	--quick) quick=1; shift ;;
	*) echo "usage: $0 [--before REF | --no-before] [--limit SECONDS] [--runs N] [--quick]" >&2; exit 2 ;;
	esac
done
case "$limit$runs" in '' | *[!0-9]*) echo "$0: --limit and --runs take a number" >&2; exit 2 ;; esac

./scripts/install-deps.sh
cmake -S . -B build -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
cmake --build build >/dev/null
after=$root/build/scandb
out=$root/bench/out/ooo
mkdir -p "$out"

# ---- the scandb of before ----------------------------------------------------
before=""
if [ "$no_before" = 0 ]; then
	[ -n "$before_ref" ] || before_ref=$(git merge-base HEAD main)
	rev=$(git rev-parse --short "$before_ref^{commit}")
	bsrc=$out/before-$rev
	if [ ! -x "$bsrc/build/scandb" ]; then
		rm -rf "$bsrc"
		mkdir -p "$bsrc"
		git archive "$rev" | tar -x -C "$bsrc"
		cmake -S "$bsrc" -B "$bsrc/build" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo \
			-DSCANDB_TESTS=OFF >/dev/null
		cmake --build "$bsrc/build" --target scandb >/dev/null
	fi
	before=$bsrc/build/scandb
fi

# ---- scans -------------------------------------------------------------------
nmax=100
[ "$quick" = 1 ] && nmax=20
if [ ! -s "$out/s1024/scan$(printf %03d "$nmax").xml" ]; then
	/usr/bin/python3 bench/ooo_scans.py --hosts 1024 --scans "$nmax" --seed 1 "$out/s1024"
fi
if [ ! -s "$out/s4096/scan004.xml" ]; then
	/usr/bin/python3 bench/ooo_scans.py --hosts 4096 --scans 4 --seed 2 "$out/s4096"
fi
scans() { # N -> the first N scans, oldest first
	local i
	for i in $(seq 1 "$1"); do printf '%s/s1024/scan%03d.xml\n' "$out" "$i"; done
}

# ---- PostgreSQL ----------------------------------------------------------------
env="$out/pg.env"
cleanup() { ./scripts/pg-cluster.sh stop "$env" >/dev/null 2>&1 || true; }
trap cleanup EXIT
CI= SCANDB_PG_MAX_WAL=1GB SCANDB_PG_SHARED_BUFFERS=128MB SCANDB_PG_WAL_LEVEL=replica \
	./scripts/pg-cluster.sh start "$env" durable >/dev/null
psql_su() { ./scripts/pg-cluster.sh psql "$env" -X -q -v ON_ERROR_STOP=1 "$@"; }
port=$(sed -n 's/^SCANDB_PG_PORT=//p' "$env")
pgver=$(psql_su -At -c "SHOW server_version")

# fresh BACKEND SCANDB -> a target for a new empty database, migrated by SCANDB
fresh() {
	local db
	if [ "$1" = sqlite ]; then
		db=$out/bench.db
		rm -f "$db" "$db-wal" "$db-shm"
	else
		psql_su -c "DROP DATABASE IF EXISTS ooo WITH (FORCE)" -c "CREATE DATABASE ooo"
		db="postgresql://scandb@127.0.0.1:$port/ooo"
	fi
	"$2" --db "$db" -q migrate up >/dev/null
	echo "$db"
}
events() { # TARGET -> stored change events
	case "$1" in
	postgresql:*) psql_su -d ooo -At -c "SELECT count(*) FROM host_events" ;;
	*) sqlite3 "$1" "SELECT count(*) FROM host_events" ;;
	esac
}

now() { date +%s.%N; }
# timed CMD... -> wall seconds, or ">LIMIT" when it was stopped (or failed: "failed")
timed() {
	local t0 t1 rc=0
	t0=$(now)
	timeout --kill-after=10 "$limit" "$@" >/dev/null 2>"$out/last.err" || rc=$?
	t1=$(now)
	if [ "$rc" = 124 ] || [ "$rc" = 137 ]; then
		echo ">$limit"
	elif [ "$rc" != 0 ]; then
		echo "failed"
		sed 's/^/bench: /' "$out/last.err" | tail -n 3 >&2
	else
		awk -v a="$t0" -v b="$t1" 'BEGIN{printf "%.2f", b-a}'
	fi
}

# one_by_one SCANDB TARGET FILE... : one `scandb import` per file, in order
one_by_one() {
	local s=$1 db=$2 f
	shift 2
	for f in "$@"; do "$s" --db "$db" -q import "$f" >/dev/null || return 1; done
}
# concurrent SCANDB TARGET FILE... : one importer per file, all at once
concurrent() {
	local s=$1 db=$2 f p fail=0 pids=()
	shift 2
	for f in "$@"; do
		"$s" --db "$db" -q import "$f" >/dev/null &
		pids+=($!)
	done
	for p in "${pids[@]}"; do wait "$p" || fail=1; done
	return "$fail"
}
export -f one_by_one concurrent

declare -A R # "case|which" -> seconds
declare -A EV
# runs_of WHICH -> how many runs: before's are run once (its slow cases are
# stopped anyway)
runs_of() { if [ "$1" = before ]; then echo 1; else echo "$runs"; fi; }
# best A B -> the smaller (a number beats ">LIMIT" and "failed")
best() {
	awk -v a="$1" -v b="$2" 'BEGIN{
		na = (a ~ /^[0-9.]+$/); nb = (b ~ /^[0-9.]+$/)
		if (na && (!nb || a + 0 <= b + 0)) print a; else if (nb) print b; else print a }'
}
# run_case KEY WHICH BACKEND MODE N: best of $runs fresh runs
run_case() {
	local key=$1 which=$2 backend=$3 mode=$4 n=$5 s db t files i
	s=$after
	[ "$which" = before ] && s=$before
	[ -n "$s" ] || return 0
	mapfile -t files < <(scans "$n")
	for i in $(seq "$(runs_of "$which")"); do
		db=$(fresh "$backend" "$s")
		case "$mode" in
		oldest) t=$(timed bash -c 'one_by_one "$@"' _ "$s" "$db" "${files[@]}") ;;
		newest) t=$(timed bash -c 'one_by_one "$@"' _ "$s" "$db" $(printf '%s\n' "${files[@]}" | sort -r)) ;;
		onecmd) t=$(timed "$s" --db "$db" -q import $(printf '%s\n' "${files[@]}" | sort -r)) ;;
		concurrent) t=$(timed bash -c 'concurrent "$@"' _ "$s" "$db" "${files[@]}") ;;
		esac
		R[$key|$which]=$(best "$t" "${R[$key|$which]:-$t}")
		EV[$key|$which]=$(events "$db")
		echo "bench: $key ($which, run $i): $t s, ${EV[$key|$which]} events" >&2
		if [[ "$t" = ">"* ]]; then break; fi
	done
}
# late4096 KEY WHICH BACKEND: scans 2-4 of 4,096 hosts stored, scan 1 timed
late4096() {
	local key=$1 which=$2 backend=$3 s db t i
	s=$after
	[ "$which" = before ] && s=$before
	[ -n "$s" ] || return 0
	for i in $(seq "$(runs_of "$which")"); do
		db=$(fresh "$backend" "$s")
		"$s" --db "$db" -q import "$out/s4096/scan002.xml" "$out/s4096/scan003.xml" \
			"$out/s4096/scan004.xml" >/dev/null
		t=$(timed "$s" --db "$db" -q import "$out/s4096/scan001.xml")
		R[$key|$which]=$(best "$t" "${R[$key|$which]:-$t}")
		echo "bench: $key ($which, run $i): $t s" >&2
		if [[ "$t" = ">"* ]]; then break; fi
	done
}

# late_by_one KEY WHICH BACKEND MODE: with scans 1-98 and 100 stored (one
# command), scan 99 timed (late); or with 1-99 stored, scan 100 (in order)
late_by_one() {
	local key=$1 which=$2 backend=$3 mode=$4 s db t i base timed_file
	s=$after
	[ "$which" = before ] && s=$before
	[ -n "$s" ] || return 0
	mapfile -t base < <(scans 100)
	if [ "$mode" = late ]; then
		timed_file=${base[98]}
		unset 'base[98]'
	else
		timed_file=${base[99]}
		unset 'base[99]'
	fi
	for i in $(seq "$(runs_of "$which")"); do
		db=$(fresh "$backend" "$s")
		"$s" --db "$db" -q import "${base[@]}" >/dev/null
		t=$(timed "$s" --db "$db" -q import "$timed_file")
		R[$key|$which]=$(best "$t" "${R[$key|$which]:-$t}")
		echo "bench: $key ($which, run $i): $t s" >&2
		if [[ "$t" = ">"* ]]; then break; fi
	done
}

sizes=20
[ "$quick" = 1 ] || sizes="20 100"
for which in after before; do
	for backend in sqlite pg; do
		for n in $sizes; do
			run_case "$backend-$n-oldest" "$which" "$backend" oldest "$n"
			run_case "$backend-$n-newest" "$which" "$backend" newest "$n"
			run_case "$backend-$n-onecmd" "$which" "$backend" onecmd "$n"
		done
	done
	run_case "pg-20-concurrent" "$which" pg concurrent 20
	late4096 "sqlite-late4096" "$which" sqlite
	late4096 "pg-late4096" "$which" pg
	if [ "$quick" = 0 ]; then
		for backend in sqlite pg; do
			late_by_one "$backend-lateby1" "$which" "$backend" late
			late_by_one "$backend-inorder100" "$which" "$backend" inorder
		done
	fi
done

# ---- report --------------------------------------------------------------------
ratio() { # A B -> A/B, or "n/a" when either is not a number (">LIMIT": a lower bound)
	awk -v a="$1" -v b="$2" 'BEGIN{
		la = (a ~ /^>/); lb = (b ~ /^>/); sub(/^>/, "", a); sub(/^>/, "", b)
		if (a !~ /^[0-9.]+$/ || b !~ /^[0-9.]+$/ || b == 0 || lb) { print "n/a"; exit }
		printf "%s%.2fx", la ? ">" : "", a / b }'
}
val() { echo "${R[$1]:--}"; }
row() { # LABEL NUM-KEY DEN-KEY TARGET
	printf '  %-52s %9s %9s %9s | %9s %9s %9s | %s\n' "$1" "$(val "$2|before")" \
		"$(val "$3|before")" "$(ratio "$(val "$2|before")" "$(val "$3|before")")" \
		"$(val "$2|after")" "$(val "$3|after")" "$(ratio "$(val "$2|after")" "$(val "$3|after")")" "$4"
}
echo
echo "== scandb out-of-order benchmark ($(date -u +%Y-%m-%dT%H:%M:%SZ), $(nproc) cores, load $(cut -d' ' -f1-3 /proc/loadavg)) =="
echo "before: ${before:-(not measured)}${before_ref:+ ($before_ref)}"
echo "after:  $after ($(git rev-parse --short HEAD)$(git diff --quiet || echo ', with uncommitted changes'))"
echo "PostgreSQL $pgver on 127.0.0.1 (fsync, synchronous_commit on); SQLite $(sqlite3 --version | cut -d' ' -f1) (WAL, synchronous=FULL)"
echo "scans: 1,024 hosts, an hour apart, a few ports changing; seconds, after best of $runs (>N: stopped after N s)"
printf '  %-52s %9s %9s %9s | %9s %9s %9s | %s\n' "" "before" "" "ratio" "after" "" "ratio" "target"
for backend in sqlite pg; do
	name=SQLite
	[ "$backend" = pg ] && name=PostgreSQL
	for n in $sizes; do
		row "$name, $n scans: newest first / oldest first" "$backend-$n-newest" "$backend-$n-oldest" "<= 1.5x"
		row "$name, $n scans: one command, newest first / oldest" "$backend-$n-onecmd" "$backend-$n-oldest" ""
	done
done
row "PostgreSQL, 20 concurrent importers / one after another" "pg-20-concurrent" "pg-20-oldest" "<= 1.2x"
row "one late import of 4,096 hosts: PostgreSQL / SQLite" "pg-late4096" "sqlite-late4096" "<= 3x"
if [ "$quick" = 0 ]; then
	row "SQLite, after 99 scans: late by one / the next in order" "sqlite-lateby1" "sqlite-inorder100" ""
	row "PostgreSQL, after 99 scans: late by one / the next in order" "pg-lateby1" "pg-inorder100" ""
fi
# every order stored the same number of events
for which in before after; do
	for backend in sqlite pg; do
		for n in $sizes; do
			e=${EV[$backend-$n-oldest|$which]:-}
			for m in newest onecmd; do
				f=${EV[$backend-$n-$m|$which]:-}
				if [ -n "$e" ] && [ -n "$f" ] && [ "$e" != "$f" ] && [[ "${R[$backend-$n-$m|$which]}" != ">"* ]]; then
					echo "  WARNING ($which): $backend $n scans $m stored $f events, oldest first $e"
				fi
			done
		done
	done
done
