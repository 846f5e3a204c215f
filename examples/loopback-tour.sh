#!/bin/sh
# A five-second tour of scandb that touches nothing but 127.0.0.1:
# two HTTP listeners, a scan, one listener moved to another port, a second
# scan, and what scandb says changed.  Needs python3 and nmap.
#
#   ./examples/loopback-tour.sh            # uses ./build/scandb and a new database
#   SCANDB=scandb ./examples/loopback-tour.sh   # the installed one
#
# The database is a new one in a temporary directory (removed at the end;
# KEEP=1 keeps it and says where) unless SCANDB_DB names one.
set -eu

SCANDB=${SCANDB:-./build/scandb}
work=$(mktemp -d "${TMPDIR:-/tmp}/scandb-tour.XXXXXX")
export SCANDB_DB="${SCANDB_DB:-$work/tour.db}"
pids=""

cleanup() {
	for p in $pids; do kill "$p" 2>/dev/null || true; done
	if [ "${KEEP:-0}" = 1 ]; then
		echo "kept: $work (database: $SCANDB_DB)"
	else
		rm -rf "$work"
	fi
}
trap cleanup EXIT INT TERM

# three free TCP ports on 127.0.0.1
ports=$(python3 -c '
import socket
ss = [socket.socket() for _ in range(3)]
for s in ss:
    s.bind(("127.0.0.1", 0))
print(" ".join(str(s.getsockname()[1]) for s in ss))')
set -- $ports
a=$1 b=$2 c=$3

listen() { # PORT: an HTTP server on 127.0.0.1:PORT, serving an empty directory
	python3 -m http.server --bind 127.0.0.1 --directory "$work" "$1" >/dev/null 2>&1 &
	pids="$pids $!"
	echo $! >"$work/pid.$1"
	i=0 # wait until it accepts, at most 10 s
	until python3 -c "import socket; socket.create_connection(('127.0.0.1', $1), 0.2).close()" 2>/dev/null; do
		i=$((i + 1))
		[ $i -lt 50 ] || { echo "listener on port $1 did not start" >&2; exit 1; }
		sleep 0.2
	done
}

run() { echo "\$ scandb $*"; "$SCANDB" "$@"; echo; }

listen "$a"
listen "$b"
echo "# listeners on $a and $b; $c is closed"
run scan -sT -Pn -n -p "$a,$b,$c" 127.0.0.1

kill "$(cat "$work/pid.$b")"
listen "$c"
sleep 1 # scan times are to the second: the second scan is a second later
echo "# the listener on $b moved to $c"
run scan -sT -Pn -n -p "$a,$b,$c" 127.0.0.1

run hosts --all-states
run changes
run jobs
run diff 1 2 || true # exit 1: the scans differ (as ndiff)
