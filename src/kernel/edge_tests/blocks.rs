//! Edge tests for `src/kernel/memory.rs`, `src/kernel/machine.rs` and
//! `src/kernel/online_policy.rs` (issue 16, second pass): the x86_64 zone limits at boot,
//! zone spans before the shrink-on-offline fix, and the auto-movable ratio at its edge.
//! Kernel lines from /work/ksrc/linux-source-{5.10,6.1}/ (mm/memory_hotplug.c,
//! arch/x86/mm/init.c), older ones from the torvalds/linux history.

use super::{blk, v};
use crate::kernel::Trace;
use crate::kernel::machine::{AddOptions, Config, Machine};
use crate::kernel::memory::{BlockState, MemoryBlocks, OnlineType, Zone};
use crate::testutil::{MEMB, RAM, build};
use crate::tree::Desc;

const BS: u64 = 128 << 20;
const G4: u64 = 0x1_0000_0000;

fn boot(rows: &[(usize, u64, u64, &str, u32, Desc)], ver: &str) -> Machine {
    Machine::boot(
        build(rows),
        Config {
            version: v(ver),
            ..Config::default()
        },
    )
}

// ---------------------------------------------------------------- boot zones

/// x86 `zone_sizes_init` (arch/x86/mm/init.c): `max_zone_pfns[ZONE_DMA] = min(MAX_DMA_PFN,
/// max_low_pfn); max_zone_pfns[ZONE_DMA32] = min(MAX_DMA32_PFN, max_low_pfn);` with
/// `MAX_DMA_PFN ((16UL * 1024 * 1024) >> PAGE_SHIFT)` and `MAX_DMA32_PFN (1UL << (32 -
/// PAGE_SHIFT))` (arch/x86/include/asm/dma.h): RAM below 16 MiB is ZONE_DMA only, RAM from
/// 16 MiB is DMA32; a block holding both spans zones (`valid_zones` "none").
#[test]
fn boot_zone_limits_at_16_mib_and_4_gib() {
    // memory0 with RAM only below 16 MiB: DMA.
    let mc = boot(
        &[(0, 0x1000, 0xffffff, "System RAM", RAM, Desc::None)],
        "6.1",
    );
    assert_eq!(mc.blocks.get(0).unwrap().zone, Some(Zone::Dma));
    // RAM from exactly 16 MiB: DMA32 only.
    let mc = boot(
        &[(0, 0x1000000, 0x7ffffff, "System RAM", RAM, Desc::None)],
        "6.1",
    );
    assert_eq!(mc.blocks.get(0).unwrap().zone, Some(Zone::Dma32));
    // One byte below 16 MiB as well: both zones.
    let mc = boot(
        &[(0, 0xffffff, 0x7ffffff, "System RAM", RAM, Desc::None)],
        "6.1",
    );
    assert_eq!(mc.blocks.get(0).unwrap().zone, None);
    // The last block below 4 GiB is DMA32, the first above is Normal; RAM across 4 GiB: none.
    let mc = boot(
        &[(0, G4 - BS, G4 + BS - 1, "System RAM", RAM, Desc::None)],
        "6.1",
    );
    assert_eq!(mc.blocks.get(31).unwrap().zone, Some(Zone::Dma32));
    assert_eq!(mc.blocks.get(32).unwrap().zone, Some(Zone::Normal));
    let mc = boot(
        &[(0, G4 - 0x1000, G4 + 0xfff, "System RAM", RAM, Desc::None)],
        "6.1",
    );
    assert_eq!(mc.blocks.get(31).unwrap().zone, Some(Zone::Dma32));
    assert_eq!(mc.blocks.get(32).unwrap().zone, Some(Zone::Normal));
}

// ---------------------------------------------------------------- zone spans before the fix

