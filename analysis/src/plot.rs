//! `clustersim plot DIR`: SVG charts from an output folder, drawn with plotters' SVG backend.
//!
//! Charts (each only when its data exists):
//! * `latency.svg` — p50 (solid) and p99 (thin) latency per component over time
//!   (`latency_p50_ms` / `latency_p99_ms` of `timeseries.csv`);
//! * `throughput.svg` — successful and failed requests per second over time (clients'
//!   `ok_per_s` / `failed_per_s`; services' `completed_per_s` / `errors_per_s` when there is
//!   no client), with scheduled fault windows shaded red and partitions shaded blue (from the
//!   resolved scenario in `manifest.ron`) and the warm-up shaded grey;
//! * `latency_cdf.svg` — the latency distribution of each sweep point, approximated by the
//!   percentiles of `summary.csv` (p50, p90, p99, p99.9, max; mean over replications);
//! * `sweep_<metric>.svg` — for sweeps, a metric against the first swept parameter with 95 %
//!   CI error bars from `points.csv`, one line per value of the second parameter.
//!
//! Time charts show the first run (point 0, replication 0): other runs of a sweep differ only
//! by parameters or seed. Output is byte-deterministic: plotters writes integer pixel
//! coordinates and the data come in file order.

use std::path::{Path, PathBuf};

use anyhow::{Context, Result, anyhow};
use clustersim_scenarios::load;
use clustersim_scenarios::raw::{FaultAction, Scenario};
use plotters::prelude::*;
use serde::Deserialize;

use crate::atomic::write_atomic;

/// One rendered chart.
#[derive(Clone, Debug, PartialEq)]
pub struct Chart {
    /// File name, e.g. `latency.svg`.
    pub file: String,
    /// Chart title.
    pub title: String,
    /// The SVG document.
    pub svg: String,
}

/// A parsed CSV file: header and rows of text cells.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Csv {
    /// Column names.
    pub header: Vec<String>,
    /// Rows.
    pub rows: Vec<Vec<String>>,
}

impl Csv {
    /// Reads and parses `path`.
    ///
    /// # Errors
    /// Unreadable or malformed file.
    pub fn read(path: &Path) -> Result<Csv> {
        let text =
            std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
        let mut rdr = csv::ReaderBuilder::new().from_reader(text.as_bytes());
        let header = rdr
            .headers()
            .with_context(|| format!("parsing {}", path.display()))?
            .iter()
            .map(str::to_owned)
            .collect();
        let mut rows = Vec::new();
        for r in rdr.records() {
            let r = r.with_context(|| format!("parsing {}", path.display()))?;
            rows.push(r.iter().map(str::to_owned).collect());
        }
        Ok(Csv { header, rows })
    }

    /// Index of column `name`.
    #[must_use]
    pub fn col(&self, name: &str) -> Option<usize> {
        self.header.iter().position(|h| h == name)
    }

    /// Cell `(row, column)` as a number (NaN when empty or not a number).
    #[must_use]
    pub fn num(&self, row: usize, col: usize) -> f64 {
        self.rows[row]
            .get(col)
            .and_then(|c| c.parse().ok())
            .unwrap_or(f64::NAN)
    }

    /// Swept parameter columns: those between `after` and `before` in the header.
    #[must_use]
    pub fn params_between(&self, after: &str, before: &str) -> Vec<usize> {
        match (self.col(after), self.col(before)) {
            (Some(a), Some(b)) if a < b => (a + 1..b).collect(),
            _ => Vec::new(),
        }
    }
}

/// The fields of `manifest.ron` that charts and reports need.
#[derive(Clone, Debug, Deserialize)]
pub struct ManifestIn {
    /// Scenario file the runs came from.
    pub scenario_file: String,
    /// Command line.
    pub command: String,
    /// Master seed.
    pub master_seed: u64,
    /// Replications per point.
    pub replications: u32,
    /// Runs.
    pub runs: usize,
    /// Failed runs.
    pub failed_runs: usize,
    /// The resolved scenario.
    pub resolved: Scenario,
}

