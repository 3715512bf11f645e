//! [`Follower`]: read-only access to a WAL directory from another process (tools such
//! as `eddy tail`, `verify`, `dump`). Takes no lock and never writes. It sees what has
//! reached the files (the page cache), so it checks every frame's CRC and yields a
//! batch only once all of it is there.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use crate::reader::RecordRef;
use crate::record::{self, BATCH_CONTINUES, Frame};
use crate::segment::{self, Segment};
use crate::{Error, Position, Result, SegmentInfo};

/// Whether a segment with this base is still in the directory.
fn listed_again(dir: &Path, base: u64) -> Result<bool> {
    Ok(segment::list(dir)?.iter().any(|(b, _)| *b == base))
}

/// A read-only follower of a WAL directory.
#[derive(Debug)]
pub struct Follower {
    dir: PathBuf,
    seg: Option<Arc<Segment>>,
    pos: u64,
    /// Frames before this position were checked as part of a complete batch.
    checked_end: u64,
}

/// Result of [`Follower::verify`].
#[derive(Debug)]
pub struct VerifyReport {
    /// One entry per segment, oldest first.
    pub segments: Vec<SegmentCheck>,
    /// Complete records in all segments.
    pub records: u64,
}

impl VerifyReport {
    /// Whether no segment has a problem.
    pub fn is_clean(&self) -> bool {
        self.segments.iter().all(|s| s.problem.is_none())
    }
}

/// One segment's check in a [`VerifyReport`].
#[derive(Debug)]
pub struct SegmentCheck {
    /// The segment, with `end` after its last complete record.
    pub info: SegmentInfo,
    /// Complete records.
    pub records: u64,
    /// What stopped the scan before the end marker (for the last segment of a WAL in
    /// use, a torn tail is expected and recovery will cut it).
    pub problem: Option<Error>,
}

impl Follower {
    /// Opens `dir` for reading from its first record.
    ///
    /// # Errors
    /// `Io` if the directory cannot be listed, `Corrupt` if the first segment's header
    /// is bad.
    pub fn open(dir: impl AsRef<Path>) -> Result<Follower> {
        let dir = dir.as_ref().to_path_buf();
        let mut f = Follower {
            dir,
            seg: None,
            pos: 0,
            checked_end: 0,
        };
        if let Some((base, path)) = segment::list(&f.dir)?.into_iter().next() {
            f.seg = Some(Arc::new(Segment::open(None, &path, base)?));
            f.pos = base;
        }
        Ok(f)
    }

    /// Opens `dir` for reading from `pos`, which must be a record start.
    ///
    /// # Errors
    /// `OutOfRange` if no segment holds `pos`; else as [`Follower::open`].
    pub fn open_at(dir: impl AsRef<Path>, pos: Position) -> Result<Follower> {
        let dir = dir.as_ref().to_path_buf();
        let listed = segment::list(&dir)?;
        let i = listed.partition_point(|(b, _)| *b <= pos.0);
        let Some((base, path)) = i.checked_sub(1).and_then(|i| listed.get(i)) else {
            return Err(Error::OutOfRange { pos });
        };
        let seg = Arc::new(Segment::open(None, path, *base)?);
        Ok(Follower {
            dir,
            seg: Some(seg),
            pos: pos.0,
            checked_end: pos.0,
        })
    }

    /// Position of the next record to be returned.
    pub fn position(&self) -> Position {
        Position(self.pos)
    }

