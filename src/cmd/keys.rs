//! Key-space commands: DEL, UNLINK, EXISTS, TOUCH, TYPE, TTL, PTTL, KEYS,
//! SCAN, DBSIZE, RENAME, FLUSHALL, FLUSHDB, FUNCTION FLUSH. eddy keys never
//! expire, so TTL and PTTL answer -1 for an existing key and -2 otherwise.

use super::{CommandDef, Ctx, Flow, eq, int_arg};

#[expect(
    clippy::too_many_arguments,
    reason = "one table row per call, read like the table"
)]
const fn def(
    name: &'static str,
    arity: i32,
    flags: &'static [&'static str],
    acl: &'static [&'static str],
    keys: (i32, i32, i32),
    summary: &'static str,
    since: &'static str,
    handler: super::Handler,
) -> CommandDef {
    CommandDef {
        name,
        arity,
        flags,
        acl,
        keys,
        group: "generic",
        summary,
        since,
        complexity: "O(N)",
        handler: Some(handler),
        subcommands: &[],
    }
}

const WRITE: &[&str] = &["write"];
const WRITE_ACL: &[&str] = &["@keyspace", "@write", "@slow"];
const READ_FAST: &[&str] = &["readonly", "fast"];
const READ_ACL: &[&str] = &["@keyspace", "@read", "@fast"];

/// The key-space family.
pub const COMMANDS: &[CommandDef] = &[
    def(
        "del",
        -2,
        WRITE,
        WRITE_ACL,
        (1, -1, 1),
        "Delete a key",
        "1.0.0",
        del,
    ),
    def(
        "unlink",
        -2,
        &["write", "fast"],
        &["@keyspace", "@write", "@fast"],
        (1, -1, 1),
        "Delete a key asynchronously in another thread. Otherwise it is just as DEL, but non blocking.",
        "4.0.0",
        del,
    ),
    def(
        "exists",
        -2,
        READ_FAST,
        READ_ACL,
        (1, -1, 1),
        "Determine if a key exists",
        "1.0.0",
        exists,
    ),
    def(
        "type",
        2,
        READ_FAST,
        READ_ACL,
        (1, 1, 1),
        "Determine the type stored at key",
        "1.0.0",
        key_type,
    ),
    def(
        "touch",
        -2,
        READ_FAST,
        READ_ACL,
        (1, -1, 1),
        "Alters the last access time of a key(s). Returns the number of existing keys specified.",
        "3.2.1",
        exists,
    ),
    def(
        "ttl",
        2,
        READ_FAST,
        READ_ACL,
        (1, 1, 1),
        "Get the time to live for a key in seconds",
        "1.0.0",
        ttl,
    ),
    def(
        "pttl",
        2,
        READ_FAST,
        READ_ACL,
        (1, 1, 1),
        "Get the time to live for a key in milliseconds",
        "2.6.0",
        ttl,
    ),
    def(
        "keys",
        2,
        &["readonly"],
        &["@keyspace", "@read", "@slow", "@dangerous"],
        (0, 0, 0),
        "Find all keys matching the given pattern",
        "1.0.0",
        keys,
    ),
    def(
        "scan",
        -2,
        &["readonly"],
        &["@keyspace", "@read", "@slow"],
        (0, 0, 0),
        "Incrementally iterate the keys space",
        "2.8.0",
        scan,
    ),
    def(
        "dbsize",
        1,
        READ_FAST,
        READ_ACL,
        (0, 0, 0),
        "Return the number of keys in the selected database",
        "1.0.0",
        dbsize,
    ),
    def(
        "rename",
        3,
        WRITE,
        WRITE_ACL,
        (1, 2, 1),
        "Rename a key",
        "1.0.0",
        rename,
    ),
    def(
        "flushall",
        -1,
        WRITE,
        &["@keyspace", "@write", "@slow", "@dangerous"],
        (0, 0, 0),
        "Remove all keys from all databases",
        "1.0.0",
        flush,
    ),
    def(
        "flushdb",
        -1,
        WRITE,
        &["@keyspace", "@write", "@slow", "@dangerous"],
        (0, 0, 0),
        "Remove all keys from the current database",
        "1.0.0",
        flush,
    ),
    CommandDef {
        name: "function",
        arity: -2,
        flags: &[],
        acl: &["@slow"],
        keys: (0, 0, 0),
        group: "scripting",
        summary: "A container for function commands",
        since: "7.0.0",
        complexity: "Depends on subcommand.",
        handler: None,
        subcommands: &[CommandDef {
            name: "flush",
            arity: -2,
            flags: &["write", "noscript"],
            acl: &["@write", "@slow", "@scripting"],
            keys: (0, 0, 0),
            group: "scripting",
            summary: "Deleting all functions",
            since: "7.0.0",
            complexity: "O(N) where N is the number of functions deleted",
            handler: Some(function_flush),
            subcommands: &[],
        }],
    },
];

fn key_refs(args: &[Vec<u8>]) -> Vec<&[u8]> {
    args.iter().map(Vec::as_slice).collect()
}

