//! Reading a redis.conf-style file and `--name value` overrides.
//!
//! One directive per line; blank lines and lines starting with `#` are
//! skipped; arguments are split with Redis's quoting rules; names are
//! case-insensitive; `include path` reads another file in place. Errors are
//! reported as redis-server does, naming the file, the line number and the
//! line, and the server exits with status 1.

use std::fmt;
use std::path::{Path, PathBuf};

use super::{SPECS, Settings, Value, parse_value, spec_index};
use crate::resp::split_args;

/// `include` may nest this deep; deeper is almost surely a cycle.
const MAX_INCLUDE_DEPTH: usize = 16;

/// One directive with where it came from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Directive {
    /// The file, or `None` for the command line.
    pub file: Option<PathBuf>,
    /// 1-based line number in that file (position among overrides for the
    /// command line).
    pub line: usize,
    /// The line as written.
    pub text: String,
    /// The split arguments; `args[0]` is the lower-cased name.
    pub args: Vec<String>,
}

/// Why the configuration was refused.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ConfigError {
    /// The file could not be read.
    #[error("Fatal error, can't open config file '{}': {source}", path.display())]
    Open {
        /// The file.
        path: PathBuf,
        /// The I/O error.
        source: std::io::Error,
    },
    /// A line was refused.
    #[error("{}", FatalDisplay(self))]
    Line {
        /// The file, or `None` for the command line.
        file: Option<PathBuf>,
        /// 1-based line number.
        line: usize,
        /// The line.
        text: String,
        /// Redis's reason text.
        reason: String,
    },
    /// Bad command-line usage.
    #[error("{0}")]
    Usage(String),
}

struct FatalDisplay<'a>(&'a ConfigError);

impl fmt::Display for FatalDisplay<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let ConfigError::Line {
            file,
            line,
            text,
            reason,
        } = self.0
        else {
            return Ok(());
        };
        writeln!(
            f,
            "\n*** FATAL CONFIG FILE ERROR (eddy {}) ***",
            env!("CARGO_PKG_VERSION")
        )?;
        match file {
            Some(p) => writeln!(
                f,
                "Reading the configuration file '{}', at line {line}",
                p.display()
            )?,
            None => writeln!(f, "Reading the command-line options, at option {line}")?,
        }
        writeln!(f, ">>> '{text}'")?;
        write!(f, "{reason}")
    }
}

fn line_error(d: &Directive, reason: impl Into<String>) -> ConfigError {
    ConfigError::Line {
        file: d.file.clone(),
        line: d.line,
        text: d.text.clone(),
        reason: reason.into(),
    }
}

/// Reads the directives of a file, following `include`s.
///
/// # Errors
/// [`ConfigError::Open`] if a file cannot be read, [`ConfigError::Line`] for
/// unbalanced quotes or a bad `include`.
pub fn read_directives(path: &Path) -> Result<Vec<Directive>, ConfigError> {
    let mut out = Vec::new();
    read_into(path, 0, &mut out)?;
    Ok(out)
}

fn read_into(path: &Path, depth: usize, out: &mut Vec<Directive>) -> Result<(), ConfigError> {
    let bytes = std::fs::read(path).map_err(|source| ConfigError::Open {
        path: path.to_owned(),
        source,
    })?;
    let text = String::from_utf8_lossy(&bytes);
    for (i, raw) in text.split('\n').enumerate() {
        let line = raw.trim_matches(|c| matches!(c, ' ' | '\t' | '\r' | '\n'));
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let mut d = Directive {
            file: Some(path.to_owned()),
            line: i + 1,
            text: line.to_owned(),
            args: Vec::new(),
        };
        let args = split_args(line.as_bytes())
            .map_err(|_| line_error(&d, "Unbalanced quotes in configuration line"))?;
        if args.is_empty() {
            continue;
        }
        d.args = args
            .into_iter()
            .map(|a| String::from_utf8_lossy(&a).into_owned())
            .collect();
        d.args[0].make_ascii_lowercase();
        if d.args[0] == "include" {
            if d.args.len() != 2 {
                return Err(line_error(&d, "Bad directive or wrong number of arguments"));
            }
            if depth >= MAX_INCLUDE_DEPTH {
                return Err(line_error(&d, "Too many nested includes"));
            }
            let target = PathBuf::from(&d.args[1]);
            read_into(&target, depth + 1, out)?;
            continue;
        }
        out.push(d);
    }
    Ok(())
}

/// Splits the command line (without the program name) into the config file
/// and the `--name value...` overrides, as redis-server does.
///
/// # Errors
/// [`ConfigError::Usage`] for a stray argument.
pub fn parse_args(args: &[String]) -> Result<(Option<PathBuf>, Vec<Directive>), ConfigError> {
    let mut file = None;
    let mut rest = args;
    if let Some(first) = args.first()
        && !first.starts_with("--")
    {
        file = Some(PathBuf::from(first));
        rest = &args[1..];
    }
    let mut out: Vec<Directive> = Vec::new();
    for arg in rest {
        if let Some(name) = arg.strip_prefix("--")
            && !name.is_empty()
        {
            out.push(Directive {
                file: None,
                line: out.len() + 1,
                text: String::new(),
                args: vec![name.to_ascii_lowercase()],
            });
        } else if let Some(d) = out.last_mut() {
            d.args.push(arg.clone());
        } else {
            return Err(ConfigError::Usage(format!(
                "Invalid argument '{arg}': options are --name value (the config file comes first)"
            )));
        }
    }
    for d in &mut out {
        d.text = d
            .args
            .iter()
            .enumerate()
            .map(|(i, a)| {
                if i == 0 {
                    a.clone()
                } else {
                    format!("\"{a}\"")
                }
            })
            .collect::<Vec<_>>()
            .join(" ");
    }
    Ok((file, out))
}

