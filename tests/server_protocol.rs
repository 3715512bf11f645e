//! The protocol layer end to end, with raw RESP bytes: pipelining, partial
//! input, inline commands, limits and protocol errors.

mod server_common;

use server_common::{Raw, TestServer, cmd};

#[tokio::test]
async fn pipelined_requests_get_replies_in_order() {
    let server = TestServer::start(&[]).await;
    let mut c = Raw::connect(server.addr).await;
    let mut batch = Vec::new();
    let mut expected = Vec::new();
    for i in 0..200 {
        let word = format!("w{i}");
        batch.extend(cmd(&["ECHO", &word]));
        expected.extend(format!("${}\r\n{word}\r\n", word.len()).bytes());
        batch.extend(b"PING\r\n");
        expected.extend(b"+PONG\r\n");
    }
    assert_eq!(c.call(&batch, 400).await, expected);
    server.stop().await;
}

#[tokio::test]
async fn a_request_sent_byte_by_byte_is_answered_once() {
    let server = TestServer::start(&[]).await;
    let mut c = Raw::connect(server.addr).await;
    let req = cmd(&["ECHO", "hello world"]);
    for b in &req {
        c.send(std::slice::from_ref(b)).await;
        tokio::task::yield_now().await;
    }
    assert_eq!(c.read_frames(1).await, b"$11\r\nhello world\r\n");
    assert_eq!(c.call(b"PING\r\n", 1).await, b"+PONG\r\n");
    server.stop().await;
}

#[tokio::test]
async fn inline_commands_follow_redis_quoting() {
    let server = TestServer::start(&[]).await;
    let mut c = Raw::connect(server.addr).await;
    assert_eq!(c.call(b"ECHO \"a b\\x41\"\r\n", 1).await, b"$4\r\na bA\r\n");
    assert_eq!(c.call(b"echo 'it\\'s'\n", 1).await, b"$4\r\nit's\r\n");
    // Blank lines and empty multibulks are skipped without a reply.
    assert_eq!(
        c.call(b"\r\n   \r\n*0\r\n*-1\r\nPING\r\n", 1).await,
        b"+PONG\r\n"
    );
    c.send(b"ECHO \"unbalanced\r\n").await;
    assert_eq!(
        c.read_to_close().await,
        b"-ERR Protocol error: unbalanced quotes in request\r\n"
    );
    server.stop().await;
}

#[tokio::test]
async fn protocol_errors_reply_then_close_after_earlier_replies() {
    let server = TestServer::start(&[]).await;
    let cases: &[(&[u8], &[u8])] = &[
        (
            b"PING\r\n*1\r\n+x\r\n",
            b"+PONG\r\n-ERR Protocol error: expected '$', got '+'\r\n",
        ),
        (
            b"*abc\r\n",
            b"-ERR Protocol error: invalid multibulk length\r\n",
        ),
        (
            b"*3000000000\r\n",
            b"-ERR Protocol error: invalid multibulk length\r\n",
        ),
        (
            b"*1\r\n$-1\r\n",
            b"-ERR Protocol error: invalid bulk length\r\n",
        ),
        (
            b"*1\r\n$01\r\n",
            b"-ERR Protocol error: invalid bulk length\r\n",
        ),
        (
            b"*1\r\n$600000000\r\n",
            b"-ERR Protocol error: invalid bulk length\r\n",
        ),
    ];
    for (input, want) in cases {
        let mut c = Raw::connect(server.addr).await;
        c.send(input).await;
        assert_eq!(
            c.read_to_close().await,
            *want,
            "input {:?}",
            String::from_utf8_lossy(input)
        );
    }
    server.stop().await;
}

#[tokio::test]
async fn oversized_lines_are_refused() {
    let server = TestServer::start(&[]).await;
    let mut c = Raw::connect(server.addr).await;
    c.send(&vec![b'a'; 70 * 1024]).await;
    assert_eq!(
        c.read_to_close().await,
        b"-ERR Protocol error: too big inline request\r\n"
    );
    let mut c = Raw::connect(server.addr).await;
    let mut big = b"*1\r\n$".to_vec();
    big.extend(vec![b'1'; 70 * 1024]);
    c.send(&big).await;
    assert_eq!(
        c.read_to_close().await,
        b"-ERR Protocol error: too big bulk count string\r\n"
    );
    server.stop().await;
}

