//! The linearizability search for one register: Wing & Gong's algorithm with Lowe's memoisation
//! (G. Lowe, "Testing for linearizability", 2017; the approach of Porcupine and Knossos' `wgl`).
//!
//! The ops' calls and returns form one doubly linked list in real-time order. Depth first, the
//! search takes the first entry: a call is tried as the next linearised op (if the register allows
//! it, the call and its return are lifted out of the list and the search restarts at the head); a
//! return means its op should have been linearised already, so the last choice is undone and the
//! next call after it is tried. A configuration — the set of linearised ops and the register's
//! value — is never explored twice: the set is kept as a 128-bit Zobrist hash (an XOR of one random
//! 128-bit word per op, updated as ops are linearised and undone), and `(hash, value)` pairs go in a
//! hash set (looked up, never iterated). Two different sets colliding has probability about
//! 2^-128 per pair of configurations, which we accept in exchange for memory that does not grow
//! with the history's length.
//!
//! Semantics: `ok` ops took effect between invocation and completion; `fail` ops never did and are
//! dropped; `info` and never-completed ops have no return entry (their return is at +infinity), so
//! they may be linearised anywhere after their call or left out. The search succeeds once every
//! `ok` op is linearised. Before searching, ops that cannot matter are dropped: reads that did not
//! complete `ok` (they constrain nothing), and — repeatedly — `info` writes and cas whose value no
//! remaining op reads or expects (leaving such a write out of any linearisation leaves every other
//! op's view of the register unchanged, so "never happened" is always as good).

use std::cell::RefCell;
use std::time::Instant;

use rand::{RngCore, SeedableRng};
use rand_chacha::ChaCha8Rng;
use rustc_hash::{FxHashMap, FxHashSet};

use crate::lin::history::{Completion, History, OpF, NIL};

/// How much work one search may do before answering [`Outcome::Undecided`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Budget {
    /// Configurations (linearised set, value) visited, per key.
    pub states_max: u64,
    /// Wall-clock deadline; `None` in simulations (a wall-clock budget is not deterministic).
    pub deadline: Option<Instant>,
}

impl Budget {
    /// The default of `--lin-budget`: ten million configurations per key.
    pub const STATES_DEFAULT: u64 = 10_000_000;

    pub fn states(states_max: u64) -> Budget {
        Budget { states_max, deadline: None }
    }
}

/// The answer for one register.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Outcome {
    Linearizable,
    NotLinearizable,
    /// The budget ran out first: neither a pass nor a violation.
    Undecided,
}

/// What a search did: the outcome and the configurations it visited.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SearchResult {
    pub outcome: Outcome,
    pub states: u64,
}

/// One list entry: the call or the return of the op at `op` (an index into `Search::ops`).
#[derive(Clone, Copy, Debug)]
struct Entry {
    op: u32,
    is_call: bool,
}

/// An op as the search sees it.
#[derive(Clone, Copy, Debug)]
struct SOp {
    f: OpF,
    value: u32,
    expect: u32,
    ok: bool,
    /// Entry index of the call.
    call: u32,
    /// Entry index of the return, for ok ops.
    ret: Option<u32>,
}

const NONE: u32 = u32::MAX;
const HEAD: u32 = 0;

/// The search state for one register's ops.
pub struct Search {
    ops: Vec<SOp>,
    /// The history index of each op.
    history_index: Vec<usize>,
    /// Index 0 is the head sentinel.
    entries: Vec<Entry>,
    next: Vec<u32>,
    prev: Vec<u32>,
    zobrist: Vec<u128>,
    /// The `ok` ops, and the `ok` writes and cas among them (what a search must linearise).
    ok_total: usize,
    ok_writers: usize,
    /// [`Search::ends_from`]'s memo, cleared per call but kept allocated: a segment's searches
    /// (one per start and possible last writer) would otherwise each regrow it from empty.
    memo: FxHashSet<(u128, u32)>,
}

