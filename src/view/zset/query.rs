//! Argument parsing of the sorted-set read commands, as `t_zset.c` does it.
//!
//! Each `parse_*` takes the whole argument vector (`argv[0]` is the command
//! name) and returns a typed query or the exact Redis error. Options are
//! read first, then conflicts are checked, then the range is parsed, so the
//! first error reported is the one Redis reports.

use super::{LexBound, LexRange, ScoreRange, ZSet};
use crate::view::CmdError;
use crate::view::num::{parse_i64, parse_range_double};

/// LIMIT offset count (a negative count means "all from offset").
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limit {
    /// Elements to skip; negative returns nothing.
    pub offset: i64,
    /// Elements to return; negative returns all.
    pub count: i64,
}

impl Default for Limit {
    fn default() -> Self {
        Limit {
            offset: 0,
            count: -1,
        }
    }
}

/// Which range a ZRANGE-family query selects.
#[derive(Debug, Clone, PartialEq)]
pub enum RangeKind {
    /// By rank, inclusive, negative counted from the end.
    Rank {
        /// First rank.
        start: i64,
        /// Last rank.
        stop: i64,
    },
    /// BYSCORE.
    Score(ScoreRange),
    /// BYLEX.
    Lex(LexRange),
}

/// The ZRANGE-family command being parsed (they share one parser in Redis).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ZRangeCmd {
    /// `ZRANGE key start stop [BYSCORE|BYLEX] [REV] [LIMIT o c] [WITHSCORES]`
    Zrange,
    /// `ZREVRANGE key start stop [WITHSCORES]`
    Zrevrange,
    /// `ZRANGEBYSCORE key min max [WITHSCORES] [LIMIT o c]`
    Zrangebyscore,
    /// `ZREVRANGEBYSCORE key max min [WITHSCORES] [LIMIT o c]`
    Zrevrangebyscore,
    /// `ZRANGEBYLEX key min max [LIMIT o c]`
    Zrangebylex,
    /// `ZREVRANGEBYLEX key max min [LIMIT o c]`
    Zrevrangebylex,
}

impl ZRangeCmd {
    /// Recognises a command name (any case).
    pub fn from_name(name: &[u8]) -> Option<Self> {
        let n = name.to_ascii_lowercase();
        Some(match n.as_slice() {
            b"zrange" => Self::Zrange,
            b"zrevrange" => Self::Zrevrange,
            b"zrangebyscore" => Self::Zrangebyscore,
            b"zrevrangebyscore" => Self::Zrevrangebyscore,
            b"zrangebylex" => Self::Zrangebylex,
            b"zrevrangebylex" => Self::Zrevrangebylex,
            _ => return None,
        })
    }
}

/// A parsed ZRANGE-family query.
#[derive(Debug, Clone, PartialEq)]
pub struct ZRangeQuery {
    /// The sorted set's key.
    pub key: Vec<u8>,
    /// The selected range.
    pub kind: RangeKind,
    /// Highest first.
    pub rev: bool,
    /// LIMIT (default: everything).
    pub limit: Limit,
    /// Reply with scores.
    pub withscores: bool,
}

impl ZRangeQuery {
    /// Runs the query: members (and scores) in reply order.
    pub fn run<'z>(&self, z: &'z ZSet) -> Vec<(&'z [u8], f64)> {
        match &self.kind {
            RangeKind::Rank { start, stop } => z.range_by_rank(*start, *stop, self.rev),
            RangeKind::Score(r) => z.range_by_score(r, self.rev, Some(self.limit)),
            RangeKind::Lex(r) => z.range_by_lex(r, self.rev, Some(self.limit)),
        }
    }
}

fn arity(argv: &[&[u8]]) -> CmdError {
    let name = argv
        .first()
        .map(|n| String::from_utf8_lossy(n).to_ascii_lowercase());
    CmdError::Arity(name.unwrap_or_default())
}

