//! The simulated machine: the iomem tree, the memory block devices, the dax devices and the
//! kernel configuration. The operations live next to the kernel code they mirror:
//! `add_memory`/`remove_memory`/onlining in [`super::hotplug`], dax/kmem in [`super::dax`].
//!
//! Every operation either succeeds or returns a [`super::KernelError`] with the machine as it
//! was (the kernel's own claim-then-release error paths are undone before returning).

use super::KernelVersion;
use super::dax::DaxDevice;
use super::memory::{BlockState, MemoryBlock, MemoryBlocks, OnlineType, Zone};
use crate::tree::flags::*;
use crate::tree::{Name, Tree};
use std::collections::BTreeMap;

/// x86_64's default memory block (`MIN_MEMORY_BLOCK_SIZE`, one 128 MiB section).
pub const DEFAULT_BLOCK_SIZE: u64 = 128 << 20;

/// The simulator refuses to create more memory block devices than this in one go (-ENOMEM):
/// a dump or request covering exabytes would otherwise exhaust the host.
pub const MAX_BLOCKS: u64 = 1 << 22;

/// The kernel configuration the machine was booted with.
#[derive(Clone, Debug)]
pub struct Config {
    pub version: KernelVersion,
    /// `memory_block_size_bytes()`: a power of two, at least 128 MiB on x86_64.
    pub block_size: u64,
    /// `auto_online_blocks` / `memhp_default_state=`.
    pub auto_online: OnlineType,
    /// `x86_phys_bits`: the iomem root ends at `2^phys_bits − 1`.
    pub phys_bits: u32,
    /// 5-level paging: `mhp_range_allowed` allows up to `2^52 − 1` instead of `2^46 − 1`.
    pub la57: bool,
    /// `memory_hotplug.online_policy=` (v5.16+).
    pub online_policy: super::online_policy::OnlinePolicy,
    /// `memory_hotplug.auto_movable_ratio=` (percent, default 301).
    pub auto_movable_ratio: u32,
    /// `movable_node`: `online` of memory in no zone (or in both) picks ZONE_MOVABLE. Boot
    /// memory of hotpluggable SRAT nodes is not modelled (a dump carries no SRAT).
    pub movable_node: bool,
    /// NUMA nodes as the SRAT declares them (`--numa-node`); empty = no SRAT: one node over
    /// `[0, end of the last boot System RAM)` (`dummy_numa_init`).
    pub numa_nodes: Vec<super::nvdimm::NumaNode>,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            version: KernelVersion::NEWEST,
            block_size: DEFAULT_BLOCK_SIZE,
            auto_online: OnlineType::Offline,
            phys_bits: 46,
            la57: false,
            online_policy: super::online_policy::OnlinePolicy::ContigZones,
            auto_movable_ratio: 301,
            movable_node: false,
            numa_nodes: Vec::new(),
        }
    }
}

impl Config {
    /// `PHYSMEM_END` / `(1 << MAX_PHYSMEM_BITS) − 1` on x86_64: 2^46 − 1 with 4-level paging,
    /// 2^52 − 1 with 5-level paging (the upper bound `mhp_range_allowed` checks, v5.12+).
    pub fn physmem_end(&self) -> u64 {
        if self.la57 {
            (1u64 << 52) - 1
        } else {
            (1u64 << 46) - 1
        }
    }
}

