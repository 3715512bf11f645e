//! [`Frame`]: any RESP2 or RESP3 value, read with a no-allocation
//! [`Frame::check`] followed by [`Frame::parse`].
//!
//! This is the general reader (replies, pushes, nested maps), used by clients
//! and tests. The server reads requests with the stricter
//! [`request`](super::request) module instead, whose errors are Redis's.

use std::io::Cursor;

use super::request::string2ll;

/// Nesting deeper than this is refused, so hostile input cannot exhaust the
/// stack of the recursive reader.
pub const MAX_DEPTH: usize = 128;

/// Bulk strings longer than this are refused before anything is allocated
/// (Redis's default `proto-max-bulk-len`).
pub const MAX_BULK_LEN: i64 = 512 * 1024 * 1024;

/// One RESP value.
#[derive(Debug, Clone, PartialEq)]
pub enum Frame {
    /// `+text`
    Simple(Vec<u8>),
    /// `-ERR text` (RESP2) and `!<len>` bulk errors (RESP3).
    Error(Vec<u8>),
    /// `:n`
    Integer(i64),
    /// `$<len>` bulk string.
    Bulk(Vec<u8>),
    /// RESP2 null bulk string `$-1`.
    NullBulk,
    /// RESP2 null array `*-1`.
    NullArray,
    /// RESP3 null `_`.
    Null,
    /// `*<n>`
    Array(Vec<Frame>),
    /// RESP3 `%<n>` map, in wire order.
    Map(Vec<(Frame, Frame)>),
    /// RESP3 `~<n>` set.
    Set(Vec<Frame>),
    /// RESP3 `><n>` push.
    Push(Vec<Frame>),
    /// RESP3 `,` double.
    Double(f64),
    /// RESP3 `#t` / `#f`.
    Boolean(bool),
    /// RESP3 `(` big number, as its digits.
    BigNumber(Vec<u8>),
    /// RESP3 `=<len>` verbatim string: a three-letter format and the text.
    Verbatim {
        /// `txt` or `mkd`.
        format: [u8; 3],
        /// The text after `fmt:`.
        text: Vec<u8>,
    },
}

/// Why a frame could not be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum FrameError {
    /// Not enough bytes yet; read more and try again. Not an error of the peer.
    #[error("incomplete frame")]
    Incomplete,
    /// A type byte that RESP does not define.
    #[error("invalid frame type byte {0:#04x}")]
    InvalidType(u8),
    /// A length or integer that is not a number, or out of range.
    #[error("invalid number in frame")]
    InvalidNumber,
    /// A length above [`MAX_BULK_LEN`] or a negative length where none is allowed.
    #[error("invalid length {0}")]
    InvalidLength(i64),
    /// Nesting deeper than [`MAX_DEPTH`].
    #[error("frame nested deeper than {MAX_DEPTH}")]
    TooDeep,
    /// Payload not followed by `\r\n`, or a malformed boolean/verbatim string.
    #[error("malformed frame")]
    Malformed,
}

fn get_u8(src: &mut Cursor<&[u8]>) -> Result<u8, FrameError> {
    let pos = usize::try_from(src.position()).map_err(|_| FrameError::Incomplete)?;
    let b = *src.get_ref().get(pos).ok_or(FrameError::Incomplete)?;
    src.set_position(src.position() + 1);
    Ok(b)
}

/// The bytes up to the next `\r\n`, advancing past it.
fn line<'a>(src: &mut Cursor<&'a [u8]>) -> Result<&'a [u8], FrameError> {
    let buf: &'a [u8] = src.get_ref();
    let start = usize::try_from(src.position()).map_err(|_| FrameError::Incomplete)?;
    let rest = buf.get(start..).ok_or(FrameError::Incomplete)?;
    let cr = rest
        .windows(2)
        .position(|w| w == b"\r\n")
        .ok_or(FrameError::Incomplete)?;
    src.set_position((start + cr + 2) as u64);
    Ok(&rest[..cr])
}

fn number(src: &mut Cursor<&[u8]>) -> Result<i64, FrameError> {
    string2ll(line(src)?).ok_or(FrameError::InvalidNumber)
}

/// A bulk payload of `len` bytes followed by `\r\n`.
fn payload<'a>(src: &mut Cursor<&'a [u8]>, len: i64) -> Result<&'a [u8], FrameError> {
    if !(0..=MAX_BULK_LEN).contains(&len) {
        return Err(FrameError::InvalidLength(len));
    }
    let buf: &'a [u8] = src.get_ref();
    let start = usize::try_from(src.position()).map_err(|_| FrameError::Incomplete)?;
    let len = usize::try_from(len).map_err(|_| FrameError::InvalidLength(len))?;
    let end = start + len;
    if end + 2 > buf.len() {
        return Err(FrameError::Incomplete);
    }
    if &buf[end..end + 2] != b"\r\n" {
        return Err(FrameError::Malformed);
    }
    src.set_position((end + 2) as u64);
    Ok(&buf[start..end])
}

fn count(n: i64) -> Result<usize, FrameError> {
    usize::try_from(n).map_err(|_| FrameError::InvalidLength(n))
}

