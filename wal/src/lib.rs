//! eddy-wal: a segmented, memory-mapped, checksummed append-only log of opaque records.
//!
//! It knows nothing of streams, RESP or tokio.
