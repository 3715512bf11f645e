//! The stream side of consumer groups: whether an entry still exists
//! (without reading the log), batched lookups of pending entries, Redis's
//! entries-read / lag estimates, and trimming under a reference policy
//! (KEEPREF / DELREF / ACKED).
//!
//! Group state itself lives in `crate::group`; this module only answers
//! questions that need the stream's private index.

use eddy_wal::Wal;

use super::index::{Loaded, RecordCache, first_block_reaching};
use super::trim::{Trim, TrimStrategy};
use super::{Entry, Stream, StreamId};
use crate::error::Error;
use crate::group::ConsumerGroup;
use crate::group::record::GroupRecord;
use crate::record::TrimEffect;

/// What trimming and deleting do with consumer-group references (Redis 8.2).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum RefPolicy {
    /// Delete entries; leave pending references in place (Redis's default).
    #[default]
    KeepRef,
    /// Delete entries and drop their pending references in every group.
    DelRef,
    /// Only delete entries every group has read and acknowledged.
    Acked,
}

impl Stream {
    /// The group `name`.
    pub fn group(&self, name: &[u8]) -> Option<&ConsumerGroup> {
        self.groups.get(name)
    }

    /// Every group, in name order.
    pub fn groups(&self) -> impl Iterator<Item = (&[u8], &ConsumerGroup)> {
        self.groups.iter().map(|(k, g)| (&k[..], g))
    }

    /// Whether an entry that was once added is still live. Reads no log:
    /// the block index and the tombstones answer it. Only valid for IDs
    /// that were added (pending IDs always were).
    pub fn holds(&self, id: StreamId) -> bool {
        let bi = first_block_reaching(&self.blocks, id);
        match self.blocks.get(bi) {
            Some(b) => b.first_id <= id && b.live > 0 && !self.is_deleted(id),
            None => false,
        }
    }

    /// Live entries for each of `ids` (`None` where deleted or never
    /// added). Consecutive IDs in one block share one block read.
    pub fn fetch(&self, wal: &Wal, ids: &[StreamId]) -> Result<Vec<Option<Entry>>, Error> {
        let mut out = Vec::with_capacity(ids.len());
        let mut cached: Option<(usize, Vec<Loaded>)> = None;
        let mut records = RecordCache::default();
        for &id in ids {
            let bi = first_block_reaching(&self.blocks, id);
            let Some(b) = self.blocks.get(bi) else {
                out.push(None);
                continue;
            };
            if b.first_id > id || b.live == 0 || self.is_deleted(id) {
                out.push(None);
                continue;
            }
            if cached.as_ref().is_none_or(|(c, _)| *c != bi) {
                cached = Some((bi, self.load_with(wal, b, &mut records)?));
            }
            let found = cached.as_ref().and_then(|(_, loaded)| {
                loaded
                    .binary_search_by(|e| e.id.cmp(&id))
                    .ok()
                    .and_then(|i| loaded.get(i).cloned())
            });
            out.push(match found {
                Some(l) => Some(l.into_entry()?),
                None => None,
            });
        }
        Ok(out)
    }

    /// Redis's `streamEntryIsReferenced`: some group has not delivered the
    /// entry yet or still has it pending.
    pub fn is_referenced(&self, id: StreamId) -> bool {
        self.groups
            .values()
            .any(|g| id > g.last_id || g.pel.contains_key(&id))
    }

    /// Every live entry below this ID was delivered to and acknowledged by
    /// every group (`None`: no groups, nothing holds entries back).
    pub fn acked_horizon(&self) -> Option<StreamId> {
        self.groups
            .values()
            .map(|g| {
                let undelivered = g.last_id.next().unwrap_or(StreamId::MAX);
                g.pel
                    .keys()
                    .next()
                    .map_or(undelivered, |p| (*p).min(undelivered))
            })
            .min()
    }

