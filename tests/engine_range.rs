//! Range reads, XREAD, XDEL, XSETID and XINFO STREAM, checked against what
//! redis-server 7.0 answers for the same commands.

mod engine_util;

use eddy::stream::id::{parse_range_end, parse_range_start};
use eddy::stream::trim::{Trim, TrimStrategy};
use eddy::{AddArgs, Error, IdRange, IdSpec, NodeLimits, Store, StreamId};
use engine_util::*;

fn add(s: &Store, key: &[u8], ms: u64, seq: u64) -> Result<(), Error> {
    let f = pairs(&[("a", "1")]);
    s.xadd(key, &AddArgs::new(&f).id(IdSpec::Explicit(id(ms, seq))))?;
    Ok(())
}

fn range(s: &Store, start: &str, end: &str, count: Option<usize>) -> Result<Vec<StreamId>, Error> {
    let r = IdRange::parse(start, end)?;
    Ok(ids(&s.xrange(b"t", r, count)?))
}

fn four(dir: &std::path::Path) -> Result<Store, Error> {
    let s = open_with_limits(
        dir,
        &clock(1),
        NodeLimits {
            max_bytes: 4096,
            max_entries: 2,
        },
    );
    for (ms, seq) in [(5, 0), (5, 1), (5, 2), (6, 0)] {
        add(&s, b"t", ms, seq)?;
    }
    Ok(s)
}

#[test]
fn exclusive_and_incomplete_bounds() -> Result<(), Error> {
    let dir = tempfile::tempdir().expect("tempdir");
    let s = four(dir.path())?;
    // Redis: XRANGE t (5 +  ->  5-1 5-2 6-0
    assert_eq!(
        range(&s, "(5", "+", None)?,
        vec![id(5, 1), id(5, 2), id(6, 0)]
    );
    // Redis: XRANGE t - (5  ->  5-0 5-1 5-2
    assert_eq!(
        range(&s, "-", "(5", None)?,
        vec![id(5, 0), id(5, 1), id(5, 2)]
    );
    assert_eq!(
        range(&s, "5", "5", None)?,
        vec![id(5, 0), id(5, 1), id(5, 2)]
    );
    assert_eq!(range(&s, "(5-1", "(6-0", None)?, vec![id(5, 2)]);
    assert_eq!(range(&s, "5-1", "5-1", None)?, vec![id(5, 1)]);
    assert_eq!(range(&s, "7", "5", None)?, vec![]);
    for (a, b) in [("(-", "+"), ("(+", "+"), ("-", "(-"), ("(", "+")] {
        assert!(
            matches!(IdRange::parse(a, b), Err(Error::InvalidStreamId)),
            "{a} {b}"
        );
    }
    let max = "(18446744073709551615-18446744073709551615";
    assert!(matches!(
        parse_range_start(max),
        Err(Error::InvalidStartInterval)
    ));
    assert!(matches!(
        parse_range_end("(0-0"),
        Err(Error::InvalidEndInterval)
    ));
    Ok(())
}

#[test]
fn count_edge_cases() -> Result<(), Error> {
    let dir = tempfile::tempdir().expect("tempdir");
    let s = four(dir.path())?;
    assert_eq!(range(&s, "-", "+", Some(0))?, vec![]);
    assert_eq!(range(&s, "-", "+", Some(1))?, vec![id(5, 0)]);
    assert_eq!(
        range(&s, "-", "+", Some(3))?,
        vec![id(5, 0), id(5, 1), id(5, 2)]
    );
    assert_eq!(range(&s, "-", "+", Some(100))?.len(), 4);
    let rev = ids(&s.xrevrange(b"t", IdRange::ALL, Some(2))?);
    assert_eq!(rev, vec![id(6, 0), id(5, 2)]);
    let rev = ids(&s.xrevrange(b"t", IdRange::parse("-", "(6-0")?, None)?);
    assert_eq!(rev, vec![id(5, 2), id(5, 1), id(5, 0)]);
    assert!(s.xrange(b"missing", IdRange::ALL, None)?.is_empty());
    Ok(())
}

