//! libnvdimm: the nvdimm bus, its regions and namespaces, the `nd_pfn`/`nd_dax` info block,
//! and the drivers that claim iomem for them (`drivers/nvdimm/*`, `drivers/dax/pmem.c`).
//!
//! What each piece does to `/proc/iomem` (read in linux-source 5.10, 6.1 and 6.12):
//! * **nd_e820** (`drivers/nvdimm/e820.c`, `e820_pmem_probe`): walks the top-level
//!   `IORES_DESC_PERSISTENT_MEMORY_LEGACY` resources (`Persistent Memory (legacy)`, e820 type
//!   12) and registers one pmem region each, `ndr_desc.target_node = phys_to_target_node(start)`.
//!   No iomem change. **nfit** does the same for `Persistent Memory` (ACPI NFIT SPA ranges);
//!   the simulator models label-less NVDIMMs, whose region gets one io namespace too.
//! * Each region has one io namespace, `namespace<region>.0`, spanning the region.
//! * **nd_pmem** (`drivers/nvdimm/pmem.c`, `pmem_attach_disk`) binds a raw namespace or the
//!   fsdax (`pfn`) device on it and claims the *whole* namespace:
//!   `devm_request_mem_region(dev, res->start, resource_size(res), dev_name(&ndns->dev))`.
//! * **dax_pmem** (`drivers/dax/pmem.c`, `__dax_pmem_probe`) binds a devdax namespace: it
//!   claims only the info block + memmap, `devm_request_mem_region(dev, nsio->res.start,
//!   offset, dev_name(&ndns->dev))` ("reserve the metadata area, device-dax will reserve the
//!   data"), and creates `dax<region>.<id>` over `[start + offset, end - end_trunc]`.
//! * **device_dax** then claims the dax range ([`super::dax`]), **kmem** turns it into
//!   System RAM ([`super::dax`]).

use super::dax::{DaxDevice, DaxDriver};
use super::machine::Machine;
use super::resource::{__release_region, request_region};
use super::{Errno, KResult, KernelError, Trace, fail};
use crate::tree::{Desc, Tree};
use std::collections::BTreeSet;

pub const SZ_4K: u64 = 4 << 10;
pub const SZ_8K: u64 = 8 << 10;
pub const SZ_2M: u64 = 2 << 20;
pub const SZ_1G: u64 = 1 << 30;
/// `MAX_STRUCT_PAGE_SIZE` (drivers/nvdimm/nd.h): the memmap reserves 64 bytes per page.
pub const MAX_STRUCT_PAGE_SIZE: u64 = 64;
/// `PAGE_SIZE` on x86_64.
pub const PAGE_SIZE: u64 = 4096;

/// The modules the simulator knows (`modprobe` names, `-` and `_` interchangeable).
pub const MODULES: &[&str] = &[
    "libnvdimm",
    "nd_e820",
    "nfit",
    "nd_pmem",
    "dax_pmem",
    "device_dax",
    "kmem",
];

/// Modules that exist but whose behaviour is not modelled.
pub const UNMODELLED: &[&str] = &["dax_hmem", "virtio_mem", "nd_btt", "nd_blk", "dax_cxl"];

/// Who registered a region.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize)]
pub enum Provider {
    /// `nd_e820`: e820 type 12, `Persistent Memory (legacy)`.
    E820,
    /// `nfit`: ACPI NFIT, `Persistent Memory`.
    Nfit,
}

/// The personality of a namespace (`ndctl create-namespace -m`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize)]
pub enum NsMode {
    Raw,
    Fsdax,
    Devdax,
}

impl NsMode {
    pub fn as_str(self) -> &'static str {
        match self {
            NsMode::Raw => "raw",
            NsMode::Fsdax => "fsdax",
            NsMode::Devdax => "devdax",
        }
    }
}

/// Where the memmap lives (`--map`): `PFN_MODE_PMEM` (dev) or `PFN_MODE_RAM` (mem).
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize)]
pub enum PfnMode {
    /// `--map=dev`: the struct pages are in the namespace itself.
    Pmem,
    /// `--map=mem`: the struct pages are in System RAM.
    Ram,
}

/// The `nd_pfn_sb` fields that decide the layout.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize)]
pub struct InfoBlock {
    pub mode: PfnMode,
    /// `dataoff`: bytes from the namespace start to the data (info block + memmap).
    pub dataoff: u64,
    pub end_trunc: u64,
    pub npfns: u64,
    pub align: u64,
}

/// `memremap_compat_align()` on x86_64: the generic definition (no
/// `CONFIG_ARCH_HAS_MEMREMAP_COMPAT_ALIGN`) is `SUBSECTION_SIZE`, 2 MiB (mm/memremap.c).
pub fn memremap_compat_align() -> u64 {
    SZ_2M
}

