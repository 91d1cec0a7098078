//! Edge tests for `src/kernel/hotplug.rs` (`mm/memory_hotplug.c`, read in
//! /work/ksrc/linux-source-{5.10,6.1,6.12}/mm/memory_hotplug.c; ≤ v5.9 lines quoted from
//! v5.4 where the Debian sources do not have them).

use super::{add, m};
use crate::kernel::machine::{AddOptions, Machine};
use crate::kernel::memory::{BlockState, OnlineType, Zone};
use crate::kernel::{Errno, KResult, Trace};
use crate::testutil::{RAM, text};
use crate::tree::flags::*;

const BS: u64 = 128 << 20;
const G4: u64 = 0x1_0000_0000;
/// x86_64 without la57: `mhp_range.end = max_phys` = `(1ULL << MAX_PHYSMEM_BITS) - 1`, 46 bits.
const PHYSMEM_END: u64 = (1 << 46) - 1;

fn add_dm(mc: &mut Machine, start: u64, size: u64, merge: bool) -> KResult<()> {
    let o = AddOptions {
        driver_managed: Some("System RAM (virtio_mem)".into()),
        merge_resource: merge,
    };
    mc.add_memory(0, start, size, &o, &mut Trace::new())
}

// ---------------------------------------------------------------- check_hotplug_memory_range

/// `if (!size || !IS_ALIGNED(start, memory_block_size_bytes()) || !IS_ALIGNED(size,
/// memory_block_size_bytes())) { pr_err("Block size [%#lx] unaligned hotplug range: start
/// %#llx, size %#llx", ...); return -EINVAL; }`
#[test]
fn check_range_each_condition_alone() {
    let mc = m("6.12");
    assert!(
        mc.check_hotplug_memory_range(G4, BS, &mut Trace::new())
            .is_ok()
    );
    assert!(
        mc.check_hotplug_memory_range(0, 2 * BS, &mut Trace::new())
            .is_ok()
    );
    for (s, n) in [
        (G4, 0),
        (G4 + 1, BS),
        (G4 - 1, BS),
        (G4, BS + 1),
        (G4, BS - 1),
    ] {
        let mut tr = Trace::new();
        let e = mc.check_hotplug_memory_range(s, n, &mut tr).unwrap_err();
        assert_eq!(
            (e.errno, e.func),
            (Errno::EINVAL, "check_hotplug_memory_range")
        );
        let line =
            format!("Block size [0x8000000] unaligned hotplug range: start {s:#x}, size {n:#x}");
        assert_eq!(tr.log, std::slice::from_ref(&line), "[{s:x}+{n:x}]");
        assert_eq!(e.log, Some(line));
    }
}

// ---------------------------------------------------------------- mhp_range_allowed

/// `if (start < end && start >= mhp_range.start && (end - 1) <= mhp_range.end) return true;`
/// — the block ending at exactly the last pluggable byte is allowed, the next is -E2BIG with
/// `Hotplug memory [%#llx-%#llx] exceeds maximum addressable range [%#llx-%#llx]`.
#[test]
fn mhp_range_allowed_last_pluggable_byte() {
    let mc = m("6.12");
    let last = PHYSMEM_END + 1 - BS;
    let mut tr = Trace::new();
    mc.mhp_range_allowed(last, BS, &mut tr).unwrap();
    assert!(tr.log.is_empty());
    assert_eq!(
        tr.steps[0].text(),
        format!("[{last:#x}-{:#x}) inside [0x0-{PHYSMEM_END:#x}]", last + BS)
    );
    let mut tr = Trace::new();
    let e = mc.mhp_range_allowed(last, BS + 1, &mut tr).unwrap_err();
    assert_eq!((e.errno, e.func), (Errno::E2BIG, "mhp_range_allowed"));
    assert_eq!(
        tr.log,
        [format!(
            "Hotplug memory [{last:#x}-{:#x}] exceeds maximum addressable range [0x0-0x3fffffffffff]",
            last + BS + 1
        )]
    );
    // `start < end`: size 0, and a size that wraps past 2^64.
    assert!(mc.mhp_range_allowed(G4, 0, &mut Trace::new()).is_err());
    assert!(
        mc.mhp_range_allowed(G4, u64::MAX - G4 + 1, &mut Trace::new())
            .is_err()
    );
    // la57: `MAX_PHYSMEM_BITS` 52.
    let mut mc = m("6.12");
    mc.config.la57 = true;
    assert!(
        mc.mhp_range_allowed(last, 2 * BS, &mut Trace::new())
            .is_ok()
    );
    assert!(
        mc.mhp_range_allowed((1 << 52) - BS, BS, &mut Trace::new())
            .is_ok()
    );
    assert!(
        mc.mhp_range_allowed((1 << 52) - BS, BS + 1, &mut Trace::new())
            .is_err()
    );
}

