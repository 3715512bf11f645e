//! Engine benchmarks (criterion): embedded appends (single and batched,
//! fsync `everysec` and `always`), range reads, restart with and without a
//! checkpoint. Before the timed groups it prints figures that are not
//! timings: RAM and disk bytes per entry for 1M entries of three small
//! fields, and disk bytes before/after a large trim.
//!
//! `cargo bench --bench engine`; `EDDY_BENCH_ENTRIES=10000000` changes the
//! restart size (default 1M).

use std::alloc::System;
use std::hint::black_box;
use std::path::Path;
use std::time::{Duration, Instant};

use cap::Cap;
use criterion::{Criterion, Throughput, criterion_group};
use eddy::{
    AddArgs, AppendItem, FsyncPolicy, IdRange, IdSpec, Store, StreamId, Trim, TrimStrategy,
};

/// Counts live heap bytes (no `unsafe` here: `cap` implements the allocator).
#[global_allocator]
static ALLOC: Cap<System> = Cap::new(System, usize::MAX);

mod common;

use common::{FIELDS, fill, options};

fn dir_bytes(dir: &Path) -> u64 {
    let Ok(rd) = std::fs::read_dir(dir) else {
        return 0;
    };
    rd.filter_map(Result::ok)
        .map(|e| match e.metadata() {
            Ok(m) if m.is_dir() => dir_bytes(&e.path()),
            Ok(m) => m.len(),
            Err(_) => 0,
        })
        .sum()
}

/// Bytes of records in the WAL (segment files are preallocated, so their
/// size on disk is not what the entries take).
fn log_bytes(s: &Store) -> u64 {
    s.log_end() - s.wal().start().0
}

