//! The figures of one Raft run, from its trace rows (the kernel rows and the Raft notes).
//!
//! | name | meaning |
//! |------|---------|
//! | `first_leader_us` | time of the first `role` row with value `leader`; Missing if none |
//! | `leader_elections` | number of `role` rows with value `leader` |
//! | `terms_max` | highest term of any `role` row (0 if none) |
//! | `commands_submitted` | client ops invoked (`invoke` rows; a resend is the same op) |
//! | `commands_committed` | distinct command ids (put value ids, get ids) that reached an `apply` anywhere |
//! | `commit_latency_mean_us` | mean latency, `invoke` row to first `apply` anywhere; Missing if none |
//! | `commit_latency_p50_us` | nearest-rank median of the same; Missing when none |
//! | `commit_latency_p99_us` | nearest-rank 99th percentile of the same; Missing when none |
//! | `unavailable_us` | simulated time with no serving leader (below), from 0 to the end of the run |
//! | `messages_sent` | `send` rows |
//! | `messages_delivered` | `deliver` rows |
//! | `messages_dropped` | `drop` rows (any reason) |
//! | `timeouts` | `timeout` rows (any timer) |
//! | `leader_losses` | crashes of a serving leader, and partitions that leave a serving leader without a majority (below) |
//! | `recovery_append_{mean,p50,max}_us` | per loss: time until a node first receives an `append_entries` of a later term than the lost leader's; Missing when none |
//! | `recovery_commit_{mean,p50,max}_us` | per loss: time until the first `commit` row of a later term; Missing when none |
//! | `recovery_unfinished` | losses with no such commit by the end of the run |
//!
//! A partition row costs its leader the majority when, judged on that row alone, fewer than
//! ⌊N/2⌋ + 1 nodes (itself included) can still exchange messages with it both ways: for groups
//! (`n0,n1|n2`), the leader's group (unlisted nodes form one group); for one-way (`n0>n1,n2`), the
//! nodes not on the other side. Overlapping partitions are not combined, and a pause of the leader
//! is not a loss. A loss recovers only through a *newer* term: if a partition heals before anyone
//! times out and the old leader carries on, the loss recovers at the next change of term, or stays
//! unfinished. At most `LOSSES_MAX` losses are followed.
//! | `ops_ok` / `ops_fail` / `ops_info` | client outcomes (`ok`, `fail`, `info` rows) |
//! | `client_latency_p50_us` / `_p99_us` | nearest-rank, `invoke` to its `ok` / `fail`; Missing if none |
//!
//! A command is known on an `apply` row by its id: a put's value id in the value column (`v17`), a
//! get's (cas's) id in `detail` as `get#<id>` (`cas#<id>`) (`docs/trace.md`; a Raft `read` row counts
//! like an `apply`). No-op entries are not commands.
//! A get applied without that detail cannot be matched to its client row and is not counted.
//!
//! A leader of term T *serves* from its `leader` role row until it crashes, changes role, or a
//! `leader` row of a higher term appears at any node (it has been replaced); a leader row whose
//! term is below a leader's already seen never serves. A candidate of a higher term does not end
//! it: cut off in a minority, such a candidate deposes nobody, and a leader that does hear it
//! steps down with a `role` row of its own. Time before the first leader
//! counts as unavailable.

use rustc_hash::FxHashMap;

use crate::metrics::counts::{Counts, IdSet};
use crate::metrics::{percentile, MetricValue, Metrics};
use crate::sim::NodeId;
use crate::trace::{Event, Record, Value};

/// Accumulates the figures row by row. Memory: one number per submitted but not yet applied
/// command, one range per run of consecutively applied command ids, one count per distinct
/// latency (µs; exact, see [`crate::metrics::counts`]), one slot per node.
#[derive(Clone, Debug)]
pub struct RaftMetrics {
    first_leader_us: Option<u64>,
    leader_elections: u64,
    terms_max: u64,
    commands_submitted: u64,
    /// Command id -> time of its `invoke` row, until its first `apply`.
    /// (Both maps are looked up by id only, never iterated.)
    submitted_at: FxHashMap<u64, u64>,
    /// Ids of commands applied somewhere.
    applied: IdSet,
    latencies_us: Counts,
    /// Per node: the term it serves as leader in, if it is a serving leader.
    serving: Vec<Option<u64>>,
    /// The highest term of any `leader` row so far.
    role_term_max: u64,
    /// When the current stretch without a serving leader began; `None` while one serves.
    unavailable_since: Option<u64>,
    /// Closed stretches without a serving leader.
    unavailable_us: u64,
    messages_sent: u64,
    messages_delivered: u64,
    messages_dropped: u64,
    timeouts: u64,
    /// Leader losses, in the order they happened.
    losses: Vec<Loss>,
    /// Index of the first loss whose append (commit) recovery is still open: losses resolve in
    /// order, since a later term satisfies every earlier loss with a lower or equal term.
    open_append: usize,
    open_commit: usize,
    /// Op id -> invoke time, until its outcome (looked up only).
    invoked_at: FxHashMap<u64, u64>,
    outcomes: [u64; 3],
    client_latencies_us: Counts,
}

