//! `eddy`: the command-line tool.

fn main() -> anyhow::Result<()> {
    anyhow::bail!("no subcommands yet")
}
