#!/usr/bin/env bash
# The whole test suite, as CI runs it: installs what is missing (Debian
# packages), then
#   1. an ASan + UBSan build of everything, running the whole CTest suite;
#   2. a short libFuzzer run of the nmap XML parser (clang);
#   3. the normal build, running the whole CTest suite (its summary is the
#      last line printed).
# The storage contract suite and every end-to-end test run against SQLite
# (*.sqlite) and PostgreSQL (*.pg, on a throw-away cluster that CTest starts
# and removes: scripts/pg-cluster.sh, fixture tests pg.cluster.start/stop).
# The PostgreSQL variants run in ONE build, the sanitizer one (step 1), to
# keep CI well under 15 minutes; the normal build (step 3) runs the SQLite
# variants only - or both when step 1 is skipped.  With CI=true a
# PostgreSQL that cannot start fails the run; elsewhere the *.pg tests skip
# loudly.
# Environment: SCANDB_FUZZ_SECONDS (default 30), SCANDB_SKIP_SANITIZE=1 to
# skip step 1 (local quick runs only; CI always runs it), SCANDB_TEST_PG=OFF
# to leave the PostgreSQL variants out everywhere.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD
jobs=$(nproc 2>/dev/null || echo 2)

./scripts/install-deps.sh

step() { printf '\n==== %s ====\n' "$*"; }

# ctest DIR: the whole suite.  On a failure the failed tests run once more,
# alone, so that their output (each e2e test ends with a line per failed
# case) is at the end of the log, where a CI summary shows it, and so that
# the log says whether the failure repeats.  The run fails either way.
suite() {
	local dir=$1
	if ctest --test-dir "$dir" --output-on-failure -j "$jobs"; then
		return 0
	fi
	step "the failed tests once more, alone (the run has failed whatever they do now)"
	ctest --test-dir "$dir" --rerun-failed --output-on-failure || true
	exit 1
}

step "formatting (clang-format, the checked-in .clang-format)"
git ls-files '*.c' '*.h' | xargs clang-format --dry-run --Werror
echo "all C files formatted"

# Disk: the builds and the tests' scratch (TEST_TMPDIR, build*/tmp: each e2e
# case removes its own when it passes) and the PostgreSQL cluster (/tmp).
# Scratch left by an earlier run that failed is cleared here.
step "layers (scripts/check-layers.sh: no #include runs upward)"
./scripts/check-layers.sh

step "disk"
need_mb=1500
rm -rf build-asan/tmp build/tmp
for d in . "${SCANDB_PG_TMPDIR:-/tmp}"; do
	free_mb=$(df -Pm "$d" | awk 'NR == 2 { print $4 }')
	echo "$free_mb MB free in $(cd "$d" && pwd)"
	if [ "$free_mb" -lt "$need_mb" ]; then
		echo "*** WARNING: the suite needs about $need_mb MB there; tests may fail with 'No space left on device' ***" >&2
	fi
done

pg=${SCANDB_TEST_PG:-ON}
if [ "${SCANDB_SKIP_SANITIZE:-0}" != 1 ]; then
	step "sanitizer build (ASan + UBSan)"
	cmake -S . -B build-asan -G Ninja -DCMAKE_BUILD_TYPE=Debug -DSCANDB_SANITIZE=ON -DSCANDB_TESTS=ON \
		-DCMAKE_C_COMPILER=clang -DSCANDB_TEST_PG="$pg" >/dev/null
	cmake --build build-asan -j "$jobs"
	step "test suite under ASan + UBSan, SQLite and PostgreSQL variants"
	ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 \
	UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
		suite build-asan
	pg_release=OFF
else
	step "SKIPPED: sanitizer build (SCANDB_SKIP_SANITIZE=1)"
	pg_release=$pg
fi

step "fuzzing the nmap XML parser (libFuzzer)"
cmake -S . -B build-fuzz -G Ninja -DCMAKE_BUILD_TYPE=Debug -DSCANDB_FUZZ=ON \
	-DCMAKE_C_COMPILER=clang >/dev/null
cmake --build build-fuzz --target fuzz_nmap_xml fuzz_port_state_doc fuzz_findings_rules fuzz_masscan \
	fuzz_filter -j "$jobs"
# fuzz TARGET SECONDS MAX_LEN SEED...: run libFuzzer target TARGET for
# SECONDS on a fresh corpus (build-fuzz/corpus-TARGET) seeded with the files
# SEED... (globs that match nothing are skipped), inputs up to MAX_LEN bytes.
fuzz() {
	local target=$1 seconds=$2 max_len=$3 corpus=build-fuzz/corpus-$1 seed
	shift 3
	rm -rf "$corpus" && mkdir -p "$corpus"
	for seed in "$@"; do
		[ -e "$seed" ] && cp "$seed" "$corpus/"
	done
	(cd build-fuzz && "./$target" -max_total_time="$seconds" -max_len="$max_len" \
		-rss_limit_mb=1024 -print_final_stats=1 "corpus-$target" 2>&1 | tail -n 12)
}
fuzz fuzz_nmap_xml "${SCANDB_FUZZ_SECONDS:-30}" 65536 \
	tests/data/nmap/*.xml tests/data/hostile/* fuzz/nmap_xml/*
step "fuzzing the port state document reader (libFuzzer)"
fuzz fuzz_port_state_doc "${SCANDB_FUZZ_DOC_SECONDS:-15}" 4096 fuzz/port_state_doc/*
step "fuzzing the findings rules parser (libFuzzer)"
fuzz fuzz_findings_rules "${SCANDB_FUZZ_RULES_SECONDS:-10}" 2048 fuzz/findings_rules/*
step "fuzzing the masscan and zmap parsers (libFuzzer)"
fuzz fuzz_masscan "${SCANDB_FUZZ_MASSCAN_SECONDS:-20}" 16384 tests/data/masscan/* \
	tests/data/zmap/* fuzz/masscan/* tests/data/hostile/masscan_* tests/data/hostile/zmap_*
step "fuzzing the search language and its SQL (libFuzzer)"
fuzz fuzz_filter "${SCANDB_FUZZ_FILTER_SECONDS:-10}" 8192 fuzz/filter/*

step "release build and test suite"
cmake -S . -B build -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo -DSCANDB_TESTS=ON -DSCANDB_TEST_PG="$pg_release" \
	>/dev/null
cmake --build build -j "$jobs"
suite build
