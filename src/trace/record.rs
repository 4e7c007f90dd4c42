//! One trace row in memory: the same record feeds the CSV writer, the checkers and the metrics.
//!
//! Columns, in contract order: `time_us,seq,node,event,peer,msg,term,index,key,value,clock,detail`.
//! Protocols build notes with the builder methods (`Record::new(Event::Role).term(3)…`); the runner
//! stamps `time_us`, `seq` and `node`. Text cells are `Cow<'static, str>` so that rows made during a
//! run do not allocate, while rows read back from a file own their text. A `detail` cell made of
//! `label=number` pairs (what a message shows on the wire) is kept as numbers, [`Pairs`], and
//! formatted only where the cell is written or read as text: most such rows are only checked.

use std::borrow::Cow;
use std::fmt::{self, Write as _};
use std::str::FromStr;

use crate::sim::{NodeId, SimTime};

/// The `event` column. The spelling (`as_str`) is part of the trace contract.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Event {
    // Kernel events.
    Send,
    Deliver,
    Drop,
    Duplicate,
    Timeout,
    Crash,
    Restart,
    Partition,
    Heal,
    Client,
    // Raft events.
    Role,
    Vote,
    Append,
    Store,
    Truncate,
    Commit,
    Apply,
    /// A node took a snapshot of its state machine (Raft §7): index and term of the last entry it covers.
    Snapshot,
    /// A follower installed a leader's snapshot (Raft §7, Figure 13).
    InstallSnapshot,
    // Eventual-consistency events.
    Write,
    Read,
    Conflict,
    Final,
    // Client-history events written by the kernel's client layer (Jepsen's :invoke / :ok / :fail /
    // :info; docs/trace.md).
    Invoke,
    Ok,
    Fail,
    Info,
    // Free-form protocol note.
    Note,
}

impl Event {
    pub const ALL: [Event; 28] = [
        Event::Send,
        Event::Deliver,
        Event::Drop,
        Event::Duplicate,
        Event::Timeout,
        Event::Crash,
        Event::Restart,
        Event::Partition,
        Event::Heal,
        Event::Client,
        Event::Role,
        Event::Vote,
        Event::Append,
        Event::Store,
        Event::Truncate,
        Event::Commit,
        Event::Apply,
        Event::Snapshot,
        Event::InstallSnapshot,
        Event::Write,
        Event::Read,
        Event::Conflict,
        Event::Final,
        Event::Invoke,
        Event::Ok,
        Event::Fail,
        Event::Info,
        Event::Note,
    ];

    pub const fn as_str(self) -> &'static str {
        match self {
            Event::Send => "send",
            Event::Deliver => "deliver",
            Event::Drop => "drop",
            Event::Duplicate => "duplicate",
            Event::Timeout => "timeout",
            Event::Crash => "crash",
            Event::Restart => "restart",
            Event::Partition => "partition",
            Event::Heal => "heal",
            Event::Client => "client",
            Event::Role => "role",
            Event::Vote => "vote",
            Event::Append => "append",
            Event::Store => "store",
            Event::Truncate => "truncate",
            Event::Commit => "commit",
            Event::Apply => "apply",
            Event::Snapshot => "snapshot",
            Event::InstallSnapshot => "install_snapshot",
            Event::Write => "write",
            Event::Read => "read",
            Event::Conflict => "conflict",
            Event::Final => "final",
            Event::Invoke => "invoke",
            Event::Ok => "ok",
            Event::Fail => "fail",
            Event::Info => "info",
            Event::Note => "note",
        }
    }
}

impl FromStr for Event {
    type Err = ();
    fn from_str(s: &str) -> Result<Event, ()> {
        Event::ALL.iter().copied().find(|e| e.as_str() == s).ok_or(())
    }
}

impl fmt::Display for Event {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The `value` column.
#[derive(Clone, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Value {
    #[default]
    None,
    /// A client-written value, unique per write: `v17`.
    Id(u64),
    /// Several values (siblings), sorted ascending: `v3|v5`.
    Ids(Vec<u64>),
    /// Anything else (a role name, …).
    Text(Cow<'static, str>),
}

impl Value {
    pub fn is_none(&self) -> bool {
        matches!(self, Value::None)
    }

