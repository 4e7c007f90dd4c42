//! Test helpers: hand-built Raft trace rows and histories for the checker and metric tests.
//!
//! A put's key is its value id modulo 3, so payloads are fully determined by the value id.

use crate::check::{Checker, Violation};
use crate::sim::NodeId;
use crate::trace::{Event, Record, Value};

fn at(event: Event, node: u32) -> Record {
    Record::new(event).node(NodeId(node))
}

pub fn role(node: u32, term: u64, role: &'static str) -> Record {
    at(Event::Role, node).term(term).value(Value::Text(role.into()))
}

pub fn vote(voter: u32, candidate: u32, term: u64) -> Record {
    at(Event::Vote, voter).peer(NodeId(candidate)).term(term)
}

fn put_entry(event: Event, node: u32, term: u64, index: u64, value: u64) -> Record {
    at(event, node).term(term).index(index).key(value % 3).value(Value::Id(value)).msg("put")
}

pub fn append(node: u32, term: u64, index: u64, value: u64) -> Record {
    put_entry(Event::Append, node, term, index, value)
}

pub fn store(node: u32, term: u64, index: u64, value: u64) -> Record {
    put_entry(Event::Store, node, term, index, value)
}

pub fn apply(node: u32, term: u64, index: u64, value: u64) -> Record {
    put_entry(Event::Apply, node, term, index, value)
}

/// A read command's entry: msg `get`, no value.
pub fn append_get(node: u32, term: u64, index: u64, key: u64) -> Record {
    at(Event::Append, node).term(term).index(index).key(key).msg("get")
}

pub fn store_get(node: u32, term: u64, index: u64, key: u64) -> Record {
    at(Event::Store, node).term(term).index(index).key(key).msg("get")
}

pub fn apply_get(node: u32, term: u64, index: u64, key: u64) -> Record {
    at(Event::Apply, node).term(term).index(index).key(key).msg("get")
}

pub fn truncate(node: u32, index: u64) -> Record {
    at(Event::Truncate, node).index(index)
}

pub fn commit(node: u32, index: u64, term: u64) -> Record {
    at(Event::Commit, node).index(index).term(term)
}

pub fn crash(node: u32) -> Record {
    at(Event::Crash, node)
}

pub fn restart(node: u32) -> Record {
    at(Event::Restart, node)
}

/// Numbers the rows (`seq` from 0) and spaces them 100 µs apart.
pub fn history(rows: Vec<Record>) -> Vec<Record> {
    rows.into_iter()
        .enumerate()
        .map(|(i, mut r)| {
            r.seq = i as u64;
            r.time_us = 100 * i as u64;
            r
        })
        .collect()
}

/// Stamps `(time_us, row)` pairs with their times and consecutive seqs.
pub fn timed(rows: Vec<(u64, Record)>) -> Vec<Record> {
    rows.into_iter()
        .enumerate()
        .map(|(i, (t, mut r))| {
            r.time_us = t;
            r.seq = i as u64;
            r
        })
        .collect()
}

/// Feeds `rows` (numbered by [`history`]) to `checker` and finishes it after the last row.
pub fn run(checker: &mut dyn Checker, rows: Vec<Record>) -> Vec<Violation> {
    let rows = history(rows);
    let mut out = Vec::new();
    for row in &rows {
        checker.observe(row, &mut out);
    }
    let end_us = rows.last().map_or(0, |r| r.time_us + 100);
    checker.finish(end_us, &mut out);
    out
}

/// A correct three-node history: two elections, a leader crash with an uncommitted entry that is
/// later truncated, a read command, commits and applies, and a restart that re-applies from 1.
pub fn good_history() -> Vec<Record> {
    vec![
        role(0, 0, "follower"),
        role(1, 0, "follower"),
        role(2, 0, "follower"),
        // n0 wins term 1 and commits (1,1) on all three.
        role(0, 1, "candidate"),
        vote(1, 0, 1),
        role(0, 1, "leader"),
        append(0, 1, 1, 1),
        store(1, 1, 1, 1),
        store(2, 1, 1, 1),
        commit(0, 1, 1),
        apply(0, 1, 1, 1),
        commit(1, 1, 1),
        apply(1, 1, 1, 1),
        // (1,2) reaches n1 only; (1,3) nobody. n0 crashes before committing either.
        append(0, 1, 2, 2),
        store(1, 1, 2, 2),
        append(0, 1, 3, 9),
        crash(0),
        // n1 (the more up-to-date log) wins term 2 with n2's vote (§5.4.1).
        role(1, 2, "candidate"),
        vote(2, 1, 2),
        role(1, 2, "leader"),
        append(1, 2, 3, 3),
        append_get(1, 2, 4, 0),
        store(2, 1, 2, 2),
        store(2, 2, 3, 3),
        store_get(2, 2, 4, 0),
        commit(1, 4, 2),
        apply(1, 1, 2, 2),
        apply(1, 2, 3, 3),
        apply_get(1, 2, 4, 0),
        commit(2, 4, 2),
        apply(2, 1, 1, 1),
        apply(2, 1, 2, 2),
        apply(2, 2, 3, 3),
        apply_get(2, 2, 4, 0),
        // n0 comes back: its (1,3) conflicts with the leader's (2,3) and is truncated (§5.3).
        restart(0),
        role(0, 1, "follower"),
        truncate(0, 3),
        store(0, 2, 3, 3),
        store_get(0, 2, 4, 0),
        commit(0, 4, 2),
        apply(0, 1, 1, 1),
        apply(0, 1, 2, 2),
        apply(0, 2, 3, 3),
        apply_get(0, 2, 4, 0),
    ]
}

