#!/bin/sh
# Regenerates results/papers/epidemic from the repository root: dsim runs and the idealised model.
set -e
cd "$(dirname "$0")"
DSIM=${DSIM:-../../../target/release/dsim}
: > dsim.txt; : > ideal.txt
for n in 8 16 32 64 128 256; do
  ./gen.sh $n > epidemic-$n.toml
  rm -rf runs-$n
  $DSIM sweep epidemic-$n.toml --seeds 200 --out runs-$n > /dev/null
  python3 measure.py runs-$n/runs.csv $n >> dsim.txt
  python3 ideal.py $n 5000 >> ideal.txt
done
