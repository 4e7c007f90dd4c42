//! Messages between replicas of the eventually consistent KV.
//!
//! Replication (`replicate` / `replicate_ack`, Dynamo §4.5 "put"), quorum reads (`read_request` /
//! `read_reply` and `read_repair`, §4.5 "get"), and push-pull anti-entropy (§4.7, with a per-key
//! digest instead of Merkle trees): `ae_digest` → `ae_reply` (the responder's newer versions and the
//! keys it wants) → `ae_push` (the wanted versions).

use std::rc::Rc;

use crate::eventual::store::{DigestEntry, Version};
use crate::protocol::Message;
use crate::trace::Record;

/// One key's versions on the wire.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct KeyVersions {
    pub key: u64,
    pub versions: Vec<Version>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum EventualMsg {
    /// A coordinator's versions of `key` after a client write. `req` is set when the coordinator
    /// waits for acknowledgements (W > 1); the replica then answers `ReplicateAck`.
    Replicate {
        key: u64,
        /// Shared by the copies to each replica (and by a duplicated delivery): one clone of the
        /// set per write, not one per peer.
        versions: Rc<[Version]>,
        req: Option<u64>,
    },
    ReplicateAck {
        req: u64,
    },
    /// Quorum read: send your versions of `key`.
    ReadRequest {
        req: u64,
        key: u64,
    },
    ReadReply {
        req: u64,
        key: u64,
        versions: Vec<Version>,
    },
    /// The merged result of a quorum read, sent to a responder that answered with less.
    ReadRepair {
        key: u64,
        versions: Vec<Version>,
    },
    /// Anti-entropy, first leg: the sender's digest of every key it holds.
    AeDigest {
        entries: Vec<DigestEntry>,
    },
    /// Second leg: versions the digest's sender lacks or holds older, and the keys the responder
    /// wants from it.
    AeReply {
        push: Vec<KeyVersions>,
        want: Vec<u64>,
    },
    /// Third leg: the wanted keys' versions.
    AePush {
        push: Vec<KeyVersions>,
    },
}

impl Message for EventualMsg {
    fn name(&self) -> &'static str {
        match self {
            EventualMsg::Replicate { .. } => "replicate",
            EventualMsg::ReplicateAck { .. } => "replicate_ack",
            EventualMsg::ReadRequest { .. } => "read_request",
            EventualMsg::ReadReply { .. } => "read_reply",
            EventualMsg::ReadRepair { .. } => "read_repair",
            EventualMsg::AeDigest { .. } => "ae_digest",
            EventualMsg::AeReply { .. } => "ae_reply",
            EventualMsg::AePush { .. } => "ae_push",
        }
    }

    /// `key` for single-key messages; `index` = the request id for quorum traffic, or the number
    /// of keys carried by anti-entropy messages.
    fn describe(&self, row: &mut Record) {
        match self {
            EventualMsg::Replicate { key, versions, req } => {
                row.key = Some(*key);
                row.value = crate::eventual::store::value_of(versions);
                row.index = *req;
            }
            EventualMsg::ReplicateAck { req } => row.index = Some(*req),
            EventualMsg::ReadRequest { req, key } | EventualMsg::ReadReply { req, key, .. } => {
                row.key = Some(*key);
                row.index = Some(*req);
            }
            EventualMsg::ReadRepair { key, versions } => {
                row.key = Some(*key);
                row.value = crate::eventual::store::value_of(versions);
            }
            EventualMsg::AeDigest { entries } => row.index = Some(entries.len() as u64),
            EventualMsg::AeReply { push, .. } | EventualMsg::AePush { push } => {
                row.index = Some(push.len() as u64)
            }
        }
    }
}
