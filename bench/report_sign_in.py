#!/usr/bin/env python3
"""Turns the measurements of bench/sign-in.sh into its Markdown table.

    report_sign_in.py RESULTS_TSV BASELINE

RESULTS_TSV has one line a measured run: system, round, then the driver's
line (completed, failed, seconds, sign-ins per second, p50, p99 and max
ms), then the CPU seconds of the system before and after, and its RSS (kB)
after. Each system ran twice, interleaved: cells give the median (with two
runs, their mean) and the runs' range; CPU per completed sign-in is
compared with BASELINE's (the ceiling).
"""
import statistics
import sys


def spread(values, fmt):
    low, high = fmt.format(min(values)), fmt.format(max(values))
    return low if low == high else f"{low}–{high}"


def cpu_cell(measured, median):
    """The median CPU per sign-in, and the runs' range when they differ."""
    values = [run["cpu_ms"] for run in measured]
    text = f"{median:.2f}"
    return text if f"{min(values):.2f}" == f"{max(values):.2f}" else f"{text} ({spread(values, '{:.2f}')})"


def main(path, baseline):
    runs, order = {}, []
    with open(path, encoding="utf-8") as lines:
        for line in lines:
            system, _round, completed, failed, seconds, rate, p50, p99, worst, before, after, rss = line.rstrip("\n").split("\t")
            if system not in order:
                order.append(system)
            runs.setdefault(system, []).append({
                "completed": int(completed), "failed": int(failed), "rate": float(rate), "p50": float(p50), "p99": float(p99),
                "cpu_ms": (float(after) - float(before)) * 1000 / max(1, int(completed)), "rss": int(rss) / 1024,
            })
    base = statistics.median(run["cpu_ms"] for run in runs[baseline]) if baseline in runs else None
    print("| system | completed (failed) | sign-ins/s | p50 ms | p99 ms | CPU ms per sign-in (system) | vs ceiling | RSS MB after |")
    print("| --- | --- | --- | --- | --- | --- | --- | --- |")
    for system in order:
        measured = runs[system]
        cpu = statistics.median(run["cpu_ms"] for run in measured)
        ratio = f"{cpu / base:.2f}x" if base else "—"
        completed = sum(run["completed"] for run in measured)
        failed = sum(run["failed"] for run in measured)
        print(
            f"| {system} | {completed} ({failed}) | {spread([r['rate'] for r in measured], '{:.0f}')} | "
            f"{spread([r['p50'] for r in measured], '{:.1f}')} | {spread([r['p99'] for r in measured], '{:.1f}')} | "
            f"{cpu_cell(measured, cpu)} | {ratio} | {spread([r['rss'] for r in measured], '{:.1f}')} |"
        )


if __name__ == "__main__":
    if len(sys.argv) != 3:
        sys.exit(__doc__)
    main(sys.argv[1], sys.argv[2])
