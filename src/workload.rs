//! The client workload shared by every protocol: an open-loop Poisson stream of reads and writes.
//!
//! Requests arrive at exponentially distributed gaps (`rate_per_s`) between `start_ms` and
//! `stop_ms`, each at a node chosen uniformly (so several clients write concurrently at different
//! nodes), on a key drawn uniformly or from a Zipf law (`key_skew`), reading with probability
//! `read_fraction`. The kernel's client layer (`sim::clients`) makes each request an op of its own
//! process and gives it an op id; a write's value id is its op id, unique in the run. All draws
//! here come from the workload stream.

use rand::Rng;
use serde::{Deserialize, Serialize};

use crate::client::Kind;
use crate::error::{Error, Result};
use crate::protocol::Workload;
use crate::sim::rng::SimRng;
use crate::sim::{NodeId, SimTime};

/// `[workload]` in a scenario file.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct WorkloadConfig {
    /// Mean client requests per second of simulated time, over the whole cluster. 0 disables.
    pub rate_per_s: f64,
    /// Number of distinct keys `k0` … `k{keys-1}`. At least 1.
    pub keys: u64,
    /// Zipf exponent of key popularity: 0 is uniform, 1 is classic Zipf. In [0, 10].
    pub key_skew: f64,
    /// Probability that a request is a read. In [0, 1].
    pub read_fraction: f64,
    /// First request no earlier than this (ms).
    pub start_ms: u64,
    /// No request at or after this (ms); defaults to the run's duration.
    pub stop_ms: Option<u64>,
    /// Hard cap on the number of requests in a run.
    pub requests_max: u64,
}

impl Default for WorkloadConfig {
    fn default() -> Self {
        WorkloadConfig {
            rate_per_s: 20.0,
            keys: 8,
            key_skew: 0.0,
            read_fraction: 0.0,
            start_ms: 0,
            stop_ms: None,
            requests_max: 1_000_000,
        }
    }
}

impl WorkloadConfig {
    pub fn validate(&self, origin: &str) -> Result<()> {
        let bad = |field: &str, value: &dyn std::fmt::Display, allowed: &str| {
            Err(Error::invalid(origin, format!("workload.{field}"), value, allowed))
        };
        if !(self.rate_per_s.is_finite() && (0.0..=1e6).contains(&self.rate_per_s)) {
            return bad("rate_per_s", &self.rate_per_s, "a number in [0, 1000000]");
        }
        if !(1..=1_000_000).contains(&self.keys) {
            return bad("keys", &self.keys, "an integer in [1, 1000000]");
        }
        if !(self.key_skew.is_finite() && (0.0..=10.0).contains(&self.key_skew)) {
            return bad("key_skew", &self.key_skew, "a number in [0, 10]");
        }
        if !(self.read_fraction.is_finite() && (0.0..=1.0).contains(&self.read_fraction)) {
            return bad("read_fraction", &self.read_fraction, "a probability in [0, 1]");
        }
        if let Some(stop) = self.stop_ms {
            if stop < self.start_ms {
                return bad("stop_ms", &stop, &format!("at least workload.start_ms ({})", self.start_ms));
            }
        }
        Ok(())
    }
}

/// The open-loop generator.
#[derive(Clone, Debug)]
pub struct OpenLoop {
    config: WorkloadConfig,
    nodes: u32,
    stop: SimTime,
    issued: u64,
    last: SimTime,
    /// Cumulative Zipf weights, empty when keys are uniform.
    zipf_cdf: Vec<f64>,
}

impl OpenLoop {
    /// `duration` is the run's length; it bounds `stop_ms` when that is not set.
    pub fn new(config: &WorkloadConfig, nodes: u32, duration: SimTime) -> OpenLoop {
        let stop = config.stop_ms.map(SimTime::from_ms).unwrap_or(duration).min(duration);
        let zipf_cdf = if config.key_skew > 0.0 {
            let mut acc = 0.0;
            (1..=config.keys)
                .map(|k| {
                    acc += 1.0 / (k as f64).powf(config.key_skew);
                    acc
                })
                .collect()
        } else {
            Vec::new()
        };
        OpenLoop {
            config: config.clone(),
            nodes,
            stop,
            issued: 0,
            last: SimTime::from_ms(config.start_ms),
            zipf_cdf,
        }
    }

