#!/usr/bin/env bash
# bench/pg_import.sh - `scandb import` on PostgreSQL (loopback) against
# SQLite, on the same real nmap file as bench/import.sh (65,536 hosts,
# 720,896 ports; scanned once over 127.0.0.0/16 and cached in bench/out/):
#   1. one importer, the whole file, into a fresh database: SQLite, then
#      PostgreSQL;
#   2. four concurrent importers, each a quarter of the file's hosts
#      (bench/split_nmap_xml.py), into one fresh database: aggregate
#      ports/s = all ports stored / wall time of the four.
# PostgreSQL is a throw-away cluster (scripts/pg-cluster.sh) on 127.0.0.1,
# switched to durable settings for the measurement (fsync, synchronous_commit
# and full_page_writes on, shared_buffers 128MB, wal_level replica,
# max_wal_size 1GB: PostgreSQL's defaults), as
# SQLite runs with synchronous=FULL.  Server and clients share this machine's
# cores.  Targets (issue 3): one PostgreSQL importer within 3x of SQLite's
# time; four concurrent importers' aggregate throughput no lower than one
# importer's.  Not a test: it reports figures and ratios, it never fails on a
# missed target.
#
#   bench/pg_import.sh [--net 127.0.0.0/16] [--runs 2]
set -euo pipefail
cd "$(dirname "$0")/.."
net=127.0.0.0/16
runs=2
while [ $# -gt 0 ]; do
	case "$1" in
	--net) net=$2; shift 2 ;;
	--runs) runs=$2; shift 2 ;;
	*) echo "usage: $0 [--net CIDR] [--runs N]" >&2; exit 2 ;;
	esac
done

./scripts/install-deps.sh
cmake -S . -B build -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
cmake --build build >/dev/null
scandb=$PWD/build/scandb

out=$PWD/bench/out
mkdir -p "$out"
xml="$out/loopback-${net//\//_}.xml"
if [ ! -s "$xml" ]; then
	echo "bench: scanning $net (loopback) with nmap to build $xml ..." >&2
	/usr/bin/python3 bench/loopback_scan.py \
		--open 18001,18002,18003,18004,18005,18006,18007,18008,18009,18010 \
		--closed 19001 --target "$net" --nmap-arg=-T5 --nmap-arg=--max-retries=0 \
		"$xml.tmp"
	mv "$xml.tmp" "$xml"
fi
quarters="$out/pgbench-quarter"
/usr/bin/python3 bench/split_nmap_xml.py "$xml" 4 "$quarters"

env="$out/pgbench.env"
cleanup() { ./scripts/pg-cluster.sh stop "$env" >/dev/null 2>&1 || true; }
trap cleanup EXIT
CI= SCANDB_PG_MAX_WAL=1GB SCANDB_PG_SHARED_BUFFERS=128MB SCANDB_PG_WAL_LEVEL=replica \
	./scripts/pg-cluster.sh start "$env" durable >/dev/null
psql_su() { ./scripts/pg-cluster.sh psql "$env" -X -q -v ON_ERROR_STOP=1 "$@"; }
port=$(sed -n 's/^SCANDB_PG_PORT=//p' "$env")
pgver=$(psql_su -At -c "SHOW server_version")

