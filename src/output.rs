//! Every file dsim writes goes through here, so no output can destroy an input or a device.
//!
//! The API, for any command that writes a file (trace, manifest, export, sweep files, history):
//! - [`check_target`]`(path, inputs, allow_stdout)` before any work: refuses (one line, exit 2) a
//!   target that exists and is not a regular file (a FIFO, a device, a directory, a symlink), and a
//!   target that is the same file as one of `inputs`; `-` means stdout where `allow_stdout`.
//! - [`AtomicFile`]`::create(path)` → `Write` → `commit()`: a temporary file beside the target,
//!   renamed over it only when complete. Until then it is registered, so SIGINT/SIGTERM/SIGHUP
//!   (after [`install_signal_cleanup`]) remove it; dropping it uncommitted removes it too. Parent
//!   directories are created. Errors name the user's path, never the temporary one.
//! - [`Sink`]: an [`AtomicFile`] or stdout (for `-`), one `Write` for both.
//! - [`write_atomic`]`(path, bytes)`: the short form for a file written in one go.
//! - [`outln!`](crate::outln) / [`out!`](crate::out): print to stdout returning a `Result` instead
//!   of panicking; [`is_broken_pipe`] lets `main` end quietly with exit 0 when the reader went away
//!   (`dsim run | head -1`), while other write errors are one line and exit 2.

use std::collections::BTreeSet;
use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use tempfile::NamedTempFile;

use crate::error::{Error, Result};

/// The path that means stdout for traces and exports.
pub const STDOUT: &str = "-";

/// Temporary files not yet committed, removed by the signal handler.
static PENDING: Mutex<BTreeSet<PathBuf>> = Mutex::new(BTreeSet::new());

/// `-`?
pub fn is_stdout(path: &Path) -> bool {
    path.as_os_str() == STDOUT
}

fn refuse(path: &Path, why: impl Into<String>) -> Error {
    Error::Flag { flag: "output".into(), value: path.display().to_string(), allowed: why.into() }
}

/// Whether `a` and `b` name the same file (same device and inode), or the same path once resolved.
pub fn same_file(a: &Path, b: &Path) -> bool {
    #[cfg(unix)]
    {
        use std::os::unix::fs::MetadataExt;
        if let (Ok(x), Ok(y)) = (std::fs::metadata(a), std::fs::metadata(b)) {
            return x.dev() == y.dev() && x.ino() == y.ino();
        }
    }
    match (resolved(a), resolved(b)) {
        (Some(x), Some(y)) => x == y,
        _ => false,
    }
}

/// An absolute form of `path` whose directory is resolved (the file itself may not exist yet).
fn resolved(path: &Path) -> Option<PathBuf> {
    if let Ok(p) = path.canonicalize() {
        return Some(p);
    }
    let parent = match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.canonicalize().ok()?,
        _ => std::env::current_dir().ok()?,
    };
    Some(parent.join(path.file_name()?))
}

/// Refuses `path` as an output when it exists and is not a regular file, or is one of `inputs`.
/// `-` (stdout) passes when `allow_stdout`.
pub fn check_target(path: &Path, inputs: &[&Path], allow_stdout: bool) -> Result<()> {
    if is_stdout(path) {
        return if allow_stdout {
            Ok(())
        } else {
            Err(refuse(path, "is stdout, which this output cannot be: give a file path"))
        };
    }
    if let Ok(meta) = std::fs::symlink_metadata(path) {
        let kind = meta.file_type();
        if kind.is_symlink() {
            return Err(refuse(path, "is a symlink, which dsim never replaces: give a regular file or a new path (the path it points to)"));
        }
        if !kind.is_file() {
            let what = if kind.is_dir() { "a directory" } else { "a special file (device, FIFO or socket)" };
            return Err(refuse(
                path,
                format!(
                    "is {what}, which dsim never replaces: give a regular file or a new path{}",
                    if allow_stdout { " (- for stdout)" } else { "" }
                ),
            ));
        }
    }
    if let Some(input) = inputs.iter().find(|i| same_file(path, i)) {
        return Err(refuse(
            path,
            format!("is the input {}: the output would overwrite it; give another path", input.display()),
        ));
    }
    Ok(())
}

/// Refuses an input that is missing or a directory: the first error a command reports.
pub fn require_input(path: &Path) -> Result<()> {
    match std::fs::metadata(path) {
        Err(e) => Err(Error::io(path, e)),
        Ok(m) if m.is_dir() => Err(Error::io(path, io::Error::other("is a directory, not a trace file"))),
        Ok(_) => Ok(()),
    }
}

