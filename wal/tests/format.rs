//! Pins the on-disk format of docs/format.md: what the writer produces byte for byte,
//! and that a checked-in version-1 segment still reads.

mod common;

use common::*;
use eddy_wal::{Follower, FsyncPolicy, Options, Position, Result, Wal};

const FIXTURE: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/tests/fixtures/v1/00000000000000000000.wal"
);

/// The example of docs/format.md.
const EXAMPLE: [u8; 72] = [
    0x45, 0x44, 0x44, 0x59, 0x57, 0x41, 0x4c, 0x00, 0x01, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
    0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0xd9, 0x5b, 0xa6, 0x11,
    0x02, 0x00, 0x00, 0x00, 0x76, 0x8b, 0xc9, 0x67, 0x01, 0x68, 0x69, 0x02, 0x00, 0x00, 0x00, 0x6e,
    0x4c, 0xaa, 0xc2, 0x82, 0x61, 0x62, 0x01, 0x00, 0x00, 0x00, 0x9f, 0x40, 0x54, 0xa7, 0x02, 0x63,
    0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
];

fn expected_records() -> Vec<(Position, u8, Vec<u8>)> {
    vec![
        (Position(0), 1, b"hi".to_vec()),
        (Position(11), 2, b"ab".to_vec()),
        (Position(22), 2, b"c".to_vec()),
    ]
}

#[test]
fn writer_produces_the_documented_bytes() -> Result<()> {
    let dir = tempdir();
    let wal = Wal::open(dir.path(), opts(4096, FsyncPolicy::No))?;
    assert_eq!(wal.append(1, b"hi")?, Position(0));
    assert_eq!(
        wal.append_batch([(2, &b"ab"[..]), (2, &b"c"[..])])?,
        vec![Position(11), Position(22)]
    );
    assert_eq!(wal.end(), Position(32));
    wal.close()?;
    let bytes = std::fs::read(dir.path().join("00000000000000000000.wal")).expect("read segment");
    assert_eq!(bytes.len(), 4096, "preallocated to the segment size");
    assert_eq!(&bytes[..72], &EXAMPLE[..]);
    assert!(bytes[72..].iter().all(|&b| b == 0));
    Ok(())
}

#[test]
fn version_1_fixture_still_reads() -> Result<()> {
    let fixture = std::fs::read(FIXTURE).expect("read fixture");
    assert_eq!(fixture, EXAMPLE);
    let dir = tempdir();
    std::fs::copy(FIXTURE, dir.path().join("00000000000000000000.wal")).expect("copy fixture");
    let mut f = Follower::open(dir.path())?;
    let mut got = Vec::new();
    while let Some(r) = f.next()? {
        got.push((r.position(), r.kind(), r.payload().to_vec()));
    }
    assert_eq!(got, expected_records());
    // The writer opens it too (the short file is simply full) and carries on.
    let wal = Wal::open(
        dir.path(),
        Options {
            segment_size: 4096,
            ..Options::default()
        },
    )?;
    assert!(wal.recovery_report().truncations.is_empty());
    assert_eq!(read_all(&wal, Position(0))?, expected_records());
    let p = wal.append(3, b"next")?;
    assert_eq!(p, Position(32));
    assert_eq!(wal.segments().len(), 2);
    Ok(())
}
