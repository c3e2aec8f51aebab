//! Warm-up detection (MSER-5) and batch-means confidence intervals for single long runs.
//!
//! Both work on a *per-window series*: one value per report interval (e.g. mean client latency
//! or throughput of each `timeseries.csv` window), in time order. They are pure functions of
//! that series, so they are deterministic and cheap.
//!
//! **MSER-5** (White 1997; Franklin & White 2008): group the series into batches of 5 and take
//! batch means `Z_1..Z_k`; for each candidate truncation `d` (in batches) compute
//! `MSER(d) = Σ_{j>d} (Z_j − Z̄_d)² / (k − d)²`, where `Z̄_d` is the mean of the batches kept.
//! The chosen truncation `d*` minimises `MSER(d)` over `d < k/2` (the rule considers only the
//! first half: a minimum in the second half means the run is too short to tell). The warm-up
//! is `5·d*` windows.
//!
//! **Batch means**: with one replication there is no between-replication variance; the
//! series after warm-up is cut into `b` contiguous batches (default 10, at least 2 windows
//! each), whose means are treated as nearly independent, and a Student t interval
//! `t(0.975, b−1) · sd(batch means) / √b` is computed around their mean.

use clustersim_engine::SimDuration;
use clustersim_scenarios::Spec;

use crate::result::{RunResult, is_client_kind};
use crate::stats::{student_t_975, summarize};

/// The batch size of MSER-5.
pub const MSER_BATCH: usize = 5;

/// Result of [`mser5`].
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct MserResult {
    /// Number of leading *windows* to discard (a multiple of [`MSER_BATCH`]).
    pub truncate_windows: usize,
    /// The minimal MSER statistic.
    pub statistic: f64,
    /// Whether the minimum was at the edge of the search range (the first half), which
    /// suggests the run is too short for a reliable warm-up estimate.
    pub at_search_limit: bool,
}

/// MSER-5 truncation point of `series` (one value per window, in time order).
///
/// Non-finite values (windows without a measurement) are skipped before batching. Returns
/// `None` when fewer than two full batches (10 finite values) exist.
#[must_use]
pub fn mser5(series: &[f64]) -> Option<MserResult> {
    let values: Vec<f64> = series.iter().copied().filter(|v| v.is_finite()).collect();
    let k = values.len() / MSER_BATCH;
    if k < 2 {
        return None;
    }
    let batches: Vec<f64> = values
        .chunks_exact(MSER_BATCH)
        .map(|c| c.iter().sum::<f64>() / MSER_BATCH as f64)
        .collect();
    // Suffix sums let every candidate be evaluated in O(1).
    let mut suffix_sum = vec![0.0; k + 1];
    let mut suffix_sq = vec![0.0; k + 1];
    for j in (0..k).rev() {
        suffix_sum[j] = suffix_sum[j + 1] + batches[j];
        suffix_sq[j] = suffix_sq[j + 1] + batches[j] * batches[j];
    }
    let limit = k.div_ceil(2).max(1); // candidates d = 0 .. limit-1 (first half)
    let mut best = (0usize, f64::INFINITY);
    for d in 0..limit {
        let n = (k - d) as f64;
        let mean = suffix_sum[d] / n;
        let ss = (suffix_sq[d] - n * mean * mean).max(0.0);
        let stat = ss / (n * n);
        // Strict `<`: ties keep the smaller truncation.
        if stat < best.1 {
            best = (d, stat);
        }
    }
    // Map the truncation in finite values back to windows of the original series.
    let keep_finite = best.0 * MSER_BATCH;
    let mut seen = 0;
    let mut truncate_windows = 0;
    for (i, v) in series.iter().enumerate() {
        if seen == keep_finite {
            truncate_windows = i;
            break;
        }
        if v.is_finite() {
            seen += 1;
        }
        truncate_windows = i + 1;
    }
    Some(MserResult {
        truncate_windows,
        statistic: best.1,
        at_search_limit: limit > 1 && best.0 == limit - 1,
    })
}

/// Default number of batches for [`batch_means_ci`].
pub const DEFAULT_BATCHES: usize = 10;

