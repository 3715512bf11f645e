use std::collections::{BTreeMap, HashMap};

use proptest::prelude::*;

use super::*;
use crate::view::View;
use crate::view::counter::Windows;
use crate::view::num::format_double;

fn argv(s: &str) -> Vec<&[u8]> {
    s.split(' ').map(str::as_bytes).collect()
}

fn parse(s: &str) -> Result<ViewSpec, String> {
    parse_view_create(&argv(s)).map_err(|e| e.to_string())
}

#[test]
fn parses_every_kind() {
    let s = parse("VIEW.CREATE top ON orders FROM 0 WHERE status paid WHERE amount >= 10 ZINCRBY lb:{region} MEMBER {user} SCORE {amount}").unwrap();
    assert_eq!(s.name, b"top");
    assert_eq!(s.source, b"orders");
    assert_eq!(s.start, Start::Beginning);
    assert_eq!(
        s.filter,
        vec![
            Cond::Eq(b"status".to_vec(), b"paid".to_vec()),
            Cond::Num(b"amount".to_vec(), CmpOp::Ge, 10.0)
        ]
    );
    let Kind::ZSet {
        key,
        member,
        score,
        incr,
        flags,
    } = &s.kind
    else {
        panic!("kind")
    };
    assert_eq!(key.text(), b"lb:{region}");
    assert_eq!(member.text(), b"{user}");
    assert_eq!(score, &Value::Field(b"amount".to_vec()));
    assert!(*incr && *flags == AddFlags::default());

    let s = parse("view.create best on scores from 1700000000000-5 zadd best MEMBER {player} SCORE {points} gt").unwrap();
    assert_eq!(
        s.start,
        Start::Id {
            ms: 1_700_000_000_000,
            seq: 5
        }
    );
    assert!(matches!(
        s.kind,
        Kind::ZSet {
            incr: false,
            flags: AddFlags { gt: true, .. },
            ..
        }
    ));

    let s = parse("VIEW.CREATE n ON orders FROM $ COUNT orders:{region}").unwrap();
    assert_eq!(s.start, Start::End);
    assert_eq!(
        s.kind,
        Kind::Counter {
            key: Template::parse(b"orders:{region}").unwrap(),
            by: Amount::Const(Number::Int(1)),
            mode: CounterMode::Total
        }
    );

    let s = parse("VIEW.CREATE rl ON requests COUNT rate:{user} WINDOW 60 KEEP 3").unwrap();
    assert!(matches!(
        s.kind,
        Kind::Counter {
            mode: CounterMode::Window {
                window_ms: 60_000,
                keep: 3
            },
            ..
        }
    ));

    let s = parse(
        "VIEW.CREATE ts ON orders COUNT sales:{region} BY {amount} BUCKETS 60000 RETAIN 1440",
    )
    .unwrap();
    assert!(matches!(
        s.kind,
        Kind::Counter {
            mode: CounterMode::Buckets {
                bucket_ms: 60_000,
                retention: Retention::Buckets(1440)
            },
            ..
        }
    ));

    let s = parse("VIEW.CREATE g ON rides WHERE kind != test GEOADD drivers:{city} MEMBER {driver} LON {lon} LAT {lat}").unwrap();
    assert_eq!(s.filter, vec![Cond::Ne(b"kind".to_vec(), b"test".to_vec())]);
    assert!(matches!(s.kind, Kind::Geo { .. }));
    // A spec survives the WAL encoding.
    assert_eq!(ViewSpec::from_bytes(&s.to_bytes()).unwrap(), s);
    assert!(ViewSpec::from_bytes(&[0xff, 0xff]).is_err());
}

