#!/usr/bin/env bash
# A throw-away PostgreSQL cluster for scandb's tests: its own data directory
# under a fresh temporary directory, listening on 127.0.0.1 on a free port and
# on a Unix socket in that directory, never on another address.  It owns
# nothing else: it does not install PostgreSQL (scripts/install-deps.sh does)
# and it never touches a system cluster.
#
#   scripts/pg-cluster.sh start   ENVFILE [durable]   initdb + start; writes ENVFILE
#        durable: fsync, synchronous_commit and full_page_writes on, as a
#        production server runs: for tests that crash the server (restart -m
#        immediate) and must not lose an acknowledged commit
#   scripts/pg-cluster.sh stop    ENVFILE   stop the server, remove its directory and ENVFILE
#   scripts/pg-cluster.sh restart ENVFILE [fast|immediate]   pg_ctl restart (default fast)
#   scripts/pg-cluster.sh status  ENVFILE   exit 0 when the server answers
#   scripts/pg-cluster.sh psql    ENVFILE [PSQL-ARGS...]     psql as the superuser
#   scripts/pg-cluster.sh exec    ENVFILE [--createdb NAME] -- COMMAND...
#        runs COMMAND with the ENVFILE's variables exported; --createdb makes
#        a fresh database NAME (dropped first if it exists) and exports its
#        URL as SCANDB_TEST_DB.  A cluster that is not there is a loud skip
#        (exit 77), or a failure when CI=true.
#
# ENVFILE is KEY=VALUE lines (a value with spaces is in single quotes, which
# no value holds), readable by `source` and by tests/e2e/e2e_util.py:
#   SCANDB_PG_URL       postgresql://scandb@127.0.0.1:PORT/postgres (superuser, trust)
#   SCANDB_PG_HOST, SCANDB_PG_PORT, SCANDB_PG_SUPERUSER (scandb)
#   SCANDB_PG_SOCKET_DIR, SCANDB_PG_DATA, SCANDB_PG_DIR, SCANDB_PG_LOG, SCANDB_PG_BIN
#   SCANDB_PG_PW_USER, SCANDB_PG_PW_PASSWORD   a role that must log in with a
#                       password (scram-sha-256), for the password-hiding tests
#   SCANDB_PG_OS_USER   the system user the server runs as
#   SCANDB_PG_CLUSTER   this script (restart: "$SCANDB_PG_CLUSTER restart ENVFILE")
#   SCANDB_PG_DURABLE   1 for a durable cluster (start ... durable), else 0
#   SCANDB_PG_UNAVAILABLE   set instead of the above when no cluster could be
#                       started: the reason (tests skip with it, or fail in CI)
#
# PostgreSQL refuses to run as root: as root the server runs as the system
# user scandb-test (created with useradd -r -M when missing; override with
# SCANDB_PG_OS_USER); otherwise as the calling user.  Binaries: the newest
# /usr/lib/postgresql/*/bin, or SCANDB_PG_BIN.  Settings are for tests only:
# fsync, synchronous_commit and full_page_writes off unless `durable` (a
# killed client loses nothing either way: only a crashed server can lose an
# acknowledged commit without them, and tests that crash the server start a
# durable cluster of their own), small shared_buffers, trust for the scandb
# role over loopback and the socket, scram for scandb_pw, every other role
# rejected; WAL kept small (wal_level minimal, max_wal_size
# SCANDB_PG_MAX_WAL, default 128MB: each test database's CREATE DATABASE
# logs its template, and with the 1GB default the cluster grew to 1 GB in a
# test run; benchmarks set 1GB).  Benchmarks also set SCANDB_PG_SHARED_BUFFERS
# (default 32MB) and SCANDB_PG_WAL_LEVEL (default minimal; replica as a
# server that ships its WAL would run, with max_wal_senders 10).
set -euo pipefail

self=$(cd "$(dirname "$0")" && pwd)/$(basename "$0")
cmd=${1:-}
envfile=${2:-}

