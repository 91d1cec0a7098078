//! Edge tests for `src/kernel/dax.rs` (`drivers/dax/kmem.c`, `drivers/dax/device.c`, read in
//! /work/ksrc/linux-source-{5.10,6.1,6.12}/drivers/dax/; ≤ v5.9 lines quoted from v5.4).

use super::v;
use crate::kernel::Errno;
use crate::kernel::Trace;
use crate::kernel::dax::{DaxDriver, string_get_size_2};
use crate::kernel::machine::{Config, Machine};
use crate::kernel::memory::{BlockState, OnlineType};
use crate::testutil::{MEMB, RAM, build, t0, text};
use crate::tree::Desc;
use crate::tree::flags::*;

const BS: u64 = 128 << 20;

/// T0 plus a legacy pmem range at 4 GiB (as on the real-kernel B captures).
fn pmem_machine(ver: &str) -> Machine {
    let mut t = t0();
    let p = t.alloc(
        0x100000000,
        0x13fffffff,
        b"Persistent Memory (legacy)",
        IORESOURCE_MEM,
        Desc::PersistentMemoryLegacy,
    );
    t.link_sorted(crate::tree::Tree::ROOT, p);
    Machine::boot(
        t,
        Config {
            version: v(ver),
            ..Config::default()
        },
    )
}

fn with_dax(ver: &str, start: u64, end: u64) -> Machine {
    let mut mc = pmem_machine(ver);
    mc.add_dax_device("dax0.0", start, end, 0, true, &mut Trace::new())
        .unwrap();
    mc
}

fn kmem_range(mc: &Machine) -> Option<(u64, u64)> {
    let id = mc.tree.find_name("System RAM (kmem)").or_else(|| {
        mc.tree
            .descendants(crate::tree::Tree::ROOT)
            .find(|&n| mc.tree.name_is(n, "System RAM") && mc.tree.get(n).start >= 0x100000000)
    })?;
    Some((mc.tree.get(id).start, mc.tree.get(id).end))
}

/// The real 6.1/5.10/6.12 capture B: `110a00000-12fffffff : dax0.0` becomes
/// `118000000-12fffffff : dax0.0` > `118000000-12fffffff : System RAM (kmem)`. v5.10+:
/// `r->start = ALIGN(range->start, memory_block_size_bytes()); r->end =
/// ALIGN_DOWN(range->end + 1, memory_block_size_bytes()) - 1;` and v5.1–v5.9: `kmem_start =
/// ALIGN(res->start, ...); kmem_size -= kmem_start - res->start; kmem_size &=
/// ~(memory_block_size_bytes() - 1);` agree.
#[test]
fn kmem_unaligned_start_rounds_up_every_era() {
    for ver in ["5.1", "5.9", "5.10", "6.1", "6.12"] {
        let mut mc = with_dax(ver, 0x110a00000, 0x12fffffff);
        mc.dax_kmem("dax0.0", &mut Trace::new()).unwrap();
        assert_eq!(kmem_range(&mc), Some((0x118000000, 0x12fffffff)), "{ver}");
        let dax = mc.tree.find_range(0x118000000, 0x12fffffff).unwrap();
        assert!(mc.tree.name_is(dax, "dax0.0"));
        // `res->flags = IORESOURCE_SYSTEM_RAM;` — exactly, BUSY clear.
        assert_eq!(mc.tree.get(dax).flags, IORESOURCE_SYSTEM_RAM, "{ver}");
        assert_eq!(mc.dax["dax0.0"].driver, DaxDriver::Kmem);
        assert_eq!(mc.dax["dax0.0"].kmem_ranges, [(0x118000000, 0x12fffffff)]);
    }
}

