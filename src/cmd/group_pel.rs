//! Pending-entries commands: XACK, XPENDING, XCLAIM, XAUTOCLAIM, and Redis
//! 8.2's XACKDEL and XDELEX (`KEEPREF | DELREF | ACKED`, `IDS numids
//! id...`), with Redis's argument order, error texts and reply shapes.
//!
//! Claims may move entries to a group's dead-letter stream (an eddy
//! policy); readers blocked on that stream are woken here. This module does
//! not deliver new entries ([`super::xreadgroup`]) or manage groups
//! ([`super::groups`]).

use super::{CommandDef, Ctx, Flow, eq, int_arg};
use crate::group::{ClaimArgs, DeliveryTime, GroupEntry, PendingQuery};
use crate::resp::Reply;
use crate::stream::{IdRange, RefPolicy, StreamId};

#[allow(clippy::too_many_arguments)]
const fn def(
    name: &'static str,
    arity: i32,
    flags: &'static [&'static str],
    acl: &'static [&'static str],
    summary: &'static str,
    since: &'static str,
    complexity: &'static str,
    handler: super::Handler,
) -> CommandDef {
    CommandDef {
        name,
        arity,
        flags,
        acl,
        keys: (1, 1, 1),
        group: "stream",
        summary,
        since,
        complexity,
        handler: Some(handler),
        subcommands: &[],
    }
}

/// The pending-entries family.
pub const COMMANDS: &[CommandDef] = &[
    def(
        "xack",
        -4,
        &["write", "fast"],
        &["@write", "@stream", "@fast"],
        "Marks a pending message as correctly processed, effectively removing it from the pending entries list of the consumer group. Return value of the command is the number of messages successfully acknowledged, that is, the IDs we were actually able to resolve in the PEL.",
        "5.0.0",
        "O(1) for each message ID processed.",
        xack,
    ),
    def(
        "xpending",
        -3,
        &["readonly"],
        &["@read", "@stream", "@slow"],
        "Return information and entries from a stream consumer group pending entries list, that are messages fetched but never acknowledged.",
        "5.0.0",
        "O(N) with N being the number of elements returned, so asking for a small fixed number of entries per call is O(1). O(M), where M is the total number of entries scanned when used with the IDLE filter. When the command returns just the summary and the list of consumers is small, it runs in O(1) time; otherwise, an additional O(N) time for iterating every consumer.",
        xpending,
    ),
    def(
        "xclaim",
        -6,
        &["write", "fast"],
        &["@write", "@stream", "@fast"],
        "Changes (or acquires) ownership of a message in a consumer group, as if the message was delivered to the specified consumer.",
        "5.0.0",
        "O(log N) with N being the number of messages in the PEL of the consumer group.",
        xclaim,
    ),
    def(
        "xautoclaim",
        -6,
        &["write", "fast"],
        &["@write", "@stream", "@fast"],
        "Changes (or acquires) ownership of messages in a consumer group, as if the messages were delivered to the specified consumer.",
        "6.2.0",
        "O(1) if COUNT is small.",
        xautoclaim,
    ),
    def(
        "xackdel",
        -6,
        &["write", "fast"],
        &["@write", "@stream", "@fast"],
        "Acknowledges and conditionally deletes one or multiple entries for a stream consumer group.",
        "8.2.0",
        "O(1) for each entry ID processed.",
        xackdel,
    ),
    def(
        "xdelex",
        -5,
        &["write", "fast"],
        &["@write", "@stream", "@fast"],
        "Deletes one or multiple entries from the stream.",
        "8.2.0",
        "O(1) for each single item to delete in the stream, regardless of the stream size.",
        xdelex,
    ),
];

fn text(a: &[u8]) -> &str {
    std::str::from_utf8(a).unwrap_or("\u{fffd}")
}

fn strict_id(a: &[u8]) -> Result<StreamId, crate::Error> {
    StreamId::parse_strict(text(a), 0)
}

fn count_reply(r: &mut Reply<'_>, n: u64) {
    r.int(i64::try_from(n).unwrap_or(i64::MAX));
}

/// Wakes readers of the dead-letter stream of `group` after a call that
/// moved entries there.
fn wake_dead_letters(ctx: &mut Ctx<'_, '_>, key: &[u8], group: &[u8], moved: &[StreamId]) {
    if moved.is_empty() {
        return;
    }
    let dl = ctx.store().with_stream(key, |s, _| {
        Ok(s.group(group)
            .and_then(|g| g.policy().dead_letter.as_ref().map(|d| d.stream.clone())))
    });
    if let Ok(Some(Some(stream))) = dl {
        ctx.shared.notify_stream(&stream);
    }
}

