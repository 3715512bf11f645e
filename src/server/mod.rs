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
pub mod info;
pub mod logging;
pub mod stats;

use std::fmt;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, Ordering::Relaxed};
use std::sync::{Arc, Mutex, PoisonError, RwLock, RwLockReadGuard};
use std::time::{Duration, Instant};

use tokio::net::TcpListener;
use tokio::sync::{mpsc, watch};

use crate::config::{ConfigError, Directive, LogLevel, SPECS, Settings};

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
    fn new(settings: Settings, overrides: Vec<Directive>, port: u16) -> Self {
        let auth = settings.requirepass().is_some();
        Shared {
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

    fn after_change(&self, old: &Settings, new: &Settings) {
        self.auth_required
            .store(new.requirepass().is_some(), Relaxed);
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
        let shared = Arc::new(Shared::new(settings, overrides, actual_port));
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
        drop(done_tx);
        let mut signal = shared.shutdown_signal();
        let _ = signal.wait_for(|v| *v).await;
        for t in tasks {
            let _ = t.await;
        }
        // Every connection holds a sender; recv() returns None once all closed.
        let _ = done_rx.recv().await;
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
