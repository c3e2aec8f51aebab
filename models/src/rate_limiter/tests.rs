//! Unit tests: property tests of the pure algorithms and the store's counters, and the
//! component's handlers driven through the [`Harness`].

use clustersim_engine::testing::Harness;
use clustersim_engine::{Command, Component, ComponentId, Recorder, SimTime};
use proptest::prelude::*;

use super::algorithms::*;
use super::*;

const W: u64 = 1_000_000_000;

/// Sorted arrival instants from gaps.
fn instants(gaps: &[u64]) -> Vec<u64> {
    let mut t = 0;
    gaps.iter()
        .map(|g| {
            t += g;
            t
        })
        .collect()
}

/// Largest number of `admitted` instants in any half-open window `(t − len, t]`.
fn max_in_window(admitted: &[u64], len: u64) -> usize {
    let mut best = 0;
    let mut lo = 0;
    for hi in 0..admitted.len() {
        while admitted[lo] + len <= admitted[hi] {
            lo += 1;
        }
        best = best.max(hi - lo + 1);
    }
    best
}

fn run(state: &mut KeyState, ts: &[u64]) -> Vec<u64> {
    ts.iter()
        .copied()
        .filter(|&t| state.try_acquire(t, 1).admitted())
        .collect()
}

proptest! {
    /// Token bucket: over any interval of length T at most `burst + rate·T` admissions
    /// (tolerance: one token for float rounding of the refill).
    #[test]
    fn token_bucket_never_exceeds_rate_plus_burst(
        gaps in prop::collection::vec(0u64..20_000_000, 1..400),
        rate in 10.0f64..500.0, burst in 1u32..20, len_ms in 1u64..3000,
    ) {
        let ts = instants(&gaps);
        let adm = run(&mut KeyState::TokenBucket(TokenBucket::new(rate, burst)), &ts);
        let len = len_ms * 1_000_000;
        // Any (t − len, t] holds at most burst + rate·len admissions.
        let bound = f64::from(burst) + rate * len as f64 / 1e9 + 1.0;
        prop_assert!(max_in_window(&adm, len + 1) as f64 <= bound);
    }

    /// Sliding window log: never more than `limit` in any window of length W (exact).
    #[test]
    fn sliding_log_is_exact(gaps in prop::collection::vec(0u64..50_000_000, 1..500), limit in 1u32..30) {
        let ts = instants(&gaps);
        let adm = run(&mut KeyState::SlidingLog(SlidingLog::new(limit, W)), &ts);
        prop_assert!(max_in_window(&adm, W) <= limit as usize);
        // And it admits whenever there is room: every rejected instant saw a full window.
        let mut i = 0;
        for &t in &ts {
            if adm.get(i) == Some(&t) { i += 1; continue; }
            let in_window = adm[..i].iter().filter(|&&a| a + W > t).count();
            prop_assert_eq!(in_window, limit as usize);
        }
    }

    /// Fixed window: at most `limit` per aligned window, and at most 2 × limit in any window.
    #[test]
    fn fixed_window_bounds(gaps in prop::collection::vec(0u64..50_000_000, 1..500), limit in 1u32..30) {
        let ts = instants(&gaps);
        let adm = run(&mut KeyState::FixedWindow(FixedWindow::new(limit, W)), &ts);
        let mut per = std::collections::BTreeMap::new();
        for &t in &adm { *per.entry(t / W).or_insert(0usize) += 1; }
        prop_assert!(per.values().all(|&c| c <= limit as usize));
        prop_assert!(max_in_window(&adm, W) <= 2 * limit as usize);
    }

    /// Sliding counter: its stated bound — at most 2 × limit in any window of length W, and
    /// never more than `limit` in any aligned window.
    #[test]
    fn sliding_counter_within_bound(gaps in prop::collection::vec(0u64..50_000_000, 1..500), limit in 1u32..30) {
        let ts = instants(&gaps);
        let adm = run(&mut KeyState::SlidingCounter(SlidingCounter::new(limit, W)), &ts);
        prop_assert!(max_in_window(&adm, W) <= 2 * limit as usize);
        let mut per = std::collections::BTreeMap::new();
        for &t in &adm { *per.entry(t / W).or_insert(0usize) += 1; }
        prop_assert!(per.values().all(|&c| c <= limit as usize));
    }

    /// Leaky bucket: departures are at least 1/rate apart and the bucket never holds more
    /// than `capacity`.
    #[test]
    fn leaky_bucket_spaces_departures(gaps in prop::collection::vec(0u64..30_000_000, 1..300), cap in 1u32..10) {
        let ts = instants(&gaps);
        let mut b = LeakyBucket::new(100.0, cap);
        let mut deps = Vec::new();
        for &t in &ts {
            match b.try_acquire(t, 1) {
                Decision::Admit => deps.push(t),
                Decision::Delay(d) => deps.push(t + d),
                Decision::Reject { .. } => {}
            }
            prop_assert!(b.len(t) <= u64::from(cap));
        }
        for w in deps.windows(2) {
            prop_assert!(w[1] >= w[0] + 10_000_000);
        }
    }

    /// Store: checked increments never push a counter past the limit; unchecked ones count
    /// every unit beyond it as over-admitted.
    #[test]
    fn store_counts_over_admission(ops in prop::collection::vec((0u64..3, 0u64..4, 0u16..5, any::<bool>()), 1..200), limit in 1u32..20) {
        let mut c = Counters::default();
        let mut exact: std::collections::BTreeMap<u64, u64> = std::collections::BTreeMap::new();
        let mut over = 0;
        let mut latest = [0u64; 3];
        for (key, w, n, check) in ops {
            let w = latest[key as usize].max(w);
            latest[key as usize] = w;
            let slot = key << 32 | w;
            let r = c.incr(slot, limit, n, check);
            let e = exact.entry(slot).or_insert(0);
            if check {
                prop_assert_eq!(r.granted, *e + u64::from(n) <= u64::from(limit));
                prop_assert_eq!(r.over, 0);
            }
            if r.granted { *e += u64::from(n); }
            prop_assert_eq!(r.count, *e);
            over += r.over;
        }
        let expected: u64 = exact.values().map(|&v| v.saturating_sub(u64::from(limit))).sum();
        prop_assert!(over <= expected);
    }
}

