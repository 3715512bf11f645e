//! The `Store`'s view API: VIEW.CREATE/DROP/LIST/INFO/REBUILD and reads of
//! view keys (which load an evicted key back from the log first).
//!
//! Every call takes the engine lock, so a ready view is always exactly as
//! current as its source stream: an append and its view updates happen
//! under one lock. A view that is building catches up in steps on the
//! builder thread ([`super::builder`]); [`Store::view_wait`] waits for it.

use std::sync::atomic::Ordering::Relaxed;

use super::Store;
use crate::error::Error;
use crate::memory::EvictionConfig;
use crate::stream::StreamId;
use crate::view::View;
use crate::view::spec::{Start, ViewSpec};
use crate::views::ViewInfo;

impl Store {
    /// VIEW.CREATE: writes the definition to the log and applies the first
    /// build step (up to [`crate::views::STEP_ENTRIES`] source entries)
    /// before returning; a longer source is replayed by the builder thread
    /// (VIEW.INFO shows `building`, [`Store::view_wait`] waits).
    ///
    /// # Errors
    /// [`Error::ViewExists`], WAL errors.
    pub fn view_create(&self, spec: ViewSpec) -> Result<(), Error> {
        let (end, due) = {
            let mut eng = self.lock_writable()?;
            if eng.views.get(&spec.name).is_some() {
                return Err(Error::ViewExists(
                    String::from_utf8_lossy(&spec.name).into_owned(),
                ));
            }
            let last = eng.stream(&spec.source)?.map(|s| s.last_id());
            // `start` is exclusive: the view holds entries with greater IDs.
            let start = match spec.start {
                Start::Beginning => StreamId::MIN,
                Start::End => last.unwrap_or(StreamId::MIN),
                Start::Id { ms, seq } => StreamId::new(ms, seq).prev().unwrap_or(StreamId::MIN),
            };
            eng.views.now_ms = self.clock.now_ms();
            let end = eng.view_create(&self.wal, spec, start)?;
            self.kick_builder(&eng);
            (end, self.due(&eng))
        };
        self.finish(end, due)
    }

    /// Wakes the builder thread if a view is left building.
    fn kick_builder(&self, eng: &crate::engine::Engine) {
        if eng.views.building().is_some() {
            self.builder.kick();
        }
    }

    /// Waits until the view is no longer building (or `timeout` passes);
    /// returns its state then.
    ///
    /// # Errors
    /// [`Error::NoSuchView`].
    pub fn view_wait(
        &self,
        name: &[u8],
        timeout: std::time::Duration,
    ) -> Result<crate::views::ViewState, Error> {
        let deadline = std::time::Instant::now() + timeout;
        loop {
            let state = self
                .lock()
                .views
                .get(name)
                .map(|l| l.state.clone())
                .ok_or_else(|| no_view(name))?;
            if state != crate::views::ViewState::Building || std::time::Instant::now() >= deadline {
                return Ok(state);
            }
            self.builder.wait(deadline);
        }
    }

    /// VIEW.DROP: whether the view existed. Its keys go away.
    pub fn view_drop(&self, name: &[u8]) -> Result<bool, Error> {
        let (end, due) = {
            let mut eng = self.lock_writable()?;
            if eng.views.get(name).is_none() {
                return Ok(false);
            }
            let end = eng.view_drop(&self.wal, name)?;
            (end, self.due(&eng))
        };
        self.finish(end, due)?;
        Ok(true)
    }

    /// VIEW.LIST: view names, sorted.
    pub fn view_list(&self) -> Vec<Vec<u8>> {
        self.lock().views.names()
    }

    /// VIEW.INFO.
    ///
    /// # Errors
    /// [`Error::NoSuchView`].
    pub fn view_info(&self, name: &[u8]) -> Result<ViewInfo, Error> {
        let mut eng = self.lock();
        let (live, stream) = eng.view_and_source(name).ok_or_else(|| no_view(name))?;
        Ok(live.info(&self.wal, stream))
    }

