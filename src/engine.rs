//! The engine state behind the `Store`'s mutex: the key space, the node
//! limits, and the two paths that change it: `append_run` (live appends,
//! which apply in memory first, then write one record or one atomic batch,
//! then settle or roll back) and `replay` (recovery), which both end in the
//! same `Stream::apply_*` functions.

use eddy_wal::{MAX_RECORD_LEN, Position, Wal};

use crate::error::Error;
use crate::group::record::{GroupRecord, kind as group_kind};
use crate::keyspace::{Keyspace, Value};
use crate::record::{Record, TrimEffect, kind};
use crate::stream::entry::{self, Addr, Fields, NewEntry, RunReader};
use crate::stream::index::Pending;
use crate::stream::{
    Entry, IdRange, IdSpec, IdmpConfig, NodeLimits, Placed, RefPolicy, Stream, StreamId, Trim, Undo,
};
use crate::view::spec::ViewSpec;
use crate::views::{self, Views};

/// One entry of an append: ID form, fields, idempotency key.
#[derive(Debug, Clone, Copy)]
pub struct AppendItem<'a> {
    /// How to choose the ID.
    pub id: IdSpec,
    /// Field/value pairs.
    pub fields: &'a [(&'a [u8], &'a [u8])],
    /// Idempotency key (producer id, message id).
    pub idmp: Option<(&'a [u8], &'a [u8])>,
}

/// Engine state (guarded by the `Store`'s mutex).
#[derive(Debug)]
pub(crate) struct Engine {
    pub keyspace: Keyspace,
    pub limits: NodeLimits,
    pub idmp_default: IdmpConfig,
    /// Records and bytes written since the last checkpoint.
    pub since_checkpoint: (u64, u64),
    /// Set when memory may no longer match the log (an apply failed after
    /// its record was written); writes are refused until reopen.
    pub poisoned: bool,
    /// Views, fed by the appends to their source streams.
    pub views: Views,
    buf: Vec<u8>,
}

impl Engine {
    pub fn new(keyspace: Keyspace, limits: NodeLimits, idmp_default: IdmpConfig) -> Engine {
        Engine {
            keyspace,
            limits,
            idmp_default,
            since_checkpoint: (0, 0),
            poisoned: false,
            views: Views::default(),
            buf: Vec::new(),
        }
    }

    /// The stream under `key`, if any.
    pub fn stream(&self, key: &[u8]) -> Result<Option<&Stream>, Error> {
        match self.keyspace.get(key) {
            None => Ok(None),
            Some(Value::Stream(s)) => Ok(Some(s)),
        }
    }

    pub fn stream_mut(&mut self, key: &[u8]) -> Result<Option<&mut Stream>, Error> {
        match self.keyspace.get_mut(key) {
            None => Ok(None),
            Some(Value::Stream(s)) => Ok(Some(s)),
        }
    }

    /// The stream under `key`, created with this idempotency window if
    /// missing. Replay passes the window recorded in the log, so a changed
    /// default does not change streams created earlier.
    pub(crate) fn stream_or_create(
        &mut self,
        key: &[u8],
        idmp: IdmpConfig,
    ) -> Result<(&mut Stream, bool), Error> {
        stream_or_create(&mut self.keyspace, key, idmp)
    }

    /// Writes a non-XADD record and applies it. Returns the log end.
    pub fn write(&mut self, wal: &Wal, rec: &Record<'_>) -> Result<u64, Error> {
        let mut buf = std::mem::take(&mut self.buf);
        buf.clear();
        rec.encode(&mut buf);
        let res = wal.append_nowait(rec.kind(), &buf);
        let len = buf.len();
        self.buf = buf;
        res?;
        count(&mut self.since_checkpoint, len);
        if let Err(e) = self.apply_record(wal, rec) {
            self.poisoned = true;
            return Err(e);
        }
        Ok(wal.end().0)
    }

