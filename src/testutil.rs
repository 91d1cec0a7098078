//! Test helpers shared by the unit tests of several modules (compiled only for tests).

use crate::tree::flags::*;
use crate::tree::{Desc, NodeId, Tree};

/// Build a tree from (depth, start, end, name, flags, desc) rows, in /proc/iomem order.
pub fn build(rows: &[(usize, u64, u64, &str, u32, Desc)]) -> Tree {
    let mut t = Tree::new_iomem(64);
    let mut stack: Vec<NodeId> = vec![Tree::ROOT];
    for &(d, s, e, n, f, desc) in rows {
        stack.truncate(d + 1);
        let id = t.alloc(s, e, n.as_bytes(), f, desc);
        let p = *stack.last().unwrap();
        t.link_before(p, id, None);
        stack.push(id);
    }
    t
}

pub fn text(t: &Tree) -> String {
    let mut s = String::new();
    for (id, d) in t.walk(Tree::ROOT) {
        let r = t.get(id);
        s += &format!(
            "{}{:08x}-{:08x} : {}\n",
            "  ".repeat(d.min(5)),
            r.start,
            r.end,
            t.name_lossy(id)
        );
    }
    s
}

pub const RAM: u32 = IORESOURCE_SYSTEM_RAM | IORESOURCE_BUSY;
pub const MEMB: u32 = IORESOURCE_MEM | IORESOURCE_BUSY;

/// T0 of kernel-semantics.md §6.0 (flags per §5.6).
pub fn t0() -> Tree {
    build(&[
        (0, 0x0, 0xfff, "Reserved", MEMB, Desc::Reserved),
        (0, 0x1000, 0x9fbff, "System RAM", RAM, Desc::None),
        (0, 0x9fc00, 0x9ffff, "Reserved", MEMB, Desc::Reserved),
        (
            0,
            0xa0000,
            0xbffff,
            "PCI Bus 0000:00",
            IORESOURCE_MEM | IORESOURCE_WINDOW,
            Desc::None,
        ),
        (
            0,
            0xc0000,
            0xc97ff,
            "Video ROM",
            MEMB | IORESOURCE_READONLY,
            Desc::None,
        ),
        (
            0,
            0xc9800,
            0xca5ff,
            "Adapter ROM",
            MEMB | IORESOURCE_READONLY,
            Desc::None,
        ),
        (0, 0xf0000, 0xfffff, "Reserved", MEMB, Desc::Reserved),
        (
            1,
            0xf0000,
            0xfffff,
            "System ROM",
            MEMB | IORESOURCE_READONLY,
            Desc::None,
        ),
        (0, 0x100000, 0x9fffffff, "System RAM", RAM, Desc::None),
        (1, 0x1000000, 0x1e071d0, "Kernel code", RAM, Desc::None),
        (1, 0x1e071d1, 0x27dfdff, "Kernel data", RAM, Desc::None),
        (1, 0x2dc6000, 0x305dfff, "Kernel bss", RAM, Desc::None),
        (
            0,
            0xa0000000,
            0xafffffff,
            "Persistent Memory (legacy)",
            IORESOURCE_MEM,
            Desc::PersistentMemoryLegacy,
        ),
        (0, 0xb0000000, 0xbffdffff, "System RAM", RAM, Desc::None),
        (
            0,
            0xbffe0000,
            0xbfffffff,
            "Reserved",
            IORESOURCE_MEM,
            Desc::Reserved,
        ),
        (
            0,
            0xc0000000,
            0xfebfffff,
            "PCI Bus 0000:00",
            IORESOURCE_MEM | IORESOURCE_WINDOW,
            Desc::None,
        ),
    ])
}
