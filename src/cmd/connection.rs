//! Connection commands: PING, ECHO, SELECT, QUIT, AUTH, HELLO.

use super::{CommandDef, Ctx, Flow, eq, int_arg};
use crate::resp::Protocol;

/// The Redis version eddy is compatible with, reported by HELLO and INFO
/// (clients use it to pick features).
pub const REDIS_COMPAT_VERSION: &str = "7.0.0";

/// The connection family.
pub const COMMANDS: &[CommandDef] = &[
    CommandDef {
        name: "ping",
        arity: -1,
        flags: &["fast"],
        acl: &["@fast", "@connection"],
        keys: (0, 0, 0),
        group: "connection",
        summary: "Ping the server",
        since: "1.0.0",
        complexity: "O(1)",
        handler: Some(ping),
        subcommands: &[],
    },
    CommandDef {
        name: "echo",
        arity: 2,
        flags: &["loading", "stale", "fast"],
        acl: &["@fast", "@connection"],
        keys: (0, 0, 0),
        group: "connection",
        summary: "Echo the given string",
        since: "1.0.0",
        complexity: "O(1)",
        handler: Some(echo),
        subcommands: &[],
    },
    CommandDef {
        name: "select",
        arity: 2,
        flags: &["loading", "stale", "fast"],
        acl: &["@fast", "@connection"],
        keys: (0, 0, 0),
        group: "connection",
        summary: "Change the selected database for the current connection",
        since: "1.0.0",
        complexity: "O(1)",
        handler: Some(select),
        subcommands: &[],
    },
    CommandDef {
        name: "quit",
        arity: -1,
        flags: &[
            "allow_busy",
            "noscript",
            "loading",
            "stale",
            "fast",
            "no_auth",
        ],
        acl: &["@fast", "@connection"],
        keys: (0, 0, 0),
        group: "connection",
        summary: "Close the connection",
        since: "1.0.0",
        complexity: "O(1)",
        handler: Some(quit),
        subcommands: &[],
    },
    CommandDef {
        name: "auth",
        arity: -2,
        flags: &[
            "noscript",
            "loading",
            "stale",
            "fast",
            "no_auth",
            "allow_busy",
        ],
        acl: &["@fast", "@connection"],
        keys: (0, 0, 0),
        group: "connection",
        summary: "Authenticate to the server",
        since: "1.0.0",
        complexity: "O(N) where N is the number of passwords defined for the user",
        handler: Some(auth),
        subcommands: &[],
    },
    CommandDef {
        name: "hello",
        arity: -1,
        flags: &[
            "noscript",
            "loading",
            "stale",
            "fast",
            "no_auth",
            "allow_busy",
        ],
        acl: &["@fast", "@connection"],
        keys: (0, 0, 0),
        group: "connection",
        summary: "Handshake with Redis",
        since: "6.0.0",
        complexity: "O(1)",
        handler: Some(hello),
        subcommands: &[],
    },
];

fn ping(ctx: &mut Ctx<'_, '_>, args: &[Vec<u8>]) -> Flow {
    match args {
        [_] => ctx.reply.simple("PONG"),
        [_, msg] => ctx.reply.bulk(msg),
        _ => return ctx.wrong_args("ping"),
    }
    Flow::Continue
}

fn echo(ctx: &mut Ctx<'_, '_>, args: &[Vec<u8>]) -> Flow {
    ctx.reply.bulk(&args[1]);
    Flow::Continue
}

fn select(ctx: &mut Ctx<'_, '_>, args: &[Vec<u8>]) -> Flow {
    match int_arg(&args[1]) {
        None => ctx.not_an_integer(),
        // eddy has one key space: database 0.
        Some(0) => {
            ctx.reply.ok();
            Flow::Continue
        }
        Some(_) => {
            ctx.reply.error("ERR DB index is out of range");
            Flow::Continue
        }
    }
}

fn quit(ctx: &mut Ctx<'_, '_>, _args: &[Vec<u8>]) -> Flow {
    ctx.reply.ok();
    Flow::Close
}

