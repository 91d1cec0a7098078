//! Built-in example trees (`--example NAME`); the default is T0 of kernel-semantics.md §6.0 (issue 2).
//!
//! Examples are dump text, parsed like any input, so they exercise the same code path.

use crate::tree::RootKind;

/// T0 of kernel-semantics.md §6.0: the machine from Dave Hansen's 2019 patch "mm/memory-hotplug:
/// allow memory resources to be children", *before* the hot-add (copied exactly from the doc).
pub const T0: &str = "\
00000000-00000fff : Reserved
00001000-0009fbff : System RAM
0009fc00-0009ffff : Reserved
000a0000-000bffff : PCI Bus 0000:00
000c0000-000c97ff : Video ROM
000c9800-000ca5ff : Adapter ROM
000f0000-000fffff : Reserved
  000f0000-000fffff : System ROM
00100000-9fffffff : System RAM
  01000000-01e071d0 : Kernel code
  01e071d1-027dfdff : Kernel data
  02dc6000-0305dfff : Kernel bss
a0000000-afffffff : Persistent Memory (legacy)
b0000000-bffdffff : System RAM
bffe0000-bfffffff : Reserved
c0000000-febfffff : PCI Bus 0000:00
";

/// One built-in tree.
#[derive(Clone, Copy, Debug)]
pub struct Example {
    pub name: &'static str,
    pub about: &'static str,
    pub kind: RootKind,
    pub text: &'static str,
}

/// The default example.
pub const DEFAULT: &str = "t0";

/// Every built-in tree, default first.
pub const EXAMPLES: &[Example] = &[
    Example {
        name: "t0",
        about: "the 2019 patch's QEMU machine before the hot-add: 256 MiB legacy pmem at a0000000",
        kind: RootKind::Iomem,
        text: T0,
    },
    Example {
        name: "pmem-legacy-6.1",
        about: "real Linux 6.1 in QEMU booted with memmap=512M!4352M (legacy pmem above 4G)",
        kind: RootKind::Iomem,
        text: include_str!("../fixtures/real-kernel-6.1/B-pmem-legacy-above-4g/before.iomem"),
    },
    Example {
        name: "pc-dimm-6.1",
        about: "real Linux 6.1 in QEMU before ACPI pc-dimm hot-add",
        kind: RootKind::Iomem,
        text: include_str!("../fixtures/real-kernel-6.1/A-pc-dimm-hotplug/before.iomem"),
    },
    Example {
        name: "kmem-6.1",
        about: "real Linux 6.1: the legacy pmem given to the kmem driver (System RAM (kmem) under dax0.0)",
        kind: RootKind::Iomem,
        text: include_str!(
            "../fixtures/real-kernel-6.1/B-pmem-legacy-above-4g/after-kmem-bind.iomem"
        ),
    },
    Example {
        name: "dhansen-2019",
        about: "the 2019 patch's machine after the hot-add: System RAM nested in legacy pmem",
        kind: RootKind::Iomem,
        text: include_str!("../fixtures/qemu-pmem-legacy-kmem-system-ram-child-dhansen.iomem"),
    },
    Example {
        name: "cxl",
        about: "Intel CXL platform excerpt: CXL Window > Soft Reserved > dax2.0 > System RAM (kmem)",
        kind: RootKind::Iomem,
        text: include_str!("../fixtures/cxl-intel-platform-soft-reserved-11digit-excerpt.iomem"),
    },
    Example {
        name: "ioports",
        about: "x86 /proc/ioports of a VMware VM",
        kind: RootKind::Ioport,
        text: include_str!("../fixtures/vmware-jc-fixture.ioports"),
    },
];

/// The dump text of a built-in tree.
pub fn example(name: &str) -> Option<&'static str> {
    find(name).map(|e| e.text)
}

/// The built-in tree called `name`.
pub fn find(name: &str) -> Option<&'static Example> {
    EXAMPLES.iter().find(|e| e.name == name)
}

/// Names of the built-in trees, default first.
pub fn names() -> impl Iterator<Item = &'static str> {
    EXAMPLES.iter().map(|e| e.name)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::parse::parse_dump;
    use crate::render::render_iomem;

    #[test]
    fn every_example_parses_and_round_trips() {
        for e in EXAMPLES {
            let d = parse_dump(e.text.as_bytes(), Some(e.kind)).expect(e.name);
            assert_eq!(render_iomem(&d.tree), e.text.as_bytes(), "{}", e.name);
            assert!(d.normalizations.is_empty(), "{}", e.name);
        }
        assert_eq!(names().next(), Some(DEFAULT));
        assert!(example("nope").is_none());
    }

    #[test]
    fn t0_is_the_spec_tree() {
        let d = parse_dump(T0.as_bytes(), None).unwrap();
        assert!(d.tree.same_as(&crate::testutil::t0()));
    }
}
