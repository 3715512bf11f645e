//! Engine records: the WAL record kinds the engine writes and their
//! payloads. Each record describes the *effect* of an operation (resolved
//! IDs, the blocks a trim dropped...), so replaying it never depends on the
//! clock or on configuration that may have changed since.
//!
//! XADD runs are encoded in `stream::entry`; the rest is here, with the
//! varint helpers they share. Layout: `docs/format.md`, "Engine records".

use crate::error::Error;
use crate::stream::StreamId;

/// WAL record kinds owned by the engine. Kinds 32..=63 are reserved for
/// consumer groups, 64..=95 for views.
pub mod kind {
    /// A run of entries appended to one stream.
    pub const XADD: u8 = 1;
    /// Entries tombstoned by XDEL.
    pub const XDEL: u8 = 2;
    /// The effect of a trim (MAXLEN, MINID, MAXSIZE, MAXAGE).
    pub const TRIM: u8 = 3;
    /// XSETID.
    pub const XSETID: u8 = 4;
    /// Keys deleted.
    pub const DEL: u8 = 5;
    /// Every key deleted.
    pub const FLUSHALL: u8 = 6;
    /// A key renamed (replacing the destination).
    pub const RENAME: u8 = 7;
    /// A stream created: by MKSTREAM, or by an XADD on a missing key (in
    /// the same batch, before the XADD), with its idempotency window.
    pub const CREATE: u8 = 8;
    /// A stream's idempotency window changed (clears its producer maps).
    pub const IDMP_CONFIG: u8 = 9;
}

/// A decoded engine record other than an XADD run.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Record<'a> {
    /// Entries tombstoned by XDEL, each with its encoded size.
    Xdel {
        key: &'a [u8],
        ids: Vec<(StreamId, u64)>,
    },
    /// A trim's effect on a stream.
    Trim { key: &'a [u8], effect: TrimEffect },
    /// XSETID.
    Xsetid {
        key: &'a [u8],
        last_id: StreamId,
        entries_added: Option<u64>,
        max_deleted: Option<StreamId>,
    },
    /// Keys deleted.
    Del { keys: Vec<&'a [u8]> },
    /// Every key deleted.
    FlushAll,
    /// `src` renamed to `dst`.
    Rename { src: &'a [u8], dst: &'a [u8] },
    /// A stream created (empty), with the idempotency window it starts with.
    Create {
        key: &'a [u8],
        duration_s: u64,
        max_size: u64,
    },
    /// Idempotency window (seconds, entries per producer).
    IdmpConfig {
        key: &'a [u8],
        duration_s: u64,
        max_size: u64,
    },
}

/// What a trim did: whole blocks dropped from the head, then entries below
/// `floor` marked deleted inside the new head block.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct TrimEffect {
    /// Blocks removed from the head of the stream.
    pub blocks: u64,
    /// Entries of the (new) head block with a lower ID are now deleted.
    pub floor: Option<StreamId>,
    /// Live entries of the head block that the floor marked deleted.
    pub marked: u64,
    /// Their encoded bytes.
    pub marked_bytes: u64,
}

