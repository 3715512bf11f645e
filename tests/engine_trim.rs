//! Trimming. The `~` cases replay one scenario under several node sizes and
//! compare with the numbers a real Redis 7.0 server gave for the very same
//! commands (entries of mixed shapes, explicit IDs, XDEL, MAXLEN/MINID with
//! `~` and `=`, LIMIT): lengths, deleted counts and node (block) counts.

mod engine_util;

use eddy::{AddArgs, Error, IdRange, IdSpec, NodeLimits, Store, StreamId, Trim, TrimStrategy};
use engine_util::*;

fn eid(i: u64) -> StreamId {
    id(1_700_000_000_000 + i * 7, i % 5)
}

fn fields(i: u64) -> Vec<(Vec<u8>, Vec<u8>)> {
    if i.is_multiple_of(10) {
        return vec![(b"other".to_vec(), vec![b'x'; (i % 50) as usize])];
    }
    vec![
        (b"a".to_vec(), i.to_string().into_bytes()),
        (b"name".to_vec(), format!("user-{i}").into_bytes()),
        (b"v".to_vec(), vec![b'y'; (i % 20) as usize]),
    ]
}

fn add(s: &Store, i: u64, trim: Option<Trim>) -> Result<(), Error> {
    let owned = fields(i);
    let f: Vec<(&[u8], &[u8])> = owned.iter().map(|(a, b)| (&a[..], &b[..])).collect();
    let mut args = AddArgs::new(&f).id(IdSpec::Explicit(eid(i)));
    args.trim = trim;
    s.xadd(b"s", &args)?;
    Ok(())
}

fn blocks(s: &Store) -> Result<u64, Error> {
    Ok(s.xinfo_stream(b"s")?.radix_tree_keys)
}

/// `(max_bytes, max_entries, figures, recorded-first-entry-id)` from
/// redis-server 7.0.15 (see the module doc for the command sequence).
const REDIS: &[(u64, u64, [u64; 14], &str)] = &[
    (
        4096,
        100,
        [600, 6, 14, 186, 400, 4, 301, 100, 201, 101, 100, 2, 0, 100],
        "1700000003514-2",
    ),
    (
        4096,
        10,
        [
            600, 60, 14, 186, 400, 40, 301, 140, 161, 61, 100, 11, 29, 71,
        ],
        "1700000003717-1",
    ),
    (
        256,
        0,
        [
            600, 93, 14, 186, 400, 62, 304, 148, 156, 56, 100, 17, 30, 70,
        ],
        "1700000003724-2",
    ),
    (
        1024,
        50,
        [600, 22, 14, 165, 421, 16, 319, 159, 160, 60, 100, 4, 21, 79],
        "1700000003661-3",
    ),
    (
        0,
        7,
        [
            600, 86, 14, 182, 404, 58, 300, 147, 153, 53, 100, 15, 24, 76,
        ],
        "1700000003682-1",
    ),
    (
        100,
        100,
        [
            600, 329, 14, 186, 400, 224, 301, 148, 153, 53, 100, 57, 30, 70,
        ],
        "1700000003724-2",
    ),
    (
        512,
        1000,
        [600, 43, 14, 186, 400, 29, 309, 143, 166, 66, 100, 8, 19, 81],
        "1700000003647-1",
    ),
];

fn scenario(s: &Store) -> Result<([u64; 14], StreamId), Error> {
    let mut r = [0u64; 14];
    for i in 1..=600 {
        add(s, i, None)?;
    }
    r[0] = s.xlen(b"s")?;
    r[1] = blocks(s)?;
    let del: Vec<StreamId> = (7..=100).step_by(7).map(eid).collect();
    r[2] = s.xdel(b"s", &del)?;
    r[3] = s.xtrim(b"s", &Trim::approx(TrimStrategy::MaxLen(400)))?;
    r[4] = s.xlen(b"s")?;
    r[5] = blocks(s)?;
    add(s, 601, Some(Trim::approx(TrimStrategy::MaxLen(300))))?;
    r[6] = s.xlen(b"s")?;
    r[7] = s.xtrim(b"s", &Trim::approx(TrimStrategy::MinId(eid(450))))?;
    r[8] = s.xlen(b"s")?;
    r[9] = s.xtrim(b"s", &Trim::exact(TrimStrategy::MaxLen(100)))?;
    r[10] = s.xlen(b"s")?;
    r[11] = blocks(s)?;
    let limited = Trim {
        strategy: TrimStrategy::MaxLen(50),
        approx: true,
        limit: Some(30),
    };
    r[12] = s.xtrim(b"s", &limited)?;
    r[13] = s.xlen(b"s")?;
    Ok((r, s.xinfo_stream(b"s")?.recorded_first_entry_id))
}

