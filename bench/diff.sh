#!/usr/bin/env bash
# bench/diff.sh - speed and memory of `scandb diff`, against ndiff on the same
# two files in the same run, and of a diff of the same two scans stored as jobs.
#
# Input: two real nmap scans of 127.0.0.0/16 (65,536 loopback addresses,
# `nmap -sT -Pn -n`), made by bench/loopback_scan.py and cached in bench/out/:
#   A  loopback-127.0.0.0_16.xml    (bench/import.sh's file): 18001-18010 open, 19001 closed
#   B  loopback-127.0.0.0_16-b.xml  18001-18008 + 18011,18012 open; 18009,18010,19001 closed
# so every host differs (two ports closed, two opened).  Loopback only.
#
#   bench/diff.sh [--runs 3] [--build-dir build] [--no-ndiff]
#
# Prints, for each: wall seconds (best of --runs; ndiff runs once), CPU seconds
# (user + sys of that run) and peak RSS; the ratios; whether scandb's text
# output and ndiff's state the same changes (the same host blocks, ndiff's
# are in string order of the address, scandb's in numeric order).
# Targets: `scandb diff FILE_A FILE_B` >= 10x faster than ndiff with a lower
# peak RSS; `scandb diff JOB_A JOB_B` < 1 s.  Not a test: it reports a missed
# target, it never fails on one.
set -euo pipefail
cd "$(dirname "$0")/.."
runs=3
build=build
with_ndiff=1
while [ $# -gt 0 ]; do
	case "$1" in
	--runs) runs=$2; shift 2 ;;
	--build-dir) build=$2; shift 2 ;;
	--no-ndiff) with_ndiff=0; shift ;;
	*) echo "usage: $0 [--runs N] [--build-dir DIR] [--no-ndiff]" >&2; exit 2 ;;
	esac
done

./scripts/install-deps.sh
cmake -S . -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
cmake --build "$build" >/dev/null
scandb=$PWD/$build/scandb

out=bench/out
mkdir -p "$out"
net=127.0.0.0/16
a="$out/loopback-${net//\//_}.xml"
b="$out/loopback-${net//\//_}-b.xml"
scan() { # scan OUT OPEN CLOSED
	if [ ! -s "$1" ]; then
		echo "bench: scanning $net (loopback) with nmap to build $1 ..." >&2
		/usr/bin/python3 bench/loopback_scan.py --open "$2" --closed "$3" --target "$net" \
			--nmap-arg=-T5 --nmap-arg=--max-retries=0 "$1.tmp"
		mv "$1.tmp" "$1"
	fi
}
scan "$a" 18001,18002,18003,18004,18005,18006,18007,18008,18009,18010 19001
scan "$b" 18001,18002,18003,18004,18005,18006,18007,18008,18011,18012 18009,18010,19001

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

# measure N CMD...: "wall cpu maxrss_kb" of the fastest of N runs (rss: the
# highest seen).  Output goes to $MEASURE_OUT (default /dev/null).
measure() {
	local n=$1 best="" cpu="" rss=""
	shift
	for _ in $(seq "$n"); do
		local w u s m
		# (diff exits 1 when the scans differ: not a failure here)
		/usr/bin/time -o "$tmp/time" -f '%e %U %S %M' "$@" >"${MEASURE_OUT:-/dev/null}" \
			2>/dev/null || true
		read -r w u s m < <(tail -n 1 "$tmp/time")
		if [ -z "$best" ] || awk -v x="$w" -v y="$best" 'BEGIN{exit !(x<y)}'; then
			best=$w
			cpu=$(awk -v u="$u" -v s="$s" 'BEGIN{printf "%.2f", u+s}')
		fi
		if [ -z "$rss" ] || [ "$m" -gt "$rss" ]; then rss=$m; fi
	done
	echo "$best $cpu $rss"
}
mb() { awk -v k="$1" 'BEGIN{printf "%.1f", k/1024}'; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN{ if (b > 0) printf "%.1f", a/b; else print "n/a" }'; }
row() { printf '%-34s %7s s wall  %7s s cpu  peak RSS %7s MB\n' "$1" "$2" "$3" "$(mb "$4")"; }


read -r sf_w sf_c sf_kb < <(MEASURE_OUT=$tmp/scandb.txt measure "$runs" "$scandb" diff "$a" "$b")
read -r sx_w sx_c sx_kb < <(measure "$runs" "$scandb" diff --format xml "$a" "$b")
read -r sj_w sj_c sj_kb < <(measure "$runs" "$scandb" diff --format json "$a" "$b")
if [ "$with_ndiff" = 1 ] && command -v ndiff >/dev/null; then
	read -r nd_w nd_c nd_kb < <(MEASURE_OUT=$tmp/ndiff.txt measure 1 ndiff "$a" "$b")
else
	nd_w=""
fi

db="$tmp/bench.db"
t0=$(date +%s.%N)
"$scandb" --db "$db" -q import "$a" "$b" >/dev/null
t1=$(date +%s.%N)
read -r jd_w jd_c jd_kb < <(MEASURE_OUT=$tmp/jobs.txt measure "$runs" "$scandb" --db "$db" diff 1 2)
read -r jx_w jx_c jx_kb < <(measure "$runs" "$scandb" --db "$db" diff --format json 1 2)

hosts=$(grep -c '<host ' "$a" || true)
echo
echo "== scandb diff benchmark ($(date -u +%Y-%m-%dT%H:%M:%SZ), $(nproc) cores, load $(cut -d' ' -f1 /proc/loadavg)) =="
echo "A: $a ($(mb $(($(stat -c %s "$a") / 1024))) MB, $hosts hosts)"
echo "B: $b ($(mb $(($(stat -c %s "$b") / 1024))) MB); every host differs"
[ -n "$nd_w" ] && row "ndiff FILE_A FILE_B" "$nd_w" "$nd_c" "$nd_kb"
row "scandb diff FILE_A FILE_B" "$sf_w" "$sf_c" "$sf_kb"
row "scandb diff --format xml (files)" "$sx_w" "$sx_c" "$sx_kb"
row "scandb diff --format json (files)" "$sj_w" "$sj_c" "$sj_kb"
row "scandb diff JOB_A JOB_B" "$jd_w" "$jd_c" "$jd_kb"
row "scandb diff --format json (jobs)" "$jx_w" "$jx_c" "$jx_kb"
echo "(import of both files, not part of any target: $(awk -v a="$t0" -v b="$t1" 'BEGIN{printf "%.1f", b-a}') s)"
echo
if [ -n "$nd_w" ]; then
	echo "ndiff / scandb (files), wall:   $(ratio "$nd_w" "$sf_w")x   (target >= 10x)"
	echo "ndiff / scandb (files), cpu:    $(ratio "$nd_c" "$sf_c")x"
	echo "peak RSS, ndiff / scandb:       $(ratio "$nd_kb" "$sf_kb")x   (target > 1x)"
	same=$(/usr/bin/python3 - "$tmp/ndiff.txt" "$tmp/scandb.txt" <<'EOF'
import sys
def blocks(p):
    t = open(p).read().rstrip("\n").split("\n\n")
    return t[0], sorted(t[1:])
print("yes" if blocks(sys.argv[1]) == blocks(sys.argv[2]) else "NO")
EOF
)
	echo "same changes as ndiff (text):   $same"
fi
cmp -s "$tmp/scandb.txt" "$tmp/jobs.txt" && jsame=yes || jsame=NO
echo "job diff output = file diff:    $jsame"
echo "scandb diff JOB_A JOB_B:        $jd_w s wall   (target < 1 s)"
