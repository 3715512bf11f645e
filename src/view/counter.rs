//! Counters derived from events: totals, sums, fixed windows and time buckets.
//!
//! Owns: [`Number`] (an integer that becomes a double once a non-integer is
//! added, like INCRBY/INCRBYFLOAT), [`Totals`] (one value per key),
//! [`Windows`] (one value per key per fixed window of event time, one Redis
//! key per window, for rate limiting) and [`Buckets`] (a series of
//! count/sum per bucket of event time with a retention, read by range).
//! Time is always the event's time (entry ID milliseconds), never the wall
//! clock, so replaying the same events gives the same state; retention is
//! relative to the newest event seen by that key.
//! Does not own: which key an event touches or the increment (see `spec`).

use std::collections::{BTreeMap, HashMap};

use serde::{Deserialize, Serialize};

use crate::memory;
use crate::view::num::{format_sum, parse_strict_double};

/// A counter value.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub enum Number {
    /// Exact integer (all increments so far were integers and no overflow).
    Int(i64),
    /// Double (a non-integer was added, or the integer overflowed).
    Float(f64),
}

impl Default for Number {
    fn default() -> Self {
        Number::Int(0)
    }
}

impl Number {
    /// Parses an event field: an integer if `string2ll` accepts it, else a
    /// finite double; `None` if neither.
    pub fn parse(v: &[u8]) -> Option<Number> {
        if let Some(i) = crate::view::num::parse_i64(v) {
            return Some(Number::Int(i));
        }
        parse_strict_double(v)
            .filter(|d| d.is_finite())
            .map(Number::Float)
    }

    /// As a double.
    pub fn as_f64(self) -> f64 {
        match self {
            Number::Int(i) => i as f64,
            Number::Float(f) => f,
        }
    }

    /// Sum; an integer overflow turns the value into a double.
    pub fn plus(self, other: Number) -> Number {
        match (self, other) {
            (Number::Int(a), Number::Int(b)) => match a.checked_add(b) {
                Some(s) => Number::Int(s),
                None => Number::Float(a as f64 + b as f64),
            },
            (a, b) => Number::Float(a.as_f64() + b.as_f64()),
        }
    }

    /// The GET reply: decimal integer, or the shortest round-trip double.
    pub fn format(self) -> String {
        match self {
            Number::Int(i) => i.to_string(),
            Number::Float(f) => format_sum(f),
        }
    }
}

/// Plain totals: one value per key (GET key).
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct Totals {
    values: HashMap<Vec<u8>, Number>,
    mem: usize,
}

impl Totals {
    /// Adds `by` to `key`.
    pub fn incr(&mut self, key: &[u8], by: Number) -> Number {
        if let Some(v) = self.values.get_mut(key) {
            *v = v.plus(by);
            return *v;
        }
        self.mem += memory::counter_key_bytes(key.len());
        self.values.insert(key.to_vec(), Number::Int(0).plus(by));
        Number::Int(0).plus(by)
    }

    /// GET.
    pub fn get(&self, key: &[u8]) -> Option<Number> {
        self.values.get(key).copied()
    }

    /// Drops a key (eviction); returns the bytes released.
    pub fn remove(&mut self, key: &[u8]) -> usize {
        if self.values.remove(key).is_none() {
            return 0;
        }
        let b = memory::counter_key_bytes(key.len());
        self.mem = self.mem.saturating_sub(b);
        b
    }

    /// Takes a key's value out (eviction to the log).
    pub fn take(&mut self, key: &[u8]) -> Option<Number> {
        let v = self.values.get(key).copied()?;
        self.remove(key);
        Some(v)
    }

    /// Puts back a value taken by [`Totals::take`] (a load from the log).
    pub fn put(&mut self, key: &[u8], v: Number) {
        if self.values.insert(key.to_vec(), v).is_none() {
            self.mem += memory::counter_key_bytes(key.len());
        }
    }

    /// Keys held.
    pub fn keys(&self) -> impl Iterator<Item = &[u8]> {
        self.values.keys().map(Vec::as_slice)
    }

    /// Number of keys held.
    pub fn key_count(&self) -> usize {
        self.values.len()
    }