/// Mean and 95 % CI half-width by the method of batch means.
///
/// `series` holds one value per window after the warm-up (non-finite values are skipped).
/// It is split into `batches` contiguous batches of equal size (the leftover windows at the
/// start are dropped, so the latest data is kept); fewer batches are used when the series is
/// short, each batch holding at least 2 values. Returns `None` with fewer than 4 values.
/// The half-width is `t(0.975, b−1) · sd / √b` over the `b` batch means.
#[must_use]
pub fn batch_means_ci(series: &[f64], batches: usize) -> Option<(f64, f64)> {
    let values: Vec<f64> = series.iter().copied().filter(|v| v.is_finite()).collect();
    let b = batches.min(values.len() / 2);
    if b < 2 {
        return None;
    }
    let size = values.len() / b;
    let skip = values.len() - size * b;
    let means: Vec<f64> = values[skip..]
        .chunks_exact(size)
        .map(|c| c.iter().sum::<f64>() / size as f64)
        .collect();
    let s = summarize(&means);
    let half = student_t_975(b - 1) * s.std_dev / (b as f64).sqrt();
    Some((s.mean, half))
}

/// Per-window run-level series of one run, rebuilt from its tidy time series: all clients
/// merged, as in the run-level columns of `summary.csv`.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct WindowSeries {
    /// Window starts in seconds, in time order.
    pub start_s: Vec<f64>,
    /// Window ends in seconds.
    pub end_s: Vec<f64>,
    /// Mean end-to-end latency of the clients' successful requests in each window (count-
    /// weighted over clients; NaN for a window without any).
    pub latency_mean_ms: Vec<f64>,
    /// Successful client requests per second in each window.
    pub throughput_rps: Vec<f64>,
}

/// The per-window client series of `run` (windows before `warmup_s` included); see
/// [`WindowSeries`]. [`window_series`] keeps only the windows after the run's warm-up.
#[must_use]
pub fn all_window_series(run: &RunResult) -> WindowSeries {
    let is_client = |name: &str| {
        run.components
            .iter()
            .any(|c| c.component == name && is_client_kind(&c.kind))
    };
    let mut out = WindowSeries::default();
    // (latency count, count × mean, ok/s) of the window being gathered.
    let mut acc = (0.0, 0.0, 0.0);
    let flush = |out: &mut WindowSeries, acc: (f64, f64, f64)| {
        out.latency_mean_ms
            .push(if acc.0 > 0.0 { acc.1 / acc.0 } else { f64::NAN });
        out.throughput_rps.push(acc.2);
    };
    let mut count = 0.0;
    for t in &run.timeseries {
        if out.start_s.last() != Some(&t.start_s) {
            if !out.start_s.is_empty() {
                flush(&mut out, acc);
            }
            out.start_s.push(t.start_s);
            out.end_s.push(t.end_s);
            acc = (0.0, 0.0, 0.0);
        }
        if !is_client(&t.component) {
            continue;
        }
        // Within one window a histogram's `_count` row precedes its `_mean_ms` row.
        match t.metric.as_str() {
            "latency_count" => count = t.value,
            "latency_mean_ms" => {
                acc.0 += count;
                acc.1 += count * t.value;
            }
            "ok_per_s" => acc.2 += t.value,
            _ => {}
        }
    }
    if !out.start_s.is_empty() {
        flush(&mut out, acc);
    }
    out
}

/// [`all_window_series`] without the windows that start before the run's warm-up end
/// (`RunResult::warmup_s`): the data [`batch_means_ci`] is applied to for single runs.
#[must_use]
pub fn window_series(run: &RunResult) -> WindowSeries {
    let all = all_window_series(run);
    let keep: Vec<bool> = all.start_s.iter().map(|s| *s >= run.warmup_s).collect();
    let pick = |v: &[f64]| -> Vec<f64> {
        v.iter()
            .zip(&keep)
            .filter(|(_, k)| **k)
            .map(|(x, _)| *x)
            .collect()
    };
    WindowSeries {
        start_s: pick(&all.start_s),
        end_s: pick(&all.end_s),
        latency_mean_ms: pick(&all.latency_mean_ms),
        throughput_rps: pick(&all.throughput_rps),
    }
}

