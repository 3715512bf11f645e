//! Range reads over a stream: binary search for the first block that can
//! hold the start, then walk blocks forward (or backward) reading entries
//! back from the log, skipping deleted ones, until the bound or COUNT.

use eddy_wal::Wal;

use super::id::{IdRange, StreamId};
use super::index::{
    Block, Loaded, RecordCache, Start, first_block_reaching, forward_is_cheaper, fraction_below,
    hint_record, hint_start, scan_block_forward, scan_forward,
};
use super::{Entry, Stream};
use crate::error::Error;

impl Stream {
    /// Live entries inside `range`, ascending, at most `count` (None = all).
    /// `count == Some(0)` returns nothing (the server replies with a null).
    pub fn range(
        &self,
        wal: &Wal,
        range: IdRange,
        count: Option<usize>,
    ) -> Result<Vec<Entry>, Error> {
        let limit = count.unwrap_or(usize::MAX);
        // A COUNT sizes the result once (bounded: COUNT may be huge).
        let mut out = Vec::with_capacity(limit.min(128));
        let mut cache = RecordCache::default();
        if limit == 0 || range.start > range.end {
            return Ok(out);
        }
        let mut bi = first_block_reaching(&self.blocks, range.start);
        while let Some(b) = self.blocks.get(bi) {
            if b.first_id > range.end {
                break;
            }
            if b.live > 0 {
                let before = out.len();
                match self.range_in_block(wal, b, range, limit, &mut out)? {
                    Some(true) => return Ok(out),
                    Some(false) => {}
                    None => {
                        out.truncate(before);
                        if self.range_by_loading(wal, b, &mut cache, range, limit, &mut out)? {
                            return Ok(out);
                        }
                    }
                }
            }
            bi += 1;
        }
        Ok(out)
    }

    /// Appends to `out` the live entries of `b` inside `range`, up to
    /// `limit` in all, reading forward from the hint record nearest below
    /// the start (or from the block's first entry), straight into entries.
    /// `Some(true)`: the range is complete (`limit` reached or an entry
    /// past its end seen); `Some(false)`: the block is done; `None`: the
    /// block must be read another way ([`Stream::range_by_loading`]); `out`
    /// may then hold a few entries of this block, which the caller drops.
    fn range_in_block(
        &self,
        wal: &Wal,
        b: &Block,
        range: IdRange,
        limit: usize,
        out: &mut Vec<Entry>,
    ) -> Result<Option<bool>, Error> {
        let want = limit.saturating_sub(out.len());
        let start = match hint_start(wal, b, range.start)? {
            Start::Hint(rec) => Some(rec),
            Start::First => None,
            Start::Unknown => {
                if range.start > b.first_id && !forward_is_cheaper(b, range.start, want) {
                    return Ok(None);
                }
                None
            }
        };
        // A single-stream log never needs more than the block's records;
        // the margin lets a few other streams' records in between pass.
        let stride = usize::try_from(b.hints.stride()).unwrap_or(usize::MAX);
        let entries = usize::try_from(b.entries()).unwrap_or(usize::MAX);
        let budget = entries
            .max(stride.saturating_add(want).saturating_mul(4))
            .saturating_add(want);
        scan_forward(wal, b, start, budget, |rec, e| {
            if e.id > range.end {
                return Ok(true);
            }
            if e.id >= range.start && !self.is_deleted(e.id) {
                out.push(Entry::with_pairs(e.id, rec.clone(), e.fields, e.pairs));
                return Ok(out.len() >= limit);
            }
            Ok(false)
        })
    }

    /// [`Stream::range_in_block`] by loading the block's entries first
    /// (the back-chain walk, or a forward scan that collects them). Returns
    /// whether the range is complete.
    fn range_by_loading(
        &self,
        wal: &Wal,
        b: &Block,
        cache: &mut RecordCache,
        range: IdRange,
        limit: usize,
        out: &mut Vec<Entry>,
    ) -> Result<bool, Error> {
        for e in self.load_for_range(wal, b, cache, range, limit - out.len())? {
            if e.id > range.end {
                return Ok(true);
            }
            if e.id >= range.start && !self.is_deleted(e.id) {
                out.push(e.into_entry()?);
                if out.len() >= limit {
                    return Ok(true);
                }
            }
        }
        Ok(false)
    }

