//! `dsim shrink`: a failing (scenario, seed) reduced to a small run that fails the same checker —
//! delta debugging (Zeller and Hildebrandt, TSE 2002) first over the scenario, then over the run's
//! recorded schedule (docs/shrink.md).
//!
//! Every candidate is verified by a full rerun; one is kept when the target checker still reports a
//! violation and the trace has no more rows than before. The scenario passes cut the duration to
//! just past the first violation, switch off chaos, remove `[[faults]]` entries (ddmin), lower
//! loss and duplication, client processes, keys and the open-loop rate, and shrink the cluster
//! where the protocol allows. The schedule passes (on the recorded message fates and fault
//! firings, src/sim/schedule.rs) remove fault firings, turn drops into deliveries, duplicates
//! into single deliveries and shorten delays. The search is bounded by a number of candidate runs,
//! so the same input always gives the same output; the wall-clock cap (`--time`) only stops a
//! search that outgrew its machine, and the summary then says so.

pub mod story;

use std::time::{Duration, Instant};

use crate::error::{Error, Result};
use crate::harness::{self, Options, Scheduling};
use crate::scenario::{ProtocolKind, Scenario};
use crate::sim::faults::FaultAction;
use crate::sim::network::Fate;
use crate::sim::schedule::{Entry, Schedule};
use crate::sim::{SimDuration, SimTime};

/// What a shrink is asked to do.
#[derive(Clone, Debug)]
pub struct Config {
    /// The checker that must keep failing; default: the property of the run's first violation.
    pub checker: Option<String>,
    /// At most this many candidate runs (the deterministic bound); default: [`budget_for`] the
    /// input's size.
    pub budget: Option<u64>,
    /// Stop early after this much wall time (a safety cap; reported when hit).
    pub time_cap: Option<Duration>,
}

/// The default candidate budget for an input run of `rows` rows: about 60 million rows of
/// candidate runs in all (candidates shrink as the search goes, so far fewer are run), between
/// 300 and 6 000 candidates. A function of the input alone, so the result is too.
pub fn budget_for(rows: u64) -> u64 {
    (60_000_000 / rows.max(1)).clamp(300, 6_000)
}

/// The size of one run, as the summary reports it.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, serde::Serialize)]
pub struct Size {
    pub rows: u64,
    pub nodes: u32,
    pub duration_ms: u64,
    /// Fault firings of the run's schedule (crashes, restarts, partitions, heals, pauses, chaos).
    pub faults: u64,
    /// Messages lost at random / duplicated by the network.
    pub drops: u64,
    pub duplicates: u64,
    pub clients: u32,
}

/// What a shrink found.
#[derive(Clone, Debug)]
pub struct Shrunk {
    pub checker: String,
    pub scenario: Scenario,
    /// The final run's complete schedule (replays it byte for byte).
    pub schedule: Schedule,
    /// Whether a schedule edit was kept (the scenario alone then no longer reproduces the run).
    pub schedule_edited: bool,
    pub before: Size,
    pub after: Size,
    /// Candidate runs made (including the two runs of the input).
    pub candidates: u64,
    /// One line per kept step, in order.
    pub steps: Vec<String>,
    /// The candidate budget ran out before the passes were done.
    pub budget_spent: bool,
    /// The wall-clock cap stopped the search (the result then depends on the machine's speed).
    pub time_capped: bool,
}

/// A verified failing candidate.
#[derive(Clone, Debug)]
struct Current {
    scenario: Scenario,
    schedule: Option<Schedule>,
    rows: u64,
    /// The first violation of the target checker (µs).
    first_us: u64,
}

struct Search {
    checker: String,
    budget: u64,
    time_cap: Option<Duration>,
    started: Instant,
    candidates: u64,
    budget_spent: bool,
    time_capped: bool,
    steps: Vec<String>,
    current: Current,
}

/// Runs `scenario` (with `schedule`, if any); `Some((rows, first violation µs))` when `checker`
/// reported a violation.
fn fails(checker: &str, scenario: &Scenario, schedule: Option<&Schedule>) -> Result<Option<(u64, u64)>> {
    let scheduling = Scheduling { replay: schedule, record: false, replay_file: None };
    let outcome = harness::run_scheduled(scenario, Options::default(), scheduling)?;
    let first = outcome.violations.iter().filter(|v| v.property == checker).map(|v| v.time_us).min();
    Ok(first.map(|t| (outcome.stats.rows, t)))
}

