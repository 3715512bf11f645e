//! Views through the embedded API: for each kind, random events give the
//! same view as a model computed directly from the events, after the
//! initial build, live updates, a checkpoint, a crash (drop without close),
//! a clean restart and VIEW.REBUILD.

mod engine_util;

use std::collections::BTreeMap;

use eddy::view::geo::geo_score;
use eddy::view::num::format_double;
use eddy::view::spec::parse_view_create;
use eddy::view::{KeyType, View};
use eddy::{AddArgs, Error, IdSpec, Store, StreamId};
use engine_util::*;

/// One generated event.
#[derive(Clone, Debug)]
struct Ev {
    ms: u64,
    g: String,
    u: String,
    amount: i64,
    status: &'static str,
    lon: f64,
    lat: f64,
    /// Events without the `g` field are skipped by every view.
    has_g: bool,
}

struct Rng(u64);
impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
}

fn gen_events(rng: &mut Rng, n: usize, ms: &mut u64) -> Vec<Ev> {
    (0..n)
        .map(|_| {
            *ms += rng.below(3000);
            Ev {
                ms: *ms,
                g: format!("g{}", rng.below(3)),
                u: format!("u{}", rng.below(10)),
                amount: rng.below(100) as i64,
                status: if rng.below(4) == 0 { "void" } else { "ok" },
                lon: (rng.below(3_600_000) as f64) / 10_000.0 - 180.0,
                lat: (rng.below(1_700_000) as f64) / 10_000.0 - 85.0,
                has_g: rng.below(20) != 0,
            }
        })
        .collect()
}

fn append(s: &Store, evs: &[Ev]) -> Result<(), Error> {
    for e in evs {
        let amount = e.amount.to_string();
        let (lon, lat) = (e.lon.to_string(), e.lat.to_string());
        let mut f: Vec<(&[u8], &[u8])> = vec![
            (b"u", e.u.as_bytes()),
            (b"amount", amount.as_bytes()),
            (b"status", e.status.as_bytes()),
            (b"lon", lon.as_bytes()),
            (b"lat", lat.as_bytes()),
        ];
        if e.has_g {
            f.push((b"g", e.g.as_bytes()));
        }
        s.xadd(b"ev", &AddArgs::new(&f).id(IdSpec::AutoSeq(e.ms)))?;
    }
    Ok(())
}

const SPECS: &[&str] = &[
    "VIEW.CREATE zincr ON ev WHERE status ok ZINCRBY lb:{g} MEMBER {u} SCORE {amount}",
    "VIEW.CREATE best ON ev ZADD best:{g} MEMBER {u} SCORE {amount} GT",
    "VIEW.CREATE total ON ev COUNT cnt:{g} BY {amount}",
    "VIEW.CREATE win ON ev COUNT win:{g} WINDOW 10 KEEP 1000000",
    "VIEW.CREATE buckets ON ev COUNT bk:{g} BY {amount} BUCKETS 5000",
    "VIEW.CREATE geo ON ev GEOADD geo:{g} MEMBER {u} LON {lon} LAT {lat}",
];

/// Key -> canonical value, computed from the events alone.
fn model(evs: &[Ev]) -> BTreeMap<Vec<u8>, String> {
    let mut z: BTreeMap<String, BTreeMap<String, f64>> = BTreeMap::new();
    let mut counts: BTreeMap<String, i64> = BTreeMap::new();
    let mut buckets: BTreeMap<String, BTreeMap<u64, (u64, i64)>> = BTreeMap::new();
    for e in evs.iter().filter(|e| e.has_g) {
        if e.status == "ok" {
            *z.entry(format!("lb:{}", e.g))
                .or_default()
                .entry(e.u.clone())
                .or_default() += e.amount as f64;
        }
        let best = z
            .entry(format!("best:{}", e.g))
            .or_default()
            .entry(e.u.clone())
            .or_insert(e.amount as f64);
        *best = best.max(e.amount as f64);
        *counts.entry(format!("cnt:{}", e.g)).or_default() += e.amount;
        let w = e.ms - e.ms % 10_000;
        *counts
            .entry(format!("win:{}:{}", e.g, w / 1000))
            .or_default() += 1;
        let b = buckets
            .entry(format!("bk:{}", e.g))
            .or_default()
            .entry(e.ms - e.ms % 5000)
            .or_default();
        b.0 += 1;
        b.1 += e.amount;
        let score = geo_score(e.lon, e.lat).expect("valid coordinates");
        z.entry(format!("geo:{}", e.g))
            .or_default()
            .insert(e.u.clone(), score);
    }
    let mut out = BTreeMap::new();
    for (k, members) in z {
        let v: Vec<String> = members
            .iter()
            .map(|(m, s)| format!("{m}={}", format_double(*s)))
            .collect();
        out.insert(k.into_bytes(), v.join(","));
    }
    for (k, n) in counts {
        out.insert(k.into_bytes(), n.to_string());
    }
    for (k, bs) in buckets {
        let v: Vec<String> = bs
            .iter()
            .map(|(t, (c, s))| format!("{t}:{c}:{s}"))
            .collect();
        out.insert(k.into_bytes(), v.join(","));
    }
    out
}

