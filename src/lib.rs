//! eddy: a persistent event-sourcing stream store that speaks the Redis protocol.
//!
//! The engine half is embeddable: open a [`Store`] on a directory and call
//! it directly; the server calls the same functions.
//!
//! ```no_run
//! # fn main() -> Result<(), eddy::Error> {
//! use eddy::{AddArgs, IdRange, Store, StoreOptions};
//! let store = Store::open("/tmp/eddy-data", StoreOptions::default())?;
//! let added = store.xadd(b"orders", &AddArgs::new(&[(b"sku", b"42")]))?;
//! for e in store.xrange(b"orders", IdRange::ALL, Some(10))? {
//!     println!("{} {:?}", e.id(), e.to_vec());
//! }
//! # let _ = added;
//! # Ok(())
//! # }
//! ```

mod api;
pub mod checkpoint;
pub mod clock;
pub mod cmd;
pub mod config;
mod engine;
pub mod error;
pub mod glob;
pub mod group;
pub mod keyspace;
pub mod memory;
pub mod record;
pub mod resp;
pub mod server;
pub mod store;
pub mod stream;
pub mod view;
pub mod views;

pub use clock::{Clock, ManualClock, SystemClock};
pub use eddy_wal::FsyncPolicy;
pub use engine::AppendItem;
pub use error::{Error, Result};
pub use keyspace::Value;
pub use store::{AddArgs, Added, CheckpointInfo, Expect, RecoveryStats, Store, StoreOptions};
pub use stream::{
    Entry, IdRange, IdSpec, IdmpConfig, NodeLimits, RefPolicy, StreamId, StreamInfo, Trim,
    TrimStrategy,
};
