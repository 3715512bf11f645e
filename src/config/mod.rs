//! Configuration, as redis-server takes it: a redis.conf-style file, then
//! `--name value` command-line overrides, then CONFIG SET at run time.
//!
//! This module owns the settings table ([`SPECS`]: names, kinds, defaults,
//! bounds, whether a setting can change at run time), value parsing with
//! Redis's units and error texts, the file reader ([`load`]) and CONFIG
//! REWRITE ([`rewrite`]). It does not apply settings to the running server:
//! the server reads [`Settings`] and reacts to changes.

mod file;
mod rewrite;

use std::path::PathBuf;

pub use file::{ConfigError, Directive, apply, load, parse_args, read_directives};
pub use rewrite::{RewriteError, rewrite};

/// What values a setting takes.
#[derive(Debug, Clone, Copy)]
pub enum Kind {
    /// `yes` / `no`.
    Bool,
    /// An integer within bounds.
    Int {
        /// Smallest value.
        min: i64,
        /// Largest value.
        max: i64,
    },
    /// A byte count with Redis's units (`1k` = 1000, `1kb` = 1024, ...).
    Memory {
        /// Smallest value.
        min: i64,
        /// Largest value.
        max: i64,
    },
    /// One of a fixed list of names (case-insensitive).
    Enum(&'static [&'static str]),
    /// Any single string.
    Str,
    /// A list of words on one line (`bind`, `save`).
    List,
}

/// One setting of the table.
#[derive(Debug)]
pub struct Spec {
    /// The directive name, lower case.
    pub name: &'static str,
    /// Its kind.
    pub kind: Kind,
    /// Its default, as it would be written in the file.
    pub default: &'static str,
    /// Whether CONFIG SET and SIGHUP may change it.
    pub mutable: bool,
}

const MAXMEMORY_POLICIES: &[&str] = &[
    "volatile-lru",
    "volatile-lfu",
    "volatile-random",
    "volatile-ttl",
    "allkeys-lru",
    "allkeys-lfu",
    "allkeys-random",
    "noeviction",
];

const I32: i64 = i32::MAX as i64;
const MB: i64 = 1024 * 1024;

/// Every setting eddy knows, in the order CONFIG GET lists them.
pub const SPECS: &[Spec] = &[
    Spec {
        name: "port",
        kind: Kind::Int { min: 0, max: 65535 },
        default: "6379",
        mutable: false,
    },
    Spec {
        name: "bind",
        kind: Kind::List,
        default: "127.0.0.1",
        mutable: false,
    },
    Spec {
        name: "dir",
        kind: Kind::Str,
        default: "./data",
        mutable: false,
    },
    Spec {
        name: "appendfsync",
        kind: Kind::Enum(&["always", "everysec", "no"]),
        default: "everysec",
        mutable: true,
    },
    Spec {
        name: "appendonly",
        kind: Kind::Bool,
        default: "yes",
        mutable: true,
    },
    Spec {
        name: "save",
        kind: Kind::List,
        default: "",
        mutable: true,
    },
    Spec {
        name: "maxmemory",
        kind: Kind::Memory {
            min: 0,
            max: i64::MAX,
        },
        default: "0",
        mutable: true,
    },
    Spec {
        name: "maxmemory-policy",
        kind: Kind::Enum(MAXMEMORY_POLICIES),
        default: "noeviction",
        mutable: true,
    },
    Spec {
        name: "maxmemory-samples",
        kind: Kind::Int { min: 1, max: I32 },
        default: "5",
        mutable: true,
    },
    Spec {
        name: "requirepass",
        kind: Kind::Str,
        default: "",
        mutable: true,
    },
    Spec {
        name: "stream-node-max-entries",
        kind: Kind::Int {
            min: 0,
            max: i64::MAX,
        },
        default: "100",
        mutable: true,
    },
    Spec {
        name: "stream-node-max-bytes",
        kind: Kind::Memory {
            min: 0,
            max: i64::MAX,
        },
        default: "4096",
        mutable: true,
    },
    Spec {
        name: "loglevel",
        kind: Kind::Enum(&["debug", "verbose", "notice", "warning"]),
        default: "notice",
        mutable: true,
    },
    Spec {
        name: "logfile",
        kind: Kind::Str,
        default: "",
        mutable: false,
    },
    Spec {
        name: "proto-max-bulk-len",
        kind: Kind::Memory {
            min: MB,
            max: i64::MAX,
        },
        default: "512mb",
        mutable: true,
    },
    Spec {
        name: "client-query-buffer-limit",
        kind: Kind::Memory {
            min: MB,
            max: i64::MAX,
        },
        default: "1gb",
        mutable: true,
    },
    Spec {
        name: "timeout",
        kind: Kind::Int { min: 0, max: I32 },
        default: "0",
        mutable: true,
    },
    Spec {
        name: "databases",
        kind: Kind::Int { min: 1, max: I32 },
        default: "16",
        mutable: false,
    },
    Spec {
        name: "maxclients",
        kind: Kind::Int { min: 1, max: I32 },
        default: "10000",
        mutable: true,
    },
    Spec {
        name: "wal-segment-size",
        kind: Kind::Memory {
            min: MB,
            max: 1 << 40,
        },
        default: "64mb",
        mutable: false,
    },
    Spec {
        name: "checkpoint-interval",
        kind: Kind::Int { min: 0, max: I32 },
        default: "300",
        mutable: true,
    },
];

