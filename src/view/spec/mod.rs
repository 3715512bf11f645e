//! View definitions: what a `VIEW.CREATE` defines, and how it is stored.
//!
//! Owns: [`ViewSpec`] and its parts (start position, filter, key/member
//! templates, value sources, kinds), their evaluation against one event's
//! fields, the `VIEW.CREATE` parser ([`parse_view_create`]) and the postcard
//! encoding used in WAL records and checkpoints ([`ViewSpec::to_bytes`]).
//! Does not own: the view's data or applying events (see
//! [`crate::view::View`]). The syntax is documented in [`crate::view`].

mod describe;
mod parse;

#[cfg(test)]
mod tests;

use serde::{Deserialize, Serialize};

pub use parse::{SpecError, ViewRangeQuery, parse_view_create, parse_view_range};

use crate::view::counter::{Number, Retention};
use crate::view::num::parse_strict_double;
use crate::view::zset::AddFlags;

/// Where a new view starts reading its source stream.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Start {
    /// From the first entry (`FROM 0`, the default).
    Beginning,
    /// Only entries added after the view is created (`FROM $`).
    End,
    /// Entries with an ID greater than or equal to this one (`FROM ms-seq`).
    Id {
        /// Milliseconds part.
        ms: u64,
        /// Sequence part.
        seq: u64,
    },
}

/// Numeric comparison of a filter.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum CmpOp {
    /// `<`
    Lt,
    /// `<=`
    Le,
    /// `>`
    Gt,
    /// `>=`
    Ge,
}

/// One filter condition; a view applies an event only if all hold.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum Cond {
    /// The field exists and equals the bytes.
    Eq(Vec<u8>, Vec<u8>),
    /// The field is absent or differs.
    Ne(Vec<u8>, Vec<u8>),
    /// The field is a number and compares true.
    Num(Vec<u8>, CmpOp, f64),
}

/// The first value of a field (stream entries may repeat a field name; the
/// first occurrence wins).
pub fn field<'a>(fields: &[(&[u8], &'a [u8])], name: &[u8]) -> Option<&'a [u8]> {
    fields.iter().find(|(k, _)| *k == name).map(|(_, v)| *v)
}

impl Cond {
    /// Evaluates the condition on an event.
    pub fn holds(&self, fields: &[(&[u8], &[u8])]) -> bool {
        match self {
            Cond::Eq(f, v) => field(fields, f) == Some(v.as_slice()),
            Cond::Ne(f, v) => field(fields, f) != Some(v.as_slice()),
            Cond::Num(f, op, n) => {
                let Some(x) = field(fields, f).and_then(parse_strict_double) else {
                    return false;
                };
                match op {
                    CmpOp::Lt => x < *n,
                    CmpOp::Le => x <= *n,
                    CmpOp::Gt => x > *n,
                    CmpOp::Ge => x >= *n,
                }
            }
        }
    }
}

/// A piece of a template.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum Part {
    /// Literal bytes.
    Lit(Vec<u8>),
    /// The value of a field.
    Field(Vec<u8>),
}

/// A key or member template such as `leaderboard:{region}`: `{name}` is
/// replaced by the event's field `name`; `{{` and `}}` are literal braces.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Template(pub Vec<Part>);

impl Template {
    /// Parses a template; `None` on an unclosed `{`, a stray `}` or an empty name.
    pub fn parse(t: &[u8]) -> Option<Template> {
        let mut parts = Vec::new();
        let mut lit = Vec::new();
        let mut i = 0;
        while i < t.len() {
            match t[i] {
                b'{' if t.get(i + 1) == Some(&b'{') => {
                    lit.push(b'{');
                    i += 2;
                }
                b'}' if t.get(i + 1) == Some(&b'}') => {
                    lit.push(b'}');
                    i += 2;
                }
                b'{' => {
                    let end = t[i + 1..].iter().position(|&c| c == b'}')? + i + 1;
                    let name = &t[i + 1..end];
                    if name.is_empty() || name.contains(&b'{') {
                        return None;
                    }
                    if !lit.is_empty() {
                        parts.push(Part::Lit(std::mem::take(&mut lit)));
                    }
                    parts.push(Part::Field(name.to_vec()));
                    i = end + 1;
                }
                b'}' => return None,
                c => {
                    lit.push(c);
                    i += 1;
                }
            }
        }
        if !lit.is_empty() {
            parts.push(Part::Lit(lit));
        }
        Some(Template(parts))
    }

