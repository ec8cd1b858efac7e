#!/usr/bin/env python3
"""Signs test users in through the real flow, for the benchmarks: the app's
sign-in route, the emulator's account picker, the app's callback. Standard
library only (the emulator may serve HTTPS with a local CA).

    sign_in.py cookies APP_URL START_PATH USER_OIDS_FILE COUNT [CA_FILE]
        signs the first COUNT users of USER_OIDS_FILE (one object id a
        line) in to the app at APP_URL, starting at START_PATH (idweb:
        /auth/sign-in?returnUrl=/), and prints one Cookie header value a
        line, in that order.

    sign_in.py token EMULATOR_URL TENANT CLIENT_ID CLIENT_SECRET REDIRECT_URI USER_OID [CA_FILE]
        runs the authorization code flow (PKCE) for USER_OID directly and
        prints the Graph access token (for the benchmark's ceiling).
"""
import base64
import hashlib
import html
import http.client
import json
import re
import secrets
import ssl
import sys
import urllib.parse

CONTEXT = None


def request(method, url, headers=None, body=None):
    parts = urllib.parse.urlsplit(url)
    if parts.scheme == "https":
        connection = http.client.HTTPSConnection(parts.hostname, parts.port, timeout=30, context=CONTEXT)
    else:
        connection = http.client.HTTPConnection(parts.hostname, parts.port, timeout=30)
    path = parts.path + ("?" + parts.query if parts.query else "")
    connection.request(method, path, body=body, headers=headers or {})
    response = connection.getresponse()
    data = response.read()
    connection.close()
    return response, data


def keep_cookies(response, cookies):
    for header, value in response.getheaders():
        if header.lower() == "set-cookie":
            name, _, rest = value.partition("=")
            cookies[name.strip()] = rest.split(";", 1)[0]


def cookie_header(cookies):
    return "; ".join(f"{name}={value}" for name, value in cookies.items())


def pick(authorize_url, user_oid):
    """Answers the emulator's account picker for USER_OID; returns where it redirects."""
    authorize = urllib.parse.urlsplit(authorize_url)
    fields = dict(urllib.parse.parse_qsl(authorize.query))
    fields["user_oid"] = user_oid
    picked, _ = request(
        "POST",
        urllib.parse.urlunsplit((authorize.scheme, authorize.netloc, authorize.path, "", "")),
        {"content-type": "application/x-www-form-urlencoded"},
        urllib.parse.urlencode(fields),
    )
    location = picked.getheader("location")
    if not location:
        sys.exit(f"the emulator's picker answered {picked.status} without a redirect")
    return location


def sign_in(app, start_path, user_oid):
    cookies = {}
    url = urllib.parse.urljoin(app, start_path)
    # Follow the app's own redirects (or the authorize link of its login page:
    # Microsoft's `identity` package answers with a page that refreshes to it)
    # until one leads to the emulator.
    for _ in range(5):
        started, body = request("GET", url, {"cookie": cookie_header(cookies)} if cookies else {})
        keep_cookies(started, cookies)
        link = re.search(rb"""(https?://[^'"\s]*/oauth2/v2\.0/authorize[^'"\s]*)""", body)
        if started.status == 200 and link:
            url = html.unescape(link.group(1).decode())
        else:
            url = urllib.parse.urljoin(url, started.getheader("location") or "")
        if "/oauth2/v2.0/authorize" in url:
            break
    else:
        sys.exit(f"{app}{start_path} never sent the browser to the emulator")
    callback = pick(url, user_oid)
    # The app's redirect URI redeems the code and sets its session.
    done, _ = request("GET", callback, {"cookie": cookie_header(cookies)})
    keep_cookies(done, cookies)
    location = done.getheader("location") or ""
    if done.status >= 400 or "error" in location:
        sys.exit(f"sign-in of {user_oid} failed: {done.status} {location}")
    return cookie_header(cookies)


def cookies_command(app, start_path, oids_file, count):
    with open(oids_file, encoding="utf-8") as lines:
        oids = [line.strip() for line in lines if line.strip()][: int(count)]
    for oid in oids:
        print(sign_in(app, start_path, oid), flush=True)


def token_command(emulator, tenant, client_id, client_secret, redirect_uri, user_oid):
    verifier = secrets.token_urlsafe(48)
    challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).rstrip(b"=").decode()
    authority = f"{emulator.rstrip('/')}/{tenant}/oauth2/v2.0"
    query = urllib.parse.urlencode({
        "client_id": client_id, "response_type": "code", "redirect_uri": redirect_uri,
        "scope": "openid offline_access User.Read", "state": secrets.token_urlsafe(16),
        "nonce": secrets.token_urlsafe(16), "code_challenge": challenge, "code_challenge_method": "S256",
    })
    callback = urllib.parse.urlsplit(pick(f"{authority}/authorize?{query}", user_oid))
    code = dict(urllib.parse.parse_qsl(callback.query)).get("code")
    if not code:
        sys.exit(f"no code in the redirect: {callback.query}")
    answer, body = request(
        "POST", f"{authority}/token", {"content-type": "application/x-www-form-urlencoded"},
        urllib.parse.urlencode({
            "grant_type": "authorization_code", "client_id": client_id, "client_secret": client_secret,
            "code": code, "redirect_uri": redirect_uri, "code_verifier": verifier,
        }),
    )
    if answer.status != 200:
        sys.exit(f"the token endpoint answered {answer.status}")
    print(json.loads(body)["access_token"])


def main(argv):
    global CONTEXT
    if len(argv) >= 2 and argv[1] == "cookies" and len(argv) in (6, 7):
        CONTEXT = ssl.create_default_context(cafile=argv[6]) if len(argv) == 7 else None
        cookies_command(*argv[2:6])
    elif len(argv) >= 2 and argv[1] == "token" and len(argv) in (8, 9):
        CONTEXT = ssl.create_default_context(cafile=argv[8]) if len(argv) == 9 else None
        token_command(*argv[2:8])
    else:
        sys.exit(__doc__)


if __name__ == "__main__":
    main(sys.argv)