/// Compares without an early exit, so timing does not reveal the password.
fn same_secret(a: &[u8], b: &[u8]) -> bool {
    if a.len() != b.len() {
        return false;
    }
    a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// Checks `user`/`pass` against the only user, `default`.
fn authenticate(ctx: &mut Ctx<'_, '_>, user: &[u8], pass: &[u8]) -> bool {
    let ok = user == b"default"
        && match ctx.shared.requirepass() {
            // Without a password the default user is "nopass": anything works.
            None => true,
            Some(p) => same_secret(p.as_bytes(), pass),
        };
    if ok {
        ctx.session.authenticated = true;
    } else {
        ctx.reply
            .error("WRONGPASS invalid username-password pair or user is disabled.");
    }
    ok
}

fn auth(ctx: &mut Ctx<'_, '_>, args: &[Vec<u8>]) -> Flow {
    match args {
        [_, pass] => {
            if ctx.shared.requirepass().is_none() {
                ctx.reply.error(
                    "ERR AUTH <password> called without any password configured for the default \
                     user. Are you sure your configuration is correct?",
                );
            } else if authenticate(ctx, b"default", pass) {
                ctx.reply.ok();
            }
        }
        [_, user, pass] => {
            if authenticate(ctx, user, pass) {
                ctx.reply.ok();
            }
        }
        _ => return ctx.syntax_error(),
    }
    Flow::Continue
}

fn hello(ctx: &mut Ctx<'_, '_>, args: &[Vec<u8>]) -> Flow {
    let mut version = None;
    if let Some(v) = args.get(1) {
        match int_arg(v) {
            None => {
                ctx.reply
                    .error("ERR Protocol version is not an integer or out of range");
                return Flow::Continue;
            }
            Some(2) => version = Some(Protocol::Resp2),
            Some(3) => version = Some(Protocol::Resp3),
            Some(_) => {
                ctx.reply.error("NOPROTO unsupported protocol version");
                return Flow::Continue;
            }
        }
    }
    let mut credentials = None;
    let mut name = None;
    let mut j = 2;
    while j < args.len() {
        let more = args.len() - 1 - j;
        if eq(&args[j], "AUTH") && more >= 2 {
            credentials = Some((&args[j + 1], &args[j + 2]));
            j += 3;
        } else if eq(&args[j], "SETNAME") && more >= 1 {
            name = Some(&args[j + 1]);
            j += 2;
        } else {
            let opt = String::from_utf8_lossy(&args[j]).into_owned();
            ctx.reply
                .error(&format!("ERR Syntax error in HELLO option '{opt}'"));
            return Flow::Continue;
        }
    }
    if let Some((user, pass)) = credentials
        && !authenticate(ctx, user, pass)
    {
        return Flow::Continue;
    }
    if !ctx.session.authenticated && ctx.shared.requirepass().is_some() {
        ctx.reply.error(
            "NOAUTH HELLO must be called with the client already authenticated, otherwise the \
             HELLO AUTH <user> <pass> option can be used to authenticate the client and \
             select the RESP protocol version at the same time",
        );
        return Flow::Continue;
    }
    if let Some(name) = name
        && !super::client::set_name(ctx, name)
    {
        return Flow::Continue;
    }
    if let Some(v) = version {
        ctx.session.proto = v;
        ctx.reply.set_protocol(v);
        ctx.session.client.update(|m| m.resp = v.version());
    }
    ctx.reply.map(7);
    ctx.reply.bulk(b"server");
    ctx.reply.bulk(b"redis");
    ctx.reply.bulk(b"version");
    ctx.reply.bulk(REDIS_COMPAT_VERSION.as_bytes());
    ctx.reply.bulk(b"proto");
    ctx.reply.int(ctx.session.proto.version());
    ctx.reply.bulk(b"id");
    ctx.reply
        .int(i64::try_from(ctx.session.client.id).unwrap_or(i64::MAX));
    ctx.reply.bulk(b"mode");
    ctx.reply.bulk(b"standalone");
    ctx.reply.bulk(b"role");
    ctx.reply.bulk(b"master");
    ctx.reply.bulk(b"modules");
    ctx.reply.array(0);
    Flow::Continue
}
