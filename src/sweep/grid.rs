//! The sweep grid: `--param KEY=V1,V2,…` lists (with an exact `a:b:step` range form), the job list
//! they span with the seeds, and the `--shard K/N` slice of it.
//!
//! A grid point is one combination of parameter values; points are numbered in mixed radix with the
//! first `--param` varying slowest. A job is (point, seed number); its index is
//! `point * seeds + seed_number`, and shard K of N takes the jobs whose index is K-1 modulo N, so
//! every shard gets a fair share of every grid point. Nothing here depends on threads or time.

use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};

/// At most this many values per `--param`.
pub const VALUES_MAX: usize = 10_000;
/// At most this many grid points (combinations of parameter values).
pub const POINTS_MAX: usize = 100_000;
/// At most this many seeds per grid point.
pub const SEEDS_MAX: u64 = 1_000_000;
/// At most this many jobs (points × seeds) in one sweep.
pub const JOBS_MAX: u64 = 10_000_000;

/// One swept scenario key and the values it takes, as TOML literals (`0.05`, `[150, 300]`, `"lww"`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Param {
    pub key: String,
    /// Invariant: non-empty, no duplicates, each at most one TOML value.
    pub values: Vec<String>,
}

fn param_error(text: &str, allowed: impl Into<String>) -> Error {
    Error::Flag { flag: "--param".into(), value: text.into(), allowed: allowed.into() }
}

impl Param {
    /// Parses `KEY=V1,V2,…`. Commas inside `[…]`, `{…}` or quotes do not split; an item `a:b:step`
    /// of three decimal numbers expands to `a, a+step, …` up to and including `b`.
    pub fn parse(text: &str) -> Result<Param> {
        let (key, list) = text.split_once('=').ok_or_else(|| {
            param_error(text, "KEY=V1,V2,… or KEY=a:b:step, e.g. network.drop_probability=0:0.5:0.05")
        })?;
        let key = key.trim();
        if key.is_empty() || key.split('.').any(|s| s.is_empty() || s.contains(char::is_whitespace)) {
            return Err(param_error(text, "a dotted scenario key before '=', e.g. network.drop_probability"));
        }
        if key == "seed" {
            return Err(param_error(
                text,
                "any scenario key but seed (seeds come from --seeds and --seed-start)",
            ));
        }
        let mut values: Vec<String> = Vec::new();
        for item in split_top_level(list) {
            let item = item.trim();
            if item.is_empty() {
                return Err(param_error(text, "a non-empty value between commas"));
            }
            if is_range(item) {
                values.extend(expand_range(text, item)?);
            } else {
                values.push(item.to_owned());
            }
            if values.len() > VALUES_MAX {
                return Err(param_error(text, format!("at most {VALUES_MAX} values")));
            }
        }
        let mut seen = std::collections::BTreeSet::new();
        if let Some(dup) = values.iter().find(|v| !seen.insert(v.as_str())) {
            return Err(param_error(text, format!("distinct values ({dup} appears twice)")));
        }
        Ok(Param { key: key.to_owned(), values })
    }

    /// `KEY=VALUE` for the scenario loader.
    pub fn set(&self, value_index: usize) -> String {
        format!("{}={}", self.key, self.values[value_index])
    }
}

/// Splits on commas outside brackets, braces and quotes.
fn split_top_level(list: &str) -> Vec<&str> {
    let mut items = Vec::new();
    let (mut depth, mut quote, mut start) = (0i32, None::<char>, 0);
    for (i, c) in list.char_indices() {
        match (quote, c) {
            (Some(q), c) if c == q => quote = None,
            (Some(_), _) => {}
            (None, '"' | '\'') => quote = Some(c),
            (None, '[' | '{') => depth += 1,
            (None, ']' | '}') => depth -= 1,
            (None, ',') if depth == 0 => {
                items.push(&list[start..i]);
                start = i + 1;
            }
            _ => {}
        }
    }
    items.push(&list[start..]);
    items
}

/// An item is a range when it has a `:` outside quotes and brackets (a TOML value never does).
fn is_range(item: &str) -> bool {
    !item.starts_with(['"', '\'', '[', '{']) && item.contains(':')
}

/// A decimal number held exactly: `mantissa / 10^scale`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Decimal {
    mantissa: i128,
    scale: u32,
}

