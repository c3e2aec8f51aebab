//! The schema of back-of-the-envelope capacity estimates: an `estimate: (...)` section in a
//! scenario file, or a standalone `Estimate(...)` file (see [`load_estimate`]).
//!
//! The file holds round-number *assumptions* only (users, actions per user per day, sizes,
//! peak factor, per-server capacities); the arithmetic lives in
//! `clustersim_analysis::estimate`. Like the rest of the schema every struct rejects unknown
//! fields, quantities are strict text (`"300M"` users, `"280B"`, `"64GiB"`, `"0.5ms"`), and
//! [`check`] collects every semantic problem with its field path before anything is computed.

use std::fmt;
use std::path::Path;

use serde::de::{self, Visitor};
use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::raw::{Keys, Scenario};
use crate::units::{ByteSize, Duration};
use crate::{Diagnostic, ScenarioError, load};

/// A round count of things (users, keys) written as a number or as text with a decimal
/// suffix: `300000000`, `"300M"`, `"1.5K"`, `"2B"` (billion; `"2G"` is the same).
///
/// Suffixes: `K` (10³), `M` (10⁶), `B` or `G` (10⁹), `T` (10¹²). Stored as a whole number;
/// prints back with the largest exact suffix (`"300M"`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord)]
pub struct Count(pub u64);

const COUNT_GRAMMAR: &str = "a count: a whole number (300000000) or a number with a suffix \
     K (thousand), M (million), B or G (billion), T (trillion), e.g. \"300M\", \"1.5K\", \"2B\"";

const COUNT_SUFFIXES: [(&str, u64); 5] = [
    ("T", 1_000_000_000_000),
    ("B", 1_000_000_000),
    ("M", 1_000_000),
    ("K", 1_000),
    ("G", 1_000_000_000),
];

impl Count {
    /// The count as a float (for the estimate arithmetic).
    pub fn as_f64(self) -> f64 {
        self.0 as f64
    }
}

impl std::str::FromStr for Count {
    type Err = String;

    fn from_str(text: &str) -> Result<Count, String> {
        let err =
            |reason: &str| format!("invalid count `{text}`: {reason}; expected {COUNT_GRAMMAR}");
        let s = text.trim();
        let end = s
            .find(|c: char| !(c.is_ascii_digit() || c == '.'))
            .unwrap_or(s.len());
        let (number, suffix) = s.split_at(end);
        let suffix = suffix.trim();
        if number.is_empty() || number.starts_with('.') || number.ends_with('.') {
            return Err(err("missing or malformed number"));
        }
        if number.matches('.').count() > 1 {
            return Err(err("malformed number"));
        }
        let scale = if suffix.is_empty() {
            1
        } else {
            match COUNT_SUFFIXES
                .iter()
                .find(|(u, _)| u.eq_ignore_ascii_case(suffix))
            {
                Some(&(_, scale)) => scale,
                None => return Err(err(&format!("unknown suffix `{suffix}`"))),
            }
        };
        let (int, frac) = number.split_once('.').unwrap_or((number, ""));
        let int: u64 = int.parse().map_err(|_| err("number too large"))?;
        let mut value = int
            .checked_mul(scale)
            .ok_or_else(|| err("number too large"))?;
        let mut unit = scale;
        for d in frac.bytes() {
            unit /= 10;
            if unit == 0 {
                return Err(err("not a whole number"));
            }
            value = value
                .checked_add(u64::from(d - b'0') * unit)
                .ok_or_else(|| err("number too large"))?;
        }
        if frac.bytes().any(|d| d != b'0') && scale == 1 {
            return Err(err("not a whole number"));
        }
        Ok(Count(value))
    }
}

impl fmt::Display for Count {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (suffix, scale) in &COUNT_SUFFIXES[..4] {
            if self.0 >= *scale && self.0.is_multiple_of(*scale) {
                return write!(f, "{}{suffix}", self.0 / scale);
            }
        }
        write!(f, "{}", self.0)
    }
}

struct CountVisitor;

