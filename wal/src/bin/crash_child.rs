//! Helper process for the kill -9 test: opens the WAL in the directory given as first
//! argument with `fsync always`, then appends from several threads until killed.
//! After each acknowledged append (single record or batch) it prints one line per
//! record on stdout and flushes it:
//!
//! `<position> <kind> <len> <crc32 of payload>`
//!
//! The second argument seeds the payloads so that each run writes different bytes.

use std::io::Write;
use std::sync::{Arc, Mutex};

use eddy_wal::{FsyncPolicy, Options, Wal};

fn main() {
    let mut args = std::env::args().skip(1);
    let (Some(dir), Some(seed)) = (args.next(), args.next().and_then(|s| s.parse::<u64>().ok()))
    else {
        eprintln!("usage: eddy-wal-crash-child <dir> <seed>");
        std::process::exit(2);
    };
    let opts = Options {
        segment_size: 64 << 10,
        fsync: FsyncPolicy::Always,
        ..Options::default()
    };
    let wal = match Wal::open(&dir, opts) {
        Ok(w) => Arc::new(w),
        Err(e) => {
            eprintln!("open: {e}");
            std::process::exit(1);
        }
    };
    let out = Arc::new(Mutex::new(std::io::stdout()));
    let threads: Vec<_> = (0..4u64)
        .map(|t| {
            let (wal, out) = (Arc::clone(&wal), Arc::clone(&out));
            std::thread::spawn(move || appender(&wal, &out, seed.wrapping_mul(31) + t))
        })
        .collect();
    for t in threads {
        let _ = t.join();
    }
}

/// xorshift64: payload bytes and sizes without a dependency.
fn next(state: &mut u64) -> u64 {
    *state ^= *state << 13;
    *state ^= *state >> 7;
    *state ^= *state << 17;
    *state
}

fn appender(wal: &Wal, out: &Mutex<std::io::Stdout>, seed: u64) {
    let mut rng = seed | 1;
    loop {
        let count = if next(&mut rng).is_multiple_of(4) {
            1 + next(&mut rng) % 4
        } else {
            1
        };
        let payloads: Vec<Vec<u8>> = (0..count)
            .map(|_| {
                let len = (next(&mut rng) % 3000) as usize;
                (0..len).map(|_| next(&mut rng) as u8).collect()
            })
            .collect();
        let kind = (next(&mut rng) % 128) as u8;
        let positions = if count == 1 {
            wal.append(kind, &payloads[0]).map(|p| vec![p])
        } else {
            wal.append_batch(payloads.iter().map(|p| (kind, &p[..])))
        };
        let positions = match positions {
            Ok(p) => p,
            Err(e) => {
                eprintln!("append: {e}");
                std::process::exit(1);
            }
        };
        let mut text = String::new();
        for (pos, p) in positions.iter().zip(&payloads) {
            text.push_str(&format!(
                "{pos} {kind} {} {}\n",
                p.len(),
                crc32fast::hash(p)
            ));
        }
        let mut out = out.lock().unwrap_or_else(|e| e.into_inner());
        if out
            .write_all(text.as_bytes())
            .and_then(|()| out.flush())
            .is_err()
        {
            std::process::exit(0); // the test closed the pipe
        }
    }
}