/// Checks that `key` is a stream or missing (WRONGTYPE otherwise).
fn type_ok(ctx: &mut Ctx<'_, '_>, key: &[u8]) -> Option<bool> {
    match ctx.store().key_type(key) {
        "none" => Some(false),
        "stream" => Some(true),
        _ => {
            ctx.engine_error(&crate::Error::WrongType);
            None
        }
    }
}

/// XACK key group id...: IDs are all parsed first (all or nothing); a
/// missing key or group acknowledges nothing.
fn xack(ctx: &mut Ctx<'_, '_>, args: &[Vec<u8>]) -> Flow {
    let mut ids = Vec::with_capacity(args.len() - 3);
    for a in &args[3..] {
        match strict_id(a) {
            Ok(id) => ids.push(id),
            Err(e) => {
                ctx.engine_error(&e);
                return Flow::Continue;
            }
        }
    }
    if type_ok(ctx, &args[1]).is_none() {
        return Flow::Continue;
    }
    match ctx.store().xack(&args[1], &args[2], &ids) {
        Ok(n) => count_reply(ctx.reply, n),
        Err(e) => ctx.engine_error(&e),
    }
    Flow::Continue
}

/// XPENDING key group [[IDLE min-idle] start end count [consumer]].
fn xpending(ctx: &mut Ctx<'_, '_>, args: &[Vec<u8>]) -> Flow {
    let argc = args.len();
    if argc != 3 && !(6..=9).contains(&argc) {
        return ctx.syntax_error();
    }
    let mut query = None;
    if argc >= 6 {
        let mut at = 3;
        let mut min_idle = 0;
        if eq(&args[3], "IDLE") {
            match int_arg(&args[4]) {
                Some(n) => min_idle = n,
                None => return ctx.not_an_integer(),
            }
            if argc < 8 {
                return ctx.syntax_error();
            }
            at += 2;
        }
        let Some(count) = int_arg(&args[at + 2]) else {
            return ctx.not_an_integer();
        };
        let range = match IdRange::parse(text(&args[at]), text(&args[at + 1])) {
            Ok(r) => r,
            Err(e) => {
                ctx.engine_error(&e);
                return Flow::Continue;
            }
        };
        let consumer = args.get(at + 3).map(Vec::as_slice);
        query = Some(PendingQuery {
            start: range.start,
            end: range.end,
            count: count.max(0),
            min_idle,
            consumer,
        });
    }
    if type_ok(ctx, &args[1]).is_none() {
        return Flow::Continue;
    }
    let store = ctx.store();
    let r = &mut *ctx.reply;
    match query {
        None => match store.xpending_summary(&args[1], &args[2]) {
            Err(e) => r.error(&e.to_string()),
            Ok(s) => {
                r.array(4);
                count_reply(r, s.count);
                match (s.first, s.last) {
                    (Some(first), Some(last)) => {
                        r.bulk_id(first.ms, first.seq);
                        r.bulk_id(last.ms, last.seq);
                        r.array(s.consumers.len());
                        for (name, n) in &s.consumers {
                            r.array(2);
                            r.bulk(name);
                            r.bulk_int(i64::try_from(*n).unwrap_or(i64::MAX));
                        }
                    }
                    _ => {
                        r.null();
                        r.null();
                        r.null_array();
                    }
                }
            }
        },
        Some(q) => match store.xpending(&args[1], &args[2], &q) {
            Err(e) => r.error(&e.to_string()),
            Ok(rows) => {
                r.array(rows.len());
                for row in &rows {
                    r.array(4);
                    r.bulk_id(row.id.ms, row.id.seq);
                    r.bulk(&row.consumer);
                    r.int(row.idle);
                    count_reply(r, row.delivery_count);
                }
            }
        },
    }
    Flow::Continue
}

/// Writes claimed entries: `[id, fields]`, or the bare ID with JUSTID.
fn write_claimed(r: &mut Reply<'_>, claimed: &[GroupEntry], justid: bool) {
    r.array(claimed.len());
    for c in claimed {
        match (&c.entry, justid) {
            (Some(e), false) => super::stream::write_entry(r, e),
            _ => r.bulk_id(c.id.ms, c.id.seq),
        }
    }
}

