//! Cross-crate integration test helpers (see `it/`).
