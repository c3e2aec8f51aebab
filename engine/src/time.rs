//! Simulated time: integer nanoseconds, never floats, never the wall clock.
//!
//! [`SimTime`] is an instant (nanoseconds since the start of the run) and [`SimDuration`] a span.
//! Both are `u64` newtypes, so comparisons are exact and event order can never depend on float
//! rounding. Durations parse from and print as human units (`"250us"`, `"5ms"`, `"1.5s"`, `"2m"`).

use std::fmt;
use std::ops::{Add, AddAssign, Mul, Sub};
use std::str::FromStr;

/// An instant of simulated time, in nanoseconds since the start of the run.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct SimTime(u64);

/// A span of simulated time, in nanoseconds.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct SimDuration(u64);

const NS_PER_US: u64 = 1_000;
const NS_PER_MS: u64 = 1_000_000;
const NS_PER_S: u64 = 1_000_000_000;
const NS_PER_MIN: u64 = 60 * NS_PER_S;
const NS_PER_H: u64 = 60 * NS_PER_MIN;
const NS_PER_DAY: u64 = 24 * NS_PER_H;

impl SimTime {
    /// The start of every run.
    pub const ZERO: SimTime = SimTime(0);
    /// The largest representable instant (about 584 years); used as "never".
    pub const MAX: SimTime = SimTime(u64::MAX);

    /// An instant `nanos` nanoseconds after the start.
    pub const fn from_nanos(nanos: u64) -> SimTime {
        SimTime(nanos)
    }

    /// Nanoseconds since the start.
    pub const fn as_nanos(self) -> u64 {
        self.0
    }

    /// Time since the start as a duration.
    pub const fn since_start(self) -> SimDuration {
        SimDuration(self.0)
    }

    /// Seconds since the start, for reports only (never for decisions).
    pub fn as_secs_f64(self) -> f64 {
        self.0 as f64 / NS_PER_S as f64
    }

    /// `self - earlier`, or zero when `earlier` is later than `self`.
    pub const fn saturating_since(self, earlier: SimTime) -> SimDuration {
        SimDuration(self.0.saturating_sub(earlier.0))
    }

    /// `self + d`, saturating at [`SimTime::MAX`].
    pub const fn saturating_add(self, d: SimDuration) -> SimTime {
        SimTime(self.0.saturating_add(d.0))
    }
}

impl SimDuration {
    /// No time at all.
    pub const ZERO: SimDuration = SimDuration(0);
    /// The longest representable span; used as "forever".
    pub const MAX: SimDuration = SimDuration(u64::MAX);

    /// A span of `nanos` nanoseconds.
    pub const fn from_nanos(nanos: u64) -> SimDuration {
        SimDuration(nanos)
    }
    /// A span of `micros` microseconds (saturating).
    pub const fn from_micros(micros: u64) -> SimDuration {
        SimDuration(micros.saturating_mul(NS_PER_US))
    }
    /// A span of `millis` milliseconds (saturating).
    pub const fn from_millis(millis: u64) -> SimDuration {
        SimDuration(millis.saturating_mul(NS_PER_MS))
    }
    /// A span of `secs` seconds (saturating).
    pub const fn from_secs(secs: u64) -> SimDuration {
        SimDuration(secs.saturating_mul(NS_PER_S))
    }
    /// A span from fractional seconds, rounded to the nearest nanosecond; negative and NaN
    /// inputs give zero and huge ones saturate. For converting analytic or sampled values.
    pub fn from_secs_f64(secs: f64) -> SimDuration {
        SimDuration::from_nanos_f64(secs * NS_PER_S as f64)
    }
    /// A span from fractional nanoseconds, rounded to nearest; negative and NaN give zero.
    pub fn from_nanos_f64(nanos: f64) -> SimDuration {
        if nanos.is_nan() || nanos <= 0.0 {
            SimDuration::ZERO
        } else if nanos >= u64::MAX as f64 {
            SimDuration::MAX
        } else {
            SimDuration(nanos.round() as u64)
        }
    }

