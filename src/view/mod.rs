//! Derived views: sorted sets, counters and geo indexes computed from streams.
//!
//! Owns the engine-independent part of views: the structures ([`zset`],
//! [`geo`], [`counter`]), the definition of a view and its syntax
//! ([`spec`]), the deterministic application of events ([`View`]), the
//! argument parsing of the Redis read commands that query view keys, and
//! Redis's number formats ([`num`]). Does not own: reading streams, WAL
//! records, checkpoints files, RESP replies or key lookup; the engine feeds
//! events to [`View::apply`] and the server turns query results into replies.
//!
//! # Defining a view
//!
//! ```text
//! VIEW.CREATE name ON stream [FROM 0|$|ms[-seq]]
//!     [WHERE field value | WHERE field =|!=|<|<=|>|>= value]...
//!     ( ZADD    key-template MEMBER template SCORE {field}|number [NX|XX] [GT|LT]
//!     | ZINCRBY key-template MEMBER template SCORE {field}|number [NX|XX] [GT|LT]
//!     | COUNT   key-template [BY {field}|number]
//!               [WINDOW seconds [KEEP n] | BUCKETS ms [RETAIN n | RETAINMS ms]]
//!     | GEOADD  key-template MEMBER template LON {field}|number LAT {field}|number )
//! ```
//!
//! - Options may appear in any order; keywords are case-insensitive.
//! - `FROM` says where the initial replay starts: `0` (default) the first
//!   entry, `$` only new entries, or an entry ID.
//! - `WHERE field value` keeps events whose field equals `value`;
//!   `WHERE field op value` compares (`=`/`!=` on bytes, `<` `<=` `>` `>=`
//!   numerically; a missing or non-numeric field fails a numeric test).
//!   Several `WHERE`s must all hold. To compare with a value that is itself an
//!   operator, use the three-token form (`WHERE f = >`).
//! - Templates: `{field}` is replaced by the event's field (the first one if
//!   the entry repeats it); `{{` and `}}` are literal braces. An event missing
//!   a template field is skipped (counted in `skipped`).
//! - `SCORE`, `BY`, `LON`, `LAT` take `{field}` or a constant. Scores parse as
//!   ZADD parses them; counter amounts are integers (exact) or doubles.
//! - `ZADD` sets the member's score, `ZINCRBY` adds to it; `NX`, `XX`, `GT`,
//!   `LT` behave as in ZADD (GT/LT never stop additions).
//! - `COUNT` adds 1 (or `BY`) per event to a total (GET key), or per fixed
//!   window of `seconds` of event time to the key `key:<window start in
//!   seconds>` keeping the newest `KEEP` windows (default 2), or per bucket of
//!   `ms` to a series read with `VIEW.RANGE key from to` (each bucket has a
//!   count and a sum; `RETAIN n` keeps the newest n buckets, `RETAINMS ms`
//!   the buckets within ms of the newest; default: all).
//! - `GEOADD` sets the member's position; out-of-range coordinates skip the
//!   event, exactly as GEOADD would refuse them.
//!
//! Event time is the entry ID's millisecond part, never the wall clock, so
//! replaying the same log always yields the same view.
//!
//! # Examples
//!
//! ```text
//! VIEW.CREATE top ON orders WHERE status paid ZINCRBY leaderboard:{region} MEMBER {user} SCORE {amount}
//! ZRANGE leaderboard:eu 0 9 REV WITHSCORES
//!
//! VIEW.CREATE best ON games ZADD best:{game} MEMBER {player} SCORE {points} GT
//! ZREVRANK best:chess alice WITHSCORE
//!
//! VIEW.CREATE revenue ON orders WHERE amount > 0 COUNT revenue:{region} BY {amount}
//! GET revenue:eu
//!
//! VIEW.CREATE rl ON requests COUNT rate:{user} WINDOW 60
//! GET rate:alice:1700000040
//!
//! VIEW.CREATE sales ON orders COUNT sales:{region} BY {amount} BUCKETS 60000 RETAIN 1440
//! VIEW.RANGE sales:eu 1700000000000 +
//!
//! VIEW.CREATE fleet ON positions GEOADD drivers:{city} MEMBER {driver} LON {lon} LAT {lat}
//! GEOSEARCH drivers:rome FROMLONLAT 12.49 41.89 BYRADIUS 2 km ASC COUNT 5 WITHDIST
//! ```
//!
//! # The rest of the family
//!
//! ```text
//! VIEW.DROP name                 -> :1 if it existed, :0 otherwise; its keys go away
//! VIEW.LIST                      -> the names of all views
//! VIEW.INFO name                 -> map: definition (ViewSpec::to_command), state
//!                                   (building|ready|error), events_applied, filtered,
//!                                   skipped (View::stats), position, lag, keys, memory
//! VIEW.REBUILD name              -> drops the data and builds again from the source
//! VIEW.RANGE key from|- to|+     -> [[bucket start ms, count, sum], ...] (BUCKETS views)
//! ```
//!
//! An evicted unit's state is taken out with [`View::take_unit`] (the
//! engine writes it to the log) and put back with [`View::load_unit`];
//! [`View::apply`] refuses an event for an evicted unit with [`Evicted`].
//!
//! # Errors
//!
//! Query parsers return [`CmdError`] and `VIEW.*` parsers return
//! [`spec::SpecError`]; both display the exact error line to send after '-'.

pub mod counter;
pub mod error;
#[cfg(test)]
mod evict_tests;
pub mod geo;
pub mod keyscan;
pub mod num;
mod runtime;
pub mod spec;
pub mod zset;

pub use error::CmdError;
pub use runtime::{BadUnit, Evicted, KeyType, Stats, View};