die() {
	echo "pg-cluster: $*" >&2
	exit 1
}
usage() {
	sed -n '2,/^set -euo/p' "$0" | sed '$d' | sed 's/^# \{0,1\}//' >&2
	exit 2
}
[ -n "$cmd" ] && [ -n "$envfile" ] || usage
case "$envfile" in /*) ;; *) envfile=$PWD/$envfile ;; esac

# Loads ENVFILE into the SCANDB_PG_* shell variables (no eval of anything else).
load_env() {
	[ -f "$envfile" ] || return 1
	local k v
	while IFS='=' read -r k v; do
		v=${v#\'}
		v=${v%\'}
		case "$k" in SCANDB_PG_[A-Z_]*) printf -v "$k" '%s' "$v" ;; esac
	done <"$envfile"
	return 0
}

# Runs a command as the cluster's system user, from a directory it can read.
as_pg() {
	if [ "$(id -u)" -eq 0 ]; then
		(cd "${SCANDB_PG_DIR:-/}" && runuser -u "$SCANDB_PG_OS_USER" -- "$@")
	else
		(cd "${SCANDB_PG_DIR:-/}" && "$@")
	fi
}

find_bin() {
	if [ -n "${SCANDB_PG_BIN:-}" ]; then
		[ -x "$SCANDB_PG_BIN/pg_ctl" ] && { echo "$SCANDB_PG_BIN"; return 0; }
		return 1
	fi
	local d
	d=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1)
	[ -n "$d" ] && [ -x "$d/pg_ctl" ] && [ -x "$d/initdb" ] && { echo "$d"; return 0; }
	return 1
}

# A TCP port on 127.0.0.1 that nothing listens on now (the server's start is
# retried on another one if it was taken in between).
free_port() {
	local i p
	for i in $(seq 1 50); do
		p=$((20000 + (RANDOM * 32768 + RANDOM) % 40000))
		if ! (exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null; then
			echo "$p"
			return 0
		fi
	done
	return 1
}

# No cluster: record why in ENVFILE, then skip (77) or fail (CI=true).
unavailable() {
	mkdir -p "$(dirname "$envfile")"
	printf "SCANDB_PG_UNAVAILABLE='%s'\n" "$(echo "$*" | tr -s "'\n\t" '"  ')" >"$envfile"
	echo "*** pg-cluster: NO PostgreSQL cluster: $* ***" >&2
	if [ "${CI:-}" = true ]; then
		echo "pg-cluster: CI=true: a PostgreSQL that cannot start is a failure" >&2
		exit 1
	fi
	echo "*** the PostgreSQL test variants will be SKIPPED ***" >&2
	exit 77
}

write_env() {
	local tmp="$envfile.tmp.$$"
	{
		echo "SCANDB_PG_URL=postgresql://scandb@127.0.0.1:$port/postgres"
		echo "SCANDB_PG_HOST=127.0.0.1"
		echo "SCANDB_PG_PORT=$port"
		echo "SCANDB_PG_SUPERUSER=scandb"
		echo "SCANDB_PG_SOCKET_DIR=$SCANDB_PG_DIR"
		echo "SCANDB_PG_DIR=$SCANDB_PG_DIR"
		echo "SCANDB_PG_DATA=$SCANDB_PG_DIR/data"
		echo "SCANDB_PG_LOG=$SCANDB_PG_DIR/server.log"
		echo "SCANDB_PG_BIN=$SCANDB_PG_BIN"
		echo "SCANDB_PG_PW_USER=scandb_pw"
		echo "SCANDB_PG_PW_PASSWORD=$password"
		echo "SCANDB_PG_OS_USER=$SCANDB_PG_OS_USER"
		echo "SCANDB_PG_CLUSTER=$self"
		echo "SCANDB_PG_DURABLE=$durable"
	} >"$tmp"
	mv -f "$tmp" "$envfile"
}

do_stop() {
	load_env || return 0
	if [ -n "${SCANDB_PG_DATA:-}" ] && [ -f "$SCANDB_PG_DATA/postmaster.pid" ]; then
		local pid
		pid=$(head -n 1 "$SCANDB_PG_DATA/postmaster.pid" 2>/dev/null || true)
		as_pg "$SCANDB_PG_BIN/pg_ctl" -D "$SCANDB_PG_DATA" -m immediate -w -t 30 stop \
			>/dev/null 2>&1 || true
		# still there (pg_ctl failed): the postmaster we started, by its pid
		if [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null &&
			grep -q postgres "/proc/$pid/cmdline" 2>/dev/null; then
			kill -QUIT "$pid" 2>/dev/null || true
			for _ in $(seq 1 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
			kill -KILL "$pid" 2>/dev/null || true
		fi
	fi
	case "${SCANDB_PG_DIR:-}" in
	*/scandb-pg.*) rm -rf "$SCANDB_PG_DIR" ;;
	esac
	rm -f "$envfile"
	echo "pg-cluster: stopped and removed"
}

