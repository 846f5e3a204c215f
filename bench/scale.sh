#!/usr/bin/env bash
# bench/scale.sh - scandb as history grows (issues 18 and 11): a realistic
# daily series imported one scan a day into SQLite and PostgreSQL side by
# side, and every interactive query timed at checkpoints of stored scans.
#
# The series: first a real nmap scan of 127.0.0.1 (bench/loopback_scan.py,
# listeners on four high ports; loopback only) gives the documents their
# shape (nmap's version, scan type, how states and reasons are written; see
# bench/scale_series.py --seed); then HOSTS hosts x 10 ports (nmap -sT -sV
# as scale_series.py writes them), one scan a day, the last day today: each
# day ~1 % of the ports flip, ~1 % of the versions change, ~0.5 % of the
# hosts are down.  Findings rules on port_opened, service_changed and
# host_down, so findings accumulate.
#
# At each checkpoint (a number of stored scans), on each backend: that
# scan's import; `host ADDR`, `history ADDR`, a filtered page (`hosts --port
# 22 --limit 100`), `changes --since 1d` (the last scan), a search term
# (`hosts port:22 --limit 100`, when the build has the filter language),
# `services --top service` and `--top product`, `services --port 22 --limit
# 100`, whole listings as JSON (`hosts`, `hosts --port 22`, `hosts --service
# http`), `stats`, `doctor --quick`, `doctor`, `prune` of the 10 oldest scans
# on a copy of the database (from 11 stored scans on), and the database's
# bytes per stored port row.  Then a table per backend: seconds at each
# checkpoint and the growth from the first checkpoint to the last, with
# the issue's targets (interactive queries 0.5 s, stats 1 s, doctor and
# prune 10 s).
#
# --before REV also builds scandb at git revision REV (git archive, in
# bench/out/) and runs it in the same loop, day by day, interleaved with
# this tree's build, on databases of its own: before and after under the
# same load (the machine's cores are shared).  Its series stops at
# --before-max scans (default 30).
#
# PostgreSQL is a throw-away cluster (scripts/pg-cluster.sh) on 127.0.0.1
# with durable settings (fsync, synchronous_commit and full_page_writes on,
# shared_buffers 128MB, max_wal_size 1GB) as SQLite runs with
# synchronous=FULL.  Server and clients share this machine's cores.  Not a
# test: it prints figures and never fails on a missed target.  Raw figures
# go to bench/out/scale/results.tsv.
#
#   bench/scale.sh [--hosts 16384|65536|N] [--scans 1,10,30,100]
#                  [--backends sqlite,pg] [--seed FILE] [--before REV]
#                  [--before-max 30] [--keep]
# (--seed FILE: use this nmap -oX as the seed instead of scanning 127.0.0.1;
#  --keep: leave the databases and the day files in bench/out/scale)
set -euo pipefail
cd "$(dirname "$0")/.."
hosts=16384
scans=1,10,30,100
before=""
before_max=30
backends=sqlite,pg
keep=0
seed=""
while [ $# -gt 0 ]; do
	case "$1" in
	--hosts) hosts=$2; shift 2 ;;
	--seed) seed=$2; shift 2 ;;
	--scans) scans=$2; shift 2 ;;
	--before) before=$2; shift 2 ;;
	--before-max) before_max=$2; shift 2 ;;
	--backends) backends=$2; shift 2 ;;
	--keep) keep=1; shift ;;
	*) echo "usage: $0 [--hosts N] [--scans 1,10,30,100] [--backends sqlite,pg] [--seed FILE]" \
		"[--before REV] [--before-max N] [--keep]" >&2; exit 2 ;;
	esac
done
case "$hosts" in '' | *[!0-9]* | 0) echo "scale: --hosts wants a number" >&2; exit 2 ;; esac
case "$scans" in '' | *[!0-9,]* | ,* | *, | *,,*)
	echo "scale: --scans wants numbers, comma-separated (1,10,30,100)" >&2; exit 2 ;;
esac
case ",$backends," in ,sqlite, | ,pg, | ,sqlite,pg, | ,pg,sqlite,) ;;
*) echo "scale: --backends wants sqlite, pg or sqlite,pg" >&2; exit 2 ;;
esac
if [ -n "$seed" ] && [ ! -s "$seed" ]; then echo "scale: --seed: no file $seed" >&2; exit 2; fi
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

