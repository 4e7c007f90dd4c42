//! Per-node state of a checker, indexed by node id.
//!
//! Checkers look up a node's state on almost every row they read; a `Vec` indexed by the id is a
//! load where a `BTreeMap` is a search. Ids come from trace files too, and a hand-made row may name
//! `n4000000000`: ids below [`NodeMap::DENSE_MAX`] live in the `Vec`, larger ones in a `BTreeMap`,
//! so no id can make the map allocate more than a few kilobytes per slot kind. Only [`NodeMap::iter`]
//! iterates it, in id order.

use std::collections::BTreeMap;

use crate::sim::NodeId;

/// A map from node to `V` with the `BTreeMap` calls the checkers use.
#[derive(Clone, Debug)]
pub struct NodeMap<V> {
    dense: Vec<Option<V>>,
    sparse: BTreeMap<NodeId, V>,
}

impl<V> Default for NodeMap<V> {
    fn default() -> Self {
        NodeMap { dense: Vec::new(), sparse: BTreeMap::new() }
    }
}

impl<V> NodeMap<V> {
    /// Ids below this are stored densely.
    pub const DENSE_MAX: u32 = 1 << 12;

    #[inline]
    pub fn get(&self, node: &NodeId) -> Option<&V> {
        if node.0 < Self::DENSE_MAX {
            self.dense.get(node.index()).and_then(Option::as_ref)
        } else {
            self.sparse.get(node)
        }
    }

    #[inline]
    pub fn get_mut(&mut self, node: &NodeId) -> Option<&mut V> {
        if node.0 < Self::DENSE_MAX {
            self.dense.get_mut(node.index()).and_then(Option::as_mut)
        } else {
            self.sparse.get_mut(node)
        }
    }

    /// The dense slot of `node` (which must be below `DENSE_MAX`), created empty if needed.
    #[inline]
    fn slot(&mut self, node: NodeId) -> &mut Option<V> {
        let i = node.index();
        if i >= self.dense.len() {
            self.grow(i + 1);
        }
        &mut self.dense[i]
    }

    /// Out of line: a node's first row only, so the lookups that inline `slot` stay small.
    #[cold]
    #[inline(never)]
    fn grow(&mut self, len: usize) {
        self.dense.resize_with(len, || None);
    }

    pub fn insert(&mut self, node: NodeId, value: V) -> Option<V> {
        if node.0 < Self::DENSE_MAX {
            self.slot(node).replace(value)
        } else {
            self.sparse.insert(node, value)
        }
    }

    pub fn remove(&mut self, node: &NodeId) -> Option<V> {
        if node.0 < Self::DENSE_MAX {
            self.dense.get_mut(node.index()).and_then(Option::take)
        } else {
            self.sparse.remove(node)
        }
    }

    /// Every node's value, in id order (dense ids are all below sparse ones).
    pub fn iter(&self) -> impl Iterator<Item = (NodeId, &V)> {
        let dense = self.dense.iter().enumerate().filter_map(|(i, v)| Some((NodeId(i as u32), v.as_ref()?)));
        dense.chain(self.sparse.iter().map(|(k, v)| (*k, v)))
    }

    /// Calls `f` on every node's value, in id order: [`NodeMap::iter`] without the chained
    /// iterator, for a loop on a hot path.
    #[inline]
    pub fn for_each(&self, mut f: impl FnMut(NodeId, &V)) {
        for (i, v) in self.dense.iter().enumerate() {
            if let Some(v) = v {
                f(NodeId(i as u32), v);
            }
        }
        for (k, v) in &self.sparse {
            f(*k, v);
        }
    }

    /// Calls `f` on every node's value, in id order.
    pub fn for_each_mut(&mut self, mut f: impl FnMut(NodeId, &mut V)) {
        for (i, v) in self.dense.iter_mut().enumerate() {
            if let Some(v) = v {
                f(NodeId(i as u32), v);
            }
        }
        for (k, v) in self.sparse.iter_mut() {
            f(*k, v);
        }
    }

    /// `node`'s value, inserting `V::default()` first if it has none.
    #[inline]
    pub fn entry_or_default(&mut self, node: NodeId) -> &mut V
    where
        V: Default,
    {
        if node.0 < Self::DENSE_MAX {
            self.slot(node).get_or_insert_with(V::default)
        } else {
            self.sparse.entry(node).or_default()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Behaves as a `BTreeMap` on dense and sparse ids alike.
    #[test]
    fn acts_like_a_map() {
        let mut m: NodeMap<u64> = NodeMap::default();
        for id in [0, 3, NodeMap::<u64>::DENSE_MAX - 1, NodeMap::<u64>::DENSE_MAX, u32::MAX] {
            let n = NodeId(id);
            assert_eq!(m.get(&n), None);
            assert_eq!(m.insert(n, 1), None);
            assert_eq!(m.insert(n, 2), Some(1));
            *m.get_mut(&n).unwrap() += 1;
            *m.entry_or_default(n) += 1;
            assert_eq!(m.get(&n), Some(&4));
            assert_eq!(m.remove(&n), Some(4));
            assert_eq!(m.remove(&n), None);
            assert_eq!(*m.entry_or_default(n), 0);
        }
        assert!(m.dense.len() <= NodeMap::<u64>::DENSE_MAX as usize, "large ids stay sparse");
        assert_eq!(m.sparse.len(), 2);
    }
}
