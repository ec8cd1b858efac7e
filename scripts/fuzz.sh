#!/usr/bin/env bash
# Runs each cargo-fuzz target in fuzz/ for a bounded time (not part of CI).
# Usage: scripts/fuzz.sh [SECONDS_PER_TARGET] [TARGET...]   (default 60, all)
# Installs the nightly toolchain (minimal profile) and cargo-fuzz when absent.
# Crashes are kept in fuzz/artifacts/<target>/, the corpus in fuzz/corpus/<target>/;
# the script exits non-zero if any target crashed.
set -euo pipefail
cd "$(dirname "$0")/.."
seconds=${1:-60}
[ $# -gt 0 ] && shift
say() { printf '\033[1m[fuzz]\033[0m %s\n' "$*"; }

if ! rustup toolchain list | grep -q '^nightly'; then
  say "installing the nightly toolchain (libFuzzer's instrumentation needs it)"
  rustup toolchain install nightly --profile minimal
fi
if ! cargo fuzz --version >/dev/null 2>&1; then
  say "installing cargo-fuzz"
  cargo install --locked cargo-fuzz
fi

targets=("$@")
if [ ${#targets[@]} -eq 0 ]; then
  mapfile -t targets < <(cd fuzz && cargo +nightly fuzz list)
fi
logs=$(mktemp -d)
trap 'rm -rf "$logs"' EXIT
crashed=()
for target in "${targets[@]}"; do
  say "$target for ${seconds}s"
  if (cd fuzz && cargo +nightly fuzz run "$target" -- -max_total_time="$seconds" -print_final_stats=1) >"$logs/$target.log" 2>&1; then
    runs=$(awk -F: '/^stat::number_of_executed_units/ { gsub(/ /, "", $NF); print $NF }' "$logs/$target.log")
    say "$target: no crash in ${runs:-?} runs"
  else
    crashed+=("$target")
    grep -E 'panicked|SUMMARY|ERROR|Test unit written' "$logs/$target.log" | head -5 || true
    say "$target: CRASHED (see fuzz/artifacts/$target/)"
  fi
done
if [ ${#crashed[@]} -gt 0 ]; then
  say "crashed: ${crashed[*]}"
  exit 1
fi
say "every target ran ${seconds}s without a crash"
