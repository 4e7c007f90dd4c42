//! `dsim export` end to end: real Raft traces (run through the harness here) and a hand-made
//! eventual-KV trace, exported to all three formats and checked the way their readers check them —
//! the Perfetto JSON's structure and flow pairing, ShiViz's vector-clock rules with ShiViz's own
//! regex, the SVG's well-formedness — plus the refusals (not a trace, bad flags, window too large).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use assert_cmd::Command;
use dsim::check::Checker;
use dsim::cli::export::{export, Format};
use dsim::eventual::EventualNode;
use dsim::export::{shiviz, Filter, Selection};
use dsim::harness::{self, Model, Options};
use dsim::metrics::{MetricValue, Metrics};
use dsim::raft::RaftNode;
use dsim::scenario::Scenario;
use dsim::sim::NodeId;
use dsim::trace::{Clock, Event, Record, TraceReader, TraceWriter, Value};
use serde_json::Value as Json;

struct Raft;

struct NoMetrics;

impl Metrics for NoMetrics {
    fn observe(&mut self, _row: &Record) {}
    fn finish(&mut self, _end_us: u64) -> Vec<(&'static str, MetricValue)> {
        Vec::new()
    }
}

impl Model for Raft {
    type Node = RaftNode;
    fn nodes(s: &Scenario) -> Vec<RaftNode> {
        (0..s.nodes).map(|i| RaftNode::new(NodeId(i), s.nodes, &s.raft)).collect()
    }
    fn checkers(_: &Scenario) -> Vec<Box<dyn Checker>> {
        Vec::new()
    }
    fn metrics(_: &Scenario) -> Box<dyn Metrics> {
        Box::new(NoMetrics)
    }
}

struct Eventual;

impl Model for Eventual {
    type Node = EventualNode;
    fn nodes(s: &Scenario) -> Vec<EventualNode> {
        (0..s.nodes).map(|i| EventualNode::new(NodeId(i), s.nodes, &s.eventual)).collect()
    }
    fn checkers(_: &Scenario) -> Vec<Box<dyn Checker>> {
        Vec::new()
    }
    fn metrics(_: &Scenario) -> Box<dyn Metrics> {
        Box::new(NoMetrics)
    }
}

/// A short 3-node eventual-KV run (sims/eventual.toml cut down), traced to `dir`.
fn eventual_run(dir: &Path) -> PathBuf {
    let text = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/sims/eventual.toml")).unwrap();
    let sets = ["duration_ms=800", "workload.stop_ms=500", "seed=7"].map(String::from);
    let scenario = Scenario::from_str("eventual.toml", &text, &sets).unwrap();
    let path = dir.join("kv.csv");
    harness::run_model::<Eventual>(&scenario, Options { trace: Some(&path), hash: false, history: None }).unwrap();
    path
}

/// A short 5-node Raft run with loss, duplication and (optionally) a crash, traced to `dir`.
fn raft_trace(dir: &Path, name: &str, sets: &[&str]) -> PathBuf {
    let base = "protocol = 'raft'\nnodes = 5\nduration_ms = 600\n[network]\ndrop_probability = 0.1\n\
                duplicate_probability = 0.05\n[workload]\nrate_per_s = 20\n";
    let sets: Vec<String> = sets.iter().map(|s| s.to_string()).collect();
    let scenario = Scenario::from_str("export-test", base, &sets).unwrap();
    let path = dir.join(name);
    harness::run_model::<Raft>(&scenario, Options { trace: Some(&path), hash: false, history: None }).unwrap();
    path
}

fn rows(path: &Path) -> Vec<Record> {
    TraceReader::open(path).unwrap().map(|r| r.unwrap()).collect()
}

fn select(path: &Path, filter: Filter) -> Selection {
    Selection::load(path, &filter).unwrap()
}

