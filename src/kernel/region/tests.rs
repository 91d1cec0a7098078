//! Unit tests of `region.rs`. Every expectation is transcribed from kunit-vectors.md or
//! kernel-semantics.md §6 (or derived by hand from the kernel code where noted), not from
//! this implementation's output.

use super::*;
use crate::kernel::resource::{insert_resource, remove_resource, request_resource};
use crate::testutil::{MEMB, RAM, build, t0, text};
use RegionIntersects::{Disjoint, Intersects, Mixed};

fn v(s: &str) -> KernelVersion {
    s.parse().unwrap()
}

fn tr() -> Trace {
    Trace::new()
}

// ------------------------------------------------------------------ kunit union/intersection

const R: [Span; 5] = [
    Span::new(0x0000, 0xffff),
    Span::new(0x1234, 0x2345),
    Span::new(0x4567, 0x5678),
    Span::new(0x6789, 0x789a),
    Span::new(0x2000, 0x7000),
];

type Row = (usize, usize, bool, u64, u64);

/// kunit-vectors §1.1 (U1–U10).
const UNION: [Row; 10] = [
    (1, 0, true, 0x0000, 0xffff),
    (2, 0, true, 0x0000, 0xffff),
    (3, 0, true, 0x0000, 0xffff),
    (4, 0, true, 0x0000, 0xffff),
    (2, 1, false, 0, 0),
    (3, 1, false, 0, 0),
    (4, 1, true, 0x1234, 0x7000),
    (2, 3, false, 0, 0),
    (2, 4, true, 0x2000, 0x7000),
    (3, 4, true, 0x2000, 0x789a),
];

/// kunit-vectors §1.2 (I1–I10).
const INTERSECTION: [Row; 10] = [
    (1, 0, true, 0x1234, 0x2345),
    (2, 0, true, 0x4567, 0x5678),
    (3, 0, true, 0x6789, 0x789a),
    (4, 0, true, 0x2000, 0x7000),
    (2, 1, false, 0, 0),
    (3, 1, false, 0, 0),
    (4, 1, true, 0x2000, 0x2345),
    (2, 3, false, 0, 0),
    (2, 4, true, 0x4567, 0x5678),
    (3, 4, true, 0x6789, 0x7000),
];

fn check_rows(rows: &[Row], f: fn(&Span, &Span, &mut Span) -> bool, what: &str) {
    for (i, &(a, b, want, s, e)) in rows.iter().enumerate() {
        for (x, y) in [(a, b), (b, a)] {
            // The kunit test zero-fills the output: untouched means still 0-0.
            let mut out = Span::default();
            assert_eq!(
                f(&R[x], &R[y], &mut out),
                want,
                "{what} row {} (r{x}, r{y})",
                i + 1
            );
            assert_eq!(out, Span::new(s, e), "{what} row {} (r{x}, r{y})", i + 1);
        }
    }
}

#[test]
fn kunit_resource_union_all_rows_both_orders() {
    check_rows(&UNION, resource_union, "union");
}

#[test]
fn kunit_resource_intersection_all_rows_both_orders() {
    check_rows(&INTERSECTION, resource_intersection, "intersection");
}

#[test]
fn untouched_output_keeps_a_previous_value() {
    let mut out = Span::new(7, 9);
    assert!(!resource_union(&R[2], &R[1], &mut out));
    assert!(!resource_intersection(&R[2], &R[3], &mut out));
    assert_eq!(out, Span::new(7, 9));
}

// ------------------------------------------------------------------ kunit region_intersects

const F: u32 = IORESOURCE_SYSTEM_RAM | IORESOURCE_BUSY;

