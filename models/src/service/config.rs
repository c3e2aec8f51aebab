//! Plain-Rust configuration of the service model. The scenarios crate builds it from RON; every
//! default is stated on the item that has it (and applied by [`ServiceConfig::new`]).

use clustersim_engine::{ComponentId, Dist, SimDuration, Transport};

use crate::error::{ConfigError, probability};
use crate::msg::Op;

/// Most downstream calls one service may list (the per-request bookkeeping is a 64-bit mask).
pub const MAX_CALLS: usize = 64;

/// A service modelled as a queueing station: `instances` identical instances, each with
/// `workers` workers and a FIFO queue, optionally calling downstream services.
#[derive(Clone, Debug, PartialEq)]
pub struct ServiceConfig {
    /// Number of instances requests are spread over, `>= 1`. Default 1.
    pub instances: u32,
    /// Workers (servers, threads) per instance, `>= 1`. Default 1.
    pub workers: u32,
    /// Waiting room per instance; a request arriving at a full queue is answered
    /// [`crate::Status::Rejected`]. `None` = unbounded (the default); `Some(0)` = no waiting
    /// room (an Erlang-loss station).
    pub queue_capacity: Option<u32>,
    /// Local work per request in nanoseconds, sampled when service starts and multiplied by the
    /// node's slowdown.
    pub service_time: Dist,
    /// How an arriving request picks an instance. Default [`Dispatch::RoundRobin`].
    pub dispatch: Dispatch,
    /// Downstream calls made after the local work, each with its own probability. Default none.
    /// At most [`MAX_CALLS`].
    pub calls: Vec<Call>,
    /// Whether the selected calls go one after another or all at once. Default
    /// [`CallMode::Sequential`].
    pub call_mode: CallMode,
    /// `true` (the default): the worker stays busy until the calls finish and the response is
    /// sent (thread-per-request servers). `false`: the worker is released when the local work
    /// ends and the calls wait without holding it (asynchronous servers).
    pub hold_worker_during_calls: bool,
    /// How long to wait for each downstream call before failing it. Default `None` (wait until
    /// the response or a send failure arrives; a callee that crashes with the request queued
    /// never answers, so set a timeout for fault scenarios).
    pub call_timeout: Option<SimDuration>,
    /// Response payload size in bytes, for `Ok` and `Error` responses (a `Rejected` response
    /// carries 0 bytes). Default constant 0.
    pub response_size: Dist,
    /// Transport of responses and downstream calls. Default [`Transport::Stream`].
    pub transport: Transport,
    /// Whether the service is a versioned store (a source of truth for caches): every key has
    /// a version, a completed `Write` sets it to the completion time in nanoseconds (bumped to
    /// stay strictly increasing per key), and every response carries the key's version after
    /// the request ([`crate::Response::version`]); never-written keys have version 1. Versions
    /// survive crashes (a durable store). Default `false` (responses carry version 0).
    pub versioned: bool,
}

/// How an arriving request picks an instance.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Dispatch {
    /// Instances in turn.
    RoundRobin,
    /// A uniformly random instance (from the service's own RNG stream).
    Random,
    /// The instance with the fewest requests (busy workers plus queued); ties go to the lowest
    /// index.
    JoinShortestQueue,
}

/// Whether downstream calls are made one after another or all at once.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CallMode {
    /// In list order; each call is sent when the previous one succeeded.
    Sequential,
    /// All selected calls at once; the request continues when all have succeeded.
    Parallel,
}

/// One downstream call a service may make per request.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Call {
    /// The component called.
    pub target: ComponentId,
    /// Probability that a request makes this call, in `[0, 1]` (drawn independently per call
    /// and request).
    pub probability: f64,
    /// The op of the downstream request; `None` = the incoming request's op. The key and size
    /// are always the incoming request's.
    pub op: Option<Op>,
}

impl ServiceConfig {
    /// One instance with one worker, an unbounded queue and the given service time; every other
    /// field at its documented default.
    pub fn new(service_time: Dist) -> ServiceConfig {
        ServiceConfig {
            instances: 1,
            workers: 1,
            queue_capacity: None,
            service_time,
            dispatch: Dispatch::RoundRobin,
            calls: Vec::new(),
            call_mode: CallMode::Sequential,
            hold_worker_during_calls: true,
            call_timeout: None,
            response_size: Dist::constant(0.0).expect("0 is a valid constant"),
            transport: Transport::Stream,
            versioned: false,
        }
    }

    /// Checks every field against its documented range.
    pub fn validate(&self) -> Result<(), ConfigError> {
        if self.instances == 0 {
            return Err(ConfigError::new("instances", "is 0, but it must be >= 1"));
        }
        if self.workers == 0 {
            return Err(ConfigError::new("workers", "is 0, but it must be >= 1"));
        }
        if u64::from(self.instances) * u64::from(self.workers) > u64::from(u32::MAX) {
            return Err(ConfigError::new(
                "workers",
                "instances × workers must fit in 32 bits (at most 4,294,967,295 servers)",
            ));
        }
        if self.calls.len() > MAX_CALLS {
            return Err(ConfigError::new(
                "calls",
                format!(
                    "has {} entries, but at most {MAX_CALLS} are supported",
                    self.calls.len()
                ),
            ));
        }
        for (i, c) in self.calls.iter().enumerate() {
            probability(&format!("calls[{i}].probability"), c.probability)?;
        }
        if self.call_timeout.is_some_and(SimDuration::is_zero) {
            return Err(ConfigError::new(
                "call_timeout",
                "is 0, but it must be > 0 (leave it out to wait forever)",
            ));
        }
        Ok(())
    }

    /// Total servers: `instances × workers`.
    pub fn servers(&self) -> u64 {
        u64::from(self.instances) * u64::from(self.workers)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_validate_and_bad_values_name_their_field() {
        let st = Dist::exponential(1e6).unwrap();
        let mut c = ServiceConfig::new(st);
        c.validate().unwrap();
        c.instances = 0;
        assert_eq!(c.validate().unwrap_err().field, "instances");
        c.instances = 2;
        c.workers = 0;
        assert_eq!(c.validate().unwrap_err().field, "workers");
        c.workers = 3;
        assert_eq!(c.servers(), 6);
        c.calls.push(Call {
            target: ComponentId(0),
            probability: 1.5,
            op: None,
        });
        assert_eq!(c.validate().unwrap_err().field, "calls[0].probability");
        c.calls[0].probability = 1.0;
        c.call_timeout = Some(SimDuration::ZERO);
        assert_eq!(c.validate().unwrap_err().field, "call_timeout");
        c.call_timeout = None;
        c.calls = vec![
            Call {
                target: ComponentId(0),
                probability: 1.0,
                op: None
            };
            MAX_CALLS + 1
        ];
        assert_eq!(c.validate().unwrap_err().field, "calls");
    }
}
