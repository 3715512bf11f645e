//! XGROUP (CREATE, SETID, DESTROY, CREATECONSUMER, DELCONSUMER, HELP and
//! eddy's SETPOLICY, GETPOLICY, EXPIRECONSUMER) and the group parts of
//! XINFO (GROUPS, CONSUMERS, the `groups` of STREAM FULL), with Redis 7's
//! argument checks in Redis's order and its reply shapes.
//!
//! eddy's extensions (documented in the README):
//! `XGROUP SETPOLICY key group [DEADLETTER <stream> MAXDELIVERIES <n> |
//! NODEADLETTER] [CONSUMERIDLE <ms> | NOCONSUMERIDLE]` changes only the
//! settings it names; `XGROUP GETPOLICY key group` shows them;
//! `XGROUP EXPIRECONSUMER key group consumer` deletes a consumer and hands
//! its pending entries back to the group instead of dropping them.
//!
//! This module does not deliver, acknowledge or claim entries
//! ([`super::group_pel`], [`super::xreadgroup`]).

use super::{CommandDef, Ctx, Flow, eq, help, int_arg};
use crate::group::{ConsumerFull, DeadLetter, GroupFull, GroupPolicy, GroupStart};
use crate::resp::Reply;
use crate::stream::StreamId;

const fn sub(
    name: &'static str,
    arity: i32,
    flags: &'static [&'static str],
    summary: &'static str,
    since: &'static str,
    handler: super::Handler,
) -> CommandDef {
    CommandDef {
        name,
        arity,
        flags,
        acl: &["@write", "@stream", "@slow"],
        keys: (2, 2, 1),
        group: "stream",
        summary,
        since,
        complexity: "O(1)",
        handler: Some(handler),
        subcommands: &[],
    }
}

/// The XGROUP container.
pub const COMMANDS: &[CommandDef] = &[CommandDef {
    name: "xgroup",
    arity: -2,
    flags: &[],
    acl: &["@slow"],
    keys: (0, 0, 0),
    group: "stream",
    summary: "A container for consumer groups commands",
    since: "5.0.0",
    complexity: "Depends on subcommand.",
    handler: None,
    subcommands: &[
        sub(
            "create",
            -5,
            &["write", "denyoom"],
            "Create a consumer group.",
            "5.0.0",
            xgroup,
        ),
        sub(
            "setid",
            -5,
            &["write"],
            "Set a consumer group to an arbitrary last delivered ID value.",
            "5.0.0",
            xgroup,
        ),
        sub(
            "destroy",
            4,
            &["write"],
            "Destroy a consumer group.",
            "5.0.0",
            xgroup,
        ),
        sub(
            "createconsumer",
            5,
            &["write", "denyoom"],
            "Create a consumer in a consumer group.",
            "6.2.0",
            xgroup,
        ),
        sub(
            "delconsumer",
            5,
            &["write"],
            "Delete a consumer from a consumer group.",
            "5.0.0",
            xgroup,
        ),
        sub(
            "setpolicy",
            -4,
            &["write"],
            "Set a consumer group's dead-letter policy and consumer idle expiry (eddy).",
            "0.1.0",
            xgroup_setpolicy,
        ),
        sub(
            "getpolicy",
            4,
            &["readonly"],
            "Show a consumer group's dead-letter policy and consumer idle expiry (eddy).",
            "0.1.0",
            xgroup_getpolicy,
        ),
        sub(
            "expireconsumer",
            5,
            &["write"],
            "Delete a consumer and hand its pending entries back to the group (eddy).",
            "0.1.0",
            xgroup_expireconsumer,
        ),
        CommandDef {
            name: "help",
            arity: 2,
            flags: &["loading", "stale"],
            acl: &["@stream", "@slow"],
            keys: (0, 0, 0),
            group: "stream",
            summary: "Show helpful text about the different subcommands",
            since: "5.0.0",
            complexity: "O(1)",
            handler: Some(xgroup_help),
            subcommands: &[],
        },
    ],
}];

fn text(a: &[u8]) -> &str {
    std::str::from_utf8(a).unwrap_or("\u{fffd}")
}

/// Redis's `addReplySubcommandSyntaxError`.
fn subcommand_syntax_error(ctx: &mut Ctx<'_, '_>, args: &[Vec<u8>]) -> Flow {
    let sub = String::from_utf8_lossy(&args[1][..args[1].len().min(128)]).into_owned();
    let cmd = text(&args[0]).to_ascii_uppercase();
    ctx.reply.error(&format!(
        "ERR unknown subcommand or wrong number of arguments for '{sub}'. Try {cmd} HELP."
    ));
    Flow::Continue
}