fn eq(a: &[u8], kw: &str) -> bool {
    a.eq_ignore_ascii_case(kw.as_bytes())
}

fn int(a: &[u8]) -> Result<i64, CmdError> {
    parse_i64(a).ok_or(CmdError::NotInteger)
}

/// Parses one ZRANGEBYSCORE bound (`(` exclusive, `-inf`, `+inf`).
pub fn parse_score_bound(a: &[u8]) -> Option<(f64, bool)> {
    match a.first() {
        Some(b'(') => parse_range_double(&a[1..]).map(|v| (v, true)),
        _ => parse_range_double(a).map(|v| (v, false)),
    }
}

/// Parses a score range as `zslParseRange`.
pub fn parse_score_range(min: &[u8], max: &[u8]) -> Result<ScoreRange, CmdError> {
    let (min, minex) = parse_score_bound(min).ok_or(CmdError::MinMaxNotFloat)?;
    let (max, maxex) = parse_score_bound(max).ok_or(CmdError::MinMaxNotFloat)?;
    Ok(ScoreRange {
        min,
        max,
        minex,
        maxex,
    })
}

fn parse_lex_bound(a: &[u8]) -> Option<LexBound> {
    match a.first()? {
        b'+' if a.len() == 1 => Some(LexBound::PosInf),
        b'-' if a.len() == 1 => Some(LexBound::NegInf),
        b'(' => Some(LexBound::Excl(a[1..].to_vec())),
        b'[' => Some(LexBound::Incl(a[1..].to_vec())),
        _ => None,
    }
}

/// Parses a lexicographic range as `zslParseLexRange`.
pub fn parse_lex_range(min: &[u8], max: &[u8]) -> Result<LexRange, CmdError> {
    let min = parse_lex_bound(min).ok_or(CmdError::LexRangeItem)?;
    let max = parse_lex_bound(max).ok_or(CmdError::LexRangeItem)?;
    Ok(LexRange { min, max })
}

#[derive(Clone, Copy, PartialEq)]
enum Type {
    Auto,
    Rank,
    Score,
    Lex,
}

/// `Parses ZRANGE / ZREVRANGE / Z[REV]RANGEBYSCORE / Z[REV]RANGEBYLEX`.
pub fn parse_zrange(cmd: ZRangeCmd, argv: &[&[u8]]) -> Result<ZRangeQuery, CmdError> {
    if argv.len() < 4 {
        return Err(arity(argv));
    }
    let (mut ty, mut rev) = match cmd {
        ZRangeCmd::Zrange => (Type::Auto, None),
        ZRangeCmd::Zrevrange => (Type::Rank, Some(true)),
        ZRangeCmd::Zrangebyscore => (Type::Score, Some(false)),
        ZRangeCmd::Zrevrangebyscore => (Type::Score, Some(true)),
        ZRangeCmd::Zrangebylex => (Type::Lex, Some(false)),
        ZRangeCmd::Zrevrangebylex => (Type::Lex, Some(true)),
    };
    let mut withscores = false;
    let mut limit = Limit::default();
    let mut j = 4;
    while j < argv.len() {
        let a = argv[j];
        let left = argv.len() - j - 1;
        if eq(a, "withscores") {
            withscores = true;
        } else if eq(a, "limit") && left >= 2 {
            limit = Limit {
                offset: int(argv[j + 1])?,
                count: int(argv[j + 2])?,
            };
            j += 2;
        } else if rev.is_none() && eq(a, "rev") {
            rev = Some(true);
        } else if ty == Type::Auto && eq(a, "bylex") {
            ty = Type::Lex;
        } else if ty == Type::Auto && eq(a, "byscore") {
            ty = Type::Score;
        } else {
            return Err(CmdError::Syntax);
        }
        j += 1;
    }
    let rev = rev.unwrap_or(false);
    if ty == Type::Auto {
        ty = Type::Rank;
    }
    // Redis tests "limit != -1", so `LIMIT x -1` passes with a rank range.
    if limit.count != -1 && ty == Type::Rank {
        return Err(CmdError::LimitWithRank);
    }
    if withscores && ty == Type::Lex {
        return Err(CmdError::WithscoresWithLex);
    }
    let (mut lo, mut hi) = (argv[2], argv[3]);
    if rev && ty != Type::Rank {
        std::mem::swap(&mut lo, &mut hi);
    }
    let kind = match ty {
        Type::Score => RangeKind::Score(parse_score_range(lo, hi)?),
        Type::Lex => RangeKind::Lex(parse_lex_range(lo, hi)?),
        _ => RangeKind::Rank {
            start: int(lo)?,
            stop: int(hi)?,
        },
    };
    Ok(ZRangeQuery {
        key: argv[1].to_vec(),
        kind,
        rev,
        limit,
        withscores,
    })
}

