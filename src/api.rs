//! Argument and result types of the [`Store`](crate::Store) API: open
//! options, XADD arguments (expected version, idempotency key, trim), and
//! what writes, checkpoints and recovery report.

use std::sync::Arc;

use crate::clock::{Clock, SystemClock};
use crate::stream::{Entry, IdSpec, IdmpConfig, NodeLimits, StreamId, Trim};

/// Options of [`Store::open`](crate::Store::open).
#[derive(Debug, Clone)]
pub struct StoreOptions {
    /// WAL options (segment size, fsync policy, recovery mode, I/O seam).
    pub wal: eddy_wal::Options,
    /// Mutating calls wait for durability themselves when the policy is
    /// `always` (the embedded default). The server turns this off.
    pub wait_for_durability: bool,
    /// `stream-node-max-bytes` / `stream-node-max-entries`.
    pub node_limits: NodeLimits,
    /// Idempotency window of new streams.
    pub idmp: IdmpConfig,
    /// Checkpoint automatically after this many records (0 = never).
    pub checkpoint_every_records: u64,
    /// Checkpoint automatically after this many bytes of records (0 = never).
    pub checkpoint_every_bytes: u64,
    /// Time source for `*` IDs and MAXAGE.
    pub clock: Arc<dyn Clock>,
}

impl Default for StoreOptions {
    fn default() -> Self {
        StoreOptions {
            wal: eddy_wal::Options::default(),
            wait_for_durability: true,
            node_limits: NodeLimits::default(),
            idmp: IdmpConfig::default(),
            checkpoint_every_records: 1_000_000,
            checkpoint_every_bytes: 256 << 20,
            clock: Arc::new(SystemClock),
        }
    }
}

/// A condition on the stream for an expected-version append.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Expect {
    /// The stream's last generated ID must be this one.
    LastId(StreamId),
    /// The stream must not exist.
    NoStream,
}

/// Arguments of [`Store::xadd`](crate::Store::xadd).
#[derive(Debug, Clone, Copy)]
pub struct AddArgs<'a> {
    /// How to choose the ID.
    pub id: IdSpec,
    /// Field/value pairs, at least one.
    pub fields: &'a [(&'a [u8], &'a [u8])],
    /// Do not create a missing stream (the call then returns `None`).
    pub nomkstream: bool,
    /// Trim in the same atomic write.
    pub trim: Option<Trim>,
    /// Expected-version condition.
    pub expect: Option<Expect>,
    /// Idempotency key (producer id, message id); requires `IdSpec::Auto`.
    pub idmp: Option<(&'a [u8], &'a [u8])>,
}

impl<'a> AddArgs<'a> {
    /// `XADD key * fields...`.
    pub fn new(fields: &'a [(&'a [u8], &'a [u8])]) -> AddArgs<'a> {
        AddArgs {
            id: IdSpec::Auto,
            fields,
            nomkstream: false,
            trim: None,
            expect: None,
            idmp: None,
        }
    }
    /// With this ID form.
    pub fn id(mut self, id: IdSpec) -> Self {
        self.id = id;
        self
    }
    /// With a trim.
    pub fn trim(mut self, trim: Trim) -> Self {
        self.trim = Some(trim);
        self
    }
    /// With an expected-version condition.
    pub fn expect(mut self, e: Expect) -> Self {
        self.expect = Some(e);
        self
    }
    /// With an idempotency key.
    pub fn idmp(mut self, producer: &'a [u8], message: &'a [u8]) -> Self {
        self.idmp = Some((producer, message));
        self
    }
}

/// One stream's part of an XREAD reply: the key and its new entries.
pub type StreamEntries = (Vec<u8>, Vec<Entry>);

/// What XADD did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Added {
    /// The entry's ID (the original one for a duplicate).
    pub id: StreamId,
    /// The idempotency key was seen before: nothing was written.
    pub duplicate: bool,
}

/// What a checkpoint did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CheckpointInfo {
    /// WAL position covered.
    pub position: u64,
    /// Size of the checkpoint file.
    pub bytes: u64,
    /// WAL segments deleted afterwards.
    pub segments_deleted: usize,
}

/// What opening the store found.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct RecoveryStats {
    /// The checkpoint's position, if one was loaded.
    pub checkpoint: Option<u64>,
    /// Records replayed after it.
    pub records_replayed: u64,
    /// Where replay started.
    pub replay_from: u64,
}
