//! [`Wal`]: opening (lock + recovery), appending, group commit, the `everysec`
//! flusher, retention and closing. Owns the single-writer state and the durability
//! bookkeeping. Does not decode records (reader) or decide what a torn tail is
//! (recovery).
//!
//! Concurrency: appenders encode and `pwrite` under the writer mutex, then publish the
//! new end (`written_end`, and the active segment's end for readers).
//!
//! Buffered writes ([`Wal::set_buffered_writes`]): appends are framed into the
//! writer's buffer and get their positions at once, but reach the file only on
//! [`Wal::flush`], a read of a position not yet written, a sync, a roll, or when the
//! buffer passes [`FLUSH_AT`]; so a server that answers a batch of clients at a time
//! writes their records with one `pwrite`. Readers and durability only ever see what
//! was written (`flushed_end`). Durability uses
//! "leader syncs, followers wait": the first waiter whose position is not yet durable
//! becomes the leader, snapshots `written_end`, runs one fdatasync without holding any
//! lock and publishes `durable_end`; everyone who arrived meanwhile waits on the condvar
//! and is usually covered by that same sync or the next one.

use std::fs::File;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU8, AtomicU64, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard, RwLock};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use crate::io::Io;
use crate::reader::{Reader, RecordRef};
use crate::record::{self, BATCH_CONTINUES, FRAME_HEADER_LEN, MAX_KIND, MAX_RECORD_LEN};
use crate::segment::{HEADER_LEN, Segment, ZERO_AHEAD, ZERO_CHUNK, ZEROS};
use crate::{
    Error, FsyncPolicy, MAX_SEGMENT_SIZE, MIN_SEGMENT_SIZE, Options, Position, RecoveryReport,
    Result, SegmentInfo, recovery,
};

/// Name of the lock file in the WAL directory.
pub(crate) const LOCK_FILE: &str = "LOCK";

/// A reused encode buffer larger than this is given back after use.
const KEEP_BUF: usize = 1 << 20;

/// With buffered writes, a buffer that reaches this size is written at once.
pub const FLUSH_AT: usize = 256 * 1024;

/// The WAL. `Send + Sync`: share it with `Arc<Wal>`.
#[derive(Debug)]
pub struct Wal {
    inner: Arc<Inner>,
    report: RecoveryReport,
    flusher: Option<JoinHandle<()>>,
    /// Held for the lifetime of the `Wal`; dropping it releases the lock.
    _lock: File,
}

#[derive(Debug)]
pub(crate) struct Inner {
    pub(crate) dir: PathBuf,
    io: Arc<dyn Io>,
    segment_size: u64,
    /// Every segment still held, oldest first; the last one is the active one.
    pub(crate) segments: RwLock<Vec<Arc<Segment>>>,
    writer: Mutex<WriterState>,
    /// Position after the last record appended (published after the bytes are
    /// written, or buffered when writes are buffered).
    pub(crate) written_end: AtomicU64,
    /// Position after the last record actually written to the file.
    flushed_end: AtomicU64,
    /// Appends stay in the writer's buffer until a flush.
    buffered: AtomicBool,
    /// Every record before this position is durable.
    durable_end: AtomicU64,
    sync_state: Mutex<SyncState>,
    sync_cv: Condvar,
    poisoned: AtomicBool,
    policy: AtomicU8,
    stop: Mutex<bool>,
    stop_cv: Condvar,
}

#[derive(Debug)]
struct WriterState {
    active: Arc<Segment>,
    /// File offset of the next frame in the active segment (buffered frames
    /// included).
    write_off: u64,
    /// Framed bytes not yet written; they belong at `write_off - buf.len()`.
    buf: Vec<u8>,
    /// File offset up to which the active segment's blocks are written (with
    /// records or zeros): see `segment::ZERO_AHEAD`.
    zeroed_to: u64,
    /// A roll failed: the next append must roll first. A failed roll may have left a
    /// file named after the active segment's end; appending more to the active
    /// segment would move its end past that file's base.
    must_roll: bool,
}

