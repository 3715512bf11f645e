//! Consumer groups, one test per rule. Expected values (error texts,
//! entries-read / lag, FORCE counts) were taken from redis-server 7.0 fed
//! the same commands; where eddy follows 7.2 or goes beyond Redis the test
//! says so.

mod engine_util;
mod groups_util;

use eddy::StreamId;
use eddy::group::{GroupStart, PendingQuery, ReadFrom};
use engine_util::*;
use groups_util::*;

#[test]
fn create_needs_the_key_unless_mkstream_and_refuses_duplicates() -> R {
    let dir = tempfile::tempdir().expect("tempdir");
    let s = open(dir.path(), &clock(1000));
    let e = s
        .xgroup_create(b"s", b"g", GroupStart::LastId, false, None)
        .unwrap_err();
    assert_eq!(
        e.to_string(),
        "ERR The XGROUP subcommand requires the key to exist. Note that for CREATE you may want to use the MKSTREAM option to create an empty stream automatically."
    );
    s.xgroup_create(b"s", b"g", GroupStart::LastId, true, None)?;
    assert_eq!(s.key_type(b"s"), "stream");
    let e = s
        .xgroup_create(b"s", b"g", GroupStart::Id(StreamId::MIN), false, None)
        .unwrap_err();
    assert_eq!(
        e.to_string(),
        "BUSYGROUP Consumer Group name already exists"
    );
    let e = s
        .xgroup_create(b"s", b"h", GroupStart::LastId, false, Some(-2))
        .unwrap_err();
    assert_eq!(
        e.to_string(),
        "ERR value for ENTRIESREAD must be positive or -1"
    );
    Ok(())
}

#[test]
fn group_admin_errors_name_key_and_group() -> R {
    let dir = tempfile::tempdir().expect("tempdir");
    let s = open(dir.path(), &clock(1000));
    stream_of(&s, 1)?;
    let e = s
        .xgroup_setid(b"s", b"g", GroupStart::LastId, None)
        .unwrap_err();
    assert_eq!(
        e.to_string(),
        "NOGROUP No such consumer group 'g' for key name 's'"
    );
    let e = s.xgroup_createconsumer(b"s", b"g", b"c").unwrap_err();
    assert_eq!(
        e.to_string(),
        "NOGROUP No such consumer group 'g' for key name 's'"
    );
    let e = s
        .xreadgroup(b"g", b"c", &[(b"s", ReadFrom::New)], None, false)
        .unwrap_err();
    assert_eq!(
        e.to_string(),
        "NOGROUP No such key 's' or consumer group 'g' in XREADGROUP with GROUP option"
    );
    let e = s.xpending_summary(b"nokey", b"g").unwrap_err();
    assert_eq!(
        e.to_string(),
        "NOGROUP No such key 'nokey' or consumer group 'g'"
    );
    let e = s.xinfo_consumers(b"s", b"g").unwrap_err();
    assert_eq!(
        e.to_string(),
        "NOGROUP No such consumer group 'g' for key name 's'"
    );
    assert_eq!(
        s.xinfo_consumers(b"nokey", b"g").unwrap_err().to_string(),
        "ERR no such key"
    );
    assert!(!s.xgroup_destroy(b"s", b"g")?);
    Ok(())
}

#[test]
fn read_new_delivers_once_and_advances_last_delivered_id() -> R {
    let dir = tempfile::tempdir().expect("tempdir");
    let c = clock(5000);
    let s = open(dir.path(), &c);
    stream_of(&s, 5)?;
    s.xgroup_create(b"s", b"g", GroupStart::Id(StreamId::MIN), false, None)?;
    assert_eq!(read_new(&s, "alice", 2)?, vec![id(1, 0), id(2, 0)]);
    assert_eq!(read_new(&s, "bob", 10)?, vec![id(3, 0), id(4, 0), id(5, 0)]);
    assert!(read_new(&s, "carol", 10)?.is_empty());
    let info = s.xinfo_groups(b"s")?;
    assert_eq!(info[0].last_delivered_id, id(5, 0));
    assert_eq!(info[0].consumers, 3, "carol was created by an empty read");
    assert_eq!(info[0].pending, 5);
    let rows = s.xpending(b"s", b"g", &all(None))?;
    assert_eq!(rows[0].consumer, b"alice");
    assert_eq!(rows[0].delivery_count, 1);
    assert_eq!(rows[4].consumer, b"bob");
    // An empty `>` read leaves the stream out of the reply.
    let r = s.xreadgroup(b"g", b"alice", &[(b"s", ReadFrom::New)], None, false)?;
    assert!(r.is_empty());
    Ok(())
}

