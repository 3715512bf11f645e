//! Streams: IDs, the entry encoding, the sparse block index, trimming,
//! ranges and idempotency. A [`Stream`] is the in-memory state of one
//! stream key; it reads entries back from the WAL but never writes to it
//! (the `Store` writes records and then calls the `apply_*` functions here,
//! the same ones recovery calls).
//!
//! Consumer groups are not here: they live next to the stream in the key
//! space and read it through the same range functions.

pub mod entry;
pub mod groups;
pub mod id;
pub mod idmp;
pub mod index;
pub mod listpack;
pub mod range;
pub mod trim;

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use eddy_wal::Wal;
use serde::{Deserialize, Serialize};

pub use entry::{Addr, Entry, Fields};
pub use groups::RefPolicy;
pub use id::{IdRange, IdSpec, StreamId};
pub use idmp::IdmpConfig;
pub use trim::{Trim, TrimStrategy};

use crate::error::Error;
use crate::group::ConsumerGroup;
use index::{
    Block, Blocks, Loaded, Pending, RecordCache, first_block_reaching, load_block, load_block_from,
    walk_back,
};
use listpack::NodeSize;

/// `stream-node-max-bytes` / `stream-node-max-entries`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct NodeLimits {
    /// Node size cap in bytes (0 = 1 GiB).
    pub max_bytes: u64,
    /// Entries per node (0 = no limit).
    pub max_entries: u64,
}

impl Default for NodeLimits {
    fn default() -> Self {
        NodeLimits {
            max_bytes: 4096,
            max_entries: 100,
        }
    }
}

/// Field names of the tail block's first entry (Redis's master entry),
/// cached because every append compares against them.
#[derive(Clone, Debug)]
pub(crate) struct Master {
    first: Addr,
    fields: Box<[Box<[u8]>]>,
}

/// In-memory state of one stream.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub struct Stream {
    blocks: Blocks,
    length: u64,
    last_id: StreamId,
    first_id: StreamId,
    max_deleted: StreamId,
    entries_added: u64,
    /// Live encoded bytes (MAXSIZE).
    bytes: u64,
    /// Every entry below this ID is deleted: an exact trim inside the head
    /// block. Reset when the head block goes.
    trim_floor: StreamId,
    /// Entries deleted by XDEL inside blocks that are still indexed.
    tombstones: BTreeSet<StreamId>,
    idmp: idmp::Idmp,
    /// Consumer groups, by name (XINFO GROUPS lists them in this order).
    pub(crate) groups: BTreeMap<Box<[u8]>, ConsumerGroup>,
    #[serde(skip)]
    master: Option<Arc<Master>>,
    #[serde(skip)]
    pending: Option<Pending>,
}

/// Where and what an appended entry is, for [`Stream::apply_add`].
#[derive(Debug, Clone, Copy)]
pub(crate) struct Placed {
    /// Its address (possibly a stand-in until the record is written).
    pub addr: Addr,
    /// Its ID.
    pub id: StreamId,
    /// Whether it starts a new block.
    pub new_block: bool,
    /// Encoded size.
    pub size: u64,
    /// Byte offset inside its record's payload.
    pub offset: u64,
}

/// What [`Stream::undo_point`] saved: enough to take back an append whose
/// record could not be written.
#[derive(Debug)]
pub(crate) struct Undo {
    nblocks: usize,
    tail: Option<Block>,
    length: u64,
    last_id: StreamId,
    first_id: StreamId,
    entries_added: u64,
    bytes: u64,
    master: Option<Arc<Master>>,
}

