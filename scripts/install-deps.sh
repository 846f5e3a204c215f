#!/usr/bin/env bash
# Installs what scandb needs to build, test and benchmark, from Debian's
# packages.  Installs only what is missing; needs root (or sudo) only then.
set -euo pipefail

pkgs=(build-essential cmake ninja-build pkg-config clang clang-format git
      libsqlite3-dev libexpat1-dev libjansson-dev libssl-dev libpq-dev libcmocka-dev
      postgresql
      python3 sqlite3 nmap ndiff python3-libnmap valgrind time)
[ "${1:-}" = "--runtime-only" ] && pkgs=(build-essential cmake ninja-build pkg-config
      libsqlite3-dev libexpat1-dev libjansson-dev libssl-dev libpq-dev nmap)

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
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
