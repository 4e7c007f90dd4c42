//! The linearizability check of a history as it grows, in memory bounded by what is still open
//! rather than by the history's length: what the in-run `linearizable` checker runs.
//!
//! Keys are independent registers (P-compositionality), so each key is checked on its own. A key's
//! history is cut at a **quiescent point**: a moment when every op invoked on the key so far has
//! completed (`ok`, `fail` or `info`). Every `ok` op before the cut then precedes, in real time,
//! every op after it, so a linearisation of the whole key is a linearisation of the segment
//! before the cut followed by one of the rest — except for ops with an unknown outcome (`info`,
//! or none yet), which may take effect at any time after their invocation, even after the cut.
//! So at each cut the segment is searched (Wing–Gong/Lowe, [`Search::ends`]) from every
//! **configuration** the history before it may have left — the register's value and which of
//! the carried unknown-outcome writes and cas have already taken effect — and the set of
//! configurations in which every `ok` op of the segment is linearised is kept for the next
//! segment. Then the segment's ops are forgotten; the unknown-outcome writes and cas among them
//! are **carried** as ops that may still take effect, and so are the configurations. (When the
//! search holds no unknown-outcome op, the ends are found by their last writer, one first-success
//! search each, rather than by listing every configuration: see [`Search::ends`].)
//!
//! What is kept stays small:
//! - A configuration whose linearised set contains another's with the same value is dropped: from
//!   it nothing is reachable that is not from the other (leaving a carried op out is allowed).
//! - A carried op linearised in every configuration is done with and forgotten.
//! - A segment's search only holds the carried ops whose value some op of the segment reads or
//!   expects (transitively through carried cas; [`crate::lin::search::relevant`]'s rule): moving
//!   a carried write whose value nobody in the segment observes to the segment's end, or out of
//!   it, changes no other op's view, and the next segment's search may still linearise it first.
//! - Values are interned per segment, so no table of every value ever written grows.
//!
//! The verdict is the whole-history search's (tests compare them on generated histories); only
//! the configurations counted differ. Limits, each an `undecided` answer (never a pass) when
//! exceeded: `budget` configurations per segment search (as the whole-history search has per
//! key), [`CARRIED_MAX`] carried ops per key, and [`SEGMENT_OPS_MAX`] ops in a segment (a key
//! never quiescent). A cut whose end configurations cost more than [`ENDS_STATES_MAX`]
//! configurations to find, or number more than [`CONFIGS_MAX`], is deferred instead: the segment
//! is kept and grows until a later cut succeeds or the history ends (then one linearisation is
//! enough, as for the whole history). Memory is bounded only while cuts succeed.
//!
//! Not linearizable is reported with the witness of the failing segment, shrunk as the
//! whole-history check shrinks (removals re-checked from the same configurations), plus the
//! register values the history before it may have left, when that is not the initial `nil`.

use std::collections::{BTreeMap, BTreeSet};

use rustc_hash::{FxHashMap, FxHashSet};

use crate::lin::edn::Datum;
use crate::lin::history::{
    check_completion, completion_without_invoke, invoke_while_outstanding, parse_row, At, Completion,
    History, HistoryBuilder, HistoryError, Input, Op, OpF, Source,
};
use crate::lin::report::Report;
use crate::lin::search::{relevant, Budget, Outcome, Search, SearchResult, Start};
use crate::lin::shrink::shrink_with;
use crate::trace::{Event, Record};

/// A key is cut at a quiescent point once its segment holds at least this many ops (fewer cuts,
/// less per-search overhead; memory stays bounded by the sweep below). The cost of a cut's
/// last-writer searches grows with the writes that may be last, not with the segment's length,
/// so longer segments are cheaper per op: 1,024 rather than 64 took a tenth off the check at
/// 1k commands/s.
pub const SEGMENT_OPS: usize = 1024;

/// Every this many client events, every quiescent key is cut whatever its segment's length, so a
/// key that falls silent holds no ops, only its carried state.
pub const SWEEP_EVENTS: u64 = 4_096;

/// Configurations carried per key across a cut.
pub const CONFIGS_MAX: usize = 1_000;

