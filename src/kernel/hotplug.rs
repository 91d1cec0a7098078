//! Memory hotplug (`mm/memory_hotplug.c`) and the block `state` attribute
//! (`drivers/base/memory.c`), kernel-semantics.md §3.
//!
//! The add path is `add_memory` / `add_memory_driver_managed` → `register_memory_resource`
//! (three eras: ≤ v5.0 top level only, v5.1–v5.7 `__request_region`, v5.8+ driver-managed
//! names and v5.12+ `mhp_range_allowed`) → `add_memory_resource` (block alignment checked
//! *after* the claim, blocks created offline, `MHP_MERGE_RESOURCE`, auto-online). The remove
//! path is `remove_memory` → all blocks offline → `release_mem_region_adjustable`.

use super::machine::{AddOptions, MAX_BLOCKS, Machine};
use super::memory::{BlockState, MemoryBlock, OnlineType};
use super::region::PAGE_SHIFT;
use super::resource::{
    __request_region_named, Adjusted, RegionRefusal, merge_system_ram_resource,
    release_mem_region_adjustable, release_resource, request_resource_conflict,
};
use super::{Errno, KResult, ResRef, Trace, boundaries, fail};
use crate::tree::flags::*;
use crate::tree::{Desc, NodeId, Tree};

/// `%pR` of a memory resource without the decoded extras (System RAM, a dax range):
/// `[mem 0xa0000000-0xa7ffffff]` (at least 8 hex digits), [`super::resource_string`].
pub(crate) fn fmt_pr(start: u64, end: u64) -> String {
    super::resource_string(start, end, IORESOURCE_MEM, true)
}

/// `%pa` of a physical address: `0x` + 16 hex digits.
pub(crate) fn fmt_pa(a: u64) -> String {
    format!("{a:#018x}")
}

impl Machine {
    /// `add_memory(nid, start, size, mhp_flags)` or, with `opts.driver_managed`,
    /// `add_memory_driver_managed(nid, start, size, name, mhp_flags)` (v5.8+).
    pub fn add_memory(
        &mut self,
        nid: i32,
        start: u64,
        size: u64,
        opts: &AddOptions,
        trace: &mut Trace,
    ) -> KResult<()> {
        let v = self.config.version;
        let name = match &opts.driver_managed {
            None => {
                trace.step(
                    0,
                    "add_memory",
                    format!("nid {nid}, start {start:#x}, size {size:#x}"),
                );
                "System RAM".to_string()
            }
            Some(n) => {
                trace.step(
                    0,
                    "add_memory_driver_managed",
                    format!("nid {nid}, start {start:#x}, size {size:#x}, name {n:?}"),
                );
                // add_memory_driver_managed was added in v5.8 (David Hildenbrand, for virtio-mem/kmem).
                if !v.at_least(5, 8) {
                    return Err(fail(
                        Errno::EINVAL,
                        "add_memory_driver_managed",
                        format!(
                            "add_memory_driver_managed does not exist before v5.8 (this is {v})"
                        ),
                        None,
                        trace,
                    ));
                }
                // The name must begin with "System RAM (" and end with ")": checked before
                // anything else (v5.8+).
                if !n.starts_with("System RAM (") || !n.ends_with(')') {
                    trace.step(
                        1,
                        "add_memory_driver_managed",
                        "name does not look like \"System RAM (…)\" → -EINVAL",
                    );
                    return Err(fail(
                        Errno::EINVAL,
                        "add_memory_driver_managed",
                        format!(
                            "resource name {n:?} must begin with \"System RAM (\" and end with \")\""
                        ),
                        None,
                        trace,
                    ));
                }
                n.clone()
            }
        };
        self.__add_memory(nid, start, size, &name, opts.merge_resource, trace)
            .map(|_| ())
    }

    /// `__add_memory` / the body of `add_memory_driver_managed`: `register_memory_resource`,
    /// then `add_memory_resource`; if the latter fails the resource is released again
    /// (`release_memory_resource`). Returns the (possibly merged) System RAM node.
    pub(crate) fn __add_memory(
        &mut self,
        nid: i32,
        start: u64,
        size: u64,
        name: &str,
        merge: bool,
        trace: &mut Trace,
    ) -> KResult<NodeId> {
        let res = self.register_memory_resource(start, size, name, trace)?;
        match self.add_memory_resource(nid, res, merge, trace) {
            Ok(id) => Ok(id),
            Err(e) => {
                trace.step(
                    1,
                    "release_memory_resource",
                    format!("undo: {} released again", ResRef::of(&self.tree, res)),
                );
                let _ = release_resource(&mut self.tree, res);
                self.tree.free(res);
                Err(e)
            }
        }
    }

    /// `mhp_range_allowed(start, size, need_mapping)` (v5.12+): `start < start + size`, inside
    /// `[0, PHYSMEM_END]` on x86_64 (no arch override of `arch_get_mappable_range`). Failure
    /// warns `Hotplug memory [start-start+size] exceeds maximum addressable range [lo-hi]`.
    pub(crate) fn mhp_range_allowed(
        &self,
        start: u64,
        size: u64,
        trace: &mut Trace,
    ) -> KResult<()> {
        let (lo, hi) = (0u64, self.config.physmem_end());
        let end = start.wrapping_add(size);
        if start < end && start >= lo && end - 1 <= hi {
            trace.step(
                1,
                "mhp_range_allowed",
                format!("[{start:#x}-{end:#x}) inside [{lo:#x}-{hi:#x}]"),
            );
            return Ok(());
        }
        let log = format!(
            "Hotplug memory [{start:#x}-{end:#x}] exceeds maximum addressable range [{lo:#x}-{hi:#x}]"
        );
        trace.step(
            1,
            "mhp_range_allowed",
            "range empty or beyond the pluggable range → -E2BIG",
        );
        Err(fail(
            Errno::E2BIG,
            "mhp_range_allowed",
            format!(
                "[{start:#x}-{end:#x}) is empty or leaves the pluggable range [{lo:#x}-{hi:#x}]"
            ),
            Some(log),
            trace,
        ))
    }

