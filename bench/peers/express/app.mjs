// The benchmark's Node peer: Express 5, express-session and
// @azure/msal-node 7, configured the way msal-node's documentation says a
// web app runs in production (lib/msal-node/docs/caching.md, performance.md
// and the auth-code-distributed-cache sample): a confidential client for
// each request, prepared with the authority's metadata read once at
// start-up (no discovery request per request), its token cache in Redis
// through DistributedCachePlugin, one partition per user (homeAccountId),
// the sessions in Redis through connect-redis (express-session's
// MemoryStore is not for production). Then Graph /me with fetch (undici's
// pooled keep-alive connections) and the same Profile page as idweb's (its
// fixed text joined with the fields, no template to compile). Run by scripts/bench.sh: one
// process, NODE_ENV=production.
//
// Settings from the environment: PORT, AUTHORITY (https://host/tenant),
// CLIENT_ID, CLIENT_SECRET, REDIRECT_URI, GRAPH, REDIS_URL, REDIS_PREFIX
// (for every key this peer writes); NODE_EXTRA_CA_CERTS makes Node trust
// the emulator's CA.
import crypto from "node:crypto";
import express from "express";
import session from "express-session";
import { RedisStore } from "connect-redis";
import { createClient } from "redis";
import { ConfidentialClientApplication, CryptoProvider, DistributedCachePlugin } from "@azure/msal-node";

const env = (name) => {
  const value = process.env[name];
  if (!value) throw new Error(`${name} is not set`);
  return value;
};
const authority = env("AUTHORITY").replace(/\/$/, "");
const redirectUri = env("REDIRECT_URI");
const graph = env("GRAPH").replace(/\/$/, "");
const prefix = env("REDIS_PREFIX");
const scopes = ["User.Read"];
const cryptoProvider = new CryptoProvider();

const redis = createClient({ url: env("REDIS_URL") });
redis.on("error", (error) => console.error("Redis:", error.message));
await redis.connect();

// The authority's OpenID configuration, read once: every client built below
// starts from it instead of asking the provider again.
const discovery = await fetch(`${authority}/v2.0/.well-known/openid-configuration`);
if (!discovery.ok) throw new Error(`the authority's discovery document answered ${discovery.status}`);
const msalConfig = {
  auth: {
    clientId: env("CLIENT_ID"),
    authority,
    clientSecret: env("CLIENT_SECRET"),
    authorityMetadata: await discovery.text(),
    // Not one of Microsoft's clouds: named so no instance discovery is attempted.
    knownAuthorities: [new URL(authority).host],
  },
};

// ICacheClient: one token cache blob a user in Redis, for a day.
const tokenCacheTtl = 24 * 60 * 60;
const cacheClient = {
  async get(key) {
    return (key && (await redis.get(`${prefix}tokens:${key}`))) || "";
  },
  async set(key, value) {
    return (await redis.set(`${prefix}tokens:${key}`, value, { EX: tokenCacheTtl })) || "";
  },
};

/** A client for this request: its token cache is the signed-in user's partition. */
function msalFor(req) {
  const partitionManager = {
    async getKey() {
      return req.session.account?.homeAccountId || "";
    },
    async extractKey(accountEntity) {
      if (!accountEntity.homeAccountId) throw new Error("homeAccountId is not found");
      return accountEntity.homeAccountId;
    },
  };
  return new ConfidentialClientApplication({
    ...msalConfig,
    cache: { cachePlugin: new DistributedCachePlugin(cacheClient, partitionManager) },
  });
}

const escape = (text) =>
  String(text ?? "—").replace(/[&<>"']/g, (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" })[c]);
