//! Who is blocked on which stream, so a write wakes only the readers of the
//! streams it touched.
//!
//! Each blocked client registers one `Notify` under every key it waits on.
//! A write calls [`Waiters::wake`] for its key, which notifies every reader
//! of that key; `notify_one` keeps a permit when the reader is between its
//! look at the stream and its wait, so no wake-up is lost.

use std::collections::HashMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use tokio::sync::Notify;

type Registry = HashMap<Vec<u8>, Vec<(u64, Arc<Notify>)>>;

/// The blocked readers, by stream key.
#[derive(Debug, Default)]
pub struct Waiters {
    map: Mutex<Registry>,
    /// Registrations alive, so a write with no reader blocked anywhere (the
    /// common case) skips the lock and the lookup.
    blocked: AtomicUsize,
}

impl Waiters {
    fn lock(&self) -> MutexGuard<'_, Registry> {
        self.map.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Registers client `id` as waiting on `keys`; it is unregistered when
    /// the returned guard is dropped.
    pub fn register<'a>(
        &'a self,
        id: u64,
        keys: &[Vec<u8>],
        notify: &Arc<Notify>,
    ) -> Registration<'a> {
        let mut map = self.lock();
        self.blocked.fetch_add(1, Ordering::SeqCst);
        for k in keys {
            map.entry(k.clone())
                .or_default()
                .push((id, Arc::clone(notify)));
        }
        Registration {
            waiters: self,
            id,
            keys: keys.to_vec(),
        }
    }

    /// Wakes every reader blocked on `key`.
    pub fn wake(&self, key: &[u8]) {
        // A reader registers before it looks at the stream, and the writer
        // calls this after its write: if the count is 0 here, any reader that
        // registers later will see the write when it looks.
        if self.blocked.load(Ordering::SeqCst) == 0 {
            return;
        }
        if let Some(readers) = self.lock().get(key) {
            for (_, n) in readers {
                n.notify_one();
            }
        }
    }

    /// Wakes every blocked reader (FLUSHALL: blocked group readers must
    /// learn that their streams are gone).
    pub fn wake_all(&self) {
        for readers in self.lock().values() {
            for (_, n) in readers {
                n.notify_one();
            }
        }
    }

    /// Number of keys with blocked readers.
    pub fn keys(&self) -> usize {
        self.lock().len()
    }
}

/// Keeps a client registered while it is blocked.
#[derive(Debug)]
pub struct Registration<'a> {
    waiters: &'a Waiters,
    id: u64,
    keys: Vec<Vec<u8>>,
}

impl Drop for Registration<'_> {
    fn drop(&mut self) {
        let mut map = self.waiters.lock();
        self.waiters.blocked.fetch_sub(1, Ordering::SeqCst);
        for k in &self.keys {
            if let Some(v) = map.get_mut(k) {
                v.retain(|(id, _)| *id != self.id);
                if v.is_empty() {
                    map.remove(k);
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn wakes_only_readers_of_the_key_and_cleans_up() {
        let w = Waiters::default();
        let a = Arc::new(Notify::new());
        let b = Arc::new(Notify::new());
        let ra = w.register(1, &[b"x".to_vec()], &a);
        let rb = w.register(2, &[b"y".to_vec(), b"x".to_vec()], &b);
        w.wake(b"y");
        // b got a permit; a did not.
        tokio::time::timeout(std::time::Duration::from_secs(1), b.notified())
            .await
            .unwrap();
        assert!(
            tokio::time::timeout(std::time::Duration::from_millis(20), a.notified())
                .await
                .is_err()
        );
        drop(ra);
        drop(rb);
        assert_eq!(w.keys(), 0);
    }
}
