//! Partitions as named objects that hold at once and heal one by one.
//!
//! A partition is either *groups* (messages between different groups are cut both ways; nodes in
//! no group form one more group together) or *one-way* (messages from any node of `from` to any
//! node of `to` are cut; the other direction passes). Each partition that starts gets an instance
//! number, so its own `heal_after_ms` heals exactly it, never a later one; a `heal` with a name heals
//! the active partitions of that name, a `heal` without one heals them all. A message is cut if any
//! active partition cuts it.

use crate::sim::NodeId;

/// The shape of one partition.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Cut {
    /// Groups of nodes; messages across groups are cut both ways.
    Groups(Vec<Vec<NodeId>>),
    /// Messages from `from` to `to` are cut; `to` to `from` still pass.
    OneWay { from: Vec<NodeId>, to: Vec<NodeId> },
}

impl Cut {
    /// The trace's `detail`: `n0,n1|n2,n3` for groups, `n0,n1>n2` for one-way.
    pub fn text(&self) -> String {
        let list = |g: &[NodeId]| g.iter().map(|n| n.to_string()).collect::<Vec<_>>().join(",");
        match self {
            Cut::Groups(groups) => groups.iter().map(|g| list(g)).collect::<Vec<_>>().join("|"),
            Cut::OneWay { from, to } => format!("{}>{}", list(from), list(to)),
        }
    }
}

/// One active partition, resolved to per-node tags.
#[derive(Clone, Debug)]
struct Active {
    instance: u64,
    name: String,
    /// Groups: each node's group (0 = unlisted). One-way: 1 = in `from`, 2 = in `to`, 0 = neither.
    tag: Vec<u32>,
    one_way: bool,
}

impl Active {
    fn cuts(&self, a: NodeId, b: NodeId) -> bool {
        let (ta, tb) = (self.tag[a.index()], self.tag[b.index()]);
        if self.one_way {
            ta == 1 && tb == 2
        } else {
            ta != tb
        }
    }
}

/// The partitions in force.
#[derive(Clone, Debug, Default)]
pub struct Partitions {
    nodes: u32,
    active: Vec<Active>,
    started: u64,
}

impl Partitions {
    pub fn new(nodes: u32) -> Partitions {
        Partitions { nodes, active: Vec::new(), started: 0 }
    }

    /// Starts a partition named `name`; returns its instance number (for its own heal).
    pub fn start(&mut self, name: &str, cut: &Cut) -> u64 {
        let mut tag = vec![0; self.nodes as usize];
        let one_way = matches!(cut, Cut::OneWay { .. });
        match cut {
            Cut::Groups(groups) => {
                for (i, g) in groups.iter().enumerate() {
                    g.iter().for_each(|n| tag[n.index()] = i as u32 + 1);
                }
            }
            Cut::OneWay { from, to } => {
                from.iter().for_each(|n| tag[n.index()] = 1);
                to.iter().for_each(|n| tag[n.index()] = 2);
            }
        }
        self.started += 1;
        self.active.push(Active { instance: self.started, name: name.to_owned(), tag, one_way });
        self.started
    }

    /// Heals one instance; returns its name if it was still active.
    pub fn heal_instance(&mut self, instance: u64) -> Option<String> {
        let i = self.active.iter().position(|a| a.instance == instance)?;
        Some(self.active.remove(i).name)
    }

    /// Heals every active partition called `name`; returns how many.
    pub fn heal_name(&mut self, name: &str) -> usize {
        let before = self.active.len();
        self.active.retain(|a| a.name != name);
        before - self.active.len()
    }

    /// Heals everything; returns how many were active.
    pub fn heal_all(&mut self) -> usize {
        std::mem::take(&mut self.active).len()
    }

    /// Whether a message from `a` to `b` passes every active partition.
    pub fn connected(&self, a: NodeId, b: NodeId) -> bool {
        self.active.iter().all(|p| !p.cuts(a, b))
    }

    pub fn is_empty(&self) -> bool {
        self.active.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ids(v: &[u32]) -> Vec<NodeId> {
        v.iter().map(|i| NodeId(*i)).collect()
    }

    #[test]
    fn one_way_cuts_one_direction_only() {
        let mut p = Partitions::new(3);
        p.start("x", &Cut::OneWay { from: ids(&[0]), to: ids(&[1, 2]) });
        assert!(!p.connected(NodeId(0), NodeId(1)));
        assert!(!p.connected(NodeId(0), NodeId(2)));
        assert!(p.connected(NodeId(1), NodeId(0)));
        assert!(p.connected(NodeId(1), NodeId(2)));
    }

    #[test]
    fn overlapping_partitions_heal_independently() {
        let mut p = Partitions::new(4);
        let first = p.start("a", &Cut::Groups(vec![ids(&[0])]));
        p.start("b", &Cut::Groups(vec![ids(&[3])]));
        assert!(!p.connected(NodeId(0), NodeId(1)) && !p.connected(NodeId(3), NodeId(1)));
        assert_eq!(p.heal_instance(first).as_deref(), Some("a"));
        assert!(p.connected(NodeId(0), NodeId(1)), "a healed");
        assert!(!p.connected(NodeId(3), NodeId(1)), "b still holds");
        assert_eq!(p.heal_instance(first), None, "healing twice does nothing");
        assert_eq!(p.heal_name("b"), 1);
        assert!(p.is_empty());
    }

    #[test]
    fn cuts_render_for_the_trace() {
        assert_eq!(Cut::Groups(vec![ids(&[0, 1]), ids(&[2])]).text(), "n0,n1|n2");
        assert_eq!(Cut::OneWay { from: ids(&[0]), to: ids(&[1, 2]) }.text(), "n0>n1,n2");
    }
}