#[test]
fn fixed_window_admits_twice_the_limit_across_a_boundary() {
    let mut fw = FixedWindow::new(10, W);
    // 10 just before the edge, 10 just after: 20 within 2 ms.
    let ts: Vec<u64> = (0..10)
        .map(|i| W - 1_000_000 + i)
        .chain((0..10).map(|i| W + 1_000_000 + i))
        .collect();
    let n = ts
        .iter()
        .filter(|&&t| fw.try_acquire(t, 1).admitted())
        .count();
    assert_eq!(n, 20);
    let mut log = SlidingLog::new(10, W);
    let n = ts
        .iter()
        .filter(|&&t| log.try_acquire(t, 1).admitted())
        .count();
    assert_eq!(n, 10);
}

#[test]
fn md1k_known_values() {
    // K = 1: ρ/(1+ρ).
    assert!((md1k_blocking(1.0, 1) - 0.5).abs() < 1e-12);
    assert!((md1k_blocking(0.5, 1) - 1.0 / 3.0).abs() < 1e-12);
    // Blocking falls with K and, for ρ < 1, tends to 0.
    let b: Vec<f64> = (1..8).map(|k| md1k_blocking(0.8, k)).collect();
    assert!(b.windows(2).all(|w| w[1] < w[0]), "{b:?}");
    assert!(b[6] < 0.02);
    // ρ > 1: blocking tends to 1 − 1/ρ.
    assert!((md1k_blocking(2.0, 60) - 0.5).abs() < 1e-3);
}

#[test]
fn retry_after_hints_point_at_the_next_admission() {
    let mut tb = TokenBucket::new(10.0, 1);
    assert_eq!(tb.try_acquire(0, 1), Decision::Admit);
    let Decision::Reject { retry_after_ns } = tb.try_acquire(0, 1) else {
        panic!()
    };
    assert_eq!(retry_after_ns, 100_000_000);
    assert_eq!(tb.try_acquire(retry_after_ns, 1), Decision::Admit);
    let mut fw = FixedWindow::new(1, W);
    fw.try_acquire(300, 1);
    assert_eq!(
        fw.try_acquire(400, 1),
        Decision::Reject {
            retry_after_ns: W - 400
        }
    );
}

#[test]
fn clock_stepping_back_never_refills() {
    let mut tb = TokenBucket::new(1.0, 1);
    assert!(tb.try_acquire(10 * W, 1).admitted());
    assert!(!tb.try_acquire(5 * W, 1).admitted());
    assert!(!tb.try_acquire(10 * W, 1).admitted());
}

// ---------------------------------------------------------------- component

fn req(id: u64, client: u32) -> crate::Msg {
    crate::Msg::Request(Request {
        id,
        op: Op::Read,
        key: 0,
        size_bytes: 0,
        client,
    })
}

fn sends(cmds: &[Command<Cluster>]) -> Vec<(ComponentId, crate::Msg)> {
    cmds.iter()
        .filter_map(|c| match c {
            Command::Send { dst, msg, .. } => Some((*dst, msg.clone())),
            _ => None,
        })
        .collect()
}

