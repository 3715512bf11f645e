//! Memory accounting and the `maxmemory` eviction machinery.
//!
//! Owns: byte estimates per structure (how each is computed is documented
//! on the function), the eight `maxmemory-policy` names, Redis's approximate
//! LRU clock and logarithmic LFU counter with decay, a sampling evictor with
//! Redis's 16-entry eviction pool, and the `denyoom` decision.
//! Does not own: parsing memory units (`config`), INFO rendering (`server`),
//! or actually dropping data (the engine drops the key the evictor names).
//!
//! **Only derived data is evictable.** The evictor's key type is [`ViewKey`]
//! (a view id plus a key of that view): stream entries, stream indexes and
//! consumer-group state have no `ViewKey` and so can never be registered,
//! sampled or chosen. Under a `volatile-*` policy nothing is evictable (view
//! keys carry no TTL), which behaves like `noeviction`, as Redis does when no
//! key has an expire.

use std::fmt;
use std::str::FromStr;

/// Bytes a heap allocation of `n` bytes really takes: glibc malloc adds an
/// 8-byte header and serves 16-byte multiples, 32 at least.
pub const fn alloc_bytes(n: usize) -> usize {
    let c = (n + 8 + 15) & !15;
    if c < 32 { 32 } else { c }
}

/// Rounds up to a multiple of 8 (field alignment).
pub const fn round8(n: usize) -> usize {
    (n + 7) & !7
}

/// Bytes of one entry of a `HashMap<K, V>` whose slot is `slot` bytes: the
/// slot plus one control byte, divided by the average load factor. Tables
/// double when 7/8 full, so the load swings between 7/16 and 7/8; 3/5 is
/// the average used here (a 1M-entry table sits at 0.55).
pub const fn hash_entry_bytes(slot: usize) -> usize {
    (slot + 1) * 5 / 3
}

/// Bytes of one element of a growing `Vec` (capacity doubles: on average
/// 4/3 of the length is allocated).
pub const fn vec_elem_bytes(elem: usize) -> usize {
    elem * 4 / 3
}

/// Bytes of one entry of a `BTreeMap<K, V>`: nodes hold up to 11 entries and
/// are on average about 2/3 full, plus the per-node edges and header spread
/// over its entries (~16 bytes).
pub const fn btree_entry_bytes(slot: usize) -> usize {
    slot * 3 / 2 + 16
}

/// Bytes of one counter key of `len` bytes: map slot `(Vec<u8>, Number)` =
/// 24 + 16 → `hash_entry_bytes(40)` = 68, plus the key's allocation.
pub const fn counter_key_bytes(len: usize) -> usize {
    hash_entry_bytes(40) + alloc_bytes(len)
}

/// Bytes of one time bucket: `BTreeMap<u64, Bucket>` entry with an 8-byte
/// key and a 24-byte value → `btree_entry_bytes(32)`.
pub const BUCKET_BYTES: usize = btree_entry_bytes(32);

/// Bytes of one stream index block (one sparse index record per block of
/// entries): first and last IDs (2 × 16), first/last log positions (2 × 8),
/// entry count and deleted count (2 × 8) = 64 per record in a `BTreeMap`
/// keyed by the first ID (16) → `btree_entry_bytes(80)`.
pub const STREAM_BLOCK_BYTES: usize = btree_entry_bytes(80);

/// Bytes of one pending entry of a consumer group: ID (16) → (consumer
/// index 8, delivery time 8, delivery count 8) in the group's `BTreeMap`
/// (`btree_entry_bytes(40)`) plus the consumer's own ID set entry
/// (`btree_entry_bytes(16)`).
pub const GROUP_PENDING_BYTES: usize = btree_entry_bytes(40) + btree_entry_bytes(16);

/// Bytes of one consumer named `len` bytes: map slot (name `Vec` 24 +
/// seen/active times 16 + pending set header 24 = 64) plus the name.
pub const fn consumer_bytes(len: usize) -> usize {
    hash_entry_bytes(64) + alloc_bytes(len)
}