/// The size of `scenario` run with `schedule` (which must be that run's complete schedule).
fn size(scenario: &Scenario, schedule: &Schedule, rows: u64) -> Size {
    let mut s = Size {
        rows,
        nodes: scenario.nodes,
        duration_ms: scenario.duration_ms,
        faults: schedule.faults() as u64,
        clients: scenario.clients.count,
        ..Size::default()
    };
    for e in &schedule.entries {
        if let Entry::Send { fate, .. } = e {
            s.drops += fate.dropped as u64;
            s.duplicates += (!fate.dropped && fate.duplicate.is_some()) as u64;
        }
    }
    s
}

/// Records the schedule of `scenario` (driven by `replay`, if any).
fn record(scenario: &Scenario, replay: Option<&Schedule>) -> Result<(Schedule, u64)> {
    let scheduling = Scheduling { replay, record: true, replay_file: None };
    let outcome = harness::run_scheduled(scenario, Options::default(), scheduling)?;
    let schedule = outcome.schedule.expect("a recording run returns its schedule");
    Ok((schedule, outcome.stats.rows))
}

/// Shrinks `scenario` (its seed is the seed).
pub fn shrink(scenario: &Scenario, config: &Config) -> Result<Shrunk> {
    let started = Instant::now();
    let scheduling = Scheduling { replay: None, record: true, replay_file: None };
    let first = harness::run_scheduled(scenario, Options::default(), scheduling)?;
    let checker = match &config.checker {
        Some(c) => c.clone(),
        None => match first.violations.first() {
            Some(v) => v.property.to_owned(),
            None => {
                return Err(Error::Mismatch(format!(
                    "dsim shrink: seed {} of {:?} does not fail: nothing to shrink",
                    scenario.seed, scenario.name
                )))
            }
        },
    };
    let Some(first_us) = first.violations.iter().filter(|v| v.property == checker).map(|v| v.time_us).min()
    else {
        let seen: Vec<&str> = first.violations.iter().map(|v| v.property).collect();
        return Err(Error::Mismatch(format!(
            "dsim shrink: seed {} of {:?} does not fail {checker} (it failed: {})",
            scenario.seed,
            scenario.name,
            if seen.is_empty() { "nothing".to_owned() } else { seen.join(", ") }
        )));
    };
    let original = first.schedule.expect("recorded");
    let before = size(scenario, &original, first.stats.rows);
    let mut search = Search {
        checker: checker.clone(),
        budget: config.budget.unwrap_or_else(|| budget_for(first.stats.rows)).max(1),
        time_cap: config.time_cap,
        started,
        candidates: 1,
        budget_spent: false,
        time_capped: false,
        steps: Vec::new(),
        current: Current { scenario: scenario.clone(), schedule: None, rows: first.stats.rows, first_us },
    };
    // Rounds of both phases while they gain: a smaller schedule can open new scenario steps.
    for _round in 0..3 {
        let rows = search.current.rows;
        search.scenario_passes()?;
        search.schedule_passes()?;
        if search.current.rows == rows || search.budget_spent || search.time_capped {
            break;
        }
    }
    // The final run's complete schedule: the fates it used, fallbacks included.
    let current = search.current.clone();
    let (schedule, rows) = record(&current.scenario, current.schedule.as_ref())?;
    search.candidates += 1;
    let after = size(&current.scenario, &schedule, rows);
    let mut minimal = current.scenario;
    if current.schedule.is_some() {
        // The schedule's fault lines are the faults now; the scenario's would only mislead.
        minimal.faults.clear();
        minimal.chaos.crash_every_ms = None;
        minimal.chaos.partition_every_ms = None;
    }
    Ok(Shrunk {
        checker,
        scenario: minimal,
        schedule,
        schedule_edited: current.schedule.is_some(),
        before,
        after,
        candidates: search.candidates,
        steps: search.steps,
        budget_spent: search.budget_spent,
        time_capped: search.time_capped,
    })
}

