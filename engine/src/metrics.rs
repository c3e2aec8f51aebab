//! Metrics recording: counters, time-weighted gauges and latency histograms, per component.
//!
//! Series are registered while building the simulation ([`Recorder::counter`],
//! [`Recorder::gauge`], [`Recorder::histogram`]) and then recorded through dense [`SeriesId`]s, so
//! recording is an index and an add — no hashing, no allocation. A run returns everything as a
//! [`MetricsReport`] value; writing files is the analysis crate's job.
//!
//! **Warm-up.** Totals (counter totals, gauge time averages, histograms) only include what happens
//! at or after the warm-up end; the per-interval windows cover the whole run and say whether each
//! window lies in the warm-up.
//!
//! **Histograms** are `hdrhistogram` with bounded memory whatever the run length: totals keep 3
//! significant digits (0.1 % relative error), windows too. Values above the highest trackable
//! value (1 hour in nanoseconds by default) are clamped to it and counted in `clamped`.

use hdrhistogram::Histogram;

use crate::id::{ComponentId, SeriesId};
use crate::time::{SimDuration, SimTime};

/// Largest value a histogram tracks exactly: one hour in nanoseconds.
pub const HISTOGRAM_MAX: u64 = 3_600_000_000_000;

/// What a series measures.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SeriesKind {
    /// A monotone count of occurrences (requests, drops, errors).
    Counter,
    /// A level that changes over time (queue length, busy workers); averaged over time.
    Gauge,
    /// A distribution of recorded values (latencies in nanoseconds).
    Histogram,
}

/// A series' identity: who owns it and what it is called.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SeriesInfo {
    /// The component the series belongs to (`None` for run-wide series).
    pub owner: Option<ComponentId>,
    /// The metric name, e.g. `"latency_ns"` or `"queue_len"`.
    pub name: String,
    /// The kind of series.
    pub kind: SeriesKind,
}

#[derive(Debug)]
enum State {
    Counter {
        total: u64,
        window: u64,
    },
    Gauge(GaugeState),
    Histogram {
        total: Box<Histogram<u64>>,
        window: Box<Histogram<u64>>,
        clamped: u64,
    },
}

#[derive(Clone, Debug, Default)]
struct GaugeState {
    value: i64,
    last_change: SimTime,
    /// Integral of the value over time after warm-up, in value·ns.
    integral: i128,
    window_integral: i128,
    max: i64,
    window_max: i64,
}

/// Totals for one series over the measured part of a run (after warm-up).
#[derive(Clone, Debug)]
pub enum SeriesTotal {
    /// Count after warm-up.
    Counter(u64),
    /// Time-average and maximum after warm-up, and the final value.
    Gauge {
        /// Time-weighted mean level.
        time_avg: f64,
        /// Largest level seen (whole run).
        max: i64,
        /// Level at the end of the run.
        last: i64,
    },
    /// The histogram of values recorded after warm-up.
    Histogram {
        /// The distribution (3 significant digits).
        hist: Box<Histogram<u64>>,
        /// Values that exceeded [`HISTOGRAM_MAX`] and were clamped.
        clamped: u64,
    },
}

/// One series' value over one report interval.
#[derive(Clone, Debug, PartialEq)]
pub enum WindowValue {
    /// Occurrences in the window.
    Counter(u64),
    /// Time-average and maximum level over the window.
    Gauge {
        /// Time-weighted mean.
        time_avg: f64,
        /// Maximum.
        max: i64,
    },
    /// Summary of values recorded in the window (nanoseconds for latencies).
    Histogram {
        /// Number of values.
        count: u64,
        /// Mean value.
        mean: f64,
        /// Median.
        p50: u64,
        /// 90th percentile.
        p90: u64,
        /// 99th percentile.
        p99: u64,
        /// Maximum.
        max: u64,
    },
}

/// One row of the time series: a series' value over `[start, end)`.
#[derive(Clone, Debug, PartialEq)]
pub struct WindowRecord {
    /// Window start (inclusive).
    pub start: SimTime,
    /// Window end (exclusive).
    pub end: SimTime,
    /// Whether the window ends at or before the warm-up end.
    pub in_warmup: bool,
    /// The series.
    pub series: SeriesId,
    /// Its value.
    pub value: WindowValue,
}

/// Everything recorded in one run, as data.
#[derive(Clone, Debug)]
pub struct MetricsReport {
    /// Identity of each series, indexed by `SeriesId`.
    pub series: Vec<SeriesInfo>,
    /// Totals, indexed by `SeriesId`.
    pub totals: Vec<SeriesTotal>,
    /// Per-interval windows, in time order then series order (empty if no interval was set).
    pub windows: Vec<WindowRecord>,
    /// Start of the measured period (the warm-up end).
    pub measured_from: SimTime,
    /// End of the measured period (the run's end).
    pub measured_to: SimTime,
}

