//! Swarm testing (Groce et al., ISSTA 2012): each hunt seed draws its own scenario from a base.
//!
//! [`draw_scenario`] is a pure function of (base, seed). It uses its own ChaCha stream, keyed
//! differently from the run's streams (src/sim/rng.rs), so the drawn scenario then runs with that
//! same seed and `(base, seed)` names the run forever. Every fault kind is switched on or off
//! independently per seed (a feature left out cannot mask a bug that another feature would hide),
//! and the rates of the features that are on are drawn within the bounds below, which keep correct
//! Raft live: partitions always heal, at most a minority is down, latency stays well under the
//! election timeout, and every fault is over by `FAULTS_END_PERCENT` of the run so the liveness
//! checker can demand a commit afterwards. Fields not drawn (`raft.bug`, `duration_ms`, `[check]`,
//! `[clocks]`, …) keep the base's values, which is how `--set raft.bug=…` reaches every draw.

use std::collections::BTreeMap;

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

use crate::raft::config::ReadMode;
use crate::scenario::Scenario;
use crate::sim::faults::{ChaosConfig, FaultKind, FaultSpec, MsOrRange};
use crate::sim::network::Latency;
use crate::sim::node_config::NodeConfig;

/// The ChaCha stream id of the draw ("hunt" in ASCII): never one of the run's purposes.
const DRAW_STREAM: u64 = 0x6875_6e74;
/// The stream of the deployed-Raft switches (Pre-Vote, CheckQuorum, transfers), drawn apart so
/// that adding them shifted none of the draws above.
const DEPLOYED_STREAM: u64 = DRAW_STREAM + 1;
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
    pub pre_vote: bool,
    pub check_quorum: bool,
    pub transfers: bool,
}

/// The scenario that hunt seed `seed` runs: `base` with the drawn fields replaced and `seed` set.
pub fn draw_scenario(base: &Scenario, seed: u64) -> Scenario {
    draw(base, seed).0
}

/// [`draw_scenario`] and the features it turned on.
pub fn draw(base: &Scenario, seed: u64) -> (Scenario, Features) {
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
    s.nodes = [3, 5, 7][rng.gen_range(0..3)];
    let minority = (s.nodes - 1) / 2;
    let election_min_ms = rng.gen_range(100..=300u64);
    let election_max_ms = election_min_ms + rng.gen_range(election_min_ms / 2..=election_min_ms * 2);
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
    // Liveness: a commit is required after the faults are over.
    if base.duration_ms > end_ms {
        s.liveness.after_ms = Some(end_ms);
        s.liveness.within_ms = base.duration_ms - end_ms;
    }
    (s, f)
}

/// Issue 12's switches, from their own stream (after every other draw, so none of those moved):
/// `raft.pre_vote` and `raft.check_quorum` each on for half the seeds (always on when the base
/// sets them, as `--set raft.bug=prevote_bumps_term` needs), and in half the seeds one or two
/// leadership transfers (to a drawn node or the most up-to-date follower).
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
            let s = draw_scenario(&base, seed);
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
            assert_eq!(draw(&base, seed), draw(&base, seed));
            assert_eq!(draw_scenario(&base, seed).raft.bug, base.raft.bug);
            assert_eq!(draw_scenario(&base, seed).duration_ms, base.duration_ms);
        }
        assert_ne!(draw_scenario(&base, 1), draw_scenario(&base, 2));
    }

    #[test]
    fn features_vary_across_seeds() {
        let base = base();
        let draws: Vec<(Scenario, Features)> = (0..200).map(|seed| draw(&base, seed)).collect();
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
            ("pre_vote", count(|f| f.pre_vote)),
            ("check_quorum", count(|f| f.check_quorum)),
            ("transfers", count(|f| f.transfers)),
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

    /// The deployed switches come from a stream of their own: pinning them on in the base changes
    /// no other drawn field (nor whether transfers are drawn).
    #[test]
    fn the_deployed_switches_shift_no_other_draw() {
        let base = base();
        let mut pinned = base.clone();
        pinned.raft.pre_vote = true;
        pinned.raft.check_quorum = true;
        for seed in 0..100 {
            let (a, fa) = draw(&base, seed);
            let (b, fb) = draw(&pinned, seed);
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
}
