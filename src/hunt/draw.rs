//! Swarm testing (Groce et al., ISSTA 2012): each hunt seed draws its own scenario from a base.
//!
//! [`draw_scenario`] is a pure function of (base, seed). It uses its own ChaCha stream, keyed
//! differently from the run's streams (src/sim/rng.rs), so the drawn scenario then runs with that
//! same seed and `(base, seed)` names the run forever. Every fault kind is switched on or off
//! independently per seed (a feature left out cannot mask a bug that another feature would hide),
//! and the rates of the features that are on are drawn within the bounds below, which keep correct
//! Raft live: partitions always heal, at most a minority is down, latency stays well under the
//! election timeout, and every fault is over by `FAULTS_END_PERCENT` of the run so the liveness
//! checker can demand a commit afterwards. Fields not drawn (`raft.bug`, `duration_ms` outside the
//! scripted families of `draw_shapes`, `[check]`, `[clocks]`, …) keep the base's values, which is how `--set raft.bug=…` reaches every draw.
//!
//! A `--set` of a drawn field *pins* it: the draw runs as usual, then the `--set`s are applied
//! again on top. A pinned field still consumes its draw, so a pin that no later range depends on
//! (`raft.read_mode`, loss, …) leaves every other field as the unpinned seed drew it; pinning
//! `nodes` or the election timeout changes the ranges drawn after them, and so those draws. `nodes` and
//! `raft.election_timeout_ms` are pinned before what depends on them is drawn (node names in
//! faults, the heartbeat and client timing), so pinning them gives a consistent scenario.

use std::collections::BTreeMap;

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

use crate::error::{Error, Result};
use crate::raft::config::ReadMode;
use crate::scenario::{ProtocolKind, Scenario};
use crate::sim::faults::{ChaosConfig, FaultKind, FaultSpec, MsOrRange};
use crate::sim::network::Latency;
use crate::sim::node_config::NodeConfig;

/// The ChaCha stream id of the draw ("hunt" in ASCII): never one of the run's purposes.
const DRAW_STREAM: u64 = 0x6875_6e74;
/// The stream of the deployed-Raft switches (Pre-Vote, CheckQuorum, transfers), drawn apart so
/// that adding them shifted none of the draws above.
const DEPLOYED_STREAM: u64 = DRAW_STREAM + 1;
/// The stream of log compaction (issue 15), after the deployed switches' so none of theirs moved.
const SNAPSHOT_STREAM: u64 = DEPLOYED_STREAM + 1;
/// The stream of the membership changes (issue 15), drawn apart so no other draw moved.
/// (`DEPLOYED_STREAM + 1` is another draw's.)
const MEMBERSHIP_STREAM: u64 = DEPLOYED_STREAM + 2;
/// The stream of the mutation-suite shapes (Raft): a duplicate storm, and one of three scripted
/// families (Figure 8, a lease overlap, a transfer under lease reads). +1 and +2 are taken by
/// snapshots and membership.
const SHAPE_STREAM: u64 = DEPLOYED_STREAM + 3;
/// The stream of the eventual KV's calm seeds (no fault at all, so strict quorums are judged).
const CALM_STREAM: u64 = DEPLOYED_STREAM + 4;
/// Mixed into the seed before keying, so the draw's key differs from the run's.
const DRAW_KEY_SALT: u64 = 0x5357_4152_4d5f_4b45;
/// Faults start after this (ms), once a first leader has usually been elected.
const FAULTS_START_MS: u64 = 300;
/// Every fault starts and ends by this percentage of `duration_ms`; liveness is checked after it.
pub const FAULTS_END_PERCENT: u64 = 60;

/// Which features one draw turned on (for tests and the docs' table).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Features {
    pub loss: bool,
    pub duplication: bool,
    pub heavy_tail: bool,
    pub partitions: bool,
    pub one_way: bool,
    pub crashes: bool,
    pub leader_crashes: bool,
    pub slow_nodes: bool,
    pub pauses: bool,
    /// Back-to-back partitions, each cutting off a different minority (Figure 8's schedule of
    /// leaders coming and going).
    pub rolling: bool,
    pub pre_vote: bool,
    pub check_quorum: bool,
    pub transfers: bool,
    pub pipelined: bool,
    pub fast_backtrack: bool,
    /// Duplicates 0.2–0.4 with one entry per AppendEntries (sims/raft_hunt.toml's replication).
    pub storm: bool,
    /// Figure 8's family: no §8 no-op, a trickle of open-loop writes, minorities cut in turn.
    pub figure8: bool,
    /// A lease overlap: a follower cut off alone rejoins the majority as the old leader is cut off.
    pub lease_overlap: bool,
    /// A transfer under lease reads away from a leader that hears nothing back.
    pub lease_transfer: bool,
    /// Eventual KV: no fault, loss or duplication at all.
    pub calm: bool,
    /// Log compaction with InstallSnapshot (only when the base scenario turns it on).
    pub snapshots: bool,
    /// Membership changes (thesis ch. 4): a node outside at the start and added, servers removed
    /// and added back.
    pub membership: bool,
}

/// The scenario that hunt seed `seed` runs: `base` with the drawn fields replaced, `seed` set,
/// and the `--set`s in `sets` (already applied to `base`) applied again so they pin drawn fields.
/// Fails only when a pin contradicts the rest of the draw (e.g. a heartbeat above the drawn
/// election timeout), naming the seed and the `--set`.
pub fn draw_scenario(base: &Scenario, sets: &[String], seed: u64) -> Result<Scenario> {
    let drawn = draw(base, sets, seed).0;
    if sets.is_empty() {
        return Ok(drawn);
    }
    let here = format!("hunt seed {seed}");
    Scenario::from_str(&here, &drawn.to_toml(), sets).map_err(|e| match e {
        Error::Invalid { origin, field, value, allowed } => Error::Invalid {
            origin: if origin == here { origin } else { format!("{here}: {origin}") },
            field,
            value,
            allowed: format!("{allowed}; the seed drew a value the --set contradicts: pin both or neither"),
        },
        other => other,
    })
}

/// Whether a `--set` in `sets` names `key` (the pinned fields of the draw).
fn pinned(sets: &[String], key: &str) -> bool {
    sets.iter().any(|set| set.split_once('=').is_some_and(|(k, _)| k.trim() == key))
}