/// Redis's `bytesToHuman` (INFO `*_human` fields): `B` below 1K, then
/// two decimals with `K`, `M`, `G`, `T`, `P` (powers of 1024).
pub fn bytes_to_human(n: u64) -> String {
    const UNITS: [(u64, char); 5] = [
        (1 << 10, 'K'),
        (1 << 20, 'M'),
        (1 << 30, 'G'),
        (1 << 40, 'T'),
        (1 << 50, 'P'),
    ];
    if n < 1024 {
        return format!("{n}B");
    }
    for (i, (base, unit)) in UNITS.iter().enumerate() {
        let next = UNITS.get(i + 1).map_or(1u64 << 60, |(b, _)| *b);
        if n < next {
            return format!("{:.2}{unit}", n as f64 / *base as f64);
        }
    }
    format!("{n}B")
}

// ------------------------------------------------------------- policies

/// `maxmemory-policy`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum Policy {
    /// Refuse `denyoom` commands when over the limit (default).
    #[default]
    NoEviction,
    /// Approximated LRU over all (evictable) keys.
    AllkeysLru,
    /// Approximated LFU over all (evictable) keys.
    AllkeysLfu,
    /// Random evictable key.
    AllkeysRandom,
    /// LRU among keys with a TTL.
    VolatileLru,
    /// LFU among keys with a TTL.
    VolatileLfu,
    /// Random key with a TTL.
    VolatileRandom,
    /// Key with the nearest expire.
    VolatileTtl,
}

const POLICY_NAMES: [(Policy, &str); 8] = [
    (Policy::NoEviction, "noeviction"),
    (Policy::AllkeysLru, "allkeys-lru"),
    (Policy::AllkeysLfu, "allkeys-lfu"),
    (Policy::AllkeysRandom, "allkeys-random"),
    (Policy::VolatileLru, "volatile-lru"),
    (Policy::VolatileLfu, "volatile-lfu"),
    (Policy::VolatileRandom, "volatile-random"),
    (Policy::VolatileTtl, "volatile-ttl"),
];

impl Policy {
    /// All policies, in Redis's order.
    pub fn all() -> impl Iterator<Item = Policy> {
        POLICY_NAMES.iter().map(|(p, _)| *p)
    }

    /// The policy's name.
    pub fn name(self) -> &'static str {
        POLICY_NAMES
            .iter()
            .find(|(p, _)| *p == self)
            .map_or("noeviction", |(_, n)| n)
    }

    /// Uses the LFU counter (the per-key access field holds LFU data).
    pub fn is_lfu(self) -> bool {
        matches!(self, Policy::AllkeysLfu | Policy::VolatileLfu)
    }

    /// Only keys with a TTL are candidates.
    pub fn is_volatile(self) -> bool {
        matches!(
            self,
            Policy::VolatileLru
                | Policy::VolatileLfu
                | Policy::VolatileRandom
                | Policy::VolatileTtl
        )
    }

    /// May evict at all.
    pub fn evicts(self) -> bool {
        self != Policy::NoEviction
    }
}

impl fmt::Display for Policy {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// An unknown `maxmemory-policy` value.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid maxmemory-policy '{0}'")]
pub struct UnknownPolicy(pub String);

impl FromStr for Policy {
    type Err = UnknownPolicy;

    /// Case-insensitive, like Redis's enum configs.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        POLICY_NAMES
            .iter()
            .find(|(_, n)| n.eq_ignore_ascii_case(s))
            .map(|(p, _)| *p)
            .ok_or_else(|| UnknownPolicy(s.to_string()))
    }
}

/// The eviction knobs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct EvictionConfig {
    /// Limit in bytes; 0 = none.
    pub maxmemory: u64,
    /// Policy.
    pub policy: Policy,
    /// Keys sampled per eviction step (1..=64, default 5).
    pub samples: u32,
    /// LFU counter saturation (default 10).
    pub lfu_log_factor: u32,
    /// LFU decay period in minutes (default 1).
    pub lfu_decay_time: u32,
}

impl Default for EvictionConfig {
    fn default() -> Self {
        EvictionConfig {
            maxmemory: 0,
            policy: Policy::NoEviction,
            samples: 5,
            lfu_log_factor: 10,
            lfu_decay_time: 1,
        }
    }
}

/// The OOM reply (the line starts with its own code, so no `ERR`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("OOM command not allowed when used memory > 'maxmemory'.")]
pub struct Oom;

