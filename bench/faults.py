#!/usr/bin/env python3
"""Fault scenarios against two idweb instances behind a simulated load
balancer, as an operator would try them (run by scripts/faults.sh; standard
library only).

Each scenario starts its own emulator, Redis (or PostgreSQL schema) and two
idweb instances on free loopback ports, signs USERS people in through the
real flow, keeps them reading their Profile page through the balancer (round
robin over the instances whose /readyz answers 200, checked every 0.5 s; all
of them when none does), injects one fault and stops everything. Each one
lasts well under a minute. It prints, per scenario: page views, answers by
status (200 = the page with the person's own name; 401 = signed out; 303 =
sent to the "try again" page), users still signed in at the end, token
requests the emulator received, recovery time and latency; as the Markdown
table docs/RELIABILITY.md keeps.

    faults.py [--users N] [--profile debug|release] [--only NAME]...
"""
import argparse
import collections
import http.client
import json
import os
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.parse

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import sign_in as flow  # noqa: E402  (bench/sign_in.py: the real sign-in flow)

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
POSTGRES = os.environ.get("IDWEB_TEST_POSTGRES_URL", "postgres://postgres@127.0.0.1:5432/test")
SECRET = "faults-" + os.urandom(12).hex()
KEY = __import__("base64").b64encode(os.urandom(32)).decode()


def say(text):
    print(f"\033[1m[faults]\033[0m {text}", file=sys.stderr, flush=True)


def free_ports(count):
    sockets = [socket.socket() for _ in range(count)]
    for s in sockets:
        s.bind(("127.0.0.1", 0))
    ports = [s.getsockname()[1] for s in sockets]
    for s in sockets:
        s.close()
    return ports


def get(url, headers=None, timeout=30):
    """(status, body text, seconds) of a GET on a fresh connection; status 0 when refused or reset."""
    parts = urllib.parse.urlsplit(url)
    started = time.monotonic()
    try:
        connection = http.client.HTTPConnection(parts.hostname, parts.port, timeout=timeout)
        connection.request("GET", parts.path + ("?" + parts.query if parts.query else ""), headers=headers or {})
        response = connection.getresponse()
        body = response.read().decode("utf-8", "replace")
        connection.close()
        return response.status, body, time.monotonic() - started
    except (OSError, http.client.HTTPException):
        return 0, "", time.monotonic() - started


def send(method, url, body=None):
    parts = urllib.parse.urlsplit(url)
    connection = http.client.HTTPConnection(parts.hostname, parts.port, timeout=30)
    headers = {"content-type": "application/json"} if body is not None else {}
    connection.request(method, parts.path, body=json.dumps(body) if body is not None else None, headers=headers)
    response = connection.getresponse()
    data = response.read()
    connection.close()
    if response.status >= 300:
        raise RuntimeError(f"{method} {url}: {response.status} {data[:200]!r}")
    return json.loads(data) if data else None


def wait_for(url, seconds=60):
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if get(url, timeout=2)[0] == 200:
            return
        time.sleep(0.1)
    raise RuntimeError(f"{url} never answered 200")