/// Unknown-outcome writes and cas carried per key.
pub const CARRIED_MAX: usize = 100_000;

/// Ops in one segment: a key with ops in flight at every moment is never cut.
pub const SEGMENT_OPS_MAX: usize = 1_000_000;

/// Configurations the search at a cut may visit to find every end configuration (at most the
/// budget). Past it, or past the configurations limit, the cut is deferred: the segment is kept
/// and decided with the ops that follow, at a later quiescent point once it has doubled, or at
/// the end by the whole-history search's first-success rule. Finding every end explores every
/// reachable configuration when unknown-outcome ops are in the search, which many concurrent ops
/// make exponential (a burst of retried requests during an outage), where finding one
/// linearisation is quick.
pub const ENDS_STATES_MAX: u64 = 100_000;

/// An op as the check holds it between cuts: values as datums, not interned.
#[derive(Clone, Debug)]
struct HeldOp {
    id: u64,
    process: u64,
    f: OpF,
    /// Write: the value written; cas: the new value; read: what an `ok` read returned.
    value: Datum,
    /// Cas: the value expected.
    expect: Datum,
    invoke: At,
    completion: Completion,
}

impl HeldOp {
    /// An unknown-outcome write or cas: it may still take effect.
    fn is_optional(&self) -> bool {
        self.f != OpF::Read && matches!(self.completion, Completion::Info(_) | Completion::None)
    }
}

/// A state the register may be in at the last cut. Invariant: `linearised` is sorted, and holds
/// carry numbers of the key's carried ops that have taken effect in this configuration.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
struct Config {
    value: Datum,
    linearised: Vec<u64>,
}

/// Why a key's check stopped.
#[derive(Debug)]
enum Failure {
    /// A segment cannot be linearised from any carried configuration.
    NotLinearizable(Box<Witness>),
    /// A limit was exceeded: `None` for the search budget, else what was exceeded.
    Undecided(Option<String>),
}

/// The shrunk ops of a failing segment, in the segment's own history.
#[derive(Debug)]
struct Witness {
    history: History,
    key: u32,
    ops: Vec<usize>,
    minimal: bool,
    /// What the history before the segment may have left, when not just the initial nil.
    before: String,
}

/// One key's state between cuts.
#[derive(Debug)]
struct KeyState {
    /// Ops invoked since the last cut, in invocation order.
    segment: Vec<HeldOp>,
    /// Ops of `segment` not yet completed.
    in_flight: usize,
    /// Unknown-outcome writes and cas of earlier segments, by carry number (invocation order).
    carried: BTreeMap<u64, HeldOp>,
    /// Value -> carry numbers of the carried ops writing it (looked up, never iterated).
    writers: FxHashMap<Datum, Vec<u64>>,
    /// Invariant: not empty while `failure` is `None`.
    configs: Vec<Config>,
    failure: Option<Failure>,
    /// After a deferred cut: the segment is cut again once it holds this many ops (else 0).
    cut_at: usize,
}

impl KeyState {
    fn new() -> KeyState {
        KeyState {
            segment: Vec::new(),
            in_flight: 0,
            carried: BTreeMap::new(),
            writers: FxHashMap::default(),
            configs: vec![Config { value: Datum::Nil, linearised: Vec::new() }],
            failure: None,
            cut_at: 0,
        }
    }

    fn carry(&mut self, number: u64, op: HeldOp) {
        self.writers.entry(op.value.clone()).or_default().push(number);
        self.carried.insert(number, op);
    }

    fn forget(&mut self, number: u64) {
        let Some(op) = self.carried.remove(&number) else { return };
        if let Some(numbers) = self.writers.get_mut(&op.value) {
            numbers.retain(|&n| n != number);
            if numbers.is_empty() {
                self.writers.remove(&op.value);
            }
        }
    }
}

