//! # clustersim-scenarios: RON scenario files
//!
//! **Job.** Turn the text users write into a runnable simulation, or into errors that say
//! exactly where and what is wrong. This is the only crate that parses text and the only place
//! where names become ids.
//!
//! **Pipeline.** text → [`raw::Scenario`] (serde, [`load`]) → `--set` overrides
//! ([`overrides`]) → [`validate::validate`] → [`validate::Spec`] (dense ids, engine and model
//! types) → [`build::build`] → `Sim`.
//!
//! **Key decision.** Two phases, like ripgrep's LowArgs → HiArgs: the raw schema mirrors the
//! file one to one (unknown fields rejected, externally tagged enums only, so ron reports
//! line, column and the allowed alternatives); semantic checks then collect *every* problem with
//! its field path. The loader enables ron's `implicit_some` and `unwrap_variant_newtypes`
//! extensions, so files need no `Some(...)` and write `Service(workers: 4)` directly.
//!
//! **Must not depend on:** the analysis crate, threads, terminals or output files.
#![warn(missing_docs)]

pub mod build;
pub mod diagnostic;
pub mod estimate;
pub mod load;
pub mod overrides;
pub mod raw;
pub mod raw_messaging;
pub mod raw_patterns;
pub mod raw_store;
pub mod search;
pub mod units;
pub mod validate;

use std::path::Path;

pub use diagnostic::{Diagnostic, ScenarioError};
pub use validate::Spec;

/// A loaded scenario: the raw form (after overrides, for manifests and sweeps) and its
/// validated spec.
#[derive(Clone, Debug)]
pub struct Loaded {
    /// The file as parsed, with overrides applied.
    pub raw: raw::Scenario,
    /// The validated form.
    pub spec: Spec,
}

/// Loads, overrides and validates a scenario file.
pub fn load_file(path: &Path, overrides: &[overrides::Override]) -> Result<Loaded, ScenarioError> {
    let raw: raw::Scenario = load::from_file(path)?;
    prepare(raw, path, overrides)
}

/// Applies overrides to a parsed scenario and validates it; `path` is used in messages.
pub fn prepare(
    raw: raw::Scenario,
    path: &Path,
    overrides: &[overrides::Override],
) -> Result<Loaded, ScenarioError> {
    let raw = if overrides.is_empty() {
        raw
    } else {
        overrides::apply_overrides(&raw, overrides).map_err(|e| {
            ScenarioError::semantic(path, vec![Diagnostic::new("--set", e.to_string())])
        })?
    };
    let spec = validate::validate(&raw).map_err(|d| ScenarioError::semantic(path, d))?;
    Ok(Loaded { raw, spec })
}
