//! The streaming CSV trace writer: constant memory, hashed as it goes, atomic on completion.
//!
//! Rows are formatted into 64 KiB chunks on the simulation's thread; a second thread of the trace's
//! own hashes each chunk (SHA-256) and writes it to a temporary file next to the target, in order,
//! so the bytes and the hash are those of one thread doing both, and the run is unaffected by the
//! thread's timing. `finish` waits for the thread and renames the file into place (through
//! [`crate::output`]). A run that fails, panics or is interrupted leaves no file under the final
//! name and no temporary file either (SIGINT/SIGTERM remove it). The path `-` streams to stdout.

use std::borrow::Cow;
use std::fs::File;
use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::sync::mpsc::{channel, sync_channel, Receiver, SyncSender};
use std::thread::JoinHandle;

use sha2::{Digest, Sha256};

use crate::error::{Error, Result};
use crate::output::Sink;
use crate::trace::{Record, Value};

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
struct HashingWriter<W> {
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

/// Bytes gathered before they go to the hasher and the inner writer.
const CHUNK: usize = 1 << 16;

/// Full chunks queued for the writing thread before the encoder waits for it (bounds the memory of
/// a trace whose disk is slower than the run).
const CHUNKS_IN_FLIGHT: usize = 8;

/// Where a [`RowEncoder`]'s chunks go: hashed and written on the calling thread, or on a thread of
/// their own.
enum Out<W> {
    Inline(HashingWriter<W>),
    Worker(Worker<W>),
}

/// The trace's writing thread: receives full chunks in order, hashes and writes each, and hands the
/// emptied buffer back for reuse, so a steady run allocates no chunk.
struct Worker<W> {
    full: Option<SyncSender<Vec<u8>>>,
    empty: Receiver<Vec<u8>>,
    handle: Option<JoinHandle<io::Result<HashingWriter<W>>>>,
}

impl<W: Write + Send + 'static> Worker<W> {
    fn spawn(inner: W) -> io::Result<Worker<W>> {
        let (full, chunks) = sync_channel::<Vec<u8>>(CHUNKS_IN_FLIGHT);
        let (back, empty) = channel();
        let handle = std::thread::Builder::new().name("dsim-trace".into()).spawn(move || {
            let mut out = HashingWriter { inner, hasher: Sha256::new(), bytes: 0 };
            for mut chunk in chunks {
                out.write_all(&chunk)?;
                chunk.clear();
                // The encoder may have finished already; the buffer is then simply freed.
                let _ = back.send(chunk);
            }
            out.flush()?;
            Ok(out)
        })?;
        Ok(Worker { full: Some(full), empty, handle: Some(handle) })
    }
}

impl<W> Worker<W> {
    /// A buffer for the next chunk: one the thread has emptied, or a new one while all are in flight.
    fn spare(&self) -> Vec<u8> {
        self.empty.try_recv().unwrap_or_else(|_| Vec::with_capacity(CHUNK + 1024))
    }

    fn send(&mut self, chunk: Vec<u8>) -> io::Result<()> {
        if self.full.as_ref().is_some_and(|tx| tx.send(chunk).is_ok()) {
            return Ok(());
        }
        // The thread stopped early: its error is the one to report.
        match self.join() {
            Err(e) => Err(e),
            Ok(_) => Err(io::Error::other("the trace writing thread stopped early")),
        }
    }

    /// Closes the queue and waits for the thread to write what it holds.
    fn join(&mut self) -> io::Result<HashingWriter<W>> {
        self.full = None;
        match self.handle.take() {
            None => Err(io::Error::other("the trace writing thread has already stopped")),
            Some(handle) => {
                handle.join().unwrap_or_else(|_| Err(io::Error::other("the trace writing thread panicked")))
            }
        }
    }
}

impl<W> Drop for Worker<W> {
    /// An unfinished trace (a failed or panicking run) still waits for the thread, which then drops
    /// the temporary file: nothing is left behind.
    fn drop(&mut self) {
        self.full = None;
        if let Some(handle) = self.handle.take() {
            let _ = handle.join();
        }
    }
}

