//! Consumer groups, one test per rule (second half): claims, lag,
//! consumers, SETID, reference policies, dead letters, consumer expiry and
//! restarts. Expected values come from redis-server 7.0 fed the same
//! commands, except where a test says eddy follows 7.2 or goes beyond Redis.

mod engine_util;
mod groups_util;

use eddy::group::{
    ClaimArgs, DeadLetter, DeliveryTime, GroupPolicy, GroupStart, PendingQuery, ReadFrom,
};
use eddy::{AddArgs, Error, IdSpec, RefPolicy, Store, StreamId, Trim, TrimStrategy};
use engine_util::*;
use groups_util::*;

#[test]
fn xclaim_honours_min_idle_idle_time_retrycount_justid_force_and_lastid() -> R {
    let dir = tempfile::tempdir().expect("tempdir");
    let c = clock(10_000);
    let s = open(dir.path(), &c);
    stream_of(&s, 5)?;
    s.xgroup_create(b"s", b"g", GroupStart::Id(StreamId::MIN), false, None)?;
    read_new(&s, "a", 3)?;
    c.advance(100);
    // Not idle enough: nothing.
    let r = s.xclaim(
        b"s",
        b"g",
        b"b",
        &[id(1, 0)],
        &ClaimArgs {
            min_idle: 200,
            ..Default::default()
        },
    )?;
    assert!(r.claimed.is_empty());
    // Claimed: count bumped, idle reset, entry returned.
    let r = s.xclaim(
        b"s",
        b"g",
        b"b",
        &[id(1, 0)],
        &ClaimArgs {
            min_idle: 50,
            ..Default::default()
        },
    )?;
    assert_eq!(r.claimed.len(), 1);
    assert!(r.claimed[0].entry.is_some());
    let p = &s.xpending(b"s", b"g", &all(Some(b"b")))?[0];
    assert_eq!((p.delivery_count, p.idle), (2, 0));
    // JUSTID leaves the count; IDLE sets the idle time.
    let a = ClaimArgs {
        justid: true,
        delivery: Some(DeliveryTime::Idle(70)),
        ..Default::default()
    };
    let r = s.xclaim(b"s", b"g", b"b", &[id(2, 0)], &a)?;
    assert!(r.claimed[0].entry.is_none());
    let p = &s.xpending(
        b"s",
        b"g",
        &PendingQuery {
            start: id(2, 0),
            end: id(2, 0),
            ..all(None)
        },
    )?[0];
    assert_eq!(
        (p.delivery_count, p.idle, p.consumer.as_slice()),
        (1, 70, &b"b"[..])
    );
    // TIME in the future is clamped to now; RETRYCOUNT sets the count.
    let a = ClaimArgs {
        delivery: Some(DeliveryTime::Time(99_999_999)),
        retry_count: Some(7),
        ..Default::default()
    };
    s.xclaim(b"s", b"g", b"b", &[id(3, 0)], &a)?;
    let p = &s.xpending(
        b"s",
        b"g",
        &PendingQuery {
            start: id(3, 0),
            end: id(3, 0),
            ..all(None)
        },
    )?[0];
    assert_eq!((p.delivery_count, p.idle), (7, 0));
    // FORCE creates pending entries for live entries (count 2, or 1 with
    // JUSTID, as redis-server 7.0 does); never for missing ones.
    s.xclaim(
        b"s",
        b"g",
        b"f",
        &[id(4, 0)],
        &ClaimArgs {
            force: true,
            ..Default::default()
        },
    )?;
    s.xclaim(
        b"s",
        b"g",
        b"f",
        &[id(5, 0)],
        &ClaimArgs {
            force: true,
            justid: true,
            ..Default::default()
        },
    )?;
    let r = s.xclaim(
        b"s",
        b"g",
        b"f",
        &[id(9, 0)],
        &ClaimArgs {
            force: true,
            ..Default::default()
        },
    )?;
    assert!(r.claimed.is_empty());
    let rows = s.xpending(b"s", b"g", &all(Some(b"f")))?;
    assert_eq!(
        rows.iter().map(|r| r.delivery_count).collect::<Vec<_>>(),
        vec![2, 1]
    );
    // LASTID only moves the group forward.
    s.xclaim(
        b"s",
        b"g",
        b"f",
        &[],
        &ClaimArgs {
            last_id: Some(id(4, 0)),
            ..Default::default()
        },
    )?;
    assert_eq!(s.xinfo_groups(b"s")?[0].last_delivered_id, id(4, 0));
    s.xclaim(
        b"s",
        b"g",
        b"f",
        &[],
        &ClaimArgs {
            last_id: Some(id(1, 0)),
            ..Default::default()
        },
    )?;
    assert_eq!(s.xinfo_groups(b"s")?[0].last_delivered_id, id(4, 0));
    Ok(())
}

