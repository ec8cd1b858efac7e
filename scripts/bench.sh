#!/usr/bin/env bash
# Every benchmark of docs/BENCHMARKS.md, in one go or a part at a time.
#
#   scripts/bench.sh                 all parts, default sizes (about 30 minutes)
#   scripts/bench.sh profile [SECONDS] [USERS] [CONNECTIONS...]
#                                    the Profile page under load: idweb (memory
#                                    stores; Redis with L1s), Express + msal-node,
#                                    Flask + identity and the ceiling, at 1, 8, 64
#                                    and 256 connections (bench/profile.sh)
#   scripts/bench.sh sign-in [COUNT] [CONCURRENCY] [BURST_COUNT] [BURST_SECONDS]
#                                    sign-ins through each system's real flow, CPU
#                                    per completed sign-in, then a burst against
#                                    idweb (bench/sign-in.sh)
#   scripts/bench.sh instructions [REQUESTS]
#                                    instructions per Profile request under
#                                    callgrind (bench/instructions.sh)
#   scripts/bench.sh startup [RUNS]  process start to the first 200 (bench/startup.sh)
#   scripts/bench.sh bundle          the browser bundle as served (bench/bundle.sh)
#
# BENCH_SYSTEMS="idweb ceiling" limits the profile and sign-in parts to those
# systems (words: idweb, Express, Flask, ceiling). Release builds
# (scripts/release.sh) are brought up to date first. Each part pins the system under
# test to core 0 and the load to core 1, targets loopback only, is bounded in
# time, and prints Markdown tables; raw numbers go to target/bench/.
set -euo pipefail
cd "$(dirname "$0")/.."
part=${1:-all}
[ $# -eq 0 ] || shift
case "$part" in
  profile) exec bench/profile.sh "$@" ;;
  sign-in) exec bench/sign-in.sh "$@" ;;
  instructions) exec bench/instructions.sh "${1:-200}" idweb redis ceiling ;;
  startup) exec bench/startup.sh "$@" ;;
  bundle) exec bench/bundle.sh ;;
  all)
    for each in bundle startup profile sign-in instructions; do
      printf '\n## %s\n\n' "$each"
      "$0" "$each"
    done
    ;;
  *) sed -n '2,24p' "$0" >&2; exit 2 ;;
esac
