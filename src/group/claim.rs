//! Deliveries and claims: XREADGROUP (`>` and history), XCLAIM and
//! XAUTOCLAIM, with the dead-letter policy and lazy consumer expiry.
//!
//! Each call computes its whole effect under the engine lock (new owners,
//! delivery times from one clock reading, counts, removals, the new
//! last-delivered ID and entries-read counter), writes it as one group
//! record, or, when entries are dead-lettered, as one atomic batch of an
//! XADD run on the dead-letter stream followed by the group record, and
//! then applies it. The entries of the reply are read back from the log
//! under the same lock, so a concurrent XDEL cannot slip in between.

use std::collections::{BTreeMap, HashMap};
use std::ops::Bound;

use super::ops::{group_of, idle_consumers};
use super::record::{ACTIVE, GroupRecord, GroupUpdate, PelOp, SEEN};
use super::{NOBODY, PendingEntry};
use crate::engine::{AppendItem, Engine};
use crate::error::Error;
use crate::store::Store;
use crate::stream::{Entry, IdSpec, RefPolicy, StreamId};

/// Seen-time updates of consumers that got nothing are logged at most this
/// often (ms): an idle poll loop must not write a record per poll. Between
/// two logged updates the seen time is kept in memory only, so after a
/// restart a consumer may look up to this much idler than it was.
pub const SEEN_LOG_INTERVAL_MS: u64 = 1000;

/// Field names of the provenance a dead-lettered entry carries, before the
/// original fields.
pub mod dead_letter_fields {
    /// Source stream key.
    pub const STREAM: &[u8] = b"dl-stream";
    /// Group name.
    pub const GROUP: &[u8] = b"dl-group";
    /// Consumer that had it last (`""` if handed back to the group).
    pub const CONSUMER: &[u8] = b"dl-consumer";
    /// Original entry ID.
    pub const ID: &[u8] = b"dl-id";
    /// Deliveries before it was moved.
    pub const DELIVERIES: &[u8] = b"dl-deliveries";
}

/// Which entries XREADGROUP returns for one stream.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ReadFrom {
    /// `>`: entries never delivered to the group.
    New,
    /// An ID: this consumer's pending entries after it (its history).
    After(StreamId),
}

/// An entry returned by a group read or claim.
#[derive(Clone, Debug)]
pub struct GroupEntry {
    /// Entry ID.
    pub id: StreamId,
    /// The entry; `None` for a history entry deleted from the stream
    /// (Redis replies `[id, nil]`) and for JUSTID claims.
    pub entry: Option<Entry>,
}

/// XREADGROUP's result for one stream.
#[derive(Clone, Debug)]
pub struct StreamRead {
    /// Stream key.
    pub key: Vec<u8>,
    /// Entries, in ID order.
    pub entries: Vec<GroupEntry>,
    /// Pending entries moved to the dead-letter stream instead.
    pub dead_lettered: Vec<StreamId>,
}

/// IDLE or TIME of XCLAIM.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DeliveryTime {
    /// IDLE ms: delivery time = now - ms.
    Idle(i64),
    /// TIME unix-ms.
    Time(i64),
}

/// XCLAIM's options.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ClaimArgs {
    /// min-idle-time (negative = 0).
    pub min_idle: i64,
    /// IDLE / TIME (the last one given wins, as in Redis).
    pub delivery: Option<DeliveryTime>,
    /// RETRYCOUNT (negative = not given).
    pub retry_count: Option<i64>,
    /// FORCE: create pending entries for live entries not pending.
    pub force: bool,
    /// JUSTID: reply IDs only, leave delivery counts alone.
    pub justid: bool,
    /// LASTID: raise the group's last delivered ID to this.
    pub last_id: Option<StreamId>,
}

/// What XCLAIM did.
#[derive(Clone, Debug)]
pub struct ClaimReply {
    /// Claimed entries in argument order (`entry` is `None` with JUSTID).
    pub claimed: Vec<GroupEntry>,
    /// Pending entries moved to the dead-letter stream instead.
    pub dead_lettered: Vec<StreamId>,
}

