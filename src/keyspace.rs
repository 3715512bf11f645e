//! The key space: key -> [`Value`]. Only streams exist today; views and
//! other types become new `Value` variants.
//!
//! Every key gets a slot number when it is created; SCAN's integer cursor is
//! the next slot to visit, so a key present for a whole scan is returned
//! exactly once whatever is added or removed meanwhile.

use std::collections::{BTreeMap, HashMap};

use serde::{Deserialize, Serialize};

use crate::glob;
use crate::stream::Stream;

/// A value stored under a key.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[non_exhaustive]
pub enum Value {
    /// A stream.
    Stream(Stream),
}

impl Value {
    /// The name TYPE replies with.
    pub fn type_name(&self) -> &'static str {
        match self {
            Value::Stream(_) => "stream",
        }
    }
}

#[derive(Clone, Debug, Serialize, Deserialize)]
struct Slot {
    slot: u64,
    value: Value,
}

/// All keys.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub struct Keyspace {
    map: HashMap<Box<[u8]>, Slot>,
    order: BTreeMap<u64, Box<[u8]>>,
    next_slot: u64,
}

impl Keyspace {
    /// The value under `key`.
    pub fn get(&self, key: &[u8]) -> Option<&Value> {
        self.map.get(key).map(|s| &s.value)
    }

    /// The value under `key`, mutably.
    pub fn get_mut(&mut self, key: &[u8]) -> Option<&mut Value> {
        self.map.get_mut(key).map(|s| &mut s.value)
    }

    /// Inserts or replaces a value.
    pub fn insert(&mut self, key: &[u8], value: Value) {
        if let Some(s) = self.map.get_mut(key) {
            s.value = value;
            return;
        }
        let slot = self.next_slot;
        self.next_slot += 1;
        self.order.insert(slot, key.into());
        self.map.insert(key.into(), Slot { slot, value });
    }

    /// Removes a key, returning its value.
    pub fn remove(&mut self, key: &[u8]) -> Option<Value> {
        let s = self.map.remove(key)?;
        self.order.remove(&s.slot);
        Some(s.value)
    }

    /// Number of keys.
    pub fn len(&self) -> usize {
        self.map.len()
    }

    /// Whether there are no keys.
    pub fn is_empty(&self) -> bool {
        self.map.is_empty()
    }

    /// Removes every key.
    pub fn clear(&mut self) {
        self.map.clear();
        self.order.clear();
    }

    /// Every (key, value).
    pub fn iter(&self) -> impl Iterator<Item = (&[u8], &Value)> {
        self.map.iter().map(|(k, s)| (&k[..], &s.value))
    }

    /// Keys matching a glob pattern (KEYS), in creation order.
    pub fn keys(&self, pattern: &[u8]) -> Vec<Vec<u8>> {
        self.order
            .values()
            .filter(|k| glob::matches(pattern, k))
            .map(|k| k.to_vec())
            .collect()
    }

    /// One SCAN step: visits up to `count` slots from `cursor`, returns the
    /// next cursor (0 when done) and the matching keys.
    pub fn scan(
        &self,
        cursor: u64,
        pattern: Option<&[u8]>,
        type_name: Option<&str>,
        count: usize,
    ) -> (u64, Vec<Vec<u8>>) {
        let mut out = Vec::new();
        for (visited, (&slot, key)) in self.order.range(cursor..).enumerate() {
            if visited >= count.max(1) {
                return (slot, out);
            }
            if pattern.is_some_and(|p| !glob::matches(p, key)) {
                continue;
            }
            if type_name.is_some_and(|t| self.get(key).map(Value::type_name) != Some(t)) {
                continue;
            }
            out.push(key.to_vec());
        }
        (0, out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scan_returns_each_stable_key_once() {
        let mut ks = Keyspace::default();
        for i in 0..10 {
            ks.insert(format!("k{i}").as_bytes(), Value::Stream(Stream::default()));
        }
        let mut seen = Vec::new();
        let mut cursor = 0;
        let mut step = 0;
        loop {
            let (next, keys) = ks.scan(cursor, Some(b"k*"), None, 3);
            seen.extend(keys);
            // Churn while scanning: remove an unseen key, add new ones.
            if step == 0 {
                ks.remove(b"k9");
                ks.insert(b"new", Value::Stream(Stream::default()));
            }
            step += 1;
            if next == 0 {
                break;
            }
            cursor = next;
        }
        seen.sort();
        let want: Vec<Vec<u8>> = (0..9).map(|i| format!("k{i}").into_bytes()).collect();
        assert_eq!(seen, want);
    }

    #[test]
    fn keys_filters_by_pattern() {
        let mut ks = Keyspace::default();
        for k in ["a1", "a2", "b1"] {
            ks.insert(k.as_bytes(), Value::Stream(Stream::default()));
        }
        assert_eq!(ks.keys(b"a?"), vec![b"a1".to_vec(), b"a2".to_vec()]);
        assert_eq!(ks.len(), 3);
        ks.clear();
        assert!(ks.keys(b"*").is_empty());
    }
}
