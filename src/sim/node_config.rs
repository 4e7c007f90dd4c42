//! Per-node settings (`[node.nX]`) and clock drift (`[clocks]`).
//!
//! A node may have extra one-way latency on what it receives and sends, its own `persist_delay_us`
//! (a slow disk; read by the protocol's config, not the kernel) and its own clock drift ρ. A node's
//! clock runs at rate 1 + ρ: a timer it arms for d fires after d / (1 + ρ) of simulated time, so a
//! fast clock (ρ > 0) times out early. ρ is `[node.nX].clock_drift` if set, otherwise drawn
//! uniformly in [−drift_max, drift_max] from the drift stream — one draw per node, in node order,
//! always, so setting one node's drift never shifts another's, and no other stream moves.

use std::collections::BTreeMap;

use rand::Rng;
use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};
use crate::sim::network::LATENCY_US_MAX;
use crate::sim::rng::SimRng;
use crate::sim::topology::NodeLatency;
use crate::sim::{NodeId, SimDuration};

/// The largest |ρ| allowed: a clock at half or one and a half times real speed.
pub const DRIFT_MAX: f64 = 0.5;

/// The largest per-node persist delay (µs), the same bound as `raft.persist_delay_us`.
pub const PERSIST_DELAY_US_MAX: u64 = 10_000_000;

/// One `[node.nX]` table.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct NodeConfig {
    /// Added to the latency of every message this node receives (µs).
    pub latency_in_us: u64,
    /// Added to the latency of every message this node sends (µs).
    pub latency_out_us: u64,
    /// This node's fsync time, replacing the protocol's `persist_delay_us` (Raft).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub persist_delay_us: Option<u64>,
    /// This node's clock drift ρ, replacing the drawn one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub clock_drift: Option<f64>,
}

/// `[clocks]` in a scenario file.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ClockConfig {
    /// Each node's ρ is drawn uniformly in [−drift_max, drift_max]; 0 = perfect clocks.
    pub drift_max: f64,
}

impl ClockConfig {
    pub fn validate(&self, origin: &str) -> Result<()> {
        let d = self.drift_max;
        if !(d.is_finite() && (0.0..=DRIFT_MAX).contains(&d)) {
            return Err(Error::invalid(origin, "clocks.drift_max", d, "a number in [0, 0.5]"));
        }
        Ok(())
    }
}

/// Checks every `[node.nX]`: a known node, bounded values.
pub fn validate_nodes(origin: &str, table: &BTreeMap<String, NodeConfig>, nodes: u32) -> Result<()> {
    for (key, config) in table {
        match NodeId::parse(key) {
            Some(n) if n.0 < nodes => {}
            _ => {
                return Err(Error::invalid(
                    origin,
                    format!("node.{key}"),
                    format!("{key:?}"),
                    format!("a node n0 … n{}", nodes - 1),
                ))
            }
        }
        let field = |name: &str| format!("node.{key}.{name}");
        for (name, us) in [("latency_in_us", config.latency_in_us), ("latency_out_us", config.latency_out_us)]
        {
            if us > LATENCY_US_MAX {
                return Err(Error::invalid(origin, field(name), us, "an integer in [0, 3600000000]"));
            }
        }
        if let Some(us) = config.persist_delay_us.filter(|us| *us > PERSIST_DELAY_US_MAX) {
            return Err(Error::invalid(origin, field("persist_delay_us"), us, "an integer in [0, 10000000]"));
        }
        if let Some(d) =
            config.clock_drift.filter(|d| !(d.is_finite() && (-DRIFT_MAX..=DRIFT_MAX).contains(d)))
        {
            return Err(Error::invalid(origin, field("clock_drift"), d, "a number in [-0.5, 0.5]"));
        }
    }
    Ok(())
}

/// The `[node.nX]` table of node `id`, if any.
pub fn of(table: &BTreeMap<String, NodeConfig>, id: NodeId) -> Option<&NodeConfig> {
    table.get(&id.to_string())
}