fn dump_key(v: &View, key: &[u8]) -> String {
    match v.key_type() {
        KeyType::ZSet => {
            let mut m: Vec<(Vec<u8>, f64)> = v
                .zset(key)
                .map(|z| z.iter().map(|(m, s)| (m.to_vec(), s)).collect())
                .unwrap_or_default();
            m.sort_by(|a, b| a.0.cmp(&b.0));
            let parts: Vec<String> = m
                .iter()
                .map(|(m, s)| format!("{}={}", String::from_utf8_lossy(m), format_double(*s)))
                .collect();
            parts.join(",")
        }
        KeyType::String => v.get(key).map(|n| n.format()).unwrap_or_default(),
        KeyType::Series => {
            let parts: Vec<String> = v
                .bucket_range(key, 0, u64::MAX)
                .unwrap_or_default()
                .iter()
                .map(|(t, b)| format!("{t}:{}:{}", b.count, b.sum.format()))
                .collect();
            parts.join(",")
        }
    }
}

/// Every view key of the store with its canonical value.
fn dump(s: &Store) -> Result<BTreeMap<Vec<u8>, String>, Error> {
    let mut out = BTreeMap::new();
    for k in s.keys(b"*") {
        if k == b"ev" {
            continue;
        }
        let v = s.read_view_key(&k, |v| v.map(|v| dump_key(v, &k)))?;
        out.insert(k.clone(), v.unwrap_or_default());
    }
    Ok(out)
}

fn create_all(s: &Store) -> Result<(), Error> {
    for text in SPECS {
        let argv: Vec<&[u8]> = text.split(' ').map(str::as_bytes).collect();
        s.view_create(parse_view_create(&argv).expect("valid spec"))?;
    }
    Ok(())
}

#[test]
fn every_view_kind_matches_its_model_across_restarts_crashes_and_rebuilds() -> Result<(), Error> {
    for seed in [1u64, 7, 42] {
        let dir = tempfile::tempdir().expect("tempdir");
        let c = clock(1);
        let mut rng = Rng(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1);
        let mut ms = 1_000_000;
        let mut all = Vec::new();

        let s = open(dir.path(), &c);
        let evs = gen_events(&mut rng, 300, &mut ms);
        append(&s, &evs)?;
        all.extend(evs);
        // Built from the 300 events already in the stream.
        create_all(&s)?;
        assert_eq!(dump(&s)?, model(&all), "seed {seed}: initial build");
        let evs = gen_events(&mut rng, 300, &mut ms);
        append(&s, &evs)?;
        all.extend(evs);
        assert_eq!(dump(&s)?, model(&all), "seed {seed}: live updates");
        s.checkpoint()?;
        let evs = gen_events(&mut rng, 300, &mut ms);
        append(&s, &evs)?;
        all.extend(evs);
        // Crash: no close; the checkpoint plus the tail must give the same views.
        drop(s);
        let s = open(dir.path(), &c);
        assert!(s.recovery_stats().records_replayed >= 300);
        assert_eq!(dump(&s)?, model(&all), "seed {seed}: after crash");
        let info = s.view_info(b"zincr")?;
        assert_eq!(
            info.stats.applied + info.stats.filtered + info.stats.skipped,
            900
        );
        assert_eq!(info.lag, 0);
        assert_eq!(info.state.name(), "ready");

        let evs = gen_events(&mut rng, 100, &mut ms);
        append(&s, &evs)?;
        all.extend(evs);
        for name in s.view_list() {
            s.view_rebuild(&name)?;
        }
        assert_eq!(dump(&s)?, model(&all), "seed {seed}: after rebuild");
        s.close()?;
        let s = open(dir.path(), &c);
        assert_eq!(dump(&s)?, model(&all), "seed {seed}: after clean restart");
        // A checkpoint right after a restart, then a crash with no tail.
        s.checkpoint()?;
        drop(s);
        let s = open(dir.path(), &c);
        assert_eq!(dump(&s)?, model(&all), "seed {seed}: checkpoint only");
    }
    Ok(())
}

