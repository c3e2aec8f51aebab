//! Plain-Rust configuration of the shard router. The scenarios crate builds it from RON; every
//! default is stated on the item that has it (and applied by [`ShardRouterConfig::new`]).

use clustersim_engine::{ComponentId, SimDuration, Transport};

use super::partitioner::Scheme;
use crate::error::ConfigError;

/// Most shards one router may have.
pub const MAX_SHARDS: usize = 1 << 16;
/// Largest keyspace a router simulates data movement over (ownership is recomputed over the
/// whole keyspace at every membership change).
pub const MAX_KEYS: u64 = 1 << 26;

/// A router placing each request's key on one of `shards`.
#[derive(Clone, Debug, PartialEq)]
pub struct ShardRouterConfig {
    /// Every shard the router may ever use, no component twice; indices in this list name the
    /// `to_shard_<i>` / `keys_owned_<i>` series and seed the shard's ring points.
    pub shards: Vec<ShardTarget>,
    /// How many of `shards` (the first ones) are members at the start, `1..=shards.len()`.
    /// Default: all.
    pub initial: usize,
    /// The placement scheme. Default consistent hashing with 100 virtual nodes.
    pub scheme: Scheme,
    /// Scheduled membership changes, in any order (applied in time order; a change due while
    /// a rebalance is still running waits for it to finish).
    pub membership: Vec<MembershipChange>,
    /// Size of the keyspace `0..keys` whose data moves on membership changes, `>= 1`, at most
    /// [`MAX_KEYS`]. Default 100 000.
    pub keys: u64,
    /// Bytes stored per key (what moving a key costs on the wire), `>= 1`. Default 1 KiB.
    pub value_size: u32,
    /// Largest transfer message, `>= value_size`: moved keys are sent in batches of
    /// `batch_bytes / value_size` keys. Default 1 MiB.
    pub batch_bytes: u32,
    /// How a request for a key whose batch is still in flight is served. Default
    /// [`InFlight::ServeFromOld`].
    pub in_flight: InFlight,
    /// Hot-key mitigation. Default `None`.
    pub hot_keys: Option<HotKeys>,
    /// Transport of forwarded requests and responses (transfers always use
    /// [`Transport::Stream`], so the bandwidth model applies). Default [`Transport::Stream`].
    pub transport: Transport,
    /// How long a transfer batch may go without progress before its `Move` is sent again,
    /// `> 0`. A batch times out only when no batch of the same (old owner, new owner) pair
    /// was acknowledged within this time either, so batches queued behind their siblings on a
    /// slow link are not retried. Default 2 s.
    pub transfer_timeout: SimDuration,
    /// Most re-sends of one batch; a batch still unacknowledged after them is abandoned
    /// (`transfer_failures`, its keys in `keys_lost`) so the rebalance completes. Default 3.
    pub max_transfer_retries: u32,
    /// Extra delay a request pays when policy [`InFlight::ServeFromNew`] sends it to a new
    /// owner that has not received the key yet (the miss is detected, then the request is
    /// served by the old owner). Default 0 (the new owner's own service time and the extra
    /// hops are still paid).
    pub miss_penalty: SimDuration,
}

/// One shard.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ShardTarget {
    /// The component holding the shard (a service, a cache, a load balancer, ...).
    pub target: ComponentId,
    /// Relative capacity `>= 1`: ring points per virtual node (`Consistent`), range width
    /// (`Range`) or score draws (`Rendezvous`); ignored by `Mod`. Default 1.
    pub weight: u32,
}

/// A scheduled membership change.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct MembershipChange {
    /// When, from the start of the run.
    pub at: SimDuration,
    /// What.
    pub action: Action,
}

/// Add or remove one shard (by component; it must be one of `shards`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Action {
    /// The shard joins: keys it now owns move to it from their old owners.
    Add(ComponentId),
    /// The shard leaves: its keys move to their new owners (it stays up until they are sent).
    Remove(ComponentId),
}

