//! Consumer-group WAL records (kinds 32..=63): their payloads, encoding and
//! the engine function that applies them (live writes and recovery alike).
//!
//! Every record carries the *effect* of a command: resolved IDs, the
//! delivery time read from the clock, the new last-delivered ID and
//! entries-read counter, each pending entry's new owner, time and count.
//! Replaying a record never reads the clock or the group's policies.
//! Layout: `docs/format.md`, "Consumer-group records".

use eddy_wal::Wal;

use super::{ConsumerGroup, DeadLetter, GroupPolicy};
use crate::engine::Engine;
use crate::error::Error;
use crate::record::{Cursor, put_bytes, put_varint};
use crate::stream::StreamId;

/// Record kinds owned by consumer groups.
pub mod kind {
    /// XGROUP CREATE (optionally creating the stream).
    pub const GROUP_CREATE: u8 = 32;
    /// XGROUP SETID.
    pub const GROUP_SETID: u8 = 33;
    /// XGROUP DESTROY.
    pub const GROUP_DESTROY: u8 = 34;
    /// XGROUP DELCONSUMER (drops the consumer's pending entries).
    pub const CONSUMER_DELETE: u8 = 35;
    /// Consumer expiry (hands the consumer's pending entries back).
    pub const CONSUMER_RELEASE: u8 = 36;
    /// Deliveries, claims, acks, consumer creation and activity.
    pub const GROUP_UPDATE: u8 = 37;
    /// Group policies (dead letter, consumer expiry).
    pub const GROUP_CONFIG: u8 = 38;
    /// Pending references dropped from every group of a stream (DELREF).
    pub const PEL_DROP: u8 = 39;

    /// Whether `k` is a consumer-group record kind.
    pub fn is_group(k: u8) -> bool {
        (32..=63).contains(&k)
    }
}

/// One change to a group's PEL inside a [`GroupUpdate`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PelOp {
    /// The update's consumer owns `id` with this delivery time and count.
    Assign {
        /// Entry ID.
        id: StreamId,
        /// Delivery time (Unix ms, at most the update's `now`).
        time: u64,
        /// Delivery count.
        count: u64,
    },
    /// `id` leaves the PEL.
    Remove(StreamId),
}

/// Flag: set the consumer's seen time to `now`.
pub const SEEN: u8 = 1;
/// Flag: set the consumer's active time to `now`.
pub const ACTIVE: u8 = 2;
const HAS_CONSUMER: u8 = 4;
const HAS_LAST: u8 = 8;
const HAS_READ: u8 = 16;

/// Deliveries, claims, acks: the effect on one group.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct GroupUpdate<'a> {
    /// Stream key.
    pub key: &'a [u8],
    /// Group name.
    pub group: &'a [u8],
    /// The consumer (created if missing), if the update has one.
    pub consumer: Option<&'a [u8]>,
    /// Clock reading of the command.
    pub now: u64,
    /// [`SEEN`] / [`ACTIVE`].
    pub flags: u8,
    /// New last-delivered ID and entries-read counter.
    pub last: Option<(StreamId, Option<u64>)>,
    /// PEL changes, in order.
    pub ops: Vec<PelOp>,
}

/// A consumer-group record.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum GroupRecord<'a> {
    /// XGROUP CREATE.
    Create {
        key: &'a [u8],
        group: &'a [u8],
        last_id: StreamId,
        entries_read: Option<u64>,
        mkstream: bool,
    },
    /// XGROUP SETID.
    SetId {
        key: &'a [u8],
        group: &'a [u8],
        last_id: StreamId,
        entries_read: Option<u64>,
    },
    /// XGROUP DESTROY.
    Destroy { key: &'a [u8], group: &'a [u8] },
    /// XGROUP DELCONSUMER.
    DeleteConsumer {
        key: &'a [u8],
        group: &'a [u8],
        consumer: &'a [u8],
    },
    /// Consumer expiry.
    ReleaseConsumer {
        key: &'a [u8],
        group: &'a [u8],
        consumer: &'a [u8],
    },
    /// Deliveries, claims, acks.
    Update(GroupUpdate<'a>),
    /// Group policies.
    Config {
        key: &'a [u8],
        group: &'a [u8],
        policy: GroupPolicy,
    },
    /// Pending references below `below` and those in `ids` leave every
    /// group of the stream.
    PelDrop {
        key: &'a [u8],
        below: Option<StreamId>,
        ids: Vec<StreamId>,
    },
}

