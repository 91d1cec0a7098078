//! The QEMU monitor (HMP) commands that plug and unplug memory: `object_add
//! memory-backend-ram,id=ID,size=SIZE`, `object_del ID`, `device_add pc-dimm,id=ID,memdev=ID
//! [,addr=A][,slot=N][,node=N]`, `device_del ID`, `info memory-devices` — as typed at the
//! `(qemu)` prompt of the captures (QEMU 7.2: hw/mem/pc-dimm.c, hw/mem/memory-device.c,
//! hw/i386/pc.c, qom/object_interfaces.c, monitor/hmp-cmds.c).
//!
//! QEMU's side, as QEMU decides it:
//! * The device-memory region starts at `ROUND_UP(4 GiB + above_4g_mem_size, 1 GiB)`
//!   (`pc_memory_init`); the 64-bit PCI window is placed at the 1 GiB boundary after it
//!   (`pc_pci_hole64_start`). The guest shows both: the region is taken to run from there to
//!   the first `PCI Bus` window above it. No room between them means the machine was started
//!   without `maxmem` ("memory devices … are not enabled").
//! * An address is the lowest free one in the region, aligned to the backend's alignment
//!   (`memory_device_get_free_addr`; an anonymous RAM backend is aligned to
//!   `QEMU_VMALLOC_ALIGN`, 2 MiB on an x86_64 host), or the `addr=` asked, which must be
//!   aligned, inside the region and clear of every other DIMM. The slot is the lowest free one
//!   (`pc_dimm_get_free_slot`); the number of slots is QEMU's `-m slots=N`, which the guest does
//!   not see, so it is not bounded here.
//! * `pc_dimm_realize`: the backend must exist and not be mapped by another DIMM; `node` must
//!   be one of the machine's NUMA nodes (`--numa-node`; node 0 without any).
//!
//! The guest's side is [`crate::kernel::acpi_memhotplug`]. As on the real monitor, `device_add`
//! and `device_del` print nothing and succeed once QEMU accepts them; what the guest kernel
//! refuses (a DIMM not a multiple of the memory block size, a block that will not go offline)
//! shows in the kernel's log lines and in what stays behind.

use super::{ToolParseError, ToolRun, tool_error};
use crate::kernel::acpi_memhotplug::MemoryDevice;
use crate::kernel::machine::Machine;
use crate::kernel::{Errno, Trace};
use crate::tree::Tree;
use std::fmt;

/// `QEMU_VMALLOC_ALIGN` on an x86_64 Linux host (`512 * 4096`): the alignment of an anonymous
/// RAM backend's memory region, hence of a DIMM's address and size.
pub const DIMM_ALIGN: u64 = 2 << 20;
const GIB: u64 = 1 << 30;
const FOUR_GIB: u64 = 1 << 32;

/// Backend types that give a pc-dimm its memory.
const BACKENDS: &[&str] = &[
    "memory-backend-ram",
    "memory-backend-file",
    "memory-backend-memfd",
];

/// One parsed monitor line.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub enum Hmp {
    ObjectAdd {
        qom_type: String,
        id: String,
        size: u64,
        /// As typed (the size and every other property), for printing the line back.
        opts: String,
    },
    ObjectDel {
        id: String,
    },
    DeviceAdd {
        id: Option<String>,
        memdev: Option<String>,
        addr: Option<u64>,
        slot: Option<u32>,
        node: u32,
        opts: String,
    },
    DeviceDel {
        id: String,
    },
    InfoMemoryDevices,
}

/// QEMU's option string (`key=value,key=value`, `,,` for a comma in a value); a first item
/// without `=` is the implied key's value (`pc-dimm`, `memory-backend-ram`).
fn qemu_opts(s: &str, implied: &str) -> Result<Vec<(String, String)>, ToolParseError> {
    let mut items = Vec::new();
    let mut cur = String::new();
    let mut chars = s.chars().peekable();
    while let Some(c) = chars.next() {
        if c == ',' {
            if chars.peek() == Some(&',') {
                chars.next();
                cur.push(',');
            } else {
                items.push(std::mem::take(&mut cur));
            }
        } else {
            cur.push(c);
        }
    }
    items.push(cur);
    let mut out = Vec::new();
    for (i, it) in items.into_iter().enumerate() {
        match it.split_once('=') {
            Some((k, v)) => out.push((k.to_string(), v.to_string())),
            None if i == 0 && !it.is_empty() => out.push((implied.to_string(), it)),
            None => {
                return Err(ToolParseError(format!("Error: Invalid parameter '{it}'")));
            }
        }
    }
    Ok(out)
}

