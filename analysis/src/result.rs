//! From an engine [`RunReport`] to the rows the reports are made of.
//!
//! A [`RunResult`] is plain data (serde), so a finished run can be journaled as one line and
//! read back by `--resume` without re-running it. All statistics here come from the run's
//! hdrhistograms and time-weighted gauges; nothing keeps or sorts raw samples.

use clustersim_engine::{
    ComponentId, DropCause, MetricsReport, RunReport, SeriesKind, SeriesTotal, StopReason,
    WindowValue,
};
use hdrhistogram::Histogram;
use serde::{Deserialize, Serialize};

/// Outcome of one run (one sweep point × one replication).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct RunResult {
    /// Sweep point index.
    pub point: usize,
    /// Replication number.
    pub replication: u32,
    /// The run's seed.
    pub seed: u64,
    /// `None` when the run completed; otherwise why it failed.
    pub failure: Option<String>,
    /// Why the engine stopped.
    pub stop_reason: String,
    /// Trace digest (hex).
    pub digest: String,
    /// Events processed.
    pub events: u64,
    /// Run-level metrics in column order (`name`, value).
    pub metrics: Vec<(String, f64)>,
    /// Per-component totals.
    pub components: Vec<ComponentRow>,
    /// Per-interval, per-component values (tidy).
    pub timeseries: Vec<TimeseriesRow>,
    /// The warm-up this run excluded, in seconds: the fixed `warmup:` or, with `warmup: Auto`,
    /// the one MSER-5 chose. NaN when unknown (a run that could not start, an old journal).
    #[serde(default = "unknown_warmup")]
    pub warmup_s: f64,
    /// Every series' total over the measured period, one row per component × value
    /// (`metrics.csv`). Empty in journals written before it existed.
    #[serde(default)]
    pub series: Vec<SeriesRow>,
    /// End-to-end latency of all clients at each of [`CDF_QUANTILES`], in ms
    /// (`latency_cdf.csv`); empty when no client completed a request.
    #[serde(default)]
    pub latency_cdf_ms: Vec<f64>,
}

/// The quantiles `latency_cdf.csv` reports: dense in the body and the tail, so a chart or a
/// spreadsheet can draw the whole distribution (exact to the histograms' 3 significant
/// digits), not just the percentile columns of summary.csv.
pub const CDF_QUANTILES: &[f64] = &[
    0.0, 0.01, 0.05, 0.1, 0.2, 0.25, 0.3, 0.4, 0.5, 0.6, 0.7, 0.75, 0.8, 0.85, 0.9, 0.95, 0.975,
    0.99, 0.995, 0.999, 0.9995, 0.9999, 1.0,
];

/// The total of one recorded series (or one statistic of it) over the measured period.
///
/// A series registered as `name@label` (e.g. `admitted@key=17`) is a labelled breakdown of
/// `name`: its `metric` is `name` (plus the statistic suffix) and its `label` is `label`, so
/// a spreadsheet can pivot per key, per bucket or per partition.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct SeriesRow {
    /// Component name (empty for run-wide series).
    pub component: String,
    /// Metric name with its statistic and unit suffix (`admitted`, `queue_len_avg`,
    /// `latency_p99_ms`).
    pub metric: String,
    /// The label after `@` in the series name, empty for unlabelled series.
    pub label: String,
    /// Value.
    pub value: f64,
}

fn unknown_warmup() -> f64 {
    f64::NAN
}

/// Per-component totals over the measured period.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ComponentRow {
    /// Component name.
    pub component: String,
    /// Plugin kind.
    pub kind: String,
    /// Host node.
    pub node: String,
    /// Named values in column order.
    pub values: Vec<(String, f64)>,
}

/// One tidy time-series row.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct TimeseriesRow {
    /// Window start in seconds.
    pub start_s: f64,
    /// Window end in seconds.
    pub end_s: f64,
    /// Whether the window lies in the warm-up.
    pub in_warmup: bool,
    /// Component name (empty for run-wide series).
    pub component: String,
    /// Metric name with unit.
    pub metric: String,
    /// Value.
    pub value: f64,
}

