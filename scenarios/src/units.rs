//! Strict text newtypes for quantities in scenario files: durations, rates, byte sizes,
//! bandwidths and probabilities.
//!
//! Every type here parses from exactly one documented grammar, prints back to a canonical text
//! that parses to the same value, and fails with a message that names what was found and lists
//! the accepted forms with examples. The `Deserialize` impls go through a serde visitor and
//! report failures with [`serde::de::Error::custom`] / `invalid_type`, so the RON loader
//! attaches the line, column and field path automatically (see [`crate::load`]).
//!
//! | type            | examples                                              | stored as        |
//! |-----------------|-------------------------------------------------------|------------------|
//! | [`Duration`]    | `"250us"`, `"5ms"`, `"1.5s"`, `"2m"`                  | integer ns       |
//! | [`Rate`]        | `"1500/s"`, `"90/min"`, `"2.5k/s"`, `"3/h"`, `"1M/s"` | `f64` per second |
//! | [`ByteSize`]    | `"512B"`, `"64KiB"`, `"1.5MB"`, `4096`                | integer bytes    |
//! | [`Bandwidth`]   | `"1Gbps"`, `"100Mbps"`, `"10MB/s"`, `"1GiB/s"`        | integer bit/s    |
//! | [`Probability`] | `0.001`, `"0.1%"`, `"1/1000"`                         | `f64` in [0, 1]  |
//!
//! Numbers inside the text are plain decimals (`12`, `1.5`): no sign, no exponent, no `_`
//! separators, and a `.` must have digits on both sides.

use std::fmt;
use std::marker::PhantomData;
use std::str::FromStr;

use clustersim_engine::time::{ParseDurationError, SimDuration};
use serde::de::{self, Visitor};
use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// Why a quantity text (or number) was rejected.
///
/// `Display` renders ``invalid <what> `<found>`: <reason>; expected <grammar>``, so the message
/// alone tells the user what was wrong and what to write instead.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("invalid {what} `{found}`: {reason}; expected {grammar}")]
pub struct UnitError {
    /// The kind of quantity, e.g. `"rate"`.
    pub what: &'static str,
    /// The text (or number) that was rejected, as written.
    pub found: String,
    /// What was wrong with it, e.g. `"a rate must be > 0"`.
    pub reason: String,
    /// The accepted grammar with examples.
    pub grammar: &'static str,
}

// ---------------------------------------------------------------------------------------------
// Shared parsing and formatting helpers
// ---------------------------------------------------------------------------------------------

/// Splits `s` into its leading run of ASCII digits and `.`, and the rest.
fn split_number(s: &str) -> (&str, &str) {
    let end = s
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(s.len());
    s.split_at(end)
}

/// Checks that `number` is `digits` or `digits.digits` and returns (integer, fraction) parts.
fn decimal_parts(number: &str) -> Result<(&str, &str), &'static str> {
    if number.is_empty() {
        return Err("missing number");
    }
    let (int, frac) = number.split_once('.').unwrap_or((number, ""));
    let well_formed = !int.is_empty()
        && int.bytes().all(|b| b.is_ascii_digit())
        && frac.bytes().all(|b| b.is_ascii_digit())
        && (!number.contains('.') || !frac.is_empty());
    if well_formed {
        Ok((int, frac))
    } else {
        Err("malformed number")
    }
}

/// Parses a plain decimal (`12`, `1.5`) as `f64`.
fn parse_decimal_f64(number: &str) -> Result<f64, &'static str> {
    decimal_parts(number)?;
    let v: f64 = number.parse().map_err(|_| "malformed number")?;
    if v.is_finite() {
        Ok(v)
    } else {
        Err("number too large")
    }
}

/// `number * unit` in exact integer math. `fraction_reason` is reported when the result is
/// not a whole number.
fn scale_exact(
    number: &str,
    unit: u64,
    fraction_reason: &'static str,
) -> Result<u64, &'static str> {
    let (int, frac) = decimal_parts(number)?;
    let int: u64 = int.parse().map_err(|_| "number too large")?;
    let mut total = int.checked_mul(unit).ok_or("number too large")?;
    if !frac.is_empty() {
        if frac.len() > 18 {
            return Err("too many decimal places");
        }
        let frac_v: u128 = frac.parse().map_err(|_| "malformed number")?;
        let scale = 10u128.pow(frac.len() as u32);
        let scaled = frac_v * u128::from(unit);
        if !scaled.is_multiple_of(scale) {
            return Err(fraction_reason);
        }
        let add = u64::try_from(scaled / scale).map_err(|_| "number too large")?;
        total = total.checked_add(add).ok_or("number too large")?;
    }
    Ok(total)
}

/// `value / unit` as an exact decimal followed by `suffix`, or `None` when the quotient is
/// below one or has more than 12 decimal places.
fn format_exact(value: u64, unit: u64, suffix: &str) -> Option<String> {
    let int = value / unit;
    let rem = value % unit;
    if int == 0 {
        return None;
    }
    if rem == 0 {
        return Some(format!("{int}{suffix}"));
    }
    let (rem, unit) = (u128::from(rem), u128::from(unit));
    let mut scale = 1u128;
    for digits in 1..=12usize {
        scale *= 10;
        if (rem * scale).is_multiple_of(unit) {
            let frac = format!("{:0digits$}", rem * scale / unit);
            return Some(format!("{int}.{}{suffix}", frac.trim_end_matches('0')));
        }
    }
    None
}

