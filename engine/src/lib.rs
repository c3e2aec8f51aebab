//! # clustersim-engine: the deterministic event kernel
//!
//! **Job.** Run one simulation of components exchanging messages over a simulated network, on
//! one thread, in a total order that depends only on the inputs and the seed.
//!
//! **Key decision.** Components are sans-IO state machines over a *closed* message enum supplied
//! by the models crate ([`Protocol`]); the kernel owns time, the queue, the network, faults and
//! randomness, and applies the effects a handler requests after it returns. This keeps the hot
//! loop free of allocation and downcasts, and makes every component testable alone
//! ([`testing::Harness`]).
//!
//! **Must not depend on:** RON, files, CSV, threads, terminals or the wall clock (see
//! `ARCHITECTURE.md`). A [`Sim`] is `Send` so whole runs can move between threads.
//!
//! ## Event ordering guarantees
//!
//! 1. Events are processed in increasing simulated time ([`SimTime`], integer nanoseconds).
//! 2. Events scheduled for the same instant are processed in the order they were scheduled
//!    (FIFO by a kernel-wide sequence number); the payload never influences order.
//! 3. A handler's requested effects are applied after it returns, in request order; a
//!    zero-delay send is still queued, never a direct call.
//! 4. At time zero every component's `on_start` runs in id order before any queued event.
//! 5. A cancelled timer never fires; timers set before a crash never fire after it.
//! 6. Stream messages between the same pair of components arrive in send order.
//!
//! ## Determinism contract
//!
//! Same builder calls + same seed + same binary ⇒ the same sequence of events and the same
//! [`RunSummary::digest`]. Every consumer of randomness owns its stream (see [`rng`]); nothing
//! iterates a hash map; no float decides event order.
//!
//! ## Example
//!
//! ```
//! use clustersim_engine::*;
//!
//! struct Ping;
//! impl Protocol for Ping { type Msg = u32; type Timer = (); }
//!
//! /// Bounces a counter back and forth until it reaches 10.
//! struct Player { peer: ComponentId, serve: bool }
//! impl Component<Ping> for Player {
//!     fn on_start(&mut self, cx: &mut Ctx<'_, Ping>) {
//!         if self.serve { cx.send(self.peer, 0); }
//!     }
//!     fn on_message(&mut self, cx: &mut Ctx<'_, Ping>, from: ComponentId, n: u32) {
//!         if n < 10 { cx.send(from, n + 1); }
//!     }
//! }
//!
//! let mut b = SimBuilder::<Ping>::new(42);
//! let region = b.add_region("eu");
//! let (n1, n2) = (b.add_node("a", region), b.add_node("b", region));
//! b.network().intra_region = LinkSpec::with_latency(Dist::constant(1_000_000.0).unwrap()); // 1 ms
//! b.add_component(n1, "alice", Box::new(Player { peer: ComponentId(1), serve: true }));
//! b.add_component(n2, "bob", Box::new(Player { peer: ComponentId(0), serve: false }));
//! let mut sim = b.build().unwrap();
//! // Run for one simulated second at most; the rally ends long before.
//! let summary = sim.run(Limits::new(SimTime::ZERO + SimDuration::from_secs(1), 1_000));
//! assert_eq!(summary.events, 11); // eleven deliveries, 1 ms apart
//! assert_eq!(summary.stop, StopReason::Exhausted);
//! // The last event: bob received 10 at 11 ms.
//! let last = sim.last_event().unwrap();
//! assert_eq!((last.kind, last.component), ("deliver", Some(ComponentId(1))));
//! assert_eq!(last.at, SimTime::from_nanos(11_000_000));
//! ```
#![warn(missing_docs)]

pub mod clock;
pub mod component;
pub mod dist;
pub mod fault;
mod hugepages;
pub mod id;
pub mod metrics;
pub mod net;
pub mod queue;
pub mod rng;
pub mod sim;
pub mod testing;
pub mod time;
pub mod topology;

pub use clock::NodeClock;
pub use component::{Command, Component, Ctx, Protocol, SendOptions, TimerKey};
pub use dist::{Dist, DistError};
pub use fault::{FaultAction, RandomFaults};
pub use id::{ComponentId, NodeId, RegionId, SeriesId};
pub use metrics::{MetricsReport, Recorder, SeriesKind, SeriesTotal, WindowRecord, WindowValue};
pub use net::{DropCause, DropCounts, LinkSpec, NetworkConfig, StreamConfig, Transport};
pub use rng::{StableHash, StableHasher};
pub use sim::{
    BuildError, EventInfo, Limits, Names, RunReport, RunSummary, Sim, SimBuilder, StopReason,
};
pub use time::{SimDuration, SimTime};
