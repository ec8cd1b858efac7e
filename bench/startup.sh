#!/usr/bin/env bash
# Start-up (scripts/bench.sh startup): from spawning idweb (release, memory
# stores, pinned to core 0) to its first 200 for the home page, RUNS times.
# Nothing may block before it listens: discovery and the provider's keys
# stay lazy (no emulator runs here, so a start that waited for one shows).
#
#   bench/startup.sh [RUNS]   (default 20)
set -euo pipefail
cd "$(dirname "$0")/.."
runs=${1:-20}
source bench/common.sh
scripts/release.sh >&2 # always: cargo skips what is built, and a stale binary would measure old code
line=$(python3 bench/startup.py "$runs" "$app/" -- env IDWEB_ENVIRONMENT=Development RUST_LOG=warn \
  LEPTOS_SITE_ADDR=127.0.0.1:$app_port LEPTOS_SITE_ROOT=target/site AzureAd__Instance="$emulator/" AzureAd__ClientSecret="$secret" \
  Graph__BaseUrl="$emulator/v1.0" Hosting__PublicUrl="$app" taskset -c 0 target/release/idweb)
cat <<HEAD
$(bench_machine_line 2>/dev/null || true)
\`scripts/bench.sh startup $runs\`: idweb (release, memory stores) spawned $runs times; time to its first 200 for \`/\`.

HEAD
python3 - "$line" <<'PY'
import sys
runs, median, low, high, each = sys.argv[1].split("\t")
print("| runs | median ms | min ms | max ms |")
print("| ---: | ---: | ---: | ---: |")
print(f"| {runs} | {median} | {low} | {high} |")
PY
