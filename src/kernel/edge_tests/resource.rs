//! Edge tests for `src/kernel/resource.rs` (`kernel/resource.c`, read in
//! /work/ksrc/linux-source-6.1/kernel/resource.c; the quoted lines are identical in 5.10 and
//! 6.12 unless said otherwise).

use super::v;
use crate::kernel::resource::*;
use crate::kernel::{Errno, Trace};
use crate::testutil::{MEMB, RAM, build, text};
use crate::tree::flags::*;
use crate::tree::{Desc, NodeId, RootKind, Tree};

/// Two top-level siblings with a one-page hole: A [1000-1fff], B [3000-3fff], and a non-BUSY
/// container P [10000-1ffff] with three BUSY children C1..C3 at 11000, 12000, 13000.
fn siblings() -> Tree {
    build(&[
        (0, 0x1000, 0x1fff, "A", MEMB, Desc::None),
        (0, 0x3000, 0x3fff, "B", MEMB, Desc::None),
        (0, 0x10000, 0x1ffff, "P", IORESOURCE_MEM, Desc::None),
        (1, 0x11000, 0x11fff, "C1", MEMB, Desc::None),
        (1, 0x12000, 0x12fff, "C2", MEMB, Desc::None),
        (1, 0x13000, 0x13fff, "C3", MEMB, Desc::None),
    ])
}

fn id(t: &Tree, name: &str) -> NodeId {
    t.find_name(name).unwrap()
}

// ---------------------------------------------------------------- __request_resource

/// `if (!tmp || tmp->start > end) { ... *p = new; ... return NULL; }` and
/// `if (tmp->end < start) continue;`: a range that touches A's end and B's start without
/// overlapping either is linked between them.
#[test]
fn request_resource_exact_touch_both_ends_links() {
    let mut t = siblings();
    let new = t.alloc(0x2000, 0x2fff, b"new", MEMB, Desc::None);
    assert_eq!(__request_resource(&mut t, Tree::ROOT, new), None);
    let order: Vec<_> = t
        .children(Tree::ROOT)
        .map(|c| t.name_lossy(c).into_owned())
        .collect();
    assert_eq!(order, ["A", "new", "B", "P"]);
}

/// `if (tmp->end < start) continue; return tmp;`: overlapping A's last byte is a conflict.
#[test]
fn request_resource_one_byte_overlap_at_start_conflicts() {
    let mut t = siblings();
    let before = text(&t);
    let new = t.alloc(0x1fff, 0x2fff, b"new", MEMB, Desc::None);
    assert_eq!(
        __request_resource(&mut t, Tree::ROOT, new),
        Some(id(&t, "A"))
    );
    assert_eq!(text(&t), before);
    assert!(!t.is_linked(new));
}

/// `if (!tmp || tmp->start > end)`: B starting at exactly `end` is not "after" → conflict.
#[test]
fn request_resource_one_byte_overlap_at_end_conflicts() {
    let mut t = siblings();
    let before = text(&t);
    let new = t.alloc(0x2000, 0x3000, b"new", MEMB, Desc::None);
    assert_eq!(
        __request_resource(&mut t, Tree::ROOT, new),
        Some(id(&t, "B"))
    );
    assert_eq!(text(&t), before);
}

/// Equal range: `tmp->end < start` is false → `return tmp`.
#[test]
fn request_resource_equal_range_conflicts() {
    let mut t = siblings();
    let new = t.alloc(0x1000, 0x1fff, b"new", MEMB, Desc::None);
    assert_eq!(
        __request_resource(&mut t, Tree::ROOT, new),
        Some(id(&t, "A"))
    );
}

/// `if (start < root->start) return root; if (end > root->end) return root;`: a range
/// filling the root exactly is inside; one byte beyond either edge is "outside".
#[test]
fn request_resource_root_bounds_are_inclusive() {
    let mut t = siblings();
    let p = id(&t, "P");
    // P has children; use C2's slot emptied: a fresh container.
    let q = t.alloc(0x40000, 0x4ffff, b"Q", IORESOURCE_MEM, Desc::None);
    t.link_sorted(Tree::ROOT, q);
    let full = t.alloc(0x40000, 0x4ffff, b"full", MEMB, Desc::None);
    assert_eq!(__request_resource(&mut t, q, full), None);
    let low = t.alloc(0xffff, 0x10fff, b"low", MEMB, Desc::None);
    assert_eq!(__request_resource(&mut t, p, low), Some(p));
    let high = t.alloc(0x1f000, 0x20000, b"high", MEMB, Desc::None);
    assert_eq!(__request_resource(&mut t, p, high), Some(p));
}

/// `if (end < start) return root;` — but a one-byte range (`end == start`) is fine; and the
/// last addressable byte of the root can be requested.
#[test]
fn request_resource_end_before_start_and_single_byte() {
    let mut t = Tree::new(RootKind::Ioport, 0xffff);
    let bad = t.alloc(0x101, 0x100, b"bad", IORESOURCE_IO, Desc::None);
    assert_eq!(
        __request_resource(&mut t, Tree::ROOT, bad),
        Some(Tree::ROOT)
    );
    let one = t.alloc(0x100, 0x100, b"one", IORESOURCE_IO, Desc::None);
    assert_eq!(__request_resource(&mut t, Tree::ROOT, one), None);
    let last = t.alloc(0xffff, 0xffff, b"last", IORESOURCE_IO, Desc::None);
    assert_eq!(__request_resource(&mut t, Tree::ROOT, last), None);
}