/// One lost leader: when, its term, and when the cluster recovered.
#[derive(Clone, Debug)]
struct Loss {
    at_us: u64,
    term: u64,
    append_us: Option<u64>,
    commit_us: Option<u64>,
}

/// At most this many leader losses are followed per run (memory bound).
pub const LOSSES_MAX: usize = 100_000;

impl RaftMetrics {
    /// The figure names, in the order `finish` returns them.
    pub const NAMES: [&'static str; 26] = [
        "first_leader_us",
        "leader_elections",
        "terms_max",
        "commands_submitted",
        "commands_committed",
        "commit_latency_mean_us",
        "commit_latency_p50_us",
        "commit_latency_p99_us",
        "unavailable_us",
        "messages_sent",
        "messages_delivered",
        "messages_dropped",
        "timeouts",
        "leader_losses",
        "recovery_append_mean_us",
        "recovery_append_p50_us",
        "recovery_append_max_us",
        "recovery_commit_mean_us",
        "recovery_commit_p50_us",
        "recovery_commit_max_us",
        "recovery_unfinished",
        "ops_ok",
        "ops_fail",
        "ops_info",
        "client_latency_p50_us",
        "client_latency_p99_us",
    ];

    /// For a cluster of `nodes` nodes; rows of other node ids do not affect availability.
    pub fn new(nodes: u32) -> RaftMetrics {
        RaftMetrics {
            first_leader_us: None,
            leader_elections: 0,
            terms_max: 0,
            commands_submitted: 0,
            submitted_at: FxHashMap::default(),
            applied: IdSet::default(),
            latencies_us: Counts::default(),
            serving: vec![None; nodes as usize],
            role_term_max: 0,
            unavailable_since: Some(0),
            unavailable_us: 0,
            messages_sent: 0,
            messages_delivered: 0,
            messages_dropped: 0,
            timeouts: 0,
            losses: Vec::new(),
            open_append: 0,
            open_commit: 0,
            invoked_at: FxHashMap::default(),
            outcomes: [0; 3],
            client_latencies_us: Counts::default(),
        }
    }

    /// A serving leader of `term` was lost at `at_us`.
    fn lose(&mut self, at_us: u64, term: u64) {
        if self.losses.len() < LOSSES_MAX {
            self.losses.push(Loss { at_us, term, append_us: None, commit_us: None });
        }
    }

    /// A partition row: does it leave a serving leader without a majority?
    #[inline(never)] // out of `observe`, which most rows (send, deliver) leave at a counter
    fn observe_partition(&mut self, row: &Record) {
        let n = self.serving.len();
        let majority = n / 2 + 1;
        let parse = |text: &str| -> Vec<usize> {
            text.split(',').filter_map(|t| NodeId::parse(t.trim())).map(NodeId::index).collect()
        };
        let lost: Vec<u64> = (0..n)
            .filter_map(|leader| self.serving[leader].map(|term| (leader, term)))
            .filter(|(leader, _)| {
                let reach = match row.detail.split_once('>') {
                    Some((from, to)) => {
                        let (from, to) = (parse(from), parse(to));
                        if from.contains(leader) {
                            n - to.len()
                        } else if to.contains(leader) {
                            n - from.len()
                        } else {
                            n
                        }
                    }
                    None => {
                        let groups: Vec<Vec<usize>> = row.detail.split('|').map(parse).collect();
                        let listed: usize = groups.iter().map(Vec::len).sum();
                        groups.into_iter().find(|g| g.contains(leader)).map_or(n - listed, |g| g.len())
                    }
                };
                reach < majority
            })
            .map(|(_, term)| term)
            .collect();
        for term in lost {
            self.lose(row.time_us, term);
        }
    }