/// The incremental linearizability check (see the module comment).
#[derive(Debug)]
pub struct Incremental {
    source: Source,
    budget: Budget,
    /// Looked up per event; iterated only in key order (see [`Incremental::finish`]).
    keys: FxHashMap<Datum, KeyState>,
    /// Process -> its outstanding op: (key, index in the key's segment, f, op id, invoke line).
    outstanding: FxHashMap<u64, (Datum, usize, OpF, u64, u64)>,
    /// Keys whose segment holds ops.
    open: BTreeSet<Datum>,
    next_pos: u64,
    next_carry: u64,
    events: u64,
    ops: usize,
    states: u64,
    /// [`SEGMENT_OPS`], [`CONFIGS_MAX`], [`CARRIED_MAX`] (smaller in tests).
    segment_ops: usize,
    configs_max: usize,
    carried_max: usize,
}

/// What an [`Incremental`] holds at a moment: its memory, up to constant factors.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Held {
    /// Ops in the keys' open segments.
    pub segment_ops: usize,
    /// Unknown-outcome ops carried, over all keys.
    pub carried: usize,
    /// Configurations carried, over all keys.
    pub configs: usize,
    /// Processes with an op outstanding.
    pub outstanding: usize,
}

/// The answer of [`Incremental::finish`]: the report line, and where to place it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Verdict {
    pub outcome: Outcome,
    /// The invocation of the witness's first op (not linearizable), else `None`.
    pub line: Option<u64>,
    pub time_ns: Option<u64>,
    /// `not linearizable: key k0: 3 ops cannot be linearised … (…): op …; op …`, or the summary.
    pub message: String,
}

impl Incremental {
    /// A check of a history read from `source`, searching at most `budget` configurations per
    /// segment.
    pub fn new(source: Source, budget: Budget) -> Incremental {
        Incremental {
            source,
            budget,
            keys: FxHashMap::default(),
            outstanding: FxHashMap::default(),
            open: BTreeSet::new(),
            next_pos: 0,
            next_carry: 0,
            events: 0,
            ops: 0,
            states: 0,
            segment_ops: SEGMENT_OPS,
            configs_max: CONFIGS_MAX,
            carried_max: CARRIED_MAX,
        }
    }

    /// The same check with other limits: cut once a segment holds `segment_ops` ops (1: at every
    /// quiescent point), carry at most `configs_max` configurations and `carried_max` ops per key.
    pub fn with_limits(mut self, segment_ops: usize, configs_max: usize, carried_max: usize) -> Incremental {
        self.segment_ops = segment_ops.max(1);
        self.configs_max = configs_max.max(1);
        self.carried_max = carried_max;
        self
    }

    /// What is held now.
    pub fn held(&self) -> Held {
        let mut held = Held { outstanding: self.outstanding.len(), ..Held::default() };
        for state in self.keys.values() {
            held.segment_ops += state.segment.len();
            held.carried += state.carried.len();
            held.configs += state.configs.len();
        }
        held
    }

    /// Ops invoked so far, over all keys.
    pub fn ops(&self) -> usize {
        self.ops
    }

    /// Adds one trace row; rows of events other than invoke/ok/fail/info are ignored.
    pub fn push_row(&mut self, row: &Record) -> Result<(), HistoryError> {
        match parse_row(row)? {
            Some(input) => self.push(input),
            None => Ok(()),
        }
    }

    /// Adds one event, paired as [`HistoryBuilder`] pairs them (with the same errors).
    pub(crate) fn push(&mut self, input: Input) -> Result<(), HistoryError> {
        let at = At { pos: self.next_pos, line: input.line, time_ns: input.time_ns };
        let result =
            if input.kind == Event::Invoke { self.invoke(input, at) } else { self.complete(input, at) };
        self.events += 1;
        if self.events % SWEEP_EVENTS == 0 {
            self.sweep();
        }
        result
    }