/// v5.0 (before feee6b298916) the span shrinks only on removal: `__remove_zone` →
/// `shrink_zone_span(zone, start_pfn, start_pfn + nr_pages)`: `if (zone_start_pfn ==
/// start_pfn) { pfn = find_smallest_section_pfn(nid, zone, end_pfn, zone_end_pfn); ...
/// zone->zone_start_pfn = pfn; }` — removing the first of two offlined-but-spanned blocks
/// leaves the span starting at the second (the block between them was never added:
/// `if (unlikely(!valid_section(ms))) continue;`).
#[test]
fn removing_one_spanned_block_keeps_the_others_span() {
    let mut bs = MemoryBlocks::new();
    for id in [32, 34] {
        bs.insert(blk(id, BlockState::Offline, None));
        bs.keep_spanned(id, 0, Zone::Movable);
    }
    assert_eq!(bs.zone_span(0, Zone::Movable), Some((32, 34)));
    bs.remove(32);
    assert_eq!(bs.zone_span(0, Zone::Movable), Some((34, 34)));
    bs.remove(34);
    assert_eq!(bs.zone_span(0, Zone::Movable), None);
}

/// End to end on v5.0 — three hot-added blocks, memory33 in the middle stays offline.
#[test]
fn removing_one_spanned_block_end_to_end_5_0() {
    let mut mc = Machine::boot(
        crate::testutil::t0(),
        Config {
            version: v("5.0"),
            ..Config::default()
        },
    );
    let tr = &mut Trace::new();
    for a in [G4, G4 + 2 * BS] {
        mc.add_memory(0, a, BS, &AddOptions::default(), tr).unwrap();
        mc.online_memory(a, BS, OnlineType::OnlineMovable, tr)
            .unwrap();
        mc.offline_memory(a, BS, tr).unwrap();
    }
    assert_eq!(mc.blocks.zone_span(0, Zone::Movable), Some((32, 34)));
    mc.remove_memory(G4, BS, tr).unwrap();
    assert_eq!(mc.blocks.zone_span(0, Zone::Movable), Some((34, 34)));
}

// ---------------------------------------------------------------- Machine::boot

/// drivers/base/memory.c (6.1.172) `memory_dev_init`: `if (!is_power_of_2(block_sz) ||
/// block_sz < MIN_MEMORY_BLOCK_SIZE) panic("Memory block size not suitable: 0x%lx\n",
/// block_sz);` — a non-zero size that is not a power of two (192 MiB) is refused like 0;
/// the simulator notes it and keeps the default instead of panicking.
#[test]
fn boot_refuses_a_block_size_that_is_not_a_power_of_two() {
    let mc = Machine::boot(
        crate::testutil::t0(),
        Config {
            block_size: 0xc000000,
            ..Config::default()
        },
    );
    assert_eq!(mc.config.block_size, BS);
    assert_eq!(
        mc.notes,
        [
            "block size 0xc000000 is not a power of two: using 0x8000000 (the kernel panics: \"Memory block size not suitable\")"
        ]
    );
    // 256 MiB is a power of two: kept, no note.
    let mc = Machine::boot(
        crate::testutil::t0(),
        Config {
            block_size: 256 << 20,
            ..Config::default()
        },
    );
    assert_eq!((mc.config.block_size, mc.notes.len()), (256 << 20, 0));
}

/// x86 `setup_arch`: `iomem_resource.end = (1ULL << boot_cpu_data.x86_phys_bits) - 1;` —
/// when the width is not known (phys_bits 0 in the config) or is 64, the root keeps
/// kernel/resource.c's `.end = -1` (all of u64), without a note and without overflowing.
#[test]
fn boot_root_end_for_unknown_and_full_width() {
    for bits in [0, 64] {
        let mc = Machine::boot(
            crate::testutil::t0(),
            Config {
                phys_bits: bits,
                ..Config::default()
            },
        );
        assert_eq!(mc.tree.get(crate::tree::Tree::ROOT).end, u64::MAX, "{bits}");
        assert!(mc.notes.is_empty(), "{bits}: {:?}", mc.notes);
    }
    let mc = Machine::boot(
        crate::testutil::t0(),
        Config {
            phys_bits: 40,
            ..Config::default()
        },
    );
    assert_eq!(mc.tree.get(crate::tree::Tree::ROOT).end, (1 << 40) - 1);
}

