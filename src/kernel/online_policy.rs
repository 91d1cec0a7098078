//! `memory_hotplug.online_policy` (v5.16+, mm/memory_hotplug.c): which zone the `online`
//! keyword (MMOP_ONLINE, also what auto-online with `online` uses) picks.
//!
//! * `contig-zones` (the default): [`MemoryBlocks::default_zone`](super::memory::MemoryBlocks::default_zone).
//! * `auto-movable`: `auto_movable_zone_for_pfn` — ZONE_MOVABLE as long as the MOVABLE:KERNEL
//!   ratio stays within `memory_hotplug.auto_movable_ratio` percent (default 301), else the
//!   default kernel zone. Static memory groups (one per ACPI memory device, "ACPI:
//!   memhotplug: use a single static memory group for a single memory device", and one per
//!   kmem dax device, `memory_group_register_static`, both v5.16) are onlined all-or-nothing
//!   MOVABLE: once any block of the group is in a kernel zone, the rest follow; the check asks
//!   whether the *whole remaining group* still fits.
//!
//! Read in 6.1.172 mm/memory_hotplug.c (`auto_movable_zone_for_pfn`,
//! `auto_movable_can_online_movable`, `auto_movable_stats_account_zone`). Modelled: one NUMA
//! node holds all boot memory (`present_early_pages` of the kernel zones = the boot tree's busy
//! System RAM; a dump carries no node information); `auto_movable_numa_aware` (default true)
//! then makes memory added with `--nid N` (N ≠ 0) go to the kernel zone. Not modelled: CMA
//! pages (counted MOVABLE by the kernel), dynamic groups (virtio-mem).

use super::KernelVersion;
use super::machine::Machine;
use super::memory::{BlockState, OnlineType, Zone};
use std::fmt;
use std::str::FromStr;

/// The policy (`memory_hotplug.online_policy=`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum OnlinePolicy {
    #[default]
    ContigZones,
    AutoMovable,
}

impl fmt::Display for OnlinePolicy {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            OnlinePolicy::ContigZones => "contig-zones",
            OnlinePolicy::AutoMovable => "auto-movable",
        })
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown online policy {0:?}: expected contig-zones or auto-movable")]
pub struct BadPolicy(pub String);

impl FromStr for OnlinePolicy {
    type Err = BadPolicy;
    fn from_str(s: &str) -> Result<Self, BadPolicy> {
        match s {
            "contig-zones" => Ok(OnlinePolicy::ContigZones),
            "auto-movable" => Ok(OnlinePolicy::AutoMovable),
            _ => Err(BadPolicy(s.to_string())),
        }
    }
}

/// The policy exists from v5.16 ("mm/memory_hotplug: memory group aware "auto-movable" online
/// policy"); before, every kernel behaves as `contig-zones`.
pub fn has_online_policy(v: KernelVersion) -> bool {
    super::boundaries::ONLINE_POLICY_AUTO_MOVABLE.applies(v)
}

/// A static memory group (`struct memory_group`, `is_dynamic = false`): blocks
/// `[first, last]`, `s.max_pages` = their pages.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct MemoryGroup {
    pub first: u64,
    pub last: u64,
    pub nid: i32,
}

const PAGE_SHIFT: u32 = super::region::PAGE_SHIFT;

impl Machine {
    /// `memory_group_register_static` for the blocks of one add (v5.16+).
    pub(crate) fn register_static_group(&mut self, nid: i32, first: u64, last: u64) {
        if has_online_policy(self.config.version) {
            self.groups.insert(first, MemoryGroup { first, last, nid });
        }
    }

    /// `memory_group_unregister` when the group's memory is gone.
    pub(crate) fn drop_groups_without_blocks(&mut self) {
        let blocks = &self.blocks;
        self.groups
            .retain(|_, g| blocks.range(g.first, g.last).next().is_some());
    }

    fn group_of(&self, id: u64) -> Option<MemoryGroup> {
        self.groups
            .range(..=id)
            .next_back()
            .map(|(_, g)| *g)
            .filter(|g| g.last >= id)
    }

