//! Scenario files (`sims/*.toml`): raw TOML -> overrides -> typed structs -> validated `Scenario`.
//!
//! Loading goes in steps so every error names its origin: the file is parsed and checked on its
//! own (errors name the file), then each `--set KEY=VALUE` is applied to the TOML tree and the result
//! checked again (errors name the `--set`). Unknown keys, wrong types and out-of-range values all end
//! as one line: origin, field path, value, what is allowed. The embedded defaults are the files in
//! `sims/`, compiled in.

use std::collections::BTreeMap;
use std::path::Path;

use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};
use crate::eventual::EventualConfig;
use crate::raft::membership::MEMBERS_MAX;
use crate::raft::{Bug, RaftConfig};
use crate::sim::clients::ClientsConfig;
use crate::sim::faults::{self, ChaosConfig, FaultKind, FaultSpec};
use crate::sim::network::NetworkConfig;
use crate::sim::node_config::{self, ClockConfig, NodeConfig};
use crate::sim::runner::KernelConfig;
use crate::sim::{NodeId, SimTime};
use crate::workload::WorkloadConfig;

/// The embedded default scenarios (the same bytes as the files in `sims/`).
pub const DEFAULT_RAFT: (&str, &str) = ("sims/raft.toml", include_str!("../sims/raft.toml"));
pub const DEFAULT_EVENTUAL: (&str, &str) = ("sims/eventual.toml", include_str!("../sims/eventual.toml"));

/// Every scenario in `sims/`, compiled in, so `dsim run sims/raft_chaos.toml` (and every replay
/// command a sweep prints) works from any directory.
pub const EMBEDDED: [(&str, &str); 19] = [
    DEFAULT_RAFT,
    DEFAULT_EVENTUAL,
    ("sims/raft_faults.toml", include_str!("../sims/raft_faults.toml")),
    ("sims/raft_chaos.toml", include_str!("../sims/raft_chaos.toml")),
    ("sims/raft_figure8.toml", include_str!("../sims/raft_figure8.toml")),
    ("sims/raft_clients.toml", include_str!("../sims/raft_clients.toml")),
    ("sims/raft_hunt.toml", include_str!("../sims/raft_hunt.toml")),
    ("sims/raft_lease.toml", include_str!("../sims/raft_lease.toml")),
    crate::bench::THROUGHPUT_RAFT,
    ("sims/raft_minority_leader.toml", include_str!("../sims/raft_minority_leader.toml")),
    ("sims/raft_transfer.toml", include_str!("../sims/raft_transfer.toml")),
    ("sims/raft_production.toml", include_str!("../sims/raft_production.toml")),
    ("sims/raft_snapshot.toml", include_str!("../sims/raft_snapshot.toml")),
    ("sims/raft_membership.toml", include_str!("../sims/raft_membership.toml")),
    ("sims/raft_membership_bug.toml", include_str!("../sims/raft_membership_bug.toml")),
    ("sims/raft_membership_votes.toml", include_str!("../sims/raft_membership_votes.toml")),
    ("sims/eventual_seed.toml", include_str!("../sims/eventual_seed.toml")),
    ("sims/eventual_partition.toml", include_str!("../sims/eventual_partition.toml")),
    ("sims/eventual_quorum.toml", include_str!("../sims/eventual_quorum.toml")),
];

/// The embedded scenario compiled in under `name` (its path in the repository), if any.
pub fn embedded(name: &str) -> Option<(&'static str, &'static str)> {
    EMBEDDED.into_iter().find(|(origin, _)| *origin == name)
}

/// Which protocol runs.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ProtocolKind {
    #[default]
    Raft,
    Eventual,
}

impl ProtocolKind {
    pub fn as_str(self) -> &'static str {
        match self {
            ProtocolKind::Raft => "raft",
            ProtocolKind::Eventual => "eventual",
        }
    }
}