/// The construction sequence of kunit-vectors §2.1 on T0, at `version`. Returns (tree, B).
fn kunit_region_tree(version: KernelVersion) -> (Tree, u64) {
    let mut t = t0();
    let mut trace = tr();
    let parent = alloc_free_mem_region(
        &mut t,
        Tree::ROOT,
        0x700000,
        0x100000,
        b"test resources",
        PHYS_BITS_4LEVEL,
        version,
        &mut trace,
    )
    .unwrap();
    let b = t.get(parent).start;
    __request_region(
        &mut t,
        parent,
        b,
        0x100000,
        b"Test System RAM 0",
        F,
        &mut trace,
    )
    .unwrap();
    let w0 = t.alloc(
        b + 0x200000,
        b + 0x2fffff,
        b"Test CXL Window 0",
        IORESOURCE_MEM,
        Desc::None,
    );
    insert_resource(&mut t, parent, w0, &mut trace).unwrap();
    __request_region(
        &mut t,
        parent,
        b + 0x300000,
        0x100000,
        b"Test System RAM 1",
        F,
        &mut trace,
    )
    .unwrap();
    let w1 = t.alloc(
        b + 0x400000,
        b + 0x6fffff,
        b"Test CXL Window 1",
        IORESOURCE_MEM,
        Desc::None,
    );
    insert_resource(&mut t, parent, w1, &mut trace).unwrap();
    __request_region(
        &mut t,
        parent,
        b + 0x400000,
        0x100000,
        b"Test System RAM 2",
        F,
        &mut trace,
    )
    .unwrap();
    let code = t.alloc(b + 0x420000, b + 0x43ffff, b"Test Code", F, Desc::None);
    insert_resource(&mut t, parent, code, &mut trace).unwrap();
    __request_region(
        &mut t,
        parent,
        b + 0x500000,
        0x100000,
        b"Test System RAM 3",
        F,
        &mut trace,
    )
    .unwrap();
    remove_resource(&mut t, parent).unwrap();
    (t, b)
}

#[test]
fn kunit_region_intersects_tree_matches_the_documented_construction() {
    let (t, b) = kunit_region_tree(v("6.12"));
    assert_eq!(
        b, 0xfec00000,
        "alloc_free_mem_region on T0 (kunit-vectors §2.1, SC-24)"
    );
    let want_tail = "\
c0000000-febfffff : PCI Bus 0000:00
fec00000-fecfffff : Test System RAM 0
fee00000-feefffff : Test CXL Window 0
fef00000-feffffff : Test System RAM 1
ff000000-ff2fffff : Test CXL Window 1
  ff000000-ff0fffff : Test System RAM 2
    ff020000-ff03ffff : Test Code
  ff100000-ff1fffff : Test System RAM 3
";
    assert!(text(&t).ends_with(want_tail), "{}", text(&t));
    for n in [
        "Test System RAM 0",
        "Test System RAM 1",
        "Test System RAM 2",
        "Test System RAM 3",
        "Test Code",
    ] {
        let id = t.find_name(n).unwrap();
        assert_eq!(t.get(id).flags, F, "{n}");
        assert_eq!(t.get(id).desc, Desc::None, "{n}");
    }
    for n in ["Test CXL Window 0", "Test CXL Window 1"] {
        assert_eq!(t.get(t.find_name(n).unwrap()).flags, IORESOURCE_MEM, "{n}");
    }
}

/// kunit-vectors §2.2: (offset from B, size, v6.12+, derived ≤ v6.11).
const R_CASES: [(u64, u64, RegionIntersects, RegionIntersects); 10] = [
    (0x000000, 0x1000, Intersects, Intersects),
    (0x0ff000, 0x2000, Intersects, Intersects),
    (0x100000, 0x1000, Disjoint, Disjoint),
    (0x1ff000, 0x2000, Disjoint, Disjoint),
    (0x2ff000, 0x2000, Mixed, Mixed),
    (0x3ff000, 0x2000, Intersects, Mixed),
    (0x4ff000, 0x2000, Intersects, Disjoint),
    (0x420000, 0x1000, Intersects, Disjoint),
    (0x400000, 0x101000, Intersects, Disjoint),
    (0x500000, 0x101000, Mixed, Disjoint),
];

#[test]
fn kunit_region_intersects_r1_to_r10_both_eras() {
    let (t, b) = kunit_region_tree(v("6.12"));
    for (i, &(off, size, new, old)) in R_CASES.iter().enumerate() {
        for (ver, want) in [("6.12", new), ("6.18", new), ("6.11", old), ("4.6", old)] {
            let got = region_intersects(
                &t,
                b + off,
                size,
                IORESOURCE_SYSTEM_RAM,
                Desc::None,
                v(ver),
                &mut tr(),
            );
            assert_eq!(got, want, "R{} at v{ver}", i + 1);
        }
    }
}

