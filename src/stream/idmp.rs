//! Idempotent appends (Redis 8.6 `XADD ... IDMP producer-id idempotent-id`):
//! per stream, per producer, the most recent idempotency IDs and the entry
//! each one produced. A duplicate within the window gets the original ID
//! back and writes nothing.
//!
//! The window is `duration_s` seconds measured in *entry-ID time* (the
//! milliseconds of the entries that recorded the IDs), and `max_size` IDs
//! per producer; capacity wins over duration. Using entry-ID time keeps
//! replay independent of the clock. The maps are part of the checkpoint and
//! are rebuilt by replaying XADD records, so they survive restarts.

use std::collections::{HashMap, VecDeque};

use serde::{Deserialize, Serialize};

use super::id::StreamId;
use crate::error::Error;

/// Default window: 100 seconds (Redis `stream-idmp-duration`).
pub const DEFAULT_DURATION_S: u64 = 100;
/// Default window: 100 IDs per producer (Redis `stream-idmp-maxsize`).
pub const DEFAULT_MAX_SIZE: u64 = 100;

/// The idempotency window of a stream.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct IdmpConfig {
    /// How long (seconds of entry-ID time) an ID is remembered, 1..=86400.
    pub duration_s: u64,
    /// How many IDs are remembered per producer, 1..=10000.
    pub max_size: u64,
}

impl Default for IdmpConfig {
    fn default() -> Self {
        IdmpConfig {
            duration_s: DEFAULT_DURATION_S,
            max_size: DEFAULT_MAX_SIZE,
        }
    }
}

impl IdmpConfig {
    /// Checks Redis's ranges.
    pub fn validate(self) -> Result<IdmpConfig, Error> {
        if !(1..=86_400).contains(&self.duration_s) {
            return Err(Error::InvalidIdmpDuration);
        }
        if !(1..=10_000).contains(&self.max_size) {
            return Err(Error::InvalidIdmpMaxSize);
        }
        Ok(self)
    }
}

#[derive(Clone, Debug, Default, Serialize, Deserialize)]
struct Producer {
    /// Oldest first.
    order: VecDeque<(Box<[u8]>, StreamId)>,
    ids: HashMap<Box<[u8]>, StreamId>,
}

/// The idempotency state of one stream.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub struct Idmp {
    config: IdmpConfig,
    producers: HashMap<Box<[u8]>, Producer>,
    added: u64,
    /// Duplicates answered since start (not persisted: a statistic).
    #[serde(skip)]
    duplicates: u64,
}

impl Idmp {
    /// The current window.
    pub fn config(&self) -> IdmpConfig {
        self.config
    }

    /// Sets the window and forgets every recorded ID (as XCFGSET does).
    pub fn set_config(&mut self, config: IdmpConfig) {
        self.config = config;
        self.producers.clear();
    }

    /// The entry an earlier append with this key produced, if it is still
    /// inside the window at `now_ms` (entry-ID time of the next entry).
    pub fn lookup(&mut self, pid: &[u8], iid: &[u8], now_ms: u64) -> Option<StreamId> {
        let id = *self.producers.get(pid)?.ids.get(iid)?;
        if self.expired(id, now_ms) {
            return None;
        }
        self.duplicates += 1;
        Some(id)
    }

    fn expired(&self, id: StreamId, now_ms: u64) -> bool {
        id.ms
            .saturating_add(self.config.duration_s.saturating_mul(1000))
            < now_ms
    }

    /// Records that `(pid, iid)` produced `id`, evicting what falls out of
    /// the window.
    pub fn record(&mut self, pid: &[u8], iid: &[u8], id: StreamId) {
        let config = self.config;
        let p = self.producers.entry(pid.into()).or_default();
        let horizon = id.ms.saturating_sub(config.duration_s.saturating_mul(1000));
        while let Some((old, old_id)) = p.order.front() {
            let full = p.order.len() as u64 >= config.max_size;
            if !full && old_id.ms >= horizon {
                break;
            }
            if p.ids.get(old) == Some(old_id) {
                p.ids.remove(old);
            }
            p.order.pop_front();
        }
        p.ids.insert(iid.into(), id);
        p.order.push_back((iid.into(), id));
        self.added += 1;
    }

    /// Producers tracked.
    pub fn producers(&self) -> usize {
        self.producers.len()
    }
    /// Idempotency IDs tracked across producers.
    pub fn tracked(&self) -> usize {
        self.producers.values().map(|p| p.ids.len()).sum()
    }
    /// IDs recorded since the stream was created.
    pub fn added(&self) -> u64 {
        self.added
    }
    /// Duplicates answered since the process started.
    pub fn duplicates(&self) -> u64 {
        self.duplicates
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn duplicates_within_the_window_are_found() {
        let mut m = Idmp::default();
        m.record(b"p", b"1", StreamId::new(1000, 0));
        assert_eq!(m.lookup(b"p", b"1", 2000), Some(StreamId::new(1000, 0)));
        assert_eq!(m.lookup(b"q", b"1", 2000), None);
        // Past the 100 s window.
        assert_eq!(m.lookup(b"p", b"1", 1000 + 100_001), None);
    }

    #[test]
    fn capacity_evicts_oldest_first() {
        let mut m = Idmp::default();
        m.set_config(IdmpConfig {
            duration_s: 100,
            max_size: 2,
        });
        for i in 0..3u64 {
            m.record(b"p", i.to_string().as_bytes(), StreamId::new(i, 0));
        }
        assert_eq!(m.lookup(b"p", b"0", 3), None);
        assert!(m.lookup(b"p", b"1", 3).is_some());
        assert!(m.lookup(b"p", b"2", 3).is_some());
        assert_eq!(m.tracked(), 2);
    }

    #[test]
    fn config_ranges() {
        assert!(
            IdmpConfig {
                duration_s: 0,
                max_size: 1
            }
            .validate()
            .is_err()
        );
        assert!(
            IdmpConfig {
                duration_s: 86_401,
                max_size: 1
            }
            .validate()
            .is_err()
        );
        assert!(
            IdmpConfig {
                duration_s: 1,
                max_size: 10_001
            }
            .validate()
            .is_err()
        );
        assert!(
            IdmpConfig {
                duration_s: 86_400,
                max_size: 10_000
            }
            .validate()
            .is_ok()
        );
    }
}
