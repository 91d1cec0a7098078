//! More edge tests for `src/kernel/hotplug.rs` (issue 16, second pass): the decision path
//! (`--explain` steps and their nesting), the pre-v5.1 device-private log, the page-count era
//! of `check_hotplug_memory_range`, block ids at the bottom and top of the address space,
//! unmovable boot pages, and both versions of `offline_and_remove_memory`. Kernel lines are
//! quoted from /work/ksrc/linux-source-{5.10,6.1}/mm/memory_hotplug.c, older ones from the
//! torvalds/linux history (search tool, code corpus).

use super::{add, m, v};
use crate::kernel::machine::{AddOptions, Config, Machine};
use crate::kernel::memory::{BlockState, OnlineType, Zone};
use crate::kernel::{Errno, Trace};
use crate::testutil::{MEMB, RAM, build, t0, text};
use crate::tree::Desc;

const BS: u64 = 128 << 20;
const G4: u64 = 0x1_0000_0000;

// ---------------------------------------------------------------- register_memory_resource

/// ≤ v5.0 register_memory_resource (4.19 mm/memory_hotplug.c):
/// `conflict = request_resource_conflict(&iomem_resource, res); if (conflict) { if
/// (conflict->desc == IORES_DESC_DEVICE_PRIVATE_MEMORY) { pr_debug("Device unaddressable
/// memory block " "memory hotplug at %#010llx !\n", (unsigned long long)start); }
/// pr_debug("System RAM resource %pR cannot be added\n", res); ...return ERR_PTR(-EEXIST);`
/// — the first line only for a device-private conflict.
#[test]
fn pre_5_1_device_private_conflict_log_only_for_device_private() {
    let tree = build(&[
        (0, 0x0, 0x7fffffff, "System RAM", RAM, Desc::None),
        (0, G4, G4 + BS - 1, "hmm", MEMB, Desc::DevicePrivateMemory),
    ]);
    let mut mc = Machine::boot(
        tree,
        Config {
            version: v("5.0"),
            ..Config::default()
        },
    );
    let mut tr = Trace::new();
    let e = add(&mut mc, G4, BS, &mut tr).unwrap_err();
    assert_eq!(
        (e.errno, e.func),
        (Errno::EEXIST, "register_memory_resource")
    );
    assert_eq!(
        tr.log,
        [
            "Device unaddressable memory block memory hotplug at 0x100000000 !",
            "System RAM resource [mem 0x100000000-0x107ffffff] cannot be added",
        ]
    );
    // A conflict with ordinary (PMEM) memory: only the second line.
    let mut mc = m("5.0");
    let mut tr = Trace::new();
    add(&mut mc, 0xa0000000, BS, &mut tr).unwrap_err();
    assert_eq!(
        tr.log,
        ["System RAM resource [mem 0xa0000000-0xa7ffffff] cannot be added"]
    );
}

/// v5.1+ `res = __request_region(&iomem_resource, start, size, resource_name, flags);` is
/// called by register_memory_resource, itself called by add_memory: the decision path nests
/// __request_region's steps one level below register_memory_resource (depth 2 under
/// add_memory at 0).
#[test]
fn request_region_steps_nest_under_register_memory_resource() {
    let mut mc = m("6.1");
    let mut tr = Trace::new();
    add(&mut mc, 0xa0000000, BS, &mut tr).unwrap();
    let depths: Vec<(usize, &str)> = tr
        .steps
        .iter()
        .filter(|s| s.func == "__request_region")
        .map(|s| (s.depth, s.func))
        .collect();
    // Descends into the (non-BUSY) PMEM node, then inserts as its child.
    assert_eq!(
        depths,
        [(2, "__request_region"), (2, "__request_region")],
        "{:#?}",
        tr.steps
    );
    assert!(tr.steps.iter().any(|s| s.depth == 1
        && s.func == "register_memory_resource"
        && s.text().starts_with("v5.1+: __request_region")));
}

