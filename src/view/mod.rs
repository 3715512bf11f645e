//! Derived views: sorted sets, counters and geo indexes computed from streams.
//!
//! Owns the engine-independent data structures and rules of views: the
//! structures themselves ([`zset`], [`geo`], [`counter`]), the definition of a
//! view and how one event changes it ([`spec`]), the argument parsing of the
//! Redis read commands that query them, and Redis's number formats ([`num`]).
//! Does not own: reading the stream, the WAL, checkpoints, RESP replies or
//! key lookup; the engine feeds events to [`spec::View::apply`] and the
//! server turns query results into replies.

pub mod error;
pub mod geo;
pub mod counter;
pub mod num;
pub mod zset;

pub use error::CmdError;
