//! A client history: the operations clients invoked on the registers, each with its invocation and
//! its completion (`ok`, `fail`, `info`, or none when the run ended first), in real-time order.
//!
//! Built by a [`HistoryBuilder`] from dsim trace rows (the four client events of docs/trace.md;
//! every other row is ignored) or from Jepsen EDN op maps. Pairing follows Jepsen: a process has at
//! most one outstanding invocation, and its next completion completes it. Values and keys are
//! interned ([`Datum`] → `u32`, id 0 is `nil`), so the search compares small integers.
//!
//! Real-time order is the order of events in the input (a trace's `seq`, an EDN file's op order),
//! kept as each event's `pos`: op A precedes op B iff A's completion comes before B's invocation.

use rustc_hash::FxHashMap;

use crate::lin::edn::Datum;
use crate::trace::{Event, Record, Value};

/// The interned id of `nil`: the register's initial value, and "no key".
pub const NIL: u32 = 0;

/// Ops (invocations) a history may hold.
pub const OPS_MAX: usize = 10_000_000;

/// An operation's function on a register.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum OpF {
    Read,
    Write,
    Cas,
}

impl OpF {
    pub fn as_str(self) -> &'static str {
        match self {
            OpF::Read => "read",
            OpF::Write => "write",
            OpF::Cas => "cas",
        }
    }

    fn parse(s: &str) -> Option<OpF> {
        match s {
            "read" => Some(OpF::Read),
            "write" => Some(OpF::Write),
            "cas" => Some(OpF::Cas),
            _ => None,
        }
    }
}

/// Where one event (an invocation or a completion) sits in the input.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct At {
    /// Position in the history's event order, from 0: the real-time order.
    pub pos: u64,
    /// The row's `seq` (trace) or the line number (EDN).
    pub line: u64,
    /// Nanoseconds (a trace's `time_us` × 1000, an EDN op's `:time`), when known.
    pub time_ns: Option<u64>,
}

/// How an operation ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Completion {
    /// It took effect between its invocation and this completion.
    Ok(At),
    /// It certainly did not take effect.
    Fail(At),
    /// It may have taken effect at any time after its invocation, or never.
    Info(At),
    /// No completion before the history ended: as `Info`.
    None,
}

impl Completion {
    pub fn at(&self) -> Option<At> {
        match *self {
            Completion::Ok(at) | Completion::Fail(at) | Completion::Info(at) => Some(at),
            Completion::None => None,
        }
    }

    pub fn as_str(&self) -> &'static str {
        match self {
            Completion::Ok(_) => "ok",
            Completion::Fail(_) => "fail",
            Completion::Info(_) => "info",
            Completion::None => "none",
        }
    }

    pub fn is_ok(&self) -> bool {
        matches!(self, Completion::Ok(_))
    }

    /// The completion a completing event (`ok`, `fail`, `info`) at `at` gives.
    pub(crate) fn of(kind: Event, at: At) -> Completion {
        match kind {
            Event::Ok => Completion::Ok(at),
            Event::Fail => Completion::Fail(at),
            _ => Completion::Info(at),
        }
    }
}

/// One operation on one register.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Op {
    /// The op id: a trace's `index` column, an EDN invocation's `:index` (else its ordinal).
    pub id: u64,
    pub process: u64,
    pub f: OpF,
    /// Interned key; [`NIL`] when the history has a single register.
    pub key: u32,
    /// Write: the value written; cas: the new value; read: the value an `ok` read returned.
    pub value: u32,
    /// Cas: the value expected; otherwise [`NIL`].
    pub expect: u32,
    pub invoke: At,
    pub completion: Completion,
}

/// One event of a history, in order: an op's invocation or its completion.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct EventRef {
    pub op: usize,
    pub completion: bool,
    pub pos: u64,
}

/// Where a history was read from: decides how values and positions are shown.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Source {
    /// dsim trace rows: keys `k3`, values `v7`, positions are row `seq`s.
    Trace,
    /// A Jepsen EDN history: values as EDN, positions are line numbers.
    Edn,
}