#[test]
fn alloc_free_mem_region_on_the_iomem_root_needs_v6_12() {
    // Before v6.12 the ascending start is ALIGN(base.start, align) = 0 for the iomem root and
    // gfr_continue rejects 0 ("addr > addr - size"), so nothing is found (kernel code; the
    // reason Huang Ying's kunit series changed gfr_start).
    let mut t = t0();
    let before = text(&t);
    let e = alloc_free_mem_region(
        &mut t,
        Tree::ROOT,
        0x700000,
        0x100000,
        b"test resources",
        46,
        v("6.11"),
        &mut tr(),
    )
    .unwrap_err();
    assert_eq!(e.errno, Errno::ERANGE);
    assert_eq!(text(&t), before);
    let e = alloc_free_mem_region(
        &mut t,
        Tree::ROOT,
        0x700000,
        0x100000,
        b"x",
        46,
        v("6.0"),
        &mut tr(),
    )
    .unwrap_err();
    assert_eq!(e.errno, Errno::EINVAL);
}

// ------------------------------------------------------------------ SC-09

fn sc02() -> Tree {
    let mut t = t0();
    __request_region(
        &mut t,
        Tree::ROOT,
        0xa0000000,
        0x8000000,
        b"System RAM",
        RAM,
        &mut tr(),
    )
    .unwrap();
    t
}

#[test]
fn sc02_tree_has_the_nested_ram() {
    let t = sc02();
    assert!(text(&t).contains(
        "a0000000-afffffff : Persistent Memory (legacy)\n  a0000000-a7ffffff : System RAM\n"
    ));
}

#[test]
fn sc09_region_intersects_both_eras() {
    let t = sc02();
    let sr = IORESOURCE_SYSTEM_RAM;
    let rows: [(u64, u64, u32, Desc, RegionIntersects, RegionIntersects); 7] = [
        (0xa0000000, 0x8000000, sr, Desc::None, Disjoint, Intersects),
        (0x9ff00000, 0x200000, sr, Desc::None, Mixed, Intersects),
        (0xa8000000, 0x8000000, sr, Desc::None, Disjoint, Disjoint),
        (0xbff00000, 0x200000, sr, Desc::None, Mixed, Mixed),
        (0xfec00000, 0x1000, sr, Desc::None, Disjoint, Disjoint),
        (
            0xa0000000,
            0x1000,
            IORESOURCE_MEM,
            Desc::PersistentMemoryLegacy,
            Intersects,
            Intersects,
        ),
        (0x0, 0x1000, 0, Desc::None, Intersects, Intersects),
    ];
    for (i, &(s, n, f, d, old, new)) in rows.iter().enumerate() {
        assert_eq!(
            region_intersects(&t, s, n, f, d, v("6.11"), &mut tr()),
            old,
            "SC-09 row {} ≤ v6.11",
            i + 1
        );
        assert_eq!(
            region_intersects(&t, s, n, f, d, v("6.12"), &mut tr()),
            new,
            "SC-09 row {} ≥ v6.12",
            i + 1
        );
    }
}

#[test]
fn d13_region_intersects_era_switch() {
    let t = sc02();
    let q = |ver| {
        region_intersects(
            &t,
            0xa0000000,
            0x8000000,
            IORESOURCE_SYSTEM_RAM,
            Desc::None,
            v(ver),
            &mut tr(),
        )
    };
    assert_eq!((q("6.12"), q("6.11")), (Intersects, Disjoint));
    assert_eq!(Intersects.value(), 0);
    assert_eq!(Disjoint.value(), 1);
    assert_eq!(Mixed.value(), 2);
}

#[test]
fn region_intersects_trace_names_the_decision() {
    let t = sc02();
    let mut trace = tr();
    region_intersects(
        &t,
        0xa0000000,
        0x8000000,
        IORESOURCE_SYSTEM_RAM,
        Desc::None,
        v("6.12"),
        &mut trace,
    );
    assert!(
        trace
            .steps
            .iter()
            .any(|s| s.func == "__region_intersects" && s.text().contains("covered"))
    );
}

