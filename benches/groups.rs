//! Consumer-group benchmarks (criterion): XREADGROUP `>` + XACK throughput
//! for COUNT 1, 10 and 100, and XAUTOCLAIM over a 1M-entry PEL (claiming
//! 100 per call, and a scan where nothing is idle enough, which visits the
//! 10x COUNT bound). Before the timed groups it prints the heap bytes per
//! pending entry of a 1M-entry PEL (counting allocator).
//!
//! `cargo bench --bench groups`; `EDDY_BENCH_PEL=200000` changes the PEL
//! size (default 1M). Fsync is `no`: these measure the engine, not the disk.

use std::alloc::System;
use std::hint::black_box;
use std::time::Duration;

use cap::Cap;
use criterion::{Criterion, Throughput, criterion_group};
use eddy::group::{GroupStart, ReadFrom};
use eddy::{FsyncPolicy, Store, StoreOptions, StreamId};

/// Counts live heap bytes (no `unsafe` here: `cap` implements the allocator).
#[global_allocator]
static ALLOC: Cap<System> = Cap::new(System, usize::MAX);

mod common;

use common::fill;

fn options() -> StoreOptions {
    common::options(FsyncPolicy::No, false)
}

fn pel_size() -> u64 {
    std::env::var("EDDY_BENCH_PEL")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(1_000_000)
}

/// A store whose group `g` has `n` pending entries, spread over 4
/// consumers. Returns the heap bytes the PEL added.
fn with_pel(dir: &std::path::Path, n: u64) -> (Store, usize) {
    let s = Store::open(dir, options()).expect("open");
    fill(&s, b"s", n);
    s.xgroup_create(b"s", b"g", GroupStart::Id(StreamId::MIN), false, None)
        .expect("group");
    let before = ALLOC.allocated();
    let names: [&[u8]; 4] = [b"c0", b"c1", b"c2", b"c3"];
    let mut i = 0;
    loop {
        let r = s
            .xreadgroup(
                b"g",
                names[i % 4],
                &[(b"s", ReadFrom::New)],
                Some(10_000),
                false,
            )
            .expect("read");
        i += 1;
        if r.is_empty() {
            break;
        }
    }
    let after = ALLOC.allocated();
    (s, after.saturating_sub(before))
}

fn memory_figures() {
    let dir = tempfile::tempdir().expect("tempdir");
    let n = pel_size();
    let (s, bytes) = with_pel(dir.path(), n);
    let pending = s.xpending_summary(b"s", b"g").expect("summary").count;
    println!(
        "groups: {pending} pending entries over 4 consumers: {bytes} heap bytes, {:.1} bytes per pending entry",
        bytes as f64 / pending.max(1) as f64
    );
}

fn read_ack(c: &mut Criterion) {
    let mut g = c.benchmark_group("xreadgroup_xack");
    g.measurement_time(Duration::from_secs(5));
    for count in [1usize, 10, 100] {
        let dir = tempfile::tempdir().expect("tempdir");
        let s = Store::open(dir.path(), options()).expect("open");
        fill(&s, b"s", 100_000);
        s.xgroup_create(b"s", b"g", GroupStart::Id(StreamId::MIN), false, None)
            .expect("group");
        g.throughput(Throughput::Elements(count as u64));
        g.bench_function(format!("count_{count}"), |b| {
            b.iter(|| {
                let r = s
                    .xreadgroup(b"g", b"c", &[(b"s", ReadFrom::New)], Some(count), false)
                    .expect("read");
                let Some(read) = r.first() else {
                    // Stream exhausted (everything acked): start over.
                    s.xgroup_setid(b"s", b"g", GroupStart::Id(StreamId::MIN), None)
                        .expect("setid");
                    return;
                };
                let ids: Vec<StreamId> = read.entries.iter().map(|e| e.id).collect();
                black_box(s.xack(b"s", b"g", &ids).expect("ack"));
            });
        });
    }
    g.finish();
}

fn autoclaim(c: &mut Criterion) {
    let dir = tempfile::tempdir().expect("tempdir");
    let (s, _) = with_pel(dir.path(), pel_size());
    let mut g = c.benchmark_group("xautoclaim_1m_pel");
    g.sample_size(20).measurement_time(Duration::from_secs(5));
    g.throughput(Throughput::Elements(100));
    for (name, justid) in [("count_100", false), ("count_100_justid", true)] {
        let mut cursor = StreamId::MIN;
        g.bench_function(name, |b| {
            b.iter(|| {
                let r = s
                    .xautoclaim(b"s", b"g", b"claimer", 0, cursor, 100, justid)
                    .expect("autoclaim");
                cursor = r.next;
                black_box(r.claimed.len());
            });
        });
    }
    // Nothing is idle for an hour: each call visits COUNT*10 = 1000 entries.
    let mut cursor = StreamId::MIN;
    g.throughput(Throughput::Elements(1000));
    g.bench_function("scan_1000_none_idle", |b| {
        b.iter(|| {
            let r = s
                .xautoclaim(b"s", b"g", b"claimer", 3_600_000, cursor, 100, false)
                .expect("autoclaim");
            cursor = r.next;
            black_box(r.claimed.len());
        });
    });
    g.finish();
}

criterion_group!(benches, read_ack, autoclaim);

fn main() {
    memory_figures();
    benches();
    Criterion::default().configure_from_args().final_summary();
}
