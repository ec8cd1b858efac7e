// The benchmark's Node peer: Express 5, express-session and
// @azure/msal-node 7, written the way Microsoft's Node web app sample
// (ms-identity-node, AuthProvider) does it: a confidential client built
// for each request, its token cache deserialized from the session,
// acquireTokenSilent, the cache serialized back; then Graph /me with fetch
// and the same Profile page. Run by scripts/bench.sh (one process).
//
// Settings from the environment: PORT, AUTHORITY (https://host/tenant),
// CLIENT_ID, CLIENT_SECRET, REDIRECT_URI, GRAPH; NODE_EXTRA_CA_CERTS makes
// Node trust the emulator's CA.
import crypto from "node:crypto";
import express from "express";
import session from "express-session";
import { ConfidentialClientApplication, CryptoProvider } from "@azure/msal-node";

const env = (name) => {
  const value = process.env[name];
  if (!value) throw new Error(`${name} is not set`);
  return value;
};
const authority = env("AUTHORITY");
const msalConfig = {
  auth: {
    clientId: env("CLIENT_ID"),
    authority,
    clientSecret: env("CLIENT_SECRET"),
    // Not one of Microsoft's hosts: named so no instance discovery is attempted.
    knownAuthorities: [new URL(authority).host],
  },
};
const redirectUri = env("REDIRECT_URI");
const graph = env("GRAPH").replace(/\/$/, "");
const scopes = ["User.Read"];
const cryptoProvider = new CryptoProvider();

const escape = (text) =>
  String(text ?? "—").replace(/[&<>"']/g, (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" })[c]);
const page = (me) =>
  `<!DOCTYPE html><html lang="en"><head><meta charset="utf-8"/><meta name="viewport" content="width=device-width, initial-scale=1"/><link rel="stylesheet" href="/pkg/idweb.css"/><title>idweb</title></head><body><header class="site-header"><a class="brand" href="/">idweb</a><nav><a href="/">Home</a><a href="/profile" aria-current="page">Profile</a><a href="/mail">Mail</a><a href="/todo">To-do</a></nav><div class="account"><span class="account-name">${escape(me.displayName)}</span><a href="/diagnostics" class="account-link">Diagnostics</a><form method="post" action="/auth/signout" class="inline-form"><button type="submit" class="button">Sign out</button></form></div></header><main><section class="card"><h1>Your profile</h1><img class="avatar" src="/profile/photo" alt="Photo of ${escape(me.displayName)}" width="96" height="96"/><dl class="fields"><dt>Name</dt><dd>${escape(me.displayName)}</dd><dt>Email</dt><dd>${escape(me.mail)}</dd><dt>Username</dt><dd>${escape(me.userPrincipalName)}</dd></dl><button type="button" class="button" aria-expanded="false" aria-controls="profile-details">Show details</button><dl class="fields" id="profile-details" hidden><dt>First name</dt><dd>${escape(me.givenName)}</dd><dt>Last name</dt><dd>${escape(me.surname)}</dd><dt>Job title</dt><dd>${escape(me.jobTitle)}</dd><dt>Office</dt><dd>${escape(me.officeLocation)}</dd></dl></section></main></body></html>`;

/** A client for this request, with the session's token cache. */
function msalFor(req) {
  const msal = new ConfidentialClientApplication(msalConfig);
  if (req.session.tokenCache) msal.getTokenCache().deserialize(req.session.tokenCache);
  return msal;
}

const app = express();
app.use(
  session({
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
    const msal = msalFor(req);
    const result = await msal.acquireTokenByCode({
      code: req.query.code, scopes, redirectUri, codeVerifier: req.session.pkceVerifier,
    });
    req.session.tokenCache = msal.getTokenCache().serialize();
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
    const msal = msalFor(req);
    const token = await msal.acquireTokenSilent({ account: req.session.account, scopes });
    req.session.tokenCache = msal.getTokenCache().serialize();
    const answer = await fetch(`${graph}/me`, { headers: { Authorization: `Bearer ${token.accessToken}` } });
    if (!answer.ok) return res.status(502).send("Graph did not answer");
    res.set("Cache-Control", "no-store").send(page(await answer.json()));
  } catch (error) {
    next(error);
  }
});

const port = Number(env("PORT"));
app.listen(port, "127.0.0.1");
