//! The `dsim` binary: parse the command line, run the subcommand, map the outcome to an exit code
//! (0 ok, 1 a checker found a violation or a replay differed, 2 bad input or an I/O error).

use std::process::ExitCode;

use clap::Parser;

fn main() -> ExitCode {
    let cli = dsim::cli::Cli::parse();
    match dsim::cli::run(cli) {
        Ok(code) => ExitCode::from(code),
        Err(err) => {
            eprintln!("dsim: error: {err:#}");
            ExitCode::from(2)
        }
    }
}
