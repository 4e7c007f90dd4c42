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
use crate::trace::{Event, Pairs, Record, Value};

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
            for chunk in chunks {
                out.write_all(&chunk)?;
                // Handed back uncleared: the encoder sets the length it needs. It may have
                // finished already; the buffer is then simply freed.
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
///
/// A sweep formats every row of every run only to hash it, so the row loop is kept to plain
/// stores: numbers are written digit pair by digit pair straight into the buffer, and the cells
/// that repeat (the last `time_us` and `seq`, event names, static message names and details) are
/// kept padded to a fixed width and copied whole, which compiles to a few vector moves instead of
/// a call to `memcpy` per cell (see [`Window`]).
pub struct RowEncoder<W: Write> {
    out: Out<W>,
    buf: Window,
    rows: u64,
    /// The digits of the last row's `time_us`: a run writes its rows in bursts at one instant.
    time: Digits,
    /// The digits of the last row's `seq`: the runner numbers rows 0, 1, 2, … so the next one is
    /// this counter incremented in place.
    seq: Digits,
    /// Static text cells (message, timer and event names; fixed details) already found to need no
    /// quotes, by address and length: a `&'static str` never changes, so one look is enough.
    clean: Box<[Clean; CLEAN_SLOTS]>,
}

/// Slots of [`RowEncoder::clean`] (a protocol has a few dozen static names).
const CLEAN_SLOTS: usize = 64;

/// Static cells up to this long are cached padded, and copied as one fixed-size block.
const PAD: usize = 32;

/// One slot of the clean static cells: the text's address and length, and, when it is at most
/// [`PAD`] bytes, its bytes padded with zeros.
#[derive(Clone, Copy)]
struct Clean {
    key: (usize, usize),
    padded: [u8; PAD],
}

/// The window rows are formatted into: `buf[..pos]` is the chunk so far, the rest is scratch.
/// Before a row is written the window is made to hold the most bytes the row can take
/// ([`row_bound`]), so the row itself is written through a [`Cursor`] with no capacity checks, and
/// the window only grows for an odd long cell. Only `buf[..pos]` is ever handed on.
struct Window {
    buf: Vec<u8>,
    pos: usize,
}

/// Room past [`CHUNK`] in a fresh window: a row is drained once the chunk is full, and rows are a
/// few dozen bytes, so a window grows only for a cell of about this size.
const SLACK: usize = 1024;

/// A window's initial length.
const WINDOW: usize = CHUNK + SLACK;

impl Window {
    fn new() -> Window {
        Window { buf: vec![0; WINDOW], pos: 0 }
    }

    /// A cursor over at least `n` free bytes.
    #[inline(always)]
    fn cursor(&mut self, n: usize) -> Cursor<'_> {
        if self.buf.len() - self.pos < n {
            self.grow(n);
        }
        Cursor { out: &mut self.buf[self.pos..], at: 0 }
    }

    #[cold]
    fn grow(&mut self, n: usize) {
        self.buf.resize(self.pos + n + SLACK, 0);
    }

    fn chunk(&self) -> &[u8] {
        &self.buf[..self.pos]
    }
}

/// Writes into the free part of a [`Window`] that was sized for what is written: the index lives
/// in a register, and a write is a store and an increment. A fixed-size copy may write past the
/// cell it holds (the padding); the next cell overwrites it, and only `at` bytes are kept.
struct Cursor<'a> {
    out: &'a mut [u8],
    at: usize,
}

impl Cursor<'_> {
    #[inline(always)]
    fn byte(&mut self, c: u8) {
        self.out[self.at] = c;
        self.at += 1;
    }

    /// The first `len` bytes of `block`, copied as the whole block.
    #[inline(always)]
    fn fixed<const N: usize>(&mut self, block: &[u8; N], len: usize) {
        self.out[self.at..self.at + N].copy_from_slice(block);
        self.at += len;
    }

    #[inline(always)]
    fn bytes(&mut self, s: &[u8]) {
        self.out[self.at..self.at + s.len()].copy_from_slice(s);
        self.at += s.len();
    }

    /// The decimal digits of `n` (at most [`UINT_MAX`] bytes).
    #[inline(always)]
    fn uint(&mut self, n: u64) {
        if n < 10 {
            self.byte(b'0' + n as u8);
        } else if n < 100 {
            let pair = n as usize * 2;
            self.fixed(&[PAIRS[pair], PAIRS[pair + 1]], 2);
        } else {
            self.at += digits(n, &mut self.out[self.at..self.at + UINT_MAX]);
        }
    }

    /// `prefix` and the number (`n3`, `k2`, `v17`), or nothing.
    #[inline(always)]
    fn prefixed(&mut self, prefix: u8, n: Option<u64>) {
        if let Some(n) = n {
            self.byte(prefix);
            self.uint(n);
        }
    }

    /// A text cell that may be static: a short static one found clean before is one block copy
    /// here; the rest is [`static_or_text_cell`], out of line. The functions out of line get the
    /// free bytes and the index, not the cursor, so that the cursor stays in registers.
    // The `Cow` itself, not its `&str`: whether the text is `Borrowed` (static) is the point.
    #[allow(clippy::ptr_arg)]
    #[inline(always)]
    fn cell(&mut self, clean: &mut [Clean; CLEAN_SLOTS], cell: &Cow<'static, str>) {
        if let Cow::Borrowed(text) = cell {
            if text.is_empty() {
                return;
            }
            let key = (text.as_ptr() as usize, text.len());
            let slot = &clean[clean_slot(key)];
            if slot.key == key && text.len() <= PAD {
                return self.fixed(&slot.padded, text.len());
            }
        }
        self.at = static_or_text_cell(self.out, self.at, clean, cell);
    }

    /// A text cell (see [`text_cell`]).
    #[inline(always)]
    fn text(&mut self, cell: &[u8]) {
        self.at = text_cell(self.out, self.at, cell);
    }
}

