#!/usr/bin/env bash
# bench/history.sh - the cost of history: import with change-event derivation
# against the same import without it (SCANDB_BENCH_NO_HISTORY=1, a benchmark
# knob only), and `scandb changes --since` over 30 stored scans.
#
# Inputs (real nmap output, loopback only, cached in bench/out/):
#   A, B   two scans of 127.0.0.0/16 (65,536 hosts), as in bench/diff.sh
#   30 scans of 127.0.0.0/20 (4,096 hosts), each with a different set of the
#          ten listener ports open, so every scan changes every host
#
#   bench/history.sh [--runs 3] [--imports-only]
# (--imports-only: just the two import comparisons, not `changes` over 30 scans)
# Target: import with events no worse than 1.5x the time without.  Prints
# figures; never fails on a missed target.
set -euo pipefail
cd "$(dirname "$0")/.."
runs=3
imports_only=0
while [ $# -gt 0 ]; do
	case "$1" in
	--runs) runs=$2; shift 2 ;;
	--imports-only) imports_only=1; shift ;;
	*) echo "usage: $0 [--runs N] [--imports-only]" >&2; exit 2 ;;
	esac
done

./scripts/install-deps.sh
cmake -S . -B build -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
cmake --build build >/dev/null
scandb=$PWD/build/scandb
out=bench/out
mkdir -p "$out"
ports="18001,18002,18003,18004,18005,18006,18007,18008,18009,18010"

scan() { # OUT NET OPEN CLOSED
	[ -s "$1" ] && return 0
	/usr/bin/python3 bench/loopback_scan.py --open "$3" --closed "$4" --target "$2" \
		--nmap-arg=-T5 --nmap-arg=--max-retries=0 "$1.tmp" 2>/dev/null
	mv "$1.tmp" "$1"
}
A=$out/loopback-127.0.0.0_16.xml
B=$out/loopback-127.0.0.0_16-b.xml
scan "$A" 127.0.0.0/16 "$ports" 19001
scan "$B" 127.0.0.0/16 18001,18002,18003,18004,18005,18006,18007,18008,18011,18012 \
	18009,18010,19001

# timed CMD...: "seconds maxrss_kb" of one run (output discarded)
timed() {
	local tf
	tf=$(mktemp)
	/usr/bin/time -o "$tf" -f '%e %M' "$@" >/dev/null 2>&1 || true
	tail -n 1 "$tf"
	rm -f "$tf"
}

# best wall seconds of $runs runs of: rm db; import FILE1; then time import FILE2
best_second_import() { # DB FILE1 FILE2 -> seconds
	local best=""
	for _ in $(seq "$runs"); do
		rm -f "$1" "$1-wal" "$1-shm"
		"$scandb" --db "$1" -q import "$2" >/dev/null
		local t
		t=$(timed "$scandb" --db "$1" -q import "$3")
		t=${t% *}
		if [ -z "$best" ] || awk -v a="$t" -v b="$best" 'BEGIN{exit !(a<b)}'; then best=$t; fi
	done
	echo "$best"
}
best_first_import() { # DB FILE -> seconds
	local best=""
	for _ in $(seq "$runs"); do
		rm -f "$1" "$1-wal" "$1-shm"
		local t
		t=$(timed "$scandb" --db "$1" -q import "$2")
		t=${t% *}
		if [ -z "$best" ] || awk -v a="$t" -v b="$best" 'BEGIN{exit !(a<b)}'; then best=$t; fi
	done
	echo "$best"
}
db=$out/history.db
first_h=$(best_first_import "$db" "$A")
second_h=$(best_second_import "$db" "$A" "$B")
export SCANDB_BENCH_NO_HISTORY=1
first_n=$(best_first_import "$db" "$A")
second_n=$(best_second_import "$db" "$A" "$B")
unset SCANDB_BENCH_NO_HISTORY
events=$(rm -f "$db"*; "$scandb" --db "$db" -q import "$A" "$B" >/dev/null; sqlite3 "$db" 'SELECT count(*) FROM host_events')

ratio() { awk -v a="$1" -v b="$2" 'BEGIN{ if (b > 0) printf "%.2f", a/b; else print "n/a" }'; }
imports() {
	echo
	echo "== scandb history benchmark ($(date -u +%Y-%m-%dT%H:%M:%SZ), $(nproc) cores, best of $runs) =="
	printf '%-44s %6s s   without events %6s s   ratio %sx (target <= 1.5x)\n' \
		"first import of A (65,536 new hosts)" "$first_h" "$first_n" "$(ratio "$first_h" "$first_n")"
	printf '%-44s %6s s   without events %6s s   ratio %sx (target <= 1.5x)\n' \
		"import of B on top of A (every host changed)" "$second_h" "$second_n" "$(ratio "$second_h" "$second_n")"
	echo "events derived by A then B: $events"
}
if [ "$imports_only" = 1 ]; then
	imports
	exit 0
fi

# 30 scans of a /20, each with another subset of the ports open
mkdir -p "$out/h30"
for i in $(seq 1 30); do
	open=$(echo "$ports" | tr , '\n' | awk -v i="$i" 'NR % 3 != i % 3 || NR == 1' | paste -sd,)
	closed=$(echo "$ports" | tr , '\n' | awk -v i="$i" '!(NR % 3 != i % 3 || NR == 1)' | paste -sd,)
	scan "$out/h30/scan$i.xml" 127.0.0.0/20 "$open" "${closed:-19001}"
done
db30=$out/history30.db
rm -f "$db30"*
"$scandb" --db "$db30" -q import "$out"/h30/scan*.xml >/dev/null
nev=$(sqlite3 "$db30" 'SELECT count(*) FROM host_events')
best=""
for _ in $(seq "$runs"); do
	t=$(timed "$scandb" --db "$db30" changes --since 30d --format ndjson)
	s=${t% *}
	if [ -z "$best" ] || awk -v a="$s" -v b="$best" 'BEGIN{exit !(a<b)}'; then best=$s; rss=${t#* }; fi
done

imports
printf 'changes --since 30d over 30 stored scans of 4,096 hosts (%s events): %s s, peak RSS %.1f MB\n' \
	"$nev" "$best" "$(awk -v k="$rss" 'BEGIN{print k/1024}')"