/// The ops of `ops` (indexes into `history.ops()`, all on one key) that can matter to the search:
/// without `fail` ops, non-ok reads, and unobserved `info` writes/cas (see the module comment).
pub fn relevant(history: &History, ops: &[usize]) -> Vec<usize> {
    let all = history.ops();
    let mut keep: Vec<usize> = ops
        .iter()
        .copied()
        .filter(|&i| match all[i].completion {
            Completion::Fail(_) => false,
            Completion::Ok(_) => true,
            Completion::Info(_) | Completion::None => all[i].f != OpF::Read,
        })
        .collect();
    loop {
        let mut observed = FxHashSet::default();
        observed.insert(NIL);
        for &i in &keep {
            let op = &all[i];
            match op.f {
                OpF::Read => {
                    observed.insert(op.value);
                }
                OpF::Cas => {
                    observed.insert(op.expect);
                }
                OpF::Write => {}
            }
        }
        let before = keep.len();
        keep.retain(|&i| all[i].completion.is_ok() || observed.contains(&all[i].value));
        if keep.len() == before {
            return keep;
        }
    }
}

/// The first `n` Zobrist words: a fixed ChaCha stream, 128 bits per op. The in-run check builds
/// a search per segment, so the stream is drawn once per thread and its prefix copied (the same
/// words as drawing it afresh; only memo hashes depend on them).
fn zobrist_words(n: usize) -> Vec<u128> {
    thread_local! {
        static WORDS: RefCell<(ChaCha8Rng, Vec<u128>)> =
            RefCell::new((ChaCha8Rng::seed_from_u64(0x5eed_11ea), Vec::new()));
    }
    WORDS.with(|cell| {
        let (rng, words) = &mut *cell.borrow_mut();
        while words.len() < n {
            words.push((u128::from(rng.next_u64()) << 64) | u128::from(rng.next_u64()));
        }
        words[..n].to_vec()
    })
}

/// Sorts `points` (distinct positions) by position: by insertion while that stays cheap (the
/// points are nearly in order), else by a general sort.
fn sort_nearly_sorted(points: &mut [(u64, u32)]) {
    let budget = 8 * points.len();
    let mut moves = 0usize;
    for i in 1..points.len() {
        let x = points[i];
        let mut j = i;
        while j > 0 && points[j - 1].0 > x.0 {
            points[j] = points[j - 1];
            j -= 1;
        }
        points[j] = x;
        moves += i - j;
        if moves > budget {
            points.sort_unstable_by_key(|p| p.0);
            return;
        }
    }
}

impl Search {
    /// Prepares the search over `ops` (indexes into `history.ops()`, one key, as returned by
    /// [`relevant`]).
    pub fn new(history: &History, ops: &[usize]) -> Search {
        let all = history.ops();
        let mut sops = Vec::with_capacity(ops.len());
        // Calls and returns as (pos, op), each sorted by position, then merged into the list.
        // Positions are distinct, so this is the one real-time order. Callers list ops in
        // invocation order, and ops mostly complete in about that order, so both runs are
        // sorted or nearly so: sorting them apart and merging is linear where it can be.
        let mut calls: Vec<(u64, u32)> = Vec::with_capacity(ops.len());
        let mut rets: Vec<(u64, u32)> = Vec::with_capacity(ops.len());
        for (k, &i) in ops.iter().enumerate() {
            let op = &all[i];
            let ok = op.completion.is_ok();
            sops.push(SOp { f: op.f, value: op.value, expect: op.expect, ok, call: 0, ret: None });
            calls.push((op.invoke.pos, k as u32));
            if let Completion::Ok(at) = op.completion {
                rets.push((at.pos, k as u32));
            }
        }
        sort_nearly_sorted(&mut calls);
        sort_nearly_sorted(&mut rets);
        let mut entries = Vec::with_capacity(calls.len() + rets.len() + 1);
        entries.push(Entry { op: NONE, is_call: false });
        let (mut c, mut r) = (calls.iter().peekable(), rets.iter().peekable());
        loop {
            let is_call = match (c.peek(), r.peek()) {
                (Some(call), Some(ret)) => call.0 < ret.0,
                (Some(_), None) => true,
                (None, Some(_)) => false,
                (None, None) => break,
            };
            let next = if is_call { c.next() } else { r.next() };
            let Some(&(_, op)) = next else { break };
            if is_call {
                sops[op as usize].call = entries.len() as u32;
            } else {
                sops[op as usize].ret = Some(entries.len() as u32);
            }
            entries.push(Entry { op, is_call });
        }
        let n = entries.len() as u32;
        let next = (0..n).map(|i| if i + 1 < n { i + 1 } else { NONE }).collect();
        let prev = (0..n).map(|i| if i == 0 { NONE } else { i - 1 }).collect();
        let zobrist = zobrist_words(sops.len());
        let ok_total = sops.iter().filter(|o| o.ok).count();
        let ok_writers = sops.iter().filter(|o| o.ok && o.f != OpF::Read).count();
        Search {
            ops: sops,
            history_index: ops.to_vec(),
            entries,
            next,
            prev,
            zobrist,
            ok_total,
            ok_writers,
            memo: FxHashSet::default(),
        }
    }