#[test]
fn history_read_returns_own_entries_bumps_counts_and_shows_deleted_as_nil() -> R {
    let dir = tempfile::tempdir().expect("tempdir");
    let c = clock(5000);
    let s = open(dir.path(), &c);
    stream_of(&s, 4)?;
    s.xgroup_create(b"s", b"g", GroupStart::Id(StreamId::MIN), false, None)?;
    read_new(&s, "alice", 3)?;
    read_new(&s, "bob", 1)?;
    s.xdel(b"s", &[id(2, 0)])?;
    c.advance(10);
    let r = s.xreadgroup(
        b"g",
        b"alice",
        &[(b"s", ReadFrom::After(StreamId::MIN))],
        None,
        false,
    )?;
    let got: Vec<(StreamId, bool)> = r[0]
        .entries
        .iter()
        .map(|e| (e.id, e.entry.is_some()))
        .collect();
    assert_eq!(
        got,
        vec![(id(1, 0), true), (id(2, 0), false), (id(3, 0), true)]
    );
    let rows = s.xpending(b"s", b"g", &all(Some(b"alice")))?;
    let counts: Vec<u64> = rows.iter().map(|r| r.delivery_count).collect();
    assert_eq!(counts, vec![2, 1, 2], "deleted entries are not bumped");
    assert_eq!(rows[0].idle, 0);
    // After an ID and with COUNT.
    let r = s.xreadgroup(
        b"g",
        b"alice",
        &[(b"s", ReadFrom::After(id(1, 0)))],
        Some(1),
        false,
    )?;
    assert_eq!(r[0].entries.len(), 1);
    assert_eq!(r[0].entries[0].id, id(2, 0));
    // A consumer with no history still gets its stream back, empty.
    let r = s.xreadgroup(
        b"g",
        b"zed",
        &[(b"s", ReadFrom::After(StreamId::MIN))],
        None,
        false,
    )?;
    assert_eq!(r.len(), 1);
    assert!(r[0].entries.is_empty());
    Ok(())
}

#[test]
fn noack_delivers_without_pending_entries() -> R {
    let dir = tempfile::tempdir().expect("tempdir");
    let s = open(dir.path(), &clock(5000));
    stream_of(&s, 3)?;
    s.xgroup_create(b"s", b"g", GroupStart::Id(StreamId::MIN), false, None)?;
    let r = s.xreadgroup(b"g", b"c", &[(b"s", ReadFrom::New)], None, true)?;
    assert_eq!(r[0].entries.len(), 3);
    let sum = s.xpending_summary(b"s", b"g")?;
    assert_eq!((sum.count, sum.first, sum.last), (0, None, None));
    assert!(sum.consumers.is_empty());
    assert_eq!(s.xinfo_groups(b"s")?[0].last_delivered_id, id(3, 0));
    Ok(())
}

#[test]
fn xack_removes_pending_and_a_missing_group_is_zero() -> R {
    let dir = tempfile::tempdir().expect("tempdir");
    let s = open(dir.path(), &clock(5000));
    stream_of(&s, 3)?;
    s.xgroup_create(b"s", b"g", GroupStart::Id(StreamId::MIN), false, None)?;
    read_new(&s, "c", 10)?;
    assert_eq!(s.xack(b"nokey", b"g", &[id(1, 0)])?, 0);
    assert_eq!(s.xack(b"s", b"nog", &[id(1, 0)])?, 0);
    assert_eq!(s.xack(b"s", b"g", &[id(1, 0), id(1, 0), id(9, 0)])?, 1);
    assert_eq!(s.xack(b"s", b"g", &[id(1, 0)])?, 0);
    let sum = s.xpending_summary(b"s", b"g")?;
    assert_eq!(sum.count, 2);
    assert_eq!(sum.consumers, vec![(b"c".to_vec(), 2)]);
    Ok(())
}