/// `request_resource`: `conflict = request_resource_conflict(root, new); return conflict ?
/// -EBUSY : 0;` — both "outside root" and a sibling conflict are -EBUSY, naming the blocker.
#[test]
fn request_resource_errors_name_the_blocker() {
    let mut t = siblings();
    let p = id(&t, "P");
    let out = t.alloc(0x1f000, 0x20000, b"out", MEMB, Desc::None);
    let mut tr = Trace::new();
    let e = request_resource(&mut t, p, out, &mut tr).unwrap_err();
    assert_eq!((e.errno, e.func), (Errno::EBUSY, "request_resource"));
    assert_eq!(e.conflict.unwrap().name, "P");
    assert!(e.reason.starts_with("outside \"P\""), "{}", e.reason);
    assert!(tr.steps[0].text().ends_with("→ -EBUSY"));
    let dup = t.alloc(0x12000, 0x12000, b"dup", MEMB, Desc::None);
    let e = request_resource(&mut t, p, dup, &mut Trace::new()).unwrap_err();
    assert_eq!(e.reason, "conflict with \"C2\" [12000-12fff]");
    let ok = t.alloc(0x14000, 0x14fff, b"ok", MEMB, Desc::None);
    let mut tr = Trace::new();
    request_resource(&mut t, p, ok, &mut tr).unwrap();
    assert_eq!(t.parent(ok), Some(p));
    assert_eq!(tr.steps[0].func, "__request_resource");
    assert!(tr.steps[0].text().ends_with("→ linked"));
}

// ---------------------------------------------------------------- __insert_resource

/// `if ((first->start > new->start) || (first->end < new->end)) break;` — a container that
/// shares the new range's start (or end) still contains it: descend, become its child.
#[test]
fn insert_resource_descends_into_parent_sharing_start_or_end() {
    for (s, e) in [(0x10000, 0x10fff), (0x1f000, 0x1ffff), (0x10000, 0x10000)] {
        let mut t = siblings();
        let p = id(&t, "P");
        let new = t.alloc(s, e, b"new", MEMB, Desc::None);
        let mut tr = Trace::new();
        insert_resource(&mut t, Tree::ROOT, new, &mut tr).unwrap();
        assert_eq!(t.parent(new), Some(p), "[{s:x}-{e:x}]");
        assert!(
            tr.steps[0]
                .text()
                .contains("contains the new range → descend"),
            "{:?}",
            tr.steps
        );
    }
}

/// `if ((first->start == new->start) && (first->end == new->end)) break;` then the run loop:
/// the new node becomes the parent of the identical one, even a BUSY one.
#[test]
fn insert_resource_identical_busy_range_is_adopted() {
    let mut t = siblings();
    let c2 = id(&t, "C2");
    let new = t.alloc(0x12000, 0x12fff, b"new", MEMB, Desc::None);
    let mut tr = Trace::new();
    insert_resource(&mut t, Tree::ROOT, new, &mut tr).unwrap();
    assert_eq!(t.parent(c2), Some(new));
    assert_eq!(t.parent(new), Some(id(&t, "P")));
    assert!(
        tr.steps
            .iter()
            .any(|s| s.text().contains("identical range"))
    );
    assert!(
        tr.steps
            .last()
            .unwrap()
            .text()
            .ends_with("adopting 1 node(s)")
    );
}

/// The run loop: `if (next->start < new->start || next->end > new->end) return next;` and
/// `if (next->sibling->start > new->end) break;` — exactly covering C1..C2 adopts two, C3
/// (which starts one byte after) stays a sibling.
#[test]
fn insert_resource_adopts_exactly_covered_run() {
    let mut t = siblings();
    let new = t.alloc(0x11000, 0x12fff, b"new", MEMB, Desc::None);
    let mut tr = Trace::new();
    insert_resource(&mut t, Tree::ROOT, new, &mut tr).unwrap();
    assert_eq!(t.parent(id(&t, "C1")), Some(new));
    assert_eq!(t.parent(id(&t, "C2")), Some(new));
    assert_eq!(t.parent(id(&t, "C3")), Some(id(&t, "P")));
    assert!(
        tr.steps
            .last()
            .unwrap()
            .text()
            .ends_with("adopting 2 node(s)")
    );
    let kids: Vec<_> = t.children(id(&t, "P")).collect();
    assert_eq!(kids, [new, id(&t, "C3")]);
}

/// `if (next->sibling->start > new->end) break;` is false when C3 starts at exactly
/// `new->end`: C3 joins the run and `next->end > new->end` makes it the conflict.
#[test]
fn insert_resource_one_byte_into_next_sibling_conflicts() {
    let mut t = siblings();
    let before = text(&t);
    let new = t.alloc(0x11000, 0x13000, b"new", MEMB, Desc::None);
    let e = insert_resource(&mut t, Tree::ROOT, new, &mut Trace::new()).unwrap_err();
    assert_eq!(e.conflict.unwrap().name, "C3");
    assert!(e.reason.starts_with("partial overlap with"));
    assert_eq!(text(&t), before);
}

/// `next->start < new->start`: starting one byte inside C1 is an unfixable partial overlap;
/// so is ending one byte inside C2 (`next->end > new->end`).
#[test]
fn insert_resource_one_byte_short_at_either_end_conflicts() {
    for (s, e, c) in [(0x11001, 0x12fff, "C1"), (0x11000, 0x12ffe, "C2")] {
        let mut t = siblings();
        let before = text(&t);
        let new = t.alloc(s, e, b"new", MEMB, Desc::None);
        let mut tr = Trace::new();
        let err = insert_resource(&mut t, Tree::ROOT, new, &mut tr).unwrap_err();
        assert_eq!(err.conflict.unwrap().name, c);
        assert!(
            tr.steps
                .last()
                .unwrap()
                .text()
                .ends_with("is unfixable → conflict")
        );
        assert_eq!(text(&t), before);
    }
}

/// `if (first == parent) return first;` — outside the root: -EBUSY naming the root.
#[test]
fn insert_resource_outside_root() {
    let mut t = build(&[(0, 0x1000, 0x1fff, "A", MEMB, Desc::None)]);
    let a = id(&t, "A");
    let new = t.alloc(0x1800, 0x2000, b"new", MEMB, Desc::None);
    let mut tr = Trace::new();
    let e = insert_resource(&mut t, a, new, &mut tr).unwrap_err();
    assert!(e.reason.starts_with("outside \"A\""), "{}", e.reason);
    assert_eq!(e.errno, Errno::EBUSY);
    assert!(tr.steps[0].text().ends_with("→ conflict"));
    assert_eq!(
        insert_resource_conflict(&mut t, a, new, &mut Trace::new()),
        Some(a)
    );
}

