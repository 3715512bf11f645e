//! Read commands over view keys: the ZRANGE family, ZSCORE, ZMSCORE,
//! ZRANK/ZREVRANK, ZCARD, ZCOUNT, GET, MGET, VIEW.RANGE and the GEO read
//! commands, with Redis 7.0's reply shapes in RESP2 and RESP3.
//!
//! Arguments are parsed by `crate::view`; this file only looks the key up
//! (through the `Store`, which rebuilds an evicted key first) and writes
//! the reply. A stream key answers WRONGTYPE, a missing key the empty reply.

use super::{CommandDef, Ctx, Flow};
use crate::error::Error;
use crate::resp::Reply;
use crate::view::geo::{GeoCmd, parse_geodist, parse_geohash, parse_geopos, parse_geosearch};
use crate::view::num::{format_distance, format_double, format_human};
use crate::view::spec::parse_view_range;
use crate::view::zset::ZSet;
use crate::view::zset::{
    ZRangeCmd, parse_zcard, parse_zcount, parse_zmscore, parse_zrange, parse_zrank, parse_zscore,
};
use crate::view::{CmdError, KeyType, View};

/// Flags and ACL categories as redis-server 7.0 lists them.
type Meta = (&'static [&'static str], &'static [&'static str]);
const Z_SLOW: Meta = (&["readonly"], &["@read", "@sortedset", "@slow"]);
const Z_FAST: Meta = (&["readonly", "fast"], &["@read", "@sortedset", "@fast"]);
const S_FAST: Meta = (&["readonly", "fast"], &["@read", "@string", "@fast"]);
const GEO_RO: Meta = (&["readonly"], &["@read", "@geo", "@slow"]);
// GEORADIUS[BYMEMBER] take STORE, so Redis flags them as writes; eddy
// refuses STORE (its target would not be derived from a stream) but keeps
// Redis's table entry.
const GEO_W: Meta = (
    &["write", "denyoom", "movablekeys"],
    &["@write", "@geo", "@slow"],
);
const VIEW_RO: Meta = (&["readonly"], &["@read", "@slow"]);

const fn def(
    name: &'static str,
    arity: i32,
    group: &'static str,
    keys: (i32, i32, i32),
    meta: Meta,
    summary: &'static str,
    handler: super::Handler,
) -> CommandDef {
    CommandDef {
        name,
        arity,
        flags: meta.0,
        acl: meta.1,
        keys,
        group,
        summary,
        since: "1.0.0",
        complexity: "O(log(N)+M)",
        handler: Some(handler),
        subcommands: &[],
    }
}

const ONE: (i32, i32, i32) = (1, 1, 1);
const SS: &str = "sorted_set";