    /// Redis's `streamRangeHasTombstones(s, start, NULL)`.
    pub fn has_tombstones_from(&self, start: StreamId) -> bool {
        if self.length == 0 || self.max_deleted == StreamId::MIN {
            return false;
        }
        if self.first_id > self.max_deleted {
            return false;
        }
        start <= self.max_deleted
    }

    /// Redis's `streamEstimateDistanceFromFirstEverEntry`: the entries-read
    /// counter of `id`, if it can be known.
    pub fn estimate_entries_read(&self, id: StreamId) -> Option<u64> {
        if self.entries_added == 0 {
            return Some(0);
        }
        if self.length == 0 && id <= self.last_id {
            return Some(self.entries_added);
        }
        if id == self.last_id {
            return Some(self.entries_added);
        }
        if id > self.last_id {
            return None;
        }
        if self.max_deleted == StreamId::MIN || self.max_deleted < self.first_id {
            if id < self.first_id {
                return Some(self.entries_added - self.length);
            }
            if id == self.first_id {
                return Some(self.entries_added - self.length + 1);
            }
        }
        None
    }

    /// The entries-read counter after a group delivers `id` (its new last
    /// ID), as Redis updates it in `streamReplyWithRange`.
    pub fn advance_entries_read(&self, read: Option<u64>, id: StreamId) -> Option<u64> {
        match read {
            Some(r) if !self.has_tombstones_from(id) => Some(r + 1),
            _ if self.entries_added > 0 => self.estimate_entries_read(id),
            _ => read,
        }
    }

    /// XINFO GROUPS `lag` (`None` is Redis's null).
    pub fn group_lag(&self, g: &ConsumerGroup) -> Option<u64> {
        if self.entries_added == 0 {
            return Some(0);
        }
        if let Some(r) = g.entries_read
            && !self.has_tombstones_from(g.last_id)
        {
            return Some(self.entries_added.saturating_sub(r));
        }
        self.estimate_entries_read(g.last_id)
            .map(|r| self.entries_added.saturating_sub(r))
    }

    /// Plans a trim under a reference policy. ACKED stops where the acked
    /// horizon stops it (trims are prefixes, so the result is the shorter
    /// of the two prefixes); DELREF adds a record dropping every pending
    /// reference below the new first entry.
    pub(crate) fn plan_trim_refs<'k>(
        &self,
        wal: &Wal,
        key: &'k [u8],
        trim: &Trim,
        refs: RefPolicy,
        node_max_entries: u64,
        now_ms: u64,
    ) -> Result<(TrimEffect, u64, Option<GroupRecord<'k>>), Error> {
        let (mut effect, mut removed) = self.plan_trim(wal, trim, node_max_entries, now_ms)?;
        if removed == 0 || self.groups.is_empty() {
            return Ok((effect, removed, None));
        }
        match refs {
            RefPolicy::KeepRef => Ok((effect, removed, None)),
            RefPolicy::Acked => {
                if let Some(h) = self.acked_horizon() {
                    let cap = Trim {
                        strategy: TrimStrategy::MinId(h),
                        approx: trim.approx,
                        limit: trim.limit,
                    };
                    let (e2, r2) = self.plan_trim(wal, &cap, node_max_entries, now_ms)?;
                    if r2 < removed {
                        effect = e2;
                        removed = r2;
                    }
                }
                Ok((effect, removed, None))
            }
            RefPolicy::DelRef => {
                let bound = match effect.floor {
                    Some(f) => f,
                    None => usize::try_from(effect.blocks)
                        .ok()
                        .and_then(|n| self.blocks.get(n))
                        .map_or(StreamId::MAX, |b| b.first_id),
                };
                let any = self
                    .groups
                    .values()
                    .any(|g| g.pel.keys().next().is_some_and(|p| *p < bound));
                let drop = any.then_some(GroupRecord::PelDrop {
                    key,
                    below: Some(bound),
                    ids: Vec::new(),
                });
                Ok((effect, removed, drop))
            }
        }
    }
}