    /// Renders the template; `None` if a field is missing.
    pub fn render(&self, fields: &[(&[u8], &[u8])]) -> Option<Vec<u8>> {
        let mut out = Vec::new();
        for p in &self.0 {
            match p {
                Part::Lit(l) => out.extend_from_slice(l),
                Part::Field(f) => out.extend_from_slice(field(fields, f)?),
            }
        }
        Some(out)
    }

    /// The template's text (for VIEW.INFO).
    pub fn text(&self) -> Vec<u8> {
        let mut out = Vec::new();
        for p in &self.0 {
            match p {
                Part::Lit(l) => {
                    for &c in l {
                        if c == b'{' || c == b'}' {
                            out.push(c);
                        }
                        out.push(c);
                    }
                }
                Part::Field(f) => {
                    out.push(b'{');
                    out.extend_from_slice(f);
                    out.push(b'}');
                }
            }
        }
        out
    }
}

/// A number taken from a field (`{name}`) or a constant.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum Value {
    /// The field's value, parsed as Redis parses a score.
    Field(Vec<u8>),
    /// A constant.
    Const(f64),
}

impl Value {
    /// The value for an event; `None` if the field is missing or not a number.
    pub fn eval(&self, fields: &[(&[u8], &[u8])]) -> Option<f64> {
        match self {
            Value::Field(f) => field(fields, f).and_then(parse_strict_double),
            Value::Const(c) => Some(*c),
        }
    }
}

/// A counter increment.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum Amount {
    /// A field's value (integer, or a double).
    Field(Vec<u8>),
    /// A constant (1 by default).
    Const(Number),
}

impl Amount {
    /// The increment for an event; `None` if the field is missing or not a number.
    pub fn eval(&self, fields: &[(&[u8], &[u8])]) -> Option<Number> {
        match self {
            Amount::Field(f) => field(fields, f).and_then(Number::parse),
            Amount::Const(n) => Some(*n),
        }
    }
}

/// How a counter view keeps its values.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub enum CounterMode {
    /// One running total per key.
    Total,
    /// One value per key per fixed window (key `<key>:<window start secs>`).
    Window {
        /// Window length in ms.
        window_ms: u64,
        /// Windows kept per key.
        keep: u32,
    },
    /// A series of count/sum per bucket per key.
    Buckets {
        /// Bucket length in ms.
        bucket_ms: u64,
        /// What is kept.
        retention: Retention,
    },
}

/// What each event does.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum Kind {
    /// Sorted set: set (ZADD) or increment (ZINCRBY) a member's score.
    ZSet {
        /// Key template.
        key: Template,
        /// Member template.
        member: Template,
        /// Score (or increment).
        score: Value,
        /// Increment instead of set.
        incr: bool,
        /// NX / XX / GT / LT.
        flags: AddFlags,
    },
    /// Counter: add an amount to a key.
    Counter {
        /// Key template.
        key: Template,
        /// Increment per event.
        by: Amount,
        /// Total, window or buckets.
        mode: CounterMode,
    },
    /// Geo index: set a member's position.
    Geo {
        /// Key template.
        key: Template,
        /// Member template.
        member: Template,
        /// Longitude.
        lon: Value,
        /// Latitude.
        lat: Value,
    },
}

/// A view definition.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ViewSpec {
    /// View name (unique).
    pub name: Vec<u8>,
    /// Source stream key.
    pub source: Vec<u8>,
    /// Where replay starts.
    pub start: Start,
    /// Conditions, all of which must hold.
    pub filter: Vec<Cond>,
    /// What an event does.
    pub kind: Kind,
}

/// A stored spec that does not decode.
#[derive(Debug, thiserror::Error)]
#[error("corrupt view spec: {0}")]
pub struct DecodeError(#[from] postcard::Error);

impl ViewSpec {
    /// Encodes the spec (postcard) for a WAL record or a checkpoint.
    pub fn to_bytes(&self) -> Vec<u8> {
        // Serialising plain owned data into a Vec cannot fail.
        postcard::to_stdvec(self).unwrap_or_default()
    }

    /// Decodes a spec written by [`ViewSpec::to_bytes`].
    pub fn from_bytes(b: &[u8]) -> Result<ViewSpec, DecodeError> {
        Ok(postcard::from_bytes(b)?)
    }

    /// True if an event passes the filter.
    pub fn matches(&self, fields: &[(&[u8], &[u8])]) -> bool {
        self.filter.iter().all(|c| c.holds(fields))
    }
}
