//! The sparse in-memory index of a stream: one [`Block`] per run of entries
//! that Redis would keep in one radix-tree node, and the walk that reads a
//! block's entries back from the log by following the back-chain.
//!
//! Entries themselves are never held in memory; a block only knows its
//! first/last IDs and addresses and its counters.
//!
//! A stream's blocks live in [`Blocks`], which a checkpoint stores as one
//! packed byte string decoded on first use, so that opening a store does
//! not decode every index before it can serve.

use std::cell::Cell;
use std::collections::VecDeque;
use std::fmt;
use std::ops::{Deref, DerefMut, Range};
use std::sync::OnceLock;

use eddy_wal::{Position, RecordRef, Wal};
use serde::{Deserialize, Deserializer, Serialize, Serializer};

use super::entry::{Addr, RunEntry, RunReader};
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
    /// Where to start reading forward to reach an entry deep in the block.
    pub hints: Hints,
}

impl Block {
    /// The log positions where the block's hint segments start, ascending
    /// and distinct: the block's first record, then each hint record above
    /// it. Every entry of the block belongs to the segment of the last start
    /// at or below its record.
    pub fn segment_starts(&self) -> Vec<u64> {
        let first = self.first.pos();
        let top = (self.entries().saturating_sub(1) / self.hints.stride()).min(HINTS as u64);
        let mut starts = Vec::with_capacity(HINTS + 1);
        starts.push(first);
        for &p in self.hints.positions(first).iter().take(top as usize) {
            if starts.last().is_some_and(|&last| p > last) && p <= self.last.pos() {
                starts.push(p);
            }
        }
        starts
    }

    /// Entries in the block, deleted ones included.
    pub fn entries(&self) -> u64 {
        u64::from(self.live) + u64::from(self.deleted)
    }
    /// The block's emulated Redis node size in bytes.
    pub fn node_bytes(&self) -> u64 {
        self.node.bytes(self.live, self.deleted)
    }
}

/// A stream's blocks, in ID order: a `VecDeque<Block>` to its users (it
/// derefs to one), loaded lazily from a checkpoint.
///
/// A checkpoint holds the blocks as one byte string (the postcard encoding of
/// the sequence, see docs/format.md). Loading keeps those bytes as they are;
/// the first shared borrow decodes them once, the first mutable borrow takes
/// the decoded blocks over and drops the bytes. A checkpoint written before
/// any mutable borrow writes the same bytes back without decoding them.
#[derive(Clone, Debug, Default)]
pub struct Blocks {
    /// The blocks, once no packed form is left (always, for a stream built
    /// in this process).
    loaded: VecDeque<Block>,
    /// The blocks as a checkpoint stored them, until the first mutable
    /// borrow; `loaded` is unused meanwhile.
    packed: Option<Box<[u8]>>,
    /// `packed` decoded by a shared borrow.
    decoded: OnceLock<VecDeque<Block>>,
}

impl Blocks {
    /// Heap bytes held: the blocks' capacity, plus the packed form while it
    /// is kept. Does not decode.
    pub fn heap_bytes(&self) -> usize {
        let block = std::mem::size_of::<Block>();
        match &self.packed {
            None => self.loaded.capacity() * block,
            Some(p) => p.len() + self.decoded.get().map_or(0, |d| d.capacity() * block),
        }
    }

    /// Whether the blocks are still only in their packed form (never
    /// borrowed since they were loaded from a checkpoint).
    pub fn is_packed(&self) -> bool {
        self.packed.is_some() && self.decoded.get().is_none()
    }

    /// The first block's first address. A packed index is not decoded for
    /// this: its first block comes right after the count, and every
    /// checkpoint asks (to know which log segments may go).
    pub fn first_addr(&self) -> Option<Addr> {
        if let (Some(p), None) = (&self.packed, self.decoded.get())
            && let Some(first) = first_packed(p)
        {
            return first.map(|b| b.first);
        }
        self.front().map(|b| b.first)
    }
}

