//! [`Reply`]: writes replies straight into a connection's output buffer.
//!
//! Each method appends one RESP element in the client's protocol version, so
//! a command never builds an intermediate value: RESP3 maps become flat
//! arrays in RESP2, doubles become bulk strings, booleans integers, and the
//! null of a missing value is `$-1` or `*-1` in RESP2 and `_` in RESP3.
//! Numbers are formatted on the stack; the only allocation is the buffer's
//! own growth, which is reused across batches.

/// The protocol version a client speaks (`HELLO 2` / `HELLO 3`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Protocol {
    /// RESP2, the default.
    #[default]
    Resp2,
    /// RESP3.
    Resp3,
}

impl Protocol {
    /// 2 or 3.
    pub fn version(self) -> i64 {
        match self {
            Protocol::Resp2 => 2,
            Protocol::Resp3 => 3,
        }
    }
}

/// Writes decimal `n` into the end of `buf` and returns the digits.
fn fmt_u64(mut v: u64, buf: &mut [u8; 20]) -> &[u8] {
    // Two digits per division: stream IDs carry 13-digit milliseconds.
    const PAIRS: &[u8; 200] = b"0001020304050607080910111213141516171819\
        2021222324252627282930313233343536373839\
        4041424344454647484950515253545556575859\
        6061626364656667686970717273747576777879\
        8081828384858687888990919293949596979899";
    let mut i = buf.len();
    while v >= 100 {
        let d = (v % 100) as usize * 2;
        v /= 100;
        i -= 2;
        buf[i..i + 2].copy_from_slice(&PAIRS[d..d + 2]);
    }
    if v >= 10 {
        let d = v as usize * 2;
        i -= 2;
        buf[i..i + 2].copy_from_slice(&PAIRS[d..d + 2]);
    } else {
        i -= 1;
        buf[i] = b'0' + v as u8;
    }
    &buf[i..]
}

/// Writes decimal `n` into the end of `buf` and returns the digits.
fn fmt_i64(n: i64, buf: &mut [u8; 20]) -> &[u8] {
    let i = buf.len() - fmt_u64(n.unsigned_abs(), buf).len();
    if n < 0 {
        buf[i - 1] = b'-';
        return &buf[i - 1..];
    }
    &buf[i..]
}

/// Appends the text form Redis uses for a double (`inf`, `-inf`, `nan`, or the
/// shortest representation that reads back to the same value).
pub(crate) fn write_double(out: &mut Vec<u8>, d: f64) {
    use std::io::Write;
    if d.is_nan() {
        out.extend_from_slice(b"nan");
    } else if d.is_infinite() {
        out.extend_from_slice(if d > 0.0 { b"inf" } else { b"-inf" });
    } else {
        // Writing to a Vec cannot fail.
        let _ = write!(out, "{d}");
    }
}

/// A reply writer over an output buffer.
#[derive(Debug)]
pub struct Reply<'a> {
    out: &'a mut Vec<u8>,
    proto: Protocol,
    /// Error codes (`ERR`, `WRONGTYPE`, ...) written, for `INFO errorstats`;
    /// the connection drains the list after each batch.
    errors: &'a mut Vec<String>,
}

impl<'a> Reply<'a> {
    /// A writer appending to `out` in `proto`, recording error codes in `errors`.
    pub fn new(out: &'a mut Vec<u8>, proto: Protocol, errors: &'a mut Vec<String>) -> Self {
        Reply { out, proto, errors }
    }

    /// The protocol being written.
    pub fn protocol(&self) -> Protocol {
        self.proto
    }

    /// Switches protocol (after `HELLO`).
    pub fn set_protocol(&mut self, proto: Protocol) {
        self.proto = proto;
    }

    /// Whether the client speaks RESP3.
    pub fn resp3(&self) -> bool {
        self.proto == Protocol::Resp3
    }

    /// Bytes written so far to the underlying buffer.
    pub fn len(&self) -> usize {
        self.out.len()
    }

    /// Whether the buffer is empty.
    pub fn is_empty(&self) -> bool {
        self.out.is_empty()
    }

    #[inline]
    fn head(&mut self, tag: u8, n: i64) {
        // Small counts (most array and bulk lengths) take one copy.
        if let Ok(d @ 0..=9) = u8::try_from(n) {
            self.out.extend_from_slice(&[tag, b'0' + d, b'\r', b'\n']);
            return;
        }
        self.long_head(tag, n);
    }

