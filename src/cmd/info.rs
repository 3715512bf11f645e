//! INFO [section ...].

use super::{CommandDef, Ctx, Flow};

/// The INFO family.
pub const COMMANDS: &[CommandDef] = &[CommandDef {
    name: "info",
    arity: -1,
    flags: &["loading", "stale"],
    acl: &["@slow", "@dangerous"],
    keys: (0, 0, 0),
    group: "server",
    summary: "Get information and statistics about the server",
    since: "1.0.0",
    complexity: "O(1)",
    handler: Some(info),
    subcommands: &[],
}];

fn info(ctx: &mut Ctx<'_, '_>, args: &[Vec<u8>]) -> Flow {
    let sections: Vec<String> = args[1..]
        .iter()
        .map(|a| String::from_utf8_lossy(a).to_ascii_lowercase())
        .collect();
    let text = crate::server::info::render(ctx.shared, &sections);
    ctx.reply.verbatim(text.as_bytes());
    Flow::Continue
}
