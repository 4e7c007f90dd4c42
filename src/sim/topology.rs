//! The network's shape: regions with an inter-region delay matrix, per-link overrides and per-node
//! extra latency, resolved from `[[network.regions]]`, `[[network.links]]` and `[node.nX]`.
//!
//! [`Topology`] answers one question per message: which latency distribution, drop and duplicate
//! probability apply from `a` to `b`, and how much fixed delay is added. Precedence, lowest first:
//! `[network]` defaults; then the region matrix entry is *added* to the drawn latency; then every
//! `[[network.links]]` entry that matches the pair overrides the fields it sets, later entries
//! winning, and a link's `latency` replaces both the default distribution and the region delay; the
//! sender's `latency_out_us` and the receiver's `latency_in_us` are always added last.

use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};
use crate::sim::network::{Latency, LATENCY_US_MAX};
use crate::sim::NodeId;

/// One `[[network.regions]]` entry: a named set of nodes and its row of the delay matrix.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RegionSpec {
    pub name: String,
    /// The region's nodes; each node is in at most one region.
    pub nodes: Vec<String>,
    /// Fixed one-way delay (µs) from this region to each region, in the order regions are listed
    /// (the diagonal is the delay inside the region). Added to the drawn latency.
    pub latency_us: Vec<u64>,
}

/// One `[[network.links]]` entry: settings for messages from any node in `from` to any in `to`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LinkSpec {
    /// Node names (`"n3"`) or region names.
    pub from: Vec<String>,
    pub to: Vec<String>,
    /// Also apply from `to` to `from`.
    #[serde(default)]
    pub both_ways: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub latency: Option<Latency>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub drop_probability: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub duplicate_probability: Option<f64>,
}

/// Per-node extra latency (µs), from `[node.nX]`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct NodeLatency {
    pub in_us: u64,
    pub out_us: u64,
}

/// A link resolved to node masks.
#[derive(Clone, Debug)]
struct Link {
    from: Vec<bool>,
    to: Vec<bool>,
    both_ways: bool,
    latency: Option<Latency>,
    drop_probability: Option<f64>,
    duplicate_probability: Option<f64>,
}

impl Link {
    fn matches(&self, a: NodeId, b: NodeId) -> bool {
        let (a, b) = (a.index(), b.index());
        (self.from[a] && self.to[b]) || (self.both_ways && self.from[b] && self.to[a])
    }
}

/// What applies to one message from `a` to `b`.
#[derive(Clone, Copy, Debug)]
pub struct Path<'a> {
    pub latency: &'a Latency,
    pub drop_probability: f64,
    pub duplicate_probability: f64,
    /// Fixed delay added to the drawn latency: region matrix (unless a link set `latency`) plus the
    /// nodes' extra latency.
    pub extra_us: u64,
}

/// The resolved topology of one run.
#[derive(Clone, Debug, Default)]
pub struct Topology {
    /// Region index of each node, if any.
    region: Vec<Option<usize>>,
    matrix: Vec<Vec<u64>>,
    links: Vec<Link>,
    node: Vec<NodeLatency>,
}

/// Checks regions: unique names, at least one node each, nodes known and in one region only, a
/// square matrix of delays at most one hour.
pub fn validate_regions(origin: &str, regions: &[RegionSpec], nodes: u32) -> Result<()> {
    let mut seen = vec![false; nodes as usize];
    for (r, region) in regions.iter().enumerate() {
        let field = format!("network.regions[{r}]");
        if region.name.is_empty() || regions[..r].iter().any(|o| o.name == region.name) {
            return Err(Error::invalid(
                origin,
                format!("{field}.name"),
                format!("{:?}", region.name),
                "a unique non-empty name",
            ));
        }
        if NodeId::parse(&region.name).is_some() {
            return Err(Error::invalid(
                origin,
                format!("{field}.name"),
                &region.name,
                "a name that is not a node name",
            ));
        }
        if region.nodes.is_empty() {
            return Err(Error::invalid(
                origin,
                format!("{field}.nodes"),
                "[]",
                "at least one node (a region without nodes)",
            ));
        }
        for (i, text) in region.nodes.iter().enumerate() {
            let n = parse_node(origin, &format!("{field}.nodes[{i}]"), text, nodes)?;
            if std::mem::replace(&mut seen[n.index()], true) {
                return Err(Error::invalid(
                    origin,
                    format!("{field}.nodes[{i}]"),
                    text,
                    "each node in at most one region",
                ));
            }
        }
        if region.latency_us.len() != regions.len() {
            return Err(Error::invalid(
                origin,
                format!("{field}.latency_us"),
                format!("{} entries", region.latency_us.len()),
                format!("one delay per region ({}), in the order regions are listed", regions.len()),
            ));
        }
        if let Some(us) = region.latency_us.iter().find(|us| **us > LATENCY_US_MAX) {
            return Err(Error::invalid(
                origin,
                format!("{field}.latency_us"),
                us,
                "delays in [0, 3600000000] µs",
            ));
        }
    }
    Ok(())
}

