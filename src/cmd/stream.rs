//! Stream commands: XADD, XRANGE, XREVRANGE, XLEN, XDEL, XTRIM, XSETID,
//! XINFO STREAM, with Redis 7.0's argument rules, error texts and reply
//! shapes (RESP2 and RESP3). XREAD is in [`super::xread`].
//!
//! eddy's extensions to XADD and XTRIM (documented in the README):
//! `IDMP <producer> <message-id>` (idempotent append, Redis 8.6's syntax),
//! `IFLAST <last-id>|NOSTREAM` (expected-version append) and the trimming
//! strategies `MAXSIZE <bytes>` and `MAXAGE <ms>`; Redis 8.2's
//! `KEEPREF | DELREF | ACKED` reference policies on XADD and XTRIM. The
//! consumer-group parts of XINFO are in [`super::groups`].

use super::{CommandDef, Ctx, Flow, eq, help, int_arg};
use crate::config::parse_memory;
use crate::resp::Reply;
use crate::store::{AddArgs, Expect};
use crate::stream::{Entry, IdRange, IdSpec, RefPolicy, StreamId, Trim, TrimStrategy};

const fn def(
    name: &'static str,
    arity: i32,
    flags: &'static [&'static str],
    acl: &'static [&'static str],
    summary: &'static str,
    since: &'static str,
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
        complexity: "O(N)",
        handler: Some(handler),
        subcommands: &[],
    }
}

const READ: &[&str] = &["readonly"];
const READ_ACL: &[&str] = &["@read", "@stream", "@slow"];

/// The stream family.
pub const COMMANDS: &[CommandDef] = &[
    def(
        "xadd",
        -5,
        &["write", "denyoom", "fast"],
        &["@write", "@stream", "@fast"],
        "Appends a new entry to a stream",
        "5.0.0",
        xadd,
    ),
    def(
        "xrange",
        -4,
        READ,
        READ_ACL,
        "Return a range of elements in a stream, with IDs matching the specified IDs interval",
        "5.0.0",
        xrange,
    ),
    def(
        "xrevrange",
        -4,
        READ,
        READ_ACL,
        "Return a range of elements in a stream, with IDs matching the specified IDs interval, in reverse order (from greater to smaller IDs) compared to XRANGE",
        "5.0.0",
        xrevrange,
    ),
    def(
        "xlen",
        2,
        &["readonly", "fast"],
        &["@read", "@stream", "@fast"],
        "Return the number of entries in a stream",
        "5.0.0",
        xlen,
    ),
    def(
        "xdel",
        -3,
        &["write", "fast"],
        &["@write", "@stream", "@fast"],
        "Removes the specified entries from the stream. Returns the number of items actually deleted, that may be different from the number of IDs passed in case certain IDs do not exist.",
        "5.0.0",
        xdel,
    ),
    def(
        "xtrim",
        -4,
        &["write"],
        &["@write", "@stream", "@slow"],
        "Trims the stream to (approximately if '~' is passed) a certain size",
        "5.0.0",
        xtrim,
    ),
    def(
        "xsetid",
        -3,
        &["write", "denyoom", "fast"],
        &["@write", "@stream", "@fast"],
        "An internal command for replicating stream values",
        "5.0.0",
        xsetid,
    ),
    CommandDef {
        name: "xinfo",
        arity: -2,
        flags: &[],
        acl: &["@slow"],
        keys: (0, 0, 0),
        group: "stream",
        summary: "A container for stream introspection commands",
        since: "5.0.0",
        complexity: "Depends on subcommand.",
        handler: None,
        subcommands: &[
            CommandDef {
                keys: (2, 2, 1),
                ..def(
                    "stream",
                    -3,
                    READ,
                    READ_ACL,
                    "Get information about a stream",
                    "5.0.0",
                    xinfo_stream,
                )
            },
            CommandDef {
                keys: (2, 2, 1),
                ..def(
                    "groups",
                    3,
                    READ,
                    READ_ACL,
                    "List the consumer groups of a stream",
                    "5.0.0",
                    super::groups::xinfo_groups,
                )
            },
            CommandDef {
                keys: (2, 2, 1),
                ..def(
                    "consumers",
                    4,
                    READ,
                    READ_ACL,
                    "List the consumers in a consumer group",
                    "5.0.0",
                    super::groups::xinfo_consumers,
                )
            },
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
                handler: Some(xinfo_help),
                subcommands: &[],
            },
        ],
    },
];