#[test]
fn xclaim_drops_deleted_entries_from_the_pel() -> R {
    let dir = tempfile::tempdir().expect("tempdir");
    let s = open(dir.path(), &clock(10_000));
    stream_of(&s, 2)?;
    s.xgroup_create(b"s", b"g", GroupStart::Id(StreamId::MIN), false, None)?;
    read_new(&s, "a", 2)?;
    s.xdel(b"s", &[id(1, 0)])?;
    let r = s.xclaim(
        b"s",
        b"g",
        b"b",
        &[id(1, 0), id(2, 0)],
        &ClaimArgs::default(),
    )?;
    assert_eq!(
        r.claimed.iter().map(|e| e.id).collect::<Vec<_>>(),
        vec![id(2, 0)]
    );
    assert_eq!(s.xpending_summary(b"s", b"g")?.count, 1);
    Ok(())
}

#[test]
fn xautoclaim_scans_with_a_cursor_and_reports_deleted_ids() -> R {
    let dir = tempfile::tempdir().expect("tempdir");
    let c = clock(10_000);
    let s = open(dir.path(), &c);
    stream_of(&s, 30)?;
    s.xgroup_create(b"s", b"g", GroupStart::Id(StreamId::MIN), false, None)?;
    read_new(&s, "a", 30)?;
    s.xdel(b"s", &[id(2, 0)])?;
    c.advance(1000);
    let r = s.xautoclaim(b"s", b"g", b"b", 500, StreamId::MIN, 3, false)?;
    assert_eq!(
        r.claimed.iter().map(|e| e.id).collect::<Vec<_>>(),
        vec![id(1, 0), id(3, 0)]
    );
    assert_eq!(r.deleted, vec![id(2, 0)], "deleted IDs count toward COUNT");
    assert_eq!(r.next, id(4, 0));
    // JUSTID does not bump delivery counts.
    let r = s.xautoclaim(b"s", b"g", b"b", 500, r.next, 2, true)?;
    assert_eq!(
        r.claimed.iter().map(|e| e.id).collect::<Vec<_>>(),
        vec![id(4, 0), id(5, 0)]
    );
    let p = s.xpending(
        b"s",
        b"g",
        &PendingQuery {
            start: id(4, 0),
            end: id(4, 0),
            ..all(None)
        },
    )?;
    assert_eq!(p[0].delivery_count, 1);
    // Nothing idle: the scan stops after COUNT*10 entries.
    let r = s.xautoclaim(b"s", b"g", b"b", 1_000_000, StreamId::MIN, 1, false)?;
    assert!(r.claimed.is_empty());
    assert_eq!(r.next, id(12, 0), "visited 10 entries (1, 3..=11)");
    // Reaching the end gives cursor 0-0.
    let r = s.xautoclaim(b"s", b"g", b"b", 0, id(25, 0), 100, false)?;
    assert_eq!(r.claimed.len(), 6);
    assert_eq!(r.next, StreamId::MIN);
    assert_eq!(
        s.xautoclaim(b"s", b"g", b"b", 0, StreamId::MIN, 0, false)
            .unwrap_err()
            .to_string(),
        "ERR COUNT must be > 0"
    );
    Ok(())
}

