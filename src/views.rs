//! Views inside the engine: the registry of live views, their records,
//! their place in checkpoints, and how entries of a source stream reach
//! them.
//!
//! A view remembers `position`, the ID of the last source entry it applied.
//! A ready view takes each appended entry with a greater ID under the same
//! engine lock as the append, so the XADD record that carries an event is
//! the one replay re-applies it from; views need no record per event.
//!
//! Building (after VIEW.CREATE or VIEW.REBUILD) goes in logged steps: each
//! step applies the next chunk of source entries and writes a VIEW_STEP
//! record naming the last ID it covered, so replay repeats every step at
//! the same point of the log, against the same stream contents, and the
//! view comes out identical whatever happened around it (appends, deletes,
//! evictions, crashes). Between steps other clients run; VIEW.INFO shows
//! the state, position and lag.
//!
//! Eviction writes the unit's exact state into a VIEW_UNIT record and keeps
//! only its position; the next event or read for that unit loads it back.
//! A unit's state therefore never depends on source entries still existing:
//! XDEL and trimming never change a view. Checkpoints hold evicted units as
//! positions, and copy records that would pin old segments forward.
//!
//! Does not own: the structures and the application of one event
//! ([`crate::view::View`]), query parsing, replies, or eviction decisions.

use std::collections::BTreeMap;

use eddy_wal::{MAX_RECORD_LEN, Position, Wal};
use serde::{Deserialize, Serialize};

use crate::error::Error;
use crate::memory::{EvictionConfig, Evictor, ViewId, ViewKey};
use crate::record::{Cursor, put_bytes, put_varint};
use crate::stream::{Entry, Stream, StreamId};
use crate::view::spec::ViewSpec;
use crate::view::{Evicted, KeyType, View};

/// WAL record kinds of views (64..=95).
pub mod kind {
    /// A view defined: start position + postcard spec.
    pub const VIEW_CREATE: u8 = 64;
    /// A view dropped: its name.
    pub const VIEW_DROP: u8 = 65;
    /// A build step: name, last source ID covered, whether the build ended.
    pub const VIEW_STEP: u8 = 66;
    /// An evicted unit: view name, unit, the unit's encoded state.
    pub const VIEW_UNIT: u8 = 67;
    /// VIEW.REBUILD: the view's name; its data is dropped and it builds again.
    pub const VIEW_REBUILD: u8 = 68;
}

/// Source entries applied per build step: a step holds the engine lock,
/// so this bounds the pause other clients see (about a millisecond).
pub const STEP_ENTRIES: usize = 1024;

/// Where a view is in its life.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum ViewState {
    /// Replaying its source in steps; live appends wait for the build.
    Building,
    /// Up to date with its source.
    Ready,
    /// The build failed reading the log; the text says why.
    Error(String),
}

impl ViewState {
    /// The VIEW.INFO `state` word.
    pub fn name(&self) -> &'static str {
        match self {
            ViewState::Building => "building",
            ViewState::Ready => "ready",
            ViewState::Error(_) => "error",
        }
    }
}

/// A view with its progress through the source stream.
#[derive(Debug, Clone)]
pub struct Live {
    /// Identifies the view's keys in the evictor.
    pub id: ViewId,
    /// Spec and data.
    pub view: View,
    /// Entries with an ID above this one belong to the view (FROM, resolved
    /// when the view was created).
    pub start: StreamId,
    /// ID of the last source entry applied.
    pub position: StreamId,
    /// Building, ready or error.
    pub state: ViewState,
    /// Times an evicted unit of this view was loaded back from the log.
    pub rebuilds: u64,
}

/// A VIEW_STEP record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Step<'a> {
    /// View name.
    pub name: &'a [u8],
    /// Last source ID the step covers (entries in `(position, upto]`).
    pub upto: StreamId,
    /// The build reached the end of the source: the view is ready.
    pub ready: bool,
}

impl<'a> Step<'a> {
    /// Payload: name (length-prefixed), upto ms and seq (varints), ready u8.
    pub fn encode(&self, out: &mut Vec<u8>) {
        put_bytes(out, self.name);
        put_varint(out, self.upto.ms);
        put_varint(out, self.upto.seq);
        out.push(u8::from(self.ready));
    }

