#!/usr/bin/env bash
# bench/scale.sh - scandb as history grows (issue 18): a realistic daily
# series (bench/scale_series.py: HOSTS hosts x 10 ports, nmap -sT -sV; each
# day ~1 % of the ports flip, ~1 % of the versions change, ~0.5 % of the
# hosts are down) imported one scan a day into SQLite and PostgreSQL side by
# side, with findings rules on port_opened, service_changed and host_down, so
# findings accumulate.  At each checkpoint (a number of stored scans) it
# prints that scan's import time on both backends and their ratio, and the
# time of `hosts` listings (all hosts, --port 22, --service http, as JSON),
# `stats` and `doctor` (--quick, and the full check).
#
# --before REV also builds scandb at git revision REV (git archive, in
# bench/out/) and runs it in the same loop, day by day, interleaved with
# this tree's build, on databases of its own: before and after under the
# same load (the machine's cores are shared).  Its series stops at
# --before-max scans (default 30: before issue 18 a PostgreSQL re-scan took
# 20-30 s and a listing minutes).
#
# PostgreSQL is a throw-away cluster (scripts/pg-cluster.sh) on 127.0.0.1
# with durable settings (fsync, synchronous_commit and full_page_writes on,
# shared_buffers 128MB, max_wal_size 1GB) as SQLite runs with
# synchronous=FULL.  Server and clients share this machine's cores.  Targets:
# a PostgreSQL re-scan within 3x of SQLite's; listings and re-scans that do
# not grow with the number of stored scans; stats under 1 s.  Not a test: it
# prints figures and never fails on a missed target.  Raw figures go to
# bench/out/scale/results.tsv.
#
#   bench/scale.sh [--hosts 16384] [--scans 1,10,30,100] [--before REV]
#                  [--before-max 30] [--backends sqlite,pg] [--keep]
# (--keep: leave the databases and the day files in bench/out/scale)
set -euo pipefail
cd "$(dirname "$0")/.."
hosts=16384
scans=1,10,30,100
before=""
before_max=30
backends=sqlite,pg
keep=0
while [ $# -gt 0 ]; do
	case "$1" in
	--hosts) hosts=$2; shift 2 ;;
	--scans) scans=$2; shift 2 ;;
	--before) before=$2; shift 2 ;;
	--before-max) before_max=$2; shift 2 ;;
	--backends) backends=$2; shift 2 ;;
	--keep) keep=1; shift ;;
	*) echo "usage: $0 [--hosts N] [--scans 1,10,30,100] [--before REV] [--before-max N]" \
		"[--backends sqlite,pg] [--keep]" >&2; exit 2 ;;
	esac
done
case "$hosts" in '' | *[!0-9]*) echo "scale: --hosts wants a number" >&2; exit 2 ;; esac
max=$(echo "$scans" | tr , '\n' | sort -n | tail -n 1)

cmake -S . -B build -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
cmake --build build >/dev/null
out=$PWD/bench/out/scale
mkdir -p "$out"
variants="after"
declare -A bin
bin[after]=$PWD/build/scandb
if [ -n "$before" ]; then
	rev=$(git rev-parse --verify "$before^{commit}")
	src=$PWD/bench/out/scale-before-${rev:0:12}
	if [ ! -x "$src/build/scandb" ]; then
		rm -rf "$src"
		mkdir -p "$src"
		git archive "$rev" | tar -x -C "$src"
		cmake -S "$src" -B "$src/build" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
		cmake --build "$src/build" --target scandb >/dev/null
	fi
	bin[before]=$src/build/scandb
	variants="before after"
fi

rules=$out/rules.conf
cat >"$rules" <<'EOF'
port_opened     *   medium  "Port opened"
service_changed *   low     "Service changed"
host_down       *   high    "Host down"
EOF
export SCANDB_RULES=$rules

