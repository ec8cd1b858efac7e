#!/usr/bin/env bash
# Sign-in throughput (scripts/bench.sh sign-in): each system signs USERS in
# through its real flow (start, the emulator's account picker, the callback:
# code redemption, ID token checks, cache and session writes), driven by
# target/release/idweb-bench-sign-in. The system runs alone on core 0, the
# emulator and the driver on core 1, so the system's CPU per completed
# sign-in (from /proc, its process alone) excludes the emulator's signing.
# Then a burst: 2 000 sign-ins started over 10 s (open loop) against idweb,
# with its memory before and after.
#
#   bench/sign-in.sh [COUNT] [CONCURRENCY] [BURST_COUNT] [BURST_SECONDS]
#     COUNT        sign-ins measured per system and round (default 1000)
#     CONCURRENCY  sign-ins in flight (default 16)
#     BURST_COUNT, BURST_SECONDS  the burst (default 2000 over 10 s)
#
# BENCH_SYSTEMS limits the systems (words: idweb, Express, Flask, ceiling).
# Writes the Markdown tables to stdout and the raw numbers to
# target/bench/sign-in.tsv. Loopback only; bounded by the counts.
set -euo pipefail
cd "$(dirname "$0")/.."
count=${1:-1000}
concurrency=${2:-16}
burst_count=${3:-2000}
burst_seconds=${4:-10}

source bench/common.sh
source bench/peers.sh
bench_prepare
cargo build --release -q -p idweb-bench-sign-in >&2
driver=target/release/idweb-bench-sign-in
results=target/bench/sign-in.tsv
: >"$results"
bench_start_emulator "$count"
bench_start_redis

# Runs the driver against the system started last: COUNT sign-ins, CONCURRENCY at once, at RATE per second (0: as fast as it goes).
drive() { # count concurrency rate
  taskset -c 1 "$driver" "$app" "$start_path" "$work/users" "$1" "$2" "$3" "$ca"
}

for round in 1 2; do
  if [ "$round" = 2 ]; then order=(ceiling "Flask + identity" "Express + msal-node" idweb); else order=(idweb "Express + msal-node" "Flask + identity" ceiling); fi
  for system in "${order[@]}"; do
    bench_wanted "$system" || continue
    start_named "$system"
    start_path=$(start_path_of "$system")
    drive 50 8 0 >/dev/null # warm-up: connections, lazy discovery, JIT
    before=$(cpu_seconds "$system_pid")
    line=$(drive "$count" "$concurrency" 0)
    after=$(cpu_seconds "$system_pid")
    rss=$(rss_kb "$system_pid")
    printf '%s\t%s\t%s\t%s\t%s\t%s\n' "$system" "$round" "$line" "$before" "$after" "$rss" >>"$results"
    say "$system (round $round): $(cut -f1,2 <<<"$line" | tr '\t' ' ') (completed, failed)"
    stop_system
  done
done

# The burst, against idweb with its memory stores.
BENCH_WRAP="taskset -c 0" start_named idweb
start_path=$(start_path_of idweb)
rss_before=$(rss_kb "$system_pid")
rate=$(( burst_count / burst_seconds ))
burst=$(drive "$burst_count" 512 "$rate")
rss_after=$(rss_kb "$system_pid")
stop_system

cat <<HEAD
$(bench_machine_line)
\`scripts/bench.sh sign-in $count $concurrency $burst_count $burst_seconds\`: $count sign-ins per system and round at $concurrency at once, each system twice (interleaved); system on core 0, emulator (HTTPS) and the driver on core 1.

HEAD
python3 bench/report_sign_in.py "$results" ceiling
printf '\nBurst: %s sign-ins started over %s s against idweb (open loop, 512 at most in flight):\n\n' "$burst_count" "$burst_seconds"
python3 - "$burst" "$rss_before" "$rss_after" <<'PY'
import sys
completed, failed, seconds, rate, p50, p99, worst = sys.argv[1].split("\t")
print("| completed | failed | took s | sign-ins/s | p50 ms | p99 ms | max ms | RSS MB before | RSS MB after |")
print("| ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |")
print(f"| {completed} | {failed} | {float(seconds):.1f} | {float(rate):.0f} | {float(p50):.1f} | {float(p99):.1f} | {float(worst):.1f} | "
      f"{int(sys.argv[2]) / 1024:.1f} | {int(sys.argv[3]) / 1024:.1f} |")
PY
