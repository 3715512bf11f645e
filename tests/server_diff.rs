//! Differential tests: the same request scripts against eddy and a real
//! redis-server 7.0, comparing the reply bytes. Skipped, with the reason
//! printed, when `redis-server` is not on PATH.
//!
//! Each script ends with `ECHO __end__` so the reader knows where the
//! replies end; scripts that make the server close the connection end with
//! `<CLOSED>` instead.

mod server_common;

use std::net::SocketAddr;

use server_common::{TestServer, run_script, start_redis};

const MARKER: &[u8] = b"$7\r\n__end__\r\n";

/// Scripts whose replies must be identical byte for byte.
const SCRIPTS: &[&str] = &[
    // Connection commands.
    "PING\r\nPING hello\r\nPING a b\r\nping\r\n",
    "ECHO\r\nECHO a b\r\nECHO \"\"\r\necho x\r\n",
    "SELECT 0\r\nSELECT x\r\nSELECT -1\r\nSELECT 99999\r\nSELECT\r\n",
    "AUTH x\r\nAUTH a b\r\nAUTH a b c\r\nAUTH\r\n",
    "HELLO 4\r\nHELLO x\r\nHELLO 1\r\nHELLO 2 foo\r\nHELLO 3 SETNAME \"a b\"\r\n",
    "QUIT\r\nPING\r\n",
    // Unknown commands and arity.
    "foo\r\nfoo a b\r\nFOO 'x y'\r\n",
    "*3\r\n$3\r\nfoo\r\n$200\r\naaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\r\n$1\r\nb\r\n",
    "CONFIG\r\nCLIENT\r\nCONFIG FOO\r\nCLIENT foo bar\r\nCOMMAND FOO\r\nCONFIG GET\r\n",
    // Transactions.
    "MULTI\r\nMULTI\r\nPING\r\nEXEC\r\n",
    "MULTI\r\nfoo\r\nPING\r\nEXEC\r\nPING\r\n",
    "EXEC\r\nDISCARD\r\nMULTI\r\nPING a b c\r\nEXEC\r\n",
    "MULTI\r\nECHO\r\nEXEC\r\nMULTI\r\nDISCARD\r\nDISCARD\r\n",
    "MULTI\r\nSHUTDOWN\r\nEXEC\r\n",
    "MULTI\r\nPING\r\nECHO x\r\nCLIENT SETNAME t\r\nCLIENT GETNAME\r\nEXEC\r\n",
    // CLIENT.
    "CLIENT SETNAME \"a b\"\r\nCLIENT GETNAME\r\nCLIENT SETNAME x\r\nCLIENT GETNAME\r\nCLIENT SETNAME\r\n",
    "CLIENT LIST TYPE bogus\r\nCLIENT LIST TYPE master\r\nCLIENT LIST ID abc\r\nCLIENT LIST foo\r\n",
    // CONFIG.
    "CONFIG GET maxmemory\r\nCONFIG GET maxmemory-policy\r\nCONFIG GET maxmemory-samples\r\n",
    "CONFIG GET stream-node-max-entries\r\nCONFIG GET stream-node-max-bytes\r\nCONFIG GET timeout\r\n",
    "CONFIG GET proto-max-bulk-len\r\nCONFIG GET client-query-buffer-limit\r\nCONFIG GET loglevel\r\n",
    "CONFIG GET logfile\r\nCONFIG GET requirepass\r\nCONFIG GET appendfsync\r\nCONFIG GET databases\r\n",
    "CONFIG GET nosuchthing\r\nCONFIG GET MAXMEMORY\r\n",
    "CONFIG SET a\r\nCONFIG SET maxmemory 1 port\r\nCONFIG SET foo 1\r\n",
    "CONFIG SET maxmemory abc\r\nCONFIG SET maxmemory -1\r\nCONFIG SET maxmemory 1.5gb\r\n",
    "CONFIG SET maxmemory-policy foo\r\nCONFIG SET databases 3\r\nCONFIG SET maxmemory 1 maxmemory 2\r\n",
    "CONFIG SET maxmemory-samples abc\r\nCONFIG SET maxmemory-samples 0\r\nCONFIG SET appendonly maybe\r\n",
    "CONFIG SET timeout -1\r\nCONFIG SET proto-max-bulk-len 1\r\nCONFIG SET loglevel loud\r\n",
    "CONFIG SET maxmemory 2MB\r\nCONFIG GET maxmemory\r\nCONFIG SET maxmemory 3k maxmemory-policy ALLKEYS-LRU\r\nCONFIG GET maxmemory\r\nCONFIG GET maxmemory-policy\r\n",
    "CONFIG SET maxmemory kb\r\nCONFIG GET maxmemory\r\nCONFIG SET maxmemory 1G\r\nCONFIG GET maxmemory\r\nCONFIG SET maxmemory 0\r\n",
    "CONFIG SET stream-node-max-bytes 8kb stream-node-max-entries 7\r\nCONFIG GET stream-node-max-bytes\r\nCONFIG GET stream-node-max-entries\r\n",
    "CONFIG HELP\r\nCONFIG RESETSTAT\r\nCONFIG REWRITE\r\nCONFIG RESETSTAT x\r\n",
    // COMMAND.
    "COMMAND INFO nosuch\r\nCOMMAND COUNT x\r\n",
    // Inline parsing.
    "ECHO \"a\\x41\\n\\tb\"\r\nECHO 'single \\' quote'\r\nECHO \"\\q\"\r\nECHO \"\\xZZ\"\r\n",
    "\r\n  \r\n*0\r\n*-1\r\nPING\r\n",
    "*1\r\n$4\r\npingXY*1\r\n$4\r\nping\r\n",
    // Protocol errors (the connection closes).
    "*abc\r\n",
    "*3000000000\r\n",
    "PING\r\n*1\r\n+foo\r\n",
    "*1\r\n$-1\r\n",
    "*1\r\n$abc\r\n",
    "*1\r\n$600000000\r\n",
    "*01\r\n",
    "*+1\r\n",
    "ECHO \"a\r\n",
    "ECHO \"a\"b\r\n",
    "ECHO 'a'b\r\n",
    "*1\r\n\r\n",
    "*2\r\n$4\r\nECHO\r\n:5\r\n",
];

