//! Engine errors. `Display` is exactly the Redis error line without the
//! leading `-`, so the server sends `-{err}` and the embedded API reads the
//! same text. Extensions use the same style (a code word, then a sentence).

use std::path::PathBuf;

use crate::stream::StreamId;

/// Errors of the engine (`Store` and below).
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The key holds another type of value.
    #[error("WRONGTYPE Operation against a key holding the wrong kind of value")]
    WrongType,
    /// XINFO, XSETID, XCFGSET, RENAME on a missing key.
    #[error("ERR no such key")]
    NoSuchKey,
    /// A malformed ID argument.
    #[error("ERR Invalid stream ID specified as stream command argument")]
    InvalidStreamId,
    /// An exclusive start bound that cannot be incremented.
    #[error("ERR invalid start ID for the interval")]
    InvalidStartInterval,
    /// An exclusive end bound that cannot be decremented.
    #[error("ERR invalid end ID for the interval")]
    InvalidEndInterval,
    /// XADD with an ID not above the stream's last generated ID.
    #[error("ERR The ID specified in XADD is equal or smaller than the target stream top item")]
    IdNotIncreasing,
    /// XADD with the explicit ID `0-0`.
    #[error("ERR The ID specified in XADD must be greater than 0-0")]
    IdZero,
    /// The last generated ID is the maximum ID.
    #[error("ERR The stream has exhausted the last possible ID, unable to add more items")]
    IdExhausted,
    /// The fields and values of one entry exceed 1 GiB.
    #[error("ERR Elements are too large to be stored")]
    TooLarge,
    /// XADD without field/value pairs.
    #[error("ERR wrong number of arguments for 'xadd' command")]
    NoFields,
    /// LIMIT given with an exact (`=`) trim.
    #[error("ERR syntax error, LIMIT cannot be used without the special ~ option")]
    LimitWithoutApprox,
    /// XSETID: below the stream's last live entry.
    #[error("ERR The ID specified in XSETID is smaller than the target stream top item")]
    XsetidBelowTop,
    /// XSETID: below the MAXDELETEDID given.
    #[error("ERR The ID specified in XSETID is smaller than the provided max_deleted_entry_id")]
    XsetidBelowGivenMaxDeleted,
    /// XSETID: ENTRIESADDED below the stream length.
    #[error("ERR The entries_added specified in XSETID is smaller than the target stream length")]
    XsetidEntriesAdded,
    /// Idempotency window duration out of 1..=86400 seconds.
    #[error("ERR invalid duration")]
    InvalidIdmpDuration,
    /// Idempotency window size out of 1..=10000 entries.
    #[error("ERR invalid maxsize")]
    InvalidIdmpMaxSize,
    /// An idempotency key with an ID other than `*`.
    #[error("ERR IDMP can be used only with the * ID")]
    IdmpNeedsAutoId,
    /// An idempotency key with an empty producer or message id.
    #[error("ERR IDMP producer id and idempotent id must not be empty")]
    IdmpEmpty,
    /// Expected-version append: the stream's last ID differs.
    #[error("VERSIONCONFLICT expected last ID {expected} but the stream's last ID is {actual}")]
    VersionConflict {
        /// What the writer expected.
        expected: StreamId,
        /// The stream's actual last generated ID.
        actual: StreamId,
    },
    /// Expected-version append: the stream was expected to exist.
    #[error("VERSIONCONFLICT expected last ID {expected} but the stream does not exist")]
    VersionConflictMissing {
        /// What the writer expected.
        expected: StreamId,
    },
    /// Expected-version append: the stream was expected not to exist.
    #[error("VERSIONCONFLICT expected no stream but the stream's last ID is {actual}")]
    VersionConflictExists {
        /// The stream's actual last generated ID.
        actual: StreamId,
    },
    /// XREADGROUP on a missing key or group.
    #[error(
        "NOGROUP No such key '{key}' or consumer group '{group}' in XREADGROUP with GROUP option"
    )]
    NoGroupRead {
        /// The key, as the client sent it.
        key: String,
        /// The group name.
        group: String,
    },
    /// XPENDING, XCLAIM, XAUTOCLAIM, XACKDEL on a missing key or group.
    #[error("NOGROUP No such key '{key}' or consumer group '{group}'")]
    NoGroup {
        /// The key.
        key: String,
        /// The group name.
        group: String,
    },
    /// XGROUP SETID / CREATECONSUMER / DELCONSUMER, XINFO CONSUMERS on a
    /// missing group.
    #[error("NOGROUP No such consumer group '{group}' for key name '{key}'")]
    NoSuchGroup {
        /// The key.
        key: String,
        /// The group name.
        group: String,
    },
    /// XGROUP on a missing key (CREATE without MKSTREAM included).
    #[error(
        "ERR The XGROUP subcommand requires the key to exist. Note that for CREATE you may want to use the MKSTREAM option to create an empty stream automatically."
    )]
    XgroupNoKey,
    /// XGROUP CREATE of a group that exists.
    #[error("BUSYGROUP Consumer Group name already exists")]
    BusyGroup,
    /// ENTRIESREAD below -1.
    #[error("ERR value for ENTRIESREAD must be positive or -1")]
    EntriesReadInvalid,
    /// `$` as an XREADGROUP ID.
    #[error(
        "ERR The $ ID is meaningless in the context of XREADGROUP: you want to read the history of this consumer by specifying a proper ID, or use the > ID to get new messages. The $ ID would just return an empty result set."
    )]
    DollarInXreadgroup,
    /// A min-idle-time that is not an integer.
    #[error("ERR Invalid min-idle-time argument for {command}")]
    InvalidMinIdle {
        /// `XCLAIM` or `XAUTOCLAIM`.
        command: &'static str,
    },
    /// An XCLAIM option value that is not an integer.
    #[error("ERR Invalid {option} option argument for XCLAIM")]
    InvalidXclaimOption {
        /// `IDLE`, `TIME` or `RETRYCOUNT`.
        option: &'static str,
    },
    /// An XCLAIM option it does not know.
    #[error("ERR Unrecognized XCLAIM option '{0}'")]
    UnrecognizedXclaimOption(String),
    /// XAUTOCLAIM COUNT below 1 (or too large).
    #[error("ERR COUNT must be > 0")]
    CountNotPositive,
    /// A dead-letter stream equal to the group's own stream.
    #[error("ERR the dead-letter stream must differ from the group's stream")]
    DeadLetterSelf,
    /// A dead-letter policy with a maximum of 0 deliveries.
    #[error("ERR max-deliveries must be > 0")]
    MaxDeliveriesZero,
    /// A batch larger than one record can hold.
    #[error("ERR batch too large: at most {max} entries per stream in one batch")]
    BatchTooLarge {
        /// The most entries allowed.
        max: usize,
    },
    /// A previous write failed after the log may have changed; the store
    /// refuses writes until it is reopened.
    #[error("ERR store refuses writes after a failed write-ahead log append; reopen it")]
    Poisoned,
    /// The write-ahead log failed.
    #[error("ERR write-ahead log: {0}")]
    Wal(#[from] eddy_wal::Error),
    /// Reading or writing the checkpoint failed.
    #[error("ERR checkpoint {path}: {source}")]
    CheckpointIo {
        /// The file.
        path: PathBuf,
        /// The I/O error.
        #[source]
        source: std::io::Error,
    },
    /// The view builder thread could not be started.
    #[error("ERR cannot start the view builder thread: {0}")]
    Builder(#[source] std::io::Error),
    /// The checkpoint file is damaged or of an unknown version.
    #[error("ERR checkpoint {path} is invalid: {reason}")]
    CheckpointInvalid {
        /// The file.
        path: PathBuf,
        /// What is wrong.
        reason: String,
    },
    /// A record the engine wrote does not decode.
    #[error("ERR corrupt engine record: {0}")]
    Corrupt(&'static str),
    /// A record kind this engine does not know.
    #[error("ERR unknown engine record kind {0}")]
    UnknownRecord(u8),
    /// A `denyoom` command while used memory is over maxmemory.
    #[error("OOM command not allowed when used memory > 'maxmemory'.")]
    Oom,
    /// VIEW.CREATE with a name already in use.
    #[error("ERR view '{0}' already exists")]
    ViewExists(String),
    /// VIEW.INFO / VIEW.REBUILD of an unknown view.
    #[error("ERR no such view '{0}'")]
    NoSuchView(String),
    /// A write to a key that a view derives.
    #[error(
        "ERR key '{key}' belongs to view '{view}': view keys are derived from their stream and read-only (VIEW.DROP removes them)"
    )]
    ViewKey {
        /// The key written to.
        key: String,
        /// The view that owns it.
        view: String,
    },
    /// The log does not reach back to where recovery must start.
    #[error("ERR write-ahead log starts at {start} but recovery needs it from {needed}")]
    LogGap {
        /// First position the WAL holds.
        start: u64,
        /// Position recovery needed.
        needed: u64,
    },
}

impl Error {
    /// `NOGROUP ... in XREADGROUP with GROUP option`.
    pub fn no_group_read(key: &[u8], group: &[u8]) -> Error {
        Error::NoGroupRead {
            key: lossy(key),
            group: lossy(group),
        }
    }
    /// `NOGROUP No such key 'k' or consumer group 'g'`.
    pub fn no_group(key: &[u8], group: &[u8]) -> Error {
        Error::NoGroup {
            key: lossy(key),
            group: lossy(group),
        }
    }
    /// `NOGROUP No such consumer group 'g' for key name 'k'`.
    pub fn no_such_group(key: &[u8], group: &[u8]) -> Error {
        Error::NoSuchGroup {
            key: lossy(key),
            group: lossy(group),
        }
    }
    /// The error for a write to `key`, owned by the view `view`.
    pub fn view_key(key: &[u8], view: &[u8]) -> Error {
        Error::ViewKey {
            key: lossy(key),
            view: lossy(view),
        }
    }

    pub(crate) fn corrupt(reason: &'static str) -> Error {
        Error::Corrupt(reason)
    }
}

fn lossy(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

/// Engine result type.
pub type Result<T, E = Error> = std::result::Result<T, E>;
