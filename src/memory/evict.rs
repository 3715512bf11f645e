//! The sampling evictor: Redis's `evictionPoolPopulate` + best-key choice,
//! over view keys only.
//!
//! Keys live in a dense `Vec` (plus an index), so a random sample costs
//! O(samples). The pool keeps the 16 best candidates seen so far across
//! calls, sorted by idle score (higher = better to evict), exactly like
//! Redis's `EvictionPoolLRU`; entries whose key has gone are skipped.

use std::collections::HashMap;

use super::{
    EvictionConfig, LFU_INIT_VAL, Policy, Rng, lfu_decr, lfu_log_incr, lfu_minutes, lru_clock,
    lru_idle_ms,
};

/// Candidates kept between eviction steps (Redis: `EVPOOL_SIZE`).
pub const EVPOOL_SIZE: usize = 16;

/// Identifies a view (assigned by the engine's view registry).
pub type ViewId = u32;

/// A key of a derived view: the only kind of key eviction may drop.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ViewKey {
    /// The view that owns the key.
    pub view: ViewId,
    /// The key name.
    pub key: Vec<u8>,
}

/// Per-key eviction data.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct KeyMeta {
    /// 24-bit access field: LRU clock, or LFU `(minutes << 8) | counter`.
    pub access: u32,
    /// Estimated bytes of the key.
    pub bytes: usize,
}

/// What an eviction run did.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct EvictOutcome {
    /// Keys dropped, in order.
    pub evicted: Vec<ViewKey>,
    /// Bytes released (as reported by the drop callback).
    pub freed: u64,
    /// Still above `maxmemory` (nothing else was evictable).
    pub still_over: bool,
}

/// The registry of evictable keys and the eviction pool.
#[derive(Debug, Clone)]
pub struct Evictor {
    keys: Vec<ViewKey>,
    meta: Vec<KeyMeta>,
    index: HashMap<ViewKey, usize>,
    pool: Vec<(u64, ViewKey)>,
    rng: Rng,
    bytes: usize,
}

impl Evictor {
    /// An empty registry; `seed` makes sampling reproducible.
    pub fn new(seed: u64) -> Self {
        Evictor {
            keys: Vec::new(),
            meta: Vec::new(),
            index: HashMap::new(),
            pool: Vec::new(),
            rng: Rng::new(seed),
            bytes: 0,
        }
    }

    /// Keys registered.
    pub fn len(&self) -> usize {
        self.keys.len()
    }

    /// True when nothing is evictable.
    pub fn is_empty(&self) -> bool {
        self.keys.is_empty()
    }

    /// Sum of the registered keys' bytes.
    pub fn bytes(&self) -> usize {
        self.bytes
    }

    /// Eviction data of a key.
    pub fn meta(&self, key: &ViewKey) -> Option<KeyMeta> {
        self.index.get(key).map(|&i| self.meta[i])
    }

    fn fresh_access(cfg: &EvictionConfig, now_ms: u64) -> u32 {
        if cfg.policy.is_lfu() {
            (u32::from(lfu_minutes(now_ms)) << 8) | u32::from(LFU_INIT_VAL)
        } else {
            lru_clock(now_ms)
        }
    }

    /// Registers a key (or updates its size) and counts an access.
    pub fn upsert(&mut self, key: &ViewKey, bytes: usize, cfg: &EvictionConfig, now_ms: u64) {
        if let Some(&i) = self.index.get(key) {
            self.bytes = self.bytes - self.meta[i].bytes + bytes;
            self.meta[i].bytes = bytes;
            self.touch(key, cfg, now_ms);
            return;
        }
        self.index.insert(key.clone(), self.keys.len());
        self.keys.push(key.clone());
        self.meta.push(KeyMeta {
            access: Self::fresh_access(cfg, now_ms),
            bytes,
        });
        self.bytes += bytes;
    }