    /// Decodes a VIEW_STEP payload.
    pub fn decode(payload: &'a [u8]) -> Result<Step<'a>, Error> {
        let mut c = Cursor::new(payload);
        let name = c.bytes()?;
        let upto = StreamId::new(c.varint()?, c.varint()?);
        let ready = c.u8()? != 0;
        Ok(Step { name, upto, ready })
    }
}

/// A VIEW_UNIT record: view name, unit, then the unit's state to the end.
pub fn encode_unit(name: &[u8], unit: &[u8], state: &[u8], out: &mut Vec<u8>) {
    put_bytes(out, name);
    put_bytes(out, unit);
    out.extend_from_slice(state);
}

/// A decoded VIEW_UNIT payload: view name, unit, encoded state.
pub type UnitRecord<'a> = (&'a [u8], &'a [u8], &'a [u8]);

/// Decodes a VIEW_UNIT payload.
pub fn decode_unit(payload: &[u8]) -> Result<UnitRecord<'_>, Error> {
    let mut c = Cursor::new(payload);
    let name = c.bytes()?;
    let unit = c.bytes()?;
    let state = payload
        .get(c.offset()..)
        .ok_or_else(|| Error::corrupt("view unit"))?;
    Ok((name, unit, state))
}

/// What VIEW.INFO reports.
#[derive(Debug, Clone)]
pub struct ViewInfo {
    /// The spec.
    pub spec: ViewSpec,
    /// State.
    pub state: ViewState,
    /// Events applied, filtered, skipped.
    pub stats: crate::view::Stats,
    /// Last applied ID.
    pub position: StreamId,
    /// Source entries not yet applied.
    pub lag: u64,
    /// Keys held.
    pub keys: u64,
    /// Estimated bytes.
    pub memory: u64,
    /// Key rebuilds after eviction.
    pub rebuilds: u64,
}

/// One view in a checkpoint.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ViewSnap {
    spec: Vec<u8>,
    start: (u64, u64),
    position: (u64, u64),
    state: ViewState,
    data: Vec<u8>,
}

/// All views, by name, with the eviction registry of their keys.
#[derive(Debug, Clone)]
pub struct Views {
    map: BTreeMap<Vec<u8>, Live>,
    /// Every held (not evicted) unit of every view, with its size: the sum
    /// is the views' share of `used_memory`.
    evictor: Evictor,
    next_id: ViewId,
    /// maxmemory, policy and samples.
    pub cfg: EvictionConfig,
    /// Clock for LRU/LFU access times, set by the store before each call.
    pub now_ms: u64,
    /// Units evicted since start-up (INFO `evicted_keys`).
    pub evicted_keys: u64,
    /// Rebuilds of dropped views' keys, kept so the total never goes down.
    dropped_rebuilds: u64,
}

impl Default for Views {
    fn default() -> Self {
        Views {
            map: BTreeMap::new(),
            evictor: Evictor::new(0x5eed),
            next_id: 0,
            cfg: EvictionConfig::default(),
            now_ms: 0,
            evicted_keys: 0,
            dropped_rebuilds: 0,
        }
    }
}

/// Encodes a VIEW.CREATE payload: start ms, start seq (varints), then the
/// postcard spec.
pub fn encode_create(spec: &ViewSpec, start: StreamId, out: &mut Vec<u8>) {
    put_varint(out, start.ms);
    put_varint(out, start.seq);
    out.extend_from_slice(&spec.to_bytes());
}

/// Decodes a VIEW.CREATE payload.
pub fn decode_create(payload: &[u8]) -> Result<(ViewSpec, StreamId), Error> {
    let mut c = Cursor::new(payload);
    let start = StreamId::new(c.varint()?, c.varint()?);
    let rest = payload
        .get(c.offset()..)
        .ok_or_else(|| Error::corrupt("view spec"))?;
    let spec = ViewSpec::from_bytes(rest).map_err(|_| Error::corrupt("view spec"))?;
    Ok((spec, start))
}

fn id_pair(id: StreamId) -> (u64, u64) {
    (id.ms, id.seq)
}

impl Views {
    /// The view called `name`.
    pub fn get(&self, name: &[u8]) -> Option<&Live> {
        self.map.get(name)
    }

    /// The view called `name`, mutably.
    pub fn get_mut(&mut self, name: &[u8]) -> Option<&mut Live> {
        self.map.get_mut(name)
    }