// idweb's Profile page: its fixed text between the gaps (from idweb's answer for a signed-in user).
const PIECES = ["<!DOCTYPE html><html lang=\"en\"><head><meta charset=\"utf-8\"><meta name=\"viewport\" content=\"width=device-width, initial-scale=1\"><link id=\"leptos\" rel=\"stylesheet\" href=\"/pkg/idweb.css\"><link rel=\"icon\" href=\"/favicon.svg\" type=\"image/svg+xml\"><title>Profile · idweb</title><link rel=\"modulepreload\" href=\"/pkg/idweb.js\" crossorigin=\"", "\"><link rel=\"preload\" href=\"/pkg/idweb.wasm\" as=\"fetch\" type=\"application/wasm\" crossorigin=\"", "\"><script type=\"module\" nonce=\"", "\">((root, pkg_path, output_name, wasm_output_name) => {\n\tlet MOST_RECENT_CHILDREN_CB = [];\n\n\tfunction idle(c) {\n\t\tif (\"requestIdleCallback\" in window) {\n\t\t\twindow.requestIdleCallback(c);\n\t\t} else {\n\t\t\tc();\n\t\t}\n\t}\n\tasync function hydrateIslands(rootNode, mod) {\n\t\tasync function traverse(node) {\n\t\t\tif (node.nodeType === Node.ELEMENT_NODE) {\n\t\t\t\tconst tag = node.tagName.toLowerCase();\n\t\t\t\tif(tag === 'leptos-island') {\n\t\t\t\t\tconst children = [];\n\t\t\t\t\tconst id = node.dataset.component || null;\n\n\t\t\t\t\tawait hydrateIsland(node, id, mod);\n\t\t\t\t\t\n\t\t\t\t\tfor(const child of node.children) {\n\t\t\t\t\t\tawait traverse(child, children);\n\t\t\t\t\t}\n\t\t\t\t} else {\n\t\t\t\t\tif (tag === 'leptos-children') {\n\t\t\t\t\t\tMOST_RECENT_CHILDREN_CB.push(node.$$on_hydrate);\n\t\t\t\t\t\tfor(const child of node.children) {\n\t\t\t\t\t\t\tawait traverse(child);\n\t\t\t\t\t\t};\n\t\t\t\t\t\t// un-set the \"most recent children\"\n\t\t\t\t\t\tMOST_RECENT_CHILDREN_CB.pop();\n\t\t\t\t\t} else {\n\t\t\t\t\t\tfor(const child of node.children) {\n\t\t\t\t\t\t\tawait traverse(child);\n\t\t\t\t\t\t};\n\t\t\t\t\t}\n\t\t\t\t}\n\t\t\t}\n\t\t}\n\n\t\tawait traverse(rootNode);\n\t}\n\tasync function hydrateIsland(el, id, mod) {\n\t\tconst islandFn = mod[id];\n\t\tif (islandFn) {\n\t\t\tconst children_cb = MOST_RECENT_CHILDREN_CB[MOST_RECENT_CHILDREN_CB.length-1];\n\t\t\tif (children_cb) {\n\t\t\t\tchildren_cb();\n\t\t\t}\n\t\t\tconst res = islandFn(el);\n\t\t\tif (res && res.then) {\n\t\t\t\tawait res;\n\t\t\t}\n\t\t} else {\n\t\t\tconsole.warn(`Could not find WASM function for the island ${id}.`);\n\t\t}\n\t}\n\tidle(() => {\n\t\timport(`${root}/${pkg_path}/${output_name}.js`)\n\t\t\t.then(mod => {\n\t\t\t\tmod.default({module_or_path: `${root}/${pkg_path}/${wasm_output_name}.wasm`}).then(() => {\n\t\t\t\t\tmod.hydrate();\n\t\t\t\t\thydrateIslands(document.body, mod);\n\t\t\t\t});\n\n\t\t\t\twindow.__hydrateIsland = (el, id) => hydrateIsland(el, id, mod);\n\t\t\t})\n\t});\n})\n(\"\", \"pkg\", \"idweb\", \"idweb\", false);</script></head><body><div class=\"frame\"><a class=\"skip-link\" href=\"#content\">Skip to content</a><header class=\"header\"><a href=\"/\" class=\"brand\">idweb</a><nav aria-label=\"Main\"><a href=\"/\">Home</a><a href=\"/profile\" aria-current=\"page\">Profile</a><a href=\"/mail\">Mail</a><a href=\"/todo\">To-do</a></nav><div class=\"account\"><span data-testid=\"account-name\" class=\"account-name\">", "</span><a href=\"/diagnostics\" class=\"account-link\">Diagnostics</a><form method=\"post\" action=\"/auth/sign-out\" class=\"inline-form\"><button type=\"submit\" class=\"button\" data-testid=\"sign-out\">Sign out</button></form></div></header><main id=\"content\" tabindex=\"-1\"><section class=\"card\"><h1>Your profile</h1><img src=\"/profile/photo\" alt=\"Photo of ", "\" width=\"96\" height=\"96\" data-testid=\"profile-photo\" class=\"avatar\"><dl class=\"fields\"><dt>Name</dt><dd data-testid=\"profile-display-name\">", "</dd><dt>Email</dt><dd data-testid=\"profile-mail\">", "</dd><dt>Username</dt><dd>", "</dd></dl><details data-testid=\"profile-more\" class=\"more\"><summary data-testid=\"toggle-details\">More details</summary><dl data-testid=\"profile-details\" class=\"fields\"><dt>First name</dt><dd>", "</dd><dt>Last name</dt><dd>", "</dd><dt>Job title</dt><dd data-testid=\"profile-job-title\">", "</dd><dt>Office</dt><dd>", "</dd></dl></details></section></main><footer class=\"footer\">idweb — sign in with the Microsoft identity platform, call APIs on your behalf.</footer></div><leptos-island data-component=\"NavigationProgress_10579994754556655569\"><div aria-hidden=\"true\" data-testid=\"navigation-progress\" class=\"navigation-progress\"></div><p role=\"status\" data-testid=\"navigation-status\" class=\"visually-hidden\"><!></p></leptos-island><leptos-island data-component=\"HydrationMarker_13555583504569641109\"><span hidden data-hydrated=\"false\"></span></leptos-island></body></html>"];
// What fills each gap, in order.
const gaps = (me, nonce) => [nonce, nonce, nonce, escape(me.displayName), escape(me.displayName), escape(me.displayName), escape(me.mail), escape(me.userPrincipalName), escape(me.givenName), escape(me.surname), escape(me.jobTitle), escape(me.officeLocation)];
// idweb's page policy, naming the response's nonce.
const providerOrigin = new URL(authority).origin;
const policy = (nonce) =>
  `default-src 'self'; script-src 'self' 'nonce-${nonce}' 'wasm-unsafe-eval'; connect-src 'self'; img-src 'self' data:; style-src 'self'; form-action 'self' ${providerOrigin}; frame-ancestors 'none'; object-src 'none'; base-uri 'none'`;
