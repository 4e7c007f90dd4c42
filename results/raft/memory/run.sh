#!/bin/sh
# Regenerates results/raft/memory (run from anywhere): peak RSS of the default Raft scenario
# (sims/raft.toml, 50 commands/s, every checker and metric live, trace off) against run length,
# measured as /usr/bin/time's maximum resident set size of one `dsim run` per point:
#   dsim run --set duration_ms=1000000000 --set events_max=N --set workload.requests_max=1000000000000
# (the scenario `dsim bench --memory` measures). Three series:
#   before     main at 80048aa (issue 15's start), 10^6, 3*10^6, 10^7 events: the rows already in
#              memory.csv are kept, or BEFORE_DSIM=… BEFORE_COMMIT=… measures another binary;
#   after      this tree, snapshots off (the default): the Raft log itself grows, 10^6 … 10^7;
#   after      this tree with log compaction (raft.snapshot_every=1000, snapshot_trailing=100),
#              10^6 … 10^8 events (≈ 2 min for the last point).
# Peak RSS depends on the allocator and the machine only slightly; the events are deterministic.
set -e
cd "$(dirname "$0")"
ROOT=../../..
(cd $ROOT && cargo build --release >&2)
DSIM=$ROOT/target/release/dsim
COMMIT=$(git -C $ROOT rev-parse --short HEAD)
measure() { # binary label commit points extra-set...
  bin=$1; label=$2; commit=$3; points=$4; shift 4
  for n in $points; do
    sets="--set duration_ms=1000000000 --set events_max=$n --set workload.requests_max=1000000000000"
    for s in "$@"; do sets="$sets --set $s"; done
    /usr/bin/time -f %M -o rss.tmp $bin run $sets > /dev/null
    echo "$label,$commit,$n,$(cat rss.tmp),$*"
  done
  rm -f rss.tmp
}
{
  echo "build,commit,events,peak_rss_kib,set"
  if [ -n "$BEFORE_DSIM" ] && [ -n "$BEFORE_COMMIT" ]; then
    measure "$BEFORE_DSIM" before "$BEFORE_COMMIT" "1000000 3000000 10000000"
  else
    grep '^before,' memory.csv
  fi
  measure $DSIM after "$COMMIT" "1000000 3000000 10000000"
  measure $DSIM after "$COMMIT" "1000000 3000000 10000000 30000000 100000000" \
    raft.snapshot_every=1000 raft.snapshot_trailing=100
} > memory.csv.new
mv memory.csv.new memory.csv
python3 plot.py memory.csv
