//! eddy: a persistent event-sourcing stream store that speaks the Redis protocol.

pub mod cmd;
pub mod config;
pub mod resp;
pub mod server;