impl Frame {
    /// Checks that a whole frame is available at the cursor, without
    /// allocating, and advances past it.
    ///
    /// # Errors
    /// [`FrameError::Incomplete`] when more bytes are needed; any other
    /// variant when the bytes can never form a frame.
    pub fn check(src: &mut Cursor<&[u8]>) -> Result<(), FrameError> {
        Self::walk(src, 0, false).map(|_| ())
    }

    /// Parses the frame at the cursor (call [`Frame::check`] first, then
    /// rewind) and advances past it.
    ///
    /// # Errors
    /// As [`Frame::check`].
    pub fn parse(src: &mut Cursor<&[u8]>) -> Result<Frame, FrameError> {
        Self::walk(src, 0, true).map(|f| f.unwrap_or(Frame::Null))
    }

    fn aggregate(
        src: &mut Cursor<&[u8]>,
        n: usize,
        depth: usize,
        build: bool,
    ) -> Result<Option<Vec<Frame>>, FrameError> {
        // Never trust the announced count for the allocation.
        let mut items = if build {
            Some(Vec::with_capacity(n.min(1024)))
        } else {
            None
        };
        for _ in 0..n {
            let f = Self::walk(src, depth + 1, build)?;
            if let (Some(items), Some(f)) = (items.as_mut(), f) {
                items.push(f);
            }
        }
        Ok(items)
    }

    fn walk(
        src: &mut Cursor<&[u8]>,
        depth: usize,
        build: bool,
    ) -> Result<Option<Frame>, FrameError> {
        if depth > MAX_DEPTH {
            return Err(FrameError::TooDeep);
        }
        let tag = get_u8(src)?;
        let frame = match tag {
            b'+' => {
                let l = line(src)?;
                build.then(|| Frame::Simple(l.to_vec()))
            }
            b'-' => {
                let l = line(src)?;
                build.then(|| Frame::Error(l.to_vec()))
            }
            b':' => {
                let n = number(src)?;
                Some(Frame::Integer(n))
            }
            b'(' => {
                let l = line(src)?;
                let digits = l.strip_prefix(b"-").unwrap_or(l);
                if digits.is_empty() || !digits.iter().all(u8::is_ascii_digit) {
                    return Err(FrameError::InvalidNumber);
                }
                build.then(|| Frame::BigNumber(l.to_vec()))
            }
            b',' => {
                let l = line(src)?;
                let s = std::str::from_utf8(l).map_err(|_| FrameError::InvalidNumber)?;
                let d = match s {
                    "inf" => f64::INFINITY,
                    "-inf" => f64::NEG_INFINITY,
                    "nan" => f64::NAN,
                    _ => s.parse::<f64>().map_err(|_| FrameError::InvalidNumber)?,
                };
                Some(Frame::Double(d))
            }
            b'#' => match line(src)? {
                b"t" => Some(Frame::Boolean(true)),
                b"f" => Some(Frame::Boolean(false)),
                _ => return Err(FrameError::Malformed),
            },
            b'_' => {
                if !line(src)?.is_empty() {
                    return Err(FrameError::Malformed);
                }
                Some(Frame::Null)
            }
            b'$' | b'!' | b'=' => {
                let len = number(src)?;
                if len == -1 && tag == b'$' {
                    return Ok(Some(Frame::NullBulk));
                }
                let data = payload(src, len)?;
                match tag {
                    b'$' => build.then(|| Frame::Bulk(data.to_vec())),
                    b'!' => build.then(|| Frame::Error(data.to_vec())),
                    _ => {
                        if data.len() < 4 || data[3] != b':' {
                            return Err(FrameError::Malformed);
                        }
                        build.then(|| Frame::Verbatim {
                            format: [data[0], data[1], data[2]],
                            text: data[4..].to_vec(),
                        })
                    }
                }
            }
            b'*' | b'~' | b'>' => {
                let n = number(src)?;
                if n == -1 && tag == b'*' {
                    return Ok(Some(Frame::NullArray));
                }
                let items = Self::aggregate(src, count(n)?, depth, build)?;
                items.map(|v| match tag {
                    b'*' => Frame::Array(v),
                    b'~' => Frame::Set(v),
                    _ => Frame::Push(v),
                })
            }
            b'%' | b'|' => {
                let n = count(number(src)?)?;
                let flat = Self::aggregate(
                    src,
                    n.checked_mul(2).ok_or(FrameError::InvalidLength(-1))?,
                    depth,
                    build,
                )?;
                if tag == b'|' {
                    // An attribute map annotates the frame that follows it.
                    return Self::walk(src, depth, build);
                }
                flat.map(|v| {
                    let mut it = v.into_iter();
                    let mut pairs = Vec::with_capacity(n.min(1024));
                    while let (Some(k), Some(v)) = (it.next(), it.next()) {
                        pairs.push((k, v));
                    }
                    Frame::Map(pairs)
                })
            }
            other => return Err(FrameError::InvalidType(other)),
        };
        Ok(frame)
    }