/// End to end: `register_memory_resource` calls `mhp_range_allowed` from v5.12 (it does not
/// exist in 5.11): a block at the top of the 46-bit space is added, one block higher is
/// -E2BIG on v5.12 but reaches `__request_region` (and the root's end) on v5.11.
#[test]
fn add_memory_at_the_top_of_physmem_both_sides_of_5_12() {
    let top = PHYSMEM_END + 1 - BS;
    for ver in ["5.11", "5.12", "6.12"] {
        let mut mc = m(ver);
        add(&mut mc, top, BS, &mut Trace::new()).unwrap();
        let ram = mc.tree.find_range(top, PHYSMEM_END).unwrap();
        assert_eq!(mc.tree.get(ram).flags, RAM, "{ver}");
        assert!(mc.blocks.contains(top / BS), "{ver}");
    }
    let mut mc = m("5.12");
    let e = add(&mut mc, PHYSMEM_END + 1, BS, &mut Trace::new()).unwrap_err();
    assert_eq!(e.errno, Errno::E2BIG);
    let mut mc = m("5.11");
    let e = add(&mut mc, PHYSMEM_END + 1, BS, &mut Trace::new()).unwrap_err();
    assert_eq!(
        (e.errno, e.func),
        (Errno::EEXIST, "register_memory_resource")
    );
    assert_eq!(
        e.log.as_deref(),
        Some("Unable to reserve System RAM region: 0000400000000000->0000400008000000")
    );
}

// ---------------------------------------------------------------- register_memory_resource

/// `if (strcmp(resource_name, "System RAM")) flags |= IORESOURCE_SYSRAM_DRIVER_MANAGED;`
/// (v5.8+) — and plain "System RAM" never gets it.
#[test]
fn driver_managed_flag_by_name() {
    let mut mc = m("5.8");
    add_dm(&mut mc, G4, BS, false).unwrap();
    add(&mut mc, G4 + BS, BS, &mut Trace::new()).unwrap();
    let dm = mc.tree.find_range(G4, G4 + BS - 1).unwrap();
    let plain = mc.tree.find_range(G4 + BS, G4 + 2 * BS - 1).unwrap();
    assert_eq!(
        mc.tree.get(dm).flags,
        RAM | IORESOURCE_SYSRAM_DRIVER_MANAGED
    );
    assert_eq!(mc.tree.get(plain).flags, RAM);
    // add_memory_driver_managed does not exist in v5.7.
    let mut mc = m("5.7");
    let e = add_dm(&mut mc, G4, BS, false).unwrap_err();
    assert_eq!(
        (e.errno, e.func),
        (Errno::EINVAL, "add_memory_driver_managed")
    );
}

/// ≤ v5.0 `res = request_resource_conflict(&iomem_resource, res)` (top level only) vs v5.1+
/// `__request_region`: memory inside a non-BUSY top-level node is -EEXIST on 5.0 only.
#[test]
fn register_eras_both_sides_of_5_1() {
    let mut mc = m("5.0");
    let before = text(&mc.tree);
    let mut tr = Trace::new();
    let e = add(&mut mc, 0xa0000000, BS, &mut tr).unwrap_err();
    assert_eq!(e.errno, Errno::EEXIST);
    assert_eq!(
        e.log.as_deref(),
        Some("System RAM resource [mem 0xa0000000-0xa7ffffff] cannot be added")
    );
    assert_eq!(text(&mc.tree), before);
    let mut mc = m("5.1");
    add(&mut mc, 0xa0000000, BS, &mut Trace::new()).unwrap();
    // 5.0, free range: linked at the top level.
    let mut mc = m("5.0");
    add(&mut mc, G4, BS, &mut Trace::new()).unwrap();
    assert!(mc.tree.find_range(G4, G4 + BS - 1).is_some());
}

// ---------------------------------------------------------------- add_memory_resource