impl Record<'_> {
    /// The WAL kind of this record.
    pub fn kind(&self) -> u8 {
        match self {
            Record::Xdel { .. } => kind::XDEL,
            Record::Trim { .. } => kind::TRIM,
            Record::Xsetid { .. } => kind::XSETID,
            Record::Del { .. } => kind::DEL,
            Record::FlushAll => kind::FLUSHALL,
            Record::Rename { .. } => kind::RENAME,
            Record::Create { .. } => kind::CREATE,
            Record::IdmpConfig { .. } => kind::IDMP_CONFIG,
        }
    }

    /// Appends the payload to `out`.
    pub fn encode(&self, out: &mut Vec<u8>) {
        match self {
            Record::Xdel { key, ids } => {
                put_bytes(out, key);
                put_varint(out, ids.len() as u64);
                for (id, size) in ids {
                    put_id(out, *id);
                    put_varint(out, *size);
                }
            }
            Record::Trim { key, effect } => {
                put_bytes(out, key);
                put_varint(out, effect.blocks);
                put_opt_id(out, effect.floor);
                put_varint(out, effect.marked);
                put_varint(out, effect.marked_bytes);
            }
            Record::Xsetid {
                key,
                last_id,
                entries_added,
                max_deleted,
            } => {
                put_bytes(out, key);
                put_id(out, *last_id);
                match entries_added {
                    Some(n) => {
                        out.push(1);
                        put_varint(out, *n);
                    }
                    None => out.push(0),
                }
                put_opt_id(out, *max_deleted);
            }
            Record::Del { keys } => {
                put_varint(out, keys.len() as u64);
                for k in keys {
                    put_bytes(out, k);
                }
            }
            Record::FlushAll => {}
            Record::Rename { src, dst } => {
                put_bytes(out, src);
                put_bytes(out, dst);
            }
            Record::Create {
                key,
                duration_s,
                max_size,
            } => {
                put_bytes(out, key);
                put_varint(out, *duration_s);
                put_varint(out, *max_size);
            }
            Record::IdmpConfig {
                key,
                duration_s,
                max_size,
            } => {
                put_bytes(out, key);
                put_varint(out, *duration_s);
                put_varint(out, *max_size);
            }
        }
    }

    /// Decodes a payload of the given kind (not XADD).
    pub fn decode(kind: u8, payload: &[u8]) -> Result<Record<'_>, Error> {
        let mut c = Cursor::new(payload);
        let rec = match kind {
            kind::XDEL => {
                let key = c.bytes()?;
                let n = c.len_prefix(payload.len())?;
                let mut ids = Vec::with_capacity(n);
                for _ in 0..n {
                    ids.push((c.id()?, c.varint()?));
                }
                Record::Xdel { key, ids }
            }
            kind::TRIM => Record::Trim {
                key: c.bytes()?,
                effect: TrimEffect {
                    blocks: c.varint()?,
                    floor: c.opt_id()?,
                    marked: c.varint()?,
                    marked_bytes: c.varint()?,
                },
            },
            kind::XSETID => {
                let key = c.bytes()?;
                let last_id = c.id()?;
                let entries_added = match c.u8()? {
                    0 => None,
                    1 => Some(c.varint()?),
                    _ => return Err(Error::corrupt("bad XSETID flag")),
                };
                Record::Xsetid {
                    key,
                    last_id,
                    entries_added,
                    max_deleted: c.opt_id()?,
                }
            }
            kind::DEL => {
                let n = c.len_prefix(payload.len())?;
                let mut keys = Vec::with_capacity(n);
                for _ in 0..n {
                    keys.push(c.bytes()?);
                }
                Record::Del { keys }
            }
            kind::FLUSHALL => Record::FlushAll,
            kind::RENAME => Record::Rename {
                src: c.bytes()?,
                dst: c.bytes()?,
            },
            kind::CREATE => Record::Create {
                key: c.bytes()?,
                duration_s: c.varint()?,
                max_size: c.varint()?,
            },
            kind::IDMP_CONFIG => Record::IdmpConfig {
                key: c.bytes()?,
                duration_s: c.varint()?,
                max_size: c.varint()?,
            },
            other => return Err(Error::UnknownRecord(other)),
        };
        if !c.is_empty() {
            return Err(Error::corrupt("trailing bytes in record"));
        }
        Ok(rec)
    }
}

/// Appends an unsigned LEB128 varint.
pub fn put_varint(out: &mut Vec<u8>, mut v: u64) {
    while v >= 0x80 {
        out.push((v as u8) | 0x80);
        v >>= 7;
    }
    out.push(v as u8);
}

/// Appends a varint length and the bytes.
pub fn put_bytes(out: &mut Vec<u8>, b: &[u8]) {
    put_varint(out, b.len() as u64);
    out.extend_from_slice(b);
}

fn put_id(out: &mut Vec<u8>, id: StreamId) {
    put_varint(out, id.ms);
    put_varint(out, id.seq);
}

fn put_opt_id(out: &mut Vec<u8>, id: Option<StreamId>) {
    match id {
        Some(id) => {
            out.push(1);
            put_id(out, id);
        }
        None => out.push(0),
    }
}

/// A bounds-checked reader over a payload. Every length is checked against
/// the bytes left before anything is allocated or sliced.
#[derive(Debug, Clone)]
pub struct Cursor<'a> {
    buf: &'a [u8],
    pos: usize,
}

