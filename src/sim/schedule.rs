//! Recorded schedules: every message's fate and every fault's firing, as a text file a run can be
//! driven by instead of the seed's network, fault and chaos streams (docs/schedule.md).
//!
//! A message is keyed by its directed link and its place on it: `(from, to, k)` is the k-th
//! message (from 0) that `from` put on the wire to `to`. The key is stable under edits elsewhere:
//! turning one drop into a delivery or removing one duplicate never renames another link's
//! messages. A message without an entry is delivered once, after the latency the seed draws for it
//! (no loss, no duplicate). The faults are the resolved `[[faults]]` entries (their drawn times and
//! durations) and the `[chaos]` generator's crashes and partitions, each as it fired; a run driven
//! by a schedule ignores the scenario's `[[faults]]` and `[chaos]` and fires these instead. A
//! schedule recorded from a seeded run replays it byte for byte: the entries are the draws.
//!
//! Client links (client ↔ node) are not part of a schedule; they stay drawn from the seed.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use crate::error::{Error, Result};
use crate::sim::faults::{FaultAction, HealTarget, Target};
use crate::sim::network::{Fate, LATENCY_US_MAX};
use crate::sim::partition::Cut;
use crate::sim::{NodeId, SimDuration, SimTime};

/// The first line of every schedule file.
pub const HEADER: &str = "# dsim schedule/1";
/// At most this many lines in a schedule file.
pub const LINES_MAX: usize = 50_000_000;
/// Times and durations are at most this (µs): 10^12, about 11.6 days.
const US_MAX: u64 = 1_000_000_000_000;

/// One line of a schedule.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Entry {
    /// The `k`-th message from `from` to `to`, sent at `at` (informational), and its fate.
    Send { at: SimTime, from: NodeId, to: NodeId, k: u64, fate: Fate },
    /// A resolved `[[faults]]` entry firing at `at`.
    Fault { at: SimTime, action: FaultAction },
    /// A chaos crash at `at`: its victim (none: skipped, `max_down` reached) and down time.
    ChaosCrash { at: SimTime, victim: Option<NodeId>, down: SimDuration },
    /// A chaos partition at `at` (none: a one-node cluster, nothing to cut) lasting `lasts`.
    ChaosPartition { at: SimTime, cut: Option<Cut>, lasts: SimDuration },
}

impl Entry {
    /// When the entry happens (a message: when it was sent).
    pub fn at(&self) -> SimTime {
        match self {
            Entry::Send { at, .. }
            | Entry::Fault { at, .. }
            | Entry::ChaosCrash { at, .. }
            | Entry::ChaosPartition { at, .. } => *at,
        }
    }

    /// Whether the entry is a fault (not a message).
    pub fn is_fault(&self) -> bool {
        !matches!(self, Entry::Send { .. })
    }
}

/// A whole schedule, in time order (entries of one time in the order they happened).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Schedule {
    pub entries: Vec<Entry>,
}

/// A schedule as the runner reads it while replaying.
#[derive(Clone, Debug, Default)]
pub struct Replay {
    pub fates: BTreeMap<(NodeId, NodeId, u64), Fate>,
    pub faults: Vec<(SimTime, FaultAction)>,
    pub chaos_crashes: Vec<(SimTime, Option<NodeId>, SimDuration)>,
    pub chaos_partitions: Vec<(SimTime, Option<Cut>, SimDuration)>,
}

impl Schedule {
    /// Splits the entries by kind for the runner.
    pub fn replay(&self) -> Replay {
        let mut r = Replay::default();
        for e in &self.entries {
            match e {
                Entry::Send { from, to, k, fate, .. } => {
                    r.fates.insert((*from, *to, *k), *fate);
                }
                Entry::Fault { at, action } => r.faults.push((*at, action.clone())),
                Entry::ChaosCrash { at, victim, down } => r.chaos_crashes.push((*at, *victim, *down)),
                Entry::ChaosPartition { at, cut, lasts } => {
                    r.chaos_partitions.push((*at, cut.clone(), *lasts))
                }
            }
        }
        r
    }

