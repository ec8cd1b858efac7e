#!/usr/bin/env bash
# The Profile page under load (scripts/bench.sh profile): the signed-in
# page (session, cached token, Graph /me at the emulator, HTML) for idweb
# (memory stores, and sessions and tokens in Redis with its L1s), the stacks
# people pick instead (Express + msal-node, Flask + Microsoft's identity
# package; bench/peers/) and the ceiling (bench/peers/ceiling: the least
# work that answers the same page). Every system signs its users in
# through its own flow first; the harness checks that each answers the
# same fields as idweb in about the same bytes (bench/same_page.py).
#
#   bench/profile.sh [SECONDS] [USERS] [CONNECTIONS...]
#     SECONDS      length of each load run (default 10)
#     USERS        users signed in before the load (default 1000; RSS is
#                  read after 10 and after all of them)
#     CONNECTIONS  wrk connection counts (default: 1 8 64 256)
#
# The system under test runs on core 0, the emulator, Redis and wrk on core
# 1: the system's CPU per request comes from /proc for its process alone.
# Every system runs twice, interleaved. Loopback only; bounded: about
# (2 + connection counts x SECONDS) s per system and round, plus the
# sign-ins. Writes the Markdown table to stdout and the raw numbers to
# target/bench/results.tsv. BENCH_SYSTEMS limits the systems.
set -euo pipefail
cd "$(dirname "$0")/.."
seconds=${1:-10}
users=${2:-1000}
shift $(( $# > 2 ? 2 : $# ))
connections=("$@")
[ ${#connections[@]} -gt 0 ] || connections=(1 8 64 256)

source bench/common.sh
source bench/peers.sh
bench_prepare
results=target/bench/results.tsv
: >"$results"
bench_start_emulator "$users"
bench_start_redis
reference=$work/reference.html

# Runs SYSTEM once: start it, sign users in, check its page, load it at each connection count.
measure() { # system round
  local system=$1 round=$2 cookies=$work/cookies rss10 rss_all signed page=$work/page.html
  start_named "$system"
  local start_path
  start_path=$(start_path_of "$system")
  say "$system (round $round): signing in 10 users, then up to $users"
  head -n 10 "$work/users" >"$work/first-users"
  tail -n +11 "$work/users" >"$work/other-users"
  python3 bench/sign_in.py cookies "$app" "$start_path" "$work/first-users" 10 "$ca" >"$cookies"
  rss10=$(rss_kb "$system_pid")
  if [ "$users" -gt 10 ]; then
    taskset -c 1 target/release/idweb-bench-sign-in "$app" "$start_path" "$work/other-users" $(( users - 10 )) 8 0 "$ca" "$work/more-cookies" >/dev/null
    cat "$work/more-cookies" >>"$cookies"
  fi
  rss_all=$(rss_kb "$system_pid")
  signed=$(wc -l <"$cookies")
  curl -fs -H "Cookie: $(head -1 "$cookies")" "$app/profile" >"$page" || { echo "$system did not serve the profile" >&2; exit 1; }
  # idweb's page is the reference: every other system answers its fields and about its bytes.
  if [ "$system" = idweb ]; then cp "$page" "$reference"; else python3 bench/same_page.py "$reference" "$page" "$system" >&2; fi
  BENCH_COOKIES=$cookies taskset -c 1 wrk -t 1 -c 8 -d 2s -s bench/wrk/profile.lua "$app/profile" >/dev/null
  for c in "${connections[@]}"; do
    local before after output=$work/wrk.out
    before=$(cpu_seconds "$system_pid")
    BENCH_COOKIES=$cookies taskset -c 1 wrk -t 1 -c "$c" -d "${seconds}s" --latency -s bench/wrk/profile.lua "$app/profile" >"$output"
    after=$(cpu_seconds "$system_pid")
    # Errors (non-2xx answers, wrk's 2 s timeouts, resets) are a result: counted in the table, not a stop.
    if grep -q "Non-2xx\|Socket errors" "$output"; then say "$system, $c connections: errors under load: $(grep "Non-2xx\|Socket errors" "$output" | tr -s ' ' | tr '\n' ' ')"; fi
    python3 - "$system" "$round" "$c" "$before" "$after" "$rss10" "$rss_all" "$signed" "$output" >>"$results" <<'PY'
import re, sys
system, round_, connections, before, after, rss10, rss_all, signed, output = sys.argv[1:]
text = open(output).read()
def millis(label):
    value, unit = re.search(rf"^\s*{label}\s+([\d.]+)(us|ms|s)\s*$", text, re.M).groups()
    return float(value) * {"us": 0.001, "ms": 1, "s": 1000}[unit]
requests, seconds = re.search(r"(\d+) requests in ([\d.]+)(?:s)", text).groups()
non_2xx = sum(int(n) for n in re.findall(r"Non-2xx or 3xx responses:\s*(\d+)", text))
socket_errors = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", text)
socket = sum(int(n) for n in socket_errors.groups()) if socket_errors else 0
print("\t".join([system, round_, connections, requests, seconds, f"{millis('50%'):.3f}", f"{millis('99%'):.3f}",
                 f"{float(after) - float(before):.3f}", rss10, rss_all, signed, str(non_2xx + socket)]))
PY
    say "$system (round $round), $c connections: $(tail -1 "$results" | cut -f4) requests"
  done
  stop_system
}

systems=(idweb "idweb, Redis L2" "Express + msal-node" "Flask + identity" ceiling)
for round in 1 2; do
  # Interleaved, the order turned around in the second round (idweb first in both: it is the reference page).
  if [ "$round" = 2 ]; then order=(idweb ceiling "Flask + identity" "Express + msal-node" "idweb, Redis L2"); else order=("${systems[@]}"); fi
  for system in "${order[@]}"; do
    if [ "$system" = idweb ] || bench_wanted "$system"; then measure "$system" "$round"; fi
  done
done

cat <<HEAD
$(bench_machine_line)
\`scripts/bench.sh profile $seconds $users ${connections[*]}\`: ${seconds} s per load run, $users users signed in, each system twice (interleaved); system under test on core 0, emulator (HTTPS), Redis and wrk on core 1.

HEAD
python3 bench/report.py "$results" ceiling
