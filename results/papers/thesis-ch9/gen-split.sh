#!/bin/sh
# Usage: gen-split.sh N FAILED RANGE_MS [LATENCY] > scenario.toml
# One first election term of thesis §9.2 ("How common are split votes?"): N servers, FAILED of
# them down from the start, fresh election timers drawn uniformly in [1000, 1000 + RANGE_MS] ms,
# one-way latency LATENCY (a dsim latency table; default constant 10 ms; run.sh sweeps it).
# The run ends at 1000 + RANGE_MS + 600 ms < 2000 ms (so RANGE_MS < 400), before any server can time out a second
# time (a candidate re-arms at >= 1000 ms, so its next timeout is >= 2000 ms): a leader in the
# run was elected in term 1, and a run without one had a split vote in term 1.
N=$1; F=$2; RANGE=$3; LAT=${4:-'{ dist = "constant", us = 10000 }'}
cat <<TOML
name = "thesis-ch9-split-n$N-f$F-range$RANGE"
protocol = "raft"
nodes = $N
duration_ms = $((1000 + RANGE + 600))

[network]
latency = $LAT

[raft]
election_timeout_ms = [1000, $((1000 + RANGE))]
heartbeat_ms = 50

[workload]
rate_per_s = 0
TOML
i=$((N - F))
while [ $i -lt $N ]; do
  printf '\n# n%d is down from the start (one of the FAILED servers).\n[[faults]]\naction = "crash"\nnode = "n%d"\nat_ms = 0\n' $i $i
  i=$((i + 1))
done
