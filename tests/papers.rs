//! Small-scale checks of the headline claims of the paper reproductions in `results/papers/`.
//! Each uses the committed scenarios and a few dozen seeds, so it runs in seconds.

use std::path::Path;

use dsim::scenario::Scenario;

#[allow(dead_code)]
#[path = "../examples/paper_fig16.rs"]
mod fig16;

/// Downtimes (ms, ascending) of `seeds` runs of one Figure 16 curve; every run must have set up
/// what the paper describes (n0 led, n3/n4 had shorter logs) and elected n1 or n2.
fn fig16_downtimes_ms(curve: &str, seeds: u64) -> Vec<f64> {
    let path = format!("results/papers/raft-fig16/main/scenarios/fig16-{curve}.toml");
    let scenario = Scenario::load(Path::new(env!("CARGO_MANIFEST_DIR")).join(path).as_path(), &[]).unwrap();
    let mut v: Vec<f64> = (0..seeds)
        .map(|seed| {
            let t = fig16::run_trial(&scenario, seed);
            assert!(t.leader_at_crash && t.logs_differ(), "{curve} seed {seed}: set-up failed: {t:?}");
            let (_, winner, _) = t.elected.unwrap_or_else(|| panic!("{curve} seed {seed}: no leader"));
            assert!(winner == 1 || winner == 2, "{curve} seed {seed}: n{winner} won with a short log");
            t.downtime_us().unwrap() as f64 / 1000.0
        })
        .collect();
    v.sort_by(f64::total_cmp);
    v
}

fn p(v: &[f64], pct: f64) -> f64 {
    v[dsim::metrics::percentile_index(v.len(), pct).unwrap()]
}

/// Figure 16, top: more randomness in the election timeout never makes the 90th percentile
/// slower, and no election ends before the leader's last heartbeat could have expired (half the
/// minimum timeout, §9.3: "the smallest possible downtime was about half of the minimum
/// election timeout"). Bottom: a smaller minimum timeout gives a shorter mean downtime.
#[test]
fn raft_fig16_randomness_and_scale() {
    let seeds = 40;
    let narrow = fig16_downtimes_ms("150-155", seeds);
    let wide = fig16_downtimes_ms("150-300", seeds);
    assert!(
        p(&wide, 90.0) < p(&narrow, 90.0),
        "p90 150-300 {} vs 150-155 {}",
        p(&wide, 90.0),
        p(&narrow, 90.0)
    );
    assert!(wide[0] >= 75.0, "150-300: downtime {} ms below half the minimum timeout", wide[0]);
    let median = p(&wide, 50.0);
    assert!((100.0..300.0).contains(&median), "150-300 median {median} ms");
    let small = fig16_downtimes_ms("12-24", seeds);
    let mean = |v: &[f64]| v.iter().sum::<f64>() / v.len() as f64;
    assert!(
        small[0] >= 6.0 && mean(&small) < mean(&wide) / 2.0,
        "12-24 mean {} vs {}",
        mean(&small),
        mean(&wide)
    );
}

/// Reads (t after the judged write finished, in µs; whether the read returned it) of one PBS run,
/// judged as `results/papers/pbs/measure.py` judges them.
#[derive(Default)]
struct TvisSink {
    latest: Option<(u64, u64)>,
    last_put_invoke_us: Option<u64>,
    reads: Vec<(u64, bool)>,
}

impl dsim::sim::runner::RowSink for TvisSink {
    fn row(&mut self, row: &dsim::trace::Record) {
        use dsim::trace::{Event, Value};
        match row.event {
            Event::Client if row.msg == "put" => self.last_put_invoke_us = Some(row.time_us),
            Event::Note if row.msg == "put_ack" => {
                if let Value::Id(v) = row.value {
                    self.latest = Some((v, row.time_us));
                }
            }
            Event::Read => {
                let Some((v, finish_us)) = self.latest else { return };
                if self.last_put_invoke_us.is_some_and(|i| i > finish_us) || row.time_us <= finish_us {
                    return;
                }
                let seen = match &row.value {
                    Value::Id(x) => *x == v,
                    Value::Ids(xs) => xs.contains(&v),
                    _ => false,
                };
                self.reads.push((row.time_us - finish_us, seen));
            }
            _ => {}
        }
    }
}

/// PBS (Bailis et al. 2012), N = 3, R = W = 1, exponential latency with mean 10 ms, coordinator a
/// replica: P(consistent | t) = 1/3 + 2/3 (1 − e^(−t/10 ms)). Over four seeds of 20 s, each 10 ms
/// band of t agrees with the closed form to within 0.04, and right after the write it is near 1/3.
#[test]
fn pbs_t_visibility_matches_wars_closed_form() {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("results/papers/pbs/pbs-n3-r1-w1.toml");
    let sets = ["duration_ms=20000".to_owned(), "workload.stop_ms=19000".to_owned()];
    let scenario = Scenario::load(&path, &sets).unwrap();
    let mut reads = Vec::new();
    for seed in 0..4 {
        let mut s = scenario.clone();
        s.seed = seed;
        let workload = dsim::workload::OpenLoop::new(&s.workload, s.nodes, s.end());
        let nodes = <dsim::harness::EventualModel as dsim::harness::Model>::nodes(&s);
        let mut runner = dsim::sim::runner::Runner::new(s.kernel(), nodes, workload, TvisSink::default());
        runner.run();
        reads.extend(runner.into_sink().reads);
    }
    let model = |t_us: u64| 1.0 / 3.0 + 2.0 / 3.0 * (1.0 - (-(t_us as f64) / 10_000.0).exp());
    for band in 0..6u64 {
        let inside: Vec<&(u64, bool)> = reads.iter().filter(|(t, _)| t / 10_000 == band).collect();
        assert!(inside.len() > 300, "band {band}: only {} reads", inside.len());
        let n = inside.len() as f64;
        let seen = inside.iter().filter(|(_, ok)| *ok).count() as f64 / n;
        let expected = inside.iter().map(|(t, _)| model(*t)).sum::<f64>() / n;
        assert!((seen - expected).abs() < 0.04, "band {band}: dsim {seen:.3}, closed form {expected:.3}");
    }
    let first: Vec<bool> = reads.iter().filter(|(t, _)| *t < 1_000).map(|r| r.1).collect();
    let p0 = first.iter().filter(|ok| **ok).count() as f64 / first.len() as f64;
    assert!((0.25..0.45).contains(&p0), "t < 1 ms: {p0:.3} (closed form ≈ 0.36)");
}