/// What XAUTOCLAIM did.
#[derive(Clone, Debug)]
pub struct AutoClaimReply {
    /// Cursor for the next call (`0-0`: the scan is complete).
    pub next: StreamId,
    /// Claimed entries (`entry` is `None` with JUSTID).
    pub claimed: Vec<GroupEntry>,
    /// Pending IDs whose entries were deleted, now dropped from the PEL.
    pub deleted: Vec<StreamId>,
    /// Pending entries moved to the dead-letter stream instead.
    pub dead_lettered: Vec<StreamId>,
}

/// Entries to move to a dead-letter stream: `(id, owner name, count)`.
struct DeadLetters {
    stream: Vec<u8>,
    rows: Vec<(StreamId, Vec<u8>, u64)>,
}

impl Store {
    /// Writes `update` (plus the dead-letter run, atomically) and applies it.
    fn commit_update(
        &self,
        eng: &mut Engine,
        update: GroupUpdate<'_>,
        dead: Option<DeadLetters>,
    ) -> Result<u64, Error> {
        let rec = GroupRecord::Update(update);
        let Some(dead) = dead.filter(|d| !d.rows.is_empty()) else {
            return eng.write_group(&self.wal, &[rec]);
        };
        let GroupRecord::Update(u) = &rec else {
            return Err(Error::corrupt("update record"));
        };
        let s = eng
            .stream(u.key)?
            .ok_or_else(|| Error::corrupt("dead-letter source vanished"))?;
        let ids: Vec<StreamId> = dead.rows.iter().map(|r| r.0).collect();
        let entries = s.fetch(&self.wal, &ids)?;
        let mut owned: Vec<Vec<(Vec<u8>, Vec<u8>)>> = Vec::with_capacity(ids.len());
        for ((id, owner, count), e) in dead.rows.iter().zip(&entries) {
            use dead_letter_fields as f;
            let mut fields = vec![
                (f::STREAM.to_vec(), u.key.to_vec()),
                (f::GROUP.to_vec(), u.group.to_vec()),
                (f::CONSUMER.to_vec(), owner.clone()),
                (f::ID.to_vec(), id.to_string().into_bytes()),
                (f::DELIVERIES.to_vec(), count.to_string().into_bytes()),
            ];
            if let Some(e) = e {
                fields.extend(e.to_vec());
            }
            owned.push(fields);
        }
        let pairs: Vec<Vec<(&[u8], &[u8])>> = owned
            .iter()
            .map(|f| f.iter().map(|(a, b)| (&a[..], &b[..])).collect())
            .collect();
        let items: Vec<AppendItem<'_>> = pairs
            .iter()
            .map(|p| AppendItem {
                id: IdSpec::Auto,
                fields: p,
                idmp: None,
            })
            .collect();
        let now = u.now;
        let recs = [rec];
        eng.append_run_ext(
            &self.wal,
            &dead.stream,
            &items,
            None,
            RefPolicy::KeepRef,
            now,
            &recs,
        )?;
        eng.apply_groups_or_poison(&self.wal, &recs)?;
        Ok(self.wal.end().0)
    }

    /// XREADGROUP GROUP group consumer [COUNT n] [NOACK] STREAMS key... id...
    /// (without BLOCK: the server blocks and retries). `count` `None` or
    /// `Some(0)` means no limit. A `>` stream with nothing new is left out;
    /// a history stream is always there (Redis replies `[key, []]`).
    ///
    /// # Errors
    /// `NoGroupRead` if any key or group is missing (checked before
    /// anything is read), WAL errors.
    pub fn xreadgroup(
        &self,
        group: &[u8],
        consumer: &[u8],
        streams: &[(&[u8], ReadFrom)],
        count: Option<usize>,
        noack: bool,
    ) -> Result<Vec<StreamRead>, Error> {
        let limit = count.filter(|c| *c > 0).unwrap_or(usize::MAX);
        let mut out = Vec::new();
        let (end, due) = {
            let mut eng = self.lock_writable()?;
            let now = self.clock.now_ms();
            for (key, _) in streams {
                group_of(&eng, key, group, Error::no_group_read)?;
            }
            let mut end = self.wal.end().0;
            for (key, from) in streams {
                let read = match from {
                    ReadFrom::New => {
                        self.read_new(&mut eng, key, group, consumer, limit, noack, now)?
                    }
                    ReadFrom::After(after) => {
                        Some(self.read_history(&mut eng, key, group, consumer, *after, limit, now)?)
                    }
                };
                if let Some((r, e)) = read {
                    end = end.max(e);
                    out.push(r);
                } else {
                    end = end.max(self.wal.end().0);
                }
            }
            (end, self.due(&eng))
        };
        self.finish(end, due)?;
        Ok(out)
    }