/// Reads `DIR/manifest.ron`.
///
/// # Errors
/// Missing or unreadable manifest.
pub fn read_manifest(dir: &Path) -> Result<ManifestIn> {
    let path = dir.join("manifest.ron");
    let text = std::fs::read_to_string(&path).with_context(|| {
        format!(
            "reading {} (is {} a clustersim output folder?)",
            path.display(),
            dir.display()
        )
    })?;
    load::from_str(&text, &path).map_err(|e| anyhow!("{e}"))
}

/// A shaded interval on a time chart.
#[derive(Clone, Debug, PartialEq)]
pub struct Shade {
    /// Start (s).
    pub start_s: f64,
    /// End (s).
    pub end_s: f64,
    /// Legend label, e.g. `crash app`.
    pub label: String,
    /// Whether it is a network partition (blue) rather than a node fault (red).
    pub partition: bool,
}

/// Fault and partition windows of a scheduled fault list; open-ended ones end at `end_s`.
#[must_use]
pub fn fault_windows(s: &Scenario) -> Vec<Shade> {
    let end_s = s.duration.0.as_secs_f64();
    let mut out: Vec<Shade> = Vec::new();
    let mut faults: Vec<_> = s.faults.iter().collect();
    faults.sort_by_key(|f| f.at.0);
    // Open windows: (index in `out`, key that closes it).
    let mut open: Vec<(usize, String)> = Vec::new();
    fn close(out: &mut [Shade], open: &mut Vec<(usize, String)>, key: &str, t: f64) {
        open.retain(|(i, k)| {
            if k == key {
                out[*i].end_s = t;
                false
            } else {
                true
            }
        });
    }
    fn push(out: &mut Vec<Shade>, t: f64, label: String, end: f64, partition: bool) -> usize {
        out.push(Shade {
            start_s: t,
            end_s: end,
            label,
            partition,
        });
        out.len() - 1
    }
    for f in faults {
        let t = f.at.0.as_secs_f64();
        let push = |out: &mut Vec<Shade>, label: String, end: f64, partition: bool| {
            push(out, t, label, end.min(end_s), partition)
        };
        match &f.action {
            FaultAction::PartitionFor { duration, .. } => {
                push(
                    &mut out,
                    "partition".to_owned(),
                    t + duration.0.as_secs_f64(),
                    true,
                );
            }
            FaultAction::CrashFor { node, duration } => {
                push(
                    &mut out,
                    format!("crash {node}"),
                    t + duration.0.as_secs_f64(),
                    false,
                );
            }
            FaultAction::Pause { node, duration } => {
                push(
                    &mut out,
                    format!("pause {node}"),
                    t + duration.0.as_secs_f64(),
                    false,
                );
            }
            FaultAction::Crash { node } => {
                let i = push(&mut out, format!("crash {node}"), end_s, false);
                open.push((i, format!("node:{node}")));
            }
            FaultAction::Restart { node } => close(&mut out, &mut open, &format!("node:{node}"), t),
            FaultAction::Slowdown { node, factor } => {
                close(&mut out, &mut open, &format!("slow:{node}"), t);
                if (*factor - 1.0).abs() > f64::EPSILON {
                    let i = push(&mut out, format!("slowdown {node} x{factor}"), end_s, false);
                    open.push((i, format!("slow:{node}")));
                }
            }
            FaultAction::Partition { .. }
            | FaultAction::PartitionRegions { .. }
            | FaultAction::CutOneWay { .. } => {
                let label = match &f.action {
                    FaultAction::CutOneWay { from, to } => format!("cut {from}->{to}"),
                    _ => "partition".to_owned(),
                };
                let i = push(&mut out, label, end_s, true);
                open.push((i, "net".into()));
            }
            FaultAction::Heal => close(&mut out, &mut open, "net", t),
            FaultAction::DegradeLink { from, to, .. } => {
                close(&mut out, &mut open, &format!("link:{from}:{to}"), t);
                let i = push(&mut out, format!("degrade {from}->{to}"), end_s, true);
                open.push((i, format!("link:{from}:{to}")));
            }
            FaultAction::ClockStep { node, .. } => {
                push(&mut out, format!("clock step {node}"), t, false);
            }
        }
    }
    out.retain(|s| s.end_s >= s.start_s);
    out
}

const W: u32 = 960;
const H: u32 = 540;