/// XINFO STREAM's stream-level fields.
#[derive(Debug, Clone)]
pub struct StreamInfo {
    /// Live entries.
    pub length: u64,
    /// Blocks (Redis: radix-tree keys, i.e. listpack nodes).
    pub radix_tree_keys: u64,
    /// Redis reports its radix-tree node count; eddy reports blocks + 1,
    /// the node count of a radix tree whose keys share no prefix.
    pub radix_tree_nodes: u64,
    /// Last generated ID.
    pub last_generated_id: StreamId,
    /// Highest ID deleted by XDEL.
    pub max_deleted_entry_id: StreamId,
    /// Entries ever added.
    pub entries_added: u64,
    /// First live ID (0-0 when empty).
    pub recorded_first_entry_id: StreamId,
    /// First live entry.
    pub first_entry: Option<Entry>,
    /// Last live entry.
    pub last_entry: Option<Entry>,
    /// Live encoded bytes (MAXSIZE accounting).
    pub bytes: u64,
    /// Idempotency window.
    pub idmp: IdmpConfig,
    /// Producers with tracked idempotency IDs.
    pub pids_tracked: u64,
    /// Idempotency IDs tracked.
    pub iids_tracked: u64,
    /// Idempotency IDs recorded since creation.
    pub iids_added: u64,
    /// Duplicates answered since the process started.
    pub iids_duplicates: u64,
    /// Consumer groups.
    pub groups: u64,
}

impl Stream {
    /// Live entries (XLEN).
    pub fn len(&self) -> u64 {
        self.length
    }
    /// Whether the stream has no live entries.
    pub fn is_empty(&self) -> bool {
        self.length == 0
    }

    /// Live entries with an ID above `id` (a view's lag): whole blocks by
    /// their counts, only the block holding `id` read from the log.
    pub fn count_after(&self, wal: &Wal, id: StreamId) -> Result<u64, Error> {
        let Some(start) = id.next() else {
            return Ok(0);
        };
        let first = index::first_block_reaching(&self.blocks, start);
        let mut n = 0;
        for (i, b) in self.blocks.iter().enumerate().skip(first) {
            if i == first && b.first_id < start {
                let part = IdRange {
                    start,
                    end: b.last_id,
                };
                n += self.range(wal, part, None)?.len() as u64;
            } else {
                n += u64::from(b.live);
            }
        }
        Ok(n)
    }
    /// Last generated ID (what new IDs must exceed).
    pub fn last_id(&self) -> StreamId {
        self.last_id
    }
    /// First live ID as Redis records it (0-0 when empty).
    pub fn first_id(&self) -> StreamId {
        self.first_id
    }
    /// Highest ID removed by XDEL.
    pub fn max_deleted(&self) -> StreamId {
        self.max_deleted
    }
    /// Entries ever added.
    pub fn entries_added(&self) -> u64 {
        self.entries_added
    }
    /// Live encoded bytes.
    pub fn bytes(&self) -> u64 {
        self.bytes
    }
    /// Number of blocks in the index.
    pub fn block_count(&self) -> usize {
        self.blocks.len()
    }
    /// Address of the first indexed entry: the log must be kept from here.
    pub fn first_addr(&self) -> Option<Addr> {
        self.blocks.first_addr()
    }
    pub(crate) fn tail_block(&self) -> Option<&Block> {
        self.blocks.back()
    }
    /// Idempotency state.
    pub fn idmp(&self) -> &idmp::Idmp {
        &self.idmp
    }
    pub(crate) fn idmp_mut(&mut self) -> &mut idmp::Idmp {
        &mut self.idmp
    }
    /// Heap bytes held by this stream's index and its consumer groups (an
    /// estimate for `INFO memory` and maxmemory accounting).
    pub fn index_bytes(&self) -> usize {
        self.blocks.heap_bytes()
            + self.tombstones.len() * (std::mem::size_of::<StreamId>() + 8)
            + self
                .groups
                .iter()
                .map(|(name, g)| name.len() + g.memory_bytes())
                .sum::<usize>()
    }

    /// Whether an entry is deleted (tombstoned or below the trim floor).
    pub fn is_deleted(&self, id: StreamId) -> bool {
        id < self.trim_floor || self.tombstones.contains(&id)
    }