/// The drawn scenario before the pins are re-applied, and the features it turned on.
pub fn draw(base: &Scenario, sets: &[String], seed: u64) -> (Scenario, Features) {
    let mut rng = ChaCha8Rng::seed_from_u64(seed ^ DRAW_KEY_SALT);
    rng.set_stream(DRAW_STREAM);
    let mut s = base.clone();
    s.seed = seed;
    if !base.name.is_empty() {
        s.name = format!("{}-hunt", base.name);
    }
    let mut f = Features::default();
    let on = |rng: &mut ChaCha8Rng| rng.gen_bool(0.5);
    // Cluster size and Raft timing (the timing rule: heartbeat below the election minimum).
    // Pinned fields still consume their draws, so no other field's draw moves.
    let nodes = [3, 5, 7][rng.gen_range(0..3)];
    s.nodes = if pinned(sets, "nodes") { base.nodes } else { nodes };
    let minority = (s.nodes - 1) / 2;
    let election_min_ms = rng.gen_range(100..=300u64);
    let election_max_ms = election_min_ms + rng.gen_range(election_min_ms / 2..=election_min_ms * 2);
    let [election_min_ms, election_max_ms] = if pinned(sets, "raft.election_timeout_ms") {
        base.raft.election_timeout_ms
    } else {
        [election_min_ms, election_max_ms]
    };
    s.raft.election_timeout_ms = [election_min_ms, election_max_ms];
    s.raft.heartbeat_ms = rng.gen_range(election_min_ms / 10..=election_min_ms / 3);
    s.raft.max_entries_per_append = [2, 8, 64][rng.gen_range(0..3)];
    s.raft.persist_delay_us = if on(&mut rng) { rng.gen_range(100..=3_000) } else { 0 };
    s.raft.read_mode = [ReadMode::Log, ReadMode::ReadIndex, ReadMode::Lease][rng.gen_range(0..3)];
    s.raft.lease_drift_margin_ms = s.raft.lease_drift_margin_ms.min(election_min_ms / 5);
    // The network.
    f.loss = on(&mut rng);
    s.network.drop_probability = if f.loss { rng.gen_range(0.005..=0.1) } else { 0.0 };
    f.duplication = on(&mut rng);
    s.network.duplicate_probability = if f.duplication { rng.gen_range(0.005..=0.1) } else { 0.0 };
    f.heavy_tail = on(&mut rng);
    let min_us = rng.gen_range(200..=1_000u64);
    s.network.latency = if f.heavy_tail {
        if on(&mut rng) {
            Latency::LogNormal {
                min_us,
                median_us: rng.gen_range(500..=3_000),
                sigma: rng.gen_range(0.3..=1.2),
            }
        } else {
            Latency::Exponential { min_us, mean_us: rng.gen_range(500..=5_000) }
        }
    } else {
        Latency::Uniform { min_us, max_us: min_us + rng.gen_range(0..=5_000) }
    };
    // Slow nodes: extra latency in and out of up to a minority of nodes.
    f.slow_nodes = on(&mut rng);
    s.node = BTreeMap::new();
    if f.slow_nodes {
        for _ in 0..rng.gen_range(1..=minority) {
            let node = rng.gen_range(0..s.nodes);
            let extra_us = rng.gen_range(1_000..=(election_min_ms * 1_000 / 10));
            s.node.insert(
                format!("n{node}"),
                NodeConfig { latency_in_us: extra_us, latency_out_us: extra_us, ..NodeConfig::default() },
            );
        }
    }
    // Faults, all within [FAULTS_START_MS, end]; liveness is required after `end`.
    let end_ms = (base.duration_ms * FAULTS_END_PERCENT / 100).max(FAULTS_START_MS + 1);
    let at = |rng: &mut ChaCha8Rng, hold_ms: u64| {
        let latest = end_ms.saturating_sub(hold_ms).max(FAULTS_START_MS);
        let ms = rng.gen_range(FAULTS_START_MS..=latest);
        MsOrRange::Fixed(ms)
    };
    let mut faults = Vec::new();
    f.partitions = on(&mut rng);
    if f.partitions {
        for _ in 0..rng.gen_range(1..=3) {
            let heal_ms = rng.gen_range(100..=1_000);
            let mut groups = vec![Vec::new(), Vec::new()];
            for n in 0..s.nodes {
                groups[rng.gen_range(0..2)].push(format!("n{n}"));
            }
            groups.retain(|g| !g.is_empty());
            faults.push(FaultSpec {
                at_ms: at(&mut rng, heal_ms),
                groups: Some(groups),
                heal_after_ms: Some(MsOrRange::Fixed(heal_ms)),
                ..fault(FaultKind::Partition)
            });
        }
    }
    f.one_way = on(&mut rng);
    if f.one_way {
        for _ in 0..rng.gen_range(1..=3) {
            let heal_ms = rng.gen_range(100..=1_000);
            let from = rng.gen_range(0..s.nodes);
            let to: Vec<String> =
                (0..s.nodes).filter(|&n| n != from && on(&mut rng)).map(|n| format!("n{n}")).collect();
            let to = if to.is_empty() { vec![format!("n{}", (from + 1) % s.nodes)] } else { to };
            faults.push(FaultSpec {
                at_ms: at(&mut rng, heal_ms),
                from: Some(vec![format!("n{from}")]),
                to: Some(to),
                heal_after_ms: Some(MsOrRange::Fixed(heal_ms)),
                ..fault(FaultKind::Partition)
            });
        }
    }
    f.leader_crashes = on(&mut rng);
    if f.leader_crashes {
        for _ in 0..rng.gen_range(1..=3) {
            let down_ms = rng.gen_range(50..=1_000);
            faults.push(FaultSpec {
                at_ms: at(&mut rng, down_ms),
                node: Some("leader".into()),
                restart_after_ms: Some(MsOrRange::Fixed(down_ms)),
                ..fault(FaultKind::Crash)
            });
        }
    }
    f.pauses = on(&mut rng);
    if f.pauses {
        for _ in 0..rng.gen_range(1..=3) {
            let pause_ms = rng.gen_range(election_min_ms / 2..=election_min_ms * 3);
            faults.push(FaultSpec {
                at_ms: at(&mut rng, pause_ms),
                node: Some(format!("n{}", rng.gen_range(0..s.nodes))),
                pause_ms: Some(MsOrRange::Fixed(pause_ms)),
                ..fault(FaultKind::Pause)
            });
        }
    }
    faults.sort_by_key(|f| match f.at_ms {
        MsOrRange::Fixed(ms) | MsOrRange::Range([ms, _]) => ms,
    });
    s.faults = faults;
    // Random crashes and restarts (VOPR-style), a minority at most, some aimed at the leader.
    f.crashes = on(&mut rng);
    s.chaos = ChaosConfig::default();
    if f.crashes {
        let gap_ms = rng.gen_range(100..=800);
        s.chaos.crash_every_ms = Some([gap_ms, gap_ms * 3]);
        let down_ms = rng.gen_range(50..=400);
        s.chaos.down_ms = [down_ms, down_ms * 3];
        s.chaos.max_down = rng.gen_range(1..=minority);
        s.chaos.leader_bias_percent = if on(&mut rng) { rng.gen_range(20..=100) } else { 0 };
        s.chaos.stop_ms = end_ms.saturating_sub(down_ms * 3).max(FAULTS_START_MS);
    }
    // The workload: closed-loop clients (Jepsen's processes).
    s.clients.count = rng.gen_range(1..=6);
    s.clients.keys = rng.gen_range(1..=5);
    s.clients.read_fraction = rng.gen_range(0.0..=0.6);
    s.clients.cas_fraction = rng.gen_range(0.0..=(1.0 - s.clients.read_fraction).min(0.4));
    let think_ms = [0, rng.gen_range(1..=20), rng.gen_range(20..=200)][rng.gen_range(0..3)];
    s.clients.think_ms = [0, think_ms];
    // Long enough to outlast an election, so that few ops end `info` (each one multiplies the
    // linearizability checker's search).
    s.clients.timeout_ms = rng.gen_range(election_max_ms * 2..=election_max_ms * 4);
    s.clients.retry_ms = rng.gen_range(election_min_ms / 2..=election_min_ms);
    // The closed-loop rate: a process thinks up to `think_ms` between ops. (No open-loop stream:
    // its requests never complete, so each is a pending op that the linearizability checker must
    // place anywhere after its invoke, and a few hundred of them exhaust its budget.)
    s.workload.rate_per_s = 0.0;
    draw_deployed(&mut s, base, seed, end_ms, &mut f);
    draw_snapshots(&mut s, base, sets, seed, &mut f);
    draw_membership(&mut s, base, seed, end_ms, &mut f);
    // Liveness: a commit is required after the faults are over.
    if base.duration_ms > end_ms {
        s.liveness.after_ms = Some(end_ms);
        s.liveness.within_ms = base.duration_ms - end_ms;
    }
    // Drawn last, so that adding it moved no earlier draw.
    f.rolling = on(&mut rng);
    if f.rolling {
        s.faults.extend(rolling_partitions(&mut rng, s.nodes, election_max_ms, end_ms));
        s.faults.sort_by_key(|f| match f.at_ms {
            MsOrRange::Fixed(ms) | MsOrRange::Range([ms, _]) => ms,
        });
    }
    if s.protocol == ProtocolKind::Eventual {
        eventual_premises(&mut s, end_ms);
        draw_calm(&mut s, seed, &mut f);
    } else {
        draw_shapes(&mut s, base, pinned(sets, "nodes"), seed, &mut f);
    }
    (s, f)
}

