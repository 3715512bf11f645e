//! Recovery on open: find the segments, check headers and continuity, scan every
//! frame, cut what may be cut (zeroing it and syncing, with a report and a `tracing`
//! warning) and fail on what may not. Owns the Strict/Tolerant rules. Does not write
//! records.
//!
//! Why the cut bytes are zeroed rather than the file truncated: segments keep their
//! preallocated size (a full disk can never surprise a later append), and a stale frame
//! after the cut could otherwise come back to life if a later append happened to end
//! exactly where it starts.

use std::path::Path;
use std::sync::Arc;

use crate::io::Io;
use crate::segment::{self, HEADER_LEN, Scan, Segment, Stop};
use crate::{Error, RecoveryMode, RecoveryReport, Result, Truncation};

/// Opens and checks every segment of `dir` (creating the first one if there is none).
/// Returns the segments, oldest first, each with its end set and all but the last
/// sealed. Under `Strict`, a segment followed by one whose base is at or below
/// `covered_below` is not scanned (see [`Options::covered_below`](crate::Options)).
pub(crate) fn recover(
    dir: &Path,
    io: &dyn Io,
    segment_size: u64,
    mode: RecoveryMode,
    covered_below: u64,
) -> Result<(Vec<Arc<Segment>>, RecoveryReport)> {
    remove_leftovers(dir, io)?;
    let listed = segment::list(dir)?;
    let mut report = RecoveryReport::default();
    if listed.is_empty() {
        let seg = Segment::create(io, dir, 0, segment_size)?;
        return Ok((vec![Arc::new(seg)], report));
    }
    let mut segments: Vec<Arc<Segment>> = Vec::with_capacity(listed.len());
    let last_index = listed.len() - 1;
    let mut prev_end: Option<u64> = None;
    let next_bases: Vec<Option<u64>> = (0..listed.len())
        .map(|i| listed.get(i + 1).map(|(b, _)| *b))
        .collect();
    for (i, (base, path)) in listed.into_iter().enumerate() {
        let is_last = i == last_index;
        let seg = Segment::open(Some(io), &path, base)?;
        if let Some(prev) = prev_end {
            let gap_allowed = mode == RecoveryMode::Tolerant && base > prev;
            if base != prev && !gap_allowed {
                return Err(Error::corrupt(
                    &path,
                    16,
                    format!(
                        "base position {base} does not follow the previous segment's end {prev}"
                    ),
                ));
            }
        }
        let covered = next_bases[i].filter(|&n| n <= covered_below);
        if let (Some(next), RecoveryMode::Strict) = (covered, mode) {
            // Sealed and covered: its records end where the next segment begins
            // (Strict recovery accepts nothing else), so reading the whole file to
            // find that out is skipped. Reads still check each record's CRC.
            if next < base || HEADER_LEN + (next - base) > seg.file_len() {
                return Err(Error::corrupt(
                    &path,
                    16,
                    format!("the next segment's base {next} lies outside this segment"),
                ));
            }
            seg.set_end(next);
            seg.seal();
            prev_end = Some(next);
            segments.push(Arc::new(seg));
            continue;
        }
        let scan = if mode == RecoveryMode::Strict {
            scan_uncovered(&seg, covered_below)
        } else {
            seg.scan()
        };
        let may_cut = is_last || mode == RecoveryMode::Tolerant;
        let valid_end = check_scan(&seg, &scan, is_last, may_cut, io, &mut report)?;
        let end = seg.pos_of(valid_end as u64);
        seg.set_end(end);
        if !is_last {
            seg.seal();
        }
        prev_end = Some(end);
        if is_last {
            // What the previous process wrote may still be only in the page cache; the
            // WAL reports everything found on open as durable, so make it so. (Earlier
            // segments were synced when the writer rolled past them.)
            io.sync_data(&seg.file, &seg.path)
                .map_err(|e| Error::io("fdatasync", &seg.path, e))?;
        }
        segments.push(Arc::new(seg));
    }
    Ok((segments, report))
}

