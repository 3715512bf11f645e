//! The consumer-group half of the embedded API: `impl Store` blocks for
//! XGROUP, XACK, XPENDING, XINFO GROUPS / CONSUMERS, the 8.2 reference
//! policies (XTRIM / XDELEX / XACKDEL with KEEPREF, DELREF, ACKED), group
//! policies and consumer expiry. Deliveries and claims are in `claim.rs`.
//!
//! Each mutating call follows the store's pattern: lock, validate (nothing
//! changes on error), write one record or one atomic batch holding the
//! effect, apply it, unlock, wait for durability.

use std::collections::HashSet;

use super::pel::{ConsumerInfo, GroupFull, GroupInfo, PendingQuery, PendingRow, PendingSummary};
use super::record::{GroupRecord, GroupUpdate, PelOp};
use super::{ConsumerGroup, GroupPolicy};
use crate::engine::Engine;
use crate::error::Error;
use crate::record::Record;
use crate::store::Store;
use crate::stream::{RefPolicy, Stream, StreamId, Trim};

/// Where XGROUP CREATE / SETID put the last delivered ID.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum GroupStart {
    /// An explicit ID (`0` = deliver the whole stream).
    Id(StreamId),
    /// `$`: the stream's last generated ID.
    LastId,
}

/// A consumer expired by [`Store::expire_idle_consumers`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Expired {
    /// Stream key.
    pub key: Vec<u8>,
    /// Group name.
    pub group: Vec<u8>,
    /// Consumer name.
    pub consumer: Vec<u8>,
    /// Pending entries handed back to the group.
    pub released: u64,
}

/// Per-ID results of XDELEX / XACKDEL (Redis 8.2 codes).
pub mod del_result {
    /// No such entry.
    pub const NOT_FOUND: i64 = -1;
    /// Deleted.
    pub const DELETED: i64 = 1;
    /// Not deleted: a group still references it (ACKED).
    pub const REFERENCED: i64 = 2;
}

fn entries_read_arg(v: Option<i64>) -> Result<Option<u64>, Error> {
    match v {
        None | Some(-1) => Ok(None),
        Some(n) => u64::try_from(n)
            .map(Some)
            .map_err(|_| Error::EntriesReadInvalid),
    }
}

/// The stream and group, or `err(key, group)`.
pub(crate) fn group_of<'e>(
    eng: &'e Engine,
    key: &[u8],
    group: &[u8],
    err: fn(&[u8], &[u8]) -> Error,
) -> Result<(&'e Stream, &'e ConsumerGroup), Error> {
    let s = eng.stream(key)?.ok_or_else(|| err(key, group))?;
    let g = s.group(group).ok_or_else(|| err(key, group))?;
    Ok((s, g))
}

