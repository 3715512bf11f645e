//! Reading client requests as Redis's `networking.c` does.
//!
//! A request starting with `*` is a multibulk (`*<n>\r\n` then `n` bulk
//! strings `$<len>\r\n<bytes>\r\n`); anything else is an inline command, one
//! line split with [`split_args`](super::split_args). The rules, limits and
//! error texts are Redis 7.0's:
//! - a line without `\r` (multibulk headers) or `\n` (inline) longer than
//!   64 KiB is refused (`too big mbulk count string`, `too big bulk count
//!   string`, `too big inline request`);
//! - counts and lengths are parsed with Redis's strict `string2ll` (no `+`,
//!   no leading zeros); a multibulk count above `i32::MAX` or a bulk length
//!   above `proto-max-bulk-len` is refused;
//! - `*0` and negative counts, and empty inline lines, are skipped silently;
//! - as in Redis, the two bytes after a bulk's payload are skipped without
//!   looking at them.
//!
//! [`check`] scans without allocating and says where the next request ends;
//! [`parse`] does the same scan and, once the request is complete, builds
//! the argument vector (one pass over the bytes, arguments copied once).
//! Partial input is never an error: it is [`Checked::Incomplete`].

use super::inline::split_args;

/// The longest line accepted before its terminator arrives
/// (`PROTO_INLINE_MAX_SIZE` in Redis).
pub const INLINE_MAX_SIZE: usize = 64 * 1024;

/// Before authentication Redis accepts at most 10 arguments per request...
const UNAUTH_MAX_MULTIBULK: i64 = 10;
/// ...and bulk strings of at most 16 KiB, so an unauthenticated client cannot
/// make the server buffer much.
const UNAUTH_MAX_BULK: i64 = 16384;

/// A request the server will not read; the connection is answered with
/// `-ERR Protocol error: <Display>` and closed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ProtocolError {
    /// An inline request line longer than [`INLINE_MAX_SIZE`].
    #[error("too big inline request")]
    TooBigInline,
    /// A `*<n>` header line longer than [`INLINE_MAX_SIZE`].
    #[error("too big mbulk count string")]
    TooBigMultibulkCount,
    /// A `$<len>` header line longer than [`INLINE_MAX_SIZE`].
    #[error("too big bulk count string")]
    TooBigBulkCount,
    /// `*<n>` where `n` is not an integer or exceeds `i32::MAX`.
    #[error("invalid multibulk length")]
    InvalidMultibulkLength,
    /// `$<len>` where `len` is negative, not an integer or above `proto-max-bulk-len`.
    #[error("invalid bulk length")]
    InvalidBulkLength,
    /// An element of a multibulk request that is not a bulk string.
    #[error("expected '$', got '{}'", char::from(*.0))]
    ExpectedBulk(u8),
    /// An inline request with an unbalanced quote.
    #[error("unbalanced quotes in request")]
    UnbalancedQuotes,
    /// More than 10 arguments before authentication.
    #[error("unauthenticated multibulk length")]
    UnauthenticatedMultibulk,
    /// A bulk string above 16 KiB before authentication.
    #[error("unauthenticated bulk length")]
    UnauthenticatedBulk,
}

/// Limits that depend on configuration and on the client's state.
#[derive(Debug, Clone, Copy)]
pub struct RequestLimits {
    /// `proto-max-bulk-len`.
    pub max_bulk_len: u64,
    /// Whether the client still has to authenticate (`requirepass` is set and
    /// AUTH has not succeeded); then Redis's stricter limits apply.
    pub unauthenticated: bool,
}

impl Default for RequestLimits {
    fn default() -> Self {
        RequestLimits {
            max_bulk_len: 512 * 1024 * 1024,
            unauthenticated: false,
        }
    }
}

/// What [`check`] found at the start of the buffer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Checked {
    /// More bytes are needed.
    Incomplete,
    /// A request (possibly empty, e.g. `*0\r\n` or a blank line) ends at this
    /// offset.
    Complete(usize),
}

