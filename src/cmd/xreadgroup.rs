//! `XREADGROUP GROUP group consumer [COUNT n] [BLOCK ms] [NOACK] STREAMS
//! key... id...`
//!
//! Checks follow Redis 7's `xreadCommand`: options, then for each stream in
//! turn its type, its group, its ID. A read is a write (deliveries change
//! the pending list), so under `appendfsync always` its reply waits for
//! durability like XADD's. With nothing new on any `>` stream and BLOCK
//! given, the connection blocks with a [`BlockedRead`] whose `group` is set
//! (see `server::connection`); inside MULTI it answers a null array at once.

use std::time::Duration;

use super::xread::{BlockedRead, GroupSpec, ReadOpt, block_or_count};
use super::{CommandDef, Ctx, Flow, eq};
use crate::group::{ReadFrom, StreamRead};
use crate::resp::Reply;
use crate::stream::StreamId;

/// The XREADGROUP command.
pub const COMMANDS: &[CommandDef] = &[CommandDef {
    name: "xreadgroup",
    arity: -7,
    flags: &["write", "blocking", "movablekeys"],
    acl: &["@write", "@stream", "@slow", "@blocking"],
    keys: (0, 0, 0),
    group: "stream",
    summary: "Return new entries from a stream using a consumer group, or access the history of the pending entries for a given consumer. Can block.",
    since: "5.0.0",
    complexity: "For each stream mentioned: O(M) with M the number of elements returned. If M is constant (e.g. always asking for the first 10 elements with COUNT), you can consider it O(1). On the other side when XREADGROUP blocks, XADD will pay the O(N) time in order to serve the N clients blocked on the stream getting new data.",
    handler: Some(xreadgroup),
    subcommands: &[],
}];

/// Writes XREADGROUP's reply: a map (RESP3) or array (RESP2) of stream name
/// to entries; a history entry deleted from the stream is `[id, nil]`.
pub fn write_group_streams(reply: &mut Reply<'_>, found: &[StreamRead]) {
    if reply.resp3() {
        reply.map(found.len());
    } else {
        reply.array(found.len());
    }
    for s in found {
        if !reply.resp3() {
            reply.array(2);
        }
        reply.bulk(&s.key);
        reply.array(s.entries.len());
        for e in &s.entries {
            match &e.entry {
                Some(entry) => super::stream::write_entry(reply, entry),
                None => {
                    reply.array(2);
                    reply.bulk_id(e.id.ms, e.id.seq);
                    reply.null_array();
                }
            }
        }
    }
}

/// Runs a group read (also used by the blocked-read loop). Returns the
/// streams that have something to show.
pub fn read(
    store: &crate::Store,
    spec: &GroupSpec,
    streams: &[(Vec<u8>, ReadFrom)],
    count: Option<usize>,
) -> Result<Vec<StreamRead>, crate::Error> {
    let refs: Vec<(&[u8], ReadFrom)> = streams.iter().map(|(k, f)| (k.as_slice(), *f)).collect();
    store.xreadgroup(&spec.group, &spec.consumer, &refs, count, spec.noack)
}

/// Wakes readers of the dead-letter streams that `found` moved entries to.
pub fn wake_dead_letters(shared: &crate::server::Shared, group: &[u8], found: &[StreamRead]) {
    for s in found.iter().filter(|s| !s.dead_lettered.is_empty()) {
        let dl = shared.store.with_stream(&s.key, |st, _| {
            Ok(st
                .group(group)
                .and_then(|g| g.policy().dead_letter.as_ref().map(|d| d.stream.clone())))
        });
        if let Ok(Some(Some(stream))) = dl {
            shared.notify_stream(&stream);
        }
    }
}

fn xreadgroup(ctx: &mut Ctx<'_, '_>, args: &[Vec<u8>]) -> Flow {
    let mut count: Option<usize> = None;
    let mut block: Option<i64> = None;
    let mut streams_at = None;
    let mut group: Option<(usize, usize)> = None;
    let mut noack = false;
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
            let n = args.len() - (i + 1);
            if !n.is_multiple_of(2) {
                ctx.reply.error(
                    // Redis 7.0 uses XREAD's text for both commands.
                    "ERR Unbalanced XREAD list of streams: for each stream key an ID or '$' must be specified.",
                );
                return Flow::Continue;
            }
            streams_at = Some(i + 1);
            break;
        } else if eq(&args[i], "GROUP") && more >= 2 {
            group = Some((i + 1, i + 2));
            i += 3;
        } else if eq(&args[i], "NOACK") {
            noack = true;
            i += 1;
        } else {
            return ctx.syntax_error();
        }
    }
    let Some(first) = streams_at else {
        return ctx.syntax_error();
    };
    let Some((g, c)) = group else {
        ctx.reply.error("ERR Missing GROUP option for XREADGROUP");
        return Flow::Continue;
    };
    let spec = GroupSpec {
        group: args[g].clone(),
        consumer: args[c].clone(),
        noack,
    };
    let rest = &args[first..];
    let (keys, ids) = rest.split_at(rest.len() / 2);
    let store = ctx.store();
    let mut streams: Vec<(Vec<u8>, ReadFrom)> = Vec::with_capacity(keys.len());
    for (key, id) in keys.iter().zip(ids) {
        let has_group = match store.with_stream(key, |s, _| Ok(s.group(&spec.group).is_some())) {
            Ok(found) => found == Some(true),
            Err(e) => {
                ctx.engine_error(&e);
                return Flow::Continue;
            }
        };
        if !has_group {
            ctx.engine_error(&crate::Error::no_group_read(key, &spec.group));
            return Flow::Continue;
        }
        let from = match id.as_slice() {
            b"$" => {
                ctx.engine_error(&crate::Error::DollarInXreadgroup);
                return Flow::Continue;
            }
            b">" => ReadFrom::New,
            other => match StreamId::parse_strict(std::str::from_utf8(other).unwrap_or(""), 0) {
                Ok(id) => ReadFrom::After(id),
                Err(e) => {
                    ctx.engine_error(&e);
                    return Flow::Continue;
                }
            },
        };
        streams.push((key.clone(), from));
    }
    match read(store, &spec, &streams, count) {
        Err(e) => ctx.engine_error(&e),
        Ok(found) if !found.is_empty() => {
            write_group_streams(ctx.reply, &found);
            wake_dead_letters(ctx.shared, &spec.group, &found);
        }
        Ok(_) => match block {
            Some(ms) if !ctx.session.in_exec => {
                let timeout = (ms > 0).then(|| Duration::from_millis(ms.unsigned_abs()));
                let streams = streams
                    .into_iter()
                    .map(|(k, _)| (k, StreamId::MIN))
                    .collect();
                return Flow::Block(Box::new(BlockedRead {
                    streams,
                    count,
                    timeout,
                    group: Some(spec),
                }));
            }
            _ => ctx.reply.null_array(),
        },
    }
    Flow::Continue
}