    /// The next record, or `Ok(None)` if none has reached the files yet (call again
    /// later to follow the tail).
    ///
    /// # Errors
    /// `Corrupt` for a bad frame in a segment that has a successor (so it is not being
    /// written); `OutOfRange` if retention deleted records the follower had not read
    /// yet; `Io` if a segment cannot be opened (for instance, deleted meanwhile).
    #[allow(clippy::should_implement_trait)]
    pub fn next(&mut self) -> Result<Option<RecordRef>> {
        loop {
            let seg = match &self.seg {
                Some(s) => Arc::clone(s),
                None => match segment::list(&self.dir)?.into_iter().next() {
                    Some((base, path)) => {
                        let s = Arc::new(Segment::open(None, &path, base)?);
                        self.pos = self.pos.max(base);
                        self.seg = Some(Arc::clone(&s));
                        s
                    }
                    None => return Ok(None),
                },
            };
            let frame = seg.frame_at(self.pos);
            let complete = match frame {
                Frame::Record { kind_raw, next, .. } => {
                    self.pos < self.checked_end
                        || kind_raw & BATCH_CONTINUES == 0
                        || self.check_batch(&seg, next)
                }
                _ => false,
            };
            if let (true, Frame::Record { next, .. }) = (complete, frame) {
                // This segment instance is private to the follower: its end is what
                // the follower has checked so far.
                let next_pos = seg.pos_of(next as u64);
                seg.set_end(seg.end().max(next_pos).max(self.checked_end));
                let rec = RecordRef::decode(Arc::clone(&seg), self.pos)?;
                self.pos = next_pos;
                return Ok(Some(rec));
            }
            // At the end of what is there: has the writer moved to a later segment?
            let listed = segment::list(&self.dir)?;
            let Some((base, path)) = listed.into_iter().find(|(b, _)| *b > seg.base) else {
                return Ok(None);
            };
            // The writer may have appended here and rolled between the look at
            // `frame` and the listing: look again before moving on, or the records
            // written in between would be skipped.
            if !matches!(frame, Frame::Record { .. })
                && matches!(seg.frame_at(self.pos), Frame::Record { .. })
            {
                continue;
            }
            if let Frame::Bad(reason) = frame {
                return Err(Error::corrupt(&seg.path, seg.offset_of(self.pos), reason));
            }
            if matches!(frame, Frame::Record { .. }) {
                return Err(Error::corrupt(
                    &seg.path,
                    seg.offset_of(self.pos),
                    "batch not completed",
                ));
            }
            if base > self.pos && !listed_again(&self.dir, seg.base)? {
                // The current segment is gone (retention) and the next one does not
                // start where it ended: the records in between were deleted.
                return Err(Error::OutOfRange {
                    pos: Position(self.pos),
                });
            }
            self.seg = Some(Arc::new(Segment::open(None, &path, base)?));
            self.pos = self.pos.max(base);
        }
    }

    /// Checks that the batch whose second frame starts at file offset `next` is
    /// complete; if so, remembers where it ends.
    fn check_batch(&mut self, seg: &Segment, mut next: usize) -> bool {
        loop {
            match record::decode(seg.bytes(), next) {
                Frame::Record {
                    kind_raw, next: n, ..
                } => {
                    next = n;
                    if kind_raw & BATCH_CONTINUES == 0 {
                        self.checked_end = seg.pos_of(next as u64);
                        return true;
                    }
                }
                Frame::End | Frame::Bad(_) => return false,
            }
        }
    }

    /// Scans every segment of the directory (as it is now) and reports records and
    /// problems per segment. Does not change anything.
    ///
    /// # Errors
    /// `Io` if the directory or a segment cannot be read; a bad header is reported as
    /// that segment's problem.
    pub fn verify(&self) -> Result<VerifyReport> {
        let mut report = VerifyReport {
            segments: Vec::new(),
            records: 0,
        };
        for (base, path) in segment::list(&self.dir)? {
            let seg = match Segment::open(None, &path, base) {
                Ok(s) => s,
                Err(e @ Error::Corrupt { .. }) => {
                    let file_len = std::fs::metadata(&path).map(|m| m.len()).unwrap_or(0);
                    let info = SegmentInfo {
                        path,
                        base: Position(base),
                        end: Position(base),
                        file_len,
                    };
                    report.segments.push(SegmentCheck {
                        info,
                        records: 0,
                        problem: Some(e),
                    });
                    continue;
                }
                Err(e) => return Err(e),
            };
            let scan = seg.scan();
            seg.set_end(seg.pos_of(scan.valid_end as u64));
            let problem = match scan.stop {
                segment::Stop::Clean => None,
                segment::Stop::TornBatch => Some(Error::corrupt(
                    &path,
                    scan.valid_end as u64,
                    "batch not completed",
                )),
                segment::Stop::Bad { offset, reason } => {
                    Some(Error::corrupt(&path, offset as u64, reason))
                }
            };
            report.records += scan.records;
            report.segments.push(SegmentCheck {
                info: seg.info(),
                records: scan.records,
                problem,
            });
        }
        Ok(report)
    }
}