/// An I/O error without the temporary file's path that `tempfile` adds to its messages.
fn plain(e: io::Error) -> io::Error {
    match e.raw_os_error() {
        Some(code) => io::Error::from_raw_os_error(code),
        None => e,
    }
}

/// A file that appears at its path only when complete (see the module docs).
pub struct AtomicFile {
    path: PathBuf,
    temp: Option<NamedTempFile>,
}

impl AtomicFile {
    /// Starts `path`: checks it (no special files, no symlinks), creates its directory, and opens a
    /// temporary file beside it.
    pub fn create(path: &Path) -> Result<AtomicFile> {
        check_target(path, &[], false)?;
        let dir = match path.parent() {
            Some(p) if !p.as_os_str().is_empty() => p,
            _ => Path::new("."),
        };
        std::fs::create_dir_all(dir).map_err(|e| Error::io(dir, e))?;
        let name = path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
        let temp = tempfile::Builder::new()
            .prefix(&format!(".{name}."))
            .suffix(".tmp")
            .tempfile_in(dir)
            .map_err(|e| Error::io(path, plain(e)))?;
        lock().insert(temp.path().to_path_buf());
        Ok(AtomicFile { path: path.to_path_buf(), temp: Some(temp) })
    }

    /// The user's path.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Syncs the file and renames it over the target, readable by all like any other output
    /// (temporary files are created owner-only). The target is checked again just before.
    pub fn commit(mut self) -> Result<()> {
        let Some(temp) = self.temp.take() else { return Ok(()) };
        let temp_path = temp.path().to_path_buf();
        let result = (|| {
            check_target(&self.path, &[], false)?;
            #[cfg(unix)]
            {
                use std::os::unix::fs::PermissionsExt;
                let perms = std::fs::Permissions::from_mode(0o644);
                temp.as_file().set_permissions(perms).map_err(|e| Error::io(&self.path, e))?;
            }
            temp.as_file().sync_all().map_err(|e| Error::io(&self.path, e))?;
            temp.persist(&self.path).map_err(|e| Error::io(&self.path, plain(e.error)))?;
            Ok(())
        })();
        lock().remove(&temp_path);
        result
    }

    fn file(&mut self) -> &mut NamedTempFile {
        self.temp.as_mut().expect("an AtomicFile is written only before commit")
    }
}

impl Write for AtomicFile {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.file().write(buf)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.file().flush()
    }
}

impl Drop for AtomicFile {
    fn drop(&mut self) {
        if let Some(temp) = self.temp.take() {
            lock().remove(temp.path());
            // NamedTempFile removes the file when dropped.
        }
    }
}

fn lock() -> std::sync::MutexGuard<'static, BTreeSet<PathBuf>> {
    PENDING.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// Where an output goes: a file written atomically, or stdout for `-`.
pub enum Sink {
    File(AtomicFile),
    Stdout(io::Stdout),
}

impl Sink {
    /// `-` is stdout when `allow_stdout`; anything else an [`AtomicFile`].
    pub fn create(path: &Path, allow_stdout: bool) -> Result<Sink> {
        if allow_stdout && is_stdout(path) {
            return Ok(Sink::Stdout(io::stdout()));
        }
        AtomicFile::create(path).map(Sink::File)
    }

    /// Commits the file; flushes stdout.
    pub fn commit(self) -> Result<()> {
        match self {
            Sink::File(f) => f.commit(),
            Sink::Stdout(mut s) => s.flush().map_err(|e| Error::io("stdout", e)),
        }
    }
}

impl Write for Sink {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        match self {
            Sink::File(f) => f.write(buf),
            Sink::Stdout(s) => s.write(buf),
        }
    }

    fn flush(&mut self) -> io::Result<()> {
        match self {
            Sink::File(f) => f.flush(),
            Sink::Stdout(s) => s.flush(),
        }
    }
}

/// Writes `bytes` to `path` atomically.
pub fn write_atomic(path: &Path, bytes: &[u8]) -> Result<()> {
    let mut file = AtomicFile::create(path)?;
    file.write_all(bytes).map_err(|e| Error::io(path, e))?;
    file.commit()
}

/// A line the signal handler prints after cleaning up (e.g. how to resume).
static INTERRUPT_HINT: Mutex<Option<&'static str>> = Mutex::new(None);

