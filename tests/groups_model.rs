//! Model test: random group operations (reads, history reads, acks, claims,
//! autoclaims, deletes, trims with KEEPREF/DELREF, consumer deletion and
//! expiry, clean reopens, checkpoints, syncs and simulated power cuts) run
//! against the store and against a small in-memory model; after each step
//! the pending entries, owners, counts, consumers and last-delivered ID
//! must agree. A power cut rolls the model back to the last sync (the WAL
//! runs with fsync `no`, so only synced records may survive, and they must).
//! The group moves entries delivered `MAX_DELIVERIES` times to a dead-letter
//! stream, so the model also checks that a move is all-or-nothing: the
//! dead-letter stream and the PEL always agree, crash or not.

mod engine_util;

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;
use std::sync::Arc;

use eddy::group::{ClaimArgs, DeadLetter, GroupPolicy, GroupStart, PendingQuery, ReadFrom};
use eddy::{
    AddArgs, FsyncPolicy, IdSpec, ManualClock, RefPolicy, Store, StreamId, Trim, TrimStrategy,
};
use eddy_wal::FaultIo;
use proptest::prelude::*;

const CONSUMERS: [&str; 3] = ["a", "b", "c"];
const MAX_DELIVERIES: u64 = 3;

#[derive(Clone, Debug)]
enum Op {
    Add(u8),
    ReadNew(usize, usize),
    ReadHistory(usize, usize),
    Ack(usize),
    Claim(usize, usize),
    AutoClaim(usize, usize, usize),
    Del(usize),
    Trim(usize, bool),
    DelConsumer(usize),
    Expire(usize),
    Sync,
    Crash,
    Reopen,
    Checkpoint,
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        4 => (1u8..5).prop_map(Op::Add),
        4 => (0..3usize, 1..5usize).prop_map(|(c, n)| Op::ReadNew(c, n)),
        2 => (0..3usize, 1..5usize).prop_map(|(c, n)| Op::ReadHistory(c, n)),
        3 => (0..64usize).prop_map(Op::Ack),
        2 => (0..3usize, 0..64usize).prop_map(|(c, i)| Op::Claim(c, i)),
        2 => (0..3usize, 0..64usize, 1..4usize).prop_map(|(c, i, n)| Op::AutoClaim(c, i, n)),
        2 => (0..64usize).prop_map(Op::Del),
        1 => (0..12usize, any::<bool>()).prop_map(|(n, d)| Op::Trim(n, d)),
        1 => (0..3usize).prop_map(Op::DelConsumer),
        1 => (0..3usize).prop_map(Op::Expire),
        2 => Just(Op::Sync),
        1 => Just(Op::Crash),
        1 => Just(Op::Reopen),
        1 => Just(Op::Checkpoint),
    ]
}

/// The model: entry IDs are `n-0`; owner `""` means handed back.
#[derive(Clone, Debug, Default, PartialEq)]
struct Model {
    live: BTreeSet<u64>,
    next: u64,
    last: u64,
    pel: BTreeMap<u64, (String, u64)>,
    consumers: BTreeSet<String>,
    /// Entries moved to the dead-letter stream, in order.
    dead: Vec<u64>,
}

struct Harness {
    dir: tempfile::TempDir,
    clock: Arc<ManualClock>,
    io: Arc<FaultIo>,
    store: Option<Store>,
}

fn open(dir: &Path, clock: &Arc<ManualClock>, io: &Arc<FaultIo>) -> Store {
    let mut o = engine_util::options(clock);
    o.wal.fsync = FsyncPolicy::No;
    o.wal.io = io.clone();
    o.wait_for_durability = false;
    Store::open(dir, o).expect("open store")
}