    fn pages_per_block(&self) -> u64 {
        self.config.block_size >> PAGE_SHIFT
    }

    /// `zone_for_pfn_range(online_type, nid, group, …)` for one block: the policy applies to
    /// MMOP_ONLINE only; `online_kernel` / `online_movable` are explicit.
    pub(crate) fn zone_for_online(&self, nid: i32, id: u64, t: OnlineType) -> Zone {
        if t == OnlineType::Online
            && self.config.online_policy == OnlinePolicy::AutoMovable
            && has_online_policy(self.config.version)
        {
            return self.auto_movable_zone_for_pfn(nid, id);
        }
        self.blocks.zone_for_online(nid, id, t)
    }

    /// `auto_movable_zone_for_pfn(nid, group, pfn, nr_pages)` (6.1.172):
    /// ```c
    /// if (!auto_movable_ratio) goto kernel_zone;
    /// if (group && !group->is_dynamic) {
    ///         max_pages = group->s.max_pages;
    ///         online_pages = group->present_movable_pages;
    ///         if (group->present_kernel_pages) goto kernel_zone;
    /// } else if (!group || group->d.unit_pages == nr_pages) {
    ///         max_pages = nr_pages;
    /// } …
    /// nr_pages = max_pages - online_pages;
    /// if (!auto_movable_can_online_movable(NUMA_NO_NODE, group, nr_pages)) goto kernel_zone;
    /// if (auto_movable_numa_aware && !auto_movable_can_online_movable(nid, group, nr_pages))
    ///         goto kernel_zone;
    /// return &NODE_DATA(nid)->node_zones[ZONE_MOVABLE];
    /// ```
    fn auto_movable_zone_for_pfn(&self, nid: i32, id: u64) -> Zone {
        let kernel = self.blocks.default_kernel_zone(nid, id, id);
        if self.config.auto_movable_ratio == 0 {
            return kernel;
        }
        let ppb = self.pages_per_block();
        let (max_pages, online_pages) = match self.group_of(id) {
            Some(g) => {
                let mut movable = 0;
                for b in self.blocks.range(g.first, g.last) {
                    if b.state == BlockState::Online {
                        if b.zone == Some(Zone::Movable) {
                            movable += ppb;
                        } else {
                            // present_kernel_pages: anything !MOVABLE online → the rest too.
                            return kernel;
                        }
                    }
                }
                ((g.last - g.first + 1) * ppb, movable)
            }
            None => (ppb, 0),
        };
        let nr = max_pages - online_pages;
        if !self.auto_movable_can_online_movable(None, nr)
            || !self.auto_movable_can_online_movable(Some(nid), nr)
        {
            return kernel;
        }
        Zone::Movable
    }

