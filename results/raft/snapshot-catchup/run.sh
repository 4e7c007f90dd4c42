#!/bin/sh
# Regenerates results/raft/snapshot-catchup (run from anywhere): how long a follower far behind
# takes to catch up, with and without log compaction (issue 15). catchup.toml: n2 is cut off
# while the others commit ~10^3, 10^4 or 10^5 writes, then the partition heals; the time is from
# the heal to the leader's first acknowledgement from n2 covering the leader's commit index
# (its match_index reaching commit). Snapshots off / every 1 000 applies (100 entries kept,
# InstallSnapshot chunks of 1 000 entries' worth); AppendEntries of 64 entries, stop-and-wait or
# 8 in flight. Deterministic: same files every time.
set -e
cd "$(dirname "$0")"
ROOT=../../..
(cd $ROOT && cargo build --release >&2)
DSIM=$ROOT/target/release/dsim
echo "requests,snapshots,window,behind,heal_us,caught_up_us,catchup_ms,install_chunks,append_requests" > catchup.csv
for requests in 1500 15000 150000; do
  for snap in 0 1000; do
    for window in 1 8; do
      $DSIM run catchup.toml --set workload.requests_max=$requests \
        --set raft.snapshot_every=$snap --set raft.snapshot_trailing=100 \
        --set raft.snapshot_chunk_entries=1000 --set raft.max_inflight_appends=$window \
        --trace - 2>/dev/null | python3 measure.py $requests $snap $window >> catchup.csv
    done
  done
done
python3 plot.py catchup.csv > catchup.svg
