//! Model test: random appends, batches, syncs, policy changes, rolls, retention,
//! reopens and power cuts, compared after every step with an in-memory model (a vector
//! of records).

mod common;

use std::sync::Arc;

use common::*;
use eddy_wal::{Error, FaultIo, FsyncPolicy, Options, Position, Wal};
use proptest::prelude::*;

const SEG: u64 = 4096;
/// Bytes for frames in one segment (segment size minus the 32-byte header).
const CAPACITY: u64 = SEG - 32;

#[derive(Debug, Clone)]
enum Op {
    Append {
        kind: u8,
        len: usize,
        nowait: bool,
    },
    Batch(Vec<(u8, usize)>),
    Sync,
    SetPolicy(FsyncPolicy),
    /// Retention before the record at this fraction (per 256) of the model.
    DeleteBefore(u8),
    Reopen,
    PowerCut,
    ReadAt(usize),
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        6 => (0u8..=127, 0usize..700, any::<bool>())
            .prop_map(|(kind, len, nowait)| Op::Append { kind, len, nowait }),
        2 => prop::collection::vec((0u8..=127, 0usize..900), 1..6).prop_map(Op::Batch),
        1 => Just(Op::Sync),
        1 => prop_oneof![Just(FsyncPolicy::Always), Just(FsyncPolicy::EverySec), Just(FsyncPolicy::No)]
            .prop_map(Op::SetPolicy),
        1 => any::<u8>().prop_map(Op::DeleteBefore),
        1 => Just(Op::Reopen),
        1 => Just(Op::PowerCut),
        2 => any::<usize>().prop_map(Op::ReadAt),
    ]
}

type Rec = (Position, u8, Vec<u8>);

struct Harness {
    dir: tempfile::TempDir,
    io: Arc<FaultIo>,
    wal: Option<Wal>,
    policy: FsyncPolicy,
    model: Vec<Rec>,
    counter: u64,
}

impl Harness {
    fn open(&mut self) {
        self.io = Arc::new(FaultIo::new());
        let opts = Options {
            segment_size: SEG,
            fsync: self.policy,
            io: self.io.clone(),
            ..Options::default()
        };
        self.wal = Some(Wal::open(self.dir.path(), opts).expect("open"));
    }

    fn wal(&self) -> &Wal {
        self.wal.as_ref().expect("open WAL")
    }

    fn bytes(&mut self, len: usize) -> Vec<u8> {
        self.counter += 1;
        let c = self.counter;
        (0..len).map(|i| (c as usize * 7 + i * 13) as u8).collect()
    }

    fn apply(&mut self, op: &Op) {
        match op {
            Op::Append { kind, len, nowait } => {
                let data = self.bytes(*len);
                let before = self.wal().end();
                let pos = if *nowait {
                    self.wal().append_nowait(*kind, &data)
                } else {
                    self.wal().append(*kind, &data)
                }
                .expect("append");
                assert_eq!(pos, before);
                if self.policy == FsyncPolicy::Always && !nowait {
                    assert!(self.wal().durable_end() > pos);
                }
                self.model.push((pos, *kind, data));
            }
            Op::Batch(recs) => {
                let datas: Vec<(u8, Vec<u8>)> =
                    recs.iter().map(|(k, l)| (*k, self.bytes(*l))).collect();
                let framed: u64 = recs.iter().map(|(_, l)| 9 + *l as u64).sum();
                let r = self
                    .wal()
                    .append_batch(datas.iter().map(|(k, d)| (*k, &d[..])));
                if framed > CAPACITY {
                    assert!(matches!(r, Err(Error::BatchTooLarge { .. })), "{r:?}");
                    return;
                }
                let positions = r.expect("append_batch");
                for (p, (k, d)) in positions.into_iter().zip(datas) {
                    self.model.push((p, k, d));
                }
            }
            Op::Sync => {
                let end = self.wal().sync().expect("sync");
                assert_eq!(end, self.wal().end());
            }
            Op::SetPolicy(p) => {
                self.policy = *p;
                self.wal().set_fsync_policy(*p);
            }
            Op::DeleteBefore(frac) => {
                let target = if self.model.is_empty() {
                    self.wal().end()
                } else {
                    self.model[self.model.len() * usize::from(*frac) / 256].0
                };
                let deleted = self.wal().delete_before(target).expect("delete_before");
                for s in &deleted {
                    assert!(s.end <= target && !s.path.exists());
                }
                let start = self.wal().start();
                assert!(start <= target.max(self.wal().segments()[0].base));
                self.model.retain(|r| r.0 >= start);
            }
            Op::Reopen => {
                self.wal.take().expect("open WAL").close().expect("close");
                self.open();
                assert!(self.wal().recovery_report().truncations.is_empty());
            }
            Op::PowerCut => {
                let durable = self.wal().durable_end();
                self.io.power_cut().expect("power cut");
                drop(self.wal.take());
                self.open();
                let got = read_all(self.wal(), self.wal().start()).expect("read after power cut");
                assert!(got.len() <= self.model.len());
                assert_eq!(&self.model[..got.len()], &got[..], "recovered a prefix");
                for (i, r) in self.model.iter().enumerate() {
                    let end = r.0.0 + 9 + r.2.len() as u64;
                    if end <= durable.0 {
                        assert!(i < got.len(), "durable record at {} lost", r.0);
                    }
                }
                self.model = got;
            }
            Op::ReadAt(i) => {
                if !self.model.is_empty() {
                    let (p, k, d) = &self.model[i % self.model.len()];
                    let r = self.wal().read_at(*p).expect("read_at");
                    assert_eq!((r.kind(), r.payload()), (*k, &d[..]));
                }
            }
        }
    }

    fn check(&self) {
        let wal = self.wal();
        let got = read_all(wal, wal.start()).expect("read all");
        assert_eq!(got, self.model);
        if let Some((p, _, d)) = self.model.last() {
            assert_eq!(wal.end().0, p.0 + 9 + d.len() as u64);
        }
        let segs = wal.segments();
        assert_eq!(segs[0].base, wal.start());
        for w in segs.windows(2) {
            assert_eq!(w[0].end, w[1].base, "segments are contiguous");
        }
        assert!(wal.durable_end() <= wal.end());
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 128, ..ProptestConfig::default() })]

    #[test]
    fn wal_matches_the_model(ops in prop::collection::vec(op(), 1..50)) {
        let mut h = Harness {
            dir: ram_tempdir(),
            io: Arc::new(FaultIo::new()),
            wal: None,
            policy: FsyncPolicy::No,
            model: Vec::new(),
            counter: 0,
        };
        h.open();
        for op in &ops {
            h.apply(op);
            h.check();
        }
    }
}
