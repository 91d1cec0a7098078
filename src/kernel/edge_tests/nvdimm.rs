//! Edge tests for `src/kernel/nvdimm.rs` (libnvdimm, nd_e820, nfit, nd_pmem, dax_pmem and the
//! device_dax bind/unbind; read in /work/ksrc/linux-source-{5.10,6.1,6.12}/drivers/nvdimm/,
//! drivers/dax/ and arch/x86/mm/numa.c).

use crate::kernel::machine::{Config, Machine};
use crate::kernel::nvdimm::{
    InfoBlock, Namespace, NsMode, NumaNode, PAGE_SIZE, PfnMode, Provider, SZ_2M, module_name,
};
use crate::kernel::{Errno, Trace};
use crate::testutil::{MEMB, RAM, build};
use crate::tree::Desc;
use crate::tree::flags::*;

const LEGACY: Desc = Desc::PersistentMemoryLegacy;

/// The top-level row e820 type 12 gives (`e820_reserve_resources`: "Persistent Memory
/// (legacy)", MEM, desc PERSISTENT_MEMORY_LEGACY).
fn pmem_legacy(start: u64, end: u64) -> (usize, u64, u64, &'static str, u32, Desc) {
    (
        0,
        start,
        end,
        "Persistent Memory (legacy)",
        IORESOURCE_MEM,
        LEGACY,
    )
}

fn boot(rows: &[(usize, u64, u64, &str, u32, Desc)], cfg: Config) -> Machine {
    Machine::boot(build(rows), cfg)
}

/// Boot RAM below 1 GiB, legacy pmem at 4 GiB (768 MiB), with or without RAM above it.
fn legacy(ram_above: bool) -> Machine {
    let mut rows = vec![
        (0, 0x1000, 0x3fffffff, "System RAM", RAM, Desc::None),
        pmem_legacy(0x100000000, 0x12fffffff),
    ];
    if ram_above {
        rows.push((0, 0x130000000, 0x13fffffff, "System RAM", RAM, Desc::None));
    }
    boot(&rows, Config::default())
}

fn load(m: &mut Machine, mods: &[&str]) {
    let tr = &mut Trace::new();
    for md in mods {
        m.modprobe(md, tr).unwrap();
    }
}

fn span(m: &Machine, name: &str) -> Option<(u64, u64, bool)> {
    let id = m.tree.find_name(name)?;
    let r = m.tree.get(id);
    Some((r.start, r.end, r.is_busy()))
}

/// `ndctl create-namespace -m raw|fsdax|devdax` (ndctl's mode names); a namespace's size is
/// `resource_size()` = `end - start + 1`; its dax device is `dax%d.%d` of the region id and
/// the namespace id (dax/pmem.c `sscanf(dev_name(&ndns->dev), "namespace%d.%d", &region_id,
/// &id)`, then dax/bus.c `dev_set_name(dev, "dax%d.%d", dax_region->id, dev_dax->id)`).
#[test]
fn namespace_names_size_and_modes() {
    let ns = Namespace {
        name: "namespace3.2".into(),
        region: 3,
        id: 2,
        start: 0x100000000,
        end: 0x12fffffff,
        mode: NsMode::Raw,
        info: None,
        enabled: false,
        user_disabled: false,
        uuid: None,
    };
    assert_eq!(ns.size(), 0x30000000);
    assert_eq!(ns.dax_name(), "dax3.2");
    assert_eq!(
        [NsMode::Raw, NsMode::Fsdax, NsMode::Devdax].map(NsMode::as_str),
        ["raw", "fsdax", "devdax"]
    );
    // modprobe treats `-` and `_` alike.
    assert_eq!(module_name("nd-e820"), "nd_e820");
    assert_eq!(module_name("device_dax"), "device_dax");
}

/// `--numa-node NID:START-END`: an inclusive range (END >= START), NID >= 0.
#[test]
fn numa_node_argument() {
    let n: NumaNode = "1:100000000-13fffffff".parse().unwrap();
    assert_eq!((n.nid, n.start, n.end), (1, 0x100000000, 0x13fffffff));
    let one: NumaNode = "2:1000-1000".parse().unwrap();
    assert_eq!((one.start, one.end), (0x1000, 0x1000), "a one-byte node");
    let zero: NumaNode = "0:0-fff".parse().unwrap();
    assert_eq!((zero.nid, zero.start, zero.end), (0, 0, 0xfff));
    assert!("1:2000-1fff".parse::<NumaNode>().is_err(), "end < start");
    assert!("-1:0-fff".parse::<NumaNode>().is_err(), "negative nid");
    assert!("1:0".parse::<NumaNode>().is_err());
    assert!("1-0-fff".parse::<NumaNode>().is_err());
}

/// arch/x86/mm/numa.c `meminfo_to_nid`: `if (mi->blk[i].start <= start && mi->blk[i].end >
/// start) return mi->blk[i].nid; return NUMA_NO_NODE;` — the memblk end is exclusive, a
/// declared node's END inclusive, so both END and START belong to the node and END + 1 and
/// START - 1 do not. Without an SRAT (`dummy_numa_init`: `numa_add_memblk(0, 0,
/// PFN_PHYS(max_pfn))`) the last byte of boot RAM is node 0, the next one NUMA_NO_NODE.
#[test]
fn phys_to_target_node_edges() {
    let cfg = Config {
        numa_nodes: vec![
            NumaNode {
                nid: 0,
                start: 0,
                end: 0xffffffff,
            },
            NumaNode {
                nid: 2,
                start: 0x140000000,
                end: 0x17fffffff,
            },
        ],
        ..Config::default()
    };
    let m = boot(
        &[(0, 0x1000, 0x3fffffff, "System RAM", RAM, Desc::None)],
        cfg,
    );
    assert_eq!(m.phys_to_target_node(0xffffffff), 0);
    assert_eq!(m.phys_to_target_node(0x100000000), -1, "between the nodes");
    assert_eq!(m.phys_to_target_node(0x13fffffff), -1);
    assert_eq!(
        m.phys_to_target_node(0x140000000),
        2,
        "START is in the node"
    );
    assert_eq!(m.phys_to_target_node(0x17fffffff), 2, "END is in the node");
    assert_eq!(m.phys_to_target_node(0x180000000), -1, "END + 1 is not");
    // No SRAT: node 0 up to the end of the last boot System RAM.
    let m = legacy(true);
    assert_eq!(m.phys_to_target_node(0x13fffffff), 0);
    assert_eq!(m.phys_to_target_node(0x140000000), -1);
}