/// One simulated machine.
#[derive(Clone, Debug)]
pub struct Machine {
    pub tree: Tree,
    pub config: Config,
    pub blocks: MemoryBlocks,
    /// Device-dax instances by name (`dax0.0`), found in the boot tree or declared later.
    pub dax: BTreeMap<String, DaxDevice>,
    /// `/sys/firmware/memmap` entries added by hot-add (start → end), for plain "System RAM"
    /// only (`firmware_map_add_hotplug`; driver-managed memory gets none, v5.8+).
    pub firmware_memmap: BTreeMap<u64, u64>,
    /// What boot noticed and could not model (shown by `explain`/`blocks`).
    pub notes: Vec<String>,
    /// Static memory groups by first block id (v5.16+, [`super::online_policy`]).
    pub groups: BTreeMap<u64, super::online_policy::MemoryGroup>,
    /// `present_early_pages` of the kernel zones: the boot tree's busy System RAM in pages.
    pub early_kernel_pages: u64,
    /// nvdimm bus, regions, namespaces and loaded modules ([`super::nvdimm`]).
    pub nvdimm: super::nvdimm::Nvdimm,
    /// End (inclusive) of the last top-level boot System RAM: `PFN_PHYS(max_pfn) - 1`.
    pub boot_ram_end: Option<u64>,
    /// The platform's ACPI memory devices (QEMU pc-dimms) and their backends
    /// ([`super::acpi_memhotplug`]).
    pub memory_devices: super::acpi_memhotplug::MemoryDevices,
}

/// Options of `add_memory` / `add_memory_driver_managed`.
#[derive(Clone, Debug, Default)]
pub struct AddOptions {
    /// `add_memory_driver_managed(…, resource_name)` (v5.8+): must look like `System RAM (…)`.
    pub driver_managed: Option<String>,
    /// `MHP_MERGE_RESOURCE` (v5.10+; `MEMHP_MERGE_RESOURCE` in v5.10).
    pub merge_resource: bool,
}

/// The boot memory blocks of `ram` (busy System RAM pieces `[start, end]`, in pre-order) with
/// the zones each holds pages of, as `(block id, zone bits)` in id order, bit i being
/// `Zone::KERNEL_ZONES[i]`; at most `cap` blocks, and whether there were more. This is
/// drivers/base/memory.c `memory_dev_init` → `add_boot_memory_block` for every block with a
/// present section, with the zones that `test_pages_in_a_zone` finds in it (`valid_zones`:
/// "none" for two); `cap` is the simulator's own bound ([`MAX_BLOCKS`]).
///
/// The spans come in pre-order, so by start address: a span's ids below the last id listed
/// lie inside an earlier, enclosing piece of RAM (siblings are disjoint), which has every zone
/// there that the nested piece has. Only the last id listed can gain a zone, from a piece
/// sharing its block (memory0: 640 KiB of DMA, then RAM from 1 MiB); the rest of the span is
/// new blocks. Each block is listed once.
fn boot_block_zones(ram: &[(u64, u64)], bs: u64, cap: u64) -> (Vec<(u64, u8)>, bool) {
    let mut zones_of: Vec<(u64, u8)> = Vec::new();
    for &(s, e) in ram {
        for (i, (_, lo, hi)) in Zone::KERNEL_ZONES.into_iter().enumerate() {
            // The part of [s, e] inside this zone's fixed limits [lo, hi).
            let ps = s.max(lo);
            let pe = e.min(hi.saturating_sub(1));
            if ps > pe {
                continue;
            }
            let (first, last, bit) = (ps / bs, pe / bs, 1u8 << i);
            let mut from = first;
            if let Some((l, zs)) = zones_of.last_mut()
                && *l >= first
            {
                if *l <= last {
                    *zs |= bit;
                }
                match l.checked_add(1) {
                    Some(next) => from = next,
                    None => continue,
                }
            }
            for id in from..=last {
                if zones_of.len() as u64 == cap {
                    return (zones_of, true);
                }
                zones_of.push((id, bit));
            }
        }
    }
    (zones_of, false)
}