/// An already block-aligned range is hot-added from its own start, whole (both eras): ALIGN
/// of an aligned value is the value; `kmem_size -= 0`.
#[test]
fn kmem_aligned_range_is_used_whole() {
    for ver in ["5.3", "5.9", "5.10", "6.12"] {
        let mut mc = with_dax(ver, 0x108000000, 0x117ffffff);
        let mut tr = Trace::new();
        mc.dax_kmem("dax0.0", &mut tr).unwrap();
        assert_eq!(kmem_range(&mc), Some((0x108000000, 0x117ffffff)), "{ver}");
        assert!(mc.blocks.contains(0x108000000 / BS) && mc.blocks.contains(0x110000000 / BS));
        assert!(!mc.blocks.contains(0x118000000 / BS), "{ver}");
        assert!(tr.log.is_empty(), "{ver}: {:?}", tr.log);
        assert!(tr.steps.iter().any(|s| s.text()
            == "range [0x108000000-0x117ffffff] aligned to blocks: [0x108000000-0x117ffffff]"));
    }
}

/// The end rounds down: a range ending one byte short of a block boundary loses that block.
#[test]
fn kmem_end_one_byte_short_loses_the_last_block() {
    for ver in ["5.9", "5.10", "6.12"] {
        let mut mc = with_dax(ver, 0x108000000, 0x117fffffe);
        mc.dax_kmem("dax0.0", &mut Trace::new()).unwrap();
        assert_eq!(kmem_range(&mc), Some((0x108000000, 0x10fffffff)), "{ver}");
    }
}

/// v5.15+ (`if (!total_len) { dev_warn(dev, "rejecting DAX region without any memory after
/// alignment\n"); return -EINVAL; }`, after `dev_info(dev, "mapping%d: %#llx-%#llx too small
/// after alignment\n", ...)` with the range reset to the original): a range without a whole
/// block is refused and nothing changes.
#[test]
fn kmem_range_without_a_whole_block_is_refused() {
    let mut mc = with_dax("6.1", 0x108000001, 0x10fffffff);
    let before = text(&mc.tree);
    let mut tr = Trace::new();
    let e = mc.dax_kmem("dax0.0", &mut tr).unwrap_err();
    assert_eq!(e.errno, Errno::EINVAL);
    assert_eq!(
        tr.log,
        [
            "kmem dax0.0: mapping0: 0x108000001-0x10fffffff too small after alignment",
            "kmem dax0.0: rejecting DAX region without any memory after alignment"
        ]
    );
    assert_eq!(text(&mc.tree), before);
    assert_eq!(mc.dax["dax0.0"].driver, DaxDriver::DeviceDax);
    // Exactly one whole block is enough.
    let mut mc = with_dax("6.1", 0x108000000, 0x10fffffff);
    mc.dax_kmem("dax0.0", &mut Trace::new()).unwrap();
    assert_eq!(kmem_range(&mc), Some((0x108000000, 0x10fffffff)));
}

/// `if (numa_node < 0) { dev_warn(dev, "rejecting DAX region with invalid node: %d\n",
/// numa_node); return -EINVAL; }` (5.10/6.1/6.12; v5.4: `"rejecting DAX region %pR with
/// invalid node: %d\n"`). Node 0 is valid.
#[test]
fn kmem_invalid_node_both_sides_of_5_10() {
    for (ver, line) in [
        (
            "6.1",
            "kmem dax0.0: rejecting DAX region with invalid node: -1",
        ),
        (
            "5.10",
            "kmem dax0.0: rejecting DAX region with invalid node: -1",
        ),
        (
            "5.9",
            "kmem dax0.0: rejecting DAX region [mem 0x110a00000-0x12fffffff] with invalid node: -1",
        ),
    ] {
        let mut mc = pmem_machine(ver);
        mc.add_dax_device(
            "dax0.0",
            0x110a00000,
            0x12fffffff,
            -1,
            true,
            &mut Trace::new(),
        )
        .unwrap();
        let before = text(&mc.tree);
        let mut tr = Trace::new();
        let e = mc.dax_kmem("dax0.0", &mut tr).unwrap_err();
        assert_eq!(e.errno, Errno::EINVAL, "{ver}");
        assert_eq!(tr.log, [line], "{ver}");
        assert_eq!(text(&mc.tree), before, "{ver}");
    }
}

