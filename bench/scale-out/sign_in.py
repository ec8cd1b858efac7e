#!/usr/bin/env python3
"""Signs a test user in to idweb through the real flow (idweb's sign-in
route, the emulator's account picker, idweb's callback) and prints the
session cookie as `name=value`. Standard library only.

    sign_in.py APP_URL USER_OBJECT_ID
"""
import http.client
import sys
import urllib.parse


def request(method, url, headers=None, body=None):
    parts = urllib.parse.urlsplit(url)
    connection = http.client.HTTPConnection(parts.hostname, parts.port, timeout=30)
    path = parts.path + ("?" + parts.query if parts.query else "")
    connection.request(method, path, body=body, headers=headers or {})
    response = connection.getresponse()
    response.read()
    return response


def session_cookie(response, cookies):
    for header, value in response.getheaders():
        if header.lower() == "set-cookie":
            name, _, rest = value.partition("=")
            cookies[name] = rest.split(";", 1)[0]


def main(app, user_object_id):
    cookies = {}
    started = request("GET", urllib.parse.urljoin(app, "/auth/sign-in?returnUrl=/"))
    session_cookie(started, cookies)
    authorize = urllib.parse.urlsplit(started.getheader("location"))
    fields = dict(urllib.parse.parse_qsl(authorize.query))
    fields["user_oid"] = user_object_id
    picked = request(
        "POST",
        urllib.parse.urlunsplit((authorize.scheme, authorize.netloc, authorize.path, "", "")),
        {"content-type": "application/x-www-form-urlencoded"},
        urllib.parse.urlencode(fields),
    )
    callback = picked.getheader("location")
    cookie_header = "; ".join(f"{name}={value}" for name, value in cookies.items())
    done = request("GET", callback, {"cookie": cookie_header})
    session_cookie(done, cookies)
    if done.status != 303 or "error" in (done.getheader("location") or ""):
        sys.exit(f"sign-in failed: {done.status} {done.getheader('location')}")
    print("; ".join(f"{name}={value}" for name, value in cookies.items()))


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
