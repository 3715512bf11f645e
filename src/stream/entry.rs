//! The on-log encoding of stream entries: one `XADD` record holds a run of
//! one or more consecutive entries of one stream, plus the address of the
//! entry that precedes the run inside its block (the back-chain).
//!
//! Also [`Entry`], the zero-copy view of an entry read back from the log.
//! Layout details: `docs/format.md`, "Engine records".

use std::fmt;
use std::ops::Range;

use eddy_wal::RecordRef;

use super::id::StreamId;
use crate::error::Error;
use crate::record::{Cursor, put_bytes, put_varint};

/// Entry flag: the entry starts a new block (a new Redis node).
pub const FLAG_NEW_BLOCK: u8 = 1;
/// Entry flag: an idempotency key (producer id, message id) follows the ID.
pub const FLAG_IDMP: u8 = 2;
const KNOWN_FLAGS: u8 = FLAG_NEW_BLOCK | FLAG_IDMP;

/// Where an entry lives: the WAL position of its record (high 48 bits) and
/// its index inside the record's run (low 16 bits).
#[derive(
    Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize, serde::Deserialize,
)]
pub struct Addr(pub u64);

impl Addr {
    /// Most entries one record may hold.
    pub const MAX_RUN: usize = 1 << 16;
    /// Highest WAL position an address can hold (256 TiB).
    pub const MAX_POS: u64 = (1 << 48) - 1;

    /// The address of entry `idx` of the record at `pos`.
    pub fn new(pos: u64, idx: usize) -> Addr {
        Addr((pos << 16) | (idx as u64 & 0xffff))
    }
    /// WAL position of the record.
    pub fn pos(self) -> u64 {
        self.0 >> 16
    }
    /// Index inside the record's run.
    pub fn idx(self) -> usize {
        (self.0 & 0xffff) as usize
    }
    /// A stand-in for entry `idx` of a record not yet written; replaced by
    /// the real address once the WAL has placed the record.
    pub fn pending(idx: usize) -> Addr {
        Addr::new(Addr::MAX_POS, idx)
    }
    /// Whether this is a stand-in from [`Addr::pending`].
    pub fn is_pending(self) -> bool {
        self.pos() == Addr::MAX_POS
    }
}

impl fmt::Display for Addr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}#{}", self.pos(), self.idx())
    }
}

/// One entry to encode.
#[derive(Debug)]
pub struct NewEntry<'a> {
    /// Its resolved ID.
    pub id: StreamId,
    /// Whether it starts a new block.
    pub new_block: bool,
    /// Idempotency key, if the append carried one.
    pub idmp: Option<(&'a [u8], &'a [u8])>,
    /// Field/value pairs in order.
    pub fields: &'a [(&'a [u8], &'a [u8])],
}

