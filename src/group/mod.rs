//! Consumer groups: the group state that lives next to a stream (last
//! delivered ID, entries-read counter, pending entries list, consumers,
//! policies) and the primitive mutations every group record applies.
//!
//! This module owns the in-memory state and its invariants; it never writes
//! to the log. `ops.rs` and `claim.rs` turn commands into records
//! (`record.rs`), write them through the engine and apply them with the
//! functions here, the same ones recovery calls; `pel.rs` answers queries.
//!
//! Structure and cost: the group PEL is a `BTreeMap<StreamId,
//! PendingEntry>` and every consumer keeps a `BTreeSet<StreamId>` of the
//! entries it owns, so XACK, XCLAIM and a PEL lookup are `O(log n)`, and
//! XPENDING with a range, XAUTOCLAIM and history reads seek in `O(log n)`
//! and then pay for what they visit. An owner is a consumer number, not a
//! name, so a pending entry costs 24 bytes of value plus the two tree slots.
//!
//! Entries handed back by consumer expiry stay in the group PEL owned by
//! [`NOBODY`] with delivery time 0: they are shown with consumer `""` and
//! idle `-1` (as Redis 8.8 shows XNACKed entries), no history read returns
//! them, and the first XCLAIM / XAUTOCLAIM that reaches them (whatever its
//! min-idle-time) takes them.

pub mod claim;
pub mod ops;
pub mod pel;
pub mod record;

pub use claim::{
    AutoClaimReply, ClaimArgs, ClaimReply, DeliveryTime, GroupEntry, ReadFrom, StreamRead,
};
pub use ops::{Expired, GroupStart};
pub use pel::{
    ConsumerFull, ConsumerInfo, GroupFull, GroupInfo, PendingQuery, PendingRow, PendingSummary,
};

use std::collections::{BTreeMap, BTreeSet, HashMap};

use serde::{Deserialize, Serialize};

use crate::stream::StreamId;

/// Owner number of pending entries that no consumer owns (handed back to
/// the group by consumer expiry).
pub const NOBODY: u64 = 0;

/// One pending entry: delivered, not yet acknowledged.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct PendingEntry {
    /// Unix ms of the last delivery (0 for entries handed back).
    pub delivery_time: u64,
    /// Times delivered.
    pub delivery_count: u64,
    /// Owning consumer's number ([`NOBODY`] for none).
    pub owner: u64,
}

/// A consumer of a group.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Consumer {
    /// Its number (the owner field of its pending entries).
    pub(crate) id: u64,
    /// Unix ms of the last attempted interaction (read, claim).
    pub(crate) seen_time: u64,
    /// Unix ms of the last successful interaction, `None` if never.
    pub(crate) active_time: Option<u64>,
    /// Entries it owns (rebuilt from the group PEL on load).
    #[serde(skip)]
    pub(crate) pel: BTreeSet<StreamId>,
}

/// Dead-letter policy of a group.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct DeadLetter {
    /// Stream the entries are moved to.
    pub stream: Vec<u8>,
    /// An entry delivered this many times is moved instead of being
    /// delivered again.
    pub max_deliveries: u64,
}

/// Policies of a group beyond Redis (XGROUP CONFIG-style settings).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct GroupPolicy {
    /// Dead-letter policy, if any.
    pub dead_letter: Option<DeadLetter>,
    /// Consumers idle (no attempted interaction) for this many ms are
    /// expired: their pending entries go back to the group.
    pub consumer_idle_ms: Option<u64>,
}

/// A consumer group of one stream.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
#[serde(from = "GroupRepr")]
pub struct ConsumerGroup {
    pub(crate) last_id: StreamId,
    /// Redis's `entries_read`; `None` is its -1 ("unknown").
    pub(crate) entries_read: Option<u64>,
    pub(crate) pel: BTreeMap<StreamId, PendingEntry>,
    pub(crate) consumers: BTreeMap<Box<[u8]>, Consumer>,
    pub(crate) next_consumer: u64,
    pub(crate) policy: GroupPolicy,
    /// Pending entries owned by [`NOBODY`] (rebuilt on load).
    #[serde(skip_serializing)]
    pub(crate) unowned: u64,
    /// Consumer number -> name (rebuilt on load).
    #[serde(skip_serializing)]
    pub(crate) names: HashMap<u64, Box<[u8]>>,
}

/// The serialized form of a group (without the derived indexes).
#[derive(Deserialize)]
struct GroupRepr {
    last_id: StreamId,
    entries_read: Option<u64>,
    pel: BTreeMap<StreamId, PendingEntry>,
    consumers: BTreeMap<Box<[u8]>, Consumer>,
    next_consumer: u64,
    policy: GroupPolicy,
}

