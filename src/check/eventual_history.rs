//! What the eventual-consistency checkers need to remember from a trace: the writes (`write` rows:
//! key and clock of each value id) and the end state (`final` rows, [`FinalStates`]). Each checker
//! owns what it reads, so checkers stay independent.
//!
//! `final` rows: one per node with no key (so a node holding nothing still appears), then one per
//! key the node holds: `value` the version ids (sorted), `clock` their joined clock. A key a node
//! has no row for is held as the empty set there.

use std::collections::{BTreeMap, BTreeSet};

use rustc_hash::FxHashMap;

use crate::eventual::VClock;
use crate::sim::NodeId;
use crate::trace::{Event, Record, Value};

/// One client write as its coordinator recorded it (its latest `write` row).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct WriteInfo {
    pub key: u64,
    pub clock: VClock,
    pub node: Option<NodeId>,
    pub time_us: u64,
    pub seq: u64,
    /// The clocks of the value's earlier `write` rows: usually none; a client's resend of a put to
    /// another coordinator writes the same value again, under another clock.
    pub earlier: Vec<VClock>,
}

impl WriteInfo {
    /// The clock of every `write` row of the value.
    pub fn copies(&self) -> impl Iterator<Item = &VClock> {
        self.earlier.iter().chain(std::iter::once(&self.clock))
    }
}

/// A node's end state for one key.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Held {
    /// Version ids, sorted ascending.
    pub values: Vec<u64>,
    /// The joined clock of the versions.
    pub clock: VClock,
    pub seq: u64,
}

impl Held {
    /// `v1|v2 (n0:1;n1:1)`, or `nothing`.
    pub fn describe(&self) -> String {
        if self.values.is_empty() {
            return "nothing".to_owned();
        }
        format!("{} ({})", ids_value(&self.values), self.clock)
    }
}

/// The trace cell for sorted ids.
pub fn ids_value(ids: &[u64]) -> Value {
    match ids {
        [] => Value::None,
        [one] => Value::Id(*one),
        many => Value::Ids(many.to_vec()),
    }
}

/// Ids in a value cell, sorted; text cells give none.
pub fn value_ids(value: &Value) -> Vec<u64> {
    let mut ids = match value {
        Value::Id(v) => vec![*v],
        Value::Ids(vs) => vs.clone(),
        Value::None | Value::Text(_) => Vec::new(),
    };
    ids.sort_unstable();
    ids.dedup();
    ids
}

/// The end state, from `final` rows.
#[derive(Clone, Debug, Default)]
pub struct FinalStates {
    /// Nodes that wrote any `final` row.
    pub final_nodes: BTreeSet<NodeId>,
    /// Key → node → end state (only keys with a `final` row at that node).
    pub finals: BTreeMap<u64, BTreeMap<NodeId, Held>>,
    /// Largest `seq` among `final` rows (where end-state violations are reported).
    pub last_final_seq: u64,
}

impl FinalStates {
    pub fn observe_final(&mut self, row: &Record) {
        let Some(node) = row.node else { return };
        self.final_nodes.insert(node);
        self.last_final_seq = self.last_final_seq.max(row.seq);
        if let Some(key) = row.key {
            let clock = row.clock.as_ref().map(VClock::from_trace).unwrap_or_default();
            let held = Held { values: value_ids(&row.value), clock, seq: row.seq };
            self.finals.entry(key).or_default().insert(node, held);
        }
    }

    /// `node`'s end state for `key` (empty when it had no row for it).
    pub fn held(&self, key: u64, node: NodeId) -> Held {
        self.finals.get(&key).and_then(|m| m.get(&node)).cloned().unwrap_or_default()
    }
}

#[derive(Clone, Debug, Default)]
pub struct EventualHistory {
    /// Value id → its write. A hash map: looked up on every `write` row, iterated (sorted by the
    /// reader) only at the end.
    pub writes: FxHashMap<u64, WriteInfo>,
    pub end: FinalStates,
}

impl EventualHistory {
    /// The rows [`EventualHistory::observe`] reads.
    pub const EVENTS: &'static [Event] = &[Event::Write, Event::Final];

    pub fn observe(&mut self, row: &Record) {
        match row.event {
            Event::Write => {
                if let (Value::Id(v), Some(key)) = (&row.value, row.key) {
                    let clock = row.clock.as_ref().map(VClock::from_trace).unwrap_or_default();
                    let mut info = WriteInfo {
                        key,
                        clock,
                        node: row.node,
                        time_us: row.time_us,
                        seq: row.seq,
                        earlier: Vec::new(),
                    };
                    if let Some(old) = self.writes.get_mut(v) {
                        std::mem::swap(old, &mut info);
                        old.earlier = std::mem::take(&mut info.earlier);
                        old.earlier.push(info.clock);
                    } else {
                        self.writes.insert(*v, info);
                    }
                }
            }
            Event::Final => self.end.observe_final(row),
            _ => {}
        }
    }

    /// The writes in value-id order.
    pub fn writes_sorted(&self) -> Vec<(u64, &WriteInfo)> {
        let mut out: Vec<(u64, &WriteInfo)> = self.writes.iter().map(|(v, w)| (*v, w)).collect();
        out.sort_unstable_by_key(|(v, _)| *v);
        out
    }
}
