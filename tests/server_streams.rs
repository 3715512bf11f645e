//! Streams over the wire: blocking reads (fan-out, `$`, timeouts, BLOCK 0,
//! MULTI, pipelining behind a blocked read, INFO blocked_clients), the
//! `redis` crate's stream API, and durability under `appendfsync always`.

mod server_common;

use std::time::Duration;

use redis::streams::{StreamRangeReply, StreamReadOptions, StreamReadReply};
use server_common::{Raw, TestServer, cmd};

/// Waits until INFO reports `n` blocked clients.
async fn wait_blocked(c: &mut Raw, n: usize) {
    for _ in 0..500 {
        let info = String::from_utf8(c.call(b"INFO clients\r\n", 1).await).unwrap();
        if info.contains(&format!("blocked_clients:{n}\r\n")) {
            return;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    panic!("never saw {n} blocked clients");
}

#[tokio::test]
async fn every_blocked_reader_gets_the_new_entry() {
    let server = TestServer::start(&[]).await;
    let mut admin = Raw::connect(server.addr).await;
    admin.call(b"XADD s 1-1 old x\r\n", 1).await;
    let mut readers = Vec::new();
    for _ in 0..3 {
        let mut r = Raw::connect(server.addr).await;
        // `$` is fixed when the reader blocks: the old entry is not returned.
        r.send(b"XREAD BLOCK 0 STREAMS s $\r\n").await;
        readers.push(r);
    }
    wait_blocked(&mut admin, 3).await;
    assert_eq!(
        admin.call(b"XADD s 2-1 new y\r\n", 1).await,
        b"$3\r\n2-1\r\n"
    );
    let expected =
        b"*1\r\n*2\r\n$1\r\ns\r\n*1\r\n*2\r\n$3\r\n2-1\r\n*2\r\n$3\r\nnew\r\n$1\r\ny\r\n";
    for r in &mut readers {
        assert_eq!(r.read_frames(1).await, expected);
    }
    wait_blocked(&mut admin, 0).await;
    server.stop().await;
}

#[tokio::test]
async fn block_times_out_with_a_null_reply() {
    let server = TestServer::start(&[]).await;
    let mut c = Raw::connect(server.addr).await;
    assert_eq!(
        c.call(b"XREAD BLOCK 50 STREAMS s $\r\n", 1).await,
        b"*-1\r\n"
    );
    c.call(b"HELLO 3\r\n", 1).await;
    assert_eq!(c.call(b"XREAD BLOCK 50 STREAMS s 0\r\n", 1).await, b"_\r\n");
    server.stop().await;
}

#[tokio::test]
async fn block_in_multi_returns_at_once() {
    let server = TestServer::start(&[]).await;
    let mut c = Raw::connect(server.addr).await;
    assert_eq!(
        c.call(b"MULTI\r\nXREAD BLOCK 0 STREAMS s $\r\nEXEC\r\n", 3)
            .await,
        b"+OK\r\n+QUEUED\r\n*1\r\n*-1\r\n"
    );
    server.stop().await;
}

#[tokio::test]
async fn pipelined_requests_wait_behind_a_blocked_read() {
    let server = TestServer::start(&[]).await;
    let mut c = Raw::connect(server.addr).await;
    c.send(b"PING\r\nXREAD BLOCK 0 STREAMS a b $ $\r\nECHO after\r\n")
        .await;
    assert_eq!(c.read_frames(1).await, b"+PONG\r\n");
    let mut admin = Raw::connect(server.addr).await;
    wait_blocked(&mut admin, 1).await;
    // A write to the second stream wakes the reader; then ECHO runs.
    admin.call(b"XADD b 5-5 k v\r\n", 1).await;
    assert_eq!(
        c.read_frames(2).await,
        b"*1\r\n*2\r\n$1\r\nb\r\n*1\r\n*2\r\n$3\r\n5-5\r\n*2\r\n$1\r\nk\r\n$1\r\nv\r\n$5\r\nafter\r\n"
    );
    server.stop().await;
}

#[tokio::test]
async fn a_reader_that_disconnects_is_no_longer_blocked() {
    let server = TestServer::start(&[]).await;
    let mut admin = Raw::connect(server.addr).await;
    let mut r = Raw::connect(server.addr).await;
    r.send(b"XREAD BLOCK 0 STREAMS s $\r\n").await;
    wait_blocked(&mut admin, 1).await;
    drop(r);
    wait_blocked(&mut admin, 0).await;
    server.stop().await;
}

#[tokio::test]
async fn shutdown_releases_blocked_readers() {
    let server = TestServer::start(&[]).await;
    let mut admin = Raw::connect(server.addr).await;
    let mut r = Raw::connect(server.addr).await;
    r.send(b"XREAD BLOCK 0 STREAMS s $\r\n").await;
    wait_blocked(&mut admin, 1).await;
    let shared = server.shared.clone();
    shared.request_shutdown();
    assert_eq!(r.read_to_close().await, b"");
    server.wait_stopped().await;
}

#[tokio::test]
async fn redis_crate_stream_api() {
    let server = TestServer::start(&[]).await;
    for url in [server.url(), format!("{}?protocol=resp3", server.url())] {
        let client = redis::Client::open(url.as_str()).unwrap();
        let mut con = client.get_multiplexed_async_connection().await.unwrap();
        let _: () = redis::cmd("FLUSHALL").query_async(&mut con).await.unwrap();
        let id: String = redis::cmd("XADD")
            .arg("orders")
            .arg("*")
            .arg("sku")
            .arg("42")
            .query_async(&mut con)
            .await
            .unwrap();
        let range: StreamRangeReply = redis::cmd("XRANGE")
            .arg("orders")
            .arg("-")
            .arg("+")
            .query_async(&mut con)
            .await
            .unwrap();
        assert_eq!(range.ids.len(), 1);
        assert_eq!(range.ids[0].id, id);
        let opts = StreamReadOptions::default().count(10);
        let read: StreamReadReply =
            redis::AsyncCommands::xread_options(&mut con, &["orders"], &["0"], &opts)
                .await
                .unwrap();
        assert_eq!(read.keys.len(), 1);
        assert_eq!(read.keys[0].key, "orders");
        let len: usize = redis::cmd("XLEN")
            .arg("orders")
            .query_async(&mut con)
            .await
            .unwrap();
        assert_eq!(len, 1);
        let info: std::collections::HashMap<String, redis::Value> = redis::cmd("XINFO")
            .arg("STREAM")
            .arg("orders")
            .query_async(&mut con)
            .await
            .unwrap();
        assert_eq!(info.get("length"), Some(&redis::Value::Int(1)));
        let err = redis::cmd("XADD")
            .arg("orders")
            .arg("1-1")
            .arg("a")
            .arg("b")
            .query_async::<String>(&mut con)
            .await
            .unwrap_err();
        assert!(
            err.to_string()
                .contains("equal or smaller than the target stream top item"),
            "{err}"
        );
    }
    server.stop().await;
}

#[tokio::test]
async fn expected_version_and_idempotent_appends() {
    let server = TestServer::start(&[]).await;
    let mut c = Raw::connect(server.addr).await;
    assert_eq!(
        c.call(
            &cmd(&["XADD", "acct", "IFLAST", "NOSTREAM", "1-1", "e", "opened"]),
            1
        )
        .await,
        b"$3\r\n1-1\r\n"
    );
    assert_eq!(
        c.call(
            &cmd(&["XADD", "acct", "IFLAST", "1-1", "2-1", "e", "deposit"]),
            1
        )
        .await,
        b"$3\r\n2-1\r\n"
    );
    let stale = c
        .call(
            &cmd(&["XADD", "acct", "IFLAST", "1-1", "3-1", "e", "late"]),
            1,
        )
        .await;
    assert!(
        stale.starts_with(b"-VERSIONCONFLICT"),
        "{}",
        String::from_utf8_lossy(&stale)
    );
    let first = c
        .call(
            &cmd(&["XADD", "acct", "IDMP", "producer-1", "msg-7", "*", "e", "x"]),
            1,
        )
        .await;
    let again = c
        .call(
            &cmd(&["XADD", "acct", "IDMP", "producer-1", "msg-7", "*", "e", "x"]),
            1,
        )
        .await;
    assert_eq!(first, again, "a duplicate gets the original ID");
    assert_eq!(c.call(b"XLEN acct\r\n", 1).await, b":3\r\n");
    server.stop().await;
}

#[tokio::test]
async fn appendfsync_always_replies_only_after_the_log_is_durable() {
    let server = TestServer::start(&[("appendfsync", "always")]).await;
    let mut c = Raw::connect(server.addr).await;
    for i in 1..=50 {
        let reply = c
            .call(&cmd(&["XADD", "s", &format!("{i}-1"), "f", "v"]), 1)
            .await;
        assert_eq!(
            reply,
            format!("${}\r\n{i}-1\r\n", 2 + i.to_string().len()).into_bytes()
        );
        // Nothing else writes: the whole log must be durable once the reply is here.
        let store = &server.shared.store;
        assert!(
            store.durable_end() >= store.log_end(),
            "reply {i} left before its record was durable"
        );
    }
    // Pipelined writes from several clients share syncs and all get replies.
    let mut handles = Vec::new();
    for k in 0..4 {
        let addr = server.addr;
        handles.push(tokio::spawn(async move {
            let mut c = Raw::connect(addr).await;
            let mut batch = Vec::new();
            for i in 1..=100 {
                batch.extend(cmd(&[
                    "XADD",
                    &format!("k{k}"),
                    &format!("{i}-1"),
                    "f",
                    "v",
                ]));
            }
            c.call(&batch, 100).await
        }));
    }
    for h in handles {
        let replies = h.await.unwrap();
        assert!(replies.ends_with(b"$5\r\n100-1\r\n"));
    }
    let store = &server.shared.store;
    assert!(store.durable_end() >= store.log_end());
    server.stop().await;
}

#[tokio::test]
async fn data_survives_a_restart() {
    let dir = tempfile::tempdir().unwrap();
    let dir_s = dir.path().display().to_string();
    for round in 0..2 {
        let server = TestServer::start(&[("dir", &dir_s)]).await;
        let mut c = Raw::connect(server.addr).await;
        if round == 0 {
            c.call(
                b"XADD s 1-1 a 1\r\nXADD s 2-1 b 2\r\nXADD t 1-1 c 3\r\nDEL t\r\n",
                4,
            )
            .await;
        } else {
            assert_eq!(c.call(b"XLEN s\r\nEXISTS t\r\n", 2).await, b":2\r\n:0\r\n");
            let info = String::from_utf8(c.call(b"INFO keyspace\r\n", 1).await).unwrap();
            assert!(info.contains("db0:keys=1,expires=0,avg_ttl=0"), "{info}");
        }
        server.stop().await;
    }
}

#[tokio::test]
async fn a_write_to_another_stream_does_not_answer_a_blocked_reader() {
    let server = TestServer::start(&[]).await;
    let mut admin = Raw::connect(server.addr).await;
    let mut r = Raw::connect(server.addr).await;
    r.send(b"XREAD BLOCK 0 STREAMS a $\r\n").await;
    wait_blocked(&mut admin, 1).await;
    admin.call(b"XADD b 1-1 x 1\r\n", 1).await;
    let list = String::from_utf8(admin.call(b"CLIENT LIST\r\n", 1).await).unwrap();
    assert!(
        list.contains("flags=b "),
        "the reader is still blocked: {list}"
    );
    admin.call(b"XADD a 7-7 y 2\r\n", 1).await;
    assert_eq!(
        r.read_frames(1).await,
        b"*1\r\n*2\r\n$1\r\na\r\n*1\r\n*2\r\n$3\r\n7-7\r\n*2\r\n$1\r\ny\r\n$1\r\n2\r\n"
    );
    server.stop().await;
}

#[tokio::test]
async fn rename_onto_a_watched_key_wakes_its_readers() {
    let server = TestServer::start(&[]).await;
    let mut admin = Raw::connect(server.addr).await;
    let mut r = Raw::connect(server.addr).await;
    r.send(b"XREAD BLOCK 0 STREAMS dst 0\r\n").await;
    wait_blocked(&mut admin, 1).await;
    admin
        .call(b"XADD src 3-3 k v\r\nRENAME src dst\r\n", 2)
        .await;
    assert_eq!(
        r.read_frames(1).await,
        b"*1\r\n*2\r\n$3\r\ndst\r\n*1\r\n*2\r\n$3\r\n3-3\r\n*2\r\n$1\r\nk\r\n$1\r\nv\r\n"
    );
    server.stop().await;
}

#[tokio::test]
async fn maxage_and_maxsize_trim_over_the_wire() {
    let server = TestServer::start(&[]).await;
    let mut c = Raw::connect(server.addr).await;
    // Entries stamped in 1970 are older than any MAXAGE.
    c.call(b"XADD old 1-1 a 1\r\nXADD old 2-1 a 1\r\n", 2).await;
    assert_eq!(
        c.call(b"XTRIM old MAXAGE 60000\r\nXLEN old\r\n", 2).await,
        b":2\r\n:0\r\n"
    );
    // A fresh entry survives the same trim in XADD itself.
    let id = c.call(b"XADD old MAXAGE 60000 * a 1\r\n", 1).await;
    assert!(id.starts_with(b"$"), "{}", String::from_utf8_lossy(&id));
    assert_eq!(c.call(b"XLEN old\r\n", 1).await, b":1\r\n");
    c.call(
        b"XADD sz 1-1 f 0123456789\r\nXADD sz 2-1 f 0123456789\r\n",
        2,
    )
    .await;
    assert_eq!(
        c.call(b"XTRIM sz MAXSIZE 0\r\nXLEN sz\r\n", 2).await,
        b":2\r\n:0\r\n"
    );
    assert_eq!(
        c.call(b"XTRIM sz MAXSIZE lots\r\n", 1).await,
        b"-ERR The MAXSIZE argument must be a memory value >= 0.\r\n"
    );
    assert_eq!(
        c.call(b"XTRIM sz MAXAGE -1\r\n", 1).await,
        b"-ERR The MAXAGE argument must be >= 0.\r\n"
    );
    server.stop().await;
}