    /// `auto_movable_can_online_movable(nid, group, nr_pages)` without dynamic groups:
    /// `movable_pages + nr_pages <= auto_movable_ratio * kernel_early_pages / 100`, where
    /// `kernel_early_pages` sums `present_early_pages` of the kernel zones and
    /// `movable_pages` the `present_pages` of ZONE_MOVABLE.
    fn auto_movable_can_online_movable(&self, nid: Option<i32>, nr_pages: u64) -> bool {
        let kernel_early = match nid {
            None | Some(0) => self.early_kernel_pages,
            Some(_) => 0,
        };
        let ppb = self.pages_per_block();
        let movable = self
            .blocks
            .iter()
            .filter(|b| b.state == BlockState::Online && b.zone == Some(Zone::Movable))
            .filter(|b| nid.is_none_or(|n| b.nid == n))
            .count() as u64
            * ppb;
        let ratio = u64::from(self.config.auto_movable_ratio);
        movable.saturating_add(nr_pages) <= ratio.saturating_mul(kernel_early) / 100
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::kernel::Trace;
    use crate::kernel::machine::{AddOptions, Config};
    use crate::testutil::t0;

    const G: u64 = 1 << 30;

    fn machine(ver: &str, policy: OnlinePolicy, ratio: u32) -> Machine {
        Machine::boot(
            t0(),
            Config {
                version: ver.parse().unwrap(),
                online_policy: policy,
                auto_movable_ratio: ratio,
                ..Config::default()
            },
        )
    }

    /// Add and `online` a range, returning the zones its blocks landed in.
    fn add_online(m: &mut Machine, start: u64, size: u64) -> Vec<Zone> {
        let tr = &mut Trace::new();
        m.add_memory(0, start, size, &AddOptions::default(), tr)
            .unwrap();
        m.online_memory(start, size, OnlineType::Online, tr)
            .unwrap();
        let bs = m.config.block_size;
        let mut z: Vec<Zone> = (start / bs..=(start + size - 1) / bs)
            .filter_map(|id| m.blocks.get(id).and_then(|b| b.zone))
            .collect();
        z.dedup();
        z
    }

    /// t0's boot System RAM is 0x9ec00 + 0x9ff00000 + 0xffe0000 bytes = 720766 pages
    /// (`present_early_pages`); with ratio 301, `movable_pages <= 301 * 720766 / 100 =
    /// 2169505` pages ≈ 8.276 GiB. A 4 GiB group fits; then a 4.25 GiB group (4 + 4.25 GiB =
    /// 2162688 pages) fits, a 4.5 GiB one (2228224 pages) does not and goes — all of it, as
    /// one static group — to the kernel zone.
    #[test]
    fn auto_movable_ratio_per_static_group() {
        let mut m = machine("6.1", OnlinePolicy::AutoMovable, 301);
        assert_eq!(m.early_kernel_pages, 720766);
        assert_eq!(add_online(&mut m, 0x100000000, 4 * G), [Zone::Movable]);
        let mut a = m.clone();
        assert_eq!(
            add_online(&mut a, 0x200000000, 4 * G + G / 4),
            [Zone::Movable]
        );
        assert_eq!(
            add_online(&mut m, 0x200000000, 4 * G + G / 2),
            [Zone::Normal]
        );
        // Ratio 0: `if (!auto_movable_ratio) goto kernel_zone;`
        let mut m = machine("6.1", OnlinePolicy::AutoMovable, 0);
        assert_eq!(add_online(&mut m, 0x100000000, G), [Zone::Normal]);
        // Before v5.16 there is no policy: contig-zones' default zone.
        let mut m = machine("5.15", OnlinePolicy::AutoMovable, 301);
        assert_eq!(add_online(&mut m, 0x100000000, G), [Zone::Normal]);
        // contig-zones (the default) on 6.1.
        let mut m = machine("6.1", OnlinePolicy::ContigZones, 301);
        assert_eq!(add_online(&mut m, 0x100000000, G), [Zone::Normal]);
    }

    /// `if (group->present_kernel_pages) goto kernel_zone;`: once a block of the group is in a
    /// kernel zone, `online` puts the rest there too; `online_movable` is explicit and ignores
    /// the policy.
    #[test]
    fn a_group_with_kernel_pages_stays_kernel() {
        let mut m = machine("6.1", OnlinePolicy::AutoMovable, 301);
        let tr = &mut Trace::new();
        m.add_memory(0, 0x100000000, 2 * G, &AddOptions::default(), tr)
            .unwrap();
        m.online_memory(0x100000000, 128 << 20, OnlineType::OnlineKernel, tr)
            .unwrap();
        m.online_memory(0x108000000, 128 << 20, OnlineType::Online, tr)
            .unwrap();
        assert_eq!(m.blocks.get(33).unwrap().zone, Some(Zone::Normal));
        m.online_memory(0x110000000, 128 << 20, OnlineType::OnlineMovable, tr)
            .unwrap();
        assert_eq!(m.blocks.get(34).unwrap().zone, Some(Zone::Movable));
        // Removing all of the group's memory unregisters it.
        let mut m = machine("6.1", OnlinePolicy::AutoMovable, 301);
        m.add_memory(0, 0x100000000, G, &AddOptions::default(), tr)
            .unwrap();
        assert_eq!(m.groups.len(), 1);
        m.remove_memory(0x100000000, G, tr).unwrap();
        assert!(m.groups.is_empty());
    }
}
