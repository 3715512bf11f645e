//! `VIEW.CREATE` and `VIEW.RANGE` argument parsing.
//!
//! Options may come in any order after the name; each keyword is
//! case-insensitive. Conflicts are reported after all options are read.

use super::{Amount, CmpOp, Cond, CounterMode, Kind, Start, Template, Value, ViewSpec};
use crate::view::counter::{Number, Retention};
use crate::view::num::{parse_i64, parse_strict_double};
use crate::view::zset::AddFlags;

/// A `VIEW.*` argument error; `Display` is the full error line (no '-').
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SpecError {
    /// Too few arguments.
    #[error("ERR wrong number of arguments for '{0}' command")]
    Arity(String),
    /// An unknown or misplaced token.
    #[error("ERR syntax error")]
    Syntax,
    /// No `ON stream`.
    #[error("ERR VIEW.CREATE needs ON <stream>")]
    MissingOn,
    /// No kind keyword.
    #[error("ERR VIEW.CREATE needs one of ZADD, ZINCRBY, COUNT or GEOADD")]
    NoKind,
    /// More than one kind keyword.
    #[error("ERR only one of ZADD, ZINCRBY, COUNT or GEOADD can be specified")]
    TwoKinds,
    /// An option that the chosen kind does not take.
    #[error("ERR {0} is not valid for {1} views")]
    NotForKind(&'static str, &'static str),
    /// A required option is missing.
    #[error("ERR {0} views need {1}")]
    Missing(&'static str, &'static str),
    /// A template with an unclosed `{`, a stray `}` or an empty field name.
    #[error("ERR invalid template '{0}'")]
    BadTemplate(String),
    /// A value that is neither `{field}` nor a number.
    #[error("ERR {0} needs a number or a {{field}}")]
    BadValue(&'static str),
    /// A size or count that is not a positive integer.
    #[error("ERR {0} must be a positive integer")]
    BadInteger(&'static str),
    /// A FROM that is not `0`, `$`, `ms` or `ms-seq`.
    #[error("ERR Invalid stream ID specified as stream command argument")]
    BadStreamId,
    /// NX with XX.
    #[error("ERR XX and NX options at the same time are not compatible")]
    NxXx,
    /// GT, LT and NX mixed.
    #[error("ERR GT, LT, and/or NX options at the same time are not compatible")]
    GtLtNx,
    /// WINDOW with BUCKETS.
    #[error("ERR only one of WINDOW and BUCKETS can be specified")]
    WindowAndBuckets,
    /// An option that needs another (KEEP needs WINDOW...).
    #[error("ERR {0} requires {1}")]
    Requires(&'static str, &'static str),
    /// A range bound that is not an integer, `-` or `+`.
    #[error("ERR value is not an integer or out of range")]
    NotInteger,
    /// A numeric WHERE against a non-number.
    #[error("ERR WHERE {0} needs a number")]
    FilterNotNumber(&'static str),
}

fn eq(a: &[u8], kw: &str) -> bool {
    a.eq_ignore_ascii_case(kw.as_bytes())
}

fn template(t: &[u8]) -> Result<Template, SpecError> {
    Template::parse(t)
        .ok_or_else(|| SpecError::BadTemplate(String::from_utf8_lossy(t).into_owned()))
}

/// `{name}` as a whole token.
fn field_ref(t: &[u8]) -> Option<Vec<u8>> {
    if t.len() > 2 && t[0] == b'{' && t[t.len() - 1] == b'}' && !t[1..t.len() - 1].contains(&b'}') {
        Some(t[1..t.len() - 1].to_vec())
    } else {
        None
    }
}

fn value(t: &[u8], opt: &'static str) -> Result<Value, SpecError> {
    if let Some(f) = field_ref(t) {
        return Ok(Value::Field(f));
    }
    parse_strict_double(t)
        .map(Value::Const)
        .ok_or(SpecError::BadValue(opt))
}

fn amount(t: &[u8]) -> Result<Amount, SpecError> {
    if let Some(f) = field_ref(t) {
        return Ok(Amount::Field(f));
    }
    Number::parse(t)
        .map(Amount::Const)
        .ok_or(SpecError::BadValue("BY"))
}

fn positive(t: &[u8], opt: &'static str) -> Result<u64, SpecError> {
    parse_i64(t)
        .filter(|v| *v > 0)
        .map(|v| v as u64)
        .ok_or(SpecError::BadInteger(opt))
}

fn parse_u64(t: &[u8]) -> Option<u64> {
    if t.is_empty() || !t.iter().all(u8::is_ascii_digit) {
        return None;
    }
    std::str::from_utf8(t).ok()?.parse().ok()
}

fn start(t: &[u8]) -> Result<Start, SpecError> {
    match t {
        b"$" => Ok(Start::End),
        b"0" | b"-" | b"0-0" => Ok(Start::Beginning),
        _ => {
            let (ms, seq) = match t.iter().position(|&c| c == b'-') {
                Some(p) => (parse_u64(&t[..p]), parse_u64(&t[p + 1..])),
                None => (parse_u64(t), Some(0)),
            };
            match (ms, seq) {
                (Some(ms), Some(seq)) => Ok(Start::Id { ms, seq }),
                _ => Err(SpecError::BadStreamId),
            }
        }
    }
}

#[derive(Clone, Copy, PartialEq)]
enum K {
    ZAdd,
    ZIncr,
    Count,
    Geo,
}

impl K {
    fn name(self) -> &'static str {
        match self {
            K::ZAdd => "ZADD",
            K::ZIncr => "ZINCRBY",
            K::Count => "COUNT",
            K::Geo => "GEOADD",
        }
    }
}

/// Parses `VIEW.CREATE name ON stream ...` (`argv[0]` is the command name).
pub fn parse_view_create(argv: &[&[u8]]) -> Result<ViewSpec, SpecError> {
    if argv.len() < 5 {
        return Err(SpecError::Arity(
            String::from_utf8_lossy(argv.first().copied().unwrap_or(b"")).to_ascii_lowercase(),
        ));
    }
    let name = argv[1].to_vec();
    let mut source = None;
    let mut from = Start::Beginning;
    let mut filter = Vec::new();
    let mut kind: Option<(K, Template)> = None;
    let (mut member, mut score, mut by, mut lon, mut lat) = (None, None, None, None, None);
    let (mut window, mut keep, mut buckets, mut retain) = (None, None, None, None);
    let mut flags = AddFlags::default();
    let mut used: Vec<&'static str> = Vec::new();
    let t = argv;
    let mut i = 2;
    while i < t.len() {
        let a = t[i];
        let left = t.len() - i - 1;
        let need = |n: usize| {
            if left >= n {
                Ok(())
            } else {
                Err(SpecError::Syntax)
            }
        };
        if eq(a, "on") {
            need(1)?;
            source = Some(t[i + 1].to_vec());
            i += 2;
        } else if eq(a, "from") {
            need(1)?;
            from = start(t[i + 1])?;
            i += 2;
        } else if eq(a, "where") {
            need(2)?;
            let f = t[i + 1].to_vec();
            let op = t[i + 2];
            let is_op = matches!(op, b"=" | b"==" | b"!=" | b"<" | b"<=" | b">" | b">=");
            if is_op && left >= 3 {
                let v = t[i + 3];
                let num = |name| parse_strict_double(v).ok_or(SpecError::FilterNotNumber(name));
                filter.push(match op {
                    b"=" | b"==" => Cond::Eq(f, v.to_vec()),
                    b"!=" => Cond::Ne(f, v.to_vec()),
                    b"<" => Cond::Num(f, CmpOp::Lt, num("<")?),
                    b"<=" => Cond::Num(f, CmpOp::Le, num("<=")?),
                    b">" => Cond::Num(f, CmpOp::Gt, num(">")?),
                    _ => Cond::Num(f, CmpOp::Ge, num(">=")?),
                });
                i += 4;
            } else {
                filter.push(Cond::Eq(f, op.to_vec()));
                i += 3;
            }
        } else if let Some(k) = [K::ZAdd, K::ZIncr, K::Count, K::Geo]
            .into_iter()
            .find(|k| eq(a, k.name()))
        {
            need(1)?;
            if kind.is_some() {
                return Err(SpecError::TwoKinds);
            }
            kind = Some((k, template(t[i + 1])?));
            i += 2;
        } else {
            // Options with one argument.
            let one: Option<&'static str> = [
                "MEMBER", "SCORE", "BY", "LON", "LAT", "WINDOW", "KEEP", "BUCKETS", "RETAIN",
                "RETAINMS",
            ]
            .into_iter()
            .find(|o| eq(a, o));
            if let Some(o) = one {
                need(1)?;
                let v = t[i + 1];
                match o {
                    "MEMBER" => member = Some(template(v)?),
                    "SCORE" => score = Some(value(v, "SCORE")?),
                    "BY" => by = Some(amount(v)?),
                    "LON" => lon = Some(value(v, "LON")?),
                    "LAT" => lat = Some(value(v, "LAT")?),
                    "WINDOW" => window = Some(positive(v, "WINDOW")?),
                    "KEEP" => keep = Some(positive(v, "KEEP")?),
                    "BUCKETS" => buckets = Some(positive(v, "BUCKETS")?),
                    "RETAIN" => {
                        retain = Some(Retention::Buckets(
                            u32::try_from(positive(v, "RETAIN")?).unwrap_or(u32::MAX),
                        ))
                    }
                    _ => retain = Some(Retention::Ms(positive(v, "RETAINMS")?)),
                }
                used.push(o);
                i += 2;
            } else if eq(a, "nx") {
                flags.nx = true;
                used.push("NX");
                i += 1;
            } else if eq(a, "xx") {
                flags.xx = true;
                used.push("XX");
                i += 1;
            } else if eq(a, "gt") {
                flags.gt = true;
                used.push("GT");
                i += 1;
            } else if eq(a, "lt") {
                flags.lt = true;
                used.push("LT");
                i += 1;
            } else {
                return Err(SpecError::Syntax);
            }
        }
    }
    let source = source.ok_or(SpecError::MissingOn)?;
    let (k, key) = kind.ok_or(SpecError::NoKind)?;
    let allowed: &[&str] = match k {
        K::ZAdd | K::ZIncr => &["MEMBER", "SCORE", "NX", "XX", "GT", "LT"],
        K::Count => &["BY", "WINDOW", "KEEP", "BUCKETS", "RETAIN", "RETAINMS"],
        K::Geo => &["MEMBER", "LON", "LAT"],
    };
    if let Some(bad) = used.iter().find(|o| !allowed.contains(o)) {
        return Err(SpecError::NotForKind(bad, k.name()));
    }
    let kind = match k {
        K::ZAdd | K::ZIncr => {
            if flags.nx && flags.xx {
                return Err(SpecError::NxXx);
            }
            if [flags.gt, flags.lt, flags.nx]
                .iter()
                .filter(|f| **f)
                .count()
                > 1
            {
                return Err(SpecError::GtLtNx);
            }
            Kind::ZSet {
                key,
                member: member.ok_or(SpecError::Missing(k.name(), "MEMBER"))?,
                score: score.ok_or(SpecError::Missing(k.name(), "SCORE"))?,
                incr: k == K::ZIncr,
                flags,
            }
        }
        K::Count => {
            if window.is_some() && buckets.is_some() {
                return Err(SpecError::WindowAndBuckets);
            }
            if keep.is_some() && window.is_none() {
                return Err(SpecError::Requires("KEEP", "WINDOW"));
            }
            if retain.is_some() && buckets.is_none() {
                return Err(SpecError::Requires(
                    if used.contains(&"RETAIN") {
                        "RETAIN"
                    } else {
                        "RETAINMS"
                    },
                    "BUCKETS",
                ));
            }
            let mode = match (window, buckets) {
                (Some(secs), _) => CounterMode::Window {
                    window_ms: secs
                        .checked_mul(1000)
                        .ok_or(SpecError::BadInteger("WINDOW"))?,
                    keep: u32::try_from(keep.unwrap_or(2)).unwrap_or(u32::MAX),
                },
                (None, Some(ms)) => CounterMode::Buckets {
                    bucket_ms: ms,
                    retention: retain.unwrap_or(Retention::Forever),
                },
                (None, None) => CounterMode::Total,
            };
            Kind::Counter {
                key,
                by: by.unwrap_or(Amount::Const(Number::Int(1))),
                mode,
            }
        }
        K::Geo => Kind::Geo {
            key,
            member: member.ok_or(SpecError::Missing("GEOADD", "MEMBER"))?,
            lon: lon.ok_or(SpecError::Missing("GEOADD", "LON"))?,
            lat: lat.ok_or(SpecError::Missing("GEOADD", "LAT"))?,
        },
    };
    Ok(ViewSpec {
        name,
        source,
        start: from,
        filter,
        kind,
    })
}

/// `VIEW.RANGE key from to`: the buckets of a time-bucket key whose start
/// is in `[from, to]` (ms; `-` and `+` for the ends).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ViewRangeQuery {
    /// Series key.
    pub key: Vec<u8>,
    /// First bucket start (ms).
    pub from: u64,
    /// Last bucket start (ms).
    pub to: u64,
}

/// Parses `VIEW.RANGE`.
pub fn parse_view_range(argv: &[&[u8]]) -> Result<ViewRangeQuery, SpecError> {
    if argv.len() != 4 {
        return Err(SpecError::Arity(
            String::from_utf8_lossy(argv.first().copied().unwrap_or(b"")).to_ascii_lowercase(),
        ));
    }
    let bound = |t: &[u8], dflt: u64| match t {
        b"-" if dflt == 0 => Some(0),
        b"+" if dflt == u64::MAX => Some(u64::MAX),
        _ => parse_u64(t),
    };
    let from = bound(argv[2], 0).ok_or(SpecError::NotInteger)?;
    let to = bound(argv[3], u64::MAX).ok_or(SpecError::NotInteger)?;
    Ok(ViewRangeQuery {
        key: argv[1].to_vec(),
        from,
        to,
    })
}
