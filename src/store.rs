//! [`Store`]: the embedded API and the one place that turns an operation
//! into a WAL record and applies it. Opening a store loads the checkpoint
//! and replays the log after it.
//!
//! Every mutating call: lock, validate (bad input -> error, nothing
//! changed), write one record (or one atomic batch) describing the effect,
//! apply it, unlock, then, with `wait_for_durability` and fsync `always`,
//! wait until the record is durable. The server opens the store with
//! `wait_for_durability = false` and waits for [`Store::log_end`] itself.

use std::fs;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, MutexGuard};

use eddy_wal::{FsyncPolicy, Position, Wal};

pub use crate::api::{
    AddArgs, Added, CheckpointInfo, Expect, RecoveryStats, StoreOptions, StreamEntries,
};
use crate::checkpoint::{self, SnapshotRef};
use crate::clock::Clock;
use crate::engine::{AppendItem, Engine};
use crate::error::Error;
use crate::keyspace::Keyspace;
use crate::record::Record;
use crate::views::Views;

mod builder;
mod views_api;
use crate::stream::{
    Entry, IdRange, IdSpec, IdmpConfig, NodeLimits, RefPolicy, Stream, StreamId, StreamInfo, Trim,
};
pub use views_api::MemoryReport;

/// The bit that marks a SCAN cursor as being in the view keys (see
/// [`Store::scan`]); key-space slots never reach it.
pub const VIEW_CURSOR: u64 = 1 << 63;

/// A durable store of streams, opened on a directory (`dir/wal/` for the
/// log, `dir/checkpoint`). Send + Sync: share it with `Arc`.
#[derive(Debug)]
pub struct Store {
    dir: PathBuf,
    pub(crate) wal: Arc<Wal>,
    engine: Arc<Mutex<Engine>>,
    builder: builder::Builder,
    checkpointing: Mutex<()>,
    pub(crate) clock: Arc<dyn Clock>,
    wait_for_durability: bool,
    checkpoint_every: (u64, u64),
    recovery: RecoveryStats,
    /// Highest used memory seen (INFO used_memory_peak).
    peak: std::sync::atomic::AtomicU64,
    /// maxmemory, mirrored out of the lock.
    maxmemory: std::sync::atomic::AtomicU64,
}

impl Store {
    /// Opens (or creates) the store in `dir` and recovers its state.
    ///
    /// # Errors
    /// WAL and checkpoint errors, or a log that does not reach back to the
    /// checkpoint.
    pub fn open(dir: impl AsRef<Path>, opts: StoreOptions) -> Result<Store, Error> {
        let dir = dir.as_ref().to_path_buf();
        fs::create_dir_all(&dir).map_err(|source| Error::CheckpointIo {
            path: dir.clone(),
            source,
        })?;
        // The checkpoint is read first so that the WAL's recovery need not
        // scan the segments it covers: opening then reads the log's tail, not
        // the whole log.
        let (keyspace, views, checkpoint) = match checkpoint::read(&dir)? {
            Some((snap, pos)) => (snap.keyspace, Views::restore(snap.views)?, Some(pos)),
            None => (Keyspace::default(), Views::default(), None),
        };
        let mut wal_opts = opts.wal.clone();
        wal_opts.covered_below = checkpoint.unwrap_or(0);
        let wal = Arc::new(Wal::open(dir.join("wal"), wal_opts)?);
        // Without a checkpoint the log must still hold everything.
        let from = checkpoint.unwrap_or(0);
        if wal.start().0 > from {
            return Err(Error::LogGap {
                start: wal.start().0,
                needed: from,
            });
        }
        if from > wal.end().0 {
            return Err(Error::LogGap {
                start: wal.end().0,
                needed: from,
            });
        }
        let mut engine = Engine::new(keyspace, opts.node_limits, opts.idmp);
        engine.views = views;
        let mut reader = wal.reader(Position(from));
        let mut replayed = 0;
        while let Some(rec) = reader.next()? {
            engine.replay(&wal, rec.position(), rec.kind(), rec.payload())?;
            replayed += 1;
        }
        engine.since_checkpoint = (replayed, wal.end().0 - from);
        let building = engine.views.building().is_some();
        let engine = Arc::new(Mutex::new(engine));
        let builder = builder::Builder::start(
            Arc::clone(&engine),
            Arc::clone(&wal),
            Arc::clone(&opts.clock),
        )
        .map_err(Error::Builder)?;
        if building {
            builder.kick();
        }
        Ok(Store {
            dir,
            wal,
            engine,
            builder,
            checkpointing: Mutex::new(()),
            clock: opts.clock,
            wait_for_durability: opts.wait_for_durability,
            checkpoint_every: (opts.checkpoint_every_records, opts.checkpoint_every_bytes),
            recovery: RecoveryStats {
                checkpoint,
                records_replayed: replayed,
                replay_from: from,
            },
            peak: std::sync::atomic::AtomicU64::new(0),
            maxmemory: std::sync::atomic::AtomicU64::new(0),
        })
    }