/// Formats rows into any `Write`, hashing the bytes. Used for files and for in-memory hashing.
///
/// The CSV is written by hand, byte for byte what the `csv` crate writes with its defaults (the
/// reader still parses with it, and a test compares the two): cells are separated by `,`, rows end
/// in `\n`, and a cell is quoted only when it holds `,`, `"`, `\r` or `\n`, with `"` doubled inside.
/// Only text cells (`msg`, a text `value`, `detail`) can hold those bytes. Rows are gathered in
/// one reused buffer and handed on in chunks, so a row costs no allocation and no formatting
/// machinery.
pub struct RowEncoder<W: Write> {
    out: Out<W>,
    buf: Vec<u8>,
    rows: u64,
    /// The digits of the last row's `time_us`: a run writes its rows in bursts at one instant.
    time: Digits,
    /// The digits of the last row's `seq`: the runner numbers rows 0, 1, 2, … so the next one is
    /// this counter incremented in place.
    seq: Digits,
    /// Static text cells (message, timer and event names; fixed details) already found to need no
    /// quotes, by address and length: a `&'static str` never changes, so one look is enough.
    clean: [(usize, usize); CLEAN_SLOTS],
}

/// Slots of [`RowEncoder::clean`] (a protocol has a few dozen static names).
const CLEAN_SLOTS: usize = 64;

/// A number and its decimal digits, right-aligned in a fixed buffer (`u64::MAX` has 20).
struct Digits {
    value: u64,
    start: usize,
    bytes: [u8; 20],
}

impl Digits {
    fn zero() -> Digits {
        Digits { value: 0, start: 19, bytes: [b'0'; 20] }
    }

    /// The digits of `n`: the cached ones when `n` is the last number, incremented in place when it
    /// is the next, formatted afresh otherwise. The same bytes `itoa` writes in every case.
    #[inline]
    fn of(&mut self, n: u64) -> &[u8] {
        if n != self.value {
            if n == self.value.wrapping_add(1) && n != 0 {
                self.increment();
            } else {
                let mut ints = itoa::Buffer::new();
                let digits = ints.format(n).as_bytes();
                self.start = 20 - digits.len();
                self.bytes[self.start..].copy_from_slice(digits);
            }
            self.value = n;
        }
        &self.bytes[self.start..]
    }

    /// Adds one to the digits: the last digit, carrying left (a `9…9` grows by a leading `1`).
    fn increment(&mut self) {
        for i in (self.start..20).rev() {
            if self.bytes[i] < b'9' {
                self.bytes[i] += 1;
                return;
            }
            self.bytes[i] = b'0';
        }
        // Every digit was a 9: `n` < `u64::MAX` has fewer than 20 digits, so there is room.
        self.start -= 1;
        self.bytes[self.start] = b'1';
    }
}

impl<W: Write + Send + 'static> RowEncoder<W> {
    /// An encoder whose chunks are hashed and written on a thread of their own (see the module
    /// docs): the simulation's thread only formats.
    pub fn threaded(inner: W) -> io::Result<Self> {
        Self::with_out(Out::Worker(Worker::spawn(inner)?))
    }
}

impl<W: Write> RowEncoder<W> {
    /// An encoder that hashes and writes on the calling thread.
    pub fn new(inner: W) -> io::Result<Self> {
        Self::with_out(Out::Inline(HashingWriter { inner, hasher: Sha256::new(), bytes: 0 }))
    }

    fn with_out(out: Out<W>) -> io::Result<Self> {
        let mut encoder = RowEncoder {
            out,
            buf: Vec::with_capacity(CHUNK + 1024),
            rows: 0,
            time: Digits::zero(),
            seq: Digits::zero(),
            clean: [(0, 0); CLEAN_SLOTS],
        };
        for (i, column) in COLUMNS.iter().enumerate() {
            if i > 0 {
                encoder.buf.push(b',');
            }
            text_cell(&mut encoder.buf, column.as_bytes());
        }
        encoder.buf.push(b'\n');
        Ok(encoder)
    }

