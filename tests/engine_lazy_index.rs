//! Restarts from a checkpoint whose block indexes load packed and decode on
//! first use: after each reopen (clean, or dropped without closing), every
//! read and write answers exactly as a twin store that never restarted, in
//! whichever order the index is first touched (by a read or by a write), and
//! a checkpoint written before the index was ever touched reopens the same.

mod engine_util;

use std::fmt::Write as _;
use std::path::Path;
use std::sync::Arc;

use eddy::group::{GroupStart, ReadFrom};
use eddy::{
    AddArgs, AppendItem, Error, IdRange, IdSpec, ManualClock, NodeLimits, Store, StreamId, Trim,
    TrimStrategy,
};
use engine_util::*;

/// Small blocks, so a few thousand entries make hundreds of them.
const LIMITS: NodeLimits = NodeLimits {
    max_bytes: 4096,
    max_entries: 8,
};
const KEYS: [&[u8]; 2] = [b"s", b"t"];

fn open(dir: &Path, c: &Arc<ManualClock>) -> Store {
    open_with_limits(dir, c, LIMITS)
}

/// Entries in batches and one by one, with two field layouts, XDELs, and a
/// group with pending and acknowledged entries.
fn build(s: &Store) -> Result<(), Error> {
    let a = pairs(&[("sensor", "t1"), ("value", "21.5")]);
    let b = pairs(&[("other", "x"), ("value", "7"), ("more", "yes")]);
    for round in 0..40u64 {
        let f = if round % 3 == 0 { &b } else { &a };
        let items: Vec<AppendItem<'_>> = (0..50)
            .map(|_| AppendItem {
                id: IdSpec::Auto,
                fields: f,
                idmp: None,
            })
            .collect();
        s.xadd_batch(b"s", &items)?;
        s.xadd(b"t", &AddArgs::new(&a))?;
    }
    let dels: Vec<StreamId> = (0..2000).step_by(37).map(|i| id(1, i)).collect();
    s.xdel(b"s", &dels)?;
    s.xgroup_create(b"s", b"g", GroupStart::Id(StreamId::MIN), false, None)?;
    let read = s.xreadgroup(b"g", b"c1", &[(b"s", ReadFrom::New)], Some(120), false)?;
    let acks: Vec<StreamId> = read[0].entries.iter().step_by(3).map(|e| e.id).collect();
    s.xack(b"s", b"g", &acks)?;
    s.xreadgroup(b"g", b"c2", &[(b"s", ReadFrom::New)], Some(30), false)?;
    Ok(())
}

/// Writes touching the head, middle and tail blocks.
fn mutate(s: &Store, round: u64) -> Result<(), Error> {
    let f = pairs(&[("sensor", "t9"), ("value", "1")]);
    for _ in 0..25 {
        s.xadd(b"s", &AddArgs::new(&f))?;
    }
    s.xdel(b"s", &[id(1, 500 + round), id(1, 1990 - round)])?;
    let keep = 1900 - 100 * round;
    s.xtrim(b"s", &Trim::exact(TrimStrategy::MaxLen(keep)))?;
    s.xtrim(
        b"t",
        &Trim {
            strategy: TrimStrategy::MaxLen(30 - round),
            approx: true,
            limit: None,
        },
    )?;
    let read = s.xreadgroup(b"g", b"c1", &[(b"s", ReadFrom::New)], Some(10), false)?;
    let acks: Vec<StreamId> = read.iter().flat_map(|r| &r.entries).map(|e| e.id).collect();
    s.xack(b"s", b"g", &acks[..acks.len() / 2])?;
    Ok(())
}

/// Everything a client can see of both streams, as text.
fn observe(s: &Store) -> Result<String, Error> {
    let mut o = String::new();
    for key in KEYS {
        let all = s.xrange(key, IdRange::ALL, None)?;
        let mid = all.get(all.len() / 2).map_or(StreamId::MIN, |e| e.id());
        let from_mid = IdRange {
            start: mid,
            end: StreamId::MAX,
        };
        let to_mid = IdRange {
            start: StreamId::MIN,
            end: mid,
        };
        writeln!(o, "len {}", s.xlen(key)?).ok();
        writeln!(o, "all {all:?}").ok();
        writeln!(o, "rev {:?}", s.xrevrange(key, IdRange::ALL, None)?).ok();
        writeln!(o, "mid {:?}", s.xrange(key, from_mid, Some(7))?).ok();
        writeln!(o, "revmid {:?}", s.xrevrange(key, to_mid, Some(9))?).ok();
        writeln!(o, "read {:?}", s.xread(&[(key, mid)], Some(5))?).ok();
        writeln!(o, "last {:?}", s.last_entry(key)?).ok();
        writeln!(o, "info {:?}", s.xinfo_stream(key)?).ok();
        writeln!(o, "full {:?}", s.xinfo_entries(key, 0)?).ok();
        writeln!(o, "groups {:?}", s.xinfo_groups_full(key, 0)?).ok();
    }
    writeln!(o, "pending {:?}", s.xpending_summary(b"s", b"g")?).ok();
    Ok(o)
}