/// Encodes an XADD run record payload.
pub fn encode_run(key: &[u8], prev: Option<Addr>, entries: &[NewEntry<'_>], out: &mut Vec<u8>) {
    put_bytes(out, key);
    put_varint(out, prev.map_or(0, |a| a.0 + 1));
    put_varint(out, entries.len() as u64);
    let mut last_ms = 0;
    for e in entries {
        let mut flags = 0;
        if e.new_block {
            flags |= FLAG_NEW_BLOCK;
        }
        if e.idmp.is_some() {
            flags |= FLAG_IDMP;
        }
        out.push(flags);
        // IDs only grow inside a run, so the milliseconds are stored as a
        // delta from the previous entry (the first from 0).
        put_varint(out, e.id.ms - last_ms);
        put_varint(out, e.id.seq);
        last_ms = e.id.ms;
        if let Some((pid, iid)) = e.idmp {
            put_bytes(out, pid);
            put_bytes(out, iid);
        }
        put_varint(out, e.fields.len() as u64);
        for (f, v) in e.fields {
            put_bytes(out, f);
            put_bytes(out, v);
        }
    }
}

fn varint_len(v: u64) -> u64 {
    u64::from((64 - v.leading_zeros()).max(1).div_ceil(7))
}

fn bytes_len(b: &[u8]) -> u64 {
    varint_len(b.len() as u64) + b.len() as u64
}

/// Bytes of a run record's header (key, prev, count): the offset of its
/// first entry.
pub fn header_len(key: &[u8], prev: Option<Addr>, n: usize) -> u64 {
    bytes_len(key) + varint_len(prev.map_or(0, |a| a.0 + 1)) + varint_len(n as u64)
}

/// Encoded size of one entry inside a run, `prev_ms` being the previous
/// entry's milliseconds in the run (0 for the first). Equals
/// [`RunEntry::size`] of the decoded entry.
pub fn encoded_size(e: &NewEntry<'_>, prev_ms: u64) -> u64 {
    let mut n = 1 + varint_len(e.id.ms - prev_ms) + varint_len(e.id.seq);
    if let Some((pid, iid)) = e.idmp {
        n += bytes_len(pid) + bytes_len(iid);
    }
    n += varint_len(e.fields.len() as u64);
    for (f, v) in e.fields {
        n += bytes_len(f) + bytes_len(v);
    }
    n
}

/// The header of an XADD run record.
#[derive(Debug)]
pub struct RunHeader<'a> {
    /// Stream key.
    pub key: &'a [u8],
    /// Entry preceding the run in its block, if the run does not start one.
    pub prev: Option<Addr>,
    /// Number of entries in the run.
    pub count: usize,
}

/// One decoded entry of a run; `fields` is the byte span of its field/value
/// pairs inside the payload.
#[derive(Debug, Clone)]
pub struct RunEntry<'a> {
    /// The entry ID.
    pub id: StreamId,
    /// Entry flags (`FLAG_*`).
    pub flags: u8,
    /// Idempotency key.
    pub idmp: Option<(&'a [u8], &'a [u8])>,
    /// Span of the field/value pairs in the payload.
    pub fields: Range<usize>,
    /// Byte offset of the entry in the payload.
    pub start: usize,
    /// Encoded size of the entry in bytes (used for MAXSIZE accounting).
    pub size: u64,
    /// Number of field/value pairs.
    pub pairs: usize,
}

/// Iterates a run record's entries in order.
#[derive(Debug)]
pub struct RunReader<'a> {
    payload: &'a [u8],
    cur: Cursor<'a>,
    left: usize,
    last_ms: u64,
    /// When resuming mid-run: the milliseconds of the first entry read,
    /// known from the index (its stored delta is relative to an entry the
    /// reader skipped).
    first_ms: Option<u64>,
}

impl<'a> RunReader<'a> {
    /// Parses the header of an XADD run payload.
    pub fn new(payload: &'a [u8]) -> Result<(RunHeader<'a>, RunReader<'a>), Error> {
        let mut cur = Cursor::new(payload);
        let key = cur.bytes()?;
        let prev = match cur.varint()? {
            0 => None,
            n => Some(Addr(n - 1)),
        };
        let count = cur.len_prefix(Addr::MAX_RUN)?;
        let header = RunHeader { key, prev, count };
        Ok((
            header,
            RunReader {
                payload,
                cur,
                left: count,
                last_ms: 0,
                first_ms: None,
            },
        ))
    }

    /// Reads `left` entries starting with the one at byte `offset` of the
    /// payload, whose ID milliseconds are `ms`.
    pub fn resume(payload: &'a [u8], offset: usize, ms: u64, left: usize) -> RunReader<'a> {
        RunReader {
            payload,
            cur: Cursor::at(payload, offset),
            left,
            last_ms: 0,
            first_ms: Some(ms),
        }
    }

    /// The next entry, or `None` after the last one.
    pub fn next_entry(&mut self) -> Result<Option<RunEntry<'a>>, Error> {
        if self.left == 0 {
            return Ok(None);
        }
        self.left -= 1;
        let start = self.cur.offset();
        let flags = self.cur.u8()?;
        if flags & !KNOWN_FLAGS != 0 {
            return Err(Error::corrupt("unknown entry flags"));
        }
        let delta = self.cur.varint()?;
        let ms = match self.first_ms.take() {
            Some(ms) => ms,
            None => self
                .last_ms
                .checked_add(delta)
                .ok_or_else(|| Error::corrupt("entry ID overflow"))?,
        };
        let seq = self.cur.varint()?;
        self.last_ms = ms;
        let idmp = if flags & FLAG_IDMP != 0 {
            Some((self.cur.bytes()?, self.cur.bytes()?))
        } else {
            None
        };
        let n = self.cur.len_prefix(self.payload.len())?;
        let fstart = self.cur.offset();
        for _ in 0..n {
            self.cur.bytes()?;
            self.cur.bytes()?;
        }
        let end = self.cur.offset();
        Ok(Some(RunEntry {
            id: StreamId::new(ms, seq),
            flags,
            idmp,
            fields: fstart..end,
            start,
            size: (end - start) as u64,
            pairs: n,
        }))
    }
}