    fn unlink(&mut self, e: u32) {
        let (p, n) = (self.prev[e as usize], self.next[e as usize]);
        self.next[p as usize] = n;
        if n != NONE {
            self.prev[n as usize] = p;
        }
    }

    fn relink(&mut self, e: u32) {
        let (p, n) = (self.prev[e as usize], self.next[e as usize]);
        self.next[p as usize] = e;
        if n != NONE {
            self.prev[n as usize] = e;
        }
    }

    fn lift(&mut self, call: u32) {
        self.unlink(call);
        if let Some(ret) = self.ops[self.entries[call as usize].op as usize].ret {
            self.unlink(ret);
        }
    }

    fn unlift(&mut self, call: u32) {
        if let Some(ret) = self.ops[self.entries[call as usize].op as usize].ret {
            self.relink(ret);
        }
        self.relink(call);
    }

    /// The register's value after `op` from `state`, or `None` if `op` cannot happen there.
    fn step(op: &SOp, state: u32) -> Option<u32> {
        match op.f {
            OpF::Read => (state == op.value).then_some(state),
            OpF::Write => Some(op.value),
            OpF::Cas => (state == op.expect).then_some(op.value),
        }
    }

    /// Runs the search from the initial value `nil`.
    pub fn run(&mut self, budget: &Budget) -> SearchResult {
        let ok_total = self.ops.iter().filter(|o| o.ok).count();
        let mut ok_done = 0usize;
        let mut state = NIL;
        let mut hash: u128 = 0;
        let mut states = 0u64;
        let mut memo: FxHashSet<(u128, u32)> = FxHashSet::default();
        // (call entry, value before it)
        let mut stack: Vec<(u32, u32)> = Vec::new();
        let mut entry = self.next[HEAD as usize];
        let result = |outcome, states| SearchResult { outcome, states };
        loop {
            if ok_done == ok_total {
                return result(Outcome::Linearizable, states);
            }
            if entry != NONE && self.entries[entry as usize].is_call {
                let op_index = self.entries[entry as usize].op as usize;
                let op = self.ops[op_index];
                if let Some(after) = Self::step(&op, state) {
                    let h = hash ^ self.zobrist[op_index];
                    states += 1;
                    if states > budget.states_max
                        || (states % 4096 == 0 && budget.deadline.is_some_and(|d| Instant::now() >= d))
                    {
                        return result(Outcome::Undecided, states - 1);
                    }
                    if memo.insert((h, after)) {
                        stack.push((entry, state));
                        state = after;
                        hash = h;
                        ok_done += usize::from(op.ok);
                        self.lift(entry);
                        entry = self.next[HEAD as usize];
                        continue;
                    }
                }
                entry = self.next[entry as usize];
            } else {
                // A return (or the end of the list, reachable only when info calls remain): undo
                // the last choice and try the next call after it.
                let Some((call, before)) = stack.pop() else {
                    return result(Outcome::NotLinearizable, states);
                };
                let op_index = self.entries[call as usize].op as usize;
                state = before;
                hash ^= self.zobrist[op_index];
                ok_done -= usize::from(self.ops[op_index].ok);
                self.unlift(call);
                entry = self.next[call as usize];
            }
        }
    }
}

