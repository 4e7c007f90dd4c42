//! The search on classic small histories, against a brute-force checker, and on generated ones.

use proptest::prelude::*;

use super::*;
use crate::lin::edn::{parse_all, Datum};
use crate::lin::generate::{self, GenConfig};
use crate::lin::history::{HistoryBuilder, Source};
use crate::lin::{check, Report};

/// A history from compact lines: `p type f value`, e.g. `0 invoke write 1`, `1 ok read nil`,
/// `2 invoke cas 1 2` (values are integers or nil). Shared with the incremental check's tests.
pub(crate) fn h(lines: &str) -> History {
    let mut text = String::new();
    for line in lines.lines().map(str::trim).filter(|l| !l.is_empty()) {
        let w: Vec<&str> = line.split_whitespace().collect();
        let value = match w[2] {
            "cas" => format!("[{} {}]", w[3], w[4]),
            _ => w.get(3).copied().unwrap_or("nil").to_owned(),
        };
        text.push_str(&format!("{{:process {}, :type :{}, :f :{}, :value {value}}}\n", w[0], w[1], w[2]));
    }
    let mut b = HistoryBuilder::new(Source::Edn);
    for (line, d) in parse_all(&text).unwrap() {
        b.push_edn(line, &d).unwrap();
    }
    b.finish()
}

fn outcome(history: &History) -> Outcome {
    check(history, &Budget::states(1_000_000)).outcome
}

const LIN: Outcome = Outcome::Linearizable;
const NOT: Outcome = Outcome::NotLinearizable;

#[test]
fn sequential_write_then_read() {
    assert_eq!(outcome(&h("0 invoke write 1\n0 ok write 1\n1 invoke read\n1 ok read 1")), LIN);
    assert_eq!(outcome(&h("1 invoke read\n1 ok read nil")), LIN, "the initial value is nil");
    assert_eq!(outcome(&h("1 invoke read\n1 ok read 3")), NOT, "nobody wrote 3");
}

#[test]
fn stale_read_is_caught() {
    let history =
        h("0 invoke write 1\n0 ok write 1\n0 invoke write 2\n0 ok write 2\n1 invoke read\n1 ok read 1");
    assert_eq!(outcome(&history), NOT);
}

#[test]
fn a_concurrent_read_may_see_either_value() {
    for v in ["1", "2"] {
        let history = h(&format!(
            "0 invoke write 1\n0 ok write 1\n0 invoke write 2\n1 invoke read\n1 ok read {v}\n0 ok write 2"
        ));
        assert_eq!(outcome(&history), LIN, "read {v}");
    }
}

#[test]
fn lost_write_is_caught() {
    // Two concurrent writes both acknowledged; later reads see 1 and then 2: one of them was lost
    // and came back.
    let history = h("0 invoke write 1\n1 invoke write 2\n0 ok write 1\n1 ok write 2\n\
                     2 invoke read\n2 ok read 1\n2 invoke read\n2 ok read 2");
    assert_eq!(outcome(&history), NOT);
    let fine = h("0 invoke write 1\n1 invoke write 2\n0 ok write 1\n1 ok write 2\n\
                  2 invoke read\n2 ok read 1\n2 invoke read\n2 ok read 1");
    assert_eq!(outcome(&fine), LIN);
}

#[test]
fn cas_races() {
    // Both cas from nil succeeded: impossible.
    let both = h("0 invoke cas nil 1\n1 invoke cas nil 2\n0 ok cas nil 1\n1 ok cas nil 2");
    assert_eq!(outcome(&both), NOT);
    // One failed: fine, and a later read sees the winner.
    let one = h("0 invoke cas nil 1\n1 invoke cas nil 2\n0 ok cas nil 1\n1 fail cas nil 2\n2 invoke read\n2 ok read 1");
    assert_eq!(outcome(&one), LIN);
    // A chain: cas nil->1 then cas 1->2 concurrently, both ok: only in that order.
    let chain =
        h("0 invoke cas 1 2\n1 invoke cas nil 1\n1 ok cas nil 1\n0 ok cas 1 2\n2 invoke read\n2 ok read 2");
    assert_eq!(outcome(&chain), LIN);
    let wrong =
        h("1 invoke cas nil 1\n1 ok cas nil 1\n0 invoke cas 1 2\n0 ok cas 1 2\n2 invoke read\n2 ok read 1");
    assert_eq!(outcome(&wrong), NOT);
}

