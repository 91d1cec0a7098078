//! dax/kmem (`drivers/dax/kmem.c`, with `drivers/dax/device.c`), kernel-semantics.md §4.
//!
//! A device-dax instance `daxX.Y` covers a range of a pmem namespace / Soft Reserved / CXL
//! region. Bound to **device_dax** (the default driver, "devdax mode"), `dev_dax_probe` claims
//! the whole range with `devm_request_mem_region(range, "daxX.Y")`: a BUSY leaf, e.g.
//! `110a00000-12fffffff : dax0.0`. Handing it to **kmem** (`daxctl reconfigure-device
//! --mode=system-ram`) first unbinds device_dax, whose devres releases that claim, then
//! `dev_dax_kmem_probe` rounds the range to memory blocks (start up, end down), claims *that*
//! with `request_mem_region(…, "daxX.Y")`, overwrites the claim's flags with exactly
//! `IORESOURCE_SYSTEM_RAM` (so it is no longer BUSY) and hot-adds the same range, which nests
//! the System RAM node under it (`118000000-12fffffff : dax0.0` > `System RAM (kmem)` on the
//! real 6.1 capture). Going back (`--mode=devdax`) runs kmem's remove, then device_dax's probe
//! claims the whole range again.

use super::machine::Machine;
use super::resource::{
    __release_region, __request_region_named, release_resource, remove_resource,
    rmra_has_sysram_bailout,
};
use super::{Errno, KResult, ResRef, Trace, fail};
use crate::tree::flags::*;
use crate::tree::{NodeId, Tree};

/// Which driver a dax device is bound to.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize)]
pub enum DaxDriver {
    /// `device_dax`: the character device `/dev/daxX.Y` (devdax mode).
    DeviceDax,
    /// `kmem`: the range is System RAM.
    Kmem,
    /// No driver (a rebind failed).
    None,
}

/// One device-dax instance.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct DaxDevice {
    pub name: String,
    /// The dax range (after the namespace's metadata), inclusive.
    pub start: u64,
    pub end: u64,
    pub nid: i32,
    pub driver: DaxDriver,
    /// device_dax claims the range (a BUSY `daxX.Y` node) while bound. False for a device
    /// declared without that claim (kernel-semantics.md SC-11's input has none).
    pub devdax_claims: bool,
    /// Ranges kmem claimed (non-busy `daxX.Y` nodes with System RAM below) still in the tree.
    pub kmem_ranges: Vec<(u64, u64)>,
    /// `dev_dax->align` (drivers/dax/bus.c `devm_create_dev_dax`: `dev_dax->align =
    /// dax_region->align;`), for a pmem namespace the info block's `pfn_sb->align`, the align
    /// `ndctl create-namespace -a` asked for (drivers/dax/pmem.c `alloc_dax_region(…,
    /// le32_to_cpu(pfn_sb->align), …)`). [`DEFAULT_DAX_ALIGN`] when not known (a dump).
    pub align: u64,
}

/// `nd_pfn_default_alignment()` on x86_64 with transparent huge pages: `HPAGE_PMD_SIZE`, the
/// align of a dax device whose creation was not seen.
pub const DEFAULT_DAX_ALIGN: u64 = 2 << 20;

/// `daxX.Y`.
pub(crate) fn is_dax_name(n: &[u8]) -> bool {
    let Some(rest) = n.strip_prefix(b"dax") else {
        return false;
    };
    let mut parts = rest.split(|&b| b == b'.');
    let ok =
        |p: Option<&[u8]>| p.is_some_and(|p| !p.is_empty() && p.iter().all(u8::is_ascii_digit));
    ok(parts.next()) && ok(parts.next()) && parts.next().is_none()
}

/// `string_get_size(size, 1, STRING_UNITS_2, …)`: three significant digits and a binary unit
/// (`122 MiB`, `62.0 MiB`, `1.50 GiB`), as in the kmem truncation warning.
pub fn string_get_size_2(size: u64) -> String {
    const UNITS: [&str; 9] = ["B", "KiB", "MiB", "GiB", "TiB", "PiB", "EiB", "ZiB", "YiB"];
    let mut i = 0;
    let mut whole = size;
    let mut rem = 0u64;
    while whole >= 1024 && i + 1 < UNITS.len() {
        rem = whole % 1024;
        whole /= 1024;
        i += 1;
    }
    if i == 0 {
        return format!("{whole} B");
    }
    // Fraction digits so that the total is three significant digits (truncated, not rounded —
    // close enough to the kernel's rounding for block-sized values).
    let digits = if whole >= 100 {
        0
    } else if whole >= 10 {
        1
    } else {
        2
    };
    if digits == 0 {
        return format!("{whole} {}", UNITS[i]);
    }
    let scale = 10u64.pow(digits);
    let frac = rem * scale / 1024;
    format!(
        "{whole}.{frac:0width$} {}",
        UNITS[i],
        width = digits as usize
    )
}