    /// Nanoseconds in this span.
    pub const fn as_nanos(self) -> u64 {
        self.0
    }
    /// Seconds, for reports and analytic formulas only.
    pub fn as_secs_f64(self) -> f64 {
        self.0 as f64 / NS_PER_S as f64
    }
    /// Milliseconds, for reports only.
    pub fn as_millis_f64(self) -> f64 {
        self.0 as f64 / NS_PER_MS as f64
    }
    /// Whether this span is zero.
    pub const fn is_zero(self) -> bool {
        self.0 == 0
    }
    /// `self + other`, saturating.
    pub const fn saturating_add(self, other: SimDuration) -> SimDuration {
        SimDuration(self.0.saturating_add(other.0))
    }
    /// `self - other`, or zero.
    pub const fn saturating_sub(self, other: SimDuration) -> SimDuration {
        SimDuration(self.0.saturating_sub(other.0))
    }
    /// `self * factor / 1000` in integer math (for per-mille multipliers such as slowdowns).
    pub const fn mul_permille(self, permille: u32) -> SimDuration {
        let v = (self.0 as u128 * permille as u128) / 1000;
        SimDuration(if v > u64::MAX as u128 {
            u64::MAX
        } else {
            v as u64
        })
    }
}

impl Add<SimDuration> for SimTime {
    type Output = SimTime;
    fn add(self, d: SimDuration) -> SimTime {
        self.saturating_add(d)
    }
}
impl AddAssign<SimDuration> for SimTime {
    fn add_assign(&mut self, d: SimDuration) {
        *self = *self + d;
    }
}
impl Sub<SimTime> for SimTime {
    type Output = SimDuration;
    /// Saturating difference: an earlier minus a later instant is zero.
    fn sub(self, earlier: SimTime) -> SimDuration {
        self.saturating_since(earlier)
    }
}
impl Sub<SimDuration> for SimTime {
    type Output = SimTime;
    /// Saturating: never before time zero.
    fn sub(self, d: SimDuration) -> SimTime {
        SimTime(self.0.saturating_sub(d.0))
    }
}
impl Add for SimDuration {
    type Output = SimDuration;
    fn add(self, o: SimDuration) -> SimDuration {
        self.saturating_add(o)
    }
}
impl AddAssign for SimDuration {
    fn add_assign(&mut self, o: SimDuration) {
        *self = *self + o;
    }
}
impl Sub for SimDuration {
    type Output = SimDuration;
    fn sub(self, o: SimDuration) -> SimDuration {
        self.saturating_sub(o)
    }
}
impl Mul<u64> for SimDuration {
    type Output = SimDuration;
    fn mul(self, k: u64) -> SimDuration {
        SimDuration(self.0.saturating_mul(k))
    }
}

/// Why a duration text did not parse. Its `Display` states the accepted grammar.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error(
    "invalid duration `{text}`: {reason}; expected a number followed by a unit, one of \
     ns, us, ms, s, m, h, d (for example \"250us\", \"5ms\", \"1.5s\", \"2m\"), or \"0\""
)]
pub struct ParseDurationError {
    /// The text that was rejected.
    pub text: String,
    /// What was wrong with it.
    pub reason: &'static str,
}

impl FromStr for SimDuration {
    type Err = ParseDurationError;

    /// Parses `<number><unit>` exactly, in integer math: `"1.5s"` is 1,500,000,000 ns.
    /// Fractions finer than a nanosecond are rejected rather than rounded.
    fn from_str(text: &str) -> Result<SimDuration, ParseDurationError> {
        let err = |reason| ParseDurationError {
            text: text.to_owned(),
            reason,
        };
        let s = text.trim();
        if s == "0" {
            return Ok(SimDuration::ZERO);
        }
        if s.starts_with('-') {
            return Err(err("a duration cannot be negative"));
        }
        let split = s
            .find(|c: char| !(c.is_ascii_digit() || c == '.'))
            .ok_or_else(|| err("missing unit"))?;
        let (number, unit) = s.split_at(split);
        let unit_ns = match unit.trim() {
            "ns" => 1,
            "us" | "µs" => NS_PER_US,
            "ms" => NS_PER_MS,
            "s" => NS_PER_S,
            "m" | "min" => NS_PER_MIN,
            "h" => NS_PER_H,
            "d" => NS_PER_DAY,
            _ => return Err(err("unknown unit")),
        };
        if number.is_empty() {
            return Err(err("missing number"));
        }
        let (int_part, frac_part) = match number.split_once('.') {
            Some((i, f)) => (i, f),
            None => (number, ""),
        };
        if int_part.is_empty() && frac_part.is_empty() || frac_part.contains('.') {
            return Err(err("malformed number"));
        }
        let int: u64 = if int_part.is_empty() {
            0
        } else {
            int_part.parse().map_err(|_| err("number too large"))?
        };
        let mut total = int
            .checked_mul(unit_ns)
            .ok_or_else(|| err("duration too large"))?;
        if !frac_part.is_empty() {
            if frac_part.len() > 18 {
                return Err(err("too many decimal places"));
            }
            let frac: u128 = frac_part.parse().map_err(|_| err("malformed number"))?;
            let scale = 10u128.pow(frac_part.len() as u32);
            let scaled = frac * unit_ns as u128;
            if !scaled.is_multiple_of(scale) {
                return Err(err("finer than one nanosecond"));
            }
            let add = u64::try_from(scaled / scale).map_err(|_| err("duration too large"))?;
            total = total
                .checked_add(add)
                .ok_or_else(|| err("duration too large"))?;
        }
        Ok(SimDuration(total))
    }
}

