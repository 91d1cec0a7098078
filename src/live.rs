//! The machine itself: what the kernel exposes about memory under `/proc` and `/sys`, read
//! from a root directory (`/` for `--live`, any copy laid out like it for `--sysfs-root DIR`,
//! the way `lsmem --sysroot DIR` reads one) or from a capture bundle ([`crate::capture`]).
//!
//! What is read, and why each file matters:
//! - `proc/iomem`: the resource tree. `r_show` (kernel/resource.c) prints `start = end = 0`
//!   for a reader without `CAP_SYS_ADMIN`, so a non-root read is detected (every range 0-0)
//!   and replaced by the System RAM runs of the online memory blocks, said so.
//! - `sys/devices/system/memory/`: `block_size_bytes` (`memory_block_size_bytes()`, hex
//!   without `0x`, drivers/base/memory.c `block_size_bytes_show`), `auto_online_blocks`
//!   (`auto_online_blocks_show`), and per `memoryN`: `state`, `online`, `valid_zones`,
//!   `phys_index`, `removable`, `phys_device` and the `nodeN` link (`register_mem_block_under_node`,
//!   drivers/base/node.c). These are facts: the machine built from them uses them, it does not
//!   infer them from `/proc/iomem`.
//! - `sys/bus/dax/devices/*`: `size`, `resource`, `target_node`, the `driver` link and
//!   `mappingN/{start,end,page_offset}` (drivers/dax/bus.c).
//! - `proc/cpuinfo`: `address sizes : N bits physical, M bits virtual` (`x86_phys_bits`,
//!   `x86_virt_bits`) and whether the `la57` flag is listed: `early_identify_cpu`
//!   (arch/x86/kernel/cpu/common.c, 6.1) clears X86_FEATURE_LA57 unless 5-level paging is
//!   enabled, while `x86_virt_bits` is the CPU's CPUID width either way (57 on this build
//!   machine, which runs 4-level paging).
//! - the kernel release (`proc/sys/kernel/osrelease`, else `uname -r` on the host itself).
//! - `proc/cmdline`: the words that change hotplug (`memhp_default_state=`,
//!   `memory_hotplug.online_policy=`, `movable_node`, `memmap=`).
//!
//! Every access goes through [`Files`], so a capture that records the accesses and answers
//! them again later gives exactly the same [`LiveState`].

use std::path::{Path, PathBuf};

use crate::kernel::KernelVersion;
use crate::kernel::dax::{DaxDevice, DaxDriver};
use crate::kernel::machine::{Config, Machine};
use crate::kernel::memory::{BlockState, MemoryBlock, MemoryBlocks, OnlineType, Zone};
use crate::parse::{Dump, parse_dump};
use crate::tree::RootKind;

/// The sysfs directory of memory blocks, relative to the root.
pub const SYS_MEMORY: &str = "sys/devices/system/memory";
/// The dax bus devices, relative to the root.
pub const SYS_DAX: &str = "sys/bus/dax/devices";

/// A read-only view of a root directory: what the reader needs, and nothing more.
pub trait Files {
    /// The bytes of the file at `rel` (relative to the root, `/`-separated).
    fn read(&self, rel: &str) -> Result<Vec<u8>, String>;
    /// The names in directory `rel` (any order).
    fn list(&self, rel: &str) -> Result<Vec<String>, String>;
    /// The target of the symbolic link at `rel`.
    fn link(&self, rel: &str) -> Result<String, String>;
    /// `uname -r`, where the root is the running host itself (and was not readable otherwise).
    fn uname_release(&self) -> Result<String, String>;
    /// How to name the root in messages (`/`, `DIR`, `capture FILE`).
    fn describe(&self) -> String;
}

/// A directory laid out like `/`.
#[derive(Clone, Debug)]
pub struct RootDir {
    pub root: PathBuf,
}

impl RootDir {
    pub fn new(root: impl Into<PathBuf>) -> RootDir {
        RootDir { root: root.into() }
    }
    fn path(&self, rel: &str) -> PathBuf {
        self.root.join(rel)
    }
    fn is_host(&self) -> bool {
        self.root == Path::new("/")
    }
}

fn io_reason(e: &std::io::Error) -> String {
    match e.kind() {
        std::io::ErrorKind::NotFound => "not found".to_string(),
        std::io::ErrorKind::PermissionDenied => "permission denied".to_string(),
        _ => e.to_string(),
    }
}