impl MetricsReport {
    /// The id of `owner`'s series called `name`, if registered.
    pub fn find(&self, owner: Option<ComponentId>, name: &str) -> Option<SeriesId> {
        self.series
            .iter()
            .position(|s| s.owner == owner && s.name == name)
            .map(|i| SeriesId(i as u32))
    }
    /// The counter total of a series (0 if it is not a counter).
    pub fn counter(&self, id: SeriesId) -> u64 {
        match &self.totals[id.index()] {
            SeriesTotal::Counter(n) => *n,
            _ => 0,
        }
    }
    /// The histogram of a series, if it is one.
    pub fn histogram(&self, id: SeriesId) -> Option<&Histogram<u64>> {
        match &self.totals[id.index()] {
            SeriesTotal::Histogram { hist, .. } => Some(hist),
            _ => None,
        }
    }
    /// The time-average of a gauge series (NaN if it is not a gauge).
    pub fn gauge_avg(&self, id: SeriesId) -> f64 {
        match &self.totals[id.index()] {
            SeriesTotal::Gauge { time_avg, .. } => *time_avg,
            _ => f64::NAN,
        }
    }
    /// Length of the measured period.
    pub fn measured_duration(&self) -> SimDuration {
        self.measured_to - self.measured_from
    }
}

/// The metrics recorder a simulation owns; components reach it through their context.
#[derive(Debug)]
pub struct Recorder {
    info: Vec<SeriesInfo>,
    /// Gauges that survive crashes (few; a linear scan at crash time is fine).
    persistent: Vec<SeriesId>,
    state: Vec<State>,
    warmup_end: SimTime,
    interval: Option<SimDuration>,
    window_start: SimTime,
    next_roll: SimTime,
    windows: Vec<WindowRecord>,
}

impl Default for Recorder {
    fn default() -> Self {
        Recorder {
            info: Vec::new(),
            persistent: Vec::new(),
            state: Vec::new(),
            warmup_end: SimTime::ZERO,
            interval: None,
            window_start: SimTime::ZERO,
            next_roll: SimTime::MAX,
            windows: Vec::new(),
        }
    }
}

fn new_hist(sigfig: u8) -> Box<Histogram<u64>> {
    Box::new(Histogram::new_with_bounds(1, HISTOGRAM_MAX, sigfig).expect("valid static bounds"))
}

impl Recorder {
    /// Sets the warm-up end: totals ignore everything before it.
    pub fn set_warmup(&mut self, warmup_end: SimTime) {
        self.warmup_end = warmup_end;
    }
    /// Sets the report interval for the time series (`None` disables windows).
    pub fn set_interval(&mut self, interval: Option<SimDuration>) {
        self.interval = interval.filter(|d| !d.is_zero());
        self.next_roll = match self.interval {
            Some(d) => self.window_start + d,
            None => SimTime::MAX,
        };
    }
    fn register(
        &mut self,
        owner: Option<ComponentId>,
        name: &str,
        kind: SeriesKind,
        state: State,
    ) -> SeriesId {
        let id = SeriesId(self.info.len() as u32);
        self.info.push(SeriesInfo {
            owner,
            name: name.to_owned(),
            kind,
        });
        self.state.push(state);
        id
    }
    /// Registers a counter.
    pub fn counter(&mut self, owner: Option<ComponentId>, name: &str) -> SeriesId {
        self.register(
            owner,
            name,
            SeriesKind::Counter,
            State::Counter {
                total: 0,
                window: 0,
            },
        )
    }
    /// Registers a gauge starting at zero.
    ///
    /// The gauge measures volatile state: when the owner's node crashes it drops to zero (see
    /// [`Recorder::crash_reset`]). Use [`Recorder::gauge_persistent`] for configuration levels.
    pub fn gauge(&mut self, owner: Option<ComponentId>, name: &str) -> SeriesId {
        self.register(
            owner,
            name,
            SeriesKind::Gauge,
            State::Gauge(GaugeState::default()),
        )
    }
    /// Registers a gauge that keeps its value across crashes (a configured capacity such as a
    /// service's number of servers, not state held in memory).
    pub fn gauge_persistent(&mut self, owner: Option<ComponentId>, name: &str) -> SeriesId {
        let id = self.gauge(owner, name);
        self.persistent.push(id);
        id
    }
    /// Drops every volatile gauge of `owner` to zero at `now`: a crash loses the state those
    /// gauges measure (queued requests, busy workers, cache entries), so time averages must not
    /// keep counting it while the node is down. Called by the kernel on a crash.
    pub fn crash_reset(&mut self, now: SimTime, owner: ComponentId) {
        for i in 0..self.info.len() {
            let id = SeriesId(i as u32);
            if self.info[i].owner == Some(owner)
                && self.info[i].kind == SeriesKind::Gauge
                && !self.persistent.contains(&id)
            {
                self.set(now, id, 0);
            }
        }
    }
    /// Registers a histogram (values in nanoseconds for latencies).
    pub fn histogram(&mut self, owner: Option<ComponentId>, name: &str) -> SeriesId {
        self.register(
            owner,
            name,
            SeriesKind::Histogram,
            State::Histogram {
                total: new_hist(3),
                window: new_hist(3),
                clamped: 0,
            },
        )
    }
    /// The registered series so far.
    pub fn series(&self) -> &[SeriesInfo] {
        &self.info
    }

