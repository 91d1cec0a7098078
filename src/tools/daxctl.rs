//! `daxctl` (daxctl/device.c, daxctl/lib/libdaxctl.c of pmem/ndctl v76):
//! reconfigure-device, online-memory, offline-memory, disable-device, enable-device, list.
//!
//! `reconfigure-device --mode=system-ram` is `reconfig_mode_system_ram()`: refuse `--no-online`
//! when the kernel auto-onlines; `disable_devdax_device()` (unbind device_dax: its claim on the
//! range goes); `daxctl_dev_enable_ram()` (load kmem, add the device to kmem's `new_id`, which
//! probes it — a failing probe leaves the device unbound, `failed to enable`, -ENXIO); then,
//! unless `--no-online`, `dev_online_memory()` (every offline block of the device to
//! `online_movable`, or `online` with `--no-movable`). `--mode=devdax` is
//! `reconfig_mode_devdax()`: with `-f` offline the memory first; memory still online → -EBUSY;
//! unbind kmem (kmem's remove), bind device_dax.

use super::{J, ToolParseError, ToolRun, clap_error, list_json, size_json, strerror, tool_error};
use crate::kernel::dax::{DaxDevice, DaxDriver};
use crate::kernel::machine::Machine;
use crate::kernel::memory::{BlockState, OnlineType};
use crate::kernel::{Errno, KernelError, Trace};
use clap::{Parser, Subcommand, ValueEnum};
use std::fmt;

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum, serde::Serialize)]
pub enum DaxMode {
    #[value(name = "system-ram")]
    SystemRam,
    Devdax,
}

#[derive(Debug, Parser)]
#[command(name = "daxctl", disable_help_subcommand = true)]
struct Args {
    #[command(subcommand)]
    cmd: Sub,
}

#[derive(Debug, Subcommand)]
enum Sub {
    ReconfigureDevice {
        device: String,
        #[arg(short = 'm', long = "mode", value_enum, required = true)]
        mode: DaxMode,
        #[arg(short = 'N', long = "no-online")]
        no_online: bool,
        #[arg(long = "no-movable")]
        no_movable: bool,
        #[arg(short = 'f', long = "force")]
        force: bool,
        #[arg(short = 'u', long = "human")]
        human: bool,
        #[arg(short = 'r', long = "region")]
        region: Option<String>,
        #[arg(short = 'v', long = "verbose")]
        verbose: bool,
    },
    OnlineMemory {
        device: String,
        #[arg(long = "no-movable")]
        no_movable: bool,
        #[arg(short = 'r', long = "region")]
        region: Option<String>,
        #[arg(short = 'u', long = "human")]
        human: bool,
        #[arg(short = 'v', long = "verbose")]
        verbose: bool,
    },
    OfflineMemory {
        device: String,
        #[arg(short = 'r', long = "region")]
        region: Option<String>,
        #[arg(short = 'u', long = "human")]
        human: bool,
        #[arg(short = 'v', long = "verbose")]
        verbose: bool,
    },
    DisableDevice {
        device: String,
        #[arg(short = 'r', long = "region")]
        region: Option<String>,
        #[arg(short = 'u', long = "human")]
        human: bool,
        #[arg(short = 'v', long = "verbose")]
        verbose: bool,
    },
    EnableDevice {
        device: String,
        #[arg(short = 'r', long = "region")]
        region: Option<String>,
        #[arg(short = 'u', long = "human")]
        human: bool,
        #[arg(short = 'v', long = "verbose")]
        verbose: bool,
    },
    List {
        #[arg(short = 'u', long = "human")]
        human: bool,
        #[arg(short = 'd', long = "dev")]
        dev: Option<String>,
        #[arg(short = 'D', long = "devices")]
        devices: bool,
        #[arg(short = 'R', long = "regions")]
        regions: bool,
        #[arg(short = 'M', long = "mappings")]
        mappings: bool,
        #[arg(short = 'i', long = "idle")]
        idle: bool,
        #[arg(short = 'r', long = "region")]
        region: Option<String>,
    },
}

