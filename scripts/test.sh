#!/usr/bin/env bash
# Runs every test: the workspace's Rust tests (against real Redis, a Redis
# Cluster and PostgreSQL for the shared stores), then the Playwright suite in
# Chromium against a freshly built app and emulator on free loopback ports,
# then two app instances sharing Redis (a single node, then the Cluster),
# then idweb against an independent certified provider (oidc-provider).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh --with-browser
scripts/services.sh

say() { printf '\033[1m[test]\033[0m %s\n' "$*"; }
logs=$(mktemp -d)
cluster_dir="$logs/redis-cluster"
trap 'scripts/redis-cluster.sh stop "$cluster_dir" >/dev/null 2>&1 || true; rm -rf "$logs"' EXIT

say "starting a 3-master Redis Cluster on free loopback ports"
IDWEB_TEST_REDIS_CLUSTER_URL=$(scripts/redis-cluster.sh start "$cluster_dir")
export IDWEB_TEST_REDIS_CLUSTER_URL

say "Rust tests (all crates)"
cargo test --workspace --features idweb/ssr,idweb/embedded-emulator 2>&1 | tee "$logs/cargo.log"

say "building the app (server + WASM) and the emulator"
source scripts/e2e-env.sh

say "end-to-end tests (app :$E2E_APP_PORT, emulator :$E2E_EMULATOR_PORT)"
cd end2end
PLAYWRIGHT_JSON_OUTPUT_NAME="$logs/playwright.json" npx playwright test --reporter=list,json

run=0
for redis_url in "redis://127.0.0.1:6379/" "$IDWEB_TEST_REDIS_CLUSTER_URL"; do
  run=$((run + 1))
  say "end-to-end on two instances sharing $redis_url"
  E2E_REDIS_URL="$redis_url" \
  E2E_REDIS_KEY_PREFIX="idweb-e2e-$$-$run:" \
  E2E_CACHE_KEY=$(head -c 32 /dev/urandom | base64) \
  PLAYWRIGHT_JSON_OUTPUT_NAME="$logs/playwright-multi-$run.json" \
    npx playwright test --config playwright.multi.config.ts --reporter=list,json
done

say "interoperability: idweb against oidc-provider (OpenID Certified) on :$E2E_OP_PORT"
PLAYWRIGHT_JSON_OUTPUT_NAME="$logs/playwright-interop.json" \
  npx playwright test --config playwright.interop.config.ts --reporter=list,json
cd ..
# The single Redis outlives the run: remove the token cache keys the two instances wrote.
redis-cli --scan --pattern "idweb-e2e-$$-*" | xargs -r redis-cli del >/dev/null

# One closing line for everything that ran (the suite stops earlier on any failure).
rust_passed=$(awk '/^test result:/ { sum += $4 } END { print sum + 0 }' "$logs/cargo.log")
e2e_passed=$(node -e '
  let passed = 0;
  for (const file of process.argv.slice(1)) { const s = require(file).stats; passed += s.expected + s.flaky; }
  console.log(passed);' "$logs"/playwright*.json)
say "rust: $rust_passed passed; end-to-end: $e2e_passed passed"
echo "$((rust_passed + e2e_passed)) passed, 0 failed"