    /// What recovery did when the store was opened.
    pub fn recovery_stats(&self) -> RecoveryStats {
        self.recovery
    }

    /// The underlying WAL (read access for tools and followers).
    pub fn wal(&self) -> &Arc<Wal> {
        &self.wal
    }

    pub(crate) fn lock(&self) -> MutexGuard<'_, Engine> {
        // A panic while holding the lock cannot leave a half-applied record
        // behind (records are applied after they are written), so recover.
        self.engine.lock().unwrap_or_else(|p| p.into_inner())
    }

    pub(crate) fn lock_writable(&self) -> Result<MutexGuard<'_, Engine>, Error> {
        let g = self.lock();
        if g.poisoned {
            return Err(Error::Poisoned);
        }
        Ok(g)
    }

    /// After a write ending at `end`: wait for durability if asked, then
    /// checkpoint if a threshold was crossed.
    pub(crate) fn finish(&self, end: u64, maybe_checkpoint: bool) -> Result<(), Error> {
        if self.wait_for_durability && self.wal.fsync_policy() == FsyncPolicy::Always {
            self.wal.wait_durable(Position(end))?;
        }
        if maybe_checkpoint {
            // Several writers may cross the threshold together: only the
            // first one through checkpoints.
            let guard = self.checkpointing.lock().unwrap_or_else(|p| p.into_inner());
            if self.due(&self.lock()) {
                self.checkpoint_locked(guard)?;
            }
        }
        Ok(())
    }

    pub(crate) fn due(&self, eng: &Engine) -> bool {
        let (records, bytes) = eng.since_checkpoint;
        (self.checkpoint_every.0 != 0 && records >= self.checkpoint_every.0)
            || (self.checkpoint_every.1 != 0 && bytes >= self.checkpoint_every.1)
    }

    // ----- streams: writes -----

    /// XADD. `Ok(None)` when `nomkstream` is set and the stream is missing.
    ///
    /// # Errors
    /// Redis's XADD errors, expected-version conflicts, WAL errors.
    pub fn xadd(&self, key: &[u8], args: &AddArgs<'_>) -> Result<Option<Added>, Error> {
        validate_fields(args.fields)?;
        if let Some(t) = &args.trim {
            t.validate()?;
        }
        if let Some((pid, iid)) = args.idmp {
            if args.id != IdSpec::Auto {
                return Err(Error::IdmpNeedsAutoId);
            }
            if pid.is_empty() || iid.is_empty() {
                return Err(Error::IdmpEmpty);
            }
        }
        if args.id == IdSpec::Explicit(StreamId::MIN) {
            return Err(Error::IdZero);
        }
        let (id, end, due) = {
            let mut eng = self.lock_writable()?;
            check_not_view(&eng, key)?;
            let now = self.clock.now_ms();
            let stream = eng.stream_mut(key)?;
            check_expect(stream.as_deref(), args.expect)?;
            match stream {
                None if args.nomkstream => return Ok(None),
                None => {}
                Some(s) => {
                    if s.last_id() == StreamId::MAX {
                        return Err(Error::IdExhausted);
                    }
                    if let Some((pid, iid)) = args.idmp {
                        let at = now.max(s.last_id().ms);
                        if let Some(id) = s.idmp_mut().lookup(pid, iid, at) {
                            return Ok(Some(Added {
                                id,
                                duplicate: true,
                            }));
                        }
                    }
                }
            }
            let item = AppendItem {
                id: args.id,
                fields: args.fields,
                idmp: args.idmp,
            };
            let (ids, end) = eng.append_run_ext(
                &self.wal,
                key,
                &[item],
                args.trim.as_ref(),
                args.refs,
                now,
                &[],
            )?;
            let id = ids
                .first()
                .copied()
                .ok_or_else(|| Error::corrupt("no ID"))?;
            (id, end, self.due(&eng))
        };
        self.finish(end, due)?;
        Ok(Some(Added {
            id,
            duplicate: false,
        }))
    }

    /// Appends several entries to one stream in one atomic write (all or
    /// none after a crash). Returns their IDs.
    ///
    /// # Errors
    /// As [`Store::xadd`]; nothing is written if any entry is refused.
    pub fn xadd_batch(&self, key: &[u8], items: &[AppendItem<'_>]) -> Result<Vec<StreamId>, Error> {
        if items.is_empty() {
            return Ok(Vec::new());
        }
        for item in items {
            validate_fields(item.fields)?;
            if item.id == IdSpec::Explicit(StreamId::MIN) {
                return Err(Error::IdZero);
            }
            if item.idmp.is_some() {
                // Duplicates inside a batch would need partial writes.
                return Err(Error::IdmpNeedsAutoId);
            }
        }
        let (ids, end, due) = {
            let mut eng = self.lock_writable()?;
            check_not_view(&eng, key)?;
            let now = self.clock.now_ms();
            let (ids, end) = eng.append_run(&self.wal, key, items, None, now)?;
            (ids, end, self.due(&eng))
        };
        self.finish(end, due)?;
        Ok(ids)
    }

    fn write(&self, rec: &Record<'_>) -> Result<(), Error> {
        let (end, due) = {
            let mut eng = self.lock_writable()?;
            let end = eng.write(&self.wal, rec)?;
            (end, self.due(&eng))
        };
        self.finish(end, due)
    }

    /// XDEL: tombstones the live entries among `ids`; returns how many.
    pub fn xdel(&self, key: &[u8], ids: &[StreamId]) -> Result<u64, Error> {
        let (n, end, due) = {
            let mut eng = self.lock_writable()?;
            let Some(s) = eng.stream(key)? else {
                return Ok(0);
            };
            let mut found: Vec<(StreamId, u64)> = Vec::new();
            let mut seen = std::collections::BTreeSet::new();
            for &id in ids {
                if !seen.insert(id) {
                    continue;
                }
                if let Some((_, e)) = s.find(&self.wal, id)? {
                    found.push((id, e.size));
                }
            }
            if found.is_empty() {
                return Ok(0);
            }
            let n = found.len() as u64;
            let end = eng.write(&self.wal, &Record::Xdel { key, ids: found })?;
            (n, end, self.due(&eng))
        };
        self.finish(end, due)?;
        Ok(n)
    }

    /// XTRIM: returns the number of entries deleted.
    pub fn xtrim(&self, key: &[u8], trim: &Trim) -> Result<u64, Error> {
        self.xtrim_refs(key, trim, RefPolicy::KeepRef)
    }

    /// XSETID.
    pub fn xsetid(
        &self,
        key: &[u8],
        last_id: StreamId,
        entries_added: Option<u64>,
        max_deleted: Option<StreamId>,
    ) -> Result<(), Error> {
        if max_deleted.is_some_and(|md| last_id < md) {
            return Err(Error::XsetidBelowGivenMaxDeleted);
        }
        let (end, due) = {
            let mut eng = self.lock_writable()?;
            let s = eng.stream(key)?.ok_or(Error::NoSuchKey)?;
            s.check_setid(&self.wal, last_id, entries_added, max_deleted)?;
            let rec = Record::Xsetid {
                key,
                last_id,
                entries_added,
                max_deleted,
            };
            (eng.write(&self.wal, &rec)?, self.due(&eng))
        };
        self.finish(end, due)
    }

    /// Creates an empty stream if the key is missing (XGROUP ... MKSTREAM).
    /// Returns whether it was created.
    pub fn create_stream(&self, key: &[u8]) -> Result<bool, Error> {
        {
            let eng = self.lock();
            if eng.stream(key)?.is_some() {
                return Ok(false);
            }
            check_not_view(&eng, key)?;
        }
        let c = self.lock().idmp_default;
        self.write(&Record::Create {
            key,
            duration_s: c.duration_s,
            max_size: c.max_size,
        })?;
        Ok(true)
    }

    /// Sets a stream's idempotency window (clears what it remembers), as
    /// Redis's XCFGSET.
    pub fn set_idmp_config(&self, key: &[u8], config: IdmpConfig) -> Result<(), Error> {
        let c = config.validate()?;
        if self.lock().stream(key)?.is_none() {
            return Err(Error::NoSuchKey);
        }
        self.write(&Record::IdmpConfig {
            key,
            duration_s: c.duration_s,
            max_size: c.max_size,
        })
    }

    // ----- streams: reads -----

    fn read<T>(
        &self,
        key: &[u8],
        f: impl FnOnce(&Stream, &Wal) -> Result<T, Error>,
    ) -> Result<Option<T>, Error> {
        let eng = self.lock();
        match eng.stream(key)? {
            Some(s) => f(s, &self.wal).map(Some),
            None => Ok(None),
        }
    }

    /// XRANGE: ascending, at most `count` entries. Missing key: empty.
    pub fn xrange(
        &self,
        key: &[u8],
        range: IdRange,
        count: Option<usize>,
    ) -> Result<Vec<Entry>, Error> {
        Ok(self
            .read(key, |s, w| s.range(w, range, count))?
            .unwrap_or_default())
    }

    /// XREVRANGE: descending, at most `count` entries.
    pub fn xrevrange(
        &self,
        key: &[u8],
        range: IdRange,
        count: Option<usize>,
    ) -> Result<Vec<Entry>, Error> {
        Ok(self
            .read(key, |s, w| s.rev_range(w, range, count))?
            .unwrap_or_default())
    }

    /// XREAD without blocking: for each `(key, after)`, entries with a
    /// greater ID; streams with nothing new are left out.
    pub fn xread(
        &self,
        streams: &[(&[u8], StreamId)],
        count: Option<usize>,
    ) -> Result<Vec<StreamEntries>, Error> {
        let eng = self.lock();
        let mut out = Vec::new();
        for (key, after) in streams {
            if let Some(s) = eng.stream(key)? {
                let entries = s.read_after(&self.wal, *after, count)?;
                if !entries.is_empty() {
                    out.push((key.to_vec(), entries));
                }
            }
        }
        Ok(out)
    }

    /// The last live entry (XREAD `+`).
    pub fn last_entry(&self, key: &[u8]) -> Result<Option<Entry>, Error> {
        Ok(self.read(key, |s, w| s.last_entry(w))?.flatten())
    }

    /// The last generated ID (`$`), `None` for a missing key.
    pub fn last_id(&self, key: &[u8]) -> Result<Option<StreamId>, Error> {
        Ok(self.lock().stream(key)?.map(Stream::last_id))
    }

    /// XLEN (0 for a missing key).
    pub fn xlen(&self, key: &[u8]) -> Result<u64, Error> {
        Ok(self.lock().stream(key)?.map_or(0, Stream::len))
    }

    /// XINFO STREAM. `Err(NoSuchKey)` for a missing key.
    pub fn xinfo_stream(&self, key: &[u8]) -> Result<StreamInfo, Error> {
        self.read(key, |s, w| s.info(w))?.ok_or(Error::NoSuchKey)
    }

    /// XINFO STREAM FULL's entries: the first `count` (0 = all).
    pub fn xinfo_entries(&self, key: &[u8], count: usize) -> Result<Vec<Entry>, Error> {
        let count = if count == 0 { None } else { Some(count) };
        self.read(key, |s, w| s.range(w, IdRange::ALL, count))?
            .ok_or(Error::NoSuchKey)
    }

    /// Runs `f` on a stream under the engine lock (for layers built on the
    /// store, such as consumer groups).
    pub fn with_stream<T>(
        &self,
        key: &[u8],
        f: impl FnOnce(&Stream, &Wal) -> Result<T, Error>,
    ) -> Result<Option<T>, Error> {
        self.read(key, f)
    }

    // ----- key space -----

    /// DEL: returns how many of `keys` existed.
    pub fn del(&self, keys: &[&[u8]]) -> Result<u64, Error> {
        let mut present: Vec<&[u8]> = Vec::new();
        {
            let eng = self.lock();
            for k in keys {
                if eng.keyspace.get(k).is_some() {
                    if !present.contains(k) {
                        present.push(k);
                    }
                } else {
                    check_not_view(&eng, k)?;
                }
            }
        }
        if present.is_empty() {
            return Ok(0);
        }
        let n = present.len() as u64;
        self.write(&Record::Del { keys: present })?;
        Ok(n)
    }

    /// EXISTS: counts keys that exist (a key named twice counts twice).
    pub fn exists(&self, keys: &[&[u8]]) -> u64 {
        let eng = self.lock();
        keys.iter()
            .filter(|k| eng.keyspace.get(k).is_some() || eng.views.owner(k).is_some())
            .count() as u64
    }

    /// TYPE: `"stream"`, a view key's type (`zset`, `string`, `series`),
    /// or `"none"` for a missing key.
    pub fn key_type(&self, key: &[u8]) -> &'static str {
        let eng = self.lock();
        match eng.keyspace.get(key) {
            Some(v) => v.type_name(),
            None => eng.views.key_type(key).map_or("none", |t| t.name()),
        }
    }

    /// KEYS pattern (streams, then view keys).
    pub fn keys(&self, pattern: &[u8]) -> Vec<Vec<u8>> {
        let eng = self.lock();
        let mut out = eng.keyspace.keys(pattern);
        let all = pattern == b"*";
        eng.views.for_each_key(|k, _| {
            if all || crate::glob::matches(pattern, k) {
                out.push(k.to_vec());
            }
        });
        out
    }

    /// SCAN cursor [MATCH pattern] [COUNT n] [TYPE t]: next cursor and keys.
    ///
    /// A scan walks the streams first (the cursor is the key space's next
    /// slot), then the view keys: there the cursor is [`VIEW_CURSOR`] plus
    /// a position in hash order (`view::keyscan`). Either way a key present
    /// for the whole scan is returned exactly once.
    pub fn scan(
        &self,
        cursor: u64,
        pattern: Option<&[u8]>,
        type_name: Option<&str>,
        count: usize,
    ) -> (u64, Vec<Vec<u8>>) {
        let eng = self.lock();
        let keep = |k: &[u8], t: crate::view::KeyType| {
            type_name.is_none_or(|n| n == t.name())
                && pattern.is_none_or(|p| crate::glob::matches(p, k))
        };
        let view_step = |from: u64, budget: usize| {
            let (next, keys) = eng.views.scan_keys(from, budget, keep);
            (next.map_or(0, |p| p | VIEW_CURSOR), keys)
        };
        if cursor & VIEW_CURSOR != 0 {
            return view_step(cursor & !VIEW_CURSOR, count);
        }
        let (next, mut found) = eng.keyspace.scan(cursor, pattern, type_name, count);
        let views_match =
            type_name.is_none_or(|n| crate::view::KeyType::ALL.iter().any(|t| t.name() == n));
        if next != 0 || !views_match || eng.views.key_len() == 0 {
            return (next, found);
        }
        // The streams are done: start on the view keys with what is left
        // of this call's budget (COUNT is a hint, at least one key).
        let (next, more) = view_step(0, count.saturating_sub(found.len()).max(1));
        found.extend(more);
        (next, found)
    }

    /// Heap bytes held by the stream indexes (for INFO memory and
    /// maxmemory accounting): blocks and tombstones, not the log.
    pub fn index_memory(&self) -> u64 {
        self.lock().streams_memory()
    }

    /// DBSIZE.
    pub fn dbsize(&self) -> u64 {
        let eng = self.lock();
        (eng.keyspace.len() + eng.views.key_count()) as u64
    }

    /// FLUSHALL.
    pub fn flushall(&self) -> Result<(), Error> {
        self.write(&Record::FlushAll)
    }

    /// RENAME src dst (replacing dst).
    pub fn rename(&self, src: &[u8], dst: &[u8]) -> Result<(), Error> {
        {
            let eng = self.lock();
            check_not_view(&eng, src)?;
            check_not_view(&eng, dst)?;
            if eng.keyspace.get(src).is_none() {
                return Err(Error::NoSuchKey);
            }
        }
        if src == dst {
            return Ok(());
        }
        self.write(&Record::Rename { src, dst })
    }

    // ----- durability, configuration, checkpoints -----

    /// Position the next record will get; every write so far ends before it.
    pub fn log_end(&self) -> u64 {
        self.wal.end().0
    }
    /// Everything before this position is durable.
    pub fn durable_end(&self) -> u64 {
        self.wal.durable_end().0
    }
    /// Waits until everything before `end` is durable (group commit).
    pub fn wait_durable(&self, end: u64) -> Result<(), Error> {
        Ok(self.wal.wait_durable(Position(end))?)
    }
    /// Makes everything written so far durable; returns the durable end.
    pub fn sync(&self) -> Result<u64, Error> {
        Ok(self.wal.sync()?.0)
    }
    /// The fsync policy.
    pub fn fsync_policy(&self) -> FsyncPolicy {
        self.wal.fsync_policy()
    }
    /// Changes the fsync policy (CONFIG SET appendfsync).
    pub fn set_fsync_policy(&self, p: FsyncPolicy) {
        self.wal.set_fsync_policy(p);
    }
    /// Node limits for future appends (CONFIG SET stream-node-max-*).
    pub fn set_node_limits(&self, limits: NodeLimits) {
        self.lock().limits = limits;
    }
    /// Current node limits.
    pub fn node_limits(&self) -> NodeLimits {
        self.lock().limits
    }

    /// Writes a checkpoint of the whole state, then deletes WAL segments
    /// that hold no live entry and are covered by it.
    pub fn checkpoint(&self) -> Result<CheckpointInfo, Error> {
        let guard = self.checkpointing.lock().unwrap_or_else(|p| p.into_inner());
        self.checkpoint_locked(guard)
    }

    fn checkpoint_locked(&self, _one: MutexGuard<'_, ()>) -> Result<CheckpointInfo, Error> {
        // Only a copy of the state is taken under the engine lock; encoding
        // it (the larger cost: every stream's block index is packed) runs
        // after the lock is released, so commands do not stall on it.
        let (keyspace, views, position, min_live) = {
            let mut eng = self.lock();
            // Eviction records in segments that could otherwise go (older
            // than every stream's first entry, and not in the segment being
            // written) would keep them alive: copy them to the end first.
            // A record is copied about once per segment of log written.
            let active = self.wal.segments().last().map_or(0, |s| s.base.0);
            let below = eng.streams_min_position().map_or(active, |p| p.min(active));
            let copied = eng.views.copy_forward(&self.wal, below)?;
            eng.since_checkpoint.1 += copied;
            let position = self.wal.end().0;
            let views = eng.views.snapshot();
            eng.since_checkpoint = (0, 0);
            (
                eng.keyspace.clone(),
                views,
                position,
                eng.min_live_position(),
            )
        };
        let bytes = checkpoint::encode(
            &SnapshotRef {
                keyspace: &keyspace,
                views: &views,
            },
            position,
        )?;
        drop(keyspace);
        // The checkpoint must never be ahead of the durable log.
        self.wal.wait_durable(Position(position))?;
        checkpoint::write(&self.dir, &bytes)?;
        let cut = min_live.map_or(position, |p| p.min(position));
        let deleted = self.wal.delete_before(Position(cut))?;
        Ok(CheckpointInfo {
            position,
            bytes: bytes.len() as u64,
            segments_deleted: deleted.len(),
        })
    }

    /// Makes everything durable and closes the log.
    pub fn close(self) -> Result<(), Error> {
        let Store {
            wal,
            engine,
            builder,
            ..
        } = self;
        drop(builder);
        drop(engine);
        match Arc::try_unwrap(wal) {
            Ok(wal) => Ok(wal.close()?),
            Err(wal) => {
                wal.sync()?;
                Ok(())
            }
        }
    }
}