/// The shortest of `candidates`; ties go to the earliest.
fn shortest(candidates: impl IntoIterator<Item = String>) -> Option<String> {
    let mut best: Option<String> = None;
    for c in candidates {
        if best.as_ref().is_none_or(|b| c.len() < b.len()) {
            best = Some(c);
        }
    }
    best
}

/// A number that appeared where a quantity was expected.
#[derive(Clone, Copy, Debug)]
enum Num {
    U(u64),
    I(i64),
    F(f64),
}

impl fmt::Display for Num {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Num::U(v) => write!(f, "{v}"),
            Num::I(v) => write!(f, "{v}"),
            Num::F(v) => write!(f, "{v:?}"),
        }
    }
}

/// How a quantity type reads itself from text and from bare numbers.
trait UnitText: Sized {
    /// Name of the quantity in messages.
    const WHAT: &'static str;
    /// Accepted grammar with examples, used in every message.
    const GRAMMAR: &'static str;

    /// Parses the text; the error already contains the found text and the grammar.
    fn parse_text(text: &str) -> Result<Self, String>;

    /// Accepts or rejects a bare number. By default quantities need a unit.
    fn from_number(n: Num) -> Result<Self, String> {
        Err(UnitError {
            what: Self::WHAT,
            found: n.to_string(),
            reason: format!(
                "a bare number is not a {}; write it as text with a unit",
                Self::WHAT
            ),
            grammar: Self::GRAMMAR,
        }
        .to_string())
    }
}

/// The serde visitor shared by every quantity type.
struct UnitVisitor<T>(PhantomData<T>);

impl<T: UnitText> Visitor<'_> for UnitVisitor<T> {
    type Value = T;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(T::GRAMMAR)
    }

    fn visit_str<E: de::Error>(self, v: &str) -> Result<T, E> {
        T::parse_text(v).map_err(E::custom)
    }

    fn visit_u64<E: de::Error>(self, v: u64) -> Result<T, E> {
        T::from_number(Num::U(v)).map_err(E::custom)
    }

    fn visit_i64<E: de::Error>(self, v: i64) -> Result<T, E> {
        T::from_number(Num::I(v)).map_err(E::custom)
    }

    fn visit_f64<E: de::Error>(self, v: f64) -> Result<T, E> {
        T::from_number(Num::F(v)).map_err(E::custom)
    }

    fn visit_u128<E: de::Error>(self, v: u128) -> Result<T, E> {
        match u64::try_from(v) {
            Ok(v) => self.visit_u64(v),
            Err(_) => Err(E::custom(too_large::<T>(v.to_string()))),
        }
    }

    fn visit_i128<E: de::Error>(self, v: i128) -> Result<T, E> {
        match i64::try_from(v) {
            Ok(v) => self.visit_i64(v),
            Err(_) => Err(E::custom(too_large::<T>(v.to_string()))),
        }
    }
}

fn too_large<T: UnitText>(found: String) -> String {
    UnitError {
        what: T::WHAT,
        found,
        reason: "number too large".into(),
        grammar: T::GRAMMAR,
    }
    .to_string()
}

fn deserialize_unit<'de, D: Deserializer<'de>, T: UnitText>(d: D) -> Result<T, D::Error> {
    // `deserialize_any` so that bare numbers reach the visitor and get a specific message.
    d.deserialize_any(UnitVisitor(PhantomData))
}

// ---------------------------------------------------------------------------------------------
// Duration
// ---------------------------------------------------------------------------------------------

const DURATION_GRAMMAR: &str = "a duration: a number followed by a unit, one of ns, us, ms, s, \
     m, h, d (for example \"250us\", \"5ms\", \"1.5s\", \"2m\"), or \"0\"";

/// A span of simulated time written as text.
///
/// Grammar: `<number><unit>` where the unit is one of `ns`, `us` (or `µs`), `ms`, `s`, `m` (or
/// `min`), `h`, `d`, or the text `"0"`. Examples: `"250us"`, `"5ms"`, `"1.5s"`, `"2m"`.
/// Parsing is exact in integer nanoseconds (see [`SimDuration`]'s `FromStr`); bare numbers are
/// rejected because they have no unit. Prints back as the largest exact unit (`"1.5s"`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Duration(pub SimDuration);

impl Duration {
    /// The wrapped engine duration.
    pub const fn get(self) -> SimDuration {
        self.0
    }
}

impl From<SimDuration> for Duration {
    fn from(d: SimDuration) -> Duration {
        Duration(d)
    }
}

impl From<Duration> for SimDuration {
    fn from(d: Duration) -> SimDuration {
        d.0
    }
}

impl fmt::Display for Duration {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(&self.0, f)
    }
}

impl FromStr for Duration {
    type Err = ParseDurationError;