fn exported(sel: &Selection, format: Format, dir: &Path) -> String {
    let out = dir.join(format!("out.{}", format.as_str()));
    export(sel, format, &out).unwrap();
    // To look at what the tests draw: DSIM_EXPORT_KEEP=/some/dir cargo test --test export
    if let Some(keep) = std::env::var_os("DSIM_EXPORT_KEEP") {
        let stem = sel.source.trim_end_matches(".csv");
        std::fs::copy(&out, Path::new(&keep).join(format!("{stem}.{}", format.as_str()))).unwrap();
    }
    std::fs::read_to_string(out).unwrap()
}

// ---------- Perfetto ----------

/// Checks what Perfetto / chrome://tracing need; returns (flows, role slice names).
fn check_perfetto(text: &str, nodes: &[u32]) -> (usize, Vec<String>) {
    let doc: Json = serde_json::from_str(text).expect("valid JSON");
    assert_eq!(doc["displayTimeUnit"], "ms");
    let events = doc["traceEvents"].as_array().expect("traceEvents array");
    let mut outs: BTreeMap<u64, (u64, u64)> = BTreeMap::new();
    let mut ins: BTreeMap<u64, (u64, u64)> = BTreeMap::new();
    let mut roles: BTreeMap<u64, Vec<(u64, u64)>> = BTreeMap::new();
    let mut role_names = Vec::new();
    let mut threads = Vec::new();
    for e in events {
        for field in ["ph", "ts", "pid", "tid", "name"] {
            assert!(e.get(field).is_some(), "{field} missing in {e}");
        }
        let (ts, tid) = (e["ts"].as_u64().unwrap(), e["tid"].as_u64().unwrap());
        match e["ph"].as_str().unwrap() {
            "M" if e["name"] == "thread_name" => threads.push(e["args"]["name"].as_str().unwrap().to_owned()),
            "M" => {}
            "X" => {
                let dur = e["dur"].as_i64().expect("X has dur");
                assert!(dur >= 0, "{e}");
                if e["cat"] == "state" {
                    roles.entry(tid).or_default().push((ts, ts + dur as u64));
                    role_names.push(e["name"].as_str().unwrap().to_owned());
                }
                if let Some(id) = e.get("bind_id") {
                    let id = id.as_u64().unwrap();
                    let side = if e.get("flow_out").is_some() { &mut outs } else { &mut ins };
                    assert!(e.get("flow_out").is_some() != e.get("flow_in").is_some(), "{e}");
                    assert!(side.insert(id, (ts, tid)).is_none(), "bind_id {id} twice on one side");
                }
            }
            "i" => assert!(matches!(e["s"].as_str(), Some("t" | "g")), "{e}"),
            other => panic!("unexpected ph {other}: {e}"),
        }
    }
    let expected: Vec<String> = nodes.iter().map(|n| format!("n{n}")).collect();
    assert_eq!(threads, expected);
    assert_eq!(outs.keys().collect::<Vec<_>>(), ins.keys().collect::<Vec<_>>(), "every flow pairs up");
    for (id, (ts_out, tid_out)) in &outs {
        let (ts_in, tid_in) = ins[id];
        assert!(*ts_out <= ts_in, "flow {id} goes back in time");
        assert_ne!(*tid_out, tid_in, "flow {id} stays on one node");
    }
    for spans in roles.values() {
        for w in spans.windows(2) {
            assert!(w[0].1 <= w[1].0, "role slices overlap on one track: {w:?}");
        }
    }
    (outs.len(), role_names)
}

