//! Commands: the table, the checks Redis makes before running one, and
//! execution.
//!
//! Each family lives in its own file and exports a `COMMANDS` table of
//! [`CommandDef`]s whose handlers read the arguments and write the reply
//! through [`Ctx`]. [`execute`] looks a request up (upper/lower case alike,
//! subcommands of container commands such as CONFIG), then applies Redis's
//! checks in Redis's order: unknown command, arity, authentication,
//! commands refused inside MULTI, queueing inside MULTI. Errors use Redis's
//! exact texts. Command families that need the engine add a file here and
//! reach the engine through [`Shared`].
//!
//! This module does not read sockets or parse RESP: it gets argument vectors
//! and a [`Reply`] writer.

pub mod admin;
pub mod client;
pub mod command;
pub mod config;
pub mod connection;
pub mod group_pel;
pub mod groups;
pub mod info;
pub mod keys;
pub mod stream;
pub mod transaction;
pub mod viewadmin;
pub mod viewread;
pub mod xread;
pub mod xreadgroup;

use std::collections::HashMap;
use std::hash::{BuildHasherDefault, Hasher};
use std::sync::{Arc, OnceLock, PoisonError};
use std::time::Instant;

use crate::resp::{Protocol, Reply};
use crate::server::Shared;
use crate::server::clients::ClientInfo;
use crate::store::Store;

/// A command implementation: reads `args` (`args[0]` is the command name),
/// writes exactly one reply.
pub type Handler = fn(&mut Ctx<'_, '_>, &[Vec<u8>]) -> Flow;

/// What the connection does after a command.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Flow {
    /// Go on reading requests.
    Continue,
    /// Send what was replied, then close the connection (QUIT, protocol errors).
    Close,
    /// Close this connection without a reply and shut the server down.
    Shutdown,
    /// Nothing to reply yet: wait for stream entries (XREAD BLOCK). The
    /// connection reads no further request until this one is answered.
    Block(Box<xread::BlockedRead>),
}

/// One entry of the command table, with what COMMAND INFO and COMMAND DOCS report.
#[derive(Debug)]
pub struct CommandDef {
    /// Lower-case name (the subcommand's own name for subcommands).
    pub name: &'static str,
    /// Redis arity: `n` exactly `n` arguments (name included), `-n` at least `n`.
    pub arity: i32,
    /// Command flags (`fast`, `write`, `no_auth`, `no_multi`...).
    pub flags: &'static [&'static str],
    /// ACL categories (`@fast`, `@connection`...).
    pub acl: &'static [&'static str],
    /// First key, last key and step, as in COMMAND INFO.
    pub keys: (i32, i32, i32),
    /// COMMAND DOCS group.
    pub group: &'static str,
    /// COMMAND DOCS summary.
    pub summary: &'static str,
    /// The Redis version that introduced it.
    pub since: &'static str,
    /// COMMAND DOCS complexity.
    pub complexity: &'static str,
    /// The implementation; `None` for containers that only dispatch.
    pub handler: Option<Handler>,
    /// Subcommands (CONFIG GET, CLIENT LIST...).
    pub subcommands: &'static [CommandDef],
}

impl CommandDef {
    /// Whether the command has `flag`.
    pub fn has_flag(&self, flag: &str) -> bool {
        self.flags.contains(&flag)
    }
}

/// A command with its place in the flat table.
#[derive(Debug)]
pub struct Entry {
    /// Index into [`all_commands`] and the statistics.
    pub id: usize,
    /// `ping`, `config|get`.
    pub fullname: String,
    /// The definition.
    pub def: &'static CommandDef,
}

/// Per-connection state that commands read and change.
#[derive(Debug)]
pub struct Session {
    /// The registry entry of this connection.
    pub client: Arc<ClientInfo>,
    /// Protocol version chosen with HELLO.
    pub proto: Protocol,
    /// Whether AUTH (or HELLO AUTH) succeeded, or no password is required.
    pub authenticated: bool,
    /// Commands queued since MULTI.
    pub multi: Option<Vec<Vec<Vec<u8>>>>,
    /// A command was refused while queueing: EXEC will abort.
    pub multi_dirty: bool,
    /// Set while EXEC runs its queue (blocking commands return at once).
    pub in_exec: bool,
    /// A command of the current batch used the store: under `appendfsync
    /// always` the batch's replies wait until what they show is durable.
    pub touched_store: bool,
    /// When the command about to run starts: set when a batch begins and
    /// moved to each command's end, so timing a command for INFO
    /// commandstats reads the clock once.
    pub mark: Instant,
}

