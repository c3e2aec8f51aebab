//! Back-of-the-envelope capacity estimates, and their cross-check by simulation.
//!
//! [`compute`] is pure arithmetic on the assumptions of a
//! [`clustersim_scenarios::estimate::Estimate`]: the standard chain from users to QPS,
//! bandwidth, storage, cache RAM and machine counts. Every intermediate value becomes a
//! [`Row`] with its unit and formula, so `estimate.csv` can be audited line by line.
//!
//! [`simulation_ron`] turns the estimate into an ordinary scenario — open-loop clients at peak
//! QPS → load balancer → the estimated app servers → a cache tier (a shard router over the
//! cache nodes) → a database tier (a shard router over the shards) — which runs through the
//! normal sweep pipeline. [`versus_simulation`] then puts the estimate beside what the
//! simulation measured: utilisation, hit ratio, latency, and the queueing the estimate ignores
//! (with the M/M/c answer from Erlang C in between).

use std::fmt::Write as _;

use clustersim_models::queueing;
use clustersim_scenarios::estimate::{ActionOp, Estimate};
use clustersim_scenarios::raw::Keys;

use crate::result::RunResult;
use crate::stats::summarize;

/// Seconds per day.
pub const SECONDS_PER_DAY: f64 = 86_400.0;
/// Days per year.
pub const DAYS_PER_YEAR: f64 = 365.0;

/// One line of `estimate.csv`: a named quantity, its value in `unit`, the same value in human
/// units, and how it was computed.
#[derive(Clone, Debug, PartialEq)]
pub struct Row {
    /// Group: `users`, `traffic`, `bandwidth`, `storage`, `cache`, `app`, `database`,
    /// `latency`, `reference`.
    pub section: &'static str,
    /// Quantity name, e.g. `read_peak_qps`.
    pub quantity: String,
    /// Value in `unit`.
    pub value: f64,
    /// Unit: `users`, `req/s`, `B/s`, `B`, `servers`, `ns`, ...
    pub unit: &'static str,
    /// The value with K/M/B or KB/MB/GB/TB/PB.
    pub human: String,
    /// How it was computed, in terms of other rows or assumptions.
    pub formula: String,
}

/// One action after derivation (reads derived from `read_write_ratio` included).
#[derive(Clone, Debug, PartialEq)]
pub struct ActionRate {
    /// Action name.
    pub name: String,
    /// Read or write.
    pub op: ActionOp,
    /// Actions per day.
    pub per_day: f64,
    /// Average per second.
    pub avg_qps: f64,
    /// At peak.
    pub peak_qps: f64,
    /// Object bytes per action.
    pub size_bytes: f64,
    /// Expected media bytes per action (`media_fraction × media_size`).
    pub media_bytes: f64,
}

/// The key results of an estimate (also present as rows).
#[derive(Clone, Debug, PartialEq)]
pub struct Numbers {
    /// Daily active users.
    pub dau: f64,
    /// Every action with its rates.
    pub actions: Vec<ActionRate>,
    /// Peak reads per second.
    pub read_peak_qps: f64,
    /// Peak writes per second.
    pub write_peak_qps: f64,
    /// Peak requests per second, all types.
    pub total_peak_qps: f64,
    /// Assumed cache hit ratio (0 without a cache tier).
    pub hit_ratio: f64,
    /// Peak requests per second reaching the database (writes + read misses).
    pub db_peak_qps: f64,
    /// App servers.
    pub app_servers: u64,
    /// App server utilisation at peak with that many servers.
    pub app_utilization: f64,
    /// Cache nodes (0 without a cache tier).
    pub cache_nodes: u64,
    /// Database shards.
    pub db_shards: u64,
    /// Shard utilisation at peak.
    pub db_utilization: f64,
    /// Mean local work of one request on an app server, in ns (`workers / throughput`).
    pub app_service_ns: f64,
    /// Mean local work of one request on a shard, in ns.
    pub db_service_ns: f64,
    /// Fraction of requests that reach the database.
    pub db_fraction: f64,
    /// Mean network round trips of a request through the cross-check topology.
    pub mean_round_trips: f64,
    /// Same-datacenter round trip, in ns.
    pub rtt_ns: f64,
}

/// Every row and the key numbers.
#[derive(Clone, Debug, PartialEq)]
pub struct Computed {
    /// Rows in report order.
    pub rows: Vec<Row>,
    /// Key numbers.
    pub numbers: Numbers,
}

/// A number with a decimal suffix: `1.5K`, `300M`, `2.1B`, `4T`.
pub fn human_count(v: f64) -> String {
    human(v, &[(1e12, "T"), (1e9, "B"), (1e6, "M"), (1e3, "K")], "")
}

/// Bytes with decimal units (powers of 1000, as estimates are usually done): `1.5 KB` ...
/// `3.2 PB`.
pub fn human_bytes(v: f64) -> String {
    human(
        v,
        &[
            (1e18, " EB"),
            (1e15, " PB"),
            (1e12, " TB"),
            (1e9, " GB"),
            (1e6, " MB"),
            (1e3, " KB"),
        ],
        " B",
    )
}

fn human(v: f64, units: &[(f64, &str)], base: &str) -> String {
    if !v.is_finite() {
        return "-".into();
    }
    let (scaled, suffix) = units
        .iter()
        .find(|(s, _)| v.abs() >= *s)
        .map_or((v, base), |(s, u)| (v / s, *u));
    let text = if scaled.abs() >= 100.0 || scaled.fract() == 0.0 {
        format!("{scaled:.0}")
    } else if scaled.abs() >= 10.0 {
        format!("{scaled:.1}")
    } else {
        format!("{scaled:.2}")
    };
    format!("{text}{suffix}")
}

/// A duration in ns, human: `500 ns`, `150 µs`, `1.5 ms`, `150 ms`, `2.0 s`.
pub fn human_ns(ns: f64) -> String {
    human(ns, &[(1e9, " s"), (1e6, " ms"), (1e3, " µs")], " ns")
}

/// A reference latency: what, how long, and what the estimate uses it for (empty: shown for
/// reference only).
#[derive(Clone, Copy, Debug)]
pub struct Reference {
    /// The operation.
    pub what: &'static str,
    /// Typical time, in ns.
    pub ns: f64,
    /// Role in the estimate.
    pub used_for: &'static str,
}

