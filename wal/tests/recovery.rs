//! Recovery: torn tails at every byte, flipped bytes, garbage, Strict and Tolerant.

mod common;

use std::path::Path;

use common::*;
use eddy_wal::{Error, FsyncPolicy, Options, Position, RecoveryMode, Result, Wal};

const SEG: u64 = 4096;
const HEADER: u64 = 32;

/// What a test WAL holds: each record's (position, kind, payload, end of its batch).
struct Written {
    records: Vec<(Position, u8, Vec<u8>, Position)>,
}

/// Fills a WAL so that it has at least two segments and ends with single records and
/// a batch of three in its last segment.
fn build(dir: &Path) -> Result<Written> {
    let wal = Wal::open(dir, opts(SEG, FsyncPolicy::No))?;
    let mut records = Vec::new();
    let mut n = 0;
    while wal.segments().len() < 2 || wal.end().0 - wal.segments()[1].base.0 < 300 {
        let p = payload(n);
        let pos = wal.append(7, &p)?;
        records.push((pos, 7, p, wal.end()));
        n += 1;
    }
    let batch: Vec<Vec<u8>> = (100..103).map(payload).collect();
    let pos = wal.append_batch(batch.iter().map(|p| (9, &p[..])))?;
    let end = wal.end();
    for (p, b) in pos.iter().zip(batch) {
        records.push((*p, 9, b, end));
    }
    let p = payload(200);
    let pos = wal.append(3, &p)?;
    records.push((pos, 3, p, wal.end()));
    wal.close()?;
    Ok(Written { records })
}

/// Removes segment files created after `last` by a previous iteration's appends.
fn remove_segments_after(dir: &Path, last: &Path) {
    for e in std::fs::read_dir(dir).expect("list dir") {
        let p = e.expect("dir entry").path();
        if p.extension().is_some_and(|x| x == "wal") && p.as_path() > last {
            std::fs::remove_file(&p).expect("remove segment");
        }
    }
}

fn contents(wal: &Wal) -> Result<Vec<(Position, u8, Vec<u8>)>> {
    read_all(wal, wal.start())
}

fn expect_upto(w: &Written, cut_pos: u64) -> Vec<(Position, u8, Vec<u8>)> {
    w.records
        .iter()
        .filter(|r| r.3.0 <= cut_pos)
        .map(|(p, k, d, _)| (*p, *k, d.clone()))
        .collect()
}

#[test]
fn cut_at_every_byte_of_the_last_records_recovers_exactly_the_complete_ones() -> Result<()> {
    let dir = ram_tempdir();
    let w = build(dir.path())?;
    let seg_path = last_segment(dir.path());
    let original = std::fs::read(&seg_path).expect("read segment");
    let seg_base = Wal::open(dir.path(), Options::default())?.segments()[1]
        .base
        .0;
    let last_end = w.records.last().expect("records").3.0;
    // From the start of the sixth-last record to the end of the data.
    let from = w.records[w.records.len() - 6].0.0;
    for cut_pos in from..=last_end {
        let cut = (HEADER + cut_pos - seg_base) as usize;
        for truncate_file in [true, false] {
            let mut bytes = original.clone();
            if truncate_file {
                bytes.truncate(cut);
            } else {
                bytes[cut..].fill(0);
            }
            std::fs::write(&seg_path, &bytes).expect("write segment");
            remove_segments_after(dir.path(), &seg_path);
            let wal = Wal::open(dir.path(), opts(SEG, FsyncPolicy::No))?;
            let expected = expect_upto(&w, cut_pos);
            let got = contents(&wal)?;
            // Compared by position only first, to keep a failure message short.
            let pos_of = |v: &[(Position, u8, Vec<u8>)]| v.iter().map(|r| r.0).collect::<Vec<_>>();
            assert_eq!(
                pos_of(&got),
                pos_of(&expected),
                "cut at {cut_pos} (truncate {truncate_file})"
            );
            assert!(got == expected, "cut at {cut_pos}: contents differ");
            let end = expected.last().map_or(Position(seg_base), |r| {
                Position(r.0.0 + 9 + r.2.len() as u64)
            });
            assert_eq!(wal.end(), end);
            // A fresh append lands at the cut and reads back after another reopen.
            let pos = wal.append(1, b"after")?;
            assert_eq!(pos, end);
            drop(wal);
            let wal = Wal::open(dir.path(), opts(SEG, FsyncPolicy::No))?;
            assert!(wal.recovery_report().truncations.is_empty());
            assert_eq!(wal.read_at(pos)?.payload(), b"after");
            assert_eq!(contents(&wal)?.len(), expected.len() + 1);
        }
    }
    Ok(())
}

