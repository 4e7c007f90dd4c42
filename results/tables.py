#!/usr/bin/env python3
"""Prints the two tables of results/README.md from the committed sweep summaries.

Usage (from the repository root): python3 results/tables.py
Only the standard library; every figure in those tables comes from here.
"""
import csv
from collections import defaultdict

DROPS = ["0.00", "0.10", "0.20", "0.30", "0.40", "0.50"]


def load(path):
    table = defaultdict(dict)
    with open(path, newline="") as f:
        for row in csv.DictReader(f):
            table[row["network.drop_probability"]][row["metric"]] = row
    return table


def num(row, col):
    return float(row[col]) if row[col] not in ("", None) else float("nan")


def raft():
    t = load("results/sweep/raft/summary.csv")
    print("| drop | first leader p50 (ms) | leader elections (mean) | commit latency p50 (ms, median run) "
          "| commit latency p99 (ms, median run) | unavailable (ms, mean) | committed / submitted |")
    print("|---|---|---|---|---|---|---|")
    for d in DROPS:
        m = t[d]
        ratio = num(m["commands_committed"], "mean") / num(m["commands_submitted"], "mean")
        print(f"| {d} | {num(m['first_leader_us'], 'p50') / 1000:.0f} | {num(m['leader_elections'], 'mean'):.2f} "
              f"| {num(m['commit_latency_p50_us'], 'p50') / 1000:.1f} | {num(m['commit_latency_p99_us'], 'p50') / 1000:.1f} "
              f"| {num(m['unavailable_us'], 'mean') / 1000:.0f} | {100 * ratio:.1f} % |")


def eventual():
    t = load("results/sweep/eventual/summary.csv")
    print("| drop | convergence (ms, mean [95 % CI]) | convergence p50 / p99 (ms) | stale-read fraction (mean) "
          "| P(consistent) at 10 ms / 100 ms | messages per write |")
    print("|---|---|---|---|---|---|")
    for d in DROPS:
        m = t[d]
        c = m["convergence_us"]
        print(f"| {d} | {num(c, 'mean') / 1000:.1f} [{num(c, 'ci95_lo') / 1000:.1f}, {num(c, 'ci95_hi') / 1000:.1f}] "
              f"| {num(c, 'p50') / 1000:.1f} / {num(c, 'p99') / 1000:.1f} | {num(m['stale_read_fraction'], 'mean'):.3f} "
              f"| {num(m['tvis_p_consistent_10ms'], 'mean'):.3f} / {num(m['tvis_p_consistent_100ms'], 'mean'):.3f} "
              f"| {num(m['messages_per_write'], 'mean'):.2f} |")


if __name__ == "__main__":
    raft()
    print()
    eventual()