    /// Orders the entries by time, keeping the order of entries of one time (a stable sort).
    pub fn sort(&mut self) {
        self.entries.sort_by_key(Entry::at);
    }

    /// Fault entries (crashes, restarts, partitions, heals, pauses, chaos).
    pub fn faults(&self) -> usize {
        self.entries.iter().filter(|e| e.is_fault()).count()
    }

    /// The file's text.
    pub fn to_text(&self) -> String {
        let mut out = String::with_capacity(40 * self.entries.len() + 200);
        out.push_str(HEADER);
        out.push_str(
            " (docs/schedule.md): send TIME_US FROM TO K deliver|drop DELAY_US | dup DELAY_US DELAY2_US\n",
        );
        for e in &self.entries {
            write_entry(&mut out, e);
            out.push('\n');
        }
        out
    }

    /// Parses a schedule file's text; `origin` (the file) and the line number name every error.
    /// `nodes` is the cluster size the schedule must fit.
    pub fn parse(origin: &str, text: &str, nodes: u32) -> Result<Schedule> {
        let mut entries = Vec::new();
        for (i, line) in text.lines().enumerate() {
            if i >= LINES_MAX {
                return Err(Error::invalid(origin, "lines", "(more)", format!("at most {LINES_MAX} lines")));
            }
            let line = line.trim();
            if line.is_empty() || line.starts_with('#') {
                continue;
            }
            let at = format!("{origin}:{}", i + 1);
            entries.push(parse_entry(&at, line, nodes)?);
        }
        let mut s = Schedule { entries };
        s.sort();
        Ok(s)
    }
}

fn node_or(target: Option<NodeId>, none: &str) -> String {
    target.map_or_else(|| none.to_owned(), |n| n.to_string())
}

fn opt_us(d: Option<SimDuration>) -> String {
    d.map_or_else(|| "-".to_owned(), |d| d.as_us().to_string())
}

fn target_text(t: Target) -> String {
    match t {
        Target::Node(n) => n.to_string(),
        Target::Leader => "leader".to_owned(),
    }
}

fn write_entry(out: &mut String, e: &Entry) {
    let _ = match e {
        Entry::Send { at, from, to, k, fate } => {
            let _ = write!(out, "send {} {from} {to} {k} ", at.as_us());
            match (fate.dropped, fate.duplicate) {
                (true, _) => write!(out, "drop {}", fate.delay.as_us()),
                (false, None) => write!(out, "deliver {}", fate.delay.as_us()),
                (false, Some(d)) => write!(out, "dup {} {}", fate.delay.as_us(), d.as_us()),
            }
        }
        Entry::Fault { at, action } => {
            let _ = write!(out, "fault {} ", at.as_us());
            match action {
                FaultAction::Crash { target, restart_after } => {
                    write!(out, "crash {} {}", target_text(*target), opt_us(*restart_after))
                }
                FaultAction::Restart { node } => write!(out, "restart {node}"),
                FaultAction::Partition { name, cut, heal_after } => {
                    write!(out, "partition {name} {} {}", cut.text(), opt_us(*heal_after))
                }
                FaultAction::Heal(HealTarget::Name(name)) => write!(out, "heal {name}"),
                FaultAction::Heal(_) => write!(out, "heal *"),
                FaultAction::Pause { target, pause } => {
                    write!(out, "pause {} {}", target_text(*target), pause.as_us())
                }
                FaultAction::Resume { node } => write!(out, "resume {node}"),
                FaultAction::Transfer { to } => write!(out, "transfer {}", node_or(*to, "-")),
                FaultAction::AddServer { node } => write!(out, "add_server {node}"),
                FaultAction::RemoveServer { target } => write!(out, "remove_server {}", target_text(*target)),
            }
        }
        Entry::ChaosCrash { at, victim, down } => {
            write!(out, "chaos_crash {} {} {}", at.as_us(), node_or(*victim, "-"), down.as_us())
        }
        Entry::ChaosPartition { at, cut, lasts } => {
            let cut = cut.as_ref().map_or_else(|| "-".to_owned(), Cut::text);
            write!(out, "chaos_partition {} {cut} {}", at.as_us(), lasts.as_us())
        }
    };
}

