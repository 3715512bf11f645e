//! Appending, reading, following, rolling and reopening.

mod common;

use std::sync::Arc;

use common::*;
use eddy_wal::{Error, FsyncPolicy, Options, Position, Result, Wal};

#[test]
fn append_then_read_back_in_order_and_at_random() -> Result<()> {
    let dir = tempdir();
    let wal = Wal::open(dir.path(), opts(1 << 20, FsyncPolicy::No))?;
    let mut positions = Vec::new();
    for n in 0..100u64 {
        positions.push(wal.append((n % 128) as u8, &payload(n))?);
    }
    assert_eq!(positions[0], Position(0));
    let all = read_all(&wal, Position(0))?;
    assert_eq!(all.len(), 100);
    for (n, (pos, kind, p)) in all.iter().enumerate() {
        assert_eq!(
            (*pos, *kind, p),
            (positions[n], (n % 128) as u8, &payload(n as u64))
        );
    }
    let r = wal.read_at(positions[42])?;
    assert_eq!(r.payload(), &payload(42)[..]);
    assert_eq!(r.next_position(), positions[43]);
    assert_eq!(r.position, r.position());
    assert!(matches!(
        wal.read_at(wal.end()),
        Err(Error::OutOfRange { .. })
    ));
    Ok(())
}

#[test]
fn reader_follows_the_tail() -> Result<()> {
    let dir = tempdir();
    let wal = Wal::open(dir.path(), opts(8192, FsyncPolicy::No))?;
    let mut r = wal.reader(Position(0));
    assert!(r.next()?.is_none());
    for n in 0..300u64 {
        let pos = wal.append(1, &payload(n))?;
        let rec = r.next()?.expect("record just appended");
        assert_eq!((rec.position(), rec.payload()), (pos, &payload(n)[..]));
        assert!(r.next()?.is_none());
    }
    assert!(wal.segments().len() > 3, "small segments must have rolled");
    Ok(())
}

#[test]
fn reader_in_another_thread_sees_everything_exactly_once() -> Result<()> {
    let dir = tempdir();
    let wal = Arc::new(Wal::open(dir.path(), opts(16 << 10, FsyncPolicy::No))?);
    let total = 3000u64;
    let w = Arc::clone(&wal);
    let reader = std::thread::spawn(move || -> Result<u64> {
        let mut r = w.reader(Position(0));
        let mut n = 0;
        while n < total {
            match r.next()? {
                Some(rec) => {
                    assert_eq!(rec.payload(), &payload(n)[..]);
                    n += 1;
                }
                None => std::thread::yield_now(),
            }
        }
        Ok(n)
    });
    for n in 0..total {
        if n % 3 == 0 {
            let (a, b) = (payload(n), payload(n + 1));
            wal.append_batch_nowait([(2, &a[..]), (2, &b[..])])?;
        } else if n % 3 == 2 {
            wal.append_nowait(1, &payload(n))?;
        }
    }
    assert_eq!(reader.join().expect("reader thread")?, total);
    Ok(())
}

#[test]
fn batch_positions_are_consecutive_and_kinds_clean() -> Result<()> {
    let dir = tempdir();
    let wal = Wal::open(dir.path(), opts(1 << 16, FsyncPolicy::Always))?;
    let recs: Vec<Vec<u8>> = (0..5).map(payload).collect();
    let pos = wal.append_batch(
        recs.iter()
            .enumerate()
            .map(|(i, p)| (i as u8 + 100, &p[..])),
    )?;
    assert_eq!(pos.len(), 5);
    for (i, p) in pos.iter().enumerate() {
        let r = wal.read_at(*p)?;
        assert_eq!((r.kind(), r.payload()), (i as u8 + 100, &recs[i][..]));
    }
    assert_eq!(wal.durable_end(), wal.end());
    assert!(wal.append_batch(std::iter::empty())?.is_empty());
    Ok(())
}

#[test]
fn reopen_keeps_everything_and_appends_continue() -> Result<()> {
    let dir = tempdir();
    let mut expected = Vec::new();
    for round in 0..3u64 {
        let wal = Wal::open(dir.path(), opts(4096, FsyncPolicy::EverySec))?;
        assert!(wal.recovery_report().truncations.is_empty());
        assert_eq!(read_all(&wal, wal.start())?, expected);
        for n in round * 100..round * 100 + 100 {
            let pos = wal.append(3, &payload(n))?;
            expected.push((pos, 3, payload(n)));
        }
        wal.close()?;
    }
    Ok(())
}