/// Scripts run after `HELLO 3`; the HELLO reply (it holds the client id and
/// server version) is cut before comparing.
const RESP3_SCRIPTS: &[&str] = &[
    "CONFIG GET maxmemory\r\nCLIENT GETNAME\r\nCOMMAND INFO nosuch\r\nPING\r\nECHO x\r\n",
    "MULTI\r\nPING\r\nCONFIG GET timeout\r\nEXEC\r\nCONFIG GET nosuch\r\n",
    "HELLO 2 foo\r\nCLIENT SETNAME x\r\nCLIENT GETNAME\r\n",
];

/// With `requirepass secret`.
const AUTH_SCRIPTS: &[&str] = &[
    "PING\r\nAUTH wrong\r\nAUTH default wrong\r\nAUTH secret\r\nPING\r\n",
    "foo\r\nECHO\r\nECHO x\r\nHELLO 3\r\nCLIENT GETNAME\r\nQUIT\r\n",
    "MULTI\r\nPING\r\nAUTH secret\r\nMULTI\r\nPING\r\nEXEC\r\n",
    "*11\r\n",
    "*2\r\n$4\r\nECHO\r\n$20000\r\n",
    "AUTH default secret\r\n*2\r\n$4\r\nECHO\r\n$3\r\nabc\r\n",
];

async fn compare(eddy: SocketAddr, redis: SocketAddr, scripts: &[&str], prefix: &str, skip: usize) {
    let mut failures = Vec::new();
    for script in scripts {
        let full = format!("{prefix}{script}ECHO __end__\r\n");
        let (a, b) = tokio::join!(
            run_script(eddy, full.as_bytes(), MARKER),
            run_script(redis, full.as_bytes(), MARKER)
        );
        let (a, b) = (cut_frames(&a, skip), cut_frames(&b, skip));
        if a != b {
            failures.push(format!(
                "script {script:?}\n  eddy:  {:?}\n  redis: {:?}",
                String::from_utf8_lossy(&a),
                String::from_utf8_lossy(&b)
            ));
        }
    }
    assert!(
        failures.is_empty(),
        "{} differences:\n{}",
        failures.len(),
        failures.join("\n")
    );
}

/// Drops the first `n` reply frames.
fn cut_frames(out: &[u8], n: usize) -> Vec<u8> {
    let mut c = std::io::Cursor::new(out);
    for _ in 0..n {
        if eddy::resp::Frame::check(&mut c).is_err() {
            return out.to_vec();
        }
    }
    out[c.position() as usize..].to_vec()
}

#[tokio::test]
async fn server_commands_match_redis() {
    let Some(redis) = start_redis(&[]).await else {
        return;
    };
    let eddy = TestServer::start(&[]).await;
    let raddr: SocketAddr = ([127, 0, 0, 1], redis.port).into();
    compare(eddy.addr, raddr, SCRIPTS, "", 0).await;
    compare(eddy.addr, raddr, RESP3_SCRIPTS, "HELLO 3\r\n", 1).await;
    eddy.stop().await;
}

#[tokio::test]
async fn authentication_matches_redis() {
    let Some(redis) = start_redis(&["--requirepass", "secret"]).await else {
        return;
    };
    let eddy = TestServer::start(&[("requirepass", "secret")]).await;
    let raddr: SocketAddr = ([127, 0, 0, 1], redis.port).into();
    compare(eddy.addr, raddr, AUTH_SCRIPTS, "", 0).await;
    eddy.stop().await;
}