/// The first block of packed blocks: `None` if they do not decode (the
/// caller then decodes them all, which reports it), `Some(None)` if empty.
fn first_packed(packed: &[u8]) -> Option<Option<Block>> {
    let (count, rest) = postcard::take_from_bytes::<usize>(packed).ok()?;
    if count == 0 {
        return Some(None);
    }
    postcard::take_from_bytes::<Block>(rest)
        .ok()
        .map(|(b, _)| Some(b))
}

/// Decodes packed blocks. The bytes passed the checkpoint's CRC and were
/// written by this version's encoder, so a failure is a bug, not damage on
/// disk; it is reported and leaves the stream without blocks (its reads then
/// fail as corrupt) rather than stopping the process.
fn unpack(packed: &[u8]) -> VecDeque<Block> {
    postcard::from_bytes(packed).unwrap_or_else(|e| {
        tracing::error!("A stream's block index from the checkpoint does not decode: {e}");
        VecDeque::new()
    })
}

impl Deref for Blocks {
    type Target = VecDeque<Block>;
    fn deref(&self) -> &VecDeque<Block> {
        match &self.packed {
            None => &self.loaded,
            Some(p) => self.decoded.get_or_init(|| unpack(p)),
        }
    }
}

impl DerefMut for Blocks {
    fn deref_mut(&mut self) -> &mut VecDeque<Block> {
        if let Some(p) = self.packed.take() {
            self.loaded = self.decoded.take().unwrap_or_else(|| unpack(&p));
        }
        &mut self.loaded
    }
}

impl<'a> IntoIterator for &'a Blocks {
    type Item = &'a Block;
    type IntoIter = std::collections::vec_deque::Iter<'a, Block>;
    fn into_iter(self) -> Self::IntoIter {
        self.iter()
    }
}

impl From<VecDeque<Block>> for Blocks {
    fn from(loaded: VecDeque<Block>) -> Blocks {
        Blocks {
            loaded,
            packed: None,
            decoded: OnceLock::new(),
        }
    }
}

impl Serialize for Blocks {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        if INLINE_BLOCKS.get() {
            return s.collect_seq(self.iter().map(BlockV2::from));
        }
        // Packed bytes are still exact: any change went through `deref_mut`,
        // which drops them.
        if let Some(p) = &self.packed {
            return s.serialize_bytes(p);
        }
        let bytes = postcard::to_stdvec(&self.loaded).map_err(serde::ser::Error::custom)?;
        s.serialize_bytes(&bytes)
    }
}

thread_local! {
    /// Set while decoding (or, in tests, encoding) a version-2 checkpoint,
    /// whose streams hold their blocks inline as a sequence rather than as
    /// packed bytes. postcard is not self-describing, so the shape must be
    /// known before reading.
    static INLINE_BLOCKS: Cell<bool> = const { Cell::new(false) };
}

/// A block as a version-2 checkpoint stores it: without hints. Loaded blocks
/// get empty hints (every hint falls back to the block's first record), so
/// their ranges read forward from the block's start until new entries set
/// hints.
#[derive(Serialize, Deserialize)]
struct BlockV2 {
    first_id: StreamId,
    last_id: StreamId,
    first: Addr,
    last: Addr,
    live: u32,
    deleted: u32,
    node: NodeSize,
    live_bytes: u64,
    first_off: u32,
}

impl From<BlockV2> for Block {
    fn from(b: BlockV2) -> Block {
        Block {
            first_id: b.first_id,
            last_id: b.last_id,
            first: b.first,
            last: b.last,
            live: b.live,
            deleted: b.deleted,
            node: b.node,
            live_bytes: b.live_bytes,
            first_off: b.first_off,
            hints: Hints::default(),
        }
    }
}

impl From<&Block> for BlockV2 {
    fn from(b: &Block) -> BlockV2 {
        BlockV2 {
            first_id: b.first_id,
            last_id: b.last_id,
            first: b.first,
            last: b.last,
            live: b.live,
            deleted: b.deleted,
            node: b.node,
            live_bytes: b.live_bytes,
            first_off: b.first_off,
        }
    }
}

/// Runs `f` (a checkpoint decode) with blocks in the version-2 inline form.
pub(crate) fn with_inline_blocks<T>(f: impl FnOnce() -> T) -> T {
    struct Reset;
    impl Drop for Reset {
        fn drop(&mut self) {
            INLINE_BLOCKS.set(false);
        }
    }
    INLINE_BLOCKS.set(true);
    let _reset = Reset;
    f()
}