#[test]
fn xpending_extended_filters_by_idle_range_count_and_consumer() -> R {
    let dir = tempfile::tempdir().expect("tempdir");
    let c = clock(5000);
    let s = open(dir.path(), &c);
    stream_of(&s, 6)?;
    s.xgroup_create(b"s", b"g", GroupStart::Id(StreamId::MIN), false, None)?;
    read_new(&s, "a", 3)?;
    c.advance(100);
    read_new(&s, "b", 3)?;
    c.advance(50);
    let q = PendingQuery {
        min_idle: 120,
        ..all(None)
    };
    let rows = s.xpending(b"s", b"g", &q)?;
    assert_eq!(
        rows.iter().map(|r| r.id).collect::<Vec<_>>(),
        vec![id(1, 0), id(2, 0), id(3, 0)]
    );
    assert_eq!(rows[0].idle, 150);
    let q = PendingQuery {
        start: id(2, 0),
        end: id(5, 0),
        count: 2,
        ..all(None)
    };
    assert_eq!(
        s.xpending(b"s", b"g", &q)?
            .iter()
            .map(|r| r.id)
            .collect::<Vec<_>>(),
        vec![id(2, 0), id(3, 0)]
    );
    assert_eq!(s.xpending(b"s", b"g", &all(Some(b"b")))?.len(), 3);
    assert!(s.xpending(b"s", b"g", &all(Some(b"nobody")))?.is_empty());
    let q = PendingQuery {
        count: -5,
        ..all(None)
    };
    assert!(s.xpending(b"s", b"g", &q)?.is_empty());
    Ok(())
}

#[test]
fn delconsumer_returns_pending_and_drops_them_createconsumer_is_idempotent() -> R {
    let dir = tempfile::tempdir().expect("tempdir");
    let s = open(dir.path(), &clock(5000));
    stream_of(&s, 3)?;
    s.xgroup_create(b"s", b"g", GroupStart::Id(StreamId::MIN), false, None)?;
    assert!(s.xgroup_createconsumer(b"s", b"g", b"c")?);
    assert!(!s.xgroup_createconsumer(b"s", b"g", b"c")?);
    read_new(&s, "c", 2)?;
    assert_eq!(s.xgroup_delconsumer(b"s", b"g", b"c")?, 2);
    assert_eq!(s.xgroup_delconsumer(b"s", b"g", b"c")?, 0);
    assert_eq!(s.xpending_summary(b"s", b"g")?.count, 0);
    Ok(())
}

#[test]
fn xreadgroup_checks_every_stream_before_reading_any() -> R {
    let dir = tempfile::tempdir().expect("tempdir");
    let s = open(dir.path(), &clock(5000));
    stream_of(&s, 2)?;
    s.xgroup_create(b"s", b"g", GroupStart::Id(StreamId::MIN), false, None)?;
    let streams: [(&[u8], ReadFrom); 2] = [(b"s", ReadFrom::New), (b"other", ReadFrom::New)];
    let e = s.xreadgroup(b"g", b"c", &streams, None, false).unwrap_err();
    assert_eq!(
        e.to_string(),
        "NOGROUP No such key 'other' or consumer group 'g' in XREADGROUP with GROUP option"
    );
    assert_eq!(
        s.xpending_summary(b"s", b"g")?.count,
        0,
        "nothing delivered"
    );
    assert_eq!(s.xinfo_groups(b"s")?[0].consumers, 0, "no consumer created");
    Ok(())
}

#[test]
fn xinfo_stream_full_lists_pending_entries_up_to_count() -> R {
    let dir = tempfile::tempdir().expect("tempdir");
    let s = open(dir.path(), &clock(5000));
    stream_of(&s, 5)?;
    s.xgroup_create(b"s", b"g", GroupStart::Id(StreamId::MIN), false, None)?;
    read_new(&s, "a", 3)?;
    read_new(&s, "b", 2)?;
    let full = s.xinfo_groups_full(b"s", 2)?;
    let g = &full[0];
    assert_eq!((g.name.as_slice(), g.pel_count), (&b"g"[..], 5));
    assert_eq!(g.last_delivered_id, id(5, 0));
    assert_eq!((g.entries_read, g.lag), (Some(5), Some(0)));
    let pending: Vec<(StreamId, &[u8], u64, u64)> = g
        .pending
        .iter()
        .map(|(i, c, t, n)| (*i, c.as_slice(), *t, *n))
        .collect();
    assert_eq!(
        pending,
        vec![
            (id(1, 0), &b"a"[..], 5000, 1),
            (id(2, 0), &b"a"[..], 5000, 1)
        ]
    );
    assert_eq!(g.consumers.len(), 2);
    assert_eq!(
        (g.consumers[0].pel_count, g.consumers[0].pending.len()),
        (3, 2)
    );
    assert_eq!(
        g.consumers[1].pending,
        vec![(id(4, 0), 5000, 1), (id(5, 0), 5000, 1)]
    );
    assert_eq!(
        (g.consumers[1].seen_time, g.consumers[1].active_time),
        (5000, 5000)
    );
    assert_eq!(s.xinfo_groups_full(b"s", 0)?[0].pending.len(), 5);
    Ok(())
}
