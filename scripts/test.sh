#!/usr/bin/env bash
# Runs every test: the workspace's Rust tests (against real Redis, a Redis
# Cluster and PostgreSQL for the shared stores), then the Playwright suite in
# Chromium against a freshly built app and emulator on free loopback ports,
# then two app instances sharing Redis (a single node, then the Cluster),
# then idweb against an independent certified provider (oidc-provider).
set -euo pipefail
cd "$(dirname "$0")/.."

say() { printf '\033[1m[test]\033[0m %s\n' "$*"; }
logs=$(mktemp -d)
cluster_dir="$logs/redis-cluster"
tools_pid=""
trap '[ -n "$tools_pid" ] && kill "$tools_pid" 2>/dev/null; scripts/redis-cluster.sh stop "$cluster_dir" >/dev/null 2>&1 || true; rm -rf "$logs"' EXIT

# Each phase's duration, printed at the end: where a cold run spends its time.
phases=()
phase_name=""
phase_start=$SECONDS
phase() {
  [ -n "$phase_name" ] && phases+=("$(printf '%6ss  %s' "$((SECONDS - phase_start))" "$phase_name")")
  phase_name=$1
  phase_start=$SECONDS
  [ -n "$phase_name" ] && say "$phase_name"
  return 0
}

phase "set-up: services, browser and test packages"
scripts/setup.sh --with-browser --no-tools
scripts/services.sh
# The build tools (cargo-leptos, the wasm-bindgen CLI: minutes to build on a
# fresh machine) are needed from the end-to-end build on; they install
# beside the Rust tests, which fill the cores less than fully.
scripts/setup.sh --tools-only >"$logs/tools.log" 2>&1 &
tools_pid=$!

phase "starting a 3-master Redis Cluster on free loopback ports"
IDWEB_TEST_REDIS_CLUSTER_URL=$(scripts/redis-cluster.sh start "$cluster_dir")
export IDWEB_TEST_REDIS_CLUSTER_URL

phase "Rust tests (all crates; the build tools install beside them)"
cargo test --workspace --features idweb/ssr,idweb/embedded-emulator 2>&1 | tee "$logs/cargo.log"

phase "API documentation (cargo doc, warnings are errors)"
RUSTDOCFLAGS="-D warnings" cargo doc --no-deps --workspace --quiet \
  --features idweb/ssr,idweb/embedded-emulator,idweb-stores/redis,idweb-stores/postgres

phase "packaging the library crates (each builds from its packaged form)"
# Cargo verifies each crate against the others' packages in a registry under
# target/package and keeps what it extracted from it, by that registry's path,
# in its own cache: a clone at the same path would be verified against an
# earlier run's copies of the same version, and builds them once per target
# directory (registry crates never change). Ours are never from crates.io.
rm -rf target/package "${CARGO_HOME:-$HOME/.cargo}"/registry/src/*/idweb-{routes,stores,identity,emulator}-[0-9]* \
  "${CARGO_HOME:-$HOME/.cargo}"/registry/cache/*/idweb-{routes,stores,identity,emulator}-[0-9]*
if ! cargo package --allow-dirty -p idweb-routes -p idweb-stores -p idweb-identity -p idweb-emulator >"$logs/package.log" 2>&1; then
  cat "$logs/package.log" >&2
  say "packaging failed"
  exit 1
fi
grep -E "^ *(Packaged|Verifying)" "$logs/package.log" || true

phase "waiting for the build tools"
if ! wait "$tools_pid"; then
  tools_pid=""
  cat "$logs/tools.log" >&2
  say "installing the build tools failed"
  exit 1
fi
tools_pid=""
grep -F "[setup]" "$logs/tools.log" || true
phase "building the app (server + WASM) and the emulator"
source scripts/e2e-env.sh

phase "end-to-end tests (app :$E2E_APP_PORT, emulator :$E2E_EMULATOR_PORT)"
cd end2end
PLAYWRIGHT_JSON_OUTPUT_NAME="$logs/playwright.json" npx playwright test --reporter=list,json

run=0
for redis_url in "redis://127.0.0.1:6379/" "$IDWEB_TEST_REDIS_CLUSTER_URL"; do
  run=$((run + 1))
  phase "end-to-end on two instances sharing $redis_url"
  E2E_REDIS_URL="$redis_url" \
  E2E_REDIS_KEY_PREFIX="idweb-e2e-$$-$run:" \
  E2E_CACHE_KEY=$(head -c 32 /dev/urandom | base64) \
  PLAYWRIGHT_JSON_OUTPUT_NAME="$logs/playwright-multi-$run.json" \
    npx playwright test --config playwright.multi.config.ts --reporter=list,json
done

phase "interoperability: idweb against oidc-provider (OpenID Certified) on :$E2E_OP_PORT"
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
phase ""
say "time per phase (total $((SECONDS / 60)) min $((SECONDS % 60)) s):"
printf '%s\n' "${phases[@]}"
say "rust: $rust_passed passed; end-to-end: $e2e_passed passed"
echo "$((rust_passed + e2e_passed)) passed, 0 failed"