fn put_id(out: &mut Vec<u8>, id: StreamId) {
    put_varint(out, id.ms);
    put_varint(out, id.seq);
}

fn put_opt_u64(out: &mut Vec<u8>, v: Option<u64>) {
    match v {
        Some(v) => {
            out.push(1);
            put_varint(out, v);
        }
        None => out.push(0),
    }
}

fn zigzag(d: i64) -> u64 {
    ((d << 1) ^ (d >> 63)) as u64
}

fn unzigzag(v: u64) -> i64 {
    ((v >> 1) as i64) ^ -((v & 1) as i64)
}

/// IDs as (ms delta from the previous ID, zigzag) + seq: consecutive
/// deliveries cost two or three bytes each.
fn put_id_delta(out: &mut Vec<u8>, prev: &mut u64, id: StreamId) {
    put_varint(out, zigzag(id.ms.wrapping_sub(*prev) as i64));
    put_varint(out, id.seq);
    *prev = id.ms;
}

fn id_delta(c: &mut Cursor<'_>, prev: &mut u64) -> Result<StreamId, Error> {
    let ms = prev.wrapping_add(unzigzag(c.varint()?) as u64);
    let seq = c.varint()?;
    *prev = ms;
    Ok(StreamId::new(ms, seq))
}

fn id(c: &mut Cursor<'_>) -> Result<StreamId, Error> {
    Ok(StreamId::new(c.varint()?, c.varint()?))
}

fn opt_u64(c: &mut Cursor<'_>) -> Result<Option<u64>, Error> {
    match c.u8()? {
        0 => Ok(None),
        1 => Ok(Some(c.varint()?)),
        _ => Err(Error::corrupt("bad optional flag")),
    }
}

