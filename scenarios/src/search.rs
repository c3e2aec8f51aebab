//! The schema of the SLO knee finder: a `search: (...)` section in a scenario file, or
//! `run --find-min/--find-max PATH --slo TEXT` on the command line.
//!
//! The search itself (bisection over simulation runs) lives in `clustersim_analysis::search`;
//! this module only parses and checks what the user wrote. SLO texts are strict:
//! `<metric><op><number>` with `op` one of `<=`, `<`, `>=`, `>` (spaces allowed), e.g.
//! `"latency_p99_ms<=50"`. Whether `metric` exists is checked by the analysis crate, which
//! owns the metric names.

use std::fmt;
use std::str::FromStr;

use serde::de::{self, Visitor};
use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::Diagnostic;

/// A comparison in an SLO.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Cmp {
    /// `<=`
    Le,
    /// `<`
    Lt,
    /// `>=`
    Ge,
    /// `>`
    Gt,
}

impl Cmp {
    /// The operator as written.
    pub fn symbol(self) -> &'static str {
        match self {
            Cmp::Le => "<=",
            Cmp::Lt => "<",
            Cmp::Ge => ">=",
            Cmp::Gt => ">",
        }
    }

    /// Whether `value <op> threshold` holds (false for NaN).
    pub fn holds(self, value: f64, threshold: f64) -> bool {
        match self {
            Cmp::Le => value <= threshold,
            Cmp::Lt => value < threshold,
            Cmp::Ge => value >= threshold,
            Cmp::Gt => value > threshold,
        }
    }
}

const SLO_GRAMMAR: &str = "an SLO: <metric><op><number> with op one of <=, <, >=, >, for \
     example \"latency_p99_ms<=50\", \"error_rate<0.001\", \"throughput_rps>=900\"";

/// A service-level objective on one run metric, e.g. `latency_p99_ms <= 50`.
#[derive(Clone, Debug, PartialEq)]
pub struct Slo {
    /// A run metric column of `summary.csv`, e.g. `latency_p99_ms`.
    pub metric: String,
    /// The comparison.
    pub cmp: Cmp,
    /// The bound, in the metric's unit.
    pub threshold: f64,
}

impl Slo {
    /// Whether `value` meets the objective (a NaN never does).
    pub fn met_by(&self, value: f64) -> bool {
        self.cmp.holds(value, self.threshold)
    }
}

impl FromStr for Slo {
    type Err = String;

    fn from_str(text: &str) -> Result<Slo, String> {
        let err = |reason: &str| format!("invalid SLO `{text}`: {reason}; expected {SLO_GRAMMAR}");
        let at = text
            .find(['<', '>', '='])
            .ok_or_else(|| err("no comparison operator"))?;
        let metric = text[..at].trim();
        let rest = &text[at..];
        let (cmp, number) = if let Some(n) = rest.strip_prefix("<=") {
            (Cmp::Le, n)
        } else if let Some(n) = rest.strip_prefix(">=") {
            (Cmp::Ge, n)
        } else if let Some(n) = rest.strip_prefix('<') {
            (Cmp::Lt, n)
        } else if let Some(n) = rest.strip_prefix('>') {
            (Cmp::Gt, n)
        } else {
            return Err(err("`=` alone is not a comparison (an SLO is a bound)"));
        };
        if metric.is_empty() {
            return Err(err("no metric before the operator"));
        }
        if !metric
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_')
        {
            return Err(err(&format!("`{metric}` is not a metric name")));
        }
        let number = number.trim();
        let threshold: f64 = number
            .parse()
            .map_err(|_| err(&format!("`{number}` is not a number")))?;
        if !threshold.is_finite() {
            return Err(err("the bound must be finite"));
        }
        Ok(Slo {
            metric: metric.to_owned(),
            cmp,
            threshold,
        })
    }
}

impl fmt::Display for Slo {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}{}{}", self.metric, self.cmp.symbol(), self.threshold)
    }
}

struct SloVisitor;