#[test]
fn entries_read_and_lag_follow_redis_null_rules() -> R {
    let dir = tempfile::tempdir().expect("tempdir");
    let s = open(dir.path(), &clock(10_000));
    stream_of(&s, 5)?;
    for (g, start, er) in [
        (&b"g"[..], GroupStart::Id(StreamId::MIN), None),
        (b"g2", GroupStart::LastId, None),
        (b"g3", GroupStart::Id(id(3, 0)), None),
        (b"g4", GroupStart::Id(StreamId::MIN), Some(0)),
    ] {
        s.xgroup_create(b"s", g, start, false, er)?;
    }
    let lag = |s: &Store| -> Result<Lags, Error> {
        Ok(s.xinfo_groups(b"s")?
            .iter()
            .map(|g| (g.entries_read, g.lag))
            .collect())
    };
    // Figures from redis-server 7.0 for the same commands.
    assert_eq!(
        lag(&s)?,
        vec![
            (None, Some(5)),
            (None, Some(0)),
            (None, None),
            (Some(0), Some(5))
        ]
    );
    s.xreadgroup(b"g", b"c", &[(b"s", ReadFrom::New)], Some(2), false)?;
    s.xreadgroup(b"g3", b"c", &[(b"s", ReadFrom::New)], Some(1), false)?;
    assert_eq!(
        lag(&s)?,
        vec![
            (Some(2), Some(3)),
            (None, Some(0)),
            (None, None),
            (Some(0), Some(5))
        ]
    );
    s.xdel(b"s", &[id(4, 0)])?;
    assert_eq!(
        lag(&s)?,
        vec![
            (Some(2), None),
            (None, Some(0)),
            (None, None),
            (Some(0), None)
        ]
    );
    s.xreadgroup(b"g", b"c", &[(b"s", ReadFrom::New)], None, false)?;
    s.xreadgroup(b"g4", b"c", &[(b"s", ReadFrom::New)], Some(1), false)?;
    assert_eq!(
        lag(&s)?,
        vec![
            (Some(5), Some(0)),
            (None, Some(0)),
            (None, None),
            (None, None)
        ]
    );
    add(&s, b"s", 6)?;
    assert_eq!(
        lag(&s)?,
        vec![(Some(5), Some(1)), (None, None), (None, None), (None, None)]
    );
    Ok(())
}

#[test]
fn xinfo_consumers_reports_idle_and_inactive_as_redis_7_2() -> R {
    let dir = tempfile::tempdir().expect("tempdir");
    let c = clock(10_000);
    let s = open(dir.path(), &c);
    stream_of(&s, 1)?;
    s.xgroup_create(b"s", b"g", GroupStart::Id(StreamId::MIN), false, None)?;
    s.xgroup_createconsumer(b"s", b"g", b"idle")?;
    read_new(&s, "busy", 10)?;
    c.advance(300);
    read_new(&s, "busy", 10)?; // attempted, got nothing
    c.advance(20);
    let info = s.xinfo_consumers(b"s", b"g")?;
    assert_eq!(info[0].name, b"busy");
    assert_eq!(
        (info[0].pending, info[0].idle, info[0].inactive),
        (1, 20, 320)
    );
    assert_eq!((info[1].idle, info[1].inactive), (320, -1));
    Ok(())
}

#[test]
fn setid_moves_the_group_and_keeps_the_pel() -> R {
    let dir = tempfile::tempdir().expect("tempdir");
    let s = open(dir.path(), &clock(10_000));
    stream_of(&s, 3)?;
    s.xgroup_create(b"s", b"g", GroupStart::Id(StreamId::MIN), false, None)?;
    read_new(&s, "a", 2)?;
    s.xgroup_setid(b"s", b"g", GroupStart::Id(StreamId::MIN), Some(0))?;
    assert_eq!(s.xpending_summary(b"s", b"g")?.count, 2);
    // Re-delivering an entry pending for another consumer moves it.
    assert_eq!(read_new(&s, "b", 1)?, vec![id(1, 0)]);
    let rows = s.xpending(b"s", b"g", &all(None))?;
    assert_eq!(
        (rows[0].consumer.as_slice(), rows[0].delivery_count),
        (&b"b"[..], 1)
    );
    s.xgroup_setid(b"s", b"g", GroupStart::LastId, None)?;
    assert_eq!(s.xinfo_groups(b"s")?[0].last_delivered_id, id(3, 0));
    assert!(s.xgroup_destroy(b"s", b"g")?);
    assert!(s.xinfo_groups(b"s")?.is_empty());
    Ok(())
}

