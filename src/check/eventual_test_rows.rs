//! Hand-made rows for the eventual-consistency checker and metric tests.

use crate::sim::NodeId;
use crate::trace::{Clock, Event, Record};

use crate::check::eventual_history::ids_value;

fn clock(text: &str) -> Option<Clock> {
    if text.is_empty() {
        return None;
    }
    Some(Clock::parse(text).unwrap_or_else(|| panic!("bad clock {text:?}")))
}

fn with_clock(row: Record, text: &str) -> Record {
    match clock(text) {
        Some(c) => row.clock(c),
        None => row,
    }
}

pub fn client_put(node: u32, key: u64, value: u64) -> Record {
    Record::new(Event::Client).node(NodeId(node)).msg("put").key(key).value(ids_value(&[value]))
}

pub fn client_get(node: u32, key: u64, id: u64) -> Record {
    Record::new(Event::Client).node(NodeId(node)).msg("get").key(key).index(id)
}

pub fn write(node: u32, key: u64, value: u64, clock: &str) -> Record {
    with_clock(Record::new(Event::Write).node(NodeId(node)).key(key).value(ids_value(&[value])), clock)
}

pub fn put_ack(node: u32, key: u64, value: u64, clock: &str) -> Record {
    let row = Record::new(Event::Note).node(NodeId(node)).msg("put_ack").key(key).value(ids_value(&[value]));
    with_clock(row, clock)
}

pub fn apply(node: u32, key: u64, values: &[u64], clock: &str) -> Record {
    let row = Record::new(Event::Apply).node(NodeId(node)).key(key).value(ids_value(values));
    with_clock(row, clock).detail("replicate")
}

pub fn read(node: u32, key: u64, id: u64, values: &[u64], clock: &str) -> Record {
    let row = Record::new(Event::Read).node(NodeId(node)).key(key).index(id).value(ids_value(values));
    with_clock(row, clock)
}

pub fn final_node(node: u32, keys: usize) -> Record {
    Record::new(Event::Final).node(NodeId(node)).detail(format!("keys={keys}"))
}

pub fn final_key(node: u32, key: u64, values: &[u64], clock: &str) -> Record {
    with_clock(Record::new(Event::Final).node(NodeId(node)).key(key).value(ids_value(values)), clock)
}

pub use crate::check::testkit::timed;