    /// The ID XADD would give a new entry, by Redis's rules.
    pub fn resolve_id(&self, spec: IdSpec, now_ms: u64) -> Result<StreamId, Error> {
        let last = self.last_id;
        let id = match spec {
            IdSpec::Auto => {
                if now_ms > last.ms {
                    StreamId::new(now_ms, 0)
                } else {
                    last.next().ok_or(Error::IdExhausted)?
                }
            }
            IdSpec::AutoSeq(ms) => {
                if ms == last.ms {
                    if last.seq == u64::MAX {
                        return Err(Error::IdNotIncreasing);
                    }
                    StreamId::new(ms, last.seq + 1)
                } else {
                    StreamId::new(ms, 0)
                }
            }
            IdSpec::Explicit(id) => {
                if id == StreamId::MIN {
                    return Err(Error::IdZero);
                }
                id
            }
        };
        // After an XSETID below deleted-but-indexed entries, IDs up to the
        // last indexed one stay refused: the index needs IDs to grow.
        let top = self.blocks.back().map_or(last, |b| b.last_id.max(last));
        if id <= top {
            return Err(Error::IdNotIncreasing);
        }
        Ok(id)
    }

    /// Whether Redis would put an entry of `entry_len` field+value bytes in
    /// a new node.
    pub fn needs_new_block(&self, entry_len: u64, limits: NodeLimits) -> bool {
        match self.blocks.back() {
            None => true,
            Some(b) => listpack::needs_new_node(
                b.node_bytes(),
                b.entries(),
                entry_len,
                limits.max_bytes,
                limits.max_entries,
            ),
        }
    }

    pub(crate) fn undo_point(&self) -> Undo {
        Undo {
            nblocks: self.blocks.len(),
            tail: self.blocks.back().copied(),
            length: self.length,
            last_id: self.last_id,
            first_id: self.first_id,
            entries_added: self.entries_added,
            bytes: self.bytes,
            master: self.master.clone(),
        }
    }

    /// Takes back appends made since `u` (their record was not written).
    pub(crate) fn rollback(&mut self, u: Undo) {
        self.blocks.truncate(u.nblocks);
        if let (Some(t), Some(b)) = (u.tail, self.blocks.back_mut()) {
            *b = t;
        }
        self.length = u.length;
        self.last_id = u.last_id;
        self.first_id = u.first_id;
        self.entries_added = u.entries_added;
        self.bytes = u.bytes;
        self.master = u.master;
        self.pending = None;
    }

    pub(crate) fn set_pending(&mut self, p: Option<Pending>) {
        self.pending = p;
    }

    /// Replaces the stand-in addresses of a just-written run with `pos`.
    pub(crate) fn settle(&mut self, pos: u64) {
        let fix = |a: &mut Addr| {
            if a.is_pending() {
                *a = Addr::new(pos, a.idx());
            }
        };
        for b in self.blocks.iter_mut().rev() {
            if !b.last.is_pending() {
                break;
            }
            // A block the run continues holds its entries 0..=last.idx()
            // at its end; the hints that fall on them now get a position
            // (a block the run started lies in this record alone).
            if !b.first.is_pending() {
                let run = b.last.idx() as u64 + 1;
                let entries = b.entries();
                b.hints
                    .settle(entries.saturating_sub(run), entries, pos, b.first.pos());
            }
            fix(&mut b.last);
            fix(&mut b.first);
        }
        if let Some(m) = &mut self.master
            && m.first.is_pending()
        {
            Arc::make_mut(m).first = Addr::new(pos, m.first.idx());
        }
        self.pending = None;
    }

    fn master_for_tail(&mut self, wal: &Wal) -> Result<Arc<Master>, Error> {
        let tail = self
            .blocks
            .back()
            .ok_or_else(|| Error::corrupt("no tail block"))?;
        match &self.master {
            Some(m) if m.first == tail.first => Ok(m.clone()),
            _ => {
                let fields = index::field_names(wal, tail.first)?.into_boxed_slice();
                let m = Arc::new(Master {
                    first: tail.first,
                    fields,
                });
                self.master = Some(m.clone());
                Ok(m)
            }
        }
    }

