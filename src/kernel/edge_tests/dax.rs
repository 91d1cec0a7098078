//! Edge tests for `src/kernel/dax.rs`.
