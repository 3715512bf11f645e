//! Consumer groups over the wire: blocked group readers (several per group
//! and per stream, each entry delivered once per group), the errors blocked
//! readers get when their group or key goes away, BLOCK timeouts and MULTI,
//! durability of deliveries under `appendfsync always`, the `redis` crate's
//! group API, and eddy's dead-letter and consumer-expiry settings.

mod server_common;

use std::collections::BTreeSet;
use std::time::Duration;

use redis::streams::{
    StreamAutoClaimReply, StreamClaimReply, StreamPendingCountReply, StreamPendingReply,
    StreamReadOptions, StreamReadReply,
};
use server_common::{Raw, TestServer, cmd};

/// Waits until INFO reports `n` blocked clients.
async fn wait_blocked(c: &mut Raw, n: usize) {
    for _ in 0..500 {
        let info = String::from_utf8(call(c, b"INFO clients\r\n", 1).await).unwrap();
        if info.contains(&format!("blocked_clients:{n}\r\n")) {
            return;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    panic!("never saw {n} blocked clients");
}

/// Sends a blocking request on a new connection; the reply arrives on the
/// returned channel, tagged with `tag`.
async fn blocked_reader(
    addr: std::net::SocketAddr,
    request: Vec<u8>,
    tag: &'static str,
    tx: tokio::sync::mpsc::UnboundedSender<(&'static str, Vec<u8>)>,
) -> tokio::task::JoinHandle<()> {
    let mut r = Raw::connect(addr).await;
    tokio::spawn(async move {
        r.send(&request).await;
        let reply = r.read_frames(1).await;
        let _ = tx.send((tag, reply));
    })
}

/// `Raw::call` behind a box: a test with many calls would otherwise hold
/// every call's read buffer in its own (unoptimized) stack frame.
fn call<'a>(
    c: &'a mut Raw,
    req: &'a [u8],
    n: usize,
) -> std::pin::Pin<Box<dyn std::future::Future<Output = Vec<u8>> + Send + 'a>> {
    Box::pin(c.call(req, n))
}

/// The next reply a blocked reader got.
async fn next(rx: &mut tokio::sync::mpsc::UnboundedReceiver<(&'static str, Vec<u8>)>) -> Vec<u8> {
    tokio::time::timeout(Duration::from_secs(10), rx.recv())
        .await
        .expect("a reply in time")
        .expect("a reader")
        .1
}

/// The entry IDs in a reply (bulk strings that look like `<n>-1`).
fn ids_in(reply: &[u8]) -> Vec<String> {
    String::from_utf8_lossy(reply)
        .split("\r\n")
        .filter(|l| l.ends_with("-1") && l.chars().next().is_some_and(|c| c.is_ascii_digit()))
        .map(str::to_owned)
        .collect()
}

#[tokio::test]
async fn blocked_group_readers_share_new_entries_once_per_group() {
    let server = TestServer::start(&[]).await;
    let mut admin = Raw::connect(server.addr).await;
    call(
        &mut admin,
        b"XGROUP CREATE s g $ MKSTREAM\r\nXGROUP CREATE s h $\r\n",
        2,
    )
    .await;
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
    let mut tasks = Vec::new();
    for (tag, consumer) in [("g", "c1"), ("g", "c2"), ("g", "c3")] {
        let req = cmd(&[
            "XREADGROUP",
            "GROUP",
            "g",
            consumer,
            "COUNT",
            "1",
            "BLOCK",
            "0",
            "STREAMS",
            "s",
            ">",
        ]);
        tasks.push(blocked_reader(server.addr, req, tag, tx.clone()).await);
    }
    let req = cmd(&[
        "XREADGROUP",
        "GROUP",
        "h",
        "solo",
        "BLOCK",
        "0",
        "STREAMS",
        "s",
        ">",
    ]);
    tasks.push(blocked_reader(server.addr, req, "h", tx.clone()).await);
    wait_blocked(&mut admin, 4).await;

    call(&mut admin, b"XADD s 1-1 f v\r\n", 1).await;
    let mut got_g: Vec<String> = Vec::new();
    let mut got_h: Vec<String> = Vec::new();
    for _ in 0..2 {
        let (tag, reply) = tokio::time::timeout(Duration::from_secs(10), rx.recv())
            .await
            .unwrap()
            .unwrap();
        let ids = ids_in(&reply);
        match tag {
            "g" => got_g.extend(ids),
            _ => got_h.extend(ids),
        }
    }
    assert_eq!(got_h, vec!["1-1"]);
    assert_eq!(got_g, vec!["1-1"]);
    // Two readers of g are still blocked: nobody else got 1-1.
    wait_blocked(&mut admin, 2).await;
    call(&mut admin, b"XADD s 2-1 f v\r\n", 1).await;
    call(&mut admin, b"XADD s 3-1 f v\r\n", 1).await;
    for _ in 0..2 {
        let (tag, reply) = tokio::time::timeout(Duration::from_secs(10), rx.recv())
            .await
            .unwrap()
            .unwrap();
        assert_eq!(tag, "g");
        got_g.extend(ids_in(&reply));
    }
    let distinct: BTreeSet<&String> = got_g.iter().collect();
    assert_eq!(got_g.len(), 3, "{got_g:?}");
    assert_eq!(distinct.len(), 3, "an entry was delivered twice: {got_g:?}");
    // Each g consumer owns exactly one pending entry.
    let summary = call(&mut admin, b"XPENDING s g\r\n", 1).await;
    let text = String::from_utf8_lossy(&summary);
    assert!(
        text.starts_with("*4\r\n:3\r\n$3\r\n1-1\r\n$3\r\n3-1\r\n*3\r\n"),
        "{text}"
    );
    wait_blocked(&mut admin, 0).await;
    for t in tasks {
        t.await.unwrap();
    }
    server.stop().await;
}

const NOGROUP_GONE: &[u8] =
    b"-NOGROUP the consumer group this client was blocked on no longer exists\r\n";
const KEY_GONE: &[u8] = b"-UNBLOCKED the stream key no longer exists\r\n";

/// Blocks `readers` group readers on `s`, runs `trigger`, and checks that
/// each of them got `expected` (Redis 7.0's texts).
async fn blocked_readers_answered(setup: &[u8], readers: usize, trigger: &[u8], expected: &[u8]) {
    let server = TestServer::start(&[]).await;
    let mut admin = Raw::connect(server.addr).await;
    call(&mut admin, setup, 1).await;
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel::<(&'static str, Vec<u8>)>();
    let mut tasks = Vec::new();
    for c in ["a", "b", "c"].into_iter().take(readers) {
        let req = cmd(&[
            "XREADGROUP",
            "GROUP",
            "g",
            c,
            "BLOCK",
            "0",
            "STREAMS",
            "s",
            ">",
        ]);
        tasks.push(blocked_reader(server.addr, req, c, tx.clone()).await);
    }
    wait_blocked(&mut admin, readers).await;
    admin.send(trigger).await;
    for _ in 0..readers {
        assert_eq!(next(&mut rx).await, expected);
    }
    for t in tasks {
        t.await.unwrap();
    }
    wait_blocked(&mut admin, 0).await;
    server.stop().await;
}

#[tokio::test]
async fn blocked_group_readers_get_nogroup_when_the_group_is_destroyed() {
    let setup = b"XGROUP CREATE s g $ MKSTREAM\r\n";
    Box::pin(blocked_readers_answered(
        setup,
        2,
        b"XGROUP DESTROY s g\r\n",
        NOGROUP_GONE,
    ))
    .await;
}

#[tokio::test]
async fn blocked_group_readers_are_unblocked_when_the_key_is_deleted() {
    let setup = b"XGROUP CREATE s g $ MKSTREAM\r\n";
    Box::pin(blocked_readers_answered(setup, 2, b"DEL s\r\n", KEY_GONE)).await;
    Box::pin(blocked_readers_answered(
        setup,
        1,
        b"FLUSHALL\r\n",
        KEY_GONE,
    ))
    .await;
}

#[tokio::test]
async fn blocked_group_readers_get_nogroup_when_the_key_is_replaced() {
    let setup = b"XGROUP CREATE s g $ MKSTREAM\r\n";
    let trigger = b"XADD other 1-1 f v\r\nRENAME other s\r\n";
    Box::pin(blocked_readers_answered(setup, 1, trigger, NOGROUP_GONE)).await;
}

#[tokio::test]
async fn group_block_timeouts_multi_and_resp3_shapes() {
    let server = TestServer::start(&[]).await;
    let mut c = Raw::connect(server.addr).await;
    call(&mut c, b"XGROUP CREATE s g $ MKSTREAM\r\n", 1).await;
    assert_eq!(
        call(&mut c, b"XREADGROUP GROUP g c BLOCK 30 STREAMS s >\r\n", 1).await,
        b"*-1\r\n"
    );
    assert_eq!(
        call(
            &mut c,
            b"MULTI\r\nXREADGROUP GROUP g c BLOCK 0 STREAMS s >\r\nEXEC\r\n",
            3
        )
        .await,
        b"+OK\r\n+QUEUED\r\n*1\r\n*-1\r\n"
    );
    call(&mut c, b"HELLO 3\r\n", 1).await;
    assert_eq!(
        call(&mut c, b"XREADGROUP GROUP g c BLOCK 30 STREAMS s >\r\n", 1).await,
        b"_\r\n"
    );
    // A blocked RESP3 reader gets a map; a deleted history entry is [id, null].
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
    let mut r = Raw::connect(server.addr).await;
    call(&mut r, b"HELLO 3\r\n", 1).await;
    let t = tokio::spawn(async move {
        r.send(b"XREADGROUP GROUP g c BLOCK 0 STREAMS s >\r\n")
            .await;
        let _ = tx.send(r.read_frames(1).await);
        r
    });
    wait_blocked(&mut c, 1).await;
    call(&mut c, b"XADD s 1-1 f v\r\n", 1).await;
    let reply = tokio::time::timeout(Duration::from_secs(10), rx.recv())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        reply,
        b"%1\r\n$1\r\ns\r\n*1\r\n*2\r\n$3\r\n1-1\r\n*2\r\n$1\r\nf\r\n$1\r\nv\r\n"
    );
    let mut r = t.await.unwrap();
    call(&mut c, b"XDEL s 1-1\r\n", 1).await;
    assert_eq!(
        call(&mut r, b"XREADGROUP GROUP g c STREAMS s 0\r\n", 1).await,
        b"%1\r\n$1\r\ns\r\n*1\r\n*2\r\n$3\r\n1-1\r\n_\r\n"
    );
    server.stop().await;
}

#[tokio::test]
async fn deliveries_and_acks_are_durable_before_their_replies() {
    let server = TestServer::start(&[("appendfsync", "always")]).await;
    let mut c = Raw::connect(server.addr).await;
    call(&mut c, b"XGROUP CREATE s g $ MKSTREAM\r\n", 1).await;
    let store = &server.shared.store;
    for i in 1..=30 {
        call(&mut c, &cmd(&["XADD", "s", &format!("{i}-1"), "f", "v"]), 1).await;
        let got = call(&mut c, b"XREADGROUP GROUP g c COUNT 1 STREAMS s >\r\n", 1).await;
        assert_eq!(ids_in(&got), vec![format!("{i}-1")]);
        assert!(
            store.durable_end() >= store.log_end(),
            "delivery {i} replied before it was durable"
        );
        assert_eq!(
            call(&mut c, &cmd(&["XACK", "s", "g", &format!("{i}-1")]), 1).await,
            b":1\r\n"
        );
        assert!(
            store.durable_end() >= store.log_end(),
            "ack {i} replied before it was durable"
        );
    }
    // A blocked delivery waits for durability too.
    let mut r = Raw::connect(server.addr).await;
    r.send(b"XREADGROUP GROUP g c BLOCK 0 STREAMS s >\r\n")
        .await;
    wait_blocked(&mut c, 1).await;
    call(&mut c, b"XADD s 99-1 f v\r\n", 1).await;
    assert_eq!(ids_in(&r.read_frames(1).await), vec!["99-1"]);
    assert!(store.durable_end() >= store.log_end());
    server.stop().await;
}

#[tokio::test]
async fn redis_crate_group_api() {
    let server = TestServer::start(&[]).await;
    let client = redis::Client::open(server.url().as_str()).unwrap();
    let mut con = client.get_multiplexed_async_connection().await.unwrap();
    use redis::AsyncCommands;
    let () = con
        .xgroup_create_mkstream("jobs", "workers", "$")
        .await
        .unwrap();
    for i in 1..=5 {
        let _: String = con
            .xadd("jobs", format!("{i}-1"), &[("n", i)])
            .await
            .unwrap();
    }
    let opts = StreamReadOptions::default().group("workers", "w1").count(3);
    let read: StreamReadReply = con.xread_options(&["jobs"], &[">"], &opts).await.unwrap();
    assert_eq!(read.keys.len(), 1);
    let ids: Vec<&str> = read.keys[0].ids.iter().map(|e| e.id.as_str()).collect();
    assert_eq!(ids, ["1-1", "2-1", "3-1"]);
    let acked: usize = con.xack("jobs", "workers", &["1-1"]).await.unwrap();
    assert_eq!(acked, 1);
    let StreamPendingReply::Data(p) = con.xpending("jobs", "workers").await.unwrap() else {
        panic!("pending entries expected");
    };
    assert_eq!(
        (p.count, p.start_id.as_str(), p.end_id.as_str()),
        (2, "2-1", "3-1")
    );
    let rows: StreamPendingCountReply = con
        .xpending_count("jobs", "workers", "-", "+", 10)
        .await
        .unwrap();
    assert_eq!(rows.ids.len(), 2);
    assert_eq!(rows.ids[0].consumer, "w1");
    let claimed: StreamClaimReply = con
        .xclaim("jobs", "workers", "w2", 0, &["2-1"])
        .await
        .unwrap();
    assert_eq!(claimed.ids[0].id, "2-1");
    let auto: StreamAutoClaimReply = redis::cmd("XAUTOCLAIM")
        .arg(&["jobs", "workers", "w3", "0", "0", "COUNT", "10"])
        .query_async(&mut con)
        .await
        .unwrap();
    assert_eq!(auto.claimed.len(), 2);
    let groups: Vec<std::collections::HashMap<String, redis::Value>> = redis::cmd("XINFO")
        .arg(&["GROUPS", "jobs"])
        .query_async(&mut con)
        .await
        .unwrap();
    assert_eq!(groups[0].get("pending"), Some(&redis::Value::Int(2)));
    assert_eq!(groups[0].get("lag"), Some(&redis::Value::Int(2)));
    let err = redis::cmd("XREADGROUP")
        .arg(&["GROUP", "nope", "c", "STREAMS", "jobs", ">"])
        .query_async::<redis::Value>(&mut con)
        .await
        .unwrap_err();
    assert_eq!(err.code(), Some("NOGROUP"));
    server.stop().await;
}

#[tokio::test]
async fn dead_letter_policy_over_the_wire() {
    let server = TestServer::start(&[]).await;
    let mut c = Raw::connect(server.addr).await;
    call(&mut c, b"XADD s 1-1 f v\r\nXGROUP CREATE s g 0\r\n", 2).await;
    assert_eq!(
        call(&mut c, b"XGROUP GETPOLICY s g\r\n", 1).await,
        b"*6\r\n$18\r\ndead-letter-stream\r\n$-1\r\n$14\r\nmax-deliveries\r\n$-1\r\n$16\r\nconsumer-idle-ms\r\n$-1\r\n"
    );
    assert_eq!(
        call(
            &mut c,
            b"XGROUP SETPOLICY s g DEADLETTER dl MAXDELIVERIES 2\r\n",
            1
        )
        .await,
        b"+OK\r\n"
    );
    assert_eq!(
        call(
            &mut c,
            b"XGROUP SETPOLICY s g DEADLETTER s MAXDELIVERIES 2\r\n",
            1
        )
        .await,
        b"-ERR the dead-letter stream must differ from the group's stream\r\n"
    );
    assert_eq!(
        call(
            &mut c,
            b"XGROUP SETPOLICY s g DEADLETTER dl MAXDELIVERIES 0\r\n",
            1
        )
        .await,
        b"-ERR MAXDELIVERIES must be a positive integer\r\n"
    );
    assert_eq!(
        call(&mut c, b"XGROUP SETPOLICY s g FOO\r\n", 1).await,
        b"-ERR syntax error\r\n"
    );
    assert_eq!(
        call(&mut c, b"XGROUP SETPOLICY s nog NODEADLETTER\r\n", 1).await,
        b"-NOGROUP No such consumer group 'nog' for key name 's'\r\n"
    );
    call(&mut c, b"XGROUP SETPOLICY s g CONSUMERIDLE 60000\r\n", 1).await;
    assert_eq!(
        call(&mut c, b"XGROUP GETPOLICY s g\r\n", 1).await,
        b"*6\r\n$18\r\ndead-letter-stream\r\n$2\r\ndl\r\n$14\r\nmax-deliveries\r\n:2\r\n$16\r\nconsumer-idle-ms\r\n:60000\r\n"
    );
    // A reader blocked on the dead-letter stream is woken by the move.
    let mut watcher = Raw::connect(server.addr).await;
    watcher.send(b"XREAD BLOCK 0 STREAMS dl $\r\n").await;
    wait_blocked(&mut c, 1).await;
    // Delivery 1 (`>`), delivery 2 (claim), then the next claim moves it.
    call(&mut c, b"XREADGROUP GROUP g a STREAMS s >\r\n", 1).await;
    call(&mut c, b"XCLAIM s g b 0 1-1\r\n", 1).await;
    call(&mut c, b"XCLAIM s g b 0 1-1\r\n", 1).await;
    let moved = String::from_utf8(watcher.read_frames(1).await).unwrap();
    for part in [
        "dl-stream",
        "dl-group",
        "dl-consumer",
        "dl-id",
        "1-1",
        "dl-deliveries",
    ] {
        assert!(moved.contains(part), "{part} missing from {moved:?}");
    }
    assert_eq!(
        call(&mut c, b"XPENDING s g\r\n", 1).await,
        b"*4\r\n:0\r\n$-1\r\n$-1\r\n*-1\r\n"
    );
    assert_eq!(call(&mut c, b"XLEN dl\r\n", 1).await, b":1\r\n");
    call(
        &mut c,
        b"XGROUP SETPOLICY s g NODEADLETTER NOCONSUMERIDLE\r\n",
        1,
    )
    .await;
    assert_eq!(
        call(&mut c, b"XGROUP GETPOLICY s g\r\n", 1).await,
        b"*6\r\n$18\r\ndead-letter-stream\r\n$-1\r\n$14\r\nmax-deliveries\r\n$-1\r\n$16\r\nconsumer-idle-ms\r\n$-1\r\n"
    );
    server.stop().await;
}

#[tokio::test]
async fn consumer_expiry_hands_pending_entries_back() {
    let server = TestServer::start(&[]).await;
    let mut c = Raw::connect(server.addr).await;
    call(
        &mut c,
        b"XADD s 1-1 f v\r\nXADD s 2-1 f v\r\nXGROUP CREATE s g 0\r\n",
        3,
    )
    .await;
    call(&mut c, b"XREADGROUP GROUP g a COUNT 1 STREAMS s >\r\n", 1).await;
    call(&mut c, b"XREADGROUP GROUP g b STREAMS s >\r\n", 1).await;
    // By hand: b's entry goes back to the group, owned by nobody.
    assert_eq!(
        call(&mut c, b"XGROUP EXPIRECONSUMER s g b\r\n", 1).await,
        b":1\r\n"
    );
    assert_eq!(
        call(&mut c, b"XGROUP EXPIRECONSUMER s g zz\r\n", 1).await,
        b":0\r\n"
    );
    assert_eq!(
        call(&mut c, b"XPENDING s g\r\n", 1).await,
        b"*4\r\n:2\r\n$3\r\n1-1\r\n$3\r\n2-1\r\n*2\r\n*2\r\n$0\r\n\r\n$1\r\n1\r\n*2\r\n$1\r\na\r\n$1\r\n1\r\n"
    );
    // By the idle setting: the server's expiry task releases a's entry.
    call(&mut c, b"XGROUP SETPOLICY s g CONSUMERIDLE 50\r\n", 1).await;
    let mut released = false;
    for _ in 0..300 {
        let summary = call(&mut c, b"XPENDING s g\r\n", 1).await;
        if summary.ends_with(b"*1\r\n*2\r\n$0\r\n\r\n$1\r\n2\r\n") {
            released = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert!(released, "idle consumer was not expired");
    // Whoever claims next gets both, whatever its min-idle-time.
    let got = call(&mut c, b"XAUTOCLAIM s g z 999999999 0 JUSTID\r\n", 1).await;
    assert_eq!(
        got,
        b"*3\r\n$3\r\n0-0\r\n*2\r\n$3\r\n1-1\r\n$3\r\n2-1\r\n*0\r\n"
    );
    server.stop().await;
}

#[tokio::test]
async fn reference_policies_over_the_wire() {
    let server = TestServer::start(&[]).await;
    let mut c = Raw::connect(server.addr).await;
    call(
        &mut c,
        b"XADD s 1-1 f v\r\nXADD s 2-1 f v\r\nXADD s 3-1 f v\r\nXGROUP CREATE s g 0\r\n",
        4,
    )
    .await;
    call(&mut c, b"XREADGROUP GROUP g c COUNT 2 STREAMS s >\r\n", 1).await;
    // ACKED: 1-1 and 2-1 are pending, 3-1 was never read.
    assert_eq!(
        call(&mut c, b"XDELEX s ACKED IDS 3 1-1 3-1 9-9\r\n", 1).await,
        b"*3\r\n:2\r\n:2\r\n:-1\r\n"
    );
    assert_eq!(
        call(&mut c, b"XACKDEL s g ACKED IDS 1 1-1\r\n", 1).await,
        b"*1\r\n:1\r\n"
    );
    // DELREF removes the pending reference with the entry.
    assert_eq!(
        call(&mut c, b"XDELEX s DELREF IDS 1 2-1\r\n", 1).await,
        b"*1\r\n:1\r\n"
    );
    assert_eq!(
        call(&mut c, b"XPENDING s g\r\n", 1).await,
        b"*4\r\n:0\r\n$-1\r\n$-1\r\n*-1\r\n"
    );
    assert_eq!(
        call(&mut c, b"XDELEX s IDS 2 3-1\r\n", 1).await,
        b"-ERR The `numids` parameter must match the number of arguments\r\n"
    );
    assert_eq!(
        call(&mut c, b"XDELEX s IDS 0 3-1\r\n", 1).await,
        b"-ERR Number of IDs must be a positive integer\r\n"
    );
    assert_eq!(
        call(&mut c, b"XACKDEL s g FOO IDS 1 3-1\r\n", 1).await,
        b"-ERR syntax error\r\n"
    );
    // XTRIM ... ACKED keeps what the group has not read; XADD DELREF trims.
    assert_eq!(
        call(&mut c, b"XTRIM s MAXLEN 0 ACKED\r\n", 1).await,
        b":0\r\n"
    );
    call(&mut c, b"XREADGROUP GROUP g c STREAMS s >\r\n", 1).await;
    assert_eq!(
        call(&mut c, b"XADD s DELREF MAXLEN 1 4-1 f v\r\n", 1).await,
        b"$3\r\n4-1\r\n"
    );
    assert_eq!(call(&mut c, b"XLEN s\r\n", 1).await, b":1\r\n");
    assert_eq!(
        call(&mut c, b"XPENDING s g\r\n", 1).await,
        b"*4\r\n:0\r\n$-1\r\n$-1\r\n*-1\r\n"
    );
    server.stop().await;
}

/// Replaces every integer reply that looks like a time (more than 6 digits)
/// or an idle time with `:T`, so shapes can be compared exactly.
fn mask_times(reply: &[u8], idle_names: &[&str]) -> String {
    let text = String::from_utf8_lossy(reply).into_owned();
    let mut out = Vec::new();
    let mut mask_next = false;
    for line in text.split("\r\n") {
        let is_int = line.starts_with(':') && line[1..].parse::<i64>().is_ok();
        if is_int && (mask_next || line.len() > 7) {
            out.push(":T".to_owned());
        } else {
            out.push(line.to_owned());
        }
        mask_next = idle_names.contains(&line);
    }
    out.join("|")
}

#[tokio::test]
async fn xinfo_shapes_with_groups() {
    let server = TestServer::start(&[]).await;
    let mut c = Raw::connect(server.addr).await;
    call(
        &mut c,
        b"XADD s 1-1 a 1\r\nXGROUP CREATE s g 0\r\nXREADGROUP GROUP g alice STREAMS s >\r\n",
        3,
    )
    .await;
    let consumers = call(&mut c, b"XINFO CONSUMERS s g\r\n", 1).await;
    assert_eq!(
        mask_times(&consumers, &["idle", "inactive"]),
        "*1|*8|$4|name|$5|alice|$7|pending|:1|$4|idle|:T|$8|inactive|:T|"
    );
    let full = call(&mut c, b"XINFO STREAM s FULL\r\n", 1).await;
    let masked = mask_times(&full, &[]);
    let groups = masked.split("$6|groups|").nth(1).expect("groups field");
    assert_eq!(
        groups,
        "*1|*14|$4|name|$1|g|$17|last-delivered-id|$3|1-1|$12|entries-read|:1|$3|lag|:0|\
         $9|pel-count|:1|$7|pending|*1|*4|$3|1-1|$5|alice|:T|:1|\
         $9|consumers|*1|*10|$4|name|$5|alice|$9|seen-time|:T|$11|active-time|:T|\
         $9|pel-count|:1|$7|pending|*1|*3|$3|1-1|:T|:1|"
    );
    let short = call(&mut c, b"XINFO STREAM s\r\n", 1).await;
    assert!(String::from_utf8_lossy(&short).contains("$6\r\ngroups\r\n:1\r\n"));
    // RESP3: maps.
    call(&mut c, b"HELLO 3\r\n", 1).await;
    let groups = call(&mut c, b"XINFO GROUPS s\r\n", 1).await;
    assert_eq!(
        groups,
        b"*1\r\n%6\r\n$4\r\nname\r\n$1\r\ng\r\n$9\r\nconsumers\r\n:1\r\n$7\r\npending\r\n:1\r\n$17\r\nlast-delivered-id\r\n$3\r\n1-1\r\n$12\r\nentries-read\r\n:1\r\n$3\r\nlag\r\n:0\r\n"
    );
    server.stop().await;
}

#[tokio::test]
async fn many_group_readers_under_load_get_each_entry_once_per_group() {
    use std::sync::Arc;
    use std::sync::atomic::{AtomicBool, Ordering};
    const ENTRIES: usize = 200;
    let server = TestServer::start(&[]).await;
    let mut admin = Raw::connect(server.addr).await;
    call(
        &mut admin,
        b"XGROUP CREATE s g1 $ MKSTREAM\r\nXGROUP CREATE s g2 $\r\n",
        2,
    )
    .await;
    let done = Arc::new(AtomicBool::new(false));
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel::<(usize, Vec<String>)>();
    let mut readers = Vec::new();
    for r in 0..12 {
        let group = 1 + r % 2;
        let (addr, done, tx) = (server.addr, Arc::clone(&done), tx.clone());
        readers.push(tokio::spawn(async move {
            let mut c = Raw::connect(addr).await;
            let (g, name) = (format!("g{group}"), format!("c{r}"));
            loop {
                let req = cmd(&[
                    "XREADGROUP",
                    "GROUP",
                    &g,
                    &name,
                    "COUNT",
                    "3",
                    "BLOCK",
                    "100",
                    "STREAMS",
                    "s",
                    ">",
                ]);
                let reply = call(&mut c, &req, 1).await;
                if reply == b"*-1\r\n" {
                    if done.load(Ordering::SeqCst) {
                        return;
                    }
                    continue;
                }
                let ids: Vec<String> = String::from_utf8_lossy(&reply)
                    .split("\r\n")
                    .filter(|l| l.ends_with("-0") || l.ends_with("-1"))
                    .filter(|l| l.chars().next().is_some_and(|ch| ch.is_ascii_digit()))
                    .map(str::to_owned)
                    .collect();
                let mut ack = vec!["XACK", "s", g.as_str()];
                ack.extend(ids.iter().map(String::as_str));
                assert_eq!(
                    call(&mut c, &cmd(&ack), 1).await,
                    format!(":{}\r\n", ids.len()).into_bytes()
                );
                let _ = tx.send((group, ids));
            }
        }));
    }
    drop(tx);
    wait_blocked(&mut admin, 12).await;
    let mut writer = Raw::connect(server.addr).await;
    let mut batch = Vec::new();
    for i in 1..=ENTRIES {
        batch.extend(cmd(&["XADD", "s", &format!("{i}-1"), "f", "v"]));
    }
    call(&mut writer, &batch, ENTRIES).await;
    let mut per_group = [Vec::new(), Vec::new()];
    while per_group[0].len() < ENTRIES || per_group[1].len() < ENTRIES {
        let (g, ids) = tokio::time::timeout(Duration::from_secs(20), rx.recv())
            .await
            .expect("deliveries in time")
            .expect("readers alive");
        per_group[g - 1].extend(ids);
    }
    done.store(true, Ordering::SeqCst);
    for r in readers {
        r.await.unwrap();
    }
    for ids in &per_group {
        let distinct: BTreeSet<&String> = ids.iter().collect();
        assert_eq!(ids.len(), ENTRIES, "each entry once per group");
        assert_eq!(distinct.len(), ENTRIES);
    }
    for g in ["g1", "g2"] {
        assert_eq!(
            call(&mut admin, &cmd(&["XPENDING", "s", g]), 1).await,
            b"*4\r\n:0\r\n$-1\r\n$-1\r\n*-1\r\n"
        );
    }
    server.stop().await;
}
