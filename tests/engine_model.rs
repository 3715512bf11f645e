//! Model test: random appends (every ID form), deletes, trims, ranges,
//! checkpoints, clean reopens and power cuts, checked against a BTreeMap.
//!
//! Power cuts use the WAL's fault seam with fsync `no` and explicit syncs:
//! after a cut the store must come back in a state the model passed through
//! between the last sync and the cut (nothing synced is ever lost).

mod engine_util;

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Arc;

use eddy::{
    AddArgs, AppendItem, Error, FsyncPolicy, IdRange, IdSpec, ManualClock, NodeLimits, Store,
    StreamId, Trim, TrimStrategy,
};
use eddy_wal::FaultIo;
use proptest::prelude::*;

type Fields = Vec<(Vec<u8>, Vec<u8>)>;

#[derive(Clone, Debug, Default, PartialEq)]
struct MStream {
    entries: BTreeMap<StreamId, Fields>,
    last: StreamId,
}

type Model = BTreeMap<String, MStream>;

#[derive(Clone, Debug)]
enum Spec {
    Auto,
    AutoSeq(u64),
    Explicit(u64, u64),
}

#[derive(Clone, Debug)]
enum Op {
    Add {
        key: u8,
        spec: Spec,
        nfields: u8,
        big: bool,
        maxlen: Option<(u64, bool)>,
    },
    Batch {
        key: u8,
        n: u8,
        big: bool,
    },
    Del {
        key: u8,
        pick: usize,
        present: bool,
    },
    Trim {
        key: u8,
        maxlen: u64,
        approx: bool,
    },
    MinId {
        key: u8,
        pick: usize,
    },
    Range {
        key: u8,
        a: usize,
        b: usize,
        count: Option<usize>,
        rev: bool,
    },
    Clock {
        delta: i64,
    },
    Sync,
    Checkpoint,
    Reopen,
    PowerCut,
    DelKey {
        key: u8,
    },
}

fn op() -> impl Strategy<Value = Op> {
    let spec = prop_oneof![
        4 => Just(Spec::Auto),
        1 => (0u64..40).prop_map(Spec::AutoSeq),
        2 => (0u64..40, 0u64..4).prop_map(|(m, s)| Spec::Explicit(m, s)),
    ];
    prop_oneof![
        10 => (0u8..3, spec, 1u8..4, any::<bool>(), proptest::option::weighted(0.2, (0u64..12, any::<bool>())))
            .prop_map(|(key, spec, nfields, big, maxlen)| Op::Add { key, spec, nfields, big, maxlen }),
        2 => (0u8..3, 1u8..30, any::<bool>()).prop_map(|(key, n, big)| Op::Batch { key, n, big }),
        3 => (0u8..3, any::<usize>(), any::<bool>()).prop_map(|(key, pick, present)| Op::Del { key, pick, present }),
        1 => (0u8..3, 0u64..15, any::<bool>()).prop_map(|(key, maxlen, approx)| Op::Trim { key, maxlen, approx }),
        1 => (0u8..3, any::<usize>()).prop_map(|(key, pick)| Op::MinId { key, pick }),
        3 => (0u8..3, any::<usize>(), any::<usize>(), proptest::option::of(0usize..6), any::<bool>())
            .prop_map(|(key, a, b, count, rev)| Op::Range { key, a, b, count, rev }),
        2 => (-30i64..60).prop_map(|delta| Op::Clock { delta }),
        1 => Just(Op::Sync),
        1 => Just(Op::Checkpoint),
        1 => Just(Op::Reopen),
        1 => Just(Op::PowerCut),
        1 => (0u8..3).prop_map(|key| Op::DelKey { key }),
    ]
}

struct Harness {
    dir: tempfile::TempDir,
    clock: Arc<ManualClock>,
    io: Arc<FaultIo>,
    store: Option<Store>,
}

impl Harness {
    fn open(dir: &Path, clock: &Arc<ManualClock>, io: &Arc<FaultIo>) -> Store {
        let mut o = engine_util::options(clock);
        o.wal.io = io.clone();
        o.wal.fsync = FsyncPolicy::No;
        o.wal.segment_size = 64 << 10;
        o.node_limits = NodeLimits {
            max_bytes: 300,
            max_entries: 4,
        };
        Store::open(dir, o).expect("open")
    }
    fn store(&self) -> &Store {
        self.store.as_ref().expect("open store")
    }
}

fn key(k: u8) -> String {
    format!("k{k}")
}

fn resolve(m: &MStream, spec: &Spec, now: u64) -> Result<StreamId, ()> {
    let last = m.last;
    let id = match *spec {
        Spec::Auto if now > last.ms => StreamId::new(now, 0),
        Spec::Auto => last.next().ok_or(())?,
        Spec::AutoSeq(ms) if ms == last.ms => StreamId::new(ms, last.seq + 1),
        Spec::AutoSeq(ms) => StreamId::new(ms, 0),
        Spec::Explicit(ms, seq) => StreamId::new(ms, seq),
    };
    if id == StreamId::MIN || id <= last {
        Err(())
    } else {
        Ok(id)
    }
}