now() { date +%s.%N; }
# fresh_db BACKEND -> prints a target for a new empty database
fresh_db() {
	if [ "$1" = sqlite ]; then
		rm -f "$out/pgbench.db" "$out/pgbench.db-wal" "$out/pgbench.db-shm"
		echo "$out/pgbench.db"
	else
		psql_su -c "DROP DATABASE IF EXISTS pgbench_import" -c "CREATE DATABASE pgbench_import"
		echo "postgresql://scandb@127.0.0.1:$port/pgbench_import"
	fi
}
ports_in() { # TARGET -> stored port rows
	case "$1" in
	postgresql:*) psql_su -d pgbench_import -At -c "SELECT count(*) FROM ports" ;;
	*) sqlite3 "$1" "SELECT count(*) FROM ports" ;;
	esac
}
# one BACKEND -> best seconds of $runs single imports of the whole file
one() {
	local best="" db t0 t1 s
	for _ in $(seq "$runs"); do
		db=$(fresh_db "$1")
		"$scandb" --db "$db" -q migrate up >/dev/null
		t0=$(now)
		"$scandb" --db "$db" -q import "$xml" >/dev/null
		t1=$(now)
		s=$(awk -v a="$t0" -v b="$t1" 'BEGIN{printf "%.2f", b-a}')
		if [ -z "$best" ] || awk -v a="$s" -v b="$best" 'BEGIN{exit !(a<b)}'; then best=$s; fi
	done
	stored=$(ports_in "$db")
	echo "$best $stored"
}
# four BACKEND -> best wall seconds of $runs runs of 4 concurrent importers
four() {
	local best="" db t0 t1 s pids fail
	for _ in $(seq "$runs"); do
		db=$(fresh_db "$1")
		"$scandb" --db "$db" -q migrate up >/dev/null
		pids=()
		t0=$(now)
		for i in 1 2 3 4; do
			"$scandb" --db "$db" -q import "$quarters.$i.xml" >/dev/null &
			pids+=($!)
		done
		fail=0
		for p in "${pids[@]}"; do wait "$p" || fail=1; done
		t1=$(now)
		[ "$fail" = 0 ] || { echo "bench: a concurrent importer failed ($1)" >&2; exit 1; }
		s=$(awk -v a="$t0" -v b="$t1" 'BEGIN{printf "%.2f", b-a}')
		if [ -z "$best" ] || awk -v a="$s" -v b="$best" 'BEGIN{exit !(a<b)}'; then best=$s; fi
	done
	stored=$(ports_in "$db")
	echo "$best $stored"
}

read -r sq1 sq1_ports < <(one sqlite)
read -r pg1 pg1_ports < <(one pg)
read -r sq4 sq4_ports < <(four sqlite)
read -r pg4 pg4_ports < <(four pg)

rate() { awk -v p="$1" -v s="$2" 'BEGIN{printf "%.0f", p/s}'; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN{printf "%.2f", a/b}'; }
echo
echo "scandb import: $(basename "$xml") ($sq1_ports ports stored), $(nproc) cores, best of $runs"
echo "PostgreSQL $pgver on 127.0.0.1 (fsync on, synchronous_commit on), SQLite $(sqlite3 --version | cut -d' ' -f1) (WAL, synchronous=FULL)"
printf '  %-34s %8s s  %9s ports/s\n' "SQLite, 1 importer" "$sq1" "$(rate "$sq1_ports" "$sq1")"
printf '  %-34s %8s s  %9s ports/s\n' "PostgreSQL, 1 importer" "$pg1" "$(rate "$pg1_ports" "$pg1")"
printf '  %-34s %8s s  %9s ports/s (aggregate)\n' "SQLite, 4 concurrent importers" "$sq4" "$(rate "$sq4_ports" "$sq4")"
printf '  %-34s %8s s  %9s ports/s (aggregate)\n' "PostgreSQL, 4 concurrent importers" "$pg4" "$(rate "$pg4_ports" "$pg4")"
echo "  PostgreSQL / SQLite time, 1 importer:         $(ratio "$pg1" "$sq1")x  (target <= 3x)"
echo "  PostgreSQL 4 concurrent / 1 importer, ports/s: $(ratio "$(rate "$pg4_ports" "$pg4")" "$(rate "$pg1_ports" "$pg1")")  (target >= 1.00)"
[ "$pg1_ports" = "$sq1_ports" ] && [ "$pg4_ports" = "$sq4_ports" ] ||
	echo "  WARNING: stored port counts differ: sqlite $sq1_ports/$sq4_ports, pg $pg1_ports/$pg4_ports"