impl Search {
    /// Whether another candidate may run.
    fn can_try(&mut self) -> bool {
        if self.candidates >= self.budget {
            self.budget_spent = true;
            return false;
        }
        if self.time_cap.is_some_and(|cap| self.started.elapsed() >= cap) {
            self.time_capped = true;
            return false;
        }
        true
    }

    /// Runs a candidate; keeps it (and logs `what`) when it fails the checker with no more rows.
    fn try_candidate(&mut self, what: &str, scenario: Scenario, schedule: Option<Schedule>) -> Result<bool> {
        if scenario.validate("shrink").is_err() || !self.can_try() {
            return Ok(false);
        }
        self.candidates += 1;
        let Some((rows, first_us)) = fails(&self.checker, &scenario, schedule.as_ref())? else {
            return Ok(false);
        };
        if rows > self.current.rows {
            return Ok(false);
        }
        // A deliberately broken model (`raft.bug`, `eventual.bug`) must be what fails: the same
        // candidate with the correct model must pass the checker (a control), or the shrink
        // would keep a run that fails for a reason of its own (a run cut before replicas could
        // converge, messages lost that a property presumes delivered).
        if let Some(control) = control(&scenario) {
            if fails(&self.checker, &control, schedule.as_ref())?.is_some() {
                return Ok(false);
            }
        }
        self.steps.push(format!("{what}: {} -> {rows} rows", self.current.rows));
        self.current = Current { scenario, schedule, rows, first_us };
        Ok(true)
    }

    /// Tries a change of the scenario (the schedule, if any, stays).
    fn try_scenario(&mut self, what: &str, change: impl FnOnce(&mut Scenario)) -> Result<bool> {
        let mut s = self.current.scenario.clone();
        change(&mut s);
        if s == self.current.scenario {
            return Ok(false);
        }
        let schedule = self.current.schedule.clone();
        let kept = self.try_candidate(what, s, schedule)?;
        if kept {
            self.cut_duration()?;
        }
        Ok(kept)
    }

    /// Ends the run just past its first violation (a little later if that loses it).
    fn cut_duration(&mut self) -> Result<()> {
        let duration = self.current.scenario.duration_ms;
        let first_ms = self.current.first_us / 1_000 + 1;
        for ms in [first_ms, first_ms + first_ms / 10 + 1, first_ms * 3 / 2 + 1, first_ms * 2 + 1] {
            if ms >= duration {
                return Ok(());
            }
            let mut s = self.current.scenario.clone();
            set_duration(&mut s, ms, &self.checker);
            let schedule = self.current.schedule.clone();
            if self.try_candidate(&format!("duration_ms {duration} -> {ms}"), s, schedule)? {
                return Ok(());
            }
        }
        Ok(())
    }

    fn scenario_passes(&mut self) -> Result<()> {
        self.cut_duration()?;
        for _pass in 0..3 {
            let rows = self.current.rows;
            self.scenario_pass()?;
            if self.current.rows == rows || self.budget_spent || self.time_capped {
                break;
            }
        }
        Ok(())
    }

