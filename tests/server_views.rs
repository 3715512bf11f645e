//! Views over the wire, against the real server binary (a child process on
//! 127.0.0.1, port 0): reply shapes in RESP2 and RESP3, kill -9 with
//! periodic checkpoints, a workload 20x larger than maxmemory under
//! allkeys-lru, noeviction's OOM, and GEO replies compared with a real
//! redis-server when one is installed.

use std::collections::BTreeMap;
use std::io::{Read, Write};
use std::net::TcpStream;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use redis::Value;

mod server_common;

/// The server child; killed (by its PID) when dropped.
struct Eddy {
    child: Child,
    port: u16,
}

impl Drop for Eddy {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn start(dir: &std::path::Path, extra: &[&str]) -> Eddy {
    let (child, port) = server_common::start_child(dir, extra);
    Eddy { child, port }
}

fn conn(port: u16) -> redis::Connection {
    let c = redis::Client::open(format!("redis://127.0.0.1:{port}/")).expect("client");
    c.get_connection().expect("connect")
}

fn q(c: &mut redis::Connection, args: &[&str]) -> Value {
    let mut cmd = redis::cmd(args[0]);
    for a in &args[1..] {
        cmd.arg(*a);
    }
    match cmd.query::<Value>(c) {
        Ok(v) => v,
        Err(e) => Value::SimpleString(format!("ERR-REPLY {e}")),
    }
}

fn s(c: &mut redis::Connection, args: &[&str]) -> String {
    match q(c, args) {
        Value::BulkString(b) => String::from_utf8_lossy(&b).into_owned(),
        Value::SimpleString(s) => s,
        Value::Okay => "OK".into(),
        Value::Int(n) => n.to_string(),
        Value::Nil => "nil".into(),
        other => format!("{other:?}"),
    }
}

/// Raw request/reply bytes: sends `req`, reads until `want` bytes arrived
/// (or 5 s passed).
fn raw(stream: &mut TcpStream, req: &str, want: usize) -> String {
    let args: Vec<&str> = req.split(' ').collect();
    let mut out = format!("*{}\r\n", args.len());
    for a in &args {
        out.push_str(&format!("${}\r\n{a}\r\n", a.len()));
    }
    stream.write_all(out.as_bytes()).expect("write");
    let mut got = Vec::new();
    let deadline = Instant::now() + Duration::from_secs(5);
    let mut buf = [0u8; 4096];
    while got.len() < want && Instant::now() < deadline {
        match stream.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => got.extend_from_slice(&buf[..n]),
            Err(_) => {}
        }
    }
    String::from_utf8_lossy(&got).into_owned()
}

fn check(stream: &mut TcpStream, req: &str, expect: &str) {
    assert_eq!(raw(stream, req, expect.len()), expect, "{req}");
}

fn info_field(c: &mut redis::Connection, section: &str, field: &str) -> u64 {
    let text = s(c, &["INFO", section]);
    text.lines()
        .find_map(|l| l.strip_prefix(&format!("{field}:")))
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or_else(|| panic!("INFO {section} has no {field}"))
}

