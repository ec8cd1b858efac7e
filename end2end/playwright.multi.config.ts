// Two instances of the app behind no load balancer at all (so nothing can
// be sticky): both share Redis for sessions and tokens, and one emulator.
// scripts/test.sh picks the ports, a Redis (single node, then a Cluster),
// a key prefix and an encryption key, and runs this config once per Redis.
import { defineConfig } from "@playwright/test";

import base from "./playwright.config";
import { appServer, emulatorServer } from "./servers";

const emulatorPort = process.env.E2E_MULTI_EMULATOR_PORT ?? "5201";
const appPorts = [process.env.E2E_MULTI_APP_A_PORT ?? "3201", process.env.E2E_MULTI_APP_B_PORT ?? "3202"];
const clientSecret = process.env.E2E_CLIENT_SECRET ?? "end2end-only-secret";
const redisUrl = process.env.E2E_REDIS_URL ?? "redis://127.0.0.1:6379/";
const keyPrefix = process.env.E2E_REDIS_KEY_PREFIX ?? "idweb-e2e:";
const cacheKey = process.env.E2E_CACHE_KEY ?? "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=";

// Every instance builds redirect URIs from the first one's origin: it is the one registered.
const shared = {
  emulatorPort,
  clientSecret,
  publicPort: appPorts[0],
  readyPath: "/readyz",
  settings: {
    TokenCache__Store: "Redis",
    TokenCache__ConnectionString: redisUrl,
    TokenCache__KeyPrefix: keyPrefix,
    TokenCache__EncryptionKeys__0__Id: "e2e",
    TokenCache__EncryptionKeys__0__Key: cacheKey,
    // Access tokens are fresh for 20 s of their hour, so the test can watch renewals.
    TokenCache__RefreshMarginSeconds: "3580",
    Session__Store: "Redis",
  },
};

export default defineConfig({
  ...base,
  testDir: "./tests-multi",
  timeout: 120_000,
  use: { ...base.use, baseURL: `http://127.0.0.1:${appPorts[0]}` },
  webServer: [
    emulatorServer(emulatorPort, appPorts[0], clientSecret),
    appServer({ appPort: appPorts[0], ...shared }),
    appServer({ appPort: appPorts[1], ...shared }),
  ],
});
