//! Number parsing and formatting with Redis's exact rules.
//!
//! Owns: the C `strtod` grammar Redis relies on (ranges accept leading blanks,
//! hex floats and the empty string; stored scores do not), the strict integer
//! grammar of `string2ll`, and the reply formats of doubles (`%.17g` for
//! scores, `%.17Lf` trimmed for coordinates, `%.4f` for distances).
//! Does not own: RESP framing (the server turns these strings into replies).

/// Parses the longest prefix of `s` that C `strtod` would accept.
///
/// Returns the value and the number of bytes consumed; `(0.0, 0)` when no
/// conversion happened (C then leaves the end pointer at the start, which is
/// why Redis accepts an empty range bound as 0).
pub fn strtod_prefix(s: &[u8]) -> (f64, usize) {
    let mut i = 0;
    while i < s.len() && is_c_space(s[i]) {
        i += 1;
    }
    let start = i;
    let mut neg = false;
    if i < s.len() && (s[i] == b'+' || s[i] == b'-') {
        neg = s[i] == b'-';
        i += 1;
    }
    let sign = if neg { -1.0 } else { 1.0 };
    let rest = &s[i..];
    if starts_with_ci(rest, b"infinity") {
        return (sign * f64::INFINITY, i + 8);
    }
    if starts_with_ci(rest, b"inf") {
        return (sign * f64::INFINITY, i + 3);
    }
    if starts_with_ci(rest, b"nan") {
        let mut end = i + 3;
        // C accepts "nan(n-char-sequence)"; only a closed parenthesis counts.
        if end < s.len() && s[end] == b'(' {
            let mut j = end + 1;
            while j < s.len() && (s[j].is_ascii_alphanumeric() || s[j] == b'_') {
                j += 1;
            }
            if j < s.len() && s[j] == b')' {
                end = j + 1;
            }
        }
        return (f64::NAN, end);
    }
    if rest.len() >= 2 && rest[0] == b'0' && (rest[1] == b'x' || rest[1] == b'X') {
        if let Some((v, used)) = parse_hex(&rest[2..]) {
            return (sign * v, i + 2 + used);
        }
        // "0x" without hex digits: strtod converts the "0" only.
        return (sign * 0.0, i + 1);
    }
    let mut j = i;
    let mut digits = 0;
    while j < s.len() && s[j].is_ascii_digit() {
        j += 1;
        digits += 1;
    }
    if j < s.len() && s[j] == b'.' {
        j += 1;
        while j < s.len() && s[j].is_ascii_digit() {
            j += 1;
            digits += 1;
        }
    }
    if digits == 0 {
        return (0.0, 0);
    }
    if j < s.len() && (s[j] == b'e' || s[j] == b'E') {
        let mut k = j + 1;
        if k < s.len() && (s[k] == b'+' || s[k] == b'-') {
            k += 1;
        }
        let exp_start = k;
        while k < s.len() && s[k].is_ascii_digit() {
            k += 1;
        }
        if k > exp_start {
            j = k;
        }
    }
    let text = std::str::from_utf8(&s[start..j]).unwrap_or("0");
    (text.parse::<f64>().unwrap_or(0.0), j)
}

/// Hex float body after "0x": hex digits, optional fraction, optional `p` exponent.
fn parse_hex(s: &[u8]) -> Option<(f64, usize)> {
    let mut i = 0;
    let mut mant: f64 = 0.0;
    let mut exp: i32 = 0;
    let mut digits = 0;
    while i < s.len() && s[i].is_ascii_hexdigit() {
        mant = mant * 16.0 + f64::from(hex_val(s[i]));
        i += 1;
        digits += 1;
    }
    if i < s.len() && s[i] == b'.' {
        let mut j = i + 1;
        let mut frac_digits = 0;
        while j < s.len() && s[j].is_ascii_hexdigit() {
            mant = mant * 16.0 + f64::from(hex_val(s[j]));
            exp -= 4;
            j += 1;
            frac_digits += 1;
        }
        if digits + frac_digits > 0 {
            i = j;
            digits += frac_digits;
        }
    }
    if digits == 0 {
        return None;
    }
    if i < s.len() && (s[i] == b'p' || s[i] == b'P') {
        let mut k = i + 1;
        let mut eneg = false;
        if k < s.len() && (s[k] == b'+' || s[k] == b'-') {
            eneg = s[k] == b'-';
            k += 1;
        }
        let es = k;
        let mut e: i32 = 0;
        while k < s.len() && s[k].is_ascii_digit() {
            e = e.saturating_mul(10).saturating_add(i32::from(s[k] - b'0'));
            k += 1;
        }
        if k > es {
            exp = exp.saturating_add(if eneg { -e } else { e });
            i = k;
        }
    }
    Some((mant * 2f64.powi(exp), i))
}

fn hex_val(c: u8) -> u8 {
    match c {
        b'0'..=b'9' => c - b'0',
        b'a'..=b'f' => c - b'a' + 10,
        _ => c - b'A' + 10,
    }
}