impl<'a> Cursor<'a> {
    /// A cursor at the start of `buf`.
    pub fn new(buf: &'a [u8]) -> Cursor<'a> {
        Cursor { buf, pos: 0 }
    }
    /// A cursor at byte `pos` of `buf` (clamped to its end).
    pub fn at(buf: &'a [u8], pos: usize) -> Cursor<'a> {
        Cursor {
            buf,
            pos: pos.min(buf.len()),
        }
    }
    /// Bytes consumed so far.
    pub fn offset(&self) -> usize {
        self.pos
    }
    /// Whether everything was consumed.
    pub fn is_empty(&self) -> bool {
        self.pos >= self.buf.len()
    }
    /// One byte.
    #[inline]
    pub fn u8(&mut self) -> Result<u8, Error> {
        let b = *self
            .buf
            .get(self.pos)
            .ok_or_else(|| Error::corrupt("truncated record"))?;
        self.pos += 1;
        Ok(b)
    }
    /// An unsigned LEB128 varint of at most 10 bytes.
    #[inline]
    pub fn varint(&mut self) -> Result<u64, Error> {
        // Most varints (lengths, counts, small deltas) are one byte.
        if let Some(&b) = self.buf.get(self.pos)
            && b < 0x80
        {
            self.pos += 1;
            return Ok(u64::from(b));
        }
        self.varint_long()
    }

    #[inline(never)]
    fn varint_long(&mut self) -> Result<u64, Error> {
        // One walk over the bytes left, without a bounds check per byte.
        let rest = self.buf.get(self.pos..).unwrap_or_default();
        let mut v: u64 = 0;
        for (i, &b) in rest.iter().take(10).enumerate() {
            if i == 9 && b > 1 {
                return Err(Error::corrupt("varint overflow"));
            }
            v |= u64::from(b & 0x7f) << (7 * i);
            if b & 0x80 == 0 {
                self.pos += i + 1;
                return Ok(v);
            }
        }
        Err(Error::corrupt(if rest.len() < 10 {
            "truncated record"
        } else {
            "varint too long"
        }))
    }
    /// A count bounded by `max` (and so by the payload size).
    #[inline]
    pub fn len_prefix(&mut self, max: usize) -> Result<usize, Error> {
        let n = self.varint()?;
        usize::try_from(n)
            .ok()
            .filter(|&n| n <= max)
            .ok_or_else(|| Error::corrupt("count out of bounds"))
    }
    /// A varint length and that many bytes.
    #[inline]
    pub fn bytes(&mut self) -> Result<&'a [u8], Error> {
        let n = self.varint()?;
        let b = usize::try_from(n)
            .ok()
            .and_then(|n| self.buf.get(self.pos..self.pos.checked_add(n)?))
            .ok_or_else(|| Error::corrupt("length beyond the record"))?;
        self.pos += b.len();
        Ok(b)
    }
    fn id(&mut self) -> Result<StreamId, Error> {
        Ok(StreamId::new(self.varint()?, self.varint()?))
    }
    fn opt_id(&mut self) -> Result<Option<StreamId>, Error> {
        match self.u8()? {
            0 => Ok(None),
            1 => Ok(Some(self.id()?)),
            _ => Err(Error::corrupt("bad optional ID flag")),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn varints_round_trip() -> Result<(), Error> {
        for v in [0, 1, 127, 128, 300, u32::MAX as u64, u64::MAX - 1, u64::MAX] {
            let mut b = Vec::new();
            put_varint(&mut b, v);
            let mut c = Cursor::new(&b);
            assert_eq!(c.varint()?, v);
            assert!(c.is_empty());
        }
        let mut c = Cursor::new(&[0xff; 11]);
        assert!(c.varint().is_err());
        Ok(())
    }

    #[test]
    fn records_round_trip() -> Result<(), Error> {
        let recs = [
            Record::Xdel {
                key: b"s",
                ids: vec![(StreamId::new(1, 2), 10), (StreamId::new(3, 4), 20)],
            },
            Record::Trim {
                key: b"s",
                effect: TrimEffect {
                    blocks: 3,
                    floor: Some(StreamId::new(9, 9)),
                    marked: 2,
                    marked_bytes: 40,
                },
            },
            Record::Xsetid {
                key: b"s",
                last_id: StreamId::new(5, 0),
                entries_added: Some(7),
                max_deleted: None,
            },
            Record::Del {
                keys: vec![b"a", b"b"],
            },
            Record::FlushAll,
            Record::Rename {
                src: b"a",
                dst: b"b",
            },
            Record::Create {
                key: b"c",
                duration_s: 5,
                max_size: 7,
            },
            Record::IdmpConfig {
                key: b"c",
                duration_s: 100,
                max_size: 100,
            },
        ];
        for r in recs {
            let mut b = Vec::new();
            r.encode(&mut b);
            assert_eq!(Record::decode(r.kind(), &b)?, r);
            for cut in 0..b.len() {
                assert!(Record::decode(r.kind(), &b[..cut]).is_err());
            }
        }
        Ok(())
    }
}