#[derive(Debug, Default)]
struct SyncState {
    /// A leader is running an fdatasync.
    syncing: bool,
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    // A panic while holding one of these locks cannot leave the protected state
    // half-updated in a way later code relies on (counters are atomics, the file is
    // checked by recovery), so a poisoned mutex is used as is.
    m.lock().unwrap_or_else(|e| e.into_inner())
}

impl Wal {
    /// Opens (creating if needed) the WAL in `dir`: takes the exclusive `LOCK`,
    /// recovers the segments (see [`RecoveryMode`](crate::RecoveryMode)) and starts the
    /// `everysec` flusher.
    ///
    /// # Errors
    /// `Locked` if another `Wal` holds the directory, `Corrupt` for corruption recovery
    /// may not cut, `InvalidSegmentSize`, `Io`.
    pub fn open(dir: impl AsRef<Path>, opts: Options) -> Result<Wal> {
        let dir = dir.as_ref().to_path_buf();
        if !(MIN_SEGMENT_SIZE..=MAX_SEGMENT_SIZE).contains(&opts.segment_size) {
            return Err(Error::InvalidSegmentSize {
                size: opts.segment_size,
                min: MIN_SEGMENT_SIZE,
                max: MAX_SEGMENT_SIZE,
            });
        }
        std::fs::create_dir_all(&dir).map_err(|e| Error::io("create dir", &dir, e))?;
        let lock_path = dir.join(LOCK_FILE);
        let lock_file = std::fs::OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .open(&lock_path)
            .map_err(|e| Error::io("open", &lock_path, e))?;
        match lock_file.try_lock() {
            Ok(()) => {}
            Err(std::fs::TryLockError::WouldBlock) => return Err(Error::Locked { dir }),
            Err(std::fs::TryLockError::Error(e)) => return Err(Error::io("lock", &lock_path, e)),
        }

        let (segments, report) = recovery::recover(
            &dir,
            &*opts.io,
            opts.segment_size,
            opts.recovery,
            opts.covered_below,
        )?;
        let active = segments.last().cloned().ok_or_else(|| {
            Error::io(
                "recover",
                &dir,
                std::io::Error::other("no segment after recovery"),
            )
        })?;
        let end = active.end();
        let write_off = active.offset_of(end);
        let inner = Arc::new(Inner {
            dir,
            io: opts.io,
            segment_size: opts.segment_size,
            segments: RwLock::new(segments),
            writer: Mutex::new(WriterState {
                active,
                write_off,
                buf: Vec::new(),
                // Unknown beyond the recovered end: the first write zeroes ahead.
                zeroed_to: write_off,
                must_roll: false,
            }),
            written_end: AtomicU64::new(end),
            flushed_end: AtomicU64::new(end),
            buffered: AtomicBool::new(false),
            // Recovery synced the last segment: everything found on open is durable.
            durable_end: AtomicU64::new(end),
            sync_state: Mutex::new(SyncState::default()),
            sync_cv: Condvar::new(),
            poisoned: AtomicBool::new(false),
            policy: AtomicU8::new(opts.fsync.as_u8()),
            stop: Mutex::new(false),
            stop_cv: Condvar::new(),
        });
        let flusher = {
            let inner = Arc::clone(&inner);
            std::thread::Builder::new()
                .name("eddy-wal-flush".into())
                .spawn(move || inner.flush_loop())
                .map_err(|e| Error::io("spawn flusher", &lock_path, e))?
        };
        Ok(Wal {
            inner,
            report,
            flusher: Some(flusher),
            _lock: lock_file,
        })
    }

    /// What recovery cut when this WAL was opened.
    pub fn recovery_report(&self) -> &RecoveryReport {
        &self.report
    }

    /// Appends one record. Under `always`, returns only once it is durable.
    ///
    /// # Errors
    /// `InvalidKind`, `RecordTooLarge`, `Poisoned`, `Io` (which poisons the WAL, except
    /// a failure to create a new segment, which leaves it usable).
    pub fn append(&self, kind: u8, payload: &[u8]) -> Result<Position> {
        let (pos, _) = self.inner.write_frames(&[(kind, payload)])?;
        self.wait_if_always(pos)?;
        Ok(pos)
    }

