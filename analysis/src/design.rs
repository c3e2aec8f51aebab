//! Experiment design for parameter sweeps.
//!
//! A [`Design`] names scenario parameters by *path* (an opaque string such as
//! `"cluster.nodes"`; interpreting it is the caller's business) and says which
//! values each takes. [`enumerate`] expands it into a deterministic list of
//! [`Point`]s. Three kinds of factors combine as a cartesian product:
//!
//! * **grid axes** — one path, a list of values;
//! * **zipped groups** — several paths whose value lists have equal length and are
//!   walked in lock-step (row `i` assigns the `i`-th value of every list);
//! * an optional **Latin hypercube** ([`Lhs`]) — `samples` points spread over
//!   continuous (or integer) ranges.
//!
//! Replications of each point get their seeds from [`derive_seed`] (common random
//! numbers), and [`total_runs`] bounds the size of a sweep by [`MAX_RUNS`].

use std::fmt;

use serde::{Deserialize, Serialize};

/// Upper bound on the number of points of a design and on the number of runs
/// (points × replications) of a sweep.
pub const MAX_RUNS: usize = 1_000_000;

/// A parameter value assigned to a path.
///
/// Serialized externally tagged, e.g. in RON `Int(3)`, `Float(0.5)`, `Text("lru")`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum Value {
    /// An integer.
    Int(i64),
    /// A floating-point number.
    Float(f64),
    /// A string (e.g. an enum variant name).
    Text(String),
}

impl fmt::Display for Value {
    /// Integers in decimal, floats with Rust's shortest round-trip `{}` formatting
    /// (so `Float(1.0)` prints as `1` and `Float(0.1)` as `0.1`), text as given
    /// (no quotes or escaping).
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Int(v) => write!(f, "{v}"),
            Self::Float(v) => write!(f, "{v}"),
            Self::Text(s) => f.write_str(s),
        }
    }
}

/// A Latin hypercube sample over continuous or integer ranges.
///
/// For each range (dimension), the interval `[lo, hi]` is divided into `samples`
/// equal strata, and the samples visit every stratum exactly once in a random
/// order. Sample `i` of a dimension takes the value
/// `lo + (perm[i] + u) / samples · (hi − lo)` with `perm` a random permutation of
/// `0..samples` and `u` uniform in `[0, 1)`.
///
/// Randomness comes from a local SplitMix64 generator seeded with [`seed`](Self::seed)
/// (no external crates), consumed in a fixed order: for each dimension in
/// declaration order, first a Fisher–Yates shuffle of the strata (for `i` from
/// `samples − 1` down to `1`, swap `i` with an unbiased uniform index in `0..=i`,
/// using Lemire's multiply-and-reject method), then one `u` per sample in sample
/// order (`u = (next >> 11) · 2⁻⁵³`). The same design and seed therefore always
/// produce the same points, on every platform.
///
/// Float dimensions produce [`Value::Float`], clamped into `[lo, hi]`.
///
/// Integer dimensions produce [`Value::Int`]. They are sampled as above over the
/// widened interval `[a − ½, b + ½)` with `a = ceil(lo)`, `b = floor(hi)`, and
/// rounded half-up (equivalently: `floor(a + (perm[i] + u) / samples · (b − a + 1))`,
/// clamped into `[a, b]`). Every integer of the range is thus equally likely, and
/// when `samples` equals the number of integers `b − a + 1` each appears exactly
/// once.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Lhs {
    /// Number of samples (and strata per dimension); must be at least 1.
    pub samples: usize,
    /// Seed of the sampling generator.
    pub seed: u64,
    /// Dimensions: `(path, lo, hi, integer)`, with finite `lo <= hi`. For integer
    /// dimensions `[lo, hi]` must contain an integer and lie within `±2⁵³`.
    pub ranges: Vec<(String, f64, f64, bool)>,
}

/// A sweep design: grid axes × zipped groups × an optional Latin hypercube.
///
/// All fields default to empty, so a RON design may omit any of them. See
/// [`enumerate`] for the expansion order.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct Design {
    /// Grid axes `(path, values)`, each a factor of the cartesian product.
    pub grid: Vec<(String, Vec<Value>)>,
    /// Zipped groups; each group is a list of `(path, values)` whose value lists
    /// must all have the same length, and contributes one factor whose rows are
    /// walked in lock-step.
    pub zipped: Vec<Vec<(String, Vec<Value>)>>,
    /// An optional Latin hypercube factor.
    pub latin_hypercube: Option<Lhs>,
}

