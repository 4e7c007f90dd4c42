#!/bin/sh
# Regenerates results/raft/disruptive-rejoin (run from anywhere): rejoin.toml with and without
# Pre-Vote over drop rates, 40 seeds per point; runs.csv, summary.csv and plots/ come from
# `dsim sweep`. Deterministic: the same files, byte for byte, on every run.
set -e
cd "$(dirname "$0")"
ROOT=../../..
(cd $ROOT && cargo build --release >&2)
rm -rf sweep
$ROOT/target/release/dsim sweep rejoin.toml --seeds 40 --jobs "${JOBS:-2}" --check \
  --param raft.pre_vote=false,true --param network.drop_probability=0,0.05,0.1,0.2 --out sweep
rm -f sweep/timing.json  # wall-clock figures: not reproducible