class Stack:
    """The emulator, a store and two instances (A, B) for one scenario."""

    def __init__(self, args, store, refresh_in=None, instance_settings=None):
        self.args = args
        self.work = tempfile.mkdtemp(prefix="idweb-faults-")
        self.processes = []
        self.store = store
        emulator_port, a_port, b_port, redis_port, metrics_a, metrics_b = free_ports(6)
        self.emulator = f"http://127.0.0.1:{emulator_port}"
        self.instances = {"A": f"http://127.0.0.1:{a_port}", "B": f"http://127.0.0.1:{b_port}"}
        self.metrics = {"A": f"http://127.0.0.1:{metrics_a}", "B": f"http://127.0.0.1:{metrics_b}"}
        self.redis_port = redis_port
        self.schema = f"idweb_faults_{os.urandom(4).hex()}"
        self.application_name = self.schema.replace("_", "-")
        self.users = []
        config = json.load(open(os.path.join(ROOT, "crates/emulator/emulator.json")))
        config["apps"][0]["redirectUris"] = [f"{self.instances['A']}/signin-oidc"]
        config["apps"][0]["postLogoutRedirectUris"] = [f"{self.instances['A']}/signout-callback-oidc"]
        config["apps"][0].pop("frontChannelLogoutUri", None)
        config["apps"][0].pop("backchannelLogoutUri", None)
        config["users"] = [{
            "objectId": f"00000000-0000-4000-8000-{index:012d}", "displayName": f"Fault User {index}",
            "givenName": "Fault", "surname": f"User {index}", "userPrincipalName": f"fault{index}@contoso.example",
            "mail": f"fault{index}@contoso.example", "jobTitle": "Tester", "officeLocation": f"{index}/1",
        } for index in range(1, args.users + 1)]
        if refresh_in is not None:
            config["accessTokenRefreshInSecs"] = refresh_in
        self.users = [(user["objectId"], user["displayName"]) for user in config["users"]]
        path = os.path.join(self.work, "emulator.json")
        json.dump(config, open(path, "w"))
        self.spawn("emulator", [self.binary("idweb-emulator"), "--config", path, "--listen", f"127.0.0.1:{emulator_port}"],
                   {"IDWEB_EMULATOR_CLIENT_SECRET": SECRET, "RUST_LOG": "warn"})
        wait_for(f"{self.emulator}/_emulator")
        if store == "redis":
            self.start_redis()
        self.settings = {
            "IDWEB_ENVIRONMENT": "Development", "RUST_LOG": "info", "LEPTOS_SITE_ROOT": os.path.join(ROOT, "target/site"),
            "AzureAd__Instance": f"{self.emulator}/", "AzureAd__ClientSecret": SECRET, "Graph__BaseUrl": f"{self.emulator}/v1.0",
            "DownstreamApis__TodoList__BaseUrl": f"{self.emulator}/api",
            "Hosting__PublicUrl": self.instances["A"], "Hosting__SignInStartsPerMinute": "0",
            "Hosting__ShutdownDrainSeconds": "2", "Hosting__ShutdownTimeoutSeconds": "5",
            "Session__MaxSessions": "100000",
        }
        if store == "redis":
            url = f"redis://127.0.0.1:{redis_port}/"
            self.settings.update({"TokenCache__Store": "Redis", "TokenCache__ConnectionString": url, "Session__Store": "Redis",
                                  "Session__ConnectionString": url, "TokenCache__EncryptionKeys__0__Id": "faults",
                                  "TokenCache__EncryptionKeys__0__Key": KEY})
        elif store == "postgres":
            separator = "&" if "?" in POSTGRES else "?"
            url = f"{POSTGRES}{separator}application_name={self.application_name}"
            self.settings.update({"TokenCache__Store": "Postgres", "TokenCache__ConnectionString": url, "TokenCache__Schema": self.schema,
                                  "Session__Store": "Postgres", "Session__ConnectionString": url, "Session__Schema": self.schema,
                                  "TokenCache__EncryptionKeys__0__Id": "faults", "TokenCache__EncryptionKeys__0__Key": KEY})
        self.settings.update(instance_settings or {})
        self.pids = {}
        for name in ("A", "B"):
            self.start_instance(name)

    def binary(self, name):
        return os.path.join(ROOT, "target", self.args.profile, name)

    def spawn(self, label, command, env):
        log = open(os.path.join(self.work, f"{label}.log"), "ab")
        process = subprocess.Popen(command, cwd=ROOT, env={**os.environ, **env}, stdout=log, stderr=subprocess.STDOUT)
        self.processes.append(process)
        return process

    def start_redis(self):
        subprocess.run(["redis-server", "--port", str(self.redis_port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
                        "--daemonize", "yes", "--logfile", os.path.join(self.work, "redis.log"), "--dir", self.work], check=True)
        deadline = time.monotonic() + 20
        while subprocess.run(["redis-cli", "-p", str(self.redis_port), "ping"], capture_output=True).stdout.strip() != b"PONG":
            if time.monotonic() > deadline:
                raise RuntimeError("redis-server did not start")
            time.sleep(0.05)

    def stop_redis(self):
        subprocess.run(["redis-cli", "-p", str(self.redis_port), "shutdown", "nosave"], capture_output=True)

    def start_instance(self, name):
        port = urllib.parse.urlsplit(self.instances[name]).port
        metrics = urllib.parse.urlsplit(self.metrics[name]).netloc
        env = {**self.settings, "LEPTOS_SITE_ADDR": f"127.0.0.1:{port}", "Hosting__MetricsAddress": metrics}
        self.pids[name] = self.spawn(f"app-{name}", [self.binary("idweb")], env)
        wait_for(f"{self.instances[name]}/healthz")

    def sign_everyone_in(self):
        people = []
        for oid, name in self.users:
            people.append((name, flow.sign_in(self.instances["A"], "/auth/sign-in?returnUrl=/", oid)))
        return people

    def token_requests(self):
        return send("GET", f"{self.emulator}/_emulator")["tokenRequests"]

    def metric(self, name, label=""):
        total = 0.0
        for url in self.metrics.values():
            status, body, _ = get(f"{url}/metrics", timeout=5)
            for line in body.splitlines() if status == 200 else []:
                if line.startswith(name) and label in line:
                    total += float(line.rsplit(" ", 1)[1])
        return total

    def log_lines(self, needle):
        count = 0
        for name in ("A", "B"):
            with open(os.path.join(self.work, f"app-{name}.log"), encoding="utf-8", errors="replace") as log:
                count += sum(1 for line in log if needle in line)
        return count

    def close(self):
        for process in self.processes:
            if process.poll() is None:
                process.send_signal(signal.SIGKILL)
            process.wait()
        if self.store == "redis":
            self.stop_redis()
        if self.store == "postgres":
            subprocess.run(["psql", POSTGRES, "-q", "-c", f'drop schema if exists "{self.schema}" cascade'], capture_output=True)
        subprocess.run(["rm", "-rf", self.work])


class Balancer:
    """Round robin over the instances whose /readyz answered 200 at the last check."""

    def __init__(self, stack):
        self.stack = stack
        self.healthy = dict.fromkeys(stack.instances, True)
        self.counter = 0
        self.lock = threading.Lock()
        self.stopping = threading.Event()
        self.thread = threading.Thread(target=self.check, daemon=True)
        self.thread.start()

    def check(self):
        while not self.stopping.is_set():
            for name, url in self.stack.instances.items():
                self.healthy[name] = get(f"{url}/readyz", timeout=1)[0] == 200
            self.stopping.wait(0.5)

    def pick(self):
        with self.lock:
            self.counter += 1
            names = [name for name, ok in self.healthy.items() if ok] or list(self.healthy)
            return self.stack.instances[names[self.counter % len(names)]]

    def stop(self):
        self.stopping.set()


class Load:
    """Every person reads their Profile page through the balancer, over `threads` threads."""

    def __init__(self, balancer, people, threads=6):
        self.balancer = balancer
        self.people = people
        self.answers = []  # (monotonic time, label, seconds)
        self.lock = threading.Lock()
        self.stopping = threading.Event()
        self.threads = [threading.Thread(target=self.run, args=(index, threads), daemon=True) for index in range(threads)]
        for thread in self.threads:
            thread.start()

    def run(self, index, threads):
        mine = self.people[index::threads]
        while not self.stopping.is_set():
            for name, cookie in mine:
                if self.stopping.is_set():
                    return
                status, body, seconds = get(f"{self.balancer.pick()}/profile", {"cookie": cookie})
                label = "200" if status == 200 and name in body else ("200 without the user" if status == 200 else str(status))
                with self.lock:
                    self.answers.append((time.monotonic(), label, seconds))

    def stop(self):
        self.stopping.set()
        for thread in self.threads:
            thread.join()


def still_signed_in(stack, people):
    return sum(1 for name, cookie in people if (lambda answer: answer[0] == 200 and name in answer[1])(get(f"{stack.instances['A']}/profile", {"cookie": cookie})))


def percentile(values, share):
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(share * len(ordered)))] if ordered else 0.0