    fn invoke(&mut self, input: Input, at: At) -> Result<(), HistoryError> {
        if let Some((_, _, _, id, line)) = self.outstanding.get(&input.process) {
            return Err(invoke_while_outstanding(&input, *id, *line, self.source));
        }
        let id = input.id.unwrap_or(self.ops as u64);
        let key = self.keys.entry(input.key.clone()).or_insert_with(KeyState::new);
        let value = if input.f == OpF::Read { Datum::Nil } else { input.value };
        let op = HeldOp {
            id,
            process: input.process,
            f: input.f,
            value,
            expect: input.expect,
            invoke: at,
            completion: Completion::None,
        };
        self.outstanding
            .insert(input.process, (input.key.clone(), key.segment.len(), input.f, id, input.line));
        if key.failure.is_none() && key.segment.len() >= SEGMENT_OPS_MAX {
            key.failure = Some(Failure::Undecided(Some(format!(
                "was never quiescent for more than {SEGMENT_OPS_MAX} ops (ops in flight at every moment)"
            ))));
            key.segment = Vec::new();
            key.carried.clear();
            key.writers.clear();
            key.configs.clear();
        }
        if key.failure.is_none() {
            key.segment.push(op);
        }
        key.in_flight += 1;
        // A key whose segment held ops already is open (only a cut, which empties the segment,
        // or re-opens it, closes one).
        if key.failure.is_some() || key.segment.len() == 1 {
            self.open.insert(input.key);
        }
        self.ops += 1;
        self.next_pos += 1;
        Ok(())
    }

    fn complete(&mut self, input: Input, at: At) -> Result<(), HistoryError> {
        let Some((key_datum, slot, f, id, _)) = self.outstanding.remove(&input.process) else {
            return Err(completion_without_invoke(&input));
        };
        let key = self.keys.get_mut(&key_datum).expect("an outstanding op's key is known");
        key.in_flight -= 1;
        // A mismatched completion leaves its op without one, as the whole history does.
        let result = check_completion(&input, f, id, self.source);
        if result.is_ok() {
            if let Some(op) = key.segment.get_mut(slot).filter(|_| key.failure.is_none()) {
                if input.f == OpF::Read && input.kind == Event::Ok {
                    op.value = input.value;
                }
                op.completion = Completion::of(input.kind, at);
            }
            self.next_pos += 1;
        }
        let cut_at = key.cut_at.max(self.segment_ops);
        if key.in_flight == 0 && (key.segment.len() >= cut_at || key.failure.is_some()) {
            self.cut(&key_datum, false);
        }
        result
    }

    /// Cuts every quiescent key with ops in its segment.
    fn sweep(&mut self) {
        let quiescent: Vec<Datum> = self
            .open
            .iter()
            .filter(|k| self.keys.get(*k).is_some_and(|s| s.in_flight == 0 && s.segment.len() >= s.cut_at))
            .cloned()
            .collect();
        for key in quiescent {
            self.cut(&key, false);
        }
    }

    /// Decides `key`'s segment and forgets it (see the module comment). `last`: the history has
    /// ended, so only whether some configuration is reachable matters.
    fn cut(&mut self, key: &Datum, last: bool) {
        self.open.remove(key);
        let Some(state) = self.keys.get_mut(key) else { return };
        let segment = std::mem::take(&mut state.segment);
        if state.failure.is_some() || segment.is_empty() {
            return;
        }
        let first = self.next_carry;
        self.next_carry += segment.len() as u64;
        let rules = Rules {
            source: self.source,
            budget: self.budget,
            configs_max: self.configs_max,
            carried_max: self.carried_max,
        };
        let (states, step) = decide(state, key, segment, first, &rules, last);
        self.states += states;
        match step {
            Step::Done => state.cut_at = 0,
            Step::Failed(failure) => state.failure = Some(failure),
            Step::Deferred(segment) => {
                state.cut_at = segment.len().saturating_mul(2);
                state.segment = segment;
                self.open.insert(key.clone());
            }
        }
        if state.failure.is_some() {
            // Nothing more is checked on this key: its carried state is no longer needed.
            state.carried.clear();
            state.writers.clear();
            state.configs.clear();
        }
    }

