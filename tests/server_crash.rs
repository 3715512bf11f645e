//! Crash test: a writer with `appendfsync always` records every XADD reply
//! it got; the server is killed with SIGKILL at random moments and
//! restarted, many times; every replied entry must still be there.

use std::process::Command;
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

mod server_common;

use server_common::{next, start_child_always as start};

#[tokio::test]
async fn nothing_replied_to_is_lost_across_kill_9() {
    let dir = tempfile::tempdir().unwrap();
    let mut acked: Vec<u64> = Vec::new();
    let mut rng = 0x9e37_79b9_7f4a_7c15u64;
    let mut next_seq = 1u64;
    for round in 0..12 {
        let (mut child, port) = start(dir.path());
        let mut s = TcpStream::connect(("127.0.0.1", port)).await.unwrap();
        // Everything acknowledged before must be there.
        s.write_all(b"XLEN s\r\n").await.unwrap();
        let mut buf = vec![0u8; 64];
        let n = s.read(&mut buf).await.unwrap();
        let len: u64 = std::str::from_utf8(&buf[1..n - 2])
            .unwrap()
            .parse()
            .unwrap();
        assert!(
            len >= acked.len() as u64,
            "round {round}: {len} entries, {} acknowledged",
            acked.len()
        );
        let check = format!(
            "XRANGE s {}-1 {}-1\r\n",
            acked.first().copied().unwrap_or(1),
            acked.last().copied().unwrap_or(1)
        );
        if !acked.is_empty() {
            s.write_all(check.as_bytes()).await.unwrap();
            let mut got = Vec::new();
            let want = acked.len();
            // Count entries until every acknowledged ID was seen.
            let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
            loop {
                let text = String::from_utf8_lossy(&got);
                let seen = acked
                    .iter()
                    .filter(|id| text.contains(&format!("\r\n{id}-1\r\n")))
                    .count();
                if seen == want {
                    break;
                }
                assert!(
                    tokio::time::Instant::now() < deadline,
                    "round {round}: only {seen} of {want} acknowledged entries found"
                );
                let mut chunk = vec![0u8; 65536];
                let n = s.read(&mut chunk).await.unwrap();
                assert!(n > 0);
                got.extend_from_slice(&chunk[..n]);
            }
        }
        // Write until the kill; record what was acknowledged.
        let kill_after = Duration::from_millis(20 + next(&mut rng) % 150);
        let writer = async {
            let mut mine = Vec::new();
            let mut reply = vec![0u8; 128];
            loop {
                let id = next_seq;
                next_seq += 1;
                let req = format!(
                    "*5\r\n$4\r\nXADD\r\n$1\r\ns\r\n${}\r\n{id}-1\r\n$1\r\nf\r\n$1\r\nv\r\n",
                    format!("{id}-1").len()
                );
                if s.write_all(req.as_bytes()).await.is_err() {
                    return mine;
                }
                match s.read(&mut reply).await {
                    Ok(n) if n > 0 && reply[..n].starts_with(b"$") => mine.push(id),
                    _ => return mine,
                }
            }
        };
        let killer = async {
            tokio::time::sleep(kill_after).await;
            let _ = Command::new("kill")
                .args(["-9", &child.id().to_string()])
                .status();
        };
        let (mine, ()) = tokio::join!(writer, killer);
        let _ = child.wait();
        acked.extend(mine);
    }
    assert!(acked.len() > 12, "the writer got replies ({})", acked.len());
}
