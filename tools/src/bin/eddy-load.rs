//! `eddy-load`: the load generator behind `benches/compare/run.sh`.
//!
//! It drives any server that speaks RESP2 (eddy or redis-server) over plain TCP with a
//! minimal hand-written encoder and decoder, so the same bytes go to both servers and the
//! client costs the same on both sides. It runs the loads `redis-benchmark` cannot express
//! (a real XREADGROUP + XACK consume loop, XREAD BLOCK wake-up latency, restart timing),
//! checks every reply it counts, and prints one line of `name=value` pairs per run.
//!
//! It does not start or stop the servers it measures (except the child of `restart`), and
//! it does not aggregate runs into medians: the harness script does both.

use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail, ensure};
use clap::{Parser, Subcommand};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::sync::mpsc;

#[derive(Debug, Parser)]
#[command(about = "RESP load generator for side-by-side eddy / Redis benchmarks")]
struct Cli {
    /// Server host (loopback by default).
    #[arg(long, default_value = "127.0.0.1", global = true)]
    host: String,
    /// Server port.
    #[arg(long, default_value_t = 6379, global = true)]
    port: u16,
    /// Client runtime threads; 1 runs everything on one thread, like redis-benchmark.
    #[arg(long, default_value_t = 1, global = true)]
    threads: usize,
    #[command(subcommand)]
    load: Load,
}

#[derive(Debug, Subcommand)]
enum Load {
    /// Print a free loopback TCP port.
    FreePort,
    /// Wait until the server answers PING with PONG; fail if process `pid` exits first.
    Wait {
        #[arg(long)]
        pid: Option<u32>,
        #[arg(long, default_value_t = 10_000)]
        timeout_ms: u64,
    },
    /// Send one command and print its reply (errors go to stderr, exit status 1).
    Call { args: Vec<String> },
    /// Append `entries` entries of three small fields (`a <n> b click c <n%100>`).
    Fill {
        #[arg(long)]
        key: String,
        #[arg(long)]
        entries: u64,
        /// Connections writing in parallel (IDs are `*`); with 1 connection and `--seq-ids`
        /// the IDs are `1-0`, `2-0`, ...
        #[arg(long, default_value_t = 4)]
        conns: u64,
        #[arg(long, default_value_t = 256)]
        pipeline: u64,
        #[arg(long)]
        seq_ids: bool,
    },
    /// XADD key * f <value> from `clients` connections, `pipeline` commands per round trip.
    Xadd {
        #[arg(long)]
        key: String,
        #[arg(long, default_value_t = 50)]
        clients: u64,
        #[arg(long)]
        requests: u64,
        #[arg(long, default_value_t = 1)]
        pipeline: u64,
        #[arg(long, default_value_t = 10)]
        value_size: usize,
    },
    /// XRANGE key <random id> + COUNT `count` on a stream filled with `fill --seq-ids`.
    Xrange {
        #[arg(long)]
        key: String,
        #[arg(long, default_value_t = 50)]
        clients: u64,
        #[arg(long)]
        requests: u64,
        #[arg(long, default_value_t = 10)]
        count: u64,
    },
    /// Fill a stream, then: a consume loop (XREADGROUP COUNT n + XACK of what was read),
    /// XREADGROUP alone, and XACK alone (one ID per call), each with `consumers` clients.
    Consume {
        #[arg(long)]
        key: String,
        #[arg(long)]
        entries: u64,
        #[arg(long, default_value_t = 50)]
        consumers: u64,
        #[arg(long, default_value_t = 10)]
        count: u64,
    },
    /// XREAD BLOCK wake-up latency: `consumers` blocked readers, one producer.
    Block {
        #[arg(long)]
        key: String,
        #[arg(long, default_value_t = 1)]
        consumers: u64,
        #[arg(long, default_value_t = 1000)]
        samples: u64,
    },
    /// Start a server (`-- command args...`) on `--port`, time the first PONG and the first
    /// correct XLEN, then stop it with SIGTERM.
    Restart {
        #[arg(long)]
        key: String,
        #[arg(long)]
        expect_len: u64,
        /// Where the server's stdout and stderr go.
        #[arg(long)]
        log: std::path::PathBuf,
        #[arg(long, default_value_t = 600_000)]
        timeout_ms: u64,
        #[arg(last = true, required = true)]
        command: Vec<String>,
    },
}