/// A boot block's node is the SRAT node holding its first byte (`memory_block_add_nid` /
/// `get_nid_for_pfn(start_pfn)` of the block, drivers/base/memory.c / node.c): with node 0
/// over `[0, 4 GiB)` and node 1 from 4 GiB, memory31 is on node 0, memory32 and memory33 on
/// node 1.
#[test]
fn boot_block_nodes_from_the_srat() {
    use crate::kernel::nvdimm::NumaNode;
    let mc = Machine::boot(
        build(&[(0, 0x1000, G4 + 2 * BS - 1, "System RAM", RAM, Desc::None)]),
        Config {
            numa_nodes: vec![
                NumaNode {
                    nid: 0,
                    start: 0,
                    end: G4 - 1,
                },
                NumaNode {
                    nid: 1,
                    start: G4,
                    end: G4 + 2 * BS - 1,
                },
            ],
            ..Config::default()
        },
    );
    let nids: Vec<(u64, i32)> = [0, 31, 32, 33]
        .iter()
        .map(|&id| (id, mc.blocks.get(id).unwrap().nid))
        .collect();
    assert_eq!(nids, [(0, 0), (31, 0), (32, 1), (33, 1)]);
}

/// `pfn_to_block_id(pfn)` = `memory_block_id(pfn_to_section_nr(pfn))` = the address divided
/// by `memory_block_size_bytes()`: the last byte of memory32 is in block 32, the next in 33.
#[test]
fn block_id_of_an_address() {
    let mc = boot(&[], "6.1");
    assert_eq!(mc.block_id(0), 0);
    assert_eq!(mc.block_id(G4 + BS - 1), 32);
    assert_eq!(mc.block_id(G4 + BS), 33);
    assert_eq!(mc.block_id(3 * BS + 5), 3);
}

// ---------------------------------------------------------------- online_policy

/// 6.1.172 mm/memory_hotplug.c: `static const char * const online_policy_to_str[] = {
/// [ONLINE_POLICY_CONTIG_ZONES] = "contig-zones", [ONLINE_POLICY_AUTO_MOVABLE] =
/// "auto-movable", };` — `set_online_policy` takes exactly these (`sysfs_match_string`),
/// `get_online_policy` prints them; anything else is refused (`if (ret < 0) return ret;`).
#[test]
fn online_policy_words() {
    use crate::kernel::online_policy::{BadPolicy, OnlinePolicy};
    for (s, p) in [
        ("contig-zones", OnlinePolicy::ContigZones),
        ("auto-movable", OnlinePolicy::AutoMovable),
    ] {
        assert_eq!(s.parse::<OnlinePolicy>(), Ok(p));
        assert_eq!(p.to_string(), s);
    }
    for bad in ["", "auto_movable", "contig", "Auto-movable"] {
        assert_eq!(
            bad.parse::<OnlinePolicy>(),
            Err(BadPolicy(bad.to_string())),
            "{bad:?}"
        );
    }
    assert_eq!(OnlinePolicy::default(), OnlinePolicy::ContigZones);
}

