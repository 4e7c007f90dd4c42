//! `[eventual]` in a scenario file: conflict policy, replication mode, anti-entropy and quorums.

use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};

/// How concurrent versions of a key are resolved.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Policy {
    /// Keep every concurrent value, drop dominated ones (Dynamo, Riak).
    #[default]
    Siblings,
    /// Last writer wins by a deterministic total order that respects causality; the winner keeps
    /// the joined clock.
    Lww,
}

/// Which replication design runs.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Mode {
    /// Correct vector clocks, policy-based conflict handling, anti-entropy, optional quorums.
    #[default]
    Dynamo,
    /// The textbook model reproduced faithfully: "any entry greater" comparison, one replication
    /// message per peer, no retry, no anti-entropy. It diverges; that is the point.
    Seed,
}

/// Which way an anti-entropy exchange moves versions, seen from the node that starts it
/// (`eventual.anti_entropy_mode`; Demers et al., PODC 1987, §1.3 `ResolveDifference`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AntiEntropyMode {
    /// Both ways: the starter gets what it lacks and sends what its partner lacks.
    #[default]
    PushPull,
    /// The starter only sends what its partner lacks.
    Push,
    /// The starter only gets what it lacks.
    Pull,
}

impl AntiEntropyMode {
    pub fn is_push_pull(&self) -> bool {
        *self == AntiEntropyMode::PushPull
    }
}

/// Where a request's coordinator sits relative to the replicas (`eventual.coordinator`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Coordinator {
    /// The node a client contacts is one of the replicas: it stores a write at once and counts
    /// itself towards W and R (a read with R = 1 is local).
    #[default]
    Replica,
    /// The coordinator stands outside the replicas, as the PBS model (Bailis et al., VLDB 2012,
    /// WARS) assumes: it sends a write to all N replicas (itself included, through the network)
    /// and waits for W acks; a read asks all N and answers with the first R replies. Every leg of
    /// every request crosses the network.
    Outside,
}

impl Coordinator {
    pub fn is_replica(&self) -> bool {
        *self == Coordinator::Replica
    }
}

/// A deliberately broken model, so the checkers can show they catch it (`eventual.bug`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Bug {
    /// The correct model.
    #[default]
    None,
    /// Anti-entropy exchanges digests and versions but skips the merge of what it receives, so a
    /// replica that missed a replicate message never catches up.
    AeSkipMerge,
    /// Read repair stores (and answers with) the OLDEST reply instead of the merge of all replies.
    ReadRepairOlder,
    /// The seed's "any entry greater" comparison inside dynamo mode: a version is dropped as soon
    /// as another held version has any larger entry, so concurrent siblings drop each other.
    AnyEntryGreater,
    /// The coordinator acknowledges a put after its local write, whatever W says (a sloppy ack).
    AckBeforeQuorum,
}

/// The eventually consistent KV's knobs.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct EventualConfig {
    pub mode: Mode,
    pub policy: Policy,
    /// Anti-entropy period in ms (each node pulls and pushes with `anti_entropy_fanout` random
    /// peers every period). 0 turns anti-entropy off.
    pub anti_entropy_ms: u64,
    pub anti_entropy_fanout: u32,
    /// Which way an exchange moves versions (default both).
    #[serde(skip_serializing_if = "AntiEntropyMode::is_push_pull")]
    pub anti_entropy_mode: AntiEntropyMode,
    /// Write quorum W: the coordinator acknowledges a write once W replicas (itself included)
    /// stored it. 1 = acknowledge after the local write.
    pub write_quorum: u32,
    /// Read quorum R: a read asks R replicas (itself included) and returns the newest version or
    /// the siblings. 1 = local read.
    pub read_quorum: u32,
    /// After a quorum read, send the merged result to replicas that answered with older versions.
    pub read_repair: bool,
    /// A coordinator gives up on a quorum it has not reached after this long (ms).
    pub request_timeout_ms: u64,
    /// Whether the coordinator counts as a replica (default) or stands outside them.
    #[serde(skip_serializing_if = "Coordinator::is_replica")]
    pub coordinator: Coordinator,
    /// A deliberately broken model (mutation testing of the checkers); `none` in real runs.
    #[serde(skip_serializing_if = "Bug::is_none")]
    pub bug: Bug,
}

