//! The `dsim` binary: parse the command line, run the subcommand, map the outcome to an exit code
//! (0 ok, 1 a checker found a violation or a replay differed, 2 bad input or an I/O error).
//! A reader that went away (`dsim run | head -1`) ends the command quietly with exit 0, like
//! `grep`; nothing here panics on a closed or full stdout or stderr.

use std::process::ExitCode;

use clap::Parser;

/// See Cargo.toml: fewer instructions per allocation and no page faults between a sweep's runs.
/// Nothing a simulation computes depends on where memory lies, so runs are unchanged.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> ExitCode {
    let cli = match dsim::cli::Cli::try_parse() {
        Ok(cli) => cli,
        Err(err) => {
            // clap's own printing panics on a closed stdout (`dsim --help | head -0`).
            let code = if err.use_stderr() { 2 } else { 0 };
            let text = err.render().to_string();
            let _ = if err.use_stderr() {
                std::io::Write::write_all(&mut std::io::stderr(), text.as_bytes())
            } else {
                std::io::Write::write_all(&mut std::io::stdout(), text.as_bytes())
            };
            return ExitCode::from(code);
        }
    };
    dsim::output::install_signal_cleanup();
    match dsim::cli::run(cli) {
        Ok(code) => ExitCode::from(code),
        Err(err) if dsim::output::is_broken_pipe(&err) => ExitCode::SUCCESS,
        Err(err) => {
            dsim::output::eprint_line(format_args!("dsim: error: {err:#}"));
            ExitCode::from(2)
        }
    }
}
