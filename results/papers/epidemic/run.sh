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
# Push and pull alone, and all three with 10 % message loss (issue 13 item 4): the scenarios in
# variants/, dsim's rounds in dsim-variants.txt and the round model's in ideal-variants.txt (columns:
# mode, loss, then as in dsim.txt / ideal.txt). The sweeps' runs.csv are not kept.
TMP=$(mktemp -d)
trap 'rm -rf "$TMP"' EXIT
mkdir -p variants
: > dsim-variants.txt; : > ideal-variants.txt
for v in push:0 pull:0 push_pull:0.1 push:0.1 pull:0.1; do
  mode=${v%:*}; loss=${v#*:}
  for n in 8 16 32 64 128 256; do
    f=variants/epidemic-$n-$mode-loss$loss.toml
    ./gen.sh $n $mode $loss > $f
    $DSIM sweep $f --seeds 200 --out "$TMP/$mode-$loss-$n" > /dev/null
    printf '%s %s ' $mode $loss >> dsim-variants.txt
    python3 measure.py "$TMP/$mode-$loss-$n/runs.csv" $n >> dsim-variants.txt
    printf '%s %s ' $mode $loss >> ideal-variants.txt
    python3 ideal.py $n 2000 $mode $loss >> ideal-variants.txt
  done
done