def report(name, what, stack, load, people, token_requests, recovery, extra=""):
    counts = collections.Counter(label for _, label, _ in load.answers)
    latencies = [seconds for _, _, seconds in load.answers]
    answers = ", ".join(f"{label}: {count}" for label, count in sorted(counts.items(), key=lambda item: -item[1]))
    return {
        "scenario": name, "what": what, "views": len(load.answers), "answers": answers + extra,
        "signed_in": f"{still_signed_in(stack, people)} of {len(people)}", "token_requests": token_requests,
        "recovery": recovery, "p99": f"{percentile(latencies, 0.99) * 1000:.0f} ms", "max": f"{max(latencies, default=0) * 1000:.0f} ms",
    }


def last_failure_after(load, since):
    """Seconds from `since` to the last answer that was not the page (0.0 when none came after)."""
    failures = [at for at, label, _ in load.answers if label != "200" and at >= since]
    return f"{max(failures) - since:.1f} s" if failures else "0.0 s"


def scenario(stack_args, warm=3.0):
    """Runs `body(stack, load)` on a fresh stack with everyone signed in and reading; returns its row."""
    def wrap(body):
        def run(args):
            stack = Stack(args, **stack_args)
            try:
                people = stack.sign_everyone_in()
                balancer = Balancer(stack)
                load = Load(balancer, people)
                time.sleep(warm)
                row = body(stack, load, people)
                balancer.stop()
                return row
            finally:
                stack.close()
        run.__name__ = body.__name__
        return run
    return wrap


