//! Trimming: Redis's `streamTrim` over the block index, plus MAXSIZE (bytes)
//! and MAXAGE (entry-ID age).
//!
//! Planning walks blocks from the head exactly as Redis walks its nodes:
//! whole blocks go while the strategy allows it (and the LIMIT is not
//! exceeded); `~` stops at the first block that cannot go entirely; `=`
//! marks entries deleted inside that block. The plan is a [`TrimEffect`],
//! written to the log as is, so replay needs neither clock nor config.

use eddy_wal::Wal;

use super::Stream;
use super::id::StreamId;
use crate::error::Error;
use crate::record::TrimEffect;

/// What to keep.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TrimStrategy {
    /// At most this many entries (MAXLEN).
    MaxLen(u64),
    /// Only IDs at or above this one (MINID).
    MinId(StreamId),
    /// At most this many encoded bytes of live entries (MAXSIZE).
    MaxSize(u64),
    /// Only entries whose ID time is at most this many ms old (MAXAGE).
    MaxAge(u64),
}

/// A trim request (XTRIM, or the trim part of XADD).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Trim {
    /// What to keep.
    pub strategy: TrimStrategy,
    /// `~`: only drop whole blocks.
    pub approx: bool,
    /// LIMIT: most entries to drop (only with `~`); `None` = Redis's default
    /// (100 blocks' worth), `Some(0)` = no limit.
    pub limit: Option<u64>,
}

impl Trim {
    /// An exact trim.
    pub fn exact(strategy: TrimStrategy) -> Trim {
        Trim {
            strategy,
            approx: false,
            limit: None,
        }
    }
    /// An approximate (`~`) trim with the default LIMIT.
    pub fn approx(strategy: TrimStrategy) -> Trim {
        Trim {
            strategy,
            approx: true,
            limit: None,
        }
    }

    /// Checks option combinations Redis refuses.
    pub fn validate(&self) -> Result<(), Error> {
        if !self.approx && self.limit.is_some() {
            return Err(Error::LimitWithoutApprox);
        }
        Ok(())
    }

    /// The entry LIMIT in effect (0 = none), given `stream-node-max-entries`.
    pub fn effective_limit(&self, node_max_entries: u64) -> u64 {
        if !self.approx {
            return 0;
        }
        match self.limit {
            Some(l) => l,
            // Redis: at most 100 nodes' worth, capped on both sides.
            None => match node_max_entries.saturating_mul(100) {
                0 => 10_000,
                l => l.min(1_000_000),
            },
        }
    }
}

/// A strategy with MAXAGE resolved against the clock.
#[derive(Clone, Copy, Debug)]
enum Keep {
    Len(u64),
    Min(StreamId),
    Size(u64),
}

impl Stream {
    /// Plans a trim; `now_ms` resolves MAXAGE. Returns the effect and the
    /// number of entries it deletes (0 = nothing to write).
    pub fn plan_trim(
        &self,
        wal: &Wal,
        trim: &Trim,
        node_max_entries: u64,
        now_ms: u64,
    ) -> Result<(TrimEffect, u64), Error> {
        let keep = match trim.strategy {
            TrimStrategy::MaxLen(n) => Keep::Len(n),
            TrimStrategy::MinId(id) => Keep::Min(id),
            TrimStrategy::MaxSize(n) => Keep::Size(n),
            TrimStrategy::MaxAge(age) => Keep::Min(StreamId::new(now_ms.saturating_sub(age), 0)),
        };
        let limit = trim.effective_limit(node_max_entries);
        let mut length = self.length;
        let mut bytes = self.bytes;
        let mut removed = 0u64;
        let mut effect = TrimEffect::default();
        for b in &self.blocks {
            let done = match keep {
                Keep::Len(n) => length <= n,
                Keep::Size(n) => bytes <= n,
                Keep::Min(_) => false,
            };
            if done {
                break;
            }
            let live = u64::from(b.live);
            if limit != 0 && removed + live > limit {
                break;
            }
            let whole = match keep {
                Keep::Len(n) => length.saturating_sub(live) >= n,
                Keep::Min(id) => b.last_id < id,
                Keep::Size(n) => bytes.saturating_sub(b.live_bytes) >= n,
            };
            if whole {
                length = length.saturating_sub(live);
                bytes = bytes.saturating_sub(b.live_bytes);
                removed += live;
                effect.blocks += 1;
                continue;
            }
            if trim.approx {
                break;
            }
            for e in self.load(wal, b)? {
                let stop = match keep {
                    Keep::Len(n) => length <= n,
                    Keep::Min(id) => e.id >= id,
                    Keep::Size(n) => bytes <= n,
                };
                if stop {
                    effect.floor = Some(e.id);
                    break;
                }
                if !self.is_deleted(e.id) {
                    effect.marked += 1;
                    effect.marked_bytes += e.size;
                    length = length.saturating_sub(1);
                    bytes = bytes.saturating_sub(e.size);
                }
            }
            if effect.floor.is_none() && effect.marked > 0 {
                effect.floor = Some(b.last_id.next().unwrap_or(StreamId::MAX));
            }
            removed += effect.marked;
            break;
        }
        Ok((effect, removed))
    }

    /// Applies a trim effect (live writes and recovery alike).
    pub(crate) fn apply_trim(&mut self, wal: &Wal, effect: &TrimEffect) -> Result<(), Error> {
        for _ in 0..effect.blocks {
            if self.blocks.is_empty() {
                return Err(Error::corrupt("trim drops more blocks than exist"));
            }
            self.drop_block(0);
        }
        if let (Some(floor), Some(head)) = (effect.floor, self.blocks.front_mut()) {
            let marked = u32::try_from(effect.marked)
                .ok()
                .filter(|m| *m <= head.live)
                .ok_or_else(|| Error::corrupt("trim marks more entries than live"))?;
            head.live -= marked;
            head.deleted += marked;
            head.live_bytes = head.live_bytes.saturating_sub(effect.marked_bytes);
            self.length -= effect.marked;
            self.bytes = self.bytes.saturating_sub(effect.marked_bytes);
            self.trim_floor = self.trim_floor.max(floor);
            // Tombstones below the floor are covered by it now.
            self.tombstones = self.tombstones.split_off(&floor);
        }
        self.first_id = if self.length == 0 {
            StreamId::MIN
        } else {
            self.first_live(wal)?.map_or(StreamId::MIN, |e| e.id)
        };
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_limits_follow_redis() {
        let t = Trim::approx(TrimStrategy::MaxLen(0));
        assert_eq!(t.effective_limit(100), 10_000);
        assert_eq!(t.effective_limit(5), 500);
        assert_eq!(t.effective_limit(0), 10_000);
        assert_eq!(t.effective_limit(100_000), 1_000_000);
        assert_eq!(Trim::exact(TrimStrategy::MaxLen(0)).effective_limit(100), 0);
        let t = Trim {
            limit: Some(0),
            ..t
        };
        assert_eq!(t.effective_limit(100), 0);
    }

    #[test]
    fn limit_needs_approx() {
        let t = Trim {
            strategy: TrimStrategy::MaxLen(1),
            approx: false,
            limit: Some(5),
        };
        assert!(matches!(t.validate(), Err(Error::LimitWithoutApprox)));
    }
}
