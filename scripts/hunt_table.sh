#!/bin/sh
# docs/hunt.md's table: for every raft.bug, `dsim hunt --seeds 2000` (with the pins a bug needs)
# into runs/hunt-table/BUG, then one table row per bug from its hunt.json.
# Usage: scripts/hunt_table.sh [DSIM]   (default: ./target/release/dsim; about 3 min on 2 cores)
set -e
D=${1:-./target/release/dsim}
OUT=runs/hunt-table
rm -rf "$OUT"; mkdir -p "$OUT"
BUGS="truncate_every_append stale_local_read prevote_bumps_term check_quorum_stale_acks \
pipeline_match_regress vote_without_log_check ignore_higher_term_reply vote_ignoring_voted_for \
no_session_dedupe commit_min_last_log ack_before_fsync forget_voted_for count_stale_replies \
figure8_commit match_last_log lease_no_wait transfer_keeps_accepting \
snapshot_older_than_commit entries_before_snapshot membership_before_commit count_removed_vote"
for bug in $BUGS; do
  pins=""
  case $bug in
    prevote_bumps_term) pins="--set raft.pre_vote=true";;
    check_quorum_stale_acks) pins="--set raft.check_quorum=true";;
    pipeline_match_regress) pins="--set raft.max_inflight_appends=8";;
    snapshot_older_than_commit|entries_before_snapshot) pins="--set raft.snapshot_every=10";;
    membership_before_commit|count_removed_vote) pins="--set raft.membership=true";;
  esac
  start=$(date +%s.%N)
  # Exit 1 = failures found, which is the point; anything else is an error.
  $D hunt --seeds 2000 --jobs 2 --set raft.bug=$bug $pins --out $OUT/$bug >/dev/null 2>&1 || [ $? -eq 1 ]
  echo "$(date +%s.%N) - $start" | bc > $OUT/$bug.time
done
python3 - "$OUT" "$BUGS" <<'PY'
import json, os, sys
out, bugs = sys.argv[1], sys.argv[2].split()
pins = {"prevote_bumps_term": "raft.pre_vote=true", "check_quorum_stale_acks": "raft.check_quorum=true",
        "pipeline_match_regress": "raft.max_inflight_appends=8",
        "snapshot_older_than_commit": "raft.snapshot_every=10", "entries_before_snapshot": "raft.snapshot_every=10",
        "membership_before_commit": "raft.membership=true", "count_removed_vote": "raft.membership=true"}
print("| raft.bug | pinned | first failing seed | its checker | failing seeds of 2000 (by first checker: runs, first seed) | wall |")
print("|---|---|---|---|---|---|")
for bug in bugs:
    h = json.load(open(os.path.join(out, bug, "hunt.json")))
    wall = "%.1f s" % float(open(os.path.join(out, bug + ".time")).read())
    pin, bc = pins.get(bug, "—"), h["by_checker"]
    if not bc:
        print(f"| {bug} | {pin} | not in 1–{h['seed_last']} | | 0 | {wall} |")
        continue
    first = min(bc.items(), key=lambda kv: kv[1]["first_seed"])
    parts = ", ".join("%s %d from seed %d" % (k, v["runs"], v["first_seed"]) for k, v in sorted(bc.items()))
    print(f"| {bug} | {pin} | {first[1]['first_seed']} | {first[0]} | {h['failing_runs']} ({parts}) | {wall} |")
PY