/// At most this many digits after the point in a range bound or step.
const SCALE_MAX: u32 = 12;

impl Decimal {
    fn parse(text: &str) -> Option<Decimal> {
        let (negative, digits) = match text.strip_prefix('-') {
            Some(rest) => (true, rest),
            None => (false, text.strip_prefix('+').unwrap_or(text)),
        };
        let (int, frac) = digits.split_once('.').unwrap_or((digits, ""));
        let all_digits = |s: &str| s.bytes().all(|b| b.is_ascii_digit());
        if int.is_empty() || !all_digits(int) || !all_digits(frac) || int.len() + frac.len() > 24 {
            return None;
        }
        let scale = u32::try_from(frac.len()).ok().filter(|s| *s <= SCALE_MAX)?;
        let mantissa: i128 = format!("{int}{frac}").parse().ok()?;
        Some(Decimal { mantissa: if negative { -mantissa } else { mantissa }, scale })
    }

    fn rescale(self, scale: u32) -> i128 {
        self.mantissa * 10i128.pow(scale - self.scale)
    }
}

/// Formats `mantissa / 10^scale` with exactly `scale` decimals.
fn format_scaled(mantissa: i128, scale: u32) -> String {
    let sign = if mantissa < 0 { "-" } else { "" };
    let digits = mantissa.unsigned_abs().to_string();
    if scale == 0 {
        return format!("{sign}{digits}");
    }
    let scale = scale as usize;
    let padded = format!("{digits:0>width$}", width = scale + 1);
    let (int, frac) = padded.split_at(padded.len() - scale);
    format!("{sign}{int}.{frac}")
}

/// `a:b:step` -> `a, a+step, …, ≤ b`, each computed as `a + i*step` in exact decimals and written
/// with the largest number of decimals among the three inputs (`0:0.5:0.05` -> `0.00`, `0.05`, …).
fn expand_range(text: &str, item: &str) -> Result<Vec<String>> {
    let allowed = "a:b:step with decimal numbers a ≤ b and step > 0 (at most 12 decimals), e.g. 0:0.5:0.05";
    let parts: Vec<&str> = item.split(':').map(str::trim).collect();
    let [a, b, step] = parts[..] else {
        return Err(param_error(text, allowed));
    };
    let (Some(a), Some(b), Some(step)) = (Decimal::parse(a), Decimal::parse(b), Decimal::parse(step)) else {
        return Err(param_error(text, allowed));
    };
    let scale = a.scale.max(b.scale).max(step.scale);
    let (a, b, step) = (a.rescale(scale), b.rescale(scale), step.rescale(scale));
    if step <= 0 || a > b {
        return Err(param_error(text, allowed));
    }
    let count = (b - a) / step + 1;
    if count > VALUES_MAX as i128 {
        return Err(param_error(text, format!("a range of at most {VALUES_MAX} values ({count} here)")));
    }
    Ok((0..count).map(|i| format_scaled(a + i * step, scale)).collect())
}

/// The product of the parameter lists.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Grid {
    pub params: Vec<Param>,
}

impl Grid {
    /// Builds a grid, refusing a key given twice and grids over [`POINTS_MAX`].
    pub fn new(params: Vec<Param>) -> Result<Grid> {
        for (i, p) in params.iter().enumerate() {
            if params[..i].iter().any(|q| q.key == p.key) {
                return Err(param_error(&p.key, "each key in one --param only"));
            }
        }
        let mut points: usize = 1;
        for p in &params {
            points = points.saturating_mul(p.values.len());
        }
        if points > POINTS_MAX {
            return Err(param_error(
                &params.iter().map(|p| p.key.as_str()).collect::<Vec<_>>().join(" × "),
                format!("a grid of at most {POINTS_MAX} points ({points} here)"),
            ));
        }
        Ok(Grid { params })
    }

    /// Number of grid points (1 for an empty grid: the base scenario alone).
    pub fn points(&self) -> usize {
        self.params.iter().map(|p| p.values.len()).product()
    }