    /// Names, sorted.
    pub fn names(&self) -> Vec<Vec<u8>> {
        self.map.keys().cloned().collect()
    }

    /// All views.
    pub fn iter(&self) -> impl Iterator<Item = (&Vec<u8>, &Live)> {
        self.map.iter()
    }

    /// All views, mutably.
    pub fn iter_mut(&mut self) -> impl Iterator<Item = (&Vec<u8>, &mut Live)> {
        self.map.iter_mut()
    }

    /// Number of views.
    pub fn len(&self) -> usize {
        self.map.len()
    }

    /// Whether there is no view.
    pub fn is_empty(&self) -> bool {
        self.map.is_empty()
    }

    /// Removes every view (FLUSHALL).
    pub fn clear(&mut self) {
        for name in self.names() {
            self.remove(&name);
        }
    }

    /// Removes a view; whether it existed.
    pub fn remove(&mut self, name: &[u8]) -> bool {
        let Some(live) = self.map.remove(name) else {
            return false;
        };
        for unit in live.view.units() {
            self.evictor.remove(&ViewKey {
                view: live.id,
                key: unit,
            });
        }
        self.dropped_rebuilds += live.rebuilds;
        true
    }

    /// Registers (or re-sizes) every unit of a view with the evictor.
    fn register_all(&mut self, name: &[u8]) {
        let Some(live) = self.map.get(name) else {
            return;
        };
        for unit in live.view.units() {
            let bytes = live.view.unit_bytes(&unit);
            let k = ViewKey {
                view: live.id,
                key: unit,
            };
            self.evictor.upsert(&k, bytes, &self.cfg, self.now_ms);
        }
    }

    /// Registers the unit of `key` after it changed (or was rebuilt), or
    /// counts a read of it.
    pub fn touch(&mut self, name: &[u8], key: &[u8], resize: bool) {
        let Some(live) = self.map.get(name) else {
            return;
        };
        let unit = live.view.unit_of(key);
        let k = ViewKey {
            view: live.id,
            key: unit.to_vec(),
        };
        if resize {
            let bytes = live.view.unit_bytes(unit);
            self.evictor.upsert(&k, bytes, &self.cfg, self.now_ms);
        } else {
            self.evictor.touch(&k, &self.cfg, self.now_ms);
        }
    }

    /// Estimated bytes of all held view keys.
    pub fn memory(&self) -> u64 {
        self.evictor.bytes() as u64
    }

    /// Estimated bytes of the evicted units' index (not evictable, not part
    /// of [`Views::memory`]).
    pub fn evicted_index_bytes(&self) -> u64 {
        self.map
            .values()
            .map(|l| l.view.evicted_index_bytes() as u64)
            .sum()
    }

    /// Loads of evicted units since start-up.
    pub fn rebuilds(&self) -> u64 {
        self.dropped_rebuilds + self.map.values().map(|l| l.rebuilds).sum::<u64>()
    }

    /// Evicts view units (sampled, per the policy) while `other + views`
    /// exceeds maxmemory. Each unit's exact state goes into a VIEW_UNIT
    /// record first; a unit too large for one record stays held. Returns
    /// the used memory after and the record bytes written.
    ///
    /// # Errors
    /// A failed log write (the log is then poisoned; the unit stays held).
    pub fn evict(&mut self, wal: &Wal, other: u64) -> Result<(u64, u64), Error> {
        let used = other + self.memory();
        if self.cfg.maxmemory == 0 || used <= self.cfg.maxmemory {
            return Ok((used, 0));
        }
        let Views {
            map,
            evictor,
            cfg,
            now_ms,
            ..
        } = self;
        let mut written = 0u64;
        let mut failed: Option<Error> = None;
        let mut kept: Vec<ViewKey> = Vec::new();
        let mut buf = Vec::new();
        let out = evictor.evict(used, cfg, *now_ms, |vk| {
            let Some((name, live)) = map.iter_mut().find(|(_, l)| l.id == vk.view) else {
                return 0;
            };
            if failed.is_some() {
                kept.push(vk.clone());
                return 0;
            }
            let Some((state, freed)) = live.view.take_unit(&vk.key) else {
                return 0;
            };
            buf.clear();
            encode_unit(name, &vk.key, &state, &mut buf);
            let res = if buf.len() > MAX_RECORD_LEN {
                Err(None)
            } else {
                wal.append_nowait(kind::VIEW_UNIT, &buf)
                    .map_err(|e| Some(Error::from(e)))
            };
            match res {
                Ok(pos) => {
                    live.view.mark_evicted(&vk.key, pos.0);
                    written += buf.len() as u64;
                    freed
                }
                Err(e) => {
                    // Put the state back exactly as it was taken.
                    let _ = live.view.load_unit(&vk.key, &state);
                    if e.is_some() {
                        failed = e;
                    }
                    kept.push(vk.clone());
                    0
                }
            }
        });
        for vk in &kept {
            if let Some(l) = map.values().find(|l| l.id == vk.view) {
                evictor.upsert(vk, l.view.unit_bytes(&vk.key), cfg, *now_ms);
            }
        }
        self.evicted_keys += out.evicted.len().saturating_sub(kept.len()) as u64;
        if let Some(e) = failed {
            return Err(e);
        }
        Ok((other + self.memory(), written))
    }

