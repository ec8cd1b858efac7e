#!/usr/bin/env python3
"""Start-up time for scripts/bench.sh: from spawning a server to its first
200 answer, several times over. Standard library only.

    startup.py RUNS URL -- COMMAND [ARGS...]
        spawns COMMAND (with this environment) RUNS times; each time asks
        URL (plain http) every millisecond from the moment of the spawn
        until it answers 200, then stops the server (SIGTERM, then SIGKILL
        after 10 s). Prints one line: runs, median, min and max in ms, and
        each run's time.

The time includes everything a real start pays: exec, the dynamic loader,
reading configuration, building the app, binding the socket and the first
request. A connection refused is the server not listening yet.
"""
import http.client
import signal
import statistics
import subprocess
import sys
import time
import urllib.parse

LIMIT_SECONDS = 30


def first_200(url, started, process):
    parts = urllib.parse.urlsplit(url)
    path = parts.path or "/"
    while True:
        if process.poll() is not None:
            sys.exit(f"the server exited with {process.returncode} before answering")
        if time.perf_counter() - started > LIMIT_SECONDS:
            sys.exit(f"{url} did not answer 200 within {LIMIT_SECONDS} s")
        connection = http.client.HTTPConnection(parts.hostname, parts.port, timeout=1)
        try:
            connection.request("GET", path)
            if connection.getresponse().status == 200:
                return time.perf_counter() - started
        except OSError:
            pass
        finally:
            connection.close()
        time.sleep(0.001)


def main(argv):
    if len(argv) < 5 or argv[3] != "--":
        sys.exit(__doc__)
    runs, url, command = int(argv[1]), argv[2], argv[4:]
    times = []
    for _ in range(runs):
        started = time.perf_counter()
        process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        try:
            times.append(first_200(url, started, process) * 1000)
        finally:
            process.send_signal(signal.SIGTERM)
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
    each = " ".join(f"{value:.1f}" for value in times)
    print(f"{runs}\t{statistics.median(times):.1f}\t{min(times):.1f}\t{max(times):.1f}\t{each}")


if __name__ == "__main__":
    main(sys.argv)
