//! Helpers shared by the server tests: an in-process server on 127.0.0.1
//! port 0, a raw RESP client that returns reply bytes, and a real
//! redis-server for differential tests.
#![allow(dead_code, reason = "each test file uses a different subset")]

use std::io::{BufRead, BufReader, Cursor};
use std::net::SocketAddr;
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::Duration;

use eddy::config::{SPECS, Settings, parse_value, spec_index};
use eddy::resp::Frame;
use eddy::server::{Server, Shared};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// How long a test waits for a reply before failing.
pub const WAIT: Duration = Duration::from_secs(10);

/// Settings for a test server: port 0, loopback, a private data directory.
pub fn settings(dir: &std::path::Path, overrides: &[(&str, &str)]) -> Settings {
    let mut s = Settings::default();
    let mut set = |name: &str, value: &str| {
        let idx = spec_index(name).expect("known setting");
        let args: Vec<String> = value.split_whitespace().map(str::to_owned).collect();
        let args = if args.is_empty() {
            vec![String::new()]
        } else {
            args
        };
        let v = parse_value(&SPECS[idx], &args).expect("valid value");
        s.set_value(idx, v);
    };
    set("port", "0");
    set("bind", "127.0.0.1");
    set("dir", &dir.display().to_string());
    for (k, v) in overrides {
        set(k, v);
    }
    s
}

/// A server running inside the test's runtime.
pub struct TestServer {
    pub addr: SocketAddr,
    pub shared: Arc<Shared>,
    handle: tokio::task::JoinHandle<()>,
    _dir: tempfile::TempDir,
}

impl TestServer {
    pub async fn start(overrides: &[(&str, &str)]) -> TestServer {
        let dir = tempfile::tempdir().expect("tempdir");
        let server = Server::bind(settings(dir.path(), overrides), Vec::new())
            .await
            .expect("bind");
        let addr = server.local_addr().expect("addr");
        let shared = server.shared();
        let handle = tokio::spawn(server.run());
        TestServer {
            addr,
            shared,
            handle,
            _dir: dir,
        }
    }

    pub fn url(&self) -> String {
        format!("redis://{}/", self.addr)
    }

    /// Requests a graceful shutdown and waits for it.
    pub async fn stop(self) {
        self.shared.request_shutdown();
        tokio::time::timeout(WAIT, self.handle)
            .await
            .expect("shutdown in time")
            .expect("join");
    }

    /// Waits until the server stopped by itself (SHUTDOWN).
    pub async fn wait_stopped(self) {
        tokio::time::timeout(WAIT, self.handle)
            .await
            .expect("shutdown in time")
            .expect("join");
    }
}

/// A client that speaks raw bytes.
pub struct Raw {
    pub stream: TcpStream,
    buf: Vec<u8>,
}

impl Raw {
    pub async fn connect(addr: SocketAddr) -> Raw {
        Raw {
            stream: TcpStream::connect(addr).await.expect("connect"),
            buf: Vec::new(),
        }
    }

    pub async fn send(&mut self, bytes: &[u8]) {
        self.stream.write_all(bytes).await.expect("write");
    }

    /// Reads until `n` complete frames arrived and returns their bytes.
    pub async fn read_frames(&mut self, n: usize) -> Vec<u8> {
        loop {
            let mut c = Cursor::new(&self.buf[..]);
            let mut complete = 0;
            while complete < n && Frame::check(&mut c).is_ok() {
                complete += 1;
            }
            if complete == n {
                let end = c.position() as usize;
                return self.buf.drain(..end).collect();
            }
            let mut chunk = [0u8; 65536];
            let got = tokio::time::timeout(WAIT, self.stream.read(&mut chunk))
                .await
                .expect("reply in time")
                .expect("read");
            assert!(
                got > 0,
                "connection closed after {:?}",
                String::from_utf8_lossy(&self.buf)
            );
            self.buf.extend_from_slice(&chunk[..got]);
        }
    }

    /// Sends `bytes` and returns the bytes of the next `n` replies.
    pub async fn call(&mut self, bytes: &[u8], n: usize) -> Vec<u8> {
        self.send(bytes).await;
        self.read_frames(n).await
    }

    /// Reads everything until the server closes the connection.
    pub async fn read_to_close(&mut self) -> Vec<u8> {
        let mut out = std::mem::take(&mut self.buf);
        tokio::time::timeout(WAIT, self.stream.read_to_end(&mut out))
            .await
            .expect("close in time")
            .expect("read");
        out
    }
}