    /// Appends records as an atomic batch: after a crash, all of them are there or
    /// none. The batch is written into one segment. Returns each record's position;
    /// under `always`, returns once the batch is durable.
    ///
    /// # Errors
    /// As [`Wal::append`], plus `BatchTooLarge` if the batch does not fit in a segment.
    pub fn append_batch<'a>(
        &self,
        records: impl IntoIterator<Item = (u8, &'a [u8])>,
    ) -> Result<Vec<Position>> {
        let positions = self.append_batch_nowait(records)?;
        if let Some(&last) = positions.last() {
            self.wait_if_always(last)?;
        }
        Ok(positions)
    }

    /// As [`Wal::append`] but never waits for durability, whatever the policy.
    ///
    /// # Errors
    /// As [`Wal::append`].
    pub fn append_nowait(&self, kind: u8, payload: &[u8]) -> Result<Position> {
        self.inner
            .write_frames(&[(kind, payload)])
            .map(|(pos, _)| pos)
    }

    /// As [`Wal::append_batch`] but never waits for durability.
    ///
    /// # Errors
    /// As [`Wal::append_batch`].
    pub fn append_batch_nowait<'a>(
        &self,
        records: impl IntoIterator<Item = (u8, &'a [u8])>,
    ) -> Result<Vec<Position>> {
        let records: Vec<(u8, &[u8])> = records.into_iter().collect();
        if records.is_empty() {
            return Ok(Vec::new());
        }
        let (first, _) = self.inner.write_frames(&records)?;
        let mut positions = Vec::with_capacity(records.len());
        let mut pos = first.0;
        for (_, payload) in &records {
            positions.push(Position(pos));
            pos += record::frame_len(payload.len());
        }
        Ok(positions)
    }

    fn wait_if_always(&self, pos: Position) -> Result<()> {
        if self.fsync_policy() == FsyncPolicy::Always {
            self.inner.wait_durable(pos)?;
        }
        Ok(())
    }

    /// Blocks until the record starting at `pos` (if it has been written) and every
    /// record before it are durable. Passing a record's position waits for that record;
    /// passing `end()` or a `next_position()` waits for everything before it. Shares
    /// one fdatasync with every thread waiting at that moment (group commit).
    ///
    /// # Errors
    /// `Poisoned` if the WAL failed an earlier write or sync; `Io` for the sync that
    /// fails (which poisons the WAL).
    pub fn wait_durable(&self, pos: Position) -> Result<()> {
        self.inner.wait_durable(pos)
    }

    /// fdatasyncs everything written so far and returns the durable end.
    ///
    /// # Errors
    /// As [`Wal::wait_durable`].
    pub fn sync(&self) -> Result<Position> {
        self.inner.sync_all()
    }

    /// Every record before this position is durable.
    pub fn durable_end(&self) -> Position {
        Position(self.inner.durable_end.load(Ordering::Acquire))
    }

    /// The position the next record will get (unless it starts a new segment, in
    /// which case it is the same number: segments are contiguous).
    pub fn end(&self) -> Position {
        Position(self.inner.written_end.load(Ordering::Acquire))
    }

    /// The first position still held (retention moves it forward).
    pub fn start(&self) -> Position {
        let segs = self
            .inner
            .segments
            .read()
            .unwrap_or_else(|e| e.into_inner());
        Position(segs.first().map_or(0, |s| s.base))
    }

    /// Turns buffered writes on or off (off by default; see the module docs). Turning
    /// them off writes what is buffered.
    ///
    /// # Errors
    /// As [`Wal::flush`].
    pub fn set_buffered_writes(&self, on: bool) -> Result<()> {
        self.inner.buffered.store(on, Ordering::Release);
        if !on {
            self.flush()?;
        }
        Ok(())
    }

    /// Writes the records buffered so far to the file (no fsync). A no-op, without
    /// taking a lock, when nothing is buffered.
    ///
    /// # Errors
    /// `Poisoned`, or `Io` for the write that fails (which poisons the WAL).
    pub fn flush(&self) -> Result<()> {
        self.inner.flush()
    }

