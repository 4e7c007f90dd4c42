//! Fault schedules: crashes, restarts, partitions and heals, from `[[faults]]` in a scenario.
//!
//! A fault's time may be a fixed `at_ms` or a `[min, max]` range; ranges are drawn from the faults
//! stream when the run starts, in file order, two draws per fault whatever its kind, so editing one
//! fault's range never shifts another's draw. A crash may name a node or `"leader"` — whichever node
//! claims leadership when the fault fires (the kernel asks the protocol; it knows nothing else of
//! leaders) — and may schedule its own restart, which is how "crash the leader, bring it back" is
//! written. A partition may schedule its own heal, which heals that partition only.
//!
//! Partitions are named (`name`, or `fault<i>` after the entry's index) and overlap freely: a
//! `heal` with a name heals that partition, a `heal` without one heals them all. A partition is
//! `groups` (cut both ways) or `from`/`to` (one-way). A `pause` stalls a node (a GC pause): it
//! handles nothing for `pause_ms`, then everything that arrived meanwhile in a burst. A
//! `transfer` asks the node claiming leadership to hand leadership to `node` (or, without one, to
//! the follower it judges most up to date); the protocol does the rest (`Protocol::on_admin`).

use rand::Rng;
use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};
use crate::sim::partition::Cut;
use crate::sim::rng::SimRng;
use crate::sim::{NodeId, SimDuration, SimTime};

/// A time in ms, fixed or drawn uniformly from an inclusive range.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum MsOrRange {
    Fixed(u64),
    Range([u64; 2]),
}

impl MsOrRange {
    fn bounds(&self) -> (u64, u64) {
        match *self {
            MsOrRange::Fixed(ms) => (ms, ms),
            MsOrRange::Range([lo, hi]) => (lo, hi),
        }
    }

    fn validate(&self, origin: &str, field: &str) -> Result<()> {
        let (lo, hi) = self.bounds();
        if lo > hi || hi > 1_000_000_000 {
            return Err(Error::invalid(
                origin,
                field,
                format!("[{lo}, {hi}]"),
                "milliseconds, or a [min, max] range with min <= max <= 1000000000",
            ));
        }
        Ok(())
    }

    /// Draws the time in microseconds; `u` is a uniform draw in [0, 1).
    fn pick_us(&self, u: f64) -> u64 {
        let (lo, hi) = self.bounds();
        let lo_us = lo * 1_000;
        let span = (hi - lo) * 1_000 + 1;
        lo_us + ((span as f64 * u) as u64).min(span - 1)
    }
}

/// What a fault does.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FaultKind {
    Crash,
    Restart,
    Partition,
    Heal,
    Pause,
    Transfer,
    AddServer,
    RemoveServer,
}

/// One `[[faults]]` entry as written in the file.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FaultSpec {
    pub action: FaultKind,
    /// When the fault fires: ms, or `[min, max]` drawn from the seed.
    pub at_ms: MsOrRange,
    /// crash / restart / pause: `"n3"`, or `"leader"` (crash and pause); transfer: the target
    /// `"n3"` (absent: the most up-to-date follower); add_server: the node to add; remove_server:
    /// the node to remove, or `"leader"`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub node: Option<String>,
    /// crash only: bring the node back this long after the crash.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub restart_after_ms: Option<MsOrRange>,
    /// partition only: the groups, e.g. `[["n0", "n1"], ["n2", "n3", "n4"]]`. Nodes in no group form
    /// one more group together.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub groups: Option<Vec<Vec<String>>>,
    /// partition only: heal this long after the partition starts.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub heal_after_ms: Option<MsOrRange>,
    /// partition: its name (default `fault<i>`); heal: the partition to heal (default all).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// partition only, one-way: messages from these nodes to `to` are cut.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub from: Option<Vec<String>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub to: Option<Vec<String>>,
    /// pause only: how long the node stalls.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pause_ms: Option<MsOrRange>,
}

/// Which partitions a heal heals.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum HealTarget {
    All,
    Name(String),
    /// One started partition (its own `heal_after_ms`).
    Instance(u64),
}

/// Who a crash targets.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Target {
    Node(NodeId),
    Leader,
}

/// A fault ready to fire.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum FaultAction {
    Crash {
        target: Target,
        restart_after: Option<SimDuration>,
    },
    Restart {
        node: NodeId,
    },
    Partition {
        name: String,
        cut: Cut,
        heal_after: Option<SimDuration>,
    },
    Heal(HealTarget),
    Pause {
        target: Target,
        pause: SimDuration,
    },
    /// The end of a pause (scheduled by the pause).
    Resume {
        node: NodeId,
    },
    /// Leadership transfer, asked of the current leader: to a node, or (`None`) the most
    /// up-to-date follower.
    Transfer {
        to: Option<NodeId>,
    },
    /// Membership change asked of the current leader: add a node (Raft thesis §4.2.1).
    AddServer {
        node: NodeId,
    },
    /// Membership change asked of the current leader: remove a node, or (`Leader`) itself.
    RemoveServer {
        target: Target,
    },
}