    fn draw_key(&self, rng: &mut SimRng) -> u64 {
        if self.zipf_cdf.is_empty() {
            return rng.gen_range(0..self.config.keys);
        }
        let total = *self.zipf_cdf.last().unwrap_or(&1.0);
        let u = rng.gen::<f64>() * total;
        self.zipf_cdf.partition_point(|c| *c <= u).min(self.zipf_cdf.len() - 1) as u64
    }
}

impl Workload for OpenLoop {
    fn next(&mut self, _now: SimTime, rng: &mut SimRng) -> Option<(SimTime, NodeId, u64, Kind)> {
        if self.config.rate_per_s <= 0.0 || self.issued >= self.config.requests_max {
            return None;
        }
        // Every request makes the same four draws, so the stream stays aligned across settings.
        let gap_u: f64 = rng.gen();
        let node = NodeId(rng.gen_range(0..self.nodes));
        let read_u: f64 = rng.gen();
        let key = self.draw_key(rng);
        let mean_gap_us = 1e6 / self.config.rate_per_s;
        let gap_us = (-(1.0 - gap_u).ln() * mean_gap_us).round().max(1.0) as u64;
        let at = SimTime(self.last.as_us().saturating_add(gap_us));
        if at >= self.stop {
            return None;
        }
        self.last = at;
        self.issued += 1;
        let kind = if read_u < self.config.read_fraction { Kind::Read } else { Kind::Write };
        Some((at, node, key, kind))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sim::rng::{Purpose, Streams};

    fn drain(config: &WorkloadConfig) -> Vec<(SimTime, NodeId, u64, Kind)> {
        let mut w = OpenLoop::new(config, 3, SimTime::from_ms(10_000));
        let mut rng = Streams::new(1).stream(Purpose::Workload);
        std::iter::from_fn(|| w.next(SimTime::ZERO, &mut rng)).collect()
    }

    #[test]
    fn rate_is_roughly_respected_and_times_increase() {
        let ops = drain(&WorkloadConfig { rate_per_s: 100.0, ..Default::default() });
        assert!((800..1200).contains(&ops.len()), "{} requests in 10 s at 100/s", ops.len());
        assert!(ops.windows(2).all(|w| w[0].0 < w[1].0));
    }

    #[test]
    fn zipf_prefers_low_keys() {
        let ops = drain(&WorkloadConfig { rate_per_s: 200.0, keys: 50, key_skew: 1.2, ..Default::default() });
        let hot = ops.iter().filter(|o| o.2 == 0).count();
        let cold = ops.iter().filter(|o| o.2 == 49).count();
        assert!(hot > 5 * cold.max(1), "k0 {hot} vs k49 {cold}");
        assert!(ops.iter().all(|o| o.2 < 50));
    }

    #[test]
    fn reads_follow_read_fraction_and_ids_are_unique() {
        let ops = drain(&WorkloadConfig { rate_per_s: 200.0, read_fraction: 0.25, ..Default::default() });
        let reads = ops.iter().filter(|o| o.3 == Kind::Read).count() as f64;
        let share = reads / ops.len() as f64;
        assert!((0.18..0.32).contains(&share), "read share {share}");
    }

    #[test]
    fn validation_names_the_field() {
        let err = WorkloadConfig { keys: 0, ..Default::default() }.validate("x.toml").unwrap_err();
        assert_eq!(err.to_string(), "x.toml: workload.keys = 0: an integer in [1, 1000000]");
        let err =
            WorkloadConfig { read_fraction: f64::NAN, ..Default::default() }.validate("x.toml").unwrap_err();
        assert!(err.to_string().contains("workload.read_fraction = NaN"), "{err}");
    }
}
