//! The plugin boundary: [`Protocol`], [`Component`] and the handler context [`Ctx`].
//!
//! Components are *sans-IO*: a handler gets `&mut self`, its input and a [`Ctx`]; it reads the
//! time, its own RNG stream and its node's clock, records metrics, and *requests* effects (send a
//! message, set a timer). Requested sends and timers are buffered as [`Command`]s and applied by
//! the kernel after the handler returns, in request order. A handler therefore never observes a
//! half-applied effect, there is no re-entrancy, and a component can be unit-tested by calling
//! its handlers with a context from [`crate::testing::Harness`] and inspecting the commands.

use std::fmt::Debug;

use crate::clock::NodeClock;
use crate::id::{ComponentId, NodeId, SeriesId};
use crate::metrics::Recorder;
use crate::net::{DropCause, Transport};
use crate::rng::{Rng, StableHash};
use crate::time::{SimDuration, SimTime};

/// The closed message and timer vocabulary of one simulation, supplied by the models crate.
///
/// Both are plain enums: exhaustive matching, no downcasts, cheap clones, stable hashing.
pub trait Protocol: 'static {
    /// Messages components send each other.
    type Msg: Clone + Debug + StableHash + Send + 'static;
    /// Timers components set on themselves.
    type Timer: Clone + Debug + StableHash + Send + 'static;
}

/// A model instance hosted on a node. See the module docs for the contract.
pub trait Component<P: Protocol>: Send {
    /// Called once at time zero (in component id order), and by default again on restart.
    fn on_start(&mut self, cx: &mut Ctx<'_, P>) {
        let _ = cx;
    }
    /// A message arrived from `from`.
    fn on_message(&mut self, cx: &mut Ctx<'_, P>, from: ComponentId, msg: P::Msg);
    /// A timer this component set has fired (cancelled and pre-crash timers never fire).
    fn on_timer(&mut self, cx: &mut Ctx<'_, P>, timer: P::Timer) {
        let _ = (cx, timer);
    }
    /// A stream message could not be delivered (partition outlasted the failure timeout,
    /// destination down or crashed, too many retransmissions, no route). The message is handed back so the model
    /// can fail the request it belonged to. Datagram losses are silent, as with UDP.
    fn on_send_failed(
        &mut self,
        cx: &mut Ctx<'_, P>,
        to: ComponentId,
        msg: P::Msg,
        cause: DropCause,
    ) {
        let _ = (cx, to, msg, cause);
    }
    /// The node crashed: drop volatile state. Timers are already invalidated by the kernel.
    fn on_crash(&mut self) {}
    /// The node restarted after a crash (recovery hook). Defaults to [`Component::on_start`].
    fn on_restart(&mut self, cx: &mut Ctx<'_, P>) {
        self.on_start(cx);
    }
}

/// A handle to a pending timer, for cancellation. Stale handles are harmless.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct TimerKey {
    slot: u32,
    generation: u32,
}

/// Timer generations: a timer fires only if its slot still has the generation it was set with.
/// Cancelling bumps the generation and frees the slot, so cancellation is O(1) and lazy: the
/// queue entry stays and is discarded when popped.
#[derive(Debug, Default)]
pub struct TimerTable {
    generation: Vec<u32>,
    free: Vec<u32>,
}

impl TimerTable {
    /// Allocates a key for a new timer.
    #[inline]
    pub fn allocate(&mut self) -> TimerKey {
        match self.free.pop() {
            Some(slot) => TimerKey {
                slot,
                generation: self.generation[slot as usize],
            },
            None => {
                self.generation.push(0);
                TimerKey {
                    slot: (self.generation.len() - 1) as u32,
                    generation: 0,
                }
            }
        }
    }
    /// Retires `key`; returns whether it was live (not yet fired or cancelled).
    #[inline]
    pub fn retire(&mut self, key: TimerKey) -> bool {
        let g = &mut self.generation[key.slot as usize];
        if *g != key.generation {
            return false;
        }
        *g = g.wrapping_add(1);
        self.free.push(key.slot);
        true
    }
    /// Whether `key` is still live.
    pub fn is_live(&self, key: TimerKey) -> bool {
        self.generation.get(key.slot as usize) == Some(&key.generation)
    }
}

/// How a message is sent.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SendOptions {
    /// Datagram or stream.
    pub transport: Transport,
    /// Wire size in bytes (drives serialization delay on bandwidth-limited links).
    pub size_bytes: u32,
}