/// drivers/nvdimm/e820.c `e820_pmem_probe` walks `IORES_DESC_PERSISTENT_MEMORY_LEGACY`
/// (`walk_iomem_res_desc(IORES_DESC_PERSISTENT_MEMORY_LEGACY, IORESOURCE_MEM, 0, -1, NULL,
/// e820_register_one)`): one region per range, `ndr_desc.target_node = nid` of
/// `phys_to_target_node(res->start)`; an NFIT SPA range (`Persistent Memory`) is nfit's, not
/// nd_e820's. Regions are numbered in order; each label-less region has one io namespace
/// `namespace<region>.0` over the whole range.
#[test]
fn nd_e820_registers_one_region_per_legacy_range_and_nfit_its_own() {
    let mut m = boot(
        &[
            (0, 0x1000, 0x3fffffff, "System RAM", RAM, Desc::None),
            pmem_legacy(0x100000000, 0x10fffffff),
            (0, 0x110000000, 0x11fffffff, "System RAM", RAM, Desc::None),
            pmem_legacy(0x120000000, 0x12fffffff),
            (
                0,
                0x140000000,
                0x14fffffff,
                "Persistent Memory",
                IORESOURCE_MEM,
                Desc::PersistentMemory,
            ),
        ],
        Config::default(),
    );
    load(&mut m, &["nd_e820"]);
    let regs: Vec<_> = m
        .nvdimm
        .regions
        .iter()
        .map(|r| (r.id, r.start, r.end, r.provider, r.target_node))
        .collect();
    assert_eq!(
        regs,
        [
            (0, 0x100000000, 0x10fffffff, Provider::E820, 0),
            (1, 0x120000000, 0x12fffffff, Provider::E820, -1),
        ]
    );
    let ns: Vec<_> = m
        .nvdimm
        .namespaces
        .iter()
        .map(|n| (n.name.as_str(), n.region, n.id, n.start, n.end))
        .collect();
    assert_eq!(
        ns,
        [
            ("namespace0.0", 0, 0, 0x100000000, 0x10fffffff),
            ("namespace1.0", 1, 0, 0x120000000, 0x12fffffff),
        ]
    );
    assert!(
        m.nvdimm.namespaces.iter().all(|n| !n.enabled),
        "no nd_pmem yet"
    );
    assert!(m.module_loaded("libnvdimm") && m.module_loaded("nd_e820"));
    load(&mut m, &["nfit"]);
    let last = m.nvdimm.regions.last().unwrap();
    assert_eq!(
        (last.id, last.start, last.provider),
        (2, 0x140000000, Provider::Nfit)
    );
    assert_eq!(m.nvdimm.namespaces[2].name, "namespace2.0");
}

/// `modprobe`: an unknown module is -ENOENT; loading a loaded one does nothing; the nvdimm
/// bus drivers and nd_pmem pull in libnvdimm (they use its symbols), kmem does not (it sits
/// on the dax bus: `depends on DEV_DAX`).
#[test]
fn modprobe_dependencies_and_repeats() {
    let tr = &mut Trace::new();
    let mut m = legacy(true);
    let e = m.modprobe("nd_btt", tr).unwrap_err();
    assert_eq!(e.errno, Errno::ENOENT);
    assert!(m.nvdimm.modules.is_empty());
    m.modprobe("kmem", tr).unwrap();
    assert!(!m.module_loaded("libnvdimm"));
    let mut m = legacy(true);
    m.modprobe("nd_pmem", tr).unwrap();
    assert!(m.module_loaded("libnvdimm"));
    let mut m = legacy(true);
    m.modprobe("nfit", tr).unwrap();
    assert!(m.module_loaded("libnvdimm"));
    assert!(m.nvdimm.regions.is_empty(), "no NFIT range on this machine");
    m.modprobe("nd-e820", tr).unwrap();
    m.modprobe("nd_e820", tr).unwrap();
    assert_eq!(m.nvdimm.regions.len(), 1, "loaded once");
    assert!(
        tr.steps
            .iter()
            .any(|s| s.text() == "nd_e820 is already loaded"),
        "{:?}",
        tr.steps
    );
}

/// A `namespaceX.Y` that the user disabled (`ndctl disable-namespace`) stays unbound when a
/// driver loads later; an enabled one is not probed twice.
#[test]
fn a_user_disabled_namespace_is_not_bound_by_a_later_modprobe() {
    let mut m = legacy(true);
    load(&mut m, &["nd_e820"]);
    m.nvdimm.namespaces[0].user_disabled = true;
    load(&mut m, &["nd_pmem"]);
    assert_eq!(span(&m, "namespace0.0"), None);
    assert!(!m.nvdimm.namespaces[0].enabled);
    let mut m = legacy(true);
    load(&mut m, &["nd_e820", "nd_pmem", "dax_pmem"]);
    assert_eq!(
        span(&m, "namespace0.0"),
        Some((0x100000000, 0x12fffffff, true))
    );
}

/// pmem.c `pmem_attach_disk`: `if (!devm_request_mem_region(dev, res->start,
/// resource_size(res), dev_name(&ndns->dev))) { dev_warn(dev, "could not reserve region
/// %pR\n", res); return -EBUSY; }` — a busy claim inside the namespace makes the probe fail and
/// the namespace stays unbound. (The module itself loads: `__driver_attach` ignores a probe's
/// error; the simulator reports the probe's error as the command's, so modprobe's own result
/// is not asserted.)
#[test]
fn nd_pmem_cannot_claim_a_namespace_with_a_busy_child_range() {
    let mut m = boot(
        &[
            (0, 0x1000, 0x3fffffff, "System RAM", RAM, Desc::None),
            pmem_legacy(0x100000000, 0x12fffffff),
            (1, 0x110000000, 0x110000fff, "reserved", MEMB, Desc::None),
        ],
        Config::default(),
    );
    let tr = &mut Trace::new();
    m.modprobe("nd_e820", tr).unwrap();
    // drivers/base/dd.c `__driver_attach`: "We drop the error here and always return 0";
    // `call_driver_probe` warned "%s: probe of %s failed with error %d". modprobe succeeds.
    m.modprobe("nd_pmem", tr).unwrap();
    assert!(m.module_loaded("nd_pmem"));
    assert!(!m.nvdimm.namespaces[0].enabled);
    let warn = "nd_pmem namespace0.0: could not reserve region";
    assert!(tr.log.iter().any(|l| l.starts_with(warn)), "{:?}", tr.log);
    assert_eq!(
        tr.log.last().map(String::as_str),
        Some("nd_pmem: probe of namespace0.0 failed with error -16")
    );
    let tr = &mut Trace::new();
    let e = m.nd_namespace_probe("namespace0.0", tr).unwrap_err();
    assert_eq!(e.errno, Errno::EBUSY);
    let log = e.log.unwrap();
    assert!(log.starts_with(warn), "{log}");
    assert_eq!(tr.log, [log]);
    assert!(!m.nvdimm.namespaces[0].enabled);
}

