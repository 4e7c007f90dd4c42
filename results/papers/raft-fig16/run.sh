#!/bin/sh
# Regenerates results/papers/raft-fig16 (run from anywhere): the scenarios, dsim's trials and
# summaries, and the CDF plots. Deterministic: the same files, byte for byte, on every run.
#   main/     one-way latency 6-9 ms (the paper's ~15 ms broadcast time as network delay)
#   lan/      one-way latency 0.5-1 ms (the same experiment on a LAN-like network)
#   disk/     one-way latency 0.5-1 ms and a 7 ms fsync before replies that depend on it (§5.6)
set -e
cd "$(dirname "$0")"
ROOT=../../..
(cd $ROOT && cargo build --release --example paper_fig16 >&2)
BIN=$ROOT/target/release/examples/paper_fig16
JOBS=${JOBS:-2}
for variant in main lan disk; do
  case $variant in main) LAT="6000 9000 0" ;; lan) LAT="500 1000 0" ;; disk) LAT="500 1000 7000" ;; esac
  mkdir -p $variant/scenarios
  set --
  for c in top:150:150:90 top:150:151:90 top:150:155:90 top:150:175:90 top:150:200:90 top:150:300:90 \
           bottom:12:24:7 bottom:25:50:15 bottom:50:100:30 bottom:100:200:60 bottom:150:300:90; do
    IFS=: read group min max hb <<END
$c
END
    f=$variant/scenarios/fig16-$min-$max.toml
    ./gen.sh $min $max $hb $LAT > $f
    seeds=1000; [ $min-$max = 150-150 ] && seeds=100
    set -- "$@" "$group:$min-$max:$seeds:$f"
  done
  $BIN $variant $JOBS "$@"
done
