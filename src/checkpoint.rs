//! Checkpoints: a postcard snapshot of the whole engine state and the WAL
//! position it covers, written atomically (temp file, fsync, rename, fsync
//! of the directory) behind a header with a magic, a version and a CRC.
//!
//! ```text
//! magic "EDDYCKPT" (8) | version u16 LE | reserved u16 | position u64 LE
//! | payload length u64 LE | crc32 u32 LE (over version..length, then payload) | payload
//! ```
//!
//! The payload keeps each stream's block index as one packed byte string
//! (see [`Blocks`](crate::stream::index::Blocks)), so loading a checkpoint
//! copies it without decoding it; version 2, where blocks are inline, is
//! still read.
//!
//! This module only reads and writes the file; deciding when to checkpoint
//! and which segments may then go is the `Store`'s job.

use std::fs::{self, File};
use std::io::Write;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::error::Error;
use crate::keyspace::Keyspace;
use crate::views::ViewSnap;

const MAGIC: &[u8; 8] = b"EDDYCKPT";
/// 2: views carry their state and evicted units their record positions.
/// 3: each stream's blocks are one packed byte string, decoded on first use,
/// and every block carries its hints (sub-positions).
const VERSION: u16 = 3;
/// The previous version, still read: its streams hold their blocks inline,
/// and are decoded in full on load.
const VERSION_INLINE_BLOCKS: u16 = 2;
const HEADER: usize = 8 + 2 + 2 + 8 + 8 + 4;
/// File name inside the store directory.
pub const FILE_NAME: &str = "checkpoint";
const TMP_NAME: &str = "checkpoint.tmp";

/// The persisted engine state.
#[derive(Debug, Default, Deserialize)]
pub struct Snapshot {
    /// All keys and their values.
    pub keyspace: Keyspace,
    /// Views: spec, data and the last source ID each one applied.
    pub views: Vec<ViewSnap>,
}

/// The same state, borrowed for writing (same serialized form).
#[derive(Debug, Serialize)]
pub struct SnapshotRef<'a> {
    /// All keys and their values.
    pub keyspace: &'a Keyspace,
    /// Views.
    pub views: &'a [ViewSnap],
}

/// Serializes a snapshot covering the log up to `position` (exclusive).
pub fn encode(snapshot: &SnapshotRef<'_>, position: u64) -> Result<Vec<u8>, Error> {
    encode_as(snapshot, position, VERSION)
}

/// [`encode`] with a given version number in the header (tests write the
/// previous version this way).
fn encode_as(snapshot: &SnapshotRef<'_>, position: u64, version: u16) -> Result<Vec<u8>, Error> {
    let payload = postcard::to_stdvec(snapshot).map_err(|e| Error::CheckpointInvalid {
        path: PathBuf::new(),
        reason: e.to_string(),
    })?;
    let mut out = Vec::with_capacity(HEADER + payload.len());
    out.extend_from_slice(MAGIC);
    out.extend_from_slice(&version.to_le_bytes());
    out.extend_from_slice(&0u16.to_le_bytes());
    out.extend_from_slice(&position.to_le_bytes());
    out.extend_from_slice(&(payload.len() as u64).to_le_bytes());
    let mut crc = crc32fast::Hasher::new();
    crc.update(&out[8..28]);
    crc.update(&payload);
    out.extend_from_slice(&crc.finalize().to_le_bytes());
    out.extend_from_slice(&payload);
    Ok(out)
}

/// Writes an encoded checkpoint into `dir` atomically.
pub fn write(dir: &Path, bytes: &[u8]) -> Result<(), Error> {
    let tmp = dir.join(TMP_NAME);
    let dst = dir.join(FILE_NAME);
    let io = |path: &Path| {
        let path = path.to_path_buf();
        move |source| Error::CheckpointIo { path, source }
    };
    let mut f = File::create(&tmp).map_err(io(&tmp))?;
    f.write_all(bytes).map_err(io(&tmp))?;
    f.sync_all().map_err(io(&tmp))?;
    drop(f);
    fs::rename(&tmp, &dst).map_err(io(&dst))?;
    File::open(dir)
        .and_then(|d| d.sync_all())
        .map_err(io(dir))?;
    Ok(())
}

/// Reads the checkpoint in `dir`, if there is one: the snapshot and the
/// position it covers.
pub fn read(dir: &Path) -> Result<Option<(Snapshot, u64)>, Error> {
    let path = dir.join(FILE_NAME);
    let bytes = match fs::read(&path) {
        Ok(b) => b,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(source) => return Err(Error::CheckpointIo { path, source }),
    };
    decode(&bytes)
        .map(Some)
        .map_err(|reason| Error::CheckpointInvalid { path, reason })
}

