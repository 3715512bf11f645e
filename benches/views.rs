//! View benchmarks: sorted-set reads on 1M members, GEOSEARCH on 1M points,
//! replay speed per view kind, memory per member, and through the Store:
//! the incremental cost of a view per appended event and VIEW.CREATE's
//! build from the log.
//!
//! Run: `cargo bench --bench views`. Memory per member is printed (RSS
//! growth while building, divided by the member count) next to the
//! accounted bytes; it is a figure, not a criterion measurement. Later
//! structures may reuse memory freed by earlier ones here: for the figure
//! in a fresh process run `examples/view_memory.rs`.

use std::hint::black_box;
use std::time::Duration;

use criterion::{BatchSize, Criterion, Throughput, criterion_group, criterion_main};
use eddy::view::View;
use eddy::view::geo::{GeoCmd, geo_score, parse_geosearch};
use eddy::view::spec::parse_view_create;
use eddy::view::zset::ZSet;
use eddy::{AppendItem, FsyncPolicy, IdSpec, Store, StoreOptions};

#[path = "common/measure.rs"]
mod measure;
use measure::{Mix, rss_bytes};

const N: usize = 1_000_000;

fn big_zset() -> ZSet {
    let mut r = Mix(1);
    let before = rss_bytes();
    let mut z = ZSet::new();
    for i in 0..N {
        z.insert(
            format!("member:{i}").as_bytes(),
            (r.next() % 10_000_000) as f64,
        );
    }
    let after = rss_bytes();
    eprintln!(
        "zset: {N} members, RSS +{} bytes/member, accounted {} bytes/member",
        (after.saturating_sub(before)) / N,
        z.mem_bytes() / N
    );
    z
}

fn big_geo() -> ZSet {
    let mut r = Mix(2);
    let before = rss_bytes();
    let mut z = ZSet::new();
    for i in 0..N {
        // Points over Europe: lon -10..30, lat 35..60.
        let lon = -10.0 + 40.0 * r.unit();
        let lat = 35.0 + 25.0 * r.unit();
        if let Ok(s) = geo_score(lon, lat) {
            z.insert(format!("p:{i}").as_bytes(), s);
        }
    }
    let after = rss_bytes();
    eprintln!(
        "geo: {N} points, RSS +{} bytes/member, accounted {} bytes/member",
        (after.saturating_sub(before)) / N,
        z.mem_bytes() / N
    );
    z
}

fn zset_reads(c: &mut Criterion) {
    let z = big_zset();
    let mut g = c.benchmark_group("zset_1M");
    g.bench_function("zrevrange_top10", |b| {
        b.iter(|| black_box(z.range_by_rank(0, 9, true)))
    });
    g.bench_function("zrank", |b| {
        b.iter(|| black_box(z.rank(b"member:4242", false)))
    });
    let range = eddy::view::zset::ScoreRange {
        min: 1e6,
        max: 2e6,
        minex: false,
        maxex: true,
    };
    g.bench_function("zcount", |b| b.iter(|| black_box(z.count(&range))));
    g.finish();
}

fn geo_search(c: &mut Criterion) {
    let z = big_geo();
    let mut g = c.benchmark_group("geosearch_1M");
    for q in [
        "GEOSEARCH k FROMLONLAT 12.49 41.89 BYRADIUS 2 km ASC COUNT 10 WITHDIST",
        "GEOSEARCH k FROMLONLAT 12.49 41.89 BYRADIUS 20 km ASC COUNT 10 WITHDIST",
        "GEOSEARCH k FROMLONLAT 2.35 48.85 BYBOX 10 10 km ASC",
    ] {
        let argv: Vec<&[u8]> = q.split(' ').map(str::as_bytes).collect();
        let query = parse_geosearch(GeoCmd::GeoSearch, &argv, Some(&z)).expect("valid query");
        let name = q.split(' ').skip(5).take(3).collect::<Vec<_>>().join("_");
        g.bench_function(name, |b| b.iter(|| black_box(query.run(Some(&z)))));
    }
    g.finish();
}

