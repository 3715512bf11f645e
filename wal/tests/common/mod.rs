//! Helpers shared by the integration tests (each test file includes this module).
#![allow(dead_code)]

use std::path::Path;

use eddy_wal::{FsyncPolicy, Options, Position, Result, Wal};

pub fn tempdir() -> tempfile::TempDir {
    tempfile::tempdir().expect("create a temporary directory")
}

/// A temporary directory on a RAM file system when there is one: for tests that
/// reopen a WAL thousands of times and check logic, not the disk.
pub fn ram_tempdir() -> tempfile::TempDir {
    let shm = Path::new("/dev/shm");
    if shm.is_dir()
        && let Ok(d) = tempfile::tempdir_in(shm)
    {
        return d;
    }
    tempdir()
}

pub fn opts(segment_size: u64, fsync: FsyncPolicy) -> Options {
    Options {
        segment_size,
        fsync,
        ..Options::default()
    }
}

/// A deterministic payload for record number `n`, of varying length.
pub fn payload(n: u64) -> Vec<u8> {
    let len = (n * 37 % 200) as usize;
    (0..len).map(|i| (n as usize * 31 + i) as u8).collect()
}

/// Every record from `from` on, as (position, kind, payload).
pub fn read_all(wal: &Wal, from: Position) -> Result<Vec<(Position, u8, Vec<u8>)>> {
    let mut r = wal.reader(from);
    let mut out = Vec::new();
    while let Some(rec) = r.next()? {
        out.push((rec.position(), rec.kind(), rec.payload().to_vec()));
    }
    Ok(out)
}

/// The only segment file's path, or the last one's.
pub fn last_segment(dir: &Path) -> std::path::PathBuf {
    let mut v: Vec<_> = std::fs::read_dir(dir)
        .expect("list dir")
        .map(|e| e.expect("dir entry").path())
        .filter(|p| p.extension().is_some_and(|e| e == "wal"))
        .collect();
    v.sort();
    v.pop().expect("a segment file")
}
