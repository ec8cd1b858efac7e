#!/usr/bin/env bash
# The Profile page benchmark (cached token + Graph /me at the emulator +
# HTML), each system signed in through the real flow: idweb (memory stores,
# and Redis), the stacks people pick instead (Express + msal-node, Flask +
# Microsoft's identity package; bench/peers/), and the ceiling: a bare Axum
# handler doing the same Graph call with a fixed token.
#
#   scripts/bench.sh [SECONDS] [USERS] [CONNECTIONS...]
#     SECONDS      length of each load run (default 10)
#     USERS        users signed in before the load (default 1000; RSS is
#                  read after 10 and after all of them)
#     CONNECTIONS  wrk connection counts (default: 1 8)
#
# Release builds; the emulator serves HTTPS with its local CA (as
# Microsoft's endpoints do). The system under test runs on core 0, the
# emulator, Redis and wrk on core 1: the system's CPU per request comes
# from /proc for its process alone. Every system runs twice, interleaved.
# Loopback only; bounded: about (2 + 2 x connection counts x SECONDS) s per
# system and round, plus the sign-ins. Writes the Markdown table to stdout
# (docs/BENCHMARKS.md keeps one run) and the raw numbers to
# target/bench/results.tsv.
set -euo pipefail
cd "$(dirname "$0")/.."
seconds=${1:-10}
users=${2:-1000}
shift $(( $# > 2 ? 2 : $# ))
connections=("$@")
[ ${#connections[@]} -gt 0 ] || connections=(1 8)

source bench/common.sh
BENCH_WRAP="taskset -c 0"
command -v wrk >/dev/null || { say "installing wrk"; apt-get update -qq; DEBIAN_FRONTEND=noninteractive apt-get install -y -qq wrk >/dev/null; }
command -v taskset >/dev/null || { echo "taskset (util-linux) is needed to pin processes" >&2; exit 1; }
[ "$(nproc)" -ge 2 ] || { echo "the benchmark pins the system and the load to different cores: 2 or more needed" >&2; exit 1; }
scripts/services.sh >/dev/null
[ -x target/release/idweb ] && [ -d target/site/pkg ] || scripts/release.sh >&2
cargo build --release -q -p idweb-emulator -p idweb-bench-ceiling >&2

mkdir -p target/bench
results=target/bench/results.tsv
: >"$results"
clock_ticks=$(getconf CLK_TCK)

tree() { # pid: it and its descendants (gunicorn's worker runs under its master)
  local pid=$1 child
  echo "$pid"
  for child in $(pgrep -P "$pid" || true); do tree "$child"; done
}
cpu_seconds() { # pid: user + system CPU of the process and its descendants, in seconds
  python3 - $(tree "$1") <<PY
import sys
total = 0
for pid in sys.argv[1:]:
    try:
        fields = open(f"/proc/{pid}/stat").read().rsplit(")", 1)[1].split()
    except FileNotFoundError:
        continue
    total += int(fields[11]) + int(fields[12])
print(total / $clock_ticks)
PY
}
rss_kb() { # pid: resident memory of the process and its descendants
  local pid total=0
  for pid in $(tree "$1"); do total=$(( total + $(awk '/^VmRSS:/ { print $2 }' "/proc/$pid/status" 2>/dev/null || echo 0) )); done
  echo "$total"
}

bench_start_emulator "$users"
(cd "$work" && taskset -c 1 redis-server --port "$redis_port" --bind 127.0.0.1 --save "" --appendonly no --daemonize yes --logfile redis.log)

python_peer=.idweb/bench/python
if [ ! -x "$python_peer/bin/gunicorn" ]; then
  say "installing the Python peer's packages in $python_peer"
  python3 -m venv "$python_peer"
  "$python_peer/bin/pip" install -q -r bench/peers/flask/requirements.txt >&2
fi
start_flask() {
  mkdir -p "$work/flask-sessions"
  rm -rf "${work:?}/flask-sessions/"*
  (cd bench/peers/flask && AUTHORITY="$emulator/$tenant" CLIENT_ID=$client_id CLIENT_SECRET=$secret \
    REDIRECT_URI="$app/getAToken" GRAPH="$emulator/v1.0" SESSION_DIR="$work/flask-sessions" REQUESTS_CA_BUNDLE=$ca \
    PYTHONWARNINGS=ignore exec taskset -c 0 "$OLDPWD/$python_peer/bin/gunicorn" -w 1 -b 127.0.0.1:$app_port --log-level warning app:app) \
    >"$work/system.log" 2>&1 &
  pids+=($!)
  system_pid=$!
  wait_for "$app/profile"
}
if [ ! -d bench/peers/express/node_modules/@azure/msal-node ]; then
  say "installing the Node peer's packages"
  (cd bench/peers/express && npm ci --no-audit --no-fund >&2)
fi
start_express() {
  PORT=$app_port AUTHORITY="$emulator/$tenant" CLIENT_ID=$client_id CLIENT_SECRET=$secret \
    REDIRECT_URI="$app/auth/redirect" GRAPH="$emulator/v1.0" NODE_EXTRA_CA_CERTS=$ca NODE_ENV=production \
    taskset -c 0 node bench/peers/express/app.mjs >"$work/system.log" 2>&1 &
  pids+=($!)
  system_pid=$!
  wait_for "$app/profile"
}

# Runs SYSTEM once: start it, sign users in (if it has sessions), load it at each connection count.
measure() { # system round
  local system=$1 round=$2 cookies="" rss10=0 rss_all=0 signed=0
  case "$system" in
    idweb) start_idweb ;;
    "idweb, Redis L2") start_idweb TokenCache__Store=Redis TokenCache__ConnectionString=redis://127.0.0.1:$redis_port/ \
        TokenCache__KeyPrefix="bench-$round:" TokenCache__EncryptionKeys__0__Id=bench \
        TokenCache__EncryptionKeys__0__Key="$(head -c 32 /dev/urandom | base64)" Session__Store=Redis \
        Session__KeyPrefix="bench-session-$round:" ;;
    ceiling) start_ceiling ;;
    "Flask + identity") start_flask ;;
    "Express + msal-node") start_express ;;
  esac
  local start_path="/auth/sign-in?returnUrl=/"
  [ "$system" != "Flask + identity" ] || start_path=/profile
  [ "$system" != "Express + msal-node" ] || start_path=/auth/signin
  if [ "$system" != ceiling ]; then
    cookies=$work/cookies
    say "$system (round $round): signing in 10 users, then up to $users"
    head -n 10 "$work/users" >"$work/first-users"
    tail -n +11 "$work/users" >"$work/other-users"
    python3 bench/sign_in.py cookies "$app" "$start_path" "$work/first-users" 10 "$ca" >"$cookies"
    rss10=$(rss_kb "$system_pid")
    python3 bench/sign_in.py cookies "$app" "$start_path" "$work/other-users" "$users" "$ca" >>"$cookies"
    rss_all=$(rss_kb "$system_pid")
    signed=$(wc -l <"$cookies")
    curl -fs -H "Cookie: $(head -1 "$cookies")" "$app/profile" | grep -q "Bench User 1<" \
      || { echo "$system did not serve the profile" >&2; exit 1; }
  fi
  BENCH_COOKIES=$cookies taskset -c 1 wrk -t 1 -c 8 -d 2s -s bench/wrk/profile.lua "$app/profile" >/dev/null
  # Without sessions, the memory it needs at all, after a warm-up.
  [ "$system" != ceiling ] || rss_all=$(rss_kb "$system_pid")
  for c in "${connections[@]}"; do
    local before after output=$work/wrk.out
    before=$(cpu_seconds "$system_pid")
    BENCH_COOKIES=$cookies taskset -c 1 wrk -t 1 -c "$c" -d "${seconds}s" --latency -s bench/wrk/profile.lua "$app/profile" >"$output"
    after=$(cpu_seconds "$system_pid")
    if grep -q "Non-2xx" "$output"; then echo "$system answered errors under load:" >&2; cat "$output" >&2; exit 1; fi
    python3 - "$system" "$round" "$c" "$before" "$after" "$rss10" "$rss_all" "$signed" "$output" >>"$results" <<'PY'
