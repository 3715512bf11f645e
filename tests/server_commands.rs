//! Server-level commands through the `redis` crate (RESP2 and RESP3) and raw
//! bytes: connection, AUTH/HELLO, MULTI/EXEC, CLIENT, CONFIG, INFO, COMMAND,
//! DEBUG LOG, SHUTDOWN and graceful shutdown.

mod server_common;

use redis::Value;
use server_common::{Raw, TestServer, cmd};

async fn connect(url: &str) -> redis::aio::MultiplexedConnection {
    let client = redis::Client::open(url).expect("url");
    client
        .get_multiplexed_async_connection()
        .await
        .expect("connect")
}

#[tokio::test]
async fn redis_crate_basics_resp2_and_resp3() {
    let server = TestServer::start(&[]).await;
    for url in [server.url(), format!("{}?protocol=resp3", server.url())] {
        let mut con = connect(&url).await;
        let pong: String = redis::cmd("PING").query_async(&mut con).await.unwrap();
        assert_eq!(pong, "PONG");
        let echoed: Vec<u8> = redis::cmd("ECHO")
            .arg(&b"\x00bin\xff"[..])
            .query_async(&mut con)
            .await
            .unwrap();
        assert_eq!(echoed, b"\x00bin\xff");
        let () = redis::cmd("CLIENT")
            .arg("SETNAME")
            .arg("worker-1")
            .query_async(&mut con)
            .await
            .unwrap();
        let name: Option<String> = redis::cmd("CLIENT")
            .arg("GETNAME")
            .query_async(&mut con)
            .await
            .unwrap();
        assert_eq!(name.as_deref(), Some("worker-1"));
        let id: i64 = redis::cmd("CLIENT")
            .arg("ID")
            .query_async(&mut con)
            .await
            .unwrap();
        let list: String = redis::cmd("CLIENT")
            .arg("LIST")
            .query_async(&mut con)
            .await
            .unwrap();
        assert!(list.contains(&format!("id={id} ")), "{list}");
        assert!(list.contains("name=worker-1 "), "{list}");
        let mm: std::collections::HashMap<String, String> = redis::cmd("CONFIG")
            .arg("GET")
            .arg("maxmemory*")
            .query_async(&mut con)
            .await
            .unwrap();
        assert_eq!(
            mm.get("maxmemory-policy").map(String::as_str),
            Some("noeviction")
        );
        let err = redis::cmd("NOPE")
            .arg("a")
            .query_async::<Value>(&mut con)
            .await
            .unwrap_err();
        assert!(
            err.to_string()
                .contains("unknown command 'NOPE', with args beginning with: 'a'"),
            "{err}"
        );
    }
    server.stop().await;
}

#[tokio::test]
async fn auth_and_hello() {
    let server = TestServer::start(&[("requirepass", "s3cret")]).await;
    let mut c = Raw::connect(server.addr).await;
    assert_eq!(
        c.call(b"PING\r\n", 1).await,
        b"-NOAUTH Authentication required.\r\n"
    );
    // Unknown commands and arity errors come before the NOAUTH check, as in Redis.
    assert!(
        c.call(b"NOPE\r\n", 1)
            .await
            .starts_with(b"-ERR unknown command 'NOPE'")
    );
    assert_eq!(
        c.call(b"AUTH wrong\r\n", 1).await,
        b"-WRONGPASS invalid username-password pair or user is disabled.\r\n"
    );
    assert!(
        c.call(b"HELLO 3\r\n", 1)
            .await
            .starts_with(b"-NOAUTH HELLO must be called")
    );
    let hello = c
        .call(b"HELLO 3 AUTH default s3cret SETNAME app\r\n", 1)
        .await;
    assert!(
        hello.starts_with(b"%7\r\n"),
        "{}",
        String::from_utf8_lossy(&hello)
    );
    assert_eq!(c.call(b"CLIENT GETNAME\r\n", 1).await, b"$3\r\napp\r\n");
    assert_eq!(c.call(b"PING\r\n", 1).await, b"+PONG\r\n");
    // The redis crate authenticates from the URL.
    let url = format!("redis://:s3cret@{}/", server.addr);
    let mut con = connect(&url).await;
    let pong: String = redis::cmd("PING").query_async(&mut con).await.unwrap();
    assert_eq!(pong, "PONG");
    // A new password applies to new connections; AUTH with it works.
    let () = redis::cmd("CONFIG")
        .arg("SET")
        .arg("requirepass")
        .arg("other")
        .query_async(&mut con)
        .await
        .unwrap();
    let mut c2 = Raw::connect(server.addr).await;
    assert_eq!(
        c2.call(b"AUTH default other\r\nPING\r\n", 2).await,
        b"+OK\r\n+PONG\r\n"
    );
    server.stop().await;
}