/// Writes one entry: `[id, [field, value, ...]]`.
pub fn write_entry(reply: &mut Reply<'_>, e: &Entry) {
    let pairs = e.len();
    // Each field and value gains at most a 1-byte tag, its length's digits
    // and two CRLFs over its encoded form (whose varint length prefix is at
    // least one byte); the ID and the headers fit in 64 more.
    reply.reserve(e.raw_fields().len() + pairs * 2 * 12 + 64);
    reply.array(2);
    let id = e.id();
    reply.bulk_id(id.ms, id.seq);
    reply.array(pairs * 2);
    for (f, v) in e.fields() {
        reply.bulk(f);
        reply.bulk(v);
    }
}

/// Writes a list of entries.
pub fn write_entries(reply: &mut Reply<'_>, entries: &[Entry]) {
    reply.array(entries.len());
    for e in entries {
        write_entry(reply, e);
    }
}

fn text(a: &[u8]) -> &str {
    std::str::from_utf8(a).unwrap_or("\u{fffd}")
}

/// Redis's "strict" ID parse (no `-`/`+`), with its error.
fn strict_id(ctx: &mut Ctx<'_, '_>, a: &[u8]) -> Option<StreamId> {
    match StreamId::parse_strict(text(a), 0) {
        Ok(id) => Some(id),
        Err(e) => {
            ctx.engine_error(&e);
            None
        }
    }
}

/// The options XADD and XTRIM share, as Redis's
/// `streamParseAddOrTrimArgsOrReply` reads them.
struct AddOrTrim {
    trim: Option<Trim>,
    nomkstream: bool,
    expect: Option<Expect>,
    idmp: Option<(usize, usize)>,
    /// KEEPREF / DELREF / ACKED (Redis 8.2).
    refs: RefPolicy,
    /// Index of the ID argument (XADD).
    id_index: usize,
}