    fn from_str(s: &str) -> Result<Duration, ParseDurationError> {
        s.parse().map(Duration)
    }
}

impl UnitText for Duration {
    const WHAT: &'static str = "duration";
    const GRAMMAR: &'static str = DURATION_GRAMMAR;

    fn parse_text(text: &str) -> Result<Self, String> {
        text.parse().map_err(|e: ParseDurationError| e.to_string())
    }
}

impl<'de> Deserialize<'de> for Duration {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        deserialize_unit(d)
    }
}

impl Serialize for Duration {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

// ---------------------------------------------------------------------------------------------
// Rate
// ---------------------------------------------------------------------------------------------

const RATE_GRAMMAR: &str = "a rate: a positive number, an optional multiplier k, M or G, then \
     `/` and a time unit s, min (or m) or h (for example \"1500/s\", \"90/min\", \"2.5k/s\", \
     \"3/h\", \"1M/s\")";

/// A positive event rate written as text, stored as events per second (`f64`).
///
/// Grammar: `<number>[k|K|M|G]/<unit>` with unit `s`, `min` (or `m`) or `h`; spaces around the
/// `/` are allowed. Examples: `"1500/s"`, `"90/min"` (1.5/s), `"2.5k/s"` (2500/s), `"3/h"`,
/// `"1M/s"`. The unit is required: a bare number such as `500` is rejected. Zero and negative
/// rates are rejected ("a rate must be > 0"). Prints back as the shortest of `/s`, `/min`, `/h`
/// that parses to exactly the same `f64`.
#[derive(Clone, Copy, Debug, PartialEq, PartialOrd)]
pub struct Rate(f64);

impl Rate {
    /// A rate of `events_per_second`, which must be finite and > 0.
    pub fn new(events_per_second: f64) -> Result<Rate, UnitError> {
        if events_per_second.is_finite() && events_per_second > 0.0 {
            Ok(Rate(events_per_second))
        } else {
            Err(UnitError {
                what: "rate",
                found: format!("{events_per_second}/s"),
                reason: "a rate must be > 0 and finite".into(),
                grammar: RATE_GRAMMAR,
            })
        }
    }

    /// Events per second.
    pub fn per_second(&self) -> f64 {
        self.0
    }

    /// The mean time between events, `1 / rate`, rounded to the nearest nanosecond (saturating
    /// at [`SimDuration::MAX`] for vanishingly small rates).
    pub fn mean_interval(&self) -> SimDuration {
        SimDuration::from_secs_f64(1.0 / self.0)
    }
}

impl FromStr for Rate {
    type Err = UnitError;

    fn from_str(text: &str) -> Result<Rate, UnitError> {
        let err = |reason: &str| UnitError {
            what: "rate",
            found: text.to_owned(),
            reason: reason.to_owned(),
            grammar: RATE_GRAMMAR,
        };
        let s = text.trim();
        if s.starts_with('-') {
            return Err(err("a rate must be > 0"));
        }
        let Some((amount, unit)) = s.split_once('/') else {
            return Err(err(if s.is_empty() {
                "empty text"
            } else {
                "missing `/` and time unit (a bare number is not accepted)"
            }));
        };
        let secs = match unit.trim() {
            "s" => 1.0,
            "min" | "m" => 60.0,
            "h" => 3600.0,
            "" => return Err(err("missing time unit after `/`")),
            other => return Err(err(&format!("unknown time unit `{other}`"))),
        };
        let (number, multiplier) = split_number(amount.trim());
        let mult = match multiplier {
            "" => 1.0,
            "k" | "K" => 1e3,
            "M" => 1e6,
            "G" => 1e9,
            other => return Err(err(&format!("unknown multiplier `{other}`"))),
        };
        let n = parse_decimal_f64(number).map_err(err)?;
        let per_second = n * mult / secs;
        if !per_second.is_finite() {
            return Err(err("number too large"));
        }
        if per_second <= 0.0 {
            return Err(err("a rate must be > 0"));
        }
        Ok(Rate(per_second))
    }
}

impl fmt::Display for Rate {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let candidates = [("s", 1.0), ("min", 60.0), ("h", 3600.0)]
            .into_iter()
            .map(|(unit, secs)| format!("{}/{unit}", self.0 * secs))
            .filter(|text| text.parse::<Rate>().is_ok_and(|r| r.0 == self.0));
        match shortest(candidates) {
            Some(text) => f.write_str(&text),
            None => write!(f, "{}/s", self.0),
        }
    }
}

impl UnitText for Rate {
    const WHAT: &'static str = "rate";
    const GRAMMAR: &'static str = RATE_GRAMMAR;

    fn parse_text(text: &str) -> Result<Self, String> {
        text.parse().map_err(|e: UnitError| e.to_string())
    }

    fn from_number(n: Num) -> Result<Self, String> {
        Err(UnitError {
            what: Self::WHAT,
            found: n.to_string(),
            reason: format!("a rate needs a time unit; write it as text, e.g. \"{n}/s\""),
            grammar: Self::GRAMMAR,
        }
        .to_string())
    }
}

impl<'de> Deserialize<'de> for Rate {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        deserialize_unit(d)
    }
}