    /// The entries of `b` a forward range needs, in ID order: all from the
    /// first `>= range.start` (maybe preceded by a few below it) up to at
    /// least `want` live ones inside the range, or to the block's end. Reads
    /// forward from the block's first entry when that is likely to visit
    /// fewer records than the back-chain walk from its end (a range starting
    /// in the first half of a block, or one that needs only the first few
    /// entries of the next block), else walks back.
    fn load_for_range(
        &self,
        wal: &Wal,
        b: &Block,
        cache: &mut RecordCache,
        range: IdRange,
        want: usize,
    ) -> Result<Vec<Loaded>, Error> {
        if forward_is_cheaper(b, range.start, want) {
            let mut found = 0;
            let budget = usize::try_from(b.entries()).unwrap_or(usize::MAX);
            let scanned = scan_block_forward(wal, b, budget, |e| {
                if e.id > range.end {
                    return true;
                }
                if e.id >= range.start && !self.is_deleted(e.id) {
                    found += 1;
                }
                found >= want
            })?;
            if let Some(entries) = scanned {
                return Ok(entries);
            }
        }
        self.load_from_with(wal, b, cache, range.start)
    }

    /// Live entries inside `range`, descending, at most `count`.
    pub fn rev_range(
        &self,
        wal: &Wal,
        range: IdRange,
        count: Option<usize>,
    ) -> Result<Vec<Entry>, Error> {
        let limit = count.unwrap_or(usize::MAX);
        let mut out = Vec::with_capacity(limit.min(128));
        let mut cache = RecordCache::default();
        if limit == 0 || range.start > range.end {
            return Ok(out);
        }
        // One past the last block that can hold `range.end`.
        let mut bi = self.blocks.partition_point(|b| b.first_id <= range.end);
        while bi > 0 {
            bi -= 1;
            let Some(b) = self.blocks.get(bi) else { break };
            if b.last_id < range.start {
                break;
            }
            if b.live == 0 {
                continue;
            }
            if range.end >= b.last_id {
                // From the block's end (the newest entries, most often):
                // the back-chain walk reads just the records needed.
                let done = self.walk_back_with(wal, b, &mut cache, |e| {
                    if e.id < range.start {
                        return Ok(true);
                    }
                    if !self.is_deleted(e.id) {
                        out.push(e.into_entry()?);
                    }
                    Ok(out.len() >= limit)
                })?;
                if done {
                    return Ok(out);
                }
                continue;
            }
            let before = out.len();
            match self.rev_range_in_block(wal, b, range, limit, &mut out)? {
                Some(true) => return Ok(out),
                Some(false) => continue,
                None => out.truncate(before),
            }
            for e in self.load_with(wal, b, &mut cache)?.into_iter().rev() {
                if e.id < range.start {
                    return Ok(out);
                }
                if e.id <= range.end && !self.is_deleted(e.id) {
                    out.push(e.into_entry()?);
                    if out.len() >= limit {
                        return Ok(out);
                    }
                }
            }
        }
        Ok(out)
    }