@scenario({"store": "redis"})
def redis_restarted_empty(stack, load, people):
    before = stack.token_requests()
    stack.stop_redis()
    time.sleep(5)
    stack.start_redis()
    back = time.monotonic()
    while any(get(f"{url}/readyz", timeout=1)[0] != 200 for url in stack.instances.values()):
        time.sleep(0.1)
    recovered = time.monotonic() - back
    time.sleep(4)
    load.stop()
    outage_lines = stack.log_lines("session store unavailable")
    return report("Redis killed, restarted empty 5 s later", "sessions and tokens in Redis", stack, load, people,
                  stack.token_requests() - before, f"{recovered:.1f} s to ready",
                  extra=f" ({outage_lines} 'session store unavailable' lines)")


@scenario({"store": "postgres"})
def postgres_connections_terminated(stack, load, people):
    before = stack.token_requests()
    killed = 0
    started = time.monotonic()
    for _ in range(3):
        result = subprocess.run(["psql", POSTGRES, "-At", "-c",
                                 f"select count(pg_terminate_backend(pid)) from pg_stat_activity where application_name = '{stack.application_name}'"],
                                capture_output=True, text=True)
        killed += int(result.stdout.strip() or 0)
        time.sleep(2)
    ended = time.monotonic()
    time.sleep(3)
    load.stop()
    return report("PostgreSQL connections terminated (3 times, 2 s apart)", f"sessions and tokens in PostgreSQL; {killed} connections killed", stack,
                  load, people, stack.token_requests() - before, last_failure_after(load, started) + " after the first kill")


@scenario({"store": "redis"})
def sigterm_one_instance(stack, load, people):
    before = stack.token_requests()
    stack.pids["B"].send_signal(signal.SIGTERM)
    signalled = time.monotonic()
    stack.pids["B"].wait(timeout=30)
    stopped = time.monotonic() - signalled
    time.sleep(2)
    load.stop()
    return report("SIGTERM to one instance", f"drain 2 s, then in-flight limit 5 s; B exited after {stopped:.1f} s", stack, load, people,
                  stack.token_requests() - before, last_failure_after(load, signalled))