/// `__request_resource`: `if (end < start) return root;` — size 0 gives `end = start - 1`,
/// so `__request_region` fails with the parent (the root) as the "conflict"; v5.1–v5.11
/// (no mhp_range_allowed yet) report it as -EEXIST. A range above the root's end: `if (end >
/// root->end) return root;` — also the root, but not because of the size. The explanation
/// names each case and where it happened.
#[test]
fn request_region_refusal_reasons_name_the_parent() {
    let mut mc = m("5.11");
    let e = add(&mut mc, 0xa0000000, 0, &mut Trace::new()).unwrap_err();
    assert_eq!(
        (e.errno, e.func),
        (Errno::EEXIST, "register_memory_resource")
    );
    assert_eq!(
        e.reason,
        "__request_region: size 0 gives end < start, rejected by the iomem root"
    );
    let e = add(&mut mc, 1 << 46, BS, &mut Trace::new()).unwrap_err();
    assert_eq!(
        e.reason,
        "__request_region: the range leaves the iomem root"
    );
    // Straddling the end of the (non-BUSY) PCI window c0000000-febfffff: __request_region
    // descends into it (`if (!(conflict->flags & IORESOURCE_BUSY)) { parent = conflict;
    // continue; }`), then `end > root->end` returns the window itself.
    let e = add(&mut mc, 0xf8000000, BS, &mut Trace::new()).unwrap_err();
    assert_eq!(e.errno, Errno::EEXIST);
    assert_eq!(
        e.reason,
        "__request_region: the range leaves \"PCI Bus 0000:00\" [c0000000-febfffff]"
    );
    assert_eq!(
        e.log.as_deref(),
        Some("Unable to reserve System RAM region: 00000000f8000000->0000000100000000")
    );
    // A BUSY conflict: "stopped at BUSY".
    let e = add(&mut mc, 0x10000000, BS, &mut Trace::new()).unwrap_err();
    assert_eq!(
        e.reason,
        "__request_region stopped at BUSY \"System RAM\" [100000-9fffffff]"
    );
}

// ---------------------------------------------------------------- check_hotplug_memory_range

/// ≤ v5.1 (4.19 mm/memory_hotplug.c): `u64 nr_pages = size >> PAGE_SHIFT; u64 start_pfn =
/// PFN_DOWN(start); if (!nr_pages || !IS_ALIGNED(start_pfn, block_nr_pages) ||
/// !IS_ALIGNED(nr_pages, block_nr_pages)) { pr_err("Block size [%#lx] unaligned hotplug
/// range: start %#llx, size %#llx", ...); return -EINVAL; }` — half a block, less than one
/// page (nr_pages 0), and a start half a block in are refused.
#[test]
fn page_count_era_refuses_half_a_block_and_less_than_a_page() {
    for size in [BS / 2, 0x800] {
        let mc = m("4.19");
        let mut tr = Trace::new();
        let e = mc
            .check_hotplug_memory_range(G4, size, &mut tr)
            .unwrap_err();
        assert_eq!(
            (e.errno, e.func),
            (Errno::EINVAL, "check_hotplug_memory_range")
        );
        assert_eq!(
            tr.log,
            [format!(
                "Block size [0x8000000] unaligned hotplug range: start 0x100000000, size {size:#x}"
            )]
        );
    }
    // A start half a block in: `!IS_ALIGNED(start_pfn, block_nr_pages)` → -EINVAL.
    let e = m("4.19")
        .check_hotplug_memory_range(G4 + BS / 2, BS, &mut Trace::new())
        .unwrap_err();
    assert_eq!(e.errno, Errno::EINVAL);
    // A sub-page start offset passes (`PFN_DOWN(start)`), as does a block and a sub-page
    // tail (nr_pages = 0x8000).
    assert!(
        m("4.19")
            .check_hotplug_memory_range(G4 + 0x800, BS, &mut Trace::new())
            .is_ok()
    );
    assert!(
        m("4.19")
            .check_hotplug_memory_range(G4, BS + 0xfff, &mut Trace::new())
            .is_ok()
    );
}

// ---------------------------------------------------------------- add_memory_resource

