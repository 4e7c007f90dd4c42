"""Planned leadership transfer vs crashing the leader: what clients see. Standard library only.

Usage: measure.py TRACE.csv... > unavailability.csv ; also writes unavailability.svg beside this
script. Trace names: <transfer|crash>_<read_mode>_seed-<s>.csv. The fault fires at 2 s. Per run:
  gap_ms      the longest stretch in [1.9 s, 3.5 s] with no client `ok` row at all (the
              client-visible unavailability around the fault);
  failed      `fail` + `info` rows in that window;
  leader_ms   fault -> the next `role` row with value `leader` (a node of a newer term leads).
"""
import csv, os, re, sys
from collections import defaultdict

FAULT, LO, HI = 2_000_000, 1_900_000, 3_500_000
runs = defaultdict(list)
for path in sys.argv[1:]:
    m = re.search(r"(transfer|crash)_(\w+)_seed-(\d+)\.csv$", path)
    kind, mode = m.group(1), m.group(2)
    last_ok, gap, failed, leader_at = LO, 0, 0, None
    for r in csv.DictReader(open(path)):
        t, ev = int(r["time_us"]), r["event"]
        if t < LO:
            continue
        if t > HI:
            break
        if ev == "ok":
            gap = max(gap, t - last_ok)
            last_ok = t
        elif ev in ("fail", "info"):
            failed += 1
        elif ev == "role" and r["value"] == "leader" and t >= FAULT and leader_at is None:
            leader_at = t
    gap = max(gap, HI - last_ok)
    runs[(kind, mode)].append((gap / 1000, failed, ((leader_at or HI) - FAULT) / 1000))

print("fault,read_mode,runs,gap_ms_mean,gap_ms_p50,gap_ms_max,failed_mean,new_leader_ms_mean")
rows = []
for (kind, mode), rs in sorted(runs.items(), key=lambda kv: (kv[0][1], kv[0][0] != "transfer")):
    n = len(rs)
    gaps = sorted(r[0] for r in rs)
    mean = lambda i: sum(r[i] for r in rs) / n
    rows.append((kind, mode, mean(0), gaps[-1]))
    print(f"{kind},{mode},{n},{mean(0):.1f},{gaps[(n - 1) // 2]:.1f},{gaps[-1]:.1f},{mean(1):.2f},{mean(2):.1f}")

# A hand-written SVG: mean (bar) and max (tick) client-visible gap per read mode and fault.
W, H, L, B = 640, 400, 70, 60
ymax = max(r[3] for r in rows) * 1.1 or 1
modes = sorted({r[1] for r in rows})
bw = (W - L - 20) / (len(modes) * 3)
parts = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{W}" height="{H}" font-family="sans-serif" font-size="12">',
         f'<rect width="{W}" height="{H}" fill="white"/>',
         f'<text x="{W/2}" y="18" text-anchor="middle">Longest time with no client answer around the fault (bar: mean, tick: max)</text>',
         f'<line x1="{L}" y1="{H-B}" x2="{W-10}" y2="{H-B}" stroke="black"/>',
         f'<line x1="{L}" y1="30" x2="{L}" y2="{H-B}" stroke="black"/>']
for k in range(6):
    y = H - B - (H - B - 30) * k / 5
    parts.append(f'<text x="{L-5}" y="{y+4:.1f}" text-anchor="end">{ymax*k/5:.0f}</text>')
parts.append(f'<text x="15" y="{H/2}" transform="rotate(-90 15 {H/2})" text-anchor="middle">ms</text>')
scale = lambda v: (H - B - 30) * v / ymax
for i, mode in enumerate(modes):
    x0 = L + bw * (3 * i + 0.5)
    parts.append(f'<text x="{x0+bw:.1f}" y="{H-B+18}" text-anchor="middle">read_mode {mode}</text>')
    for j, (kind, color) in enumerate([("transfer", "#1f77b4"), ("crash", "#d62728")]):
        r = next((r for r in rows if r[0] == kind and r[1] == mode), None)
        if r is None:
            continue
        h, tick = scale(r[2]), H - B - scale(r[3])
        x = x0 + j * bw
        parts.append(f'<rect x="{x:.1f}" y="{H-B-h:.1f}" width="{bw*0.9:.1f}" height="{h:.1f}" fill="{color}"/>')
        parts.append(f'<line x1="{x:.1f}" y1="{tick:.1f}" x2="{x+bw*0.9:.1f}" y2="{tick:.1f}" stroke="black" stroke-width="2"/>')
        parts.append(f'<text x="{x+bw*0.45:.1f}" y="{tick-4:.1f}" text-anchor="middle">{r[2]:.0f}</text>')
parts.append(f'<rect x="{W-170}" y="40" width="12" height="12" fill="#1f77b4"/><text x="{W-152}" y="51">transfer</text>')
parts.append(f'<rect x="{W-170}" y="60" width="12" height="12" fill="#d62728"/><text x="{W-152}" y="71">crash the leader</text>')
parts.append("</svg>")
open(os.path.join(os.path.dirname(os.path.abspath(__file__)), "unavailability.svg"), "w").write("\n".join(parts) + "\n")
