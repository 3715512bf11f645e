//! XREAD [COUNT n] [BLOCK ms] STREAMS key... id...
//!
//! Without data, BLOCK hands a [`BlockedRead`] to the connection (see
//! [`Flow::Block`]): `$` is already replaced by each stream's last ID, so a
//! reader only ever sees entries added after it blocked. Inside MULTI, BLOCK
//! answers at once, as Redis does.

use std::time::Duration;

use super::stream::write_entries;
use super::{CommandDef, Ctx, Flow, eq, int_arg};
use crate::resp::Reply;
use crate::stream::{Entry, StreamId};

/// The XREAD command.
pub const COMMANDS: &[CommandDef] = &[CommandDef {
    name: "xread",
    arity: -4,
    flags: &["readonly", "blocking", "movablekeys"],
    acl: &["@read", "@stream", "@slow", "@blocking"],
    keys: (0, 0, 0),
    group: "stream",
    summary: "Return never seen elements in multiple streams, with IDs greater than the ones reported by the caller for each stream. Can block.",
    since: "5.0.0",
    complexity: "For each stream mentioned: O(N) with N being the number of elements being returned",
    handler: Some(xread),
    subcommands: &[],
}];

/// A reader waiting for entries.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BlockedRead {
    /// Streams and the ID after which entries are wanted.
    pub streams: Vec<(Vec<u8>, StreamId)>,
    /// COUNT (per stream).
    pub count: Option<usize>,
    /// How long to wait; `None` waits forever (BLOCK 0).
    pub timeout: Option<Duration>,
    /// Set for XREADGROUP: the read is a group delivery of `>` entries
    /// (the IDs in `streams` are then unused).
    pub group: Option<GroupSpec>,
}

/// The group part of a blocked XREADGROUP.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GroupSpec {
    /// Group name.
    pub group: Vec<u8>,
    /// Consumer name.
    pub consumer: Vec<u8>,
    /// NOACK: deliveries are not added to the pending list.
    pub noack: bool,
}

/// Writes XREAD's reply: a map (RESP3) or array (RESP2) of stream name to entries.
pub fn write_streams(reply: &mut Reply<'_>, found: &[(Vec<u8>, Vec<Entry>)]) {
    if reply.resp3() {
        reply.map(found.len());
    } else {
        reply.array(found.len());
    }
    for (key, entries) in found {
        if !reply.resp3() {
            reply.array(2);
        }
        reply.bulk(key);
        write_entries(reply, entries);
    }
}

/// What [`block_or_count`] made of an argument.
pub(super) enum ReadOpt {
    /// It was `BLOCK ms` or `COUNT n` (two arguments used).
    Taken,
    /// A bad value: the error is in the reply.
    Replied(Flow),
    /// Some other argument.
    Other,
}

/// `BLOCK ms` and `COUNT n` at `args[i]`, shared by XREAD and XREADGROUP,
/// with Redis's errors. COUNT 0 (or negative) means no limit.
pub(super) fn block_or_count(
    ctx: &mut Ctx<'_, '_>,
    args: &[Vec<u8>],
    i: usize,
    count: &mut Option<usize>,
    block: &mut Option<i64>,
) -> ReadOpt {
    let Some(value) = args.get(i + 1) else {
        return ReadOpt::Other;
    };
    if eq(&args[i], "BLOCK") {
        match int_arg(value) {
            None => {
                ctx.reply
                    .error("ERR timeout is not an integer or out of range");
                return ReadOpt::Replied(Flow::Continue);
            }
            Some(ms) if ms < 0 => {
                ctx.reply.error("ERR timeout is negative");
                return ReadOpt::Replied(Flow::Continue);
            }
            Some(ms) => *block = Some(ms),
        }
        ReadOpt::Taken
    } else if eq(&args[i], "COUNT") {
        match int_arg(value) {
            None => return ReadOpt::Replied(ctx.not_an_integer()),
            Some(n) if n <= 0 => *count = None,
            Some(n) => *count = Some(usize::try_from(n).unwrap_or(usize::MAX)),
        }
        ReadOpt::Taken
    } else {
        ReadOpt::Other
    }
}

fn xread(ctx: &mut Ctx<'_, '_>, args: &[Vec<u8>]) -> Flow {
    let mut count: Option<usize> = None;
    let mut block: Option<i64> = None;
    let mut streams_at = None;
    let mut i = 1;
    while i < args.len() {
        let more = args.len() - 1 - i;
        match block_or_count(ctx, args, i, &mut count, &mut block) {
            ReadOpt::Taken => {
                i += 2;
                continue;
            }
            ReadOpt::Replied(flow) => return flow,
            ReadOpt::Other => {}
        }
        if eq(&args[i], "STREAMS") && more >= 1 {
            streams_at = Some(i + 1);
            break;
        } else if eq(&args[i], "GROUP") && more >= 2 {
            ctx.reply.error(
                "ERR The GROUP option is only supported by XREADGROUP. You called XREAD instead.",
            );
            return Flow::Continue;
        } else if eq(&args[i], "NOACK") {
            ctx.reply.error(
                "ERR The NOACK option is only supported by XREADGROUP. You called XREAD instead.",
            );
            return Flow::Continue;
        } else {
            return ctx.syntax_error();
        }
    }
    let Some(first) = streams_at else {
        return ctx.syntax_error();
    };
    let rest = &args[first..];
    if !rest.len().is_multiple_of(2) {
        ctx.reply.error(
            "ERR Unbalanced XREAD list of streams: for each stream key an ID or '$' must be specified.",
        );
        return Flow::Continue;
    }
    let (keys, ids) = rest.split_at(rest.len() / 2);
    let store = ctx.store();
    let mut streams: Vec<(Vec<u8>, StreamId)> = Vec::with_capacity(keys.len());
    for (key, id) in keys.iter().zip(ids) {
        let after = if id.as_slice() == b">" {
            ctx.reply.error("ERR The > ID can be specified only when calling XREADGROUP using the GROUP <group> <consumer> option.");
            return Flow::Continue;
        } else if id.as_slice() == b"$" {
            match store.key_type(key) {
                "none" => StreamId::MIN,
                "stream" => match store.last_id(key) {
                    Ok(last) => last.unwrap_or(StreamId::MIN),
                    Err(e) => {
                        ctx.engine_error(&e);
                        return Flow::Continue;
                    }
                },
                _ => {
                    ctx.engine_error(&crate::Error::WrongType);
                    return Flow::Continue;
                }
            }
        } else {
            // Redis 7.0 reads these IDs strictly: `-` and `+` are refused.
            match StreamId::parse_strict(std::str::from_utf8(id).unwrap_or(""), 0) {
                Ok(id) => id,
                Err(e) => {
                    ctx.engine_error(&e);
                    return Flow::Continue;
                }
            }
        };
        streams.push((key.clone(), after));
    }
    let refs: Vec<(&[u8], StreamId)> = streams.iter().map(|(k, id)| (k.as_slice(), *id)).collect();
    match store.xread(&refs, count) {
        Err(e) => ctx.engine_error(&e),
        Ok(found) if !found.is_empty() => write_streams(ctx.reply, &found),
        Ok(_) => match block {
            // Blocking inside MULTI (or EXEC) times out at once.
            Some(ms) if !ctx.session.in_exec => {
                let timeout = (ms > 0).then(|| Duration::from_millis(ms.unsigned_abs()));
                return Flow::Block(Box::new(BlockedRead {
                    streams,
                    count,
                    timeout,
                    group: None,
                }));
            }
            _ => ctx.reply.null_array(),
        },
    }
    Flow::Continue
}
