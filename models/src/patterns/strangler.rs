//! A strangler-fig router: in front of a monolith (`legacy`) and its replacement services,
//! it sends a share of each route's traffic to the new service and the rest to the legacy.
//!
//! A route is an operation ([`Op`]: the API path of the request). Its share follows a
//! schedule (e.g. 10 % at 0 s, 50 % at 20 s, 100 % at 40 s); each request of the route goes
//! to the new service with the current share's probability (the router's own random
//! stream). With `rollback`, the router watches the new path over consecutive windows:
//! when a window has at least `min_requests` answers on the new path and their error rate
//! exceeds `max_error_rate`, or their p99 latency exceeds `max_p99`, the route is **rolled
//! back**: its share drops to 0 for the rest of the run (later schedule steps are ignored —
//! a rollback needs a human to resume the migration). The p99 test is exact without a
//! histogram: p99 > T iff more than 1 % of the window's answers took longer than T.
//!
//! Answers are relayed to the caller unchanged; with `timeout`, a request unanswered that
//! long is answered [`Status::Timeout`] and counts as an error of its path.
//!
//! # Metrics
//!
//! `arrivals`, `completed`, `errors` (non-`Ok` answers relayed, timeouts included),
//! `latency_ns`, `in_system`, and per path — label `path=<route>_new`, `path=<route>_legacy`
//! (route = `read`, `write`, `other`) and `path=legacy` for requests of routes without a
//! migration: `requests@…`, `errors@…`, `latency_ns@…`. Per route: `share_permille@route=…`
//! (gauge: the current share × 1000) and `rollbacks@route=…`.

use clustersim_engine::rng::chance;
use clustersim_engine::{
    Component, ComponentId, Ctx, DropCause, Recorder, SeriesId, SimDuration, SimTime, TimerKey,
    Transport,
};

use super::{Slab, Timer};
use crate::Cluster;
use crate::error::ConfigError;
use crate::msg::{Op, Request, Response, Status};

/// One step of a route's migration schedule.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct ShareStep {
    /// When the share applies (since the start of the run).
    pub at: SimDuration,
    /// Share of the route's requests sent to the new service, in `[0, 1]`.
    pub share: f64,
}

/// Automatic rollback of a route.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Rollback {
    /// Evaluation window, `> 0`.
    pub window: SimDuration,
    /// Roll back when the new path's error rate in a window exceeds this, in `[0, 1]`.
    pub max_error_rate: f64,
    /// Roll back when the new path's p99 latency in a window exceeds this. Default none.
    pub max_p99: Option<SimDuration>,
    /// Answers a window needs on the new path before it is judged, `>= 1`. Default 20.
    pub min_requests: u32,
}

/// One migrated route.
#[derive(Clone, Debug, PartialEq)]
pub struct RouteConfig {
    /// The route (operation).
    pub route: Op,
    /// The new service.
    pub target: ComponentId,
    /// Share over time, in increasing `at` order; before the first step the share is 0.
    pub schedule: Vec<ShareStep>,
    /// Automatic rollback. Default none.
    pub rollback: Option<Rollback>,
}

/// The router.
#[derive(Clone, Debug, PartialEq)]
pub struct StranglerConfig {
    /// The monolith: every request not sent to a new service.
    pub legacy: ComponentId,
    /// Migrated routes, at most one per operation.
    pub routes: Vec<RouteConfig>,
    /// Answer `Timeout` after this long. Default none.
    pub timeout: Option<SimDuration>,
    /// Transport. Default [`Transport::Stream`].
    pub transport: Transport,
}

impl StranglerConfig {
    /// Checks every field against its documented range.
    pub fn validate(&self) -> Result<(), ConfigError> {
        for (i, r) in self.routes.iter().enumerate() {
            let p = format!("routes[{i}]");
            if self.routes[..i].iter().any(|o| o.route == r.route) {
                return Err(ConfigError::new(
                    format!("{p}.route"),
                    format!("route `{}` is listed twice", r.route.name()),
                ));
            }
            for (j, s) in r.schedule.iter().enumerate() {
                super::check_probability(&format!("{p}.schedule[{j}].share"), s.share)?;
                if j > 0 && s.at <= r.schedule[j - 1].at {
                    return Err(ConfigError::new(
                        format!("{p}.schedule[{j}].at"),
                        "schedule steps must be in strictly increasing time order",
                    ));
                }
            }
            if let Some(rb) = &r.rollback {
                if rb.window.is_zero() {
                    return Err(ConfigError::new(
                        format!("{p}.rollback.window"),
                        "is 0, but it must be > 0",
                    ));
                }
                super::check_probability(
                    &format!("{p}.rollback.max_error_rate"),
                    rb.max_error_rate,
                )?;
                if rb.min_requests == 0 {
                    return Err(ConfigError::new(
                        format!("{p}.rollback.min_requests"),
                        "is 0, but it must be >= 1",
                    ));
                }
            }
        }
        if self.timeout.is_some_and(SimDuration::is_zero) {
            return Err(ConfigError::new(
                "timeout",
                "is 0, but it must be > 0 (leave it out to wait forever)",
            ));
        }
        Ok(())
    }
}

