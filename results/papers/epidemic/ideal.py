"""The idealised synchronous push-pull round model (Demers et al. 1987 anti-entropy; Karp et al.
2000): each round every node contacts one peer drawn uniformly from the others; after the round a
node is informed if it or its contact partner (either direction) was informed at the round's start.
Prints N, mean rounds until all N are informed, and the distribution, over TRIALS trials."""
import random, sys
from collections import Counter
TRIALS = int(sys.argv[2]) if len(sys.argv) > 2 else 20000
def rounds(n, rng):
    informed = [False] * n
    informed[0] = True
    r = 0
    while not all(informed):
        r += 1
        start = informed[:]
        for i in range(n):
            j = rng.randrange(n - 1)
            j += j >= i
            if start[i] or start[j]:
                informed[i] = informed[j] = True
    return r
n = int(sys.argv[1])
rng = random.Random(1)
c = Counter(rounds(n, rng) for _ in range(TRIALS))
mean = sum(k * v for k, v in c.items()) / TRIALS
print(n, f"{mean:.3f}", " ".join(f"{k}:{v / TRIALS:.3f}" for k, v in sorted(c.items())))
