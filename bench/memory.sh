#!/usr/bin/env bash
# bench/memory.sh - peak RSS and wall time of `scandb import`, `host` and
# `diff` on files shaped to use memory, with this tree's scandb and with an
# earlier commit's (--before, built in a temporary worktree), one after the
# other in the same run, side by side.
#
#   bench/memory.sh [--before REF] [--hosts "1000000 5000000"] [--build-dir build]
#
# Cases (tests/e2e/memory_xml.py writes the XML; many-host files go through
# a pipe, `scandb import -`, so that 5 million hosts need no disk for XML):
#   import N small hosts (one open port each), for each N of --hosts;
#   one host of 20 port scripts of 4 MiB (an 84 MB file): import; the same
#     host again with every output changed; `host`, `host --format json`,
#     `diff 1 2` on it;
#   the run's pre-scan scripts: 17 of 4 MiB;
#   one host listing all 65,535 ports (a tarpit scanned with -sV): import,
#     again, `host`, `diff 1 2`.
# The default REF, f6f1ba5, is main before the memory work of issue 17
# (item 10).  The 5-million-host import takes minutes per binary.  Not a
# test: it prints figures; tests/e2e/test_memory.py holds the limits.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD
before=f6f1ba5
hosts="1000000 5000000"
build=build
while [ $# -gt 0 ]; do
	case "$1" in
	--before) before=$2; shift 2 ;;
	--hosts) hosts=$2; shift 2 ;;
	--build-dir) build=$2; shift 2 ;;
	*) echo "usage: $0 [--before REF] [--hosts \"N ...\"] [--build-dir DIR]" >&2; exit 2 ;;
	esac
done

./scripts/install-deps.sh
cmake -S . -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
cmake --build "$build" --target scandb >/dev/null
after_bin=$root/$build/scandb

tmp=$(mktemp -d)
cleanup() {
	git -C "$root" worktree remove --force "$tmp/src" >/dev/null 2>&1 || true
	rm -rf "$tmp"
}
trap cleanup EXIT
echo "bench: building $before in a temporary worktree ..." >&2
git -C "$root" worktree add --detach "$tmp/src" "$before" >/dev/null 2>&1
cmake -S "$tmp/src" -B "$tmp/build" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
cmake --build "$tmp/build" --target scandb >/dev/null
before_bin=$tmp/build/scandb

gen="/usr/bin/python3 $root/tests/e2e/memory_xml.py"
db=$tmp/bench.db
fresh() { rm -f "$db" "$db-wal" "$db-shm"; }

# run [GEN_ARGS] -- SCANDB_ARGS...: "seconds maxrss_kb exit" of one run of
# scandb (GEN_ARGS: memory_xml.py's arguments, piped to scandb's stdin).
run() {
	local g=() tf s m rc
	while [ "$1" != "--" ]; do g+=("$1"); shift; done
	shift
	tf=$(mktemp)
	if [ ${#g[@]} -gt 0 ]; then
		$gen "${g[@]}" | /usr/bin/time -o "$tf" -f '%e %M %x' "$@" >/dev/null 2>&1 || true
	else
		/usr/bin/time -o "$tf" -f '%e %M %x' "$@" >/dev/null 2>&1 </dev/null || true
	fi
	read -r s m rc < <(grep -E '^[0-9.]+ [0-9]+ [0-9]+$' "$tf" | tail -n 1)
	rm -f "$tf"
	echo "$s $m $rc"
}

rows=()
# row LABEL BEFORE_RESULT AFTER_RESULT
row() {
	local l=$1 bs bm brc as am arc
	read -r bs bm brc <<<"$2"
	read -r as am arc <<<"$3"
	rows+=("$(printf '%-44s %9.1f MB %8.2f s  %9.1f MB %8.2f s  %s' "$l" \
		"$(awk -v k="$bm" 'BEGIN{print k/1024}')" "$bs" \
		"$(awk -v k="$am" 'BEGIN{print k/1024}')" "$as" \
		"$([ "$brc$arc" = 00 ] || echo "(exit $brc / $arc)")")")
	echo "${rows[-1]}" >&2
}

# each (label, generator args or "", scandb args): before, then after
for n in $hosts; do
	r=()
	for bin in "$before_bin" "$after_bin"; do
		fresh
		r+=("$(run hosts "$n" -- "$bin" --db "$db" -q import -)")
	done
	row "import $n hosts (stdin)" "${r[0]}" "${r[1]}"
done

s20=$tmp/s20.xml s20b=$tmp/s20b.xml pre=$tmp/pre.xml tarpit=$tmp/tarpit.xml
$gen scripts 20 --size 4194000 >"$s20"
$gen scripts 20 --size 4194000 --fill z --seed 1 >"$s20b"
$gen runscripts 17 --size 4194000 >"$pre"
$gen ports 65535 --field 16 >"$tarpit"
declare -A res
for side in before after; do
	bin=before_bin
	[ "$side" = after ] && bin=after_bin
	bin=${!bin}
	fresh
	res[$side,imp]=$(run -- "$bin" --db "$db" -q import "$s20")
	res[$side,again]=$(run -- "$bin" --db "$db" -q import "$s20b")
	res[$side,host]=$(run -- "$bin" --db "$db" host 10.0.0.0)
	res[$side,json]=$(run -- "$bin" --db "$db" host --format json 10.0.0.0)
	res[$side,diff]=$(run -- "$bin" --db "$db" diff 1 2)
	fresh
	res[$side,pre]=$(run -- "$bin" --db "$db" -q import "$pre")
	fresh
	res[$side,tp]=$(run -- "$bin" --db "$db" -q import "$tarpit")
	res[$side,tp2]=$(run -- "$bin" --db "$db" -q import --force "$tarpit")
	res[$side,tphost]=$(run -- "$bin" --db "$db" host 10.0.0.0)
	res[$side,tpdiff]=$(run -- "$bin" --db "$db" diff 1 2)
done
row "import 1 host, 20 scripts of 4 MiB" "${res[before,imp]}" "${res[after,imp]}"
row "  the same host again, every output changed" "${res[before,again]}" "${res[after,again]}"
row "  host" "${res[before,host]}" "${res[after,host]}"
row "  host --format json" "${res[before,json]}" "${res[after,json]}"
row "  diff 1 2" "${res[before,diff]}" "${res[after,diff]}"
row "import 17 pre-scan scripts of 4 MiB" "${res[before,pre]}" "${res[after,pre]}"
row "import 1 host of 65,535 ports (-sV)" "${res[before,tp]}" "${res[after,tp]}"
row "  the same again (--force)" "${res[before,tp2]}" "${res[after,tp2]}"
row "  host" "${res[before,tphost]}" "${res[after,tphost]}"
row "  diff 1 2" "${res[before,tpdiff]}" "${res[after,tpdiff]}"

echo
printf '%-44s %23s  %23s\n' "peak RSS, wall time" "before ($before)" "after ($(git rev-parse --short HEAD))"
printf '%s\n' "${rows[@]}"
echo
echo "diff exits 1 when the scans differ.  Before, a script output over 4 MiB was refused and one"
echo "of 4 MiB kept whole; after, each is cut to 1 MiB and a host's to 8 MiB in all (warnings)."
