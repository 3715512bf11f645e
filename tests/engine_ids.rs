//! XADD ID rules, one test per rule (Redis 7 semantics).

mod engine_util;

use eddy::{AddArgs, Error, IdRange, IdSpec, StreamId};
use engine_util::*;

fn add(s: &eddy::Store, key: &str, spec: &str) -> Result<StreamId, Error> {
    let f = pairs(&[("f", "v")]);
    let spec: IdSpec = spec.parse()?;
    Ok(s.xadd(key.as_bytes(), &AddArgs::new(&f).id(spec))?
        .expect("created")
        .id)
}

#[test]
fn auto_id_uses_the_clock_and_stays_monotonic_when_it_goes_back() -> Result<(), Error> {
    let dir = tempfile::tempdir().expect("tempdir");
    let c = clock(1000);
    let s = open(dir.path(), &c);
    assert_eq!(add(&s, "s", "*")?, id(1000, 0));
    assert_eq!(add(&s, "s", "*")?, id(1000, 1));
    c.set(500);
    assert_eq!(add(&s, "s", "*")?, id(1000, 2));
    c.set(2000);
    assert_eq!(add(&s, "s", "*")?, id(2000, 0));
    Ok(())
}

#[test]
fn ms_star_picks_the_next_sequence() -> Result<(), Error> {
    let dir = tempfile::tempdir().expect("tempdir");
    let s = open(dir.path(), &clock(1));
    assert_eq!(add(&s, "s", "0-*")?, id(0, 1));
    assert_eq!(add(&s, "s", "0-*")?, id(0, 2));
    assert_eq!(add(&s, "s", "5-*")?, id(5, 0));
    assert!(matches!(add(&s, "s", "4-*"), Err(Error::IdNotIncreasing)));
    add(&s, "t", "7-18446744073709551615")?;
    assert!(matches!(add(&s, "t", "7-*"), Err(Error::IdNotIncreasing)));
    assert_eq!(add(&s, "t", "8-*")?, id(8, 0));
    Ok(())
}

#[test]
fn explicit_ids_must_exceed_the_last_even_if_deleted() -> Result<(), Error> {
    let dir = tempfile::tempdir().expect("tempdir");
    let s = open(dir.path(), &clock(1));
    assert_eq!(add(&s, "s", "5")?, id(5, 0));
    assert_eq!(add(&s, "s", "5-3")?, id(5, 3));
    assert_eq!(s.xdel(b"s", &[id(5, 3)])?, 1);
    assert!(matches!(add(&s, "s", "5-3"), Err(Error::IdNotIncreasing)));
    assert!(matches!(add(&s, "s", "5-2"), Err(Error::IdNotIncreasing)));
    assert_eq!(add(&s, "s", "5-4")?, id(5, 4));
    assert_eq!(s.xlen(b"s")?, 2);
    Ok(())
}

#[test]
fn zero_id_is_refused_even_for_a_missing_key() -> Result<(), Error> {
    let dir = tempfile::tempdir().expect("tempdir");
    let s = open(dir.path(), &clock(1));
    assert!(matches!(add(&s, "s", "0-0"), Err(Error::IdZero)));
    assert!(matches!(add(&s, "s", "0"), Err(Error::IdZero)));
    assert_eq!(s.exists(&[b"s"]), 0);
    assert_eq!(add(&s, "s", "0-1")?, id(0, 1));
    Ok(())
}

#[test]
fn exhausted_stream_refuses_appends() -> Result<(), Error> {
    let dir = tempfile::tempdir().expect("tempdir");
    let s = open(dir.path(), &clock(1));
    add(&s, "s", "1-1")?;
    s.xsetid(b"s", StreamId::MAX, None, None)?;
    assert!(matches!(add(&s, "s", "*"), Err(Error::IdExhausted)));
    assert_eq!(
        Error::IdExhausted.to_string(),
        "ERR The stream has exhausted the last possible ID, unable to add more items"
    );
    Ok(())
}

#[test]
fn nomkstream_does_not_create_the_key() -> Result<(), Error> {
    let dir = tempfile::tempdir().expect("tempdir");
    let s = open(dir.path(), &clock(1));
    let f = pairs(&[("a", "1")]);
    let mut args = AddArgs::new(&f);
    args.nomkstream = true;
    assert_eq!(s.xadd(b"s", &args)?, None);
    assert_eq!(s.exists(&[b"s"]), 0);
    add(&s, "s", "*")?;
    assert!(s.xadd(b"s", &args)?.is_some());
    assert_eq!(s.xlen(b"s")?, 2);
    Ok(())
}

#[test]
fn entries_keep_field_order_and_need_at_least_one_pair() -> Result<(), Error> {
    let dir = tempfile::tempdir().expect("tempdir");
    let s = open(dir.path(), &clock(1));
    let f = pairs(&[("z", "1"), ("a", "2"), ("z", "3")]);
    s.xadd(b"s", &AddArgs::new(&f))?;
    let got = s.xrange(b"s", IdRange::ALL, None)?;
    assert_eq!(
        got[0].to_vec(),
        vec![
            (b"z".to_vec(), b"1".to_vec()),
            (b"a".to_vec(), b"2".to_vec()),
            (b"z".to_vec(), b"3".to_vec())
        ]
    );
    assert!(matches!(
        s.xadd(b"s", &AddArgs::new(&[])),
        Err(Error::NoFields)
    ));
    assert_eq!(
        Error::NoFields.to_string(),
        "ERR wrong number of arguments for 'xadd' command"
    );
    Ok(())
}

#[test]
fn error_lines_match_redis() {
    assert_eq!(
        Error::IdNotIncreasing.to_string(),
        "ERR The ID specified in XADD is equal or smaller than the target stream top item"
    );
    assert_eq!(
        Error::IdZero.to_string(),
        "ERR The ID specified in XADD must be greater than 0-0"
    );
    assert_eq!(
        Error::WrongType.to_string(),
        "WRONGTYPE Operation against a key holding the wrong kind of value"
    );
    assert_eq!(
        Error::InvalidStreamId.to_string(),
        "ERR Invalid stream ID specified as stream command argument"
    );
}