/// The kmem driver appeared in v5.1; `daxX.Y` must exist.
#[test]
fn kmem_needs_5_1_and_a_device() {
    let mut mc = with_dax("5.0", 0x110a00000, 0x12fffffff);
    let e = mc.dax_kmem("dax0.0", &mut Trace::new()).unwrap_err();
    assert_eq!(e.errno, Errno::ENODEV);
    let mut mc = with_dax("5.1", 0x110a00000, 0x12fffffff);
    assert_eq!(
        mc.dax_kmem("dax1.0", &mut Trace::new()).unwrap_err().errno,
        Errno::ENODEV
    );
    mc.dax_kmem("dax0.0", &mut Trace::new()).unwrap();
    // Bound twice: -EBUSY.
    assert_eq!(
        mc.dax_kmem("dax0.0", &mut Trace::new()).unwrap_err().errno,
        Errno::EBUSY
    );
}

/// v5.1–v5.7 `add_memory(numa_node, ...)` names it "System RAM"; v5.8+
/// `add_memory_driver_managed(..., "System RAM (kmem)")`.
#[test]
fn kmem_ram_name_both_sides_of_5_8() {
    let mut mc = with_dax("5.7", 0x110a00000, 0x12fffffff);
    mc.dax_kmem("dax0.0", &mut Trace::new()).unwrap();
    assert!(mc.tree.find_name("System RAM (kmem)").is_none());
    let r = mc.tree.find_range(0x118000000, 0x12fffffff).unwrap();
    let child = mc.tree.first_child(r).unwrap();
    assert!(mc.tree.name_is(child, "System RAM"));
    assert_eq!(mc.tree.get(child).flags, RAM);
    let mut mc = with_dax("5.8", 0x110a00000, 0x12fffffff);
    mc.dax_kmem("dax0.0", &mut Trace::new()).unwrap();
    let c = mc.tree.find_name("System RAM (kmem)").unwrap();
    assert_eq!(mc.tree.get(c).flags, RAM | IORESOURCE_SYSRAM_DRIVER_MANAGED);
}

/// `request_mem_region` failing: v5.10+ `"mapping%d: %#llx-%#llx could not reserve
/// region\n"`, v5.4 `"could not reserve region [%pa-%pa]\n", &kmem_start, &kmem_end` (end
/// exclusive). Something BUSY in the way: a claim by another driver inside the range.
#[test]
fn kmem_could_not_reserve_region_text_by_version() {
    for (ver, line) in [
        (
            "5.10",
            "kmem dax0.0: mapping0: 0x118000000-0x12fffffff could not reserve region",
        ),
        (
            "5.9",
            "kmem dax0.0: could not reserve region [0x0000000118000000-0x0000000130000000]",
        ),
    ] {
        let mut mc = pmem_machine(ver);
        // Not claimed by device_dax (bind_devdax false), and something else BUSY there.
        mc.add_dax_device(
            "dax0.0",
            0x110a00000,
            0x12fffffff,
            0,
            false,
            &mut Trace::new(),
        )
        .unwrap();
        let pm = mc.tree.find_range(0x100000000, 0x13fffffff).unwrap();
        let x = mc
            .tree
            .alloc(0x120000000, 0x120000fff, b"other", MEMB, Desc::None);
        mc.tree.link_sorted(pm, x);
        let before = text(&mc.tree);
        let mut tr = Trace::new();
        let e = mc.dax_kmem("dax0.0", &mut tr).unwrap_err();
        assert_eq!(e.errno, Errno::EBUSY, "{ver}");
        assert_eq!(tr.log, [line], "{ver}");
        assert_eq!(text(&mc.tree), before);
    }
}