#[test]
fn perfetto_from_raft_pairs_every_delivery_and_shows_roles() {
    let dir = tempfile::tempdir().unwrap();
    let trace = raft_trace(dir.path(), "r.csv", &["seed=3"]);
    let all = rows(&trace);
    let sel = select(&trace, Filter::default());
    let text = exported(&sel, Format::Perfetto, dir.path());
    let (flows, roles) = check_perfetto(&text, &[0, 1, 2, 3, 4]);
    let delivered = all.iter().filter(|r| r.event == Event::Deliver).count();
    assert!(delivered > 50, "{delivered}");
    assert_eq!(flows, delivered, "one arrow per delivery, duplicates included");
    assert!(roles.iter().any(|r| r.starts_with("leader t")), "{roles:?}");
    assert!(roles.iter().any(|r| r.starts_with("follower t")), "{roles:?}");
    // Dropped messages are named so, and each drop is an instant.
    let drops = all.iter().filter(|r| r.event == Event::Drop).count();
    assert!(drops > 0);
    assert_eq!(text.matches("(dropped: ").count(), drops, "every drop marks its send slice");
    let doc: Json = serde_json::from_str(&text).unwrap();
    let instants =
        doc["traceEvents"].as_array().unwrap().iter().filter(|e| e["ph"] == "i" && e["cat"] == "drop");
    assert_eq!(instants.count(), drops);
}

#[test]
fn perfetto_window_and_nodes_keep_only_whole_flows() {
    let dir = tempfile::tempdir().unwrap();
    let trace = raft_trace(dir.path(), "r.csv", &["seed=4"]);
    let filter = Filter {
        from_us: 200_000,
        to_us: Some(400_000),
        nodes: Some(vec![NodeId(0), NodeId(2)]),
        ..Filter::default()
    };
    let sel = select(&trace, filter);
    assert!(sel.rows.iter().all(|r| (200_000..=400_000).contains(&r.time_us)));
    let text = exported(&sel, Format::Perfetto, dir.path());
    let (flows, _) = check_perfetto(&text, &[0, 2]);
    let between = |r: &&Record| {
        r.event == Event::Deliver
            && (200_000..=400_000).contains(&r.time_us)
            && matches!((r.node, r.peer), (Some(NodeId(0 | 2)), Some(NodeId(0 | 2))))
    };
    // Deliveries between shown nodes whose send is also in the window each get their arrow.
    assert!(flows > 0);
    assert!(flows <= rows(&trace).iter().filter(between).count());
    let doc: Json = serde_json::from_str(&text).unwrap();
    for e in doc["traceEvents"].as_array().unwrap() {
        assert!(matches!(e["tid"].as_u64(), Some(0 | 1 | 3)), "{e}");
        if e["ph"] == "X" {
            let ts = e["ts"].as_u64().unwrap();
            assert!((200_000..=400_000).contains(&ts) && ts + e["dur"].as_u64().unwrap() <= 400_000, "{e}");
        }
    }
}

// ---------- ShiViz ----------

/// One parsed ShiViz event.
struct ShiEvent {
    host: String,
    text: String,
    clock: BTreeMap<String, u64>,
}

/// Parses the file the way ShiViz's upload does: line 1 the regex, line 2 the delimiter, the rest
/// the log, matched with that regex repeatedly.
fn parse_shiviz(text: &str) -> Vec<ShiEvent> {
    let mut parts = text.splitn(3, '\n');
    let regex_line = parts.next().unwrap();
    assert_eq!(regex_line, shiviz::REGEX);
    assert_eq!(parts.next(), Some(""), "no multiple-execution delimiter");
    let log = parts.next().unwrap().trim();
    let re = regex::Regex::new(regex_line).expect("the file's regex compiles");
    let mut events = Vec::new();
    let mut end = 0;
    for caps in re.captures_iter(log) {
        let whole = caps.get(0).unwrap();
        assert!(log[end..whole.start()].trim().is_empty(), "unparsed text before {:?}", whole.as_str());
        end = whole.end();
        let clock: BTreeMap<String, u64> = serde_json::from_str(&caps["clock"]).expect("clock is JSON");
        events.push(ShiEvent { host: caps["host"].to_owned(), text: caps["event"].to_owned(), clock });
    }
    assert!(log[end..].trim().is_empty(), "unparsed tail");
    events
}