impl Machine {
    /// Find `daxX.Y` nodes in the boot tree: a BUSY one is bound to device_dax (devdax mode);
    /// a non-busy one with System RAM below is bound to kmem (its original range before
    /// alignment is unknown: the node's range is used). `found`: the nodes whose name
    /// [`is_dax_name`], in pre-order (gathered by [`Machine::boot`]'s one walk of the tree).
    pub(crate) fn discover_dax(&mut self, found: Vec<NodeId>) {
        for id in found {
            let name = self.tree.name_lossy(id).into_owned();
            let r = self.tree.get(id);
            let (s, e, busy) = (r.start, r.end, r.is_busy());
            let has_ram = self
                .tree
                .children(id)
                .any(|c| self.tree.get(c).flags & IORESOURCE_SYSRAM != 0);
            let dev = self.dax.entry(name.clone()).or_insert(DaxDevice {
                name,
                start: s,
                end: e,
                nid: 0,
                driver: DaxDriver::None,
                devdax_claims: true,
                kmem_ranges: Vec::new(),
                align: DEFAULT_DAX_ALIGN,
            });
            dev.start = dev.start.min(s);
            dev.end = dev.end.max(e);
            if busy {
                dev.driver = DaxDriver::DeviceDax;
            } else {
                dev.kmem_ranges.push((s, e));
                if has_ram {
                    dev.driver = DaxDriver::Kmem;
                }
            }
        }
    }

    /// Declare a dax device (what `ndctl create-namespace -m devdax` produces): range
    /// `[start, end]` on node `nid`; with `bind_devdax`, device_dax's `dev_dax_probe` claims
    /// the range (`devm_request_mem_region`, BUSY); failure → `mapping0: … could not reserve
    /// range`, -EBUSY, nothing changed.
    pub fn add_dax_device(
        &mut self,
        name: &str,
        start: u64,
        end: u64,
        nid: i32,
        bind_devdax: bool,
        trace: &mut Trace,
    ) -> KResult<()> {
        trace.step(
            0,
            "devm_create_dev_dax",
            format!("{name} [{start:#x}-{end:#x}] node {nid}"),
        );
        if !is_dax_name(name.as_bytes()) || end < start {
            return Err(fail(
                Errno::EINVAL,
                "devm_create_dev_dax",
                format!("{name:?} [{start:#x}-{end:#x}] is not a daxX.Y device with a range"),
                None,
                trace,
            ));
        }
        if self.dax.contains_key(name) {
            return Err(fail(
                Errno::EEXIST,
                "devm_create_dev_dax",
                format!("{name} exists"),
                None,
                trace,
            ));
        }
        let mut dev = DaxDevice {
            name: name.to_string(),
            start,
            end,
            nid,
            driver: DaxDriver::None,
            devdax_claims: bind_devdax,
            kmem_ranges: Vec::new(),
            align: DEFAULT_DAX_ALIGN,
        };
        if bind_devdax {
            self.dev_dax_probe(&mut dev, trace)?;
        } else {
            dev.driver = DaxDriver::DeviceDax;
        }
        self.dax.insert(name.to_string(), dev);
        Ok(())
    }

    /// Destroy a dax device (namespace reconfigured away from devdax). device_dax's claim is
    /// released; a device still bound to kmem → -EBUSY.
    pub fn remove_dax_device(&mut self, name: &str, trace: &mut Trace) -> KResult<()> {
        trace.step(0, "unregister_dev_dax", name.to_string());
        let Some(dev) = self.dax.get(name).cloned() else {
            return Err(fail(
                Errno::ENODEV,
                "unregister_dev_dax",
                format!("no dax device {name}"),
                None,
                trace,
            ));
        };
        if dev.driver == DaxDriver::Kmem {
            return Err(fail(
                Errno::EBUSY,
                "unregister_dev_dax",
                format!("{name} is bound to kmem: go back to devdax first"),
                None,
                trace,
            ));
        }
        if dev.driver == DaxDriver::DeviceDax && dev.devdax_claims {
            self.dev_dax_release(&dev, trace);
        }
        self.dax.remove(name);
        Ok(())
    }