impl Harness {
    fn s(&self) -> &Store {
        self.store.as_ref().expect("open")
    }
    fn reopen(&mut self, crash: bool) {
        let s = self.store.take().expect("open");
        if crash {
            self.io.power_cut().expect("power cut");
            drop(s);
        } else {
            s.close().expect("close");
        }
        self.io = Arc::new(FaultIo::new());
        self.store = Some(open(self.dir.path(), &self.clock, &self.io));
    }
}

fn sid(n: u64) -> StreamId {
    StreamId::new(n, 0)
}

fn pick<T: Copy>(set: impl Iterator<Item = T>, i: usize) -> Option<T> {
    let v: Vec<T> = set.collect();
    if v.is_empty() {
        None
    } else {
        Some(v[i % v.len()])
    }
}

fn check(m: &Model, s: &Store) -> Result<(), TestCaseError> {
    let q = PendingQuery {
        start: StreamId::MIN,
        end: StreamId::MAX,
        count: i64::MAX,
        min_idle: 0,
        consumer: None,
    };
    let rows = s.xpending(b"s", b"g", &q).expect("xpending");
    let got: BTreeMap<u64, (String, u64)> = rows
        .iter()
        .map(|r| {
            (
                r.id.ms,
                (
                    String::from_utf8_lossy(&r.consumer).into_owned(),
                    r.delivery_count,
                ),
            )
        })
        .collect();
    prop_assert_eq!(&got, &m.pel);
    let info = s.xinfo_groups(b"s").expect("xinfo");
    prop_assert_eq!(info[0].last_delivered_id, sid(m.last));
    let names: BTreeSet<String> = s
        .xinfo_consumers(b"s", b"g")
        .expect("consumers")
        .iter()
        .map(|c| String::from_utf8_lossy(&c.name).into_owned())
        .collect();
    prop_assert_eq!(&names, &m.consumers);
    prop_assert_eq!(s.xlen(b"s").expect("xlen"), m.live.len() as u64);
    let dead: Vec<u64> = s
        .xrange(b"dlq", eddy::IdRange::ALL, None)
        .expect("dlq")
        .iter()
        .map(|e| {
            let f = e.to_vec();
            let id = f
                .iter()
                .find(|(k, _)| k == b"dl-id")
                .map(|(_, v)| v.clone());
            let id: StreamId = String::from_utf8_lossy(&id.unwrap_or_default())
                .parse()
                .expect("id");
            id.ms
        })
        .collect();
    prop_assert_eq!(&dead, &m.dead);
    Ok(())
}

