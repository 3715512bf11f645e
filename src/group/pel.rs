//! Read-only queries over a group's pending entries and consumers, and the
//! reply data they return (XPENDING, XINFO GROUPS / CONSUMERS / STREAM
//! FULL). Shaped so the RESP layer can emit Redis's replies in RESP2 and
//! RESP3 without looking at group internals.

use std::collections::BTreeSet;
use std::ops::Bound;

use super::{ConsumerGroup, NOBODY, PendingEntry};
use crate::stream::StreamId;

/// XPENDING key group (summary form).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PendingSummary {
    /// Pending entries.
    pub count: u64,
    /// Smallest pending ID (`None` when empty: Redis's nil).
    pub first: Option<StreamId>,
    /// Largest pending ID.
    pub last: Option<StreamId>,
    /// `(consumer, pending)` for consumers with pending entries, by name
    /// (Redis sends the count as a bulk string). Entries handed back by
    /// consumer expiry are listed under `""`. Empty PEL: Redis's null array.
    pub consumers: Vec<(Vec<u8>, u64)>,
}

/// XPENDING's extended form: which entries.
#[derive(Clone, Copy, Debug)]
pub struct PendingQuery<'a> {
    /// Smallest ID (inclusive; exclusive bounds already resolved).
    pub start: StreamId,
    /// Largest ID (inclusive).
    pub end: StreamId,
    /// At most this many (negative = 0).
    pub count: i64,
    /// IDLE: only entries idle at least this long (0 = all).
    pub min_idle: i64,
    /// Only this consumer's entries (a missing consumer gives nothing).
    pub consumer: Option<&'a [u8]>,
}

/// One row of XPENDING's extended form.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PendingRow {
    /// Entry ID.
    pub id: StreamId,
    /// Owner (`""` for an entry handed back to the group).
    pub consumer: Vec<u8>,
    /// Ms since the last delivery (`-1` for an entry handed back).
    pub idle: i64,
    /// Times delivered.
    pub delivery_count: u64,
}

/// One group of XINFO GROUPS.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct GroupInfo {
    /// Group name.
    pub name: Vec<u8>,
    /// Consumers.
    pub consumers: u64,
    /// Pending entries.
    pub pending: u64,
    /// Last delivered ID.
    pub last_delivered_id: StreamId,
    /// Entries read (`None` is Redis's null).
    pub entries_read: Option<u64>,
    /// Lag (`None` is Redis's null).
    pub lag: Option<u64>,
}

/// One consumer of XINFO CONSUMERS (Redis 7.2 fields).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ConsumerInfo {
    /// Consumer name.
    pub name: Vec<u8>,
    /// Pending entries it owns.
    pub pending: u64,
    /// Ms since its last attempted interaction.
    pub idle: i64,
    /// Ms since its last successful interaction, `-1` if never.
    pub inactive: i64,
}

/// One group of XINFO STREAM FULL.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct GroupFull {
    /// Group name.
    pub name: Vec<u8>,
    /// Last delivered ID.
    pub last_delivered_id: StreamId,
    /// Entries read (`None` = null).
    pub entries_read: Option<u64>,
    /// Lag (`None` = null).
    pub lag: Option<u64>,
    /// Pending entries in all.
    pub pel_count: u64,
    /// First pending entries: `(id, consumer, delivery time ms, count)`.
    pub pending: Vec<(StreamId, Vec<u8>, u64, u64)>,
    /// Consumers.
    pub consumers: Vec<ConsumerFull>,
}

/// One consumer of XINFO STREAM FULL.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ConsumerFull {
    /// Consumer name.
    pub name: Vec<u8>,
    /// Unix ms of the last attempted interaction.
    pub seen_time: u64,
    /// Unix ms of the last successful interaction (`-1` if never).
    pub active_time: i64,
    /// Pending entries it owns.
    pub pel_count: u64,
    /// Its first pending entries: `(id, delivery time ms, count)`.
    pub pending: Vec<(StreamId, u64, u64)>,
}

fn elapsed(now: u64, then: u64) -> i64 {
    i64::try_from(now.saturating_sub(then)).unwrap_or(i64::MAX)
}