/// `auto_movable_zone_for_pfn` for a static group: `max_pages = group->s.max_pages;` — all
/// of the group's pages (blocks × pages per block) — then `movable_pages += nr_pages; return
/// movable_pages <= (auto_movable_ratio * kernel_early_pages) / 100;`. On t0 (720766 early
/// pages, ratio 301: limit 2169505) after 4 GiB (1048576 pages) of MOVABLE, a group of 34
/// blocks (1114112 pages, total 2162688) fits, one of 35 blocks (1146880, total 2195456)
/// does not and goes to the kernel zone, all of it.
#[test]
fn auto_movable_group_of_one_block_too_many() {
    use crate::kernel::online_policy::OnlinePolicy;
    let machine = || {
        let mut mc = Machine::boot(
            crate::testutil::t0(),
            Config {
                version: v("6.1"),
                online_policy: OnlinePolicy::AutoMovable,
                ..Config::default()
            },
        );
        let tr = &mut Trace::new();
        mc.add_memory(0, G4, 32 * BS, &AddOptions::default(), tr)
            .unwrap();
        mc.online_memory(G4, 32 * BS, OnlineType::Online, tr)
            .unwrap();
        assert_eq!(mc.blocks.get(63).unwrap().zone, Some(Zone::Movable));
        mc
    };
    for (blocks, zone) in [(34, Zone::Movable), (35, Zone::Normal)] {
        let mut mc = machine();
        let tr = &mut Trace::new();
        let start = 2 * G4;
        mc.add_memory(0, start, blocks * BS, &AddOptions::default(), tr)
            .unwrap();
        mc.online_memory(start, blocks * BS, OnlineType::Online, tr)
            .unwrap();
        for id in start / BS..start / BS + blocks {
            assert_eq!(
                mc.blocks.get(id).unwrap().zone,
                Some(zone),
                "{blocks}: {id}"
            );
        }
    }
}

/// `if (auto_movable_numa_aware && !auto_movable_can_online_movable(nid, group, nr_pages))
/// goto kernel_zone;` — memory on a node without early kernel pages (all boot memory is on
/// node 0 here) fails the per-node check (`if (kernel_early_pages <=
/// group_stats.req_kernel_early_pages) return false;`) although the global one passes.
#[test]
fn auto_movable_per_node_check() {
    use crate::kernel::online_policy::OnlinePolicy;
    let mut mc = Machine::boot(
        crate::testutil::t0(),
        Config {
            version: v("6.1"),
            online_policy: OnlinePolicy::AutoMovable,
            ..Config::default()
        },
    );
    let tr = &mut Trace::new();
    mc.add_memory(1, G4, BS, &AddOptions::default(), tr)
        .unwrap();
    mc.online_memory(G4, BS, OnlineType::Online, tr).unwrap();
    assert_eq!(mc.blocks.get(32).unwrap().zone, Some(Zone::Normal));
    // The same block on node 0 goes MOVABLE.
    mc.add_memory(0, G4 + BS, BS, &AddOptions::default(), tr)
        .unwrap();
    mc.online_memory(G4 + BS, BS, OnlineType::Online, tr)
        .unwrap();
    assert_eq!(mc.blocks.get(33).unwrap().zone, Some(Zone::Movable));
}

/// Before feee6b298916 (v5.0 here) onlining a block into another zone does not shrink the
/// zone whose span it stayed in: `move_pfn_range_to_zone` → `resize_zone_range` (5.10.262:
/// `if (zone_is_empty(zone) || start_pfn < zone->zone_start_pfn) zone->zone_start_pfn =
/// start_pfn; zone->spanned_pages = max(start_pfn + nr_pages, old_end_pfn) -
/// zone->zone_start_pfn;`) only ever grows the target zone, and v5.0's offline_pages shrinks
/// nothing. So memory32 online_movable → offline → online_kernel stays in ZONE_MOVABLE's
/// span; onlining memory34 movable grows that span to [32, 34], over the offline memory33,
/// whose default zone (`default_zone_for_pfn`: in_movable only) is then MOVABLE. With the
/// fix (5.4) the offline shrank the span: Movable is [34, 34] and memory33 defaults to
/// Normal.
#[test]
fn onlining_into_another_zone_keeps_the_old_span_before_the_fix() {
    for (ver, zone, valid) in [
        ("5.0", Zone::Movable, "Movable Normal"),
        ("5.4", Zone::Normal, "Normal Movable"),
    ] {
        let mut mc = Machine::boot(
            crate::testutil::t0(),
            Config {
                version: v(ver),
                ..Config::default()
            },
        );
        let tr = &mut Trace::new();
        mc.add_memory(0, G4, 3 * BS, &AddOptions::default(), tr)
            .unwrap();
        mc.online_memory(G4, BS, OnlineType::OnlineMovable, tr)
            .unwrap();
        mc.offline_memory(G4, BS, tr).unwrap();
        mc.online_memory(G4, BS, OnlineType::OnlineKernel, tr)
            .unwrap();
        assert_eq!(mc.blocks.get(32).unwrap().zone, Some(Zone::Normal), "{ver}");
        mc.online_memory(G4 + 2 * BS, BS, OnlineType::OnlineMovable, tr)
            .unwrap();
        let b = mc.blocks.get(33).unwrap();
        assert_eq!(mc.blocks.valid_zones(b), valid, "{ver}");
        mc.online_memory(G4 + BS, BS, OnlineType::Online, tr)
            .unwrap();
        assert_eq!(mc.blocks.get(33).unwrap().zone, Some(zone), "{ver}");
    }
}