    /// Writes an engine record followed by consumer-group records as one
    /// atomic batch (XACKDEL, XDELEX, trims with DELREF), then applies them
    /// in that order. Returns the log end.
    pub(crate) fn write_mixed(
        &mut self,
        wal: &Wal,
        rec: &Record<'_>,
        groups: &[GroupRecord<'_>],
    ) -> Result<u64, Error> {
        if groups.is_empty() {
            return self.write(wal, rec);
        }
        let mut first = Vec::new();
        rec.encode(&mut first);
        let rest: Vec<(u8, Vec<u8>)> = groups.iter().map(encode_group).collect();
        if first.len() > MAX_RECORD_LEN || rest.iter().any(|(_, b)| b.len() > MAX_RECORD_LEN) {
            return Err(Error::TooLarge);
        }
        let mut batch: Vec<(u8, &[u8])> = vec![(rec.kind(), &first[..])];
        batch.extend(rest.iter().map(|(k, b)| (*k, &b[..])));
        wal.append_batch_nowait(batch)?;
        count(&mut self.since_checkpoint, first.len());
        for (_, b) in &rest {
            count(&mut self.since_checkpoint, b.len());
        }
        if let Err(e) = self.apply_record(wal, rec) {
            self.poisoned = true;
            return Err(e);
        }
        self.apply_groups_or_poison(wal, groups)?;
        Ok(wal.end().0)
    }

    /// Appends a run of entries to one stream (creating it), optionally
    /// trimming in the same atomic write. Returns the IDs and the log end.
    pub fn append_run(
        &mut self,
        wal: &Wal,
        key: &[u8],
        items: &[AppendItem<'_>],
        trim: Option<&Trim>,
        now_ms: u64,
    ) -> Result<(Vec<StreamId>, u64), Error> {
        self.append_run_ext(wal, key, items, trim, RefPolicy::KeepRef, now_ms, &[])
    }

    /// [`Engine::append_run`] with a trim reference policy and consumer-group
    /// records written in the same atomic batch (after the run and the
    /// trim). The caller applies `extra` once this returns `Ok`.
    #[allow(clippy::too_many_arguments)]
    pub(crate) fn append_run_ext(
        &mut self,
        wal: &Wal,
        key: &[u8],
        items: &[AppendItem<'_>],
        trim: Option<&Trim>,
        refs: RefPolicy,
        now_ms: u64,
        extra: &[GroupRecord<'_>],
    ) -> Result<(Vec<StreamId>, u64), Error> {
        if items.len() > Addr::MAX_RUN {
            return Err(Error::BatchTooLarge { max: Addr::MAX_RUN });
        }
        let limits = self.limits;
        let idmp = self.idmp_default;
        // Borrows the key space only, so the stream stays in hand beside
        // the engine's other fields until the append is settled.
        let (stream, created) = stream_or_create(&mut self.keyspace, key, idmp)?;
        let undo = stream.undo_point();
        let mut pending = Pending::default();
        let mut news: Vec<NewEntry<'_>> = Vec::with_capacity(items.len());
        let planned = (|| -> Result<Option<(TrimEffect, u64, Option<GroupRecord<'_>>)>, Error> {
            let mut prev_ms = 0;
            let mut offset = 0;
            for (i, item) in items.iter().enumerate() {
                let id = stream.resolve_id(item.id, now_ms)?;
                let len: u64 = item
                    .fields
                    .iter()
                    .map(|(f, v)| (f.len() + v.len()) as u64)
                    .sum();
                let new_block = stream.needs_new_block(len, limits);
                if i == 0 {
                    if !new_block {
                        pending.prev = tail_last(stream);
                    }
                    offset = entry::header_len(key, pending.prev, items.len());
                }
                let e = NewEntry {
                    id,
                    new_block,
                    idmp: item.idmp,
                    fields: item.fields,
                };
                let size = entry::encoded_size(&e, prev_ms);
                prev_ms = id.ms;
                let fields = item.fields.iter().copied();
                let at = Placed {
                    addr: Addr::pending(i),
                    id,
                    new_block,
                    size,
                    offset,
                };
                stream.apply_add(wal, at, fields)?;
                offset += size;
                pending.entries.push((id, size));
                news.push(e);
            }
            stream.set_pending(Some(pending.clone()));
            match trim {
                Some(t) => {
                    let plan =
                        stream.plan_trim_refs(wal, key, t, refs, limits.max_entries, now_ms)?;
                    Ok(Some(plan).filter(|(_, removed, _)| *removed > 0))
                }
                None => Ok(None),
            }
        })();
        let trim_plan = match planned {
            Ok(p) => p,
            Err(e) => {
                self.undo_append(key, undo, created);
                return Err(e);
            }
        };
        let mut buf = std::mem::take(&mut self.buf);
        buf.clear();
        entry::encode_run(key, pending.prev, &news, &mut buf);
        let mut trim_buf = Vec::new();
        // Group records of the batch: the DELREF drop, then the caller's.
        let mut groups: Vec<(u8, Vec<u8>)> = Vec::new();
        if let Some((effect, _, drop)) = &trim_plan {
            Record::Trim {
                key,
                effect: *effect,
            }
            .encode(&mut trim_buf);
            groups.extend(drop.iter().map(encode_group));
        }
        groups.extend(extra.iter().map(encode_group));
        let mut create_buf = Vec::new();
        if created {
            let (duration_s, max_size) = (idmp.duration_s, idmp.max_size);
            Record::Create {
                key,
                duration_s,
                max_size,
            }
            .encode(&mut create_buf);
        }
        let too_large = groups.iter().any(|(_, b)| b.len() > MAX_RECORD_LEN);
        let written = if buf.len() > MAX_RECORD_LEN || trim_buf.len() > MAX_RECORD_LEN || too_large
        {
            Err(Error::TooLarge)
        } else if created || trim_plan.is_some() || !groups.is_empty() {
            // One atomic batch: [CREATE] XADD [TRIM] [group records].
            let mut batch: Vec<(u8, &[u8])> = Vec::with_capacity(3 + groups.len());
            if created {
                batch.push((kind::CREATE, &create_buf[..]));
            }
            batch.push((kind::XADD, &buf[..]));
            if trim_plan.is_some() {
                batch.push((kind::TRIM, &trim_buf[..]));
            }
            batch.extend(groups.iter().map(|(k, b)| (*k, &b[..])));
            wal.append_batch_nowait(batch)
                .map_err(Error::from)
                .and_then(|p| {
                    p.get(usize::from(created))
                        .copied()
                        .ok_or(Error::corrupt("a batch without positions"))
                })
        } else {
            wal.append_nowait(kind::XADD, &buf).map_err(Error::from)
        };
        let len = buf.len()
            + trim_buf.len()
            + create_buf.len()
            + groups.iter().map(|(_, b)| b.len()).sum::<usize>();
        self.buf = buf;
        let ids: Vec<StreamId> = news.iter().map(|e| e.id).collect();
        let pos = match written {
            Ok(pos) => pos,
            Err(e) => {
                self.undo_append(key, undo, created);
                return Err(e);
            }
        };
        count(&mut self.since_checkpoint, len);
        stream.settle(pos.0);
        for e in &news {
            if let Some((pid, iid)) = e.idmp {
                stream.idmp_mut().record(pid, iid, e.id);
            }
        }
        if let Some((effect, _, drop)) = trim_plan {
            if let Err(e) = stream.apply_trim(wal, &effect) {
                self.poisoned = true;
                return Err(e);
            }
            if let Some(d) = drop {
                self.apply_groups_or_poison(wal, &[d])?;
            }
        }
        if self.views.reads(key) {
            self.views.now_ms = now_ms;
            let entries = ids.iter().copied().zip(items.iter().map(|i| i.fields));
            self.views.on_append(wal, key, entries);
        }
        Ok((ids, wal.end().0))
    }

    /// Takes back an append whose record was not written.
    fn undo_append(&mut self, key: &[u8], undo: Undo, created: bool) {
        if created {
            self.keyspace.remove(key);
        } else if let Ok(Some(s)) = self.stream_mut(key) {
            s.rollback(undo);
        }
    }

    /// Applies one record read back from the log during recovery.
    pub fn replay(
        &mut self,
        wal: &Wal,
        pos: Position,
        kind: u8,
        payload: &[u8],
    ) -> Result<(), Error> {
        if kind == kind::XADD {
            return self.apply_run(wal, pos, payload);
        }
        if group_kind::is_group(kind) {
            let rec = GroupRecord::decode(kind, payload)?;
            return self.apply_group(wal, &rec);
        }
        match kind {
            views::kind::VIEW_CREATE => {
                let (spec, start) = views::decode_create(payload)?;
                self.views.create(spec, start);
                return Ok(());
            }
            views::kind::VIEW_DROP => {
                self.views.remove(payload);
                return Ok(());
            }
            views::kind::VIEW_STEP => {
                let step = views::Step::decode(payload)?;
                return self.replay_step(wal, &step);
            }
            views::kind::VIEW_UNIT => {
                let (name, unit, _) = views::decode_unit(payload)?;
                self.views.replay_unit(name, unit, pos.0);
                return Ok(());
            }
            views::kind::VIEW_REBUILD => {
                self.views.reset(payload);
                return Ok(());
            }
            _ => {}
        }
        let rec = Record::decode(kind, payload)?;
        self.apply_record(wal, &rec)
    }

    fn apply_run(&mut self, wal: &Wal, pos: Position, payload: &[u8]) -> Result<(), Error> {
        let (header, mut reader) = RunReader::new(payload)?;
        let key = header.key;
        let feed = self.views.reads(key);
        let mut events: Vec<(StreamId, Vec<FieldPair<'_>>)> = Vec::new();
        let (stream, _) = self.stream_or_create(key, IdmpConfig::default())?;
        let mut i = 0;
        while let Some(e) = reader.next_entry()? {
            let span = payload
                .get(e.fields.clone())
                .ok_or_else(|| Error::corrupt("span"))?;
            if feed {
                events.push((e.id, Fields::new(span).collect()));
            }
            let new_block = e.flags & entry::FLAG_NEW_BLOCK != 0;
            let at = Placed {
                addr: Addr::new(pos.0, i),
                id: e.id,
                new_block,
                size: e.size,
                offset: e.start as u64,
            };
            stream.apply_add(wal, at, Fields::new(span))?;
            if let Some((pid, iid)) = e.idmp {
                stream.idmp_mut().record(pid, iid, e.id);
            }
            i += 1;
        }
        if feed {
            let entries = events.iter().map(|(id, f)| (*id, f.as_slice()));
            self.views.on_append(wal, key, entries);
        }
        Ok(())
    }

    /// Writes a VIEW.CREATE record, registers the view and runs its first
    /// build step (a short source is then complete). Returns the log end.
    pub fn view_create(
        &mut self,
        wal: &Wal,
        spec: ViewSpec,
        start: StreamId,
    ) -> Result<u64, Error> {
        let mut buf = Vec::new();
        views::encode_create(&spec, start, &mut buf);
        if buf.len() > MAX_RECORD_LEN {
            return Err(Error::TooLarge);
        }
        wal.append_nowait(views::kind::VIEW_CREATE, &buf)?;
        count(&mut self.since_checkpoint, buf.len());
        let name = spec.name.clone();
        self.views.create(spec, start);
        self.build_step(wal, Some(&name))?;
        Ok(wal.end().0)
    }

    /// Writes a VIEW.DROP record and drops the view. Returns the log end.
    pub fn view_drop(&mut self, wal: &Wal, name: &[u8]) -> Result<u64, Error> {
        wal.append_nowait(views::kind::VIEW_DROP, name)?;
        count(&mut self.since_checkpoint, name.len());
        self.views.remove(name);
        Ok(wal.end().0)
    }

    /// VIEW.REBUILD: writes the record, drops the view's data and runs the
    /// first build step. `None` if there is no such view.
    pub fn view_rebuild(&mut self, wal: &Wal, name: &[u8]) -> Result<Option<u64>, Error> {
        if self.views.get(name).is_none() {
            return Ok(None);
        }
        wal.append_nowait(views::kind::VIEW_REBUILD, name)?;
        count(&mut self.since_checkpoint, name.len());
        self.views.reset(name);
        self.build_step(wal, Some(name))?;
        Ok(Some(wal.end().0))
    }

    /// Runs one build step of the view `name` (or of the first view still
    /// building): reads the next source entries, writes the VIEW_STEP
    /// record, applies them, then evicts if over maxmemory. Returns whether
    /// any view is still building.
    ///
    /// # Errors
    /// Log writes (the engine is then poisoned).
    pub fn build_step(&mut self, wal: &Wal, name: Option<&[u8]>) -> Result<bool, Error> {
        let name = match name {
            Some(n) => n.to_vec(),
            None => match self.views.building() {
                Some(n) => n,
                None => return Ok(false),
            },
        };
        let Some(live) = self.views.get(&name) else {
            return Ok(self.views.building().is_some());
        };
        if live.state != views::ViewState::Building {
            return Ok(self.views.building().is_some());
        }
        let position = live.position;
        let stream = source_stream(&self.keyspace, &live.view.spec().source);
        let entries = match (stream, position.next()) {
            (Some(s), Some(from)) => {
                let r = IdRange {
                    start: from,
                    end: StreamId::MAX,
                };
                match s.range(wal, r, Some(views::STEP_ENTRIES)) {
                    Ok(e) => e,
                    Err(e) => {
                        self.views.fail(&name, &e);
                        return Ok(self.views.building().is_some());
                    }
                }
            }
            _ => Vec::new(),
        };
        let step = views::Step {
            name: &name,
            upto: entries.last().map_or(position, Entry::id),
            ready: entries.len() < views::STEP_ENTRIES,
        };
        let mut buf = Vec::new();
        step.encode(&mut buf);
        if let Err(e) = wal.append_nowait(views::kind::VIEW_STEP, &buf) {
            self.poisoned = true;
            return Err(e.into());
        }
        count(&mut self.since_checkpoint, buf.len());
        self.views
            .apply_step(wal, &name, &entries, step.upto, step.ready);
        self.evict_views(wal)?;
        Ok(self.views.building().is_some())
    }

    /// Replays a VIEW_STEP: the same source entries, read from the stream
    /// as it is at this point of the log.
    fn replay_step(&mut self, wal: &Wal, step: &views::Step<'_>) -> Result<(), Error> {
        let Some(live) = self.views.get(step.name) else {
            return Ok(());
        };
        let stream = source_stream(&self.keyspace, &live.view.spec().source);
        let entries = match (stream, live.position.next()) {
            (Some(s), Some(from)) if from <= step.upto => s.range(
                wal,
                IdRange {
                    start: from,
                    end: step.upto,
                },
                None,
            )?,
            _ => Vec::new(),
        };
        self.views
            .apply_step(wal, step.name, &entries, step.upto, step.ready);
        Ok(())
    }

    /// Evicts view units while over maxmemory (their records are written
    /// here); returns the used memory after.
    ///
    /// # Errors
    /// Log writes (the engine is then poisoned).
    pub fn evict_views(&mut self, wal: &Wal) -> Result<u64, Error> {
        let other = self.streams_memory();
        match self.views.evict(wal, other) {
            Ok((used, written)) => {
                if written > 0 {
                    self.since_checkpoint.1 += written;
                }
                Ok(used)
            }
            Err(e) => {
                self.poisoned = true;
                Err(e)
            }
        }
    }

    /// Heap bytes of the stream indexes (blocks, tombstones, key names).
    pub fn streams_memory(&self) -> u64 {
        self.keyspace
            .iter()
            .map(|(k, v)| match v {
                Value::Stream(s) => (k.len() + s.index_bytes()) as u64,
            })
            .sum()
    }

    /// The source stream of a view (split borrow: views mutable, streams read).
    pub fn view_and_source(&mut self, name: &[u8]) -> Option<(&mut views::Live, Option<&Stream>)> {
        let live = self.views.get_mut(name)?;
        let stream = source_stream(&self.keyspace, &live.view.spec().source);
        Some((live, stream))
    }

    fn apply_record(&mut self, wal: &Wal, rec: &Record<'_>) -> Result<(), Error> {
        match rec {
            Record::Xdel { key, ids } => {
                if let Some(s) = self.stream_mut(key)? {
                    s.apply_del(wal, ids)?;
                }
            }
            Record::Trim { key, effect } => {
                if let Some(s) = self.stream_mut(key)? {
                    s.apply_trim(wal, effect)?;
                }
            }
            Record::Xsetid {
                key,
                last_id,
                entries_added,
                max_deleted,
            } => {
                if let Some(s) = self.stream_mut(key)? {
                    s.apply_setid(*last_id, *entries_added, *max_deleted);
                }
            }
            Record::Del { keys } => {
                for k in keys {
                    if self.keyspace.remove(k).is_some() {
                        self.views.source_gone(k);
                    }
                }
            }
            Record::FlushAll => {
                self.keyspace.clear();
                self.views.clear();
            }
            Record::Rename { src, dst } => {
                self.views.source_gone(src);
                self.views.source_gone(dst);
                if let Some(v) = self.keyspace.remove(src) {
                    self.keyspace.remove(dst);
                    self.keyspace.insert(dst, v);
                }
            }
            Record::Create {
                key,
                duration_s,
                max_size,
            } => {
                let c = IdmpConfig {
                    duration_s: *duration_s,
                    max_size: *max_size,
                };
                self.stream_or_create(key, c)?;
            }
            Record::IdmpConfig {
                key,
                duration_s,
                max_size,
            } => {
                if let Some(s) = self.stream_mut(key)? {
                    let c = IdmpConfig {
                        duration_s: *duration_s,
                        max_size: *max_size,
                    };
                    s.idmp_mut().set_config(c);
                }
            }
        }
        Ok(())
    }

    /// Lowest WAL position any stream still needs (its first indexed entry).
    pub fn streams_min_position(&self) -> Option<u64> {
        self.keyspace
            .iter()
            .filter_map(|(_, v)| match v {
                Value::Stream(s) => s.first_addr().map(Addr::pos),
            })
            .min()
    }

    /// Lowest WAL position still needed: by a stream's first entry or by
    /// an evicted view unit's record.
    pub fn min_live_position(&self) -> Option<u64> {
        let units = self.views.min_unit_position();
        match (self.streams_min_position(), units) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        }
    }
}

fn encode_group(r: &GroupRecord<'_>) -> (u8, Vec<u8>) {
    let mut b = Vec::new();
    r.encode(&mut b);
    (r.kind(), b)
}

/// One `(field, value)` of an entry.
type FieldPair<'a> = (&'a [u8], &'a [u8]);

/// Counts one record of `bytes` written since the last checkpoint.
fn count(since_checkpoint: &mut (u64, u64), bytes: usize) {
    since_checkpoint.0 += 1;
    since_checkpoint.1 += bytes as u64;
}

/// [`Engine::stream_or_create`] on the key space alone, so a caller can
/// hold the stream beside the engine's other fields.
fn stream_or_create<'k>(
    keyspace: &'k mut Keyspace,
    key: &[u8],
    idmp: IdmpConfig,
) -> Result<(&'k mut Stream, bool), Error> {
    let created = keyspace.get(key).is_none();
    if created {
        let mut s = Stream::default();
        s.idmp_mut().set_config(idmp);
        keyspace.insert(key, Value::Stream(s));
    }
    match keyspace.get_mut(key) {
        Some(Value::Stream(s)) => Ok((s, created)),
        None => Err(Error::corrupt("stream vanished")),
    }
}

/// The stream a view reads, if the key holds one.
fn source_stream<'k>(keyspace: &'k Keyspace, key: &[u8]) -> Option<&'k Stream> {
    keyspace.get(key).map(|v| match v {
        Value::Stream(s) => s,
    })
}

fn tail_last(stream: &Stream) -> Option<Addr> {
    stream.tail_block().map(|b| b.last)
}