/// Names of the run-level metric columns, in order. Documented in `docs/reports.md`.
pub const RUN_METRICS: &[&str] = &[
    "requests",
    "ok",
    "failed",
    "throughput_rps",
    "error_rate",
    "latency_mean_ms",
    "latency_p50_ms",
    "latency_p90_ms",
    "latency_p99_ms",
    "latency_p999_ms",
    "latency_max_ms",
    "attempts",
    "retries",
    "timeouts",
    "rejected",
    "throttled",
    "max_utilization",
    "drops_loss",
    "drops_partition",
    "drops_crashed",
    "drops_queue_full",
    "drops_no_route",
    "events",
];

/// Names of the per-component columns, in order.
pub const COMPONENT_METRICS: &[&str] = &[
    "requests",
    "completed",
    "errors",
    "rejected",
    "timeouts",
    "retries",
    "throughput_rps",
    "latency_mean_ms",
    "latency_p50_ms",
    "latency_p99_ms",
    "wait_mean_ms",
    "queue_len_avg",
    "queue_len_max",
    "in_system_avg",
    "utilization",
    "littles_law_l",
    "drops_loss",
    "drops_partition",
    "drops_crashed",
    "drops_queue_full",
    "drops_no_route",
    "imbalance",
    "hit_ratio",
    "stale_hits",
    "evictions",
    "backend_requests",
    "imbalance_cv",
    "keys_moved",
    "bytes_moved",
    "rebalance_ms",
    "rebalance_errors",
];

const NS_PER_MS: f64 = 1e6;

fn ms(ns: f64) -> f64 {
    ns / NS_PER_MS
}

fn quantile_ms(h: &Histogram<u64>, q: f64) -> f64 {
    if h.is_empty() {
        f64::NAN
    } else {
        ms(h.value_at_quantile(q) as f64)
    }
}

/// Looks up series of one component by name.
struct View<'a> {
    m: &'a MetricsReport,
}

impl View<'_> {
    fn id(&self, owner: ComponentId, name: &str) -> Option<usize> {
        self.m.find(Some(owner), name).map(|s| s.index())
    }
    fn counter(&self, owner: ComponentId, name: &str) -> Option<f64> {
        self.id(owner, name).map(|i| match &self.m.totals[i] {
            SeriesTotal::Counter(n) => *n as f64,
            _ => f64::NAN,
        })
    }
    fn gauge(&self, owner: ComponentId, name: &str) -> Option<(f64, i64, i64)> {
        self.id(owner, name).and_then(|i| match &self.m.totals[i] {
            SeriesTotal::Gauge {
                time_avg,
                max,
                last,
            } => Some((*time_avg, *max, *last)),
            _ => None,
        })
    }
    fn hist(&self, owner: ComponentId, name: &str) -> Option<&Histogram<u64>> {
        self.id(owner, name).and_then(|i| match &self.m.totals[i] {
            SeriesTotal::Histogram { hist, .. } => Some(hist.as_ref()),
            _ => None,
        })
    }
}

/// Load balancers: max ÷ mean of the `to_backend_<i>` counters (requests forwarded per
/// backend; 1 = perfectly even). NaN for components without them or with no traffic.
fn imbalance(view: &View<'_>, id: ComponentId) -> f64 {
    let (mut max, mut sum, mut n) = (0.0f64, 0.0, 0u32);
    while let Some(c) = view.counter(id, &format!("to_backend_{n}")) {
        max = max.max(c);
        sum += c;
        n += 1;
    }
    if n == 0 || sum <= 0.0 {
        f64::NAN
    } else {
        max / (sum / f64::from(n))
    }
}

/// Shard routers: `(max ÷ mean, coefficient of variation)` of the `to_shard_<i>` counters
/// (requests per shard) over the shards that received any request in the measured window
/// (shards that never were members do not count). NaN for other components or no traffic.
fn shard_imbalance(view: &View<'_>, id: ComponentId) -> (f64, f64) {
    let mut loads = Vec::new();
    while let Some(c) = view.counter(id, &format!("to_shard_{}", loads.len())) {
        loads.push(c);
    }
    loads.retain(|&c| c > 0.0);
    if loads.is_empty() {
        return (f64::NAN, f64::NAN);
    }
    let n = loads.len() as f64;
    let mean = loads.iter().sum::<f64>() / n;
    let var = loads.iter().map(|x| (x - mean) * (x - mean)).sum::<f64>() / n;
    let max = loads.iter().copied().fold(0.0, f64::max);
    (max / mean, var.sqrt() / mean)
}