/// A parsed setting value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Value {
    /// For [`Kind::Bool`].
    Bool(bool),
    /// For [`Kind::Int`] and [`Kind::Memory`].
    Int(i64),
    /// For [`Kind::Enum`] (the canonical lower-case name) and [`Kind::Str`].
    Str(String),
    /// For [`Kind::List`].
    List(Vec<String>),
}

/// The index in [`SPECS`] of the setting with canonical name `name`,
/// computed at compile time by the typed getters below (an unknown name
/// fails the build), so reading a setting on the request path is a load.
const fn at(name: &str) -> usize {
    let (want, mut i) = (name.as_bytes(), 0);
    while i < SPECS.len() {
        let have = SPECS[i].name.as_bytes();
        if have.len() == want.len() {
            let mut j = 0;
            while j < have.len() && have[j] == want[j] {
                j += 1;
            }
            if j == have.len() {
                return i;
            }
        }
        i += 1;
    }
    panic!("no such setting")
}

/// The index of a setting in [`SPECS`].
pub fn spec_index(name: &str) -> Option<usize> {
    SPECS.iter().position(|s| s.name.eq_ignore_ascii_case(name))
}

/// Redis's `memtoull`: digits then an optional unit `b`, `k`, `kb`, `m`,
/// `mb`, `g`, `gb` (case-insensitive); `k` is 1000 and `kb` is 1024.
pub fn parse_memory(s: &str) -> Option<i64> {
    let digits_end = s
        .bytes()
        .position(|b| !b.is_ascii_digit())
        .unwrap_or(s.len());
    let (digits, unit) = s.split_at(digits_end);
    let mul: i64 = match unit.to_ascii_lowercase().as_str() {
        "" | "b" => 1,
        "k" => 1000,
        "kb" => 1024,
        "m" => 1000 * 1000,
        "mb" => 1024 * 1024,
        "g" => 1000 * 1000 * 1000,
        "gb" => 1024 * 1024 * 1024,
        _ => return None,
    };
    // Redis reads an empty number as 0 (strtoull of "").
    let n: i64 = if digits.is_empty() {
        0
    } else {
        digits.parse().ok()?
    };
    n.checked_mul(mul)
}

/// The file form of a byte count: the largest unit that divides it exactly.
pub fn format_memory(n: i64) -> String {
    const G: i64 = 1024 * 1024 * 1024;
    if n != 0 && n % G == 0 {
        format!("{}gb", n / G)
    } else if n != 0 && n % MB == 0 {
        format!("{}mb", n / MB)
    } else if n != 0 && n % 1024 == 0 {
        format!("{}kb", n / 1024)
    } else {
        n.to_string()
    }
}