    /// Applies one appended entry (live writes and recovery alike).
    pub(crate) fn apply_add<'a, F>(&mut self, wal: &Wal, at: Placed, fields: F) -> Result<(), Error>
    where
        F: Iterator<Item = (&'a [u8], &'a [u8])> + Clone,
    {
        let Placed {
            addr,
            id,
            new_block,
            size,
            offset,
        } = at;
        if new_block || self.blocks.is_empty() {
            let names: Box<[Box<[u8]>]> = fields.clone().map(|(f, _)| f.into()).collect();
            let mut node = NodeSize::with_master(names.iter().map(|f| &f[..]));
            node.add_entry(id, id, true, fields);
            self.blocks.push_back(Block {
                first_id: id,
                last_id: id,
                first: addr,
                last: addr,
                live: 1,
                deleted: 0,
                node,
                live_bytes: size,
                first_off: u32::try_from(offset).map_err(|_| Error::TooLarge)?,
                hints: index::Hints::default(),
            });
            self.master = Some(Arc::new(Master {
                first: addr,
                fields: names,
            }));
        } else {
            let master = self.master_for_tail(wal)?;
            let same = fields
                .clone()
                .map(|(f, _)| f)
                .eq(master.fields.iter().map(|f| &f[..]));
            let tail = self
                .blocks
                .back_mut()
                .ok_or_else(|| Error::corrupt("no tail block"))?;
            tail.node.add_entry(tail.first_id, id, same, fields);
            let pos = (!addr.is_pending()).then(|| addr.pos());
            tail.hints.note(tail.entries(), pos, tail.first.pos());
            tail.last_id = id;
            tail.last = addr;
            tail.live += 1;
            tail.live_bytes += size;
        }
        if self.length == 0 {
            self.first_id = id;
        }
        self.length += 1;
        self.entries_added += 1;
        self.last_id = id;
        self.bytes += size;
        Ok(())
    }

    /// Loads a block's entries, seeing pending ones too.
    pub(crate) fn load(&self, wal: &Wal, b: &Block) -> Result<Vec<Loaded>, Error> {
        load_block(wal, b, self.pending.as_ref(), &mut RecordCache::default())
    }

    /// Same, sharing a cache of recently read records across blocks.
    pub(crate) fn load_with(
        &self,
        wal: &Wal,
        b: &Block,
        cache: &mut RecordCache,
    ) -> Result<Vec<Loaded>, Error> {
        load_block(wal, b, self.pending.as_ref(), cache)
    }

    /// Same, reading only as far back as needed to reach `from` (see
    /// [`load_block_from`]).
    pub(crate) fn load_from_with(
        &self,
        wal: &Wal,
        b: &Block,
        cache: &mut RecordCache,
        from: StreamId,
    ) -> Result<Vec<Loaded>, Error> {
        load_block_from(wal, b, self.pending.as_ref(), cache, from)
    }

    /// Walks a block's entries from its last one backwards until `visit`
    /// returns `true` (see [`walk_back`]).
    pub(crate) fn walk_back_with(
        &self,
        wal: &Wal,
        b: &Block,
        cache: &mut RecordCache,
        visit: impl FnMut(Loaded) -> Result<bool, Error>,
    ) -> Result<bool, Error> {
        walk_back(wal, b, self.pending.as_ref(), cache, visit)
    }

    /// The live entry with this ID, if any: `(block index, loaded entry)`.
    pub(crate) fn find(&self, wal: &Wal, id: StreamId) -> Result<Option<(usize, Loaded)>, Error> {
        let bi = first_block_reaching(&self.blocks, id);
        let Some(b) = self.blocks.get(bi) else {
            return Ok(None);
        };
        if b.first_id > id || b.live == 0 || self.is_deleted(id) {
            return Ok(None);
        }
        let entries = self.load(wal, b)?;
        Ok(entries.into_iter().find(|e| e.id == id).map(|e| (bi, e)))
    }

