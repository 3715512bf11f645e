//! Helpers shared by the engine integration tests.
#![allow(dead_code)]

use std::path::Path;
use std::sync::Arc;

use eddy::{Entry, ManualClock, NodeLimits, Store, StoreOptions, StreamId};

/// Options for tests: small segments, a manual clock at `ms`.
pub fn options(clock: &Arc<ManualClock>) -> StoreOptions {
    let mut o = StoreOptions::default();
    o.wal.segment_size = 1 << 20;
    o.clock = clock.clone();
    o.checkpoint_every_records = 0;
    o.checkpoint_every_bytes = 0;
    o
}

/// A store in `dir` with a manual clock.
pub fn open(dir: &Path, clock: &Arc<ManualClock>) -> Store {
    Store::open(dir, options(clock)).expect("open store")
}

/// Same, with node limits.
pub fn open_with_limits(dir: &Path, clock: &Arc<ManualClock>, limits: NodeLimits) -> Store {
    let mut o = options(clock);
    o.node_limits = limits;
    Store::open(dir, o).expect("open store")
}

pub fn clock(ms: u64) -> Arc<ManualClock> {
    Arc::new(ManualClock::new(ms))
}

pub fn id(ms: u64, seq: u64) -> StreamId {
    StreamId::new(ms, seq)
}

pub fn ids(entries: &[Entry]) -> Vec<StreamId> {
    entries.iter().map(Entry::id).collect()
}

/// Field pairs from string pairs.
pub fn pairs<'a>(p: &'a [(&'a str, &'a str)]) -> Vec<(&'a [u8], &'a [u8])> {
    p.iter()
        .map(|(f, v)| (f.as_bytes(), v.as_bytes()))
        .collect()
}
