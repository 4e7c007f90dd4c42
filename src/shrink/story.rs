//! The story of a failing run: the violating rows and their causal past, at most [`ROWS_MAX`] rows,
//! readable without the trace.
//!
//! Happens-before (Lamport 1978) is rebuilt from the row contract: a `deliver` row follows its
//! `send` (the pairing of src/export/matcher.rs); each node's rows follow that node's earlier rows
//! (program order), where a node's own `send`s are skipped as links of its timeline (sending
//! changes nothing on the sender; a send enters the story only as the cause of a delivery in it);
//! a client's `ok` / `fail` / `info` follows its `invoke` (same op id) and the node's row before
//! it; a `client` row (the request reaching a node) follows the op's `invoke`; a `drop` by a
//! partition follows the partition row. The story keeps the rows nearest to the violations by that
//! graph (breadth first, ties to the later row), then prints them in trace order.

use std::collections::{BTreeMap, BTreeSet, VecDeque};
use std::fmt::Write as _;

use crate::check::Violation;
use crate::export::matcher::Part;
use crate::export::{describe, format_us, Selection};
use crate::trace::{Event, Record};

/// At most this many rows in a story.
pub const ROWS_MAX: usize = 30;

/// The op id of a client row (`index`), if the row is part of a client op.
fn op_of(row: &Record) -> Option<u64> {
    match row.event {
        Event::Invoke | Event::Ok | Event::Fail | Event::Info | Event::Client => row.index,
        _ => None,
    }
}

fn is_client_history(row: &Record) -> bool {
    matches!(row.event, Event::Invoke | Event::Ok | Event::Fail | Event::Info)
}

/// The direct causes of every row (indexes into `sel.rows`).
fn causes(sel: &Selection) -> Vec<Vec<usize>> {
    let rows = &sel.rows;
    let mut out = vec![Vec::new(); rows.len()];
    let mut last_on_node: BTreeMap<u32, usize> = BTreeMap::new();
    let mut invoke_of: BTreeMap<u64, usize> = BTreeMap::new();
    let mut last_partition: Option<usize> = None;
    for (i, row) in rows.iter().enumerate() {
        let c = &mut out[i];
        if let Some((flight, Part::Arrival(_))) = sel.flight_of(i) {
            c.extend(flight.send_row);
            c.extend(flight.duplicate_row);
        }
        if let Some(op) = op_of(row) {
            if row.event == Event::Invoke {
                invoke_of.insert(op, i);
            } else if let Some(inv) = invoke_of.get(&op) {
                c.push(*inv);
            }
        }
        if row.event == Event::Drop && row.detail == "partition" {
            c.extend(last_partition);
        }
        if matches!(row.event, Event::Partition | Event::Heal) {
            last_partition = Some(i);
        }
        let Some(node) = row.node else { continue };
        if row.event == Event::Invoke {
            continue;
        }
        if let Some(prev) = last_on_node.get(&node.0) {
            c.push(*prev);
        }
        // A node's own sends (and the drops of what it sent) change nothing on it, and a client's
        // outcomes belong to the client: neither is a link of the node's timeline.
        let own_send = matches!(row.event, Event::Send | Event::Duplicate | Event::Drop);
        if !own_send && !is_client_history(row) {
            last_on_node.insert(node.0, i);
        }
    }
    for c in out.iter_mut() {
        c.sort_unstable();
        c.dedup();
    }
    out
}

/// The story's rows (indexes into `sel.rows`, in trace order): the rows of `violations` and the
/// nearest of their causal past, at most [`ROWS_MAX`].
pub fn story_rows(sel: &Selection, violations: &[&Violation]) -> Vec<usize> {
    let causes = causes(sel);
    let by_seq: BTreeMap<u64, usize> = sel.rows.iter().enumerate().map(|(i, r)| (r.seq, i)).collect();
    let mut chosen: BTreeSet<usize> = BTreeSet::new();
    let mut frontier: VecDeque<usize> = VecDeque::new();
    for v in violations {
        let i = by_seq.range(..=v.seq).next_back().map(|(_, i)| *i);
        if let Some(i) = i {
            if chosen.len() < ROWS_MAX && chosen.insert(i) {
                frontier.push_back(i);
            }
        }
    }
    // Breadth first; within one row's causes, the later row first.
    while let Some(i) = frontier.pop_front() {
        for c in causes[i].iter().rev() {
            if chosen.len() >= ROWS_MAX {
                return chosen.into_iter().collect();
            }
            if chosen.insert(*c) {
                frontier.push_back(*c);
            }
        }
    }
    chosen.into_iter().collect()
}

/// The story as text: a header, the rows (violating rows marked `!!`), the violations.
pub fn render(sel: &Selection, violations: &[&Violation], total_rows: u64) -> String {
    let rows = story_rows(sel, violations);
    let marked: BTreeSet<u64> = violations.iter().map(|v| v.seq).collect();
    let mut out = String::new();
    let _ = writeln!(
        out,
        "story: {} of {} rows — the violation and its causal past (send -> deliver, each node's program order)",
        rows.len(),
        total_rows
    );
    for i in rows {
        let row = &sel.rows[i];
        let mark = if marked.contains(&row.seq) { "!!" } else { "  " };
        let who = match (row.node, row.event) {
            (_, Event::Invoke | Event::Ok | Event::Fail | Event::Info) => {
                row.detail.split(' ').next().unwrap_or("").to_owned()
            }
            (Some(n), _) => n.to_string(),
            (None, _) => "-".to_owned(),
        };
        let _ = writeln!(
            out,
            "{mark} {:>12} {:>6} {who:<4} {}",
            format_us(row.time_us),
            format!("#{}", row.seq),
            describe(row)
        );
    }
    for v in violations {
        let _ = writeln!(out, "violation: {v}");
    }
    out
}
