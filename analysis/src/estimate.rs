//! Back-of-the-envelope capacity estimates: pure arithmetic.
//!
//! [`compute`] takes the assumptions of a [`clustersim_scenarios::estimate::Estimate`] through
//! the standard chain from users to QPS, bandwidth, storage, cache RAM and machine counts.
//! Every intermediate value becomes a [`Row`] with its unit and formula, so `estimate.csv` can
//! be audited line by line. Nothing here runs a simulation or touches a file; the simulation
//! cross-check and the `estimate` command live in [`crate::crosscheck`].

use std::fmt::Write as _;

use clustersim_scenarios::estimate::{ActionOp, Estimate};
use clustersim_scenarios::raw::Keys;

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
pub(crate) fn key_count(k: &Keys) -> u64 {
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