fn main() {
    if let Err(e) = run_cli(Cli::parse()) {
        eprintln!("eddy-load: {e:#}");
        std::process::exit(1);
    }
}

fn run_cli(cli: Cli) -> Result<()> {
    let runtime = if cli.threads <= 1 {
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()?
    } else {
        tokio::runtime::Builder::new_multi_thread()
            .worker_threads(cli.threads)
            .enable_all()
            .build()?
    };
    let addr = format!("{}:{}", cli.host, cli.port);
    runtime.block_on(run(addr, cli.load))
}

async fn run(addr: String, load: Load) -> Result<()> {
    match load {
        Load::FreePort => {
            let listener = std::net::TcpListener::bind("127.0.0.1:0")?;
            println!("{}", listener.local_addr()?.port());
        }
        Load::Wait { pid, timeout_ms } => {
            let ms = wait_ready(&addr, pid, Duration::from_millis(timeout_ms)).await?;
            println!("ready_ms={ms:.1}");
        }
        Load::Call { args } => {
            let mut conn = Conn::connect(&addr).await?;
            let args: Vec<&[u8]> = args.iter().map(|a| a.as_bytes()).collect();
            match conn.call(&args).await? {
                Reply::Error(e) => bail!("server replied: {e}"),
                reply => println!("{}", reply.display()),
            }
        }
        Load::Fill {
            key,
            entries,
            conns,
            pipeline,
            seq_ids,
        } => {
            let conns = if seq_ids { 1 } else { conns };
            let start = Instant::now();
            fill(&addr, &key, entries, conns, pipeline, seq_ids).await?;
            let secs = start.elapsed().as_secs_f64();
            println!(
                "entries={entries} secs={secs:.3} rate={:.0}",
                entries as f64 / secs
            );
        }
        Load::Xadd {
            key,
            clients,
            requests,
            pipeline,
            value_size,
        } => {
            let value = vec![b'v'; value_size];
            let cmd = encode(&[b"XADD", key.as_bytes(), b"*", b"f", &value]);
            let rate = xadd(&addr, cmd, clients, requests, pipeline).await?;
            println!("rate={rate:.0}");
        }
        Load::Xrange {
            key,
            clients,
            requests,
            count,
        } => {
            let rate = xrange(&addr, &key, clients, requests, count).await?;
            println!("rate={rate:.0}");
        }
        Load::Consume {
            key,
            entries,
            consumers,
            count,
        } => {
            consume(&addr, &key, entries, consumers, count).await?;
        }
        Load::Block {
            key,
            consumers,
            samples,
        } => {
            block(&addr, &key, consumers, samples).await?;
        }
        Load::Restart {
            key,
            expect_len,
            log,
            timeout_ms,
            command,
        } => {
            restart(
                &addr,
                &key,
                expect_len,
                &log,
                Duration::from_millis(timeout_ms),
                &command,
            )
            .await?;
        }
    }
    Ok(())
}

// ---------------------------------------------------------------------------------------
// RESP2: just enough to encode commands and decode replies.

/// One decoded reply. Simple strings and bulk strings are both `Bulk`.
#[derive(Debug, Clone, PartialEq)]
enum Reply {
    Bulk(Vec<u8>),
    Error(String),
    Int(i64),
    Nil,
    Array(Vec<Reply>),
}

impl Reply {
    fn display(&self) -> String {
        match self {
            Reply::Bulk(b) => String::from_utf8_lossy(b).into_owned(),
            Reply::Error(e) => format!("(error) {e}"),
            Reply::Int(i) => i.to_string(),
            Reply::Nil => "(nil)".to_string(),
            Reply::Array(items) => items
                .iter()
                .map(Reply::display)
                .collect::<Vec<_>>()
                .join("\n"),
        }
    }

    fn is_bulk(&self) -> bool {
        matches!(self, Reply::Bulk(_))
    }
}