/// `nd_pfn_init()` (drivers/nvdimm/pfn_devs.c) for a namespace `[start, start + size)`:
///
/// ```c
/// npfns = PHYS_PFN(size - SZ_8K);
/// align = max(nd_pfn->align, memremap_compat_align());
/// if (!IS_ALIGNED(start, memremap_compat_align())) … return -EINVAL;
/// end_trunc = start + size - ALIGN_DOWN(start + size, align);
/// if (nd_pfn->mode == PFN_MODE_PMEM)
///         offset = ALIGN(start + SZ_8K + MAX_STRUCT_PAGE_SIZE * npfns, align) - start;
/// else if (nd_pfn->mode == PFN_MODE_RAM)
///         offset = ALIGN(start + SZ_8K, align) - start;
/// if (offset >= size) …                       /* 5.10, 6.1 */
/// if (offset >= (size - end_trunc)) …         /* 6.12 */
///         "%s unable to satisfy requested alignment", return -ENXIO;
/// npfns = PHYS_PFN(size - offset - end_trunc);
/// ```
/// The same in 5.10, 6.1 and 6.12 apart from the `offset` check (6.12 also refuses a layout
/// that leaves no data after the truncation) and 6.1's `page_struct_override` (debug kernels
/// only; `sizeof(struct page)` is 64 on the Debian kernels).
pub fn nd_pfn_init(
    ns: &str,
    start: u64,
    size: u64,
    mode: PfnMode,
    align: u64,
    v: super::KernelVersion,
) -> Result<InfoBlock, (Errno, String)> {
    let compat = memremap_compat_align();
    let a = align.max(compat);
    if !start.is_multiple_of(compat) {
        return Err((
            Errno::EINVAL,
            format!("{ns}: start {start:#018x} misaligned to {compat:#x}"),
        ));
    }
    if size <= SZ_8K {
        return Err((
            Errno::ENXIO,
            format!("{ns} unable to satisfy requested alignment"),
        ));
    }
    let npfns = (size - SZ_8K) / PAGE_SIZE;
    let end = start.saturating_add(size);
    let end_trunc = end - (end / a) * a;
    let base = match mode {
        PfnMode::Pmem => start + SZ_8K + MAX_STRUCT_PAGE_SIZE * npfns,
        PfnMode::Ram => start + SZ_8K,
    };
    let offset = base.div_ceil(a).saturating_mul(a) - start;
    let limit = if v.at_least(6, 12) {
        size - end_trunc
    } else {
        size
    };
    if offset >= limit {
        return Err((
            Errno::ENXIO,
            format!("{ns} unable to satisfy requested alignment"),
        ));
    }
    Ok(InfoBlock {
        mode,
        dataoff: offset,
        end_trunc,
        npfns: (size - offset - end_trunc) / PAGE_SIZE,
        align,
    })
}

/// `nd_pfn_supported_alignments()` on x86_64: `PAGE_SIZE`, `HPAGE_PMD_SIZE` and, with
/// transparent PUD hugepages (the Debian kernels have them), `HPAGE_PUD_SIZE`.
pub const SUPPORTED_ALIGNMENTS: [u64; 3] = [PAGE_SIZE, SZ_2M, SZ_1G];

/// One io namespace.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct Namespace {
    /// `namespaceX.Y`.
    pub name: String,
    pub region: u32,
    pub id: u32,
    pub start: u64,
    pub end: u64,
    pub mode: NsMode,
    /// fsdax/devdax: the info block written by `nd_pfn_init`.
    pub info: Option<InfoBlock>,
    /// A driver is bound (nd_pmem for raw/fsdax, dax_pmem for devdax).
    pub enabled: bool,
    /// Disabled by the user (`ndctl disable-namespace`): a driver loading later does not bind.
    pub user_disabled: bool,
    /// ndctl's uuid of the pfn/dax personality (shown by `ndctl list`).
    pub uuid: Option<String>,
}

impl Namespace {
    pub fn size(&self) -> u64 {
        self.end - self.start + 1
    }
    /// `daxX.Y` of a devdax namespace (`sscanf(dev_name, "namespace%d.%d", &region_id, &id)`).
    pub fn dax_name(&self) -> String {
        format!("dax{}.{}", self.region, self.id)
    }
    /// The disk nd_pmem makes of it (`nvdimm_namespace_disk_name`, drivers/nvdimm/namespace_devs.c:
    /// `"pmem%d"` of the region id, `"pmem%d.%d"` when the namespace id is not 0).
    pub fn blockdev_name(&self) -> String {
        if self.id == 0 {
            format!("pmem{}", self.region)
        } else {
            format!("pmem{}.{}", self.region, self.id)
        }
    }
}

/// One nvdimm region (`regionN`).
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct Region {
    pub id: u32,
    pub start: u64,
    pub end: u64,
    pub provider: Provider,
    /// `ndr_desc.target_node = phys_to_target_node(res->start)`.
    pub target_node: i32,
    /// The nd_region driver is bound (`ndctl disable-region` unbinds it): its namespace
    /// devices exist only while it is.
    pub enabled: bool,
}

/// The nvdimm/dax state of the machine.
#[derive(Clone, Debug, Default, PartialEq, Eq, serde::Serialize)]
pub struct Nvdimm {
    /// Loaded modules (canonical `_` spelling).
    pub modules: BTreeSet<String>,
    pub regions: Vec<Region>,
    pub namespaces: Vec<Namespace>,
    /// Ids written to kmem's `new_id` (`dax_match_id`: kmem binds only these).
    pub kmem_ids: BTreeSet<String>,
}

/// A NUMA node declared for the machine (`--numa-node NID:START-END`), as the SRAT would.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize)]
pub struct NumaNode {
    pub nid: i32,
    pub start: u64,
    /// Inclusive.
    pub end: u64,
}

