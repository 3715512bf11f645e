//! CLIENT ID / SETNAME / GETNAME / LIST / INFO / HELP.

use super::{CommandDef, Ctx, Flow, eq, help};

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
        flags: &["noscript", "loading", "stale"],
        acl: &["@slow", "@connection"],
        keys: (0, 0, 0),
        group: "connection",
        summary,
        since,
        complexity: "O(1)",
        handler: Some(handler),
        subcommands: &[],
    }
}

/// The CLIENT family.
pub const COMMANDS: &[CommandDef] = &[CommandDef {
    name: "client",
    arity: -2,
    flags: &[],
    acl: &["@slow"],
    keys: (0, 0, 0),
    group: "connection",
    summary: "A container for client connection commands",
    since: "2.4.0",
    complexity: "Depends on subcommand.",
    handler: None,
    subcommands: &[
        sub(
            "id",
            2,
            "Returns the client ID for the current connection",
            "5.0.0",
            id,
        ),
        sub(
            "setname",
            3,
            "Set the current connection name",
            "2.6.9",
            setname,
        ),
        sub(
            "getname",
            2,
            "Get the current connection name",
            "2.6.9",
            getname,
        ),
        CommandDef {
            flags: &["admin", "noscript", "loading", "stale"],
            acl: &["@admin", "@slow", "@dangerous", "@connection"],
            ..sub(
                "list",
                -2,
                "Get the list of client connections",
                "2.4.0",
                list,
            )
        },
        sub(
            "info",
            2,
            "Returns information about the current client connection.",
            "6.2.0",
            info,
        ),
        CommandDef {
            flags: &["loading", "stale"],
            ..sub(
                "help",
                2,
                "Show helpful text about the different subcommands",
                "5.0.0",
                client_help,
            )
        },
    ],
}];

/// Sets the client name, replying with Redis's error if it has spaces or
/// special characters. Returns whether it was set.
pub fn set_name(ctx: &mut Ctx<'_, '_>, name: &[u8]) -> bool {
    if name.iter().any(|&b| !(b'!'..=b'~').contains(&b)) {
        ctx.reply
            .error("ERR Client names cannot contain spaces, newlines or special characters.");
        return false;
    }
    let name = String::from_utf8_lossy(name).into_owned();
    ctx.session.client.update(|m| m.name = name);
    true
}

fn id(ctx: &mut Ctx<'_, '_>, _args: &[Vec<u8>]) -> Flow {
    ctx.reply
        .int(i64::try_from(ctx.session.client.id).unwrap_or(i64::MAX));
    Flow::Continue
}

fn setname(ctx: &mut Ctx<'_, '_>, args: &[Vec<u8>]) -> Flow {
    if set_name(ctx, &args[2]) {
        ctx.reply.ok();
    }
    Flow::Continue
}

fn getname(ctx: &mut Ctx<'_, '_>, _args: &[Vec<u8>]) -> Flow {
    let name = ctx.session.client.meta().name;
    if name.is_empty() {
        ctx.reply.null();
    } else {
        ctx.reply.bulk(name.as_bytes());
    }
    Flow::Continue
}

fn list(ctx: &mut Ctx<'_, '_>, args: &[Vec<u8>]) -> Flow {
    let mut ids: Option<Vec<u64>> = None;
    let mut i = 2;
    while i < args.len() {
        if eq(&args[i], "TYPE") && i + 1 < args.len() {
            let t = &args[i + 1];
            if !(eq(t, "normal") || eq(t, "master") || eq(t, "replica") || eq(t, "pubsub")) {
                let t = String::from_utf8_lossy(t).into_owned();
                ctx.reply.error(&format!("ERR Unknown client type '{t}'"));
                return Flow::Continue;
            }
            // Every eddy client is a normal client.
            if !eq(t, "normal") {
                ids = Some(Vec::new());
            }
            i += 2;
        } else if eq(&args[i], "ID") && i + 1 < args.len() {
            let mut v = Vec::new();
            for a in &args[i + 1..] {
                match super::int_arg(a)
                    .and_then(|n| u64::try_from(n).ok())
                    .filter(|&n| n > 0)
                {
                    Some(n) => v.push(n),
                    None => {
                        ctx.reply.error("ERR Invalid client ID");
                        return Flow::Continue;
                    }
                }
            }
            ids = Some(v);
            i = args.len();
        } else {
            return ctx.syntax_error();
        }
    }
    let mut text = String::new();
    for c in ctx.shared.clients.all() {
        if ids.as_ref().is_some_and(|v| !v.contains(&c.id)) {
            continue;
        }
        text.push_str(&c.list_line());
        text.push('\n');
    }
    ctx.reply.verbatim(text.as_bytes());
    Flow::Continue
}

fn info(ctx: &mut Ctx<'_, '_>, _args: &[Vec<u8>]) -> Flow {
    let mut line = ctx.session.client.list_line();
    line.push('\n');
    ctx.reply.verbatim(line.as_bytes());
    Flow::Continue
}

fn client_help(ctx: &mut Ctx<'_, '_>, _args: &[Vec<u8>]) -> Flow {
    help(
        ctx,
        "CLIENT",
        &[
            "GETNAME",
            "    Return the name of the current connection.",
            "ID",
            "    Return the ID of the current connection.",
            "INFO",
            "    Return information about the current client connection.",
            "LIST [options ...]",
            "    Return information about client connections. Options:",
            "    * TYPE (NORMAL|MASTER|REPLICA|PUBSUB)",
            "      Return clients of specified type.",
            "    * ID <client-id> [<client-id> ...]",
            "      Return clients of specified IDs only.",
            "SETNAME <name>",
            "    Assign the name <name> to the current connection.",
        ],
    )
}