    fn scenario_pass(&mut self) -> Result<()> {
        // With a schedule, its fault lines replace [[faults]] and [chaos]: the schedule passes
        // shrink those.
        if self.current.schedule.is_none() {
            self.try_scenario("chaos crashes off", |s| s.chaos.crash_every_ms = None)?;
            self.try_scenario("chaos partitions off", |s| s.chaos.partition_every_ms = None)?;
            self.ddmin_faults()?;
            self.compress_fault_times()?;
        }
        for (what, p) in [("duplicate_probability", 0.0), ("drop_probability", 0.0)] {
            let set = |s: &mut Scenario, v: f64| match what {
                "duplicate_probability" => s.network.duplicate_probability = v,
                _ => s.network.drop_probability = v,
            };
            if !self.try_scenario(&format!("network.{what} -> {p}"), |s| set(s, p))? {
                let half = match what {
                    "duplicate_probability" => self.current.scenario.network.duplicate_probability,
                    _ => self.current.scenario.network.drop_probability,
                } / 2.0;
                self.try_scenario(&format!("network.{what} -> {half}"), |s| set(s, half))?;
            }
        }
        self.try_scenario("network links and regions removed", |s| {
            s.network.links.clear();
            s.network.regions.clear();
        })?;
        self.try_scenario("[node.*] removed", |s| s.node.clear())?;
        self.shrink_count("clients.count", |s| s.clients.count as u64, |s, v| s.clients.count = v as u32, 0)?;
        self.shrink_count("clients.keys", |s| s.clients.keys, |s, v| s.clients.keys = v, 1)?;
        if self.current.scenario.workload.rate_per_s > 0.0 {
            self.shrink_count("workload.keys", |s| s.workload.keys, |s, v| s.workload.keys = v, 1)?;
            if !self.try_scenario("workload.rate_per_s -> 0", |s| s.workload.rate_per_s = 0.0)? {
                for _ in 0..6 {
                    let rate = self.current.scenario.workload.rate_per_s;
                    let half = (rate / 2.0 * 1000.0).round() / 1000.0;
                    if half <= 0.0
                        || !self.try_scenario(&format!("workload.rate_per_s {rate} -> {half}"), |s| {
                            s.workload.rate_per_s = half
                        })?
                    {
                        break;
                    }
                }
            }
            // Requests stop sooner (the rest of the run stays: end-of-run checkers need the quiet).
            self.halve_loop(
                "workload.stop_ms",
                |s| s.workload.stop_ms.unwrap_or(s.duration_ms),
                |s, v| s.workload.stop_ms = Some(v),
            )?;
        }
        if self.current.scenario.clients.count > 0 {
            self.halve_loop(
                "clients.stop_ms",
                |s| s.clients.stop_ms.unwrap_or(s.duration_ms),
                |s, v| s.clients.stop_ms = Some(v),
            )?;
        }
        // A violation found only at the end (convergence, liveness): a shorter run.
        let cut = |s: &Scenario| s.duration_ms;
        let checker = self.checker.clone();
        self.halve_loop("duration_ms", cut, move |s, v| set_duration(s, v, &checker))?;
        if self.current.scenario.protocol == ProtocolKind::Eventual
            && self.current.scenario.eventual.anti_entropy_ms > 0
        {
            let ae = self.current.scenario.eventual.anti_entropy_ms;
            self.try_scenario(&format!("eventual.anti_entropy_ms {ae} -> {}", ae * 2), |s| {
                s.eventual.anti_entropy_ms = ae * 2
            })?;
        }
        if self.current.scenario.clients.count > 0 {
            // Fewer ops: each closed-loop op is dozens of rows.
            for think in [200, 100, 50, 20] {
                let [lo, hi] = self.current.scenario.clients.think_ms;
                if lo >= think || hi > think {
                    continue;
                }
                if self
                    .try_scenario(&format!("clients.think_ms [{lo}, {hi}] -> [{think}, {think}]"), |s| {
                        s.clients.think_ms = [think, think]
                    })?
                {
                    break;
                }
            }
        }
        self.shrink_nodes()?;
        if self.current.scenario.protocol == ProtocolKind::Raft {
            self.try_scenario("raft.persist_delay_us -> 0", |s| s.raft.persist_delay_us = 0)?;
            // Fewer heartbeats: each is a round of messages to every follower.
            let [min, _] = self.current.scenario.raft.election_timeout_ms;
            let hb = self.current.scenario.raft.heartbeat_ms;
            for to in [min * 2 / 3, min / 2] {
                if to > hb
                    && self.try_scenario(&format!("raft.heartbeat_ms {hb} -> {to}"), |s| {
                        s.raft.heartbeat_ms = to
                    })?
                {
                    break;
                }
            }
            // Everything sooner: the protocol's timers, the faults and the clients at half the time.
            for _ in 0..3 {
                let r = &self.current.scenario.raft;
                let ([lo, hi], hb) = (r.election_timeout_ms, r.heartbeat_ms);
                if lo < 4 || hb < 2 {
                    break;
                }
                let what =
                    format!("time x1/2 (election [{lo}, {hi}] ms, heartbeat {hb} ms, faults, clients)");
                if !self.try_scenario(&what, compress_time)? {
                    break;
                }
            }
        }
        Ok(())
    }