/// What the key holds, as XGROUP needs it: `Ok(None)` missing, `Ok(Some(groups))`.
fn groups_of(ctx: &mut Ctx<'_, '_>, key: &[u8]) -> Result<Option<Vec<Vec<u8>>>, crate::Error> {
    let store = ctx.store();
    store.with_stream(key, |s, _| {
        Ok(s.groups().map(|(n, _)| n.to_vec()).collect::<Vec<_>>())
    })
}

/// XGROUP CREATE / SETID / DESTROY / CREATECONSUMER / DELCONSUMER, checked
/// in the order of Redis's `xgroupCommand`: options, key type, key
/// existence, group existence, then the ID.
fn xgroup(ctx: &mut Ctx<'_, '_>, args: &[Vec<u8>]) -> Flow {
    let opt = text(&args[1]).to_ascii_lowercase();
    let key = &args[2];
    let group = &args[3];
    let mut mkstream = false;
    let mut entries_read: Option<i64> = None;
    if opt == "create" || opt == "setid" {
        let mut i = 5;
        while i < args.len() {
            if opt == "create" && eq(&args[i], "MKSTREAM") {
                mkstream = true;
                i += 1;
            } else if eq(&args[i], "ENTRIESREAD") && i + 1 < args.len() {
                match int_arg(&args[i + 1]) {
                    None => return ctx.not_an_integer(),
                    Some(n) if n < 0 && n != -1 => {
                        ctx.engine_error(&crate::Error::EntriesReadInvalid);
                        return Flow::Continue;
                    }
                    Some(n) => entries_read = Some(n),
                }
                i += 2;
            } else {
                return subcommand_syntax_error(ctx, args);
            }
        }
    }
    let groups = match groups_of(ctx, key) {
        Ok(g) => g,
        Err(e) => {
            ctx.engine_error(&e);
            return Flow::Continue;
        }
    };
    let has_group = groups
        .as_ref()
        .is_some_and(|g| g.iter().any(|n| n == group));
    if !mkstream {
        if groups.is_none() {
            ctx.engine_error(&crate::Error::XgroupNoKey);
            return Flow::Continue;
        }
        if !has_group && matches!(opt.as_str(), "setid" | "createconsumer" | "delconsumer") {
            ctx.engine_error(&crate::Error::no_such_group(key, group));
            return Flow::Continue;
        }
    }
    let store = ctx.store();
    match opt.as_str() {
        "create" if args.len() <= 8 => {
            let start = match start_id(ctx, &args[4], true) {
                Some(s) => s,
                None => return Flow::Continue,
            };
            match store.xgroup_create(key, group, start, mkstream, entries_read) {
                Ok(()) => ctx.reply.ok(),
                Err(e) => ctx.engine_error(&e),
            }
        }
        "setid" if args.len() == 5 || args.len() == 7 => {
            let start = match start_id(ctx, &args[4], false) {
                Some(s) => s,
                None => return Flow::Continue,
            };
            match store.xgroup_setid(key, group, start, entries_read) {
                Ok(()) => ctx.reply.ok(),
                Err(e) => ctx.engine_error(&e),
            }
        }
        "destroy" => match store.xgroup_destroy(key, group) {
            Ok(gone) => {
                ctx.reply.int(i64::from(gone));
                if gone {
                    // Blocked readers of this group answer -NOGROUP.
                    ctx.shared.notify_stream(key);
                }
            }
            Err(e) => ctx.engine_error(&e),
        },
        "createconsumer" => match store.xgroup_createconsumer(key, group, &args[4]) {
            Ok(created) => ctx.reply.int(i64::from(created)),
            Err(e) => ctx.engine_error(&e),
        },
        "delconsumer" => match store.xgroup_delconsumer(key, group, &args[4]) {
            Ok(n) => ctx.reply.int(i64::try_from(n).unwrap_or(i64::MAX)),
            Err(e) => ctx.engine_error(&e),
        },
        _ => return subcommand_syntax_error(ctx, args),
    }
    Flow::Continue
}

/// `$` or an ID: CREATE parses strictly, SETID accepts `-` and `+` too.
fn start_id(ctx: &mut Ctx<'_, '_>, a: &[u8], strict: bool) -> Option<GroupStart> {
    if a == b"$" {
        return Some(GroupStart::LastId);
    }
    let parsed = if strict {
        StreamId::parse_strict(text(a), 0)
    } else {
        StreamId::parse_loose(text(a), 0)
    };
    match parsed {
        Ok(id) => Some(GroupStart::Id(id)),
        Err(e) => {
            ctx.engine_error(&e);
            None
        }
    }
}