    /// Records that a consumer got nothing: creates it, or bumps its seen
    /// time (logged at most every [`SEEN_LOG_INTERVAL_MS`]).
    fn touch(
        &self,
        eng: &mut Engine,
        key: &[u8],
        group: &[u8],
        consumer: &[u8],
        now: u64,
    ) -> Result<(), Error> {
        let (_, g) = group_of(eng, key, group, Error::no_group_read)?;
        let log = match g.consumers.get(consumer) {
            None => true,
            Some(c) => now.saturating_sub(c.seen_time) >= SEEN_LOG_INTERVAL_MS,
        };
        if log {
            let u = GroupUpdate {
                key,
                group,
                consumer: Some(consumer),
                now,
                flags: SEEN,
                last: None,
                ops: Vec::new(),
            };
            self.commit_update(eng, u, None)?;
        } else if let Some(c) = eng
            .group_mut(key, group)?
            .and_then(|g| g.consumers.get_mut(consumer))
        {
            c.seen_time = c.seen_time.max(now);
        }
        Ok(())
    }

    #[allow(clippy::too_many_arguments)]
    fn read_new(
        &self,
        eng: &mut Engine,
        key: &[u8],
        group: &[u8],
        consumer: &[u8],
        limit: usize,
        noack: bool,
        now: u64,
    ) -> Result<Option<(StreamRead, u64)>, Error> {
        let (s, g) = group_of(eng, key, group, Error::no_group_read)?;
        let entries = s.read_after(&self.wal, g.last_id(), Some(limit))?;
        let Some(last) = entries.last().map(Entry::id) else {
            self.touch(eng, key, group, consumer, now)?;
            return Ok(None);
        };
        let mut read = g.entries_read();
        for e in &entries {
            read = s.advance_entries_read(read, e.id());
        }
        let ops = if noack {
            Vec::new()
        } else {
            entries
                .iter()
                .map(|e| PelOp::Assign {
                    id: e.id(),
                    time: now,
                    count: 1,
                })
                .collect()
        };
        let u = GroupUpdate {
            key,
            group,
            consumer: Some(consumer),
            now,
            flags: SEEN | ACTIVE,
            last: Some((last, read)),
            ops,
        };
        let end = self.commit_update(eng, u, None)?;
        let entries = entries
            .into_iter()
            .map(|e| GroupEntry {
                id: e.id(),
                entry: Some(e),
            })
            .collect();
        Ok(Some((
            StreamRead {
                key: key.to_vec(),
                entries,
                dead_lettered: Vec::new(),
            },
            end,
        )))
    }

