//! Stream entry IDs (`<ms>-<seq>`) and the Redis rules for reading them from
//! user input: the XADD forms (`*`, `<ms>-*`, explicit) and range bounds
//! (`-`, `+`, incomplete IDs, exclusive `(`).
//!
//! This module only parses and orders IDs; choosing the ID of a new entry
//! against a stream's state lives in `stream::Stream::resolve_id`.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

use crate::error::Error;

/// A stream entry ID. Ordered by `ms`, then `seq`, as in Redis.
#[derive(
    Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize,
)]
pub struct StreamId {
    /// Milliseconds part (by convention the Unix time the entry was added).
    pub ms: u64,
    /// Sequence number within the millisecond.
    pub seq: u64,
}

impl StreamId {
    /// `0-0`, the smallest ID; never a valid entry ID.
    pub const MIN: StreamId = StreamId { ms: 0, seq: 0 };
    /// `18446744073709551615-18446744073709551615`, the largest ID.
    pub const MAX: StreamId = StreamId {
        ms: u64::MAX,
        seq: u64::MAX,
    };

    /// Builds an ID from its two parts.
    pub const fn new(ms: u64, seq: u64) -> StreamId {
        StreamId { ms, seq }
    }

    /// The next ID in order, or `None` after [`StreamId::MAX`].
    pub fn next(self) -> Option<StreamId> {
        if self.seq < u64::MAX {
            Some(StreamId::new(self.ms, self.seq + 1))
        } else if self.ms < u64::MAX {
            Some(StreamId::new(self.ms + 1, 0))
        } else {
            None
        }
    }

    /// The previous ID in order, or `None` before [`StreamId::MIN`].
    pub fn prev(self) -> Option<StreamId> {
        if self.seq > 0 {
            Some(StreamId::new(self.ms, self.seq - 1))
        } else if self.ms > 0 {
            Some(StreamId::new(self.ms - 1, u64::MAX))
        } else {
            None
        }
    }

    /// Parses `<ms>` or `<ms>-<seq>`; a missing sequence becomes `missing_seq`.
    /// `-` and `+` are not accepted here (Redis's "strict" parse).
    pub fn parse_strict(s: &str, missing_seq: u64) -> Result<StreamId, Error> {
        match s.split_once('-') {
            None => Ok(StreamId::new(parse_u64(s)?, missing_seq)),
            Some((ms, seq)) => Ok(StreamId::new(parse_u64(ms)?, parse_u64(seq)?)),
        }
    }

    /// Parses an ID where `-` means `0-0` and `+` means the maximum ID
    /// (Redis's non-strict parse, used by range bounds).
    pub fn parse_loose(s: &str, missing_seq: u64) -> Result<StreamId, Error> {
        match s {
            "-" => Ok(StreamId::MIN),
            "+" => Ok(StreamId::MAX),
            _ => StreamId::parse_strict(s, missing_seq),
        }
    }
}

/// Redis's `string2ull` plus its checks: decimal digits only, no sign, no
/// spaces, fits in 64 bits.
fn parse_u64(s: &str) -> Result<u64, Error> {
    if s.is_empty() || !s.bytes().all(|b| b.is_ascii_digit()) {
        return Err(Error::InvalidStreamId);
    }
    s.parse::<u64>().map_err(|_| Error::InvalidStreamId)
}

impl fmt::Display for StreamId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}-{}", self.ms, self.seq)
    }
}

impl FromStr for StreamId {
    type Err = Error;

    /// A complete or incomplete ID (`5` is `5-0`), as XADD and XSETID read it.
    fn from_str(s: &str) -> Result<StreamId, Error> {
        StreamId::parse_strict(s, 0)
    }
}

/// How the ID of a new entry is chosen (the ID argument of XADD).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum IdSpec {
    /// `*`: `max(clock ms, last ms)` and the next sequence.
    Auto,
    /// `<ms>-*`: the given milliseconds, the next free sequence in them.
    AutoSeq(u64),
    /// An explicit ID (`<ms>` means `<ms>-0`).
    Explicit(StreamId),
}

impl FromStr for IdSpec {
    type Err = Error;

    fn from_str(s: &str) -> Result<IdSpec, Error> {
        if s == "*" {
            return Ok(IdSpec::Auto);
        }
        if let Some(ms) = s.strip_suffix("-*") {
            return Ok(IdSpec::AutoSeq(parse_u64(ms)?));
        }
        Ok(IdSpec::Explicit(s.parse()?))
    }
}

/// A bound of an ID interval, already resolved to an inclusive ID.
///
/// XRANGE's start and end are parsed by [`parse_range_start`] and
/// [`parse_range_end`]; an empty interval is not an error.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct IdRange {
    /// Smallest ID included.
    pub start: StreamId,
    /// Largest ID included.
    pub end: StreamId,
}