/// `create_memory_block_devices(start, size, ...)` creates exactly the blocks
/// `[PFN_DOWN(start) / pages_per_block, PFN_DOWN(start + size - 1) / pages_per_block]`,
/// offline (`MEM_OFFLINE`) on the given node; the block after is untouched.
#[test]
fn add_creates_exactly_the_covered_blocks_offline() {
    let mut mc = m("6.12");
    add(&mut mc, G4, 2 * BS, &mut Trace::new()).unwrap();
    let ids: Vec<u64> = mc
        .blocks
        .range(G4 / BS - 1, G4 / BS + 3)
        .map(|b| b.id)
        .collect();
    assert_eq!(ids, [32, 33]);
    for id in [32, 33] {
        let b = mc.blocks.get(id).unwrap();
        assert_eq!(
            (b.state, b.zone, b.nid, b.boot),
            (BlockState::Offline, None, 0, false)
        );
    }
}

/// A block already present (`sparse_add_section` finds it) is -EEXIST, also when it is the
/// last block of the range; the resource is released again (`release_memory_resource`).
#[test]
fn add_over_an_existing_last_block_is_eexist() {
    let mut mc = m("6.12");
    add(&mut mc, G4 + BS, BS, &mut Trace::new()).unwrap();
    // Free the resource but keep the block, so only the block check can refuse.
    let r = mc.tree.find_range(G4 + BS, G4 + 2 * BS - 1).unwrap();
    mc.tree.unlink(r);
    let before = text(&mc.tree);
    let mut tr = Trace::new();
    let e = add(&mut mc, G4, 2 * BS, &mut tr).unwrap_err();
    assert_eq!((e.errno, e.func), (Errno::EEXIST, "add_memory_resource"));
    assert_eq!(
        e.reason,
        "memory33 already exists (its sections are present)"
    );
    assert_eq!(text(&mc.tree), before);
    assert!(!mc.blocks.contains(32));
    assert!(tr.steps.iter().any(|s| s.func == "release_memory_resource"));
}

/// `if (!node_possible(nid)) ...` — the simulator's nodes are 0..1024 (MAX_NUMNODES with
/// NODES_SHIFT 10): 1023 is possible, 1024 and -1 (NUMA_NO_NODE) are not.
#[test]
fn add_node_bounds() {
    let mut mc = m("6.12");
    mc.add_memory(1023, G4, BS, &AddOptions::default(), &mut Trace::new())
        .unwrap();
    assert_eq!(mc.blocks.get(32).unwrap().nid, 1023);
    for nid in [1024, -1] {
        let mut mc = m("6.12");
        let before = text(&mc.tree);
        let e = mc
            .add_memory(nid, G4, BS, &AddOptions::default(), &mut Trace::new())
            .unwrap_err();
        assert_eq!(e.errno, Errno::EINVAL, "{nid}");
        assert_eq!(text(&mc.tree), before);
    }
}

/// `if (!strcmp(res->name, "System RAM")) firmware_map_add_hotplug(start, start + size,
/// "System RAM");` — the entry's inclusive end is `start + size - 1`; driver-managed memory
/// gets none.
#[test]
fn firmware_memmap_only_for_plain_system_ram() {
    let mut mc = m("6.12");
    let mut tr = Trace::new();
    add(&mut mc, G4, 2 * BS, &mut tr).unwrap();
    assert_eq!(mc.firmware_memmap.get(&G4), Some(&(G4 + 2 * BS - 1)));
    assert!(tr.steps.iter().any(|s| s.func == "firmware_map_add_hotplug"
        && s.text() == "/sys/firmware/memmap entry [0x100000000-0x10fffffff] System RAM"));
    add_dm(&mut mc, G4 + 2 * BS, BS, false).unwrap();
    assert_eq!(mc.firmware_memmap.len(), 1);
}

/// `if (mhp_flags & MHP_MERGE_RESOURCE) merge_system_ram_resource(res);` — the flag exists
/// from v5.10; before, the blocks stay separate.
#[test]
fn merge_resource_both_sides_of_5_10() {
    for (ver, merged) in [("5.9", false), ("5.10", true)] {
        let mut mc = m(ver);
        add_dm(&mut mc, G4, BS, true).unwrap();
        add_dm(&mut mc, G4 + BS, BS, true).unwrap();
        let one = mc.tree.find_range(G4, G4 + 2 * BS - 1).is_some();
        assert_eq!(one, merged, "{ver}");
    }
}