/// ShiViz's checks (ModelGraph): own entry present, starts at 1 and grows by exactly one; other
/// entries name known hosts within their range; and every clock is exactly what the vector-clock
/// algorithm gives from its parents (the previous local event and the events whose entries grew).
/// Returns the number of events that learned something from another host (message edges).
fn check_shiviz_clocks(events: &[ShiEvent]) -> usize {
    let mut by_host: BTreeMap<&str, Vec<&ShiEvent>> = BTreeMap::new();
    for e in events {
        by_host.entry(&e.host).or_default().push(e);
    }
    for (host, list) in &by_host {
        for (i, e) in list.iter().enumerate() {
            assert_eq!(e.clock.get(*host), Some(&(i as u64 + 1)), "{host} event {i}: {}", e.text);
            for (other, t) in &e.clock {
                let count = by_host.get(other.as_str()).map_or(0, |l| l.len()) as u64;
                assert!(*t >= 1 && *t <= count, "{host}: entry {other}:{t} out of range ({count})");
            }
        }
    }
    let mut edges = 0;
    for (host, list) in &by_host {
        let mut prev: BTreeMap<String, u64> = BTreeMap::new();
        for e in list {
            let mut expected = prev.clone();
            let mut learned = false;
            for (other, t) in &e.clock {
                if other != host && prev.get(other).map_or(true, |p| p < t) {
                    learned = true;
                    let parent = by_host[other.as_str()][*t as usize - 1];
                    for (h, v) in &parent.clock {
                        let x = expected.entry(h.clone()).or_default();
                        *x = (*x).max(*v);
                    }
                }
            }
            edges += usize::from(learned);
            *expected.entry(host.to_string()).or_default() += 1;
            assert_eq!(e.clock, expected, "{host}: {}", e.text);
            prev = e.clock.clone();
        }
    }
    edges
}

#[test]
fn shiviz_from_raft_follows_shivizs_clock_rules() {
    let dir = tempfile::tempdir().unwrap();
    let trace = raft_trace(dir.path(), "r.csv", &["seed=5"]);
    let all = rows(&trace);
    let sel = select(&trace, Filter::default());
    let text = exported(&sel, Format::ShiViz, dir.path());
    let events = parse_shiviz(&text);
    let logged =
        all.iter().filter(|r| r.node.is_some() && !matches!(r.event, Event::Drop | Event::Duplicate));
    assert_eq!(events.len(), logged.count());
    let edges = check_shiviz_clocks(&events);
    assert!(edges > 50, "{edges}");
    // A receive sees its sender's send: the sender's entry on a deliver is at least the send's.
    let receives = events.iter().filter(|e| e.text.contains(" deliver ")).count();
    assert_eq!(receives, all.iter().filter(|r| r.event == Event::Deliver).count());
    assert!(text.contains("[dropped: "), "drops are folded into their sends");
}

#[test]
fn shiviz_window_restarts_clocks_at_one() {
    let dir = tempfile::tempdir().unwrap();
    let trace = raft_trace(dir.path(), "r.csv", &["seed=6"]);
    let filter = Filter {
        from_us: 300_000,
        to_us: Some(450_000),
        nodes: Some(vec![NodeId(1), NodeId(3), NodeId(4)]),
        ..Filter::default()
    };
    let text = exported(&select(&trace, filter), Format::ShiViz, dir.path());
    let events = parse_shiviz(&text);
    assert!(!events.is_empty());
    assert!(events.iter().all(|e| ["n1", "n3", "n4"].contains(&e.host.as_str())));
    check_shiviz_clocks(&events);
}

// ---------- SVG ----------