/// One point of a design: the parameter assignments of one sweep cell.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Point {
    /// Position of the point in [`enumerate`]'s output (`0..n`).
    pub index: usize,
    /// `(path, value)` pairs: grid axes first (declaration order), then zipped
    /// groups (group order, then path order within a group), then Latin hypercube
    /// dimensions (declaration order).
    pub assignments: Vec<(String, Value)>,
}

impl Point {
    /// The value assigned to `path`, if any.
    #[must_use]
    pub fn get(&self, path: &str) -> Option<&Value> {
        self.assignments
            .iter()
            .find(|(p, _)| p == path)
            .map(|(_, v)| v)
    }
}

/// Why a design cannot be enumerated or a sweep is too large.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum DesignError {
    /// A path is the empty string.
    #[error("a design path is empty")]
    EmptyPath,
    /// The same path is assigned by more than one axis, group or LHS dimension.
    #[error("path `{0}` is assigned more than once in the design")]
    DuplicatePath(String),
    /// A grid axis or zipped list has no values (the product would be empty).
    #[error("axis `{0}` has no values")]
    EmptyAxis(String),
    /// A zipped group contains no lists.
    #[error("zipped group {0} has no paths")]
    EmptyZipGroup(usize),
    /// The lists of a zipped group have different lengths.
    #[error("zipped group {group}: `{path}` has {found} values but `{first_path}` has {expected}")]
    ZipLengthMismatch {
        /// Index of the group in [`Design::zipped`].
        group: usize,
        /// The group's first path, whose length is the reference.
        first_path: String,
        /// Length of the first list.
        expected: usize,
        /// The offending path.
        path: String,
        /// Length of the offending list.
        found: usize,
    },
    /// The Latin hypercube asks for zero samples.
    #[error("latin hypercube needs at least one sample")]
    LhsNoSamples,
    /// The Latin hypercube has no ranges.
    #[error("latin hypercube has no ranges")]
    LhsNoRanges,
    /// A Latin hypercube range is not finite, has `lo > hi`, or (integer) contains
    /// no integer or exceeds `±2⁵³`.
    #[error("latin hypercube range `{path}` = [{lo}, {hi}] is invalid")]
    LhsInvalidRange {
        /// The dimension's path.
        path: String,
        /// Lower bound.
        lo: f64,
        /// Upper bound.
        hi: f64,
    },
    /// The design has more than [`MAX_RUNS`] points.
    #[error("design has {requested} points, more than the limit of {max}")]
    TooManyPoints {
        /// Number of points the design would produce.
        requested: u128,
        /// The limit ([`MAX_RUNS`]).
        max: usize,
    },
    /// Points × replications exceeds [`MAX_RUNS`] (or overflows).
    #[error("sweep needs {requested} runs, more than the limit of {max}")]
    TooManyRuns {
        /// Number of runs requested (points × replications, computed without
        /// overflow).
        requested: u128,
        /// The limit ([`MAX_RUNS`]).
        max: usize,
    },
}