/// The warm-up `warmup: Auto` chooses for a run of `spec` that executed without warm-up:
/// MSER-5 over the per-window client mean latency (or, when no window has a latency, the
/// client throughput), as a whole number of report intervals. `None` when the spec has a
/// fixed warm-up, the run failed, or there are fewer than 10 windows with a value.
#[must_use]
pub fn auto_warmup(spec: &Spec, first: &RunResult) -> Option<SimDuration> {
    if !spec.warmup_auto || first.failure.is_some() {
        return None;
    }
    let w = all_window_series(first);
    let series = if w.latency_mean_ms.iter().any(|v| v.is_finite()) {
        &w.latency_mean_ms
    } else {
        &w.throughput_rps
    };
    let res = mser5(series)?;
    let ns = spec
        .report_interval
        .as_nanos()
        .saturating_mul(res.truncate_windows as u64);
    // MSER-5 only looks at the first half, so this stays below the run length; keep the
    // validation invariant (warm-up shorter than the run) regardless.
    (ns < spec.duration.as_nanos()).then(|| SimDuration::from_nanos(ns))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A deterministic pseudo-random sequence in [-1, 1) (LCG), so tests need no rand.
    fn noise(n: usize, seed: u64) -> Vec<f64> {
        let mut x = seed;
        (0..n)
            .map(|_| {
                x = x
                    .wrapping_mul(6_364_136_223_846_793_005)
                    .wrapping_add(1_442_695_040_888_963_407);
                ((x >> 11) as f64 / (1u64 << 53) as f64) * 2.0 - 1.0
            })
            .collect()
    }

    #[test]
    fn finds_end_of_linear_transient() {
        // 40 windows ramping from 20 down to 10, then 360 windows of 10 ± 1 noise.
        // Tolerance: the detected end lies within 2 batches (10 windows) of the true end.
        let mut s: Vec<f64> = (0..40).map(|i| 20.0 - 10.0 * i as f64 / 40.0).collect();
        s.extend(noise(360, 7).iter().map(|e| 10.0 + e));
        let r = mser5(&s).unwrap();
        assert!(
            (30..=50).contains(&r.truncate_windows),
            "truncation {} not near 40",
            r.truncate_windows
        );
        assert_eq!(r.truncate_windows % MSER_BATCH, 0);
        assert!(!r.at_search_limit);
    }

    #[test]
    fn exponential_transient_found_within_tolerance() {
        // Transient 50·e^{-i/10}: below the noise amplitude (±1) after about 40 windows.
        // Tolerance: truncation in [15, 60] windows.
        let s: Vec<f64> = noise(500, 3)
            .iter()
            .enumerate()
            .map(|(i, e)| 5.0 + 50.0 * (-(i as f64) / 10.0).exp() + e)
            .collect();
        let r = mser5(&s).unwrap();
        assert!(
            (15..=60).contains(&r.truncate_windows),
            "truncation {}",
            r.truncate_windows
        );
    }

    #[test]
    fn stationary_series_truncates_little() {
        // Tolerance: at most 10 % of the series dropped for stationary noise.
        let s: Vec<f64> = noise(300, 11).iter().map(|e| 3.0 + e).collect();
        let r = mser5(&s).unwrap();
        assert!(
            r.truncate_windows <= 30,
            "truncation {}",
            r.truncate_windows
        );
    }

    #[test]
    fn short_or_empty_series() {
        assert_eq!(mser5(&[]), None);
        assert_eq!(mser5(&[1.0; 9]), None);
        let r = mser5(&[1.0; 10]).unwrap();
        assert_eq!(r.truncate_windows, 0);
        assert_eq!(r.statistic, 0.0);
    }

    #[test]
    fn nan_windows_are_skipped_and_mapped_back() {
        // A NaN window inside the transient shifts the truncation by one window.
        let mut s: Vec<f64> = (0..20).map(|_| 100.0).collect();
        s.insert(3, f64::NAN);
        s.extend(noise(200, 5).iter().map(|e| 1.0 + e));
        let r = mser5(&s).unwrap();
        assert_eq!(r.truncate_windows, 21);
    }

    #[test]
    fn batch_means_covers_true_mean() {
        // iid noise around 4 with sd ≈ 0.577: the 95 % interval from 10 batches of 100
        // must contain 4 and be narrow (half-width < 0.1, i.e. about 2.3 · 0.577/√1000 · √… ).
        let s: Vec<f64> = noise(1000, 13).iter().map(|e| 4.0 + e).collect();
        let (mean, half) = batch_means_ci(&s, DEFAULT_BATCHES).unwrap();
        assert!((mean - 4.0).abs() < half, "mean {mean} ± {half}");
        assert!(half > 0.0 && half < 0.1, "half-width {half}");
    }

    #[test]
    fn batch_means_edge_cases() {
        assert_eq!(batch_means_ci(&[1.0, 2.0, 3.0], 10), None);
        let (m, h) = batch_means_ci(&[1.0, 1.0, 3.0, 3.0], 10).unwrap();
        assert_eq!(m, 2.0);
        // Two batches with means 1 and 3: sd = √2, half = 12.706·√2/√2.
        assert!((h - 12.706_204_736).abs() < 1e-9);
    }
}
