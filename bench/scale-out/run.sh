#!/usr/bin/env bash
# The Profile page (cached token + Graph /me at the emulator + SSR) under
# load: one instance with the memory stores, then two instances sharing a
# private Redis (sessions and tokens), in one run, plus Redis commands per
# request at steady state. Release builds; loopback only; bounded runs.
#
#   bench/scale-out/run.sh [SECONDS] [CONNECTIONS]
#
# Writes a Markdown table to stdout (docs/BENCHMARKS.md keeps one run).
set -euo pipefail
cd "$(dirname "$0")/../.."
seconds=${1:-10}
connections=${2:-8}

command -v wrk >/dev/null || { apt-get update -qq; DEBIAN_FRONTEND=noninteractive apt-get install -y -qq wrk >/dev/null; }
scripts/services.sh >/dev/null
scripts/release.sh >&2 # always: a stale binary would measure old code
cargo build --release -p idweb-emulator >&2

# Temporary directory, cleanup, free ports (emulator, app A, Redis) and a secret; plus a port for app B.
source bench/common.sh
BENCH_WAIT_TENTHS=100
app_a=$app_port
app_b=$(python3 - "$emulator_port" "$app_port" "$redis_port" <<'PY'
import socket, sys
while True:
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    if str(port) not in sys.argv[1:]:
        print(port)
        break
PY
)
adele=1d6a9a3e-5f0b-4c1e-8a55-0c7e3b1f2a01

IDWEB_EMULATOR_CLIENT_SECRET=$secret RUST_LOG=warn target/release/idweb-emulator --config crates/emulator/emulator.json \
  --listen 127.0.0.1:$emulator_port --redirect-uri http://127.0.0.1:$app_a/signin-oidc >"$work/emulator.log" 2>&1 &
pids+=($!)
wait_for "http://127.0.0.1:$emulator_port/_emulator"
(cd "$work" && redis-server --port "$redis_port" --bind 127.0.0.1 --save "" --appendonly no --daemonize yes --logfile redis.log)

start_app() { # port, then extra NAME=VALUE settings
  local port=$1; shift
  env IDWEB_ENVIRONMENT=Development RUST_LOG=warn LEPTOS_SITE_ADDR=127.0.0.1:$port LEPTOS_SITE_ROOT=target/site \
    AzureAd__Instance=http://127.0.0.1:$emulator_port/ AzureAd__ClientSecret=$secret \
    Graph__BaseUrl=http://127.0.0.1:$emulator_port/v1.0 Hosting__PublicUrl=http://127.0.0.1:$app_a Hosting__SignInStartsPerMinute=0 "$@" \
    target/release/idweb >"$work/app-$port.log" 2>&1 &
  pids+=($!)
  wait_for "http://127.0.0.1:$port/readyz"
}

load() { # url, cookie, connections -> requests/s
  wrk -t 1 -c "$3" -d "${seconds}s" -H "Cookie: $2" "$1" | awk '/Requests\/sec/ { print $2 }'
}

# One instance, memory stores.
start_app "$app_a"
cookie=$(python3 bench/sign_in.py cookies "http://127.0.0.1:$app_a" "/auth/sign-in?returnUrl=/" <(echo "$adele") 1)
curl -fs -H "Cookie: $cookie" "http://127.0.0.1:$app_a/profile" | grep -q "Adele Vance" || { echo "profile not served" >&2; exit 1; }
one=$(load "http://127.0.0.1:$app_a/profile" "$cookie" "$connections")
kill "${pids[-1]}"; wait "${pids[-1]}" 2>/dev/null || true; unset 'pids[-1]'

# Two instances sharing Redis.
shared=(TokenCache__Store=Redis TokenCache__ConnectionString=redis://127.0.0.1:$redis_port/
        TokenCache__EncryptionKeys__0__Id=bench TokenCache__EncryptionKeys__0__Key=$(head -c 32 /dev/urandom | base64)
        Session__Store=Redis)
start_app "$app_a" "${shared[@]}"
start_app "$app_b" "${shared[@]}"
cookie=$(python3 bench/sign_in.py cookies "http://127.0.0.1:$app_a" "/auth/sign-in?returnUrl=/" <(echo "$adele") 1)
curl -fs -H "Cookie: $cookie" "http://127.0.0.1:$app_b/profile" | grep -q "Adele Vance" || { echo "profile not served by B" >&2; exit 1; }
redis-cli -p "$redis_port" config resetstat >/dev/null
half=$(( (connections + 1) / 2 ))
load "http://127.0.0.1:$app_a/profile" "$cookie" "$half" >"$work/a.rps" &
load_a=$!
b=$(load "http://127.0.0.1:$app_b/profile" "$cookie" "$half")
wait $load_a
a=$(cat "$work/a.rps")
stats=$(redis-cli -p "$redis_port" info commandstats | tr -d '\r')
commands=$(awk -F'[:=,]' '/^cmdstat_/ && $1 !~ /^cmdstat_(config|info)/ { sum += $3 } END { print sum + 0 }' <<<"$stats")
by_command=$(awk -F'[:=,]' '/^cmdstat_/ && $1 !~ /^cmdstat_(config|info)/ { sub("cmdstat_", "", $1); printf "%s%s %s", sep, toupper($1), $3; sep = ", " }' <<<"$stats")
two=$(python3 -c "print(f'{$a + $b:.1f}')")
requests=$(python3 -c "print(round(($a + $b) * $seconds))")
per_request=$(python3 -c "print(f'{$commands / max(1, ($a + $b) * $seconds):.2f}')")
ratio=$(python3 -c "print(f'{($a + $b) / $one:.2f}')")

cat <<TABLE
| setup | Profile requests/s | vs one instance |
| --- | --- | --- |
| one instance, memory stores ($connections connections) | $one | 1.00x |
| two instances, shared Redis ($half + $half connections) | $two (A $a, B $b) | ${ratio}x |

Redis commands per Profile request at steady state: $per_request ($commands commands for about $requests requests; sessions and tokens together: $by_command).
TABLE