fn dump(s: &Store) -> Model {
    let mut m = Model::new();
    for k in s.keys(b"*") {
        let entries = s
            .xrange(&k, IdRange::ALL, None)
            .expect("range")
            .into_iter()
            .map(|e| (e.id(), e.to_vec()))
            .collect();
        let last = s.last_id(&k).expect("last").expect("exists");
        m.insert(
            String::from_utf8(k).expect("utf8"),
            MStream { entries, last },
        );
    }
    m
}

fn pick_id(m: Option<&MStream>, pick: usize) -> Option<StreamId> {
    let m = m?;
    if m.entries.is_empty() {
        return None;
    }
    m.entries.keys().nth(pick % m.entries.len()).copied()
}

fn run(ops: Vec<Op>) -> Result<(), TestCaseError> {
    let dir = tempfile::tempdir().expect("tempdir");
    let clock = Arc::new(ManualClock::new(100));
    let io = Arc::new(FaultIo::new());
    let store = Harness::open(dir.path(), &clock, &io);
    let mut h = Harness {
        dir,
        clock,
        io,
        store: Some(store),
    };
    let mut model = Model::new();
    // States the model passed through since the last sync (the first is
    // the synced one).
    let mut since_sync: Vec<Model> = vec![model.clone()];
    for op in ops {
        match op {
            Op::Add {
                key: k,
                spec,
                nfields,
                big,
                maxlen,
            } => {
                let fields: Fields = (0..nfields)
                    .map(|i| {
                        let v = if big {
                            vec![b'v'; 120]
                        } else {
                            format!("{i}").into_bytes()
                        };
                        (format!("f{}", i % 2).into_bytes(), v)
                    })
                    .collect();
                let f: Vec<(&[u8], &[u8])> = fields.iter().map(|(a, b)| (&a[..], &b[..])).collect();
                let id_spec = match spec {
                    Spec::Auto => IdSpec::Auto,
                    Spec::AutoSeq(ms) => IdSpec::AutoSeq(ms),
                    Spec::Explicit(ms, seq) => IdSpec::Explicit(StreamId::new(ms, seq)),
                };
                let mut args = AddArgs::new(&f).id(id_spec);
                args.trim = maxlen.map(|(n, approx)| Trim {
                    strategy: TrimStrategy::MaxLen(n),
                    approx,
                    limit: None,
                });
                let empty = MStream::default();
                let ms = model.get(&key(k)).unwrap_or(&empty);
                let want = resolve(ms, &spec, h.clock.now_ms_pub());
                let got = h.store().xadd(key(k).as_bytes(), &args);
                match (want, got) {
                    (Ok(id), Ok(Some(added))) => {
                        prop_assert_eq!(added.id, id);
                        let m = model.entry(key(k)).or_default();
                        m.entries.insert(id, fields);
                        m.last = id;
                        if let Some((n, approx)) = maxlen {
                            apply_maxlen(h.store(), &key(k), m, n, approx)?;
                        }
                    }
                    (Err(()), Err(Error::IdNotIncreasing | Error::IdZero)) => {}
                    (w, g) => prop_assert!(false, "add: model {:?}, store {:?}", w, g),
                }
            }
            Op::Batch { key: k, n, big } => {
                let v = if big { vec![b'w'; 150] } else { b"1".to_vec() };
                let fields: Fields = vec![(b"f0".to_vec(), v.clone()), (b"g".to_vec(), v)];
                let f: Vec<(&[u8], &[u8])> = fields.iter().map(|(a, b)| (&a[..], &b[..])).collect();
                let items: Vec<AppendItem<'_>> = (0..n)
                    .map(|_| AppendItem {
                        id: IdSpec::Auto,
                        fields: &f,
                        idmp: None,
                    })
                    .collect();
                let got = h
                    .store()
                    .xadd_batch(key(k).as_bytes(), &items)
                    .expect("batch");
                let m = model.entry(key(k)).or_default();
                let now = h.clock.now_ms_pub();
                for id in got {
                    let want =
                        resolve(m, &Spec::Auto, now).map_err(|()| TestCaseError::fail("id"))?;
                    prop_assert_eq!(id, want);
                    m.entries.insert(id, fields.clone());
                    m.last = id;
                }
            }
            Op::Del {
                key: k,
                pick,
                present,
            } => {
                let target = if present {
                    pick_id(model.get(&key(k)), pick)
                } else {
                    None
                };
                let target = target.unwrap_or(StreamId::new(pick as u64 % 50, 9));
                let n = h.store().xdel(key(k).as_bytes(), &[target]).expect("xdel");
                let had = model
                    .get_mut(&key(k))
                    .and_then(|m| m.entries.remove(&target))
                    .is_some();
                prop_assert_eq!(n, u64::from(had));
            }
            Op::Trim {
                key: k,
                maxlen,
                approx,
            } => {
                let t = if approx {
                    Trim::approx(TrimStrategy::MaxLen(maxlen))
                } else {
                    Trim::exact(TrimStrategy::MaxLen(maxlen))
                };
                h.store().xtrim(key(k).as_bytes(), &t).expect("xtrim");
                if let Some(m) = model.get_mut(&key(k)) {
                    apply_maxlen(h.store(), &key(k), m, maxlen, approx)?;
                }
            }
            Op::MinId { key: k, pick } => {
                if let Some(min) = pick_id(model.get(&key(k)), pick) {
                    let n = h
                        .store()
                        .xtrim(key(k).as_bytes(), &Trim::exact(TrimStrategy::MinId(min)))
                        .expect("minid");
                    let m = model.get_mut(&key(k)).expect("exists");
                    let before = m.entries.len();
                    m.entries = m.entries.split_off(&min);
                    prop_assert_eq!(n as usize, before - m.entries.len());
                }
            }
            Op::Range {
                key: k,
                a,
                b,
                count,
                rev,
            } => {
                let m = model.get(&key(k)).cloned().unwrap_or_default();
                let all: Vec<StreamId> = m.entries.keys().copied().collect();
                let bound = |x: usize| {
                    all.get(x % (all.len() + 1))
                        .copied()
                        .unwrap_or(StreamId::MAX)
                };
                let (lo, hi) = (bound(a).min(bound(b)), bound(a).max(bound(b)));
                let range = IdRange { start: lo, end: hi };
                let mut want: Vec<_> = m
                    .entries
                    .range(lo..=hi)
                    .map(|(i, f)| (*i, f.clone()))
                    .collect();
                if rev {
                    want.reverse();
                }
                if let Some(c) = count {
                    want.truncate(c);
                }
                let got = if rev {
                    h.store().xrevrange(key(k).as_bytes(), range, count)
                } else {
                    h.store().xrange(key(k).as_bytes(), range, count)
                }
                .expect("range");
                let got: Vec<_> = got.into_iter().map(|e| (e.id(), e.to_vec())).collect();
                prop_assert_eq!(got, want);
            }
            Op::Clock { delta } => {
                let now = h.clock.now_ms_pub() as i64;
                h.clock.set((now + delta).max(0) as u64);
            }
            Op::Sync => {
                h.store().sync().expect("sync");
                since_sync = vec![];
            }
            Op::Checkpoint => {
                h.store().checkpoint().expect("checkpoint");
                since_sync = vec![];
            }
            Op::Reopen => {
                h.store.take().expect("open").close().expect("close");
                h.store = Some(Harness::open(h.dir.path(), &h.clock, &h.io));
                since_sync = vec![];
                prop_assert_eq!(dump(h.store()), model.clone());
            }
            Op::PowerCut => {
                h.io.power_cut().expect("power cut");
                drop(h.store.take());
                h.io = Arc::new(FaultIo::new());
                h.store = Some(Harness::open(h.dir.path(), &h.clock, &h.io));
                let got = dump(h.store());
                prop_assert!(
                    since_sync.contains(&got) || got == model,
                    "after a power cut the store is in no state passed since the last sync"
                );
                model = got;
                since_sync = vec![];
            }
            Op::DelKey { key: k } => {
                let n = h.store().del(&[key(k).as_bytes()]).expect("del");
                prop_assert_eq!(n, u64::from(model.remove(&key(k)).is_some()));
            }
        }
        since_sync.push(model.clone());
    }
    prop_assert_eq!(dump(h.store()), model.clone());
    h.store.take().expect("open").close().expect("close");
    let s = Harness::open(h.dir.path(), &h.clock, &Arc::new(FaultIo::new()));
    prop_assert_eq!(dump(&s), model);
    Ok(())
}