impl Visitor<'_> for CountVisitor {
    type Value = Count;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(COUNT_GRAMMAR)
    }
    fn visit_str<E: de::Error>(self, v: &str) -> Result<Count, E> {
        v.parse().map_err(E::custom)
    }
    fn visit_u64<E: de::Error>(self, v: u64) -> Result<Count, E> {
        Ok(Count(v))
    }
    fn visit_i64<E: de::Error>(self, v: i64) -> Result<Count, E> {
        u64::try_from(v)
            .map(Count)
            .map_err(|_| E::custom(format!("invalid count `{v}`: a count cannot be negative")))
    }
    fn visit_f64<E: de::Error>(self, v: f64) -> Result<Count, E> {
        Err(E::custom(format!(
            "invalid count `{v:?}`: a bare number must be whole; expected {COUNT_GRAMMAR}"
        )))
    }
}

impl<'de> Deserialize<'de> for Count {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_any(CountVisitor)
    }
}

impl Serialize for Count {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

/// Whether an action reads or writes.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize, Serialize)]
pub enum ActionOp {
    /// Reads data (egress; served from cache or database).
    Read,
    /// Writes data (ingress; stored for the retention period).
    Write,
}

/// One kind of user action, e.g. "post a tweet" or "read the timeline".
#[derive(Clone, Debug, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Action {
    /// Name, e.g. `"post_tweet"` (unique; used in row names of `estimate.csv`).
    pub name: String,
    /// `Read` or `Write`.
    pub op: ActionOp,
    /// Actions per daily active user per day, e.g. `2.0`.
    pub per_user_per_day: f64,
    /// Bytes of the object (metadata, text) read or written by one action, e.g. `"300B"`.
    pub size: ByteSize,
    /// Fraction of actions that also carry a media object. Default 0.
    #[serde(default)]
    pub media_fraction: f64,
    /// Size of one media object (photo, video, attachment). Default `"0B"`.
    #[serde(default)]
    pub media_size: ByteSize,
}

/// The stateless application tier.
#[derive(Clone, Debug, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct AppTier {
    /// Requests per second one server completes when fully busy, e.g. `1000.0`.
    pub throughput_rps: f64,
    /// Planned peak utilisation (headroom), in (0, 1]. Default 0.7.
    #[serde(default = "seventy_percent")]
    pub target_utilization: f64,
    /// Concurrent workers per server (threads, event-loop slots) in the simulation; each
    /// request holds one for `workers / throughput_rps` on average. Default 8.
    #[serde(default = "eight")]
    pub workers: u32,
}

/// The cache tier (memcached/Redis-like), sized by the 80/20 rule.
#[derive(Clone, Debug, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct CacheTier {
    /// Fraction of a day's read volume that is hot and kept in RAM. Default 0.2 (80/20 rule).
    #[serde(default = "twenty_percent")]
    pub hot_fraction: f64,
    /// Assumed fraction of reads served by the cache, in [0, 1). Default 0.8.
    #[serde(default = "eighty_percent")]
    pub hit_ratio: f64,
    /// RAM of one cache node. Default `"64GiB"`.
    #[serde(default = "sixty_four_gib")]
    pub node_memory: ByteSize,
    /// Fraction of a node's RAM usable for data (the rest: OS, overhead, fragmentation).
    /// Default 0.75.
    #[serde(default = "seventy_five_percent")]
    pub usable_memory_fraction: f64,
    /// Reads per second one cache node serves. Default 100000.
    #[serde(default = "hundred_thousand")]
    pub node_throughput_rps: f64,
}

/// The database tier, sharded and replicated.
#[derive(Clone, Debug, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct DatabaseTier {
    /// Data one shard (one replica) holds, e.g. `"4TB"`.
    pub shard_storage: ByteSize,
    /// Requests per second one shard's primary completes when fully busy, e.g. `5000.0`.
    pub shard_throughput_rps: f64,
    /// Planned peak utilisation of a shard, in (0, 1]. Default 0.7.
    #[serde(default = "seventy_percent")]
    pub target_utilization: f64,
    /// Concurrent workers per shard in the simulation. Default 8.
    #[serde(default = "eight")]
    pub workers: u32,
    /// Whether media objects are stored in the database (otherwise in an object store, sized
    /// separately in the report). Default `false`.
    #[serde(default)]
    pub store_media: bool,
}