/// A configuration a search may start from: the register's value and the ops (indexes into
/// `history.ops()`; `info` or never completed) already linearised before the search's first op.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Start {
    pub value: u32,
    pub linearised: Vec<usize>,
}

/// One configuration in which every `ok` op is linearised: which start it came from, the
/// register's value, and the optional ops (indexes into `history.ops()`, sorted) the search
/// linearised on the way (the start's own are not repeated).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct End {
    pub start: usize,
    pub value: u32,
    pub linearised: Vec<usize>,
}

/// What [`Search::ends`] found.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Ends {
    /// Linearizable if some start reaches an end; undecided if the budget ran out first.
    pub outcome: Outcome,
    pub states: u64,
    pub ends: Vec<End>,
}

impl Search {
    /// Every configuration reachable from one of `starts` in which all `ok` ops are linearised
    /// (with `first_only`, just the first found), within `budget` configurations over all starts.
    ///
    /// This is [`Search::run`] without stopping at the first success: when every `ok` op is
    /// linearised the configuration is recorded and the search backtracks, so every reachable
    /// one is recorded once. Optional ops left over at that point need not be tried: they were
    /// invoked before the segment's end, so whoever comes next may still linearise them first.
    /// Each start gets its own memo: two starts may differ in linearised ops this search does not
    /// hold, and so reach ends the caller tells apart.
    ///
    /// When every op is `ok` (nothing optional), an end is just a value, and listing every
    /// configuration on the way is exponential in the ops in flight at once (each subset of a
    /// burst of concurrent writes is a configuration of its own) although the ends are few. Then
    /// [`Search::ends_by_last`] finds the same ends with one first-success search per possible
    /// last writer.
    pub fn ends(&mut self, starts: &[Start], budget: &Budget, first_only: bool) -> Ends {
        if !first_only && self.ops.iter().all(|o| o.ok) {
            return self.ends_by_last(starts, budget);
        }
        self.ends_listed(starts, budget, first_only)
    }

    /// [`Search::ends`] by listing every configuration reachable from each start.
    fn ends_listed(&mut self, starts: &[Start], budget: &Budget, first_only: bool) -> Ends {
        // Needed only to lift starts' ops: most starts (every one at the end of a run) have none.
        let position: FxHashMap<usize, u32> = if starts.iter().any(|s| !s.linearised.is_empty()) {
            self.history_index.iter().enumerate().map(|(k, &i)| (i, k as u32)).collect()
        } else {
            FxHashMap::default()
        };
        let mut found = Ends { outcome: Outcome::NotLinearizable, states: 0, ends: Vec::new() };
        for (s, start) in starts.iter().enumerate() {
            let lifted: Vec<u32> = start.linearised.iter().filter_map(|i| position.get(i).copied()).collect();
            for &op in &lifted {
                assert!(!self.ops[op as usize].ok, "a start linearises only optional ops");
                self.lift(self.ops[op as usize].call);
            }
            let done = self.ends_from(s, start.value, &lifted, budget, first_only, None, &mut found);
            for &op in lifted.iter().rev() {
                self.unlift(self.ops[op as usize].call);
            }
            if !done {
                found.outcome = Outcome::Undecided;
                return found;
            }
            if first_only && !found.ends.is_empty() {
                break;
            }
        }
        if !found.ends.is_empty() {
            found.outcome = Outcome::Linearizable;
        }
        found
    }

