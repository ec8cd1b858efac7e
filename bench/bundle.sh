#!/usr/bin/env bash
# The browser bundle as served (scripts/bench.sh bundle): the release
# build's files in target/site/pkg (scripts/release.sh: wasm-opt -Oz and
# precompressed copies), raw, gzip and brotli bytes.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/release.sh >&2 # always: a stale bundle would measure old code
echo "| file | raw bytes | gzip | brotli |"
echo "| --- | ---: | ---: | ---: |"
for file in target/site/pkg/*.wasm target/site/pkg/*.js target/site/pkg/*.css; do
  [ -f "$file" ] || continue
  size() { [ -f "$1" ] && stat -c %s "$1" || echo "?"; }
  echo "| $(basename "$file") | $(size "$file") | $(size "$file.gz") | $(size "$file.br") |"
done