/// Parses the SVG as XML and returns (message arrows, dropped-message marks, texts).
fn check_svg(text: &str) -> (usize, usize, Vec<String>) {
    let doc = roxmltree::Document::parse(text).expect("well-formed XML");
    let root = doc.root_element();
    assert_eq!(root.tag_name().name(), "svg");
    assert_eq!(root.tag_name().namespace(), Some("http://www.w3.org/2000/svg"));
    for attr in ["width", "height", "viewBox"] {
        assert!(root.attribute(attr).is_some(), "{attr}");
    }
    let h: f64 = root.attribute("height").unwrap().parse().unwrap();
    let mut arrows = 0;
    let mut crosses = 0;
    let mut texts = Vec::new();
    for n in root.descendants().filter(|n| n.is_element()) {
        for attr in ["y", "y1", "y2", "cy"] {
            if let Some(v) = n.attribute(attr) {
                let v: f64 = v.parse().unwrap_or_else(|_| panic!("{attr}={v} is a number"));
                assert!((0.0..=h).contains(&v), "{attr}={v} outside 0..{h}");
            }
        }
        match (n.tag_name().name(), n.attribute("class")) {
            ("line", Some("msg")) => {
                assert!(n.attribute("marker-end").is_some_and(|m| m.starts_with("url(#arrow")));
                arrows += 1;
            }
            ("g", Some("drop")) => {
                assert!(n.children().any(|c| c.tag_name().name() == "path"), "a drop ends in ×");
                crosses += 1;
            }
            ("text", _) => {
                let own =
                    |d: &roxmltree::Node| d.is_text() && d.parent().is_some_and(|p| !p.has_tag_name("title"));
                texts.push(n.descendants().filter(own).filter_map(|d| d.text()).collect())
            }
            _ => {}
        }
    }
    (arrows, crosses, texts)
}

/// Is this a vote message (request or reply) dropped before the first leader?
fn dropped_vote_before_leader(rows: &[Record]) -> bool {
    let first_leader = rows
        .iter()
        .find(|r| r.event == Event::Role && r.value.to_string() == "leader")
        .map_or(u64::MAX, |r| r.time_us);
    rows.iter()
        .any(|r| r.event == Event::Drop && r.msg.starts_with("request_vote") && r.time_us < first_leader)
}

#[test]
fn svg_of_a_five_node_election_with_a_dropped_vote() {
    let dir = tempfile::tempdir().unwrap();
    // The first seed whose first election loses a vote message.
    let (trace, all) = (1..100)
        .map(|seed| {
            let t = raft_trace(
                dir.path(),
                "e.csv",
                &[&format!("seed={seed}"), "duration_ms=400", "network.drop_probability=0.15"],
            );
            let rows = rows(&t);
            (t, rows)
        })
        .find(|(_, rows)| dropped_vote_before_leader(rows))
        .expect("a seed with a dropped vote");
    let sel = select(&trace, Filter { rows_max: dsim::export::svg::ROWS_MAX, ..Filter::default() });
    let text = exported(&sel, Format::Svg, dir.path());
    let (arrows, crosses, texts) = check_svg(&text);
    let delivered = all.iter().filter(|r| r.event == Event::Deliver).count();
    let drops = all.iter().filter(|r| r.event == Event::Drop).count();
    assert_eq!(arrows, delivered, "one arrow per delivery");
    assert_eq!(crosses, drops, "one × per dropped copy");
    for n in 0..5 {
        assert!(texts.iter().any(|t| *t == format!("n{n}")), "column n{n}");
    }
    assert!(texts.iter().any(|t| t.starts_with("leader t")), "{texts:?}");
    assert!(texts.iter().any(|t| t.starts_with("candidate t")), "{texts:?}");
}

#[test]
fn svg_marks_crashes_and_partitions() {
    let dir = tempfile::tempdir().unwrap();
    let trace = raft_trace(
        dir.path(),
        "c.csv",
        &[
            "seed=2",
            "faults=[{action='crash', node='n1', at_ms=300, restart_after_ms=100}, \
             {action='partition', at_ms=350, groups=[['n0','n1'],['n2','n3','n4']], heal_after_ms=100}]",
        ],
    );
    let sel = select(&trace, Filter { from_us: 250_000, to_us: Some(500_000), ..Filter::default() });
    let text = exported(&sel, Format::Svg, dir.path());
    let (_, _, texts) = check_svg(&text);
    assert!(texts.iter().any(|t| t == "crash"));
    assert!(texts.iter().any(|t| t == "restart"));
    assert!(texts.iter().any(|t| t == "partition n0,n1|n2,n3,n4"), "{texts:?}");
    assert!(text.contains("class=\"crash\""));
    let json = exported(&sel, Format::Perfetto, dir.path());
    let (_, roles) = check_perfetto(&json, &[0, 1, 2, 3, 4]);
    assert!(roles.iter().any(|r| r == "down"), "{roles:?}");
    let doc: Json = serde_json::from_str(&json).unwrap();
    let instant =
        |cat: &str| doc["traceEvents"].as_array().unwrap().iter().any(|e| e["ph"] == "i" && e["cat"] == cat);
    assert!(instant("crash") && instant("restart") && instant("partition") && instant("heal"));
    // The same selection exports to the same bytes.
    assert_eq!(json, exported(&sel, Format::Perfetto, dir.path()));
    assert_eq!(text, exported(&sel, Format::Svg, dir.path()));
    assert!(text.contains("stroke-dasharray=\"4 4\""), "n1's line is dashed while down");
}