/// "Latency numbers every programmer should know" (Dean/Norvig, rounded as usually quoted).
pub const LATENCY_REFERENCE: &[Reference] = &[
    Reference {
        what: "L1 cache reference",
        ns: 0.5,
        used_for: "",
    },
    Reference {
        what: "branch mispredict",
        ns: 5.0,
        used_for: "",
    },
    Reference {
        what: "L2 cache reference",
        ns: 7.0,
        used_for: "",
    },
    Reference {
        what: "mutex lock/unlock",
        ns: 25.0,
        used_for: "",
    },
    Reference {
        what: "main memory reference",
        ns: 100.0,
        used_for: "cache lookup: treated as free next to a round trip",
    },
    Reference {
        what: "compress 1 KB (Snappy)",
        ns: 3_000.0,
        used_for: "",
    },
    Reference {
        what: "send 1 KB over 1 Gbps",
        ns: 10_000.0,
        used_for: "",
    },
    Reference {
        what: "read 4 KB randomly from SSD",
        ns: 150_000.0,
        used_for: "database read: a shard's service time should not be below it",
    },
    Reference {
        what: "read 1 MB sequentially from memory",
        ns: 250_000.0,
        used_for: "",
    },
    Reference {
        what: "round trip within the same datacenter",
        ns: 500_000.0,
        used_for: "every hop between tiers (simulation.rtt)",
    },
    Reference {
        what: "read 1 MB sequentially from SSD",
        ns: 1_000_000.0,
        used_for: "",
    },
    Reference {
        what: "disk seek",
        ns: 10_000_000.0,
        used_for: "",
    },
    Reference {
        what: "read 1 MB sequentially from disk",
        ns: 20_000_000.0,
        used_for: "",
    },
    Reference {
        what: "round trip California-Netherlands",
        ns: 150_000_000.0,
        used_for: "",
    },
];

struct Rows(Vec<Row>);

impl Rows {
    fn push(
        &mut self,
        section: &'static str,
        quantity: impl Into<String>,
        value: f64,
        unit: &'static str,
        formula: impl Into<String>,
    ) -> f64 {
        let human = match unit {
            "B" => human_bytes(value),
            "B/s" => format!("{}/s", human_bytes(value)),
            "B/day" => format!("{}/day", human_bytes(value)),
            "ns" => human_ns(value),
            "ratio" => format!("{:.1}%", value * 100.0),
            _ => human_count(value),
        };
        self.0.push(Row {
            section,
            quantity: quantity.into(),
            value,
            unit,
            human,
            formula: formula.into(),
        });
        value
    }
}

fn ceil_count(v: f64) -> u64 {
    // Values are finite and non-negative here (checked assumptions); 1e-9 absorbs float noise
    // such as 2.0000000000000004 servers.
    (v - 1e-9).ceil().max(0.0) as u64
}

/// Every action after deriving reads from `read_write_ratio`.
fn derived_actions(e: &Estimate, dau: f64) -> Vec<ActionRate> {
    let rate = |name: String, op, per_user: f64, a: &clustersim_scenarios::estimate::Action| {
        let per_day = dau * per_user;
        let avg = per_day / SECONDS_PER_DAY;
        ActionRate {
            name,
            op,
            per_day,
            avg_qps: avg,
            peak_qps: avg * e.peak_factor,
            size_bytes: a.size.0 as f64,
            media_bytes: a.media_fraction * a.media_size.0 as f64,
        }
    };
    let mut v: Vec<ActionRate> = e
        .actions
        .iter()
        .map(|a| rate(a.name.clone(), a.op, a.per_user_per_day, a))
        .collect();
    if let Some(ratio) = e.read_write_ratio {
        for a in e.actions.iter().filter(|a| a.op == ActionOp::Write) {
            v.push(rate(
                format!("read_{}", a.name),
                ActionOp::Read,
                a.per_user_per_day * ratio,
                a,
            ));
        }
    }
    v
}

/// The number of keys of a simulated keyspace.
fn key_count(k: &Keys) -> u64 {
    match k {
        Keys::Uniform { keys } | Keys::Zipf { keys, .. } => *keys,
    }
}

