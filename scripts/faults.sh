#!/usr/bin/env bash
# The fault harness (docs/RELIABILITY.md): per scenario, an emulator, a
# private Redis (or a PostgreSQL schema of its own) and two idweb instances
# on free loopback ports, people signed in through the real flow and reading
# their Profile page through a simulated load balancer while one fault is
# injected: Redis killed and restarted empty, PostgreSQL connections
# terminated, SIGTERM to one instance, the token endpoint failing or slow
# with renewals due, Graph refusing cached tokens, an anonymous sign-in
# flood. Prints the Markdown table docs/RELIABILITY.md keeps.
#
#   scripts/faults.sh [--users N] [--profile debug|release] [--only SCENARIO]...
#
# Loopback only; each scenario is bounded (well under a minute; about 4
# minutes in all). Not part of the test command: it wants quiet cores. The
# behaviours it shows are asserted by tests that are (FLT-03, FLT-04,
# FLT-05, the shutdown tests).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/services.sh >/dev/null
profile=debug
for arg in "$@"; do [ "$arg" = release ] && profile=release; done
if [ "$profile" = release ]; then
  [ -x target/release/idweb ] && [ -d target/site/pkg ] || scripts/release.sh >&2
  cargo build --release -q -p idweb-emulator >&2
else
  scripts/setup.sh >&2
  cargo leptos build >&2
  cargo build -q -p idweb-emulator >&2
fi
exec python3 bench/faults.py "$@"