# The seed: a real nmap scan of 127.0.0.1 (four listeners, three open).
if [ -z "$seed" ]; then
	seed=$out/seed.xml
	/usr/bin/python3 bench/loopback_scan.py --open 28022,28080,28443 --closed 28025 \
		--target 127.0.0.1 --timeout 120 "$seed" 2>/dev/null ||
		{ echo "scale: the seed scan of 127.0.0.1 failed (is nmap installed?)" >&2; exit 1; }
fi
seed_start=$(sed -n 's/.*<nmaprun [^>]*start="\([0-9]*\)".*/\1/p' "$seed" | head -n 1)
[ -n "$seed_start" ] || { echo "scale: $seed: no nmaprun start time" >&2; exit 1; }
# day 0 is max-1 days before the seed: the last scan is the seed's day
start=$((seed_start - (max - 1) * 86400))

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
	f=$(printf '%s/day-%d-%d-%03d.xml' "$out" "$hosts" "$start" "$1")
	[ -s "$f" ] || /usr/bin/python3 bench/scale_series.py --hosts "$hosts" --day "$1" \
		--seed "$seed" --start "$start" -o "$f"
	echo "$f"
}
is_checkpoint() { case ",$scans," in *",$1,"*) return 0 ;; esac; return 1; }
iso() { date -u -d "@$1" +%Y-%m-%dT%H:%M:%SZ; }

res=$out/results.tsv
printf 'variant\tbackend\tscans\twhat\tseconds\n' >"$res"
record() { printf '%s\t%s\t%s\t%s\t%s\n' "$@" >>"$res"; }

# The queries of a checkpoint, "label|arguments" (the label is what the
# table shows; @ADDR is a host of the series).
queries=(
	"host ADDR|host @ADDR"
	"history ADDR|history @ADDR"
	"hosts --port 22 --limit 100|hosts --port 22 --limit 100 --format json"
	"changes --since 1d|changes --since 1d --format json"
	"search port:22 --limit 100|hosts port:22 --limit 100 --format json"
	"services --top service|services --top service"
	"services --top product|services --top product"
	"services --port 22 --limit 100|services --port 22 --limit 100 --format json"
	"hosts (all, json)|hosts --format json"
	"hosts --port 22 (json)|hosts --port 22 --format json"
	"hosts --service http (json)|hosts --service http --format json"
)
# has_search BIN DB: does this build take filter terms (hosts port:22)?
has_search() { "$1" --db "$2" hosts port:22 --limit 1 --format json >/dev/null 2>&1; }

# prune_copy VARIANT BACKEND DB N: prune the 10 oldest of N scans on a copy
prune_copy() {
	local b=$2 db=$3 n=$4 copy when s
	when=$(iso $((start + 10 * 86400)))
	if [ "$b" = sqlite ]; then
		copy=$out/prune-copy.db
		rm -f "$copy" "$copy"-wal "$copy"-shm
		sqlite3 "$db" ".backup '$copy'"
	else
		psql_su -c "DROP DATABASE IF EXISTS scale_prune" -c "CREATE DATABASE scale_prune TEMPLATE scale_$1"
		copy=postgresql://scandb@127.0.0.1:$port/scale_prune
	fi
	s=$(secs "${bin[$1]}" --db "$copy" prune --older-than "$when")
	record "$1" "$b" "$n" "prune 10 oldest" "$s"
	if [ "$b" = sqlite ]; then rm -f "$copy" "$copy"-wal "$copy"-shm; else psql_su -c "DROP DATABASE scale_prune"; fi
}

# bytes_per_port BACKEND DB VARIANT: the database's size per stored port row
bytes_per_port() {
	if [ "$1" = sqlite ]; then
		awk -v s="$(stat -c %s "$2")" -v p="$(sqlite3 "$2" 'SELECT count(*) FROM ports')" \
			'BEGIN{printf "%.0f", s/p}'
	else
		psql_su -At -d "scale_$3" -c \
			"SELECT round(pg_database_size(current_database())::numeric / count(*)) FROM ports"
	fi
}