#[test]
fn local_limiter_forwards_throttles_and_relays() {
    let target = ComponentId(7);
    let caller = ComponentId(3);
    let cfg = RateLimiterConfig {
        key_by: KeyBy::Client,
        ..RateLimiterConfig::new(
            target,
            Algorithm::FixedWindow {
                limit: 1,
                window: clustersim_engine::SimDuration::from_secs(1),
            },
        )
    };
    let mut h = Harness::new(1, "rl");
    let mut rl = RateLimiter::new(&cfg, ComponentId(0), &mut h.metrics);
    h.call(|cx| rl.on_start(cx));
    h.now = SimTime::from_nanos(500_000_000);
    // Client 1: first admitted, second throttled with Retry-After 500 ms; client 2 admitted.
    let a = sends(&h.call(|cx| rl.on_message(cx, caller, req(11, 1))));
    assert_eq!(a.len(), 1);
    assert_eq!(a[0].0, target);
    let b = sends(&h.call(|cx| rl.on_message(cx, caller, req(12, 1))));
    assert_eq!(
        b,
        vec![(
            caller,
            crate::Msg::Response(Response {
                id: 12,
                status: Status::Throttled {
                    retry_after_ms: 500
                },
                size_bytes: 0,
                version: 0
            })
        )]
    );
    let c = sends(&h.call(|cx| rl.on_message(cx, caller, req(13, 2))));
    assert_eq!(c[0].0, target);
    assert_eq!(rl.keys(), 2);
    // The target's answer to the first is relayed with the caller's id.
    let crate::Msg::Request(fwd) = a[0].1 else {
        panic!()
    };
    let resp = Response {
        id: fwd.id,
        status: Status::Ok,
        size_bytes: 5,
        version: 0,
    };
    let d = sends(&h.call(|cx| rl.on_message(cx, target, crate::Msg::Response(resp))));
    let crate::Msg::Response(r) = d[0].1 else {
        panic!()
    };
    assert_eq!((d[0].0, r.id, r.status), (caller, 11, Status::Ok));
    let m = std::mem::take(&mut h.metrics).finish(h.now);
    let get = |n: &str| m.counter(m.find(Some(ComponentId(0)), n).unwrap());
    assert_eq!((get("admitted"), get("rejected")), (2, 1));
}

#[test]
fn sync_mode_fails_open_or_closed_on_store_timeout() {
    for fail_open in [true, false] {
        let store = ComponentId(9);
        let mut link = StoreLink::new(store);
        link.fail_open = fail_open;
        let cfg = RateLimiterConfig {
            mode: Mode::Sync(link),
            ..RateLimiterConfig::new(
                ComponentId(7),
                Algorithm::FixedWindow {
                    limit: 5,
                    window: clustersim_engine::SimDuration::from_secs(1),
                },
            )
        };
        let mut h = Harness::new(1, "rl");
        let mut rl = RateLimiter::new(&cfg, ComponentId(0), &mut h.metrics);
        let cmds = h.call(|cx| rl.on_message(cx, ComponentId(3), req(1, 0)));
        let timer = cmds
            .iter()
            .find_map(|c| match c {
                Command::SetTimer { timer, .. } => Some(timer.clone()),
                _ => None,
            })
            .unwrap();
        assert!(
            matches!(sends(&cmds)[0], (s, crate::Msg::Limiter(Msg::Incr { check: true, .. })) if s == store)
        );
        let out = sends(&h.call(|cx| rl.on_timer(cx, timer)));
        if fail_open {
            assert!(matches!(out[0].1, crate::Msg::Request(_)));
        } else {
            assert!(matches!(
                out[0].1,
                crate::Msg::Response(Response {
                    status: Status::Throttled { .. },
                    ..
                })
            ));
        }
    }
}

#[test]
fn invalid_configs_are_refused_with_their_field() {
    let mut cfg = RateLimiterConfig::new(
        ComponentId(1),
        Algorithm::TokenBucket {
            rate_per_s: 0.0,
            burst: 1,
        },
    );
    assert_eq!(
        cfg.validate().unwrap_err().field,
        "algorithm.TokenBucket.rate_per_s"
    );
    cfg.algorithm = Algorithm::SlidingLog {
        limit: 3,
        window: clustersim_engine::SimDuration::from_secs(1),
    };
    cfg.mode = Mode::Sync(StoreLink::new(ComponentId(2)));
    assert_eq!(cfg.validate().unwrap_err().field, "mode");
    let _ = Recorder::default();
}
