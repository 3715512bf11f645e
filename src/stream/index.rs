//! The sparse in-memory index of a stream: one [`Block`] per run of entries
//! that Redis would keep in one radix-tree node, and the walk that reads a
//! block's entries back from the log by following the back-chain.
//!
//! Entries themselves are never held in memory; a block only knows its
//! first/last IDs and addresses and its counters.

use std::ops::Range;

use eddy_wal::{Position, RecordRef, Wal};
use serde::{Deserialize, Serialize};

use super::entry::{Addr, RunReader};
use super::id::StreamId;
use super::listpack::NodeSize;
use crate::error::Error;
use crate::record::kind;

/// One block of consecutive entries (deleted ones included).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Block {
    /// ID of the first entry (Redis's master ID), deleted or not.
    pub first_id: StreamId,
    /// ID of the last entry, deleted or not.
    pub last_id: StreamId,
    /// Address of the first entry.
    pub first: Addr,
    /// Address of the last entry.
    pub last: Addr,
    /// Entries not deleted.
    pub live: u32,
    /// Entries marked deleted (XDEL or an exact trim).
    pub deleted: u32,
    /// Emulated Redis listpack size, counters excluded.
    pub node: NodeSize,
    /// Encoded bytes of the live entries.
    pub live_bytes: u64,
    /// Byte offset of the first entry inside its record's payload, so a
    /// block starting mid-run is read without decoding the run's head.
    pub first_off: u32,
}

impl Block {
    /// Entries in the block, deleted ones included.
    pub fn entries(&self) -> u64 {
        u64::from(self.live) + u64::from(self.deleted)
    }
    /// The block's emulated Redis node size in bytes.
    pub fn node_bytes(&self) -> u64 {
        self.node.bytes(self.live, self.deleted)
    }
}

/// Entries appended in memory whose record is not written yet (between
/// applying an XADD and learning its WAL position, while a trim in the same
/// call is planned).
#[derive(Debug, Clone, Default)]
pub struct Pending {
    /// `(id, encoded size)` of each entry of the run, in order.
    pub entries: Vec<(StreamId, u64)>,
    /// The entry before the run in its block, if the run continues one.
    pub prev: Option<Addr>,
}

/// An entry loaded while walking a block.
#[derive(Debug, Clone)]
pub struct Loaded {
    /// Its ID.
    pub id: StreamId,
    /// Encoded size.
    pub size: u64,
    /// The record holding it (`None` for a pending entry).
    pub record: Option<RecordRef>,
    /// Span of its fields in the record payload.
    pub span: Range<usize>,
}

/// The last few records read, so that walking consecutive blocks of one
/// batch record reads (and CRC-checks) that record once, not once per block.
#[derive(Debug, Default)]
pub struct RecordCache(Vec<(u64, RecordRef)>);

impl RecordCache {
    const SLOTS: usize = 4;

    fn get(&mut self, wal: &Wal, pos: u64) -> Result<RecordRef, Error> {
        if let Some((_, r)) = self.0.iter().find(|(p, _)| *p == pos) {
            return Ok(r.clone());
        }
        let r = wal.read_at(Position(pos))?;
        if self.0.len() >= Self::SLOTS {
            self.0.remove(0);
        }
        self.0.push((pos, r.clone()));
        Ok(r)
    }
}

/// Reads every entry of `b` (deleted ones included) in ID order.
pub fn load_block(
    wal: &Wal,
    b: &Block,
    pending: Option<&Pending>,
    cache: &mut RecordCache,
) -> Result<Vec<Loaded>, Error> {
    load_block_from(wal, b, pending, cache, StreamId::MIN)
}