/// Computes the whole chain. The estimate must have passed
/// [`clustersim_scenarios::estimate::check`].
pub fn compute(e: &Estimate) -> Computed {
    let mut r = Rows(Vec::new());
    // Users.
    let dau = match (e.daily_active_users, e.monthly_active_users) {
        (Some(d), _) => r.push(
            "users",
            "daily_active_users",
            d.as_f64(),
            "users",
            "assumption",
        ),
        (None, Some(m)) => {
            r.push(
                "users",
                "monthly_active_users",
                m.as_f64(),
                "users",
                "assumption",
            );
            r.push(
                "users",
                "daily_active_users",
                m.as_f64() * e.daily_active_fraction,
                "users",
                format!(
                    "monthly_active_users × daily_active_fraction ({})",
                    e.daily_active_fraction
                ),
            )
        }
        (None, None) => 0.0,
    };

    // Traffic by action.
    let actions = derived_actions(e, dau);
    for a in &actions {
        let how = match e.read_write_ratio {
            Some(ratio) if a.name.starts_with("read_") && a.op == ActionOp::Read => {
                format!(
                    "daily_active_users × per_user_per_day of the write × read_write_ratio ({ratio})"
                )
            }
            _ => "daily_active_users × per_user_per_day".to_owned(),
        };
        r.push(
            "traffic",
            format!("{}_per_day", a.name),
            a.per_day,
            "req/day",
            how,
        );
        r.push(
            "traffic",
            format!("{}_avg_qps", a.name),
            a.avg_qps,
            "req/s",
            format!("{}_per_day ÷ 86400", a.name),
        );
        r.push(
            "traffic",
            format!("{}_peak_qps", a.name),
            a.peak_qps,
            "req/s",
            format!("{}_avg_qps × peak_factor ({})", a.name, e.peak_factor),
        );
    }
    let sum = |op: ActionOp, f: &dyn Fn(&ActionRate) -> f64| -> f64 {
        actions.iter().filter(|a| a.op == op).map(f).sum()
    };
    let read_avg = r.push(
        "traffic",
        "read_avg_qps",
        sum(ActionOp::Read, &|a| a.avg_qps),
        "req/s",
        "Σ avg_qps of Read actions",
    );
    let write_avg = r.push(
        "traffic",
        "write_avg_qps",
        sum(ActionOp::Write, &|a| a.avg_qps),
        "req/s",
        "Σ avg_qps of Write actions",
    );
    let read_peak = r.push(
        "traffic",
        "read_peak_qps",
        read_avg * e.peak_factor,
        "req/s",
        "read_avg_qps × peak_factor",
    );
    let write_peak = r.push(
        "traffic",
        "write_peak_qps",
        write_avg * e.peak_factor,
        "req/s",
        "write_avg_qps × peak_factor",
    );
    let total_peak = r.push(
        "traffic",
        "total_peak_qps",
        read_peak + write_peak,
        "req/s",
        "read_peak_qps + write_peak_qps",
    );
    if write_avg > 0.0 {
        r.push(
            "traffic",
            "read_write_ratio",
            read_avg / write_avg,
            "reads/write",
            "read_avg_qps ÷ write_avg_qps",
        );
    }

    // Bandwidth.
    let bytes = |a: &ActionRate| a.size_bytes + a.media_bytes;
    let ingress = r.push(
        "bandwidth",
        "ingress_avg",
        sum(ActionOp::Write, &|a| a.avg_qps * bytes(a)),
        "B/s",
        "Σ over writes avg_qps × (size + media_fraction × media_size)",
    );
    r.push(
        "bandwidth",
        "ingress_peak",
        ingress * e.peak_factor,
        "B/s",
        "ingress_avg × peak_factor",
    );
    let egress = r.push(
        "bandwidth",
        "egress_avg",
        sum(ActionOp::Read, &|a| a.avg_qps * bytes(a)),
        "B/s",
        "Σ over reads avg_qps × (size + media_fraction × media_size)",
    );
    r.push(
        "bandwidth",
        "egress_peak",
        egress * e.peak_factor,
        "B/s",
        "egress_avg × peak_factor",
    );

    // Storage.
    let data_day = r.push(
        "storage",
        "data_per_day",
        sum(ActionOp::Write, &|a| a.per_day * a.size_bytes),
        "B/day",
        "Σ over writes per_day × size",
    );
    let media_day = r.push(
        "storage",
        "media_per_day",
        sum(ActionOp::Write, &|a| a.per_day * a.media_bytes),
        "B/day",
        "Σ over writes per_day × media_fraction × media_size",
    );
    let data_year = r.push(
        "storage",
        "data_per_year",
        data_day * DAYS_PER_YEAR,
        "B",
        "data_per_day × 365",
    );
    let media_year = r.push(
        "storage",
        "media_per_year",
        media_day * DAYS_PER_YEAR,
        "B",
        "media_per_day × 365",
    );
    let data_ret = r.push(
        "storage",
        "data_retained",
        data_year * e.retention_years,
        "B",
        format!("data_per_year × retention_years ({})", e.retention_years),
    );
    let media_ret = r.push(
        "storage",
        "media_retained",
        media_year * e.retention_years,
        "B",
        format!("media_per_year × retention_years ({})", e.retention_years),
    );
    let rf = f64::from(e.replication_factor);
    r.push(
        "storage",
        "total_with_replicas",
        (data_ret + media_ret) * rf,
        "B",
        format!("(data_retained + media_retained) × replication_factor ({rf})"),
    );

    // Cache.
    let (hit_ratio, cache_nodes) = match &e.cache {
        Some(c) => {
            let read_day = r.push(
                "cache",
                "read_volume_per_day",
                sum(ActionOp::Read, &|a| a.per_day * a.size_bytes),
                "B/day",
                "Σ over reads per_day × size (media is served by a CDN, not cached here)",
            );
            let ram = r.push(
                "cache",
                "cache_ram",
                read_day * c.hot_fraction,
                "B",
                format!("read_volume_per_day × hot_fraction ({})", c.hot_fraction),
            );
            let usable = c.node_memory.0 as f64 * c.usable_memory_fraction;
            let by_mem = r.push(
                "cache",
                "cache_nodes_for_memory",
                ceil_count(ram / usable) as f64,
                "nodes",
                format!(
                    "⌈cache_ram ÷ (node_memory {} × usable_memory_fraction {})⌉",
                    human_bytes(c.node_memory.0 as f64),
                    c.usable_memory_fraction
                ),
            );
            let by_rps = r.push(
                "cache",
                "cache_nodes_for_throughput",
                ceil_count(read_peak / c.node_throughput_rps) as f64,
                "nodes",
                format!(
                    "⌈read_peak_qps ÷ node_throughput_rps ({})⌉",
                    c.node_throughput_rps
                ),
            );
            let nodes = r.push(
                "cache",
                "cache_nodes",
                by_mem.max(by_rps).max(1.0),
                "nodes",
                "max(cache_nodes_for_memory, cache_nodes_for_throughput, 1)",
            );
            r.push("cache", "hit_ratio", c.hit_ratio, "ratio", "assumption");
            (c.hit_ratio, nodes as u64)
        }
        None => (0.0, 0),
    };

    // App tier.
    let capacity = e.app.throughput_rps * e.app.target_utilization;
    let app_servers = r.push(
        "app",
        "app_servers",
        ceil_count(total_peak / capacity).max(1) as f64,
        "servers",
        format!(
            "max(1, ⌈total_peak_qps ÷ (throughput_rps {} × target_utilization {})⌉)",
            e.app.throughput_rps, e.app.target_utilization
        ),
    );
    let app_util = r.push(
        "app",
        "app_utilization",
        total_peak / (app_servers * e.app.throughput_rps),
        "ratio",
        "total_peak_qps ÷ (app_servers × throughput_rps)",
    );

    // Database.
    let db_peak = r.push(
        "database",
        "db_peak_qps",
        write_peak + read_peak * (1.0 - hit_ratio),
        "req/s",
        "write_peak_qps + read_peak_qps × (1 − hit_ratio)",
    );
    let per_replica = data_ret
        + if e.database.store_media {
            media_ret
        } else {
            0.0
        };
    let stored = r.push(
        "database",
        "db_data_per_replica",
        per_replica,
        "B",
        if e.database.store_media {
            "data_retained + media_retained"
        } else {
            "data_retained (media lives in an object store)"
        },
    );
    let by_storage = r.push(
        "database",
        "shards_for_storage",
        ceil_count(stored / e.database.shard_storage.0 as f64) as f64,
        "shards",
        format!(
            "⌈db_data_per_replica ÷ shard_storage ({})⌉",
            human_bytes(e.database.shard_storage.0 as f64)
        ),
    );
    let shard_capacity = e.database.shard_throughput_rps * e.database.target_utilization;
    let by_load = r.push(
        "database",
        "shards_for_load",
        ceil_count(db_peak / shard_capacity) as f64,
        "shards",
        format!(
            "⌈db_peak_qps ÷ (shard_throughput_rps {} × target_utilization {})⌉",
            e.database.shard_throughput_rps, e.database.target_utilization
        ),
    );
    let shards = r.push(
        "database",
        "db_shards",
        by_storage.max(by_load).max(1.0),
        "shards",
        "max(shards_for_storage, shards_for_load, 1)",
    );
    r.push(
        "database",
        "db_machines",
        shards * rf,
        "servers",
        "db_shards × replication_factor",
    );
    let db_util = r.push(
        "database",
        "db_utilization",
        db_peak / (shards * e.database.shard_throughput_rps),
        "ratio",
        "db_peak_qps ÷ (db_shards × shard_throughput_rps); assumes an even spread over shards",
    );

    // Latency without queueing, along the cross-check topology.
    let rtt = e.simulation.rtt.0.as_nanos() as f64;
    let write_frac = if total_peak > 0.0 {
        write_peak / total_peak
    } else {
        0.0
    };
    let read_frac = 1.0 - write_frac;
    let db_fraction = write_frac + read_frac * (1.0 - hit_ratio);
    // clients→lb, lb→app, then with a cache: app→cache router→cache node (+ node→db router
    // →shard when the database is needed); without: app→db router→shard.
    let trips = if e.cache.is_some() {
        4.0 + 2.0 * db_fraction
    } else {
        4.0
    };
    let app_svc = f64::from(e.app.workers) / e.app.throughput_rps * 1e9;
    let db_svc = f64::from(e.database.workers) / e.database.shard_throughput_rps * 1e9;
    r.push(
        "latency",
        "round_trips",
        trips,
        "round trips",
        if e.cache.is_some() {
            "4 + 2 × db_fraction (client→lb→app→cache router→cache node, then →db router→shard)"
        } else {
            "4 (client→lb→app→db router→shard)"
        },
    );
    r.push(
        "latency",
        "db_fraction",
        db_fraction,
        "ratio",
        "write share + read share × (1 − hit_ratio)",
    );
    r.push(
        "latency",
        "app_service_time",
        app_svc,
        "ns",
        "workers ÷ throughput_rps (per request, one worker)",
    );
    r.push(
        "latency",
        "db_service_time",
        db_svc,
        "ns",
        "database.workers ÷ shard_throughput_rps",
    );
    r.push(
        "latency",
        "latency_mean_no_queueing",
        trips * rtt + app_svc + db_fraction * db_svc,
        "ns",
        "round_trips × rtt + app_service_time + db_fraction × db_service_time",
    );

    for l in LATENCY_REFERENCE {
        let ns = if l.what.starts_with("round trip within") {
            rtt
        } else {
            l.ns
        };
        r.push(
            "reference",
            l.what,
            ns,
            "ns",
            if l.used_for.is_empty() {
                "reference"
            } else {
                l.used_for
            },
        );
    }

    Computed {
        numbers: Numbers {
            dau,
            actions,
            read_peak_qps: read_peak,
            write_peak_qps: write_peak,
            total_peak_qps: total_peak,
            hit_ratio,
            db_peak_qps: db_peak,
            app_servers: app_servers as u64,
            app_utilization: app_util,
            cache_nodes,
            db_shards: shards as u64,
            db_utilization: db_util,
            app_service_ns: app_svc,
            db_service_ns: db_svc,
            db_fraction,
            mean_round_trips: trips,
            rtt_ns: rtt,
        },
        rows: r.0,
    }
}