/// Scans `seg` from `covered_below` when that position falls inside it (the frames
/// before it are covered by the caller's checkpoint and are checked when read), from
/// its first record otherwise. A covered position that is neither the start of a
/// valid frame nor an end marker followed by zeros only means the checkpoint and the
/// log disagree (it may fall inside a frame): the whole segment is then scanned, so
/// the usual rules decide what is cut or refused.
fn scan_uncovered(seg: &Segment, covered_below: u64) -> Scan {
    let len = seg.file_len();
    let start = (covered_below > seg.base)
        .then(|| seg.offset_of(covered_below))
        .filter(|&off| off <= len)
        .and_then(|off| usize::try_from(off).ok());
    if let Some(from) = start {
        let scan = segment::scan(seg.bytes(), from);
        let agrees = match scan.stop {
            Stop::Bad { offset, .. } => offset != from,
            // Nothing after the covered position: it must be where the data ends,
            // not inside a zeroed stretch the log never reached. A frame's last
            // bytes are rarely all zero, so eight zeros before it send this to the
            // full scan (at worst a slower open, never a wrong end).
            Stop::Clean if scan.valid_end == from => {
                let before = seg.bytes().get(from.saturating_sub(8)..from);
                before.is_some_and(|b| b.iter().any(|&x| x != 0))
                    && segment::nonzero_end(seg.bytes(), from) == from
            }
            _ => true,
        };
        if agrees {
            return scan;
        }
    }
    seg.scan()
}

/// Removes segments whose creation was interrupted (they never got their final name).
fn remove_leftovers(dir: &Path, io: &dyn Io) -> Result<()> {
    let rd = match std::fs::read_dir(dir) {
        Ok(rd) => rd,
        Err(e) => return Err(Error::io("read_dir", dir, e)),
    };
    let mut removed = false;
    for entry in rd {
        let entry = entry.map_err(|e| Error::io("read_dir", dir, e))?;
        if entry.file_name().to_str().is_some_and(segment::is_tmp_name) {
            let p = entry.path();
            io.remove_file(&p).map_err(|e| Error::io("remove", &p, e))?;
            removed = true;
        }
    }
    if removed {
        io.sync_dir(dir)
            .map_err(|e| Error::io("fsync dir", dir, e))?;
    }
    Ok(())
}

/// Decides what to do with one segment's scan; returns the file offset where its
/// records end.
fn check_scan(
    seg: &Segment,
    scan: &Scan,
    is_last: bool,
    may_cut: bool,
    io: &dyn Io,
    report: &mut RecoveryReport,
) -> Result<usize> {
    let bytes = seg.bytes();
    let (reason, bad_offset) = match &scan.stop {
        Stop::Clean => {
            // A clean end marker in the last segment may still hide garbage further on
            // (e.g. a torn write that left zeros first); appends would land in front of
            // it, so it is cut too. Earlier segments are never appended to again.
            if !is_last || segment::nonzero_end(bytes, scan.valid_end) == scan.valid_end {
                return Ok(scan.valid_end);
            }
            ("non-zero bytes after the end marker", scan.valid_end)
        }
        Stop::TornBatch => ("batch not completed", scan.valid_end),
        Stop::Bad { offset, reason } => (*reason, *offset),
    };
    if !may_cut {
        return Err(Error::corrupt(&seg.path, bad_offset as u64, reason));
    }
    let cut = scan.valid_end;
    let dirty_end = segment::nonzero_end(bytes, cut).max(bad_offset.min(bytes.len()));
    zero_range(io, seg, cut as u64, (dirty_end - cut) as u64)?;
    let t = Truncation {
        segment: seg.path.clone(),
        offset: cut as u64,
        bytes_dropped: (dirty_end - cut) as u64,
        reason: reason.to_string(),
    };
    tracing::warn!(
        segment = %t.segment.display(),
        offset = t.offset,
        bytes_dropped = t.bytes_dropped,
        reason,
        "WAL recovery cut a torn or corrupt tail"
    );
    report.truncations.push(t);
    Ok(cut)
}

/// Overwrites `len` bytes at file offset `at` with zeros and syncs the file.
fn zero_range(io: &dyn Io, seg: &Segment, at: u64, len: u64) -> Result<()> {
    const CHUNK: u64 = 1 << 20;
    debug_assert!(at >= HEADER_LEN);
    let zeros = vec![0u8; CHUNK.min(len) as usize];
    let mut done = 0;
    while done < len {
        let n = CHUNK.min(len - done);
        io.write_at(&seg.file, &seg.path, &zeros[..n as usize], at + done)
            .map_err(|e| Error::io("zero torn tail", &seg.path, e))?;
        done += n;
    }
    io.sync_data(&seg.file, &seg.path)
        .map_err(|e| Error::io("fdatasync", &seg.path, e))
}