// ------------------------------------------------------------------ SC-10 walkers

#[test]
fn sc10_walk_system_ram_range_v5_1_plus_and_v5_0() {
    let t = sc02();
    for ver in ["5.1", "5.13", "6.1", "6.18"] {
        let w = walk_system_ram_range(&t, 0xa0000, 0x8000, v(ver), &mut tr());
        assert_eq!(w.ranges, vec![(0xa0000, 0x8000)], "v{ver}");
        assert_eq!(w.ret, 0);
        assert!(page_is_ram(&t, 0xa0000, v(ver), &mut tr()), "v{ver}");
    }
    // ≤ v5.0: top level only → nothing, -1.
    let w = walk_system_ram_range(&t, 0xa0000, 0x8000, v("5.0"), &mut tr());
    assert_eq!(
        w,
        WalkResult {
            ranges: vec![],
            ret: -1
        }
    );
    assert!(!page_is_ram(&t, 0xa0000, v("5.0"), &mut tr()));
}

#[test]
fn sc10_walk_system_ram_res_depth_changes_at_v5_13() {
    let t = sc02();
    for ver in ["5.1", "5.12"] {
        let w = walk_system_ram_res(&t, 0xa0000000, 0xa7ffffff, v(ver), &mut tr());
        assert_eq!(
            w,
            WalkResult {
                ranges: vec![],
                ret: -22
            },
            "v{ver}"
        );
    }
    for ver in ["5.13", "6.18"] {
        let w = walk_system_ram_res(&t, 0xa0000000, 0xa7ffffff, v(ver), &mut tr());
        assert_eq!(
            w,
            WalkResult {
                ranges: vec![(0xa0000000, 0xa7ffffff)],
                ret: 0
            },
            "v{ver}"
        );
    }
}

#[test]
fn sc10_walk_iomem_res_desc_whole_tree() {
    let t = sc02();
    for ver in ["4.20", "5.0", "5.12", "6.18"] {
        let w = walk_iomem_res_desc(
            &t,
            Desc::None,
            IORESOURCE_SYSTEM_RAM,
            0x0,
            0xafffffff,
            v(ver),
            &mut tr(),
        );
        assert_eq!(
            w.ranges,
            vec![
                (0x1000, 0x9fbff),
                (0x100000, 0x9fffffff),
                (0xa0000000, 0xa7ffffff)
            ],
            "v{ver}"
        );
        assert_eq!(w.ret, 0);
    }
}

#[test]
fn walk_mem_res_depth_and_nothing_found_values() {
    // MEM|BUSY over the PMEM range: the PMEM node itself is not busy; its RAM child is
    // MEM|SYSRAM|BUSY, found only by the whole-tree search (v5.13+). Derived from §2.11.
    let t = sc02();
    assert_eq!(
        walk_mem_res(&t, 0xa0000000, 0xafffffff, v("5.12"), &mut tr()).ret,
        ret::EINVAL
    );
    assert_eq!(
        walk_mem_res(&t, 0xa0000000, 0xafffffff, v("6.1"), &mut tr()).ranges,
        vec![(0xa0000000, 0xa7ffffff)]
    );
    // Nothing found: -1 before v5.1, -EINVAL after.
    assert_eq!(
        walk_system_ram_res(&t, 0xfec00000, 0xfecfffff, v("4.19"), &mut tr()).ret,
        -1
    );
    assert_eq!(
        walk_system_ram_res(&t, 0xfec00000, 0xfecfffff, v("5.1"), &mut tr()).ret,
        -22
    );
}

#[test]
fn find_next_iomem_res_errors() {
    let t = sc02();
    let f = IORESOURCE_SYSTEM_RAM;
    // start >= end, including a one-byte query.
    assert_eq!(
        find_next_iomem_res(
            &t,
            0x1000,
            0x1000,
            f,
            Desc::None,
            SearchDepth::WholeTree,
            v("6.1")
        ),
        Err(-22)
    );
    assert_eq!(
        find_next_iomem_res(
            &t,
            0xfec00000,
            0xfecfffff,
            f,
            Desc::None,
            SearchDepth::WholeTree,
            v("6.1")
        ),
        Err(-19)
    );
    assert_eq!(
        find_next_iomem_res(
            &t,
            0xfec00000,
            0xfecfffff,
            f,
            Desc::None,
            SearchDepth::WholeTree,
            v("5.4")
        ),
        Err(-1)
    );
    let r = find_next_iomem_res(
        &t,
        0x9ff00000,
        0xa00fffff,
        f,
        Desc::None,
        SearchDepth::WholeTree,
        v("6.1"),
    )
    .unwrap();
    assert_eq!(
        (r.start, r.end),
        (0x9ff00000, 0x9fffffff),
        "clipped to the query"
    );
}