/// Parses the arguments of a directive or CONFIG SET value for `spec`.
///
/// # Errors
/// Redis's reason text (`argument must be a memory value`, ...).
pub fn parse_value(spec: &Spec, args: &[String]) -> Result<Value, String> {
    if let Kind::List = spec.kind {
        // CONFIG SET passes one string that holds the words.
        let words: Vec<String> = args
            .iter()
            .flat_map(|a| a.split_whitespace())
            .map(str::to_owned)
            .collect();
        return Ok(Value::List(words));
    }
    let [arg] = args else {
        return Err("wrong number of arguments".to_owned());
    };
    match spec.kind {
        Kind::Bool => match arg.to_ascii_lowercase().as_str() {
            "yes" => Ok(Value::Bool(true)),
            "no" => Ok(Value::Bool(false)),
            _ => Err("argument must be 'yes' or 'no'".to_owned()),
        },
        Kind::Int { min, max } => {
            let n = crate::resp::request::string2ll(arg.as_bytes())
                .ok_or_else(|| "argument couldn't be parsed into an integer".to_owned())?;
            bounded(n, min, max)
        }
        Kind::Memory { min, max } => {
            let n =
                parse_memory(arg).ok_or_else(|| "argument must be a memory value".to_owned())?;
            bounded(n, min, max)
        }
        Kind::Enum(names) => names
            .iter()
            .find(|n| n.eq_ignore_ascii_case(arg))
            .map(|n| Value::Str((*n).to_owned()))
            .ok_or_else(|| {
                format!(
                    "argument(s) must be one of the following: {}",
                    names.join(", ")
                )
            }),
        Kind::Str => Ok(Value::Str(arg.clone())),
        Kind::List => Ok(Value::List(vec![arg.clone()])),
    }
}

fn bounded(n: i64, min: i64, max: i64) -> Result<Value, String> {
    if n < min || n > max {
        Err(format!(
            "argument must be between {min} and {max} inclusive"
        ))
    } else {
        Ok(Value::Int(n))
    }
}

/// The CONFIG GET form of a value (byte counts in bytes).
pub fn render(value: &Value) -> String {
    match value {
        Value::Bool(b) => if *b { "yes" } else { "no" }.to_owned(),
        Value::Int(n) => n.to_string(),
        Value::Str(s) => s.clone(),
        Value::List(v) => v.join(" "),
    }
}

/// The server's settings: one value per entry of [`SPECS`], plus where they
/// came from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Settings {
    values: Vec<Value>,
    /// The configuration file, if the server was started with one.
    pub config_file: Option<PathBuf>,
}

impl Default for Settings {
    fn default() -> Self {
        let values = SPECS
            .iter()
            .map(|spec| {
                let args: Vec<String> =
                    spec.default.split_whitespace().map(str::to_owned).collect();
                let args = if args.is_empty() && !matches!(spec.kind, Kind::List) {
                    vec![String::new()]
                } else {
                    args
                };
                parse_value(spec, &args).unwrap_or(Value::Str(String::new()))
            })
            .collect();
        Settings {
            values,
            config_file: None,
        }
    }
}

/// The fsync policy (`appendfsync`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AppendFsync {
    /// Every write is durable before its reply.
    Always,
    /// Synced once a second.
    Everysec,
    /// Left to the operating system.
    No,
}

/// Redis's log levels (`loglevel`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LogLevel {
    /// Everything.
    Debug,
    /// Much information.
    Verbose,
    /// What an operator wants in production.
    Notice,
    /// Only important problems.
    Warning,
}

impl Settings {
    /// The value of setting `idx` of [`SPECS`].
    pub fn value(&self, idx: usize) -> &Value {
        &self.values[idx]
    }

    /// The value of the setting called `name`.
    pub fn get(&self, name: &str) -> Option<&Value> {
        spec_index(name).map(|i| &self.values[i])
    }

    /// Replaces setting `idx` (already validated by [`parse_value`]).
    pub fn set_value(&mut self, idx: usize, value: Value) {
        self.values[idx] = value;
    }

    fn int(&self, idx: usize) -> i64 {
        match &self.values[idx] {
            Value::Int(n) => *n,
            _ => 0,
        }
    }

    fn str(&self, idx: usize) -> &str {
        match &self.values[idx] {
            Value::Str(s) => s,
            _ => "",
        }
    }

    fn list(&self, idx: usize) -> &[String] {
        match &self.values[idx] {
            Value::List(v) => v,
            _ => &[],
        }
    }

