//! Node clocks: each node reads a local clock that is offset from and drifts against true time.
//!
//! `local(t) = t + offset_ns + t * drift_ppb / 10^9`, computed exactly in `i128` integer math and
//! clamped at zero. Models use true time ([`crate::Ctx::now`]) for metrics and local time
//! ([`crate::Ctx::local_time`]) for anything a real node would read from its own clock: leases,
//! TTLs, last-writer-wins timestamps. Clock steps (NTP corrections, operator mistakes) are faults
//! that add to the offset at a given instant.

use crate::time::SimTime;

/// A node's local clock model.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub struct NodeClock {
    /// Constant offset from true time, in nanoseconds (may be negative).
    pub offset_ns: i64,
    /// Drift rate in parts per billion: +1000 ppb (= 1 ppm) gains 1 µs per true second.
    pub drift_ppb: i64,
}

impl NodeClock {
    /// A perfect clock.
    pub const PERFECT: NodeClock = NodeClock {
        offset_ns: 0,
        drift_ppb: 0,
    };

    /// A clock with the given offset and drift in parts per million.
    pub fn new(offset_ns: i64, drift_ppm: i64) -> NodeClock {
        NodeClock {
            offset_ns,
            drift_ppb: drift_ppm.saturating_mul(1000),
        }
    }

    /// The local reading at true time `t`, clamped to `[0, SimTime::MAX]`.
    pub fn local(&self, t: SimTime) -> SimTime {
        let t_ns = i128::from(t.as_nanos());
        // Drift is truncated toward zero: exact integer arithmetic, no float rounding.
        let local =
            t_ns + i128::from(self.offset_ns) + t_ns * i128::from(self.drift_ppb) / 1_000_000_000;
        SimTime::from_nanos(local.clamp(0, i128::from(u64::MAX)) as u64)
    }

    /// Applies a step of `delta_ns` (positive jumps forward).
    pub fn step(&mut self, delta_ns: i64) {
        self.offset_ns = self.offset_ns.saturating_add(delta_ns);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn offset_and_drift_are_exact() {
        let c = NodeClock::new(-5_000_000, 100); // -5 ms, +100 ppm
        // After 10 s of true time: +1 ms of drift, -5 ms offset.
        let t = SimTime::from_nanos(10_000_000_000);
        assert_eq!(
            c.local(t).as_nanos(),
            10_000_000_000 - 5_000_000 + 1_000_000
        );
        // Negative local readings clamp to zero.
        assert_eq!(c.local(SimTime::ZERO), SimTime::ZERO);
        let slow = NodeClock {
            offset_ns: 0,
            drift_ppb: -1,
        };
        // -1 ppb over 999,999,999 ns truncates toward zero: no drift yet.
        assert_eq!(
            slow.local(SimTime::from_nanos(999_999_999)).as_nanos(),
            999_999_999
        );
        assert_eq!(
            slow.local(SimTime::from_nanos(3_000_000_000)).as_nanos(),
            2_999_999_997
        );
    }

    #[test]
    fn steps_accumulate() {
        let mut c = NodeClock::PERFECT;
        c.step(2_000);
        c.step(-500);
        assert_eq!(c.local(SimTime::from_nanos(10_000)).as_nanos(), 11_500);
    }
}
