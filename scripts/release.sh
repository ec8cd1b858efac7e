#!/usr/bin/env bash
# Builds what to ship: the server binary target/release/idweb and the site
# in target/site (optimised WASM, CSS and assets, with .br/.gz copies that
# the server sends to browsers that accept them). Installs what the build
# needs the first time (the tools of scripts/setup.sh, and wasm-opt from the
# npm package binaryen, which cargo-leptos runs on every release build).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh --with-wasm-opt
export PATH="$PWD/.idweb/tools/node_modules/.bin:$PATH"

cargo leptos build --release --precompress

wasm=$(ls target/site/pkg/*.wasm)
printf 'built:\n  %s (server)\n  target/site (site; WASM %s bytes, brotli %s bytes)\n' \
  target/release/idweb "$(stat -c %s "$wasm")" "$(stat -c %s "$wasm.br" 2>/dev/null || echo '?')"