/// A complete client history.
#[derive(Clone, Debug)]
pub struct History {
    /// In invocation order.
    ops: Vec<Op>,
    data: Vec<Datum>,
    source: Source,
}

impl History {
    pub fn ops(&self) -> &[Op] {
        &self.ops
    }

    pub fn source(&self) -> Source {
        self.source
    }

    pub fn datum(&self, id: u32) -> &Datum {
        &self.data[id as usize]
    }

    /// The key's datum, `None` for the single register of a keyless history.
    pub fn key_datum(&self, key: u32) -> Option<&Datum> {
        (key != NIL).then(|| self.datum(key))
    }

    /// The distinct keys, in the datums' order (deterministic, whatever the input order).
    pub fn keys(&self) -> Vec<u32> {
        let mut keys: Vec<u32> = self.ops.iter().map(|op| op.key).collect();
        keys.sort_unstable_by(|a, b| self.datum(*a).cmp(self.datum(*b)));
        keys.dedup();
        keys
    }

    /// The indexes (into `ops()`) of the ops on `key`, in invocation order.
    pub fn ops_of(&self, key: u32) -> Vec<usize> {
        (0..self.ops.len()).filter(|&i| self.ops[i].key == key).collect()
    }

    /// Every invocation and completion, in history order.
    pub fn events(&self) -> Vec<EventRef> {
        let mut events = Vec::with_capacity(self.ops.len() * 2);
        for (i, op) in self.ops.iter().enumerate() {
            events.push(EventRef { op: i, completion: false, pos: op.invoke.pos });
            if let Some(at) = op.completion.at() {
                events.push(EventRef { op: i, completion: true, pos: at.pos });
            }
        }
        events.sort_unstable_by_key(|e| e.pos);
        events
    }

    /// A value as the source shows it: `v7` / `nil` / `v3|v5` for a trace, EDN otherwise.
    pub fn show_value(&self, id: u32) -> String {
        match (self.source, self.datum(id)) {
            (Source::Trace, Datum::Int(i)) => format!("v{i}"),
            (Source::Trace, Datum::Vector(vs)) => {
                vs.iter().map(|v| format!("v{v}")).collect::<Vec<_>>().join("|")
            }
            (_, d) => d.to_string(),
        }
    }

    /// A key as the source shows it (`k3`, `:x`, `7`), or `(single register)`.
    pub fn show_key(&self, key: u32) -> String {
        match (self.source, self.key_datum(key)) {
            (_, None) => "(single register)".to_owned(),
            (Source::Trace, Some(Datum::Int(k))) => format!("k{k}"),
            (_, Some(d)) => d.to_string(),
        }
    }

    /// `write v3`, `cas v3->v4`, `read v3` (an ok read), `read` otherwise.
    pub fn show_call(&self, op: &Op) -> String {
        match op.f {
            OpF::Read if op.completion.is_ok() => format!("read {}", self.show_value(op.value)),
            OpF::Read => "read".to_owned(),
            OpF::Write => format!("write {}", self.show_value(op.value)),
            OpF::Cas => format!("cas {}->{}", self.show_value(op.expect), self.show_value(op.value)),
        }
    }

    /// What a position is called in this source (`seq` or `line`).
    pub fn line_name(&self) -> &'static str {
        line_name(self.source)
    }

    /// One line describing an op: `op 4 p0 write v1 ok (seq 3..9)`.
    pub fn describe(&self, op: &Op) -> String {
        let end = op.completion.at().map_or("…".to_owned(), |at| at.line.to_string());
        format!(
            "op {} p{} {} {} ({} {}..{})",
            op.id,
            op.process,
            self.show_call(op),
            op.completion.as_str(),
            self.line_name(),
            op.invoke.line,
            end
        )
    }
}

/// A history that does not follow the rules: the line (or seq), the bad text and what is allowed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct HistoryError {
    pub line: u64,
    pub found: String,
    pub allowed: String,
}

impl std::fmt::Display for HistoryError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {}", self.found, self.allowed)
    }
}

