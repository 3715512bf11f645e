//! eddy: a persistent event-sourcing stream store that speaks the Redis protocol.

pub mod memory;
pub mod view;
