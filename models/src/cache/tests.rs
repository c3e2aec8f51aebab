//! Unit tests of the cache: the store against a naive reference model over random operation
//! sequences (a property test driven by the engine's seeded RNG), and the component's
//! handlers one event at a time through the engine's [`Harness`].

use clustersim_engine::rng::{below, stream};
use clustersim_engine::testing::Harness;
use clustersim_engine::{Command, Component, ComponentId, MetricsReport, SimDuration, SimTime};

use super::*;

// ---------------------------------------------------------------------------------------------
// The store against a naive model.

/// The obviously correct (O(n)) model: a vector of `(key, size, freq, last_use, inserted)`.
struct Naive {
    eviction: Eviction,
    capacity: Capacity,
    items: Vec<(u64, u32, u64, u64, u64)>,
    clock: u64,
}

impl Naive {
    fn charge(&self, size: u32) -> u64 {
        match self.capacity {
            Capacity::Entries(_) => 1,
            Capacity::Bytes(_) => u64::from(size.max(1)),
        }
    }
    fn used(&self) -> u64 {
        self.items.iter().map(|i| self.charge(i.1)).sum()
    }
    fn limit(&self) -> u64 {
        let (Capacity::Entries(n) | Capacity::Bytes(n)) = self.capacity;
        n
    }
    fn victim(&self) -> Option<u64> {
        let rank = |i: &(u64, u32, u64, u64, u64)| match self.eviction {
            Eviction::Lru => (0, i.3),
            Eviction::Fifo => (0, i.4),
            Eviction::Lfu => (i.2, i.3),
        };
        self.items.iter().min_by_key(|i| rank(i)).map(|i| i.0)
    }
    fn touch(&mut self, key: u64) {
        self.clock += 1;
        let c = self.clock;
        let i = self.items.iter_mut().find(|i| i.0 == key).unwrap();
        i.2 += 1;
        i.3 = c;
    }
    fn insert(&mut self, key: u64, size: u32) {
        self.clock += 1;
        self.items.push((key, size, 1, self.clock, self.clock));
    }
    fn remove(&mut self, key: u64) {
        self.items.retain(|i| i.0 != key);
    }
}

/// Random gets, hits, inserts (with eviction until room) and removals: after every step the
/// store and the model agree on the contents, the usage and the next victim; at the end on
/// the whole eviction order.
fn check_against_naive(eviction: Eviction, capacity: Capacity, seed: u64) {
    let mut rng = stream(seed, "test", "store");
    let mut s = Store::new(eviction, capacity);
    let mut n = Naive {
        eviction,
        capacity,
        items: Vec::new(),
        clock: 0,
    };
    for step in 0..4000 {
        let key = below(&mut rng, 40);
        let size = 1 + below(&mut rng, 30) as u32;
        match (s.get(key), below(&mut rng, 10)) {
            (Some(slot), 0) => {
                s.remove(slot);
                n.remove(key);
            }
            (Some(slot), _) => {
                assert_eq!(s.entry(slot).key, key);
                s.touch(slot);
                n.touch(key);
            }
            (None, _) => {
                if !s.fits(size) {
                    assert!(n.charge(size) > n.limit());
                    continue;
                }
                while !s.has_room(size) {
                    let v = s.victim().unwrap();
                    let vk = s.entry(v).key;
                    assert_eq!(Some(vk), n.victim(), "{eviction:?} step {step}");
                    s.remove(v);
                    n.remove(vk);
                }
                assert!(n.used() + n.charge(size) <= n.limit());
                s.insert(Entry::new(key, size, 0, u64::MAX));
                n.insert(key, size);
            }
        }
        assert_eq!(s.len(), n.items.len(), "{eviction:?} step {step}");
        assert_eq!(s.used(), n.used(), "{eviction:?} step {step}");
        assert!(s.used() <= n.limit());
        assert_eq!(s.victim().map(|v| s.entry(v).key), n.victim());
    }
    // The whole order, by draining the model.
    let order = s.eviction_order();
    let mut want = Vec::new();
    while let Some(k) = n.victim() {
        want.push(k);
        n.remove(k);
    }
    assert_eq!(order, want, "{eviction:?}");
}

#[test]
fn store_matches_naive_model() {
    for seed in 0..8 {
        for e in [Eviction::Lru, Eviction::Lfu, Eviction::Fifo] {
            check_against_naive(e, Capacity::Entries(12), seed);
            check_against_naive(e, Capacity::Bytes(200), seed);
            check_against_naive(e, Capacity::Entries(1), seed);
        }
    }
}

