//! [`ConfigError`]: why a model configuration is invalid.

use std::fmt;

/// A model configuration value outside its allowed range.
///
/// `field` is the path of the offending field inside the config, in the spelling of the Rust
/// struct (e.g. `"mix"`, `"modulation[1].amplitude"`, `"calls[0].probability"`), so the
/// scenarios crate can map it back to a location in the scenario file. `problem` states the
/// value and the allowed range.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ConfigError {
    /// Path of the field, e.g. `"retry.backoff_multiplier"`.
    pub field: String,
    /// What is wrong, with the allowed range.
    pub problem: String,
}

impl ConfigError {
    pub(crate) fn new(field: impl Into<String>, problem: impl Into<String>) -> ConfigError {
        ConfigError {
            field: field.into(),
            problem: problem.into(),
        }
    }
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "`{}`: {}", self.field, self.problem)
    }
}

impl std::error::Error for ConfigError {}

/// `Ok` when `v` is finite and `>= 0`.
pub(crate) fn non_negative(field: &str, v: f64) -> Result<(), ConfigError> {
    if v.is_finite() && v >= 0.0 {
        Ok(())
    } else {
        Err(ConfigError::new(
            field,
            format!("is {v:?}, but it must be finite and >= 0"),
        ))
    }
}

/// `Ok` when `v` is finite and `> 0`.
pub(crate) fn positive(field: &str, v: f64) -> Result<(), ConfigError> {
    if v.is_finite() && v > 0.0 {
        Ok(())
    } else {
        Err(ConfigError::new(
            field,
            format!("is {v:?}, but it must be finite and > 0"),
        ))
    }
}

/// `Ok` when `v` is in `[0, 1]`.
pub(crate) fn probability(field: &str, v: f64) -> Result<(), ConfigError> {
    if (0.0..=1.0).contains(&v) {
        Ok(())
    } else {
        Err(ConfigError::new(
            field,
            format!("is {v:?}, but it must be a probability in [0, 1]"),
        ))
    }
}
