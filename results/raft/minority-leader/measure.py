"""A leader cut off with a minority: how long it keeps leading and taking commands, and what it
serves from its lease, with and without CheckQuorum. Only python3's standard library.

Usage: measure.py TRACE.csv... > minority.csv ; also writes minority.svg beside this script.
Trace names: cq-<false|true>_drift-<d>_seed-<s>.csv (with <s>.violations beside: the
`dsim run` violation count). The cut is the `partition` row named `minority`; the old leader is
the node leading then. Per run:
  leading_ms   cut -> the old leader's next `role` row (it steps down or learns a newer term);
  accepted     client commands it appended after the cut (`append` rows with a key): commands
               that can never commit there (clients see them time out, `info`);
  lease_reads  reads it answered from its lease after the cut (`read` rows, detail `... lease`);
  violations   checker violations in the run (a stale lease read would be `linearizable`).
"""
import csv, os, re, sys
from collections import defaultdict

runs = defaultdict(list)
for path in sys.argv[1:]:
    m = re.search(r"cq-(\w+)_drift-([\d.]+)_seed-(\d+)\.csv$", path)
    cq, drift = m.group(1), m.group(2)
    cut = None
    leader = {}
    old = None
    end = None
    accepted = lease_reads = 0
    for r in csv.DictReader(open(path)):
        t, ev, node = int(r["time_us"]), r["event"], r["node"]
        if cut is None:
            if ev == "role":
                leader[node] = r["value"] == "leader"
            elif ev == "partition" and r["msg"] == "minority":
                cut = t
                old = next((n for n, l in sorted(leader.items()) if l), None)
            continue
        if node != old or end is not None:
            continue
        if ev == "role":
            end = t
        elif ev == "append" and r["key"]:
            accepted += 1
        elif ev == "read" and r["detail"].endswith(" lease"):
            lease_reads += 1
    if old is None:
        continue
    heal = cut + 3_000_000
    leading_ms = (min(end, heal) if end is not None else heal) - cut
    violations = int(open(path[:-4] + ".violations").read().strip() or 0)
    runs[(cq, drift)].append((leading_ms / 1000, accepted, lease_reads, violations))

print("check_quorum,drift_max,runs,leading_ms_mean,leading_ms_max,accepted_mean,lease_reads_mean,runs_with_violations")
rows = []
for (cq, drift), rs in sorted(runs.items(), key=lambda kv: (kv[0][0], float(kv[0][1]))):
    n = len(rs)
    mean = lambda i: sum(r[i] for r in rs) / n
    bad = sum(1 for r in rs if r[3] > 0)
    rows.append((cq, drift, mean(0), max(r[0] for r in rs), mean(1)))
    print(f"{cq},{drift},{n},{mean(0):.1f},{max(r[0] for r in rs):.1f},{mean(1):.1f},{mean(2):.1f},{bad}")

# A hand-written SVG: mean time the cut-off leader keeps leading, per drift, both settings.
W, H, L, B = 640, 400, 70, 60
ymax = max(r[2] for r in rows) * 1.1 or 1
drifts = sorted({r[1] for r in rows}, key=float)
bw = (W - L - 20) / (len(drifts) * 3)
parts = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{W}" height="{H}" font-family="sans-serif" font-size="12">',
         f'<rect width="{W}" height="{H}" fill="white"/>',
         f'<text x="{W/2}" y="18" text-anchor="middle">Minority leader: time it keeps leading after the cut (mean)</text>',
         f'<line x1="{L}" y1="{H-B}" x2="{W-10}" y2="{H-B}" stroke="black"/>',
         f'<line x1="{L}" y1="30" x2="{L}" y2="{H-B}" stroke="black"/>']
for k in range(6):
    v = ymax * k / 5
    y = H - B - (H - B - 30) * k / 5
    parts.append(f'<text x="{L-5}" y="{y+4:.1f}" text-anchor="end">{v:.0f}</text>')
parts.append(f'<text x="15" y="{H/2}" transform="rotate(-90 15 {H/2})" text-anchor="middle">ms</text>')
for i, d in enumerate(drifts):
    x0 = L + bw * (3 * i + 0.5)
    parts.append(f'<text x="{x0+bw:.1f}" y="{H-B+18}" text-anchor="middle">drift_max {d}</text>')
    for j, (cq, color) in enumerate([("false", "#d62728"), ("true", "#1f77b4")]):
        r = next((r for r in rows if r[0] == cq and r[1] == d), None)
        if r is None:
            continue
        h = (H - B - 30) * r[2] / ymax
        parts.append(f'<rect x="{x0+j*bw:.1f}" y="{H-B-h:.1f}" width="{bw*0.9:.1f}" height="{h:.1f}" fill="{color}"/>')
        parts.append(f'<text x="{x0+j*bw+bw*0.45:.1f}" y="{H-B-h-4:.1f}" text-anchor="middle">{r[2]:.0f}</text>')
parts.append(f'<rect x="{W-190}" y="40" width="12" height="12" fill="#d62728"/><text x="{W-172}" y="51">check_quorum = false</text>')
parts.append(f'<rect x="{W-190}" y="60" width="12" height="12" fill="#1f77b4"/><text x="{W-172}" y="71">check_quorum = true</text>')
parts.append("</svg>")
open(os.path.join(os.path.dirname(os.path.abspath(__file__)), "minority.svg"), "w").write("\n".join(parts) + "\n")