impl From<GroupRepr> for ConsumerGroup {
    fn from(r: GroupRepr) -> ConsumerGroup {
        let mut g = ConsumerGroup {
            last_id: r.last_id,
            entries_read: r.entries_read,
            pel: r.pel,
            consumers: r.consumers,
            next_consumer: r.next_consumer,
            policy: r.policy,
            unowned: 0,
            names: HashMap::new(),
        };
        let mut by_id: HashMap<u64, Box<[u8]>> = HashMap::new();
        for (name, c) in &g.consumers {
            by_id.insert(c.id, name.clone());
        }
        for (id, pe) in &g.pel {
            match by_id.get(&pe.owner).and_then(|n| g.consumers.get_mut(n)) {
                Some(c) => {
                    c.pel.insert(*id);
                }
                None => g.unowned += 1,
            }
        }
        g.names = by_id;
        g
    }
}

impl ConsumerGroup {
    /// Heap bytes held by this group (an estimate for `INFO memory` and
    /// maxmemory accounting; group state is counted but never evicted).
    pub fn memory_bytes(&self) -> usize {
        self.pel.len() * crate::memory::GROUP_PENDING_BYTES
            + self
                .consumers
                .keys()
                .map(|name| crate::memory::consumer_bytes(name.len()))
                .sum::<usize>()
    }

    /// A group whose last delivered ID is `last_id`.
    pub fn new(last_id: StreamId, entries_read: Option<u64>) -> ConsumerGroup {
        ConsumerGroup {
            last_id,
            entries_read,
            next_consumer: 1,
            ..ConsumerGroup::default()
        }
    }

    /// Last delivered ID.
    pub fn last_id(&self) -> StreamId {
        self.last_id
    }
    /// Entries read (`None` = unknown).
    pub fn entries_read(&self) -> Option<u64> {
        self.entries_read
    }
    /// Pending entries.
    pub fn pending_len(&self) -> usize {
        self.pel.len()
    }
    /// Consumers.
    pub fn consumer_count(&self) -> usize {
        self.consumers.len()
    }
    /// The group's policies.
    pub fn policy(&self) -> &GroupPolicy {
        &self.policy
    }
    /// The pending entry of `id`, if any.
    pub fn pending(&self, id: StreamId) -> Option<&PendingEntry> {
        self.pel.get(&id)
    }
    /// Name of the owner of a pending entry (`""` for [`NOBODY`]).
    pub fn owner_name(&self, owner: u64) -> &[u8] {
        self.names.get(&owner).map_or(&[][..], |n| &n[..])
    }
    /// Number of a consumer, if it exists.
    pub fn consumer_id(&self, name: &[u8]) -> Option<u64> {
        self.consumers.get(name).map(|c| c.id)
    }

    /// The consumer `name`, created (seen at `now`) if missing. Returns its
    /// number and whether it was created.
    pub(crate) fn consumer_or_create(&mut self, name: &[u8], now: u64) -> (u64, bool) {
        if let Some(c) = self.consumers.get(name) {
            return (c.id, false);
        }
        let id = self.next_consumer.max(1);
        self.next_consumer = id + 1;
        self.consumers.insert(
            name.into(),
            Consumer {
                id,
                seen_time: now,
                active_time: None,
                pel: BTreeSet::new(),
            },
        );
        self.names.insert(id, name.into());
        (id, true)
    }

    fn owner_set(&mut self, owner: u64) -> Option<&mut BTreeSet<StreamId>> {
        let name = self.names.get(&owner)?;
        self.consumers.get_mut(name).map(|c| &mut c.pel)
    }

    /// Makes `owner` own `id` with this delivery time and count (inserting
    /// the entry or moving it from its previous owner).
    pub(crate) fn assign(&mut self, id: StreamId, owner: u64, time: u64, count: u64) {
        let prev = self.pel.insert(
            id,
            PendingEntry {
                delivery_time: time,
                delivery_count: count,
                owner,
            },
        );
        match prev {
            Some(p) if p.owner == owner => return,
            Some(p) => self.unlink(id, p.owner),
            None => {}
        }
        if owner == NOBODY {
            self.unowned += 1;
        } else if let Some(set) = self.owner_set(owner) {
            set.insert(id);
        }
    }

    fn unlink(&mut self, id: StreamId, owner: u64) {
        if owner == NOBODY {
            self.unowned = self.unowned.saturating_sub(1);
        } else if let Some(set) = self.owner_set(owner) {
            set.remove(&id);
        }
    }

    /// Removes `id` from the PEL (acknowledged, deleted or dead-lettered).
    pub(crate) fn remove(&mut self, id: StreamId) -> Option<PendingEntry> {
        let p = self.pel.remove(&id)?;
        self.unlink(id, p.owner);
        Some(p)
    }

    /// Removes every pending entry below `bound`; returns how many.
    pub(crate) fn remove_below(&mut self, bound: StreamId) -> u64 {
        let keep = self.pel.split_off(&bound);
        let gone = std::mem::replace(&mut self.pel, keep);
        for (id, p) in &gone {
            self.unlink(*id, p.owner);
        }
        gone.len() as u64
    }

