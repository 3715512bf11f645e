//! Segment files: naming, the fixed header, creation (preallocated, atomically named),
//! opening, and scanning the frames of one segment. Owns the mapping between a
//! position and a file offset. Does not decide policy (what to do with a torn tail is
//! recovery's business, when to roll is the writer's).

use std::fs::File;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};

use crate::io::Io;
use crate::mmap::Map;
use crate::record::{self, BATCH_CONTINUES, Frame};
use crate::{Error, Position, Result};

/// Size of the segment header; the first frame starts right after it.
pub const HEADER_LEN: u64 = 32;
/// First bytes of every segment file.
pub const MAGIC: [u8; 8] = *b"EDDYWAL\0";
/// On-disk format version written in every header.
pub const FORMAT_VERSION: u16 = 1;
/// Extension of a segment file name.
const EXT: &str = ".wal";
/// Suffix of a segment being created; never read, removed on open.
const TMP_SUFFIX: &str = ".tmp";

/// `{base:020}.wal`: zero-padded so that names sort like positions.
pub(crate) fn file_name(base: u64) -> String {
    format!("{base:020}{EXT}")
}

/// The base position encoded in a segment file name, if it is one.
pub(crate) fn parse_file_name(name: &str) -> Option<u64> {
    let digits = name.strip_suffix(EXT)?;
    if digits.len() != 20 || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    digits.parse().ok()
}

/// Whether a file name is a leftover of an interrupted segment creation.
pub(crate) fn is_tmp_name(name: &str) -> bool {
    name.strip_suffix(TMP_SUFFIX)
        .and_then(parse_file_name)
        .is_some()
}

/// Lists the segment files of `dir` as `(base, path)`, sorted by base.
pub(crate) fn list(dir: &Path) -> Result<Vec<(u64, PathBuf)>> {
    let rd = std::fs::read_dir(dir).map_err(|e| Error::io("read_dir", dir, e))?;
    let mut out = Vec::new();
    for entry in rd {
        let entry = entry.map_err(|e| Error::io("read_dir", dir, e))?;
        let name = entry.file_name();
        if let Some(base) = name.to_str().and_then(parse_file_name) {
            out.push((base, entry.path()));
        }
    }
    out.sort_unstable_by_key(|(b, _)| *b);
    Ok(out)
}

/// The 32-byte header of a segment whose first record has position `base`.
pub(crate) fn encode_header(base: u64) -> [u8; HEADER_LEN as usize] {
    let mut h = [0u8; HEADER_LEN as usize];
    h[0..8].copy_from_slice(&MAGIC);
    h[8..10].copy_from_slice(&FORMAT_VERSION.to_le_bytes());
    // 10..16 reserved, zero.
    h[16..24].copy_from_slice(&base.to_le_bytes());
    // 24..28 reserved, zero.
    let crc = crc32fast::hash(&h[0..28]);
    h[28..32].copy_from_slice(&crc.to_le_bytes());
    h
}

/// Checks a header and returns the base position it holds.
pub(crate) fn decode_header(bytes: &[u8], path: &Path) -> Result<u64> {
    let Some(h) = bytes.get(..HEADER_LEN as usize) else {
        return Err(Error::corrupt(
            path,
            0,
            "file shorter than the segment header",
        ));
    };
    if h[0..8] != MAGIC {
        return Err(Error::corrupt(path, 0, "bad magic"));
    }
    let mut crc4 = [0u8; 4];
    crc4.copy_from_slice(&h[28..32]);
    if crc32fast::hash(&h[0..28]) != u32::from_le_bytes(crc4) {
        return Err(Error::corrupt(path, 28, "header checksum mismatch"));
    }
    let version = u16::from_le_bytes([h[8], h[9]]);
    if version != FORMAT_VERSION {
        return Err(Error::corrupt(
            path,
            8,
            format!("unsupported format version {version}"),
        ));
    }
    let mut b8 = [0u8; 8];
    b8.copy_from_slice(&h[16..24]);
    Ok(u64::from_le_bytes(b8))
}

/// One segment file, mapped.
#[derive(Debug)]
pub(crate) struct Segment {
    pub(crate) path: PathBuf,
    /// Position of the first record (the byte right after the header).
    pub(crate) base: u64,
    /// Read-write handle for the writer; read-only for a follower.
    pub(crate) file: File,
    map: Map,
    /// Position after the last record published in this segment. Readers look only
    /// below it (Acquire); the writer stores it after the bytes are written (Release).
    end: AtomicU64,
    /// Set once the writer has moved to the next segment: `end` is final.
    sealed: AtomicBool,
}