/// A distinct colour for series `i` (20 hand-picked colours, then plotters' palette).
fn color(i: usize) -> RGBColor {
    const C: [(u8, u8, u8); 20] = [
        (31, 119, 180),
        (255, 127, 14),
        (44, 160, 44),
        (214, 39, 40),
        (148, 103, 189),
        (140, 86, 75),
        (227, 119, 194),
        (127, 127, 127),
        (188, 189, 34),
        (23, 190, 207),
        (57, 59, 121),
        (173, 73, 74),
        (99, 121, 57),
        (206, 109, 189),
        (140, 162, 82),
        (189, 158, 57),
        (107, 110, 207),
        (231, 150, 156),
        (82, 84, 163),
        (0, 0, 0),
    ];
    match C.get(i) {
        Some(&(r, g, b)) => RGBColor(r, g, b),
        None => {
            let c = Palette99::pick(i).to_rgba();
            RGBColor(c.0, c.1, c.2)
        }
    }
}

/// One line of a chart.
struct Series {
    label: String,
    points: Vec<(f64, f64)>,
    thin: bool,
    /// Error bar half-widths, one per point (empty: no bars).
    errors: Vec<f64>,
}

struct Spec<'a> {
    title: &'a str,
    x_desc: &'a str,
    y_desc: &'a str,
    series: &'a [Series],
    shades: &'a [Shade],
    /// Category labels for an x axis of indices.
    x_labels: Option<&'a [String]>,
}

fn range(values: impl Iterator<Item = f64>) -> Option<(f64, f64)> {
    let (mut lo, mut hi) = (f64::INFINITY, f64::NEG_INFINITY);
    for v in values.filter(|v| v.is_finite()) {
        lo = lo.min(v);
        hi = hi.max(v);
    }
    if lo > hi {
        return None;
    }
    if hi - lo < 1e-12 {
        let pad = if hi.abs() > 1e-12 {
            hi.abs() * 0.1
        } else {
            1.0
        };
        return Some((lo - pad, hi + pad));
    }
    Some((lo, hi))
}

