//! Sorted sets with Redis semantics and O(log n) rank.
//!
//! Owns: [`ZSet`] (an order-statistic treap ordered by `(score, member)` plus
//! a member → node index), ZADD-style updates (`NX`/`XX`/`GT`/`LT`/`INCR`),
//! and the range reads behind ZRANGE, ZRANGEBYSCORE, ZRANGEBYLEX, ZCOUNT,
//! ZRANK. `query` parses those commands' arguments into typed queries and
//! runs them. Does not own: RESP replies, key lookup, type checks (the
//! server), or deciding which key an event touches (`spec`).

mod names;
mod query;
mod tree;

use std::hash::{BuildHasher, RandomState};

use hashbrown::HashTable;

pub use query::{
    Limit, RangeKind, RankQuery, ZCountQuery, ZMScoreQuery, ZRangeCmd, ZRangeQuery, ZScoreQuery,
    parse_zcard, parse_zcount, parse_zmscore, parse_zrange, parse_zrank, parse_zscore,
};

use crate::memory;
use tree::Tree;

/// A score interval as `zslParseRange` builds it.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ScoreRange {
    /// Lower bound.
    pub min: f64,
    /// Upper bound.
    pub max: f64,
    /// Lower bound excluded (`(`).
    pub minex: bool,
    /// Upper bound excluded (`(`).
    pub maxex: bool,
}

impl ScoreRange {
    /// All scores.
    pub const ALL: ScoreRange = ScoreRange {
        min: f64::NEG_INFINITY,
        max: f64::INFINITY,
        minex: false,
        maxex: false,
    };

    fn gte_min(&self, v: f64) -> bool {
        if self.minex {
            v > self.min
        } else {
            v >= self.min
        }
    }

    fn lte_max(&self, v: f64) -> bool {
        if self.maxex {
            v < self.max
        } else {
            v <= self.max
        }
    }

    /// True when no score can match (Redis checks this before walking).
    pub fn is_void(&self) -> bool {
        self.min > self.max || (self.min == self.max && (self.minex || self.maxex))
    }
}

/// One end of a lexicographic range.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LexBound {
    /// `-`: below every member.
    NegInf,
    /// `+`: above every member.
    PosInf,
    /// `[member`.
    Incl(Vec<u8>),
    /// `(member`.
    Excl(Vec<u8>),
}

/// A lexicographic interval as `zslParseLexRange` builds it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LexRange {
    /// Lower end.
    pub min: LexBound,
    /// Upper end.
    pub max: LexBound,
}

impl LexRange {
    fn gte_min(&self, m: &[u8]) -> bool {
        match &self.min {
            LexBound::NegInf => true,
            LexBound::PosInf => false,
            LexBound::Incl(b) => m >= b.as_slice(),
            LexBound::Excl(b) => m > b.as_slice(),
        }
    }

    fn lte_max(&self, m: &[u8]) -> bool {
        match &self.max {
            LexBound::NegInf => false,
            LexBound::PosInf => true,
            LexBound::Incl(b) => m <= b.as_slice(),
            LexBound::Excl(b) => m < b.as_slice(),
        }
    }

    /// True when no member can match.
    pub fn is_void(&self) -> bool {
        use LexBound::*;
        match (&self.min, &self.max) {
            (PosInf, _) | (_, NegInf) => true,
            (NegInf, _) | (_, PosInf) => false,
            (Incl(a), Incl(b)) => a > b,
            (Incl(a) | Excl(a), Incl(b) | Excl(b)) => a >= b,
        }
    }
}

/// ZADD condition flags (the subset that makes sense for views too).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct AddFlags {
    /// Only add new members.
    pub nx: bool,
    /// Only update existing members.
    pub xx: bool,
    /// Update only when the new score is greater.
    pub gt: bool,
    /// Update only when the new score is lower.
    pub lt: bool,
}

/// What a ZADD-style call did.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum AddOutcome {
    /// The member was new; holds its score.
    Added(f64),
    /// The member's score changed; holds the new score.
    Updated(f64),
    /// Nothing changed (a flag refused, or the score was equal); holds the
    /// current score if the member exists.
    Unchanged(Option<f64>),
}

/// One element of [`ZSet::scores_in`]: the score, and the member read on
/// demand.
#[derive(Debug, Clone, Copy)]
pub struct Scored<'a> {
    /// The element's score.
    pub score: f64,
    name: tree::Name<'a>,
}

impl<'a> Scored<'a> {
    /// The member bytes.
    pub fn member(&self) -> &'a [u8] {
        self.name.get()
    }
}

/// A sorted set: unique members ordered by `(score, member bytes)`.
///
/// Memory per member (see `benches/views.rs`, `examples/view_memory.rs`):
/// a 32-byte tree node, the name once in a shared byte arena (length
/// prefix + bytes), and a 4-byte slot in `index` (plus hashbrown's control
/// byte). The index holds node positions, not names: a lookup hashes the
/// member and compares it with the names of the candidate nodes.
#[derive(Debug, Clone, Default)]
pub struct ZSet {
    tree: Tree,
    /// Member → node position in `tree`, hashed by the member's bytes.
    index: HashTable<u32>,
    /// Seeded per set, so members chosen to collide cannot be precomputed.
    hasher: RandomState,
}