    /// Whether appended records are waiting in the buffer.
    pub fn has_unwritten(&self) -> bool {
        self.inner.has_unwritten()
    }

    /// Changes the fsync policy; takes effect for the next append.
    pub fn set_fsync_policy(&self, p: FsyncPolicy) {
        self.inner.policy.store(p.as_u8(), Ordering::Release);
    }

    /// The current fsync policy.
    pub fn fsync_policy(&self) -> FsyncPolicy {
        self.inner.policy()
    }

    /// Whether an earlier I/O failure poisoned the WAL.
    pub fn is_poisoned(&self) -> bool {
        self.inner.poisoned.load(Ordering::Acquire)
    }

    /// The WAL directory.
    pub fn dir(&self) -> &Path {
        &self.inner.dir
    }

    /// Zero-copy random access to the record that starts at `pos`.
    ///
    /// # Errors
    /// `OutOfRange` if `pos` is before `start()` or not below `end()`; `Corrupt` if
    /// the bytes there are not a valid frame (for instance `pos` is not a record start).
    pub fn read_at(&self, pos: Position) -> Result<RecordRef> {
        self.inner.read_at(pos)
    }

    /// Iterates records from `from` (a record start) in order, following the tail.
    pub fn reader(&self, from: Position) -> Reader {
        Reader::new(Arc::clone(&self.inner), from)
    }

    /// The segments held, oldest first.
    pub fn segments(&self) -> Vec<SegmentInfo> {
        let segs = self
            .inner
            .segments
            .read()
            .unwrap_or_else(|e| e.into_inner());
        segs.iter().map(|s| s.info()).collect()
    }

    /// Deletes whole segments whose records all lie before `pos` (never the active
    /// one), then fsyncs the directory. Readers already inside a deleted segment keep
    /// reading it (they hold its map). Returns what was deleted.
    ///
    /// # Errors
    /// `Io` if a file cannot be deleted or the directory cannot be synced; the
    /// segments deleted before the failure stay deleted.
    pub fn delete_before(&self, pos: Position) -> Result<Vec<SegmentInfo>> {
        // The writer lock keeps the segment list from changing meanwhile (only a roll
        // changes it, under that lock).
        let _w = lock(&self.inner.writer);
        let doomed: Vec<Arc<Segment>> = {
            let segs = self
                .inner
                .segments
                .read()
                .unwrap_or_else(|e| e.into_inner());
            segs.iter()
                .take(segs.len().saturating_sub(1))
                .take_while(|s| s.is_sealed() && s.end() <= pos.0)
                .cloned()
                .collect()
        };
        let mut deleted = Vec::with_capacity(doomed.len());
        let mut failure = None;
        for seg in &doomed {
            if let Err(e) = self.inner.io.remove_file(&seg.path) {
                failure = Some(Error::io("delete segment", &seg.path, e));
                break;
            }
            deleted.push(seg.info());
        }
        // Only what is gone from the disk leaves the list, so a failed delete can be
        // retried by the next call.
        self.inner
            .segments
            .write()
            .unwrap_or_else(|e| e.into_inner())
            .drain(..deleted.len());
        if !deleted.is_empty() {
            self.inner
                .io
                .sync_dir(&self.inner.dir)
                .map_err(|e| Error::io("fsync dir", &self.inner.dir, e))?;
        }
        match failure {
            Some(e) => Err(e),
            None => Ok(deleted),
        }
    }

    /// Syncs everything and closes the WAL; reopening then has nothing to recover.
    ///
    /// # Errors
    /// `Poisoned` or `Io` if the final sync fails.
    pub fn close(mut self) -> Result<()> {
        self.stop_flusher();
        self.inner.sync_all().map(|_| ())
    }

    fn stop_flusher(&mut self) {
        *lock(&self.inner.stop) = true;
        self.inner.stop_cv.notify_all();
        if let Some(h) = self.flusher.take() {
            // The flusher only returns; a panic in it has already been reported.
            let _ = h.join();
        }
    }
}