    pub fn write(&mut self, row: &Record) -> io::Result<()> {
        let b = &mut self.buf;
        b.extend_from_slice(self.time.of(row.time_us));
        b.push(b',');
        b.extend_from_slice(self.seq.of(row.seq));
        b.push(b',');
        prefixed(b, b'n', row.node.map(|n| u64::from(n.0)));
        b.push(b',');
        b.extend_from_slice(row.event.as_str().as_bytes());
        b.push(b',');
        prefixed(b, b'n', row.peer.map(|n| u64::from(n.0)));
        b.push(b',');
        static_or_text_cell(b, &mut self.clean, &row.msg);
        b.push(b',');
        if let Some(t) = row.term {
            uint(b, t);
        }
        b.push(b',');
        if let Some(i) = row.index {
            uint(b, i);
        }
        b.push(b',');
        prefixed(b, b'k', row.key);
        b.push(b',');
        match &row.value {
            Value::None => {}
            Value::Id(v) => prefixed(b, b'v', Some(*v)),
            Value::Ids(vs) => {
                for (i, v) in vs.iter().enumerate() {
                    if i > 0 {
                        b.push(b'|');
                    }
                    prefixed(b, b'v', Some(*v));
                }
            }
            Value::Text(t) => text_cell(b, t.as_bytes()),
        }
        b.push(b',');
        if let Some(clock) = &row.clock {
            for (i, (n, c)) in clock.0.iter().enumerate() {
                if i > 0 {
                    b.push(b';');
                }
                prefixed(b, b'n', Some(u64::from(n.0)));
                b.push(b':');
                uint(b, *c);
            }
        }
        b.push(b',');
        match &row.detail_pairs {
            None => static_or_text_cell(b, &mut self.clean, &row.detail),
            // Pairs are labels and digits, which never need quotes; a text part before them
            // would be quoted with them, so such a cell goes through the text path whole.
            Some(pairs) if row.detail.is_empty() => pairs.write_to(b),
            Some(_) => text_cell(b, row.detail_text().as_bytes()),
        }
        b.push(b'\n');
        self.rows += 1;
        if self.buf.len() >= CHUNK {
            self.drain()?;
        }
        Ok(())
    }

    /// Hands the gathered bytes to the hasher and the inner writer.
    fn drain(&mut self) -> io::Result<()> {
        if self.buf.is_empty() {
            return Ok(());
        }
        match &mut self.out {
            Out::Inline(out) => {
                out.write_all(&self.buf)?;
                self.buf.clear();
            }
            Out::Worker(worker) => {
                let chunk = std::mem::replace(&mut self.buf, worker.spare());
                worker.send(chunk)?;
            }
        }
        Ok(())
    }

    /// Flushes and returns (inner writer, rows, bytes, sha256 hex).
    pub fn finish(mut self) -> io::Result<(W, u64, u64, String)> {
        self.drain()?;
        let out = match self.out {
            Out::Inline(mut out) => {
                out.flush()?;
                out
            }
            Out::Worker(mut worker) => worker.join()?,
        };
        let HashingWriter { inner, hasher, bytes } = out;
        Ok((inner, self.rows, bytes, hex(&hasher.finalize())))
    }
}

/// `prefix` and the number (`n3`, `k2`, `v17`), or nothing.
fn prefixed(b: &mut Vec<u8>, prefix: u8, n: Option<u64>) {
    if let Some(n) = n {
        b.push(prefix);
        uint(b, n);
    }
}

/// The decimal digits of `n`. Node ids and small terms are one digit: a push, not a copy.
fn uint(b: &mut Vec<u8>, n: u64) {
    if n < 10 {
        b.push(b'0' + n as u8);
    } else {
        b.extend_from_slice(itoa::Buffer::new().format(n).as_bytes());
    }
}

/// Whether a text cell holds a byte that CSV would misread (`,`, `"`, `\r`, `\n`). Eight bytes at
/// a time: a word has the byte `c` iff `word ^ c…c` has a zero byte, and `(x - 0x01…) & !x & 0x80…`
/// is non-zero iff `x` has a zero byte. A cell that is not a whole number of words ends with an
/// overlapping last word; cells shorter than a word go byte by byte.
fn needs_quotes(cell: &[u8]) -> bool {
    const ONES: u64 = 0x0101_0101_0101_0101;
    const HIGHS: u64 = ONES * 0x80;
    fn holds(word: u64, c: u8) -> u64 {
        let x = word ^ (ONES * u64::from(c));
        x.wrapping_sub(ONES) & !x & HIGHS
    }
    fn special(word: &[u8]) -> bool {
        let mut w = [0u8; 8];
        w.copy_from_slice(word);
        let word = u64::from_le_bytes(w);
        (holds(word, b',') | holds(word, b'"') | holds(word, b'\r') | holds(word, b'\n')) != 0
    }
    if cell.len() < 8 {
        return cell.iter().any(|c| matches!(c, b',' | b'"' | b'\r' | b'\n'));
    }
    let mut words = cell.chunks_exact(8);
    if words.any(special) {
        return true;
    }
    !words.remainder().is_empty() && special(&cell[cell.len() - 8..])
}

