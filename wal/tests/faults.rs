//! Fault injection through the `Io` seam: failed writes and syncs poison the WAL,
//! ENOSPC while preallocating is a clean error, a power cut loses only what was not
//! acknowledged.

mod common;

use std::sync::Arc;

use common::*;
use eddy_wal::{Error, FaultIo, FsyncPolicy, Options, Position, Result, Wal};

fn fault_opts(io: &Arc<FaultIo>, segment_size: u64, fsync: FsyncPolicy) -> Options {
    Options {
        segment_size,
        fsync,
        io: io.clone(),
        ..Options::default()
    }
}

fn segment_files(dir: &std::path::Path) -> Vec<String> {
    let mut v: Vec<String> = std::fs::read_dir(dir)
        .expect("list dir")
        .map(|e| {
            e.expect("dir entry")
                .file_name()
                .to_string_lossy()
                .into_owned()
        })
        .filter(|n| n != "LOCK")
        .collect();
    v.sort();
    v
}

#[test]
fn failed_fsync_poisons_the_wal() -> Result<()> {
    let dir = tempdir();
    let io = Arc::new(FaultIo::new());
    let wal = Wal::open(dir.path(), fault_opts(&io, 1 << 16, FsyncPolicy::Always))?;
    let ok = wal.append(1, b"durable")?;
    io.fail_syncs_after(Some(0));
    match wal.append(1, b"not acknowledged") {
        Err(Error::Io {
            op: "fdatasync", ..
        }) => {}
        other => panic!("expected the fdatasync error, got {other:?}"),
    }
    assert!(wal.is_poisoned());
    // Even once the disk "recovers", nothing more is accepted.
    io.fail_syncs_after(None);
    assert!(matches!(wal.append(1, b"x"), Err(Error::Poisoned)));
    assert!(matches!(wal.append_nowait(1, b"x"), Err(Error::Poisoned)));
    assert!(matches!(
        wal.append_batch([(1, &b"x"[..])]),
        Err(Error::Poisoned)
    ));
    assert!(matches!(wal.sync(), Err(Error::Poisoned)));
    assert!(matches!(wal.wait_durable(wal.end()), Err(Error::Poisoned)));
    // What was durable before stays readable and waitable.
    wal.wait_durable(ok)?;
    assert_eq!(wal.read_at(ok)?.payload(), b"durable");
    assert!(matches!(wal.close(), Err(Error::Poisoned)));
    // Reopening clears the poison.
    let wal = Wal::open(dir.path(), Options::default())?;
    assert_eq!(wal.read_at(ok)?.payload(), b"durable");
    wal.append(1, b"again")?;
    Ok(())
}

#[test]
fn failed_fsync_under_group_commit_fails_every_waiter() -> Result<()> {
    let dir = tempdir();
    let io = Arc::new(FaultIo::new());
    let wal = Arc::new(Wal::open(
        dir.path(),
        fault_opts(&io, 1 << 20, FsyncPolicy::Always),
    )?);
    io.fail_syncs_after(Some(3));
    let threads: Vec<_> = (0..8)
        .map(|t| {
            let wal = Arc::clone(&wal);
            std::thread::spawn(move || {
                let mut acked = Vec::new();
                for i in 0..50u64 {
                    match wal.append(1, &payload(t * 1000 + i)) {
                        Ok(p) => acked.push(p),
                        Err(Error::Poisoned | Error::Io { .. }) => return acked,
                        Err(e) => panic!("unexpected error {e}"),
                    }
                }
                acked
            })
        })
        .collect();
    let acked: Vec<Position> = threads
        .into_iter()
        .flat_map(|t| t.join().expect("appender thread"))
        .collect();
    assert!(wal.is_poisoned());
    // Every acknowledged record lies below the durable end.
    for p in &acked {
        assert!(*p < wal.durable_end(), "{p} acknowledged but not durable");
    }
    Ok(())
}

#[test]
fn failed_write_poisons_the_wal() -> Result<()> {
    let dir = tempdir();
    let io = Arc::new(FaultIo::new());
    let wal = Wal::open(dir.path(), fault_opts(&io, 1 << 16, FsyncPolicy::No))?;
    let a = wal.append(1, b"a")?;
    io.fail_writes_after(Some(0));
    assert!(matches!(
        wal.append(1, b"b"),
        Err(Error::Io { op: "write", .. })
    ));
    io.fail_writes_after(None);
    assert!(matches!(wal.append(1, b"c"), Err(Error::Poisoned)));
    assert_eq!(wal.end(), a.next(&wal)?);
    Ok(())
}

/// Small helper so the test above reads well.
trait NextPos {
    fn next(self, wal: &Wal) -> Result<Position>;
}
impl NextPos for Position {
    fn next(self, wal: &Wal) -> Result<Position> {
        Ok(wal.read_at(self)?.next_position())
    }
}

