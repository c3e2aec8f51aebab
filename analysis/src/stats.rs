//! Summary statistics for replicated simulation runs.
//!
//! * [`OnlineStats`] accumulates a mean and a sample variance in one pass with
//!   Welford's algorithm, which stays numerically stable when the values are large
//!   and close together (e.g. latencies in nanoseconds).
//! * [`summarize`] turns a slice of per-replication values into a [`Summary`] with
//!   a 95 % confidence interval for the mean based on Student's t distribution.
//! * [`student_t_975`] gives the two-sided 95 % quantile `t_{0.975, df}`.

/// Two-sided 95 % Student t quantiles `t_{0.975, df}` for `df = 1..=30`
/// (index `df - 1`), to 9 decimal places.
const T_975_TABLE: [f64; 30] = [
    12.706_204_736,
    4.302_652_730,
    3.182_446_305,
    2.776_445_105,
    2.570_581_836,
    2.446_911_851,
    2.364_624_252,
    2.306_004_135,
    2.262_157_163,
    2.228_138_852,
    2.200_985_160,
    2.178_812_830,
    2.160_368_656,
    2.144_786_688,
    2.131_449_546,
    2.119_905_299,
    2.109_815_578,
    2.100_922_040,
    2.093_024_054,
    2.085_963_447,
    2.079_613_845,
    2.073_873_068,
    2.068_657_610,
    2.063_898_562,
    2.059_538_553,
    2.055_529_439,
    2.051_830_516,
    2.048_407_142,
    2.045_229_642,
    2.042_272_456,
];

/// The standard normal quantile `z_{0.975}` (the limit of `t_{0.975, df}` as `df → ∞`).
const Z_975: f64 = 1.959_963_984_540_054;

/// The two-sided 95 % Student t quantile `t_{0.975, df}`.
///
/// * `df = 0` → `NaN` (the distribution is undefined).
/// * `df = 1..=30` → an exact table (9 decimal places).
/// * `df > 30` → the Cornish–Fisher expansion of the t quantile around the normal
///   quantile, with terms up to `df⁻⁴`; its absolute error is below `5e-8` for every
///   `df > 30` and shrinks rapidly as `df` grows. It converges to `1.959964` (the
///   normal quantile) as `df → ∞`.
///
/// The result is strictly decreasing in `df`.
#[must_use]
pub fn student_t_975(df: usize) -> f64 {
    match df {
        0 => f64::NAN,
        1..=30 => T_975_TABLE[df - 1],
        _ => {
            // Lossless for every df that can be a sample size minus one in practice;
            // beyond 2^53 the rounding is irrelevant because the result equals Z_975.
            #[allow(clippy::cast_precision_loss)]
            let v = df as f64;
            let z = Z_975;
            let z2 = z * z;
            let z3 = z2 * z;
            let z5 = z3 * z2;
            let z7 = z5 * z2;
            let z9 = z7 * z2;
            let g1 = (z3 + z) / 4.0;
            let g2 = (5.0 * z5 + 16.0 * z3 + 3.0 * z) / 96.0;
            let g3 = (3.0 * z7 + 19.0 * z5 + 17.0 * z3 - 15.0 * z) / 384.0;
            let g4 = (79.0 * z9 + 776.0 * z7 + 1482.0 * z5 - 1920.0 * z3 - 945.0 * z) / 92_160.0;
            z + (g1 + (g2 + (g3 + g4 / v) / v) / v) / v
        }
    }
}

/// Summary of a sample: size, mean, sample standard deviation and the half-width of
/// a 95 % confidence interval for the mean.
///
/// Produced by [`summarize`] or [`OnlineStats::summary`]. The confidence interval is
/// `mean ± ci95_half_width`, with `ci95_half_width = t_{0.975, n-1} · std_dev / √n`
/// (see [`student_t_975`]); it assumes independent, roughly normally distributed
/// values (e.g. one value per independent replication).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Summary {
    /// Number of values summarized (`NaN` inputs to [`summarize`] are not counted).
    pub n: usize,
    /// Arithmetic mean; `NaN` when `n == 0`.
    pub mean: f64,
    /// Sample standard deviation (divisor `n - 1`); `NaN` when `n < 2`.
    pub std_dev: f64,
    /// Half-width of the 95 % Student t confidence interval for the mean; `NaN` when
    /// `n < 2`.
    pub ci95_half_width: f64,
}