    /// [`Search::ends`] when every op is `ok`, by the last op that changes the register.
    ///
    /// Every linearisation of the ops has a last writer — the last write or cas in it — and ends
    /// in that op's value (or in the start's value, when there is no write or cas at all). Only
    /// an op that no other write or cas follows in real time (none invoked after it returned) can
    /// be last. So for each start and each such op whose value is not yet an end of that start,
    /// one first-success search asks for a linearisation in which that op is the last writer:
    /// the op may be linearised only once every other write and cas is. The ends are the same
    /// set the full enumeration finds (tests compare them); the configurations visited are the
    /// searches', usually a few per op instead of one per subset of ops in flight.
    fn ends_by_last(&mut self, starts: &[Start], budget: &Budget) -> Ends {
        let mut found = Ends { outcome: Outcome::NotLinearizable, states: 0, ends: Vec::new() };
        // The two latest invocations of a write or cas: an op may be last if no *other* one was
        // invoked after it returned.
        let (mut latest, mut second) = ((0u32, NONE), (0u32, NONE));
        for (k, op) in self.ops.iter().enumerate() {
            if op.f != OpF::Read && (latest.1 == NONE || op.call > latest.0) {
                second = latest;
                latest = (op.call, k as u32);
            } else if op.f != OpF::Read && (second.1 == NONE || op.call > second.0) {
                second = (op.call, k as u32);
            }
        }
        let lasts: Vec<Option<u32>> = if latest.1 == NONE {
            vec![None]
        } else {
            let others_latest = |k: u32| if k == latest.1 { second } else { latest };
            (0..self.ops.len() as u32)
                .filter(|&k| {
                    let op = &self.ops[k as usize];
                    let other = others_latest(k);
                    op.f != OpF::Read && (other.1 == NONE || op.ret.is_some_and(|ret| ret > other.0))
                })
                .map(Some)
                .collect()
        };
        // A start value no op reads or expects is indistinguishable from any other such value:
        // the register is compared only with reads' values and cas' expectations, and the
        // first write replaces it. The searches from two such starts are the same searches
        // (same configurations visited, same lasts succeeding), so the first one's outcome is
        // replayed for the others: its configuration count, and its ends (an end without a
        // last writer is the start's own value).
        let observed: FxHashSet<u32> = self
            .ops
            .iter()
            .filter_map(|o| match o.f {
                OpF::Read => Some(o.value),
                OpF::Cas => Some(o.expect),
                OpF::Write => None,
            })
            .collect();
        // (the lasts that succeeded, configurations visited) of the first unobserved start.
        let mut template: Option<(Vec<Option<u32>>, u64)> = None;
        for (s, start) in starts.iter().enumerate() {
            let unobserved = !observed.contains(&start.value);
            if let Some((succeeded, states)) = template.as_ref().filter(|_| unobserved) {
                if found.states + states > budget.states_max {
                    // Where the search itself would have stopped.
                    found.states = budget.states_max;
                    found.outcome = Outcome::Undecided;
                    return found;
                }
                found.states += states;
                for &last in succeeded {
                    let value = last.map_or(start.value, |k| self.ops[k as usize].value);
                    found.ends.push(End { start: s, value, linearised: Vec::new() });
                }
                continue;
            }
            let states_before = found.states;
            let mut succeeded: Vec<Option<u32>> = Vec::new();
            let mut values: Vec<u32> = Vec::new();
            for &last in &lasts {
                let value = last.map_or(start.value, |k| self.ops[k as usize].value);
                if values.contains(&value) {
                    continue;
                }
                let before = found.ends.len();
                if !self.ends_from(s, start.value, &[], budget, true, last, &mut found) {
                    found.outcome = Outcome::Undecided;
                    return found;
                }
                if found.ends.len() > before {
                    values.push(value);
                    succeeded.push(last);
                }
            }
            if unobserved && template.is_none() {
                template = Some((succeeded, found.states - states_before));
            }
        }
        if !found.ends.is_empty() {
            found.outcome = Outcome::Linearizable;
        }
        found
    }