// ---------- Eventual KV (hand-made until the protocol lands) ----------

fn eventual_trace(dir: &Path) -> PathBuf {
    let n = NodeId;
    let clock = |c: &[u64]| Clock::from_counters(c);
    let rows = vec![
        (0, Record::new(Event::Client).node(n(0)).msg("put").key(1).value(Value::Id(1))),
        (0, Record::new(Event::Write).node(n(0)).key(1).value(Value::Id(1)).clock(clock(&[1]))),
        (
            0,
            Record::new(Event::Send)
                .node(n(0))
                .peer(n(1))
                .msg("replicate")
                .key(1)
                .value(Value::Id(1))
                .clock(clock(&[1])),
        ),
        (
            0,
            Record::new(Event::Send)
                .node(n(0))
                .peer(n(2))
                .msg("replicate")
                .key(1)
                .value(Value::Id(1))
                .clock(clock(&[1])),
        ),
        (
            0,
            Record::new(Event::Drop)
                .node(n(0))
                .peer(n(2))
                .msg("replicate")
                .key(1)
                .value(Value::Id(1))
                .clock(clock(&[1]))
                .detail("random"),
        ),
        (500, Record::new(Event::Client).node(n(1)).msg("put").key(1).value(Value::Id(2))),
        (500, Record::new(Event::Write).node(n(1)).key(1).value(Value::Id(2)).clock(clock(&[0, 1]))),
        (
            2000,
            Record::new(Event::Deliver)
                .node(n(1))
                .peer(n(0))
                .msg("replicate")
                .key(1)
                .value(Value::Id(1))
                .clock(clock(&[1])),
        ),
        (
            2000,
            Record::new(Event::Conflict)
                .node(n(1))
                .key(1)
                .value(Value::Ids(vec![1, 2]))
                .clock(clock(&[1, 1])),
        ),
        (
            2000,
            Record::new(Event::Send)
                .node(n(1))
                .peer(n(2))
                .msg("replicate")
                .key(1)
                .value(Value::Ids(vec![1, 2]))
                .clock(clock(&[1, 1])),
        ),
        (
            2000,
            Record::new(Event::Duplicate)
                .node(n(1))
                .peer(n(2))
                .msg("replicate")
                .key(1)
                .value(Value::Ids(vec![1, 2]))
                .clock(clock(&[1, 1])),
        ),
        (
            3000,
            Record::new(Event::Deliver)
                .node(n(2))
                .peer(n(1))
                .msg("replicate")
                .key(1)
                .value(Value::Ids(vec![1, 2]))
                .clock(clock(&[1, 1])),
        ),
        (
            3000,
            Record::new(Event::Apply).node(n(2)).key(1).value(Value::Ids(vec![1, 2])).clock(clock(&[1, 1])),
        ),
        (
            3500,
            Record::new(Event::Deliver)
                .node(n(2))
                .peer(n(1))
                .msg("replicate")
                .key(1)
                .value(Value::Ids(vec![1, 2]))
                .clock(clock(&[1, 1])),
        ),
        (4000, Record::new(Event::Read).node(n(2)).key(1).value(Value::Ids(vec![1, 2]))),
        (5000, Record::new(Event::Final).node(n(0)).key(1).value(Value::Id(1))),
        (5000, Record::new(Event::Final).node(n(1)).key(1).value(Value::Ids(vec![1, 2]))),
        (5000, Record::new(Event::Final).node(n(2)).key(1).value(Value::Ids(vec![1, 2]))),
    ];
    let path = dir.join("ev.csv");
    let mut w = TraceWriter::create(&path).unwrap();
    for (seq, (t, mut r)) in rows.into_iter().enumerate() {
        r.time_us = t;
        r.seq = seq as u64;
        w.write(&r).unwrap();
    }
    w.finish().unwrap();
    path
}

