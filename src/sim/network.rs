//! The network: per-message latency, random loss, duplication and partitions.
//!
//! `route` decides the fate of one message at send time (madsim's `test_link` shape): dropped (and
//! why), or delivered at a time drawn from the latency distribution, possibly twice. Every message
//! makes the same number of draws from the network stream whatever the outcome, so two runs that
//! differ only in `drop_probability` see the same latencies for the same messages. Which
//! distribution and probabilities apply to a pair of nodes is the [`Topology`]'s answer; which
//! pairs are cut is the [`Partitions`]' answer. A partition cuts messages sent while it holds, and
//! (with `partition_cuts_in_flight`, the default) the runner also drops at delivery a message in
//! flight that the partitions now in force would cut.

use rand::Rng;
use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};
use crate::sim::partition::Partitions;
use crate::sim::rng::SimRng;
use crate::sim::topology::{self, LinkSpec, NodeLatency, RegionSpec, Topology};
use crate::sim::{NodeId, SimDuration, SimTime};

/// Message latency, in microseconds.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "dist", rename_all = "snake_case", deny_unknown_fields)]
pub enum Latency {
    /// Always `us`.
    Constant { us: u64 },
    /// Uniform in `[min_us, max_us]`.
    Uniform { min_us: u64, max_us: u64 },
    /// `min_us` plus an exponential with mean `mean_us` (heavy right tail).
    Exponential { min_us: u64, mean_us: u64 },
    /// `min_us` plus a log-normal whose median is `median_us` and log-space std-dev `sigma`.
    LogNormal { min_us: u64, median_us: u64, sigma: f64 },
}

impl Default for Latency {
    fn default() -> Self {
        Latency::Uniform { min_us: 1_000, max_us: 5_000 }
    }
}

/// Latencies are capped here so that no draw can overflow time arithmetic: 1 hour.
pub const LATENCY_US_MAX: u64 = 3_600_000_000;

impl Latency {
    pub fn validate(&self, origin: &str) -> Result<()> {
        self.validate_at(origin, "network.latency")
    }

    /// Checks the distribution; `path` is its field path in errors (`network.links[2].latency`).
    pub fn validate_at(&self, origin: &str, path: &str) -> Result<()> {
        let bad = |field: &str, value: &dyn std::fmt::Display, allowed: &str| {
            Err(Error::invalid(origin, format!("{path}.{field}"), value, allowed))
        };
        let cap = LATENCY_US_MAX;
        match *self {
            Latency::Constant { us } if us > cap => bad("us", &us, "an integer in [0, 3600000000]"),
            Latency::Uniform { min_us, max_us } if min_us > max_us || max_us > cap => {
                bad("max_us", &max_us, &format!("an integer in [min_us ({min_us}), 3600000000]"))
            }
            Latency::Exponential { min_us, mean_us } if min_us > cap || mean_us == 0 || mean_us > cap => {
                bad("mean_us", &mean_us, "an integer in [1, 3600000000], min_us at most 3600000000")
            }
            Latency::LogNormal { median_us, .. } if median_us == 0 || median_us > cap => {
                bad("median_us", &median_us, "an integer in [1, 3600000000]")
            }
            Latency::LogNormal { sigma, .. } if !(sigma.is_finite() && (0.0..=10.0).contains(&sigma)) => {
                bad("sigma", &sigma, "a number in [0, 10]")
            }
            Latency::LogNormal { min_us, .. } if min_us > cap => {
                bad("min_us", &min_us, "an integer in [0, 3600000000]")
            }
            _ => Ok(()),
        }
    }

    /// Draws one latency. Uses exactly two uniform draws from `rng` whatever the distribution.
    fn draw(&self, rng: &mut SimRng) -> SimDuration {
        let u1: f64 = rng.gen();
        let u2: f64 = rng.gen();
        let us = match *self {
            Latency::Constant { us } => us,
            Latency::Uniform { min_us, max_us } => min_us + ((max_us - min_us + 1) as f64 * u1) as u64,
            Latency::Exponential { min_us, mean_us } => {
                min_us + (-(1.0 - u1).ln() * mean_us as f64).round() as u64
            }
            Latency::LogNormal { min_us, median_us, sigma } => {
                // Box–Muller from the two uniforms keeps the draw count fixed.
                let z = (-2.0 * (1.0 - u1).ln()).sqrt() * (2.0 * std::f64::consts::PI * u2).cos();
                min_us + ((median_us as f64).ln() + sigma * z).exp().round() as u64
            }
        };
        SimDuration(us.min(LATENCY_US_MAX))
    }
}