    /// Estimated bytes of one key (0 if absent).
    pub fn key_bytes(&self, key: &[u8]) -> usize {
        if self.values.contains_key(key) {
            memory::counter_key_bytes(key.len())
        } else {
            0
        }
    }

    /// Number of keys.
    pub fn len(&self) -> usize {
        self.values.len()
    }

    /// True when no key is held.
    pub fn is_empty(&self) -> bool {
        self.values.is_empty()
    }

    /// Estimated bytes.
    pub fn mem_bytes(&self) -> usize {
        self.mem
    }
}

/// Fixed-window counters: the window of an event at `t` ms starts at
/// `t - t % window_ms`; each window is its own key `<base>:<start seconds>`.
/// Only the newest `keep` windows of a base are retained.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Windows {
    window_ms: u64,
    keep: u32,
    bases: HashMap<Vec<u8>, BTreeMap<u64, Number>>,
    mem: usize,
}

impl Windows {
    /// Windows of `window_ms` (> 0) keeping the newest `keep` (>= 1) per base.
    pub fn new(window_ms: u64, keep: u32) -> Self {
        Windows {
            window_ms: window_ms.max(1),
            keep: keep.max(1),
            bases: HashMap::new(),
            mem: 0,
        }
    }

    /// Start (ms) of the window holding `t_ms`.
    pub fn window_start(&self, t_ms: u64) -> u64 {
        t_ms - t_ms % self.window_ms
    }

    /// The key of a base's window: `<base>:<start in seconds>`.
    pub fn window_key(base: &[u8], start_ms: u64) -> Vec<u8> {
        let mut k = base.to_vec();
        k.push(b':');
        k.extend_from_slice((start_ms / 1000).to_string().as_bytes());
        k
    }

    /// Splits a window key into base and start (ms).
    pub fn parse_key(key: &[u8]) -> Option<(&[u8], u64)> {
        let pos = key.iter().rposition(|&c| c == b':')?;
        let secs = crate::view::num::parse_i64(&key[pos + 1..])?;
        let secs = u64::try_from(secs).ok()?;
        Some((&key[..pos], secs.checked_mul(1000)?))
    }

    /// Counts `by` at event time `t_ms` for `base`; returns the window key,
    /// or `None` when the window is older than the retained ones.
    pub fn incr(&mut self, base: &[u8], t_ms: u64, by: Number) -> Option<Vec<u8>> {
        let start = self.window_start(t_ms);
        let span = self.window_ms.saturating_mul(u64::from(self.keep));
        let per_key = memory::counter_key_bytes(base.len() + 12);
        let series = self.bases.entry(base.to_vec()).or_default();
        if let Some((&newest, _)) = series.last_key_value()
            && start.saturating_add(span) <= newest
        {
            return None; // a late event for a window already dropped
        }
        let v = series.entry(start).or_insert_with(|| {
            self.mem += per_key;
            Number::Int(0)
        });
        *v = v.plus(by);
        // Drop windows that fell out of retention (relative to the newest).
        let newest = *series.last_key_value().map(|(k, _)| k).unwrap_or(&start);
        while let Some((&oldest, _)) = series.first_key_value() {
            if oldest.saturating_add(span) <= newest {
                series.pop_first();
                self.mem = self.mem.saturating_sub(per_key);
            } else {
                break;
            }
        }
        Some(Self::window_key(base, start))
    }

    /// GET of a window key.
    pub fn get(&self, key: &[u8]) -> Option<Number> {
        let (base, start) = Self::parse_key(key)?;
        self.bases.get(base)?.get(&start).copied()
    }

    /// Drops one window key (eviction); returns the bytes released.
    pub fn remove(&mut self, key: &[u8]) -> usize {
        let Some((base, start)) = Self::parse_key(key) else {
            return 0;
        };
        let Some(series) = self.bases.get_mut(base) else {
            return 0;
        };
        if series.remove(&start).is_none() {
            return 0;
        }
        let b = memory::counter_key_bytes(base.len() + 12);
        if series.is_empty() {
            self.bases.remove(base);
        }
        self.mem = self.mem.saturating_sub(b);
        b
    }

