//! Helpers shared by the consumer-group integration tests.
#![allow(dead_code)]

use eddy::group::{PendingQuery, ReadFrom};
use eddy::{AddArgs, Error, IdSpec, Store, StreamId};

use crate::engine_util::{id, pairs};

pub type R = Result<(), Error>;
/// `(entries-read, lag)` per group, `None` being Redis's null.
pub type Lags = Vec<(Option<u64>, Option<u64>)>;

pub fn add(s: &Store, key: &[u8], ms: u64) -> Result<StreamId, Error> {
    let f = pairs(&[("f", "v")]);
    let a = AddArgs::new(&f).id(IdSpec::Explicit(id(ms, 0)));
    Ok(s.xadd(key, &a)?.expect("added").id)
}

pub fn stream_of(s: &Store, n: u64) -> R {
    for i in 1..=n {
        add(s, b"s", i)?;
    }
    Ok(())
}

pub fn read_new(s: &Store, c: &str, count: usize) -> Result<Vec<StreamId>, Error> {
    let r = s.xreadgroup(
        b"g",
        c.as_bytes(),
        &[(b"s", ReadFrom::New)],
        Some(count),
        false,
    )?;
    Ok(r.first()
        .map(|x| x.entries.iter().map(|e| e.id).collect())
        .unwrap_or_default())
}

pub fn all(consumer: Option<&[u8]>) -> PendingQuery<'_> {
    PendingQuery {
        start: StreamId::MIN,
        end: StreamId::MAX,
        count: 100,
        min_idle: 0,
        consumer,
    }
}