/// How `--simulate` builds and runs the cross-check topology.
#[derive(Clone, Debug, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct EstimateSimulation {
    /// Run the cross-check whenever the estimate is computed (as `--simulate`). Default
    /// `false`.
    #[serde(default)]
    pub enabled: bool,
    /// Master seed. Default 1.
    #[serde(default = "one_u64")]
    pub seed: u64,
    /// Simulated time per run. Default `"20s"`.
    #[serde(default = "twenty_seconds")]
    pub duration: Duration,
    /// Warm-up excluded from statistics. Default `"2s"`.
    #[serde(default = "two_seconds")]
    pub warmup: Duration,
    /// Replications. Default 3.
    #[serde(default = "three_u32")]
    pub replications: u32,
    /// Largest number of app servers simulated: a bigger fleet is simulated as one slice
    /// ("cell") of this many servers with the same share of traffic, cache nodes and shards
    /// (each at least 1), so per-server load is preserved. Default 8.
    #[serde(default = "eight")]
    pub max_app_servers: u32,
    /// Key popularity of the simulated requests (the real keyspace is far too large to
    /// simulate; the cache holds `hot_fraction` of these keys). Default
    /// `Zipf(keys: 100000, exponent: 0.99)`.
    #[serde(default = "default_keys")]
    pub keys: Keys,
    /// Round trip between two machines in one data centre. Default `"0.5ms"` (the reference
    /// table's value).
    #[serde(default = "half_ms")]
    pub rtt: Duration,
}

impl Default for EstimateSimulation {
    fn default() -> Self {
        EstimateSimulation {
            enabled: false,
            seed: 1,
            duration: twenty_seconds(),
            warmup: two_seconds(),
            replications: 3,
            max_app_servers: 8,
            keys: default_keys(),
            rtt: half_ms(),
        }
    }
}

/// Back-of-the-envelope assumptions (see the module docs and `docs/reports.md`).
#[derive(Clone, Debug, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Estimate {
    /// Short identifier; the default output folder is `runs/<name>/`.
    pub name: String,
    /// What is estimated. Default: empty.
    #[serde(default)]
    pub description: String,
    /// Daily active users. Default: `monthly_active_users × daily_active_fraction`.
    #[serde(default)]
    pub daily_active_users: Option<Count>,
    /// Monthly active users (used when `daily_active_users` is absent). Default: none.
    #[serde(default)]
    pub monthly_active_users: Option<Count>,
    /// DAU ÷ MAU. Default 0.5.
    #[serde(default = "half")]
    pub daily_active_fraction: f64,
    /// What users do each day, by type.
    pub actions: Vec<Action>,
    /// Reads per write. When given, every `Write` action gets a derived read action of the
    /// same objects at `ratio ×` its rate, and `Read` actions are not allowed. Default: none
    /// (reads are listed as actions).
    #[serde(default)]
    pub read_write_ratio: Option<f64>,
    /// Peak-hour traffic ÷ average traffic, ≥ 1. Default 2.
    #[serde(default = "two")]
    pub peak_factor: f64,
    /// How long written data is kept. Default 5.
    #[serde(default = "five")]
    pub retention_years: f64,
    /// Copies of every stored byte. Default 3.
    #[serde(default = "three_u32")]
    pub replication_factor: u32,
    /// Application servers.
    pub app: AppTier,
    /// Cache tier. Default: none (every read goes to the database).
    #[serde(default)]
    pub cache: Option<CacheTier>,
    /// Database tier.
    pub database: DatabaseTier,
    /// The simulation cross-check. Default: see [`EstimateSimulation`].
    #[serde(default)]
    pub simulation: EstimateSimulation,
}

fn seventy_percent() -> f64 {
    0.7
}
fn twenty_percent() -> f64 {
    0.2
}
fn eighty_percent() -> f64 {
    0.8
}
fn seventy_five_percent() -> f64 {
    0.75
}
fn hundred_thousand() -> f64 {
    100_000.0
}
fn sixty_four_gib() -> ByteSize {
    ByteSize(64 << 30)
}
fn eight() -> u32 {
    8
}
fn one_u64() -> u64 {
    1
}
fn three_u32() -> u32 {
    3
}
fn half() -> f64 {
    0.5
}
fn two() -> f64 {
    2.0
}
fn five() -> f64 {
    5.0
}
fn twenty_seconds() -> Duration {
    Duration(clustersim_engine::SimDuration::from_secs(20))
}
fn two_seconds() -> Duration {
    Duration(clustersim_engine::SimDuration::from_secs(2))
}
fn half_ms() -> Duration {
    Duration(clustersim_engine::SimDuration::from_micros(500))
}
fn default_keys() -> Keys {
    Keys::Zipf {
        keys: 100_000,
        exponent: 0.99,
    }
}