/** The same document idweb answers (bench/same_page.py checks it), its scripts allowed by `nonce`. */
const page = (me, nonce) => {
  const filled = gaps(me, nonce);
  let html = PIECES[0];
  for (let index = 0; index < filled.length; index += 1) html += filled[index] + PIECES[index + 1];
  return html;
};

const app = express();
app.use(
  session({
    store: new RedisStore({ client: redis, prefix: `${prefix}sess:` }),
    secret: process.env.SESSION_SECRET || crypto.randomBytes(32).toString("hex"),
    resave: false,
    saveUninitialized: false,
    cookie: { httpOnly: true, secure: false, sameSite: "lax" },
  }),
);

app.get("/auth/signin", async (req, res, next) => {
  try {
    const { verifier, challenge } = await cryptoProvider.generatePkceCodes();
    req.session.pkceVerifier = verifier;
    req.session.state = cryptoProvider.createNewGuid();
    const url = await msalFor(req).getAuthCodeUrl({
      scopes, redirectUri, state: req.session.state, codeChallenge: challenge, codeChallengeMethod: "S256",
    });
    res.redirect(url);
  } catch (error) {
    next(error);
  }
});

app.get("/auth/redirect", async (req, res, next) => {
  try {
    if (!req.query.code || req.query.state !== req.session.state) return res.status(400).send("bad authorization response");
    // The tokens go to the user's partition (DistributedCachePlugin), the account to the session.
    const result = await msalFor(req).acquireTokenByCode({
      code: req.query.code, scopes, redirectUri, codeVerifier: req.session.pkceVerifier,
    });
    req.session.account = result.account;
    req.session.isAuthenticated = true;
    res.redirect("/profile");
  } catch (error) {
    next(error);
  }
});

app.get("/profile", async (req, res, next) => {
  if (!req.session.isAuthenticated) return res.redirect("/auth/signin");
  try {
    // acquireTokenSilent reads the user's partition itself (and writes it back only if it changed).
    const token = await msalFor(req).acquireTokenSilent({ account: req.session.account, scopes });
    const answer = await fetch(`${graph}/me`, { headers: { Authorization: `Bearer ${token.accessToken}` } });
    if (!answer.ok) return res.status(502).send("Graph did not answer");
    const nonce = crypto.randomBytes(16).toString("base64url");
    res
      .set({
        "Cache-Control": "no-store",
        "Content-Security-Policy": policy(nonce),
        "X-Content-Type-Options": "nosniff",
        "Referrer-Policy": "strict-origin-when-cross-origin",
      })
      .type("html")
      .send(page(await answer.json(), nonce));
  } catch (error) {
    next(error);
  }
});

const port = Number(env("PORT"));
app.listen(port, "127.0.0.1");