    /// VIEW.REBUILD: drops the view's data (evicted units included) and
    /// replays the entries its source holds now, like VIEW.CREATE: the
    /// first step before returning, the rest on the builder thread. A log
    /// record, so replay after a crash rebuilds at the same point.
    ///
    /// # Errors
    /// [`Error::NoSuchView`], WAL errors.
    pub fn view_rebuild(&self, name: &[u8]) -> Result<(), Error> {
        let (end, due) = {
            let mut eng = self.lock_writable()?;
            eng.views.now_ms = self.clock.now_ms();
            let end = eng
                .view_rebuild(&self.wal, name)?
                .ok_or_else(|| no_view(name))?;
            self.kick_builder(&eng);
            (end, self.due(&eng))
        };
        self.finish(end, due)
    }

    /// Runs `f` on the view holding `key` (`None` if no view holds it).
    /// An evicted key is loaded back from its log record first.
    ///
    /// # Errors
    /// [`Error::WrongType`] if `key` is a stream; log read errors of a load.
    pub fn read_view_key<T>(
        &self,
        key: &[u8],
        f: impl FnOnce(Option<&View>) -> T,
    ) -> Result<T, Error> {
        let mut eng = self.lock();
        if eng.keyspace.get(key).is_some() {
            return Err(Error::WrongType);
        }
        let Some(name) = eng.views.owner_name(key) else {
            return Ok(f(None));
        };
        eng.views.now_ms = self.clock.now_ms();
        let mut rebuilt = false;
        if let Some(live) = eng.views.get_mut(&name) {
            let unit = live.view.unit_of(key).to_vec();
            if let Some(pos) = live.view.evicted_at(&unit) {
                live.load(&self.wal, &unit, pos)?;
                rebuilt = true;
            }
        }
        eng.views.touch(&name, key, rebuilt);
        Ok(f(eng.views.get(&name).map(|l| &l.view)))
    }

    /// Sets maxmemory, the policy and the samples (CONFIG SET); a lower
    /// limit evicts at once.
    pub fn set_eviction(&self, cfg: EvictionConfig) {
        self.lock().views.cfg = cfg;
        self.maxmemory.store(cfg.maxmemory, Relaxed);
        // Never refuses: `denyoom` is false.
        let _ = self.make_room(false);
    }

    /// Whether a maxmemory limit is set (a lock-free check per command).
    pub fn has_maxmemory(&self) -> bool {
        self.maxmemory.load(Relaxed) != 0
    }

    /// The eviction settings.
    pub fn eviction(&self) -> EvictionConfig {
        self.lock().views.cfg
    }

    /// Before a command (as Redis's `performEvictions`): evicts view keys
    /// while over maxmemory, under the policy; then refuses a `denyoom`
    /// command if still over.
    ///
    /// # Errors
    /// [`Error::Oom`].
    pub fn make_room(&self, denyoom: bool) -> Result<(), Error> {
        let mut eng = self.lock();
        let cfg = eng.views.cfg;
        let used = if cfg.maxmemory == 0 {
            eng.streams_memory() + eng.views.memory()
        } else {
            eng.views.now_ms = self.clock.now_ms();
            eng.evict_views(&self.wal)?
        };
        drop(eng);
        self.peak.fetch_max(used, Relaxed);
        crate::memory::check_denyoom(used, cfg.maxmemory, denyoom).map_err(|_| Error::Oom)
    }

    /// Memory by structure (INFO memory).
    pub fn memory_report(&self) -> MemoryReport {
        let eng = self.lock();
        let streams = eng.streams_memory();
        let views = eng.views.memory();
        let used = streams + views;
        let peak = self.peak.fetch_max(used, Relaxed).max(used);
        MemoryReport {
            streams,
            views,
            views_evicted_index: eng.views.evicted_index_bytes(),
            used,
            peak,
            evicted_keys: eng.views.evicted_keys,
            view_rebuilds: eng.views.rebuilds(),
        }
    }
}

/// Memory accounting by structure, as INFO reports it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct MemoryReport {
    /// Stream indexes (blocks, tombstones, key names).
    pub streams: u64,
    /// View keys held (evicted ones excluded).
    pub views: u64,
    /// The index of evicted view keys (a name and a log position each):
    /// reported apart, since eviction cannot reduce it.
    pub views_evicted_index: u64,
    /// Their sum: `used_memory`.
    pub used: u64,
    /// Highest `used` seen.
    pub peak: u64,
    /// View keys evicted since start-up.
    pub evicted_keys: u64,
    /// Evicted view keys rebuilt from the log since start-up.
    pub view_rebuilds: u64,
}

fn no_view(name: &[u8]) -> Error {
    Error::NoSuchView(String::from_utf8_lossy(name).into_owned())
}