impl Machine {
    /// Boot on `tree`: every memory block overlapping busy System RAM (top level or nested,
    /// driver-managed included) exists and is online (boot memory is onlined by the kernel
    /// itself); its zone is DMA (< 16 MiB), DMA32 (< 4 GiB) or Normal, and a block whose RAM
    /// spans two zones has no zone (`valid_zones` = `none`, like `memory0` on x86). Dax devices
    /// are discovered from `daxX.Y` nodes (see [`super::dax`]).
    ///
    /// The root's end is set to `2^phys_bits − 1` unless the tree came without a root
    /// (x86 `setup_arch` lowers `iomem_resource.end` to the CPU's physical address width).
    pub fn boot(mut tree: Tree, mut config: Config) -> Machine {
        let mut notes = Vec::new();
        if config.block_size == 0 || !config.block_size.is_power_of_two() {
            notes.push(format!(
                "block size {:#x} is not a power of two: using {:#x} (the kernel panics: \"Memory block size not suitable\")",
                config.block_size, DEFAULT_BLOCK_SIZE
            ));
            config.block_size = DEFAULT_BLOCK_SIZE;
        }
        let root_end = if config.phys_bits >= 64 || config.phys_bits == 0 {
            u64::MAX
        } else {
            (1u64 << config.phys_bits) - 1
        };
        // Every command searches the top level first (`__request_resource` from
        // `iomem_resource`), and booting reads it three times: built once, here.
        tree.build_list(Tree::ROOT);
        // Only lower the root when nothing in the dump lies above it.
        let max_end = tree
            .children(Tree::ROOT)
            .map(|c| tree.get(c).end)
            .max()
            .unwrap_or(0);
        if tree.kind() == crate::tree::RootKind::Iomem {
            if max_end <= root_end {
                tree.get_mut(Tree::ROOT).end = root_end;
            } else {
                notes.push(format!(
                    "the dump reaches {max_end:#x}, above 2^{} - 1: the iomem root keeps its end {:#x}",
                    config.phys_bits,
                    tree.get(Tree::ROOT).end
                ));
            }
        }
        let bs = config.block_size;
        // One walk for all that booting reads below the top level: busy System RAM (the boot
        // memory blocks) and the `daxX.Y` nodes (the dax devices).
        let mut ram: Vec<(u64, u64)> = Vec::new();
        let mut dax_nodes = Vec::new();
        for id in tree.descendants(Tree::ROOT) {
            let r = tree.get(id);
            if r.flags & IORESOURCE_SYSTEM_RAM == IORESOURCE_SYSTEM_RAM
                && r.is_busy()
                && r.start <= r.end
            {
                ram.push((r.start, r.end));
            }
            if super::dax::is_dax_name(tree.name_of(id)) {
                dax_nodes.push(id);
            }
        }
        // Nested System RAM (kmem under dax) is hot-added, not early; count top-most only.
        let early_kernel_pages = {
            let mut pages = 0u64;
            let mut last_end: Option<u64> = None;
            for &(s, e) in &ram {
                if last_end.is_some_and(|le| s <= le) {
                    continue;
                }
                pages = pages.saturating_add((e - s).saturating_add(1) >> 12);
                last_end = Some(e);
            }
            pages
        };
        let (zones_of, truncated) = boot_block_zones(&ram, bs, MAX_BLOCKS);
        if truncated {
            notes.push(format!(
                "more than {MAX_BLOCKS} boot memory blocks: the rest are not modelled"
            ));
        }
        let blocks = zones_of
            .into_iter()
            .map(|(id, zs)| MemoryBlock {
                id,
                state: BlockState::Online,
                // A block whose RAM spans two zones has none.
                zone: (zs.count_ones() == 1)
                    .then(|| Zone::KERNEL_ZONES[zs.trailing_zeros() as usize].0),
                // The node the SRAT (`--numa-node`) puts the block's start in; without one,
                // dummy_numa_init's node 0 holds all boot RAM.
                nid: config
                    .numa_nodes
                    .iter()
                    .find(|n| n.start <= id * bs && id * bs <= n.end)
                    .map_or(0, |n| n.nid),
                removable: true,
                boot: true,
            })
            .collect();
        let blocks = MemoryBlocks::from_sorted(blocks, config.movable_node);
        // max_pfn: the end of the last e820 RAM entry (top-level System RAM at boot).
        let boot_ram_end = tree
            .children(Tree::ROOT)
            .filter(|&c| {
                let r = tree.get(c);
                r.flags & IORESOURCE_SYSTEM_RAM == IORESOURCE_SYSTEM_RAM && r.start <= r.end
            })
            .map(|c| tree.get(c).end)
            .max();
        let mut m = Machine {
            tree,
            config,
            blocks,
            dax: BTreeMap::new(),
            firmware_memmap: BTreeMap::new(),
            notes,
            groups: BTreeMap::new(),
            early_kernel_pages,
            nvdimm: Default::default(),
            boot_ram_end,
            memory_devices: Default::default(),
        };
        m.discover_dax(dax_nodes);
        m.discover_nvdimm();
        m
    }

