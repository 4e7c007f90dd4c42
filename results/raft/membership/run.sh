#!/bin/sh
# Regenerates results/raft/membership (run from anywhere): add.toml, remove.toml and baseline.toml
# under 0, 5 and 20 % message loss, 30 seeds each; unavailability.csv and unavailability.svg from
# the traces (measure.py). Deterministic.
set -e
cd "$(dirname "$0")"
ROOT=../../..
(cd $ROOT && cargo build --release >&2)
DSIM=$ROOT/target/release/dsim
TMP=$(mktemp -d)
trap 'rm -rf "$TMP"' EXIT
for kind in baseline add remove; do
  for loss in 0 5 20; do
    p=$(printf '0.%02d' "$loss")
    for s in $(seq 1 30); do
      $DSIM run $kind.toml --seed $s --set network.drop_probability=$p --trace "$TMP/${kind}_loss-${loss}_seed-$s.csv" > /dev/null
    done
  done
done
python3 measure.py "$TMP"/*.csv > unavailability.csv