    #[allow(clippy::too_many_arguments)]
    fn read_history(
        &self,
        eng: &mut Engine,
        key: &[u8],
        group: &[u8],
        consumer: &[u8],
        after: StreamId,
        limit: usize,
        now: u64,
    ) -> Result<(StreamRead, u64), Error> {
        let (s, g) = group_of(eng, key, group, Error::no_group_read)?;
        let max_deliveries = g.policy().dead_letter.as_ref().map(|d| d.max_deliveries);
        let mut ids: Vec<(StreamId, bool)> = Vec::new();
        let mut ops = Vec::new();
        let mut dead = Vec::new();
        if let Some(c) = g.consumers.get(consumer) {
            for id in c.pel.range((Bound::Excluded(after), Bound::Unbounded)) {
                if ids.len() >= limit {
                    break;
                }
                let Some(p) = g.pending(*id) else { continue };
                if !s.holds(*id) {
                    ids.push((*id, false));
                    continue;
                }
                if max_deliveries.is_some_and(|m| p.delivery_count >= m) {
                    ops.push(PelOp::Remove(*id));
                    dead.push((*id, consumer.to_vec(), p.delivery_count));
                    continue;
                }
                ops.push(PelOp::Assign {
                    id: *id,
                    time: now,
                    count: p.delivery_count.saturating_add(1),
                });
                ids.push((*id, true));
            }
        }
        let delivered = ids.iter().any(|(_, live)| *live);
        let dead_lettered: Vec<StreamId> = dead.iter().map(|d| d.0).collect();
        let dl = g.policy().dead_letter.as_ref().map(|d| DeadLetters {
            stream: d.stream.clone(),
            rows: dead,
        });
        let end = if ops.is_empty() && g.consumers.contains_key(consumer) && !delivered {
            self.touch(eng, key, group, consumer, now)?;
            self.wal.end().0
        } else {
            let u = GroupUpdate {
                key,
                group,
                consumer: Some(consumer),
                now,
                flags: if delivered { SEEN | ACTIVE } else { SEEN },
                last: None,
                ops,
            };
            self.commit_update(eng, u, dl)?
        };
        let s = eng
            .stream(key)?
            .ok_or_else(|| Error::corrupt("stream vanished"))?;
        let live: Vec<StreamId> = ids.iter().filter(|(_, l)| *l).map(|(id, _)| *id).collect();
        let mut fetched = s.fetch(&self.wal, &live)?.into_iter();
        let mut entries = Vec::with_capacity(ids.len());
        for (id, l) in ids {
            let entry = if l { fetched.next().flatten() } else { None };
            entries.push(GroupEntry { id, entry });
        }
        Ok((
            StreamRead {
                key: key.to_vec(),
                entries,
                dead_lettered,
            },
            end,
        ))
    }