impl Serialize for Rate {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

// ---------------------------------------------------------------------------------------------
// ByteSize
// ---------------------------------------------------------------------------------------------

const BYTE_SIZE_GRAMMAR: &str = "a byte size: a whole number of bytes (4096), or a number \
     followed by a unit B, KB, MB, GB, TB (powers of 1000) or KiB, MiB, GiB, TiB (powers of \
     1024) (for example \"512B\", \"64KiB\", \"1MiB\", \"1.5MB\")";

const BYTE_UNITS: [(&str, u64); 10] = [
    ("B", 1),
    ("KiB", 1 << 10),
    ("MiB", 1 << 20),
    ("GiB", 1 << 30),
    ("TiB", 1 << 40),
    ("KB", 1_000),
    ("MB", 1_000_000),
    ("GB", 1_000_000_000),
    ("TB", 1_000_000_000_000),
    ("kB", 1_000),
];

/// A size in whole bytes.
///
/// Grammar: a bare non-negative integer (bytes, as a RON number or as text), or
/// `<number><unit>` (a space between them is allowed) with unit `B`, `KB` (or `kB`), `MB`,
/// `GB`, `TB` (powers of 1000) or `KiB`, `MiB`, `GiB`, `TiB` (powers of 1024). Examples:
/// `"512B"`, `"64KiB"`, `"1MiB"`, `"2GiB"`, `"1KB"` (1000), `"1.5MB"` (1,500,000), `4096`.
/// Fractions must come to a whole number of bytes (`"0.5KiB"` is fine, `"1.5B"` is not).
/// Prints back as the shortest exact form.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct ByteSize(pub u64);

impl ByteSize {
    /// A size of `bytes` bytes.
    pub const fn new(bytes: u64) -> ByteSize {
        ByteSize(bytes)
    }

    /// The size in bytes.
    pub const fn bytes(self) -> u64 {
        self.0
    }
}

impl FromStr for ByteSize {
    type Err = UnitError;

    fn from_str(text: &str) -> Result<ByteSize, UnitError> {
        let err = |reason: &str| UnitError {
            what: "byte size",
            found: text.to_owned(),
            reason: reason.to_owned(),
            grammar: BYTE_SIZE_GRAMMAR,
        };
        let s = text.trim();
        if s.starts_with('-') {
            return Err(err("a byte size cannot be negative"));
        }
        let (number, unit) = split_number(s);
        let unit = unit.trim_start();
        let scale = if unit.is_empty() {
            if number.contains('.') {
                return Err(err("a bare number of bytes must be whole"));
            }
            1
        } else {
            match BYTE_UNITS.iter().find(|(u, _)| *u == unit) {
                Some(&(_, scale)) => scale,
                None => return Err(err(&format!("unknown unit `{unit}`"))),
            }
        };
        scale_exact(number, scale, "not a whole number of bytes")
            .map(ByteSize)
            .map_err(err)
    }
}

impl fmt::Display for ByteSize {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.0 == 0 {
            return f.write_str("0B");
        }
        let candidates = BYTE_UNITS[..9]
            .iter()
            .filter_map(|&(u, scale)| format_exact(self.0, scale, u));
        match shortest(candidates) {
            Some(text) => f.write_str(&text),
            None => write!(f, "{}B", self.0),
        }
    }
}

impl UnitText for ByteSize {
    const WHAT: &'static str = "byte size";
    const GRAMMAR: &'static str = BYTE_SIZE_GRAMMAR;

    fn parse_text(text: &str) -> Result<Self, String> {
        text.parse().map_err(|e: UnitError| e.to_string())
    }

    fn from_number(n: Num) -> Result<Self, String> {
        let reason = match n {
            Num::U(v) => return Ok(ByteSize(v)),
            Num::I(v) => match u64::try_from(v) {
                Ok(v) => return Ok(ByteSize(v)),
                Err(_) => "a byte size cannot be negative",
            },
            Num::F(_) => "a bare number of bytes must be a whole number (no decimal point)",
        };
        Err(UnitError {
            what: Self::WHAT,
            found: n.to_string(),
            reason: reason.into(),
            grammar: Self::GRAMMAR,
        }
        .to_string())
    }
}

impl<'de> Deserialize<'de> for ByteSize {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        deserialize_unit(d)
    }
}

