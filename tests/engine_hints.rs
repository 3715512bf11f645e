//! Ranges over large blocks, where reads start from a block's hints
//! (sub-positions), checked against a model: interleaved streams, batches,
//! uneven IDs, XDEL, trims, checkpoints and restarts, records too far apart
//! for a hint, and a corrupt record inside a block.

mod engine_util;

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Arc;

use eddy::{
    AddArgs, AppendItem, Error, IdRange, IdSpec, ManualClock, NodeLimits, Store, StreamId, Trim,
    TrimStrategy,
};
use engine_util::*;
use proptest::prelude::*;

type Fields = Vec<(Vec<u8>, Vec<u8>)>;
type Model = BTreeMap<u8, BTreeMap<StreamId, Fields>>;

#[derive(Clone, Debug)]
enum Op {
    /// `n` entries to `key`, one XADD each or one batch, each ID `gap`
    /// milliseconds after the last (0: the next sequence number).
    Fill {
        key: u8,
        n: u8,
        batch: bool,
        gap: u64,
    },
    /// `n` entries alternating between keys 0 and 1.
    Interleave {
        n: u8,
    },
    Del {
        key: u8,
        pick: usize,
    },
    Trim {
        key: u8,
        maxlen: u64,
        approx: bool,
    },
    MinId {
        key: u8,
        pick: usize,
        approx: bool,
    },
    Range {
        key: u8,
        a: usize,
        b: usize,
        count: Option<usize>,
        rev: bool,
        off: bool,
    },
    Read {
        key: u8,
        pick: usize,
        count: Option<usize>,
    },
    Checkpoint,
    Reopen,
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        6 => (0u8..3, 1u8..80, any::<bool>(), prop_oneof![3 => Just(0u64), 2 => 1u64..3, 1 => 100u64..5000])
            .prop_map(|(key, n, batch, gap)| Op::Fill { key, n, batch, gap }),
        2 => (2u8..60).prop_map(|n| Op::Interleave { n }),
        2 => (0u8..3, any::<usize>()).prop_map(|(key, pick)| Op::Del { key, pick }),
        1 => (0u8..3, 0u64..400, any::<bool>()).prop_map(|(key, maxlen, approx)| Op::Trim { key, maxlen, approx }),
        1 => (0u8..3, any::<usize>(), any::<bool>()).prop_map(|(key, pick, approx)| Op::MinId { key, pick, approx }),
        8 => (0u8..3, any::<usize>(), any::<usize>(), proptest::option::weighted(0.8, 1usize..40), any::<bool>(), any::<bool>())
            .prop_map(|(key, a, b, count, rev, off)| Op::Range { key, a, b, count, rev, off }),
        2 => (0u8..3, any::<usize>(), proptest::option::of(1usize..30))
            .prop_map(|(key, pick, count)| Op::Read { key, pick, count }),
        1 => Just(Op::Checkpoint),
        1 => Just(Op::Reopen),
    ]
}

/// Node limits and value size of one case: Redis's defaults, blocks only
/// bounded by bytes (hundreds of entries: strides double), and values so
/// large that hint distances overflow their `u16`.
fn shape() -> impl Strategy<Value = (NodeLimits, usize)> {
    prop_oneof![
        Just((
            NodeLimits {
                max_bytes: 4096,
                max_entries: 100
            },
            3
        )),
        Just((
            NodeLimits {
                max_bytes: 4096,
                max_entries: 0
            },
            1
        )),
        Just((
            NodeLimits {
                max_bytes: 1 << 22,
                max_entries: 60
            },
            7000
        )),
    ]
}

fn open_store(dir: &Path, clock: &Arc<ManualClock>, limits: NodeLimits) -> Store {
    let mut o = options(clock);
    o.node_limits = limits;
    Store::open(dir, o).expect("open store")
}

fn key(k: u8) -> Vec<u8> {
    format!("s{k}").into_bytes()
}

fn next_id(m: &Model, k: u8, gap: u64, last: &BTreeMap<u8, StreamId>) -> StreamId {
    let top = m
        .get(&k)
        .and_then(|s| s.keys().next_back().copied())
        .into_iter()
        .chain(last.get(&k).copied())
        .max()
        .unwrap_or(StreamId::new(1, 0));
    if gap == 0 {
        StreamId::new(top.ms, top.seq + 1)
    } else {
        StreamId::new(top.ms + gap, 0)
    }
}

fn value(id: StreamId, size: usize) -> Vec<u8> {
    let mut v = format!("{}-{}", id.ms, id.seq).into_bytes();
    v.resize(v.len().max(size), b'x');
    v
}

