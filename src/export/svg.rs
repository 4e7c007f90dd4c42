//! A space-time (Lamport) diagram as a self-contained SVG, drawn by dsim: one vertical line per
//! node, time going down, an arrow per message.
//!
//! Time is drawn to scale where events are dense and compressed where nothing happens: the gap
//! between two consecutive event times is `dt` scaled to fit, but at least [`GAP_MIN`] pixels (so
//! simultaneous-looking events stay apart) and at most [`GAP_MAX`] (so an idle stretch does not
//! push the rest off screen); a compressed gap is marked on the time axis with its real length.
//! Marks: role spans are coloured bands on the node's line (grey follower, orange candidate, green
//! leader) labelled `leader t3`; a crash is a red ×, and the node's line is dashed red while down;
//! a partition is a shaded band across the diagram. A delivered message is an arrow in its
//! message type's colour; a dropped one stops short and ends in a red ×; a message still in flight
//! when the trace ends goes half way, dashed; an arrow whose other end lies outside the window is
//! dashed and starts at the top edge or ends at the bottom edge. Every mark has a tooltip (`<title>`)
//! with the exact row. Messages to or from a node left out by `--nodes` are not drawn (their rows
//! still get a dot). The diagram refuses windows over [`ROWS_MAX`] rows (see `Filter`).

use std::collections::BTreeMap;
use std::fmt::Write as _;

use crate::export::{describe, format_us, Flight, Selection, SpanKind};
use crate::sim::NodeId;
use crate::trace::Event;

/// The most rows one diagram draws; a larger window is refused with a hint to narrow it.
pub const ROWS_MAX: usize = 5_000;
/// Fewest pixels between two distinct event times.
pub const GAP_MIN: f64 = 14.0;
/// Most pixels between two distinct event times; longer gaps are compressed and marked.
pub const GAP_MAX: f64 = 90.0;

const AXIS_W: f64 = 110.0;
/// Labels are cut to this many characters (the tooltip has the whole row).
const LABEL_CHARS: usize = 36;
/// Room right of the last column for its labels.
const RIGHT_PAD: f64 = 150.0;
const COLUMN_W: f64 = 170.0;
const TOP: f64 = 136.0;
const BOTTOM_PAD: f64 = 40.0;
/// Colours for message types, in order of their sorted names.
const PALETTE: [&str; 8] =
    ["#1f77b4", "#9467bd", "#17becf", "#8c564b", "#e377c2", "#bcbd22", "#7f7f7f", "#2ca02c"];
const RED: &str = "#d62728";

/// Draws one selection.
pub struct Svg<'a> {
    sel: &'a Selection,
    /// (time, y) for every distinct event time, ascending in both.
    anchors: Vec<(u64, f64)>,
    /// Message type -> palette index.
    colours: BTreeMap<String, usize>,
}

/// What was drawn.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct SvgSummary {
    pub rows: u64,
    pub messages: u64,
    pub dropped: u64,
}

fn esc(text: &str) -> String {
    let mut s = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => s.push_str("&amp;"),
            '<' => s.push_str("&lt;"),
            '>' => s.push_str("&gt;"),
            '"' => s.push_str("&quot;"),
            c if (c as u32) < 0x20 && c != '\n' => s.push(' '),
            c => s.push(c),
        }
    }
    s
}

fn role_colour(role: &str) -> &'static str {
    match role {
        "leader" => "#2ca02c",
        "candidate" => "#ff7f0e",
        "follower" => "#b0b0b0",
        _ => "#6baed6",
    }
}