/// Draws a chart into an SVG string.
fn draw(spec: &Spec<'_>) -> Result<String> {
    let err = |e: &dyn std::fmt::Display| anyhow!("drawing `{}`: {e}", spec.title);
    let xs = spec
        .series
        .iter()
        .flat_map(|s| s.points.iter().map(|p| p.0))
        .chain(spec.shades.iter().flat_map(|s| [s.start_s, s.end_s]));
    let (x0, x1) = range(xs).unwrap_or((0.0, 1.0));
    let ys = spec.series.iter().flat_map(|s| {
        s.points.iter().enumerate().flat_map(move |(i, p)| {
            let e = s
                .errors
                .get(i)
                .copied()
                .filter(|e| e.is_finite())
                .unwrap_or(0.0);
            [p.1 - e, p.1 + e]
        })
    });
    let (y0, y1) = range(ys).unwrap_or((0.0, 1.0));
    let y0 = if y0 >= 0.0 { 0.0 } else { y0 };
    let y1 = y1 + (y1 - y0) * 0.05;
    let (x0, x1) = if spec.x_labels.is_some() {
        (x0 - 0.5, x1 + 0.5)
    } else {
        (x0, x1)
    };
    let mut buf = String::new();
    {
        let root = SVGBackend::with_string(&mut buf, (W, H)).into_drawing_area();
        root.fill(&WHITE).map_err(|e| err(&e))?;
        let mut chart = ChartBuilder::on(&root)
            .caption(spec.title, ("sans-serif", 20))
            .margin(12)
            .x_label_area_size(45)
            .y_label_area_size(70)
            .build_cartesian_2d(x0..x1, y0..y1)
            .map_err(|e| err(&e))?;
        let labels = spec.x_labels;
        let fmt_x = move |x: &f64| -> String {
            match labels {
                Some(l) => {
                    let i = x.round();
                    if (x - i).abs() < 1e-6 && i >= 0.0 && (i as usize) < l.len() {
                        l[i as usize].clone()
                    } else {
                        String::new()
                    }
                }
                None => trim(*x),
            }
        };
        let fmt_y = |y: &f64| trim(*y);
        let mut mesh = chart.configure_mesh();
        mesh.x_desc(spec.x_desc)
            .y_desc(spec.y_desc)
            .x_label_formatter(&fmt_x)
            .y_label_formatter(&fmt_y)
            .light_line_style(WHITE.mix(0.0));
        if let Some(l) = labels {
            mesh.x_labels(l.len().max(2) * 2 + 1);
        }
        mesh.draw().map_err(|e| err(&e))?;
        for (i, s) in spec.shades.iter().enumerate() {
            let c = if s.partition {
                RGBColor(60, 90, 220)
            } else if s.label == "warm-up" {
                RGBColor(128, 128, 128)
            } else {
                RGBColor(220, 40, 40)
            };
            let end = if s.end_s > s.start_s {
                s.end_s
            } else {
                s.start_s + (x1 - x0) * 0.002
            };
            let anno = chart
                .draw_series(std::iter::once(Rectangle::new(
                    [(s.start_s, y0), (end, y1)],
                    c.mix(0.15).filled(),
                )))
                .map_err(|e| err(&e))?;
            // Label each kind once in the legend.
            if spec.shades[..i].iter().all(|o| o.label != s.label) {
                anno.label(s.label.clone()).legend(move |(x, y)| {
                    Rectangle::new([(x, y - 5), (x + 18, y + 5)], c.mix(0.3).filled())
                });
            }
        }
        for (i, s) in spec.series.iter().enumerate() {
            let c = color(i);
            let width = if s.thin { 1 } else { 2 };
            let style = c.stroke_width(width);
            let pts: Vec<(f64, f64)> = s
                .points
                .iter()
                .copied()
                .filter(|p| p.0.is_finite() && p.1.is_finite())
                .collect();
            chart
                .draw_series(LineSeries::new(pts.clone(), style))
                .map_err(|e| err(&e))?
                .label(s.label.clone())
                .legend(move |(x, y)| {
                    PathElement::new(vec![(x, y), (x + 18, y)], c.stroke_width(width))
                });
            if pts.len() <= 50 {
                chart
                    .draw_series(pts.iter().map(|&(x, y)| Circle::new((x, y), 3, c.filled())))
                    .map_err(|e| err(&e))?;
            }
            if !s.errors.is_empty() {
                let bars: Vec<_> = s
                    .points
                    .iter()
                    .zip(&s.errors)
                    .filter(|(p, e)| p.0.is_finite() && p.1.is_finite() && e.is_finite())
                    .map(|(&(x, y), &e)| ErrorBar::new_vertical(x, y - e, y, y + e, c, 8))
                    .collect();
                chart.draw_series(bars).map_err(|e| err(&e))?;
            }
        }
        if !spec.series.is_empty() || !spec.shades.is_empty() {
            chart
                .configure_series_labels()
                .position(SeriesLabelPosition::UpperRight)
                .background_style(WHITE.mix(0.85))
                .border_style(BLACK)
                .label_font(("sans-serif", 12))
                .draw()
                .map_err(|e| err(&e))?;
        }
        root.present().map_err(|e| err(&e))?;
    }
    Ok(buf)
}

/// Short, stable tick labels: up to 4 significant decimals, no trailing zeros.
fn trim(v: f64) -> String {
    let s = if v.abs() >= 100.0 || v == 0.0 {
        format!("{v:.0}")
    } else if v.abs() >= 1.0 {
        format!("{v:.2}")
    } else {
        format!("{v:.4}")
    };
    let s = if s.contains('.') {
        s.trim_end_matches('0').trim_end_matches('.').to_owned()
    } else {
        s
    };
    if s == "-0" { "0".into() } else { s }
}

/// The tidy time series of the first run: `(component, metric) → [(window mid, value)]`.
fn first_run_series(ts: &Csv, metric: &str) -> Vec<(String, Vec<(f64, f64)>)> {
    let (Some(cp), Some(cr), Some(cs), Some(ce), Some(cc), Some(cm), Some(cv)) = (
        ts.col("point"),
        ts.col("replication"),
        ts.col("window_start_s"),
        ts.col("window_end_s"),
        ts.col("component"),
        ts.col("metric"),
        ts.col("value"),
    ) else {
        return Vec::new();
    };
    let mut out: Vec<(String, Vec<(f64, f64)>)> = Vec::new();
    for (i, r) in ts.rows.iter().enumerate() {
        if r[cp] != "0" || r[cr] != "0" || r[cm] != metric {
            continue;
        }
        let x = (ts.num(i, cs) + ts.num(i, ce)) / 2.0;
        let y = ts.num(i, cv);
        match out.iter_mut().find(|(c, _)| *c == r[cc]) {
            Some((_, v)) => v.push((x, y)),
            None => out.push((r[cc].clone(), vec![(x, y)])),
        }
    }
    out
}