/// Checks `value` lies in the range described by `allowed`; pushes a diagnostic otherwise.
fn range(
    diags: &mut Vec<Diagnostic>,
    path: String,
    value: f64,
    ok: bool,
    allowed: &str,
    hint: &str,
) {
    if !(value.is_finite() && ok) {
        let d = Diagnostic::new(path, format!("{value} is out of range: must be {allowed}"));
        diags.push(if hint.is_empty() {
            d
        } else {
            d.with_hint(hint)
        });
    }
}

/// Every semantic problem of an estimate, each at its field path under `at` (`""` for a
/// standalone file, `"estimate"` for a scenario section).
pub fn check(e: &Estimate, at: &str) -> Vec<Diagnostic> {
    let p = |field: &str| {
        if at.is_empty() {
            field.to_owned()
        } else {
            format!("{at}.{field}")
        }
    };
    let mut d = Vec::new();
    match (e.daily_active_users, e.monthly_active_users) {
        (None, None) => d.push(
            Diagnostic::new(p("daily_active_users"), "no user count")
                .with_hint("give `daily_active_users: \"100M\"` or `monthly_active_users`"),
        ),
        (Some(Count(0)), _) => d.push(Diagnostic::new(
            p("daily_active_users"),
            "daily_active_users must be > 0",
        )),
        (None, Some(Count(0))) => d.push(Diagnostic::new(
            p("monthly_active_users"),
            "monthly_active_users must be > 0",
        )),
        _ => {}
    }
    let f = e.daily_active_fraction;
    range(
        &mut d,
        p("daily_active_fraction"),
        f,
        f > 0.0 && f <= 1.0,
        "in (0, 1]",
        "DAU ÷ MAU, e.g. 0.5",
    );
    if e.actions.is_empty() {
        d.push(
            Diagnostic::new(p("actions"), "no actions")
                .with_hint("list what users do, e.g. `(name: \"post\", op: Write, per_user_per_day: 2, size: \"300B\")`"),
        );
    }
    let mut names = std::collections::BTreeSet::new();
    for (i, a) in e.actions.iter().enumerate() {
        let ap = |f: &str| p(&format!("actions[{i}].{f}"));
        if a.name.trim().is_empty() {
            d.push(Diagnostic::new(ap("name"), "an action needs a name"));
        } else if !names.insert(a.name.as_str()) {
            d.push(Diagnostic::new(
                ap("name"),
                format!("duplicate action name `{}`", a.name),
            ));
        }
        let r = a.per_user_per_day;
        range(&mut d, ap("per_user_per_day"), r, r >= 0.0, ">= 0", "");
        let m = a.media_fraction;
        range(
            &mut d,
            ap("media_fraction"),
            m,
            (0.0..=1.0).contains(&m),
            "in [0, 1]",
            "the fraction of actions carrying a media object",
        );
        if m > 0.0 && a.media_size.0 == 0 {
            d.push(
                Diagnostic::new(ap("media_size"), "media_fraction > 0 but media_size is 0")
                    .with_hint("give the size of one media object, e.g. `\"200KB\"`"),
            );
        }
        if e.read_write_ratio.is_some() && a.op == ActionOp::Read {
            d.push(
                Diagnostic::new(
                    ap("op"),
                    "a Read action together with `read_write_ratio`",
                )
                .with_hint("either list reads as actions or derive them from `read_write_ratio`, not both"),
            );
        }
    }
    if !e.actions.is_empty() && e.actions.iter().all(|a| a.per_user_per_day <= 0.0) {
        d.push(Diagnostic::new(
            p("actions"),
            "every action has per_user_per_day = 0: there is no traffic to estimate",
        ));
    }
    if let Some(r) = e.read_write_ratio {
        range(
            &mut d,
            p("read_write_ratio"),
            r,
            r > 0.0,
            "> 0",
            "reads per write, e.g. 100",
        );
        if !e.actions.iter().any(|a| a.op == ActionOp::Write) {
            d.push(
                Diagnostic::new(
                    p("read_write_ratio"),
                    "read_write_ratio needs at least one Write action",
                )
                .with_hint("reads are derived from the writes"),
            );
        }
    }
    let pf = e.peak_factor;
    range(
        &mut d,
        p("peak_factor"),
        pf,
        pf >= 1.0,
        ">= 1",
        "peak ÷ average traffic, e.g. 2",
    );
    let ry = e.retention_years;
    range(&mut d, p("retention_years"), ry, ry >= 0.0, ">= 0", "");
    if e.replication_factor == 0 {
        d.push(Diagnostic::new(
            p("replication_factor"),
            "replication_factor must be >= 1",
        ));
    }
    let t = e.app.throughput_rps;
    range(
        &mut d,
        p("app.throughput_rps"),
        t,
        t > 0.0,
        "> 0",
        "requests/s one server completes",
    );
    let u = e.app.target_utilization;
    range(
        &mut d,
        p("app.target_utilization"),
        u,
        u > 0.0 && u <= 1.0,
        "in (0, 1]",
        "",
    );
    if e.app.workers == 0 {
        d.push(Diagnostic::new(p("app.workers"), "workers must be >= 1"));
    }
    if let Some(c) = &e.cache {
        let h = c.hot_fraction;
        range(
            &mut d,
            p("cache.hot_fraction"),
            h,
            h > 0.0 && h <= 1.0,
            "in (0, 1]",
            "0.2 by the 80/20 rule",
        );
        let h = c.hit_ratio;
        range(
            &mut d,
            p("cache.hit_ratio"),
            h,
            (0.0..1.0).contains(&h),
            "in [0, 1)",
            "",
        );
        if c.node_memory.0 == 0 {
            d.push(Diagnostic::new(
                p("cache.node_memory"),
                "node_memory must be > 0",
            ));
        }
        let f = c.usable_memory_fraction;
        range(
            &mut d,
            p("cache.usable_memory_fraction"),
            f,
            f > 0.0 && f <= 1.0,
            "in (0, 1]",
            "",
        );
        let t = c.node_throughput_rps;
        range(
            &mut d,
            p("cache.node_throughput_rps"),
            t,
            t > 0.0,
            "> 0",
            "",
        );
    }
    if e.database.shard_storage.0 == 0 {
        d.push(Diagnostic::new(
            p("database.shard_storage"),
            "shard_storage must be > 0",
        ));
    }
    let t = e.database.shard_throughput_rps;
    range(
        &mut d,
        p("database.shard_throughput_rps"),
        t,
        t > 0.0,
        "> 0",
        "",
    );
    let u = e.database.target_utilization;
    range(
        &mut d,
        p("database.target_utilization"),
        u,
        u > 0.0 && u <= 1.0,
        "in (0, 1]",
        "",
    );
    if e.database.workers == 0 {
        d.push(Diagnostic::new(
            p("database.workers"),
            "workers must be >= 1",
        ));
    }
    let s = &e.simulation;
    if s.duration.0.is_zero() {
        d.push(Diagnostic::new(
            p("simulation.duration"),
            "the run must last longer than zero",
        ));
    }
    if s.warmup.0 >= s.duration.0 && !s.duration.0.is_zero() {
        d.push(
            Diagnostic::new(
                p("simulation.warmup"),
                "the warm-up is not shorter than the run",
            )
            .with_hint("shorten `warmup` or lengthen `duration`"),
        );
    }
    if s.replications == 0 {
        d.push(Diagnostic::new(
            p("simulation.replications"),
            "replications must be at least 1",
        ));
    }
    if s.max_app_servers == 0 {
        d.push(Diagnostic::new(
            p("simulation.max_app_servers"),
            "max_app_servers must be at least 1",
        ));
    }
    match s.keys {
        Keys::Uniform { keys } | Keys::Zipf { keys, .. } if keys == 0 => {
            d.push(Diagnostic::new(
                p("simulation.keys"),
                "the keyspace must hold at least one key",
            ));
        }
        Keys::Zipf { exponent, .. } if !(exponent.is_finite() && exponent > 0.0) => {
            d.push(Diagnostic::new(
                p("simulation.keys.exponent"),
                "the Zipf exponent must be > 0",
            ));
        }
        _ => {}
    }
    d
}