/// `insert_resource_expand_to_fit`: `if (!new->parent) return;` skipped when already
/// linked; `if (conflict == root) break;` — gives up, unlinked.
#[test]
fn expand_to_fit_gives_up_at_root_and_keeps_linked() {
    let mut t = Tree::new(RootKind::Iomem, 0xffff);
    let big = t.alloc(0xf000, 0x10000, b"big", MEMB, Desc::None);
    let mut tr = Trace::new();
    assert!(!insert_resource_expand_to_fit(
        &mut t,
        Tree::ROOT,
        big,
        &mut tr
    ));
    assert!(!t.is_linked(big));
    assert!(tr.log.is_empty());
    let mut t = siblings();
    let a = id(&t, "A");
    let before = text(&t);
    assert!(insert_resource_expand_to_fit(
        &mut t,
        Tree::ROOT,
        a,
        &mut Trace::new()
    ));
    assert_eq!(text(&t), before);
    // Expand over B by one byte: `new->start = min(new->start, conflict->start)` etc.
    let x = t.alloc(0x2000, 0x3000, b"x", MEMB, Desc::None);
    let mut tr = Trace::new();
    assert!(insert_resource_expand_to_fit(
        &mut t,
        Tree::ROOT,
        x,
        &mut tr
    ));
    assert_eq!((t.get(x).start, t.get(x).end), (0x2000, 0x3fff));
    assert_eq!(tr.log, ["Expanded resource x due to conflict with B"]);
}

// ---------------------------------------------------------------- __request_region

/// `res->flags = resource_type(parent) | resource_ext_type(parent); res->flags |=
/// IORESOURCE_BUSY | flags; res->desc = parent->desc;` — WINDOW/READONLY of the parent are
/// not inherited; SYSRAM (ext type) is.
#[test]
fn request_region_flags_and_desc_from_final_parent() {
    let mut t = build(&[
        (
            0,
            0x1000,
            0x1fff,
            "W",
            IORESOURCE_MEM | IORESOURCE_WINDOW | IORESOURCE_READONLY,
            Desc::Reserved,
        ),
        (0, 0x2000, 0x2fff, "S", IORESOURCE_SYSTEM_RAM, Desc::None),
    ]);
    let a = __request_region(
        &mut t,
        Tree::ROOT,
        0x1000,
        0x1000,
        b"a",
        0,
        &mut Trace::new(),
    )
    .unwrap();
    assert_eq!(t.get(a).flags, IORESOURCE_MEM | IORESOURCE_BUSY);
    assert_eq!(t.get(a).desc, Desc::Reserved);
    let b = __request_region(
        &mut t,
        Tree::ROOT,
        0x2000,
        0x800,
        b"b",
        IORESOURCE_EXCLUSIVE,
        &mut Trace::new(),
    )
    .unwrap();
    assert_eq!(t.get(b).flags, RAM | IORESOURCE_EXCLUSIVE);
    // At the top level the root's type (MEM) is taken.
    let c = __request_region(&mut t, Tree::ROOT, 0x8000, 1, b"c", 0, &mut Trace::new()).unwrap();
    assert_eq!(t.get(c).flags, MEMB);
    assert_eq!((t.get(c).start, t.get(c).end), (0x8000, 0x8000));
}

/// `res->end = start + n - 1;` then `__request_resource`'s `end > root->end`: the last byte
/// of the root can be claimed; one more is out of the root.
#[test]
fn request_region_last_addressable_byte() {
    let mut t = Tree::new(RootKind::Ioport, 0xffff);
    let mut tr = Trace::new();
    let r = request_region(&mut t, 0xffff, 1, b"last", 0, &mut tr).unwrap();
    assert_eq!(t.get(r).end, 0xffff);
    assert_eq!(tr.steps[0].func, "request_region");
    assert_eq!(tr.steps[0].text(), "__request_region(root, 0xffff, 0x1)");
    let mut t = Tree::new(RootKind::Ioport, 0xffff);
    let before = text(&t);
    let e = request_region(&mut t, 0xffff, 2, b"over", 0, &mut Trace::new()).unwrap_err();
    assert_eq!((e.errno, e.func), (Errno::EBUSY, "__request_region"));
    assert_eq!(e.reason, "range leaves the ioport root");
    assert_eq!(text(&t), before);
}

/// `n == 0` gives `end = start - 1 < start` → `__request_resource` returns the root → -EBUSY.
#[test]
fn request_region_zero_size_is_refused_naming_the_root() {
    let mut t = Tree::new_iomem(46);
    let mut tr = Trace::new();
    let e = request_region(&mut t, 0x1000, 0, b"z", 0, &mut tr).unwrap_err();
    assert_eq!(
        e.reason,
        "size 0 gives end < start: rejected by the iomem root"
    );
    assert_eq!(tr.steps[0].func, "request_mem_region");
    assert_eq!(t.len(), 0);
}

/// `if (conflict != parent) { if (!(conflict->flags & IORESOURCE_BUSY)) { parent = conflict;
/// continue; } }` — descends through a non-BUSY container sharing both edges; a BUSY one is
/// a refusal naming it.
#[test]
fn request_region_descends_non_busy_refuses_busy() {
    let mut t = siblings();
    let mut tr = Trace::new();
    let r = request_region(&mut t, 0x10000, 0x1000, b"r", 0, &mut tr).unwrap();
    assert_eq!(t.parent(r), Some(id(&t, "P")));
    assert!(tr.steps.iter().any(|s| s.func == "__request_region"
        && s.text() == "conflict \"P\" [10000-1ffff] not BUSY → descend"));
    assert!(tr.steps.last().unwrap().text().starts_with(
        "no conflict among the children of \"P\" [10000-1ffff] → inserted as its child"
    ));
    let before = text(&t);
    let mut tr = Trace::new();
    let e = request_region(&mut t, 0x11fff, 1, b"r2", 0, &mut tr).unwrap_err();
    assert_eq!(e.reason, "conflict with BUSY \"C1\" [11000-11fff]");
    assert_eq!(
        tr.steps.last().unwrap().text(),
        "conflict \"C1\" [11000-11fff] is BUSY → fail"
    );
    assert_eq!(text(&t), before);
    // Straddling P's end by one byte: descends into P, then leaves it.
    let e = request_region(&mut t, 0x1f000, 0x1001, b"r3", 0, &mut Trace::new()).unwrap_err();
    assert_eq!(e.reason, "range leaves \"P\" [10000-1ffff]");
    assert_eq!(e.conflict.unwrap().name, "P");
    assert_eq!(text(&t), before);
}