#[test]
fn reports_clear_errors() {
    let cases = [
        (
            "VIEW.CREATE v ON s",
            "ERR wrong number of arguments for 'view.create' command",
        ),
        (
            "VIEW.CREATE v FROM 0 COUNT k",
            "ERR VIEW.CREATE needs ON <stream>",
        ),
        (
            "VIEW.CREATE v ON s FROM 0",
            "ERR VIEW.CREATE needs one of ZADD, ZINCRBY, COUNT or GEOADD",
        ),
        (
            "VIEW.CREATE v ON s COUNT a ZADD b",
            "ERR only one of ZADD, ZINCRBY, COUNT or GEOADD can be specified",
        ),
        (
            "VIEW.CREATE v ON s COUNT a MEMBER {x}",
            "ERR MEMBER is not valid for COUNT views",
        ),
        (
            "VIEW.CREATE v ON s ZADD a SCORE 1",
            "ERR ZADD views need MEMBER",
        ),
        (
            "VIEW.CREATE v ON s ZADD a MEMBER {m}",
            "ERR ZADD views need SCORE",
        ),
        (
            "VIEW.CREATE v ON s GEOADD a MEMBER {m} LON {x}",
            "ERR GEOADD views need LAT",
        ),
        (
            "VIEW.CREATE v ON s ZADD a{b MEMBER {m} SCORE 1",
            "ERR invalid template 'a{b'",
        ),
        (
            "VIEW.CREATE v ON s ZADD a MEMBER {} SCORE 1",
            "ERR invalid template '{}'",
        ),
        (
            "VIEW.CREATE v ON s ZADD a MEMBER {m} SCORE abc",
            "ERR SCORE needs a number or a {field}",
        ),
        (
            "VIEW.CREATE v ON s ZADD a MEMBER {m} SCORE 1 NX XX",
            "ERR XX and NX options at the same time are not compatible",
        ),
        (
            "VIEW.CREATE v ON s ZADD a MEMBER {m} SCORE 1 GT LT",
            "ERR GT, LT, and/or NX options at the same time are not compatible",
        ),
        (
            "VIEW.CREATE v ON s COUNT a WINDOW 0",
            "ERR WINDOW must be a positive integer",
        ),
        (
            "VIEW.CREATE v ON s COUNT a WINDOW 5 BUCKETS 10",
            "ERR only one of WINDOW and BUCKETS can be specified",
        ),
        (
            "VIEW.CREATE v ON s COUNT a KEEP 5",
            "ERR KEEP requires WINDOW",
        ),
        (
            "VIEW.CREATE v ON s COUNT a RETAINMS 5",
            "ERR RETAINMS requires BUCKETS",
        ),
        (
            "VIEW.CREATE v ON s FROM abc COUNT a",
            "ERR Invalid stream ID specified as stream command argument",
        ),
        (
            "VIEW.CREATE v ON s WHERE a > b COUNT a",
            "ERR WHERE > needs a number",
        ),
        (
            "VIEW.CREATE v ON s COUNT a BY x",
            "ERR BY needs a number or a {field}",
        ),
        ("VIEW.CREATE v ON s COUNT a FOO", "ERR syntax error"),
        ("VIEW.CREATE v ON s COUNT a WINDOW", "ERR syntax error"),
    ];
    for (cmd, want) in cases {
        assert_eq!(parse(cmd), Err(want.to_string()), "{cmd}");
    }
    let q = parse_view_range(&argv("VIEW.RANGE sales:eu 1000 +")).unwrap();
    assert_eq!((q.from, q.to), (1000, u64::MAX));
    assert_eq!(
        parse_view_range(&argv("VIEW.RANGE k x +"))
            .unwrap_err()
            .to_string(),
        "ERR value is not an integer or out of range"
    );
}

#[test]
fn templates_render_and_escape() {
    let t = Template::parse(b"a:{x}:{{lit}}:{y}").unwrap();
    let f: Vec<(&[u8], &[u8])> = vec![(b"x", b"1"), (b"y", b"2"), (b"x", b"ignored")];
    assert_eq!(t.render(&f), Some(b"a:1:{lit}:2".to_vec()));
    assert_eq!(t.text(), b"a:{x}:{{lit}}:{y}");
    assert_eq!(t.render(&[(b"x", b"1")]), None);
    assert!(Template::parse(b"a}").is_none());
}

