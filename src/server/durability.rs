//! Group commit for `appendfsync always`, off the tokio worker threads.
//!
//! A dedicated thread waits for requests, then makes everything written so
//! far durable with one fdatasync (however many connections asked
//! meanwhile) and publishes the new durable end on a `watch` channel.
//! Connections that wrote (or read data not yet durable) await that channel
//! before their replies leave, so no reply acknowledges a write that a crash
//! could lose, and no worker thread ever blocks on the disk.
//!
//! The sync thread's channel is watched by one relay task on the server's
//! runtime, which republishes each new state on a second channel that the
//! connections wait on: a sync wakes the event loop once (one cross-thread
//! wake-up), and the relay wakes the waiting connections from inside it,
//! instead of every waiting connection being woken from the sync thread.

use std::sync::atomic::{AtomicBool, Ordering::SeqCst};
use std::sync::mpsc;
use std::sync::{Arc, Mutex, PoisonError};
use std::thread::JoinHandle;

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

/// What the sync thread is asked to do.
#[derive(Debug, Clone, Copy)]
enum Request {
    Sync,
    Stop,
}

/// The handle connections use to wait for durability.
#[derive(Debug)]
pub struct Durability {
    store: Arc<Store>,
    requests: mpsc::Sender<Request>,
    /// A sync was requested and the sync thread has not started it yet: a
    /// waiter whose record is already written is covered by that sync and
    /// need not ask again (one request per round, not one per connection).
    requested: Arc<AtomicBool>,
    /// The relay's copy of the sync thread's state (see the module docs).
    durable: watch::Receiver<Durable>,
    thread: Mutex<Option<JoinHandle<()>>>,
}

/// Durability could not be reached: the write-ahead log failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("the write-ahead log could not be synced")]
pub struct SyncFailed;

impl Durability {
    /// Starts the sync thread for `store`, and the relay task on the current
    /// tokio runtime (so this must be called from inside one).
    ///
    /// # Errors
    /// The thread could not be spawned.
    pub fn start(store: Arc<Store>) -> std::io::Result<Durability> {
        let (tx, rx) = mpsc::channel::<Request>();
        let initial = Durable {
            end: store.durable_end(),
            failed: false,
        };
        let (state_tx, mut state_rx) = watch::channel(initial);
        let (relay_tx, relay_rx) = watch::channel(initial);
        // Ends when the sync thread ends (its sender is dropped), which then
        // drops `relay_tx`, so waiters learn that no sync will come.
        tokio::spawn(async move {
            while state_rx.changed().await.is_ok() {
                let state = *state_rx.borrow_and_update();
                relay_tx.send_replace(state);
            }
        });
        let thread_store = Arc::clone(&store);
        let requested = Arc::new(AtomicBool::new(false));
        let thread_requested = Arc::clone(&requested);
        let thread = std::thread::Builder::new()
            .name("eddy-sync".into())
            .spawn(move || {
                // Ends on Stop, or when the Durability handle is dropped.
                while let Ok(Request::Sync) = rx.recv() {
                    // Every request queued so far is covered by this one sync.
                    let mut stop = false;
                    while let Ok(r) = rx.try_recv() {
                        stop |= matches!(r, Request::Stop);
                    }
                    // Cleared after the queue is drained (a request sent
                    // after this stays queued for the next turn) and before
                    // the sync reads the log's end (whoever found it set
                    // wrote its records before that read).
                    thread_requested.store(false, SeqCst);
                    let state = match thread_store.sync() {
                        Ok(end) => Durable { end, failed: false },
                        Err(e) => {
                            tracing::warn!("Write-ahead log sync failed: {e}");
                            Durable {
                                end: thread_store.durable_end(),
                                failed: true,
                            }
                        }
                    };
                    state_tx.send_replace(state);
                    if stop {
                        break;
                    }
                }
            })?;
        Ok(Durability {
            store,
            requests: tx,
            requested,
            durable: relay_rx,
            thread: Mutex::new(Some(thread)),
        })
    }

    /// Stops the sync thread and waits for it, so it no longer holds the
    /// store (whose log stays locked while anything holds it).
    pub async fn stop(&self) {
        let _ = self.requests.send(Request::Stop);
        let handle = self
            .thread
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .take();
        if let Some(h) = handle {
            let _ = tokio::task::spawn_blocking(move || h.join()).await;
        }
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
        if !self.requested.swap(true, SeqCst) {
            self.requests.send(Request::Sync).map_err(|_| SyncFailed)?;
        }
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::{AddArgs, StoreOptions};

    /// Many writers racing with the sync thread: every wait must return (a
    /// request swallowed while the "sync requested" flag stays set would
    /// leave a waiter with nobody to sync for it), and must return only
    /// once its record is durable.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn every_waiter_is_woken_once_its_record_is_durable() {
        let dir = tempfile::tempdir().expect("tempdir");
        let mut opts = StoreOptions::default();
        opts.wal.fsync = crate::FsyncPolicy::Always;
        opts.wait_for_durability = false;
        let store = Arc::new(Store::open(dir.path(), opts).expect("open"));
        let durability = Arc::new(Durability::start(Arc::clone(&store)).expect("start"));
        let mut tasks = Vec::new();
        for t in 0..8u8 {
            let (store, durability) = (Arc::clone(&store), Arc::clone(&durability));
            tasks.push(tokio::spawn(async move {
                for _ in 0..200 {
                    let fields: [(&[u8], &[u8]); 1] = [(b"f", &[t])];
                    store.xadd(b"s", &AddArgs::new(&fields)).expect("xadd");
                    let end = store.log_end();
                    durability.wait(end).await.expect("durable");
                    assert!(store.durable_end() >= end);
                }
            }));
        }
        let all = async {
            for t in tasks {
                t.await.expect("writer");
            }
        };
        // A lost wake-up hangs forever; the bound only turns that into a failure.
        tokio::time::timeout(std::time::Duration::from_secs(120), all)
            .await
            .expect("a waiter was never woken");
        assert_eq!(store.xlen(b"s").expect("xlen"), 1600);
        durability.stop().await;
    }
}
