//! The simulated kernel: resource operations (`kernel/resource.c`), memory hotplug
//! (`mm/memory_hotplug.c`, `drivers/base/memory.c`) and dax/kmem (`drivers/dax/kmem.c`).
//!
//! Every operation takes the tree (or the whole [`machine::Machine`]), the kernel version it
//! mimics, and a [`Trace`] into which it writes its decision path (what `explain` prints).
//! Operations never print; they return a result or a [`KernelError`] carrying the errno, the
//! deciding kernel function, the conflicting resource and the kernel's log line.

pub mod boundaries;
pub mod dax;
pub mod hotplug;
pub mod machine;
pub mod memory;
pub mod nvdimm;
pub mod online_policy;
pub mod placement;
pub mod region;
pub mod resource;
pub mod version;

#[cfg(test)]
mod edge_tests;

pub use version::KernelVersion;

use crate::tree::{NodeId, Tree};
use std::fmt;

/// The errno values the modelled paths return (`include/uapi/asm-generic/errno-base.h`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, serde::Serialize)]
pub enum Errno {
    E2BIG,
    ENOMEM,
    EBUSY,
    EEXIST,
    ENODEV,
    EINVAL,
    ERANGE,
    ENOENT,
    /// `ndctl`/`daxctl`: "No such device or address".
    ENXIO,
}

impl Errno {
    pub fn value(self) -> i32 {
        match self {
            Errno::ENOENT => 2,
            Errno::ENXIO => 6,
            Errno::E2BIG => 7,
            Errno::ENOMEM => 12,
            Errno::EBUSY => 16,
            Errno::EEXIST => 17,
            Errno::ENODEV => 19,
            Errno::EINVAL => 22,
            Errno::ERANGE => 34,
        }
    }
    pub fn name(self) -> &'static str {
        match self {
            Errno::ENOENT => "ENOENT",
            Errno::ENXIO => "ENXIO",
            Errno::E2BIG => "E2BIG",
            Errno::ENOMEM => "ENOMEM",
            Errno::EBUSY => "EBUSY",
            Errno::EEXIST => "EEXIST",
            Errno::ENODEV => "ENODEV",
            Errno::EINVAL => "EINVAL",
            Errno::ERANGE => "ERANGE",
        }
    }
}

impl fmt::Display for Errno {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "-{} ({})", self.name(), -self.value())
    }
}

/// A resource named in an error or trace: `"Persistent Memory (legacy)" [a0000000-afffffff]`.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct ResRef {
    pub start: u64,
    pub end: u64,
    pub name: String,
}

impl ResRef {
    pub fn of(tree: &Tree, id: NodeId) -> ResRef {
        let r = tree.get(id);
        ResRef {
            start: r.start,
            end: r.end,
            name: tree.name_lossy(id).into_owned(),
        }
    }
}

impl fmt::Display for ResRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "\"{}\" [{:x}-{:x}]", self.name, self.start, self.end)
    }
}

/// `%pR` (`decode`) and `%pr` (raw) of a resource, as lib/vsprintf.c's `resource_string`
/// prints them (6.1.172): `[` + the type (`io  `, `mem `, `irq `, `dma `, `bus `, else `??? `
/// and no decoding) + `start[-end]` (`-end` only when `end != start`; io `0x` + at least 4
/// digits, mem and `???` `0x` + at least 8, irq and dma decimal, bus 2 hex digits) + for `%pR`
/// ` 64bit`, ` pref`, ` window`, ` disabled` as set (an `IORESOURCE_UNSET` one prints `size
/// N` instead of its range), for `%pr` ` flags 0x…` + `]`.
pub(crate) fn resource_string(start: u64, end: u64, fl: u32, decode: bool) -> String {
    use crate::tree::flags::*;
    const IORESOURCE_IRQ: u32 = 0x400;
    const IORESOURCE_DMA: u32 = 0x800;
    const IORESOURCE_BUS: u32 = 0x1000;
    #[derive(Clone, Copy)]
    enum Spec {
        Hex(usize),
        Dec,
        Bus,
    }
    let (kind, spec, decode) = if fl & IORESOURCE_IO != 0 {
        ("io  ", Spec::Hex(6), decode)
    } else if fl & IORESOURCE_MEM != 0 {
        ("mem ", Spec::Hex(10), decode)
    } else if fl & IORESOURCE_IRQ != 0 {
        ("irq ", Spec::Dec, decode)
    } else if fl & IORESOURCE_DMA != 0 {
        ("dma ", Spec::Dec, decode)
    } else if fl & IORESOURCE_BUS != 0 {
        ("bus ", Spec::Bus, decode)
    } else {
        ("??? ", Spec::Hex(10), false)
    };
    // `number()` with SPECIAL|ZEROPAD: the width counts the `0x`.
    let num = |x: u64| match spec {
        Spec::Hex(w) => format!("{x:#0w$x}"),
        Spec::Dec => x.to_string(),
        Spec::Bus => format!("{x:02x}"),
    };
    let mut s = format!("[{kind}");
    if decode && fl & IORESOURCE_UNSET != 0 {
        s.push_str("size ");
        s.push_str(&num(end.wrapping_sub(start).wrapping_add(1)));
    } else {
        s.push_str(&num(start));
        if start != end {
            s.push('-');
            s.push_str(&num(end));
        }
    }
    if decode {
        for (bit, word) in [
            (IORESOURCE_MEM_64, " 64bit"),
            (IORESOURCE_PREFETCH, " pref"),
            (IORESOURCE_WINDOW, " window"),
            (IORESOURCE_DISABLED, " disabled"),
        ] {
            if fl & bit != 0 {
                s.push_str(word);
            }
        }
    } else {
        s.push_str(&format!(" flags {fl:#x}"));
    }
    s.push(']');
    s
}