/// Serving keys whose data is still moving.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum InFlight {
    /// The old owner keeps serving until the key's batch is acknowledged (dual ownership, as
    /// in most online migrations): no errors, old owner's load during the move.
    ServeFromOld,
    /// The new owner is asked first. If its answer comes back before the key's batch is
    /// acknowledged, the key had not arrived: a miss (`inflight_misses`), and the request is
    /// sent on to the old owner after `miss_penalty` (read-through from the old owner, as in
    /// online migrations that fall back on a miss). The caller sees both round trips.
    ServeFromNew,
    /// The router answers [`crate::Status::Unavailable`] (counted in `rebalance_errors`).
    Fail,
}

/// Hot-key mitigation by replication: the `top` most popular keys (keys `0..top`, the Zipf
/// convention of [`crate::Request::key`]) are held by `replicas` distinct shards — the owner and
/// the next members in shard order — and reads of them are spread uniformly over those shards.
/// Writes still go to the owner only (keeping replicas in sync is not modelled).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct HotKeys {
    /// How many hot keys, `>= 1`.
    pub top: u64,
    /// Shards per hot key, `>= 2`.
    pub replicas: u32,
}

impl ShardRouterConfig {
    /// A router over `targets` (weight 1, all members) with every other field at its
    /// documented default.
    pub fn new(targets: &[ComponentId]) -> ShardRouterConfig {
        ShardRouterConfig {
            shards: targets
                .iter()
                .map(|&target| ShardTarget { target, weight: 1 })
                .collect(),
            initial: targets.len(),
            scheme: Scheme::Consistent { vnodes: 100 },
            membership: Vec::new(),
            keys: 100_000,
            value_size: 1024,
            batch_bytes: 1 << 20,
            in_flight: InFlight::ServeFromOld,
            hot_keys: None,
            transport: Transport::Stream,
            transfer_timeout: SimDuration::from_secs(2),
            max_transfer_retries: 3,
            miss_penalty: SimDuration::ZERO,
        }
    }

    /// The shard index of `c`, if it is one of `shards`.
    pub fn index_of(&self, c: ComponentId) -> Option<usize> {
        self.shards.iter().position(|s| s.target == c)
    }

    /// Membership changes sorted by time (stable: equal times keep configuration order).
    pub fn schedule(&self) -> Vec<MembershipChange> {
        let mut v = self.membership.clone();
        v.sort_by_key(|m| m.at);
        v
    }