import re, sys
system, round_, connections, before, after, rss10, rss_all, signed, output = sys.argv[1:]
text = open(output).read()
def millis(label):
    value, unit = re.search(rf"^\s*{label}\s+([\d.]+)(us|ms|s)\s*$", text, re.M).groups()
    return float(value) * {"us": 0.001, "ms": 1, "s": 1000}[unit]
requests, seconds = re.search(r"(\d+) requests in ([\d.]+)(?:s)", text).groups()
print("\t".join([system, round_, connections, requests, seconds, f"{millis('50%'):.3f}", f"{millis('99%'):.3f}",
                 f"{float(after) - float(before):.3f}", rss10, rss_all, signed]))
PY
    say "$system (round $round), $c connections: $(tail -1 "$results" | cut -f4) requests"
  done
  stop_system
}

systems=(idweb "idweb, Redis L2" "Express + msal-node" "Flask + identity" ceiling)
# BENCH_SYSTEMS="idweb ceiling" measures only those (words: idweb, Express, Flask,
# ceiling; a quick before/after); default: all.
if [ -n "${BENCH_SYSTEMS:-}" ]; then
  wanted=" $BENCH_SYSTEMS "
  keep() { local system=$1 word=${1%%,*}; word=${word%% *}; [[ "$wanted" == *" $word "* ]]; }
else
  keep() { true; }
fi
for round in 1 2; do
  # Interleaved, the order turned around in the second round.
  if [ "$round" = 2 ]; then order=(ceiling "Flask + identity" "Express + msal-node" "idweb, Redis L2" idweb); else order=("${systems[@]}"); fi
  for system in "${order[@]}"; do
    if keep "$system"; then measure "$system" "$round"; fi
  done
done

cat <<HEAD
Machine: $(nproc) cores ($(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //')), $(awk '/MemTotal/ { printf "%.0f GiB", $2 / 1048576 }' /proc/meminfo); $(wrk --version 2>&1 | head -1 | cut -d' ' -f1,2); $(rustc --version | cut -d' ' -f1,2).
\`scripts/bench.sh $seconds $users ${connections[*]}\`: ${seconds} s per load run, $users users signed in, each system twice (interleaved); system under test on core 0, emulator (HTTPS), Redis and wrk on core 1.

HEAD
python3 bench/report.py "$results" ceiling
