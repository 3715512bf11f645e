//! The read-only follower: tailing a directory a `Wal` is writing (it sees the files,
//! not the writer's memory, as another process would), batches, verify.

mod common;

use common::*;
use eddy_wal::{Follower, FsyncPolicy, Position, Result, Wal};

fn drain(f: &mut Follower) -> Result<Vec<(Position, u8, Vec<u8>)>> {
    let mut out = Vec::new();
    while let Some(r) = f.next()? {
        out.push((r.position(), r.kind(), r.payload().to_vec()));
    }
    Ok(out)
}

#[test]
fn follower_tails_across_segment_rolls() -> Result<()> {
    let dir = tempdir();
    let wal = Wal::open(dir.path(), opts(4096, FsyncPolicy::No))?;
    let mut f = Follower::open(dir.path())?;
    assert!(f.next()?.is_none());
    let mut expected = Vec::new();
    for n in 0..200u64 {
        if n % 5 == 0 {
            let (a, b) = (payload(n), payload(n + 1000));
            let ps = wal.append_batch([(4, &a[..]), (5, &b[..])])?;
            expected.push((ps[0], 4, a));
            expected.push((ps[1], 5, b));
        } else {
            expected.push((wal.append(1, &payload(n))?, 1, payload(n)));
        }
        if n % 17 == 0 {
            let got = drain(&mut f)?;
            let already = expected.len() - got.len();
            assert_eq!(got, expected[already..].to_vec());
            assert_eq!(f.position(), wal.end());
        }
    }
    drain(&mut f)?;
    let mut f2 = Follower::open(dir.path())?;
    assert_eq!(drain(&mut f2)?, expected);
    let mut f3 = Follower::open_at(dir.path(), expected[100].0)?;
    assert_eq!(drain(&mut f3)?, expected[100..].to_vec());
    assert!(wal.segments().len() > 3);
    Ok(())
}

#[test]
fn follower_never_yields_half_a_batch() -> Result<()> {
    let dir = tempdir();
    let wal = Wal::open(dir.path(), opts(1 << 16, FsyncPolicy::No))?;
    let a = wal.append(1, b"single")?;
    let batch: Vec<Vec<u8>> = (0..3).map(payload).collect();
    let ps = wal.append_batch(batch.iter().map(|p| (2, &p[..])))?;
    wal.close()?;
    // Erase the batch's last frame, as if the writer had not finished writing it.
    let seg = last_segment(dir.path());
    let mut bytes = std::fs::read(&seg).expect("read segment");
    let last = 32 + ps[2].0 as usize;
    let saved: Vec<u8> = bytes[last..last + 9 + batch[2].len()].to_vec();
    bytes[last..last + saved.len()].fill(0);
    std::fs::write(&seg, &bytes).expect("write segment");
    let mut f = Follower::open(dir.path())?;
    assert_eq!(f.next()?.map(|r| r.position()), Some(a));
    assert!(f.next()?.is_none(), "an incomplete batch is not yielded");
    // The last frame arrives: the whole batch comes out.
    // Written in place (never truncating a file someone has mapped).
    let file = std::fs::OpenOptions::new()
        .write(true)
        .open(&seg)
        .expect("open segment");
    std::os::unix::fs::FileExt::write_all_at(&file, &saved, last as u64).expect("write frame");
    let got: Vec<Position> = drain(&mut f)?.into_iter().map(|r| r.0).collect();
    assert_eq!(got, ps);
    Ok(())
}

#[test]
fn verify_reports_records_and_problems() -> Result<()> {
    let dir = tempdir();
    let wal = Wal::open(dir.path(), opts(4096, FsyncPolicy::No))?;
    let mut positions = Vec::new();
    for n in 0..100 {
        positions.push(wal.append(1, &payload(n))?);
    }
    let segs = wal.segments();
    wal.close()?;
    let report = Follower::open(dir.path())?.verify()?;
    assert!(report.is_clean());
    assert_eq!(report.records, 100);
    assert_eq!(report.segments.len(), segs.len());
    for (c, s) in report.segments.iter().zip(&segs) {
        assert_eq!((c.info.base, c.info.end), (s.base, s.end));
    }
    // Damage a record in the first segment.
    let mut bytes = std::fs::read(&segs[0].path).expect("read segment");
    bytes[32 + positions[2].0 as usize + 10] ^= 0xff;
    std::fs::write(&segs[0].path, &bytes).expect("write segment");
    let report = Follower::open(dir.path())?.verify()?;
    assert!(!report.is_clean());
    let bad = report.segments[0]
        .problem
        .as_ref()
        .expect("first segment has a problem");
    assert!(bad.to_string().contains("checksum"), "{bad}");
    assert_eq!(report.segments[0].records, 2);
    Ok(())
}
