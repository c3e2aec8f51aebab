//! A cache in front of any component — also a CDN edge, a reverse proxy and a forward proxy
//! (one building block, see [`Role`]).
//!
//! It receives [`Request`]s and answers [`Response`]s with the caller's id, so it can be put in
//! front of a service, a load balancer or another cache without either side knowing.
//!
//! # Request life cycle
//!
//! 1. **Deny list.** A key in a `deny` range is answered [`Status::Rejected`] at once.
//! 2. **Reads** (read-through). A live entry — present, not invalidated, and not expired on
//!    the host's *local* clock ([`Ctx::local_time`]) — is a **hit**: answered at once (a cache
//!    lookup is modelled as instantaneous next to the network and the backend) with the
//!    entry's size and version. Otherwise a **miss**: the read goes to the next backend (round
//!    robin) and its `Ok` answer is cached (evicting by policy while there is no room; values
//!    larger than the whole capacity are passed on uncached) with `ttl` from now on the local
//!    clock, then passed on to the caller.
//! 3. **Writes** follow the [`WritePolicy`]: write-through forwards and caches the acknowledged
//!    value; write-around invalidates the entry and forwards; write-back stores a dirty entry
//!    and answers at once, writing it to the backend when it is evicted or at the
//!    `flush_interval`.
//! 4. **Other operations**, and everything when `capacity` is `None`, pass through unchanged.
//!
//! No request coalescing: concurrent misses of one key each go to the backend. No backend
//! timeout: a backend that never answers leaves the caller to time out; a failed send is
//! answered [`Status::Error`].
//!
//! # Versions and invalidation
//!
//! A versioned backend (a service with `versioned: true`) stamps every response with the
//! key's version, which is also the write's time in ns ([`Response::version`]). Whenever a
//! response teaches the cache a version newer than the entry's, the entry is invalidated
//! (invalidation on write, including writes by *other* clients that the cache only hears
//! about later). With an unversioned backend (version 0) the cache learns nothing and
//! `stale_hits` stays 0.
//!
//! # Stale hits
//!
//! Components share no truth; they only exchange messages. A hit is **stale** when it served
//! a version that the origin had already overwritten at the time of the hit. The cache cannot
//! know that when it serves the hit, so it decides *afterwards*: every hit of a clean entry is
//! logged (its true time, in a slab-backed list per entry). When a later response for the key
//! carries version `w` (= the time of the key's latest write):
//! * `w` equal to the entry's version: no write happened before that response was formed, so
//!   every logged hit was fresh; the log is dropped;
//! * `w` newer: the value was overwritten by time `w`, so every logged hit served after `w`
//!   is counted in `stale_hits`; the rest are dropped as fresh.
//!
//! This is exact when the key was written at most once between two responses the cache
//! receives for it; with several writes in between it is a **lower bound** (a hit between the
//! first overwrite and the last is not recognised, because the response only carries the
//! latest write time). The log of an evicted entry is kept (a "ghost", by key) until the
//! key's next response decides it. Hits beyond `stale_log_limit`, and hits whose value a
//! write-back write replaced first, are counted in `unresolved_hits`; hits not yet decided
//! when the run ends are in neither counter. Truth times
//! (`Ctx::now`) are used for this measurement only, never for a decision the cache makes.
//!
//! # Crashes
//!
//! A cache is volatile: a crash empties it (dirty write-back data is lost) and forgets the
//! outstanding backend requests (their callers time out). Gauges are reset at the restart.
//!
//! # Metrics (a contract with the report writer)
//!
//! Registered at build time with the cache as owner.
//!
//! | name | kind | meaning |
//! |---|---|---|
//! | `arrivals` | counter | requests received (the `requests` column of components.csv) |
//! | `completed` | counter | responses sent with `Ok` |
//! | `errors` | counter | responses sent with any other status, except `rejected` |
//! | `rejected` | counter | requests refused by the deny list |
//! | `hits` | counter | reads answered from the cache |
//! | `misses` | counter | reads sent to a backend (including `expired`) |
//! | `expired` | counter | misses on an entry present but expired or invalidated |
//! | `stale_hits` | counter | hits proven stale afterwards (see above) |
//! | `unresolved_hits` | counter | hits whose staleness was never decided |
//! | `evictions` | counter | entries removed to make room |
//! | `invalidations` | counter | entries invalidated by a write or a newer version |
//! | `backend_requests` | counter | requests sent to backends (misses, writes, pass-through, flushes) |
//! | `flushes` | counter | write-back writes sent to a backend |
//! | `latency_ns` | histogram | arrival → response, answered requests (0 for hits) |
//! | `in_system` | gauge | accepted requests not yet answered (Little's law holds) |
//! | `entries` | gauge | entries held |
//!
//! Hit ratio = `hits / (hits + misses)`; backend offload = `1 − backend_requests / arrivals`.