fn pick(s: &BTreeMap<StreamId, Fields>, i: usize, off: bool) -> StreamId {
    let n = s.len();
    if n == 0 {
        return StreamId::new(1, i as u64 % 5);
    }
    let id = *s.keys().nth(i % n).unwrap_or(&StreamId::MIN);
    // Between entries, or exactly on one.
    if off {
        StreamId::new(id.ms, id.seq + 1)
    } else {
        id
    }
}

fn check(
    got: &[eddy::Entry],
    want: &[(&StreamId, &Fields)],
    what: &str,
) -> Result<(), TestCaseError> {
    let got: Vec<(StreamId, Fields)> = got.iter().map(|e| (e.id(), e.to_vec())).collect();
    let want: Vec<(StreamId, Fields)> = want.iter().map(|(i, f)| (**i, (*f).clone())).collect();
    prop_assert_eq!(got, want, "{}", what);
    Ok(())
}

fn run(shape: (NodeLimits, usize), ops: Vec<Op>) -> Result<(), TestCaseError> {
    let (limits, size) = shape;
    let dir = tempfile::tempdir().expect("tempdir");
    let c = clock(1);
    let mut store = Some(open_store(dir.path(), &c, limits));
    let mut model: Model = BTreeMap::new();
    // Highest ID ever added per key (XDEL and trims do not lower it).
    let mut last: BTreeMap<u8, StreamId> = BTreeMap::new();
    for op in ops {
        let s = store.as_ref().expect("store");
        match op {
            Op::Fill {
                key: k,
                n,
                batch,
                gap,
            } => {
                let mut ids = Vec::new();
                for _ in 0..n {
                    let id = next_id(&model, k, gap, &last);
                    last.insert(k, id);
                    ids.push(id);
                }
                let vals: Vec<(Vec<u8>, Vec<u8>)> = ids
                    .iter()
                    .map(|id| (value(*id, size), format!("{}", id.seq % 100).into_bytes()))
                    .collect();
                let fields: Vec<Vec<(&[u8], &[u8])>> = vals
                    .iter()
                    .map(|(a, c)| vec![(&b"a"[..], &a[..]), (b"b", b"click"), (b"c", &c[..])])
                    .collect();
                for (id, f) in ids.iter().zip(&fields) {
                    let owned = f.iter().map(|(a, b)| (a.to_vec(), b.to_vec())).collect();
                    model.entry(k).or_default().insert(*id, owned);
                }
                if batch {
                    let items: Vec<AppendItem<'_>> = ids
                        .iter()
                        .zip(&fields)
                        .map(|(id, f)| AppendItem {
                            id: IdSpec::Explicit(*id),
                            fields: f,
                            idmp: None,
                        })
                        .collect();
                    s.xadd_batch(&key(k), &items).expect("batch");
                } else {
                    for (id, f) in ids.iter().zip(&fields) {
                        s.xadd(&key(k), &AddArgs::new(f).id(IdSpec::Explicit(*id)))
                            .expect("xadd");
                    }
                }
            }
            Op::Interleave { n } => {
                for i in 0..n {
                    let k = i % 2;
                    let id = next_id(&model, k, u64::from(i % 3 == 0), &last);
                    last.insert(k, id);
                    let v = value(id, size);
                    let f: Vec<(&[u8], &[u8])> = vec![(b"a", &v[..]), (b"b", b"click")];
                    s.xadd(&key(k), &AddArgs::new(&f).id(IdSpec::Explicit(id)))
                        .expect("xadd");
                    model.entry(k).or_default().insert(
                        id,
                        f.iter().map(|(a, b)| (a.to_vec(), b.to_vec())).collect(),
                    );
                }
            }
            Op::Del { key: k, pick: p } => {
                let m = model.entry(k).or_default();
                if !m.is_empty() {
                    let id = pick(m, p, false);
                    m.remove(&id);
                    prop_assert_eq!(s.xdel(&key(k), &[id]).expect("xdel"), 1);
                }
            }
            Op::Trim {
                key: k,
                maxlen,
                approx,
            } => {
                let trim = Trim {
                    strategy: TrimStrategy::MaxLen(maxlen),
                    approx,
                    limit: None,
                };
                let removed = s.xtrim(&key(k), &trim).expect("trim");
                drop_head(model.entry(k).or_default(), removed);
            }
            Op::MinId {
                key: k,
                pick: p,
                approx,
            } => {
                let id = pick(model.entry(k).or_default(), p, false);
                let trim = Trim {
                    strategy: TrimStrategy::MinId(id),
                    approx,
                    limit: None,
                };
                let removed = s.xtrim(&key(k), &trim).expect("trim");
                drop_head(model.entry(k).or_default(), removed);
            }
            Op::Range {
                key: k,
                a,
                b,
                count,
                rev,
                off,
            } => {
                let m = model.entry(k).or_default();
                let (x, y) = (pick(m, a, off), pick(m, b, false));
                let range = IdRange {
                    start: x.min(y),
                    end: x.max(y),
                };
                let within = m.range(range.start..=range.end);
                if rev {
                    let want: Vec<_> = within.rev().take(count.unwrap_or(usize::MAX)).collect();
                    let got = s.xrevrange(&key(k), range, count).expect("xrevrange");
                    check(&got, &want, "xrevrange")?;
                } else {
                    let want: Vec<_> = within.take(count.unwrap_or(usize::MAX)).collect();
                    let got = s.xrange(&key(k), range, count).expect("xrange");
                    check(&got, &want, "xrange")?;
                }
            }
            Op::Read {
                key: k,
                pick: p,
                count,
            } => {
                let m = model.entry(k).or_default();
                let after = pick(m, p, false);
                let want: Vec<_> = m
                    .range((std::ops::Bound::Excluded(after), std::ops::Bound::Unbounded))
                    .take(count.unwrap_or(usize::MAX))
                    .collect();
                let got = s.xread(&[(&key(k)[..], after)], count).expect("xread");
                let got = got.into_iter().next().map(|(_, e)| e).unwrap_or_default();
                check(&got, &want, "xread")?;
            }
            Op::Checkpoint => {
                s.checkpoint().expect("checkpoint");
            }
            Op::Reopen => {
                store.take().expect("store").close().expect("close");
                store = Some(open_store(dir.path(), &c, limits));
            }
        }
        let s = store.as_ref().expect("store");
        for (k, m) in &model {
            prop_assert_eq!(s.xlen(&key(*k)).expect("xlen"), m.len() as u64);
        }
    }
    Ok(())
}

