//! RESP2, just enough for a load generator: encode commands, decode replies, and a
//! connection that pipelines commands and reads replies one at a time.
//!
//! It does not speak RESP3 beyond reading its null (`_`), and it does not pool or
//! reconnect: a failed connection fails the load.

use anyhow::{Context, Result, bail, ensure};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// One decoded reply. Simple strings and bulk strings are both `Bulk`.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Reply {
    Bulk(Vec<u8>),
    Error(String),
    Int(i64),
    Nil,
    Array(Vec<Reply>),
}

impl Reply {
    pub(crate) fn display(&self) -> String {
        match self {
            Reply::Bulk(b) => String::from_utf8_lossy(b).into_owned(),
            Reply::Error(e) => format!("(error) {e}"),
            Reply::Int(i) => i.to_string(),
            Reply::Nil => "(nil)".to_string(),
            Reply::Array(items) => items
                .iter()
                .map(Reply::display)
                .collect::<Vec<_>>()
                .join("\n"),
        }
    }

    pub(crate) fn is_bulk(&self) -> bool {
        matches!(self, Reply::Bulk(_))
    }
}

/// Appends the RESP encoding of one command to `out`.
pub(crate) fn encode_into(out: &mut Vec<u8>, args: &[&[u8]]) {
    out.extend_from_slice(format!("*{}\r\n", args.len()).as_bytes());
    for arg in args {
        out.extend_from_slice(format!("${}\r\n", arg.len()).as_bytes());
        out.extend_from_slice(arg);
        out.extend_from_slice(b"\r\n");
    }
}

pub(crate) fn encode(args: &[&[u8]]) -> Vec<u8> {
    let mut out = Vec::new();
    encode_into(&mut out, args);
    out
}

/// Decodes one reply from the front of `buf`: `Ok(None)` if it is not complete yet,
/// otherwise the reply and the number of bytes it took.
pub(crate) fn decode(buf: &[u8]) -> Result<Option<(Reply, usize)>> {
    let Some(end) = buf.windows(2).position(|w| w == b"\r\n") else {
        return Ok(None);
    };
    let Some((&kind, line)) = buf[..end].split_first() else {
        bail!("empty reply line");
    };
    let line = std::str::from_utf8(line).context("reply line is not UTF-8")?;
    let after = end + 2;
    let number = || {
        line.parse::<i64>()
            .with_context(|| format!("bad length {line:?}"))
    };
    Ok(Some(match kind {
        b'+' => (Reply::Bulk(line.as_bytes().to_vec()), after),
        b'-' => (Reply::Error(line.to_string()), after),
        b':' => (Reply::Int(number()?), after),
        b'_' => (Reply::Nil, after),
        b'$' => {
            let len = number()?;
            if len < 0 {
                return Ok(Some((Reply::Nil, after)));
            }
            let len = usize::try_from(len)?;
            if buf.len() < after + len + 2 {
                return Ok(None);
            }
            (
                Reply::Bulk(buf[after..after + len].to_vec()),
                after + len + 2,
            )
        }
        b'*' => {
            let len = number()?;
            if len < 0 {
                return Ok(Some((Reply::Nil, after)));
            }
            let mut items = Vec::with_capacity(usize::try_from(len)?.min(1024));
            let mut at = after;
            for _ in 0..len {
                let Some((item, used)) = decode(&buf[at..])? else {
                    return Ok(None);
                };
                items.push(item);
                at += used;
            }
            (Reply::Array(items), at)
        }
        other => bail!("unexpected reply type byte {other:#04x}"),
    }))
}

/// What a closed-loop load checks of a reply, without building it: its type, an
/// integer's value, an error's text, an array's length. Nested elements are checked to
/// be well formed and skipped, so a reply of many elements costs no allocation.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Shape {
    Bulk,
    Error(String),
    Int(i64),
    Nil,
    Array(usize),
}

/// The end of the `\r\n`-terminated line starting at `at`, if it has arrived.
fn line_end(buf: &[u8], at: usize) -> Option<usize> {
    let mut from = at;
    loop {
        let cr = from + buf.get(from..)?.iter().position(|&b| b == b'\r')?;
        match buf.get(cr + 1) {
            Some(b'\n') => return Some(cr),
            Some(_) => from = cr + 1,
            None => return None,
        }
    }
}

fn parse_len(line: &[u8]) -> Result<i64> {
    std::str::from_utf8(line)
        .ok()
        .and_then(|l| l.parse::<i64>().ok())
        .with_context(|| format!("bad length {:?}", String::from_utf8_lossy(line)))
}

