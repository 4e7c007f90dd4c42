"""Split-vote rates of dsim's first election term against the thesis's closed form.

Usage: split.py SWEEP_DIR... > split.csv ; also writes split.svg beside this script.
Each SWEEP_DIR is `dsim sweep` output named split-n<N>-f<FAILED>-r<RANGE_MS> (constant latency,
swept over network.latency.us) or var-n<N>-f<FAILED>-r<RANGE_MS>-<MIN_US>-<MAX_US> (uniform
latency). A run whose `first_leader_us` is empty had a split vote in term 1 (gen-split.sh).
Only python3's standard library.

Closed form (Ongaro, "Consensus: Bridging Theory and Practice", 2014, §9.2 "How common are
split votes?", leaderelection/splitrate.tex in github.com/ongardie/dissertation): with n servers,
s of them available, timeouts uniform over a range and a fixed one-way latency l (as a fraction of
the range), a split vote occurs when the c-th earliest timeout is within l of the first, where
c = s - floor(n/2) + 1, and
    P(D_{c,s} <= l) = sum_{k=c-1}^{s} C(s,k) l^k (1-l)^(s-k)        (l < 1)
i.e. the probability that at least c-1 of s uniform draws fall within l (a Binomial tail).
`mc` is an independent Monte Carlo of D_{c,s} itself (20 000 draws of s uniform timeouts per
point, Python's random seeded per point), which checks the formula, not dsim.
"""
import math, os, random, re, sys, csv

def closed_form(n, s, l):
    c = s - n // 2 + 1
    if l >= 1:
        return 1.0
    return sum(math.comb(s, k) * l**k * (1 - l) ** (s - k) for k in range(c - 1, s + 1))

def monte_carlo(n, s, l, trials=20000):
    c = s - n // 2 + 1
    rng = random.Random(f"{n}-{s}-{l}")
    hits = 0
    for _ in range(trials):
        t = sorted(rng.random() for _ in range(s))
        hits += t[c - 1] - t[0] <= l
    return hits / trials

rows = []
for d in sys.argv[1:]:
    name = os.path.basename(d.rstrip("/"))
    m = re.fullmatch(r"(split|var)-n(\d+)-f(\d+)-r(\d+)(?:-(\d+)-(\d+))?", name)
    kind, n, f, rng_ms = m.group(1), int(m.group(2)), int(m.group(3)), int(m.group(4))
    by_lat = {}
    for r in csv.DictReader(open(os.path.join(d, "runs.csv"))):
        lat = r.get("network.latency.us", "")
        runs, splits = by_lat.get(lat, (0, 0))
        by_lat[lat] = (runs + 1, splits + (r["first_leader_us"] == ""))
    for lat, (runs, splits) in sorted(by_lat.items(), key=lambda kv: int(kv[0] or 0)):
        if kind == "split":
            lat_txt, l_mean = f"{int(lat) / 1000:g}", int(lat) / 1000 / rng_ms
            l_model = l_mean
        else:
            lo, hi = int(m.group(5)) / 1000, int(m.group(6)) / 1000
            lat_txt, l_mean = f"{lo:g}-{hi:g}", (lo + hi) / 2 / rng_ms
            l_model = hi / rng_ms  # the thesis's bound: fixed latency at the range's maximum
        s = n - f
        rate = splits / runs
        model = closed_form(n, s, l_model)
        se = math.sqrt(max(model * (1 - model), 1e-12) / runs)
        mc = monte_carlo(n, s, l_model) if kind == "split" else float("nan")
        rows.append((kind, n, f, s, s - n // 2 + 1, rng_ms, lat_txt, l_model, runs, splits, rate, model, mc, se))

print("kind,n,failed,s,c,range_ms,latency_ms,l,runs,split_votes,dsim_rate,closed_form,mc_of_formula,diff,stderr")
for kind, n, f, s, c, r, lat, l, runs, splits, rate, model, mc, se in rows:
    mc_txt = "" if math.isnan(mc) else f"{mc:.4f}"
    print(f"{kind},{n},{f},{s},{c},{r},{lat},{l:.3f},{runs},{splits},{rate:.4f},{model:.4f},{mc_txt},{rate - model:+.4f},{se:.4f}")

# A hand-written SVG: one panel per cluster size; closed-form curves, dsim's points.
W, H, PW, PH, L, T = 920, 300, 190, 200, 50, 40
COL = ["#1b9e77", "#d95f02", "#7570b3", "#e7298a", "#66a61e"]
out = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{W}" height="{H}" font-family="sans-serif" font-size="11">',
       f'<rect width="{W}" height="{H}" fill="white"/>',
       f'<text x="{W / 2}" y="16" text-anchor="middle" font-size="14">Split votes in term 1: closed form (lines) and dsim (points, 10 000 runs each)</text>']
for i, n in enumerate((3, 5, 7, 9)):
    x0 = L + i * (PW + 30)
    X = lambda l: x0 + PW * l / 0.3
    Y = lambda p: T + PH * (1 - p)
    out.append(f'<rect x="{x0}" y="{T}" width="{PW}" height="{PH}" fill="none" stroke="#888"/>')
    out.append(f'<text x="{x0 + PW / 2}" y="{T - 6}" text-anchor="middle">n = {n}</text>')
    for t in (0, 0.1, 0.2, 0.3):
        out.append(f'<text x="{X(t):.1f}" y="{T + PH + 14}" text-anchor="middle">{t:g}</text>')
    for p in (0, 0.5, 1):
        out.append(f'<text x="{x0 - 4}" y="{Y(p) + 4:.1f}" text-anchor="end">{p:g}</text>')
    out.append(f'<text x="{x0 + PW / 2}" y="{T + PH + 30}" text-anchor="middle">l = latency / timeout range</text>')
    for f in range((n - 1) // 2 + 1):
        col = COL[f]
        pts = " ".join(f"{X(k * 0.003):.1f},{Y(closed_form(n, n - f, k * 0.003)):.1f}" for k in range(101))
        out.append(f'<polyline points="{pts}" fill="none" stroke="{col}"/>')
        for kind, nn, ff, s, c, r, lat, l, runs, splits, rate, model, mc, se in rows:
            if kind == "split" and nn == n and ff == f and r == 100:
                out.append(f'<circle cx="{X(l):.1f}" cy="{Y(rate):.1f}" r="2.5" fill="{col}"/>')
        out.append(f'<text x="{x0 + 6}" y="{T + 14 + 13 * f}" fill="{col}">{f} failed</text>')
out.append("</svg>")
open(os.path.join(os.path.dirname(os.path.abspath(__file__)), "split.svg"), "w").write("\n".join(out) + "\n")