fn decode(bytes: &[u8]) -> Result<(Snapshot, u64), String> {
    if bytes.len() < HEADER {
        return Err(format!(
            "file of {} bytes is shorter than the header",
            bytes.len()
        ));
    }
    if &bytes[..8] != MAGIC {
        return Err("bad magic".into());
    }
    let u16_at = |i: usize| u16::from_le_bytes([bytes[i], bytes[i + 1]]);
    let u64_at = |i: usize| {
        let mut b = [0u8; 8];
        b.copy_from_slice(&bytes[i..i + 8]);
        u64::from_le_bytes(b)
    };
    let version = u16_at(8);
    if version != VERSION && version != VERSION_INLINE_BLOCKS {
        return Err(format!(
            "unsupported version {version} (this build reads {VERSION_INLINE_BLOCKS} and {VERSION})"
        ));
    }
    let position = u64_at(12);
    let len = u64_at(20);
    let mut crc_b = [0u8; 4];
    crc_b.copy_from_slice(&bytes[28..32]);
    let stored = u32::from_le_bytes(crc_b);
    let payload = &bytes[HEADER..];
    if payload.len() as u64 != len {
        return Err(format!(
            "payload is {} bytes, header says {len}",
            payload.len()
        ));
    }
    let mut crc = crc32fast::Hasher::new();
    crc.update(&bytes[8..28]);
    crc.update(payload);
    if crc.finalize() != stored {
        return Err("checksum mismatch".into());
    }
    let snapshot = if version == VERSION_INLINE_BLOCKS {
        crate::stream::index::with_inline_blocks(|| postcard::from_bytes(payload))
    } else {
        postcard::from_bytes(payload)
    }
    .map_err(|e| e.to_string())?;
    Ok((snapshot, position))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::stream::StreamId;
    use crate::stream::index::with_inline_blocks;

    #[test]
    fn round_trips_and_detects_damage() -> Result<(), Error> {
        let dir = tempfile::tempdir().map_err(|source| Error::CheckpointIo {
            path: PathBuf::from("tmp"),
            source,
        })?;
        assert!(read(dir.path())?.is_none());
        let ks = Keyspace::default();
        let bytes = encode(
            &SnapshotRef {
                keyspace: &ks,
                views: &[],
            },
            1234,
        )?;
        write(dir.path(), &bytes)?;
        let (snap, pos) = read(dir.path())?.ok_or(Error::NoSuchKey)?;
        assert_eq!(pos, 1234);
        assert!(snap.keyspace.is_empty());
        for i in 0..bytes.len() {
            let mut bad = bytes.clone();
            bad[i] ^= 0x40;
            assert!(decode(&bad).is_err(), "flip at {i} accepted");
        }
        assert!(decode(&bytes[..bytes.len() - 1]).is_err());
        Ok(())
    }

    /// A version-2 checkpoint (blocks inline) of a multi-block stream with a
    /// group still opens, answers the same, and is rewritten as version 3.
    #[test]
    fn reads_version_2() -> Result<(), Error> {
        use crate::group::{GroupStart, ReadFrom};
        use crate::stream::{IdRange, NodeLimits};
        use crate::{AddArgs, Store, StoreOptions};
        let dir = tempfile::tempdir().map_err(|source| Error::CheckpointIo {
            path: PathBuf::from("tmp"),
            source,
        })?;
        let opts = || StoreOptions {
            node_limits: NodeLimits {
                max_bytes: 4096,
                max_entries: 4,
            },
            checkpoint_every_records: 0,
            checkpoint_every_bytes: 0,
            ..StoreOptions::default()
        };
        let s = Store::open(dir.path(), opts())?;
        let f: [(&[u8], &[u8]); 1] = [(b"k", b"v")];
        for _ in 0..50 {
            s.xadd(b"s", &AddArgs::new(&f))?;
        }
        s.xgroup_create(b"s", b"g", GroupStart::Id(StreamId::MIN), false, None)?;
        s.xreadgroup(b"g", b"c", &[(b"s", ReadFrom::New)], Some(7), false)?;
        let entries = format!("{:?}", s.xrange(b"s", IdRange::ALL, None)?);
        let pending = s.xpending_summary(b"s", b"g")?;
        let bytes = {
            let eng = s.lock();
            let views = eng.views.snapshot();
            let snap = SnapshotRef {
                keyspace: &eng.keyspace,
                views: &views,
            };
            with_inline_blocks(|| encode_as(&snap, s.log_end(), VERSION_INLINE_BLOCKS))?
        };
        s.close()?;
        write(dir.path(), &bytes)?;
        let s = Store::open(dir.path(), opts())?;
        assert_eq!(s.recovery_stats().records_replayed, 0);
        assert_eq!(
            format!("{:?}", s.xrange(b"s", IdRange::ALL, None)?),
            entries
        );
        assert_eq!(s.xpending_summary(b"s", b"g")?, pending);
        s.checkpoint()?;
        s.close()?;
        let raw = fs::read(dir.path().join(FILE_NAME)).map_err(|source| Error::CheckpointIo {
            path: dir.path().into(),
            source,
        })?;
        assert_eq!(u16::from_le_bytes([raw[8], raw[9]]), VERSION);
        let s = Store::open(dir.path(), opts())?;
        assert_eq!(
            format!("{:?}", s.xrange(b"s", IdRange::ALL, None)?),
            entries
        );
        Ok(())
    }
}
