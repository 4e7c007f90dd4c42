//! The answer of a linearizability check, as text (with a Knossos-style timeline of the ops that
//! cannot be linearised) and as JSON.
//!
//! The timeline runs down the page, one column per process, one line per invocation or completion
//! in real-time order; `+` opens and closes an op's box, `|` is an op in flight, `:` an op whose
//! outcome is unknown (`info` or never completed: it may take effect at any later time or never).

use std::fmt::Write as _;

use serde_json::{json, Value as Json};

use crate::lin::history::{Completion, History, Source};
use crate::lin::search::Outcome;

/// The overall answer for a history.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Report {
    pub outcome: Outcome,
    /// Keys and ops in the history.
    pub keys: usize,
    pub ops: usize,
    /// Configurations visited, over all keys searched (not counting the shrink).
    pub states: u64,
    /// The per-key budget the search ran with.
    pub states_max: u64,
    /// The key that is not linearizable (or the first undecided one).
    pub key: Option<u32>,
    /// Not linearizable: indexes into `history.ops()` that cannot be linearised, in invocation
    /// order (shrunk from the key's history).
    pub witness: Vec<usize>,
    /// The witness is 1-minimal.
    pub minimal: bool,
}

impl Report {
    /// One line: `linearizable (3 keys, 120 ops, 512 states)`, or what failed.
    pub fn summary(&self, history: &History) -> String {
        let size = format!("{} keys, {} ops, {} states", self.keys, self.ops, self.states);
        let key = self.key.map_or(String::new(), |k| history.show_key(k));
        match self.outcome {
            Outcome::Linearizable if self.ops == 0 => {
                format!(
                    "linearizable, vacuously: no client ops (invoke/ok/fail/info) in the history ({size})"
                )
            }
            Outcome::Linearizable => format!("linearizable ({size})"),
            Outcome::NotLinearizable => format!(
                "not linearizable: key {key}: {} ops cannot be linearised{} ({size})",
                self.witness.len(),
                if self.minimal { " (1-minimal)" } else { "" }
            ),
            Outcome::Undecided => format!(
                "undecided: key {key} needs more than {} search states (--lin-budget); not a pass ({size})",
                self.states_max
            ),
        }
    }

    /// The summary, then (not linearizable) the witness ops and their timeline.
    pub fn to_text(&self, history: &History) -> String {
        let mut out = self.summary(history);
        out.push('\n');
        if self.outcome == Outcome::NotLinearizable {
            for &i in &self.witness {
                let _ = writeln!(out, "  {}", history.describe(&history.ops()[i]));
            }
            out.push('\n');
            out.push_str(&timeline(history, &self.witness));
        }
        out
    }

    pub fn to_json(&self, history: &History) -> Json {
        let outcome = match self.outcome {
            Outcome::Linearizable => "linearizable",
            Outcome::NotLinearizable => "not_linearizable",
            Outcome::Undecided => "undecided",
        };
        let ops: Vec<Json> = self
            .witness
            .iter()
            .map(|&i| {
                let op = &history.ops()[i];
                json!({
                    "id": op.id,
                    "process": op.process,
                    "call": history.show_call(op),
                    "type": op.completion.as_str(),
                    "invoke": op.invoke.line,
                    "complete": op.completion.at().map(|at| at.line),
                })
            })
            .collect();
        json!({
            "result": outcome,
            "keys": self.keys,
            "ops": self.ops,
            "states": self.states,
            "states_max": self.states_max,
            "key": self.key.map(|k| history.show_key(k)),
            "witness": ops,
            "minimal": self.minimal,
            "positions": history.line_name(),
            "summary": self.summary(history),
        })
    }
}

/// A text timeline of `ops` (indexes into `history.ops()`): time runs down, one column per process.
pub fn timeline(history: &History, ops: &[usize]) -> String {
    let all = history.ops();
    let mut processes: Vec<u64> = ops.iter().map(|&i| all[i].process).collect();
    processes.sort_unstable();
    processes.dedup();
    let column = |p: u64| processes.binary_search(&p).unwrap_or(0);
    // (pos, line, time_ns, op, is_completion)
    let mut events = Vec::new();
    for &i in ops {
        let op = &all[i];
        events.push((op.invoke.pos, op.invoke.line, op.invoke.time_ns, i, false));
        if let Some(at) = op.completion.at() {
            events.push((at.pos, at.line, at.time_ns, i, true));
        }
    }
    events.sort_unstable_by_key(|e| e.0);
    let cell = |i: usize, completion: bool| -> String {
        let op = &all[i];
        match (completion, op.completion) {
            (false, _) => format!("+ {} [op {}]", history.show_call(op), op.id),
            (true, Completion::Ok(_)) => "+ ok".to_owned(),
            (true, c) => format!("+ {} (may take effect later or never)", c.as_str()),
        }
    };
    let mut width: Vec<usize> = processes.iter().map(|p| format!("p{p}").len() + 2).collect();
    for &(_, _, _, i, completion) in &events {
        let c = column(all[i].process);
        width[c] = width[c].max(cell(i, completion).chars().count() + 2);
    }
    let time_name = match history.source() {
        Source::Trace => "time_us",
        Source::Edn => "time_ns",
    };
    let show_time = |t: Option<u64>| match (history.source(), t) {
        (_, None) => "-".to_owned(),
        (Source::Trace, Some(ns)) => (ns / 1_000).to_string(),
        (Source::Edn, Some(ns)) => ns.to_string(),
    };
    let mut out = String::new();
    let _ = write!(out, "{:>12} {:>8}  ", time_name, history.line_name());
    for (c, p) in processes.iter().enumerate() {
        let _ = write!(out, "{:<w$}", format!("p{p}"), w = width[c]);
    }
    out.truncate(out.trim_end().len());
    out.push('\n');
    // What each process column shows between its events: nothing, `|` in flight, `:` unknown.
    let mut open: Vec<&str> = vec![""; processes.len()];
    for &(_, line, time_ns, i, completion) in &events {
        let c = column(all[i].process);
        let _ = write!(out, "{:>12} {:>8}  ", show_time(time_ns), line);
        for (k, w) in width.iter().enumerate() {
            let text = if k == c { cell(i, completion) } else { open[k].to_owned() };
            let _ = write!(out, "{text:<w$}");
        }
        out.truncate(out.trim_end().len());
        out.push('\n');
        open[c] = match (completion, all[i].completion) {
            (false, Completion::None) | (true, Completion::Info(_)) => ":",
            (false, _) => "|",
            (true, _) => "",
        };
    }
    out
}