/// device_dax loaded first, then dax_pmem: `devm_create_dev_dax` adds dax0.0 and the driver
/// core probes device_dax on it right away (`device_add` → `bus_probe_device`, whose result
/// nobody checks). Its -EBUSY on a BUSY range in the data area leaves dax0.0 unbound but does
/// not fail dax_pmem's probe: the namespace is enabled with its metadata claim, and modprobe
/// succeeds.
#[test]
fn a_device_dax_failure_inside_dax_pmems_probe_does_not_fail_it() {
    let mut m = boot(
        &[
            (0, 0x1000, 0x3fffffff, "System RAM", RAM, Desc::None),
            pmem_legacy(0x100000000, 0x12fffffff),
            (1, 0x100e00000, 0x100e00fff, "reserved", MEMB, Desc::None),
        ],
        Config::default(),
    );
    let tr = &mut Trace::new();
    m.modprobe("nd_e820", tr).unwrap();
    m.nd_namespace_set_mode("namespace0.0", NsMode::Devdax, PfnMode::Pmem, SZ_2M, tr)
        .unwrap();
    m.modprobe("device_dax", tr).unwrap();
    m.modprobe("dax_pmem", tr).unwrap();
    assert!(m.nvdimm.namespaces[0].enabled);
    assert_eq!(m.dax["dax0.0"].driver, crate::kernel::dax::DaxDriver::None);
    assert_eq!(
        span(&m, "namespace0.0"),
        Some((0x100000000, 0x100dfffff, true))
    );
    assert_eq!(
        tr.log.last().map(String::as_str),
        Some("device_dax: probe of dax0.0 failed with error -16")
    );
}

/// dax/pmem.c `__dax_pmem_probe`: `if (!devm_request_mem_region(dev, nsio->res.start, offset,
/// dev_name(&ndns->dev))) { dev_warn(dev, "could not reserve metadata\n"); return
/// ERR_PTR(-EBUSY); }` — a busy claim in the metadata area (info block + memmap) fails the
/// devdax probe; one in the data area does not stop dax_pmem (device_dax's probe then fails).
#[test]
fn dax_pmem_cannot_reserve_busy_metadata() {
    let rows = |busy_at: u64| {
        vec![
            (0, 0x1000, 0x3fffffff, "System RAM", RAM, Desc::None),
            pmem_legacy(0x100000000, 0x12fffffff),
            (1, busy_at, busy_at + 0xfff, "reserved", MEMB, Desc::None),
        ]
    };
    let tr = &mut Trace::new();
    let mut m = boot(&rows(0x100001000), Config::default());
    m.modprobe("nd_e820", tr).unwrap();
    // 768 MiB, map=dev, align 2M: dataoff 0xe00000 (see nvdimm.rs tests).
    m.nd_namespace_set_mode("namespace0.0", NsMode::Devdax, PfnMode::Pmem, SZ_2M, tr)
        .unwrap();
    m.modprobe("dax_pmem", tr).unwrap();
    assert_eq!(
        tr.log.last().map(String::as_str),
        Some("dax_pmem: probe of dax0.0 failed with error -16")
    );
    assert!(!m.dax.contains_key("dax0.0"));
    assert!(!m.nvdimm.namespaces[0].enabled);
    let e = m
        .nd_namespace_probe("namespace0.0", &mut Trace::new())
        .unwrap_err();
    assert_eq!(e.errno, Errno::EBUSY);
    assert_eq!(
        e.log.as_deref(),
        Some("dax_pmem dax0.0: could not reserve metadata")
    );
    assert!(!m.dax.contains_key("dax0.0"));
    // Just past the metadata: dax_pmem reserves [start, start + 0xe00000) and creates dax0.0.
    let mut m = boot(&rows(0x100e00000), Config::default());
    m.modprobe("nd_e820", tr).unwrap();
    m.nd_namespace_set_mode("namespace0.0", NsMode::Devdax, PfnMode::Pmem, SZ_2M, tr)
        .unwrap();
    m.modprobe("dax_pmem", tr).unwrap();
    assert_eq!(
        span(&m, "namespace0.0"),
        Some((0x100000000, 0x100dfffff, true))
    );
    let d = &m.dax["dax0.0"];
    assert_eq!((d.start, d.end, d.nid), (0x100e00000, 0x12fffffff, -1));
    // device_dax's probe (`dev_dax_probe`: "mapping%d: %#llx-%#llx could not reserve range",
    // -EBUSY) fails on the BUSY range in the data area; dax0.0 stays without a driver.
    m.modprobe("device_dax", tr).unwrap();
    assert_eq!(
        tr.log.last().map(String::as_str),
        Some("device_dax: probe of dax0.0 failed with error -16")
    );
    assert_eq!(m.dax["dax0.0"].driver, crate::kernel::dax::DaxDriver::None);
    let e = m
        .dax_bind_device_dax("dax0.0", &mut Trace::new())
        .unwrap_err();
    assert_eq!(e.errno, Errno::EBUSY);
}

/// include/linux/sizes.h: `SZ_4K 0x00001000`, `SZ_8K 0x00002000`, `SZ_2M 0x00200000`,
/// `SZ_1G 0x40000000`.
#[test]
fn sizes_h_constants() {
    use crate::kernel::nvdimm::{SZ_1G, SZ_4K, SZ_8K};
    assert_eq!(
        (SZ_4K, SZ_8K, SZ_2M, SZ_1G),
        (0x1000, 0x2000, 0x200000, 0x40000000)
    );
    assert_eq!(PAGE_SIZE, SZ_4K);
}