/// A parsed `daxctl` line.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub enum Daxctl {
    Reconfigure {
        device: String,
        mode: DaxMode,
        no_online: bool,
        no_movable: bool,
        force: bool,
        human: bool,
    },
    Online {
        device: String,
        no_movable: bool,
    },
    Offline {
        device: String,
    },
    /// `disable-device DEV|all`: unbind the devdax driver (`daxctl_dev_disable`).
    Disable {
        device: String,
    },
    /// `enable-device DEV|all`: bind device_dax (`daxctl_dev_enable_devdax`).
    Enable {
        device: String,
    },
    List {
        human: bool,
        dev: Option<String>,
        idle: bool,
    },
}

pub fn parse(argv: &[String]) -> Result<Daxctl, ToolParseError> {
    let a = Args::try_parse_from(argv).map_err(clap_error)?;
    Ok(match a.cmd {
        Sub::ReconfigureDevice {
            device,
            mode,
            no_online,
            no_movable,
            force,
            human,
            ..
        } => {
            if mode == DaxMode::Devdax && no_online {
                // parse_device_options: "--no-online is incompatible with --mode=devdax"
                return Err(ToolParseError(
                    "--no-online is incompatible with --mode=devdax".into(),
                ));
            }
            Daxctl::Reconfigure {
                device,
                mode,
                no_online,
                no_movable,
                force,
                human,
            }
        }
        Sub::OnlineMemory {
            device, no_movable, ..
        } => Daxctl::Online { device, no_movable },
        Sub::OfflineMemory { device, .. } => Daxctl::Offline { device },
        Sub::DisableDevice { device, .. } => Daxctl::Disable { device },
        Sub::EnableDevice { device, .. } => Daxctl::Enable { device },
        Sub::List {
            human, dev, idle, ..
        } => Daxctl::List { human, dev, idle },
    })
}

impl Daxctl {
    pub fn is_query(&self) -> bool {
        matches!(self, Daxctl::List { .. })
    }
}

impl fmt::Display for Daxctl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Daxctl::Reconfigure {
                device,
                mode,
                no_online,
                no_movable,
                force,
                human,
            } => {
                let m = match mode {
                    DaxMode::SystemRam => "system-ram",
                    DaxMode::Devdax => "devdax",
                };
                write!(f, "daxctl reconfigure-device --mode={m}")?;
                for (b, s) in [
                    (*no_online, " --no-online"),
                    (*no_movable, " --no-movable"),
                    (*force, " -f"),
                    (*human, " -u"),
                ] {
                    if b {
                        f.write_str(s)?;
                    }
                }
                write!(f, " {}", super::positional(device))
            }
            Daxctl::Online { device, no_movable } => write!(
                f,
                "daxctl online-memory{} {}",
                if *no_movable { " --no-movable" } else { "" },
                super::positional(device)
            ),
            Daxctl::Offline { device } => {
                write!(f, "daxctl offline-memory {}", super::positional(device))
            }
            Daxctl::Disable { device } => {
                write!(f, "daxctl disable-device {}", super::positional(device))
            }
            Daxctl::Enable { device } => {
                write!(f, "daxctl enable-device {}", super::positional(device))
            }
            Daxctl::List { human, dev, idle } => {
                write!(f, "daxctl list")?;
                if *human {
                    write!(f, " -u")?;
                }
                if *idle {
                    write!(f, " -i")?;
                }
                if let Some(d) = dev {
                    write!(f, " -d {d}")?;
                }
                Ok(())
            }
        }
    }
}

/// The memory blocks of a device in system-ram mode (daxctl's `daxctl_memory`: the blocks
/// of the device's range that exist in sysfs), with how many are online.
fn memblocks(m: &Machine, d: &DaxDevice) -> (usize, usize) {
    let ranges: Vec<(u64, u64)> = if d.kmem_ranges.is_empty() {
        vec![(d.start, d.end)]
    } else {
        d.kmem_ranges.clone()
    };
    let (mut total, mut online) = (0, 0);
    for (s, e) in ranges {
        for b in m.blocks.range(m.block_id(s), m.block_id(e)) {
            total += 1;
            if b.state == BlockState::Online {
                online += 1;
            }
        }
    }
    (total, online)
}

