# Sourced by scripts that drive the built app in Chromium: builds the app
# and the emulator, then exports free loopback ports and a fresh client
# secret for end2end/playwright.config.ts (and the multi and interop configs).

cargo leptos build
cargo build -p idweb-emulator

# Free ports, chosen by the kernel, so parallel runs and a running dev server do not collide.
read -r E2E_APP_PORT E2E_EMULATOR_PORT E2E_MULTI_APP_A_PORT E2E_MULTI_APP_B_PORT E2E_MULTI_EMULATOR_PORT E2E_OP_PORT E2E_INTEROP_APP_PORT E2E_BARE_APP_PORT < <(python3 - <<'PY'
import socket
sockets = [socket.socket() for _ in range(8)]
for s in sockets:
    s.bind(("127.0.0.1", 0))
print(*[s.getsockname()[1] for s in sockets])
for s in sockets:
    s.close()
PY
)
E2E_CLIENT_SECRET=$(head -c 32 /dev/urandom | base64 | tr -d '/+=\n')
export E2E_APP_PORT E2E_EMULATOR_PORT E2E_MULTI_APP_A_PORT E2E_MULTI_APP_B_PORT E2E_MULTI_EMULATOR_PORT E2E_OP_PORT E2E_INTEROP_APP_PORT E2E_BARE_APP_PORT E2E_CLIENT_SECRET
