//! clustersim-scenarios: RON scenario files (placeholder, rewritten by the lead).
#![warn(missing_docs)]

pub mod diagnostic;
pub mod load;
pub mod units;
