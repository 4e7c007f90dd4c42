#!/bin/sh
# Usage: gen.sh N > scenario.toml — one write spread only by anti-entropy among N replicas.
N=$1
groups=$(i=0; while [ $i -lt $N ]; do printf '["n%d"]' $i; i=$((i+1)); [ $i -lt $N ] && printf ', '; done)
cat <<TOML
name = "epidemic-$N"
protocol = "eventual"
nodes = $N
duration_ms = 30000
[network]
latency = { dist = "constant", us = 1000 }
[eventual]
anti_entropy_ms = 1000
anti_entropy_fanout = 1
[workload]
rate_per_s = 1000
keys = 1
start_ms = 100
requests_max = 1
[[faults]]
action = "partition"
at_ms = 0
groups = [$groups]
heal_after_ms = 500
TOML