/// Summarizes `values` into a [`Summary`].
///
/// `NaN` values are **skipped and not counted** in [`Summary::n`]: a NaN usually
/// means "this replication produced no measurement" (e.g. a mean over zero
/// requests), and dropping it keeps the remaining replications usable. Callers that
/// need to know how many were dropped can compare `values.len()` with `n`.
/// Infinite values are *not* skipped; they propagate into the mean and deviation
/// (as `±inf` or `NaN`).
///
/// * `n == 0` → `mean`, `std_dev` and `ci95_half_width` are all `NaN`.
/// * `n == 1` → `mean` is the value; `std_dev` and `ci95_half_width` are `NaN`
///   (a sample variance needs at least two values).
///
/// The mean and variance are accumulated with Welford's algorithm ([`OnlineStats`]).
#[must_use]
pub fn summarize(values: &[f64]) -> Summary {
    let mut acc = OnlineStats::new();
    for &v in values {
        if !v.is_nan() {
            acc.push(v);
        }
    }
    acc.summary()
}

/// Streaming mean and variance accumulator using Welford's algorithm.
///
/// Numerically stable (no catastrophic cancellation from `Σx² − (Σx)²/n`), `O(1)`
/// memory. Unlike [`summarize`], [`push`](OnlineStats::push) does not filter
/// anything: a `NaN` pushed here poisons the mean and variance.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct OnlineStats {
    count: usize,
    mean: f64,
    /// Sum of squared deviations from the current mean.
    m2: f64,
}

impl OnlineStats {
    /// An empty accumulator.
    #[must_use]
    pub const fn new() -> Self {
        Self {
            count: 0,
            mean: 0.0,
            m2: 0.0,
        }
    }

    /// Adds one value.
    pub fn push(&mut self, x: f64) {
        self.count += 1;
        #[allow(clippy::cast_precision_loss)]
        let n = self.count as f64;
        let delta = x - self.mean;
        self.mean += delta / n;
        self.m2 += delta * (x - self.mean);
    }

    /// Combines another accumulator into this one (Chan et al.'s parallel update),
    /// as if all of `other`'s values had been pushed here.
    pub fn merge(&mut self, other: &Self) {
        if other.count == 0 {
            return;
        }
        if self.count == 0 {
            *self = *other;
            return;
        }
        let total = self.count + other.count;
        #[allow(clippy::cast_precision_loss)]
        let (na, nb, n) = (self.count as f64, other.count as f64, total as f64);
        let delta = other.mean - self.mean;
        self.mean += delta * nb / n;
        self.m2 += other.m2 + delta * delta * na * nb / n;
        self.count = total;
    }

    /// Number of values pushed.
    #[must_use]
    pub const fn count(&self) -> usize {
        self.count
    }

    /// Mean of the values pushed; `NaN` if none.
    #[must_use]
    pub const fn mean(&self) -> f64 {
        if self.count == 0 { f64::NAN } else { self.mean }
    }

    /// Sample variance (divisor `n - 1`); `NaN` with fewer than two values.
    #[must_use]
    pub fn variance(&self) -> f64 {
        if self.count < 2 {
            f64::NAN
        } else {
            #[allow(clippy::cast_precision_loss)]
            let d = (self.count - 1) as f64;
            // m2 is non-negative in exact arithmetic; clamp rounding noise.
            (self.m2 / d).max(0.0)
        }
    }

    /// Sample standard deviation (square root of [`variance`](Self::variance)).
    #[must_use]
    pub fn std_dev(&self) -> f64 {
        self.variance().sqrt()
    }