#[test]
fn leaderboard_example() {
    let spec = parse("VIEW.CREATE top ON orders WHERE status paid ZINCRBY lb:{region} MEMBER {user} SCORE {amount}").unwrap();
    let mut v = View::new(spec);
    let ev = |r: &'static str,
              u: &'static str,
              a: &'static str,
              s: &'static str|
     -> Vec<(&'static [u8], &'static [u8])> {
        vec![
            (b"region", r.as_bytes()),
            (b"user", u.as_bytes()),
            (b"amount", a.as_bytes()),
            (b"status", s.as_bytes()),
        ]
    };
    assert_eq!(
        v.apply(1, &ev("eu", "ann", "10", "paid")),
        Ok(vec![b"lb:eu".to_vec()])
    );
    v.apply(2, &ev("eu", "bob", "7.5", "paid")).unwrap();
    v.apply(3, &ev("eu", "ann", "5", "paid")).unwrap();
    v.apply(4, &ev("eu", "bob", "100", "refunded")).unwrap();
    v.apply(5, &ev("eu", "bob", "x", "paid")).unwrap();
    let z = v.zset(b"lb:eu").unwrap();
    let top: Vec<_> = z
        .range_by_rank(0, 9, true)
        .into_iter()
        .map(|(m, s)| (String::from_utf8_lossy(m).into_owned(), format_double(s)))
        .collect();
    assert_eq!(
        top,
        [
            ("ann".to_string(), "15".to_string()),
            ("bob".to_string(), "7.5".to_string())
        ]
    );
    assert_eq!(
        v.stats(),
        crate::view::Stats {
            applied: 3,
            filtered: 1,
            skipped: 1
        }
    );
    assert_eq!(v.key_type().name(), "zset");
}

// ------------------------------------------------------------ model tests

#[derive(Debug, Clone)]
struct Ev {
    t: u64,
    region: &'static str,
    user: String,
    amount: String,
    lon: String,
    lat: String,
}

fn ev() -> impl Strategy<Value = Ev> {
    (
        0u64..5_000,
        prop::sample::select(vec!["eu", "us", "ap"]),
        0u8..8,
        prop_oneof![8 => (-5i32..40).prop_map(|a| a.to_string()), 1 => Just("n/a".to_string()), 1 => Just("2.5".to_string())],
        -1900i32..1900,
        -900i32..900,
    )
        .prop_map(|(dt, region, u, amount, lon, lat)| Ev {
            t: dt,
            region,
            user: format!("u{u}"),
            amount,
            lon: format!("{}", f64::from(lon) / 10.0),
            lat: format!("{}", f64::from(lat) / 10.0),
        })
}

/// An event's fields, owned.
type Fields = Vec<(Vec<u8>, Vec<u8>)>;

fn fields(e: &Ev) -> Fields {
    vec![
        (b"region".to_vec(), e.region.as_bytes().to_vec()),
        (b"user".to_vec(), e.user.as_bytes().to_vec()),
        (b"amount".to_vec(), e.amount.as_bytes().to_vec()),
        (b"lon".to_vec(), e.lon.as_bytes().to_vec()),
        (b"lat".to_vec(), e.lat.as_bytes().to_vec()),
    ]
}

/// Everything a view holds, as text, for comparisons.
fn dump(v: &View) -> BTreeMap<Vec<u8>, String> {
    let mut out = BTreeMap::new();
    for k in v.keys() {
        let s = if let Some(z) = v.zset(&k) {
            z.iter()
                .map(|(m, s)| format!("{}={} ", String::from_utf8_lossy(m), format_double(s)))
                .collect()
        } else if let Some(n) = v.get(&k) {
            n.format()
        } else {
            format!("{:?}", v.bucket_range(&k, 0, u64::MAX))
        };
        out.insert(k, s);
    }
    out
}

const SPECS: [&str; 6] = [
    "VIEW.CREATE a ON s WHERE amount >= 0 ZINCRBY lb:{region} MEMBER {user} SCORE {amount}",
    "VIEW.CREATE b ON s ZADD best:{region} MEMBER {user} SCORE {amount} GT",
    "VIEW.CREATE c ON s WHERE region != ap COUNT sum:{region} BY {amount}",
    "VIEW.CREATE d ON s COUNT rate:{user} WINDOW 1 KEEP 2",
    "VIEW.CREATE e ON s COUNT ts:{region} BY {amount} BUCKETS 250 RETAIN 4",
    "VIEW.CREATE f ON s GEOADD pos:{region} MEMBER {user} LON {lon} LAT {lat}",
];