/// pfn_devs.c `nd_pfn_init`, PFN_MODE_PMEM: `npfns = PHYS_PFN(size - SZ_8K)`, `offset =
/// ALIGN(start + SZ_8K + MAX_STRUCT_PAGE_SIZE * npfns, align) - start`. For size 0x7f82000:
/// npfns = 0x7f80, 8K + 64 * 0x7f80 = 0x200000 exactly, so offset = 2 MiB; counting two
/// pages more (size + 8K) would need 128 bytes more and round up to 4 MiB. end_trunc = (start +
/// size) - ALIGN_DOWN(start + size, 2M) = 0x182000; npfns = PHYS_PFN(size - offset -
/// end_trunc) = 0x7c00.
#[test]
fn nd_pfn_init_memmap_that_ends_exactly_on_the_alignment() {
    use crate::kernel::nvdimm::nd_pfn_init;
    for ver in ["5.10", "6.1", "6.12"] {
        let ib = nd_pfn_init(
            "n",
            0x100000000,
            0x7f82000,
            PfnMode::Pmem,
            SZ_2M,
            ver.parse().unwrap(),
        )
        .unwrap();
        assert_eq!(
            ib,
            InfoBlock {
                mode: PfnMode::Pmem,
                dataoff: 0x200000,
                end_trunc: 0x182000,
                npfns: 0x7c00,
                align: SZ_2M,
            },
            "{ver}"
        );
    }
}

/// A dump that shows `namespace0.0` (the metadata claim) and a BUSY `dax0.0` under legacy
/// pmem is the real 6.1 capture after `ndctl create-namespace -m devdax`: nd_e820, dax_pmem
/// and device_dax are loaded (`__dax_pmem_probe` reserves `[start, start + offset)` under the
/// namespace's name; `dev_dax_probe` claims the dax range BUSY). The info block is read back
/// from the claims: dataoff = the metadata claim's size (0xa00000), `npfns =
/// PHYS_PFN(size - offset - end_trunc)` = (0x20000000 - 0xa00000) / 4096 = 0x1f600.
/// `target_node` = `phys_to_target_node(res->start)`: no RAM above the pmem, NUMA_NO_NODE.
#[test]
fn discover_devdax_namespace_from_the_dump() {
    let m = boot(
        &[
            (0, 0x1000, 0x3fffffff, "System RAM", RAM, Desc::None),
            pmem_legacy(0x110000000, 0x12fffffff),
            (
                1,
                0x110000000,
                0x1109fffff,
                "namespace0.0",
                MEMB,
                Desc::None,
            ),
            (1, 0x110a00000, 0x12fffffff, "dax0.0", MEMB, Desc::None),
        ],
        Config::default(),
    );
    let mods: Vec<&str> = m.nvdimm.modules.iter().map(String::as_str).collect();
    assert_eq!(mods, ["dax_pmem", "device_dax", "libnvdimm", "nd_e820"]);
    assert!(m.nvdimm.kmem_ids.is_empty());
    let r = &m.nvdimm.regions[0];
    assert_eq!(
        (r.id, r.start, r.end, r.provider, r.target_node),
        (0, 0x110000000, 0x12fffffff, Provider::E820, -1)
    );
    let ns = &m.nvdimm.namespaces[0];
    assert_eq!(
        (
            ns.name.as_str(),
            ns.region,
            ns.id,
            ns.start,
            ns.end,
            ns.mode
        ),
        (
            "namespace0.0",
            0,
            0,
            0x110000000,
            0x12fffffff,
            NsMode::Devdax
        )
    );
    assert!(ns.enabled && !ns.user_disabled);
    assert_eq!(
        ns.info,
        Some(InfoBlock {
            mode: PfnMode::Pmem,
            dataoff: 0xa00000,
            end_trunc: 0,
            npfns: 0x1f600,
            align: SZ_2M,
        })
    );
    assert_eq!(m.dax["dax0.0"].nid, -1, "the region's target_node");
}

/// The same with kmem (`dax0.0` non-BUSY with `System RAM (kmem)` below): kmem and
/// device_dax are loaded and dax0.0 is in kmem's `new_id` list (`dax_match_id`); with boot
/// RAM above the pmem the region is on node 0.
#[test]
fn discover_kmem_namespace_from_the_dump() {
    let m = boot(
        &[
            (0, 0x1000, 0x3fffffff, "System RAM", RAM, Desc::None),
            pmem_legacy(0x110000000, 0x12fffffff),
            (
                1,
                0x110000000,
                0x1109fffff,
                "namespace0.0",
                MEMB,
                Desc::None,
            ),
            (
                1,
                0x118000000,
                0x12fffffff,
                "dax0.0",
                IORESOURCE_MEM,
                Desc::None,
            ),
            (
                2,
                0x118000000,
                0x12fffffff,
                "System RAM (kmem)",
                RAM | IORESOURCE_SYSRAM_DRIVER_MANAGED,
                Desc::None,
            ),
            (0, 0x130000000, 0x13fffffff, "System RAM", RAM, Desc::None),
        ],
        Config::default(),
    );
    let mods: Vec<&str> = m.nvdimm.modules.iter().map(String::as_str).collect();
    assert_eq!(
        mods,
        ["dax_pmem", "device_dax", "kmem", "libnvdimm", "nd_e820"]
    );
    assert!(m.nvdimm.kmem_ids.contains("dax0.0"));
    assert_eq!(m.nvdimm.regions[0].target_node, 0);
    assert_eq!(m.dax["dax0.0"].nid, 0);
    assert_eq!(m.nvdimm.namespaces[0].mode, NsMode::Devdax);
}