/// `if (conflict->flags & flags & IORESOURCE_MUXED)`: only when both are MUXED does the
/// caller wait; a MUXED request against a plain BUSY holder fails at once.
#[test]
fn request_region_muxed_needs_both_sides() {
    let mut t = Tree::new(RootKind::Ioport, 0xffff);
    request_region(&mut t, 0x2e, 2, b"plain", 0, &mut Trace::new()).unwrap();
    let r = __request_region(
        &mut t,
        Tree::ROOT,
        0x2f,
        1,
        b"m",
        IORESOURCE_MUXED,
        &mut Trace::new(),
    );
    assert!(matches!(r, Err(RegionRefusal::Busy(_))));
    let mut t = Tree::new(RootKind::Ioport, 0xffff);
    request_region(&mut t, 0x2e, 2, b"a", IORESOURCE_MUXED, &mut Trace::new()).unwrap();
    let mut tr = Trace::new();
    let e = request_region(&mut t, 0x2e, 1, b"b", IORESOURCE_MUXED, &mut tr).unwrap_err();
    assert!(
        e.reason.starts_with("MUXED \"a\" [2e-2f] is held"),
        "{}",
        e.reason
    );
    assert!(
        tr.steps
            .last()
            .unwrap()
            .text()
            .contains("is MUXED like the request")
    );
}

/// `if (conflict->desc == IORES_DESC_DEVICE_PRIVATE_MEMORY) pr_warn("Unaddressable device %s
/// %pR conflicts with %pR", ...)` — only for that desc.
#[test]
fn request_region_device_private_conflict_warns() {
    let mut t = build(&[
        (0, 0x10000, 0x1ffff, "hmm", MEMB, Desc::DevicePrivateMemory),
        (0, 0x20000, 0x2ffff, "other", MEMB, Desc::None),
    ]);
    let mut tr = Trace::new();
    request_region(&mut t, 0x10000, 0x1000, b"x", 0, &mut tr).unwrap_err();
    assert_eq!(tr.log.len(), 1);
    assert!(
        tr.log[0].starts_with("Unaddressable device hmm [mem "),
        "{}",
        tr.log[0]
    );
    let mut tr = Trace::new();
    request_region(&mut t, 0x20000, 0x1000, b"x", 0, &mut tr).unwrap_err();
    assert!(tr.log.is_empty());
}

// ---------------------------------------------------------------- __release_region

/// `if (res->start != start || res->end != end) break;` then `pr_warn("Trying to free
/// nonexistent resource <%pa-%pa>\n", &start, &end);` — one byte short at either end of a
/// BUSY node frees nothing; the exact range frees it.
#[test]
fn release_region_needs_the_exact_busy_range() {
    for (s, n) in [
        (0x1000, 0xfff),
        (0x1001, 0xfff),
        (0x1000, 0x1001),
        (0xfff, 0x1001),
    ] {
        let mut t = siblings();
        let before = text(&t);
        let mut tr = Trace::new();
        let e = __release_region(&mut t, Tree::ROOT, s, n, v("6.1"), &mut tr).unwrap_err();
        assert_eq!(e.errno, Errno::ENOENT);
        let end = s + n - 1;
        assert_eq!(
            tr.log,
            [format!(
                "Trying to free nonexistent resource <{s:#018x}-{end:#018x}>"
            )]
        );
        assert_eq!(e.log.as_deref(), Some(tr.log[0].as_str()));
        assert_eq!(text(&t), before, "[{s:x}+{n:x}]");
    }
    let mut t = siblings();
    let mut tr = Trace::new();
    __release_region(&mut t, Tree::ROOT, 0x1000, 0x1000, v("6.1"), &mut tr).unwrap();
    assert!(t.find_name("A").is_none());
    assert!(tr.log.is_empty());
    assert!(
        tr.steps
            .last()
            .unwrap()
            .text()
            .ends_with("matches exactly → released with its subtree")
    );
}

/// `if (!(res->flags & IORESOURCE_BUSY)) { p = &res->child; continue; }` — through the
/// non-BUSY container P (sharing its start) to the BUSY child with the exact range.
#[test]
fn release_region_descends_non_busy_container() {
    let mut t = siblings();
    let mut tr = Trace::new();
    __release_region(&mut t, Tree::ROOT, 0x11000, 0x1000, v("5.10"), &mut tr).unwrap();
    assert!(t.find_name("C1").is_none());
    assert!(t.find_name("C2").is_some());
    assert!(
        tr.steps[0]
            .text()
            .ends_with("contains the range and is not BUSY → descend")
    );
    // The last child, at P's end region, by exact range.
    __release_region(
        &mut t,
        Tree::ROOT,
        0x13000,
        0x1000,
        v("5.10"),
        &mut Trace::new(),
    )
    .unwrap();
    assert!(t.find_name("C3").is_none());
}

/// `end = start + n - 1` with `n == 0`: end is `start - 1`, nothing matches, the warning
/// shows the wrapped-back end.
#[test]
fn release_region_zero_size_warns() {
    let mut t = siblings();
    let mut tr = Trace::new();
    __release_region(&mut t, Tree::ROOT, 0x1000, 0, v("6.12"), &mut tr).unwrap_err();
    assert_eq!(
        tr.log,
        ["Trying to free nonexistent resource <0x0000000000001000-0x0000000000000fff>"]
    );
    assert!(t.find_name("A").is_some());
}

// ---------------------------------------------------------------- __adjust_resource