#[test]
fn reference_policies_on_xtrim_xadd_xdelex_and_xackdel() -> R {
    let dir = tempfile::tempdir().expect("tempdir");
    let s = open(dir.path(), &clock(10_000));
    stream_of(&s, 10)?;
    s.xgroup_create(b"s", b"g", GroupStart::Id(StreamId::MIN), false, None)?;
    read_new(&s, "a", 6)?;
    s.xack(b"s", b"g", &[id(1, 0), id(2, 0), id(4, 0)])?;
    // ACKED: only the acked prefix (1, 2) can go; 3 is still pending.
    let t = Trim::exact(TrimStrategy::MaxLen(0));
    assert_eq!(s.xtrim_refs(b"s", &t, RefPolicy::Acked)?, 2);
    // KEEPREF: entries go, references stay.
    assert_eq!(
        s.xtrim_refs(
            b"s",
            &Trim::exact(TrimStrategy::MinId(id(4, 0))),
            RefPolicy::KeepRef
        )?,
        1
    );
    assert!(
        s.xpending(b"s", b"g", &all(None))?
            .iter()
            .any(|r| r.id == id(3, 0))
    );
    // DELREF: entries and their references go.
    assert_eq!(
        s.xtrim_refs(
            b"s",
            &Trim::exact(TrimStrategy::MinId(id(6, 0))),
            RefPolicy::DelRef
        )?,
        2
    );
    let pend: Vec<StreamId> = s
        .xpending(b"s", b"g", &all(None))?
        .iter()
        .map(|r| r.id)
        .collect();
    assert_eq!(pend, vec![id(6, 0)]);
    // XDELEX: -1 missing, 2 still referenced (6 pending, 8 undelivered), 1 deleted.
    s.xack(b"s", b"g", &[id(6, 0)])?;
    assert_eq!(
        s.xdelex(b"s", &[id(1, 0), id(8, 0), id(6, 0)], RefPolicy::Acked)?,
        vec![-1, 2, 1]
    );
    // XACKDEL acks first, so ACKED can then delete.
    read_new(&s, "a", 1)?; // 7
    assert_eq!(
        s.xackdel(b"s", b"g", &[id(7, 0)], RefPolicy::Acked)?,
        vec![1]
    );
    assert_eq!(
        s.xackdel(b"s", b"nog", &[id(8, 0)], RefPolicy::Acked)?,
        vec![-1]
    );
    // XADD with DELREF trimming.
    read_new(&s, "a", 10)?; // 8, 9, 10
    let f = pairs(&[("f", "v")]);
    let a = AddArgs::new(&f)
        .id(IdSpec::Explicit(id(11, 0)))
        .trim(Trim::exact(TrimStrategy::MaxLen(1)))
        .refs(RefPolicy::DelRef);
    s.xadd(b"s", &a)?;
    assert_eq!(s.xlen(b"s")?, 1);
    assert_eq!(s.xpending_summary(b"s", b"g")?.count, 0);
    Ok(())
}