do_start() {
	durable=0
	sync=off
	case "${1:-}" in
	"") ;;
	durable) durable=1 sync=on ;;
	*) usage ;;
	esac
	# a cluster left behind by an interrupted run goes first
	[ -f "$envfile" ] && do_stop >/dev/null
	SCANDB_PG_BIN=$(find_bin) ||
		unavailable "no PostgreSQL server binaries (/usr/lib/postgresql/*/bin/pg_ctl; run scripts/install-deps.sh, or set SCANDB_PG_BIN)"
	if [ "$(id -u)" -eq 0 ]; then
		SCANDB_PG_OS_USER=${SCANDB_PG_OS_USER:-scandb-test}
		if ! id "$SCANDB_PG_OS_USER" >/dev/null 2>&1; then
			useradd -r -M -d /nonexistent -s /usr/sbin/nologin "$SCANDB_PG_OS_USER" 2>/dev/null ||
				id "$SCANDB_PG_OS_USER" >/dev/null 2>&1 ||
				unavailable "cannot create the system user $SCANDB_PG_OS_USER (useradd failed)"
		fi
		command -v runuser >/dev/null || unavailable "runuser (util-linux) is missing"
	else
		SCANDB_PG_OS_USER=$(id -un)
	fi
	SCANDB_PG_DIR=$(mktemp -d "${SCANDB_PG_TMPDIR:-/tmp}/scandb-pg.XXXXXX")
	chmod 755 "$SCANDB_PG_DIR"
	[ "$(id -u)" -eq 0 ] && chown "$SCANDB_PG_OS_USER" "$SCANDB_PG_DIR"
	local data=$SCANDB_PG_DIR/data log=$SCANDB_PG_DIR/server.log
	password=pw$(od -An -N12 -tx1 /dev/urandom | tr -d ' \n')

	if ! as_pg "$SCANDB_PG_BIN/initdb" -D "$data" -U scandb --auth=reject -E UTF8 \
		--locale=C --no-sync >"$SCANDB_PG_DIR/initdb.log" 2>&1; then
		cat "$SCANDB_PG_DIR/initdb.log" >&2
		rm -rf "$SCANDB_PG_DIR"
		unavailable "initdb failed (output above)"
	fi
	as_pg tee "$data/pg_hba.conf" >/dev/null <<-EOF
		# scandb tests: trust for the test superuser, scram for the password role, nothing else
		local all scandb                   trust
		host  all scandb    127.0.0.1/32   trust
		local all scandb_pw                scram-sha-256
		host  all scandb_pw 127.0.0.1/32   scram-sha-256
	EOF
	local tries ok=0 wal_level=${SCANDB_PG_WAL_LEVEL:-minimal} wal_senders=0
	[ "$wal_level" = minimal ] || wal_senders=10
	for tries in 1 2 3 4 5; do
		port=$(free_port) || break
		as_pg tee "$data/postgresql.auto.conf" >/dev/null <<-EOF
			listen_addresses = '127.0.0.1'
			port = $port
			unix_socket_directories = '$SCANDB_PG_DIR'
			unix_socket_permissions = 0777
			max_connections = 200
			shared_buffers = ${SCANDB_PG_SHARED_BUFFERS:-32MB}
			fsync = $sync
			synchronous_commit = $sync
			full_page_writes = $sync
			wal_level = $wal_level
			max_wal_senders = $wal_senders
			max_wal_size = ${SCANDB_PG_MAX_WAL:-128MB}
			min_wal_size = 32MB
			password_encryption = 'scram-sha-256'
			logging_collector = off
			log_line_prefix = '%m [%p] %q%u@%d '
		EOF
		if as_pg "$SCANDB_PG_BIN/pg_ctl" -D "$data" -l "$log" -w -t 60 start >/dev/null 2>&1; then
			ok=1
			break
		fi
		grep -q "could not bind\|Address already in use" "$log" 2>/dev/null || break
	done
	if [ "$ok" != 1 ]; then
		tail -n 30 "$log" >&2 2>/dev/null || true
		rm -rf "$SCANDB_PG_DIR"
		unavailable "the server did not start (log above)"
	fi
	PGCONNECT_TIMEOUT=10 "$SCANDB_PG_BIN/psql" -X -q -v ON_ERROR_STOP=1 \
		-h "$SCANDB_PG_DIR" -p "$port" -U scandb -d postgres \
		-c "CREATE ROLE scandb_pw LOGIN CREATEDB PASSWORD '$password'" >/dev/null
	write_env
	echo "pg-cluster: PostgreSQL $("$SCANDB_PG_BIN/postgres" -V | awk "{print \$3}") on 127.0.0.1:$port" \
		"(socket dir $SCANDB_PG_DIR, runs as $SCANDB_PG_OS_USER); env: $envfile"
}