/// Builds a [`History`] event by event, pairing completions with invocations per process.
#[derive(Debug)]
pub struct HistoryBuilder {
    history: History,
    intern: FxHashMap<Datum, u32>,
    /// process -> index of its outstanding op (lookups only).
    outstanding: FxHashMap<u64, usize>,
    next_pos: u64,
}

/// One parsed event before pairing.
#[derive(Clone, Debug)]
pub(crate) struct Input {
    pub line: u64,
    pub time_ns: Option<u64>,
    pub process: u64,
    pub kind: Event,
    pub f: OpF,
    pub key: Datum,
    /// Write/cas: the value written; read ok: the value read; else nil.
    pub value: Datum,
    pub expect: Datum,
    pub id: Option<u64>,
}

impl HistoryBuilder {
    pub fn new(source: Source) -> HistoryBuilder {
        HistoryBuilder::with_capacity(source, 0, 0)
    }

    /// A builder with room for `ops` ops and `data` distinct values besides nil (no regrowth
    /// while a history of known size is assembled).
    pub(crate) fn with_capacity(source: Source, ops: usize, data: usize) -> HistoryBuilder {
        let mut intern = FxHashMap::with_capacity_and_hasher(data + 1, Default::default());
        intern.insert(Datum::Nil, NIL);
        let mut values = Vec::with_capacity(data + 1);
        values.push(Datum::Nil);
        HistoryBuilder {
            history: History { ops: Vec::with_capacity(ops), data: values, source },
            intern,
            outstanding: FxHashMap::default(),
            next_pos: 0,
        }
    }

    /// Adds one trace row; rows of events other than invoke/ok/fail/info are ignored.
    pub fn push_row(&mut self, row: &Record) -> Result<(), HistoryError> {
        match parse_row(row)? {
            Some(input) => self.push(input),
            None => Ok(()),
        }
    }

    /// Adds one EDN op map read from `line`. Maps whose `:process` is not an integer (Jepsen's
    /// `:nemesis`) are ignored.
    pub fn push_edn(&mut self, line: u64, op: &Datum) -> Result<(), HistoryError> {
        let bad = |found: &dyn std::fmt::Display, allowed: &str| HistoryError {
            line,
            found: clip(&found.to_string()),
            allowed: allowed.into(),
        };
        if !matches!(op, Datum::Map(_)) {
            return Err(bad(op, "an op map {:process 0, :type :invoke, :f :read, :value nil}"));
        }
        let process = match op.get("process") {
            Some(Datum::Int(p)) if *p >= 0 => *p as u64,
            Some(Datum::Keyword(_)) => return Ok(()),
            Some(other) => {
                return Err(bad(&format!(":process {other}"), "a process number >= 0 or :nemesis"))
            }
            None => return Err(bad(op, "a :process key")),
        };
        let kind = match op.get("type").and_then(Datum::as_keyword) {
            Some("invoke") => Event::Invoke,
            Some("ok") => Event::Ok,
            Some("fail") => Event::Fail,
            Some("info") => Event::Info,
            _ => {
                let found = op.get("type").map_or("(missing)".into(), |t| t.to_string());
                return Err(bad(&format!(":type {found}"), ":type :invoke, :ok, :fail or :info"));
            }
        };
        let f = op.get("f").and_then(Datum::as_keyword).and_then(OpF::parse).ok_or_else(|| {
            let found = op.get("f").map_or("(missing)".into(), |t| t.to_string());
            bad(&format!(":f {found}"), ":f :read, :write or :cas")
        })?;
        let raw = op.get("value").cloned().unwrap_or(Datum::Nil);
        let (key, inner) = match (op.get("key"), raw) {
            (Some(k), v) => (k.clone(), v),
            // Jepsen's independent histories: `:value [key value]`.
            (None, Datum::Vector(kv))
                if kv.len() == 2 && (f != OpF::Cas || matches!(kv[1], Datum::Vector(_))) =>
            {
                let mut it = kv.into_iter();
                (it.next().unwrap_or(Datum::Nil), it.next().unwrap_or(Datum::Nil))
            }
            (None, v) => (Datum::Nil, v),
        };
        let (expect, value) = match (f, kind, inner) {
            (OpF::Cas, _, Datum::Vector(pair)) if pair.len() == 2 => {
                let mut it = pair.into_iter();
                (it.next().unwrap_or(Datum::Nil), it.next().unwrap_or(Datum::Nil))
            }
            (OpF::Cas, _, other) => return Err(bad(&format!(":value {other}"), "a cas value [old new]")),
            (OpF::Read, Event::Ok, v) => (Datum::Nil, v),
            (OpF::Read, _, _) => (Datum::Nil, Datum::Nil),
            (OpF::Write, _, v) => (Datum::Nil, v),
        };
        let time_ns = match op.get("time") {
            Some(Datum::Int(t)) if *t >= 0 => Some(*t as u64),
            _ => None,
        };
        let id = match op.get("index") {
            Some(Datum::Int(i)) if *i >= 0 => Some(*i as u64),
            _ => None,
        };
        self.push(Input { line, time_ns, process, kind, f, key, value, expect, id })
    }