    /// Appends this frame's wire form to `out`.
    pub fn encode(&self, out: &mut Vec<u8>) {
        fn head(out: &mut Vec<u8>, tag: u8, n: usize) {
            out.push(tag);
            out.extend_from_slice(n.to_string().as_bytes());
            out.extend_from_slice(b"\r\n");
        }
        match self {
            Frame::Simple(s) => {
                out.push(b'+');
                out.extend_from_slice(s);
                out.extend_from_slice(b"\r\n");
            }
            Frame::Error(s) => {
                out.push(b'-');
                out.extend_from_slice(s);
                out.extend_from_slice(b"\r\n");
            }
            Frame::Integer(n) => {
                out.push(b':');
                out.extend_from_slice(n.to_string().as_bytes());
                out.extend_from_slice(b"\r\n");
            }
            Frame::Bulk(b) => {
                head(out, b'$', b.len());
                out.extend_from_slice(b);
                out.extend_from_slice(b"\r\n");
            }
            Frame::NullBulk => out.extend_from_slice(b"$-1\r\n"),
            Frame::NullArray => out.extend_from_slice(b"*-1\r\n"),
            Frame::Null => out.extend_from_slice(b"_\r\n"),
            Frame::Array(v) | Frame::Set(v) | Frame::Push(v) => {
                let tag = match self {
                    Frame::Array(_) => b'*',
                    Frame::Set(_) => b'~',
                    _ => b'>',
                };
                head(out, tag, v.len());
                for f in v {
                    f.encode(out);
                }
            }
            Frame::Map(pairs) => {
                head(out, b'%', pairs.len());
                for (k, v) in pairs {
                    k.encode(out);
                    v.encode(out);
                }
            }
            Frame::Double(d) => {
                out.push(b',');
                super::encode::write_double(out, *d);
                out.extend_from_slice(b"\r\n");
            }
            Frame::Boolean(b) => out.extend_from_slice(if *b { b"#t\r\n" } else { b"#f\r\n" }),
            Frame::BigNumber(d) => {
                out.push(b'(');
                out.extend_from_slice(d);
                out.extend_from_slice(b"\r\n");
            }
            Frame::Verbatim { format, text } => {
                head(out, b'=', text.len() + 4);
                out.extend_from_slice(format);
                out.push(b':');
                out.extend_from_slice(text);
                out.extend_from_slice(b"\r\n");
            }
        }
    }

    /// Encodes a command as a multibulk request.
    pub fn command<I, A>(args: I) -> Vec<u8>
    where
        I: IntoIterator<Item = A>,
        A: AsRef<[u8]>,
    {
        let f = Frame::Array(
            args.into_iter()
                .map(|a| Frame::Bulk(a.as_ref().to_vec()))
                .collect(),
        );
        let mut out = Vec::new();
        f.encode(&mut out);
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn read(buf: &[u8]) -> Result<(Frame, usize), FrameError> {
        let mut c = Cursor::new(buf);
        Frame::check(&mut c)?;
        let end = c.position() as usize;
        c.set_position(0);
        let f = Frame::parse(&mut c)?;
        assert_eq!(c.position() as usize, end);
        Ok((f, end))
    }

    #[test]
    fn round_trip_all_types() {
        let f = Frame::Array(vec![
            Frame::Simple(b"OK".to_vec()),
            Frame::Error(b"ERR x".to_vec()),
            Frame::Integer(-42),
            Frame::Bulk(b"a\r\nb".to_vec()),
            Frame::NullBulk,
            Frame::NullArray,
            Frame::Null,
            Frame::Map(vec![(Frame::Bulk(b"k".to_vec()), Frame::Double(1.5))]),
            Frame::Set(vec![Frame::Boolean(true), Frame::Boolean(false)]),
            Frame::Push(vec![Frame::BigNumber(
                b"-123456789012345678901234567890".to_vec(),
            )]),
            Frame::Verbatim {
                format: *b"txt",
                text: b"hello".to_vec(),
            },
        ]);
        let mut out = Vec::new();
        f.encode(&mut out);
        let (back, n) = read(&out).unwrap();
        assert_eq!(back, f);
        assert_eq!(n, out.len());
        for cut in 0..out.len() {
            assert_eq!(read(&out[..cut]), Err(FrameError::Incomplete), "cut {cut}");
        }
    }

    #[test]
    fn bad_input_is_an_error_not_a_panic() {
        assert_eq!(read(b"?x\r\n"), Err(FrameError::InvalidType(b'?')));
        assert_eq!(read(b"$5\r\nab\r\nxyz"), Err(FrameError::Malformed));
        assert_eq!(read(b"$-2\r\n"), Err(FrameError::InvalidLength(-2)));
        assert_eq!(read(b":12a\r\n"), Err(FrameError::InvalidNumber));
        let deep = "*1\r\n".repeat(MAX_DEPTH + 2);
        assert_eq!(read(deep.as_bytes()), Err(FrameError::TooDeep));
    }

    #[test]
    fn attributes_are_skipped() {
        let (f, _) = read(b"|1\r\n+a\r\n+b\r\n:7\r\n").unwrap();
        assert_eq!(f, Frame::Integer(7));
    }
}