#[test]
fn info_ops_may_or_may_not_take_effect() {
    // Needed: only the info write explains the read.
    assert_eq!(outcome(&h("0 invoke write 1\n0 info write 1\n1 invoke read\n1 ok read 1")), LIN);
    // Not needed: it never happened.
    assert_eq!(outcome(&h("0 invoke write 1\n0 info write 1\n1 invoke read\n1 ok read nil")), LIN);
    // It may take effect long after its info: nil, then 1.
    let late =
        h("0 invoke write 1\n0 info write 1\n1 invoke read\n1 ok read nil\n1 invoke read\n1 ok read 1");
    assert_eq!(outcome(&late), LIN);
    // But only once: 1, then nil again is impossible.
    let flicker =
        h("0 invoke write 1\n0 info write 1\n1 invoke read\n1 ok read 1\n1 invoke read\n1 ok read nil");
    assert_eq!(outcome(&flicker), NOT);
    // Never completed counts as info.
    assert_eq!(outcome(&h("0 invoke write 1\n1 invoke read\n1 ok read 1")), LIN);
    // But not before its invocation.
    assert_eq!(outcome(&h("1 invoke read\n1 ok read 1\n0 invoke write 1\n0 info write 1")), NOT);
}

#[test]
fn fail_ops_never_took_effect() {
    assert_eq!(outcome(&h("0 invoke write 1\n0 fail write 1\n1 invoke read\n1 ok read 1")), NOT);
    assert_eq!(outcome(&h("0 invoke write 1\n0 fail write 1\n1 invoke read\n1 ok read nil")), LIN);
}

#[test]
fn keys_are_checked_independently() {
    let text = "{:process 0, :type :invoke, :f :write, :value [:a 1]}\n\
                {:process 0, :type :ok, :f :write, :value [:a 1]}\n\
                {:process 1, :type :invoke, :f :read, :value [:b nil]}\n\
                {:process 1, :type :ok, :f :read, :value [:b 1]}\n";
    let mut b = HistoryBuilder::new(Source::Edn);
    for (line, d) in parse_all(text).unwrap() {
        b.push_edn(line, &d).unwrap();
    }
    let history = b.finish();
    let report = check(&history, &Budget::states(1_000));
    assert_eq!(report.outcome, NOT, "key :b read 1, written only on :a");
    assert_eq!(history.show_key(report.key.unwrap()), ":b");
    assert_eq!(report.witness.len(), 1);
}

#[test]
fn the_witness_is_the_stale_read_and_its_two_writes() {
    let history = h("0 invoke write 1\n0 ok write 1\n1 invoke read\n1 ok read 1\n0 invoke write 2\n0 ok write 2\n\
                     1 invoke read\n1 ok read 2\n2 invoke write 3\n2 fail write 3\n1 invoke read\n1 ok read 1\n\
                     1 invoke read\n1 ok read 1");
    let report = check(&history, &Budget::states(10_000));
    assert_eq!(report.outcome, NOT);
    assert!(report.minimal);
    let calls: Vec<String> = report.witness.iter().map(|&i| history.show_call(&history.ops()[i])).collect();
    assert_eq!(calls, ["write 1", "write 2", "read 1"]);
    let text = report.to_text(&history);
    assert!(
        text.starts_with("not linearizable: key (single register): 3 ops cannot be linearised (1-minimal)"),
        "{text}"
    );
    assert!(text.contains("+ write 2 [op 2]"), "{text}");
}

#[test]
fn a_tiny_budget_is_undecided_never_a_pass() {
    let history =
        generate::history(&GenConfig { ops: 200, keys: 1, processes: 5, info_per_mille: 0, seed: 1 });
    let report: Report = check(&history, &Budget::states(10));
    assert_eq!(report.outcome, Outcome::Undecided);
    assert!(report.summary(&history).starts_with("undecided: key k0 needs more than 10 search states"));
    assert_eq!(check(&history, &Budget::states(1_000_000)).outcome, LIN);
}

#[test]
fn generated_histories_are_linearizable_and_a_stale_read_in_them_is_caught() {
    for seed in 0..4 {
        let config = GenConfig { ops: 2_000, keys: 3, processes: 8, info_per_mille: 20, seed };
        let rows = generate::rows(&config);
        let history = generate::history(&config);
        assert_eq!(outcome(&history), LIN, "seed {seed}");
        // Make the last ok read that returned a value return the first value its key ever held.
        let mut rows = rows;
        let Some(r) = rows
            .iter()
            .rposition(|r| r.event == crate::trace::Event::Ok && r.msg == "read" && !r.value.is_none())
        else {
            panic!("seed {seed}: no read")
        };
        let key = rows[r].key;
        let first = rows
            .iter()
            .find(|w| {
                w.event == crate::trace::Event::Ok
                    && w.msg == "write"
                    && w.key == key
                    && w.value != rows[r].value
            })
            .map(|w| w.value.clone())
            .unwrap();
        rows[r].value = first;
        let mut b = HistoryBuilder::new(Source::Trace);
        for row in &rows {
            b.push_row(row).unwrap();
        }
        let broken = b.finish();
        let report = check(&broken, &Budget::states(1_000_000));
        assert_eq!(report.outcome, NOT, "seed {seed}");
        assert!(report.witness.len() <= 10, "seed {seed}: {}", report.to_text(&broken));
    }
}