/// Iterates `(field, value)` pairs of an encoded span.
#[derive(Debug, Clone)]
pub struct Fields<'a> {
    cur: Cursor<'a>,
}

impl<'a> Fields<'a> {
    /// Pairs encoded in `span` (a span produced by [`RunReader`]).
    pub fn new(span: &'a [u8]) -> Fields<'a> {
        Fields {
            cur: Cursor::new(span),
        }
    }
}

impl<'a> Iterator for Fields<'a> {
    type Item = (&'a [u8], &'a [u8]);

    fn next(&mut self) -> Option<Self::Item> {
        if self.cur.is_empty() {
            return None;
        }
        // Spans were fully parsed by `RunReader`, so this cannot fail; stop
        // quietly if it ever does rather than panic.
        let f = self.cur.bytes().ok()?;
        let v = self.cur.bytes().ok()?;
        Some((f, v))
    }
}

/// An entry read back from the log, borrowing its bytes from the memory map
/// (it keeps the segment mapped while alive).
#[derive(Clone)]
pub struct Entry {
    id: StreamId,
    record: RecordRef,
    span: (u32, u32),
    /// Field/value pairs, when the reader knew them (`u32::MAX`: count).
    pairs: u32,
}

impl Entry {
    pub(crate) fn new(id: StreamId, record: RecordRef, span: Range<usize>) -> Entry {
        // Record payloads are bounded by the WAL's MAX_RECORD_LEN (< 4 GiB).
        Entry {
            id,
            record,
            span: (span.start as u32, span.end as u32),
            pairs: u32::MAX,
        }
    }

    /// An entry whose number of pairs the reader already counted.
    pub(crate) fn with_pairs(
        id: StreamId,
        record: RecordRef,
        span: Range<usize>,
        pairs: usize,
    ) -> Entry {
        let mut e = Entry::new(id, record, span);
        e.pairs = u32::try_from(pairs).unwrap_or(u32::MAX);
        e
    }

    /// The entry ID.
    pub fn id(&self) -> StreamId {
        self.id
    }

    /// The field/value pairs, in the order they were added.
    pub fn fields(&self) -> Fields<'_> {
        Fields::new(self.raw_fields())
    }

    /// Number of field/value pairs.
    pub fn len(&self) -> usize {
        match self.pairs {
            u32::MAX => self.fields().count(),
            n => n as usize,
        }
    }

    /// The field/value bytes as they are encoded in the log (each field
    /// and value a varint length and the bytes), for writers that walk
    /// them once.
    pub fn raw_fields(&self) -> &[u8] {
        self.record
            .payload()
            .get(self.span.0 as usize..self.span.1 as usize)
            .unwrap_or(&[])
    }

    /// Whether the entry has no fields (never true for entries XADD wrote).
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The pairs as owned vectors.
    pub fn to_vec(&self) -> Vec<(Vec<u8>, Vec<u8>)> {
        self.fields()
            .map(|(f, v)| (f.to_vec(), v.to_vec()))
            .collect()
    }
}