    /// Drops every window of a base (the eviction unit of window views, so
    /// that a load reproduces retention exactly); returns bytes released.
    pub fn remove_base(&mut self, base: &[u8]) -> usize {
        let Some(series) = self.bases.remove(base) else {
            return 0;
        };
        let b = series.len() * memory::counter_key_bytes(base.len() + 12);
        self.mem = self.mem.saturating_sub(b);
        b
    }

    /// Takes every window of a base out (eviction to the log).
    pub fn take_base(&mut self, base: &[u8]) -> Option<BTreeMap<u64, Number>> {
        let series = self.bases.remove(base)?;
        let b = series.len() * memory::counter_key_bytes(base.len() + 12);
        self.mem = self.mem.saturating_sub(b);
        Some(series)
    }

    /// Puts back the windows taken by [`Windows::take_base`].
    pub fn put_base(&mut self, base: &[u8], series: BTreeMap<u64, Number>) {
        self.remove_base(base);
        if series.is_empty() {
            return;
        }
        self.mem += series.len() * memory::counter_key_bytes(base.len() + 12);
        self.bases.insert(base.to_vec(), series);
    }

    /// Estimated bytes of all windows of a base.
    pub fn base_bytes(&self, base: &[u8]) -> usize {
        self.bases
            .get(base)
            .map_or(0, |s| s.len() * memory::counter_key_bytes(base.len() + 12))
    }

    /// Bases held.
    pub fn bases(&self) -> impl Iterator<Item = &[u8]> {
        self.bases.keys().map(Vec::as_slice)
    }

    /// Calls `f` with every window key held, built in one reused buffer.
    pub fn for_each_key(&self, mut f: impl FnMut(&[u8])) {
        let mut buf = Vec::new();
        for (base, series) in &self.bases {
            for start in series.keys() {
                buf.clear();
                buf.extend_from_slice(base);
                buf.push(b':');
                buf.extend_from_slice((start / 1000).to_string().as_bytes());
                f(&buf);
            }
        }
    }

    /// Number of window keys held.
    pub fn key_count(&self) -> usize {
        self.bases.values().map(BTreeMap::len).sum()
    }

    /// All window keys held.
    pub fn keys(&self) -> Vec<Vec<u8>> {
        let mut out = Vec::new();
        for (base, series) in &self.bases {
            out.extend(series.keys().map(|s| Self::window_key(base, *s)));
        }
        out
    }

    /// Estimated bytes.
    pub fn mem_bytes(&self) -> usize {
        self.mem
    }
}

/// One time bucket.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize)]
pub struct Bucket {
    /// Events counted.
    pub count: u64,
    /// Sum of the increments.
    pub sum: Number,
}

/// How much of a series is kept, relative to its newest bucket.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Retention {
    /// Everything.
    Forever,
    /// The newest N buckets.
    Buckets(u32),
    /// Buckets starting within N ms of the newest bucket's start.
    Ms(u64),
}

/// Time-bucketed series: one series per key of `bucket_ms` buckets.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Buckets {
    bucket_ms: u64,
    retention: Retention,
    series: HashMap<Vec<u8>, BTreeMap<u64, Bucket>>,
    mem: usize,
}

impl Buckets {
    /// Buckets of `bucket_ms` (> 0) with a retention.
    pub fn new(bucket_ms: u64, retention: Retention) -> Self {
        Buckets {
            bucket_ms: bucket_ms.max(1),
            retention,
            series: HashMap::new(),
            mem: 0,
        }
    }

    fn span(&self) -> u64 {
        match self.retention {
            Retention::Forever => u64::MAX,
            Retention::Buckets(n) => self.bucket_ms.saturating_mul(u64::from(n.max(1))),
            // A bucket is kept while its start is within `ms` of the newest start.
            Retention::Ms(ms) => ms.saturating_add(1),
        }
    }