    /// Decides what is left and answers: the first key (in key order) that is not linearizable,
    /// else the first undecided one, else linearizable.
    pub fn finish(mut self) -> Verdict {
        let keys: Vec<Datum> = self.open.iter().cloned().collect();
        for key in keys {
            self.cut(&key, true);
        }
        let mut report = Report {
            outcome: Outcome::Linearizable,
            keys: self.keys.len(),
            ops: self.ops,
            states: self.states,
            states_max: self.budget.states_max,
            key: None,
            witness: Vec::new(),
            minimal: false,
        };
        let mut in_order: Vec<(&Datum, &KeyState)> = self.keys.iter().collect();
        in_order.sort_unstable_by(|a, b| a.0.cmp(b.0));
        let failing = |not: bool| {
            in_order.iter().copied().find(|(_, s)| match &s.failure {
                Some(Failure::NotLinearizable(_)) => not,
                Some(Failure::Undecided(_)) => !not,
                None => false,
            })
        };
        match failing(true).or_else(|| failing(false)) {
            None => {
                let history = HistoryBuilder::new(self.source).finish();
                Verdict {
                    outcome: Outcome::Linearizable,
                    line: None,
                    time_ns: None,
                    message: report.summary(&history),
                }
            }
            Some((_, KeyState { failure: Some(Failure::NotLinearizable(w)), .. })) => {
                report.outcome = Outcome::NotLinearizable;
                report.key = Some(w.key);
                report.witness = w.ops.clone();
                report.minimal = w.minimal;
                let ops: Vec<String> =
                    w.ops.iter().map(|&i| w.history.describe(&w.history.ops()[i])).collect();
                let first = w.ops.first().map(|&i| w.history.ops()[i].invoke);
                Verdict {
                    outcome: Outcome::NotLinearizable,
                    line: first.map(|at| at.line),
                    time_ns: first.and_then(|at| at.time_ns),
                    message: format!("{}: {}{}", report.summary(&w.history), ops.join("; "), w.before),
                }
            }
            Some((key, state)) => {
                let mut builder = HistoryBuilder::new(self.source);
                report.outcome = Outcome::Undecided;
                report.key = Some(builder.intern(key.clone()));
                let history = builder.finish();
                let message = match &state.failure {
                    Some(Failure::Undecided(Some(why))) => format!(
                        "undecided: key {} {why}; not a pass ({} keys, {} ops, {} states)",
                        history.show_key(report.key.unwrap_or(0)),
                        report.keys,
                        report.ops,
                        report.states
                    ),
                    _ => report.summary(&history),
                };
                Verdict { outcome: Outcome::Undecided, line: None, time_ns: None, message }
            }
        }
    }
}

/// How a segment is decided: the history's source, the search budget and the carried limits.
struct Rules {
    source: Source,
    budget: Budget,
    configs_max: usize,
    carried_max: usize,
}

/// What became of a segment at a cut.
enum Step {
    /// Decided and forgotten; the key has moved on to the configurations after it.
    Done,
    Failed(Failure),
    /// Too costly to find every end configuration: the segment, to be kept (see
    /// [`ENDS_STATES_MAX`]).
    Deferred(Vec<HeldOp>),
}

