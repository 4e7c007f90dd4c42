#!/bin/sh
# Regenerates results/raft/transfer-vs-crash (run from anywhere): transfer.toml and crash.toml
# with ReadIndex and lease reads, 30 seeds each; unavailability.csv and unavailability.svg from
# the traces (measure.py). Deterministic.
set -e
cd "$(dirname "$0")"
ROOT=../../..
(cd $ROOT && cargo build --release >&2)
DSIM=$ROOT/target/release/dsim
TMP=$(mktemp -d)
trap 'rm -rf "$TMP"' EXIT
for kind in transfer crash; do
  for mode in read_index lease; do
    for s in $(seq 1 30); do
      $DSIM run $kind.toml --seed $s --set raft.read_mode=$mode --trace "$TMP/${kind}_${mode}_seed-$s.csv" > /dev/null
    done
  done
done
python3 measure.py "$TMP"/*.csv > unavailability.csv