    /// Appends the cell's text to `out`.
    pub fn write_to(&self, out: &mut String) {
        match self {
            Value::None => {}
            Value::Id(v) => {
                let _ = write!(out, "v{v}");
            }
            Value::Ids(vs) => {
                for (i, v) in vs.iter().enumerate() {
                    if i > 0 {
                        out.push('|');
                    }
                    let _ = write!(out, "v{v}");
                }
            }
            Value::Text(t) => out.push_str(t),
        }
    }

    /// Parses a cell. `v…` ids and `|`-joined id lists become ids; other text stays text.
    pub fn parse(cell: &str) -> Value {
        if cell.is_empty() {
            return Value::None;
        }
        // One id, the usual cell: no vector to collect it into.
        if !cell.contains('|') {
            return parse_prefixed('v')(cell)
                .map_or_else(|| Value::Text(Cow::Owned(cell.to_owned())), Value::Id);
        }
        let ids: Option<Vec<u64>> = cell.split('|').map(parse_prefixed('v')).collect();
        match ids {
            Some(mut ids) if ids.len() == 1 => Value::Id(ids.pop().unwrap_or_default()),
            Some(ids) => Value::Ids(ids),
            None => Value::Text(Cow::Owned(cell.to_owned())),
        }
    }
}

impl fmt::Display for Value {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut s = String::new();
        self.write_to(&mut s);
        f.write_str(&s)
    }
}

/// A vector clock as the trace shows it: `(node, counter)` pairs, zeros left out, sorted by node.
/// Written `n0:2;n3:1`. Equality, order, hashing and `Debug` are those of the pair slice.
#[derive(Clone, Default)]
pub struct Clock(ClockPairs);

/// Pairs kept inline up to this many (the shipped scenarios' clocks have 3 to 5 entries).
const CLOCK_INLINE: usize = 4;

/// A clock's pairs: inline up to [`CLOCK_INLINE`], on the heap beyond. The eventual KV puts a
/// clock on most of its rows (`write`, `apply`, `conflict`, `read`, `put_ack`, the client's `ok`),
/// and with a `Vec` each was an allocation and a free.
#[derive(Clone)]
enum ClockPairs {
    Inline { len: u8, buf: [(NodeId, u64); CLOCK_INLINE] },
    Heap(Vec<(NodeId, u64)>),
}

impl Default for ClockPairs {
    fn default() -> ClockPairs {
        ClockPairs::Inline { len: 0, buf: [(NodeId(0), 0); CLOCK_INLINE] }
    }
}

impl Clock {
    /// A clock from its pairs as given (the caller keeps them sorted and non-zero; a reader of
    /// the clock tolerates hand-made cells that are not).
    pub fn from_pairs(pairs: Vec<(NodeId, u64)>) -> Clock {
        if pairs.len() <= CLOCK_INLINE {
            let mut clock = Clock::default();
            for pair in pairs {
                clock.push(pair);
            }
            clock
        } else {
            Clock(ClockPairs::Heap(pairs))
        }
    }

    /// Builds a clock from per-node counters indexed by node id, leaving zeros out.
    pub fn from_counters(counters: &[u64]) -> Clock {
        // Filled in place (one clock per eventual KV row); past `CLOCK_INLINE` entries, collected.
        let mut buf = [(NodeId(0), 0); CLOCK_INLINE];
        let mut len = 0;
        for (i, c) in counters.iter().enumerate() {
            if *c > 0 {
                if len == CLOCK_INLINE {
                    let pairs = counters.iter().enumerate().filter(|(_, c)| **c > 0);
                    return Clock(ClockPairs::Heap(pairs.map(|(i, c)| (NodeId(i as u32), *c)).collect()));
                }
                buf[len] = (NodeId(i as u32), *c);
                len += 1;
            }
        }
        Clock(ClockPairs::Inline { len: len as u8, buf })
    }

    /// The `(node, counter)` pairs, in order.
    pub fn pairs(&self) -> &[(NodeId, u64)] {
        match &self.0 {
            ClockPairs::Inline { len, buf } => &buf[..usize::from(*len)],
            ClockPairs::Heap(v) => v,
        }
    }

    #[inline]
    fn push(&mut self, pair: (NodeId, u64)) {
        match &mut self.0 {
            ClockPairs::Inline { len, buf } if usize::from(*len) < CLOCK_INLINE => {
                buf[usize::from(*len)] = pair;
                *len += 1;
            }
            ClockPairs::Inline { len, buf } => {
                let mut v = Vec::with_capacity(CLOCK_INLINE * 2);
                v.extend_from_slice(&buf[..usize::from(*len)]);
                v.push(pair);
                self.0 = ClockPairs::Heap(v);
            }
            ClockPairs::Heap(v) => v.push(pair),
        }
    }