/// `create_memory_block_devices`: block ids are `pfn_to_block_id(PFN_DOWN(start))` — memory0
/// for memory added at physical address 0 (allowed: `start >= mhp_range.start` = 0), and a
/// one-block add high in a la57 machine (2^48, block id 2^21) creates exactly that block.
#[test]
fn add_at_address_zero_and_at_a_high_block_id() {
    let mut mc = Machine::boot(
        build(&[]),
        Config {
            version: v("6.1"),
            ..Config::default()
        },
    );
    add(&mut mc, 0, BS, &mut Trace::new()).unwrap();
    assert_eq!(mc.blocks.iter().map(|b| b.id).collect::<Vec<_>>(), [0]);
    assert_eq!(mc.blocks.get(0).unwrap().state, BlockState::Offline);
    let mut mc = Machine::boot(
        t0(),
        Config {
            version: v("6.1"),
            phys_bits: 52,
            la57: true,
            ..Config::default()
        },
    );
    add(&mut mc, 1 << 48, BS, &mut Trace::new()).unwrap();
    assert!(mc.blocks.contains(1 << 21));
    assert_eq!(mc.blocks.range(1 << 20, u64::MAX).count(), 1);
}

/// `if (mhp_flags & MHP_MERGE_RESOURCE) merge_system_ram_resource(res);` is called from
/// add_memory_resource (depth 1): its steps nest one level below (depth 2).
#[test]
fn merge_steps_nest_under_add_memory_resource() {
    let mut mc = m("6.1");
    let o = AddOptions {
        driver_managed: Some("System RAM (virtio_mem)".into()),
        merge_resource: true,
    };
    mc.add_memory(0, G4, BS, &o, &mut Trace::new()).unwrap();
    let mut tr = Trace::new();
    mc.add_memory(0, G4 + BS, BS, &o, &mut tr).unwrap();
    let merge: Vec<usize> = tr
        .steps
        .iter()
        .filter(|s| s.func == "merge_system_ram_resource")
        .map(|s| s.depth)
        .collect();
    assert!(!merge.is_empty(), "{:#?}", tr.steps);
    assert!(merge.iter().all(|&d| d == 2), "{:#?}", tr.steps);
}

/// virtio-mem's memory read from a dump merges with the memory the driver adds next to it:
/// virtio_mem.c `vm->resource_name = kstrdup_const("System RAM (virtio_mem)", GFP_KERNEL);`
/// (a literal: kstrdup_const returns it, the same pointer for every add) and
/// `add_memory_driver_managed(…, vm->resource_name, MHP_MERGE_RESOURCE | …)`;
/// `system_ram_resources_mergeable` compares `r1->name == r2->name` as pointers. A dump's
/// "System RAM (virtio_mem)" (inferred DRIVER_MANAGED|MERGEABLE) therefore shares the name
/// object of later adds; another driver-managed name of the same text is not at issue here.
/// Both neighbours of a dump's block: the added one absorbs the next, the previous absorbs it.
#[test]
fn a_dumps_virtio_mem_memory_merges_with_memory_added_beside_it() {
    let dump = "00000000-00000fff : Reserved\n\
                00001000-7fffffff : System RAM\n\
                100000000-107ffffff : System RAM (virtio_mem)\n\
                110000000-117ffffff : System RAM (virtio_mem)\n";
    // The dump, then one virtio-mem add of memory32 between its two blocks.
    let add_between = |merge_resource: bool| {
        let tree = crate::parse::parse_dump(dump.as_bytes(), None)
            .unwrap()
            .tree;
        let mut mc = Machine::boot(tree, Config::default());
        let o = AddOptions {
            driver_managed: Some("System RAM (virtio_mem)".into()),
            merge_resource,
        };
        mc.add_memory(0, G4 + BS, BS, &o, &mut Trace::new())
            .unwrap();
        mc
    };
    assert_eq!(
        text(&add_between(true).tree),
        "00000000-00000fff : Reserved\n00001000-7fffffff : System RAM\n\
         100000000-117ffffff : System RAM (virtio_mem)\n"
    );
    // Without MHP_MERGE_RESOURCE (a plain add_memory_driver_managed) nothing merges.
    assert_eq!(add_between(false).tree.len(), 5);
}

// ---------------------------------------------------------------- offline_pages

