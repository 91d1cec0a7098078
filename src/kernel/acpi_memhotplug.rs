//! ACPI memory devices (`PNP0C80`): what the guest kernel does when the platform plugs or
//! ejects one (drivers/acpi/acpi_memhotplug.c, drivers/acpi/scan.c, read in
//! linux-source-6.1 6.1.172; the same in 5.10 and 6.12 for what is modelled here).
//!
//! * Plug: the ACPI hotplug notification scans the new device; `acpi_memory_device_add` →
//!   `acpi_memory_enable_device`: the node is `acpi_get_node(handle)` (the device's `_PXM`),
//!   a static memory group is registered for the whole device (v5.16+), then `__add_memory`
//!   of its range. When no range could be added: `dev_err(…, "add_memory failed\n")`, then
//!   `acpi_memory_device_add`'s `dev_err(…, "acpi_memory_enable_device() error\n")`; the
//!   device object stays, without the handler. (-EEXIST counts as added.)
//! * Eject: `acpi_scan_hot_remove` → `acpi_scan_try_to_offline`: every memory block of the
//!   device is offlined (`acpi_bus_offline` → `device_offline`; an offline block is skipped).
//!   When one refuses, `dev_warn(errdev, "Offline failed.\n")`, the blocks are onlined again
//!   (`acpi_bus_online`, each back in the zone it had) and the eject fails with -EBUSY:
//!   the platform keeps the device. Otherwise `acpi_bus_trim` → `acpi_memory_device_remove` →
//!   `acpi_memory_remove_memory`: `__remove_memory` of each range that was added
//!   (`info->enabled`), nothing for a range that never was; then `_EJ0`.
//!
//! The platform side (which address and slot a DIMM gets, its backend) is QEMU's and lives in
//! [`crate::tools::qemu`]; the machine keeps its state here so that steps undo it.

use super::machine::{AddOptions, Machine};
use super::memory::BlockState;
use super::{Errno, KResult, KernelError, Trace};
use std::collections::BTreeMap;

/// One memory device the platform has plugged: a QEMU `pc-dimm` and its ACPI device.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct MemoryDevice {
    /// The platform's id (`device_add pc-dimm,id=dimm1`).
    pub id: String,
    /// The backend it maps (`memdev=mem1`).
    pub memdev: String,
    pub addr: u64,
    pub size: u64,
    pub slot: u32,
    /// `_PXM`: the node `acpi_get_node` returns.
    pub node: u32,
    /// `PNP0C80:NN`, the instance `acpi_device_set_name` took (`ida_alloc`: the lowest free).
    pub instance: u32,
    /// `acpi_memory_info.enabled`: `__add_memory` took the range.
    pub enabled: bool,
}

/// The platform's memory devices and their backends (host objects, `object_add`).
#[derive(Clone, Debug, Default, PartialEq, Eq, serde::Serialize)]
pub struct MemoryDevices {
    /// Backend id → size in bytes.
    pub backends: BTreeMap<String, u64>,
    /// In plug order.
    pub devices: Vec<MemoryDevice>,
}

impl MemoryDevices {
    /// The instance number `acpi_device_set_name` gives the next `PNP0C80` device: the lowest
    /// one no present device holds (`ida_alloc` on the HID's instance ida).
    pub fn next_instance(&self) -> u32 {
        (0..)
            .find(|i| self.devices.iter().all(|d| d.instance != *i))
            .unwrap_or(0)
    }
}

/// `acpi PNP0C80:NN`: how `dev_err`/`dev_warn` name the ACPI device.
fn acpi_dev(instance: u32) -> String {
    format!("acpi PNP0C80:{instance:02x}")
}

