#!/usr/bin/env bash
# bench/compare.sh - one benchmark, before and after, side by side in one run:
# the same bench script from another commit (default: main's parent of this
# branch, `git merge-base HEAD main`, or HEAD~1 on main) and from this tree,
# taking turns (before, after, before, after, ...), so that what the machine
# is doing weighs on both alike.  A refactoring that should change nothing
# shows it here.
#
#   bench/compare.sh [--before REF] [--rounds 2] BENCH [BENCH-ARGS...]
#   e.g. bench/compare.sh --before d1291a1 bench/import.sh --runs 3 --no-libnmap
#
# "before" is REF exported with `git archive` into bench/out/compare/ and
# built there by its own copy of the bench (each tree builds its own
# build/scandb); its bench/out is this tree's, so inputs the benches cache
# (scans of loopback, generated files) are made once and read by both.
# Prints each run's figures under a heading, then the lines that differ in
# one table (before | after).  Never fails on a figure.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD
ref=""
rounds=2
while [ $# -gt 0 ]; do
	case "$1" in
	--before) ref=$2; shift 2 ;;
	--rounds) rounds=$2; shift 2 ;;
	-h | --help) sed -n '2,/^set -euo/p' "$0" | sed '$d' | sed 's/^# \{0,1\}//'; exit 0 ;;
	--*) echo "usage: $0 [--before REF] [--rounds N] BENCH [ARGS...]" >&2; exit 2 ;;
	*) break ;;
	esac
done
[ $# -ge 1 ] || { echo "usage: $0 [--before REF] [--rounds N] BENCH [ARGS...]" >&2; exit 2; }
case "$rounds" in '' | *[!0-9]* | 0) echo "$0: --rounds takes a number > 0" >&2; exit 2 ;; esac
bench=${1#./}
shift
[ -x "$bench" ] || { echo "$0: no bench script $bench" >&2; exit 2; }
if [ -z "$ref" ]; then
	ref=$(git merge-base HEAD main 2>/dev/null || echo HEAD)
	[ "$(git rev-parse "$ref")" = "$(git rev-parse HEAD)" ] && ref=HEAD~1
fi
rev=$(git rev-parse --short "$ref^{commit}")
out=$root/bench/out/compare
before=$out/before-$rev
if [ ! -d "$before/bench" ]; then
	rm -rf "$before"
	mkdir -p "$before"
	git archive "$rev" | tar -x -C "$before"
fi
[ -x "$before/$bench" ] || { echo "$0: $bench is not in $rev" >&2; exit 2; }
rm -rf "$before/bench/out"
ln -s "$root/bench/out" "$before/bench/out"

log=$out/$(basename "$bench" .sh)
for i in $(seq "$rounds"); do
	for which in before after; do
		dir=$root
		[ "$which" = before ] && dir=$before
		echo "== $bench, $which ($([ "$which" = before ] && echo "$rev" || git rev-parse --short HEAD)), round $i"
		(cd "$dir" && "./$bench" "$@") 2>"$log.$which.$i.err" | tee "$log.$which.$i.out"
		echo
	done
done
echo "== the last round's lines that differ: before ($rev) | after"
diff --side-by-side --suppress-common-lines --width=200 "$log.before.$rounds.out" \
	"$log.after.$rounds.out" || true