fn entries() -> u64 {
    std::env::var("EDDY_BENCH_ENTRIES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(1_000_000)
}

fn figures() {
    let n = 1_000_000u64;
    let dir = tempfile::tempdir().expect("tempdir");
    let s = Store::open(dir.path(), options(FsyncPolicy::EverySec, false)).expect("open");
    let before = ALLOC.allocated();
    fill(&s, b"s", n);
    let after = ALLOC.allocated();
    let info = s.xinfo_stream(b"s").expect("info");
    eprintln!(
        "figure ram: {n} entries, {} blocks, heap {} -> {} bytes: {:.3} bytes/entry",
        info.radix_tree_keys,
        before,
        after,
        (after - before) as f64 / n as f64
    );
    let log = log_bytes(&s);
    eprintln!(
        "figure disk: {log} bytes of log for {n} entries: {:.1} bytes/entry",
        log as f64 / n as f64
    );
    // A large trim: keep 5% of 10x the data.
    fill(&s, b"s", 9 * n);
    s.sync().expect("sync");
    let before = dir_bytes(dir.path());
    let t = Trim {
        strategy: TrimStrategy::MaxLen(n / 2),
        approx: true,
        limit: Some(0),
    };
    let removed = s.xtrim(b"s", &t).expect("trim");
    let ck = s.checkpoint().expect("checkpoint");
    let after = dir_bytes(dir.path());
    eprintln!(
        "figure trim: removed {removed} of {} entries; disk {before} -> {after} bytes; {} segments deleted",
        10 * n,
        ck.segments_deleted
    );
}

/// A log many times larger than the heap: `EDDY_BENCH_BIG_GIB=4` appends
/// that many GiB of 1 KiB entries, then checks random reads and reports
/// the heap the store holds.
fn big_log_figure() {
    let Some(gib) = std::env::var("EDDY_BENCH_BIG_GIB")
        .ok()
        .and_then(|v| v.parse::<u64>().ok())
    else {
        return;
    };
    let dir = tempfile::tempdir().expect("tempdir");
    let s = Store::open(dir.path(), options(FsyncPolicy::No, false)).expect("open");
    let heap0 = ALLOC.allocated();
    let pad = vec![b'p'; 1000];
    let n = gib * (1 << 30) / 1024;
    let t = Instant::now();
    for chunk in 0..n.div_ceil(1000) {
        let k = (n - chunk * 1000).min(1000);
        let nums: Vec<String> = (0..k).map(|i| (chunk * 1000 + i).to_string()).collect();
        let fields: Vec<[(&[u8], &[u8]); 2]> = nums
            .iter()
            .map(|k| [(&b"n"[..], k.as_bytes()), (&b"pad"[..], &pad[..])])
            .collect();
        let items: Vec<AppendItem<'_>> = fields
            .iter()
            .map(|f| AppendItem {
                id: IdSpec::Auto,
                fields: f,
                idmp: None,
            })
            .collect();
        s.xadd_batch(b"big", &items).expect("append");
    }
    let wrote = t.elapsed();
    let heap = ALLOC.allocated() - heap0;
    eprintln!(
        "figure big log: {n} entries, {} bytes of log written in {wrote:?}; store heap {heap} \
         bytes ({:.4} bytes/entry)",
        log_bytes(&s),
        heap as f64 / n as f64
    );
    // Page through the whole log 1000 entries at a time, checking every
    // entry's content: memory stays bounded while the log is read back.
    let t = Instant::now();
    let mut next = 0u64;
    let mut start = StreamId::MIN;
    loop {
        let page = s
            .xrange(
                b"big",
                IdRange {
                    start,
                    end: StreamId::MAX,
                },
                Some(1000),
            )
            .expect("page");
        let Some(last) = page.last() else { break };
        for e in &page {
            let v = e
                .fields()
                .next()
                .map(|(_, v)| v.to_vec())
                .unwrap_or_default();
            assert_eq!(v, next.to_string().into_bytes(), "entry {next} reads back");
            next += 1;
        }
        start = last.id().next().expect("next id");
    }
    assert_eq!(next, n);
    eprintln!(
        "figure big log: {n} entries read back and checked in {:?}",
        t.elapsed()
    );
}

fn restart_figures() {
    let n = entries();
    for with_checkpoint in [false, true] {
        let dir = tempfile::tempdir().expect("tempdir");
        let s = Store::open(dir.path(), options(FsyncPolicy::No, false)).expect("open");
        fill(&s, b"s", n);
        if with_checkpoint {
            s.checkpoint().expect("checkpoint");
        }
        s.close().expect("close");
        let t = Instant::now();
        let s = Store::open(dir.path(), options(FsyncPolicy::No, false)).expect("reopen");
        let took = t.elapsed();
        assert_eq!(s.xlen(b"s").expect("len"), n);
        eprintln!(
            "figure restart: {n} entries, checkpoint {with_checkpoint}: {took:?} ({} records replayed)",
            s.recovery_stats().records_replayed
        );
    }
}

fn appends(c: &mut Criterion) {
    let mut g = c.benchmark_group("append");
    for (policy, name) in [
        (FsyncPolicy::EverySec, "everysec"),
        (FsyncPolicy::Always, "always"),
    ] {
        if policy == FsyncPolicy::Always {
            g.sample_size(10).measurement_time(Duration::from_secs(5));
        }
        let dir = tempfile::tempdir().expect("tempdir");
        let s = Store::open(dir.path(), options(policy, true)).expect("open");
        g.throughput(Throughput::Elements(1));
        g.bench_function(format!("single/{name}"), |b| {
            b.iter(|| s.xadd(b"s", &AddArgs::new(&FIELDS)).expect("xadd"))
        });
        let items: Vec<AppendItem<'_>> = (0..100)
            .map(|_| AppendItem {
                id: IdSpec::Auto,
                fields: &FIELDS,
                idmp: None,
            })
            .collect();
        g.throughput(Throughput::Elements(100));
        g.bench_function(format!("batch100/{name}"), |b| {
            b.iter(|| s.xadd_batch(b"b", &items).expect("batch"))
        });
        // Four writers at once: under `always` they share fdatasyncs.
        // Each iteration is one append by each of the four threads.
        g.throughput(Throughput::Elements(4));
        g.bench_function(format!("single_x4_threads/{name}"), |b| {
            b.iter_custom(|iters| {
                let t = Instant::now();
                std::thread::scope(|sc| {
                    for w in 0..4u8 {
                        let s = &s;
                        sc.spawn(move || {
                            for _ in 0..iters {
                                s.xadd(&[b't', w], &AddArgs::new(&FIELDS)).expect("xadd");
                            }
                        });
                    }
                });
                t.elapsed()
            })
        });
    }
    g.finish();
}

fn ranges(c: &mut Criterion) {
    let n = 100_000u64;
    let dir = tempfile::tempdir().expect("tempdir");
    let s = Store::open(dir.path(), options(FsyncPolicy::No, false)).expect("open");
    fill(&s, b"s", n);
    let ids: Vec<StreamId> = s
        .xrange(b"s", IdRange::ALL, None)
        .expect("range")
        .iter()
        .map(|e| e.id())
        .collect();
    let mut g = c.benchmark_group("range");
    g.throughput(Throughput::Elements(100));
    let mut i = 0usize;
    g.bench_function("xrange_count100_random_start", |b| {
        b.iter(|| {
            i = (i * 7919 + 13) % (ids.len() - 100);
            let r = IdRange {
                start: ids[i],
                end: StreamId::MAX,
            };
            black_box(s.xrange(b"s", r, Some(100)).expect("range"))
        })
    });
    // As a server fills a stream under unpipelined XADD: one record per
    // entry, so a range reads one log record per entry it visits.
    let singles = b"singles";
    for _ in 0..n {
        s.xadd(singles, &AddArgs::new(&FIELDS)).expect("append");
    }
    let single_ids: Vec<StreamId> = s
        .xrange(singles, IdRange::ALL, None)
        .expect("range")
        .iter()
        .map(|e| e.id())
        .collect();
    g.throughput(Throughput::Elements(10));
    let mut j = 0usize;
    g.bench_function("xrange_count10_random_start_record_per_entry", |b| {
        b.iter(|| {
            j = (j * 7919 + 13) % (single_ids.len() - 10);
            let r = IdRange {
                start: single_ids[j],
                end: StreamId::MAX,
            };
            black_box(s.xrange(singles, r, Some(10)).expect("range"))
        })
    });
    // The server load of the side-by-side benchmark: one entry per record,
    // IDs `1-0`, `2-0`, ... (`eddy-load fill --seq-ids`).
    let seq = b"seq";
    for k in 1..=n {
        let id = IdSpec::Explicit(StreamId::new(k, 0));
        s.xadd(seq, &AddArgs::new(&FIELDS).id(id)).expect("append");
    }
    let mut k = 0u64;
    g.bench_function("xrange_count10_random_start_seq_ids", |b| {
        b.iter(|| {
            k = (k * 7919 + 13) % (n - 10);
            let r = IdRange {
                start: StreamId::new(k + 1, 0),
                end: StreamId::MAX,
            };
            black_box(s.xrange(seq, r, Some(10)).expect("range"))
        })
    });
    // XREVRANGE key + - COUNT 10: the newest entries, from the tail block.
    g.bench_function("xrevrange_count10_newest_seq_ids", |b| {
        b.iter(|| black_box(s.xrevrange(seq, IdRange::ALL, Some(10)).expect("range")))
    });
    g.throughput(Throughput::Elements(n));
    g.sample_size(10);
    g.bench_function("xrange_full_100k", |b| {
        b.iter(|| {
            let all = s.xrange(b"s", IdRange::ALL, None).expect("range");
            black_box(all.iter().map(|e| e.fields().count()).sum::<usize>())
        })
    });
    g.finish();
}

fn restarts(c: &mut Criterion) {
    let n = 1_000_000u64;
    let mut g = c.benchmark_group("restart_1m");
    g.sample_size(10).measurement_time(Duration::from_secs(10));
    for with_checkpoint in [false, true] {
        let dir = tempfile::tempdir().expect("tempdir");
        let s = Store::open(dir.path(), options(FsyncPolicy::No, false)).expect("open");
        fill(&s, b"s", n);
        if with_checkpoint {
            s.checkpoint().expect("checkpoint");
        }
        s.close().expect("close");
        let name = if with_checkpoint {
            "with_checkpoint"
        } else {
            "without_checkpoint"
        };
        g.bench_function(name, |b| {
            b.iter_custom(|iters| {
                let mut total = Duration::ZERO;
                for _ in 0..iters {
                    let t = Instant::now();
                    let s = Store::open(dir.path(), options(FsyncPolicy::No, false)).expect("open");
                    total += t.elapsed();
                    black_box(s.xlen(b"s").expect("len"));
                    // Closing (joining the WAL's sync thread) is not part of a restart.
                    drop(s);
                }
                total
            })
        });
    }
    g.finish();
}

criterion_group!(benches, appends, ranges, restarts);

fn main() {
    if std::env::var_os("EDDY_BENCH_NO_FIGURES").is_none() {
        figures();
        restart_figures();
        big_log_figure();
    }
    benches();
    Criterion::default().configure_from_args().final_summary();
}
