// The processes an end-to-end run starts: the emulator and app instances
// built by scripts/e2e-env.sh, on the loopback ports scripts/test.sh picked.

const root = `${__dirname}/..`;

/** The emulator, with the redirect URIs of the app at `appPort` registered. */
export function emulatorServer(emulatorPort: string, appPort: string, clientSecret: string) {
  return {
    // The app's port is only known now, so its redirect URIs are registered by flag.
    command: [
      `${root}/target/debug/idweb-emulator`,
      `--config ${root}/crates/emulator/emulator.json`,
      `--listen 127.0.0.1:${emulatorPort}`,
      `--redirect-uri http://127.0.0.1:${appPort}/signin-oidc`,
      `--post-logout-redirect-uri http://127.0.0.1:${appPort}/signout-callback-oidc`,
      `--front-channel-logout-uri http://127.0.0.1:${appPort}/signout-oidc`,
      `--backchannel-logout-uri http://127.0.0.1:${appPort}/backchannel-logout`,
    ].join(" "),
    url: `http://127.0.0.1:${emulatorPort}/7d3a2f61-4a2e-4c49-9b56-2f1c8e4d9a10/v2.0/.well-known/openid-configuration`,
    env: { IDWEB_EMULATOR_CLIENT_SECRET: clientSecret, RUST_LOG: "info" },
    reuseExistingServer: false,
    stdout: "pipe" as const,
    stderr: "pipe" as const,
    timeout: 60_000,
  };
}

/**
 * An app instance on `appPort` against the emulator. `publicPort` is the
 * origin its redirect URIs are built from (the registered one); `settings`
 * adds or overrides settings; it is up when `readyPath` answers.
 */
export function appServer(options: {
  appPort: string;
  emulatorPort: string;
  clientSecret: string;
  publicPort?: string;
  readyPath?: string;
  settings?: Record<string, string | undefined>;
}) {
  const { appPort, emulatorPort, clientSecret } = options;
  const env: Record<string, string | undefined> = {
    IDWEB_ENVIRONMENT: "Development",
    LEPTOS_SITE_ADDR: `127.0.0.1:${appPort}`,
    LEPTOS_SITE_ROOT: `${root}/target/site`,
    AzureAd__Instance: `http://127.0.0.1:${emulatorPort}/`,
    AzureAd__ClientSecret: clientSecret,
    Graph__BaseUrl: `http://127.0.0.1:${emulatorPort}/v1.0`,
    DownstreamApis__TodoList__BaseUrl: `http://127.0.0.1:${emulatorPort}/api`,
    Hosting__PublicUrl: `http://127.0.0.1:${options.publicPort ?? appPort}`,
    // Every test signs in from 127.0.0.1, several a minute; the limit itself is tested in Rust (SES-04).
    Hosting__SignInStartsPerMinute: "600",
    RUST_LOG: "info",
    ...options.settings,
  };
  return {
    command: `${root}/target/debug/idweb`,
    cwd: root,
    url: `http://127.0.0.1:${appPort}${options.readyPath ?? "/healthz"}`,
    // A setting given as undefined is left out altogether (its section stays unconfigured).
    env: Object.fromEntries(Object.entries(env).filter((entry): entry is [string, string] => entry[1] !== undefined)),
    reuseExistingServer: false,
    stdout: "pipe" as const,
    stderr: "pipe" as const,
    timeout: 60_000,
  };
}