/// Reads the fields of one line, naming the line and field in errors.
struct Fields<'a> {
    origin: &'a str,
    kind: &'a str,
    words: Vec<&'a str>,
    nodes: u32,
}

impl<'a> Fields<'a> {
    fn bad(&self, field: &str, value: &str, allowed: impl Into<String>) -> Error {
        Error::invalid(self.origin, format!("{}.{field}", self.kind), value, allowed)
    }

    fn word(&self, i: usize, field: &str, allowed: &str) -> Result<&'a str> {
        self.words.get(i).copied().ok_or_else(|| self.bad(field, "(missing)", allowed))
    }

    fn count(&self, n: usize, form: &str) -> Result<()> {
        if self.words.len() == n {
            return Ok(());
        }
        let got = self.words.len().to_string();
        Err(self.bad("fields", &got, format!("{n} fields: {form}")))
    }

    fn us(&self, i: usize, field: &str) -> Result<u64> {
        let allowed = format!("an integer of µs in [0, {US_MAX}]");
        let w = self.word(i, field, &allowed)?;
        w.parse::<u64>().ok().filter(|v| *v <= US_MAX).ok_or_else(|| self.bad(field, w, allowed))
    }

    fn delay(&self, i: usize, field: &str) -> Result<SimDuration> {
        let allowed = format!("an integer of µs in [0, {LATENCY_US_MAX}]");
        let w = self.word(i, field, &allowed)?;
        let v = w.parse::<u64>().ok().filter(|v| *v <= LATENCY_US_MAX);
        v.map(SimDuration).ok_or_else(|| self.bad(field, w, allowed))
    }

    fn opt_us(&self, i: usize, field: &str) -> Result<Option<SimDuration>> {
        if self.words.get(i) == Some(&"-") {
            return Ok(None);
        }
        self.us(i, field).map(|v| Some(SimDuration(v)))
    }

    fn node(&self, i: usize, field: &str) -> Result<NodeId> {
        let allowed = format!("a node n0 … n{}", self.nodes.saturating_sub(1));
        let w = self.word(i, field, &allowed)?;
        NodeId::parse(w).filter(|n| n.0 < self.nodes).ok_or_else(|| self.bad(field, w, allowed))
    }

    fn target(&self, i: usize, field: &str) -> Result<Target> {
        if self.words.get(i) == Some(&"leader") {
            return Ok(Target::Leader);
        }
        self.node(i, field).map(Target::Node).map_err(|_| {
            let w = self.words.get(i).copied().unwrap_or("(missing)");
            self.bad(field, w, format!("leader, or a node n0 … n{}", self.nodes.saturating_sub(1)))
        })
    }

    fn name(&self, i: usize, field: &str) -> Result<String> {
        let allowed = "1 to 64 letters, digits, '_' or '-'";
        let w = self.word(i, field, allowed)?;
        let ok =
            (1..=64).contains(&w.len()) && w.chars().all(|c| c.is_ascii_alphanumeric() || "_-".contains(c));
        if ok {
            Ok(w.to_owned())
        } else {
            Err(self.bad(field, w, allowed))
        }
    }

    /// `n0,n1|n2,n3` (groups) or `n0,n1>n2` (one-way), each node at most once.
    fn cut(&self, i: usize, field: &str) -> Result<Cut> {
        let allowed = "groups n0,n1|n2,n3 or one-way n0,n1>n2: known nodes, each at most once, no empty set";
        let w = self.word(i, field, allowed)?;
        let bad = || self.bad(field, w, allowed);
        let set = |text: &str| -> Option<Vec<NodeId>> {
            text.split(',').map(|n| NodeId::parse(n).filter(|n| n.0 < self.nodes)).collect()
        };
        let cut = match w.split_once('>') {
            Some((from, to)) => {
                Cut::OneWay { from: set(from).ok_or_else(bad)?, to: set(to).ok_or_else(bad)? }
            }
            None => Cut::Groups(w.split('|').map(set).collect::<Option<Vec<_>>>().ok_or_else(bad)?),
        };
        let all: Vec<NodeId> = match &cut {
            Cut::Groups(g) => g.iter().flatten().copied().collect(),
            Cut::OneWay { from, to } => from.iter().chain(to).copied().collect(),
        };
        let mut sorted = all.clone();
        sorted.sort_unstable();
        sorted.dedup();
        if sorted.len() != all.len() {
            return Err(bad());
        }
        Ok(cut)
    }
}