#[test]
fn enospc_while_preallocating_is_a_clean_error() -> Result<()> {
    let dir = tempdir();
    let io = Arc::new(FaultIo::new());
    // At open: no segment can be created, nothing is left behind.
    io.set_enospc_on_allocate(true);
    match Wal::open(dir.path(), fault_opts(&io, 4096, FsyncPolicy::Always)) {
        Err(Error::Io {
            op: "preallocate",
            source,
            ..
        }) => {
            assert_eq!(source.raw_os_error(), Some(28), "ENOSPC");
        }
        other => panic!("expected ENOSPC, got {other:?}"),
    }
    assert!(segment_files(dir.path()).is_empty());
    io.set_enospc_on_allocate(false);

    let wal = Wal::open(dir.path(), fault_opts(&io, 4096, FsyncPolicy::Always))?;
    let mut acked = Vec::new();
    io.set_enospc_on_allocate(true);
    let err = loop {
        match wal.append(2, &[7u8; 500]) {
            Ok(p) => acked.push(p),
            Err(e) => break e,
        }
    };
    assert!(
        matches!(
            err,
            Error::Io {
                op: "preallocate",
                ..
            }
        ),
        "{err:?}"
    );
    assert!(!wal.is_poisoned(), "a failed roll does not poison");
    // After a failed roll nothing more goes into the old segment, not even a record
    // that would fit: the next append must roll first.
    assert!(matches!(
        wal.append(2, b"tiny"),
        Err(Error::Io {
            op: "preallocate",
            ..
        })
    ));
    assert_eq!(
        segment_files(dir.path()),
        vec!["00000000000000000000.wal".to_string()]
    );
    for p in &acked {
        assert_eq!(wal.read_at(*p)?.payload(), &[7u8; 500][..]);
    }
    // Space comes back: the same append now succeeds in a new segment.
    io.set_enospc_on_allocate(false);
    let p = wal.append(2, &[8u8; 500])?;
    assert_eq!(wal.segments().len(), 2);
    assert_eq!(wal.read_at(p)?.payload(), &[8u8; 500][..]);
    drop(wal);
    let wal = Wal::open(dir.path(), Options::default())?;
    assert_eq!(read_all(&wal, Position(0))?.len(), acked.len() + 1);
    Ok(())
}

#[test]
fn power_cut_loses_only_unacknowledged_records() -> Result<()> {
    for round in 0..4u64 {
        let dir = tempdir();
        let io = Arc::new(FaultIo::new());
        let wal = Arc::new(Wal::open(
            dir.path(),
            fault_opts(&io, 8192, FsyncPolicy::Always),
        )?);
        // Acknowledged appends from several threads, unacknowledged ones interleaved.
        let threads: Vec<_> = (0..4u64)
            .map(|t| {
                let wal = Arc::clone(&wal);
                std::thread::spawn(move || -> Result<Vec<(Position, Vec<u8>)>> {
                    let mut acked = Vec::new();
                    for i in 0..40 {
                        let n = round * 100_000 + t * 1000 + i;
                        if i % 3 == 0 {
                            wal.append_nowait(1, &payload(n))?;
                        } else if i % 3 == 1 {
                            let (a, b) = (payload(n), payload(n + 500));
                            let ps = wal.append_batch([(2, &a[..]), (2, &b[..])])?;
                            acked.push((ps[0], a));
                            acked.push((ps[1], b));
                        } else {
                            acked.push((wal.append(1, &payload(n))?, payload(n)));
                        }
                    }
                    Ok(acked)
                })
            })
            .collect();
        let mut acked = Vec::new();
        for t in threads {
            acked.extend(t.join().expect("appender thread")?);
        }
        // Some unsynced tail, so the cut has something to drop.
        wal.set_fsync_policy(FsyncPolicy::No);
        let mut unsynced = Vec::new();
        for i in 0..5 {
            unsynced.push(wal.append(3, &payload(i))?);
        }
        let written = read_all(&wal, Position(0))?;
        assert!(io.unsynced_bytes() > 0);
        io.power_cut().expect("revert unsynced bytes");
        drop(wal);

        let wal = Wal::open(dir.path(), Options::default())?;
        let after = read_all(&wal, Position(0))?;
        for (p, data) in &acked {
            assert_eq!(
                wal.read_at(*p)?.payload(),
                &data[..],
                "acknowledged {p} lost"
            );
        }
        assert_eq!(
            &written[..after.len()],
            &after[..],
            "recovered a prefix of what was written"
        );
        for p in unsynced {
            assert!(
                p >= wal.end(),
                "unsynced record at {p} survived a power cut"
            );
        }
    }
    Ok(())
}

#[test]
fn power_cut_under_no_keeps_the_last_synced_state() -> Result<()> {
    let dir = tempdir();
    let io = Arc::new(FaultIo::new());
    let wal = Wal::open(dir.path(), fault_opts(&io, 4096, FsyncPolicy::No))?;
    for n in 0..30 {
        wal.append(1, &payload(n))?;
    }
    let synced = wal.sync()?;
    // Rolls sync the segment they leave, so some of these survive too.
    for n in 30..120 {
        wal.append(1, &payload(n))?;
    }
    let written = read_all(&wal, Position(0))?;
    io.power_cut().expect("revert unsynced bytes");
    drop(wal);
    let wal = Wal::open(dir.path(), Options::default())?;
    let after = read_all(&wal, Position(0))?;
    assert!(wal.end() >= synced);
    assert!(after.len() < written.len(), "the unsynced tail is gone");
    assert_eq!(&written[..after.len()], &after[..]);
    Ok(())
}

#[test]
fn failed_retention_delete_keeps_the_segment_listed_and_can_be_retried() -> Result<()> {
    let dir = tempdir();
    let io = Arc::new(FaultIo::new());
    let wal = Wal::open(dir.path(), fault_opts(&io, 4096, FsyncPolicy::No))?;
    for n in 0..200 {
        wal.append(1, &payload(n))?;
    }
    let before = wal.segments();
    io.set_fail_remove(true);
    assert!(matches!(
        wal.delete_before(wal.end()),
        Err(Error::Io {
            op: "delete segment",
            ..
        })
    ));
    assert_eq!(wal.segments(), before);
    assert!(
        !wal.is_poisoned(),
        "retention failures do not poison writes"
    );
    io.set_fail_remove(false);
    let deleted = wal.delete_before(wal.end())?;
    assert_eq!(deleted.len(), before.len() - 1);
    assert_eq!(wal.segments().len(), 1);
    Ok(())
}
