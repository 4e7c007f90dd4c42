#!/bin/sh
# Regenerates results/raft/memory (run from anywhere): peak RSS of the default Raft scenario
# (sims/raft.toml, 50 commands/s, every checker and metric live, trace off) at 10^6, 3*10^6 and
# 10^7 events, measured as /usr/bin/time's maximum resident set size of one `dsim run` per point:
#   dsim run --set duration_ms=1000000000 --set events_max=N --set workload.requests_max=1000000000000
# (the scenario `dsim bench --memory` measures). "after" is this tree's binary; "before" is the
# binary of BEFORE_DSIM at commit BEFORE_COMMIT when both are set, else the rows already in
# memory.csv are kept (measured from main at 80048aa). Extra overrides for "after" (e.g.
# raft.snapshot_every=10000 once snapshots exist): AFTER_SET="raft.snapshot_every=10000".
# Peak RSS depends on the allocator and the machine only slightly; the events are deterministic.
set -e
cd "$(dirname "$0")"
ROOT=../../..
(cd $ROOT && cargo build --release >&2)
DSIM=$ROOT/target/release/dsim
COMMIT=$(git -C $ROOT rev-parse --short HEAD)
POINTS="1000000 3000000 10000000"
measure() { # binary label commit extra-set...
  bin=$1; label=$2; commit=$3; shift 3
  for n in $POINTS; do
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
    measure "$BEFORE_DSIM" before "$BEFORE_COMMIT"
  else
    grep '^before,' memory.csv
  fi
  # shellcheck disable=SC2086
  measure $DSIM after "$COMMIT" $AFTER_SET
} > memory.csv.new
mv memory.csv.new memory.csv
python3 plot.py memory.csv > /dev/null