/// `if ((start < parent->start) || (end > parent->end)) goto out;` — ending exactly at the
/// parent's end (or starting at its start) is allowed; one byte beyond is -EBUSY.
#[test]
fn adjust_resource_parent_edges_inclusive() {
    let mut t = siblings();
    let c3 = id(&t, "C3");
    adjust_resource(&mut t, c3, 0x13000, 0xd000).unwrap();
    assert_eq!(t.get(c3).end, 0x1ffff);
    let e = adjust_resource(&mut t, c3, 0x13000, 0xd001).unwrap_err();
    assert_eq!(e.errno, Errno::EBUSY);
    assert_eq!(e.conflict.unwrap().name, "P");
    let c1 = id(&t, "C1");
    adjust_resource(&mut t, c1, 0x10000, 0x2000).unwrap();
    assert_eq!(t.get(c1).start, 0x10000);
    let e = adjust_resource(&mut t, c1, 0xffff, 0x2001).unwrap_err();
    assert!(e.reason.starts_with("new range leaves the parent"));
}

/// `if (res->sibling && (res->sibling->start <= end)) goto out;` and `if (start <=
/// tmp->end) goto out;` — touching a sibling is fine, one byte into it is -EBUSY.
#[test]
fn adjust_resource_sibling_edges() {
    let mut t = siblings();
    let c2 = id(&t, "C2");
    // Grow to exactly fill the gap: C1 ends 11fff, C3 starts 13000 — already touching; shrink
    // then regrow to the touching edges.
    adjust_resource(&mut t, c2, 0x12100, 0x100).unwrap();
    adjust_resource(&mut t, c2, 0x12000, 0x1000).unwrap();
    let e = adjust_resource(&mut t, c2, 0x12000, 0x1001).unwrap_err();
    assert_eq!(e.conflict.unwrap().name, "C3");
    assert!(e.reason.starts_with("new range reaches the next sibling"));
    let e = adjust_resource(&mut t, c2, 0x11fff, 0x1001).unwrap_err();
    assert_eq!(e.conflict.unwrap().name, "C1");
    assert!(
        e.reason
            .starts_with("new range reaches the previous sibling")
    );
    assert_eq!((t.get(c2).start, t.get(c2).end), (0x12000, 0x12fff));
}

/// `for (tmp = res->child; tmp; tmp = tmp->sibling) if ((tmp->start < start) || (tmp->end >
/// end)) goto out;` — children exactly at the new edges fit; one byte outside does not. An
/// unlinked resource (`if (!parent) goto skip;`) checks only its children.
#[test]
fn adjust_resource_children_edges_and_unlinked() {
    let mut t = siblings();
    let p = id(&t, "P");
    adjust_resource(&mut t, p, 0x11000, 0x3000).unwrap();
    assert_eq!((t.get(p).start, t.get(p).end), (0x11000, 0x13fff));
    let e = adjust_resource(&mut t, p, 0x11001, 0x2fff).unwrap_err();
    assert_eq!(e.conflict.unwrap().name, "C1");
    let e = adjust_resource(&mut t, p, 0x11000, 0x2fff).unwrap_err();
    assert_eq!(e.conflict.unwrap().name, "C3");
    assert!(e.reason.starts_with("child \"C3\""));
    let lone = t.alloc(0x50000, 0x50fff, b"lone", MEMB, Desc::None);
    adjust_resource(&mut t, lone, 0, 0x100).unwrap();
    assert_eq!((t.get(lone).start, t.get(lone).end), (0, 0xff));
}

// ---------------------------------------------------------------- release_mem_region_adjustable

fn ram_tree() -> Tree {
    // A hot-added, BUSY System RAM block at 4 GiB, 1 GiB, plus a non-BUSY MEM container.
    build(&[
        (0, 0x100000000, 0x13fffffff, "System RAM", RAM, Desc::None),
        (
            0,
            0x200000000,
            0x23fffffff,
            "dax0.0",
            IORESOURCE_MEM | IORESOURCE_SYSRAM,
            Desc::None,
        ),
        (
            1,
            0x200000000,
            0x20fffffff,
            "System RAM (kmem)",
            RAM,
            Desc::None,
        ),
    ])
}

/// The four outcomes and their exact new edges: `__adjust_resource(res, end + 1, res->end -
/// end)`, `__adjust_resource(res, res->start, start - res->start)`, the split's
/// `new_res->start = end + 1; new_res->end = res->end;` with name, flags and desc copied.
#[test]
fn rmra_outcomes_edges() {
    let k = v("6.12");
    let mut t = ram_tree();
    let ram = t.find_range(0x100000000, 0x13fffffff).unwrap();
    let r = release_mem_region_adjustable(&mut t, 0x100000000, 0x8000000, k, &mut Trace::new());
    assert_eq!(r, Adjusted::StartMoved(ram));
    assert_eq!(
        (t.get(ram).start, t.get(ram).end),
        (0x108000000, 0x13fffffff)
    );
    let r = release_mem_region_adjustable(&mut t, 0x138000000, 0x8000000, k, &mut Trace::new());
    assert_eq!(r, Adjusted::EndMoved(ram));
    assert_eq!(
        (t.get(ram).start, t.get(ram).end),
        (0x108000000, 0x137ffffff)
    );
    let mut tr = Trace::new();
    let r = release_mem_region_adjustable(&mut t, 0x110000000, 0x1000, k, &mut tr);
    let Adjusted::Split(lo, hi) = r else {
        panic!("{r:?}")
    };
    assert_eq!(lo, ram);
    assert_eq!((t.get(lo).start, t.get(lo).end), (0x108000000, 0x10fffffff));
    assert_eq!((t.get(hi).start, t.get(hi).end), (0x110001000, 0x137ffffff));
    assert_eq!(t.get(hi).name, t.get(lo).name);
    assert_eq!((t.get(hi).flags, t.get(hi).desc), (RAM, Desc::None));
    assert_eq!(t.next_sibling(lo), Some(hi));
    assert!(tr.steps[0].text().starts_with("range strictly inside"));
    let r = release_mem_region_adjustable(&mut t, 0x110001000, 0x27fff000, k, &mut Trace::new());
    assert_eq!(r, Adjusted::Removed(hi));
    assert!(!t.is_linked(hi));
}