    /// Counts an access (`updateLFU` / LRU clock refresh).
    pub fn touch(&mut self, key: &ViewKey, cfg: &EvictionConfig, now_ms: u64) {
        let Some(&i) = self.index.get(key) else {
            return;
        };
        self.meta[i].access = if cfg.policy.is_lfu() {
            let c = lfu_decr(self.meta[i].access, now_ms, cfg.lfu_decay_time);
            let c = lfu_log_incr(c, cfg.lfu_log_factor, self.rng.next_f64());
            (u32::from(lfu_minutes(now_ms)) << 8) | u32::from(c)
        } else {
            lru_clock(now_ms)
        };
    }

    /// Unregisters a key (dropped, deleted or evicted).
    pub fn remove(&mut self, key: &ViewKey) -> Option<KeyMeta> {
        let i = self.index.remove(key)?;
        let m = self.meta.swap_remove(i);
        self.keys.swap_remove(i);
        if i < self.keys.len() {
            self.index.insert(self.keys[i].clone(), i);
        }
        self.bytes -= m.bytes;
        Some(m)
    }

    /// Eviction score: higher means a better victim.
    fn idle(&self, i: usize, cfg: &EvictionConfig, now_ms: u64) -> u64 {
        let m = self.meta[i];
        if cfg.policy.is_lfu() {
            255 - u64::from(lfu_decr(m.access, now_ms, cfg.lfu_decay_time))
        } else {
            lru_idle_ms(m.access, now_ms)
        }
    }

    fn populate(&mut self, cfg: &EvictionConfig, now_ms: u64) {
        let samples = (cfg.samples.clamp(1, 64) as usize).min(self.keys.len());
        for _ in 0..samples {
            let i = self.rng.below(self.keys.len());
            let idle = self.idle(i, cfg, now_ms);
            let key = &self.keys[i];
            if let Some(p) = self.pool.iter().position(|(_, k)| k == key) {
                self.pool.remove(p);
            }
            // First slot whose score is >= ours; the pool is ascending.
            let k = self
                .pool
                .iter()
                .position(|(s, _)| *s >= idle)
                .unwrap_or(self.pool.len());
            if k == 0 && self.pool.len() >= EVPOOL_SIZE {
                continue; // worse than every pooled candidate
            }
            self.pool.insert(k, (idle, key.clone()));
            if self.pool.len() > EVPOOL_SIZE {
                self.pool.remove(0);
            }
        }
    }

    /// Chooses the next victim under the configured policy, or `None` when
    /// nothing is evictable (noeviction, volatile-* without TTL keys, or no
    /// registered key).
    pub fn pick(&mut self, cfg: &EvictionConfig, now_ms: u64) -> Option<ViewKey> {
        if self.keys.is_empty() || !cfg.policy.evicts() || cfg.policy.is_volatile() {
            return None;
        }
        if cfg.policy == Policy::AllkeysRandom {
            let i = self.rng.below(self.keys.len());
            return Some(self.keys[i].clone());
        }
        loop {
            self.populate(cfg, now_ms);
            while let Some((_, k)) = self.pool.pop() {
                if self.index.contains_key(&k) {
                    return Some(k);
                }
            }
            if self.keys.is_empty() {
                return None;
            }
        }
    }

    /// Evicts until `used` is within `cfg.maxmemory` or nothing is left;
    /// `drop` removes the key's data and returns the bytes it released.
    pub fn evict(
        &mut self,
        mut used: u64,
        cfg: &EvictionConfig,
        now_ms: u64,
        mut drop: impl FnMut(&ViewKey) -> usize,
    ) -> EvictOutcome {
        let mut out = EvictOutcome::default();
        if cfg.maxmemory == 0 {
            return out;
        }
        while used > cfg.maxmemory {
            let Some(victim) = self.pick(cfg, now_ms) else {
                out.still_over = true;
                break;
            };
            self.remove(&victim);
            let freed = drop(&victim) as u64;
            used = used.saturating_sub(freed);
            out.freed += freed;
            out.evicted.push(victim);
        }
        out
    }
}