/// A raw namespace under an NFIT range (`Persistent Memory`): nfit and nd_pmem; the region id
/// and namespace id come from the name (`namespace1.0`). A pmem range without a namespace
/// child, and a `namespaceX.Y` under anything else, make no region.
#[test]
fn discover_raw_nfit_namespace_and_ignore_the_rest() {
    let m = boot(
        &[
            (0, 0x1000, 0x3fffffff, "System RAM", RAM, Desc::None),
            (
                0,
                0x100000000,
                0x13fffffff,
                "Persistent Memory",
                IORESOURCE_MEM,
                Desc::PersistentMemory,
            ),
            (
                1,
                0x100000000,
                0x13fffffff,
                "namespace1.0",
                MEMB,
                Desc::None,
            ),
            pmem_legacy(0x140000000, 0x17fffffff),
            (1, 0x140000000, 0x140000fff, "namespace", MEMB, Desc::None),
            (
                0,
                0x180000000,
                0x1bfffffff,
                "Reserved",
                IORESOURCE_MEM,
                Desc::Reserved,
            ),
            (
                1,
                0x180000000,
                0x1bfffffff,
                "namespace2.0",
                MEMB,
                Desc::None,
            ),
        ],
        Config::default(),
    );
    let mods: Vec<&str> = m.nvdimm.modules.iter().map(String::as_str).collect();
    assert_eq!(mods, ["libnvdimm", "nd_pmem", "nfit"]);
    assert_eq!(m.nvdimm.regions.len(), 1);
    let r = &m.nvdimm.regions[0];
    assert_eq!(
        (r.id, r.provider, r.start, r.end),
        (1, Provider::Nfit, 0x100000000, 0x13fffffff)
    );
    let ns = &m.nvdimm.namespaces[0];
    assert_eq!(
        (ns.name.as_str(), ns.region, ns.id, ns.mode, ns.info),
        ("namespace1.0", 1, 0, NsMode::Raw, None)
    );
    assert_eq!(m.nvdimm.namespaces.len(), 1);
}

/// `ndctl create-namespace -e namespace0.0 -m raw`: no info block (raw namespaces have no
/// `nd_pfn_sb`); every page of the namespace is data (768 MiB = 0x30000 pages). A user
/// disable is forgotten by a reconfiguration.
#[test]
fn set_mode_raw_drops_the_info_block() {
    let tr = &mut Trace::new();
    let mut m = legacy(true);
    load(&mut m, &["nd_e820"]);
    m.nd_namespace_set_mode("namespace0.0", NsMode::Fsdax, PfnMode::Pmem, SZ_2M, tr)
        .unwrap();
    assert!(m.nvdimm.namespaces[0].info.is_some());
    m.nvdimm.namespaces[0].user_disabled = true;
    let ib = m
        .nd_namespace_set_mode("namespace0.0", NsMode::Raw, PfnMode::Pmem, SZ_2M, tr)
        .unwrap();
    assert_eq!(
        ib,
        InfoBlock {
            mode: PfnMode::Ram,
            dataoff: 0,
            end_trunc: 0,
            npfns: 0x30000,
            align: PAGE_SIZE,
        }
    );
    let ns = &m.nvdimm.namespaces[0];
    assert_eq!(
        (ns.mode, ns.info, ns.user_disabled),
        (NsMode::Raw, None, false)
    );
    let e = m
        .nd_namespace_set_mode("namespace9.0", NsMode::Raw, PfnMode::Pmem, SZ_2M, tr)
        .unwrap_err();
    assert_eq!(e.errno, Errno::ENODEV);
    // nd_pfn_init's refusal is the kernel's log line.
    let e = m
        .nd_namespace_set_mode(
            "namespace0.0",
            NsMode::Fsdax,
            PfnMode::Ram,
            crate::kernel::nvdimm::SZ_1G,
            tr,
        )
        .unwrap_err();
    assert_eq!(e.errno, Errno::ENXIO);
    assert_eq!(
        e.log.as_deref(),
        Some("namespace0.0 unable to satisfy requested alignment")
    );
}

/// Bind dax0.0 to kmem as daxctl does (unbind device_dax, kmem's new_id, probe) and online
/// its blocks movable: the system-ram mode of the real captures.
fn to_system_ram(m: &mut Machine, tr: &mut Trace) {
    use crate::kernel::memory::OnlineType;
    m.dax_unbind_device_dax("dax0.0", tr).unwrap();
    m.nvdimm.modules.insert("kmem".into());
    m.nvdimm.kmem_ids.insert("dax0.0".into());
    m.dax_kmem("dax0.0", tr).unwrap();
    let ranges = m.dax["dax0.0"].kmem_ranges.clone();
    for (s, e) in ranges {
        m.online_memory(s, e - s + 1, OnlineType::OnlineMovable, tr)
            .unwrap();
    }
}

/// Disabling: a disabled namespace is left alone. A devdax namespace whose dax device has
/// memory online as system-ram cannot go: libndctl's `ndctl_namespace_disable_safe` refuses
/// it (-EBUSY, `ndctl_dax_has_active_memory`, ndctl v72+). Its memory offline, dax_pmem's
/// unbind unregisters dax0.0 and kmem's remove takes the memory (`dev_dax_kmem_remove` →
/// `remove_memory`). Otherwise dax_pmem's unbind removes dax0.0, then the metadata claim.
#[test]
fn disable_devdax_namespace() {
    let tr = &mut Trace::new();
    let mut m = legacy(true);
    load(&mut m, &["nd_e820"]);
    m.nd_namespace_disable("namespace0.0", tr).unwrap();
    m.nd_namespace_set_mode("namespace0.0", NsMode::Devdax, PfnMode::Pmem, SZ_2M, tr)
        .unwrap();
    load(&mut m, &["dax_pmem", "device_dax"]);
    assert_eq!(span(&m, "dax0.0"), Some((0x100e00000, 0x12fffffff, true)));
    let devdax = crate::render::render_iomem(&m.tree);
    to_system_ram(&mut m, tr);
    assert!(span(&m, "System RAM (kmem)").is_some());
    let e = m.nd_namespace_disable("namespace0.0", tr).unwrap_err();
    assert_eq!(e.errno, Errno::EBUSY);
    assert_eq!(e.func, "ndctl_namespace_disable_safe");
    let ranges = m.dax["dax0.0"].kmem_ranges.clone();
    for (s, e) in ranges {
        m.offline_memory(s, e - s + 1, tr).unwrap();
    }
    let mut off = m.clone();
    off.nd_namespace_disable("namespace0.0", tr).unwrap();
    assert_eq!(
        span(&off, "System RAM (kmem)"),
        None,
        "kmem's remove took the memory"
    );
    assert_eq!(span(&off, "dax0.0"), None);
    assert_eq!(span(&off, "namespace0.0"), None);
    assert!(!off.dax.contains_key("dax0.0"));
    assert!(
        off.blocks
            .get(0x108000000 / off.config.block_size)
            .is_none()
    );
    // Back in devdax mode the way daxctl goes (kmem unbind, device_dax bind): as before.
    m.dax_kmem_unbind("dax0.0", tr).unwrap();
    m.dax_bind_device_dax("dax0.0", tr).unwrap();
    assert_eq!(crate::render::render_iomem(&m.tree), devdax);
    m.dax.get_mut("dax0.0").unwrap().driver = crate::kernel::dax::DaxDriver::DeviceDax;
    m.dax.get_mut("dax0.0").unwrap().kmem_ranges = vec![(0x100e00000, 0x12fffffff)];
    let e = m.nd_namespace_disable("namespace0.0", tr).unwrap_err();
    assert_eq!(e.errno, Errno::EBUSY, "kmem ranges left");
    m.dax.get_mut("dax0.0").unwrap().kmem_ranges.clear();
    m.nd_namespace_disable("namespace0.0", tr).unwrap();
    assert_eq!(span(&m, "dax0.0"), None);
    assert_eq!(span(&m, "namespace0.0"), None);
    assert!(!m.dax.contains_key("dax0.0"));
    assert!(!m.nvdimm.namespaces[0].enabled);
    // Disabling again: nothing to release, no error.
    m.nd_namespace_disable("namespace0.0", tr).unwrap();
}

