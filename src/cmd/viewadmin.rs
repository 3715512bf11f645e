//! The `VIEW.*` definition commands: VIEW.CREATE, VIEW.DROP, VIEW.LIST,
//! VIEW.INFO, VIEW.REBUILD (syntax in the README and `crate::view`).
//! VIEW.RANGE, a read of a view key, is in [`super::viewread`].

use super::{CommandDef, Ctx, Flow};
use crate::view::spec::parse_view_create;

const fn def(
    name: &'static str,
    arity: i32,
    flags: &'static [&'static str],
    summary: &'static str,
    handler: super::Handler,
) -> CommandDef {
    CommandDef {
        name,
        arity,
        flags,
        acl: &["@slow"],
        keys: (0, 0, 0),
        group: "view",
        summary,
        since: "1.0.0",
        complexity: "O(N)",
        handler: Some(handler),
        subcommands: &[],
    }
}

/// The view definition family.
pub const COMMANDS: &[CommandDef] = &[
    def(
        "view.create",
        -5,
        &["write", "denyoom"],
        "Define a view over a stream and build it from the stream's entries",
        create,
    ),
    def(
        "view.drop",
        2,
        &["write"],
        "Remove a view and its keys",
        drop_view,
    ),
    def("view.list", 1, &["readonly"], "List the views", list),
    def(
        "view.info",
        2,
        &["readonly"],
        "Show a view's definition and progress",
        info,
    ),
    def(
        "view.rebuild",
        2,
        &["write"],
        "Rebuild a view from its source stream",
        rebuild,
    ),
];

fn create(ctx: &mut Ctx<'_, '_>, args: &[Vec<u8>]) -> Flow {
    let argv: Vec<&[u8]> = args.iter().map(Vec::as_slice).collect();
    let spec = match parse_view_create(&argv) {
        Ok(s) => s,
        Err(e) => {
            ctx.reply.error(&e.to_string());
            return Flow::Continue;
        }
    };
    match ctx.store().view_create(spec) {
        Ok(()) => ctx.reply.ok(),
        Err(e) => ctx.engine_error(&e),
    }
    Flow::Continue
}

fn drop_view(ctx: &mut Ctx<'_, '_>, args: &[Vec<u8>]) -> Flow {
    match ctx.store().view_drop(&args[1]) {
        Ok(existed) => ctx.reply.int(i64::from(existed)),
        Err(e) => ctx.engine_error(&e),
    }
    Flow::Continue
}

fn list(ctx: &mut Ctx<'_, '_>, _args: &[Vec<u8>]) -> Flow {
    let names = ctx.store().view_list();
    ctx.reply.array(names.len());
    for n in &names {
        ctx.reply.bulk(n);
    }
    Flow::Continue
}

fn info(ctx: &mut Ctx<'_, '_>, args: &[Vec<u8>]) -> Flow {
    let i = match ctx.store().view_info(&args[1]) {
        Ok(i) => i,
        Err(e) => {
            ctx.engine_error(&e);
            return Flow::Continue;
        }
    };
    let r = &mut *ctx.reply;
    let int = |n: u64| i64::try_from(n).unwrap_or(i64::MAX);
    let error = match &i.state {
        crate::views::ViewState::Error(e) => Some(e.clone()),
        _ => None,
    };
    r.map(12 + usize::from(error.is_some()));
    r.bulk(b"name");
    r.bulk(&i.spec.name);
    r.bulk(b"source");
    r.bulk(&i.spec.source);
    r.bulk(b"definition");
    r.bulk(&i.spec.to_command().join(&b' '));
    r.bulk(b"state");
    r.bulk(i.state.name().as_bytes());
    r.bulk(b"events_applied");
    r.int(int(i.stats.applied));
    r.bulk(b"filtered");
    r.int(int(i.stats.filtered));
    r.bulk(b"skipped");
    r.int(int(i.stats.skipped));
    r.bulk(b"last_id");
    r.bulk(i.position.to_string().as_bytes());
    r.bulk(b"lag");
    r.int(int(i.lag));
    r.bulk(b"keys");
    r.int(int(i.keys));
    r.bulk(b"memory");
    r.int(int(i.memory));
    r.bulk(b"rebuilds");
    r.int(int(i.rebuilds));
    if let Some(e) = error {
        r.bulk(b"error");
        r.bulk(e.as_bytes());
    }
    Flow::Continue
}

fn rebuild(ctx: &mut Ctx<'_, '_>, args: &[Vec<u8>]) -> Flow {
    match ctx.store().view_rebuild(&args[1]) {
        Ok(()) => ctx.reply.ok(),
        Err(e) => ctx.engine_error(&e),
    }
    Flow::Continue
}