/// The Figure 8 scenario with the `figure8_commit` bug (five nodes): n0, leader of term 4,
/// commits the term-2 entry (2,2) by counting replicas (§5.4.2 forbids it); n4 then wins term 5
/// without it and overwrites it, so index 2 is applied as (2,2) at n0 and as (3,2) at n4.
pub fn figure8_history() -> Vec<Record> {
    vec![
        // (1,1) everywhere, committed in term 1.
        role(0, 1, "candidate"),
        vote(1, 0, 1),
        vote(2, 0, 1),
        role(0, 1, "leader"),
        append(0, 1, 1, 1),
        store(1, 1, 1, 1),
        store(2, 1, 1, 1),
        store(3, 1, 1, 1),
        store(4, 1, 1, 1),
        commit(0, 1, 1),
        apply(0, 1, 1, 1),
        // (a) n0 leads term 2, (2,2) reaches n1.
        role(0, 2, "candidate"),
        vote(1, 0, 2),
        vote(2, 0, 2),
        role(0, 2, "leader"),
        append(0, 2, 2, 2),
        store(1, 2, 2, 2),
        // (b) n0 crashes; n4 wins term 3 with n2, n3 and appends (3,2).
        crash(0),
        role(4, 3, "candidate"),
        vote(2, 4, 3),
        vote(3, 4, 3),
        role(4, 3, "leader"),
        append(4, 3, 2, 3),
        // (c) n4 crashes; n0 restarts, wins term 4, replicates (2,2) to n2 and commits it: the bug.
        crash(4),
        restart(0),
        role(0, 2, "follower"),
        role(0, 4, "candidate"),
        vote(1, 0, 4),
        vote(2, 0, 4),
        role(0, 4, "leader"),
        append(0, 4, 3, 4),
        store(2, 2, 2, 2),
        commit(0, 2, 4),
        apply(0, 1, 1, 1),
        apply(0, 2, 2, 2),
        // (d) n0 crashes; n4 restarts, wins term 5 (its last term 3 beats 2) and overwrites index 2.
        crash(0),
        restart(4),
        role(4, 3, "follower"),
        role(4, 5, "candidate"),
        vote(1, 4, 5),
        vote(2, 4, 5),
        vote(3, 4, 5),
        role(4, 5, "leader"),
        truncate(1, 2),
        store(1, 3, 2, 3),
        truncate(2, 2),
        store(2, 3, 2, 3),
        commit(4, 2, 5),
        apply(4, 1, 1, 1),
        apply(4, 3, 2, 3),
    ]
}

/// The `vote_without_log_check` bug (three nodes): n1 votes for n2 although n2 lacks the
/// committed (1,1); n2 leads term 2 with an empty log and commits (2,1) over it.
pub fn vote_without_log_check_history() -> Vec<Record> {
    vec![
        role(0, 1, "candidate"),
        vote(1, 0, 1),
        role(0, 1, "leader"),
        append(0, 1, 1, 1),
        store(1, 1, 1, 1),
        commit(0, 1, 1),
        apply(0, 1, 1, 1),
        crash(0),
        role(2, 2, "candidate"),
        vote(1, 2, 2),
        role(2, 2, "leader"),
        append(2, 2, 1, 2),
        truncate(1, 1),
        store(1, 2, 1, 2),
        commit(2, 1, 2),
        apply(2, 2, 1, 2),
    ]
}

/// The `forget_voted_for` bug (three nodes): n2 votes for n0 in term 1, crashes, forgets it,
/// and votes for n1 in term 1 too: two leaders of term 1.
pub fn forget_voted_for_history() -> Vec<Record> {
    vec![
        role(0, 1, "candidate"),
        role(1, 1, "candidate"),
        vote(2, 0, 1),
        role(0, 1, "leader"),
        crash(2),
        restart(2),
        role(2, 1, "follower"),
        vote(2, 1, 1),
        role(1, 1, "leader"),
    ]
}

/// The digest of the applied prefix `1..=upto` of [`snapshotting_history`] (every entry `(1, i)`
/// carries value id `i`).
pub fn snapshotting_digest(upto: u64) -> u64 {
    (1..=upto).fold(crate::raft::DIGEST_EMPTY, |h, i| crate::raft::entry_digest(h, i, 1, i))
}

/// A long correct run of three nodes with snapshots (Raft §7): n0 leads term 1 and appends
/// `(1, i)` for `i` in `1..=entries` (value id `i`); n1 and n2 store it and acknowledge it on the
/// wire; all three commit and apply it, and snapshot every `every` entries.
pub fn snapshotting_history(entries: u64, every: u64) -> Vec<Record> {
    let mut rows = vec![role(0, 1, "leader"), role(1, 1, "follower"), role(2, 1, "follower")];
    for i in 1..=entries {
        rows.push(append(0, 1, i, i));
        for f in [1, 2] {
            rows.push(store(f, 1, i, i));
            rows.push(
                at(Event::Deliver, 0)
                    .peer(NodeId(f))
                    .term(1)
                    .index(i)
                    .msg("append_entries_reply")
                    .detail("success"),
            );
        }
        for n in 0..3 {
            rows.push(commit(n, i, 1));
            rows.push(apply(n, 1, i, i));
        }
        if i % every == 0 {
            let digest = format!("digest={:016x}", snapshotting_digest(i));
            for n in 0..3 {
                rows.push(at(Event::Snapshot, n).term(1).index(i).detail(digest.clone()));
            }
        }
    }
    rows
}