/// Caches: `hits / (hits + misses)` over the measured window. NaN for components without
/// these counters or without reads.
fn cache_hit_ratio(view: &View<'_>, id: ComponentId) -> f64 {
    match (view.counter(id, "hits"), view.counter(id, "misses")) {
        (Some(h), Some(m)) if h + m > 0.0 => h / (h + m),
        _ => f64::NAN,
    }
}

/// Whether a component kind is a workload generator (its latency is end to end).
pub fn is_client_kind(kind: &str) -> bool {
    kind.ends_with("client")
}

/// Builds the result rows from a finished run. `kinds[i]` is component `i`'s plugin kind.
pub fn from_report(
    report: &RunReport,
    point: usize,
    replication: u32,
    seed: u64,
    kinds: &[String],
    max_events: u64,
) -> RunResult {
    let m = &report.metrics;
    let view = View { m };
    let secs = m.measured_duration().as_secs_f64();
    let per_s = |n: f64| if secs > 0.0 { n / secs } else { f64::NAN };

    let mut client_latency: Option<Histogram<u64>> = None;
    let (mut requests, mut ok, mut failed, mut attempts, mut retries, mut timeouts, mut rejected) =
        (0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0);
    // Attempts answered `Throttled` by a rate limiter (clients' `throttled` counters).
    let mut throttled = 0.0;
    let mut max_util: f64 = 0.0;
    let mut components = Vec::with_capacity(report.names.components.len());
    for (i, name) in report.names.components.iter().enumerate() {
        let id = ComponentId(i as u32);
        let kind = kinds.get(i).cloned().unwrap_or_default();
        let client = is_client_kind(&kind);
        let c = |n: &str| view.counter(id, n).unwrap_or(0.0);
        let lat = view.hist(id, "latency_ns");
        let wait = view.hist(id, "wait_ns");
        let (req, done, errs) = if client {
            (c("requests"), c("ok"), c("failed"))
        } else {
            (c("arrivals"), c("completed"), c("errors"))
        };
        if client {
            requests += c("requests");
            ok += c("ok");
            failed += c("failed");
            attempts += c("attempts");
            retries += c("retries");
            timeouts += c("timeouts");
            rejected += c("rejected");
            throttled += c("throttled");
            if let Some(h) = lat {
                match &mut client_latency {
                    Some(acc) => {
                        // Same bounds and precision by construction.
                        let _ = acc.add(h);
                    }
                    None => client_latency = Some(h.clone()),
                }
            }
        }
        let servers = view.gauge(id, "servers").map(|g| g.2 as f64).unwrap_or(0.0);
        let utilization = match view.gauge(id, "busy") {
            Some((avg, _, _)) if servers > 0.0 => avg / servers,
            _ => f64::NAN,
        };
        if utilization.is_finite() {
            max_util = max_util.max(utilization);
        }
        let in_system = view.gauge(id, "in_system").map(|g| g.0).unwrap_or(f64::NAN);
        let latency_mean_ns = lat
            .filter(|h| !h.is_empty())
            .map(|h| h.mean())
            .unwrap_or(f64::NAN);
        let drops = report
            .drops_by_component
            .get(i)
            .copied()
            .unwrap_or_default();
        let queue = view.gauge(id, "queue_len");
        let values = vec![
            ("requests", req),
            ("completed", done),
            ("errors", errs),
            ("rejected", c("rejected")),
            ("timeouts", c("timeouts")),
            ("retries", c("retries")),
            ("throughput_rps", per_s(done)),
            ("latency_mean_ms", ms(latency_mean_ns)),
            (
                "latency_p50_ms",
                lat.map(|h| quantile_ms(h, 0.5)).unwrap_or(f64::NAN),
            ),
            (
                "latency_p99_ms",
                lat.map(|h| quantile_ms(h, 0.99)).unwrap_or(f64::NAN),
            ),
            (
                "wait_mean_ms",
                wait.filter(|h| !h.is_empty())
                    .map(|h| ms(h.mean()))
                    .unwrap_or(f64::NAN),
            ),
            ("queue_len_avg", queue.map(|g| g.0).unwrap_or(f64::NAN)),
            (
                "queue_len_max",
                queue.map(|g| g.1 as f64).unwrap_or(f64::NAN),
            ),
            ("in_system_avg", in_system),
            ("utilization", utilization),
            // Little's law prediction L = λW from throughput and mean latency, to compare
            // with the measured time-average `in_system_avg`.
            (
                "littles_law_l",
                if client {
                    f64::NAN
                } else {
                    per_s(done + errs) * latency_mean_ns / 1e9
                },
            ),
            ("drops_loss", drops[DropCause::Loss.index()] as f64),
            (
                "drops_partition",
                drops[DropCause::Partition.index()] as f64,
            ),
            ("drops_crashed", drops[DropCause::Crashed.index()] as f64),
            (
                "drops_queue_full",
                drops[DropCause::QueueFull.index()] as f64,
            ),
            ("drops_no_route", drops[DropCause::NoRoute.index()] as f64),
            (
                "imbalance",
                match imbalance(&view, id) {
                    x if x.is_nan() => shard_imbalance(&view, id).0,
                    x => x,
                },
            ),
            // Caches and proxies (empty for other kinds).
            ("hit_ratio", cache_hit_ratio(&view, id)),
            (
                "stale_hits",
                view.counter(id, "stale_hits").unwrap_or(f64::NAN),
            ),
            (
                "evictions",
                view.counter(id, "evictions").unwrap_or(f64::NAN),
            ),
            (
                "backend_requests",
                view.counter(id, "backend_requests").unwrap_or(f64::NAN),
            ),
            // Shard routers (empty for other kinds).
            ("imbalance_cv", shard_imbalance(&view, id).1),
            (
                "keys_moved",
                view.counter(id, "keys_moved").unwrap_or(f64::NAN),
            ),
            (
                "bytes_moved",
                view.counter(id, "bytes_moved").unwrap_or(f64::NAN),
            ),
            (
                "rebalance_ms",
                view.hist(id, "rebalance_ns")
                    .filter(|h| !h.is_empty())
                    .map_or(f64::NAN, |h| ms(h.mean())),
            ),
            (
                "rebalance_errors",
                view.counter(id, "rebalance_errors").unwrap_or(f64::NAN),
            ),
        ];
        debug_assert_eq!(values.len(), COMPONENT_METRICS.len());
        components.push(ComponentRow {
            component: name.clone(),
            kind,
            node: report.names.nodes[report.names.component_node[i].index()].clone(),
            values: values.into_iter().map(|(k, v)| (k.to_owned(), v)).collect(),
        });
    }

    let h = client_latency;
    let q = |p: f64| h.as_ref().map(|h| quantile_ms(h, p)).unwrap_or(f64::NAN);
    let latency_cdf_ms = match &h {
        Some(h) if !h.is_empty() => CDF_QUANTILES.iter().map(|&p| quantile_ms(h, p)).collect(),
        _ => Vec::new(),
    };
    let d = report.summary.drops;
    let metrics = vec![
        ("requests", requests),
        ("ok", ok),
        ("failed", failed),
        ("throughput_rps", per_s(ok)),
        (
            "error_rate",
            if requests > 0.0 {
                failed / requests
            } else {
                f64::NAN
            },
        ),
        (
            "latency_mean_ms",
            h.as_ref()
                .filter(|h| !h.is_empty())
                .map(|h| ms(h.mean()))
                .unwrap_or(f64::NAN),
        ),
        ("latency_p50_ms", q(0.5)),
        ("latency_p90_ms", q(0.9)),
        ("latency_p99_ms", q(0.99)),
        ("latency_p999_ms", q(0.999)),
        (
            "latency_max_ms",
            h.as_ref()
                .filter(|h| !h.is_empty())
                .map(|h| ms(h.max() as f64))
                .unwrap_or(f64::NAN),
        ),
        ("attempts", attempts),
        ("retries", retries),
        ("timeouts", timeouts),
        ("rejected", rejected),
        ("throttled", throttled),
        ("max_utilization", max_util),
        ("drops_loss", d[DropCause::Loss.index()] as f64),
        ("drops_partition", d[DropCause::Partition.index()] as f64),
        ("drops_crashed", d[DropCause::Crashed.index()] as f64),
        ("drops_queue_full", d[DropCause::QueueFull.index()] as f64),
        ("drops_no_route", d[DropCause::NoRoute.index()] as f64),
        ("events", report.summary.events as f64),
    ];
    debug_assert_eq!(metrics.len(), RUN_METRICS.len());

    let mut timeseries = timeseries(report);
    add_availability(&mut timeseries, report, kinds);
    let stop = report.summary.stop;
    let failure = match stop {
        StopReason::EndTime | StopReason::Exhausted => None,
        StopReason::EventLimit => Some(format!("stopped early: {stop} ({max_events} events)")),
        StopReason::QueueLimit => Some(format!("stopped early: {stop}")),
    };
    RunResult {
        point,
        replication,
        seed,
        failure,
        stop_reason: format!("{stop:?}"),
        digest: format!("{:016x}", report.summary.digest),
        events: report.summary.events,
        metrics: metrics
            .into_iter()
            .map(|(k, v)| (k.to_owned(), v))
            .collect(),
        components,
        timeseries,
        warmup_s: m.measured_from.as_secs_f64(),
        series: series_totals(report),
        latency_cdf_ms,
    }
}