/// Appends the RESP encoding of one command to `out`.
fn encode_into(out: &mut Vec<u8>, args: &[&[u8]]) {
    out.extend_from_slice(format!("*{}\r\n", args.len()).as_bytes());
    for arg in args {
        out.extend_from_slice(format!("${}\r\n", arg.len()).as_bytes());
        out.extend_from_slice(arg);
        out.extend_from_slice(b"\r\n");
    }
}

fn encode(args: &[&[u8]]) -> Vec<u8> {
    let mut out = Vec::new();
    encode_into(&mut out, args);
    out
}

/// Decodes one reply from the front of `buf`: `Ok(None)` if it is not complete yet,
/// otherwise the reply and the number of bytes it took.
fn decode(buf: &[u8]) -> Result<Option<(Reply, usize)>> {
    let Some(end) = buf.windows(2).position(|w| w == b"\r\n") else {
        return Ok(None);
    };
    let Some((&kind, line)) = buf[..end].split_first() else {
        bail!("empty reply line");
    };
    let line = std::str::from_utf8(line).context("reply line is not UTF-8")?;
    let after = end + 2;
    let number = || {
        line.parse::<i64>()
            .with_context(|| format!("bad length {line:?}"))
    };
    Ok(Some(match kind {
        b'+' => (Reply::Bulk(line.as_bytes().to_vec()), after),
        b'-' => (Reply::Error(line.to_string()), after),
        b':' => (Reply::Int(number()?), after),
        b'_' => (Reply::Nil, after),
        b'$' => {
            let len = number()?;
            if len < 0 {
                return Ok(Some((Reply::Nil, after)));
            }
            let len = usize::try_from(len)?;
            if buf.len() < after + len + 2 {
                return Ok(None);
            }
            (
                Reply::Bulk(buf[after..after + len].to_vec()),
                after + len + 2,
            )
        }
        b'*' => {
            let len = number()?;
            if len < 0 {
                return Ok(Some((Reply::Nil, after)));
            }
            let mut items = Vec::with_capacity(usize::try_from(len)?.min(1024));
            let mut at = after;
            for _ in 0..len {
                let Some((item, used)) = decode(&buf[at..])? else {
                    return Ok(None);
                };
                items.push(item);
                at += used;
            }
            (Reply::Array(items), at)
        }
        other => bail!("unexpected reply type byte {other:#04x}"),
    }))
}

/// A client connection: a socket and a read buffer of not yet decoded bytes.
#[derive(Debug)]
struct Conn {
    sock: TcpStream,
    buf: Vec<u8>,
    start: usize,
}

impl Conn {
    async fn connect(addr: &str) -> Result<Conn> {
        let sock = TcpStream::connect(addr)
            .await
            .with_context(|| format!("connect {addr}"))?;
        sock.set_nodelay(true)?;
        Ok(Conn {
            sock,
            buf: Vec::with_capacity(64 * 1024),
            start: 0,
        })
    }

    async fn send(&mut self, bytes: &[u8]) -> Result<()> {
        self.sock.write_all(bytes).await.context("write to server")
    }

    async fn read(&mut self) -> Result<Reply> {
        loop {
            if let Some((reply, used)) = decode(&self.buf[self.start..])? {
                self.start += used;
                if self.start == self.buf.len() {
                    self.buf.clear();
                    self.start = 0;
                }
                return Ok(reply);
            }
            if self.start > 0 {
                self.buf.drain(..self.start);
                self.start = 0;
            }
            if self.buf.capacity() - self.buf.len() < 16 * 1024 {
                self.buf.reserve(64 * 1024);
            }
            let n = self
                .sock
                .read_buf(&mut self.buf)
                .await
                .context("read from server")?;
            ensure!(n > 0, "server closed the connection");
        }
    }

    async fn call(&mut self, args: &[&[u8]]) -> Result<Reply> {
        self.send(&encode(args)).await?;
        self.read().await
    }
}

// ---------------------------------------------------------------------------------------
// Loads.