/// Auto-online: v5.8+ `mhp_default_online_type` is the online type; before v5.8
/// `memhp_auto_online` was a bool (online = the default zone). online_movable on 5.7 acts as
/// online (ZONE_NORMAL at 4 GiB), on 5.8 gives ZONE_MOVABLE.
#[test]
fn auto_online_type_both_sides_of_5_8() {
    for (ver, zone) in [("5.7", Zone::Normal), ("5.8", Zone::Movable)] {
        let mut mc = m(ver);
        mc.config.auto_online = OnlineType::OnlineMovable;
        let mut tr = Trace::new();
        add(&mut mc, G4, BS, &mut tr).unwrap();
        let b = mc.blocks.get(32).unwrap();
        assert_eq!((b.state, b.zone), (BlockState::Online, Some(zone)), "{ver}");
        assert_eq!(
            tr.steps
                .iter()
                .any(|s| s.text().contains("is a bool before v5.8")),
            ver == "5.7"
        );
    }
    let mut mc = m("5.7");
    mc.config.auto_online = OnlineType::Offline;
    add(&mut mc, G4, BS, &mut Trace::new()).unwrap();
    assert_eq!(mc.blocks.get(32).unwrap().state, BlockState::Offline);
}

// ---------------------------------------------------------------- try_remove_memory

/// `firmware_map_remove(start, start + size, "System RAM");` removes the entry with exactly
/// this range; `release_mem_region_adjustable` frees the resource.
#[test]
fn remove_drops_firmware_memmap_entry_and_resource() {
    let mut mc = m("6.12");
    let before = text(&mc.tree);
    add(&mut mc, G4, 2 * BS, &mut Trace::new()).unwrap();
    let mut tr = Trace::new();
    mc.remove_memory(G4, 2 * BS, &mut tr).unwrap();
    assert!(mc.firmware_memmap.is_empty());
    assert_eq!(text(&mc.tree), before);
    assert!(!mc.blocks.contains(32) && !mc.blocks.contains(33));
    assert!(
        tr.steps.iter().any(|s| s.func == "firmware_map_remove"
            && s.text() == "[0x100000000-0x10fffffff] System RAM")
    );
    assert!(
        tr.steps
            .iter()
            .any(|s| s.func == "remove_memory_block_devices"
                && s.text() == "memory32..memory33: 2 block(s) removed")
    );
    assert!(tr.log.is_empty());
}

/// `firmware_map_find_entry(start, end - 1, type)` needs the exact entry: removing half of
/// an added range leaves the entry (and trims the resource).
#[test]
fn remove_half_keeps_firmware_memmap_entry() {
    let mut mc = m("6.12");
    add(&mut mc, G4, 2 * BS, &mut Trace::new()).unwrap();
    mc.remove_memory(G4, BS, &mut Trace::new()).unwrap();
    assert_eq!(mc.firmware_memmap.get(&G4), Some(&(G4 + 2 * BS - 1)));
    assert!(mc.tree.find_range(G4 + BS, G4 + 2 * BS - 1).is_some());
    assert!(mc.blocks.contains(33) && !mc.blocks.contains(32));
}

/// ≤ v5.9 `__release_memory_resource`: `ret = release_mem_region_adjustable(&iomem_resource,
/// start, size); if (ret) { ... pr_warn("Unable to release resource <%pa-%pa> (%d)\n",
/// &start, &endaddr, ret); }` — only on failure; v5.10 made it void (no line).
#[test]
fn unable_to_release_log_only_on_failure_before_5_10() {
    // Success on 5.9: no line.
    let mut mc = m("5.9");
    add(&mut mc, G4, BS, &mut Trace::new()).unwrap();
    let mut tr = Trace::new();
    mc.remove_memory(G4, BS, &mut tr).unwrap();
    assert!(tr.log.is_empty(), "{:?}", tr.log);
    // Nothing to release on 5.9: the line with -EINVAL, after __remove_section's
    // `if (WARN_ON_ONCE(!valid_section(ms)))` for the never-added (now removed) section.
    let mut tr = Trace::new();
    mc.remove_memory(G4, BS, &mut tr).unwrap();
    assert_eq!(tr.log.len(), 2, "{:?}", tr.log);
    assert!(
        tr.log[0].contains("WARN_ON_ONCE(!valid_section(ms))"),
        "{:?}",
        tr.log
    );
    assert_eq!(
        tr.log[1],
        "Unable to release resource <0x0000000100000000-0x0000000107ffffff> (-22)"
    );
    // 5.10: no "Unable to release" line (only the never-added section's WARN).
    let mut mc = m("5.10");
    let mut tr = Trace::new();
    mc.remove_memory(G4, BS, &mut tr).unwrap();
    assert!(
        tr.log.iter().all(|l| !l.contains("Unable to release")),
        "{:?}",
        tr.log
    );
}