fn starts_with_ci(s: &[u8], word: &[u8]) -> bool {
    s.len() >= word.len() && s[..word.len()].eq_ignore_ascii_case(word)
}

fn is_c_space(c: u8) -> bool {
    matches!(c, b' ' | b'\t' | b'\n' | 0x0b | 0x0c | b'\r')
}

/// A range bound as `zslParseRange` reads it: the whole text must convert
/// (the empty string converts to 0), and NaN is refused.
pub fn parse_range_double(s: &[u8]) -> Option<f64> {
    let (v, used) = strtod_prefix(s);
    if used != s.len() || v.is_nan() {
        return None;
    }
    Some(v)
}

/// A double as `getDoubleFromObject` reads it (scores, coordinates, radii):
/// non-empty, no leading blank, fully converted, no overflow to infinity
/// from a finite literal, no underflow to zero, not NaN.
pub fn parse_strict_double(s: &[u8]) -> Option<f64> {
    if s.is_empty() || is_c_space(s[0]) {
        return None;
    }
    let (v, used) = strtod_prefix(s);
    if used != s.len() || v.is_nan() {
        return None;
    }
    if v.is_infinite() && !mentions_inf(s) {
        return None; // ERANGE overflow
    }
    if v == 0.0 && has_nonzero_digit(s) {
        return None; // ERANGE underflow
    }
    Some(v)
}

fn mentions_inf(s: &[u8]) -> bool {
    s.iter().any(|c| c.eq_ignore_ascii_case(&b'i'))
}

fn has_nonzero_digit(s: &[u8]) -> bool {
    // Digits of the mantissa only: stop at an exponent marker.
    let hex = s
        .windows(2)
        .any(|w| w[0] == b'0' && (w[1] == b'x' || w[1] == b'X'));
    for (idx, &c) in s.iter().enumerate() {
        if hex {
            if idx > 1 && (c == b'p' || c == b'P') {
                break;
            }
            if c.is_ascii_hexdigit() && c != b'0' && !(idx > 0 && (c == b'x' || c == b'X')) {
                return true;
            }
        } else {
            if c == b'e' || c == b'E' {
                break;
            }
            if (b'1'..=b'9').contains(&c) {
                return true;
            }
        }
    }
    false
}

/// An integer as `string2ll` reads it: optional '-', no '+', no blanks, no
/// leading zeros (except "0" itself), no "-0", within `i64`.
pub fn parse_i64(s: &[u8]) -> Option<i64> {
    if s.is_empty() || s.len() > 20 {
        return None;
    }
    if s == b"0" {
        return Some(0);
    }
    let (neg, digits) = match s[0] {
        b'-' => (true, &s[1..]),
        _ => (false, s),
    };
    if digits.is_empty() || !(b'1'..=b'9').contains(&digits[0]) {
        return None;
    }
    let mut v: u64 = 0;
    for &c in digits {
        if !c.is_ascii_digit() {
            return None;
        }
        v = v.checked_mul(10)?.checked_add(u64::from(c - b'0'))?;
    }
    if neg {
        if v > (i64::MAX as u64) + 1 {
            return None;
        }
        Some((v as i64).wrapping_neg())
    } else {
        i64::try_from(v).ok()
    }
}

/// A double formatted as Redis 7.0 replies it (`addReplyDouble`: `%.17g`,
/// with `inf`/`-inf`).
pub fn format_double(d: f64) -> String {
    if d.is_infinite() {
        return if d > 0.0 { "inf".into() } else { "-inf".into() };
    }
    if d.is_nan() {
        return "nan".into();
    }
    if d == 0.0 {
        return if d.is_sign_negative() {
            "-0".into()
        } else {
            "0".into()
        };
    }
    const P: i32 = 17;
    let sci = format!("{:.16e}", d);
    let (mant, exp) = match sci.split_once('e') {
        Some((m, e)) => (m, e.parse::<i32>().unwrap_or(0)),
        None => (sci.as_str(), 0),
    };
    if !(-4..P).contains(&exp) {
        let mant = trim_fraction(mant);
        let sign = if exp < 0 { '-' } else { '+' };
        format!("{mant}e{sign}{:02}", exp.unsigned_abs())
    } else {
        let prec = usize::try_from(P - 1 - exp).unwrap_or(0);
        trim_fraction(&format!("{d:.prec$}")).to_string()
    }
}

fn trim_fraction(s: &str) -> &str {
    if s.contains('.') {
        s.trim_end_matches('0').trim_end_matches('.')
    } else {
        s
    }
}

/// A coordinate as `addReplyHumanLongDouble` prints it: `%.17Lf`, trailing
/// zeros and a trailing dot removed, "-0" printed as "0".
pub fn format_human(d: f64) -> String {
    let s = format!("{d:.17}");
    let t = trim_fraction(&s);
    if t == "-0" { "0".into() } else { t.to_string() }
}

/// A distance as `addReplyDoubleDistance` prints it: `%.4f`.
pub fn format_distance(d: f64) -> String {
    format!("{d:.4}")
}