pub mod analytic;
mod config;
pub mod policy;
#[cfg(test)]
mod tests;

pub use config::{CacheConfig, KeyRange, MAX_BACKENDS, Role, WritePolicy};
pub use policy::{Capacity, Entry, Eviction, NIL, Store};

use std::collections::BTreeMap;

use clustersim_engine::{
    Component, ComponentId, Ctx, DropCause, Recorder, SeriesId, SimDuration, SimTime, StableHash,
    StableHasher, TimerKey, Transport,
};

use crate::Cluster;
use crate::msg::{Msg, Op, Request, Response, Status};

/// Timers of the cache.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Timer {
    /// Write-back: time to flush every dirty entry.
    Flush,
}

impl StableHash for Timer {
    fn stable_hash(&self, h: &mut StableHasher) {
        match self {
            Timer::Flush => h.write_u64(0),
        }
    }
}

/// Series ids of one cache (see the module docs).
#[derive(Clone, Copy, Debug)]
struct CacheMetrics {
    arrivals: SeriesId,
    completed: SeriesId,
    errors: SeriesId,
    rejected: SeriesId,
    hits: SeriesId,
    misses: SeriesId,
    expired: SeriesId,
    stale_hits: SeriesId,
    unresolved_hits: SeriesId,
    evictions: SeriesId,
    invalidations: SeriesId,
    backend_requests: SeriesId,
    flushes: SeriesId,
    latency: SeriesId,
    in_system: SeriesId,
    entries: SeriesId,
}

impl CacheMetrics {
    fn register(rec: &mut Recorder, me: ComponentId) -> CacheMetrics {
        let o = Some(me);
        CacheMetrics {
            arrivals: rec.counter(o, "arrivals"),
            completed: rec.counter(o, "completed"),
            errors: rec.counter(o, "errors"),
            rejected: rec.counter(o, "rejected"),
            hits: rec.counter(o, "hits"),
            misses: rec.counter(o, "misses"),
            expired: rec.counter(o, "expired"),
            stale_hits: rec.counter(o, "stale_hits"),
            unresolved_hits: rec.counter(o, "unresolved_hits"),
            evictions: rec.counter(o, "evictions"),
            invalidations: rec.counter(o, "invalidations"),
            backend_requests: rec.counter(o, "backend_requests"),
            flushes: rec.counter(o, "flushes"),
            latency: rec.histogram(o, "latency_ns"),
            in_system: rec.gauge(o, "in_system"),
            entries: rec.gauge(o, "entries"),
        }
    }
}

/// What an outstanding backend request is for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Purpose {
    /// A read miss: cache the answer.
    Fill,
    /// A write-through write: cache the written value on `Ok`.
    WriteThrough,
    /// Forwarded unchanged (write-around writes, other ops, uncached proxies).
    Pass,
    /// A write-back flush: nobody waits for it.
    Flush,
}

/// One outstanding backend request.
#[derive(Clone, Copy, Debug)]
struct Pending {
    generation: u32,
    live: bool,
    purpose: Purpose,
    from: ComponentId,
    req: Request,
    arrival: SimTime,
}

