//! Memory accounting and eviction policy.

/// Estimated bytes of one sorted-set member whose name is `len` bytes long.
pub fn zset_member_bytes(len: usize) -> usize {
    96 + len
}