/// Expands a design into its points, in a deterministic order.
///
/// The points are the cartesian product of, in this order: the grid axes
/// (declaration order), the zipped groups (declaration order; each group one
/// factor whose rows are its lists walked in lock-step), and the Latin hypercube
/// samples (one factor with [`Lhs::samples`] rows). The **first factor varies
/// slowest** and the last fastest (like nested loops written in declaration
/// order). Indices run `0..n`. A design with no factors yields exactly one point
/// with no assignments (the base scenario).
///
/// # Errors
/// A [`DesignError`] if a path is empty or repeated, an axis or zipped list is
/// empty, a zipped group is empty or ragged, the Latin hypercube is invalid, or the
/// design has more than [`MAX_RUNS`] points.
pub fn enumerate(design: &Design) -> Result<Vec<Point>, DesignError> {
    validate_paths(design)?;

    // Each factor is a list of rows; a row is the assignments it contributes.
    let mut factors: Vec<Vec<Vec<(String, Value)>>> = Vec::new();
    for (path, values) in &design.grid {
        if values.is_empty() {
            return Err(DesignError::EmptyAxis(path.clone()));
        }
        factors.push(
            values
                .iter()
                .map(|v| vec![(path.clone(), v.clone())])
                .collect(),
        );
    }
    for (g, group) in design.zipped.iter().enumerate() {
        let (first_path, first) = group.first().ok_or(DesignError::EmptyZipGroup(g))?;
        for (path, values) in group {
            if values.len() != first.len() {
                return Err(DesignError::ZipLengthMismatch {
                    group: g,
                    first_path: first_path.clone(),
                    expected: first.len(),
                    path: path.clone(),
                    found: values.len(),
                });
            }
        }
        if first.is_empty() {
            return Err(DesignError::EmptyAxis(first_path.clone()));
        }
        let rows = (0..first.len())
            .map(|i| {
                group
                    .iter()
                    .map(|(p, vs)| (p.clone(), vs[i].clone()))
                    .collect()
            })
            .collect();
        factors.push(rows);
    }
    if let Some(lhs) = &design.latin_hypercube {
        factors.push(latin_hypercube(lhs)?);
    }

    let total = factors
        .iter()
        .try_fold(1usize, |acc, f| acc.checked_mul(f.len()));
    let total = match total {
        Some(n) if n <= MAX_RUNS => n,
        _ => {
            let requested = factors
                .iter()
                .fold(1u128, |acc, f| acc.saturating_mul(f.len() as u128));
            return Err(DesignError::TooManyPoints {
                requested,
                max: MAX_RUNS,
            });
        }
    };

    let width: usize = factors.iter().map(|f| f[0].len()).sum();
    let mut points = Vec::with_capacity(total);
    let mut digits = vec![0usize; factors.len()];
    for index in 0..total {
        let mut assignments = Vec::with_capacity(width);
        for (factor, &d) in factors.iter().zip(&digits) {
            assignments.extend(factor[d].iter().cloned());
        }
        points.push(Point { index, assignments });
        // Increment the mixed-radix counter, last factor fastest.
        for (digit, factor) in digits.iter_mut().zip(&factors).rev() {
            *digit += 1;
            if *digit < factor.len() {
                break;
            }
            *digit = 0;
        }
    }
    Ok(points)
}

/// Rejects empty and duplicated paths across all factors.
fn validate_paths(design: &Design) -> Result<(), DesignError> {
    let grid = design.grid.iter().map(|(p, _)| p);
    let zipped = design.zipped.iter().flatten().map(|(p, _)| p);
    let lhs = design
        .latin_hypercube
        .iter()
        .flat_map(|l| l.ranges.iter().map(|r| &r.0));
    let mut seen = std::collections::BTreeSet::new();
    for p in grid.chain(zipped).chain(lhs) {
        if p.is_empty() {
            return Err(DesignError::EmptyPath);
        }
        if !seen.insert(p.as_str()) {
            return Err(DesignError::DuplicatePath(p.clone()));
        }
    }
    Ok(())
}

/// Largest magnitude allowed for integer LHS bounds (every integer up to it is an
/// exact `f64`).
const MAX_EXACT_INT: f64 = 9_007_199_254_740_992.0; // 2^53