/// A complete, validated scenario. Serialises back to the resolved form that manifests record.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Scenario {
    /// Free text shown in summaries.
    #[serde(default)]
    pub name: String,
    #[serde(default)]
    pub protocol: ProtocolKind,
    /// Cluster size N, nodes `n0` … `n{N-1}`. In [1, 1000].
    pub nodes: u32,
    /// The run's seed; `--seed` overrides it.
    #[serde(default)]
    pub seed: u64,
    /// Simulated time the run lasts, in ms. In [1, 1000000000].
    pub duration_ms: u64,
    /// Stop after this many events. In [1, 10^11].
    #[serde(default = "default_events_max")]
    pub events_max: u64,
    /// Stop if this many events are pending at once. In [16, 10^8].
    #[serde(default = "default_queue_max")]
    pub queue_max: u64,
    #[serde(default)]
    pub network: NetworkConfig,
    #[serde(default)]
    pub workload: WorkloadConfig,
    /// Closed-loop client processes and the client layer's timeouts, resends and links.
    #[serde(default)]
    pub clients: ClientsConfig,
    #[serde(default)]
    pub raft: RaftConfig,
    #[serde(default)]
    pub eventual: EventualConfig,
    #[serde(default)]
    pub faults: Vec<FaultSpec>,
    #[serde(default)]
    pub chaos: ChaosConfig,
    #[serde(default)]
    pub liveness: LivenessConfig,
    /// `[check]`: budgets of the checkers that search (the linearizability checker).
    #[serde(default)]
    pub check: CheckConfig,
    /// `[node.n3]`: per-node latency, persist delay and clock drift.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub node: BTreeMap<String, NodeConfig>,
    /// `[clocks]`: drawn clock drift.
    #[serde(default)]
    pub clocks: ClockConfig,
}

/// `[liveness]`: require progress after the faults are over (Raft: a commit in the window).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct LivenessConfig {
    /// When the faults are over (ms); unset disables the check.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub after_ms: Option<u64>,
    /// How long recovery may take after `after_ms` (ms).
    pub within_ms: u64,
}

/// `[check]`: how much work the searching checkers may do per run.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct CheckConfig {
    /// The `linearizable` checker (Raft runs) explores at most this many search configurations per
    /// search (one per segment of a key's history, as it checks incrementally); past it the run
    /// reports `undecided` — a violation, never a pass (docs/lincheck.md).
    pub lin_states_max: u64,
}

impl Default for CheckConfig {
    fn default() -> Self {
        CheckConfig { lin_states_max: 1_000_000 }
    }
}

/// At most this many linearizability search configurations per key (memory: ~64 B each).
pub const LIN_STATES_MAX: u64 = 100_000_000;

fn default_events_max() -> u64 {
    100_000_000
}

fn default_queue_max() -> u64 {
    1_000_000
}

impl Scenario {
    /// Loads a scenario file and applies overrides.
    pub fn load(path: &Path, overrides: &[String]) -> Result<Scenario> {
        let text = std::fs::read_to_string(path).map_err(|e| Error::io(path, e))?;
        Scenario::from_str(&path.display().to_string(), &text, overrides)
    }

    /// Parses scenario text; `origin` names it in errors.
    pub fn from_str(origin: &str, text: &str, overrides: &[String]) -> Result<Scenario> {
        let mut tree: toml::Table = toml::from_str(text).map_err(|e: toml::de::Error| {
            let line = e.span().map(|s| text[..s.start.min(text.len())].matches('\n').count() + 1);
            let origin = match line {
                Some(line) => format!("{origin}:{line}"),
                None => origin.to_owned(),
            };
            Error::Parse { origin, message: one_line(&e.message()) }
        })?;
        let base = Scenario::from_tree(origin, tree.clone())?;
        if overrides.is_empty() {
            return Ok(base);
        }
        // Every override first, then one validation, so their order never matters
        // (`--set raft.election_timeout_ms=[12,24] --set raft.heartbeat_ms=6` either way round).
        for set in overrides {
            apply_override(&mut tree, &format!("--set {set}"), set)?;
        }
        Scenario::from_tree("--set", tree).map_err(|e| name_sets(e, overrides))
    }

    fn from_tree(origin: &str, tree: toml::Table) -> Result<Scenario> {
        let scenario: Scenario = serde_path_to_error::deserialize(toml::Value::Table(tree)).map_err(|e| {
            let path = e.path().to_string();
            let inner = e.into_inner().message().to_owned();
            let message = if path == "." { inner } else { format!("{path}: {inner}") };
            Error::Parse { origin: origin.to_owned(), message: one_line(&message) }
        })?;
        scenario.validate(origin)?;
        Ok(scenario)
    }

