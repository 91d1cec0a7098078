//! `echo WORD > /sys/…`: the sysfs writes users type.
//!
//! * `/sys/bus/dax/drivers/{device_dax,kmem}/{bind,unbind,new_id,remove_id}`
//!   (drivers/base/bus.c `bind_store`/`unbind_store`, drivers/dax/bus.c `do_id_store`):
//!   - `unbind`: `if (dev && dev->driver == drv) { device_driver_detach(dev); err = count; }`,
//!     else -ENODEV.
//!   - `bind`: `if (dev && driver_match_device(drv, dev)) err = device_driver_attach(drv, dev)`
//!     (-EBUSY when bound, `__driver_probe_device`: `if (dev->driver) return -EBUSY;`), else
//!     -ENODEV. kmem matches only ids in its list (`dax_match_id`); device_dax matches static
//!     (pmem) dax regions always (`match_always` in 5.10/6.1, `dax_match_type` in 6.12).
//!   - `new_id`: adds the id, then `rc = driver_attach(drv)`: a failing probe is only logged
//!     (`__driver_attach` ignores it), so the write succeeds even when kmem refuses.
//!   - `remove_id`: drops the id.
//! * `/sys/devices/system/memory/memoryN/state` (`state_store`): `online`, `online_kernel`,
//!   `online_movable`, `offline`.
//! * `/sys/devices/system/memory/memoryN/online` (drivers/base/core.c `online_store`):
//!   `strtobool(buf, &val)` (lib/kstrtox.c `kstrtobool`: the first character `y`/`Y`/`1`, from
//!   6.1 also `t`/`T`, is true; `n`/`N`/`0`, from 6.1 also `f`/`F`, false; `on`/`of…` by the
//!   second; anything else -EINVAL), then `val ? device_online(dev) : device_offline(dev)` and
//!   `return ret < 0 ? ret : count;`: a block already in that state is no error (device_online
//!   returns 1), unlike `state`, where `if (ret > 0) ret = -EINVAL;`. Onlining takes
//!   `memory_subsys_online`'s default, MMOP_ONLINE (`if (mem->online_type == MMOP_OFFLINE)
//!   mem->online_type = MMOP_ONLINE;`).
//! * `/sys/devices/system/memory/probe` (`probe_store`, CONFIG_ARCH_MEMORY_PROBE): the address
//!   must be block aligned (`if (phys_addr & ((pages_per_block << PAGE_SHIFT) - 1)) return
//!   -EINVAL;`), then `__add_memory(memory_add_physaddr_to_nid(phys_addr), phys_addr,
//!   MIN_MEMORY_BLOCK_SIZE * sections_per_block, MHP_NONE)`: one block.
//! * `/sys/devices/system/memory/auto_online_blocks`: the onlining policy.

use super::{ToolParseError, ToolRun, strerror, tool_error};
use crate::kernel::dax::DaxDriver;
use crate::kernel::machine::{AddOptions, Machine};
use crate::kernel::memory::OnlineType;
use crate::kernel::{Errno, KernelError, Trace};
use std::fmt;

/// Which file.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub enum Target {
    /// `/sys/bus/dax/drivers/<driver>/<op>`.
    DaxDriver { driver: String, op: String },
    /// `/sys/devices/system/memory/memoryN/state`.
    MemoryState(u64),
    /// `/sys/devices/system/memory/memoryN/online`.
    MemoryOnline(u64),
    /// `/sys/devices/system/memory/probe`.
    Probe,
    /// `/sys/devices/system/memory/auto_online_blocks`.
    AutoOnline,
}

/// A parsed `echo WORD > PATH`.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct SysfsWrite {
    pub word: String,
    pub path: String,
    pub target: Target,
}