impl std::str::FromStr for NumaNode {
    type Err = String;
    fn from_str(s: &str) -> Result<NumaNode, String> {
        let bad = || format!("expected NID:START-END in hex, like 0:0-13fffffff, not {s:?}");
        let (n, r) = s.split_once(':').ok_or_else(bad)?;
        let (a, b) = r.split_once('-').ok_or_else(bad)?;
        let nid: i32 = n.parse().map_err(|_| bad())?;
        let start = crate::command::parse_addr(a).ok_or_else(bad)?;
        let end = crate::command::parse_addr(b).ok_or_else(bad)?;
        if end < start || nid < 0 {
            return Err(bad());
        }
        Ok(NumaNode { nid, start, end })
    }
}

/// Canonical module name (`modprobe` treats `-` and `_` alike).
pub fn module_name(m: &str) -> String {
    m.replace('-', "_")
}

fn is_ns_name(n: &[u8]) -> Option<(u32, u32)> {
    let s = std::str::from_utf8(n).ok()?.strip_prefix("namespace")?;
    let (a, b) = s.split_once('.')?;
    Some((a.parse().ok()?, b.parse().ok()?))
}

impl Machine {
    /// `phys_to_target_node(addr)` (arch/x86/mm/numa.c): the node whose `numa_meminfo` (or
    /// `numa_reserved_meminfo`) block holds `addr`, else `NUMA_NO_NODE` (-1). Without declared
    /// nodes the machine is what `dummy_numa_init()` makes of a machine without SRAT: one node
    /// 0 over `[0, PFN_PHYS(max_pfn))`, max_pfn being the end of the last boot System RAM.
    pub fn phys_to_target_node(&self, addr: u64) -> i32 {
        if !self.config.numa_nodes.is_empty() {
            return self
                .config
                .numa_nodes
                .iter()
                .find(|n| n.start <= addr && addr <= n.end)
                .map_or(-1, |n| n.nid);
        }
        match self.boot_ram_end {
            Some(end) if addr <= end => 0,
            _ => -1,
        }
    }

    /// A dump that already shows the nvdimm/dax state is understood as that state: a
    /// `namespaceX.Y` under a persistent-memory node means its bus provider and nd_pmem (or,
    /// with a `daxX.Y` sibling, dax_pmem and device_dax/kmem) are loaded and bound.
    pub(crate) fn discover_nvdimm(&mut self) {
        let top: Vec<_> = self.tree.children(Tree::ROOT).collect();
        for p in top {
            let r = self.tree.get(p);
            let provider = match r.desc {
                Desc::PersistentMemoryLegacy => Provider::E820,
                Desc::PersistentMemory => Provider::Nfit,
                _ => continue,
            };
            let kids: Vec<_> = self.tree.children(p).collect();
            let Some(ns) = kids
                .iter()
                .copied()
                .find(|&c| is_ns_name(self.tree.name_of(c)).is_some())
            else {
                continue;
            };
            let (pstart, pend) = (r.start, r.end);
            let Some((rid, id)) = is_ns_name(self.tree.name_of(ns)) else {
                continue;
            };
            let nr = self.tree.get(ns);
            let dax = format!("dax{rid}.{id}");
            let has_dax = self.dax.contains_key(&dax);
            let m = &mut self.nvdimm.modules;
            m.insert("libnvdimm".into());
            m.insert(
                match provider {
                    Provider::E820 => "nd_e820",
                    Provider::Nfit => "nfit",
                }
                .into(),
            );
            let (mode, info) = if has_dax {
                m.insert("dax_pmem".into());
                let dataoff = nr.end - nr.start + 1;
                (
                    NsMode::Devdax,
                    Some(InfoBlock {
                        mode: PfnMode::Pmem,
                        dataoff,
                        end_trunc: 0,
                        npfns: (pend - pstart + 1 - dataoff) / PAGE_SIZE,
                        align: SZ_2M,
                    }),
                )
            } else {
                m.insert("nd_pmem".into());
                (NsMode::Raw, None)
            };
            if let Some(d) = self.dax.get(&dax) {
                match d.driver {
                    DaxDriver::DeviceDax => {
                        self.nvdimm.modules.insert("device_dax".into());
                    }
                    DaxDriver::Kmem => {
                        self.nvdimm.kmem_ids.insert(dax.clone());
                        self.nvdimm.modules.insert("kmem".into());
                        self.nvdimm.modules.insert("device_dax".into());
                    }
                    DaxDriver::None => {}
                }
            }
            let target_node = self.phys_to_target_node(pstart);
            self.nvdimm.regions.push(Region {
                id: rid,
                start: pstart,
                end: pend,
                provider,
                target_node,
                enabled: true,
            });
            if let Some(d) = self.dax.get_mut(&dax) {
                d.nid = target_node;
            }
            self.nvdimm.namespaces.push(Namespace {
                name: format!("namespace{rid}.{id}"),
                region: rid,
                id,
                start: pstart,
                end: pend,
                mode,
                info,
                enabled: true,
                user_disabled: false,
                uuid: None,
            });
        }
    }

    pub fn module_loaded(&self, m: &str) -> bool {
        self.nvdimm.modules.contains(m)
    }

