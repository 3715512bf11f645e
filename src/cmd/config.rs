//! CONFIG GET / SET / RESETSTAT / REWRITE / HELP.

use super::{CommandDef, Ctx, Flow, help};

const ADMIN: &[&str] = &["admin", "noscript", "loading", "stale"];
const ADMIN_ACL: &[&str] = &["@admin", "@slow", "@dangerous"];

const fn sub(
    name: &'static str,
    arity: i32,
    summary: &'static str,
    since: &'static str,
    handler: super::Handler,
) -> CommandDef {
    CommandDef {
        name,
        arity,
        flags: ADMIN,
        acl: ADMIN_ACL,
        keys: (0, 0, 0),
        group: "server",
        summary,
        since,
        complexity: "O(N) when N is the number of configuration parameters provided",
        handler: Some(handler),
        subcommands: &[],
    }
}

/// The CONFIG family.
pub const COMMANDS: &[CommandDef] = &[CommandDef {
    name: "config",
    arity: -2,
    flags: &[],
    acl: &["@slow"],
    keys: (0, 0, 0),
    group: "server",
    summary: "A container for server configuration commands",
    since: "2.0.0",
    complexity: "Depends on subcommand.",
    handler: None,
    subcommands: &[
        sub(
            "get",
            -3,
            "Get the values of configuration parameters",
            "2.0.0",
            get,
        ),
        sub(
            "set",
            -4,
            "Set configuration parameters to the given values",
            "2.0.0",
            set,
        ),
        sub(
            "resetstat",
            2,
            "Reset the stats returned by INFO",
            "2.0.0",
            resetstat,
        ),
        sub(
            "rewrite",
            2,
            "Rewrite the configuration file with the in memory configuration",
            "2.8.0",
            rewrite,
        ),
        CommandDef {
            flags: &["loading", "stale"],
            acl: &["@slow"],
            ..sub(
                "help",
                2,
                "Show helpful text about the different subcommands",
                "5.0.0",
                config_help,
            )
        },
    ],
}];

fn get(ctx: &mut Ctx<'_, '_>, args: &[Vec<u8>]) -> Flow {
    let patterns: Vec<&[u8]> = args[2..].iter().map(Vec::as_slice).collect();
    let pairs = ctx.shared.settings().config_get(&patterns);
    ctx.reply.map(pairs.len());
    for (name, value) in pairs {
        ctx.reply.bulk(name.as_bytes());
        ctx.reply.bulk(value.as_bytes());
    }
    Flow::Continue
}

fn set(ctx: &mut Ctx<'_, '_>, args: &[Vec<u8>]) -> Flow {
    if !args.len().is_multiple_of(2) {
        return ctx.syntax_error();
    }
    let pairs: Vec<(String, String)> = args[2..]
        .chunks(2)
        .map(|p| {
            (
                String::from_utf8_lossy(&p[0]).into_owned(),
                String::from_utf8_lossy(&p[1]).into_owned(),
            )
        })
        .collect();
    match ctx.shared.config_set(&pairs) {
        Ok(()) => ctx.reply.ok(),
        Err(msg) => ctx.reply.error(&format!("ERR {msg}")),
    }
    Flow::Continue
}

fn resetstat(ctx: &mut Ctx<'_, '_>, _args: &[Vec<u8>]) -> Flow {
    ctx.shared.stats.reset();
    ctx.reply.ok();
    Flow::Continue
}

fn rewrite(ctx: &mut Ctx<'_, '_>, _args: &[Vec<u8>]) -> Flow {
    let settings = ctx.shared.settings().clone();
    match crate::config::rewrite(&settings) {
        Ok(()) => {
            tracing::info!("CONFIG REWRITE executed with success.");
            ctx.reply.ok();
        }
        Err(e) => {
            tracing::warn!("CONFIG REWRITE failed: {e}");
            ctx.reply.error(&format!("ERR {e}"));
        }
    }
    Flow::Continue
}

fn config_help(ctx: &mut Ctx<'_, '_>, _args: &[Vec<u8>]) -> Flow {
    help(
        ctx,
        "CONFIG",
        &[
            "GET <pattern>",
            "    Return parameters matching the glob-like <pattern> and their values.",
            "SET <directive> <value>",
            "    Set the configuration <directive> to <value>.",
            "RESETSTAT",
            "    Reset statistics reported by the INFO command.",
            "REWRITE",
            "    Rewrite the configuration file.",
        ],
    )
}