    /// device_dax `dev_dax_probe`: claim the whole range, BUSY (all versions with kmem).
    fn dev_dax_probe(&mut self, dev: &mut DaxDevice, trace: &mut Trace) -> KResult<()> {
        let n = self.name(&dev.name.clone());
        let size = (dev.end - dev.start).wrapping_add(1);
        let mut sub = Trace::new();
        let r = __request_region_named(&mut self.tree, Tree::ROOT, dev.start, size, n, 0, &mut sub);
        trace.nest_steps(&mut sub, 1);
        match r {
            Ok(id) => {
                trace.step(
                    1,
                    "dev_dax_probe",
                    format!("device_dax claims {}", ResRef::of(&self.tree, id)),
                );
                dev.driver = DaxDriver::DeviceDax;
                Ok(())
            }
            Err(refusal) => {
                dev.driver = DaxDriver::None;
                // drivers/dax/device.c (5.10, 6.1, 6.12): `dev_warn(dev, "mapping%d: %#llx-%#llx
                // could not reserve range\n", ...)`; dev_warn prefixes `dev_driver_string(dev)`
                // — the driver being probed, "device_dax" — and the device name, as kmem's
                // lines carry "kmem daxX.Y: ".
                let log = format!(
                    "device_dax {}: mapping0: {:#x}-{:#x} could not reserve range",
                    dev.name, dev.start, dev.end
                );
                Err(fail(
                    Errno::EBUSY,
                    "dev_dax_probe",
                    format!(
                        "the range is taken: {}",
                        ResRef::of(&self.tree, refusal.node())
                    ),
                    Some(log),
                    trace,
                )
                .with_conflict(ResRef::of(&self.tree, refusal.node())))
            }
        }
    }

    /// device_dax unbind: devres releases the claim (`__release_region`).
    fn dev_dax_release(&mut self, dev: &DaxDevice, trace: &mut Trace) {
        let mut sub = Trace::new();
        let r = __release_region(
            &mut self.tree,
            Tree::ROOT,
            dev.start,
            (dev.end - dev.start).wrapping_add(1),
            self.config.version,
            &mut sub,
        );
        trace.nest_steps(&mut sub, 1);
        for l in sub.log {
            trace.log(l);
        }
        if r.is_ok() {
            trace.step(
                1,
                "dev_dax_remove",
                format!(
                    "device_dax unbound: {} [{:#x}-{:#x}] released",
                    dev.name, dev.start, dev.end
                ),
            );
        }
    }

    /// `daxctl reconfigure-device --mode=system-ram DEV`: unbind device_dax, bind kmem
    /// (`dev_dax_kmem_probe`). v5.1+ (kmem did not exist before). On any error the machine is
    /// left exactly as it was.
    pub fn dax_kmem(&mut self, dev: &str, trace: &mut Trace) -> KResult<()> {
        let saved = self.clone();
        let r = self.dax_kmem_inner(dev, trace);
        if r.is_err() {
            *self = saved;
        }
        r
    }

    /// The dax device `name`, on a kernel that has the kmem driver (v5.1+): -ENODEV otherwise.
    fn kmem_device(&self, name: &str, func: &'static str, trace: &mut Trace) -> KResult<DaxDevice> {
        let v = self.config.version;
        if !v.at_least(5, 1) {
            let why = format!("the kmem driver appeared in v5.1 (this is {v})");
            return Err(fail(Errno::ENODEV, func, why, None, trace));
        }
        match self.dax.get(name) {
            Some(dev) => Ok(dev.clone()),
            None => {
                // A user coming from a boot dump: say how a dax device comes to exist.
                let has_pmem = self.tree.children(Tree::ROOT).any(|c| {
                    matches!(
                        self.tree.get(c).desc,
                        crate::tree::Desc::PersistentMemoryLegacy
                            | crate::tree::Desc::PersistentMemory
                    )
                });
                let hint = if has_pmem {
                    "; this machine has persistent memory: `modprobe -a nd_e820 nd_pmem dax_pmem device_dax` \
                     (nfit for \"Persistent Memory\"), then `ndctl create-namespace -f -e namespace0.0 -m devdax`"
                } else {
                    ""
                };
                Err(fail(
                    Errno::ENODEV,
                    func,
                    format!("no dax device {name}{hint}"),
                    None,
                    trace,
                ))
            }
        }
    }