const SEND_FORM: &str = "send TIME_US FROM TO K deliver DELAY_US | drop DELAY_US | dup DELAY_US DELAY2_US";
const FAULT_FORM: &str = "fault TIME_US crash NODE|leader RESTART_AFTER_US|- | restart NODE | \
                          partition NAME CUT HEAL_AFTER_US|- | heal NAME|* | pause NODE|leader PAUSE_US | \
                          transfer NODE|- | add_server NODE | remove_server NODE|leader";

const ACTIONS: &str = "crash, restart, partition, heal, pause, transfer, add_server or remove_server";

fn parse_entry(origin: &str, line: &str, nodes: u32) -> Result<Entry> {
    let words: Vec<&str> = line.split_whitespace().collect();
    let kind = words[0];
    let f = Fields { origin, kind, words, nodes };
    let at = |f: &Fields| f.us(1, "time_us").map(SimTime);
    match kind {
        "send" => {
            let (at, from, to) = (at(&f)?, f.node(2, "from")?, f.node(3, "to")?);
            let k = f.us(4, "k")?;
            let fate_word = f.word(5, "fate", "deliver, drop or dup")?;
            let delay = f.delay(6, "delay_us")?;
            let fate = match fate_word {
                "deliver" | "drop" => {
                    f.count(7, SEND_FORM)?;
                    Fate { dropped: fate_word == "drop", delay, duplicate: None }
                }
                "dup" => {
                    f.count(8, SEND_FORM)?;
                    Fate { dropped: false, delay, duplicate: Some(f.delay(7, "delay2_us")?) }
                }
                other => return Err(f.bad("fate", other, "deliver, drop or dup")),
            };
            Ok(Entry::Send { at, from, to, k, fate })
        }
        "fault" => {
            let at = at(&f)?;
            let action_word = f.word(2, "action", ACTIONS)?;
            let (action, n) = match action_word {
                "crash" => (
                    FaultAction::Crash {
                        target: f.target(3, "node")?,
                        restart_after: f.opt_us(4, "restart_after_us")?,
                    },
                    5,
                ),
                "restart" => (FaultAction::Restart { node: f.node(3, "node")? }, 4),
                "partition" => (
                    FaultAction::Partition {
                        name: f.name(3, "name")?,
                        cut: f.cut(4, "cut")?,
                        heal_after: f.opt_us(5, "heal_after_us")?,
                    },
                    6,
                ),
                "heal" => {
                    let target = match f.word(3, "name", "a partition name or *")? {
                        "*" => HealTarget::All,
                        _ => HealTarget::Name(f.name(3, "name")?),
                    };
                    (FaultAction::Heal(target), 4)
                }
                "pause" => (
                    FaultAction::Pause {
                        target: f.target(3, "node")?,
                        pause: SimDuration(f.us(4, "pause_us")?),
                    },
                    5,
                ),
                "add_server" => (FaultAction::AddServer { node: f.node(3, "node")? }, 4),
                "remove_server" => (FaultAction::RemoveServer { target: f.target(3, "node")? }, 4),
                "transfer" => {
                    let to = match f.word(3, "node", "a node, or - for the most up-to-date follower")? {
                        "-" => None,
                        _ => Some(f.node(3, "node")?),
                    };
                    (FaultAction::Transfer { to }, 4)
                }
                other => return Err(f.bad("action", other, ACTIONS)),
            };
            f.count(n, FAULT_FORM)?;
            Ok(Entry::Fault { at, action })
        }
        "chaos_crash" => {
            f.count(4, "chaos_crash TIME_US NODE|- DOWN_US")?;
            let victim = if f.words[2] == "-" { None } else { Some(f.node(2, "node")?) };
            Ok(Entry::ChaosCrash { at: at(&f)?, victim, down: SimDuration(f.us(3, "down_us")?) })
        }
        "chaos_partition" => {
            f.count(4, "chaos_partition TIME_US CUT|- LASTS_US")?;
            let cut = if f.words[2] == "-" { None } else { Some(f.cut(2, "cut")?) };
            Ok(Entry::ChaosPartition { at: at(&f)?, cut, lasts: SimDuration(f.us(3, "lasts_us")?) })
        }
        other => Err(Error::invalid(
            origin,
            "kind",
            other,
            "send, fault, chaos_crash or chaos_partition (or a # comment)",
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const TEXT: &str = "# dsim schedule/1\n\
        send 10 n0 n1 0 deliver 2500\n\
        send 12 n1 n0 0 drop 300\n\
        send 15 n0 n2 0 dup 100 4000\n\
        fault 20 crash leader 5000\n\
        fault 20 partition west n0,n1|n2 -\n\
        fault 30 heal west\n\
        fault 31 heal *\n\
        fault 32 pause n2 700\n\
        fault 33 restart n1\n\
        fault 34 crash n1 -\n\
        fault 35 partition p1 n0>n1,n2 9\n\
        fault 36 transfer n2\n\
        fault 37 transfer -\n\
        chaos_crash 40 n2 800\n\
        chaos_crash 41 - 800\n\
        chaos_partition 50 n0|n1,n2 900\n";

    #[test]
    fn text_round_trips() {
        let s = Schedule::parse("s", TEXT, 3).unwrap();
        assert_eq!(s.entries.len(), 16);
        assert_eq!(s.faults(), 13);
        let again = Schedule::parse("s", &s.to_text(), 3).unwrap();
        assert_eq!(again, s);
    }

    #[test]
    fn bad_lines_name_file_line_field_and_what_is_allowed() {
        let err = |line: &str| Schedule::parse("s.txt", line, 3).unwrap_err().to_string();
        assert_eq!(err("send 1 n0 n9 0 deliver 5"), "s.txt:1: send.to = n9: a node n0 … n2");
        assert_eq!(err("\nsend 1 n0 n1 0 lost 5"), "s.txt:2: send.fate = lost: deliver, drop or dup");
        assert_eq!(
            err("send x n0 n1 0 deliver 5"),
            "s.txt:1: send.time_us = x: an integer of µs in [0, 1000000000000]"
        );
        assert!(err("send 1 n0 n1 0 deliver 5 6").contains("send.fields = 8: 7 fields"));
        assert!(err("fault 1 explode n1").contains("fault.action = explode"));
        assert!(err("fault 1 partition p n0,n0|n1 -").contains("fault.cut = n0,n0|n1"));
        assert!(err("fault 1 crash boss -").contains("fault.node = boss: leader, or a node"));
        assert!(err("fault 1 transfer n7").contains("fault.node = n7: a node n0 … n2"));
        assert!(err("gossip 1").starts_with("s.txt:1: kind = gossip: send, fault"));
        assert!(err("send 1 n0 n1 0 deliver 99999999999").contains("send.delay_us"));
    }
}
