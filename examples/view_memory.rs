//! Memory per sorted-set or geo member, in a fresh process so that no
//! earlier allocation is reused: RSS growth while inserting 1M members,
//! divided by the count, next to the accounted bytes (`ZSet::mem_bytes`).
//!
//! Run: `cargo run --release --example view_memory -- zset` (or `geo`).
//! The members and scores are those of `benches/views.rs`.
//!
//! With `--resp` it prints the same members as ZADD / GEOADD commands in
//! RESP instead, to feed a redis-server and read its figure:
//!
//! ```text
//! view_memory zset --resp > zset.resp
//! redis-server --port 7391 --bind 127.0.0.1 --save '' --appendonly no &
//! redis-cli -p 7391 info memory | grep -E '^used_memory(_rss)?:'   # before
//! redis-cli -p 7391 --pipe < zset.resp
//! redis-cli -p 7391 info memory | grep -E '^used_memory(_rss)?:'   # after
//! ```
//!
//! then divide the growth by 1M and stop the server by its PID.

use std::io::{BufWriter, Write};

use eddy::view::geo::geo_score;
use eddy::view::zset::ZSet;

#[path = "../benches/common/measure.rs"]
mod measure;
use measure::{Mix, rss_bytes};

const N: usize = 1_000_000;

/// Writes one command in RESP.
fn resp(out: &mut impl Write, args: &[&str]) -> std::io::Result<()> {
    write!(out, "*{}\r\n", args.len())?;
    for a in args {
        write!(out, "${}\r\n{a}\r\n", a.len())?;
    }
    Ok(())
}

/// The members: `(member, zset score)` or `(member, lon, lat)`.
enum Members {
    Zset(Mix),
    Geo(Mix),
}

fn main() -> std::io::Result<()> {
    let mut args = std::env::args().skip(1);
    let kind = args.next().unwrap_or_else(|| "zset".into());
    let as_resp = args.next().as_deref() == Some("--resp");
    let mut members = match kind.as_str() {
        "zset" => Members::Zset(Mix(1)),
        "geo" => Members::Geo(Mix(2)),
        other => {
            eprintln!("unknown kind {other:?}: use zset or geo [--resp]");
            std::process::exit(2);
        }
    };
    if as_resp {
        let mut out = BufWriter::new(std::io::stdout().lock());
        for i in 0..N {
            match &mut members {
                Members::Zset(r) => {
                    let score = (r.next() % 10_000_000).to_string();
                    resp(&mut out, &["ZADD", "z", &score, &format!("member:{i}")])?;
                }
                Members::Geo(r) => {
                    let lon = format!("{}", -10.0 + 40.0 * r.unit());
                    let lat = format!("{}", 35.0 + 25.0 * r.unit());
                    resp(&mut out, &["GEOADD", "g", &lon, &lat, &format!("p:{i}")])?;
                }
            }
        }
        return out.flush();
    }
    let before = rss_bytes();
    let mut z = ZSet::new();
    for i in 0..N {
        match &mut members {
            Members::Zset(r) => {
                z.insert(
                    format!("member:{i}").as_bytes(),
                    (r.next() % 10_000_000) as f64,
                );
            }
            Members::Geo(r) => {
                let lon = -10.0 + 40.0 * r.unit();
                let lat = 35.0 + 25.0 * r.unit();
                if let Ok(s) = geo_score(lon, lat) {
                    z.insert(format!("p:{i}").as_bytes(), s);
                }
            }
        }
    }
    let after = rss_bytes();
    println!(
        "{kind}: {} members, RSS +{:.1} bytes/member, accounted {:.1} bytes/member",
        z.len(),
        after.saturating_sub(before) as f64 / z.len() as f64,
        z.mem_bytes() as f64 / z.len() as f64
    );
    Ok(())
}