/// Splits a series name `name@label` into `(name, label)`; `label` is empty without `@`.
pub fn split_label(series_name: &str) -> (&str, &str) {
    series_name.split_once('@').unwrap_or((series_name, ""))
}

/// One [`SeriesRow`] per counter, two per gauge (`_avg`, `_max`) and, for a non-empty
/// histogram, `_count` plus mean and quantiles in milliseconds (histograms record
/// nanoseconds; a histogram whose name lacks `_ns` is reported in its own unit, without
/// the `_ms` suffix). Rows follow registration order, so they are deterministic.
fn series_totals(report: &RunReport) -> Vec<SeriesRow> {
    let m = &report.metrics;
    let mut rows = Vec::with_capacity(m.series.len());
    for (info, total) in m.series.iter().zip(&m.totals) {
        let component = info
            .owner
            .map(|c| report.names.components[c.index()].clone())
            .unwrap_or_default();
        let (name, label) = split_label(&info.name);
        let mut push = |metric: String, value: f64| {
            rows.push(SeriesRow {
                component: component.clone(),
                metric,
                label: label.to_owned(),
                value,
            });
        };
        match total {
            SeriesTotal::Counter(n) => push(name.to_owned(), *n as f64),
            SeriesTotal::Gauge { time_avg, max, .. } => {
                push(format!("{name}_avg"), *time_avg);
                push(format!("{name}_max"), *max as f64);
            }
            SeriesTotal::Histogram { hist, .. } => {
                let (base, scale, unit) = match name.strip_suffix("_ns") {
                    Some(base) => (base, NS_PER_MS, "_ms"),
                    None => (name, 1.0, ""),
                };
                push(format!("{base}_count"), hist.len() as f64);
                if !hist.is_empty() {
                    push(format!("{base}_mean{unit}"), hist.mean() / scale);
                    for (q, tag) in [(0.5, "p50"), (0.9, "p90"), (0.99, "p99")] {
                        push(
                            format!("{base}_{tag}{unit}"),
                            hist.value_at_quantile(q) as f64 / scale,
                        );
                    }
                    push(format!("{base}_max{unit}"), hist.max() as f64 / scale);
                }
            }
        }
    }
    rows
}

