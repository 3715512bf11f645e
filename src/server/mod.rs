//! The TCP server: listeners, connections, shutdown, and the state shared by
//! every connection ([`Shared`]).
//!
//! A tokio multi-thread runtime accepts connections (up to `maxclients`);
//! each connection is one task that reads, runs every complete request of
//! the batch and writes all replies at once (see [`connection`]). SIGTERM,
//! SIGINT and SHUTDOWN stop the accept loops; connections finish the batch
//! they are running, flush their replies and close; then [`Server::run`]
//! returns. SIGHUP re-reads the configuration file.
//!
//! This module does not interpret commands (that is [`crate::cmd`]) or parse
//! the protocol (that is [`crate::resp`]).

pub mod clients;
pub mod connection;
pub mod durability;
pub mod info;
pub mod logging;
pub mod stats;
pub mod waiters;

use std::fmt;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, Ordering::Relaxed};
use std::sync::{Arc, Mutex, PoisonError, RwLock, RwLockReadGuard};
use std::time::{Duration, Instant};

use tokio::net::TcpListener;
use tokio::sync::{mpsc, watch};

use crate::FsyncPolicy;
use crate::config::{AppendFsync, ConfigError, Directive, LogLevel, SPECS, Settings};
use crate::store::{Store, StoreOptions};
use crate::stream::NodeLimits;

/// A callback that applies a new `loglevel` to the logger.
pub struct LogHook(pub Box<dyn Fn(LogLevel) + Send + Sync>);

impl fmt::Debug for LogHook {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("LogHook")
    }
}

/// State shared by every connection.
#[derive(Debug)]
pub struct Shared {
    settings: RwLock<Settings>,
    /// Command-line overrides, re-applied on top of the file on SIGHUP.
    overrides: Vec<Directive>,
    auth_required: AtomicBool,
    /// Connected clients.
    pub clients: clients::Registry,
    /// Counters for INFO.
    pub stats: stats::Stats,
    /// Commands run holding this shared; EXEC holds it exclusively so a
    /// transaction is atomic for other clients.
    pub gate: RwLock<()>,
    /// When the server started.
    pub started: Instant,
    /// A random identifier of this run (INFO `run_id`).
    pub run_id: String,
    /// The port actually listened on.
    pub port: u16,
    /// The engine.
    pub store: Arc<Store>,
    /// Group commit for `appendfsync always`.
    pub durability: durability::Durability,
    /// Readers blocked on streams (XREAD BLOCK), woken by writes.
    pub waiters: waiters::Waiters,
    shutdown: watch::Sender<bool>,
    log_hook: Mutex<Option<LogHook>>,
}

fn random_hex(n: usize) -> String {
    use std::hash::{BuildHasher, Hasher};
    let mut out = String::with_capacity(n);
    let mut i = 0u64;
    while out.len() < n {
        let mut h = std::collections::hash_map::RandomState::new().build_hasher();
        h.write_u64(i);
        h.write_u128(
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .unwrap_or_default()
                .as_nanos(),
        );
        out.push_str(&format!("{:016x}", h.finish()));
        i += 1;
    }
    out.truncate(n);
    out
}

impl Shared {
    fn new(
        settings: Settings,
        overrides: Vec<Directive>,
        port: u16,
        store: Arc<Store>,
        durability: durability::Durability,
    ) -> Self {
        let auth = settings.requirepass().is_some();
        Shared {
            store,
            durability,
            waiters: waiters::Waiters::default(),
            settings: RwLock::new(settings),
            overrides,
            auth_required: AtomicBool::new(auth),
            clients: clients::Registry::default(),
            stats: stats::Stats::new(crate::cmd::all_commands().len()),
            gate: RwLock::new(()),
            started: Instant::now(),
            run_id: random_hex(40),
            port,
            shutdown: watch::channel(false).0,
            log_hook: Mutex::new(None),
        }
    }

