//! Deterministic linearizable histories for tests and benchmarks: concurrent clients of a correct
//! cas-register store, as dsim trace rows (the client-history contract of docs/trace.md).
//!
//! Each process runs ops one after another; every op gets an invocation time, a linearisation
//! point strictly after it and a completion strictly after that. The ops are then applied to one
//! register per key in linearisation-point order, which decides what reads return and whether a cas
//! succeeds (`ok`) or not (`fail`). Some ops end `info` (half of them took effect, half did not);
//! the process is then retired and a fresh process id takes its slot, as in Jepsen. Everything is
//! drawn from one ChaCha8 stream seeded with `seed`, so a config always gives the same rows.

use std::borrow::Cow;

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

use crate::lin::history::{History, HistoryBuilder, Source};
use crate::trace::{Event, Record, Value};

/// What to generate.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct GenConfig {
    pub ops: usize,
    pub keys: u32,
    /// Concurrent client slots (each a process id until one of its ops ends `info`).
    pub processes: u32,
    /// Ops that end `info`, per thousand.
    pub info_per_mille: u32,
    pub seed: u64,
}

#[derive(Clone, Copy, Debug)]
struct GenOp {
    process: u64,
    key: u32,
    kind: Kind,
    invoke_us: u64,
    lin_us: u64,
    complete_us: u64,
    info: bool,
    /// Info ops: whether it takes effect.
    effect: bool,
    value: Option<u64>,
    expect: Option<u64>,
    ok: bool,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Kind {
    Read,
    Write,
    Cas,
}

/// The trace rows of a generated history (client rows only, `seq` from 0).
pub fn rows(config: &GenConfig) -> Vec<Record> {
    let mut rng = ChaCha8Rng::seed_from_u64(config.seed);
    let slots = config.processes.max(1) as usize;
    let mut clock_us: Vec<u64> = (0..slots).map(|_| rng.gen_range(0..20)).collect();
    let mut process: Vec<u64> = (0..slots as u64).collect();
    let mut next_process = slots as u64;
    let mut ops: Vec<GenOp> = Vec::with_capacity(config.ops);
    for n in 0..config.ops {
        let slot = n % slots;
        let invoke_us = clock_us[slot] + rng.gen_range(1..=30);
        let lin_us = invoke_us + rng.gen_range(1..=50);
        let complete_us = lin_us + rng.gen_range(1..=50);
        clock_us[slot] = complete_us;
        let kind = match rng.gen_range(0..10) {
            0..=3 => Kind::Read,
            4..=7 => Kind::Write,
            _ => Kind::Cas,
        };
        let info = rng.gen_range(0..1000) < config.info_per_mille;
        ops.push(GenOp {
            process: process[slot],
            key: rng.gen_range(0..config.keys.max(1)),
            kind,
            invoke_us,
            lin_us,
            complete_us,
            info,
            effect: info && rng.gen_bool(0.5),
            value: None,
            expect: None,
            ok: false,
        });
        if info {
            process[slot] = next_process;
            next_process += 1;
        }
    }
    // Apply in linearisation order.
    let mut order: Vec<usize> = (0..ops.len()).collect();
    order.sort_by_key(|&i| (ops[i].lin_us, i));
    let mut register: Vec<Option<u64>> = vec![None; config.keys.max(1) as usize];
    let mut last_written: Vec<Vec<u64>> = vec![Vec::new(); register.len()];
    let mut next_value = 1u64;
    for i in order {
        let op = &mut ops[i];
        let k = op.key as usize;
        let applies = !op.info || op.effect;
        match op.kind {
            Kind::Read => {
                op.value = register[k];
                op.ok = true;
            }
            Kind::Write => {
                op.value = Some(next_value);
                next_value += 1;
                op.ok = true;
                if applies {
                    register[k] = op.value;
                    last_written[k].push(next_value - 1);
                }
            }
            Kind::Cas => {
                op.expect = if rng.gen_bool(0.7) || last_written[k].is_empty() {
                    register[k]
                } else {
                    let recent = &last_written[k][last_written[k].len().saturating_sub(4)..];
                    Some(recent[rng.gen_range(0..recent.len())])
                };
                op.value = Some(next_value);
                next_value += 1;
                op.ok = op.expect == register[k];
                if applies && op.ok {
                    register[k] = op.value;
                    last_written[k].push(next_value - 1);
                }
            }
        }
    }
    // (time, completion?, op): invocations before completions at the same time only reorder
    // concurrent ops, since every op's linearisation point is strictly inside its interval.
    let mut events: Vec<(u64, bool, usize)> = Vec::with_capacity(ops.len() * 2);
    for (i, op) in ops.iter().enumerate() {
        events.push((op.invoke_us, false, i));
        events.push((op.complete_us, true, i));
    }
    events.sort_unstable();
    let id = |v: Option<u64>| v.map_or(Value::None, Value::Id);
    events
        .into_iter()
        .enumerate()
        .map(|(seq, (time_us, completion, i))| {
            let op = &ops[i];
            let (msg, event) = match (op.kind, completion) {
                (Kind::Read, _) => ("read", Event::Ok),
                (Kind::Write, _) => ("write", Event::Ok),
                (Kind::Cas, _) => ("cas", if op.ok { Event::Ok } else { Event::Fail }),
            };
            let event = match (completion, op.info) {
                (false, _) => Event::Invoke,
                (true, true) => Event::Info,
                (true, false) => event,
            };
            let value = match (op.kind, event) {
                (Kind::Read, Event::Ok) => id(op.value),
                (Kind::Read, _) => Value::None,
                _ => id(op.value),
            };
            let mut detail = format!("p{}", op.process);
            if op.kind == Kind::Cas {
                detail.push_str(&op.expect.map_or(" expect=nil".to_owned(), |v| format!(" expect=v{v}")));
            }
            match event {
                Event::Fail => detail.push_str(" why=cas_mismatch"),
                Event::Info => detail.push_str(" why=timeout"),
                _ => {}
            }
            let mut row = Record::new(event).msg(msg).index(i as u64).key(u64::from(op.key)).value(value);
            row.detail = Cow::Owned(detail);
            row.seq = seq as u64;
            row.time_us = time_us;
            row
        })
        .collect()
}

/// The generated history itself.
pub fn history(config: &GenConfig) -> History {
    let mut builder = HistoryBuilder::new(Source::Trace);
    for row in rows(config) {
        if let Err(e) = builder.push_row(&row) {
            unreachable!("generated rows follow the contract: {e}");
        }
    }
    builder.finish()
}