impl Session {
    /// A new session for `client`.
    pub fn new(client: Arc<ClientInfo>) -> Self {
        Session {
            client,
            proto: Protocol::Resp2,
            authenticated: false,
            multi: None,
            multi_dirty: false,
            in_exec: false,
            touched_store: false,
            mark: Instant::now(),
        }
    }
}

/// What a handler works with.
#[derive(Debug)]
pub struct Ctx<'a, 'b> {
    /// Server-wide state.
    pub shared: &'a Shared,
    /// This connection.
    pub session: &'a mut Session,
    /// The reply writer.
    pub reply: &'a mut Reply<'b>,
}

impl<'a> Ctx<'a, '_> {
    /// The engine; marks the batch as one that used it.
    pub fn store(&mut self) -> &'a Store {
        self.session.touched_store = true;
        let shared: &'a Shared = self.shared;
        &shared.store
    }

    /// Replies with an engine error (its text is Redis's error line).
    pub fn engine_error(&mut self, e: &crate::Error) {
        self.reply.error(&e.to_string());
    }

    /// Replies `-ERR wrong number of arguments for '<name>' command`.
    pub fn wrong_args(&mut self, name: &str) -> Flow {
        self.reply.error(&format!(
            "ERR wrong number of arguments for '{name}' command"
        ));
        Flow::Continue
    }

    /// Replies `-ERR syntax error`.
    pub fn syntax_error(&mut self) -> Flow {
        self.reply.error("ERR syntax error");
        Flow::Continue
    }

    /// Replies `-ERR value is not an integer or out of range`.
    pub fn not_an_integer(&mut self) -> Flow {
        self.reply
            .error("ERR value is not an integer or out of range");
        Flow::Continue
    }
}

/// Every command family's table.
fn families() -> [&'static [CommandDef]; 15] {
    [
        stream::COMMANDS,
        xread::COMMANDS,
        xreadgroup::COMMANDS,
        groups::COMMANDS,
        group_pel::COMMANDS,
        keys::COMMANDS,
        connection::COMMANDS,
        transaction::COMMANDS,
        command::COMMANDS,
        config::COMMANDS,
        client::COMMANDS,
        info::COMMANDS,
        admin::COMMANDS,
        viewadmin::COMMANDS,
        viewread::COMMANDS,
    ]
}

struct Table {
    flat: Vec<Entry>,
    by_name: HashMap<String, usize, BuildHasherDefault<Fnv>>,
}

/// FNV-1a for command names: every request looks one up, and the table is
/// built once and never grows, so a keyed hash buys nothing here.
struct Fnv(u64);

impl Default for Fnv {
    fn default() -> Self {
        Fnv(0xcbf2_9ce4_8422_2325)
    }
}

impl Hasher for Fnv {
    fn finish(&self) -> u64 {
        self.0
    }
    fn write(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.0 = (self.0 ^ u64::from(b)).wrapping_mul(0x0000_0100_0000_01b3);
        }
    }
}

fn table() -> &'static Table {
    static TABLE: OnceLock<Table> = OnceLock::new();
    TABLE.get_or_init(|| {
        let mut flat = Vec::new();
        let mut by_name = HashMap::default();
        for def in families().into_iter().flatten() {
            by_name.insert(def.name.to_owned(), flat.len());
            flat.push(Entry {
                id: flat.len(),
                fullname: def.name.to_owned(),
                def,
            });
            for sub in def.subcommands {
                let fullname = format!("{}|{}", def.name, sub.name);
                by_name.insert(fullname.clone(), flat.len());
                flat.push(Entry {
                    id: flat.len(),
                    fullname,
                    def: sub,
                });
            }
        }
        Table { flat, by_name }
    })
}

/// Every command and subcommand, top-level commands followed by their subcommands.
pub fn all_commands() -> &'static [Entry] {
    &table().flat
}

