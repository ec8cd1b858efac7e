#!/usr/bin/env bash
# Captures a screenshot of each page into docs/screenshots/, driving the
# built app and the emulator in Chromium like the end-to-end suite does.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh --with-browser
source scripts/e2e-env.sh
mkdir -p docs/screenshots
cd end2end
npx playwright test --config screenshots.config.ts