/// Generates the Latin hypercube rows (see [`Lhs`] for the exact procedure).
fn latin_hypercube(lhs: &Lhs) -> Result<Vec<Vec<(String, Value)>>, DesignError> {
    if lhs.samples == 0 {
        return Err(DesignError::LhsNoSamples);
    }
    if lhs.ranges.is_empty() {
        return Err(DesignError::LhsNoRanges);
    }
    if lhs.samples > MAX_RUNS {
        return Err(DesignError::TooManyPoints {
            requested: lhs.samples as u128,
            max: MAX_RUNS,
        });
    }
    for (path, lo, hi, integer) in &lhs.ranges {
        let (lo, hi) = (*lo, *hi);
        let bad = !lo.is_finite()
            || !hi.is_finite()
            || lo > hi
            || (*integer && (lo.ceil() > hi.floor() || lo < -MAX_EXACT_INT || hi > MAX_EXACT_INT));
        if bad {
            return Err(DesignError::LhsInvalidRange {
                path: path.clone(),
                lo,
                hi,
            });
        }
    }

    let n = lhs.samples;
    #[allow(clippy::cast_precision_loss)]
    let nf = n as f64;
    let mut rng = SplitMix64::new(lhs.seed);
    let mut rows: Vec<Vec<(String, Value)>> = (0..n)
        .map(|_| Vec::with_capacity(lhs.ranges.len()))
        .collect();
    let mut perm: Vec<usize> = Vec::with_capacity(n);
    for (path, lo, hi, integer) in &lhs.ranges {
        let (lo, hi) = (*lo, *hi);
        perm.clear();
        perm.extend(0..n);
        for i in (1..n).rev() {
            // `i + 1 <= n <= MAX_RUNS`, so both conversions are lossless.
            #[allow(clippy::cast_possible_truncation)]
            let j = rng.below((i + 1) as u64) as usize;
            perm.swap(i, j);
        }
        for (row, &stratum) in rows.iter_mut().zip(&perm) {
            let u = rng.next_f64();
            #[allow(clippy::cast_precision_loss)]
            let frac = (stratum as f64 + u) / nf;
            let value = if *integer {
                let (a, b) = (lo.ceil(), hi.floor());
                let k = frac.mul_add(b - a + 1.0, a).floor().clamp(a, b);
                // Bounds are integers within ±2^53, so the cast is exact.
                #[allow(clippy::cast_possible_truncation)]
                Value::Int(k as i64)
            } else {
                Value::Float(frac.mul_add(hi - lo, lo).clamp(lo, hi))
            };
            row.push((path.clone(), value));
        }
    }
    Ok(rows)
}

/// Number of runs of a sweep: `points × replications`.
///
/// Zero points or zero replications give `Ok(0)`.
///
/// # Errors
/// [`DesignError::TooManyRuns`] if the product overflows `usize` or exceeds
/// [`MAX_RUNS`].
pub const fn total_runs(points: usize, replications: usize) -> Result<usize, DesignError> {
    match points.checked_mul(replications) {
        Some(n) if n <= MAX_RUNS => Ok(n),
        _ => Err(DesignError::TooManyRuns {
            requested: points as u128 * replications as u128,
            max: MAX_RUNS,
        }),
    }
}

/// The golden-ratio increment of SplitMix64.
const GOLDEN_GAMMA: u64 = 0x9E37_79B9_7F4A_7C15;