/// `if (res->start >= end) break;` — a one-byte release at a resource's first byte has
/// `start == end == res->start`, so the loop stops before it: nothing is released (a quirk
/// of the kernel's comparison, kept).
#[test]
fn rmra_single_byte_at_start_finds_nothing() {
    let mut t = ram_tree();
    let before = text(&t);
    let r = release_mem_region_adjustable(&mut t, 0x100000000, 1, v("6.12"), &mut Trace::new());
    assert_eq!(r, Adjusted::Nothing);
    assert_eq!(text(&t), before);
    // One byte later is strictly inside → split.
    let r = release_mem_region_adjustable(&mut t, 0x100000001, 1, v("6.12"), &mut Trace::new());
    assert!(matches!(r, Adjusted::Split(..)), "{r:?}");
}

/// `if (res->start > start || res->end < end) { p = &res->sibling; continue; }` — a range
/// one byte past the resource's end (or before its start) does not fit: nothing.
#[test]
fn rmra_one_byte_beyond_either_edge_finds_nothing() {
    for (s, n) in [(0x138000000, 0x8000001), (0xfffffffff, 0x1001)] {
        let mut t = ram_tree();
        let before = text(&t);
        let r = release_mem_region_adjustable(&mut t, s, n, v("6.12"), &mut Trace::new());
        assert_eq!(r, Adjusted::Nothing, "[{s:x}+{n:x}]");
        assert_eq!(text(&t), before);
    }
}

/// `if (!(res->flags & IORESOURCE_BUSY)) { p = &res->child; continue; }` then the exact
/// match frees the child; `if (!(res->flags & IORESOURCE_MEM)) break;` stops at a non-MEM
/// container.
#[test]
fn rmra_descends_non_busy_and_stops_at_non_mem() {
    let mut t = ram_tree();
    let mut tr = Trace::new();
    let r = release_mem_region_adjustable(&mut t, 0x200000000, 0x10000000, v("6.12"), &mut tr);
    assert!(matches!(r, Adjusted::Removed(_)));
    assert!(t.find_name("System RAM (kmem)").is_none());
    assert!(tr.steps[0].text().ends_with("not BUSY → descend"));
    let mut t = build(&[(0, 0x1000, 0x1fff, "io-ish", IORESOURCE_BUSY, Desc::None)]);
    let before = text(&t);
    let mut tr = Trace::new();
    let r = release_mem_region_adjustable(&mut t, 0x1000, 0x1000, v("6.12"), &mut tr);
    assert_eq!(r, Adjusted::Nothing);
    assert!(tr.steps[0].text().ends_with("is not IORESOURCE_MEM → stop"));
    assert_eq!(text(&t), before);
}

/// `if (WARN_ON_ONCE((start < parent->start) || (end > parent->end))) return;` — the
/// iomem root's last byte is inside, one byte more is outside.
#[test]
fn rmra_root_bounds() {
    let mut t = Tree::new_iomem(32);
    let r = t.alloc(0xfffff000, 0xffffffff, b"System RAM", RAM, Desc::None);
    t.link_sorted(Tree::ROOT, r);
    let mut tr = Trace::new();
    let got = release_mem_region_adjustable(&mut t, 0xfffff000, 0x1001, v("6.12"), &mut tr);
    assert_eq!(got, Adjusted::Nothing);
    assert_eq!(
        tr.steps[0].text(),
        "range outside the iomem root → WARN, nothing done"
    );
    let got =
        release_mem_region_adjustable(&mut t, 0xfffff000, 0x1000, v("6.12"), &mut Trace::new());
    assert_eq!(got, Adjusted::Removed(r));
}

/// A failed `__adjust_resource` is `WARN_ON_ONCE` and no change: a child in the released
/// part blocks moving the start, the end, and the split.
#[test]
fn rmra_child_in_the_way_blocks_each_adjustment() {
    for (s, n) in [
        (0x100000000, 0x8000000),
        (0x138000000, 0x8000000),
        (0x120000000, 0x1000000),
    ] {
        let mut t = build(&[
            (0, 0x100000000, 0x13fffffff, "System RAM", RAM, Desc::None),
            (1, 0x100000000, 0x13fffffff, "child", RAM, Desc::None),
        ]);
        // The child spans everything: it is BUSY and contains the range, so the walk
        // stops at the parent (BUSY): the parent is the target and the child blocks it.
        let before = text(&t);
        let mut tr = Trace::new();
        let r = release_mem_region_adjustable(&mut t, s, n, v("6.12"), &mut tr);
        assert_eq!(r, Adjusted::Nothing, "[{s:x}+{n:x}]");
        assert!(
            tr.steps[0].text().contains("__adjust_resource failed"),
            "{:?}",
            tr.steps
        );
        assert_eq!(text(&t), before);
    }
}

/// The SYSRAM bail-out (`if (!(res->flags & IORESOURCE_SYSRAM)) break;`, v5.0–v6.2, gone
/// with the stable backport of "dax/kmem: Fix leak of memory-hotplug resources"; absent from
/// the Debian 5.10/6.1/6.12 sources read): both sides of each boundary.
#[test]
fn rmra_sysram_bailout_version_boundaries() {
    for (ver, bail) in [
        ("4.20", false),
        ("5.0", true),
        ("5.9", true),
        ("5.10.0", true),
        ("5.10.1", false),
        ("5.10", false),
        ("5.14", true),
        ("5.15.0", true),
        ("5.15.3", false),
        ("6.0", true),
        ("6.1.0", true),
        ("6.1.1", false),
        ("6.2", true),
        ("6.3", false),
        ("6.12", false),
    ] {
        assert_eq!(rmra_has_sysram_bailout(v(ver)), bail, "{ver}");
    }
    // The bail-out is taken before the MEM test: a MEM container without SYSRAM.
    let mut t = build(&[
        (
            0,
            0x100000000,
            0x13fffffff,
            "pmem",
            IORESOURCE_MEM,
            Desc::None,
        ),
        (
            1,
            0x100000000,
            0x10fffffff,
            "System RAM (kmem)",
            RAM,
            Desc::None,
        ),
    ]);
    let mut tr = Trace::new();
    let r = release_mem_region_adjustable(&mut t, 0x100000000, 0x10000000, v("5.9"), &mut tr);
    assert_eq!(r, Adjusted::Nothing);
    assert!(tr.steps[0].text().contains("lacks IORESOURCE_SYSRAM"));
    let r =
        release_mem_region_adjustable(&mut t, 0x100000000, 0x10000000, v("6.3"), &mut Trace::new());
    assert!(matches!(r, Adjusted::Removed(_)));
}