/// A text cell; a static one found clean before is copied without a look at its bytes.
// The `Cow` itself, not its `&str`: whether the text is `Borrowed` (static) is the point.
#[allow(clippy::ptr_arg)]
#[inline]
fn static_or_text_cell(b: &mut Vec<u8>, clean: &mut [(usize, usize); CLEAN_SLOTS], cell: &Cow<'static, str>) {
    let Cow::Borrowed(text) = cell else { return text_cell(b, cell.as_bytes()) };
    if text.is_empty() {
        return;
    }
    let key = (text.as_ptr() as usize, text.len());
    let slot = &mut clean[((key.0 >> 3) ^ key.1) % CLEAN_SLOTS];
    if *slot == key {
        b.extend_from_slice(text.as_bytes());
    } else if needs_quotes(text.as_bytes()) {
        text_cell(b, text.as_bytes());
    } else {
        *slot = key;
        b.extend_from_slice(text.as_bytes());
    }
}

/// A text cell, quoted (with `"` doubled) when it holds a byte that CSV would misread.
fn text_cell(b: &mut Vec<u8>, cell: &[u8]) {
    if !needs_quotes(cell) {
        b.extend_from_slice(cell);
        return;
    }
    b.push(b'"');
    for &c in cell {
        if c == b'"' {
            b.push(b'"');
        }
        b.push(c);
    }
    b.push(b'"');
}

/// Lower-case hex of bytes.
pub fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// A trace file being written (or stdout, for the path `-`).
pub struct TraceWriter {
    path: PathBuf,
    encoder: RowEncoder<Sink>,
}

impl TraceWriter {
    /// Starts a trace that will appear at `path` when `finish` succeeds; `-` streams to stdout.
    pub fn create(path: &Path) -> Result<TraceWriter> {
        let file = Sink::create(path, true)?;
        // Chunks of 64 KiB go straight to the file: no second buffer.
        let encoder = RowEncoder::threaded(file).map_err(|e| Error::io(path, e))?;
        Ok(TraceWriter { path: path.to_path_buf(), encoder })
    }

    pub fn write(&mut self, row: &Record) -> Result<()> {
        self.encoder.write(row).map_err(|e| Error::io(&self.path, e))
    }

    /// Flushes, syncs and renames the file into place.
    pub fn finish(self) -> Result<TraceInfo> {
        let path = self.path;
        let (sink, rows, bytes, sha256) = self.encoder.finish().map_err(|e| Error::io(&path, e))?;
        sink.commit()?;
        Ok(TraceInfo { path, rows, bytes, sha256 })
    }
}

pub use crate::output::write_atomic;

/// `File` is re-exported for callers that hash an existing trace.
pub fn sha256_file(path: &Path) -> Result<String> {
    let mut file = File::open(path).map_err(|e| Error::io(path, e))?;
    let mut hasher = Sha256::new();
    io::copy(&mut file, &mut hasher).map_err(|e| Error::io(path, e))?;
    Ok(hex(&hasher.finalize()))
}

#[cfg(test)]
mod tests {
    use std::borrow::Cow;

    use proptest::prelude::*;

    use super::*;
    use crate::sim::NodeId;
    use crate::trace::{Clock, Event, Pairs};

    /// The reference: the same row through the `csv` crate with its defaults, as the writer did
    /// before it wrote CSV by hand.
    fn with_csv_crate(rows: &[Record]) -> Vec<u8> {
        let mut w = csv::Writer::from_writer(Vec::new());
        w.write_record(COLUMNS).unwrap();
        for r in rows {
            let cell = |f: &dyn Fn(&mut String)| {
                let mut s = String::new();
                f(&mut s);
                s
            };
            let opt = |v: Option<u64>, p: &str| v.map(|v| format!("{p}{v}")).unwrap_or_default();
            w.write_record([
                r.time_us.to_string(),
                r.seq.to_string(),
                opt(r.node.map(|n| u64::from(n.0)), "n"),
                r.event.as_str().to_owned(),
                opt(r.peer.map(|n| u64::from(n.0)), "n"),
                r.msg.to_string(),
                opt(r.term, ""),
                opt(r.index, ""),
                opt(r.key, "k"),
                cell(&|s| r.value.write_to(s)),
                cell(&|s| {
                    if let Some(c) = &r.clock {
                        c.write_to(s)
                    }
                }),
                r.detail_text().into_owned(),
            ])
            .unwrap();
        }
        w.into_inner().unwrap()
    }

