#!/bin/sh
# Regenerates results/papers/thesis-ch9 (run from anywhere): the scenarios, dsim's split-vote rates
# against the thesis's closed form (split.csv, split.svg) and its WAN election times against the
# thesis's Figure 9.9 (wan.csv, wan.svg). Deterministic: the same files, byte for byte, on every run
# and with any JOBS. ~3 min on one core. published-wan.csv is not regenerated here: it comes from
# digitise.py and the thesis's figure (see README.md).
set -e
cd "$(dirname "$0")"
ROOT=../../..
(cd $ROOT && cargo build --release >&2)
DSIM=$ROOT/target/release/dsim
JOBS=${JOBS:-2}
TMP=$(mktemp -d)
trap 'rm -rf "$TMP"' EXIT
mkdir -p scenarios
sweep() { $DSIM sweep "$@" --seeds 10000 --jobs $JOBS > /dev/null; }

# (a) Split votes, fixed latency: l = latency / range in {0.01, 0.05, 0.1, 0.15, 0.2, 0.3}.
for n in 3 5 7 9; do
  f=0
  while [ $f -le $(( (n - 1) / 2 )) ]; do
    ./gen-split.sh $n $f 100 > scenarios/split-n$n-f$f-r100.toml
    sweep scenarios/split-n$n-f$f-r100.toml --param network.latency.us=1000,5000,10000,15000,20000,30000 \
      --out "$TMP/split-n$n-f$f-r100"
    f=$((f + 1))
  done
done
# Only the ratio l matters: a 300 ms range with 3x the latencies.
./gen-split.sh 5 1 300 > scenarios/split-n5-f1-r300.toml
sweep scenarios/split-n5-f1-r300.toml --param network.latency.us=3000,15000,30000,45000,60000,90000 \
  --out "$TMP/split-n5-f1-r300"
# Variable latency, uniform 10-20 ms on a 100 ms range (the thesis's worked examples, §9.2).
for nf in 5:0 5:1 5:2 9:4; do
  n=${nf%:*}; f=${nf#*:}
  ./gen-split.sh $n $f 100 '{ dist = "uniform", min_us = 10000, max_us = 20000 }' > scenarios/var-n$n-f$f-r100.toml
  sweep scenarios/var-n$n-f$f-r100.toml --out "$TMP/var-n$n-f$f-r100-10000-20000"
done
python3 split.py "$TMP"/split-* "$TMP"/var-* > split.csv

# (b) The WAN of Figure 9.9: 5 servers, 30-40 ms one way, timeouts 300-600 ms, 0, 1, 2 failed.
for f in 0 1 2; do
  ./gen-wan.sh $f > scenarios/wan-f$f.toml
  sweep scenarios/wan-f$f.toml --out "$TMP/wan-f$f"
done
python3 wan.py published-wan.csv "$TMP"/wan-f* > wan.csv