# checkpoint VARIANT BACKEND DB N: time every query at N stored scans
checkpoint() {
	local v=$1 b=$2 db=$3 n=$4 q label args help s addr
	addr=10.0.$(((n * 37 % hosts) >> 8 & 255)).$((n * 37 % hosts & 255))
	for q in "${queries[@]}"; do
		label=${q%%|*}
		args=${q#*|}
		args=${args//@ADDR/$addr}
		if [[ $label == search* ]] && ! has_search "${bin[$v]}" "$db"; then continue; fi
		# shellcheck disable=SC2086
		s=$(secs "${bin[$v]}" --db "$db" $args)
		record "$v" "$b" "$n" "$label" "$s"
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
	[ "$n" -gt 10 ] && prune_copy "$v" "$b" "$db" "$n"
	record "$v" "$b" "$n" "bytes/port row" "$(bytes_per_port "$b" "$db" "$v")"
}

echo "scale: $hosts hosts x 10 ports a scan, checkpoints at $scans stored scans;" \
	"variants: $variants; backends: $backends; seed: $seed" >&2
for n in $(seq 1 "$max"); do
	f=$(day_file $((n - 1)))
	for v in $variants; do
		[ "$v" = before ] && [ "$n" -gt "$before_max" ] && continue
		for b in ${backends//,/ }; do
			db=$(target "$v" "$b")
			s=$(secs "${bin[$v]}" --db "$db" -q import "$f")
			record "$v" "$b" "$n" import "$s"
			echo "  scan $n: $v $b import ${s}s" >&2
			is_checkpoint "$n" && checkpoint "$v" "$b" "$db" "$n"
		done
	done
done
rm -f "$out/last.err"

# ---- the report ----
get() { # VARIANT BACKEND SCANS WHAT -> seconds or "-"
	awk -F'\t' -v v="$1" -v b="$2" -v n="$3" -v w="$4" \
		'$1==v && $2==b && $3==n && $4==w {x=$5} END{print (x=="" ? "-" : x)}' "$res"
}
# growth FIRST LAST: LAST/FIRST ("-" when either is missing or 0)
growth() { awk -v a="$1" -v b="$2" 'BEGIN{ if (a == "-" || b == "-" || a <= 0) print "-"; else printf "%.1fx", b/a }'; }
target_of() { # WHAT -> the issue's target in seconds, or ""
	case "$1" in
	stats) echo 1 ;;
	doctor | "prune 10 oldest") echo 10 ;;
	import | "bytes/port row" | "doctor --quick" | *"(json)"* | *"(all, json)"*) echo "" ;;
	*) echo 0.5 ;;
	esac
}
whats=(import "${queries[@]%%|*}" stats "doctor --quick" doctor "prune 10 oldest" "bytes/port row")
cps=${scans//,/ }
echo
echo "== scandb at scale ($(date -u +%Y-%m-%dT%H:%M:%SZ), $(nproc) cores, load $(cut -d' ' -f1-3 /proc/loadavg)) =="
echo "series: $hosts hosts x 10 ports (nmap -sT -sV, shaped as the seed scan of 127.0.0.1), daily: ~1% ports"
echo "flip, ~1% versions change, ~0.5% hosts down; rules on port_opened, service_changed, host_down"
echo "SQLite $(sqlite3 --version | cut -d' ' -f1) (WAL, synchronous=FULL)${pgver:+; PostgreSQL $pgver on 127.0.0.1 (fsync on)}"
echo "seconds (bytes for bytes/port row); growth: last checkpoint / first; '!' past the issue's target"
for v in $variants; do
	for b in ${backends//,/ }; do
		echo
		echo "-- $b, $v${before:+ ($([ "$v" = before ] && echo "$before" || echo "this tree"))} --"
		printf '%-32s' what
		for n in $cps; do printf ' %9s' "$n"; done
		printf ' %8s %7s\n' growth target
		for w in "${whats[@]}"; do
			line=$(printf '%-32s' "$w")
			first="" last="-" any=0 tgt=$(target_of "$w")
			for n in $cps; do
				x=$(get "$v" "$b" "$n" "$w")
				[ "$x" != - ] && { any=1; [ -z "$first" ] && first=$x; last=$x; }
				mark=" "
				if [ -n "$tgt" ] && [ "$x" != - ] && awk -v x="$x" -v t="$tgt" 'BEGIN{exit !(x > t)}'; then mark="!"; fi
				line+=$(printf ' %8s%s' "$x" "$mark")
			done
			[ "$any" = 1 ] || continue
			printf '%s %8s %7s\n' "$line" "$(growth "${first:--}" "$last")" "${tgt:--}"
		done
	done
done
echo
echo "raw figures: $res"