require_env() {
	load_env || die "no cluster: $envfile does not exist (run: $0 start $envfile)"
	[ -z "${SCANDB_PG_UNAVAILABLE:-}" ] || die "no cluster: $SCANDB_PG_UNAVAILABLE"
}

psql_super() {
	PGCONNECT_TIMEOUT=10 PGOPTIONS="-c client_min_messages=warning" "$SCANDB_PG_BIN/psql" -X -q -v ON_ERROR_STOP=1 \
		-h "$SCANDB_PG_HOST" -p "$SCANDB_PG_PORT" -U scandb "$@"
}

case "$cmd" in
start) do_start "${3:-}" ;;
stop) do_stop ;;
restart)
	require_env
	mode=${3:-fast}
	case "$mode" in fast | immediate) ;; *) usage ;; esac
	as_pg "$SCANDB_PG_BIN/pg_ctl" -D "$SCANDB_PG_DATA" -l "$SCANDB_PG_LOG" -m "$mode" \
		-w -t 60 restart >/dev/null
	echo "pg-cluster: restarted ($mode)"
	;;
status)
	require_env
	"$SCANDB_PG_BIN/pg_isready" -q -h "$SCANDB_PG_HOST" -p "$SCANDB_PG_PORT" -t 5
	;;
psql)
	require_env
	shift 2
	psql_super -d postgres "$@"
	;;
exec)
	shift 2
	createdb=""
	if [ "${1:-}" = --createdb ]; then
		createdb=${2:?--createdb NAME}
		shift 2
	fi
	[ "${1:-}" = -- ] && shift
	[ $# -gt 0 ] || usage
	why=""
	if ! load_env; then
		why="no cluster environment file $envfile (the pg.cluster.start test did not run?)"
	elif [ -n "${SCANDB_PG_UNAVAILABLE:-}" ]; then
		why=$SCANDB_PG_UNAVAILABLE
	fi
	if [ -n "$why" ]; then
		echo "*** SKIPPED: no PostgreSQL: $why ***"
		echo "*** SKIPPED: no PostgreSQL: $why ***" >&2
		[ "${CI:-}" = true ] && { echo "CI=true: failing instead of skipping" >&2; exit 1; }
		exit 77
	fi
	case "$createdb" in *[!a-z0-9_]*) die "--createdb: only [a-z0-9_] in names" ;; esac
	if [ -n "$createdb" ]; then
		psql_super -d postgres -c "DROP DATABASE IF EXISTS $createdb WITH (FORCE)" \
			-c "CREATE DATABASE $createdb" >/dev/null
		export SCANDB_TEST_DB="postgresql://scandb@$SCANDB_PG_HOST:$SCANDB_PG_PORT/$createdb"
	fi
	for v in URL HOST PORT SUPERUSER SOCKET_DIR DATA DIR LOG BIN PW_USER PW_PASSWORD OS_USER CLUSTER DURABLE; do
		export "SCANDB_PG_$v"
	done
	export SCANDB_PG_ENV="$envfile"
	exec "$@"
	;;
*) usage ;;
esac
