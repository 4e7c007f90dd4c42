//! One `dsim bench` workload by name, for a profiler:
//! `valgrind --tool=callgrind ./target/release/examples/prof kernel 100000`.
//! Workloads: `kernel` (Raft, runner only), `check` (Raft, checkers + metrics, trace off),
//! `trace` (the same with the CSV trace), `eventual` (the eventual KV, checkers + metrics).
//! The second argument is the simulated duration in ms (default 100 000).

use dsim::bench;
use dsim::harness::{self, Options};

fn main() -> dsim::Result<()> {
    let args: Vec<String> = std::env::args().collect();
    let what = args.get(1).map_or("kernel", String::as_str);
    let ms: u64 = args.get(2).and_then(|s| s.parse().ok()).unwrap_or(100_000);
    let events = match what {
        "kernel" => bench::raft_kernel_only(&bench::raft_steady(ms)?).events,
        "check" => harness::run(&bench::raft_steady(ms)?, Options::default())?.stats.events,
        "trace" => {
            let path = std::env::temp_dir().join(format!("dsim-prof-{}.csv", std::process::id()));
            let opts = Options { trace: Some(&path), hash: false, history: None };
            let events = harness::run(&bench::raft_steady(ms)?, opts)?.stats.events;
            let _ = std::fs::remove_file(&path);
            let _ = std::fs::remove_file(path.with_extension("manifest.json"));
            events
        }
        "eventual" => harness::run(&bench::eventual_steady(ms)?, Options::default())?.stats.events,
        other => {
            eprintln!("prof: unknown workload {other:?} (kernel, check, trace, eventual)");
            std::process::exit(2);
        }
    };
    println!("{what}: {events} events");
    Ok(())
}
