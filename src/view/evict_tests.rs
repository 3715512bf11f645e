//! Views under a memory cap: the engine-independent half of the issue's
//! "views 20x larger than maxmemory" scenario. Keys are evicted by the
//! sampling evictor into eviction records (here a vector), events and
//! reads of evicted units load them back, and every read equals an
//! unevicted reference.

use crate::memory::{EvictionConfig, Evictor, Oom, Policy, ViewKey, check_denyoom};
use crate::view::View;
use crate::view::num::format_double;
use crate::view::spec::parse_view_create;

type Log = Vec<(u64, Vec<(Vec<u8>, Vec<u8>)>)>;

fn spec(s: &str) -> crate::view::spec::ViewSpec {
    let argv: Vec<&[u8]> = s.split(' ').map(str::as_bytes).collect();
    parse_view_create(&argv).unwrap()
}

fn dump(v: &View, key: &[u8]) -> Option<String> {
    if let Some(z) = v.zset(key) {
        return Some(
            z.iter()
                .map(|(m, s)| format!("{}={} ", String::from_utf8_lossy(m), format_double(s)))
                .collect(),
        );
    }
    v.get(key).map(|n| n.format())
}

fn run(definition: &str, policy: Policy, key_of: impl Fn(u64) -> Vec<u8>) -> (u64, u64) {
    let mut reference = View::new(spec(definition));
    let mut view = View::new(spec(definition));
    let mut x = 12345u64;
    let mut rnd = move || {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        x
    };
    let events: Log = (0..2000u64)
        .map(|i| {
            let r = rnd();
            let f = vec![
                (b"region".to_vec(), format!("r{}", r % 60).into_bytes()),
                (b"user".to_vec(), format!("u{}", (r >> 8) % 40).into_bytes()),
                (
                    b"amount".to_vec(),
                    ((r >> 16) % 100).to_string().into_bytes(),
                ),
            ];
            (1_000_000 + i * 250, f)
        })
        .collect();
    // The cap: 1/20 of what the complete view needs.
    for (t, f) in &events {
        let fr: Vec<(&[u8], &[u8])> = f
            .iter()
            .map(|(k, v)| (k.as_slice(), v.as_slice()))
            .collect();
        reference.apply(*t, &fr).unwrap();
    }
    let cap = (reference.mem_bytes() / 20) as u64;
    let mut reference = View::new(spec(definition));
    let cfg = EvictionConfig {
        maxmemory: cap,
        policy,
        ..Default::default()
    };
    let mut evictor = Evictor::new(99);
    let mut spilled: Vec<Vec<u8>> = Vec::new();
    let (mut evicted, mut rebuilds) = (0u64, 0u64);
    let mut load = |view: &mut View, unit: &[u8], pos: u64, spilled: &[Vec<u8>]| {
        view.load_unit(unit, &spilled[pos as usize]).unwrap();
        rebuilds += 1;
    };
    for (i, (t, f)) in events.iter().enumerate() {
        let now = *t;
        let fr: Vec<(&[u8], &[u8])> = f
            .iter()
            .map(|(k, v)| (k.as_slice(), v.as_slice()))
            .collect();
        reference.apply(*t, &fr).unwrap();
        let changed = match view.apply(*t, &fr) {
            Ok(c) => c,
            Err(e) => {
                load(&mut view, &e.unit, e.pos, &spilled);
                let bytes = view.unit_bytes(&e.unit);
                let k = ViewKey {
                    view: 0,
                    key: e.unit.clone(),
                };
                evictor.upsert(&k, bytes, &cfg, now);
                view.apply(*t, &fr).unwrap()
            }
        };
        for k in changed {
            let unit = view.unit_of(&k).to_vec();
            let bytes = view.unit_bytes(&unit);
            evictor.upsert(&ViewKey { view: 0, key: unit }, bytes, &cfg, now);
        }
        // A read every few events, of a random key.
        if i % 4 == 0 {
            let key = key_of(rnd());
            let unit = view.unit_of(&key).to_vec();
            if let Some(pos) = view.evicted_at(&unit) {
                load(&mut view, &unit, pos, &spilled);
                let bytes = view.unit_bytes(&unit);
                evictor.upsert(&ViewKey { view: 0, key: unit }, bytes, &cfg, now);
            } else {
                evictor.touch(&ViewKey { view: 0, key: unit }, &cfg, now);
            }
            assert_eq!(
                dump(&view, &key),
                dump(&reference, &key),
                "read of {:?}",
                String::from_utf8_lossy(&key)
            );
        }
        let used = view.mem_bytes() as u64;
        let out = evictor.evict(used, &cfg, now, |k| {
            let Some((state, freed)) = view.take_unit(&k.key) else {
                return 0;
            };
            view.mark_evicted(&k.key, spilled.len() as u64);
            spilled.push(state);
            freed
        });
        evicted += out.evicted.len() as u64;
        assert!(
            view.mem_bytes() as u64 <= cap || out.still_over,
            "over the cap after eviction"
        );
        assert!(!out.still_over || evictor.is_empty());
        assert_eq!(evictor.bytes(), view.mem_bytes(), "registry and view agree");
    }
    (evicted, rebuilds)
}

#[test]
fn zset_views_twenty_times_the_cap_stay_correct() {
    for policy in [
        Policy::AllkeysLru,
        Policy::AllkeysLfu,
        Policy::AllkeysRandom,
    ] {
        let (evicted, rebuilds) = run(
            "VIEW.CREATE v ON s ZINCRBY lb:{region} MEMBER {user} SCORE {amount}",
            policy,
            |r| format!("lb:r{}", r % 60).into_bytes(),
        );
        assert!(
            evicted > 50 && rebuilds > 50,
            "{policy}: evicted {evicted}, rebuilds {rebuilds}"
        );
    }
}

#[test]
fn window_views_twenty_times_the_cap_stay_correct() {
    let (evicted, rebuilds) = run(
        "VIEW.CREATE v ON s COUNT rate:{user} WINDOW 60 KEEP 3",
        Policy::AllkeysLru,
        |r| {
            // Reads land on windows around the stream's time range.
            let w = 1_000_000 / 60_000 * 60 + (r % 30) * 60;
            format!("rate:u{}:{w}", (r >> 8) % 40).into_bytes()
        },
    );
    assert!(
        evicted > 20 && rebuilds > 5,
        "evicted {evicted}, rebuilds {rebuilds}"
    );
}

#[test]
fn noeviction_refuses_growth() {
    let cfg = EvictionConfig {
        maxmemory: 1000,
        policy: Policy::NoEviction,
        ..Default::default()
    };
    let mut view = View::new(spec("VIEW.CREATE v ON s COUNT n:{k}"));
    let mut evictor = Evictor::new(1);
    let mut refused = 0;
    for i in 0..100u64 {
        let used = view.mem_bytes() as u64;
        let out = evictor.evict(used, &cfg, i, |_| 0);
        assert!(out.evicted.is_empty());
        // XADD is denyoom: over the cap the event is refused and nothing changes.
        if check_denyoom(used, cfg.maxmemory, true) == Err(Oom) {
            refused += 1;
            continue;
        }
        let key = format!("{i}");
        let changed = view.apply(i, &[(b"k", key.as_bytes())]).unwrap();
        for k in changed {
            evictor.upsert(
                &ViewKey {
                    view: 0,
                    key: k.clone(),
                },
                view.unit_bytes(&k),
                &cfg,
                i,
            );
        }
    }
    assert!(refused > 50);
    assert!(
        view.mem_bytes() as u64 <= 1000 + 200,
        "one command of overshoot at most"
    );
}
