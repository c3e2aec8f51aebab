//! Shared fixtures: a tiny test protocol, a scriptable component that logs every callback, and
//! helpers for times, links and result extraction.

use std::sync::{Arc, Mutex};

use clustersim_engine::metrics::SeriesTotal;
use clustersim_engine::*;

/// The test protocol: messages and timers are plain numbers.
pub(crate) struct P;
impl Protocol for P {
    type Msg = u64;
    type Timer = u64;
}

/// What happened to a component.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum What {
    /// `on_start` ran.
    Start,
    /// `on_restart` ran.
    Restart,
    /// `on_crash` ran (it has no context, so the record has no time).
    Crash,
    /// A message arrived.
    Msg { from: ComponentId, msg: u64 },
    /// A timer fired.
    Timer(u64),
    /// A stream send failed.
    Failed {
        to: ComponentId,
        msg: u64,
        cause: DropCause,
    },
    /// A marker a script logged itself.
    Note(u64),
}

/// One log record.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Rec {
    /// Simulated time (`None` for `Crash`).
    pub(crate) at: Option<SimTime>,
    /// The component.
    pub(crate) me: ComponentId,
    /// What happened.
    pub(crate) what: What,
}

/// A log shared by the components of one simulation (and read by the test afterwards).
#[derive(Clone, Default)]
pub(crate) struct Log(Arc<Mutex<Vec<Rec>>>);

impl Log {
    /// Appends a record.
    pub(crate) fn push(&self, at: Option<SimTime>, me: ComponentId, what: What) {
        self.0.lock().unwrap().push(Rec { at, me, what });
    }
    /// A copy of everything so far.
    pub(crate) fn all(&self) -> Vec<Rec> {
        self.0.lock().unwrap().clone()
    }
    /// Records of `me`.
    pub(crate) fn of(&self, me: ComponentId) -> Vec<Rec> {
        self.all().into_iter().filter(|r| r.me == me).collect()
    }
    /// Messages `me` received: `(time, from, msg)`.
    pub(crate) fn received(&self, me: ComponentId) -> Vec<(SimTime, ComponentId, u64)> {
        self.of(me)
            .into_iter()
            .filter_map(|r| match r.what {
                What::Msg { from, msg } => Some((r.at.unwrap(), from, msg)),
                _ => None,
            })
            .collect()
    }
    /// Timers `me` saw fire: `(time, timer)`.
    pub(crate) fn timers(&self, me: ComponentId) -> Vec<(SimTime, u64)> {
        self.of(me)
            .into_iter()
            .filter_map(|r| match r.what {
                What::Timer(t) => Some((r.at.unwrap(), t)),
                _ => None,
            })
            .collect()
    }
    /// Send failures `me` was told about: `(time, to, msg, cause)`.
    pub(crate) fn failures(&self, me: ComponentId) -> Vec<(SimTime, ComponentId, u64, DropCause)> {
        self.of(me)
            .into_iter()
            .filter_map(|r| match r.what {
                What::Failed { to, msg, cause } => Some((r.at.unwrap(), to, msg, cause)),
                _ => None,
            })
            .collect()
    }
    /// Notes `me` logged: `(time, note)`.
    pub(crate) fn notes(&self, me: ComponentId) -> Vec<(SimTime, u64)> {
        self.of(me)
            .into_iter()
            .filter_map(|r| match r.what {
                What::Note(n) => Some((r.at.unwrap(), n)),
                _ => None,
            })
            .collect()
    }
}