/// Every block that busy System RAM overlaps exists at boot, online, with the one zone its
/// RAM lies in, gathered over every piece of RAM (drivers/base/memory.c `memory_dev_init` →
/// `add_boot_memory_block` for each present section; a block's `valid_zones` is "none" when
/// `test_pages_in_a_zone` finds pages of two zones). Here memory0 holds the first 640 KiB
/// (DMA) and, from a second piece, RAM from 1 MiB on (DMA and DMA32): no zone, as memory0 on
/// every x86 machine. A piece nested in another adds no block; a block with RAM in its middle
/// only (memory35) exists; one under a non-RAM range (memory34) does not. The zone index
/// that booting builds in one go is the one block-by-block insertion gives.
#[test]
fn boot_blocks_gather_every_pieces_zones() {
    let rows = [
        (0, 0x1000, 0x9fbff, "System RAM", RAM, Desc::None),
        (0, 0x100000, 0x7fffffff, "System RAM", RAM, Desc::None),
        (1, 0x1000000, 0x1ffffff, "System RAM", RAM, Desc::None),
        (0, G4, G4 + 2 * BS - 1, "System RAM", RAM, Desc::None),
        (
            0,
            G4 + 2 * BS,
            G4 + 3 * BS - 1,
            "Reserved",
            MEMB,
            Desc::None,
        ),
        (
            0,
            G4 + 3 * BS + 0x4000000,
            G4 + 3 * BS + 0x5ffffff,
            "System RAM",
            RAM,
            Desc::None,
        ),
    ];
    let mc = boot(&rows, "6.1");
    let zones: Vec<(u64, Option<Zone>)> = mc.blocks.iter().map(|b| (b.id, b.zone)).collect();
    let mut want = vec![(0, None)];
    want.extend((1..16).map(|id| (id, Some(Zone::Dma32))));
    want.extend([32, 33, 35].map(|id| (id, Some(Zone::Normal))));
    assert_eq!(zones, want);
    assert!(
        mc.blocks
            .iter()
            .all(|b| b.state == BlockState::Online && b.boot && b.nid == 0)
    );
    // Whole pages of the top-most RAM only: 0x9ec00 bytes are 0x9e pages, then 0x7ff00
    // pages, 2 blocks and 32 MiB.
    assert_eq!(
        mc.early_kernel_pages,
        0x9e + 0x7ff00 + 2 * (BS >> 12) + (0x2000000 >> 12)
    );
    let mut one_by_one = MemoryBlocks::new();
    for b in mc.blocks.iter() {
        one_by_one.insert(b.clone());
    }
    for z in [Zone::Dma, Zone::Dma32, Zone::Normal, Zone::Movable] {
        assert_eq!(mc.blocks.zone_span(0, z), one_by_one.zone_span(0, z), "{z}");
    }
    assert_eq!(mc.blocks.zone_span(0, Zone::Normal), Some((32, 35)));
}
