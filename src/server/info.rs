//! The text of INFO, section by section, with Redis's field names.
//!
//! Sections: server, clients, memory, persistence, stats, commandstats,
//! errorstats, keyspace. `INFO` alone and `default` give every section but
//! commandstats; `all` and `everything` give them all.

use std::fmt::Write;
use std::sync::atomic::Ordering::Relaxed;

use super::Shared;
use crate::cmd::all_commands;

const DEFAULT: &[&str] = &[
    "server",
    "clients",
    "memory",
    "persistence",
    "stats",
    "errorstats",
    "keyspace",
];
const ALL: &[&str] = &[
    "server",
    "clients",
    "memory",
    "persistence",
    "stats",
    "commandstats",
    "errorstats",
    "keyspace",
];

/// Resident memory of the process, from /proc (0 where unavailable).
fn rss_bytes() -> u64 {
    let Ok(statm) = std::fs::read_to_string("/proc/self/statm") else {
        return 0;
    };
    let pages: u64 = statm
        .split_whitespace()
        .nth(1)
        .and_then(|p| p.parse().ok())
        .unwrap_or(0);
    pages * 4096
}

/// Redis's human-readable byte counts (`1.50M`).
fn human(n: u64) -> String {
    let f = n as f64;
    if n < 1024 {
        format!("{n}B")
    } else if n < 1024 * 1024 {
        format!("{:.2}K", f / 1024.0)
    } else if n < 1024 * 1024 * 1024 {
        format!("{:.2}M", f / (1024.0 * 1024.0))
    } else {
        format!("{:.2}G", f / (1024.0 * 1024.0 * 1024.0))
    }
}

/// Renders the requested sections (lower-case names).
pub fn render(shared: &Shared, requested: &[String]) -> String {
    let mut wanted: Vec<&str> = Vec::new();
    if requested.is_empty() {
        wanted.extend(DEFAULT);
    }
    for r in requested {
        match r.as_str() {
            "default" => wanted.extend(DEFAULT),
            "all" | "everything" => wanted.extend(ALL),
            other => wanted.extend(ALL.iter().filter(|s| **s == other)),
        }
    }
    let mut out = String::new();
    for section in ALL.iter().filter(|s| wanted.contains(s)) {
        if !out.is_empty() {
            out.push_str("\r\n");
        }
        write_section(shared, section, &mut out);
    }
    out
}