/// A parsed request: the command name and its arguments.
///
/// Reused from one request to the next: the argument buffers of the last
/// request are kept and refilled, so a connection in a steady state parses
/// without allocating.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Request {
    /// `args[0]` is the command name as sent.
    pub args: Vec<Vec<u8>>,
    /// Argument buffers from earlier requests, emptied, ready for reuse.
    spare: Vec<Vec<u8>>,
    /// Byte ranges of the arguments found so far by the scan, copied into
    /// `args` only once the whole request has arrived (so a request that
    /// arrives in many reads is not copied again on each).
    spans: Vec<(usize, usize)>,
}

impl Request {
    /// Empties `args`, keeping their buffers for the next request.
    fn recycle(&mut self) {
        // A buffer that held a large argument is not kept, so one big request
        // does not pin memory for the life of the connection.
        const KEEP: usize = 4096;
        for mut a in self.args.drain(..) {
            if a.capacity() <= KEEP && self.spare.len() < 1024 {
                a.clear();
                self.spare.push(a);
            }
        }
    }

    /// Appends an argument, in a recycled buffer if there is one.
    fn push(&mut self, bytes: &[u8]) {
        let mut a = self.spare.pop().unwrap_or_default();
        a.extend_from_slice(bytes);
        self.args.push(a);
    }
}

/// Redis's `string2ll`: an optional `-`, then digits with no leading zero
/// (except `0` itself), no `+`, no spaces, within `i64`.
pub fn string2ll(s: &[u8]) -> Option<i64> {
    let (neg, digits) = match s.split_first()? {
        (b'-', rest) => (true, rest),
        _ => (false, s),
    };
    match digits {
        [] => return None,
        [b'0'] if !neg => return Some(0),
        [b'1'..=b'9', ..] => {}
        _ => return None,
    }
    let mut v: u64 = 0;
    for &d in digits {
        if !d.is_ascii_digit() {
            return None;
        }
        v = v.checked_mul(10)?.checked_add(u64::from(d - b'0'))?;
    }
    if neg {
        if v > i64::MIN.unsigned_abs() {
            None
        } else {
            Some(0i64.wrapping_sub_unsigned(v))
        }
    } else {
        i64::try_from(v).ok()
    }
}

fn find(buf: &[u8], from: usize, byte: u8) -> Option<usize> {
    buf.get(from..)?
        .iter()
        .position(|&b| b == byte)
        .map(|p| p + from)
}

/// Reads a `<prefix><number>\r` header at `pos`: returns the number and the
/// offset after the line, `Ok(None)` if the line is not complete.
fn header(
    buf: &[u8],
    pos: usize,
    too_big: ProtocolError,
) -> Result<Option<(Option<i64>, usize)>, ProtocolError> {
    let Some(cr) = find(buf, pos, b'\r') else {
        if buf.len() - pos > INLINE_MAX_SIZE {
            return Err(too_big);
        }
        return Ok(None);
    };
    // Redis steps over "\r\n" without checking the '\n': it needs both bytes.
    if cr + 2 > buf.len() {
        return Ok(None);
    }
    // `cr == pos` when the line is a bare "\r": no tag byte, no number.
    let number = buf.get(pos + 1..cr).and_then(string2ll);
    Ok(Some((number, cr + 2)))
}

/// Scans one request at the start of `buf` without allocating.
///
/// # Errors
/// A [`ProtocolError`] as soon as the bytes received so far are invalid,
/// even if the request is not complete yet (as Redis does).
pub fn check(buf: &[u8], limits: &RequestLimits) -> Result<Checked, ProtocolError> {
    walk(buf, limits, None)
}

/// Scans one request at the start of `buf` like [`check`] and, if it is
/// complete, fills `req.args` with its arguments.
///
/// # Errors
/// The same errors as [`check`], plus [`ProtocolError::UnbalancedQuotes`] for
/// inline requests.
pub fn parse(
    buf: &[u8],
    limits: &RequestLimits,
    req: &mut Request,
) -> Result<Checked, ProtocolError> {
    req.recycle();
    walk(buf, limits, Some(req))
}