env=$out/pg.env
has_pg=0
case ",$backends," in *,pg,*) has_pg=1 ;; esac
cleanup() {
	[ "$has_pg" = 1 ] && ./scripts/pg-cluster.sh stop "$env" >/dev/null 2>&1 || true
	if [ "$keep" = 0 ]; then rm -f "$out"/*.db "$out"/*.db-wal "$out"/*.db-shm "$out"/day-*.xml; fi
}
trap cleanup EXIT
pgver=""
if [ "$has_pg" = 1 ]; then
	CI= SCANDB_PG_MAX_WAL=1GB SCANDB_PG_SHARED_BUFFERS=128MB \
		./scripts/pg-cluster.sh start "$env" durable >/dev/null
	psql_su() { ./scripts/pg-cluster.sh psql "$env" -X -q -v ON_ERROR_STOP=1 "$@"; }
	port=$(sed -n 's/^SCANDB_PG_PORT=//p' "$env")
	pgver=$(psql_su -At -c "SHOW server_version")
fi

# target VARIANT BACKEND: the database of one series
target() {
	if [ "$2" = sqlite ]; then
		echo "$out/$1.db"
	else
		echo "postgresql://scandb@127.0.0.1:$port/scale_$1"
	fi
}
for v in $variants; do
	rm -f "$out/$v.db" "$out/$v.db-wal" "$out/$v.db-shm"
	[ "$has_pg" = 1 ] && psql_su -c "DROP DATABASE IF EXISTS scale_$v" -c "CREATE DATABASE scale_$v"
done

now() { date +%s.%N; }
# secs CMD...: wall seconds of one run (output discarded; failure is fatal)
secs() {
	local t0 t1
	t0=$(now)
	"$@" >/dev/null 2>"$out/last.err" || { echo "scale: failed: $*" >&2; cat "$out/last.err" >&2; exit 1; }
	t1=$(now)
	awk -v a="$t0" -v b="$t1" 'BEGIN{printf "%.2f", b-a}'
}
day_file() { # DAY -> path (generated on first use)
	local f
	f=$(printf '%s/day-%03d.xml' "$out" "$1")
	[ -s "$f" ] || /usr/bin/python3 bench/scale_series.py --hosts "$hosts" --day "$1" -o "$f"
	echo "$f"
}
is_checkpoint() { case ",$scans," in *",$1,"*) return 0 ;; esac; return 1; }

res=$out/results.tsv
printf 'variant\tbackend\tscans\twhat\tseconds\n' >"$res"
record() { printf '%s\t%s\t%s\t%s\t%s\n' "$@" >>"$res"; }

echo "scale: $hosts hosts x 10 ports a scan, checkpoints at $scans stored scans;" \
	"variants: $variants; backends: $backends" >&2
for n in $(seq 1 "$max"); do
	f=$(day_file $((n - 1)))
	for v in $variants; do
		[ "$v" = before ] && [ "$n" -gt "$before_max" ] && continue
		for b in ${backends//,/ }; do
			db=$(target "$v" "$b")
			s=$(secs "${bin[$v]}" --db "$db" -q import "$f")
			record "$v" "$b" "$n" import "$s"
			echo "  scan $n: $v $b import ${s}s" >&2
			is_checkpoint "$n" || continue
			for q in "hosts" "hosts --port 22" "hosts --service http"; do
				# shellcheck disable=SC2086
				s=$(secs "${bin[$v]}" --db "$db" $q --format json)
				record "$v" "$b" "$n" "$q" "$s"
			done
			s=$(secs "${bin[$v]}" --db "$db" stats)
			record "$v" "$b" "$n" stats "$s"
			# (the help into a variable: grep -q closing the pipe early would
			# fail the pipeline under pipefail)
			help=$("${bin[$v]}" doctor --help)
			if [[ $help == *--quick* ]]; then
				s=$(secs "${bin[$v]}" --db "$db" doctor --quick)
				record "$v" "$b" "$n" "doctor --quick" "$s"
			fi
			s=$(secs "${bin[$v]}" --db "$db" doctor)
			record "$v" "$b" "$n" doctor "$s"
			if [ "$b" = sqlite ]; then
				record "$v" "$b" "$n" "bytes/port row" "$(awk -v s="$(stat -c %s "$db")" \
					-v p="$(sqlite3 "$db" 'SELECT count(*) FROM ports')" \
					'BEGIN{printf "%.0f", s/p}')"
			fi
		done
	done
done
rm -f "$out/last.err"

# ---- the report ----
get() { # VARIANT BACKEND SCANS WHAT -> seconds or "-"
	awk -F'\t' -v v="$1" -v b="$2" -v n="$3" -v w="$4" \
		'$1==v && $2==b && $3==n && $4==w {x=$5} END{print (x=="" ? "-" : x)}' "$res"
}
ratio() { awk -v a="$1" -v b="$2" 'BEGIN{ if (a == "-" || b == "-" || b <= 0) print "-"; else printf "%.2fx", a/b }'; }
echo
echo "== scandb at scale ($(date -u +%Y-%m-%dT%H:%M:%SZ), $(nproc) cores) =="
echo "series: $hosts hosts x 10 ports (nmap -sT -sV), daily: ~1% ports flip, ~1% versions change,"
echo "~0.5% hosts down; rules on port_opened, service_changed, host_down"
echo "SQLite $(sqlite3 --version | cut -d' ' -f1) (WAL, synchronous=FULL)${pgver:+; PostgreSQL $pgver on 127.0.0.1 (fsync on)}"
for v in $variants; do
	echo
	echo "-- $v${before:+ ($([ "$v" = before ] && echo "$before" || echo "this tree"))} --"
	printf '%-7s %-22s %10s %10s %8s\n' scans what sqlite pg "pg/sqlite"
	for n in ${scans//,/ }; do
		[ "$v" = before ] && [ "$n" -gt "$before_max" ] && continue
		for w in import "hosts" "hosts --port 22" "hosts --service http" stats "doctor --quick" doctor "bytes/port row"; do
			a=$(get "$v" sqlite "$n" "$w")
			p=$(get "$v" pg "$n" "$w")
			[ "$a" = - ] && [ "$p" = - ] && continue
			printf '%-7s %-22s %10s %10s %8s\n' "$n" "$w" "$a" "$p" "$(ratio "$p" "$a")"
		done
	done
done
echo
echo "raw figures: $res"
