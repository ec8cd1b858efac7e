"""The benchmark's Python peer: Flask with Microsoft's `identity` package
(over MSAL Python), configured as the documentation of each part says to
run it in production: `identity.flask.Auth` (one long-lived helper; its
MSAL clients share one HTTP cache, so the authority's metadata is read once
a day, not per request), the token cache in a server-side session
(Flask-Session's Redis backend, the one its documentation recommends, with
a redis-py client this app supplies), `@auth.login_required(scopes=...)`
acquiring the token silently on each request, Graph `/me` through one
`requests.Session` (pooled keep-alive connections), rendered as the same
Profile page from `templates/profile.html` (compiled once and cached by
Jinja; Flask outside debug mode does not reload it). Run by
scripts/bench.sh under gunicorn: one gevent worker.

Settings come from the environment: AUTHORITY (https://host/tenant),
CLIENT_ID, CLIENT_SECRET, REDIRECT_URI, GRAPH (Graph's base URL),
REDIS_URL, REDIS_PREFIX (for every key this peer writes);
REQUESTS_CA_BUNDLE makes requests and MSAL trust the emulator's CA.
"""
import os
import secrets
import urllib.parse

import identity.flask
import redis
import requests
from flask import Flask, render_template

app = Flask(__name__)
app.config.update(
    SECRET_KEY=os.environ.get("FLASK_SECRET_KEY", os.urandom(32).hex()),
    SESSION_TYPE="redis",
    SESSION_REDIS=redis.Redis.from_url(os.environ["REDIS_URL"]),
    SESSION_KEY_PREFIX=f"{os.environ['REDIS_PREFIX']}session:",
)
# Auth.init_app sets up Flask-Session with the settings above.
auth = identity.flask.Auth(
    app,
    authority=os.environ["AUTHORITY"],
    client_id=os.environ["CLIENT_ID"],
    client_credential=os.environ["CLIENT_SECRET"],
    redirect_uri=os.environ["REDIRECT_URI"],
)
graph = os.environ["GRAPH"].rstrip("/")
provider = urllib.parse.urlsplit(os.environ["AUTHORITY"])
provider_origin = f"{provider.scheme}://{provider.netloc}"


def policy(nonce):
    """idweb's page policy, naming the response's nonce."""
    return (f"default-src 'self'; script-src 'self' 'nonce-{nonce}' 'wasm-unsafe-eval'; connect-src 'self'; img-src 'self' data:; "
            f"style-src 'self'; form-action 'self' {provider_origin}; frame-ancestors 'none'; object-src 'none'; base-uri 'none'")
http = requests.Session()


@app.route("/profile")
@auth.login_required(scopes=["User.Read"])
def profile(*, context):
    me = http.get(f"{graph}/me", headers={"Authorization": f"Bearer {context['access_token']}"}, timeout=30)
    me.raise_for_status()
    nonce = secrets.token_urlsafe(16)
    headers = {
        "Cache-Control": "no-store",
        "Content-Security-Policy": policy(nonce),
        "X-Content-Type-Options": "nosniff",
        "Referrer-Policy": "strict-origin-when-cross-origin",
    }
    return render_template("profile.html", me=me.json(), nonce=nonce), 200, headers