#[test]
fn reopened_store_answers_like_one_that_never_restarted() -> Result<(), Error> {
    let (da, db) = (tempfile::tempdir(), tempfile::tempdir());
    let (da, db) = (da.expect("tempdir"), db.expect("tempdir"));
    let (ca, cb) = (clock(1), clock(1));
    let mut a = open(da.path(), &ca);
    let twin = open(db.path(), &cb);
    build(&a)?;
    build(&twin)?;
    assert_eq!(observe(&a)?, observe(&twin)?);
    for round in 0..6u64 {
        // Clean restarts from a checkpoint, and (odd rounds) a drop without
        // closing after writes past the checkpoint, so the tail is replayed
        // onto the packed index.
        a.checkpoint()?;
        if round % 2 == 1 {
            mutate(&a, round)?;
            mutate(&twin, round)?;
        }
        drop(a);
        a = open(da.path(), &ca);
        if round == 2 {
            // A checkpoint before anything touched the index, then reopen.
            a.checkpoint()?;
            drop(a);
            a = open(da.path(), &ca);
        }
        if round % 3 == 0 {
            // First touch by writes (the packed blocks are taken over).
            mutate(&a, round)?;
            mutate(&twin, round)?;
            assert_eq!(observe(&a)?, observe(&twin)?, "round {round}");
        } else {
            // First touch by reads, then writes on the decoded blocks.
            assert_eq!(observe(&a)?, observe(&twin)?, "round {round}");
            mutate(&a, round)?;
            mutate(&twin, round)?;
            assert_eq!(observe(&a)?, observe(&twin)?, "round {round}");
        }
    }
    Ok(())
}

#[test]
fn untouched_index_survives_repeated_checkpoints() -> Result<(), Error> {
    let dir = tempfile::tempdir().expect("tempdir");
    let c = clock(1);
    let s = open(dir.path(), &c);
    build(&s)?;
    let before = observe(&s)?;
    let first = s.checkpoint()?;
    drop(s);
    for _ in 0..3 {
        let s = open(dir.path(), &c);
        assert_eq!(s.xlen(b"s")?, 2000 - 55);
        let again = s.checkpoint()?;
        assert_eq!(again.position, first.position);
        assert_eq!(
            again.bytes, first.bytes,
            "the packed index is written back as is"
        );
        s.close()?;
    }
    let s = open(dir.path(), &c);
    assert_eq!(observe(&s)?, before);
    Ok(())
}

#[test]
fn checkpoint_of_an_untouched_index_keeps_the_segments_it_needs() -> Result<(), Error> {
    let dir = tempfile::tempdir().expect("tempdir");
    let c = clock(1);
    let s = open(dir.path(), &c);
    let f = pairs(&[("sensor", "t1"), ("value", "21.5"), ("note", "abcdefghij")]);
    let items: Vec<AppendItem<'_>> = (0..1000)
        .map(|_| AppendItem {
            id: IdSpec::Auto,
            fields: &f,
            idmp: None,
        })
        .collect();
    for _ in 0..60 {
        s.xadd_batch(b"s", &items)?;
    }
    assert!(
        s.wal().segments().len() >= 3,
        "the stream spans several segments"
    );
    s.xtrim(b"s", &Trim::exact(TrimStrategy::MaxLen(59_000)))?;
    let first = s.xrange(b"s", IdRange::ALL, Some(1))?[0].id();
    s.checkpoint()?;
    let segments = s.wal().segments().len();
    drop(s);
    // Reopen and checkpoint before anything touches the index: the lowest
    // address still needed comes from the packed index, so the same
    // segments stay.
    let s = open(dir.path(), &c);
    s.checkpoint()?;
    assert_eq!(s.wal().segments().len(), segments);
    drop(s);
    let s = open(dir.path(), &c);
    let all = s.xrange(b"s", IdRange::ALL, None)?;
    assert_eq!(all.len(), 59_000);
    assert_eq!(all[0].id(), first);
    Ok(())
}
