//! A ShiViz log, loadable as-is through ShiViz's "upload a file".
//!
//! File layout (ShiViz's upload format): line 1 is the parsing regex [`REGEX`], line 2 the
//! multiple-executions delimiter (empty: one execution), then one entry per event: a line of event
//! text, then a line `host {"host":n, …}` with the event's vector clock as JSON.
//!
//! Clocks are computed here by replaying the selected rows (the trace's own `clock` column is the
//! eventual KV's data, not a clock of every event). ShiViz's rules hold for every host: the host's
//! own entry is 1 on its first event and grows by exactly one per logged event; a send is an event
//! (its clock travels with the message); a delivery merges the clock of the matching send, then
//! counts as one event; entries never name a host that is not in the log. Each row with a node is
//! one event, except `drop` and `duplicate` rows, which are folded into their send's text (ShiViz
//! would otherwise show a local event the sender never saw). Rows without a node (partitions,
//! heals) have no host and are left out. A delivery whose send is outside the window or on a node
//! not shown has no clock to merge and is a local event.

use std::collections::BTreeMap;
use std::io::{self, Write};

use crate::export::{describe, format_us, Part, Selection};
use crate::sim::NodeId;
use crate::trace::{Event, Record};

/// ShiViz's default parsing regex, written out so the file carries it.
pub const REGEX: &str = r"(?<event>.*)\n(?<host>\S*) (?<clock>\{.*\})";

/// A vector clock: entries for hosts with a non-zero count.
type VClock = BTreeMap<NodeId, u64>;

/// Writes one selection as a ShiViz log.
pub struct ShiViz<'a> {
    sel: &'a Selection,
}

/// What was written.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ShiVizSummary {
    pub events: u64,
    /// Deliveries that merged their send's clock (the arrows ShiViz draws).
    pub messages: u64,
}

impl<'a> ShiViz<'a> {
    pub fn new(sel: &'a Selection) -> ShiViz<'a> {
        ShiViz { sel }
    }

    pub fn write<W: Write>(&self, out: &mut W) -> io::Result<ShiVizSummary> {
        let sel = self.sel;
        writeln!(out, "{REGEX}")?;
        writeln!(out)?;
        let mut clocks: Vec<VClock> = vec![VClock::new(); sel.nodes_total as usize];
        // The clock each logged departure (send or duplicate row) carried, by row index.
        let mut carried: BTreeMap<usize, VClock> = BTreeMap::new();
        let mut summary = ShiVizSummary::default();
        for (i, row) in sel.rows.iter().enumerate() {
            let Some(node) = row.node else { continue };
            if matches!(row.event, Event::Drop | Event::Duplicate) || !sel.is_shown(node) {
                continue;
            }
            let clock = &mut clocks[node.index()];
            if let Some(sent) = self.departure(i).and_then(|d| carried.get(&d)) {
                for (host, count) in sent {
                    let entry = clock.entry(*host).or_default();
                    *entry = (*entry).max(*count);
                }
                summary.messages += 1;
            }
            *clock.entry(node).or_default() += 1;
            if row.event == Event::Send {
                carried.insert(i, clock.clone());
                if let Some(dup) = self.duplicate_row(i) {
                    carried.insert(dup, clock.clone());
                }
            }
            writeln!(out, "{}", self.text(i, row))?;
            writeln!(out, "{node} {}", clock_json(clock))?;
            summary.events += 1;
        }
        Ok(summary)
    }

    /// For a delivery row, the kept row its copy departed from (send, or duplicate for copy 2).
    fn departure(&self, i: usize) -> Option<usize> {
        let (flight, part) = self.sel.flight_of(i)?;
        match part {
            Part::Arrival(0) => flight.send_row,
            Part::Arrival(_) => flight.duplicate_row,
            _ => None,
        }
        .filter(|_| self.sel.rows[i].event == Event::Deliver)
    }

    fn duplicate_row(&self, i: usize) -> Option<usize> {
        self.sel.flight_of(i).and_then(|(flight, _)| flight.duplicate_row)
    }

    /// The event line: time, the row, and for a send what became of it. Braces are replaced so a
    /// line can never be mistaken for a clock line.
    fn text(&self, i: usize, row: &Record) -> String {
        let mut text = format!("{} {}", format_us(row.time_us), describe(row));
        if let (Event::Send, Some((flight, _))) = (row.event, self.sel.flight_of(i)) {
            if flight.copies > 1 {
                text.push_str(" [duplicated]");
            }
            for a in &flight.arrivals {
                if let Some(reason) = &a.dropped {
                    text.push_str(&format!(" [dropped: {reason} at {}]", format_us(a.at_us)));
                }
            }
        }
        text.replace('{', "(").replace('}', ")").replace('\n', " ")
    }
}

fn clock_json(clock: &VClock) -> String {
    let entries: Vec<String> = clock.iter().map(|(host, count)| format!("\"{host}\":{count}")).collect();
    format!("{{{}}}", entries.join(", "))
}