impl<'a> Svg<'a> {
    pub fn new(sel: &'a Selection) -> Svg<'a> {
        let mut times: Vec<u64> = sel.rows.iter().map(|r| r.time_us).collect();
        times.push(sel.from_us);
        times.push(sel.to_us);
        times.sort_unstable();
        times.dedup();
        let span = (sel.to_us - sel.from_us).max(1) as f64;
        // Aim for ~24 px per distinct time on average, at least 600 px in all.
        let scale = (times.len() as f64 * 24.0).max(600.0) / span;
        let mut anchors = Vec::with_capacity(times.len());
        let mut y = TOP;
        for (i, t) in times.iter().enumerate() {
            if i > 0 {
                let dt = (t - times[i - 1]) as f64;
                y += (dt * scale).clamp(GAP_MIN, GAP_MAX);
            }
            anchors.push((*t, y));
        }
        let mut names: Vec<&str> = sel.flights.iter().map(|f| f.msg.as_str()).collect();
        names.sort_unstable();
        names.dedup();
        let colours = names.iter().enumerate().map(|(i, n)| ((*n).to_owned(), i % PALETTE.len())).collect();
        Svg { sel, anchors, colours }
    }

    /// The y of time `t`: exact at event times, interpolated between, clamped to the window.
    fn y(&self, t: u64) -> f64 {
        let i = self.anchors.partition_point(|(at, _)| *at < t);
        if i == 0 {
            return self.anchors[0].1;
        }
        if i == self.anchors.len() {
            return self.anchors[i - 1].1;
        }
        let (t1, y1) = self.anchors[i];
        if t1 == t {
            return y1;
        }
        let (t0, y0) = self.anchors[i - 1];
        y0 + (y1 - y0) * (t - t0) as f64 / (t1 - t0) as f64
    }

    fn bottom(&self) -> f64 {
        self.anchors.last().map_or(TOP, |a| a.1)
    }

    fn x(&self, node: NodeId) -> Option<f64> {
        let k = self.sel.shown.binary_search(&node).ok()?;
        Some(AXIS_W + COLUMN_W * (k as f64 + 0.5))
    }

    fn width(&self) -> f64 {
        (AXIS_W + COLUMN_W * self.sel.shown.len() as f64 + RIGHT_PAD).max(760.0)
    }

    fn colour(&self, msg: &str) -> &'static str {
        self.colours.get(msg).map_or(PALETTE[0], |i| PALETTE[*i])
    }