/// The ids of the memory blocks kmem added for the device (what daxctl walks to on/offline).
fn kmem_block_ids(m: &Machine, d: &DaxDevice) -> Vec<u64> {
    d.kmem_ranges
        .iter()
        .flat_map(|&(s, e)| m.blocks.range(m.block_id(s), m.block_id(e)).map(|b| b.id))
        .collect()
}

/// System-ram mode, as daxctl sees it: the device has memory (kmem bound, or kmem's ranges
/// left behind).
fn has_memory(d: &DaxDevice) -> bool {
    d.driver == DaxDriver::Kmem
}

/// `util_daxctl_dev_to_json`.
pub fn dev_json(m: &Machine, d: &DaxDevice, human: bool) -> J {
    let mut o = vec![
        ("chardev", J::Str(d.name.clone())),
        ("size", size_json(d.end - d.start + 1, human)),
        ("target_node", J::Num(i64::from(d.nid))),
        ("align", J::Num(d.align as i64)),
        (
            "mode",
            J::Str(
                if has_memory(d) {
                    "system-ram"
                } else {
                    "devdax"
                }
                .into(),
            ),
        ),
    ];
    if has_memory(d) {
        let (total, online) = memblocks(m, d);
        o.push(("online_memblocks", J::Num(online as i64)));
        o.push(("total_memblocks", J::Num(total as i64)));
    }
    if d.driver == DaxDriver::None {
        o.push(("state", J::Str("disabled".into())));
    }
    J::Obj(o)
}

fn words_error(errno: Errno, words: String, k: Option<&KernelError>) -> KernelError {
    let mut e = tool_error(errno, "daxctl", words);
    if let Some(k) = k {
        e.log = k.log.clone();
        e.reason
            .push_str(&format!("\n  (kernel: {}: {})", k.func, k.reason));
    }
    e
}

/// A failed on/offlining: errno, daxctl's words, the kernel's refusal.
type XlineError = (Errno, String, Option<Box<KernelError>>);

/// `daxctl online-memory` / `offline-memory` (`verb` = "online" / "offline"): daxctl's words
/// around `op`, which does the blocks: `Ok(false)` when every block already was in that state.
fn memory_op(
    m: &mut Machine,
    r: &mut ToolRun,
    device: &str,
    verb: &str,
    op: impl FnOnce(&mut Machine) -> Result<bool, XlineError>,
) {
    let fin = |r: &mut ToolRun, n: usize| {
        r.say(format!(
            "{verb}d memory for {n} device{}",
            if n == 1 { "" } else { "s" }
        ))
    };
    // daxctl's gerund: "onlining", "offlining".
    let doing = format!("{}ing", verb.strip_suffix('e').unwrap_or(verb));
    let failed = |errno: Errno, words: String| {
        let words = if words.is_empty() {
            String::new()
        } else {
            format!("{words}\n")
        };
        format!(
            "{words}error {doing} memory: {}\n{verb}d memory for 0 devices",
            strerror(errno)
        )
    };
    let Some(d) = m.dax.get(device).cloned() else {
        r.error = Some(words_error(
            Errno::ENXIO,
            failed(Errno::ENXIO, String::new()),
            None,
        ));
        return;
    };
    if !has_memory(&d) {
        let w = format!("{device}: memory operations are not applicable in devdax mode");
        r.error = Some(words_error(Errno::ENXIO, failed(Errno::ENXIO, w), None));
        return;
    }
    match op(m) {
        Ok(true) => fin(r, 1),
        Ok(false) => {
            let (total, _) = memblocks(m, &d);
            r.say(format!(
                "{device}: all memory sections ({total}) already {verb}"
            ));
            fin(r, 0);
        }
        Err((errno, w, k)) => {
            r.partial = true;
            r.error = Some(words_error(errno, failed(errno, w), k.as_deref()));
        }
    }
}

