//! The canonical `VIEW.CREATE` argument vector of a spec (VIEW.INFO and
//! VIEW.LIST show it; parsing it gives the same spec back).

use super::{Amount, CmpOp, Cond, CounterMode, Kind, Start, Value, ViewSpec};
use crate::view::counter::{Number, Retention};
use crate::view::num::format_double;

fn value(v: &Value) -> Vec<u8> {
    match v {
        Value::Field(f) => [b"{".as_slice(), f, b"}"].concat(),
        Value::Const(c) => format_double(*c).into_bytes(),
    }
}

impl ViewSpec {
    /// The `VIEW.CREATE` command that defines this spec, as an argument vector.
    pub fn to_command(&self) -> Vec<Vec<u8>> {
        let mut a: Vec<Vec<u8>> = vec![
            b"VIEW.CREATE".to_vec(),
            self.name.clone(),
            b"ON".to_vec(),
            self.source.clone(),
        ];
        let mut push = |parts: &[&[u8]]| a.extend(parts.iter().map(|p| p.to_vec()));
        let from = match self.start {
            Start::Beginning => b"0".to_vec(),
            Start::End => b"$".to_vec(),
            Start::Id { ms, seq } => format!("{ms}-{seq}").into_bytes(),
        };
        push(&[b"FROM", &from]);
        for c in &self.filter {
            match c {
                Cond::Eq(f, v) => push(&[b"WHERE", f, b"=", v]),
                Cond::Ne(f, v) => push(&[b"WHERE", f, b"!=", v]),
                Cond::Num(f, op, n) => {
                    let op: &[u8] = match op {
                        CmpOp::Lt => b"<",
                        CmpOp::Le => b"<=",
                        CmpOp::Gt => b">",
                        CmpOp::Ge => b">=",
                    };
                    push(&[b"WHERE", f, op, format_double(*n).as_bytes()]);
                }
            }
        }
        match &self.kind {
            Kind::ZSet {
                key,
                member,
                score,
                incr,
                flags,
            } => {
                let kw: &[u8] = if *incr { b"ZINCRBY" } else { b"ZADD" };
                push(&[
                    kw,
                    &key.text(),
                    b"MEMBER",
                    &member.text(),
                    b"SCORE",
                    &value(score),
                ]);
                for (on, kw) in [
                    (flags.nx, "NX"),
                    (flags.xx, "XX"),
                    (flags.gt, "GT"),
                    (flags.lt, "LT"),
                ] {
                    if on {
                        push(&[kw.as_bytes()]);
                    }
                }
            }
            Kind::Counter { key, by, mode } => {
                let by = match by {
                    Amount::Field(f) => [b"{".as_slice(), f, b"}"].concat(),
                    Amount::Const(Number::Int(i)) => i.to_string().into_bytes(),
                    Amount::Const(Number::Float(f)) => {
                        // Keep a double a double when parsed back ("2" would be an integer).
                        let t = format_double(*f);
                        if t.contains(['.', 'e', 'n']) {
                            t.into_bytes()
                        } else {
                            format!("{t}.0").into_bytes()
                        }
                    }
                };
                push(&[b"COUNT", &key.text(), b"BY", &by]);
                match mode {
                    CounterMode::Total => {}
                    CounterMode::Window { window_ms, keep } => push(&[
                        b"WINDOW",
                        (window_ms / 1000).to_string().as_bytes(),
                        b"KEEP",
                        keep.to_string().as_bytes(),
                    ]),
                    CounterMode::Buckets {
                        bucket_ms,
                        retention,
                    } => {
                        push(&[b"BUCKETS", bucket_ms.to_string().as_bytes()]);
                        match retention {
                            Retention::Forever => {}
                            Retention::Buckets(n) => push(&[b"RETAIN", n.to_string().as_bytes()]),
                            Retention::Ms(ms) => push(&[b"RETAINMS", ms.to_string().as_bytes()]),
                        }
                    }
                }
            }
            Kind::Geo {
                key,
                member,
                lon,
                lat,
            } => {
                push(&[
                    b"GEOADD",
                    &key.text(),
                    b"MEMBER",
                    &member.text(),
                    b"LON",
                    &value(lon),
                    b"LAT",
                    &value(lat),
                ]);
            }
        }
        a
    }
}
