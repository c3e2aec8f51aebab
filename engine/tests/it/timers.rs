//! Timers: exact firing times, cancellation, stale keys, many timers.

use std::sync::{Arc, Mutex};

use clustersim_engine::*;

use crate::common::*;

/// Timers fire exactly `after` later; cancelled ones never fire.
#[test]
fn cancelled_timers_never_fire() {
    let log = Log::default();
    let (mut b, n) = world(1, 1);
    let me = Actor::new(&log)
        .on_start(|cx| {
            for k in 1..=10u64 {
                let key = cx.set_timer(ms(k), k);
                if k % 2 == 0 {
                    cx.cancel_timer(key);
                }
            }
        })
        .add(&mut b, n[0], "a");
    let s = b.build().unwrap().run(until(t_ms(100)));
    let fired = log.timers(me);
    assert_eq!(fired, [1, 3, 5, 7, 9].map(|k| (t_ms(k), k)).to_vec());
    // Cancelled timers' queue entries are still popped (lazy cancellation) but do nothing.
    assert_eq!(s.events, 10);
    assert_eq!(s.stop, StopReason::Exhausted);
}

/// Cancelling a timer that already fired (or was already cancelled) is a no-op, even when its
/// slot has been reused by a newer timer: the newer one still fires.
#[test]
fn cancelling_after_fire_is_harmless() {
    let log = Log::default();
    let (mut b, n) = world(1, 1);
    let keys: Arc<Mutex<Vec<TimerKey>>> = Arc::default();
    let k1 = keys.clone();
    let k2 = keys.clone();
    let me = Actor::new(&log)
        .on_start(move |cx| {
            k1.lock().unwrap().push(cx.set_timer(ms(1), 1));
        })
        .on_timer(move |cx, t| {
            let mut keys = k2.lock().unwrap();
            match t {
                1 => {
                    // Timer 1 has fired and been retired; timer 2 reuses its slot.
                    let k = cx.set_timer(ms(1), 2);
                    keys.push(k);
                    cx.cancel_timer(keys[0]); // stale: must not cancel timer 2
                    cx.cancel_timer(keys[0]); // twice: still harmless
                }
                2 => {
                    let k = cx.set_timer(ms(5), 3);
                    cx.cancel_timer(k);
                    cx.cancel_timer(k); // double cancel
                    let k4 = cx.set_timer(ms(1), 4); // may reuse 3's slot
                    keys.push(k4);
                    cx.cancel_timer(keys[1]); // timer 2 already fired
                }
                _ => {}
            }
        })
        .add(&mut b, n[0], "a");
    b.build().unwrap().run(until(t_ms(100)));
    assert_eq!(
        log.timers(me),
        vec![(t_ms(1), 1), (t_ms(2), 2), (t_ms(3), 4)]
    );
}

/// 20,000 timers with random delays, a random third cancelled (some before and some after
/// other timers fire): exactly the others fire, each at its time, ties in setting order.
#[test]
fn many_timers() {
    let log = Log::default();
    let (mut b, n) = world(3, 1);
    let plan: Arc<Mutex<Vec<(SimTime, bool)>>> = Arc::default();
    let keys: Arc<Mutex<Vec<TimerKey>>> = Arc::default();
    let (p1, k1, k2) = (plan.clone(), keys.clone(), keys.clone());
    let me = Actor::new(&log)
        .on_start(move |cx| {
            let mut plan = p1.lock().unwrap();
            let mut keys = k1.lock().unwrap();
            for i in 0..20_000u64 {
                // Coarse delays so that many timers share an instant.
                let after = ms(rng::below(cx.rng(), 500));
                keys.push(cx.set_timer(after, i));
                let cancel_now = rng::below(cx.rng(), 6) == 0;
                if cancel_now {
                    cx.cancel_timer(keys[i as usize]);
                }
                plan.push((cx.now() + after, cancel_now));
            }
            // More are cancelled later, from the timer handlers below.
        })
        .on_timer(move |cx, i| {
            // Firing timer i cancels timer `target(i)` (an index ≡ 1 mod 6): a no-op if that
            // one already fired or was cancelled, otherwise it never fires.
            let keys = k2.lock().unwrap();
            let target = i.wrapping_mul(6) % 20_000 / 6 * 6 + 1;
            if (target as usize) < keys.len() {
                cx.cancel_timer(keys[target as usize]);
            }
        })
        .add(&mut b, n[0], "a");
    b.build().unwrap().run(until(t_ms(1000)));
    let fired = log.timers(me);
    let plan = plan.lock().unwrap();
    // Simulate the cancellations from the handlers to know what must fire.
    let mut order: Vec<u64> = (0..20_000).filter(|&i| !plan[i as usize].1).collect();
    order.sort_by_key(|&i| (plan[i as usize].0, i));
    let mut cancelled: Vec<bool> = plan.iter().map(|p| p.1).collect();
    let mut expected = Vec::new();
    for i in order {
        if cancelled[i as usize] {
            continue;
        }
        expected.push((plan[i as usize].0, i));
        let target = i.wrapping_mul(6) % 20_000 / 6 * 6 + 1;
        if (target as usize) < cancelled.len() {
            cancelled[target as usize] = true;
        }
    }
    assert!(expected.len() > 10_000, "{}", expected.len());
    assert_eq!(fired.len(), expected.len());
    assert_eq!(fired, expected);
}

/// A zero-delay timer fires at the same instant, after the handler that set it.
#[test]
fn zero_delay_timer_fires_after_the_handler() {
    let log = Log::default();
    let (mut b, n) = world(1, 1);
    let l2 = log.clone();
    let me = Actor::new(&log)
        .on_start(move |cx| {
            cx.set_timer(SimDuration::ZERO, 1);
            l2.push(Some(cx.now()), cx.me(), What::Note(0));
        })
        .add(&mut b, n[0], "a");
    b.build().unwrap().run(until(t_ms(1)));
    let seq: Vec<What> = log.of(me).into_iter().map(|r| r.what).collect();
    assert_eq!(seq, vec![What::Start, What::Note(0), What::Timer(1)]);
}