fn parse_node(origin: &str, field: &str, text: &str, nodes: u32) -> Result<NodeId> {
    match NodeId::parse(text) {
        Some(n) if n.0 < nodes => Ok(n),
        _ => Err(Error::invalid(origin, field, format!("{text:?}"), format!("a node n0 … n{}", nodes - 1))),
    }
}

impl FaultSpec {
    /// Checks the entry against a cluster of `nodes`; `field` is its path (`faults[2]`).
    pub fn validate(&self, origin: &str, field: &str, nodes: u32) -> Result<()> {
        self.at_ms.validate(origin, &format!("{field}.at_ms"))?;
        let unexpected = |name: &str, present: bool| -> Result<()> {
            if present {
                return Err(Error::invalid(
                    origin,
                    format!("{field}.{name}"),
                    "(set)",
                    format!("not allowed for action = {:?}", self.action).to_lowercase(),
                ));
            }
            Ok(())
        };
        let is_crash = self.action == FaultKind::Crash;
        let is_partition = self.action == FaultKind::Partition;
        let is_heal = self.action == FaultKind::Heal;
        let is_pause = self.action == FaultKind::Pause;
        unexpected("restart_after_ms", !is_crash && self.restart_after_ms.is_some())?;
        unexpected("groups", !is_partition && self.groups.is_some())?;
        unexpected("from", !is_partition && self.from.is_some())?;
        unexpected("to", !is_partition && self.to.is_some())?;
        unexpected("heal_after_ms", !is_partition && self.heal_after_ms.is_some())?;
        unexpected("name", !is_partition && !is_heal && self.name.is_some())?;
        unexpected("pause_ms", !is_pause && self.pause_ms.is_some())?;
        if let Some(name) = &self.name {
            if name.is_empty()
                || name.len() > 64
                || !name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
            {
                return Err(Error::invalid(
                    origin,
                    format!("{field}.name"),
                    format!("{name:?}"),
                    "1 to 64 letters, digits, '_' or '-'",
                ));
            }
        }
        let node_field = format!("{field}.node");
        match self.action {
            FaultKind::Crash | FaultKind::Pause => match self.node.as_deref() {
                Some("leader") => {}
                Some(text) => drop(parse_node(origin, &node_field, text, nodes)?),
                None => {
                    return Err(Error::invalid(origin, node_field, "(missing)", "a node n0 … or \"leader\""))
                }
            },
            FaultKind::Restart => match self.node.as_deref() {
                Some(text) => drop(parse_node(origin, &node_field, text, nodes)?),
                None => return Err(Error::invalid(origin, node_field, "(missing)", "a node n0 …")),
            },
            FaultKind::Partition => self.validate_groups(origin, field, nodes)?,
            FaultKind::Heal => unexpected("node", self.node.is_some())?,
            FaultKind::Transfer => {
                if let Some(text) = self.node.as_deref() {
                    parse_node(origin, &node_field, text, nodes)?;
                }
            }
            FaultKind::AddServer | FaultKind::RemoveServer => {
                let leader_ok = self.action == FaultKind::RemoveServer;
                let allowed = if leader_ok { "a node n0 … or \"leader\"" } else { "a node n0 …" };
                match self.node.as_deref() {
                    Some("leader") if leader_ok => {}
                    Some(text) => drop(parse_node(origin, &node_field, text, nodes)?),
                    None => return Err(Error::invalid(origin, node_field, "(missing)", allowed)),
                }
            }
        }
        if is_pause {
            match &self.pause_ms {
                Some(p) => p.validate(origin, &format!("{field}.pause_ms"))?,
                None => {
                    return Err(Error::invalid(
                        origin,
                        format!("{field}.pause_ms"),
                        "(missing)",
                        "milliseconds, or a [min, max] range",
                    ))
                }
            }
        }
        if let Some(r) = &self.restart_after_ms {
            r.validate(origin, &format!("{field}.restart_after_ms"))?;
        }
        if let Some(h) = &self.heal_after_ms {
            h.validate(origin, &format!("{field}.heal_after_ms"))?;
        }
        Ok(())
    }