    /// Appends to `out` the live entries of `b` inside `range`, descending,
    /// up to `limit` in all, without reading the whole block: the block's
    /// hints cut it into segments (from one hint record to the next), and
    /// the segments are read forward one at a time, the one holding
    /// `range.end` first, each handed out reversed. `Some(true)`: the range
    /// is complete; `Some(false)`: the block is done; `None`: the block must
    /// be read another way (`out` may then hold a few of its entries, which
    /// the caller drops).
    fn rev_range_in_block(
        &self,
        wal: &Wal,
        b: &Block,
        range: IdRange,
        limit: usize,
        out: &mut Vec<Entry>,
    ) -> Result<Option<bool>, Error> {
        if b.first.is_pending() || b.last.is_pending() {
            return Ok(None);
        }
        let starts = b.segment_starts();
        let last = starts.len() - 1;
        // The first entry of segment j > 0 (segment 0 starts at the block's
        // first entry); None: its start is not a hint record after all.
        let first_id = |j: usize| -> Result<Option<StreamId>, Error> {
            Ok(hint_record(wal, b, starts[j])?.map(|(id, _)| id))
        };
        // Begin with the last segment whose first entry is at or below
        // `range.end`: guessed by interpolating IDs, then corrected.
        let mut j = if range.end >= b.last_id {
            last
        } else {
            let guess = fraction_below(b, range.end) * b.entries() as f64;
            ((guess / b.hints.stride() as f64) as usize).min(last)
        };
        while j > 0 {
            match first_id(j)? {
                None => return Ok(None),
                Some(id) if id <= range.end => break,
                Some(_) => j -= 1,
            }
        }
        while j < last {
            match first_id(j + 1)? {
                None => return Ok(None),
                Some(id) if id <= range.end => j += 1,
                Some(_) => break,
            }
        }
        let stride = usize::try_from(b.hints.stride()).unwrap_or(usize::MAX);
        let entries = usize::try_from(b.entries()).unwrap_or(usize::MAX);
        // As for forward reads: a few other streams' records may sit between.
        let budget = entries.min(stride.saturating_mul(4)).saturating_add(64);
        let mut segment = Vec::new();
        loop {
            let start = match j {
                0 => None,
                _ => match hint_record(wal, b, starts[j])? {
                    Some((_, rec)) => Some(rec),
                    None => return Ok(None),
                },
            };
            let stop_at = starts.get(j + 1).copied().unwrap_or(u64::MAX);
            let mut below = false;
            segment.clear();
            let read = scan_forward(wal, b, start, budget, |rec, e| {
                if rec.position().0 >= stop_at || e.id > range.end {
                    return Ok(true);
                }
                if e.id < range.start {
                    below = true;
                } else if !self.is_deleted(e.id) {
                    segment.push(Entry::with_pairs(e.id, rec.clone(), e.fields, e.pairs));
                }
                Ok(false)
            })?;
            if read.is_none() {
                return Ok(None);
            }
            for e in segment.drain(..).rev() {
                out.push(e);
                if out.len() >= limit {
                    return Ok(Some(true));
                }
            }
            if below {
                return Ok(Some(true));
            }
            if j == 0 {
                return Ok(Some(false));
            }
            j -= 1;
        }
    }

    /// Entries with an ID greater than `after` (what XREAD returns).
    pub fn read_after(
        &self,
        wal: &Wal,
        after: StreamId,
        count: Option<usize>,
    ) -> Result<Vec<Entry>, Error> {
        match after.next() {
            Some(start) => self.range(
                wal,
                IdRange {
                    start,
                    end: StreamId::MAX,
                },
                count,
            ),
            None => Ok(Vec::new()),
        }
    }

    /// The first live entry.
    pub(crate) fn first_live(&self, wal: &Wal) -> Result<Option<Loaded>, Error> {
        let mut cache = RecordCache::default();
        for b in self.blocks.iter().filter(|b| b.live > 0) {
            if let Some(e) = self
                .load_with(wal, b, &mut cache)?
                .into_iter()
                .find(|e| !self.is_deleted(e.id))
            {
                return Ok(Some(e));
            }
        }
        Ok(None)
    }

    /// The last live entry (XREAD `+`, XINFO last-entry, XSETID's check).
    pub(crate) fn last_live(&self, wal: &Wal) -> Result<Option<Loaded>, Error> {
        let mut cache = RecordCache::default();
        for b in self.blocks.iter().rev().filter(|b| b.live > 0) {
            if let Some(e) = self
                .load_with(wal, b, &mut cache)?
                .into_iter()
                .rev()
                .find(|e| !self.is_deleted(e.id))
            {
                return Ok(Some(e));
            }
        }
        Ok(None)
    }

    /// The last live entry as a public view.
    pub fn last_entry(&self, wal: &Wal) -> Result<Option<Entry>, Error> {
        self.last_live(wal)?.map(Loaded::into_entry).transpose()
    }
}