    pub fn write_to(&self, out: &mut String) {
        for (i, (n, c)) in self.pairs().iter().enumerate() {
            if i > 0 {
                out.push(';');
            }
            let _ = write!(out, "{n}:{c}");
        }
    }

    /// Parses `n0:2;n3:1`; rejects zeros, unsorted or repeated nodes.
    pub fn parse(cell: &str) -> Option<Clock> {
        let mut clock = Clock::default();
        for part in cell.split(';') {
            let (node, count) = part.split_once(':')?;
            let node = NodeId::parse(node)?;
            let count: u64 = count.parse().ok()?;
            if count == 0 || clock.pairs().last().is_some_and(|(last, _)| *last >= node) {
                return None;
            }
            clock.push((node, count));
        }
        Some(clock)
    }
}

impl PartialEq for Clock {
    fn eq(&self, other: &Clock) -> bool {
        self.pairs() == other.pairs()
    }
}

impl Eq for Clock {}

impl PartialOrd for Clock {
    fn partial_cmp(&self, other: &Clock) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for Clock {
    fn cmp(&self, other: &Clock) -> std::cmp::Ordering {
        self.pairs().cmp(other.pairs())
    }
}

impl std::hash::Hash for Clock {
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        self.pairs().hash(state)
    }
}

impl fmt::Debug for Clock {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("Clock").field(&self.pairs()).finish()
    }
}

impl fmt::Display for Clock {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut s = String::new();
        self.write_to(&mut s);
        f.write_str(&s)
    }
}

/// A `detail` cell of up to three `label=number` pairs, labels carrying their separators
/// (`prev_term=`, ` entries=`, ` commit=`): the numbers of a message's wire detail, formatted when
/// the row is written. Every `send` / `deliver` row of a Raft RPC carries one, and building its
/// string per row (an allocation, the digits, the free) cost ~4 % of a checked run while no live
/// checker reads those cells (callgrind, `examples/prof check`). Labels are constants, so the
/// cell's text never needs CSV quoting.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Pairs {
    /// The labels in order; an empty label ends the list.
    labels: &'static [&'static str; 3],
    numbers: [u64; 3],
}

impl Pairs {
    /// `labels[i]` followed by `numbers[i]`, for each `i` before the first empty label.
    pub const fn new(labels: &'static [&'static str; 3], numbers: [u64; 3]) -> Pairs {
        Pairs { labels, numbers }
    }

    /// The pairs in order, as (label, number).
    pub fn iter(&self) -> impl Iterator<Item = (&'static str, u64)> + '_ {
        self.labels.iter().copied().zip(self.numbers).take_while(|(label, _)| !label.is_empty())
    }

    /// The most bytes the cell takes (a u64 has at most 20 digits).
    pub fn bound(&self) -> usize {
        self.iter().map(|(label, _)| label.len() + 20).sum()
    }

    /// Appends the cell's text to `out`.
    pub fn push_to(&self, out: &mut String) {
        let mut digits = itoa::Buffer::new();
        for (label, n) in self.iter() {
            out.push_str(label);
            out.push_str(digits.format(n));
        }
    }
}

impl fmt::Display for Pairs {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.iter().try_for_each(|(label, n)| write!(f, "{label}{n}"))
    }
}

/// One trace row. `None` / empty fields are empty cells.
#[derive(Clone, Debug)]
pub struct Record {
    pub time_us: u64,
    /// Row number from 0, assigned by the runner (or read from the file).
    pub seq: u64,
    pub node: Option<NodeId>,
    pub event: Event,
    pub peer: Option<NodeId>,
    /// A message or timer name, or a client operation.
    pub msg: Cow<'static, str>,
    pub term: Option<u64>,
    pub index: Option<u64>,
    /// Keys are small integers written `k3`.
    pub key: Option<u64>,
    pub value: Value,
    pub clock: Option<Clock>,
    /// The `detail` cell's text; followed by `detail_pairs` when there are any
    /// ([`Record::detail_text`] is the whole cell).
    pub detail: Cow<'static, str>,
    /// The rest of the `detail` cell, kept as numbers until written (made by `Message::describe`;
    /// `None` in rows read from a file).
    pub detail_pairs: Option<Pairs>,
}

