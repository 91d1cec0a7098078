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
