//! The eddy-server binary: configuration file and overrides, fatal config
//! errors, SIGHUP reload, CONFIG REWRITE and SIGTERM.

mod server_common;

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

use server_common::{Raw, cmd};

const BIN: &str = env!("CARGO_BIN_EXE_eddy-server");

/// A running eddy-server process, killed by PID if the test fails.
struct Proc {
    child: Child,
    port: u16,
    lines: mpsc::Receiver<String>,
}

impl Drop for Proc {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Proc {
    fn start(args: &[&str]) -> Proc {
        let mut child = Command::new(BIN)
            .args(args)
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("spawn eddy-server");
        let stdout = child.stdout.take().expect("stdout");
        let (tx, rx) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        let mut port = 0;
        while let Ok(line) = rx.recv_timeout(Duration::from_secs(10)) {
            if let Some(addr) = line.split("Ready to accept connections tcp on ").nth(1) {
                port = addr
                    .rsplit(':')
                    .next()
                    .and_then(|p| p.parse().ok())
                    .expect("port");
                break;
            }
        }
        assert_ne!(port, 0, "server did not start");
        Proc {
            child,
            port,
            lines: rx,
        }
    }

    fn addr(&self) -> std::net::SocketAddr {
        ([127, 0, 0, 1], self.port).into()
    }

    fn signal(&self, sig: &str) {
        let status = Command::new("kill")
            .args([sig, &self.child.id().to_string()])
            .status()
            .expect("kill");
        assert!(status.success());
    }

    fn wait_log(&self, needle: &str) -> String {
        while let Ok(line) = self.lines.recv_timeout(Duration::from_secs(10)) {
            if line.contains(needle) {
                return line;
            }
        }
        panic!("no log line containing {needle:?}");
    }
}

fn write(dir: &Path, name: &str, text: &str) -> String {
    let p = dir.join(name);
    std::fs::write(&p, text).expect("write");
    p.display().to_string()
}

#[test]
fn fatal_config_errors_exit_1_with_file_line_and_reason() {
    let dir = tempfile::tempdir().unwrap();
    let conf = write(dir.path(), "bad.conf", "# ok\nport 0\nmaxmemory lots\n");
    let out = Command::new(BIN).arg(&conf).output().expect("run");
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("*** FATAL CONFIG FILE ERROR (eddy "), "{err}");
    assert!(
        err.contains(&format!(
            "Reading the configuration file '{conf}', at line 3"
        )),
        "{err}"
    );
    assert!(err.contains(">>> 'maxmemory lots'"), "{err}");
    assert!(err.contains("argument must be a memory value"), "{err}");

    let conf = write(dir.path(), "unknown.conf", "no-such-directive yes\n");
    let out = Command::new(BIN).arg(&conf).output().expect("run");
    assert_eq!(out.status.code(), Some(1));
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("Bad directive or wrong number of arguments")
    );

    let out = Command::new(BIN)
        .args(["--port", "0", "--appendfsync", "sometimes"])
        .output()
        .expect("run");
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("argument(s) must be one of the following: always, everysec, no"),
        "{err}"
    );

    let out = Command::new(BIN)
        .arg(dir.path().join("missing.conf"))
        .output()
        .expect("run");
    assert_eq!(out.status.code(), Some(1));
}

#[tokio::test]
async fn configmap_style_file_then_overrides() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let conf = write(
        dir.path(),
        "eddy.conf",
        &format!(
            "# mounted from a ConfigMap\nport 0\nbind 127.0.0.1\ndir {}\nmaxmemory 2mb\n\
             maxmemory-policy allkeys-lru\nappendfsync always\nstream-node-max-entries 50\n",
            data.display()
        ),
    );
    let p = Proc::start(&[&conf, "--maxmemory-samples", "9"]);
    let mut c = Raw::connect(p.addr()).await;
    assert_eq!(
        c.call(b"CONFIG GET maxmemory\r\n", 1).await,
        b"*2\r\n$9\r\nmaxmemory\r\n$7\r\n2097152\r\n"
    );
    assert_eq!(
        c.call(b"CONFIG GET maxmemory-samples appendfsync\r\n", 1)
            .await,
        b"*4\r\n$17\r\nmaxmemory-samples\r\n$1\r\n9\r\n$11\r\nappendfsync\r\n$6\r\nalways\r\n"
    );
    assert!(data.is_dir(), "data directory created");
    p.signal("-TERM");
    let mut p = p;
    let status = p.child.wait().expect("wait");
    assert_eq!(status.code(), Some(0));
}

#[tokio::test]
async fn sighup_reloads_what_can_change() {
    let dir = tempfile::tempdir().unwrap();
    let conf = write(
        dir.path(),
        "eddy.conf",
        &format!("port 0\ndir {}\nmaxmemory 1mb\n", dir.path().display()),
    );
    let p = Proc::start(&[&conf]);
    let mut c = Raw::connect(p.addr()).await;
    std::fs::write(
        &conf,
        format!(
            "port 0\ndir {}\nmaxmemory 3mb\ntimeout 60\n",
            dir.path().display()
        ),
    )
    .unwrap();
    p.signal("-HUP");
    p.wait_log("configuration reloaded");
    assert_eq!(
        c.call(b"CONFIG GET maxmemory timeout\r\n", 1).await,
        b"*4\r\n$9\r\nmaxmemory\r\n$7\r\n3145728\r\n$7\r\ntimeout\r\n$2\r\n60\r\n"
    );
    // A broken file is refused and nothing changes.
    std::fs::write(&conf, "port 0\nmaxmemory nonsense\n").unwrap();
    p.signal("-HUP");
    p.wait_log("configuration not reloaded");
    assert_eq!(
        c.call(b"CONFIG GET maxmemory\r\n", 1).await,
        b"*2\r\n$9\r\nmaxmemory\r\n$7\r\n3145728\r\n"
    );
}

#[tokio::test]
async fn config_rewrite_keeps_comments() {
    let dir = tempfile::tempdir().unwrap();
    let conf = write(
        dir.path(),
        "eddy.conf",
        &format!(
            "# Top comment\nport 0\n\n# memory section\nmaxmemory 1mb\ndir {}\n",
            dir.path().display()
        ),
    );
    let p = Proc::start(&[&conf]);
    let mut c = Raw::connect(p.addr()).await;
    assert_eq!(
        c.call(
            &cmd(&[
                "CONFIG",
                "SET",
                "maxmemory",
                "5mb",
                "maxmemory-policy",
                "allkeys-lfu"
            ]),
            1
        )
        .await,
        b"+OK\r\n"
    );
    assert_eq!(c.call(b"CONFIG REWRITE\r\n", 1).await, b"+OK\r\n");
    let text = std::fs::read_to_string(&conf).unwrap();
    assert_eq!(
        text,
        format!(
            "# Top comment\nport 0\n\n# memory section\nmaxmemory 5mb\ndir \"{}\"\n\
             # Generated by CONFIG REWRITE\nmaxmemory-policy allkeys-lfu\n",
            dir.path().display()
        )
    );
    // The rewritten file starts a server with the same settings.
    c.call(b"SHUTDOWN\r\n", 0).await;
    let mut p = p;
    assert_eq!(p.child.wait().expect("wait").code(), Some(0));
    let p2 = Proc::start(&[&conf]);
    let mut c = Raw::connect(p2.addr()).await;
    assert_eq!(
        c.call(b"CONFIG GET maxmemory-policy\r\n", 1).await,
        b"*2\r\n$16\r\nmaxmemory-policy\r\n$11\r\nallkeys-lfu\r\n"
    );
}
