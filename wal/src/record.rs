//! Record frames: encoding a record into bytes and decoding (with checks) a frame found
//! in a segment. Owns the frame layout and the record length bound; knows nothing of
//! files, segments or positions.
//!
//! Frame: `[len u32 LE][crc32 u32 LE over kind byte + payload][kind u8][payload]`.
//! A header of eight zero bytes marks the end of written data (segments are
//! preallocated with zeros).

/// Bytes before the payload: length (4), CRC32 (4), kind (1).
pub const FRAME_HEADER_LEN: usize = 9;

/// Largest payload accepted, 32 MiB.
///
/// Why a bound at all: a length read from disk is checked against it before anything is
/// read or allocated, so a corrupt length field (a flipped bit can make it 4 GiB) is
/// reported as corruption instead of turning into a huge allocation or a read past
/// the map. Why this value: a record never spans segments, and with the default
/// 64 MiB segment a 32 MiB record always fits in a fresh segment with room to spare;
/// larger values belong in chunks at the caller's level. A smaller configured segment
/// lowers the effective bound further (see `Error::RecordTooLarge`).
pub const MAX_RECORD_LEN: usize = 32 << 20;

/// Record kinds `0..=MAX_KIND` belong to the caller; the top bit of the kind byte is
/// reserved by the WAL for batch framing.
pub const MAX_KIND: u8 = 127;

/// Top bit of the kind byte on disk: "the batch continues with the next frame".
pub(crate) const BATCH_CONTINUES: u8 = 0x80;

/// Framed size of a record with `payload_len` bytes of payload.
pub(crate) fn frame_len(payload_len: usize) -> u64 {
    (FRAME_HEADER_LEN + payload_len) as u64
}

fn crc(kind_raw: u8, payload: &[u8]) -> u32 {
    let mut h = crc32fast::Hasher::new();
    h.update(&[kind_raw]);
    h.update(payload);
    h.finalize()
}

/// Appends the frame of one record to `out`. `kind_raw` includes the batch bit.
/// The caller has checked the payload length against `MAX_RECORD_LEN`.
pub(crate) fn encode_into(out: &mut Vec<u8>, kind_raw: u8, payload: &[u8]) {
    let len = u32::try_from(payload.len()).unwrap_or(u32::MAX);
    out.extend_from_slice(&len.to_le_bytes());
    out.extend_from_slice(&crc(kind_raw, payload).to_le_bytes());
    out.push(kind_raw);
    out.extend_from_slice(payload);
}

/// What lies at an offset of a segment's bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Frame {
    /// A valid frame.
    Record {
        /// Kind byte as stored (batch bit included).
        kind_raw: u8,
        /// Offset of the payload in the buffer.
        payload_at: usize,
        /// Payload length.
        len: usize,
        /// Offset just after this frame.
        next: usize,
    },
    /// A zeroed header, or no room left for a header: no more data here.
    End,
    /// Something that is neither a valid frame nor the end marker.
    Bad(&'static str),
}

/// Decodes the frame at `at` in `buf` (a whole segment), checking length and CRC.
pub(crate) fn decode(buf: &[u8], at: usize) -> Frame {
    let Some(header) = buf.get(at..).and_then(|b| b.get(..8)) else {
        return Frame::End;
    };
    let mut len4 = [0u8; 4];
    let mut crc4 = [0u8; 4];
    len4.copy_from_slice(&header[..4]);
    crc4.copy_from_slice(&header[4..8]);
    let len = u32::from_le_bytes(len4) as usize;
    let stored_crc = u32::from_le_bytes(crc4);
    if len == 0 && stored_crc == 0 {
        return Frame::End;
    }
    if len > MAX_RECORD_LEN {
        return Frame::Bad("record length exceeds MAX_RECORD_LEN");
    }
    let end = at + FRAME_HEADER_LEN + len;
    let Some(body) = buf.get(at + 8..end) else {
        return Frame::Bad("frame runs past the end of the segment");
    };
    let kind_raw = body[0];
    if crc(kind_raw, &body[1..]) != stored_crc {
        return Frame::Bad("checksum mismatch");
    }
    Frame::Record {
        kind_raw,
        payload_at: at + FRAME_HEADER_LEN,
        len,
        next: end,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_and_end_marker() {
        let mut buf = Vec::new();
        encode_into(&mut buf, 5, b"hello");
        encode_into(&mut buf, 0x80 | 7, b"");
        buf.extend_from_slice(&[0; 16]);
        let Frame::Record {
            kind_raw,
            payload_at,
            len,
            next,
        } = decode(&buf, 0)
        else {
            panic!("first frame should decode");
        };
        assert_eq!(
            (kind_raw, &buf[payload_at..payload_at + len]),
            (5, &b"hello"[..])
        );
        assert_eq!(
            decode(&buf, next),
            Frame::Record {
                kind_raw: 0x87,
                payload_at: next + 9,
                len: 0,
                next: next + 9
            }
        );
        assert_eq!(decode(&buf, next + 9), Frame::End);
        assert_eq!(decode(&buf, buf.len() - 3), Frame::End);
    }

    /// An empty record must never look like the end marker: its CRC (over the kind
    /// byte alone) is never zero, for every possible kind byte.
    #[test]
    fn empty_record_is_never_the_end_marker() {
        for k in 0..=255u8 {
            assert_ne!(crc(k, &[]), 0, "kind {k}");
        }
    }

    #[test]
    fn every_flipped_bit_is_caught() {
        let mut good = Vec::new();
        encode_into(&mut good, 3, b"some payload bytes");
        for i in 0..good.len() {
            for bit in 0..8 {
                let mut b = good.clone();
                b[i] ^= 1 << bit;
                b.extend_from_slice(&[0; 8]);
                match decode(&b, 0) {
                    Frame::Bad(_) | Frame::End => {}
                    Frame::Record { .. } => panic!("flip at byte {i} bit {bit} not caught"),
                }
            }
        }
    }

    #[test]
    fn huge_length_is_corruption_not_allocation() {
        let mut b = vec![0xff, 0xff, 0xff, 0xff, 1, 2, 3, 4, 5];
        b.extend_from_slice(&[0; 32]);
        assert_eq!(
            decode(&b, 0),
            Frame::Bad("record length exceeds MAX_RECORD_LEN")
        );
    }
}
