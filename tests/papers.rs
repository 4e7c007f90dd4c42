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
