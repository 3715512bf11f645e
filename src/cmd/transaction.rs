//! Transactions: MULTI, EXEC, DISCARD.
//!
//! Commands after MULTI are checked (unknown command, arity, NOAUTH) and
//! queued; a refused one makes EXEC abort with EXECABORT. EXEC runs the queue
//! holding the server's execution gate exclusively, so no other client's
//! command runs between the queued ones.

use std::sync::PoisonError;

use super::{CommandDef, Ctx, Flow, call, find};

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
        let name = std::str::from_utf8(&args[0]).unwrap_or("");
        let entry = find(name).and_then(|base| {
            if base.def.subcommands.is_empty() || args.len() < 2 {
                Some(base)
            } else {
                let sub = std::str::from_utf8(&args[1]).unwrap_or("");
                find(&format!("{}|{sub}", base.def.name))
            }
        });
        match entry {
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
