#!/usr/bin/env bash
#
# bootstrap.sh -- set up a Debian machine for memlab, build it, and run it.
#
#   scripts/bootstrap.sh lab    install what is missing, build into build/,
#                               run the first lab (buddy_fragmentation)
#   scripts/bootstrap.sh test   install what is missing, then
#                                 1. build/       build, every test with ctest
#                                 2. build-asan/  the same under ASan+UBSan
#                                                 (any finding fails the run)
#                                 3. build-fuzz/  the libFuzzer targets, built
#                                                 with clang, each run for a
#                                                 bounded time
#                               and exit non-zero if any stage failed.
#
# Installing needs root (apt-get): run as root, or as a user with sudo.
# Environment: MEMLAB_FUZZ_SECONDS (default 60) bounds each fuzz target's run;
# JOBS (default 2) is the build and ctest parallelism.
#
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$ROOT"

JOBS=${JOBS:-2}
FUZZ_SECONDS=${MEMLAB_FUZZ_SECONDS:-60}

# Debian 12 package names.  libclang-rt-14-dev holds clang's libFuzzer and
# sanitizer runtimes (libclang_rt.fuzzer-x86_64.a, libclang_rt.asan-*);
# gcc's own sanitizer runtimes (libasan8, libubsan1) come with gcc.
# e2fsprogs (mkfs.ext4) and mount make tests/diff/diff_ra's filesystem.
PACKAGES=(gcc libc6-dev make cmake pkg-config lua5.4 liblua5.4-dev lua-unit
	  lua-cjson clang libclang-rt-14-dev e2fsprogs mount)

log() { printf '==> %s\n' "$*" >&2; }
die() { printf 'bootstrap.sh: %s\n' "$*" >&2; exit 1; }

usage() {
	cat >&2 <<EOF
usage: scripts/bootstrap.sh lab | test
  lab    install what is missing, build into build/, run the buddy_fragmentation lab
  test   install what is missing, build and run every test (plain, ASan+UBSan, fuzz)
EOF
	exit 2
}

# ---- packages ----

missing_packages() {
	local p
	for p in "${PACKAGES[@]}"; do
		if ! dpkg-query -W -f='${Status}\n' "$p" 2>/dev/null |
			grep -q '^install ok installed$'; then
			printf '%s\n' "$p"
		fi
	done
}

install_packages() {
	if ! command -v dpkg-query >/dev/null 2>&1; then
		log "not a Debian system: make sure these are installed: ${PACKAGES[*]}"
		return 0
	fi
	local missing
	mapfile -t missing < <(missing_packages)
	if [ "${#missing[@]}" -eq 0 ]; then
		log "packages: all present"
		return 0
	fi
	local sudo=()
	if [ "$(id -u)" -ne 0 ]; then
		if command -v sudo >/dev/null 2>&1; then
			sudo=(sudo)
		else
			die "missing packages: ${missing[*]}
  installing them needs root and sudo is not available; run as root:
    apt-get update && apt-get install -y ${missing[*]}
  or run this script as root."
		fi
	fi
	log "installing: ${missing[*]}"
	"${sudo[@]}" apt-get update
	"${sudo[@]}" env DEBIAN_FRONTEND=noninteractive \
		apt-get install -y --no-install-recommends "${missing[@]}"
}

# ---- building ----

# configure_and_build DIR [cmake -D options...]: configure DIR and build all.
configure_and_build() {
	local dir=$1
	shift
	cmake -S . -B "$dir" "$@" && cmake --build "$dir" -j"$JOBS"
}

run_ctest() {
	ctest --test-dir "$1" -j"$JOBS" --output-on-failure --no-tests=error \
		--timeout 900
}

# ---- the stages of `test`; each returns non-zero on failure ----

stage_plain() {
	configure_and_build build -DMEMLAB_SANITIZE=OFF -DMEMLAB_FUZZ=OFF || return 1
	run_ctest build
}

# Every sanitizer finding ends the process with a failure status.
SAN_ENV=(ASAN_OPTIONS=halt_on_error=1:detect_leaks=1
	 UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1)

stage_asan() {
	configure_and_build build-asan -DMEMLAB_SANITIZE=ON || return 1
	env "${SAN_ENV[@]}" ctest --test-dir build-asan -j"$JOBS" \
		--output-on-failure --no-tests=error --timeout 900
}

# The fuzz targets only (the rest of the tree is covered by the stages above):
# fuzz_page_alloc, then fuzz_ops (seeded with tests/fuzz/corpus_ops and the
# findings' reproducers), each for FUZZ_SECONDS; both run even if the first
# finds something.
stage_fuzz() {
	cmake -S . -B build-fuzz -DCMAKE_C_COMPILER=clang -DMEMLAB_FUZZ=ON &&
		cmake --build build-fuzz -j"$JOBS" --target fuzz_page_alloc fuzz_ops ||
		return 1
	local dir=build-fuzz/tests/fuzz failed=0
	mkdir -p build-fuzz/corpus build-fuzz/corpus_ops build-fuzz/artifacts
	log "fuzz_page_alloc for ${FUZZ_SECONDS} s"
	env "${SAN_ENV[@]}" "$dir/fuzz_page_alloc" -max_total_time="$FUZZ_SECONDS" -timeout=20 \
		-rss_limit_mb=2048 -max_len=512 -len_control=0 -print_final_stats=1 \
		-artifact_prefix=build-fuzz/artifacts/ build-fuzz/corpus || failed=1
	log "fuzz_ops for ${FUZZ_SECONDS} s"
	env "${SAN_ENV[@]}" "$dir/fuzz_ops" -max_total_time="$FUZZ_SECONDS" -timeout=30 \
		-rss_limit_mb=2048 -max_len=1024 -len_control=0 -print_final_stats=1 \
		-artifact_prefix=build-fuzz/artifacts/ops- build-fuzz/corpus_ops \
		tests/fuzz/corpus_ops tests/fuzz/crashes_ops || failed=1
	return "$failed"
}

cmd_lab() {
	install_packages
	log "building into build/"
	configure_and_build build -DMEMLAB_SANITIZE=OFF -DMEMLAB_FUZZ=OFF ||
		die "build failed"
	exec build/memlab lab buddy_fragmentation
}

cmd_test() {
	install_packages
	local start=$SECONDS results=() failed=0 t0 name
	for name in plain asan fuzz; do
		log "stage $name"
		t0=$SECONDS
		if "stage_$name"; then
			results+=("$name ok ($((SECONDS - t0)) s)")
		else
			results+=("$name FAILED ($((SECONDS - t0)) s)")
			failed=1
		fi
	done
	local summary
	summary=$(printf '%s, ' "${results[@]}")
	summary=${summary%, }
	if [ "$failed" -eq 0 ]; then
		printf 'memlab test: PASS in %d s -- %s\n' "$((SECONDS - start))" "$summary"
	else
		printf 'memlab test: FAIL in %d s -- %s\n' "$((SECONDS - start))" "$summary"
	fi
	return "$failed"
}

[ $# -eq 1 ] || usage
case $1 in
lab) cmd_lab ;;
test) cmd_test ;;
*) usage ;;
esac