def token_endpoint_fault(fault, seconds):
    @scenario({"store": "redis", "refresh_in": 5}, warm=6.0)
    def run(stack, load, people):
        before = stack.token_requests()
        send("POST", f"{stack.emulator}/_emulator/faults/token", fault)
        started = time.monotonic()
        time.sleep(seconds)
        during = stack.token_requests() - before
        send("DELETE", f"{stack.emulator}/_emulator/faults")
        returned = time.monotonic()
        renewed = stack.metric("idweb_tokens_served_total", 'source="refresh"')
        recovery = "no renewal within 60 s"
        while time.monotonic() - returned < 60:
            if stack.metric("idweb_tokens_served_total", 'source="refresh"') > renewed:
                recovery = f"{time.monotonic() - returned:.1f} s to the first renewal"
                break
            time.sleep(0.25)
        time.sleep(2)
        load.stop()
        served_past = stack.metric("idweb_tokens_served_past_renewal_total")
        row = report("", "", stack, load, people, f"{during} during the fault ({len(people)} users, 2 instances)", recovery,
                     extra=f"; {served_past:.0f} tokens served past their renewal time")
        row["failed_for"] = f"{time.monotonic() - started:.0f}"
        return row
    return run


token_endpoint_failing = token_endpoint_fault(
    {"grantType": "refresh_token", "raw": {"status": 503, "contentType": "text/html", "body": "<html>503</html>"}, "count": 100000}, 15)
token_endpoint_slow = token_endpoint_fault({"grantType": "refresh_token", "delayMs": 30000, "count": 100000}, 15)


@scenario({"store": "redis"})
def api_rejects_cached_tokens(stack, load, people):
    before = stack.token_requests()
    send("POST", f"{stack.emulator}/_emulator/access-tokens/revoke")
    revoked = time.monotonic()
    time.sleep(6)
    load.stop()
    return report("Graph refuses every token issued so far (plain 401)", "tokens in Redis", stack, load, people,
                  stack.token_requests() - before, last_failure_after(load, revoked))


@scenario({"store": "redis", "instance_settings": {"Hosting__SignInStartsPerMinute": "60"}})
def anonymous_sign_in_flood(stack, load, people):
    before = stack.token_requests()
    flood = collections.Counter()
    lock = threading.Lock()
    stop = threading.Event()

    def hammer():
        while not stop.is_set():
            status = get(f"{stack.instances['A']}/auth/sign-in?returnUrl=/")[0]
            with lock:
                flood[status] += 1

    threads = [threading.Thread(target=hammer, daemon=True) for _ in range(4)]
    started = time.monotonic()
    for thread in threads:
        thread.start()
    time.sleep(10)
    stop.set()
    for thread in threads:
        thread.join()
    load.stop()
    starts = ", ".join(f"{status}: {count}" for status, count in sorted(flood.items()))
    return report("Anonymous sign-in flood from one address (10 s, 4 clients)", f"limit 60 a minute; the flood's starts: {starts}", stack, load, people,
                  stack.token_requests() - before, last_failure_after(load, started))


SCENARIOS = {
    "redis": redis_restarted_empty,
    "postgres": postgres_connections_terminated,
    "sigterm": sigterm_one_instance,
    "token-failing": token_endpoint_failing,
    "token-slow": token_endpoint_slow,
    "api-401": api_rejects_cached_tokens,
    "flood": anonymous_sign_in_flood,
}
TITLES = {
    "token-failing": ("Token endpoint answers 503 for 15 s, renewals due (refresh_in 5 s)", "sessions and tokens in Redis"),
    "token-slow": ("Token endpoint takes 30 s for 15 s, renewals due (refresh_in 5 s)", "sessions and tokens in Redis"),
}


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--users", type=int, default=30)
    parser.add_argument("--profile", choices=["debug", "release"], default="debug")
    parser.add_argument("--only", action="append", choices=sorted(SCENARIOS))
    args = parser.parse_args()
    rows = []
    for key, run in SCENARIOS.items():
        if args.only and key not in args.only:
            continue
        say(f"scenario {key}")
        row = run(args)
        if key in TITLES:
            row["scenario"], row["what"] = TITLES[key]
        rows.append(row)
        say(json.dumps(row))
    print(f"| scenario | set-up | page views | answers | users still signed in | token requests | recovery | p99 / max latency |")
    print("| --- | --- | --- | --- | --- | --- | --- | --- |")
    for row in rows:
        print(f"| {row['scenario']} | {row['what']} | {row['views']} | {row['answers']} | {row['signed_in']} | {row['token_requests']} | {row['recovery']} | {row['p99']} / {row['max']} |")


if __name__ == "__main__":
    main()