/// XCLAIM key group consumer min-idle-time id... [IDLE ms] [TIME ms]
/// [RETRYCOUNT n] [FORCE] [JUSTID] [LASTID id]. The IDs end at the first
/// argument that is not one; the rest are options.
fn xclaim(ctx: &mut Ctx<'_, '_>, args: &[Vec<u8>]) -> Flow {
    let (key, group) = (&args[1], &args[2]);
    let Some(exists) = type_ok(ctx, key) else {
        return Flow::Continue;
    };
    let has_group = exists
        && matches!(
            ctx.store()
                .with_stream(key, |s, _| Ok(s.group(group).is_some())),
            Ok(Some(true))
        );
    if !has_group {
        ctx.engine_error(&crate::Error::no_group(key, group));
        return Flow::Continue;
    }
    let Some(min_idle) = int_arg(&args[4]) else {
        ctx.engine_error(&crate::Error::InvalidMinIdle { command: "XCLAIM" });
        return Flow::Continue;
    };
    let mut ids = Vec::new();
    let mut j = 5;
    while j < args.len() {
        match strict_id(&args[j]) {
            Ok(id) => ids.push(id),
            Err(_) => break,
        }
        j += 1;
    }
    let mut opts = ClaimArgs {
        min_idle: min_idle.max(0),
        ..ClaimArgs::default()
    };
    while j < args.len() {
        let more = args.len() - 1 - j;
        let opt = &args[j];
        let option_int = |name: &'static str, a: &[u8]| {
            int_arg(a).ok_or(crate::Error::InvalidXclaimOption { option: name })
        };
        let step = if eq(opt, "FORCE") {
            opts.force = true;
            Ok(())
        } else if eq(opt, "JUSTID") {
            opts.justid = true;
            Ok(())
        } else if eq(opt, "IDLE") && more >= 1 {
            j += 1;
            option_int("IDLE", &args[j]).map(|ms| opts.delivery = Some(DeliveryTime::Idle(ms)))
        } else if eq(opt, "TIME") && more >= 1 {
            j += 1;
            option_int("TIME", &args[j]).map(|t| opts.delivery = Some(DeliveryTime::Time(t)))
        } else if eq(opt, "RETRYCOUNT") && more >= 1 {
            j += 1;
            option_int("RETRYCOUNT", &args[j]).map(|n| opts.retry_count = Some(n))
        } else if eq(opt, "LASTID") && more >= 1 {
            j += 1;
            strict_id(&args[j]).map(|id| opts.last_id = Some(id))
        } else {
            Err(crate::Error::UnrecognizedXclaimOption(text(opt).to_owned()))
        };
        if let Err(e) = step {
            ctx.engine_error(&e);
            return Flow::Continue;
        }
        j += 1;
    }
    match ctx.store().xclaim(key, group, &args[3], &ids, &opts) {
        Ok(reply) => {
            write_claimed(ctx.reply, &reply.claimed, opts.justid);
            wake_dead_letters(ctx, key, group, &reply.dead_lettered);
        }
        Err(e) => ctx.engine_error(&e),
    }
    Flow::Continue
}