#[test]
fn deleted_entries_are_skipped_across_blocks() -> Result<(), Error> {
    let dir = tempfile::tempdir().expect("tempdir");
    let s = open_with_limits(
        dir.path(),
        &clock(1),
        NodeLimits {
            max_bytes: 4096,
            max_entries: 3,
        },
    );
    for i in 1..=20 {
        add(&s, b"t", i, 0)?;
    }
    assert_eq!(s.xdel(b"t", &[id(3, 0), id(4, 0), id(4, 0), id(99, 0)])?, 2);
    // A block whose entries are all deleted disappears (4-6: 4 gone, 5, 6).
    assert_eq!(s.xdel(b"t", &[id(5, 0), id(6, 0)])?, 2);
    assert_eq!(s.xinfo_stream(b"t")?.radix_tree_keys, 6);
    let got = range(&s, "2", "8", None)?;
    assert_eq!(got, vec![id(2, 0), id(7, 0), id(8, 0)]);
    let rev = ids(&s.xrevrange(b"t", IdRange::parse("2", "8")?, Some(2))?);
    assert_eq!(rev, vec![id(8, 0), id(7, 0)]);
    assert_eq!(s.xlen(b"t")?, 16);
    let read = s.xread(&[(b"t", id(6, 0)), (b"missing", id(0, 0))], Some(2))?;
    assert_eq!(read.len(), 1);
    assert_eq!(ids(&read[0].1), vec![id(7, 0), id(8, 0)]);
    Ok(())
}

#[test]
fn last_entry_skips_a_deleted_tail() -> Result<(), Error> {
    let dir = tempfile::tempdir().expect("tempdir");
    let s = four(dir.path())?;
    s.xdel(b"t", &[id(6, 0)])?;
    assert_eq!(s.last_entry(b"t")?.map(|e| e.id()), Some(id(5, 2)));
    assert_eq!(s.last_id(b"t")?, Some(id(6, 0)));
    Ok(())
}

/// redis-server 7.0: XADD x 1-1, 2-1, 3-1; XDEL x 3-1; then the XSETID
/// sequence below gives OK, top-item error, entries_added error, provided
/// max_deleted error, OK, provided max_deleted error, OK, and XINFO shows
/// length 2, last-generated 3-2, max-deleted 2-2, entries-added 2.
#[test]
fn xsetid_rules() -> Result<(), Error> {
    let dir = tempfile::tempdir().expect("tempdir");
    let s = open(dir.path(), &clock(1));
    for ms in 1..=3 {
        add(&s, b"x", ms, 1)?;
    }
    s.xdel(b"x", &[id(3, 1)])?;
    s.xsetid(b"x", id(2, 5), None, None)?;
    assert!(matches!(
        s.xsetid(b"x", id(2, 0), None, None),
        Err(Error::XsetidBelowTop)
    ));
    assert!(matches!(
        s.xsetid(b"x", id(2, 1), Some(1), None),
        Err(Error::XsetidEntriesAdded)
    ));
    assert!(matches!(
        s.xsetid(b"x", id(2, 1), None, Some(id(2, 2))),
        Err(Error::XsetidBelowGivenMaxDeleted)
    ));
    s.xsetid(b"x", id(3, 0), None, Some(id(2, 2)))?;
    assert!(matches!(
        s.xsetid(b"x", id(3, 0), None, Some(id(3, 1))),
        Err(Error::XsetidBelowGivenMaxDeleted)
    ));
    s.xsetid(b"x", id(3, 2), Some(2), None)?;
    let info = s.xinfo_stream(b"x")?;
    assert_eq!(info.length, 2);
    assert_eq!(info.last_generated_id, id(3, 2));
    assert_eq!(info.max_deleted_entry_id, id(2, 2));
    assert_eq!(info.entries_added, 2);
    assert_eq!(info.recorded_first_entry_id, id(1, 1));
    assert_eq!(info.first_entry.map(|e| e.id()), Some(id(1, 1)));
    assert_eq!(info.last_entry.map(|e| e.id()), Some(id(2, 1)));
    assert!(matches!(
        s.xsetid(b"nokey", id(1, 1), None, None),
        Err(Error::NoSuchKey)
    ));
    assert!(matches!(
        s.xsetid(b"nokey", id(1, 1), None, Some(id(2, 0))),
        Err(Error::XsetidBelowGivenMaxDeleted)
    ));
    // New IDs must exceed the new last ID.
    let f = pairs(&[("a", "1")]);
    let err = s.xadd(b"x", &AddArgs::new(&f).id(IdSpec::Explicit(id(3, 2))));
    assert!(matches!(err, Err(Error::IdNotIncreasing)));
    Ok(())
}

