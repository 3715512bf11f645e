//! Crash test with a real process: the test re-runs its own binary as a
//! child that appends entries, delivers them with XREADGROUP, acks most of
//! them and claims some, printing a line after each call returns (fsync
//! `always`: a returned call is durable). The parent kills the child with
//! SIGKILL mid-stream, reopens the store and checks that every printed
//! delivery, ack and claim is there and that the last delivered ID did not
//! go backwards.

mod engine_util;

use std::io::{BufRead, BufReader, Write};
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::sync::mpsc;
use std::time::Duration;

use eddy::group::{ClaimArgs, GroupStart, PendingQuery, ReadFrom};
use eddy::{AddArgs, FsyncPolicy, Store, StoreOptions, StreamId, SystemClock};

const CHILD_ENV: &str = "EDDY_GROUPS_CRASH_DIR";
const TEST_NAME: &str = "kill_9_keeps_every_acknowledged_delivery_ack_and_claim";

fn options() -> StoreOptions {
    let mut o = StoreOptions::default();
    o.wal.fsync = FsyncPolicy::Always;
    o.wal.segment_size = 1 << 20;
    o.clock = Arc::new(SystemClock);
    o
}

fn ids_line(tag: &str, ids: &[StreamId]) -> String {
    let v: Vec<String> = ids.iter().map(ToString::to_string).collect();
    format!("{tag} {}", v.join(" "))
}

/// The child: writes until killed.
fn child(dir: &str) -> ! {
    let s = Store::open(dir, options()).expect("child open");
    s.xgroup_create(b"s", b"g", GroupStart::Id(StreamId::MIN), true, None)
        .expect("create");
    let mut out = std::io::stdout().lock();
    let f: [(&[u8], &[u8]); 1] = [(b"f", b"payload")];
    let mut batch = 0u64;
    let mut keep: Vec<StreamId> = Vec::new();
    loop {
        for _ in 0..6 {
            s.xadd(b"s", &AddArgs::new(&f)).expect("xadd");
        }
        let r = s
            .xreadgroup(b"g", b"a", &[(b"s", ReadFrom::New)], Some(6), false)
            .expect("read");
        let got: Vec<StreamId> = r[0].entries.iter().map(|e| e.id).collect();
        writeln!(out, "{}", ids_line("D", &got)).expect("stdout");
        out.flush().expect("flush");
        let mut acks = Vec::new();
        for (i, id) in got.iter().enumerate() {
            if i % 3 == 0 {
                keep.push(*id);
            } else {
                acks.push(*id);
            }
        }
        s.xack(b"s", b"g", &acks).expect("ack");
        writeln!(out, "{}", ids_line("A", &acks)).expect("stdout");
        out.flush().expect("flush");
        batch += 1;
        if batch.is_multiple_of(5) {
            let r = s
                .xclaim(b"s", b"g", b"b", &keep, &ClaimArgs::default())
                .expect("claim");
            let claimed: Vec<StreamId> = r.claimed.iter().map(|e| e.id).collect();
            writeln!(out, "{}", ids_line("C", &claimed)).expect("stdout");
            out.flush().expect("flush");
            keep.clear();
        }
    }
}

fn parse(line: &str) -> Option<(char, Vec<StreamId>)> {
    let mut parts = line.split(' ');
    let tag = parts.next()?.chars().next()?;
    let ids = parts
        .filter(|p| !p.is_empty())
        .map(|p| p.parse().ok())
        .collect::<Option<Vec<StreamId>>>()?;
    Some((tag, ids))
}

#[test]
fn kill_9_keeps_every_acknowledged_delivery_ack_and_claim() {
    if let Ok(dir) = std::env::var(CHILD_ENV) {
        child(&dir);
    }
    let dir = tempfile::tempdir().expect("tempdir");
    let exe = std::env::current_exe().expect("current exe");
    let mut kid = Command::new(exe)
        .args(["--exact", TEST_NAME, "--nocapture", "--test-threads=1"])
        .env(CHILD_ENV, dir.path())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("spawn child");
    let stdout = kid.stdout.take().expect("child stdout");
    let (tx, rx) = mpsc::channel();
    let reader = std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines() {
            let Ok(line) = line else { break };
            if tx.send(line).is_err() {
                break;
            }
        }
    });
    let mut lines = Vec::new();
    while lines.len() < 400 {
        match rx.recv_timeout(Duration::from_secs(60)) {
            Ok(l) => lines.push(l),
            Err(_) => break,
        }
    }
    kid.kill().expect("SIGKILL");
    kid.wait().expect("reap");
    reader.join().expect("reader");
    lines.extend(rx.try_iter());
    assert!(lines.len() >= 400, "child wrote only {} lines", lines.len());

    // What the child was told happened. The test harness prints its own
    // lines too; only D/A/C lines that parse count.
    let events: Vec<(char, Vec<StreamId>)> = lines.iter().filter_map(|l| parse(l)).collect();
    let mut delivered = Vec::new();
    let mut acked = std::collections::BTreeSet::new();
    let mut claimed = std::collections::BTreeSet::new();
    for (tag, ids) in &events {
        match tag {
            'D' => delivered.extend(ids.iter().copied()),
            'A' => acked.extend(ids.iter().copied()),
            'C' => claimed.extend(ids.iter().copied()),
            _ => {}
        }
    }
    let s = Store::open(dir.path(), options()).expect("reopen");
    let groups = s.xinfo_groups(b"s").expect("groups");
    let max_delivered = delivered.iter().max().copied().expect("deliveries");
    assert!(
        groups[0].last_delivered_id >= max_delivered,
        "last-delivered-id went back"
    );
    let q = PendingQuery {
        start: StreamId::MIN,
        end: StreamId::MAX,
        count: i64::MAX,
        min_idle: 0,
        consumer: None,
    };
    let pending: std::collections::BTreeMap<StreamId, Vec<u8>> = s
        .xpending(b"s", b"g", &q)
        .expect("pending")
        .into_iter()
        .map(|r| (r.id, r.consumer))
        .collect();
    for id in &acked {
        assert!(!pending.contains_key(id), "acked {id} is pending again");
    }
    // Every sixth delivery (index 0 and 3 of each batch) is never acked:
    // it must be pending, owned by `b` if a printed claim moved it.
    let mut checked = 0;
    for (tag, ids) in &events {
        if *tag != 'D' {
            continue;
        }
        for (i, id) in ids.iter().enumerate() {
            if i % 3 != 0 {
                continue;
            }
            let owner = pending
                .get(id)
                .unwrap_or_else(|| panic!("delivered {id} lost"));
            if claimed.contains(id) {
                assert_eq!(owner, b"b", "claim of {id} lost");
            }
            checked += 1;
        }
    }
    assert!(checked > 100);
    assert!(!claimed.is_empty());
}