/// The eventual KV's base gets the same draw, then what the KV needs of it (assignments only, so
/// no draw moves): it has no compare-and-set; it converges only once writes stop, so its clients
/// and open-loop writes stop when the faults end and the rest of the run is quiet (the premise of
/// the convergence checkers); Raft's liveness window and leadership transfers do not apply.
fn eventual_premises(s: &mut Scenario, end_ms: u64) {
    s.clients.cas_fraction = 0.0;
    s.clients.stop_ms = Some(end_ms);
    s.workload.stop_ms = Some(end_ms);
    s.liveness.after_ms = None;
    s.faults.retain(|f| {
        !matches!(f.action, FaultKind::Transfer | FaultKind::AddServer | FaultKind::RemoveServer)
    });
    s.raft.membership = false;
    s.raft.initial_members = None;
}

/// Partitions back to back from `FAULTS_START_MS` to `end_ms`, each isolating a random minority
/// for one to three maximum election timeouts: leaders are elected, cut off and replaced in turn,
/// each having replicated its entries to a different subset (the schedule of the paper's Figure 8
/// and of sims/raft_figure8.toml).
fn rolling_partitions(rng: &mut ChaCha8Rng, nodes: u32, election_max_ms: u64, end_ms: u64) -> Vec<FaultSpec> {
    let minority = (nodes - 1) / 2;
    let hold_ms = rng.gen_range(election_max_ms..=election_max_ms * 3);
    let count = end_ms.saturating_sub(FAULTS_START_MS) / hold_ms;
    if minority == 0 {
        return Vec::new();
    }
    let start_ms = FAULTS_START_MS;
    (0..count)
        .map(|i| {
            let mut ids: Vec<u32> = (0..nodes).collect();
            let cut = rng.gen_range(1..=minority) as usize;
            for k in 0..cut {
                let j = rng.gen_range(k..ids.len());
                ids.swap(k, j);
            }
            let name = |ids: &[u32]| ids.iter().map(|n| format!("n{n}")).collect::<Vec<_>>();
            let (small, rest) = ids.split_at(cut);
            FaultSpec {
                at_ms: MsOrRange::Fixed(start_ms + i * hold_ms),
                groups: Some(vec![name(small), name(rest)]),
                // One ms short of the next, so each heals before the next begins.
                heal_after_ms: Some(MsOrRange::Fixed(hold_ms - 1)),
                ..fault(FaultKind::Partition)
            }
        })
        .collect()
}

/// Issue 12's switches, from their own stream (after every other draw, so none of those moved):
/// `raft.pre_vote` and `raft.check_quorum` each on for half the seeds (always on when the base
/// sets them, as `--set raft.bug=prevote_bumps_term` needs), and in half the seeds one or two
/// leadership transfers (to a drawn node or the most up-to-date follower); then pipelining
/// (`max_inflight_appends` 2, 8 or 32 in half the seeds, else the paper's 1) and fast backtracking
/// in half the seeds, drawn after the transfers so those did not move.
fn draw_deployed(s: &mut Scenario, base: &Scenario, seed: u64, end_ms: u64, f: &mut Features) {
    let mut rng = ChaCha8Rng::seed_from_u64(seed ^ DRAW_KEY_SALT);
    rng.set_stream(DEPLOYED_STREAM);
    let on = |rng: &mut ChaCha8Rng| rng.gen_bool(0.5);
    f.pre_vote = on(&mut rng) || base.raft.pre_vote;
    f.check_quorum = on(&mut rng) || base.raft.check_quorum;
    s.raft.pre_vote = f.pre_vote;
    s.raft.check_quorum = f.check_quorum;
    f.transfers = on(&mut rng);
    if f.transfers {
        for _ in 0..rng.gen_range(1..=2) {
            let to = rng.gen_range(0..=s.nodes);
            s.faults.push(FaultSpec {
                at_ms: MsOrRange::Fixed(rng.gen_range(FAULTS_START_MS..=end_ms.max(FAULTS_START_MS))),
                node: (to < s.nodes).then(|| format!("n{to}")),
                ..fault(FaultKind::Transfer)
            });
        }
        s.faults.sort_by_key(|f| match f.at_ms {
            MsOrRange::Fixed(ms) | MsOrRange::Range([ms, _]) => ms,
        });
    }
    f.pipelined = on(&mut rng);
    let window = [2, 8, 32][rng.gen_range(0..3)];
    s.raft.max_inflight_appends = if f.pipelined { window } else { base.raft.max_inflight_appends };
    f.fast_backtrack = on(&mut rng) || base.raft.fast_backtrack;
    s.raft.fast_backtrack = f.fast_backtrack;
}

