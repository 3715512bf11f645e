//! Splitting a line into arguments with Redis's quoting rules (`sdssplitargs`).
//!
//! Used for inline commands (what telnet and `redis-cli` in some modes send)
//! and for configuration-file lines. Double quotes understand `\n`, `\r`,
//! `\t`, `\b`, `\a`, `\xHH` and `\<char>`; single quotes only `\'`. A closing
//! quote must be followed by a space or the end of the line.

/// A line could not be split because a quote is unbalanced (or a closing
/// quote is glued to the next character, which Redis treats the same way).
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("unbalanced quotes")]
pub struct SplitError;

fn is_space(b: u8) -> bool {
    // C's isspace(): space, \t, \n, \v, \f, \r.
    matches!(b, b' ' | b'\t' | b'\n' | 0x0b | 0x0c | b'\r')
}

fn hex_val(b: u8) -> Option<u8> {
    match b {
        b'0'..=b'9' => Some(b - b'0'),
        b'a'..=b'f' => Some(b - b'a' + 10),
        b'A'..=b'F' => Some(b - b'A' + 10),
        _ => None,
    }
}

/// The byte of a `\xHH` escape starting at `line[i]`, if there is one.
fn hex_escape(line: &[u8], i: usize) -> Option<u8> {
    if line.get(i + 1) != Some(&b'x') {
        return None;
    }
    let h = hex_val(*line.get(i + 2)?)?;
    let l = hex_val(*line.get(i + 3)?)?;
    Some(h * 16 + l)
}

/// Splits `line` into arguments exactly as Redis's `sdssplitargs` does.
///
/// A NUL byte ends the line, as it ends a C string.
///
/// # Errors
/// [`SplitError`] on unbalanced quotes.
pub fn split_args(line: &[u8]) -> Result<Vec<Vec<u8>>, SplitError> {
    let end = line.iter().position(|&b| b == 0).unwrap_or(line.len());
    let line = &line[..end];
    let mut args = Vec::new();
    let mut i = 0;
    loop {
        while i < line.len() && is_space(line[i]) {
            i += 1;
        }
        if i >= line.len() {
            return Ok(args);
        }
        let mut current = Vec::new();
        let mut in_double = false;
        let mut in_single = false;
        loop {
            let c = line.get(i).copied();
            if in_double {
                match c {
                    None => return Err(SplitError),
                    Some(b'\\') if hex_escape(line, i).is_some() => {
                        current.push(hex_escape(line, i).unwrap_or_default());
                        i += 3;
                    }
                    Some(b'\\') if i + 1 < line.len() => {
                        i += 1;
                        current.push(match line[i] {
                            b'n' => b'\n',
                            b'r' => b'\r',
                            b't' => b'\t',
                            b'b' => 0x08,
                            b'a' => 0x07,
                            other => other,
                        });
                    }
                    Some(b'"') => {
                        // The closing quote must be followed by a space or the end.
                        if let Some(&next) = line.get(i + 1)
                            && !is_space(next)
                        {
                            return Err(SplitError);
                        }
                        i += 1;
                        break;
                    }
                    Some(other) => current.push(other),
                }
            } else if in_single {
                match c {
                    None => return Err(SplitError),
                    Some(b'\\') if line.get(i + 1) == Some(&b'\'') => {
                        i += 1;
                        current.push(b'\'');
                    }
                    Some(b'\'') => {
                        if let Some(&next) = line.get(i + 1)
                            && !is_space(next)
                        {
                            return Err(SplitError);
                        }
                        i += 1;
                        break;
                    }
                    Some(other) => current.push(other),
                }
            } else {
                match c {
                    None | Some(b' ' | b'\n' | b'\r' | b'\t') => break,
                    Some(b'"') => in_double = true,
                    Some(b'\'') => in_single = true,
                    Some(other) => current.push(other),
                }
            }
            i += 1;
        }
        args.push(current);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn split(s: &str) -> Result<Vec<String>, SplitError> {
        split_args(s.as_bytes()).map(|v| {
            v.into_iter()
                .map(|a| String::from_utf8_lossy(&a).into_owned())
                .collect()
        })
    }

    #[test]
    fn plain_words_and_spaces() {
        assert_eq!(split("  set  a   b ").unwrap(), ["set", "a", "b"]);
        assert_eq!(split("").unwrap(), Vec::<String>::new());
        assert_eq!(split(" \t ").unwrap(), Vec::<String>::new());
    }

    #[test]
    fn double_quotes_and_escapes() {
        assert_eq!(
            split(r#"set "a b" "\x41\n\"""#).unwrap(),
            ["set", "a b", "A\n\""]
        );
        assert_eq!(split(r#""\xZZ""#).unwrap(), ["xZZ"]);
        assert_eq!(split(r#""""#).unwrap(), [""]);
        assert_eq!(split(r#"a"b c""#).unwrap(), ["ab c"]);
    }

    #[test]
    fn single_quotes() {
        assert_eq!(split(r"'a\'b' 'c\n'").unwrap(), ["a'b", r"c\n"]);
    }

    #[test]
    fn unbalanced_quotes() {
        assert_eq!(split(r#"set "a"#), Err(SplitError));
        assert_eq!(split(r#"ping "a"b"#), Err(SplitError));
        assert_eq!(split("ping 'a'b"), Err(SplitError));
        assert_eq!(split("ping 'a"), Err(SplitError));
    }
}