#[tokio::test]
async fn proto_max_bulk_len_applies_at_run_time() {
    let server = TestServer::start(&[]).await;
    let mut c = Raw::connect(server.addr).await;
    assert_eq!(
        c.call(&cmd(&["CONFIG", "SET", "proto-max-bulk-len", "1mb"]), 1)
            .await,
        b"+OK\r\n"
    );
    c.send(b"*2\r\n$4\r\nECHO\r\n$1048577\r\n").await;
    assert_eq!(
        c.read_to_close().await,
        b"-ERR Protocol error: invalid bulk length\r\n"
    );
    // Exactly the limit is fine.
    let mut c = Raw::connect(server.addr).await;
    let payload = "x".repeat(1 << 20);
    let reply = c.call(&cmd(&["ECHO", &payload]), 1).await;
    assert_eq!(reply.len(), (1 << 20) + "$1048576\r\n\r\n".len());
    server.stop().await;
}

#[tokio::test]
async fn query_buffer_limit_closes_the_connection() {
    let server = TestServer::start(&[("client-query-buffer-limit", "1mb")]).await;
    let mut c = Raw::connect(server.addr).await;
    c.send(b"*2\r\n$4\r\nECHO\r\n$3000000\r\n").await;
    // Send more than the limit without completing the request.
    let chunk = vec![b'x'; 64 * 1024];
    let mut closed = false;
    for _ in 0..40 {
        if tokio::io::AsyncWriteExt::write_all(&mut c.stream, &chunk)
            .await
            .is_err()
        {
            closed = true;
            break;
        }
    }
    if !closed {
        assert_eq!(c.read_to_close().await, b"");
    }
    // Others are unaffected.
    let mut other = Raw::connect(server.addr).await;
    assert_eq!(other.call(b"PING\r\n", 1).await, b"+PONG\r\n");
    server.stop().await;
}

#[tokio::test]
async fn garbage_from_one_client_does_not_affect_another() {
    let server = TestServer::start(&[]).await;
    let mut good = Raw::connect(server.addr).await;
    assert_eq!(good.call(b"PING\r\n", 1).await, b"+PONG\r\n");
    for garbage in [
        &b"*1\r\n$x\r\n"[..],
        b"\x00\xff\xfe*\r\n$",
        b"*2\r\n$1\r\na\r\n:5\r\n",
    ] {
        let mut bad = Raw::connect(server.addr).await;
        bad.send(garbage).await;
        let _ =
            tokio::time::timeout(std::time::Duration::from_millis(200), bad.read_to_close()).await;
    }
    assert_eq!(
        good.call(&cmd(&["ECHO", "still"]), 1).await,
        b"$5\r\nstill\r\n"
    );
    server.stop().await;
}

#[tokio::test]
async fn resp3_after_hello_3() {
    let server = TestServer::start(&[]).await;
    let mut c = Raw::connect(server.addr).await;
    let hello = c.call(b"HELLO 3\r\n", 1).await;
    assert!(
        hello.starts_with(b"%7\r\n$6\r\nserver\r\n"),
        "{}",
        String::from_utf8_lossy(&hello)
    );
    assert!(hello.windows(13).any(|w| w == b"$5\r\nproto\r\n:3"));
    assert_eq!(
        c.call(b"CONFIG GET maxmemory\r\n", 1).await,
        b"%1\r\n$9\r\nmaxmemory\r\n$1\r\n0\r\n"
    );
    assert_eq!(c.call(b"CLIENT GETNAME\r\n", 1).await, b"_\r\n");
    let info = c.call(b"CLIENT INFO\r\n", 1).await;
    assert!(info.starts_with(b"="), "verbatim string in RESP3");
    assert!(String::from_utf8_lossy(&info).contains("resp=3"));
    // Back to RESP2.
    c.call(b"HELLO 2\r\n", 1).await;
    assert_eq!(c.call(b"CLIENT GETNAME\r\n", 1).await, b"$-1\r\n");
    server.stop().await;
}