    /// Interns a value or key: equal datums get the same id.
    /// [`HistoryBuilder::intern`] of a borrowed value: cloned only when new.
    pub(crate) fn intern_ref(&mut self, d: &Datum) -> u32 {
        // `nil` is always id 0 (most ops' `expect`): no need to hash it.
        if *d == Datum::Nil {
            return NIL;
        }
        if let Some(&id) = self.intern.get(d) {
            return id;
        }
        self.add(d.clone())
    }

    pub(crate) fn intern(&mut self, d: Datum) -> u32 {
        if let Some(&id) = self.intern.get(&d) {
            return id;
        }
        self.add(d)
    }

    /// Interns `d`, not interned yet, as the next id.
    fn add(&mut self, d: Datum) -> u32 {
        let id = self.history.data.len() as u32;
        self.history.data.push(d.clone());
        self.intern.insert(d, id);
        id
    }

    /// Appends a whole op whose key and values are already interned here (a history assembled
    /// from parts, as the incremental check does for one segment). Positions must keep the
    /// history's event order.
    pub(crate) fn push_op(&mut self, op: Op) {
        self.history.ops.push(op);
    }

    pub(crate) fn push(&mut self, input: Input) -> Result<(), HistoryError> {
        let at = At { pos: self.next_pos, line: input.line, time_ns: input.time_ns };
        if input.kind == Event::Invoke {
            if let Some(&open) = self.outstanding.get(&input.process) {
                let prev = &self.history.ops[open];
                return Err(invoke_while_outstanding(&input, prev.id, prev.invoke.line, self.history.source));
            }
            if self.history.ops.len() >= OPS_MAX {
                return Err(HistoryError {
                    line: input.line,
                    found: "one more op".into(),
                    allowed: format!("at most {OPS_MAX} ops"),
                });
            }
            let op = Op {
                id: input.id.unwrap_or(self.history.ops.len() as u64),
                process: input.process,
                f: input.f,
                key: self.intern(input.key),
                value: if input.f == OpF::Read { NIL } else { self.intern(input.value) },
                expect: self.intern(input.expect),
                invoke: at,
                completion: Completion::None,
            };
            self.outstanding.insert(input.process, self.history.ops.len());
            self.history.ops.push(op);
        } else {
            let Some(open) = self.outstanding.remove(&input.process) else {
                return Err(completion_without_invoke(&input));
            };
            let op = &self.history.ops[open];
            check_completion(&input, op.f, op.id, self.history.source)?;
            let value = (input.f == OpF::Read && input.kind == Event::Ok).then(|| self.intern(input.value));
            let op = &mut self.history.ops[open];
            if let Some(v) = value {
                op.value = v;
            }
            op.completion = Completion::of(input.kind, at);
        }
        self.next_pos += 1;
        Ok(())
    }

    /// The history so far; ops still outstanding have no completion.
    pub fn finish(self) -> History {
        self.history
    }

    /// Ops so far.
    pub fn len(&self) -> usize {
        self.history.ops.len()
    }

    pub fn is_empty(&self) -> bool {
        self.history.ops.is_empty()
    }
}

