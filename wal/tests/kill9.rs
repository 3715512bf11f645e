//! A real child process appends under `fsync always` and reports every acknowledged
//! record on a pipe; it is killed with SIGKILL at random moments, many times, and after
//! each kill every record it acknowledged (in this run or earlier ones) must be there,
//! intact, after recovery.

mod common;

use std::io::{BufRead, BufReader, Read};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use common::*;
use eddy_wal::{Error, Options, Position, Result, Wal};

struct Acked {
    pos: Position,
    kind: u8,
    len: usize,
    crc: u32,
}

fn parse(out: &str) -> Vec<Acked> {
    // Only complete lines count: a line cut by the kill was never fully reported.
    let complete = out.rfind('\n').map_or("", |i| &out[..=i]);
    complete
        .lines()
        .map(|l| {
            let f: Vec<&str> = l.split(' ').collect();
            assert_eq!(f.len(), 4, "bad line {l:?}");
            Acked {
                pos: f[0].parse().expect("position"),
                kind: f[1].parse().expect("kind"),
                len: f[2].parse().expect("len"),
                crc: f[3].parse().expect("crc"),
            }
        })
        .collect()
}

#[test]
fn acknowledged_records_survive_kill_9() -> Result<()> {
    let dir = tempdir();
    let child = env!("CARGO_BIN_EXE_eddy-wal-crash-child");
    let mut acked: Vec<Acked> = Vec::new();
    let mut rng = 0x9e37_79b9_7f4a_7c15u64 ^ u64::from(std::process::id());
    let started = Instant::now();
    let mut runs = 0;
    // Bounded in time, and at least a few runs even on a slow machine.
    while runs < 5 || (runs < 40 && started.elapsed() < Duration::from_secs(4)) {
        rng ^= rng << 13;
        rng ^= rng >> 7;
        rng ^= rng << 17;
        let mut proc = Command::new(child)
            .arg(dir.path())
            .arg(runs.to_string())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("spawn the crash child");
        let mut stdout = BufReader::new(proc.stdout.take().expect("child stdout"));
        // Once the child has acknowledged a record it holds the lock: this process
        // cannot open the directory meanwhile.
        let mut first = String::new();
        stdout.read_line(&mut first).expect("first acknowledgement");
        match Wal::open(dir.path(), Options::default()) {
            Err(Error::Locked { dir: d }) => assert_eq!(d, dir.path()),
            other => panic!("expected Locked while the child runs, got {other:?}"),
        }
        let reader = std::thread::spawn(move || {
            let mut s = first;
            let _ = stdout.read_to_string(&mut s);
            s
        });
        std::thread::sleep(Duration::from_millis(10 + rng % 90));
        proc.kill().expect("SIGKILL the child");
        let status = proc.wait().expect("reap the child");
        assert!(
            status.code().is_none(),
            "the child must die of the signal, not exit: {status}"
        );
        acked.extend(parse(&reader.join().expect("pipe reader")));
        runs += 1;

        let wal = Wal::open(dir.path(), Options::default())?;
        for a in &acked {
            let r = wal.read_at(a.pos)?;
            assert_eq!(
                (r.kind(), r.payload().len(), crc32fast::hash(r.payload())),
                (a.kind, a.len, a.crc),
                "acknowledged record at {} damaged after run {runs}",
                a.pos
            );
        }
        wal.close()?;
    }
    eprintln!(
        "kill -9: {runs} runs, {} acknowledged records checked",
        acked.len()
    );
    assert!(
        acked.len() > runs,
        "the children acknowledged too little to test: {}",
        acked.len()
    );
    Ok(())
}
