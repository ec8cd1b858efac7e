"""The benchmark's Python peer: Flask with Microsoft's `identity` package
(over MSAL Python), written the way its documentation and samples do it:
`identity.flask.Auth`, the token cache in a server-side session
(Flask-Session), `@auth.login_required(scopes=...)` acquiring the token
silently on each request, then Graph `/me` with `requests`, rendered as the
same Profile page. Run by scripts/bench.sh under gunicorn with one worker.

Settings come from the environment: AUTHORITY (https://host/tenant),
CLIENT_ID, CLIENT_SECRET, REDIRECT_URI, GRAPH (Graph's base URL),
SESSION_DIR; REQUESTS_CA_BUNDLE makes requests and MSAL trust the
emulator's CA.
"""
import os

import identity.flask
import requests
from flask import Flask, render_template_string
from flask_session import Session

PROFILE = """<!DOCTYPE html><html lang="en"><head><meta charset="utf-8"/><meta name="viewport" content="width=device-width, initial-scale=1"/><link rel="stylesheet" href="/pkg/idweb.css"/><title>idweb</title></head><body><header class="site-header"><a class="brand" href="/">idweb</a><nav><a href="/">Home</a><a href="/profile" aria-current="page">Profile</a><a href="/mail">Mail</a><a href="/todo">To-do</a></nav><div class="account"><span class="account-name">{{ me.displayName }}</span><a href="/diagnostics" class="account-link">Diagnostics</a><form method="post" action="/logout" class="inline-form"><button type="submit" class="button">Sign out</button></form></div></header><main><section class="card"><h1>Your profile</h1><img class="avatar" src="/profile/photo" alt="Photo of {{ me.displayName }}" width="96" height="96"/><dl class="fields"><dt>Name</dt><dd>{{ me.displayName }}</dd><dt>Email</dt><dd>{{ me.mail or "—" }}</dd><dt>Username</dt><dd>{{ me.userPrincipalName or "—" }}</dd></dl><button type="button" class="button" aria-expanded="false" aria-controls="profile-details">Show details</button><dl class="fields" id="profile-details" hidden><dt>First name</dt><dd>{{ me.givenName or "—" }}</dd><dt>Last name</dt><dd>{{ me.surname or "—" }}</dd><dt>Job title</dt><dd>{{ me.jobTitle or "—" }}</dd><dt>Office</dt><dd>{{ me.officeLocation or "—" }}</dd></dl></section></main></body></html>"""

app = Flask(__name__)
app.config.update(
    SECRET_KEY=os.environ.get("FLASK_SECRET_KEY", os.urandom(32).hex()),
    SESSION_TYPE="filesystem",
    SESSION_FILE_DIR=os.environ["SESSION_DIR"],
    SESSION_FILE_THRESHOLD=100000,
)
Session(app)
auth = identity.flask.Auth(
    app,
    authority=os.environ["AUTHORITY"],
    client_id=os.environ["CLIENT_ID"],
    client_credential=os.environ["CLIENT_SECRET"],
    redirect_uri=os.environ["REDIRECT_URI"],
)
graph = os.environ["GRAPH"].rstrip("/")
http = requests.Session()


@app.route("/profile")
@auth.login_required(scopes=["User.Read"])
def profile(*, context):
    me = http.get(f"{graph}/me", headers={"Authorization": f"Bearer {context['access_token']}"}, timeout=30)
    me.raise_for_status()
    return render_template_string(PROFILE, me=me.json()), 200, {"Cache-Control": "no-store"}
