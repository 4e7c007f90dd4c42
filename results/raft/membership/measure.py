"""Unavailability during membership changes under loss: what clients see. Standard library only.

Usage: measure.py TRACE.csv... > unavailability.csv ; also writes unavailability.svg beside this
script. Trace names: <add|remove|baseline>_loss-<percent>_seed-<s>.csv. The change fires at 2 s.
Per run:
  gap_ms      the longest stretch in [1.9 s, 3.5 s] with no client `ok` row at all (the
              client-visible unavailability around the change; the same window as
              results/raft/transfer-vs-crash);
  failed      `fail` + `info` rows in that window;
  commit_ms   2 s -> the first `apply` row of a configuration entry (the change committed and
              applied somewhere); runs where it did not happen by 3.5 s count as not done;
  aborted     whether the leader aborted the addition (`membership add … aborted` note).
"""
import csv, os, re, sys
from collections import defaultdict

FAULT, LO, HI = 2_000_000, 1_900_000, 3_500_000
runs = defaultdict(list)
for path in sys.argv[1:]:
    m = re.search(r"(add|remove|baseline)_loss-(\d+)_seed-(\d+)\.csv$", path)
    kind, loss = m.group(1), int(m.group(2))
    last_ok, gap, failed, commit_at, aborted = LO, 0, 0, None, False
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
        elif ev == "apply" and r["msg"] == "config" and t >= FAULT and commit_at is None:
            commit_at = t
        elif ev == "note" and "aborted" in r["detail"]:
            aborted = True
    gap = max(gap, HI - last_ok)
    commit_ms = None if commit_at is None else (commit_at - FAULT) / 1000
    runs[(kind, loss)].append((gap / 1000, failed, commit_ms, aborted))

KINDS = ["baseline", "add", "remove"]
print("change,loss_percent,runs,gap_ms_mean,gap_ms_p50,gap_ms_max,failed_mean,committed_runs,commit_ms_mean,aborted_runs")
rows = []
for (kind, loss), rs in sorted(runs.items(), key=lambda kv: (kv[0][1], KINDS.index(kv[0][0]))):
    n = len(rs)
    gaps = sorted(r[0] for r in rs)
    mean = lambda xs: sum(xs) / len(xs) if xs else float("nan")
    commits = [r[2] for r in rs if r[2] is not None]
    rows.append((kind, loss, mean(gaps), gaps[-1]))
    commit = f"{mean(commits):.1f}" if commits else "-"
    print(f"{kind},{loss},{n},{mean(gaps):.1f},{gaps[(n - 1) // 2]:.1f},{gaps[-1]:.1f},"
          f"{mean([r[1] for r in rs]):.2f},{len(commits)},{commit},{sum(r[3] for r in rs)}")

# A hand-written SVG: mean (bar) and max (tick) client-visible gap per loss rate and change.
W, H, L, B = 680, 400, 70, 60
ymax = max(r[3] for r in rows) * 1.1 or 1
losses = sorted({r[1] for r in rows})
bw = (W - L - 20) / (len(losses) * 4)
colors = {"baseline": "#7f7f7f", "add": "#1f77b4", "remove": "#d62728"}
parts = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{W}" height="{H}" font-family="sans-serif" font-size="12">',
         f'<rect width="{W}" height="{H}" fill="white"/>',
         f'<text x="{W/2}" y="18" text-anchor="middle">Longest time with no client answer around the change (bar: mean, tick: max)</text>',
         f'<line x1="{L}" y1="{H-B}" x2="{W-10}" y2="{H-B}" stroke="black"/>',
         f'<line x1="{L}" y1="30" x2="{L}" y2="{H-B}" stroke="black"/>']
for k in range(6):
    y = H - B - (H - B - 30) * k / 5
    parts.append(f'<text x="{L-5}" y="{y+4:.1f}" text-anchor="end">{ymax*k/5:.0f}</text>')
parts.append(f'<text x="15" y="{H/2}" transform="rotate(-90 15 {H/2})" text-anchor="middle">ms</text>')
scale = lambda v: (H - B - 30) * v / ymax
for i, loss in enumerate(losses):
    x0 = L + bw * (4 * i + 0.5)
    parts.append(f'<text x="{x0+1.5*bw:.1f}" y="{H-B+18}" text-anchor="middle">loss {loss} %</text>')
    for j, kind in enumerate(KINDS):
        r = next((r for r in rows if r[0] == kind and r[1] == loss), None)
        if r is None:
            continue
        h, tick = scale(r[2]), H - B - scale(r[3])
        x = x0 + j * bw
        parts.append(f'<rect x="{x:.1f}" y="{H-B-h:.1f}" width="{bw*0.9:.1f}" height="{h:.1f}" fill="{colors[kind]}"/>')
        parts.append(f'<line x1="{x:.1f}" y1="{tick:.1f}" x2="{x+bw*0.9:.1f}" y2="{tick:.1f}" stroke="black" stroke-width="2"/>')
        parts.append(f'<text x="{x+bw*0.45:.1f}" y="{tick-4:.1f}" text-anchor="middle">{r[2]:.0f}</text>')
for j, kind in enumerate(KINDS):
    label = {"baseline": "no change", "add": "add n4", "remove": "remove the leader"}[kind]
    parts.append(f'<rect x="{W-170}" y="{40+20*j}" width="12" height="12" fill="{colors[kind]}"/><text x="{W-152}" y="{51+20*j}">{label}</text>')
parts.append("</svg>")
open(os.path.join(os.path.dirname(os.path.abspath(__file__)), "unavailability.svg"), "w").write("\n".join(parts) + "\n")