#[test]
fn flipped_byte_in_the_last_segment_is_caught_and_cut() -> Result<()> {
    let dir = ram_tempdir();
    let w = build(dir.path())?;
    let seg_path = last_segment(dir.path());
    let original = std::fs::read(&seg_path).expect("read segment");
    let seg_base = Wal::open(dir.path(), Options::default())?.segments()[1]
        .base
        .0;
    // The second-last single record before the batch.
    let victim = &w.records[w.records.len() - 5];
    let (vpos, vlen) = (victim.0.0, 9 + victim.2.len() as u64);
    for i in 0..vlen {
        let mut bytes = original.clone();
        let at = (HEADER + vpos - seg_base + i) as usize;
        bytes[at] ^= 0x5a;
        std::fs::write(&seg_path, &bytes).expect("write segment");
        let wal = Wal::open(dir.path(), opts(SEG, FsyncPolicy::No))?;
        let rep = &wal.recovery_report().truncations;
        assert_eq!(rep.len(), 1, "flip at byte {i}");
        assert_eq!(rep[0].offset, HEADER + vpos - seg_base);
        assert_eq!(rep[0].segment, seg_path);
        assert_eq!(contents(&wal)?, expect_upto(&w, vpos), "flip at byte {i}");
    }
    Ok(())
}

#[test]
fn flipped_byte_in_an_earlier_segment_is_an_error_unless_tolerant() -> Result<()> {
    let dir = ram_tempdir();
    let w = build(dir.path())?;
    let wal = Wal::open(dir.path(), Options::default())?;
    let first = wal.segments()[0].clone();
    let second_base = wal.segments()[1].base;
    drop(wal);
    let mut bytes = std::fs::read(&first.path).expect("read segment");
    let victim = &w.records[3];
    let at = HEADER + victim.0.0 + 9; // first payload byte
    bytes[at as usize] ^= 1;
    std::fs::write(&first.path, &bytes).expect("write segment");

    match Wal::open(dir.path(), Options::default()) {
        Err(Error::Corrupt {
            segment, offset, ..
        }) => {
            assert_eq!((segment, offset), (first.path.clone(), at - 9));
        }
        other => panic!("expected Corrupt, got {other:?}"),
    }
    let tolerant = Options {
        recovery: RecoveryMode::Tolerant,
        ..opts(SEG, FsyncPolicy::No)
    };
    let wal = Wal::open(dir.path(), tolerant.clone())?;
    let rep = &wal.recovery_report().truncations;
    assert_eq!(rep.len(), 1);
    assert_eq!(
        (rep[0].segment.clone(), rep[0].offset),
        (first.path.clone(), at - 9)
    );
    // The first three records, then a gap, then everything from the second segment.
    let expected: Vec<_> = w
        .records
        .iter()
        .filter(|r| r.3 <= victim.0 || r.0 >= second_base)
        .map(|(p, k, d, _)| (*p, *k, d.clone()))
        .collect();
    assert_eq!(contents(&wal)?, expected);
    let pos = wal.append(1, b"more")?;
    drop(wal);
    let wal = Wal::open(dir.path(), tolerant)?;
    assert!(
        wal.recovery_report().truncations.is_empty(),
        "the cut is not reported twice"
    );
    assert_eq!(wal.read_at(pos)?.payload(), b"more");
    Ok(())
}

#[test]
fn garbage_after_the_last_record_is_cut_and_never_resurfaces() -> Result<()> {
    for zeros_first in [0usize, 8, 100] {
        let dir = ram_tempdir();
        let w = build(dir.path())?;
        let seg_path = last_segment(dir.path());
        let mut bytes = std::fs::read(&seg_path).expect("read segment");
        let seg_base = Wal::open(dir.path(), Options::default())?.segments()[1]
            .base
            .0;
        let end = (HEADER + w.records.last().expect("records").3.0 - seg_base) as usize;
        for (i, b) in bytes[end + zeros_first..end + zeros_first + 300]
            .iter_mut()
            .enumerate()
        {
            *b = (i as u8).wrapping_mul(17) | 1;
        }
        std::fs::write(&seg_path, &bytes).expect("write segment");
        let wal = Wal::open(dir.path(), opts(SEG, FsyncPolicy::No))?;
        let rep = &wal.recovery_report().truncations;
        assert_eq!(rep.len(), 1, "zeros first: {zeros_first}");
        assert_eq!(
            (rep[0].offset, rep[0].bytes_dropped),
            (end as u64, (zeros_first + 300) as u64)
        );
        assert_eq!(contents(&wal)?, expect_upto(&w, u64::MAX));
        let after = std::fs::read(&seg_path).expect("read segment");
        assert!(
            after[end..].iter().all(|&b| b == 0),
            "the cut is zeroed on disk"
        );
        // Appends that end exactly where garbage frames started must not revive them.
        for k in 0..20u8 {
            wal.append(k, &[k; 7])?;
        }
        drop(wal);
        let wal = Wal::open(dir.path(), opts(SEG, FsyncPolicy::No))?;
        assert!(wal.recovery_report().truncations.is_empty());
        assert_eq!(contents(&wal)?.len(), w.records.len() + 20);
    }
    Ok(())
}

