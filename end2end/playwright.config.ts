// Runs the end-to-end suite in Debian's Chromium against a freshly built app
// and emulator. scripts/test.sh picks free loopback ports and writes the
// emulator configuration; these defaults suit a manual run.
import { defineConfig } from "@playwright/test";

const appPort = process.env.E2E_APP_PORT ?? "3100";
const emulatorPort = process.env.E2E_EMULATOR_PORT ?? "5101";
const clientSecret = process.env.E2E_CLIENT_SECRET ?? "end2end-only-secret";
const root = `${__dirname}/..`;

export default defineConfig({
  testDir: "./tests",
  timeout: 60_000,
  expect: { timeout: 15_000 },
  fullyParallel: false,
  workers: 1,
  retries: 0,
  reporter: [["list"]],
  use: {
    baseURL: `http://127.0.0.1:${appPort}`,
    trace: "retain-on-failure",
    launchOptions: {
      executablePath: process.env.CHROMIUM_PATH ?? "/usr/bin/chromium",
      args: [
        "--no-sandbox",
        "--disable-gpu",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--no-first-run",
      ],
    },
  },
  webServer: [
    {
      // The app's port is only known now, so its redirect URIs are registered by flag.
      command: [
        `${root}/target/debug/idweb-emulator`,
        `--config ${root}/crates/emulator/emulator.json`,
        `--listen 127.0.0.1:${emulatorPort}`,
        `--redirect-uri http://127.0.0.1:${appPort}/signin-oidc`,
        `--post-logout-redirect-uri http://127.0.0.1:${appPort}/signout-callback-oidc`,
      ].join(" "),
      url: `http://127.0.0.1:${emulatorPort}/7d3a2f61-4a2e-4c49-9b56-2f1c8e4d9a10/v2.0/.well-known/openid-configuration`,
      env: { IDWEB_EMULATOR_CLIENT_SECRET: clientSecret, RUST_LOG: "info" },
      reuseExistingServer: false,
      stdout: "pipe",
      stderr: "pipe",
      timeout: 60_000,
    },
    {
      command: `${root}/target/debug/idweb`,
      cwd: root,
      url: `http://127.0.0.1:${appPort}/healthz`,
      env: {
        IDWEB_ENVIRONMENT: "Development",
        LEPTOS_SITE_ADDR: `127.0.0.1:${appPort}`,
        LEPTOS_SITE_ROOT: `${root}/target/site`,
        AzureAd__Instance: `http://127.0.0.1:${emulatorPort}/`,
        AzureAd__ClientSecret: clientSecret,
        Graph__BaseUrl: `http://127.0.0.1:${emulatorPort}/v1.0`,
        DownstreamApis__TodoList__BaseUrl: `http://127.0.0.1:${emulatorPort}/api`,
        Hosting__PublicUrl: `http://127.0.0.1:${appPort}`,
        RUST_LOG: "info",
      },
      reuseExistingServer: false,
      stdout: "pipe",
      stderr: "pipe",
      timeout: 60_000,
    },
  ],
});
