"""The PBS authors' WARS Monte Carlo (calc_prob_fresh in pbailis/cassandra-pbs,
pbs/pbsutils/pbs_utils.py, k = 1), re-implemented with python3's standard library, for
N = 3, R = W = 1 and W, A, R, S ~ Exp(mean MEAN_MS), in two set-ups:
  outside:  the coordinator is not a replica (the paper's model): all N replicas get W, A, R, S;
  replica:  the coordinator is one of the N replicas, at zero latency to itself (what dsim's KV
            does; the write's and the read's coordinators are drawn independently).
A read is fresh when, for its first responder j, write_time + R_j + t >= W_j.
Usage: wars.py MEAN_MS TRIALS > wars.csv (fixed seed: the same file every run)."""
import random, sys

mean, trials = float(sys.argv[1]), int(sys.argv[2])
rng = random.Random(2012)
ts = [0, 1, 2, 5, 10, 20, 30, 40, 60]

def exp():
    return rng.expovariate(1 / mean)

def trial(outside):
    n = 3
    ws = [exp() for _ in range(n)]; acks = [exp() for _ in range(n)]
    rs = [exp() for _ in range(n)]; ss = [exp() for _ in range(n)]
    if not outside:
        wc, rc = rng.randrange(n), rng.randrange(n)
        ws[wc] = acks[wc] = 0.0
        rs[rc] = ss[rc] = 0.0
    write_time = min(w + a for w, a in zip(ws, acks))
    j = min(range(n), key=lambda i: rs[i] + ss[i])
    return write_time + rs[j], ws[j]

print("setup,t_ms,p_consistent")
for outside in (True, False):
    samples = [trial(outside) for _ in range(trials)]
    for t in ts:
        fresh = sum(1 for base, w in samples if base + t >= w)
        print(f"{'outside' if outside else 'replica'},{t},{fresh / trials:.4f}")