    /// The current settings.
    pub fn settings(&self) -> RwLockReadGuard<'_, Settings> {
        self.settings.read().unwrap_or_else(PoisonError::into_inner)
    }

    /// `requirepass`, if set.
    pub fn requirepass(&self) -> Option<String> {
        if !self.auth_required.load(Relaxed) {
            return None;
        }
        self.settings().requirepass().map(str::to_owned)
    }

    /// Whether new clients must authenticate.
    pub fn auth_required(&self) -> bool {
        self.auth_required.load(Relaxed)
    }

    /// Installs the callback that changes the log level.
    pub fn set_log_hook(&self, hook: LogHook) {
        *self.log_hook.lock().unwrap_or_else(PoisonError::into_inner) = Some(hook);
    }

    /// CONFIG SET: validates every pair, then applies them all.
    ///
    /// # Errors
    /// Redis's error text (without `ERR `); nothing changed.
    pub fn config_set(&self, pairs: &[(String, String)]) -> Result<(), String> {
        let mut s = self
            .settings
            .write()
            .unwrap_or_else(PoisonError::into_inner);
        let old = s.clone();
        s.config_set(pairs)?;
        let new = s.clone();
        drop(s);
        self.after_change(&old, &new);
        Ok(())
    }

    /// SIGHUP: re-reads the configuration file (and the command-line
    /// overrides on top) and applies the settings that can change at run
    /// time. Returns the names of the settings that changed.
    ///
    /// # Errors
    /// The file could not be read or has an error; nothing changed.
    pub fn reload(&self) -> Result<Vec<&'static str>, ConfigError> {
        let file = self.settings().config_file.clone();
        let new = crate::config::load(file.as_deref(), &self.overrides)?;
        let mut s = self
            .settings
            .write()
            .unwrap_or_else(PoisonError::into_inner);
        let old = s.clone();
        let mut changed = Vec::new();
        for (i, spec) in SPECS.iter().enumerate() {
            if new.value(i) == old.value(i) {
                continue;
            }
            if spec.mutable {
                s.set_value(i, new.value(i).clone());
                changed.push(spec.name);
            } else {
                tracing::warn!(
                    "{} cannot change at run time; restart to apply it",
                    spec.name
                );
            }
        }
        let updated = s.clone();
        drop(s);
        self.after_change(&old, &updated);
        Ok(changed)
    }

    /// Wakes the readers blocked on `key` after a write to it.
    pub fn notify_stream(&self, key: &[u8]) {
        self.waiters.wake(key);
    }

    fn after_change(&self, old: &Settings, new: &Settings) {
        self.auth_required
            .store(new.requirepass().is_some(), Relaxed);
        if old.appendfsync() != new.appendfsync() {
            self.store.set_fsync_policy(fsync_policy(new.appendfsync()));
        }
        let limits = node_limits(new);
        if node_limits(old) != limits {
            self.store.set_node_limits(limits);
        }
        let eviction = eviction_config(new);
        if eviction_config(old) != eviction {
            self.store.set_eviction(eviction);
        }
        if old.loglevel() != new.loglevel()
            && let Some(hook) = self
                .log_hook
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .as_ref()
        {
            (hook.0)(new.loglevel());
        }
    }

    /// Asks the server to shut down gracefully.
    pub fn request_shutdown(&self) {
        self.shutdown.send_replace(true);
    }

    /// A receiver that turns `true` when shutdown is requested.
    pub fn shutdown_signal(&self) -> watch::Receiver<bool> {
        self.shutdown.subscribe()
    }
}

/// maxmemory, maxmemory-policy and maxmemory-samples as the store takes them.
fn eviction_config(s: &Settings) -> crate::memory::EvictionConfig {
    crate::memory::EvictionConfig {
        maxmemory: s.maxmemory(),
        policy: s.maxmemory_policy().parse().unwrap_or_default(),
        samples: s.maxmemory_samples(),
        ..Default::default()
    }
}

fn fsync_policy(a: AppendFsync) -> FsyncPolicy {
    match a {
        AppendFsync::Always => FsyncPolicy::Always,
        AppendFsync::Everysec => FsyncPolicy::EverySec,
        AppendFsync::No => FsyncPolicy::No,
    }
}