#[test]
fn view_reads_have_redis_reply_shapes_in_resp2_and_resp3() {
    let dir = tempfile::tempdir().expect("tempdir");
    let eddy = start(dir.path(), &[]);
    let mut c = conn(eddy.port);
    for (u, n) in [
        ("alice", "10"),
        ("bob", "7"),
        ("alice", "5"),
        ("carol", "2.5"),
    ] {
        q(
            &mut c,
            &[
                "XADD", "orders", "*", "region", "eu", "user", u, "amount", n,
            ],
        );
    }
    assert_eq!(
        s(
            &mut c,
            &[
                "VIEW.CREATE",
                "top",
                "ON",
                "orders",
                "ZINCRBY",
                "lb:{region}",
                "MEMBER",
                "{user}",
                "SCORE",
                "{amount}"
            ]
        ),
        "OK"
    );
    s(
        &mut c,
        &[
            "VIEW.CREATE",
            "rev",
            "ON",
            "orders",
            "COUNT",
            "rev:{region}",
            "BY",
            "{amount}",
        ],
    );
    s(
        &mut c,
        &[
            "VIEW.CREATE",
            "fleet",
            "ON",
            "pos",
            "GEOADD",
            "d:{city}",
            "MEMBER",
            "{id}",
            "LON",
            "{lon}",
            "LAT",
            "{lat}",
        ],
    );
    s(
        &mut c,
        &[
            "VIEW.CREATE",
            "ts",
            "ON",
            "orders",
            "COUNT",
            "ts:{region}",
            "BY",
            "{amount}",
            "BUCKETS",
            "1000",
        ],
    );
    q(
        &mut c,
        &[
            "XADD", "pos", "1000-1", "city", "rome", "id", "d1", "lon", "12.49", "lat", "41.89",
        ],
    );
    let mut r = TcpStream::connect(("127.0.0.1", eddy.port)).expect("raw");
    r.set_read_timeout(Some(Duration::from_millis(200)))
        .expect("timeout");
    check(
        &mut r,
        "ZRANGE lb:eu 0 -1 REV WITHSCORES",
        "*6\r\n$5\r\nalice\r\n$2\r\n15\r\n$3\r\nbob\r\n$1\r\n7\r\n$5\r\ncarol\r\n$3\r\n2.5\r\n",
    );
    check(
        &mut r,
        "ZREVRANGEBYSCORE lb:eu 10 (2.5 LIMIT 0 1",
        "*1\r\n$3\r\nbob\r\n",
    );
    check(&mut r, "ZSCORE lb:eu bob", "$1\r\n7\r\n");
    check(
        &mut r,
        "ZMSCORE lb:eu bob nobody",
        "*2\r\n$1\r\n7\r\n$-1\r\n",
    );
    check(&mut r, "ZREVRANK lb:eu bob", ":1\r\n");
    check(&mut r, "ZRANK lb:eu nobody", "$-1\r\n");
    check(&mut r, "ZCARD lb:eu", ":3\r\n");
    check(&mut r, "ZCOUNT lb:eu 5 +inf", ":2\r\n");
    check(&mut r, "ZCARD missing", ":0\r\n");
    check(&mut r, "GET rev:eu", "$4\r\n24.5\r\n");
    check(
        &mut r,
        "MGET rev:eu lb:eu missing",
        "*3\r\n$4\r\n24.5\r\n$-1\r\n$-1\r\n",
    );
    check(&mut r, "TYPE lb:eu", "+zset\r\n");
    check(&mut r, "TYPE rev:eu", "+string\r\n");
    check(
        &mut r,
        "GET lb:eu",
        "-WRONGTYPE Operation against a key holding the wrong kind of value\r\n",
    );
    check(
        &mut r,
        "ZCARD orders",
        "-WRONGTYPE Operation against a key holding the wrong kind of value\r\n",
    );
    check(
        &mut r,
        "GEOPOS d:rome d1 nope",
        "*2\r\n*2\r\n$20\r\n12.48999863862991333\r\n$20\r\n41.88999953498329631\r\n*-1\r\n",
    );
    check(&mut r, "GEOHASH d:rome d1", "*1\r\n$11\r\nsr2yk1yfyj0\r\n");
    // One bucket: [start ms (13 digits), count, sum].
    let range = raw(&mut r, "VIEW.RANGE ts:eu 0 +", 38);
    assert!(range.starts_with("*1\r\n*3\r\n:"), "{range}");
    assert!(range.ends_with("000\r\n:4\r\n$4\r\n24.5\r\n"), "{range}");
    check(
        &mut r,
        "DEL lb:eu",
        "-ERR key 'lb:eu' belongs to view 'top': view keys are derived from their stream and read-only (VIEW.DROP removes them)\r\n",
    );
    check(
        &mut r,
        "VIEW.CREATE top ON orders COUNT x",
        "-ERR view 'top' already exists\r\n",
    );
    check(&mut r, "VIEW.INFO nope", "-ERR no such view 'nope'\r\n");
    // RESP3: scores are doubles, WITHSCORES pairs are arrays.
    assert!(raw(&mut r, "HELLO 3", 10).starts_with('%'));
    check(
        &mut r,
        "ZRANGE lb:eu 0 0 WITHSCORES",
        "*1\r\n*2\r\n$5\r\ncarol\r\n,2.5\r\n",
    );
    check(&mut r, "ZSCORE lb:eu alice", ",15\r\n");
    check(&mut r, "ZSCORE lb:eu nobody", "_\r\n");
    check(
        &mut r,
        "ZREVRANK lb:eu alice WITHSCORE",
        "*2\r\n:0\r\n,15\r\n",
    );
    let info = raw(&mut r, "VIEW.INFO top", 400);
    assert!(
        info.starts_with("%12\r\n$4\r\nname\r\n$3\r\ntop\r\n"),
        "{info}"
    );
    assert!(info.contains("$5\r\nstate\r\n$5\r\nready\r\n"), "{info}");
    assert!(info.contains("$14\r\nevents_applied\r\n:4\r\n"), "{info}");
    assert_eq!(s(&mut c, &["DBSIZE"]), "6");
    assert_eq!(s(&mut c, &["VIEW.DROP", "top"]), "1");
    assert_eq!(s(&mut c, &["TYPE", "lb:eu"]), "none");
}

