//! Restarts: clean reopen, crash (drop without close, power cut under
//! `always`), checkpoints bounding replay, automatic checkpoints, and WAL
//! segments deleted once only trimmed entries remain in them.

mod engine_util;

use std::sync::Arc;

use eddy::{AddArgs, AppendItem, Error, FsyncPolicy, IdRange, IdSpec, Store, Trim, TrimStrategy};
use eddy_wal::FaultIo;
use engine_util::*;

fn fill(s: &Store, key: &[u8], n: usize) -> Result<(), Error> {
    let f = pairs(&[("sensor", "t1"), ("value", "21.5"), ("unit", "C")]);
    let items: Vec<AppendItem<'_>> = (0..n)
        .map(|_| AppendItem {
            id: IdSpec::Auto,
            fields: &f,
            idmp: None,
        })
        .collect();
    for chunk in items.chunks(1000) {
        s.xadd_batch(key, chunk)?;
    }
    Ok(())
}

fn wal_bytes(dir: &std::path::Path) -> u64 {
    std::fs::read_dir(dir.join("wal"))
        .expect("wal dir")
        .filter_map(|e| e.ok()?.metadata().ok())
        .map(|m| m.len())
        .sum()
}

#[test]
fn checkpoint_bounds_replay_to_the_tail() -> Result<(), Error> {
    let dir = tempfile::tempdir().expect("tempdir");
    let c = clock(1);
    let s = open(dir.path(), &c);
    fill(&s, b"s", 20_000)?;
    let info = s.checkpoint()?;
    let f = pairs(&[("after", "1")]);
    for _ in 0..3 {
        s.xadd(b"s", &AddArgs::new(&f))?;
    }
    s.xdel(b"s", &[eddy::StreamId::new(1, 5)])?;
    drop(s);
    let s = open(dir.path(), &c);
    let r = s.recovery_stats();
    assert_eq!(r.checkpoint, Some(info.position));
    assert_eq!(r.replay_from, info.position);
    assert_eq!(
        r.records_replayed, 4,
        "only the records after the checkpoint"
    );
    assert_eq!(s.xlen(b"s")?, 20_002);
    let last = s.xrevrange(b"s", IdRange::ALL, Some(1))?;
    assert_eq!(last[0].to_vec(), vec![(b"after".to_vec(), b"1".to_vec())]);
    Ok(())
}

#[test]
fn trimmed_segments_are_deleted_after_a_checkpoint() -> Result<(), Error> {
    let dir = tempfile::tempdir().expect("tempdir");
    let c = clock(1);
    let s = open(dir.path(), &c);
    fill(&s, b"s", 60_000)?;
    fill(&s, b"keep", 10)?;
    fill(&s, b"s", 10_000)?;
    let before = wal_bytes(dir.path());
    // Without a checkpoint nothing can go: replay still needs the log.
    // (LIMIT 0: beyond the default of 100 blocks per call.)
    let trim = Trim {
        strategy: TrimStrategy::MaxLen(1000),
        approx: true,
        limit: Some(0),
    };
    s.xtrim(b"s", &trim)?;
    assert_eq!(wal_bytes(dir.path()), before);
    let info = s.checkpoint()?;
    let after = wal_bytes(dir.path());
    // The tiny "keep" stream pins the segment it lives in and what follows.
    assert!(info.segments_deleted > 0, "{info:?}");
    assert!(after < before, "{after} >= {before}");
    drop(s);
    let s = open(dir.path(), &c);
    assert_eq!(s.xlen(b"keep")?, 10);
    assert_eq!(s.xrange(b"keep", IdRange::ALL, None)?.len(), 10);
    assert!(s.xlen(b"s")? >= 1000);
    Ok(())
}

#[test]
fn automatic_checkpoints_follow_the_record_threshold() -> Result<(), Error> {
    let dir = tempfile::tempdir().expect("tempdir");
    let c = clock(1);
    let mut o = options(&c);
    o.checkpoint_every_records = 50;
    let s = Store::open(dir.path(), o.clone())?;
    let f = pairs(&[("a", "1")]);
    for _ in 0..120 {
        s.xadd(b"s", &AddArgs::new(&f))?;
    }
    drop(s);
    let s = Store::open(dir.path(), o)?;
    let r = s.recovery_stats();
    assert_eq!(r.checkpoint.map(|_| ()), Some(()));
    assert_eq!(r.records_replayed, 20);
    assert_eq!(s.xlen(b"s")?, 120);
    Ok(())
}

#[test]
fn a_crash_without_close_keeps_every_acknowledged_entry() -> Result<(), Error> {
    let dir = tempfile::tempdir().expect("tempdir");
    let c = clock(1);
    let io = Arc::new(FaultIo::new());
    let mut o = options(&c);
    o.wal.io = io.clone();
    o.wal.fsync = FsyncPolicy::Always;
    let s = Store::open(dir.path(), o.clone())?;
    let f = pairs(&[("a", "1")]);
    let mut acked = Vec::new();
    for i in 0..300u32 {
        acked.push(s.xadd(b"s", &AddArgs::new(&f))?.expect("added").id);
        if i.is_multiple_of(50) {
            s.xtrim(b"s", &Trim::exact(TrimStrategy::MaxLen(200)))?;
        }
    }
    io.power_cut().expect("power cut");
    drop(s);
    o.wal.io = Arc::new(FaultIo::new());
    let s = Store::open(dir.path(), o)?;
    let got = ids(&s.xrange(b"s", IdRange::ALL, None)?);
    assert!(got.len() >= 200);
    assert_eq!(&acked[acked.len() - got.len()..], &got[..]);
    Ok(())
}

#[test]
fn a_damaged_checkpoint_is_an_error_not_silent_data_loss() -> Result<(), Error> {
    let dir = tempfile::tempdir().expect("tempdir");
    let c = clock(1);
    let s = open(dir.path(), &c);
    fill(&s, b"s", 10)?;
    s.checkpoint()?;
    drop(s);
    let p = dir.path().join("checkpoint");
    let mut b = std::fs::read(&p).expect("read");
    let last = b.len() - 1;
    b[last] ^= 1;
    std::fs::write(&p, b).expect("write");
    let err = Store::open(dir.path(), options(&c)).expect_err("damaged");
    assert!(err.to_string().contains("checksum mismatch"), "{err}");
    Ok(())
}
