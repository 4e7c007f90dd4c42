//! Pairs each `send` row with what became of the message: its `deliver` row(s), or the `drop` row
//! that ended it — the trace has no message id, so the pairing is rebuilt from the row contract.
//!
//! How rows are paired (the runner's order, `sim::runner`):
//! - A `send` row opens a flight keyed by (sender, receiver, msg and every column `describe`
//!   fills: term, index, key, value, clock).
//! - A `duplicate` row right after its send (seq + 1, same content) means two copies will arrive.
//! - A `drop` row right after its send with a reason other than `node_down` (`random`,
//!   `partition`) ends that copy at the send.
//! - A `deliver` row (node = receiver, peer = sender), or a `drop` at delivery time (node =
//!   sender: `node_down`, or a `partition` drop not right after its send — a message in flight cut
//!   by a partition begun since) ends the oldest open flight with the same key.
//!
//! The network is not FIFO, so when two in-flight messages have identical contents the pairing may
//! swap them. Both choices draw a send before its delivery with the same contents, so the pictures
//! are equally true; only which of two identical arrows is which is unknowable. A row that matches
//! nothing (a hand-made or cut trace) stays unpaired and is drawn as a local event.

use std::collections::{BTreeMap, VecDeque};

use crate::sim::NodeId;
use crate::trace::{Event, Record};

/// What the trace says happened to one copy of a message.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Arrival {
    pub at_us: u64,
    /// `None` for a delivery; the drop reason (`random`, `partition`, `node_down`) otherwise.
    pub dropped: Option<String>,
    /// Index of the row in the selection, when that row was kept by the filter.
    pub row: Option<usize>,
}

impl Arrival {
    pub fn delivered(&self) -> bool {
        self.dropped.is_none()
    }
}

/// One sent message and its fate.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Flight {
    pub from: NodeId,
    pub to: NodeId,
    pub msg: String,
    pub sent_us: u64,
    /// The kept `send` row, if the filter kept it.
    pub send_row: Option<usize>,
    /// The kept `duplicate` row: the second copy departs from there.
    pub duplicate_row: Option<usize>,
    /// 1, or 2 when the network duplicated the message. Invariant: `arrivals.len() <= copies`.
    pub copies: u8,
    /// In arrival order. Fewer than `copies` when the trace ends with the message in flight.
    pub arrivals: Vec<Arrival>,
}

/// Which part of a flight a row is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Part {
    Send,
    Duplicate,
    /// The n-th arrival (delivery or drop).
    Arrival(usize),
}

/// A kept row's place in a flight.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Link {
    /// Index into the finished flights.
    pub flight: usize,
    pub part: Part,
}

/// Everything that identifies a message's contents on a row.
type Key = (NodeId, NodeId, String, Option<u64>, Option<u64>, Option<u64>, String, String);

fn key(from: NodeId, to: NodeId, row: &Record) -> Key {
    let clock = row.clock.as_ref().map(|c| c.to_string()).unwrap_or_default();
    (from, to, row.msg.to_string(), row.term, row.index, row.key, row.value.to_string(), clock)
}

/// Streams rows in trace order and pairs them. Memory: one entry per message in flight, plus the
/// flights that touch a kept row.
#[derive(Debug, Default)]
pub struct Matcher {
    /// Open flights by the seq of their send row.
    open: BTreeMap<u64, Flight>,
    /// Open flights with arrivals still to come, oldest first, per content key.
    waiting: BTreeMap<Key, VecDeque<u64>>,
    /// The last send row: (seq, key), for a `duplicate` / `drop` row that follows it.
    last_send: Option<(u64, Key)>,
    /// Finished flights that touch a kept row.
    flights: Vec<Flight>,
    /// Links to patch into the kept rows: (row index, link).
    links: Vec<(usize, Link)>,
}

impl Matcher {
    pub fn new() -> Matcher {
        Matcher::default()
    }

    /// Feeds the next row; `kept` is its index in the selection if the filter kept it.
    pub fn observe(&mut self, row: &Record, kept: Option<usize>) {
        match row.event {
            Event::Send => self.send(row, kept),
            Event::Duplicate => self.duplicate(row, kept),
            // Only `node_down` and in-flight `partition` drops happen at delivery time.
            Event::Drop
                if row.detail != "node_down"
                    && (row.detail != "partition" || self.previous_send(row).is_some()) =>
            {
                self.drop_at_send(row, kept)
            }
            Event::Drop => {
                if let (Some(from), Some(to)) = (row.node, row.peer) {
                    self.arrive(key(from, to, row), row, kept, Some(row.detail.to_string()));
                }
            }
            Event::Deliver => {
                if let (Some(to), Some(from)) = (row.node, row.peer) {
                    self.arrive(key(from, to, row), row, kept, None);
                }
            }
            _ => {}
        }
    }

