//! Appenders, readers, a follower and retention all at once: every reader sees each
//! thread's records in order, intact, with no gaps while it keeps up.

mod common;

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use common::*;
use eddy_wal::{Error, Follower, FsyncPolicy, Result, Wal};

/// Payload of record `seq` of appender `t`: the pair, then bytes derived from it.
fn record(t: u8, seq: u32) -> Vec<u8> {
    let mut v = vec![t];
    v.extend_from_slice(&seq.to_le_bytes());
    let len = (seq as usize * 7 + usize::from(t) * 13) % 300;
    v.extend((0..len).map(|i| (i as u32 ^ seq) as u8 ^ t));
    v
}

/// Checks a payload and returns its (thread, seq).
fn check(p: &[u8]) -> (u8, u32) {
    let t = p[0];
    let seq = u32::from_le_bytes([p[1], p[2], p[3], p[4]]);
    assert_eq!(p, &record(t, seq)[..], "record {t}/{seq} damaged");
    (t, seq)
}

/// Per-thread order: each thread's sequence numbers grow by one, never skipping.
fn observe(last: &mut HashMap<u8, u32>, (t, seq): (u8, u32)) {
    if let Some(prev) = last.insert(t, seq) {
        assert_eq!(seq, prev + 1, "thread {t}: {seq} after {prev}");
    }
}

#[test]
fn appenders_readers_follower_and_retention_together() -> Result<()> {
    let dir = tempdir();
    let wal = Arc::new(Wal::open(dir.path(), opts(16 << 10, FsyncPolicy::No))?);
    let stop = Arc::new(AtomicBool::new(false));
    let deadline = Instant::now() + Duration::from_millis(1500);

    let appenders: Vec<_> = (0..4u8)
        .map(|t| {
            let wal = Arc::clone(&wal);
            std::thread::spawn(move || -> Result<u32> {
                let mut seq = 0u32;
                while Instant::now() < deadline {
                    if t == 0 {
                        wal.append(1, &record(t, seq))?; // under the current policy
                        seq += 1;
                    } else if seq.is_multiple_of(3) {
                        let (a, b) = (record(t, seq), record(t, seq + 1));
                        let ps = wal.append_batch_nowait([(2, &a[..]), (2, &b[..])])?;
                        wal.wait_durable(ps[1])?;
                        seq += 2;
                    } else {
                        wal.append_nowait(3, &record(t, seq))?;
                        seq += 1;
                    }
                }
                Ok(seq)
            })
        })
        .collect();

    // An in-process reader that must see every record: retention never deletes past
    // it (as the engine keeps what its slowest consumer still needs).
    let tail_pos = Arc::new(AtomicU64::new(0));
    let tail = {
        let (wal, stop, tail_pos) = (Arc::clone(&wal), Arc::clone(&stop), Arc::clone(&tail_pos));
        std::thread::spawn(move || -> Result<HashMap<u8, u32>> {
            let mut r = wal.reader(wal.start());
            let mut last = HashMap::new();
            loop {
                match r.next()? {
                    Some(rec) => {
                        observe(&mut last, check(rec.payload()));
                        tail_pos.store(rec.position().0, Ordering::Release);
                    }
                    None if stop.load(Ordering::Acquire) && r.position() == wal.end() => {
                        return Ok(last);
                    }
                    None => std::thread::yield_now(),
                }
            }
        })
    };

    // Readers that start at random places and may fall behind retention.
    let samplers: Vec<_> = (0..2)
        .map(|_| {
            let (wal, stop) = (Arc::clone(&wal), Arc::clone(&stop));
            std::thread::spawn(move || -> Result<u64> {
                let mut seen = 0;
                while !stop.load(Ordering::Acquire) {
                    let mut r = wal.reader(wal.start());
                    let mut last = HashMap::new();
                    for _ in 0..500 {
                        match r.next() {
                            Ok(Some(rec)) => {
                                observe(&mut last, check(rec.payload()));
                                seen += 1;
                            }
                            Ok(None) => break,
                            Err(Error::OutOfRange { .. }) => break, // retention passed us
                            Err(e) => return Err(e),
                        }
                    }
                }
                Ok(seen)
            })
        })
        .collect();

    let retention = {
        let (wal, stop, tail_pos) = (Arc::clone(&wal), Arc::clone(&stop), Arc::clone(&tail_pos));
        std::thread::spawn(move || -> Result<usize> {
            let mut deleted = 0;
            while !stop.load(Ordering::Acquire) {
                let keep = wal
                    .end()
                    .0
                    .saturating_sub(64 << 10)
                    .min(tail_pos.load(Ordering::Acquire));
                deleted += wal.delete_before(eddy_wal::Position(keep))?.len();
                std::thread::sleep(Duration::from_millis(5));
            }
            Ok(deleted)
        })
    };

    // The follower reads the files; when retention deletes what it has not read it
    // gets OutOfRange and starts again from the oldest segment.
    let follower = {
        let (dir, stop) = (dir.path().to_path_buf(), Arc::clone(&stop));
        std::thread::spawn(move || -> Result<u64> {
            let mut f = Follower::open(&dir)?;
            let mut last = HashMap::new();
            let mut n = 0;
            while !stop.load(Ordering::Acquire) {
                match f.next() {
                    Ok(Some(rec)) => {
                        observe(&mut last, check(rec.payload()));
                        n += 1;
                    }
                    Ok(None) => std::thread::sleep(Duration::from_millis(1)),
                    // Retention overtook it, or deleted a segment between listing and
                    // opening: start again.
                    Err(Error::OutOfRange { .. } | Error::Io { .. }) => {
                        f = Follower::open(&dir)?;
                        last.clear();
                    }
                    Err(e) => return Err(e),
                }
            }
            Ok(n)
        })
    };

    let mut appended = HashMap::new();
    for (t, h) in appenders.into_iter().enumerate() {
        appended.insert(t as u8, h.join().expect("appender")?);
    }
    // Policy changes at run time while others work.
    wal.set_fsync_policy(FsyncPolicy::Always);
    stop.store(true, Ordering::Release);
    let last = tail.join().expect("tail reader")?;
    for (t, n) in &appended {
        assert_eq!(
            last.get(t).map(|s| s + 1),
            Some(*n),
            "tail reader saw all of thread {t}"
        );
    }
    let sampled: u64 = samplers
        .into_iter()
        .map(|h| h.join().expect("sampler"))
        .sum::<Result<u64>>()?;
    let deleted = retention.join().expect("retention")?;
    let followed = follower.join().expect("follower")?;
    assert!(
        sampled > 0 && followed > 0 && deleted > 0,
        "{sampled} {followed} {deleted}"
    );
    Ok(())
}
