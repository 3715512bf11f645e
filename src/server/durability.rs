//! Group commit for `appendfsync always`, off the tokio worker threads.
//!
//! A dedicated thread waits for requests, then makes everything written so
//! far durable with one fdatasync (however many connections asked
//! meanwhile) and publishes the new durable end on a `watch` channel.
//! Connections that wrote (or read data not yet durable) await that channel
//! before their replies leave, so no reply acknowledges a write that a crash
//! could lose, and no worker thread ever blocks on the disk.

use std::sync::Arc;
use std::sync::mpsc;

use tokio::sync::watch;

use crate::store::Store;

/// What the sync thread last achieved.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Durable {
    /// Everything before this log position is durable.
    pub end: u64,
    /// A sync failed: the log is poisoned and nothing more will become durable.
    pub failed: bool,
}

/// The handle connections use to wait for durability.
#[derive(Debug)]
pub struct Durability {
    store: Arc<Store>,
    requests: mpsc::Sender<()>,
    durable: watch::Receiver<Durable>,
}

/// Durability could not be reached: the write-ahead log failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("the write-ahead log could not be synced")]
pub struct SyncFailed;

impl Durability {
    /// Starts the sync thread for `store`.
    ///
    /// # Errors
    /// The thread could not be spawned.
    pub fn start(store: Arc<Store>) -> std::io::Result<Durability> {
        let (tx, rx) = mpsc::channel::<()>();
        let initial = Durable {
            end: store.durable_end(),
            failed: false,
        };
        let (state_tx, state_rx) = watch::channel(initial);
        let thread_store = Arc::clone(&store);
        std::thread::Builder::new()
            .name("eddy-sync".into())
            .spawn(move || {
                // Ends when every sender (the Durability handle) is dropped.
                while rx.recv().is_ok() {
                    // Every request queued so far is covered by this one sync.
                    while rx.try_recv().is_ok() {}
                    match thread_store.sync() {
                        Ok(end) => {
                            state_tx.send_replace(Durable { end, failed: false });
                        }
                        Err(e) => {
                            tracing::warn!("Write-ahead log sync failed: {e}");
                            state_tx.send_replace(Durable {
                                end: thread_store.durable_end(),
                                failed: true,
                            });
                        }
                    }
                }
            })?;
        Ok(Durability {
            store,
            requests: tx,
            durable: state_rx,
        })
    }

    /// Waits until every record before `end` is durable.
    ///
    /// # Errors
    /// [`SyncFailed`] if the log cannot be synced.
    pub async fn wait(&self, end: u64) -> Result<(), SyncFailed> {
        if self.store.durable_end() >= end {
            return Ok(());
        }
        let mut rx = self.durable.clone();
        self.requests.send(()).map_err(|_| SyncFailed)?;
        let state = rx
            .wait_for(|d| d.failed || d.end >= end)
            .await
            .map_err(|_| SyncFailed)?;
        if state.end >= end {
            Ok(())
        } else {
            Err(SyncFailed)
        }
    }
}