/// The undecided hit log of an evicted entry.
#[derive(Clone, Copy, Debug)]
struct Ghost {
    version: u64,
    head: u32,
    len: u32,
}

/// One logged hit: its true time in ns and the next record of the same entry.
#[derive(Clone, Copy, Debug)]
struct HitRecord {
    at: u64,
    next: u32,
}

fn ok_response(size: u32, version: u64) -> Response {
    Response {
        id: 0,
        status: Status::Ok,
        size_bytes: size,
        version,
    }
}

#[inline]
fn make_id(slot: u32, generation: u32) -> u64 {
    (u64::from(generation) << 32) | u64::from(slot)
}

#[inline]
fn split_id(id: u64) -> (usize, u32) {
    ((id & 0xffff_ffff) as usize, (id >> 32) as u32)
}

/// The cache component (see the module docs).
#[derive(Debug)]
pub struct Cache {
    backends: Vec<ComponentId>,
    next_backend: usize,
    store: Option<Store>,
    ttl: Option<SimDuration>,
    write_policy: WritePolicy,
    flush_interval: Option<SimDuration>,
    deny: Vec<KeyRange>,
    transport: Transport,
    pending: Vec<Pending>,
    free_pending: Vec<u32>,
    log: Vec<HitRecord>,
    free_log: Vec<u32>,
    log_limit: u32,
    /// Hit logs of evicted entries, by key, until the key's next response decides them.
    ghosts: BTreeMap<u64, Ghost>,
    /// `(slot, key)` of entries that became dirty, for the periodic flush (stale records are
    /// skipped).
    dirty: Vec<(u32, u64)>,
    flush_timer: Option<TimerKey>,
    m: CacheMetrics,
}

impl Cache {
    /// Builds the cache and registers its metrics (owner `me`).
    ///
    /// # Panics
    /// If `cfg.validate()` fails.
    pub fn new(cfg: &CacheConfig, me: ComponentId, metrics: &mut Recorder) -> Cache {
        if let Err(e) = cfg.validate() {
            panic!("invalid cache config: {e}");
        }
        Cache {
            backends: cfg.backends.clone(),
            next_backend: 0,
            store: cfg.capacity.map(|c| Store::new(cfg.eviction, c)),
            ttl: cfg.ttl,
            write_policy: cfg.write_policy,
            flush_interval: cfg.flush_interval,
            deny: cfg.deny.clone(),
            transport: cfg.transport,
            pending: Vec::with_capacity(64),
            free_pending: Vec::with_capacity(64),
            log: Vec::new(),
            free_log: Vec::new(),
            log_limit: cfg.stale_log_limit,
            ghosts: BTreeMap::new(),
            dirty: Vec::new(),
            flush_timer: None,
            m: CacheMetrics::register(metrics, me),
        }
    }

    /// The store, when the cache caches anything.
    pub fn store(&self) -> Option<&Store> {
        self.store.as_ref()
    }

    /// Backend requests still outstanding.
    pub fn outstanding(&self) -> usize {
        self.pending.len() - self.free_pending.len()
    }

    fn expiry(&self, cx: &Ctx<'_, Cluster>) -> u64 {
        match self.ttl {
            None => u64::MAX,
            Some(t) => cx.local_time().as_nanos().saturating_add(t.as_nanos()),
        }
    }

    /// Answers the request `id` of `to` that arrived at `arrival` with `resp` (whose id is
    /// replaced), closing its `in_system` count.
    fn respond(
        &mut self,
        cx: &mut Ctx<'_, Cluster>,
        to: ComponentId,
        id: u64,
        arrival: SimTime,
        resp: Response,
    ) {
        let resp = Response { id, ..resp };
        let status = resp.status;
        cx.send_with(to, Msg::Response(resp), self.transport, resp.size_bytes);
        cx.record(self.m.latency, (cx.now() - arrival).as_nanos());
        cx.count(
            if status.is_ok() {
                self.m.completed
            } else {
                self.m.errors
            },
            1,
        );
        cx.gauge_add(self.m.in_system, -1);
    }