    /// `modprobe MODULE`: load it (with libnvdimm for the nvdimm modules), then let the driver
    /// core bind what can bind (`driver_register` → `driver_attach`; `nvdimm_bus_register` →
    /// region and namespace devices → `device_attach`).
    pub fn modprobe(&mut self, module: &str, trace: &mut Trace) -> KResult<()> {
        let m = module_name(module);
        if !MODULES.contains(&m.as_str()) {
            return Err(KernelError::new(
                Errno::ENOENT,
                "modprobe",
                format!(
                    "module {m} not found (the simulator models {})",
                    MODULES.join(", ")
                ),
            ));
        }
        if self.module_loaded(&m) {
            trace.step(0, "modprobe", format!("{m} is already loaded"));
            return Ok(());
        }
        if matches!(m.as_str(), "nd_e820" | "nfit" | "nd_pmem") {
            self.nvdimm.modules.insert("libnvdimm".into());
        }
        self.nvdimm.modules.insert(m.clone());
        trace.step(0, "modprobe", format!("load {m}"));
        match m.as_str() {
            "nd_e820" => self.nd_bus_register(Provider::E820, trace),
            "nfit" => self.nd_bus_register(Provider::Nfit, trace),
            _ => {}
        }
        self.nd_attach_all(trace)
    }

    /// `e820_pmem_probe` / the NFIT's SPA walk: one region (and io namespace) per top-level
    /// resource of the provider's descriptor, numbered after the regions already there.
    fn nd_bus_register(&mut self, provider: Provider, trace: &mut Trace) {
        let desc = match provider {
            Provider::E820 => Desc::PersistentMemoryLegacy,
            Provider::Nfit => Desc::PersistentMemory,
        };
        let found: Vec<(u64, u64)> = self
            .tree
            .children(Tree::ROOT)
            .filter(|&c| self.tree.get(c).desc == desc)
            .map(|c| (self.tree.get(c).start, self.tree.get(c).end))
            .collect();
        for (start, end) in found {
            if self.nvdimm.regions.iter().any(|r| r.start == start) {
                continue;
            }
            let id = self
                .nvdimm
                .regions
                .iter()
                .map(|r| r.id + 1)
                .max()
                .unwrap_or(0);
            let target_node = self.phys_to_target_node(start);
            trace.step(
                1,
                "nvdimm_pmem_region_create",
                format!("region{id} [{start:#x}-{end:#x}] target_node {target_node}"),
            );
            self.nvdimm.regions.push(Region {
                id,
                start,
                end,
                provider,
                target_node,
                enabled: true,
            });
            self.nvdimm.namespaces.push(Namespace {
                name: format!("namespace{id}.0"),
                region: id,
                id: 0,
                start,
                end,
                mode: NsMode::Raw,
                info: None,
                enabled: false,
                user_disabled: false,
                uuid: None,
            });
        }
    }

    /// Bind every namespace whose driver is loaded, then every dax device device_dax can take.
    /// A probe that fails leaves its device unbound and the rest go on: `__driver_attach`
    /// (drivers/base/dd.c, 5.10–6.12) "drop[s] the error here and always return[s] 0", after
    /// `call_driver_probe` printed `pr_warn("%s: probe of %s failed with error %d\n", …)`
    /// (not for -ENODEV/-ENXIO, which it reports at debug level only). So `modprobe` succeeds.
    fn nd_attach_all(&mut self, trace: &mut Trace) -> KResult<()> {
        self.nd_probe_namespaces(None, trace);
        if self.module_loaded("device_dax") {
            let unbound: Vec<String> = self
                .dax
                .values()
                .filter(|d| d.driver == DaxDriver::None && d.kmem_ranges.is_empty())
                .map(|d| d.name.clone())
                .collect();
            for d in unbound {
                let r = self.dax_bind_device_dax(&d, trace);
                probe_failed_warning("device_dax", &d, r, trace);
            }
        }
        Ok(())
    }

    /// Probe every registered, unbound namespace (of `region`, or of all regions) whose mode's
    /// driver is loaded; a failing probe leaves its namespace unbound (see `nd_attach_all`).
    fn nd_probe_namespaces(&mut self, region: Option<u32>, trace: &mut Trace) {
        for i in 0..self.nvdimm.namespaces.len() {
            let ns = &self.nvdimm.namespaces[i];
            if ns.enabled
                || ns.user_disabled
                || region.is_some_and(|r| r != ns.region)
                || !self.nd_namespace_registered(ns)
            {
                continue;
            }
            let driver = match ns.mode {
                NsMode::Raw | NsMode::Fsdax => "nd_pmem",
                NsMode::Devdax => "dax_pmem",
            };
            if self.module_loaded(driver) {
                // The device the driver probes: the namespace for nd_pmem, its nd_dax
                // device (`daxX.Y`) for dax_pmem, as the probe's own lines name them.
                let (name, dev) = match ns.mode {
                    NsMode::Devdax => (ns.name.clone(), ns.dax_name()),
                    _ => (ns.name.clone(), ns.name.clone()),
                };
                let r = self.nd_namespace_probe(&name, trace);
                probe_failed_warning(driver, &dev, r, trace);
            }
        }
    }

    fn ns_index(&self, name: &str, func: &'static str, trace: &mut Trace) -> KResult<usize> {
        self.nvdimm
            .namespaces
            .iter()
            .position(|n| n.name == name)
            .ok_or_else(|| {
                fail(
                    Errno::ENODEV,
                    func,
                    format!("no namespace {name}"),
                    None,
                    trace,
                )
            })
    }