    /// Moves every `[[faults]]` entry earlier (times scaled by 1/2, then 3/4) while it still fails:
    /// the violation then comes sooner and the run is cut shorter.
    fn compress_fault_times(&mut self) -> Result<()> {
        use crate::sim::faults::MsOrRange;
        if self.current.scenario.faults.is_empty() {
            return Ok(());
        }
        for (num, den) in [(1, 2), (1, 2), (3, 4), (3, 4)] {
            let scale = |v: u64| v * num / den;
            self.try_scenario(&format!("[[faults]] times x{num}/{den}"), |s| {
                for f in s.faults.iter_mut() {
                    f.at_ms = match f.at_ms {
                        MsOrRange::Fixed(ms) => MsOrRange::Fixed(scale(ms)),
                        MsOrRange::Range([lo, hi]) => MsOrRange::Range([scale(lo), scale(hi)]),
                    };
                }
            })?;
        }
        Ok(())
    }

    /// Halves a value (then tries 3/4 once) while the failure stays; at most 8 steps.
    fn halve_loop(
        &mut self,
        what: &str,
        get: impl Fn(&Scenario) -> u64,
        set: impl Fn(&mut Scenario, u64),
    ) -> Result<()> {
        for _ in 0..8 {
            let now = get(&self.current.scenario);
            let (half, three) = (now / 2, now * 3 / 4);
            if half == 0 {
                break;
            }
            if !self.try_scenario(&format!("{what} {now} -> {half}"), |s| set(s, half))?
                && (three == now
                    || !self.try_scenario(&format!("{what} {now} -> {three}"), |s| set(s, three))?)
            {
                break;
            }
        }
        Ok(())
    }

    /// Lowers a count: to `min`, else to half, else by one.
    fn shrink_count(
        &mut self,
        what: &str,
        get: impl Fn(&Scenario) -> u64,
        set: impl Fn(&mut Scenario, u64),
        min: u64,
    ) -> Result<()> {
        let now = get(&self.current.scenario);
        let mut tried = Vec::new();
        for v in [min, now / 2, now.saturating_sub(1)] {
            if v < min || v >= now || tried.contains(&v) {
                continue;
            }
            tried.push(v);
            if self.try_scenario(&format!("{what} {now} -> {v}"), |s| set(s, v))? {
                return Ok(());
            }
        }
        Ok(())
    }

    /// Fewer nodes: the smallest odd cluster first (Raft needs a majority to make progress).
    fn shrink_nodes(&mut self) -> Result<()> {
        if self.current.schedule.is_some() {
            // A schedule names the nodes it was recorded with.
            return Ok(());
        }
        let now = self.current.scenario.nodes;
        for n in [3, 4, 5, 6].into_iter().filter(|n| *n < now) {
            let checker = self.checker.clone();
            if self.try_scenario(&format!("nodes {now} -> {n}"), |s| set_nodes(s, n, &checker))? {
                return Ok(());
            }
        }
        Ok(())
    }

    /// ddmin over the `[[faults]]` entries: remove chunks while the failure stays.
    fn ddmin_faults(&mut self) -> Result<()> {
        let count = self.current.scenario.faults.len();
        let removed = self.ddmin(count, "[[faults]]", |search, keep| {
            let mut s = search.current.scenario.clone();
            s.faults = keep.iter().map(|i| s.faults[*i].clone()).collect();
            (s, search.current.schedule.clone())
        })?;
        if removed > 0 {
            self.cut_duration()?;
        }
        Ok(())
    }

    /// The ddmin loop over `count` items (Zeller's complement steps): removes chunks of items while
    /// the candidate `make(kept items)` builds still fails. Returns how many were removed.
    fn ddmin(
        &mut self,
        count: usize,
        what: &str,
        make: impl Fn(&Search, &[usize]) -> (Scenario, Option<Schedule>),
    ) -> Result<usize> {
        let mut items: Vec<usize> = (0..count).collect();
        let mut chunks = 2usize;
        // Chunks no finer than 1/64 of the list: single-item steps over thousands of messages
        // would spend the whole budget on one pass.
        let chunks_max = 64usize;
        while !items.is_empty() && self.can_try() {
            let size = items.len().div_ceil(chunks.min(items.len()));
            let mut removed_one = false;
            let mut start = 0;
            while start < items.len() {
                let end = (start + size).min(items.len());
                let keep: Vec<usize> = items[..start].iter().chain(&items[end..]).copied().collect();
                let (s, sched) = make(self, &keep);
                let label = format!("{what}: removed {} of {}", end - start, items.len());
                if self.try_candidate(&label, s, sched)? {
                    self.cut_duration()?;
                    // The candidate's items are now the whole list, renumbered from 0.
                    items = (0..keep.len()).collect();
                    chunks = (chunks - 1).max(2);
                    removed_one = true;
                    break;
                }
                start = end;
            }
            if !removed_one {
                if size <= 1 || chunks >= chunks_max {
                    break;
                }
                chunks = (chunks * 2).min(items.len()).min(chunks_max);
            }
        }
        Ok(count - items.len())
    }