/// `check_memblock_offlined_cb`: `if (unlikely(mem->state != MEM_OFFLINE)) { ...
/// pr_warn("removing memory fails, because memory [%pa-%pa] is onlined\n", &beginpa,
/// &endpa); return -EBUSY; }` — for the first online block (here the last of the range);
/// nothing changes.
#[test]
fn remove_refused_by_an_online_last_block() {
    let mut mc = m("6.12");
    add(&mut mc, G4, 2 * BS, &mut Trace::new()).unwrap();
    mc.online_memory(G4 + BS, BS, OnlineType::Online, &mut Trace::new())
        .unwrap();
    let before = text(&mc.tree);
    let mut tr = Trace::new();
    let e = mc.remove_memory(G4, 2 * BS, &mut tr).unwrap_err();
    assert_eq!(
        (e.errno, e.func),
        (Errno::EBUSY, "check_memblock_offlined_cb")
    );
    assert_eq!(e.reason, "memory33 is online");
    assert_eq!(
        tr.log,
        [
            "removing memory fails, because memory [0x0000000108000000-0x000000010fffffff] is onlined"
        ]
    );
    assert_eq!(text(&mc.tree), before);
    assert!(mc.blocks.contains(32) && mc.firmware_memmap.contains_key(&G4));
    // v5.2 and older BUG() here: same refusal, the reason says so (boundary 5.3).
    let mut mc = m("5.2");
    add(&mut mc, G4, BS, &mut Trace::new()).unwrap();
    mc.online_memory(G4, BS, OnlineType::Online, &mut Trace::new())
        .unwrap();
    let e = mc.remove_memory(G4, BS, &mut Trace::new()).unwrap_err();
    assert!(e.reason.contains("BUG()"), "{}", e.reason);
    let mut mc = m("5.3");
    add(&mut mc, G4, BS, &mut Trace::new()).unwrap();
    mc.online_memory(G4, BS, OnlineType::Online, &mut Trace::new())
        .unwrap();
    let e = mc.remove_memory(G4, BS, &mut Trace::new()).unwrap_err();
    assert_eq!(e.reason, "memory32 is online");
}

/// `BUG_ON(check_hotplug_memory_range(start, size))` in `try_remove_memory`: refused with the
/// same log line as on add.
#[test]
fn remove_unaligned_is_refused() {
    let mut mc = m("6.12");
    add(&mut mc, G4, BS, &mut Trace::new()).unwrap();
    let mut tr = Trace::new();
    let e = mc.remove_memory(G4, BS - 1, &mut tr).unwrap_err();
    assert_eq!(e.errno, Errno::EINVAL);
    assert!(
        e.reason
            .ends_with("(the kernel would BUG(): remove_memory asserts alignment)")
    );
    assert_eq!(
        tr.log,
        ["Block size [0x8000000] unaligned hotplug range: start 0x100000000, size 0x7ffffff"]
    );
    assert!(mc.blocks.contains(32));
}

/// `offline_and_remove_memory` (v5.8+): `if (!IS_ALIGNED(start, mb_size) || !IS_ALIGNED(size,
/// mb_size) || !size) return -EINVAL;` then offline, then remove.
#[test]
fn offline_and_remove_edges() {
    let mut mc = m("5.7");
    assert!(
        mc.offline_and_remove_memory(G4, BS, &mut Trace::new())
            .is_err()
    );
    let mut mc = m("5.8");
    let before = text(&mc.tree);
    add(&mut mc, G4, BS, &mut Trace::new()).unwrap();
    mc.online_memory(G4, BS, OnlineType::Online, &mut Trace::new())
        .unwrap();
    for (s, n) in [(G4, 0), (G4 + 1, BS), (G4, BS + 1)] {
        let e = mc
            .offline_and_remove_memory(s, n, &mut Trace::new())
            .unwrap_err();
        assert_eq!(e.errno, Errno::EINVAL);
        assert!(mc.blocks.contains(32));
    }
    mc.offline_and_remove_memory(G4, BS, &mut Trace::new())
        .unwrap();
    assert_eq!(text(&mc.tree), before);
    assert!(!mc.blocks.contains(32));
}