/// `qemu_strtosz` (util/cutils.c): a decimal number, possibly with a fraction, or a `0x` hex
/// integer, then an optional suffix B, K, M, G, T, P or E (either case; bytes without one).
pub fn qemu_strtosz(s: &str) -> Option<u64> {
    let t = s.trim();
    let (num, shift) = match t.chars().last()? {
        'b' | 'B' => (&t[..t.len() - 1], 0),
        'k' | 'K' => (&t[..t.len() - 1], 10),
        'm' | 'M' => (&t[..t.len() - 1], 20),
        'g' | 'G' => (&t[..t.len() - 1], 30),
        't' | 'T' => (&t[..t.len() - 1], 40),
        'p' | 'P' => (&t[..t.len() - 1], 50),
        'e' | 'E' => (&t[..t.len() - 1], 60),
        _ => (t, 0),
    };
    if let Some(h) = num.strip_prefix("0x").or_else(|| num.strip_prefix("0X")) {
        return u64::from_str_radix(h, 16).ok()?.checked_mul(1u64 << shift);
    }
    if num.is_empty() || !num.bytes().all(|b| b.is_ascii_digit() || b == b'.') {
        return None;
    }
    match num.split_once('.') {
        None => num.parse::<u64>().ok()?.checked_mul(1u64 << shift),
        Some((int, frac)) => {
            // "1.5G": the fraction of the unit, truncated to whole bytes as QEMU does.
            let whole = if int.is_empty() {
                0
            } else {
                int.parse::<u64>().ok()?
            };
            let unit = 1u128 << shift;
            let scale = 10u128.checked_pow(u32::try_from(frac.len()).ok()?)?;
            let f: u128 = if frac.is_empty() {
                0
            } else {
                frac.parse().ok()?
            };
            let v = u128::from(whole) * unit + f * unit / scale;
            u64::try_from(v).ok()
        }
    }
}

/// `qemu_strtou64(…, 0, …)` as a uint64 property reads it: base 0, as the kernel's
/// `kstrtoull(…, 0, …)` ([`super::strtou64_base0`]).
fn parse_u64(s: &str) -> Option<u64> {
    super::strtou64_base0(s)
}

fn one_word<'a>(argv: &'a [String], what: &str) -> Result<&'a str, ToolParseError> {
    match argv {
        [_, w] => Ok(w.as_str()),
        [cmd] => Err(ToolParseError(format!(
            "{cmd}: expected {what}, as typed at the (qemu) prompt"
        ))),
        [cmd, _, extra, ..] => Err(ToolParseError(format!(
            "{cmd}: unexpected {extra:?}: QEMU takes {what} as one word (no spaces)"
        ))),
        [] => Err(ToolParseError("missing monitor command".into())),
    }
}