/// Owned events: (ms, fields).
type Events = Vec<(u64, Vec<(Vec<u8>, Vec<u8>)>)>;

fn events(n: usize) -> Events {
    let mut r = Mix(3);
    let regions = ["eu", "us", "ap", "sa"];
    (0..n)
        .map(|i| {
            let f = vec![
                (
                    b"region".to_vec(),
                    regions[(r.next() % 4) as usize].as_bytes().to_vec(),
                ),
                (
                    b"user".to_vec(),
                    format!("user{}", r.next() % 100_000).into_bytes(),
                ),
                (
                    b"amount".to_vec(),
                    (r.next() % 1000).to_string().into_bytes(),
                ),
                (
                    b"lon".to_vec(),
                    format!("{:.6}", -10.0 + 40.0 * r.unit()).into_bytes(),
                ),
                (
                    b"lat".to_vec(),
                    format!("{:.6}", 35.0 + 25.0 * r.unit()).into_bytes(),
                ),
            ];
            (1_700_000_000_000 + i as u64 * 3, f)
        })
        .collect()
}

fn replay(c: &mut Criterion) {
    const E: usize = 100_000;
    let evs = events(E);
    let specs = [
        (
            "zincrby",
            "VIEW.CREATE v ON s ZINCRBY lb:{region} MEMBER {user} SCORE {amount}",
        ),
        (
            "zadd_gt",
            "VIEW.CREATE v ON s ZADD best:{region} MEMBER {user} SCORE {amount} GT",
        ),
        (
            "count_total",
            "VIEW.CREATE v ON s COUNT n:{region} BY {amount}",
        ),
        (
            "count_window",
            "VIEW.CREATE v ON s COUNT rate:{user} WINDOW 60",
        ),
        (
            "count_buckets",
            "VIEW.CREATE v ON s COUNT ts:{region} BY {amount} BUCKETS 1000",
        ),
        (
            "geoadd",
            "VIEW.CREATE v ON s GEOADD pos:{region} MEMBER {user} LON {lon} LAT {lat}",
        ),
    ];
    let mut g = c.benchmark_group("replay_100k_events");
    g.throughput(Throughput::Elements(E as u64));
    for (name, spec) in specs {
        let argv: Vec<&[u8]> = spec.split(' ').map(str::as_bytes).collect();
        let spec = parse_view_create(&argv).expect("valid spec");
        g.bench_function(name, |b| {
            b.iter_batched(
                || View::new(spec.clone()),
                |mut v| {
                    for (t, f) in &evs {
                        let fields: Vec<(&[u8], &[u8])> = f
                            .iter()
                            .map(|(k, v)| (k.as_slice(), v.as_slice()))
                            .collect();
                        let _ = black_box(v.apply(*t, &fields));
                    }
                    v
                },
                BatchSize::LargeInput,
            )
        });
    }
    g.finish();
}

fn store_with(fsync_none_dir: &std::path::Path) -> Store {
    let mut o = StoreOptions::default();
    o.wal.fsync = FsyncPolicy::No;
    o.checkpoint_every_records = 0;
    o.checkpoint_every_bytes = 0;
    Store::open(fsync_none_dir, o).expect("open store")
}

fn fields_of(f: &[(Vec<u8>, Vec<u8>)]) -> Vec<(&[u8], &[u8])> {
    f.iter()
        .map(|(k, v)| (k.as_slice(), v.as_slice()))
        .collect()
}

