//! Read-only memory maps of segment files: the only module with `unsafe`.
//!
//! Owns the one call to `memmap2::Mmap::map` and the invariants that make it sound.
//! Does not decide what is read: callers (reader, recovery, follower) only look at
//! bytes the writer has finished writing.
#![allow(unsafe_code)]

use std::fs::File;
use std::io;

/// A read-only map of a whole segment file.
#[derive(Debug)]
pub(crate) struct Map {
    map: memmap2::Mmap,
}

impl Map {
    /// Maps all of `file` read-only.
    pub(crate) fn of(file: &File) -> io::Result<Map> {
        // SAFETY: memmap2 requires that the file is not truncated (which would turn
        // reads into SIGBUS) and that mapped bytes are not changed while a reference to
        // them is alive. (1) Segment files are preallocated to their full length before
        // they are mapped and the WAL never shrinks them: recovery cuts a torn tail by
        // writing zeros, retention deletes whole files (the mapping stays valid after
        // unlink). (2) Readers only form slices of records below the published written
        // end; those bytes are written once before publication and never again while
        // the WAL is open. Recovery rewrites bytes only before any reader exists.
        // A follower in another process reads the tail while it is being written; it
        // copies nothing out of a frame until the CRC over it checks, and a frame whose
        // bytes are still changing fails that check and is read again later.
        let map = unsafe { memmap2::Mmap::map(file)? };
        Ok(Map { map })
    }

    /// The mapped bytes.
    pub(crate) fn bytes(&self) -> &[u8] {
        &self.map
    }
}
