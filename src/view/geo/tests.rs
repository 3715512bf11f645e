//! Differential tests: `testdata/redis70.txt` holds the replies of
//! redis-server 7.0.15 for 570 GEOADDed points (scores, GEOHASH, GEOPOS),
//! GEODIST pairs in every unit, and 178 GEOSEARCH queries (ASC WITHDIST
//! WITHHASH WITHCOORD), plus COUNT 5 DESC variants. Every string must match.

use super::*;
use crate::view::num::{format_distance, format_double, format_human, parse_strict_double};

const DATA: &str = include_str!("testdata/redis70.txt");

fn argv(s: &str) -> Vec<&[u8]> {
    s.split(' ').map(str::as_bytes).collect()
}

fn load() -> ZSet {
    let mut z = ZSet::new();
    for line in DATA.lines().filter(|l| l.starts_with("P ")) {
        let f: Vec<&str> = line.split(' ').collect();
        let lon = parse_strict_double(f[2].as_bytes()).unwrap();
        let lat = parse_strict_double(f[3].as_bytes()).unwrap();
        z.insert(f[1].as_bytes(), geo_score(lon, lat).unwrap());
    }
    z
}

#[test]
fn scores_hashes_positions_match_redis() {
    let z = load();
    let mut n = 0;
    for line in DATA.lines().filter(|l| l.starts_with("P ")) {
        let f: Vec<&str> = line.split(' ').collect();
        let score = z.score(f[1].as_bytes()).unwrap();
        assert_eq!(format_double(score), f[4], "score of {}", f[1]);
        assert_eq!(
            hash::geohash_string(score).as_deref(),
            Some(f[5]),
            "geohash of {}",
            f[1]
        );
        let [lon, lat] = position(&z, f[1].as_bytes()).unwrap();
        assert_eq!(
            (format_human(lon), format_human(lat)),
            (f[6].to_string(), f[7].to_string()),
            "pos {}",
            f[1]
        );
        n += 1;
    }
    assert_eq!(n, 570);
}

#[test]
fn distances_match_redis() {
    let z = load();
    let mut n = 0;
    for line in DATA.lines().filter(|l| l.starts_with("D ")) {
        let f: Vec<&str> = line.split(' ').collect();
        let q = parse_geodist(&argv(&format!("geodist g {} {} {}", f[1], f[2], f[3]))).unwrap();
        assert_eq!(
            q.run(Some(&z)).map(format_distance).as_deref(),
            Some(f[4]),
            "{line}"
        );
        n += 1;
    }
    assert!(n > 300);
}

#[test]
fn searches_match_redis() {
    let z = load();
    let mut lines = DATA.lines().peekable();
    let mut queries = 0;
    while let Some(line) = lines.next() {
        let (kind, q) = match line.split_once(' ') {
            Some(("Q", q)) => ("Q", q),
            Some(("C", q)) => ("C", q),
            _ => continue,
        };
        let mut want = Vec::new();
        for l in lines.by_ref() {
            if l == "E" {
                break;
            }
            want.push(l[2..].to_string());
        }
        let full = if kind == "Q" {
            format!("geosearch g {q} asc withdist withhash withcoord")
        } else {
            format!("geosearch g {q} count 5 desc withdist")
        };
        let parsed = parse_geosearch(GeoCmd::GeoSearch, &argv(&full), Some(&z)).unwrap();
        let got: Vec<String> = parsed
            .run(Some(&z))
            .iter()
            .map(|h| {
                let m = String::from_utf8_lossy(&h.member).into_owned();
                if kind == "Q" {
                    format!(
                        "{m} {} {} {} {}",
                        format_distance(h.dist),
                        h.hash,
                        format_human(h.lon),
                        format_human(h.lat)
                    )
                } else {
                    format!("{m} {}", format_distance(h.dist))
                }
            })
            .collect();
        assert_eq!(got, want, "{full}");
        queries += 1;
    }
    assert_eq!(queries, 178 + 26);
}

fn err(cmd: &str, z: Option<&ZSet>) -> String {
    let a = argv(cmd);
    let c = GeoCmd::from_name(a[0]).unwrap();
    parse_geosearch(c, &a, z).unwrap_err().to_string()
}

