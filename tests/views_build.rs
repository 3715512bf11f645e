//! Views built in steps and evicted into the log, through the embedded API:
//! a long source shows `building` with its lag, appends during the build
//! and a crash mid-build lose nothing; evicted units come back exactly,
//! even after the entries they were derived from were deleted or trimmed
//! and their segments removed by a checkpoint.

mod engine_util;

use std::collections::BTreeMap;
use std::time::Duration;

use eddy::memory::{EvictionConfig, Policy};
use eddy::stream::{Trim, TrimStrategy};
use eddy::view::spec::parse_view_create;
use eddy::views::ViewState;
use eddy::{AddArgs, Error, IdSpec, Store, StreamId};
use engine_util::*;

const WAIT: Duration = Duration::from_secs(60);

fn spec(text: &str) -> eddy::view::spec::ViewSpec {
    let argv: Vec<&[u8]> = text.split(' ').map(str::as_bytes).collect();
    parse_view_create(&argv).expect("valid spec")
}

/// Appends `n` events `u=<user> n=<amount>` with IDs `ms-0` from `*ms`;
/// returns (user, amount) per event.
fn append(s: &Store, n: u64, ms: &mut u64, users: u64) -> Result<Vec<(String, u64)>, Error> {
    let mut out = Vec::new();
    for _ in 0..n {
        *ms += 1;
        let u = format!("u{}", ms.wrapping_mul(2_654_435_761) % users);
        let a = *ms % 7 + 1;
        let amount = a.to_string();
        let f: Vec<(&[u8], &[u8])> = vec![(b"u", u.as_bytes()), (b"n", amount.as_bytes())];
        s.xadd(
            b"ev",
            &AddArgs::new(&f).id(IdSpec::Explicit(StreamId::new(*ms, 0))),
        )?;
        out.push((u, a));
    }
    Ok(out)
}

/// Per-user sums of every event given.
fn sums(events: &[(String, u64)]) -> BTreeMap<String, u64> {
    let mut m = BTreeMap::new();
    for (u, a) in events {
        *m.entry(u.clone()).or_default() += a;
    }
    m
}

/// The view's per-user totals, read key by key (`tot:<user>`).
fn totals(s: &Store, users: &BTreeMap<String, u64>) -> Result<BTreeMap<String, u64>, Error> {
    let mut out = BTreeMap::new();
    for u in users.keys() {
        let k = format!("tot:{u}");
        let v = s.read_view_key(k.as_bytes(), |v| {
            v.and_then(|v| v.get(k.as_bytes())).map(|n| n.format())
        })?;
        if let Some(v) = v {
            out.insert(u.clone(), v.parse().expect("integer total"));
        }
    }
    Ok(out)
}

/// Leaderboard `lb` as user -> score.
fn board(s: &Store) -> Result<BTreeMap<String, u64>, Error> {
    s.read_view_key(b"lb", |v| {
        v.and_then(|v| v.zset(b"lb"))
            .map(|z| {
                z.iter()
                    .map(|(m, sc)| (String::from_utf8_lossy(m).into_owned(), sc as u64))
                    .collect()
            })
            .unwrap_or_default()
    })
}