#[test]
fn store_orders_by_policy() {
    let mut s = Store::new(Eviction::Lru, Capacity::Entries(3));
    let a = s.insert(Entry::new(1, 1, 0, 0));
    s.insert(Entry::new(2, 1, 0, 0));
    s.insert(Entry::new(3, 1, 0, 0));
    s.touch(a);
    assert_eq!(s.eviction_order(), vec![2, 3, 1]);
    let mut s = Store::new(Eviction::Fifo, Capacity::Entries(3));
    let a = s.insert(Entry::new(1, 1, 0, 0));
    s.insert(Entry::new(2, 1, 0, 0));
    s.touch(a);
    assert_eq!(s.eviction_order(), vec![1, 2]);
    let mut s = Store::new(Eviction::Lfu, Capacity::Entries(3));
    let a = s.insert(Entry::new(1, 1, 0, 0));
    let b = s.insert(Entry::new(2, 1, 0, 0));
    s.insert(Entry::new(3, 1, 0, 0));
    s.touch(a);
    s.touch(a);
    s.touch(b);
    assert_eq!(s.eviction_order(), vec![3, 2, 1]);
    assert!(!s.has_room(1));
    let mut s = Store::new(Eviction::Lru, Capacity::Bytes(100));
    assert!(s.fits(100) && !s.fits(101));
    s.insert(Entry::new(1, 60, 0, 0));
    assert!(s.has_room(40) && !s.has_room(41));
    assert_eq!(s.bytes(), 60);
}

// ---------------------------------------------------------------------------------------------
// The component.

const CLIENT: ComponentId = ComponentId(7);
const ORIGIN: ComponentId = ComponentId(8);
const ORIGIN2: ComponentId = ComponentId(9);

struct Fixture {
    h: Harness,
    c: Cache,
}

impl Fixture {
    fn new(cfg: CacheConfig) -> Fixture {
        let mut h = Harness::new(1, "cache");
        let c = Cache::new(&cfg, h.me, &mut h.metrics);
        let mut f = Fixture { h, c };
        let c = &mut f.c;
        f.h.call(|cx| c.on_start(cx));
        f
    }
    fn at_ms(&mut self, t: u64) -> &mut Self {
        self.h.now = SimTime::ZERO + SimDuration::from_millis(t);
        self
    }
    fn message(&mut self, from: ComponentId, msg: Msg) -> Vec<(ComponentId, Msg)> {
        let c = &mut self.c;
        sends(&self.h.call(|cx| c.on_message(cx, from, msg)))
    }
    fn request(&mut self, id: u64, op: Op, key: u64) -> Vec<(ComponentId, Msg)> {
        self.message(
            CLIENT,
            Msg::Request(Request {
                id,
                op,
                key,
                size_bytes: 10,
                client: 0,
            }),
        )
    }
    /// The backend answers the single request in `out` with `version`.
    fn answer(
        &mut self,
        out: &[(ComponentId, Msg)],
        status: Status,
        version: u64,
    ) -> Vec<(ComponentId, Msg)> {
        assert_eq!(out.len(), 1, "{out:?}");
        let (to, Msg::Request(r)) = &out[0] else {
            panic!("not a backend request: {out:?}");
        };
        let resp = Response {
            id: r.id,
            status,
            size_bytes: 100,
            version,
        };
        self.message(*to, Msg::Response(resp))
    }
    fn report(&mut self) -> MetricsReport {
        std::mem::take(&mut self.h.metrics).finish(self.h.now)
    }
}

fn sends(cmds: &[Command<Cluster>]) -> Vec<(ComponentId, Msg)> {
    cmds.iter()
        .filter_map(|c| match c {
            Command::Send { dst, msg, .. } => Some((*dst, msg.clone())),
            _ => None,
        })
        .collect()
}

fn count(r: &MetricsReport, name: &str) -> u64 {
    r.counter(r.find(Some(ComponentId(0)), name).unwrap())
}

/// The single message in `out` is a response to the client with this id, status, version.
fn assert_answer(out: &[(ComponentId, Msg)], id: u64, status: Status, version: u64) {
    assert_eq!(out.len(), 1, "{out:?}");
    match &out[0] {
        (CLIENT, Msg::Response(r)) => {
            assert_eq!((r.id, r.status, r.version), (id, status, version), "{r:?}");
        }
        other => panic!("expected a response to the client, got {other:?}"),
    }
}

fn backend_op(out: &[(ComponentId, Msg)]) -> (ComponentId, Op, u64) {
    match &out[0] {
        (to, Msg::Request(r)) => (*to, r.op, r.key),
        other => panic!("expected a backend request, got {other:?}"),
    }
}

