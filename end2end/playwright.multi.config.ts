// Two instances of the app behind no load balancer at all (so nothing can
// be sticky): both share Redis for sessions and tokens, and one emulator.
// scripts/test.sh picks the ports, a Redis (single node, then a Cluster),
// a key prefix and an encryption key, and runs this config once per Redis.
import { defineConfig } from "@playwright/test";

import base from "./playwright.config";

const emulatorPort = process.env.E2E_MULTI_EMULATOR_PORT ?? "5201";
const appPorts = [process.env.E2E_MULTI_APP_A_PORT ?? "3201", process.env.E2E_MULTI_APP_B_PORT ?? "3202"];
const clientSecret = process.env.E2E_CLIENT_SECRET ?? "end2end-only-secret";
const redisUrl = process.env.E2E_REDIS_URL ?? "redis://127.0.0.1:6379/";
const keyPrefix = process.env.E2E_REDIS_KEY_PREFIX ?? "idweb-e2e:";
const cacheKey = process.env.E2E_CACHE_KEY ?? "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=";
const root = `${__dirname}/..`;

function app(port: string) {
  return {
    command: `${root}/target/debug/idweb`,
    cwd: root,
    url: `http://127.0.0.1:${port}/readyz`,
    env: {
      IDWEB_ENVIRONMENT: "Development",
      LEPTOS_SITE_ADDR: `127.0.0.1:${port}`,
      LEPTOS_SITE_ROOT: `${root}/target/site`,
      AzureAd__Instance: `http://127.0.0.1:${emulatorPort}/`,
      AzureAd__ClientSecret: clientSecret,
      Graph__BaseUrl: `http://127.0.0.1:${emulatorPort}/v1.0`,
      DownstreamApis__TodoList__BaseUrl: `http://127.0.0.1:${emulatorPort}/api`,
      // Every instance builds redirect URIs from the first one's origin: it is the one registered.
      Hosting__PublicUrl: `http://127.0.0.1:${appPorts[0]}`,
      TokenCache__Store: "Redis",
      TokenCache__ConnectionString: redisUrl,
      TokenCache__KeyPrefix: keyPrefix,
      TokenCache__EncryptionKeys__0__Id: "e2e",
      TokenCache__EncryptionKeys__0__Key: cacheKey,
      // Access tokens are fresh for 20 s of their hour, so the test can watch renewals.
      TokenCache__RefreshMarginSeconds: "3580",
      Session__Store: "Redis",
      RUST_LOG: "info",
    },
    reuseExistingServer: false,
    stdout: "pipe" as const,
    stderr: "pipe" as const,
    timeout: 60_000,
  };
}

export default defineConfig({
  ...base,
  testDir: "./tests-multi",
  timeout: 120_000,
  use: { ...base.use, baseURL: `http://127.0.0.1:${appPorts[0]}` },
  webServer: [
    {
      command: [
        `${root}/target/debug/idweb-emulator`,
        `--config ${root}/crates/emulator/emulator.json`,
        `--listen 127.0.0.1:${emulatorPort}`,
        `--redirect-uri http://127.0.0.1:${appPorts[0]}/signin-oidc`,
        `--post-logout-redirect-uri http://127.0.0.1:${appPorts[0]}/signout-callback-oidc`,
      ].join(" "),
      url: `http://127.0.0.1:${emulatorPort}/7d3a2f61-4a2e-4c49-9b56-2f1c8e4d9a10/v2.0/.well-known/openid-configuration`,
      env: { IDWEB_EMULATOR_CLIENT_SECRET: clientSecret, RUST_LOG: "info" },
      reuseExistingServer: false,
      stdout: "pipe",
      stderr: "pipe",
      timeout: 60_000,
    },
    app(appPorts[0]),
    app(appPorts[1]),
  ],
});