impl Files for RootDir {
    fn read(&self, rel: &str) -> Result<Vec<u8>, String> {
        std::fs::read(self.path(rel)).map_err(|e| io_reason(&e))
    }
    fn list(&self, rel: &str) -> Result<Vec<String>, String> {
        let rd = std::fs::read_dir(self.path(rel)).map_err(|e| io_reason(&e))?;
        let mut v = Vec::new();
        for e in rd {
            let e = e.map_err(|e| io_reason(&e))?;
            v.push(e.file_name().to_string_lossy().into_owned());
        }
        v.sort();
        Ok(v)
    }
    fn link(&self, rel: &str) -> Result<String, String> {
        let p = self.path(rel);
        match std::fs::read_link(&p) {
            Ok(t) => Ok(t.to_string_lossy().into_owned()),
            Err(e) => {
                // A copy made without symlinks (cp -L, some archivers) keeps the target as
                // the file's text: `../../node/node0`.
                match std::fs::read(&p) {
                    Ok(b) if std::fs::symlink_metadata(&p).is_ok_and(|m| m.is_file()) => {
                        Ok(String::from_utf8_lossy(&b).trim_end().to_string())
                    }
                    _ => Err(io_reason(&e)),
                }
            }
        }
    }
    fn uname_release(&self) -> Result<String, String> {
        if !self.is_host() {
            return Err(format!("{} is not this host", self.root.display()));
        }
        let o = std::process::Command::new("uname")
            .arg("-r")
            .output()
            .map_err(|e| format!("uname -r: {e}"))?;
        if !o.status.success() {
            return Err("uname -r failed".to_string());
        }
        Ok(String::from_utf8_lossy(&o.stdout).trim().to_string())
    }
    fn describe(&self) -> String {
        self.root.display().to_string()
    }
}

/// One `/sys/devices/system/memory/memoryN`, as read (trimmed text, `None` = not readable).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SysBlock {
    pub id: u64,
    pub state: Option<String>,
    pub online: Option<String>,
    pub valid_zones: Option<String>,
    pub phys_index: Option<String>,
    pub removable: Option<String>,
    pub phys_device: Option<String>,
    /// From the `nodeN` entry of the block's directory (as lsmem's `memory_block_get_node`).
    pub node: Option<i32>,
}

/// `/sys/devices/system/memory`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SysMemory {
    pub block_size: u64,
    pub auto_online: Option<OnlineType>,
    pub auto_online_text: Option<String>,
    /// In block-number order (lsmem's `versionsort`).
    pub blocks: Vec<SysBlock>,
}

/// One `/sys/bus/dax/devices/daxX.Y`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SysDax {
    pub name: String,
    pub size: Option<u64>,
    pub resource: Option<u64>,
    pub target_node: Option<i32>,
    /// `align` (decimal, drivers/dax/bus.c `align_show`; v5.10+).
    pub align: Option<u64>,
    /// The basename of the `driver` link (`kmem`, `device_dax`), `None` when unbound.
    pub driver: Option<String>,
    /// `mappingN`: (start, end, page_offset).
    pub mappings: Vec<(u64, u64, u64)>,
}

/// Kernel command line words that change memory hotplug.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct HotplugCmdline {
    pub memhp_default_state: Option<String>,
    pub online_policy: Option<String>,
    pub movable_node: bool,
    pub memmap: Vec<String>,
}

impl HotplugCmdline {
    /// The words of `cmdline` that matter here (everything after ` -- ` goes to init).
    pub fn parse(cmdline: &str) -> HotplugCmdline {
        let mut c = HotplugCmdline::default();
        for w in cmdline.split_whitespace() {
            if w == "--" {
                break;
            }
            if let Some(v) = w.strip_prefix("memhp_default_state=") {
                c.memhp_default_state = Some(v.to_string());
            } else if let Some(v) = w.strip_prefix("memory_hotplug.online_policy=") {
                c.online_policy = Some(v.to_string());
            } else if w == "movable_node" {
                c.movable_node = true;
            } else if let Some(v) = w.strip_prefix("memmap=") {
                c.memmap.push(v.to_string());
            }
        }
        c
    }
    fn words(&self) -> Vec<String> {
        let mut v = Vec::new();
        if let Some(s) = &self.memhp_default_state {
            v.push(format!("memhp_default_state={s}"));
        }
        if let Some(s) = &self.online_policy {
            v.push(format!("memory_hotplug.online_policy={s}"));
        }
        if self.movable_node {
            v.push("movable_node".to_string());
        }
        for m in &self.memmap {
            v.push(format!("memmap={m}"));
        }
        v
    }
}

