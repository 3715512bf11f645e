//! Crash test for consumer groups: under `appendfsync always`, a client
//! appends, reads with XREADGROUP and acknowledges half of what it got,
//! recording every reply; the server is killed with SIGKILL at random
//! moments and restarted, many times. After each restart every delivery
//! that was replied to is still delivered (pending unless acknowledged,
//! never handed out again by `>`, last-delivered-id not behind it) and
//! every replied XACK is still in effect.

use std::collections::BTreeSet;
use std::io::Cursor;
use std::process::Command;
use std::time::Duration;

use eddy::resp::Frame;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

mod server_common;

use server_common::{next, start_child_always as start};

/// Sends one request and reads one reply; `None` if the server went away.
async fn request(s: &mut TcpStream, buf: &mut Vec<u8>, args: &[&str]) -> Option<Frame> {
    s.write_all(&Frame::command(args)).await.ok()?;
    loop {
        let mut c = Cursor::new(&buf[..]);
        if let Ok(f) = Frame::parse(&mut c) {
            let used = c.position() as usize;
            buf.drain(..used);
            return Some(f);
        }
        let mut chunk = [0u8; 4096];
        match tokio::time::timeout(Duration::from_secs(10), s.read(&mut chunk)).await {
            Ok(Ok(n)) if n > 0 => buf.extend_from_slice(&chunk[..n]),
            _ => return None,
        }
    }
}

/// The IDs `<n>-1` in a reply, as `n`.
fn ids(f: &Frame, out: &mut Vec<u64>) {
    match f {
        Frame::Bulk(b) => {
            if let Some(n) = std::str::from_utf8(b)
                .ok()
                .and_then(|t| t.strip_suffix("-1"))
                .and_then(|t| t.parse().ok())
            {
                out.push(n);
            }
        }
        Frame::Array(items) => items.iter().for_each(|i| ids(i, out)),
        _ => {}
    }
}

/// What the client saw replied.
#[derive(Default)]
struct Seen {
    delivered: BTreeSet<u64>,
    ack_sent: BTreeSet<u64>,
    acked: BTreeSet<u64>,
}

async fn check_after_restart(s: &mut TcpStream, buf: &mut Vec<u8>, seen: &Seen, round: u32) {
    for &id in &seen.delivered {
        let idt = format!("{id}-1");
        let row = request(s, buf, &["XPENDING", "s", "g", &idt, &idt, "1"])
            .await
            .expect("reply");
        let pending = matches!(&row, Frame::Array(v) if !v.is_empty());
        if seen.acked.contains(&id) {
            assert!(
                !pending,
                "round {round}: acknowledged {idt} is pending again"
            );
        } else if !seen.ack_sent.contains(&id) {
            assert!(pending, "round {round}: delivered {idt} is not pending");
        }
    }
    // `>` never hands out again what was delivered before the crash.
    let f = request(
        s,
        buf,
        &["XREADGROUP", "GROUP", "g", "probe", "STREAMS", "s", ">"],
    )
    .await
    .expect("reply");
    let mut again = Vec::new();
    ids(&f, &mut again);
    for id in again {
        assert!(
            !seen.delivered.contains(&id),
            "round {round}: {id}-1 delivered twice"
        );
    }
}

#[tokio::test]
async fn replied_deliveries_and_acks_survive_kill_9() {
    let dir = tempfile::tempdir().unwrap();
    let mut seen = Seen::default();
    let mut rng = 0x2545_f491_4f6c_dd1du64;
    let mut next_id = 1u64;
    for round in 0..10 {
        let (mut child, port) = start(dir.path());
        let mut s = TcpStream::connect(("127.0.0.1", port)).await.unwrap();
        let mut buf = Vec::new();
        if round == 0 {
            let ok = request(
                &mut s,
                &mut buf,
                &["XGROUP", "CREATE", "s", "g", "$", "MKSTREAM"],
            )
            .await;
            assert_eq!(ok, Some(Frame::Simple(b"OK".to_vec())));
        } else {
            Box::pin(check_after_restart(&mut s, &mut buf, &seen, round)).await;
        }
        let kill_after = Duration::from_millis(30 + next(&mut rng) % 200);
        let work = async {
            let ended: Option<()> = async {
                loop {
                    let id = format!("{next_id}-1");
                    next_id += 1;
                    request(&mut s, &mut buf, &["XADD", "s", &id, "f", "v"]).await?;
                    let f = request(
                        &mut s,
                        &mut buf,
                        &[
                            "XREADGROUP",
                            "GROUP",
                            "g",
                            "w",
                            "COUNT",
                            "1",
                            "STREAMS",
                            "s",
                            ">",
                        ],
                    )
                    .await?;
                    let mut got = Vec::new();
                    ids(&f, &mut got);
                    for &d in &got {
                        seen.delivered.insert(d);
                    }
                    for d in got.into_iter().filter(|d| d % 2 == 0) {
                        seen.ack_sent.insert(d);
                        let r = request(&mut s, &mut buf, &["XACK", "s", "g", &format!("{d}-1")])
                            .await?;
                        if r == Frame::Integer(1) {
                            seen.acked.insert(d);
                        }
                    }
                }
            }
            .await;
            ended
        };
        let killer = async {
            tokio::time::sleep(kill_after).await;
            let _ = Command::new("kill")
                .args(["-9", &child.id().to_string()])
                .status();
        };
        let _ = tokio::join!(Box::pin(work), killer);
        let _ = child.wait();
    }
    // One last look after the final kill.
    let (mut child, port) = start(dir.path());
    let mut s = TcpStream::connect(("127.0.0.1", port)).await.unwrap();
    let mut buf = Vec::new();
    Box::pin(check_after_restart(&mut s, &mut buf, &seen, 10)).await;
    let _ = Command::new("kill")
        .args(["-9", &child.id().to_string()])
        .status();
    let _ = child.wait();
    assert!(
        seen.delivered.len() > 10,
        "deliveries: {}",
        seen.delivered.len()
    );
    assert!(!seen.acked.is_empty());
}