    /// Adds one event of value `by` at `t_ms` to `key`; `false` when the
    /// event is older than the retained buckets.
    pub fn add(&mut self, key: &[u8], t_ms: u64, by: Number) -> bool {
        let start = t_ms - t_ms % self.bucket_ms;
        let span = self.span();
        let key_new = !self.series.contains_key(key);
        let s = self.series.entry(key.to_vec()).or_default();
        if let Some((&newest, _)) = s.last_key_value()
            && start.saturating_add(span) <= newest
        {
            return false;
        }
        if key_new {
            self.mem += memory::counter_key_bytes(key.len());
        }
        let b = s.entry(start).or_insert_with(|| {
            self.mem += memory::BUCKET_BYTES;
            Bucket::default()
        });
        b.count += 1;
        b.sum = b.sum.plus(by);
        let newest = *s.last_key_value().map(|(k, _)| k).unwrap_or(&start);
        while let Some((&oldest, _)) = s.first_key_value() {
            if oldest.saturating_add(span) <= newest {
                s.pop_first();
                self.mem = self.mem.saturating_sub(memory::BUCKET_BYTES);
            } else {
                break;
            }
        }
        true
    }

    /// Buckets of `key` whose start is in `[from_ms, to_ms]`, oldest first.
    pub fn range(&self, key: &[u8], from_ms: u64, to_ms: u64) -> Vec<(u64, Bucket)> {
        if from_ms > to_ms {
            return Vec::new();
        }
        self.series
            .get(key)
            .map(|s| s.range(from_ms..=to_ms).map(|(k, v)| (*k, *v)).collect())
            .unwrap_or_default()
    }

    /// The total count and sum over all retained buckets (GET on the key).
    pub fn total(&self, key: &[u8]) -> Option<Bucket> {
        let s = self.series.get(key)?;
        Some(s.values().fold(Bucket::default(), |acc, b| Bucket {
            count: acc.count + b.count,
            sum: acc.sum.plus(b.sum),
        }))
    }

    /// Takes a series out (eviction to the log).
    pub fn take(&mut self, key: &[u8]) -> Option<BTreeMap<u64, Bucket>> {
        let s = self.series.remove(key)?;
        let b = memory::counter_key_bytes(key.len()) + s.len() * memory::BUCKET_BYTES;
        self.mem = self.mem.saturating_sub(b);
        Some(s)
    }

    /// Puts back a series taken by [`Buckets::take`].
    pub fn put(&mut self, key: &[u8], s: BTreeMap<u64, Bucket>) {
        self.remove(key);
        if s.is_empty() {
            return;
        }
        self.mem += memory::counter_key_bytes(key.len()) + s.len() * memory::BUCKET_BYTES;
        self.series.insert(key.to_vec(), s);
    }

    /// Drops a series (eviction); returns the bytes released.
    pub fn remove(&mut self, key: &[u8]) -> usize {
        let Some(s) = self.series.remove(key) else {
            return 0;
        };
        let b = memory::counter_key_bytes(key.len()) + s.len() * memory::BUCKET_BYTES;
        self.mem = self.mem.saturating_sub(b);
        b
    }

    /// Keys held.
    pub fn keys(&self) -> impl Iterator<Item = &[u8]> {
        self.series.keys().map(Vec::as_slice)
    }

    /// Number of series held.
    pub fn key_count(&self) -> usize {
        self.series.len()
    }

    /// Estimated bytes of one series (0 if absent).
    pub fn key_bytes(&self, key: &[u8]) -> usize {
        self.series.get(key).map_or(0, |s| {
            memory::counter_key_bytes(key.len()) + s.len() * memory::BUCKET_BYTES
        })
    }