    /// Replay of a VIEW_UNIT record at `pos`: the unit's state is that
    /// record from here on.
    pub fn replay_unit(&mut self, name: &[u8], unit: &[u8], pos: u64) {
        let Some(live) = self.map.get_mut(name) else {
            return;
        };
        live.view.drop_unit(unit, pos);
        self.evictor.remove(&ViewKey {
            view: live.id,
            key: unit.to_vec(),
        });
    }

    /// Before a checkpoint: rewrites every eviction record older than
    /// `below` at the end of the log, so that old segments can go. Returns
    /// the bytes written.
    ///
    /// # Errors
    /// Log reads and writes.
    pub fn copy_forward(&mut self, wal: &Wal, below: u64) -> Result<u64, Error> {
        let mut written = 0;
        for live in self.map.values_mut() {
            let old: Vec<(Vec<u8>, u64)> = live
                .view
                .evicted_units()
                .filter(|(_, p)| *p < below)
                .map(|(u, p)| (u.to_vec(), p))
                .collect();
            for (unit, pos) in old {
                let rec = wal.read_at(Position(pos))?;
                let new = wal.append_nowait(kind::VIEW_UNIT, rec.payload())?;
                written += rec.payload().len() as u64;
                live.view.mark_evicted(&unit, new.0);
            }
        }
        Ok(written)
    }

    /// Lowest log position an evicted unit's record sits at.
    pub fn min_unit_position(&self) -> Option<u64> {
        self.map
            .values()
            .flat_map(|l| l.view.evicted_units().map(|(_, p)| p))
            .min()
    }

    /// The view owning `key` (holding it, or holding it evicted).
    pub fn owner(&self, key: &[u8]) -> Option<(&[u8], &Live)> {
        self.map
            .iter()
            .find(|(_, l)| l.view.contains(key) || l.view.is_evicted(key))
            .map(|(n, l)| (n.as_slice(), l))
    }

    /// Name of the view owning `key`.
    pub fn owner_name(&self, key: &[u8]) -> Option<Vec<u8>> {
        self.owner(key).map(|(n, _)| n.to_vec())
    }

    /// The type of `key` if a view holds it.
    pub fn key_type(&self, key: &[u8]) -> Option<KeyType> {
        self.owner(key).map(|(_, l)| l.view.key_type())
    }

    /// Every key of every view, evicted ones included (they exist for
    /// clients: a read rebuilds them), except evicted window counters.
    pub fn keys(&self) -> Vec<(Vec<u8>, KeyType)> {
        let mut out = Vec::new();
        for l in self.map.values() {
            let t = l.view.key_type();
            out.extend(l.view.keys().into_iter().map(|k| (k, t)));
            out.extend(l.view.evicted_keys().into_iter().map(|k| (k, t)));
        }
        out
    }

    /// Number of keys [`Views::keys`] lists.
    pub fn key_count(&self) -> usize {
        self.map
            .values()
            .map(|l| l.view.keys().len() + l.view.evicted_keys().len())
            .sum()
    }

    /// Calls `f` with every key [`Views::keys`] lists and its type,
    /// without collecting them.
    pub fn for_each_key(&self, mut f: impl FnMut(&[u8], KeyType)) {
        for l in self.map.values() {
            let t = l.view.key_type();
            l.view.for_each_key(|k| f(k, t));
        }
    }