/// The view read family.
pub const COMMANDS: &[CommandDef] = &[
    def(
        "zrange",
        -4,
        SS,
        ONE,
        Z_SLOW,
        "Return a range of members in a sorted set",
        zrange,
    ),
    def(
        "zrevrange",
        -4,
        SS,
        ONE,
        Z_SLOW,
        "Return a range of members in a sorted set, by index, with scores ordered from high to low",
        zrange,
    ),
    def(
        "zrangebyscore",
        -4,
        SS,
        ONE,
        Z_SLOW,
        "Return a range of members in a sorted set, by score",
        zrange,
    ),
    def(
        "zrevrangebyscore",
        -4,
        SS,
        ONE,
        Z_SLOW,
        "Return a range of members in a sorted set, by score, with scores ordered from high to low",
        zrange,
    ),
    def(
        "zrangebylex",
        -4,
        SS,
        ONE,
        Z_SLOW,
        "Return a range of members in a sorted set, by lexicographical range",
        zrange,
    ),
    def(
        "zrevrangebylex",
        -4,
        SS,
        ONE,
        Z_SLOW,
        "Return a range of members in a sorted set, by lexicographical range, ordered from higher to lower strings.",
        zrange,
    ),
    def(
        "zscore",
        3,
        SS,
        ONE,
        Z_FAST,
        "Get the score associated with the given member in a sorted set",
        zscore,
    ),
    def(
        "zmscore",
        -3,
        SS,
        ONE,
        Z_FAST,
        "Get the score associated with the given members in a sorted set",
        zmscore,
    ),
    def(
        "zrank",
        -3,
        SS,
        ONE,
        Z_FAST,
        "Determine the index of a member in a sorted set",
        zrank,
    ),
    def(
        "zrevrank",
        -3,
        SS,
        ONE,
        Z_FAST,
        "Determine the index of a member in a sorted set, with scores ordered from high to low",
        zrank,
    ),
    def(
        "zcard",
        2,
        SS,
        ONE,
        Z_FAST,
        "Get the number of members in a sorted set",
        zcard,
    ),
    def(
        "zcount",
        4,
        SS,
        ONE,
        Z_FAST,
        "Count the members in a sorted set with scores within the given values",
        zcount,
    ),
    def(
        "get",
        2,
        "string",
        ONE,
        S_FAST,
        "Get the value of a key",
        get,
    ),
    def(
        "mget",
        -2,
        "string",
        (1, -1, 1),
        S_FAST,
        "Get the values of all the given keys",
        mget,
    ),
    def(
        "view.range",
        4,
        "view",
        ONE,
        VIEW_RO,
        "Read the time buckets of a BUCKETS view key",
        view_range,
    ),
    def(
        "geosearch",
        -7,
        "geo",
        ONE,
        GEO_RO,
        "Query a sorted set representing a geospatial index to fetch members inside an area of a box or a circle.",
        geo_search,
    ),
    def(
        "georadius",
        -6,
        "geo",
        ONE,
        GEO_W,
        "Query a sorted set representing a geospatial index to fetch members matching a given maximum distance from a point",
        geo_search,
    ),
    def(
        "georadius_ro",
        -6,
        "geo",
        ONE,
        GEO_RO,
        "A read-only variant for GEORADIUS",
        geo_search,
    ),
    def(
        "georadiusbymember",
        -5,
        "geo",
        ONE,
        GEO_W,
        "Query a sorted set representing a geospatial index to fetch members matching a given maximum distance from a member",
        geo_search,
    ),
    def(
        "georadiusbymember_ro",
        -5,
        "geo",
        ONE,
        GEO_RO,
        "A read-only variant for GEORADIUSBYMEMBER",
        geo_search,
    ),
    def(
        "geodist",
        -4,
        "geo",
        ONE,
        GEO_RO,
        "Returns the distance between two members of a geospatial index",
        geodist,
    ),
    def(
        "geopos",
        -2,
        "geo",
        ONE,
        GEO_RO,
        "Returns longitude and latitude of members of a geospatial index",
        geopos,
    ),
    def(
        "geohash",
        -2,
        "geo",
        ONE,
        GEO_RO,
        "Returns members of a geospatial index as standard geohash strings",
        geohash,
    ),
];

const WRONGTYPE: &str = "WRONGTYPE Operation against a key holding the wrong kind of value";

fn argv(args: &[Vec<u8>]) -> Vec<&[u8]> {
    args.iter().map(Vec::as_slice).collect()
}

/// A double as Redis replies a score: `,d` in RESP3, a `%.17g` bulk in RESP2.
pub fn score(reply: &mut Reply<'_>, d: f64) {
    let s = format_double(d);
    if reply.resp3() {
        reply.raw(format!(",{s}\r\n").as_bytes());
    } else {
        reply.bulk(s.as_bytes());
    }
}