fn target_of(path: &str) -> Option<Target> {
    let p = path.trim_end_matches('/');
    if let Some(rest) = p.strip_prefix("/sys/bus/dax/drivers/") {
        let (driver, op) = rest.split_once('/')?;
        let driver = driver.replace('-', "_");
        if !matches!(driver.as_str(), "device_dax" | "kmem") {
            return None;
        }
        if !matches!(op, "bind" | "unbind" | "new_id" | "remove_id") {
            return None;
        }
        return Some(Target::DaxDriver {
            driver,
            op: op.to_string(),
        });
    }
    let mem = p
        .strip_prefix("/sys/devices/system/memory/")
        .or_else(|| p.strip_prefix("/sys/bus/memory/devices/"))?;
    match mem {
        "probe" => Some(Target::Probe),
        "auto_online_blocks" => Some(Target::AutoOnline),
        _ => {
            let (blk, file) = mem.split_once('/')?;
            let n = blk.strip_prefix("memory")?.parse().ok()?;
            match file {
                "state" => Some(Target::MemoryState(n)),
                "online" => Some(Target::MemoryOnline(n)),
                _ => None,
            }
        }
    }
}

pub fn parse(argv: &[String]) -> Result<SysfsWrite, ToolParseError> {
    let mut w: Vec<&str> = argv.iter().skip(1).map(String::as_str).collect();
    if w.first() == Some(&"-n") {
        w.remove(0);
    }
    // `echo WORD > PATH` or `echo WORD >PATH`.
    let (word, path) = match w.as_slice() {
        [word, ">", path] => (*word, *path),
        [word, p] if p.starts_with('>') && p.len() > 1 => (*word, &p[1..]),
        _ => {
            return Err(ToolParseError(
                "expected `echo WORD > /sys/…` (quote it on a shell command line: -e 'echo dax0.0 > /sys/bus/dax/drivers/kmem/new_id')".into(),
            ));
        }
    };
    let target = target_of(path).ok_or_else(|| {
        ToolParseError(format!(
            "{path}: not a modelled sysfs file (/sys/bus/dax/drivers/{{device_dax,kmem}}/{{bind,unbind,new_id,remove_id}}, /sys/devices/system/memory/memoryN/{{state,online}}, …/memory/probe, …/memory/auto_online_blocks)"
        ))
    })?;
    match &target {
        Target::MemoryState(_) | Target::AutoOnline => {
            word.parse::<OnlineType>()
                .map_err(|e| ToolParseError(format!("echo {word} > {path}: {e}")))?;
        }
        Target::Probe => {
            parse_probe_addr(word).ok_or_else(|| {
                ToolParseError(format!(
                    "echo {word} > {path}: expected a physical address like 0x140000000"
                ))
            })?;
        }
        // kstrtobool's answer depends on the kernel version: decided when it runs.
        Target::MemoryOnline(_) | Target::DaxDriver { .. } => {}
    }
    Ok(SysfsWrite {
        word: word.to_string(),
        path: path.to_string(),
        target,
    })
}

/// `kstrtoull(buf, 0, &phys_addr)`: decimal, or hex with 0x, or octal with 0.
fn parse_probe_addr(s: &str) -> Option<u64> {
    super::strtou64_base0(s)
}

impl fmt::Display for SysfsWrite {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "echo {} > {}", self.word, self.path)
    }
}

fn err(r: &mut ToolRun, c: &SysfsWrite, e: KernelError) {
    let mut te = tool_error(
        e.errno,
        "sysfs write",
        format!(
            "sh: echo: write error: {}\n  ({}: {})",
            strerror(e.errno),
            e.func,
            e.reason
        ),
    );
    te.log = e.log;
    te.conflict = e.conflict;
    let _ = c;
    r.error = Some(te);
}

