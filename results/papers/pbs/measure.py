"""t-visibility of dsim runs (PBS, Bailis et al. VLDB 2012) against the WARS model.

Usage: measure.py MEAN_MS [--outside] TRACE.csv... > tvis.csv ; also writes tvis.svg (with
--outside: tvis-outside.svg) in the folder of this script. Only python3's standard library.

A write finishes at its coordinator's `note put_ack` row; a read (R = 1) is answered from the
contacted replica's own state at its `read` row, the instant it begins. A read is judged against
the latest write that finished before it, t = read time - finish time; it is consistent when the
values it returned include that write. Reads are left out when another write was invoked between
that finish and the read (then a later write could stand in for the judged one, which the model
below does not count).

Model (WARS with the coordinator a replica, the set-up of dsim's KV and, per the PBS authors'
Cassandra tool, "logging local reads as zero latency"): the write's coordinator stores it at once
(W = A = 0 there) and sends it to the N - 1 others with W ~ Exp(mean); a read at a uniformly chosen
replica reads locally (R = S = 0). With N = 3, R = W = 1:
    P(consistent | t) = 1/3 + 2/3 * (1 - exp(-t / mean)).

--outside (traces of `eventual.coordinator = "outside"`): the paper's own set-up, every W, A, R, S
leg crossing the network. A read begins at its coordinator's `client` row (msg `get`), when it
sends the read to all N replicas, and is judged at its `read` row (the first reply); it is left out
when a write was invoked between the judged write's finish and that `read` row. In both set-ups a
read is also left out when another write was in flight at any time between the judged write's
invoke and the read's end: with an outside coordinator writes take time to finish, so an earlier
write of the same coordinator can finish after a later one that supersedes it (a read that then
returns only the newer write is not stale, but the model has no second write). The model is then
the authors' WARS Monte Carlo (wars.py, `outside`): fresh iff t >= W_j - C - R_j, C = min_i(W_i +
A_i) the commit, j = argmin_i(R_i + S_i) the first responder; its CDF is tabulated from 400 000
seeded draws, so the file is the same on every run.
"""
import bisect, random
import csv, math, os, sys

mean_ms = float(sys.argv[1])
outside = sys.argv[2] == "--outside"
paths = sys.argv[3:] if outside else sys.argv[2:]
BIN_MS, T_MAX_MS = 2, 60

def wars_outside_table(trials=400_000, n=3):
    rng = random.Random(2012)
    exp = lambda: rng.expovariate(1 / mean_ms)
    gaps = []
    for _ in range(trials):
        ws = [exp() for _ in range(n)]; acks = [exp() for _ in range(n)]
        rs = [exp() for _ in range(n)]; ss = [exp() for _ in range(n)]
        commit = min(w + a for w, a in zip(ws, acks))
        j = min(range(n), key=lambda i: rs[i] + ss[i])
        gaps.append(ws[j] - commit - rs[j])
    return sorted(gaps)

if outside:
    GAPS = wars_outside_table()
    def model(t_ms):
        return bisect.bisect_right(GAPS, t_ms) / len(GAPS)
else:
    def model(t_ms):
        return 1 / 3 + 2 / 3 * (1 - math.exp(-t_ms / mean_ms))

def overlapped(writes, judged, end_us):
    """Whether another write was in flight at any time from the judged write's invoke to end_us
    (it could stand in for the judged one, or supersede it, which the model does not count)."""
    inv = writes[judged][0]
    for value, (w_inv, w_fin) in reversed(list(writes.items())[-64:]):
        if value != judged and w_inv <= end_us and (w_fin is None or w_fin >= inv):
            return True
    return False