/// `estimate.csv`: section, quantity, value, unit, human, formula.
pub fn estimate_csv(rows: &[Row]) -> anyhow::Result<Vec<u8>> {
    let mut w = csv::Writer::from_writer(Vec::new());
    w.write_record(["section", "quantity", "value", "unit", "human", "formula"])?;
    for r in rows {
        w.write_record([
            r.section,
            &r.quantity,
            &format!("{}", r.value),
            r.unit,
            &r.human,
            &r.formula,
        ])?;
    }
    Ok(w.into_inner()?)
}

/// The printed form: one aligned line per row, grouped by section.
pub fn render(name: &str, rows: &[Row]) -> String {
    let mut s = format!("estimate {name}\n");
    let mut section = "";
    for r in rows {
        if r.section != section {
            section = r.section;
            let _ = writeln!(s, "\n[{section}]");
        }
        let _ = writeln!(s, "  {:<40} {:>14}  {}", r.quantity, r.human, r.formula);
    }
    s
}

/// The simulated slice of the fleet: counts and the share of peak traffic it receives.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Slice {
    /// App servers simulated.
    pub app_servers: u64,
    /// Cache nodes simulated (0: no cache tier).
    pub cache_nodes: u64,
    /// Shards simulated.
    pub db_shards: u64,
    /// Offered requests per second.
    pub rate_rps: f64,
    /// Simulated share of the whole fleet (`app_servers / estimated app servers`).
    pub share: f64,
    /// Estimated app utilisation in the slice.
    pub app_utilization: f64,
    /// Estimated shard utilisation in the slice (shards round to whole numbers).
    pub db_utilization: f64,
}