/// SplitMix64's output mixing function (a bijection on `u64`).
const fn mix64(mut z: u64) -> u64 {
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// The seed of replication `replication` of a sweep with master seed `master`.
///
/// **Common random numbers (CRN):** the result depends only on the master seed and
/// the replication number — *not* on the design point. Replication `r` of every
/// point therefore runs with the same seed and, as long as the model draws its
/// workload from its own seeded streams, sees the same arrivals, sizes and
/// failures; differences between points then reflect the parameters rather than
/// sampling noise, which sharply reduces the variance of point-to-point
/// comparisons. (Replications remain independent of each other.)
///
/// Replication 0 returns `master` unchanged, so a single `run --seed N` reproduces
/// replication 0 of any sweep point with master seed `N`. For `replication ≥ 1` the
/// result is the `replication`-th output of a SplitMix64 generator seeded with
/// `master`, i.e. `mix64(master + replication · 0x9E3779B97F4A7C15)` (wrapping); the
/// values for `replication = 1, 2, …` are pairwise distinct, and for a fixed
/// replication distinct masters give distinct seeds.
#[must_use]
pub const fn derive_seed(master: u64, replication: u64) -> u64 {
    if replication == 0 {
        master
    } else {
        mix64(master.wrapping_add(replication.wrapping_mul(GOLDEN_GAMMA)))
    }
}

/// Minimal SplitMix64 generator (Steele, Lea & Flood 2014), used for Latin
/// hypercube sampling so that no RNG crate is needed and the stream is fixed
/// forever.
struct SplitMix64 {
    state: u64,
}

impl SplitMix64 {
    const fn new(seed: u64) -> Self {
        Self { state: seed }
    }

    const fn next_u64(&mut self) -> u64 {
        self.state = self.state.wrapping_add(GOLDEN_GAMMA);
        mix64(self.state)
    }

    /// Uniform in `[0, 1)` with 53 random bits.
    fn next_f64(&mut self) -> f64 {
        #[allow(clippy::cast_precision_loss)]
        let hi = (self.next_u64() >> 11) as f64;
        hi * (1.0 / 9_007_199_254_740_992.0)
    }

    /// Unbiased uniform integer in `0..n` (`n >= 1`), Lemire's method.
    fn below(&mut self, n: u64) -> u64 {
        debug_assert!(n > 0);
        let mut m = u128::from(self.next_u64()) * u128::from(n);
        #[allow(clippy::cast_possible_truncation)]
        let mut low = m as u64;
        if low < n {
            let threshold = n.wrapping_neg() % n;
            while low < threshold {
                m = u128::from(self.next_u64()) * u128::from(n);
                #[allow(clippy::cast_possible_truncation)]
                {
                    low = m as u64;
                }
            }
        }
        #[allow(clippy::cast_possible_truncation)]
        let r = (m >> 64) as u64;
        r
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeSet;

    fn ints(xs: &[i64]) -> Vec<Value> {
        xs.iter().map(|&x| Value::Int(x)).collect()
    }

    fn text(xs: &[&str]) -> Vec<Value> {
        xs.iter().map(|s| Value::Text((*s).to_owned())).collect()
    }

    fn render(p: &Point) -> String {
        p.assignments
            .iter()
            .map(|(k, v)| format!("{k}={v}"))
            .collect::<Vec<_>>()
            .join(",")
    }

    #[test]
    fn value_display() {
        assert_eq!(Value::Int(-3).to_string(), "-3");
        assert_eq!(Value::Float(0.1).to_string(), "0.1");
        assert_eq!(Value::Float(1.0).to_string(), "1");
        assert_eq!(Value::Float(2.5e-7).to_string(), "0.00000025");
        assert_eq!(Value::Text("lru cache".into()).to_string(), "lru cache");
    }

    #[test]
    fn empty_design_is_one_point() {
        let pts = enumerate(&Design::default()).unwrap();
        assert_eq!(
            pts,
            vec![Point {
                index: 0,
                assignments: vec![]
            }]
        );
    }

    #[test]
    fn grid_first_axis_slowest() {
        let d = Design {
            grid: vec![
                ("a".into(), ints(&[1, 2])),
                ("b".into(), text(&["x", "y", "z"])),
            ],
            ..Design::default()
        };
        let pts = enumerate(&d).unwrap();
        let got: Vec<String> = pts.iter().map(render).collect();
        assert_eq!(
            got,
            [
                "a=1,b=x", "a=1,b=y", "a=1,b=z", "a=2,b=x", "a=2,b=y", "a=2,b=z"
            ]
        );
        assert!(pts.iter().enumerate().all(|(i, p)| p.index == i));
        assert_eq!(pts[4].get("b"), Some(&Value::Text("y".into())));
        assert_eq!(pts[4].get("c"), None);
    }

    #[test]
    fn grid_times_zipped() {
        let d = Design {
            grid: vec![("g".into(), ints(&[0, 1]))],
            zipped: vec![vec![
                ("p".into(), ints(&[10, 20, 30])),
                (
                    "q".into(),
                    vec![Value::Float(0.5), Value::Float(1.5), Value::Float(2.5)],
                ),
            ]],
            latin_hypercube: None,
        };
        let got: Vec<String> = enumerate(&d).unwrap().iter().map(render).collect();
        assert_eq!(
            got,
            [
                "g=0,p=10,q=0.5",
                "g=0,p=20,q=1.5",
                "g=0,p=30,q=2.5",
                "g=1,p=10,q=0.5",
                "g=1,p=20,q=1.5",
                "g=1,p=30,q=2.5"
            ]
        );
    }

    #[test]
    fn design_errors() {
        let ragged = Design {
            zipped: vec![vec![("p".into(), ints(&[1, 2])), ("q".into(), ints(&[1]))]],
            ..Design::default()
        };
        assert!(matches!(
            enumerate(&ragged),
            Err(DesignError::ZipLengthMismatch {
                group: 0,
                expected: 2,
                found: 1,
                ..
            })
        ));
        let empty_axis = Design {
            grid: vec![("a".into(), vec![])],
            ..Design::default()
        };
        assert_eq!(
            enumerate(&empty_axis),
            Err(DesignError::EmptyAxis("a".into()))
        );
        let empty_group = Design {
            zipped: vec![vec![]],
            ..Design::default()
        };
        assert_eq!(enumerate(&empty_group), Err(DesignError::EmptyZipGroup(0)));
        let dup = Design {
            grid: vec![("a".into(), ints(&[1]))],
            zipped: vec![vec![("a".into(), ints(&[2]))]],
            ..Design::default()
        };
        assert_eq!(enumerate(&dup), Err(DesignError::DuplicatePath("a".into())));
        let empty_path = Design {
            grid: vec![(String::new(), ints(&[1]))],
            ..Design::default()
        };
        assert_eq!(enumerate(&empty_path), Err(DesignError::EmptyPath));

        let lhs = |samples, ranges| Design {
            latin_hypercube: Some(Lhs {
                samples,
                seed: 1,
                ranges,
            }),
            ..Design::default()
        };
        assert_eq!(
            enumerate(&lhs(0, vec![("x".into(), 0.0, 1.0, false)])),
            Err(DesignError::LhsNoSamples)
        );
        assert_eq!(enumerate(&lhs(3, vec![])), Err(DesignError::LhsNoRanges));
        for (lo, hi, int) in [(1.0, 0.0, false), (f64::NAN, 1.0, false), (0.2, 0.8, true)] {
            assert!(matches!(
                enumerate(&lhs(3, vec![("x".into(), lo, hi, int)])),
                Err(DesignError::LhsInvalidRange { .. })
            ));
        }
    }

    #[test]
    fn too_many_points() {
        let axis = |p: &str| (p.to_owned(), ints(&(0..1000).collect::<Vec<_>>()));
        let d = Design {
            grid: vec![axis("a"), axis("b"), axis("c")],
            ..Design::default()
        };
        assert_eq!(
            enumerate(&d),
            Err(DesignError::TooManyPoints {
                requested: 1_000_000_000,
                max: MAX_RUNS
            })
        );
    }

    #[test]
    fn total_runs_limits() {
        assert_eq!(total_runs(10, 30), Ok(300));
        assert_eq!(total_runs(0, 5), Ok(0));
        assert_eq!(total_runs(1000, 1000), Ok(MAX_RUNS));
        assert_eq!(
            total_runs(1000, 1001),
            Err(DesignError::TooManyRuns {
                requested: 1_001_000,
                max: MAX_RUNS
            })
        );
        assert_eq!(
            total_runs(usize::MAX, 2),
            Err(DesignError::TooManyRuns {
                requested: usize::MAX as u128 * 2,
                max: MAX_RUNS
            })
        );
    }

    #[test]
    fn lhs_one_sample_per_stratum_and_deterministic() {
        let n = 50;
        let lhs = Lhs {
            samples: n,
            seed: 42,
            ranges: vec![
                ("x".into(), 0.0, 1.0, false),
                ("y".into(), -10.0, 10.0, false),
                ("k".into(), 0.0, 49.0, true),
            ],
        };
        let d = Design {
            latin_hypercube: Some(lhs.clone()),
            ..Design::default()
        };
        let pts = enumerate(&d).unwrap();
        assert_eq!(pts.len(), n);
        for (dim, (path, lo, hi, _)) in lhs.ranges.iter().enumerate().take(2) {
            let mut strata = BTreeSet::new();
            for p in &pts {
                let (name, Value::Float(x)) = &p.assignments[dim] else {
                    panic!("not a float")
                };
                assert_eq!(name, path);
                assert!((*lo..=*hi).contains(x));
                #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
                let s = ((x - lo) / (hi - lo) * n as f64).floor() as usize;
                strata.insert(s);
            }
            assert_eq!(strata, (0..n).collect::<BTreeSet<_>>(), "dimension {path}");
        }
        // Integer dimension with exactly as many integers as samples: each appears once.
        let ks: BTreeSet<i64> = pts
            .iter()
            .map(|p| match p.get("k") {
                Some(Value::Int(k)) => *k,
                other => panic!("unexpected {other:?}"),
            })
            .collect();
        assert_eq!(ks, (0..=49).collect::<BTreeSet<i64>>());

        // Same seed → identical; different seed → different.
        assert_eq!(enumerate(&d).unwrap(), pts);
        let mut d2 = d.clone();
        d2.latin_hypercube.as_mut().unwrap().seed = 43;
        assert_ne!(enumerate(&d2).unwrap(), pts);
    }

    #[test]
    fn lhs_integer_values_are_balanced() {
        // 3 integers (-1, 0, 1) and 9 samples: each integer exactly 3 times.
        let d = Design {
            latin_hypercube: Some(Lhs {
                samples: 9,
                seed: 11,
                ranges: vec![("k".into(), -1.2, 1.7, true)],
            }),
            ..Design::default()
        };
        let mut counts = std::collections::BTreeMap::new();
        for p in enumerate(&d).unwrap() {
            let Some(Value::Int(k)) = p.get("k") else {
                panic!("not an int")
            };
            *counts.entry(*k).or_insert(0) += 1;
        }
        assert_eq!(
            counts.into_iter().collect::<Vec<_>>(),
            [(-1, 3), (0, 3), (1, 3)]
        );
    }

    #[test]
    fn lhs_combines_with_grid_last_fastest() {
        let d = Design {
            grid: vec![("mode".into(), text(&["a", "b"]))],
            zipped: vec![],
            latin_hypercube: Some(Lhs {
                samples: 3,
                seed: 7,
                ranges: vec![("x".into(), 0.0, 3.0, false)],
            }),
        };
        let pts = enumerate(&d).unwrap();
        assert_eq!(pts.len(), 6);
        for i in 0..3 {
            assert_eq!(pts[i].get("mode"), Some(&Value::Text("a".into())));
            assert_eq!(pts[i + 3].get("mode"), Some(&Value::Text("b".into())));
            assert_eq!(pts[i].get("x"), pts[i + 3].get("x"));
        }
    }

    #[test]
    fn derive_seed_crn() {
        for master in [0u64, 1, 42, u64::MAX] {
            assert_eq!(derive_seed(master, 0), master);
            let seeds: BTreeSet<u64> = (0..=1000).map(|r| derive_seed(master, r)).collect();
            assert_eq!(seeds.len(), 1001, "master {master}");
        }
        assert_ne!(derive_seed(1, 5), derive_seed(2, 5));
        // Equal to the r-th output of SplitMix64 seeded with the master.
        let mut rng = SplitMix64::new(99);
        for r in 1..=10 {
            assert_eq!(derive_seed(99, r), rng.next_u64());
        }
    }

    #[test]
    fn splitmix_reference_and_below() {
        // Reference outputs of SplitMix64 seeded with 0.
        let mut rng = SplitMix64::new(0);
        assert_eq!(rng.next_u64(), 0xE220_A839_7B1D_CDAF);
        assert_eq!(rng.next_u64(), 0x6E78_9E6A_A1B9_65F4);
        let mut rng = SplitMix64::new(5);
        for n in 1..200u64 {
            assert!(rng.below(n) < n);
            let f = rng.next_f64();
            assert!((0.0..1.0).contains(&f));
        }
    }

    #[test]
    fn design_ron_round_trip() {
        let d = Design {
            grid: vec![("a".into(), vec![Value::Int(1), Value::Float(0.25)])],
            zipped: vec![vec![("t".into(), text(&["x"]))]],
            latin_hypercube: Some(Lhs {
                samples: 4,
                seed: 3,
                ranges: vec![("y".into(), 0.0, 1.0, false)],
            }),
        };
        let s = ron::to_string(&d).unwrap();
        let back: Design = ron::from_str(&s).unwrap();
        assert_eq!(back, d);
        let partial: Design = ron::from_str(r#"(grid: [("n", [Int(3), Int(5)])])"#).unwrap();
        assert_eq!(enumerate(&partial).unwrap().len(), 2);
    }
}