    /// Range checks on every field, naming the first that fails.
    pub fn validate(&self, origin: &str) -> Result<()> {
        let range = |field: &str, value: u64, lo: u64, hi: u64| {
            if (lo..=hi).contains(&value) {
                Ok(())
            } else {
                Err(Error::invalid(origin, field, value, format!("an integer in [{lo}, {hi}]")))
            }
        };
        range("nodes", self.nodes.into(), 1, 1_000)?;
        range("duration_ms", self.duration_ms, 1, 1_000_000_000)?;
        range("events_max", self.events_max, 1, 100_000_000_000)?;
        range("queue_max", self.queue_max, 16, 100_000_000)?;
        self.network.validate(origin)?;
        self.network.validate_topology(origin, self.nodes)?;
        node_config::validate_nodes(origin, &self.node, self.nodes)?;
        self.clocks.validate(origin)?;
        self.workload.validate(origin)?;
        self.clients.validate(origin)?;
        if self.protocol == ProtocolKind::Eventual && self.clients.cas_fraction > 0.0 {
            return Err(Error::invalid(
                origin,
                "clients.cas_fraction",
                self.clients.cas_fraction,
                "0 for protocol eventual (the eventual KV has no compare-and-set)",
            ));
        }
        self.raft.validate(origin)?;
        self.validate_membership(origin)?;
        self.eventual.validate(origin, self.nodes)?;
        faults::validate_all(&self.faults, origin, self.nodes)?;
        self.chaos.validate(origin, self.nodes)?;
        if !(1..=LIN_STATES_MAX).contains(&self.check.lin_states_max) {
            return Err(Error::invalid(
                origin,
                "check.lin_states_max",
                self.check.lin_states_max,
                format!("an integer in [1, {LIN_STATES_MAX}]"),
            ));
        }
        if let Some(after) = self.liveness.after_ms {
            if after >= self.duration_ms {
                return Err(Error::invalid(
                    origin,
                    "liveness.after_ms",
                    after,
                    format!("below duration_ms ({}), leaving within_ms to recover", self.duration_ms),
                ));
            }
            let deadline = after.saturating_add(self.liveness.within_ms);
            if self.liveness.within_ms == 0 || deadline > self.duration_ms {
                return Err(Error::invalid(
                    origin,
                    "liveness.within_ms",
                    self.liveness.within_ms,
                    format!("at least 1, with after_ms + within_ms <= duration_ms ({})", self.duration_ms),
                ));
            }
        }
        Ok(())
    }

    /// Settings that are valid but have no effect in this run (a fault after the end, …): one line
    /// each, for stderr and `--json`.
    pub fn warnings(&self) -> Vec<String> {
        use crate::sim::faults::MsOrRange;
        let end = self.duration_ms;
        let mut out = Vec::new();
        for (i, fault) in self.faults.iter().enumerate() {
            let first = match fault.at_ms {
                MsOrRange::Fixed(ms) => ms,
                MsOrRange::Range([lo, _]) => lo,
            };
            if first >= end {
                out.push(format!(
                    "faults[{i}].at_ms = {first}: at or after the run's end (duration_ms = {end}): this fault never happens"
                ));
            }
        }
        if let Some(stop) = self.workload.stop_ms.filter(|s| *s > end) {
            out.push(format!(
                "workload.stop_ms = {stop}: after the run's end (duration_ms = {end}): requests go on to the end"
            ));
        }
        if self.workload.start_ms >= end {
            out.push(format!(
                "workload.start_ms = {}: at or after the run's end (duration_ms = {end}): no request is sent",
                self.workload.start_ms
            ));
        }
        if let Some(after) = self.liveness.after_ms {
            if self.protocol == ProtocolKind::Eventual {
                out.push(format!("liveness.after_ms = {after}: the liveness check applies to raft only"));
            }
        }
        let majority = self.nodes / 2 + 1;
        if self.protocol == ProtocolKind::Raft
            && self.chaos.crash_every_ms.is_some()
            && self.chaos.max_down >= majority
        {
            out.push(format!(
                "chaos.max_down = {}: a majority of the {} nodes ({majority}) may be down at once, and then Raft cannot elect or commit",
                self.chaos.max_down, self.nodes
            ));
        }
        out
    }