impl Serialize for ByteSize {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

// ---------------------------------------------------------------------------------------------
// Bandwidth
// ---------------------------------------------------------------------------------------------

const BANDWIDTH_GRAMMAR: &str = "a bandwidth: a positive number followed by a bit rate unit \
     bps, Kbps, Mbps, Gbps, Tbps (powers of 1000) or a byte rate unit B/s, KB/s, MB/s, GB/s, \
     KiB/s, MiB/s, GiB/s (for example \"1Gbps\", \"100Mbps\", \"800bps\", \"10MB/s\", \
     \"1GiB/s\")";

const BANDWIDTH_UNITS: [(&str, u64); 15] = [
    ("bps", 1),
    ("Kbps", 1_000),
    ("Mbps", 1_000_000),
    ("Gbps", 1_000_000_000),
    ("Tbps", 1_000_000_000_000),
    ("B/s", 8),
    ("KB/s", 8_000),
    ("MB/s", 8_000_000),
    ("GB/s", 8_000_000_000),
    ("KiB/s", 8 << 10),
    ("MiB/s", 8 << 20),
    ("GiB/s", 8 << 30),
    // Accepted spellings that never print.
    ("kbps", 1_000),
    ("kB/s", 8_000),
    ("bit/s", 1),
];

/// A link bandwidth in whole bits per second (> 0).
///
/// Grammar: `<number><unit>` (a space between them is allowed) with a bit-rate unit `bps`
/// (or `bit/s`), `Kbps` (or `kbps`), `Mbps`, `Gbps`, `Tbps` (powers of 1000) or a byte-rate
/// unit `B/s`, `KB/s` (or `kB/s`), `MB/s`, `GB/s` (powers of 1000, ×8 bits) or `KiB/s`,
/// `MiB/s`, `GiB/s` (powers of 1024, ×8 bits). Examples: `"1Gbps"`, `"100Mbps"`,
/// `"10Kbps"`, `"800bps"`, `"10MB/s"` (80,000,000 bit/s), `"1GiB/s"`. Must be > 0 and a whole
/// number of bits per second. Prints back as the shortest exact form (bit units win ties).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Bandwidth(u64);

impl Bandwidth {
    /// A bandwidth of `bits_per_second`, which must be > 0.
    pub fn new(bits_per_second: u64) -> Result<Bandwidth, UnitError> {
        if bits_per_second > 0 {
            Ok(Bandwidth(bits_per_second))
        } else {
            Err(UnitError {
                what: "bandwidth",
                found: "0bps".into(),
                reason: "a bandwidth must be > 0".into(),
                grammar: BANDWIDTH_GRAMMAR,
            })
        }
    }

    /// Bits per second.
    pub const fn bits_per_second(self) -> u64 {
        self.0
    }

    /// Bytes per second, for reports and analytic formulas.
    pub fn bytes_per_second_f64(self) -> f64 {
        self.0 as f64 / 8.0
    }

    /// Time to put `size` on the wire at this bandwidth, rounded up to a whole nanosecond
    /// (saturating at [`SimDuration::MAX`]). Integer math only.
    pub fn transmit_time(self, size: ByteSize) -> SimDuration {
        let bits = u128::from(size.0) * 8;
        let ns = (bits * 1_000_000_000).div_ceil(u128::from(self.0));
        SimDuration::from_nanos(u64::try_from(ns).unwrap_or(u64::MAX))
    }
}

impl FromStr for Bandwidth {
    type Err = UnitError;

    fn from_str(text: &str) -> Result<Bandwidth, UnitError> {
        let err = |reason: &str| UnitError {
            what: "bandwidth",
            found: text.to_owned(),
            reason: reason.to_owned(),
            grammar: BANDWIDTH_GRAMMAR,
        };
        let s = text.trim();
        if s.starts_with('-') {
            return Err(err("a bandwidth must be > 0"));
        }
        let (number, unit) = split_number(s);
        let unit = unit.trim_start();
        let scale = match BANDWIDTH_UNITS.iter().find(|(u, _)| *u == unit) {
            Some(&(_, scale)) => scale,
            None if unit.is_empty() && !number.is_empty() => {
                return Err(err("missing unit (a bare number is not accepted)"));
            }
            None if unit.is_empty() => return Err(err("empty text")),
            None => return Err(err(&format!("unknown unit `{unit}`"))),
        };
        let bits =
            scale_exact(number, scale, "not a whole number of bits per second").map_err(err)?;
        if bits == 0 {
            return Err(err("a bandwidth must be > 0"));
        }
        Ok(Bandwidth(bits))
    }
}

impl fmt::Display for Bandwidth {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let candidates = BANDWIDTH_UNITS[..12]
            .iter()
            .filter_map(|&(u, scale)| format_exact(self.0, scale, u));
        match shortest(candidates) {
            Some(text) => f.write_str(&text),
            None => write!(f, "{}bps", self.0),
        }
    }
}

impl UnitText for Bandwidth {
    const WHAT: &'static str = "bandwidth";
    const GRAMMAR: &'static str = BANDWIDTH_GRAMMAR;

    fn parse_text(text: &str) -> Result<Self, String> {
        text.parse().map_err(|e: UnitError| e.to_string())
    }
}

impl<'de> Deserialize<'de> for Bandwidth {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        deserialize_unit(d)
    }
}

impl Serialize for Bandwidth {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

// ---------------------------------------------------------------------------------------------
// Probability
// ---------------------------------------------------------------------------------------------

const PROBABILITY_GRAMMAR: &str = "a probability: a number from 0 to 1 (0.001), a percentage \
     (\"0.1%\") or a fraction (\"1/1000\")";

/// A probability in `[0, 1]`.
///
/// Grammar: a RON number (`0.001`, `0`, `1`), or text holding a decimal (`"0.001"`), a
/// percentage (`"0.1%"`, at most `"100%"`) or a fraction `"<a>/<b>"` with `b > 0`
/// (`"1/1000"`). Values outside `[0, 1]`, negative numbers and NaN are rejected with a message
/// naming the range. Serializes as a plain number, which prints back exactly.
#[derive(Clone, Copy, Debug, Default, PartialEq, PartialOrd)]
pub struct Probability(f64);

impl Probability {
    /// Probability 0: never.
    pub const ZERO: Probability = Probability(0.0);
    /// Probability 1: always.
    pub const ONE: Probability = Probability(1.0);

