//! The simulated kernel: resource operations (`kernel/resource.c`), memory hotplug
//! (`mm/memory_hotplug.c`, `drivers/base/memory.c`) and dax/kmem (`drivers/dax/kmem.c`).
//!
//! Every operation takes the tree (or the whole [`machine::Machine`]), the kernel version it
//! mimics, and a [`Trace`] into which it writes its decision path (what `explain` prints).
//! Operations never print; they return a result or a [`KernelError`] carrying the errno, the
//! deciding kernel function, the conflicting resource and the kernel's log line.

pub mod acpi_memhotplug;
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
/// Its name is copied when it is taken, so undo and `compact_names` cannot change what an
/// error or a step says; a `SmolStr` keeps names up to 23 bytes inline ("System RAM",
/// "PCI Bus 0000:00", "System RAM (kmem)"), so a trace step records one without allocating.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct ResRef {
    pub start: u64,
    pub end: u64,
    pub name: smol_str::SmolStr,
}

impl ResRef {
    pub fn of(tree: &Tree, id: NodeId) -> ResRef {
        let r = tree.get(id);
        ResRef {
            start: r.start,
            end: r.end,
            name: smol_str::SmolStr::new(tree.name_lossy(id)),
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
///
/// Steps are recorded as [`Event`]s and turned into words only when shown (`explain`,
/// `--json`): the hot paths (`__request_region`, `__release_region`) record a variant with the
/// resource's range and name and format nothing (issue 12).
#[derive(Clone, Debug, Default, PartialEq, Eq, serde::Serialize)]
pub struct Trace {
    pub steps: Vec<TraceStep>,
    pub log: Vec<String>,
}

/// One decision: serialized as `{depth, func, text}`, the words [`Event`] renders.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TraceStep {
    /// Nesting depth of the call (for indentation in `explain`).
    pub depth: usize,
    pub func: &'static str,
    pub event: Event,
}

impl TraceStep {
    /// The step's words, as `explain` prints them after `func: `.
    pub fn text(&self) -> String {
        self.event.to_string()
    }
}

impl serde::Serialize for TraceStep {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeStruct;
        let mut st = s.serialize_struct("TraceStep", 3)?;
        st.serialize_field("depth", &self.depth)?;
        st.serialize_field("func", self.func)?;
        st.serialize_field("text", &self.text())?;
        st.end()
    }
}

/// A parent as a step names it: the root by its kind, or a resource.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Place {
    Root(crate::tree::RootKind),
    Res(ResRef),
}

impl Place {
    pub fn of(tree: &Tree, id: NodeId) -> Place {
        if id == Tree::ROOT {
            Place::Root(tree.kind())
        } else {
            Place::Res(ResRef::of(tree, id))
        }
    }
}

impl fmt::Display for Place {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Place::Root(crate::tree::RootKind::Iomem) => f.write_str("the iomem root"),
            Place::Root(crate::tree::RootKind::Ioport) => f.write_str("the ioport root"),
            Place::Res(r) => r.fmt(f),
        }
    }
}

/// What a step decided. The variants are the decisions of `__request_region` and
/// `__release_region` (kernel/resource.c, the same in every version read), which a script of
/// request/release commands takes per command; the other paths' decisions are rarer and are
/// kept as their words ([`Event::Text`]).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Event {
    /// A decision in words, formatted when it was taken (or a literal).
    Text(std::borrow::Cow<'static, str>),
    /// `request_mem_region`/`release_mem_region` calling `__request_region(root, start, n)` or
    /// `__release_region(root, start, n)`.
    RootCall { release: bool, start: u64, n: u64 },
    /// `__request_region`: `__request_resource` found no conflict under the parent.
    RegionInserted(Place),
    /// `__request_region`: the conflict is not BUSY, so the loop goes on under it.
    RegionDescend(ResRef),
    /// `__request_region`: the conflict is the parent itself (the range leaves it).
    RegionLeaves(Place),
    /// `__request_region`: a MUXED conflict and a MUXED request (the caller sleeps).
    RegionMuxed(ResRef),
    /// `__request_region`: a BUSY conflict.
    RegionBusy(ResRef),
    /// `__release_region`: a non-BUSY resource contains the range.
    ReleaseDescend(ResRef),
    /// `__release_region`: a BUSY resource contains the range but is not equal to it.
    ReleaseNotEqual(ResRef),
    /// `__release_region`: the BUSY resource with exactly this range.
    ReleaseMatched(ResRef),
}

impl fmt::Display for Event {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Event::Text(t) => f.write_str(t),
            Event::RootCall { release, start, n } => {
                let func = if *release {
                    "__release_region"
                } else {
                    "__request_region"
                };
                write!(f, "{func}(root, {start:#x}, {n:#x})")
            }
            Event::RegionInserted(p) => write!(
                f,
                "no conflict among the children of {p} → inserted as its child"
            ),
            Event::RegionDescend(c) => write!(f, "conflict {c} not BUSY → descend"),
            Event::RegionLeaves(p) => write!(f, "range leaves {p} → fail"),
            Event::RegionMuxed(c) => write!(
                f,
                "conflict {c} is MUXED like the request → the caller would sleep until it is released"
            ),
            Event::RegionBusy(c) => write!(f, "conflict {c} is BUSY → fail"),
            Event::ReleaseDescend(r) => {
                write!(f, "{r} contains the range and is not BUSY → descend")
            }
            Event::ReleaseNotEqual(r) => {
                write!(f, "BUSY {r} contains the range but is not equal → stop")
            }
            Event::ReleaseMatched(r) => {
                write!(f, "BUSY {r} matches exactly → released with its subtree")
            }
        }
    }
}

