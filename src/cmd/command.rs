//! COMMAND and its subcommands: the command table as clients see it
//! (redis-py, redis-cli hints).

use super::{CommandDef, Ctx, Entry, Flow, all_commands, find, help, top_level};

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
        flags: &["loading", "stale"],
        acl: &["@slow", "@connection"],
        keys: (0, 0, 0),
        group: "server",
        summary,
        since,
        complexity: "O(N) where N is the number of commands to look up",
        handler: Some(handler),
        subcommands: &[],
    }
}

/// The COMMAND family.
pub const COMMANDS: &[CommandDef] = &[CommandDef {
    name: "command",
    arity: -1,
    flags: &["loading", "stale"],
    acl: &["@slow", "@connection"],
    keys: (0, 0, 0),
    group: "server",
    summary: "Get array of Redis command details",
    since: "2.8.13",
    complexity: "O(N) where N is the total number of Redis commands",
    handler: Some(command),
    subcommands: &[
        sub(
            "count",
            2,
            "Get total number of Redis commands",
            "2.8.13",
            count,
        ),
        sub(
            "docs",
            -2,
            "Get array of specific Redis command documentation",
            "7.0.0",
            docs,
        ),
        sub(
            "info",
            -2,
            "Get array of specific Redis command details, or all when no argument is given",
            "2.8.13",
            info,
        ),
        sub(
            "list",
            -2,
            "Get an array of Redis command names",
            "7.0.0",
            list,
        ),
        sub(
            "help",
            2,
            "Show helpful text about the different subcommands",
            "5.0.0",
            command_help,
        ),
    ],
}];

fn subcommands_of(e: &Entry) -> impl Iterator<Item = &'static Entry> {
    let prefix = format!("{}|", e.fullname);
    all_commands()
        .iter()
        .filter(move |s| s.fullname.starts_with(&prefix))
}

fn write_info(ctx: &mut Ctx<'_, '_>, e: &Entry) {
    let d = e.def;
    ctx.reply.array(10);
    ctx.reply.bulk(e.fullname.as_bytes());
    ctx.reply.int(i64::from(d.arity));
    ctx.reply.set(d.flags.len());
    for f in d.flags {
        ctx.reply.simple(f);
    }
    ctx.reply.int(i64::from(d.keys.0));
    ctx.reply.int(i64::from(d.keys.1));
    ctx.reply.int(i64::from(d.keys.2));
    ctx.reply.set(d.acl.len());
    for a in d.acl {
        ctx.reply.simple(a);
    }
    ctx.reply.set(0); // tips
    ctx.reply.set(0); // key specs
    let subs: Vec<&Entry> = subcommands_of(e).collect();
    ctx.reply.set(subs.len());
    for s in subs {
        write_info(ctx, s);
    }
}

fn write_docs(ctx: &mut Ctx<'_, '_>, e: &Entry) {
    let d = e.def;
    let subs: Vec<&Entry> = subcommands_of(e).collect();
    ctx.reply.map(4 + usize::from(!subs.is_empty()));
    for (k, v) in [
        ("summary", d.summary),
        ("since", d.since),
        ("group", d.group),
        ("complexity", d.complexity),
    ] {
        ctx.reply.bulk(k.as_bytes());
        ctx.reply.bulk(v.as_bytes());
    }
    if !subs.is_empty() {
        ctx.reply.bulk(b"subcommands");
        ctx.reply.map(subs.len());
        for s in subs {
            ctx.reply.bulk(s.fullname.as_bytes());
            write_docs(ctx, s);
        }
    }
}

fn command(ctx: &mut Ctx<'_, '_>, _args: &[Vec<u8>]) -> Flow {
    let all: Vec<&Entry> = top_level().collect();
    ctx.reply.array(all.len());
    for e in all {
        write_info(ctx, e);
    }
    Flow::Continue
}

fn count(ctx: &mut Ctx<'_, '_>, _args: &[Vec<u8>]) -> Flow {
    ctx.reply.count(top_level().count());
    Flow::Continue
}

fn lookup_top(name: &[u8]) -> Option<&'static Entry> {
    std::str::from_utf8(name).ok().and_then(find)
}

fn info(ctx: &mut Ctx<'_, '_>, args: &[Vec<u8>]) -> Flow {
    if args.len() == 2 {
        return command(ctx, args);
    }
    ctx.reply.array(args.len() - 2);
    for name in &args[2..] {
        match lookup_top(name) {
            Some(e) => write_info(ctx, e),
            None => ctx.reply.null(),
        }
    }
    Flow::Continue
}

fn docs(ctx: &mut Ctx<'_, '_>, args: &[Vec<u8>]) -> Flow {
    let entries: Vec<&Entry> = if args.len() == 2 {
        top_level().collect()
    } else {
        args[2..].iter().filter_map(|n| lookup_top(n)).collect()
    };
    ctx.reply.map(entries.len());
    for e in entries {
        ctx.reply.bulk(e.fullname.as_bytes());
        write_docs(ctx, e);
    }
    Flow::Continue
}

fn list(ctx: &mut Ctx<'_, '_>, args: &[Vec<u8>]) -> Flow {
    if args.len() != 2 {
        // FILTERBY is not supported; say so the way Redis reports bad syntax.
        return ctx.syntax_error();
    }
    let names: Vec<&Entry> = all_commands().iter().collect();
    ctx.reply.array(names.len());
    for e in names {
        ctx.reply.bulk(e.fullname.as_bytes());
    }
    Flow::Continue
}

fn command_help(ctx: &mut Ctx<'_, '_>, _args: &[Vec<u8>]) -> Flow {
    help(
        ctx,
        "COMMAND",
        &[
            "(no subcommand)",
            "    Return details about all commands.",
            "COUNT",
            "    Return the total number of commands in this server.",
            "LIST",
            "    Return a list of all commands in this server.",
            "INFO [<command-name> ...]",
            "    Return details about multiple commands.",
            "    If no command names are given, documentation details for all",
            "    commands are returned.",
            "DOCS [<command-name> ...]",
            "    Return documentation details about multiple commands.",
            "    If no command names are given, documentation details for all",
            "    commands are returned.",
        ],
    )
}