    /// A probability of `p`, which must lie in `[0, 1]`.
    pub fn new(p: f64) -> Result<Probability, UnitError> {
        Probability::checked(p, &p.to_string())
    }

    fn checked(p: f64, found: &str) -> Result<Probability, UnitError> {
        if (0.0..=1.0).contains(&p) {
            Ok(Probability(p))
        } else {
            Err(UnitError {
                what: "probability",
                found: found.to_owned(),
                reason: "out of range: a probability must be between 0 and 1 inclusive (0% to \
                         100%)"
                    .into(),
                grammar: PROBABILITY_GRAMMAR,
            })
        }
    }

    /// The probability as a number in `[0, 1]`.
    pub fn value(self) -> f64 {
        self.0
    }

    /// The probability as a number in `[0, 1]` (same as [`Probability::value`]).
    pub fn as_f64(self) -> f64 {
        self.0
    }

    /// The probability in parts per million, rounded to nearest (`"1/1000"` → 1000).
    pub fn to_ppm(self) -> u32 {
        (self.0 * 1e6).round() as u32
    }
}

impl FromStr for Probability {
    type Err = UnitError;

    fn from_str(text: &str) -> Result<Probability, UnitError> {
        let err = |reason: &str| UnitError {
            what: "probability",
            found: text.to_owned(),
            reason: reason.to_owned(),
            grammar: PROBABILITY_GRAMMAR,
        };
        let s = text.trim();
        if s.starts_with('-') {
            return Err(err("a probability cannot be negative"));
        }
        let p = if let Some(percent) = s.strip_suffix('%') {
            parse_decimal_f64(percent.trim_end()).map_err(err)? / 100.0
        } else if let Some((a, b)) = s.split_once('/') {
            let a = parse_decimal_f64(a.trim()).map_err(err)?;
            let b = parse_decimal_f64(b.trim()).map_err(err)?;
            if b == 0.0 {
                return Err(err("the denominator of a fraction must be > 0"));
            }
            a / b
        } else {
            parse_decimal_f64(s).map_err(err)?
        };
        Probability::checked(p, text)
    }
}

impl fmt::Display for Probability {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0)
    }
}

impl UnitText for Probability {
    const WHAT: &'static str = "probability";
    const GRAMMAR: &'static str = PROBABILITY_GRAMMAR;

    fn parse_text(text: &str) -> Result<Self, String> {
        text.parse().map_err(|e: UnitError| e.to_string())
    }

    fn from_number(n: Num) -> Result<Self, String> {
        let p = match n {
            Num::U(v) => v as f64,
            Num::I(v) => v as f64,
            Num::F(v) => v,
        };
        Probability::checked(p, &n.to_string()).map_err(|e| e.to_string())
    }
}

impl<'de> Deserialize<'de> for Probability {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        deserialize_unit(d)
    }
}