/// device_dax bind/unbind through sysfs: a missing device is -ENODEV; a bound one cannot be
/// bound again (-EBUSY: `driver_bind`/`bind_store` on a device with a driver); unbinding one
/// not bound to device_dax is -ENODEV; unbinding releases the BUSY claim and leaves the device;
/// binding claims it again. A failed bind (`dev_dax_probe`: "could not reserve range",
/// -EBUSY) leaves the device unbound.
#[test]
fn device_dax_bind_and_unbind() {
    use crate::kernel::dax::DaxDriver;
    let tr = &mut Trace::new();
    let mut m = legacy(true);
    load(&mut m, &["nd_e820"]);
    m.nd_namespace_disable("namespace0.0", tr).unwrap();
    m.nd_namespace_set_mode("namespace0.0", NsMode::Devdax, PfnMode::Pmem, SZ_2M, tr)
        .unwrap();
    load(&mut m, &["dax_pmem"]);
    assert_eq!(span(&m, "dax0.0"), None, "no device_dax: no claim yet");
    assert_eq!(
        m.dax_device("dax0.0").map(|d| d.driver),
        Some(DaxDriver::None)
    );
    assert_eq!(
        m.dax_bind_device_dax("dax9.9", tr).unwrap_err().errno,
        Errno::ENODEV
    );
    assert_eq!(
        m.dax_unbind_device_dax("dax9.9", tr).unwrap_err().errno,
        Errno::ENODEV
    );
    assert_eq!(
        m.dax_unbind_device_dax("dax0.0", tr).unwrap_err().errno,
        Errno::ENODEV
    );
    m.dax_bind_device_dax("dax0.0", tr).unwrap();
    assert_eq!(span(&m, "dax0.0"), Some((0x100e00000, 0x12fffffff, true)));
    assert_eq!(
        m.dax_bind_device_dax("dax0.0", tr).unwrap_err().errno,
        Errno::EBUSY
    );
    m.dax_unbind_device_dax("dax0.0", tr).unwrap();
    assert_eq!(span(&m, "dax0.0"), None);
    assert_eq!(
        m.dax_device("dax0.0").map(|d| d.driver),
        Some(DaxDriver::None)
    );
    // Something else takes part of the range: the bind fails, the device stays unbound.
    let busy = m
        .tree
        .alloc(0x110000000, 0x110000fff, b"busy", MEMB, Desc::None);
    let p = m.tree.find_name("Persistent Memory (legacy)").unwrap();
    m.tree.link_sorted(p, busy);
    assert_eq!(
        m.dax_bind_device_dax("dax0.0", tr).unwrap_err().errno,
        Errno::EBUSY
    );
    let d = m.dax_device("dax0.0").unwrap();
    assert_eq!(
        (d.driver, d.start, d.end),
        (DaxDriver::None, 0x100e00000, 0x12fffffff)
    );
}

/// pfn_devs.c `__nvdimm_setup_pfn`: `*range = (struct range) { .start = nsio->res.start +
/// start_pad, .end = nsio->res.end - end_trunc }`, then dax/pmem.c `range.start += offset`:
/// the dax device stops `end_trunc` short of the namespace's end. 769 MiB at 4 GiB, map=dev,
/// align 2M: end_trunc = 1 MiB; npfns = (0x30100000 - 8K) / 4K = 0x300fe, ALIGN(8K + 64 *
/// 0x300fe, 2M) = 0xe00000. dax_pmem's claim is `[start, start + offset - 1]` (the trace says
/// so).
#[test]
fn devdax_range_stops_end_trunc_short() {
    let tr = &mut Trace::new();
    let mut m = boot(
        &[
            (0, 0x1000, 0x3fffffff, "System RAM", RAM, Desc::None),
            pmem_legacy(0x100000000, 0x1300fffff),
        ],
        Config::default(),
    );
    load(&mut m, &["nd_e820"]);
    let ib = m
        .nd_namespace_set_mode("namespace0.0", NsMode::Devdax, PfnMode::Pmem, SZ_2M, tr)
        .unwrap();
    assert_eq!((ib.dataoff, ib.end_trunc), (0xe00000, 0x100000));
    let tr = &mut Trace::new();
    m.modprobe("dax_pmem", tr).unwrap();
    let d = &m.dax["dax0.0"];
    assert_eq!((d.start, d.end), (0x100e00000, 0x12fffffff));
    assert!(
        tr.steps.iter().any(
            |s| s.func == "__dax_pmem_probe" && s.text().ends_with("[0x100000000-0x100dfffff]")
        ),
        "{:?}",
        tr.steps
    );
    assert_eq!(
        span(&m, "namespace0.0"),
        Some((0x100000000, 0x100dfffff, true))
    );
}