    /// Probe the namespace with its mode's driver: `pmem_attach_disk` (raw, fsdax) or
    /// `__dax_pmem_probe` (devdax).
    pub fn nd_namespace_probe(&mut self, name: &str, trace: &mut Trace) -> KResult<()> {
        let i = self.ns_index(name, "nd_namespace_probe", trace)?;
        let ns = self.nvdimm.namespaces[i].clone();
        match ns.mode {
            NsMode::Raw | NsMode::Fsdax => {
                // pmem_attach_disk: devm_request_mem_region(dev, res->start, resource_size(res),
                //                                           dev_name(&ndns->dev))
                trace.step(
                    1,
                    "pmem_attach_disk",
                    format!("nd_pmem claims {name} [{:#x}-{:#x}]", ns.start, ns.end),
                );
                request_region(
                    &mut self.tree,
                    ns.start,
                    ns.size(),
                    name.as_bytes(),
                    0,
                    trace,
                )
                .map_err(|mut e| {
                    let l = format!(
                        "nd_pmem {name}: could not reserve region [mem {:#010x}-{:#010x}]",
                        ns.start, ns.end
                    );
                    trace.log(l.clone());
                    e.log = Some(l);
                    e
                })?;
            }
            NsMode::Devdax => {
                let info = ns.info.ok_or_else(|| {
                    fail(
                        Errno::ENODEV,
                        "nvdimm_setup_pfn",
                        format!("{name} has no dax info block"),
                        None,
                        trace,
                    )
                })?;
                let dax = ns.dax_name();
                trace.step(
                    1,
                    "__dax_pmem_probe",
                    format!(
                        "dax_pmem reserves the metadata {name} [{:#x}-{:#x}]",
                        ns.start,
                        ns.start + info.dataoff - 1
                    ),
                );
                if let Err(mut e) = request_region(
                    &mut self.tree,
                    ns.start,
                    info.dataoff,
                    name.as_bytes(),
                    0,
                    trace,
                ) {
                    let l = format!("dax_pmem {dax}: could not reserve metadata");
                    trace.log(l.clone());
                    e.log = Some(l);
                    return Err(e);
                }
                let (s, e) = (ns.start + info.dataoff, ns.end - info.end_trunc);
                let nid = self
                    .nvdimm
                    .regions
                    .iter()
                    .find(|r| r.id == ns.region)
                    .map_or(-1, |r| r.target_node);
                self.dax.remove(&dax);
                // devm_create_dev_dax: the device exists; device_dax binds below if loaded.
                self.add_dax_device(&dax, s, e, nid, false, trace)?;
                if let Some(d) = self.dax.get_mut(&dax) {
                    d.driver = DaxDriver::None;
                    d.devdax_claims = true;
                    // alloc_dax_region(…, le32_to_cpu(pfn_sb->align), …) → dev_dax->align.
                    d.align = info.align;
                }
                if self.module_loaded("device_dax") {
                    // device_add → bus_probe_device: device_dax's failure does not fail
                    // dax_pmem's probe (see `nd_attach_all`); dax0.0 stays unbound.
                    let r = self.dax_bind_device_dax(&dax, trace);
                    probe_failed_warning("device_dax", &dax, r, trace);
                }
            }
        }
        self.nvdimm.namespaces[i].enabled = true;
        Ok(())
    }

    /// Unbind the namespace's driver: nd_pmem's devres releases the claim; dax_pmem's removes
    /// the dax device (device_dax's claim first, or kmem's memory when all of it is offline),
    /// then the metadata claim. A dax device with memory online as system-ram cannot go
    /// (libndctl refuses before asking the kernel).
    pub fn nd_namespace_disable(&mut self, name: &str, trace: &mut Trace) -> KResult<()> {
        let i = self.ns_index(name, "nd_namespace_disable", trace)?;
        let ns = self.nvdimm.namespaces[i].clone();
        if !ns.enabled {
            return Ok(());
        }
        let v = self.config.version;
        match ns.mode {
            NsMode::Raw | NsMode::Fsdax => {
                __release_region(&mut self.tree, Tree::ROOT, ns.start, ns.size(), v, trace)?;
            }
            NsMode::Devdax => {
                let dax = ns.dax_name();
                if let Some(d) = self.dax.get(&dax).cloned() {
                    if d.driver == DaxDriver::Kmem {
                        // libndctl `ndctl_namespace_disable_safe` (ndctl v72+,
                        // `ndctl_dax_has_active_memory`): memory online as system-ram stops
                        // it ("active as system-ram, refusing to disable", -EBUSY).
                        let bs = self.config.block_size;
                        let online = d
                            .kmem_ranges
                            .iter()
                            .flat_map(|&(s, e)| self.blocks.range(s / bs, e / bs))
                            .filter(|b| b.state != super::memory::BlockState::Offline)
                            .count();
                        if online > 0 {
                            return Err(fail(
                                Errno::EBUSY,
                                "ndctl_namespace_disable_safe",
                                format!(
                                    "{name}: {dax} is active as system-ram ({online} memory block{} online), refusing to disable",
                                    if online == 1 { "" } else { "s" }
                                ),
                                None,
                                trace,
                            ));
                        }
                        // Its memory all offline: dax_pmem's unbind unregisters dax0.0, and
                        // kmem's remove (`dev_dax_kmem_remove`) takes the memory with it.
                        self.dax_kmem_unbind(&dax, trace)?;
                    } else if !d.kmem_ranges.is_empty() {
                        // kmem's remove failed earlier and left its resources (until reboot).
                        return Err(fail(
                            Errno::EBUSY,
                            "nd_namespace_disable",
                            format!(
                                "{dax}'s System RAM (kmem) was left behind by kmem: it stays until reboot"
                            ),
                            None,
                            trace,
                        ));
                    }
                    self.remove_dax_device(&dax, trace)?;
                }
                let off = ns.info.map_or(0, |i| i.dataoff);
                if off > 0 {
                    __release_region(&mut self.tree, Tree::ROOT, ns.start, off, v, trace)?;
                }
            }
        }
        trace.step(1, "nd_namespace_disable", format!("{name} disabled"));
        self.nvdimm.namespaces[i].enabled = false;
        Ok(())
    }

