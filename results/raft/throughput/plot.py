"""Collects the three sweeps of run.sh into one CSV (stdout) and draws throughput.svg and
latency.svg: committed commands/s and median commit latency vs offered load, log-log, one line
per (one-way latency, window). Means over the seeds of each grid point (summary.csv)."""
import csv
import math
import sys

DURATION_S = 3.0  # sims/raft_throughput.toml duration_ms
COLORS = {1: "#1f77b4", 10: "#d62728", 30: "#2ca02c"}
DASHES = {1: "2,3", 8: "7,4", 32: ""}


def load(dirs):
    rows = {}
    for d in dirs:
        ms = int(d.split("-")[-1].rstrip("ms"))
        with open(f"{d}/summary.csv") as f:
            for r in csv.DictReader(f):
                key = (ms, int(r["raft.max_inflight_appends"]), int(r["workload.rate_per_s"]))
                point = rows.setdefault(key, {})
                point[r["metric"]] = float(r["mean"]) if r["mean"] else None
                point["violating_runs"] = max(point.get("violating_runs", 0), int(r["violating_runs"]))
    return rows


def svg(points, title, ylabel, name):
    W, H, L, R, T, B = 640, 420, 70, 170, 40, 50
    xs = [x for line in points.values() for x, _ in line]
    ys = [y for line in points.values() for _, y in line if y]
    x0, x1 = math.log10(min(xs)), math.log10(max(xs))
    y0, y1 = math.floor(math.log10(min(ys))), math.ceil(math.log10(max(ys)))
    px = lambda x: L + (math.log10(x) - x0) / (x1 - x0) * (W - L - R)
    py = lambda y: H - B - (math.log10(y) - y0) / (y1 - y0) * (H - T - B)
    out = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{W}" height="{H}" font-family="sans-serif" font-size="12">',
           f'<rect width="{W}" height="{H}" fill="white"/>',
           f'<text x="{W / 2 - R / 2}" y="20" text-anchor="middle" font-size="14">{title}</text>',
           f'<text x="{(L + W - R) / 2}" y="{H - 10}" text-anchor="middle">offered load (commands/s, log)</text>',
           f'<text transform="translate(16,{(T + H - B) / 2}) rotate(-90)" text-anchor="middle">{ylabel}</text>']
    for x in sorted(set(xs)):
        out.append(f'<line x1="{px(x):.1f}" y1="{T}" x2="{px(x):.1f}" y2="{H - B}" stroke="#eee"/>')
        out.append(f'<text x="{px(x):.1f}" y="{H - B + 16}" text-anchor="middle">{x}</text>')
    for e in range(y0, y1 + 1):
        y = 10 ** e
        out.append(f'<line x1="{L}" y1="{py(y):.1f}" x2="{W - R}" y2="{py(y):.1f}" stroke="#eee"/>')
        out.append(f'<text x="{L - 6}" y="{py(y) + 4:.1f}" text-anchor="end">{y:g}</text>')
    out.append(f'<rect x="{L}" y="{T}" width="{W - L - R}" height="{H - T - B}" fill="none" stroke="black"/>')
    for i, ((ms, w), line) in enumerate(sorted(points.items())):
        pts = " ".join(f"{px(x):.1f},{py(y):.1f}" for x, y in line if y)
        dash = f' stroke-dasharray="{DASHES[w]}"' if DASHES[w] else ""
        out.append(f'<polyline points="{pts}" fill="none" stroke="{COLORS[ms]}" stroke-width="2"{dash}/>')
        ly = T + 14 + 18 * i
        out.append(f'<line x1="{W - R + 10}" y1="{ly}" x2="{W - R + 40}" y2="{ly}" stroke="{COLORS[ms]}" stroke-width="2"{dash}/>')
        label = "stop-and-wait" if w == 1 else f"window {w}"
        out.append(f'<text x="{W - R + 46}" y="{ly + 4}">{ms} ms, {label}</text>')
    out.append("</svg>")
    with open(name, "w") as f:
        f.write("\n".join(out) + "\n")


def main():
    rows = load(sys.argv[1:])
    w = csv.writer(sys.stdout, lineterminator="\n")
    w.writerow(["one_way_latency_ms", "max_inflight_appends", "offered_per_s", "committed_per_s",
                "commit_latency_p50_ms", "commit_latency_p99_ms", "violating_runs"])
    tput, lat = {}, {}
    for (ms, win, rate), m in sorted(rows.items()):
        per_s = m["commands_committed"] / DURATION_S
        p50 = m["commit_latency_p50_us"] / 1000
        p99 = m["commit_latency_p99_us"] / 1000
        w.writerow([ms, win, rate, f"{per_s:.1f}", f"{p50:.1f}", f"{p99:.1f}", m["violating_runs"]])
        tput.setdefault((ms, win), []).append((rate, per_s))
        lat.setdefault((ms, win), []).append((rate, p50))
    svg(tput, "Committed commands/s vs offered load", "committed commands/s (log)", "throughput.svg")
    svg(lat, "Median commit latency vs offered load", "commit latency p50 (ms, log)", "latency.svg")


main()