/// `add_memory_driver_managed` failing (a block already exists): v5.10+ `"mapping%d:
/// %#llx-%#llx memory add failed\n"`; the machine is restored.
#[test]
fn kmem_memory_add_failed() {
    let mut mc = with_dax("6.1", 0x110a00000, 0x12fffffff);
    let before = text(&mc.tree);
    // A block the add would create already exists (sections present).
    mc.blocks.insert(crate::kernel::memory::MemoryBlock {
        id: 0x128000000 / BS,
        state: BlockState::Offline,
        zone: None,
        nid: 0,
        removable: true,
        boot: false,
    });
    let mut tr = Trace::new();
    let e = mc.dax_kmem("dax0.0", &mut tr).unwrap_err();
    assert_eq!(e.errno, Errno::EEXIST);
    assert!(
        tr.log.contains(
            &"kmem dax0.0: mapping0: 0x118000000-0x12fffffff memory add failed".to_string()
        )
    );
    assert_eq!(text(&mc.tree), before);
    assert_eq!(mc.dax["dax0.0"].driver, DaxDriver::DeviceDax);
}

/// Back to devdax. v5.1–v5.2 `dev_dax_kmem_remove` cannot remove (memory stays); v5.3+
/// `remove_memory` then the dax node goes and device_dax claims the whole range again.
#[test]
fn devdax_both_sides_of_5_3() {
    let mut mc = with_dax("5.2", 0x110a00000, 0x12fffffff);
    mc.dax_kmem("dax0.0", &mut Trace::new()).unwrap();
    let after_kmem = text(&mc.tree);
    mc.dax_devdax("dax0.0", &mut Trace::new()).unwrap();
    // The kmem nodes stay; device_dax cannot re-claim.
    assert!(text(&mc.tree).contains("118000000-12fffffff : dax0.0"));
    assert_eq!(text(&mc.tree), after_kmem);
    assert_eq!(mc.dax["dax0.0"].driver, DaxDriver::None);

    let mut mc = with_dax("6.12", 0x110a00000, 0x12fffffff);
    let devdax = text(&mc.tree);
    mc.dax_kmem("dax0.0", &mut Trace::new()).unwrap();
    mc.dax_devdax("dax0.0", &mut Trace::new()).unwrap();
    // The real 6.12 capture: after-kmem-unbind equals after-devdax.
    assert_eq!(text(&mc.tree), devdax);
    assert_eq!(mc.dax["dax0.0"].driver, DaxDriver::DeviceDax);
    assert!(mc.dax["dax0.0"].kmem_ranges.is_empty());
}

/// An online block: `remove_memory` fails → v5.10+ `"mapping%d: %#llx-%#llx cannot be
/// hotremoved until the next reboot\n"`, v5.4 `"DAX region %pR cannot be hotremoved until the
/// next reboot\n"`; the range stays with kmem's nodes.
#[test]
fn devdax_with_online_memory_keeps_the_range() {
    for (ver, line) in [
        (
            "6.1",
            "kmem dax0.0: mapping0: 0x118000000-0x12fffffff cannot be hotremoved until the next reboot",
        ),
        (
            "5.9",
            "kmem dax0.0: DAX region [mem 0x118000000-0x12fffffff] cannot be hotremoved until the next reboot",
        ),
    ] {
        let mut mc = with_dax(ver, 0x110a00000, 0x12fffffff);
        mc.dax_kmem("dax0.0", &mut Trace::new()).unwrap();
        mc.online_memory(
            0x118000000,
            BS,
            OnlineType::OnlineMovable,
            &mut Trace::new(),
        )
        .unwrap();
        let mut tr = Trace::new();
        mc.dax_devdax("dax0.0", &mut tr).unwrap();
        assert!(tr.log.iter().any(|l| l == line), "{ver}: {:?}", tr.log);
        assert_eq!(mc.dax["dax0.0"].kmem_ranges, [(0x118000000, 0x12fffffff)]);
        assert!(mc.tree.find_range(0x118000000, 0x12fffffff).is_some());
        assert!(mc.blocks.contains(0x118000000 / BS));
    }
}

