//! Transactions: MULTI, EXEC, DISCARD.
//!
//! Commands after MULTI are checked (unknown command, arity, NOAUTH, and
//! under maxmemory the OOM check, which refuses any queued command while
//! over) and queued; a refused one makes EXEC abort with EXECABORT. EXEC is
//! itself refused while over maxmemory when its queue holds a command that
//! may grow memory, and a refused EXEC discards the transaction. EXEC runs
//! the queue holding the server's execution gate exclusively, so no other
//! client's command runs between the queued ones.

use std::sync::PoisonError;

use super::{CommandDef, Ctx, Entry, Flow, call, find};

/// The transaction family.
pub const COMMANDS: &[CommandDef] = &[
    CommandDef {
        name: "multi",
        arity: 1,
        flags: &["noscript", "loading", "stale", "fast", "allow_busy"],
        acl: &["@fast", "@transaction"],
        keys: (0, 0, 0),
        group: "transactions",
        summary: "Start a transaction block",
        since: "1.2.0",
        complexity: "O(1)",
        handler: Some(multi),
        subcommands: &[],
    },
    CommandDef {
        name: "exec",
        arity: 1,
        flags: &["noscript", "loading", "stale", "skip_slowlog"],
        acl: &["@slow", "@transaction"],
        keys: (0, 0, 0),
        group: "transactions",
        summary: "Execute all commands issued after MULTI",
        since: "1.2.0",
        complexity: "Depends on commands in the transaction",
        handler: Some(exec),
        subcommands: &[],
    },
    CommandDef {
        name: "discard",
        arity: 1,
        flags: &["noscript", "loading", "stale", "fast", "allow_busy"],
        acl: &["@fast", "@transaction"],
        keys: (0, 0, 0),
        group: "transactions",
        summary: "Discard all commands issued after MULTI",
        since: "2.0.0",
        complexity: "O(N), when N is the number of queued commands",
        handler: Some(discard),
        subcommands: &[],
    },
];

fn multi(ctx: &mut Ctx<'_, '_>, _args: &[Vec<u8>]) -> Flow {
    if ctx.session.multi.is_some() {
        ctx.reply.error("ERR MULTI calls can not be nested");
        return Flow::Continue;
    }
    ctx.session.multi = Some(Vec::new());
    ctx.session.multi_dirty = false;
    ctx.session.client.update(|m| m.multi = 0);
    ctx.reply.ok();
    Flow::Continue
}

fn end_multi(ctx: &mut Ctx<'_, '_>) -> Option<Vec<Vec<Vec<u8>>>> {
    ctx.session.multi_dirty = false;
    ctx.session.client.update(|m| m.multi = -1);
    ctx.session.multi.take()
}

fn discard(ctx: &mut Ctx<'_, '_>, _args: &[Vec<u8>]) -> Flow {
    if ctx.session.multi.is_none() {
        ctx.reply.error("ERR DISCARD without MULTI");
        return Flow::Continue;
    }
    end_multi(ctx);
    ctx.reply.ok();
    Flow::Continue
}

/// The entry of a queued command (its subcommand's, if it has some).
fn queued_entry(args: &[Vec<u8>]) -> Option<&'static Entry> {
    let name = std::str::from_utf8(args.first()?).unwrap_or("");
    find(name).and_then(|base| {
        if base.def.subcommands.is_empty() || args.len() < 2 {
            Some(base)
        } else {
            let sub = std::str::from_utf8(&args[1]).unwrap_or("");
            find(&format!("{}|{sub}", base.def.name))
        }
    })
}

/// Whether a command queued since MULTI may grow memory (Redis ORs the
/// queued commands' flags into the transaction's), which makes EXEC
/// subject to the OOM check.
pub(super) fn queue_has_denyoom(ctx: &Ctx<'_, '_>) -> bool {
    ctx.session.multi.as_ref().is_some_and(|queue| {
        queue
            .iter()
            .filter_map(|args| queued_entry(args))
            .any(|e| e.def.has_flag("denyoom"))
    })
}

/// Refuses EXEC as Redis's `execCommandAbort`: the transaction is
/// discarded and the refusal is named in an EXECABORT error. Messages that
/// Redis formats without a code (arity) lose their `ERR `.
pub(super) fn abort(ctx: &mut Ctx<'_, '_>, msg: &str) -> Flow {
    end_multi(ctx);
    let why = msg.strip_prefix("ERR ").unwrap_or(msg);
    ctx.reply.error(&format!(
        "EXECABORT Transaction discarded because of: {why}"
    ));
    Flow::Continue
}

fn exec(ctx: &mut Ctx<'_, '_>, _args: &[Vec<u8>]) -> Flow {
    if ctx.session.multi.is_none() {
        ctx.reply.error("ERR EXEC without MULTI");
        return Flow::Continue;
    }
    let dirty = ctx.session.multi_dirty;
    let queue = end_multi(ctx).unwrap_or_default();
    if dirty {
        ctx.reply
            .error("EXECABORT Transaction discarded because of previous errors.");
        return Flow::Continue;
    }
    let shared = ctx.shared;
    let _exclusive = shared.gate.write().unwrap_or_else(PoisonError::into_inner);
    ctx.reply.array(queue.len());
    ctx.session.in_exec = true;
    let mut flow = Flow::Continue;
    for args in &queue {
        // Queued commands were looked up when queued; look them up again to
        // get the subcommand entry.
        match queued_entry(args) {
            Some(e) => {
                // Blocking commands answer at once inside EXEC (`in_exec`).
                if call(ctx, e, args) == Flow::Shutdown {
                    flow = Flow::Shutdown;
                }
            }
            None => ctx.reply.error("ERR unknown command"),
        }
    }
    ctx.session.in_exec = false;
    flow
}
