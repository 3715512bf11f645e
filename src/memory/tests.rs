use super::*;
use proptest::prelude::{prop_assert, prop_assert_eq, proptest};
use std::collections::HashMap;

#[test]
fn policy_names_round_trip() {
    let names: Vec<String> = Policy::all().map(|p| p.to_string()).collect();
    assert_eq!(
        names,
        [
            "noeviction",
            "allkeys-lru",
            "allkeys-lfu",
            "allkeys-random",
            "volatile-lru",
            "volatile-lfu",
            "volatile-random",
            "volatile-ttl"
        ]
    );
    for p in Policy::all() {
        assert_eq!(p.name().parse::<Policy>(), Ok(p));
        assert_eq!(p.name().to_uppercase().parse::<Policy>(), Ok(p));
    }
    assert_eq!(
        "allkeys-lrx".parse::<Policy>(),
        Err(UnknownPolicy("allkeys-lrx".into()))
    );
    assert_eq!(Policy::default(), Policy::NoEviction);
}

#[test]
fn oom_text_and_denyoom() {
    assert_eq!(
        Oom.to_string(),
        "OOM command not allowed when used memory > 'maxmemory'."
    );
    assert!(is_denyoom(b"XADD", None));
    assert!(is_denyoom(b"xgroup", Some(b"CREATE")));
    assert!(!is_denyoom(b"xgroup", Some(b"destroy")));
    assert!(is_denyoom(b"VIEW.CREATE", None));
    assert!(!is_denyoom(b"xack", None));
    assert!(!is_denyoom(b"xdel", None));
    assert_eq!(check_denyoom(10, 5, true), Err(Oom));
    assert_eq!(check_denyoom(10, 5, false), Ok(()));
    assert_eq!(check_denyoom(10, 0, true), Ok(()), "0 = no limit");
    assert_eq!(check_denyoom(5, 5, true), Ok(()));
}

#[test]
fn lru_clock_wraps() {
    assert_eq!(lru_clock(5_000), 5);
    assert_eq!(lru_idle_ms(5, 15_000), 10_000);
    // The 24-bit clock wraps after ~194 days; idle time stays positive.
    let wrap_ms = u64::from(LRU_CLOCK_MAX) * 1000 + 3000;
    assert_eq!(lru_idle_ms(LRU_CLOCK_MAX - 1, wrap_ms), 3000);
}

#[test]
fn lfu_counter_is_logarithmic_and_decays() {
    // Below LFU_INIT_VAL every access counts.
    assert_eq!(lfu_log_incr(0, 10, 0.99), 1);
    assert_eq!(lfu_log_incr(255, 10, 0.0), 255);
    // At counter 15 with factor 10 the chance is 1/101.
    assert_eq!(lfu_log_incr(15, 10, 0.5), 15);
    assert_eq!(lfu_log_incr(15, 10, 0.005), 16);
    let mut rng = Rng::new(7);
    let mut c = LFU_INIT_VAL;
    for _ in 0..100_000 {
        c = lfu_log_incr(c, 10, rng.next_f64());
    }
    // Redis's documented table for lfu-log-factor 10: ~142 after 100K hits.
    assert!((120..170).contains(&c), "counter {c}");
    let mut c1k = LFU_INIT_VAL;
    for _ in 0..1_000 {
        c1k = lfu_log_incr(c1k, 10, rng.next_f64());
    }
    assert!((14..24).contains(&c1k), "1K hits: {c1k} (Redis table: 18)");
    // Decay: one point per minute since the last decrement.
    let access = (u32::from(lfu_minutes(0)) << 8) | 10;
    assert_eq!(lfu_decr(access, 0, 1), 10);
    assert_eq!(lfu_decr(access, 3 * 60_000, 1), 7);
    assert_eq!(lfu_decr(access, 30 * 60_000, 1), 0);
    assert_eq!(lfu_decr(access, 3 * 60_000, 0), 10, "decay disabled");
}

#[test]
fn estimates_grow_with_names() {
    assert_eq!(round8(1), 8);
    assert_eq!(round8(8), 8);
    assert_eq!(alloc_bytes(1), 32);
    assert_eq!(alloc_bytes(24), 32);
    assert_eq!(alloc_bytes(25), 48);
    assert!(counter_key_bytes(4) > 40);
    assert_eq!(STREAM_BLOCK_BYTES, 80 * 3 / 2 + 16);
    assert_eq!(GROUP_PENDING_BYTES, (40 * 3 / 2 + 16) + (16 * 3 / 2 + 16));
    assert!(consumer_bytes(5) > 64);
}

fn key(i: usize) -> ViewKey {
    ViewKey {
        view: (i % 3) as u32,
        key: format!("k{i}").into_bytes(),
    }
}

