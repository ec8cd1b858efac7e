// Runs the end-to-end suite in Debian's Chromium against a freshly built app
// and emulator. scripts/test.sh picks free loopback ports and writes the
// emulator configuration; these defaults suit a manual run.
import { defineConfig } from "@playwright/test";

import { appServer, emulatorServer } from "./servers";

const appPort = process.env.E2E_APP_PORT ?? "3100";
const emulatorPort = process.env.E2E_EMULATOR_PORT ?? "5101";
const clientSecret = process.env.E2E_CLIENT_SECRET ?? "end2end-only-secret";
// An instance configured with only what signing in needs: no DownstreamApis, so no To-do page.
const bareAppPort = process.env.E2E_BARE_APP_PORT ?? "3102";

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
    emulatorServer(emulatorPort, appPort, clientSecret),
    appServer({ appPort, emulatorPort, clientSecret }),
    appServer({
      appPort: bareAppPort,
      emulatorPort,
      clientSecret,
      settings: {
        // No appsettings.Bare.json: appsettings.json and these are all it reads.
        IDWEB_ENVIRONMENT: "Bare",
        AzureAd__TenantId: "7d3a2f61-4a2e-4c49-9b56-2f1c8e4d9a10",
        AzureAd__ClientId: "5f4b6c2e-8d1a-4e3b-9c7f-1a2b3c4d5e6f",
        Session__SecureCookie: "false",
        DownstreamApis__TodoList__BaseUrl: undefined,
      },
    }),
  ],
});
