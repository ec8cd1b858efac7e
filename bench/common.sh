# Shared by scripts/bench.sh (load), bench/instructions.sh (callgrind) and
# bench/scale-out/run.sh (its temporary directory, cleanup, ports and secret):
# free loopback ports, the emulator over HTTPS with generated users, and
# starting idweb or the ceiling. Sourced, not run; expects `set -euo pipefail`
# and the repository root as working directory.
#
# After `bench_start_emulator USERS`: $emulator, $app, $ca, $secret, $tenant,
# $client_id, $work (a temporary directory removed on exit), $work/users (the
# users' object ids, one a line). `start_idweb` and `start_ceiling` (which
# signs users in through its own flow at /auth/sign-in) set
# $system_pid; $BENCH_WRAP (words, e.g. "taskset -c 0" or a valgrind command)
# runs before the system's binary.

say() { printf '\033[1m[bench]\033[0m %s\n' "$*" >&2; }

work=$(mktemp -d)
pids=()
bench_stop_all() {
  for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
  [ -n "${redis_port:-}" ] && redis-cli -p "$redis_port" shutdown nosave >/dev/null 2>&1 || true
  rm -rf "$work"
}
trap bench_stop_all EXIT

read -r emulator_port app_port redis_port < <(python3 -c '
import socket
s = [socket.socket() for _ in range(3)]
[x.bind(("127.0.0.1", 0)) for x in s]
print(*[x.getsockname()[1] for x in s])')
emulator=https://127.0.0.1:$emulator_port
app=http://127.0.0.1:$app_port
ca=$work/emulator-ca.pem
secret=$(head -c 24 /dev/urandom | base64 | tr -d '/+=')
tenant=7d3a2f61-4a2e-4c49-9b56-2f1c8e4d9a10
client_id=5f4b6c2e-8d1a-4e3b-9c7f-1a2b3c4d5e6f

wait_for() { # url [curl options]; BENCH_WAIT_TENTHS bounds the wait (default 200: 20 s)
  local url=$1; shift
  for _ in $(seq "${BENCH_WAIT_TENTHS:-200}"); do curl -fs "$@" "$url" >/dev/null 2>&1 && return; sleep 0.1; done
  echo "$url never answered" >&2; exit 1
}

# The emulator (release, HTTPS with its local CA) with USERS generated users, on core 1.
bench_start_emulator() { # users
  python3 - "$1" "$app" >"$work/emulator.json" 3>"$work/users" <<'PY'
import json, os, sys
count, app = int(sys.argv[1]), sys.argv[2]
config = json.load(open("crates/emulator/emulator.json"))
config["apps"][0]["redirectUris"] = [f"{app}/signin-oidc", f"{app}/getAToken", f"{app}/auth/redirect"]
config["apps"][0]["postLogoutRedirectUris"] = [f"{app}/signout-callback-oidc"]
config["users"] = [{
    "objectId": f"00000000-0000-4000-8000-{index:012d}",
    "displayName": f"Bench User {index}", "givenName": "Bench", "surname": f"User {index}",
    "userPrincipalName": f"bench{index}@contoso.example", "mail": f"bench{index}@contoso.example",
    "jobTitle": "Tester", "officeLocation": f"{index}/1",
} for index in range(1, count + 1)]
json.dump(config, sys.stdout)
with os.fdopen(3, "w") as oids:
    oids.write("".join(user["objectId"] + "\n" for user in config["users"]))
PY
  IDWEB_EMULATOR_CLIENT_SECRET=$secret RUST_LOG=warn taskset -c 1 target/release/idweb-emulator \
    --config "$work/emulator.json" --listen 127.0.0.1:$emulator_port --tls-ca-file "$ca" >"$work/emulator.log" 2>&1 &
  pids+=($!)
  wait_for "$emulator/_emulator" --cacert "$ca"
}

start_idweb() { # extra NAME=VALUE settings
  # shellcheck disable=SC2086 # BENCH_WRAP is words on purpose
  env IDWEB_ENVIRONMENT=Development RUST_LOG=warn LEPTOS_SITE_ADDR=127.0.0.1:$app_port LEPTOS_SITE_ROOT=target/site \
    AzureAd__Instance="$emulator/" AzureAd__ClientSecret="$secret" Graph__BaseUrl="$emulator/v1.0" \
    Http__TrustedCaFiles__0="$ca" Hosting__PublicUrl="$app" Session__MaxSessions=100000 Hosting__SignInStartsPerMinute=0 "$@" \
    ${BENCH_WRAP:-} target/release/idweb >"$work/system.log" 2>&1 &
  pids+=($!)
  system_pid=$!
  wait_for "$app/readyz"
}

start_ceiling() {
  # Signs users in through its own flow (openidconnect-rs), like the other systems.
  # shellcheck disable=SC2086
  CEILING_ADDR=127.0.0.1:$app_port CEILING_ISSUER="$emulator/$tenant/v2.0" CEILING_CLIENT_ID=$client_id \
    CEILING_CLIENT_SECRET=$secret CEILING_REDIRECT_URI="$app/signin-oidc" CEILING_GRAPH="$emulator/v1.0" CEILING_CA_FILE=$ca \
    ${BENCH_WRAP:-} target/release/idweb-bench-ceiling >"$work/system.log" 2>&1 &
  pids+=($!)
  system_pid=$!
  wait_for_listening
}

wait_for_listening() { # the system answers anything on its port (BENCH_WAIT_TENTHS bounds the wait)
  for _ in $(seq "${BENCH_WAIT_TENTHS:-200}"); do curl -s -o /dev/null "$app/" && return; sleep 0.1; done
  echo "$app never answered" >&2; exit 1
}

# What every part of scripts/bench.sh needs first: the tools, the services,
# the release builds (scripts/release.sh; cargo skips what is up to date).
bench_prepare() {
  command -v wrk >/dev/null || { say "installing wrk"; apt-get update -qq; DEBIAN_FRONTEND=noninteractive apt-get install -y -qq wrk >/dev/null; }
  command -v taskset >/dev/null || { echo "taskset (util-linux) is needed to pin processes" >&2; exit 1; }
  [ "$(nproc)" -ge 2 ] || { echo "the benchmark pins the system and the load to different cores: 2 or more needed" >&2; exit 1; }
  scripts/services.sh >/dev/null
  scripts/release.sh >&2 # always: cargo skips what is built, and a stale binary would measure old code
  cargo build --release -q -p idweb-emulator -p idweb-bench-ceiling -p idweb-bench-sign-in >&2
  mkdir -p target/bench
}

# A private redis-server on core 1 (the peers' sessions, idweb's Redis runs), stopped on exit.
bench_start_redis() {
  (cd "$work" && taskset -c 1 redis-server --port "$redis_port" --bind 127.0.0.1 --save "" --appendonly no --daemonize yes --logfile redis.log)
}

# Whether BENCH_SYSTEMS (words: idweb, Express, Flask, ceiling) asks for SYSTEM; all when unset.
bench_wanted() { # system
  [ -n "${BENCH_SYSTEMS:-}" ] || return 0
  local word=${1%%,*}
  word=${word%% *}
  [[ " $BENCH_SYSTEMS " == *" $word "* ]]
}

# The system named as the tables name it, pinned to core 0.
start_named() { # system
  BENCH_WRAP=${BENCH_WRAP:-"taskset -c 0"}
  case "$1" in
    idweb) start_idweb ;;
    "idweb, Redis L2") start_idweb TokenCache__Store=Redis TokenCache__ConnectionString=redis://127.0.0.1:$redis_port/ \
        TokenCache__KeyPrefix="bench-$RANDOM:" TokenCache__EncryptionKeys__0__Id=bench \
        TokenCache__EncryptionKeys__0__Key="$(head -c 32 /dev/urandom | base64)" Session__Store=Redis ;;
    ceiling) start_ceiling ;;
    "Flask + identity") start_flask ;;
    "Express + msal-node") start_express ;;
    *) echo "no system named $1" >&2; exit 1 ;;
  esac
}

