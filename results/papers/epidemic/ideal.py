"""The idealised synchronous anti-entropy round model (Demers et al. 1987, §1.3; Karp et al. 2000):
each round every node starts one exchange with a peer drawn uniformly from the others.
  push-pull: after the round a node is informed if it or its partner (either direction) was
             informed at the round's start;
  push:      a node is informed if it was, or an informed node started an exchange with it;
  pull:      a node is informed if it was, or it started an exchange with an informed node.
With LOSS, each message of an exchange is lost independently with that probability, counting
the messages dsim's KV sends: the starter's digest, the partner's reply and, when the starter
must send versions, its push — so starter -> partner needs 3 messages, partner -> starter 2.
Usage: ideal.py N [TRIALS [MODE [LOSS]]] — prints N, mean rounds until all N are informed, and the
distribution, over TRIALS trials (fixed seed)."""
import random, sys
from collections import Counter
TRIALS = int(sys.argv[2]) if len(sys.argv) > 2 else 20000
MODE = sys.argv[3] if len(sys.argv) > 3 else "push_pull"
LOSS = float(sys.argv[4]) if len(sys.argv) > 4 else 0.0
assert MODE in ("push_pull", "push", "pull"), MODE
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
            if LOSS == 0.0:
                ok_to_partner = ok_to_starter = True
            else:
                # The same draws in every mode: digest, reply, push-back.
                digest, reply, back = (rng.random() >= LOSS for _ in range(3))
                ok_to_starter = digest and reply
                ok_to_partner = digest and reply and back
            if start[i] and MODE != "pull" and ok_to_partner:
                informed[j] = True
            if start[j] and MODE != "push" and ok_to_starter:
                informed[i] = True
    return r
n = int(sys.argv[1])
rng = random.Random(1)
c = Counter(rounds(n, rng) for _ in range(TRIALS))
mean = sum(k * v for k, v in c.items()) / TRIALS
print(n, f"{mean:.3f}", " ".join(f"{k}:{v / TRIALS:.3f}" for k, v in sorted(c.items())))