pub fn parse(argv: &[String]) -> Result<Hmp, ToolParseError> {
    match argv.first().map(String::as_str) {
        Some("object_add") => {
            let opts = one_word(argv, "TYPE,id=ID,size=SIZE")?;
            let kv = qemu_opts(opts, "qom-type")?;
            let get = |k: &str| kv.iter().find(|(key, _)| key == k).map(|(_, v)| v.clone());
            let Some(qom_type) = get("qom-type") else {
                return Err(ToolParseError(
                    "Error: Parameter 'qom-type' is missing".into(),
                ));
            };
            if !BACKENDS.contains(&qom_type.as_str()) {
                return Err(ToolParseError(format!(
                    "Error: invalid object type: {qom_type} (the simulator models the memory backends: {})",
                    BACKENDS.join(", ")
                )));
            }
            let Some(id) = get("id") else {
                return Err(ToolParseError("Error: Parameter 'id' is missing".into()));
            };
            let size = match get("size") {
                None => 0,
                Some(s) => qemu_strtosz(&s).ok_or_else(|| {
                    ToolParseError(format!(
                        "Error: Parameter 'size' expects a non-negative integer below 2^64 (a size like 256M, 1G or 0x10000000), not {s:?}"
                    ))
                })?,
            };
            Ok(Hmp::ObjectAdd {
                qom_type,
                id,
                size,
                opts: opts.to_string(),
            })
        }
        Some("object_del") => Ok(Hmp::ObjectDel {
            id: one_word(argv, "ID")?.to_string(),
        }),
        Some("device_add") => {
            let opts = one_word(argv, "pc-dimm,id=ID,memdev=ID[,addr=A][,slot=N][,node=N]")?;
            let kv = qemu_opts(opts, "driver")?;
            let mut driver = None;
            let (mut id, mut memdev, mut addr, mut slot, mut node) = (None, None, None, None, 0);
            for (k, v) in &kv {
                let bad = |what: &str| {
                    ToolParseError(format!("Error: Parameter '{k}' expects {what}, not {v:?}"))
                };
                match k.as_str() {
                    "driver" => driver = Some(v.clone()),
                    "id" => id = Some(v.clone()),
                    "memdev" => memdev = Some(v.clone()),
                    "addr" => addr = Some(parse_u64(v).ok_or_else(|| bad("uint64"))?),
                    "slot" => {
                        slot = Some(
                            parse_u64(v)
                                .and_then(|n| u32::try_from(n).ok())
                                .ok_or_else(|| bad("int32"))?,
                        )
                    }
                    "node" => {
                        node = parse_u64(v)
                            .and_then(|n| u32::try_from(n).ok())
                            .ok_or_else(|| bad("uint32"))?
                    }
                    other => {
                        return Err(ToolParseError(format!(
                            "Error: Property 'pc-dimm.{other}' not found"
                        )));
                    }
                }
            }
            match driver.as_deref() {
                Some("pc-dimm") => {}
                Some(d) => {
                    return Err(ToolParseError(format!(
                        "device_add {d}: only pc-dimm is modelled (ACPI memory hotplug)"
                    )));
                }
                None => {
                    return Err(ToolParseError(
                        "Error: Parameter 'driver' is missing".into(),
                    ));
                }
            }
            Ok(Hmp::DeviceAdd {
                id,
                memdev,
                addr,
                slot,
                node,
                opts: opts.to_string(),
            })
        }
        Some("device_del") => Ok(Hmp::DeviceDel {
            id: one_word(argv, "ID")?.to_string(),
        }),
        Some("info") => match argv.get(1).map(String::as_str) {
            Some("memory-devices") if argv.len() == 2 => Ok(Hmp::InfoMemoryDevices),
            _ => Err(ToolParseError(
                "info: the simulator answers `info memory-devices`".into(),
            )),
        },
        _ => Err(ToolParseError("not a modelled monitor command".into())),
    }
}

impl Hmp {
    pub fn is_query(&self) -> bool {
        matches!(self, Hmp::InfoMemoryDevices)
    }
}

impl fmt::Display for Hmp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // The word after the command is one shell word, quoted back if it needs it.
        let (cmd, word) = match self {
            Hmp::ObjectAdd { opts, .. } => ("object_add", opts),
            Hmp::ObjectDel { id } => ("object_del", id),
            Hmp::DeviceAdd { opts, .. } => ("device_add", opts),
            Hmp::DeviceDel { id } => ("device_del", id),
            Hmp::InfoMemoryDevices => return write!(f, "info memory-devices"),
        };
        write!(f, "{cmd} {}", super::positional(word))
    }
}

/// The device-memory region `[base, end)` as the guest's tree shows it (see the module doc),
/// or `None` when there is no room for it.
pub fn device_memory(m: &Machine) -> Option<(u64, u64)> {
    let above_4g_end = m
        .boot_ram_end
        .filter(|&e| e >= FOUR_GIB)
        .map_or(FOUR_GIB, |e| e.saturating_add(1));
    let base = above_4g_end.div_ceil(GIB).saturating_mul(GIB);
    let root_end = m.tree.get(Tree::ROOT).end;
    let end = m
        .tree
        .children(Tree::ROOT)
        .find(|&c| m.tree.get(c).start >= base && m.tree.name_of(c).starts_with(b"PCI Bus"))
        .map_or(root_end.saturating_add(1), |c| m.tree.get(c).start);
    (base < end).then_some((base, end))
}

