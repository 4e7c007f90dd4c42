//! `dsim lincheck PATH`: is a client history linearizable (a cas register per key)?
//!
//! PATH is a dsim trace (its `invoke`/`ok`/`fail`/`info` rows) or a Jepsen EDN history. Exit codes:
//! 0 linearizable, 1 not (the key, the shrunk ops and their timeline are printed), 2 bad input, 3
//! undecided (the search budget ran out: not a pass). See docs/lincheck.md.

use std::path::PathBuf;

use crate::cli::{flag_error, EXIT_VIOLATION};
use crate::lin::{self, Budget, Format, Outcome};

/// Exit code when the search budget ran out before an answer.
pub const EXIT_UNDECIDED: u8 = 3;

#[derive(Debug, clap::Args)]
pub struct LincheckArgs {
    /// A dsim trace CSV or a Jepsen EDN history (one op map per line).
    pub path: PathBuf,
    /// Search configurations allowed per key before the answer is "undecided" (exit 3).
    #[arg(long, default_value_t = Budget::STATES_DEFAULT)]
    pub lin_budget: u64,
    /// auto | trace | edn (auto: by extension .csv / .edn, else by content).
    #[arg(long, default_value = "auto")]
    pub format: String,
    /// Print one JSON object instead of text.
    #[arg(long)]
    pub json: bool,
}

pub fn run(args: LincheckArgs) -> anyhow::Result<u8> {
    let format = match args.format.as_str() {
        "auto" => Format::Auto,
        "trace" => Format::Trace,
        "edn" => Format::Edn,
        other => return Err(flag_error("--format", other, "auto, trace or edn").into()),
    };
    if !(1..=10_000_000_000).contains(&args.lin_budget) {
        return Err(flag_error("--lin-budget", args.lin_budget.to_string(), "1 to 10000000000").into());
    }
    let history = lin::load(&args.path, format)?;
    let report = lin::check(&history, &Budget::states(args.lin_budget));
    if args.json {
        println!("{}", report.to_json(&history));
    } else {
        print!("dsim lincheck: {}: {}", args.path.display(), report.to_text(&history));
    }
    Ok(match report.outcome {
        Outcome::Linearizable => 0,
        Outcome::NotLinearizable => EXIT_VIOLATION,
        Outcome::Undecided => EXIT_UNDECIDED,
    })
}