/// One trace row as an event of the client history; `None` for rows of other events.
pub(crate) fn parse_row(row: &Record) -> Result<Option<Input>, HistoryError> {
    if !matches!(row.event, Event::Invoke | Event::Ok | Event::Fail | Event::Info) {
        return Ok(None);
    }
    let bad = |found: String, allowed: &str| HistoryError { line: row.seq, found, allowed: allowed.into() };
    let f = OpF::parse(&row.msg).ok_or_else(|| bad(format!("msg = {:?}", row.msg), "read, write or cas"))?;
    // Per client row of every run: the detail is split once at its first space rather than
    // token by token.
    let detail: &str = &row.detail;
    let (first, rest) = detail.split_once(' ').unwrap_or((detail, ""));
    let process = first
        .strip_prefix('p')
        .and_then(|p| p.parse().ok())
        .ok_or_else(|| bad(format!("detail = {:?}", row.detail), "first token p<process>, e.g. p3"))?;
    let mut expect = Datum::Nil;
    if !rest.is_empty() {
        for token in rest.split(' ') {
            if let Some(e) = token.strip_prefix("expect=") {
                expect = match e {
                    "nil" => Datum::Nil,
                    _ => trace_value(&Value::parse(e)),
                };
            }
        }
    }
    let id = row.index.ok_or_else(|| bad("index = (empty)".into(), "the op id, an integer"))?;
    let input = Input {
        line: row.seq,
        time_ns: Some(row.time_us.saturating_mul(1_000)),
        process,
        kind: row.event,
        f,
        key: row.key.map_or(Datum::Nil, |k| Datum::Int(k as i64)),
        value: trace_value(&row.value),
        expect,
        id: Some(id),
    };
    Ok(Some(input))
}

/// What a position is called in a history from `source` (`seq` or `line`).
pub(crate) fn line_name(source: Source) -> &'static str {
    match source {
        Source::Trace => "seq",
        Source::Edn => "line",
    }
}

/// The error for an invocation by a process whose op `prev_id`, invoked at `prev_line`, is still
/// outstanding.
pub(crate) fn invoke_while_outstanding(
    input: &Input,
    prev_id: u64,
    prev_line: u64,
    source: Source,
) -> HistoryError {
    HistoryError {
        line: input.line,
        found: format!("invoke by p{}", input.process),
        allowed: format!(
            "one op at a time per process (p{} still has op {} invoked at {} {} outstanding)",
            input.process,
            prev_id,
            line_name(source),
            prev_line
        ),
    }
}

/// The error for a completion by a process with no outstanding op.
pub(crate) fn completion_without_invoke(input: &Input) -> HistoryError {
    HistoryError {
        line: input.line,
        found: format!("{} by p{}", input.kind, input.process),
        allowed: format!(
            "a completion follows an invoke by the same process (p{} has none outstanding)",
            input.process
        ),
    }
}

/// A completion must be of its process's outstanding op (`open_f`, `open_id`): the same function
/// and (a trace's rows carry it) the same op id.
pub(crate) fn check_completion(
    input: &Input,
    open_f: OpF,
    open_id: u64,
    source: Source,
) -> Result<(), HistoryError> {
    if open_f == input.f && (source != Source::Trace || input.id == Some(open_id)) {
        return Ok(());
    }
    Err(HistoryError {
        line: input.line,
        found: format!(
            "{} {} op {}",
            input.kind,
            input.f.as_str(),
            input.id.map_or("?".into(), |i| i.to_string())
        ),
        allowed: format!(
            "the completion of p{}'s outstanding {} op {}",
            input.process,
            open_f.as_str(),
            open_id
        ),
    })
}

/// A trace `value` cell as a datum: `v7` -> 7, `v3|v5` -> [3 5], empty -> nil, text as a string.
fn trace_value(v: &Value) -> Datum {
    match v {
        Value::None => Datum::Nil,
        Value::Id(i) => Datum::Int(*i as i64),
        Value::Ids(ids) => Datum::Vector(ids.iter().map(|i| Datum::Int(*i as i64)).collect()),
        Value::Text(t) => Datum::Str(t.as_ref().into()),
    }
}