    /// Adds `n` to a counter.
    #[inline]
    pub fn add(&mut self, now: SimTime, id: SeriesId, n: u64) {
        if let State::Counter { total, window } = &mut self.state[id.index()] {
            *window += n;
            if now >= self.warmup_end {
                *total += n;
            }
        }
    }

    /// Sets a gauge to `value` from `now` on.
    #[inline]
    pub fn set(&mut self, now: SimTime, id: SeriesId, value: i64) {
        let warmup_end = self.warmup_end;
        if let State::Gauge(g) = &mut self.state[id.index()] {
            Self::integrate(g, now, warmup_end);
            g.value = value;
            g.max = g.max.max(value);
            g.window_max = g.window_max.max(value);
        }
    }

    /// Adds `delta` to a gauge.
    #[inline]
    pub fn adjust(&mut self, now: SimTime, id: SeriesId, delta: i64) {
        let current = match &self.state[id.index()] {
            State::Gauge(g) => g.value,
            _ => return,
        };
        self.set(now, id, current + delta);
    }

    #[inline]
    fn integrate(g: &mut GaugeState, now: SimTime, warmup_end: SimTime) {
        let from = g.last_change;
        if now > from {
            let span = i128::from((now - from).as_nanos());
            g.window_integral += i128::from(g.value) * span;
            let measured_from = from.max(warmup_end);
            if now > measured_from {
                g.integral += i128::from(g.value) * i128::from((now - measured_from).as_nanos());
            }
            g.last_change = now;
        }
    }

    /// Records one value (e.g. a latency in ns) into a histogram.
    #[inline]
    pub fn record(&mut self, now: SimTime, id: SeriesId, value: u64) {
        let warmup_end = self.warmup_end;
        if let State::Histogram {
            total,
            window,
            clamped,
        } = &mut self.state[id.index()]
        {
            let v = if value > HISTOGRAM_MAX {
                *clamped += 1;
                HISTOGRAM_MAX
            } else {
                value
            };
            // One record per value: while windows are on, a window that starts after the
            // warm-up is merged into the total when it closes (same precision, so the merge is
            // an element-wise add); only the window straddling the warm-up end, or a run
            // without windows, records into the total directly.
            if self.interval.is_none() {
                if now >= warmup_end {
                    total.saturating_record(v);
                }
            } else {
                window.saturating_record(v);
                if now >= warmup_end && self.window_start < warmup_end {
                    total.saturating_record(v);
                }
            }
        }
    }

    /// The instant at which the current window closes (`SimTime::MAX` without windows).
    #[inline]
    pub fn next_roll(&self) -> SimTime {
        self.next_roll
    }

    /// Closes every window that ends at or before `now`.
    pub fn roll_until(&mut self, now: SimTime) {
        let Some(interval) = self.interval else {
            return;
        };
        // A window ending at `SimTime::MAX` never rolls (the next one could not end later);
        // `finish` closes it.
        while self.next_roll <= now && self.next_roll != SimTime::MAX {
            let (start, end) = (self.window_start, self.next_roll);
            self.close_window(start, end);
            self.window_start = end;
            self.next_roll = end + interval;
        }
    }

    fn close_window(&mut self, start: SimTime, end: SimTime) {
        let span = (end - start).as_nanos().max(1) as f64;
        let warmup_end = self.warmup_end;
        for (i, st) in self.state.iter_mut().enumerate() {
            let value = match st {
                State::Counter { window, .. } => WindowValue::Counter(std::mem::take(window)),
                State::Gauge(g) => {
                    Self::integrate(g, end, warmup_end);
                    let v = WindowValue::Gauge {
                        time_avg: g.window_integral as f64 / span,
                        max: g.window_max,
                    };
                    g.window_integral = 0;
                    g.window_max = g.value;
                    v
                }
                State::Histogram { window, total, .. } => {
                    if start >= warmup_end {
                        // Same bounds and precision: `add` cannot fail.
                        let _ = total.add(&**window);
                    }
                    let v = WindowValue::Histogram {
                        count: window.len(),
                        mean: if window.is_empty() {
                            0.0
                        } else {
                            window.mean()
                        },
                        p50: window.value_at_quantile(0.5),
                        p90: window.value_at_quantile(0.9),
                        p99: window.value_at_quantile(0.99),
                        max: window.max(),
                    };
                    window.reset();
                    v
                }
            };
            self.windows.push(WindowRecord {
                start,
                end,
                in_warmup: end <= warmup_end,
                series: SeriesId(i as u32),
                value,
            });
        }
    }

