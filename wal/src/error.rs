//! The crate's error type. Every variant carries the context needed to act on it
//! (which file, which offset, which limit); no variant wraps a bare string of prose
//! except the `reason` of a corruption, which names what check failed.

use std::path::PathBuf;

use crate::Position;

/// Errors returned by the WAL.
#[non_exhaustive]
#[derive(thiserror::Error, Debug)]
pub enum Error {
    /// An operating-system call failed.
    #[error("{op} {path}: {source}")]
    Io {
        /// The operation that failed (`"open"`, `"fdatasync"`, `"write"`...).
        op: &'static str,
        /// The file or directory it was applied to.
        path: PathBuf,
        /// The underlying error.
        #[source]
        source: std::io::Error,
    },
    /// Another `Wal` (in this process or another one) holds the directory's `LOCK`.
    #[error("WAL directory {dir} is locked by another process")]
    Locked {
        /// The WAL directory.
        dir: PathBuf,
    },
    /// Data on disk failed a check (magic, version, checksum, length, continuity).
    #[error("corrupt WAL segment {segment} at offset {offset}: {reason}")]
    Corrupt {
        /// The segment file.
        segment: PathBuf,
        /// Byte offset inside that file.
        offset: u64,
        /// Which check failed.
        reason: String,
    },
    /// A record's payload is longer than the WAL accepts.
    #[error("record of {len} bytes exceeds the maximum of {max} bytes")]
    RecordTooLarge {
        /// Payload length asked for.
        len: usize,
        /// The largest payload accepted (the smaller of `MAX_RECORD_LEN` and what fits
        /// in one segment).
        max: usize,
    },
    /// A batch does not fit in one segment (batches never span segments).
    #[error("batch of {len} framed bytes exceeds the segment capacity of {max} bytes")]
    BatchTooLarge {
        /// Framed size of the whole batch.
        len: u64,
        /// Bytes available for records in one segment.
        max: u64,
    },
    /// A record kind above `MAX_KIND`: the top bit is reserved for batch framing.
    #[error("record kind {0} is out of range (0..=127)")]
    InvalidKind(u8),
    /// An earlier write or fsync failed: the WAL refuses writes until it is reopened,
    /// because what reached the disk is no longer known.
    #[error("the WAL is poisoned by an earlier I/O failure; reopen it")]
    Poisoned,
    /// No record is held at that position (before `start()` or at/after `end()`).
    #[error("position {pos} is out of range")]
    OutOfRange {
        /// The position asked for.
        pos: Position,
    },
    /// `Options::segment_size` outside the accepted range.
    #[error("segment size {size} is out of range ({min}..={max})")]
    InvalidSegmentSize {
        /// The size asked for.
        size: u64,
        /// Smallest accepted size.
        min: u64,
        /// Largest accepted size.
        max: u64,
    },
}

/// The crate's result type.
pub type Result<T> = std::result::Result<T, Error>;

impl Error {
    pub(crate) fn io(op: &'static str, path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        Error::Io {
            op,
            path: path.into(),
            source,
        }
    }

    pub(crate) fn corrupt(
        segment: impl Into<PathBuf>,
        offset: u64,
        reason: impl Into<String>,
    ) -> Self {
        Error::Corrupt {
            segment: segment.into(),
            offset,
            reason: reason.into(),
        }
    }
}
