//! A real `eddy-server` restarted from a checkpoint (SIGTERM), then written
//! to and killed with SIGKILL, then restarted again: each time a stream of
//! hundreds of blocks, whose index now loads packed and decodes on first
//! use, answers every read exactly as before the restart.

use std::net::SocketAddr;
use std::process::{Child, Command};

mod server_common;

use server_common::{Raw, cmd, start_child};

const ARGS: &[&str] = &["--appendfsync", "always", "--stream-node-max-entries", "8"];

async fn start(dir: &std::path::Path) -> (Child, Raw) {
    let (child, port) = start_child(dir, ARGS);
    let raw = Raw::connect(SocketAddr::from(([127, 0, 0, 1], port))).await;
    (child, raw)
}

/// Every read whose answer must survive a restart, as raw reply bytes.
async fn observe(c: &mut Raw) -> Vec<String> {
    let reads: &[&[&str]] = &[
        &["XLEN", "s"],
        &["XRANGE", "s", "-", "+"],
        &["XREVRANGE", "s", "+", "-"],
        &["XRANGE", "s", "1500", "+", "COUNT", "7"],
        &["XREVRANGE", "s", "900", "-", "COUNT", "9"],
        &["XREAD", "COUNT", "5", "STREAMS", "s", "2000-0"],
        &["XINFO", "STREAM", "s", "FULL"],
        &["XPENDING", "s", "g"],
        // (the extended XPENDING form reports idle times, which move)
    ];
    let mut out = Vec::new();
    for r in reads {
        // Boxed: the reply reader's buffer would otherwise sit in this
        // function's (debug-build) stack frame once per await.
        let reply = Box::pin(c.call(&cmd(r), 1)).await;
        out.push(format!("{r:?} {}", String::from_utf8_lossy(&reply)));
    }
    out
}

async fn ok(c: &mut Raw, args: &[&str]) -> Vec<u8> {
    let reply = Box::pin(c.call(&cmd(args), 1)).await;
    assert_ne!(
        reply.first(),
        Some(&b'-'),
        "{args:?}: {}",
        String::from_utf8_lossy(&reply)
    );
    reply
}

/// Compares two observations read by read, naming the first that differs.
fn same(got: &[String], want: &[String], when: &str) {
    assert_eq!(got.len(), want.len());
    for (g, w) in got.iter().zip(want) {
        assert!(g == w, "{when}: {:.300}\n  differs from\n{:.300}", g, w);
    }
}

fn terminate(mut child: Child) {
    let pid = child.id().to_string();
    let status = Command::new("kill")
        .args(["-TERM", &pid])
        .status()
        .expect("kill");
    assert!(status.success());
    child.wait().expect("wait");
}

fn kill_9(mut child: Child) {
    child.kill().expect("SIGKILL");
    child.wait().expect("wait");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn lazy_index_survives_checkpoint_restart_and_kill_9() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (child, mut c) = start(dir.path()).await;
    let mut fill = Vec::new();
    for i in 1..=3000u64 {
        let id = format!("{i}-1");
        let v = (i % 7).to_string();
        fill.extend(cmd(&["XADD", "s", &id, "f", "v", "n", &v]));
    }
    c.send(&fill).await;
    Box::pin(c.read_frames(3000)).await;
    let dels: Vec<String> = (1..3000).step_by(41).map(|i| format!("{i}-1")).collect();
    let mut del = vec!["XDEL", "s"];
    del.extend(dels.iter().map(String::as_str));
    ok(&mut c, &del).await;
    ok(&mut c, &["XGROUP", "CREATE", "s", "g", "0"]).await;
    ok(
        &mut c,
        &[
            "XREADGROUP",
            "GROUP",
            "g",
            "a",
            "COUNT",
            "60",
            "STREAMS",
            "s",
            ">",
        ],
    )
    .await;
    ok(&mut c, &["XACK", "s", "g", "2-1", "3-1", "5-1"]).await;
    let before = observe(&mut c).await;
    drop(c);
    terminate(child);

    // Clean restart from the shutdown checkpoint: same answers.
    let (child, mut c) = start(dir.path()).await;
    same(&observe(&mut c).await, &before, "after a clean restart");
    // Writes after it (the first one takes over the packed index), then a
    // crash: the tail is replayed onto the checkpoint's index.
    ok(&mut c, &["XADD", "s", "3001-1", "f", "w"]).await;
    ok(&mut c, &["XDEL", "s", "2500-1", "10-1"]).await;
    ok(&mut c, &["XTRIM", "s", "MAXLEN", "2800"]).await;
    ok(
        &mut c,
        &[
            "XREADGROUP",
            "GROUP",
            "g",
            "b",
            "COUNT",
            "5",
            "STREAMS",
            "s",
            ">",
        ],
    )
    .await;
    let after = observe(&mut c).await;
    assert_ne!(after, before);
    drop(c);
    kill_9(child);
    let (child, mut c) = start(dir.path()).await;
    same(&observe(&mut c).await, &after, "after a restart");
    drop(c);
    terminate(child);

    // A restart whose checkpoint was written before anything touched the
    // index (only XLEN ran), then a crash right after a read.
    let (child, mut c) = start(dir.path()).await;
    ok(&mut c, &["XLEN", "s"]).await;
    drop(c);
    terminate(child);
    let (child, mut c) = start(dir.path()).await;
    same(&observe(&mut c).await, &after, "after a restart");
    drop(c);
    kill_9(child);
    let (child, mut c) = start(dir.path()).await;
    same(&observe(&mut c).await, &after, "after a restart");
    drop(c);
    terminate(child);
}
