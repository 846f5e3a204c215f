#!/usr/bin/env bash
# Installs what scandb needs to build, test and benchmark, from Debian's
# packages.  Installs only what is missing; needs root (or sudo) only then.
#   --runtime-only  what building and running scandb needs, nothing for its
#                   tests or benchmarks (CMake then builds the tool alone)
set -euo pipefail

pkgs=(build-essential cmake ninja-build pkg-config clang clang-format git
      libsqlite3-dev libexpat1-dev libjansson-dev libssl-dev libpq-dev libmicrohttpd-dev libcmocka-dev
      postgresql
      python3 sqlite3 nmap ndiff xsltproc libxml2-utils python3-libnmap valgrind time masscan zmap wrk)
case "${1:-}" in
"") ;;
--runtime-only)
	pkgs=(build-essential cmake ninja-build pkg-config
	      libsqlite3-dev libexpat1-dev libjansson-dev libssl-dev libpq-dev libmicrohttpd-dev nmap) ;;
-h | --help)
	sed -n '2,5p' "$0" | sed 's/^# \{0,1\}//'
	exit 0 ;;
*)
	echo "usage: $0 [--runtime-only]" >&2
	exit 2 ;;
esac

missing=()
for p in "${pkgs[@]}"; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -eq 0 ]; then
	exit 0
fi
echo "install-deps: installing ${missing[*]}" >&2
SUDO=""
if [ "$(id -u)" -ne 0 ]; then
	SUDO="sudo"
fi
export DEBIAN_FRONTEND=noninteractive
# Another apt or dpkg (unattended-upgrades on a fresh machine, a second
# install in CI) may hold the lock: wait for it, up to 10 minutes, instead
# of failing at once.  apt waits for dpkg's lock itself (DPkg::Lock::Timeout);
# the package lists' lock it does not always wait for, so `update` is retried.
lock_wait=600
apt_opts=(-o DPkg::Lock::Timeout=$lock_wait)
deadline=$((SECONDS + lock_wait))
until $SUDO apt-get "${apt_opts[@]}" update -qq; do
	if [ $SECONDS -ge $deadline ]; then
		echo "install-deps: apt-get update kept failing for ${lock_wait}s" >&2
		exit 1
	fi
	echo "install-deps: apt-get update failed (another apt holding its lock?); retrying in 5s" >&2
	sleep 5
done
$SUDO apt-get "${apt_opts[@]}" install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