    /// `register_memory_resource(start, size, resource_name)`: claim the range, in three eras.
    ///
    /// * ≤ v5.0: `request_resource_conflict(&iomem_resource, …)` — top level only; any
    ///   conflict (busy or not, or the root itself for size 0) → **-EEXIST**.
    /// * v5.1–v5.7: `__request_region(&iomem_resource, …, SYSTEM_RAM|BUSY)` — descends into
    ///   non-BUSY conflicts, so RAM nests under PMEM / PCI windows; failure → -EEXIST.
    /// * v5.8+: a name other than "System RAM" adds `IORESOURCE_SYSRAM_DRIVER_MANAGED`;
    ///   v5.12+ `mhp_range_allowed` first (size 0 → -E2BIG instead of -EEXIST).
    pub(crate) fn register_memory_resource(
        &mut self,
        start: u64,
        size: u64,
        name: &str,
        trace: &mut Trace,
    ) -> KResult<NodeId> {
        const F: &str = "register_memory_resource";
        let v = self.config.version;
        let end = start.wrapping_add(size).wrapping_sub(1);
        let mut flags = IORESOURCE_SYSTEM_RAM | IORESOURCE_BUSY;
        if !v.at_least(5, 1) {
            // Era (a): request_resource_conflict on the root.
            trace.step(
                1,
                F,
                "≤ v5.0: request_resource_conflict(&iomem_resource) — top level only",
            );
            let name = self.name(name);
            let res = self.tree.alloc_named(start, end, name, flags, Desc::None);
            return match request_resource_conflict(&mut self.tree, Tree::ROOT, res) {
                None => {
                    trace.step(
                        1,
                        F,
                        format!("no top-level conflict → {}", ResRef::of(&self.tree, res)),
                    );
                    Ok(res)
                }
                Some(c) => {
                    self.tree.free(res);
                    if self.tree.get(c).desc == Desc::DevicePrivateMemory {
                        trace.log(format!(
                            "Device unaddressable memory block memory hotplug at {start:#010x} !"
                        ));
                    }
                    let log = format!("System RAM resource {} cannot be added", fmt_pr(start, end));
                    let why = if c == Tree::ROOT {
                        "request_resource_conflict: the range is empty or leaves the iomem root"
                            .to_string()
                    } else {
                        format!(
                            "request_resource_conflict found {} at top level",
                            ResRef::of(&self.tree, c)
                        )
                    };
                    trace.step(1, F, format!("{why} → -EEXIST"));
                    Err(fail(Errno::EEXIST, F, why, Some(log), trace)
                        .with_conflict(ResRef::of(&self.tree, c)))
                }
            };
        }
        if v.at_least(5, 8) && name != "System RAM" {
            // v5.10+ IORESOURCE_SYSRAM_DRIVER_MANAGED; v5.8–v5.9 called it
            // IORESOURCE_MEM_DRIVER_MANAGED (another bit; modelled with the same bit here).
            flags |= IORESOURCE_SYSRAM_DRIVER_MANAGED;
        }
        if v.at_least(5, 12) {
            self.mhp_range_allowed(start, size, trace)?;
        }
        trace.step(
            1,
            F,
            "v5.1+: __request_region(&iomem_resource) — may descend into non-BUSY nodes",
        );
        let nm = self.name(name);
        let mut sub = Trace::new();
        let r =
            __request_region_named(&mut self.tree, Tree::ROOT, start, size, nm, flags, &mut sub);
        trace.nest_steps(&mut sub, 1);
        for l in sub.log {
            trace.log(l);
        }
        match r {
            Ok(res) => Ok(res),
            Err(refusal) => {
                let c = refusal.node();
                let why = match refusal {
                    RegionRefusal::OutOfParent(p) if size == 0 => format!(
                        "__request_region: size 0 gives end < start, rejected by {}",
                        crate::kernel::Place::of(&self.tree, p)
                    ),
                    RegionRefusal::OutOfParent(p) => format!(
                        "__request_region: the range leaves {}",
                        crate::kernel::Place::of(&self.tree, p)
                    ),
                    RegionRefusal::Busy(b) | RegionRefusal::WouldBlock(b) => format!(
                        "__request_region stopped at BUSY {}",
                        ResRef::of(&self.tree, b)
                    ),
                };
                let log = format!(
                    "Unable to reserve System RAM region: {:016x}->{:016x}",
                    start,
                    start.wrapping_add(size)
                );
                trace.step(1, F, format!("{why} → -EEXIST"));
                Err(fail(Errno::EEXIST, F, why, Some(log), trace)
                    .with_conflict(ResRef::of(&self.tree, c)))
            }
        }
    }

    /// `check_hotplug_memory_range(start, size)`: non-zero and both start and size multiples of
    /// the block size, else `Block size [%#lx] unaligned hotplug range: start %#llx, size %#llx`
    /// and **-EINVAL**. Same check and text in every era.
    pub(crate) fn check_hotplug_memory_range(
        &self,
        start: u64,
        size: u64,
        trace: &mut Trace,
    ) -> KResult<()> {
        let bs = self.config.block_size;
        let v = self.config.version;
        if !boundaries::HOTPLUG_RANGE_BYTES.applies(v) {
            // ≤ v5.1 (4.19 mm/memory_hotplug.c, from git history):
            //   u64 nr_pages = size >> PAGE_SHIFT; u64 start_pfn = PFN_DOWN(start);
            //   if (!nr_pages || !IS_ALIGNED(start_pfn, block_nr_pages) ||
            //       !IS_ALIGNED(nr_pages, block_nr_pages))
            // Page counts: a sub-page head or tail passes. Before v4.17 the same page counts
            // were checked against the section (PAGES_PER_SECTION, 128 MiB on x86_64):
            //   pr_err("Section-unaligned hotplug range: start 0x%llx, size 0x%llx\n", …)
            let unit = if boundaries::HOTPLUG_RANGE_BLOCK_ALIGNED.applies(v) {
                bs
            } else {
                super::region::SECTION_SIZE
            };
            let (pfn, nr) = (start >> PAGE_SHIFT, size >> PAGE_SHIFT);
            let per = unit >> PAGE_SHIFT;
            if nr != 0 && pfn.is_multiple_of(per) && nr.is_multiple_of(per) {
                return Ok(());
            }
            if !boundaries::HOTPLUG_RANGE_BLOCK_ALIGNED.applies(v) {
                let log =
                    format!("Section-unaligned hotplug range: start 0x{start:x}, size 0x{size:x}");
                trace.step(
                    1,
                    "check_hotplug_memory_range",
                    "< v4.17: not section-aligned (page counts) → -EINVAL",
                );
                return Err(fail(
                    Errno::EINVAL,
                    "check_hotplug_memory_range",
                    format!(
                        "start {start:#x} / size {size:#x}: page counts not multiples of the section ({unit:#x}; before v4.17)"
                    ),
                    Some(log),
                    trace,
                ));
            }
        } else if size != 0 && start.is_multiple_of(bs) && size.is_multiple_of(bs) {
            return Ok(());
        }
        let log = format!(
            "Block size [{bs:#x}] unaligned hotplug range: start {start:#x}, size {size:#x}"
        );
        trace.step(
            1,
            "check_hotplug_memory_range",
            "not block-aligned → -EINVAL",
        );
        Err(fail(
            Errno::EINVAL,
            "check_hotplug_memory_range",
            format!("start {start:#x} / size {size:#x} not multiples of the block size {bs:#x}"),
            Some(log),
            trace,
        ))
    }

