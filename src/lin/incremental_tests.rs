//! The incremental check gives the whole-history check's verdict (on tiny histories with repeated
//! values, against brute force too, and on generated ones, correct and broken), carries unknown
//! outcomes across cuts, and holds no more than its open segments and carried state.

use proptest::prelude::*;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

use super::*;
use crate::lin::check;
use crate::lin::generate::{self, GenConfig};
use crate::lin::history::EventRef;
use crate::lin::search::tests::h;
use crate::lin::search::tests::{brute_force, tiny};
use crate::trace::Value;

const BUDGET: u64 = 1_000_000;

fn input_of(history: &History, e: EventRef) -> Input {
    let op = &history.ops()[e.op];
    let (kind, at) = match (e.completion, op.completion) {
        (false, _) => (Event::Invoke, op.invoke),
        (true, Completion::Ok(at)) => (Event::Ok, at),
        (true, Completion::Fail(at)) => (Event::Fail, at),
        (true, Completion::Info(at)) => (Event::Info, at),
        (true, Completion::None) => unreachable!("events() has no completion for an op without one"),
    };
    let value = match (op.f, kind) {
        (OpF::Read, Event::Ok) => history.datum(op.value).clone(),
        (OpF::Read, _) => Datum::Nil,
        _ => history.datum(op.value).clone(),
    };
    Input {
        line: at.line,
        time_ns: at.time_ns,
        process: op.process,
        kind,
        f: op.f,
        key: history.datum(op.key).clone(),
        value,
        expect: history.datum(op.expect).clone(),
        id: Some(op.id),
    }
}

/// `history`'s events replayed into an incremental check cutting every `segment_ops` ops.
fn replay(history: &History, segment_ops: usize) -> Verdict {
    let mut check = Incremental::new(history.source(), Budget::states(BUDGET)).with_limits(
        segment_ops,
        CONFIGS_MAX,
        CARRIED_MAX,
    );
    for e in history.events() {
        check.push(input_of(history, e)).unwrap();
    }
    check.finish()
}

fn incremental(rows: &[Record], segment_ops: usize) -> Verdict {
    let mut check = Incremental::new(Source::Trace, Budget::states(BUDGET)).with_limits(
        segment_ops,
        CONFIGS_MAX,
        CARRIED_MAX,
    );
    for row in rows {
        check.push_row(row).unwrap();
    }
    check.finish()
}

fn whole(rows: &[Record]) -> Outcome {
    let mut builder = HistoryBuilder::new(Source::Trace);
    for row in rows {
        builder.push_row(row).unwrap();
    }
    check(&builder.finish(), &Budget::states(BUDGET)).outcome
}

/// Breaks a generated history in `n` places, each one of: an ok read returns another value of its
/// key (or nil), an ok write becomes a fail, a fail cas becomes ok, an info write becomes ok.
fn mutate(rows: &mut [Record], seed: u64, n: usize) {
    let mut rng = ChaCha8Rng::seed_from_u64(seed ^ 0x6d75_7461);
    for _ in 0..n {
        let at = rng.gen_range(0..rows.len());
        let row = &rows[at];
        match (row.event, row.msg.as_ref()) {
            (Event::Ok, "read") => {
                let written: Vec<Value> = rows
                    .iter()
                    .filter(|w| w.key == row.key && w.msg != "read" && w.event != Event::Invoke)
                    .map(|w| w.value.clone())
                    .collect();
                let value = if written.is_empty() || rng.gen_bool(0.1) {
                    Value::None
                } else {
                    written[rng.gen_range(0..written.len())].clone()
                };
                rows[at].value = value;
            }
            (Event::Ok, "write") => rows[at].event = Event::Fail,
            (Event::Fail, "cas") => rows[at].event = Event::Ok,
            (Event::Info, "write") => rows[at].event = Event::Ok,
            _ => {}
        }
    }
}

/// A generated config from one seed: small enough to decide, varied enough to cut often.
fn config(seed: u64) -> GenConfig {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    GenConfig {
        ops: rng.gen_range(1..300),
        keys: rng.gen_range(1..4),
        processes: rng.gen_range(1..8),
        info_per_mille: rng.gen_range(0..300),
        seed,
    }
}