// ---------------------------------------------------------------- merge_system_ram_resource

const MRG: u32 = RAM | IORESOURCE_SYSRAM_MERGEABLE;

/// Three hot-added blocks, the outer two already merged-in (MERGEABLE), the middle one new.
fn three(mid_start: u64) -> Tree {
    build(&[
        (
            0,
            0x100000000,
            0x107ffffff,
            "System RAM (virtio_mem)",
            MRG,
            Desc::None,
        ),
        (
            0,
            mid_start,
            0x10fffffff,
            "System RAM (virtio_mem)",
            RAM,
            Desc::None,
        ),
        (
            0,
            0x110000000,
            0x117ffffff,
            "System RAM (virtio_mem)",
            MRG,
            Desc::None,
        ),
    ])
}

/// `return r1->flags == r2->flags && r1->end + 1 == r2->start && r1->name == r2->name &&
/// r1->desc == r2->desc && !r1->child && !r2->child;` — all true: the middle block merges
/// with both neighbours into one node (next absorbed first, then the previous absorbs it).
#[test]
fn merge_with_both_neighbours() {
    let mut t = three(0x108000000);
    let mid = t.find_range(0x108000000, 0x10fffffff).unwrap();
    let prev = t.find_range(0x100000000, 0x107ffffff).unwrap();
    let mut tr = Trace::new();
    let got = merge_system_ram_resource(&mut t, mid, &mut tr);
    assert_eq!(got, prev);
    assert_eq!(text(&t), "100000000-117ffffff : System RAM (virtio_mem)\n");
    assert_eq!(t.get(prev).flags, MRG);
    assert!(tr.steps[0].text().starts_with("absorbs the next sibling"));
    assert!(tr.steps[1].text().starts_with("the previous sibling"));
}

/// Spoils one condition of `res` (first id) or its next sibling (second id).
type Spoil = Box<dyn Fn(&mut Tree, NodeId, NodeId)>;

/// Each conjunct alone false keeps the blocks apart (kills `&&`→`||` and `true`).
#[test]
fn merge_refused_when_any_single_condition_fails() {
    let cases: Vec<(&str, Spoil)> = vec![
        ("flags", Box::new(|t, _, n| t.get_mut(n).flags = RAM)),
        (
            "desc",
            Box::new(|t, _, n| t.get_mut(n).desc = Desc::Reserved),
        ),
        (
            "name object",
            Box::new(|t, _, n| t.get_mut(n).name = t.intern(b"System RAM (virtio_mem)")),
        ),
        (
            "child of r2",
            Box::new(|t, _, n| {
                let c = t.alloc(0x110000000, 0x110000fff, b"c", RAM, Desc::None);
                t.link_sorted(n, c);
            }),
        ),
        (
            "child of r1",
            Box::new(|t, m, _| {
                let c = t.alloc(0x108000000, 0x108000fff, b"c", RAM, Desc::None);
                t.link_sorted(m, c);
            }),
        ),
    ];
    for (what, spoil) in cases {
        // Only the next neighbour: remove the previous one to isolate `res`/`next`.
        let mut t = three(0x108000000);
        let prev = t.find_range(0x100000000, 0x107ffffff).unwrap();
        t.unlink(prev);
        let mid = t.find_range(0x108000000, 0x10fffffff).unwrap();
        let next = t.find_range(0x110000000, 0x117ffffff).unwrap();
        spoil(&mut t, mid, next);
        let got = merge_system_ram_resource(&mut t, mid, &mut Trace::new());
        assert_eq!(got, mid, "{what}");
        assert!(t.is_linked(next), "{what}");
        assert_eq!(t.get(mid).end, 0x10fffffff, "{what}");
        assert_ne!(t.get(mid).flags & IORESOURCE_SYSRAM_MERGEABLE, 0, "{what}");
    }
    // `r1->end + 1 == r2->start`: a one-byte gap.
    let mut t = three(0x108000001);
    let mid = t.find_range(0x108000001, 0x10fffffff).unwrap();
    assert_eq!(
        merge_system_ram_resource(&mut t, mid, &mut Trace::new()),
        mid
    );
    assert_eq!(t.len(), 2, "merged with the next one only");
    assert_eq!(
        (t.get(mid).start, t.get(mid).end),
        (0x108000001, 0x117ffffff)
    );
}

/// The previous neighbour alone: `if (cur && system_ram_resources_mergeable(cur, res))`.
#[test]
fn merge_into_previous_only() {
    let mut t = three(0x108000000);
    let next = t.find_range(0x110000000, 0x117ffffff).unwrap();
    t.get_mut(next).flags = RAM; // boot memory: no MERGEABLE
    let mid = t.find_range(0x108000000, 0x10fffffff).unwrap();
    let prev = t.find_range(0x100000000, 0x107ffffff).unwrap();
    assert_eq!(
        merge_system_ram_resource(&mut t, mid, &mut Trace::new()),
        prev
    );
    assert_eq!(
        (t.get(prev).start, t.get(prev).end),
        (0x100000000, 0x10fffffff)
    );
    assert!(t.is_linked(next) && !t.is_linked(mid));
}

/// `if (WARN_ON_ONCE((res->flags & flags) != flags)) return;` with `flags =
/// IORESOURCE_SYSTEM_RAM | IORESOURCE_BUSY` — a non-BUSY or non-SYSRAM resource is left
/// alone (not even marked MERGEABLE).
#[test]
fn merge_requires_busy_system_ram() {
    for fl in [IORESOURCE_SYSTEM_RAM, MEMB] {
        let mut t = three(0x108000000);
        let mid = t.find_range(0x108000000, 0x10fffffff).unwrap();
        t.get_mut(mid).flags = fl;
        let before = text(&t);
        let mut tr = Trace::new();
        assert_eq!(merge_system_ram_resource(&mut t, mid, &mut tr), mid);
        assert_eq!(text(&t), before);
        assert_eq!(t.get(mid).flags, fl);
        assert!(tr.steps[0].text().ends_with("WARN_ON_ONCE, nothing done"));
    }
}