    /// Sends `req` (with a fresh id) to the next backend, remembering why.
    fn forward(
        &mut self,
        cx: &mut Ctx<'_, Cluster>,
        purpose: Purpose,
        from: ComponentId,
        req: Request,
        arrival: SimTime,
    ) {
        let p = Pending {
            generation: 0,
            live: true,
            purpose,
            from,
            req,
            arrival,
        };
        let slot = match self.free_pending.pop() {
            Some(s) => {
                let generation = self.pending[s as usize].generation.wrapping_add(1);
                self.pending[s as usize] = Pending { generation, ..p };
                s
            }
            None => {
                self.pending.push(p);
                (self.pending.len() - 1) as u32
            }
        };
        let id = make_id(slot, self.pending[slot as usize].generation);
        let backend = self.backends[self.next_backend];
        self.next_backend = (self.next_backend + 1) % self.backends.len();
        let out = Request { id, ..req };
        cx.count(self.m.backend_requests, 1);
        cx.send_with(backend, Msg::Request(out), self.transport, out.size_bytes);
    }

    fn take_pending(&mut self, id: u64) -> Option<Pending> {
        let (slot, generation) = split_id(id);
        let p = self.pending.get_mut(slot)?;
        if !p.live || p.generation != generation {
            return None;
        }
        p.live = false;
        self.free_pending.push(slot as u32);
        Some(*p)
    }

    fn on_request(&mut self, cx: &mut Ctx<'_, Cluster>, from: ComponentId, req: Request) {
        cx.count(self.m.arrivals, 1);
        let now = cx.now();
        if self.deny.iter().any(|r| r.contains(req.key)) {
            cx.count(self.m.rejected, 1);
            let resp = Response {
                id: req.id,
                status: Status::Rejected,
                size_bytes: 0,
                version: 0,
            };
            cx.send_with(from, Msg::Response(resp), self.transport, 0);
            return;
        }
        cx.gauge_add(self.m.in_system, 1);
        if self.store.is_none() {
            self.forward(cx, Purpose::Pass, from, req, now);
            return;
        }
        match req.op {
            Op::Read => self.on_read(cx, from, req),
            Op::Write => self.on_write(cx, from, req),
            Op::Other => self.forward(cx, Purpose::Pass, from, req, now),
        }
    }

    fn on_read(&mut self, cx: &mut Ctx<'_, Cluster>, from: ComponentId, req: Request) {
        let now = cx.now();
        let local = cx.local_time().as_nanos();
        let store = self.store.as_mut().expect("caching");
        if let Some(slot) = store.get(req.key) {
            let e = *store.entry(slot);
            // Dirty (write-back) data is the newest there is: it is served whatever the TTL.
            if e.dirty || local < e.expires_at {
                store.touch(slot);
                cx.count(self.m.hits, 1);
                if !e.dirty {
                    self.log_hit(cx, slot, now.as_nanos());
                }
                let resp = ok_response(e.size, e.version);
                self.respond(cx, from, req.id, now, resp);
                return;
            }
            cx.count(self.m.expired, 1);
        }
        cx.count(self.m.misses, 1);
        self.forward(cx, Purpose::Fill, from, req, now);
    }