/// Runs `f` on the view holding `key` (or `None`), writing its reply.
/// Stream keys answer WRONGTYPE; `want` restricts the view key type.
fn on_view(
    ctx: &mut Ctx<'_, '_>,
    key: &[u8],
    want: &[KeyType],
    f: impl FnOnce(&mut Reply<'_>, Option<&View>) -> Result<(), CmdError>,
) -> Flow {
    let store = ctx.store();
    let reply = &mut *ctx.reply;
    let res = store.read_view_key(key, |v| match v {
        Some(v) if !want.contains(&v.key_type()) => Err(None),
        v => f(reply, v).map_err(Some),
    });
    match res {
        Ok(Ok(())) => {}
        Ok(Err(None)) | Err(Error::WrongType) => ctx.reply.error(WRONGTYPE),
        Ok(Err(Some(e))) => ctx.reply.error(&e.to_string()),
        Err(e) => ctx.engine_error(&e),
    }
    Flow::Continue
}

fn on_zset(
    ctx: &mut Ctx<'_, '_>,
    key: &[u8],
    f: impl FnOnce(&mut Reply<'_>, Option<&ZSet>) -> Result<(), CmdError>,
) -> Flow {
    on_view(ctx, key, &[KeyType::ZSet], |r, v| {
        f(r, v.and_then(|v| v.zset(key)))
    })
}

fn zrange(ctx: &mut Ctx<'_, '_>, args: &[Vec<u8>]) -> Flow {
    let a = argv(args);
    let Some(cmd) = ZRangeCmd::from_name(a[0]) else {
        return ctx.syntax_error();
    };
    let q = match parse_zrange(cmd, &a) {
        Ok(q) => q,
        Err(e) => {
            ctx.reply.error(&e.to_string());
            return Flow::Continue;
        }
    };
    on_zset(ctx, &q.key.clone(), |r, z| {
        let hits = z.map(|z| q.run(z)).unwrap_or_default();
        if q.withscores && r.resp3() {
            r.array(hits.len());
            for (m, s) in hits {
                r.array(2);
                r.bulk(m);
                score(r, s);
            }
        } else if q.withscores {
            r.array(hits.len() * 2);
            for (m, s) in hits {
                r.bulk(m);
                score(r, s);
            }
        } else {
            r.array(hits.len());
            for (m, _) in hits {
                r.bulk(m);
            }
        }
        Ok(())
    })
}

fn zscore(ctx: &mut Ctx<'_, '_>, args: &[Vec<u8>]) -> Flow {
    let q = match parse_zscore(&argv(args)) {
        Ok(q) => q,
        Err(e) => return err(ctx, &e),
    };
    on_zset(ctx, &q.key, |r, z| {
        match z.and_then(|z| z.score(&q.member)) {
            Some(s) => score(r, s),
            None => r.null(),
        }
        Ok(())
    })
}

fn zmscore(ctx: &mut Ctx<'_, '_>, args: &[Vec<u8>]) -> Flow {
    let q = match parse_zmscore(&argv(args)) {
        Ok(q) => q,
        Err(e) => return err(ctx, &e),
    };
    on_zset(ctx, &q.key, |r, z| {
        r.array(q.members.len());
        for m in &q.members {
            match z.and_then(|z| z.score(m)) {
                Some(s) => score(r, s),
                None => r.null(),
            }
        }
        Ok(())
    })
}

fn zrank(ctx: &mut Ctx<'_, '_>, args: &[Vec<u8>]) -> Flow {
    let rev = args[0].eq_ignore_ascii_case(b"zrevrank");
    let q = match parse_zrank(&argv(args), rev) {
        Ok(q) => q,
        Err(e) => return err(ctx, &e),
    };
    on_zset(ctx, &q.key, |r, z| {
        match z.and_then(|z| z.rank(&q.member, q.rev)) {
            Some((rank, s)) if q.withscore => {
                r.array(2);
                r.int(i64::try_from(rank).unwrap_or(i64::MAX));
                score(r, s);
            }
            Some((rank, _)) => r.int(i64::try_from(rank).unwrap_or(i64::MAX)),
            None if q.withscore => r.null_array(),
            None => r.null(),
        }
        Ok(())
    })
}

fn zcard(ctx: &mut Ctx<'_, '_>, args: &[Vec<u8>]) -> Flow {
    let key = match parse_zcard(&argv(args)) {
        Ok(k) => k,
        Err(e) => return err(ctx, &e),
    };
    on_zset(ctx, &key, |r, z| {
        r.count(z.map_or(0, ZSet::len));
        Ok(())
    })
}

fn zcount(ctx: &mut Ctx<'_, '_>, args: &[Vec<u8>]) -> Flow {
    let q = match parse_zcount(&argv(args)) {
        Ok(q) => q,
        Err(e) => return err(ctx, &e),
    };
    on_zset(ctx, &q.key, |r, z| {
        r.count(z.map_or(0, |z| z.count(&q.range)));
        Ok(())
    })
}

fn get(ctx: &mut Ctx<'_, '_>, args: &[Vec<u8>]) -> Flow {
    let key = args[1].clone();
    on_view(ctx, &key, &[KeyType::String], |r, v| {
        match v.and_then(|v| v.get(&key)) {
            Some(n) => r.bulk(n.format().as_bytes()),
            None => r.null(),
        }
        Ok(())
    })
}

/// MGET: like Redis, a key of another type reads as nil.
fn mget(ctx: &mut Ctx<'_, '_>, args: &[Vec<u8>]) -> Flow {
    let store = ctx.store();
    let mut values = Vec::with_capacity(args.len() - 1);
    for key in &args[1..] {
        let v = store.read_view_key(key, |v| v.and_then(|v| v.get(key)));
        match v {
            Ok(n) => values.push(n.map(|n| n.format())),
            Err(Error::WrongType) => values.push(None),
            Err(e) => {
                ctx.engine_error(&e);
                return Flow::Continue;
            }
        }
    }
    ctx.reply.array(values.len());
    for v in values {
        match v {
            Some(s) => ctx.reply.bulk(s.as_bytes()),
            None => ctx.reply.null(),
        }
    }
    Flow::Continue
}

fn view_range(ctx: &mut Ctx<'_, '_>, args: &[Vec<u8>]) -> Flow {
    let q = match parse_view_range(&argv(args)) {
        Ok(q) => q,
        Err(e) => {
            ctx.reply.error(&e.to_string());
            return Flow::Continue;
        }
    };
    on_view(ctx, &q.key, &[KeyType::Series], |r, v| {
        let buckets = v
            .and_then(|v| v.bucket_range(&q.key, q.from, q.to))
            .unwrap_or_default();
        r.array(buckets.len());
        for (start, b) in buckets {
            r.array(3);
            r.int(i64::try_from(start).unwrap_or(i64::MAX));
            r.int(i64::try_from(b.count).unwrap_or(i64::MAX));
            r.bulk(b.sum.format().as_bytes());
        }
        Ok(())
    })
}

fn geo_search(ctx: &mut Ctx<'_, '_>, args: &[Vec<u8>]) -> Flow {
    let a = argv(args);
    let Some(cmd) = GeoCmd::from_name(a[0]) else {
        return ctx.syntax_error();
    };
    on_zset(ctx, a[1], |r, z| {
        let q = parse_geosearch(cmd, &a, z)?;
        if let Some((target, dist)) = &q.store {
            return Err(CmdError::StoreRefused {
                cmd: String::from_utf8_lossy(a[0]).to_ascii_uppercase(),
                option: if *dist { "STOREDIST" } else { "STORE" }.into(),
                key: String::from_utf8_lossy(&target[..target.len().min(128)]).into_owned(),
            });
        }
        let hits = q.run(z);
        r.array(hits.len());
        let extras = usize::from(q.withdist) + usize::from(q.withhash) + usize::from(q.withcoord);
        for h in hits {
            if extras == 0 {
                r.bulk(&h.member);
                continue;
            }
            r.array(1 + extras);
            r.bulk(&h.member);
            if q.withdist {
                r.bulk(format_distance(h.dist).as_bytes());
            }
            if q.withhash {
                r.int(i64::try_from(h.hash).unwrap_or(i64::MAX));
            }
            if q.withcoord {
                r.array(2);
                r.bulk(format_human(h.lon).as_bytes());
                r.bulk(format_human(h.lat).as_bytes());
            }
        }
        Ok(())
    })
}

fn geodist(ctx: &mut Ctx<'_, '_>, args: &[Vec<u8>]) -> Flow {
    let q = match parse_geodist(&argv(args)) {
        Ok(q) => q,
        Err(e) => return err(ctx, &e),
    };
    on_zset(ctx, &q.key, |r, z| {
        match q.run(z) {
            Some(d) => r.bulk(format_distance(d).as_bytes()),
            None => r.null(),
        }
        Ok(())
    })
}

fn geopos(ctx: &mut Ctx<'_, '_>, args: &[Vec<u8>]) -> Flow {
    let q = match parse_geopos(&argv(args)) {
        Ok(q) => q,
        Err(e) => return err(ctx, &e),
    };
    on_zset(ctx, &q.key, |r, z| {
        let pos = q.positions(z);
        r.array(pos.len());
        for p in pos {
            match p {
                Some([lon, lat]) => {
                    r.array(2);
                    r.bulk(format_human(lon).as_bytes());
                    r.bulk(format_human(lat).as_bytes());
                }
                None => r.null_array(),
            }
        }
        Ok(())
    })
}

fn geohash(ctx: &mut Ctx<'_, '_>, args: &[Vec<u8>]) -> Flow {
    let q = match parse_geohash(&argv(args)) {
        Ok(q) => q,
        Err(e) => return err(ctx, &e),
    };
    on_zset(ctx, &q.key, |r, z| {
        let hashes = q.hashes(z);
        r.array(hashes.len());
        for h in hashes {
            match h {
                Some(s) => r.bulk(s.as_bytes()),
                None => r.null(),
            }
        }
        Ok(())
    })
}

fn err(ctx: &mut Ctx<'_, '_>, e: &CmdError) -> Flow {
    ctx.reply.error(&e.to_string());
    Flow::Continue
}
