//! `members`: the same members and scores, written either straight into a Redis sorted set
//! or geo set, or as stream entries that an eddy view derives one from. The memory
//! figures of the harness compare the two.

use anyhow::{Result, ensure};
use clap::ValueEnum;

use crate::closed_loop;
use crate::resp::{Shape, encode_into};

/// What `members` writes for member `n`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub(crate) enum Form {
    /// `ZADD key <score> m:<n>`.
    Zadd,
    /// `GEOADD key <lon> <lat> m:<n>`.
    Geoadd,
    /// `XADD key * member m:<n> score <score>`: events a sorted-set view derives from.
    ZaddEvents,
    /// `XADD key * member m:<n> lon <lon> lat <lat>`: events a geo view derives from.
    GeoaddEvents,
}

/// Member `n`'s score: spread over a wide range, the same for every form.
fn score(n: u64) -> u64 {
    mix(n) % 1_000_000_000
}

/// Member `n`'s position (micro-degrees written as decimals), inside the range both
/// Redis and eddy accept (latitudes within ±85.05112878).
fn position(n: u64) -> (String, String) {
    let h = mix(n ^ 0x5bd1_e995);
    let lon = (h % 360_000_000) as i64 - 180_000_000;
    let lat = ((h >> 32) % 170_000_000) as i64 - 85_000_000;
    (micro(lon), micro(lat))
}

fn micro(v: i64) -> String {
    let sign = if v < 0 { "-" } else { "" };
    let a = v.unsigned_abs();
    format!("{sign}{}.{:06}", a / 1_000_000, a % 1_000_000)
}

/// A fixed bijective mix (splitmix64's finaliser), so runs are repeatable.
fn mix(mut x: u64) -> u64 {
    x = x.wrapping_add(0x9E37_79B9_7F4A_7C15);
    x = (x ^ (x >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    x = (x ^ (x >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    x ^ (x >> 31)
}

fn command(out: &mut Vec<u8>, form: Form, key: &[u8], n: u64) {
    let member = format!("m:{n}");
    let m = member.as_bytes();
    match form {
        Form::Zadd => encode_into(out, &[b"ZADD", key, score(n).to_string().as_bytes(), m]),
        Form::ZaddEvents => encode_into(
            out,
            &[
                b"XADD",
                key,
                b"*",
                b"member",
                m,
                b"score",
                score(n).to_string().as_bytes(),
            ],
        ),
        Form::Geoadd => {
            let (lon, lat) = position(n);
            encode_into(out, &[b"GEOADD", key, lon.as_bytes(), lat.as_bytes(), m]);
        }
        Form::GeoaddEvents => {
            let (lon, lat) = position(n);
            encode_into(
                out,
                &[
                    b"XADD",
                    key,
                    b"*",
                    b"member",
                    m,
                    b"lon",
                    lon.as_bytes(),
                    b"lat",
                    lat.as_bytes(),
                ],
            );
        }
    }
}

/// Writes members `0..members` in `form` from `conns` connections, `pipeline` per round
/// trip, checking every reply (`:1` for a new sorted-set or geo member, an ID for XADD).
/// Returns members per second.
pub(crate) async fn members(
    addr: &str,
    key: &str,
    form: Form,
    members: u64,
    conns: u64,
    pipeline: u64,
) -> Result<f64> {
    let key = key.as_bytes().to_vec();
    closed_loop(
        addr,
        conns,
        members,
        pipeline,
        move |out, n, _| command(out, form, &key, n),
        move |r| {
            match form {
                Form::Zadd | Form::Geoadd => {
                    ensure!(*r == Shape::Int(1), "{form:?} replied {r:?}");
                }
                Form::ZaddEvents | Form::GeoaddEvents => {
                    ensure!(*r == Shape::Bulk, "XADD replied {r:?}");
                }
            }
            Ok(())
        },
    )
    .await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn positions_are_in_range_and_repeatable() {
        for n in 0..10_000 {
            let (lon, lat) = position(n);
            let (lon, lat): (f64, f64) = (lon.parse().unwrap(), lat.parse().unwrap());
            assert!((-180.0..180.0).contains(&lon), "{lon}");
            assert!((-85.05112878..=85.05112878).contains(&lat), "{lat}");
            assert_eq!(position(n), position(n));
        }
        assert_eq!(micro(-1), "-0.000001");
        assert_eq!(micro(12_345_678), "12.345678");
    }
}