/// The brute-force answer: some subset of the optional (info / never completed) ops and some
/// order of it with the ok ops respects real time and the register.
pub(crate) fn brute_force(history: &History) -> bool {
    let ops: Vec<&crate::lin::Op> =
        history.ops().iter().filter(|o| !matches!(o.completion, Completion::Fail(_))).collect();
    let optional: Vec<usize> = (0..ops.len()).filter(|&i| !ops[i].completion.is_ok()).collect();
    let ret = |i: usize| match ops[i].completion {
        Completion::Ok(at) => at.pos,
        _ => u64::MAX,
    };
    for mask in 0u32..(1 << optional.len()) {
        let chosen: Vec<usize> = (0..ops.len())
            .filter(|i| match optional.iter().position(|o| o == i) {
                Some(b) => mask & (1 << b) != 0,
                None => true,
            })
            .collect();
        if permutations(&chosen).into_iter().any(|order| {
            let mut state = NIL;
            for (k, &i) in order.iter().enumerate() {
                // Real time: nothing later in the order may have returned before i was invoked.
                if order[k + 1..].iter().any(|&j| ret(j) < ops[i].invoke.pos) {
                    return false;
                }
                let op = ops[i];
                match op.f {
                    OpF::Read if state != op.value => return false,
                    OpF::Read => {}
                    OpF::Write => state = op.value,
                    OpF::Cas if state != op.expect => return false,
                    OpF::Cas => state = op.value,
                }
            }
            true
        }) {
            return true;
        }
    }
    false
}

fn permutations(items: &[usize]) -> Vec<Vec<usize>> {
    if items.is_empty() {
        return vec![Vec::new()];
    }
    let mut out = Vec::new();
    for i in 0..items.len() {
        let mut rest = items.to_vec();
        let first = rest.remove(i);
        for mut p in permutations(&rest) {
            p.insert(0, first);
            out.push(p);
        }
    }
    out
}

/// A tiny random history: up to 6 ops by up to 3 processes over values nil, 1, 2 (repeats
/// allowed), each ending ok, fail, info or not at all, interleaved at random.
pub(crate) fn tiny() -> impl Strategy<Value = History> {
    let op = (0u8..3, 0u8..3, 0u8..3, 0u8..4, any::<bool>());
    (proptest::collection::vec((0u64..3, op), 1..=6), proptest::collection::vec(any::<u8>(), 12)).prop_map(
        |(ops, interleave)| {
            let v = |x: u8| if x == 0 { Datum::Nil } else { Datum::Int(i64::from(x)) };
            // Per process, a queue of (invoke map, completion map or None).
            let mut queues: Vec<Vec<String>> = vec![Vec::new(); 3];
            for (p, (f, a, b, end, _)) in ops {
                let (fname, value) = match f {
                    0 => ("read", v(a)),
                    1 => ("write", v(a)),
                    _ => ("cas", Datum::Vector(vec![v(a), v(b)])),
                };
                let map = |ty: &str| format!("{{:process {p}, :type :{ty}, :f :{fname}, :value {value}}}");
                queues[p as usize].push(map("invoke"));
                match end {
                    0 | 1 => queues[p as usize].push(map("ok")),
                    2 => queues[p as usize].push(map("fail")),
                    _ => queues[p as usize].push(map("info")),
                }
            }
            // Drop the completion of each process's last op half the time: never completed.
            let mut text = String::new();
            let mut next = [0usize; 3];
            let mut k = 0;
            while next.iter().zip(&queues).any(|(n, q)| *n < q.len()) {
                let pick = interleave.get(k).map_or(0, |b| *b as usize) % 3;
                k += 1;
                let p = (pick..pick + 3).map(|p| p % 3).find(|&p| next[p] < queues[p].len()).unwrap_or(0);
                let line = &queues[p][next[p]];
                next[p] += 1;
                let last_completion = next[p] == queues[p].len() && next[p] % 2 == 0;
                if !(last_completion && interleave[p] % 2 == 0) {
                    text.push_str(line);
                    text.push('\n');
                }
            }
            let mut b = HistoryBuilder::new(Source::Edn);
            for (line, d) in parse_all(&text).unwrap() {
                b.push_edn(line, &d).unwrap();
            }
            b.finish()
        },
    )
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 400, ..ProptestConfig::default() })]

    #[test]
    fn search_agrees_with_brute_force(history in tiny()) {
        let expected = brute_force(&history);
        let got = check(&history, &Budget::states(1_000_000));
        prop_assert_eq!(got.outcome == LIN, expected, "{:?}", history.ops());
        prop_assert_ne!(got.outcome, Outcome::Undecided);
        if got.outcome == NOT {
            // The witness alone is not linearizable either.
            let sub = check_ops(&history, &got.witness, &Budget::states(1_000_000));
            prop_assert_eq!(sub.outcome, NOT);
        }
    }

    #[test]
    fn stretched_sequential_executions_are_linearizable(
        seed in any::<u64>(), ops in 1usize..300, keys in 1u32..4, processes in 1u32..10, info in 0u32..200,
    ) {
        let history = generate::history(&GenConfig { ops, keys, processes, info_per_mille: info, seed });
        prop_assert_eq!(check(&history, &Budget::states(1_000_000)).outcome, LIN);
    }
}