/// `[network]` in a scenario file.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct NetworkConfig {
    /// Probability that a message is lost. In [0, 1].
    pub drop_probability: f64,
    /// Probability that a delivered message arrives twice (the copy with its own latency). In [0, 1].
    pub duplicate_probability: f64,
    pub latency: Latency,
    /// Drop, at delivery, a message in flight that a partition begun since would cut.
    pub partition_cuts_in_flight: bool,
    /// `[[network.regions]]`: named node sets and the inter-region delay matrix.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub regions: Vec<RegionSpec>,
    /// `[[network.links]]`: per-link overrides, later entries winning.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub links: Vec<LinkSpec>,
}

impl Default for NetworkConfig {
    fn default() -> Self {
        NetworkConfig {
            drop_probability: 0.0,
            duplicate_probability: 0.0,
            latency: Latency::default(),
            partition_cuts_in_flight: true,
            regions: Vec::new(),
            links: Vec::new(),
        }
    }
}

impl NetworkConfig {
    pub fn validate(&self, origin: &str) -> Result<()> {
        for (field, p) in [
            ("drop_probability", self.drop_probability),
            ("duplicate_probability", self.duplicate_probability),
        ] {
            if !(p.is_finite() && (0.0..=1.0).contains(&p)) {
                return Err(Error::invalid(origin, format!("network.{field}"), p, "a probability in [0, 1]"));
            }
        }
        self.latency.validate(origin)
    }

    /// The checks that need the cluster size: regions and links name nodes.
    pub fn validate_topology(&self, origin: &str, nodes: u32) -> Result<()> {
        topology::validate_regions(origin, &self.regions, nodes)?;
        topology::validate_links(origin, &self.links, &self.regions, nodes)
    }
}

/// Why a message was lost. The spelling is the trace's `detail`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DropReason {
    Random,
    Partition,
    NodeDown,
}

impl DropReason {
    pub fn as_str(self) -> &'static str {
        match self {
            DropReason::Random => "random",
            DropReason::Partition => "partition",
            DropReason::NodeDown => "node_down",
        }
    }
}

/// What happens to one message.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Route {
    Dropped(DropReason),
    /// Delivered at `at`, and a second copy at `duplicate` if the network duplicated it.
    Delivered {
        at: SimTime,
        duplicate: Option<SimTime>,
    },
}

/// The network's state: its configuration, its stream, its topology and the partitions in force.
#[derive(Clone, Debug)]
pub struct Network {
    config: NetworkConfig,
    rng: SimRng,
    topology: Topology,
    flat: bool,
    pub partitions: Partitions,
}

impl Network {
    pub fn new(config: NetworkConfig, nodes: u32, rng: SimRng) -> Network {
        Network::with_nodes(config, nodes, rng, Vec::new())
    }

    /// With per-node extra latency (`node[i]` for `n{i}`; missing nodes have none).
    pub fn with_nodes(config: NetworkConfig, nodes: u32, rng: SimRng, node: Vec<NodeLatency>) -> Network {
        let topology = Topology::new(&config.regions, &config.links, node, nodes);
        let flat = topology.is_flat();
        Network { config, rng, topology, flat, partitions: Partitions::new(nodes) }
    }

    pub fn connected(&self, a: NodeId, b: NodeId) -> bool {
        self.partitions.connected(a, b)
    }

    /// Whether a message in flight from `a` to `b` is dropped at delivery by a partition.
    pub fn cut_in_flight(&self, a: NodeId, b: NodeId) -> bool {
        self.config.partition_cuts_in_flight && !self.partitions.is_empty() && !self.connected(a, b)
    }

    /// Decides the fate of a message leaving `from` for `to` at `now`. Always makes six draws.
    pub fn route(&mut self, now: SimTime, from: NodeId, to: NodeId) -> Route {
        let fate = self.draw_fate(from, to);
        self.apply_fate(now, from, to, fate)
    }

    /// The six draws of one message: its fate if no partition cuts it (a recorded schedule keeps
    /// exactly this, so a replay can apply it again).
    pub fn draw_fate(&mut self, from: NodeId, to: NodeId) -> Fate {
        let drop_u: f64 = self.rng.gen();
        let dup_u: f64 = self.rng.gen();
        let c = &self.config;
        let path = if self.flat {
            topology::Path {
                latency: &c.latency,
                drop_probability: c.drop_probability,
                duplicate_probability: c.duplicate_probability,
                extra_us: 0,
            }
        } else {
            self.topology.path(from, to, &c.latency, c.drop_probability, c.duplicate_probability)
        };
        let extra = SimDuration(path.extra_us);
        let first = path.latency.draw(&mut self.rng) + extra;
        let second = path.latency.draw(&mut self.rng) + extra;
        let dropped = drop_u < path.drop_probability;
        Fate {
            dropped,
            delay: first,
            duplicate: (!dropped && dup_u < path.duplicate_probability).then_some(second),
        }
    }