/// A refusal, the way a kernel developer reads it.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error, serde::Serialize)]
#[error("{errno} ({func}: {reason})")]
pub struct KernelError {
    pub errno: Errno,
    /// The kernel function that decided, e.g. `register_memory_resource`.
    pub func: &'static str,
    /// Why, in words: `request_resource_conflict found "Persistent Memory (legacy)" at top level`.
    pub reason: String,
    /// The resource that blocked the operation, if any.
    pub conflict: Option<ResRef>,
    /// The kernel's log line (printk text), if it prints one.
    pub log: Option<String>,
}

impl KernelError {
    pub fn new(errno: Errno, func: &'static str, reason: impl Into<String>) -> KernelError {
        KernelError {
            errno,
            func,
            reason: reason.into(),
            conflict: None,
            log: None,
        }
    }
    pub fn with_conflict(mut self, c: ResRef) -> KernelError {
        self.conflict = Some(c);
        self
    }
    pub fn with_log(mut self, log: impl Into<String>) -> KernelError {
        self.log = Some(log.into());
        self
    }
}

pub type KResult<T> = Result<T, KernelError>;

/// A refusal that also prints a kernel log line: the line goes into the trace (what dmesg
/// shows) and into the error (what the user reads).
pub(crate) fn fail(
    errno: Errno,
    func: &'static str,
    reason: impl Into<String>,
    log: Option<String>,
    trace: &mut Trace,
) -> KernelError {
    let mut e = KernelError::new(errno, func, reason);
    if let Some(l) = log {
        trace.log(l.clone());
        e = e.with_log(l);
    }
    e
}

/// The decision path of one command: each step names the kernel function and what it decided,
/// e.g. `__request_region: conflict "Persistent Memory (legacy)" [a0000000-afffffff] not BUSY
/// → descend`. Also collects the kernel log lines (printk) the path would emit.
#[derive(Clone, Debug, Default, PartialEq, Eq, serde::Serialize)]
pub struct Trace {
    pub steps: Vec<TraceStep>,
    pub log: Vec<String>,
}

#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct TraceStep {
    /// Nesting depth of the call (for indentation in `explain`).
    pub depth: usize,
    pub func: &'static str,
    pub text: String,
}

impl Trace {
    pub fn new() -> Trace {
        Trace::default()
    }
    /// Record a decision taken in `func`.
    pub fn step(&mut self, depth: usize, func: &'static str, text: impl Into<String>) {
        self.steps.push(TraceStep {
            depth,
            func,
            text: text.into(),
        });
    }
    /// Record a kernel log line (what dmesg would show).
    pub fn log(&mut self, line: impl Into<String>) {
        self.log.push(line.into());
    }
}

/// `resource_string` (lib/vsprintf.c, 6.1.172): the expectations are read off its code — the
/// type words and their padding (`"io  "`, `"mem "`; `io_spec`/`mem_spec` field widths 6 and
/// 10 with SPECIAL|ZEROPAD, so `0x` + 4 or 8 digits; `bus_spec` width 2 without `0x`; irq/dma
/// `default_dec_spec`), `if (res->start != res->end)` for the `-end`, the decoded words in
/// their order, `size` for UNSET, `flags` for `%pr`, and no decoding for an unknown type.
#[cfg(test)]
mod resource_string_tests {
    use super::resource_string;
    use crate::tree::flags::*;

    #[test]
    fn pr_and_pr_decoded_as_vsprintf_prints_them() {
        let cases: &[(u64, u64, u32, bool, &str)] = &[
            (
                0,
                0x3fff_ffff_ffff,
                IORESOURCE_MEM,
                false,
                "[mem 0x00000000-0x3fffffffffff flags 0x200]",
            ),
            (
                0xa000_0000,
                0xa7ff_ffff,
                IORESOURCE_SYSTEM_RAM | IORESOURCE_BUSY,
                true,
                "[mem 0xa0000000-0xa7ffffff]",
            ),
            (
                0x8000_0000,
                0x8fff_ffff,
                IORESOURCE_MEM
                    | IORESOURCE_MEM_64
                    | IORESOURCE_PREFETCH
                    | IORESOURCE_WINDOW
                    | IORESOURCE_DISABLED,
                true,
                "[mem 0x80000000-0x8fffffff 64bit pref window disabled]",
            ),
            (0x1000, 0x1000, IORESOURCE_MEM, true, "[mem 0x00001000]"),
            (0, 0xffff, IORESOURCE_IO, true, "[io  0x0000-0xffff]"),
            (
                0x3f8,
                0x3f8,
                IORESOURCE_IO,
                false,
                "[io  0x03f8 flags 0x100]",
            ),
            (0, 0xff, 0x1000, true, "[bus 00-ff]"),
            (9, 9, 0x400, true, "[irq 9]"),
            (1, 3, 0x800, true, "[dma 1-3]"),
            (
                0x1000,
                0x1fff,
                IORESOURCE_MEM | IORESOURCE_UNSET,
                true,
                "[mem size 0x00001000]",
            ),
            (
                0x1000,
                0x1fff,
                IORESOURCE_MEM | IORESOURCE_UNSET,
                false,
                "[mem 0x00001000-0x00001fff flags 0x20000200]",
            ),
            (
                0x1000,
                0x1fff,
                0,
                true,
                "[??? 0x00001000-0x00001fff flags 0x0]",
            ),
        ];
        for &(start, end, fl, decode, want) in cases {
            assert_eq!(resource_string(start, end, fl, decode), want);
        }
    }
}
