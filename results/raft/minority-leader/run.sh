#!/bin/sh
# Regenerates results/raft/minority-leader (run from anywhere): minority.toml (= sims/
# raft_minority_leader.toml) with and without CheckQuorum, at clock drift 0, 0.2 and 0.4, 20 seeds
# each; minority.csv and minority.svg from the traces (measure.py). Deterministic.
set -e
cd "$(dirname "$0")"
ROOT=../../..
(cd $ROOT && cargo build --release >&2)
DSIM=$ROOT/target/release/dsim
TMP=$(mktemp -d)
trap 'rm -rf "$TMP"' EXIT
for cq in false true; do
  for drift in 0 0.2 0.4; do
    for s in $(seq 1 20); do
      t="$TMP/cq-${cq}_drift-${drift}_seed-$s"
      $DSIM run minority.toml --seed $s --set raft.check_quorum=$cq --set clocks.drift_max=$drift \
        --json --trace "$t.csv" | python3 -c 'import json,sys; print(json.load(sys.stdin)["violations_total"])' > "$t.violations" || true
    done
  done
done
python3 measure.py "$TMP"/*.csv > minority.csv