    /// Whether the scenario changes Raft membership (thesis ch. 4): `raft.membership`,
    /// `raft.initial_members`, or an `add_server` / `remove_server` fault.
    pub fn uses_membership(&self) -> bool {
        self.protocol == ProtocolKind::Raft
            && (self.raft.membership
                || self.raft.initial_members.is_some()
                || self
                    .faults
                    .iter()
                    .any(|f| matches!(f.action, FaultKind::AddServer | FaultKind::RemoveServer)))
    }

    /// `raft.initial_members` names distinct nodes of the cluster, at least one; membership
    /// needs at most 64 nodes and Raft; the membership bugs need membership changes.
    fn validate_membership(&self, origin: &str) -> Result<()> {
        let changes =
            self.faults.iter().any(|f| matches!(f.action, FaultKind::AddServer | FaultKind::RemoveServer));
        if changes && self.protocol != ProtocolKind::Raft {
            return Err(Error::invalid(
                origin,
                "faults",
                "add_server / remove_server",
                "membership changes with protocol raft only",
            ));
        }
        if self.uses_membership() && self.nodes > MEMBERS_MAX {
            return Err(Error::invalid(
                origin,
                "nodes",
                self.nodes,
                format!("at most {MEMBERS_MAX} with membership changes (raft.membership, raft.initial_members, add_server / remove_server)"),
            ));
        }
        if let Some(members) = &self.raft.initial_members {
            let allowed = || format!("a non-empty list of distinct nodes n0 … n{}", self.nodes - 1);
            if members.is_empty() {
                return Err(Error::invalid(origin, "raft.initial_members", "[]", allowed()));
            }
            let mut seen = std::collections::BTreeSet::new();
            for (i, text) in members.iter().enumerate() {
                match NodeId::parse(text) {
                    Some(n) if n.0 < self.nodes && seen.insert(n) => {}
                    _ => {
                        return Err(Error::invalid(
                            origin,
                            format!("raft.initial_members[{i}]"),
                            format!("{text:?}"),
                            allowed(),
                        ))
                    }
                }
            }
        }
        let membership_bug = matches!(self.raft.bug, Bug::MembershipBeforeCommit | Bug::CountRemovedVote);
        if membership_bug && !self.uses_membership() {
            return Err(Error::invalid(
                origin,
                "raft.bug",
                self.raft.bug.as_str(),
                "a bug that needs membership changes (raft.membership = true, raft.initial_members, or add_server / remove_server faults)",
            ));
        }
        Ok(())
    }

    pub fn end(&self) -> SimTime {
        SimTime::from_ms(self.duration_ms)
    }

    /// The kernel's part of this scenario.
    pub fn kernel(&self) -> KernelConfig {
        KernelConfig {
            nodes: self.nodes,
            seed: self.seed,
            end: self.end(),
            events_max: self.events_max,
            queue_max: self.queue_max as usize,
            network: self.network.clone(),
            faults: self.faults.clone(),
            chaos: self.chaos.clone(),
            node: self.node.clone(),
            clocks: self.clocks.clone(),
            clients: self.clients.clone(),
        }
    }

    /// `raft.persist_delay_us`, or node `i`'s own (`[node.nX].persist_delay_us`, a slow disk).
    pub fn persist_delay_us(&self, i: u32) -> u64 {
        node_config::of(&self.node, crate::sim::NodeId(i))
            .and_then(|c| c.persist_delay_us)
            .unwrap_or(self.raft.persist_delay_us)
    }

    /// The resolved scenario as TOML (what `dsim run --dump-scenario` prints).
    pub fn to_toml(&self) -> String {
        toml::to_string(self).unwrap_or_else(|e| format!("# cannot render scenario: {e}\n"))
    }
}