    fn encoded(rows: &[Record]) -> (Vec<u8>, u64, u64, String) {
        let mut e = RowEncoder::new(Vec::new()).unwrap();
        for r in rows {
            e.write(r).unwrap();
        }
        e.finish().unwrap()
    }

    fn text() -> impl Strategy<Value = String> {
        prop_oneof![Just(String::new()), "[a-z_ ]{1,8}", "[a-z,\"\r\n; |:#]{0,6}", any::<String>()]
    }

    fn record() -> impl Strategy<Value = Record> {
        let value = prop_oneof![
            Just(Value::None),
            any::<u64>().prop_map(Value::Id),
            proptest::collection::vec(any::<u64>(), 0..4).prop_map(Value::Ids),
            text().prop_map(|t| Value::Text(Cow::Owned(t))),
        ];
        let clock = proptest::option::of(
            proptest::collection::vec((any::<u32>().prop_map(NodeId), any::<u64>()), 0..4).prop_map(Clock),
        );
        let ids = proptest::option::of(any::<u32>().prop_map(NodeId));
        let nums = proptest::option::of(any::<u64>());
        (
            (any::<u64>(), any::<u64>(), ids.clone(), 0..Event::ALL.len(), ids),
            (text(), nums.clone(), nums.clone(), nums, value, clock, text()),
        )
            .prop_map(
                |((time_us, seq, node, event, peer), (msg, term, index, key, value, clock, detail))| Record {
                    time_us,
                    seq,
                    node,
                    event: Event::ALL[event],
                    peer,
                    msg: Cow::Owned(msg),
                    term,
                    index,
                    key,
                    value,
                    clock,
                    detail: Cow::Owned(detail),
                    detail_pairs: None,
                },
            )
    }

    proptest! {
        /// Byte for byte what the `csv` crate writes, whatever the cells hold.
        #[test]
        fn same_bytes_as_the_csv_crate(rows in proptest::collection::vec(record(), 0..20)) {
            let (bytes, n, len, sha) = encoded(&rows);
            let reference = with_csv_crate(&rows);
            prop_assert_eq!(String::from_utf8_lossy(&bytes), String::from_utf8_lossy(&reference));
            prop_assert_eq!(n, rows.len() as u64);
            prop_assert_eq!(len, bytes.len() as u64);
            prop_assert_eq!(sha, hex(&Sha256::digest(&bytes)));
        }
    }

    #[test]
    fn static_cells_are_quoted_on_every_use() {
        // The same static texts again and again (the cache of clean ones hits), quoted or not.
        const TEXTS: [&str; 8] = [
            "append_entries",
            "a,b",
            "say \"hi\"",
            "",
            "x",
            "line\nbreak",
            "granted",
            "prev_term=2 entries=1",
        ];
        let rows: Vec<Record> = (0..200usize)
            .map(|i| {
                let mut row = Record::new(Event::Send).node(NodeId(1)).detail(TEXTS[(i * 5) % TEXTS.len()]);
                row.msg = Cow::Borrowed(TEXTS[i % TEXTS.len()]);
                row
            })
            .collect();
        assert_eq!(encoded(&rows).0, with_csv_crate(&rows));
    }

    #[test]
    fn cached_digits_are_what_itoa_writes() {
        let mut d = Digits::zero();
        let mut check = |n: u64| {
            let want = itoa::Buffer::new().format(n).to_owned();
            assert_eq!(d.of(n), want.as_bytes(), "{n}");
        };
        // Runs of consecutive numbers across every carry, repeats, jumps back and forth, the ends.
        for start in [0, 7, 95, 997, 99_990, 10u64.pow(19) - 3, u64::MAX - 2] {
            for n in start..start.saturating_add(12) {
                check(n);
                check(n);
            }
        }
        for n in [u64::MAX, 0, 1, u64::MAX, 5, 4, 10, 9, 100, 0] {
            check(n);
        }
    }

    #[test]
    fn quote_bytes_are_found_at_every_position() {
        let naive = |cell: &[u8]| cell.iter().any(|c| matches!(c, b',' | b'"' | b'\r' | b'\n'));
        for len in 0..40 {
            let clean = vec![b'a'; len];
            assert!(!needs_quotes(&clean));
            for at in 0..len {
                for c in [b',', b'"', b'\r', b'\n', b' ', b'+', b'-', b'!', 0x80, 0xff, 0] {
                    let mut cell = clean.clone();
                    cell[at] = c;
                    assert_eq!(needs_quotes(&cell), naive(&cell), "{len} {at} {c}");
                }
            }
        }
    }