/// The warm-up the runs excluded, in seconds, with a label for charts: the fixed `warmup:`,
/// or with `warmup: Auto` the median of the per-run MSER-5 choices (`summary.csv`'s
/// `warmup_s`), labelled with their range when the runs disagree. `None` when there was none.
pub fn warmup_span(s: &Scenario, summary: &Csv) -> Option<(f64, String)> {
    if !matches!(s.warmup, clustersim_scenarios::raw::Warmup::Auto) {
        let w = s.warmup.fixed_or_zero().0.as_secs_f64();
        return (w > 0.0).then(|| (w, "warm-up".to_owned()));
    }
    let col = summary.col("warmup_s")?;
    let mut chosen: Vec<f64> = (0..summary.rows.len())
        .map(|i| summary.num(i, col))
        .filter(|w| w.is_finite())
        .collect();
    if chosen.is_empty() {
        return None;
    }
    chosen.sort_by(f64::total_cmp);
    let median = chosen[chosen.len() / 2];
    let (lo, hi) = (chosen[0], chosen[chosen.len() - 1]);
    let label = if lo == hi {
        "warm-up (MSER-5)".to_owned()
    } else {
        format!("warm-up (MSER-5 median; runs {lo:.3}–{hi:.3} s)")
    };
    (median > 0.0).then_some((median, label))
}

fn warmup_shade(s: &Scenario, summary: &Csv) -> Vec<Shade> {
    warmup_span(s, summary)
        .map(|(end_s, label)| Shade {
            start_s: 0.0,
            end_s,
            label,
            partition: false,
        })
        .into_iter()
        .collect()
}

/// Latency percentiles over time.
fn latency_chart(ts: &Csv, shades: &[Shade]) -> Result<Option<Chart>> {
    let mut series = Vec::new();
    for (name, metric, thin) in [
        ("p50", "latency_p50_ms", false),
        ("p99", "latency_p99_ms", true),
    ] {
        for (c, pts) in first_run_series(ts, metric) {
            series.push(Series {
                label: format!("{} {name}", if c.is_empty() { "run" } else { &c }),
                points: pts,
                thin,
                errors: Vec::new(),
            });
        }
    }
    if series.is_empty() {
        return Ok(None);
    }
    // Group p50 and p99 of one component next to each other, keeping colours paired.
    series.sort_by(|a, b| a.label.cmp(&b.label));
    let title = "Latency percentiles over time (point 0, replication 0)";
    let svg = draw(&Spec {
        title,
        x_desc: "simulated time (s)",
        y_desc: "latency (ms)",
        series: &series,
        shades,
        x_labels: None,
    })?;
    Ok(Some(Chart {
        file: "latency.svg".into(),
        title: title.into(),
        svg,
    }))
}

/// Throughput and errors over time, faults shaded.
fn throughput_chart(ts: &Csv, shades: &[Shade]) -> Result<Option<Chart>> {
    let mut series = Vec::new();
    for (ok, bad) in [
        ("ok_per_s", "failed_per_s"),
        ("completed_per_s", "errors_per_s"),
    ] {
        for (metric, label, thin) in [(ok, "ok/s", false), (bad, "errors/s", true)] {
            for (c, pts) in first_run_series(ts, metric) {
                series.push(Series {
                    label: format!("{c} {label}"),
                    points: pts,
                    thin,
                    errors: Vec::new(),
                });
            }
        }
        if !series.is_empty() {
            break;
        }
    }
    if series.is_empty() {
        return Ok(None);
    }
    series.sort_by(|a, b| a.label.cmp(&b.label));
    let title = "Throughput and errors over time (point 0, replication 0)";
    let svg = draw(&Spec {
        title,
        x_desc: "simulated time (s)",
        y_desc: "requests per second (1/s)",
        series: &series,
        shades,
        x_labels: None,
    })?;
    Ok(Some(Chart {
        file: "throughput.svg".into(),
        title: title.into(),
        svg,
    }))
}