/// Everything read from one root.
#[derive(Clone, Debug)]
pub struct LiveState {
    /// How the root was named (`/`, the directory, the capture file).
    pub root: String,
    pub iomem: Option<Vec<u8>>,
    /// Every range in `proc/iomem` read as `0-0` (a reader without CAP_SYS_ADMIN).
    pub iomem_zeroed: bool,
    pub memory: Option<SysMemory>,
    pub dax: Vec<SysDax>,
    pub phys_bits: Option<u32>,
    pub virt_bits: Option<u32>,
    /// `la57` among the first processor's `flags`: 5-level paging is on.
    pub la57: Option<bool>,
    /// The kernel release and the file (or command) it came from.
    pub release: Option<(String, String)>,
    pub cmdline: Option<HotplugCmdline>,
    /// One line per source read: `proc/iomem (58 lines)`.
    pub read: Vec<String>,
    /// One line per source that could not be read, and why.
    pub missing: Vec<String>,
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).trim().to_string()
}

fn hex_u64(s: &str) -> Option<u64> {
    let t = s.trim();
    let t = t
        .strip_prefix("0x")
        .or_else(|| t.strip_prefix("0X"))
        .unwrap_or(t);
    if t.is_empty() {
        return None;
    }
    u64::from_str_radix(t, 16).ok()
}

/// `memoryN` → N (decimal digits only, as lsmem's `memory_block_filter`).
fn block_number(name: &str) -> Option<u64> {
    let d = name.strip_prefix("memory")?;
    if d.is_empty() || !d.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    d.parse().ok()
}

/// `nodeN` → N.
fn node_number(name: &str) -> Option<i32> {
    let d = name.strip_prefix("node")?;
    if d.is_empty() || !d.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    d.parse().ok()
}

/// True when every resource line of a dump reads `0-0` (`r_show` for a reader without
/// CAP_SYS_ADMIN: "start = end = 0", kernel/resource.c).
pub fn is_zeroed(iomem: &[u8]) -> bool {
    let mut any = false;
    for line in String::from_utf8_lossy(iomem).lines() {
        let l = line.trim_start();
        if l.is_empty() {
            continue;
        }
        let Some((range, _)) = l.split_once(" : ") else {
            return false;
        };
        let Some((a, b)) = range.split_once('-') else {
            return false;
        };
        if hex_u64(a) != Some(0) || hex_u64(b) != Some(0) {
            return false;
        }
        any = true;
    }
    any
}

/// `address sizes : 40 bits physical, 48 bits virtual` → (40, 48).
pub fn address_sizes(cpuinfo: &str) -> Option<(u32, u32)> {
    let line = cpuinfo
        .lines()
        .find(|l| l.trim_start().starts_with("address sizes"))?;
    let (_, v) = line.split_once(':')?;
    let mut phys = None;
    let mut virt = None;
    for part in v.split(',') {
        let mut w = part.split_whitespace();
        let n: Option<u32> = w.next().and_then(|n| n.parse().ok());
        let _bits = w.next();
        match w.next() {
            Some("physical") => phys = n,
            Some("virtual") => virt = n,
            _ => {}
        }
    }
    Some((phys?, virt.unwrap_or(48)))
}

/// Whether the first `flags` line of cpuinfo lists `flag` (`None` without a flags line).
pub fn cpu_flag(cpuinfo: &str, flag: &str) -> Option<bool> {
    let line = cpuinfo
        .lines()
        .find(|l| l.trim_start().starts_with("flags"))?;
    let (_, v) = line.split_once(':')?;
    Some(v.split_whitespace().any(|f| f == flag))
}

/// The version boundaries the modelled rules test (`at_least(X, Y)` in src/kernel/*), oldest
/// first: a release behaves like the newest boundary at or below it.
pub const MODELLED_BOUNDARIES: &[(u32, u32)] = &[
    (4, 16),
    (5, 0),
    (5, 1),
    (5, 2),
    (5, 3),
    (5, 8),
    (5, 10),
    (5, 12),
    (5, 13),
    (6, 1),
    (6, 3),
    (6, 7),
    (6, 12),
    (6, 16),
];

/// A kernel release string (`6.1.0-56-amd64`, `6.18.44-fc-v857`) → the `--kernel` it is
/// simulated as, and a sentence saying how. Only `X.Y` is taken: distributions put an ABI
/// number where the patch level would be (Debian's `6.1.0-56` is 6.1.192), so the series as
/// shipped today is the honest reading. A release newer than the newest modelled is simulated
/// as the newest.
pub fn kernel_for_release(release: &str) -> Option<(KernelVersion, String)> {
    let mut it = release.split(|c: char| !c.is_ascii_digit());
    let major: u32 = it.next()?.parse().ok()?;
    let minor: u32 = it.next()?.parse().ok()?;
    let v = KernelVersion::new(major, minor);
    let newest = KernelVersion::NEWEST;
    if (major, minor) > (newest.major, newest.minor) {
        return Some((
            newest,
            format!("{release} is newer than the newest modelled kernel: simulated as {newest}"),
        ));
    }
    let rules = MODELLED_BOUNDARIES
        .iter()
        .rev()
        .find(|&&b| b <= (major, minor))
        .map(|(a, b)| format!("{a}.{b}"))
        .unwrap_or_else(|| "before 4.16".to_string());
    Some((
        v,
        format!(
            "{release} → --kernel {v} (the rules of the newest modelled change at or below it: {rules})"
        ),
    ))
}