/// The current policy of a group, or the reply already written.
fn current_policy(ctx: &mut Ctx<'_, '_>, key: &[u8], group: &[u8]) -> Option<GroupPolicy> {
    let got = ctx
        .store()
        .with_stream(key, |s, _| Ok(s.group(group).map(|g| g.policy().clone())));
    match got {
        Err(e) => ctx.engine_error(&e),
        Ok(None) => ctx.engine_error(&crate::Error::XgroupNoKey),
        Ok(Some(None)) => ctx.engine_error(&crate::Error::no_such_group(key, group)),
        Ok(Some(Some(p))) => return Some(p),
    }
    None
}

fn positive(ctx: &mut Ctx<'_, '_>, a: &[u8], what: &str) -> Option<u64> {
    match int_arg(a) {
        Some(n) if n > 0 => Some(n.unsigned_abs()),
        _ => {
            ctx.reply
                .error(&format!("ERR {what} must be a positive integer"));
            None
        }
    }
}

/// XGROUP SETPOLICY key group [DEADLETTER stream MAXDELIVERIES n |
/// NODEADLETTER] [CONSUMERIDLE ms | NOCONSUMERIDLE]: what is not named is
/// kept.
fn xgroup_setpolicy(ctx: &mut Ctx<'_, '_>, args: &[Vec<u8>]) -> Flow {
    let (key, group) = (&args[2], &args[3]);
    let mut dead: Option<Option<DeadLetter>> = None;
    let mut idle: Option<Option<u64>> = None;
    let mut i = 4;
    while i < args.len() {
        let more = args.len() - 1 - i;
        if eq(&args[i], "DEADLETTER") && more >= 3 && eq(&args[i + 2], "MAXDELIVERIES") {
            let Some(n) = positive(ctx, &args[i + 3], "MAXDELIVERIES") else {
                return Flow::Continue;
            };
            dead = Some(Some(DeadLetter {
                stream: args[i + 1].clone(),
                max_deliveries: n,
            }));
            i += 4;
        } else if eq(&args[i], "NODEADLETTER") {
            dead = Some(None);
            i += 1;
        } else if eq(&args[i], "CONSUMERIDLE") && more >= 1 {
            let Some(ms) = positive(ctx, &args[i + 1], "CONSUMERIDLE") else {
                return Flow::Continue;
            };
            idle = Some(Some(ms));
            i += 2;
        } else if eq(&args[i], "NOCONSUMERIDLE") {
            idle = Some(None);
            i += 1;
        } else {
            return ctx.syntax_error();
        }
    }
    let Some(mut policy) = current_policy(ctx, key, group) else {
        return Flow::Continue;
    };
    if let Some(d) = dead {
        policy.dead_letter = d;
    }
    if let Some(ms) = idle {
        policy.consumer_idle_ms = ms;
    }
    match ctx.store().xgroup_set_policy(key, group, policy) {
        Ok(()) => ctx.reply.ok(),
        Err(e) => ctx.engine_error(&e),
    }
    Flow::Continue
}

/// XGROUP GETPOLICY key group: a map of `dead-letter-stream`,
/// `max-deliveries` and `consumer-idle-ms` (null when unset).
fn xgroup_getpolicy(ctx: &mut Ctx<'_, '_>, args: &[Vec<u8>]) -> Flow {
    let Some(p) = current_policy(ctx, &args[2], &args[3]) else {
        return Flow::Continue;
    };
    let r = &mut *ctx.reply;
    r.map(3);
    r.bulk(b"dead-letter-stream");
    match &p.dead_letter {
        Some(d) => r.bulk(&d.stream),
        None => r.null(),
    }
    r.bulk(b"max-deliveries");
    match &p.dead_letter {
        Some(d) => r.int(i64::try_from(d.max_deliveries).unwrap_or(i64::MAX)),
        None => r.null(),
    }
    r.bulk(b"consumer-idle-ms");
    match p.consumer_idle_ms {
        Some(ms) => r.int(i64::try_from(ms).unwrap_or(i64::MAX)),
        None => r.null(),
    }
    Flow::Continue
}

/// XGROUP EXPIRECONSUMER key group consumer: the number of pending entries
/// handed back to the group (0 for a missing consumer).
fn xgroup_expireconsumer(ctx: &mut Ctx<'_, '_>, args: &[Vec<u8>]) -> Flow {
    match ctx
        .store()
        .xgroup_expire_consumer(&args[2], &args[3], &args[4])
    {
        Ok(n) => ctx.reply.int(i64::try_from(n).unwrap_or(i64::MAX)),
        Err(e) => ctx.engine_error(&e),
    }
    Flow::Continue
}