/// How far ahead of the records the writer keeps a segment's blocks written
/// with zeros. `fallocate` reserves blocks without writing them, and the
/// first write into such a block makes the next fdatasync also commit the
/// file system's extent change (a journal commit); blocks already written
/// with zeros need only their data flushed. So a new segment starts with its
/// first `ZERO_CHUNK` bytes written, and the writer zeroes the next
/// `ZERO_AHEAD` bytes before the records reach them (once per `ZERO_AHEAD` of
/// log, not per sync). Zeros are what the unwritten blocks read as anyway, so
/// recovery and readers see no difference.
pub(crate) const ZERO_AHEAD: u64 = 1 << 20;

/// Zeros are written from [`ZEROS`] in pieces of this size: a small static
/// (a large one would add its pages to the process's RSS once read, and a
/// large heap buffer would stay in the allocator's heap).
pub(crate) const ZERO_CHUNK: usize = 64 << 10;
pub(crate) static ZEROS: [u8; ZERO_CHUNK] = [0; ZERO_CHUNK];

impl Segment {
    /// Creates, preallocates, syncs and names a new segment, then syncs the directory.
    /// On any failure nothing is left under the final name (a partly created file is
    /// removed), so a full disk is a clean error.
    pub(crate) fn create(io: &dyn Io, dir: &Path, base: u64, size: u64) -> Result<Segment> {
        let path = dir.join(file_name(base));
        let tmp = dir.join(format!("{}{TMP_SUFFIX}", file_name(base)));
        let made = (|| -> Result<File> {
            let file = io
                .create_new(&tmp)
                .map_err(|e| Error::io("create", &tmp, e))?;
            io.allocate(&file, &tmp, size)
                .map_err(|e| Error::io("preallocate", &tmp, e))?;
            // The header and the first stretch of zeros in one write: see
            // `ZERO_AHEAD`.
            let first = size.min(ZERO_CHUNK as u64) as usize;
            let mut head = ZEROS[..first.max(HEADER_LEN as usize)].to_vec();
            head[..HEADER_LEN as usize].copy_from_slice(&encode_header(base));
            io.write_at(&file, &tmp, &head, 0)
                .map_err(|e| Error::io("write header", &tmp, e))?;
            io.sync_data(&file, &tmp)
                .map_err(|e| Error::io("fdatasync", &tmp, e))?;
            io.rename(&tmp, &path)
                .map_err(|e| Error::io("rename", &tmp, e))?;
            Ok(file)
        })();
        let file = match made {
            Ok(f) => f,
            Err(e) => {
                // Best effort: the error that matters is the one being returned.
                let _ = io.remove_file(&tmp);
                return Err(e);
            }
        };
        let named = io
            .sync_dir(dir)
            .map_err(|e| Error::io("fsync dir", dir, e))
            .and_then(|()| Map::of(&file).map_err(|e| Error::io("mmap", &path, e)));
        let map = match named {
            Ok(m) => m,
            Err(e) => {
                // Best effort, as above; the writer also refuses to append to the
                // previous segment after a failed roll (see `WriterState::must_roll`).
                let _ = io.remove_file(&path);
                let _ = io.sync_dir(dir);
                return Err(e);
            }
        };
        Ok(Segment {
            path,
            base,
            file,
            map,
            end: AtomicU64::new(base),
            sealed: AtomicBool::new(false),
        })
    }

    /// Opens an existing segment, read-write through `io` (writer) or read-only
    /// (`io == None`, follower), and checks its header against the name's base.
    pub(crate) fn open(io: Option<&dyn Io>, path: &Path, base: u64) -> Result<Segment> {
        let file = match io {
            Some(io) => io.open_rw(path),
            None => File::open(path),
        }
        .map_err(|e| Error::io("open", path, e))?;
        let map = Map::of(&file).map_err(|e| Error::io("mmap", path, e))?;
        let in_header = decode_header(map.bytes(), path)?;
        if in_header != base {
            return Err(Error::corrupt(
                path,
                16,
                format!("header base {in_header} does not match the file name"),
            ));
        }
        Ok(Segment {
            path: path.to_path_buf(),
            base,
            file,
            map,
            end: AtomicU64::new(base),
            sealed: AtomicBool::new(false),
        })
    }

    pub(crate) fn bytes(&self) -> &[u8] {
        self.map.bytes()
    }

    pub(crate) fn file_len(&self) -> u64 {
        self.bytes().len() as u64
    }

    /// File offset of a position held by this segment.
    pub(crate) fn offset_of(&self, pos: u64) -> u64 {
        HEADER_LEN + (pos - self.base)
    }

    /// Position of a file offset.
    pub(crate) fn pos_of(&self, offset: u64) -> u64 {
        self.base + (offset - HEADER_LEN)
    }

    pub(crate) fn end(&self) -> u64 {
        self.end.load(Ordering::Acquire)
    }

    pub(crate) fn set_end(&self, end: u64) {
        self.end.store(end, Ordering::Release);
    }