impl Drop for Wal {
    /// Stops the flusher and writes what is buffered. Does not sync: use `close` for
    /// a clean shutdown.
    fn drop(&mut self) {
        self.stop_flusher();
        if let Err(e) = self.inner.flush() {
            tracing::error!(error = %e, "writing buffered records on drop failed");
        }
    }
}

impl Inner {
    fn policy(&self) -> FsyncPolicy {
        FsyncPolicy::from_u8(self.policy.load(Ordering::Acquire))
    }

    fn poison(&self) {
        self.poisoned.store(true, Ordering::Release);
        tracing::error!(dir = %self.dir.display(), "WAL poisoned: writes are refused until reopen");
    }

    fn check_poisoned(&self) -> Result<()> {
        if self.poisoned.load(Ordering::Acquire) {
            Err(Error::Poisoned)
        } else {
            Ok(())
        }
    }

    /// Validates, frames and writes `records` as one batch (a single record is a batch
    /// of one). Returns the first position and the end after the batch.
    fn write_frames(&self, records: &[(u8, &[u8])]) -> Result<(Position, u64)> {
        self.check_poisoned()?;
        let capacity = self.segment_size - HEADER_LEN;
        let max_payload = MAX_RECORD_LEN.min((capacity as usize).saturating_sub(FRAME_HEADER_LEN));
        let mut total = 0u64;
        for &(kind, payload) in records {
            if kind > MAX_KIND {
                return Err(Error::InvalidKind(kind));
            }
            if payload.len() > max_payload {
                return Err(Error::RecordTooLarge {
                    len: payload.len(),
                    max: max_payload,
                });
            }
            total += record::frame_len(payload.len());
        }
        if total > capacity {
            return Err(Error::BatchTooLarge {
                len: total,
                max: capacity,
            });
        }

        let mut w = lock(&self.writer);
        self.check_poisoned()?;
        if w.must_roll || w.write_off + total > w.active.file_len() {
            self.flush_locked(&mut w)?;
            self.roll(&mut w)?;
        }
        let WriterState {
            active,
            write_off,
            buf,
            ..
        } = &mut *w;
        let before = buf.len();
        let last = records.len() - 1;
        for (i, &(kind, payload)) in records.iter().enumerate() {
            let raw = if i == last {
                kind
            } else {
                kind | BATCH_CONTINUES
            };
            record::encode_into(buf, raw, payload);
        }
        let first = active.pos_of(*write_off);
        *write_off += total;
        let end = first + total;
        self.written_end.store(end, Ordering::Release);
        if (!self.buffered.load(Ordering::Acquire) || w.buf.len() >= FLUSH_AT)
            && let Err(e) = self.flush_locked(&mut w)
        {
            // The WAL is poisoned; this append did not happen.
            w.buf.truncate(before);
            w.write_off -= total;
            self.written_end.store(first, Ordering::Release);
            return Err(e);
        }
        Ok((Position(first), end))
    }

    pub(crate) fn has_unwritten(&self) -> bool {
        self.flushed_end.load(Ordering::Acquire) < self.written_end.load(Ordering::Acquire)
    }

    /// Writes what is buffered, if anything.
    pub(crate) fn flush(&self) -> Result<()> {
        if !self.has_unwritten() {
            return Ok(());
        }
        let mut w = lock(&self.writer);
        self.flush_locked(&mut w)
    }

    /// Writes the buffered frames with one `pwrite` and publishes them to readers.
    fn flush_locked(&self, w: &mut WriterState) -> Result<()> {
        if w.buf.is_empty() {
            return Ok(());
        }
        self.check_poisoned()?;
        let WriterState {
            active,
            write_off,
            buf,
            ..
        } = w;
        let at = *write_off - buf.len() as u64;
        if let Err(e) = self.io.write_at(&active.file, &active.path, buf, at) {
            self.poison();
            return Err(Error::io("write", &active.path, e));
        }
        buf.clear();
        if buf.capacity() > KEEP_BUF {
            *buf = Vec::new();
        }
        self.zero_ahead(w);
        let WriterState {
            active, write_off, ..
        } = w;
        let end = active.pos_of(*write_off);
        active.set_end(end);
        self.flushed_end.store(end, Ordering::Release);
        Ok(())
    }

