//! A live view: its spec, its data, and the deterministic application of
//! events, including the eviction and loading of units.
//!
//! Owns: [`View::apply`] (one event → the keys it changed), per-unit
//! encoding for eviction ([`View::take_unit`], [`View::load_unit`]), per-key
//! sizes for the evictor, the read accessors the query commands use, and
//! the state snapshot stored in checkpoints. Does not own: the log (the
//! engine writes an evicted unit's bytes as a record and remembers where),
//! or deciding when to evict ([`crate::memory::Evictor`] does).
//!
//! Eviction unit: a key, except for fixed-window views, where all windows
//! of one base key go together (retention depends on the newest window).
//! An evicted unit's exact state lives in one log record; the view keeps
//! only the record's position. An event for an evicted unit is refused
//! with [`Evicted`] until the caller loads the unit back, so no event is
//! ever skipped and a reload never depends on source entries that XDEL or
//! trimming may since have removed.

use std::collections::{BTreeMap, HashMap};

use serde::{Deserialize, Serialize};

use crate::memory;
use crate::view::counter::{Bucket, Buckets, Number, Totals, Windows};
use crate::view::geo::geo_score;
use crate::view::spec::{CounterMode, Kind, ViewSpec};
use crate::view::zset::{AddOutcome, ZSet};

/// Counters of a view's progress (VIEW.INFO).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Stats {
    /// Events that passed the filter and were applied.
    pub applied: u64,
    /// Events rejected by the filter.
    pub filtered: u64,
    /// Events that matched but could not apply (missing field, not a
    /// number, coordinates out of range, NaN score).
    pub skipped: u64,
}

/// The Redis type a view's keys report (TYPE).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeyType {
    /// Sorted sets and geo indexes.
    ZSet,
    /// Totals and window counters (GET).
    String,
    /// Time-bucket series (VIEW.RANGE).
    Series,
}

impl KeyType {
    /// Every type a view key can have.
    pub const ALL: [KeyType; 3] = [KeyType::ZSet, KeyType::String, KeyType::Series];

    /// The TYPE reply.
    pub fn name(self) -> &'static str {
        match self {
            KeyType::ZSet => "zset",
            KeyType::String => "string",
            KeyType::Series => "series",
        }
    }
}