fn refuse(r: &mut ToolRun, words: String) {
    r.error = Some(tool_error(Errno::EINVAL, "qemu", format!("Error: {words}")));
}

pub fn run(m: &mut Machine, c: &Hmp, trace: &mut Trace) -> ToolRun {
    let mut r = ToolRun::default();
    match c {
        Hmp::ObjectAdd { id, size, .. } => {
            // user_creatable_add_type: the id is a child of /objects.
            if m.memory_devices.backends.contains_key(id) {
                refuse(
                    &mut r,
                    format!(
                        "attempt to add duplicate property '{id}' to object (type 'container')"
                    ),
                );
            } else if *size == 0 {
                // host_memory_backend_memory_complete
                refuse(&mut r, "can't create backend with size 0".into());
            } else {
                trace.step(0, "object_add", format!("backend {id}, {size:#x} bytes"));
                m.memory_devices.backends.insert(id.clone(), *size);
            }
        }
        Hmp::ObjectDel { id } => {
            if !m.memory_devices.backends.contains_key(id) {
                refuse(&mut r, format!("object '{id}' not found"));
            } else if m.memory_devices.devices.iter().any(|d| &d.memdev == id) {
                // user_creatable_can_be_deleted: a mapped backend cannot go.
                refuse(
                    &mut r,
                    format!("object '{id}' is in use, can not be deleted"),
                );
            } else {
                m.memory_devices.backends.remove(id);
            }
        }
        Hmp::DeviceAdd {
            id,
            memdev,
            addr,
            slot,
            node,
            ..
        } => device_add(
            m,
            &mut r,
            id.as_deref(),
            memdev.as_deref(),
            *addr,
            *slot,
            *node,
            trace,
        ),
        Hmp::DeviceDel { id } => {
            if !m.memory_devices.devices.iter().any(|d| &d.id == id) {
                refuse(&mut r, format!("Device '{id}' not found"));
                return r;
            }
            // The eject request goes to the guest; device_del itself returns at once.
            if let Err(e) = m.acpi_memory_device_eject(id, trace) {
                r.left_behind.push(format!(
                    "{id} stays plugged: the guest refused the eject ({}: {})",
                    e.func, e.reason
                ));
                if let Some(l) = e.log
                    && !trace.log.contains(&l)
                {
                    trace.log(l);
                }
            }
        }
        Hmp::InfoMemoryDevices => {
            // qmp_query_memory_devices lists them by address (memory_device_build_list).
            let mut devs: Vec<&MemoryDevice> = m.memory_devices.devices.iter().collect();
            devs.sort_by_key(|d| d.addr);
            let mut s = String::new();
            for d in devs {
                s.push_str(&format!(
                    "Memory device [dimm]: \"{}\"\n  addr: {:#x}\n  slot: {}\n  node: {}\n  size: {}\n  memdev: /objects/{}\n  hotplugged: true\n  hotpluggable: true\n",
                    d.id, d.addr, d.slot, d.node, d.size, d.memdev
                ));
            }
            if !s.is_empty() {
                r.say(s.trim_end());
            }
        }
    }
    r
}