    /// A later-term `append_entries` delivered, or a later-term `commit`: close the open losses.
    #[inline(never)] // out of `observe`, which most rows (send, deliver) leave at a counter
    fn recover(&mut self, row: &Record, commit: bool) {
        let Some(term) = row.term else { return };
        let open = if commit { &mut self.open_commit } else { &mut self.open_append };
        while let Some(loss) = self.losses.get_mut(*open) {
            if loss.term >= term {
                break;
            }
            let took = row.time_us.saturating_sub(loss.at_us);
            if commit {
                loss.commit_us = Some(took);
            } else {
                loss.append_us = Some(took);
            }
            *open += 1;
        }
    }

    /// Mean, p50 and max of one recovery time over the losses that recovered.
    fn recovery_figures(&self, pick: fn(&Loss) -> Option<u64>) -> [MetricValue; 3] {
        let mut sorted: Vec<u64> = self.losses.iter().filter_map(pick).collect();
        sorted.sort_unstable();
        let int = |v: Option<u64>| v.map_or(MetricValue::Missing, MetricValue::Int);
        let mean = mean_of(&sorted);
        [mean, int(percentile(&sorted, 50.0)), int(sorted.last().copied())]
    }

    #[inline(never)] // out of `observe`, which most rows (send, deliver) leave at a counter
    fn observe_invoke(&mut self, row: &Record) {
        let Some(id) = row.index else { return };
        self.commands_submitted += 1;
        self.invoked_at.insert(id, row.time_us);
        if !self.applied.contains(id) {
            self.submitted_at.entry(id).or_insert(row.time_us);
        }
    }

    #[inline(never)] // out of `observe`, which most rows (send, deliver) leave at a counter
    fn observe_outcome(&mut self, row: &Record) {
        let slot = match row.event {
            Event::Ok => 0,
            Event::Fail => 1,
            _ => 2,
        };
        self.outcomes[slot] += 1;
        let at = row.index.and_then(|id| self.invoked_at.remove(&id));
        if let (Some(at), true) = (at, slot < 2) {
            self.client_latencies_us.push(row.time_us.saturating_sub(at));
        }
    }

    /// An `apply` row, or a Raft `read` row (a read command applied, see `docs/trace.md`).
    #[inline(never)] // out of `observe`, which most rows (send, deliver) leave at a counter
    fn observe_apply(&mut self, row: &Record) {
        let Some(id) = command_id(row) else { return };
        if !self.applied.insert(id) {
            return;
        }
        if let Some(at) = self.submitted_at.remove(&id) {
            self.latencies_us.push(row.time_us.saturating_sub(at));
        }
    }

    #[inline(never)] // out of `observe`, which most rows (send, deliver) leave at a counter
    fn observe_role(&mut self, row: &Record) {
        let Some(term) = row.term else { return };
        self.terms_max = self.terms_max.max(term);
        let leader = matches!(&row.value, Value::Text(t) if t == "leader");
        if leader {
            self.leader_elections += 1;
            self.first_leader_us.get_or_insert(row.time_us);
        }
        if leader && term > self.role_term_max {
            self.role_term_max = term;
            for slot in &mut self.serving {
                *slot = None;
            }
        }
        if let Some(slot) = row.node.and_then(|n| self.serving.get_mut(n.index())) {
            *slot = (leader && term >= self.role_term_max).then_some(term);
        }
        self.update_availability(row.time_us);
    }

    #[inline(never)] // out of `observe`, which most rows (send, deliver) leave at a counter
    fn observe_crash(&mut self, row: &Record) {
        if let Some(slot) = row.node.and_then(|n| self.serving.get_mut(n.index())) {
            if let Some(term) = slot.take() {
                self.lose(row.time_us, term);
            }
        }
        self.update_availability(row.time_us);
    }

    /// Opens or closes a stretch without a serving leader at `now_us`.
    fn update_availability(&mut self, now_us: u64) {
        let served = self.serving.iter().any(Option::is_some);
        match (served, self.unavailable_since) {
            (true, Some(since)) => {
                self.unavailable_us += now_us.saturating_sub(since);
                self.unavailable_since = None;
            }
            (false, None) => self.unavailable_since = Some(now_us),
            _ => {}
        }
    }

    fn latency_figures(&self) -> [MetricValue; 3] {
        let l = &self.latencies_us;
        let int = |v: Option<u64>| v.map_or(MetricValue::Missing, MetricValue::Int);
        [l.mean(), int(l.percentile(50.0)), int(l.percentile(99.0))]
    }
}