    /// XCLAIM key group consumer min-idle-time id... [options].
    ///
    /// # Errors
    /// `NoGroup`, WAL errors.
    pub fn xclaim(
        &self,
        key: &[u8],
        group: &[u8],
        consumer: &[u8],
        ids: &[StreamId],
        args: &ClaimArgs,
    ) -> Result<ClaimReply, Error> {
        let (claimed, dead_lettered, end, due) = {
            let mut eng = self.lock_writable()?;
            let now = self.clock.now_ms();
            let (s, g) = group_of(&eng, key, group, Error::no_group)?;
            let min_idle = u64::try_from(args.min_idle).unwrap_or(0);
            let now_i = i64::try_from(now).unwrap_or(i64::MAX);
            let time = match args.delivery {
                None => now,
                Some(d) => {
                    let t = match d {
                        DeliveryTime::Idle(ms) => now_i.saturating_sub(ms),
                        DeliveryTime::Time(t) => t,
                    };
                    u64::try_from(t).ok().filter(|t| *t <= now).unwrap_or(now)
                }
            };
            let retry = args.retry_count.and_then(|r| u64::try_from(r).ok());
            let max_deliveries = g.policy().dead_letter.as_ref().map(|d| d.max_deliveries);
            let (me, _) = match g.consumer_id(consumer) {
                Some(id) => (id, false),
                None => (u64::MAX, true),
            };
            // The state of each ID as this command changes it (an ID may be
            // named twice).
            let mut view: HashMap<StreamId, Option<PendingEntry>> = HashMap::new();
            let mut ops = Vec::new();
            let mut claimed = Vec::new();
            let mut dead = Vec::new();
            for &id in ids {
                let cur = match view.get(&id) {
                    Some(v) => *v,
                    None => g.pending(id).copied(),
                };
                let exists = match cur {
                    Some(_) => s.holds(id),
                    None if args.force => s.fetch(&self.wal, &[id])?.pop().flatten().is_some(),
                    None => false,
                };
                if !exists {
                    if cur.is_some() {
                        ops.push(PelOp::Remove(id));
                        view.insert(id, None);
                    }
                    continue;
                }
                // FORCE creates the entry as Redis's streamCreateNACK does:
                // delivered now, once, to no one (so min-idle is ignored).
                let (p, fresh) = match cur {
                    Some(p) => (p, false),
                    None if args.force => (
                        PendingEntry {
                            delivery_time: now,
                            delivery_count: 1,
                            owner: NOBODY,
                        },
                        true,
                    ),
                    None => continue,
                };
                if !fresh
                    && p.owner != NOBODY
                    && min_idle > 0
                    && now.saturating_sub(p.delivery_time) < min_idle
                {
                    continue;
                }
                let bumps = retry.is_none() && !args.justid;
                if bumps && max_deliveries.is_some_and(|m| p.delivery_count >= m) && !fresh {
                    ops.push(PelOp::Remove(id));
                    view.insert(id, None);
                    dead.push((id, g.owner_name(p.owner).to_vec(), p.delivery_count));
                    continue;
                }
                let count = match retry {
                    Some(r) => r,
                    None if args.justid => p.delivery_count,
                    None => p.delivery_count.saturating_add(1),
                };
                ops.push(PelOp::Assign { id, time, count });
                view.insert(
                    id,
                    Some(PendingEntry {
                        delivery_time: time,
                        delivery_count: count,
                        owner: me,
                    }),
                );
                claimed.push(id);
            }
            let last = args
                .last_id
                .filter(|l| *l > g.last_id())
                .map(|l| (l, g.entries_read()));
            let dead_lettered: Vec<StreamId> = dead.iter().map(|d| d.0).collect();
            let dl = g.policy().dead_letter.as_ref().map(|d| DeadLetters {
                stream: d.stream.clone(),
                rows: dead,
            });
            let u = GroupUpdate {
                key,
                group,
                consumer: Some(consumer),
                now,
                flags: if claimed.is_empty() {
                    SEEN
                } else {
                    SEEN | ACTIVE
                },
                last,
                ops,
            };
            let end = self.commit_update(&mut eng, u, dl)?;
            let claimed = self.entries_for(&eng, key, &claimed, args.justid)?;
            (claimed, dead_lettered, end, self.due(&eng))
        };
        self.finish(end, due)?;
        Ok(ClaimReply {
            claimed,
            dead_lettered,
        })
    }