/// Direct model of each spec, computed from the events without the view code.
fn model(which: usize, events: &[(u64, Ev)]) -> BTreeMap<Vec<u8>, String> {
    let num = |s: &str| {
        crate::view::num::parse_i64(s.as_bytes())
            .map(|i| i as f64)
            .or_else(|| s.parse::<f64>().ok())
    };
    let mut out: BTreeMap<Vec<u8>, String> = BTreeMap::new();
    match which {
        0 | 1 => {
            let mut sets: BTreeMap<String, BTreeMap<String, f64>> = BTreeMap::new();
            for (_, e) in events {
                let Some(a) = num(&e.amount) else { continue };
                let key = format!("{}:{}", if which == 0 { "lb" } else { "best" }, e.region);
                if which == 0 && a < 0.0 {
                    continue;
                }
                let set = sets.entry(key).or_default();
                let cur = set.get(&e.user).copied();
                let new = if which == 0 {
                    cur.unwrap_or(0.0) + a
                } else {
                    cur.map_or(a, |c| c.max(a))
                };
                set.insert(e.user.clone(), new);
            }
            for (k, set) in sets {
                let mut v: Vec<_> = set.into_iter().collect();
                v.sort_by(|x, y| x.1.total_cmp(&y.1).then(x.0.cmp(&y.0)));
                out.insert(
                    k.into_bytes(),
                    v.iter()
                        .map(|(m, s)| format!("{m}={} ", format_double(*s)))
                        .collect(),
                );
            }
        }
        2 => {
            let mut sums: BTreeMap<String, Number> = BTreeMap::new();
            for (_, e) in events {
                if e.region == "ap" {
                    continue;
                }
                let Some(a) = Number::parse(e.amount.as_bytes()) else {
                    continue;
                };
                let s = sums.entry(format!("sum:{}", e.region)).or_default();
                *s = s.plus(a);
            }
            out.extend(sums.into_iter().map(|(k, v)| (k.into_bytes(), v.format())));
        }
        3 => {
            let mut per: BTreeMap<String, BTreeMap<u64, i64>> = BTreeMap::new();
            for (t, e) in events {
                let w = t - t % 1000;
                let s = per.entry(e.user.clone()).or_default();
                let newest = s.keys().next_back().copied().unwrap_or(w);
                if w + 2000 <= newest {
                    continue;
                }
                *s.entry(w).or_default() += 1;
                let newest = newest.max(w);
                s.retain(|k, _| k + 2000 > newest);
            }
            for (u, s) in per {
                for (w, c) in s {
                    out.insert(
                        Windows::window_key(format!("rate:{u}").as_bytes(), w),
                        c.to_string(),
                    );
                }
            }
        }
        _ => unreachable!("models 0-3 only"),
    }
    out
}

fn run(v: &mut View, events: &[(u64, Ev)]) {
    run_loading(v, events, &[]);
}