#[test]
fn dead_letter_moves_an_entry_with_provenance_after_n_deliveries() -> R {
    let dir = tempfile::tempdir().expect("tempdir");
    let c = clock(10_000);
    {
        let s = open(dir.path(), &c);
        stream_of(&s, 2)?;
        s.xgroup_create(b"s", b"g", GroupStart::Id(StreamId::MIN), false, None)?;
        let policy = GroupPolicy {
            dead_letter: Some(DeadLetter {
                stream: b"dlq".to_vec(),
                max_deliveries: 2,
            }),
            consumer_idle_ms: None,
        };
        s.xgroup_set_policy(b"s", b"g", policy)?;
        read_new(&s, "a", 1)?; // delivery 1
        let h = s.xreadgroup(
            b"g",
            b"a",
            &[(b"s", ReadFrom::After(StreamId::MIN))],
            None,
            false,
        )?;
        assert_eq!(h[0].entries.len(), 1); // delivery 2
        c.advance(100);
        let r = s.xautoclaim(b"s", b"g", b"b", 10, StreamId::MIN, 10, false)?;
        assert!(r.claimed.is_empty());
        assert_eq!(r.dead_lettered, vec![id(1, 0)]);
        assert_eq!(s.xpending_summary(b"s", b"g")?.count, 0);
        s.close()?;
    }
    let s = open(dir.path(), &c);
    let dlq = s.xrange(b"dlq", eddy::IdRange::ALL, None)?;
    assert_eq!(dlq.len(), 1);
    let f: Vec<(Vec<u8>, Vec<u8>)> = dlq[0].to_vec();
    let want: Vec<(&[u8], &[u8])> = vec![
        (b"dl-stream", b"s"),
        (b"dl-group", b"g"),
        (b"dl-consumer", b"a"),
        (b"dl-id", b"1-0"),
        (b"dl-deliveries", b"2"),
        (b"f", b"v"),
    ];
    assert_eq!(
        f,
        want.iter()
            .map(|(a, b)| (a.to_vec(), b.to_vec()))
            .collect::<Vec<_>>()
    );
    assert_eq!(
        s.xpending_summary(b"s", b"g")?.count,
        0,
        "the move survived the restart"
    );
    Ok(())
}

#[test]
fn expired_consumers_hand_pending_entries_back_to_the_group() -> R {
    let dir = tempfile::tempdir().expect("tempdir");
    let c = clock(10_000);
    let s = open(dir.path(), &c);
    stream_of(&s, 3)?;
    s.xgroup_create(b"s", b"g", GroupStart::Id(StreamId::MIN), false, None)?;
    read_new(&s, "a", 2)?;
    assert_eq!(s.xgroup_expire_consumer(b"s", b"g", b"a")?, 2);
    let sum = s.xpending_summary(b"s", b"g")?;
    assert_eq!(sum.consumers, vec![(Vec::new(), 2)]);
    let rows = s.xpending(b"s", b"g", &all(None))?;
    assert_eq!(
        (
            rows[0].consumer.as_slice(),
            rows[0].idle,
            rows[0].delivery_count
        ),
        (&b""[..], -1, 1)
    );
    // Claimable at once, whatever the min-idle-time.
    let r = s.xautoclaim(b"s", b"g", b"b", 1_000_000, StreamId::MIN, 10, false)?;
    assert_eq!(r.claimed.len(), 2);
    // The idle-consumer setting uses the same hand-back.
    s.xgroup_set_policy(
        b"s",
        b"g",
        GroupPolicy {
            dead_letter: None,
            consumer_idle_ms: Some(500),
        },
    )?;
    c.advance(600);
    let gone = s.expire_idle_consumers()?;
    assert_eq!(gone.len(), 1);
    assert_eq!(
        (gone[0].consumer.as_slice(), gone[0].released),
        (&b"b"[..], 2)
    );
    assert_eq!(s.xinfo_groups(b"s")?[0].consumers, 0);
    assert_eq!(s.xpending_summary(b"s", b"g")?.count, 2);
    Ok(())
}

#[test]
fn group_state_survives_reopen_and_checkpoint() -> R {
    let dir = tempfile::tempdir().expect("tempdir");
    let c = clock(10_000);
    let before;
    {
        let s = open(dir.path(), &c);
        stream_of(&s, 5)?;
        s.xgroup_create(b"s", b"g", GroupStart::Id(StreamId::MIN), false, None)?;
        read_new(&s, "a", 2)?;
        s.checkpoint()?;
        read_new(&s, "b", 2)?;
        s.xack(b"s", b"g", &[id(1, 0)])?;
        c.advance(5);
        s.xclaim(b"s", b"g", b"b", &[id(2, 0)], &ClaimArgs::default())?;
        before = (s.xinfo_groups(b"s")?, s.xpending(b"s", b"g", &all(None))?);
        s.close()?;
    }
    let s = open(dir.path(), &c);
    assert!(s.recovery_stats().checkpoint.is_some());
    assert_eq!(
        (s.xinfo_groups(b"s")?, s.xpending(b"s", b"g", &all(None))?),
        before
    );
    assert_eq!(s.xinfo_stream(b"s")?.groups, 1);
    let full = s.xinfo_groups_full(b"s", 0)?;
    assert_eq!(full[0].pel_count, 3);
    assert_eq!(full[0].consumers.len(), 2);
    Ok(())
}

