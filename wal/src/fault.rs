//! [`FaultIo`]: an [`Io`] over the real file system that can fail on demand and
//! simulate a power cut. It is public so that integration tests (here and in the
//! engine) can use it; it is never used by default.
//!
//! Power-cut model: every write is applied to the real file at once (so reads through
//! the memory map see it, as they would see the page cache), and the bytes it
//! overwrote are remembered until the next successful `sync_data` of that file.
//! [`FaultIo::power_cut`] writes those old bytes back, newest first, which leaves each
//! file as it was at its last fdatasync, and then fails every later operation (the
//! "machine" is off). Directory entries are not modelled: the WAL syncs the directory
//! right after each create, rename and delete.

use std::collections::HashMap;
use std::fs::File;
use std::io;
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, AtomicI64, Ordering};

use crate::io::{Io, RealIo};

/// Per file: `(offset, bytes overwritten)` of each write since the file's last sync.
type UndoLog = HashMap<PathBuf, Vec<(u64, Vec<u8>)>>;

/// A fault-injecting [`Io`]; see the module documentation.
#[derive(Debug, Default)]
pub struct FaultIo {
    /// Writes left before writes fail (negative: never fail).
    writes_left: AtomicI64,
    /// Syncs left before syncs fail (negative: never fail).
    syncs_left: AtomicI64,
    enospc_on_allocate: AtomicBool,
    fail_remove: AtomicBool,
    dead: AtomicBool,
    /// Per file: (offset, overwritten bytes) of every write since its last sync.
    undo: Mutex<UndoLog>,
}

fn injected(what: &str) -> io::Error {
    io::Error::other(format!("injected {what} failure"))
}

impl FaultIo {
    /// A `FaultIo` that injects nothing until told to.
    pub fn new() -> Self {
        FaultIo {
            writes_left: AtomicI64::new(-1),
            syncs_left: AtomicI64::new(-1),
            ..Default::default()
        }
    }

    /// After `n` more successful writes, every write fails (EIO-like). `None`: never.
    pub fn fail_writes_after(&self, n: Option<u32>) {
        self.writes_left
            .store(n.map_or(-1, i64::from), Ordering::SeqCst);
    }

    /// After `n` more successful fdatasyncs, every fdatasync fails. `None`: never.
    pub fn fail_syncs_after(&self, n: Option<u32>) {
        self.syncs_left
            .store(n.map_or(-1, i64::from), Ordering::SeqCst);
    }

    /// While set, preallocating a file fails with ENOSPC.
    pub fn set_enospc_on_allocate(&self, on: bool) {
        self.enospc_on_allocate.store(on, Ordering::SeqCst);
    }

    /// While set, deleting a file fails.
    pub fn set_fail_remove(&self, on: bool) {
        self.fail_remove.store(on, Ordering::SeqCst);
    }

    /// Simulates a power cut: reverts every byte written since the last fdatasync of
    /// its file, then makes every later operation fail.
    ///
    /// # Errors
    /// If writing the old bytes back fails.
    pub fn power_cut(&self) -> io::Result<()> {
        self.dead.store(true, Ordering::SeqCst);
        let mut undo = self.undo.lock().unwrap_or_else(|e| e.into_inner());
        for (path, writes) in undo.drain() {
            let Ok(file) = std::fs::OpenOptions::new().write(true).open(&path) else {
                continue; // deleted since: nothing to revert
            };
            for (offset, old) in writes.iter().rev() {
                file.write_all_at(old, *offset)?;
            }
        }
        Ok(())
    }

    /// Bytes written and not yet synced, over all files.
    pub fn unsynced_bytes(&self) -> u64 {
        let undo = self.undo.lock().unwrap_or_else(|e| e.into_inner());
        undo.values().flatten().map(|(_, b)| b.len() as u64).sum()
    }

    fn check_alive(&self) -> io::Result<()> {
        if self.dead.load(Ordering::SeqCst) {
            return Err(injected("power-cut"));
        }
        Ok(())
    }

    /// Consumes one unit of a countdown; `Err` once it has run out.
    fn countdown(counter: &AtomicI64, what: &str) -> io::Result<()> {
        let prev = counter
            .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |v| {
                if v > 0 { Some(v - 1) } else { None }
            })
            .unwrap_or_else(|v| v);
        if prev == 0 {
            return Err(injected(what));
        }
        Ok(())
    }
}

impl Io for FaultIo {
    fn create_new(&self, path: &Path) -> io::Result<File> {
        self.check_alive()?;
        RealIo.create_new(path)
    }

    fn open_rw(&self, path: &Path) -> io::Result<File> {
        self.check_alive()?;
        RealIo.open_rw(path)
    }

    fn allocate(&self, file: &File, path: &Path, len: u64) -> io::Result<()> {
        self.check_alive()?;
        if self.enospc_on_allocate.load(Ordering::SeqCst) {
            return Err(rustix::io::Errno::NOSPC.into());
        }
        RealIo.allocate(file, path, len)
    }

    fn write_at(&self, file: &File, path: &Path, buf: &[u8], offset: u64) -> io::Result<()> {
        self.check_alive()?;
        Self::countdown(&self.writes_left, "write")?;
        // The lock is held across the write so that a sync never runs between the
        // undo entry and the write it describes.
        let mut undo = self.undo.lock().unwrap_or_else(|e| e.into_inner());
        let mut old = vec![0u8; buf.len()];
        let n = file.read_at(&mut old, offset)?;
        old.truncate(n);
        undo.entry(path.to_path_buf())
            .or_default()
            .push((offset, old));
        RealIo.write_at(file, path, buf, offset)
    }

    fn sync_data(&self, file: &File, path: &Path) -> io::Result<()> {
        self.check_alive()?;
        Self::countdown(&self.syncs_left, "fdatasync")?;
        // Forget the undo entries first: once the call returns, they are durable.
        let mut undo = self.undo.lock().unwrap_or_else(|e| e.into_inner());
        RealIo.sync_data(file, path)?;
        undo.remove(path);
        Ok(())
    }

    fn rename(&self, from: &Path, to: &Path) -> io::Result<()> {
        self.check_alive()?;
        RealIo.rename(from, to)?;
        let mut undo = self.undo.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(w) = undo.remove(from) {
            undo.insert(to.to_path_buf(), w);
        }
        Ok(())
    }

    fn remove_file(&self, path: &Path) -> io::Result<()> {
        self.check_alive()?;
        if self.fail_remove.load(Ordering::SeqCst) {
            return Err(injected("remove"));
        }
        RealIo.remove_file(path)?;
        self.undo
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .remove(path);
        Ok(())
    }

    fn sync_dir(&self, dir: &Path) -> io::Result<()> {
        self.check_alive()?;
        RealIo.sync_dir(dir)
    }
}