#[tokio::test]
async fn multi_exec_discard() {
    let server = TestServer::start(&[]).await;
    let mut c = Raw::connect(server.addr).await;
    let script = b"MULTI\r\nPING\r\nECHO x\r\nCLIENT SETNAME tx\r\nEXEC\r\nCLIENT GETNAME\r\n";
    assert_eq!(
        c.call(script, 6).await,
        b"+OK\r\n+QUEUED\r\n+QUEUED\r\n+QUEUED\r\n*3\r\n+PONG\r\n$1\r\nx\r\n+OK\r\n$2\r\ntx\r\n"
    );
    assert_eq!(
        c.call(b"MULTI\r\nECHO\r\nPING\r\nEXEC\r\n", 4).await,
        b"+OK\r\n-ERR wrong number of arguments for 'echo' command\r\n+QUEUED\r\n\
          -EXECABORT Transaction discarded because of previous errors.\r\n"
    );
    assert_eq!(
        c.call(b"MULTI\r\nPING\r\nDISCARD\r\nEXEC\r\n", 4).await,
        b"+OK\r\n+QUEUED\r\n+OK\r\n-ERR EXEC without MULTI\r\n"
    );
    // The redis crate's atomic pipeline.
    let mut con = connect(&server.url()).await;
    let (a, b): (String, String) = redis::pipe()
        .atomic()
        .cmd("PING")
        .cmd("ECHO")
        .arg("y")
        .query_async(&mut con)
        .await
        .unwrap();
    assert_eq!((a.as_str(), b.as_str()), ("PONG", "y"));
    server.stop().await;
}

#[tokio::test]
async fn info_sections_and_stats() {
    let server = TestServer::start(&[]).await;
    let mut c = Raw::connect(server.addr).await;
    c.call(
        b"PING\r\nPING\r\nECHO\r\nNOPE\r\nCONFIG SET maxmemory x\r\n",
        5,
    )
    .await;
    let info = String::from_utf8(c.call(b"INFO\r\n", 1).await).unwrap();
    for field in [
        "# Server\r\n",
        "redis_version:",
        "tcp_port:",
        "# Clients\r\nconnected_clients:1\r\n",
        "blocked_clients:0\r\n",
        "# Memory\r\n",
        "maxmemory_policy:noeviction\r\n",
        "# Persistence\r\n",
        "# Stats\r\n",
        "total_error_replies:3\r\n",
        "# Errorstats\r\nerrorstat_ERR:count=3\r\n",
        "# Keyspace\r\n",
    ] {
        assert!(info.contains(field), "missing {field:?} in {info}");
    }
    assert!(!info.contains("# Commandstats"));
    let stats = String::from_utf8(c.call(b"INFO commandstats\r\n", 1).await).unwrap();
    assert!(stats.contains("cmdstat_ping:calls=2,"), "{stats}");
    assert!(
        stats.contains(
            "cmdstat_echo:calls=0,usec=0,usec_per_call=0.00,rejected_calls=1,failed_calls=0"
        ),
        "{stats}"
    );
    assert!(
        stats.contains("cmdstat_config|set:calls=1,") && stats.contains("failed_calls=1"),
        "{stats}"
    );
    assert_eq!(c.call(b"CONFIG RESETSTAT\r\n", 1).await, b"+OK\r\n");
    let info = String::from_utf8(c.call(b"INFO stats errorstats\r\n", 1).await).unwrap();
    assert!(info.contains("total_error_replies:0\r\n"), "{info}");
    assert!(!info.contains("errorstat_ERR"), "{info}");
    assert!(!info.contains("# Server"), "{info}");
    server.stop().await;
}

#[tokio::test]
async fn command_table_for_clients() {
    let server = TestServer::start(&[]).await;
    let mut con = connect(&server.url()).await;
    let count: usize = redis::cmd("COMMAND")
        .arg("COUNT")
        .query_async(&mut con)
        .await
        .unwrap();
    let all: Vec<Value> = redis::cmd("COMMAND").query_async(&mut con).await.unwrap();
    assert_eq!(all.len(), count);
    let info: Vec<Value> = redis::cmd("COMMAND")
        .arg("INFO")
        .arg("config|get")
        .arg("nope")
        .query_async(&mut con)
        .await
        .unwrap();
    assert_eq!(info.len(), 2);
    assert_eq!(info[1], Value::Nil);
    let Value::Array(first) = &info[0] else {
        panic!("{info:?}")
    };
    assert_eq!(first[0], Value::BulkString(b"config|get".to_vec()));
    assert_eq!(first[1], Value::Int(-3));
    let docs: std::collections::HashMap<String, Value> = redis::cmd("COMMAND")
        .arg("DOCS")
        .arg("ping")
        .query_async(&mut con)
        .await
        .unwrap();
    assert!(docs.contains_key("ping"));
    let ok: String = redis::cmd("DEBUG")
        .arg("LOG")
        .arg("hello from the test")
        .query_async(&mut con)
        .await
        .unwrap();
    assert_eq!(ok, "OK");
    server.stop().await;
}