    #[inline(never)]
    fn long_head(&mut self, tag: u8, n: i64) {
        let mut b = [0u8; 20];
        self.out.push(tag);
        self.out.extend_from_slice(fmt_i64(n, &mut b));
        self.out.extend_from_slice(b"\r\n");
    }

    /// Makes room for `n` more bytes, so a reply of known size grows the
    /// buffer at most once.
    pub fn reserve(&mut self, n: usize) {
        self.out.reserve(n);
    }

    fn len_head(&mut self, tag: u8, n: usize) {
        self.head(tag, i64::try_from(n).unwrap_or(i64::MAX));
    }

    /// `+OK`
    pub fn ok(&mut self) {
        self.out.extend_from_slice(b"+OK\r\n");
    }

    /// A status reply `+s` (`s` must not contain CR or LF).
    pub fn simple(&mut self, s: &str) {
        self.out.push(b'+');
        self.out.extend_from_slice(s.as_bytes());
        self.out.extend_from_slice(b"\r\n");
    }

    /// An error reply. `msg` starts with its code (`ERR ...`, `WRONGTYPE ...`);
    /// CR and LF are replaced by spaces as Redis does, so the reply stays one line.
    pub fn error(&mut self, msg: &str) {
        let code = msg.split(' ').next().unwrap_or("ERR");
        self.errors.push(code.to_owned());
        self.out.push(b'-');
        self.out.extend(
            msg.bytes()
                .map(|b| if b == b'\r' || b == b'\n' { b' ' } else { b }),
        );
        self.out.extend_from_slice(b"\r\n");
    }

    /// Error replies written so far through this writer's error list.
    pub fn error_count(&self) -> usize {
        self.errors.len()
    }

    /// `:n`
    pub fn int(&mut self, n: i64) {
        self.head(b':', n);
    }

    /// An unsigned count as an integer reply.
    pub fn count(&mut self, n: usize) {
        self.int(i64::try_from(n).unwrap_or(i64::MAX));
    }

    /// A bulk string.
    pub fn bulk(&mut self, b: &[u8]) {
        self.len_head(b'$', b.len());
        self.out.extend_from_slice(b);
        self.out.extend_from_slice(b"\r\n");
    }

    /// An integer as a bulk string (Redis's `addReplyBulkLongLong`).
    pub fn bulk_int(&mut self, n: i64) {
        let mut b = [0u8; 20];
        let digits = fmt_i64(n, &mut b);
        let len = digits.len();
        self.len_head(b'$', len);
        let mut b = [0u8; 20];
        self.out.extend_from_slice(fmt_i64(n, &mut b));
        self.out.extend_from_slice(b"\r\n");
    }

    /// A stream ID `<ms>-<seq>` as a bulk string, formatted on the stack.
    pub fn bulk_id(&mut self, ms: u64, seq: u64) {
        let mut a = [0u8; 20];
        let mut b = [0u8; 20];
        let ms = fmt_u64(ms, &mut a);
        let seq = fmt_u64(seq, &mut b);
        self.len_head(b'$', ms.len() + 1 + seq.len());
        self.out.extend_from_slice(ms);
        self.out.push(b'-');
        self.out.extend_from_slice(seq);
        self.out.extend_from_slice(b"\r\n");
    }

    /// A missing value: `$-1` in RESP2, `_` in RESP3.
    pub fn null(&mut self) {
        self.out
            .extend_from_slice(if self.resp3() { b"_\r\n" } else { b"$-1\r\n" });
    }

    /// A missing aggregate: `*-1` in RESP2, `_` in RESP3.
    pub fn null_array(&mut self) {
        self.out
            .extend_from_slice(if self.resp3() { b"_\r\n" } else { b"*-1\r\n" });
    }

    /// The header of an array of `n` elements.
    pub fn array(&mut self, n: usize) {
        self.len_head(b'*', n);
    }

    /// The header of a map of `n` pairs (`%n` in RESP3, `*2n` in RESP2); write
    /// key, value, key, value... after it.
    pub fn map(&mut self, n: usize) {
        if self.resp3() {
            self.len_head(b'%', n);
        } else {
            self.len_head(b'*', n.saturating_mul(2));
        }
    }

