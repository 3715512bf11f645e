//! `eddy-server [path/to/eddy.conf] [--name value ...]`: the engine behind a
//! Redis-protocol TCP server, configured like redis-server.

use std::process::ExitCode;

use eddy::config;
use eddy::server::{Server, logging, run_with_signals};

const USAGE: &str = "Usage: eddy-server [/path/to/eddy.conf] [--name value ...]
       eddy-server --version
       eddy-server --help

Examples:
       eddy-server                      (defaults: 127.0.0.1:6379, data in ./data)
       eddy-server /etc/eddy/eddy.conf
       eddy-server --port 7777 --appendfsync always
       eddy-server /etc/eddy/eddy.conf --loglevel verbose";

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    match args.first().map(String::as_str) {
        Some("-v" | "--version") => {
            println!("eddy-server v={}", env!("CARGO_PKG_VERSION"));
            return ExitCode::SUCCESS;
        }
        Some("-h" | "--help") => {
            println!("{USAGE}");
            return ExitCode::SUCCESS;
        }
        _ => {}
    }
    let (file, overrides) = match config::parse_args(&args) {
        Ok(v) => v,
        Err(e) => {
            eprintln!("{e}\n\n{USAGE}");
            return ExitCode::from(1);
        }
    };
    let settings = match config::load(file.as_deref(), &overrides) {
        Ok(s) => s,
        Err(e) => {
            eprintln!("{e}");
            return ExitCode::from(1);
        }
    };
    let hook = match logging::init(&settings) {
        Ok(h) => h,
        Err(e) => {
            eprintln!("Can't open the log file '{}': {e}", settings.logfile());
            return ExitCode::from(1);
        }
    };
    // One event-loop thread, as redis-server: on a small machine the
    // client load takes the other core, and a single thread serves every
    // connection with no cross-thread wake-ups or work stealing. The disk
    // waits (fdatasync, checkpoints) run on their own threads.
    let runtime = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(r) => r,
        Err(e) => {
            tracing::warn!("Can't start the runtime: {e}");
            return ExitCode::from(1);
        }
    };
    let result: anyhow::Result<()> = runtime.block_on(async move {
        tracing::info!(
            "eddy {} starting, pid={}",
            env!("CARGO_PKG_VERSION"),
            std::process::id()
        );
        let dir = settings.dir();
        std::fs::create_dir_all(&dir).map_err(|e| {
            anyhow::anyhow!("can't create the data directory {}: {e}", dir.display())
        })?;
        let server = Server::bind(settings, overrides).await?;
        server.shared().set_log_hook(hook);
        run_with_signals(server).await?;
        Ok(())
    });
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            tracing::warn!("{e:#}");
            eprintln!("eddy-server: {e:#}");
            ExitCode::from(1)
        }
    }
}
