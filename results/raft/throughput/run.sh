#!/bin/sh
# Regenerates results/raft/throughput (run from anywhere): throughput and commit latency vs offered
# load, stop-and-wait (max_inflight_appends = 1) vs pipelined (8, 32), at 1, 10 and 30 ms one-way
# latency, on sims/raft_throughput.toml (3 nodes, clean in-order network, one entry per
# AppendEntries, 3 s runs), 5 seeds per point. Deterministic: same files every time.
set -e
cd "$(dirname "$0")"
ROOT=../../..
(cd $ROOT && cargo build --release >&2)
DSIM=$ROOT/target/release/dsim
for ms in 1 10 30; do
  $DSIM sweep $ROOT/sims/raft_throughput.toml \
    --set "network.latency={dist=\"constant\",us=${ms}000}" \
    --param workload.rate_per_s=25,50,100,200,400,800,1600,3200 \
    --param raft.max_inflight_appends=1,8,32 \
    --seeds 5 --jobs 2 --check --out lat-${ms}ms > /dev/null
done
# The sweeps' own per-metric charts (plots/) are not kept: throughput.svg and latency.svg draw
# the two that matter, all three latencies in one chart.
rm -rf lat-1ms/plots lat-10ms/plots lat-30ms/plots
python3 plot.py lat-1ms lat-10ms lat-30ms > throughput.csv