impl LiveState {
    /// Read everything from `files`. Never fails: what cannot be read is listed in `missing`.
    pub fn read(files: &dyn Files) -> LiveState {
        let mut st = LiveState {
            root: files.describe(),
            iomem: None,
            iomem_zeroed: false,
            memory: None,
            dax: Vec::new(),
            phys_bits: None,
            virt_bits: None,
            la57: None,
            release: None,
            cmdline: None,
            read: Vec::new(),
            missing: Vec::new(),
        };
        match files.read("proc/iomem") {
            Ok(b) => {
                st.iomem_zeroed = is_zeroed(&b);
                let lines = b.iter().filter(|&&c| c == b'\n').count();
                if st.iomem_zeroed {
                    st.missing.push(format!(
                        "proc/iomem: every address reads 0 ({lines} lines): it was read without CAP_SYS_ADMIN \
                         (r_show prints 0-0 then); the tree is only the System RAM of the online memory blocks — \
                         PCI windows, reserved ranges, kernel code and persistent memory are missing (run as root)"
                    ));
                } else {
                    st.read.push(format!("proc/iomem ({lines} lines)"));
                }
                st.iomem = Some(b);
            }
            Err(e) => st.missing.push(format!("proc/iomem: {e}")),
        }
        st.read_memory(files);
        st.read_dax(files);
        match files.read("proc/cpuinfo") {
            Ok(b) => match address_sizes(&String::from_utf8_lossy(&b)) {
                Some((p, v)) => {
                    st.phys_bits = Some(p);
                    st.virt_bits = Some(v);
                    let la57 = cpu_flag(&String::from_utf8_lossy(&b), "la57");
                    st.la57 = la57;
                    let paging = match la57 {
                        Some(true) => "; la57: 5-level paging",
                        Some(false) => "; no la57 flag: 4-level paging",
                        None => "",
                    };
                    st.read.push(format!(
                        "proc/cpuinfo (address sizes: {p} bits physical, {v} bits virtual{paging})"
                    ));
                }
                None => st
                    .missing
                    .push("proc/cpuinfo: no `address sizes` line".to_string()),
            },
            Err(e) => st.missing.push(format!("proc/cpuinfo: {e}")),
        }
        match files.read("proc/sys/kernel/osrelease") {
            Ok(b) => {
                let r = text(&b);
                st.read.push(format!("proc/sys/kernel/osrelease ({r})"));
                st.release = Some((r, "proc/sys/kernel/osrelease".to_string()));
            }
            Err(e) => match files.uname_release() {
                Ok(r) => {
                    st.read.push(format!("uname -r ({r})"));
                    st.release = Some((r, "uname -r".to_string()));
                }
                Err(e2) => st.missing.push(format!(
                    "the kernel release: proc/sys/kernel/osrelease: {e}; uname -r: {e2}"
                )),
            },
        }
        match files.read("proc/cmdline") {
            Ok(b) => {
                let c = HotplugCmdline::parse(&String::from_utf8_lossy(&b));
                let w = c.words();
                st.read.push(if w.is_empty() {
                    "proc/cmdline (no word that changes hotplug)".to_string()
                } else {
                    format!("proc/cmdline ({})", w.join(" "))
                });
                st.cmdline = Some(c);
            }
            Err(e) => st.missing.push(format!("proc/cmdline: {e}")),
        }
        st
    }

