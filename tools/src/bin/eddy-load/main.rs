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

mod consume;
mod latency;
mod members;
mod resp;
mod restart;

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use anyhow::{Result, bail, ensure};
use clap::{Args, Parser, Subcommand};

use crate::resp::{Conn, Reply, Shape, encode, encode_into};

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

/// How a load that repeats one command is driven.
#[derive(Debug, Args)]
struct Repeat {
    #[arg(long, default_value_t = 50)]
    clients: u64,
    #[arg(long)]
    requests: u64,
    #[arg(long, default_value_t = 1)]
    pipeline: u64,
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
        #[command(flatten)]
        shape: Repeat,
        #[arg(long, default_value_t = 10)]
        value_size: usize,
    },
    /// PING from `clients` connections, `pipeline` per round trip: the most requests per
    /// second this client and the loopback round trips allow, whatever the server.
    Ping {
        #[command(flatten)]
        shape: Repeat,
    },
    /// Write `members` members (`m:0`, `m:1`, ...) with the same scores or positions in
    /// every run: into a sorted set (`zadd`) or geo set (`geoadd`), or as stream entries
    /// a view derives one from (`zadd-events`, `geoadd-events`).
    Members {
        #[arg(long)]
        key: String,
        #[arg(long, value_enum)]
        form: members::Form,
        #[arg(long)]
        members: u64,
        #[arg(long, default_value_t = 4)]
        conns: u64,
        #[arg(long, default_value_t = 256)]
        pipeline: u64,
    },
    /// XRANGE key <random id> + COUNT `count` on a stream filled with `fill --seq-ids`;
    /// with `--rev`, XREVRANGE key <random id> - COUNT `count`.
    Xrange {
        #[arg(long)]
        key: String,
        #[arg(long, default_value_t = 50)]
        clients: u64,
        #[arg(long)]
        requests: u64,
        #[arg(long, default_value_t = 10)]
        count: u64,
        #[arg(long)]
        rev: bool,
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
            shape,
            value_size,
        } => {
            let value = vec![b'v'; value_size];
            let cmd = encode(&[b"XADD", key.as_bytes(), b"*", b"f", &value]);
            let rate = repeat(&addr, "XADD", cmd, &shape).await?;
            println!("rate={rate:.0}");
        }
        Load::Ping { shape } => {
            let rate = repeat(&addr, "PING", encode(&[b"PING"]), &shape).await?;
            println!("rate={rate:.0}");
        }
        Load::Members {
            key,
            form,
            members,
            conns,
            pipeline,
        } => {
            let rate = members::members(&addr, &key, form, members, conns, pipeline).await?;
            println!("rate={rate:.0}");
        }
        Load::Xrange {
            key,
            clients,
            requests,
            count,
            rev,
        } => {
            let rate = xrange(&addr, &key, clients, requests, count, rev).await?;
            println!("rate={rate:.0}");
        }
        Load::Consume {
            key,
            entries,
            consumers,
            count,
        } => {
            consume::consume(&addr, &key, entries, consumers, count).await?;
        }
        Load::Block {
            key,
            consumers,
            samples,
        } => {
            latency::block(&addr, &key, consumers, samples).await?;
        }
        Load::Restart {
            key,
            expect_len,
            log,
            timeout_ms,
            command,
        } => {
            restart::restart(
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

async fn wait_ready(addr: &str, pid: Option<u32>, timeout: Duration) -> Result<f64> {
    let start = Instant::now();
    loop {
        if let Some(pid) = pid {
            ensure!(
                restart::process_alive(pid),
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
pub(crate) async fn closed_loop<B, C>(
    addr: &str,
    clients: u64,
    requests: u64,
    pipeline: u64,
    build: B,
    check: C,
) -> Result<f64>
where
    B: Fn(&mut Vec<u8>, u64, &mut u64) + Send + Sync + 'static,
    C: Fn(&Shape) -> Result<()> + Send + Sync + 'static,
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
                    check(&conn.read_shape().await?)?;
                }
            }
        }));
    }
    for task in tasks {
        task.await??;
    }
    Ok(requests as f64 / start.elapsed().as_secs_f64())
}

/// Sends the same command `requests` times (XADD with `*`, PING); each reply must be a
/// string (an ID, or `+PONG`, which skims as one).
async fn repeat(addr: &str, name: &'static str, cmd: Vec<u8>, shape: &Repeat) -> Result<f64> {
    closed_loop(
        addr,
        shape.clients,
        shape.requests,
        shape.pipeline,
        move |out, _, _| out.extend_from_slice(&cmd),
        move |r| {
            ensure!(*r == Shape::Bulk, "{name} replied {r:?}");
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

async fn xrange(
    addr: &str,
    key: &str,
    clients: u64,
    requests: u64,
    count: u64,
    rev: bool,
) -> Result<f64> {
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
            // IDs run 1-0..len-0: the start leaves `count` entries after it (the end,
            // reading backwards, `count` entries before it).
            let from = 1 + xorshift(rng) % (len - count);
            let (name, start, end) = if rev {
                (&b"XREVRANGE"[..], format!("{}-0", from + count), "-")
            } else {
                (&b"XRANGE"[..], format!("{from}-0"), "+")
            };
            encode_into(
                out,
                &[
                    name,
                    &key,
                    start.as_bytes(),
                    end.as_bytes(),
                    b"COUNT",
                    count_arg.as_bytes(),
                ],
            );
        },
        move |r| match r {
            Shape::Array(n) if *n as u64 == count => Ok(()),
            other => bail!("XRANGE/XREVRANGE replied {other:?}"),
        },
    )
    .await
}