    /// Writes zeros over the next stretch of the active segment once the
    /// records come within half of `ZERO_AHEAD` of the zeroed part. Best
    /// effort: the blocks already read as zeros, so a failure here only
    /// loses the cheaper syncs (and a failing disk fails the next record
    /// write, which poisons the log as usual).
    fn zero_ahead(&self, w: &mut WriterState) {
        let len = w.active.file_len();
        if w.zeroed_to >= len || w.write_off + ZERO_AHEAD / 2 <= w.zeroed_to {
            return;
        }
        let from = w.zeroed_to.max(w.write_off);
        let to = len.min(from + ZERO_AHEAD);
        let mut at = from;
        while at < to {
            let n = ZERO_CHUNK.min((to - at) as usize);
            if let Err(e) = self
                .io
                .write_at(&w.active.file, &w.active.path, &ZEROS[..n], at)
            {
                tracing::debug!(path = %w.active.path.display(), "zeroing ahead failed: {e}");
                break;
            }
            at += n as u64;
        }
        w.zeroed_to = to;
    }

    /// Seals the active segment (after syncing it, so that only the last segment can
    /// ever have a torn tail) and starts a new one at the same position.
    fn roll(&self, w: &mut WriterState) -> Result<()> {
        let old = Arc::clone(&w.active);
        if let Err(e) = self.io.sync_data(&old.file, &old.path) {
            self.poison();
            return Err(Error::io("fdatasync", &old.path, e));
        }
        self.durable_end.fetch_max(old.end(), Ordering::AcqRel);
        // A failure here (ENOSPC while preallocating...) leaves no new file and the old
        // segment active: the append fails, the WAL stays usable.
        w.must_roll = true;
        let new = Arc::new(Segment::create(
            &*self.io,
            &self.dir,
            old.end(),
            self.segment_size,
        )?);
        w.must_roll = false;
        // Publish the successor before sealing, so a reader that sees the seal finds it.
        self.segments
            .write()
            .unwrap_or_else(|e| e.into_inner())
            .push(Arc::clone(&new));
        old.seal();
        w.zeroed_to = new.file_len().min(ZERO_CHUNK as u64);
        w.active = new;
        w.write_off = HEADER_LEN;
        Ok(())
    }

    pub(crate) fn wait_durable(&self, pos: Position) -> Result<()> {
        let written = self.written_end.load(Ordering::Acquire);
        let target = pos.0.saturating_add(1).min(written);
        if self.durable_end.load(Ordering::Acquire) >= target {
            return Ok(());
        }
        let mut st = lock(&self.sync_state);
        loop {
            if self.durable_end.load(Ordering::Acquire) >= target {
                return Ok(());
            }
            self.check_poisoned()?;
            if st.syncing {
                st = self.sync_cv.wait(st).unwrap_or_else(|e| e.into_inner());
                continue;
            }
            st.syncing = true;
            drop(st);
            let r = self.sync_once();
            st = lock(&self.sync_state);
            st.syncing = false;
            self.sync_cv.notify_all();
            r?;
        }
    }

    /// One fdatasync covering everything written before it starts.
    fn sync_once(&self) -> Result<()> {
        self.flush()?;
        // Snapshot the target before choosing the file: a roll after this point has
        // already synced the segment the target may lie in. Only what reached the file
        // counts: records buffered after the flush above wait for the next sync.
        let target = self.flushed_end.load(Ordering::Acquire);
        let active = {
            let segs = self.segments.read().unwrap_or_else(|e| e.into_inner());
            segs.last().cloned()
        };
        if let Some(seg) = active
            && let Err(e) = self.io.sync_data(&seg.file, &seg.path)
        {
            self.poison();
            return Err(Error::io("fdatasync", &seg.path, e));
        }
        self.durable_end.fetch_max(target, Ordering::AcqRel);
        Ok(())
    }