    /// Checks every field against its documented range, and replays the membership schedule
    /// (an added shard must not be a member, a removed one must be, one member must remain).
    pub fn validate(&self) -> Result<(), ConfigError> {
        let n = self.shards.len();
        if n == 0 {
            return Err(ConfigError::new(
                "shards",
                "is empty, but a shard router needs at least one shard",
            ));
        }
        if n > MAX_SHARDS {
            return Err(ConfigError::new(
                "shards",
                format!("has {n} entries, but at most {MAX_SHARDS} are supported"),
            ));
        }
        for (i, s) in self.shards.iter().enumerate() {
            if s.weight == 0 {
                return Err(ConfigError::new(
                    format!("shards[{i}].weight"),
                    "is 0, but it must be >= 1",
                ));
            }
            if self.shards[..i].iter().any(|o| o.target == s.target) {
                return Err(ConfigError::new(
                    format!("shards[{i}]"),
                    "lists a shard already listed: each shard may appear once (use `weight`)",
                ));
            }
        }
        if self.initial == 0 || self.initial > n {
            return Err(ConfigError::new(
                "initial",
                format!(
                    "is {}, but it must be between 1 and the shard count ({n})",
                    self.initial
                ),
            ));
        }
        if let Scheme::Consistent { vnodes } = self.scheme {
            let points: u64 = self
                .shards
                .iter()
                .map(|s| u64::from(vnodes) * u64::from(s.weight))
                .sum();
            if vnodes == 0 || points > 1 << 24 {
                return Err(ConfigError::new(
                    "partitioner.vnodes",
                    format!(
                        "is {vnodes}, but it must be >= 1 with at most 2^24 ring points in all \
                         (vnodes × Σ weights = {points})"
                    ),
                ));
            }
        }
        if self.keys == 0 || self.keys > MAX_KEYS {
            return Err(ConfigError::new(
                "keys",
                format!("is {}, but it must be between 1 and {MAX_KEYS}", self.keys),
            ));
        }
        if self.value_size == 0 {
            return Err(ConfigError::new(
                "value_size",
                "is 0, but it must be >= 1 byte",
            ));
        }
        if self.batch_bytes < self.value_size {
            return Err(ConfigError::new(
                "batch_bytes",
                format!(
                    "is {}, but it must be at least value_size ({})",
                    self.batch_bytes, self.value_size
                ),
            ));
        }
        if self.transfer_timeout == SimDuration::ZERO {
            return Err(ConfigError::new(
                "transfer_timeout",
                "is 0, but it must be > 0",
            ));
        }
        if let Some(h) = self.hot_keys {
            if h.top == 0 {
                return Err(ConfigError::new(
                    "hot_keys.top",
                    "is 0, but it must be >= 1",
                ));
            }
            if h.replicas < 2 {
                return Err(ConfigError::new(
                    "hot_keys.replicas",
                    format!("is {}, but it must be >= 2", h.replicas),
                ));
            }
        }
        let mut member: Vec<bool> = (0..n).map(|i| i < self.initial).collect();
        let mut order: Vec<usize> = (0..self.membership.len()).collect();
        order.sort_by_key(|&i| self.membership[i].at);
        for i in order {
            let field = format!("membership[{i}].action");
            let (c, add) = match self.membership[i].action {
                Action::Add(c) => (c, true),
                Action::Remove(c) => (c, false),
            };
            let Some(s) = self.index_of(c) else {
                return Err(ConfigError::new(
                    field,
                    "names a component that is not one of `shards`",
                ));
            };
            if member[s] == add {
                return Err(ConfigError::new(
                    field,
                    if add {
                        format!("adds shards[{s}], which is already a member at that time")
                    } else {
                        format!("removes shards[{s}], which is not a member at that time")
                    },
                ));
            }
            member[s] = add;
            if !member.iter().any(|&m| m) {
                return Err(ConfigError::new(
                    field,
                    "removes the last member: one must remain",
                ));
            }
        }
        Ok(())
    }

    /// The shard components, in configuration order.
    pub fn targets(&self) -> Vec<ComponentId> {
        self.shards.iter().map(|s| s.target).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_validate_and_bad_values_name_their_field() {
        let ids = [ComponentId(1), ComponentId(2), ComponentId(3)];
        let mut c = ShardRouterConfig::new(&ids);
        c.validate().unwrap();
        c.initial = 2;
        c.membership.push(MembershipChange {
            at: SimDuration::from_secs(5),
            action: Action::Add(ComponentId(3)),
        });
        c.validate().unwrap();
        c.membership.push(MembershipChange {
            at: SimDuration::from_secs(1),
            action: Action::Add(ComponentId(3)),
        });
        // The earlier change (index 1) adds shard 2 first, so index 0 re-adds it.
        assert_eq!(c.validate().unwrap_err().field, "membership[0].action");
        c.membership[1].action = Action::Remove(ComponentId(9));
        assert_eq!(c.validate().unwrap_err().field, "membership[1].action");
        c.membership.clear();
        type Edit = fn(&mut ShardRouterConfig);
        let cases: [(&str, Edit); 9] = [
            ("transfer_timeout", |c| {
                c.transfer_timeout = SimDuration::ZERO
            }),
            ("initial", |c| c.initial = 0),
            ("initial", |c| c.initial = 4),
            ("shards[1].weight", |c| c.shards[1].weight = 0),
            ("shards[1]", |c| c.shards[1] = c.shards[0]),
            ("keys", |c| c.keys = 0),
            ("batch_bytes", |c| c.batch_bytes = 10),
            ("partitioner.vnodes", |c| {
                c.scheme = Scheme::Consistent { vnodes: 0 }
            }),
            ("hot_keys.replicas", |c| {
                c.hot_keys = Some(HotKeys {
                    top: 1,
                    replicas: 1,
                })
            }),
        ];
        for (field, f) in cases {
            let mut c = ShardRouterConfig::new(&ids);
            f(&mut c);
            assert_eq!(c.validate().unwrap_err().field, field);
        }
    }
}