#[test]
fn torn_batch_is_dropped_whole() -> Result<()> {
    let dir = ram_tempdir();
    let w = build(dir.path())?;
    let seg_path = last_segment(dir.path());
    let seg_base = Wal::open(dir.path(), Options::default())?.segments()[1]
        .base
        .0;
    // Drop the last single record and the batch's last frame: the batch's first two
    // frames are intact but the batch never completed.
    let batch_last = &w.records[w.records.len() - 2];
    let mut bytes = std::fs::read(&seg_path).expect("read segment");
    bytes[(HEADER + batch_last.0.0 - seg_base) as usize..].fill(0);
    std::fs::write(&seg_path, &bytes).expect("write segment");
    let wal = Wal::open(dir.path(), opts(SEG, FsyncPolicy::No))?;
    let batch_first = w.records[w.records.len() - 4].0;
    assert_eq!(wal.end(), batch_first);
    assert_eq!(
        wal.recovery_report().truncations[0].reason,
        "batch not completed"
    );
    assert_eq!(contents(&wal)?, expect_upto(&w, batch_first.0));
    Ok(())
}

#[test]
fn bad_header_and_discontinuity_are_errors() -> Result<()> {
    let dir = ram_tempdir();
    build(dir.path())?;
    let seg_path = last_segment(dir.path());
    let original = std::fs::read(&seg_path).expect("read segment");
    let mut bytes = original.clone();
    bytes[3] ^= 1;
    std::fs::write(&seg_path, &bytes).expect("write segment");
    assert!(matches!(
        Wal::open(dir.path(), Options::default()),
        Err(Error::Corrupt { offset: 0, .. })
    ));
    // A segment whose name does not match its header.
    std::fs::write(&seg_path, &original).expect("write segment");
    let renamed = dir.path().join("00000000000000999999.wal");
    std::fs::rename(&seg_path, &renamed).expect("rename");
    assert!(matches!(
        Wal::open(dir.path(), Options::default()),
        Err(Error::Corrupt { .. })
    ));
    Ok(())
}

#[test]
fn interrupted_segment_creation_leaves_nothing_behind() -> Result<()> {
    let dir = ram_tempdir();
    build(dir.path())?;
    let tmp = dir.path().join("00000000000000099999.wal.tmp");
    std::fs::write(&tmp, b"half-made").expect("write tmp");
    let wal = Wal::open(dir.path(), Options::default())?;
    assert!(!tmp.exists());
    assert_eq!(wal.segments().len(), 2);
    Ok(())
}

/// Counts WARN events and remembers their fields, without a subscriber crate.
#[derive(Default)]
struct WarnCounter {
    warnings: std::sync::Mutex<Vec<String>>,
}

struct Fields(String);

impl tracing::field::Visit for Fields {
    fn record_debug(&mut self, field: &tracing::field::Field, value: &dyn std::fmt::Debug) {
        self.0.push_str(&format!("{}={:?} ", field.name(), value));
    }
}

impl tracing::Subscriber for WarnCounter {
    fn enabled(&self, _: &tracing::Metadata<'_>) -> bool {
        true
    }
    fn new_span(&self, _: &tracing::span::Attributes<'_>) -> tracing::span::Id {
        tracing::span::Id::from_u64(1)
    }
    fn record(&self, _: &tracing::span::Id, _: &tracing::span::Record<'_>) {}
    fn record_follows_from(&self, _: &tracing::span::Id, _: &tracing::span::Id) {}
    fn event(&self, event: &tracing::Event<'_>) {
        if *event.metadata().level() == tracing::Level::WARN {
            let mut f = Fields(String::new());
            event.record(&mut f);
            self.warnings.lock().expect("warnings").push(f.0);
        }
    }
    fn enter(&self, _: &tracing::span::Id) {}
    fn exit(&self, _: &tracing::span::Id) {}
}

#[test]
fn a_cut_is_logged_as_a_tracing_warning() -> Result<()> {
    let dir = ram_tempdir();
    let w = build(dir.path())?;
    let seg_path = last_segment(dir.path());
    let mut bytes = std::fs::read(&seg_path).expect("read segment");
    let n = bytes.len();
    bytes[n - 10] = 0xee; // garbage near the end of the file
    std::fs::write(&seg_path, &bytes).expect("write segment");
    let sub = std::sync::Arc::new(WarnCounter::default());
    let wal = tracing::subscriber::with_default(sub.clone(), || {
        Wal::open(dir.path(), opts(SEG, FsyncPolicy::No))
    })?;
    assert_eq!(contents(&wal)?.len(), w.records.len());
    let warnings = sub.warnings.lock().expect("warnings").clone();
    assert_eq!(warnings.len(), 1, "{warnings:?}");
    assert!(
        warnings[0].contains(&format!("{}", seg_path.display())),
        "{}",
        warnings[0]
    );
    assert!(warnings[0].contains("bytes_dropped="), "{}", warnings[0]);
    Ok(())
}
