//! Unit-testing components without a simulation: a [`Harness`] owns everything a [`Ctx`] borrows,
//! calls one handler, and hands back the commands it requested.

use crate::clock::NodeClock;
use crate::component::{Command, Ctx, Protocol, TimerTable};
use crate::id::{ComponentId, NodeId};
use crate::metrics::Recorder;
use crate::net::Transport;
use crate::rng::{self, Rng};
use crate::time::SimTime;

/// Drives single handlers of a component under test.
pub struct Harness {
    /// The time handlers see.
    pub now: SimTime,
    /// The id the component under test has.
    pub me: ComponentId,
    /// Its node.
    pub node: NodeId,
    /// Its node's clock.
    pub clock: NodeClock,
    /// Slowdown in per-mille.
    pub slowdown_permille: u32,
    /// Its RNG stream.
    pub rng: Rng,
    /// Timer keys handed out.
    pub timers: TimerTable,
    /// Metrics it records.
    pub metrics: Recorder,
}

impl Harness {
    /// A harness for component 0 on node 0 at time zero, with the RNG stream of a component
    /// named `name` under `seed`.
    pub fn new(seed: u64, name: &str) -> Harness {
        Harness {
            now: SimTime::ZERO,
            me: ComponentId(0),
            node: NodeId(0),
            clock: NodeClock::PERFECT,
            slowdown_permille: 1000,
            rng: rng::stream(seed, "component", name),
            timers: TimerTable::default(),
            metrics: Recorder::default(),
        }
    }

    /// Calls `f` with a context and returns the commands it requested, in order.
    pub fn call<P: Protocol>(&mut self, f: impl FnOnce(&mut Ctx<'_, P>)) -> Vec<Command<P>> {
        let mut out = Vec::new();
        let mut cx = Ctx {
            now: self.now,
            me: self.me,
            node: self.node,
            clock: self.clock,
            slowdown_permille: self.slowdown_permille,
            default_transport: Transport::Stream,
            rng: &mut self.rng,
            out: &mut out,
            timers: &mut self.timers,
            metrics: &mut self.metrics,
        };
        f(&mut cx);
        out
    }
}