pub fn run(m: &mut Machine, c: &SysfsWrite, trace: &mut Trace) -> ToolRun {
    let mut r = ToolRun::default();
    let res: Result<(), KernelError> = match &c.target {
        Target::AutoOnline => {
            if let Ok(t) = c.word.parse() {
                m.config.auto_online = t;
            }
            Ok(())
        }
        Target::MemoryState(n) => {
            let Ok(ty) = c.word.parse::<OnlineType>() else {
                return r;
            };
            if !m.blocks.contains(*n) {
                Err(KernelError::new(
                    Errno::ENOENT,
                    "state_store",
                    format!("no memory{n}"),
                ))
            } else {
                let (s, _) = m.block_range(*n);
                let bs = m.config.block_size;
                m.online_memory(s, bs, ty, trace)
            }
        }
        Target::MemoryOnline(n) => memory_online_store(m, *n, &c.word, trace),
        Target::Probe => {
            let addr = parse_probe_addr(&c.word).unwrap_or(0);
            let bs = m.config.block_size;
            if !addr.is_multiple_of(bs) {
                Err(KernelError::new(
                    Errno::EINVAL,
                    "probe_store",
                    format!("{addr:#x} is not aligned to the memory block size {bs:#x}"),
                ))
            } else {
                // memory_add_physaddr_to_nid: the node holding it, else numa_meminfo.blk[0].nid.
                let nid = m.phys_to_target_node(addr).max(0);
                m.add_memory(nid, addr, bs, &AddOptions::default(), trace)
            }
        }
        Target::DaxDriver { driver, op } => dax_write(m, driver, op, &c.word, trace, &mut r),
    };
    if let Err(e) = res {
        err(&mut r, c, e);
    }
    r
}

/// `kstrtobool(s)` as kernel `v` reads it (lib/kstrtox.c; `t`/`f` from
/// [`KSTRTOBOOL_TRUE_FALSE`](crate::kernel::boundaries::KSTRTOBOOL_TRUE_FALSE)).
pub fn kstrtobool(s: &str, v: crate::kernel::KernelVersion) -> Option<bool> {
    let tf = crate::kernel::boundaries::KSTRTOBOOL_TRUE_FALSE.applies(v);
    let b = s.as_bytes();
    match b.first()? {
        b'y' | b'Y' | b'1' => Some(true),
        b'n' | b'N' | b'0' => Some(false),
        b't' | b'T' if tf => Some(true),
        b'f' | b'F' if tf => Some(false),
        b'o' | b'O' => match b.get(1)? {
            b'n' | b'N' => Some(true),
            b'f' | b'F' => Some(false),
            _ => None,
        },
        _ => None,
    }
}

/// `online_store` on `memoryN/online`.
fn memory_online_store(
    m: &mut Machine,
    n: u64,
    word: &str,
    trace: &mut Trace,
) -> Result<(), KernelError> {
    const F: &str = "online_store";
    let Some(val) = kstrtobool(word, m.config.version) else {
        return Err(KernelError::new(
            Errno::EINVAL,
            F,
            format!("strtobool({word:?}) fails: not y/n/1/0/on/off (t/f from 6.1)"),
        ));
    };
    let Some(b) = m.blocks.get(n) else {
        return Err(KernelError::new(Errno::ENOENT, F, format!("no memory{n}")));
    };
    let online = b.state == crate::kernel::memory::BlockState::Online;
    if online == val {
        trace.step(
            0,
            F,
            format!(
                "memory{n} is already {} → device_{} returns 1 → the write succeeds, nothing changes",
                b.state,
                if val { "online" } else { "offline" }
            ),
        );
        return Ok(());
    }
    let (s, _) = m.block_range(n);
    let bs = m.config.block_size;
    let ty = if val {
        OnlineType::Online
    } else {
        OnlineType::Offline
    };
    m.online_memory(s, bs, ty, trace)
}