/// Applies `KEY=VALUE` to the TOML tree. VALUE is TOML (`0.1`, `[150, 300]`, `"leader"`), or a bare
/// string when it does not parse as TOML. KEY is dotted; numeric segments index arrays (`faults.0.at_ms`).
pub fn apply_override(tree: &mut toml::Table, origin: &str, set: &str) -> Result<()> {
    let bad = |value: &str, allowed: &str| Error::Flag {
        flag: "--set".into(),
        value: value.into(),
        allowed: allowed.into(),
    };
    let (key, raw) =
        set.split_once('=').ok_or_else(|| bad(set, "KEY=VALUE, e.g. network.drop_probability=0.1"))?;
    let key = key.trim();
    let segments: Vec<&str> = key.split('.').collect();
    if segments.iter().any(|s| s.is_empty()) {
        return Err(bad(set, "a dotted key such as raft.heartbeat_ms"));
    }
    let value = parse_value(raw.trim());
    let (last, parents) = segments.split_last().ok_or_else(|| bad(set, "KEY=VALUE"))?;
    let Some((first, _)) = parents.split_first() else {
        tree.insert((*last).to_owned(), value);
        return Ok(());
    };
    let next_is_index = segments.get(1).is_some_and(|s| s.parse::<usize>().is_ok());
    if next_is_index && !tree.contains_key(*first) {
        return Err(Error::invalid(
            origin,
            key,
            raw.trim(),
            format!("an index into `{first}`, which this scenario does not have: add its entries to the file first"),
        ));
    }
    let mut slot = tree.entry((*first).to_owned()).or_insert_with(|| toml::Value::Table(toml::Table::new()));
    for (depth, seg) in parents.iter().enumerate().skip(1) {
        slot = descend(slot, seg, origin, &segments[..=depth].join("."))?;
    }
    match slot {
        toml::Value::Table(t) => {
            t.insert((*last).to_owned(), value);
        }
        toml::Value::Array(items) => {
            let i: usize = last.parse().map_err(|_| bad(set, "a numeric index into the array"))?;
            let len = items.len();
            *items.get_mut(i).ok_or_else(|| {
                Error::invalid(origin, key, i, format!("an index below {len} (the array's length)"))
            })? = value;
        }
        _ => return Err(Error::invalid(origin, parents.join("."), "(a value)", "a table to hold the key")),
    }
    Ok(())
}

fn descend<'a>(
    slot: &'a mut toml::Value,
    seg: &str,
    origin: &str,
    path: &str,
) -> Result<&'a mut toml::Value> {
    match slot {
        toml::Value::Table(t) => {
            Ok(t.entry(seg.to_owned()).or_insert_with(|| toml::Value::Table(toml::Table::new())))
        }
        toml::Value::Array(items) => {
            let len = items.len();
            let i: usize = seg
                .parse()
                .map_err(|_| Error::invalid(origin, path, seg, "a numeric index into the array"))?;
            items.get_mut(i).ok_or_else(|| Error::invalid(origin, path, i, format!("an index below {len}")))
        }
        _ => Err(Error::invalid(origin, path, "(a value)", "a table to hold the key")),
    }
}

fn parse_value(raw: &str) -> toml::Value {
    toml::from_str::<toml::Table>(&format!("v = {raw}"))
        .ok()
        .and_then(|mut t| t.remove("v"))
        .unwrap_or_else(|| toml::Value::String(raw.to_owned()))
}

/// The `--set`s an error after all overrides is about: those whose key shares the failing field's
/// table (`raft.heartbeat_ms` for `raft.election_timeout_ms`), else all of them.
fn name_sets(error: Error, overrides: &[String]) -> Error {
    let field = match &error {
        Error::Invalid { field, .. } => field.clone(),
        Error::Parse { message, .. } => message.split(':').next().unwrap_or("").trim().to_owned(),
        _ => return error,
    };
    let section = |key: &str| {
        let key = key.split('=').next().unwrap_or("").trim().replace('[', ".").replace(']', "");
        key.split('.').next().unwrap_or("").to_owned()
    };
    let field_section = section(&field);
    let mut involved: Vec<&String> = overrides.iter().filter(|s| section(s) == field_section).collect();
    if involved.is_empty() {
        involved = overrides.iter().collect();
    }
    let origin = involved.iter().map(|s| format!("--set {s}")).collect::<Vec<_>>().join(", ");
    match error {
        Error::Invalid { field, value, allowed, .. } => Error::Invalid { origin, field, value, allowed },
        Error::Parse { message, .. } => Error::Parse { origin, message },
        other => other,
    }
}

fn one_line(text: &dyn std::fmt::Display) -> String {
    text.to_string().split_whitespace().collect::<Vec<_>>().join(" ")
}