    /// The route of a message with `fate` leaving now: a partition in force cuts it first.
    pub fn apply_fate(&self, now: SimTime, from: NodeId, to: NodeId, fate: Fate) -> Route {
        if !self.partitions.connected(from, to) {
            return Route::Dropped(DropReason::Partition);
        }
        if fate.dropped {
            return Route::Dropped(DropReason::Random);
        }
        Route::Delivered { at: now + fate.delay, duplicate: fate.duplicate.map(|d| now + d) }
    }
}

/// One message's fate as the network draws it, before partitions: lost, or delivered after
/// `delay` (and once more after `duplicate`). A lost message keeps the delay it would have had, so
/// turning a drop into a delivery in a schedule needs no new draw.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Fate {
    pub dropped: bool,
    pub delay: SimDuration,
    pub duplicate: Option<SimDuration>,
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sim::partition::Cut;
    use crate::sim::rng::{Purpose, Streams};

    fn net(config: NetworkConfig) -> Network {
        Network::new(config, 3, Streams::new(9).stream(Purpose::Network))
    }

    #[test]
    fn latencies_do_not_depend_on_drop_probability() {
        let mut a = net(NetworkConfig::default());
        let mut b = net(NetworkConfig { drop_probability: 0.5, ..Default::default() });
        let mut paired = 0;
        for i in 0..2_000u64 {
            let (ra, rb) =
                (a.route(SimTime(i), NodeId(0), NodeId(1)), b.route(SimTime(i), NodeId(0), NodeId(1)));
            if let Route::Delivered { at, .. } = rb {
                assert_eq!(ra, Route::Delivered { at, duplicate: None });
                paired += 1;
            }
        }
        assert!((800..1200).contains(&paired), "{paired} of 2000 delivered at drop 0.5");
    }

    #[test]
    fn partitions_cut_across_groups_only() {
        let mut n = net(NetworkConfig::default());
        n.partitions.start("p", &Cut::Groups(vec![vec![NodeId(0)], vec![NodeId(1), NodeId(2)]]));
        assert_eq!(n.route(SimTime(0), NodeId(0), NodeId(1)), Route::Dropped(DropReason::Partition));
        assert!(matches!(n.route(SimTime(0), NodeId(1), NodeId(2)), Route::Delivered { .. }));
        n.partitions.heal_all();
        assert!(matches!(n.route(SimTime(0), NodeId(0), NodeId(1)), Route::Delivered { .. }));
    }

    #[test]
    fn distributions_stay_in_their_support() {
        let dists = [
            Latency::Constant { us: 7 },
            Latency::Uniform { min_us: 10, max_us: 20 },
            Latency::Exponential { min_us: 100, mean_us: 50 },
            Latency::LogNormal { min_us: 100, median_us: 1_000, sigma: 1.0 },
        ];
        let mut rng = Streams::new(1).stream(Purpose::Network);
        for d in dists {
            let draws: Vec<u64> = (0..5_000).map(|_| d.draw(&mut rng).0).collect();
            let (lo, hi) = (draws.iter().min().unwrap(), draws.iter().max().unwrap());
            match d {
                Latency::Constant { us } => assert!(*lo == us && *hi == us),
                Latency::Uniform { min_us, max_us } => {
                    assert_eq!((*lo, *hi), (min_us, max_us), "uniform must reach both ends")
                }
                Latency::Exponential { min_us, .. } | Latency::LogNormal { min_us, .. } => {
                    assert!(*lo >= min_us);
                    assert!(*hi > 4 * (*lo), "heavy tail expected, max {hi}");
                }
            }
        }
    }

    #[test]
    fn duplicates_arrive_twice() {
        let mut n = net(NetworkConfig { duplicate_probability: 1.0, ..Default::default() });
        assert!(matches!(
            n.route(SimTime(0), NodeId(0), NodeId(1)),
            Route::Delivered { duplicate: Some(_), .. }
        ));
    }

    #[test]
    fn bad_probabilities_are_refused() {
        let c = NetworkConfig { drop_probability: f64::NAN, ..Default::default() };
        assert_eq!(
            c.validate("s.toml").unwrap_err().to_string(),
            "s.toml: network.drop_probability = NaN: a probability in [0, 1]"
        );
        let c = NetworkConfig { duplicate_probability: 1.5, ..Default::default() };
        assert!(c.validate("s.toml").is_err());
    }
}