/// Decides one segment of `state`'s key from its carried configurations, and on success moves
/// `state` on to the configurations after it. Returns the configurations searched and what
/// became of the segment. Carry numbers `first..` are the segment's ops'.
fn decide(
    state: &mut KeyState,
    key: &Datum,
    segment: Vec<HeldOp>,
    first: u64,
    rules: &Rules,
    last: bool,
) -> (u64, Step) {
    let Rules { source, ref budget, configs_max, carried_max } = *rules;
    let (carried, own) = relevant_optional(state, &segment);
    // The segment's history: the relevant carried ops, then the segment's ok ops and relevant
    // unknown-outcome ones, each with its carry number if it has one.
    let ops_max = carried.len() + segment.len();
    let mut builder = HistoryBuilder::with_capacity(source, ops_max, 2 * ops_max + state.configs.len() + 1);
    let key_id = builder.intern_ref(key);
    let mut carry_of: Vec<Option<u64>> = Vec::with_capacity(ops_max);
    let mut add = |builder: &mut HistoryBuilder, op: &HeldOp, number: Option<u64>| {
        let op = Op {
            id: op.id,
            process: op.process,
            f: op.f,
            key: key_id,
            value: builder.intern_ref(&op.value),
            expect: builder.intern_ref(&op.expect),
            invoke: op.invoke,
            completion: op.completion,
        };
        builder.push_op(op);
        carry_of.push(number);
    };
    for &number in &carried {
        add(&mut builder, &state.carried[&number], Some(number));
    }
    for (k, op) in segment.iter().enumerate() {
        if op.completion.is_ok() || own.contains(&k) {
            add(&mut builder, op, Some(first + k as u64).filter(|_| op.is_optional()));
        }
    }
    let index_of: FxHashMap<u64, usize> =
        carry_of.iter().enumerate().filter_map(|(i, n)| n.map(|n| (n, i))).collect();
    // One search start per distinct (value, relevant linearised ops); `groups[s]` are the
    // configurations behind start `s`.
    let mut starts: Vec<Start> = Vec::new();
    let mut groups: Vec<Vec<usize>> = Vec::new();
    for (c, config) in state.configs.iter().enumerate() {
        let linearised = config.linearised.iter().filter_map(|n| index_of.get(n).copied()).collect();
        let start = Start { value: builder.intern_ref(&config.value), linearised };
        match starts.iter().position(|s| *s == start) {
            Some(s) => groups[s].push(c),
            None => {
                starts.push(start);
                groups.push(vec![c]);
            }
        }
    }
    let history = builder.finish();
    let all: Vec<usize> = (0..history.ops().len()).collect();
    let ends_budget = if last { *budget } else { Budget::states(budget.states_max.min(ENDS_STATES_MAX)) };
    let found = Search::new(&history, &all).ends(&starts, &ends_budget, last);
    match found.outcome {
        Outcome::Undecided if last => return (found.states, Step::Failed(Failure::Undecided(None))),
        Outcome::Undecided => return (found.states, Step::Deferred(segment)),
        Outcome::NotLinearizable => {
            let witness = witness(state, history, key_id, &starts, budget, &segment);
            return (found.states, Step::Failed(Failure::NotLinearizable(Box::new(witness))));
        }
        Outcome::Linearizable if last => return (found.states, Step::Done),
        Outcome::Linearizable => {}
    }
    let mut next: Vec<Config> = Vec::new();
    for end in &found.ends {
        let value = history.datum(end.value);
        let new: Vec<u64> = end.linearised.iter().filter_map(|&i| carry_of[i]).collect();
        for &c in &groups[end.start] {
            let mut linearised = state.configs[c].linearised.clone();
            linearised.extend_from_slice(&new);
            linearised.sort_unstable();
            next.push(Config { value: value.clone(), linearised });
        }
        // Many more than the limit before pruning: keep the segment rather than them all.
        if next.len() > configs_max.saturating_mul(8) {
            return (found.states, Step::Deferred(segment));
        }
    }
    let Some(kept) = least(next, configs_max) else { return (found.states, Step::Deferred(segment)) };
    for (k, op) in segment.into_iter().enumerate() {
        if op.is_optional() {
            state.carry(first + k as u64, op);
        }
    }
    (found.states, settle(state, kept, carried_max))
}

/// The unknown-outcome writes and cas that the segment's search must hold: carried ones (carry
/// numbers, ascending) and the segment's own (indexes into `segment`) whose value an op of the
/// segment observes, directly or through another such cas (the whole-history rule of
/// [`relevant`], applied to the segment and what is carried into it).
fn relevant_optional(state: &KeyState, segment: &[HeldOp]) -> (Vec<u64>, FxHashSet<usize>) {
    let mut own_writers: FxHashMap<&Datum, Vec<usize>> = FxHashMap::default();
    let nil = Datum::Nil;
    let mut observed: FxHashSet<&Datum> = FxHashSet::default();
    let mut work: Vec<&Datum> = vec![&nil];
    observed.insert(&nil);
    for (k, op) in segment.iter().enumerate() {
        if op.is_optional() {
            own_writers.entry(&op.value).or_default().push(k);
        } else if op.completion.is_ok() {
            let seen = match op.f {
                OpF::Read => &op.value,
                OpF::Cas => &op.expect,
                OpF::Write => continue,
            };
            if observed.insert(seen) {
                work.push(seen);
            }
        }
    }
    let mut carried = Vec::new();
    let mut own = FxHashSet::default();
    while let Some(value) = work.pop() {
        let from_carried = state.writers.get(value).into_iter().flatten().map(|n| &state.carried[n]);
        let from_own = own_writers.get(value).into_iter().flatten().map(|&k| &segment[k]);
        for op in from_carried.chain(from_own) {
            if op.f == OpF::Cas && observed.insert(&op.expect) {
                work.push(&op.expect);
            }
        }
        carried.extend(state.writers.get(value).into_iter().flatten().copied());
        own.extend(own_writers.get(value).into_iter().flatten().copied());
    }
    carried.sort_unstable();
    carried.dedup();
    (carried, own)
}