    /// The whole document.
    pub fn render(&self) -> (String, SvgSummary) {
        let (w, h) = (self.width(), self.bottom() + BOTTOM_PAD);
        let mut s = String::new();
        let _ = writeln!(s, r#"<?xml version="1.0" encoding="UTF-8"?>"#);
        let _ = writeln!(
            s,
            r#"<svg xmlns="http://www.w3.org/2000/svg" width="{w:.0}" height="{h:.0}" viewBox="0 0 {w:.0} {h:.0}" font-family="sans-serif" font-size="11">"#
        );
        let _ = writeln!(s, r#"<rect width="100%" height="100%" fill="white"/>"#);
        self.defs(&mut s);
        self.partitions(&mut s);
        self.axis(&mut s);
        self.lifelines(&mut s);
        let summary = self.messages(&mut s);
        self.marks(&mut s);
        self.header(&mut s, &summary);
        s.push_str("</svg>\n");
        (s, summary)
    }

    fn defs(&self, s: &mut String) {
        s.push_str("<defs>\n");
        for (i, colour) in PALETTE.iter().enumerate() {
            let _ = writeln!(
                s,
                r#"<marker id="arrow{i}" viewBox="0 0 10 10" refX="10" refY="5" markerWidth="8" markerHeight="8" orient="auto"><path d="M0,0 L10,5 L0,10 z" fill="{colour}"/></marker>"#
            );
        }
        s.push_str("</defs>\n");
    }

    fn header(&self, s: &mut String, summary: &SvgSummary) {
        let sel = self.sel;
        let title = format!(
            "dsim {} — {} … {} — {} rows, {} messages, {} dropped",
            sel.source,
            format_us(sel.from_us),
            format_us(sel.to_us),
            summary.rows,
            summary.messages,
            summary.dropped
        );
        let _ =
            writeln!(s, r#"<text x="10" y="20" font-size="14" font-weight="bold">{}</text>"#, esc(&title));
        let mut x = 10.0;
        for (name, i) in &self.colours {
            let _ = writeln!(
                s,
                r#"<line class="legend" x1="{x}" y1="42" x2="{:.0}" y2="42" stroke="{}" stroke-width="2" marker-end="url(#arrow{i})"/><text x="{:.0}" y="46">{}</text>"#,
                x + 24.0,
                PALETTE[*i],
                x + 30.0,
                esc(name)
            );
            x += 40.0 + 7.0 * name.len() as f64;
        }
        let has_roles = self.sel.spans().iter().any(|s| matches!(s.kind, SpanKind::Role { .. }));
        let legend = [("#b0b0b0", "follower"), ("#ff7f0e", "candidate"), ("#2ca02c", "leader")];
        let mut x = 10.0;
        for (colour, name) in legend.iter().filter(|_| has_roles) {
            let _ = writeln!(
                s,
                r#"<rect x="{x}" y="58" width="8" height="14" fill="{colour}"/><text x="{:.0}" y="69">{name}</text>"#,
                x + 12.0
            );
            x += 80.0;
        }
        let _ = writeln!(
            s,
            r#"<text x="{x}" y="69"><tspan fill="{RED}" font-weight="bold">×</tspan> dropped (to the node named) or crash</text>"#
        );
        let _ = writeln!(
            s,
            r#"<text x="10" y="88">dashed: in flight at the end, or the other end is outside the window · ≈: compressed idle gap · hover a mark for its row</text>"#
        );
        for node in &sel.shown {
            if let Some(x) = self.x(*node) {
                let _ = writeln!(
                    s,
                    r#"<text x="{x:.1}" y="{:.0}" text-anchor="middle" font-size="14" font-weight="bold">{node}</text>"#,
                    TOP - 14.0
                );
            }
        }
    }

    fn axis(&self, s: &mut String) {
        let mut last_label = f64::NEG_INFINITY;
        let _ = writeln!(
            s,
            r##"<line x1="{AXIS_W}" y1="{TOP}" x2="{AXIS_W}" y2="{:.1}" stroke="#ccc"/>"##,
            self.bottom()
        );
        for (i, (t, y)) in self.anchors.iter().enumerate() {
            if i > 0 {
                let (t0, y0) = self.anchors[i - 1];
                if y - y0 >= GAP_MAX - 0.01 {
                    let mid = (y + y0) / 2.0;
                    let _ = writeln!(
                        s,
                        r##"<text x="{:.0}" y="{:.1}" text-anchor="end" fill="#999" font-style="italic">≈ +{}</text>"##,
                        AXIS_W - 6.0,
                        mid + 4.0,
                        format_us(t - t0)
                    );
                }
            }
            if y - last_label >= 14.0 {
                let _ = writeln!(
                    s,
                    r##"<text x="{:.0}" y="{:.1}" text-anchor="end" fill="#555">{}</text><line x1="{:.0}" y1="{y:.1}" x2="{AXIS_W}" y2="{y:.1}" stroke="#ccc"/>"##,
                    AXIS_W - 6.0,
                    y + 4.0,
                    format_us(*t),
                    AXIS_W - 4.0
                );
                last_label = *y;
            }
        }
    }

    fn partitions(&self, s: &mut String) {
        let sel = self.sel;
        let mut open: Option<(u64, String)> = sel.initial_partition.clone().map(|g| (sel.from_us, g));
        let mut bands = Vec::new();
        for row in sel.rows.iter().filter(|r| r.node.is_none()) {
            match row.event {
                Event::Partition => {
                    bands.extend(open.take().map(|(t, g)| (t, row.time_us, g)));
                    open = Some((row.time_us, row.detail.to_string()));
                }
                Event::Heal => bands.extend(open.take().map(|(t, g)| (t, row.time_us, g))),
                _ => {}
            }
        }
        bands.extend(open.map(|(t, g)| (t, sel.to_us, g)));
        for (start, end, groups) in bands {
            let (y0, y1) = (self.y(start), self.y(end));
            let _ = writeln!(
                s,
                r##"<rect x="{AXIS_W}" y="{y0:.1}" width="{:.0}" height="{:.1}" fill="#7b4fb8" fill-opacity="0.08"><title>{}</title></rect><text x="{:.0}" y="{:.1}" fill="#7b4fb8">partition {}</text>"##,
                self.width() - AXIS_W,
                (y1 - y0).max(2.0),
                esc(&format!("partition {groups}: {} … {}", format_us(start), format_us(end))),
                AXIS_W + 4.0,
                y0 + 12.0,
                esc(&groups)
            );
        }
    }

    fn lifelines(&self, s: &mut String) {
        for node in &self.sel.shown {
            let Some(x) = self.x(*node) else { continue };
            let _ = writeln!(
                s,
                r##"<line x1="{x:.1}" y1="{TOP}" x2="{x:.1}" y2="{:.1}" stroke="#444" stroke-width="1"/>"##,
                self.bottom()
            );
        }
        for span in self.sel.spans() {
            let Some(x) = self.x(span.node) else { continue };
            let (y0, y1) = (self.y(span.start_us), self.y(span.end_us));
            let tip = esc(&format!(
                "{} {}: {} … {}",
                span.node,
                span.label(),
                format_us(span.start_us),
                format_us(span.end_us)
            ));
            match &span.kind {
                SpanKind::Down => {
                    let _ = writeln!(
                        s,
                        r#"<line x1="{x:.1}" y1="{y0:.1}" x2="{x:.1}" y2="{y1:.1}" stroke="{RED}" stroke-width="3" stroke-dasharray="4 4"><title>{tip}</title></line>"#
                    );
                }
                SpanKind::Role { role, .. } => {
                    let colour = role_colour(role);
                    let _ = writeln!(
                        s,
                        r#"<rect x="{:.1}" y="{y0:.1}" width="8" height="{:.1}" fill="{colour}" fill-opacity="0.85"><title>{tip}</title></rect><text x="{:.1}" y="{:.1}" fill="{colour}" font-weight="bold">{}</text>"#,
                        x - 4.0,
                        (y1 - y0).max(1.0),
                        x + 7.0,
                        y0 + 11.0,
                        esc(&span.label())
                    );
                }
            }
        }
    }

    fn messages(&self, s: &mut String) -> SvgSummary {
        let mut summary = SvgSummary { rows: self.sel.rows.len() as u64, ..SvgSummary::default() };
        for flight in &self.sel.flights {
            let (Some(x0), Some(x1)) = (self.x(flight.from), self.x(flight.to)) else { continue };
            summary.messages += 1;
            let y0 = self.y(flight.sent_us);
            let sent_inside = flight.sent_us >= self.sel.from_us;
            for copy in 0..usize::from(flight.copies) {
                let arrival = flight.arrivals.get(copy);
                if arrival.is_some_and(|a| !a.delivered()) {
                    summary.dropped += 1;
                }
                self.arrow(s, flight, (x0, y0), x1, arrival, sent_inside);
            }
        }
        summary
    }

    fn arrow(
        &self,
        s: &mut String,
        f: &Flight,
        (x0, y0): (f64, f64),
        x1: f64,
        arrival: Option<&super::Arrival>,
        sent_inside: bool,
    ) {
        let colour = self.colour(&f.msg);
        let marker = self.colours.get(&f.msg).copied().unwrap_or(0);
        let fate = match arrival {
            Some(a) if a.delivered() => format!("delivered {}", format_us(a.at_us)),
            Some(a) => format!("dropped ({}) {}", a.dropped.as_deref().unwrap_or(""), format_us(a.at_us)),
            None => "still in flight at the end of the trace".to_owned(),
        };
        let tip = esc(&format!("{} {} -> {}: sent {}, {fate}", f.msg, f.from, f.to, format_us(f.sent_us)));
        match arrival {
            Some(a) if a.delivered() => {
                let outside = !sent_inside || a.at_us > self.sel.to_us;
                let dash = if outside { r#" stroke-dasharray="5 4""# } else { "" };
                let _ = writeln!(
                    s,
                    r#"<line class="msg" x1="{x0:.1}" y1="{y0:.1}" x2="{x1:.1}" y2="{:.1}" stroke="{colour}" stroke-width="1.4"{dash} marker-end="url(#arrow{marker})"><title>{tip}</title></line>"#,
                    self.y(a.at_us)
                );
            }
            Some(a) => {
                // A drop at the send goes 40% of the way; a drop at delivery (receiver down) goes
                // almost all the way: either way it stops short of the receiver and ends in ×.
                let at_send = a.at_us == f.sent_us;
                let (fx, y) = if at_send { (0.4, y0 + GAP_MIN) } else { (0.85, self.y(a.at_us)) };
                let (ex, ey) = (x0 + (x1 - x0) * fx, y.max(y0 + 6.0));
                let _ = writeln!(
                    s,
                    r#"<g class="drop"><title>{tip}</title><line x1="{x0:.1}" y1="{y0:.1}" x2="{ex:.1}" y2="{ey:.1}" stroke="{colour}" stroke-width="1.4" stroke-dasharray="2 2"/>{}<text x="{:.1}" y="{:.1}" fill="{RED}" font-size="9">{}</text></g>"#,
                    cross(ex, ey, 5.0, 2.0),
                    ex + 7.0,
                    ey + 10.0,
                    f.to
                );
            }
            None => {
                // Still travelling when the trace ends: half way, dashed, pointing on.
                let (ex, ey) =
                    (x0 + (x1 - x0) * 0.5, (y0 + 2.0 * GAP_MIN).min(self.bottom() + BOTTOM_PAD / 2.0));
                let _ = writeln!(
                    s,
                    r#"<line class="in-flight" x1="{x0:.1}" y1="{y0:.1}" x2="{ex:.1}" y2="{ey:.1}" stroke="{colour}" stroke-width="1.2" stroke-dasharray="5 4" marker-end="url(#arrow{marker})"><title>{tip}</title></line>"#
                );
            }
        }
    }

    /// A mark per row: a dot for message ends and protocol rows, × for crashes, and labels for rows a
    /// reader scans for (crash, restart, client, commit, conflict, final). Labels of one node at one
    /// instant share a line (`final ×5`), cut to [`LABEL_CHARS`]; the tooltip keeps every row.
    fn marks(&self, s: &mut String) {
        let mut labels: BTreeMap<(NodeId, u64), Vec<(Event, String)>> = BTreeMap::new();
        for row in &self.sel.rows {
            let Some(node) = row.node else { continue };
            let Some(x) = self.x(node) else { continue };
            let y = self.y(row.time_us);
            let tip = esc(&format!("{} {node} {}", format_us(row.time_us), describe(row)));
            match row.event {
                Event::Crash | Event::Restart => labels
                    .entry((node, row.time_us))
                    .or_default()
                    .push((row.event, row.event.as_str().to_owned())),
                Event::Client | Event::Commit | Event::Conflict | Event::Final => {
                    labels.entry((node, row.time_us)).or_default().push((row.event, describe(row)))
                }
                _ => {}
            }
            match row.event {
                Event::Crash => {
                    let _ =
                        writeln!(s, r#"<g class="crash"><title>{tip}</title>{}</g>"#, cross(x, y, 8.0, 3.0));
                }
                Event::Role | Event::Drop | Event::Duplicate => {}
                Event::Timeout => {
                    let _ = writeln!(
                        s,
                        r##"<circle cx="{x:.1}" cy="{y:.1}" r="4" fill="white" stroke="#ff7f0e" stroke-width="1.5"><title>{tip}</title></circle>"##
                    );
                }
                _ => {
                    let _ = writeln!(
                        s,
                        r##"<circle cx="{x:.1}" cy="{y:.1}" r="2.5" fill="#333"><title>{tip}</title></circle>"##
                    );
                }
            }
        }
        for ((node, t), group) in labels {
            let Some(x) = self.x(node) else { continue };
            let text = match group.as_slice() {
                [(_, one)] => one.clone(),
                [(first, _), ..] if group.iter().all(|(e, _)| e == first) => {
                    format!("{first} ×{}", group.len())
                }
                [(_, one), rest @ ..] => format!("{one} (+{})", rest.len()),
                [] => continue,
            };
            let tip: Vec<&str> = group.iter().map(|(_, l)| l.as_str()).collect();
            let _ = writeln!(
                s,
                r##"<text x="{:.1}" y="{:.1}" fill="#333" font-size="10">{}<title>{}</title></text>"##,
                x + 8.0,
                self.y(t) + 3.5,
                esc(&cut(&text, LABEL_CHARS)),
                esc(&tip.join("\n"))
            );
        }
    }
}

/// `text` cut to `max` characters, with `…` when cut.
fn cut(text: &str, max: usize) -> String {
    match text.char_indices().nth(max) {
        Some((i, _)) => format!("{}…", &text[..i]),
        None => text.to_owned(),
    }
}

/// A red × centred on (x, y).
fn cross(x: f64, y: f64, r: f64, width: f64) -> String {
    format!(
        r#"<path d="M{:.1},{:.1} L{:.1},{:.1} M{:.1},{:.1} L{:.1},{:.1}" stroke="{RED}" stroke-width="{width}"/>"#,
        x - r,
        y - r,
        x + r,
        y + r,
        x - r,
        y + r,
        x + r,
        y - r
    )
}