impl<'de> Deserialize<'de> for Blocks {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Blocks, D::Error> {
        if INLINE_BLOCKS.get() {
            let v2 = Vec::<BlockV2>::deserialize(d)?;
            return Ok(Blocks::from(
                v2.into_iter().map(Block::from).collect::<VecDeque<_>>(),
            ));
        }
        struct Packed;
        impl serde::de::Visitor<'_> for Packed {
            type Value = Box<[u8]>;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("the packed blocks of a stream")
            }
            fn visit_bytes<E: serde::de::Error>(self, v: &[u8]) -> Result<Box<[u8]>, E> {
                Ok(v.into())
            }
            fn visit_byte_buf<E: serde::de::Error>(self, v: Vec<u8>) -> Result<Box<[u8]>, E> {
                Ok(v.into_boxed_slice())
            }
        }
        let packed = d.deserialize_byte_buf(Packed)?;
        Ok(Blocks {
            loaded: VecDeque::new(),
            packed: Some(packed),
            decoded: OnceLock::new(),
        })
    }
}

/// Hint slots per block.
const HINTS: usize = 7;
/// Entries between hints while a block is young: with Redis's default of
/// 100 entries per node, the seven hints split a full block in eight.
const BASE_STRIDE: u64 = 13;

/// Sub-positions of a block: the log positions of the records holding
/// entries `stride`, `2 * stride`, ... of the block (deleted ones counted),
/// so a range starting deep in a block reads forward from the nearest one
/// instead of from the block's first or last entry.
///
/// Each position is stored as its distance from the one before (the first
/// from the block's first record) in a `u16`; a distance that does not fit,
/// or that is not known yet (the record is still pending), is stored as 0,
/// which makes the hint fall back to the position before it: always a
/// record of the block, only an earlier one. When a block outgrows its
/// hints, the stride doubles and every other hint is kept, so any block
/// size is covered with the same 15 bytes.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Hints {
    deltas: [u16; HINTS],
    /// The stride is `BASE_STRIDE << shift`.
    shift: u8,
}

impl Hints {
    /// Entries between hints.
    pub fn stride(&self) -> u64 {
        BASE_STRIDE << self.shift.min(40)
    }

    /// Positions of the hint records, hint `k` (1-based) at index `k - 1`;
    /// `first` is the position of the block's first record.
    pub fn positions(&self, first: u64) -> [u64; HINTS] {
        let mut out = [first; HINTS];
        let mut at = first;
        for (o, d) in out.iter_mut().zip(self.deltas) {
            at += u64::from(d);
            *o = at;
        }
        out
    }

    /// Stores `positions` (non-decreasing, none below `first`) as deltas.
    fn encode(&mut self, first: u64, positions: &[u64; HINTS]) {
        let mut base = first;
        for (d, &p) in self.deltas.iter_mut().zip(positions) {
            *d = match u16::try_from(p.saturating_sub(base)) {
                Ok(v) => {
                    base += u64::from(v);
                    v
                }
                Err(_) => 0,
            };
        }
    }

    /// Records that entry `n` of the block (0-based, deleted ones counted)
    /// lives in the record at `pos` (`None` while the record is pending:
    /// [`Hints::settle`] fills it in). `first` is the block's first record.
    pub fn note(&mut self, n: u64, pos: Option<u64>, first: u64) {
        if n == 0 {
            return;
        }
        while n / self.stride() > HINTS as u64 && self.shift < 40 {
            // Keep hints 2, 4, 6: they sit at multiples of the doubled
            // stride. The ones after them are not known yet: they repeat
            // the last kept position (zero deltas).
            let old = self.positions(first);
            let keep = HINTS / 2;
            let mut kept = [first; HINTS];
            for j in 0..HINTS {
                kept[j] = old[2 * j.min(keep - 1) + 1];
            }
            self.shift += 1;
            self.encode(first, &kept);
        }
        let stride = self.stride();
        if !n.is_multiple_of(stride) {
            return;
        }
        let k = (n / stride) as usize;
        if k == 0 || k > HINTS {
            return;
        }
        // Hints after k are not set yet (zero deltas), so setting k and
        // everything after it to `pos` changes only k.
        let mut positions = self.positions(first);
        for p in positions.iter_mut().skip(k - 1) {
            *p = pos.unwrap_or(*p);
        }
        self.encode(first, &positions);
    }

