//! The real-kernel captures of `fixtures/real-kernel-6.1/` (Debian 6.1.192 in QEMU, 128 MiB
//! blocks, `memhp_default_state=offline`, 40 physical address bits): starting from each
//! `before.iomem`, the equivalent operations reproduce every `after-*.iomem` byte for byte and
//! every `*.memory-blocks.txt` listing.
//!
//! The trees are read with the real parser (`parse_dump`, flags inferred from names) and
//! printed with `render_iomem`, so these tests also pin the flag inference the kernel rules
//! depend on (e.g. the non-BUSY `Persistent Memory (legacy)` that kmem nests under).

use iomem_sim::kernel::machine::{AddOptions, Config, Machine};
use iomem_sim::kernel::memory::OnlineType;
use iomem_sim::kernel::resource::{__release_region, request_region};
use iomem_sim::kernel::{Errno, KernelVersion, Trace};
use iomem_sim::parse::parse_dump;
use iomem_sim::render::blocks::render_memory_blocks_txt;
use iomem_sim::render::render_iomem;
use iomem_sim::tree::Tree;
use std::path::PathBuf;

fn dir(case: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("fixtures/real-kernel-6.1")
        .join(case)
}

fn read(case: &str, file: &str) -> String {
    let p = dir(case).join(file);
    std::fs::read_to_string(&p).unwrap_or_else(|e| panic!("{}: {e}", p.display()))
}

/// `/proc/iomem` text of the machine's tree, exactly as `r_show` prints it.
fn write_iomem(t: &Tree) -> String {
    String::from_utf8(render_iomem(t)).expect("captures are ASCII")
}

fn boot(case: &str) -> Machine {
    let before = read(case, "before.iomem");
    // The real parser, with flags and desc inferred from the names (kernel-semantics §5.6).
    let tree = parse_dump(before.as_bytes(), None)
        .expect("before.iomem parses")
        .tree;
    assert_eq!(write_iomem(&tree), before, "before.iomem round-trips");
    let config = Config {
        version: KernelVersion::new(6, 1),
        auto_online: OnlineType::Offline,
        phys_bits: 40,
        ..Config::default()
    };
    let m = Machine::boot(tree, config);
    check(&m, case, "before");
    m
}

/// The tree and the memory blocks equal the capture `<step>.iomem` / `<step>.memory-blocks.txt`.
fn check(m: &Machine, case: &str, step: &str) {
    assert_eq!(
        write_iomem(&m.tree),
        read(case, &format!("{step}.iomem")),
        "{case} {step}.iomem"
    );
    assert_eq!(
        render_memory_blocks_txt(m),
        read(case, &format!("{step}.memory-blocks.txt")),
        "{case} {step}.memory-blocks.txt"
    );
}

const A: &str = "A-pc-dimm-hotplug";
const B: &str = "B-pmem-legacy-above-4g";
const M128: u64 = 0x8000000;

