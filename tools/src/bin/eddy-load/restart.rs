//! Restart timing: spawn a server on existing data, time the first PONG and the first
//! correct XLEN, then stop it with SIGTERM (SIGKILL after 60 s).
//!
//! A `-LOADING` reply is not a PONG: the server must be able to serve.

use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail, ensure};

use crate::resp::{Conn, Reply};

pub(crate) async fn restart(
    addr: &str,
    key: &str,
    expect: u64,
    log: &Path,
    timeout: Duration,
    command: &[String],
) -> Result<()> {
    let (program, args) = command.split_first().context("no server command")?;
    let out = std::fs::File::create(log).with_context(|| format!("create {}", log.display()))?;
    let start = Instant::now();
    let mut child = Command::new(program)
        .args(args)
        .stdin(Stdio::null())
        .stdout(out.try_clone()?)
        .stderr(out)
        .spawn()
        .with_context(|| format!("start {program}"))?;
    let timed = time_restart(addr, key, expect, &mut child, start, timeout).await;
    let stopped = stop(&mut child);
    let (pong, xlen) = timed?;
    stopped?;
    println!("pong_s={pong:.4} xlen_s={xlen:.4}");
    Ok(())
}

async fn time_restart(
    addr: &str,
    key: &str,
    expect: u64,
    child: &mut Child,
    start: Instant,
    timeout: Duration,
) -> Result<(f64, f64)> {
    let mut conn = None;
    let mut pong = None;
    loop {
        ensure!(child.try_wait()?.is_none(), "server exited during restart");
        ensure!(start.elapsed() < timeout, "not ready within {timeout:?}");
        if conn.is_none() {
            conn = Conn::connect(addr).await.ok();
        }
        if let Some(c) = conn.as_mut() {
            let step = if pong.is_none() {
                c.call(&[b"PING"]).await
            } else {
                c.call(&[b"XLEN", key.as_bytes()]).await
            };
            match step {
                Ok(Reply::Bulk(p)) if p == b"PONG" => {
                    pong = Some(start.elapsed().as_secs_f64());
                    continue;
                }
                Ok(Reply::Int(n)) if n as u64 == expect => {
                    let done = start.elapsed().as_secs_f64();
                    return Ok((pong.unwrap_or(done), done));
                }
                // Still loading: ask again. Any other error will not go away by waiting.
                Ok(Reply::Error(e)) if !e.starts_with("LOADING") => bail!("server replied {e}"),
                // A short XLEN: the server may serve before it has replayed everything.
                Ok(_) => {}
                Err(_) => conn = None,
            }
        }
        tokio::time::sleep(Duration::from_millis(1)).await;
    }
}

/// SIGTERM, then SIGKILL if the server has not exited after 60 s.
fn stop(child: &mut Child) -> Result<()> {
    let pid = rustix::process::Pid::from_raw(i32::try_from(child.id())?).context("bad pid")?;
    let _ = rustix::process::kill_process(pid, rustix::process::Signal::TERM);
    let deadline = Instant::now() + Duration::from_secs(60);
    while Instant::now() < deadline {
        if child.try_wait()?.is_some() {
            return Ok(());
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    child.kill()?;
    child.wait()?;
    bail!("server ignored SIGTERM for 60 s and was killed")
}

/// Whether `pid` is running (not exited, not a zombie waiting to be reaped).
pub(crate) fn process_alive(pid: u32) -> bool {
    match std::fs::read_to_string(format!("/proc/{pid}/stat")) {
        Ok(stat) => stat
            .rsplit(')')
            .next()
            .is_some_and(|rest| !rest.trim_start().starts_with('Z')),
        Err(_) => false,
    }
}