/// The slice [`simulation_ron`] simulates: the whole fleet when it has at most
/// `simulation.max_app_servers` app servers; otherwise `k` app servers with the same share
/// `k / app_servers` of traffic, cache nodes and shards (rounded, at least 1 each), where `k`
/// lies between half the maximum and the maximum and is chosen to make that rounding as
/// small as possible (ties: the larger `k`), so each tier keeps its per-server load.
pub fn slice(e: &Estimate, n: &Numbers) -> Slice {
    let max = u64::from(e.simulation.max_app_servers);
    let rounding = |share: f64| {
        [n.cache_nodes, n.db_shards]
            .iter()
            .filter(|c| **c > 0)
            .map(|&c| {
                let exact = c as f64 * share;
                (exact.round().max(1.0) - exact).abs() / exact
            })
            .fold(0.0, f64::max)
    };
    let (apps, share) = if n.app_servers <= max {
        (n.app_servers, 1.0)
    } else {
        let mut best = (max, rounding(max as f64 / n.app_servers as f64));
        for k in (max.div_ceil(2)..max).rev() {
            let err = rounding(k as f64 / n.app_servers as f64);
            if err < best.1 - 1e-12 {
                best = (k, err);
            }
        }
        (best.0, best.0 as f64 / n.app_servers as f64)
    };
    let scaled = |c: u64| ((c as f64 * share).round() as u64).max(1);
    let cache_nodes = if n.cache_nodes == 0 {
        0
    } else {
        scaled(n.cache_nodes)
    };
    let db_shards = scaled(n.db_shards);
    let rate = n.total_peak_qps * share;
    Slice {
        app_servers: apps,
        cache_nodes,
        db_shards,
        rate_rps: rate,
        share,
        app_utilization: rate / (apps as f64 * e.app.throughput_rps),
        db_utilization: rate * n.db_fraction / (db_shards as f64 * e.database.shard_throughput_rps),
    }
}

fn ns_text(ns: f64) -> String {
    format!("{}ns", ns.round().max(1.0) as u64)
}

fn keys_text(k: &Keys) -> String {
    match k {
        Keys::Uniform { keys } => format!("Uniform(keys: {keys})"),
        Keys::Zipf { keys, exponent } => format!("Zipf(keys: {keys}, exponent: {exponent:?})"),
    }
}

/// The cross-check scenario as RON text (written to `simulation.ron` beside the reports, so it
/// can be rerun and edited with `clustersim run`).
pub fn simulation_ron(e: &Estimate, n: &Numbers) -> String {
    let s = slice(e, n);
    let sim = &e.simulation;
    let keys = key_count(&sim.keys);
    let mut c = String::new();
    let backends: Vec<String> = (1..=s.app_servers)
        .map(|i| format!("(target: \"app-{i}\")"))
        .collect();
    let read_w = if n.total_peak_qps > 0.0 {
        n.read_peak_qps / n.total_peak_qps
    } else {
        1.0
    };
    let _ = writeln!(
        c,
        "        (name: \"clients\", kind: OpenLoop(target: \"lb\", rate: \"{:.3}/s\", mix: (read: {:?}, write: {:?}), keys: {})),",
        s.rate_rps,
        read_w,
        1.0 - read_w,
        keys_text(&sim.keys)
    );
    let _ = writeln!(
        c,
        "        (name: \"lb\", kind: LoadBalancer(backends: [{}])),",
        backends.join(", ")
    );
    let next = if s.cache_nodes > 0 { "cache" } else { "db" };
    for i in 1..=s.app_servers {
        let _ = writeln!(
            c,
            "        (name: \"app-{i}\", kind: Service(workers: {}, service_time: Exponential(mean: \"{}\"), calls: [(target: \"{next}\")], hold_worker_during_calls: false)),",
            e.app.workers,
            ns_text(n.app_service_ns)
        );
    }
    let router = |c: &mut String, name: &str, prefix: &str, count: u64| {
        let shards: Vec<String> = (1..=count)
            .map(|i| format!("(target: \"{prefix}-{i}\")"))
            .collect();
        let _ = writeln!(
            c,
            "        (name: \"{name}\", kind: ShardRouter(shards: [{}], keys: {keys})),",
            shards.join(", ")
        );
    };
    if s.cache_nodes > 0 {
        let hot = e.cache.as_ref().map_or(0.0, |c| c.hot_fraction);
        let per_node = ((keys as f64 * hot / s.cache_nodes as f64).round() as u64).max(1);
        router(&mut c, "cache", "cache", s.cache_nodes);
        for i in 1..=s.cache_nodes {
            let _ = writeln!(
                c,
                "        (name: \"cache-{i}\", kind: Cache(backends: [\"db\"], capacity: Entries({per_node}))),"
            );
        }
    }
    router(&mut c, "db", "db", s.db_shards);
    for i in 1..=s.db_shards {
        let _ = writeln!(
            c,
            "        (name: \"db-{i}\", kind: Service(workers: {}, service_time: Exponential(mean: \"{}\"))),",
            e.database.workers,
            ns_text(n.db_service_ns)
        );
    }
    format!(
        "// Generated by `clustersim estimate --simulate` from the estimate `{name}`: clients at\n\
         // peak QPS -> load balancer -> app servers -> cache -> database shards. Simulated\n\
         // slice: {apps} of {all} app servers ({share:.4} of the fleet), {cn} cache node(s),\n\
         // {sh} shard(s).\n\
         Scenario(\n\
         \x20   name: \"{name}_sim\",\n\
         \x20   description: \"simulation cross-check of the capacity estimate {name}\",\n\
         \x20   seed: {seed},\n\
         \x20   duration: \"{dur}\",\n\
         \x20   warmup: \"{warm}\",\n\
         \x20   report_interval: \"1s\",\n\
         \x20   network: (intra_region: (latency: Constant(\"{one_way}\"))),\n\
         \x20   components: [\n{c}    ],\n\
         \x20   sweep: (replications: {reps}),\n\
         )\n",
        name = e.name,
        apps = s.app_servers,
        all = n.app_servers,
        share = s.share,
        cn = s.cache_nodes,
        sh = s.db_shards,
        seed = sim.seed,
        dur = sim.duration,
        warm = sim.warmup,
        one_way = ns_text(n.rtt_ns / 2.0),
        reps = sim.replications,
    )
}

/// One line of `estimate_vs_simulation.csv`.
#[derive(Clone, Debug, PartialEq)]
pub struct Versus {
    /// What is compared, with its unit (`utilization`, `latency_p99_ms`, ...).
    pub quantity: &'static str,
    /// Tier: `app`, `cache`, `database`, `end_to_end`.
    pub tier: &'static str,
    /// The estimate's value.
    pub estimated: f64,
    /// The M/M/c (Erlang C) value with queueing, where it applies.
    pub analytic: f64,
    /// Simulated: mean over replications.
    pub simulated: f64,
    /// 95 % CI half-width over replications.
    pub simulated_ci95: f64,
    /// Simulated: largest value (over servers and replications) where it matters.
    pub simulated_max: f64,
    /// Verdict for people.
    pub verdict: String,
}