fn parse_add_or_trim(ctx: &mut Ctx<'_, '_>, args: &[Vec<u8>], xadd: bool) -> Option<AddOrTrim> {
    let mut out = AddOrTrim {
        trim: None,
        nomkstream: false,
        expect: None,
        idmp: None,
        refs: RefPolicy::KeepRef,
        id_index: args.len(),
    };
    let mut strategy: Option<TrimStrategy> = None;
    let mut approx = false;
    let mut limit: Option<i64> = None;
    let mut i = 2;
    while i < args.len() {
        let more = args.len() - 1 - i;
        let opt = &args[i];
        let is_strategy =
            eq(opt, "MAXLEN") || eq(opt, "MINID") || eq(opt, "MAXSIZE") || eq(opt, "MAXAGE");
        if xadd && opt.as_slice() == b"*" {
            out.id_index = i;
            break;
        } else if is_strategy && more >= 1 {
            if strategy.is_some() {
                ctx.reply.error("ERR syntax error, MAXLEN and MINID options at the same time are not compatible");
                return None;
            }
            approx = false;
            let next = args[i + 1].as_slice();
            if more >= 2 && next == b"~" {
                approx = true;
                i += 1;
            } else if more >= 2 && next == b"=" {
                i += 1;
            }
            let arg = &args[i + 1];
            strategy = Some(if eq(opt, "MINID") {
                TrimStrategy::MinId(strict_id(ctx, arg)?)
            } else if eq(opt, "MAXSIZE") {
                match parse_memory(text(arg)) {
                    Some(n) => TrimStrategy::MaxSize(n.unsigned_abs()),
                    None => {
                        ctx.reply
                            .error("ERR The MAXSIZE argument must be a memory value >= 0.");
                        return None;
                    }
                }
            } else {
                let Some(n) = int_arg(arg) else {
                    ctx.not_an_integer();
                    return None;
                };
                if n < 0 {
                    let name = if eq(opt, "MAXLEN") {
                        "MAXLEN"
                    } else {
                        "MAXAGE"
                    };
                    ctx.reply
                        .error(&format!("ERR The {name} argument must be >= 0."));
                    return None;
                }
                if eq(opt, "MAXLEN") {
                    TrimStrategy::MaxLen(n.unsigned_abs())
                } else {
                    TrimStrategy::MaxAge(n.unsigned_abs())
                }
            });
            i += 2;
        } else if eq(opt, "LIMIT") && more >= 1 {
            let Some(n) = int_arg(&args[i + 1]) else {
                ctx.not_an_integer();
                return None;
            };
            if n < 0 {
                ctx.reply.error("ERR The LIMIT argument must be >= 0.");
                return None;
            }
            limit = Some(n);
            i += 2;
        } else if eq(opt, "KEEPREF") || eq(opt, "DELREF") || eq(opt, "ACKED") {
            out.refs = if eq(opt, "KEEPREF") {
                RefPolicy::KeepRef
            } else if eq(opt, "DELREF") {
                RefPolicy::DelRef
            } else {
                RefPolicy::Acked
            };
            i += 1;
        } else if xadd && eq(opt, "NOMKSTREAM") {
            out.nomkstream = true;
            i += 1;
        } else if xadd && eq(opt, "IDMP") && more >= 2 {
            out.idmp = Some((i + 1, i + 2));
            i += 3;
        } else if xadd && eq(opt, "IFLAST") && more >= 1 {
            out.expect = Some(if eq(&args[i + 1], "NOSTREAM") {
                Expect::NoStream
            } else {
                Expect::LastId(strict_id(ctx, &args[i + 1])?)
            });
            i += 2;
        } else if xadd {
            // A syntax error or the ID: the ID is parsed by the caller.
            out.id_index = i;
            break;
        } else {
            ctx.syntax_error();
            return None;
        }
    }
    if limit.is_some_and(|l| l != 0) && strategy.is_none() {
        ctx.reply
            .error("ERR syntax error, LIMIT cannot be used without specifying a trimming strategy");
        return None;
    }
    if !xadd && strategy.is_none() {
        ctx.reply
            .error("ERR syntax error, XTRIM must be called with a trimming strategy");
        return None;
    }
    if limit.is_some() && !approx {
        ctx.reply
            .error("ERR syntax error, LIMIT cannot be used without the special ~ option");
        return None;
    }
    out.trim = strategy.map(|strategy| Trim {
        strategy,
        approx,
        limit: limit.map(i64::unsigned_abs),
    });
    Some(out)
}

fn xadd(ctx: &mut Ctx<'_, '_>, args: &[Vec<u8>]) -> Flow {
    let Some(opts) = parse_add_or_trim(ctx, args, true) else {
        return Flow::Continue;
    };
    let field_pos = opts.id_index + 1;
    if field_pos > args.len() || (args.len() - field_pos) < 2 || (args.len() - field_pos) % 2 == 1 {
        return ctx.wrong_args("xadd");
    }
    let id: IdSpec = match text(&args[opts.id_index]).parse() {
        Ok(id) => id,
        Err(e) => {
            ctx.engine_error(&e);
            return Flow::Continue;
        }
    };
    let fields: Vec<(&[u8], &[u8])> = args[field_pos..]
        .chunks(2)
        .map(|p| (p[0].as_slice(), p[1].as_slice()))
        .collect();
    let mut add = AddArgs::new(&fields).id(id);
    add.nomkstream = opts.nomkstream;
    add.trim = opts.trim;
    add.expect = opts.expect;
    add.refs = opts.refs;
    if let Some((p, m)) = opts.idmp {
        add = add.idmp(&args[p], &args[m]);
    }
    match ctx.store().xadd(&args[1], &add) {
        Ok(Some(added)) => {
            ctx.reply.bulk_id(added.id.ms, added.id.seq);
            if !added.duplicate {
                ctx.shared.notify_stream(&args[1]);
            }
        }
        Ok(None) => ctx.reply.null(),
        Err(e) => ctx.engine_error(&e),
    }
    Flow::Continue
}

