#!/usr/bin/env bash
# Runs idweb against the emulator: no tenant, no internet needed. Open the
# printed address and sign in as one of the emulator's test users.
# Usage: scripts/run.sh [--port N] [--emulator-port N] [--https]
#   --port N           the app's port (default 3000; live reload uses N+1)
#   --emulator-port N  the emulator's port (default 5001)
#   --https            the emulator runs as its own process and serves HTTPS
#                      with a local CA (.idweb/emulator-ca.pem), which the app
#                      trusts through Http:TrustedCaFiles; a browser warns
#                      about the emulator's pages unless that CA is imported
# Without --https this is `cargo leptos watch` with the emulator inside the app
# (src/server/embedded_emulator.rs): edit the code and the page reloads.
set -euo pipefail
cd "$(dirname "$0")/.."
port=3000
emulator_port=5001
https=false
number() { [[ "$2" =~ ^[0-9]+$ ]] && [ "$2" -ge 1 ] && [ "$2" -le 65534 ] || { echo "$1 expects a port number, got '${2:-}'" >&2; exit 2; }; }
while [ $# -gt 0 ]; do
  case "$1" in
    --port) number "$1" "${2:-}"; port=$2; shift 2 ;;
    --emulator-port) number "$1" "${2:-}"; emulator_port=$2; shift 2 ;;
    --https) https=true; shift ;;
    *) echo "unknown option $1 (expected --port N, --emulator-port N or --https)" >&2; exit 2 ;;
  esac
done
reload_port=$((port + 1))

# A busy port stops the run here, named, rather than in the middle of a build.
for pair in "app:$port" "live reload:$reload_port" "emulator:$emulator_port"; do
  if (exec 3<>"/dev/tcp/127.0.0.1/${pair##*:}") 2>/dev/null; then
    echo "port ${pair##*:} (${pair%:*}) is already in use on 127.0.0.1: stop what listens there, or choose another with --port / --emulator-port" >&2
    exit 1
  fi
done

scripts/setup.sh

export LEPTOS_SITE_ADDR="127.0.0.1:$port" LEPTOS_RELOAD_PORT="$reload_port"
export Hosting__PublicUrl="http://127.0.0.1:$port"

if [ "$https" = false ]; then
  echo "idweb: http://127.0.0.1:$port  (emulator inside the app: http://127.0.0.1:$emulator_port)"
  Emulator__Listen="127.0.0.1:$emulator_port" exec cargo leptos watch
fi

# --https: the emulator as its own process. It and the app share a client
# secret generated on first run and kept out of the repository (.idweb/ is
# ignored by git); the emulator is the app's managed identity endpoint, like
# an App Service host.
mkdir -p .idweb
if [ ! -s .idweb/dev-client-secret ]; then
  (umask 077; head -c 32 /dev/urandom | base64 | tr -d '/+=\n' > .idweb/dev-client-secret)
fi
client_secret=$(cat .idweb/dev-client-secret)
if [ ! -s .idweb/dev-identity-header ]; then
  (umask 077; head -c 24 /dev/urandom | base64 | tr -d '/+=\n' > .idweb/dev-identity-header)
fi
identity_header=$(cat .idweb/dev-identity-header)
emulator_url="https://127.0.0.1:$emulator_port"
# An environment named by hand keeps the emulator out of the app; these settings point at this one.
export IDWEB_ENVIRONMENT=Development AzureAd__ClientSecret="$client_secret" \
  AzureAd__Instance="$emulator_url/" Graph__BaseUrl="$emulator_url/v1.0" \
  DownstreamApis__TodoList__BaseUrl="$emulator_url/api" Http__TrustedCaFiles__0="$PWD/.idweb/emulator-ca.pem" \
  IDENTITY_ENDPOINT="$emulator_url/msi/token" IDENTITY_HEADER="$identity_header"

cargo build -p idweb-emulator
IDWEB_EMULATOR_CLIENT_SECRET="$client_secret" IDWEB_EMULATOR_IDENTITY_HEADER="$identity_header" target/debug/idweb-emulator \
  --config crates/emulator/emulator.json --listen "127.0.0.1:$emulator_port" --tls-ca-file .idweb/emulator-ca.pem \
  --redirect-uri "http://127.0.0.1:$port/signin-oidc" --post-logout-redirect-uri "http://127.0.0.1:$port/signout-callback-oidc" &
emulator_pid=$!
trap 'kill $emulator_pid 2>/dev/null || true' EXIT INT TERM

echo "idweb: http://127.0.0.1:$port  (emulator: $emulator_url)"
cargo leptos watch
