//! The consumer-group loads: a real consume loop (XREADGROUP COUNT n, then XACK of what
//! was read), XREADGROUP alone, and XACK alone, each checked against XPENDING.
//!
//! It does not produce while consuming: the stream is filled first, so "drained" means
//! the group has delivered every entry.

use std::sync::Arc;
use std::time::Instant;

use anyhow::{Result, bail, ensure};

use crate::resp::{Conn, Reply, Shape, encode, encode_into, reply_ids};
use crate::{closed_loop, fill};

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

pub(crate) async fn consume(
    addr: &str,
    key: &str,
    entries: u64,
    consumers: u64,
    count: u64,
) -> Result<()> {
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
            Shape::Int(1) => Ok(()),
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