/// Kinds whose per-window `availability` timeseries.csv reports: successful ÷ attempted
/// answers, `completed` ÷ (`completed` + `errors`) in the window. Replicated store fronts
/// answer every request with `Ok` or an error (refused by the CP policy, no quorum, timed
/// out), so this is the availability clients saw in that window.
const AVAILABILITY_KINDS: &[&str] = &["store"];

/// Appends an `availability` row per window to every component of [`AVAILABILITY_KINDS`]
/// that answered anything in that window.
fn add_availability(rows: &mut Vec<TimeseriesRow>, report: &RunReport, kinds: &[String]) {
    let wanted: Vec<&str> = report
        .names
        .components
        .iter()
        .zip(kinds)
        .filter(|(_, k)| AVAILABILITY_KINDS.contains(&k.as_str()))
        .map(|(n, _)| n.as_str())
        .collect();
    if wanted.is_empty() {
        return;
    }
    // (window start as bits — exact, no float comparison —, component) → (ok, errors).
    let mut answers: std::collections::BTreeMap<(u64, &str), (f64, f64, usize)> =
        std::collections::BTreeMap::new();
    for (i, r) in rows.iter().enumerate() {
        if !wanted.contains(&r.component.as_str()) {
            continue;
        }
        let e = answers
            .entry((r.start_s.to_bits(), r.component.as_str()))
            .or_insert((0.0, 0.0, i));
        match r.metric.as_str() {
            "completed" => e.0 = r.value,
            "errors" => e.1 = r.value,
            _ => {}
        }
    }
    let extra: Vec<TimeseriesRow> = answers
        .values()
        .filter(|(ok, errors, _)| ok + errors > 0.0)
        .map(|&(ok, errors, i)| TimeseriesRow {
            metric: "availability".into(),
            value: ok / (ok + errors),
            ..rows[i].clone()
        })
        .collect();
    rows.extend(extra);
}