    fn validate_groups(&self, origin: &str, field: &str, nodes: u32) -> Result<()> {
        let groups_field = format!("{field}.groups");
        let one_way = self.from.is_some() || self.to.is_some();
        if one_way {
            if self.groups.is_some() {
                return Err(Error::invalid(
                    origin,
                    groups_field,
                    "(set)",
                    "either groups or from/to, not both",
                ));
            }
            let from = self.from.clone().unwrap_or_default();
            let to = self.to.clone().unwrap_or_default();
            let both = [from, to];
            return self.validate_sets(origin, field, &both, &["from", "to"], nodes);
        }
        let Some(groups) = &self.groups else {
            return Err(Error::invalid(
                origin,
                groups_field,
                "(missing)",
                "a list of node groups, or from/to",
            ));
        };
        let names: Vec<String> = (0..groups.len()).map(|g| format!("groups[{g}]")).collect();
        let names: Vec<&str> = names.iter().map(String::as_str).collect();
        self.validate_sets(origin, field, groups, &names, nodes)
    }

    /// Each set non-empty, of known nodes, no node in two sets.
    fn validate_sets(
        &self,
        origin: &str,
        field: &str,
        groups: &[Vec<String>],
        names: &[&str],
        nodes: u32,
    ) -> Result<()> {
        let mut seen = vec![false; nodes as usize];
        for (group, name) in groups.iter().zip(names) {
            if group.is_empty() {
                return Err(Error::invalid(origin, format!("{field}.{name}"), "[]", "a non-empty group"));
            }
            for (i, text) in group.iter().enumerate() {
                let n = parse_node(origin, &format!("{field}.{name}[{i}]"), text, nodes)?;
                if std::mem::replace(&mut seen[n.index()], true) {
                    return Err(Error::invalid(
                        origin,
                        format!("{field}.{name}[{i}]"),
                        text,
                        "each node in at most one group",
                    ));
                }
            }
        }
        Ok(())
    }

    /// Resolves times and names; `index` is the entry's place in the file (the default name).
    /// Always makes exactly two draws from `rng`.
    fn resolve(&self, index: usize, rng: &mut SimRng) -> (SimTime, FaultAction) {
        let (u_at, u_after): (f64, f64) = (rng.gen(), rng.gen());
        let at = SimTime(self.at_ms.pick_us(u_at));
        let after = |r: &Option<MsOrRange>| r.as_ref().map(|r| SimDuration(r.pick_us(u_after)));
        let node = || self.node.as_deref().and_then(NodeId::parse);
        let action = match self.action {
            FaultKind::Crash => FaultAction::Crash {
                target: node().map(Target::Node).unwrap_or(Target::Leader),
                restart_after: after(&self.restart_after_ms),
            },
            FaultKind::Restart => FaultAction::Restart { node: node().unwrap_or_default() },
            FaultKind::Partition => {
                let ids = |g: &Vec<String>| g.iter().filter_map(|n| NodeId::parse(n)).collect();
                let cut = match (&self.from, &self.to) {
                    (None, None) => Cut::Groups(self.groups.iter().flatten().map(ids).collect()),
                    (from, to) => Cut::OneWay {
                        from: from.as_ref().map(ids).unwrap_or_default(),
                        to: to.as_ref().map(ids).unwrap_or_default(),
                    },
                };
                let name = self.name.clone().unwrap_or_else(|| format!("fault{index}"));
                FaultAction::Partition { name, cut, heal_after: after(&self.heal_after_ms) }
            }
            FaultKind::Heal => FaultAction::Heal(self.name.clone().map_or(HealTarget::All, HealTarget::Name)),
            FaultKind::Pause => FaultAction::Pause {
                target: node().map(Target::Node).unwrap_or(Target::Leader),
                pause: after(&self.pause_ms).unwrap_or_default(),
            },
            FaultKind::Transfer => FaultAction::Transfer { to: node() },
            FaultKind::AddServer => FaultAction::AddServer { node: node().unwrap_or_default() },
            FaultKind::RemoveServer => {
                FaultAction::RemoveServer { target: node().map(Target::Node).unwrap_or(Target::Leader) }
            }
        };
        (at, action)
    }
}

/// Resolves a validated fault list into timed actions, drawing ranges from the faults stream.
pub fn resolve(specs: &[FaultSpec], rng: &mut SimRng) -> Vec<(SimTime, FaultAction)> {
    specs.iter().enumerate().map(|(i, s)| s.resolve(i, rng)).collect()
}