    /// A namespace device exists only while its region's driver is bound: `nd_region_probe`
    /// registers it (`nd_region_register_namespaces`), `nd_region_remove` unregisters it
    /// (`device_for_each_child(dev, NULL, child_unregister)`), drivers/nvdimm/region.c,
    /// 5.10–6.12. Its info block is on the media and outlives the device.
    pub fn nd_namespace_registered(&self, ns: &Namespace) -> bool {
        self.nvdimm
            .regions
            .iter()
            .any(|r| r.id == ns.region && r.enabled)
    }

    /// Unbind nd_region from `region<id>` (what `ndctl disable-region` does after disabling
    /// each namespace with `ndctl_namespace_disable_safe`, ndctl/region.c `region_action`):
    /// every namespace of the region is disabled first, the first refusal stops it (the ones
    /// before stay disabled, as on the machine), then `nd_region_remove` takes the namespace
    /// devices away. The region's own range ("Persistent Memory (legacy)") is the firmware's
    /// and stays in /proc/iomem.
    pub fn nd_region_disable(&mut self, id: u32, trace: &mut Trace) -> KResult<()> {
        let Some(ri) = self.nvdimm.regions.iter().position(|r| r.id == id) else {
            return Err(fail(
                Errno::ENODEV,
                "nd_region_disable",
                format!("no region{id}"),
                None,
                trace,
            ));
        };
        if !self.nvdimm.regions[ri].enabled {
            return Ok(());
        }
        let names: Vec<String> = self
            .nvdimm
            .namespaces
            .iter()
            .filter(|n| n.region == id)
            .map(|n| n.name.clone())
            .collect();
        for name in names {
            self.nd_namespace_disable(&name, trace)?;
        }
        trace.step(
            1,
            "nd_region_remove",
            format!("region{id}: nd_region unbound, its namespace devices unregistered"),
        );
        self.nvdimm.regions[ri].enabled = false;
        Ok(())
    }

    /// Bind nd_region to `region<id>` again (`ndctl_region_enable`): `nd_region_probe`
    /// registers the namespace devices anew (a namespace the user had disabled is a new
    /// device, enabled like the rest), and each is probed by its mode's driver if loaded, the
    /// mode read back from its info block (`nd_pmem_probe` → `nd_dax_probe`/`nd_pfn_probe`).
    pub fn nd_region_enable(&mut self, id: u32, trace: &mut Trace) -> KResult<()> {
        let Some(ri) = self.nvdimm.regions.iter().position(|r| r.id == id) else {
            return Err(fail(
                Errno::ENODEV,
                "nd_region_enable",
                format!("no region{id}"),
                None,
                trace,
            ));
        };
        if self.nvdimm.regions[ri].enabled {
            return Ok(());
        }
        self.nvdimm.regions[ri].enabled = true;
        trace.step(
            1,
            "nd_region_probe",
            format!("region{id}: nd_region bound, its namespace devices registered"),
        );
        for n in self.nvdimm.namespaces.iter_mut().filter(|n| n.region == id) {
            n.user_disabled = false;
        }
        self.nd_probe_namespaces(Some(id), trace);
        Ok(())
    }

    /// Give the (disabled) namespace a new personality: raw clears the info block, fsdax and
    /// devdax write one (`nd_pfn_init`).
    pub fn nd_namespace_set_mode(
        &mut self,
        name: &str,
        mode: NsMode,
        map: PfnMode,
        align: u64,
        trace: &mut Trace,
    ) -> KResult<InfoBlock> {
        let i = self.ns_index(name, "nd_pfn_init", trace)?;
        let ns = self.nvdimm.namespaces[i].clone();
        let v = self.config.version;
        let info = match mode {
            NsMode::Raw => None,
            _ => {
                let ib = nd_pfn_init(name, ns.start, ns.size(), map, align, v).map_err(
                    |(errno, log)| fail(errno, "nd_pfn_init", log.clone(), Some(log), trace),
                )?;
                trace.step(
                    1,
                    "nd_pfn_init",
                    format!(
                        "{name}: dataoff {:#x} end_trunc {:#x} npfns {} align {:#x}",
                        ib.dataoff, ib.end_trunc, ib.npfns, ib.align
                    ),
                );
                Some(ib)
            }
        };
        let n = &mut self.nvdimm.namespaces[i];
        n.mode = mode;
        n.info = info;
        n.user_disabled = false;
        Ok(info.unwrap_or(InfoBlock {
            mode: PfnMode::Ram,
            dataoff: 0,
            end_trunc: 0,
            npfns: ns.size() / PAGE_SIZE,
            align: PAGE_SIZE,
        }))
    }