/// Loading device_dax binds the dax devices that have no driver and leave the rest alone:
/// drivers/base/dd.c `__driver_probe_device`: `if (dev->driver) return -EBUSY;`, and
/// `__driver_attach` ignores a probe's failure. A device already claimed by device_dax (declared
/// bound) stays as it is and the modprobe succeeds.
#[test]
fn device_dax_load_skips_bound_devices() {
    use crate::kernel::dax::DaxDriver;
    let tr = &mut Trace::new();
    let mut m = legacy(true);
    m.add_dax_device("dax0.0", 0x100000000, 0x10fffffff, 0, true, tr)
        .unwrap();
    m.add_dax_device("dax0.1", 0x110000000, 0x11fffffff, 0, true, tr)
        .unwrap();
    m.dax_unbind_device_dax("dax0.1", tr).unwrap();
    assert_eq!(span(&m, "dax0.1"), None);
    let tr = &mut Trace::new();
    m.modprobe("device_dax", tr).unwrap();
    assert_eq!(m.dax["dax0.0"].driver, DaxDriver::DeviceDax);
    assert_eq!(m.dax["dax0.1"].driver, DaxDriver::DeviceDax);
    assert_eq!(span(&m, "dax0.1"), Some((0x110000000, 0x11fffffff, true)));
    // The bound dax0.0 is not probed at all (`if (dev->driver) return -EBUSY;` comes before
    // `call_driver_probe`, which prints the failure line): no warning for it.
    assert!(
        !tr.log.iter().any(|l| l.contains("probe of dax0.0")),
        "{:?}",
        tr.log
    );
}

/// `ndctl disable-region` (ndctl/region.c `region_action`, drivers/nvdimm/region.c
/// `nd_region_remove`): each namespace is disabled first, so nd_pmem's claim goes; the
/// region's firmware range stays; a namespace of a disabled region is no device, so a driver
/// loading later does not probe it. `nd_region_probe` registers the namespace again: a
/// namespace the user had disabled is a new device and binds; a disabled region enabled twice
/// is enabled once; an unknown region is -ENODEV.
#[test]
fn a_disabled_region_has_no_namespace_devices_until_it_is_enabled() {
    let tr = &mut Trace::new();
    let mut m = legacy(true);
    load(&mut m, &["nd_e820"]);
    m.nvdimm.namespaces[0].user_disabled = true;
    m.nd_region_disable(0, tr).unwrap();
    assert!(!m.nvdimm.regions[0].enabled);
    assert!(!m.nd_namespace_registered(&m.nvdimm.namespaces[0]));
    load(&mut m, &["nd_pmem"]);
    assert_eq!(span(&m, "namespace0.0"), None, "no device to probe");
    assert_eq!(
        span(&m, "Persistent Memory (legacy)"),
        Some((0x100000000, 0x12fffffff, false))
    );
    m.nd_region_enable(0, tr).unwrap();
    assert!(m.nvdimm.regions[0].enabled);
    assert!(!m.nvdimm.namespaces[0].user_disabled, "a new device");
    assert_eq!(
        span(&m, "namespace0.0"),
        Some((0x100000000, 0x12fffffff, true))
    );
    // Enabled already: nothing probed twice, no error.
    m.nd_region_enable(0, tr).unwrap();
    m.nd_region_disable(0, tr).unwrap();
    assert_eq!(span(&m, "namespace0.0"), None, "nd_pmem's claim released");
    m.nd_region_disable(0, tr).unwrap();
    assert_eq!(m.nd_region_disable(7, tr).unwrap_err().errno, Errno::ENODEV);
    assert_eq!(m.nd_region_enable(7, tr).unwrap_err().errno, Errno::ENODEV);
}

/// A devdax namespace comes back as devdax when its region is enabled: the info block is on
/// the media (`nd_pmem_probe` → `nd_dax_probe` finds it), dax_pmem claims the metadata and
/// creates dax0.0, device_dax claims the data. A namespace whose dax device has memory online
/// as system-ram stops the disable (`ndctl_namespace_disable_safe`); the region stays enabled.
#[test]
fn a_devdax_namespace_survives_its_region_being_disabled() {
    let tr = &mut Trace::new();
    let mut m = legacy(true);
    load(&mut m, &["nd_e820"]);
    m.nd_namespace_set_mode("namespace0.0", NsMode::Devdax, PfnMode::Pmem, SZ_2M, tr)
        .unwrap();
    load(&mut m, &["dax_pmem", "device_dax"]);
    let dax = span(&m, "dax0.0");
    let meta = span(&m, "namespace0.0");
    assert_eq!(dax, Some((0x100e00000, 0x12fffffff, true)));
    m.nd_region_disable(0, tr).unwrap();
    assert_eq!(span(&m, "dax0.0"), None);
    assert_eq!(span(&m, "namespace0.0"), None);
    assert!(!m.dax.contains_key("dax0.0"));
    m.nd_region_enable(0, tr).unwrap();
    assert_eq!(span(&m, "dax0.0"), dax);
    assert_eq!(span(&m, "namespace0.0"), meta);
    assert_eq!(m.nvdimm.namespaces[0].mode, NsMode::Devdax);

    to_system_ram(&mut m, tr);
    assert_eq!(m.nd_region_disable(0, tr).unwrap_err().errno, Errno::EBUSY);
    assert!(m.nvdimm.regions[0].enabled);
    assert_eq!(span(&m, "namespace0.0"), meta);
}