fn per_run(results: &[RunResult], f: impl Fn(&RunResult) -> f64) -> crate::stats::Summary {
    let v: Vec<f64> = results
        .iter()
        .filter(|r| r.failure.is_none())
        .map(f)
        .collect();
    summarize(&v)
}

fn comp_value(r: &RunResult, prefix: &str, metric: &str) -> Vec<(f64, f64)> {
    r.components
        .iter()
        .filter(|c| c.component.starts_with(prefix) && c.kind != "shard_router")
        .map(|c| {
            let get = |m: &str| {
                c.values
                    .iter()
                    .find(|(k, _)| k == m)
                    .map_or(f64::NAN, |(_, v)| *v)
            };
            (get(metric), get("requests"))
        })
        .collect()
}

fn run_metric(r: &RunResult, m: &str) -> f64 {
    r.metrics
        .iter()
        .find(|(k, _)| k == m)
        .map_or(f64::NAN, |(_, v)| *v)
}

/// Relative difference within which estimate and simulation "agree" in the verdicts.
pub const AGREE_REL: f64 = 0.05;

/// Utilisation points above the target before the busiest server counts as
/// under-provisioned: `⌈⌉` puts the estimate just under its target, so run-to-run noise alone
/// pushes the busiest of several servers a point or two above it.
pub const PROVISION_SLACK: f64 = 0.05;

/// Compares the estimate with the simulation results of [`simulation_ron`].
pub fn versus_simulation(e: &Estimate, n: &Numbers, results: &[RunResult]) -> Vec<Versus> {
    let s = slice(e, n);
    let mut out = Vec::new();
    let util_row = |tier: &'static str, prefix: &str, est: f64, target: f64, servers: u64| {
        let mean = per_run(results, |r| {
            let v = comp_value(r, prefix, "utilization");
            v.iter().map(|x| x.0).sum::<f64>() / v.len().max(1) as f64
        });
        let max = results
            .iter()
            .flat_map(|r| comp_value(r, prefix, "utilization"))
            .map(|x| x.0)
            .fold(f64::NAN, f64::max);
        let rel = (mean.mean - est) / est;
        let mut verdict = if rel.abs() <= AGREE_REL {
            format!("agrees ({:+.1}%)", rel * 100.0)
        } else {
            format!("differs by {:+.1}%", rel * 100.0)
        };
        if max > target + PROVISION_SLACK {
            let _ = write!(
                verdict,
                "; under-provisioned: the busiest of {servers} runs at {:.0}% > target {:.0}%",
                max * 100.0,
                target * 100.0
            );
        } else if max < 0.5 * target {
            let _ = write!(
                verdict,
                "; over-provisioned: the busiest runs at {:.0}%, under half the {:.0}% target",
                max * 100.0,
                target * 100.0
            );
        }
        Versus {
            quantity: "utilization",
            tier,
            estimated: est,
            analytic: est,
            simulated: mean.mean,
            simulated_ci95: mean.ci95_half_width,
            simulated_max: max,
            verdict,
        }
    };
    out.push(util_row(
        "app",
        "app-",
        s.app_utilization,
        e.app.target_utilization,
        s.app_servers,
    ));
    if let Some(c) = &e.cache {
        let hit = per_run(results, |r| {
            let v = comp_value(r, "cache-", "hit_ratio");
            let w: f64 = v.iter().map(|x| x.1).sum();
            v.iter().map(|x| x.0 * x.1).sum::<f64>() / w
        });
        let d = hit.mean - c.hit_ratio;
        out.push(Versus {
            quantity: "hit_ratio",
            tier: "cache",
            estimated: c.hit_ratio,
            analytic: f64::NAN,
            simulated: hit.mean,
            simulated_ci95: hit.ci95_half_width,
            simulated_max: f64::NAN,
            verdict: if d.abs() <= 0.05 {
                format!("agrees ({:+.1} points)", d * 100.0)
            } else if d < 0.0 {
                format!(
                    "estimate optimistic by {:.1} points: the database gets more misses",
                    -d * 100.0
                )
            } else {
                format!(
                    "estimate pessimistic by {:.1} points: fewer misses reach the database",
                    d * 100.0
                )
            },
        });
    }
    let mut db = util_row(
        "database",
        "db-",
        s.db_utilization,
        e.database.target_utilization,
        s.db_shards,
    );
    if let Some(hit) = out
        .iter()
        .find(|v| v.quantity == "hit_ratio")
        .map(|v| v.simulated)
        && hit.is_finite()
        && n.total_peak_qps > 0.0
    {
        // Redo the estimate with the measured hit ratio: separates a wrong hit-ratio
        // assumption from a wrong load model.
        let write_frac = n.write_peak_qps / n.total_peak_qps;
        let frac = write_frac + (1.0 - write_frac) * (1.0 - hit);
        let redone = s.rate_rps * frac / (s.db_shards as f64 * e.database.shard_throughput_rps);
        let _ = write!(
            db.verdict,
            "; with the simulated hit ratio the estimate is {redone:.4} ({:+.1}%)",
            (db.simulated - redone) / redone * 100.0
        );
    }
    out.push(db);

    // Latency: the estimate's no-queueing figure, M/M/c per tier, and the simulation.
    let rtt_part = n.mean_round_trips * n.rtt_ns;
    let no_queue_ms = (rtt_part + n.app_service_ns + n.db_fraction * n.db_service_ns) / 1e6;
    let mmc_wait = |rate: f64, servers: u64, svc_ns: f64, workers: u32| {
        let per = rate / servers as f64;
        queueing::mmc(per, 1e9 / svc_ns, workers).map_or(f64::INFINITY, |m| m.mean_wait * 1e9)
    };
    let app_wait = mmc_wait(s.rate_rps, s.app_servers, n.app_service_ns, e.app.workers);
    let db_wait = mmc_wait(
        s.rate_rps * n.db_fraction,
        s.db_shards,
        n.db_service_ns,
        e.database.workers,
    );
    let analytic_ms = no_queue_ms + (app_wait + n.db_fraction * db_wait) / 1e6;
    let sim = |m: &str| per_run(results, |r| run_metric(r, m));
    let lat = sim("latency_mean_ms");
    out.push(Versus {
        quantity: "latency_mean_ms",
        tier: "end_to_end",
        estimated: no_queue_ms,
        analytic: analytic_ms,
        simulated: lat.mean,
        simulated_ci95: lat.ci95_half_width,
        simulated_max: f64::NAN,
        verdict: format!(
            "the estimate ignores {:.3} ms of queueing (M/M/c predicts {:.3} ms)",
            lat.mean - no_queue_ms,
            analytic_ms - no_queue_ms
        ),
    });
    out.push(Versus {
        quantity: "queueing_ms",
        tier: "end_to_end",
        estimated: 0.0,
        analytic: analytic_ms - no_queue_ms,
        simulated: lat.mean - no_queue_ms,
        simulated_ci95: lat.ci95_half_width,
        simulated_max: f64::NAN,
        verdict: "mean latency above the no-queueing figure".into(),
    });
    for (m, q) in [("latency_p50_ms", 0.5f64), ("latency_p99_ms", 0.99)] {
        // The estimate's view of a quantile: fixed hops, the app's exponential service-time
        // quantile, the database's mean share; no queueing.
        let est =
            (rtt_part + n.app_service_ns * -(1.0 - q).ln() + n.db_fraction * n.db_service_ns) / 1e6;
        let v = sim(m);
        out.push(Versus {
            quantity: m,
            tier: "end_to_end",
            estimated: est,
            analytic: f64::NAN,
            simulated: v.mean,
            simulated_ci95: v.ci95_half_width,
            simulated_max: f64::NAN,
            verdict: format!("simulated − estimated = {:+.3} ms", v.mean - est),
        });
    }
    let thr = sim("throughput_rps");
    let rel = (thr.mean - s.rate_rps) / s.rate_rps;
    out.push(Versus {
        quantity: "throughput_rps",
        tier: "end_to_end",
        estimated: s.rate_rps,
        analytic: s.rate_rps,
        simulated: thr.mean,
        simulated_ci95: thr.ci95_half_width,
        simulated_max: f64::NAN,
        verdict: if rel.abs() <= AGREE_REL {
            format!(
                "the slice carries its share of peak traffic ({:+.1}%)",
                rel * 100.0
            )
        } else {
            format!("the slice does not keep up: {:+.1}%", rel * 100.0)
        },
    });
    let err = sim("error_rate");
    out.push(Versus {
        quantity: "error_rate",
        tier: "end_to_end",
        estimated: 0.0,
        analytic: 0.0,
        simulated: err.mean,
        simulated_ci95: err.ci95_half_width,
        simulated_max: f64::NAN,
        verdict: if err.mean > 0.0 {
            "requests failed".into()
        } else {
            "none".into()
        },
    });
    out
}