fn del(ctx: &mut Ctx<'_, '_>, args: &[Vec<u8>]) -> Flow {
    let keys = key_refs(&args[1..]);
    match ctx.store().del(&keys) {
        Ok(n) => ctx.reply.int(i64::try_from(n).unwrap_or(i64::MAX)),
        Err(e) => ctx.engine_error(&e),
    }
    Flow::Continue
}

fn exists(ctx: &mut Ctx<'_, '_>, args: &[Vec<u8>]) -> Flow {
    let keys = key_refs(&args[1..]);
    let n = ctx.store().exists(&keys);
    ctx.reply.int(i64::try_from(n).unwrap_or(i64::MAX));
    Flow::Continue
}

fn ttl(ctx: &mut Ctx<'_, '_>, args: &[Vec<u8>]) -> Flow {
    let exists = ctx.store().exists(&[args[1].as_slice()]) > 0;
    ctx.reply.int(if exists { -1 } else { -2 });
    Flow::Continue
}

fn key_type(ctx: &mut Ctx<'_, '_>, args: &[Vec<u8>]) -> Flow {
    let t = ctx.store().key_type(&args[1]);
    ctx.reply.simple(t);
    Flow::Continue
}

fn keys(ctx: &mut Ctx<'_, '_>, args: &[Vec<u8>]) -> Flow {
    let found = ctx.store().keys(&args[1]);
    ctx.reply.array(found.len());
    for k in &found {
        ctx.reply.bulk(k);
    }
    Flow::Continue
}

fn scan(ctx: &mut Ctx<'_, '_>, args: &[Vec<u8>]) -> Flow {
    let cursor = std::str::from_utf8(&args[1])
        .ok()
        .and_then(|s| s.parse::<u64>().ok());
    let Some(cursor) = cursor else {
        ctx.reply.error("ERR invalid cursor");
        return Flow::Continue;
    };
    let mut pattern: Option<&[u8]> = None;
    let mut type_name: Option<String> = None;
    let mut count = 10usize;
    let mut i = 2;
    while i < args.len() {
        let more = args.len() - i - 1;
        if eq(&args[i], "COUNT") && more >= 1 {
            match int_arg(&args[i + 1]) {
                None => return ctx.not_an_integer(),
                Some(n) if n < 1 => return ctx.syntax_error(),
                Some(n) => count = usize::try_from(n).unwrap_or(usize::MAX),
            }
        } else if eq(&args[i], "MATCH") && more >= 1 {
            pattern = Some(&args[i + 1]);
        } else if eq(&args[i], "TYPE") && more >= 1 {
            type_name = Some(String::from_utf8_lossy(&args[i + 1]).to_ascii_lowercase());
        } else {
            return ctx.syntax_error();
        }
        i += 2;
    }
    // The pattern `*` matches everything: skip the matching work.
    let pattern = pattern.filter(|p| *p != b"*");
    let (next, found) = ctx
        .store()
        .scan(cursor, pattern, type_name.as_deref(), count);
    ctx.reply.array(2);
    ctx.reply.bulk(next.to_string().as_bytes());
    ctx.reply.array(found.len());
    for k in &found {
        ctx.reply.bulk(k);
    }
    Flow::Continue
}

fn dbsize(ctx: &mut Ctx<'_, '_>, _args: &[Vec<u8>]) -> Flow {
    let n = ctx.store().dbsize();
    ctx.reply.int(i64::try_from(n).unwrap_or(i64::MAX));
    Flow::Continue
}

fn rename(ctx: &mut Ctx<'_, '_>, args: &[Vec<u8>]) -> Flow {
    match ctx.store().rename(&args[1], &args[2]) {
        Ok(()) => {
            ctx.shared.notify_stream(&args[2]);
            ctx.reply.ok();
        }
        Err(e) => ctx.engine_error(&e),
    }
    Flow::Continue
}

/// FLUSHALL / FLUSHDB [ASYNC|SYNC]: eddy has one key space, so both empty it.
fn flush(ctx: &mut Ctx<'_, '_>, args: &[Vec<u8>]) -> Flow {
    match args {
        [_] => {}
        [_, mode] if eq(mode, "ASYNC") || eq(mode, "SYNC") => {}
        _ => return ctx.syntax_error(),
    }
    match ctx.store().flushall() {
        Ok(()) => ctx.reply.ok(),
        Err(e) => ctx.engine_error(&e),
    }
    Flow::Continue
}

/// FUNCTION FLUSH: eddy has no functions, so there is nothing to delete.
fn function_flush(ctx: &mut Ctx<'_, '_>, args: &[Vec<u8>]) -> Flow {
    match args {
        [_, _] => {}
        [_, _, mode] if eq(mode, "ASYNC") || eq(mode, "SYNC") => {}
        _ => {
            ctx.reply
                .error("ERR FUNCTION FLUSH only supports SYNC|ASYNC option");
            return Flow::Continue;
        }
    }
    ctx.reply.ok();
    Flow::Continue
}