/// The mean of `values`, Missing when there are none.
fn mean_of(values: &[u64]) -> MetricValue {
    if values.is_empty() {
        return MetricValue::Missing;
    }
    // An integer sum is exact and order-independent; one division at the end.
    let sum: u128 = values.iter().map(|&v| u128::from(v)).sum();
    MetricValue::Float(sum as f64 / values.len() as f64)
}

impl Metrics for RaftMetrics {
    fn observe(&mut self, row: &Record) {
        match row.event {
            Event::Send => self.messages_sent += 1,
            Event::Deliver => {
                self.messages_delivered += 1;
                if row.msg == "append_entries" {
                    self.recover(row, false);
                }
            }
            Event::Commit => self.recover(row, true),
            Event::Partition => self.observe_partition(row),
            Event::Drop => self.messages_dropped += 1,
            Event::Timeout => self.timeouts += 1,
            Event::Invoke => self.observe_invoke(row),
            Event::Ok | Event::Fail | Event::Info => self.observe_outcome(row),
            Event::Apply | Event::Read => self.observe_apply(row),
            Event::Role => self.observe_role(row),
            Event::Crash => self.observe_crash(row),
            _ => {}
        }
    }

    fn finish(&mut self, end_us: u64) -> Vec<(&'static str, MetricValue)> {
        let open = self.unavailable_since.map_or(0, |since| end_us.saturating_sub(since));
        let [mean, p50, p99] = self.latency_figures();
        let [append_mean, append_p50, append_max] = self.recovery_figures(|l| l.append_us);
        let [commit_mean, commit_p50, commit_max] = self.recovery_figures(|l| l.commit_us);
        let unfinished = self.losses.iter().filter(|l| l.commit_us.is_none()).count() as u64;
        let client = [50.0, 99.0]
            .map(|p| self.client_latencies_us.percentile(p).map_or(MetricValue::Missing, MetricValue::Int));
        let values = [
            self.first_leader_us.map_or(MetricValue::Missing, MetricValue::Int),
            MetricValue::Int(self.leader_elections),
            MetricValue::Int(self.terms_max),
            MetricValue::Int(self.commands_submitted),
            MetricValue::Int(self.applied.len()),
            mean,
            p50,
            p99,
            MetricValue::Int(self.unavailable_us + open),
            MetricValue::Int(self.messages_sent),
            MetricValue::Int(self.messages_delivered),
            MetricValue::Int(self.messages_dropped),
            MetricValue::Int(self.timeouts),
            MetricValue::Int(self.losses.len() as u64),
            append_mean,
            append_p50,
            append_max,
            commit_mean,
            commit_p50,
            commit_max,
            MetricValue::Int(unfinished),
            MetricValue::Int(self.outcomes[0]),
            MetricValue::Int(self.outcomes[1]),
            MetricValue::Int(self.outcomes[2]),
            client[0],
            client[1],
        ];
        Self::NAMES.into_iter().zip(values).collect()
    }
}