    fn schedule_passes(&mut self) -> Result<()> {
        if !self.can_try() {
            return Ok(());
        }
        self.candidates += 1;
        let (schedule, _) = record(&self.current.scenario, self.current.schedule.as_ref())?;
        self.current.schedule = Some(schedule);
        // Faults: remove firings (a crash takes its restart with it).
        self.ddmin_entries("schedule faults", |e| e.is_fault(), |_| None)?;
        // Drops become deliveries (after the delay the message would have had).
        self.ddmin_entries(
            "schedule drops -> deliveries",
            |e| matches!(e, Entry::Send { fate, .. } if fate.dropped),
            |e| match e {
                Entry::Send { at, from, to, k, fate } => Some(Entry::Send {
                    at: *at,
                    from: *from,
                    to: *to,
                    k: *k,
                    fate: Fate { dropped: false, duplicate: None, ..*fate },
                }),
                _ => None,
            },
        )?;
        // Duplicates become single deliveries.
        self.ddmin_entries(
            "schedule duplicates removed",
            |e| matches!(e, Entry::Send { fate, .. } if !fate.dropped && fate.duplicate.is_some()),
            |e| match e {
                Entry::Send { at, from, to, k, fate } => Some(Entry::Send {
                    at: *at,
                    from: *from,
                    to: *to,
                    k: *k,
                    fate: Fate { duplicate: None, ..*fate },
                }),
                _ => None,
            },
        )?;
        // Fault firings earlier, so the violation comes sooner.
        for (num, den) in [(1u64, 2u64), (1, 2), (3, 4), (3, 4)] {
            let Some(schedule) = self.current.schedule.clone() else { break };
            if schedule.faults() == 0 {
                break;
            }
            let entries = (schedule.entries.iter())
                .map(|e| match e {
                    Entry::Fault { at, action } => {
                        Entry::Fault { at: SimTime(at.as_us() * num / den), action: action.clone() }
                    }
                    Entry::ChaosCrash { at, victim, down } => Entry::ChaosCrash {
                        at: SimTime(at.as_us() * num / den),
                        victim: *victim,
                        down: *down,
                    },
                    Entry::ChaosPartition { at, cut, lasts } => Entry::ChaosPartition {
                        at: SimTime(at.as_us() * num / den),
                        cut: cut.clone(),
                        lasts: *lasts,
                    },
                    send => send.clone(),
                })
                .collect();
            let mut edited = Schedule { entries };
            edited.sort();
            let scenario = self.current.scenario.clone();
            if self.try_candidate(&format!("schedule fault times x{num}/{den}"), scenario, Some(edited))? {
                self.cut_duration()?;
            }
        }
        // Messages that do not matter are lost instead (DEMi's removal of deliveries): fewer
        // deliveries, and fewer of the replies and retries they cause. Not for `progress`: a
        // liveness window presumes the network is calm by then, and losses would break that.
        let loss_allowed = self.checker != "progress";
        self.ddmin_entries(
            "schedule deliveries -> drops",
            |e| loss_allowed && matches!(e, Entry::Send { fate, .. } if !fate.dropped),
            |e| match e {
                Entry::Send { at, from, to, k, fate } => Some(Entry::Send {
                    at: *at,
                    from: *from,
                    to: *to,
                    k: *k,
                    fate: Fate { dropped: true, duplicate: None, ..*fate },
                }),
                _ => None,
            },
        )?;
        // Shorter faults: partitions heal, crashed nodes restart and pauses end sooner.
        for _ in 0..3 {
            let Some(schedule) = self.current.schedule.clone() else { break };
            if schedule.faults() == 0 {
                break;
            }
            let half = |d: SimDuration| SimDuration(d.as_us() / 2);
            let entries = (schedule.entries.iter())
                .map(|e| match e {
                    Entry::Fault { at, action } => {
                        let action = match action.clone() {
                            FaultAction::Crash { target, restart_after } => {
                                FaultAction::Crash { target, restart_after: restart_after.map(half) }
                            }
                            FaultAction::Partition { name, cut, heal_after } => {
                                FaultAction::Partition { name, cut, heal_after: heal_after.map(half) }
                            }
                            FaultAction::Pause { target, pause } => {
                                FaultAction::Pause { target, pause: half(pause) }
                            }
                            other => other,
                        };
                        Entry::Fault { at: *at, action }
                    }
                    Entry::ChaosCrash { at, victim, down } => {
                        Entry::ChaosCrash { at: *at, victim: *victim, down: half(*down) }
                    }
                    Entry::ChaosPartition { at, cut, lasts } => {
                        Entry::ChaosPartition { at: *at, cut: cut.clone(), lasts: half(*lasts) }
                    }
                    send => send.clone(),
                })
                .collect();
            let scenario = self.current.scenario.clone();
            if !self.try_candidate("schedule fault lengths x1/2", scenario, Some(Schedule { entries }))? {
                break;
            }
            self.cut_duration()?;
        }
        // Delays above the median become the median (fewer overtakings to explain).
        let median = self.median_delay();
        self.ddmin_entries(
            &format!("schedule delays shortened to {} µs", median.as_us()),
            |e| matches!(e, Entry::Send { fate, .. } if !fate.dropped && fate.delay > median),
            |e| match e {
                Entry::Send { at, from, to, k, fate } => Some(Entry::Send {
                    at: *at,
                    from: *from,
                    to: *to,
                    k: *k,
                    fate: Fate { delay: median, ..*fate },
                }),
                _ => None,
            },
        )?;
        Ok(())
    }