/// `dev_online_memory`: online every offline block of the device.
fn online(
    m: &mut Machine,
    dev: &str,
    no_movable: bool,
    trace: &mut Trace,
) -> Result<bool, XlineError> {
    let Some(d) = m.dax.get(dev).cloned() else {
        return Err((Errno::ENXIO, String::new(), None));
    };
    let (total, on) = memblocks(m, &d);
    if on == total {
        return Ok(false);
    }
    let ty = if no_movable {
        OnlineType::Online
    } else {
        OnlineType::OnlineMovable
    };
    let bs = m.config.block_size;
    let ids = kmem_block_ids(m, &d);
    for id in ids {
        if m.blocks
            .get(id)
            .is_some_and(|b| b.state == BlockState::Offline)
        {
            let (s, _) = m.block_range(id);
            trace.step(
                0,
                "daxctl",
                format!("echo {} > memory{id}/state", ty.as_str()),
            );
            if let Err(e) = m.online_memory(s, bs, ty, trace) {
                return Err((
                    e.errno,
                    format!("{dev}: failed to online memory: {}", strerror(e.errno)),
                    Some(Box::new(e)),
                ));
            }
        }
    }
    Ok(true)
}

fn offline(m: &mut Machine, dev: &str, trace: &mut Trace) -> Result<bool, XlineError> {
    let Some(d) = m.dax.get(dev).cloned() else {
        return Err((Errno::ENXIO, String::new(), None));
    };
    let (_, on) = memblocks(m, &d);
    if on == 0 {
        return Ok(false);
    }
    let bs = m.config.block_size;
    let ids = kmem_block_ids(m, &d);
    for id in ids {
        if m.blocks
            .get(id)
            .is_some_and(|b| b.state == BlockState::Online)
        {
            let (s, _) = m.block_range(id);
            trace.step(0, "daxctl", format!("echo offline > memory{id}/state"));
            if let Err(e) = m.offline_memory(s, bs, trace) {
                return Err((
                    e.errno,
                    format!("{dev}: failed to offline memory: {}", strerror(e.errno)),
                    Some(Box::new(e)),
                ));
            }
        }
    }
    Ok(true)
}

pub fn run(m: &mut Machine, c: &Daxctl, trace: &mut Trace) -> ToolRun {
    let mut r = ToolRun::default();
    match c {
        Daxctl::List { human, dev, idle } => {
            let devs: Vec<J> = m
                .dax
                .values()
                .filter(|d| dev.as_ref().is_none_or(|n| n == &d.name || n == "all"))
                .filter(|d| *idle || d.driver != DaxDriver::None)
                .map(|d| dev_json(m, d, *human))
                .collect();
            if let Some(j) = list_json(devs) {
                r.say(j.render());
            }
        }
        Daxctl::Online { device, no_movable } => memory_op(m, &mut r, device, "online", |m| {
            online(m, device, *no_movable, trace)
        }),
        Daxctl::Offline { device } => {
            memory_op(m, &mut r, device, "offline", |m| offline(m, device, trace))
        }
        Daxctl::Disable { device } => xble(m, &mut r, device, false, trace),
        Daxctl::Enable { device } => xble(m, &mut r, device, true, trace),
        Daxctl::Reconfigure {
            device,
            mode,
            no_online,
            no_movable,
            force,
            human,
        } => reconfigure(
            m,
            &mut r,
            device,
            *mode,
            *no_online,
            *no_movable,
            *force,
            *human,
            trace,
        ),
    }
    r
}

/// `daxctl_insert_kmod_for_mode`: libdaxctl loads the driver's module before binding.
fn load_module(m: &mut Machine, module: &'static str, trace: &mut Trace) {
    if !m.module_loaded(module) {
        trace.step(0, "daxctl", format!("modprobe {module}"));
        m.nvdimm.modules.insert(module.into());
    }
}

