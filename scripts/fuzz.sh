#!/usr/bin/env bash
# Fuzzes cupick's file readers with libFuzzer (clang from Debian), one target after another, each for
# a bounded time: the MRC, PNG, JPEG, TIFF, STAR, EMAN .box, crYOLO .cbox and config readers
# (fuzz/fuzz_*.cpp).
#
#   scripts/fuzz.sh [SECONDS_PER_TARGET] [TARGET...]     targets: mrc png jpeg tiff star box cbox config (default: all)
#
# Builds into build-fuzz/ (CUPICK_FUZZ=ON, clang++). The corpus each run grows is kept there,
# build-fuzz/corpus/<target>, seeded from fuzz/corpus/<target>; a crashing, leaking, hanging or
# memory-hungry input goes to build-fuzz/artifacts/<target>/ and the log to build-fuzz/logs/<target>.log.
# Replay an input with build-fuzz/cupick_fuzz_<target> FILE. Exits non-zero if any target found one.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
seconds=${1:-60}
shift $(( $# > 0 ? 1 : 0 ))
targets=("$@")
[ ${#targets[@]} -gt 0 ] || targets=(mrc png jpeg tiff star box cbox config)
build=${CUPICK_FUZZ_BUILD:-$root/build-fuzz}
case $seconds in ''|*[!0-9]*) echo "fuzz: seconds per target must be a whole number, got '$seconds'" >&2; exit 2 ;; esac
for t in "${targets[@]}"; do
  [ -f "$root/fuzz/fuzz_$t.cpp" ] || { echo "fuzz: no target '$t' (mrc png jpeg tiff star box cbox config)" >&2; exit 2; }
done

"$root/scripts/deps.sh"  # cmake, ninja, the libraries; CMake needs the CUDA toolkit even here
# clang and its fuzzer runtime (libclang_rt.fuzzer, in Debian's libclang-rt-dev): present when a
# trivial fuzz target links.
probe=$(mktemp -d)
trap 'rm -rf "$probe"' EXIT
fuzzer_links() {
  command -v clang++ >/dev/null &&
    printf 'extern "C" int LLVMFuzzerTestOneInput(const unsigned char*, unsigned long) { return 0; }\n' |
      clang++ -x c++ -fsanitize=fuzzer,address,undefined - -o "$probe/probe" 2>/dev/null
}
if ! fuzzer_links; then
  echo "fuzz: installing clang and libclang-rt-dev"
  sudo=""; [ "$(id -u)" -eq 0 ] || sudo="sudo"
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends clang libclang-rt-dev >/dev/null
  fuzzer_links || { echo "fuzz: clang++ -fsanitize=fuzzer still does not link" >&2; exit 1; }
fi

cmake -S "$root" -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo -DCMAKE_CXX_COMPILER=clang++ \
      -DCUPICK_FUZZ=ON -DCUPICK_TESTS=OFF -DCUPICK_BENCH=OFF >/dev/null
ninja -C "$build" -j2 "${targets[@]/#/cupick_fuzz_}"

export UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1
summary=()
found=0
for t in "${targets[@]}"; do
  corpus=$build/corpus/$t artifacts=$build/artifacts/$t log=$build/logs/$t.log
  mkdir -p "$corpus" "$artifacts" "$build/logs"
  dict=$root/fuzz/star.dict max_len=4096
  case $t in mrc|png|jpeg|tiff) dict=$root/fuzz/$t.dict max_len=8192 ;; esac
  [ "$t" = config ] && dict=$root/fuzz/config.dict
  echo "fuzz: $t for ${seconds} s, log in $log"
  touch "$artifacts/.start"
  rc=0
  # One process, one job: libFuzzer stops at the first finding and leaves it in $artifacts.
  # -timeout: seconds per input; -rss_limit_mb: the whole process; -malloc_limit_mb: one allocation
  # (2 GiB each: a 16,384^2 float micrograph, the largest believable, is 1 GiB).
  "$build/cupick_fuzz_$t" -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 -malloc_limit_mb=2048 \
      -max_len="$max_len" -dict="$dict" -artifact_prefix="$artifacts/" -print_final_stats=1 \
      "$corpus" "$root/fuzz/corpus/$t" >"$log" 2>&1 || rc=$?
  findings=$(find "$artifacts" -type f -newer "$artifacts/.start" ! -name .start | wc -l)
  [ "$rc" -eq 0 ] || [ "$findings" -gt 0 ] || findings=1  # died without leaving an input: still a finding
  [ "$findings" -eq 0 ] || found=1
  runs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -n 1)
  cov=$(grep -o 'cov: [0-9]* ft: [0-9]* corp: [0-9]*' "$log" | tail -n 1 || true)
  summary+=("$(printf '%-6s %5s s  %10s runs  %-32s crashes %s (exit %s)' "$t" "$seconds" "${runs:-?}" "${cov:-cov: ?}" "$findings" "$rc")")
done
printf '%s\n' "${summary[@]}"
[ "$found" -eq 0 ] || { echo "fuzz: findings in $build/artifacts/ (logs in $build/logs/)" >&2; exit 1; }