/// The command an `apply` / `read` row applies: a read's id from `detail` `get#<id>` (its value
/// column, if any, is the value read), otherwise the written value id.
fn command_id(row: &Record) -> Option<u64> {
    if row.event == Event::Read || row.msg == "get" || row.msg == "cas" {
        let first = row.detail.split(' ').next()?;
        return first.strip_prefix("get#").or_else(|| first.strip_prefix("cas#"))?.parse().ok();
    }
    if row.msg == "noop" {
        return None;
    }
    match row.value {
        Value::Id(id) => Some(id),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use super::*;
    use crate::check::testkit::{apply, apply_get, crash, restart, role, timed};
    use crate::sim::NodeId;

    fn figures(nodes: u32, rows: Vec<(u64, Record)>, end_us: u64) -> BTreeMap<&'static str, MetricValue> {
        let mut m = RaftMetrics::new(nodes);
        for row in timed(rows) {
            m.observe(&row);
        }
        let out = m.finish(end_us);
        let names: Vec<&str> = out.iter().map(|(n, _)| *n).collect();
        assert_eq!(names, RaftMetrics::NAMES);
        out.into_iter().collect()
    }

    fn put(node: u32, value: u64) -> Record {
        Record::new(Event::Invoke)
            .node(NodeId(node))
            .msg("write")
            .key(value % 3)
            .index(value)
            .value(Value::Id(value))
    }

    fn get(node: u32, id: u64) -> Record {
        Record::new(Event::Invoke).node(NodeId(node)).msg("read").key(0).index(id)
    }

    fn kernel(event: Event) -> Record {
        Record::new(event).node(NodeId(0)).peer(NodeId(1)).msg("append_entries")
    }

    #[test]
    fn a_run_without_a_leader_is_all_unavailable_and_missing() {
        let f = figures(3, vec![(0, role(0, 0, "follower")), (500, role(0, 1, "candidate"))], 1_000);
        assert_eq!(f["first_leader_us"], MetricValue::Missing);
        assert_eq!(f["leader_elections"], MetricValue::Int(0));
        assert_eq!(f["terms_max"], MetricValue::Int(1));
        assert_eq!(f["commit_latency_mean_us"], MetricValue::Missing);
        assert_eq!(f["commit_latency_p50_us"], MetricValue::Missing);
        assert_eq!(f["commit_latency_p99_us"], MetricValue::Missing);
        assert_eq!(f["unavailable_us"], MetricValue::Int(1_000));
        assert_eq!(f["commands_committed"], MetricValue::Int(0));
    }

    #[test]
    fn counts_kernel_rows() {
        let rows = vec![
            (1, kernel(Event::Send)),
            (2, kernel(Event::Send)),
            (3, kernel(Event::Deliver)),
            (4, kernel(Event::Drop)),
            (5, kernel(Event::Duplicate)),
            (6, Record::new(Event::Timeout).node(NodeId(2)).msg("election")),
        ];
        let f = figures(3, rows, 10);
        assert_eq!(f["messages_sent"], MetricValue::Int(2));
        assert_eq!(f["messages_delivered"], MetricValue::Int(1));
        assert_eq!(f["messages_dropped"], MetricValue::Int(1));
        assert_eq!(f["timeouts"], MetricValue::Int(1));
    }

    /// Latency runs from the client row to the first apply anywhere; re-applies do not count, a
    /// get is known by its `get#<id>` detail (not by the value it read), and a get applied
    /// without that detail cannot be matched.
    #[test]
    fn commit_latencies() {
        let rows = vec![
            (100, put(0, 1)),
            (200, put(1, 2)),
            (250, get(2, 3)),
            (300, get(2, 4)),
            (350, put(1, 5)),
            (400, apply(0, 1, 1, 1)),
            (500, apply(1, 1, 1, 1)),
            (1_200, apply(1, 1, 2, 2)),
            (1_300, apply_get(1, 1, 3, 0)),
            (1_400, apply_get(0, 1, 4, 0).detail("get#4")),
            // A read row: `v5` is the value read, not a command applied; the command is get 3.
            (1_500, Record::new(Event::Read).node(NodeId(1)).index(3).value(Value::Id(5)).detail("get#3")),
            (1_600, Record::new(Event::Read).node(NodeId(0)).index(4).value(Value::Id(2)).detail("get#4")),
        ];
        let f = figures(3, rows, 2_000);
        assert_eq!(f["commands_submitted"], MetricValue::Int(5));
        assert_eq!(f["commands_committed"], MetricValue::Int(4));
        // Latencies 300 (v1), 1000 (v2), 1100 (get 4), 1250 (get 3).
        assert_eq!(f["commit_latency_mean_us"], MetricValue::Float(912.5));
        assert_eq!(f["commit_latency_p50_us"], MetricValue::Int(1_000));
        assert_eq!(f["commit_latency_p99_us"], MetricValue::Int(1_250));
    }

    #[test]
    fn a_single_command_is_every_percentile() {
        let f = figures(1, vec![(10, put(0, 1)), (35, apply(0, 1, 1, 1))], 100);
        assert_eq!(f["commit_latency_mean_us"], MetricValue::Float(25.0));
        assert_eq!(f["commit_latency_p50_us"], MetricValue::Int(25));
        assert_eq!(f["commit_latency_p99_us"], MetricValue::Int(25));
    }

    /// Unavailable: [0, 1000) before the first leader, [3000, 3500) after its crash until n1
    /// leads, [6000, 7000) from n2's higher-term candidacy (which deposes n1) until n2 leads, and
    /// [8000, 10000) after n2 steps down.
    #[test]
    fn unavailability_follows_serving_leaders() {
        let rows = vec![
            (0, role(0, 0, "follower")),
            (1_000, role(0, 1, "leader")),
            (3_000, crash(0)),
            (3_200, role(1, 2, "candidate")),
            (3_500, role(1, 2, "leader")),
            (4_000, restart(0)),
            (4_000, role(0, 1, "follower")),
            // A candidate of a higher term does not end n1's service (cut off in a minority it
            // deposes nobody); the leader of term 3 does.
            (6_000, role(2, 3, "candidate")),
            (7_000, role(2, 3, "leader")),
            // A stale leader of term 2 elected after term 3's leader appeared does not serve.
            (7_500, role(0, 2, "leader")),
            (8_000, role(2, 4, "follower")),
        ];
        let f = figures(3, rows, 10_000);
        assert_eq!(f["first_leader_us"], MetricValue::Int(1_000));
        assert_eq!(f["leader_elections"], MetricValue::Int(4));
        assert_eq!(f["terms_max"], MetricValue::Int(4));
        assert_eq!(f["unavailable_us"], MetricValue::Int(1_000 + 500 + 2_000));
    }

    #[test]
    fn two_leaders_in_one_term_both_serve() {
        let rows = vec![
            (100, role(0, 1, "leader")),
            (200, role(1, 1, "leader")),
            (300, crash(0)),
            (400, role(1, 1, "follower")),
        ];
        let f = figures(2, rows, 1_000);
        assert_eq!(f["unavailable_us"], MetricValue::Int(100 + 600));
    }

    fn append(at_node: u32, from: u32, term: u64) -> Record {
        Record::new(Event::Deliver).node(NodeId(at_node)).peer(NodeId(from)).msg("append_entries").term(term)
    }

    fn commit(node: u32, term: u64) -> Record {
        Record::new(Event::Commit).node(NodeId(node)).term(term).index(1)
    }

    fn partition(detail: &'static str) -> Record {
        Record::new(Event::Partition).detail(detail)
    }

    /// Crash of leader n0 (term 1) at 1000: n1's term-2 append arrives at 1300, its commit at 1500.
    /// A term-1 append or commit after the crash is no recovery. A follower crash is no loss.
    /// Then a partition isolating leader n1 (term 2) in a minority at 3000, recovered by term 3; a
    /// partition cutting off only a follower is no loss; a one-way cut of the leader's sends is.
    #[test]
    fn leader_recovery_after_crashes_and_partitions() {
        let rows = vec![
            (100, role(0, 1, "leader")),
            (500, crash(2)),
            (1_000, crash(0)),
            (1_100, append(2, 0, 1)),
            (1_150, commit(2, 1)),
            (1_200, role(1, 2, "leader")),
            (1_300, append(2, 1, 2)),
            (1_400, append(3, 1, 2)),
            (1_500, commit(1, 2)),
            (2_000, partition("n4|n0,n1,n2,n3")),
            (3_000, partition("n0,n1|n2,n3,n4")),
            (3_400, role(3, 3, "leader")),
            (3_450, append(4, 3, 3)),
            (3_900, commit(3, 3)),
            (5_000, partition("n3>n0,n1,n2")),
            (5_100, role(4, 4, "leader")),
            (5_200, append(0, 4, 4)),
        ];
        let f = figures(5, rows, 10_000);
        assert_eq!(f["leader_losses"], MetricValue::Int(3));
        // Appends: 300, 450, 200. Commits: 500, 900; the third never commits.
        assert_eq!(f["recovery_append_mean_us"], MetricValue::Float(950.0 / 3.0));
        assert_eq!(f["recovery_append_p50_us"], MetricValue::Int(300));
        assert_eq!(f["recovery_append_max_us"], MetricValue::Int(450));
        assert_eq!(f["recovery_commit_mean_us"], MetricValue::Float(700.0));
        assert_eq!(f["recovery_commit_p50_us"], MetricValue::Int(500));
        assert_eq!(f["recovery_commit_max_us"], MetricValue::Int(900));
        assert_eq!(f["recovery_unfinished"], MetricValue::Int(1));
    }

    #[test]
    fn no_loss_no_recovery_figures() {
        let f = figures(3, vec![(100, role(0, 1, "leader")), (200, crash(1))], 1_000);
        assert_eq!(f["leader_losses"], MetricValue::Int(0));
        assert_eq!(f["recovery_append_p50_us"], MetricValue::Missing);
        assert_eq!(f["recovery_commit_max_us"], MetricValue::Missing);
        assert_eq!(f["recovery_unfinished"], MetricValue::Int(0));
    }
}
