//! Views inside the engine: the registry of live views, their records
//! (VIEW.CREATE, VIEW.DROP), their place in checkpoints, and how entries of
//! a source stream reach them.
//!
//! A view remembers `position`, the ID of the last source entry it applied.
//! Live appends and the replay of XADD records both apply only entries with
//! a greater ID, so an entry is never applied twice: a checkpoint holds each
//! view's data with its position, and the log replayed after it re-applies
//! exactly the entries the checkpoint does not cover. Views need no record
//! per event: they are derived from the XADD records.
//!
//! Does not own: the structures and the application of one event
//! ([`crate::view::View`]), query parsing, replies, or eviction decisions.

use std::collections::BTreeMap;

use eddy_wal::Wal;
use serde::{Deserialize, Serialize};

use crate::error::Error;
use crate::memory::{EvictionConfig, Evictor, ViewId, ViewKey};
use crate::record::{Cursor, put_varint};
use crate::stream::{IdRange, Stream, StreamId};
use crate::view::spec::ViewSpec;
use crate::view::{KeyType, View};

/// WAL record kinds of views (64..=95).
pub mod kind {
    /// A view defined: start position + postcard spec.
    pub const VIEW_CREATE: u8 = 64;
    /// A view dropped: its name.
    pub const VIEW_DROP: u8 = 65;
}

/// Entries read per range call while building or rebuilding.
const CHUNK: usize = 4096;

/// Where a view is in its life.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum ViewState {
    /// Replaying its source (only visible while the build runs).
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
    /// Times an evicted key of this view was rebuilt from the log.
    pub rebuilds: u64,
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

    /// Rebuilds of evicted keys since start-up.
    pub fn rebuilds(&self) -> u64 {
        self.dropped_rebuilds + self.map.values().map(|l| l.rebuilds).sum::<u64>()
    }

    /// Evicts view keys (sampled, per the policy) while `other + views`
    /// exceeds maxmemory; returns the used memory after.
    pub fn evict(&mut self, other: u64) -> u64 {
        let used = other + self.memory();
        if self.cfg.maxmemory == 0 || used <= self.cfg.maxmemory {
            return used;
        }
        let Views {
            map,
            evictor,
            cfg,
            now_ms,
            ..
        } = self;
        let out = evictor.evict(used, cfg, *now_ms, |vk| {
            map.values_mut()
                .find(|l| l.id == vk.view)
                .map_or(0, |l| l.view.evict_unit(&vk.key))
        });
        self.evicted_keys += out.evicted.len() as u64;
        other + self.memory()
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

    /// Creates a view and builds it from `stream` (the source as it is now).
    pub fn create(
        &mut self,
        wal: &Wal,
        spec: ViewSpec,
        start: StreamId,
        stream: Option<&Stream>,
    ) -> Result<(), Error> {
        let name = spec.name.clone();
        let id = self.next_id;
        self.next_id = self.next_id.wrapping_add(1);
        let mut live = Live {
            id,
            view: View::new(spec),
            start,
            position: start,
            state: ViewState::Building,
            rebuilds: 0,
        };
        build(wal, &mut live, stream);
        self.map.insert(name.clone(), live);
        self.register_all(&name);
        Ok(())
    }

    /// VIEW.REBUILD: drops the view's data and replays its source.
    pub fn rebuild(&mut self, wal: &Wal, name: &[u8], stream: Option<&Stream>) -> bool {
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
        build(wal, live, stream);
        self.register_all(name);
        true
    }

    /// Applies newly appended (or replayed) entries of `source`.
    pub fn on_append<'f>(
        &mut self,
        source: &[u8],
        entries: impl Iterator<Item = (StreamId, &'f [(&'f [u8], &'f [u8])])> + Clone,
    ) {
        for l in self.map.values_mut() {
            if l.view.spec().source != source {
                continue;
            }
            for (id, fields) in entries.clone() {
                if id > l.position {
                    for key in l.view.apply(id.ms, fields) {
                        let unit = l.view.unit_of(&key);
                        let bytes = l.view.unit_bytes(unit);
                        let k = ViewKey {
                            view: l.id,
                            key: unit.to_vec(),
                        };
                        self.evictor.upsert(&k, bytes, &self.cfg, self.now_ms);
                    }
                    l.position = id;
                }
            }
        }
    }

    /// The source stream was deleted or replaced: entries of a new stream
    /// under that name start again from the smallest ID.
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
                    state: ViewState::Ready,
                    rebuilds: 0,
                },
            );
            views.register_all(&name);
        }
        Ok(views)
    }
}

/// Source entries after `after`, in chunks, each applied by `f`.
fn for_each_entry(
    wal: &Wal,
    stream: &Stream,
    after: StreamId,
    upto: StreamId,
    mut f: impl FnMut(StreamId, &[(&[u8], &[u8])]),
) -> Result<(), Error> {
    let mut from = match after.next() {
        Some(id) => id,
        None => return Ok(()),
    };
    loop {
        if from > upto {
            return Ok(());
        }
        let range = IdRange {
            start: from,
            end: upto,
        };
        let entries = stream.range(wal, range, Some(CHUNK))?;
        let Some(last) = entries.last().map(crate::stream::Entry::id) else {
            return Ok(());
        };
        for e in &entries {
            let fields: Vec<(&[u8], &[u8])> = e.fields().collect();
            f(e.id(), &fields);
        }
        if entries.len() < CHUNK {
            return Ok(());
        }
        match last.next() {
            Some(n) => from = n,
            None => return Ok(()),
        }
    }
}

/// Replays the source into a fresh view from its start.
fn build(wal: &Wal, live: &mut Live, stream: Option<&Stream>) {
    live.state = ViewState::Building;
    live.position = live.start;
    let Some(stream) = stream else {
        live.state = ViewState::Ready;
        return;
    };
    let mut position = live.position;
    let view = &mut live.view;
    let res = for_each_entry(wal, stream, live.start, StreamId::MAX, |id, fields| {
        view.apply(id.ms, fields);
        position = id;
    });
    live.position = position;
    live.state = match res {
        Ok(()) => ViewState::Ready,
        Err(e) => ViewState::Error(e.to_string()),
    };
}

impl Live {
    /// Rebuilds the evicted unit holding `key` from the log (entries from
    /// the view's start to its position), counting a rebuild.
    pub fn rebuild_key(
        &mut self,
        wal: &Wal,
        stream: Option<&Stream>,
        key: &[u8],
    ) -> Result<(), Error> {
        let unit = self.view.unit_of(key).to_vec();
        if let Some(stream) = stream {
            let view = &mut self.view;
            for_each_entry(wal, stream, self.start, self.position, |id, fields| {
                view.rebuild_event(&unit, id.ms, fields);
            })?;
        }
        self.view.finish_rebuild(&unit);
        self.rebuilds += 1;
        Ok(())
    }

    /// Source entries not applied yet.
    pub fn lag(&self, wal: &Wal, stream: Option<&Stream>) -> u64 {
        let Some(s) = stream else { return 0 };
        if s.last_id() <= self.position {
            return 0;
        }
        let mut n = 0;
        let _ = for_each_entry(wal, s, self.position, StreamId::MAX, |_, _| n += 1);
        n
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