#[test]
fn generated_histories_correct_and_broken_get_the_whole_history_verdict() {
    let mut counts = [0usize; 2];
    for seed in 0..400u64 {
        let mut rows = generate::rows(&config(seed));
        mutate(&mut rows, seed, (seed % 4) as usize);
        let expected = whole(&rows);
        assert_ne!(expected, Outcome::Undecided, "seed {seed}");
        for segment_ops in [1, 3, 64] {
            let got = incremental(&rows, segment_ops);
            assert_eq!(got.outcome, expected, "seed {seed}, segments of {segment_ops}: {}", got.message);
        }
        counts[usize::from(expected == Outcome::NotLinearizable)] += 1;
    }
    // Both verdicts are exercised, each many times.
    assert!(counts[0] >= 100 && counts[1] >= 100, "linearizable / not: {counts:?}");
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 600, ..ProptestConfig::default() })]

    /// Repeated values, fail, info and never-completed ops, cut at every quiescent point or
    /// every second op.
    #[test]
    fn tiny_histories_get_the_whole_history_and_brute_force_verdict(history in tiny(), segment_ops in 1usize..3) {
        let expected = check(&history, &Budget::states(BUDGET)).outcome;
        prop_assert_eq!(expected == Outcome::Linearizable, brute_force(&history));
        let got = replay(&history, segment_ops);
        prop_assert_eq!(got.outcome, expected, "{}\n{:?}", got.message, history.ops());
    }

    #[test]
    fn generated_histories_get_the_whole_history_verdict(
        seed in any::<u64>(), mutations in 0usize..4, segment_ops in prop_oneof![Just(1usize), Just(2), Just(16)],
    ) {
        let mut rows = generate::rows(&config(seed));
        mutate(&mut rows, seed, mutations);
        let expected = whole(&rows);
        prop_assert_ne!(expected, Outcome::Undecided);
        let got = incremental(&rows, segment_ops);
        prop_assert_eq!(got.outcome, expected, "{}", got.message);
    }
}

#[test]
fn an_unknown_outcome_is_carried_across_cuts() {
    // The info write takes effect three quiescent points later: nil, nil, then 1.
    let late = h("0 invoke write 1\n0 info write 1\n1 invoke read\n1 ok read nil\n\
                  1 invoke read\n1 ok read nil\n1 invoke read\n1 ok read 1\n1 invoke read\n1 ok read 1");
    assert_eq!(replay(&late, 1).outcome, Outcome::Linearizable);
    // Once it has, it cannot be undone: 1, then nil again.
    let flicker = h("0 invoke write 1\n0 info write 1\n1 invoke read\n1 ok read 1\n\
                     1 invoke read\n1 ok read 1\n1 invoke read\n1 ok read nil");
    let verdict = replay(&flicker, 1);
    assert_eq!(verdict.outcome, Outcome::NotLinearizable);
    // The failing segment is the last read; the history before it left the register at 1.
    assert!(
        verdict
            .message
            .starts_with("not linearizable: key (single register): 1 ops cannot be linearised (1-minimal)"),
        "{}",
        verdict.message
    );
    assert!(
        verdict.message.ends_with("read nil ok (line 7..8) (checked from what the history before line 7 may have left: the register 1)"),
        "{}",
        verdict.message
    );
    // A cas of unknown outcome, needed two cuts later.
    let cas =
        h("0 invoke write 1\n0 ok write 1\n1 invoke cas 1 2\n1 info cas 1 2\n2 invoke read\n2 ok read 1\n\
                 2 invoke read\n2 ok read 2");
    assert_eq!(replay(&cas, 1).outcome, Outcome::Linearizable);
}

#[test]
fn the_first_segment_reports_as_the_whole_history_does() {
    let history =
        h("0 invoke write 1\n0 ok write 1\n0 invoke write 2\n0 ok write 2\n1 invoke read\n1 ok read 1");
    let verdict = replay(&history, 64);
    let report = check(&history, &Budget::states(BUDGET));
    let ops: Vec<String> = report.witness.iter().map(|&i| history.describe(&history.ops()[i])).collect();
    assert_eq!(verdict.message.split(" (1 keys").next(), report.summary(&history).split(" (1 keys").next());
    assert!(verdict.message.ends_with(&ops.join("; ")), "{}", verdict.message);
    assert_eq!(verdict.line, Some(1));
}

#[test]
fn a_long_history_holds_only_open_segments_and_carried_state() {
    // 200,000 ops on 4 keys with 10 processes and no info: nothing is carried, and at no time
    // are more than a few segments' worth of ops held.
    let config = GenConfig { ops: 200_000, keys: 4, processes: 10, info_per_mille: 0, seed: 5 };
    let mut check = Incremental::new(Source::Trace, Budget::states(BUDGET));
    let mut most = Held::default();
    for row in generate::rows(&config) {
        check.push_row(&row).unwrap();
        let held = check.held();
        most.segment_ops = most.segment_ops.max(held.segment_ops);
        most.carried = most.carried.max(held.carried);
        most.configs = most.configs.max(held.configs);
    }
    assert_eq!(check.ops(), 200_000);
    assert_eq!(check.finish().outcome, Outcome::Linearizable);
    assert!(most.segment_ops < 4 * (SEGMENT_OPS + 10) + 10, "{most:?}");
    assert_eq!(most.carried, 0, "{most:?}");
    assert!(most.configs <= 4 * 4, "{most:?}");
}

