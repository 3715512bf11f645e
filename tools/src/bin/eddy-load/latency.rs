//! XREAD BLOCK wake-up latency: readers parked on a stream, one producer, and the time
//! from just before the producer writes its XADD to each reader's reply.
//!
//! Readers and producer run in this process, so one clock measures both ends.

use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail, ensure};
use tokio::sync::mpsc;

use crate::resp::{Conn, Reply, encode, reply_ids};

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

pub(crate) async fn block(addr: &str, key: &str, consumers: u64, samples: u64) -> Result<()> {
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