/// Applies events; an event for an evicted unit loads it from `spilled`
/// (the eviction records, by position) first, as the engine does.
fn run_loading(v: &mut View, events: &[(u64, Ev)], spilled: &[Vec<u8>]) {
    for (t, e) in events {
        let f = fields(e);
        let fr: Vec<(&[u8], &[u8])> = f
            .iter()
            .map(|(k, v)| (k.as_slice(), v.as_slice()))
            .collect();
        if let Err(ev) = v.apply(*t, &fr) {
            v.load_unit(&ev.unit, &spilled[ev.pos as usize]).unwrap();
            assert!(v.apply(*t, &fr).is_ok());
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 64, ..ProptestConfig::default() })]

    /// Each view kind equals a model of the events; evicting keys mid-way and
    /// rebuilding them from the log, or restoring a snapshot mid-way and
    /// continuing, gives the same state as an uninterrupted run.
    #[test]
    fn views_match_models_and_survive_eviction(raw in proptest::collection::vec(ev(), 1..120),
                                               which in 0usize..6, cut in 0usize..120, victims in proptest::collection::vec(0usize..40, 0..6)) {
        // Event time never decreases in a stream.
        let mut t = 1_000_000u64;
        let events: Vec<(u64, Ev)> = raw.into_iter().map(|e| { t += e.t / 20; (t, e) }).collect();
        let spec = parse_view_create(&argv(SPECS[which])).unwrap();
        let mut full = View::new(spec.clone());
        run(&mut full, &events);
        if which <= 3 {
            prop_assert_eq!(dump(&full), model(which, &events));
        }
        let cut = cut.min(events.len());
        // Snapshot at the cut, restore, continue.
        let mut a = View::new(spec.clone());
        run(&mut a, &events[..cut]);
        let mut b = View::restore(spec.clone(), &a.snapshot()).unwrap();
        prop_assert_eq!(dump(&a), dump(&b));
        run(&mut b, &events[cut..]);
        prop_assert_eq!(dump(&b), dump(&full));
        // Evict some units at the cut (their state into "records"), keep
        // applying (events for an evicted unit load it first), then load
        // whatever is still evicted.
        let mut c = View::new(spec);
        run(&mut c, &events[..cut]);
        let keys = c.keys();
        let mut evicted = Vec::new();
        let mut spilled: Vec<Vec<u8>> = Vec::new();
        for i in &victims {
            if let Some(k) = keys.get(i % keys.len().max(1)) {
                let unit = c.unit_of(k).to_vec();
                if c.is_evicted(k) {
                    continue;
                }
                let before = c.mem_bytes();
                let (state, freed) = c.take_unit(&unit).unwrap();
                prop_assert_eq!(before - c.mem_bytes(), freed);
                c.mark_evicted(&unit, spilled.len() as u64);
                spilled.push(state);
                evicted.push(k.clone());
            }
        }
        run_loading(&mut c, &events[cut..], &spilled);
        let still: Vec<(Vec<u8>, u64)> = c.evicted_units().map(|(u, p)| (u.to_vec(), p)).collect();
        for (unit, pos) in still {
            c.load_unit(&unit, &spilled[pos as usize]).unwrap();
        }
        for e in &evicted {
            prop_assert!(!c.is_evicted(e));
        }
        prop_assert_eq!(dump(&c), dump(&full));
        prop_assert_eq!(c.mem_bytes(), full.mem_bytes());
        let mut units = c.units();
        units.sort();
        let mut want: Vec<Vec<u8>> = full.keys().iter().map(|k| full.unit_of(k).to_vec()).collect();
        want.sort();
        want.dedup();
        prop_assert_eq!(units, want);
    }
}

#[test]
fn geo_view_indexes_positions() {
    let spec =
        parse("VIEW.CREATE g ON rides GEOADD drivers MEMBER {id} LON {lon} LAT {lat}").unwrap();
    let mut v = View::new(spec);
    let e = |id: &'static str,
             lon: &'static str,
             lat: &'static str|
     -> Vec<(&'static [u8], &'static [u8])> {
        vec![
            (b"id", id.as_bytes()),
            (b"lon", lon.as_bytes()),
            (b"lat", lat.as_bytes()),
        ]
    };
    v.apply(1, &e("Palermo", "13.361389", "38.115556")).unwrap();
    v.apply(2, &e("Catania", "15.087269", "37.502669")).unwrap();
    v.apply(3, &e("Pole", "0", "89")).unwrap();
    assert_eq!(v.stats().skipped, 1, "latitude beyond 85.05 is skipped");
    let z = v.zset(b"drivers").unwrap();
    assert_eq!(
        format_double(z.score(b"Palermo").unwrap()),
        "3479099956230698"
    );
    let d = crate::view::geo::member_distance(z, b"Palermo", b"Catania").unwrap();
    assert_eq!(crate::view::num::format_distance(d), "166274.1516");
    // Moving a member replaces its position.
    assert_eq!(
        v.apply(4, &e("Palermo", "15.087269", "37.502669")),
        Ok(vec![b"drivers".to_vec()])
    );
    assert_eq!(
        v.apply(5, &e("Palermo", "15.087269", "37.502669")),
        Ok(Vec::<Vec<u8>>::new())
    );
    let hm: HashMap<_, _> = v
        .zset(b"drivers")
        .unwrap()
        .iter()
        .map(|(m, s)| (m.to_vec(), s))
        .collect();
    assert_eq!(hm[&b"Palermo".to_vec()], hm[&b"Catania".to_vec()]);
}

fn template_strategy() -> impl Strategy<Value = Template> {
    proptest::collection::vec(
        prop_oneof![
            "[a-z:]{1,4}".prop_map(|l| Part::Lit(l.into_bytes())),
            "[a-z]{1,3}".prop_map(|f| Part::Field(f.into_bytes())),
            Just(Part::Lit(b"{x}".to_vec())),
        ],
        1..4,
    )
    .prop_map(|parts| Template::parse(&Template(parts).text()).unwrap_or(Template(vec![])))
}