    fn on_write(&mut self, cx: &mut Ctx<'_, Cluster>, from: ComponentId, req: Request) {
        let now = cx.now();
        match self.write_policy {
            WritePolicy::WriteThrough => self.forward(cx, Purpose::WriteThrough, from, req, now),
            WritePolicy::WriteAround => {
                self.invalidate(cx, req.key);
                self.forward(cx, Purpose::Pass, from, req, now);
            }
            WritePolicy::WriteBack => {
                let store = self.store.as_ref().expect("caching");
                if !store.fits(req.size_bytes) {
                    self.forward(cx, Purpose::WriteThrough, from, req, now);
                    return;
                }
                let expires = self.expiry(cx);
                let old_version = match self.store.as_ref().and_then(|s| s.get(req.key)) {
                    Some(slot) => {
                        // Its hits can no longer be decided: the entry's value changes here.
                        self.drop_log(cx, slot, true);
                        self.store.as_mut().expect("caching").remove(slot).version
                    }
                    None => 0,
                };
                if let Some(g) = self.ghosts.remove(&req.key) {
                    self.settle(cx, g.head, g.len, true, None);
                }
                let mut e = Entry::new(req.key, req.size_bytes, old_version, expires);
                e.dirty = true;
                if let Some(slot) = self.insert(cx, e) {
                    self.dirty.push((slot, req.key));
                }
                self.respond(cx, from, req.id, now, ok_response(0, old_version));
            }
        }
    }

    /// Makes room and inserts `e`; returns its slot (`None` when it cannot be cached).
    fn insert(&mut self, cx: &mut Ctx<'_, Cluster>, e: Entry) -> Option<u32> {
        let store = self.store.as_ref()?;
        if !store.fits(e.size) {
            return None;
        }
        while !self.store.as_ref().expect("caching").has_room(e.size) {
            let victim = self
                .store
                .as_ref()
                .expect("caching")
                .victim()
                .expect("a store without room is not empty");
            self.evict(cx, victim);
        }
        let store = self.store.as_mut().expect("caching");
        let slot = store.insert(e);
        cx.gauge_set(self.m.entries, store.len() as i64);
        Some(slot)
    }

    fn evict(&mut self, cx: &mut Ctx<'_, Cluster>, slot: u32) {
        let store = self.store.as_mut().expect("caching");
        let e = store.remove(slot);
        let len = store.len();
        if e.log_len > 0 && !e.dirty {
            // Keep the undecided hits until the key's next response (see "Stale hits").
            let ghost = Ghost {
                version: e.version,
                head: e.log_head,
                len: e.log_len,
            };
            if let Some(old) = self.ghosts.insert(e.key, ghost) {
                self.settle(cx, old.head, old.len, true, None);
            }
        }
        cx.count(self.m.evictions, 1);
        cx.gauge_set(self.m.entries, len as i64);
        if e.dirty {
            self.flush_entry(cx, e.key, e.size);
        }
    }

    fn flush_entry(&mut self, cx: &mut Ctx<'_, Cluster>, key: u64, size: u32) {
        cx.count(self.m.flushes, 1);
        let req = Request {
            id: 0,
            op: Op::Write,
            key,
            size_bytes: size,
            client: 0,
        };
        let me = cx.me();
        let now = cx.now();
        self.forward(cx, Purpose::Flush, me, req, now);
    }

    fn flush_all(&mut self, cx: &mut Ctx<'_, Cluster>) {
        let mut i = 0;
        while i < self.dirty.len() {
            let (slot, key) = self.dirty[i];
            i += 1;
            let Some(store) = self.store.as_mut() else {
                break;
            };
            if store.holds(slot, key) && store.entry(slot).dirty {
                let e = store.entry_mut(slot);
                e.dirty = false;
                let size = e.size;
                self.flush_entry(cx, key, size);
            }
        }
        self.dirty.clear();
    }

    /// Marks the entry of `key` unusable (it stays until refreshed or evicted).
    fn invalidate(&mut self, cx: &mut Ctx<'_, Cluster>, key: u64) {
        let Some(store) = self.store.as_mut() else {
            return;
        };
        if let Some(slot) = store.get(key) {
            let e = store.entry_mut(slot);
            if e.expires_at != 0 {
                e.expires_at = 0;
                cx.count(self.m.invalidations, 1);
            }
        }
    }