impl ConsumerGroup {
    /// XPENDING's summary.
    pub fn summary(&self) -> PendingSummary {
        let mut consumers = Vec::new();
        if self.unowned > 0 {
            consumers.push((Vec::new(), self.unowned));
        }
        consumers.extend(
            self.consumers
                .iter()
                .filter(|(_, c)| !c.pel.is_empty())
                .map(|(n, c)| (n.to_vec(), c.pel.len() as u64)),
        );
        PendingSummary {
            count: self.pel.len() as u64,
            first: self.pel.keys().next().copied(),
            last: self.pel.keys().next_back().copied(),
            consumers,
        }
    }

    fn row(&self, id: StreamId, p: &PendingEntry, now: u64) -> PendingRow {
        PendingRow {
            id,
            consumer: self.owner_name(p.owner).to_vec(),
            idle: if p.owner == NOBODY {
                -1
            } else {
                elapsed(now, p.delivery_time)
            },
            delivery_count: p.delivery_count,
        }
    }

    /// XPENDING's extended form at time `now`. Seeks to `start` in
    /// `O(log n)`, then visits entries up to `end` until `count` match.
    pub fn pending_range(&self, q: &PendingQuery<'_>, now: u64) -> Vec<PendingRow> {
        let mut left = usize::try_from(q.count.max(0)).unwrap_or(usize::MAX);
        let mut out = Vec::new();
        if left == 0 || q.start > q.end {
            return out;
        }
        let set: Option<&BTreeSet<StreamId>> = match q.consumer {
            Some(name) => match self.consumers.get(name) {
                Some(c) => Some(&c.pel),
                None => return out,
            },
            None => None,
        };
        let range = (Bound::Included(q.start), Bound::Included(q.end));
        let mut visit = |id: StreamId, p: &PendingEntry| {
            if q.min_idle != 0 && elapsed(now, p.delivery_time) < q.min_idle {
                return true;
            }
            out.push(self.row(id, p, now));
            left -= 1;
            left > 0
        };
        match set {
            Some(s) => {
                for id in s.range(range) {
                    if let Some(p) = self.pel.get(id)
                        && !visit(*id, p)
                    {
                        break;
                    }
                }
            }
            None => {
                for (id, p) in self.pel.range(range) {
                    if !visit(*id, p) {
                        break;
                    }
                }
            }
        }
        out
    }

    /// XINFO CONSUMERS at time `now`.
    pub fn consumers_info(&self, now: u64) -> Vec<ConsumerInfo> {
        self.consumers
            .iter()
            .map(|(n, c)| ConsumerInfo {
                name: n.to_vec(),
                pending: c.pel.len() as u64,
                idle: elapsed(now, c.seen_time),
                inactive: c.active_time.map_or(-1, |t| elapsed(now, t)),
            })
            .collect()
    }

    /// XINFO STREAM FULL's part for this group; `count` bounds each
    /// pending list (0 = all).
    pub fn full(&self, name: &[u8], lag: Option<u64>, count: usize) -> GroupFull {
        let take = if count == 0 { usize::MAX } else { count };
        GroupFull {
            name: name.to_vec(),
            last_delivered_id: self.last_id,
            entries_read: self.entries_read,
            lag,
            pel_count: self.pel.len() as u64,
            pending: self
                .pel
                .iter()
                .take(take)
                .map(|(id, p)| {
                    let owner = self.owner_name(p.owner).to_vec();
                    (*id, owner, p.delivery_time, p.delivery_count)
                })
                .collect(),
            consumers: self
                .consumers
                .iter()
                .map(|(n, c)| ConsumerFull {
                    name: n.to_vec(),
                    seen_time: c.seen_time,
                    active_time: c
                        .active_time
                        .map_or(-1, |t| i64::try_from(t).unwrap_or(i64::MAX)),
                    pel_count: c.pel.len() as u64,
                    pending: c
                        .pel
                        .iter()
                        .take(take)
                        .filter_map(|id| {
                            self.pel
                                .get(id)
                                .map(|p| (*id, p.delivery_time, p.delivery_count))
                        })
                        .collect(),
                })
                .collect(),
        }
    }
}