/// After a successful remove the dax node goes with `release_resource` (v5.3–v6.2 without the
/// stable fix: the RAM child left behind by the SYSRAM bail-out goes with it) or
/// `remove_resource` (v6.3 and the 5.10/5.15/6.1 stable series).
#[test]
fn devdax_release_vs_remove_resource_by_version() {
    for (ver, func) in [
        ("6.2", "release_resource"),
        ("6.3", "remove_resource"),
        ("5.10.0", "release_resource"),
        ("5.10", "remove_resource"),
    ] {
        let mut mc = with_dax(ver, 0x110a00000, 0x12fffffff);
        let devdax = text(&mc.tree);
        mc.dax_kmem("dax0.0", &mut Trace::new()).unwrap();
        let mut tr = Trace::new();
        mc.dax_devdax("dax0.0", &mut tr).unwrap();
        assert!(
            tr.steps.iter().any(|s| s
                .text()
                .starts_with(&format!("{func}(dax0.0 [0x118000000-0x12fffffff])"))),
            "{ver}: {:?}",
            tr.steps
        );
        assert_eq!(text(&mc.tree), devdax, "{ver}");
        assert!(
            mc.blocks
                .range(0x118000000 / BS, 0x130000000 / BS)
                .next()
                .is_none()
        );
    }
}

/// Not bound to kmem: -EINVAL, nothing changes.
#[test]
fn devdax_requires_kmem() {
    let mut mc = with_dax("6.1", 0x110a00000, 0x12fffffff);
    let before = text(&mc.tree);
    let e = mc.dax_devdax("dax0.0", &mut Trace::new()).unwrap_err();
    assert_eq!(e.errno, Errno::EINVAL);
    assert_eq!(text(&mc.tree), before);
}

/// `dev_dax_probe`: `devm_request_mem_region(dev, range->start, range_len(range),
/// dev_name(dev))` — a BUSY leaf with the exact range; a range reaching one byte into a BUSY
/// node fails with `"mapping%d: %#llx-%#llx could not reserve range\n"` and nothing changes.
#[test]
fn add_dax_device_claim_edges() {
    let mut mc = pmem_machine("6.1");
    let before = text(&mc.tree);
    mc.add_dax_device(
        "dax0.0",
        0x100000000,
        0x13fffffff,
        0,
        true,
        &mut Trace::new(),
    )
    .unwrap();
    let d = mc.tree.find_name("dax0.0").unwrap();
    assert_eq!(
        (mc.tree.get(d).start, mc.tree.get(d).end),
        (0x100000000, 0x13fffffff)
    );
    assert_eq!(mc.tree.get(d).flags, MEMB);
    // Same name again: -EEXIST.
    let e = mc
        .add_dax_device(
            "dax0.0",
            0x100000000,
            0x10fffffff,
            0,
            true,
            &mut Trace::new(),
        )
        .unwrap_err();
    assert_eq!(e.errno, Errno::EEXIST);
    mc.remove_dax_device("dax0.0", &mut Trace::new()).unwrap();
    assert_eq!(text(&mc.tree), before);
    // One byte into the busy System RAM below 4 GiB... the PMEM is at top level next to PCI;
    // use a busy claim inside it instead.
    let pm = mc.tree.find_range(0x100000000, 0x13fffffff).unwrap();
    let x = mc
        .tree
        .alloc(0x120000000, 0x120000fff, b"other", MEMB, Desc::None);
    mc.tree.link_sorted(pm, x);
    let before = text(&mc.tree);
    let mut tr = Trace::new();
    let e = mc
        .add_dax_device("dax0.1", 0x110000000, 0x120000000, 0, true, &mut tr)
        .unwrap_err();
    assert_eq!(e.errno, Errno::EBUSY);
    assert_eq!(
        tr.log,
        ["device_dax dax0.1: mapping0: 0x110000000-0x120000000 could not reserve range"]
    );
    assert_eq!(text(&mc.tree), before);
    assert!(!mc.dax.contains_key("dax0.1"));
    // Ending exactly one byte before it fits.
    mc.add_dax_device(
        "dax0.1",
        0x110000000,
        0x11fffffff,
        0,
        true,
        &mut Trace::new(),
    )
    .unwrap();
    // A one-byte device (`end == start`) is a range; `end < start` is not.
    mc.add_dax_device(
        "dax1.0",
        0x130000000,
        0x130000000,
        0,
        false,
        &mut Trace::new(),
    )
    .unwrap();
    let e = mc
        .add_dax_device(
            "dax2.0",
            0x130000001,
            0x130000000,
            0,
            false,
            &mut Trace::new(),
        )
        .unwrap_err();
    assert_eq!(e.errno, Errno::EINVAL);
}

