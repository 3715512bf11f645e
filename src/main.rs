//! `eddy-server`: the engine behind a Redis-protocol TCP server.

fn main() -> anyhow::Result<()> {
    anyhow::bail!("not yet")
}