/// The run length of the Figure 8 family: sims/raft_figure8.toml's, so many leaders come and go.
const FIGURE8_DURATION_MS: u64 = 16_000;

/// The shapes that the mutation suite's own scenarios build (docs/mutations.md) and that the
/// independent fault draws above almost never do, from their own stream after every other draw
/// (so no earlier draw moved; the fields a shape sets are overwritten, which changes those seeds'
/// runs). A duplicate storm in a quarter of the seeds; then at most one of three scripted families,
/// each in an eighth of the seeds, which replaces the drawn faults and workload (the network,
/// cluster size and timing stay as drawn): Figure 8, a lease overlap and a transfer under lease
/// reads. Every family keeps correct Raft safe and the checks sound: see each function.
fn draw_shapes(s: &mut Scenario, base: &Scenario, nodes_pinned: bool, seed: u64, f: &mut Features) {
    let mut rng = ChaCha8Rng::seed_from_u64(seed ^ DRAW_KEY_SALT);
    rng.set_stream(SHAPE_STREAM);
    // sims/raft_hunt.toml's replication: 3 in 10 messages duplicated and one entry per request, so
    // reordered and duplicated requests cover different ranges (what `match_last_log` and
    // `commit_min_last_log` get wrong).
    f.storm = rng.gen_bool(0.25);
    let duplicates = rng.gen_range(0.2..=0.4);
    if f.storm {
        s.network.duplicate_probability = duplicates;
        s.raft.max_entries_per_append = 1;
    }
    match rng.gen_range(0..8) {
        0 => {
            f.figure8 = true;
            figure8_family(&mut rng, s, base, nodes_pinned);
        }
        1 => {
            f.lease_overlap = true;
            lease_overlap(&mut rng, s, base);
        }
        2 => {
            f.lease_transfer = true;
            lease_transfer(&mut rng, s);
        }
        _ => {}
    }
}

/// A random permutation of the node ids.
fn shuffled(rng: &mut ChaCha8Rng, nodes: u32) -> Vec<u32> {
    let mut ids: Vec<u32> = (0..nodes).collect();
    for k in 0..ids.len() {
        let j = rng.gen_range(k..ids.len());
        ids.swap(k, j);
    }
    ids
}

fn names(ids: &[u32]) -> Vec<String> {
    ids.iter().map(|n| format!("n{n}")).collect()
}

/// Replaces the drawn faults by `faults` (sorted by time) and switches the chaos off.
fn script(s: &mut Scenario, mut faults: Vec<FaultSpec>) {
    faults.sort_by_key(|f| match f.at_ms {
        MsOrRange::Fixed(ms) | MsOrRange::Range([ms, _]) => ms,
    });
    s.faults = faults;
    s.chaos = ChaosConfig::default();
}

/// The paper's Figure 8 (§5.4.2), as sims/raft_figure8.toml builds it: Raft without §8's no-op
/// (a new leader then often has no entry of its own term), five or seven nodes (a drawn three
/// becomes five unless pinned), a trickle of 2–5 open-loop writes/s
/// and no client processes, CheckQuorum only if the base sets it, and a minority cut off in turn every election
/// maximum plus minimum to two maxima (sims/raft_figure8.toml: 600 ms for [150, 300]; each
/// cut starting up to a sixth of that late and lasting the whole period, so cuts sometimes
/// overlap) for 16 s × 60 %, then 6.4 s of calm in which a commit is required. Correct Raft stays
/// safe without the no-op, only less live: a term's first commit waits for a request of that term
/// (at 2 requests/s none in 6.4 s has odds of about e^-12.8), and with no client process there
/// are no reads, whose ReadIndex and lease paths would stall without an entry of the term.
fn figure8_family(rng: &mut ChaCha8Rng, s: &mut Scenario, base: &Scenario, nodes_pinned: bool) {
    let [election_min_ms, election_max_ms] = s.raft.election_timeout_ms;
    s.raft.noop = false;
    // A leader cut off with a minority under CheckQuorum steps down within an election timeout and
    // takes no more writes of its stale term (on sims/raft_figure8.toml the bug is then caught in
    // 3 of 300 seeds, not 32): off unless the base sets it.
    s.raft.check_quorum = base.raft.check_quorum;
    s.duration_ms = FIGURE8_DURATION_MS;
    let end_ms = FIGURE8_DURATION_MS * FAULTS_END_PERCENT / 100;
    s.clients.count = 0;
    s.workload.rate_per_s = rng.gen_range(2.0..=5.0);
    s.workload.keys = rng.gen_range(1..=5);
    s.workload.read_fraction = 0.0;
    s.workload.start_ms = 0;
    s.workload.stop_ms = None;
    // Three nodes cannot show it: a leader cut off alone replicates its stale entry nowhere.
    if s.nodes == 3 && !nodes_pinned {
        s.nodes = 5;
    }
    let minority = ((s.nodes - 1) / 2) as usize;
    let ids = shuffled(rng, s.nodes);
    let period_ms = rng.gen_range(election_max_ms + election_min_ms..=2 * election_max_ms);
    let mut faults = Vec::new();
    let mut t = FAULTS_START_MS;
    for i in 0.. {
        let at_ms = t + rng.gen_range(0..=period_ms / 6);
        if at_ms + period_ms > end_ms {
            break;
        }
        // The next `minority` nodes of the permutation, round and round (Figure 8's n0 n1, n2 n3,
        // n4 n0, …): each cut takes different nodes from the one before.
        let mut order = ids.clone();
        order.rotate_left(i * minority % ids.len());
        let (small, rest) = order.split_at(minority);
        faults.push(FaultSpec {
            at_ms: MsOrRange::Fixed(at_ms),
            groups: Some(vec![names(small), names(rest)]),
            heal_after_ms: Some(MsOrRange::Fixed(period_ms)),
            ..fault(FaultKind::Partition)
        });
        t += period_ms;
    }
    script(s, faults);
    s.liveness.after_ms = Some(end_ms);
    s.liveness.within_ms = FIGURE8_DURATION_MS - end_ms;
}

