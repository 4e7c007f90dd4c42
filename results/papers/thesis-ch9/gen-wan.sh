#!/bin/sh
# Usage: gen-wan.sh FAILED > scenario.toml
# Thesis §9.4 "Simulated WAN network" (Figure 9.9): five servers spread across the continental US,
# one-way latency uniform in 30-40 ms, election timeouts 300-600 ms, FAILED servers down, every
# server starting with a fresh election timer; the election time is the time to the first leader.
# The WAN is written as a topology: five regions of one server each, 30 ms between regions, plus
# a uniform 0-10 ms draw of network.latency per message (the jitter): 30-40 ms one way.
F=$1
cat <<TOML
name = "thesis-ch9-wan-failed$F"
protocol = "raft"
nodes = 5
duration_ms = 8000

[network]
latency = { dist = "uniform", min_us = 0, max_us = 10000 }

[[network.regions]]
name = "west"
nodes = ["n0"]
latency_us = [0, 30000, 30000, 30000, 30000]
[[network.regions]]
name = "mountain"
nodes = ["n1"]
latency_us = [30000, 0, 30000, 30000, 30000]
[[network.regions]]
name = "central"
nodes = ["n2"]
latency_us = [30000, 30000, 0, 30000, 30000]
[[network.regions]]
name = "south"
nodes = ["n3"]
latency_us = [30000, 30000, 30000, 0, 30000]
[[network.regions]]
name = "east"
nodes = ["n4"]
latency_us = [30000, 30000, 30000, 30000, 0]

[raft]
election_timeout_ms = [300, 600]
heartbeat_ms = 50

[workload]
rate_per_s = 0
TOML
i=$((5 - F))
while [ $i -lt 5 ]; do
  printf '\n# n%d is down from the start (one of the FAILED servers).\n[[faults]]\naction = "crash"\nnode = "n%d"\nat_ms = 0\n' $i $i
  i=$((i + 1))
done