/// Reads the entries of `b` (deleted ones included) in ID order, from the
/// end of the block back to at least the first entry `>= from`: the walk
/// stops at the first record of the back-chain that reaches below `from`,
/// so a range starting inside a block (XRANGE with a start ID, XREAD of the
/// newest entries) does not read the part of the block before it. The
/// result may begin with a few entries below `from`.
pub fn load_block_from(
    wal: &Wal,
    b: &Block,
    pending: Option<&Pending>,
    cache: &mut RecordCache,
    from: StreamId,
) -> Result<Vec<Loaded>, Error> {
    let total = usize::try_from(b.entries()).map_err(|_| Error::corrupt("block too large"))?;
    let mut out: Vec<Loaded> = Vec::with_capacity(total);
    let mut addr = b.last;
    loop {
        let at_first = addr.pos() == b.first.pos();
        let lo = if at_first { b.first.idx() } else { 0 };
        let hi = addr.idx();
        if lo > hi {
            return Err(Error::corrupt("block addresses out of order"));
        }
        let prev = if addr.is_pending() {
            let p = pending.ok_or_else(|| Error::corrupt("pending entry without context"))?;
            let run = p
                .entries
                .get(lo..=hi)
                .ok_or_else(|| Error::corrupt("pending index"))?;
            for &(id, size) in run.iter().rev() {
                out.push(Loaded {
                    id,
                    size,
                    record: None,
                    span: 0..0,
                });
            }
            p.prev
        } else {
            let rec = cache.get(wal, addr.pos())?;
            if rec.kind() != kind::XADD {
                return Err(Error::corrupt("back-chain points to a non-XADD record"));
            }
            let payload = rec.payload();
            let (header, mut reader) = RunReader::new(payload)?;
            let skip = if at_first && lo > 0 {
                let off = b.first_off as usize;
                reader = RunReader::resume(payload, off, b.first_id.ms, hi - lo + 1);
                0
            } else {
                lo
            };
            let mut run = Vec::with_capacity(hi - lo + 1);
            for i in 0..=hi - lo + skip {
                let e = reader
                    .next_entry()?
                    .ok_or_else(|| Error::corrupt("short run"))?;
                if i >= skip {
                    run.push(Loaded {
                        id: e.id,
                        size: e.size,
                        record: Some(rec.clone()),
                        span: e.fields,
                    });
                }
            }
            if at_first && run.first().map(|e| e.id) != Some(b.first_id) {
                return Err(Error::corrupt("block does not start where the index says"));
            }
            out.extend(run.into_iter().rev());
            header.prev
        };
        if at_first {
            break;
        }
        // `out` is in descending order: its last entry is the lowest so far.
        if out.last().is_some_and(|e| e.id < from) {
            out.reverse();
            return Ok(out);
        }
        if out.len() >= total {
            return Err(Error::corrupt("block longer than its counters"));
        }
        addr = prev.ok_or_else(|| Error::corrupt("back-chain ends inside a block"))?;
    }
    if out.len() != total {
        return Err(Error::corrupt("block shorter than its counters"));
    }
    out.reverse();
    Ok(out)
}

/// Reads one entry's field names (the master fields of the block it starts).
pub fn field_names(wal: &Wal, addr: Addr) -> Result<Vec<Box<[u8]>>, Error> {
    let rec = wal.read_at(Position(addr.pos()))?;
    if rec.kind() != kind::XADD {
        return Err(Error::corrupt("block start is not an XADD record"));
    }
    let payload = rec.payload();
    let (_, mut reader) = RunReader::new(payload)?;
    for _ in 0..addr.idx() {
        reader.next_entry()?;
    }
    let e = reader
        .next_entry()?
        .ok_or_else(|| Error::corrupt("short run"))?;
    let span = payload
        .get(e.fields)
        .ok_or_else(|| Error::corrupt("span"))?;
    Ok(super::entry::Fields::new(span)
        .map(|(f, _)| f.into())
        .collect())
}

/// Index of the first block whose last ID is `>= id` (blocks are ordered
/// and do not overlap).
pub fn first_block_reaching(blocks: &std::collections::VecDeque<Block>, id: StreamId) -> usize {
    blocks.partition_point(|b| b.last_id < id)
}
