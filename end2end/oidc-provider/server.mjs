// An independent, OpenID Certified provider for idweb's interoperability
// test: one confidential client (idweb), PKCE required, RS256 ID tokens,
// RP-initiated and back-channel logout on, and the library's development
// sign-in pages (any login name signs in as that account).
//
// Environment: OP_PORT (listen on 127.0.0.1), APP_ORIGIN (idweb's origin),
// OP_CLIENT_ID and OP_CLIENT_SECRET (the client registration).
import { generateKeyPairSync } from "node:crypto";

import Provider from "oidc-provider";

const port = Number(process.env.OP_PORT ?? "5301");
const appOrigin = process.env.APP_ORIGIN ?? "http://127.0.0.1:3301";
const clientId = process.env.OP_CLIENT_ID ?? "idweb-interop";
const clientSecret = process.env.OP_CLIENT_SECRET ?? "interop-only-secret";

// A signing key made for this run: nothing to keep, nothing to leak.
const { privateKey } = generateKeyPairSync("rsa", { modulusLength: 2048 });
const signingKey = { ...privateKey.export({ format: "jwk" }), kid: `interop-${Date.now()}`, use: "sig", alg: "RS256" };

// People the test signs in as; any other login name gets a plain account.
const people = {
  alice: { name: "Alice Liddell", preferred_username: "alice@wonderland.example" },
  bob: { name: "Bob Builder", preferred_username: "bob@wonderland.example" },
};

const provider = new Provider(`http://127.0.0.1:${port}`, {
  clients: [
    {
      client_id: clientId,
      client_secret: clientSecret,
      redirect_uris: [`${appOrigin}/signin-oidc`],
      post_logout_redirect_uris: [`${appOrigin}/signout-callback-oidc`],
      backchannel_logout_uri: `${appOrigin}/backchannel-logout`,
      backchannel_logout_session_required: true,
      grant_types: ["authorization_code", "refresh_token"],
      response_types: ["code"],
      token_endpoint_auth_method: "client_secret_basic",
      id_token_signed_response_alg: "RS256",
    },
  ],
  jwks: { keys: [signingKey] },
  pkce: { required: () => true },
  scopes: ["openid", "profile", "offline_access"],
  claims: { openid: ["sub"], profile: ["name", "preferred_username"] },
  // The profile claims go into the ID token (idweb shows the name from it).
  conformIdTokenClaims: false,
  features: {
    devInteractions: { enabled: true },
    rpInitiatedLogout: { enabled: true },
    backchannelLogout: { enabled: true },
  },
  // The library refuses to call special-use addresses such as 127.0.0.1 (an
  // SSRF guard). idweb's loopback origin is the one exception this test needs.
  fetch(url, options) {
    if (new URL(url).origin !== appOrigin) {
      return globalThis.fetch(url, options);
    }
    const { dispatcher: _ssrfGuard, ...rest } = options;
    return globalThis.fetch(url, rest);
  },
  async findAccount(_ctx, id) {
    const person = people[id] ?? { name: id, preferred_username: `${id}@wonderland.example` };
    return { accountId: id, claims: async () => ({ sub: id, ...person }) };
  },
});

// What reached idweb's back-channel logout endpoint, for the test log.
provider.on("backchannel.success", () => console.log("back-channel logout delivered"));
provider.on("backchannel.error", (_client, error) => console.log(`back-channel logout failed: ${error.message}`));

provider.listen(port, "127.0.0.1", () => {
  console.log(`oidc-provider ${provider.issuer} for ${appOrigin}`);
});
