//! Boundary tests for the kernel rules (issue 16): exact touch, one-byte overlap at each end,
//! equal ranges, zero and maximum sizes, the last addressable byte, aligned vs unaligned, and
//! each version on both sides of each version boundary. Every expectation comes from the
//! kernel's code (the deciding line is quoted; sources under /work/ksrc/linux-source-*/) or a
//! real capture, never from the simulator's own output. They live apart from the rule modules
//! so that other branches can edit those modules without merge conflicts; each test names the
//! mutant class it is meant to kill (`cargo mutants`, see README "Testing").

mod blocks;
mod dax;
mod hotplug;
mod hotplug_paths;
mod memory;
mod region;
mod resource;

use crate::kernel::KernelVersion;

pub(super) fn v(s: &str) -> KernelVersion {
    s.parse().unwrap()
}