#[test]
fn info_ops_that_took_effect_are_forgotten() {
    // 2 % info, half of which took effect: those read later are linearised in every
    // configuration and dropped; the carried ops are the never-observed ones only.
    let config = GenConfig { ops: 20_000, keys: 2, processes: 6, info_per_mille: 20, seed: 3 };
    let rows = generate::rows(&config);
    let info = rows.iter().filter(|r| r.event == Event::Info && r.msg != "read").count();
    let mut check =
        Incremental::new(Source::Trace, Budget::states(BUDGET)).with_limits(1, CONFIGS_MAX, CARRIED_MAX);
    for row in &rows {
        check.push_row(row).unwrap();
    }
    let held = check.held();
    assert!(info > 100, "{info}");
    assert!(held.carried < info, "carried {} of {info} info writes/cas", held.carried);
    assert!(held.configs <= 2 * 8, "{held:?}");
    assert_eq!(check.finish().outcome, Outcome::Linearizable);
}

#[test]
fn exceeding_a_carried_limit_is_undecided_not_a_pass() {
    let history = h("0 invoke write 1\n0 info write 1\n1 invoke write 2\n1 info write 2\n\
                     2 invoke read\n2 ok read nil\n2 invoke read\n2 ok read nil");
    let mut check = Incremental::new(Source::Edn, Budget::states(BUDGET)).with_limits(1, CONFIGS_MAX, 1);
    for e in history.events() {
        check.push(input_of(&history, e)).unwrap();
    }
    let verdict = check.finish();
    assert_eq!(verdict.outcome, Outcome::Undecided);
    assert!(
        verdict.message.starts_with(
            "undecided: key (single register) has more than 1 writes and cas of unknown outcome that may still take effect; not a pass"
        ),
        "{}",
        verdict.message
    );
}

#[test]
fn a_cut_with_too_many_end_configurations_is_deferred() {
    // Two concurrent writes leave the register at 1 or 2: two configurations at the cut after
    // them. With room for one, the segment is kept, and the read decided with it at the end.
    let two = h("0 invoke write 1\n1 invoke write 2\n0 ok write 1\n1 ok write 2\n2 invoke read\n2 ok read 1");
    for configs_max in [1, 2] {
        let mut check =
            Incremental::new(Source::Edn, Budget::states(BUDGET)).with_limits(1, configs_max, CARRIED_MAX);
        for e in two.events().into_iter().take(4) {
            check.push(input_of(&two, e)).unwrap();
        }
        let held = check.held();
        assert_eq!((held.segment_ops, held.configs), if configs_max == 1 { (2, 1) } else { (0, 2) });
        for e in two.events().into_iter().skip(4) {
            check.push(input_of(&two, e)).unwrap();
        }
        let verdict = check.finish();
        assert_eq!(verdict.outcome, Outcome::Linearizable, "{}", verdict.message);
    }
}

#[test]
fn pairing_errors_are_the_history_builders() {
    let bad = h("0 invoke write 1\n0 ok write 1");
    let mut check = Incremental::new(Source::Edn, Budget::states(BUDGET));
    let e = bad.events()[0];
    check.push(input_of(&bad, e)).unwrap();
    let err = check.push(input_of(&bad, e)).unwrap_err();
    let mut builder = HistoryBuilder::new(Source::Edn);
    builder.push(input_of(&bad, e)).unwrap();
    assert_eq!(builder.push(input_of(&bad, e)).unwrap_err(), err);
    let mut check = Incremental::new(Source::Edn, Budget::states(BUDGET));
    let err = check.push(input_of(&bad, bad.events()[1])).unwrap_err();
    assert!(err.allowed.contains("has none outstanding"), "{err}");
}

#[test]
fn a_burst_of_concurrent_writes_is_cut_not_deferred() {
    // 24 writes in flight at once, then all acknowledged: the register may hold any of them.
    // Listing every configuration on the way would visit each of the 2^24 subsets; the
    // last-writer searches find the 24 ends, so the cut succeeds and the segment is forgotten.
    let n = 24;
    let mut lines = String::new();
    for p in 0..n {
        lines.push_str(&format!("{p} invoke write {}\n", p + 1));
    }
    for p in 0..n {
        lines.push_str(&format!("{p} ok write {}\n", p + 1));
    }
    lines.push_str(&format!("{n} invoke read\n{n} ok read 7\n"));
    let burst = h(&lines);
    let mut check =
        Incremental::new(Source::Edn, Budget::states(BUDGET)).with_limits(1, CONFIGS_MAX, CARRIED_MAX);
    let events = burst.events();
    for &e in &events[..2 * n] {
        check.push(input_of(&burst, e)).unwrap();
    }
    assert_eq!(check.held(), Held { segment_ops: 0, carried: 0, configs: n, outstanding: 0 });
    for &e in &events[2 * n..] {
        check.push(input_of(&burst, e)).unwrap();
    }
    let verdict = check.finish();
    assert_eq!(verdict.outcome, Outcome::Linearizable, "{}", verdict.message);
}
