#!/usr/bin/env python3
"""Turns the measurements of scripts/bench.sh into its Markdown table.

    report.py RESULTS_TSV BASELINE

RESULTS_TSV has one line a measured load run: system, round, connections,
requests, seconds, p50 (ms), p99 (ms), CPU seconds of the system under
test, RSS (kB) after 10 users, RSS (kB) after all users, users, errors
(non-2xx answers and wrk's socket errors, timeouts included). Each
system ran twice, interleaved: the table gives the median of the runs
(with two runs, their mean) and their spread, and each system's CPU per
request against BASELINE's (the ceiling).
"""
import statistics
import sys


def spread(values, fmt):
    low, high = fmt.format(min(values)), fmt.format(max(values))
    return low if low == high else f"{low}–{high}"


def cpu(measured, median):
    """The median CPU per request, and the runs' spread when they differ."""
    values = [run["cpu_us"] for run in measured]
    text = f"{median['cpu_us']:.0f}"
    return text if round(min(values)) == round(max(values)) else f"{text} ({spread(values, '{:.0f}')})"


def main(path, baseline):
    runs = {}
    order = []
    with open(path, encoding="utf-8") as lines:
        for line in lines:
            system, _round, connections, requests, seconds, p50, p99, cpu_seconds, rss10, rss_all, users, errors = line.rstrip("\n").split("\t")
            key = (system, int(connections))
            if system not in order:
                order.append(system)
            runs.setdefault(key, []).append({
                "rps": int(requests) / float(seconds),
                "p50": float(p50),
                "p99": float(p99),
                "cpu_us": float(cpu_seconds) * 1e6 / max(1, int(requests)),
                "rss10": int(rss10),
                "rss_all": int(rss_all),
                "users": int(users),
                "errors": int(errors),
            })
    connection_counts = sorted({connections for _, connections in runs})
    print("| system | connections | requests/s | p50 ms | p99 ms | CPU µs/request (system under test) | vs ceiling | errors | RSS MB, 10 users | RSS MB, all users |")
    print("| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |")
    for system in order:
        for connections in connection_counts:
            measured = runs.get((system, connections))
            if not measured:
                continue
            median = {name: statistics.median(run[name] for run in measured) for name in measured[0]}
            base = runs.get((baseline, connections))
            ratio = f"{median['cpu_us'] / statistics.median(run['cpu_us'] for run in base):.2f}x" if base else "—"
            rss = lambda name: spread([run[name] / 1024 for run in measured], "{:.1f}")
            users = measured[0]["users"]
            print(
                f"| {system} | {connections} | {spread([run['rps'] for run in measured], '{:.0f}')} | "
                f"{spread([run['p50'] for run in measured], '{:.2f}')} | {spread([run['p99'] for run in measured], '{:.2f}')} | "
                f"{cpu(measured, median)} | {ratio} | {sum(run['errors'] for run in measured)} | "
                f"{rss('rss10') if users else '—'} | {rss('rss_all') + (f' ({users} users)' if users else ' (no sessions)')} |"
            )


if __name__ == "__main__":
    if len(sys.argv) != 3:
        sys.exit(__doc__)
    main(sys.argv[1], sys.argv[2])