/// Refuses a write to a key a view derives (unless a stream holds it).
fn check_not_view(eng: &Engine, key: &[u8]) -> Result<(), Error> {
    // Most stores define no view: no key lookup then.
    if eng.views.is_empty() || eng.keyspace.get(key).is_some() {
        return Ok(());
    }
    match eng.views.owner_name(key) {
        Some(view) => Err(Error::view_key(key, &view)),
        None => Ok(()),
    }
}

fn validate_fields(fields: &[(&[u8], &[u8])]) -> Result<(), Error> {
    if fields.is_empty() {
        return Err(Error::NoFields);
    }
    let total: u64 = fields.iter().map(|(f, v)| (f.len() + v.len()) as u64).sum();
    if total > crate::stream::listpack::STREAM_LISTPACK_MAX_SIZE {
        return Err(Error::TooLarge);
    }
    Ok(())
}

fn check_expect(stream: Option<&Stream>, expect: Option<Expect>) -> Result<(), Error> {
    match (expect, stream) {
        (None, _) | (Some(Expect::NoStream), None) => Ok(()),
        (Some(Expect::NoStream), Some(s)) => Err(Error::VersionConflictExists {
            actual: s.last_id(),
        }),
        (Some(Expect::LastId(expected)), None) => Err(Error::VersionConflictMissing { expected }),
        (Some(Expect::LastId(expected)), Some(s)) if s.last_id() == expected => Ok(()),
        (Some(Expect::LastId(expected)), Some(s)) => Err(Error::VersionConflict {
            expected,
            actual: s.last_id(),
        }),
    }
}
