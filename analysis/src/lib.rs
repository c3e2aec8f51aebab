//! clustersim-analysis (placeholder, rewritten by the lead).
#![warn(missing_docs)]

pub mod atomic;
pub mod design;
pub mod journal;
pub mod stats;