/// Commands with Redis's `denyoom` flag among those eddy serves.
pub fn is_denyoom(cmd: &[u8], sub: Option<&[u8]>) -> bool {
    let c = cmd.to_ascii_lowercase();
    match c.as_slice() {
        b"xadd" | b"xsetid" | b"view.create" | b"zadd" | b"zincrby" | b"geoadd" | b"set"
        | b"incr" | b"incrby" | b"incrbyfloat" | b"append" => true,
        b"xgroup" => sub.is_some_and(|s| {
            s.eq_ignore_ascii_case(b"create") || s.eq_ignore_ascii_case(b"createconsumer")
        }),
        _ => false,
    }
}

/// After evicting what it could: may this command run? Over the limit,
/// `denyoom` commands are refused; reads, acks and deletes still run.
pub fn check_denyoom(used: u64, maxmemory: u64, denyoom: bool) -> Result<(), Oom> {
    if maxmemory != 0 && used > maxmemory && denyoom {
        Err(Oom)
    } else {
        Ok(())
    }
}

// ------------------------------------------------------------- LRU / LFU

/// LRU clock resolution in ms (Redis: 1000).
pub const LRU_CLOCK_RESOLUTION: u64 = 1000;
/// The LRU clock wraps at 24 bits.
pub const LRU_CLOCK_MAX: u32 = (1 << 24) - 1;
/// Initial LFU counter of a new key (so it is not evicted at once).
pub const LFU_INIT_VAL: u8 = 5;

/// The 24-bit LRU clock at `now_ms` (seconds, wrapping).
pub fn lru_clock(now_ms: u64) -> u32 {
    ((now_ms / LRU_CLOCK_RESOLUTION) & u64::from(LRU_CLOCK_MAX)) as u32
}

/// Idle time in ms of a key last touched at `lru` (`estimateObjectIdleTime`).
pub fn lru_idle_ms(lru: u32, now_ms: u64) -> u64 {
    let clock = lru_clock(now_ms);
    let ticks = if clock >= lru {
        clock - lru
    } else {
        (LRU_CLOCK_MAX - lru) + clock
    };
    u64::from(ticks) * LRU_CLOCK_RESOLUTION
}

/// Minutes clock of LFU (16 bits).
pub fn lfu_minutes(now_ms: u64) -> u16 {
    ((now_ms / 60_000) & 0xFFFF) as u16
}

fn lfu_elapsed(ldt: u16, now_ms: u64) -> u64 {
    let now = lfu_minutes(now_ms);
    if now >= ldt {
        u64::from(now - ldt)
    } else {
        65535 - u64::from(ldt) + u64::from(now)
    }
}

/// The counter after decay (`LFUDecrAndReturn`): one point per
/// `decay_time` minutes since the last decrement.
pub fn lfu_decr(access: u32, now_ms: u64, decay_time: u32) -> u8 {
    let ldt = (access >> 8) as u16;
    let counter = (access & 255) as u8;
    let periods = if decay_time > 0 {
        lfu_elapsed(ldt, now_ms) / u64::from(decay_time)
    } else {
        0
    };
    if periods == 0 {
        counter
    } else if periods > u64::from(counter) {
        0
    } else {
        counter - periods as u8
    }
}

/// Logarithmic increment (`LFULogIncr`): the higher the counter, the less
/// likely an access increments it. `r` is uniform in [0, 1).
pub fn lfu_log_incr(counter: u8, log_factor: u32, r: f64) -> u8 {
    if counter == 255 {
        return 255;
    }
    let base = f64::from(counter.saturating_sub(LFU_INIT_VAL));
    let p = 1.0 / (base * f64::from(log_factor) + 1.0);
    if r < p { counter + 1 } else { counter }
}

/// A small deterministic generator (xorshift64*) for sampling and LFU.
#[derive(Debug, Clone)]
pub struct Rng(u64);

impl Rng {
    /// Seeded generator (a zero seed is replaced).
    pub fn new(seed: u64) -> Self {
        Rng(if seed == 0 {
            0x2545_f491_4f6c_dd1d
        } else {
            seed
        })
    }

    /// Next 64 random bits.
    pub fn next_u64(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        self.0 = x;
        x.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    /// Uniform in [0, 1).
    pub fn next_f64(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 / (1u64 << 53) as f64
    }

    /// Uniform in [0, n), n > 0.
    pub fn below(&mut self, n: usize) -> usize {
        (self.next_u64() % n as u64) as usize
    }
}

#[cfg(test)]
mod tests;

mod evict;
pub use evict::{EVPOOL_SIZE, EvictOutcome, Evictor, KeyMeta, ViewId, ViewKey};