/// ZCOUNT key min max.
#[derive(Debug, Clone, PartialEq)]
pub struct ZCountQuery {
    /// Key.
    pub key: Vec<u8>,
    /// Score range.
    pub range: ScoreRange,
}

/// Parses ZCOUNT.
pub fn parse_zcount(argv: &[&[u8]]) -> Result<ZCountQuery, CmdError> {
    if argv.len() != 4 {
        return Err(arity(argv));
    }
    Ok(ZCountQuery {
        key: argv[1].to_vec(),
        range: parse_score_range(argv[2], argv[3])?,
    })
}

/// `ZRANK / ZREVRANK key member [WITHSCORE]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RankQuery {
    /// Key.
    pub key: Vec<u8>,
    /// Member.
    pub member: Vec<u8>,
    /// ZREVRANK.
    pub rev: bool,
    /// Reply `[rank, score]` (Redis 7.2 form); a missing member is then a null array.
    pub withscore: bool,
}

/// Parses ZRANK (`rev = false`) or ZREVRANK (`rev = true`).
pub fn parse_zrank(argv: &[&[u8]], rev: bool) -> Result<RankQuery, CmdError> {
    if argv.len() < 3 || argv.len() > 4 {
        return Err(arity(argv));
    }
    let withscore = match argv.get(3) {
        None => false,
        Some(a) if eq(a, "withscore") => true,
        Some(_) => return Err(CmdError::Syntax),
    };
    Ok(RankQuery {
        key: argv[1].to_vec(),
        member: argv[2].to_vec(),
        rev,
        withscore,
    })
}

/// ZSCORE key member.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ZScoreQuery {
    /// Key.
    pub key: Vec<u8>,
    /// Member.
    pub member: Vec<u8>,
}

/// Parses ZSCORE.
pub fn parse_zscore(argv: &[&[u8]]) -> Result<ZScoreQuery, CmdError> {
    if argv.len() != 3 {
        return Err(arity(argv));
    }
    Ok(ZScoreQuery {
        key: argv[1].to_vec(),
        member: argv[2].to_vec(),
    })
}

/// ZMSCORE key member [member ...].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ZMScoreQuery {
    /// Key.
    pub key: Vec<u8>,
    /// Members, in request order.
    pub members: Vec<Vec<u8>>,
}

/// Parses ZMSCORE.
pub fn parse_zmscore(argv: &[&[u8]]) -> Result<ZMScoreQuery, CmdError> {
    if argv.len() < 3 {
        return Err(arity(argv));
    }
    Ok(ZMScoreQuery {
        key: argv[1].to_vec(),
        members: argv[2..].iter().map(|m| m.to_vec()).collect(),
    })
}

/// Parses ZCARD key; returns the key.
pub fn parse_zcard(argv: &[&[u8]]) -> Result<Vec<u8>, CmdError> {
    if argv.len() != 2 {
        return Err(arity(argv));
    }
    Ok(argv[1].to_vec())
}