impl ZSet {
    /// An empty set.
    pub fn new() -> Self {
        Self::default()
    }

    /// ZCARD.
    pub fn len(&self) -> usize {
        self.tree.len()
    }

    /// True when empty.
    pub fn is_empty(&self) -> bool {
        self.tree.len() == 0
    }

    /// Heap bytes allocated for the set: the node and name arenas and the
    /// index table at their capacity, each rounded as malloc serves it
    /// (see [`crate::memory`]). Grows in steps when an arena doubles.
    pub fn mem_bytes(&self) -> usize {
        [
            self.tree.node_bytes(),
            self.tree.name_bytes(),
            self.index.allocation_size(),
        ]
        .into_iter()
        .filter(|&b| b > 0)
        .map(memory::alloc_bytes)
        .sum()
    }

    fn hash(&self, member: &[u8]) -> u64 {
        self.hasher.hash_one(member)
    }

    /// Node position of `member`.
    fn find(&self, member: &[u8]) -> Option<u32> {
        let tree = &self.tree;
        self.index
            .find(self.hash(member), |&i| tree.name(i) == member)
            .copied()
    }

    /// ZSCORE.
    pub fn score(&self, member: &[u8]) -> Option<f64> {
        self.find(member).map(|i| self.tree.score(i))
    }

    /// Sets a member's score unconditionally; returns the previous score.
    pub fn insert(&mut self, member: &[u8], score: f64) -> Option<f64> {
        let score = score + 0.0; // -0 and +0 are one score; store +0.
        if let Some(i) = self.find(member) {
            let old = self.tree.score(i);
            if old != score {
                self.tree.rescore(i, score);
            }
            return Some(old);
        }
        let i = self.tree.insert(member, score);
        let (tree, hasher) = (&self.tree, &self.hasher);
        self.index
            .insert_unique(self.hasher.hash_one(member), i, |&j| {
                hasher.hash_one(tree.name(j))
            });
        None
    }

    /// ZADD with flags; `incr` makes it ZADD INCR / ZINCRBY.
    ///
    /// GT/LT only gate updates, never additions (as in Redis).
    pub fn add(
        &mut self,
        member: &[u8],
        score: f64,
        flags: AddFlags,
        incr: bool,
    ) -> Result<AddOutcome, crate::view::CmdError> {
        match self.score(member) {
            Some(cur) => {
                if flags.nx {
                    return Ok(AddOutcome::Unchanged(Some(cur)));
                }
                let new = if incr { cur + score } else { score };
                if new.is_nan() {
                    return Err(crate::view::CmdError::ScoreNan);
                }
                if (flags.lt && new >= cur) || (flags.gt && new <= cur) {
                    return Ok(AddOutcome::Unchanged(Some(cur)));
                }
                if new == cur {
                    return Ok(AddOutcome::Unchanged(Some(cur)));
                }
                self.insert(member, new);
                Ok(AddOutcome::Updated(new + 0.0))
            }
            None if flags.xx => Ok(AddOutcome::Unchanged(None)),
            None => {
                if score.is_nan() {
                    return Err(crate::view::CmdError::ScoreNan);
                }
                self.insert(member, score);
                Ok(AddOutcome::Added(score + 0.0))
            }
        }
    }

    /// ZREM of one member; returns its score if it was present.
    pub fn remove(&mut self, member: &[u8]) -> Option<f64> {
        let tree = &self.tree;
        let hash = self.hasher.hash_one(member);
        let Ok(entry) = self.index.find_entry(hash, |&i| tree.name(i) == member) else {
            return None;
        };
        let (i, _) = entry.remove();
        let old = self.tree.score(i);
        if let Some(moved) = self.tree.remove(i) {
            // The last node now sits at `i`: its index slot must follow.
            let tree = &self.tree;
            let hash = self.hasher.hash_one(tree.name(i));
            if let Some(slot) = self.index.find_mut(hash, |&j| j == moved) {
                *slot = i;
            }
        }
        let cap = self.index.capacity();
        if cap >= 64 && self.index.len() * 4 < cap {
            let (tree, hasher) = (&self.tree, &self.hasher);
            self.index
                .shrink_to(self.index.len() * 2, |&j| hasher.hash_one(tree.name(j)));
        }
        Some(old)
    }

    /// ZRANK / ZREVRANK: 0-based rank and score.
    pub fn rank(&self, member: &[u8], rev: bool) -> Option<(usize, f64)> {
        let i = self.find(member)?;
        let r = self.tree.rank(i);
        Some((if rev { self.len() - 1 - r } else { r }, self.tree.score(i)))
    }