    fn dax_kmem_inner(&mut self, name: &str, trace: &mut Trace) -> KResult<()> {
        const F: &str = "dev_dax_kmem_probe";
        let v = self.config.version;
        trace.step(0, "dax kmem", format!("bind {name} to kmem ({v})"));
        let mut dev = self.kmem_device(name, F, trace)?;
        if dev.driver == DaxDriver::Kmem {
            return Err(fail(
                Errno::EBUSY,
                F,
                format!("{name} is already bound to kmem"),
                None,
                trace,
            ));
        }
        if dev.driver == DaxDriver::DeviceDax && dev.devdax_claims {
            self.dev_dax_release(&dev, trace);
        }
        dev.driver = DaxDriver::None;
        if dev.nid < 0 {
            // v5.10+ (drivers/dax/kmem.c in the 5.10, 6.1 and 6.12 sources): `dev_warn(dev,
            // "rejecting DAX region with invalid node: %d\n", numa_node);` — no range since
            // the multi-range rework; v5.1–v5.9 printed the region with `%pR`.
            let log = if v.at_least(5, 10) {
                format!(
                    "kmem {name}: rejecting DAX region with invalid node: {}",
                    dev.nid
                )
            } else {
                format!(
                    "kmem {name}: rejecting DAX region [mem {:#010x}-{:#010x}] with invalid node: {}",
                    dev.start, dev.end, dev.nid
                )
            };
            return Err(fail(
                Errno::EINVAL,
                F,
                format!("invalid node {}", dev.nid),
                Some(log),
                trace,
            ));
        }
        let bs = self.config.block_size;
        let orig_len = (dev.end - dev.start).wrapping_add(1);
        // dax_kmem_range (v5.10+) / the inline computation of v5.1–v5.9: start rounded up,
        // end rounded down to the memory block size.
        let (kstart, ksize) = if v.at_least(5, 10) {
            let ks = dev.start.div_ceil(bs).saturating_mul(bs);
            let ke_excl = (dev.end / bs)
                .saturating_add(u64::from(dev.end % bs == bs - 1))
                .saturating_mul(bs);
            if ks >= ke_excl {
                trace.log(format!(
                    "kmem {name}: mapping0: {:#x}-{:#x} too small after alignment",
                    dev.start, dev.end
                ));
                // v5.10–v5.14 (kmem.c of 5.10): the range is skipped (`continue`) and the probe
                // still ends in `return 0`: kmem is bound with no memory at all. The
                // `if (!total_len)` refusal came with the static memory group (v5.15,
                // `memory_group_register_static(numa_node, PFN_UP(total_len))`; in 6.1, 6.12).
                if !v.at_least(5, 15) {
                    trace.step(
                        1,
                        F,
                        "no range left after alignment: probe returns 0, kmem bound without memory (before v5.15)",
                    );
                    dev.driver = DaxDriver::Kmem;
                    dev.kmem_ranges = Vec::new();
                    self.dax.insert(name.to_string(), dev);
                    return Ok(());
                }
                let log =
                    format!("kmem {name}: rejecting DAX region without any memory after alignment");
                return Err(fail(
                    Errno::EINVAL,
                    F,
                    format!(
                        "no whole {bs:#x}-byte block in [{:#x}-{:#x}]",
                        dev.start, dev.end
                    ),
                    Some(log),
                    trace,
                ));
            }
            (ks, ke_excl - ks)
        } else {
            let ks = dev.start.wrapping_add(bs - 1) & !(bs - 1);
            let size = orig_len.wrapping_sub(ks.wrapping_sub(dev.start)) & !(bs - 1);
            (ks, size)
        };
        trace.step(
            1,
            F,
            format!(
                "range [{:#x}-{:#x}] aligned to blocks: [{kstart:#x}-{:#x}]",
                dev.start,
                dev.end,
                kstart.wrapping_add(ksize).wrapping_sub(1)
            ),
        );
        // "DAX region truncated by … due to alignment": Gregory Price, 2025 (approx. v6.16).
        if v.at_least(6, 16) && ksize != orig_len {
            trace.log(format!(
                "kmem {name}: DAX region truncated by {} due to alignment",
                string_get_size_2(orig_len - ksize)
            ));
        }
        let n = self.name(name);
        let mut sub = Trace::new();
        let r = __request_region_named(&mut self.tree, Tree::ROOT, kstart, ksize, n, 0, &mut sub);
        trace.nest_steps(&mut sub, 1);
        let kend = kstart.wrapping_add(ksize).wrapping_sub(1);
        let res = match r {
            Ok(id) => id,
            Err(refusal) => {
                let log = if v.at_least(5, 10) {
                    format!("kmem {name}: mapping0: {kstart:#x}-{kend:#x} could not reserve region")
                } else {
                    format!(
                        "kmem {name}: could not reserve region [{:#018x}-{:#018x}]",
                        kstart,
                        kstart.wrapping_add(ksize)
                    )
                };
                let c = ResRef::of(&self.tree, refusal.node());
                return Err(fail(
                    Errno::EBUSY,
                    F,
                    format!("request_mem_region failed at {c}"),
                    Some(log),
                    trace,
                )
                .with_conflict(c));
            }
        };
        // The claim becomes a non-busy System RAM container for the hot-added memory.
        self.tree.get_mut(res).flags = IORESOURCE_SYSTEM_RAM;
        trace.step(
            1,
            F,
            format!(
                "{} flags := IORESOURCE_SYSTEM_RAM (not BUSY)",
                ResRef::of(&self.tree, res)
            ),
        );
        // v5.1–v5.7 add_memory() → "System RAM"; v5.8+ add_memory_driver_managed("System RAM (kmem)").
        let ram_name = if v.at_least(5, 8) {
            "System RAM (kmem)"
        } else {
            "System RAM"
        };
        trace.step(
            1,
            F,
            format!(
                "{}(nid {}, {kstart:#x}, {ksize:#x}, {ram_name:?})",
                if v.at_least(5, 8) {
                    "add_memory_driver_managed"
                } else {
                    "add_memory"
                },
                dev.nid
            ),
        );
        if let Err(e) = self.__add_memory(dev.nid, kstart, ksize, ram_name, false, trace) {
            // v5.10+ logs per range; v5.1 leaked the dax node here (fixed in v5.2/5.3) — the
            // simulator restores the machine either way.
            if v.at_least(5, 10) {
                trace.log(format!(
                    "kmem {name}: mapping0: {kstart:#x}-{kend:#x} memory add failed"
                ));
            }
            return Err(e);
        }
        dev.driver = DaxDriver::Kmem;
        dev.kmem_ranges = vec![(kstart, kend)];
        self.dax.insert(name.to_string(), dev);
        Ok(())
    }