/// Rows are equal when their cells are: a `detail` held as text equals the same cell held as
/// [`Pairs`].
impl PartialEq for Record {
    fn eq(&self, other: &Record) -> bool {
        self.time_us == other.time_us
            && self.seq == other.seq
            && self.node == other.node
            && self.event == other.event
            && self.peer == other.peer
            && self.msg == other.msg
            && self.term == other.term
            && self.index == other.index
            && self.key == other.key
            && self.value == other.value
            && self.clock == other.clock
            && self.detail_text() == other.detail_text()
    }
}

impl Eq for Record {}

impl Record {
    pub fn new(event: Event) -> Record {
        Record {
            time_us: 0,
            seq: 0,
            node: None,
            event,
            peer: None,
            msg: Cow::Borrowed(""),
            term: None,
            index: None,
            key: None,
            value: Value::None,
            clock: None,
            detail: Cow::Borrowed(""),
            detail_pairs: None,
        }
    }

    pub fn at(mut self, time: SimTime) -> Record {
        self.time_us = time.as_us();
        self
    }

    pub fn node(mut self, node: NodeId) -> Record {
        self.node = Some(node);
        self
    }

    pub fn peer(mut self, peer: NodeId) -> Record {
        self.peer = Some(peer);
        self
    }

    pub fn msg(mut self, msg: &'static str) -> Record {
        self.msg = Cow::Borrowed(msg);
        self
    }

    pub fn term(mut self, term: u64) -> Record {
        self.term = Some(term);
        self
    }

    pub fn index(mut self, index: u64) -> Record {
        self.index = Some(index);
        self
    }

    pub fn key(mut self, key: u64) -> Record {
        self.key = Some(key);
        self
    }

    pub fn value(mut self, value: Value) -> Record {
        self.value = value;
        self
    }

    pub fn clock(mut self, clock: Clock) -> Record {
        self.clock = Some(clock);
        self
    }

    pub fn detail(mut self, detail: impl Into<Cow<'static, str>>) -> Record {
        self.set_detail(detail);
        self
    }

    /// Replaces the `detail` cell with text (dropping any [`Pairs`]).
    pub fn set_detail(&mut self, detail: impl Into<Cow<'static, str>>) {
        self.detail = detail.into();
        self.detail_pairs = None;
    }

    /// The whole `detail` cell as text: `detail`, then `detail_pairs` formatted (allocates only then).
    pub fn detail_text(&self) -> Cow<'_, str> {
        match &self.detail_pairs {
            None => Cow::Borrowed(&self.detail),
            Some(pairs) => {
                let mut out = self.detail.clone().into_owned();
                pairs.push_to(&mut out);
                Cow::Owned(out)
            }
        }
    }

    pub fn time(&self) -> SimTime {
        SimTime(self.time_us)
    }
}

/// A parser for `k3` / `v17` style cells.
pub fn parse_prefixed(prefix: char) -> impl Fn(&str) -> Option<u64> {
    move |cell: &str| {
        let digits = cell.strip_prefix(prefix)?;
        if digits.is_empty() || (digits.len() > 1 && digits.starts_with('0')) {
            return None;
        }
        digits.parse().ok()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn all_events_are_listed_in_declaration_order() {
        // `CheckSet` indexes a table by `event as usize`.
        for (i, e) in Event::ALL.iter().enumerate() {
            assert_eq!(*e as usize, i, "{e}");
        }
    }

    #[test]
    fn event_names_round_trip() {
        for e in Event::ALL {
            assert_eq!(e.as_str().parse::<Event>(), Ok(e));
        }
        assert!("bogus".parse::<Event>().is_err());
    }

    #[test]
    fn values_round_trip() {
        for v in [Value::None, Value::Id(17), Value::Ids(vec![3, 5]), Value::Text(Cow::Borrowed("leader"))] {
            assert_eq!(Value::parse(&v.to_string()), v);
        }
    }

    #[test]
    fn clocks_are_sorted_without_zeros() {
        let c = Clock::from_counters(&[2, 0, 0, 1]);
        assert_eq!(c.to_string(), "n0:2;n3:1");
        assert_eq!(Clock::parse("n0:2;n3:1"), Some(c));
        assert_eq!(Clock::parse("n3:1;n0:2"), None);
        assert_eq!(Clock::parse("n0:0"), None);
        assert_eq!(Clock::parse("n0:1;n0:2"), None);
    }
}
