#!/bin/sh
# Usage: gen.sh MIN MAX HEARTBEAT_MS [LAT_MIN_US LAT_MAX_US [PERSIST_US]] > scenario.toml
# One Figure 16 trial (Raft paper §9.3): 5 servers, broadcast time ~15 ms, n0 leads, n3 and n4
# have shorter logs than n1 and n2, n0 crashes uniformly within one heartbeat interval.
MIN=$1; MAX=$2; HB=$3; LAT_MIN=${4:-6000}; LAT_MAX=${5:-9000}; PERSIST=${6:-0}
# n0's clock runs 20 % fast (clock_drift 0.2) so that it wins the first election; its heartbeat
# timer fires every HEARTBEAT_MS / 1.2 of real time: HEARTBEAT_MS is chosen so that this is half
# the minimum election timeout (90 -> 75 ms for 150 ms). The crash window is that real interval.
WIN=$(( (HB * 10 + 6) / 12 ))
# 150-150 and 150-151 can split votes for a long time: give them a minute after the crash.
case "$MIN-$MAX" in 150-150|150-151) TAIL=60000 ;; *) TAIL=20000 ;; esac
CRASH=4000
cat <<TOML
name = "raft-fig16-$MIN-$MAX-lat$LAT_MIN-$LAT_MAX-persist$PERSIST"
protocol = "raft"
nodes = 5
duration_ms = $((CRASH + WIN + TAIL))

[network]
# One-way latency, by default 6-9 ms: an RPC round trip (the paper's "broadcast time") of
# 12-18 ms, ~15 ms.
latency = { dist = "uniform", min_us = $LAT_MIN, max_us = $LAT_MAX }

[raft]
election_timeout_ms = [$MIN, $MAX]
heartbeat_ms = $HB
# One entry per AppendEntries: a follower whose replies never reach the leader is offered the
# same entry on every heartbeat and never gets further (below).
max_entries_per_append = 1
# fsync time before replies that depend on persisted state (term, vote, log); 0 unless given.
persist_delay_us = $PERSIST

[node.n0]
clock_drift = 0.2

[workload]
# About 20 commands between 3000 and 3200 ms, while n3 and n4 cannot answer n0; n1 and n2 have
# all of them 800 ms later. No command after 3200 ms, so the last messages before the crash are
# the leader's periodic (synchronised) heartbeats.
rate_per_s = 100
keys = 4
start_ms = 3000
stop_ms = 3200

# Until 3000 ms only n0 can win an election: every message between two of n1..n4 is cut.
[[faults]]
action = "partition"
name = "pin"
at_ms = 0
from = ["n1"]
to = ["n2", "n3", "n4"]
heal_after_ms = 3000
[[faults]]
action = "partition"
name = "pin"
at_ms = 0
from = ["n2"]
to = ["n1", "n3", "n4"]
heal_after_ms = 3000
[[faults]]
action = "partition"
name = "pin"
at_ms = 0
from = ["n3"]
to = ["n1", "n2", "n4"]
heal_after_ms = 3000
[[faults]]
action = "partition"
name = "pin"
at_ms = 0
from = ["n4"]
to = ["n1", "n2", "n3"]
heal_after_ms = 3000

# From 3000 ms n3's and n4's replies to n0 are lost (n0's heartbeats still reach them): n0 never
# learns they stored an entry, so they stop one entry in while n1 and n2 take all. They cannot win
# the election that follows: n1 and n2 refuse them their votes (§5.4.1).
[[faults]]
action = "partition"
name = "lag"
at_ms = 3000
from = ["n3", "n4"]
to = ["n0"]

[[faults]]
action = "crash"
node = "n0"
at_ms = [$CRASH, $((CRASH + WIN))]
TOML