impl Store {
    fn group_write(&self, recs: &[GroupRecord<'_>]) -> Result<(), Error> {
        let (end, due) = {
            let mut eng = self.lock_writable()?;
            let end = eng.write_group(&self.wal, recs)?;
            (end, self.due(&eng))
        };
        self.finish(end, due)
    }

    /// XGROUP CREATE key group <id|$> [MKSTREAM] [ENTRIESREAD n].
    ///
    /// # Errors
    /// `EntriesReadInvalid`, `XgroupNoKey` (missing key without MKSTREAM),
    /// `BusyGroup`, WAL errors.
    pub fn xgroup_create(
        &self,
        key: &[u8],
        group: &[u8],
        start: GroupStart,
        mkstream: bool,
        entries_read: Option<i64>,
    ) -> Result<(), Error> {
        let entries_read = entries_read_arg(entries_read)?;
        let (end, due) = {
            let mut eng = self.lock_writable()?;
            let s = eng.stream(key)?;
            if s.is_none() && !mkstream {
                return Err(Error::XgroupNoKey);
            }
            if s.is_some_and(|s| s.group(group).is_some()) {
                return Err(Error::BusyGroup);
            }
            let last_id = match start {
                GroupStart::Id(id) => id,
                GroupStart::LastId => s.map_or(StreamId::MIN, Stream::last_id),
            };
            let rec = GroupRecord::Create {
                key,
                group,
                last_id,
                entries_read,
                mkstream: s.is_none(),
            };
            let end = eng.write_group(&self.wal, &[rec])?;
            (end, self.due(&eng))
        };
        self.finish(end, due)
    }

    /// XGROUP SETID key group <id|$> [ENTRIESREAD n]. The PEL is untouched.
    ///
    /// # Errors
    /// `EntriesReadInvalid`, `XgroupNoKey`, `NoSuchGroup`, WAL errors.
    pub fn xgroup_setid(
        &self,
        key: &[u8],
        group: &[u8],
        start: GroupStart,
        entries_read: Option<i64>,
    ) -> Result<(), Error> {
        let entries_read = entries_read_arg(entries_read)?;
        let (end, due) = {
            let mut eng = self.lock_writable()?;
            let s = eng.stream(key)?.ok_or(Error::XgroupNoKey)?;
            if s.group(group).is_none() {
                return Err(Error::no_such_group(key, group));
            }
            let last_id = match start {
                GroupStart::Id(id) => id,
                GroupStart::LastId => s.last_id(),
            };
            let rec = GroupRecord::SetId {
                key,
                group,
                last_id,
                entries_read,
            };
            let end = eng.write_group(&self.wal, &[rec])?;
            (end, self.due(&eng))
        };
        self.finish(end, due)
    }

    /// XGROUP DESTROY: whether the group existed.
    ///
    /// # Errors
    /// `XgroupNoKey`, WAL errors.
    pub fn xgroup_destroy(&self, key: &[u8], group: &[u8]) -> Result<bool, Error> {
        {
            let eng = self.lock();
            let s = eng.stream(key)?.ok_or(Error::XgroupNoKey)?;
            if s.group(group).is_none() {
                return Ok(false);
            }
        }
        self.group_write(&[GroupRecord::Destroy { key, group }])?;
        Ok(true)
    }

    /// XGROUP CREATECONSUMER: whether it was created.
    ///
    /// # Errors
    /// `XgroupNoKey`, `NoSuchGroup`, WAL errors.
    pub fn xgroup_createconsumer(
        &self,
        key: &[u8],
        group: &[u8],
        consumer: &[u8],
    ) -> Result<bool, Error> {
        let (end, due) = {
            let mut eng = self.lock_writable()?;
            eng.stream(key)?.ok_or(Error::XgroupNoKey)?;
            let (_, g) = group_of(&eng, key, group, Error::no_such_group)?;
            if g.consumer_id(consumer).is_some() {
                return Ok(false);
            }
            let rec = GroupRecord::Update(GroupUpdate {
                key,
                group,
                consumer: Some(consumer),
                now: self.clock.now_ms(),
                flags: super::record::SEEN,
                last: None,
                ops: Vec::new(),
            });
            let end = eng.write_group(&self.wal, &[rec])?;
            (end, self.due(&eng))
        };
        self.finish(end, due)?;
        Ok(true)
    }

    /// XGROUP DELCONSUMER: deletes the consumer *and its pending entries*
    /// (Redis semantics; see [`Store::xgroup_expire_consumer`] for the
    /// variant that hands them back). Returns how many it had.
    ///
    /// # Errors
    /// `XgroupNoKey`, `NoSuchGroup`, WAL errors.
    pub fn xgroup_delconsumer(
        &self,
        key: &[u8],
        group: &[u8],
        consumer: &[u8],
    ) -> Result<u64, Error> {
        let pending = {
            let eng = self.lock();
            eng.stream(key)?.ok_or(Error::XgroupNoKey)?;
            let (_, g) = group_of(&eng, key, group, Error::no_such_group)?;
            match g.consumers.get(consumer) {
                None => return Ok(0),
                Some(c) => c.pel.len() as u64,
            }
        };
        self.group_write(&[GroupRecord::DeleteConsumer {
            key,
            group,
            consumer,
        }])?;
        Ok(pending)
    }

    /// Consumer expiry: deletes the consumer and hands its pending entries
    /// back to the group (owner `""`, delivery time 0, delivery count
    /// kept), where the next XCLAIM / XAUTOCLAIM takes them whatever its
    /// min-idle-time. Returns how many were handed back.
    ///
    /// # Errors
    /// `XgroupNoKey`, `NoSuchGroup`, WAL errors.
    pub fn xgroup_expire_consumer(
        &self,
        key: &[u8],
        group: &[u8],
        consumer: &[u8],
    ) -> Result<u64, Error> {
        let pending = {
            let eng = self.lock();
            eng.stream(key)?.ok_or(Error::XgroupNoKey)?;
            let (_, g) = group_of(&eng, key, group, Error::no_such_group)?;
            match g.consumers.get(consumer) {
                None => return Ok(0),
                Some(c) => c.pel.len() as u64,
            }
        };
        self.group_write(&[GroupRecord::ReleaseConsumer {
            key,
            group,
            consumer,
        }])?;
        Ok(pending)
    }

    /// Sets a group's policies (dead letter, idle-consumer expiry).
    ///
    /// # Errors
    /// `DeadLetterSelf`, `MaxDeliveriesZero`, `XgroupNoKey`, `NoSuchGroup`.
    pub fn xgroup_set_policy(
        &self,
        key: &[u8],
        group: &[u8],
        policy: GroupPolicy,
    ) -> Result<(), Error> {
        if let Some(d) = &policy.dead_letter {
            if d.stream == key {
                return Err(Error::DeadLetterSelf);
            }
            if d.max_deliveries == 0 {
                return Err(Error::MaxDeliveriesZero);
            }
        }
        {
            let eng = self.lock();
            eng.stream(key)?.ok_or(Error::XgroupNoKey)?;
            group_of(&eng, key, group, Error::no_such_group)?;
        }
        self.group_write(&[GroupRecord::Config { key, group, policy }])
    }

    /// Expires, in every group with an idle-consumer setting, the
    /// consumers idle at least that long (by seen time): their pending
    /// entries go back to the group. Meant to run periodically.
    ///
    /// # Errors
    /// WAL errors.
    pub fn expire_idle_consumers(&self) -> Result<Vec<Expired>, Error> {
        let (out, end, due) =
            {
                let mut eng = self.lock_writable()?;
                let now = self.clock.now_ms();
                let mut out = Vec::new();
                for (key, v) in eng.keyspace.iter() {
                    let crate::keyspace::Value::Stream(s) = v;
                    for (gname, g) in s.groups() {
                        out.extend(idle_consumers(g, now, None).into_iter().map(|(c, n)| {
                            Expired {
                                key: key.to_vec(),
                                group: gname.to_vec(),
                                consumer: c,
                                released: n,
                            }
                        }));
                    }
                }
                let recs: Vec<GroupRecord<'_>> = out
                    .iter()
                    .map(|e| GroupRecord::ReleaseConsumer {
                        key: &e.key,
                        group: &e.group,
                        consumer: &e.consumer,
                    })
                    .collect();
                let end = eng.write_group(&self.wal, &recs)?;
                (out, end, self.due(&eng))
            };
        self.finish(end, due)?;
        Ok(out)
    }

    /// XACK: how many of `ids` were pending (a missing key or group is 0).
    ///
    /// # Errors
    /// WAL errors.
    pub fn xack(&self, key: &[u8], group: &[u8], ids: &[StreamId]) -> Result<u64, Error> {
        let (n, end, due) = {
            let mut eng = self.lock_writable()?;
            let Ok((_, g)) = group_of(&eng, key, group, Error::no_group) else {
                return Ok(0);
            };
            let ops = ack_ops(g, ids);
            if ops.is_empty() {
                return Ok(0);
            }
            let n = ops.len() as u64;
            let rec = ack_record(key, group, ops);
            let end = eng.write_group(&self.wal, &[rec])?;
            (n, end, self.due(&eng))
        };
        self.finish(end, due)?;
        Ok(n)
    }

    /// XPENDING key group (summary).
    ///
    /// # Errors
    /// `NoGroup`.
    pub fn xpending_summary(&self, key: &[u8], group: &[u8]) -> Result<PendingSummary, Error> {
        let eng = self.lock();
        let (_, g) = group_of(&eng, key, group, Error::no_group)?;
        Ok(g.summary())
    }

    /// XPENDING key group [IDLE ms] start end count [consumer].
    ///
    /// # Errors
    /// `NoGroup`.
    pub fn xpending(
        &self,
        key: &[u8],
        group: &[u8],
        q: &PendingQuery<'_>,
    ) -> Result<Vec<PendingRow>, Error> {
        let eng = self.lock();
        let (_, g) = group_of(&eng, key, group, Error::no_group)?;
        Ok(g.pending_range(q, self.clock.now_ms()))
    }

    /// XINFO GROUPS.
    ///
    /// # Errors
    /// `NoSuchKey`.
    pub fn xinfo_groups(&self, key: &[u8]) -> Result<Vec<GroupInfo>, Error> {
        let eng = self.lock();
        let s = eng.stream(key)?.ok_or(Error::NoSuchKey)?;
        Ok(s.groups()
            .map(|(name, g)| GroupInfo {
                name: name.to_vec(),
                consumers: g.consumer_count() as u64,
                pending: g.pending_len() as u64,
                last_delivered_id: g.last_id(),
                entries_read: g.entries_read(),
                lag: s.group_lag(g),
            })
            .collect())
    }

    /// XINFO CONSUMERS.
    ///
    /// # Errors
    /// `NoSuchKey`, `NoSuchGroup`.
    pub fn xinfo_consumers(&self, key: &[u8], group: &[u8]) -> Result<Vec<ConsumerInfo>, Error> {
        let eng = self.lock();
        eng.stream(key)?.ok_or(Error::NoSuchKey)?;
        let (_, g) = group_of(&eng, key, group, Error::no_such_group)?;
        Ok(g.consumers_info(self.clock.now_ms()))
    }

    /// XINFO STREAM FULL's `groups` part; `count` bounds each pending list
    /// (0 = all).
    ///
    /// # Errors
    /// `NoSuchKey`.
    pub fn xinfo_groups_full(&self, key: &[u8], count: usize) -> Result<Vec<GroupFull>, Error> {
        let eng = self.lock();
        let s = eng.stream(key)?.ok_or(Error::NoSuchKey)?;
        Ok(s.groups()
            .map(|(name, g)| g.full(name, s.group_lag(g), count))
            .collect())
    }

    /// XTRIM with a reference policy: returns the number of entries deleted.
    ///
    /// # Errors
    /// Trim validation and WAL errors.
    pub fn xtrim_refs(&self, key: &[u8], trim: &Trim, refs: RefPolicy) -> Result<u64, Error> {
        trim.validate()?;
        let (n, end, due) = {
            let mut eng = self.lock_writable()?;
            let max_entries = eng.limits.max_entries;
            let Some(s) = eng.stream(key)? else {
                return Ok(0);
            };
            let now = self.clock.now_ms();
            let (effect, removed, drop) =
                s.plan_trim_refs(&self.wal, key, trim, refs, max_entries, now)?;
            if removed == 0 {
                return Ok(0);
            }
            let groups: Vec<GroupRecord<'_>> = drop.into_iter().collect();
            let end = eng.write_mixed(&self.wal, &Record::Trim { key, effect }, &groups)?;
            (removed, end, self.due(&eng))
        };
        self.finish(end, due)?;
        Ok(n)
    }

    /// XDELEX key [KEEPREF|DELREF|ACKED] IDS n id...: per ID `-1` (no such
    /// entry), `1` (deleted) or `2` (kept: still referenced, ACKED).
    ///
    /// # Errors
    /// WAL errors.
    pub fn xdelex(&self, key: &[u8], ids: &[StreamId], refs: RefPolicy) -> Result<Vec<i64>, Error> {
        self.delete_with_refs(key, None, ids, refs)
    }

    /// XACKDEL key group [KEEPREF|DELREF|ACKED] IDS n id...: acknowledges
    /// `ids` in `group`, then deletes them as XDELEX does (the ack counts
    /// when ACKED decides). A missing key or group gives `-1` for every ID.
    ///
    /// # Errors
    /// WAL errors.
    pub fn xackdel(
        &self,
        key: &[u8],
        group: &[u8],
        ids: &[StreamId],
        refs: RefPolicy,
    ) -> Result<Vec<i64>, Error> {
        self.delete_with_refs(key, Some(group), ids, refs)
    }

    fn delete_with_refs(
        &self,
        key: &[u8],
        group: Option<&[u8]>,
        ids: &[StreamId],
        refs: RefPolicy,
    ) -> Result<Vec<i64>, Error> {
        let (out, end, due) = {
            let mut eng = self.lock_writable()?;
            let Some(s) = eng.stream(key)? else {
                return Ok(vec![del_result::NOT_FOUND; ids.len()]);
            };
            let ack_group = match group {
                Some(gn) => match s.group(gn) {
                    Some(g) => Some((gn, g)),
                    None => return Ok(vec![del_result::NOT_FOUND; ids.len()]),
                },
                None => None,
            };
            let acks = ack_group.map(|(_, g)| ack_ops(g, ids)).unwrap_or_default();
            let acked: HashSet<StreamId> = acks
                .iter()
                .filter_map(|op| match op {
                    PelOp::Remove(id) => Some(*id),
                    PelOp::Assign { .. } => None,
                })
                .collect();
            let mut out = Vec::with_capacity(ids.len());
            let mut found: Vec<(StreamId, u64)> = Vec::new();
            let mut seen = HashSet::new();
            for &id in ids {
                if !seen.insert(id) {
                    out.push(del_result::NOT_FOUND);
                    continue;
                }
                let Some((_, e)) = s.find(&self.wal, id)? else {
                    out.push(del_result::NOT_FOUND);
                    continue;
                };
                if refs == RefPolicy::Acked {
                    let referenced = s.groups().any(|(name, g)| {
                        let acked_here =
                            ack_group.is_some_and(|(gn, _)| gn == name) && acked.contains(&id);
                        id > g.last_id() || (g.pending(id).is_some() && !acked_here)
                    });
                    if referenced {
                        out.push(del_result::REFERENCED);
                        continue;
                    }
                }
                found.push((id, e.size));
                out.push(del_result::DELETED);
            }
            let mut groups = Vec::new();
            if let Some(gn) = group
                && !acks.is_empty()
            {
                groups.push(ack_record(key, gn, acks));
            }
            if refs == RefPolicy::DelRef {
                let drop: Vec<StreamId> = found
                    .iter()
                    .map(|(id, _)| *id)
                    .filter(|id| s.groups().any(|(_, g)| g.pending(*id).is_some()))
                    .collect();
                if !drop.is_empty() {
                    groups.push(GroupRecord::PelDrop {
                        key,
                        below: None,
                        ids: drop,
                    });
                }
            }
            let end = if found.is_empty() {
                if groups.is_empty() {
                    return Ok(out);
                }
                eng.write_group(&self.wal, &groups)?
            } else {
                eng.write_mixed(&self.wal, &Record::Xdel { key, ids: found }, &groups)?
            };
            (out, end, self.due(&eng))
        };
        self.finish(end, due)?;
        Ok(out)
    }
}

/// Remove ops for the pending entries among `ids` (each once).
pub(crate) fn ack_ops(g: &ConsumerGroup, ids: &[StreamId]) -> Vec<PelOp> {
    let mut seen = HashSet::new();
    ids.iter()
        .filter(|id| g.pending(**id).is_some() && seen.insert(**id))
        .map(|id| PelOp::Remove(*id))
        .collect()
}

fn ack_record<'a>(key: &'a [u8], group: &'a [u8], ops: Vec<PelOp>) -> GroupRecord<'a> {
    GroupRecord::Update(GroupUpdate {
        key,
        group,
        consumer: None,
        now: 0,
        flags: 0,
        last: None,
        ops,
    })
}

/// Consumers of `g` idle (seen time) at least the group's expiry setting,
/// other than `except`, with their pending counts.
pub(crate) fn idle_consumers(
    g: &ConsumerGroup,
    now: u64,
    except: Option<&[u8]>,
) -> Vec<(Vec<u8>, u64)> {
    let Some(ttl) = g.policy().consumer_idle_ms else {
        return Vec::new();
    };
    g.consumers
        .iter()
        .filter(|(n, c)| Some(&n[..]) != except && now.saturating_sub(c.seen_time) >= ttl)
        .map(|(n, c)| (n.to_vec(), c.pel.len() as u64))
        .collect()
}