impl fmt::Debug for Entry {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let pairs: Vec<_> = self
            .fields()
            .map(|(k, v)| (String::from_utf8_lossy(k), String::from_utf8_lossy(v)))
            .collect();
        f.debug_struct("Entry")
            .field("id", &self.id)
            .field("fields", &pairs)
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn run_round_trips() -> Result<(), Error> {
        let f1: [(&[u8], &[u8]); 2] = [(b"a", b"1"), (b"bb", b"")];
        let f2: [(&[u8], &[u8]); 1] = [(b"x", b"yyyy")];
        let entries = [
            NewEntry {
                id: StreamId::new(1700, 0),
                new_block: true,
                idmp: None,
                fields: &f1,
            },
            NewEntry {
                id: StreamId::new(1702, 9),
                new_block: false,
                idmp: Some((b"p", b"m1")),
                fields: &f2,
            },
        ];
        let mut buf = Vec::new();
        encode_run(b"key", Some(Addr::new(77, 3)), &entries, &mut buf);
        let (h, mut r) = RunReader::new(&buf)?;
        let sizes = [
            encoded_size(&entries[0], 0),
            encoded_size(&entries[1], 1700),
        ];
        assert_eq!(h.key, b"key");
        assert_eq!(h.prev, Some(Addr::new(77, 3)));
        assert_eq!(h.count, 2);
        let e = r.next_entry()?.ok_or(Error::corrupt("missing"))?;
        assert_eq!(e.id, StreamId::new(1700, 0));
        assert_eq!(e.flags, FLAG_NEW_BLOCK);
        assert_eq!(e.size, sizes[0]);
        assert_eq!(
            Fields::new(&buf[e.fields.clone()]).collect::<Vec<_>>(),
            f1.to_vec()
        );
        let e = r.next_entry()?.ok_or(Error::corrupt("missing"))?;
        assert_eq!(e.id, StreamId::new(1702, 9));
        assert_eq!(e.idmp, Some((&b"p"[..], &b"m1"[..])));
        assert_eq!(e.size, sizes[1]);
        assert_eq!(
            Fields::new(&buf[e.fields.clone()]).collect::<Vec<_>>(),
            f2.to_vec()
        );
        assert!(r.next_entry()?.is_none());
        // Resuming at the second entry needs its ms from the index.
        let off = header_len(b"key", Some(Addr::new(77, 3)), 2) + sizes[0];
        let mut r = RunReader::resume(&buf, off as usize, 1702, 1);
        let e = r.next_entry()?.ok_or(Error::corrupt("missing"))?;
        assert_eq!(e.id, StreamId::new(1702, 9));
        assert!(r.next_entry()?.is_none());
        Ok(())
    }

    /// The example in docs/format.md, byte for byte.
    #[test]
    fn golden_bytes_match_the_format_doc() {
        let f: [(&[u8], &[u8]); 1] = [(b"a", b"1")];
        let e = NewEntry {
            id: StreamId::new(1_700_000_000_000, 0),
            new_block: true,
            idmp: None,
            fields: &f,
        };
        let mut buf = Vec::new();
        encode_run(b"s", None, &[e], &mut buf);
        let want = [
            0x01, 0x73, 0x00, 0x01, 0x01, 0x80, 0xd0, 0x95, 0xff, 0xbc, 0x31, 0x00, 0x01, 0x01,
            0x61, 0x01, 0x31,
        ];
        assert_eq!(buf, want);
    }

    #[test]
    fn truncated_runs_are_errors_not_panics() {
        let f: [(&[u8], &[u8]); 1] = [(b"field", b"value")];
        let entries = [NewEntry {
            id: StreamId::new(5, 5),
            new_block: true,
            idmp: None,
            fields: &f,
        }];
        let mut buf = Vec::new();
        encode_run(b"k", None, &entries, &mut buf);
        for cut in 0..buf.len() {
            let res = RunReader::new(&buf[..cut]).and_then(|(_, mut r)| r.next_entry());
            assert!(res.is_err(), "cut at {cut} accepted");
        }
    }

    #[test]
    fn addresses_pack_position_and_index() {
        let a = Addr::new(123_456, 65_535);
        assert_eq!((a.pos(), a.idx()), (123_456, 65_535));
        assert!(Addr::pending(3).is_pending());
        assert!(!a.is_pending());
    }
}