#[test]
fn a_long_build_is_visible_takes_appends_and_survives_a_crash() -> Result<(), Error> {
    let dir = tempfile::tempdir().expect("tempdir");
    let c = clock(1);
    let s = open(dir.path(), &c);
    let mut ms = 1000;
    let mut all = append(&s, 60_000, &mut ms, 500)?;
    s.view_create(spec("VIEW.CREATE lb ON ev ZINCRBY lb MEMBER {u} SCORE {n}"))?;
    // The first step ran inside VIEW.CREATE; the rest is still to come.
    let info = s.view_info(b"lb")?;
    assert_eq!(info.state, ViewState::Building);
    assert!(info.lag > 0 && info.lag < 60_000, "lag {}", info.lag);
    assert!(info.position < StreamId::new(ms, 0));
    // Appends during the build are applied once, by the builder.
    all.extend(append(&s, 2_000, &mut ms, 500)?);
    assert_eq!(s.view_wait(b"lb", WAIT)?, ViewState::Ready);
    let info = s.view_info(b"lb")?;
    assert_eq!(info.lag, 0);
    assert_eq!(info.stats.applied, 62_000);
    assert_eq!(board(&s)?, sums(&all));

    // A crash in the middle of a build: the logged steps replay, the
    // builder goes on from where the log ends.
    s.view_create(spec(
        "VIEW.CREATE lb2 ON ev ZINCRBY lb2 MEMBER {u} SCORE {n}",
    ))?;
    all.extend(append(&s, 100, &mut ms, 500)?);
    drop(s);
    let s = open(dir.path(), &c);
    assert_eq!(s.view_wait(b"lb2", WAIT)?, ViewState::Ready);
    let lb2 = s.read_view_key(b"lb2", |v| {
        v.and_then(|v| v.zset(b"lb2"))
            .map(|z| {
                z.iter()
                    .map(|(m, sc)| (String::from_utf8_lossy(m).into_owned(), sc as u64))
                    .collect::<BTreeMap<_, _>>()
            })
            .unwrap_or_default()
    })?;
    assert_eq!(lb2, sums(&all));
    assert_eq!(board(&s)?, sums(&all));
    assert_eq!(s.view_info(b"lb2")?.stats.applied, 62_100);

    // REBUILD builds in steps too, and ends with the same data.
    s.view_rebuild(b"lb")?;
    assert_eq!(s.view_wait(b"lb", WAIT)?, ViewState::Ready);
    assert_eq!(board(&s)?, sums(&all));
    s.close()?;
    Ok(())
}

#[test]
fn evicted_units_outlive_the_entries_they_came_from() -> Result<(), Error> {
    let dir = tempfile::tempdir().expect("tempdir");
    let c = clock(1);
    let s = open(dir.path(), &c);
    s.view_create(spec("VIEW.CREATE tot ON ev COUNT tot:{u} BY {n}"))?;
    // A cap far below what 2000 totals need: most units live in the log.
    s.set_eviction(EvictionConfig {
        maxmemory: 4_000,
        policy: Policy::AllkeysLru,
        ..EvictionConfig::default()
    });
    let mut ms = 1000;
    let mut all = Vec::new();
    for _ in 0..40 {
        all.extend(append(&s, 500, &mut ms, 2_000)?);
        s.make_room(false)?;
    }
    let want = sums(&all);
    let m = s.memory_report();
    assert!(m.evicted_keys > 1_000);
    // About 1,900 evicted totals: a name and a position each.
    assert!(m.views_evicted_index > 1_000 * 40, "{m:?}");
    // Delete most source entries: an XDEL of a range, then a trim.
    let old: Vec<StreamId> = (1001..3001).map(|m| StreamId::new(m, 0)).collect();
    s.xdel(b"ev", &old)?;
    s.xtrim(
        b"ev",
        &Trim {
            strategy: TrimStrategy::MaxLen(100),
            approx: false,
            limit: None,
        },
    )?;
    assert_eq!(s.xlen(b"ev")?, 100);
    let before = s.memory_report().view_rebuilds;
    assert_eq!(totals(&s, &want)?, want, "after deletes");
    assert!(s.memory_report().view_rebuilds > before + 1_000);
    // A checkpoint drops the segments of the deleted entries; eviction
    // records in them are copied forward first.
    assert_eq!(s.wal().start().0, 0);
    s.make_room(false)?;
    s.checkpoint()?;
    assert!(s.wal().start().0 > 0, "old segments were deleted");
    assert_eq!(totals(&s, &want)?, want, "after checkpoints");
    drop(s);
    let s = open(dir.path(), &c);
    s.set_eviction(EvictionConfig {
        maxmemory: 4_000,
        policy: Policy::AllkeysLru,
        ..EvictionConfig::default()
    });
    assert_eq!(totals(&s, &want)?, want, "after a crash");
    // REBUILD derives from what the stream holds now: the 100 entries left.
    s.view_rebuild(b"tot")?;
    assert_eq!(s.view_wait(b"tot", WAIT)?, ViewState::Ready);
    let left = sums(&all[all.len() - 100..]);
    let mut got = totals(&s, &want)?;
    got.retain(|_, v| *v != 0);
    assert_eq!(got, left, "rebuilt from the entries left");
    s.close()?;
    Ok(())
}