/// Device names: `daxX.Y` with decimal X and Y only.
#[test]
fn dax_names() {
    for (name, ok) in [
        ("dax0.0", true),
        ("dax12.34", true),
        ("dax0", false),
        ("dax.0", false),
        ("dax0.", false),
        ("dax0.0.0", false),
        ("dax0.x", false),
        ("xdax0.0", false),
        ("dax", false),
    ] {
        let mut mc = pmem_machine("6.1");
        let r = mc.add_dax_device(name, 0x100000000, 0x107ffffff, 0, false, &mut Trace::new());
        assert_eq!(r.is_ok(), ok, "{name}");
    }
}

/// `unregister_dev_dax` while kmem holds it: -EBUSY; an unknown name: -ENODEV; a device
/// without device_dax's claim leaves the tree alone.
#[test]
fn remove_dax_device_edges() {
    let mut mc = with_dax("6.1", 0x110a00000, 0x12fffffff);
    mc.dax_kmem("dax0.0", &mut Trace::new()).unwrap();
    let before = text(&mc.tree);
    assert_eq!(
        mc.remove_dax_device("dax0.0", &mut Trace::new())
            .unwrap_err()
            .errno,
        Errno::EBUSY
    );
    assert_eq!(text(&mc.tree), before);
    assert_eq!(
        mc.remove_dax_device("dax9.9", &mut Trace::new())
            .unwrap_err()
            .errno,
        Errno::ENODEV
    );
    let mut mc = pmem_machine("6.1");
    let before = text(&mc.tree);
    mc.add_dax_device(
        "dax0.0",
        0x100000000,
        0x107ffffff,
        0,
        false,
        &mut Trace::new(),
    )
    .unwrap();
    assert_eq!(text(&mc.tree), before);
    mc.remove_dax_device("dax0.0", &mut Trace::new()).unwrap();
    assert!(mc.dax.is_empty());
}

/// `discover_dax` from a dump: a BUSY `daxX.Y` is device_dax's; a non-BUSY one with System RAM
/// below is kmem's; a non-BUSY one without is unbound but remembered.
#[test]
fn discover_dax_from_the_tree() {
    let t = build(&[
        (0, 0x100000000, 0x10fffffff, "dax0.0", MEMB, Desc::None),
        (
            0,
            0x118000000,
            0x12fffffff,
            "dax1.0",
            IORESOURCE_SYSTEM_RAM,
            Desc::None,
        ),
        (
            1,
            0x118000000,
            0x12fffffff,
            "System RAM (kmem)",
            RAM,
            Desc::None,
        ),
        (
            0,
            0x130000000,
            0x137ffffff,
            "dax2.0",
            IORESOURCE_SYSTEM_RAM,
            Desc::None,
        ),
        (0, 0x138000000, 0x13fffffff, "dax3", MEMB, Desc::None),
    ]);
    let mc = Machine::boot(t, Config::default());
    assert_eq!(mc.dax.len(), 3);
    assert_eq!(mc.dax["dax0.0"].driver, DaxDriver::DeviceDax);
    assert!(mc.dax["dax0.0"].kmem_ranges.is_empty());
    assert_eq!(mc.dax["dax1.0"].driver, DaxDriver::Kmem);
    assert_eq!(mc.dax["dax1.0"].kmem_ranges, [(0x118000000, 0x12fffffff)]);
    assert_eq!(mc.dax["dax2.0"].driver, DaxDriver::None);
    assert_eq!(mc.dax["dax2.0"].kmem_ranges, [(0x130000000, 0x137ffffff)]);
    assert_eq!(
        (mc.dax["dax1.0"].start, mc.dax["dax1.0"].end),
        (0x118000000, 0x12fffffff)
    );
}