    /// Writing the device to `/sys/bus/dax/drivers/device_dax/bind`: `dev_dax_probe` claims the
    /// range (BUSY).
    pub fn dax_bind_device_dax(&mut self, dev: &str, trace: &mut Trace) -> KResult<()> {
        let Some(d) = self.dax.get(dev).cloned() else {
            return Err(fail(
                Errno::ENODEV,
                "dev_dax_probe",
                format!("no dax device {dev}"),
                None,
                trace,
            ));
        };
        if d.driver != DaxDriver::None {
            return Err(fail(
                Errno::EBUSY,
                "driver_bind",
                format!("{dev} is already bound to a driver"),
                None,
                trace,
            ));
        }
        self.dax.remove(dev);
        let r = self.add_dax_device(dev, d.start, d.end, d.nid, true, trace);
        match self.dax.get_mut(dev) {
            // The same device, bound again: it keeps its align.
            Some(n) if r.is_ok() => n.align = d.align,
            _ => {
                let mut d = d;
                d.driver = DaxDriver::None;
                self.dax.insert(dev.to_string(), d);
            }
        }
        r
    }

    /// Writing the device to `/sys/bus/dax/drivers/device_dax/unbind`: device_dax's devres
    /// releases its claim; the device stays, unbound.
    pub fn dax_unbind_device_dax(&mut self, dev: &str, trace: &mut Trace) -> KResult<()> {
        let Some(d) = self.dax.get(dev).cloned() else {
            return Err(fail(
                Errno::ENODEV,
                "unbind_store",
                format!("no dax device {dev}"),
                None,
                trace,
            ));
        };
        if d.driver != DaxDriver::DeviceDax {
            return Err(fail(
                Errno::ENODEV,
                "unbind_store",
                format!("{dev} is not bound to device_dax"),
                None,
                trace,
            ));
        }
        let v = self.config.version;
        if d.devdax_claims {
            __release_region(
                &mut self.tree,
                Tree::ROOT,
                d.start,
                d.end - d.start + 1,
                v,
                trace,
            )?;
        }
        trace.step(
            1,
            "dev_dax_remove",
            format!("device_dax unbound from {dev}"),
        );
        if let Some(d) = self.dax.get_mut(dev) {
            d.driver = DaxDriver::None;
        }
        Ok(())
    }

    /// The dax device as kmem sees it (for daxctl's checks).
    pub fn dax_device(&self, dev: &str) -> Option<&DaxDevice> {
        self.dax.get(dev)
    }
}

