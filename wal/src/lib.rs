//! eddy-wal: a segmented, memory-mapped, checksummed append-only log of opaque records.
//!
//! A record is `(kind: u8, payload: &[u8])` with `kind <= MAX_KIND`. [`Wal::append`]
//! returns the record's [`Position`], a byte offset in the logical log; reads are
//! zero-copy from a memory map ([`Wal::read_at`], [`Wal::reader`]). Durability follows
//! a [`FsyncPolicy`] named like Redis's `appendfsync`; under `always`, concurrent
//! appenders share one fdatasync (group commit). Another process can follow the log
//! read-only with [`Follower`]. The byte layout is in `docs/format.md`.
//!
//! The crate knows nothing of streams, RESP, tokio or the engine.

mod error;
mod fault;
mod follower;
mod io;
mod mmap;
mod reader;
mod record;
mod recovery;
mod segment;
mod writer;

use std::fmt;
use std::path::PathBuf;
use std::str::FromStr;
use std::sync::Arc;

pub use error::{Error, Result};
pub use fault::FaultIo;
pub use follower::{Follower, SegmentCheck, VerifyReport};
pub use io::{Io, RealIo};
pub use reader::{Reader, RecordRef};
pub use record::{FRAME_HEADER_LEN, MAX_KIND, MAX_RECORD_LEN};
pub use segment::{FORMAT_VERSION, HEADER_LEN as SEGMENT_HEADER_LEN, MAGIC};
pub use writer::Wal;

/// Byte offset in the logical log. Segments are contiguous: a segment's base position
/// is the previous segment's base plus the bytes of records it holds (headers are not
/// counted). A record's position is where its frame starts.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct Position(pub u64);

impl fmt::Display for Position {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

impl FromStr for Position {
    type Err = std::num::ParseIntError;
    fn from_str(s: &str) -> std::result::Result<Self, Self::Err> {
        s.parse().map(Position)
    }
}

/// When appended records are made durable; the names are those of Redis's
/// `appendfsync`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Default)]
pub enum FsyncPolicy {
    /// `append` returns only once the record is durable (group commit).
    Always,
    /// A background thread syncs once a second.
    #[default]
    EverySec,
    /// The WAL never syncs on its own (the OS writes back when it likes); `sync`,
    /// `wait_durable` and `close` still do.
    No,
}

impl FsyncPolicy {
    fn as_u8(self) -> u8 {
        match self {
            FsyncPolicy::Always => 0,
            FsyncPolicy::EverySec => 1,
            FsyncPolicy::No => 2,
        }
    }

    fn from_u8(v: u8) -> FsyncPolicy {
        match v {
            0 => FsyncPolicy::Always,
            1 => FsyncPolicy::EverySec,
            _ => FsyncPolicy::No,
        }
    }
}

impl fmt::Display for FsyncPolicy {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            FsyncPolicy::Always => "always",
            FsyncPolicy::EverySec => "everysec",
            FsyncPolicy::No => "no",
        })
    }
}

/// Error of parsing a [`FsyncPolicy`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid fsync policy {0:?} (expected always, everysec or no)")]
pub struct ParsePolicyError(pub String);

impl FromStr for FsyncPolicy {
    type Err = ParsePolicyError;
    fn from_str(s: &str) -> std::result::Result<Self, Self::Err> {
        match s.to_ascii_lowercase().as_str() {
            "always" => Ok(FsyncPolicy::Always),
            "everysec" => Ok(FsyncPolicy::EverySec),
            "no" => Ok(FsyncPolicy::No),
            _ => Err(ParsePolicyError(s.to_string())),
        }
    }
}

/// What recovery on open may cut.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Default)]
pub enum RecoveryMode {
    /// Cut a torn or corrupt tail of the last segment only; corruption in an earlier
    /// segment is `Error::Corrupt`.
    #[default]
    Strict,
    /// Also cut earlier segments at their first corruption, report it and go on (the
    /// records after the cut in that segment are lost; positions then have a gap).
    Tolerant,
}

/// Options of [`Wal::open`].
#[derive(Clone, Debug)]
pub struct Options {
    /// Size of each segment file, header included (default 64 MiB). Applies to
    /// segments created from now on.
    pub segment_size: u64,
    /// Initial fsync policy (default `everysec`); see [`Wal::set_fsync_policy`].
    pub fsync: FsyncPolicy,
    /// What recovery may cut (default `Strict`).
    pub recovery: RecoveryMode,
    /// Log position below which the caller already holds what the records say (a
    /// checkpoint covers them; default 0). `Strict` recovery does not scan a segment
    /// that is followed by another one starting at or below this position: its end is
    /// the next segment's base, so opening reads only the tail of a long log. Its
    /// records are still CRC-checked whenever they are read. `Tolerant` recovery
    /// ignores this, as it must find every cut.
    pub covered_below: u64,
    /// The file-system seam (default the real file system).
    pub io: Arc<dyn Io>,
}

/// Smallest accepted `segment_size`.
pub const MIN_SEGMENT_SIZE: u64 = 4096;
/// Largest accepted `segment_size` (1 TiB), far below what a u64 position can address.
pub const MAX_SEGMENT_SIZE: u64 = 1 << 40;
/// Default `segment_size`.
pub const DEFAULT_SEGMENT_SIZE: u64 = 64 << 20;

impl Default for Options {
    fn default() -> Self {
        Options {
            segment_size: DEFAULT_SEGMENT_SIZE,
            fsync: FsyncPolicy::default(),
            recovery: RecoveryMode::default(),
            covered_below: 0,
            io: Arc::new(RealIo),
        }
    }
}

/// One segment file as listed by [`Wal::segments`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SegmentInfo {
    /// The file.
    pub path: PathBuf,
    /// Position of its first record.
    pub base: Position,
    /// Position after its last record.
    pub end: Position,
    /// Size of the file (preallocated, so constant).
    pub file_len: u64,
}

/// What recovery cut when the WAL was opened.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct RecoveryReport {
    /// One entry per cut.
    pub truncations: Vec<Truncation>,
}

/// A cut made by recovery: the bytes from `offset` on were torn or corrupt and are
/// now zeros.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Truncation {
    /// The segment file.
    pub segment: PathBuf,
    /// File offset of the cut (the end of the last complete record or batch).
    pub offset: u64,
    /// Non-zero bytes that were after the cut and are now zeroed.
    pub bytes_dropped: u64,
    /// Why: which check the first dropped frame failed.
    pub reason: String,
}