fn walk(
    buf: &[u8],
    limits: &RequestLimits,
    mut out: Option<&mut Request>,
) -> Result<Checked, ProtocolError> {
    let Some(&first) = buf.first() else {
        return Ok(Checked::Incomplete);
    };
    if first != b'*' {
        return inline(buf, out);
    }
    let Some((count, mut pos)) = header(buf, 0, ProtocolError::TooBigMultibulkCount)? else {
        return Ok(Checked::Incomplete);
    };
    let count = match count {
        Some(n) if n <= i64::from(i32::MAX) => n,
        _ => return Err(ProtocolError::InvalidMultibulkLength),
    };
    if count > UNAUTH_MAX_MULTIBULK && limits.unauthenticated {
        return Err(ProtocolError::UnauthenticatedMultibulk);
    }
    if count <= 0 {
        return Ok(Checked::Complete(pos));
    }
    if let Some(req) = out.as_deref_mut() {
        req.spans.clear();
    }
    for _ in 0..count {
        let Some(&tag) = buf.get(pos) else {
            return Ok(Checked::Incomplete);
        };
        // Redis looks for the header's '\r' before checking the '$'.
        let Some((len, data)) = header(buf, pos, ProtocolError::TooBigBulkCount)? else {
            return Ok(Checked::Incomplete);
        };
        if tag != b'$' {
            return Err(ProtocolError::ExpectedBulk(tag));
        }
        let len = match len {
            Some(n) if n >= 0 && n.unsigned_abs() <= limits.max_bulk_len => n,
            _ => return Err(ProtocolError::InvalidBulkLength),
        };
        if len > UNAUTH_MAX_BULK && limits.unauthenticated {
            return Err(ProtocolError::UnauthenticatedBulk);
        }
        let len = usize::try_from(len).map_err(|_| ProtocolError::InvalidBulkLength)?;
        let end = data
            .checked_add(len)
            .ok_or(ProtocolError::InvalidBulkLength)?;
        if end + 2 > buf.len() {
            return Ok(Checked::Incomplete);
        }
        if let Some(req) = out.as_deref_mut() {
            req.spans.push((data, end));
        }
        pos = end + 2;
    }
    if let Some(req) = out {
        let spans = std::mem::take(&mut req.spans);
        req.args.reserve(spans.len());
        for &(from, to) in &spans {
            req.push(&buf[from..to]);
        }
        // Kept for the next request unless one huge request grew it.
        if spans.capacity() <= 1024 {
            req.spans = spans;
        }
    }
    Ok(Checked::Complete(pos))
}