/// Approximate latency CDF per point from the percentiles of `summary.csv`.
/// The latency CDF per sweep point (at most 20): from `latency_cdf.csv` (each quantile
/// averaged over the point's replications — Vincentization), or, for output folders written
/// before that file existed, approximated from summary.csv's percentile columns.
fn cdf_chart(summary: &Csv, cdf: Option<&Csv>) -> Result<Option<Chart>> {
    if let Some(chart) = cdf.map(full_cdf_chart).transpose()?.flatten() {
        return Ok(Some(chart));
    }
    approximate_cdf_chart(summary)
}

fn full_cdf_chart(cdf: &Csv) -> Result<Option<Chart>> {
    let (Some(cp), Some(cq), Some(cl)) =
        (cdf.col("point"), cdf.col("quantile"), cdf.col("latency_ms"))
    else {
        return Ok(None);
    };
    let params = cdf.params_between("seed", "quantile");
    /// One sweep point's rows: its label and, per quantile, the latencies of its runs.
    struct PointCdf {
        point: String,
        label: String,
        quantiles: Vec<(f64, Vec<f64>)>,
    }
    let mut per_point: Vec<PointCdf> = Vec::new();
    for (i, r) in cdf.rows.iter().enumerate() {
        let (q, ms) = (cdf.num(i, cq), cdf.num(i, cl));
        if !q.is_finite() || !ms.is_finite() {
            continue;
        }
        let idx = match per_point.iter().position(|p| p.point == r[cp]) {
            Some(idx) => idx,
            None => {
                if per_point.len() == 20 {
                    continue;
                }
                let label = if params.is_empty() {
                    format!("point {}", r[cp])
                } else {
                    params
                        .iter()
                        .map(|&c| format!("{}={}", short_path(&cdf.header[c]), r[c]))
                        .collect::<Vec<_>>()
                        .join(", ")
                };
                per_point.push(PointCdf {
                    point: r[cp].clone(),
                    label,
                    quantiles: Vec::new(),
                });
                per_point.len() - 1
            }
        };
        let qs = &mut per_point[idx].quantiles;
        match qs.iter_mut().find(|(x, _)| *x == q) {
            Some((_, v)) => v.push(ms),
            None => qs.push((q, vec![ms])),
        }
    }
    let series: Vec<Series> = per_point
        .into_iter()
        .map(|p| Series {
            label: p.label,
            points: p
                .quantiles
                .into_iter()
                .map(|(q, v)| (crate::stats::summarize(&v).mean, q))
                .collect(),
            thin: false,
            errors: Vec::new(),
        })
        .filter(|s| !s.points.is_empty())
        .collect();
    cdf_svg(
        "Latency CDF (each quantile averaged over replications)",
        &series,
    )
}

/// Draws `latency_cdf.svg` (`None` without series).
fn cdf_svg(title: &str, series: &[Series]) -> Result<Option<Chart>> {
    if series.is_empty() {
        return Ok(None);
    }
    let svg = draw(&Spec {
        title,
        x_desc: "end-to-end latency (ms)",
        y_desc: "fraction of requests at or below",
        series,
        shades: &[],
        x_labels: None,
    })?;
    Ok(Some(Chart {
        file: "latency_cdf.svg".into(),
        title: title.into(),
        svg,
    }))
}

