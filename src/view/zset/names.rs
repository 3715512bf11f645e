//! The byte arena holding a sorted set's member names.
//!
//! Owns: storing every member name of one set in a single `Vec<u8>`, each
//! as a LEB128 length followed by the bytes, addressed by its offset; the
//! count of bytes freed by removals; compaction. Does not own: which node
//! refers to which offset (the tree rewrites its offsets when the arena is
//! compacted).
//!
//! One allocation for all names instead of one per member saves the
//! allocator's header and rounding (a 13-byte name costs 14 bytes here and
//! 32 as its own allocation) and keeps names that sort together close.

/// Offset of a name in a [`Names`] arena.
pub(crate) type NameRef = u64;

/// All member names of one set, back to back.
#[derive(Debug, Clone, Default)]
pub(crate) struct Names {
    bytes: Vec<u8>,
    /// Bytes of removed names still in `bytes`.
    garbage: usize,
}

impl Names {
    /// Appends a name; returns where it starts.
    pub(crate) fn push(&mut self, name: &[u8]) -> NameRef {
        let at = self.bytes.len() as NameRef;
        let mut n = name.len() as u64;
        loop {
            let low = (n & 0x7f) as u8;
            n >>= 7;
            if n == 0 {
                self.bytes.push(low);
                break;
            }
            self.bytes.push(low | 0x80);
        }
        self.bytes.extend_from_slice(name);
        at
    }

    /// The name at `at`, and the bytes its record takes (prefix included).
    fn record(&self, at: NameRef) -> (&[u8], usize) {
        let start = usize::try_from(at).unwrap_or(usize::MAX);
        let tail = self.bytes.get(start..).unwrap_or_default();
        let mut len = 0usize;
        let mut prefix = 0usize;
        for (i, b) in tail.iter().enumerate() {
            len |= usize::from(b & 0x7f) << (7 * i);
            if b & 0x80 == 0 {
                prefix = i + 1;
                break;
            }
        }
        let name = tail.get(prefix..prefix + len).unwrap_or_default();
        (name, prefix + len)
    }

    /// The name stored at `at`.
    pub(crate) fn get(&self, at: NameRef) -> &[u8] {
        self.record(at).0
    }

    /// Marks the name at `at` as removed (its bytes stay until compaction).
    pub(crate) fn free(&mut self, at: NameRef) {
        self.garbage += self.record(at).1;
    }

    /// True when removed names take more than half of the arena, so that a
    /// compaction (linear in the live names) is paid for by as many bytes
    /// of removals.
    pub(crate) fn wants_compaction(&self) -> bool {
        self.garbage > 64 && self.garbage * 2 > self.bytes.len()
    }

    /// Copies the live names into a fresh arena sized to fit them. `refs`
    /// yields every live name's offset, which is rewritten in place.
    pub(crate) fn compact<'a>(&mut self, refs: impl Iterator<Item = &'a mut NameRef>) {
        let mut fresh = Names {
            bytes: Vec::with_capacity(self.bytes.len() - self.garbage),
            garbage: 0,
        };
        for r in refs {
            *r = fresh.push(self.get(*r));
        }
        *self = fresh;
    }

    /// Bytes allocated for the arena.
    pub(crate) fn capacity(&self) -> usize {
        self.bytes.capacity()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip_across_prefix_sizes() {
        let mut n = Names::default();
        let names: Vec<Vec<u8>> = [0usize, 1, 13, 127, 128, 300, 20_000]
            .iter()
            .map(|&len| (0..len).map(|i| (i % 251) as u8).collect())
            .collect();
        let refs: Vec<NameRef> = names.iter().map(|m| n.push(m)).collect();
        for (r, m) in refs.iter().zip(&names) {
            assert_eq!(n.get(*r), m.as_slice());
        }
        // Free every other name, then compact: the rest survive, moved.
        let mut live: Vec<NameRef> = Vec::new();
        let mut kept = Vec::new();
        for (i, (r, m)) in refs.iter().zip(&names).enumerate() {
            if i % 2 == 0 {
                n.free(*r);
            } else {
                live.push(*r);
                kept.push(m);
            }
        }
        let before = n.bytes.len();
        n.compact(live.iter_mut());
        assert_eq!(n.garbage, 0);
        assert!(n.bytes.len() < before);
        for (r, m) in live.iter().zip(kept) {
            assert_eq!(n.get(*r), m.as_slice());
        }
    }
}