    pub(crate) fn is_sealed(&self) -> bool {
        self.sealed.load(Ordering::Acquire)
    }

    pub(crate) fn seal(&self) {
        self.sealed.store(true, Ordering::Release);
    }

    /// Decodes the frame starting at position `pos` of this segment.
    pub(crate) fn frame_at(&self, pos: u64) -> Frame {
        match usize::try_from(self.offset_of(pos)) {
            Ok(off) => record::decode(self.bytes(), off),
            Err(_) => Frame::End,
        }
    }

    /// Scans the frames of this segment from its first record.
    pub(crate) fn scan(&self) -> Scan {
        scan(self.bytes(), HEADER_LEN as usize)
    }

    pub(crate) fn info(&self) -> crate::SegmentInfo {
        crate::SegmentInfo {
            path: self.path.clone(),
            base: Position(self.base),
            end: Position(self.end()),
            file_len: self.file_len(),
        }
    }
}

/// Why a scan stopped.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Stop {
    /// End marker (zeroed header) or end of file, with no batch open.
    Clean,
    /// End marker reached inside a batch: the batch was never completed.
    TornBatch,
    /// A frame failed a check.
    Bad { offset: usize, reason: &'static str },
}

/// Result of scanning a segment's frames.
#[derive(Debug, Clone)]
pub(crate) struct Scan {
    /// File offset just after the last complete record (or batch).
    pub(crate) valid_end: usize,
    /// Complete records before `valid_end`.
    pub(crate) records: u64,
    pub(crate) stop: Stop,
}

/// Scans frames from file offset `from` until the end marker or a bad frame. A batch
/// counts only once its last frame (without the continue bit) is valid.
pub(crate) fn scan(bytes: &[u8], from: usize) -> Scan {
    let mut off = from;
    let mut valid_end = from;
    let mut records = 0;
    let mut pending = 0;
    let mut in_batch = false;
    loop {
        match record::decode(bytes, off) {
            Frame::Record { kind_raw, next, .. } => {
                pending += 1;
                in_batch = kind_raw & BATCH_CONTINUES != 0;
                if !in_batch {
                    records += pending;
                    pending = 0;
                    valid_end = next;
                }
                off = next;
            }
            Frame::End => {
                let stop = if in_batch {
                    Stop::TornBatch
                } else {
                    Stop::Clean
                };
                return Scan {
                    valid_end,
                    records,
                    stop,
                };
            }
            Frame::Bad(reason) => {
                return Scan {
                    valid_end,
                    records,
                    stop: Stop::Bad {
                        offset: off,
                        reason,
                    },
                };
            }
        }
    }
}

/// Offset just after the last non-zero byte at or after `from` (or `from` if none).
pub(crate) fn nonzero_end(bytes: &[u8], from: usize) -> usize {
    const CHUNK: usize = 64 * 1024;
    let tail = bytes.get(from..).unwrap_or(&[]);
    let mut end = tail.len();
    while end > 0 {
        let start = end.saturating_sub(CHUNK);
        let chunk = &tail[start..end];
        // An OR over the whole chunk has no early exit and so vectorizes; it is
        // much faster than `any` on the long zero tails recovery checks.
        if chunk.iter().fold(0u8, |acc, &b| acc | b) != 0 {
            let last = chunk.iter().rposition(|&b| b != 0).unwrap_or(0);
            return from + start + last + 1;
        }
        end = start;
    }
    from
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip_and_sort() {
        assert_eq!(file_name(42), "00000000000000000042.wal");
        assert_eq!(parse_file_name(&file_name(u64::MAX)), Some(u64::MAX));
        assert_eq!(parse_file_name("42.wal"), None);
        assert_eq!(parse_file_name("0000000000000000004x.wal"), None);
        assert!(is_tmp_name("00000000000000000042.wal.tmp"));
        assert!(!is_tmp_name("LOCK"));
    }

    #[test]
    fn header_round_trip_and_checks() -> Result<()> {
        let p = Path::new("x.wal");
        let h = encode_header(123_456);
        assert_eq!(decode_header(&h, p)?, 123_456);
        for i in 0..h.len() {
            let mut bad = h;
            bad[i] ^= 0x10;
            assert!(decode_header(&bad, p).is_err(), "flip at {i} not caught");
        }
        assert!(decode_header(&h[..10], p).is_err());
        Ok(())
    }

    #[test]
    fn nonzero_end_finds_last_byte() {
        let mut b = vec![0u8; 200_000];
        assert_eq!(nonzero_end(&b, 10), 10);
        b[70_000] = 1;
        assert_eq!(nonzero_end(&b, 10), 70_001);
        assert_eq!(nonzero_end(&b, 80_000), 80_000);
    }
}