    fn log_hit(&mut self, cx: &mut Ctx<'_, Cluster>, slot: u32, at: u64) {
        if self.log.len() - self.free_log.len() >= self.log_limit as usize {
            cx.count(self.m.unresolved_hits, 1);
            return;
        }
        let rec = HitRecord { at, next: NIL };
        let r = match self.free_log.pop() {
            Some(r) => {
                self.log[r as usize] = rec;
                r
            }
            None => {
                self.log.push(rec);
                (self.log.len() - 1) as u32
            }
        };
        let e = self.store.as_mut().expect("caching").entry_mut(slot);
        if e.log_tail == NIL {
            e.log_head = r;
        } else {
            self.log[e.log_tail as usize].next = r;
        }
        e.log_tail = r;
        e.log_len += 1;
    }

    /// Empties the entry's hit log. With `unresolved`, its hits count as `unresolved_hits`;
    /// otherwise those served after `stale_after` (if any) count as `stale_hits`.
    fn resolve_log(
        &mut self,
        cx: &mut Ctx<'_, Cluster>,
        slot: u32,
        unresolved: bool,
        stale_after: Option<u64>,
    ) {
        let e = self.store.as_mut().expect("caching").entry_mut(slot);
        let (head, len) = (e.log_head, e.log_len);
        e.log_head = NIL;
        e.log_tail = NIL;
        e.log_len = 0;
        self.settle(cx, head, len, unresolved, stale_after);
    }

    /// Frees the hit log starting at `r` (`len` records), counting as [`Cache::resolve_log`].
    fn settle(
        &mut self,
        cx: &mut Ctx<'_, Cluster>,
        mut r: u32,
        len: u32,
        unresolved: bool,
        stale_after: Option<u64>,
    ) {
        if len == 0 {
            return;
        }
        let mut stale = 0;
        while r != NIL {
            let rec = self.log[r as usize];
            if stale_after.is_some_and(|w| rec.at > w) {
                stale += 1;
            }
            self.free_log.push(r);
            r = rec.next;
        }
        if unresolved {
            cx.count(self.m.unresolved_hits, u64::from(len));
        } else if stale > 0 {
            cx.count(self.m.stale_hits, stale);
        }
    }

    fn drop_log(&mut self, cx: &mut Ctx<'_, Cluster>, slot: u32, unresolved: bool) {
        self.resolve_log(cx, slot, unresolved, None);
    }

    /// A backend response says `key` has `version` (a write time): decide the entry's logged
    /// hits and invalidate it if it is now known to be outdated.
    fn learn(&mut self, cx: &mut Ctx<'_, Cluster>, key: u64, version: u64) {
        if version == 0 {
            return;
        }
        if !self.ghosts.is_empty()
            && let Some(g) = self.ghosts.remove(&key)
        {
            let stale_after = (version > g.version).then_some(version);
            self.settle(cx, g.head, g.len, false, stale_after);
        }
        let Some(slot) = self.store.as_ref().and_then(|s| s.get(key)) else {
            return;
        };
        let e = *self.store.as_ref().expect("caching").entry(slot);
        if e.dirty || version < e.version {
            return;
        }
        if version == e.version {
            self.resolve_log(cx, slot, false, None);
        } else {
            self.resolve_log(cx, slot, false, Some(version));
            self.invalidate(cx, key);
        }
    }

    /// Caches `(key, size, version)` fetched or written just now, replacing an older entry.
    fn fill(&mut self, cx: &mut Ctx<'_, Cluster>, key: u64, size: u32, version: u64) {
        if let Some(slot) = self.store.as_ref().and_then(|s| s.get(key)) {
            let e = *self.store.as_ref().expect("caching").entry(slot);
            if e.dirty || (version != 0 && version < e.version) {
                return; // newer data is already here
            }
            self.drop_log(cx, slot, false);
            let store = self.store.as_mut().expect("caching");
            store.remove(slot);
        }
        let expires = self.expiry(cx);
        self.insert(cx, Entry::new(key, size, version, expires));
        let len = self.store.as_ref().map_or(0, Store::len);
        cx.gauge_set(self.m.entries, len as i64);
    }