    /// Finishes the run at `end` and returns the report. A final partial window is closed if
    /// anything remains in it.
    pub fn finish(mut self, end: SimTime) -> MetricsReport {
        self.roll_until(end);
        if self.interval.is_some() && end > self.window_start {
            let start = self.window_start;
            self.close_window(start, end);
        }
        let warmup_end = self.warmup_end;
        let measured = end.saturating_since(warmup_end).as_nanos();
        let totals = self
            .state
            .into_iter()
            .map(|st| match st {
                State::Counter { total, .. } => SeriesTotal::Counter(total),
                State::Gauge(mut g) => {
                    Self::integrate(&mut g, end, warmup_end);
                    let time_avg = if measured == 0 {
                        f64::NAN
                    } else {
                        g.integral as f64 / measured as f64
                    };
                    SeriesTotal::Gauge {
                        time_avg,
                        max: g.max,
                        last: g.value,
                    }
                }
                State::Histogram { total, clamped, .. } => SeriesTotal::Histogram {
                    hist: total,
                    clamped,
                },
            })
            .collect();
        MetricsReport {
            series: self.info,
            totals,
            windows: self.windows,
            measured_from: warmup_end.min(end),
            measured_to: end,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(ms: u64) -> SimTime {
        SimTime::from_nanos(ms * 1_000_000)
    }

    #[test]
    fn gauge_time_average_excludes_warmup() {
        let mut r = Recorder::default();
        r.set_warmup(t(10));
        let g = r.gauge(None, "q");
        r.set(t(0), g, 100); // only during warm-up
        r.set(t(10), g, 2);
        r.set(t(20), g, 4);
        let rep = r.finish(t(30));
        // Over [10, 30): 2 for 10 ms, 4 for 10 ms → 3.
        assert_eq!(rep.gauge_avg(g), 3.0);
    }

    #[test]
    fn counters_and_histograms_respect_warmup_and_windows() {
        let mut r = Recorder::default();
        r.set_warmup(t(5));
        r.set_interval(Some(SimDuration::from_millis(10)));
        let c = r.counter(None, "n");
        let h = r.histogram(None, "lat");
        for ms in 0..25 {
            r.roll_until(t(ms));
            r.add(t(ms), c, 1);
            r.record(t(ms), h, 1_000 * (ms + 1));
        }
        let rep = r.finish(t(25));
        assert_eq!(rep.counter(c), 20);
        assert_eq!(rep.histogram(h).unwrap().len(), 20);
        let counts: Vec<_> = rep
            .windows
            .iter()
            .filter(|w| w.series == c)
            .map(|w| (w.start.as_nanos() / 1_000_000, w.value.clone()))
            .collect();
        assert_eq!(
            counts,
            vec![
                (0, WindowValue::Counter(10)),
                (10, WindowValue::Counter(10)),
                (20, WindowValue::Counter(5))
            ]
        );
        assert!(rep.windows.iter().all(|w| !w.in_warmup));
    }

    #[test]
    fn huge_values_are_clamped_not_lost() {
        let mut r = Recorder::default();
        let h = r.histogram(None, "lat");
        r.record(t(0), h, u64::MAX);
        let rep = r.finish(t(1));
        match &rep.totals[h.index()] {
            SeriesTotal::Histogram { hist, clamped } => {
                assert_eq!(hist.len(), 1);
                assert_eq!(*clamped, 1);
            }
            other => panic!("{other:?}"),
        }
    }
    #[test]
    fn crash_reset_zeroes_volatile_gauges_only() {
        let mut r = Recorder::default();
        let owner = ComponentId(3);
        let queue = r.gauge(Some(owner), "queue_len");
        let servers = r.gauge_persistent(Some(owner), "servers");
        let other = r.gauge(Some(ComponentId(4)), "queue_len");
        for g in [queue, servers, other] {
            r.set(t(0), g, 4);
        }
        r.crash_reset(t(10), owner);
        let rep = r.finish(t(20));
        // 4 for 10 ms, then 0 for 10 ms: the crashed state is not counted while down.
        assert_eq!(rep.gauge_avg(queue), 2.0);
        assert_eq!(rep.gauge_avg(servers), 4.0);
        assert_eq!(rep.gauge_avg(other), 4.0);
    }
}