fn xgroup_help(ctx: &mut Ctx<'_, '_>, _args: &[Vec<u8>]) -> Flow {
    help(
        ctx,
        "XGROUP",
        &[
            "CREATE <key> <groupname> <id|$> [option]",
            "    Create a new consumer group. Options are:",
            "    * MKSTREAM",
            "      Create the empty stream if it does not exist.",
            "    * ENTRIESREAD entries_read",
            "      Set the group's entries_read counter (internal use).",
            "CREATECONSUMER <key> <groupname> <consumer>",
            "    Create a new consumer in the specified group.",
            "DELCONSUMER <key> <groupname> <consumer>",
            "    Remove the specified consumer.",
            "DESTROY <key> <groupname>",
            "    Remove the specified group.",
            "SETID <key> <groupname> <id|$> [ENTRIESREAD entries_read]",
            "    Set the current group ID and entries_read counter.",
        ],
    )
}

fn int_or_null(r: &mut Reply<'_>, v: Option<u64>) {
    match v {
        Some(n) => r.int(i64::try_from(n).unwrap_or(i64::MAX)),
        None => r.null(),
    }
}

fn int(r: &mut Reply<'_>, n: u64) {
    r.int(i64::try_from(n).unwrap_or(i64::MAX));
}

/// XINFO GROUPS key.
pub fn xinfo_groups(ctx: &mut Ctx<'_, '_>, args: &[Vec<u8>]) -> Flow {
    let groups = match ctx.store().xinfo_groups(&args[2]) {
        Ok(g) => g,
        Err(e) => {
            ctx.engine_error(&e);
            return Flow::Continue;
        }
    };
    let r = &mut *ctx.reply;
    r.array(groups.len());
    for g in &groups {
        r.map(6);
        r.bulk(b"name");
        r.bulk(&g.name);
        r.bulk(b"consumers");
        int(r, g.consumers);
        r.bulk(b"pending");
        int(r, g.pending);
        r.bulk(b"last-delivered-id");
        r.bulk_id(g.last_delivered_id.ms, g.last_delivered_id.seq);
        r.bulk(b"entries-read");
        int_or_null(r, g.entries_read);
        r.bulk(b"lag");
        int_or_null(r, g.lag);
    }
    Flow::Continue
}

/// XINFO CONSUMERS key group (Redis 7.2's fields: name, pending, idle,
/// inactive).
pub fn xinfo_consumers(ctx: &mut Ctx<'_, '_>, args: &[Vec<u8>]) -> Flow {
    let consumers = match ctx.store().xinfo_consumers(&args[2], &args[3]) {
        Ok(c) => c,
        Err(e) => {
            ctx.engine_error(&e);
            return Flow::Continue;
        }
    };
    let r = &mut *ctx.reply;
    r.array(consumers.len());
    for c in &consumers {
        r.map(4);
        r.bulk(b"name");
        r.bulk(&c.name);
        r.bulk(b"pending");
        int(r, c.pending);
        r.bulk(b"idle");
        r.int(c.idle);
        r.bulk(b"inactive");
        r.int(c.inactive);
    }
    Flow::Continue
}

/// The `groups` value of XINFO STREAM FULL.
pub fn write_groups_full(r: &mut Reply<'_>, groups: &[GroupFull]) {
    r.array(groups.len());
    for g in groups {
        r.map(7);
        r.bulk(b"name");
        r.bulk(&g.name);
        r.bulk(b"last-delivered-id");
        r.bulk_id(g.last_delivered_id.ms, g.last_delivered_id.seq);
        r.bulk(b"entries-read");
        int_or_null(r, g.entries_read);
        r.bulk(b"lag");
        int_or_null(r, g.lag);
        r.bulk(b"pel-count");
        int(r, g.pel_count);
        r.bulk(b"pending");
        r.array(g.pending.len());
        for (id, owner, time, count) in &g.pending {
            r.array(4);
            r.bulk_id(id.ms, id.seq);
            r.bulk(owner);
            int(r, *time);
            int(r, *count);
        }
        r.bulk(b"consumers");
        r.array(g.consumers.len());
        for c in &g.consumers {
            write_consumer_full(r, c);
        }
    }
}

fn write_consumer_full(r: &mut Reply<'_>, c: &ConsumerFull) {
    r.map(5);
    r.bulk(b"name");
    r.bulk(&c.name);
    r.bulk(b"seen-time");
    int(r, c.seen_time);
    r.bulk(b"active-time");
    r.int(c.active_time);
    r.bulk(b"pel-count");
    int(r, c.pel_count);
    r.bulk(b"pending");
    r.array(c.pending.len());
    for (id, time, count) in &c.pending {
        r.array(3);
        r.bulk_id(id.ms, id.seq);
        int(r, *time);
        int(r, *count);
    }
}
