// idweb against an independent, OpenID Certified provider (panva's
// oidc-provider, in end2end/oidc-provider) in the generic provider profile:
// no emulator, no Microsoft claims. scripts/test.sh picks the ports.
import { defineConfig } from "@playwright/test";

import base from "./playwright.config";
import { appServer } from "./servers";

const opPort = process.env.E2E_OP_PORT ?? "5301";
const appPort = process.env.E2E_INTEROP_APP_PORT ?? "3301";
const clientSecret = process.env.E2E_CLIENT_SECRET ?? "interop-only-secret";
const clientId = "idweb-interop";

export default defineConfig({
  ...base,
  testDir: "./tests-interop",
  use: { ...base.use, baseURL: `http://127.0.0.1:${appPort}` },
  webServer: [
    {
      command: "node server.mjs",
      cwd: `${__dirname}/oidc-provider`,
      url: `http://127.0.0.1:${opPort}/.well-known/openid-configuration`,
      env: { OP_PORT: opPort, APP_ORIGIN: `http://127.0.0.1:${appPort}`, OP_CLIENT_ID: clientId, OP_CLIENT_SECRET: clientSecret },
      reuseExistingServer: false,
      stdout: "pipe" as const,
      stderr: "pipe" as const,
      timeout: 30_000,
    },
    appServer({
      appPort,
      // No emulator in this run: Graph's address is never called in the generic profile.
      emulatorPort: opPort,
      clientSecret,
      settings: {
        AzureAd__ProviderProfile: "Generic",
        AzureAd__Authority: `http://127.0.0.1:${opPort}`,
        AzureAd__ClientId: clientId,
      },
    }),
  ],
});