#[tokio::test]
async fn unauthenticated_clients_get_tighter_limits() {
    let server = TestServer::start(&[("requirepass", "secret")]).await;
    let mut c = Raw::connect(server.addr).await;
    c.send(b"*11\r\n").await;
    assert_eq!(
        c.read_to_close().await,
        b"-ERR Protocol error: unauthenticated multibulk length\r\n"
    );
    let mut c = Raw::connect(server.addr).await;
    c.send(b"*2\r\n$4\r\nECHO\r\n$20000\r\n").await;
    assert_eq!(
        c.read_to_close().await,
        b"-ERR Protocol error: unauthenticated bulk length\r\n"
    );
    // After AUTH in the same batch, the limits are lifted.
    let mut c = Raw::connect(server.addr).await;
    let mut batch = b"AUTH secret\r\n".to_vec();
    let big = "y".repeat(20000);
    batch.extend(cmd(&["ECHO", &big]));
    let reply = c.call(&batch, 2).await;
    assert!(reply.starts_with(b"+OK\r\n$20000\r\n"));
    server.stop().await;
}

#[tokio::test]
async fn maxclients_refuses_extra_connections() {
    let server = TestServer::start(&[("maxclients", "1")]).await;
    let mut first = Raw::connect(server.addr).await;
    assert_eq!(first.call(b"PING\r\n", 1).await, b"+PONG\r\n");
    let mut second = Raw::connect(server.addr).await;
    assert_eq!(
        second.read_to_close().await,
        b"-ERR max number of clients reached\r\n"
    );
    let info = first.call(b"INFO stats\r\n", 1).await;
    assert!(String::from_utf8_lossy(&info).contains("rejected_connections:1\r\n"));
    server.stop().await;
}

#[tokio::test]
async fn idle_clients_are_closed_after_timeout() {
    let server = TestServer::start(&[("timeout", "1")]).await;
    let mut c = Raw::connect(server.addr).await;
    assert_eq!(c.call(b"PING\r\n", 1).await, b"+PONG\r\n");
    assert_eq!(c.read_to_close().await, b"");
    server.stop().await;
}

#[tokio::test]
async fn a_thousand_concurrent_connections() {
    let server = TestServer::start(&[]).await;
    let mut clients = Vec::new();
    for _ in 0..1000 {
        clients.push(Raw::connect(server.addr).await);
    }
    // Every connection sends before any reads, so all are open at once.
    for (i, c) in clients.iter_mut().enumerate() {
        c.send(&cmd(&["ECHO", &i.to_string()])).await;
    }
    for (i, c) in clients.iter_mut().enumerate() {
        let want = format!("${}\r\n{i}\r\n", i.to_string().len());
        assert_eq!(c.read_frames(1).await, want.as_bytes());
    }
    let info = String::from_utf8(clients[0].call(b"INFO clients\r\n", 1).await).unwrap();
    assert!(info.contains("connected_clients:1000\r\n"), "{info}");
    drop(clients);
    server.stop().await;
}

#[tokio::test]
async fn a_long_pipeline_with_large_replies_arrives_whole_and_in_order() {
    let server = TestServer::start(&[]).await;
    let mut c = Raw::connect(server.addr).await;
    let payload = "p".repeat(1000);
    let mut batch = Vec::new();
    for i in 0..3000 {
        batch.extend(cmd(&["ECHO", &format!("{i}:{payload}")]));
    }
    // Write and read concurrently: the server writes replies while the
    // pipeline is still being read.
    let (mut rd, mut wr) = c.stream.split();
    let writer = tokio::io::AsyncWriteExt::write_all(&mut wr, &batch);
    let reader = async {
        let mut all = Vec::new();
        let mut chunk = vec![0u8; 1 << 16];
        while !all.ends_with(format!("2999:{payload}\r\n").as_bytes()) {
            let n = tokio::io::AsyncReadExt::read(&mut rd, &mut chunk)
                .await
                .unwrap();
            assert!(n > 0);
            all.extend_from_slice(&chunk[..n]);
        }
        all
    };
    let (w, all) = tokio::join!(writer, reader);
    w.unwrap();
    let mut expected = Vec::new();
    for i in 0..3000 {
        let s = format!("{i}:{payload}");
        expected.extend(format!("${}\r\n{s}\r\n", s.len()).bytes());
    }
    assert_eq!(all, expected);
    server.stop().await;
}