fn step(h: &mut Harness, m: &mut Model, durable: &mut Model, op: &Op) -> Result<(), TestCaseError> {
    h.clock.advance(1);
    match *op {
        Op::Add(k) => {
            for _ in 0..k {
                m.next += 1;
                let f: [(&[u8], &[u8]); 1] = [(b"f", b"v")];
                let a = AddArgs::new(&f).id(IdSpec::Explicit(sid(m.next)));
                h.s().xadd(b"s", &a).expect("xadd");
                m.live.insert(m.next);
            }
        }
        Op::ReadNew(c, n) => {
            let name = CONSUMERS[c];
            let r = h
                .s()
                .xreadgroup(
                    b"g",
                    name.as_bytes(),
                    &[(b"s", ReadFrom::New)],
                    Some(n),
                    false,
                )
                .expect("read");
            let got: Vec<u64> = r
                .first()
                .map(|x| x.entries.iter().map(|e| e.id.ms).collect())
                .unwrap_or_default();
            let want: Vec<u64> = m.live.range(m.last + 1..).take(n).copied().collect();
            prop_assert_eq!(&got, &want);
            m.consumers.insert(name.into());
            for id in want {
                m.pel.insert(id, (name.into(), 1));
                m.last = id;
            }
        }
        Op::ReadHistory(c, n) => {
            let name = CONSUMERS[c];
            let r = h
                .s()
                .xreadgroup(
                    b"g",
                    name.as_bytes(),
                    &[(b"s", ReadFrom::After(StreamId::MIN))],
                    Some(n),
                    false,
                )
                .expect("history");
            let got: Vec<(u64, bool)> = r[0]
                .entries
                .iter()
                .map(|e| (e.id.ms, e.entry.is_some()))
                .collect();
            let mine: Vec<(u64, u64)> = m
                .pel
                .iter()
                .filter(|(_, (o, _))| o == name)
                .map(|(id, (_, c))| (*id, *c))
                .collect();
            let mut want: Vec<(u64, bool)> = Vec::new();
            for (id, count) in mine {
                if want.len() >= n {
                    break;
                }
                if !m.live.contains(&id) {
                    want.push((id, false));
                } else if count >= MAX_DELIVERIES {
                    m.pel.remove(&id);
                    m.dead.push(id);
                } else {
                    want.push((id, true));
                    if let Some(p) = m.pel.get_mut(&id) {
                        p.1 += 1;
                    }
                }
            }
            prop_assert_eq!(&got, &want);
            m.consumers.insert(name.into());
        }
        Op::Ack(i) => {
            let id = pick(m.pel.keys().copied(), i).unwrap_or(i as u64);
            let n = h.s().xack(b"s", b"g", &[sid(id)]).expect("xack");
            prop_assert_eq!(n, u64::from(m.pel.remove(&id).is_some()));
        }
        Op::Claim(c, i) => {
            let name = CONSUMERS[c];
            let id = pick(m.pel.keys().copied(), i).unwrap_or(i as u64);
            let r = h
                .s()
                .xclaim(
                    b"s",
                    b"g",
                    name.as_bytes(),
                    &[sid(id)],
                    &ClaimArgs::default(),
                )
                .expect("xclaim");
            m.consumers.insert(name.into());
            let want = match m.pel.get(&id).cloned() {
                Some(_) if !m.live.contains(&id) => {
                    m.pel.remove(&id);
                    false
                }
                Some((_, count)) if count >= MAX_DELIVERIES => {
                    m.pel.remove(&id);
                    m.dead.push(id);
                    false
                }
                Some((_, count)) => {
                    m.pel.insert(id, (name.into(), count + 1));
                    true
                }
                None => false,
            };
            prop_assert_eq!(r.claimed.len(), usize::from(want));
        }
        Op::AutoClaim(c, i, n) => {
            let name = CONSUMERS[c];
            let start = pick(m.pel.keys().copied(), i).unwrap_or(0);
            let r = h
                .s()
                .xautoclaim(b"s", b"g", name.as_bytes(), 0, sid(start), n as i64, false)
                .expect("autoclaim");
            m.consumers.insert(name.into());
            let visit: Vec<u64> = m.pel.range(start..).map(|(id, _)| *id).take(n).collect();
            let (mut claimed, mut deleted) = (Vec::new(), Vec::new());
            for id in &visit {
                let count = m.pel.get(id).map_or(0, |p| p.1);
                if m.live.contains(id) && count >= MAX_DELIVERIES {
                    m.pel.remove(id);
                    m.dead.push(*id);
                } else if m.live.contains(id) {
                    m.pel.insert(*id, (name.into(), count + 1));
                    claimed.push(*id);
                } else {
                    m.pel.remove(id);
                    deleted.push(*id);
                }
            }
            let next = visit
                .last()
                .and_then(|l| m.pel.range(l + 1..).next().map(|(id, _)| *id))
                .unwrap_or(0);
            prop_assert_eq!(
                r.claimed.iter().map(|e| e.id.ms).collect::<Vec<_>>(),
                claimed
            );
            prop_assert_eq!(
                r.deleted.iter().map(|id| id.ms).collect::<Vec<_>>(),
                deleted
            );
            prop_assert_eq!(r.next, sid(next));
        }
        Op::Del(i) => {
            if let Some(id) = pick(m.live.iter().copied(), i) {
                prop_assert_eq!(h.s().xdel(b"s", &[sid(id)]).expect("xdel"), 1);
                m.live.remove(&id);
            }
        }
        Op::Trim(n, delref) => {
            let refs = if delref {
                RefPolicy::DelRef
            } else {
                RefPolicy::KeepRef
            };
            let t = Trim::exact(TrimStrategy::MaxLen(n as u64));
            let removed = h.s().xtrim_refs(b"s", &t, refs).expect("trim");
            let gone: Vec<u64> = m
                .live
                .iter()
                .copied()
                .take(m.live.len().saturating_sub(n))
                .collect();
            prop_assert_eq!(removed, gone.len() as u64);
            for id in &gone {
                m.live.remove(id);
            }
            if delref && !gone.is_empty() {
                // Every reference to a trimmed entry goes; references to
                // entries deleted earlier below the cut may go too (the cut
                // is a bound, not a list), nothing else may.
                let first_kept = m.live.iter().next().copied().unwrap_or(u64::MAX);
                let q = PendingQuery {
                    start: StreamId::MIN,
                    end: StreamId::MAX,
                    count: i64::MAX,
                    min_idle: 0,
                    consumer: None,
                };
                let now: BTreeSet<u64> = h
                    .s()
                    .xpending(b"s", b"g", &q)
                    .expect("pending")
                    .iter()
                    .map(|r| r.id.ms)
                    .collect();
                for id in m.pel.keys() {
                    let must_go = gone.contains(id);
                    let may_go = must_go || (*id < first_kept && !m.live.contains(id));
                    prop_assert!(!must_go || !now.contains(id), "{} kept", id);
                    prop_assert!(may_go || now.contains(id), "{} dropped", id);
                }
                m.pel.retain(|id, _| now.contains(id));
            }
        }
        Op::DelConsumer(c) => {
            let name = CONSUMERS[c];
            let n = h
                .s()
                .xgroup_delconsumer(b"s", b"g", name.as_bytes())
                .expect("delconsumer");
            let before = m.pel.len();
            m.pel.retain(|_, (o, _)| o != name);
            prop_assert_eq!(n, (before - m.pel.len()) as u64);
            m.consumers.remove(name);
        }
        Op::Expire(c) => {
            let name = CONSUMERS[c];
            h.s()
                .xgroup_expire_consumer(b"s", b"g", name.as_bytes())
                .expect("expire");
            for p in m.pel.values_mut().filter(|(o, _)| o == name) {
                p.0 = String::new();
            }
            m.consumers.remove(name);
        }
        Op::Sync => {
            h.s().sync().expect("sync");
            *durable = m.clone();
        }
        Op::Crash => {
            h.reopen(true);
            *m = durable.clone();
        }
        Op::Reopen => {
            h.reopen(false);
            *durable = m.clone();
        }
        Op::Checkpoint => {
            h.s().checkpoint().expect("checkpoint");
            *durable = m.clone();
        }
    }
    check(m, h.s())
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 48, ..ProptestConfig::default() })]
    #[test]
    fn groups_match_the_model(ops in proptest::collection::vec(op(), 1..60)) {
        let dir = tempfile::tempdir().expect("tempdir");
        let clock = Arc::new(ManualClock::new(1_000_000));
        let io = Arc::new(FaultIo::new());
        let store = open(dir.path(), &clock, &io);
        store.xgroup_create(b"s", b"g", GroupStart::Id(StreamId::MIN), true, None).expect("create");
        let dl = DeadLetter { stream: b"dlq".to_vec(), max_deliveries: MAX_DELIVERIES };
        let policy = GroupPolicy { dead_letter: Some(dl), consumer_idle_ms: None };
        store.xgroup_set_policy(b"s", b"g", policy).expect("policy");
        store.sync().expect("sync");
        let mut h = Harness { dir, clock, io, store: Some(store) };
        let mut m = Model::default();
        let mut durable = m.clone();
        for op in &ops {
            step(&mut h, &mut m, &mut durable, op)?;
        }
    }
}
