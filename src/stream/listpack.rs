//! Byte-exact emulation of the size of a Redis stream node (a listpack), so
//! that blocks start where Redis would start a new radix-tree node.
//!
//! Redis 7 appends an entry to the tail node unless
//! `node_bytes + sum(field and value lengths) >= stream-node-max-bytes` or the
//! node already holds `stream-node-max-entries` entries (live + deleted).
//! `node_bytes` is the listpack's total size, so we reproduce the listpack
//! encoding of every element Redis writes:
//!
//! ```text
//! header(6) | count | deleted | num-fields | field_1..N | 0 |       master entry
//!           | flags | ms-diff | seq-diff | [num-fields | field_i] value_i... | lp-count |  per entry
//!           | 0xFF
//! ```
//!
//! This module computes sizes only; it stores nothing.

use super::id::StreamId;

/// Listpack header (total bytes u32 + element count u16) and end byte.
const LP_EMPTY: u64 = 6 + 1;
/// Redis's `STREAM_LISTPACK_MAX_SIZE`, the node size cap when
/// `stream-node-max-bytes` is 0 or larger.
pub const STREAM_LISTPACK_MAX_SIZE: u64 = 1 << 30;
/// Entry flag: the entry has the same fields as the master entry.
const FLAG_SAMEFIELDS: i64 = 2;

/// Bytes of an encoded listpack element, back-length included.
fn element(encoded: u64) -> u64 {
    let backlen = match encoded {
        0..=127 => 1,
        128..=16382 => 2,
        16383..=2_097_150 => 3,
        2_097_151..=268_435_454 => 4,
        _ => 5,
    };
    encoded + backlen
}

/// Bytes of an integer element (`lpAppendInteger`).
pub fn int_size(v: i64) -> u64 {
    let encoded = match v {
        0..=127 => 1,
        -4096..=4095 => 2,
        -32768..=32767 => 3,
        -8_388_608..=8_388_607 => 4,
        -2_147_483_648..=2_147_483_647 => 5,
        _ => 9,
    };
    element(encoded)
}

/// Bytes of a string element (`lpAppend`): strings that are canonical
/// decimal integers are stored as integers, as `lpStringToInt64` decides.
pub fn str_size(s: &[u8]) -> u64 {
    if let Some(v) = canonical_int(s) {
        return int_size(v);
    }
    let len = s.len() as u64;
    let encoded = if len < 64 {
        1 + len
    } else if len < 4096 {
        2 + len
    } else {
        5 + len
    };
    element(encoded)
}

/// `lpStringToInt64`: optional `-`, no leading zeros, no `+`, fits in i64,
/// at most 20 characters.
fn canonical_int(s: &[u8]) -> Option<i64> {
    if s.is_empty() || s.len() > 20 {
        return None;
    }
    if s == b"0" {
        return Some(0);
    }
    let digits = s.strip_prefix(b"-").unwrap_or(s);
    match digits.first() {
        Some(b'1'..=b'9') => {}
        _ => return None,
    }
    if !digits.iter().all(u8::is_ascii_digit) {
        return None;
    }
    std::str::from_utf8(s).ok()?.parse::<i64>().ok()
}

/// Emulated size of one stream node, minus its two counters (live and
/// deleted entries), which change in place and are added by [`NodeSize::bytes`].
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct NodeSize(pub u32);

