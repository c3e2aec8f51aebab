//! Helpers: build a one-region simulation with an ideal network, run it, read metrics.

use clustersim_engine::{
    ComponentId, FaultAction, Limits, MetricsReport, RunReport, SeriesId, SimBuilder, SimDuration,
    SimTime, WindowValue,
};
use clustersim_models::Cluster;
use clustersim_models::registry::{ComponentConfig, build};

/// Events allowed per run: far above what any test needs, so hitting it is a failure.
const MAX_EVENTS: u64 = 200_000_000;

/// A simulation under construction: every component on its own node in one region, on an
/// ideal (zero-latency, lossless) network.
pub(crate) struct World {
    pub(crate) b: SimBuilder<Cluster>,
    region: clustersim_engine::RegionId,
}

impl World {
    pub(crate) fn new(seed: u64) -> World {
        let mut b = SimBuilder::new(seed);
        let region = b.add_region("r");
        World { b, region }
    }

    /// Adds `cfg` as component `name` on a fresh node of the same name.
    pub(crate) fn add(&mut self, name: &str, cfg: ComponentConfig) -> ComponentId {
        cfg.validate().unwrap_or_else(|e| panic!("{name}: {e}"));
        let node = self.b.add_node(name, self.region);
        let id = self.b.next_component_id();
        let c = build(&cfg, id, self.b.metrics());
        self.b.add_component(node, name, c)
    }

    /// Schedules a crash of `node_of` (the node hosting that component) at `at`, restart at `back`.
    pub(crate) fn crash_between(&mut self, comp: ComponentId, at: SimDuration, back: SimDuration) {
        let node = self.b.names().component_node[comp.index()];
        self.b
            .schedule_fault(SimTime::ZERO + at, FaultAction::Crash(node));
        self.b
            .schedule_fault(SimTime::ZERO + back, FaultAction::Restart(node));
    }

    /// Runs until `end`, measuring after `warmup`, with report windows of `window` if given.
    pub(crate) fn run(
        self,
        warmup: SimDuration,
        end: SimDuration,
        window: Option<SimDuration>,
    ) -> RunReport {
        let mut sim = self.b.build().expect("valid simulation");
        sim.metrics().set_warmup(SimTime::ZERO + warmup);
        sim.metrics().set_interval(window);
        let report = sim.run_to_report(Limits::new(SimTime::ZERO + end, MAX_EVENTS));
        assert!(report.summary.stop.completed(), "{:?}", report.summary);
        report
    }
}

pub(crate) fn secs(s: u64) -> SimDuration {
    SimDuration::from_secs(s)
}

pub(crate) fn ms(n: u64) -> SimDuration {
    SimDuration::from_millis(n)
}

pub(crate) fn series(r: &MetricsReport, comp: ComponentId, name: &str) -> SeriesId {
    r.find(Some(comp), name)
        .unwrap_or_else(|| panic!("no series {name} for {comp:?}"))
}

pub(crate) fn counter(r: &RunReport, comp: ComponentId, name: &str) -> u64 {
    r.metrics.counter(series(&r.metrics, comp, name))
}

pub(crate) fn gauge_avg(r: &RunReport, comp: ComponentId, name: &str) -> f64 {
    r.metrics.gauge_avg(series(&r.metrics, comp, name))
}

/// Mean of a histogram series, in its unit (ns for latencies).
pub(crate) fn hist_mean(r: &RunReport, comp: ComponentId, name: &str) -> f64 {
    r.metrics
        .histogram(series(&r.metrics, comp, name))
        .expect("histogram")
        .mean()
}

pub(crate) fn hist_len(r: &RunReport, comp: ComponentId, name: &str) -> u64 {
    r.metrics
        .histogram(series(&r.metrics, comp, name))
        .expect("histogram")
        .len()
}

pub(crate) fn hist_quantile(r: &RunReport, comp: ComponentId, name: &str, q: f64) -> f64 {
    r.metrics
        .histogram(series(&r.metrics, comp, name))
        .expect("histogram")
        .value_at_quantile(q) as f64
}

/// The measured duration in seconds.
pub(crate) fn measured_secs(r: &RunReport) -> f64 {
    r.metrics.measured_duration().as_secs_f64()
}

/// The per-window values of a series, measured windows only, in time order.
pub(crate) fn windows(r: &RunReport, comp: ComponentId, name: &str) -> Vec<(SimTime, WindowValue)> {
    let id = series(&r.metrics, comp, name);
    r.metrics
        .windows
        .iter()
        .filter(|w| w.series == id && !w.in_warmup && w.start >= r.metrics.measured_from)
        .map(|w| (w.start, w.value.clone()))
        .collect()
}

/// Mean and standard error of the mean of `xs` (batch means: the batches are assumed long
/// enough to be nearly independent).
pub(crate) fn mean_se(xs: &[f64]) -> (f64, f64) {
    let n = xs.len() as f64;
    assert!(n >= 10.0, "need at least 10 batches, got {n}");
    let mean = xs.iter().sum::<f64>() / n;
    let var = xs.iter().map(|x| (x - mean) * (x - mean)).sum::<f64>() / (n - 1.0);
    (mean, (var / n).sqrt())
}

/// Batch means of a gauge's window time-averages.
pub(crate) fn gauge_batches(r: &RunReport, comp: ComponentId, name: &str) -> Vec<f64> {
    windows(r, comp, name)
        .into_iter()
        .map(|(_, v)| match v {
            WindowValue::Gauge { time_avg, .. } => time_avg,
            other => panic!("{name} is not a gauge: {other:?}"),
        })
        .collect()
}

/// Per-window counts of a counter.
pub(crate) fn counter_batches(r: &RunReport, comp: ComponentId, name: &str) -> Vec<u64> {
    windows(r, comp, name)
        .into_iter()
        .map(|(_, v)| match v {
            WindowValue::Counter(n) => n,
            other => panic!("{name} is not a counter: {other:?}"),
        })
        .collect()
}

/// Per-window `(count, mean, p50, p99)` of a histogram (2 significant digits per window).
pub(crate) fn hist_batches(
    r: &RunReport,
    comp: ComponentId,
    name: &str,
) -> Vec<(u64, f64, f64, f64)> {
    windows(r, comp, name)
        .into_iter()
        .map(|(_, v)| match v {
            WindowValue::Histogram {
                count,
                mean,
                p50,
                p99,
                ..
            } => (count, mean, p50 as f64, p99 as f64),
            other => panic!("{name} is not a histogram: {other:?}"),
        })
        .collect()
}