/// What an estimate file holds: a standalone estimate, or a scenario with an `estimate`
/// section.
#[derive(Clone, Debug)]
pub enum EstimateSource {
    /// A file whose top level is `Estimate(...)`.
    Standalone(Box<Estimate>),
    /// A scenario file; its `estimate` section is the estimate.
    Scenario(Box<Scenario>),
}

impl EstimateSource {
    /// The estimate itself.
    pub fn estimate(&self) -> &Estimate {
        match self {
            EstimateSource::Standalone(e) => e,
            EstimateSource::Scenario(s) => s
                .estimate
                .as_ref()
                .expect("load_estimate only returns scenarios with an estimate section"),
        }
    }
}

/// The first identifier of a RON text after comments and `#![...]` attributes, if any.
fn top_level_name(source: &str) -> Option<&str> {
    let mut s = source;
    loop {
        s = s.trim_start();
        if let Some(rest) = s.strip_prefix("//") {
            s = rest.split_once('\n').map_or("", |(_, r)| r);
        } else if let Some(rest) = s.strip_prefix("/*") {
            s = rest.split_once("*/").map_or("", |(_, r)| r);
        } else if let Some(rest) = s.strip_prefix("#!") {
            s = rest.split_once(']').map_or("", |(_, r)| r);
        } else {
            break;
        }
    }
    let end = s
        .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
        .unwrap_or(s.len());
    (end > 0).then(|| &s[..end])
}