/// Checks links: known nodes or regions, non-empty sets, valid latency and probabilities.
pub fn validate_links(origin: &str, links: &[LinkSpec], regions: &[RegionSpec], nodes: u32) -> Result<()> {
    for (l, link) in links.iter().enumerate() {
        let field = format!("network.links[{l}]");
        resolve_set(origin, &format!("{field}.from"), &link.from, regions, nodes)?;
        resolve_set(origin, &format!("{field}.to"), &link.to, regions, nodes)?;
        if let Some(latency) = &link.latency {
            latency.validate_at(origin, &format!("{field}.latency"))?;
        }
        for (name, p) in [
            ("drop_probability", link.drop_probability),
            ("duplicate_probability", link.duplicate_probability),
        ] {
            if let Some(p) = p.filter(|p| !(p.is_finite() && (0.0..=1.0).contains(p))) {
                return Err(Error::invalid(origin, format!("{field}.{name}"), p, "a probability in [0, 1]"));
            }
        }
    }
    Ok(())
}

fn parse_node(origin: &str, field: &str, text: &str, nodes: u32) -> Result<NodeId> {
    match NodeId::parse(text) {
        Some(n) if n.0 < nodes => Ok(n),
        _ => Err(Error::invalid(origin, field, format!("{text:?}"), format!("a node n0 … n{}", nodes - 1))),
    }
}

/// The nodes named by `names` (node names or region names) as a mask.
fn resolve_set(
    origin: &str,
    field: &str,
    names: &[String],
    regions: &[RegionSpec],
    nodes: u32,
) -> Result<Vec<bool>> {
    if names.is_empty() {
        return Err(Error::invalid(origin, field, "[]", "at least one node or region"));
    }
    let mut mask = vec![false; nodes as usize];
    for (i, text) in names.iter().enumerate() {
        if let Some(region) = regions.iter().find(|r| r.name == *text) {
            for n in region.nodes.iter().filter_map(|n| NodeId::parse(n)) {
                mask[n.index()] = true;
            }
            continue;
        }
        let n = parse_node(origin, &format!("{field}[{i}]"), text, nodes).map_err(|_| {
            Error::invalid(
                origin,
                format!("{field}[{i}]"),
                format!("{text:?}"),
                format!("a node n0 … n{} or a region name", nodes - 1),
            )
        })?;
        mask[n.index()] = true;
    }
    Ok(mask)
}

impl Topology {
    /// Resolves validated regions, links and per-node latency for `nodes` nodes.
    pub fn new(regions: &[RegionSpec], links: &[LinkSpec], node: Vec<NodeLatency>, nodes: u32) -> Topology {
        let mut region = vec![None; nodes as usize];
        for (r, spec) in regions.iter().enumerate() {
            for n in spec.nodes.iter().filter_map(|n| NodeId::parse(n)) {
                region[n.index()] = Some(r);
            }
        }
        let links = links
            .iter()
            .map(|l| Link {
                from: resolve_set("", "", &l.from, regions, nodes).unwrap_or_default(),
                to: resolve_set("", "", &l.to, regions, nodes).unwrap_or_default(),
                both_ways: l.both_ways,
                latency: l.latency.clone(),
                drop_probability: l.drop_probability,
                duplicate_probability: l.duplicate_probability,
            })
            .filter(|l| l.from.len() == nodes as usize && l.to.len() == nodes as usize)
            .collect();
        let mut node = node;
        node.resize(nodes as usize, NodeLatency::default());
        Topology { region, matrix: regions.iter().map(|r| r.latency_us.clone()).collect(), links, node }
    }

    /// Whether anything besides the `[network]` defaults applies (the common, fast case is no).
    pub fn is_flat(&self) -> bool {
        self.matrix.is_empty()
            && self.links.is_empty()
            && self.node.iter().all(|n| *n == NodeLatency::default())
    }

    /// The settings for a message from `a` to `b`, starting from the `[network]` defaults.
    pub fn path<'a>(&'a self, a: NodeId, b: NodeId, latency: &'a Latency, drop: f64, dup: f64) -> Path<'a> {
        let mut path = Path { latency, drop_probability: drop, duplicate_probability: dup, extra_us: 0 };
        let mut link_latency = false;
        for link in self.links.iter().filter(|l| l.matches(a, b)) {
            if let Some(l) = &link.latency {
                path.latency = l;
                link_latency = true;
            }
            path.drop_probability = link.drop_probability.unwrap_or(path.drop_probability);
            path.duplicate_probability = link.duplicate_probability.unwrap_or(path.duplicate_probability);
        }
        if !link_latency {
            if let (Some(ra), Some(rb)) = (self.region[a.index()], self.region[b.index()]) {
                path.extra_us = self.matrix[ra][rb];
            }
        }
        path.extra_us += self.node[a.index()].out_us + self.node[b.index()].in_us;
        path
    }
}