/// At most 60 characters of `text`, for error messages.
pub(crate) fn clip(text: &str) -> String {
    match text.char_indices().nth(60) {
        Some((i, _)) => format!("{}…", &text[..i]),
        None => text.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::lin::edn::parse_all;

    pub(crate) fn edn(text: &str) -> Result<History, HistoryError> {
        let mut b = HistoryBuilder::new(Source::Edn);
        for (line, d) in parse_all(text).unwrap() {
            b.push_edn(line, &d)?;
        }
        Ok(b.finish())
    }

    #[test]
    fn pairs_by_process_and_reads_independent_tuples() {
        let h = edn("{:process 0, :type :invoke, :f :write, :value [:x 1]}\n\
             {:process 1, :type :invoke, :f :read, :value [:x nil]}\n\
             {:process 0, :type :ok, :f :write, :value [:x 1]}\n\
             {:process :nemesis, :type :info, :f :start}\n\
             {:process 1, :type :ok, :f :read, :value [:x 1]}\n\
             {:process 0, :type :invoke, :f :cas, :value [:y [1 2]], :time 9}\n\
             {:process 0, :type :fail, :f :cas, :value [:y [1 2]]}\n")
        .unwrap();
        assert_eq!(h.ops().len(), 3);
        let [w, r, c] = [&h.ops()[0], &h.ops()[1], &h.ops()[2]];
        assert_eq!(h.show_key(w.key), ":x");
        assert_eq!(
            (h.show_call(w), h.show_call(r), h.show_call(c)),
            ("write 1".into(), "read 1".into(), "cas 1->2".into())
        );
        assert_eq!(w.completion, Completion::Ok(At { pos: 2, line: 3, time_ns: None }));
        assert_eq!(c.invoke.time_ns, Some(9));
        assert!(matches!(c.completion, Completion::Fail(_)));
        assert_eq!(h.keys().iter().map(|k| h.show_key(*k)).collect::<Vec<_>>(), [":x", ":y"]);
    }

    #[test]
    fn pairing_errors_name_the_line() {
        let err = edn("{:process 0, :type :ok, :f :read, :value 1}").unwrap_err();
        assert_eq!(err.line, 1);
        assert!(err.allowed.contains("has none outstanding"), "{err}");
        let err =
            edn("{:process 0, :type :invoke, :f :read}\n{:process 0, :type :invoke, :f :read}").unwrap_err();
        assert_eq!(err.line, 2);
        let err = edn("{:process 0, :type :invoke, :f :incr}").unwrap_err();
        assert_eq!(err.to_string(), ":f :incr: :f :read, :write or :cas");
        let err = edn("{:process 0, :type :invoke, :f :cas, :value 3}").unwrap_err();
        assert_eq!(err.to_string(), ":value 3: a cas value [old new]");
    }

    #[test]
    fn trace_rows_follow_the_contract() {
        let mut b = HistoryBuilder::new(Source::Trace);
        let row = |seq: u64, event: Event, msg: &'static str, value: Value, detail: &'static str| {
            let mut r = Record::new(event).msg(msg).index(7).key(3).value(value).detail(detail);
            r.seq = seq;
            r.time_us = seq * 10;
            r
        };
        b.push_row(&row(0, Event::Invoke, "cas", Value::Id(9), "p2 expect=v7")).unwrap();
        b.push_row(&Record::new(Event::Send)).unwrap();
        b.push_row(&row(2, Event::Ok, "cas", Value::Id(9), "p2")).unwrap();
        let h = b.finish();
        let op = &h.ops()[0];
        assert_eq!((op.id, op.process), (7, 2));
        assert_eq!(h.describe(op), "op 7 p2 cas v7->v9 ok (seq 0..2)");
        assert_eq!(h.show_key(op.key), "k3");
        assert_eq!(op.invoke.time_ns, Some(0));
        let mut b = HistoryBuilder::new(Source::Trace);
        let err = b.push_row(&row(4, Event::Invoke, "read", Value::None, "x2")).unwrap_err();
        assert_eq!((err.line, err.allowed.as_str()), (4, "first token p<process>, e.g. p3"));
    }
}