/// The configurations of `next` not dominated by another of the same value with fewer carried
/// ops linearised (from it nothing more is reachable); `None` if more than `configs_max`.
fn least(mut next: Vec<Config>, configs_max: usize) -> Option<Vec<Config>> {
    // By value, then smaller sets first: a set's proper subsets of the same value come before it.
    next.sort_unstable_by(|a, b| {
        (&a.value, a.linearised.len(), &a.linearised).cmp(&(&b.value, b.linearised.len(), &b.linearised))
    });
    next.dedup();
    let mut kept: Vec<Config> = Vec::with_capacity(next.len());
    let mut group_start = 0;
    for config in next {
        if kept.last().is_some_and(|k| k.value != config.value) {
            group_start = kept.len();
        }
        if !kept[group_start..].iter().any(|k| is_subset(&k.linearised, &config.linearised)) {
            kept.push(config);
        }
        if kept.len() > configs_max {
            return None;
        }
    }
    Some(kept)
}

/// Moves `state` on to the configurations `kept` (after the segment, as [`least`] leaves them):
/// forgets carried ops linearised in all of them, and checks the carried limit.
fn settle(state: &mut KeyState, mut kept: Vec<Config>, carried_max: usize) -> Step {
    // Carried ops linearised in every configuration will never be again.
    let mut common = kept[0].linearised.clone();
    for config in &kept[1..] {
        common.retain(|n| config.linearised.binary_search(n).is_ok());
    }
    for &n in &common {
        state.forget(n);
    }
    for config in &mut kept {
        config.linearised.retain(|n| common.binary_search(n).is_err());
    }
    state.configs = kept;
    if state.carried.len() > carried_max {
        return Step::Failed(Failure::Undecided(Some(format!(
            "has more than {carried_max} writes and cas of unknown outcome that may still take effect"
        ))));
    }
    Step::Done
}

/// Sorted `a` is a subset of sorted `b`.
fn is_subset(a: &[u64], b: &[u64]) -> bool {
    let mut b = b.iter();
    a.iter().all(|x| b.by_ref().any(|y| y == x))
}

/// The failing segment shrunk, each removal re-checked from the same starts.
fn witness(
    state: &KeyState,
    history: History,
    key: u32,
    starts: &[Start],
    budget: &Budget,
    segment: &[HeldOp],
) -> Witness {
    let all: Vec<usize> = (0..history.ops().len()).collect();
    let check = |candidate: &[usize]| {
        let ops = relevant(&history, candidate);
        let found = Search::new(&history, &ops).ends(starts, budget, true);
        SearchResult { outcome: found.outcome, states: found.states }
    };
    let shrunk = shrink_with(&history, &all, budget, check);
    let initial =
        state.configs.len() == 1 && state.configs[0].value == Datum::Nil && state.carried.is_empty();
    let before = if initial {
        String::new()
    } else {
        let mut values: Vec<u32> = starts.iter().map(|s| s.value).collect();
        values.sort_unstable();
        values.dedup();
        let shown: Vec<String> = values.iter().map(|&v| history.show_value(v)).collect();
        let at = segment.first().map_or(0, |op| op.invoke.line);
        format!(
            " (checked from what the history before {} {at} may have left: the register {}{})",
            history.line_name(),
            if shown.len() == 1 { "" } else { "one of " },
            shown.join(", ")
        )
    };
    Witness { history, key, ops: shrunk.ops, minimal: shrunk.minimal, before }
}

#[cfg(test)]
#[path = "incremental_tests.rs"]
mod tests;