#[test]
fn walk_system_ram_range_skips_ranges_without_a_whole_page() {
    // Derived from the kernel loop: PFN_UP(start) .. PFN_DOWN(end + 1); `ret` starts at
    // -EINVAL and `if (ret) break;` also runs when the callback was skipped, so a range without
    // a whole page *before* any callback ends the walk (kernel quirk); after a callback
    // returned 0 such a range is simply skipped.
    let t = build(&[
        (0, 0x1800, 0x27ff, "System RAM", RAM, Desc::None),
        (0, 0x3000, 0x4fff, "System RAM", RAM, Desc::None),
        (0, 0x5800, 0x67ff, "System RAM", RAM, Desc::None),
        (0, 0x7000, 0x7fff, "System RAM", RAM, Desc::None),
    ]);
    let w = walk_system_ram_range(&t, 0, 0x10, v("6.1"), &mut tr());
    assert_eq!(
        w,
        WalkResult {
            ranges: vec![],
            ret: -22
        }
    );
    let w = walk_system_ram_range(&t, 3, 0x10, v("6.1"), &mut tr());
    assert_eq!(
        w,
        WalkResult {
            ranges: vec![(0x3, 0x2), (0x7, 0x1)],
            ret: 0
        }
    );
    let w = walk_system_ram_range(&t, 1, 1, v("6.1"), &mut tr());
    assert_eq!(
        w,
        WalkResult {
            ranges: vec![],
            ret: -22
        }
    );
}

// ------------------------------------------------------------------ W1–W7 (proposed kunit)

fn walk_test_tree() -> (Tree, u64) {
    let mut t = t0();
    let mut trace = tr();
    let root = t.alloc(0, 0, b"Resource Walk Test", 0, Desc::None);
    allocate_resource(
        &mut t,
        Tree::ROOT,
        root,
        0x100000,
        0,
        u64::MAX,
        0x100000,
        &mut trace,
    )
    .unwrap();
    let r = t.get(root).start;
    let add = |t: &mut Tree, p: NodeId, s: u64, e: u64, n: &str, f: u32| {
        let id = t.alloc(r + s, r + e, n.as_bytes(), f, Desc::None);
        request_resource(t, p, id, &mut tr()).unwrap();
        id
    };
    add(
        &mut t,
        root,
        0x0000,
        0x0fff,
        "SYSRAM 1",
        IORESOURCE_SYSTEM_RAM,
    );
    add(&mut t, root, 0x1000, 0x1fff, "OTHER", 0);
    let nested = add(&mut t, root, 0x3000, 0x3fff, "NESTED", 0);
    add(
        &mut t,
        nested,
        0x3800,
        0x3bff,
        "SYSRAM 2",
        IORESOURCE_SYSTEM_RAM,
    );
    add(
        &mut t,
        root,
        0x4000,
        0x4fff,
        "SYSRAM 3",
        IORESOURCE_SYSTEM_RAM,
    );
    (t, r)
}