fn range(ctx: &mut Ctx<'_, '_>, args: &[Vec<u8>], rev: bool) -> Flow {
    let (start, end) = if rev {
        (&args[3], &args[2])
    } else {
        (&args[2], &args[3])
    };
    let range = match IdRange::parse(text(start), text(end)) {
        Ok(r) => r,
        Err(e) => {
            ctx.engine_error(&e);
            return Flow::Continue;
        }
    };
    let mut count: Option<i64> = None;
    let mut j = 4;
    while j < args.len() {
        if eq(&args[j], "COUNT") && j + 1 < args.len() {
            match int_arg(&args[j + 1]) {
                Some(n) => count = Some(n.max(0)),
                None => return ctx.not_an_integer(),
            }
            j += 2;
        } else {
            return ctx.syntax_error();
        }
    }
    if count == Some(0) {
        ctx.reply.null_array();
        return Flow::Continue;
    }
    let count = count.map(|n| usize::try_from(n).unwrap_or(usize::MAX));
    let store = ctx.store();
    let got = if rev {
        store.xrevrange(&args[1], range, count)
    } else {
        store.xrange(&args[1], range, count)
    };
    match got {
        Ok(entries) => write_entries(ctx.reply, &entries),
        Err(e) => ctx.engine_error(&e),
    }
    Flow::Continue
}

fn xrange(ctx: &mut Ctx<'_, '_>, args: &[Vec<u8>]) -> Flow {
    range(ctx, args, false)
}

fn xrevrange(ctx: &mut Ctx<'_, '_>, args: &[Vec<u8>]) -> Flow {
    range(ctx, args, true)
}

fn xlen(ctx: &mut Ctx<'_, '_>, args: &[Vec<u8>]) -> Flow {
    match ctx.store().xlen(&args[1]) {
        Ok(n) => ctx.reply.int(i64::try_from(n).unwrap_or(i64::MAX)),
        Err(e) => ctx.engine_error(&e),
    }
    Flow::Continue
}

fn xdel(ctx: &mut Ctx<'_, '_>, args: &[Vec<u8>]) -> Flow {
    // As Redis: a missing key answers 0 before the IDs are looked at.
    match ctx.store().key_type(&args[1]) {
        "none" => {
            ctx.reply.int(0);
            return Flow::Continue;
        }
        "stream" => {}
        _ => {
            ctx.engine_error(&crate::Error::WrongType);
            return Flow::Continue;
        }
    }
    let mut ids = Vec::with_capacity(args.len() - 2);
    for a in &args[2..] {
        let Some(id) = strict_id(ctx, a) else {
            return Flow::Continue;
        };
        ids.push(id);
    }
    match ctx.store().xdel(&args[1], &ids) {
        Ok(n) => ctx.reply.int(i64::try_from(n).unwrap_or(i64::MAX)),
        Err(e) => ctx.engine_error(&e),
    }
    Flow::Continue
}

fn xtrim(ctx: &mut Ctx<'_, '_>, args: &[Vec<u8>]) -> Flow {
    let Some(opts) = parse_add_or_trim(ctx, args, false) else {
        return Flow::Continue;
    };
    let Some(trim) = opts.trim else {
        return ctx.syntax_error();
    };
    match ctx.store().xtrim_refs(&args[1], &trim, opts.refs) {
        Ok(n) => ctx.reply.int(i64::try_from(n).unwrap_or(i64::MAX)),
        Err(e) => ctx.engine_error(&e),
    }
    Flow::Continue
}

fn xsetid(ctx: &mut Ctx<'_, '_>, args: &[Vec<u8>]) -> Flow {
    let Some(id) = strict_id(ctx, &args[2]) else {
        return Flow::Continue;
    };
    let mut entries_added = None;
    let mut max_deleted = None;
    let mut i = 3;
    while i < args.len() {
        let more = args.len() - 1 - i;
        if eq(&args[i], "ENTRIESADDED") && more >= 1 {
            match int_arg(&args[i + 1]) {
                None => return ctx.not_an_integer(),
                Some(n) if n < 0 => {
                    ctx.reply.error("ERR entries_added must be positive");
                    return Flow::Continue;
                }
                Some(n) => entries_added = Some(n.unsigned_abs()),
            }
        } else if eq(&args[i], "MAXDELETEDID") && more >= 1 {
            let Some(md) = strict_id(ctx, &args[i + 1]) else {
                return Flow::Continue;
            };
            if id < md {
                ctx.engine_error(&crate::Error::XsetidBelowGivenMaxDeleted);
                return Flow::Continue;
            }
            max_deleted = Some(md);
        } else {
            return ctx.syntax_error();
        }
        i += 2;
    }
    match ctx.store().xsetid(&args[1], id, entries_added, max_deleted) {
        Ok(()) => ctx.reply.ok(),
        Err(e) => ctx.engine_error(&e),
    }
    Flow::Continue
}