fn node_limits(s: &Settings) -> NodeLimits {
    NodeLimits {
        max_bytes: s.stream_node_max_bytes(),
        max_entries: s.stream_node_max_entries(),
    }
}

/// Opens the store in `dir` as the settings say, logging what recovery did.
///
/// # Errors
/// The store cannot be opened (I/O, corruption).
pub fn open_store(settings: &Settings) -> std::io::Result<Store> {
    let dir = settings.dir();
    std::fs::create_dir_all(&dir)?;
    let mut opts = StoreOptions::default();
    opts.wal.segment_size = settings.wal_segment_size();
    opts.wal.fsync = fsync_policy(settings.appendfsync());
    opts.node_limits = node_limits(settings);
    // The server waits for durability itself (off the worker threads) and
    // checkpoints on its own timer.
    opts.wait_for_durability = false;
    opts.checkpoint_every_records = 0;
    opts.checkpoint_every_bytes = 0;
    let started = Instant::now();
    let store = Store::open(&dir, opts).map_err(|e| {
        std::io::Error::other(format!("opening the store in {}: {e}", dir.display()))
    })?;
    for t in &store.wal().recovery_report().truncations {
        tracing::warn!(
            "Recovery truncated a torn or corrupt log tail: {} at offset {}, {} bytes dropped ({})",
            t.segment.display(),
            t.offset,
            t.bytes_dropped,
            t.reason
        );
    }
    store.set_eviction(eviction_config(settings));
    // Connections write the log once per round of batches (see
    // `connection::flush`), not once per record.
    store
        .wal()
        .set_buffered_writes(true)
        .map_err(std::io::Error::other)?;
    let r = store.recovery_stats();
    tracing::info!(
        "DB loaded from disk: {} records replayed from position {} ({}) in {:.3} seconds",
        r.records_replayed,
        r.replay_from,
        match r.checkpoint {
            Some(p) => format!("checkpoint at {p}"),
            None => "no checkpoint".to_owned(),
        },
        started.elapsed().as_secs_f64()
    );
    Ok(store)
}

/// A bound server, ready to [`run`](Server::run).
#[derive(Debug)]
pub struct Server {
    shared: Arc<Shared>,
    listeners: Vec<TcpListener>,
}

impl Server {
    /// Binds every `bind` address on `port` (addresses prefixed with `-` are
    /// optional, as in Redis).
    ///
    /// # Errors
    /// A required address could not be bound, or none could.
    pub async fn bind(settings: Settings, overrides: Vec<Directive>) -> std::io::Result<Server> {
        let port = settings.port();
        let mut listeners = Vec::new();
        let mut actual_port = port;
        for addr in settings.bind() {
            let (optional, host) = match addr.strip_prefix('-') {
                Some(h) => (true, h),
                None => (false, addr.as_str()),
            };
            // Port 0 picks a free port; every address then shares the first one's.
            let p = if port == 0 { actual_port } else { port };
            match TcpListener::bind((host, p)).await {
                Ok(l) => {
                    if actual_port == 0 {
                        actual_port = l.local_addr()?.port();
                    }
                    listeners.push(l);
                }
                Err(e) if optional => tracing::warn!("Could not bind {host}:{p}: {e}"),
                Err(e) => {
                    return Err(std::io::Error::new(
                        e.kind(),
                        format!("bind {host}:{p}: {e}"),
                    ));
                }
            }
        }
        if listeners.is_empty() {
            return Err(std::io::Error::other("no address to listen on"));
        }
        let store_settings = settings.clone();
        let store = tokio::task::spawn_blocking(move || open_store(&store_settings))
            .await
            .map_err(std::io::Error::other)??;
        let store = Arc::new(store);
        let durability = durability::Durability::start(Arc::clone(&store))?;
        let shared = Arc::new(Shared::new(
            settings,
            overrides,
            actual_port,
            store,
            durability,
        ));
        Ok(Server { shared, listeners })
    }

    /// The first listening address.
    pub fn local_addr(&self) -> std::io::Result<SocketAddr> {
        self.listeners[0].local_addr()
    }

