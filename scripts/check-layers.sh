#!/usr/bin/env bash
# scripts/check-layers.sh [SRC_DIR] - no #include runs upward between the
# layers of src/ (docs/ARCHITECTURE.md, "Layers"):
#
#   core      uses nothing of scandb
#   ingest    core                      scan     core
#   history   core (its rules are pure: no store, no I/O)
#   store     core
#   diff      core, ingest (files) and store (stored jobs, through store.h)
#   export    core and store (the export writers read stored hosts)
#   app       core, ingest, scan, history, store, diff, export: the use cases, the
#             only layer that combines sources, rules and store
#   http      core, store, history (its pure parsers), diff, app: the HTTP API
#             (`scandb serve`), a front door beside cli; never SQL
#   cli       any layer (app for the use cases)
#
# Each known exception is listed below, file by file, with why it is still
# there; they go with issue 10.  An include that breaks a rule and is not
# listed fails the check, and so does a listed exception that no longer
# exists (take it off the list: the rule holds there now).
# Exit 0: the layers hold; 1: a line per include that does not; 2: usage.
set -euo pipefail
src=${1:-"$(cd "$(dirname "$0")/.." && pwd)/src"}
case "$src" in -h | --help)
	sed -n '2,/^set -euo/p' "$0" | sed '$d' | sed 's/^# \{0,1\}//'
	exit 0
	;;
esac
[ -d "$src" ] || { echo "check-layers: no directory $src" >&2; exit 2; }

# layer -> the layers it may include (itself included)
declare -A allowed=(
	[core]="core"
	[ingest]="core ingest"
	[scan]="core scan"
	[history]="core history"
	[store]="core store"
	[diff]="core ingest store diff"
	[export]="core store export"
	[app]="core ingest scan history store diff export app"
	[http]="core store history diff app http"
	[cli]="core ingest scan history store diff export app http cli"
)

# "file -> layer": known exceptions (issue 10 removes them; none may be added)
exceptions=(
)

fail=0
declare -A used=()
while IFS= read -r f; do
	rel=${f#"$src"/}
	layer=${rel%%/*}
	if [ -z "${allowed[$layer]+x}" ]; then
		echo "check-layers: $rel: directory '$layer' is not a known layer (add it to scripts/check-layers.sh)"
		fail=1
		continue
	fi
	while IFS= read -r line; do
		lineno=${line%%:*}
		dep=$(sed -E 's/^[0-9]+:[[:space:]]*#[[:space:]]*include[[:space:]]+"([a-z_]+)\/.*/\1/' <<<"$line")
		case " ${allowed[$layer]} " in *" $dep "*) continue ;; esac
		key="$rel -> $dep"
		listed=0
		for e in "${exceptions[@]}"; do [ "$e" = "$key" ] && listed=1; done
		if [ "$listed" = 1 ]; then
			used[$key]=1
		else
			echo "check-layers: $rel:$lineno: $layer includes $dep (${layer} may use: ${allowed[$layer]})"
			fail=1
		fi
	done < <(grep -nE '^[[:space:]]*#[[:space:]]*include[[:space:]]+"[a-z_]+/' "$f" || true)
done < <(find "$src" -name '*.[ch]' -not -path '*/migrations/*' | LC_ALL=C sort)

for e in "${exceptions[@]}"; do
	if [ -z "${used[$e]+x}" ]; then
		echo "check-layers: listed exception '$e' no longer exists: take it off the list"
		fail=1
	fi
done
if [ "$fail" = 0 ]; then
	echo "layers hold ($(find "$src" -name '*.[ch]' -not -path '*/migrations/*' | wc -l) files; ${#exceptions[@]} known exceptions, issue 10)"
fi
exit "$fail"
