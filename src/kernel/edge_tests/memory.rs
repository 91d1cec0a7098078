//! Edge tests for `src/kernel/memory.rs`.