/// drivers/acpi/scan.c `acpi_scan_try_to_offline`: a memory block that refuses to go offline
/// makes the eject fail with -EBUSY and "Offline failed." for that block; the blocks offlined
/// before it are onlined again (here: all back as they were) and the device stays. A device
/// whose memory was never added (`info->enabled == 0`) ejects without removing anything.
#[test]
fn an_acpi_eject_that_cannot_offline_changes_nothing() {
    use crate::kernel::memory::OnlineType;
    let tr = &mut Trace::new();
    let mut m = boot(
        &[(0, 0x1000, 0x3fffffff, "System RAM", RAM, Desc::None)],
        Config::default(),
    );
    m.acpi_memory_device_add(dimm("d1", 0x100000000, 0x10000000, 0), tr)
        .unwrap();
    assert!(m.memory_devices.devices[0].enabled);
    let bs = m.config.block_size;
    m.online_memory(0x100000000, 2 * bs, OnlineType::OnlineMovable, tr)
        .unwrap();
    // The second block cannot go offline (a block spanning zones is refused).
    let second = 0x100000000 / bs + 1;
    m.blocks
        .set_state(second, crate::kernel::memory::BlockState::Online, None);
    let look = |m: &Machine| {
        (
            crate::render::render_iomem(&m.tree),
            crate::render::blocks::render_memory_blocks_txt(m),
            m.memory_devices.clone(),
        )
    };
    let before = look(&m);
    let tr = &mut Trace::new();
    let e = m.acpi_memory_device_eject("d1", tr).unwrap_err();
    assert_eq!(e.errno, Errno::EBUSY);
    assert_eq!(
        tr.log.last().map(String::as_str),
        Some(format!("memory memory{second}: Offline failed.").as_str())
    );
    assert_eq!(
        look(&m),
        before,
        "the first block is online again, the device stays"
    );

    // A 64 MiB DIMM with 128 MiB blocks: add_memory refuses it, the device stays unenabled.
    let tr = &mut Trace::new();
    let e = m
        .acpi_memory_device_add(dimm("d3", 0x110000000, 0x4000000, 2), tr)
        .unwrap_err();
    assert_eq!(e.errno, Errno::EINVAL);
    assert!(
        tr.log
            .contains(&"acpi PNP0C80:02: add_memory failed".to_string())
    );
    assert!(!m.memory_devices.devices[1].enabled);
    let tree = m.tree.clone();
    m.acpi_memory_device_eject("d3", tr).unwrap();
    assert_eq!(m.memory_devices.devices.len(), 1);
    assert_eq!(
        crate::render::render_iomem(&m.tree),
        crate::render::render_iomem(&tree)
    );
    assert_eq!(m.memory_devices.next_instance(), 1);
}

/// `acpi_memory_enable_device` registers one static memory group over the whole device
/// (`memory_group_register_static(node, PFN_UP(total_length))`, v5.16+: here blocks 32–33 of a
/// 256 MiB DIMM at 4 GiB); the eject offlines only the device's own blocks — the neighbouring
/// DIMM's stay online — and its group goes with its memory. A range the kernel already has
/// (`add_memory` → -EEXIST) counts as added: the device is enabled, nothing logged.
#[test]
fn an_acpi_device_has_its_own_group_and_blocks() {
    use crate::kernel::machine::AddOptions;
    use crate::kernel::memory::{BlockState, OnlineType};
    use crate::kernel::online_policy::MemoryGroup;
    let tr = &mut Trace::new();
    let mut m = boot(
        &[(0, 0x1000, 0x3fffffff, "System RAM", RAM, Desc::None)],
        Config::default(),
    );
    let bs = m.config.block_size;
    m.acpi_memory_device_add(dimm("d1", 0x100000000, 2 * bs, 0), tr)
        .unwrap();
    m.acpi_memory_device_add(dimm("d2", 0x100000000 + 2 * bs, bs, 1), tr)
        .unwrap();
    assert_eq!(
        m.groups.values().copied().collect::<Vec<_>>(),
        vec![
            MemoryGroup {
                first: 32,
                last: 33,
                nid: 0
            },
            MemoryGroup {
                first: 34,
                last: 34,
                nid: 0
            },
        ]
    );
    m.online_memory(0x100000000, 3 * bs, OnlineType::OnlineMovable, tr)
        .unwrap();
    m.acpi_memory_device_eject("d1", tr).unwrap();
    assert!(m.blocks.get(32).is_none() && m.blocks.get(33).is_none());
    assert_eq!(m.blocks.get(34).map(|b| b.state), Some(BlockState::Online));
    assert_eq!(m.groups.len(), 1, "d1's group went with its memory");

    // Already added by other means: -EEXIST counts as enabled (acpi_memhotplug.c).
    m.add_memory(0, 0x200000000, bs, &AddOptions::default(), tr)
        .unwrap();
    let tr = &mut Trace::new();
    m.acpi_memory_device_add(dimm("d3", 0x200000000, bs, 2), tr)
        .unwrap();
    assert!(
        m.memory_devices
            .devices
            .iter()
            .any(|d| d.id == "d3" && d.enabled)
    );
    assert!(
        tr.log.iter().all(|l| !l.contains("add_memory failed")),
        "{:?}",
        tr.log
    );
    m.acpi_memory_device_eject("d3", tr).unwrap();
    assert!(
        m.blocks.get(0x200000000 / bs).is_none(),
        "its range was removed"
    );
}

/// `nd_region_probe` registers and probes only its own region's namespaces: enabling region0
/// leaves region1's unbound namespace alone.
#[test]
fn enabling_a_region_probes_only_its_own_namespaces() {
    let tr = &mut Trace::new();
    let mut m = boot(
        &[
            (0, 0x1000, 0x3fffffff, "System RAM", RAM, Desc::None),
            pmem_legacy(0x100000000, 0x11fffffff),
            pmem_legacy(0x140000000, 0x15fffffff),
        ],
        Config::default(),
    );
    load(&mut m, &["nd_e820", "nd_pmem"]);
    assert_eq!(m.nvdimm.regions.len(), 2);
    // namespace1.0 unbound without being user-disabled (as after a failed probe).
    m.nd_namespace_disable("namespace1.0", tr).unwrap();
    assert_eq!(span(&m, "namespace1.0"), None);
    m.nd_region_disable(0, tr).unwrap();
    m.nd_region_enable(0, tr).unwrap();
    assert_eq!(
        span(&m, "namespace0.0"),
        Some((0x100000000, 0x11fffffff, true))
    );
    assert_eq!(span(&m, "namespace1.0"), None, "region1 was not probed");
}

/// A plugged pc-dimm's ACPI device as the platform hands it over (not yet added).
fn dimm(
    id: &str,
    addr: u64,
    size: u64,
    instance: u32,
) -> crate::kernel::acpi_memhotplug::MemoryDevice {
    crate::kernel::acpi_memhotplug::MemoryDevice {
        id: id.into(),
        memdev: format!("mem-{id}"),
        addr,
        size,
        slot: instance,
        node: 0,
        instance,
        enabled: false,
    }
}