#[tokio::test]
async fn config_set_is_atomic_over_the_wire() {
    let server = TestServer::start(&[]).await;
    let mut c = Raw::connect(server.addr).await;
    let reply = c
        .call(
            &cmd(&["CONFIG", "SET", "maxmemory", "10mb", "timeout", "-1"]),
            1,
        )
        .await;
    assert_eq!(
        reply,
        b"-ERR CONFIG SET failed (possibly related to argument 'timeout') - argument must be between 0 and 2147483647 inclusive\r\n"
    );
    assert_eq!(
        c.call(b"CONFIG GET maxmemory\r\n", 1).await,
        b"*2\r\n$9\r\nmaxmemory\r\n$1\r\n0\r\n"
    );
    assert_eq!(
        c.call(
            &cmd(&["CONFIG", "SET", "maxmemory", "2mb", "timeout", "30"]),
            1
        )
        .await,
        b"+OK\r\n"
    );
    assert_eq!(
        c.call(b"CONFIG GET maxmemory timeout\r\n", 1).await,
        b"*4\r\n$9\r\nmaxmemory\r\n$7\r\n2097152\r\n$7\r\ntimeout\r\n$2\r\n30\r\n"
    );
    assert_eq!(
        c.call(b"CONFIG REWRITE\r\n", 1).await,
        b"-ERR The server is running without a config file\r\n"
    );
    server.stop().await;
}

#[tokio::test]
async fn shutdown_command_stops_the_server_after_earlier_replies() {
    let server = TestServer::start(&[]).await;
    let mut other = Raw::connect(server.addr).await;
    assert_eq!(other.call(b"PING\r\n", 1).await, b"+PONG\r\n");
    let mut c = Raw::connect(server.addr).await;
    c.send(b"ECHO before\r\nSHUTDOWN NOSAVE\r\nECHO after\r\n")
        .await;
    assert_eq!(c.read_to_close().await, b"$6\r\nbefore\r\n");
    assert_eq!(other.read_to_close().await, b"");
    let addr = server.addr;
    server.wait_stopped().await;
    assert!(
        tokio::net::TcpStream::connect(addr).await.is_err(),
        "listener closed"
    );
}

#[tokio::test]
async fn graceful_shutdown_finishes_the_batch_in_flight() {
    let server = TestServer::start(&[]).await;
    let mut c = Raw::connect(server.addr).await;
    let mut batch = Vec::new();
    for i in 0..500 {
        batch.extend(cmd(&["ECHO", &i.to_string()]));
    }
    let replies = c.call(&batch, 500).await;
    assert!(replies.ends_with(b"$3\r\n499\r\n"));
    let shared = server.shared.clone();
    shared.request_shutdown();
    assert_eq!(c.read_to_close().await, b"");
    server.wait_stopped().await;
}

/// The connection's CLIENT ID, as text.
async fn client_id(c: &mut Raw) -> String {
    let id = String::from_utf8(c.call(b"CLIENT ID\r\n", 1).await).unwrap();
    id.trim_start_matches(':').trim_end().to_owned()
}

#[tokio::test]
async fn client_kill_closes_the_target() {
    let server = TestServer::start(&[]).await;
    let mut victim = Raw::connect(server.addr).await;
    let id = client_id(&mut victim).await;
    let mut admin = Raw::connect(server.addr).await;
    assert_eq!(
        admin.call(&cmd(&["CLIENT", "KILL", "ID", &id]), 1).await,
        b":1\r\n"
    );
    assert_eq!(victim.read_to_close().await, b"");
    // The old form, by address, and SKIPME.
    let mut other = Raw::connect(server.addr).await;
    let addr = other.stream.local_addr().unwrap().to_string();
    assert_eq!(
        admin.call(&cmd(&["CLIENT", "KILL", &addr]), 1).await,
        b"+OK\r\n"
    );
    assert_eq!(other.read_to_close().await, b"");
    assert_eq!(
        admin.call(b"CLIENT KILL TYPE normal\r\n", 1).await,
        b":0\r\n"
    );
    admin.send(b"CLIENT KILL TYPE normal SKIPME no\r\n").await;
    assert_eq!(admin.read_to_close().await, b":1\r\n");
    server.stop().await;
}

#[tokio::test]
async fn client_kill_closes_a_blocked_reader() {
    let server = TestServer::start(&[]).await;
    let mut victim = Raw::connect(server.addr).await;
    let id = client_id(&mut victim).await;
    // Several reads first, so the kill lands on a connection that has waited before.
    for _ in 0..3 {
        assert_eq!(victim.call(b"PING\r\n", 1).await, b"+PONG\r\n");
    }
    victim
        .send(&cmd(&["XREAD", "BLOCK", "0", "STREAMS", "s", "$"]))
        .await;
    let mut admin = Raw::connect(server.addr).await;
    loop {
        let list = admin.call(b"CLIENT LIST\r\n", 1).await;
        if String::from_utf8_lossy(&list).contains("cmd=xread") {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
    }
    assert_eq!(
        admin.call(&cmd(&["CLIENT", "KILL", "ID", &id]), 1).await,
        b":1\r\n"
    );
    assert_eq!(victim.read_to_close().await, b"");
    server.stop().await;
}