/// 6.1 offline_pages: `ret = start_isolate_page_range(...); if (ret) { reason = "failure to
/// isolate range"; goto failed_removal; }` and `pr_debug("memory offlining [mem
/// %#010llx-%#010llx] failed due to %s\n", ...)`; the kernel image's pages are reserved
/// (unmovable), so only the block holding them is refused — the boot block next to it
/// offlines.
#[test]
fn only_the_boot_block_holding_the_kernel_image_is_pinned() {
    let tree = build(&[
        (0, 0x1000, 0x7fffffff, "System RAM", RAM, Desc::None),
        (0, G4, G4 + 2 * BS - 1, "System RAM", RAM, Desc::None),
        (
            1,
            G4 + BS + 0x1000,
            G4 + BS + 0x1fffff,
            "Kernel code",
            RAM,
            Desc::None,
        ),
    ]);
    let mut mc = Machine::boot(
        tree,
        Config {
            version: v("6.1"),
            ..Config::default()
        },
    );
    assert_eq!(mc.blocks.get(33).unwrap().zone, Some(Zone::Normal));
    let mut tr = Trace::new();
    let e = mc.offline_memory(G4 + BS, BS, &mut tr).unwrap_err();
    assert_eq!((e.errno, e.func), (Errno::EBUSY, "offline_pages"));
    assert_eq!(
        tr.log,
        ["memory offlining [mem 0x108000000-0x10fffffff] failed due to failure to isolate range"]
    );
    assert_eq!(mc.blocks.get(33).unwrap().state, BlockState::Online);
    mc.offline_memory(G4, BS, &mut Trace::new()).unwrap();
    assert_eq!(mc.blocks.get(32).unwrap().state, BlockState::Offline);
    // A DMA32 boot block of t0 without kernel pages (memory1) offlines too.
    let mut mc = m("6.1");
    mc.offline_memory(BS, BS, &mut Trace::new()).unwrap();
    assert_eq!(mc.blocks.get(1).unwrap().state, BlockState::Offline);
}

// ---------------------------------------------------------------- offline_and_remove_memory

/// v5.8–v5.10.0: `if (!IS_ALIGNED(start, memory_block_size_bytes()) || size !=
/// memory_block_size_bytes()) return rc; mem = find_memory_block(...); if (mem) rc =
/// device_offline(&mem->dev);` — rc stays -EINVAL both for a wrong size and for a missing
/// block; the explanation says which.
#[test]
fn offline_and_remove_before_5_11_says_why() {
    let mut mc = m("5.8");
    let one = |size: u64| {
        format!(
            "before v5.11 it takes exactly one memory block: size {size:#x} != memory_block_size_bytes() 0x8000000 (or start 0x100000000 unaligned)"
        )
    };
    // No block there, one block's size: find_memory_block finds none.
    let e = mc
        .offline_and_remove_memory(G4, BS, &mut Trace::new())
        .unwrap_err();
    assert_eq!(
        (e.errno, e.reason.as_str()),
        (
            Errno::EINVAL,
            "no memory block at 0x100000000 (find_memory_block found none)"
        )
    );
    // No block there, two blocks' size: the size check comes first.
    let e = mc
        .offline_and_remove_memory(G4, 2 * BS, &mut Trace::new())
        .unwrap_err();
    assert_eq!(e.reason, one(2 * BS));
    // A block there, two blocks' size.
    add(&mut mc, G4, 2 * BS, &mut Trace::new()).unwrap();
    let e = mc
        .offline_and_remove_memory(G4, 2 * BS, &mut Trace::new())
        .unwrap_err();
    assert_eq!(e.reason, one(2 * BS));
}

/// v5.11+ (6.1.172): `if (!IS_ALIGNED(start, memory_block_size_bytes()) ||
/// !IS_ALIGNED(size, memory_block_size_bytes()) || !size) return -EINVAL;` — before any
/// block is offlined, so an online block stays online and the refusal is
/// offline_and_remove_memory's own.
#[test]
fn offline_and_remove_from_5_11_refuses_before_offlining() {
    let mut mc = m("6.1");
    add(&mut mc, G4, 2 * BS, &mut Trace::new()).unwrap();
    mc.online_memory(G4, 2 * BS, OnlineType::Online, &mut Trace::new())
        .unwrap();
    let before = text(&mc.tree);
    for (s, n) in [(G4, 0), (G4 + 1, BS), (G4, BS + 1), (G4 + BS / 2, BS / 2)] {
        let e = mc
            .offline_and_remove_memory(s, n, &mut Trace::new())
            .unwrap_err();
        assert_eq!(
            (e.errno, e.func),
            (Errno::EINVAL, "offline_and_remove_memory"),
            "[{s:#x}+{n:#x}]"
        );
        for id in [32, 33] {
            assert_eq!(mc.blocks.get(id).unwrap().state, BlockState::Online);
        }
        assert_eq!(text(&mc.tree), before);
    }
}
