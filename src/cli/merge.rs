//! `dsim merge DIR… --out DIR`: joins the shard directories of one sweep into the files an
//! unsharded sweep writes (byte-identical CSVs), after checking that the shards share one grid and
//! cover every run exactly once. Directories of the default sweep (with `raft/` and `eventual/`
//! inside) are merged per protocol.

use std::path::PathBuf;

use crate::cli::flag_error;
use crate::sweep::output::{self, MANIFEST};

#[derive(Debug, clap::Args)]
pub struct MergeArgs {
    /// The shard directories (each written by `dsim sweep --shard K/N`).
    #[arg(required = true)]
    pub dirs: Vec<PathBuf>,
    /// Where the merged sweep goes (refused if it holds another sweep's files).
    #[arg(long)]
    pub out: PathBuf,
}

/// The sweep directories inside `dir`: itself, or the default sweep's per-protocol ones.
fn layout(dir: &std::path::Path) -> Vec<&'static str> {
    if dir.join(MANIFEST).exists() {
        return vec![""];
    }
    ["raft", "eventual"].into_iter().filter(|p| dir.join(p).join(MANIFEST).exists()).collect()
}

pub fn run(args: MergeArgs) -> anyhow::Result<u8> {
    let subdirs = layout(&args.dirs[0]);
    if !args.dirs[0].is_dir() {
        let cause = std::io::Error::from_raw_os_error(if args.dirs[0].exists() { 20 } else { 2 });
        return Err(crate::error::Error::io(&args.dirs[0], cause).into());
    }
    if subdirs.is_empty() {
        let first = args.dirs[0].display().to_string();
        return Err(flag_error(
            "merge",
            first,
            format!("a sweep directory (with {MANIFEST}, or raft/ and eventual/)"),
        )
        .into());
    }
    for dir in &args.dirs[1..] {
        if !dir.is_dir() {
            let cause = std::io::Error::from_raw_os_error(if dir.exists() { 20 } else { 2 });
            return Err(crate::error::Error::io(dir, cause).into());
        }
        if layout(dir) != subdirs {
            let shown = dir.display().to_string();
            return Err(
                flag_error("merge", shown, format!("the same layout as {}", args.dirs[0].display())).into()
            );
        }
    }
    if subdirs.len() > 1 {
        output::refuse_strays(&args.out, &["raft", "eventual"])?;
    }
    for sub in subdirs {
        let inputs: Vec<PathBuf> = args.dirs.iter().map(|d| d.join(sub)).collect();
        let out = args.out.join(sub);
        let m = output::merge(&inputs, &out)?;
        crate::outln!(
            "dsim merge: {} shards -> {}: {} runs, {} with violations",
            inputs.len(),
            out.display(),
            m.runs,
            m.violating_runs
        )?;
    }
    Ok(0)
}
