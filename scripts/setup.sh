#!/usr/bin/env bash
# Installs what building and testing idweb needs, skipping what is already there.
# Usage: scripts/setup.sh [--with-browser] [--with-wasm-opt] [--tools-only | --no-tools]
#   --with-browser  also installs Chromium and the end-to-end test packages
#   --with-wasm-opt also installs wasm-opt (npm binaryen) in .idweb/tools, for release builds
#   --tools-only    only the build tools (wasm32 target, cargo-leptos, wasm-bindgen CLI)
#   --no-tools      everything but the build tools (scripts/test.sh installs those
#                   beside the Rust tests, which do not need them)
set -euo pipefail
cd "$(dirname "$0")/.."

CARGO_LEPTOS_VERSION="0.3.10"   # 0.3.11 needs a newer rustc than this machine's stable
BINARYEN_VERSION="132"          # Debian's binaryen is too old for current rustc output
with_browser=false
with_wasm_opt=false
tools=true
others=true
for option in "$@"; do
  case "$option" in
    --with-browser) with_browser=true ;;
    --with-wasm-opt) with_wasm_opt=true ;;
    --tools-only) others=false ;;
    --no-tools) tools=false ;;
    *) echo "unknown option $option" >&2; exit 2 ;;
  esac
done

say() { printf '\033[1m[setup]\033[0m %s\n' "$*"; }

install_tools() {
  if ! rustup target list --installed | grep -qx wasm32-unknown-unknown; then
    say "adding the wasm32-unknown-unknown target"
    rustup target add wasm32-unknown-unknown
  fi

  # Both tools only drive the build (cargo-leptos runs cargo; wasm-bindgen rewrites
  # one bundle): built without optimisation or debug info they install in about
  # half the time (cargo-leptos 21 -> ~10 minutes, wasm-bindgen 3 -> ~1 minute on
  # 2 cores) and cost a build a few seconds (docs/BENCHMARKS.md, tool installs).
  tool_install() {
    CARGO_PROFILE_DEV_DEBUG=0 cargo install --debug "$@"
  }

  if ! cargo leptos --version 2>/dev/null | grep -q "$CARGO_LEPTOS_VERSION"; then
    say "installing cargo-leptos $CARGO_LEPTOS_VERSION (about 10 minutes on 2 cores, once)"
    tool_install --locked cargo-leptos --version "$CARGO_LEPTOS_VERSION"
  fi

  # The CLI must be exactly the wasm-bindgen version in Cargo.lock.
  wasm_bindgen_version=$(awk '/^name = "wasm-bindgen"$/ { getline; gsub(/version = |"/, ""); print; exit }' Cargo.lock)
  if ! wasm-bindgen --version 2>/dev/null | grep -q " $wasm_bindgen_version\$"; then
    say "installing wasm-bindgen-cli $wasm_bindgen_version"
    # --locked fails: one of its locked dependencies is no longer on the registry.
    tool_install --force wasm-bindgen-cli --version "$wasm_bindgen_version"
  fi
}

if [ "$tools" = true ]; then
  install_tools
fi
if [ "$others" = false ]; then
  say "build tools ready"
  exit 0
fi

if [ "$with_browser" = true ]; then
  if [ ! -x /usr/bin/chromium ]; then
    say "installing Chromium from Debian"
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium
  fi
  # Installed again whenever package-lock.json changed since (a package added, a version moved).
  lock_hash=$(sha256sum end2end/package-lock.json | cut -d' ' -f1)
  if [ "$(cat end2end/node_modules/.idweb-lock-hash 2>/dev/null)" != "$lock_hash" ]; then
    say "installing the end-to-end test packages"
    (cd end2end && npm ci --no-audit --no-fund)
    echo "$lock_hash" > end2end/node_modules/.idweb-lock-hash
  fi
  if [ ! -d end2end/oidc-provider/node_modules/oidc-provider ]; then
    say "installing oidc-provider for the interoperability test"
    (cd end2end/oidc-provider && npm ci --no-audit --no-fund)
  fi
fi
if [ "$with_wasm_opt" = true ] && [ ! -x .idweb/tools/node_modules/.bin/wasm-opt ]; then
  say "installing wasm-opt (npm binaryen $BINARYEN_VERSION) in .idweb/tools"
  mkdir -p .idweb/tools
  npm install --prefix .idweb/tools --no-audit --no-fund --no-save "binaryen@$BINARYEN_VERSION" >/dev/null
fi
say "ready"