/// `estimate_vs_simulation.csv`.
pub fn versus_csv(rows: &[Versus]) -> anyhow::Result<Vec<u8>> {
    let num = |v: f64| {
        if v.is_finite() {
            format!("{v}")
        } else {
            String::new()
        }
    };
    let mut w = csv::Writer::from_writer(Vec::new());
    w.write_record([
        "quantity",
        "tier",
        "estimated",
        "analytic_mmc",
        "simulated_mean",
        "simulated_ci95",
        "simulated_max",
        "verdict",
    ])?;
    for r in rows {
        w.write_record([
            r.quantity,
            r.tier,
            &num(r.estimated),
            &num(r.analytic),
            &num(r.simulated),
            &num(r.simulated_ci95),
            &num(r.simulated_max),
            &r.verdict,
        ])?;
    }
    Ok(w.into_inner()?)
}

/// The printed comparison.
pub fn render_versus(rows: &[Versus]) -> String {
    let f = |v: f64| {
        if v.is_finite() {
            format!("{v:.4}")
        } else {
            "-".into()
        }
    };
    let mut s = format!(
        "\nestimate vs simulation\n  {:<16} {:<10} {:>10} {:>10} {:>10} {:>9}  verdict\n",
        "quantity", "tier", "estimate", "M/M/c", "simulated", "±95%"
    );
    for r in rows {
        let _ = writeln!(
            s,
            "  {:<16} {:<10} {:>10} {:>10} {:>10} {:>9}  {}",
            r.quantity,
            r.tier,
            f(r.estimated),
            f(r.analytic),
            f(r.simulated),
            f(r.simulated_ci95),
            r.verdict
        );
    }
    s
}

/// What `clustersim estimate` was asked to do.
#[derive(Debug)]
pub struct EstimateRequest<'a> {
    /// The estimate file (standalone `Estimate(...)` or a scenario with an `estimate` section).
    pub file: &'a std::path::Path,
    /// Output folder; default `runs/<name>/`.
    pub out: Option<std::path::PathBuf>,
    /// Run the simulation cross-check (also on with `simulation.enabled`).
    pub simulate: bool,
    /// Replications of the cross-check (overrides `simulation.replications`).
    pub replications: Option<u32>,
    /// Worker threads for the cross-check.
    pub threads: Option<usize>,
    /// Print nothing but errors and the output folder.
    pub quiet: bool,
    /// `--set path=value` overrides of the assumptions (paths as in the file: `peak_factor`
    /// in a standalone estimate, `estimate.peak_factor` in a scenario).
    pub set: Vec<String>,
    /// Master seed of the cross-check (overrides `simulation.seed`).
    pub seed: Option<u64>,
}

/// The estimate of `source` with `--set` overrides applied and checked again.
pub fn with_overrides(
    source: &clustersim_scenarios::estimate::EstimateSource,
    file: &std::path::Path,
    set: &[String],
) -> Result<Estimate, clustersim_scenarios::ScenarioError> {
    use clustersim_scenarios::estimate::{EstimateSource, check};
    use clustersim_scenarios::overrides::{Override, apply_overrides};
    use clustersim_scenarios::{Diagnostic, ScenarioError};
    if set.is_empty() {
        return Ok(source.estimate().clone());
    }
    let fail = |m: String| ScenarioError::semantic(file, vec![Diagnostic::new("--set", m)]);
    let ovr: Vec<Override> = set
        .iter()
        .map(|t| t.parse::<Override>().map_err(|e| fail(format!("{t}: {e}"))))
        .collect::<Result<_, _>>()?;
    let (e, at) = match source {
        EstimateSource::Standalone(e) => (
            apply_overrides(&**e, &ovr).map_err(|er| fail(er.to_string()))?,
            "",
        ),
        EstimateSource::Scenario(s) => {
            let s = apply_overrides(&**s, &ovr).map_err(|er| fail(er.to_string()))?;
            match s.estimate {
                Some(e) => (e, "estimate"),
                None => return Err(fail("the overrides removed the `estimate` section".into())),
            }
        }
    };
    let diags = check(&e, at);
    if diags.is_empty() {
        Ok(e)
    } else {
        Err(ScenarioError::semantic(file, diags))
    }
}

