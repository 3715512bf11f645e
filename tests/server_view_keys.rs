//! View keys in the key space, through RESP on an in-process server
//! (127.0.0.1, port 0): SCAN pages follow COUNT, the cursor survives keys
//! being added and removed, every key present for the whole scan comes back
//! exactly once, MATCH / TYPE filter view keys too; GEORADIUS STORE, which
//! would create a key no view derives from a stream, is refused with an
//! error that says so.

use std::collections::{BTreeMap, BTreeSet};

use redis::aio::MultiplexedConnection;

mod server_common;
use server_common::TestServer;

async fn connect(url: &str) -> MultiplexedConnection {
    let client = redis::Client::open(url).expect("client");
    client
        .get_multiplexed_async_connection()
        .await
        .expect("connect")
}

async fn call<T: redis::FromRedisValue>(c: &mut MultiplexedConnection, args: &[&str]) -> T {
    let mut cmd = redis::cmd(args[0]);
    for a in &args[1..] {
        cmd.arg(*a);
    }
    cmd.query_async(c).await.expect("reply")
}

/// One SCAN call: next cursor and the keys of the page.
async fn scan(
    c: &mut MultiplexedConnection,
    cursor: &str,
    extra: &[&str],
) -> (String, Vec<String>) {
    let mut args = vec!["SCAN", cursor];
    args.extend_from_slice(extra);
    call(c, &args).await
}

/// 3 streams, 60 counter keys (`c:0`..`c:59`) and 2 sorted sets.
async fn fill(c: &mut MultiplexedConnection) {
    let _: String = call(c, &["VIEW.CREATE", "cnt", "ON", "ev", "COUNT", "c:{k}"]).await;
    let _: String = call(
        c,
        &[
            "VIEW.CREATE",
            "lb",
            "ON",
            "ev",
            "ZINCRBY",
            "z:{g}",
            "MEMBER",
            "{k}",
            "SCORE",
            "1",
        ],
    )
    .await;
    for i in 0..60 {
        let k = i.to_string();
        let g = if i % 2 == 0 { "even" } else { "odd" };
        let _: String = call(c, &["XADD", "ev", "*", "k", &k, "g", g]).await;
    }
    for s in ["s1", "s2"] {
        let _: String = call(c, &["XADD", s, "*", "f", "v"]).await;
    }
}

#[tokio::test]
async fn scan_pages_through_view_keys_and_survives_churn() {
    let srv = TestServer::start(&[]).await;
    let mut c = connect(&srv.url()).await;
    fill(&mut c).await;
    let stable: BTreeSet<String> = (0..60)
        .map(|i| format!("c:{i}"))
        .chain(["z:even", "z:odd", "ev", "s1", "s2"].map(String::from))
        .collect();
    let dbsize: usize = call(&mut c, &["DBSIZE"]).await;
    assert_eq!(dbsize, stable.len());

    let mut seen: BTreeMap<String, usize> = BTreeMap::new();
    let mut cursor = "0".to_string();
    let mut pages = 0;
    loop {
        let (next, keys) = scan(&mut c, &cursor, &["COUNT", "7"]).await;
        pages += 1;
        assert!(keys.len() <= 14, "page of {} keys", keys.len());
        for k in keys {
            *seen.entry(k).or_default() += 1;
        }
        // Churn between pages: new counter keys and a new stream appear,
        // and a stream that is not part of the stable set comes and goes.
        let k = format!("new{pages}");
        let _: String = call(&mut c, &["XADD", "ev", "*", "k", &k, "g", "even"]).await;
        let _: String = call(&mut c, &["XADD", &format!("tmp{pages}"), "*", "f", "v"]).await;
        if pages > 1 {
            let _: i64 = call(&mut c, &["DEL", &format!("tmp{}", pages - 1)]).await;
        }
        if next == "0" {
            break;
        }
        cursor = next;
        assert!(pages < 200, "scan does not end");
    }
    assert!(pages >= 60 / 7, "SCAN paged view keys: {pages} pages");
    for k in &stable {
        assert_eq!(seen.get(k), Some(&1), "{k} returned exactly once");
    }
    srv.stop().await;
}