fn approximate_cdf_chart(summary: &Csv) -> Result<Option<Chart>> {
    const Q: [(&str, f64); 5] = [
        ("latency_p50_ms", 0.5),
        ("latency_p90_ms", 0.9),
        ("latency_p99_ms", 0.99),
        ("latency_p999_ms", 0.999),
        ("latency_max_ms", 1.0),
    ];
    let (Some(cp), Some(cst)) = (summary.col("point"), summary.col("status")) else {
        return Ok(None);
    };
    let cols: Vec<(usize, f64)> = Q
        .iter()
        .filter_map(|(m, q)| summary.col(m).map(|c| (c, *q)))
        .collect();
    let params = summary.params_between("seed", "status");
    let mut points: Vec<String> = Vec::new();
    for r in &summary.rows {
        if !points.contains(&r[cp]) {
            points.push(r[cp].clone());
        }
    }
    let mut series = Vec::new();
    for p in points.iter().take(20) {
        let rows: Vec<usize> = (0..summary.rows.len())
            .filter(|&i| summary.rows[i][cp] == *p && summary.rows[i][cst] == "ok")
            .collect();
        let mut pts = vec![];
        for &(c, q) in &cols {
            let vals: Vec<f64> = rows.iter().map(|&i| summary.num(i, c)).collect();
            let m = crate::stats::summarize(&vals).mean;
            if m.is_finite() {
                pts.push((m, q));
            }
        }
        if pts.is_empty() {
            continue;
        }
        pts.insert(0, (0.0, 0.0));
        let label = match rows.first() {
            Some(&i) if !params.is_empty() => params
                .iter()
                .map(|&c| format!("{}={}", short_path(&summary.header[c]), summary.rows[i][c]))
                .collect::<Vec<_>>()
                .join(", "),
            _ => format!("point {p}"),
        };
        series.push(Series {
            label,
            points: pts,
            thin: false,
            errors: Vec::new(),
        });
    }
    cdf_svg(
        "Latency CDF (approximate: from p50, p90, p99, p99.9 and max)",
        &series,
    )
}

/// The last path segment of a swept parameter (`components.app.kind.workers` → `workers`).
fn short_path(p: &str) -> &str {
    p.rsplit('.').next().unwrap_or(p)
}

/// Metrics drawn against the swept parameter, with their axis labels.
const SWEEP_METRICS: [(&str, &str); 4] = [
    ("latency_mean_ms", "mean latency (ms)"),
    ("latency_p99_ms", "p99 latency (ms)"),
    ("throughput_rps", "throughput (requests/s)"),
    ("error_rate", "error rate (fraction)"),
];

/// Metric versus swept parameter with CI error bars.
fn sweep_charts(points: &Csv) -> Result<Vec<Chart>> {
    let params = points.params_between("point", "runs");
    if params.is_empty() || points.rows.len() < 2 {
        return Ok(Vec::new());
    }
    let px = params[0];
    let xs: Vec<&str> = points.rows.iter().map(|r| r[px].as_str()).collect();
    let numeric = xs.iter().all(|x| x.parse::<f64>().is_ok());
    let mut cats: Vec<String> = Vec::new();
    for x in &xs {
        if !cats.iter().any(|c| c == x) {
            cats.push((*x).to_owned());
        }
    }
    let xval = |s: &str| -> f64 {
        if numeric {
            s.parse().unwrap_or(f64::NAN)
        } else {
            cats.iter()
                .position(|c| c == s)
                .map_or(f64::NAN, |i| i as f64)
        }
    };
    let group_col = params.get(1).copied();
    let mut groups: Vec<String> = Vec::new();
    for r in &points.rows {
        let g = group_col.map(|c| r[c].clone()).unwrap_or_default();
        if !groups.contains(&g) {
            groups.push(g);
        }
    }
    let mut charts = Vec::new();
    for (metric, y_desc) in SWEEP_METRICS {
        let (Some(cm), Some(cc)) = (
            points.col(&format!("{metric}_mean")),
            points.col(&format!("{metric}_ci95")),
        ) else {
            continue;
        };
        let mut series = Vec::new();
        for g in &groups {
            let mut pts = Vec::new();
            let mut errs = Vec::new();
            for (i, r) in points.rows.iter().enumerate() {
                if group_col.is_some_and(|c| r[c] != *g) {
                    continue;
                }
                pts.push((xval(&r[px]), points.num(i, cm)));
                errs.push(points.num(i, cc));
            }
            let label = match group_col {
                Some(c) => format!("{}={g}", short_path(&points.header[c])),
                None => metric.to_owned(),
            };
            series.push(Series {
                label,
                points: pts,
                thin: false,
                errors: errs,
            });
        }
        if series
            .iter()
            .all(|s| s.points.iter().all(|p| !p.1.is_finite()))
        {
            continue;
        }
        let title = format!(
            "{y_desc} vs {} (mean ± 95% CI over replications)",
            short_path(&points.header[px])
        );
        let x_desc = points.header[px].clone();
        let svg = draw(&Spec {
            title: &title,
            x_desc: &x_desc,
            y_desc,
            series: &series,
            shades: &[],
            x_labels: if numeric { None } else { Some(&cats) },
        })?;
        charts.push(Chart {
            file: format!("sweep_{metric}.svg"),
            title,
            svg,
        });
    }
    Ok(charts)
}