#[test]
fn proposed_kunit_walk_iomem_res_desc_w1_to_w7() {
    let (t, r) = walk_test_tree();
    assert_eq!(
        r, 0xfec00000,
        "allocate_resource first fit on T0 (kunit-vectors §3)"
    );
    let n = |s: u64, e: u64| {
        walk_iomem_res_desc(
            &t,
            Desc::None,
            IORESOURCE_SYSTEM_RAM,
            r + s,
            r + e,
            v("6.18"),
            &mut tr(),
        )
    };
    assert_eq!(n(0x0000, 0xfffff).ranges.len(), 3, "W1");
    assert_eq!(n(0x0000, 0x0fff).ranges.len(), 1, "W2");
    assert_eq!(n(0x1000, 0x1fff).ranges.len(), 0, "W3");
    assert_eq!(n(0x2000, 0x2fff).ranges.len(), 0, "W4");
    assert_eq!(
        n(0x3000, 0x3fff).ranges,
        vec![(r + 0x3800, r + 0x3bff)],
        "W5"
    );
    let w6a = n(0x3000, 0x37ff);
    let w6b = n(0x4000, 0x3bff);
    assert_eq!(w6a.ranges.len() + w6b.ranges.len(), 0, "W6");
    assert_eq!(w6b.ret, ret::EINVAL, "W6 second call: start > end");
    assert_eq!(n(0x4000, 0x4fff).ranges.len(), 1, "W7");
}

#[test]
fn allocate_resource_gaps_and_lookup() {
    // First fit among direct children only, never descends (§2.12).
    let mut t = build(&[
        (0, 0x0, 0xfff, "a", MEMB, Desc::None),
        (0, 0x3000, 0x3fff, "b", IORESOURCE_MEM, Desc::None),
    ]);
    let n = t.alloc(0, 0, b"new", IORESOURCE_MEM, Desc::None);
    allocate_resource(
        &mut t,
        Tree::ROOT,
        n,
        0x2000,
        0,
        u64::MAX,
        0x1000,
        &mut tr(),
    )
    .unwrap();
    assert_eq!((t.get(n).start, t.get(n).end), (0x1000, 0x2fff));
    let m = t.alloc(0, 0, b"m", IORESOURCE_MEM, Desc::None);
    // Does not fit in [0x1000..] any more and max forbids going past 0x3fff.
    let e =
        allocate_resource(&mut t, Tree::ROOT, m, 0x1000, 0, 0x3fff, 0x1000, &mut tr()).unwrap_err();
    assert_eq!(e.errno, Errno::EBUSY);
    assert_eq!(lookup_resource(&t, Tree::ROOT, 0x1000), Some(n));
    assert_eq!(lookup_resource(&t, Tree::ROOT, 0x1001), None);
}

// ------------------------------------------------------------------ SC-23 / SC-24 / D14

#[test]
fn sc23_top_down_on_t0() {
    for ver in ["5.3", "6.0", "6.1", "6.6.0", "6.7", "6.18"] {
        let mut t = t0();
        let id = request_free_mem_region(
            &mut t,
            Tree::ROOT,
            0x10000000,
            b"hmm_dmirror",
            PHYS_BITS_4LEVEL,
            v(ver),
            &mut tr(),
        )
        .unwrap();
        let r = t.get(id);
        assert_eq!((r.start, r.end), (0x3ffff0000000, 0x3fffffffffff), "v{ver}");
        assert_eq!(r.flags, MEMB);
        assert_eq!(r.desc, Desc::DevicePrivateMemory);
        assert_eq!(t.parent(id), Some(Tree::ROOT));
        assert!(text(&t).ends_with("3ffff0000000-3fffffffffff : hmm_dmirror\n"));
    }
}

fn t0_with_x() -> Tree {
    let mut t = t0();
    let x = t.alloc(
        0x3ffff8000000,
        0x3fffffffffff,
        b"X",
        IORESOURCE_MEM,
        Desc::None,
    );
    t.link_before(Tree::ROOT, x, None);
    t
}

#[test]
fn sc23_d14_step_changes_at_v6_7() {
    let place = |ver: &str| {
        let mut t = t0_with_x();
        let id = request_free_mem_region(
            &mut t,
            Tree::ROOT,
            0x10000000,
            b"hmm_dmirror",
            PHYS_BITS_4LEVEL,
            v(ver),
            &mut tr(),
        )
        .unwrap();
        (t.get(id).start, t.get(id).end)
    };
    // SC-23: v6.7+ steps by 128 MiB, v5.3–v6.6 by 256 MiB.
    for ver in ["6.7", "6.12", "6.18"] {
        assert_eq!(place(ver), (0x3fffe8000000, 0x3ffff7ffffff), "v{ver}");
    }
    for ver in ["5.3", "5.10", "6.0", "6.1", "6.5", "6.6.0", "6.6.10"] {
        assert_eq!(place(ver), (0x3fffe0000000, 0x3fffefffffff), "v{ver}");
    }
    // Kernel, not doc: the v6.7 change was backported to 6.6-stable (6.6.11), so the 6.6
    // series as shipped today behaves like v6.7.
    assert_eq!(place("6.6"), (0x3fffe8000000, 0x3ffff7ffffff));
}

