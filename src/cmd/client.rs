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
            flags: &["admin", "noscript", "loading", "stale"],
            acl: &["@admin", "@slow", "@dangerous", "@connection"],
            ..sub("kill", -3, "Kill the connection of a client", "2.4.0", kill)
        },
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

/// CLIENT KILL addr:port, or CLIENT KILL [ID id] [ADDR a] [LADDR a]
/// [TYPE t] [USER u] [SKIPME yes|no].
fn kill(ctx: &mut Ctx<'_, '_>, args: &[Vec<u8>]) -> Flow {
    let me = ctx.session.client.id;
    if args.len() == 3 {
        let addr = String::from_utf8_lossy(&args[2]).into_owned();
        let target = ctx
            .shared
            .clients
            .all()
            .into_iter()
            .find(|c| c.addr.to_string() == addr);
        let Some(target) = target else {
            ctx.reply.error("ERR No such client");
            return Flow::Continue;
        };
        ctx.reply.ok();
        if target.id == me {
            return Flow::Close;
        }
        target.kill();
        return Flow::Continue;
    }
    if !args.len().is_multiple_of(2) {
        return ctx.syntax_error();
    }
    let mut id: Option<u64> = None;
    let mut addr: Option<String> = None;
    let mut laddr: Option<String> = None;
    let mut normal = true;
    let mut skipme = true;
    for pair in args[2..].chunks(2) {
        let (opt, val) = (&pair[0], &pair[1]);
        if eq(opt, "ID") {
            match super::int_arg(val)
                .and_then(|n| u64::try_from(n).ok())
                .filter(|&n| n > 0)
            {
                Some(n) => id = Some(n),
                None => {
                    ctx.reply.error("ERR client-id should be greater than 0");
                    return Flow::Continue;
                }
            }
        } else if eq(opt, "ADDR") {
            addr = Some(String::from_utf8_lossy(val).into_owned());
        } else if eq(opt, "LADDR") {
            laddr = Some(String::from_utf8_lossy(val).into_owned());
        } else if eq(opt, "USER") {
            // Only the default user exists.
            if val.as_slice() != b"default" {
                let u = String::from_utf8_lossy(val).into_owned();
                ctx.reply.error(&format!("ERR No such user '{u}'"));
                return Flow::Continue;
            }
        } else if eq(opt, "TYPE") {
            if !(eq(val, "normal")
                || eq(val, "master")
                || eq(val, "replica")
                || eq(val, "slave")
                || eq(val, "pubsub"))
            {
                let t = String::from_utf8_lossy(val).into_owned();
                ctx.reply.error(&format!("ERR Unknown client type '{t}'"));
                return Flow::Continue;
            }
            normal = eq(val, "normal");
        } else if eq(opt, "SKIPME") {
            if eq(val, "yes") {
                skipme = true;
            } else if eq(val, "no") {
                skipme = false;
            } else {
                return ctx.syntax_error();
            }
        } else {
            return ctx.syntax_error();
        }
    }
    let mut killed = 0;
    let mut close_me = false;
    for c in ctx.shared.clients.all() {
        let matches = normal
            && id.is_none_or(|i| i == c.id)
            && addr.as_ref().is_none_or(|a| *a == c.addr.to_string())
            && laddr.as_ref().is_none_or(|a| *a == c.laddr.to_string());
        if !matches || (skipme && c.id == me) {
            continue;
        }
        killed += 1;
        if c.id == me {
            close_me = true;
        } else {
            c.kill();
        }
    }
    ctx.reply.int(killed);
    if close_me {
        Flow::Close
    } else {
        Flow::Continue
    }
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
            "KILL <ip:port>",
            "    Kill connection made from <ip:port>.",
            "KILL <option> <value> [<option> <value> [...]]",
            "    Kill connections. Options are:",
            "    * ADDR (<ip:port>|<unixsocket>:0)",
            "      Kill connections made from the specified address",
            "    * LADDR (<ip:port>|<unixsocket>:0)",
            "      Kill connections made to specified local address",
            "    * TYPE (NORMAL|MASTER|REPLICA|PUBSUB)",
            "      Kill connections by type.",
            "    * USER <username>",
            "      Kill connections authenticated by <username>.",
            "    * SKIPME (YES|NO)",
            "      Skip killing current connection (default: yes).",
            "    * ID <client-id>",
            "      Kill connections by client id.",
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
