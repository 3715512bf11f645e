//! Administration: DEBUG LOG, SHUTDOWN, TIME and ROLE.

use super::{CommandDef, Ctx, Flow, eq};

/// The administration family.
pub const COMMANDS: &[CommandDef] = &[
    CommandDef {
        name: "debug",
        arity: -2,
        flags: &["admin", "noscript", "loading", "stale"],
        acl: &["@admin", "@slow", "@dangerous"],
        keys: (0, 0, 0),
        group: "server",
        summary: "A container for debugging commands",
        since: "1.0.0",
        complexity: "Depends on subcommand.",
        handler: Some(debug),
        subcommands: &[],
    },
    CommandDef {
        name: "time",
        arity: 1,
        flags: &["loading", "stale", "fast"],
        acl: &["@fast"],
        keys: (0, 0, 0),
        group: "server",
        summary: "Return the current server time",
        since: "2.6.0",
        complexity: "O(1)",
        handler: Some(time),
        subcommands: &[],
    },
    CommandDef {
        name: "role",
        arity: 1,
        flags: &["noscript", "loading", "stale", "fast"],
        acl: &["@admin", "@fast", "@dangerous"],
        keys: (0, 0, 0),
        group: "server",
        summary: "Return the role of the instance in the context of replication",
        since: "2.8.12",
        complexity: "O(1)",
        handler: Some(role),
        subcommands: &[],
    },
    CommandDef {
        name: "shutdown",
        arity: -1,
        flags: &[
            "admin",
            "noscript",
            "loading",
            "stale",
            "no_multi",
            "allow_busy",
        ],
        acl: &["@admin", "@slow", "@dangerous"],
        keys: (0, 0, 0),
        group: "server",
        summary: "Synchronously save the dataset to disk and then shut down the server",
        since: "1.0.0",
        complexity: "O(N) when saving, where N is the total number of keys in all databases when \
                     saving data, otherwise O(1)",
        handler: Some(shutdown),
        subcommands: &[],
    },
];

fn time(ctx: &mut Ctx<'_, '_>, _args: &[Vec<u8>]) -> Flow {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap_or_default();
    ctx.reply.array(2);
    ctx.reply
        .bulk_int(i64::try_from(now.as_secs()).unwrap_or(i64::MAX));
    ctx.reply.bulk_int(i64::from(now.subsec_micros()));
    Flow::Continue
}

/// eddy has no replication: it is always a primary without replicas.
fn role(ctx: &mut Ctx<'_, '_>, _args: &[Vec<u8>]) -> Flow {
    ctx.reply.array(3);
    ctx.reply.bulk(b"master");
    ctx.reply.int(0);
    ctx.reply.array(0);
    Flow::Continue
}

fn debug(ctx: &mut Ctx<'_, '_>, args: &[Vec<u8>]) -> Flow {
    if args.len() == 3 && eq(&args[1], "LOG") {
        tracing::warn!("DEBUG LOG: {}", String::from_utf8_lossy(&args[2]));
        ctx.reply.ok();
    } else if args.len() == 2 && eq(&args[1], "HELP") {
        return super::help(
            ctx,
            "DEBUG",
            &["LOG <message>", "    Write <message> to the server log."],
        );
    } else {
        let sub = String::from_utf8_lossy(&args[1]).into_owned();
        ctx.reply.error(&format!(
            "ERR unknown subcommand or wrong number of arguments for '{sub}'. Try DEBUG HELP."
        ));
    }
    Flow::Continue
}

fn shutdown(ctx: &mut Ctx<'_, '_>, args: &[Vec<u8>]) -> Flow {
    let mut abort = false;
    for a in &args[1..] {
        if eq(a, "ABORT") {
            abort = true;
        } else if !(eq(a, "NOSAVE") || eq(a, "SAVE") || eq(a, "NOW") || eq(a, "FORCE")) {
            return ctx.syntax_error();
        }
    }
    if abort {
        // Shutdown is immediate in eddy: there is never one in progress.
        ctx.reply.error("ERR No shutdown in progress.");
        return Flow::Continue;
    }
    tracing::warn!("User requested shutdown...");
    Flow::Shutdown
}