/// Sets what an interrupted command tells the user (`--resume` for sweeps).
pub fn set_interrupt_hint(hint: &'static str) {
    *INTERRUPT_HINT.lock().unwrap_or_else(|p| p.into_inner()) = Some(hint);
}

/// On SIGINT, SIGTERM or SIGHUP: remove every uncommitted temporary file, then exit 130. Called
/// once by `main`; a second call (tests) is a no-op.
pub fn install_signal_cleanup() {
    let _ = ctrlc::set_handler(|| {
        for path in lock().iter() {
            let _ = std::fs::remove_file(path);
        }
        let hint = *INTERRUPT_HINT.lock().unwrap_or_else(|p| p.into_inner());
        let hint = hint.map_or_else(String::new, |h| format!("; {h}"));
        let _ = writeln!(io::stderr(), "dsim: interrupted (temporary files removed){hint}");
        std::process::exit(130);
    });
}

/// Prints to stdout, returning an error (naming stdout) instead of panicking.
pub fn print(args: std::fmt::Arguments<'_>) -> Result<()> {
    io::stdout().lock().write_fmt(args).map_err(|e| Error::io("stdout", e))
}

/// Prints a line to stderr, ignoring errors (nowhere left to report them).
pub fn eprint_line(args: std::fmt::Arguments<'_>) {
    let _ = writeln!(io::stderr().lock(), "{args}");
}

/// Whether `err` is a write to a reader that went away (EPIPE): the command ends quietly, exit 0.
pub fn is_broken_pipe(err: &anyhow::Error) -> bool {
    err.chain().any(|cause| {
        let io = cause.downcast_ref::<io::Error>().or_else(|| match cause.downcast_ref::<Error>() {
            Some(Error::Io { cause, .. }) => Some(cause),
            _ => None,
        });
        io.is_some_and(|e| e.kind() == io::ErrorKind::BrokenPipe)
    })
}

/// `println!` that returns a `Result` instead of panicking on a closed or full stdout.
#[macro_export]
macro_rules! outln {
    () => { $crate::output::print(format_args!("\n")) };
    ($($arg:tt)*) => { $crate::output::print(format_args!("{}\n", format_args!($($arg)*))) };
}

/// `print!` that returns a `Result` instead of panicking.
#[macro_export]
macro_rules! out {
    ($($arg:tt)*) => { $crate::output::print(format_args!($($arg)*)) };
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn special_files_symlinks_and_inputs_are_refused() {
        let dir = tempfile::tempdir().unwrap();
        let regular = dir.path().join("a.csv");
        std::fs::write(&regular, "x").unwrap();
        assert!(check_target(&regular, &[], false).is_ok());
        assert!(check_target(&dir.path().join("new.csv"), &[], false).is_ok());
        let err = check_target(&regular, &[&regular], false).unwrap_err().to_string();
        assert!(err.contains("would overwrite"), "{err}");
        let err = check_target(&dir.path().join("./a.csv"), &[&regular], false).unwrap_err().to_string();
        assert!(err.contains("would overwrite"), "{err}");
        assert!(check_target(dir.path(), &[], false).unwrap_err().to_string().contains("directory"));
        #[cfg(unix)]
        {
            let link = dir.path().join("link.csv");
            std::os::unix::fs::symlink(&regular, &link).unwrap();
            assert!(check_target(&link, &[], false).unwrap_err().to_string().contains("symlink"));
            assert!(AtomicFile::create(&link).is_err());
            assert_eq!(std::fs::read(&regular).unwrap(), b"x");
        }
        assert!(check_target(Path::new("-"), &[], true).is_ok());
        assert!(check_target(Path::new("-"), &[], false).is_err());
    }

    #[test]
    fn atomic_file_appears_only_on_commit_and_leaves_no_temp() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("sub/dir/out.txt");
        let mut f = AtomicFile::create(&path).unwrap();
        f.write_all(b"hello").unwrap();
        assert!(!path.exists());
        assert_eq!(lock().iter().filter(|p| p.starts_with(dir.path())).count(), 1);
        f.commit().unwrap();
        assert_eq!(std::fs::read(&path).unwrap(), b"hello");
        let dropped = AtomicFile::create(&dir.path().join("never.txt")).unwrap();
        drop(dropped);
        let names: Vec<_> = std::fs::read_dir(dir.path()).unwrap().map(|e| e.unwrap().file_name()).collect();
        assert_eq!(names, vec![std::ffi::OsString::from("sub")]);
        assert_eq!(lock().iter().filter(|p| p.starts_with(dir.path())).count(), 0);
    }
}