impl Bug {
    pub fn is_none(&self) -> bool {
        *self == Bug::None
    }
}

impl Default for EventualConfig {
    fn default() -> Self {
        EventualConfig {
            mode: Mode::Dynamo,
            policy: Policy::Siblings,
            anti_entropy_ms: 200,
            anti_entropy_fanout: 1,
            anti_entropy_mode: AntiEntropyMode::PushPull,
            write_quorum: 1,
            read_quorum: 1,
            read_repair: false,
            request_timeout_ms: 1_000,
            coordinator: Coordinator::Replica,
            bug: Bug::None,
        }
    }
}

impl EventualConfig {
    /// `nodes` is the replica count N.
    pub fn validate(&self, origin: &str, nodes: u32) -> Result<()> {
        let bad = |field: &str, value: &dyn std::fmt::Display, allowed: String| {
            Err(Error::invalid(origin, format!("eventual.{field}"), value, allowed))
        };
        if self.anti_entropy_ms > 3_600_000 {
            return bad(
                "anti_entropy_ms",
                &self.anti_entropy_ms,
                "an integer in [0, 3600000] (0 = off)".into(),
            );
        }
        if self.anti_entropy_fanout == 0 || self.anti_entropy_fanout >= nodes.max(2) {
            return bad(
                "anti_entropy_fanout",
                &self.anti_entropy_fanout,
                format!("an integer in [1, {}] (fewer than nodes)", nodes.max(2) - 1),
            );
        }
        if self.write_quorum == 0 || self.write_quorum > nodes {
            return bad(
                "write_quorum",
                &self.write_quorum,
                format!("an integer in [1, {nodes}] (nodes = N)"),
            );
        }
        if self.read_quorum == 0 || self.read_quorum > nodes {
            return bad("read_quorum", &self.read_quorum, format!("an integer in [1, {nodes}] (nodes = N)"));
        }
        if !(1..=3_600_000).contains(&self.request_timeout_ms) {
            return bad("request_timeout_ms", &self.request_timeout_ms, "an integer in [1, 3600000]".into());
        }
        if self.bug != Bug::None && self.mode == Mode::Seed {
            return bad("bug", &format!("{:?}", self.bug), "\"none\" with mode = \"seed\"".into());
        }
        if self.coordinator == Coordinator::Outside && self.mode == Mode::Seed {
            return bad("coordinator", &"\"outside\"", "\"replica\" with mode = \"seed\"".into());
        }
        if self.coordinator == Coordinator::Outside && self.bug != Bug::None {
            return bad("coordinator", &"\"outside\"", "\"replica\" with a bug variant".into());
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quorums_bounded_by_replica_count() {
        EventualConfig::default().validate("f", 3).unwrap();
        let c = EventualConfig { write_quorum: 4, ..Default::default() };
        assert_eq!(
            c.validate("f", 3).unwrap_err().to_string(),
            "f: eventual.write_quorum = 4: an integer in [1, 3] (nodes = N)"
        );
        let c = EventualConfig { read_quorum: 0, ..Default::default() };
        assert!(c.validate("f", 3).is_err());
    }

    #[test]
    fn outside_coordinator_only_in_dynamo_mode_without_bugs() {
        let c = EventualConfig { coordinator: Coordinator::Outside, ..Default::default() };
        c.validate("f", 3).unwrap();
        let seed = EventualConfig { mode: Mode::Seed, ..c.clone() };
        assert_eq!(
            seed.validate("f", 3).unwrap_err().to_string(),
            "f: eventual.coordinator = \"outside\": \"replica\" with mode = \"seed\""
        );
        let bug = EventualConfig { bug: Bug::AckBeforeQuorum, ..c };
        assert!(bug.validate("f", 3).is_err());
    }
}
