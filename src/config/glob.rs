//! Glob-style matching as Redis's `stringmatchlen` does it (CONFIG GET, KEYS,
//! SCAN MATCH): `*`, `?`, `[abc]`, `[^a]`, `[a-z]` and `\` to escape.
//!
//! Uses the classic "back up to the last star" loop, so hostile patterns cost
//! O(pattern × text) instead of Redis's exponential recursion.

/// Matches one pattern token at `p` against `c`; returns whether it matched
/// and the index after the token.
fn token(pat: &[u8], mut p: usize, c: u8, nocase: bool) -> (bool, usize) {
    let eq = |a: u8, b: u8| {
        if nocase {
            a.eq_ignore_ascii_case(&b)
        } else {
            a == b
        }
    };
    match pat[p] {
        b'?' => (true, p + 1),
        b'\\' if p + 1 < pat.len() => (eq(pat[p + 1], c), p + 2),
        b'[' => {
            p += 1;
            let not = pat.get(p) == Some(&b'^');
            if not {
                p += 1;
            }
            let mut matched = false;
            loop {
                match pat.get(p) {
                    None => {
                        // Unterminated class: Redis treats the end as the close.
                        break;
                    }
                    Some(b']') => {
                        p += 1;
                        break;
                    }
                    Some(b'\\') if p + 1 < pat.len() => {
                        matched |= eq(pat[p + 1], c);
                        p += 2;
                    }
                    Some(&lo) if pat.get(p + 1) == Some(&b'-') && p + 2 < pat.len() => {
                        let hi = pat[p + 2];
                        let (lo, hi) = if lo > hi { (hi, lo) } else { (lo, hi) };
                        let (lo, hi, cc) = if nocase {
                            (
                                lo.to_ascii_lowercase(),
                                hi.to_ascii_lowercase(),
                                c.to_ascii_lowercase(),
                            )
                        } else {
                            (lo, hi, c)
                        };
                        matched |= lo <= cc && cc <= hi;
                        p += 3;
                    }
                    Some(&other) => {
                        matched |= eq(other, c);
                        p += 1;
                    }
                }
            }
            (matched != not, p)
        }
        other => (eq(other, c), p + 1),
    }
}

/// Whether `text` matches the glob `pattern` (case-insensitively if `nocase`).
pub fn glob_match(pattern: &[u8], text: &[u8], nocase: bool) -> bool {
    let (mut p, mut t) = (0, 0);
    let mut star: Option<(usize, usize)> = None;
    while t < text.len() {
        if p < pattern.len() && pattern[p] == b'*' {
            while p < pattern.len() && pattern[p] == b'*' {
                p += 1;
            }
            star = Some((p, t));
            continue;
        }
        if p < pattern.len() {
            let (ok, next) = token(pattern, p, text[t], nocase);
            if ok {
                p = next;
                t += 1;
                continue;
            }
        }
        match star {
            Some((sp, st)) => {
                p = sp;
                t = st + 1;
                star = Some((sp, st + 1));
            }
            None => return false,
        }
    }
    pattern[p..].iter().all(|&b| b == b'*')
}

#[cfg(test)]
mod tests {
    use super::glob_match;

    #[test]
    fn globs() {
        let m = |p: &str, t: &str| glob_match(p.as_bytes(), t.as_bytes(), false);
        assert!(m("*", ""));
        assert!(m("max*", "maxmemory"));
        assert!(m("*memory*", "maxmemory-policy"));
        assert!(!m("max", "maxmemory"));
        assert!(m("h?llo", "hello"));
        assert!(m("h[ae]llo", "hallo"));
        assert!(!m("h[^e]llo", "hello"));
        assert!(m("h[a-c]llo", "hbllo"));
        assert!(m(r"a\*b", "a*b"));
        assert!(!m(r"a\*b", "axb"));
        assert!(m("a*b*c", "aXbYbZc"));
        assert!(glob_match(b"PORT", b"port", true));
        assert!(!m(&"*a".repeat(30), &"a".repeat(29)));
    }
}