    fn on_response(&mut self, cx: &mut Ctx<'_, Cluster>, resp: Response) {
        let Some(p) = self.take_pending(resp.id) else {
            return; // forgotten in a crash
        };
        let ok = resp.status.is_ok();
        let caching = self.store.is_some();
        if ok && caching {
            self.learn(cx, p.req.key, resp.version);
            match p.purpose {
                Purpose::Fill => self.fill(cx, p.req.key, resp.size_bytes, resp.version),
                Purpose::WriteThrough => {
                    self.fill(cx, p.req.key, p.req.size_bytes, resp.version);
                }
                Purpose::Flush => {
                    if let Some(store) = self.store.as_mut()
                        && let Some(slot) = store.get(p.req.key)
                    {
                        let e = store.entry_mut(slot);
                        if !e.dirty {
                            e.version = e.version.max(resp.version);
                        }
                    }
                }
                Purpose::Pass => {}
            }
        }
        if p.purpose != Purpose::Flush {
            self.respond(cx, p.from, p.req.id, p.arrival, resp);
        }
    }

    fn on_backend_failed(&mut self, cx: &mut Ctx<'_, Cluster>, id: u64) {
        let Some(p) = self.take_pending(id) else {
            return;
        };
        if p.purpose != Purpose::Flush {
            let resp = Response {
                id: 0,
                status: Status::Error,
                size_bytes: 0,
                version: 0,
            };
            self.respond(cx, p.from, p.req.id, p.arrival, resp);
        }
    }

    fn reset_gauges(&self, cx: &mut Ctx<'_, Cluster>) {
        cx.gauge_set(self.m.in_system, 0);
        let len = self.store.as_ref().map_or(0, Store::len);
        cx.gauge_set(self.m.entries, len as i64);
    }

    fn arm_flush(&mut self, cx: &mut Ctx<'_, Cluster>) {
        if let Some(every) = self.flush_interval {
            self.flush_timer = Some(cx.set_timer(every, Timer::Flush.into()));
        }
    }
}

impl Component<Cluster> for Cache {
    fn on_start(&mut self, cx: &mut Ctx<'_, Cluster>) {
        self.reset_gauges(cx);
        self.arm_flush(cx);
    }

    fn on_message(&mut self, cx: &mut Ctx<'_, Cluster>, from: ComponentId, msg: Msg) {
        match msg {
            Msg::Request(req) => self.on_request(cx, from, req),
            Msg::Response(resp) => self.on_response(cx, resp),
            // Probes, handshakes, shard transfers; the rest is not for caches.
            other => crate::msg::serve_host_traffic(cx, from, &other, self.transport),
        }
    }

    fn on_timer(&mut self, cx: &mut Ctx<'_, Cluster>, timer: crate::Timer) {
        let crate::Timer::Cache(Timer::Flush) = timer else {
            return;
        };
        self.flush_all(cx);
        self.arm_flush(cx);
    }

    fn on_send_failed(
        &mut self,
        cx: &mut Ctx<'_, Cluster>,
        _to: ComponentId,
        msg: Msg,
        _cause: DropCause,
    ) {
        // A failed response needs no action: the caller times out.
        if let Msg::Request(req) = msg {
            self.on_backend_failed(cx, req.id);
        }
    }

    fn on_crash(&mut self) {
        if let Some(s) = self.store.as_mut() {
            s.clear();
        }
        self.free_pending.clear();
        for (i, p) in self.pending.iter_mut().enumerate().rev() {
            p.live = false;
            self.free_pending.push(i as u32);
        }
        self.log.clear();
        self.free_log.clear();
        self.ghosts.clear();
        self.dirty.clear();
        self.flush_timer = None;
        self.next_backend = 0;
    }

    fn on_restart(&mut self, cx: &mut Ctx<'_, Cluster>) {
        self.reset_gauges(cx);
        self.arm_flush(cx);
    }
}