async fn wait_ready(addr: &str, pid: Option<u32>, timeout: Duration) -> Result<f64> {
    let start = Instant::now();
    loop {
        if let Some(pid) = pid {
            ensure!(
                process_alive(pid),
                "process {pid} exited before answering PING"
            );
        }
        if let Ok(mut conn) = Conn::connect(addr).await
            && let Ok(Reply::Bulk(pong)) = conn.call(&[b"PING"]).await
            && pong == b"PONG"
        {
            // A stale server on the same port would answer too: check it is ours.
            if let (Some(pid), Ok(Reply::Bulk(info))) =
                (pid, conn.call(&[b"INFO", b"server"]).await)
                && let Some(served_by) = info_field(&info, "process_id")
            {
                ensure!(
                    served_by == pid.to_string(),
                    "{addr} is served by pid {served_by}"
                );
            }
            return Ok(start.elapsed().as_secs_f64() * 1e3);
        }
        ensure!(
            start.elapsed() < timeout,
            "no PONG from {addr} within {timeout:?}"
        );
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
}

/// Whether `pid` is running (not exited, not a zombie waiting to be reaped).
fn process_alive(pid: u32) -> bool {
    match std::fs::read_to_string(format!("/proc/{pid}/stat")) {
        Ok(stat) => stat
            .rsplit(')')
            .next()
            .is_some_and(|rest| !rest.trim_start().starts_with('Z')),
        Err(_) => false,
    }
}

fn info_field(info: &[u8], name: &str) -> Option<String> {
    let text = String::from_utf8_lossy(info);
    text.lines()
        .find_map(|l| l.strip_prefix(name).and_then(|r| r.strip_prefix(':')))
        .map(|v| v.trim().to_string())
}

fn fill_command(out: &mut Vec<u8>, key: &[u8], n: u64, seq_ids: bool) {
    let id = if seq_ids {
        format!("{}-0", n + 1)
    } else {
        "*".to_string()
    };
    let a = n.to_string();
    let c = (n % 100).to_string();
    encode_into(
        out,
        &[
            b"XADD",
            key,
            id.as_bytes(),
            b"a",
            a.as_bytes(),
            b"b",
            b"click",
            b"c",
            c.as_bytes(),
        ],
    );
}

async fn fill(
    addr: &str,
    key: &str,
    entries: u64,
    conns: u64,
    pipeline: u64,
    seq: bool,
) -> Result<()> {
    let next = Arc::new(AtomicU64::new(0));
    let mut tasks = Vec::new();
    for _ in 0..conns.max(1) {
        let (addr, key, next) = (addr.to_string(), key.to_string(), next.clone());
        tasks.push(tokio::spawn(async move {
            let mut conn = Conn::connect(&addr).await?;
            let mut batch = Vec::new();
            loop {
                let first = next.fetch_add(pipeline, Ordering::Relaxed);
                if first >= entries {
                    return anyhow::Ok(());
                }
                let last = (first + pipeline).min(entries);
                batch.clear();
                for n in first..last {
                    fill_command(&mut batch, key.as_bytes(), n, seq);
                }
                conn.send(&batch).await?;
                for _ in first..last {
                    let reply = conn.read().await?;
                    ensure!(reply.is_bulk(), "XADD during fill replied {reply:?}");
                }
            }
        }));
    }
    for task in tasks {
        task.await??;
    }
    Ok(())
}

/// Runs `clients` connections that each claim `pipeline` requests at a time from a shared
/// budget of `requests`, build them with `build`, and check each reply with `check`.
/// Returns requests per second.
async fn closed_loop<B, C>(
    addr: &str,
    clients: u64,
    requests: u64,
    pipeline: u64,
    build: B,
    check: C,
) -> Result<f64>
where
    B: Fn(&mut Vec<u8>, u64, &mut u64) + Send + Sync + 'static,
    C: Fn(&Reply) -> Result<()> + Send + Sync + 'static,
{
    let (build, check) = (Arc::new(build), Arc::new(check));
    let next = Arc::new(AtomicU64::new(0));
    let mut conns = Vec::new();
    for _ in 0..clients {
        conns.push(Conn::connect(addr).await?);
    }
    let start = Instant::now();
    let mut tasks = Vec::new();
    for (i, mut conn) in conns.into_iter().enumerate() {
        let (next, build, check) = (next.clone(), build.clone(), check.clone());
        tasks.push(tokio::spawn(async move {
            let mut rng = 0x9E37_79B9_7F4A_7C15_u64 ^ (i as u64 + 1);
            let mut batch = Vec::new();
            loop {
                let first = next.fetch_add(pipeline, Ordering::Relaxed);
                if first >= requests {
                    return anyhow::Ok(());
                }
                let last = (first + pipeline).min(requests);
                batch.clear();
                for n in first..last {
                    build(&mut batch, n, &mut rng);
                }
                conn.send(&batch).await?;
                for _ in first..last {
                    check(&conn.read().await?)?;
                }
            }
        }));
    }
    for task in tasks {
        task.await??;
    }
    Ok(requests as f64 / start.elapsed().as_secs_f64())
}

async fn xadd(addr: &str, cmd: Vec<u8>, clients: u64, requests: u64, pipeline: u64) -> Result<f64> {
    closed_loop(
        addr,
        clients,
        requests,
        pipeline,
        move |out, _, _| out.extend_from_slice(&cmd),
        |r| {
            ensure!(r.is_bulk(), "XADD replied {r:?}");
            Ok(())
        },
    )
    .await
}

fn xorshift(state: &mut u64) -> u64 {
    *state ^= *state << 13;
    *state ^= *state >> 7;
    *state ^= *state << 17;
    *state
}

async fn xrange(addr: &str, key: &str, clients: u64, requests: u64, count: u64) -> Result<f64> {
    let mut conn = Conn::connect(addr).await?;
    let len = match conn.call(&[b"XLEN", key.as_bytes()]).await? {
        Reply::Int(n) => u64::try_from(n)?,
        other => bail!("XLEN replied {other:?}"),
    };
    ensure!(
        len > count,
        "stream {key} has {len} entries; fill it with `fill --seq-ids` first"
    );
    let key = key.as_bytes().to_vec();
    let count_arg = count.to_string();
    closed_loop(
        addr,
        clients,
        requests,
        1,
        move |out, _, rng| {
            let start = format!("{}-0", 1 + xorshift(rng) % (len - count));
            encode_into(
                out,
                &[
                    b"XRANGE",
                    &key,
                    start.as_bytes(),
                    b"+",
                    b"COUNT",
                    count_arg.as_bytes(),
                ],
            );
        },
        move |r| match r {
            Reply::Array(entries) if entries.len() as u64 == count => Ok(()),
            other => bail!("XRANGE replied {other:?}"),
        },
    )
    .await
}

/// The IDs in an XREADGROUP/XREAD reply (`[[key, [[id, fields]...]]...]`).
fn reply_ids(reply: &Reply) -> Result<Vec<Vec<u8>>> {
    let mut ids = Vec::new();
    match reply {
        Reply::Nil => {}
        Reply::Array(streams) => {
            for stream in streams {
                let Reply::Array(kv) = stream else {
                    bail!("bad stream reply {stream:?}")
                };
                let Some(Reply::Array(entries)) = kv.get(1) else {
                    bail!("bad stream reply {kv:?}")
                };
                for entry in entries {
                    match entry {
                        Reply::Array(e) => match e.first() {
                            Some(Reply::Bulk(id)) => ids.push(id.clone()),
                            _ => bail!("bad entry {e:?}"),
                        },
                        _ => bail!("bad entry {entry:?}"),
                    }
                }
            }
        }
        other => bail!("read replied {other:?}"),
    }
    Ok(ids)
}

fn expect_ok(reply: Reply, what: &str) -> Result<()> {
    match reply {
        Reply::Bulk(ok) if ok == b"OK" => Ok(()),
        other => bail!("{what} replied {other:?}"),
    }
}

async fn pending_count(conn: &mut Conn, key: &str, group: &str) -> Result<i64> {
    match conn
        .call(&[b"XPENDING", key.as_bytes(), group.as_bytes()])
        .await?
    {
        Reply::Array(summary) => match summary.first() {
            Some(Reply::Int(n)) => Ok(*n),
            _ => bail!("XPENDING replied {summary:?}"),
        },
        other => bail!("XPENDING replied {other:?}"),
    }
}

/// What one consumer did: XREADGROUP calls, entries read, and (when not acknowledging)
/// the IDs read.
#[derive(Debug, Default)]
struct Consumed {
    calls: u64,
    entries: u64,
    ids: Vec<Vec<u8>>,
}

/// One consumer of `group`: reads with XREADGROUP COUNT `count` until the group has no new
/// entries; acknowledges each batch with one XACK when `ack`, else keeps the IDs.
async fn consumer(
    addr: String,
    key: String,
    group: String,
    name: String,
    count: u64,
    ack: bool,
) -> Result<Consumed> {
    let mut conn = Conn::connect(&addr).await?;
    let count = count.to_string();
    let read = encode(&[
        b"XREADGROUP",
        b"GROUP",
        group.as_bytes(),
        name.as_bytes(),
        b"COUNT",
        count.as_bytes(),
        b"STREAMS",
        key.as_bytes(),
        b">",
    ]);
    let mut done = Consumed::default();
    let mut ack_cmd = Vec::new();
    loop {
        conn.send(&read).await?;
        done.calls += 1;
        let ids = reply_ids(&conn.read().await?)?;
        if ids.is_empty() {
            return Ok(done);
        }
        done.entries += ids.len() as u64;
        if ack {
            let mut args: Vec<&[u8]> = vec![b"XACK", key.as_bytes(), group.as_bytes()];
            args.extend(ids.iter().map(Vec::as_slice));
            ack_cmd.clear();
            encode_into(&mut ack_cmd, &args);
            conn.send(&ack_cmd).await?;
            match conn.read().await? {
                Reply::Int(n) if u64::try_from(n) == Ok(ids.len() as u64) => {}
                other => bail!("XACK of {} IDs replied {other:?}", ids.len()),
            }
        } else {
            done.ids.extend(ids);
        }
    }
}

/// Runs `consumers` consumers of `group` to the end of the stream; returns their sum and
/// the seconds it took.
async fn run_group(
    addr: &str,
    key: &str,
    group: &str,
    consumers: u64,
    count: u64,
    ack: bool,
) -> Result<(Consumed, f64)> {
    let start = Instant::now();
    let tasks: Vec<_> = (0..consumers)
        .map(|i| {
            let (addr, key, group) = (addr.to_string(), key.to_string(), group.to_string());
            tokio::spawn(consumer(addr, key, group, format!("c{i}"), count, ack))
        })
        .collect();
    let mut sum = Consumed::default();
    for task in tasks {
        let one = task.await??;
        sum.calls += one.calls;
        sum.entries += one.entries;
        sum.ids.extend(one.ids);
    }
    Ok((sum, start.elapsed().as_secs_f64()))
}

async fn consume(addr: &str, key: &str, entries: u64, consumers: u64, count: u64) -> Result<()> {
    let mut conn = Conn::connect(addr).await?;
    conn.call(&[b"DEL", key.as_bytes()]).await?;
    fill(addr, key, entries, 4, 256, false).await?;
    for group in ["loop", "read"] {
        let reply = conn
            .call(&[b"XGROUP", b"CREATE", key.as_bytes(), group.as_bytes(), b"0"])
            .await?;
        expect_ok(reply, "XGROUP CREATE")?;
    }

    // The consume loop: every batch read is acknowledged before the next read.
    let (looped, loop_secs) = run_group(addr, key, "loop", consumers, count, true).await?;
    ensure!(
        looped.entries == entries,
        "consume loop read {} of {entries} entries",
        looped.entries
    );
    ensure!(
        pending_count(&mut conn, key, "loop").await? == 0,
        "consume loop left pending entries"
    );

    // XREADGROUP alone, then XACK alone (one ID per call) of everything it delivered.
    let (read, read_secs) = run_group(addr, key, "read", consumers, count, false).await?;
    ensure!(
        read.ids.len() as u64 == entries,
        "XREADGROUP delivered {} of {entries}",
        read.ids.len()
    );
    let ids = Arc::new(read.ids);
    let (key_b, ids_b) = (key.as_bytes().to_vec(), ids.clone());
    let ack_rate = closed_loop(
        addr,
        consumers,
        ids.len() as u64,
        1,
        move |out, n, _| encode_into(out, &[b"XACK", &key_b, b"read", &ids_b[n as usize]]),
        |r| match r {
            Reply::Int(1) => Ok(()),
            other => bail!("XACK replied {other:?}"),
        },
    )
    .await?;
    ensure!(
        pending_count(&mut conn, key, "read").await? == 0,
        "XACK left pending entries"
    );

    println!(
        "loop_per_s={:.0} loop_entries_per_s={:.0} xreadgroup_per_s={:.0} xack_per_s={ack_rate:.0}",
        looped.calls as f64 / loop_secs,
        entries as f64 / loop_secs,
        read.calls as f64 / read_secs,
    );
    Ok(())
}

/// A blocked reader: on each `go(last_id)` it sends XREAD BLOCK 0 after `last_id`, reports
/// that the request is out, and reports the instant the entry arrived.
async fn blocked_reader(
    mut conn: Conn,
    key: String,
    mut go: mpsc::Receiver<Vec<u8>>,
    sent: mpsc::Sender<()>,
    got: mpsc::Sender<Result<Instant>>,
) -> Result<()> {
    while let Some(last) = go.recv().await {
        conn.send(&encode(&[
            b"XREAD",
            b"BLOCK",
            b"0",
            b"STREAMS",
            key.as_bytes(),
            &last,
        ]))
        .await?;
        sent.send(()).await?;
        let reply = conn.read().await;
        let arrived = Instant::now();
        let checked = reply.and_then(|r| reply_ids(&r)).and_then(|ids| {
            ensure!(
                ids.len() == 1,
                "XREAD BLOCK woke with {} entries",
                ids.len()
            );
            Ok(arrived)
        });
        got.send(checked).await?;
    }
    Ok(())
}

async fn block(addr: &str, key: &str, consumers: u64, samples: u64) -> Result<()> {
    let mut producer = Conn::connect(addr).await?;
    producer.call(&[b"DEL", key.as_bytes()]).await?;
    let last = match producer
        .call(&[b"XADD", key.as_bytes(), b"*", b"f", b"0"])
        .await?
    {
        Reply::Bulk(id) => id,
        other => bail!("XADD replied {other:?}"),
    };
    let (sent_tx, mut sent_rx) = mpsc::channel(consumers as usize);
    let (got_tx, mut got_rx) = mpsc::channel(consumers as usize);
    let mut gos = Vec::new();
    for _ in 0..consumers {
        let (go_tx, go_rx) = mpsc::channel(1);
        let conn = Conn::connect(addr).await?;
        tokio::spawn(blocked_reader(
            conn,
            key.to_string(),
            go_rx,
            sent_tx.clone(),
            got_tx.clone(),
        ));
        gos.push(go_tx);
    }
    let mut last = last;
    let mut micros = Vec::with_capacity((samples * consumers) as usize);
    for n in 0..samples {
        for go in &gos {
            go.send(last.clone()).await.context("a reader stopped")?;
        }
        for _ in 0..consumers {
            sent_rx.recv().await.context("a reader stopped")?;
        }
        // Let the server park every reader before the entry is written.
        tokio::time::sleep(Duration::from_millis(2)).await;
        let value = n.to_string();
        let sent_at = Instant::now();
        producer
            .send(&encode(&[
                b"XADD",
                key.as_bytes(),
                b"*",
                b"f",
                value.as_bytes(),
            ]))
            .await?;
        last = match producer.read().await? {
            Reply::Bulk(id) => id,
            other => bail!("XADD replied {other:?}"),
        };
        for _ in 0..consumers {
            let arrived = got_rx.recv().await.context("a reader stopped")??;
            micros.push(arrived.duration_since(sent_at).as_secs_f64() * 1e6);
        }
    }
    micros.sort_by(f64::total_cmp);
    let pct = |p: f64| micros[((micros.len() as f64 * p) as usize).min(micros.len() - 1)];
    println!(
        "p50_us={:.1} p99_us={:.1} max_us={:.1}",
        pct(0.50),
        pct(0.99),
        pct(1.0)
    );
    Ok(())
}

async fn restart(
    addr: &str,
    key: &str,
    expect: u64,
    log: &std::path::Path,
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
