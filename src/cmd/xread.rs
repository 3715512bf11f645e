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

fn xread(ctx: &mut Ctx<'_, '_>, args: &[Vec<u8>]) -> Flow {
    let mut count: Option<usize> = None;
    let mut block: Option<i64> = None;
    let mut streams_at = None;
    let mut i = 1;
    while i < args.len() {
        let more = args.len() - 1 - i;
        if eq(&args[i], "BLOCK") && more >= 1 {
            match int_arg(&args[i + 1]) {
                None => {
                    ctx.reply
                        .error("ERR timeout is not an integer or out of range");
                    return Flow::Continue;
                }
                Some(ms) if ms < 0 => {
                    ctx.reply.error("ERR timeout is negative");
                    return Flow::Continue;
                }
                Some(ms) => block = Some(ms),
            }
            i += 2;
        } else if eq(&args[i], "COUNT") && more >= 1 {
            match int_arg(&args[i + 1]) {
                None => return ctx.not_an_integer(),
                // COUNT 0 (or negative) means no limit.
                Some(n) if n <= 0 => count = None,
                Some(n) => count = Some(usize::try_from(n).unwrap_or(usize::MAX)),
            }
            i += 2;
        } else if eq(&args[i], "STREAMS") && more >= 1 {
            streams_at = Some(i + 1);
            break;
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
        let after = if id.as_slice() == b"$" {
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
                }));
            }
            _ => ctx.reply.null_array(),
        },
    }
    Flow::Continue
}