    fn read_memory(&mut self, files: &dyn Files) {
        let bs = match files.read(&format!("{SYS_MEMORY}/block_size_bytes")) {
            Ok(b) => match hex_u64(&text(&b)) {
                Some(n) if n.is_power_of_two() => n,
                _ => {
                    self.missing.push(format!(
                        "{SYS_MEMORY}/block_size_bytes: {:?} is not a power of two in hex",
                        text(&b)
                    ));
                    return;
                }
            },
            Err(e) => {
                // lsmem: "This system does not support memory blocks".
                self.missing.push(format!(
                    "{SYS_MEMORY}/block_size_bytes: {e} (no memory block devices: CONFIG_MEMORY_HOTPLUG \
                     off or not Linux; blocks are inferred from proc/iomem)"
                ));
                return;
            }
        };
        let (auto_online, auto_online_text) =
            match files.read(&format!("{SYS_MEMORY}/auto_online_blocks")) {
                Ok(b) => {
                    let t = text(&b);
                    match t.parse::<OnlineType>() {
                        Ok(o) => (Some(o), Some(t)),
                        Err(_) => {
                            self.missing.push(format!(
                                "{SYS_MEMORY}/auto_online_blocks: unknown policy {t:?}"
                            ));
                            (None, Some(t))
                        }
                    }
                }
                Err(e) => {
                    self.missing
                        .push(format!("{SYS_MEMORY}/auto_online_blocks: {e}"));
                    (None, None)
                }
            };
        let names = match files.list(SYS_MEMORY) {
            Ok(n) => n,
            Err(e) => {
                self.missing.push(format!("{SYS_MEMORY}: {e}"));
                Vec::new()
            }
        };
        let mut ids: Vec<u64> = names.iter().filter_map(|n| block_number(n)).collect();
        ids.sort_unstable();
        let mut blocks = Vec::with_capacity(ids.len());
        let mut unreadable = 0usize;
        for id in ids {
            let dir = format!("{SYS_MEMORY}/memory{id}");
            let mut attr = |name: &str| match files.read(&format!("{dir}/{name}")) {
                Ok(b) => Some(text(&b)),
                Err(_) => {
                    unreadable += 1;
                    None
                }
            };
            let state = attr("state");
            let online = attr("online");
            let valid_zones = attr("valid_zones");
            let phys_index = attr("phys_index");
            let removable = attr("removable");
            let phys_device = attr("phys_device");
            let mut node = None;
            if let Ok(entries) = files.list(&dir) {
                for e in entries {
                    if let Some(n) = node_number(&e) {
                        // The link itself (kept in a capture; its name is what counts).
                        let _ = files.link(&format!("{dir}/{e}"));
                        node = Some(n);
                    }
                }
            }
            blocks.push(SysBlock {
                id,
                state,
                online,
                valid_zones,
                phys_index,
                removable,
                phys_device,
                node,
            });
        }
        let online = blocks
            .iter()
            .filter(|b| b.state.as_deref() == Some("online"))
            .count();
        self.read.push(format!(
            "{SYS_MEMORY} (block_size_bytes {bs:x}, auto_online_blocks {}, {} blocks, {online} online)",
            auto_online_text.as_deref().unwrap_or("?"),
            blocks.len()
        ));
        if unreadable > 0 {
            self.missing.push(format!(
                "{SYS_MEMORY}/memoryN: {unreadable} attribute files could not be read (valid_zones exists only with \
                 CONFIG_MEMORY_HOTREMOVE, drivers/base/memory.c; a missing one is inferred by the model)"
            ));
        }
        self.memory = Some(SysMemory {
            block_size: bs,
            auto_online,
            auto_online_text,
            blocks,
        });
    }

    fn read_dax(&mut self, files: &dyn Files) {
        let names = match files.list(SYS_DAX) {
            Ok(n) => n,
            Err(e) => {
                self.missing.push(format!(
                    "{SYS_DAX}: {e} (no dax bus: no device-dax/kmem memory)"
                ));
                return;
            }
        };
        for name in names {
            let dir = format!("{SYS_DAX}/{name}");
            let num = |a: &str| files.read(&format!("{dir}/{a}")).ok().map(|b| text(&b));
            let size = num("size").and_then(|s| s.parse().ok());
            let resource = num("resource").and_then(|s| hex_u64(&s));
            let target_node = num("target_node").and_then(|s| s.parse().ok());
            let align = num("align")
                .and_then(|s| s.parse::<u64>().ok())
                .filter(|a| a.is_power_of_two());
            let driver = files
                .link(&format!("{dir}/driver"))
                .ok()
                .map(|t| t.rsplit('/').next().unwrap_or(&t).to_string());
            let mut mappings = Vec::new();
            if let Ok(entries) = files.list(&dir) {
                let mut ms: Vec<u64> = entries
                    .iter()
                    .filter_map(|e| e.strip_prefix("mapping")?.parse().ok())
                    .collect();
                ms.sort_unstable();
                for m in ms {
                    let f = |a: &str| {
                        files
                            .read(&format!("{dir}/mapping{m}/{a}"))
                            .ok()
                            .and_then(|b| hex_u64(&text(&b)))
                    };
                    if let (Some(s), Some(e)) = (f("start"), f("end")) {
                        mappings.push((s, e, f("page_offset").unwrap_or(0)));
                    }
                }
            }
            self.dax.push(SysDax {
                name,
                size,
                resource,
                target_node,
                align,
                driver,
                mappings,
            });
        }
        self.read.push(if self.dax.is_empty() {
            format!("{SYS_DAX} (none)")
        } else {
            let d: Vec<String> = self
                .dax
                .iter()
                .map(|d| {
                    format!(
                        "{} node {} {}",
                        d.name,
                        d.target_node.map_or("?".into(), |n| n.to_string()),
                        d.driver.as_deref().unwrap_or("unbound")
                    )
                })
                .collect();
            format!("{SYS_DAX} ({})", d.join(", "))
        });
    }

