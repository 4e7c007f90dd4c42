//! The library's error type. Every variant renders as one line naming where the problem is
//! (file, field or line), the bad value and what is allowed; the binary maps them to exit code 2.

use std::path::PathBuf;

use thiserror::Error;

#[derive(Debug, Error)]
pub enum Error {
    /// A scenario field (from a file or a `--set`) has a value outside what is allowed.
    #[error("{origin}: {field} = {value}: {allowed}")]
    Invalid {
        /// The file name, or `--set KEY=VALUE` for overrides.
        origin: String,
        /// Dotted path of the field (`network.drop_probability`, `faults[2].node`).
        field: String,
        value: String,
        allowed: String,
    },
    /// A scenario file that is not valid TOML or does not match the schema.
    #[error("{origin}: {message}")]
    Parse { origin: String, message: String },
    /// A trace or manifest that is not what dsim writes.
    #[error("{path}:{line}: {message}")]
    BadTrace { path: PathBuf, line: u64, message: String },
    /// A bad command-line value.
    #[error("{flag} {value:?}: {allowed}")]
    Flag { flag: String, value: String, allowed: String },
    /// The message already includes the cause, so it is not exposed as `source()` (which would
    /// make `anyhow`'s `{:#}` print it twice).
    #[error("{path}: {cause}")]
    Io { path: PathBuf, cause: std::io::Error },
    /// A run or replay did not reproduce what was recorded.
    #[error("{0}")]
    Mismatch(String),
}

pub type Result<T, E = Error> = std::result::Result<T, E>;

impl Error {
    pub fn invalid(
        origin: impl Into<String>,
        field: impl Into<String>,
        value: impl std::fmt::Display,
        allowed: impl Into<String>,
    ) -> Error {
        Error::Invalid {
            origin: origin.into(),
            field: field.into(),
            value: value.to_string(),
            allowed: allowed.into(),
        }
    }

    pub fn io(path: impl Into<PathBuf>, source: std::io::Error) -> Error {
        Error::Io { path: path.into(), cause: source }
    }
}
