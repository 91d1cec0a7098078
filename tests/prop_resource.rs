//! Property tests over the `kernel/resource.c` operations (kernel-semantics.md §1.2, §2).
//!
//! Random sequences of request/release/insert/remove/adjust/release_mem_region_adjustable on a
//! small address space (so that conflicts, nesting, adoption and splits are frequent). After
//! every operation the tree invariants hold (children inside their parent, siblings sorted and
//! disjoint, parent links consistent), and an operation the kernel refuses leaves the tree
//! exactly as it was (`Tree::same_as`). Bounded: the whole file runs in about a second.

use iomem_sim::kernel::resource::*;
use iomem_sim::kernel::{KernelVersion, Trace};
use iomem_sim::tree::flags::*;
use iomem_sim::tree::{Desc, NodeId, Tree};
use proptest::prelude::*;

/// Invariants 2 and 3 of kernel-semantics.md §1.2, plus the arena's own consistency (every
/// child's parent link points back, no node is reachable twice). Iterative: no recursion.
pub fn check_invariants(t: &Tree) -> Result<(), String> {
    let mut seen = std::collections::HashSet::new();
    let mut stack = vec![Tree::ROOT];
    while let Some(p) = stack.pop() {
        let pr = t.get(p);
        if t.is_unsorted(p) {
            return Err(format!(
                "node {p:?} marked unsorted in a tree built only by kernel operations"
            ));
        }
        let mut prev: Option<NodeId> = None;
        for c in t.children(p) {
            if !seen.insert(c) {
                return Err(format!("{c:?} reachable twice"));
            }
            if t.parent(c) != Some(p) {
                return Err(format!(
                    "{c:?} is a child of {p:?} but its parent link is {:?}",
                    t.parent(c)
                ));
            }
            let cr = t.get(c);
            if cr.end < cr.start {
                return Err(format!("{c:?} has end < start"));
            }
            if !(pr.start <= cr.start && cr.end <= pr.end) {
                return Err(format!(
                    "child [{:x}-{:x}] outside parent [{:x}-{:x}]",
                    cr.start, cr.end, pr.start, pr.end
                ));
            }
            if let Some(q) = prev {
                let qr = t.get(q);
                if qr.end >= cr.start {
                    return Err(format!(
                        "siblings [{:x}-{:x}] and [{:x}-{:x}] unsorted or overlapping",
                        qr.start, qr.end, cr.start, cr.end
                    ));
                }
            }
            prev = Some(c);
            stack.push(c);
        }
    }
    if seen.len() != t.len() {
        return Err(format!(
            "walk found {} nodes, len() says {}",
            seen.len(),
            t.len()
        ));
    }
    Ok(())
}

#[derive(Clone, Debug)]
enum Op {
    RequestRegion {
        start: u64,
        size: u64,
        flags: u32,
    },
    ReleaseRegion {
        start: u64,
        size: u64,
    },
    Insert {
        start: u64,
        size: u64,
        flags: u32,
        desc: Desc,
    },
    ExpandToFit {
        start: u64,
        size: u64,
    },
    Remove {
        pick: usize,
    },
    Release {
        pick: usize,
    },
    Adjust {
        pick: usize,
        start: u64,
        size: u64,
    },
    Rmra {
        start: u64,
        size: u64,
    },
    RemoveUnlinked,
}

/// Addresses on a 0x100 grid (plus an odd offset now and then) in `[0, 0x12000)`: the root ends
/// at 0xffff, so some requests fall outside it.
fn addr() -> impl Strategy<Value = u64> {
    prop_oneof![
        8 => (0u64..0x120).prop_map(|k| k * 0x100),
        1 => 0u64..0x12000,
    ]
}

fn size() -> impl Strategy<Value = u64> {
    prop_oneof![
        8 => (1u64..0x20).prop_map(|k| k * 0x100),
        1 => Just(0u64),
        1 => 1u64..0x3000,
        1 => Just(u64::MAX),
    ]
}

fn req_flags() -> impl Strategy<Value = u32> {
    prop_oneof![
        Just(0),
        Just(IORESOURCE_MEM),
        Just(IORESOURCE_SYSTEM_RAM),
        Just(IORESOURCE_MUXED),
        Just(IORESOURCE_EXCLUSIVE),
    ]
}

fn node_flags() -> impl Strategy<Value = u32> {
    prop_oneof![
        Just(IORESOURCE_MEM),
        Just(IORESOURCE_MEM | IORESOURCE_BUSY),
        Just(IORESOURCE_SYSTEM_RAM | IORESOURCE_BUSY),
        Just(IORESOURCE_MEM | IORESOURCE_WINDOW),
        Just(IORESOURCE_MEM | IORESOURCE_BUSY | IORESOURCE_MUXED),
    ]
}

