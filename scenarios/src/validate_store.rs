//! Validation of the replicated store schema ([`crate::raw_store`]): conversion of `Store`
//! and `StoreReplica`, then [`link`], which checks that every front's replicas are
//! `StoreReplica`s and gives each replica its role, peers and resync period.

use clustersim_engine::{ComponentId, SimDuration};
use clustersim_models::registry::ComponentConfig;
use clustersim_models::store::{
    Ack, DEFAULT_VISIBILITY_BUCKETS_MS, Failover, PartitionPolicy, Promote, ReadFrom,
    ReplicaConfig, ReplicaMode, Replication, StoreConfig,
};

use super::{ComponentSpec, Ctx, Names, check_dist, target, transport};
use crate::diagnostic::Diagnostic;
use crate::raw::{self, Scenario};
use crate::raw_store as rs;

/// Converts a `Store` front; `order` is its index among the scenario's `Store` components.
pub(super) fn front(
    cx: &mut Ctx,
    components: &Names<'_>,
    path: &str,
    s: &rs::Store,
    order: usize,
) -> StoreConfig {
    let replicas: Vec<ComponentId> = s
        .replicas
        .iter()
        .enumerate()
        .map(|(i, r)| target(cx, components, &format!("{path}.replicas[{i}]"), r))
        .collect();
    let index_of = |cx: &mut Ctx, p: &str, name: &str| -> u8 {
        match s.replicas.iter().position(|r| r == name) {
            Some(i) => i as u8,
            None => {
                cx.push(
                    Diagnostic::new(p, format!("`{name}` is not one of this store's replicas"))
                        .with_hint(format!("name one of: {}", s.replicas.join(", "))),
                );
                0
            }
        }
    };
    let sql = s.preset == Some(rs::Preset::Sql);
    let nosql = s.preset == Some(rs::Preset::NoSql);
    let replication = match &s.replication {
        Some(rs::Replication::Standalone) => Replication::Standalone,
        Some(rs::Replication::PrimaryBackup { ack }) => Replication::PrimaryBackup {
            ack: match ack {
                rs::Ack::Async => Ack::Async,
                rs::Ack::SemiSync { k } => Ack::SemiSync { k: *k },
                rs::Ack::Sync => Ack::Sync,
            },
        },
        Some(rs::Replication::Quorum { r, w, read_repair }) => Replication::Quorum {
            r: *r,
            w: *w,
            read_repair: *read_repair,
        },
        Some(rs::Replication::MultiLeader { home, resolution }) => Replication::MultiLeader {
            home: index_of(cx, &format!("{path}.replication.MultiLeader.home"), home),
            version_vectors: *resolution == rs::Resolution::VersionVectors,
        },
        None if sql => Replication::PrimaryBackup { ack: Ack::Sync },
        None if nosql => Replication::Quorum {
            r: 1,
            w: 1,
            read_repair: true,
        },
        None if s.replicas.len() == 1 => Replication::Standalone,
        None => Replication::PrimaryBackup { ack: Ack::Async },
    };
    let mut cfg = StoreConfig::new(replicas, replication);
    cfg.read_from = match &s.read_from {
        None | Some(rs::ReadFrom::Primary) => ReadFrom::Primary,
        Some(rs::ReadFrom::Replicas) => ReadFrom::Replicas,
        Some(rs::ReadFrom::ReplicaUnlessRyw { window }) => {
            ReadFrom::ReplicaUnlessRyw { window: window.0 }
        }
    };
    cfg.partition = match s.partition {
        Some(rs::PartitionPolicy::CP) => PartitionPolicy::Cp,
        Some(rs::PartitionPolicy::AP) => PartitionPolicy::Ap,
        None if nosql => PartitionPolicy::Ap,
        None => PartitionPolicy::Cp,
    };
    cfg.failover = match &s.failover {
        Some(f) => Some(Failover {
            promote: match &f.promote {
                rs::PromoteChoice::MostUpToDate => Promote::MostUpToDate,
                rs::PromoteChoice::Replica(name) => Promote::Replica(index_of(
                    cx,
                    &format!("{path}.failover.promote.Replica"),
                    name,
                )),
            },
            redirect_delay: f.redirect_delay.map_or(SimDuration::ZERO, |d| d.0),
        }),
        None if sql && matches!(replication, Replication::PrimaryBackup { .. }) => Some(Failover {
            promote: Promote::MostUpToDate,
            redirect_delay: SimDuration::ZERO,
        }),
        None => None,
    };
    if let Some(d) = s.heartbeat {
        cfg.heartbeat = d.0;
    }
    if let Some(d) = s.detect_after {
        cfg.detect_after = d.0;
    }
    if let Some(d) = s.timeout {
        cfg.timeout = d.0;
    }
    cfg.visibility_buckets_ms = match &s.visibility_buckets {
        Some(b) => b.iter().map(|d| d.0.as_nanos() / 1_000_000).collect(),
        None => DEFAULT_VISIBILITY_BUCKETS_MS.to_vec(),
    };
    if let Some(b) = &s.visibility_buckets
        && b.iter().any(|d| d.0.as_nanos() % 1_000_000 != 0)
    {
        cx.push(
            Diagnostic::new(
                format!("{path}.visibility_buckets"),
                "bucket edges must be whole milliseconds",
            )
            .with_hint("write them like \"0ms\", \"5ms\", \"1s\""),
        );
    }
    cfg.history_per_key = s.history_per_key;
    cfg.max_sessions = s.max_sessions;
    cfg.origin = (order % 256) as u8;
    cfg.transport = s.transport.map(transport).unwrap_or(cx.default_transport);
    cfg
}