/// The entry called `fullname` (`ping`, `config|get`), case-insensitive.
pub fn find(fullname: &str) -> Option<&'static Entry> {
    let t = table();
    // Lower-cased on the stack: this runs for every request.
    let mut buf = [0u8; 64];
    let i = match buf.get_mut(..fullname.len()) {
        Some(lower) => {
            lower.copy_from_slice(fullname.as_bytes());
            lower.make_ascii_lowercase();
            // ASCII lower-casing keeps UTF-8 valid.
            t.by_name.get(std::str::from_utf8(lower).ok()?)
        }
        None => t.by_name.get(&fullname.to_ascii_lowercase()),
    };
    i.map(|&i| &t.flat[i])
}

/// Top-level commands only (COMMAND, COMMAND COUNT).
pub fn top_level() -> impl Iterator<Item = &'static Entry> {
    all_commands().iter().filter(|e| !e.fullname.contains('|'))
}

/// `s` as text, cut to `max` bytes (for error messages).
fn lossy(s: &[u8], max: usize) -> String {
    String::from_utf8_lossy(&s[..s.len().min(max)]).into_owned()
}

enum Lookup {
    Found(&'static Entry),
    Unknown,
    UnknownSub,
}

fn lookup(args: &[Vec<u8>]) -> Lookup {
    let Ok(name) = std::str::from_utf8(&args[0]) else {
        return Lookup::Unknown;
    };
    let Some(base) = find(name) else {
        return Lookup::Unknown;
    };
    if base.def.subcommands.is_empty() || args.len() < 2 {
        return Lookup::Found(base);
    }
    let sub = std::str::from_utf8(&args[1])
        .ok()
        .and_then(|s| find(&format!("{}|{}", base.def.name, s)));
    sub.map_or(Lookup::UnknownSub, Lookup::Found)
}

fn arity_ok(arity: i32, argc: usize) -> bool {
    let argc = i64::try_from(argc).unwrap_or(i64::MAX);
    let arity = i64::from(arity);
    if arity > 0 {
        argc == arity
    } else {
        argc >= -arity
    }
}

/// Runs one request: Redis's checks, MULTI queueing, then the command.
pub fn execute(ctx: &mut Ctx<'_, '_>, args: &[Vec<u8>]) -> Flow {
    let entry = match lookup(args) {
        Lookup::Found(e) => e,
        Lookup::Unknown => {
            let mut beginning = String::new();
            for a in &args[1..] {
                if beginning.len() >= 128 {
                    break;
                }
                let room = 128 - beginning.len();
                beginning.push_str(&format!("'{}' ", lossy(a, room)));
            }
            let msg = format!(
                "ERR unknown command '{}', with args beginning with: {beginning}",
                lossy(&args[0], 128)
            );
            return reject(ctx, None, &msg);
        }
        Lookup::UnknownSub => {
            let msg = format!(
                "ERR unknown subcommand '{}'. Try {} HELP.",
                lossy(&args[1], 128),
                lossy(&args[0], 128).to_ascii_uppercase()
            );
            return reject(ctx, None, &msg);
        }
    };
    let def = entry.def;
    if !arity_ok(def.arity, args.len()) {
        let msg = format!(
            "ERR wrong number of arguments for '{}' command",
            entry.fullname
        );
        return reject(ctx, Some(entry), &msg);
    }
    if !ctx.session.authenticated && ctx.shared.requirepass().is_some() && !def.has_flag("no_auth")
    {
        return reject(ctx, Some(entry), "NOAUTH Authentication required.");
    }
    // As Redis's processCommand: evict first when over maxmemory, then
    // refuse, if still over, a command that may grow memory, an EXEC whose
    // queue holds one, and any command queued after MULTI (queueing itself
    // takes memory) except EXEC, DISCARD, QUIT and RESET.
    if ctx.shared.store.has_maxmemory() {
        let base = entry.fullname.split('|').next().unwrap_or("");
        let refuse_if_over = def.has_flag("denyoom")
            || (base == "exec" && transaction::queue_has_denyoom(ctx))
            || (ctx.session.multi.is_some()
                && !matches!(base, "exec" | "discard" | "quit" | "reset"));
        if let Err(e) = ctx.shared.store.make_room(refuse_if_over) {
            return reject(ctx, Some(entry), &e.to_string());
        }
    }
    if ctx.session.multi.is_some() {
        if def.has_flag("no_multi") {
            return reject(
                ctx,
                Some(entry),
                "ERR Command not allowed inside a transaction",
            );
        }
        let base = entry.fullname.split('|').next().unwrap_or("");
        if !matches!(
            base,
            "exec" | "discard" | "multi" | "watch" | "quit" | "reset"
        ) {
            if let Some(queue) = ctx.session.multi.as_mut() {
                queue.push(args.to_vec());
                let n = queue.len();
                ctx.session
                    .client
                    .update(|m| m.multi = i64::try_from(n).unwrap_or(i64::MAX));
            }
            ctx.reply.simple("QUEUED");
            return Flow::Continue;
        }
    }
    if entry.fullname == "exec" {
        // EXEC takes the gate exclusively itself.
        return call(ctx, entry, args);
    }
    let gate = ctx
        .shared
        .gate
        .read()
        .unwrap_or_else(PoisonError::into_inner);
    let flow = call(ctx, entry, args);
    drop(gate);
    flow
}

/// Runs a command that passed the checks, with statistics.
pub fn call(ctx: &mut Ctx<'_, '_>, entry: &'static Entry, args: &[Vec<u8>]) -> Flow {
    let Some(handler) = entry.def.handler else {
        // Containers always have subcommands that were looked up instead.
        return ctx.wrong_args(&entry.fullname);
    };
    ctx.session
        .client
        .update(|m| m.last_cmd = entry.fullname.as_str());
    let errors_before = ctx.reply.error_count();
    let start = ctx.session.mark;
    let flow = handler(ctx, args);
    let end = Instant::now();
    // Also the next command's start: a later command of the batch (one
    // queued by EXEC included) starts where this one ended.
    ctx.session.mark = end;
    let usec = u64::try_from(end.duration_since(start).as_micros()).unwrap_or(u64::MAX);
    let stats = &ctx.shared.stats;
    let s = &stats.commands[entry.id];
    use std::sync::atomic::Ordering::Relaxed;
    s.calls.fetch_add(1, Relaxed);
    s.usec.fetch_add(usec, Relaxed);
    // EXEC's own failures are its queued commands', counted for each of them.
    if ctx.reply.error_count() > errors_before && entry.fullname != "exec" {
        s.failed_calls.fetch_add(1, Relaxed);
    }
    stats.total_commands_processed.fetch_add(1, Relaxed);
    flow
}

fn reject(ctx: &mut Ctx<'_, '_>, entry: Option<&Entry>, msg: &str) -> Flow {
    if let Some(e) = entry {
        ctx.shared.stats.commands[e.id]
            .rejected_calls
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        if e.fullname == "exec" {
            // A refused EXEC discards the transaction (Redis's
            // execCommandAbort), inside MULTI or not.
            return transaction::abort(ctx, msg);
        }
    }
    if ctx.session.multi.is_some() {
        ctx.session.multi_dirty = true;
    }
    ctx.reply.error(msg);
    Flow::Continue
}

/// Whether `a` equals the ASCII word `b`, ignoring case.
pub fn eq(a: &[u8], b: &str) -> bool {
    a.eq_ignore_ascii_case(b.as_bytes())
}

/// Parses an argument as Redis's `string2ll`.
pub fn int_arg(a: &[u8]) -> Option<i64> {
    crate::resp::request::string2ll(a)
}

/// Replies with a HELP array of lines, as Redis's `addReplyHelp`.
pub fn help(ctx: &mut Ctx<'_, '_>, command: &str, lines: &[&str]) -> Flow {
    ctx.reply.array(lines.len() + 3);
    ctx.reply.simple(&format!(
        "{command} <subcommand> [<arg> [value] [opt] ...]. Subcommands are:"
    ));
    for l in lines {
        ctx.reply.simple(l);
    }
    ctx.reply.simple("HELP");
    ctx.reply.simple("    Prints this help.");
    Flow::Continue
}