    #[test]
    fn numbers_of_every_length() {
        let rows: Vec<Record> = (0..=20u32)
            .flat_map(|p| {
                let v = 10u64.checked_pow(p).unwrap_or(u64::MAX);
                [v.saturating_sub(1), v, v.saturating_add(1), u64::MAX]
            })
            .map(|v| {
                let node = NodeId((v % 1_000_000_007) as u32);
                Record::new(Event::Send).at(crate::sim::SimTime(v)).node(node).term(v).index(v / 3).key(v / 7)
            })
            .collect();
        assert_eq!(encoded(&rows).0, with_csv_crate(&rows));
    }

    #[test]
    fn the_writing_thread_gives_the_same_bytes_and_hash() {
        // Enough rows for many chunks, more than can be in flight at once.
        let rows: Vec<Record> = (0..60_000u64)
            .map(|i| {
                Record::new(Event::Send).at(crate::sim::SimTime(i)).node(NodeId(2)).term(i).detail("x,y")
            })
            .collect();
        let mut threaded = RowEncoder::threaded(Vec::new()).unwrap();
        for r in &rows {
            threaded.write(r).unwrap();
        }
        let threaded = threaded.finish().unwrap();
        assert!(threaded.0.len() > 2 * CHUNKS_IN_FLIGHT * CHUNK);
        assert_eq!(threaded, encoded(&rows));
    }

    /// A writer that fails after `left` bytes.
    #[derive(Debug)]
    struct Failing {
        left: usize,
    }

    impl Write for Failing {
        fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
            if buf.len() > self.left {
                return Err(io::Error::other("disk full"));
            }
            self.left -= buf.len();
            Ok(buf.len())
        }

        fn flush(&mut self) -> io::Result<()> {
            Ok(())
        }
    }

    #[test]
    fn an_error_on_the_writing_thread_reaches_the_encoder() {
        let mut e = RowEncoder::threaded(Failing { left: 3 * CHUNK }).unwrap();
        let row = Record::new(Event::Note).node(NodeId(1)).detail("0123456789".repeat(10));
        let mut failed = None;
        for _ in 0..100_000 {
            if let Err(err) = e.write(&row) {
                failed = Some(err);
                break;
            }
        }
        let err = match failed {
            Some(err) => err,
            None => e.finish().unwrap_err(),
        };
        assert_eq!(err.to_string(), "disk full");
    }

    #[test]
    fn chunks_do_not_change_the_bytes() {
        // Enough rows to drain several chunks, with a quoted cell in each.
        let rows: Vec<Record> = (0..20_000u64)
            .map(|i| {
                Record::new(Event::Note)
                    .at(crate::sim::SimTime(i))
                    .node(NodeId(1))
                    .detail(format!("a,\"{i}\""))
            })
            .collect();
        assert_eq!(encoded(&rows).0, with_csv_crate(&rows));
        assert!(encoded(&rows).0.len() > 3 * CHUNK);
    }

    /// A `detail` kept as numbers ([`Pairs`]) writes the bytes its text would, after a text part
    /// too (quoted as a whole when that part needs it).
    #[test]
    fn pairs_write_as_their_text() {
        static LABELS: [&str; 3] = ["prev_term=", " entries=", " commit="];
        static ONE: [&str; 3] = ["last_term=", "", ""];
        let mut rows = Vec::new();
        for (labels, numbers) in [(&LABELS, [0, 5, u64::MAX]), (&ONE, [12_345, 7, 7])] {
            for text in ["", "x ", "a,\"b\" "] {
                let mut row = Record::new(Event::Send).node(NodeId(0)).msg("append_entries").detail(text);
                row.detail_pairs = Some(Pairs::new(labels, numbers));
                let expected = format!("{text}{}", Pairs::new(labels, numbers));
                assert_eq!(row.detail_text(), expected);
                assert_eq!(
                    row,
                    Record::new(Event::Send).node(NodeId(0)).msg("append_entries").detail(expected)
                );
                rows.push(row);
            }
        }
        assert_eq!(encoded(&rows).0, with_csv_crate(&rows));
        assert!(String::from_utf8_lossy(&encoded(&rows).0)
            .contains(",prev_term=0 entries=5 commit=18446744073709551615\n"));
    }
}