/// A sorted set in a snapshot: key and `(member, score)` pairs.
type SetSnap<'a> = (&'a [u8], Vec<(&'a [u8], f64)>);

/// One evicted unit's state, as its log record holds it. [`UnitRef`] is the
/// borrowed twin used for encoding (same serialized form).
#[derive(Debug, Deserialize)]
enum UnitData {
    Set(Vec<(Vec<u8>, f64)>),
    Total(Number),
    Windows(BTreeMap<u64, Number>),
    Series(BTreeMap<u64, Bucket>),
}

#[derive(Serialize)]
enum UnitRef<'a> {
    Set(Vec<(&'a [u8], f64)>),
    Total(Number),
    Windows(&'a BTreeMap<u64, Number>),
    Series(&'a BTreeMap<u64, Bucket>),
}

/// An event targets a unit that is evicted: load it from the record at
/// `pos` ([`View::load_unit`]), then apply the event again.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Evicted {
    /// The unit.
    pub unit: Vec<u8>,
    /// Log position of the record holding its state.
    pub pos: u64,
}

/// A unit's bytes could not be decoded.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BadUnit;

#[derive(Debug, Clone, Serialize, Deserialize)]
enum Data {
    ZSets(#[serde(skip)] HashMap<Vec<u8>, ZSet>),
    Totals(Totals),
    Windows(Windows),
    Buckets(Buckets),
}

/// A view: spec + derived data.
#[derive(Debug, Clone)]
pub struct View {
    spec: ViewSpec,
    data: Data,
    /// Evicted units and the log position of the record holding each one.
    evicted: HashMap<Vec<u8>, u64>,
    stats: Stats,
}

enum Target {
    Filtered,
    Skipped,
    Unit(Vec<u8>),
}

impl View {
    /// An empty view for a spec.
    pub fn new(spec: ViewSpec) -> View {
        let data = match &spec.kind {
            Kind::ZSet { .. } | Kind::Geo { .. } => Data::ZSets(HashMap::new()),
            Kind::Counter {
                mode: CounterMode::Total,
                ..
            } => Data::Totals(Totals::default()),
            Kind::Counter {
                mode: CounterMode::Window { window_ms, keep },
                ..
            } => Data::Windows(Windows::new(*window_ms, *keep)),
            Kind::Counter {
                mode:
                    CounterMode::Buckets {
                        bucket_ms,
                        retention,
                    },
                ..
            } => Data::Buckets(Buckets::new(*bucket_ms, *retention)),
        };
        View {
            spec,
            data,
            evicted: HashMap::new(),
            stats: Stats::default(),
        }
    }

    /// The definition.
    pub fn spec(&self) -> &ViewSpec {
        &self.spec
    }

    /// Progress counters.
    pub fn stats(&self) -> Stats {
        self.stats
    }

    /// The type of this view's keys.
    pub fn key_type(&self) -> KeyType {
        match &self.data {
            Data::ZSets(_) => KeyType::ZSet,
            Data::Totals(_) | Data::Windows(_) => KeyType::String,
            Data::Buckets(_) => KeyType::Series,
        }
    }

    /// The eviction unit of a key as clients name it (the key itself, or a
    /// window key's base). Unit-level methods take units, never keys.
    pub fn unit_of<'k>(&self, key: &'k [u8]) -> &'k [u8] {
        match &self.data {
            Data::Windows(_) => Windows::parse_key(key).map_or(key, |(base, _)| base),
            _ => key,
        }
    }

    fn target(&self, fields: &[(&[u8], &[u8])]) -> Target {
        if !self.spec.matches(fields) {
            return Target::Filtered;
        }
        let key = match &self.spec.kind {
            Kind::ZSet { key, .. } | Kind::Counter { key, .. } | Kind::Geo { key, .. } => key,
        };
        match key.render(fields) {
            Some(k) => Target::Unit(k),
            None => Target::Skipped,
        }
    }

    /// Applies one event (`id_ms` = the entry ID's milliseconds); returns
    /// the keys whose value changed. Deterministic: the same events in the
    /// same order always give the same state.
    ///
    /// # Errors
    /// [`Evicted`] if the event's unit is evicted: nothing changed; load the
    /// unit and apply again.
    pub fn apply(
        &mut self,
        id_ms: u64,
        fields: &[(&[u8], &[u8])],
    ) -> Result<Vec<Vec<u8>>, Evicted> {
        match self.target(fields) {
            Target::Filtered => {
                self.stats.filtered += 1;
                Ok(Vec::new())
            }
            Target::Skipped => {
                self.stats.skipped += 1;
                Ok(Vec::new())
            }
            Target::Unit(unit) => {
                if let Some(&pos) = self.evicted.get(&unit) {
                    return Err(Evicted { unit, pos });
                }
                match self.mutate(&unit, id_ms, fields) {
                    Ok(changed) => {
                        self.stats.applied += 1;
                        Ok(changed.into_iter().collect())
                    }
                    Err(()) => {
                        self.stats.skipped += 1;
                        Ok(Vec::new())
                    }
                }
            }
        }
    }

    /// Changes the unit's data; `Err` when the event's values are unusable.
    fn mutate(
        &mut self,
        unit: &[u8],
        id_ms: u64,
        fields: &[(&[u8], &[u8])],
    ) -> Result<Option<Vec<u8>>, ()> {
        match (&self.spec.kind, &mut self.data) {
            (
                Kind::ZSet {
                    member,
                    score,
                    incr,
                    flags,
                    ..
                },
                Data::ZSets(sets),
            ) => {
                let m = member.render(fields).ok_or(())?;
                let s = score.eval(fields).ok_or(())?;
                if !sets.contains_key(unit) {
                    sets.insert(unit.to_vec(), ZSet::new());
                }
                let z = sets.get_mut(unit).ok_or(())?;
                let out = z.add(&m, s, *flags, *incr);
                if z.is_empty() {
                    sets.remove(unit);
                }
                match out {
                    Ok(AddOutcome::Added(_) | AddOutcome::Updated(_)) => Ok(Some(unit.to_vec())),
                    Ok(AddOutcome::Unchanged(_)) => Ok(None),
                    Err(_) => Err(()),
                }
            }
            (
                Kind::Geo {
                    member, lon, lat, ..
                },
                Data::ZSets(sets),
            ) => {
                let m = member.render(fields).ok_or(())?;
                let (x, y) = (lon.eval(fields).ok_or(())?, lat.eval(fields).ok_or(())?);
                let score = geo_score(x, y).map_err(|_| ())?;
                if !sets.contains_key(unit) {
                    sets.insert(unit.to_vec(), ZSet::new());
                }
                let z = sets.get_mut(unit).ok_or(())?;
                let changed = z.insert(&m, score) != Some(score);
                Ok(changed.then(|| unit.to_vec()))
            }
            (Kind::Counter { by, .. }, data) => {
                let n = by.eval(fields).ok_or(())?;
                Ok(match data {
                    Data::Totals(t) => {
                        t.incr(unit, n);
                        Some(unit.to_vec())
                    }
                    Data::Windows(w) => w.incr(unit, id_ms, n),
                    Data::Buckets(b) => b.add(unit, id_ms, n).then(|| unit.to_vec()),
                    Data::ZSets(_) => None,
                })
            }
            _ => Ok(None),
        }
    }

    /// True if the key's unit was evicted and must be rebuilt before a read.
    pub fn is_evicted(&self, key: &[u8]) -> bool {
        self.evicted.contains_key(self.unit_of(key))
    }

    /// Where the record of an evicted unit is.
    pub fn evicted_at(&self, unit: &[u8]) -> Option<u64> {
        self.evicted.get(unit).copied()
    }

    /// Estimated bytes of the index of evicted units (a name and a
    /// position each): memory that eviction cannot give back.
    pub fn evicted_index_bytes(&self) -> usize {
        self.evicted
            .keys()
            .map(|k| memory::hash_entry_bytes(32) + memory::alloc_bytes(k.len()))
            .sum()
    }

    /// Every evicted unit with its record's position.
    pub fn evicted_units(&self) -> impl Iterator<Item = (&[u8], u64)> {
        self.evicted.iter().map(|(k, p)| (k.as_slice(), *p))
    }

    /// Eviction units currently held (what the engine registers with the
    /// evictor; see [`View::unit_of`] for the changed keys `apply` returns).
    pub fn units(&self) -> Vec<Vec<u8>> {
        match &self.data {
            Data::Windows(w) => w.bases().map(<[u8]>::to_vec).collect(),
            _ => self.keys(),
        }
    }

    /// Takes a held unit out for eviction: returns its encoded state (what
    /// the log record will hold) and the bytes released. Follow with
    /// [`View::mark_evicted`] once the record is written, or
    /// [`View::load_unit`] to put it back.
    pub fn take_unit(&mut self, unit: &[u8]) -> Option<(Vec<u8>, usize)> {
        let freed = self.unit_bytes(unit);
        let bytes = match &mut self.data {
            Data::ZSets(sets) => {
                let z = sets.remove(unit)?;
                encode_unit(&UnitRef::Set(z.iter().collect()))
            }
            Data::Totals(t) => encode_unit(&UnitRef::Total(t.take(unit)?)),
            Data::Windows(w) => encode_unit(&UnitRef::Windows(&w.take_base(unit)?)),
            Data::Buckets(b) => encode_unit(&UnitRef::Series(&b.take(unit)?)),
        };
        Some((bytes, freed))
    }

    /// Records that `unit`'s state is in the log record at `pos`.
    pub fn mark_evicted(&mut self, unit: &[u8], pos: u64) {
        self.evicted.insert(unit.to_vec(), pos);
    }

    /// Replay of an eviction record: drops the unit's data (the record at
    /// `pos` holds exactly this state) and marks it evicted.
    pub fn drop_unit(&mut self, unit: &[u8], pos: u64) {
        let _ = self.take_unit(unit);
        self.mark_evicted(unit, pos);
    }

    /// Loads a unit from the bytes of its eviction record (or puts back
    /// what [`View::take_unit`] returned); it is held again.
    ///
    /// # Errors
    /// [`BadUnit`] if the bytes do not decode (nothing changes).
    pub fn load_unit(&mut self, unit: &[u8], bytes: &[u8]) -> Result<(), BadUnit> {
        let d: UnitData = postcard::from_bytes(bytes).map_err(|_| BadUnit)?;
        match (&mut self.data, d) {
            (Data::ZSets(sets), UnitData::Set(members)) => {
                let mut z = ZSet::new();
                for (m, s) in members {
                    z.insert(&m, s);
                }
                if z.is_empty() {
                    sets.remove(unit);
                } else {
                    sets.insert(unit.to_vec(), z);
                }
            }
            (Data::Totals(t), UnitData::Total(n)) => t.put(unit, n),
            (Data::Windows(w), UnitData::Windows(series)) => w.put_base(unit, series),
            (Data::Buckets(b), UnitData::Series(series)) => b.put(unit, series),
            _ => return Err(BadUnit),
        }
        self.evicted.remove(unit);
        Ok(())
    }

    /// The sorted set (or geo index) at `key`.
    pub fn zset(&self, key: &[u8]) -> Option<&ZSet> {
        match &self.data {
            Data::ZSets(s) => s.get(key),
            _ => None,
        }
    }

    /// GET of a total or window key.
    pub fn get(&self, key: &[u8]) -> Option<Number> {
        match &self.data {
            Data::Totals(t) => t.get(key),
            Data::Windows(w) => w.get(key),
            _ => None,
        }
    }

    /// VIEW.RANGE of a time-bucket key.
    pub fn bucket_range(&self, key: &[u8], from_ms: u64, to_ms: u64) -> Option<Vec<(u64, Bucket)>> {
        match &self.data {
            Data::Buckets(b) if b.key_bytes(key) > 0 => Some(b.range(key, from_ms, to_ms)),
            _ => None,
        }
    }

    /// Whether the key currently holds data.
    pub fn contains(&self, key: &[u8]) -> bool {
        match &self.data {
            Data::ZSets(s) => s.contains_key(key),
            Data::Totals(t) => t.get(key).is_some(),
            Data::Windows(w) => w.get(key).is_some(),
            Data::Buckets(b) => b.key_bytes(key) > 0,
        }
    }

    /// Evicted keys that still exist for clients (a read loads them back).
    /// Window counters are left out: an evicted base's window keys are only
    /// known again once it is rebuilt.
    pub fn evicted_keys(&self) -> Vec<Vec<u8>> {
        match &self.data {
            Data::Windows(_) => Vec::new(),
            _ => self.evicted.keys().cloned().collect(),
        }
    }

    /// Calls `f` with every key [`View::keys`] and [`View::evicted_keys`]
    /// list, without collecting them (SCAN and KEYS visit all view keys).
    pub fn for_each_key(&self, mut f: impl FnMut(&[u8])) {
        match &self.data {
            Data::ZSets(s) => s.keys().for_each(|k| f(k)),
            Data::Totals(t) => t.keys().for_each(&mut f),
            Data::Windows(w) => w.for_each_key(&mut f),
            Data::Buckets(b) => b.keys().for_each(&mut f),
        }
        if !matches!(self.data, Data::Windows(_)) {
            self.evicted.keys().for_each(|k| f(k));
        }
    }

    /// Number of keys [`View::for_each_key`] visits, without visiting them.
    pub fn key_len(&self) -> usize {
        let held = match &self.data {
            Data::ZSets(s) => s.len(),
            Data::Totals(t) => t.key_count(),
            Data::Windows(w) => w.key_count(),
            Data::Buckets(b) => b.key_count(),
        };
        match &self.data {
            Data::Windows(_) => held,
            _ => held + self.evicted.len(),
        }
    }

    /// All keys currently held (SCAN); evicted units are not listed.
    pub fn keys(&self) -> Vec<Vec<u8>> {
        match &self.data {
            Data::ZSets(s) => s.keys().cloned().collect(),
            Data::Totals(t) => t.keys().map(<[u8]>::to_vec).collect(),
            Data::Windows(w) => w.keys(),
            Data::Buckets(b) => b.keys().map(<[u8]>::to_vec).collect(),
        }
    }

    /// Estimated bytes of a unit (what the evictor registers).
    pub fn unit_bytes(&self, unit: &[u8]) -> usize {
        match &self.data {
            Data::ZSets(s) => s
                .get(unit)
                .map_or(0, |z| z.mem_bytes() + zset_slot_bytes(unit.len())),
            Data::Totals(t) => t.key_bytes(unit),
            Data::Windows(w) => w.base_bytes(unit),
            Data::Buckets(b) => b.key_bytes(unit),
        }
    }

    /// Estimated bytes of the whole view.
    pub fn mem_bytes(&self) -> usize {
        match &self.data {
            Data::ZSets(s) => s
                .iter()
                .map(|(k, z)| z.mem_bytes() + zset_slot_bytes(k.len()))
                .sum(),
            Data::Totals(t) => t.mem_bytes(),
            Data::Windows(w) => w.mem_bytes(),
            Data::Buckets(b) => b.mem_bytes(),
        }
    }

    /// Encodes the view's state (not its spec) for a checkpoint.
    pub fn snapshot(&self) -> Vec<u8> {
        let sets: Vec<SetSnap<'_>> = match &self.data {
            Data::ZSets(s) => s
                .iter()
                .map(|(k, z)| (k.as_slice(), z.iter().collect()))
                .collect(),
            _ => Vec::new(),
        };
        let evicted: Vec<(&[u8], u64)> = self.evicted_units().collect();
        // Serialising plain in-memory data into a Vec cannot fail.
        postcard::to_stdvec(&(self.stats, evicted, &self.data, sets)).unwrap_or_default()
    }

    /// Rebuilds a view from its spec and a [`View::snapshot`].
    pub fn restore(spec: ViewSpec, bytes: &[u8]) -> Result<View, crate::view::spec::DecodeError> {
        type Snap = (
            Stats,
            Vec<(Vec<u8>, u64)>,
            Data,
            Vec<(Vec<u8>, Vec<(Vec<u8>, f64)>)>,
        );
        let (stats, evicted, data, sets): Snap = postcard::from_bytes(bytes)?;
        let data = match data {
            Data::ZSets(_) => Data::ZSets(
                sets.into_iter()
                    .map(|(k, members)| {
                        let mut z = ZSet::new();
                        for (m, s) in members {
                            z.insert(&m, s);
                        }
                        (k, z)
                    })
                    .collect(),
            ),
            d => d,
        };
        Ok(View {
            spec,
            data,
            evicted: evicted.into_iter().collect(),
            stats,
        })
    }
}

/// Encodes a unit's state; plain in-memory data always serializes.
fn encode_unit(u: &UnitRef<'_>) -> Vec<u8> {
    postcard::to_stdvec(u).unwrap_or_default()
}

/// Bytes of one sorted set's slot in the view's map: the key (`Vec<u8>`)
/// and the `ZSet` struct itself, plus the key's allocation.
const fn zset_slot_bytes(len: usize) -> usize {
    memory::hash_entry_bytes(24 + std::mem::size_of::<ZSet>()) + memory::alloc_bytes(len)
}