    /// The value index of each parameter at `point` (first parameter varies slowest).
    pub fn coordinates(&self, point: usize) -> Vec<usize> {
        assert!(point < self.points(), "grid point {point} out of {}", self.points());
        let mut rest = point;
        let mut coords = vec![0; self.params.len()];
        for (i, p) in self.params.iter().enumerate().rev() {
            coords[i] = rest % p.values.len();
            rest /= p.values.len();
        }
        coords
    }

    /// The values at `point`, one per parameter.
    pub fn values(&self, point: usize) -> Vec<&str> {
        self.coordinates(point).iter().zip(&self.params).map(|(&i, p)| p.values[i].as_str()).collect()
    }

    /// The `KEY=VALUE` overrides of `point`.
    pub fn sets(&self, point: usize) -> Vec<String> {
        self.coordinates(point).iter().zip(&self.params).map(|(&i, p)| p.set(i)).collect()
    }

    /// The point whose values are exactly `values` (as written in runs.csv).
    pub fn point_of(&self, values: &[&str]) -> Option<usize> {
        if values.len() != self.params.len() {
            return None;
        }
        let mut point = 0;
        for (p, v) in self.params.iter().zip(values) {
            point = point * p.values.len() + p.values.iter().position(|x| x == v)?;
        }
        Some(point)
    }
}

/// `--shard K/N`: the K-th (1-based) of N disjoint slices of the job list.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Shard {
    /// Invariant: 1 <= index <= count.
    pub index: u64,
    pub count: u64,
}

impl Shard {
    pub fn new(index: u64, count: u64, flag: &str, text: &str) -> Result<Shard> {
        if count == 0 || index == 0 || index > count {
            return Err(Error::Flag {
                flag: flag.into(),
                value: text.into(),
                allowed: "K/N with 1 ≤ K ≤ N, e.g. 2/8".into(),
            });
        }
        Ok(Shard { index, count })
    }

    pub fn parse(text: &str) -> Result<Shard> {
        let bad = || Error::Flag {
            flag: "--shard".into(),
            value: text.into(),
            allowed: "K/N with 1 ≤ K ≤ N, e.g. 2/8".into(),
        };
        let (k, n) = text.split_once('/').ok_or_else(bad)?;
        let k: u64 = k.trim().parse().map_err(|_| bad())?;
        let n: u64 = n.trim().parse().map_err(|_| bad())?;
        Shard::new(k, n, "--shard", text)
    }

    /// Whether job `index` belongs to this shard.
    pub fn holds(&self, job: u64) -> bool {
        job % self.count == self.index - 1
    }

    /// `2of8`, for file names.
    pub fn tag(&self) -> String {
        format!("{}of{}", self.index, self.count)
    }
}

impl std::fmt::Display for Shard {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}/{}", self.index, self.count)
    }
}

/// Where `--shard auto` looks: a Slurm job array or a Kubernetes Indexed Job.
#[derive(Clone, Debug, Default)]
pub struct ShardEnv {
    pub slurm_task_id: Option<String>,
    pub slurm_task_count: Option<String>,
    pub slurm_task_min: Option<String>,
    pub k8s_completion_index: Option<String>,
    /// The shard count for Kubernetes: `--shard-count`, else `DSIM_SHARD_COUNT`.
    pub count: Option<String>,
}

impl ShardEnv {
    /// Reads the process environment (only called at the CLI's edge).
    pub fn from_process(count_flag: Option<u64>) -> ShardEnv {
        let var = |name: &str| std::env::var(name).ok().filter(|v| !v.trim().is_empty());
        ShardEnv {
            slurm_task_id: var("SLURM_ARRAY_TASK_ID"),
            slurm_task_count: var("SLURM_ARRAY_TASK_COUNT"),
            slurm_task_min: var("SLURM_ARRAY_TASK_MIN"),
            k8s_completion_index: var("JOB_COMPLETION_INDEX"),
            count: count_flag.map(|c| c.to_string()).or_else(|| var("DSIM_SHARD_COUNT")),
        }
    }

