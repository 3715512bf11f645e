//! `eddy`: the command-line tool. It reads a data directory's write-ahead log
//! read-only (no lock, so it works next to a running server) and never
//! depends on the server.
//!
//! Exit codes: 0 all is well, 1 the check found a problem, 2 bad arguments
//! or an error that stopped the command.

use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::Context;
use clap::{Parser, Subcommand};
use eddy_wal::{Follower, Position};

#[derive(Parser, Debug)]
#[command(name = "eddy", version, about = "Inspect an eddy data directory")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Check the CRC of every record in every segment and print segment stats.
    Verify {
        /// The server's data directory (`dir` in eddy.conf) or its `wal/` folder.
        dir: PathBuf,
    },
    /// Print one line per record: position, kind and payload length.
    Dump {
        /// The server's data directory (`dir` in eddy.conf) or its `wal/` folder.
        dir: PathBuf,
        /// Start at this record position.
        #[arg(long, default_value_t = 0)]
        from: u64,
        /// Stop after this many records.
        #[arg(long)]
        count: Option<u64>,
    },
}

/// The WAL folder of a data directory (or the folder itself if it holds segments).
fn wal_dir(dir: &Path) -> PathBuf {
    let inner = dir.join("wal");
    if inner.is_dir() {
        inner
    } else {
        dir.to_path_buf()
    }
}

fn verify(dir: &Path, out: &mut impl Write) -> anyhow::Result<bool> {
    let dir = wal_dir(dir);
    let follower =
        Follower::open(&dir).with_context(|| format!("cannot open {}", dir.display()))?;
    let report = follower.verify()?;
    writeln!(out, "segment\tbase\tend\tfile_bytes\trecords\tstatus")?;
    for s in &report.segments {
        let status = match &s.problem {
            None => "ok".to_string(),
            Some(e) => format!("problem: {e}"),
        };
        writeln!(
            out,
            "{}\t{}\t{}\t{}\t{}\t{}",
            s.info.path.display(),
            s.info.base,
            s.info.end,
            s.info.file_len,
            s.records,
            status
        )?;
    }
    writeln!(
        out,
        "{} segments, {} records, {}",
        report.segments.len(),
        report.records,
        if report.is_clean() {
            "clean"
        } else {
            "NOT clean"
        }
    )?;
    Ok(report.is_clean())
}

fn dump(dir: &Path, from: u64, count: Option<u64>, out: &mut impl Write) -> anyhow::Result<()> {
    let dir = wal_dir(dir);
    let mut follower = Follower::open_at(&dir, Position(from))
        .with_context(|| format!("cannot open {} at position {from}", dir.display()))?;
    writeln!(out, "position\tkind\tbytes")?;
    let mut n = 0;
    while count.is_none_or(|c| n < c) {
        let Some(rec) = follower.next()? else { break };
        writeln!(
            out,
            "{}\t{}\t{}",
            rec.position(),
            rec.kind(),
            rec.payload().len()
        )?;
        n += 1;
    }
    Ok(())
}

fn run(cli: Cli) -> anyhow::Result<bool> {
    let stdout = io::stdout();
    let mut out = io::BufWriter::new(stdout.lock());
    let ok = match cli.command {
        Command::Verify { dir } => verify(&dir, &mut out)?,
        Command::Dump { dir, from, count } => {
            dump(&dir, from, count, &mut out)?;
            true
        }
    };
    out.flush()?;
    Ok(ok)
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    match run(cli) {
        Ok(true) => ExitCode::SUCCESS,
        Ok(false) => ExitCode::from(1),
        Err(e) => {
            // A closed pipe (`eddy dump ... | head`) is a normal end.
            if e.downcast_ref::<io::Error>()
                .is_some_and(|io| io.kind() == io::ErrorKind::BrokenPipe)
            {
                return ExitCode::SUCCESS;
            }
            eprintln!("eddy: {e:#}");
            ExitCode::from(2)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use eddy_wal::{Options, Wal};

    #[test]
    fn verify_and_dump_read_a_wal_written_by_the_log() -> anyhow::Result<()> {
        let tmp = tempfile::tempdir()?;
        let wal_path = tmp.path().join("wal");
        let wal = Wal::open(&wal_path, Options::default())?;
        let first = wal.append(1, b"hello")?;
        wal.append(2, b"world!")?;
        wal.close()?;

        let mut out = Vec::new();
        assert!(verify(tmp.path(), &mut out)?);
        let text = String::from_utf8(out)?;
        assert!(text.contains("1 segments, 2 records, clean"), "{text}");

        let mut out = Vec::new();
        dump(tmp.path(), first.0, None, &mut out)?;
        let text = String::from_utf8(out)?;
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines.len(), 3, "{text}");
        assert_eq!(lines[1], format!("{}\t1\t5", first.0));
        assert!(lines[2].ends_with("\t2\t6"), "{text}");
        Ok(())
    }

    #[test]
    fn verify_reports_a_flipped_byte_in_an_earlier_segment() -> anyhow::Result<()> {
        let tmp = tempfile::tempdir()?;
        let opts = || Options {
            segment_size: 4096,
            ..Options::default()
        };
        let wal = Wal::open(tmp.path(), opts())?;
        for _ in 0..40 {
            wal.append(1, &[7u8; 200])?;
        }
        let segs = wal.segments();
        wal.close()?;
        assert!(segs.len() > 1);
        // Flip a payload byte of the first record of the first segment.
        let path = &segs[0].path;
        let mut bytes = std::fs::read(path)?;
        let at = usize::try_from(eddy_wal::SEGMENT_HEADER_LEN)? + eddy_wal::FRAME_HEADER_LEN + 3;
        bytes[at] ^= 0xff;
        std::fs::write(path, bytes)?;

        let mut out = Vec::new();
        assert!(!verify(tmp.path(), &mut out)?);
        let text = String::from_utf8(out)?;
        assert!(text.contains("NOT clean"), "{text}");
        Ok(())
    }
}