    /// Fills in the hints of entries `from_n..entries` of the block, which a
    /// just-written record at `pos` holds.
    pub fn settle(&mut self, from_n: u64, entries: u64, pos: u64, first: u64) {
        let stride = self.stride();
        let mut n = from_n.div_ceil(stride).max(1) * stride;
        while n < entries {
            self.note(n, Some(pos), first);
            n += stride;
        }
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
/// stops at the first entry of the back-chain below `from`, so a range
/// starting inside a block (XRANGE with a start ID, XREAD of the newest
/// entries) does not read the part of the block before it. The result may
/// begin with one entry below `from`.
pub fn load_block_from(
    wal: &Wal,
    b: &Block,
    pending: Option<&Pending>,
    cache: &mut RecordCache,
    from: StreamId,
) -> Result<Vec<Loaded>, Error> {
    let total = usize::try_from(b.entries()).map_err(|_| Error::corrupt("block too large"))?;
    let mut out: Vec<Loaded> = Vec::with_capacity(total);
    walk_back(wal, b, pending, cache, |e| {
        let below = e.id < from;
        out.push(e);
        Ok(below)
    })?;
    out.reverse();
    Ok(out)
}

/// Walks `b`'s back-chain from its last entry, handing its entries
/// (deleted ones included) to `visit` in descending ID order until `visit`
/// returns `true`. Returns whether `visit` stopped the walk; a walk that
/// reaches the block's first entry checks that the chain held exactly the
/// entries the block counts.
pub fn walk_back(
    wal: &Wal,
    b: &Block,
    pending: Option<&Pending>,
    cache: &mut RecordCache,
    mut visit: impl FnMut(Loaded) -> Result<bool, Error>,
) -> Result<bool, Error> {
    let total = b.entries();
    let mut seen: u64 = 0;
    let mut run_entries: Vec<Loaded> = Vec::new();
    let mut addr = b.last;
    loop {
        let at_first = addr.pos() == b.first.pos();
        let lo = if at_first { b.first.idx() } else { 0 };
        let hi = addr.idx();
        if lo > hi {
            return Err(Error::corrupt("block addresses out of order"));
        }
        run_entries.clear();
        let prev = if addr.is_pending() {
            let p = pending.ok_or_else(|| Error::corrupt("pending entry without context"))?;
            let run = p
                .entries
                .get(lo..=hi)
                .ok_or_else(|| Error::corrupt("pending index"))?;
            run_entries.extend(run.iter().map(|&(id, size)| Loaded {
                id,
                size,
                record: None,
                span: 0..0,
            }));
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
            for i in 0..=hi - lo + skip {
                let e = reader
                    .next_entry()?
                    .ok_or_else(|| Error::corrupt("short run"))?;
                if i >= skip {
                    run_entries.push(Loaded {
                        id: e.id,
                        size: e.size,
                        record: Some(rec.clone()),
                        span: e.fields,
                    });
                }
            }
            if at_first && run_entries.first().map(|e| e.id) != Some(b.first_id) {
                return Err(Error::corrupt("block does not start where the index says"));
            }
            header.prev
        };
        seen += run_entries.len() as u64;
        if seen > total {
            return Err(Error::corrupt("block longer than its counters"));
        }
        // The run was read forward; hand it out last entry first.
        while let Some(e) = run_entries.pop() {
            if visit(e)? {
                return Ok(true);
            }
        }
        if at_first {
            break;
        }
        addr = prev.ok_or_else(|| Error::corrupt("back-chain ends inside a block"))?;
    }
    if seen != total {
        return Err(Error::corrupt("block shorter than its counters"));
    }
    Ok(false)
}

/// Whether reading `b` forward from its first entry is likely cheaper than
/// walking its back-chain from the end, for a range that starts at `from`
/// and needs about `want` entries: the back walk reads one record per entry
/// at or above `from`, the forward scan one per entry below `from` plus
/// `want`. Where `from` falls is estimated by interpolating IDs.
pub fn forward_is_cheaper(b: &Block, from: StreamId, want: usize) -> bool {
    if b.first.is_pending() || b.last.is_pending() {
        return false;
    }
    let entries = b.entries() as f64;
    let before = entries * fraction_below(b, from);
    before + (want as f64) < entries - before
}

/// The estimated fraction of `b`'s entries below `from`, by interpolating
/// IDs (milliseconds, or sequence numbers inside one millisecond).
pub fn fraction_below(b: &Block, from: StreamId) -> f64 {
    interpolate(b.first_id, b.last_id, from)
}

/// Where a forward read of a block should start to reach an ID.
#[derive(Debug)]
pub enum Start {
    /// At this hint record (its first entry is at or below the ID).
    Hint(RecordRef),
    /// At the block's first entry: the first hint is already above the ID.
    First,
    /// No hint helps; where the ID falls is only estimated.
    Unknown,
}

/// Where to start a forward read of `b` to reach `from`: the latest hint
/// record whose first entry is at or below `from`. The hint is guessed by
/// interpolating IDs and read; while its first entry is above `from`, the
/// one before it is tried. When the block's IDs crowd into few milliseconds
/// the guess is coarse, so later hints are also tried while their first
/// entry is still at or below `from`. A hint record that does not look like
/// one gives [`Start::Unknown`].
pub fn hint_start(wal: &Wal, b: &Block, from: StreamId) -> Result<Start, Error> {
    if b.first.is_pending() || b.last.is_pending() || from <= b.first_id {
        return Ok(Start::Unknown);
    }
    let stride = b.hints.stride();
    let entries = b.entries();
    let top = (entries.saturating_sub(1) / stride).min(HINTS as u64) as usize;
    let first = b.first.pos();
    let positions = b.hints.positions(first);
    let probe = |pos: u64| hint_record(wal, b, pos);
    let guess = (fraction_below(b, from) * entries as f64) as u64;
    let mut k = ((guess / stride) as usize).min(top);
    let mut above = u64::MAX;
    let mut found = None;
    while k > 0 {
        let pos = positions[k - 1];
        if pos <= first {
            return Ok(Start::Unknown);
        }
        if pos < above {
            let Some((id, rec)) = probe(pos)? else {
                return Ok(Start::Unknown);
            };
            if id <= from {
                found = Some(rec);
                break;
            }
            above = pos;
        }
        k -= 1;
    }
    let Some(mut rec) = found else {
        return Ok(if above == u64::MAX {
            Start::Unknown
        } else {
            Start::First
        });
    };
    let coarse = b.first_id.ms != b.last_id.ms && b.last_id.ms - b.first_id.ms < entries - 1;
    if coarse {
        while k < top {
            let pos = positions[k];
            if pos > rec.position().0 {
                match probe(pos)? {
                    Some((id, next)) if id <= from => rec = next,
                    _ => break,
                }
            }
            k += 1;
        }
    }
    Ok(Start::Hint(rec))
}

/// The hint record of `b` at `pos` and the ID of its first entry, if the
/// record there looks like one: an XADD record chained to an earlier
/// record, whose first entry lies inside the block past its first.
pub fn hint_record(wal: &Wal, b: &Block, pos: u64) -> Result<Option<(StreamId, RecordRef)>, Error> {
    let rec = wal.read_at(Position(pos))?;
    if rec.kind() != kind::XADD {
        return Ok(None);
    }
    let (header, mut run) = RunReader::new(rec.payload())?;
    let Some(e) = run.next_entry()? else {
        return Ok(None);
    };
    if header.prev.is_none_or(|p| p.pos() >= pos) || e.id <= b.first_id || e.id > b.last_id {
        return Ok(None);
    }
    Ok(Some((e.id, rec)))
}

/// Reads `b` forward in ID order, from the hint record `start` (see
/// [`hint_start`]) or else from the block's first entry, handing each entry
/// and its record to `visit` until `visit` returns `true`. The records of a
/// block lie between its first and last addresses in the log, and each
/// names the entry before it (`prev`), so a record belongs to the block
/// exactly when its `prev` is the last entry handed out; records of other
/// streams in between are passed over. Every record is CRC-checked by the
/// WAL as it is read.
///
/// Returns `Some(true)` if `visit` stopped the read, `Some(false)` at the
/// block's end, and `None` (the caller reads the block another way, the
/// back-chain walk being the authority on corruption) when more than
/// `budget` records were visited or the chain does not line up.
pub fn scan_forward(
    wal: &Wal,
    b: &Block,
    start: Option<RecordRef>,
    budget: usize,
    mut visit: impl FnMut(&RecordRef, RunEntry<'_>) -> Result<bool, Error>,
) -> Result<Option<bool>, Error> {
    if b.first.is_pending() || b.last.is_pending() {
        return Ok(None);
    }
    let (first_pos, last_pos) = (b.first.pos(), b.last.pos());
    let hinted = start.is_some();
    let (mut rec, mut reader) = match start {
        Some(r) => {
            let next = r.next_position();
            (r, wal.reader(next))
        }
        None => {
            let mut reader = wal.reader(Position(first_pos));
            match reader.next()? {
                Some(r) => (r, reader),
                None => return Ok(None),
            }
        }
    };
    let mut visited = 0usize;
    let mut tail: Option<Addr> = None;
    loop {
        let pos = rec.position().0;
        if pos > last_pos || visited >= budget {
            return Ok(None);
        }
        visited += 1;
        if rec.kind() == kind::XADD {
            let payload = rec.payload();
            let (header, mut run) = RunReader::new(payload)?;
            let lo = match tail {
                None if pos == first_pos => {
                    if b.first.idx() > 0 {
                        run = RunReader::resume(
                            payload,
                            b.first_off as usize,
                            b.first_id.ms,
                            header.count.saturating_sub(b.first.idx()),
                        );
                    }
                    Some(b.first.idx())
                }
                // A hint record holds entries of the block from its first.
                None if hinted && header.prev.is_some() => Some(0),
                None => return Ok(None),
                Some(t) if header.prev == Some(t) => Some(0),
                Some(_) => None,
            };
            if let Some(lo) = lo {
                let hi = if pos == last_pos {
                    b.last.idx()
                } else {
                    header.count.saturating_sub(1)
                };
                if hi < lo {
                    return Ok(None);
                }
                for idx in lo..=hi {
                    let Some(e) = run.next_entry()? else {
                        return Ok(None);
                    };
                    if tail.is_none() && !hinted && e.id != b.first_id {
                        return Ok(None);
                    }
                    if pos == last_pos && idx == hi && e.id != b.last_id {
                        return Ok(None);
                    }
                    tail = Some(Addr::new(pos, idx));
                    if visit(&rec, e)? {
                        return Ok(Some(true));
                    }
                }
                if pos == last_pos {
                    return Ok(Some(false));
                }
            }
        }
        rec = match reader.next()? {
            Some(r) => r,
            None => return Ok(None),
        };
    }
}

/// Reads the entries of `b` forward from its first one, in ID order, until
/// `enough(collected)` says so or the block ends: [`scan_forward`] from the
/// block's start, collecting. `None` as there (the caller walks the
/// back-chain instead).
pub fn scan_block_forward(
    wal: &Wal,
    b: &Block,
    budget: usize,
    mut enough: impl FnMut(&Loaded) -> bool,
) -> Result<Option<Vec<Loaded>>, Error> {
    let mut out: Vec<Loaded> = Vec::new();
    let read = scan_forward(wal, b, None, budget, |rec, e| {
        let l = Loaded {
            id: e.id,
            size: e.size,
            record: Some(rec.clone()),
            span: e.fields,
        };
        let stop = enough(&l);
        out.push(l);
        Ok(stop)
    })?;
    Ok(read.map(|_| out))
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
/// and do not overlap). IDs usually grow evenly, so the block is first
/// guessed by interpolation and its neighbour checked, which touches two
/// blocks instead of the dozen cache lines of a binary search over a long
/// stream; an uneven stream falls back to the binary search.
pub fn first_block_reaching(blocks: &VecDeque<Block>, id: StreamId) -> usize {
    let n = blocks.len();
    let (Some(head), Some(tail)) = (blocks.front(), blocks.back()) else {
        return 0;
    };
    if id <= head.last_id {
        return 0;
    }
    if id > tail.last_id {
        return n;
    }
    // The answer is in 1..n: block 0 ends below `id`, the last one reaches it.
    let reaches = |i: usize| blocks.get(i).is_some_and(|b| b.last_id >= id);
    let guess =
        ((interpolate(head.last_id, tail.last_id, id) * (n - 1) as f64) as usize).clamp(1, n - 1);
    if reaches(guess) {
        if !reaches(guess - 1) {
            return guess;
        }
    } else if reaches(guess + 1) {
        return guess + 1;
    }
    blocks.partition_point(|b| b.last_id < id)
}

/// Where `x` falls between `a` and `z` (`a < x <= z`), from 0 to 1, by
/// milliseconds, or by sequence numbers inside one millisecond.
fn interpolate(a: StreamId, z: StreamId, x: StreamId) -> f64 {
    if x <= a {
        0.0
    } else if x >= z {
        1.0
    } else if z.ms > a.ms {
        (x.ms - a.ms) as f64 / (z.ms - a.ms) as f64
    } else {
        (x.seq - a.seq) as f64 / (z.seq.saturating_sub(a.seq)).max(1) as f64
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Hints of a block whose entry `n` lives at `first + spacing * n`.
    fn hinted(entries: u64, first: u64, spacing: u64) -> Hints {
        let mut h = Hints::default();
        for n in 1..entries {
            h.note(n, Some(first + spacing * n), first);
        }
        h
    }

    #[test]
    fn hints_sit_on_multiples_of_the_stride() {
        let h = hinted(100, 1000, 100);
        assert_eq!(h.stride(), 13);
        let want: Vec<u64> = (1..=7).map(|k| 1000 + 100 * 13 * k).collect();
        assert_eq!(h.positions(1000).to_vec(), want);
    }

    #[test]
    fn a_block_outgrowing_its_hints_doubles_the_stride() {
        for entries in [105, 200, 300, 1000, 5000] {
            let h = hinted(entries, 7, 3);
            let stride = h.stride();
            assert!(
                stride * 8 > entries - 1,
                "{entries} entries, stride {stride}"
            );
            for (k, p) in h.positions(7).iter().enumerate() {
                let n = stride * (k as u64 + 1);
                // Hints past the block's end repeat the last one set.
                let n = n.min((entries - 1) / stride * stride);
                assert_eq!(*p, 7 + 3 * n, "{entries} entries, hint {}", k + 1);
            }
        }
    }

    #[test]
    fn distances_too_long_for_a_hint_fall_back_to_the_one_before() {
        // 13 entries of 6000 bytes: 78,000 bytes between hints.
        let h = hinted(100, 0, 6000);
        assert_eq!(h.positions(0), [0; HINTS]);
        // Alternating short and long gaps: only reachable hints are kept.
        let mut h = Hints::default();
        let mut pos = 0;
        for n in 1..100 {
            pos += if (n / 13) % 2 == 0 { 10 } else { 6000 };
            h.note(n, Some(pos), 0);
        }
        for (k, p) in h.positions(0).iter().enumerate() {
            assert!(*p <= 13 * 6000 * (k as u64 + 1), "hint {} at {p}", k + 1);
        }
    }

    #[test]
    fn pending_hints_are_settled_later() {
        let mut h = hinted(30, 0, 10);
        for n in 30..60 {
            h.note(n, None, 0);
        }
        assert_eq!(h.positions(0)[2], 260, "hint 3 not known yet");
        h.settle(30, 60, 5000, 0);
        assert_eq!(h.positions(0)[..4].to_vec(), vec![130, 260, 5000, 5000]);
        assert_eq!(h, {
            let mut g = hinted(30, 0, 10);
            for n in 30..60 {
                g.note(n, Some(5000), 0);
            }
            g
        });
    }
}