# Where a browser starts signing in to SYSTEM.
start_path_of() { # system
  case "$1" in
    "Flask + identity") echo /profile ;;
    "Express + msal-node") echo /auth/signin ;;
    ceiling) echo /auth/sign-in ;;
    *) echo "/auth/sign-in?returnUrl=/" ;;
  esac
}

tree() { # pid: it and its descendants (gunicorn's worker runs under its master)
  local pid=$1 child
  echo "$pid"
  for child in $(pgrep -P "$pid" || true); do tree "$child"; done
}

cpu_seconds() { # pid: user + system CPU of the process and its descendants, in seconds
  python3 - "$(getconf CLK_TCK)" $(tree "$1") <<'PY'
import sys
ticks, total = int(sys.argv[1]), 0
for pid in sys.argv[2:]:
    try:
        fields = open(f"/proc/{pid}/stat").read().rsplit(")", 1)[1].split()
    except FileNotFoundError:
        continue
    total += int(fields[11]) + int(fields[12])
print(total / ticks)
PY
}

rss_kb() { # pid: resident memory of the process and its descendants
  local pid total=0
  for pid in $(tree "$1"); do total=$(( total + $(awk '/^VmRSS:/ { print $2 }' "/proc/$pid/status" 2>/dev/null || echo 0) )); done
  echo "$total"
}

# One line on the machine and the tools, for the tables.
bench_machine_line() {
  echo "Machine: $(nproc) cores ($(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //')), $(awk '/MemTotal/ { printf "%.0f GiB", $2 / 1048576 }' /proc/meminfo); $(wrk --version 2>&1 | head -1 | cut -d' ' -f1,2); $(rustc --version | cut -d' ' -f1,2)."
}

stop_system() {
  kill "$system_pid" 2>/dev/null || true
  wait "$system_pid" 2>/dev/null || true
}