    /// The [`Summary`] of the values pushed so far (same conventions as
    /// [`summarize`] for `n = 0` and `n = 1`).
    #[must_use]
    pub fn summary(&self) -> Summary {
        let n = self.count;
        let std_dev = self.std_dev();
        let ci95_half_width = if n < 2 {
            f64::NAN
        } else {
            #[allow(clippy::cast_precision_loss)]
            let sqrt_n = (n as f64).sqrt();
            student_t_975(n - 1) * std_dev / sqrt_n
        };
        Summary {
            n,
            mean: self.mean(),
            std_dev,
            ci95_half_width,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn close(a: f64, b: f64, tol: f64) -> bool {
        (a - b).abs() <= tol
    }

    #[test]
    fn t_quantiles_known_values() {
        assert!(student_t_975(0).is_nan());
        assert!(close(student_t_975(1), 12.706, 5e-4));
        assert!(close(student_t_975(10), 2.228, 5e-4));
        assert!(close(student_t_975(30), 2.042, 5e-4));
        assert!(close(student_t_975(1000), 1.962, 5e-4));
        // Reference values (numerical inversion of the t CDF) beyond the table.
        for (df, want) in [
            (31, 2.039_513_446),
            (40, 2.021_075_390),
            (60, 2.000_297_822),
            (120, 1.979_930_405),
            (1000, 1.962_339_081),
        ] {
            assert!(close(student_t_975(df), want, 5e-8), "df={df}");
        }
        assert!(close(student_t_975(usize::MAX), Z_975, 1e-12));
    }

    #[test]
    fn t_quantiles_strictly_decreasing() {
        let mut prev = f64::INFINITY;
        for df in 1..=2000 {
            let t = student_t_975(df);
            assert!(t < prev, "df={df}");
            assert!(t > Z_975);
            prev = t;
        }
    }

    #[test]
    fn summarize_one_to_four() {
        let s = summarize(&[1.0, 2.0, 3.0, 4.0]);
        assert_eq!(s.n, 4);
        assert!(close(s.mean, 2.5, 1e-12));
        let sd = (5.0f64 / 3.0).sqrt();
        assert!(close(s.std_dev, sd, 1e-12));
        assert!(close(s.ci95_half_width, 3.182_446_305 * sd / 2.0, 1e-9));
        assert!(close(s.ci95_half_width, 2.054_3, 1e-4));
    }

    #[test]
    fn summarize_small_and_nan() {
        let e = summarize(&[]);
        assert_eq!(e.n, 0);
        assert!(e.mean.is_nan() && e.std_dev.is_nan() && e.ci95_half_width.is_nan());

        let one = summarize(&[7.5]);
        assert_eq!(one.n, 1);
        assert_eq!(one.mean, 7.5);
        assert!(one.std_dev.is_nan() && one.ci95_half_width.is_nan());

        let s = summarize(&[f64::NAN, 1.0, 2.0, f64::NAN, 3.0, 4.0]);
        assert_eq!(s, summarize(&[1.0, 2.0, 3.0, 4.0]));

        let all_nan = summarize(&[f64::NAN, f64::NAN]);
        assert_eq!(all_nan.n, 0);
        assert!(all_nan.mean.is_nan());
    }

    #[test]
    fn welford_is_stable_with_large_offset() {
        let mut acc = OnlineStats::new();
        for x in [1e9 + 4.0, 1e9 + 7.0, 1e9 + 13.0, 1e9 + 16.0] {
            acc.push(x);
        }
        assert_eq!(acc.count(), 4);
        assert!(close(acc.mean(), 1e9 + 10.0, 1e-6));
        assert!(close(acc.variance(), 30.0, 1e-9));
    }

    #[test]
    fn merge_matches_sequential() {
        let xs: Vec<f64> = (0..101)
            .map(|i| f64::from(i).mul_add(0.37, 1.0).sin() * 10.0)
            .collect();
        let mut all = OnlineStats::new();
        xs.iter().for_each(|&x| all.push(x));
        let (a, b) = xs.split_at(37);
        let mut left = OnlineStats::new();
        a.iter().for_each(|&x| left.push(x));
        let mut right = OnlineStats::new();
        b.iter().for_each(|&x| right.push(x));
        left.merge(&right);
        assert_eq!(left.count(), all.count());
        assert!(close(left.mean(), all.mean(), 1e-12));
        assert!(close(left.variance(), all.variance(), 1e-10));

        let mut empty = OnlineStats::new();
        empty.merge(&all);
        assert_eq!(empty, all);
        let before = all;
        all.merge(&OnlineStats::new());
        assert_eq!(all, before);
    }

    #[test]
    fn online_empty_and_single() {
        let mut acc = OnlineStats::default();
        assert_eq!(acc.count(), 0);
        assert!(acc.mean().is_nan() && acc.variance().is_nan());
        acc.push(3.0);
        assert_eq!(acc.mean(), 3.0);
        assert!(acc.variance().is_nan());
    }
}