fn value_strategy() -> impl Strategy<Value = Value> {
    prop_oneof![
        "[a-z]{1,3}".prop_map(|f| Value::Field(f.into_bytes())),
        (-1e6f64..1e6).prop_map(Value::Const)
    ]
}

fn spec_strategy() -> impl Strategy<Value = ViewSpec> {
    let start = prop_oneof![
        Just(Start::Beginning),
        Just(Start::End),
        (1u64..u64::MAX, any::<u64>()).prop_map(|(ms, seq)| Start::Id { ms, seq })
    ];
    let cond = prop_oneof![
        ("[a-z]{1,3}", "[a-z0-9<>=]{1,3}")
            .prop_map(|(f, v)| Cond::Eq(f.into_bytes(), v.into_bytes())),
        ("[a-z]{1,3}", "[a-z0-9]{1,3}").prop_map(|(f, v)| Cond::Ne(f.into_bytes(), v.into_bytes())),
        ("[a-z]{1,3}", 0usize..4, -100.0f64..100.0).prop_map(|(f, op, n)| {
            Cond::Num(
                f.into_bytes(),
                [CmpOp::Lt, CmpOp::Le, CmpOp::Gt, CmpOp::Ge][op],
                n,
            )
        }),
    ];
    let amount = prop_oneof![
        "[a-z]{1,3}".prop_map(|f| Amount::Field(f.into_bytes())),
        any::<i64>().prop_map(|i| Amount::Const(Number::Int(i))),
        (-1e9f64..1e9).prop_map(|f| Amount::Const(Number::Float(f))),
    ];
    let mode = prop_oneof![
        Just(CounterMode::Total),
        (1u64..100_000, 1u32..100).prop_map(|(s, keep)| CounterMode::Window {
            window_ms: s * 1000,
            keep
        }),
        (
            1u64..1_000_000,
            prop_oneof![
                Just(Retention::Forever),
                (1u32..1000).prop_map(Retention::Buckets),
                (1u64..1_000_000).prop_map(Retention::Ms)
            ]
        )
            .prop_map(|(bucket_ms, retention)| CounterMode::Buckets {
                bucket_ms,
                retention
            }),
    ];
    let flags = (any::<bool>(), any::<bool>(), 0usize..3).prop_map(|(nx, xx, g)| AddFlags {
        nx: nx && !xx && g == 0,
        xx,
        gt: g == 1,
        lt: g == 2,
    });
    let kind = prop_oneof![
        (
            template_strategy(),
            template_strategy(),
            value_strategy(),
            any::<bool>(),
            flags
        )
            .prop_map(|(key, member, score, incr, flags)| Kind::ZSet {
                key,
                member,
                score,
                incr,
                flags
            }),
        (template_strategy(), amount, mode).prop_map(|(key, by, mode)| Kind::Counter {
            key,
            by,
            mode
        }),
        (
            template_strategy(),
            template_strategy(),
            value_strategy(),
            value_strategy()
        )
            .prop_map(|(key, member, lon, lat)| Kind::Geo {
                key,
                member,
                lon,
                lat
            }),
    ];
    (
        "[a-z]{1,5}",
        "[a-z]{1,5}",
        start,
        proptest::collection::vec(cond, 0..3),
        kind,
    )
        .prop_map(|(name, source, start, filter, kind)| ViewSpec {
            name: name.into_bytes(),
            source: source.into_bytes(),
            start,
            filter,
            kind,
        })
}

proptest! {
    /// VIEW.INFO's definition parses back to the same spec, and the WAL
    /// encoding round-trips.
    #[test]
    fn command_and_bytes_round_trip(spec in spec_strategy()) {
        prop_assume!(match &spec.kind {
            Kind::ZSet { key, member, .. } | Kind::Geo { key, member, .. } => !key.0.is_empty() && !member.0.is_empty(),
            Kind::Counter { key, .. } => !key.0.is_empty(),
        });
        let cmd = spec.to_command();
        let argv: Vec<&[u8]> = cmd.iter().map(Vec::as_slice).collect();
        prop_assert_eq!(parse_view_create(&argv), Ok(spec.clone()));
        prop_assert_eq!(ViewSpec::from_bytes(&spec.to_bytes()).unwrap(), spec);
    }
}