/// Checks every entry, and that a `heal` names a partition of the file.
pub fn validate_all(specs: &[FaultSpec], origin: &str, nodes: u32) -> Result<()> {
    for (i, fault) in specs.iter().enumerate() {
        fault.validate(origin, &format!("faults[{i}]"), nodes)?;
    }
    let partition_name = |i: usize, s: &FaultSpec| s.name.clone().unwrap_or_else(|| format!("fault{i}"));
    let names: Vec<String> = (specs.iter().enumerate())
        .filter(|(_, s)| s.action == FaultKind::Partition)
        .map(|(i, s)| partition_name(i, s))
        .collect();
    for (i, fault) in specs.iter().enumerate() {
        match &fault.name {
            Some(name) if fault.action == FaultKind::Heal && !names.contains(name) => {
                return Err(Error::invalid(
                    origin,
                    format!("faults[{i}].name"),
                    format!("{name:?}"),
                    format!("the name of a partition in [[faults]] ({})", names.join(", ")),
                ));
            }
            _ => {}
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sim::rng::{Purpose, Streams};

    fn spec(toml_text: &str) -> FaultSpec {
        toml::from_str(toml_text).unwrap()
    }

    #[test]
    fn ranges_are_drawn_inside_and_fixed_times_are_exact() {
        let specs = vec![
            spec("action = 'crash'\nnode = 'leader'\nat_ms = [100, 200]\nrestart_after_ms = 50"),
            spec("action = 'heal'\nat_ms = 300"),
        ];
        for seed in 0..200 {
            let got = resolve(&specs, &mut Streams::new(seed).stream(Purpose::Faults));
            assert!((100_000..=200_999).contains(&got[0].0.as_us()), "{:?}", got[0].0);
            assert_eq!(
                got[0].1,
                FaultAction::Crash { target: Target::Leader, restart_after: Some(SimDuration(50_000)) }
            );
            assert_eq!(got[1], (SimTime(300_000), FaultAction::Heal(HealTarget::All)));
        }
    }

    #[test]
    fn validation_names_the_fault_and_field() {
        let bad = spec("action = 'crash'\nnode = 'n7'\nat_ms = 1");
        assert_eq!(
            bad.validate("s.toml", "faults[0]", 5).unwrap_err().to_string(),
            "s.toml: faults[0].node = \"n7\": a node n0 … n4"
        );
        let bad = spec("action = 'partition'\nat_ms = [5, 1]\ngroups = [['n0']]");
        assert!(bad
            .validate("s", "faults[1]", 5)
            .unwrap_err()
            .to_string()
            .contains("faults[1].at_ms = [5, 1]"));
        let bad = spec("action = 'partition'\nat_ms = 1\ngroups = [['n0'], ['n0', 'n1']]");
        assert!(bad.validate("s", "faults[0]", 5).unwrap_err().to_string().contains("at most one group"));
        let bad = spec("action = 'heal'\nat_ms = 1\nrestart_after_ms = 3");
        assert!(bad.validate("s", "faults[0]", 5).is_err());
        let bad = spec("action = 'restart'\nat_ms = 1\nnode = 'leader'");
        assert!(bad.validate("s", "faults[0]", 5).is_err());
    }

    #[test]
    fn new_fields_are_validated() {
        let err = |text: &str| {
            let specs: Vec<FaultSpec> = text.split("\n---\n").map(spec).collect();
            validate_all(&specs, "s.toml", 5).unwrap_err().to_string()
        };
        assert_eq!(
            err("action = 'heal'\nat_ms = 1\nname = 'nope'"),
            "s.toml: faults[0].name = \"nope\": the name of a partition in [[faults]] ()"
        );
        assert_eq!(
            err("action = 'partition'\nat_ms = 1\nfrom = ['n0']\nto = ['n0', 'n1']"),
            "s.toml: faults[0].to[0] = n0: each node in at most one group"
        );
        assert_eq!(
            err("action = 'partition'\nat_ms = 1\nfrom = ['n0']\nto = []"),
            "s.toml: faults[0].to = []: a non-empty group"
        );
        assert_eq!(
            err("action = 'partition'\nat_ms = 1\nfrom = ['n0']\nto = ['n1']\ngroups = [['n2']]"),
            "s.toml: faults[0].groups = (set): either groups or from/to, not both"
        );
        assert_eq!(
            err("action = 'pause'\nat_ms = 1\nnode = 'n1'"),
            "s.toml: faults[0].pause_ms = (missing): milliseconds, or a [min, max] range"
        );
        assert_eq!(
            err("action = 'crash'\nat_ms = 1\nnode = 'n1'\npause_ms = 5"),
            "s.toml: faults[0].pause_ms = (set): not allowed for action = crash"
        );
        assert_eq!(
            err("action = 'partition'\nat_ms = 1\ngroups = [['n1']]\nname = 'a b'"),
            "s.toml: faults[0].name = \"a b\": 1 to 64 letters, digits, '_' or '-'"
        );
        assert_eq!(
            err("action = 'transfer'\nat_ms = 1\nnode = 'leader'"),
            "s.toml: faults[0].node = \"leader\": a node n0 … n4"
        );
        assert_eq!(
            err("action = 'transfer'\nat_ms = 1\nrestart_after_ms = 5"),
            "s.toml: faults[0].restart_after_ms = (set): not allowed for action = transfer"
        );
        let transfer =
            [spec("action = 'transfer'\nat_ms = 7"), spec("action = 'transfer'\nat_ms = 8\nnode = 'n2'")];
        validate_all(&transfer, "s.toml", 5).unwrap();
        let got = resolve(&transfer, &mut Streams::new(1).stream(Purpose::Faults));
        assert_eq!(got[0].1, FaultAction::Transfer { to: None });
        assert_eq!(got[1].1, FaultAction::Transfer { to: Some(NodeId(2)) });
        let ok = "action = 'partition'\nat_ms = 1\ngroups = [['n1']]\nname = 'west'\n---\naction = 'heal'\nat_ms = 2\nname = 'west'";
        let specs: Vec<FaultSpec> = ok.split("\n---\n").map(spec).collect();
        validate_all(&specs, "s.toml", 5).unwrap();
    }
}

/// `[chaos]` in a scenario file: random crashes and partitions for the whole run, VOPR-style.
///
/// Each generator is off unless its `*_every_ms` range is set. Gaps, down times and partition
/// lengths are drawn from the chaos stream; a crash picks a random up node (or, with probability
/// `leader_bias`, the current leader), never taking more than `max_down` nodes down at once. After
/// `stop_ms` no new fault starts, so a scenario can require recovery afterwards.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ChaosConfig {
    /// Gap between random crashes, `[min, max]` ms.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub crash_every_ms: Option<[u64; 2]>,
    /// How long a crashed node stays down, `[min, max]` ms.
    pub down_ms: [u64; 2],
    /// At most this many nodes down at once (a crash that would exceed it is skipped).
    pub max_down: u32,
    /// Percentage (0–100) of crashes aimed at the current leader rather than a random node.
    pub leader_bias_percent: u32,
    /// Gap between random partitions, `[min, max]` ms.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub partition_every_ms: Option<[u64; 2]>,
    /// How long a random partition lasts before it heals, `[min, max]` ms.
    pub partition_ms: [u64; 2],
    /// No chaos fault starts at or after this time (ms); 0 means the run's end.
    pub stop_ms: u64,
}

impl Default for ChaosConfig {
    fn default() -> Self {
        ChaosConfig {
            crash_every_ms: None,
            down_ms: [100, 1_000],
            max_down: 1,
            leader_bias_percent: 0,
            partition_every_ms: None,
            partition_ms: [100, 1_000],
            stop_ms: 0,
        }
    }
}

impl ChaosConfig {
    pub fn validate(&self, origin: &str, nodes: u32) -> Result<()> {
        let ranges = [
            ("crash_every_ms", self.crash_every_ms.unwrap_or([1, 1]), 1),
            ("down_ms", self.down_ms, 0),
            ("partition_every_ms", self.partition_every_ms.unwrap_or([1, 1]), 1),
            ("partition_ms", self.partition_ms, 0),
        ];
        for (field, [lo, hi], min) in ranges {
            if lo < min || lo > hi || hi > 1_000_000_000 {
                return Err(Error::invalid(
                    origin,
                    format!("chaos.{field}"),
                    format!("[{lo}, {hi}]"),
                    format!("[min, max] ms with {min} <= min <= max <= 1000000000"),
                ));
            }
        }
        if self.crash_every_ms.is_some() && (self.max_down == 0 || self.max_down > nodes) {
            return Err(Error::invalid(
                origin,
                "chaos.max_down",
                self.max_down,
                format!("an integer in [1, {nodes}] (nodes) when crash_every_ms is set"),
            ));
        }
        if self.leader_bias_percent > 100 {
            return Err(Error::invalid(
                origin,
                "chaos.leader_bias_percent",
                self.leader_bias_percent,
                "0 to 100",
            ));
        }
        Ok(())
    }

    pub fn enabled(&self) -> bool {
        self.crash_every_ms.is_some() || self.partition_every_ms.is_some()
    }
}

/// Draws a duration in µs uniformly from an inclusive `[min, max]` ms range.
pub fn draw_ms_range(range: [u64; 2], rng: &mut SimRng) -> SimDuration {
    let [lo, hi] = range;
    SimDuration(rng.gen_range(lo * 1_000..=hi * 1_000))
}
