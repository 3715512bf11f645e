//! Event-sourcing extensions: expected-version appends and idempotent
//! appends (MAXSIZE and MAXAGE are in engine_trim.rs).

mod engine_util;

use eddy::{AddArgs, AppendItem, Error, Expect, IdRange, IdSpec, IdmpConfig, StreamId};
use engine_util::*;

#[test]
fn expected_version_appends_only_on_the_expected_last_id() -> Result<(), Error> {
    let dir = tempfile::tempdir().expect("tempdir");
    let s = open(dir.path(), &clock(1000));
    let f = pairs(&[("event", "created")]);
    let first = s
        .xadd(b"order:1", &AddArgs::new(&f).expect(Expect::NoStream))?
        .expect("added");
    let err = s
        .xadd(b"order:1", &AddArgs::new(&f).expect(Expect::NoStream))
        .expect_err("exists");
    assert_eq!(
        err.to_string(),
        "VERSIONCONFLICT expected no stream but the stream's last ID is 1000-0"
    );
    let second = s.xadd(
        b"order:1",
        &AddArgs::new(&f).expect(Expect::LastId(first.id)),
    )?;
    let second = second.expect("added").id;
    let stale = s.xadd(
        b"order:1",
        &AddArgs::new(&f).expect(Expect::LastId(first.id)),
    );
    match stale {
        Err(Error::VersionConflict { expected, actual }) => {
            assert_eq!((expected, actual), (first.id, second));
        }
        other => panic!("expected a conflict, got {other:?}"),
    }
    let missing = s.xadd(
        b"order:2",
        &AddArgs::new(&f).expect(Expect::LastId(first.id)),
    );
    assert_eq!(
        missing.expect_err("missing").to_string(),
        "VERSIONCONFLICT expected last ID 1000-0 but the stream does not exist"
    );
    assert_eq!(s.xlen(b"order:1")?, 2);
    assert_eq!(s.exists(&[b"order:2"]), 0);
    Ok(())
}

#[test]
fn idempotent_duplicates_return_the_original_id_and_survive_restart() -> Result<(), Error> {
    let dir = tempfile::tempdir().expect("tempdir");
    let c = clock(5000);
    let s = open(dir.path(), &c);
    let f = pairs(&[("amount", "10")]);
    let a = s
        .xadd(b"pay", &AddArgs::new(&f).idmp(b"producer-1", b"msg-1"))?
        .expect("added");
    assert!(!a.duplicate);
    c.advance(10);
    let b = s
        .xadd(b"pay", &AddArgs::new(&f).idmp(b"producer-1", b"msg-1"))?
        .expect("dup");
    assert_eq!(
        b,
        eddy::Added {
            id: a.id,
            duplicate: true
        }
    );
    // Another producer with the same message id is a different key.
    let other = s
        .xadd(b"pay", &AddArgs::new(&f).idmp(b"producer-2", b"msg-1"))?
        .expect("added");
    assert!(!other.duplicate);
    assert_eq!(s.xlen(b"pay")?, 2);
    drop(s);
    let s = open(dir.path(), &c);
    let again = s
        .xadd(b"pay", &AddArgs::new(&f).idmp(b"producer-1", b"msg-1"))?
        .expect("dup");
    assert_eq!(again.id, a.id);
    assert!(again.duplicate);
    s.checkpoint()?;
    drop(s);
    let s = open(dir.path(), &c);
    assert!(
        s.xadd(b"pay", &AddArgs::new(&f).idmp(b"producer-1", b"msg-1"))?
            .expect("dup")
            .duplicate
    );
    let info = s.xinfo_stream(b"pay")?;
    assert_eq!(
        (info.pids_tracked, info.iids_tracked, info.iids_added),
        (2, 2, 2)
    );
    Ok(())
}

#[test]
fn idempotency_window_expires_by_time_and_capacity() -> Result<(), Error> {
    let dir = tempfile::tempdir().expect("tempdir");
    let c = clock(1_000_000);
    let s = open(dir.path(), &c);
    let f = pairs(&[("x", "1")]);
    s.xadd(b"s", &AddArgs::new(&f).idmp(b"p", b"m"))?;
    s.set_idmp_config(
        b"s",
        IdmpConfig {
            duration_s: 5,
            max_size: 2,
        },
    )?;
    // XCFGSET forgets what was recorded.
    assert!(
        !s.xadd(b"s", &AddArgs::new(&f).idmp(b"p", b"m"))?
            .expect("added")
            .duplicate
    );
    c.advance(6_000);
    assert!(
        !s.xadd(b"s", &AddArgs::new(&f).idmp(b"p", b"m"))?
            .expect("expired")
            .duplicate
    );
    for m in [&b"m2"[..], b"m3"] {
        s.xadd(b"s", &AddArgs::new(&f).idmp(b"p", m))?;
    }
    // Capacity 2: "m" was evicted by m2 and m3.
    assert!(
        !s.xadd(b"s", &AddArgs::new(&f).idmp(b"p", b"m"))?
            .expect("evicted")
            .duplicate
    );
    assert!(matches!(
        s.set_idmp_config(
            b"s",
            IdmpConfig {
                duration_s: 0,
                max_size: 1
            }
        ),
        Err(Error::InvalidIdmpDuration)
    ));
    assert!(matches!(
        s.set_idmp_config(
            b"nokey",
            IdmpConfig {
                duration_s: 1,
                max_size: 1
            }
        ),
        Err(Error::NoSuchKey)
    ));
    Ok(())
}

#[test]
fn idempotency_needs_an_auto_id() {
    let dir = tempfile::tempdir().expect("tempdir");
    let s = open(dir.path(), &clock(1));
    let f = pairs(&[("x", "1")]);
    let args = AddArgs::new(&f)
        .idmp(b"p", b"m")
        .id(IdSpec::Explicit(StreamId::new(5, 0)));
    assert!(matches!(s.xadd(b"s", &args), Err(Error::IdmpNeedsAutoId)));
}

#[test]
fn batches_are_one_atomic_write() -> Result<(), Error> {
    let dir = tempfile::tempdir().expect("tempdir");
    let s = open(dir.path(), &clock(7));
    let f = pairs(&[("n", "1")]);
    let items: Vec<AppendItem<'_>> = (0..500)
        .map(|_| AppendItem {
            id: IdSpec::Auto,
            fields: &f,
            idmp: None,
        })
        .collect();
    let ids = s.xadd_batch(b"b", &items)?;
    assert_eq!(ids.first(), Some(&StreamId::new(7, 0)));
    assert_eq!(ids.last(), Some(&StreamId::new(7, 499)));
    // A refused entry refuses the whole batch.
    let bad = [
        AppendItem {
            id: IdSpec::Auto,
            fields: &f,
            idmp: None,
        },
        AppendItem {
            id: IdSpec::Explicit(StreamId::new(1, 0)),
            fields: &f,
            idmp: None,
        },
    ];
    assert!(matches!(
        s.xadd_batch(b"b", &bad),
        Err(Error::IdNotIncreasing)
    ));
    assert_eq!(s.xlen(b"b")?, 500);
    assert!(matches!(
        s.xadd_batch(b"new", &bad),
        Err(Error::IdNotIncreasing)
    ));
    assert_eq!(s.exists(&[b"new"]), 0);
    drop(s);
    let s = open(dir.path(), &clock(7));
    let all = s.xrange(b"b", IdRange::ALL, None)?;
    assert_eq!(engine_util::ids(&all), ids);
    Ok(())
}