/// The overlap of two leaders' terms that a lease must cover (thesis §6.4.1), as
/// sims/raft_lease.toml builds it, with the nodes and times drawn: a transfer makes node L leader;
/// later node X is cut off alone for one to one and a half election timeouts (it hears no
/// heartbeat, so its timer runs ahead of the others'); then X rejoins the majority at the moment L
/// is cut off with at most a minority, so X may be elected while L still holds its lease. Clients
/// only read, from a little before the cut; open-loop writes of the same key start at the cut, so
/// X's log is up to date when it stands and a write commits at X while L answers lease reads.
/// Lease reads; Pre-Vote and CheckQuorum only as the base sets them (they make X's early election
/// rarer); no liveness window (nothing is written after the cut's writes). The clients' writes
/// the cut-off leader took end `info`, which widens the linearizability search: at least
/// 16 000 000 states (sims/raft_lease.toml has 4 000 000; at that one seed in 2 000 of
/// correct Raft, 1525, was undecided).
fn lease_overlap(rng: &mut ChaCha8Rng, s: &mut Scenario, base: &Scenario) {
    let [election_min_ms, election_max_ms] = s.raft.election_timeout_ms;
    s.raft.read_mode = ReadMode::Lease;
    s.raft.pre_vote = base.raft.pre_vote;
    s.raft.check_quorum = base.raft.check_quorum;
    let minority = (s.nodes - 1) / 2;
    let ids = shuffled(rng, s.nodes);
    let (leader, alone) = (ids[0], ids[1]);
    let with_leader = rng.gen_range(0..minority) as usize;
    let t0 = FAULTS_START_MS + 2 * election_max_ms;
    let t1 = t0 + rng.gen_range(election_max_ms..=2 * election_max_ms);
    let t2 = t1 + rng.gen_range(election_min_ms..=election_max_ms + election_min_ms / 2);
    let hold_ms = rng.gen_range(2 * election_max_ms..=3 * election_max_ms);
    let mut away = vec![leader];
    away.extend_from_slice(&ids[2..2 + with_leader]);
    let rest: Vec<u32> = (0..s.nodes).filter(|n| !away.contains(n)).collect();
    script(
        s,
        vec![
            make_leader(t0, leader),
            FaultSpec {
                at_ms: MsOrRange::Fixed(t1),
                groups: Some(vec![names(&[alone])]),
                heal_after_ms: Some(MsOrRange::Fixed(t2 - t1)),
                ..fault(FaultKind::Partition)
            },
            FaultSpec {
                at_ms: MsOrRange::Fixed(t2),
                groups: Some(vec![names(&away), names(&rest)]),
                heal_after_ms: Some(MsOrRange::Fixed(hold_ms)),
                ..fault(FaultKind::Partition)
            },
        ],
    );
    let reads_from_ms = t2.saturating_sub(rng.gen_range(50..=election_min_ms));
    read_only_clients(rng, s, reads_from_ms, t2 + 200);
    open_loop_writes(rng, s, t2, t2 + 200);
    s.duration_ms = t2 + hold_ms + 500;
    s.liveness.after_ms = None;
}

/// A transfer at `at_ms` that makes node `leader` the leader (the scripted families start so).
fn make_leader(at_ms: u64, leader: u32) -> FaultSpec {
    FaultSpec {
        at_ms: MsOrRange::Fixed(at_ms),
        node: Some(format!("n{leader}")),
        ..fault(FaultKind::Transfer)
    }
}

/// A leadership transfer under lease reads (thesis §3.10), as sims/raft_transfer.toml builds it,
/// with the nodes and times drawn: a transfer makes node L leader; later everything the others
/// send to L is cut (one way: L still reaches them) and L is asked to hand over to a drawn node
/// or the most up-to-date follower, which wins and commits the open-loop writes that start just
/// after. L never hears of the new term: it must refuse lease reads once it has sent TimeoutNow.
/// Clients only read, on the writes' key. No liveness window; the linearizability search gets at
/// least 16 000 000 states (as lease_overlap).
fn lease_transfer(rng: &mut ChaCha8Rng, s: &mut Scenario) {
    let [_, election_max_ms] = s.raft.election_timeout_ms;
    s.raft.read_mode = ReadMode::Lease;
    let ids = shuffled(rng, s.nodes);
    let leader = ids[0];
    let to = if rng.gen_bool(0.75) { Some(format!("n{}", ids[1])) } else { None };
    let t0 = FAULTS_START_MS + 2 * election_max_ms;
    let t1 = t0 + rng.gen_range(election_max_ms..=3 * election_max_ms);
    let hold_ms = rng.gen_range(3 * election_max_ms..=5 * election_max_ms);
    script(
        s,
        vec![
            make_leader(t0, leader),
            FaultSpec {
                at_ms: MsOrRange::Fixed(t1),
                from: Some(names(&ids[1..])),
                to: Some(names(&[leader])),
                heal_after_ms: Some(MsOrRange::Fixed(hold_ms)),
                ..fault(FaultKind::Partition)
            },
            FaultSpec { at_ms: MsOrRange::Fixed(t1), node: to, ..fault(FaultKind::Transfer) },
        ],
    );
    read_only_clients(rng, s, 0, t1 + 500);
    open_loop_writes(rng, s, t1 + 20, t1 + 220);
    s.duration_ms = t1 + hold_ms + 500;
    s.liveness.after_ms = None;
}

/// 3–6 closed-loop processes that only read key 0, from `start_ms` to `stop_ms`, thinking 2 ms
/// to 10–20 ms (with up to 8 processes and no think time, 2 of 10 000 correct seeds had 400–700
/// reads and were undecided at 16 000 000 states, linearizable at 100 000 000 in 12–26 s), timing out after two election minima and resending every two thirds of one (as
/// sims/raft_lease.toml: the drawn timeouts of 2–4 election maxima leave reads pending across the
/// cut, each of which widens the linearizability search).
fn read_only_clients(rng: &mut ChaCha8Rng, s: &mut Scenario, start_ms: u64, stop_ms: u64) {
    let [election_min_ms, _] = s.raft.election_timeout_ms;
    s.clients.timeout_ms = 2 * election_min_ms;
    s.clients.retry_ms = election_min_ms * 2 / 3;
    s.clients.count = rng.gen_range(3..=6);
    s.clients.keys = 1;
    s.clients.read_fraction = 1.0;
    s.clients.cas_fraction = 0.0;
    s.clients.think_ms = [2, rng.gen_range(10..=20)];
    s.clients.start_ms = start_ms;
    s.clients.stop_ms = Some(stop_ms);
    s.check.lin_states_max = s.check.lin_states_max.max(16_000_000);
}