/// Applies a MAXLEN trim to the model: exact trims are predicted; `~`
/// trims must leave a suffix of at least `n` entries, which the model then
/// adopts.
fn apply_maxlen(
    s: &Store,
    k: &str,
    m: &mut MStream,
    n: u64,
    approx: bool,
) -> Result<(), TestCaseError> {
    if approx {
        let got: Vec<StreamId> = s
            .xrange(k.as_bytes(), IdRange::ALL, None)
            .expect("range")
            .iter()
            .map(|e| e.id())
            .collect();
        let all: Vec<StreamId> = m.entries.keys().copied().collect();
        prop_assert!(got.len() as u64 >= n.min(all.len() as u64));
        prop_assert_eq!(&all[all.len() - got.len()..], &got[..]);
        let first = got.first().copied().unwrap_or(StreamId::MAX);
        m.entries = m.entries.split_off(&first);
    } else {
        while m.entries.len() as u64 > n {
            m.entries.pop_first();
        }
    }
    Ok(())
}

trait NowMs {
    fn now_ms_pub(&self) -> u64;
}

impl NowMs for ManualClock {
    fn now_ms_pub(&self) -> u64 {
        eddy::Clock::now_ms(self)
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 128, ..ProptestConfig::default() })]
    #[test]
    fn store_matches_model_across_reopens_and_power_cuts(ops in proptest::collection::vec(op(), 1..80)) {
        run(ops)?;
    }
}
