//! The configuration each server uses (Raft thesis §4.1), rebuilt from its log rows, for the
//! checkers that count majorities.
//!
//! A server uses the latest configuration entry in its log, committed or not. The checker rebuilds
//! every log's configuration entries from its `append` / `store` rows with msg `config` (detail =
//! the members, `n0+n1+n2`) and drops those a `truncate` row removes (a crash's lost suffix
//! included); the base configuration is the `config` note with index 0 each server writes at start
//! (the scenario's `raft.initial_members`). These rows are what `final_state` holds against each
//! server's real log digest. A trace without `config` rows is a classic cluster: every node seen
//! is a member (`ClusterSize`). An `install_snapshot` row with `log=reset` (Figure 13 step 7: the
//! log was discarded) gives the node the configuration entries up to the snapshot's index of the
//! leader whose InstallSnapshot it last received, as its rows show them (compaction writes no
//! rows, so a compacted entry is still there).

use crate::check::node_map::NodeMap;
use crate::check::raft_log::{install_reset, wire, ClusterSize};
use crate::raft::membership::Configuration;
use crate::sim::NodeId;
use crate::trace::{Event, Record};

/// Per node: the base configuration and the configuration entries of its log, by index.
#[derive(Clone, Debug, Default)]
pub struct Configs {
    base: Option<Configuration>,
    logs: NodeMap<Vec<(u64, Configuration)>>,
    /// Per node: the sender of the last InstallSnapshot delivered to it.
    snapshot_from: NodeMap<NodeId>,
    size: ClusterSize,
}

impl Configs {
    /// Reads one row. Inlined: most rows an owner reads (`send`, `commit`, …) only add to the
    /// cluster size, and a call per row would cost more than that.
    #[inline]
    pub fn observe(&mut self, row: &Record) {
        self.size.observe(row);
        match row.event {
            // Of the delivered messages only InstallSnapshot moves a configuration; the name test
            // stays inline, so the other deliveries (most rows) make no call.
            Event::Deliver if wire::is_install_snapshot(row) => self.observe_snapshot(row),
            Event::InstallSnapshot => self.observe_snapshot(row),
            Event::Note | Event::Append | Event::Store | Event::Truncate => self.observe_log(row),
            _ => {}
        }
    }

    /// The rows of the configuration entries: the base `config` note and the log rows.
    fn observe_log(&mut self, row: &Record) {
        let (Some(node), Some(index)) = (row.node, row.index) else { return };
        match row.event {
            Event::Note if row.msg == "config" && index == 0 => {
                if let Some(c) = Configuration::parse(&row.detail) {
                    self.base = Some(c);
                }
            }
            // Without configuration entries (every run without membership changes) nothing to do.
            Event::Append | Event::Store | Event::Truncate => {
                if let Some(log) = self.logs.get_mut(&node) {
                    log.retain(|(i, _)| *i < index);
                }
                if row.event != Event::Truncate && row.msg == "config" {
                    if let Some(c) = Configuration::parse(&row.detail) {
                        self.log(node).push((index, c));
                    }
                }
            }
            _ => {}
        }
    }

    /// The rows of log compaction: who sent a snapshot, and an install that reset the log.
    fn observe_snapshot(&mut self, row: &Record) {
        let Some(node) = row.node else { return };
        if row.event == Event::Deliver && row.msg == wire::INSTALL_SNAPSHOT {
            if let Some(from) = row.peer {
                self.snapshot_from.insert(node, from);
            }
            return;
        }
        let Some(at) = install_reset(row) else { return };
        let upto =
            |l: &Vec<(u64, Configuration)>| l.iter().filter(|(i, _)| *i <= at.index).copied().collect();
        // The sender's entries (none recorded: it held no configuration entry), else its own.
        let prefix: Vec<(u64, Configuration)> = match self.snapshot_from.get(&node) {
            Some(from) => self.logs.get(from).map_or_else(Vec::new, upto),
            None => upto(self.log(node)),
        };
        *self.log(node) = prefix;
    }

    fn log(&mut self, node: NodeId) -> &mut Vec<(u64, Configuration)> {
        if self.logs.get(&node).is_none() {
            self.logs.insert(node, Vec::new());
        }
        self.logs.get_mut(&node).expect("inserted")
    }

    /// The cluster size seen so far (every row the owner reads passes through [`Configs::observe`]).
    pub fn size(&self) -> &ClusterSize {
        &self.size
    }

    /// The configuration `node` uses, `None` in a trace without membership changes.
    pub fn of(&self, node: NodeId) -> Option<Configuration> {
        let latest = self.logs.get(&node).and_then(|l| l.last()).map(|(_, c)| *c);
        latest.or(self.base)
    }

    /// Whether the members among `voters` make a majority of `node`'s configuration (of every
    /// node seen, without membership changes).
    pub fn is_quorum(&self, node: NodeId, voters: impl IntoIterator<Item = NodeId>) -> bool {
        match self.of(node) {
            Some(c) => c.is_quorum(voters),
            None => voters.into_iter().count() >= self.size.majority(),
        }
    }

    /// `node`'s configuration as text (`n0+n1+n2`), or `all N nodes`.
    pub fn describe(&self, node: NodeId) -> String {
        self.of(node).map_or_else(|| format!("all {} nodes", self.size.nodes()), |c| c.to_string())
    }
}