#[tokio::test]
async fn scan_filters_view_keys_by_match_and_type() {
    let srv = TestServer::start(&[]).await;
    let mut c = connect(&srv.url()).await;
    fill(&mut c).await;
    async fn all(c: &mut MultiplexedConnection, extra: &[&str]) -> BTreeSet<String> {
        let mut out = BTreeSet::new();
        let mut cursor = "0".to_string();
        loop {
            let (next, keys) = scan(c, &cursor, extra).await;
            for k in keys {
                assert!(out.insert(k.clone()), "{k} twice");
            }
            if next == "0" {
                return out;
            }
            cursor = next;
        }
    }
    let zsets = all(&mut c, &["TYPE", "zset", "COUNT", "5"]).await;
    assert_eq!(zsets, BTreeSet::from(["z:even".into(), "z:odd".into()]));
    let ones = all(&mut c, &["MATCH", "c:1*", "COUNT", "4"]).await;
    let want: BTreeSet<String> = std::iter::once(1)
        .chain(10..20)
        .map(|i| format!("c:{i}"))
        .collect();
    assert_eq!(ones, want);
    let streams = all(&mut c, &["TYPE", "stream", "COUNT", "2"]).await;
    assert_eq!(
        streams,
        BTreeSet::from(["ev".into(), "s1".into(), "s2".into()])
    );
    let strings = all(&mut c, &["TYPE", "string"]).await;
    assert_eq!(strings.len(), 60);
    // KEYS agrees with a full SCAN.
    let keys: BTreeSet<String> = call::<Vec<String>>(&mut c, &["KEYS", "*"])
        .await
        .into_iter()
        .collect();
    assert_eq!(keys, all(&mut c, &[]).await);
    assert_eq!(keys.len(), 65);
    srv.stop().await;
}

#[tokio::test]
async fn georadius_store_is_refused_with_a_reason_and_writes_nothing() {
    let srv = TestServer::start(&[]).await;
    let mut c = connect(&srv.url()).await;
    let _: String = call(
        &mut c,
        &[
            "VIEW.CREATE",
            "fleet",
            "ON",
            "pos",
            "GEOADD",
            "drivers",
            "MEMBER",
            "{d}",
            "LON",
            "{lon}",
            "LAT",
            "{lat}",
        ],
    )
    .await;
    for (d, lon, lat) in [("a", "12.49", "41.89"), ("b", "12.50", "41.90")] {
        let _: String = call(
            &mut c,
            &["XADD", "pos", "*", "d", d, "lon", lon, "lat", lat],
        )
        .await;
    }
    let mut raw = server_common::Raw::connect(srv.addr).await;
    let cases = [
        (
            vec![
                "GEORADIUS",
                "drivers",
                "12.49",
                "41.89",
                "5",
                "km",
                "STORE",
                "near",
            ],
            "GEORADIUS STORE",
            "STORE",
        ),
        (
            vec![
                "georadiusbymember",
                "drivers",
                "a",
                "5",
                "km",
                "storedist",
                "near",
            ],
            "GEORADIUSBYMEMBER STOREDIST",
            "STOREDIST",
        ),
    ];
    for (args, what, option) in cases {
        let got = raw.call(&server_common::cmd(&args), 1).await;
        let want = format!(
            "-ERR {what} is not supported: it would write 'near', which no view derives from a \
             stream (eddy keys are streams and the views over them); run the query without \
             {option}\r\n"
        );
        assert_eq!(String::from_utf8_lossy(&got), want);
    }
    // The same query without STORE answers; nothing was written.
    let near: Vec<String> = call(
        &mut c,
        &["GEORADIUS", "drivers", "12.49", "41.89", "5", "km", "ASC"],
    )
    .await;
    assert_eq!(near, ["a", "b"]);
    let exists: i64 = call(&mut c, &["EXISTS", "near"]).await;
    assert_eq!(exists, 0);
    srv.stop().await;
}