#[test]
fn dead_letter_applies_to_history_reads_and_xclaim_but_not_justid_or_retrycount() -> R {
    let dir = tempfile::tempdir().expect("tempdir");
    let c = clock(10_000);
    let s = open(dir.path(), &c);
    stream_of(&s, 3)?;
    s.xgroup_create(b"s", b"g", GroupStart::Id(StreamId::MIN), false, None)?;
    let policy = GroupPolicy {
        dead_letter: Some(DeadLetter {
            stream: b"dlq".to_vec(),
            max_deliveries: 1,
        }),
        consumer_idle_ms: None,
    };
    let e = s
        .xgroup_set_policy(
            b"s",
            b"g",
            GroupPolicy {
                dead_letter: Some(DeadLetter {
                    stream: b"s".to_vec(),
                    max_deliveries: 1,
                }),
                consumer_idle_ms: None,
            },
        )
        .unwrap_err();
    assert!(matches!(e, Error::DeadLetterSelf));
    s.xgroup_set_policy(b"s", b"g", policy)?;
    read_new(&s, "a", 3)?;
    // JUSTID and RETRYCOUNT do not count as deliveries: no move.
    let j = ClaimArgs {
        justid: true,
        ..Default::default()
    };
    assert_eq!(
        s.xclaim(b"s", b"g", b"b", &[id(1, 0)], &j)?.claimed.len(),
        1
    );
    let rc = ClaimArgs {
        retry_count: Some(1),
        ..Default::default()
    };
    assert_eq!(
        s.xclaim(b"s", b"g", b"b", &[id(2, 0)], &rc)?.claimed.len(),
        1
    );
    // A delivering XCLAIM moves it.
    let r = s.xclaim(b"s", b"g", b"b", &[id(1, 0)], &ClaimArgs::default())?;
    assert!(r.claimed.is_empty());
    assert_eq!(r.dead_lettered, vec![id(1, 0)]);
    // So does a history read.
    let h = s.xreadgroup(
        b"g",
        b"a",
        &[(b"s", ReadFrom::After(StreamId::MIN))],
        None,
        false,
    )?;
    assert!(h[0].entries.is_empty());
    assert_eq!(h[0].dead_lettered, vec![id(3, 0)]);
    assert_eq!(s.xlen(b"dlq")?, 2);
    let rows = s.xpending(b"s", b"g", &all(None))?;
    assert_eq!(
        rows.iter().map(|r| r.id).collect::<Vec<_>>(),
        vec![id(2, 0)]
    );
    Ok(())
}

#[test]
fn xadd_trim_with_acked_keeps_what_a_group_still_needs() -> R {
    let dir = tempfile::tempdir().expect("tempdir");
    let s = open(dir.path(), &clock(10_000));
    stream_of(&s, 5)?;
    s.xgroup_create(b"s", b"g", GroupStart::Id(StreamId::MIN), false, None)?;
    read_new(&s, "a", 2)?;
    s.xack(b"s", b"g", &[id(1, 0)])?;
    let f = pairs(&[("f", "v")]);
    let a = AddArgs::new(&f)
        .id(IdSpec::Explicit(id(6, 0)))
        .trim(Trim::exact(TrimStrategy::MaxLen(1)))
        .refs(RefPolicy::Acked);
    s.xadd(b"s", &a)?;
    // Only 1 was delivered and acked; 2 is pending, 3.. undelivered.
    assert_eq!(s.xlen(b"s")?, 5);
    assert_eq!(
        s.xrange(b"s", eddy::IdRange::ALL, Some(1))?[0].id(),
        id(2, 0)
    );
    Ok(())
}