#[test]
fn segments_are_contiguous_and_retention_deletes_whole_ones() -> Result<()> {
    let dir = tempdir();
    let wal = Wal::open(dir.path(), opts(4096, FsyncPolicy::No))?;
    let mut positions = Vec::new();
    for n in 0..400u64 {
        positions.push(wal.append(1, &payload(n))?);
    }
    let segs = wal.segments();
    assert!(segs.len() >= 5);
    for w in segs.windows(2) {
        assert_eq!(w[0].end, w[1].base);
        assert_eq!(w[0].file_len, 4096);
    }
    let mut old_reader = wal.reader(Position(0));
    let cut = positions[200];
    let deleted = wal.delete_before(cut)?;
    assert!(!deleted.is_empty());
    assert!(deleted.iter().all(|s| s.end <= cut && !s.path.exists()));
    let start = wal.start();
    assert!(start <= cut && start == wal.segments()[0].base);
    assert!(matches!(
        wal.read_at(Position(0)),
        Err(Error::OutOfRange { .. })
    ));
    // A reader created before retention still reads the deleted segment it is in.
    let first = old_reader.next()?.expect("record 0 still mapped");
    assert_eq!(first.payload(), &payload(0)[..]);
    // It reads to the end of that segment, then says it lost the deleted ones rather
    // than skipping to the first segment still held.
    let mut n = 1;
    let err = loop {
        match old_reader.next() {
            Ok(Some(r)) => {
                assert_eq!(r.payload(), &payload(n)[..]);
                n += 1;
            }
            Ok(None) => panic!("the reader reached the end without noticing the deletion"),
            Err(e) => break e,
        }
    };
    assert!(
        matches!(err, Error::OutOfRange { pos } if pos == deleted[0].end),
        "{err:?}"
    );
    // Nothing is ever deleted past the active segment.
    wal.delete_before(Position(u64::MAX))?;
    assert_eq!(wal.segments().len(), 1);
    let last = *positions.last().expect("positions");
    assert_eq!(wal.read_at(last)?.payload(), &payload(399)[..]);
    drop(wal);
    let wal = Wal::open(dir.path(), opts(4096, FsyncPolicy::No))?;
    assert_eq!(wal.read_at(last)?.payload(), &payload(399)[..]);
    Ok(())
}

#[test]
fn torn_tail_is_cut_on_reopen() -> Result<()> {
    let dir = tempdir();
    let wal = Wal::open(dir.path(), opts(1 << 16, FsyncPolicy::No))?;
    let a = wal.append(1, b"first")?;
    let b = wal.append(1, b"second record")?;
    wal.close()?;
    // Tear the second record: drop its last byte.
    let seg = last_segment(dir.path());
    let data = std::fs::read(&seg).expect("read segment");
    let mut data2 = data.clone();
    let off = 32 + b.0 as usize + 9 + b"second record".len() - 1;
    data2[off] = 0;
    std::fs::write(&seg, &data2).expect("write segment");
    let wal = Wal::open(dir.path(), Options::default())?;
    let rep = &wal.recovery_report().truncations;
    assert_eq!(rep.len(), 1);
    assert_eq!(rep[0].offset, 32 + b.0);
    assert_eq!(read_all(&wal, a)?, vec![(a, 1, b"first".to_vec())]);
    assert_eq!(wal.end(), b);
    let c = wal.append(2, b"x")?;
    assert_eq!(c, b);
    Ok(())
}

#[test]
fn policy_names_round_trip() {
    for p in [FsyncPolicy::Always, FsyncPolicy::EverySec, FsyncPolicy::No] {
        assert_eq!(p.to_string().parse::<FsyncPolicy>(), Ok(p));
    }
    assert!("sometimes".parse::<FsyncPolicy>().is_err());
    assert_eq!("123".parse::<Position>().map(|p| p.0), Ok(123));
}

#[test]
fn policy_changes_at_run_time() -> Result<()> {
    let dir = tempdir();
    let wal = Wal::open(dir.path(), opts(1 << 16, FsyncPolicy::No))?;
    wal.append(1, b"a")?;
    assert_eq!(wal.durable_end(), Position(0));
    wal.set_fsync_policy(FsyncPolicy::Always);
    assert_eq!(wal.fsync_policy(), FsyncPolicy::Always);
    wal.append(1, b"b")?;
    assert_eq!(wal.durable_end(), wal.end());
    Ok(())
}

#[test]
fn everysec_syncs_in_the_background() -> Result<()> {
    let dir = tempdir();
    let wal = Wal::open(dir.path(), opts(1 << 16, FsyncPolicy::EverySec))?;
    wal.append(1, b"a")?;
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(5);
    while wal.durable_end() < wal.end() {
        assert!(
            std::time::Instant::now() < deadline,
            "everysec never synced"
        );
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    Ok(())
}

#[test]
fn public_types_are_send_and_sync() {
    fn check<T: Send + Sync>() {}
    check::<Wal>();
    check::<eddy_wal::Reader>();
    check::<eddy_wal::RecordRef>();
    check::<eddy_wal::Follower>();
    check::<Error>();
}

#[test]
fn zeroing_ahead_never_touches_records_across_reopens() -> Result<()> {
    // The writer writes zeros ahead of its records (1 MiB at a time) in
    // segments of several MiB; records written before and after each
    // stretch, buffered or not, and across reopens (which start zeroing
    // from the recovered end), must all read back intact.
    let dir = tempdir();
    let big = vec![0xabu8; 40_000];
    let mut expected = Vec::new();
    for round in 0..3u64 {
        let wal = Wal::open(dir.path(), opts(4 << 20, FsyncPolicy::No))?;
        wal.set_buffered_writes(round == 1)?;
        assert_eq!(read_all(&wal, wal.start())?, expected);
        for n in 0..150u64 {
            let p = if n % 3 == 0 { big.clone() } else { payload(n) };
            let pos = wal.append(1, &p)?;
            expected.push((pos, 1, p));
        }
        wal.flush()?;
        assert_eq!(read_all(&wal, wal.start())?, expected);
        wal.close()?;
    }
    assert!(expected.len() == 450 && wal_bytes(&expected) > 5 << 20);
    Ok(())
}

fn wal_bytes(records: &[(Position, u8, Vec<u8>)]) -> usize {
    records.iter().map(|(_, _, p)| p.len()).sum()
}