/// `cmd_disable_device` / `cmd_enable_device` (daxctl/device.c): `do_xaction_device` runs
/// `do_xble` on every device the filter matches (`DEV` or `all`); the last device's return
/// code is the command's (-ENXIO when none matched). `do_xble` refuses a device in
/// system-ram mode ("status operations are only applicable in devdax mode"); otherwise
/// disable is `daxctl_dev_disable` (unbind, nothing to do when no driver is bound) and enable
/// is `daxctl_dev_enable_devdax` (nothing to do when a driver is bound; else load device_dax
/// and bind it, which claims the range again).
fn xble(m: &mut Machine, r: &mut ToolRun, device: &str, enable: bool, trace: &mut Trace) {
    let (verb, doing) = if enable {
        ("enable", "enabling")
    } else {
        ("disable", "disabling")
    };
    let names: Vec<String> = m
        .dax
        .values()
        .filter(|d| device == "all" || d.name == device)
        .map(|d| d.name.clone())
        .collect();
    let mut errno: Option<Errno> = Some(Errno::ENXIO);
    let mut kernel: Option<KernelError> = None;
    let mut words: Vec<String> = Vec::new();
    let mut done = 0;
    for name in names {
        let Some(d) = m.dax.get(&name).cloned() else {
            continue;
        };
        if has_memory(&d) {
            words.push(format!(
                "{name}: status operations are only applicable in devdax mode"
            ));
            errno = Some(Errno::ENXIO);
            continue;
        }
        let res = if enable {
            if d.driver != DaxDriver::None {
                Ok(())
            } else {
                load_module(m, "device_dax", trace);
                trace.step(
                    0,
                    "daxctl",
                    format!("echo {name} > /sys/bus/dax/drivers/device_dax/bind"),
                );
                m.dax_bind_device_dax(&name, trace).map_err(|e| {
                    // daxctl_dev_enable: the bind did not take, "failed to enable" (-ENXIO).
                    words.push(format!(
                        "libdaxctl: daxctl_dev_enable: {name}: failed to enable"
                    ));
                    KernelError {
                        errno: Errno::ENXIO,
                        ..e
                    }
                })
            }
        } else if d.driver == DaxDriver::DeviceDax {
            trace.step(
                0,
                "daxctl",
                format!("echo {name} > /sys/bus/dax/drivers/device_dax/unbind"),
            );
            m.dax_unbind_device_dax(&name, trace)
        } else {
            Ok(())
        };
        match res {
            Ok(()) => {
                done += 1;
                errno = None;
            }
            Err(e) => {
                words.push(format!("{name}: {verb} failed: {}", strerror(e.errno)));
                errno = Some(e.errno);
                kernel = Some(e);
            }
        }
    }
    let tail = format!("{verb}d {done} device{}", if done == 1 { "" } else { "s" });
    match errno {
        None => {
            for w in words {
                r.say(w);
            }
            r.say(tail);
        }
        Some(errno) => {
            words.push(format!("error {doing} device: {}", strerror(errno)));
            words.push(tail);
            r.partial = done > 0;
            r.error = Some(words_error(errno, words.join("\n"), kernel.as_ref()));
        }
    }
}