/// XAUTOCLAIM key group consumer min-idle-time start [COUNT n] [JUSTID]:
/// `[next cursor, claimed, deleted IDs]`.
fn xautoclaim(ctx: &mut Ctx<'_, '_>, args: &[Vec<u8>]) -> Flow {
    let (key, group) = (&args[1], &args[2]);
    let Some(exists) = type_ok(ctx, key) else {
        return Flow::Continue;
    };
    let has_group = exists
        && matches!(
            ctx.store()
                .with_stream(key, |s, _| Ok(s.group(group).is_some())),
            Ok(Some(true))
        );
    if !has_group {
        ctx.engine_error(&crate::Error::no_group(key, group));
        return Flow::Continue;
    }
    let Some(min_idle) = int_arg(&args[4]) else {
        ctx.engine_error(&crate::Error::InvalidMinIdle {
            command: "XAUTOCLAIM",
        });
        return Flow::Continue;
    };
    // Redis reads the start as an interval bound: `(id` is exclusive.
    let start = match IdRange::parse(text(&args[5]), "+") {
        Ok(r) => r.start,
        Err(e) => {
            ctx.engine_error(&e);
            return Flow::Continue;
        }
    };
    let mut count = 100;
    let mut justid = false;
    let mut j = 6;
    while j < args.len() {
        let more = args.len() - 1 - j;
        if eq(&args[j], "COUNT") && more >= 1 {
            match int_arg(&args[j + 1]) {
                Some(n) if (1..=i64::MAX / 16).contains(&n) => count = n,
                _ => {
                    ctx.engine_error(&crate::Error::CountNotPositive);
                    return Flow::Continue;
                }
            }
            j += 1;
        } else if eq(&args[j], "JUSTID") {
            justid = true;
        } else {
            return ctx.syntax_error();
        }
        j += 1;
    }
    let got = ctx
        .store()
        .xautoclaim(key, group, &args[3], min_idle.max(0), start, count, justid);
    match got {
        Ok(reply) => {
            let r = &mut *ctx.reply;
            r.array(3);
            r.bulk_id(reply.next.ms, reply.next.seq);
            write_claimed(r, &reply.claimed, justid);
            r.array(reply.deleted.len());
            for id in &reply.deleted {
                r.bulk_id(id.ms, id.seq);
            }
            wake_dead_letters(ctx, key, group, &reply.dead_lettered);
        }
        Err(e) => ctx.engine_error(&e),
    }
    Flow::Continue
}

/// Parses `[KEEPREF|DELREF|ACKED] IDS numids id...` from `args[at..]`.
fn refs_and_ids(
    ctx: &mut Ctx<'_, '_>,
    args: &[Vec<u8>],
    mut at: usize,
) -> Option<(RefPolicy, Vec<StreamId>)> {
    let mut refs = RefPolicy::KeepRef;
    let mut policy_seen = false;
    while at < args.len() && !eq(&args[at], "IDS") {
        let p = if eq(&args[at], "KEEPREF") {
            RefPolicy::KeepRef
        } else if eq(&args[at], "DELREF") {
            RefPolicy::DelRef
        } else if eq(&args[at], "ACKED") {
            RefPolicy::Acked
        } else {
            ctx.syntax_error();
            return None;
        };
        if policy_seen {
            ctx.syntax_error();
            return None;
        }
        policy_seen = true;
        refs = p;
        at += 1;
    }
    if at + 1 >= args.len() {
        ctx.syntax_error();
        return None;
    }
    let n = match int_arg(&args[at + 1]) {
        Some(n) if n > 0 => usize::try_from(n).unwrap_or(usize::MAX),
        _ => {
            ctx.reply
                .error("ERR Number of IDs must be a positive integer");
            return None;
        }
    };
    let first = at + 2;
    if args.len() - first != n {
        ctx.reply
            .error("ERR The `numids` parameter must match the number of arguments");
        return None;
    }
    let mut ids = Vec::with_capacity(n);
    for a in &args[first..] {
        match strict_id(a) {
            Ok(id) => ids.push(id),
            Err(e) => {
                ctx.engine_error(&e);
                return None;
            }
        }
    }
    Some((refs, ids))
}

fn write_codes(r: &mut Reply<'_>, codes: &[i64]) {
    r.array(codes.len());
    for c in codes {
        r.int(*c);
    }
}

/// XACKDEL key group [KEEPREF|DELREF|ACKED] IDS numids id...
fn xackdel(ctx: &mut Ctx<'_, '_>, args: &[Vec<u8>]) -> Flow {
    let Some((refs, ids)) = refs_and_ids(ctx, args, 3) else {
        return Flow::Continue;
    };
    if type_ok(ctx, &args[1]).is_none() {
        return Flow::Continue;
    }
    match ctx.store().xackdel(&args[1], &args[2], &ids, refs) {
        Ok(codes) => write_codes(ctx.reply, &codes),
        Err(e) => ctx.engine_error(&e),
    }
    Flow::Continue
}

/// XDELEX key [KEEPREF|DELREF|ACKED] IDS numids id...
fn xdelex(ctx: &mut Ctx<'_, '_>, args: &[Vec<u8>]) -> Flow {
    let Some((refs, ids)) = refs_and_ids(ctx, args, 2) else {
        return Flow::Continue;
    };
    if type_ok(ctx, &args[1]).is_none() {
        return Flow::Continue;
    }
    match ctx.store().xdelex(&args[1], &ids, refs) {
        Ok(codes) => write_codes(ctx.reply, &codes),
        Err(e) => ctx.engine_error(&e),
    }
    Flow::Continue
}