#[test]
fn from_dollar_and_from_id_start_where_asked() -> Result<(), Error> {
    let dir = tempfile::tempdir().expect("tempdir");
    let c = clock(1);
    let s = open(dir.path(), &c);
    let f = pairs(&[("k", "x")]);
    for ms in 1..=5 {
        s.xadd(
            b"s",
            &AddArgs::new(&f).id(IdSpec::Explicit(StreamId::new(ms, 0))),
        )?;
    }
    let mk = |t: &str| {
        let argv: Vec<&[u8]> = t.split(' ').map(str::as_bytes).collect();
        parse_view_create(&argv).expect("spec")
    };
    s.view_create(mk("VIEW.CREATE a ON s FROM $ COUNT a:{k}"))?;
    s.view_create(mk("VIEW.CREATE b ON s FROM 3 COUNT b:{k}"))?;
    s.view_create(mk("VIEW.CREATE c ON s COUNT c:{k}"))?;
    s.xadd(
        b"s",
        &AddArgs::new(&f).id(IdSpec::Explicit(StreamId::new(6, 0))),
    )?;
    let get =
        |s: &Store, k: &[u8]| s.read_view_key(k, |v| v.and_then(|v| v.get(k)).map(|n| n.format()));
    for round in 0..2 {
        assert_eq!(get(&s, b"a:x")?.as_deref(), Some("1"), "round {round}");
        assert_eq!(get(&s, b"b:x")?.as_deref(), Some("4"), "round {round}");
        assert_eq!(get(&s, b"c:x")?.as_deref(), Some("6"), "round {round}");
        s.view_rebuild(b"a")?;
        s.view_rebuild(b"b")?;
    }
    drop(s);
    let s = open(dir.path(), &c);
    assert_eq!(get(&s, b"a:x")?.as_deref(), Some("1"));
    assert_eq!(get(&s, b"b:x")?.as_deref(), Some("4"));
    assert!(s.view_drop(b"a")?);
    assert!(!s.view_drop(b"a")?);
    assert_eq!(s.key_type(b"a:x"), "none");
    drop(s);
    let s = open(dir.path(), &c);
    assert_eq!(s.view_list(), vec![b"b".to_vec(), b"c".to_vec()]);
    Ok(())
}

#[test]
fn view_keys_refuse_writes_and_show_in_the_key_space() -> Result<(), Error> {
    let dir = tempfile::tempdir().expect("tempdir");
    let c = clock(1);
    let s = open(dir.path(), &c);
    let f = pairs(&[("k", "x"), ("n", "2")]);
    s.xadd(b"s", &AddArgs::new(&f))?;
    let argv: Vec<&[u8]> = "VIEW.CREATE v ON s ZINCRBY z:{k} MEMBER m SCORE {n}"
        .split(' ')
        .map(str::as_bytes)
        .collect();
    s.view_create(parse_view_create(&argv).expect("spec"))?;
    let again = s.view_create(parse_view_create(&argv).expect("spec"));
    assert_eq!(
        again.map_err(|e| e.to_string()),
        Err("ERR view 'v' already exists".to_owned())
    );
    assert_eq!(s.key_type(b"z:x"), "zset");
    assert_eq!(s.dbsize(), 2);
    assert_eq!(s.exists(&[b"z:x", b"s", b"nope"]), 2);
    let (_, found) = s.scan(0, None, Some("zset"), 10);
    assert_eq!(found, vec![b"z:x".to_vec()]);
    for res in [
        s.del(&[b"z:x"]).map(|_| ()),
        s.xadd(b"z:x", &AddArgs::new(&f)).map(|_| ()),
        s.rename(b"z:x", b"other"),
        s.rename(b"s", b"z:x"),
        s.create_stream(b"z:x").map(|_| ()),
    ] {
        let e = res.expect_err("write to a view key");
        assert!(e.to_string().contains("belongs to view 'v'"), "{e}");
    }
    assert_eq!(s.xlen(b"s")?, 1);
    assert!(
        s.read_view_key(b"s", |_| ()).is_err(),
        "a stream is WRONGTYPE"
    );
    Ok(())
}