    /// Estimated bytes.
    pub fn mem_bytes(&self) -> usize {
        self.mem
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn numbers_promote_like_incrbyfloat() {
        assert_eq!(Number::parse(b"10"), Some(Number::Int(10)));
        assert_eq!(Number::parse(b"1.5"), Some(Number::Float(1.5)));
        assert_eq!(Number::parse(b"abc"), None);
        assert_eq!(Number::parse(b"inf"), None);
        let n = Number::Int(1)
            .plus(Number::Float(0.1))
            .plus(Number::Float(0.2));
        assert_eq!(n.format(), "1.3");
        assert_eq!(
            Number::Int(i64::MAX).plus(Number::Int(1)),
            Number::Float(9223372036854775808.0)
        );
        assert_eq!(Number::Int(-7).format(), "-7");
        assert_eq!(Number::Float(3.0).format(), "3");
    }

    #[test]
    fn totals_count_and_sum() {
        let mut t = Totals::default();
        t.incr(b"a", Number::Int(1));
        t.incr(b"a", Number::Int(2));
        t.incr(b"b", Number::Float(0.5));
        assert_eq!(t.get(b"a"), Some(Number::Int(3)));
        assert_eq!(t.get(b"b"), Some(Number::Float(0.5)));
        assert!(t.mem_bytes() > 0);
        assert!(t.remove(b"a") > 0);
        assert_eq!(t.get(b"a"), None);
        assert_eq!(t.len(), 1);
    }

    #[test]
    fn windows_use_event_time_and_retention() {
        let mut w = Windows::new(60_000, 2);
        let k = w
            .incr(b"rate:alice", 1_700_000_030_000, Number::Int(1))
            .unwrap();
        assert_eq!(k, b"rate:alice:1699999980".to_vec());
        w.incr(b"rate:alice", 1_700_000_039_999, Number::Int(1));
        assert_eq!(w.get(&k), Some(Number::Int(2)));
        let k2 = w
            .incr(b"rate:alice", 1_700_000_040_000, Number::Int(1))
            .unwrap();
        assert_eq!(k2, b"rate:alice:1700000040".to_vec());
        assert_eq!(
            w.get(&k),
            Some(Number::Int(2)),
            "previous window kept (keep=2)"
        );
        w.incr(b"rate:alice", 1_700_000_100_000, Number::Int(1));
        assert_eq!(w.get(&k), None, "dropped once two newer windows exist");
        assert_eq!(
            w.incr(b"rate:alice", 1_700_000_030_000, Number::Int(1)),
            None,
            "late event ignored"
        );
        assert_eq!(w.keys().len(), 2);
        assert!(w.remove(&k2) > 0);
        assert_eq!(Windows::parse_key(b"a:b:60"), Some((&b"a:b"[..], 60_000)));
    }

    #[test]
    fn buckets_keep_a_bounded_series() {
        let mut b = Buckets::new(1000, Retention::Buckets(3));
        for t in [0u64, 10, 1500, 2500, 2600, 3999] {
            assert!(b.add(b"s", t, Number::Int(2)));
        }
        let r = b.range(b"s", 0, u64::MAX);
        assert_eq!(
            r.iter().map(|(s, x)| (*s, x.count)).collect::<Vec<_>>(),
            vec![(1000, 1), (2000, 2), (3000, 1)]
        );
        assert!(!b.add(b"s", 500, Number::Int(1)), "older than retention");
        assert_eq!(b.total(b"s").unwrap().sum, Number::Int(8));
        assert_eq!(b.range(b"s", 2000, 2999).len(), 1);
        let mut m = Buckets::new(1000, Retention::Ms(1000));
        m.add(b"s", 0, Number::Int(1));
        m.add(b"s", 1000, Number::Int(1));
        m.add(b"s", 2000, Number::Int(1));
        assert_eq!(m.range(b"s", 0, 5000).len(), 2);
    }

    proptest! {
        /// Buckets equal a model computed directly from the events.
        #[test]
        fn buckets_match_model(events in proptest::collection::vec((0u64..20_000, 0i64..100), 0..200), keep in 1u32..6) {
            let mut b = Buckets::new(1000, Retention::Buckets(keep));
            let mut newest: Option<u64> = None;
            let mut model: BTreeMap<u64, (u64, i64)> = BTreeMap::new();
            for (t, v) in &events {
                let start = t - t % 1000;
                let accepted = newest.is_none_or(|n| start + 1000 * u64::from(keep) > n);
                prop_assert_eq!(b.add(b"k", *t, Number::Int(*v)), accepted);
                if accepted {
                    let e = model.entry(start).or_default();
                    e.0 += 1;
                    e.1 += v;
                    let n = newest.map_or(start, |n| n.max(start));
                    newest = Some(n);
                    model.retain(|s, _| s + 1000 * u64::from(keep) > n);
                }
            }
            let got: Vec<_> = b.range(b"k", 0, u64::MAX).into_iter().map(|(s, x)| (s, x.count, x.sum)).collect();
            let want: Vec<_> = model.into_iter().map(|(s, (c, v))| (s, c, Number::Int(v))).collect();
            prop_assert_eq!(got, want);
        }
    }
}