/// The most bytes a number takes (`u64::MAX` has 20 digits).
const UINT_MAX: usize = 20;

/// The most bytes a text cell of `len` bytes takes: every byte a doubled `"`, and the quotes.
fn text_bound(len: usize) -> usize {
    2 * len + 2
}

/// The most bytes `row` can take, padding of fixed-size copies included: a generous constant
/// for the number and name cells, and the variable cells by their length.
#[inline(always)]
fn row_bound(row: &Record) -> usize {
    // time_us and seq as 20-byte blocks, node and peer (`n` and a u32), the event name block,
    // term, index, key (`k` and a u64), an id value, the separators and the newline.
    const FIXED: usize = 2 * UINT_MAX + 2 * (1 + UINT_MAX) + 16 + 2 * UINT_MAX + 3 * (1 + UINT_MAX) + 12;
    let value = match &row.value {
        Value::Ids(vs) => vs.len() * (2 + UINT_MAX),
        Value::Text(t) => text_bound(t.len()),
        Value::None | Value::Id(_) => 0,
    };
    let clock = row.clock.as_ref().map_or(0, |c| c.pairs().len() * (3 + 2 * UINT_MAX));
    let pairs = row.detail_pairs.as_ref().map_or(0, Pairs::bound);
    FIXED + text_bound(row.msg.len().max(PAD)) + text_bound(row.detail.len().max(PAD) + pairs) + value + clock
}

/// "00" "01" … "99": two digits per division, as `itoa` does.
const PAIRS: &[u8; 200] = b"\
0001020304050607080910111213141516171819\
2021222324252627282930313233343536373839\
4041424344454647484950515253545556575859\
6061626364656667686970717273747576777879\
8081828384858687888990919293949596979899";

/// Writes the decimal digits of `n` at the start of `out` (at least 20 bytes: `u64::MAX` has 20)
/// and returns how many: the bytes `itoa` writes.
#[inline]
fn digits(mut n: u64, out: &mut [u8]) -> usize {
    let len = n.checked_ilog10().map_or(1, |l| l as usize + 1);
    let mut end = len;
    while n >= 100 {
        let pair = (n % 100) as usize * 2;
        n /= 100;
        end -= 2;
        out[end] = PAIRS[pair];
        out[end + 1] = PAIRS[pair + 1];
    }
    if n >= 10 {
        let pair = n as usize * 2;
        out[0] = PAIRS[pair];
        out[1] = PAIRS[pair + 1];
    } else {
        out[0] = b'0' + n as u8;
    }
    len
}

/// A number and its decimal digits, left-aligned in a fixed buffer (`u64::MAX` has 20).
struct Digits {
    value: u64,
    len: usize,
    bytes: [u8; 20],
}

impl Digits {
    fn zero() -> Digits {
        Digits { value: 0, len: 1, bytes: [b'0'; 20] }
    }

    /// The digits of `n` (the first `len` bytes of the block): the cached ones when `n` is the last
    /// number, incremented in place when it is the next, formatted afresh otherwise. The same bytes
    /// `itoa` writes in every case.
    #[inline]
    fn of(&mut self, n: u64) -> (&[u8; 20], usize) {
        if n != self.value {
            if n == self.value.wrapping_add(1) && n != 0 {
                self.increment();
            } else {
                self.len = digits(n, &mut self.bytes);
            }
            self.value = n;
        }
        (&self.bytes, self.len)
    }