fn dax_write(
    m: &mut Machine,
    driver: &str,
    op: &str,
    dev: &str,
    trace: &mut Trace,
    r: &mut ToolRun,
) -> Result<(), KernelError> {
    if !m.module_loaded(driver) {
        return Err(KernelError::new(
            Errno::ENOENT,
            "sysfs",
            format!("/sys/bus/dax/drivers/{driver} does not exist: modprobe {driver} first"),
        ));
    }
    let bound = m.dax.get(dev).map(|d| d.driver);
    match op {
        "unbind" => {
            let want = if driver == "kmem" {
                DaxDriver::Kmem
            } else {
                DaxDriver::DeviceDax
            };
            if bound != Some(want) {
                return Err(KernelError::new(
                    Errno::ENODEV,
                    "unbind_store",
                    format!("{dev} is not bound to {driver}"),
                ));
            }
            if driver == "kmem" {
                m.dax_kmem_unbind(dev, trace)?;
                if let Some(d) = m.dax.get(dev)
                    && !d.kmem_ranges.is_empty()
                {
                    for (s, e) in d.kmem_ranges.clone() {
                        r.left_behind.push(format!(
                            "kmem unbound, but remove_memory failed (memory online): {dev} [{s:#x}-{e:#x}] and its System RAM (kmem) stay until reboot"
                        ));
                    }
                }
                Ok(())
            } else {
                m.dax_unbind_device_dax(dev, trace)
            }
        }
        "bind" => {
            let Some(b) = bound else {
                return Err(KernelError::new(
                    Errno::ENODEV,
                    "bind_store",
                    format!("no dax device {dev}"),
                ));
            };
            let matches = driver == "device_dax" || m.nvdimm.kmem_ids.contains(dev);
            if !matches {
                return Err(KernelError::new(
                    Errno::ENODEV,
                    "bind_store",
                    format!("kmem does not match {dev}: add it with new_id first (dax_match_id)"),
                ));
            }
            if b != DaxDriver::None {
                return Err(KernelError::new(
                    Errno::EBUSY,
                    "__driver_probe_device",
                    format!("{dev} is already bound"),
                ));
            }
            if driver == "kmem" {
                m.dax_kmem(dev, trace)
            } else {
                m.dax_bind_device_dax(dev, trace)
            }
        }
        "new_id" | "remove_id" => {
            // do_id_store: sscanf(buf, "dax%d.%d") and sysfs_streq, else -EINVAL.
            let ok = dev
                .strip_prefix("dax")
                .and_then(|s| s.split_once('.'))
                .is_some_and(|(a, b)| a.parse::<u32>().is_ok() && b.parse::<u32>().is_ok());
            if !ok {
                return Err(KernelError::new(
                    Errno::EINVAL,
                    "do_id_store",
                    format!("{dev:?} is not daxX.Y"),
                ));
            }
            if op == "remove_id" || driver != "kmem" {
                if op == "remove_id" && driver == "kmem" {
                    m.nvdimm.kmem_ids.remove(dev);
                }
                return Ok(());
            }
            m.nvdimm.kmem_ids.insert(dev.to_string());
            // driver_attach: probe the unbound device; a refusal is only logged.
            if bound == Some(DaxDriver::None) {
                let mut sub = Trace::new();
                if let Err(e) = m.dax_kmem(dev, &mut sub) {
                    trace.steps.extend(sub.steps);
                    trace.log.extend(sub.log);
                    trace.step(
                        0,
                        "driver_attach",
                        format!(
                            "kmem probe of {dev} failed ({}): the write still succeeds",
                            e.errno
                        ),
                    );
                    r.left_behind.push(format!(
                        "kmem refused {dev} ({}: {}); new_id succeeds anyway: {dev} stays unbound",
                        e.errno, e.reason
                    ));
                    if let Some(l) = e.log {
                        r.say(format!("kernel: {l}"));
                    }
                } else {
                    trace.steps.extend(sub.steps);
                    trace.log.extend(sub.log);
                }
            }
            Ok(())
        }
        _ => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::kernel::KernelVersion;
    use crate::kernel::machine::Config;
    use crate::kernel::memory::BlockState;
    use crate::testutil::t0;

    fn v(s: &str) -> KernelVersion {
        s.parse().unwrap()
    }

    #[test]
    fn kstrtobool_reads_the_first_characters_as_lib_kstrtox_c() {
        // 5.10.262 lib/kstrtox.c: `case 'y': case 'Y': case '1':` true, `case 'n': case 'N':
        // case '0':` false, `case 'o': case 'O':` then s[1] `n`/`N` true, `f`/`F` false;
        // 6.1.172 adds `case 't': case 'T':` and `case 'f': case 'F':`. Only the first one or
        // two characters count ("yes please" is true).
        for ver in ["5.10", "6.1"] {
            for (s, want) in [
                ("1", Some(true)),
                ("y", Some(true)),
                ("Yes please", Some(true)),
                ("0", Some(false)),
                ("N", Some(false)),
                ("on", Some(true)),
                ("ON", Some(true)),
                ("off", Some(false)),
                ("oF", Some(false)),
                ("o", None),
                ("ox", None),
                ("", None),
                ("2", None),
                ("online", Some(true)),
            ] {
                assert_eq!(kstrtobool(s, v(ver)), want, "{ver} {s:?}");
            }
        }
        for (s, want) in [("true", true), ("T", true), ("false", false), ("F", false)] {
            assert_eq!(kstrtobool(s, v("5.10")), None, "5.10 {s:?}");
            assert_eq!(kstrtobool(s, v("6.1")), Some(want), "6.1 {s:?}");
        }
    }

    fn write(m: &mut Machine, line: &str) -> ToolRun {
        let argv: Vec<String> = shlex::split(line).unwrap();
        let c = parse(&argv).unwrap();
        run(m, &c, &mut Trace::new())
    }

    #[test]
    fn online_attr_is_no_error_when_the_block_is_already_there_state_is() {
        // online_store: `ret = val ? device_online(dev) : device_offline(dev); return ret < 0 ?
        // ret : count;` — device_online returns 1 for an online block: success. state_store:
        // `if (ret > 0) ret = -EINVAL;` for the same block.
        let mut m = Machine::boot(t0(), Config::default());
        let b1 = "/sys/devices/system/memory/memory1";
        assert_eq!(m.blocks.get(1).map(|b| b.state), Some(BlockState::Online));
        let r = write(&mut m, &format!("echo 1 > {b1}/online"));
        assert!(r.error.is_none(), "{:?}", r.error);
        let r = write(&mut m, &format!("echo online > {b1}/state"));
        assert_eq!(r.error.map(|e| e.errno), Some(Errno::EINVAL));
        // A hot-added (offline) block: `online` onlines it with MMOP_ONLINE (the default zone,
        // Normal above 4 GiB), `0` offlines it again, `0` once more is no error.
        m.add_memory(
            0,
            0x1_0000_0000,
            128 << 20,
            &AddOptions::default(),
            &mut Trace::new(),
        )
        .unwrap();
        let b32 = "/sys/devices/system/memory/memory32";
        let r = write(&mut m, &format!("echo 1 > {b32}/online"));
        assert!(r.error.is_none(), "{:?}", r.error);
        let b = m.blocks.get(32).unwrap();
        assert_eq!(b.state, BlockState::Online);
        assert_eq!(m.blocks.valid_zones(b), "Normal");
        for _ in 0..2 {
            let r = write(&mut m, &format!("echo 0 > {b32}/online"));
            assert!(r.error.is_none(), "{:?}", r.error);
            assert_eq!(m.blocks.get(32).map(|b| b.state), Some(BlockState::Offline));
        }
        // No such block; a word kstrtobool refuses.
        let r = write(
            &mut m,
            "echo 1 > /sys/devices/system/memory/memory99/online",
        );
        assert_eq!(r.error.map(|e| e.errno), Some(Errno::ENOENT));
        let r = write(&mut m, &format!("echo maybe > {b32}/online"));
        assert_eq!(r.error.map(|e| e.errno), Some(Errno::EINVAL));
        assert_eq!(m.blocks.get(32).map(|b| b.state), Some(BlockState::Offline));
    }
}