#[test]
fn request_free_mem_region_physmem_end_and_rounding() {
    // 52-bit (la57) PHYSMEM_END, and the size rounded up to a whole section.
    let mut t = t0();
    let id = request_free_mem_region(
        &mut t,
        Tree::ROOT,
        0x1000,
        b"dev",
        PHYS_BITS_5LEVEL,
        v("6.18"),
        &mut tr(),
    )
    .unwrap();
    assert_eq!(
        (t.get(id).start, t.get(id).end),
        (0xffffff8000000, 0xfffffffffffff)
    );
    // Two consecutive chunks (kunit-vectors §6): 3ffff0000000 then 3fffe0000000, both eras.
    for ver in ["6.1", "6.18"] {
        let mut t = t0();
        request_free_mem_region(
            &mut t,
            Tree::ROOT,
            0x10000000,
            b"hmm_dmirror",
            46,
            v(ver),
            &mut tr(),
        )
        .unwrap();
        let id = request_free_mem_region(
            &mut t,
            Tree::ROOT,
            0x10000000,
            b"hmm_dmirror",
            46,
            v(ver),
            &mut tr(),
        )
        .unwrap();
        assert_eq!(t.get(id).start, 0x3fffe0000000, "v{ver}");
    }
}

#[test]
fn request_free_mem_region_nothing_free() {
    // Everything up to PHYSMEM_END is taken by one top-level node: -ERANGE, tree unchanged.
    let mut t = build(&[(0, 0x0, 0x3fffffffffff, "all", IORESOURCE_MEM, Desc::None)]);
    let before = text(&t);
    for ver in ["5.3", "6.1", "6.18"] {
        let e =
            request_free_mem_region(&mut t, Tree::ROOT, 0x10000000, b"x", 46, v(ver), &mut tr())
                .unwrap_err();
        assert_eq!(e.errno, Errno::ERANGE, "v{ver}");
        assert_eq!(text(&t), before);
    }
}

#[test]
fn sc24_bottom_up_on_t0() {
    let mut t = t0();
    let id = alloc_free_mem_region(
        &mut t,
        Tree::ROOT,
        0x700000,
        0x100000,
        b"test resources",
        PHYS_BITS_4LEVEL,
        v("6.18"),
        &mut tr(),
    )
    .unwrap();
    let r = t.get(id);
    assert_eq!((r.start, r.end), (0xfec00000, 0xff2fffff));
    assert_eq!(r.flags, IORESOURCE_MEM, "MEM, not busy");
    assert_eq!(t.parent(id), Some(Tree::ROOT));
    assert!(
        text(&t)
            .ends_with("c0000000-febfffff : PCI Bus 0000:00\nfec00000-ff2fffff : test resources\n")
    );
}

#[test]
fn alloc_free_mem_region_under_a_window_steps() {
    // A CXL-like window [0x100000000, 0x1ffffffff] with a child at its start: 256 MiB aligned
    // to 256 MiB → first free slot after the child. Step size vs align (v6.7) derived from
    // the kernel loop: with size 512 MiB and align 256 MiB the pre-6.7 step skips 0x130000000.
    let mk = || {
        build(&[
            (
                0,
                0x100000000,
                0x1ffffffff,
                "CXL Window 0",
                IORESOURCE_MEM,
                Desc::Cxl,
            ),
            (
                1,
                0x100000000,
                0x12fffffff,
                "region0",
                IORESOURCE_MEM,
                Desc::None,
            ),
        ])
    };
    for (ver, want) in [("6.18", 0x130000000u64), ("6.1", 0x140000000)] {
        let mut t = mk();
        let w = t.find_name("CXL Window 0").unwrap();
        let id = alloc_free_mem_region(
            &mut t,
            w,
            0x20000000,
            0x10000000,
            b"region1",
            46,
            v(ver),
            &mut tr(),
        )
        .unwrap();
        assert_eq!(t.get(id).start, want, "v{ver}");
        assert_eq!(t.parent(id), Some(w));
    }
}