    /// Number of keys [`Views::for_each_key`] visits, in O(views).
    pub fn key_len(&self) -> usize {
        self.map.values().map(|l| l.view.key_len()).sum()
    }

    /// One SCAN step over the view keys from hash position `from` (see
    /// [`crate::view::keyscan`]): the next position (`None` at the end) and
    /// the keys of the page that `keep` accepts.
    pub fn scan_keys(
        &self,
        from: u64,
        count: usize,
        keep: impl Fn(&[u8], KeyType) -> bool,
    ) -> (Option<u64>, Vec<Vec<u8>>) {
        crate::view::keyscan::step(|f| self.for_each_key(f), self.key_len(), from, count, keep)
    }

    /// Whether any view reads `source`.
    pub fn reads(&self, source: &[u8]) -> bool {
        self.map.values().any(|l| l.view.spec().source == source)
    }

    /// Registers a new view, building (VIEW.CREATE and its replay); the
    /// engine then runs build steps.
    pub fn create(&mut self, spec: ViewSpec, start: StreamId) {
        let name = spec.name.clone();
        let id = self.next_id;
        self.next_id = self.next_id.wrapping_add(1);
        let live = Live {
            id,
            view: View::new(spec),
            start,
            position: start,
            state: ViewState::Building,
            rebuilds: 0,
        };
        self.map.insert(name, live);
    }

    /// VIEW.REBUILD (and its replay): drops the view's data, evicted units
    /// included, and starts building from its start again.
    pub fn reset(&mut self, name: &[u8]) -> bool {
        let Some(live) = self.map.get_mut(name) else {
            return false;
        };
        for unit in live.view.units() {
            self.evictor.remove(&ViewKey {
                view: live.id,
                key: unit,
            });
        }
        live.view = View::new(live.view.spec().clone());
        live.position = live.start;
        live.state = ViewState::Building;
        true
    }

    /// The first view (by name) still building.
    pub fn building(&self) -> Option<Vec<u8>> {
        self.map
            .iter()
            .find(|(_, l)| l.state == ViewState::Building)
            .map(|(n, _)| n.clone())
    }

    /// Applies a build step: `entries` are the source entries in
    /// `(position, upto]`, ascending; with `ready` the build ends.
    pub fn apply_step(
        &mut self,
        wal: &Wal,
        name: &[u8],
        entries: &[Entry],
        upto: StreamId,
        ready: bool,
    ) {
        let Views {
            map,
            evictor,
            cfg,
            now_ms,
            ..
        } = self;
        let Some(l) = map.get_mut(name) else {
            return;
        };
        if l.state != ViewState::Building {
            return;
        }
        let mut fields = Vec::new();
        for e in entries {
            fields.clear();
            fields.extend(e.fields());
            if let Err(err) = apply_entry(wal, l, evictor, cfg, *now_ms, e.id(), &fields) {
                l.state = ViewState::Error(err.to_string());
                return;
            }
        }
        l.position = l.position.max(upto);
        if ready {
            l.state = ViewState::Ready;
        }
    }

    /// A build step could not read its source: the view stops with an error.
    pub fn fail(&mut self, name: &[u8], err: &Error) {
        if let Some(l) = self.map.get_mut(name) {
            l.state = ViewState::Error(err.to_string());
        }
    }

    /// Applies newly appended (or replayed) entries of `source` to its
    /// ready views, loading evicted units they touch. A unit that cannot be
    /// loaded puts its view in the error state.
    pub fn on_append<'f>(
        &mut self,
        wal: &Wal,
        source: &[u8],
        entries: impl Iterator<Item = (StreamId, &'f [(&'f [u8], &'f [u8])])> + Clone,
    ) {
        let Views {
            map,
            evictor,
            cfg,
            now_ms,
            ..
        } = self;
        for l in map.values_mut() {
            if l.view.spec().source != source || l.state != ViewState::Ready {
                continue;
            }
            for (id, fields) in entries.clone() {
                if id <= l.position {
                    continue;
                }
                if let Err(err) = apply_entry(wal, l, evictor, cfg, *now_ms, id, fields) {
                    l.state = ViewState::Error(err.to_string());
                    break;
                }
            }
        }
    }