    /// The header of a set (`~n` in RESP3, an array in RESP2).
    pub fn set(&mut self, n: usize) {
        self.len_head(if self.resp3() { b'~' } else { b'*' }, n);
    }

    /// A double (`,d` in RESP3, a bulk string in RESP2).
    pub fn double(&mut self, d: f64) {
        if self.resp3() {
            self.out.push(b',');
            write_double(self.out, d);
            self.out.extend_from_slice(b"\r\n");
        } else {
            let mut tmp = Vec::with_capacity(24);
            write_double(&mut tmp, d);
            self.bulk(&tmp);
        }
    }

    /// A boolean (`#t`/`#f` in RESP3, `:1`/`:0` in RESP2).
    pub fn boolean(&mut self, b: bool) {
        if self.resp3() {
            self.out
                .extend_from_slice(if b { b"#t\r\n" } else { b"#f\r\n" });
        } else {
            self.int(i64::from(b));
        }
    }

    /// Free text (`=len txt:...` in RESP3, a bulk string in RESP2), as INFO
    /// and CLIENT LIST reply.
    pub fn verbatim(&mut self, text: &[u8]) {
        if self.resp3() {
            self.len_head(b'=', text.len() + 4);
            self.out.extend_from_slice(b"txt:");
            self.out.extend_from_slice(text);
            self.out.extend_from_slice(b"\r\n");
        } else {
            self.bulk(text);
        }
    }

    /// Appends bytes that are already a complete RESP encoding.
    pub fn raw(&mut self, bytes: &[u8]) {
        self.out.extend_from_slice(bytes);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_integers_as_decimal() {
        let mut b = [0u8; 20];
        for v in [
            0,
            1,
            9,
            10,
            99,
            100,
            101,
            999,
            1000,
            1_700_000_000_123,
            u64::MAX,
        ] {
            assert_eq!(fmt_u64(v, &mut b), v.to_string().as_bytes());
        }
        for n in [0, -1, 7, -10, 12_345, -99_999, i64::MAX, i64::MIN] {
            assert_eq!(fmt_i64(n, &mut b), n.to_string().as_bytes());
        }
    }

    fn both(f: impl Fn(&mut Reply<'_>)) -> (Vec<u8>, Vec<u8>) {
        let mut errs = Vec::new();
        let mut a = Vec::new();
        f(&mut Reply::new(&mut a, Protocol::Resp2, &mut errs));
        let mut b = Vec::new();
        f(&mut Reply::new(&mut b, Protocol::Resp3, &mut errs));
        (a, b)
    }

    #[test]
    fn resp2_and_resp3_shapes() {
        assert_eq!(both(|r| r.null()), (b"$-1\r\n".to_vec(), b"_\r\n".to_vec()));
        assert_eq!(
            both(|r| r.null_array()),
            (b"*-1\r\n".to_vec(), b"_\r\n".to_vec())
        );
        assert_eq!(both(|r| r.map(2)), (b"*4\r\n".to_vec(), b"%2\r\n".to_vec()));
        assert_eq!(
            both(|r| r.double(1.5)),
            (b"$3\r\n1.5\r\n".to_vec(), b",1.5\r\n".to_vec())
        );
        assert_eq!(
            both(|r| r.boolean(true)),
            (b":1\r\n".to_vec(), b"#t\r\n".to_vec())
        );
        assert_eq!(
            both(|r| r.verbatim(b"a")),
            (b"$1\r\na\r\n".to_vec(), b"=5\r\ntxt:a\r\n".to_vec())
        );
        assert_eq!(
            both(|r| r.int(i64::MIN)).0,
            b":-9223372036854775808\r\n".to_vec()
        );
        assert_eq!(both(|r| r.bulk_int(-12)).0, b"$3\r\n-12\r\n".to_vec());
        assert_eq!(
            both(|r| r.bulk_id(u64::MAX, 0)).0,
            b"$22\r\n18446744073709551615-0\r\n".to_vec()
        );
    }

    #[test]
    fn errors_are_one_line_and_counted() {
        let mut errs = Vec::new();
        let mut out = Vec::new();
        Reply::new(&mut out, Protocol::Resp2, &mut errs).error("WRONGTYPE a\r\nb");
        assert_eq!(out, b"-WRONGTYPE a  b\r\n");
        assert_eq!(errs, ["WRONGTYPE"]);
    }
}