/// Renders every chart the output folder `dir` has data for.
///
/// # Errors
/// Missing `summary.csv`, `points.csv`, `timeseries.csv` or `manifest.ron`, or a drawing error.
pub fn charts(dir: &Path) -> Result<Vec<Chart>> {
    let manifest = read_manifest(dir)?;
    let ts = Csv::read(&dir.join("timeseries.csv"))?;
    let summary = Csv::read(&dir.join("summary.csv"))?;
    let points = Csv::read(&dir.join("points.csv"))?;
    let mut shades = warmup_shade(&manifest.resolved, &summary);
    shades.extend(fault_windows(&manifest.resolved));
    let mut out = Vec::new();
    out.extend(latency_chart(&ts, &shades)?);
    out.extend(throughput_chart(&ts, &shades)?);
    let cdf = Csv::read(&dir.join("latency_cdf.csv")).ok();
    out.extend(cdf_chart(&summary, cdf.as_ref())?);
    out.extend(sweep_charts(&points)?);
    Ok(out)
}

/// Writes every chart of `dir` into `out` (atomically) and returns the paths written.
///
/// # Errors
/// As [`charts`], or a write error.
pub fn write_charts(dir: &Path, out: &Path) -> Result<Vec<PathBuf>> {
    let charts = charts(dir)?;
    std::fs::create_dir_all(out).with_context(|| format!("creating {}", out.display()))?;
    let mut paths = Vec::new();
    for c in charts {
        let p = out.join(&c.file);
        write_atomic(&p, c.svg.as_bytes()).with_context(|| format!("writing {}", p.display()))?;
        paths.push(p);
    }
    Ok(paths)
}

/// `clustersim plot DIR [--out OUT]` (default `DIR/plots/`): writes the charts, lists them.
///
/// # Errors
/// As [`write_charts`].
pub fn cli(dir: &Path, out: Option<&Path>) -> Result<std::process::ExitCode> {
    let out = out.map_or_else(|| dir.join("plots"), Path::to_path_buf);
    let paths = write_charts(dir, &out)?;
    if paths.is_empty() {
        eprintln!("no chart: {} holds no data to plot", dir.display());
    }
    for p in paths {
        println!("{}", p.display());
    }
    Ok(std::process::ExitCode::SUCCESS)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn draws_valid_deterministic_svg_with_many_series() {
        let series: Vec<Series> = (0..20)
            .map(|i| Series {
                label: format!("s<{i}>&"),
                points: (0..30).map(|t| (t as f64, (t * i) as f64)).collect(),
                thin: i % 2 == 0,
                errors: vec![1.0; 30],
            })
            .collect();
        let shades = [Shade {
            start_s: 3.0,
            end_s: 5.0,
            label: "crash app".into(),
            partition: false,
        }];
        let spec = Spec {
            title: "t",
            x_desc: "x (s)",
            y_desc: "y (ms)",
            series: &series,
            shades: &shades,
            x_labels: None,
        };
        let a = draw(&spec).unwrap();
        assert_eq!(a, draw(&spec).unwrap());
        let doc = roxmltree::Document::parse(&a).unwrap();
        assert_eq!(doc.root_element().tag_name().name(), "svg");
        assert!(a.contains("s&lt;19&gt;&amp;"));
    }

    #[test]
    fn empty_and_flat_data_do_not_fail() {
        let spec = Spec {
            title: "flat",
            x_desc: "x",
            y_desc: "y",
            series: &[Series {
                label: "one".into(),
                points: vec![(1.0, 5.0)],
                thin: false,
                errors: Vec::new(),
            }],
            shades: &[],
            x_labels: None,
        };
        roxmltree::Document::parse(&draw(&spec).unwrap()).unwrap();
        assert_eq!(trim(0.5), "0.5");
        assert_eq!(trim(250.0), "250");
        assert_eq!(trim(-0.0), "0");
    }
}