fn desc() -> impl Strategy<Value = Desc> {
    prop_oneof![
        4 => Just(Desc::None),
        1 => Just(Desc::PersistentMemoryLegacy),
        1 => Just(Desc::DevicePrivateMemory),
        1 => Just(Desc::SoftReserved),
    ]
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        4 => (addr(), size(), req_flags()).prop_map(|(start, size, flags)| Op::RequestRegion { start, size, flags }),
        2 => (addr(), size()).prop_map(|(start, size)| Op::ReleaseRegion { start, size }),
        4 => (addr(), size(), node_flags(), desc()).prop_map(|(start, size, flags, desc)| Op::Insert { start, size, flags, desc }),
        1 => (addr(), size()).prop_map(|(start, size)| Op::ExpandToFit { start, size }),
        1 => any::<usize>().prop_map(|pick| Op::Remove { pick }),
        1 => any::<usize>().prop_map(|pick| Op::Release { pick }),
        2 => (any::<usize>(), addr(), size()).prop_map(|(pick, start, size)| Op::Adjust { pick, start, size }),
        2 => (addr(), size()).prop_map(|(start, size)| Op::Rmra { start, size }),
        1 => Just(Op::RemoveUnlinked),
    ]
}

fn version() -> impl Strategy<Value = KernelVersion> {
    prop_oneof![
        Just("4.15"),
        Just("5.0"),
        Just("5.10"),
        Just("5.10.0"),
        Just("6.1"),
        Just("6.3"),
        Just("6.18")
    ]
    .prop_map(|s| s.parse().expect("version literal"))
}

fn pick_linked(t: &Tree, pick: usize) -> Option<NodeId> {
    let all: Vec<NodeId> = t.descendants(Tree::ROOT).collect();
    if all.is_empty() {
        None
    } else {
        Some(all[pick % all.len()])
    }
}

fn end_of(start: u64, size: u64) -> u64 {
    start.wrapping_add(size).wrapping_sub(1)
}

/// Apply `op`; returns whether the kernel accepted it (changed the tree, or might have).
fn apply(t: &mut Tree, op: &Op, v: KernelVersion) -> bool {
    let tr = &mut Trace::new();
    match *op {
        Op::RequestRegion { start, size, flags } => {
            __request_region(t, Tree::ROOT, start, size, b"req", flags, tr).is_ok()
        }
        Op::ReleaseRegion { start, size } => {
            __release_region(t, Tree::ROOT, start, size, v, tr).is_ok()
        }
        Op::Insert {
            start,
            size,
            flags,
            desc,
        } => {
            let id = t.alloc(start, end_of(start, size), b"ins", flags, desc);
            let ok = insert_resource(t, Tree::ROOT, id, tr).is_ok();
            if !ok {
                t.free(id);
            }
            ok
        }
        Op::ExpandToFit { start, size } => {
            let id = t.alloc(
                start,
                end_of(start, size),
                b"fit",
                IORESOURCE_MEM,
                Desc::None,
            );
            let ok = insert_resource_expand_to_fit(t, Tree::ROOT, id, tr);
            if !ok {
                t.free(id);
            }
            ok
        }
        Op::Remove { pick } => match pick_linked(t, pick) {
            Some(id) => remove_resource(t, id).is_ok(),
            None => false,
        },
        Op::Release { pick } => match pick_linked(t, pick) {
            Some(id) => release_resource(t, id).is_ok(),
            None => false,
        },
        // `__adjust_resource` has no `end < start` check in any version read (size 0 or a
        // wrapping size is accepted by the kernel and mirrored by the simulator), so such a
        // call would link an inverted node: a caller bug the kernel does not guard against.
        // Out of scope for the invariants; `adjust_accepts_an_inverted_range_like_the_kernel`
        // pins the behaviour.
        Op::Adjust { size: 0, .. } => false,
        Op::Adjust { start, size, .. } if start.checked_add(size - 1).is_none() => false,
        Op::Adjust { pick, start, size } => match pick_linked(t, pick) {
            Some(id) => adjust_resource(t, id, start, size).is_ok(),
            None => false,
        },
        // Same for `release_mem_region_adjustable`: `end = start + size - 1` unchecked, so an
        // inverted range makes the kernel's split produce overlapping pieces. Its only caller
        // (memory hot-remove) passes whole memory blocks, so this is outside its contract.
        Op::Rmra { size: 0, .. } => false,
        Op::Rmra { start, size } if start.checked_add(size - 1).is_none() => false,
        Op::Rmra { start, size } => {
            release_mem_region_adjustable(t, start, size, v, tr) != Adjusted::Nothing
        }
        Op::RemoveUnlinked => {
            let id = t.alloc(0x100, 0x1ff, b"loose", IORESOURCE_MEM, Desc::None);
            let ok = remove_resource(t, id).is_ok() || release_resource(t, id).is_ok();
            t.free(id);
            ok
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 400, max_shrink_iters: 2000, ..ProptestConfig::default() })]

    /// After any sequence of resource operations the §1.2 invariants hold, and every refused
    /// operation leaves the tree identical.
    #[test]
    fn resource_ops_keep_invariants_and_refusals_change_nothing(
        v in version(),
        ops in proptest::collection::vec(op(), 1..60),
    ) {
        let mut t = Tree::new(iomem_sim::tree::RootKind::Iomem, 0xffff);
        for op in &ops {
            let before = t.clone();
            let accepted = apply(&mut t, op, v);
            if let Err(e) = check_invariants(&t) {
                return Err(TestCaseError::fail(format!("after {op:?}: {e}")));
            }
            if !accepted {
                prop_assert!(t.same_as(&before), "refused {op:?} changed the tree");
                prop_assert_eq!(t.len(), before.len());
            }
        }
    }

    /// request_region then release_region of the same range is the identity.
    #[test]
    fn request_then_release_is_identity(
        setup in proptest::collection::vec(op(), 0..30),
        start in addr(),
        size in size(),
        flags in req_flags(),
    ) {
        let v: KernelVersion = "6.1".parse().expect("version");
        let mut t = Tree::new(iomem_sim::tree::RootKind::Iomem, 0xffff);
        for op in &setup {
            apply(&mut t, op, v);
        }
        let before = t.clone();
        if __request_region(&mut t, Tree::ROOT, start, size, b"pair", flags, &mut Trace::new()).is_ok() {
            prop_assert!(__release_region(&mut t, Tree::ROOT, start, size, v, &mut Trace::new()).is_ok());
            prop_assert!(t.same_as(&before));
        }
    }

    /// insert_resource then remove_resource of the same node is the identity (the inverse pair
    /// of kernel/resource.c: children adopted on insert are lifted back on remove).
    #[test]
    fn insert_then_remove_is_identity(
        setup in proptest::collection::vec(op(), 0..30),
        start in addr(),
        size in size(),
        flags in node_flags(),
    ) {
        let v: KernelVersion = "6.1".parse().expect("version");
        let mut t = Tree::new(iomem_sim::tree::RootKind::Iomem, 0xffff);
        for op in &setup {
            apply(&mut t, op, v);
        }
        let before = t.clone();
        let id = t.alloc(start, end_of(start, size), b"ins", flags, Desc::None);
        if insert_resource(&mut t, Tree::ROOT, id, &mut Trace::new()).is_ok() {
            prop_assert!(remove_resource(&mut t, id).is_ok());
            prop_assert!(t.same_as(&before));
        }
    }
}