impl Visitor<'_> for SloVisitor {
    type Value = Slo;
    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(SLO_GRAMMAR)
    }
    fn visit_str<E: de::Error>(self, v: &str) -> Result<Slo, E> {
        v.parse().map_err(E::custom)
    }
}

impl<'de> Deserialize<'de> for Slo {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_str(SloVisitor)
    }
}

impl Serialize for Slo {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

/// What the search looks for.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize, Serialize)]
pub enum Goal {
    /// The smallest value meeting every SLO (e.g. the fewest servers); assumes larger values
    /// only help.
    Min,
    /// The largest value meeting every SLO (e.g. the highest load); assumes larger values only
    /// hurt.
    Max,
}

/// A knee search: which integer parameter to vary, towards which goal, under which SLOs.
#[derive(Clone, Debug, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Search {
    /// Path of an integer field (e.g. `"components.app.kind.instances"`) or of a rate
    /// (`"components.clients.kind.rate"`, searched in whole requests per second), as for
    /// `--set`.
    pub param: String,
    /// `Min` or `Max`.
    pub goal: Goal,
    /// Objectives that must all hold, e.g. `["latency_p99_ms<=50"]`.
    pub slo: Vec<Slo>,
    /// Smallest value tried. Default 1.
    #[serde(default = "one")]
    pub low: u64,
    /// Largest value tried. Default: found by doubling from `low` (at most 40 doublings).
    #[serde(default)]
    pub high: Option<u64>,
    /// Replications per probed value (common random numbers across values). Default 5.
    #[serde(default = "five")]
    pub replications: u32,
}

fn one() -> u64 {
    1
}
fn five() -> u32 {
    5
}

/// Every semantic problem of a search section, at paths under `at`.
pub fn check(s: &Search, at: &str) -> Vec<Diagnostic> {
    let mut d = Vec::new();
    if s.param.trim().is_empty() {
        d.push(
            Diagnostic::new(format!("{at}.param"), "no parameter to search")
                .with_hint("e.g. \"components.app.kind.instances\""),
        );
    }
    if s.slo.is_empty() {
        d.push(
            Diagnostic::new(format!("{at}.slo"), "no SLO to meet")
                .with_hint("e.g. `slo: [\"latency_p99_ms<=50\"]`"),
        );
    }
    if s.low == 0 && s.param.ends_with("rate") {
        d.push(Diagnostic::new(
            format!("{at}.low"),
            "a rate search must start at >= 1",
        ));
    }
    if let Some(h) = s.high
        && h < s.low
    {
        d.push(Diagnostic::new(
            format!("{at}.high"),
            format!("high ({h}) is below low ({})", s.low),
        ));
    }
    if s.replications == 0 {
        d.push(Diagnostic::new(
            format!("{at}.replications"),
            "replications must be at least 1",
        ));
    }
    d
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slos_parse_and_print_back() {
        let s: Slo = "latency_p99_ms<=50".parse().unwrap();
        assert_eq!(
            s,
            Slo {
                metric: "latency_p99_ms".into(),
                cmp: Cmp::Le,
                threshold: 50.0
            }
        );
        assert_eq!(s.to_string().parse::<Slo>().unwrap(), s);
        let s: Slo = " error_rate < 0.001 ".parse().unwrap();
        assert_eq!((s.cmp, s.threshold), (Cmp::Lt, 0.001));
        assert!(s.met_by(0.0005) && !s.met_by(0.001) && !s.met_by(f64::NAN));
        for (bad, why) in [
            ("latency_p99_ms", "no comparison operator"),
            ("latency_p99_ms=50", "`=` alone"),
            ("<=50", "no metric"),
            ("p99 ms<=50", "not a metric name"),
            ("latency_p99_ms<=fast", "not a number"),
            ("latency_p99_ms<=inf", "finite"),
        ] {
            let e = bad.parse::<Slo>().unwrap_err();
            assert!(
                e.contains(why) && e.contains("expected an SLO"),
                "{bad}: {e}"
            );
        }
    }
}
