//! Recovery with `Options::covered_below`: covered segments are not scanned on open
//! (their records are checked when read), the segment holding the covered position
//! is scanned from it, and a covered position that disagrees with the log falls back
//! to a full scan.

mod common;

use std::path::Path;

use common::*;
use eddy_wal::{FsyncPolicy, Options, Position, Result, Wal};

const SEG: u64 = 4096;
const HEADER: u64 = 32;

/// Fills a WAL over at least three segments; returns each record's position and
/// payload.
fn build(dir: &Path) -> Result<Vec<(Position, Vec<u8>)>> {
    let wal = Wal::open(dir, opts(SEG, FsyncPolicy::No))?;
    let mut out = Vec::new();
    let mut n = 0;
    while wal.segments().len() < 3 || wal.end().0 - wal.segments()[2].base.0 < 1000 {
        let p = payload(n);
        out.push((wal.append(7, &p)?, p));
        n += 1;
    }
    wal.close()?;
    Ok(out)
}

fn covered(pos: u64) -> Options {
    Options {
        covered_below: pos,
        ..opts(SEG, FsyncPolicy::No)
    }
}

fn flip(path: &Path, at: u64) {
    let mut bytes = std::fs::read(path).expect("read segment");
    bytes[at as usize] ^= 0x10;
    std::fs::write(path, &bytes).expect("write segment");
}

#[test]
fn a_covered_segment_is_not_scanned_but_its_records_are_still_checked() -> Result<()> {
    let dir = ram_tempdir();
    let recs = build(dir.path())?;
    let segs = Wal::open(dir.path(), Options::default())?.segments();
    let victim = recs
        .iter()
        .find(|(p, d)| *p >= segs[0].base && p.0 + 300 < segs[1].base.0 && d.len() > 4)
        .map(|(p, _)| *p)
        .expect("a record in the first segment");
    flip(&segs[0].path, HEADER + victim.0 - segs[0].base.0 + 9);
    // Without a covered position the damage stops the open, as before.
    assert!(Wal::open(dir.path(), Options::default()).is_err());
    // Covered: the open succeeds, the tail reads back, the damaged record does not.
    let wal = Wal::open(dir.path(), covered(segs[2].base.0))?;
    assert!(wal.recovery_report().truncations.is_empty());
    assert_eq!(
        wal.end().0,
        recs.last().map_or(0, |(p, d)| p.0 + 9 + d.len() as u64)
    );
    assert!(wal.read_at(victim).is_err());
    let tail: Vec<_> = recs.iter().filter(|(p, _)| *p >= segs[1].base).collect();
    let read = read_all(&wal, segs[1].base)?;
    assert_eq!(read.len(), tail.len());
    for ((p, _, d), (q, e)) in read.iter().zip(tail) {
        assert_eq!((p, d), (q, e));
    }
    Ok(())
}

#[test]
fn the_segment_holding_the_covered_position_is_scanned_from_it() -> Result<()> {
    let dir = ram_tempdir();
    let recs = build(dir.path())?;
    let segs = Wal::open(dir.path(), Options::default())?.segments();
    let last = &segs[2];
    let in_last: Vec<_> = recs.iter().filter(|(p, _)| *p >= last.base).collect();
    let (early, mid) = (in_last[1].0, in_last[in_last.len() / 2].0);
    // Damage before the covered position goes unnoticed until read...
    flip(&last.path, HEADER + early.0 - last.base.0 + 9);
    let wal = Wal::open(dir.path(), covered(mid.0))?;
    assert!(wal.recovery_report().truncations.is_empty());
    assert!(wal.read_at(early).is_err());
    assert_eq!(
        wal.read_at(mid)?.payload(),
        &in_last[in_last.len() / 2].1[..]
    );
    drop(wal);
    // ...while damage after it is cut exactly as a full scan would.
    let tail = in_last[in_last.len() - 2].0;
    flip(&last.path, HEADER + tail.0 - last.base.0 + 9);
    let wal = Wal::open(dir.path(), covered(mid.0))?;
    let rep = &wal.recovery_report().truncations;
    assert_eq!(rep.len(), 1);
    assert_eq!(rep[0].offset, HEADER + tail.0 - last.base.0);
    assert_eq!(wal.end(), tail);
    Ok(())
}

#[test]
fn a_covered_position_inside_a_frame_falls_back_to_a_full_scan() -> Result<()> {
    let dir = ram_tempdir();
    let recs = build(dir.path())?;
    let wal = Wal::open(dir.path(), Options::default())?;
    let (end, segs) = (wal.end(), wal.segments());
    drop(wal);
    let inside = recs
        .iter()
        .rev()
        .find(|(p, d)| *p >= segs[2].base && d.len() > 20)
        .map(|(p, _)| p.0 + 13)
        .expect("a long record in the last segment");
    let wal = Wal::open(dir.path(), covered(inside))?;
    assert!(wal.recovery_report().truncations.is_empty());
    assert_eq!(wal.end(), end);
    assert_eq!(read_all(&wal, segs[0].base)?.len(), recs.len());
    // A covered position past the end of the data falls back the same way: the
    // log keeps its real end (and the store then reports that the log does not
    // reach its checkpoint).
    drop(wal);
    let wal = Wal::open(dir.path(), covered(end.0 + 100))?;
    assert_eq!(wal.end(), end);
    Ok(())
}
