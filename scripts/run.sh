#!/usr/bin/env bash
# Runs idweb against the local emulator: no tenant, no internet needed.
# Open http://127.0.0.1:3000 and sign in as one of the emulator's test users.
set -euo pipefail
cd "$(dirname "$0")/.."
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

cargo build -p idweb-emulator
IDWEB_EMULATOR_CLIENT_SECRET="$client_secret" IDWEB_EMULATOR_IDENTITY_HEADER="$identity_header" target/debug/idweb-emulator \
  --config crates/emulator/emulator.json --listen 127.0.0.1:5001 &
emulator_pid=$!
trap 'kill $emulator_pid 2>/dev/null || true' EXIT INT TERM

echo "idweb: http://127.0.0.1:3000  (emulator: http://127.0.0.1:5001)"
IDENTITY_ENDPOINT=http://127.0.0.1:5001/msi/token IDENTITY_HEADER="$identity_header" \
  IDWEB_ENVIRONMENT=Development AzureAd__ClientSecret="$client_secret" cargo leptos watch