#[test]
fn read_through_hit_after_miss_and_ttl_on_local_clock() {
    let mut cfg = CacheConfig::new(ORIGIN);
    cfg.ttl = Some(SimDuration::from_millis(100));
    let mut f = Fixture::new(cfg);
    let out = f.request(1, Op::Read, 5);
    assert_eq!(backend_op(&out), (ORIGIN, Op::Read, 5));
    let back = f.answer(&out, Status::Ok, 3);
    assert_answer(&back, 1, Status::Ok, 3);
    f.at_ms(50);
    assert_answer(&f.request(2, Op::Read, 5), 2, Status::Ok, 3);
    // The node's clock runs 60 ms ahead: at true time 50 ms it reads 110 ms, past the TTL.
    f.h.clock.offset_ns = 60_000_000;
    let out = f.request(3, Op::Read, 5);
    assert_eq!(backend_op(&out), (ORIGIN, Op::Read, 5));
    let r = f.report();
    assert_eq!(
        (count(&r, "hits"), count(&r, "misses"), count(&r, "expired")),
        (1, 2, 1)
    );
    assert_eq!(count(&r, "backend_requests"), 2);
}

#[test]
fn stale_hits_are_counted_when_a_newer_version_is_learned() {
    let mut cfg = CacheConfig::new(ORIGIN);
    cfg.ttl = Some(SimDuration::from_millis(100));
    let mut f = Fixture::new(cfg);
    let out = f.request(1, Op::Read, 5);
    f.answer(&out, Status::Ok, 1_000_000); // version written at 1 ms
    for (i, t) in [10, 20, 30, 40].into_iter().enumerate() {
        f.at_ms(t);
        assert_answer(
            &f.request(10 + i as u64, Op::Read, 5),
            10 + i as u64,
            Status::Ok,
            1_000_000,
        );
    }
    // Expired at 101 ms; the refresh says the key was rewritten at 25 ms: the hits at 30 and
    // 40 ms served an overwritten value, those at 10 and 20 ms did not.
    f.at_ms(120);
    let out = f.request(20, Op::Read, 5);
    let back = f.answer(&out, Status::Ok, 25_000_000);
    assert_answer(&back, 20, Status::Ok, 25_000_000);
    // A refresh with an unchanged version declares the logged hits fresh.
    f.at_ms(150);
    f.request(21, Op::Read, 5);
    f.at_ms(260);
    let out = f.request(22, Op::Read, 5);
    f.answer(&out, Status::Ok, 25_000_000);
    let r = f.report();
    assert_eq!(count(&r, "stale_hits"), 2);
    assert_eq!(count(&r, "hits"), 5);
    assert_eq!(count(&r, "unresolved_hits"), 0);
}

#[test]
fn write_policies() {
    // Write-through: forwarded, then cached with the acknowledged version.
    let mut f = Fixture::new(CacheConfig::new(ORIGIN));
    let out = f.request(1, Op::Write, 9);
    assert_eq!(backend_op(&out), (ORIGIN, Op::Write, 9));
    assert_answer(&f.answer(&out, Status::Ok, 7), 1, Status::Ok, 7);
    assert_answer(&f.request(2, Op::Read, 9), 2, Status::Ok, 7);

    // Write-around: invalidates, the next read misses.
    let mut cfg = CacheConfig::new(ORIGIN);
    cfg.write_policy = WritePolicy::WriteAround;
    let mut f = Fixture::new(cfg);
    let out = f.request(1, Op::Read, 9);
    f.answer(&out, Status::Ok, 2);
    let out = f.request(2, Op::Write, 9);
    assert_eq!(backend_op(&out), (ORIGIN, Op::Write, 9));
    f.answer(&out, Status::Ok, 5);
    let out = f.request(3, Op::Read, 9);
    assert_eq!(backend_op(&out), (ORIGIN, Op::Read, 9));
    assert_eq!(count(&f.report(), "invalidations"), 1);

    // Write-back: answered at once, flushed on eviction and on the interval.
    let mut cfg = CacheConfig::new(ORIGIN);
    cfg.write_policy = WritePolicy::WriteBack;
    cfg.capacity = Some(Capacity::Entries(1));
    cfg.flush_interval = Some(SimDuration::from_secs(1));
    let mut f = Fixture::new(cfg);
    assert_answer(&f.request(1, Op::Write, 1), 1, Status::Ok, 0);
    assert_answer(&f.request(2, Op::Read, 1), 2, Status::Ok, 0);
    // Writing key 2 evicts dirty key 1, which is flushed; key 2 is answered at once.
    let out = f.request(3, Op::Write, 2);
    assert_eq!(out.len(), 2, "{out:?}");
    assert_eq!(backend_op(&out), (ORIGIN, Op::Write, 1));
    assert!(matches!(out[1], (CLIENT, Msg::Response(_))));
    let flushed = f.answer(&out[..1], Status::Ok, 11);
    assert!(flushed.is_empty(), "nobody waits for a flush: {flushed:?}");
    let c = &mut f.c;
    let out = sends(&f.h.call(|cx| c.on_timer(cx, crate::Timer::Cache(Timer::Flush))));
    assert_eq!(backend_op(&out), (ORIGIN, Op::Write, 2));
    let r = f.report();
    assert_eq!(count(&r, "flushes"), 2);
    assert_eq!(count(&r, "evictions"), 1);
}