impl GroupRecord<'_> {
    /// The WAL kind.
    pub fn kind(&self) -> u8 {
        match self {
            GroupRecord::Create { .. } => kind::GROUP_CREATE,
            GroupRecord::SetId { .. } => kind::GROUP_SETID,
            GroupRecord::Destroy { .. } => kind::GROUP_DESTROY,
            GroupRecord::DeleteConsumer { .. } => kind::CONSUMER_DELETE,
            GroupRecord::ReleaseConsumer { .. } => kind::CONSUMER_RELEASE,
            GroupRecord::Update(_) => kind::GROUP_UPDATE,
            GroupRecord::Config { .. } => kind::GROUP_CONFIG,
            GroupRecord::PelDrop { .. } => kind::PEL_DROP,
        }
    }

    /// Appends the payload to `out`.
    pub fn encode(&self, out: &mut Vec<u8>) {
        match self {
            GroupRecord::Create {
                key,
                group,
                last_id,
                entries_read,
                mkstream,
            } => {
                put_bytes(out, key);
                put_bytes(out, group);
                put_id(out, *last_id);
                put_opt_u64(out, *entries_read);
                out.push(u8::from(*mkstream));
            }
            GroupRecord::SetId {
                key,
                group,
                last_id,
                entries_read,
            } => {
                put_bytes(out, key);
                put_bytes(out, group);
                put_id(out, *last_id);
                put_opt_u64(out, *entries_read);
            }
            GroupRecord::Destroy { key, group } => {
                put_bytes(out, key);
                put_bytes(out, group);
            }
            GroupRecord::DeleteConsumer {
                key,
                group,
                consumer,
            }
            | GroupRecord::ReleaseConsumer {
                key,
                group,
                consumer,
            } => {
                put_bytes(out, key);
                put_bytes(out, group);
                put_bytes(out, consumer);
            }
            GroupRecord::Update(u) => {
                put_bytes(out, u.key);
                put_bytes(out, u.group);
                let mut flags = u.flags & (SEEN | ACTIVE);
                if u.consumer.is_some() {
                    flags |= HAS_CONSUMER;
                }
                if let Some((_, read)) = u.last {
                    flags |= HAS_LAST;
                    if read.is_some() {
                        flags |= HAS_READ;
                    }
                }
                out.push(flags);
                if let Some(c) = u.consumer {
                    put_bytes(out, c);
                }
                put_varint(out, u.now);
                if let Some((last, read)) = u.last {
                    put_id(out, last);
                    if let Some(r) = read {
                        put_varint(out, r);
                    }
                }
                put_varint(out, u.ops.len() as u64);
                let mut prev = 0;
                for op in &u.ops {
                    match *op {
                        PelOp::Assign { id, time, count } => {
                            out.push(0);
                            put_id_delta(out, &mut prev, id);
                            put_varint(out, u.now.saturating_sub(time));
                            put_varint(out, count);
                        }
                        PelOp::Remove(id) => {
                            out.push(1);
                            put_id_delta(out, &mut prev, id);
                        }
                    }
                }
            }
            GroupRecord::Config { key, group, policy } => {
                put_bytes(out, key);
                put_bytes(out, group);
                match &policy.dead_letter {
                    Some(d) => {
                        out.push(1);
                        put_bytes(out, &d.stream);
                        put_varint(out, d.max_deliveries);
                    }
                    None => out.push(0),
                }
                put_opt_u64(out, policy.consumer_idle_ms);
            }
            GroupRecord::PelDrop { key, below, ids } => {
                put_bytes(out, key);
                match below {
                    Some(b) => {
                        out.push(1);
                        put_id(out, *b);
                    }
                    None => out.push(0),
                }
                put_varint(out, ids.len() as u64);
                let mut prev = 0;
                for id in ids {
                    put_id_delta(out, &mut prev, *id);
                }
            }
        }
    }

    /// Decodes a payload of a group kind.
    pub fn decode(k: u8, payload: &[u8]) -> Result<GroupRecord<'_>, Error> {
        let mut c = Cursor::new(payload);
        let rec = match k {
            kind::GROUP_CREATE => GroupRecord::Create {
                key: c.bytes()?,
                group: c.bytes()?,
                last_id: id(&mut c)?,
                entries_read: opt_u64(&mut c)?,
                mkstream: match c.u8()? {
                    0 => false,
                    1 => true,
                    _ => return Err(Error::corrupt("bad MKSTREAM flag")),
                },
            },
            kind::GROUP_SETID => GroupRecord::SetId {
                key: c.bytes()?,
                group: c.bytes()?,
                last_id: id(&mut c)?,
                entries_read: opt_u64(&mut c)?,
            },
            kind::GROUP_DESTROY => GroupRecord::Destroy {
                key: c.bytes()?,
                group: c.bytes()?,
            },
            kind::CONSUMER_DELETE => GroupRecord::DeleteConsumer {
                key: c.bytes()?,
                group: c.bytes()?,
                consumer: c.bytes()?,
            },
            kind::CONSUMER_RELEASE => GroupRecord::ReleaseConsumer {
                key: c.bytes()?,
                group: c.bytes()?,
                consumer: c.bytes()?,
            },
            kind::GROUP_UPDATE => {
                let key = c.bytes()?;
                let group = c.bytes()?;
                let flags = c.u8()?;
                if flags & !(SEEN | ACTIVE | HAS_CONSUMER | HAS_LAST | HAS_READ) != 0 {
                    return Err(Error::corrupt("unknown group update flags"));
                }
                let consumer = if flags & HAS_CONSUMER != 0 {
                    Some(c.bytes()?)
                } else {
                    None
                };
                let now = c.varint()?;
                let last = if flags & HAS_LAST != 0 {
                    let l = id(&mut c)?;
                    let r = if flags & HAS_READ != 0 {
                        Some(c.varint()?)
                    } else {
                        None
                    };
                    Some((l, r))
                } else {
                    None
                };
                let n = c.len_prefix(payload.len())?;
                let mut ops = Vec::with_capacity(n);
                let mut prev = 0;
                for _ in 0..n {
                    let tag = c.u8()?;
                    let id = id_delta(&mut c, &mut prev)?;
                    ops.push(match tag {
                        0 => {
                            let back = c.varint()?;
                            let time = now
                                .checked_sub(back)
                                .ok_or_else(|| Error::corrupt("delivery time before 0"))?;
                            if consumer.is_none() {
                                return Err(Error::corrupt("assign without consumer"));
                            }
                            PelOp::Assign {
                                id,
                                time,
                                count: c.varint()?,
                            }
                        }
                        1 => PelOp::Remove(id),
                        _ => return Err(Error::corrupt("bad PEL op")),
                    });
                }
                GroupRecord::Update(GroupUpdate {
                    key,
                    group,
                    consumer,
                    now,
                    flags: flags & (SEEN | ACTIVE),
                    last,
                    ops,
                })
            }
            kind::GROUP_CONFIG => {
                let key = c.bytes()?;
                let group = c.bytes()?;
                let dead_letter = match c.u8()? {
                    0 => None,
                    1 => Some(DeadLetter {
                        stream: c.bytes()?.to_vec(),
                        max_deliveries: c.varint()?,
                    }),
                    _ => return Err(Error::corrupt("bad dead-letter flag")),
                };
                let consumer_idle_ms = opt_u64(&mut c)?;
                GroupRecord::Config {
                    key,
                    group,
                    policy: GroupPolicy {
                        dead_letter,
                        consumer_idle_ms,
                    },
                }
            }
            kind::PEL_DROP => {
                let key = c.bytes()?;
                let below = match c.u8()? {
                    0 => None,
                    1 => Some(id(&mut c)?),
                    _ => return Err(Error::corrupt("bad bound flag")),
                };
                let n = c.len_prefix(payload.len())?;
                let mut ids = Vec::with_capacity(n);
                let mut prev = 0;
                for _ in 0..n {
                    ids.push(id_delta(&mut c, &mut prev)?);
                }
                GroupRecord::PelDrop { key, below, ids }
            }
            other => return Err(Error::UnknownRecord(other)),
        };
        if !c.is_empty() {
            return Err(Error::corrupt("trailing bytes in group record"));
        }
        Ok(rec)
    }
}