/// Like [`decode`], but returns only the reply's [`Shape`]; `Ok(None)` if incomplete.
pub(crate) fn skim(buf: &[u8]) -> Result<Option<(Shape, usize)>> {
    // Elements still to skip, innermost array last; the top-level reply is one.
    let mut left: Vec<i64> = Vec::new();
    let mut top: Option<Shape> = None;
    let mut at = 0;
    loop {
        let Some(end) = line_end(buf, at) else {
            return Ok(None);
        };
        let Some(&kind) = buf.get(at) else {
            return Ok(None);
        };
        let line = &buf[at + 1..end];
        let mut next = end + 2;
        let (shape, children) = match kind {
            b'+' => (Shape::Bulk, 0),
            b'-' => (Shape::Error(String::from_utf8_lossy(line).into_owned()), 0),
            b':' => (Shape::Int(parse_len(line)?), 0),
            b'_' => (Shape::Nil, 0),
            b'$' => match parse_len(line)? {
                n if n < 0 => (Shape::Nil, 0),
                n => {
                    next += usize::try_from(n)? + 2;
                    if buf.len() < next {
                        return Ok(None);
                    }
                    (Shape::Bulk, 0)
                }
            },
            b'*' => match parse_len(line)? {
                n if n < 0 => (Shape::Nil, 0),
                n => (Shape::Array(usize::try_from(n)?), n),
            },
            other => bail!("unexpected reply type byte {other:#04x}"),
        };
        at = next;
        if top.is_none() {
            top = Some(shape);
        } else if let Some(n) = left.last_mut() {
            *n -= 1;
        }
        if children > 0 {
            left.push(children);
        }
        while left.last() == Some(&0) {
            left.pop();
        }
        if left.is_empty() {
            return Ok(top.map(|t| (t, at)));
        }
    }
}

/// A reply decoder: the reply (or `None` when not all of it has arrived)
/// and the bytes it used.
type Parser<T> = fn(&[u8]) -> Result<Option<(T, usize)>>;

/// A client connection: a socket and a read buffer of not yet decoded bytes.
#[derive(Debug)]
pub(crate) struct Conn {
    sock: TcpStream,
    buf: Vec<u8>,
    start: usize,
}

impl Conn {
    pub(crate) async fn connect(addr: &str) -> Result<Conn> {
        let sock = TcpStream::connect(addr)
            .await
            .with_context(|| format!("connect {addr}"))?;
        sock.set_nodelay(true)?;
        Ok(Conn {
            sock,
            buf: Vec::with_capacity(64 * 1024),
            start: 0,
        })
    }

    pub(crate) async fn send(&mut self, bytes: &[u8]) -> Result<()> {
        self.sock.write_all(bytes).await.context("write to server")
    }

    pub(crate) async fn read(&mut self) -> Result<Reply> {
        self.next(decode).await
    }

    /// Decodes the next reply with `parse` (a whole reply or `None` for
    /// "not all here yet", and the bytes it used), reading more as needed.
    async fn next<T>(&mut self, parse: Parser<T>) -> Result<T> {
        loop {
            if let Some((reply, used)) = parse(&self.buf[self.start..])? {
                self.start += used;
                if self.start == self.buf.len() {
                    self.buf.clear();
                    self.start = 0;
                }
                return Ok(reply);
            }
            self.fill().await?;
        }
    }

    /// Reads more bytes from the socket after what is buffered.
    async fn fill(&mut self) -> Result<()> {
        if self.start > 0 {
            self.buf.drain(..self.start);
            self.start = 0;
        }
        if self.buf.capacity() - self.buf.len() < 16 * 1024 {
            self.buf.reserve(64 * 1024);
        }
        let n = self
            .sock
            .read_buf(&mut self.buf)
            .await
            .context("read from server")?;
        ensure!(n > 0, "server closed the connection");
        Ok(())
    }

    /// Reads one reply and returns only its [`Shape`] (see [`skim`]).
    pub(crate) async fn read_shape(&mut self) -> Result<Shape> {
        self.next(skim).await
    }

    pub(crate) async fn call(&mut self, args: &[&[u8]]) -> Result<Reply> {
        self.send(&encode(args)).await?;
        self.read().await
    }
}