    /// `port`.
    pub fn port(&self) -> u16 {
        u16::try_from(self.int(const { at("port") })).unwrap_or(6379)
    }
    /// `bind`.
    pub fn bind(&self) -> &[String] {
        self.list(const { at("bind") })
    }
    /// `dir`.
    pub fn dir(&self) -> PathBuf {
        PathBuf::from(self.str(const { at("dir") }))
    }
    /// `appendfsync`.
    pub fn appendfsync(&self) -> AppendFsync {
        match self.str(const { at("appendfsync") }) {
            "always" => AppendFsync::Always,
            "no" => AppendFsync::No,
            _ => AppendFsync::Everysec,
        }
    }
    /// `maxmemory` in bytes (0 = no limit).
    pub fn maxmemory(&self) -> u64 {
        self.int(const { at("maxmemory") }).unsigned_abs()
    }
    /// `maxmemory-policy`.
    pub fn maxmemory_policy(&self) -> &str {
        self.str(const { at("maxmemory-policy") })
    }
    /// `maxmemory-samples`.
    pub fn maxmemory_samples(&self) -> u32 {
        u32::try_from(self.int(const { at("maxmemory-samples") })).unwrap_or(5)
    }
    /// `requirepass`, `None` when empty.
    pub fn requirepass(&self) -> Option<&str> {
        Some(self.str(const { at("requirepass") })).filter(|s| !s.is_empty())
    }
    /// `stream-node-max-entries`.
    pub fn stream_node_max_entries(&self) -> u64 {
        self.int(const { at("stream-node-max-entries") })
            .unsigned_abs()
    }
    /// `stream-node-max-bytes`.
    pub fn stream_node_max_bytes(&self) -> u64 {
        self.int(const { at("stream-node-max-bytes") })
            .unsigned_abs()
    }
    /// `loglevel`.
    pub fn loglevel(&self) -> LogLevel {
        match self.str(const { at("loglevel") }) {
            "debug" => LogLevel::Debug,
            "verbose" => LogLevel::Verbose,
            "warning" => LogLevel::Warning,
            _ => LogLevel::Notice,
        }
    }
    /// `logfile` (empty = standard output).
    pub fn logfile(&self) -> &str {
        self.str(const { at("logfile") })
    }
    /// `proto-max-bulk-len`.
    pub fn proto_max_bulk_len(&self) -> u64 {
        self.int(const { at("proto-max-bulk-len") }).unsigned_abs()
    }
    /// `client-query-buffer-limit`.
    pub fn client_query_buffer_limit(&self) -> usize {
        usize::try_from(self.int(const { at("client-query-buffer-limit") })).unwrap_or(usize::MAX)
    }
    /// `timeout`: seconds of idleness before a client is closed (0 = never).
    pub fn timeout(&self) -> u64 {
        self.int(const { at("timeout") }).unsigned_abs()
    }
    /// `databases`.
    pub fn databases(&self) -> i64 {
        self.int(const { at("databases") })
    }
    /// `maxclients`.
    pub fn maxclients(&self) -> usize {
        usize::try_from(self.int(const { at("maxclients") })).unwrap_or(10000)
    }
    /// `wal-segment-size`: bytes per WAL segment file.
    pub fn wal_segment_size(&self) -> u64 {
        self.int(const { at("wal-segment-size") }).unsigned_abs()
    }
    /// `checkpoint-interval`: seconds between checkpoints (0 = only at shutdown).
    pub fn checkpoint_interval(&self) -> u64 {
        self.int(const { at("checkpoint-interval") }).unsigned_abs()
    }

    /// Applies CONFIG SET pairs atomically: all are validated first, and a
    /// bad one changes nothing.
    ///
    /// # Errors
    /// The full Redis error text (without the `ERR ` code).
    pub fn config_set(&mut self, pairs: &[(String, String)]) -> Result<(), String> {
        let mut staged: Vec<(usize, Value)> = Vec::with_capacity(pairs.len());
        for (name, value) in pairs {
            let Some(idx) = spec_index(name) else {
                return Err(format!(
                    "Unknown option or number of arguments for CONFIG SET - '{name}'"
                ));
            };
            let failed = |reason: &str| {
                format!("CONFIG SET failed (possibly related to argument '{name}') - {reason}")
            };
            if staged.iter().any(|(i, _)| *i == idx) {
                return Err(failed("duplicate parameter"));
            }
            let spec = &SPECS[idx];
            if !spec.mutable {
                return Err(failed("can't set immutable config"));
            }
            let value = parse_value(spec, std::slice::from_ref(value)).map_err(|r| failed(&r))?;
            staged.push((idx, value));
        }
        for (idx, value) in staged {
            self.values[idx] = value;
        }
        Ok(())
    }