/// Whether the file at `path` is a standalone estimate (`Estimate(...)` at the top level);
/// false when it cannot be read.
pub fn is_estimate_file(path: &Path) -> bool {
    std::fs::read_to_string(path).is_ok_and(|s| top_level_name(&s) == Some("Estimate"))
}

/// Loads an estimate file: `Estimate(...)` at the top level, or a scenario with an
/// `estimate: (...)` section. Syntax errors carry line, column and path like every scenario
/// file; then [`check`] runs and every problem is reported together.
pub fn load_estimate(path: &Path) -> Result<EstimateSource, ScenarioError> {
    let source = std::fs::read_to_string(path).map_err(|source| ScenarioError::Io {
        file: path.to_path_buf(),
        source,
    })?;
    let loaded = if top_level_name(&source) == Some("Estimate") {
        EstimateSource::Standalone(Box::new(load::from_str::<Estimate>(&source, path)?))
    } else {
        let scenario: Scenario = load::from_str(&source, path)?;
        if scenario.estimate.is_none() {
            return Err(ScenarioError::semantic(
                path,
                vec![
                    Diagnostic::new("estimate", "this scenario has no `estimate` section")
                        .with_hint(
                            "add `estimate: (...)` to the scenario, or write a standalone \
                             `Estimate(...)` file (see scenarios/estimates/)",
                        ),
                ],
            ));
        }
        EstimateSource::Scenario(Box::new(scenario))
    };
    let at = match loaded {
        EstimateSource::Standalone(_) => "",
        EstimateSource::Scenario(_) => "estimate",
    };
    let diags = check(loaded.estimate(), at);
    if diags.is_empty() {
        Ok(loaded)
    } else {
        Err(ScenarioError::semantic(path, diags))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_parse_with_suffixes_and_print_back() {
        for (text, value) in [
            ("300M", 300_000_000),
            ("1.5K", 1_500),
            ("2B", 2_000_000_000),
            ("2g", 2_000_000_000),
            ("7", 7),
            ("0.25M", 250_000),
        ] {
            let c: Count = text.parse().unwrap();
            assert_eq!(c.0, value, "{text}");
            let back: Count = c.to_string().parse().unwrap();
            assert_eq!(back, c);
        }
        assert_eq!(Count(300_000_000).to_string(), "300M");
        for bad in ["", "M", "1.5", "3X", "1..2K", "0.0001K"] {
            let e = bad.parse::<Count>().unwrap_err();
            assert!(e.contains("expected a count"), "{bad}: {e}");
        }
    }

    #[test]
    fn top_level_name_skips_comments_and_attributes() {
        assert_eq!(
            top_level_name("// x\n/* y */\n#![enable(implicit_some)]\nEstimate(name: \"a\")"),
            Some("Estimate")
        );
        assert_eq!(top_level_name("(name: \"a\")"), None);
        assert_eq!(top_level_name("Scenario("), Some("Scenario"));
    }
}
