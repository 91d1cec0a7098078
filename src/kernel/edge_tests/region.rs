//! Edge tests for `src/kernel/region.rs`.