/// Applies directives in order on top of `settings`.
///
/// # Errors
/// [`ConfigError::Line`] for an unknown directive, a wrong number of
/// arguments or a bad value.
pub fn apply(settings: &mut Settings, directives: &[Directive]) -> Result<(), ConfigError> {
    let mut seen = vec![false; SPECS.len()];
    for d in directives {
        let Some(idx) = spec_index(&d.args[0]) else {
            return Err(line_error(d, "Bad directive or wrong number of arguments"));
        };
        let spec = &SPECS[idx];
        let mut value = parse_value(spec, &d.args[1..]).map_err(|r| line_error(d, r))?;
        // Several `save` lines add up, as in redis.conf.
        if spec.name == "save"
            && seen[idx]
            && let (Value::List(old), Value::List(new)) = (settings.value(idx), &mut value)
        {
            let mut all = old.clone();
            all.append(new);
            value = Value::List(all);
        }
        seen[idx] = true;
        settings.set_value(idx, value);
    }
    Ok(())
}

/// Builds the settings from defaults, the file (if any) and the overrides.
///
/// # Errors
/// See [`read_directives`] and [`apply`].
pub fn load(file: Option<&Path>, overrides: &[Directive]) -> Result<Settings, ConfigError> {
    let mut settings = Settings::default();
    if let Some(path) = file {
        let directives = read_directives(path)?;
        apply(&mut settings, &directives)?;
        settings.config_file = Some(std::path::absolute(path).unwrap_or_else(|_| path.to_owned()));
    }
    apply(&mut settings, overrides)?;
    Ok(settings)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn write(dir: &Path, name: &str, text: &str) -> PathBuf {
        let p = dir.join(name);
        std::fs::write(&p, text).unwrap();
        p
    }

    #[test]
    fn file_with_units_quotes_include_and_overrides() {
        let dir = tempfile::tempdir().unwrap();
        write(dir.path(), "inc.conf", "timeout 7\n");
        let main = write(
            dir.path(),
            "eddy.conf",
            &format!(
                "# comment\n\n  MaxMemory 2mb\nrequirepass \"a b\"\ninclude {}\nsave 900 1\nsave 60 10\n",
                dir.path().join("inc.conf").display()
            ),
        );
        let args: Vec<String> = ["x", "--port", "7000", "--bind", "0.0.0.0", "::1"]
            .iter()
            .map(|s| (*s).to_owned())
            .collect();
        let (_, overrides) = parse_args(&args[1..]).unwrap();
        let s = load(Some(&main), &overrides).unwrap();
        assert_eq!(s.maxmemory(), 2_097_152);
        assert_eq!(s.requirepass(), Some("a b"));
        assert_eq!(s.timeout(), 7);
        assert_eq!(s.port(), 7000);
        assert_eq!(s.bind(), ["0.0.0.0", "::1"]);
        assert_eq!(
            s.get("save"),
            Some(&Value::List(vec![
                "900".into(),
                "1".into(),
                "60".into(),
                "10".into()
            ]))
        );
    }

    #[test]
    fn fatal_errors_name_file_line_and_reason() {
        let dir = tempfile::tempdir().unwrap();
        let p = write(dir.path(), "bad.conf", "port 7000\nmaxmemory abc\n");
        let err = load(Some(&p), &[]).unwrap_err().to_string();
        assert!(err.contains("*** FATAL CONFIG FILE ERROR"), "{err}");
        assert!(err.contains("at line 2"), "{err}");
        assert!(err.contains(">>> 'maxmemory abc'"), "{err}");
        assert!(err.ends_with("argument must be a memory value"), "{err}");
        let p = write(dir.path(), "bad2.conf", "foo bar\n");
        let err = load(Some(&p), &[]).unwrap_err().to_string();
        assert!(
            err.ends_with("Bad directive or wrong number of arguments"),
            "{err}"
        );
        let p = write(dir.path(), "bad3.conf", "requirepass \"abc\n");
        let err = load(Some(&p), &[]).unwrap_err().to_string();
        assert!(
            err.ends_with("Unbalanced quotes in configuration line"),
            "{err}"
        );
        let p = write(dir.path(), "bad4.conf", "port 1 2\n");
        let err = load(Some(&p), &[]).unwrap_err().to_string();
        assert!(err.ends_with("wrong number of arguments"), "{err}");
        let err = load(Some(&dir.path().join("missing.conf")), &[])
            .unwrap_err()
            .to_string();
        assert!(
            err.starts_with("Fatal error, can't open config file"),
            "{err}"
        );
    }
}