    /// The stderr report: what was read from where, and what could not be.
    pub fn report(&self) -> String {
        let mut s = format!("live: read from {}: {}\n", self.root, self.read.join("; "));
        for m in &self.missing {
            s.push_str(&format!("live: could not read {m}\n"));
        }
        s
    }

    /// The machine configuration these facts imply, over `base` (the command line's), with a
    /// note per value taken. `kernel_given`: `--kernel` was on the command line (it wins).
    pub fn config(&self, base: &Config, kernel_given: bool) -> (Config, Vec<String>) {
        let mut c = base.clone();
        let mut notes = Vec::new();
        if let Some(m) = &self.memory {
            c.block_size = m.block_size;
            if let Some(a) = m.auto_online {
                c.auto_online = a;
            }
        }
        if let Some(p) = self.phys_bits {
            c.phys_bits = p;
        }
        if let Some(l) = self.la57 {
            c.la57 = l;
        }
        if let Some((r, from)) = &self.release {
            match kernel_for_release(r) {
                Some((v, how)) if !kernel_given => {
                    c.version = v;
                    notes.push(format!("kernel {how} (from {from})"));
                }
                Some(_) => notes.push(format!(
                    "kernel: --kernel {} given on the command line wins over {r} (from {from})",
                    c.version
                )),
                None => notes.push(format!(
                    "kernel: cannot read a version in {r:?} (from {from}): simulating {}",
                    c.version
                )),
            }
        }
        if let Some(cl) = &self.cmdline {
            if let Some(p) = &cl.online_policy
                && p != "contig-zones"
            {
                notes.push(format!(
                    "proc/cmdline memory_hotplug.online_policy={p}: not modelled, zones follow contig-zones"
                ));
            }
            if cl.movable_node {
                notes.push(
                    "proc/cmdline movable_node: not modelled (hot-added memory would default to ZONE_MOVABLE)"
                        .to_string(),
                );
            }
            if let (Some(s), Some(m)) = (&cl.memhp_default_state, &self.memory)
                && m.auto_online_text.as_deref() != Some(s.as_str())
            {
                notes.push(format!(
                    "proc/cmdline memhp_default_state={s}, but auto_online_blocks reads {} now (changed after boot): \
                     the sysfs value is used",
                    m.auto_online_text.as_deref().unwrap_or("?")
                ));
            }
        }
        (c, notes)
    }

    /// The starting tree: `proc/iomem` as read, or (zeroed or missing) the System RAM of the
    /// online memory blocks.
    pub fn dump(&self) -> Result<Dump, LiveError> {
        if let Some(b) = &self.iomem
            && !self.iomem_zeroed
        {
            return parse_dump(b, Some(RootKind::Iomem))
                .map_err(|e| LiveError::Iomem(e.to_string()));
        }
        let Some(m) = &self.memory else {
            return Err(LiveError::Nothing(self.root.clone()));
        };
        let mut text = String::new();
        let mut run: Option<(u64, u64)> = None;
        let bs = m.block_size;
        let flush = |r: Option<(u64, u64)>, text: &mut String| {
            if let Some((a, b)) = r {
                let s = a * bs;
                let e = (b + 1) * bs - 1;
                text.push_str(&format!("{s:08x}-{e:08x} : System RAM\n"));
            }
        };
        for b in &m.blocks {
            if b.state.as_deref() != Some("online") {
                continue;
            }
            run = match run {
                Some((a, last)) if last + 1 == b.id => Some((a, b.id)),
                r => {
                    flush(r, &mut text);
                    Some((b.id, b.id))
                }
            };
        }
        flush(run, &mut text);
        parse_dump(text.as_bytes(), Some(RootKind::Iomem))
            .map_err(|e| LiveError::Iomem(e.to_string()))
    }