impl Engine {
    /// Encodes and writes group records as one record or one atomic batch,
    /// then applies them. Returns the log end.
    pub(crate) fn write_group(
        &mut self,
        wal: &Wal,
        recs: &[GroupRecord<'_>],
    ) -> Result<u64, Error> {
        if recs.is_empty() {
            return Ok(wal.end().0);
        }
        let bufs: Vec<(u8, Vec<u8>)> = recs
            .iter()
            .map(|r| {
                let mut b = Vec::new();
                r.encode(&mut b);
                (r.kind(), b)
            })
            .collect();
        if bufs.iter().any(|(_, b)| b.len() > eddy_wal::MAX_RECORD_LEN) {
            return Err(Error::TooLarge);
        }
        if bufs.len() == 1 {
            wal.append_nowait(bufs[0].0, &bufs[0].1)?;
        } else {
            wal.append_batch_nowait(bufs.iter().map(|(k, b)| (*k, &b[..])))?;
        }
        for (_, b) in &bufs {
            self.since_checkpoint.0 += 1;
            self.since_checkpoint.1 += b.len() as u64;
        }
        self.apply_groups_or_poison(wal, recs)?;
        Ok(wal.end().0)
    }

    /// Applies records already written; a failure poisons the engine (memory
    /// may no longer match the log).
    pub(crate) fn apply_groups_or_poison(
        &mut self,
        wal: &Wal,
        recs: &[GroupRecord<'_>],
    ) -> Result<(), Error> {
        for r in recs {
            if let Err(e) = self.apply_group(wal, r) {
                self.poisoned = true;
                return Err(e);
            }
        }
        Ok(())
    }

    /// Applies one group record (live writes and recovery alike). Records
    /// naming a missing stream or group are no-ops: a later DEL/DESTROY in
    /// the same replay already explains them.
    pub(crate) fn apply_group(&mut self, _wal: &Wal, rec: &GroupRecord<'_>) -> Result<(), Error> {
        match rec {
            GroupRecord::Create {
                key,
                group,
                last_id,
                entries_read,
                mkstream,
            } => {
                let s = if *mkstream {
                    let idmp = self.idmp_default;
                    Some(self.stream_or_create(key, idmp)?.0)
                } else {
                    self.stream_mut(key)?
                };
                if let Some(s) = s {
                    s.groups
                        .entry((*group).into())
                        .or_insert_with(|| ConsumerGroup::new(*last_id, *entries_read));
                }
            }
            GroupRecord::SetId {
                key,
                group,
                last_id,
                entries_read,
            } => {
                if let Some(g) = self.group_mut(key, group)? {
                    g.last_id = *last_id;
                    g.entries_read = *entries_read;
                }
            }
            GroupRecord::Destroy { key, group } => {
                if let Some(s) = self.stream_mut(key)? {
                    s.groups.remove(*group);
                }
            }
            GroupRecord::DeleteConsumer {
                key,
                group,
                consumer,
            } => {
                if let Some(g) = self.group_mut(key, group)? {
                    g.delete_consumer(consumer);
                }
            }
            GroupRecord::ReleaseConsumer {
                key,
                group,
                consumer,
            } => {
                if let Some(g) = self.group_mut(key, group)? {
                    g.release_consumer(consumer);
                }
            }
            GroupRecord::Update(u) => {
                if let Some(g) = self.group_mut(u.key, u.group)? {
                    apply_update(g, u);
                }
            }
            GroupRecord::Config { key, group, policy } => {
                if let Some(g) = self.group_mut(key, group)? {
                    g.policy = policy.clone();
                }
            }
            GroupRecord::PelDrop { key, below, ids } => {
                if let Some(s) = self.stream_mut(key)? {
                    for g in s.groups.values_mut() {
                        if let Some(b) = below {
                            g.remove_below(*b);
                        }
                        for id in ids {
                            g.remove(*id);
                        }
                    }
                }
            }
        }
        Ok(())
    }

    pub(crate) fn group_mut(
        &mut self,
        key: &[u8],
        group: &[u8],
    ) -> Result<Option<&mut ConsumerGroup>, Error> {
        Ok(self.stream_mut(key)?.and_then(|s| s.groups.get_mut(group)))
    }
}

fn apply_update(g: &mut ConsumerGroup, u: &GroupUpdate<'_>) {
    let owner = u.consumer.map(|name| {
        let (id, _) = g.consumer_or_create(name, u.now);
        if let Some(c) = g.consumers.get_mut(name) {
            if u.flags & SEEN != 0 {
                c.seen_time = u.now;
            }
            if u.flags & ACTIVE != 0 {
                c.active_time = Some(u.now);
            }
        }
        id
    });
    if let Some((last, read)) = u.last {
        g.last_id = last;
        g.entries_read = read;
    }
    for op in &u.ops {
        match *op {
            PelOp::Assign { id, time, count } => {
                if let Some(o) = owner {
                    g.assign(id, o, time, count);
                }
            }
            PelOp::Remove(id) => {
                g.remove(id);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn group_records_round_trip_and_reject_truncation() -> Result<(), Error> {
        let recs = [
            GroupRecord::Create {
                key: b"s",
                group: b"g",
                last_id: StreamId::new(5, 1),
                entries_read: Some(3),
                mkstream: true,
            },
            GroupRecord::SetId {
                key: b"s",
                group: b"g",
                last_id: StreamId::MAX,
                entries_read: None,
            },
            GroupRecord::Destroy {
                key: b"s",
                group: b"g",
            },
            GroupRecord::DeleteConsumer {
                key: b"s",
                group: b"g",
                consumer: b"c",
            },
            GroupRecord::ReleaseConsumer {
                key: b"s",
                group: b"g",
                consumer: b"c",
            },
            GroupRecord::Update(GroupUpdate {
                key: b"s",
                group: b"g",
                consumer: Some(b"alice"),
                now: 1_700_000_000_000,
                flags: SEEN | ACTIVE,
                last: Some((StreamId::new(1_700_000_000_000, 7), Some(42))),
                ops: vec![
                    PelOp::Assign {
                        id: StreamId::new(1_700_000_000_000, 7),
                        time: 1_700_000_000_000,
                        count: 1,
                    },
                    PelOp::Assign {
                        id: StreamId::new(5, 0),
                        time: 0,
                        count: 9,
                    },
                    PelOp::Remove(StreamId::new(1_699_999_999_000, 0)),
                ],
            }),
            GroupRecord::Update(GroupUpdate {
                key: b"s",
                group: b"g",
                consumer: None,
                now: 0,
                flags: 0,
                last: None,
                ops: vec![PelOp::Remove(StreamId::new(1, 1))],
            }),
            GroupRecord::Config {
                key: b"s",
                group: b"g",
                policy: GroupPolicy {
                    dead_letter: Some(DeadLetter {
                        stream: b"dlq".to_vec(),
                        max_deliveries: 5,
                    }),
                    consumer_idle_ms: Some(60_000),
                },
            },
            GroupRecord::PelDrop {
                key: b"s",
                below: Some(StreamId::new(9, 0)),
                ids: vec![StreamId::new(20, 1), StreamId::new(11, 0)],
            },
        ];
        for r in recs {
            let mut b = Vec::new();
            r.encode(&mut b);
            assert_eq!(GroupRecord::decode(r.kind(), &b)?, r);
            for cut in 0..b.len() {
                assert!(
                    GroupRecord::decode(r.kind(), &b[..cut]).is_err(),
                    "{r:?} cut {cut}"
                );
            }
        }
        Ok(())
    }
}
