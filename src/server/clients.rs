//! The client registry: who is connected, for CLIENT LIST/INFO and INFO
//! clients. Each connection registers an [`ClientInfo`] and updates its
//! small mutable part after every command.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Instant;

/// What changes about a client while it is connected.
#[derive(Debug, Clone, Default)]
pub struct ClientMeta {
    /// CLIENT SETNAME.
    pub name: String,
    /// The last command run (`client|list`).
    pub last_cmd: &'static str,
    /// Protocol version (2 or 3).
    pub resp: i64,
    /// Commands queued in MULTI, or -1 outside MULTI.
    pub multi: i64,
    /// Bytes waiting in the query buffer.
    pub qbuf: usize,
    /// Whether the client is blocked in a blocking read.
    pub blocked: bool,
}

/// One connected client.
#[derive(Debug)]
pub struct ClientInfo {
    /// CLIENT ID.
    pub id: u64,
    /// The peer's address.
    pub addr: SocketAddr,
    /// Our end of the connection.
    pub laddr: SocketAddr,
    /// The socket's file descriptor.
    pub fd: i64,
    /// When it connected.
    pub created: Instant,
    last_interaction: Mutex<Instant>,
    meta: Mutex<ClientMeta>,
    /// Signalled by CLIENT KILL; the connection closes when it fires.
    kill: tokio::sync::Notify,
}

impl ClientInfo {
    /// Asks the connection to close (CLIENT KILL).
    pub fn kill(&self) {
        self.kill.notify_one();
    }

    /// Completes when CLIENT KILL targeted this client.
    pub async fn killed(&self) {
        self.kill.notified().await;
    }

    /// A copy of the mutable part.
    pub fn meta(&self) -> ClientMeta {
        self.meta
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    /// Updates the mutable part.
    pub fn update(&self, f: impl FnOnce(&mut ClientMeta)) {
        f(&mut self.meta.lock().unwrap_or_else(PoisonError::into_inner));
    }

    /// Marks activity now.
    pub fn touch(&self) {
        *self
            .last_interaction
            .lock()
            .unwrap_or_else(PoisonError::into_inner) = Instant::now();
    }

    /// Seconds since the last command.
    pub fn idle_secs(&self) -> u64 {
        self.last_interaction
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .elapsed()
            .as_secs()
    }

    /// The CLIENT LIST line (without the trailing newline), in Redis's field
    /// order; the memory fields Redis adds are left out because eddy does not
    /// measure them per client.
    pub fn list_line(&self) -> String {
        let m = self.meta();
        let flags = if m.blocked {
            "b"
        } else if m.multi >= 0 {
            "x"
        } else {
            "N"
        };
        format!(
            "id={} addr={} laddr={} fd={} name={} age={} idle={} flags={flags} db=0 sub=0 psub=0 \
             ssub=0 multi={} qbuf={} events=r cmd={} user=default redir=-1 resp={}",
            self.id,
            self.addr,
            self.laddr,
            self.fd,
            m.name,
            self.created.elapsed().as_secs(),
            self.idle_secs(),
            m.multi,
            m.qbuf,
            if m.last_cmd.is_empty() {
                "NULL"
            } else {
                m.last_cmd
            },
            m.resp,
        )
    }
}

/// Every connected client.
#[derive(Debug, Default)]
pub struct Registry {
    next_id: AtomicU64,
    clients: Mutex<BTreeMap<u64, Arc<ClientInfo>>>,
}

impl Registry {
    /// Registers a new connection and returns its entry.
    pub fn register(&self, addr: SocketAddr, laddr: SocketAddr, fd: i64) -> Arc<ClientInfo> {
        let id = self.next_id.fetch_add(1, Relaxed) + 1;
        let now = Instant::now();
        let info = Arc::new(ClientInfo {
            id,
            addr,
            laddr,
            fd,
            created: now,
            last_interaction: Mutex::new(now),
            kill: tokio::sync::Notify::new(),
            meta: Mutex::new(ClientMeta {
                resp: 2,
                multi: -1,
                ..ClientMeta::default()
            }),
        });
        self.lock().insert(id, Arc::clone(&info));
        info
    }

    /// Removes a connection.
    pub fn unregister(&self, id: u64) {
        self.lock().remove(&id);
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, BTreeMap<u64, Arc<ClientInfo>>> {
        self.clients.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Number of connected clients.
    pub fn len(&self) -> usize {
        self.lock().len()
    }

    /// Whether no client is connected.
    pub fn is_empty(&self) -> bool {
        self.lock().is_empty()
    }

    /// Number of clients blocked in a blocking command.
    pub fn blocked(&self) -> usize {
        self.lock().values().filter(|c| c.meta().blocked).count()
    }

    /// A snapshot of the clients, by id.
    pub fn all(&self) -> Vec<Arc<ClientInfo>> {
        self.lock().values().cloned().collect()
    }
}