/// Shortest round-trip form, used for counter sums that are not integers.
pub fn format_sum(d: f64) -> String {
    if d.is_infinite() {
        return if d > 0.0 { "inf".into() } else { "-inf".into() };
    }
    let s = format!("{d}");
    if s == "-0" { "0".into() } else { s }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn double_format_matches_redis_replies() {
        // Expected strings captured from redis-server 7.0.15 ZRANGE WITHSCORES.
        let cases: &[(f64, &str)] = &[
            (f64::NEG_INFINITY, "-inf"),
            (1e-5, "1.0000000000000001e-05"),
            (0.0001, "0.0001"),
            (0.1, "0.10000000000000001"),
            (1.0, "1"),
            (1.5, "1.5"),
            (2.0, "2"),
            (3.0000000000000004, "3.0000000000000004"),
            (123456789012345678.0, "1.2345678901234568e+17"),
            (1e20, "1e+20"),
            (f64::INFINITY, "inf"),
            (1e-310, "9.9999999999999694e-311"),
            (3479099956230698.0, "3479099956230698"),
            (8.0, "8"),
        ];
        for (v, want) in cases {
            assert_eq!(format_double(*v), *want, "value {v:e}");
        }
    }

    #[test]
    fn human_and_distance_formats() {
        assert_eq!(format_human(13.361389338970184), "13.36138933897018433");
        assert_eq!(format_human(38.1155563954963), "38.11555639549629859");
        assert_eq!(format_human(-0.0), "0");
        assert_eq!(format_human(2.0), "2");
        assert_eq!(format_distance(166274.15156960033), "166274.1516");
        assert_eq!(format_distance(0.0), "0.0000");
    }

    #[test]
    fn range_double_follows_strtod() {
        assert_eq!(parse_range_double(b""), Some(0.0));
        assert_eq!(parse_range_double(b" 2"), Some(2.0));
        assert_eq!(parse_range_double(b" "), None);
        assert_eq!(parse_range_double(b"1 "), None);
        assert_eq!(parse_range_double(b"0x10"), Some(16.0));
        assert_eq!(parse_range_double(b"0x1p3"), Some(8.0));
        assert_eq!(parse_range_double(b"1e"), None);
        assert_eq!(parse_range_double(b"1e400"), Some(f64::INFINITY));
        assert_eq!(parse_range_double(b"-inf"), Some(f64::NEG_INFINITY));
        assert_eq!(parse_range_double(b"+Infinity"), Some(f64::INFINITY));
        assert_eq!(parse_range_double(b"nan"), None);
        assert_eq!(parse_range_double(b"a"), None);
        assert_eq!(parse_range_double(b".5"), Some(0.5));
        assert_eq!(parse_range_double(b"5."), Some(5.0));
    }

    #[test]
    fn strict_double_follows_get_double_from_object() {
        assert_eq!(parse_strict_double(b"1.5"), Some(1.5));
        assert_eq!(parse_strict_double(b"00.5"), Some(0.5));
        assert_eq!(parse_strict_double(b"+.5"), Some(0.5));
        assert_eq!(parse_strict_double(b"0x1p3"), Some(8.0));
        assert_eq!(parse_strict_double(b"inFinity"), Some(f64::INFINITY));
        assert_eq!(parse_strict_double(b"0e5"), Some(0.0));
        assert_eq!(parse_strict_double(b""), None);
        assert_eq!(parse_strict_double(b" 1"), None);
        assert_eq!(parse_strict_double(b"1 "), None);
        assert_eq!(parse_strict_double(b"."), None);
        assert_eq!(parse_strict_double(b"1e400"), None);
        assert_eq!(parse_strict_double(b"1e-400"), None);
        assert_eq!(parse_strict_double(b"nan"), None);
    }

    #[test]
    fn integers_follow_string2ll() {
        assert_eq!(parse_i64(b"0"), Some(0));
        assert_eq!(parse_i64(b"-1"), Some(-1));
        assert_eq!(parse_i64(b"9223372036854775807"), Some(i64::MAX));
        assert_eq!(parse_i64(b"-9223372036854775808"), Some(i64::MIN));
        for bad in [
            &b"01"[..],
            b"+1",
            b"-0",
            b" 1",
            b"1 ",
            b"",
            b"-",
            b"0.5",
            b"99999999999999999999",
        ] {
            assert_eq!(parse_i64(bad), None, "{:?}", String::from_utf8_lossy(bad));
        }
    }

    proptest::proptest! {
        #[test]
        fn format_double_round_trips(v in proptest::num::f64::NORMAL | proptest::num::f64::SUBNORMAL) {
            let s = format_double(v);
            proptest::prop_assert_eq!(s.parse::<f64>().ok(), Some(v));
        }

        #[test]
        fn parse_i64_agrees_with_display(v: i64) {
            proptest::prop_assert_eq!(parse_i64(v.to_string().as_bytes()), Some(v));
        }
    }
}