#[test]
fn approximate_trims_match_redis_for_several_node_sizes() -> Result<(), Error> {
    for &(max_bytes, max_entries, want, first) in REDIS {
        let dir = tempfile::tempdir().expect("tempdir");
        let limits = NodeLimits {
            max_bytes,
            max_entries,
        };
        let s = open_with_limits(dir.path(), &clock(1), limits);
        let (got, got_first) = scenario(&s)?;
        assert_eq!(
            got, want,
            "node limits {max_bytes} bytes / {max_entries} entries"
        );
        assert_eq!(got_first.to_string(), first);
        // The same state comes back after a restart.
        drop(s);
        let s = open_with_limits(dir.path(), &clock(1), limits);
        assert_eq!(s.xlen(b"s")?, want[13]);
        assert_eq!(blocks(&s)?, s.xinfo_stream(b"s")?.radix_tree_keys);
        assert_eq!(
            s.xinfo_stream(b"s")?.recorded_first_entry_id.to_string(),
            first
        );
    }
    Ok(())
}

#[test]
fn exact_maxlen_keeps_exactly_the_newest_entries() -> Result<(), Error> {
    let dir = tempfile::tempdir().expect("tempdir");
    let s = open_with_limits(
        dir.path(),
        &clock(1),
        NodeLimits {
            max_bytes: 4096,
            max_entries: 5,
        },
    );
    for i in 1..=23 {
        add(&s, i, Some(Trim::exact(TrimStrategy::MaxLen(7))))?;
    }
    let got = ids(&s.xrange(b"s", IdRange::ALL, None)?);
    assert_eq!(got, (17..=23).map(eid).collect::<Vec<_>>());
    assert_eq!(s.xinfo_stream(b"s")?.recorded_first_entry_id, eid(17));
    Ok(())
}

#[test]
fn exact_minid_keeps_ids_at_or_above_the_threshold() -> Result<(), Error> {
    let dir = tempfile::tempdir().expect("tempdir");
    let s = open_with_limits(
        dir.path(),
        &clock(1),
        NodeLimits {
            max_bytes: 4096,
            max_entries: 4,
        },
    );
    for i in 1..=20 {
        add(&s, i, None)?;
    }
    assert_eq!(
        s.xtrim(b"s", &Trim::exact(TrimStrategy::MinId(eid(11))))?,
        10
    );
    assert_eq!(ids(&s.xrange(b"s", IdRange::ALL, Some(1))?), vec![eid(11)]);
    assert_eq!(
        s.xtrim(b"s", &Trim::exact(TrimStrategy::MinId(eid(11))))?,
        0
    );
    assert_eq!(s.xlen(b"s")?, 10);
    Ok(())
}

#[test]
fn limit_requires_approximate_trimming() {
    let dir = tempfile::tempdir().expect("tempdir");
    let s = open(dir.path(), &clock(1));
    let t = Trim {
        strategy: TrimStrategy::MaxLen(1),
        approx: false,
        limit: Some(10),
    };
    let err = s.xtrim(b"s", &t).expect_err("refused");
    assert_eq!(
        err.to_string(),
        "ERR syntax error, LIMIT cannot be used without the special ~ option"
    );
}

#[test]
fn maxsize_keeps_the_newest_entries_within_the_byte_budget() -> Result<(), Error> {
    let dir = tempfile::tempdir().expect("tempdir");
    let s = open_with_limits(
        dir.path(),
        &clock(1),
        NodeLimits {
            max_bytes: 4096,
            max_entries: 10,
        },
    );
    let v = vec![b'z'; 90];
    for i in 1..=100u64 {
        let f: [(&[u8], &[u8]); 1] = [(b"payload", &v)];
        s.xadd(b"s", &AddArgs::new(&f).id(IdSpec::Explicit(id(i, 0))))?;
    }
    let per_entry = s.xinfo_stream(b"s")?.bytes / 100;
    assert!(per_entry > 90, "each entry costs its payload plus framing");
    s.xtrim(b"s", &Trim::exact(TrimStrategy::MaxSize(per_entry * 25)))?;
    assert_eq!(s.xlen(b"s")?, 25);
    assert!(s.xinfo_stream(b"s")?.bytes <= per_entry * 25);
    // `~` drops whole blocks only: 25 live entries in blocks of 5+10+10 -> 20.
    s.xtrim(b"s", &Trim::approx(TrimStrategy::MaxSize(per_entry * 12)))?;
    assert_eq!(s.xlen(b"s")?, 20);
    Ok(())
}

#[test]
fn maxage_trims_by_entry_id_time() -> Result<(), Error> {
    let dir = tempfile::tempdir().expect("tempdir");
    let c = clock(10_000);
    let s = open(dir.path(), &c);
    let f = pairs(&[("k", "v")]);
    for _ in 0..10 {
        s.xadd(b"s", &AddArgs::new(&f))?;
        c.advance(1000);
    }
    // Entries at 10s..19s, now = 20s: keep the last 3.5 seconds.
    let removed = s.xtrim(b"s", &Trim::exact(TrimStrategy::MaxAge(3_500)))?;
    assert_eq!(removed, 7);
    assert_eq!(
        ids(&s.xrange(b"s", IdRange::ALL, None)?),
        vec![id(17_000, 0), id(18_000, 0), id(19_000, 0)]
    );
    // Replay does not depend on the clock.
    drop(s);
    c.set(1_000_000);
    let s = open(dir.path(), &c);
    assert_eq!(s.xlen(b"s")?, 3);
    Ok(())
}
