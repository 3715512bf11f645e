//! The `Store`'s view API: VIEW.CREATE/DROP/LIST/INFO/REBUILD and reads of
//! view keys (which rebuild an evicted key from the log first).
//!
//! Every call takes the engine lock, so a view is always exactly as current
//! as its source stream: an append and its view updates happen under one
//! lock, and the XADD record that carries the event is the one the view is
//! rebuilt from after a crash.

use super::Store;
use crate::error::Error;
use crate::stream::StreamId;
use crate::view::View;
use crate::view::spec::{Start, ViewSpec};
use crate::views::ViewInfo;

impl Store {
    /// VIEW.CREATE: writes the definition to the log, then replays the
    /// source stream (from FROM) into the new view before returning.
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
            let end = eng.view_create(&self.wal, spec, start)?;
            (end, self.due(&eng))
        };
        self.finish(end, due)
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

    /// VIEW.REBUILD: drops the view's data and replays its source. Needs no
    /// record: the result is a function of the log.
    ///
    /// # Errors
    /// [`Error::NoSuchView`].
    pub fn view_rebuild(&self, name: &[u8]) -> Result<(), Error> {
        let mut eng = self.lock();
        let (live, stream) = eng.view_and_source(name).ok_or_else(|| no_view(name))?;
        live.rebuild(&self.wal, stream);
        Ok(())
    }

    /// Runs `f` on the view holding `key` (`None` if no view holds it).
    /// An evicted key is rebuilt from the log first.
    ///
    /// # Errors
    /// [`Error::WrongType`] if `key` is a stream; log read errors of a rebuild.
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
        if let Some((live, stream)) = eng.view_and_source(&name)
            && live.view.is_evicted(key)
        {
            live.rebuild_key(&self.wal, stream, key)?;
        }
        Ok(f(eng.views.get(&name).map(|l| &l.view)))
    }

    /// Estimated bytes held by all views.
    pub fn views_memory(&self) -> u64 {
        let eng = self.lock();
        eng.views
            .iter()
            .map(|(_, l)| l.view.mem_bytes() as u64)
            .sum()
    }

    /// Evicted keys rebuilt from the log, over all views, since start-up.
    pub fn view_rebuilds(&self) -> u64 {
        self.lock().views.iter().map(|(_, l)| l.rebuilds).sum()
    }
}

fn no_view(name: &[u8]) -> Error {
    Error::NoSuchView(String::from_utf8_lossy(name).into_owned())
}