/// The IDs in an XREADGROUP/XREAD reply (`[[key, [[id, fields]...]]...]`).
pub(crate) fn reply_ids(reply: &Reply) -> Result<Vec<Vec<u8>>> {
    let mut ids = Vec::new();
    match reply {
        Reply::Nil => {}
        Reply::Array(streams) => {
            for stream in streams {
                let Reply::Array(kv) = stream else {
                    bail!("bad stream reply {stream:?}")
                };
                let Some(Reply::Array(entries)) = kv.get(1) else {
                    bail!("bad stream reply {kv:?}")
                };
                for entry in entries {
                    match entry {
                        Reply::Array(e) => match e.first() {
                            Some(Reply::Bulk(id)) => ids.push(id.clone()),
                            _ => bail!("bad entry {e:?}"),
                        },
                        _ => bail!("bad entry {entry:?}"),
                    }
                }
            }
        }
        other => bail!("read replied {other:?}"),
    }
    Ok(ids)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn encodes_a_command_as_an_array_of_bulk_strings() {
        assert_eq!(encode(&[b"XLEN", b"s"]), b"*2\r\n$4\r\nXLEN\r\n$1\r\ns\r\n");
    }

    #[test]
    fn decodes_every_reply_type() -> Result<()> {
        let cases: [(&[u8], Reply); 7] = [
            (b"+PONG\r\n", Reply::Bulk(b"PONG".to_vec())),
            (b"-ERR no\r\n", Reply::Error("ERR no".to_string())),
            (b":-12\r\n", Reply::Int(-12)),
            (b"$-1\r\n", Reply::Nil),
            (b"*-1\r\n", Reply::Nil),
            (b"_\r\n", Reply::Nil),
            (b"$4\r\na\r\nb\r\n", Reply::Bulk(b"a\r\nb".to_vec())),
        ];
        for (bytes, want) in cases {
            assert_eq!(decode(bytes)?, Some((want, bytes.len())));
        }
        Ok(())
    }

    #[test]
    fn waits_for_the_rest_of_a_split_reply() -> Result<()> {
        let whole = b"*2\r\n*2\r\n$3\r\n1-0\r\n*0\r\n:7\r\n";
        for cut in 0..whole.len() {
            assert_eq!(decode(&whole[..cut])?, None, "cut at {cut}");
        }
        let (reply, used) = decode(whole)?.ok_or_else(|| anyhow::anyhow!("incomplete"))?;
        assert_eq!(used, whole.len());
        assert_eq!(
            reply,
            Reply::Array(vec![
                Reply::Array(vec![Reply::Bulk(b"1-0".to_vec()), Reply::Array(vec![])]),
                Reply::Int(7),
            ])
        );
        Ok(())
    }

    #[test]
    fn skims_what_decode_decodes() -> Result<()> {
        let shape = |r: &Reply| match r {
            Reply::Bulk(_) => Shape::Bulk,
            Reply::Error(e) => Shape::Error(e.clone()),
            Reply::Int(i) => Shape::Int(*i),
            Reply::Nil => Shape::Nil,
            Reply::Array(items) => Shape::Array(items.len()),
        };
        let cases: [&[u8]; 9] = [
            b"+PONG\r\n",
            b"-ERR no\r\n",
            b":-12\r\n",
            b"$-1\r\n",
            b"*-1\r\n",
            b"$4\r\na\r\nb\r\n",
            b"*0\r\n",
            b"*2\r\n*2\r\n$3\r\n1-0\r\n*0\r\n:7\r\n",
            b"*2\r\n*2\r\n$3\r\n1-0\r\n*2\r\n$1\r\na\r\n$1\r\n1\r\n*-1\r\n",
        ];
        for whole in cases {
            let mut followed = whole.to_vec();
            followed.extend_from_slice(b":1\r\n");
            let (reply, used) = decode(&followed)?.ok_or_else(|| anyhow::anyhow!("incomplete"))?;
            assert_eq!(skim(&followed)?, Some((shape(&reply), used)), "{whole:?}");
            for cut in 0..whole.len() {
                assert_eq!(skim(&whole[..cut])?, None, "{whole:?} cut at {cut}");
            }
        }
        assert!(skim(b"?x\r\n").is_err());
        assert!(skim(b"*x\r\n").is_err());
        Ok(())
    }

    #[test]
    fn rejects_an_unknown_type_byte_and_a_bad_length() {
        assert!(decode(b"?x\r\n").is_err());
        assert!(decode(b"$x\r\n").is_err());
    }

    #[test]
    fn extracts_ids_from_a_stream_read_reply() -> Result<()> {
        let entry = |id: &[u8]| Reply::Array(vec![Reply::Bulk(id.to_vec()), Reply::Array(vec![])]);
        let reply = Reply::Array(vec![Reply::Array(vec![
            Reply::Bulk(b"s".to_vec()),
            Reply::Array(vec![entry(b"1-0"), entry(b"2-0")]),
        ])]);
        assert_eq!(reply_ids(&reply)?, vec![b"1-0".to_vec(), b"2-0".to_vec()]);
        assert!(reply_ids(&Reply::Nil)?.is_empty());
        assert!(reply_ids(&Reply::Int(1)).is_err());
        Ok(())
    }
}
