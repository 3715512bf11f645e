//! In-process reading: [`RecordRef`] (a zero-copy view of one record) and [`Reader`]
//! (in-order iteration that follows the tail). Owns the rules for moving from one
//! segment to the next. Reads only below a segment's published end, so it never sees a
//! record being written nor half a batch.

use std::fmt;
use std::sync::Arc;

use crate::record::{BATCH_CONTINUES, Frame};
use crate::segment::Segment;
use crate::writer::Inner;
use crate::{Error, Position, Result};

/// One record, borrowed from the segment's memory map (which it keeps alive, even
/// after retention deletes the file).
#[derive(Clone)]
pub struct RecordRef {
    /// The record's position (also available as [`RecordRef::position`]).
    pub position: Position,
    seg: Arc<Segment>,
    kind: u8,
    payload_at: usize,
    len: usize,
}

impl fmt::Debug for RecordRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RecordRef")
            .field("position", &self.position)
            .field("kind", &self.kind)
            .field("len", &self.len)
            .finish()
    }
}

impl RecordRef {
    /// Decodes the record at `pos` of `seg`; the caller knows `pos` is below the end
    /// that `seg` holds.
    pub(crate) fn decode(seg: Arc<Segment>, pos: u64) -> Result<RecordRef> {
        let end = seg.end();
        match seg.frame_at(pos) {
            Frame::Record {
                kind_raw,
                payload_at,
                len,
                next,
            } if seg.pos_of(next as u64) <= end => Ok(RecordRef {
                position: Position(pos),
                kind: kind_raw & !BATCH_CONTINUES,
                payload_at,
                len,
                seg,
            }),
            Frame::Record { .. } => Err(Error::corrupt(
                &seg.path,
                seg.offset_of(pos),
                "frame runs past the segment's end (not a record start?)",
            )),
            Frame::End => Err(Error::corrupt(
                &seg.path,
                seg.offset_of(pos),
                "end marker below the segment's end (not a record start?)",
            )),
            Frame::Bad(reason) => Err(Error::corrupt(&seg.path, seg.offset_of(pos), reason)),
        }
    }

    /// The record's position.
    pub fn position(&self) -> Position {
        self.position
    }

    /// The record's kind (`0..=MAX_KIND`).
    pub fn kind(&self) -> u8 {
        self.kind
    }

    /// The payload, straight from the map.
    pub fn payload(&self) -> &[u8] {
        &self.seg.bytes()[self.payload_at..self.payload_at + self.len]
    }

    /// Position of the record after this one.
    pub fn next_position(&self) -> Position {
        Position(self.position.0 + crate::record::frame_len(self.len))
    }
}

/// In-order iteration from a position, following the tail: `next` returns `Ok(None)`
/// at the end, and later calls return records appended meanwhile.
pub struct Reader {
    inner: Arc<Inner>,
    pos: u64,
    seg: Option<Arc<Segment>>,
}

impl fmt::Debug for Reader {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Reader").field("pos", &self.pos).finish()
    }
}

impl Reader {
    pub(crate) fn new(inner: Arc<Inner>, from: Position) -> Reader {
        // Take hold of the segment now, so that retention after this point does not
        // pull it away from under the reader.
        let seg = if from.0 >= inner.start() {
            inner.locate(from.0).ok()
        } else {
            None
        };
        Reader {
            inner,
            pos: from.0,
            seg,
        }
    }

    /// Position of the next record to be returned (or of where it will be written).
    pub fn position(&self) -> Position {
        Position(self.pos)
    }

    /// The next record, or `Ok(None)` if there is none yet.
    ///
    /// # Errors
    /// `OutOfRange` if the position is no longer held (retention), `Corrupt` if the
    /// bytes there do not decode (for instance the start was not a record start).
    #[allow(clippy::should_implement_trait)]
    pub fn next(&mut self) -> Result<Option<RecordRef>> {
        loop {
            let seg = match &self.seg {
                Some(s) => Arc::clone(s),
                None => {
                    if self.pos < self.inner.start() {
                        return Err(Error::OutOfRange {
                            pos: Position(self.pos),
                        });
                    }
                    let s = self.inner.locate(self.pos)?;
                    self.seg = Some(Arc::clone(&s));
                    s
                }
            };
            // Read `sealed` before `end`: once sealed, the end read after it is final.
            let sealed = seg.is_sealed();
            if self.pos < seg.end() {
                let rec = RecordRef::decode(seg, self.pos)?;
                self.pos = rec.next_position().0;
                return Ok(Some(rec));
            }
            if !sealed {
                // Records buffered by the writer are read once written.
                if self.inner.has_unwritten() {
                    self.inner.flush()?;
                    continue;
                }
                return Ok(None);
            }
            // Move on to the next segment held.
            let Some(next) = self.inner.segment_after(seg.base) else {
                return Ok(None);
            };
            if next.base > self.pos && self.pos < self.inner.start() {
                // Retention deleted the segment that followed: records were lost to
                // this reader, which must say so rather than skip them.
                return Err(Error::OutOfRange {
                    pos: Position(self.pos),
                });
            }
            // Otherwise a gap is one left by a Tolerant recovery cut: skip it.
            self.pos = self.pos.max(next.base);
            self.seg = Some(next);
        }
    }
}
