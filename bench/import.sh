#!/usr/bin/env bash
# bench/import.sh - import throughput and memory of `scandb import`, against
#   (a) the parsing floor: a bare expat pass counting <port> elements
#       (bench/expat_floor.c), and
#   (b) python3-libnmap's NmapParser.parse_fromfile (parse only, stores
#       nothing), run side by side on the same file.
# The input is real nmap output: `nmap -sT -Pn -n` over 127.0.0.0/16 (65,536
# loopback addresses) against listeners on ten ports plus one closed port.
# Loopback only.  The file is cached in bench/out/ (delete it to rescan).
#
#   bench/import.sh [--net 127.0.0.0/16] [--runs 3] [--no-libnmap]
# For context it also measures the storage floor: SQLite alone inserting the
# same number of port rows (no parsing) into a bare primary-key table and into
# scandb's real schema (bench/sqlite_floor.c).
# Prints figures and ratios; targets: import <= 2x the expat floor, >= 5x
# faster than python-libnmap, peak RSS < 64 MB.  Not a test: it never fails
# on a missed target, it reports it.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD
net=127.0.0.0/16
runs=3
libnmap=1
while [ $# -gt 0 ]; do
	case "$1" in
	--net) net=$2; shift 2 ;;
	--runs) runs=$2; shift 2 ;;
	--no-libnmap) libnmap=0; shift ;;
	*) echo "usage: $0 [--net CIDR] [--runs N] [--no-libnmap]" >&2; exit 2 ;;
	esac
done

./scripts/install-deps.sh
cmake -S . -B build -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
cmake --build build >/dev/null

out=bench/out
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
size_mb=$(awk -v b="$(stat -c %s "$xml")" 'BEGIN{printf "%.1f", b/1e6}')

# measure CMD...: prints "seconds maxrss_kb" of the best (fastest) of $runs runs
measure() {
	local best="" rss=""
	for _ in $(seq "$runs"); do
		[ -n "${PRE:-}" ] && eval "$PRE"
		local tf s m
		tf=$(mktemp)
		/usr/bin/time -o "$tf" -f '%e %M' "$@" >/dev/null 2>&1 || true
		read -r s m < <(tail -n 1 "$tf")
		rm -f "$tf"
		if [ -z "$best" ] || awk -v a="$s" -v b="$best" 'BEGIN{exit !(a<b)}'; then
			best=$s
		fi
		if [ -z "$rss" ] || [ "$m" -gt "$rss" ]; then rss=$m; fi
	done
	echo "$best $rss"
}

ports=$(./build/bench_expat_floor "$xml")
db="$out/bench.db"
read -r floor_s floor_kb < <(measure ./build/bench_expat_floor "$xml")
PRE="rm -f $db $db-wal $db-shm"
read -r imp_s imp_kb < <(measure ./build/scandb --db "$db" -q import "$xml")
# the same import without deriving change events (a benchmark-only knob)
read -r noh_s noh_kb < <(SCANDB_BENCH_NO_HISTORY=1 measure ./build/scandb --db "$db" -q import "$xml")
PRE=""
rm -f "$db" "$db-wal" "$db-shm"
./build/scandb --db "$db" -q import "$xml" >/dev/null
stored=$(sqlite3 "$db" 'SELECT count(*) FROM ports')

hosts=$(grep -c '<host ' "$xml" || true)
per=$(( (ports + hosts - 1) / hosts ))
floor_run() { # best of $runs: seconds from BEGIN to COMMIT
	local best=""
	for _ in $(seq "$runs"); do
		local s
		s=$(cd "$out" && "$root/build/bench_sqlite_floor" \
			"$root/src/store/migrations/sqlite/0001_init.up.sql" "$hosts" "$per" "$1")
		if [ -z "$best" ] || awk -v a="$s" -v b="$best" 'BEGIN{exit !(a<b)}'; then best=$s; fi
	done
	echo "$best"
}
sq_bare=$(floor_run bare)
sq_schema=$(floor_run schema)

if [ "$libnmap" = 1 ] && /usr/bin/python3 -c 'import libnmap' 2>/dev/null; then
	read -r lib_s lib_kb < <(runs=1 measure /usr/bin/python3 -c \
		'import sys; from libnmap.parser import NmapParser; r = NmapParser.parse_fromfile(sys.argv[1]); print(sum(len(h.get_ports()) for h in r.hosts))' "$xml")
else
	lib_s=""; lib_kb=""
fi

ratio() { awk -v a="$1" -v b="$2" 'BEGIN{ if (b > 0) printf "%.2f", a/b; else print "n/a" }'; }
echo
echo "== scandb import benchmark ($(date -u +%Y-%m-%dT%H:%M:%SZ), $(nproc) cores) =="
echo "input: $xml ($size_mb MB, $ports <port> elements, nmap -sT over $net)"
printf '%-32s %8s s  %10s ports/s  peak RSS %6.1f MB\n' "expat floor (count <port>)" "$floor_s" \
	"$(awk -v p="$ports" -v s="$floor_s" 'BEGIN{printf "%.0f", p/s}')" "$(awk -v k="$floor_kb" 'BEGIN{print k/1024}')"
printf '%-32s %8s s  %10s ports/s  peak RSS %6.1f MB  (%s ports stored)\n' "scandb import (fresh SQLite db)" "$imp_s" \
	"$(awk -v p="$ports" -v s="$imp_s" 'BEGIN{printf "%.0f", p/s}')" "$(awk -v k="$imp_kb" 'BEGIN{print k/1024}')" "$stored"
printf '%-32s %8s s  %10s ports/s  peak RSS %6.1f MB  (no change events)\n' "scandb import, history off" "$noh_s" \
	"$(awk -v p="$ports" -v s="$noh_s" 'BEGIN{printf "%.0f", p/s}')" "$(awk -v k="$noh_kb" 'BEGIN{print k/1024}')"
if [ -n "$lib_s" ]; then
	printf '%-32s %8s s  %10s ports/s  peak RSS %6.1f MB\n' "python-libnmap parse only" "$lib_s" \
		"$(awk -v p="$ports" -v s="$lib_s" 'BEGIN{printf "%.0f", p/s}')" "$(awk -v k="$lib_kb" 'BEGIN{print k/1024}')"
fi
printf '%-32s %8s s  (%s hosts x %s ports, no parsing)\n' "SQLite floor, bare PK table" "$sq_bare" "$hosts" "$per"
printf '%-32s %8s s  (same rows, real schema: CHECKs, FKs, indexes)\n' "SQLite floor, scandb schema" "$sq_schema"
echo
echo "import / expat floor:        $(ratio "$imp_s" "$floor_s")x   (target <= 2x)"
[ -n "$lib_s" ] && echo "python-libnmap / import:     $(ratio "$lib_s" "$imp_s")x   (target >= 5x; history off: $(ratio "$lib_s" "$noh_s")x)"
echo "import, history off / expat floor: $(ratio "$noh_s" "$floor_s")x"
echo "import / (expat + SQLite schema floor): $(ratio "$imp_s" "$(awk -v a="$floor_s" -v b="$sq_schema" 'BEGIN{print a+b}')")x"
echo "import peak RSS:             $(awk -v k="$imp_kb" 'BEGIN{printf "%.1f", k/1024}') MB   (target < 64 MB)"
