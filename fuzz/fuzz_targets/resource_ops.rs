//! Bytes → a sequence of `kernel/resource.c` operations on a small iomem tree. Must not panic;
//! after every operation the §1.2 invariants hold and a refused operation changes nothing.
#![no_main]

use iomem_sim::kernel::resource::*;
use iomem_sim::kernel::{KernelVersion, Trace};
use iomem_sim::tree::flags::*;
use iomem_sim::tree::{Desc, NodeId, RootKind, Tree};
use libfuzzer_sys::fuzz_target;

struct Bytes<'a>(&'a [u8]);
impl Bytes<'_> {
    fn u8(&mut self) -> Option<u8> {
        let (&b, rest) = self.0.split_first()?;
        self.0 = rest;
        Some(b)
    }
    fn u16(&mut self) -> Option<u16> {
        Some(u16::from(self.u8()?) << 8 | u16::from(self.u8()?))
    }
    /// An address: mostly on a 0x100 grid so that ranges collide.
    fn addr(&mut self) -> Option<u64> {
        let v = self.u16()?;
        Some(if v & 0x8000 == 0 {
            u64::from(v & 0x1ff) << 8
        } else {
            u64::from(v & 0x7fff) * 3
        })
    }
    fn size(&mut self) -> Option<u64> {
        let v = self.u16()?;
        Some(match v >> 14 {
            0 | 1 => u64::from(v & 0x3f) << 8,
            2 => u64::from(v & 0x3fff),
            _ => u64::MAX - u64::from(v & 3),
        })
    }
}

const FLAGS: [u32; 6] = [
    0,
    IORESOURCE_MEM,
    IORESOURCE_MEM | IORESOURCE_BUSY,
    IORESOURCE_SYSTEM_RAM | IORESOURCE_BUSY,
    IORESOURCE_MEM | IORESOURCE_WINDOW,
    IORESOURCE_MEM | IORESOURCE_BUSY | IORESOURCE_MUXED,
];
const VERSIONS: [&str; 6] = ["4.15", "5.0", "5.10.0", "5.10", "6.1", "6.18"];

fn check(t: &Tree) {
    let mut stack = vec![Tree::ROOT];
    let mut n = 0usize;
    while let Some(p) = stack.pop() {
        let pr = t.get(p);
        let mut prev: Option<NodeId> = None;
        for c in t.children(p) {
            n += 1;
            assert_eq!(t.parent(c), Some(p));
            let cr = t.get(c);
            assert!(
                pr.start <= cr.start && cr.end <= pr.end,
                "child outside parent"
            );
            if let Some(q) = prev {
                assert!(t.get(q).end < cr.start, "siblings overlap or unsorted");
            }
            prev = Some(c);
            stack.push(c);
        }
    }
    assert_eq!(n, t.len());
}

fn wraps(start: u64, size: u64) -> bool {
    size == 0 || start.checked_add(size - 1).is_none()
}

fuzz_target!(|data: &[u8]| {
    let mut b = Bytes(data);
    let Some(v0) = b.u8() else { return };
    let v: KernelVersion = VERSIONS[usize::from(v0) % VERSIONS.len()]
        .parse()
        .expect("literal");
    let mut t = Tree::new(RootKind::Iomem, 0xffff);
    while let Some(opc) = b.u8() {
        let before = t.clone();
        let tr = &mut Trace::new();
        let pick = |t: &Tree, k: u8| -> Option<NodeId> {
            let all: Vec<NodeId> = t.descendants(Tree::ROOT).collect();
            (!all.is_empty()).then(|| all[usize::from(k) % all.len()])
        };
        let accepted = match opc % 9 {
            0 => {
                let (Some(s), Some(n), Some(f)) = (b.addr(), b.size(), b.u8()) else {
                    return;
                };
                __request_region(
                    &mut t,
                    Tree::ROOT,
                    s,
                    n,
                    b"r",
                    FLAGS[usize::from(f) % 6] & !IORESOURCE_BUSY,
                    tr,
                )
                .is_ok()
            }
            1 => {
                let (Some(s), Some(n)) = (b.addr(), b.size()) else {
                    return;
                };
                __release_region(&mut t, Tree::ROOT, s, n, v, tr).is_ok()
            }
            2 => {
                let (Some(s), Some(n), Some(f)) = (b.addr(), b.size(), b.u8()) else {
                    return;
                };
                let id = t.alloc(
                    s,
                    s.wrapping_add(n).wrapping_sub(1),
                    b"i",
                    FLAGS[usize::from(f) % 6],
                    Desc::None,
                );
                let ok = insert_resource(&mut t, Tree::ROOT, id, tr).is_ok();
                if !ok {
                    t.free(id);
                }
                ok
            }
            3 => {
                let (Some(s), Some(n)) = (b.addr(), b.size()) else {
                    return;
                };
                let id = t.alloc(
                    s,
                    s.wrapping_add(n).wrapping_sub(1),
                    b"x",
                    IORESOURCE_MEM,
                    Desc::None,
                );
                let ok = insert_resource_expand_to_fit(&mut t, Tree::ROOT, id, tr);
                if !ok {
                    t.free(id);
                }
                ok
            }
            4 => {
                let Some(k) = b.u8() else { return };
                pick(&t, k).is_some_and(|id| remove_resource(&mut t, id).is_ok())
            }
            5 => {
                let Some(k) = b.u8() else { return };
                pick(&t, k).is_some_and(|id| release_resource(&mut t, id).is_ok())
            }
            6 => {
                let (Some(k), Some(s), Some(n)) = (b.u8(), b.addr(), b.size()) else {
                    return;
                };
                // Inverted ranges are accepted by the kernel's __adjust_resource (no check):
                // outside the invariants, see tests/prop_resource.rs.
                !wraps(s, n)
                    && pick(&t, k).is_some_and(|id| adjust_resource(&mut t, id, s, n).is_ok())
            }
            7 => {
                let (Some(s), Some(n)) = (b.addr(), b.size()) else {
                    return;
                };
                !wraps(s, n)
                    && release_mem_region_adjustable(&mut t, s, n, v, tr) != Adjusted::Nothing
            }
            _ => {
                let id = t.alloc(0x100, 0x1ff, b"loose", IORESOURCE_MEM, Desc::None);
                let ok = remove_resource(&mut t, id).is_ok();
                t.free(id);
                ok
            }
        };
        check(&t);
        if !accepted {
            assert!(t.same_as(&before), "refused operation changed the tree");
        }
    }
});