#[test]
fn eventual_rows_export_to_all_three_formats() {
    let dir = tempfile::tempdir().unwrap();
    let trace = eventual_trace(dir.path());
    let sel = select(&trace, Filter::default());
    assert_eq!(sel.nodes_total, 3);
    let (flows, roles) = check_perfetto(&exported(&sel, Format::Perfetto, dir.path()), &[0, 1, 2]);
    assert_eq!(flows, 3, "one delivery from n0, two copies from n1");
    assert!(roles.is_empty(), "no roles in the eventual KV");
    let events = parse_shiviz(&exported(&sel, Format::ShiViz, dir.path()));
    assert_eq!(events.len(), 16, "every row with a node but the drop and the duplicate");
    assert_eq!(check_shiviz_clocks(&events), 2, "the second copy brings nothing new");
    let conflict = events.iter().find(|e| e.text.contains("conflict")).unwrap();
    assert_eq!(conflict.clock, BTreeMap::from([("n0".to_owned(), 3), ("n1".to_owned(), 4)]));
    let (arrows, crosses, texts) = check_svg(&exported(&sel, Format::Svg, dir.path()));
    assert_eq!((arrows, crosses), (3, 1));
    assert!(texts.iter().any(|t| t == "conflict k1=v1|v2 [n0:1;n1:1]"), "{texts:?}");
}

#[test]
fn eventual_kv_run_exports_to_all_three_formats() {
    let dir = tempfile::tempdir().unwrap();
    let trace = eventual_run(dir.path());
    let all = rows(&trace);
    assert!(all.iter().any(|r| r.event == Event::Write) && all.iter().any(|r| r.event == Event::Final));
    let delivered = all.iter().filter(|r| r.event == Event::Deliver).count();
    let sel = select(&trace, Filter::default());
    let (flows, _) = check_perfetto(&exported(&sel, Format::Perfetto, dir.path()), &[0, 1, 2]);
    assert_eq!(flows, delivered);
    let events = parse_shiviz(&exported(&sel, Format::ShiViz, dir.path()));
    assert!(check_shiviz_clocks(&events) > 10);
    let window = select(
        &trace,
        Filter { to_us: Some(150_000), rows_max: dsim::export::svg::ROWS_MAX, ..Filter::default() },
    );
    let (arrows, _, texts) = check_svg(&exported(&window, Format::Svg, dir.path()));
    assert!(arrows > 0);
    assert!(texts.iter().any(|t| t.starts_with("client put")), "{texts:?}");
    // The final rows of one node at one instant share one label.
    let end = select(&trace, Filter { from_us: 700_000, ..Filter::default() });
    let (_, _, texts) = check_svg(&exported(&end, Format::Svg, dir.path()));
    assert_eq!(texts.iter().filter(|t| t.starts_with("final ×")).count(), 3, "{texts:?}");
}

#[test]
fn committed_examples_are_valid() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("results/export");
    let read = |name: &str| std::fs::read_to_string(dir.join(name)).unwrap();
    let (flows, roles) = check_perfetto(&read("raft-election.perfetto.json"), &[0, 1, 2, 3, 4]);
    assert!(flows > 0 && roles.iter().any(|r| r.starts_with("leader")));
    assert!(check_shiviz_clocks(&parse_shiviz(&read("raft-election.shiviz.log"))) > 0);
    let (arrows, crosses, _) = check_svg(&read("raft-election.svg"));
    assert!(arrows > 0 && crosses > 0);
    assert!(dropped_vote_before_leader(&rows(&dir.join("raft-election.csv"))));
}