    /// Adds one to the digits: the last digit, carrying left (a `9…9` becomes `10…0`).
    fn increment(&mut self) {
        for i in (0..self.len).rev() {
            if self.bytes[i] < b'9' {
                self.bytes[i] += 1;
                return;
            }
            self.bytes[i] = b'0';
        }
        // Every digit was a 9: `n` ≤ `u64::MAX` has at most 20 digits and twenty 9s exceed it, so
        // there were at most 19 and the new last digit fits.
        self.bytes[0] = b'1';
        self.bytes[self.len] = b'0';
        self.len += 1;
    }
}

/// The `event` column's names padded to 16 bytes (the longest, `install_snapshot`, has 16), and
/// their lengths, indexed by the event's discriminant.
const EVENT_CELLS: [([u8; 16], usize); Event::ALL.len()] = {
    let mut cells = [([0u8; 16], 0); Event::ALL.len()];
    let mut i = 0;
    while i < Event::ALL.len() {
        let name = Event::ALL[i].as_str().as_bytes();
        let mut j = 0;
        while j < name.len() {
            cells[i].0[j] = name[j];
            j += 1;
        }
        cells[i].1 = name.len();
        i += 1;
    }
    cells
};

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
            buf: Window::new(),
            rows: 0,
            time: Digits::zero(),
            seq: Digits::zero(),
            clean: Box::new([Clean { key: (0, 0), padded: [0; PAD] }; CLEAN_SLOTS]),
        };
        let bound = COLUMNS.iter().map(|c| text_bound(c.len()) + 1).sum();
        let mut b = encoder.buf.cursor(bound);
        for (i, column) in COLUMNS.iter().enumerate() {
            if i > 0 {
                b.byte(b',');
            }
            b.text(column.as_bytes());
        }
        b.byte(b'\n');
        encoder.buf.pos += b.at;
        Ok(encoder)
    }

    pub fn write(&mut self, row: &Record) -> io::Result<()> {
        let mut b = self.buf.cursor(row_bound(row));
        let (digits, len) = self.time.of(row.time_us);
        b.fixed(digits, len);
        b.byte(b',');
        let (digits, len) = self.seq.of(row.seq);
        b.fixed(digits, len);
        b.byte(b',');
        b.prefixed(b'n', row.node.map(|n| u64::from(n.0)));
        b.byte(b',');
        let (name, len) = &EVENT_CELLS[row.event as usize];
        b.fixed(name, *len);
        b.byte(b',');
        b.prefixed(b'n', row.peer.map(|n| u64::from(n.0)));
        b.byte(b',');
        b.cell(&mut self.clean, &row.msg);
        b.byte(b',');
        if let Some(t) = row.term {
            b.uint(t);
        }
        b.byte(b',');
        if let Some(i) = row.index {
            b.uint(i);
        }
        b.byte(b',');
        b.prefixed(b'k', row.key);
        b.byte(b',');
        match &row.value {
            Value::None => {}
            Value::Id(v) => b.prefixed(b'v', Some(*v)),
            Value::Ids(vs) => {
                for (i, v) in vs.iter().enumerate() {
                    if i > 0 {
                        b.byte(b'|');
                    }
                    b.prefixed(b'v', Some(*v));
                }
            }
            Value::Text(t) => b.text(t.as_bytes()),
        }
        b.byte(b',');
        if let Some(clock) = &row.clock {
            for (i, (n, c)) in clock.pairs().iter().enumerate() {
                if i > 0 {
                    b.byte(b';');
                }
                b.prefixed(b'n', Some(u64::from(n.0)));
                b.byte(b':');
                b.uint(*c);
            }
        }
        b.byte(b',');
        match &row.detail_pairs {
            None => b.cell(&mut self.clean, &row.detail),
            // Labels and digits never need quotes; with a text part before them the cell goes
            // through the text path whole (quoted as a whole when that part needs it).
            Some(pairs) if row.detail.is_empty() => {
                for (label, n) in pairs.iter() {
                    b.bytes(label.as_bytes());
                    b.uint(n);
                }
            }
            Some(_) => b.text(row.detail_text().as_bytes()),
        }
        b.byte(b'\n');
        self.buf.pos += b.at;
        self.rows += 1;
        if self.buf.pos >= CHUNK {
            self.drain()?;
        }
        Ok(())
    }

    /// Hands the gathered bytes to the hasher and the inner writer.
    fn drain(&mut self) -> io::Result<()> {
        if self.buf.pos == 0 {
            return Ok(());
        }
        match &mut self.out {
            Out::Inline(out) => out.write_all(self.buf.chunk())?,
            Out::Worker(worker) => {
                // The thread hands buffers back uncleared: their length is restored here, and a
                // reused one needs no zeroing (the window's scratch may hold anything).
                let mut next = worker.spare();
                if next.len() < WINDOW {
                    next.resize(WINDOW, 0);
                }
                let mut chunk = std::mem::replace(&mut self.buf.buf, next);
                chunk.truncate(self.buf.pos);
                worker.send(chunk)?;
            }
        }
        self.buf.pos = 0;
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

/// A text cell; a static one found clean before is copied without a look at its bytes (and, when
/// short, as one padded block: [`Cursor::cell`] does that inline). Returns the new end.
// The `Cow` itself, not its `&str`: whether the text is `Borrowed` (static) is the point.
#[allow(clippy::ptr_arg)]
fn static_or_text_cell(
    out: &mut [u8],
    at: usize,
    clean: &mut [Clean; CLEAN_SLOTS],
    cell: &Cow<'static, str>,
) -> usize {
    let Cow::Borrowed(text) = cell else { return text_cell(out, at, cell.as_bytes()) };
    let mut b = Cursor { out, at };
    if text.is_empty() {
        return at;
    }
    let key = (text.as_ptr() as usize, text.len());
    let slot = &mut clean[clean_slot(key)];
    if slot.key == key {
        if text.len() <= PAD {
            b.fixed(&slot.padded, text.len());
        } else {
            b.bytes(text.as_bytes());
        }
    } else if needs_quotes(text.as_bytes()) {
        return text_cell(b.out, b.at, text.as_bytes());
    } else {
        slot.key = key;
        if text.len() <= PAD {
            slot.padded = [0; PAD];
            slot.padded[..text.len()].copy_from_slice(text.as_bytes());
        }
        b.bytes(text.as_bytes());
    }
    b.at
}

/// The slot of [`RowEncoder::clean`] for a static text's (address, length).
#[inline(always)]
fn clean_slot(key: (usize, usize)) -> usize {
    ((key.0 >> 3) ^ key.1) % CLEAN_SLOTS
}

/// A text cell, quoted (with `"` doubled) when it holds a byte that CSV would misread. Returns the
/// new end.
fn text_cell(out: &mut [u8], at: usize, cell: &[u8]) -> usize {
    let mut b = Cursor { out, at };
    if !needs_quotes(cell) {
        b.bytes(cell);
        return b.at;
    }
    b.byte(b'"');
    for &c in cell {
        if c == b'"' {
            b.byte(b'"');
        }
        b.byte(c);
    }
    b.byte(b'"');
    b.at
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
            proptest::collection::vec((any::<u32>().prop_map(NodeId), any::<u64>()), 0..4)
                .prop_map(Clock::from_pairs),
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
        const TEXTS: [&str; 9] = [
            "append_entries",
            "a,b",
            "say \"hi\"",
            "",
            "x",
            "line\nbreak",
            "granted",
            "prev_term=2 entries=1",
            "a static cell longer than the padded cache's thirty-two bytes",
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
            let (bytes, len) = d.of(n);
            assert_eq!(&bytes[..len], want.as_bytes(), "{n}");
            let mut out = [b'x'; 20];
            let len = digits(n, &mut out);
            assert_eq!(&out[..len], want.as_bytes(), "{n}");
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
    fn event_cells_are_the_event_names() {
        for (i, event) in Event::ALL.iter().enumerate() {
            assert_eq!(*event as usize, i, "Event::ALL is in declaration order");
            let (padded, len) = &EVENT_CELLS[i];
            assert_eq!(&padded[..*len], event.as_str().as_bytes());
            assert!(padded[*len..].iter().all(|&b| b == 0));
        }
    }

    #[test]
    fn cells_longer_than_the_window_grow_it() {
        // Cells far beyond the window's slack, quoted and not, between ordinary rows.
        let long = "q\"x,".repeat(3 * SLACK);
        let rows: Vec<Record> = (0..400u64)
            .map(|i| {
                let mut row = Record::new(Event::Write).at(crate::sim::SimTime(i)).node(NodeId(0));
                match i % 4 {
                    0 => row.value = Value::Text(Cow::Owned(long.clone())),
                    1 => row.value = Value::Ids((0..2 * SLACK as u64).map(|v| v * 1_000_003).collect()),
                    2 => {
                        row.clock = Some(Clock::from_pairs(
                            (0..SLACK as u32).map(|n| (NodeId(n), u64::MAX - 1)).collect(),
                        ))
                    }
                    _ => row.detail = Cow::Owned("z".repeat(CHUNK + 7)),
                }
                row
            })
            .collect();
        assert_eq!(encoded(&rows).0, with_csv_crate(&rows));
        let mut threaded = RowEncoder::threaded(Vec::new()).unwrap();
        for r in &rows {
            threaded.write(r).unwrap();
        }
        assert_eq!(threaded.finish().unwrap(), encoded(&rows));
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