    /// The shard this environment names. Slurm: K = task id - min task id + 1 (arrays may start at
    /// 0 or 1), N = task count. Kubernetes: K = completion index + 1, N from `count`.
    pub fn shard(&self) -> Result<Shard> {
        let int = |name: &str, v: &str| -> Result<u64> {
            v.trim().parse().map_err(|_| Error::Flag {
                flag: "--shard auto".into(),
                value: format!("{name}={v}"),
                allowed: "an unsigned integer".into(),
            })
        };
        if let (Some(id), Some(count)) = (&self.slurm_task_id, &self.slurm_task_count) {
            let id = int("SLURM_ARRAY_TASK_ID", id)?;
            let min = match &self.slurm_task_min {
                Some(m) => int("SLURM_ARRAY_TASK_MIN", m)?,
                None => 0,
            };
            let n = int("SLURM_ARRAY_TASK_COUNT", count)?;
            let text = format!("SLURM_ARRAY_TASK_ID={id} (min {min}), SLURM_ARRAY_TASK_COUNT={n}");
            return Shard::new(id.saturating_sub(min) + 1, n, "--shard auto", &text);
        }
        if let Some(index) = &self.k8s_completion_index {
            let index = int("JOB_COMPLETION_INDEX", index)?;
            let count = self.count.as_deref().ok_or_else(|| Error::Flag {
                flag: "--shard auto".into(),
                value: format!("JOB_COMPLETION_INDEX={index}"),
                allowed: "a shard count from --shard-count N or DSIM_SHARD_COUNT (the Job's completions)"
                    .into(),
            })?;
            let n = int("DSIM_SHARD_COUNT", count)?;
            return Shard::new(
                index + 1,
                n,
                "--shard auto",
                &format!("JOB_COMPLETION_INDEX={index}, count {n}"),
            );
        }
        Err(Error::Flag {
            flag: "--shard".into(),
            value: "auto".into(),
            allowed:
                "SLURM_ARRAY_TASK_ID and SLURM_ARRAY_TASK_COUNT, or JOB_COMPLETION_INDEX, in the environment"
                    .into(),
        })
    }
}

/// One run of the sweep.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct Job {
    /// The grid point (first field: jobs sort by point, then seed).
    pub point: usize,
    /// 0-based; the run's seed is `seed_start + seed_number`.
    pub seed_number: u64,
}

impl Job {
    pub fn index(&self, seeds: u64) -> u64 {
        self.point as u64 * seeds + self.seed_number
    }
}

/// Checks the seed count and the total job count.
pub fn check_size(points: usize, seeds: u64) -> Result<()> {
    if !(1..=SEEDS_MAX).contains(&seeds) {
        return Err(Error::Flag {
            flag: "--seeds".into(),
            value: seeds.to_string(),
            allowed: format!("an integer in [1, {SEEDS_MAX}]"),
        });
    }
    let jobs = points as u64 * seeds;
    if jobs > JOBS_MAX {
        return Err(Error::Flag {
            flag: "--seeds".into(),
            value: seeds.to_string(),
            allowed: format!(
                "at most {JOBS_MAX} runs in all ({points} grid points × {seeds} seeds = {jobs})"
            ),
        });
    }
    Ok(())
}