impl Trace {
    pub fn new() -> Trace {
        Trace::default()
    }
    /// Record a decision taken in `func`, in words.
    pub fn step(
        &mut self,
        depth: usize,
        func: &'static str,
        text: impl Into<std::borrow::Cow<'static, str>>,
    ) {
        self.event(depth, func, Event::Text(text.into()));
    }
    /// Record a decision taken in `func`.
    pub fn event(&mut self, depth: usize, func: &'static str, event: Event) {
        self.steps.push(TraceStep { depth, func, event });
    }
    /// Take a callee's steps, `deeper` levels further in (its log lines stay with `sub`).
    pub fn nest_steps(&mut self, sub: &mut Trace, deeper: usize) {
        self.steps.extend(sub.steps.drain(..).map(|mut s| {
            s.depth += deeper;
            s
        }));
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

/// The words of the recorded events are the words the steps had when they were formatted as
/// they were taken (the `explain` snapshots of tests/ pin them in context); `--json` keeps the
/// `{depth, func, text}` shape.
#[cfg(test)]
mod event_tests {
    use super::*;
    use crate::tree::RootKind;

    fn res(name: &str) -> ResRef {
        ResRef {
            start: 0xa000_0000,
            end: 0xafff_ffff,
            name: name.into(),
        }
    }

    #[test]
    fn events_render_the_words_of_each_decision() {
        let pmem = || res("Persistent Memory (legacy)");
        let cases: Vec<(Event, &str)> = vec![
            (
                Event::RootCall {
                    release: false,
                    start: 0xa000_0000,
                    n: 0x800_0000,
                },
                "__request_region(root, 0xa0000000, 0x8000000)",
            ),
            (
                Event::RootCall {
                    release: true,
                    start: 0x3f8,
                    n: 8,
                },
                "__release_region(root, 0x3f8, 0x8)",
            ),
            (
                Event::RegionInserted(Place::Root(RootKind::Iomem)),
                "no conflict among the children of the iomem root → inserted as its child",
            ),
            (
                Event::RegionInserted(Place::Res(pmem())),
                "no conflict among the children of \"Persistent Memory (legacy)\" [a0000000-afffffff] → inserted as its child",
            ),
            (
                Event::RegionDescend(pmem()),
                "conflict \"Persistent Memory (legacy)\" [a0000000-afffffff] not BUSY → descend",
            ),
            (
                Event::RegionLeaves(Place::Root(RootKind::Ioport)),
                "range leaves the ioport root → fail",
            ),
            (
                Event::RegionMuxed(res("superio")),
                "conflict \"superio\" [a0000000-afffffff] is MUXED like the request → the caller would sleep until it is released",
            ),
            (
                Event::RegionBusy(res("System RAM")),
                "conflict \"System RAM\" [a0000000-afffffff] is BUSY → fail",
            ),
            (
                Event::ReleaseDescend(pmem()),
                "\"Persistent Memory (legacy)\" [a0000000-afffffff] contains the range and is not BUSY → descend",
            ),
            (
                Event::ReleaseNotEqual(res("System RAM")),
                "BUSY \"System RAM\" [a0000000-afffffff] contains the range but is not equal → stop",
            ),
            (
                Event::ReleaseMatched(res("System RAM")),
                "BUSY \"System RAM\" [a0000000-afffffff] matches exactly → released with its subtree",
            ),
            (Event::Text("as it was taken".into()), "as it was taken"),
        ];
        for (e, want) in cases {
            assert_eq!(e.to_string(), want, "{e:?}");
        }
    }

    #[test]
    fn a_step_serializes_its_words_and_nesting_deepens_it() {
        let mut sub = Trace::new();
        sub.event(0, "__request_region", Event::RegionBusy(res("System RAM")));
        let mut t = Trace::new();
        t.step(0, "add_memory_resource", "register_memory_resource");
        t.nest_steps(&mut sub, 1);
        assert!(sub.steps.is_empty());
        let j = serde_json::to_value(&t).unwrap();
        assert_eq!(
            j["steps"][1],
            serde_json::json!({
                "depth": 1,
                "func": "__request_region",
                "text": "conflict \"System RAM\" [a0000000-afffffff] is BUSY → fail",
            })
        );
        assert_eq!(j["steps"][0]["text"], "register_memory_resource");
    }

    /// The name is taken when the step is: a later rename or undo of the tree does not change
    /// what the step says.
    #[test]
    fn a_step_keeps_the_name_it_saw() {
        let mut t =
            crate::parse::parse_dump(b"a0000000-afffffff : Persistent Memory (legacy)\n", None)
                .unwrap()
                .tree;
        let id = t.children(Tree::ROOT).next().unwrap();
        let r = ResRef::of(&t, id);
        let other = t.intern(b"renamed");
        t.get_mut(id).name = other;
        assert_eq!(r.name, "Persistent Memory (legacy)");
    }
}
