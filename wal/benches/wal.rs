//! WAL benchmarks: append throughput per fsync policy and record size, group commit
//! under `always` with 1, 8 and 64 appenders, sequential reads from the map, and the
//! raw pwrite+fdatasync latency of the same disk for comparison.
//!
//! Data goes to a temporary directory under `EDDY_BENCH_DIR` (default: the system
//! temporary directory), which should be on the disk being measured.
//!
//! Run: `cargo bench -p eddy-wal --bench wal`

use std::hint::black_box;
use std::os::unix::fs::FileExt;
use std::sync::Arc;
use std::time::{Duration, Instant};

use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use eddy_wal::{FsyncPolicy, Options, Position, Wal};

/// Retention keeps the benchmark's disk use below this.
const KEEP_BYTES: u64 = 1 << 30;

fn bench_dir() -> tempfile::TempDir {
    let base = std::env::var_os("EDDY_BENCH_DIR").map_or_else(std::env::temp_dir, Into::into);
    tempfile::tempdir_in(base).expect("create a benchmark directory")
}

fn open(dir: &tempfile::TempDir, fsync: FsyncPolicy) -> Wal {
    Wal::open(
        dir.path(),
        Options {
            fsync,
            ..Options::default()
        },
    )
    .expect("open WAL")
}

/// Appends `iters` records, timing only the appends (retention runs between chunks).
fn timed_appends(wal: &Wal, payload: &[u8], iters: u64) -> Duration {
    let mut total = Duration::ZERO;
    let mut done = 0;
    while done < iters {
        let chunk = (iters - done).min(20_000);
        let t = Instant::now();
        for _ in 0..chunk {
            black_box(wal.append(1, payload).expect("append"));
        }
        total += t.elapsed();
        done += chunk;
        if wal.end().0 - wal.start().0 > KEEP_BYTES {
            wal.delete_before(wal.end()).expect("retention");
        }
    }
    total
}

fn append_throughput(c: &mut Criterion) {
    let mut g = c.benchmark_group("append");
    g.measurement_time(Duration::from_secs(8)).sample_size(10);
    for policy in [FsyncPolicy::No, FsyncPolicy::EverySec] {
        for size in [100usize, 1024] {
            let dir = bench_dir();
            let wal = open(&dir, policy);
            let payload = vec![0xabu8; size];
            g.throughput(Throughput::Bytes(size as u64));
            g.bench_function(BenchmarkId::new(policy.to_string(), size), |b| {
                b.iter_custom(|iters| timed_appends(&wal, &payload, iters));
            });
            wal.close().expect("close");
        }
    }
    g.finish();
}

fn group_commit(c: &mut Criterion) {
    let mut g = c.benchmark_group("always");
    g.measurement_time(Duration::from_secs(6)).sample_size(10);
    g.throughput(Throughput::Elements(1));
    for threads in [1u64, 8, 64] {
        for size in [100usize, 1024] {
            let dir = bench_dir();
            let wal = Arc::new(open(&dir, FsyncPolicy::Always));
            let payload: Arc<[u8]> = vec![0xcdu8; size].into();
            let id = BenchmarkId::new(format!("{threads}-appenders"), size);
            g.bench_function(id, |b| {
                b.iter_custom(|iters| {
                    let per_thread = iters.div_ceil(threads);
                    let t = Instant::now();
                    let handles: Vec<_> = (0..threads)
                        .map(|_| {
                            let (wal, payload) = (Arc::clone(&wal), Arc::clone(&payload));
                            std::thread::spawn(move || {
                                for _ in 0..per_thread {
                                    black_box(wal.append(1, &payload).expect("append"));
                                }
                            })
                        })
                        .collect();
                    for h in handles {
                        h.join().expect("appender");
                    }
                    // Time per record: scale back to the `iters` criterion asked for.
                    t.elapsed()
                        .mul_f64(iters as f64 / (per_thread * threads) as f64)
                });
            });
        }
    }
    g.finish();
}

fn sequential_read(c: &mut Criterion) {
    let dir = bench_dir();
    let wal = open(&dir, FsyncPolicy::No);
    let payload = vec![0x5au8; 1024];
    let mut bytes = 0u64;
    while bytes < 256 << 20 {
        wal.append(1, &payload).expect("append");
        bytes += payload.len() as u64;
    }
    wal.sync().expect("sync");
    let mut g = c.benchmark_group("read");
    g.measurement_time(Duration::from_secs(8)).sample_size(10);
    g.throughput(Throughput::Bytes(bytes));
    g.bench_function("sequential-1024", |b| {
        b.iter(|| {
            let mut r = wal.reader(Position(0));
            let mut sum = 0usize;
            while let Some(rec) = r.next().expect("read") {
                sum += rec.payload().len();
            }
            assert_eq!(sum as u64, bytes);
            black_box(sum)
        });
    });
    g.finish();
}

/// The disk's own cost of a durable small append: pwrite 100 bytes at the end of a
/// preallocated file, then fdatasync. What `always` with one appender pays at best.
fn raw_fdatasync(c: &mut Criterion) {
    let dir = bench_dir();
    let path = dir.path().join("raw");
    let file = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(true)
        .open(&path)
        .expect("create raw file");
    let len = 256u64 << 20;
    rustix::fs::fallocate(&file, rustix::fs::FallocateFlags::empty(), 0, len).expect("fallocate");
    file.sync_all().expect("sync");
    let buf = [0x11u8; 100];
    let mut off = 0u64;
    let mut g = c.benchmark_group("raw");
    g.measurement_time(Duration::from_secs(5)).sample_size(10);
    g.throughput(Throughput::Elements(1));
    g.bench_function("pwrite-100-fdatasync", |b| {
        b.iter(|| {
            file.write_all_at(&buf, off).expect("pwrite");
            rustix::fs::fdatasync(&file).expect("fdatasync");
            off = (off + 100) % (len - 100);
        });
    });
    g.finish();
}

criterion_group!(
    benches,
    append_throughput,
    group_commit,
    sequential_read,
    raw_fdatasync
);
criterion_main!(benches);
