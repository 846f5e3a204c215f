#!/usr/bin/env bash
# The whole test suite, as CI runs it: installs what is missing (Debian
# packages), then
#   1. an ASan + UBSan build of everything, running the whole CTest suite;
#   2. a short libFuzzer run of the nmap XML parser (clang);
#   3. the normal build, running the whole CTest suite (its summary is the
#      last line printed).
# Environment: SCANDB_FUZZ_SECONDS (default 30), SCANDB_SKIP_SANITIZE=1 to
# skip step 1 (local quick runs only; CI always runs it).
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD
jobs=$(nproc 2>/dev/null || echo 2)

./scripts/install-deps.sh

step() { printf '\n==== %s ====\n' "$*"; }

step "formatting (clang-format, the checked-in .clang-format)"
git ls-files '*.c' '*.h' | xargs clang-format --dry-run --Werror
echo "all C files formatted"

if [ "${SCANDB_SKIP_SANITIZE:-0}" != 1 ]; then
	step "sanitizer build (ASan + UBSan)"
	cmake -S . -B build-asan -G Ninja -DCMAKE_BUILD_TYPE=Debug -DSCANDB_SANITIZE=ON \
		-DCMAKE_C_COMPILER=clang >/dev/null
	cmake --build build-asan -j "$jobs"
	step "test suite under ASan + UBSan"
	ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 \
	UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
		ctest --test-dir build-asan --output-on-failure -j "$jobs"
else
	step "SKIPPED: sanitizer build (SCANDB_SKIP_SANITIZE=1)"
fi

step "fuzzing the nmap XML parser (libFuzzer)"
cmake -S . -B build-fuzz -G Ninja -DCMAKE_BUILD_TYPE=Debug -DSCANDB_FUZZ=ON \
	-DCMAKE_C_COMPILER=clang >/dev/null
cmake --build build-fuzz --target fuzz_nmap_xml -j "$jobs"
rm -rf build-fuzz/corpus && mkdir -p build-fuzz/corpus
cp ../shared/data/nmap/*.xml build-fuzz/corpus/
[ -d tests/data/hostile ] && cp tests/data/hostile/* build-fuzz/corpus/ 2>/dev/null || true
(cd build-fuzz && ./fuzz_nmap_xml -max_total_time="${SCANDB_FUZZ_SECONDS:-30}" \
	-max_len=65536 -rss_limit_mb=1024 -print_final_stats=1 corpus 2>&1 | tail -n 12)

step "release build and test suite"
cmake -S . -B build -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
cmake --build build -j "$jobs"
ctest --test-dir build --output-on-failure -j "$jobs"
