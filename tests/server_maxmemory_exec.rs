//! MULTI/EXEC under maxmemory with `noeviction`, over RESP on an in-process
//! server (127.0.0.1, port 0): a transaction that queued XADD while under
//! the cap is refused at EXEC once memory went over (EXECABORT naming the
//! OOM error, transaction discarded, nothing written); queueing is refused
//! while over; DISCARD, an empty EXEC and a read-only EXEC still run. The
//! same two-client exchange is replayed on a real redis-server when one is
//! installed and the reply bytes must match.

use std::net::SocketAddr;

mod server_common;
use server_common::{Raw, TestServer, cmd, start_redis};

const OOM: &str = "-OOM command not allowed when used memory > 'maxmemory'.\r\n";

/// Client `a` runs the transaction, client `b` moves the cap.
#[derive(Clone, Copy)]
enum Who {
    A,
    B,
}

/// The exchange: (client, command, expected reply bytes).
fn exchange() -> Vec<(Who, &'static str, String)> {
    use Who::{A, B};
    let oom_abort = "-EXECABORT Transaction discarded because of: OOM command not allowed when used memory > 'maxmemory'.\r\n";
    let prev = "-EXECABORT Transaction discarded because of previous errors.\r\n";
    [
        (B, "XADD s 1-1 a 1", "$3\r\n1-1\r\n"),
        (A, "MULTI", "+OK\r\n"),
        (A, "XADD s 2-1 b 2", "+QUEUED\r\n"),
        (A, "XLEN s", "+QUEUED\r\n"),
        (B, "CONFIG SET maxmemory 1", "+OK\r\n"),
        // The queue holds a command that grows memory: EXEC is refused and
        // the transaction is gone.
        (A, "EXEC", oom_abort),
        (A, "EXEC", "-ERR EXEC without MULTI\r\n"),
        (B, "XLEN s", ":1\r\n"),
        // While over, queueing anything is refused, which dooms the EXEC.
        (A, "MULTI", "+OK\r\n"),
        (A, "XLEN s", OOM),
        (A, "EXEC", prev),
        // DISCARD and an empty EXEC are never refused.
        (A, "MULTI", "+OK\r\n"),
        (A, "DISCARD", "+OK\r\n"),
        (A, "MULTI", "+OK\r\n"),
        (A, "EXEC", "*0\r\n"),
        // A read-only queue runs even when memory went over meanwhile.
        (B, "CONFIG SET maxmemory 0", "+OK\r\n"),
        (A, "MULTI", "+OK\r\n"),
        (A, "XLEN s", "+QUEUED\r\n"),
        (A, "XRANGE s - + COUNT 1", "+QUEUED\r\n"),
        (B, "CONFIG SET maxmemory 1", "+OK\r\n"),
        (
            A,
            "EXEC",
            "*2\r\n:1\r\n*1\r\n*2\r\n$3\r\n1-1\r\n*2\r\n$1\r\na\r\n$1\r\n1\r\n",
        ),
        // Any refused EXEC discards the transaction, as Redis's
        // execCommandAbort does.
        (B, "CONFIG SET maxmemory 0", "+OK\r\n"),
        (A, "MULTI", "+OK\r\n"),
        (A, "XADD s 3-1 c 3", "+QUEUED\r\n"),
        (
            A,
            "EXEC extra",
            "-EXECABORT Transaction discarded because of: wrong number of arguments for 'exec' command\r\n",
        ),
        (A, "PING", "+PONG\r\n"),
        (B, "XLEN s", ":1\r\n"),
        // Once under the cap again the same transaction commits.
        (A, "MULTI", "+OK\r\n"),
        (A, "XADD s 2-1 b 2", "+QUEUED\r\n"),
        (A, "EXEC", "*1\r\n$3\r\n2-1\r\n"),
    ]
    .into_iter()
    .map(|(w, c, r)| (w, c, r.to_string()))
    .collect()
}

/// Runs the exchange against `addr` and returns every reply, in order.
async fn run(addr: SocketAddr) -> Vec<String> {
    let mut a = Raw::connect(addr).await;
    let mut b = Raw::connect(addr).await;
    let mut out = Vec::new();
    for (who, line, _) in exchange() {
        let args: Vec<&str> = line.split(' ').collect();
        let c = match who {
            Who::A => &mut a,
            Who::B => &mut b,
        };
        let reply = c.call(&cmd(&args), 1).await;
        out.push(String::from_utf8_lossy(&reply).into_owned());
    }
    out
}

/// `rejected_calls` of one command in INFO commandstats.
async fn rejected(addr: SocketAddr, command: &str) -> String {
    let mut c = Raw::connect(addr).await;
    let info = c.call(&cmd(&["INFO", "commandstats"]), 1).await;
    let info = String::from_utf8_lossy(&info).into_owned();
    let prefix = format!("cmdstat_{command}:");
    info.lines()
        .find_map(|l| l.strip_prefix(prefix.as_str()))
        .and_then(|l| l.split(',').find_map(|f| f.strip_prefix("rejected_calls=")))
        .unwrap_or("none")
        .to_string()
}

#[tokio::test]
async fn exec_is_refused_when_its_queue_may_grow_memory_over_the_cap() {
    let srv = TestServer::start(&[("maxmemory-policy", "noeviction")]).await;
    let got = run(srv.addr).await;
    for ((_, line, want), got) in exchange().iter().zip(&got) {
        assert_eq!(got, want, "reply to {line}");
    }
    // EXEC was refused twice (OOM, arity), XLEN once while queueing.
    assert_eq!(rejected(srv.addr, "exec").await, "2");
    assert_eq!(rejected(srv.addr, "xlen").await, "1");
    srv.stop().await;
}

#[tokio::test]
async fn exec_under_maxmemory_matches_redis_server() {
    let Some(redis) = start_redis(&["--maxmemory-policy", "noeviction"]).await else {
        return;
    };
    let raddr: SocketAddr = ([127, 0, 0, 1], redis.port).into();
    let want = run(raddr).await;
    let srv = TestServer::start(&[("maxmemory-policy", "noeviction")]).await;
    let got = run(srv.addr).await;
    for (((_, line, _), w), g) in exchange().iter().zip(&want).zip(&got) {
        assert_eq!(g, w, "reply to {line}: eddy vs redis-server");
    }
    for c in ["exec", "xlen"] {
        assert_eq!(rejected(srv.addr, c).await, rejected(raddr, c).await, "{c}");
    }
    srv.stop().await;
}
