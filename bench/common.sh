# Shared by scripts/bench.sh (load), bench/instructions.sh (callgrind) and
# bench/scale-out/run.sh (its temporary directory, cleanup, ports and secret):
# free loopback ports, the emulator over HTTPS with generated users, and
# starting idweb or the ceiling. Sourced, not run; expects `set -euo pipefail`
# and the repository root as working directory.
#
# After `bench_start_emulator USERS`: $emulator, $app, $ca, $secret, $tenant,
# $client_id, $work (a temporary directory removed on exit), $work/users (the
# users' object ids, one a line). `start_idweb` and `start_ceiling` set
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
  local token
  token=$(python3 bench/sign_in.py token "$emulator" "$tenant" "$client_id" "$secret" "$app/signin-oidc" \
    "$(head -1 "$work/users")" "$ca")
  # shellcheck disable=SC2086
  CEILING_ADDR=127.0.0.1:$app_port CEILING_GRAPH="$emulator/v1.0" CEILING_TOKEN=$token CEILING_CA_FILE=$ca \
    ${BENCH_WRAP:-} target/release/idweb-bench-ceiling >"$work/system.log" 2>&1 &
  pids+=($!)
  system_pid=$!
  wait_for "$app/profile"
}

stop_system() {
  kill "$system_pid" 2>/dev/null || true
  wait "$system_pid" 2>/dev/null || true
}