/// `__adjust_resource` computes `end = start + size - 1` and never checks `end < start`
/// (kernel/resource.c, every version read): size 0 is accepted and leaves an inverted node.
#[test]
fn adjust_accepts_an_inverted_range_like_the_kernel() {
    let mut t = Tree::new(iomem_sim::tree::RootKind::Iomem, 0xffff);
    let id = __request_region(
        &mut t,
        Tree::ROOT,
        0x1000,
        0x100,
        b"r",
        0,
        &mut Trace::new(),
    )
    .expect("free range");
    assert!(adjust_resource(&mut t, id, 0x1000, 0).is_ok());
    assert_eq!((t.get(id).start, t.get(id).end), (0x1000, 0xfff));
}

/// The kernel's `__request_resource` loop (kernel/resource.c, the same in every version
/// read), over a list of `(start, end)`:
/// `for (;;) { tmp = *p; if (!tmp || tmp->start > end) { new->sibling = tmp; *p = new;
/// return NULL; } p = &tmp->sibling; if (tmp->end < start) continue; return tmp; }`.
/// Returns the conflict's index, or links `new` and returns `None`.
fn kernel_request_resource(list: &mut Vec<(u64, u64)>, new: (u64, u64)) -> Option<usize> {
    let (start, end) = new;
    let mut i = 0;
    loop {
        match list.get(i) {
            None => break,
            Some(&(s, _)) if s > end => break,
            Some(&(_, e)) if e < start => i += 1,
            Some(_) => return Some(i),
        }
    }
    list.insert(i, new);
    None
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 300, ..ProptestConfig::default() })]

    /// `__request_resource` on a sorted list (two lookups and an insert between them) finds
    /// the conflict the kernel's linear scan finds and links where the scan links, on lists
    /// short (a `Vec`) and long (a B-tree).
    #[test]
    fn request_resource_stops_where_the_kernels_scan_stops(
        ranges in proptest::collection::vec((0u64..0x2000, 0u64..0x40), 0..300),
    ) {
        let mut t = Tree::new(iomem_sim::tree::RootKind::Iomem, 0xffff);
        let mut model: Vec<(u64, u64)> = Vec::new();
        for (start, len) in ranges {
            let end = start + len;
            let id = t.alloc(start, end, b"r", IORESOURCE_MEM | IORESOURCE_BUSY, Desc::None);
            let got = __request_resource(&mut t, Tree::ROOT, id).map(|c| {
                let r = t.get(c);
                (r.start, r.end)
            });
            let want = kernel_request_resource(&mut model, (start, end)).map(|i| model[i]);
            prop_assert_eq!(got, want);
            if got.is_some() {
                t.free(id);
            }
            let listed: Vec<(u64, u64)> = t
                .children(Tree::ROOT)
                .map(|c| (t.get(c).start, t.get(c).end))
                .collect();
            prop_assert_eq!(&listed, &model);
        }
        check_invariants(&t).map_err(TestCaseError::fail)?;
    }
}
