#!/usr/bin/env bash
# Runs idweb against the local emulator: no tenant, no internet needed.
# Open http://127.0.0.1:3000 and sign in as one of the emulator's test users.
# Usage: scripts/run.sh [--https]
#   --https  the emulator serves HTTPS with a local CA (.idweb/emulator-ca.pem),
#            which the app trusts through Http:TrustedCaFiles; a browser warns
#            about the emulator's pages unless that CA is imported into it
set -euo pipefail
cd "$(dirname "$0")/.."
https=false
for option in "$@"; do
  case "$option" in
    --https) https=true ;;
    *) echo "unknown option $option (expected --https)" >&2; exit 2 ;;
  esac
done
scripts/setup.sh

# The emulator and the app share a client secret generated on first run and kept
# out of the repository (.idweb/ is ignored by git).
mkdir -p .idweb
if [ ! -s .idweb/dev-client-secret ]; then
  (umask 077; head -c 32 /dev/urandom | base64 | tr -d '/+=\n' > .idweb/dev-client-secret)
fi
client_secret=$(cat .idweb/dev-client-secret)
# Like an App Service host, the emulator gives the app a managed identity
# endpoint and the header it expects (for KeyVault and SignedAssertionFromManagedIdentity).
if [ ! -s .idweb/dev-identity-header ]; then
  (umask 077; head -c 24 /dev/urandom | base64 | tr -d '/+=\n' > .idweb/dev-identity-header)
fi
identity_header=$(cat .idweb/dev-identity-header)

emulator_url=http://127.0.0.1:5001
emulator_tls=()
if [ "$https" = true ]; then
  emulator_url=https://127.0.0.1:5001
  emulator_tls=(--tls-ca-file .idweb/emulator-ca.pem)
  # The Development settings name the emulator's http URLs; these override them.
  export AzureAd__Instance="$emulator_url/" Graph__BaseUrl="$emulator_url/v1.0" \
    DownstreamApis__TodoList__BaseUrl="$emulator_url/api" Http__TrustedCaFiles__0="$PWD/.idweb/emulator-ca.pem"
fi

cargo build -p idweb-emulator
IDWEB_EMULATOR_CLIENT_SECRET="$client_secret" IDWEB_EMULATOR_IDENTITY_HEADER="$identity_header" target/debug/idweb-emulator \
  --config crates/emulator/emulator.json --listen 127.0.0.1:5001 ${emulator_tls[@]+"${emulator_tls[@]}"} &
emulator_pid=$!
trap 'kill $emulator_pid 2>/dev/null || true' EXIT INT TERM

echo "idweb: http://127.0.0.1:3000  (emulator: $emulator_url)"
IDENTITY_ENDPOINT="$emulator_url/msi/token" IDENTITY_HEADER="$identity_header" \
  IDWEB_ENVIRONMENT=Development AzureAd__ClientSecret="$client_secret" cargo leptos watch