def judge(writes, latest, last_invoke, start_us, end_us, values):
    """Adds one read to its band of t unless it is left out (see the docstring)."""
    if latest is None or last_invoke > latest[1] or start_us <= latest[1]:
        return
    if latest[0] in writes and overlapped(writes, latest[0], end_us):
        return
    t_ms = (start_us - latest[1]) / 1000
    b = int(t_ms // BIN_MS)
    if b >= len(bins):
        return
    bins[b][0] += 1
    bins[b][1] += latest[0] in values.split("|")
    bins[b][2] += model(t_ms)

bins = [[0, 0, 0.0] for _ in range(T_MAX_MS // BIN_MS)]  # reads, consistent, sum of model(t)
for path in paths:
    latest = None  # (value id, finish us)
    last_invoke = -1
    reading = {}  # outside: read id -> (start us, the latest finished write then)
    writes = {}  # value id -> [invoke us, finish us or None], in invoke order
    for r in csv.DictReader(open(path)):
        ev, now = r["event"], int(r["time_us"])
        if ev == "client" and r["msg"] == "put":
            last_invoke = now
            writes[r["value"]] = [now, None]
        elif ev == "client" and r["msg"] == "get" and outside:
            reading[r["index"]] = (now, latest)
        elif ev == "note" and r["msg"] == "put_ack":
            latest = (r["value"], now)
            if r["value"] in writes:
                writes[r["value"]][1] = now
        elif ev == "read" and outside and r["index"] in reading:
            start, judged = reading.pop(r["index"])
            judge(writes, judged, last_invoke, start, now, r["value"])
        elif ev == "read" and not outside:
            judge(writes, latest, last_invoke, now, now, r["value"])

print("t_from_ms,t_to_ms,reads,dsim_p_consistent,model_p_consistent,diff,stderr")
rows = []
for i, (n, ok, m) in enumerate(bins):
    p, q = ok / n, m / n
    se = math.sqrt(q * (1 - q) / n)
    rows.append((i * BIN_MS, p, q))
    print(f"{i * BIN_MS},{(i + 1) * BIN_MS},{n},{p:.4f},{q:.4f},{p - q:+.4f},{se:.4f}")

# A hand-written SVG: dsim's points and the model's curve.
LEGEND = "WARS model, authors' Monte Carlo" if outside else "WARS model, closed form"
W, H, L, B = 640, 400, 60, 50
def x(t): return L + (W - L - 20) * t / T_MAX_MS
def y(p): return H - B - (H - B - 30) * (p - 0.3) / 0.7
parts = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{W}" height="{H}" font-family="sans-serif" font-size="12">',
         f'<rect width="{W}" height="{H}" fill="white"/>',
         f'<text x="{W/2}" y="18" text-anchor="middle" font-size="15">PBS t-visibility, N=3, R=W=1, Exp(mean {mean_ms:g} ms){", coordinator outside" if outside else ""}</text>']
for t in range(0, T_MAX_MS + 1, 10):
    parts.append(f'<line x1="{x(t):.1f}" y1="{y(0.3):.1f}" x2="{x(t):.1f}" y2="{y(1.0):.1f}" stroke="#ddd"/>')
    parts.append(f'<text x="{x(t):.1f}" y="{y(0.3) + 16:.1f}" text-anchor="middle">{t}</text>')
for k in range(3, 11):
    p = k / 10
    parts.append(f'<line x1="{x(0):.1f}" y1="{y(p):.1f}" x2="{x(T_MAX_MS):.1f}" y2="{y(p):.1f}" stroke="#ddd"/>')
    parts.append(f'<text x="{x(0) - 6:.1f}" y="{y(p) + 4:.1f}" text-anchor="end">{p:.1f}</text>')
parts.append(f'<text x="{W/2}" y="{H - 12}" text-anchor="middle">t after the write finished (ms)</text>')
parts.append(f'<text x="16" y="{H/2}" transform="rotate(-90 16 {H/2})" text-anchor="middle">P(read returns the write)</text>')
curve = " ".join(f"{x(t / 10):.1f},{y(model(t / 10)):.1f}" for t in range(0, T_MAX_MS * 10 + 1))
parts.append(f'<polyline points="{curve}" fill="none" stroke="#d62728" stroke-width="2"/>')
for t0, p, _ in rows:
    parts.append(f'<circle cx="{x(t0 + BIN_MS / 2):.1f}" cy="{y(p):.1f}" r="3" fill="#1f77b4"/>')
parts.append(f'<circle cx="{W - 230}" cy="{y(0.4):.1f}" r="3" fill="#1f77b4"/><text x="{W - 222}" y="{y(0.4) + 4:.1f}">dsim (2 ms bins)</text>')
parts.append(f'<line x1="{W - 236}" y1="{y(0.35):.1f}" x2="{W - 224}" y2="{y(0.35):.1f}" stroke="#d62728" stroke-width="2"/><text x="{W - 222}" y="{y(0.35) + 4:.1f}">{LEGEND}</text>')
parts.append("</svg>")
open(os.path.join(os.path.dirname(os.path.abspath(__file__)), "tvis-outside.svg" if outside else "tvis.svg"), "w").write("\n".join(parts) + "\n")