#[test]
fn errors_match_redis() {
    let mut z = ZSet::new();
    z.insert(b"Palermo", geo_score(13.361389, 38.115556).unwrap());
    z.insert(b"Catania", geo_score(15.087269, 37.502669).unwrap());
    let z = Some(&z);
    let cases = [
        (
            "geosearch g frommember Palermo byradius 2000 km any",
            "ERR the ANY argument requires COUNT argument",
        ),
        (
            "geosearch g frommember Palermo byradius 2000 km count 0",
            "ERR COUNT must be > 0",
        ),
        (
            "geosearch g frommember Palermo byradius -1 km",
            "ERR radius cannot be negative",
        ),
        (
            "geosearch g frommember Palermo bybox -1 2 km",
            "ERR height or width cannot be negative",
        ),
        (
            "geosearch g frommember Palermo byradius a km",
            "ERR need numeric radius",
        ),
        (
            "geosearch g frommember Palermo bybox a 2 km",
            "ERR need numeric width",
        ),
        (
            "geosearch g frommember Palermo bybox 1 a km",
            "ERR need numeric height",
        ),
        (
            "geosearch g frommember Palermo byradius 1 yd",
            "ERR unsupported unit provided. please use M, KM, FT, MI",
        ),
        (
            "geosearch g frommember nope byradius 1 km",
            "ERR could not decode requested zset member",
        ),
        (
            "geosearch g fromlonlat 1 2 frommember Palermo byradius 1 km",
            "ERR syntax error",
        ),
        (
            "geosearch g byradius 1 km",
            "ERR wrong number of arguments for 'geosearch' command",
        ),
        (
            "geosearch g frommember Palermo byradius 1 km bybox 1 1 km",
            "ERR syntax error",
        ),
        (
            "geosearch g fromlonlat 200 2 byradius 1 km",
            "ERR invalid longitude,latitude pair 200.000000,2.000000",
        ),
        (
            "geosearch g fromlonlat 1 100 byradius 1 km",
            "ERR invalid longitude,latitude pair 1.000000,100.000000",
        ),
        (
            "geosearch g fromlonlat a 2 byradius 1 km",
            "ERR value is not a valid float",
        ),
        (
            "geosearch g frommember Palermo byradius 1 km foo",
            "ERR syntax error",
        ),
        (
            "GEOSEARCH g fromlonlat 15 37 asc withdist",
            "ERR exactly one of BYRADIUS and BYBOX can be specified for GEOSEARCH",
        ),
        (
            "geosearch g byradius 1 km asc withdist",
            "ERR exactly one of FROMMEMBER or FROMLONLAT can be specified for geosearch",
        ),
        (
            "georadius g 15 37 200 km store x withdist",
            "ERR STORE option in GEORADIUS is not compatible with WITHDIST, WITHHASH and WITHCOORD options",
        ),
        (
            "georadius g 15 37 200",
            "ERR wrong number of arguments for 'georadius' command",
        ),
        ("georadius g 15 37 200 km count", "ERR syntax error"),
        (
            "georadius g 15 37 200 km count a",
            "ERR value is not an integer or out of range",
        ),
        ("georadius_ro g 15 37 200 km store x", "ERR syntax error"),
        (
            "georadiusbymember g nope 200 km",
            "ERR could not decode requested zset member",
        ),
    ];
    for (cmd, want) in cases {
        assert_eq!(err(cmd, z), want, "{cmd}");
    }
    // A missing key skips member lookups and yields an empty result.
    let a = argv("geosearch nokey frommember a byradius 1 km");
    let q = parse_geosearch(GeoCmd::GeoSearch, &a, None).unwrap();
    assert!(q.run(None).is_empty());
    let a = argv("georadiusbymember nokey m -1 km");
    assert!(parse_geosearch(GeoCmd::GeoRadiusByMember, &a, None).is_ok());
    assert_eq!(
        parse_geodist(&argv("geodist g Palermo Catania foo"))
            .unwrap_err()
            .to_string(),
        "ERR unsupported unit provided. please use M, KM, FT, MI"
    );
    assert_eq!(
        parse_geodist(&argv("geodist g a b km x")).unwrap_err(),
        CmdError::Syntax
    );
    assert_eq!(
        geo_score(200.0, 100.0).unwrap_err().to_string(),
        "ERR invalid longitude,latitude pair 200.000000,100.000000"
    );
}