#[derive(Clone, Copy, Debug)]
struct PathSeries {
    requests: SeriesId,
    errors: SeriesId,
    latency: SeriesId,
}

impl PathSeries {
    fn new(rec: &mut Recorder, o: Option<ComponentId>, label: &str) -> PathSeries {
        PathSeries {
            requests: rec.counter(o, &format!("requests@path={label}")),
            errors: rec.counter(o, &format!("errors@path={label}")),
            latency: rec.histogram(o, &format!("latency_ns@path={label}")),
        }
    }
}

#[derive(Clone, Debug)]
struct RouteState {
    share: f64,
    rolled_back: bool,
    window_answers: u32,
    window_errors: u32,
    window_slow: u32,
    legacy: PathSeries,
    new: PathSeries,
    share_gauge: SeriesId,
    rollbacks: SeriesId,
}

#[derive(Clone, Copy, Debug)]
struct InFlight {
    from: ComponentId,
    req: Request,
    arrival: SimTime,
    route: Option<u16>,
    new: bool,
    timer: Option<TimerKey>,
}

/// The strangler-fig router (see the module docs).
#[derive(Debug)]
pub struct StranglerRouter {
    cfg: StranglerConfig,
    routes: Vec<RouteState>,
    unrouted: PathSeries,
    inflight: Slab<InFlight>,
    arrivals: SeriesId,
    completed: SeriesId,
    errors: SeriesId,
    latency: SeriesId,
    in_system: SeriesId,
}

impl StranglerRouter {
    /// Builds the router and registers its metrics.
    pub fn new(cfg: &StranglerConfig, me: ComponentId, rec: &mut Recorder) -> StranglerRouter {
        let o = Some(me);
        let routes = cfg
            .routes
            .iter()
            .map(|r| {
                let name = r.route.name();
                RouteState {
                    share: 0.0,
                    rolled_back: false,
                    window_answers: 0,
                    window_errors: 0,
                    window_slow: 0,
                    legacy: PathSeries::new(rec, o, &format!("{name}_legacy")),
                    new: PathSeries::new(rec, o, &format!("{name}_new")),
                    share_gauge: rec.gauge_persistent(o, &format!("share_permille@route={name}")),
                    rollbacks: rec.counter(o, &format!("rollbacks@route={name}")),
                }
            })
            .collect();
        StranglerRouter {
            cfg: cfg.clone(),
            routes,
            unrouted: PathSeries::new(rec, o, "legacy"),
            inflight: Slab::default(),
            arrivals: rec.counter(o, "arrivals"),
            completed: rec.counter(o, "completed"),
            errors: rec.counter(o, "errors"),
            latency: rec.histogram(o, "latency_ns"),
            in_system: rec.gauge(o, "in_system"),
        }
    }

    /// The current share of route `i` (for tests).
    pub fn share(&self, i: usize) -> f64 {
        self.routes[i].share
    }

    fn set_share(&mut self, cx: &mut Ctx<'_, Cluster>, i: usize, share: f64) {
        self.routes[i].share = share;
        cx.gauge_set(self.routes[i].share_gauge, (share * 1000.0).round() as i64);
    }

    /// Sets every route's share for the current time and arms the later schedule steps and
    /// the rollback windows (at start and after a restart).
    fn arm(&mut self, cx: &mut Ctx<'_, Cluster>) {
        let now = cx.now().since_start();
        for i in 0..self.routes.len() {
            let route = &self.cfg.routes[i];
            let mut share = 0.0;
            let mut timers = Vec::new();
            for (j, s) in route.schedule.iter().enumerate() {
                if s.at <= now {
                    share = s.share;
                } else {
                    timers.push((s.at - now, j as u16));
                }
            }
            let rollback = route.rollback.map(|r| r.window);
            if self.routes[i].rolled_back {
                share = 0.0;
            }
            self.set_share(cx, i, share);
            for (after, index) in timers {
                let t = Timer::ShareStep {
                    route: i as u16,
                    index,
                };
                cx.set_timer(after, t.into());
            }
            if let Some(w) = rollback {
                cx.set_timer(w, Timer::Evaluate { route: i as u16 }.into());
            }
        }
    }

    fn on_request(&mut self, cx: &mut Ctx<'_, Cluster>, from: ComponentId, req: Request) {
        cx.count(self.arrivals, 1);
        cx.gauge_add(self.in_system, 1);
        let route = self.cfg.routes.iter().position(|r| r.route == req.op);
        let (new, target, series) = match route {
            Some(i) => {
                let share = self.routes[i].share;
                let new = share >= 1.0 || (share > 0.0 && chance(cx.rng(), share));
                if new {
                    (true, self.cfg.routes[i].target, self.routes[i].new)
                } else {
                    (false, self.cfg.legacy, self.routes[i].legacy)
                }
            }
            None => (false, self.cfg.legacy, self.unrouted),
        };
        cx.count(series.requests, 1);
        let id = self.inflight.insert(InFlight {
            from,
            req,
            arrival: cx.now(),
            route: route.map(|i| i as u16),
            new,
            timer: None,
        });
        if let Some(t) = self.cfg.timeout {
            let key = cx.set_timer(t, Timer::RequestTimeout { id }.into());
            if let Some(f) = self.inflight.get_mut(id) {
                f.timer = Some(key);
            }
        }
        cx.send_with(
            target,
            Request { id, ..req }.into(),
            self.cfg.transport,
            req.size_bytes,
        );
    }