    fn send(&mut self, row: &Record, kept: Option<usize>) {
        let (Some(from), Some(to)) = (row.node, row.peer) else { return };
        let k = key(from, to, row);
        let flight = Flight {
            from,
            to,
            msg: row.msg.to_string(),
            sent_us: row.time_us,
            send_row: kept,
            duplicate_row: None,
            copies: 1,
            arrivals: Vec::new(),
        };
        self.open.insert(row.seq, flight);
        self.waiting.entry(k.clone()).or_default().push_back(row.seq);
        self.last_send = Some((row.seq, k));
    }

    /// The open flight whose send row is right before `row`, with the same contents.
    fn previous_send(&self, row: &Record) -> Option<(u64, Key)> {
        let (seq, k) = self.last_send.as_ref()?;
        let (Some(from), Some(to)) = (row.node, row.peer) else { return None };
        (*seq + 1 == row.seq && *k == key(from, to, row) && self.open.contains_key(seq))
            .then(|| (*seq, k.clone()))
    }

    fn duplicate(&mut self, row: &Record, kept: Option<usize>) {
        let Some((seq, _)) = self.previous_send(row) else { return };
        if let Some(flight) = self.open.get_mut(&seq) {
            flight.copies = 2;
            flight.duplicate_row = kept;
        }
    }

    fn drop_at_send(&mut self, row: &Record, kept: Option<usize>) {
        let Some((seq, k)) = self.previous_send(row) else { return };
        self.record_arrival(seq, &k, row, kept, Some(row.detail.to_string()));
    }

    fn arrive(&mut self, k: Key, row: &Record, kept: Option<usize>, dropped: Option<String>) {
        let Some(seq) = self.waiting.get(&k).and_then(|q| q.front().copied()) else { return };
        self.record_arrival(seq, &k, row, kept, dropped);
    }

    fn record_arrival(
        &mut self,
        seq: u64,
        k: &Key,
        row: &Record,
        kept: Option<usize>,
        dropped: Option<String>,
    ) {
        let Some(flight) = self.open.get_mut(&seq) else { return };
        flight.arrivals.push(Arrival { at_us: row.time_us, dropped, row: kept });
        if flight.arrivals.len() < usize::from(flight.copies) {
            return;
        }
        if let Some(queue) = self.waiting.get_mut(k) {
            queue.retain(|s| *s != seq);
            if queue.is_empty() {
                self.waiting.remove(k);
            }
        }
        if let Some(flight) = self.open.remove(&seq) {
            self.finish(flight);
        }
    }

    /// Keeps a finished flight if any of its rows was kept, and records the rows' links.
    fn finish(&mut self, flight: Flight) {
        let mut parts: Vec<(usize, Part)> = Vec::new();
        parts.extend(flight.send_row.map(|r| (r, Part::Send)));
        parts.extend(flight.duplicate_row.map(|r| (r, Part::Duplicate)));
        parts.extend(
            flight.arrivals.iter().enumerate().filter_map(|(i, a)| a.row.map(|r| (r, Part::Arrival(i)))),
        );
        if parts.is_empty() {
            return;
        }
        let index = self.flights.len();
        self.links.extend(parts.into_iter().map(|(row, part)| (row, Link { flight: index, part })));
        self.flights.push(flight);
    }