#[test]
fn legacy_forms_match_redis() {
    let mut z = ZSet::new();
    z.insert(b"Palermo", geo_score(13.361389, 38.115556).unwrap());
    z.insert(b"Catania", geo_score(15.087269, 37.502669).unwrap());
    let show = |cmd: &str| -> Vec<String> {
        let a = argv(cmd);
        let q = parse_geosearch(GeoCmd::from_name(a[0]).unwrap(), &a, Some(&z)).unwrap();
        q.run(Some(&z))
            .iter()
            .map(|h| {
                format!(
                    "{} {}",
                    String::from_utf8_lossy(&h.member),
                    format_distance(h.dist)
                )
            })
            .collect()
    };
    // redis-server 7.0.15 replies (GEORADIUS without ASC keeps scan order).
    assert_eq!(
        show("georadius g 15 37 200 km withdist"),
        ["Palermo 190.4424", "Catania 56.4413"]
    );
    assert_eq!(
        show("georadiusbymember g Palermo 200 km withdist asc"),
        ["Palermo 0.0000", "Catania 166.2742"]
    );
    assert_eq!(
        show("geosearch g frommember Palermo bybox 400 400 km desc"),
        ["Catania 166.2742", "Palermo 0.0000"]
    );
    let q = parse_geohash(&argv("geohash g Palermo Catania nope")).unwrap();
    assert_eq!(
        q.hashes(Some(&z)),
        [Some("sqc8b49rny0".into()), Some("sqdtr74hyu0".into()), None]
    );
    let q = parse_geopos(&argv("geopos g Palermo nope")).unwrap();
    let p = q.positions(Some(&z));
    assert_eq!(format_human(p[0].unwrap()[0]), "13.36138933897018433");
    assert_eq!(p[1], None);
    assert_eq!(
        format_double(z.score(b"Palermo").unwrap()),
        "3479099956230698"
    );
}

#[test]
fn any_and_unsorted_orders_match_redis() {
    let z = load();
    let names = |cmd: &str| -> String {
        let a = argv(cmd);
        let q = parse_geosearch(GeoCmd::from_name(a[0]).unwrap(), &a, Some(&z)).unwrap();
        let v: Vec<String> = q
            .run(Some(&z))
            .iter()
            .map(|h| String::from_utf8_lossy(&h.member).into_owned())
            .collect();
        v.join(" ")
    };
    // redis-server 7.0.15 on the same 570 points: ANY stops in scan order;
    // without ASC/DESC the reply keeps scan order (cell by cell, by score).
    assert_eq!(
        names("geosearch t fromlonlat 15 37 byradius 2000 km count 3 any"),
        "s1 s109 s26"
    );
    assert_eq!(
        names("geosearch t fromlonlat 15 37 byradius 2000 km count 3 any desc"),
        "s26 s1 s109"
    );
    assert_eq!(
        names("geosearch t fromlonlat 151 -33 bybox 500 500 km count 4 any asc"),
        "a14 a74 a93 a91"
    );
    assert_eq!(names("georadius t 0 0 100 km count 2"), "o16 o15");
    assert_eq!(
        names("georadius t 13.4 38.1 300 km"),
        "s23 s105 s50 s42 s55 s86 s80 s95 s25 s40 s3 s8 s84 s85 s117 s101 s83 s41 s20 s13 s53 s113 \
         s116 s91 s11 s62 s92 s56 s49 s51 s37 s112 s102 s16 s54 s79 s15 s90 s67 s39 s69 s108 s32 s35 \
         s45 s64 s78 s34 s47 s72 s27 s18 s110 s119 s88 s10 s70 s43 s22 s59 s14 s73 s44 s52 s36 s111 \
         s9 s0 s68 s114 s74 s87 s65 s71 s38 s24 s118 s12 s76 s107 s5 s66 s60 s89 s106 s61 s81 s82"
    );
}
