//! Memory per sorted-set or geo member, in a fresh process so that no
//! earlier allocation is reused: RSS growth while inserting 1M members,
//! divided by the count, next to the accounted bytes (`ZSet::mem_bytes`).
//!
//! Run: `cargo run --release --example view_memory -- zset` (or `geo`).
//! The members and scores are those of `benches/views.rs`, so the figures
//! compare with a redis-server fed the same ZADD / GEOADD commands.

use eddy::view::geo::geo_score;
use eddy::view::zset::ZSet;

const N: usize = 1_000_000;

/// splitmix64, as in the bench.
struct Mix(u64);

impl Mix {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    fn unit(&mut self) -> f64 {
        (self.next() >> 11) as f64 / (1u64 << 53) as f64
    }
}

fn rss_bytes() -> usize {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<usize>().ok())
        .map_or(0, |kb| kb * 1024)
}

fn main() {
    let kind = std::env::args().nth(1).unwrap_or_else(|| "zset".into());
    let before = rss_bytes();
    let mut z = ZSet::new();
    match kind.as_str() {
        "zset" => {
            let mut r = Mix(1);
            for i in 0..N {
                z.insert(
                    format!("member:{i}").as_bytes(),
                    (r.next() % 10_000_000) as f64,
                );
            }
        }
        "geo" => {
            let mut r = Mix(2);
            for i in 0..N {
                let lon = -10.0 + 40.0 * r.unit();
                let lat = 35.0 + 25.0 * r.unit();
                if let Ok(s) = geo_score(lon, lat) {
                    z.insert(format!("p:{i}").as_bytes(), s);
                }
            }
        }
        other => {
            eprintln!("unknown kind {other:?}: use zset or geo");
            std::process::exit(2);
        }
    }
    let after = rss_bytes();
    println!(
        "{kind}: {} members, RSS +{:.1} bytes/member, accounted {:.1} bytes/member",
        z.len(),
        after.saturating_sub(before) as f64 / z.len() as f64,
        z.mem_bytes() as f64 / z.len() as f64
    );
}