    fn median_delay(&self) -> SimDuration {
        let mut delays: Vec<SimDuration> = (self.current.schedule.iter().flat_map(|s| &s.entries))
            .filter_map(|e| match e {
                Entry::Send { fate, .. } if !fate.dropped => Some(fate.delay),
                _ => None,
            })
            .collect();
        delays.sort_unstable();
        delays.get(delays.len() / 2).copied().unwrap_or_default()
    }

    /// ddmin over the schedule entries `select` picks: each chunk is removed (`edit` gives `None`)
    /// or rewritten (`Some(entry)`), kept while the failure stays.
    fn ddmin_entries(
        &mut self,
        what: &str,
        select: impl Fn(&Entry) -> bool,
        edit: impl Fn(&Entry) -> Option<Entry>,
    ) -> Result<()> {
        let Some(schedule) = self.current.schedule.clone() else { return Ok(()) };
        // Only entries before the run's end matter.
        let end_us = self.current.scenario.duration_ms * 1_000;
        let picked: Vec<usize> = (schedule.entries.iter().enumerate())
            .filter(|(_, e)| e.at().as_us() <= end_us && select(e))
            .map(|(i, _)| i)
            .collect();
        if picked.is_empty() {
            return Ok(());
        }
        // ddmin's "kept" items are the entries left unedited; every other picked entry is edited.
        let base = schedule;
        let removed = self.ddmin(picked.len(), what, |search, keep| {
            // `keep` indexes the items still unedited in the *current* list; map through the
            // current schedule's own picked order, which shrinks as chunks are edited.
            let current = search.current.schedule.as_ref().unwrap_or(&base);
            let now_picked: Vec<usize> = (current.entries.iter().enumerate())
                .filter(|(_, e)| e.at().as_us() <= end_us && select(e))
                .map(|(i, _)| i)
                .collect();
            let mut edit_me = vec![false; current.entries.len()];
            for (j, i) in now_picked.iter().enumerate() {
                if !keep.contains(&j) {
                    edit_me[*i] = true;
                }
            }
            let entries = (current.entries.iter().enumerate())
                .filter_map(|(i, e)| if edit_me[i] { edit(e) } else { Some(e.clone()) })
                .collect();
            (search.current.scenario.clone(), Some(Schedule { entries }))
        })?;
        if removed > 0 {
            self.cut_duration()?;
        }
        Ok(())
    }
}