    /// The shared state.
    pub fn shared(&self) -> Arc<Shared> {
        Arc::clone(&self.shared)
    }

    /// Serves until shutdown is requested, then waits for every connection
    /// to finish its batch and close.
    pub async fn run(self) {
        let shared = self.shared;
        for l in &self.listeners {
            if let Ok(a) = l.local_addr() {
                tracing::info!("Ready to accept connections tcp on {a}");
            }
        }
        let (done_tx, mut done_rx) = mpsc::channel::<()>(1);
        let mut tasks = Vec::new();
        for listener in self.listeners {
            tasks.push(tokio::spawn(accept_loop(
                Arc::clone(&shared),
                listener,
                done_tx.clone(),
            )));
        }
        tasks.push(tokio::spawn(sampler(Arc::clone(&shared))));
        tasks.push(tokio::spawn(checkpointer(Arc::clone(&shared))));
        tasks.push(tokio::spawn(consumer_expiry(Arc::clone(&shared))));
        drop(done_tx);
        let mut signal = shared.shutdown_signal();
        let _ = signal.wait_for(|v| *v).await;
        for t in tasks {
            let _ = t.await;
        }
        // Every connection holds a sender; recv() returns None once all closed.
        let _ = done_rx.recv().await;
        shared.durability.stop().await;
        let store = Arc::clone(&shared.store);
        let flushed = tokio::task::spawn_blocking(move || {
            store.sync()?;
            store.checkpoint()
        })
        .await;
        match flushed {
            Ok(Ok(c)) => {
                tracing::info!("Log synced; checkpoint written at position {}", c.position)
            }
            Ok(Err(e)) => tracing::warn!("Error making the log durable at shutdown: {e}"),
            Err(e) => tracing::warn!("Error making the log durable at shutdown: {e}"),
        }
        tracing::warn!("eddy is now ready to exit, bye bye...");
    }
}

async fn sampler(shared: Arc<Shared>) {
    let mut signal = shared.shutdown_signal();
    let mut tick = tokio::time::interval(Duration::from_millis(100));
    loop {
        tokio::select! {
            _ = signal.wait_for(|v| *v) => return,
            _ = tick.tick() => {
                let ms = u64::try_from(shared.started.elapsed().as_millis()).unwrap_or(u64::MAX);
                shared.stats.sample(ms.max(1));
            }
        }
    }
}

/// Writes a checkpoint every `checkpoint-interval` seconds (read each
/// time, so CONFIG SET applies), on a blocking thread.
async fn checkpointer(shared: Arc<Shared>) {
    let mut signal = shared.shutdown_signal();
    let mut last = Instant::now();
    let mut last_end = shared.store.log_end();
    let mut tick = tokio::time::interval(Duration::from_secs(1));
    loop {
        tokio::select! {
            _ = signal.wait_for(|v| *v) => return,
            _ = tick.tick() => {}
        }
        let every = shared.settings().checkpoint_interval();
        let end = shared.store.log_end();
        if every == 0 || last.elapsed() < Duration::from_secs(every) || end == last_end {
            continue;
        }
        last = Instant::now();
        last_end = end;
        let store = Arc::clone(&shared.store);
        match tokio::task::spawn_blocking(move || store.checkpoint()).await {
            Ok(Ok(c)) => tracing::debug!(
                "Checkpoint at position {} ({} bytes, {} segments deleted)",
                c.position,
                c.bytes,
                c.segments_deleted
            ),
            Ok(Err(e)) => tracing::warn!("Checkpoint failed: {e}"),
            Err(e) => tracing::warn!("Checkpoint failed: {e}"),
        }
    }
}