/// `string_get_size(size, 1, STRING_UNITS_2, ...)`: three significant digits.
#[test]
fn string_get_size_units_and_digits() {
    for (n, s) in [
        (0, "0 B"),
        (1023, "1023 B"),
        (1024, "1.00 KiB"),
        (1536, "1.50 KiB"),
        (10 << 20, "10.0 MiB"),
        (122 << 20, "122 MiB"),
        (100 << 30, "100 GiB"),
        (u64::MAX, "15.9 EiB"),
    ] {
        assert_eq!(string_get_size_2(n), s, "{n}");
    }
}

/// `discover_dax`: kmem's claim is recognised by the hot-added memory below it — 6.1
/// drivers/dax/kmem.c `res->flags = IORESOURCE_SYSTEM_RAM;` on the claim, then
/// `add_memory_driver_managed()` whose `register_memory_resource` gives the child
/// `IORESOURCE_SYSTEM_RAM_DRIVER_MANAGED` (mm/memory_hotplug.c 6.1: `flags |=
/// IORESOURCE_SYSRAM_DRIVER_MANAGED;` on `IORESOURCE_SYSTEM_RAM`), i.e. a child with the SYSRAM
/// bit. A non-BUSY `daxX.Y` whose only child lacks IORESOURCE_SYSRAM is not kmem's (kills `&`
/// → `|`/`^` in the `flags & IORESOURCE_SYSRAM != 0` test).
#[test]
fn discover_dax_child_without_sysram_is_not_kmem() {
    let t = build(&[
        (
            0,
            0x118000000,
            0x12fffffff,
            "dax1.0",
            IORESOURCE_SYSTEM_RAM,
            Desc::None,
        ),
        (1, 0x118000000, 0x11fffffff, "other", MEMB, Desc::None),
    ]);
    let mc = Machine::boot(t, Config::default());
    assert_eq!(mc.dax["dax1.0"].driver, DaxDriver::None);
    assert_eq!(mc.dax["dax1.0"].kmem_ranges, [(0x118000000, 0x12fffffff)]);
}

/// `unregister_dev_dax` releases only what device_dax's probe claimed: the claim is a devres
/// of `devm_request_mem_region(dev, range->start, range_len(range), dev_name(dev))`
/// (drivers/dax/device.c 6.1, `dev_dax_probe`); nothing claimed, nothing released. A device
/// declared without the claim over exactly the range of another BUSY node leaves that node
/// alone; a device left unbound by `kmem` unbind (driver None) releases nothing and logs no
/// "Trying to free nonexistent resource" (kills `&&` → `||` in remove_dax_device).
#[test]
fn remove_dax_device_releases_only_its_own_claim() {
    let mut mc = pmem_machine("6.1");
    let pm = mc.tree.find_range(0x100000000, 0x13fffffff).unwrap();
    let x = mc
        .tree
        .alloc(0x100000000, 0x107ffffff, b"namespace0.0", MEMB, Desc::None);
    mc.tree.link_sorted(pm, x);
    let before = text(&mc.tree);
    mc.add_dax_device(
        "dax0.0",
        0x100000000,
        0x107ffffff,
        0,
        false,
        &mut Trace::new(),
    )
    .unwrap();
    assert_eq!(mc.dax["dax0.0"].driver, DaxDriver::DeviceDax);
    let mut tr = Trace::new();
    mc.remove_dax_device("dax0.0", &mut tr).unwrap();
    assert_eq!(text(&mc.tree), before);
    assert!(tr.log.is_empty(), "{:?}", tr.log);

    // kmem unbound (all blocks offline, 6.1: remove_memory then remove_resource), no driver:
    // removing the device touches nothing.
    let mut mc = with_dax("6.1", 0x110a00000, 0x12fffffff);
    mc.dax_kmem("dax0.0", &mut Trace::new()).unwrap();
    mc.dax_kmem_unbind("dax0.0", &mut Trace::new()).unwrap();
    assert_eq!(mc.dax["dax0.0"].driver, DaxDriver::None);
    let before = text(&mc.tree);
    let mut tr = Trace::new();
    mc.remove_dax_device("dax0.0", &mut tr).unwrap();
    assert_eq!(text(&mc.tree), before);
    assert!(tr.log.is_empty(), "{:?}", tr.log);
    assert!(mc.dax.is_empty());
}