/// Trims remove a prefix of the live entries.
fn drop_head(m: &mut BTreeMap<StreamId, Fields>, n: u64) {
    for _ in 0..n {
        m.pop_first();
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 48, ..ProptestConfig::default() })]
    #[test]
    fn ranges_over_hinted_blocks_match_the_model(
        shape in shape(),
        ops in proptest::collection::vec(op(), 1..60),
    ) {
        run(shape, ops)?;
    }
}

/// A record inside a block whose bytes changed is reported, never returned,
/// when a range starts past it or reads through it.
#[test]
fn a_corrupt_record_inside_a_block_is_an_error() -> Result<(), Error> {
    let dir = tempfile::tempdir().expect("tempdir");
    let c = clock(1);
    let s = open_store(
        dir.path(),
        &c,
        NodeLimits {
            max_bytes: 4096,
            max_entries: 100,
        },
    );
    for i in 0..100u64 {
        let v = format!("value-{i:04}");
        let f: Vec<(&[u8], &[u8])> = vec![(b"a", v.as_bytes())];
        s.xadd(b"s", &AddArgs::new(&f).id(IdSpec::Explicit(id(10, i))))?;
    }
    s.sync()?;
    // Flip one byte of entry 50's value in the segment file (the store
    // reads it through a shared map, so the change shows).
    let wal = dir.path().join("wal");
    let mut flipped = false;
    for f in std::fs::read_dir(&wal).expect("wal dir") {
        let path = f.expect("entry").path();
        let mut bytes = std::fs::read(&path).expect("read segment");
        if let Some(at) = bytes.windows(10).position(|w| w == b"value-0050") {
            bytes[at + 9] = b'9';
            std::fs::write(&path, &bytes).expect("write segment");
            flipped = true;
        }
    }
    assert!(flipped, "value found in the log");
    let from = |seq| IdRange {
        start: id(10, seq),
        end: StreamId::MAX,
    };
    assert_eq!(
        ids(&s.xrange(b"s", from(0), Some(10))?),
        (0..10).map(|i| id(10, i)).collect::<Vec<_>>()
    );
    for start in [45, 50] {
        assert!(
            s.xrange(b"s", from(start), Some(10)).is_err(),
            "range from {start}"
        );
    }
    assert_eq!(
        ids(&s.xrange(b"s", from(90), Some(5))?),
        (90..95).map(|i| id(10, i)).collect::<Vec<_>>()
    );
    Ok(())
}
