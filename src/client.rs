//! Client operations as every protocol sees them (Jepsen's model): a process issues one operation
//! at a time on a key — `read`, `write v` or `cas expected → new` — and learns exactly one outcome.
//!
//! The kernel's client layer (`sim::clients`) invents operations, sends them to nodes and writes
//! the client-history rows (`invoke`, `ok`, `fail`, `info`, see `docs/trace.md`). A node answers
//! an operation with [`crate::protocol::Ctx::reply`] and a [`ClientReply`]. Op ids are unique in a
//! run, and a write's (or cas's new) value id is its op id, so a value names one write.

use std::borrow::Cow;
use std::fmt::Write as _;

use crate::trace::{Clock, Record, Value};

/// What an operation does.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Func {
    Read,
    /// Write value id `value` (the op id).
    Write {
        value: u64,
    },
    /// Compare-and-set: if the key holds `expected` (`None` = nil), store `new` (the op id).
    Cas {
        expected: Option<u64>,
        new: u64,
    },
}

impl Func {
    /// The spelling in the `msg` column of client-history rows.
    pub fn name(self) -> &'static str {
        match self {
            Func::Read => "read",
            Func::Write { .. } => "write",
            Func::Cas { .. } => "cas",
        }
    }
}

/// The kind of an operation before the client layer gives it ids and values.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    Read,
    Write,
    Cas,
}

/// One client operation.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct ClientOp {
    /// The issuing process (Jepsen's `:process`).
    pub process: u64,
    /// Unique in the run; the same on every resend of the operation.
    pub id: u64,
    pub key: u64,
    pub f: Func,
}

impl ClientOp {
    /// A write of value id `id` by process `process`.
    pub fn write(process: u64, id: u64, key: u64) -> ClientOp {
        ClientOp { process, id, key, f: Func::Write { value: id } }
    }

    pub fn read(process: u64, id: u64, key: u64) -> ClientOp {
        ClientOp { process, id, key, f: Func::Read }
    }

    pub fn cas(process: u64, id: u64, key: u64, expected: Option<u64>) -> ClientOp {
        ClientOp { process, id, key, f: Func::Cas { expected, new: id } }
    }

    pub fn is_read(&self) -> bool {
        self.f == Func::Read
    }

    /// The value id this op writes, if it writes (a cas's new value).
    pub fn written(&self) -> Option<u64> {
        match self.f {
            Func::Read => None,
            Func::Write { value } => Some(value),
            Func::Cas { new, .. } => Some(new),
        }
    }

    /// The node-side name (`put`, `get`, `cas`) used by `client` rows and Raft's log rows.
    pub fn command_name(&self) -> &'static str {
        match self.f {
            Func::Read => "get",
            Func::Write { .. } => "put",
            Func::Cas { .. } => "cas",
        }
    }

    /// Fills a client-history row (`invoke`, `ok`, `fail`, `info`): msg, index = op id, key,
    /// the written value, and detail `p<process>` plus `expect=…` for a cas.
    pub fn describe(&self, row: &mut Record) {
        row.msg = Cow::Borrowed(self.f.name());
        row.index = Some(self.id);
        row.key = Some(self.key);
        row.value = self.written().map_or(Value::None, Value::Id);
        let mut detail = process_detail(self.process);
        if let Func::Cas { expected, .. } = self.f {
            match expected {
                Some(v) => {
                    let _ = write!(detail, " expect=v{v}");
                }
                None => detail.push_str(" expect=nil"),
            }
        }
        row.detail = Cow::Owned(detail);
    }

    /// Fills a `client` row (the request reaching a node): msg `put` / `get` / `cas`, index = op
    /// id, key, the written value, detail `p<process>` (and `attempt=<n>` on a resend).
    pub fn describe_arrival(&self, row: &mut Record, attempt: u32) {
        row.msg = Cow::Borrowed(self.command_name());
        row.index = Some(self.id);
        row.key = Some(self.key);
        row.value = self.written().map_or(Value::None, Value::Id);
        let mut detail = process_detail(self.process);
        if attempt > 0 {
            detail.push_str(" attempt=");
            detail.push_str(itoa::Buffer::new().format(attempt));
        }
        row.detail = Cow::Owned(detail);
    }
}

/// `p<process>`, the start of a client row's detail, spelt without the formatting machinery (three
/// rows per operation carry it).
fn process_detail(process: u64) -> String {
    let mut detail = String::with_capacity(24);
    detail.push('p');
    detail.push_str(itoa::Buffer::new().format(process));
    detail
}

/// A node's answer to an operation.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ClientReply {
    /// It took effect; a read carries the value read (`Value::None` = nil, `Ids` = siblings).
    Ok(Value),
    /// Like `Ok`, plus an opaque causal context (a clock, Dynamo §4.4) the client layer writes in
    /// the `ok` row's `clock` column and hands back with the process's next write on the key
    /// ([`crate::protocol::Ctx::client_context`]). The kernel never reads it.
    OkWithContext(Value, Clock),
    /// It certainly did not take effect (`why`: a token without spaces, e.g. `cas_mismatch`).
    Fail(&'static str),
    /// It may or may not have taken effect (`why`: e.g. `session_expired`).
    Unknown(&'static str),
    /// The node did nothing with THIS delivery of the op (`why`: e.g. `no_leader`). The client
    /// layer makes it a `fail` only if the op was never sent anywhere else; otherwise another copy
    /// may still take effect and the client keeps waiting.
    Refused(&'static str),
}