    /// `daxctl reconfigure-device --mode=devdax DEV`: kmem's remove, then device_dax's probe.
    ///
    /// kmem remove (`dev_dax_kmem_remove`), per version (SC-12/SC-13):
    /// * v5.1–v5.2: does nothing (memory stays until reboot).
    /// * v5.3+: `remove_memory` per range; on failure (a block online) the error
    ///   `… cannot be hotremoved until the next reboot` and the range stays; on success the
    ///   dax node goes: `release_resource` (v5.3–v6.2 — with `release_mem_region_adjustable`'s
    ///   SYSRAM bail-out the RAM child is still attached and is leaked with it) or
    ///   `remove_resource` (v6.3 fix, also in 6.1/5.15/5.10 stable).
    ///
    /// Unbinding always succeeds; device_dax then re-claims the whole range if it did before
    /// (failing, with a log line, while kmem's nodes remain).
    pub fn dax_devdax(&mut self, dev: &str, trace: &mut Trace) -> KResult<()> {
        let saved = self.clone();
        let r = self.dax_devdax_inner(dev, true, trace);
        if r.is_err() {
            *self = saved;
        }
        r
    }

    /// Writing the device to `/sys/bus/dax/drivers/kmem/unbind`: kmem's remove only (as
    /// [`Machine::dax_devdax`] describes); no driver binds afterwards.
    pub fn dax_kmem_unbind(&mut self, dev: &str, trace: &mut Trace) -> KResult<()> {
        let saved = self.clone();
        let r = self.dax_devdax_inner(dev, false, trace);
        if r.is_err() {
            *self = saved;
        }
        r
    }