/// Once a second, expires consumers idle longer than their group's
/// `CONSUMERIDLE` setting (XGROUP SETPOLICY): their pending entries go back
/// to the group. XAUTOCLAIM also expires them lazily, so a claim never
/// waits for this tick.
async fn consumer_expiry(shared: Arc<Shared>) {
    let mut signal = shared.shutdown_signal();
    let mut tick = tokio::time::interval(Duration::from_secs(1));
    loop {
        tokio::select! {
            _ = signal.wait_for(|v| *v) => return,
            _ = tick.tick() => {}
        }
        let s = Arc::clone(&shared);
        // Under the command gate, so a MULTI/EXEC never sees a consumer
        // vanish half-way through its queue.
        let expire = move || {
            let _gate = s.gate.read().unwrap_or_else(PoisonError::into_inner);
            s.store.expire_idle_consumers()
        };
        match tokio::task::spawn_blocking(expire).await {
            Ok(Ok(expired)) => {
                for e in expired {
                    tracing::debug!(
                        "Consumer '{}' of group '{}' on '{}' expired; {} pending entries handed back",
                        String::from_utf8_lossy(&e.consumer),
                        String::from_utf8_lossy(&e.group),
                        String::from_utf8_lossy(&e.key),
                        e.released
                    );
                }
            }
            Ok(Err(e)) => tracing::warn!("Consumer expiry failed: {e}"),
            Err(e) => tracing::warn!("Consumer expiry failed: {e}"),
        }
    }
}

async fn accept_loop(shared: Arc<Shared>, listener: TcpListener, done: mpsc::Sender<()>) {
    let mut signal = shared.shutdown_signal();
    loop {
        let accepted = tokio::select! {
            _ = signal.wait_for(|v| *v) => return,
            r = listener.accept() => r,
        };
        let (stream, addr) = match accepted {
            Ok(a) => a,
            Err(e) => {
                // Usually out of file descriptors: back off instead of spinning.
                tracing::warn!("Accepting client connection: {e}");
                tokio::time::sleep(Duration::from_millis(50)).await;
                continue;
            }
        };
        shared
            .stats
            .total_connections_received
            .fetch_add(1, Relaxed);
        if shared.clients.len() >= shared.settings().maxclients() {
            shared.stats.rejected_connections.fetch_add(1, Relaxed);
            tokio::spawn(connection::refuse(stream));
            continue;
        }
        let _ = stream.set_nodelay(true);
        let laddr = stream.local_addr().unwrap_or(addr);
        let fd = {
            use std::os::fd::AsRawFd;
            i64::from(stream.as_raw_fd())
        };
        let info = shared.clients.register(addr, laddr, fd);
        let shared = Arc::clone(&shared);
        let done = done.clone();
        tokio::spawn(async move {
            connection::serve(shared, stream, info).await;
            drop(done);
        });
    }
}

/// Runs the server, turning SIGTERM/SIGINT into a graceful shutdown and
/// SIGHUP into a configuration reload.
///
/// # Errors
/// The signal handlers could not be installed.
pub async fn run_with_signals(server: Server) -> std::io::Result<()> {
    use tokio::signal::unix::{SignalKind, signal};
    let shared = server.shared();
    let mut term = signal(SignalKind::terminate())?;
    let mut int = signal(SignalKind::interrupt())?;
    let mut hup = signal(SignalKind::hangup())?;
    let signals = tokio::spawn(async move {
        let mut stop = shared.shutdown_signal();
        loop {
            tokio::select! {
                _ = stop.wait_for(|v| *v) => return,
                _ = term.recv() => {
                    tracing::warn!("Received SIGTERM scheduling shutdown...");
                    shared.request_shutdown();
                }
                _ = int.recv() => {
                    tracing::warn!("Received SIGINT scheduling shutdown...");
                    shared.request_shutdown();
                }
                _ = hup.recv() => {
                    if shared.settings().config_file.is_none() {
                        tracing::warn!("SIGHUP received but the server has no config file to reload");
                        continue;
                    }
                    match shared.reload() {
                        Ok(changed) => tracing::info!(
                            "SIGHUP: configuration reloaded; changed: {}",
                            if changed.is_empty() { "nothing".to_owned() } else { changed.join(", ") }
                        ),
                        Err(e) => tracing::warn!("SIGHUP: configuration not reloaded: {e}"),
                    }
                }
            }
        }
    });
    server.run().await;
    let _ = signals.await;
    Ok(())
}