/// XADDs to `ev` (`*` IDs), one per field list, sent in pipelines of 500.
fn xadd_pipelined(
    c: &mut redis::Connection,
    events: impl IntoIterator<Item = Vec<(&'static str, String)>>,
) {
    let mut pipe = redis::pipe();
    for fields in events {
        let cmd = pipe.cmd("XADD").arg("ev").arg("*");
        for (f, v) in fields {
            cmd.arg(f).arg(v);
        }
        cmd.ignore();
        if pipe.cmd_iter().count() >= 500 {
            pipe.query::<()>(c).expect("pipeline");
            pipe = redis::pipe();
        }
    }
    if pipe.cmd_iter().count() > 0 {
        pipe.query::<()>(c).expect("pipeline");
    }
}

/// `n` members of `keys` keys; event `i` adds `i % 7 + 1` to one member.
fn workload(
    c: &mut redis::Connection,
    from: usize,
    n: usize,
    keys: usize,
    model: &mut BTreeMap<String, BTreeMap<String, i64>>,
) {
    let events = (from..from + n).map(|i| {
        let (k, m, add) = (
            format!("k{}", i % keys),
            format!("m{}", (i / keys) % 60),
            (i % 7 + 1) as i64,
        );
        *model
            .entry(format!("lb:{k}"))
            .or_default()
            .entry(m.clone())
            .or_default() += add;
        vec![("k", k), ("m", m), ("n", add.to_string())]
    });
    xadd_pipelined(c, events);
}

fn read_zset(c: &mut redis::Connection, key: &str) -> BTreeMap<String, i64> {
    let v: Vec<(String, f64)> = redis::cmd("ZRANGE")
        .arg(key)
        .arg(0)
        .arg(-1)
        .arg("WITHSCORES")
        .query(c)
        .expect("zrange");
    v.into_iter().map(|(m, s)| (m, s as i64)).collect()
}

#[test]
fn views_twenty_times_larger_than_maxmemory_stay_correct_under_allkeys_lru() {
    let dir = tempfile::tempdir().expect("tempdir");
    let eddy = start(dir.path(), &[]);
    let mut c = conn(eddy.port);
    s(
        &mut c,
        &[
            "VIEW.CREATE",
            "lb",
            "ON",
            "ev",
            "ZINCRBY",
            "lb:{k}",
            "MEMBER",
            "{m}",
            "SCORE",
            "{n}",
        ],
    );
    let mut model = BTreeMap::new();
    let keys = 150;
    workload(&mut c, 0, 9000, keys, &mut model);
    let views = info_field(&mut c, "memory", "used_memory_views");
    let cap = views / 20;
    assert!(cap > 10_000, "views hold {views} bytes");
    s(
        &mut c,
        &["CONFIG", "SET", "maxmemory-policy", "allkeys-lru"],
    );
    assert_eq!(
        s(&mut c, &["CONFIG", "SET", "maxmemory", &cap.to_string()]),
        "OK"
    );
    // CONFIG SET evicted at once.
    assert!(info_field(&mut c, "memory", "used_memory") <= cap);
    assert!(info_field(&mut c, "stats", "evicted_keys") > 0);
    // Evicted keys still exist for clients.
    assert_eq!(s(&mut c, &["DBSIZE"]), (keys + 1).to_string());
    assert_eq!(s(&mut c, &["TYPE", "lb:k0"]), "zset");
    // One key's worth of overshoot: a rebuilt key is added before the next
    // command evicts again.
    let slack = 60 * 200;
    for round in 0..2 {
        for (key, want) in &model {
            assert_eq!(&read_zset(&mut c, key), want, "round {round} {key}");
            let used = info_field(&mut c, "memory", "used_memory");
            assert!(used <= cap + slack, "used {used} cap {cap}");
        }
        // Events for evicted keys load the key back first.
        workload(&mut c, 9000 + round * 3000, 3000, keys, &mut model);
    }
    assert!(info_field(&mut c, "stats", "view_rebuilds") > 0);
    let evicted = info_field(&mut c, "stats", "evicted_keys");
    assert!(evicted > keys as u64, "evicted {evicted}");
    assert!(info_field(&mut c, "memory", "used_memory_peak") >= views);
    assert_eq!(
        s(&mut c, &["XLEN", "ev"]),
        "15000",
        "streams are never evicted"
    );
    // Evicted keys keep what they derived from entries since trimmed away,
    // in this process and after a restart.
    assert_eq!(s(&mut c, &["XTRIM", "ev", "MAXLEN", "10"]), "14990");
    for (key, want) in &model {
        assert_eq!(&read_zset(&mut c, key), want, "after XTRIM {key}");
    }
    drop(c);
    drop(eddy);
    let eddy = start(
        dir.path(),
        &[
            "--maxmemory",
            &cap.to_string(),
            "--maxmemory-policy",
            "allkeys-lru",
        ],
    );
    let mut c = conn(eddy.port);
    for (key, want) in &model {
        assert_eq!(&read_zset(&mut c, key), want, "after restart {key}");
    }
}

#[test]
fn noeviction_refuses_growth_with_redis_error_and_writes_nothing() {
    let dir = tempfile::tempdir().expect("tempdir");
    let eddy = start(dir.path(), &[]);
    let mut c = conn(eddy.port);
    s(
        &mut c,
        &["VIEW.CREATE", "cnt", "ON", "ev", "COUNT", "c:{k}"],
    );
    for _ in 0..50 {
        q(&mut c, &["XADD", "ev", "*", "k", "a"]);
    }
    assert_eq!(s(&mut c, &["CONFIG", "SET", "maxmemory", "100"]), "OK");
    let mut r = TcpStream::connect(("127.0.0.1", eddy.port)).expect("raw");
    r.set_read_timeout(Some(Duration::from_millis(200)))
        .expect("timeout");
    let oom = "-OOM command not allowed when used memory > 'maxmemory'.\r\n";
    check(&mut r, "XADD ev * k a", oom);
    check(&mut r, "VIEW.CREATE other ON ev COUNT o:{k}", oom);
    check(&mut r, "XADD fresh * k a", oom);
    assert_eq!(s(&mut c, &["XLEN", "ev"]), "50");
    assert_eq!(s(&mut c, &["EXISTS", "fresh"]), "0");
    assert_eq!(s(&mut c, &["GET", "c:a"]), "50");
    assert_eq!(
        q(&mut c, &["VIEW.LIST"]),
        Value::Array(vec![Value::BulkString(b"cnt".to_vec())])
    );
    assert_eq!(info_field(&mut c, "stats", "evicted_keys"), 0);
    // Reads and deletes still run.
    assert!(!s(&mut c, &["XRANGE", "ev", "-", "+", "COUNT", "1"]).is_empty());
    assert_eq!(s(&mut c, &["VIEW.DROP", "cnt"]), "1");
    assert_eq!(s(&mut c, &["DEL", "ev"]), "1");
    assert_eq!(s(&mut c, &["CONFIG", "SET", "maxmemory", "0"]), "OK");
    assert!(s(&mut c, &["XADD", "ev", "*", "k", "a"]).contains('-'));
}

fn next(state: &mut u64) -> u64 {
    *state ^= *state << 13;
    *state ^= *state >> 7;
    *state ^= *state << 17;
    *state
}

#[test]
fn views_survive_kill_9_with_every_acknowledged_event_applied_once() {
    let dir = tempfile::tempdir().expect("tempdir");
    let args = ["--appendfsync", "always", "--checkpoint-interval", "1"];
    let mut model_z: BTreeMap<String, BTreeMap<String, i64>> = BTreeMap::new();
    let mut model_c: BTreeMap<String, i64> = BTreeMap::new();
    let mut model_g: BTreeMap<String, (String, String)> = BTreeMap::new();
    let mut state = 0x1234_5678_9abc_def1u64;
    for round in 0..4 {
        let eddy = start(dir.path(), &args);
        let mut c = conn(eddy.port);
        if round == 0 {
            s(
                &mut c,
                &[
                    "VIEW.CREATE",
                    "z",
                    "ON",
                    "ev",
                    "ZINCRBY",
                    "z:{k}",
                    "MEMBER",
                    "{m}",
                    "SCORE",
                    "{n}",
                ],
            );
            s(
                &mut c,
                &[
                    "VIEW.CREATE",
                    "c",
                    "ON",
                    "ev",
                    "COUNT",
                    "c:{k}",
                    "BY",
                    "{n}",
                ],
            );
            s(
                &mut c,
                &[
                    "VIEW.CREATE",
                    "g",
                    "ON",
                    "ev",
                    "GEOADD",
                    "g:{k}",
                    "MEMBER",
                    "{m}",
                    "LON",
                    "{lon}",
                    "LAT",
                    "{lat}",
                ],
            );
        }
        // Everything acknowledged before the kill is in the views.
        for (k, want) in &model_z {
            assert_eq!(&read_zset(&mut c, k), want, "round {round} {k}");
        }
        for (k, want) in &model_c {
            assert_eq!(
                s(&mut c, &["GET", k]),
                want.to_string(),
                "round {round} {k}"
            );
        }
        for (km, (lon, lat)) in &model_g {
            let (k, m) = km.split_once(' ').expect("key member");
            let pos: Vec<Option<(f64, f64)>> = redis::cmd("GEOPOS")
                .arg(k)
                .arg(m)
                .query(&mut c)
                .expect("geopos");
            let (x, y) = pos[0].expect("member present");
            let (lx, ly): (f64, f64) = (lon.parse().expect("lon"), lat.parse().expect("lat"));
            assert!((x - lx).abs() < 1e-5 && (y - ly).abs() < 1e-5, "{km}");
        }
        let info = q(&mut c, &["VIEW.INFO", "z"]);
        assert!(format!("{info:?}").contains("ready"), "{info:?}");
        let n = 200 + next(&mut state) % 300;
        let started = Instant::now();
        for _ in 0..n {
            let k = format!("k{}", next(&mut state) % 5);
            let m = format!("m{}", next(&mut state) % 8);
            let add = (next(&mut state) % 10) as i64;
            let lon = format!("{:.4}", (next(&mut state) % 3000) as f64 / 100.0);
            let lat = format!("{:.4}", (next(&mut state) % 3000) as f64 / 100.0);
            let add_s = add.to_string();
            let reply = q(
                &mut c,
                &[
                    "XADD", "ev", "*", "k", &k, "m", &m, "n", &add_s, "lon", &lon, "lat", &lat,
                ],
            );
            assert!(matches!(reply, Value::BulkString(_)), "{reply:?}");
            *model_z
                .entry(format!("z:{k}"))
                .or_default()
                .entry(m.clone())
                .or_default() += add;
            *model_c.entry(format!("c:{k}")).or_default() += add;
            model_g.insert(format!("g:{k} {m}"), (lon, lat));
            if started.elapsed() > Duration::from_millis(1500) {
                break;
            }
        }
        drop(eddy); // SIGKILL, by PID
    }
}

/// GEO replies of a GEOADD view equal those of redis-server for the same points.
#[test]
fn geo_replies_match_redis_server() {
    if Command::new("redis-server")
        .arg("--version")
        .output()
        .is_err()
    {
        println!("skipped: redis-server is not on PATH, geo differential test not run");
        return;
    }
    let port = server_common::free_port();
    let mut redis = Command::new("redis-server")
        .args([
            "--port",
            &port.to_string(),
            "--bind",
            "127.0.0.1",
            "--save",
            "",
            "--appendonly",
            "no",
        ])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("spawn redis-server");
    let mut rc = None;
    for _ in 0..100 {
        if let Ok(c) = redis::Client::open(format!("redis://127.0.0.1:{port}/"))
            .and_then(|c| c.get_connection())
        {
            rc = Some(c);
            break;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    let Some(mut rc) = rc else {
        let _ = redis.kill();
        let _ = redis.wait();
        println!("skipped: redis-server did not start");
        return;
    };
    let dir = tempfile::tempdir().expect("tempdir");
    let eddy = start(dir.path(), &[]);
    let mut ec = conn(eddy.port);
    s(
        &mut ec,
        &[
            "VIEW.CREATE",
            "g",
            "ON",
            "pos",
            "GEOADD",
            "geo",
            "MEMBER",
            "{m}",
            "LON",
            "{lon}",
            "LAT",
            "{lat}",
        ],
    );
    let mut state = 0xfeed_beef_u64;
    for i in 0..400 {
        let lon = format!(
            "{:.6}",
            12.0 + (next(&mut state) % 200_000) as f64 / 100_000.0
        );
        let lat = format!(
            "{:.6}",
            41.0 + (next(&mut state) % 200_000) as f64 / 100_000.0
        );
        let m = format!("m{}", i % 300);
        q(
            &mut ec,
            &["XADD", "pos", "*", "m", &m, "lon", &lon, "lat", &lat],
        );
        q(&mut rc, &["GEOADD", "geo", &lon, &lat, &m]);
    }
    let queries: &[&[&str]] = &[
        &[
            "GEOSEARCH",
            "geo",
            "FROMLONLAT",
            "12.9",
            "41.9",
            "BYRADIUS",
            "20",
            "km",
            "ASC",
            "WITHDIST",
            "WITHCOORD",
            "WITHHASH",
        ],
        &[
            "GEOSEARCH",
            "geo",
            "FROMMEMBER",
            "m7",
            "BYBOX",
            "30",
            "40",
            "km",
            "DESC",
            "COUNT",
            "10",
            "WITHDIST",
        ],
        &[
            "GEOSEARCH",
            "geo",
            "FROMLONLAT",
            "13",
            "42",
            "BYRADIUS",
            "50",
            "mi",
            "COUNT",
            "5",
            "ANY",
        ],
        &[
            "GEORADIUS",
            "geo",
            "12.5",
            "41.5",
            "30",
            "km",
            "WITHDIST",
            "ASC",
        ],
        &["GEORADIUS_RO", "geo", "12.5", "41.5", "10000", "m"],
        &[
            "GEORADIUSBYMEMBER",
            "geo",
            "m3",
            "25",
            "km",
            "WITHCOORD",
            "DESC",
            "COUNT",
            "7",
        ],
        &["GEORADIUSBYMEMBER_RO", "geo", "m100", "5", "ft"],
        &["GEODIST", "geo", "m1", "m2", "km"],
        &["GEODIST", "geo", "m1", "nope"],
        &["GEOPOS", "geo", "m1", "m299", "nope"],
        &["GEOHASH", "geo", "m5", "m6", "nope"],
        &["ZRANGE", "geo", "0", "9", "WITHSCORES"],
        &["ZCOUNT", "geo", "-inf", "+inf"],
        &[
            "GEOSEARCH",
            "geo",
            "FROMMEMBER",
            "nope",
            "BYRADIUS",
            "1",
            "km",
        ],
        &[
            "GEOSEARCH",
            "geo",
            "FROMLONLAT",
            "200",
            "0",
            "BYRADIUS",
            "1",
            "km",
        ],
    ];
    for query in queries {
        assert_eq!(q(&mut ec, query), q(&mut rc, query), "{query:?}");
    }
    let _ = redis.kill();
    let _ = redis.wait();
}

/// VIEW.INFO as field -> value text.
fn view_info(c: &mut redis::Connection, name: &str) -> BTreeMap<String, String> {
    let Value::Array(items) = q(c, &["VIEW.INFO", name]) else {
        panic!("VIEW.INFO {name} is not an array");
    };
    let text = |v: &Value| match v {
        Value::BulkString(b) => String::from_utf8_lossy(b).into_owned(),
        Value::SimpleString(s) => s.clone(),
        Value::Int(n) => n.to_string(),
        other => format!("{other:?}"),
    };
    items
        .chunks(2)
        .map(|kv| (text(&kv[0]), text(&kv[1])))
        .collect()
}

/// A view over a long stream: VIEW.CREATE answers after the first step, the
/// build goes on while clients append and read, VIEW.INFO shows it, and a
/// kill -9 in the middle of the build loses nothing.
#[test]
fn a_long_build_runs_in_the_background_and_survives_kill_9() {
    let dir = tempfile::tempdir().expect("tempdir");
    let args = ["--appendfsync", "always"];
    let mut model: BTreeMap<String, i64> = BTreeMap::new();
    let add =
        |c: &mut redis::Connection, from: usize, n: usize, model: &mut BTreeMap<String, i64>| {
            let events = (from..from + n).map(|i| {
                let (u, amount) = (format!("u{}", i % 300), (i % 7 + 1) as i64);
                *model.entry(u.clone()).or_default() += amount;
                vec![("u", u), ("n", amount.to_string())]
            });
            xadd_pipelined(c, events);
        };
    let eddy = start(dir.path(), &args);
    let mut c = conn(eddy.port);
    add(&mut c, 0, 100_000, &mut model);
    // VIEW.INFO right behind VIEW.CREATE: the builder has done a few steps
    // of about a hundred at most.
    let (created, info): (String, Value) = redis::pipe()
        .cmd("VIEW.CREATE")
        .arg(
            "lb ON ev ZINCRBY lb MEMBER {u} SCORE {n}"
                .split(' ')
                .collect::<Vec<_>>(),
        )
        .cmd("VIEW.INFO")
        .arg("lb")
        .query(&mut c)
        .expect("create + info");
    assert_eq!(created, "OK");
    assert!(format!("{info:?}").contains("building"), "{info:?}");
    let info = view_info(&mut c, "lb");
    let lag: u64 = info["lag"].parse().expect("lag");
    assert!(lag > 0 && lag < 100_000, "{info:?}");
    // Appends and reads while it builds.
    add(&mut c, 100_000, 2_000, &mut model);
    assert_eq!(s(&mut c, &["XLEN", "ev"]), "102000");
    drop(eddy); // SIGKILL, by PID, most likely mid-build

    let eddy = start(dir.path(), &args);
    let mut c = conn(eddy.port);
    let deadline = Instant::now() + Duration::from_secs(120);
    loop {
        let info = view_info(&mut c, "lb");
        if info["state"] == "ready" {
            assert_eq!(info["lag"], "0");
            assert_eq!(info["events_applied"], "102000");
            break;
        }
        assert_eq!(info["state"], "building", "{info:?}");
        assert!(Instant::now() < deadline, "still building: {info:?}");
        std::thread::sleep(Duration::from_millis(20));
    }
    let got = read_zset(&mut c, "lb");
    assert_eq!(got.len(), model.len());
    for (u, want) in &model {
        assert_eq!(got.get(u), Some(want), "{u}");
    }
}