    fn sync_all(&self) -> Result<Position> {
        let end = self.written_end.load(Ordering::Acquire);
        self.wait_durable(Position(end))?;
        self.check_poisoned()?;
        Ok(Position(self.durable_end.load(Ordering::Acquire)))
    }

    /// The `everysec` flusher: once a second, sync if the policy asks and there is
    /// something to sync.
    fn flush_loop(&self) {
        let mut next = Instant::now() + Duration::from_secs(1);
        let mut stop = lock(&self.stop);
        loop {
            // Checked before every wait, so a stop requested before this thread first
            // waits is not missed.
            if *stop {
                return;
            }
            let now = Instant::now();
            if now < next {
                stop = self
                    .stop_cv
                    .wait_timeout(stop, next - now)
                    .unwrap_or_else(|e| e.into_inner())
                    .0;
                continue;
            }
            next = now + Duration::from_secs(1);
            drop(stop);
            let end = self.written_end.load(Ordering::Acquire);
            if self.policy() == FsyncPolicy::EverySec
                && end > self.durable_end.load(Ordering::Acquire)
                && !self.poisoned.load(Ordering::Acquire)
                && let Err(e) = self.wait_durable(Position(end))
            {
                tracing::error!(error = %e, "everysec fdatasync failed");
            }
            stop = lock(&self.stop);
        }
    }

    fn segment_for(&self, pos: u64) -> Option<Arc<Segment>> {
        let segs = self.segments.read().unwrap_or_else(|e| e.into_inner());
        let i = segs.partition_point(|s| s.base <= pos);
        i.checked_sub(1).map(|i| Arc::clone(&segs[i]))
    }

    /// The segment after `seg` (by base), if any.
    pub(crate) fn segment_after(&self, base: u64) -> Option<Arc<Segment>> {
        let segs = self.segments.read().unwrap_or_else(|e| e.into_inner());
        let i = segs.partition_point(|s| s.base <= base);
        segs.get(i).cloned()
    }

    pub(crate) fn start(&self) -> u64 {
        let segs = self.segments.read().unwrap_or_else(|e| e.into_inner());
        segs.first().map_or(0, |s| s.base)
    }

    /// Looks up the segment holding `pos` for reading, or `OutOfRange`.
    pub(crate) fn locate(&self, pos: u64) -> Result<Arc<Segment>> {
        self.segment_for(pos)
            .ok_or(Error::OutOfRange { pos: Position(pos) })
    }

