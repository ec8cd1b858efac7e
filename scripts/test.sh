#!/usr/bin/env bash
# Runs every test: the workspace's Rust tests, then the Playwright suite in
# Chromium against a freshly built app and emulator on free loopback ports.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh --with-browser
scripts/services.sh

say() { printf '\033[1m[test]\033[0m %s\n' "$*"; }
logs=$(mktemp -d)
trap 'rm -rf "$logs"' EXIT

say "Rust tests (all crates)"
cargo test --workspace --features idweb/ssr 2>&1 | tee "$logs/cargo.log"

say "building the app (server + WASM) and the emulator"
source scripts/e2e-env.sh

say "end-to-end tests (app :$E2E_APP_PORT, emulator :$E2E_EMULATOR_PORT)"
cd end2end
PLAYWRIGHT_JSON_OUTPUT_NAME="$logs/playwright.json" npx playwright test --reporter=list,json
cd ..

# One closing line for everything that ran (the suite stops earlier on any failure).
rust_passed=$(awk '/^test result:/ { sum += $4 } END { print sum + 0 }' "$logs/cargo.log")
e2e_passed=$(node -e 'const s = require(process.argv[1]).stats; console.log(s.expected + s.flaky)' "$logs/playwright.json")
say "rust: $rust_passed passed; end-to-end: $e2e_passed passed"
echo "$((rust_passed + e2e_passed)) passed, 0 failed"