    /// XGROUP DELCONSUMER: deletes the consumer and drops its pending
    /// entries from the group PEL. Returns how many it had.
    pub(crate) fn delete_consumer(&mut self, name: &[u8]) -> u64 {
        let Some(c) = self.consumers.remove(name) else {
            return 0;
        };
        self.names.remove(&c.id);
        for id in &c.pel {
            self.pel.remove(id);
        }
        c.pel.len() as u64
    }

    /// Consumer expiry: deletes the consumer and hands its pending entries
    /// back to the group (owner [`NOBODY`], delivery time 0, count kept).
    /// Returns how many it had.
    pub(crate) fn release_consumer(&mut self, name: &[u8]) -> u64 {
        let Some(c) = self.consumers.remove(name) else {
            return 0;
        };
        self.names.remove(&c.id);
        for id in &c.pel {
            if let Some(p) = self.pel.get_mut(id) {
                p.owner = NOBODY;
                p.delivery_time = 0;
                self.unowned += 1;
            }
        }
        c.pel.len() as u64
    }

    /// Checks the structural invariants (tests): every pending entry is in
    /// exactly one owner set and the sets hold nothing else.
    pub fn check_invariants(&self) -> Result<(), String> {
        let mut owned = 0u64;
        for (name, c) in &self.consumers {
            if self.names.get(&c.id).map(|n| &n[..]) != Some(&name[..]) {
                return Err(format!("consumer {} not indexed", c.id));
            }
            for id in &c.pel {
                match self.pel.get(id) {
                    Some(p) if p.owner == c.id => owned += 1,
                    _ => return Err(format!("consumer {} holds stray {id}", c.id)),
                }
            }
        }
        let unowned = self.pel.values().filter(|p| p.owner == NOBODY).count() as u64;
        if unowned != self.unowned || owned + unowned != self.pel.len() as u64 {
            return Err(format!(
                "pel {} owned {owned} unowned {unowned}/{}",
                self.pel.len(),
                self.unowned
            ));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn id(ms: u64) -> StreamId {
        StreamId::new(ms, 0)
    }

    #[test]
    fn owner_sets_follow_assign_remove_release_and_delete() -> Result<(), String> {
        let mut g = ConsumerGroup::new(StreamId::MIN, None);
        let (a, created) = g.consumer_or_create(b"a", 1);
        assert!(created);
        let (b, _) = g.consumer_or_create(b"b", 1);
        for ms in 1..=6 {
            g.assign(id(ms), if ms % 2 == 0 { a } else { b }, 10, 1);
        }
        g.check_invariants()?;
        g.assign(id(2), b, 20, 2); // moves from a to b
        g.check_invariants()?;
        assert_eq!(g.remove(id(3)).map(|p| p.owner), Some(b));
        assert_eq!(g.release_consumer(b"b"), 3); // 1, 2, 5
        g.check_invariants()?;
        assert_eq!(g.unowned, 3);
        assert_eq!(g.owner_name(NOBODY), b"");
        let (c, _) = g.consumer_or_create(b"c", 2);
        g.assign(id(1), c, 30, 2); // claimed back from nobody
        g.check_invariants()?;
        assert_eq!(g.unowned, 2);
        assert_eq!(g.remove_below(id(3)), 2); // 1 and 2
        g.check_invariants()?;
        assert_eq!(g.delete_consumer(b"a"), 2); // 4, 6
        g.check_invariants()?;
        assert_eq!(g.pel.keys().copied().collect::<Vec<_>>(), vec![id(5)]);
        Ok(())
    }

    #[test]
    fn serialized_groups_rebuild_their_indexes() -> Result<(), String> {
        let mut g = ConsumerGroup::new(id(9), Some(4));
        let (a, _) = g.consumer_or_create(b"a", 1);
        let (b, _) = g.consumer_or_create(b"b", 1);
        g.assign(id(1), a, 5, 1);
        g.assign(id(2), b, 6, 3);
        g.assign(id(3), b, 7, 1);
        g.release_consumer(b"b");
        g.consumer_or_create(b"b", 2);
        g.policy.consumer_idle_ms = Some(100);
        let bytes = postcard::to_stdvec(&g).map_err(|e| e.to_string())?;
        let back: ConsumerGroup = postcard::from_bytes(&bytes).map_err(|e| e.to_string())?;
        back.check_invariants()?;
        assert_eq!(back.pel, g.pel);
        assert_eq!(back.unowned, 2);
        assert_eq!(back.consumers[&b"a"[..]].pel.len(), 1);
        assert_eq!((back.last_id, back.entries_read), (id(9), Some(4)));
        assert_eq!(back.policy, g.policy);
        // A new consumer does not reuse an old number.
        let mut back = back;
        let (n, _) = back.consumer_or_create(b"z", 3);
        assert!(n > b);
        Ok(())
    }
}