    /// `add_memory_resource(nid, res, mhp_flags)` after the resource exists: alignment check
    /// (after the claim: an unaligned non-conflicting request is claimed, then released, and
    /// reports -EINVAL), node check, memory block devices created **offline**, a firmware-memmap
    /// entry for plain "System RAM", `MHP_MERGE_RESOURCE` (v5.10+), then auto-online.
    /// On error nothing but `res` has changed (the caller releases it).
    pub(crate) fn add_memory_resource(
        &mut self,
        nid: i32,
        res: NodeId,
        merge: bool,
        trace: &mut Trace,
    ) -> KResult<NodeId> {
        const F: &str = "add_memory_resource";
        let v = self.config.version;
        let (start, size) = {
            let r = self.tree.get(res);
            (r.start, r.size())
        };
        trace.step(
            1,
            F,
            format!("resource claimed: {}", ResRef::of(&self.tree, res)),
        );
        self.check_hotplug_memory_range(start, size, trace)?;
        // NUMA_NO_NODE / an impossible node: -EINVAL (recent kernels warn "node not possible").
        if !(0..1024).contains(&nid) {
            trace.step(1, F, format!("nid {nid} is not a possible node → -EINVAL"));
            return Err(fail(
                Errno::EINVAL,
                F,
                format!("nid {nid} is not a possible node"),
                None,
                trace,
            ));
        }
        let bs = self.config.block_size;
        let (first, last) = (start / bs, (start + (size - 1)) / bs);
        if last - first >= MAX_BLOCKS {
            return Err(fail(
                Errno::ENOMEM,
                F,
                format!(
                    "{} memory blocks: beyond the simulator's limit of {MAX_BLOCKS}",
                    last - first + 1
                ),
                None,
                trace,
            ));
        }
        if let Some(b) = self.blocks.range(first, last).next() {
            // arch_add_memory → sparse_add_section finds the section present.
            let id = b.id;
            trace.step(1, F, format!("memory{id} already exists → -EEXIST"));
            return Err(fail(
                Errno::EEXIST,
                F,
                format!("memory{id} already exists (its sections are present)"),
                None,
                trace,
            ));
        }
        for id in first..=last {
            self.blocks.insert(MemoryBlock {
                id,
                state: BlockState::Offline,
                zone: None,
                nid,
                removable: true,
                boot: false,
            });
        }
        trace.step(1, F, format!("arch_add_memory + create_memory_block_devices: memory{first}..memory{last} created offline on node {nid}"));
        // firmware_map_add_hotplug: v5.8+ only for "System RAM" (driver-managed memory is not
        // in the firmware map); before v5.8 every add was "System RAM".
        if self.tree.name_is(res, "System RAM") {
            self.firmware_memmap.insert(start, start + (size - 1));
            trace.step(
                1,
                "firmware_map_add_hotplug",
                format!(
                    "/sys/firmware/memmap entry [{start:#x}-{:#x}] System RAM",
                    start + (size - 1)
                ),
            );
        }
        let mut node = res;
        if merge {
            if v.at_least(5, 10) {
                let mut sub = Trace::new();
                node = merge_system_ram_resource(&mut self.tree, res, &mut sub);
                trace.nest_steps(&mut sub, 1);
            } else {
                trace.step(
                    1,
                    F,
                    format!(
                        "MHP_MERGE_RESOURCE does not exist before v5.10 (this is {v}): not merged"
                    ),
                );
            }
        }
        // Auto-online (§3.3): v4.4–v5.7 a bool (online = the default zone); v5.8+ the type.
        let mut t = self.config.auto_online;
        if t != OnlineType::Offline && !v.at_least(5, 8) && t != OnlineType::Online {
            trace.step(
                1,
                F,
                format!("auto_online_blocks is a bool before v5.8: {t} acts as online"),
            );
            t = OnlineType::Online;
        }
        // ACPI memory devices and kmem register one static memory group per device (v5.16+).
        self.register_static_group(nid, first, last);
        if t != OnlineType::Offline {
            trace.step(
                1,
                F,
                format!("auto_online_blocks = {t}: onlining memory{first}..memory{last}"),
            );
            for id in first..=last {
                let zone = self.zone_for_online(nid, id, t);
                self.blocks.set_state(id, BlockState::Online, Some(zone));
            }
        }
        Ok(node)
    }

    /// Blocks `[first, last]` of a `[start, start+size)` range (size > 0).
    pub(crate) fn block_ids(&self, start: u64, size: u64) -> (u64, u64) {
        let bs = self.config.block_size;
        (start / bs, start.saturating_add(size - 1) / bs)
    }

    /// Writing `online`/`online_kernel`/`online_movable` (or `offline`) to the `state` of every
    /// block in `[start, start+size)` (`state_store` → `memory_subsys_online` →
    /// `online_pages`). A block already in the requested state → **-EINVAL** (the device core
    /// reports "nothing to do" as 1, which `state_store` turns into -EINVAL). All blocks are
    /// checked before any changes, so a refusal changes nothing.
    pub fn online_memory(
        &mut self,
        start: u64,
        size: u64,
        online_type: OnlineType,
        trace: &mut Trace,
    ) -> KResult<()> {
        if online_type == OnlineType::Offline {
            return self.offline_memory(start, size, trace);
        }
        const F: &str = "state_store";
        let size = size.max(1);
        let (first, last) = self.block_ids(start, size);
        // online_kernel / online_movable are accepted since v4.x; no era difference modelled.
        trace.step(
            0,
            F,
            format!("write {online_type} to memory{first}..memory{last}"),
        );
        for id in first..=last {
            match self.blocks.get(id) {
                None => {
                    return Err(fail(
                        Errno::ENOENT,
                        F,
                        format!("there is no memory{id} (no memory was added there)"),
                        None,
                        trace,
                    ));
                }
                Some(b) if b.state != BlockState::Offline => {
                    trace.step(
                        1,
                        F,
                        format!(
                            "memory{id} is already {} → device_online returns 1 → -EINVAL",
                            b.state
                        ),
                    );
                    return Err(fail(
                        Errno::EINVAL,
                        F,
                        format!("memory{id} is already {}", b.state),
                        None,
                        trace,
                    ));
                }
                Some(_) => {}
            }
        }
        for id in first..=last {
            let nid = self.blocks.get(id).map_or(0, |b| b.nid);
            let zone = self.zone_for_online(nid, id, online_type);
            self.blocks.set_state(id, BlockState::Online, Some(zone));
            trace.step(
                1,
                "online_pages",
                format!("memory{id} online in zone {zone}"),
            );
        }
        Ok(())
    }

    /// Whether `offline_pages` could offline block `id` (see [`Machine::offline_memory`]).
    fn check_offline(&self, id: u64, trace: &mut Trace) -> KResult<()> {
        const F: &str = "offline_pages";
        let Some(b) = self.blocks.get(id) else {
            return Err(fail(
                Errno::ENOENT,
                "state_store",
                format!("there is no memory{id}"),
                None,
                trace,
            ));
        };
        let (s, e) = self.block_range(id);
        if b.state == BlockState::Offline {
            trace.step(
                1,
                "state_store",
                format!("memory{id} is already offline → -EINVAL"),
            );
            return Err(fail(
                Errno::EINVAL,
                "state_store",
                format!("memory{id} is already offline"),
                None,
                trace,
            ));
        }
        if b.zone.is_none() {
            let log =
                format!("memory offlining [mem {s:#010x}-{e:#010x}] failed due to multizone range");
            return Err(fail(
                Errno::EINVAL,
                F,
                format!("memory{id} spans several zones"),
                Some(log),
                trace,
            ));
        }
        // Pages the simulator knows to be unmovable: the kernel image (boot RAM children named
        // "Kernel code/rodata/data/bss"). Other unmovable allocations cannot be known.
        if b.boot {
            let pinned = self.tree.descendants(Tree::ROOT).find(|&n| {
                let r = self.tree.get(n);
                r.overlaps(s, e) && self.tree.name_of(n).starts_with(b"Kernel ")
            });
            if let Some(n) = pinned {
                let log = format!(
                    "memory offlining [mem {s:#010x}-{e:#010x}] failed due to failure to isolate range"
                );
                trace.step(
                    1,
                    F,
                    format!(
                        "memory{id} holds {} (unmovable) → -EBUSY",
                        ResRef::of(&self.tree, n)
                    ),
                );
                return Err(fail(
                    Errno::EBUSY,
                    F,
                    format!(
                        "memory{id} holds unmovable kernel pages ({})",
                        ResRef::of(&self.tree, n)
                    ),
                    Some(log),
                    trace,
                ));
            }
        }
        Ok(())
    }

