#!/bin/sh
# Usage: gen.sh N [MODE [LOSS]] > scenario.toml — one write spread only by anti-entropy among N
# replicas; MODE = push_pull (default) | push | pull (eventual.anti_entropy_mode), LOSS = the
# network's drop probability (default 0; with loss the run lasts 90 s instead of 30 s).
N=$1; MODE=${2:-push_pull}; LOSS=${3:-0}
groups=$(i=0; while [ $i -lt $N ]; do printf '["n%d"]' $i; i=$((i+1)); [ $i -lt $N ] && printf ', '; done)
cat <<TOML
name = "epidemic-$N$([ "$MODE" = push_pull ] || echo "-$MODE")$([ "$LOSS" = 0 ] || echo "-loss$LOSS")"
protocol = "eventual"
nodes = $N
duration_ms = $([ "$LOSS" = 0 ] && echo 30000 || echo 90000)
[network]
latency = { dist = "constant", us = 1000 }$([ "$LOSS" = 0 ] || printf '\ndrop_probability = %s' "$LOSS")
[eventual]
anti_entropy_ms = 1000
anti_entropy_fanout = 1$([ "$MODE" = push_pull ] || printf '\nanti_entropy_mode = "%s"' "$MODE")
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
