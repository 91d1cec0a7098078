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
mod nvdimm;
mod placement;
mod region;
mod resource;
mod versions;

use crate::kernel::machine::{AddOptions, Config, Machine};
use crate::kernel::memory::{BlockState, MemoryBlock, Zone};
use crate::kernel::{KResult, KernelVersion, Trace};
use crate::testutil::t0;

pub(super) fn v(s: &str) -> KernelVersion {
    s.parse().unwrap()
}

/// The machine booted on T0 (kernel-semantics.md §6.0) under kernel `ver`.
pub(super) fn m(ver: &str) -> Machine {
    Machine::boot(
        t0(),
        Config {
            version: v(ver),
            ..Config::default()
        },
    )
}

/// `add_memory(nid 0, start, size)` with no options.
pub(super) fn add(mc: &mut Machine, start: u64, size: u64, tr: &mut Trace) -> KResult<()> {
    mc.add_memory(0, start, size, &AddOptions::default(), tr)
}

/// A non-boot, removable block of node 0.
pub(super) fn blk(id: u64, state: BlockState, zone: Option<Zone>) -> MemoryBlock {
    MemoryBlock {
        id,
        state,
        zone,
        nid: 0,
        removable: true,
        boot: false,
    }
}
