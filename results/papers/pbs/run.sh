#!/bin/sh
# Regenerates results/papers/pbs (run from anywhere): 20 seeds of pbs-n3-r1-w1.toml, their
# t-visibility against the WARS closed form (tvis.csv, tvis.svg), and 20 seeds of
# pbs-n3-r1-w1-outside.toml (the coordinator outside the replicas, the paper's set-up) against the
# authors' WARS Monte Carlo (tvis-outside.csv, tvis-outside.svg). Deterministic.
set -e
cd "$(dirname "$0")"
ROOT=../../..
(cd $ROOT && cargo build --release >&2)
DSIM=$ROOT/target/release/dsim
TMP=$(mktemp -d)
trap 'rm -rf "$TMP"' EXIT
for s in $(seq 0 19); do
  $DSIM run pbs-n3-r1-w1.toml --seed $s --trace "$TMP/t$s.csv" > /dev/null
  $DSIM run pbs-n3-r1-w1-outside.toml --seed $s --trace "$TMP/o$s.csv" > /dev/null
done
python3 measure.py 10 "$TMP"/t*.csv > tvis.csv
python3 measure.py 10 --outside "$TMP"/o*.csv > tvis-outside.csv
python3 wars.py 10 200000 > wars.csv
