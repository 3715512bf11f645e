//! SCAN over view keys: a stateless cursor that is a position in hash order.
//!
//! Owns: the order in which SCAN visits view keys and one step of that walk.
//! Does not own: the key space's own cursor (stream slots, `keyspace`), how
//! the two are combined into one integer (`Store::scan`), or where view keys
//! live (the caller passes a visitor over them).
//!
//! View keys sit in per-view maps without slot numbers, and a key may appear
//! or vanish on any event, so the position of a key is a 63-bit hash of its
//! bytes (SipHash with fixed keys: the same on every step and across
//! restarts of one build). A step returns the keys whose hash lies in
//! `[from, t]`, `t` being the smallest bound that covers the page, and the
//! next position is `t + 1`. The steps of one scan cover disjoint hash
//! intervals, so a key present for the whole scan is returned exactly once
//! whatever is added or removed meanwhile; keys sharing a hash are returned
//! together. Keys added or removed during the scan may or may not appear,
//! as in Redis.
//!
//! Each step visits every view key (there is no ordered index to seek in),
//! so a page holds at least `1 / MIN_PAGE_SHARE` of the keys: a whole scan
//! then costs at most `MIN_PAGE_SHARE` passes. COUNT is a hint in Redis
//! too (small encodings reply with everything at once).

use std::hash::{DefaultHasher, Hasher};

/// A step returns at least this fraction (1/n) of all view keys.
pub const MIN_PAGE_SHARE: usize = 128;

/// Largest position (positions are 63-bit).
pub const MAX_POS: u64 = (1 << 63) - 1;

/// The scan position of a key.
pub fn position(key: &[u8]) -> u64 {
    let mut h = DefaultHasher::new();
    h.write(key);
    h.finish() >> 1
}

/// One scan step over the keys `visit` yields (`total` of them) from
/// position `from`, aiming at `count` keys: the keys `keep` accepts among
/// those of the page, and the next position (`None` when the walk is over).
/// Filtering does not change the page bounds, so it may come back empty.
pub fn step<T: Copy>(
    visit: impl FnOnce(&mut dyn FnMut(&[u8], T)),
    total: usize,
    from: u64,
    count: usize,
    keep: impl Fn(&[u8], T) -> bool,
) -> (Option<u64>, Vec<Vec<u8>>) {
    let n = count.max(total / MIN_PAGE_SHARE).max(1);
    // Candidates: every key with `from <= pos <= bound`; when they reach
    // 2n, the bound drops to the n-th smallest position, so the pass keeps
    // O(n) keys and each key is hashed once.
    let mut cands: Vec<(u64, Option<Vec<u8>>)> = Vec::new();
    let mut bound = MAX_POS;
    let mut lowered = false;
    visit(&mut |key, t| {
        let pos = position(key);
        if pos < from || pos > bound {
            return;
        }
        cands.push((pos, keep(key, t).then(|| key.to_vec())));
        if cands.len() >= 2 * n {
            bound = prune(&mut cands, n);
            lowered = true;
        }
    });
    let next = if lowered || cands.len() > n {
        let t = prune(&mut cands, n);
        (t < MAX_POS).then_some(t + 1)
    } else {
        None
    };
    cands.sort_unstable_by_key(|c| c.0);
    (next, cands.into_iter().filter_map(|(_, k)| k).collect())
}

/// Keeps the candidates up to the `n`-th smallest position (ties included)
/// and returns that position.
fn prune(cands: &mut Vec<(u64, Option<Vec<u8>>)>, n: usize) -> u64 {
    let i = n.min(cands.len()) - 1;
    let (_, nth, _) = cands.select_nth_unstable_by_key(i, |c| c.0);
    let t = nth.0;
    cands.retain(|c| c.0 <= t);
    t
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeSet;

    fn keys(range: std::ops::Range<u32>) -> BTreeSet<Vec<u8>> {
        range.map(|i| format!("k:{i}").into_bytes()).collect()
    }

    /// Walks a scan over a set that changes between steps; returns every
    /// key seen, counting repeats.
    fn walk(
        mut set: BTreeSet<Vec<u8>>,
        count: usize,
        mut churn: impl FnMut(usize, &mut BTreeSet<Vec<u8>>),
    ) -> Vec<Vec<u8>> {
        let mut seen = Vec::new();
        let mut from = 0;
        for steps in 0.. {
            let (next, page) = step(
                |f| set.iter().for_each(|k| f(k, ())),
                set.len(),
                from,
                count,
                |_, ()| true,
            );
            assert!(page.len() <= count.max(set.len() / MIN_PAGE_SHARE) + 2);
            seen.extend(page);
            let Some(next) = next else { break };
            from = next;
            churn(steps, &mut set);
        }
        seen
    }

    #[test]
    fn stable_keys_are_returned_exactly_once_under_churn() {
        let stable = keys(0..500);
        let mut set = stable.clone();
        set.extend(keys(1000..1100)); // removed during the scan
        let seen = walk(set, 7, |step, s| {
            s.remove(format!("k:{}", 1000 + step).as_bytes());
            s.insert(format!("new:{step}").into_bytes());
        });
        let mut stable_seen: Vec<_> = seen.iter().filter(|k| stable.contains(*k)).collect();
        let before = stable_seen.len();
        stable_seen.dedup();
        assert_eq!(before, stable_seen.len(), "no stable key twice");
        assert_eq!(stable_seen.len(), stable.len(), "every stable key");
        assert!(seen.len() > 500, "pages: {}", seen.len());
    }

    #[test]
    fn pages_follow_count_and_the_floor() {
        let set = keys(0..100);
        let (next, page) = step(
            |f| set.iter().for_each(|k| f(k, ())),
            100,
            0,
            10,
            |_, ()| true,
        );
        assert_eq!(page.len(), 10);
        assert!(next.is_some());
        let (next, page) = step(
            |f| set.iter().for_each(|k| f(k, ())),
            100,
            0,
            100,
            |_, ()| true,
        );
        assert_eq!((next, page.len()), (None, 100));
        let big = keys(0..10_000);
        let (_, page) = step(
            |f| big.iter().for_each(|k| f(k, ())),
            10_000,
            0,
            1,
            |_, ()| true,
        );
        assert_eq!(page.len(), 10_000 / MIN_PAGE_SHARE);
        // A filter keeps the page bounds: the rest of the scan is the same.
        let (n1, _) = step(
            |f| set.iter().for_each(|k| f(k, ())),
            100,
            0,
            10,
            |_, ()| true,
        );
        let (n2, few) = step(
            |f| set.iter().for_each(|k| f(k, ())),
            100,
            0,
            10,
            |k, ()| k.ends_with(b"7"),
        );
        assert_eq!(n1, n2);
        assert!(few.iter().all(|k| k.ends_with(b"7")));
    }

    #[test]
    fn empty_and_past_the_end() {
        let set: BTreeSet<Vec<u8>> = BTreeSet::new();
        let (next, page) = step(
            |f| set.iter().for_each(|k| f(k, ())),
            0,
            0,
            10,
            |_, ()| true,
        );
        assert_eq!((next, page.len()), (None, 0));
        let set = keys(0..50);
        let (next, page) = step(
            |f| set.iter().for_each(|k| f(k, ())),
            50,
            MAX_POS,
            10,
            |_, ()| true,
        );
        assert_eq!(next, None);
        assert!(page.len() <= 1);
    }
}