fn timeseries(report: &RunReport) -> Vec<TimeseriesRow> {
    let m = &report.metrics;
    let mut rows = Vec::new();
    for w in &m.windows {
        let info = &m.series[w.series.index()];
        let component = info
            .owner
            .map(|c| report.names.components[c.index()].clone())
            .unwrap_or_default();
        let span = (w.end - w.start).as_secs_f64();
        let (start_s, end_s) = (w.start.as_secs_f64(), w.end.as_secs_f64());
        // A labelled series `name@label` keeps its label after the statistic's suffix:
        // `admitted_per_s@key=3`, `latency_p99_ms@path=new`.
        let (name, label) = split_label(&info.name);
        let at_label = if label.is_empty() {
            String::new()
        } else {
            format!("@{label}")
        };
        let mut push = |metric: String, value: f64| {
            rows.push(TimeseriesRow {
                start_s,
                end_s,
                in_warmup: w.in_warmup,
                component: component.clone(),
                metric: metric + &at_label,
                value,
            });
        };
        let base = name.strip_suffix("_ns").unwrap_or(name);
        match (&w.value, info.kind) {
            (WindowValue::Counter(n), _) => {
                push(name.to_owned(), *n as f64);
                push(
                    format!("{name}_per_s"),
                    if span > 0.0 {
                        *n as f64 / span
                    } else {
                        f64::NAN
                    },
                );
            }
            (WindowValue::Gauge { time_avg, max }, _) => {
                push(format!("{name}_avg"), *time_avg);
                push(format!("{name}_max"), *max as f64);
            }
            (
                WindowValue::Histogram {
                    count,
                    mean,
                    p50,
                    p90,
                    p99,
                    max,
                },
                SeriesKind::Histogram,
            ) => {
                push(format!("{base}_count"), *count as f64);
                if *count > 0 {
                    push(format!("{base}_mean_ms"), ms(*mean));
                    push(format!("{base}_p50_ms"), ms(*p50 as f64));
                    push(format!("{base}_p90_ms"), ms(*p90 as f64));
                    push(format!("{base}_p99_ms"), ms(*p99 as f64));
                    push(format!("{base}_max_ms"), ms(*max as f64));
                }
            }
            (WindowValue::Histogram { .. }, _) => {}
        }
    }
    rows
}