impl NodeSize {
    /// The size of a new node holding the master entry built from `fields`
    /// (without its counters) and nothing else yet.
    pub fn with_master<'a>(fields: impl Iterator<Item = &'a [u8]> + Clone) -> NodeSize {
        let n = fields.clone().count() as i64;
        let mut size = LP_EMPTY + int_size(n) + int_size(0);
        for f in fields {
            size += str_size(f);
        }
        NodeSize(saturate(size))
    }

    /// The node's `lpBytes` given its counters.
    pub fn bytes(self, live: u32, deleted: u32) -> u64 {
        u64::from(self.0) + int_size(i64::from(live)) + int_size(i64::from(deleted))
    }

    /// Grows the node by one entry. `same_fields` says whether the entry's
    /// field names equal the master entry's (Redis then stores values only).
    pub fn add_entry<'a>(
        &mut self,
        master_id: StreamId,
        id: StreamId,
        same_fields: bool,
        fields: impl Iterator<Item = (&'a [u8], &'a [u8])>,
    ) {
        let mut size = u64::from(self.0);
        let mut n: i64 = 0;
        let mut body = 0u64;
        for (f, v) in fields {
            n += 1;
            if !same_fields {
                body += str_size(f);
            }
            body += str_size(v);
        }
        let flags = if same_fields { FLAG_SAMEFIELDS } else { 0 };
        // Redis subtracts as unsigned 64-bit and stores the result as a signed
        // 64-bit integer.
        let ms_diff = id.ms.wrapping_sub(master_id.ms) as i64;
        let seq_diff = id.seq.wrapping_sub(master_id.seq) as i64;
        size += int_size(flags) + int_size(ms_diff) + int_size(seq_diff) + body;
        let mut lp_count = n + 3;
        if !same_fields {
            size += int_size(n);
            lp_count += n + 1;
        }
        size += int_size(lp_count);
        self.0 = saturate(size);
    }
}

fn saturate(v: u64) -> u32 {
    u32::try_from(v).unwrap_or(u32::MAX)
}

/// Whether Redis would start a new node for an entry whose fields and values
/// total `entry_len` bytes, given the tail node's size and counters.
pub fn needs_new_node(
    node_bytes: u64,
    node_entries: u64,
    entry_len: u64,
    max_bytes: u64,
    max_entries: u64,
) -> bool {
    let max_bytes = if max_bytes == 0 || max_bytes > STREAM_LISTPACK_MAX_SIZE {
        STREAM_LISTPACK_MAX_SIZE
    } else {
        max_bytes
    };
    if node_bytes + entry_len >= max_bytes {
        return true;
    }
    max_entries != 0 && node_entries >= max_entries
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn integer_strings_are_stored_as_integers() {
        assert_eq!(str_size(b"0"), 2);
        assert_eq!(str_size(b"127"), 2);
        assert_eq!(str_size(b"128"), 3);
        assert_eq!(str_size(b"-4096"), 3);
        assert_eq!(str_size(b"4096"), 4);
        assert_eq!(str_size(b"9223372036854775807"), 10);
        // Not canonical: stored as strings.
        assert_eq!(str_size(b"01"), 4);
        assert_eq!(str_size(b"-0"), 4);
        assert_eq!(str_size(b"+1"), 4);
        assert_eq!(str_size(b"9223372036854775808"), 21);
        assert_eq!(str_size(b""), 2);
    }

    #[test]
    fn string_sizes_follow_listpack_encodings() {
        assert_eq!(str_size(&[b'a'; 63]), 65);
        assert_eq!(str_size(&[b'a'; 64]), 66 + 1);
        assert_eq!(str_size(&[b'a'; 4095]), 4097 + 2);
        assert_eq!(str_size(&[b'a'; 4096]), 4101 + 2);
    }

    #[test]
    fn node_of_one_small_entry() {
        // XADD s 1-1 a 1 -> a node of 6+1 + count(2)+deleted(2)+nf(2)+"a"(3)+0(2)
        // + flags(2)+ms(2)+seq(2)+"1"(2)+lp-count(2).
        let fields: [(&[u8], &[u8]); 1] = [(b"a", b"1")];
        let mut n = NodeSize::with_master(fields.iter().map(|(f, _)| *f));
        n.add_entry(
            StreamId::new(1, 1),
            StreamId::new(1, 1),
            true,
            fields.iter().copied(),
        );
        assert_eq!(n.bytes(1, 0), 7 + 2 + 2 + 2 + 3 + 2 + 2 + 2 + 2 + 2 + 2);
    }

    #[test]
    fn new_node_rules() {
        assert!(needs_new_node(4000, 1, 96, 4096, 100));
        assert!(!needs_new_node(4000, 1, 95, 4096, 100));
        assert!(needs_new_node(10, 100, 1, 4096, 100));
        assert!(!needs_new_node(10, 100, 1, 4096, 0));
        assert!(!needs_new_node(5000, 1, 1, 0, 0));
    }
}