#[test]
fn a_pc_dimm_hotplug_steps() {
    let mut m = boot(A);
    let tr = &mut Trace::new();
    let add = |m: &mut Machine, start, size, tr: &mut Trace| {
        m.add_memory(0, start, size, &AddOptions::default(), tr)
    };

    // Step 2: ACPI pc-dimm hot-add of 256 MiB at 0x100000000 = add_memory.
    add(&mut m, 0x100000000, 2 * M128, tr).unwrap();
    check(&m, A, "after-dimm1-add");
    // Step 3: online_movable on memory32 and memory33.
    for id in [32, 33] {
        let (s, _) = m.block_range(id);
        m.online_memory(s, M128, OnlineType::OnlineMovable, tr)
            .unwrap();
    }
    check(&m, A, "after-dimm1-online");
    // Step 4: DIMM2 at 0x180000000, left offline.
    add(&mut m, 0x180000000, 2 * M128, tr).unwrap();
    check(&m, A, "after-dimm2-add");
    // Step 5: a 64 MiB DIMM at 0x110000000: claimed, then refused by the block alignment check.
    let e = add(&mut m, 0x110000000, 0x4000000, tr).unwrap_err();
    assert_eq!(e.errno, Errno::EINVAL);
    assert_eq!(
        e.log.as_deref(),
        Some("Block size [0x8000000] unaligned hotplug range: start 0x110000000, size 0x4000000")
    );
    check(&m, A, "after-dimm3-unaligned-add");
    // Step 6: unplugging DIMM3: its memory was never added, the ACPI driver removes nothing.
    check(&m, A, "after-dimm3-del");
    // Step 7: unplug DIMM2 (blocks offline): the ACPI eject offlines (nothing to do) and removes.
    m.offline_and_remove_memory(0x180000000, 2 * M128, tr)
        .unwrap();
    check(&m, A, "after-dimm2-del");
    // Step 8: offline memory32 and memory33.
    for id in [32, 33] {
        let (s, _) = m.block_range(id);
        m.offline_memory(s, M128, tr).unwrap();
    }
    check(&m, A, "after-dimm1-offline");
    // Step 9: unplug DIMM1.
    m.offline_and_remove_memory(0x100000000, 2 * M128, tr)
        .unwrap();
    check(&m, A, "after-dimm1-del");
    // Step 10: DIMM4, 128 MiB, QEMU picks 0x100000000 again.
    add(&mut m, 0x100000000, M128, tr).unwrap();
    check(&m, A, "after-dimm4-add");
    // Step 11: online_movable memory32.
    m.online_memory(0x100000000, M128, OnlineType::OnlineMovable, tr)
        .unwrap();
    check(&m, A, "after-dimm4-online");
    // Step 12: unplug while online: the ACPI eject path offlines the block itself, then removes.
    m.offline_and_remove_memory(0x100000000, M128, tr).unwrap();
    check(&m, A, "after-dimm4-del");
}

#[test]
fn b_pmem_legacy_devdax_kmem_steps() {
    let mut m = boot(B);
    let tr = &mut Trace::new();
    let v = m.config.version;
    // Step 2: nd_pmem raw namespace: request_mem_region over the whole PMEM range.
    request_region(&mut m.tree, 0x110000000, 0x20000000, b"namespace0.0", 0, tr).unwrap();
    check(&m, B, "after-nd-bus");
    // Step 3: devdax mode: the namespace keeps its metadata area (namespace0.0) and device_dax
    // claims the rest as dax0.0.
    __release_region(&mut m.tree, Tree::ROOT, 0x110000000, 0x20000000, v, tr).unwrap();
    request_region(&mut m.tree, 0x110000000, 0xa00000, b"namespace0.0", 0, tr).unwrap();
    m.add_dax_device("dax0.0", 0x110a00000, 0x12fffffff, 0, true, tr)
        .unwrap();
    check(&m, B, "after-devdax");
    // Step 4: daxctl reconfigure-device --mode=system-ram --no-online dax0.0.
    m.dax_kmem("dax0.0", tr).unwrap();
    check(&m, B, "after-kmem-bind");
    // Step 5: daxctl online-memory (ZONE_MOVABLE).
    m.online_memory(0x118000000, 3 * M128, OnlineType::OnlineMovable, tr)
        .unwrap();
    check(&m, B, "after-kmem-online");
    // Step 6: daxctl offline-memory.
    m.offline_memory(0x118000000, 3 * M128, tr).unwrap();
    check(&m, B, "after-kmem-offline");
    // Step 7: daxctl reconfigure-device --mode=devdax dax0.0.
    m.dax_devdax("dax0.0", tr).unwrap();
    check(&m, B, "after-kmem-unbind");
    // Step 8: back to a raw namespace.
    m.remove_dax_device("dax0.0", tr).unwrap();
    __release_region(&mut m.tree, Tree::ROOT, 0x110000000, 0xa00000, v, tr).unwrap();
    request_region(&mut m.tree, 0x110000000, 0x20000000, b"namespace0.0", 0, tr).unwrap();
    check(&m, B, "after-raw");
}