// ---------------------------------------------------------------- mutants left by the first run

/// `res->flags |= IORESOURCE_BUSY | flags;` — a caller passing BUSY itself (memory hotplug
/// passes `IORESOURCE_SYSTEM_RAM | IORESOURCE_BUSY`) still gets a BUSY node (an `^` would
/// cancel it).
#[test]
fn request_region_caller_flags_including_busy_stay_busy() {
    let mut t = siblings();
    let r = __request_region(
        &mut t,
        Tree::ROOT,
        0x5000,
        0x1000,
        b"r",
        RAM,
        &mut Trace::new(),
    )
    .unwrap();
    assert_eq!(t.get(r).flags, RAM);
    assert!(t.get(r).is_busy());
}

/// `if (WARN_ON_ONCE((start < parent->start) || (end > parent->end))) return;` — starting at
/// exactly the root's start (0) is inside.
#[test]
fn rmra_at_address_zero() {
    let mut t = build(&[(0, 0x0, 0xffff, "System RAM", RAM, Desc::None)]);
    let r = release_mem_region_adjustable(&mut t, 0, 0x1000, v("6.12"), &mut Trace::new());
    assert!(matches!(r, Adjusted::StartMoved(_)), "{r:?}");
    assert_eq!(text(&t), "00001000-0000ffff : System RAM\n");
}

/// A dump whose siblings are out of order (the parser keeps them as printed, marked
/// unsorted): `__release_region`'s loop (`p = &res->sibling;`) walks every sibling, so a
/// later-listed, lower-addressed resource is still found.
#[test]
fn release_walks_every_sibling_of_an_unsorted_parent() {
    let rows = [
        (0, 0x3000, 0x3fff, "B", MEMB, Desc::None),
        (0, 0x1000, 0x1fff, "A", RAM, Desc::None),
    ];
    let mut t = build(&rows);
    assert!(t.is_unsorted(Tree::ROOT));
    __release_region(
        &mut t,
        Tree::ROOT,
        0x1000,
        0x1000,
        v("6.12"),
        &mut Trace::new(),
    )
    .unwrap();
    assert!(t.find_name("A").is_none());
    // release_mem_region_adjustable, though, stops at the first sibling starting at or after
    // the range's end (`if (res->start >= end) break;`): B, listed first, ends the walk.
    let mut t = build(&rows);
    let before = text(&t);
    let r = release_mem_region_adjustable(&mut t, 0x1000, 0x1000, v("6.12"), &mut Trace::new());
    assert_eq!(r, Adjusted::Nothing);
    assert_eq!(text(&t), before);
}

/// `__request_resource` in an unsorted list walks it as the kernel's loop does: it links
/// `new` before the first child starting above `new`'s end (`if (!tmp || tmp->start > end)`),
/// never seeing a later-listed child that overlaps; and it stops at the first child that
/// does not end before `new` starts, wherever that child is listed.
#[test]
fn request_resource_in_an_unsorted_list_stops_where_the_kernels_loop_stops() {
    let rows = [
        (0, 0x3000, 0x3fff, "B", MEMB, Desc::None),
        (0, 0x1000, 0x1fff, "A", RAM, Desc::None),
    ];
    let mut t = build(&rows);
    assert!(t.is_unsorted(Tree::ROOT));
    // [1800-18ff] overlaps A, but B (listed first) starts above its end: linked before B.
    let id = t.alloc(0x1800, 0x18ff, b"N", MEMB, Desc::None);
    assert_eq!(__request_resource(&mut t, Tree::ROOT, id), None);
    let order: Vec<String> = t
        .children(Tree::ROOT)
        .map(|c| t.name_lossy(c).into_owned())
        .collect();
    assert_eq!(order, ["N", "B", "A"]);
    // [3800-48ff]: B does not end before it starts, so B is the conflict.
    let mut t = build(&rows);
    let id = t.alloc(0x3800, 0x48ff, b"N", MEMB, Desc::None);
    let c = __request_resource(&mut t, Tree::ROOT, id);
    assert_eq!(c, t.find_name("B"));
    // [0500-05ff]: B starts above its end at once; linked first.
    let id = t.alloc(0x500, 0x5ff, b"M", MEMB, Desc::None);
    assert_eq!(__request_resource(&mut t, Tree::ROOT, id), None);
    assert_eq!(t.children(Tree::ROOT).next(), t.find_name("M"));
}

/// The two comparisons of the kernel's loop at their edges, in an unsorted list (B, A, C):
/// a child starting exactly at `new`'s end is not above it (`tmp->start > end` false: a
/// conflict), a child ending exactly at `new`'s start does not end before it
/// (`tmp->end < start` false: a conflict), and children ending before `new` are walked past
/// wherever they are listed.
#[test]
fn request_resource_in_an_unsorted_list_at_the_edges_of_its_comparisons() {
    let rows = [
        (0, 0x3000, 0x3fff, "B", MEMB, Desc::None),
        (0, 0x1000, 0x1fff, "A", RAM, Desc::None),
        (0, 0x5000, 0x5fff, "C", MEMB, Desc::None),
    ];
    let names = |t: &Tree| -> Vec<String> {
        t.children(Tree::ROOT)
            .map(|c| t.name_lossy(c).into_owned())
            .collect()
    };
    for (start, end, want) in [(0x2f00, 0x3000, "B"), (0x3fff, 0x40ff, "B")] {
        let mut t = build(&rows);
        assert!(t.is_unsorted(Tree::ROOT));
        let id = t.alloc(start, end, b"N", MEMB, Desc::None);
        let c = __request_resource(&mut t, Tree::ROOT, id);
        assert_eq!(c, t.find_name(want), "[{start:x}-{end:x}]");
        assert_eq!(names(&t), ["B", "A", "C"]);
    }
    // [4000-40ff]: B and A end before it, C starts above its end: linked before C.
    let mut t = build(&rows);
    let id = t.alloc(0x4000, 0x40ff, b"N", MEMB, Desc::None);
    assert_eq!(__request_resource(&mut t, Tree::ROOT, id), None);
    assert_eq!(names(&t), ["B", "A", "N", "C"]);
}
