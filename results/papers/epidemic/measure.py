"""Rounds to full spread per dsim run: the last replica state change lands ~2–3 ms into round k
(anti-entropy timers fire together every 1000 ms; the heal is at 500 ms, which convergence_us
counts from), so rounds = floor((convergence_us + 500000) / 1e6)."""
import csv, sys
from collections import Counter
rows = list(csv.DictReader(open(sys.argv[1])))
rs = [int((int(r["convergence_us"]) + 500_000) // 1_000_000) for r in rows if r["convergence_us"]]
c = Counter(rs)
print(sys.argv[2], len(rows), len(rs), f"{sum(rs)/len(rs):.3f}", " ".join(f"{k}:{v/len(rs):.3f}" for k, v in sorted(c.items())))