    /// ZCOUNT: members with a score in `range`, O(log n).
    pub fn count(&self, range: &ScoreRange) -> usize {
        let (start, end) = self.score_bounds(range);
        end.saturating_sub(start)
    }

    /// ZLEXCOUNT: members in a lexicographic range, O(log n).
    pub fn lex_count(&self, range: &LexRange) -> usize {
        let (start, end) = self.lex_bounds(range);
        end.saturating_sub(start)
    }

    /// Elements in rank order from `rank` (ascending, or descending if `rev`,
    /// where `rank` is then counted from the top).
    pub fn iter_from(&self, rank: usize, rev: bool) -> impl Iterator<Item = (&[u8], f64)> + '_ {
        let start = if rev {
            self.len().checked_sub(rank + 1).unwrap_or(usize::MAX)
        } else {
            rank
        };
        self.tree.cursor(start, rev)
    }

    /// All elements in ascending order.
    pub fn iter(&self) -> impl Iterator<Item = (&[u8], f64)> + '_ {
        self.tree.cursor(0, false)
    }

    /// ZRANGE by rank with Redis's index rules (negative = from the end,
    /// out-of-range clamps, never an error).
    pub fn range_by_rank(&self, start: i64, stop: i64, rev: bool) -> Vec<(&[u8], f64)> {
        let len = self.len() as i64;
        let mut s = if start < 0 { start + len } else { start };
        let mut e = if stop < 0 { stop + len } else { stop };
        if s < 0 {
            s = 0;
        }
        if s > e || s >= len {
            return Vec::new();
        }
        if e >= len {
            e = len - 1;
        }
        let n = (e - s + 1) as usize;
        self.iter_from(s as usize, rev).take(n).collect()
    }

    /// Ranks `[start, end)` of the members whose score is in `range`.
    fn score_bounds(&self, range: &ScoreRange) -> (usize, usize) {
        if range.is_void() || self.is_empty() {
            return (0, 0);
        }
        let start = self.tree.count_prefix(|s, _| !range.gte_min(s));
        let end = self.tree.count_prefix(|s, _| range.lte_max(s));
        (start, end.max(start))
    }

    fn lex_bounds(&self, range: &LexRange) -> (usize, usize) {
        if range.is_void() || self.is_empty() {
            return (0, 0);
        }
        let start = self.tree.count_prefix(|_, m| !range.gte_min(m.get()));
        let end = self.tree.count_prefix(|_, m| range.lte_max(m.get()));
        (start, end.max(start))
    }

    fn slice_ranks(
        &self,
        (start, end): (usize, usize),
        rev: bool,
        limit: Option<Limit>,
    ) -> Vec<(&[u8], f64)> {
        let total = end - start;
        let (offset, count) = match limit {
            None => (0usize, total),
            Some(Limit { offset, count }) => {
                if offset < 0 {
                    return Vec::new();
                }
                let off = usize::try_from(offset).unwrap_or(usize::MAX);
                let cnt = if count < 0 {
                    total
                } else {
                    usize::try_from(count).unwrap_or(usize::MAX)
                };
                (off, cnt)
            }
        };
        if offset >= total || count == 0 {
            return Vec::new();
        }
        let n = count.min(total - offset);
        if rev {
            let top = end - 1 - offset; // forward rank of the first reply
            self.tree.cursor(top, true).take(n).collect()
        } else {
            self.tree.cursor(start + offset, false).take(n).collect()
        }
    }

    /// `ZRANGE BYSCORE [REV] [LIMIT]`.
    pub fn range_by_score(
        &self,
        range: &ScoreRange,
        rev: bool,
        limit: Option<Limit>,
    ) -> Vec<(&[u8], f64)> {
        self.slice_ranks(self.score_bounds(range), rev, limit)
    }

    /// `ZRANGE BYLEX [REV] [LIMIT]`.
    pub fn range_by_lex(
        &self,
        range: &LexRange,
        rev: bool,
        limit: Option<Limit>,
    ) -> Vec<(&[u8], f64)> {
        self.slice_ranks(self.lex_bounds(range), rev, limit)
    }

    /// Elements with `min <= score < max`, ascending (the geo box scan).
    /// The member is read only through [`Scored::member`]: a geo scan
    /// tests most candidates by score alone.
    pub fn scores_in(&self, min: f64, max: f64) -> impl Iterator<Item = Scored<'_>> + '_ {
        let range = ScoreRange {
            min,
            max,
            minex: false,
            maxex: true,
        };
        let (start, end) = self.score_bounds(&range);
        self.tree
            .cursor(start, false)
            .lazy()
            .take(end - start)
            .map(|(name, score)| Scored { score, name })
    }

    #[cfg(test)]
    pub(crate) fn check(&self) {
        self.tree.check();
        assert_eq!(self.tree.len(), self.index.len());
        for i in self.tree.positions() {
            assert_eq!(self.find(self.tree.name(i)), Some(i), "index slot");
        }
        for (m, s) in self.iter() {
            assert_eq!(self.score(m), Some(s));
        }
    }
}

#[cfg(test)]
mod tests;