#[allow(clippy::too_many_arguments)]
fn reconfigure(
    m: &mut Machine,
    r: &mut ToolRun,
    device: &str,
    mode: DaxMode,
    no_online: bool,
    no_movable: bool,
    force: bool,
    human: bool,
    trace: &mut Trace,
) {
    let tail = |errno: Errno| {
        format!(
            "error reconfiguring devices: {}\nreconfigured 0 devices",
            strerror(errno)
        )
    };
    let Some(d) = m.dax.get(device).cloned() else {
        r.error = Some(words_error(Errno::ENXIO, tail(Errno::ENXIO), None));
        return;
    };
    match mode {
        DaxMode::SystemRam => {
            if has_memory(&d) {
                // disable_devdax_device: "%s was already in system-ram mode" (rc 1: skip enable)
                r.say(format!("{device} was already in system-ram mode"));
            } else {
                // daxctl_dev_will_auto_online_memory(): auto_online_blocks != offline.
                if no_online && !force && m.config.auto_online != OnlineType::Offline {
                    r.error = Some(words_error(
                        Errno::EBUSY,
                        format!(
                            "{device}: error: kernel policy will auto-online memory, aborting\n{}",
                            tail(Errno::EBUSY)
                        ),
                        None,
                    ));
                    return;
                }
                if d.driver == DaxDriver::DeviceDax {
                    trace.step(
                        0,
                        "daxctl",
                        format!("echo {device} > /sys/bus/dax/drivers/device_dax/unbind"),
                    );
                    if let Err(e) = m.dax_unbind_device_dax(device, trace) {
                        r.error = Some(words_error(
                            e.errno,
                            format!(
                                "{device}: disable failed: {}\n{}",
                                strerror(e.errno),
                                tail(e.errno)
                            ),
                            Some(&e),
                        ));
                        return;
                    }
                }
                // daxctl_dev_enable_ram: load kmem, new_id, probe.
                load_module(m, "kmem", trace);
                trace.step(
                    0,
                    "daxctl",
                    format!("echo {device} > /sys/bus/dax/drivers/kmem/new_id"),
                );
                m.nvdimm.kmem_ids.insert(device.to_string());
                if let Err(e) = m.dax_kmem(device, trace) {
                    r.partial = true;
                    r.error = Some(words_error(
                        Errno::ENXIO,
                        format!(
                            "libdaxctl: daxctl_dev_enable: {device}: failed to enable\n{}\n  ({device} is left disabled: device_dax was unbound before kmem refused it)",
                            tail(Errno::ENXIO)
                        ),
                        Some(&e),
                    ));
                    return;
                }
            }
            if !no_online {
                let policy_onlined = m.config.auto_online != OnlineType::Offline;
                match online(m, device, no_movable, trace) {
                    Ok(_) => {}
                    Err((errno, w, k)) => {
                        r.partial = true;
                        r.error = Some(words_error(
                            errno,
                            format!("{w}\n{}", tail(errno)),
                            k.as_deref(),
                        ));
                        return;
                    }
                }
                let _ = policy_onlined;
            }
        }
        DaxMode::Devdax => {
            if !has_memory(&d) {
                r.say(format!("{device} was already in devdax mode"));
            } else {
                if force && let Err((errno, w, k)) = offline(m, device, trace) {
                    r.partial = true;
                    r.error = Some(words_error(
                        errno,
                        format!("{w}\n{}", tail(errno)),
                        k.as_deref(),
                    ));
                    return;
                }
                let dd = m.dax.get(device).cloned().unwrap_or(d);
                let (_, on) = memblocks(m, &dd);
                if on > 0 {
                    r.partial = force;
                    r.error = Some(words_error(
                        Errno::EBUSY,
                        format!(
                            "{device}: found {on} memory sections online\n{device}: refusing to change modes\n{}",
                            tail(Errno::EBUSY)
                        ),
                        None,
                    ));
                    return;
                }
                trace.step(
                    0,
                    "daxctl",
                    format!("echo {device} > /sys/bus/dax/drivers/kmem/unbind"),
                );
                if let Err(e) = m.dax_kmem_unbind(device, trace) {
                    r.partial = force;
                    r.error = Some(words_error(
                        e.errno,
                        format!(
                            "{device}: disable failed: {}\n{}",
                            strerror(e.errno),
                            tail(e.errno)
                        ),
                        Some(&e),
                    ));
                    return;
                }
            }
            // daxctl_dev_enable_devdax: load device_dax, bind.
            if m.dax
                .get(device)
                .is_some_and(|d| d.driver == DaxDriver::None)
            {
                m.nvdimm.modules.insert("device_dax".into());
                trace.step(
                    0,
                    "daxctl",
                    format!("echo {device} > /sys/bus/dax/drivers/device_dax/bind"),
                );
                if let Err(e) = m.dax_bind_device_dax(device, trace) {
                    r.partial = true;
                    r.error = Some(words_error(
                        Errno::ENXIO,
                        format!(
                            "libdaxctl: daxctl_dev_enable: {device}: failed to enable\n{}",
                            tail(Errno::ENXIO)
                        ),
                        Some(&e),
                    ));
                    return;
                }
            }
        }
    }
    r.say("reconfigured 1 device");
    if let Some(d) = m.dax.get(device) {
        r.say(J::Arr(vec![dev_json(m, d, human)]).render());
    }
}
