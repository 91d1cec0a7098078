//! Edge tests for `src/kernel/hotplug.rs`.