#[allow(clippy::too_many_arguments)]
fn device_add(
    m: &mut Machine,
    r: &mut ToolRun,
    id: Option<&str>,
    memdev: Option<&str>,
    hint: Option<u64>,
    slot: Option<u32>,
    node: u32,
    trace: &mut Trace,
) {
    let devs = &m.memory_devices;
    let id = match id {
        Some(i) if devs.devices.iter().any(|d| d.id == i) => {
            refuse(r, format!("Duplicate device ID '{i}' for device"));
            return;
        }
        Some(i) => i.to_string(),
        // Without an id the device is unnamed; it cannot be named to device_del.
        None => {
            refuse(
                r,
                "device_add pc-dimm without id=: the simulator needs the id to unplug it".into(),
            );
            return;
        }
    };
    let Some(memdev) = memdev else {
        refuse(r, "'memdev' property is not set".into());
        return;
    };
    let Some(&size) = devs.backends.get(memdev) else {
        refuse(r, format!("Device '{memdev}' not found"));
        return;
    };
    let Some((base, end)) = device_memory(m) else {
        refuse(
            r,
            "memory devices (e.g. for memory hotplug) are not enabled, please specify the maxmem option (no room between the RAM above 4 GiB and the 64-bit PCI window in this tree)".into(),
        );
        return;
    };
    // pc_dimm_get_free_slot
    let slot = match slot {
        Some(s) if devs.devices.iter().any(|d| d.slot == s) => {
            refuse(r, format!("slot {s} is busy"));
            return;
        }
        Some(s) => s,
        None => (0..)
            .find(|s| devs.devices.iter().all(|d| d.slot != *s))
            .unwrap_or(0),
    };
    // memory_device_get_free_addr
    if hint.is_some_and(|h| h % DIMM_ALIGN != 0) {
        refuse(
            r,
            format!("address must be aligned to {DIMM_ALIGN:#x} bytes"),
        );
        return;
    }
    if size % DIMM_ALIGN != 0 {
        refuse(
            r,
            format!("backend memory size must be multiple of {DIMM_ALIGN:#x}"),
        );
        return;
    }
    // memory_device_check_addable: the region's size stands for QEMU's maxmem - ram, which
    // the guest cannot see (the region also holds QEMU's 1 GiB a slot of alignment room).
    let used: u64 = devs.devices.iter().map(|d| d.size).sum();
    if used.checked_add(size).is_none_or(|t| t > end - base) {
        refuse(
            r,
            format!(
                "not enough space, currently {used:#x} in use of total space for memory devices {:#x}",
                end - base
            ),
        );
        return;
    }
    let mut taken: Vec<(u64, u64, &str)> = devs
        .devices
        .iter()
        .map(|d| (d.addr, d.addr + d.size - 1, d.id.as_str()))
        .collect();
    taken.sort();
    let mut new_lo = hint.unwrap_or(base);
    let fits = |lo: u64| lo >= base && lo.checked_add(size).is_some_and(|e| e <= end);
    if let Some(h) = hint
        && !fits(h)
    {
        refuse(
            r,
            format!(
                "can't add memory device [{h:#x}:{:#x}], usable range for memory devices [{base:#x}:{:#x}]",
                h.wrapping_add(size).wrapping_sub(1),
                end - 1
            ),
        );
        return;
    }
    for (lo, hi, other) in &taken {
        let new_hi = new_lo + size - 1;
        if *lo <= new_hi && new_lo <= *hi {
            if hint.is_some() {
                refuse(
                    r,
                    format!("address range conflicts with memory device id='{other}'"),
                );
                return;
            }
            new_lo = (hi + 1).div_ceil(DIMM_ALIGN) * DIMM_ALIGN;
        } else if *lo > new_hi {
            break;
        }
    }
    if !fits(new_lo) {
        refuse(
            r,
            "could not find position in guest address space for memory device - memory fragmented due to alignments".into(),
        );
        return;
    }
    // pc_dimm_realize
    if devs.devices.iter().any(|d| d.memdev == memdev) {
        refuse(r, format!("can't use already busy memdev: {memdev}"));
        return;
    }
    let mut nids: Vec<i32> = m.config.numa_nodes.iter().map(|n| n.nid).collect();
    nids.sort_unstable();
    nids.dedup();
    let nodes = nids.len().max(1);
    if node as usize >= nodes {
        refuse(
            r,
            format!(
                "'DIMM property node has value {node}' which exceeds the number of numa nodes: {nodes}"
            ),
        );
        return;
    }
    trace.step(
        0,
        "pc_dimm_plug",
        format!(
            "{id}: [{new_lo:#x}-{:#x}] slot {slot} node {node}",
            new_lo + size - 1
        ),
    );
    let dev = MemoryDevice {
        id: id.clone(),
        memdev: memdev.to_string(),
        addr: new_lo,
        size,
        slot,
        node,
        instance: m.memory_devices.next_instance(),
        enabled: false,
    };
    if let Err(e) = m.acpi_memory_device_add(dev, trace) {
        r.left_behind.push(format!(
            "{id} is plugged (info memory-devices lists it), but the guest added none of its memory ({}: {})",
            e.func, e.reason
        ));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// util/cutils.c `qemu_strtosz`: suffixes B K M G T P E in either case, bytes without one,
    /// a decimal fraction of the unit, `0x` hex; nothing else.
    #[test]
    fn sizes_as_qemu_strtosz_reads_them() {
        for (s, want) in [
            ("256M", Some(256 << 20)),
            ("256m", Some(256 << 20)),
            ("1G", Some(1 << 30)),
            ("1.5G", Some(3 << 29)),
            ("0.5k", Some(512)),
            ("4096", Some(4096)),
            ("4096B", Some(4096)),
            ("0x10000000", Some(0x1000_0000)),
            ("2T", Some(2 << 40)),
            ("16E", None),
            ("-1", None),
            ("M", None),
            ("1.2.3M", None),
            ("lots", None),
        ] {
            assert_eq!(qemu_strtosz(s), want, "{s}");
        }
    }

    /// QemuOpts: `,,` is a comma inside a value; the first item may omit its key.
    #[test]
    fn options_as_qemu_opts_splits_them() {
        let kv = qemu_opts(
            "memory-backend-file,id=m1,mem-path=/a,,b,size=1G",
            "qom-type",
        )
        .unwrap();
        let want: Vec<(String, String)> = [
            ("qom-type", "memory-backend-file"),
            ("id", "m1"),
            ("mem-path", "/a,b"),
            ("size", "1G"),
        ]
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
        assert_eq!(kv, want);
        assert!(qemu_opts("pc-dimm,id=d,oops", "driver").is_err());
    }

    /// `addr=` is a uint64 property: decimal, `0x` hex, or octal after a leading 0
    /// (`qemu_strtou64(…, 0, …)`).
    #[test]
    fn addresses_as_a_uint64_property_reads_them() {
        assert_eq!(parse_u64("0x180000000"), Some(0x1_8000_0000));
        assert_eq!(parse_u64("6442450944"), Some(0x1_8000_0000));
        assert_eq!(parse_u64("010"), Some(8));
        assert_eq!(parse_u64("0"), Some(0));
        assert_eq!(parse_u64("0x"), None);
    }

    fn argv(s: &str) -> Vec<String> {
        s.split(' ').map(String::from).collect()
    }

    #[test]
    fn monitor_lines_parse_and_print_back() {
        for l in [
            "object_add memory-backend-ram,id=mem1,size=256M",
            "object_del mem1",
            "device_add pc-dimm,id=dimm2,memdev=mem2,addr=0x180000000",
            "device_add driver=pc-dimm,id=d,memdev=m,node=0,slot=3",
            "device_del dimm1",
            "info memory-devices",
        ] {
            let h = parse(&argv(l)).unwrap_or_else(|e| panic!("{l}: {e}"));
            assert_eq!(h.to_string(), l);
        }
        for (l, words) in [
            ("device_add virtio-mem-pci,id=v", "only pc-dimm is modelled"),
            (
                "device_add pc-dimm,id=d,memdev=m,size=1G",
                "Property 'pc-dimm.size' not found",
            ),
            (
                "object_add memory-backend-ram,size=1G",
                "Parameter 'id' is missing",
            ),
            ("object_add secret,id=s", "invalid object type: secret"),
            (
                "object_add memory-backend-ram,id=m,size=1Q",
                "Parameter 'size' expects",
            ),
            (
                "device_add pc-dimm,id=d,memdev=m,addr=x",
                "Parameter 'addr' expects uint64",
            ),
            ("info mtree", "info memory-devices"),
            ("device_del", "expected ID"),
        ] {
            let e = parse(&argv(l)).unwrap_err();
            assert!(e.0.contains(words), "{l}: {}", e.0);
        }
    }
}