/// Open-loop writes of key 0 at 15–40/s from `start_ms` to `stop_ms` (a few: an open-loop write
/// never completes, and each pending write multiplies the linearizability search; at up to 150/s
/// one seed in 14 of correct Raft was undecided at 4 000 000 states, at 20–60/s one in 80).
fn open_loop_writes(rng: &mut ChaCha8Rng, s: &mut Scenario, start_ms: u64, stop_ms: u64) {
    s.workload.rate_per_s = rng.gen_range(15.0..=40.0);
    s.workload.keys = 1;
    s.workload.read_fraction = 0.0;
    s.workload.start_ms = start_ms;
    s.workload.stop_ms = Some(stop_ms);
}

/// The eventual KV's calm seeds, from their own stream after every other draw: in a quarter of
/// the seeds no fault, crash, loss or duplication at all (latency, slow nodes and the workload as
/// drawn). Such a run on a strict-quorum base (R + W > N) gets `strict_quorum_reads`, the only
/// checker that sees an acknowledgement before the write quorum (`ack_before_quorum`), whose
/// premise is a fault-free run.
fn draw_calm(s: &mut Scenario, seed: u64, f: &mut Features) {
    let mut rng = ChaCha8Rng::seed_from_u64(seed ^ DRAW_KEY_SALT);
    rng.set_stream(CALM_STREAM);
    f.calm = rng.gen_bool(0.25);
    if f.calm {
        script(s, Vec::new());
        s.network.drop_probability = 0.0;
        s.network.duplicate_probability = 0.0;
    }
}

/// Log compaction, from its own stream: only when the base scenario turns it on (`--set
/// raft.snapshot_every=N`), so the default hunt is unchanged. Then `snapshot_every` in 5..=50
/// (compaction often, even in short runs), `snapshot_trailing` in 0..=10 and
/// `snapshot_chunk_entries` in 8..=512 (steps of 8); a pinned field keeps its `--set` value.
fn draw_snapshots(s: &mut Scenario, base: &Scenario, sets: &[String], seed: u64, f: &mut Features) {
    let mut rng = ChaCha8Rng::seed_from_u64(seed ^ DRAW_KEY_SALT);
    rng.set_stream(SNAPSHOT_STREAM);
    f.snapshots = base.raft.snapshot_every > 0;
    let every = rng.gen_range(5..=50u64);
    let trailing = rng.gen_range(0..=10u64);
    // Chunks of 8..=512 entries' worth: a snapshot of ~10^3 entries in 1-entry chunks takes
    // longer to send over a lossy link than the liveness window allows (hunt seed 1773).
    let chunk = rng.gen_range(1..=64u64) * 8;
    if !f.snapshots {
        return;
    }
    if !pinned(sets, "raft.snapshot_every") {
        s.raft.snapshot_every = every;
    }
    if !pinned(sets, "raft.snapshot_trailing") {
        s.raft.snapshot_trailing = trailing;
    }
    if !pinned(sets, "raft.snapshot_chunk_entries") {
        s.raft.snapshot_chunk_entries = chunk;
    }
}

/// Issue 15's membership changes, from their own stream: on in half the seeds (always when
/// the base sets `raft.membership`). Then, in half of those, one drawn node starts outside the
/// configuration and is added at a drawn time; and one or two drawn servers (a node, or the
/// leader) are removed, each added back 1 to 3 maximum election timeouts later. Every change
/// falls between `FAULTS_START_MS` and `end_ms`. The draws are made whether or not membership is
/// on, so the pin moves nothing else. With 3 nodes no node starts outside and the leader is not
/// removed (it is never added back): a 2-member configuration for the rest of the run tolerates
/// no fault, against the hunt's premise, and its split votes outlast the liveness bound (hunt
/// seed 2296 of 10 000, a false alarm of `progress`).
fn draw_membership(s: &mut Scenario, base: &Scenario, seed: u64, end_ms: u64, f: &mut Features) {
    let mut rng = ChaCha8Rng::seed_from_u64(seed ^ DRAW_KEY_SALT);
    rng.set_stream(MEMBERSHIP_STREAM);
    f.membership = rng.gen_bool(0.5) || base.raft.membership;
    let end_ms = end_ms.max(FAULTS_START_MS + 1);
    let at = |rng: &mut ChaCha8Rng| rng.gen_range(FAULTS_START_MS..end_ms);
    let outside = rng.gen_bool(0.5).then(|| rng.gen_range(0..s.nodes));
    let add_at = at(&mut rng);
    let timeout = s.raft.election_timeout_ms[1];
    let mut changes = Vec::new();
    for _ in 0..rng.gen_range(1..=2) {
        let who = rng.gen_range(0..=s.nodes);
        let remove_at = at(&mut rng);
        let back_after = rng.gen_range(timeout..=3 * timeout);
        changes.push((who, remove_at, back_after));
    }
    if !f.membership {
        return;
    }
    s.raft.membership = true;
    let node = |n: u32| format!("n{n}");
    let small = s.nodes < 5;
    if let Some(o) = outside.filter(|_| !small) {
        s.raft.initial_members = Some((0..s.nodes).filter(|n| *n != o).map(node).collect());
        let add =
            FaultSpec { at_ms: MsOrRange::Fixed(add_at), node: Some(node(o)), ..fault(FaultKind::AddServer) };
        s.faults.push(add);
    }
    for (who, remove_at, back_after) in changes {
        // `leader`: the re-add names no node, so only a named removal is added back.
        let target = (who < s.nodes || small).then(|| node(who % s.nodes));
        s.faults.push(FaultSpec {
            at_ms: MsOrRange::Fixed(remove_at),
            node: Some(target.clone().unwrap_or_else(|| "leader".to_owned())),
            ..fault(FaultKind::RemoveServer)
        });
        if let Some(t) = target {
            let back = (remove_at + back_after).min(end_ms);
            s.faults.push(FaultSpec {
                at_ms: MsOrRange::Fixed(back),
                node: Some(t),
                ..fault(FaultKind::AddServer)
            });
        }
    }
    s.faults.sort_by_key(|f| match f.at_ms {
        MsOrRange::Fixed(ms) | MsOrRange::Range([ms, _]) => ms,
    });
}