#[test]
fn lru_evicts_the_least_recently_used() {
    let cfg = EvictionConfig {
        maxmemory: 1000,
        policy: Policy::AllkeysLru,
        samples: 64,
        ..Default::default()
    };
    let mut e = Evictor::new(1);
    for i in 0..20 {
        e.upsert(&key(i), 100, &cfg, 1_000 * i as u64);
    }
    e.touch(&key(0), &cfg, 100_000);
    let out = e.evict(2000, &cfg, 100_000, |_| 100);
    assert_eq!(out.evicted.len(), 10);
    assert!(!out.still_over);
    // With 64 samples over 20 keys the pool sees every key: oldest first.
    let names: Vec<_> = out
        .evicted
        .iter()
        .map(|k| String::from_utf8_lossy(&k.key).into_owned())
        .collect();
    assert_eq!(
        names,
        ["k1", "k2", "k3", "k4", "k5", "k6", "k7", "k8", "k9", "k10"]
    );
    assert_eq!(e.len(), 10);
    assert_eq!(e.bytes(), 1000);
}

#[test]
fn lfu_keeps_hot_keys() {
    let cfg = EvictionConfig {
        maxmemory: 500,
        policy: Policy::AllkeysLfu,
        samples: 64,
        ..Default::default()
    };
    let mut e = Evictor::new(3);
    for i in 0..10 {
        e.upsert(&key(i), 100, &cfg, 0);
    }
    for _ in 0..200 {
        for i in 0..5 {
            e.touch(&key(i), &cfg, 1000);
        }
    }
    let out = e.evict(1000, &cfg, 1000, |_| 100);
    let mut got: Vec<_> = out.evicted.iter().map(|k| k.key.clone()).collect();
    got.sort();
    let mut want: Vec<_> = (5..10).map(|i| key(i).key).collect();
    want.sort();
    assert_eq!(got, want);
}

#[test]
fn noeviction_and_volatile_evict_nothing() {
    for policy in [
        Policy::NoEviction,
        Policy::VolatileLru,
        Policy::VolatileLfu,
        Policy::VolatileRandom,
        Policy::VolatileTtl,
    ] {
        let cfg = EvictionConfig {
            maxmemory: 100,
            policy,
            ..Default::default()
        };
        let mut e = Evictor::new(1);
        e.upsert(&key(1), 500, &cfg, 0);
        let out = e.evict(500, &cfg, 0, |_| 500);
        assert!(out.evicted.is_empty() && out.still_over, "{policy}");
        assert_eq!(check_denyoom(500, cfg.maxmemory, true), Err(Oom));
    }
}

proptest! {
    /// Any policy that evicts brings usage under the cap when keys suffice,
    /// evicts only registered keys, and never evicts one twice.
    #[test]
    fn eviction_reaches_the_cap(sizes in proptest::collection::vec(1usize..500, 1..80), cap in 0u64..20_000,
                                pol in 1usize..4, seed: u64, touches in proptest::collection::vec(0usize..80, 0..50)) {
        let policy = [Policy::AllkeysLru, Policy::AllkeysLfu, Policy::AllkeysRandom][pol - 1];
        let cfg = EvictionConfig { maxmemory: cap.max(1), policy, samples: 5, ..Default::default() };
        let mut e = Evictor::new(seed);
        let mut live: HashMap<ViewKey, usize> = HashMap::new();
        for (i, s) in sizes.iter().enumerate() {
            e.upsert(&key(i), *s, &cfg, i as u64 * 500);
            live.insert(key(i), *s);
        }
        for t in touches {
            e.touch(&key(t % sizes.len()), &cfg, 60_000);
        }
        let used: u64 = live.values().map(|s| *s as u64).sum();
        let out = e.evict(used, &cfg, 120_000, |k| live.remove(k).unwrap_or(0));
        let left: u64 = live.values().map(|s| *s as u64).sum();
        prop_assert!(left <= cfg.maxmemory || live.is_empty());
        prop_assert_eq!(out.still_over, left > cfg.maxmemory);
        prop_assert_eq!(used - out.freed, left);
        prop_assert_eq!(e.len(), live.len());
        prop_assert_eq!(e.bytes() as u64, left);
        let mut seen = std::collections::HashSet::new();
        for k in &out.evicted { prop_assert!(seen.insert(k.clone())); }
    }
}

#[test]
fn human_sizes_match_redis_info() {
    // INFO memory of redis-server 7.0.15.
    assert_eq!(bytes_to_human(0), "0B");
    assert_eq!(bytes_to_human(200), "200B");
    assert_eq!(bytes_to_human(1500), "1.46K");
    assert_eq!(bytes_to_human(32 * 1024), "32.00K");
    assert_eq!(bytes_to_human(2_097_152), "2.00M");
    assert_eq!(bytes_to_human(25_275_557_888), "23.54G");
}