    fn on_answer(
        &mut self,
        cx: &mut Ctx<'_, Cluster>,
        id: u64,
        status: Status,
        size: u32,
        version: u64,
    ) {
        let Some(f) = self.inflight.remove(id) else {
            return;
        };
        if let Some(k) = f.timer {
            cx.cancel_timer(k);
        }
        let now = cx.now();
        let lat = (now - f.arrival).as_nanos();
        let resp = Response {
            id: f.req.id,
            status,
            size_bytes: size,
            version,
        };
        cx.send_with(f.from, resp.into(), self.cfg.transport, size);
        cx.record(self.latency, lat);
        cx.gauge_add(self.in_system, -1);
        let ok = status.is_ok();
        cx.count(if ok { self.completed } else { self.errors }, 1);
        let series = match f.route {
            Some(i) => {
                let r = &mut self.routes[i as usize];
                if f.new {
                    r.window_answers += 1;
                    r.window_errors += u32::from(!ok);
                    let slow = self.cfg.routes[i as usize]
                        .rollback
                        .and_then(|rb| rb.max_p99)
                        .is_some_and(|t| lat > t.as_nanos());
                    r.window_slow += u32::from(slow);
                    r.new
                } else {
                    r.legacy
                }
            }
            None => self.unrouted,
        };
        if !ok {
            cx.count(series.errors, 1);
        }
        cx.record(series.latency, lat);
    }

    fn evaluate(&mut self, cx: &mut Ctx<'_, Cluster>, i: usize) {
        let Some(rb) = self.cfg.routes[i].rollback else {
            return;
        };
        let r = &mut self.routes[i];
        let (n, e, s) = (r.window_answers, r.window_errors, r.window_slow);
        (r.window_answers, r.window_errors, r.window_slow) = (0, 0, 0);
        if r.rolled_back {
            return;
        }
        let too_many_errors = f64::from(e) > rb.max_error_rate * f64::from(n);
        let too_slow = u64::from(s) * 100 > u64::from(n);
        if n >= rb.min_requests && (too_many_errors || too_slow) {
            r.rolled_back = true;
            cx.count(r.rollbacks, 1);
            self.set_share(cx, i, 0.0);
            return;
        }
        cx.set_timer(rb.window, Timer::Evaluate { route: i as u16 }.into());
    }
}

impl Component<Cluster> for StranglerRouter {
    fn on_start(&mut self, cx: &mut Ctx<'_, Cluster>) {
        self.arm(cx);
    }

    fn on_message(&mut self, cx: &mut Ctx<'_, Cluster>, from: ComponentId, msg: crate::Msg) {
        match msg {
            crate::Msg::Request(req) => self.on_request(cx, from, req),
            crate::Msg::Response(r) => self.on_answer(cx, r.id, r.status, r.size_bytes, r.version),
            crate::Msg::Probe { seq } => {
                cx.send_with(from, crate::Msg::ProbeReply { seq }, self.cfg.transport, 0)
            }
            _ => {}
        }
    }

    fn on_timer(&mut self, cx: &mut Ctx<'_, Cluster>, t: crate::Timer) {
        let crate::Timer::Pattern(t) = t else {
            return;
        };
        match t {
            Timer::ShareStep { route, index } => {
                let i = route as usize;
                if !self.routes[i].rolled_back {
                    let share = self.cfg.routes[i].schedule[index as usize].share;
                    self.set_share(cx, i, share);
                }
            }
            Timer::Evaluate { route } => self.evaluate(cx, route as usize),
            Timer::RequestTimeout { id } => {
                if let Some(f) = self.inflight.get_mut(id) {
                    f.timer = None;
                    self.on_answer(cx, id, Status::Timeout, 0, 0);
                }
            }
            _ => {}
        }
    }

    fn on_send_failed(
        &mut self,
        cx: &mut Ctx<'_, Cluster>,
        _to: ComponentId,
        msg: crate::Msg,
        _cause: DropCause,
    ) {
        if let crate::Msg::Request(r) = msg {
            self.on_answer(cx, r.id, Status::Error, 0, 0);
        }
    }

    fn on_crash(&mut self) {
        // Requests in flight are lost; the rollback decision is kept (an operator's flag).
        self.inflight.clear();
        for r in &mut self.routes {
            (r.window_answers, r.window_errors, r.window_slow) = (0, 0, 0);
        }
    }

    fn on_restart(&mut self, cx: &mut Ctx<'_, Cluster>) {
        cx.gauge_set(self.in_system, 0);
        self.arm(cx);
    }
}