/// `dev_dax_kmem_remove` removes the very resource its probe requested — 6.1
/// drivers/dax/kmem.c: `res = request_mem_region(range.start, range_len(&range),
/// data->res_name); … data->res[i] = res;` and on removal `remove_resource(data->res[i]);`
/// (6.2 and before the stable fix: `release_resource`). A dax range equal to its parent's
/// (the Persistent Memory node has the same start and end) must not take the parent with it:
/// kills `&&` → `||` in the node lookup (start/end/name/busy).
#[test]
fn devdax_removes_kmem_claim_not_a_parent_with_the_same_range() {
    for ver in ["6.1", "6.2", "5.3"] {
        let mut mc = with_dax(ver, 0x100000000, 0x13fffffff);
        let devdax = text(&mc.tree);
        mc.dax_kmem("dax0.0", &mut Trace::new()).unwrap();
        assert_eq!(kmem_range(&mc), Some((0x100000000, 0x13fffffff)), "{ver}");
        mc.dax_devdax("dax0.0", &mut Trace::new()).unwrap();
        assert!(
            mc.tree.find_name("Persistent Memory (legacy)").is_some(),
            "{ver}: {}",
            text(&mc.tree)
        );
        assert_eq!(text(&mc.tree), devdax, "{ver}");
        assert_eq!(mc.dax["dax0.0"].driver, DaxDriver::DeviceDax, "{ver}");
    }
}

/// The decision path nests the resource calls under the driver function that makes them
/// (`dev_dax_probe` → `devm_request_mem_region` → `__request_region`; `dev_dax_kmem_probe` →
/// `request_mem_region` → `__request_region`; device_dax unbind → devres →
/// `__release_region`): each `__request_region` / `__release_region` step sits one level
/// deeper than the driver's own steps (depth 1), i.e. at depth 2 (kills `+ 1` → `- 1` / `* 1`
/// on the copied sub-trace depths).
#[test]
fn dax_trace_nests_resource_calls_under_the_driver() {
    let mut mc = pmem_machine("6.1");
    let mut tr = Trace::new();
    mc.add_dax_device("dax0.0", 0x110a00000, 0x12fffffff, 0, true, &mut tr)
        .unwrap();
    let depths = |tr: &Trace, f: &str| -> Vec<usize> {
        tr.steps
            .iter()
            .filter(|s| s.func == f)
            .map(|s| s.depth)
            .collect()
    };
    assert_eq!(depths(&tr, "dev_dax_probe"), [1]);
    let d = depths(&tr, "__request_region");
    assert!(!d.is_empty() && d.iter().all(|&x| x == 2), "{:?}", tr.steps);
    let mut tr = Trace::new();
    mc.dax_kmem("dax0.0", &mut tr).unwrap();
    let d = depths(&tr, "__release_region");
    assert!(!d.is_empty() && d.iter().all(|&x| x == 2), "{:?}", tr.steps);
    let d = depths(&tr, "__request_region");
    assert!(!d.is_empty() && d.iter().all(|&x| x == 2), "{:?}", tr.steps);
}