fn fault(action: FaultKind) -> FaultSpec {
    FaultSpec {
        action,
        at_ms: MsOrRange::Fixed(0),
        node: None,
        restart_after_ms: None,
        groups: None,
        heal_after_ms: None,
        name: None,
        from: None,
        to: None,
        pause_ms: None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::scenario::embedded;

    fn base() -> Scenario {
        let (origin, text) = embedded("sims/raft_clients.toml").unwrap();
        Scenario::from_str(origin, text, &[]).unwrap()
    }

    #[test]
    fn every_draw_validates() {
        let base = base();
        for seed in 0..2_000 {
            let s = draw_scenario(&base, &[], seed).unwrap();
            s.validate(&format!("seed {seed}")).unwrap_or_else(|e| panic!("{e}\n{}", s.to_toml()));
            assert_eq!(s.seed, seed);
            // The resolved file loads back to the same scenario.
            let again = Scenario::from_str("x", &s.to_toml(), &[]).unwrap();
            assert_eq!(again, s);
        }
    }

    #[test]
    fn the_draw_is_deterministic_and_keeps_undrawn_fields() {
        let mut base = base();
        base.raft.bug = crate::raft::config::Bug::VoteWithoutLogCheck;
        for seed in [0, 1, 7, u64::MAX] {
            assert_eq!(draw(&base, &[], seed), draw(&base, &[], seed));
            assert_eq!(draw_scenario(&base, &[], seed).unwrap().raft.bug, base.raft.bug);
            // The scripted families set their own run length.
            let f = draw(&base, &[], seed).1;
            if !(f.figure8 || f.lease_overlap || f.lease_transfer) {
                assert_eq!(draw_scenario(&base, &[], seed).unwrap().duration_ms, base.duration_ms);
            }
        }
        assert_ne!(draw_scenario(&base, &[], 1).unwrap(), draw_scenario(&base, &[], 2).unwrap());
    }

    /// Snapshots are drawn only when the base turns them on, from their own stream: every other
    /// field draws the same either way.
    #[test]
    fn snapshots_are_drawn_apart_and_only_when_on() {
        let off = base();
        let mut on = base();
        on.raft.snapshot_every = 7;
        let mut everies = std::collections::BTreeSet::new();
        for seed in 0..100 {
            let (a, fa) = draw(&off, &[], seed);
            let (mut b, fb) = draw(&on, &[], seed);
            assert!(!fa.snapshots && fb.snapshots);
            assert_eq!(a.raft.snapshot_every, 0);
            assert!((5..=50).contains(&b.raft.snapshot_every), "{}", b.raft.snapshot_every);
            assert!(b.raft.snapshot_trailing <= 10);
            assert!(
                (8..=512).contains(&b.raft.snapshot_chunk_entries) && b.raft.snapshot_chunk_entries % 8 == 0
            );
            everies.insert(b.raft.snapshot_every);
            b.raft.snapshot_every = 0;
            b.raft.snapshot_trailing = a.raft.snapshot_trailing;
            b.raft.snapshot_chunk_entries = a.raft.snapshot_chunk_entries;
            assert_eq!(a, b, "seed {seed}");
        }
        assert!(everies.len() > 10);
        let sets = ["raft.snapshot_every=20".to_owned()];
        let pinned = draw_scenario(&on, &sets, 3).unwrap();
        assert_eq!(pinned.raft.snapshot_every, 20);
    }

    #[test]
    fn features_vary_across_seeds() {
        let base = base();
        let draws: Vec<(Scenario, Features)> = (0..200).map(|seed| draw(&base, &[], seed)).collect();
        let count = |pick: fn(&Features) -> bool| draws.iter().filter(|(_, f)| pick(f)).count();
        for (name, n) in [
            ("loss", count(|f| f.loss)),
            ("duplication", count(|f| f.duplication)),
            ("heavy_tail", count(|f| f.heavy_tail)),
            ("partitions", count(|f| f.partitions)),
            ("one_way", count(|f| f.one_way)),
            ("crashes", count(|f| f.crashes)),
            ("leader_crashes", count(|f| f.leader_crashes)),
            ("slow_nodes", count(|f| f.slow_nodes)),
            ("pauses", count(|f| f.pauses)),
            ("rolling", count(|f| f.rolling)),
            ("pre_vote", count(|f| f.pre_vote)),
            ("check_quorum", count(|f| f.check_quorum)),
            ("transfers", count(|f| f.transfers)),
            ("pipelined", count(|f| f.pipelined)),
            ("fast_backtrack", count(|f| f.fast_backtrack)),
            ("membership", count(|f| f.membership)),
        ] {
            assert!((60..=140).contains(&n), "{name} on in {n} of 200 draws");
        }
        for nodes in [3, 5, 7] {
            assert!(draws.iter().any(|(s, _)| s.nodes == nodes), "no draw with {nodes} nodes");
        }
        for mode in [ReadMode::Log, ReadMode::ReadIndex, ReadMode::Lease] {
            assert!(draws.iter().any(|(s, _)| s.raft.read_mode == mode), "no draw with {mode:?}");
        }
        let sets: std::collections::BTreeSet<String> = draws.iter().map(|(_, f)| format!("{f:?}")).collect();
        assert!(sets.len() > 100, "only {} distinct feature sets in 200 draws", sets.len());
    }

    #[test]
    fn a_set_pins_a_drawn_field_and_moves_no_other_draw() {
        let (origin, text) = embedded("sims/raft_clients.toml").unwrap();
        let sets = vec!["raft.read_mode=\"lease\"".to_owned(), "raft.noop=false".to_owned()];
        let pinned_base = Scenario::from_str(origin, text, &sets).unwrap();
        let free_base = base();
        for seed in 0..300 {
            let mut s = draw_scenario(&pinned_base, &sets, seed).unwrap();
            assert_eq!(s.raft.read_mode, ReadMode::Lease);
            assert!(!s.raft.noop);
            // Everything else is what the unpinned seed drew.
            let free = draw_scenario(&free_base, &[], seed).unwrap();
            (s.raft.read_mode, s.raft.noop) = (free.raft.read_mode, free.raft.noop);
            assert_eq!(s, free, "seed {seed}");
        }
    }

    #[test]
    fn pinned_nodes_and_timeouts_shape_what_depends_on_them() {
        let (origin, text) = embedded("sims/raft_clients.toml").unwrap();
        let sets = vec!["nodes=3".to_owned(), "raft.election_timeout_ms=[150,300]".to_owned()];
        // `dsim hunt` drops the base's faults (the draw replaces them); they name n3 and n4.
        let base = Scenario::from_str(origin, text, &["faults=[]".to_owned()]).unwrap();
        let base = Scenario::from_str(origin, &base.to_toml(), &sets).unwrap();
        for seed in 0..300 {
            let s = draw_scenario(&base, &sets, seed).unwrap();
            assert_eq!((s.nodes, s.raft.election_timeout_ms), (3, [150, 300]));
            assert!(s.raft.heartbeat_ms <= 50, "seed {seed}: the heartbeat follows the pinned timeout");
            assert!(s.node.keys().all(|n| ["n0", "n1", "n2"].contains(&n.as_str())), "seed {seed}");
        }
    }

    #[test]
    fn a_pin_that_contradicts_the_draw_names_the_seed_and_the_set() {
        let (origin, text) = embedded("sims/raft_clients.toml").unwrap();
        let sets = vec!["raft.heartbeat_ms=250".to_owned()];
        let base = Scenario::from_str(origin, text, &[]).unwrap();
        // Election minimums are drawn from 100–300 ms: some are below the pinned heartbeat.
        let err = (0..200)
            .find_map(|seed| draw_scenario(&base, &sets, seed).err().map(|e| (seed, e.to_string())))
            .expect("a draw with an election minimum below the pinned heartbeat");
        assert!(err.1.contains("raft.heartbeat_ms=250"), "{}", err.1);
        assert!(err.1.starts_with(&format!("hunt seed {}: ", err.0)), "{}", err.1);
    }

    /// The deployed switches come from a stream of their own: pinning them on in the base changes
    /// no other drawn field (nor whether transfers are drawn).
    #[test]
    fn the_deployed_switches_shift_no_other_draw() {
        let base = base();
        let mut pinned = base.clone();
        pinned.raft.pre_vote = true;
        pinned.raft.check_quorum = true;
        for seed in 0..100 {
            let (a, fa) = draw(&base, &[], seed);
            let (b, fb) = draw(&pinned, &[], seed);
            let strip = |mut s: Scenario| {
                s.faults.retain(|f| f.action != FaultKind::Transfer);
                s.raft.pre_vote = false;
                s.raft.check_quorum = false;
                s
            };
            assert_eq!(strip(a), strip(b), "seed {seed}");
            assert!(fb.pre_vote && fb.check_quorum);
            assert_eq!(fa.transfers, fb.transfers);
        }
    }

    /// The mutation-suite shapes (their own stream): the duplicate storm in about a quarter of
    /// the seeds, each scripted family in about an eighth, never two families at once, and each
    /// family with the fields that make it what it is.
    #[test]
    fn the_shapes_appear_with_their_fields() {
        let base = base();
        let draws: Vec<(Scenario, Features)> = (0..400).map(|seed| draw(&base, &[], seed)).collect();
        let count = |pick: fn(&Features) -> bool| draws.iter().filter(|(_, f)| pick(f)).count();
        let storms = count(|f| f.storm);
        assert!((60..=140).contains(&storms), "storm on in {storms} of 400 draws");
        for (name, n) in [
            ("figure8", count(|f| f.figure8)),
            ("lease_overlap", count(|f| f.lease_overlap)),
            ("lease_transfer", count(|f| f.lease_transfer)),
        ] {
            assert!((25..=75).contains(&n), "{name} in {n} of 400 draws");
        }
        for (s, f) in &draws {
            let families = [f.figure8, f.lease_overlap, f.lease_transfer].iter().filter(|&&x| x).count();
            assert!(families <= 1, "{f:?}");
            if f.storm {
                assert_eq!(s.raft.max_entries_per_append, 1);
                assert!(s.network.duplicate_probability >= 0.2);
            }
            // noop = false only in the Figure 8 family, which has no client process (whose reads
            // would stall without an entry of the leader's term) and requires a commit at the end.
            assert_eq!(s.raft.noop, !f.figure8, "{f:?}");
            if f.figure8 {
                assert_eq!(s.clients.count, 0);
                assert!(s.workload.rate_per_s >= 2.0 && s.nodes >= 5);
                assert!(s.liveness.after_ms.is_some());
                assert!(s.faults.iter().all(|x| x.action == FaultKind::Partition) && s.faults.len() >= 3);
            }
            if f.lease_overlap || f.lease_transfer {
                assert_eq!(s.raft.read_mode, ReadMode::Lease);
                assert_eq!(s.clients.read_fraction, 1.0);
                assert!(s.chaos.crash_every_ms.is_none());
                let transfers = s.faults.iter().filter(|x| x.action == FaultKind::Transfer).count();
                assert_eq!(transfers, if f.lease_transfer { 2 } else { 1 }, "{f:?}");
            }
        }
    }

    /// The KV's calm seeds: about a quarter, with no fault, loss or duplication, so a
    /// strict-quorum base installs `strict_quorum_reads`; the others keep their drawn faults.
    #[test]
    fn an_eventual_base_draws_calm_seeds_that_get_strict_quorum_reads() {
        let (origin, text) = embedded("sims/eventual_quorum.toml").unwrap();
        let base = Scenario::from_str(origin, text, &[]).unwrap();
        let draws: Vec<(Scenario, Features)> = (0..400).map(|seed| draw(&base, &[], seed)).collect();
        let calm = draws.iter().filter(|(_, f)| f.calm).count();
        assert!((60..=140).contains(&calm), "calm in {calm} of 400 draws");
        for (s, f) in &draws {
            // Strict only where R + W > N: the base's W = R = 2 on a drawn 3 nodes, not 5 or 7.
            let strict = s.eventual.read_quorum + s.eventual.write_quorum > s.nodes;
            assert_eq!(f.calm && strict, crate::check::eventual_set::strict_quorum_applies(s), "{f:?}");
            assert!(!(f.storm || f.figure8 || f.lease_overlap || f.lease_transfer), "Raft shapes on the KV");
        }
    }

    /// The eventual KV's base: every draw validates (no cas, which the KV refuses), writes stop
    /// with the faults, and no Raft-only fault or liveness window is left in.
    #[test]
    fn an_eventual_base_draws_what_the_kv_accepts() {
        let (origin, text) = embedded("sims/eventual.toml").unwrap();
        let base = Scenario::from_str(origin, text, &[]).unwrap();
        for seed in 0..300 {
            let s = draw_scenario(&base, &[], seed).unwrap();
            s.validate(&format!("seed {seed}")).unwrap_or_else(|e| panic!("{e}\n{}", s.to_toml()));
            assert_eq!(s.clients.cas_fraction, 0.0);
            let end = s.clients.stop_ms.expect("clients stop");
            assert!(end < s.duration_ms && s.workload.stop_ms == Some(end), "seed {seed}");
            assert!(s.liveness.after_ms.is_none());
            assert!(s.faults.iter().all(|f| f.action != FaultKind::Transfer), "seed {seed}");
        }
    }
}
