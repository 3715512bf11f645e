//! Helpers shared by the engine benchmarks: store options without
//! automatic checkpoints, and filling a stream in batches.
#![allow(dead_code, reason = "each bench uses a different subset")]

use eddy::{AppendItem, FsyncPolicy, IdSpec, Store, StoreOptions};

/// Three small fields, the shape the memory figures are quoted for.
pub const FIELDS: [(&[u8], &[u8]); 3] = [(b"sensor", b"t1"), (b"value", b"21.5"), (b"unit", b"C")];

/// Store options with `policy`, waiting for durability or not, and no
/// automatic checkpoints (so a bench measures only what it asks for).
pub fn options(policy: FsyncPolicy, wait: bool) -> StoreOptions {
    let mut o = StoreOptions::default();
    o.wal.fsync = policy;
    o.wait_for_durability = wait;
    o.checkpoint_every_records = 0;
    o.checkpoint_every_bytes = 0;
    o
}

/// Appends `n` entries of [`FIELDS`] to `key` in batches of 1000.
pub fn fill(s: &Store, key: &[u8], n: u64) {
    let items: Vec<AppendItem<'_>> = (0..1000)
        .map(|_| AppendItem {
            id: IdSpec::Auto,
            fields: &FIELDS,
            idmp: None,
        })
        .collect();
    let mut left = n;
    while left > 0 {
        let k = left.min(1000) as usize;
        s.xadd_batch(key, &items[..k]).expect("append");
        left -= k as u64;
    }
}