/// The jobs of `shard` (all jobs without one), in (point, seed) order.
pub fn jobs(points: usize, seeds: u64, shard: Option<Shard>) -> Vec<Job> {
    (0..points)
        .flat_map(|point| (0..seeds).map(move |seed_number| Job { point, seed_number }))
        .filter(|job| shard.map_or(true, |s| s.holds(job.index(seeds))))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ranges_step_exactly_and_keep_the_inputs_decimals() {
        let p = Param::parse("network.drop_probability=0:0.5:0.05").unwrap();
        assert_eq!(p.key, "network.drop_probability");
        assert_eq!(p.values.len(), 11);
        assert_eq!(p.values[0], "0.00");
        assert_eq!(p.values[3], "0.15", "no 0.15000000000000002 from float accumulation");
        assert_eq!(p.values[10], "0.50");
        assert_eq!(Param::parse("nodes=3:9:2").unwrap().values, ["3", "5", "7", "9"]);
        assert_eq!(Param::parse("x=0.1:0.35:0.1").unwrap().values, ["0.10", "0.20", "0.30"]);
        assert_eq!(Param::parse("x=-1:1:0.5").unwrap().values, ["-1.0", "-0.5", "0.0", "0.5", "1.0"]);
        assert_eq!(Param::parse("x=2:2:1").unwrap().values, ["2"]);
    }

    #[test]
    fn lists_split_outside_brackets_and_quotes() {
        let p = Param::parse("raft.election_timeout_ms=[150, 300],[300,600]").unwrap();
        assert_eq!(p.values, ["[150, 300]", "[300,600]"]);
        let p = Param::parse("eventual.policy=lww,\"a,b\",1:3:1").unwrap();
        assert_eq!(p.values, ["lww", "\"a,b\"", "1", "2", "3"]);
    }

    #[test]
    fn malformed_params_are_refused_with_the_flag() {
        for bad in [
            "x=",
            "=1",
            "x",
            "a=1:0:0.1",
            "a=0:1:0",
            "a=0:1:-0.1",
            "a=x:1:0.1",
            "a=1:2",
            "a=1,,2",
            "a=1,1",
            "seed=1,2",
            "a..b=1",
            "x=0:1e9:1",
        ] {
            let err = Param::parse(bad).unwrap_err().to_string();
            assert!(err.starts_with("--param "), "{bad}: {err}");
        }
        assert!(Param::parse("x=0:100000:1").unwrap_err().to_string().contains("at most 10000"));
    }

    #[test]
    fn points_are_mixed_radix_first_param_slowest() {
        let grid = Grid::new(vec![Param::parse("a=1,2").unwrap(), Param::parse("b=x,y,z").unwrap()]).unwrap();
        assert_eq!(grid.points(), 6);
        assert_eq!(grid.values(0), ["1", "x"]);
        assert_eq!(grid.values(2), ["1", "z"]);
        assert_eq!(grid.values(4), ["2", "y"]);
        assert_eq!(grid.sets(5), ["a=2", "b=z"]);
        for point in 0..6 {
            assert_eq!(grid.point_of(&grid.values(point)), Some(point));
        }
        assert_eq!(grid.point_of(&["3", "x"]), None);
        assert_eq!(Grid::default().points(), 1);
        assert!(Grid::new(vec![Param::parse("a=1").unwrap(), Param::parse("a=2").unwrap()]).is_err());
    }

    #[test]
    fn shards_partition_the_jobs() {
        let all = jobs(4, 5, None);
        assert_eq!(all.len(), 20);
        let mut union: Vec<Job> =
            (1..=3).flat_map(|k| jobs(4, 5, Some(Shard { index: k, count: 3 }))).collect();
        union.sort();
        assert_eq!(union, all);
        let first = jobs(4, 5, Some(Shard::parse("1/3").unwrap()));
        assert_eq!(first[..2], [Job { point: 0, seed_number: 0 }, Job { point: 0, seed_number: 3 }]);
        for bad in ["0/3", "4/3", "a/b", "3", "1/0", "-1/3"] {
            let err = Shard::parse(bad).unwrap_err().to_string();
            assert!(err.starts_with("--shard "), "{bad}: {err}");
        }
    }

    #[test]
    fn shard_from_slurm_and_kubernetes() {
        let slurm = ShardEnv {
            slurm_task_id: Some("0".into()),
            slurm_task_count: Some("4".into()),
            slurm_task_min: Some("0".into()),
            ..ShardEnv::default()
        };
        assert_eq!(slurm.shard().unwrap(), Shard { index: 1, count: 4 });
        let slurm = ShardEnv { slurm_task_id: Some("4".into()), slurm_task_min: Some("1".into()), ..slurm };
        assert_eq!(slurm.shard().unwrap(), Shard { index: 4, count: 4 });
        let k8s = ShardEnv {
            k8s_completion_index: Some("2".into()),
            count: Some("3".into()),
            ..ShardEnv::default()
        };
        assert_eq!(k8s.shard().unwrap(), Shard { index: 3, count: 3 });
        let no_count = ShardEnv { count: None, ..k8s.clone() };
        assert!(no_count.shard().unwrap_err().to_string().contains("DSIM_SHARD_COUNT"));
        let past = ShardEnv { k8s_completion_index: Some("3".into()), ..k8s };
        assert!(past.shard().is_err());
        assert!(ShardEnv::default().shard().is_err());
    }

    #[test]
    fn job_counts_are_limited() {
        assert!(check_size(10, 0).is_err());
        assert!(check_size(100_000, 1_000).is_err());
        assert!(check_size(11, 20).is_ok());
    }
}