    /// `offline_pages` of one block: offline, and — before "mm/memory_hotplug: shrink zones
    /// when offlining memory" (feee6b298916, v5.5, 4.19-/5.4-stable) — still in its zone's span:
    /// v5.0's `offline_pages` has no `shrink_zone_span` call; it came with that fix, which
    /// moved it from `__remove_pages` (removal) to offlining (6.1.172 `offline_pages`:
    /// `remove_pfn_range_from_zone(zone, start_pfn, nr_pages)`).
    fn offline_block(&mut self, id: u64) {
        let was = self.blocks.get(id).map(|b| (b.nid, b.zone));
        self.blocks.set_state(id, BlockState::Offline, None);
        if let Some((nid, Some(zone))) = was
            && !boundaries::SHRINK_ZONES_ON_OFFLINE.applies(self.config.version)
        {
            self.blocks.keep_spanned(id, nid, zone);
        }
    }

    /// Writing `offline` to the `state` of every block in the range (`offline_pages`). Already
    /// offline → -EINVAL; a block spanning zones → -EINVAL; a boot block holding the kernel
    /// image → -EBUSY. Checked for all blocks before any change.
    pub fn offline_memory(&mut self, start: u64, size: u64, trace: &mut Trace) -> KResult<()> {
        let size = size.max(1);
        let (first, last) = self.block_ids(start, size);
        trace.step(
            0,
            "state_store",
            format!("write offline to memory{first}..memory{last}"),
        );
        for id in first..=last {
            self.check_offline(id, trace)?;
        }
        for id in first..=last {
            self.offline_block(id);
            trace.step(1, "offline_pages", format!("memory{id} offline"));
        }
        Ok(())
    }

    /// `remove_memory(start, size)` (v5.3+ returns int; ≤ v5.2 `remove_memory(nid, …)` was void
    /// and BUG()ed on online memory): every block must be offline — else
    /// `removing memory fails, because memory [%pa-%pa] is onlined` for the first online block
    /// and **-EBUSY** — then the block devices and the firmware-memmap entry go, and the
    /// resource is trimmed, split or freed by `release_mem_region_adjustable` (which may also
    /// do nothing; a range that was never added returns 0 and changes nothing, as on a real
    /// 6.1 kernel).
    pub fn remove_memory(&mut self, start: u64, size: u64, trace: &mut Trace) -> KResult<()> {
        trace.step(
            0,
            "remove_memory",
            format!("start {start:#x}, size {size:#x}"),
        );
        self.try_remove_memory(start, size, trace)
    }

    /// `try_remove_memory(start, size)`.
    pub(crate) fn try_remove_memory(
        &mut self,
        start: u64,
        size: u64,
        trace: &mut Trace,
    ) -> KResult<()> {
        const F: &str = "try_remove_memory";
        let v = self.config.version;
        // BUG_ON(check_hotplug_memory_range()): a kernel crash; the simulator refuses.
        if let Err(mut e) = self.check_hotplug_memory_range(start, size, trace) {
            e.reason = format!(
                "{} (the kernel would BUG(): remove_memory asserts alignment)",
                e.reason
            );
            return Err(e);
        }
        let (first, last) = self.block_ids(start, size);
        let online = self
            .blocks
            .range(first, last)
            .find(|b| b.state != BlockState::Offline)
            .map(|b| b.id);
        if let Some(id) = online {
            let (s, e) = self.block_range(id);
            let log = format!(
                "removing memory fails, because memory [{}-{}] is onlined",
                fmt_pa(s),
                fmt_pa(e)
            );
            trace.step(
                1,
                "check_memblock_offlined_cb",
                format!("memory{id} is online → -EBUSY"),
            );
            let reason = if v.at_least(5, 3) {
                format!("memory{id} is online")
            } else {
                format!(
                    "memory{id} is online: v5.2 and older BUG() here (kernel crash), reported as -EBUSY"
                )
            };
            return Err(fail(
                Errno::EBUSY,
                "check_memblock_offlined_cb",
                reason,
                Some(log),
                trace,
            ));
        }
        let ids: Vec<u64> = self.blocks.range(first, last).map(|b| b.id).collect();
        if ids.is_empty() {
            trace.step(1, F, "no memory blocks in the range (never added): the kernel WARNs in arch_remove_memory and carries on");
            // arch_remove_memory → __remove_pages → __remove_section (mm/memory_hotplug.c,
            // 5.10 and 6.1 alike): `if (WARN_ON_ONCE(!valid_section(ms))) return;`. The WARN
            // prints a "WARNING: … at mm/memory_hotplug.c:<line> __remove_section+…" line and
            // a backtrace; its one line here names the function and the condition.
            trace.log(
                "WARNING: at mm/memory_hotplug.c __remove_section: WARN_ON_ONCE(!valid_section(ms)) \
                 (the range was never added; remove_memory returns 0)",
            );
        } else {
            trace.step(
                1,
                "remove_memory_block_devices",
                format!(
                    "memory{first}..memory{last}: {} block(s) removed",
                    ids.len()
                ),
            );
        }
        for id in ids {
            self.blocks.remove(id);
        }
        self.drop_groups_without_blocks();
        let end = start + (size - 1);
        if self.firmware_memmap.get(&start) == Some(&end) {
            self.firmware_memmap.remove(&start);
            trace.step(
                1,
                "firmware_map_remove",
                format!("[{start:#x}-{end:#x}] System RAM"),
            );
        }
        let mut sub = Trace::new();
        let adj = release_mem_region_adjustable(&mut self.tree, start, size, v, &mut sub);
        trace.nest_steps(&mut sub, 0);
        for l in sub.log {
            trace.log(l);
        }
        if adj == Adjusted::Nothing && !v.at_least(5, 10) {
            // ≤ v5.9 release_mem_region_adjustable returned -EINVAL; the caller only logged it.
            trace.log(format!(
                "Unable to release resource <{}-{}> (-22)",
                fmt_pa(start),
                fmt_pa(end)
            ));
        }
        Ok(())
    }