impl IdRange {
    /// The whole stream (`-` to `+`).
    pub const ALL: IdRange = IdRange {
        start: StreamId::MIN,
        end: StreamId::MAX,
    };

    /// Whether `id` lies inside the interval.
    pub fn contains(&self, id: StreamId) -> bool {
        self.start <= id && id <= self.end
    }

    /// Parses XRANGE's start and end arguments (XREVRANGE passes its second
    /// argument as `start`).
    ///
    /// # Errors
    /// Redis's errors for bad IDs and for exclusive bounds that cannot move.
    pub fn parse(start: &str, end: &str) -> Result<IdRange, Error> {
        Ok(IdRange {
            start: parse_range_start(start)?,
            end: parse_range_end(end)?,
        })
    }
}

/// Parses the lower bound of an interval: `-`, an ID (missing seq = 0) or an
/// exclusive `(<id>` (strict: `(-` and `(+` are invalid IDs).
pub fn parse_range_start(s: &str) -> Result<StreamId, Error> {
    match exclusive(s) {
        Some(rest) => StreamId::parse_strict(rest, 0)?
            .next()
            .ok_or(Error::InvalidStartInterval),
        None => StreamId::parse_loose(s, 0),
    }
}

/// Parses the upper bound of an interval: `+`, an ID (missing seq = max) or
/// an exclusive `(<id>`.
pub fn parse_range_end(s: &str) -> Result<StreamId, Error> {
    match exclusive(s) {
        Some(rest) => StreamId::parse_strict(rest, u64::MAX)?
            .prev()
            .ok_or(Error::InvalidEndInterval),
        None => StreamId::parse_loose(s, u64::MAX),
    }
}

/// `(` marks an exclusive bound only when something follows it.
fn exclusive(s: &str) -> Option<&str> {
    if s.len() > 1 {
        s.strip_prefix('(')
    } else {
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_complete_and_incomplete_ids() -> Result<(), Error> {
        assert_eq!("5".parse::<StreamId>()?, StreamId::new(5, 0));
        assert_eq!("5-3".parse::<StreamId>()?, StreamId::new(5, 3));
        assert_eq!(
            "18446744073709551615-18446744073709551615".parse::<StreamId>()?,
            StreamId::MAX
        );
        for bad in [
            "",
            "-",
            "+",
            "5-",
            "-5",
            "a-1",
            "1-a",
            "+5",
            " 5",
            "18446744073709551616",
            "1-2-3",
        ] {
            assert!(bad.parse::<StreamId>().is_err(), "{bad:?} accepted");
        }
        Ok(())
    }

    #[test]
    fn parses_xadd_id_forms() -> Result<(), Error> {
        assert_eq!("*".parse::<IdSpec>()?, IdSpec::Auto);
        assert_eq!("7-*".parse::<IdSpec>()?, IdSpec::AutoSeq(7));
        assert_eq!(
            "7".parse::<IdSpec>()?,
            IdSpec::Explicit(StreamId::new(7, 0))
        );
        assert!("*-1".parse::<IdSpec>().is_err());
        assert!("-*".parse::<IdSpec>().is_err());
        Ok(())
    }

    #[test]
    fn range_bounds_follow_redis() -> Result<(), Error> {
        assert_eq!(parse_range_start("-")?, StreamId::MIN);
        assert_eq!(parse_range_end("+")?, StreamId::MAX);
        assert_eq!(parse_range_start("5")?, StreamId::new(5, 0));
        assert_eq!(parse_range_end("5")?, StreamId::new(5, u64::MAX));
        assert_eq!(parse_range_start("(5")?, StreamId::new(5, 1));
        assert_eq!(parse_range_end("(5")?, StreamId::new(5, u64::MAX - 1));
        assert_eq!(parse_range_start("(5-0")?, StreamId::new(5, 1));
        assert_eq!(parse_range_end("(6-0")?, StreamId::new(5, u64::MAX));
        // Exclusive bounds use the strict parser.
        assert!(matches!(
            parse_range_start("(-"),
            Err(Error::InvalidStreamId)
        ));
        assert!(matches!(parse_range_end("(+"), Err(Error::InvalidStreamId)));
        assert!(matches!(
            parse_range_start("("),
            Err(Error::InvalidStreamId)
        ));
        assert!(matches!(
            parse_range_start("(18446744073709551615-18446744073709551615"),
            Err(Error::InvalidStartInterval)
        ));
        assert!(matches!(
            parse_range_end("(0-0"),
            Err(Error::InvalidEndInterval)
        ));
        Ok(())
    }

    #[test]
    fn next_and_prev_cross_millisecond_boundaries() {
        assert_eq!(StreamId::new(1, u64::MAX).next(), Some(StreamId::new(2, 0)));
        assert_eq!(StreamId::new(2, 0).prev(), Some(StreamId::new(1, u64::MAX)));
        assert_eq!(StreamId::MAX.next(), None);
        assert_eq!(StreamId::MIN.prev(), None);
    }
}