/// Extra latency per node, `n0` first.
pub fn latencies(table: &BTreeMap<String, NodeConfig>, nodes: u32) -> Vec<NodeLatency> {
    (0..nodes)
        .map(|i| {
            of(table, NodeId(i)).map_or_else(NodeLatency::default, |c| NodeLatency {
                in_us: c.latency_in_us,
                out_us: c.latency_out_us,
            })
        })
        .collect()
}

/// Each node's ρ: set, or drawn from `rng` (the drift stream; one draw per node, always).
pub fn drifts(
    clocks: &ClockConfig,
    table: &BTreeMap<String, NodeConfig>,
    nodes: u32,
    rng: &mut SimRng,
) -> Vec<f64> {
    (0..nodes)
        .map(|i| {
            let u: f64 = rng.gen();
            let drawn = if clocks.drift_max > 0.0 { (2.0 * u - 1.0) * clocks.drift_max } else { 0.0 };
            of(table, NodeId(i)).and_then(|c| c.clock_drift).unwrap_or(drawn)
        })
        .collect()
}

/// The simulated time a timer armed for `after` on a clock of drift `rho` takes to fire.
pub fn scale(after: SimDuration, rho: f64) -> SimDuration {
    if rho == 0.0 {
        return after;
    }
    SimDuration((after.as_us() as f64 / (1.0 + rho)).round() as u64)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sim::rng::{Purpose, Streams};

    #[test]
    fn drift_scales_timers() {
        assert_eq!(scale(SimDuration(1_000), 0.0), SimDuration(1_000));
        assert_eq!(scale(SimDuration(1_000), 0.25), SimDuration(800));
        assert_eq!(scale(SimDuration(1_000), -0.5), SimDuration(2_000));
    }

    #[test]
    fn a_set_drift_does_not_shift_the_drawn_ones() {
        let clocks = ClockConfig { drift_max: 0.1 };
        let rng = || Streams::new(5).stream(Purpose::Drift);
        let drawn = drifts(&clocks, &BTreeMap::new(), 4, &mut rng());
        assert!(drawn.iter().all(|d| d.abs() <= 0.1) && drawn[0] != drawn[1]);
        let mut table = BTreeMap::new();
        table.insert("n1".to_owned(), NodeConfig { clock_drift: Some(0.3), ..Default::default() });
        let mixed = drifts(&clocks, &table, 4, &mut rng());
        assert_eq!((mixed[0], mixed[1], mixed[2], mixed[3]), (drawn[0], 0.3, drawn[2], drawn[3]));
        let none = drifts(&ClockConfig::default(), &BTreeMap::new(), 4, &mut rng());
        assert!(none.iter().all(|d| *d == 0.0));
    }

    #[test]
    fn bad_nodes_and_values_are_refused() {
        let mut table = BTreeMap::new();
        table.insert("n9".to_owned(), NodeConfig::default());
        assert_eq!(
            validate_nodes("s.toml", &table, 3).unwrap_err().to_string(),
            "s.toml: node.n9 = \"n9\": a node n0 … n2"
        );
        let mut table = BTreeMap::new();
        table.insert("n1".to_owned(), NodeConfig { clock_drift: Some(0.9), ..Default::default() });
        assert_eq!(
            validate_nodes("s.toml", &table, 3).unwrap_err().to_string(),
            "s.toml: node.n1.clock_drift = 0.9: a number in [-0.5, 0.5]"
        );
        let mut table = BTreeMap::new();
        table
            .insert("n1".to_owned(), NodeConfig { persist_delay_us: Some(20_000_000), ..Default::default() });
        assert!(validate_nodes("s.toml", &table, 3)
            .unwrap_err()
            .to_string()
            .contains("node.n1.persist_delay_us"));
        assert!(ClockConfig { drift_max: -0.1 }.validate("s").is_err());
    }
}