/// Incremental update cost per event through the Store: XADD batches of
/// 1000 entries into a stream read by no view, then by one view of each
/// kind (the difference is the view's cost per event, under the same lock).
fn store_updates(c: &mut Criterion) {
    const B: usize = 1000;
    let evs = events(B);
    let kinds = [
        ("no_view", None),
        (
            "zincrby",
            Some("VIEW.CREATE v ON s ZINCRBY lb:{region} MEMBER {user} SCORE {amount}"),
        ),
        (
            "count_total",
            Some("VIEW.CREATE v ON s COUNT n:{region} BY {amount}"),
        ),
        (
            "count_window",
            Some("VIEW.CREATE v ON s COUNT rate:{user} WINDOW 60"),
        ),
        (
            "count_buckets",
            Some("VIEW.CREATE v ON s COUNT ts:{region} BY {amount} BUCKETS 1000"),
        ),
        (
            "geoadd",
            Some("VIEW.CREATE v ON s GEOADD pos:{region} MEMBER {user} LON {lon} LAT {lat}"),
        ),
    ];
    let mut g = c.benchmark_group("store_xadd_1000_events");
    g.throughput(Throughput::Elements(B as u64));
    for (name, spec) in kinds {
        let dir = tempfile::tempdir().expect("tempdir");
        let store = store_with(dir.path());
        if let Some(spec) = spec {
            let argv: Vec<&[u8]> = spec.split(' ').map(str::as_bytes).collect();
            store
                .view_create(parse_view_create(&argv).expect("valid spec"))
                .expect("view");
        }
        let fields: Vec<Vec<(&[u8], &[u8])>> = evs.iter().map(|(_, f)| fields_of(f)).collect();
        let items: Vec<AppendItem<'_>> = fields
            .iter()
            .map(|f| AppendItem {
                id: IdSpec::Auto,
                fields: f,
                idmp: None,
            })
            .collect();
        g.bench_function(name, |b| {
            b.iter(|| black_box(store.xadd_batch(b"s", &items).expect("xadd")))
        });
    }
    g.finish();
}

/// VIEW.CREATE over a 100k-entry stream: replay through the Store's range
/// reads (entries read back from the log) into the view.
fn store_build(c: &mut Criterion) {
    const E: usize = 100_000;
    let evs = events(E);
    let dir = tempfile::tempdir().expect("tempdir");
    let store = store_with(dir.path());
    let fields: Vec<Vec<(&[u8], &[u8])>> = evs.iter().map(|(_, f)| fields_of(f)).collect();
    for chunk in fields.chunks(1000) {
        let items: Vec<AppendItem<'_>> = chunk
            .iter()
            .map(|f| AppendItem {
                id: IdSpec::Auto,
                fields: f,
                idmp: None,
            })
            .collect();
        store.xadd_batch(b"s", &items).expect("xadd");
    }
    let mut g = c.benchmark_group("store_view_create_100k");
    g.throughput(Throughput::Elements(E as u64));
    g.sample_size(10);
    for (name, tail) in [
        (
            "zincrby",
            "ZINCRBY lb:{region} MEMBER {user} SCORE {amount}",
        ),
        ("count_total", "COUNT n:{region} BY {amount}"),
        (
            "geoadd",
            "GEOADD pos:{region} MEMBER {user} LON {lon} LAT {lat}",
        ),
    ] {
        g.bench_function(name, |b| {
            b.iter_custom(|iters| {
                let mut total = Duration::ZERO;
                for _ in 0..iters {
                    let text = format!("VIEW.CREATE v ON s {tail}");
                    let argv: Vec<&[u8]> = text.split(' ').map(str::as_bytes).collect();
                    let spec = parse_view_create(&argv).expect("valid spec");
                    let t = std::time::Instant::now();
                    store.view_create(spec).expect("create");
                    // The build runs in steps on the builder thread.
                    let state = store
                        .view_wait(b"v", Duration::from_secs(600))
                        .expect("wait");
                    assert_eq!(state.name(), "ready");
                    total += t.elapsed();
                    store.view_drop(b"v").expect("drop");
                }
                total
            })
        });
    }
    g.finish();
}

fn config() -> Criterion {
    Criterion::default()
        .sample_size(20)
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(4))
}

criterion_group! { name = benches; config = config(); targets = zset_reads, geo_search, replay, store_updates, store_build }
criterion_main!(benches);
