//! The Redis protocol (RESP2 and RESP3), without I/O.
//!
//! This module owns three things:
//! - [`Frame`]: every RESP2/RESP3 value, with a no-allocation [`Frame::check`]
//!   followed by [`Frame::parse`] on a cursor (used by clients and tests to
//!   read replies);
//! - [`request`]: the server-side request reader, which follows Redis's
//!   `networking.c` to the letter (multibulk and inline requests, the same
//!   limits and the same `Protocol error: ...` texts);
//! - [`Reply`]: the reply encoder, writing straight into a connection's output
//!   buffer in the protocol version the client negotiated.
//!
//! It does not own sockets, buffers' lifetimes or command semantics.

mod encode;
mod frame;
mod inline;
pub mod request;

pub use encode::{Protocol, Reply};
pub use frame::{Frame, FrameError};
pub use inline::{SplitError, split_args};
pub use request::{ProtocolError, Request, RequestLimits};
