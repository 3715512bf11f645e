//! Server statistics for INFO: counters, per-command and per-error tallies,
//! and the instantaneous ops/sec sampler.
//!
//! Counters are atomics so connections update them without a lock; the
//! per-error table is small and only touched when an error is replied.

use std::collections::BTreeMap;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};

/// Calls, time and failures of one command (INFO commandstats).
#[derive(Debug, Default)]
pub struct CmdStat {
    /// Successful or failed executions.
    pub calls: AtomicU64,
    /// Microseconds spent executing.
    pub usec: AtomicU64,
    /// Refused before execution (arity, NOAUTH, EXECABORT...).
    pub rejected_calls: AtomicU64,
    /// Executed and replied with an error.
    pub failed_calls: AtomicU64,
}

/// Samples kept for `instantaneous_ops_per_sec` (Redis keeps 16).
const SAMPLES: usize = 16;

/// All counters.
#[derive(Debug)]
pub struct Stats {
    /// Connections accepted.
    pub total_connections_received: AtomicU64,
    /// Commands executed.
    pub total_commands_processed: AtomicU64,
    /// Bytes read from clients.
    pub total_net_input_bytes: AtomicU64,
    /// Bytes written to clients.
    pub total_net_output_bytes: AtomicU64,
    /// Connections refused because of `maxclients`.
    pub rejected_connections: AtomicU64,
    /// Error replies of any kind.
    pub total_error_replies: AtomicU64,
    /// Socket reads.
    pub total_reads_processed: AtomicU64,
    /// Socket writes.
    pub total_writes_processed: AtomicU64,
    /// Per command, indexed like [`crate::cmd::all_commands`].
    pub commands: Vec<CmdStat>,
    errors: Mutex<BTreeMap<String, u64>>,
    samples: Mutex<Sampler>,
}

#[derive(Debug, Default)]
struct Sampler {
    last_ms: u64,
    last_count: u64,
    ring: [u64; SAMPLES],
    idx: usize,
}

impl Stats {
    /// Zeroed statistics for `n_commands` commands.
    pub fn new(n_commands: usize) -> Self {
        Stats {
            total_connections_received: AtomicU64::new(0),
            total_commands_processed: AtomicU64::new(0),
            total_net_input_bytes: AtomicU64::new(0),
            total_net_output_bytes: AtomicU64::new(0),
            rejected_connections: AtomicU64::new(0),
            total_error_replies: AtomicU64::new(0),
            total_reads_processed: AtomicU64::new(0),
            total_writes_processed: AtomicU64::new(0),
            commands: (0..n_commands).map(|_| CmdStat::default()).collect(),
            errors: Mutex::new(BTreeMap::new()),
            samples: Mutex::new(Sampler::default()),
        }
    }

    /// Counts error replies by code (`ERR`, `WRONGTYPE`...).
    pub fn record_errors(&self, codes: &[String]) {
        if codes.is_empty() {
            return;
        }
        self.total_error_replies
            .fetch_add(codes.len() as u64, Relaxed);
        let mut map = self
            .errors
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        for code in codes {
            // Redis caps the table at 128 kinds so clients cannot grow it.
            if map.len() < 128 || map.contains_key(code) {
                *map.entry(code.clone()).or_insert(0) += 1;
            }
        }
    }

    /// `(code, count)` for INFO errorstats.
    pub fn error_counts(&self) -> Vec<(String, u64)> {
        let map = self
            .errors
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        map.iter().map(|(k, v)| (k.clone(), *v)).collect()
    }

    /// Called every 100 ms; records the command rate.
    pub fn sample(&self, now_ms: u64) {
        let count = self.total_commands_processed.load(Relaxed);
        let mut s = self
            .samples
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if s.last_ms != 0 && now_ms > s.last_ms {
            let per_sec = count.saturating_sub(s.last_count) * 1000 / (now_ms - s.last_ms);
            let i = s.idx;
            s.ring[i] = per_sec;
            s.idx = (i + 1) % SAMPLES;
        }
        s.last_ms = now_ms;
        s.last_count = count;
    }

    /// The mean of the recent samples.
    pub fn ops_per_sec(&self) -> u64 {
        let s = self
            .samples
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        s.ring.iter().sum::<u64>() / SAMPLES as u64
    }

    /// CONFIG RESETSTAT.
    pub fn reset(&self) {
        for c in [
            &self.total_connections_received,
            &self.total_commands_processed,
            &self.total_net_input_bytes,
            &self.total_net_output_bytes,
            &self.rejected_connections,
            &self.total_error_replies,
            &self.total_reads_processed,
            &self.total_writes_processed,
        ] {
            c.store(0, Relaxed);
        }
        for c in &self.commands {
            for a in [&c.calls, &c.usec, &c.rejected_calls, &c.failed_calls] {
                a.store(0, Relaxed);
            }
        }
        self.errors
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .clear();
        *self
            .samples
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner) = Sampler::default();
    }
}