fn xinfo_stream(ctx: &mut Ctx<'_, '_>, args: &[Vec<u8>]) -> Flow {
    let mut full_count: Option<usize> = None;
    match args.len() {
        3 => {}
        4 if eq(&args[3], "FULL") => full_count = Some(10),
        6 if eq(&args[3], "FULL") && eq(&args[4], "COUNT") => match int_arg(&args[5]) {
            None => return ctx.not_an_integer(),
            Some(n) => full_count = Some(usize::try_from(n.max(0)).unwrap_or(usize::MAX)),
        },
        _ => {
            let sub = text(&args[1]).to_owned();
            ctx.reply.error(&format!(
                "ERR unknown subcommand or wrong number of arguments for '{sub}'. Try XINFO HELP."
            ));
            return Flow::Continue;
        }
    }
    let store = ctx.store();
    let info = match store.xinfo_stream(&args[2]) {
        Ok(i) => i,
        Err(e) => {
            ctx.engine_error(&e);
            return Flow::Continue;
        }
    };
    let entries = match full_count {
        Some(n) => match store.xinfo_entries(&args[2], n) {
            Ok(v) => Some(v),
            Err(e) => {
                ctx.engine_error(&e);
                return Flow::Continue;
            }
        },
        None => None,
    };
    let groups_full = match full_count {
        Some(n) => match store.xinfo_groups_full(&args[2], n) {
            Ok(g) => Some(g),
            Err(e) => {
                ctx.engine_error(&e);
                return Flow::Continue;
            }
        },
        None => None,
    };
    let group_count = match store.xinfo_groups(&args[2]) {
        Ok(g) => g.len(),
        Err(e) => {
            ctx.engine_error(&e);
            return Flow::Continue;
        }
    };
    let r = &mut *ctx.reply;
    r.map(if entries.is_some() { 9 } else { 10 });
    r.bulk(b"length");
    r.int(i64::try_from(info.length).unwrap_or(i64::MAX));
    r.bulk(b"radix-tree-keys");
    r.int(i64::try_from(info.radix_tree_keys).unwrap_or(i64::MAX));
    r.bulk(b"radix-tree-nodes");
    r.int(i64::try_from(info.radix_tree_nodes).unwrap_or(i64::MAX));
    r.bulk(b"last-generated-id");
    r.bulk_id(info.last_generated_id.ms, info.last_generated_id.seq);
    r.bulk(b"max-deleted-entry-id");
    r.bulk_id(info.max_deleted_entry_id.ms, info.max_deleted_entry_id.seq);
    r.bulk(b"entries-added");
    r.int(i64::try_from(info.entries_added).unwrap_or(i64::MAX));
    r.bulk(b"recorded-first-entry-id");
    r.bulk_id(
        info.recorded_first_entry_id.ms,
        info.recorded_first_entry_id.seq,
    );
    match entries {
        Some(entries) => {
            r.bulk(b"entries");
            write_entries(r, &entries);
            r.bulk(b"groups");
            super::groups::write_groups_full(r, groups_full.as_deref().unwrap_or(&[]));
        }
        None => {
            r.bulk(b"groups");
            r.int(i64::try_from(group_count).unwrap_or(i64::MAX));
            for (name, e) in [
                (&b"first-entry"[..], &info.first_entry),
                (b"last-entry", &info.last_entry),
            ] {
                r.bulk(name);
                match e {
                    Some(e) => write_entry(r, e),
                    None => r.null(),
                }
            }
        }
    }
    Flow::Continue
}

fn xinfo_help(ctx: &mut Ctx<'_, '_>, _args: &[Vec<u8>]) -> Flow {
    help(
        ctx,
        "XINFO",
        &[
            "CONSUMERS <key> <groupname>",
            "    Show consumers of <groupname>.",
            "GROUPS <key>",
            "    Show the stream consumer groups.",
            "STREAM <key> [FULL [COUNT <count>]",
            "    Show information about the stream.",
        ],
    )
}