    /// Removes block `bi` from the index (all its entries are gone).
    fn drop_block(&mut self, bi: usize) {
        let Some(b) = self.blocks.remove(bi) else {
            return;
        };
        self.length -= u64::from(b.live);
        self.bytes -= b.live_bytes;
        let mut above = self.tombstones.split_off(&b.first_id);
        if let Some(next) = b.last_id.next() {
            let mut rest = above.split_off(&next);
            self.tombstones.append(&mut rest);
        }
        drop(above);
        if bi == 0 {
            self.trim_floor = StreamId::MIN;
        }
        if self.blocks.len() == bi {
            self.master = None;
        }
    }

    /// Applies XDEL of entries known to be live, each with its size.
    pub(crate) fn apply_del(&mut self, wal: &Wal, ids: &[(StreamId, u64)]) -> Result<(), Error> {
        let mut first_gone = false;
        for &(id, size) in ids {
            let bi = first_block_reaching(&self.blocks, id);
            let Some(b) = self.blocks.get_mut(bi) else {
                continue;
            };
            if b.first_id > id {
                continue;
            }
            if b.live <= 1 {
                self.drop_block(bi);
            } else {
                b.live -= 1;
                b.deleted += 1;
                b.live_bytes = b.live_bytes.saturating_sub(size);
                self.length -= 1;
                self.bytes = self.bytes.saturating_sub(size);
                self.tombstones.insert(id);
            }
            first_gone |= id == self.first_id;
            self.max_deleted = self.max_deleted.max(id);
        }
        if self.length == 0 {
            self.first_id = StreamId::MIN;
        } else if first_gone {
            self.first_id = self.first_live(wal)?.map_or(StreamId::MIN, |e| e.id);
        }
        Ok(())
    }

    /// XSETID validation, in Redis's order (the key exists). Redis 7.0 does
    /// not compare with the current max deleted ID (later versions do).
    pub fn check_setid(
        &self,
        wal: &Wal,
        id: StreamId,
        entries_added: Option<u64>,
        max_deleted: Option<StreamId>,
    ) -> Result<(), Error> {
        if max_deleted.is_some_and(|md| id < md) {
            return Err(Error::XsetidBelowGivenMaxDeleted);
        }
        if self.length > 0 {
            let top = self.last_live(wal)?.map_or(StreamId::MIN, |e| e.id);
            if id < top {
                return Err(Error::XsetidBelowTop);
            }
            if entries_added.is_some_and(|n| self.length > n) {
                return Err(Error::XsetidEntriesAdded);
            }
        }
        Ok(())
    }

    /// Applies XSETID.
    pub(crate) fn apply_setid(
        &mut self,
        id: StreamId,
        entries_added: Option<u64>,
        max_deleted: Option<StreamId>,
    ) {
        self.last_id = id;
        if let Some(n) = entries_added {
            self.entries_added = n;
        }
        if let Some(md) = max_deleted.filter(|md| *md != StreamId::MIN) {
            self.max_deleted = md;
        }
    }

    /// XINFO STREAM's fields.
    pub fn info(&self, wal: &Wal) -> Result<StreamInfo, Error> {
        let first_entry = self.first_live(wal)?.map(|l| l.into_entry()).transpose()?;
        let last_entry = self.last_live(wal)?.map(|l| l.into_entry()).transpose()?;
        Ok(StreamInfo {
            length: self.length,
            radix_tree_keys: self.blocks.len() as u64,
            radix_tree_nodes: self.blocks.len() as u64 + 1,
            last_generated_id: self.last_id,
            max_deleted_entry_id: self.max_deleted,
            entries_added: self.entries_added,
            recorded_first_entry_id: self.first_id,
            first_entry,
            last_entry,
            bytes: self.bytes,
            idmp: self.idmp.config(),
            pids_tracked: self.idmp.producers() as u64,
            iids_tracked: self.idmp.tracked() as u64,
            iids_added: self.idmp.added(),
            iids_duplicates: self.idmp.duplicates(),
            groups: self.groups.len() as u64,
        })
    }
}

impl Loaded {
    /// The public, zero-copy view of this entry.
    pub(crate) fn into_entry(self) -> Result<Entry, Error> {
        let record = self
            .record
            .ok_or_else(|| Error::corrupt("entry not written yet"))?;
        Ok(Entry::new(self.id, record, self.span))
    }
}
