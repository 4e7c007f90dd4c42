"""Draws memory.svg from memory.csv (run.sh): peak RSS (MiB) against events handled, log-log,
one line per (build, overrides): before = main at issue 15's start, after = this tree with and
without log compaction."""
import csv
import math
import sys

COLORS = ["#d62728", "#1f77b4", "#2ca02c", "#9467bd"]


def main():
    lines = {}
    with open(sys.argv[1]) as f:
        for r in csv.DictReader(f):
            sets = r["set"] or ("snapshots_off" if r["build"] == "after" else "")
            label = f'{r["build"]} ({r["commit"]}{", " + sets if sets else ""})'
            lines.setdefault((r["build"], label), []).append((int(r["events"]), int(r["peak_rss_kib"]) / 1024))
    W, H, L, R, T, B = 640, 420, 70, 220, 40, 50
    xs = [x for line in lines.values() for x, _ in line]
    ys = [y for line in lines.values() for _, y in line]
    x0, x1 = math.log10(min(xs)), math.log10(max(xs))
    y0, y1 = math.floor(math.log10(min(ys))), math.ceil(math.log10(max(ys)))
    px = lambda x: L + (math.log10(x) - x0) / (x1 - x0) * (W - L - R)
    py = lambda y: H - B - (math.log10(y) - y0) / (y1 - y0) * (H - T - B)
    out = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{W}" height="{H}" font-family="sans-serif" font-size="12">',
           f'<rect width="{W}" height="{H}" fill="white"/>',
           f'<text x="{W / 2 - R / 2}" y="20" text-anchor="middle" font-size="14">Peak RSS vs run length, default Raft scenario</text>',
           f'<text x="{(L + W - R) / 2}" y="{H - 10}" text-anchor="middle">events handled (log)</text>',
           f'<text transform="translate(16,{(T + H - B) / 2}) rotate(-90)" text-anchor="middle">peak RSS (MiB, log)</text>']
    for x in sorted(set(xs)):
        out.append(f'<line x1="{px(x):.1f}" y1="{T}" x2="{px(x):.1f}" y2="{H - B}" stroke="#eee"/>')
        out.append(f'<text x="{px(x):.1f}" y="{H - B + 16}" text-anchor="middle">{x:.0e}</text>')
    for e in range(y0, y1 + 1):
        for m in (1, 2, 5):
            y = m * 10 ** e
            if 10 ** y0 <= y <= 10 ** y1:
                out.append(f'<line x1="{L}" y1="{py(y):.1f}" x2="{W - R}" y2="{py(y):.1f}" stroke="#eee"/>')
                out.append(f'<text x="{L - 6}" y="{py(y) + 4:.1f}" text-anchor="end">{y:g}</text>')
    y100 = 100
    if 10 ** y0 <= y100 <= 10 ** y1:
        out.append(f'<line x1="{L}" y1="{py(y100):.1f}" x2="{W - R}" y2="{py(y100):.1f}" stroke="gray" stroke-dasharray="4,3"/>')
        out.append(f'<text x="{W - R - 4}" y="{py(y100) - 4:.1f}" text-anchor="end" fill="gray">target 100 MiB</text>')
    out.append(f'<rect x="{L}" y="{T}" width="{W - L - R}" height="{H - T - B}" fill="none" stroke="black"/>')
    for i, ((build, label), line) in enumerate(sorted(lines.items(), reverse=True)):
        line.sort()
        color = COLORS[i % len(COLORS)]
        pts = " ".join(f"{px(x):.1f},{py(y):.1f}" for x, y in line)
        out.append(f'<polyline points="{pts}" fill="none" stroke="{color}" stroke-width="2"/>')
        for x, y in line:
            out.append(f'<circle cx="{px(x):.1f}" cy="{py(y):.1f}" r="3" fill="{color}"/>')
        ly = T + 14 + 34 * i
        out.append(f'<line x1="{W - R + 10}" y1="{ly}" x2="{W - R + 40}" y2="{ly}" stroke="{color}" stroke-width="2"/>')
        head, _, sets = label.partition(", ")
        out.append(f'<text x="{W - R + 46}" y="{ly + 4}">{head + (")" if sets else "")}</text>')
        for j, part in enumerate(sets.rstrip(")").split()):
            out.append(f'<text x="{W - R + 46}" y="{ly + 17 + 12 * j}" font-size="10">{part.removeprefix("raft.")}</text>')
    out.append("</svg>")
    with open("memory.svg", "w") as f:
        f.write("\n".join(out) + "\n")
    for (build, label), line in sorted(lines.items(), reverse=True):
        print(label, " ".join(f"{x}:{y:.1f}MiB" for x, y in sorted(line)))


main()