    /// `(name, value)` pairs for CONFIG GET, each setting once. As in Redis,
    /// a pattern without glob characters is a name looked up
    /// case-insensitively and echoed as typed; a glob matches names
    /// case-insensitively and replies with their canonical names.
    pub fn config_get(&self, patterns: &[&[u8]]) -> Vec<(String, String)> {
        let mut seen = vec![false; SPECS.len()];
        let mut out = Vec::new();
        for p in patterns {
            let is_glob = p.iter().any(|b| matches!(b, b'*' | b'?' | b'['));
            if !is_glob {
                let name = String::from_utf8_lossy(p);
                if let Some(i) = spec_index(&name)
                    && !seen[i]
                {
                    seen[i] = true;
                    out.push((name.into_owned(), render(&self.values[i])));
                }
                continue;
            }
            for (i, spec) in SPECS.iter().enumerate() {
                if !seen[i] && crate::glob::glob_match(p, spec.name.as_bytes(), true) {
                    seen[i] = true;
                    out.push((spec.name.to_owned(), render(&self.values[i])));
                }
            }
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults() {
        let s = Settings::default();
        assert_eq!(s.port(), 6379);
        assert_eq!(s.bind(), ["127.0.0.1"]);
        assert_eq!(s.appendfsync(), AppendFsync::Everysec);
        assert_eq!(s.proto_max_bulk_len(), 512 * 1024 * 1024);
        assert_eq!(s.stream_node_max_entries(), 100);
        assert_eq!(s.requirepass(), None);
        assert_eq!(s.get("save"), Some(&Value::List(vec![])));
    }

    #[test]
    fn memory_units_as_redis() {
        assert_eq!(parse_memory("1k"), Some(1000));
        assert_eq!(parse_memory("1kb"), Some(1024));
        assert_eq!(parse_memory("2mb"), Some(2_097_152));
        assert_eq!(parse_memory("2m"), Some(2_000_000));
        assert_eq!(parse_memory("1GB"), Some(1 << 30));
        assert_eq!(parse_memory("3g"), Some(3_000_000_000));
        assert_eq!(parse_memory("12"), Some(12));
        assert_eq!(parse_memory("-1"), None);
        assert_eq!(parse_memory("1.5gb"), None);
        assert_eq!(parse_memory("1tb"), None);
        assert_eq!(format_memory(2_097_152), "2mb");
        assert_eq!(format_memory(1000), "1000");
    }

    #[test]
    fn config_set_is_atomic() {
        let mut s = Settings::default();
        let pairs = |v: &[(&str, &str)]| -> Vec<(String, String)> {
            v.iter()
                .map(|(a, b)| ((*a).to_owned(), (*b).to_owned()))
                .collect()
        };
        let err = s.config_set(&pairs(&[("maxmemory", "1mb"), ("maxmemory-samples", "0")]));
        assert_eq!(
            err.unwrap_err(),
            "CONFIG SET failed (possibly related to argument 'maxmemory-samples') - \
             argument must be between 1 and 2147483647 inclusive"
        );
        assert_eq!(s.maxmemory(), 0);
        s.config_set(&pairs(&[
            ("maxmemory", "1mb"),
            ("MAXMEMORY-policy", "allkeys-LRU"),
        ]))
        .unwrap();
        assert_eq!(s.maxmemory(), 1 << 20);
        assert_eq!(s.maxmemory_policy(), "allkeys-lru");
        assert!(
            s.config_set(&pairs(&[("port", "1")]))
                .unwrap_err()
                .contains("immutable")
        );
        assert!(
            s.config_set(&pairs(&[("nope", "1")]))
                .unwrap_err()
                .starts_with("Unknown option")
        );
        assert!(
            s.config_set(&pairs(&[("timeout", "1"), ("timeout", "2")]))
                .unwrap_err()
                .ends_with("duplicate parameter")
        );
    }

    #[test]
    fn config_get_globs() {
        let s = Settings::default();
        let got = s.config_get(&[b"maxmemory*"]);
        let names: Vec<_> = got.iter().map(|(n, _)| n.as_str()).collect();
        assert_eq!(
            names,
            ["maxmemory", "maxmemory-policy", "maxmemory-samples"]
        );
        assert_eq!(
            s.config_get(&[b"PORT"]),
            [("PORT".to_owned(), "6379".to_owned())]
        );
    }
}