    /// The search of [`Search::ends`] from one start (its ops in `lifted` already out of the
    /// list); false if the budget ran out. With `last`, only linearisations in which that op is
    /// the last write or cas count: it may be linearised only after every other one.
    #[allow(clippy::too_many_arguments)]
    fn ends_from(
        &mut self,
        start: usize,
        value: u32,
        lifted: &[u32],
        budget: &Budget,
        first_only: bool,
        last: Option<u32>,
        found: &mut Ends,
    ) -> bool {
        let mut memo = std::mem::take(&mut self.memo);
        memo.clear();
        // A search visits at least one configuration per op it linearises: room for that up
        // front saves the table's regrowths (a long segment's search would rehash it ~log n times).
        memo.reserve(self.ops.len() + 1);
        let done = self.ends_from_in(&mut memo, start, value, lifted, budget, first_only, last, found);
        self.memo = memo;
        done
    }

    /// [`Search::ends_from`] with its memo, empty on entry.
    #[allow(clippy::too_many_arguments)]
    fn ends_from_in(
        &mut self,
        memo: &mut FxHashSet<(u128, u32)>,
        start: usize,
        value: u32,
        lifted: &[u32],
        budget: &Budget,
        first_only: bool,
        last: Option<u32>,
        found: &mut Ends,
    ) -> bool {
        let ok_total = self.ok_total;
        let mut ok_done = 0usize;
        // With `last`: the ok writes and cas in all, and linearised so far.
        let writers_total = self.ok_writers;
        let mut writers_done = 0usize;
        let mut state = value;
        let mut hash: u128 = lifted.iter().fold(0, |h, &op| h ^ self.zobrist[op as usize]);
        memo.insert((hash, state));
        // (call entry, value before it); and the optional ops among them, in order.
        let mut stack: Vec<(u32, u32)> = Vec::new();
        let mut optional: Vec<u32> = Vec::new();
        let mut entry = self.next[HEAD as usize];
        loop {
            let mut backtrack = false;
            if ok_done == ok_total {
                let mut linearised: Vec<usize> =
                    optional.iter().map(|&op| self.history_index[op as usize]).collect();
                linearised.sort_unstable();
                found.ends.push(End { start, value: state, linearised });
                if first_only {
                    // Leave the list as it was found, for the next search.
                    while let Some((call, _)) = stack.pop() {
                        self.unlift(call);
                    }
                    return true;
                }
                backtrack = true;
            } else if entry != NONE && self.entries[entry as usize].is_call {
                let op_index = self.entries[entry as usize].op as usize;
                let op = self.ops[op_index];
                let held_back = last == Some(op_index as u32) && writers_done + 1 < writers_total;
                if let Some(after) = Self::step(&op, state).filter(|_| !held_back) {
                    let h = hash ^ self.zobrist[op_index];
                    found.states += 1;
                    if found.states > budget.states_max {
                        found.states -= 1;
                        return false;
                    }
                    if memo.insert((h, after)) {
                        stack.push((entry, state));
                        if !op.ok {
                            optional.push(op_index as u32);
                        }
                        state = after;
                        hash = h;
                        ok_done += usize::from(op.ok);
                        writers_done += usize::from(op.ok && op.f != OpF::Read);
                        self.lift(entry);
                        entry = self.next[HEAD as usize];
                        continue;
                    }
                }
                entry = self.next[entry as usize];
            } else {
                backtrack = true;
            }
            if backtrack {
                let Some((call, before)) = stack.pop() else { return true };
                let op_index = self.entries[call as usize].op as usize;
                state = before;
                hash ^= self.zobrist[op_index];
                if self.ops[op_index].ok {
                    ok_done -= 1;
                    writers_done -= usize::from(self.ops[op_index].f != OpF::Read);
                } else {
                    optional.pop();
                }
                self.unlift(call);
                entry = self.next[call as usize];
            }
        }
    }
}

/// Decides one key's ops (indexes into `history.ops()`).
pub fn check_ops(history: &History, ops: &[usize], budget: &Budget) -> SearchResult {
    let ops = relevant(history, ops);
    Search::new(history, &ops).run(budget)
}

#[cfg(test)]
#[path = "search_tests.rs"]
pub(crate) mod tests;