/// A multibulk request.
pub fn cmd(args: &[&str]) -> Vec<u8> {
    Frame::command(args)
}

/// A real redis-server on a free loopback port, stopped (by PID) on drop.
pub struct RedisServer {
    child: Child,
    pub port: u16,
}

impl Drop for RedisServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A free port below the kernel's ephemeral range (32768 and up on
/// Linux), so no server started on port 0 by a test running in parallel can
/// be handed the same port before redis-server binds it.
pub fn free_port() -> u16 {
    let seed = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.subsec_nanos())
        ^ std::process::id().wrapping_mul(2_654_435_761);
    let mut x = u64::from(seed) | 1;
    loop {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        let port = 20_000 + (x % 12_000) as u16;
        if std::net::TcpListener::bind(("127.0.0.1", port)).is_ok() {
            return port;
        }
    }
}

/// Starts redis-server with `extra` arguments, or says why it cannot.
pub async fn start_redis(extra: &[&str]) -> Option<RedisServer> {
    let found = Command::new("redis-server")
        .arg("--version")
        .output()
        .is_ok();
    if !found {
        println!("skipped: redis-server is not on PATH, differential test not run");
        return None;
    }
    for _ in 0..5 {
        let port = free_port();
        let mut c = Command::new("redis-server");
        c.args([
            "--port",
            &port.to_string(),
            "--bind",
            "127.0.0.1",
            "--save",
            "",
            "--appendonly",
            "no",
        ])
        .args(extra)
        .stdout(Stdio::null())
        .stderr(Stdio::null());
        let child = c.spawn().ok()?;
        let mut server = RedisServer { child, port };
        for _ in 0..100 {
            // Still running: it did not exit because the port was taken.
            if server.child.try_wait().ok().flatten().is_some() {
                break;
            }
            if TcpStream::connect(("127.0.0.1", port)).await.is_ok() {
                return Some(server);
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
    println!("skipped: redis-server did not start");
    None
}

/// Sends a script and reads until `marker` ends the output or the server
/// closes the connection; returns what was read.
pub async fn run_script(addr: SocketAddr, script: &[u8], marker: &[u8]) -> Vec<u8> {
    let mut s = TcpStream::connect(addr).await.expect("connect");
    s.write_all(script).await.expect("write");
    let mut out = Vec::new();
    let mut chunk = [0u8; 65536];
    loop {
        let got = tokio::time::timeout(WAIT, s.read(&mut chunk)).await;
        match got {
            Ok(Ok(0)) | Ok(Err(_)) => {
                out.extend_from_slice(b"<CLOSED>");
                return out;
            }
            Ok(Ok(n)) => {
                out.extend_from_slice(&chunk[..n]);
                if out.ends_with(marker) {
                    return out;
                }
            }
            Err(_) => panic!(
                "no end marker for script {:?}",
                String::from_utf8_lossy(script)
            ),
        }
    }
}

/// Starts the `eddy-server` binary as a child process with `appendfsync
/// always` on port 0 and returns it with the port it reports in its log
/// (crash tests kill it with SIGKILL).
pub fn start_child_always(dir: &std::path::Path) -> (Child, u16) {
    start_child(dir, &["--appendfsync", "always"])
}

/// Starts the `eddy-server` binary as a child process on 127.0.0.1 port 0
/// with `extra` arguments and returns it with the port it reports in its log.
pub fn start_child(dir: &std::path::Path, extra: &[&str]) -> (Child, u16) {
    let mut child = Command::new(env!("CARGO_BIN_EXE_eddy-server"))
        .args(["--port", "0", "--bind", "127.0.0.1", "--dir"])
        .arg(dir)
        .args(extra)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("spawn");
    let stdout = child.stdout.take().expect("stdout");
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            if let Some(addr) = line.split("Ready to accept connections tcp on ").nth(1) {
                let _ = tx.send(addr.rsplit(':').next().and_then(|p| p.parse::<u16>().ok()));
            }
        }
    });
    let port = rx
        .recv_timeout(Duration::from_secs(30))
        .ok()
        .flatten()
        .expect("server started");
    (child, port)
}

/// A tiny xorshift pseudo-random generator (tests must not depend on a seed source).
pub fn next(state: &mut u64) -> u64 {
    *state ^= *state << 13;
    *state ^= *state >> 7;
    *state ^= *state << 17;
    *state
}