    /// Apply the sysfs facts to a machine booted on [`LiveState::dump`]: the block devices
    /// exactly as sysfs lists them (state, zone of an online block, node, removable), and the
    /// dax devices' target nodes and drivers. Returns notes for what the model would have
    /// said differently (shown on stderr; the facts win).
    pub fn overlay(&self, m: &mut Machine) -> Vec<String> {
        let mut notes = Vec::new();
        if let Some(mem) = &self.memory {
            let mut blocks = MemoryBlocks::new();
            for b in &mem.blocks {
                let state = match b.state.as_deref() {
                    Some("online") => BlockState::Online,
                    Some("offline") => BlockState::Offline,
                    Some("going-offline") => BlockState::GoingOffline,
                    other => {
                        notes.push(format!(
                            "memory{}: state {:?} is not online/offline: taken as offline",
                            b.id,
                            other.unwrap_or("unreadable")
                        ));
                        BlockState::Offline
                    }
                };
                let zone = match (state, b.valid_zones.as_deref()) {
                    (BlockState::Offline, _) => None,
                    (_, Some(z)) => zone_named(z),
                    (_, None) => m.blocks.get(b.id).and_then(|x| x.zone),
                };
                blocks.insert(MemoryBlock {
                    id: b.id,
                    state,
                    zone,
                    nid: b.node.unwrap_or(0),
                    removable: b.removable.as_deref() != Some("0"),
                    boot: m.blocks.get(b.id).is_some_and(|x| x.boot),
                });
            }
            let (model, facts) = (m.blocks.len(), blocks.len());
            if model != facts {
                notes.push(format!(
                    "sysfs lists {facts} memory blocks where proc/iomem's System RAM implies {model}: sysfs is used"
                ));
            }
            m.blocks = blocks;
            // Offline blocks: valid_zones is computed by the model; say where it disagrees
            // with what the kernel printed.
            let mut differ = Vec::new();
            for b in &mem.blocks {
                if let (Some(fact), Some(mb)) = (b.valid_zones.as_deref(), m.blocks.get(b.id)) {
                    let model = m.blocks.valid_zones(mb);
                    if model != fact {
                        differ.push(format!("memory{} {fact:?} (model: {model:?})", b.id));
                    }
                }
            }
            if !differ.is_empty() {
                let n = differ.len();
                differ.truncate(4);
                notes.push(format!(
                    "valid_zones differs from the model for {n} block(s): {}",
                    differ.join(", ")
                ));
            }
        }
        for d in &self.dax {
            let driver = match d.driver.as_deref() {
                Some("kmem") => DaxDriver::Kmem,
                Some("device_dax") => DaxDriver::DeviceDax,
                _ => DaxDriver::None,
            };
            let nid = d.target_node.unwrap_or(0);
            if let Some(dev) = m.dax.get_mut(&d.name) {
                dev.nid = nid;
                dev.driver = driver;
                if let Some(a) = d.align {
                    dev.align = a;
                }
            } else if let Some((s, e)) = d
                .mappings
                .first()
                .map(|&(s, _, _)| s)
                .or(d.resource)
                .zip(d.size.filter(|&n| n > 0))
                .map(|(s, n)| (s, s + n - 1))
            {
                notes.push(format!(
                    "{}: not in proc/iomem; declared from sysfs ({s:#x}-{e:#x}, node {nid})",
                    d.name
                ));
                m.dax.insert(
                    d.name.clone(),
                    DaxDevice {
                        name: d.name.clone(),
                        start: s,
                        end: e,
                        nid,
                        driver,
                        devdax_claims: false,
                        kmem_ranges: Vec::new(),
                        align: d.align.unwrap_or(crate::kernel::dax::DEFAULT_DAX_ALIGN),
                    },
                );
            }
        }
        notes
    }

    /// Boot the machine these facts describe (see [`LiveState::config`], [`LiveState::overlay`]).
    pub fn machine(&self, base: &Config, kernel_given: bool) -> Result<LiveMachine, LiveError> {
        let dump = self.dump()?;
        let (config, mut notes) = self.config(base, kernel_given);
        let mut m = Machine::boot(dump.tree.clone(), config);
        notes.extend(self.overlay(&mut m));
        Ok(LiveMachine {
            machine: m,
            dump,
            notes,
        })
    }

    /// Where the block size came from (for the banner).
    pub fn block_size_source(&self) -> String {
        match &self.memory {
            // Relative to the root the banner names just before it.
            Some(_) => format!("{SYS_MEMORY}/block_size_bytes"),
            None => "x86_64 default: no memory block devices".to_string(),
        }
    }
}

/// The machine built from live state, with the dump it booted on and what was noticed.
#[derive(Debug)]
pub struct LiveMachine {
    pub machine: Machine,
    pub dump: Dump,
    pub notes: Vec<String>,
}

/// A zone as `valid_zones` prints it (`none` for an online block spanning zones).
pub fn zone_named(s: &str) -> Option<Zone> {
    match s.split_whitespace().next()? {
        "DMA" => Some(Zone::Dma),
        "DMA32" => Some(Zone::Dma32),
        "Normal" => Some(Zone::Normal),
        "Movable" => Some(Zone::Movable),
        _ => None,
    }
}