fn write_section(shared: &Shared, section: &str, out: &mut String) {
    let settings = shared.settings().clone();
    let st = &shared.stats;
    match section {
        "server" => {
            let up = shared.started.elapsed().as_secs();
            let now_us = std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map(|d| d.as_micros())
                .unwrap_or(0);
            let exe = std::env::current_exe()
                .map(|p| p.display().to_string())
                .unwrap_or_default();
            let conf = settings
                .config_file
                .as_ref()
                .map(|p| p.display().to_string())
                .unwrap_or_default();
            out.push_str("# Server\r\n");
            kv(
                out,
                "redis_version",
                &crate::cmd::connection::REDIS_COMPAT_VERSION,
            );
            kv(out, "eddy_version", &env!("CARGO_PKG_VERSION"));
            kv(out, "redis_git_sha1", &"00000000");
            kv(out, "redis_git_dirty", &0);
            kv(out, "redis_mode", &"standalone");
            kv(
                out,
                "os",
                &format!("{} {}", std::env::consts::OS, std::env::consts::ARCH),
            );
            kv(out, "arch_bits", &(usize::BITS));
            kv(out, "multiplexing_api", &"tokio");
            kv(out, "process_id", &std::process::id());
            kv(out, "run_id", &shared.run_id);
            kv(out, "tcp_port", &shared.port);
            kv(out, "server_time_usec", &now_us);
            kv(out, "uptime_in_seconds", &up);
            kv(out, "uptime_in_days", &(up / 86400));
            kv(out, "hz", &10);
            kv(out, "executable", &exe);
            kv(out, "config_file", &conf);
        }
        "clients" => {
            out.push_str("# Clients\r\n");
            kv(out, "connected_clients", &shared.clients.len());
            kv(out, "maxclients", &settings.maxclients());
            kv(out, "blocked_clients", &shared.clients.blocked());
        }
        "memory" => {
            let rss = rss_bytes();
            let max = settings.maxmemory();
            let m = shared.store.memory_report();
            out.push_str("# Memory\r\n");
            // used_memory is what maxmemory limits: the accounted bytes of
            // the in-memory structures (stream indexes, views); the log is
            // on disk and the process's resident size is reported apart.
            kv(out, "used_memory", &m.used);
            kv(out, "used_memory_human", &human(m.used));
            kv(out, "used_memory_peak", &m.peak);
            kv(out, "used_memory_peak_human", &human(m.peak));
            kv(out, "used_memory_streams", &m.streams);
            kv(out, "used_memory_views", &m.views);
            kv(
                out,
                "used_memory_views_evicted_index",
                &m.views_evicted_index,
            );
            kv(out, "used_memory_rss", &rss);
            kv(out, "used_memory_rss_human", &human(rss));
            kv(out, "maxmemory", &max);
            kv(out, "maxmemory_human", &human(max));
            kv(out, "maxmemory_policy", &settings.maxmemory_policy());
        }
        "persistence" => {
            out.push_str("# Persistence\r\n");
            kv(out, "loading", &0);
            kv(out, "async_loading", &0);
            kv(out, "aof_enabled", &1);
            kv(out, "wal_log_end", &shared.store.log_end());
            kv(out, "wal_durable_end", &shared.store.durable_end());
            let fsync = settings
                .get("appendfsync")
                .map(crate::config::render)
                .unwrap_or_default();
            kv(out, "appendfsync", &fsync);
        }
        "stats" => {
            out.push_str("# Stats\r\n");
            kv(
                out,
                "total_connections_received",
                &st.total_connections_received.load(Relaxed),
            );
            kv(
                out,
                "total_commands_processed",
                &st.total_commands_processed.load(Relaxed),
            );
            kv(out, "instantaneous_ops_per_sec", &st.ops_per_sec());
            kv(
                out,
                "total_net_input_bytes",
                &st.total_net_input_bytes.load(Relaxed),
            );
            kv(
                out,
                "total_net_output_bytes",
                &st.total_net_output_bytes.load(Relaxed),
            );
            kv(
                out,
                "rejected_connections",
                &st.rejected_connections.load(Relaxed),
            );
            kv(out, "expired_keys", &0);
            let m = shared.store.memory_report();
            kv(out, "evicted_keys", &m.evicted_keys);
            kv(out, "view_rebuilds", &m.view_rebuilds);
            kv(
                out,
                "total_error_replies",
                &st.total_error_replies.load(Relaxed),
            );
            kv(
                out,
                "total_reads_processed",
                &st.total_reads_processed.load(Relaxed),
            );
            kv(
                out,
                "total_writes_processed",
                &st.total_writes_processed.load(Relaxed),
            );
        }
        "commandstats" => {
            out.push_str("# Commandstats\r\n");
            for e in all_commands() {
                let s = &st.commands[e.id];
                let calls = s.calls.load(Relaxed);
                let rejected = s.rejected_calls.load(Relaxed);
                if calls == 0 && rejected == 0 {
                    continue;
                }
                let usec = s.usec.load(Relaxed);
                let per = if calls == 0 {
                    0.0
                } else {
                    usec as f64 / calls as f64
                };
                kv(
                    out,
                    &format!("cmdstat_{}", e.fullname),
                    &format!(
                        "calls={calls},usec={usec},usec_per_call={per:.2},rejected_calls={rejected},failed_calls={}",
                        s.failed_calls.load(Relaxed)
                    ),
                );
            }
        }
        "errorstats" => {
            out.push_str("# Errorstats\r\n");
            for (code, n) in st.error_counts() {
                kv(out, &format!("errorstat_{code}"), &format!("count={n}"));
            }
        }
        "keyspace" => {
            out.push_str("# Keyspace\r\n");
            let keys = shared.store.dbsize();
            if keys > 0 {
                kv(out, "db0", &format!("keys={keys},expires=0,avg_ttl=0"));
            }
        }
        _ => {}
    }
}

fn kv(out: &mut String, k: &str, v: &dyn std::fmt::Display) {
    // Writing to a String cannot fail.
    let _ = write!(out, "{k}:{v}\r\n");
}
