//! The file-system seam. Every write-side operation the WAL performs on segment files
//! and the directory goes through [`Io`], so tests can inject failures (see
//! [`FaultIo`](crate::FaultIo)). Reads do not: they go through the memory map of the
//! real file, which is why an `Io` hands out real [`File`]s.
//!
//! Not covered by the seam: the `LOCK` file and directory listing, which have no
//! durability role worth faking.

use std::fmt;
use std::fs::{File, OpenOptions};
use std::io;
use std::os::unix::fs::FileExt;
use std::path::Path;

/// File-system operations used by the writer. Implementations must be usable from
/// several threads at once.
pub trait Io: Send + Sync + fmt::Debug {
    /// Creates a new file for reading and writing; fails if it exists.
    fn create_new(&self, path: &Path) -> io::Result<File>;
    /// Opens an existing file for reading and writing.
    fn open_rw(&self, path: &Path) -> io::Result<File>;
    /// Reserves `len` bytes of zeros for the file (never a sparse hole, so that a full
    /// disk is reported here and not later as SIGBUS or a failed write).
    fn allocate(&self, file: &File, path: &Path, len: u64) -> io::Result<()>;
    /// Writes all of `buf` at `offset`.
    fn write_at(&self, file: &File, path: &Path, buf: &[u8], offset: u64) -> io::Result<()>;
    /// Makes the file's data durable (fdatasync).
    fn sync_data(&self, file: &File, path: &Path) -> io::Result<()>;
    /// Renames a file.
    fn rename(&self, from: &Path, to: &Path) -> io::Result<()>;
    /// Deletes a file.
    fn remove_file(&self, path: &Path) -> io::Result<()>;
    /// Makes the directory's entries (created, renamed, deleted files) durable.
    fn sync_dir(&self, dir: &Path) -> io::Result<()>;
}

/// The real file system.
#[derive(Debug, Default, Clone, Copy)]
pub struct RealIo;

impl Io for RealIo {
    fn create_new(&self, path: &Path) -> io::Result<File> {
        OpenOptions::new()
            .read(true)
            .write(true)
            .create_new(true)
            .open(path)
    }

    fn open_rw(&self, path: &Path) -> io::Result<File> {
        OpenOptions::new().read(true).write(true).open(path)
    }

    fn allocate(&self, file: &File, _path: &Path, len: u64) -> io::Result<()> {
        match rustix::fs::fallocate(file, rustix::fs::FallocateFlags::empty(), 0, len) {
            Ok(()) => Ok(()),
            // Some file systems cannot fallocate; writing the zeros gives the same
            // guarantee (blocks allocated now, or ENOSPC now).
            Err(e) if e == rustix::io::Errno::OPNOTSUPP || e == rustix::io::Errno::NOSYS => {
                write_zeros(file, 0, len)
            }
            Err(e) => Err(e.into()),
        }
    }

    fn write_at(&self, file: &File, _path: &Path, buf: &[u8], offset: u64) -> io::Result<()> {
        file.write_all_at(buf, offset)
    }

    fn sync_data(&self, file: &File, _path: &Path) -> io::Result<()> {
        rustix::fs::fdatasync(file).map_err(io::Error::from)
    }

    fn rename(&self, from: &Path, to: &Path) -> io::Result<()> {
        std::fs::rename(from, to)
    }

    fn remove_file(&self, path: &Path) -> io::Result<()> {
        std::fs::remove_file(path)
    }

    fn sync_dir(&self, dir: &Path) -> io::Result<()> {
        File::open(dir)?.sync_all()
    }
}

/// Writes `len` zero bytes at `offset`, in chunks.
pub(crate) fn write_zeros(file: &File, offset: u64, len: u64) -> io::Result<()> {
    const CHUNK: u64 = 1 << 20;
    let zeros = vec![0u8; CHUNK.min(len) as usize];
    let mut done = 0;
    while done < len {
        let n = CHUNK.min(len - done) as usize;
        file.write_all_at(&zeros[..n], offset + done)?;
        done += n as u64;
    }
    Ok(())
}