/// Converts a `StoreReplica` (its role and peers are set later by [`link`]).
pub(super) fn replica(cx: &mut Ctx, path: &str, r: &rs::StoreReplica) -> ReplicaConfig {
    let read = check_dist(cx, &format!("{path}.read_time"), &r.read_time);
    let write = check_dist(cx, &format!("{path}.write_time"), &r.write_time);
    let mut cfg = ReplicaConfig::new(read, write);
    if let Some(a) = &r.apply_time {
        cfg.apply_time = check_dist(cx, &format!("{path}.apply_time"), a);
    }
    if let Some(d) = &r.replication_delay {
        cfg.replication_delay = check_dist(cx, &format!("{path}.replication_delay"), d);
    }
    cfg.servers = r.servers;
    cfg.queue_limit = r.queue_limit;
    cfg.transport = r.transport.map(transport).unwrap_or(cx.default_transport);
    cfg
}

/// Gives every replica its role from the (first) front naming it, and the fronts sharing
/// replicas each other as checker peers. Errors: a replica that is not a `StoreReplica`, a
/// replica shared by fronts with different replica lists or modes. A replica no front uses
/// stays idle (sweeps over the replica list leave some unused).
pub(super) fn link(cx: &mut Ctx, raw: &Scenario, specs: &mut [ComponentSpec]) {
    let n = specs.len();
    let fronts: Vec<usize> = (0..n)
        .filter(|&i| matches!(specs[i].config, ComponentConfig::Store(_)))
        .collect();
    let mut owner: Vec<Option<usize>> = vec![None; n];
    for &f in &fronts {
        let ComponentConfig::Store(cfg) = specs[f].config.clone() else {
            continue;
        };
        let path = format!("components[{f}].kind.Store.replicas");
        for (k, &r) in cfg.replicas.iter().enumerate() {
            let r = r.index();
            if r >= n {
                continue; // Unknown name, already reported.
            }
            if !matches!(raw.components[r].kind, raw::Kind::StoreReplica(_)) {
                let all: Vec<&str> = raw
                    .components
                    .iter()
                    .filter(|c| matches!(c.kind, raw::Kind::StoreReplica(_)))
                    .map(|c| c.name.as_str())
                    .collect();
                cx.push(
                    Diagnostic::new(
                        format!("{path}[{k}]"),
                        format!(
                            "`{}` is not a StoreReplica, so it cannot hold this store's data",
                            raw.components[r].name
                        ),
                    )
                    .with_hint(if all.is_empty() {
                        "add `(name: \"db1\", kind: StoreReplica(read_time: Exponential(mean: \
                         \"1ms\"), write_time: Exponential(mean: \"2ms\")))` and name it here"
                            .to_owned()
                    } else {
                        format!("name a StoreReplica: {}", all.join(", "))
                    }),
                );
                continue;
            }
            if let Some(o) = owner[r] {
                let ComponentConfig::Store(other) = &specs[o].config else {
                    continue;
                };
                if other.replicas != cfg.replicas
                    || other.replication.name() != cfg.replication.name()
                {
                    cx.push(
                        Diagnostic::new(
                            format!("{path}[{k}]"),
                            format!(
                                "`{}` is also a replica of `{}` with another replica list or \
                                 replication mode",
                                raw.components[r].name, raw.components[o].name
                            ),
                        )
                        .with_hint("fronts sharing replicas must list the same replicas in the same order, with the same replication"),
                    );
                }
                continue;
            }
            owner[r] = Some(f);
            let peers: Vec<ComponentId> = cfg
                .replicas
                .iter()
                .copied()
                .filter(|&p| p.index() != r)
                .collect();
            let mode = match cfg.replication {
                Replication::Standalone | Replication::Quorum { .. } => ReplicaMode::Plain,
                Replication::PrimaryBackup { ack } => ReplicaMode::PrimaryBackup {
                    ack,
                    primary: k == 0,
                },
                Replication::MultiLeader {
                    version_vectors, ..
                } => ReplicaMode::Leader {
                    site: k as u8,
                    version_vectors,
                },
            };
            if let ComponentConfig::StoreReplica(rc) = &mut specs[r].config {
                rc.peers = peers;
                rc.mode = mode;
                rc.resync_interval = cfg.heartbeat;
            }
        }
    }
    // Fronts sharing a replica observe each other's acknowledged writes.
    for &f in &fronts {
        let ComponentConfig::Store(cfg) = &specs[f].config else {
            continue;
        };
        let mine = cfg.replicas.clone();
        let peers: Vec<ComponentId> = fronts
            .iter()
            .copied()
            .filter(|&g| g != f)
            .filter(|&g| match &specs[g].config {
                ComponentConfig::Store(o) => o.replicas.iter().any(|r| mine.contains(r)),
                _ => false,
            })
            .map(|g| ComponentId(g as u32))
            .collect();
        if let ComponentConfig::Store(cfg) = &mut specs[f].config {
            cfg.peers = peers;
        }
    }
}