/// The driver core's line for a failed probe (`call_driver_probe`, drivers/base/dd.c):
/// `"%s: probe of %s failed with error %d"` with the driver's and the device's names; -ENODEV
/// and -ENXIO ("rejects match") only at debug level, not in the log.
fn probe_failed_warning(driver: &str, dev: &str, r: KResult<()>, trace: &mut Trace) {
    if let Err(e) = r
        && !matches!(e.errno, Errno::ENODEV | Errno::ENXIO)
    {
        trace.log(format!(
            "{driver}: probe of {dev} failed with error -{}",
            e.errno.value()
        ));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::kernel::KernelVersion;
    use crate::kernel::machine::Config;
    use crate::parse::parse_dump;

    fn v(s: &str) -> KernelVersion {
        s.parse().unwrap()
    }

    #[test]
    fn nd_pfn_init_512m_legacy_devdax_layout_of_the_real_capture() {
        // 512 MiB at 0x110000000, PFN_MODE_PMEM, align 2M:
        // npfns = (0x20000000 - 0x2000) / 4096 = 131070;
        // offset = ALIGN(start + 8K + 64 * 131070, 2M) - start = ALIGN(0x110801f80, 2M) - start
        //        = 0xa00000 (namespace0.0 110000000-1109fffff, dax0.0 from 110a00000 in the
        //        real 6.1 capture; dax0.0 size 526385152 in `ndctl create-namespace`'s output).
        for ver in ["5.10", "6.1", "6.12"] {
            let ib = nd_pfn_init(
                "namespace0.0",
                0x110000000,
                0x20000000,
                PfnMode::Pmem,
                SZ_2M,
                v(ver),
            )
            .unwrap();
            assert_eq!(ib.dataoff, 0xa00000, "{ver}");
            assert_eq!(ib.end_trunc, 0);
            assert_eq!(0x20000000 - ib.dataoff, 526385152);
        }
    }

    #[test]
    fn nd_pfn_init_map_mem_reserves_only_the_info_block_rounded_to_align() {
        // offset = ALIGN(start + SZ_8K, align) - start
        let ib = nd_pfn_init("n", 0x110000000, 0x20000000, PfnMode::Ram, SZ_2M, v("6.1")).unwrap();
        assert_eq!(ib.dataoff, SZ_2M);
        let ib = nd_pfn_init("n", 0x110000000, 0x20000000, PfnMode::Ram, SZ_1G, v("6.1"));
        // ALIGN(0x110002000, 1G) - start = 0x140000000 - 0x110000000 = 0x30000000 >= size
        assert_eq!(
            ib.unwrap_err(),
            (
                Errno::ENXIO,
                "n unable to satisfy requested alignment".into()
            )
        );
    }

    #[test]
    fn nd_pfn_init_end_trunc_and_misaligned_start() {
        // end_trunc = start + size - ALIGN_DOWN(start + size, align)
        let ib = nd_pfn_init("n", 0x100000000, 0x10100000, PfnMode::Ram, SZ_2M, v("6.1")).unwrap();
        assert_eq!(ib.end_trunc, 0x100000);
        // !IS_ALIGNED(start, memremap_compat_align()) → -EINVAL
        let e = nd_pfn_init("n", 0x100001000, 0x10000000, PfnMode::Ram, SZ_2M, v("6.1"));
        assert_eq!(e.unwrap_err().0, Errno::EINVAL);
    }

    #[test]
    fn nd_pfn_init_6_12_refuses_a_layout_with_no_data_after_truncation() {
        // 6.12: `if (offset >= (size - end_trunc))`; 5.10/6.1 only `offset >= size`.
        // 3 MiB at 2M-aligned start, map=mem, align 2M: offset 2M, end_trunc 1M.
        let s = 0x100000000;
        assert!(nd_pfn_init("n", s, 0x300000, PfnMode::Ram, SZ_2M, v("6.1")).is_ok());
        assert_eq!(
            nd_pfn_init("n", s, 0x300000, PfnMode::Ram, SZ_2M, v("6.12"))
                .unwrap_err()
                .0,
            Errno::ENXIO
        );
    }

    fn legacy_machine(ram_above: bool) -> Machine {
        let mut dump = String::from(
            "00000000-00000fff : Reserved\n00001000-0009fbff : System RAM\n00100000-3fffffff : System RAM\n100000000-12fffffff : Persistent Memory (legacy)\n",
        );
        if ram_above {
            dump.push_str("130000000-13fffffff : System RAM\n");
        }
        let t = parse_dump(dump.as_bytes(), None).unwrap().tree;
        Machine::boot(t, Config::default())
    }

    #[test]
    fn dummy_numa_node_covers_boot_ram_only() {
        // dummy_numa_init: numa_add_memblk(0, 0, PFN_PHYS(max_pfn)); phys_to_target_node
        // returns NUMA_NO_NODE outside every memblk.
        let m = legacy_machine(true);
        assert_eq!(m.phys_to_target_node(0x110000000), 0);
        let m = legacy_machine(false);
        assert_eq!(m.phys_to_target_node(0x110000000), -1);
    }

    #[test]
    fn fsdax_claims_the_whole_namespace_devdax_only_the_metadata() {
        // pmem.c pmem_attach_disk: devm_request_mem_region(dev, res->start,
        // resource_size(res), dev_name(&ndns->dev)) — the whole namespace, pfn device or not.
        // dax/pmem.c __dax_pmem_probe: devm_request_mem_region(dev, nsio->res.start, offset,
        // dev_name(&ndns->dev)), then dax0.0 over [start + offset, end - end_trunc].
        let tr = &mut Trace::new();
        let mut m = legacy_machine(true);
        for md in ["nd_e820", "nd_pmem", "dax_pmem", "device_dax"] {
            m.modprobe(md, tr).unwrap();
        }
        m.nd_namespace_disable("namespace0.0", tr).unwrap();
        m.nd_namespace_set_mode("namespace0.0", NsMode::Fsdax, PfnMode::Pmem, SZ_2M, tr)
            .unwrap();
        m.nd_namespace_probe("namespace0.0", tr).unwrap();
        let ns = m.tree.find_name("namespace0.0").unwrap();
        assert_eq!(
            (m.tree.get(ns).start, m.tree.get(ns).end),
            (0x100000000, 0x12fffffff)
        );
        m.nd_namespace_disable("namespace0.0", tr).unwrap();
        assert_eq!(m.tree.find_name("namespace0.0"), None);
        // 768 MiB, map=dev: npfns = (0x30000000 - 8K) / 4K = 196606;
        // ALIGN(8K + 64 * 196606, 2M) = 0xe00000.
        m.nd_namespace_set_mode("namespace0.0", NsMode::Devdax, PfnMode::Pmem, SZ_2M, tr)
            .unwrap();
        m.nd_namespace_probe("namespace0.0", tr).unwrap();
        let ns = m.tree.find_name("namespace0.0").unwrap();
        assert_eq!(m.tree.get(ns).end, 0x100dfffff);
        let d = m.tree.find_name("dax0.0").unwrap();
        assert_eq!(
            (m.tree.get(d).start, m.tree.get(d).end),
            (0x100e00000, 0x12fffffff)
        );
        assert!(m.tree.get(d).is_busy(), "device_dax claims it");
        assert_eq!(m.dax["dax0.0"].nid, 0, "target_node of the region");
    }

    #[test]
    fn modprobe_order_does_not_matter_for_binding() {
        let tr = &mut Trace::new();
        let mut a = legacy_machine(true);
        a.modprobe("nd_e820", tr).unwrap();
        a.modprobe("nd_pmem", tr).unwrap();
        let mut b = legacy_machine(true);
        b.modprobe("nd_pmem", tr).unwrap();
        assert_eq!(b.tree.find_name("namespace0.0"), None, "no bus yet");
        b.modprobe("nd-e820", tr).unwrap();
        assert!(a.tree.find_name("namespace0.0").is_some());
        assert!(a.tree.same_as(&b.tree));
    }
}