    /// `kernel VERSION` in a session: the same machine, another kernel's rules from now on.
    pub fn set_version(&mut self, v: KernelVersion) {
        self.config.version = v;
    }

    /// `[start, end]` of `memoryN` (for `memory online memoryN`).
    pub fn block_range(&self, block_id: u64) -> (u64, u64) {
        let bs = self.config.block_size;
        let start = block_id.saturating_mul(bs);
        (start, start.saturating_add(bs - 1))
    }

    /// The shared name object for `text`: drivers pass one name object per name, and
    /// `merge_system_ram_resource` compares name pointers (§2.9), so the same text gives the
    /// same [`Name`] ([`Tree::intern_shared`]).
    pub(crate) fn name(&mut self, text: &str) -> Name {
        self.tree.intern_shared(text.as_bytes())
    }

    /// The id of the block containing `addr`.
    pub fn block_id(&self, addr: u64) -> u64 {
        addr / self.config.block_size
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testutil::t0;

    /// Bits: DMA 1, DMA32 2, Normal 4 (`Zone::KERNEL_ZONES`). memory0 gathers DMA from the
    /// first piece and DMA and DMA32 from the second; the nested piece adds nothing; the cap
    /// keeps exactly `cap` blocks and says that there were more, and a cap the blocks just
    /// fill is no truncation.
    #[test]
    fn boot_block_zones_gathers_each_blocks_zones_up_to_the_cap() {
        const BS: u64 = 128 << 20;
        const G4: u64 = 1 << 32;
        let ram = [
            (0x1000, 0x9fbff),
            (0x100000, 0x7fffffff),
            (0x1000000, 0x1ffffff),
            (G4, G4 + 2 * BS - 1),
        ];
        let mut want = vec![(0, 0b011)];
        want.extend((1..16).map(|id| (id, 0b010)));
        want.extend([(32, 0b100), (33, 0b100)]);
        assert_eq!(boot_block_zones(&ram, BS, 100), (want.clone(), false));
        assert_eq!(boot_block_zones(&ram, BS, 18), (want.clone(), false));
        assert_eq!(boot_block_zones(&ram, BS, 17), (want[..17].to_vec(), true));
        assert_eq!(boot_block_zones(&ram, BS, 1), (vec![(0, 0b011)], true));
        assert_eq!(boot_block_zones(&[], BS, 0), (vec![], false));
    }

    #[test]
    fn boot_blocks_on_t0() {
        // T0 RAM: 0x1000-0x9fbff, 0x100000-0x9fffffff, 0xb0000000-0xbffdffff (§6.0).
        let m = Machine::boot(t0(), Config::default());
        let ids: Vec<u64> = m.blocks.iter().map(|b| b.id).collect();
        let mut want: Vec<u64> = (0..20).collect();
        want.extend([22, 23]);
        assert_eq!(ids, want, "blocks 20/21 are the PMEM hole");
        let b0 = m.blocks.get(0).unwrap();
        assert_eq!(
            (b0.state, b0.zone),
            (BlockState::Online, None),
            "memory0 spans DMA and DMA32"
        );
        assert_eq!(m.blocks.valid_zones(b0), "none");
        assert_eq!(m.blocks.get(1).unwrap().zone, Some(Zone::Dma32));
        assert_eq!(m.tree.get(Tree::ROOT).end, (1 << 46) - 1);
        assert_eq!(m.block_range(32), (0x100000000, 0x107ffffff));
    }

    #[test]
    fn boot_refuses_a_bad_block_size_without_panicking() {
        let m = Machine::boot(
            t0(),
            Config {
                block_size: 0,
                ..Config::default()
            },
        );
        assert_eq!(m.config.block_size, DEFAULT_BLOCK_SIZE);
        assert_eq!(m.notes.len(), 1);
    }
}

/// Everything of a [`Machine`] but its tree: the state a step's undo record keeps whole (it is
/// small next to the tree: blocks, dax devices, namespaces, configuration).
#[derive(Clone, Debug)]
pub struct MachineRest {
    config: Config,
    blocks: MemoryBlocks,
    dax: BTreeMap<String, DaxDevice>,
    firmware_memmap: BTreeMap<u64, u64>,
    notes: Vec<String>,
    groups: BTreeMap<u64, super::online_policy::MemoryGroup>,
    early_kernel_pages: u64,
    nvdimm: super::nvdimm::Nvdimm,
    boot_ram_end: Option<u64>,
    memory_devices: super::acpi_memhotplug::MemoryDevices,
}

/// What one session step changed in a machine, as the way back: the tree's journal of inverse
/// changes and the rest of the machine as it was. [`Machine::undo`] applies it and returns the
/// record that redoes the step, so a step holds one record, never a machine (issue 12).
#[derive(Clone, Debug)]
pub struct MachineUndo {
    pub tree: crate::tree::TreeJournal,
    rest: Box<MachineRest>,
}

impl MachineUndo {
    /// Approximate heap bytes held (the tree journal; the rest is a few small maps).
    pub fn heap_bytes(&self) -> usize {
        self.tree.heap_bytes()
            + std::mem::size_of::<MachineRest>()
            + self.rest.blocks.len() * 64
            + self.rest.dax.len() * 256
    }
}

impl Machine {
    /// Begin a step: from here every change to the tree is journaled, and the rest of the
    /// machine is copied as it is now.
    pub fn begin_step(&mut self) -> Box<MachineRest> {
        self.tree.begin_journal();
        // Destructured so that a new field of `Machine` cannot be forgotten here.
        let Machine {
            tree: _,
            config,
            blocks,
            dax,
            firmware_memmap,
            notes,
            groups,
            early_kernel_pages,
            nvdimm,
            boot_ram_end,
            memory_devices,
        } = self;
        Box::new(MachineRest {
            config: config.clone(),
            blocks: blocks.clone(),
            dax: dax.clone(),
            firmware_memmap: firmware_memmap.clone(),
            notes: notes.clone(),
            groups: groups.clone(),
            early_kernel_pages: *early_kernel_pages,
            nvdimm: nvdimm.clone(),
            boot_ram_end: *boot_ram_end,
            memory_devices: memory_devices.clone(),
        })
    }