/// Halves the scenario's clocks: Raft's timers and lease margin, fault times and lengths, chaos
/// gaps and lengths, client think time, timeouts and resends. Latencies stay.
fn compress_time(s: &mut Scenario) {
    use crate::sim::faults::MsOrRange;
    let half = |r: &MsOrRange| match *r {
        MsOrRange::Fixed(ms) => MsOrRange::Fixed(ms / 2),
        MsOrRange::Range([lo, hi]) => MsOrRange::Range([lo / 2, hi / 2]),
    };
    let r = &mut s.raft;
    r.election_timeout_ms = [r.election_timeout_ms[0] / 2, r.election_timeout_ms[1] / 2];
    r.heartbeat_ms /= 2;
    r.lease_drift_margin_ms /= 2;
    for f in s.faults.iter_mut() {
        f.at_ms = half(&f.at_ms);
        for d in [&mut f.restart_after_ms, &mut f.heal_after_ms, &mut f.pause_ms].into_iter().flatten() {
            *d = half(d);
        }
    }
    let c = &mut s.chaos;
    let pair = |p: [u64; 2]| [(p[0] / 2).max(1), (p[1] / 2).max(1)];
    c.crash_every_ms = c.crash_every_ms.map(pair);
    c.partition_every_ms = c.partition_every_ms.map(pair);
    c.down_ms = [c.down_ms[0] / 2, c.down_ms[1] / 2];
    c.partition_ms = [c.partition_ms[0] / 2, c.partition_ms[1] / 2];
    c.stop_ms /= 2;
    let k = &mut s.clients;
    k.think_ms = [k.think_ms[0] / 2, k.think_ms[1] / 2];
    k.timeout_ms = (k.timeout_ms / 2).max(1);
    k.retry_ms /= 2;
    if let Some(l) = s.liveness.after_ms.as_mut() {
        *l /= 2;
        s.liveness.within_ms = (s.liveness.within_ms / 2).max(1);
    }
}

/// The scenario with its deliberate bug removed, if it has one.
fn control(s: &Scenario) -> Option<Scenario> {
    if s.raft.bug == crate::raft::Bug::None && s.eventual.bug == crate::eventual::Bug::None {
        return None;
    }
    let mut c = s.clone();
    c.raft.bug = crate::raft::Bug::None;
    c.eventual.bug = crate::eventual::Bug::None;
    Some(c)
}

/// Sets the duration and the fields that must stay within it.
fn set_duration(s: &mut Scenario, ms: u64, checker: &str) {
    s.duration_ms = ms;
    if s.liveness.after_ms.is_some_and(|a| a >= ms || a + s.liveness.within_ms > ms) && checker != "progress"
    {
        s.liveness.after_ms = None;
    }
    if s.chaos.stop_ms > ms {
        s.chaos.stop_ms = 0;
    }
    if s.clients.stop_ms.is_some_and(|t| t > ms) {
        s.clients.stop_ms = None;
    }
    if s.workload.stop_ms.is_some_and(|t| t > ms) {
        s.workload.stop_ms = None;
    }
}

/// Shrinks the cluster to `n` nodes: per-node settings and faults of removed nodes go too.
fn set_nodes(s: &mut Scenario, n: u32, _checker: &str) {
    s.nodes = n;
    s.node.retain(|name, _| crate::sim::NodeId::parse(name).is_some_and(|id| id.0 < n));
    let known = |name: &String| crate::sim::NodeId::parse(name).map_or(true, |id| id.0 < n);
    s.faults.retain(|f| f.node.as_ref().map_or(true, known));
    for f in s.faults.iter_mut() {
        for set in f.groups.iter_mut().flatten().chain(f.from.iter_mut()).chain(f.to.iter_mut()) {
            set.retain(known);
        }
        if let Some(groups) = f.groups.as_mut() {
            groups.retain(|g| !g.is_empty());
        }
    }
    s.chaos.max_down = s.chaos.max_down.min(n.saturating_sub(1) / 2).max(1);
    s.eventual.write_quorum = s.eventual.write_quorum.min(n);
    s.eventual.read_quorum = s.eventual.read_quorum.min(n);
    s.eventual.anti_entropy_fanout = s.eventual.anti_entropy_fanout.min(n.saturating_sub(1)).max(1);
}
