"""catchup.csv -> catchup.svg (stdout): catch-up time against entries behind, log-log, one line
per (snapshots, window). Plain SVG, no plotting library."""
import csv
import math
import sys

rows = list(csv.DictReader(open(sys.argv[1])))
W, H, L, R, T, B = 640, 400, 70, 190, 30, 50
xs = [int(r["behind"]) for r in rows]
ys = [float(r["catchup_ms"]) for r in rows]
x0, x1 = math.log10(min(xs)) - 0.1, math.log10(max(xs)) + 0.1
y0, y1 = math.floor(math.log10(min(ys))), math.ceil(math.log10(max(ys)))


def px(v):
    return L + (math.log10(v) - x0) / (x1 - x0) * (W - L - R)


def py(v):
    return H - B - (math.log10(v) - y0) / (y1 - y0) * (H - T - B)


out = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{W}" height="{H}" font-family="sans-serif" font-size="12">',
       f'<rect width="{W}" height="{H}" fill="white"/>',
       f'<text x="{L}" y="18" font-size="14">Follower catch-up after a partition (3 nodes, 1 ms links)</text>']
for e in range(y0, y1 + 1):
    y = py(10 ** e)
    out.append(f'<line x1="{L}" y1="{y:.1f}" x2="{W - R}" y2="{y:.1f}" stroke="#ddd"/>')
    out.append(f'<text x="{L - 6}" y="{y + 4:.1f}" text-anchor="end">{10 ** e:g}</text>')
for v in sorted(set(xs)):
    x = px(v)
    out.append(f'<line x1="{x:.1f}" y1="{T}" x2="{x:.1f}" y2="{H - B}" stroke="#eee"/>')
    out.append(f'<text x="{x:.1f}" y="{H - B + 16}" text-anchor="middle">{v}</text>')
out.append(f'<text x="{(L + W - R) / 2}" y="{H - 10}" text-anchor="middle">entries behind at the heal</text>')
out.append(f'<text x="16" y="{(T + H - B) / 2}" transform="rotate(-90 16 {(T + H - B) / 2})" '
           'text-anchor="middle">catch-up time (ms)</text>')
series = [("0", "1", "#d62728", "no snapshots, stop-and-wait"), ("0", "8", "#ff7f0e", "no snapshots, window 8"),
          ("1000", "1", "#1f77b4", "snapshots, stop-and-wait"), ("1000", "8", "#2ca02c", "snapshots, window 8")]
for k, (snap, window, colour, label) in enumerate(series):
    pts = sorted((int(r["behind"]), float(r["catchup_ms"])) for r in rows
                 if r["snapshots"] == snap and r["window"] == window)
    path = " ".join(f"{px(x):.1f},{py(y):.1f}" for x, y in pts)
    dash = ' stroke-dasharray="5,3"' if window == "8" else ""
    out.append(f'<polyline points="{path}" fill="none" stroke="{colour}" stroke-width="2"{dash}/>')
    for x, y in pts:
        out.append(f'<circle cx="{px(x):.1f}" cy="{py(y):.1f}" r="3" fill="{colour}"/>')
    ly = T + 20 + 20 * k
    out.append(f'<line x1="{W - R + 10}" y1="{ly}" x2="{W - R + 30}" y2="{ly}" stroke="{colour}" stroke-width="2"{dash}/>')
    out.append(f'<text x="{W - R + 35}" y="{ly + 4}">{label}</text>')
out.append("</svg>")
print("\n".join(out))