impl fmt::Display for SimDuration {
    /// Prints the largest unit that represents the value exactly, e.g. `1500ms` → `"1.5s"`;
    /// the output parses back to the same value.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let ns = self.0;
        if ns == 0 {
            return f.write_str("0");
        }
        for (unit_ns, unit) in [
            (NS_PER_DAY, "d"),
            (NS_PER_H, "h"),
            (NS_PER_MIN, "m"),
            (NS_PER_S, "s"),
            (NS_PER_MS, "ms"),
            (NS_PER_US, "us"),
        ] {
            if ns >= unit_ns {
                let int = ns / unit_ns;
                let rem = ns % unit_ns;
                if rem == 0 {
                    return write!(f, "{int}{unit}");
                }
                // Sub-minute units use decimal fractions, which are exact in nanoseconds.
                if unit_ns <= NS_PER_S {
                    let digits = unit_ns.ilog10() as usize;
                    let frac = format!("{rem:0digits$}");
                    return write!(f, "{int}.{}{unit}", frac.trim_end_matches('0'));
                }
            }
        }
        write!(f, "{ns}ns")
    }
}

impl fmt::Display for SimTime {
    /// Prints the time since the start in human units, prefixed with `t=`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "t={}", SimDuration(self.0))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(s: &str) -> SimDuration {
        s.parse().unwrap()
    }

    #[test]
    fn parses_human_units_exactly() {
        assert_eq!(d("250us").as_nanos(), 250_000);
        assert_eq!(d("5ms").as_nanos(), 5_000_000);
        assert_eq!(d("1.5s").as_nanos(), 1_500_000_000);
        assert_eq!(d("2m").as_nanos(), 120_000_000_000);
        assert_eq!(d("1h").as_nanos(), 3_600_000_000_000);
        assert_eq!(d("0").as_nanos(), 0);
        assert_eq!(d("0.001ms").as_nanos(), 1_000);
        assert_eq!(d("7ns").as_nanos(), 7);
    }

    #[test]
    fn rejects_bad_text_with_reason() {
        for (text, reason) in [
            ("5", "missing unit"),
            ("ms", "missing number"),
            ("5 parsecs", "unknown unit"),
            ("1.5ns", "finer than one nanosecond"),
            ("-5ms", "a duration cannot be negative"),
            ("99999999999999999999s", "number too large"),
        ] {
            let e = text.parse::<SimDuration>().unwrap_err();
            assert_eq!(e.reason, reason, "{text}");
            assert!(e.to_string().contains("\"250us\""));
        }
    }

    #[test]
    fn display_round_trips() {
        for ns in [
            0,
            1,
            999,
            1_000,
            1_500,
            250_000,
            5_000_000,
            1_500_000_000,
            120_000_000_000,
            90_000_000_000,
            86_400_000_000_000,
            123_456_789,
        ] {
            let dur = SimDuration::from_nanos(ns);
            let text = dur.to_string();
            assert_eq!(d(&text), dur, "{text}");
        }
        assert_eq!(SimDuration::from_millis(1500).to_string(), "1.5s");
        assert_eq!(SimDuration::from_micros(250).to_string(), "250us");
    }

    #[test]
    fn arithmetic_saturates() {
        assert_eq!(SimTime::MAX + SimDuration::from_secs(1), SimTime::MAX);
        assert_eq!(
            SimTime::from_nanos(5) - SimTime::from_nanos(9),
            SimDuration::ZERO
        );
        assert_eq!(
            SimDuration::from_millis(10).mul_permille(1500),
            SimDuration::from_millis(15)
        );
    }
}