/// An effect requested by a handler, applied by the kernel after the handler returns.
#[derive(Clone, Debug)]
pub enum Command<P: Protocol> {
    /// Send `msg` to `dst` through the network.
    Send {
        /// Destination.
        dst: ComponentId,
        /// Payload.
        msg: P::Msg,
        /// Transport and size.
        opts: SendOptions,
    },
    /// Deliver `msg` to `dst` after exactly `delay`, bypassing the network (no loss, no
    /// partition): for in-process calls and abstract models.
    Direct {
        /// Destination.
        dst: ComponentId,
        /// Payload.
        msg: P::Msg,
        /// Delay.
        delay: SimDuration,
    },
    /// Fire `timer` at `at`.
    SetTimer {
        /// Handle for cancellation.
        key: TimerKey,
        /// Absolute firing time.
        at: SimTime,
        /// Payload.
        timer: P::Timer,
    },
}

/// Everything a handler may touch. Built by the kernel for each event; cheap (a few references).
pub struct Ctx<'a, P: Protocol> {
    pub(crate) now: SimTime,
    pub(crate) me: ComponentId,
    pub(crate) node: NodeId,
    pub(crate) clock: NodeClock,
    pub(crate) slowdown_permille: u32,
    pub(crate) default_transport: Transport,
    pub(crate) rng: &'a mut Rng,
    pub(crate) out: &'a mut Vec<Command<P>>,
    pub(crate) timers: &'a mut TimerTable,
    pub(crate) metrics: &'a mut Recorder,
}

impl<'a, P: Protocol> Ctx<'a, P> {
    /// True simulated time: use it for metrics, never for decisions a real node makes.
    #[inline]
    pub fn now(&self) -> SimTime {
        self.now
    }
    /// This node's local clock reading (offset, drift and steps applied): use it for leases,
    /// TTLs and last-writer-wins timestamps.
    #[inline]
    pub fn local_time(&self) -> SimTime {
        self.clock.local(self.now)
    }
    /// This component's id.
    #[inline]
    pub fn me(&self) -> ComponentId {
        self.me
    }
    /// The node hosting this component.
    #[inline]
    pub fn node(&self) -> NodeId {
        self.node
    }
    /// This component's own random stream.
    #[inline]
    pub fn rng(&mut self) -> &mut Rng {
        self.rng
    }
    /// The node's slowdown multiplier in per-mille (1000 = normal speed, 3000 = three times
    /// slower). Service models multiply their service times by it.
    #[inline]
    pub fn slowdown_permille(&self) -> u32 {
        self.slowdown_permille
    }
    /// Scales a service time by the node's slowdown.
    #[inline]
    pub fn scaled(&self, work: SimDuration) -> SimDuration {
        if self.slowdown_permille == 1000 {
            work
        } else {
            work.mul_permille(self.slowdown_permille)
        }
    }
    /// Sends `msg` to `dst` with the network's default transport and no size.
    #[inline]
    pub fn send(&mut self, dst: ComponentId, msg: P::Msg) {
        let opts = SendOptions {
            transport: self.default_transport,
            size_bytes: 0,
        };
        self.out.push(Command::Send { dst, msg, opts });
    }
    /// Sends `msg` to `dst` with an explicit transport and wire size.
    #[inline]
    pub fn send_with(
        &mut self,
        dst: ComponentId,
        msg: P::Msg,
        transport: Transport,
        size_bytes: u32,
    ) {
        self.out.push(Command::Send {
            dst,
            msg,
            opts: SendOptions {
                transport,
                size_bytes,
            },
        });
    }
    /// Delivers `msg` to `dst` after exactly `delay`, bypassing the network.
    #[inline]
    pub fn send_direct(&mut self, dst: ComponentId, delay: SimDuration, msg: P::Msg) {
        self.out.push(Command::Direct { dst, msg, delay });
    }
    /// Fires `timer` on this component after `after`; returns a key for cancellation.
    #[inline]
    pub fn set_timer(&mut self, after: SimDuration, timer: P::Timer) -> TimerKey {
        let key = self.timers.allocate();
        self.out.push(Command::SetTimer {
            key,
            at: self.now + after,
            timer,
        });
        key
    }
    /// Cancels a pending timer; a no-op if it already fired or was cancelled.
    #[inline]
    pub fn cancel_timer(&mut self, key: TimerKey) {
        self.timers.retire(key);
    }
    /// Adds `n` to a counter.
    #[inline]
    pub fn count(&mut self, series: SeriesId, n: u64) {
        self.metrics.add(self.now, series, n);
    }
    /// Sets a gauge.
    #[inline]
    pub fn gauge_set(&mut self, series: SeriesId, value: i64) {
        self.metrics.set(self.now, series, value);
    }
    /// Adds `delta` to a gauge.
    #[inline]
    pub fn gauge_add(&mut self, series: SeriesId, delta: i64) {
        self.metrics.adjust(self.now, series, delta);
    }
    /// Records a value (a latency in nanoseconds, a size) into a histogram.
    #[inline]
    pub fn record(&mut self, series: SeriesId, value: u64) {
        self.metrics.record(self.now, series, value);
    }
}
