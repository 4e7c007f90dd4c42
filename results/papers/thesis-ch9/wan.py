"""Election times on the thesis's simulated WAN: dsim against AvailSim's published CDFs.

Usage: wan.py PUBLISHED.csv SWEEP_DIR... > wan.csv ; also writes wan.svg beside this script.
Each SWEEP_DIR is `dsim sweep` output of gen-wan.sh, named wan-f<FAILED>; the election time of a
run is its `first_leader_us` (every server starts with a fresh timer at 0, as in AvailSim).
PUBLISHED.csv is digitise.py's reading of the thesis's Figure 9.9. Quantiles are nearest-rank.
Only python3's standard library.
"""
import csv, os, re, sys

pub = {}
for r in csv.DictReader(open(sys.argv[1])):
    pub.setdefault(int(r["failed"]), {})[r["stat"]] = float(r["ms"])

dsim = {}
for d in sys.argv[2:]:
    f = int(re.fullmatch(r"wan-f(\d)", os.path.basename(d.rstrip("/"))).group(1))
    rows = list(csv.DictReader(open(os.path.join(d, "runs.csv"))))
    times = sorted(int(r["first_leader_us"]) / 1000 for r in rows if r["first_leader_us"])
    assert len(times) == len(rows), f"{d}: {len(rows) - len(times)} runs elected no leader"
    changed = sum(r["leader_elections"] != "1" for r in rows)
    n = len(times)
    q = lambda p: times[max(0, -(-round(p * n * 1000) // 1000) - 1)]
    st = {"mean": sum(times) / n, "max": times[-1]}
    for k in pub[f]:
        if k.startswith("p"):
            st[k] = q(float(k[1:]) / 100)
    dsim[f] = (st, n, changed)

SHOW = ["mean", "p10", "p25", "p50", "p75", "p90", "p99", "p99.9", "max"]
print("failed,stat,published_ms,dsim_ms,diff_pct,dsim_runs,dsim_runs_with_a_second_leader")
for f in sorted(dsim):
    st, n, changed = dsim[f]
    for k in SHOW:
        a, b = pub[f][k], st[k]
        print(f"{f},{k},{a:.0f},{b:.0f},{100 * (b - a) / a:+.1f},{n},{changed}")

# A hand-written SVG: the CDFs, published (digitised, dashed) and dsim (solid), 0-3000 ms.
W, H, L, B, T, R = 640, 400, 60, 50, 30, 20
X = lambda ms: L + (W - L - R) * ms / 3000
Y = lambda p: T + (H - T - B) * (1 - p)
COL = {0: "#F8766D", 1: "#00BA38", 2: "#619CFF"}
out = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{W}" height="{H}" font-family="sans-serif" font-size="12">',
       f'<rect width="{W}" height="{H}" fill="white"/>',
       f'<text x="{W / 2}" y="18" text-anchor="middle" font-size="14">WAN election time, 5 servers: thesis Fig. 9.9 (dashed, digitised) and dsim (solid)</text>',
       f'<rect x="{L}" y="{T}" width="{W - L - R}" height="{H - T - B}" fill="none" stroke="#888"/>']
for ms in range(0, 3001, 500):
    out.append(f'<text x="{X(ms):.1f}" y="{H - B + 16}" text-anchor="middle">{ms}</text>')
for p in (0, 0.25, 0.5, 0.75, 1):
    out.append(f'<text x="{L - 6}" y="{Y(p) + 4:.1f}" text-anchor="end">{p:g}</text>')
out.append(f'<text x="{W / 2}" y="{H - 12}" text-anchor="middle">election time (ms)</text>')
for f in sorted(dsim):
    ps = [k for k in pub[f] if k.startswith("p")]
    pts = " ".join(f"{X(min(pub[f][k], 3000)):.1f},{Y(float(k[1:]) / 100):.1f}" for k in ps)
    out.append(f'<polyline points="{pts}" fill="none" stroke="{COL[f]}" stroke-dasharray="5,3"/>')
    pts = " ".join(f"{X(min(dsim[f][0][k], 3000)):.1f},{Y(float(k[1:]) / 100):.1f}" for k in ps)
    out.append(f'<polyline points="{pts}" fill="none" stroke="{COL[f]}"/>')
    out.append(f'<text x="{X(2000)}" y="{Y(0.5) + 16 * f:.1f}" fill="{COL[f]}">{f} failed</text>')
out.append("</svg>")
open(os.path.join(os.path.dirname(os.path.abspath(__file__)), "wan.svg"), "w").write("\n".join(out) + "\n")