// ---------- The command line ----------

fn dsim() -> Command {
    Command::cargo_bin("dsim").unwrap()
}

fn refused(args: &[&str], needles: &[&str]) {
    let out = dsim().args(args).assert().code(2).get_output().clone();
    let stderr = String::from_utf8(out.stderr).unwrap();
    assert_eq!(stderr.trim_end().lines().count(), 1, "one line expected, got:\n{stderr}");
    for needle in needles {
        assert!(stderr.contains(needle), "{needle:?} missing from: {stderr}");
    }
}

#[test]
fn cli_writes_next_to_the_trace_and_refuses_bad_input() {
    let dir = tempfile::tempdir().unwrap();
    let trace = eventual_trace(dir.path());
    let t = trace.to_str().unwrap();
    for (format, file) in [("perfetto", "ev.perfetto.json"), ("shiviz", "ev.shiviz.log"), ("svg", "ev.svg")] {
        dsim().args(["export", t, "--format", format]).assert().code(0);
        assert!(dir.path().join(file).exists(), "{file}");
    }
    let out = dir.path().join("w.svg");
    dsim()
        .args(["export", t, "--format", "svg", "--from-us", "1000", "--to-us", "3000", "--nodes", "n1,n2"])
        .arg("--out")
        .arg(&out)
        .assert()
        .code(0);
    let (_, _, texts) = check_svg(&std::fs::read_to_string(&out).unwrap());
    assert!(!texts.iter().any(|t| t == "n0"));
    refused(&["export", t, "--format", "png"], &["--format \"png\"", "perfetto, shiviz or svg"]);
    refused(&["export", t, "--format", "svg", "--nodes", "n9"], &["--nodes \"n9\"", "n0 … n2"]);
    refused(&["export", t, "--format", "svg", "--nodes", "x1"], &["--nodes \"x1\""]);
    refused(&["export", t, "--format", "svg", "--from-us", "9", "--to-us", "3"], &["--from-us \"9\""]);
    let junk = dir.path().join("junk.csv");
    std::fs::write(&junk, "a,b,c\n1,2,3\n").unwrap();
    refused(&["export", junk.to_str().unwrap(), "--format", "perfetto"], &["junk.csv:1: not a dsim trace"]);
    assert!(!dir.path().join("junk.perfetto.json").exists(), "nothing written on refusal");
}

#[test]
fn svg_refuses_a_window_too_large_to_read() {
    let dir = tempfile::tempdir().unwrap();
    let trace = raft_trace(dir.path(), "big.csv", &["seed=1", "duration_ms=3000", "workload.rate_per_s=200"]);
    let total = rows(&trace).len();
    assert!(total > dsim::export::svg::ROWS_MAX, "{total}");
    // An explicit window too large for one diagram is refused with its size and the way out.
    refused(
        &["export", trace.to_str().unwrap(), "--format", "svg", "--to-us", "3000000"],
        &[&format!("the window holds {total} rows, svg takes at most 5000"), "--from-us/--to-us"],
    );
    dsim().args(["export", trace.to_str().unwrap(), "--format", "svg", "--to-us", "300000"]).assert().code(0);
    // Without --to-us the first try draws: the first window that fits, named on stderr.
    let out = dsim().args(["export", trace.to_str().unwrap(), "--format", "svg"]).assert().code(0);
    let stderr = String::from_utf8_lossy(&out.get_output().stderr).into_owned();
    assert!(stderr.contains(&format!("holds {total} rows")) && stderr.contains("--from-us"), "{stderr}");
    let svg = std::fs::read_to_string(dir.path().join("big.svg")).unwrap();
    roxmltree::Document::parse(&svg).unwrap();
}