/// redis-server 7.0: XADD e 5-0; XDEL e 5-0 -> XINFO: length 0,
/// radix-tree-keys 0, radix-tree-nodes 1, last 5-0, max-deleted 5-0,
/// entries-added 1, recorded-first 0-0; XSETID e 1-0 is accepted.
#[test]
fn xinfo_of_an_emptied_stream() -> Result<(), Error> {
    let dir = tempfile::tempdir().expect("tempdir");
    let s = open(dir.path(), &clock(1));
    add(&s, b"e", 5, 0)?;
    assert_eq!(s.xdel(b"e", &[id(5, 0)])?, 1);
    let info = s.xinfo_stream(b"e")?;
    assert_eq!(
        (
            info.length,
            info.radix_tree_keys,
            info.radix_tree_nodes,
            info.entries_added
        ),
        (0, 0, 1, 1)
    );
    assert_eq!(info.last_generated_id, id(5, 0));
    assert_eq!(info.max_deleted_entry_id, id(5, 0));
    assert_eq!(info.recorded_first_entry_id, StreamId::MIN);
    assert!(info.first_entry.is_none() && info.last_entry.is_none());
    s.xsetid(b"e", id(1, 0), None, None)?;
    assert!(matches!(s.xinfo_stream(b"nope"), Err(Error::NoSuchKey)));
    Ok(())
}

#[test]
fn xinfo_full_entries_honour_count() -> Result<(), Error> {
    let dir = tempfile::tempdir().expect("tempdir");
    let s = four(dir.path())?;
    assert_eq!(s.xinfo_entries(b"t", 2)?.len(), 2);
    assert_eq!(s.xinfo_entries(b"t", 0)?.len(), 4);
    Ok(())
}

/// Redis 7.0 lets XSETID go below a deleted tail entry; eddy then still
/// refuses IDs up to that entry, so IDs keep growing inside the index.
#[test]
fn appends_after_xsetid_below_a_deleted_tail_stay_above_it() -> Result<(), Error> {
    let dir = tempfile::tempdir().expect("tempdir");
    let s = open(dir.path(), &clock(1));
    for ms in 1..=3 {
        add(&s, b"x", ms, 1)?;
    }
    s.xdel(b"x", &[id(3, 1)])?;
    s.xsetid(b"x", id(2, 5), None, None)?;
    assert!(matches!(add(&s, b"x", 2, 6), Err(Error::IdNotIncreasing)));
    assert!(matches!(add(&s, b"x", 3, 1), Err(Error::IdNotIncreasing)));
    add(&s, b"x", 3, 2)?;
    assert_eq!(
        ids(&s.xrange(b"x", IdRange::ALL, None)?),
        vec![id(1, 1), id(2, 1), id(3, 2)]
    );
    Ok(())
}