    /// `offline_and_remove_memory(start, size)` (v5.8+, virtio-mem; also what an ACPI eject of
    /// an online DIMM amounts to): -EINVAL unless block-aligned and non-zero; offline every
    /// online block (a failure re-onlines the ones already offlined — here: nothing changes);
    /// then `try_remove_memory`.
    pub fn offline_and_remove_memory(
        &mut self,
        start: u64,
        size: u64,
        trace: &mut Trace,
    ) -> KResult<()> {
        const F: &str = "offline_and_remove_memory";
        let v = self.config.version;
        trace.step(0, F, format!("start {start:#x}, size {size:#x}"));
        if !v.at_least(5, 8) {
            return Err(fail(
                Errno::EINVAL,
                F,
                format!(
                    "offline_and_remove_memory does not exist before v5.8 (this is {v}): offline the blocks, then remove"
                ),
                None,
                trace,
            ));
        }
        let bs = self.config.block_size;
        if !boundaries::OFFLINE_AND_REMOVE_MANY.applies(v) {
            // v5.8–v5.10.0 (git history; 5.10-stable has the v5.11 version, read in 5.10.262):
            //   if (!IS_ALIGNED(start, memory_block_size_bytes()) ||
            //       size != memory_block_size_bytes())
            //           return rc;                      /* rc = -EINVAL */
            //   mem = find_memory_block(__pfn_to_section(PFN_DOWN(start)));
            //   if (mem) rc = device_offline(&mem->dev);
            // Exactly one block, and no re-onlining: there is only the one block to offline.
            let exists = self.blocks.contains(start / bs);
            if !start.is_multiple_of(bs) || size != bs || !exists {
                let why = if exists || size != bs || !start.is_multiple_of(bs) {
                    format!(
                        "before v5.11 it takes exactly one memory block: size {size:#x} != memory_block_size_bytes() {bs:#x} (or start {start:#x} unaligned)"
                    )
                } else {
                    format!("no memory block at {start:#x} (find_memory_block found none)")
                };
                trace.step(1, F, format!("{why} → -EINVAL"));
                return Err(fail(Errno::EINVAL, F, why, None, trace));
            }
        }
        if size == 0 || !start.is_multiple_of(bs) || !size.is_multiple_of(bs) {
            return Err(fail(
                Errno::EINVAL,
                F,
                format!("start {start:#x} / size {size:#x} not block-aligned"),
                None,
                trace,
            ));
        }
        let (first, last) = self.block_ids(start, size);
        let online: Vec<u64> = self
            .blocks
            .range(first, last)
            .filter(|b| b.state != BlockState::Offline)
            .map(|b| b.id)
            .collect();
        for &id in &online {
            self.check_offline(id, trace)?;
        }
        for &id in &online {
            self.offline_block(id);
            trace.step(1, "try_offline_memory_block", format!("memory{id} offline"));
        }
        self.try_remove_memory(start, size, trace)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::kernel::KernelVersion;
    use crate::kernel::machine::Config;
    use crate::kernel::memory::Zone;
    use crate::testutil::{RAM, t0, text};

    fn v(s: &str) -> KernelVersion {
        s.parse().unwrap()
    }
    fn m(ver: &str) -> Machine {
        Machine::boot(
            t0(),
            Config {
                version: v(ver),
                ..Config::default()
            },
        )
    }
    fn add(m: &mut Machine, start: u64, size: u64) -> KResult<()> {
        m.add_memory(0, start, size, &AddOptions::default(), &mut Trace::new())
    }
    fn add_dm(m: &mut Machine, start: u64, size: u64, name: &str, merge: bool) -> KResult<()> {
        let o = AddOptions {
            driver_managed: Some(name.to_string()),
            merge_resource: merge,
        };
        m.add_memory(0, start, size, &o, &mut Trace::new())
    }
    /// Fix 4 (issue 10): `check_hotplug_memory_range` before its 2019 simplification compared
    /// page counts — 4.19: `u64 nr_pages = size >> PAGE_SHIFT; … !IS_ALIGNED(nr_pages,
    /// block_nr_pages)` — so 0x8000800 bytes (one block and half a page) passes; from v5.2
    /// (`!IS_ALIGNED(size, block_size)`, read in 5.10.262) it is -EINVAL. Before v4.17 the
    /// unit is the section and the text `Section-unaligned hotplug range: start 0x%llx, size
    /// 0x%llx`.
    #[test]
    fn check_hotplug_memory_range_page_counts_and_sections() {
        let mut mc = m("4.19");
        add(&mut mc, 0x100000000, 0x8000800).unwrap();
        assert!(text(&mc.tree).contains("100000000-1080007ff : System RAM"));
        let mut mc = m("5.2");
        let e = add(&mut mc, 0x100000000, 0x8000800).unwrap_err();
        assert_eq!(e.errno, Errno::EINVAL);
        assert_eq!(
            e.log.as_deref(),
            Some(
                "Block size [0x8000000] unaligned hotplug range: start 0x100000000, size 0x8000800"
            )
        );
        let mut mc = m("4.16");
        let e = add(&mut mc, 0x100000000, 0x4000000).unwrap_err();
        assert_eq!(e.errno, Errno::EINVAL);
        assert_eq!(
            e.log.as_deref(),
            Some("Section-unaligned hotplug range: start 0x100000000, size 0x4000000")
        );
        // 4.16 with 256 MiB blocks: one section (128 MiB) is enough; 4.17+ wants a block.
        let big = |ver: &str| {
            Machine::boot(
                t0(),
                Config {
                    version: v(ver),
                    block_size: 256 << 20,
                    ..Config::default()
                },
            )
        };
        add(&mut big("4.16"), 0x100000000, 0x8000000).unwrap();
        assert_eq!(
            add(&mut big("4.17"), 0x100000000, 0x8000000)
                .unwrap_err()
                .errno,
            Errno::EINVAL
        );
    }

    /// Fix 3: v5.8's `offline_and_remove_memory` — `if (!IS_ALIGNED(start,
    /// memory_block_size_bytes()) || size != memory_block_size_bytes()) return rc;` (rc =
    /// -EINVAL) — takes one block; 5.10.262 (read) and 5.11+ take any aligned range.
    #[test]
    fn offline_and_remove_memory_one_block_before_5_11() {
        for (ver, two_ok) in [
            ("5.8", false),
            ("5.10.0", false),
            ("5.10", true),
            ("5.11", true),
        ] {
            let mut mc = m(ver);
            add(&mut mc, 0x100000000, 2 * M128).unwrap();
            let before = text(&mc.tree);
            let r = mc.offline_and_remove_memory(0x100000000, 2 * M128, &mut Trace::new());
            assert_eq!(r.is_ok(), two_ok, "{ver}");
            if !two_ok {
                assert_eq!(r.unwrap_err().errno, Errno::EINVAL);
                assert_eq!(text(&mc.tree), before, "{ver}: nothing changed");
                // One block at a time works.
                let tr = &mut Trace::new();
                mc.offline_and_remove_memory(0x100000000, M128, tr).unwrap();
                mc.offline_and_remove_memory(0x108000000, M128, tr).unwrap();
            }
            assert!(!text(&mc.tree).contains("100000000-10fffffff"), "{ver}");
        }
        // No block there: find_memory_block finds none, rc stays -EINVAL.
        let mut mc = m("5.8");
        let e = mc
            .offline_and_remove_memory(0x100000000, M128, &mut Trace::new())
            .unwrap_err();
        assert_eq!(e.errno, Errno::EINVAL);
    }

    /// Fix 2: before feee6b298916 ("mm/memory_hotplug: shrink zones when offlining memory";
    /// 4.19-stable, 5.4-stable, 5.5+) offlining leaves the zone's span alone, so
    /// `default_zone_for_pfn` still sees ZONE_MOVABLE intersect the block and `online` lands
    /// there again; with the fix the span shrinks and `online` picks the kernel zone.
    #[test]
    fn offline_keeps_the_zone_span_before_the_shrink_fix() {
        for (ver, zone, valid) in [
            ("5.0", Zone::Movable, "Movable Normal"),
            ("5.2", Zone::Movable, "Movable Normal"),
            ("4.19.0", Zone::Movable, "Movable Normal"),
            ("4.19", Zone::Normal, "Normal Movable"),
            ("5.4", Zone::Normal, "Normal Movable"),
            ("6.1", Zone::Normal, "Normal Movable"),
        ] {
            let mut mc = m(ver);
            let tr = &mut Trace::new();
            add(&mut mc, 0x100000000, M128).unwrap();
            mc.online_memory(0x100000000, M128, OnlineType::OnlineMovable, tr)
                .unwrap();
            mc.offline_memory(0x100000000, M128, tr).unwrap();
            let b = mc.blocks.get(32).unwrap();
            assert_eq!(mc.blocks.valid_zones(b), valid, "{ver}");
            mc.online_memory(0x100000000, M128, OnlineType::Online, tr)
                .unwrap();
            assert_eq!(mc.blocks.get(32).unwrap().zone, Some(zone), "{ver}");
        }
        // Removing the memory shrinks the zone in every version.
        let mut mc = m("5.0");
        let tr = &mut Trace::new();
        add(&mut mc, 0x100000000, M128).unwrap();
        mc.online_memory(0x100000000, M128, OnlineType::OnlineMovable, tr)
            .unwrap();
        mc.offline_memory(0x100000000, M128, tr).unwrap();
        mc.remove_memory(0x100000000, M128, tr).unwrap();
        assert_eq!(mc.blocks.zone_span(0, Zone::Movable), None);
    }

    const M128: u64 = 0x8000000;

    /// `movable_node`: 6.1.172 `default_zone_for_pfn` — `if (in_kernel ^ in_movable) return
    /// (in_kernel) ? kernel_zone : movable_zone; return movable_node_enabled ? movable_zone :
    /// kernel_zone;` — new memory in no zone goes Movable; memory next to Normal stays Normal.
    #[test]
    fn movable_node_onlines_fresh_memory_movable() {
        let mut mc = Machine::boot(
            t0(),
            Config {
                version: v("6.1"),
                movable_node: true,
                ..Config::default()
            },
        );
        let tr = &mut Trace::new();
        add(&mut mc, 0x100000000, 2 * M128).unwrap();
        assert_eq!(
            mc.blocks.valid_zones(mc.blocks.get(32).unwrap()),
            "Movable Normal"
        );
        mc.online_memory(0x100000000, M128, OnlineType::Online, tr)
            .unwrap();
        assert_eq!(mc.blocks.get(32).unwrap().zone, Some(Zone::Movable));
        // memory33 is in no zone's span yet (the spans are block hulls): movable_node → Movable.
        mc.online_memory(0x108000000, M128, OnlineType::Online, tr)
            .unwrap();
        assert_eq!(mc.blocks.get(33).unwrap().zone, Some(Zone::Movable));
        // Without movable_node the same add onlines Normal.
        let mut mc = m("6.1");
        add(&mut mc, 0x100000000, M128).unwrap();
        mc.online_memory(0x100000000, M128, OnlineType::Online, tr)
            .unwrap();
        assert_eq!(mc.blocks.get(32).unwrap().zone, Some(Zone::Normal));
    }

    const PMEM_WITH_RAM: &str = "a0000000-afffffff : Persistent Memory (legacy)\n  a0000000-a7ffffff : System RAM\nb0000000-bffdffff : System RAM\n";

    #[test]
    fn sc01_d1_era_a_add_inside_pmem_is_eexist() {
        let mut mc = m("5.0");
        let before = text(&mc.tree);
        let mut tr = Trace::new();
        let e = mc
            .add_memory(0, 0xa0000000, 0x8000000, &AddOptions::default(), &mut tr)
            .unwrap_err();
        assert_eq!(e.errno, Errno::EEXIST);
        assert_eq!(e.func, "register_memory_resource");
        assert_eq!(e.conflict.unwrap().name, "Persistent Memory (legacy)");
        assert_eq!(
            e.log.as_deref(),
            Some("System RAM resource [mem 0xa0000000-0xa7ffffff] cannot be added")
        );
        assert_eq!(text(&mc.tree), before);
        assert!(!mc.blocks.contains(20));
    }

    #[test]
    fn sc02_d2_era_b_and_c_nest_under_pmem() {
        for ver in ["5.1", "5.7", "6.1", "6.18"] {
            let mut mc = m(ver);
            add(&mut mc, 0xa0000000, 0x8000000).unwrap();
            assert!(
                text(&mc.tree).contains(PMEM_WITH_RAM),
                "{ver}:\n{}",
                text(&mc.tree)
            );
            let ram = mc.tree.find_range(0xa0000000, 0xa7ffffff).unwrap();
            assert_eq!(mc.tree.get(ram).flags, RAM, "{ver}");
            assert_eq!(mc.tree.get(ram).desc, Desc::PersistentMemoryLegacy, "{ver}");
            let b = mc.blocks.get(20).unwrap();
            assert_eq!(
                (b.state, b.phys_index().as_str()),
                (BlockState::Offline, "00000014")
            );
            assert_eq!(mc.firmware_memmap.get(&0xa0000000), Some(&0xa7ffffff));
        }
    }

    #[test]
    fn sc03_driver_managed_next_to_it_and_name_validation() {
        let mut mc = m("6.1");
        add(&mut mc, 0xa0000000, 0x8000000).unwrap();
        add_dm(&mut mc, 0xa8000000, 0x8000000, "System RAM (kmem)", false).unwrap();
        assert!(text(&mc.tree).contains(
            "a0000000-afffffff : Persistent Memory (legacy)\n  a0000000-a7ffffff : System RAM\n  a8000000-afffffff : System RAM (kmem)\n"
        ));
        let dm = mc.tree.find_range(0xa8000000, 0xafffffff).unwrap();
        assert_eq!(
            mc.tree.get(dm).flags,
            RAM | IORESOURCE_SYSRAM_DRIVER_MANAGED
        );
        assert!(
            !mc.firmware_memmap.contains_key(&0xa8000000),
            "driver-managed memory has no firmware-memmap entry"
        );
        assert_eq!(mc.blocks.get(21).unwrap().state, BlockState::Offline);
        // Op B on a fresh SC-02 tree: bad names are refused before any resource work.
        let mut mc = m("6.1");
        add(&mut mc, 0xa0000000, 0x8000000).unwrap();
        let before = text(&mc.tree);
        for bad in ["kmem", "System RAM", "System RAM (kmem"] {
            let e = add_dm(&mut mc, 0xa8000000, 0x8000000, bad, false).unwrap_err();
            assert_eq!(
                (e.errno, e.func),
                (Errno::EINVAL, "add_memory_driver_managed"),
                "{bad}"
            );
            assert_eq!(text(&mc.tree), before);
        }
        // add_memory_driver_managed does not exist before v5.8.
        let mut mc = m("5.7");
        assert_eq!(
            add_dm(&mut mc, 0xa8000000, 0x8000000, "System RAM (kmem)", false)
                .unwrap_err()
                .errno,
            Errno::EINVAL
        );
    }

    #[test]
    fn sc05_inside_busy_ram_is_eexist_in_every_era() {
        for ver in ["4.20", "5.0", "5.1", "6.1"] {
            let mut mc = m(ver);
            let before = text(&mc.tree);
            let e = add(&mut mc, 0x10000000, 0x8000000).unwrap_err();
            assert_eq!(e.errno, Errno::EEXIST, "{ver}");
            assert_eq!(
                e.conflict.unwrap().start,
                0x100000,
                "{ver}: the busy System RAM"
            );
            assert_eq!(text(&mc.tree), before);
        }
    }

    #[test]
    fn sc07_d5_d6_zero_size() {
        let mut mc = m("5.12");
        let e = add(&mut mc, 0xa0000000, 0).unwrap_err();
        assert_eq!((e.errno, e.func), (Errno::E2BIG, "mhp_range_allowed"));
        assert_eq!(
            e.log.as_deref(),
            Some(
                "Hotplug memory [0xa0000000-0xa0000000] exceeds maximum addressable range [0x0-0x3fffffffffff]"
            )
        );
        for ver in ["5.11", "5.1", "5.0"] {
            let mut mc = m(ver);
            let before = text(&mc.tree);
            assert_eq!(
                add(&mut mc, 0xa0000000, 0).unwrap_err().errno,
                Errno::EEXIST,
                "{ver}"
            );
            assert_eq!(text(&mc.tree), before);
        }
    }

    #[test]
    fn d3_d4_unaligned_claim_then_release() {
        // ≥ 5.1: the claim succeeds inside PMEM, then check_hotplug_memory_range refuses and the
        // resource is released again.
        let mut mc = m("6.1");
        let before = text(&mc.tree);
        let mut tr = Trace::new();
        let e = mc
            .add_memory(0, 0xa4000000, 0x8000000, &AddOptions::default(), &mut tr)
            .unwrap_err();
        assert_eq!(
            (e.errno, e.func),
            (Errno::EINVAL, "check_hotplug_memory_range")
        );
        assert_eq!(
            e.log.as_deref(),
            Some(
                "Block size [0x8000000] unaligned hotplug range: start 0xa4000000, size 0x8000000"
            )
        );
        assert_eq!(text(&mc.tree), before);
        assert!(tr.steps.iter().any(|s| s.func == "release_memory_resource"));
        assert!(mc.blocks.get(20).is_none());
        // ≤ 5.0: the conflict is found first.
        let mut mc = m("5.0");
        assert_eq!(
            add(&mut mc, 0xa4000000, 0x8000000).unwrap_err().errno,
            Errno::EEXIST
        );
        // Unaligned + conflicting → -EEXIST in every era (claim before alignment).
        let mut mc = m("6.1");
        assert_eq!(
            add(&mut mc, 0x10000000, 0x4000000).unwrap_err().errno,
            Errno::EEXIST
        );
    }

    #[test]
    fn d7_straddling_pmem_and_ram_is_eexist() {
        for ver in ["5.0", "5.1", "6.1"] {
            let mut mc = m(ver);
            assert_eq!(
                add(&mut mc, 0xa8000000, 0x10000000).unwrap_err().errno,
                Errno::EEXIST,
                "{ver}"
            );
        }
    }

    #[test]
    fn d8_nested_under_the_pci_window() {
        let mut mc = m("5.1");
        add(&mut mc, 0xc0000000, 0x8000000).unwrap();
        assert!(
            text(&mc.tree).ends_with(
                "c0000000-febfffff : PCI Bus 0000:00\n  c0000000-c7ffffff : System RAM\n"
            )
        );
        // ≤ 5.0: the top-level PCI window is a conflict.
        let mut mc = m("5.0");
        assert_eq!(
            add(&mut mc, 0xc0000000, 0x8000000).unwrap_err().errno,
            Errno::EEXIST
        );
    }

    #[test]
    fn beyond_the_root_and_the_pluggable_range() {
        // 2^46 with 46 physical bits: ≥ 5.12 mhp_range_allowed → -E2BIG; before, the root → -EEXIST.
        let mut mc = m("6.1");
        let e = add(&mut mc, 1 << 46, 0x8000000).unwrap_err();
        assert_eq!(e.errno, Errno::E2BIG);
        assert_eq!(
            e.log.as_deref(),
            Some(
                "Hotplug memory [0x400000000000-0x400008000000] exceeds maximum addressable range [0x0-0x3fffffffffff]"
            )
        );
        let mut mc = m("5.11");
        assert_eq!(
            add(&mut mc, 1 << 46, 0x8000000).unwrap_err().errno,
            Errno::EEXIST
        );
        // 40 physical bits (QEMU): above 2^40 − 1 the root itself conflicts (checked on 6.1).
        let mut mc = Machine::boot(
            t0(),
            Config {
                version: v("6.1"),
                phys_bits: 40,
                ..Config::default()
            },
        );
        assert_eq!(
            add(&mut mc, 1 << 40, 0x8000000).unwrap_err().errno,
            Errno::EEXIST
        );
        // la57 with 52 physical bits: 2^46 is fine.
        let mut mc = Machine::boot(
            t0(),
            Config {
                version: v("6.1"),
                phys_bits: 52,
                la57: true,
                ..Config::default()
            },
        );
        add(&mut mc, 1 << 46, 0x8000000).unwrap();
    }

    fn sc14() -> Machine {
        let mut mc = m("6.1");
        add(&mut mc, 0x100000000, 0x40000000).unwrap();
        assert_eq!(mc.blocks.range(32, 39).count(), 8);
        mc
    }

    #[test]
    fn sc14_d9_partial_removes_split_trim_and_free() {
        let mut mc = sc14();
        let tail = |mc: &Machine| {
            let t = text(&mc.tree);
            t[t.find("c0000000-febfffff").unwrap()..].to_string()
        };
        mc.remove_memory(0x110000000, 0x8000000, &mut Trace::new())
            .unwrap();
        assert_eq!(
            tail(&mc),
            "c0000000-febfffff : PCI Bus 0000:00\n100000000-10fffffff : System RAM\n118000000-13fffffff : System RAM\n"
        );
        let upper = mc.tree.find_range(0x118000000, 0x13fffffff).unwrap();
        assert_eq!(
            (mc.tree.get(upper).flags, mc.tree.get(upper).desc),
            (RAM, Desc::None)
        );
        assert!(!mc.blocks.contains(34));
        mc.remove_memory(0x100000000, 0x8000000, &mut Trace::new())
            .unwrap();
        assert!(
            tail(&mc)
                .contains("\n108000000-10fffffff : System RAM\n118000000-13fffffff : System RAM\n")
        );
        mc.remove_memory(0x138000000, 0x8000000, &mut Trace::new())
            .unwrap();
        assert!(
            tail(&mc).ends_with(
                "\n108000000-10fffffff : System RAM\n118000000-137ffffff : System RAM\n"
            )
        );
        mc.remove_memory(0x108000000, 0x8000000, &mut Trace::new())
            .unwrap();
        assert!(tail(&mc).ends_with("PCI Bus 0000:00\n118000000-137ffffff : System RAM\n"));
    }

    #[test]
    fn d10_remove_spanning_two_added_nodes_changes_no_resource() {
        let mut mc = m("6.1");
        add(&mut mc, 0x100000000, 0x8000000).unwrap();
        add(&mut mc, 0x108000000, 0x8000000).unwrap();
        let before = text(&mc.tree);
        mc.remove_memory(0x100000000, 0x10000000, &mut Trace::new())
            .unwrap();
        assert_eq!(text(&mc.tree), before, "both nodes remain");
    }

    #[test]
    fn remove_needs_every_block_offline() {
        let mut mc = sc14();
        mc.online_memory(
            0x108000000,
            0x8000000,
            OnlineType::Online,
            &mut Trace::new(),
        )
        .unwrap();
        let before = text(&mc.tree);
        let e = mc
            .remove_memory(0x100000000, 0x40000000, &mut Trace::new())
            .unwrap_err();
        assert_eq!(e.errno, Errno::EBUSY);
        assert_eq!(
            e.log.as_deref(),
            Some(
                "removing memory fails, because memory [0x0000000108000000-0x000000010fffffff] is onlined"
            )
        );
        assert_eq!(text(&mc.tree), before);
        assert_eq!(mc.blocks.range(32, 39).count(), 8);
        // ≤ 5.2 the kernel BUG()s: reported as -EBUSY with a note.
        mc.set_version(v("5.2"));
        let e = mc
            .remove_memory(0x100000000, 0x40000000, &mut Trace::new())
            .unwrap_err();
        assert_eq!(e.errno, Errno::EBUSY);
        assert!(e.reason.contains("BUG"));
    }

    #[test]
    fn removing_a_range_never_added_returns_0_and_changes_nothing() {
        // Observed on a real 6.1 kernel (§2.8).
        let mut mc = m("6.1");
        let before = text(&mc.tree);
        mc.remove_memory(0x200000000, 0x8000000, &mut Trace::new())
            .unwrap();
        assert_eq!(text(&mc.tree), before);
    }

    #[test]
    fn sc25_block_state_machine() {
        let mut mc = sc14();
        let b = mc.blocks.get(32).unwrap();
        assert_eq!(b.phys_index(), "00000020");
        assert_eq!(mc.blocks.valid_zones(b), "Normal Movable");
        mc.online_memory(
            0x100000000,
            0x8000000,
            OnlineType::Online,
            &mut Trace::new(),
        )
        .unwrap();
        assert_eq!(mc.blocks.get(32).unwrap().zone, Some(Zone::Normal));
        let e = mc
            .online_memory(
                0x100000000,
                0x8000000,
                OnlineType::Online,
                &mut Trace::new(),
            )
            .unwrap_err();
        assert_eq!(e.errno, Errno::EINVAL, "online twice");
        mc.online_memory(
            0x108000000,
            0x8000000,
            OnlineType::OnlineMovable,
            &mut Trace::new(),
        )
        .unwrap();
        assert_eq!(mc.blocks.get(33).unwrap().zone, Some(Zone::Movable));
        mc.online_memory(
            0x110000000,
            0x8000000,
            OnlineType::OnlineKernel,
            &mut Trace::new(),
        )
        .unwrap();
        assert_eq!(mc.blocks.get(34).unwrap().zone, Some(Zone::Normal));
        mc.offline_memory(0x100000000, 0x8000000, &mut Trace::new())
            .unwrap();
        assert_eq!(
            mc.offline_memory(0x100000000, 0x8000000, &mut Trace::new())
                .unwrap_err()
                .errno,
            Errno::EINVAL
        );
        // A range with one already-online block changes nothing.
        let e = mc
            .online_memory(
                0x100000000,
                0x10000000,
                OnlineType::Online,
                &mut Trace::new(),
            )
            .unwrap_err();
        assert_eq!(e.errno, Errno::EINVAL);
        assert_eq!(mc.blocks.get(32).unwrap().state, BlockState::Offline);
        // memory0 spans DMA and DMA32: cannot be offlined; memory1 holds no kernel image but
        // memory0 does.
        assert_eq!(
            mc.offline_memory(0, 0x8000000, &mut Trace::new())
                .unwrap_err()
                .errno,
            Errno::EINVAL
        );
        // No such block.
        assert_eq!(
            mc.online_memory(0x200000000, 1, OnlineType::Online, &mut Trace::new())
                .unwrap_err()
                .errno,
            Errno::ENOENT
        );
    }

    #[test]
    fn auto_online_policy() {
        let mut mc = Machine::boot(
            t0(),
            Config {
                version: v("6.1"),
                auto_online: OnlineType::OnlineMovable,
                ..Config::default()
            },
        );
        add(&mut mc, 0x100000000, 0x10000000).unwrap();
        for id in [32, 33] {
            let b = mc.blocks.get(id).unwrap();
            assert_eq!((b.state, b.zone), (BlockState::Online, Some(Zone::Movable)));
        }
        // ≤ 5.7 the knob is a bool: online_movable acts as online (default zone).
        let mut mc = Machine::boot(
            t0(),
            Config {
                version: v("5.7"),
                auto_online: OnlineType::OnlineMovable,
                ..Config::default()
            },
        );
        add(&mut mc, 0x100000000, 0x8000000).unwrap();
        assert_eq!(mc.blocks.get(32).unwrap().zone, Some(Zone::Normal));
    }

    fn sc16() -> Machine {
        let mut mc = m("6.1");
        let v5 = mc.tree.alloc(
            0x140000000,
            0x17fffffff,
            b"virtio5",
            IORESOURCE_SYSTEM_RAM,
            Desc::None,
        );
        mc.tree.link_sorted(Tree::ROOT, v5);
        mc
    }

    #[test]
    fn sc16_merge_resource_then_split_on_remove() {
        let mut mc = sc16();
        for a in [0x140000000, 0x148000000, 0x150000000] {
            add_dm(&mut mc, a, 0x8000000, "System RAM (virtio_mem)", true).unwrap();
        }
        assert!(
            text(&mc.tree).ends_with(
                "140000000-17fffffff : virtio5\n  140000000-157ffffff : System RAM (virtio_mem)\n"
            ),
            "{}",
            text(&mc.tree)
        );
        assert_eq!(mc.blocks.range(40, 42).count(), 3);
        mc.offline_and_remove_memory(0x148000000, 0x8000000, &mut Trace::new())
            .unwrap();
        assert!(text(&mc.tree).ends_with(
            "140000000-17fffffff : virtio5\n  140000000-147ffffff : System RAM (virtio_mem)\n  150000000-157ffffff : System RAM (virtio_mem)\n"
        ));
        // Without the flag: three lines. Before v5.10 the flag does not exist.
        for (ver, merge) in [("6.1", false), ("5.9", true)] {
            let mut mc = sc16();
            mc.set_version(v(ver));
            for a in [0x140000000, 0x148000000, 0x150000000] {
                add_dm(&mut mc, a, 0x8000000, "System RAM (virtio_mem)", merge).unwrap();
            }
            assert_eq!(
                mc.tree
                    .descendants(Tree::ROOT)
                    .filter(|&n| mc.tree.name_is(n, "System RAM (virtio_mem)"))
                    .count(),
                3,
                "{ver}"
            );
        }
    }

    #[test]
    fn offline_and_remove_memory_offlines_first() {
        let mut mc = sc14();
        mc.online_memory(
            0x100000000,
            0x10000000,
            OnlineType::OnlineMovable,
            &mut Trace::new(),
        )
        .unwrap();
        mc.offline_and_remove_memory(0x100000000, 0x10000000, &mut Trace::new())
            .unwrap();
        assert!(text(&mc.tree).ends_with("\n110000000-13fffffff : System RAM\n"));
        assert!(!mc.blocks.contains(32) && !mc.blocks.contains(33));
        assert_eq!(
            mc.offline_and_remove_memory(0x110000000, 0x100, &mut Trace::new())
                .unwrap_err()
                .errno,
            Errno::EINVAL
        );
    }
}