    fn read_at(&self, pos: Position) -> Result<RecordRef> {
        if pos.0 >= self.flushed_end.load(Ordering::Acquire) {
            self.flush()?;
        }
        let seg = self.locate(pos.0)?;
        if pos.0 >= seg.end() {
            return Err(Error::OutOfRange { pos });
        }
        RecordRef::decode(seg, pos.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn opts(size: u64, fsync: FsyncPolicy) -> Options {
        Options {
            segment_size: size,
            fsync,
            ..Options::default()
        }
    }

    #[test]
    fn second_open_is_locked() -> Result<()> {
        let dir = tempfile::tempdir().map_err(|e| Error::io("tempdir", "/tmp", e))?;
        let _a = Wal::open(dir.path(), Options::default())?;
        match Wal::open(dir.path(), Options::default()) {
            Err(Error::Locked { dir: d }) => assert_eq!(d, dir.path()),
            other => panic!("expected Locked, got {other:?}"),
        }
        Ok(())
    }

    #[test]
    fn wait_durable_covers_the_record_at_pos() -> Result<()> {
        let dir = tempfile::tempdir().map_err(|e| Error::io("tempdir", "/tmp", e))?;
        let wal = Wal::open(dir.path(), opts(1 << 16, FsyncPolicy::No))?;
        let a = wal.append_nowait(1, b"abc")?;
        let b = wal.append_nowait(1, b"defg")?;
        assert_eq!(wal.durable_end(), Position(0));
        wal.wait_durable(a)?;
        assert!(wal.durable_end() > b, "one sync covers everything written");
        let c = wal.append_nowait(1, b"x")?;
        wal.wait_durable(wal.end())?;
        assert_eq!(wal.durable_end(), wal.end());
        assert!(wal.durable_end() > c);
        Ok(())
    }

    #[test]
    fn buffered_writes_reach_the_file_on_flush_read_or_sync() -> Result<()> {
        let dir = tempfile::tempdir().map_err(|e| Error::io("tempdir", "/tmp", e))?;
        let wal = Wal::open(dir.path(), opts(1 << 16, FsyncPolicy::No))?;
        wal.set_buffered_writes(true)?;
        let a = wal.append_nowait(1, b"abc")?;
        let b = wal.append_nowait(2, b"defg")?;
        assert!(wal.has_unwritten());
        assert_eq!(wal.end(), Position(b.0 + record::frame_len(4)));
        // Not in the file yet: the segment end (what other readers see) has not moved.
        assert_eq!(wal.segments()[0].end, Position(0));
        // A read of a buffered position writes the buffer first.
        assert_eq!(wal.read_at(b)?.payload(), b"defg");
        assert!(!wal.has_unwritten());
        assert_eq!(wal.segments()[0].end, wal.end());
        // A reader that reaches the tail picks up what is buffered.
        let c = wal.append_nowait(3, b"x")?;
        let mut r = wal.reader(a);
        let got: Vec<u8> = std::iter::from_fn(|| r.next().transpose())
            .map(|rec| rec.map(|rec| rec.kind()))
            .collect::<Result<_>>()?;
        assert_eq!(got, [1, 2, 3]);
        // A sync writes and syncs what is buffered.
        let d = wal.append_nowait(4, b"yz")?;
        assert!(wal.has_unwritten());
        wal.wait_durable(d)?;
        assert!(!wal.has_unwritten());
        assert!(wal.durable_end() > d && wal.durable_end() > c);
        // An explicit flush, and turning buffering off, write without syncing.
        let e = wal.append_nowait(5, b"e")?;
        wal.flush()?;
        assert!(!wal.has_unwritten());
        assert!(wal.durable_end() <= e);
        wal.append_nowait(6, b"f")?;
        wal.set_buffered_writes(false)?;
        assert!(!wal.has_unwritten());
        let end = wal.end();
        drop(wal);
        // Reopened, every record is there.
        let wal = Wal::open(dir.path(), opts(1 << 16, FsyncPolicy::No))?;
        assert_eq!(wal.end(), end);
        Ok(())
    }

    #[test]
    fn buffered_writes_survive_drop_and_rolls() -> Result<()> {
        let dir = tempfile::tempdir().map_err(|e| Error::io("tempdir", "/tmp", e))?;
        let wal = Wal::open(dir.path(), opts(8192, FsyncPolicy::No))?;
        wal.set_buffered_writes(true)?;
        let payload = [7u8; 1000];
        let mut positions = Vec::new();
        // Enough to roll several 8 KiB segments while records are buffered.
        for _ in 0..40 {
            positions.push(wal.append_nowait(1, &payload)?);
        }
        assert!(wal.segments().len() > 3);
        let end = wal.end();
        drop(wal);
        let wal = Wal::open(dir.path(), opts(8192, FsyncPolicy::No))?;
        assert_eq!(wal.end(), end);
        for p in positions {
            assert_eq!(wal.read_at(p)?.payload(), &payload[..]);
        }
        Ok(())
    }

    #[test]
    fn kinds_and_sizes_are_checked_before_writing() -> Result<()> {
        let dir = tempfile::tempdir().map_err(|e| Error::io("tempdir", "/tmp", e))?;
        let wal = Wal::open(dir.path(), opts(8192, FsyncPolicy::No))?;
        assert!(matches!(wal.append(128, b""), Err(Error::InvalidKind(128))));
        let big = vec![0u8; 9000];
        assert!(matches!(
            wal.append(1, &big),
            Err(Error::RecordTooLarge { len: 9000, .. })
        ));
        let half = vec![0u8; 5000];
        let r = wal.append_batch([(1, &half[..]), (1, &half[..])]);
        assert!(matches!(r, Err(Error::BatchTooLarge { .. })), "{r:?}");
        assert_eq!(wal.end(), Position(0));
        Ok(())
    }
}