/// `clustersim estimate`: prints the estimate, writes `estimate.csv`, and with `--simulate`
/// runs the cross-check and writes the usual reports, `simulation.ron` and
/// `estimate_vs_simulation.csv`.
pub fn cli(
    req: EstimateRequest<'_>,
    stop: &std::sync::atomic::AtomicBool,
) -> anyhow::Result<std::process::ExitCode> {
    use anyhow::Context as _;
    use std::process::ExitCode;

    let source = match clustersim_scenarios::estimate::load_estimate(req.file) {
        Ok(s) => s,
        Err(e) => {
            eprintln!("{e}");
            return Ok(ExitCode::from(1));
        }
    };
    let est = match with_overrides(&source, req.file, &req.set) {
        Ok(e) => e,
        Err(err) => {
            eprintln!("{err}");
            return Ok(ExitCode::from(1));
        }
    };
    let e = &est;
    let computed = compute(e);
    let out_dir = req
        .out
        .clone()
        .unwrap_or_else(|| std::path::PathBuf::from("runs").join(&e.name));
    std::fs::create_dir_all(&out_dir).with_context(|| format!("creating {}", out_dir.display()))?;
    let write = |name: &str, bytes: &[u8]| -> anyhow::Result<()> {
        let p = out_dir.join(name);
        crate::atomic::write_atomic(&p, bytes).with_context(|| format!("writing {}", p.display()))
    };
    write("estimate.csv", &estimate_csv(&computed.rows)?)?;
    if !req.quiet {
        print!("{}", render(&e.name, &computed.rows));
    }
    if !(req.simulate || e.simulation.enabled) {
        eprintln!(
            "estimate written to {}",
            out_dir.join("estimate.csv").display()
        );
        return Ok(ExitCode::SUCCESS);
    }
    let text = simulation_ron(e, &computed.numbers);
    let sim_file = out_dir.join("simulation.ron");
    write("simulation.ron", text.as_bytes())?;
    let raw: clustersim_scenarios::raw::Scenario =
        match clustersim_scenarios::load::from_str(&text, &sim_file) {
            Ok(r) => r,
            Err(err) => anyhow::bail!(
                "internal error (please report): generated scenario does not load: {err}"
            ),
        };
    let plan = match crate::sweep::plan(raw, &sim_file, req.replications, req.seed) {
        Ok(p) => p,
        Err(err) => {
            eprintln!("{err}");
            return Ok(ExitCode::from(1));
        }
    };
    let opts = crate::sweep::ExecOptions {
        threads: req.threads,
        out_dir: out_dir.clone(),
        resume: false,
        progress: false,
    };
    let done = crate::sweep::execute(&plan, &opts, stop)?;
    let mut command = format!(
        "clustersim estimate {} --simulate",
        crate::shard::shell_quote(&req.file.display().to_string())
    );
    if let Some(r) = req.replications {
        let _ = write!(command, " --replications {r}");
    }
    if let Some(s) = req.seed {
        let _ = write!(command, " --seed {s}");
    }
    for s in &req.set {
        let _ = write!(command, " --set {}", crate::shard::shell_quote(s));
    }
    crate::report::write_all(&out_dir, &plan, &done.results, &sim_file, &command)?;
    let versus = versus_simulation(e, &computed.numbers, &done.results);
    write("estimate_vs_simulation.csv", &versus_csv(&versus)?)?;
    if !req.quiet {
        let sl = slice(e, &computed.numbers);
        println!(
            "\nsimulated slice: {} of {} app servers ({:.2}% of the fleet), {} cache node(s), {} shard(s), {:.0} req/s, {} replication(s)",
            sl.app_servers,
            computed.numbers.app_servers,
            sl.share * 100.0,
            sl.cache_nodes,
            sl.db_shards,
            sl.rate_rps,
            plan.replications
        );
        print!("{}", render_versus(&versus));
    }
    eprintln!("reports written to {}", out_dir.display());
    if done.interrupted {
        eprintln!("interrupted: the cross-check did not finish");
        return Ok(ExitCode::from(1));
    }
    let failed = done.results.iter().filter(|r| r.failure.is_some()).count();
    if failed > 0 {
        eprintln!("{failed} simulation run(s) failed; see the `failure` column of summary.csv");
        return Ok(ExitCode::from(1));
    }
    Ok(ExitCode::SUCCESS)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn human_units_pick_the_largest_suffix_and_keep_three_significant_digits() {
        assert_eq!(human_count(0.0), "0");
        assert_eq!(human_count(999.0), "999");
        assert_eq!(human_count(1_000.0), "1K");
        assert_eq!(human_count(3_472.2), "3.47K");
        assert_eq!(human_count(198_000.0), "198K");
        assert_eq!(human_count(7.5e9), "7.50B");
        assert_eq!(human_bytes(512.0), "512 B");
        assert_eq!(human_bytes(1.38e11), "138 GB");
        assert_eq!(human_bytes(5.48e16), "54.8 PB");
        assert_eq!(human_bytes(2.5e18), "2.50 EB");
        assert_eq!(human_ns(0.5), "0.50 ns");
        assert_eq!(human_ns(150_000.0), "150 µs");
        assert_eq!(human_ns(1.5e6), "1.50 ms");
        assert_eq!(human_count(f64::NAN), "-");
    }

    #[test]
    fn ceil_count_absorbs_float_noise_only() {
        assert_eq!(ceil_count(2.000_000_000_000_000_4), 2);
        assert_eq!(ceil_count(2.01), 3);
        assert_eq!(ceil_count(0.0), 0);
    }
}
