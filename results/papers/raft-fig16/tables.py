#!/usr/bin/env python3
"""Prints README.md's tables, and the figures its prose quotes, from the committed summaries.

Usage (from anywhere): python3 results/papers/raft-fig16/tables.py
Only the standard library. Reads main/summary.csv, lan/summary.csv and disk/summary.csv (written
by run.sh); every number in README.md's tables and paragraphs comes from here, except the seed-3
trace, which README.md shows the command for.

Numbers: below 100 with one decimal, from 100 up rounded to whole ms with a space between
thousands (as in the summaries, times are ms over the runs whose set-up held and that elected a
leader).
"""
import csv
import os

HERE = os.path.dirname(os.path.abspath(__file__))
VARIANTS = ["main", "lan", "disk"]
TOP = ["150-151", "150-155", "150-175", "150-200", "150-300"]
ALL = TOP + ["12-24", "25-50", "50-100", "100-200"]
TAIL_S = 60  # gen.sh: 150-150 and 150-151 run 60 s after the crash


def load(variant):
    with open(os.path.join(HERE, variant, "summary.csv"), newline="") as f:
        # 150-300 appears in both groups with the same numbers; the first is kept.
        rows = {}
        for r in csv.DictReader(f):
            rows.setdefault(r["curve"], r)
        return rows


S = {v: load(v) for v in VARIANTS}


def val(variant, curve, col):
    x = S[variant][curve][col]
    return float(x) if x != "" else None


def fmt(x):
    if x is None:
        return "–"
    if x < 100:
        return f"{x:.1f}"
    return f"{int(x + 0.5):,}".replace(",", " ")  # half up


def dash(curve):
    return curve.replace("-", "–")


def note(variant, curve):
    """A remark when some runs of the curve are not in its statistics."""
    r = S[variant][curve]
    runs, held = int(r["runs"]), int(r["setup_held"])
    return f" (over the {held} of {runs} runs whose set-up held)" if held < runs else ""


def smallest(variant, curves):
    mins = [val(variant, c, "min_ms") for c in curves if val(variant, c, "min_ms") is not None]
    return min(mins)


def statements():
    print("| statement | paper | dsim `main/` (6–9 ms one way) | dsim `lan/` (0.5–1 ms one way) "
          "| dsim `disk/` (0.5–1 ms + 7 ms fsync) |")
    print("|---|---|---|---|---|")
    cells = []
    for v in VARIANTS:
        r = S[v]["150-150"]
        cells.append(f"no leader within {TAIL_S} s in {r['not_elected']} of {r['setup_held']}")
    print("| 150–150: downtime | > 10 s in every trial (100) | " + " | ".join(cells) + " |")
    rows = [
        ("150–155: median", "287 ms", "150-155", "p50_ms"),
        ("150–200: maximum of 1000", "513 ms", "150-200", "max_ms"),
        ("12–24: mean", "35 ms", "12-24", "mean_ms"),
        ("12–24: maximum of 1000", "152 ms", "12-24", "max_ms"),
    ]
    for label, paper, curve, col in rows:
        cells = [f"{fmt(val(v, curve, col))} ms{note(v, curve)}" for v in VARIANTS]
        print(f"| {label} | {paper} | " + " | ".join(cells) + " |")
    cells = [f"{fmt(smallest(v, TOP))} ms, {fmt(smallest(v, ['12-24']))} ms" for v in VARIANTS]
    print("| smallest downtime ≈ half the minimum timeout | 75 ms (150), 6 ms (12) | " + " | ".join(cells) + " |")


def all_curves():
    cols = ["p50_ms", "mean_ms", "p90_ms", "max_ms"]
    names = ["p50", "mean", "p90", "max"]
    head = [f"{v} {n}" for v in ("main", "lan") for n in names]
    print("| curve | " + " | ".join(head) + " |")
    print("|---" * (len(head) + 1) + "|")
    for c in ALL:
        cells = []
        for v in ("main", "lan"):
            r = S[v][c]
            for col in cols:
                if col == "max_ms" and int(r["not_elected"]) > 0:
                    cells.append(f"({r['not_elected']} of {r['setup_held']} no leader in {TAIL_S} s)")
                else:
                    cells.append(fmt(val(v, c, col)))
        print(f"| {dash(c)} | " + " | ".join(cells) + " |")


def prose():
    """The figures README.md's paragraphs quote, each with what it is."""
    print("figures quoted in the prose:")
    for v in VARIANTS:
        held = sum(int(r["setup_held"]) for r in S[v].values() if r["group"] != "bottom" or r["curve"] != "150-300")
        runs = sum(int(r["runs"]) for r in S[v].values() if r["group"] != "bottom" or r["curve"] != "150-300")
        short = [f"{c} {r['setup_held']}/{r['runs']}" for c, r in S[v].items() if r["setup_held"] != r["runs"]]
        print(f"  {v}: set-up held in {held} of {runs} distinct runs (150–300 is in both graphs)" + (f" (short: {', '.join(short)})" if short else ""))
    for v in VARIANTS:
        seq = [val(v, c, "p90_ms") for c in TOP]
        falls = all(a > b for a, b in zip(seq, seq[1:]))
        print(f"  {v}: p90 from 150–151 to 150–300: {', '.join(fmt(x) for x in seq)} ms; falls at every step: {falls}")
    for v in VARIANTS:
        seq = [val(v, c, "max_ms") for c in TOP]
        falls = [a > b for a, b in zip(seq, seq[1:])]
        print(f"  {v}: max from 150–151 to 150–300: {', '.join(fmt(x) for x in seq)} ms; each step falls: {falls}")
    for v in VARIANTS:
        seq = [val(v, c, "p50_ms") for c in TOP]
        print(f"  {v}: p50 from 150–151 to 150–300: {', '.join(fmt(x) for x in seq)} ms")
    for v in VARIANTS:
        seq = [val(v, c, "mean_ms") for c in ["12-24", "25-50", "50-100", "100-200", "150-300"]]
        print(f"  {v}: mean 12–24, 25–50, 50–100, 100–200, 150–300: {', '.join(fmt(x) for x in seq)} ms")
    worst = []
    for c in ALL:
        for col in ("p50_ms", "mean_ms"):
            d = val("disk", c, col) / val("main", c, col) - 1
            if abs(d) > 0.15:
                worst.append(f"{c} {col} {100 * d:+.0f} %")
    print(f"  disk/ against main/, mean and median off by more than 15 %: {', '.join(worst) or 'none'}")
    quoted = [("150-155", "p50_ms", 287), ("150-200", "max_ms", 513), ("12-24", "mean_ms", 35), ("12-24", "max_ms", 152)]
    for v in VARIANTS:
        within = [f"{c} {col}: {fmt(val(v, c, col))} vs {p} ({100 * (val(v, c, col) / p - 1):+.0f} %)"
                  for c, col, p in quoted]
        n = sum(abs(val(v, c, col) / p - 1) <= 0.15 for c, col, p in quoted)
        print(f"  {v}: {n} of 4 quoted numbers within 15 %: {'; '.join(within)}")
    between = all(val("lan", c, col) < p < min(val("main", c, col), val("disk", c, col)) for c, col, p in quoted)
    print(f"  every quoted number lies between lan/ below and main/, disk/ above: {between}")


if __name__ == "__main__":
    statements()
    print()
    all_curves()
    print()
    prose()