impl Machine {
    /// The platform plugged `dev` (its `instance` already chosen): `acpi_memory_device_add`.
    /// The device is kept whatever the kernel did with it; `Err` is the kernel's refusal of
    /// its memory, with "add_memory failed" and "acpi_memory_enable_device() error" logged.
    pub fn acpi_memory_device_add(
        &mut self,
        mut dev: MemoryDevice,
        trace: &mut Trace,
    ) -> KResult<()> {
        trace.step(
            0,
            "acpi_memory_device_add",
            format!(
                "{}: node {} [{:#x}-{:#x}]",
                acpi_dev(dev.instance),
                dev.node,
                dev.addr,
                dev.addr + dev.size - 1
            ),
        );
        let mut sub = Trace::new();
        let node = dev.node as i32;
        let r = self.add_memory(node, dev.addr, dev.size, &AddOptions::default(), &mut sub);
        trace.nest_steps(&mut sub, 1);
        for l in sub.log.drain(..) {
            trace.log(l);
        }
        let outcome = match r {
            // "If the memory block has been used by the kernel, add_memory() returns -EEXIST":
            // counted as enabled.
            Ok(()) => {
                dev.enabled = true;
                let (first, last) = self.block_ids(dev.addr, dev.size);
                self.register_static_group(node, first, last);
                Ok(())
            }
            Err(e) if e.errno == Errno::EEXIST => {
                dev.enabled = true;
                Ok(())
            }
            Err(mut e) => {
                let who = acpi_dev(dev.instance);
                trace.log(format!("{who}: add_memory failed"));
                trace.log(format!("{who}: acpi_memory_enable_device() error"));
                e.log = None;
                Err(e)
            }
        };
        self.memory_devices.devices.push(dev);
        outcome
    }

    /// The platform asks to eject its device `id`: `acpi_scan_hot_remove`. On `Err` nothing
    /// changed (the blocks offlined on the way are online again) and the device stays.
    pub fn acpi_memory_device_eject(&mut self, id: &str, trace: &mut Trace) -> KResult<()> {
        let Some(i) = self.memory_devices.devices.iter().position(|d| d.id == id) else {
            return Err(KernelError::new(
                Errno::ENODEV,
                "acpi_scan_hot_remove",
                format!("no memory device {id}"),
            ));
        };
        let dev = self.memory_devices.devices[i].clone();
        let who = acpi_dev(dev.instance);
        trace.step(0, "acpi_scan_hot_remove", format!("{who} ({id})"));
        if dev.enabled {
            // acpi_scan_try_to_offline: the device's memory blocks, lowest first.
            let saved = self.clone();
            let bs = self.config.block_size;
            let (first, last) = self.block_ids(dev.addr, dev.size);
            let online: Vec<u64> = self
                .blocks
                .range(first, last)
                .filter(|b| b.state != BlockState::Offline)
                .map(|b| b.id)
                .collect();
            for b in online {
                trace.step(1, "acpi_bus_offline", format!("device_offline(memory{b})"));
                if let Err(mut e) = self.offline_memory(b * bs, bs, trace) {
                    let logs = trace.log.clone();
                    *self = saved;
                    trace.log = logs;
                    let l = format!("memory memory{b}: Offline failed.");
                    trace.log(l.clone());
                    trace.step(
                        1,
                        "acpi_scan_try_to_offline",
                        "a block refused: the others are onlined again, the eject fails (-EBUSY)",
                    );
                    e.errno = Errno::EBUSY;
                    e.func = "acpi_scan_try_to_offline";
                    e.reason = format!("{who}: memory{b} cannot go offline: {}", e.reason);
                    e.log = Some(l);
                    return Err(e);
                }
            }
            // acpi_memory_remove_memory: __remove_memory of the range that was added.
            if let Err(e) = self.remove_memory(dev.addr, dev.size, trace) {
                let logs = trace.log.clone();
                *self = saved;
                trace.log = logs;
                return Err(e);
            }
        } else {
            trace.step(
                1,
                "acpi_memory_remove_memory",
                "its range was never added (info->enabled == 0): nothing to remove",
            );
        }
        self.memory_devices.devices.remove(i);
        self.drop_groups_without_blocks();
        Ok(())
    }
}