    /// The source stream was deleted or replaced: entries of a new stream
    /// under that name start again from the smallest ID. The view keeps
    /// what it derived from the old one.
    pub fn source_gone(&mut self, source: &[u8]) {
        for l in self.map.values_mut() {
            if l.view.spec().source == source {
                l.position = StreamId::MIN;
                l.start = StreamId::MIN;
            }
        }
    }

    /// Checkpoint form.
    pub fn snapshot(&self) -> Vec<ViewSnap> {
        self.map
            .values()
            .map(|l| ViewSnap {
                spec: l.view.spec().to_bytes(),
                start: id_pair(l.start),
                position: id_pair(l.position),
                state: l.state.clone(),
                data: l.view.snapshot(),
            })
            .collect()
    }

    /// Views from a checkpoint.
    pub fn restore(snaps: Vec<ViewSnap>) -> Result<Views, Error> {
        let mut views = Views::default();
        for (id, s) in (0..).zip(snaps) {
            let spec = ViewSpec::from_bytes(&s.spec).map_err(|_| Error::corrupt("view spec"))?;
            let view = View::restore(spec, &s.data).map_err(|_| Error::corrupt("view snapshot"))?;
            let name = view.spec().name.clone();
            views.next_id = id + 1;
            views.map.insert(
                name.clone(),
                Live {
                    id,
                    view,
                    start: StreamId::new(s.start.0, s.start.1),
                    position: StreamId::new(s.position.0, s.position.1),
                    state: s.state,
                    rebuilds: 0,
                },
            );
            views.register_all(&name);
        }
        Ok(views)
    }
}

/// Applies one source entry to a view, loading its unit first if evicted.
fn apply_entry(
    wal: &Wal,
    l: &mut Live,
    evictor: &mut Evictor,
    cfg: &EvictionConfig,
    now_ms: u64,
    id: StreamId,
    fields: &[(&[u8], &[u8])],
) -> Result<(), Error> {
    let changed = match l.view.apply(id.ms, fields) {
        Ok(changed) => changed,
        Err(Evicted { unit, pos }) => {
            l.load(wal, &unit, pos)?;
            let k = ViewKey {
                view: l.id,
                key: unit.clone(),
            };
            evictor.upsert(&k, l.view.unit_bytes(&unit), cfg, now_ms);
            l.view
                .apply(id.ms, fields)
                .map_err(|_| Error::corrupt("view unit still evicted after a load"))?
        }
    };
    for key in changed {
        let unit = l.view.unit_of(&key);
        let k = ViewKey {
            view: l.id,
            key: unit.to_vec(),
        };
        evictor.upsert(&k, l.view.unit_bytes(unit), cfg, now_ms);
    }
    l.position = id;
    Ok(())
}

impl Live {
    /// Loads an evicted unit back from its record at `pos`, counting a
    /// rebuild. The caller registers it with the evictor.
    ///
    /// # Errors
    /// The record cannot be read or does not hold this unit.
    pub fn load(&mut self, wal: &Wal, unit: &[u8], pos: u64) -> Result<(), Error> {
        let rec = wal.read_at(Position(pos))?;
        let (_, u, state) = decode_unit(rec.payload())?;
        if u != unit {
            return Err(Error::corrupt("view unit record for another key"));
        }
        self.view
            .load_unit(unit, state)
            .map_err(|_| Error::corrupt("view unit"))?;
        self.rebuilds += 1;
        Ok(())
    }

    /// Source entries not applied yet.
    pub fn lag(&self, wal: &Wal, stream: Option<&Stream>) -> u64 {
        match stream {
            Some(s) if s.last_id() > self.position => {
                s.count_after(wal, self.position).unwrap_or(0)
            }
            _ => 0,
        }
    }

    /// VIEW.INFO.
    pub fn info(&self, wal: &Wal, stream: Option<&Stream>) -> ViewInfo {
        ViewInfo {
            spec: self.view.spec().clone(),
            state: self.state.clone(),
            stats: self.view.stats(),
            position: self.position,
            lag: self.lag(wal, stream),
            keys: self.view.keys().len() as u64,
            memory: self.view.mem_bytes() as u64,
            rebuilds: self.rebuilds,
        }
    }
}
