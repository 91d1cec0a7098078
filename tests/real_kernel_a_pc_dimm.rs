//! `A-pc-dimm-hotplug` of the real-kernel captures of 5.10, 6.1 and 6.12
//! (`fixtures/real-kernel-*/`, QEMU pc-dimm, 128 MiB blocks, `memhp_default_state=offline`,
//! 40 physical address bits), each replayed with the matching kernel version: every
//! `after-*.iomem` and `*.memory-blocks.txt` byte for byte.
//!
//! What QEMU's monitor commands are in the guest kernel:
//! * `device_add pc-dimm` → the ACPI memory device's `acpi_memory_enable_device` →
//!   `__add_memory(nid, start, size)` of the DIMM's range (what the capture shows appear).
//! * `device_del` → the ACPI eject: `acpi_scan_hot_remove` first offlines the device's
//!   physical nodes, the memory blocks (`acpi_bus_offline` → `device_offline`; already offline
//!   blocks are skipped), then `acpi_memory_device_remove` → `acpi_memory_remove_memory` →
//!   `__remove_memory(start, size)`. (drivers/acpi/scan.c, drivers/acpi/acpi_memhotplug.c,
//!   from the kernel tree's history; not in the extracted subset.) Not
//!   `offline_and_remove_memory`, which before 5.11 takes only one block.

use iomem_sim::kernel::machine::{AddOptions, Config, Machine};
use iomem_sim::kernel::memory::OnlineType;
use iomem_sim::kernel::{Errno, KernelVersion, Trace};
use iomem_sim::parse::parse_dump;
use iomem_sim::render::blocks::render_memory_blocks_txt;
use iomem_sim::render::render_iomem;
use std::path::PathBuf;

const M128: u64 = 0x8000000;

fn read(ver: &str, file: &str) -> String {
    let p = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join(format!("fixtures/real-kernel-{ver}/A-pc-dimm-hotplug"))
        .join(file);
    std::fs::read_to_string(&p).unwrap_or_else(|e| panic!("{}: {e}", p.display()))
}

fn check(m: &Machine, ver: &str, step: &str) {
    assert_eq!(
        String::from_utf8(render_iomem(&m.tree)).unwrap(),
        read(ver, &format!("{step}.iomem")),
        "{ver} {step}.iomem"
    );
    assert_eq!(
        render_memory_blocks_txt(m),
        read(ver, &format!("{step}.memory-blocks.txt")),
        "{ver} {step}.memory-blocks.txt"
    );
}

/// The ACPI eject of a DIMM: offline its online blocks, then `__remove_memory`.
fn acpi_eject(m: &mut Machine, start: u64, size: u64, tr: &mut Trace) {
    let (first, last) = (start / M128, (start + size - 1) / M128);
    for id in first..=last {
        if m.blocks.get(id).is_some_and(|b| b.zone.is_some()) {
            m.offline_memory(id * M128, M128, tr).unwrap();
        }
    }
    m.remove_memory(start, size, tr).unwrap();
}

fn replay(ver: &str) {
    let before = read(ver, "before.iomem");
    let tree = parse_dump(before.as_bytes(), None).unwrap().tree;
    let config = Config {
        version: ver.parse::<KernelVersion>().unwrap(),
        auto_online: OnlineType::Offline,
        phys_bits: 40,
        ..Config::default()
    };
    let mut m = Machine::boot(tree, config);
    check(&m, ver, "before");
    let tr = &mut Trace::new();
    let add = |m: &mut Machine, start, size, tr: &mut Trace| {
        m.add_memory(0, start, size, &AddOptions::default(), tr)
    };
    add(&mut m, 0x100000000, 2 * M128, tr).unwrap();
    check(&m, ver, "after-dimm1-add");
    for id in [32, 33] {
        m.online_memory(id * M128, M128, OnlineType::OnlineMovable, tr)
            .unwrap();
    }
    check(&m, ver, "after-dimm1-online");
    add(&mut m, 0x180000000, 2 * M128, tr).unwrap();
    check(&m, ver, "after-dimm2-add");
    let e = add(&mut m, 0x110000000, 0x4000000, tr).unwrap_err();
    assert_eq!(e.errno, Errno::EINVAL, "{ver}");
    check(&m, ver, "after-dimm3-unaligned-add");
    // DIMM3's memory was never added: the eject removes nothing.
    check(&m, ver, "after-dimm3-del");
    acpi_eject(&mut m, 0x180000000, 2 * M128, tr);
    check(&m, ver, "after-dimm2-del");
    for id in [32, 33] {
        m.offline_memory(id * M128, M128, tr).unwrap();
    }
    check(&m, ver, "after-dimm1-offline");
    acpi_eject(&mut m, 0x100000000, 2 * M128, tr);
    check(&m, ver, "after-dimm1-del");
    add(&mut m, 0x100000000, M128, tr).unwrap();
    check(&m, ver, "after-dimm4-add");
    m.online_memory(0x100000000, M128, OnlineType::OnlineMovable, tr)
        .unwrap();
    check(&m, ver, "after-dimm4-online");
    acpi_eject(&mut m, 0x100000000, M128, tr);
    check(&m, ver, "after-dimm4-del");
}

#[test]
fn a_pc_dimm_hotplug_5_10() {
    replay("5.10");
}

#[test]
fn a_pc_dimm_hotplug_6_1() {
    replay("6.1");
}

#[test]
fn a_pc_dimm_hotplug_6_12() {
    replay("6.12");
}