    /// XAUTOCLAIM key group consumer min-idle-time start [COUNT n] [JUSTID].
    /// Visits at most `10 * count` pending entries from `start`. Consumers
    /// past the group's idle-consumer setting are expired first, so their
    /// entries are claimable right away.
    ///
    /// # Errors
    /// `CountNotPositive`, `NoGroup`, WAL errors.
    #[allow(clippy::too_many_arguments)]
    pub fn xautoclaim(
        &self,
        key: &[u8],
        group: &[u8],
        consumer: &[u8],
        min_idle: i64,
        start: StreamId,
        count: i64,
        justid: bool,
    ) -> Result<AutoClaimReply, Error> {
        const ATTEMPTS_FACTOR: i64 = 10;
        if !(1..=i64::MAX / 16).contains(&count) {
            return Err(Error::CountNotPositive);
        }
        let (next, claimed, deleted, dead_lettered, end, due) = {
            let mut eng = self.lock_writable()?;
            let now = self.clock.now_ms();
            let (_, g) = group_of(&eng, key, group, Error::no_group)?;
            let idle = idle_consumers(g, now, Some(consumer));
            if !idle.is_empty() {
                let recs: Vec<GroupRecord<'_>> = idle
                    .iter()
                    .map(|(c, _)| GroupRecord::ReleaseConsumer {
                        key,
                        group,
                        consumer: c,
                    })
                    .collect();
                eng.write_group(&self.wal, &recs)?;
            }
            let (s, g) = group_of(&eng, key, group, Error::no_group)?;
            let min_idle = u64::try_from(min_idle).unwrap_or(0);
            let max_deliveries = g.policy().dead_letter.as_ref().map(|d| d.max_deliveries);
            let mut left = count;
            let mut attempts = count.saturating_mul(ATTEMPTS_FACTOR);
            let mut ops = Vec::new();
            let mut claimed = Vec::new();
            let mut deleted = Vec::new();
            let mut dead = Vec::new();
            let mut iter = g.pel.range(start..);
            let mut last_seen = None;
            while attempts > 0 && left > 0 {
                attempts -= 1;
                let Some((&id, p)) = iter.next() else {
                    last_seen = None;
                    break;
                };
                last_seen = Some(id);
                if !s.holds(id) {
                    ops.push(PelOp::Remove(id));
                    deleted.push(id);
                    left -= 1;
                    continue;
                }
                if min_idle > 0
                    && p.owner != NOBODY
                    && now.saturating_sub(p.delivery_time) < min_idle
                {
                    continue;
                }
                if !justid && max_deliveries.is_some_and(|m| p.delivery_count >= m) {
                    ops.push(PelOp::Remove(id));
                    dead.push((id, g.owner_name(p.owner).to_vec(), p.delivery_count));
                    left -= 1;
                    continue;
                }
                let count = if justid {
                    p.delivery_count
                } else {
                    p.delivery_count.saturating_add(1)
                };
                ops.push(PelOp::Assign {
                    id,
                    time: now,
                    count,
                });
                claimed.push(id);
                left -= 1;
            }
            // The cursor is the first pending ID after the last one visited
            // (0-0 once the scan ran off the end).
            let next = match last_seen {
                None => StreamId::MIN,
                Some(l) => g
                    .pel
                    .range((Bound::Excluded(l), Bound::Unbounded))
                    .next()
                    .map_or(StreamId::MIN, |(id, _)| *id),
            };
            let dead_lettered: Vec<StreamId> = dead.iter().map(|d| d.0).collect();
            let dl = g.policy().dead_letter.as_ref().map(|d| DeadLetters {
                stream: d.stream.clone(),
                rows: dead,
            });
            let u = GroupUpdate {
                key,
                group,
                consumer: Some(consumer),
                now,
                flags: if claimed.is_empty() {
                    SEEN
                } else {
                    SEEN | ACTIVE
                },
                last: None,
                ops,
            };
            let end = self.commit_update(&mut eng, u, dl)?;
            let claimed = self.entries_for(&eng, key, &claimed, justid)?;
            (next, claimed, deleted, dead_lettered, end, self.due(&eng))
        };
        self.finish(end, due)?;
        Ok(AutoClaimReply {
            next,
            claimed,
            deleted,
            dead_lettered,
        })
    }

    /// Reads the claimed entries back under the same lock (IDs only with
    /// JUSTID).
    fn entries_for(
        &self,
        eng: &Engine,
        key: &[u8],
        ids: &[StreamId],
        justid: bool,
    ) -> Result<Vec<GroupEntry>, Error> {
        if justid || ids.is_empty() {
            return Ok(ids
                .iter()
                .map(|id| GroupEntry {
                    id: *id,
                    entry: None,
                })
                .collect());
        }
        // Fetch in ID order (one block read per block), reply in claim order.
        let mut sorted: Vec<StreamId> = ids.to_vec();
        sorted.sort_unstable();
        sorted.dedup();
        let fetched = match eng.stream(key)? {
            Some(s) => s.fetch(&self.wal, &sorted)?,
            None => Vec::new(),
        };
        let by_id: BTreeMap<StreamId, Option<Entry>> = sorted.into_iter().zip(fetched).collect();
        Ok(ids
            .iter()
            .map(|id| GroupEntry {
                id: *id,
                entry: by_id.get(id).cloned().flatten(),
            })
            .collect())
    }

    /// Live entries of a stream by ID (for layers built on groups).
    pub fn xfetch(&self, key: &[u8], ids: &[StreamId]) -> Result<Vec<Option<Entry>>, Error> {
        Ok(self
            .with_stream(key, |s, w| s.fetch(w, ids))?
            .unwrap_or_else(|| vec![None; ids.len()]))
    }
}