type StartFn = Box<dyn FnMut(&mut Ctx<'_, P>) + Send>;
type MsgFn = Box<dyn FnMut(&mut Ctx<'_, P>, ComponentId, u64) + Send>;
type TimerFn = Box<dyn FnMut(&mut Ctx<'_, P>, u64) + Send>;
type FailFn = Box<dyn FnMut(&mut Ctx<'_, P>, ComponentId, u64, DropCause) + Send>;

/// A component whose handlers are closures; every callback is logged before its closure runs.
pub(crate) struct Actor {
    log: Log,
    me: ComponentId,
    start: Option<StartFn>,
    restart: Option<StartFn>,
    message: Option<MsgFn>,
    timer: Option<TimerFn>,
    failed: Option<FailFn>,
}

impl Actor {
    /// An actor that only logs.
    pub(crate) fn new(log: &Log) -> Actor {
        Actor {
            log: log.clone(),
            me: ComponentId(u32::MAX),
            start: None,
            restart: None,
            message: None,
            timer: None,
            failed: None,
        }
    }
    /// Runs `f` in `on_start` (and in `on_restart` unless [`Actor::on_restart`] is set).
    pub(crate) fn on_start(mut self, f: impl FnMut(&mut Ctx<'_, P>) + Send + 'static) -> Actor {
        self.start = Some(Box::new(f));
        self
    }
    /// Runs `f` in `on_restart`.
    pub(crate) fn on_restart(mut self, f: impl FnMut(&mut Ctx<'_, P>) + Send + 'static) -> Actor {
        self.restart = Some(Box::new(f));
        self
    }
    /// Runs `f` in `on_message`.
    pub(crate) fn on_message(
        mut self,
        f: impl FnMut(&mut Ctx<'_, P>, ComponentId, u64) + Send + 'static,
    ) -> Actor {
        self.message = Some(Box::new(f));
        self
    }
    /// Runs `f` in `on_timer`.
    pub(crate) fn on_timer(
        mut self,
        f: impl FnMut(&mut Ctx<'_, P>, u64) + Send + 'static,
    ) -> Actor {
        self.timer = Some(Box::new(f));
        self
    }
    /// Runs `f` in `on_send_failed`.
    pub(crate) fn on_failed(
        mut self,
        f: impl FnMut(&mut Ctx<'_, P>, ComponentId, u64, DropCause) + Send + 'static,
    ) -> Actor {
        self.failed = Some(Box::new(f));
        self
    }
    /// Adds the actor to `b` on `node`, returning its id.
    pub(crate) fn add(mut self, b: &mut SimBuilder<P>, node: NodeId, name: &str) -> ComponentId {
        self.me = b.next_component_id();
        b.add_component(node, name, Box::new(self))
    }
}

impl Component<P> for Actor {
    fn on_start(&mut self, cx: &mut Ctx<'_, P>) {
        self.log.push(Some(cx.now()), cx.me(), What::Start);
        if let Some(f) = &mut self.start {
            f(cx);
        }
    }
    fn on_message(&mut self, cx: &mut Ctx<'_, P>, from: ComponentId, msg: u64) {
        self.log
            .push(Some(cx.now()), cx.me(), What::Msg { from, msg });
        if let Some(f) = &mut self.message {
            f(cx, from, msg);
        }
    }
    fn on_timer(&mut self, cx: &mut Ctx<'_, P>, timer: u64) {
        self.log.push(Some(cx.now()), cx.me(), What::Timer(timer));
        if let Some(f) = &mut self.timer {
            f(cx, timer);
        }
    }
    fn on_send_failed(&mut self, cx: &mut Ctx<'_, P>, to: ComponentId, msg: u64, cause: DropCause) {
        self.log
            .push(Some(cx.now()), cx.me(), What::Failed { to, msg, cause });
        if let Some(f) = &mut self.failed {
            f(cx, to, msg, cause);
        }
    }
    fn on_crash(&mut self) {
        self.log.push(None, self.me, What::Crash);
    }
    fn on_restart(&mut self, cx: &mut Ctx<'_, P>) {
        self.log.push(Some(cx.now()), cx.me(), What::Restart);
        match (&mut self.restart, &mut self.start) {
            (Some(f), _) | (None, Some(f)) => f(cx),
            (None, None) => {}
        }
    }
}

/// `n` milliseconds.
pub(crate) fn ms(n: u64) -> SimDuration {
    SimDuration::from_millis(n)
}

/// The instant `n` milliseconds after the start.
pub(crate) fn t_ms(n: u64) -> SimTime {
    SimTime::ZERO + SimDuration::from_millis(n)
}

/// The instant `n` microseconds after the start.
pub(crate) fn t_us(n: u64) -> SimTime {
    SimTime::ZERO + SimDuration::from_micros(n)
}

/// A constant latency of `d`.
pub(crate) fn constant(d: SimDuration) -> Dist {
    Dist::constant(d.as_nanos() as f64).unwrap()
}

/// A link with a constant latency of `d` and nothing else.
pub(crate) fn link(d: SimDuration) -> LinkSpec {
    LinkSpec::with_latency(constant(d))
}

/// Run until `end` with an event cap far above what any test needs.
pub(crate) fn until(end: SimTime) -> Limits {
    Limits::new(end, 50_000_000)
}

/// A builder with one region and `n` nodes (`n0`, `n1`, ...).
pub(crate) fn world(seed: u64, n: usize) -> (SimBuilder<P>, Vec<NodeId>) {
    let mut b = SimBuilder::<P>::new(seed);
    let r = b.add_region("r");
    let nodes = (0..n).map(|i| b.add_node(&format!("n{i}"), r)).collect();
    (b, nodes)
}

/// Drops of `cause` in a summary.
pub(crate) fn drops(s: &RunSummary, cause: DropCause) -> u64 {
    s.drops[cause.index()]
}

/// A comparable rendering of every metric total (histograms by count, extremes, mean and
/// quantiles; floats by their bits).
pub(crate) fn totals_fingerprint(m: &MetricsReport) -> Vec<String> {
    m.totals
        .iter()
        .map(|t| match t {
            SeriesTotal::Counter(n) => format!("c{n}"),
            SeriesTotal::Gauge {
                time_avg,
                max,
                last,
            } => {
                format!("g{:x}/{max}/{last}", time_avg.to_bits())
            }
            SeriesTotal::Histogram { hist, clamped } => format!(
                "h{}/{}/{}/{:x}/{}/{}/{clamped}",
                hist.len(),
                hist.min(),
                hist.max(),
                hist.mean().to_bits(),
                hist.value_at_quantile(0.5),
                hist.value_at_quantile(0.99),
            ),
        })
        .collect()
}

/// Asserts `|x - expected| <= tol` with a readable message.
#[track_caller]
pub(crate) fn assert_close(x: f64, expected: f64, tol: f64, what: &str) {
    assert!(
        (x - expected).abs() <= tol,
        "{what}: got {x}, expected {expected} ± {tol}"
    );
}