#[test]
fn ranges_starting_inside_a_block_of_many_records() -> Result<(), Error> {
    // One record per entry, 100 entries per block: a range that starts
    // inside a block reads only the part of the back-chain it needs, and
    // must still return exactly the live entries from its start, across the
    // block boundary, with deletions and after a restart.
    let dir = tempfile::tempdir().expect("tempdir");
    let limits = NodeLimits {
        max_bytes: 1 << 20,
        max_entries: 100,
    };
    let s = open_with_limits(dir.path(), &clock(1), limits);
    for ms in 1..=250 {
        add(&s, b"t", ms, 0)?;
    }
    s.xdel(b"t", &[id(150, 0), id(151, 0)])?;
    let expect = |from: u64, n: u64| -> Vec<StreamId> {
        (from..)
            .filter(|ms| !matches!(ms, 150 | 151))
            .take_while(|ms| *ms <= 250)
            .take(n as usize)
            .map(|ms| id(ms, 0))
            .collect()
    };
    for from in [1, 2, 50, 99, 100, 101, 149, 150, 195, 200, 201, 250] {
        assert_eq!(
            range(&s, &format!("{from}"), "+", Some(10))?,
            expect(from, 10),
            "from {from}"
        );
        assert_eq!(
            range(&s, &format!("{from}"), "+", None)?,
            expect(from, 1000),
            "from {from}, no COUNT"
        );
    }
    assert_eq!(
        ids(&s.xread(&[(b"t", id(245, 0))], None)?[0].1),
        expect(246, 10)
    );
    drop(s);
    let s = open_with_limits(dir.path(), &clock(1), limits);
    assert_eq!(range(&s, "120", "+", Some(40))?, expect(120, 40));
    Ok(())
}

#[test]
fn forward_and_backward_block_reads_agree_with_interleaved_streams() -> Result<(), Error> {
    // Ranges read a block forward from its first entry or back from its last,
    // whichever looks cheaper. Two streams written alternately (so other
    // records lie between a block's records), runs of several entries per
    // record, runs of one millisecond, deletions and an exact trim floor:
    // every range must equal the full read filtered, in both directions.
    let dir = tempfile::tempdir().expect("tempdir");
    let limits = NodeLimits {
        max_bytes: 1 << 20,
        max_entries: 30,
    };
    let s = open_with_limits(dir.path(), &clock(1), limits);
    let f = pairs(&[("a", "1")]);
    for ms in 1..=60u64 {
        // Every third round writes a run of 4 entries of one millisecond.
        let n = if ms % 3 == 1 { 4 } else { 1 };
        let items: Vec<eddy::AppendItem<'_>> = (0..n)
            .map(|seq| eddy::AppendItem {
                id: IdSpec::Explicit(id(ms, seq)),
                fields: &f,
                idmp: None,
            })
            .collect();
        s.xadd_batch(b"t", &items)?;
        add(&s, b"other", ms, 0)?;
    }
    s.xdel(b"t", &[id(10, 0), id(31, 1), id(31, 2), id(55, 0)])?;
    // An exact trim inside the head block raises the trim floor.
    s.xtrim(b"t", &Trim::exact(TrimStrategy::MinId(id(4, 0))))?;
    let check = |s: &Store| -> Result<(), Error> {
        let all = ids(&s.xrange(b"t", IdRange::ALL, None)?);
        for (i, from) in all.iter().enumerate() {
            for count in [1usize, 2, 5, 10, 40] {
                let r = IdRange {
                    start: *from,
                    end: StreamId::MAX,
                };
                let want: Vec<StreamId> = all[i..].iter().take(count).copied().collect();
                assert_eq!(
                    ids(&s.xrange(b"t", r, Some(count))?),
                    want,
                    "from {from} count {count}"
                );
            }
            let r = IdRange {
                start: StreamId::MIN,
                end: *from,
            };
            let want: Vec<StreamId> = all[..=i].iter().rev().take(3).copied().collect();
            assert_eq!(ids(&s.xrevrange(b"t", r, Some(3))?), want, "rev to {from}");
        }
        Ok(())
    };
    check(&s)?;
    drop(s);
    let s = open_with_limits(dir.path(), &clock(1), limits);
    check(&s)
}