/// The ends of `ops` of `history` from the initial nil and from each value in `values`, sorted by
/// (start, value): by the last-writer searches and by listing every configuration.
fn ends_both_ways(history: &History, ops: &[usize], values: &[u32]) -> (Ends, Ends) {
    let mut starts = vec![Start { value: NIL, linearised: Vec::new() }];
    starts.extend(values.iter().map(|&value| Start { value, linearised: Vec::new() }));
    let budget = Budget::states(1_000_000);
    let mut by_last = Search::new(history, ops).ends_by_last(&starts, &budget);
    let mut listed = Search::new(history, ops).ends_listed(&starts, &budget, false);
    for ends in [&mut by_last, &mut listed] {
        ends.ends.sort_unstable_by_key(|e| (e.start, e.value));
        ends.states = 0;
    }
    (by_last, listed)
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 2_000, ..ProptestConfig::default() })]

    #[test]
    fn last_writer_searches_find_the_listed_ends(history in tiny(), picks in proptest::collection::vec(0usize..6, 0..3)) {
        // Only the ok ops: the last-writer searches are for segments with nothing optional.
        let all = history.ops();
        let ok: Vec<usize> = (0..all.len()).filter(|&i| all[i].completion.is_ok()).collect();
        prop_assume!(!ok.is_empty());
        // Starts from values the history holds.
        let values: Vec<u32> = picks.iter().map(|&k| all[ok[k % ok.len()]].value).collect();
        let (by_last, listed) = ends_both_ways(&history, &ok, &values);
        prop_assert_eq!(by_last, listed, "{:?}", all);
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 2_000, ..ProptestConfig::default() })]

    /// The last-writer searches replay one start's outcome for every other start whose value no
    /// op reads or expects: the ends (in order), the configurations counted and where the budget
    /// runs out must be those of searching each start on its own, one after the other.
    #[test]
    fn replayed_starts_are_searched_starts(
        history in tiny(), values in proptest::collection::vec(0u32..6, 1..5), states_max in 1u64..60,
    ) {
        let all = history.ops();
        let ok: Vec<usize> = (0..all.len()).filter(|&i| all[i].completion.is_ok()).collect();
        prop_assume!(!ok.is_empty());
        let starts: Vec<Start> = values.iter().map(|&value| Start { value, linearised: Vec::new() }).collect();
        for budget in [Budget::states(states_max), Budget::states(1_000_000)] {
            let got = Search::new(&history, &ok).ends_by_last(&starts, &budget);
            // Each start alone, within what the earlier ones left of the budget.
            let mut want = Ends { outcome: Outcome::NotLinearizable, states: 0, ends: Vec::new() };
            for (s, start) in starts.iter().enumerate() {
                let left = Budget::states(budget.states_max - want.states);
                let one = Search::new(&history, &ok).ends_by_last(std::slice::from_ref(start), &left);
                want.states += one.states;
                want.ends.extend(one.ends.into_iter().map(|e| End { start: s, ..e }));
                if one.outcome == Outcome::Undecided {
                    want.outcome = Outcome::Undecided;
                    break;
                }
            }
            if want.outcome != Outcome::Undecided && !want.ends.is_empty() {
                want.outcome = Outcome::Linearizable;
            }
            prop_assert_eq!(got.outcome, want.outcome, "{:?} from {:?}", all, values);
            prop_assert_eq!(got.states, want.states, "{:?} from {:?}", all, values);
            if got.outcome != Outcome::Undecided {
                prop_assert_eq!(got.ends, want.ends, "{:?} from {:?}", all, values);
            }
        }
    }
}
