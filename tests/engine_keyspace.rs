//! Key space: DEL, EXISTS, TYPE, KEYS, SCAN, DBSIZE, FLUSHALL, RENAME,
//! and that each survives a restart.

mod engine_util;

use eddy::{AddArgs, Error, IdRange};
use engine_util::*;

fn add(s: &eddy::Store, key: &str) -> Result<(), Error> {
    let f = pairs(&[("k", "v")]);
    s.xadd(key.as_bytes(), &AddArgs::new(&f))?;
    Ok(())
}

#[test]
fn key_space_commands() -> Result<(), Error> {
    let dir = tempfile::tempdir().expect("tempdir");
    let c = clock(1);
    let s = open(dir.path(), &c);
    for k in ["user:1", "user:2", "order:1", "h[x]"] {
        add(&s, k)?;
    }
    assert_eq!(s.dbsize(), 4);
    assert_eq!(s.exists(&[b"user:1", b"user:1", b"nope"]), 2);
    assert_eq!(s.key_type(b"user:1"), "stream");
    assert_eq!(s.key_type(b"nope"), "none");
    let mut users = s.keys(b"user:*");
    users.sort();
    assert_eq!(users, vec![b"user:1".to_vec(), b"user:2".to_vec()]);
    assert_eq!(s.keys(b"h\\[x\\]"), vec![b"h[x]".to_vec()]);
    assert_eq!(s.keys(b"user:[2-9]"), vec![b"user:2".to_vec()]);
    assert_eq!(s.del(&[b"user:2", b"user:2", b"nope"])?, 1);
    s.rename(b"user:1", b"order:1")?;
    assert_eq!(s.dbsize(), 2);
    assert!(matches!(s.rename(b"nope", b"x"), Err(Error::NoSuchKey)));
    assert!(s.create_stream(b"empty")?);
    assert!(!s.create_stream(b"empty")?);
    assert_eq!(s.xlen(b"empty")?, 0);
    drop(s);
    let s = open(dir.path(), &c);
    let mut keys = s.keys(b"*");
    keys.sort();
    assert_eq!(
        keys,
        vec![b"empty".to_vec(), b"h[x]".to_vec(), b"order:1".to_vec()]
    );
    // order:1 now holds what user:1 held: one entry.
    assert_eq!(s.xrange(b"order:1", IdRange::ALL, None)?.len(), 1);
    s.flushall()?;
    assert_eq!(s.dbsize(), 0);
    drop(s);
    let s = open(dir.path(), &c);
    assert_eq!(s.dbsize(), 0);
    Ok(())
}

#[test]
fn scan_walks_every_key_with_a_cursor() -> Result<(), Error> {
    let dir = tempfile::tempdir().expect("tempdir");
    let s = open(dir.path(), &clock(1));
    for i in 0..25 {
        add(&s, &format!("k{i}"))?;
    }
    let mut cursor = 0;
    let mut seen = Vec::new();
    loop {
        let (next, keys) = s.scan(cursor, Some(b"k*"), Some("stream"), 7);
        seen.extend(keys);
        if next == 0 {
            break;
        }
        cursor = next;
    }
    seen.sort();
    seen.dedup();
    assert_eq!(seen.len(), 25);
    Ok(())
}