fn inline(buf: &[u8], out: Option<&mut Request>) -> Result<Checked, ProtocolError> {
    let Some(nl) = find(buf, 0, b'\n') else {
        if buf.len() > INLINE_MAX_SIZE {
            return Err(ProtocolError::TooBigInline);
        }
        return Ok(Checked::Incomplete);
    };
    if let Some(req) = out {
        let mut line = &buf[..nl];
        if let Some((b'\r', rest)) = line.split_last() {
            line = rest;
        }
        req.args = split_args(line).map_err(|_| ProtocolError::UnbalancedQuotes)?;
    }
    Ok(Checked::Complete(nl + 1))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn one(buf: &[u8]) -> Result<(Checked, Vec<Vec<u8>>), ProtocolError> {
        let limits = RequestLimits::default();
        let checked = check(buf, &limits)?;
        let mut req = Request::default();
        let parsed = parse(buf, &limits, &mut req)?;
        assert_eq!(checked, parsed);
        Ok((parsed, req.args))
    }

    #[test]
    fn a_request_arriving_in_pieces_is_parsed_once_whole() {
        // One request (and the start of the next) delivered byte by byte
        // into the same reused `Request`: incomplete until its last byte,
        // then exactly its arguments, with nothing left over for the next.
        let limits = RequestLimits::default();
        let first = b"*3\r\n$4\r\nXADD\r\n$1\r\nk\r\n$2\r\nab\r\n";
        let second = b"*1\r\n$4\r\nPING\r\n";
        let mut req = Request::default();
        for cut in 0..first.len() {
            assert_eq!(
                parse(&first[..cut], &limits, &mut req),
                Ok(Checked::Incomplete),
                "cut at {cut}"
            );
        }
        let mut both = first.to_vec();
        both.extend_from_slice(second);
        assert_eq!(
            parse(&both, &limits, &mut req),
            Ok(Checked::Complete(first.len()))
        );
        assert_eq!(
            req.args,
            vec![b"XADD".to_vec(), b"k".to_vec(), b"ab".to_vec()]
        );
        assert_eq!(
            parse(&both[first.len()..], &limits, &mut req),
            Ok(Checked::Complete(second.len()))
        );
        assert_eq!(req.args, vec![b"PING".to_vec()]);
    }

    #[test]
    fn string2ll_is_strict() {
        assert_eq!(string2ll(b"0"), Some(0));
        assert_eq!(string2ll(b"-12"), Some(-12));
        assert_eq!(string2ll(b"9223372036854775807"), Some(i64::MAX));
        assert_eq!(string2ll(b"-9223372036854775808"), Some(i64::MIN));
        for bad in [
            &b""[..],
            b"-",
            b"-0",
            b"01",
            b"+1",
            b" 1",
            b"1 ",
            b"9223372036854775808",
            b"1a",
        ] {
            assert_eq!(string2ll(bad), None, "{bad:?}");
        }
    }

    #[test]
    fn multibulk_complete_and_partial() {
        let full = b"*2\r\n$4\r\nECHO\r\n$3\r\nhey\r\n";
        let (c, args) = one(full).unwrap();
        assert_eq!(c, Checked::Complete(full.len()));
        assert_eq!(args, [b"ECHO".to_vec(), b"hey".to_vec()]);
        for cut in 0..full.len() {
            assert_eq!(
                one(&full[..cut]).unwrap().0,
                Checked::Incomplete,
                "cut at {cut}"
            );
        }
    }

    #[test]
    fn redis_protocol_errors() {
        assert_eq!(one(b"*abc\r\n"), Err(ProtocolError::InvalidMultibulkLength));
        assert_eq!(
            one(b"*3000000000\r\n"),
            Err(ProtocolError::InvalidMultibulkLength)
        );
        assert_eq!(
            one(b"*1\r\n+foo\r\n"),
            Err(ProtocolError::ExpectedBulk(b'+'))
        );
        assert_eq!(one(b"*1\r\n$-1\r\n"), Err(ProtocolError::InvalidBulkLength));
        assert_eq!(
            one(b"*1\r\n$600000000\r\n"),
            Err(ProtocolError::InvalidBulkLength)
        );
        assert_eq!(one(b"set \"a\r\n"), Err(ProtocolError::UnbalancedQuotes));
        // Found by the fuzz test: a bulk header that is only "\r\n".
        assert_eq!(one(b"*1\r\n\r\n"), Err(ProtocolError::ExpectedBulk(b'\r')));
        assert_eq!(
            ProtocolError::ExpectedBulk(b'+').to_string(),
            "expected '$', got '+'"
        );
    }

    #[test]
    fn oversized_lines() {
        let long = vec![b'a'; INLINE_MAX_SIZE + 1];
        assert_eq!(one(&long), Err(ProtocolError::TooBigInline));
        let mut mb = b"*".to_vec();
        mb.extend(std::iter::repeat_n(b'1', INLINE_MAX_SIZE + 1));
        assert_eq!(one(&mb), Err(ProtocolError::TooBigMultibulkCount));
        let mut b = b"*1\r\n$".to_vec();
        b.extend(std::iter::repeat_n(b'1', INLINE_MAX_SIZE + 1));
        assert_eq!(one(&b), Err(ProtocolError::TooBigBulkCount));
    }

    #[test]
    fn empty_requests_are_skipped() {
        assert_eq!(one(b"*0\r\n").unwrap(), (Checked::Complete(4), vec![]));
        assert_eq!(one(b"*-5\r\n").unwrap(), (Checked::Complete(5), vec![]));
        assert_eq!(one(b"  \r\n").unwrap(), (Checked::Complete(4), vec![]));
    }

    #[test]
    fn inline_request() {
        let (c, args) = one(b"set k \"v w\"\r\nrest").unwrap();
        assert_eq!(c, Checked::Complete(13));
        assert_eq!(args, [b"set".to_vec(), b"k".to_vec(), b"v w".to_vec()]);
        assert_eq!(one(b"ping\n").unwrap().1, [b"ping".to_vec()]);
    }

    #[test]
    fn unauthenticated_limits() {
        let limits = RequestLimits {
            unauthenticated: true,
            ..RequestLimits::default()
        };
        assert_eq!(
            check(b"*11\r\n", &limits),
            Err(ProtocolError::UnauthenticatedMultibulk)
        );
        assert_eq!(
            check(b"*1\r\n$16385\r\n", &limits),
            Err(ProtocolError::UnauthenticatedBulk)
        );
    }
}
