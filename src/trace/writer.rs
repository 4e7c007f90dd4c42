//! The streaming CSV trace writer: constant memory, hashed as it goes, atomic on completion.
//!
//! Rows go through a buffered writer into a temporary file next to the target and are hashed
//! (SHA-256) on the way; `finish` flushes and renames the file into place. A run that fails, panics
//! or is interrupted leaves no file under the final name (only a `.*.tmp` sibling at worst).

use std::fs::File;
use std::io::{self, BufWriter, Write};
use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};
use tempfile::NamedTempFile;

use crate::error::{Error, Result};
use crate::trace::Record;

/// The contract's columns, in order.
pub const COLUMNS: [&str; 12] =
    ["time_us", "seq", "node", "event", "peer", "msg", "term", "index", "key", "value", "clock", "detail"];

/// What a finished trace file holds.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TraceInfo {
    pub path: PathBuf,
    pub rows: u64,
    pub bytes: u64,
    /// Lower-case hex SHA-256 of the file's bytes.
    pub sha256: String,
}

/// Hashes and counts everything written through it.
struct HashingWriter<W: Write> {
    inner: W,
    hasher: Sha256,
    bytes: u64,
}

impl<W: Write> Write for HashingWriter<W> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let n = self.inner.write(buf)?;
        self.hasher.update(&buf[..n]);
        self.bytes += n as u64;
        Ok(n)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.inner.flush()
    }
}

/// Formats rows into any `Write`, hashing the bytes. Used for files and for in-memory hashing.
pub struct RowEncoder<W: Write> {
    csv: csv::Writer<HashingWriter<W>>,
    cell: String,
    rows: u64,
}

impl<W: Write> RowEncoder<W> {
    pub fn new(inner: W) -> io::Result<Self> {
        let hashing = HashingWriter { inner, hasher: Sha256::new(), bytes: 0 };
        let mut csv = csv::WriterBuilder::new().buffer_capacity(1 << 16).from_writer(hashing);
        csv.write_record(COLUMNS).map_err(io::Error::other)?;
        Ok(RowEncoder { csv, cell: String::with_capacity(64), rows: 0 })
    }

    pub fn write(&mut self, row: &Record) -> io::Result<()> {
        let mut ints = itoa::Buffer::new();
        let csv = &mut self.csv;
        let field = |csv: &mut csv::Writer<_>, bytes: &[u8]| csv.write_field(bytes).map_err(io::Error::other);
        field(csv, ints.format(row.time_us).as_bytes())?;
        field(csv, ints.format(row.seq).as_bytes())?;
        write_node(csv, &mut self.cell, row.node)?;
        field(csv, row.event.as_str().as_bytes())?;
        write_node(csv, &mut self.cell, row.peer)?;
        field(csv, row.msg.as_bytes())?;
        field(csv, row.term.map_or(&b""[..], |t| ints.format(t).as_bytes()))?;
        field(csv, row.index.map_or(&b""[..], |t| ints.format(t).as_bytes()))?;
        self.cell.clear();
        if let Some(k) = row.key {
            self.cell.push('k');
            self.cell.push_str(ints.format(k));
        }
        field(csv, self.cell.as_bytes())?;
        self.cell.clear();
        row.value.write_to(&mut self.cell);
        field(csv, self.cell.as_bytes())?;
        self.cell.clear();
        if let Some(c) = &row.clock {
            c.write_to(&mut self.cell);
        }
        field(csv, self.cell.as_bytes())?;
        field(csv, row.detail.as_bytes())?;
        csv.write_record(None::<&[u8]>).map_err(io::Error::other)?;
        self.rows += 1;
        Ok(())
    }

    /// Flushes and returns (inner writer, rows, bytes, sha256 hex).
    pub fn finish(self) -> io::Result<(W, u64, u64, String)> {
        let rows = self.rows;
        let hashing = self.csv.into_inner().map_err(|e| io::Error::other(e.to_string()))?;
        let digest = hashing.hasher.finalize();
        Ok((hashing.inner, rows, hashing.bytes, hex(&digest)))
    }
}

fn write_node<W: Write>(
    csv: &mut csv::Writer<W>,
    cell: &mut String,
    node: Option<crate::sim::NodeId>,
) -> io::Result<()> {
    cell.clear();
    if let Some(n) = node {
        cell.push('n');
        cell.push_str(itoa::Buffer::new().format(n.0));
    }
    csv.write_field(cell.as_bytes()).map_err(io::Error::other)
}

/// Lower-case hex of bytes.
pub fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// A trace file being written.
pub struct TraceWriter {
    path: PathBuf,
    encoder: RowEncoder<BufWriter<NamedTempFile>>,
}

impl TraceWriter {
    /// Starts a trace that will appear at `path` when `finish` succeeds.
    pub fn create(path: &Path) -> Result<TraceWriter> {
        let file = temp_beside(path)?;
        let encoder =
            RowEncoder::new(BufWriter::with_capacity(1 << 16, file)).map_err(|e| Error::io(path, e))?;
        Ok(TraceWriter { path: path.to_path_buf(), encoder })
    }

    pub fn write(&mut self, row: &Record) -> Result<()> {
        self.encoder.write(row).map_err(|e| Error::io(&self.path, e))
    }

    /// Flushes, syncs and renames the file into place.
    pub fn finish(self) -> Result<TraceInfo> {
        let path = self.path;
        let (buf, rows, bytes, sha256) = self.encoder.finish().map_err(|e| Error::io(&path, e))?;
        let temp = buf.into_inner().map_err(|e| Error::io(&path, e.into_error()))?;
        persist(temp, &path)?;
        Ok(TraceInfo { path, rows, bytes, sha256 })
    }
}

/// A temporary file in `path`'s directory (so the final rename stays on one file system).
pub fn temp_beside(path: &Path) -> Result<NamedTempFile> {
    let dir = match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    };
    let name = path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
    tempfile::Builder::new()
        .prefix(&format!(".{name}."))
        .suffix(".tmp")
        .tempfile_in(dir)
        .map_err(|e| Error::io(path, e))
}

/// Syncs `temp` and renames it to `path`, readable by all like any other output (temporary files
/// are created owner-only).
pub fn persist(temp: NamedTempFile, path: &Path) -> Result<()> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let perms = std::fs::Permissions::from_mode(0o644);
        temp.as_file().set_permissions(perms).map_err(|e| Error::io(path, e))?;
    }
    temp.as_file().sync_all().map_err(|e| Error::io(path, e))?;
    temp.persist(path).map_err(|e| Error::io(path, e.error))?;
    Ok(())
}

/// Writes `bytes` to `path` atomically.
pub fn write_atomic(path: &Path, bytes: &[u8]) -> Result<()> {
    let mut temp = temp_beside(path)?;
    temp.write_all(bytes).map_err(|e| Error::io(path, e))?;
    persist(temp, path)
}

/// `File` is re-exported for callers that hash an existing trace.
pub fn sha256_file(path: &Path) -> Result<String> {
    let mut file = File::open(path).map_err(|e| Error::io(path, e))?;
    let mut hasher = Sha256::new();
    io::copy(&mut file, &mut hasher).map_err(|e| Error::io(path, e))?;
    Ok(hex(&hasher.finalize()))
}