    /// Ends the stream: messages still in flight are kept if their send was kept.
    /// Returns the flights and the (row index, link) pairs, sorted by row.
    pub fn finish_all(mut self) -> (Vec<Flight>, Vec<(usize, Link)>) {
        let open = std::mem::take(&mut self.open);
        for (_, flight) in open {
            self.finish(flight);
        }
        self.links.sort_by_key(|(row, _)| *row);
        (self.flights, self.links)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(seq: u64, t: u64, event: Event, node: u32, peer: u32) -> Record {
        let mut r = Record::new(event).node(NodeId(node)).peer(NodeId(peer)).msg("ping").term(1);
        r.seq = seq;
        r.time_us = t;
        r
    }

    fn run(rows: &[Record]) -> (Vec<Flight>, Vec<(usize, Link)>) {
        let mut m = Matcher::new();
        for (i, r) in rows.iter().enumerate() {
            m.observe(r, Some(i));
        }
        m.finish_all()
    }

    #[test]
    fn send_pairs_with_delivery_and_drops_end_flights() {
        let rows = vec![
            row(0, 0, Event::Send, 0, 1),
            row(1, 5, Event::Send, 0, 2),
            row(2, 5, Event::Drop, 0, 2).detail("partition"),
            row(3, 9, Event::Deliver, 1, 0),
            row(4, 10, Event::Send, 1, 0),
            row(5, 30, Event::Drop, 1, 0).detail("node_down"),
            // Cut in flight: a partition drop at delivery time, not right after its send.
            row(6, 31, Event::Send, 2, 1),
            row(7, 32, Event::Send, 0, 1),
            row(8, 40, Event::Drop, 2, 1).detail("partition"),
        ];
        let (flights, links) = run(&rows);
        assert_eq!(flights.len(), 5, "the n0 -> n1 send at seq 7 stays open");
        assert_eq!(flights[3].send_row, Some(6));
        assert_eq!(
            flights[3].arrivals,
            vec![Arrival { at_us: 40, dropped: Some("partition".into()), row: Some(8) }]
        );
        // Flights are listed as they finish: the dropped one (at seq 2) first.
        assert_eq!(flights[0].send_row, Some(1));
        assert_eq!(
            flights[0].arrivals,
            vec![Arrival { at_us: 5, dropped: Some("partition".into()), row: Some(2) }]
        );
        assert_eq!(flights[1].send_row, Some(0));
        assert_eq!(flights[1].arrivals, vec![Arrival { at_us: 9, dropped: None, row: Some(3) }]);
        assert_eq!(flights[2].arrivals[0].dropped.as_deref(), Some("node_down"));
        assert_eq!(links.len(), 9);
        assert_eq!(links[3], (3, Link { flight: 1, part: Part::Arrival(0) }));
    }

    #[test]
    fn duplicates_expect_two_arrivals_and_in_flight_messages_survive() {
        let rows = vec![
            row(0, 0, Event::Send, 0, 1),
            row(1, 0, Event::Duplicate, 0, 1),
            row(2, 4, Event::Deliver, 1, 0),
            row(3, 6, Event::Send, 0, 1),
            row(4, 7, Event::Deliver, 1, 0),
            row(5, 8, Event::Deliver, 1, 0),
        ];
        let (flights, links) = run(&rows);
        assert_eq!(flights.len(), 2);
        let dup = &flights[0];
        assert_eq!((dup.copies, dup.duplicate_row), (2, Some(1)));
        assert_eq!(dup.arrivals.iter().map(|a| a.row).collect::<Vec<_>>(), vec![Some(2), Some(4)]);
        assert_eq!(flights[1].send_row, Some(3));
        assert_eq!(flights[1].arrivals[0].row, Some(5));
        assert!(links.contains(&(1, Link { flight: 0, part: Part::Duplicate })));
        // A send whose delivery is past the end of the trace is still a flight, with no arrival.
        let (flights, _) = run(&rows[..1]);
        assert_eq!(flights.len(), 1);
        assert!(flights[0].arrivals.is_empty());
    }

    #[test]
    fn different_contents_do_not_pair_and_orphans_stay_unlinked() {
        let rows = vec![
            row(0, 0, Event::Send, 0, 1),
            row(1, 3, Event::Deliver, 1, 0).term(2),
            row(2, 4, Event::Deliver, 2, 0),
            row(3, 5, Event::Drop, 0, 1).detail("random"),
        ];
        let (flights, links) = run(&rows);
        assert_eq!(flights.len(), 1);
        assert!(flights[0].arrivals.is_empty(), "{:?}", flights[0]);
        assert_eq!(links, vec![(0, Link { flight: 0, part: Part::Send })]);
    }

    #[test]
    fn flights_outside_the_kept_rows_are_forgotten() {
        let mut m = Matcher::new();
        m.observe(&row(0, 0, Event::Send, 0, 1), None);
        m.observe(&row(1, 3, Event::Deliver, 1, 0), None);
        m.observe(&row(2, 4, Event::Send, 0, 1), None);
        m.observe(&row(3, 6, Event::Deliver, 1, 0), Some(0));
        let (flights, links) = m.finish_all();
        assert_eq!(flights.len(), 1);
        assert_eq!(flights[0].sent_us, 4);
        assert_eq!(links, vec![(0, Link { flight: 0, part: Part::Arrival(0) })]);
    }
}