#[test]
fn proxy_roles_deny_round_robin_and_pass_through() {
    let mut cfg = CacheConfig::new(ORIGIN);
    cfg.role = Role::ForwardProxy;
    cfg.capacity = None;
    cfg.backends = vec![ORIGIN, ORIGIN2];
    cfg.deny = vec![KeyRange {
        start: 100,
        end: 200,
    }];
    assert_eq!(cfg.kind_name(), "forward_proxy");
    let mut f = Fixture::new(cfg);
    assert_answer(&f.request(1, Op::Read, 150), 1, Status::Rejected, 0);
    let a = f.request(2, Op::Read, 1);
    let b = f.request(3, Op::Read, 1);
    assert_eq!(backend_op(&a).0, ORIGIN);
    assert_eq!(backend_op(&b).0, ORIGIN2);
    assert_answer(&f.answer(&b, Status::Error, 0), 3, Status::Error, 0);
    assert_answer(&f.answer(&a, Status::Ok, 0), 2, Status::Ok, 0);
    // Nothing cached: the same key goes to a backend again.
    assert_eq!(f.request(4, Op::Read, 1).len(), 1);
    // A failed send to a backend is answered Error.
    let c = &mut f.c;
    let req = Request {
        id: make_id(0, 1),
        op: Op::Read,
        key: 1,
        size_bytes: 0,
        client: 0,
    };
    let out =
        sends(&f.h.call(|cx| c.on_send_failed(cx, ORIGIN, Msg::Request(req), DropCause::Crashed)));
    assert_eq!(out.len(), 1, "{out:?}");
    let r = f.report();
    assert_eq!(count(&r, "rejected"), 1);
    assert_eq!(count(&r, "errors"), 2);
    assert_eq!(count(&r, "hits") + count(&r, "misses"), 0);
}

#[test]
fn config_validation_names_fields() {
    let mut c = CacheConfig::new(ORIGIN);
    c.validate().unwrap();
    c.backends.clear();
    assert_eq!(c.validate().unwrap_err().field, "backends");
    c.backends.push(ORIGIN);
    c.capacity = Some(Capacity::Entries(0));
    assert_eq!(c.validate().unwrap_err().field, "capacity");
    c.capacity = None;
    c.ttl = Some(SimDuration::ZERO);
    assert_eq!(c.validate().unwrap_err().field, "ttl");
    c.ttl = None;
    c.flush_interval = Some(SimDuration::from_secs(1));
    assert_eq!(c.validate().unwrap_err().field, "flush_interval");
    c.flush_interval = None;
    c.deny.push(KeyRange { start: 5, end: 5 });
    assert_eq!(c.validate().unwrap_err().field, "deny[0]");
}

#[test]
fn hits_of_an_evicted_entry_are_decided_at_the_next_fetch() {
    let mut cfg = CacheConfig::new(ORIGIN);
    cfg.capacity = Some(Capacity::Entries(1));
    let mut f = Fixture::new(cfg);
    let out = f.request(1, Op::Read, 5);
    f.answer(&out, Status::Ok, 1_000_000);
    f.at_ms(10);
    f.request(2, Op::Read, 5); // hit at 10 ms
    f.at_ms(30);
    f.request(3, Op::Read, 5); // hit at 30 ms
    f.at_ms(40);
    let out = f.request(4, Op::Read, 6); // evicts key 5 with two undecided hits
    f.answer(&out, Status::Ok, 1);
    f.at_ms(50);
    let out = f.request(5, Op::Read, 5); // key 5 was rewritten at 20 ms
    f.answer(&out, Status::Ok, 20_000_000);
    let r = f.report();
    assert_eq!(count(&r, "evictions"), 2);
    assert_eq!(count(&r, "stale_hits"), 1);
    assert_eq!(count(&r, "unresolved_hits"), 0);
}