    /// End a step begun with [`Machine::begin_step`]: the record that undoes it.
    pub fn end_step(&mut self, rest: Box<MachineRest>) -> MachineUndo {
        MachineUndo {
            tree: self.tree.end_journal(),
            rest,
        }
    }

    /// Put the machine back as it was before the step `u` recorded; returns the record that
    /// redoes the step.
    pub fn undo(&mut self, u: MachineUndo) -> MachineUndo {
        let MachineUndo { tree, mut rest } = u;
        let tree = self.tree.undo(tree);
        let r = &mut *rest;
        std::mem::swap(&mut self.config, &mut r.config);
        std::mem::swap(&mut self.blocks, &mut r.blocks);
        std::mem::swap(&mut self.dax, &mut r.dax);
        std::mem::swap(&mut self.firmware_memmap, &mut r.firmware_memmap);
        std::mem::swap(&mut self.notes, &mut r.notes);
        std::mem::swap(&mut self.groups, &mut r.groups);
        std::mem::swap(&mut self.early_kernel_pages, &mut r.early_kernel_pages);
        std::mem::swap(&mut self.nvdimm, &mut r.nvdimm);
        std::mem::swap(&mut self.boot_ram_end, &mut r.boot_ram_end);
        std::mem::swap(&mut self.memory_devices, &mut r.memory_devices);
        MachineUndo { tree, rest }
    }

    /// The rest of the machine as it was when the step began (what `left_behind` compares).
    pub fn dax_before(rest: &MachineRest) -> &BTreeMap<String, DaxDevice> {
        &rest.dax
    }
}