    fn dax_devdax_inner(&mut self, name: &str, rebind: bool, trace: &mut Trace) -> KResult<()> {
        const F: &str = "dev_dax_kmem_remove";
        let v = self.config.version;
        trace.step(
            0,
            "dax devdax",
            format!("unbind {name} from kmem, bind device_dax ({v})"),
        );
        let mut dev = self.kmem_device(name, F, trace)?;
        if dev.driver != DaxDriver::Kmem {
            return Err(fail(
                Errno::EINVAL,
                F,
                format!("{name} is not bound to kmem"),
                None,
                trace,
            ));
        }
        if !v.at_least(5, 3) {
            trace.step(
                1,
                F,
                "v5.1–v5.2: kmem cannot hot-remove: nothing done, the memory stays until reboot",
            );
        } else {
            let mut kept = Vec::new();
            for (i, &(s, e)) in dev.kmem_ranges.iter().enumerate() {
                let size = (e - s).wrapping_add(1);
                match self.try_remove_memory(s, size, trace) {
                    Err(err) => {
                        let log = if v.at_least(5, 10) {
                            format!(
                                "kmem {name}: mapping{i}: {s:#x}-{e:#x} cannot be hotremoved until the next reboot"
                            )
                        } else {
                            format!(
                                "kmem {name}: DAX region [mem {s:#010x}-{e:#010x}] cannot be hotremoved until the next reboot"
                            )
                        };
                        trace.step(
                            1,
                            F,
                            format!("remove_memory failed ({}) → the range stays", err.errno),
                        );
                        trace.log(log);
                        kept.push((s, e));
                    }
                    Ok(()) => {
                        let node = self.tree.descendants(Tree::ROOT).find(|&id| {
                            self.tree.get(id).start == s
                                && self.tree.get(id).end == e
                                && self.tree.name_is(id, name)
                                && !self.tree.get(id).is_busy()
                        });
                        if let Some(id) = node {
                            let leaked = self.tree.has_children(id);
                            if rmra_has_sysram_bailout(v) {
                                let _ = release_resource(&mut self.tree, id);
                                let what = if leaked {
                                    " with its System RAM child still attached (leaked: SYSRAM bail-out)"
                                } else {
                                    ""
                                };
                                trace.step(
                                    1,
                                    F,
                                    format!("release_resource({name} [{s:#x}-{e:#x}]){what}"),
                                );
                            } else {
                                let _ = remove_resource(&mut self.tree, id);
                                trace.step(
                                    1,
                                    F,
                                    format!("remove_resource({name} [{s:#x}-{e:#x}])"),
                                );
                            }
                            self.tree.free(id);
                        }
                    }
                }
            }
            dev.kmem_ranges = kept;
        }
        dev.driver = DaxDriver::None;
        if !rebind {
            trace.step(1, F, format!("kmem unbound from {name}"));
        } else if dev.devdax_claims {
            let mut sub = Trace::new();
            if let Err(e) = self.dev_dax_probe(&mut dev, &mut sub) {
                trace.step(
                    1,
                    "dev_dax_probe",
                    format!("device_dax cannot bind: {}", e.reason),
                );
            }
            trace.steps.extend(sub.steps);
            trace.log.extend(sub.log);
        } else {
            dev.driver = DaxDriver::DeviceDax;
        }
        self.dax.insert(name.to_string(), dev);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::kernel::KernelVersion;
    use crate::kernel::machine::Config;
    use crate::kernel::memory::{BlockState, OnlineType};
    use crate::testutil::{MEMB, RAM, t0, text};
    use crate::tree::Desc;

    fn v(s: &str) -> KernelVersion {
        s.parse().unwrap()
    }

    /// SC-11's input: T0 with `a0000000-a05fffff : namespace0.0` (MEM|BUSY) under PMEM and a
    /// dax0.0 of `[0xa0600000, 0xafffffff]` on node 0 (no device_dax claim in that input).
    fn sc11_input(ver: &str) -> Machine {
        let mut t = t0();
        let pmem = t.find_name("Persistent Memory (legacy)").unwrap();
        let ns = t.alloc(
            0xa0000000,
            0xa05fffff,
            b"namespace0.0",
            MEMB,
            Desc::PersistentMemoryLegacy,
        );
        t.link_sorted(pmem, ns);
        let mut m = Machine::boot(
            t,
            Config {
                version: v(ver),
                ..Config::default()
            },
        );
        m.add_dax_device(
            "dax0.0",
            0xa0600000,
            0xafffffff,
            0,
            false,
            &mut Trace::new(),
        )
        .unwrap();
        m
    }

    const SC11_INPUT: &str = "a0000000-afffffff : Persistent Memory (legacy)\n  a0000000-a05fffff : namespace0.0\nb0000000";

    fn sc11_result(ram: &str) -> String {
        format!(
            "a0000000-afffffff : Persistent Memory (legacy)\n  a0000000-a05fffff : namespace0.0\n  a8000000-afffffff : dax0.0\n    a8000000-afffffff : {ram}\nb0000000"
        )
    }

    #[test]
    fn sc11_kmem_probe_era_b() {
        let mut m = sc11_input("5.1");
        m.dax_kmem("dax0.0", &mut Trace::new()).unwrap();
        assert!(
            text(&m.tree).contains(&sc11_result("System RAM")),
            "{}",
            text(&m.tree)
        );
        let dax = m.tree.find_range(0xa8000000, 0xafffffff).unwrap();
        assert_eq!(m.tree.name_lossy(dax), "dax0.0");
        assert_eq!(
            (m.tree.get(dax).flags, m.tree.get(dax).desc),
            (IORESOURCE_SYSTEM_RAM, Desc::PersistentMemoryLegacy)
        );
        let ram = m.tree.first_child(dax).unwrap();
        assert_eq!(
            (m.tree.get(ram).flags, m.tree.get(ram).desc),
            (RAM, Desc::PersistentMemoryLegacy)
        );
        assert_eq!(m.blocks.get(21).unwrap().state, BlockState::Offline);
        assert!(m.blocks.get(20).is_none());
    }

    #[test]
    fn sc11_kmem_probe_era_c_and_the_truncation_warning() {
        let mut m = sc11_input("6.1");
        let mut tr = Trace::new();
        m.dax_kmem("dax0.0", &mut tr).unwrap();
        assert!(text(&m.tree).contains(&sc11_result("System RAM (kmem)")));
        let ram = m.tree.find_name("System RAM (kmem)").unwrap();
        assert_eq!(
            m.tree.get(ram).flags,
            RAM | IORESOURCE_SYSRAM_DRIVER_MANAGED
        );
        assert!(
            !tr.log.iter().any(|l| l.contains("truncated")),
            "not in 6.1"
        );
        let mut m = sc11_input("6.18");
        let mut tr = Trace::new();
        m.dax_kmem("dax0.0", &mut tr).unwrap();
        // 250 MiB − 128 MiB.
        assert!(
            tr.log
                .iter()
                .any(|l| l.ends_with("DAX region truncated by 122 MiB due to alignment")),
            "{:?}",
            tr.log
        );
        // ≤ 5.0: no kmem driver.
        let mut m = sc11_input("5.0");
        assert_eq!(
            m.dax_kmem("dax0.0", &mut Trace::new()).unwrap_err().errno,
            Errno::ENODEV
        );
    }

    #[test]
    fn sc12_unbind_with_all_blocks_offline_per_version() {
        for (ver, gone) in [
            ("5.1", false),
            ("5.2", false),
            ("5.3", true),
            ("6.0", true),
            ("6.1.0", true),
            ("6.1", true),
            ("6.2", true),
            ("6.3", true),
            ("6.18", true),
        ] {
            let mut m = sc11_input(ver);
            m.dax_kmem("dax0.0", &mut Trace::new()).unwrap();
            let bound = text(&m.tree);
            let mut tr = Trace::new();
            m.dax_devdax("dax0.0", &mut tr).unwrap();
            if gone {
                assert!(
                    text(&m.tree).contains(SC11_INPUT),
                    "{ver}:\n{}",
                    text(&m.tree)
                );
                assert!(!m.blocks.contains(21), "{ver}: memory21 removed");
            } else {
                assert_eq!(text(&m.tree), bound, "{ver}: remove did nothing");
                assert!(m.blocks.contains(21), "{ver}");
            }
            // v5.3–v6.2 without the stable fix: the RAM child leaks with the dax node.
            let leaked = tr.steps.iter().any(|s| s.text().contains("leaked"));
            assert_eq!(
                leaked,
                ["5.3", "6.0", "6.1.0", "6.2"].contains(&ver),
                "{ver}"
            );
        }
    }

    #[test]
    fn sc13_unbind_with_a_block_online() {
        let mut m = sc11_input("6.1");
        m.dax_kmem("dax0.0", &mut Trace::new()).unwrap();
        m.online_memory(
            0xa8000000,
            0x8000000,
            OnlineType::OnlineMovable,
            &mut Trace::new(),
        )
        .unwrap();
        let before = text(&m.tree);
        let mut tr = Trace::new();
        m.dax_devdax("dax0.0", &mut tr).unwrap();
        assert_eq!(text(&m.tree), before);
        assert!(tr.log.iter().any(|l| l == "removing memory fails, because memory [0x00000000a8000000-0x00000000afffffff] is onlined"), "{:?}", tr.log);
        assert!(tr.log.iter().any(|l| l.ends_with(
            "mapping0: 0xa8000000-0xafffffff cannot be hotremoved until the next reboot"
        )));
        // The block can still be offlined afterwards.
        m.offline_memory(0xa8000000, 0x8000000, &mut Trace::new())
            .unwrap();
        // v5.3–v5.9 message.
        let mut m = sc11_input("5.9");
        m.dax_kmem("dax0.0", &mut Trace::new()).unwrap();
        m.online_memory(0xa8000000, 0x8000000, OnlineType::Online, &mut Trace::new())
            .unwrap();
        let mut tr = Trace::new();
        m.dax_devdax("dax0.0", &mut tr).unwrap();
        assert!(tr.log.iter().any(|l| l.ends_with(
            "DAX region [mem 0xa8000000-0xafffffff] cannot be hotremoved until the next reboot"
        )));
    }

    /// The real 6.1 capture B, on a hand-built tree: the device_dax claim is a busy leaf over
    /// the whole dax range; kmem replaces it by the block-aligned SYSTEM_RAM container.
    #[test]
    fn devdax_claim_and_kmem_claim_alternate_like_the_6_1_capture() {
        let t = crate::testutil::build(&[
            (0, 0x100000000, 0x10fffffff, "System RAM", RAM, Desc::None),
            (
                0,
                0x110000000,
                0x12fffffff,
                "Persistent Memory (legacy)",
                IORESOURCE_MEM,
                Desc::PersistentMemoryLegacy,
            ),
            (
                1,
                0x110000000,
                0x1109fffff,
                "namespace0.0",
                MEMB,
                Desc::PersistentMemoryLegacy,
            ),
            (0, 0x130000000, 0x13fffffff, "System RAM", RAM, Desc::None),
        ]);
        let mut m = Machine::boot(
            t,
            Config {
                version: v("6.1"),
                phys_bits: 40,
                ..Config::default()
            },
        );
        m.add_dax_device(
            "dax0.0",
            0x110a00000,
            0x12fffffff,
            0,
            true,
            &mut Trace::new(),
        )
        .unwrap();
        let devdax = "110000000-12fffffff : Persistent Memory (legacy)\n  110000000-1109fffff : namespace0.0\n  110a00000-12fffffff : dax0.0\n130000000";
        assert!(text(&m.tree).contains(devdax), "{}", text(&m.tree));
        m.dax_kmem("dax0.0", &mut Trace::new()).unwrap();
        assert!(text(&m.tree).contains(
            "110000000-12fffffff : Persistent Memory (legacy)\n  110000000-1109fffff : namespace0.0\n  118000000-12fffffff : dax0.0\n    118000000-12fffffff : System RAM (kmem)\n130000000"
        ));
        assert_eq!(
            m.blocks.range(34, 37).map(|b| b.id).collect::<Vec<_>>(),
            vec![35, 36, 37]
        );
        m.dax_devdax("dax0.0", &mut Trace::new()).unwrap();
        assert!(text(&m.tree).contains(devdax), "{}", text(&m.tree));
        assert_eq!(m.blocks.range(34, 37).count(), 0);
        m.remove_dax_device("dax0.0", &mut Trace::new()).unwrap();
        assert!(text(&m.tree).contains("  110000000-1109fffff : namespace0.0\n130000000"));
    }

    #[test]
    fn discovered_from_the_boot_tree() {
        let t = crate::testutil::build(&[
            (
                0,
                0x110000000,
                0x12fffffff,
                "Persistent Memory (legacy)",
                IORESOURCE_MEM,
                Desc::PersistentMemoryLegacy,
            ),
            (
                1,
                0x118000000,
                0x12fffffff,
                "dax0.0",
                IORESOURCE_SYSTEM_RAM,
                Desc::PersistentMemoryLegacy,
            ),
            (
                2,
                0x118000000,
                0x12fffffff,
                "System RAM (kmem)",
                RAM | IORESOURCE_SYSRAM_DRIVER_MANAGED,
                Desc::PersistentMemoryLegacy,
            ),
        ]);
        let m = Machine::boot(t, Config::default());
        let d = m.dax.get("dax0.0").unwrap();
        assert_eq!(
            (d.driver, d.kmem_ranges.clone()),
            (DaxDriver::Kmem, vec![(0x118000000, 0x12fffffff)])
        );
        assert!(
            is_dax_name(b"dax12.3")
                && !is_dax_name(b"dax0")
                && !is_dax_name(b"dax.0")
                && !is_dax_name(b"dax0.0x")
        );
    }

    #[test]
    fn failures_change_nothing() {
        // Too small after alignment (v5.10+): -EINVAL; the device_dax claim is back.
        let t = crate::testutil::build(&[(
            0,
            0x110000000,
            0x12fffffff,
            "Persistent Memory (legacy)",
            IORESOURCE_MEM,
            Desc::PersistentMemoryLegacy,
        )]);
        let mut m = Machine::boot(
            t,
            Config {
                version: v("6.1"),
                ..Config::default()
            },
        );
        m.add_dax_device(
            "dax0.0",
            0x110a00000,
            0x117ffffff,
            0,
            true,
            &mut Trace::new(),
        )
        .unwrap();
        let before = text(&m.tree);
        let e = m.dax_kmem("dax0.0", &mut Trace::new()).unwrap_err();
        assert_eq!(e.errno, Errno::EINVAL);
        assert_eq!(
            e.log.as_deref(),
            Some("kmem dax0.0: rejecting DAX region without any memory after alignment")
        );
        assert_eq!(text(&m.tree), before);
        assert_eq!(m.dax.get("dax0.0").unwrap().driver, DaxDriver::DeviceDax);
        assert_eq!(
            m.dax_devdax("dax0.0", &mut Trace::new()).unwrap_err().errno,
            Errno::EINVAL
        );
        assert_eq!(
            m.dax_kmem("dax9.9", &mut Trace::new()).unwrap_err().errno,
            Errno::ENODEV
        );
    }

    #[test]
    fn string_get_size_three_significant_digits() {
        assert_eq!(string_get_size_2(122 << 20), "122 MiB");
        assert_eq!(string_get_size_2(62 << 20), "62.0 MiB");
        assert_eq!(string_get_size_2(3 << 29), "1.50 GiB");
        assert_eq!(string_get_size_2(512), "512 B");
    }
}