#[derive(Debug, thiserror::Error)]
pub enum LiveError {
    #[error("proc/iomem: {0}")]
    Iomem(String),
    #[error(
        "{0}: neither proc/iomem nor sys/devices/system/memory could be read: nothing to start from"
    )]
    Nothing(String),
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fixture() -> RootDir {
        RootDir::new(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/fixtures/root-C-pc-6G"
        ))
    }

    #[test]
    fn reads_the_real_6_1_root() {
        let st = LiveState::read(&fixture());
        let m = st.memory.as_ref().unwrap();
        // block_size_bytes = 8000000 (hex) = 128 MiB; 48 blocks (0-23, 32-55).
        assert_eq!(m.block_size, 128 << 20);
        assert_eq!(m.auto_online, Some(OnlineType::Offline));
        assert_eq!(m.blocks.len(), 48);
        assert_eq!(m.blocks[0].valid_zones.as_deref(), Some("none"));
        assert_eq!(m.blocks[24].id, 32);
        assert_eq!(m.blocks[24].node, Some(0));
        // cpuinfo: "address sizes	: 40 bits physical, 48 bits virtual".
        assert_eq!((st.phys_bits, st.virt_bits), (Some(40), Some(48)));
        assert_eq!(st.la57, Some(false));
        assert_eq!(st.release.as_ref().unwrap().0, "6.1.0-56-amd64");
        assert_eq!(
            st.cmdline.as_ref().unwrap().memhp_default_state.as_deref(),
            Some("offline")
        );
        assert!(!st.iomem_zeroed);
        let lm = st.machine(&Config::default(), false).unwrap();
        assert_eq!(lm.machine.config.version, KernelVersion::new(6, 1));
        assert_eq!(lm.machine.config.phys_bits, 40);
        assert_eq!(lm.machine.blocks.len(), 48);
        assert!(
            lm.notes.iter().all(|n| !n.contains("differs")),
            "{:?}",
            lm.notes
        );
    }

    #[test]
    fn a_dax_device_missing_from_iomem_is_declared_from_sysfs_with_its_node() {
        // An unbound dax device claims nothing in /proc/iomem (dev_dax_probe never ran), but
        // sysfs still lists it with its range and target_node (drivers/dax/bus.c).
        let text = "iomem-sim capture 1\n\
            file proc/iomem\n\
            | 00001000-9fffffff : System RAM\n\
            | a0000000-afffffff : Persistent Memory (legacy)\n\
            dir sys/bus/dax/devices = dax0.0\n\
            file sys/bus/dax/devices/dax0.0/size = 268435456\n\
            file sys/bus/dax/devices/dax0.0/resource = 0xa0000000\n\
            file sys/bus/dax/devices/dax0.0/target_node = 1\n\
            dir sys/bus/dax/devices/dax0.0 = mapping0 resource size target_node\n\
            file sys/bus/dax/devices/dax0.0/mapping0/start = 0xa0000000\n\
            file sys/bus/dax/devices/dax0.0/mapping0/end = 0xafffffff\n";
        let b = crate::capture::parse(text, "t").unwrap();
        let st = LiveState::read(&b);
        assert_eq!(st.dax[0].mappings, [(0xa000_0000, 0xafff_ffff, 0)]);
        assert_eq!(st.dax[0].driver, None);
        let lm = st.machine(&Config::default(), false).unwrap();
        let d = &lm.machine.dax["dax0.0"];
        assert_eq!((d.start, d.end, d.nid), (0xa000_0000, 0xafff_ffff, 1));
        assert_eq!(d.driver, DaxDriver::None);
        assert!(
            lm.notes.iter().any(|n| n.contains("declared from sysfs")),
            "{:?}",
            lm.notes
        );
        // No sysfs memory directory: the blocks are the model's, and that is said.
        assert!(
            st.missing.iter().any(|m| m.contains("block_size_bytes")),
            "{:?}",
            st.missing
        );
    }

    #[test]
    fn zeroed_and_sizes() {
        assert!(is_zeroed(
            b"00000000-00000000 : Reserved\n  00000000-00000000 : System RAM\n"
        ));
        assert!(!is_zeroed(b"00000000-00000fff : Reserved\n"));
        assert!(!is_zeroed(b""));
        assert_eq!(
            address_sizes("address sizes\t: 48 bits physical, 57 bits virtual\n"),
            Some((48, 57))
        );
        let (v, _) = kernel_for_release("6.1.0-56-amd64").unwrap();
        assert_eq!(v, KernelVersion::new(6, 1));
        let (v, how) = kernel_for_release("7.2.1").unwrap();
        assert_eq!(v, KernelVersion::NEWEST);
        assert!(how.contains("newer"), "{how}");
        let c = HotplugCmdline::parse(
            "quiet memmap=512M!4352M movable_node memory_hotplug.online_policy=auto-movable -- memhp_default_state=x",
        );
        assert_eq!(c.memmap, ["512M!4352M"]);
        assert!(c.movable_node);
        assert_eq!(c.online_policy.as_deref(), Some("auto-movable"));
        assert_eq!(c.memhp_default_state, None, "words after -- go to init");
    }
}