impl Serialize for Probability {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_f64(self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ron_de<T: serde::de::DeserializeOwned>(text: &str) -> Result<T, String> {
        ron::from_str(text).map_err(|e| e.to_string())
    }

    fn round_trip<T>(value: T)
    where
        T: Serialize
            + serde::de::DeserializeOwned
            + PartialEq
            + fmt::Debug
            + fmt::Display
            + FromStr,
        <T as FromStr>::Err: fmt::Debug,
    {
        let ron_text = ron::to_string(&value).unwrap();
        let back: T = ron::from_str(&ron_text).unwrap();
        assert_eq!(back, value, "serialized as {ron_text}");
        let text = value.to_string();
        assert_eq!(text.parse::<T>().unwrap(), value, "displayed as {text}");
    }

    #[test]
    fn duration_accepts_and_round_trips() {
        for (text, ns) in [
            ("250us", 250_000),
            ("5ms", 5_000_000),
            ("1.5s", 1_500_000_000),
            ("2m", 120_000_000_000),
            ("0", 0),
        ] {
            let d: Duration = text.parse().unwrap();
            assert_eq!(d.get().as_nanos(), ns, "{text}");
            let from_ron: Duration = ron_de(&format!("{text:?}")).unwrap();
            assert_eq!(from_ron, d);
            assert_eq!(d.to_string(), text);
            round_trip(d);
        }
        assert_eq!(
            ron::to_string(&Duration(SimDuration::from_millis(1500))).unwrap(),
            "\"1.5s\""
        );
    }

    #[test]
    fn duration_rejects_with_grammar() {
        let e = ron_de::<Duration>("\"5 parsecs\"").unwrap_err();
        assert!(
            e.contains("invalid duration `5 parsecs`: unknown unit"),
            "{e}"
        );
        assert!(e.contains("\"250us\""), "{e}");
        let e = ron_de::<Duration>("5").unwrap_err();
        assert!(
            e.contains("invalid duration `5`: a bare number is not a duration"),
            "{e}"
        );
        assert!(e.contains("\"5ms\""), "{e}");
        let e = ron_de::<Duration>("true").unwrap_err();
        assert!(e.contains("a duration: a number followed by a unit"), "{e}");
    }

    #[test]
    fn rate_accepts_exact_values() {
        for (text, per_s) in [
            ("1500/s", 1500.0),
            ("90/min", 1.5),
            ("2.5k/s", 2500.0),
            ("3/h", 3.0 / 3600.0),
            ("1M/s", 1e6),
            ("2G/s", 2e9),
            ("12 / min", 0.2),
            ("0.5/s", 0.5),
            ("30/m", 0.5),
        ] {
            let r: Rate = text.parse().unwrap();
            assert_eq!(r.per_second(), per_s, "{text}");
            let from_ron: Rate = ron_de(&format!("{text:?}")).unwrap();
            assert_eq!(from_ron, r);
            round_trip(r);
        }
        assert_eq!("1500/s".parse::<Rate>().unwrap().to_string(), "1500/s");
        assert_eq!("3/h".parse::<Rate>().unwrap().to_string(), "3/h");
        assert_eq!("90/min".parse::<Rate>().unwrap().to_string(), "1.5/s");
        assert_eq!("2.5k/s".parse::<Rate>().unwrap().to_string(), "2500/s");
        assert_eq!(
            "500/s".parse::<Rate>().unwrap().mean_interval(),
            SimDuration::from_millis(2)
        );
        assert_eq!(
            Rate::new(4.0).unwrap().mean_interval(),
            SimDuration::from_millis(250)
        );
    }

    #[test]
    fn rate_rejects_with_reasons() {
        for (text, reason) in [
            ("0/s", "a rate must be > 0"),
            ("0.0k/s", "a rate must be > 0"),
            ("-5/s", "a rate must be > 0"),
            (
                "500",
                "missing `/` and time unit (a bare number is not accepted)",
            ),
            ("500/fortnight", "unknown time unit `fortnight`"),
            ("5x/s", "unknown multiplier `x`"),
            ("/s", "missing number"),
            ("1.2.3/s", "malformed number"),
            ("5./s", "malformed number"),
            ("5/", "missing time unit after `/`"),
            ("", "empty text"),
        ] {
            let e = text.parse::<Rate>().unwrap_err();
            assert_eq!(e.reason, reason, "{text}");
            let msg = e.to_string();
            assert!(
                msg.starts_with(&format!("invalid rate `{text}`: {reason}; expected")),
                "{msg}"
            );
            assert!(msg.contains("\"1500/s\""), "{msg}");
        }
        let e = ron_de::<Rate>("500").unwrap_err();
        assert!(
            e.contains("a rate needs a time unit; write it as text, e.g. \"500/s\""),
            "{e}"
        );
        assert!(Rate::new(0.0).is_err());
        assert!(Rate::new(f64::NAN).is_err());
        assert!(Rate::new(f64::INFINITY).is_err());
        assert!(Rate::new(-1.0).unwrap_err().to_string().contains("> 0"));
    }

    #[test]
    fn byte_size_accepts_exact_values() {
        for (text, bytes) in [
            ("512B", 512),
            ("64KiB", 65_536),
            ("1MiB", 1_048_576),
            ("2GiB", 2_147_483_648),
            ("1KB", 1_000),
            ("1kB", 1_000),
            ("1MB", 1_000_000),
            ("1.5MB", 1_500_000),
            ("0.5KiB", 512),
            ("4096", 4096),
            ("0", 0),
            ("3 TiB", 3 << 40),
        ] {
            let b: ByteSize = text.parse().unwrap();
            assert_eq!(b.bytes(), bytes, "{text}");
            let from_ron: ByteSize = ron_de(&format!("{text:?}")).unwrap();
            assert_eq!(from_ron, b);
            round_trip(b);
        }
        assert_eq!(ron_de::<ByteSize>("4096").unwrap(), ByteSize(4096));
        for (bytes, text) in [
            (0, "0B"),
            (512, "512B"),
            (1024, "1KiB"),
            (1000, "1KB"),
            (1536, "1536B"),
            (1536 << 10, "1.5MiB"),
            (1_500_000, "1.5MB"),
            (1 << 30, "1GiB"),
            (1001, "1001B"),
        ] {
            assert_eq!(ByteSize(bytes).to_string(), text);
        }
        round_trip(ByteSize(u64::MAX));
    }

    #[test]
    fn byte_size_rejects_with_reasons() {
        for (text, reason) in [
            ("1.5B", "not a whole number of bytes"),
            ("12 parsecs", "unknown unit `parsecs`"),
            ("1.5", "a bare number of bytes must be whole"),
            ("-1KiB", "a byte size cannot be negative"),
            ("KiB", "missing number"),
            ("99999999999TiB", "number too large"),
        ] {
            let e = text.parse::<ByteSize>().unwrap_err();
            assert_eq!(e.reason, reason, "{text}");
            assert!(e.to_string().contains("\"64KiB\""));
        }
        let e = ron_de::<ByteSize>("-3").unwrap_err();
        assert!(
            e.contains("invalid byte size `-3`: a byte size cannot be negative"),
            "{e}"
        );
        let e = ron_de::<ByteSize>("1.5").unwrap_err();
        assert!(
            e.contains("invalid byte size `1.5`: a bare number of bytes must be a whole"),
            "{e}"
        );
    }

    #[test]
    fn bandwidth_accepts_exact_values() {
        for (text, bps) in [
            ("1Gbps", 1_000_000_000),
            ("100Mbps", 100_000_000),
            ("10Kbps", 10_000),
            ("10kbps", 10_000),
            ("800bps", 800),
            ("10MB/s", 80_000_000),
            ("1GiB/s", 8 << 30),
            ("1.5Gbps", 1_500_000_000),
            ("1B/s", 8),
        ] {
            let b: Bandwidth = text.parse().unwrap();
            assert_eq!(b.bits_per_second(), bps, "{text}");
            let from_ron: Bandwidth = ron_de(&format!("{text:?}")).unwrap();
            assert_eq!(from_ron, b);
            round_trip(b);
        }
        for (bps, text) in [
            (1_000_000_000, "1Gbps"),
            (800, "800bps"),
            (80_000_000, "80Mbps"),
            (8 << 30, "1GiB/s"),
            (1_500_000_000, "1.5Gbps"),
        ] {
            assert_eq!(Bandwidth::new(bps).unwrap().to_string(), text);
        }
        let gbps = Bandwidth::new(1_000_000_000).unwrap();
        assert_eq!(
            gbps.transmit_time(ByteSize(125)),
            SimDuration::from_micros(1)
        );
        assert_eq!(gbps.transmit_time(ByteSize(1)), SimDuration::from_nanos(8));
        assert_eq!(
            Bandwidth::new(3).unwrap().transmit_time(ByteSize(1)),
            SimDuration::from_nanos(2_666_666_667)
        );
        round_trip(Bandwidth::new(u64::MAX).unwrap());
        round_trip(Bandwidth::new(1).unwrap());
    }

    #[test]
    fn bandwidth_rejects_with_reasons() {
        for (text, reason) in [
            ("0Gbps", "a bandwidth must be > 0"),
            ("-1Gbps", "a bandwidth must be > 0"),
            ("100", "missing unit (a bare number is not accepted)"),
            ("1.5bps", "not a whole number of bits per second"),
            ("10 furlongs", "unknown unit `furlongs`"),
            ("", "empty text"),
        ] {
            let e = text.parse::<Bandwidth>().unwrap_err();
            assert_eq!(e.reason, reason, "{text}");
            assert!(e.to_string().contains("\"100Mbps\""));
        }
        assert!(Bandwidth::new(0).is_err());
        let e = ron_de::<Bandwidth>("1000").unwrap_err();
        assert!(
            e.contains("invalid bandwidth `1000`: a bare number is not a bandwidth"),
            "{e}"
        );
    }

    #[test]
    fn probability_accepts_exact_values() {
        for (ron_text, p) in [
            ("0.001", 0.001),
            ("0", 0.0),
            ("1", 1.0),
            ("1.0", 1.0),
            ("\"0.1%\"", 0.001),
            ("\"100%\"", 1.0),
            ("\"1/1000\"", 0.001),
            ("\"0.25\"", 0.25),
            ("\"3 / 4\"", 0.75),
        ] {
            let v: Probability = ron_de(ron_text).unwrap();
            assert_eq!(v.value(), p, "{ron_text}");
            assert_eq!(v.as_f64(), p);
            round_trip(v);
        }
        assert_eq!("1/1000".parse::<Probability>().unwrap().to_ppm(), 1000);
        assert_eq!(Probability::ONE.to_ppm(), 1_000_000);
        assert_eq!(
            ron::to_string(&Probability::new(0.001).unwrap()).unwrap(),
            "0.001"
        );
    }

    #[test]
    fn probability_rejects_out_of_range() {
        for (ron_text, reason) in [
            ("1.5", "out of range"),
            ("2", "out of range"),
            ("-1", "out of range"),
            ("\"150%\"", "out of range"),
            ("\"3/2\"", "out of range"),
            ("\"-0.1\"", "a probability cannot be negative"),
            ("\"1/0\"", "the denominator of a fraction must be > 0"),
            ("\"lots\"", "malformed number"),
            ("\"0.1 %%\"", "malformed number"),
        ] {
            let e = ron_de::<Probability>(ron_text).unwrap_err();
            assert!(e.contains(reason), "{ron_text}: {e}");
            assert!(e.contains("\"1/1000\""), "{e}");
        }
        let e = ron_de::<Probability>("1.5").unwrap_err();
        assert!(e.contains("must be between 0 and 1 inclusive"), "{e}");
        assert!(Probability::new(f64::NAN).is_err());
        assert!(Probability::new(1.0000001).is_err());
    }
}