// ------------------------------------------------------------------ reserve_region_with_split

#[test]
fn reserve_region_with_split_splits_around_children() {
    // Derived from __reserve_region_with_split: pieces below, between and above the children.
    let mut t = build(&[
        (0, 0x2000, 0x2fff, "a", MEMB, Desc::None),
        (0, 0x5000, 0x5fff, "b", IORESOURCE_MEM, Desc::None),
    ]);
    let made =
        reserve_region_with_split(&mut t, Tree::ROOT, 0x1000, 0x6fff, b"RAM buffer", &mut tr());
    assert_eq!(made.len(), 3);
    assert_eq!(
        text(&t),
        "00001000-00001fff : RAM buffer\n00002000-00002fff : a\n00003000-00004fff : RAM buffer\n00005000-00005fff : b\n00006000-00006fff : RAM buffer\n"
    );
    assert_eq!(t.get(made[0]).flags, MEMB);
    // Fully covered → nothing.
    assert!(
        reserve_region_with_split(&mut t, Tree::ROOT, 0x2100, 0x21ff, b"x", &mut tr()).is_empty()
    );
}

// ------------------------------------------------------------------ parse_flags

#[test]
fn parse_flags_accepts_names_and_numbers() {
    assert_eq!(parse_flags("SYSTEM_RAM"), Some(IORESOURCE_SYSTEM_RAM));
    assert_eq!(
        parse_flags("IORESOURCE_SYSTEM_RAM"),
        Some(IORESOURCE_SYSTEM_RAM)
    );
    assert_eq!(
        parse_flags("MEM|BUSY"),
        Some(IORESOURCE_MEM | IORESOURCE_BUSY)
    );
    assert_eq!(parse_flags("mem | sysram | busy"), Some(RAM));
    assert_eq!(parse_flags("0x81000200"), Some(RAM));
    assert_eq!(parse_flags("0"), Some(0));
    assert_eq!(parse_flags("IORESOURCE_IO"), Some(IORESOURCE_IO));
    assert_eq!(parse_flags(""), None);
    assert_eq!(parse_flags("RAM"), None);
    assert_eq!(parse_flags("MEM|"), None);
    assert_eq!(parse_flags("0xzz"), None);
}

#[test]
fn no_panic_on_extreme_inputs() {
    let t = sc02();
    let _ = region_intersects(&t, u64::MAX, u64::MAX, 0, Desc::None, v("6.18"), &mut tr());
    let _ = region_intersects(
        &t,
        0,
        0,
        IORESOURCE_SYSTEM_RAM,
        Desc::None,
        v("6.18"),
        &mut tr(),
    );
    let _ = walk_system_ram_range(&t, u64::MAX, u64::MAX, v("6.18"), &mut tr());
    let _ = walk_iomem_res_desc(&t, Desc::None, 0, 0, u64::MAX, v("6.18"), &mut tr());
    let mut t2 = t.clone();
    let _ = request_free_mem_region(
        &mut t2,
        Tree::ROOT,
        u64::MAX,
        b"x",
        64,
        v("6.18"),
        &mut tr(),
    );
    let _ = request_free_mem_region(&mut t2, Tree::ROOT, 0, b"x", 64, v("5.3"), &mut tr());
    let _ = alloc_free_mem_region(
        &mut t2,
        Tree::ROOT,
        u64::MAX,
        1 << 63,
        b"x",
        64,
        v("6.18"),
        &mut tr(),
    );
    let _ = alloc_free_mem_region(&mut t2, Tree::ROOT, 1, 0, b"x", 64, v("6.18"), &mut tr());
    let n = t2.alloc(0, 0, b"n", 0, Desc::None);
    let _ = allocate_resource(&mut t2, Tree::ROOT, n, u64::MAX, 0, u64::MAX, 0, &mut tr());
    let _ = reserve_region_with_split(&mut t2, Tree::ROOT, 0, u64::MAX, b"r", &mut tr());
}
