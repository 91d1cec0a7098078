//! Edge tests for `src/kernel/region.rs` (`kernel/resource.c`, the query half: read in
//! /work/ksrc/linux-source-{5.10,6.1,6.12}/kernel/resource.c; `include/linux/mm.h` for the
//! REGION_* values).

use super::v;
use crate::kernel::Trace;
use crate::kernel::region::{
    __walk_iomem_res_desc, SearchDepth, alloc_free_mem_region, allocate_resource,
    find_next_iomem_res, gfr_steps_by_align, parse_flags, region_intersects,
    request_free_mem_region, reserve_region_with_split, walk_system_ram_range,
};
use crate::testutil::{MEMB, RAM, build};
use crate::tree::Desc;
use crate::tree::flags::*;

const SR: u32 = IORESOURCE_SYSTEM_RAM;

fn found(r: Result<crate::kernel::region::FoundRes, i32>) -> Result<(u64, u64), i32> {
    r.map(|f| (f.start, f.end))
}

/// `find_next_iomem_res(start, end, SYSTEM_RAM, NONE, depth)` on `t` as kernel `ver`, clipped.
fn next_ram(
    t: &crate::tree::Tree,
    ver: &str,
    depth: SearchDepth,
    s: u64,
    e: u64,
) -> Result<(u64, u64), i32> {
    found(find_next_iomem_res(t, s, e, SR, Desc::None, depth, v(ver)))
}

/// `find_next_iomem_res` (6.1 kernel/resource.c): `if (p->start > end) { p = NULL; break; }`
/// then `if (p->end < start) continue;` — both strict: a matching node that starts exactly at
/// the query's `end`, or ends exactly at its `start`, overlaps it by one byte and is found,
/// clipped (`.start = max(start, p->start), .end = min(end, p->end)`). Before the reordering
/// (`if ((p->flags & flags) != flags) continue; … if (p->start > end) {…} if ((p->end >=
/// start) && (p->start <= end)) break;`) the same one-byte overlaps are found. Kills `>` →
/// `>=` and `<` → `<=` in both scan orders.
#[test]
fn find_next_iomem_res_one_byte_overlap_at_each_end() {
    let t = build(&[
        (0, 0x1000, 0x1fff, "System RAM", RAM, Desc::None),
        (0, 0x3000, 0x3fff, "System RAM", RAM, Desc::None),
    ]);
    for ver in ["5.2", "6.1"] {
        let f = |s, e| next_ram(&t, ver, SearchDepth::WholeTree, s, e);
        // The node starts exactly at `end`.
        assert_eq!(f(0x2000, 0x3000), Ok((0x3000, 0x3000)), "{ver}");
        // The node ends exactly at `start`.
        assert_eq!(f(0x1fff, 0x2800), Ok((0x1fff, 0x1fff)), "{ver}");
        // Exact touch without overlap: nothing.
        assert!(f(0x2000, 0x2fff).is_err(), "{ver}");
    }
}

/// The order of the checks on a sibling list that is not sorted (a dump printed out of order).
/// Old order (kernel/resource.c before Nadav Amit's "resource: avoid unnecessary lookups in
/// find_next_iomem_res()", 756398750e11): the flags are tested first (`if ((p->flags & flags)
/// != flags) continue;`), and only a *matching* node starting after `end` stops the scan
/// (`if (p->start > end) { p = NULL; break; }`): a matching node listed first but lying after
/// the query ends the search even though a later-listed one overlaps (kills `>` → `==` in the
/// old order). New order (5.10, 6.1, 6.12 sources: `if (p->start > end) { p = NULL; break; }`
/// before any flag test): any node starting after `end` stops it, matching or not.
#[test]
fn find_next_iomem_res_unsorted_siblings_both_orders() {
    // A matching node after the query, listed before the overlapping one.
    let t = build(&[
        (0, 0x5000, 0x5fff, "System RAM", RAM, Desc::None),
        (0, 0x1000, 0x1fff, "System RAM", RAM, Desc::None),
    ]);
    assert!(t.is_unsorted(crate::tree::Tree::ROOT));
    for ver in ["5.2", "6.1"] {
        let r = find_next_iomem_res(
            &t,
            0x1000,
            0x2000,
            SR,
            Desc::None,
            SearchDepth::TopLevel,
            v(ver),
        );
        assert!(r.is_err(), "{ver}: {:?}", found(r));
    }
    // A non-matching node after the query, listed first: the old order skips it on its
    // flags and finds the overlapping one; the new order stops at it.
    let t = build(&[
        (0, 0x5000, 0x5fff, "reserved", MEMB, Desc::None),
        (0, 0x1000, 0x1fff, "System RAM", RAM, Desc::None),
    ]);
    let f = |ver: &str| {
        found(find_next_iomem_res(
            &t,
            0x1000,
            0x2000,
            SR,
            Desc::None,
            SearchDepth::TopLevel,
            v(ver),
        ))
    };
    assert_eq!(f("5.2"), Ok((0x1000, 0x1fff)));
    assert!(f("5.10").is_err());
    assert!(f("6.1").is_err());
}

/// `__walk_iomem_res_desc` (6.1): `while (start < end && !find_next_iomem_res(start, end, …))`
/// — with `start == end` the loop is not entered, `find_next_iomem_res` is never called and
/// `ret` stays `-EINVAL`; the decision path has the one "start >= end" step and no search
/// (kills `>=` → `<` on that step and `<` → `<=` in the loop condition).
#[test]
fn walk_with_start_equal_end_searches_nothing() {
    let t = build(&[(0, 0x1000, 0x1fff, "System RAM", RAM, Desc::None)]);
    let mut tr = Trace::new();
    let mut calls = 0;
    let ret = __walk_iomem_res_desc(
        &t,
        0x1800,
        0x1800,
        SR,
        Desc::None,
        SearchDepth::WholeTree,
        v("6.1"),
        &mut tr,
        &mut |_| {
            calls += 1;
            0
        },
    );
    assert_eq!((ret, calls), (-22, 0));
    let texts: Vec<String> = tr.steps.iter().map(|s| s.text()).collect();
    assert_eq!(texts, ["start 0x1800 >= end 0x1800 → -EINVAL, no callback"]);
    // start < end: no such step.
    let mut tr = Trace::new();
    __walk_iomem_res_desc(
        &t,
        0x1800,
        0x1801,
        SR,
        Desc::None,
        SearchDepth::WholeTree,
        v("6.1"),
        &mut tr,
        &mut |_| 0,
    );
    assert!(
        !tr.steps.iter().any(|s| s.text().contains(">= end")),
        "{:?}",
        tr.steps
    );
    // After a callback the walk resumes at `res.end + 1`; when that equals `end` the loop ends
    // without another search.
    let mut tr = Trace::new();
    let ret = __walk_iomem_res_desc(
        &t,
        0x1000,
        0x2000,
        SR,
        Desc::None,
        SearchDepth::WholeTree,
        v("6.1"),
        &mut tr,
        &mut |_| 0,
    );
    assert_eq!(ret, 0);
    assert!(
        !tr.steps
            .iter()
            .any(|s| s.text().contains("nothing matching")),
        "{:?}",
        tr.steps
    );
}

/// `walk_system_ram_range` (6.1): `while (start < end && !find_next_iomem_res(start, end,
/// flags, IORES_DESC_NONE, &res))`, `start = res.end + 1;` — a RAM node ending one byte
/// before the query's last byte is reported (its whole pages), then `start == end` ends the
/// loop without another search (kills `<` → `<=`).
#[test]
fn walk_system_ram_range_stops_when_start_reaches_end() {
    let t = build(&[(0, 0x1000, 0x2ffe, "System RAM", RAM, Desc::None)]);
    let mut tr = Trace::new();
    let w = walk_system_ram_range(&t, 1, 2, v("6.1"), &mut tr);
    // PFN_UP(0x1000) = 1, PFN_DOWN(0x2ffe + 1) = 2: one page.
    assert_eq!((w.ranges, w.ret), (vec![(1, 1)], 0));
    assert!(
        !tr.steps
            .iter()
            .any(|s| s.text().contains("nothing matching")),
        "{:?}",
        tr.steps
    );
}

/// The decision path names the query and the result with the kernel's names and values:
/// `enum { REGION_INTERSECTS, REGION_DISJOINT, REGION_MIXED };` (include/linux/mm.h, 6.1) — 0,
/// 1, 2. Kills the `Display` / `kernel_name` mutants.
#[test]
fn region_intersects_trace_text() {
    let t = build(&[
        (0, 0x1000, 0x1fff, "System RAM", RAM, Desc::None),
        (0, 0x2000, 0x2fff, "reserved", MEMB, Desc::None),
    ]);
    for (start, size, want) in [
        (0x1000, 0x1000, "type 1, other 0 → REGION_INTERSECTS (0)"),
        (0x3000, 0x1000, "type 0, other 0 → REGION_DISJOINT (1)"),
        (0x1000, 0x2000, "type 1, other 1 → REGION_MIXED (2)"),
    ] {
        let mut tr = Trace::new();
        region_intersects(&t, start, size, SR, Desc::None, v("6.1"), &mut tr);
        assert!(
            tr.steps[0]
                .text()
                .starts_with(&format!("[{start:#x}-{:#x}] flags ", start + size - 1)),
            "{:?}",
            tr.steps[0]
        );
        assert_eq!(tr.steps.last().unwrap().text(), want);
    }
}

// ------------------------------------------------------------------ reserve_region_with_split

/// A bus window as `reserve_region_with_split`'s root (x86's "RAM buffer" and arm64's
/// "reserved" pass a top-level resource).
fn split_root(children: &[(u64, u64, &str)]) -> (crate::tree::Tree, crate::tree::NodeId) {
    let mut rows = vec![(
        0,
        0x80000000,
        0x8fffffff,
        "PCI Bus 0000:00",
        IORESOURCE_MEM,
        Desc::None,
    )];
    for &(s, e, n) in children {
        rows.push((1, s, e, n, MEMB, Desc::None));
    }
    let t = build(&rows);
    let root = t.find_name("PCI Bus 0000:00").unwrap();
    (t, root)
}

fn spans(t: &crate::tree::Tree, ids: &[crate::tree::NodeId]) -> Vec<(u64, u64)> {
    ids.iter()
        .map(|&i| (t.get(i).start, t.get(i).end))
        .collect()
}

/// `reserve_region_with_split` (6.12 kernel/resource.c): `if (root->start > start ||
/// root->end < end) { pr_err("requested range [0x%llx-0x%llx] not in root %pr\n", …); if
/// (start > root->end || end < root->start) abort = 1; else { if (end > root->end) end =
/// root->end; if (start < root->start) start = root->start; pr_err("fixing request to
/// [0x%llx-0x%llx]\n", …); } }` — each comparison strict: the root's exact range is no error,
/// one byte outside is clipped, a range touching the root by one byte is clipped to that
/// byte, one byte short of touching is dropped.
#[test]
fn reserve_region_with_split_root_edges() {
    let (rs, re) = (0x80000000u64, 0x8fffffffu64);
    for (start, end, want, fixed) in [
        (rs, re, Some((rs, re)), None),
        (
            rs - 1,
            re,
            Some((rs, re)),
            Some("fixing request to [0x80000000-0x8fffffff]"),
        ),
        (
            rs,
            re + 1,
            Some((rs, re)),
            Some("fixing request to [0x80000000-0x8fffffff]"),
        ),
        (
            rs - 0x1000,
            rs,
            Some((rs, rs)),
            Some("fixing request to [0x80000000-0x80000000]"),
        ),
        (
            re,
            re + 0x1000,
            Some((re, re)),
            Some("fixing request to [0x8fffffff-0x8fffffff]"),
        ),
        (rs - 0x1000, rs - 1, None, None),
        (re + 1, re + 0x1000, None, None),
    ] {
        let (mut t, root) = split_root(&[]);
        let mut tr = Trace::new();
        let made = reserve_region_with_split(&mut t, root, start, end, b"RAM buffer", &mut tr);
        let what = format!("[{start:#x}-{end:#x}]");
        assert_eq!(
            spans(&t, &made),
            want.into_iter().collect::<Vec<_>>(),
            "{what}"
        );
        let outside = start < rs || end > re;
        assert_eq!(
            tr.log.first().is_some_and(|l| l.starts_with(&format!(
                "requested range [{start:#x}-{end:#x}] not in root"
            ))),
            outside,
            "{what}: {:?}",
            tr.log
        );
        assert_eq!(
            tr.log.get(1).map(String::as_str),
            fixed,
            "{what}: {:?}",
            tr.log
        );
        assert_eq!(
            tr.log.len(),
            usize::from(outside) + usize::from(fixed.is_some())
        );
        if outside {
            // `%pr` of the root: raw, with its flags (lib/vsprintf.c `resource_string`).
            assert_eq!(
                tr.log[0],
                format!(
                    "requested range [{start:#x}-{end:#x}] not in root \
                     [mem 0x80000000-0x8fffffff flags 0x200]"
                )
            );
        }
    }
}

/// `__reserve_region_with_split` (6.12): a conflict at the piece's start moves the start
/// (`res->start = conflict->end + 1;`), one inside cuts the piece and keeps the part above
/// (`res->end = conflict->start - 1; if (conflict->end < end) { … next_res->start =
/// conflict->end + 1; next_res->end = end; }`), one ending exactly at the piece's end leaves
/// no upper part. Three children, three failed `__request_resource` calls, two pieces, no
/// piece dropped.
#[test]
fn reserve_region_with_split_around_children_at_both_ends_and_inside() {
    let (mut t, root) = split_root(&[
        (0x80000000, 0x80000fff, "a"),
        (0x80008000, 0x80008fff, "b"),
        (0x8ffff000, 0x8fffffff, "c"),
    ]);
    let mut tr = Trace::new();
    let made = reserve_region_with_split(&mut t, root, 0x80000000, 0x8fffffff, b"x", &mut tr);
    assert_eq!(
        spans(&t, &made),
        [(0x80001000, 0x80007fff), (0x80009000, 0x8fffefff)]
    );
    for &id in &made {
        // `res->flags = type | IORESOURCE_BUSY; res->desc = IORES_DESC_NONE;`
        assert_eq!(t.get(id).flags, IORESOURCE_MEM | IORESOURCE_BUSY);
        assert!(t.name_is(id, "x"));
    }
    let splits = tr
        .steps
        .iter()
        .filter(|s| s.text().contains("→ split"))
        .count();
    assert_eq!(splits, 3, "{:?}", tr.steps);
    assert!(
        !tr.steps.iter().any(|s| s.text().contains("dropped")),
        "{:?}",
        tr.steps
    );
    assert!(tr.log.is_empty(), "{:?}", tr.log);
}

/// `/* conflict covered whole area */ if (conflict->start <= res->start && conflict->end >=
/// res->end) { free_resource(res); WARN_ON(next_res); break; }` — both `<=`/`>=`: a child
/// equal to the request covers it, and it is that child (not the root) that drops it. A
/// child covering only the start does not.
#[test]
fn reserve_region_with_split_covering_child() {
    for (cs, ce) in [(0x80100000, 0x801fffff), (0x80000000, 0x8fffffff)] {
        let (mut t, root) = split_root(&[(cs, ce, "c")]);
        let before = crate::testutil::text(&t);
        let mut tr = Trace::new();
        let made = reserve_region_with_split(&mut t, root, 0x80100000, 0x801fffff, b"x", &mut tr);
        assert!(made.is_empty());
        assert_eq!(crate::testutil::text(&t), before);
        let texts: Vec<String> = tr.steps.iter().map(|s| s.text()).collect();
        assert_eq!(texts.len(), 1, "{texts:?}");
        assert!(texts[0].starts_with("\"c\" ") && texts[0].ends_with("→ piece dropped"));
    }
    // Same start, shorter: the piece continues after it.
    let (mut t, root) = split_root(&[(0x80100000, 0x8010ffff, "c")]);
    let made = reserve_region_with_split(
        &mut t,
        root,
        0x80100000,
        0x801fffff,
        b"x",
        &mut Trace::new(),
    );
    assert_eq!(spans(&t, &made), [(0x80110000, 0x801fffff)]);
}

// ------------------------------------------------------------------ free-range finders

/// `gfr_continue` descending (5.10 `for (; addr > size && addr >= base->start; addr -= size)`,
/// 6.1/6.12 `return addr > size && addr >= base->start;`): a candidate equal to `size` is not
/// tried even when free. PHYSMEM_END 0x1fffffff (29 bits), 128 MiB sections, RAM over
/// [0x10000000-0x1fffffff]: candidates 0x18000000 and 0x10000000 overlap it, 0x8000000 fails
/// `addr > size` → -ERANGE.
#[test]
fn request_free_mem_region_stops_at_addr_equal_size() {
    for ver in ["5.10", "6.1", "6.12"] {
        let mut t = build(&[(0, 0x10000000, 0x1fffffff, "System RAM", RAM, Desc::None)]);
        let before = crate::testutil::text(&t);
        let e = request_free_mem_region(
            &mut t,
            crate::tree::Tree::ROOT,
            0x8000000,
            b"hmm_dmirror",
            29,
            v(ver),
            &mut Trace::new(),
        )
        .unwrap_err();
        assert_eq!(e.errno, crate::kernel::Errno::ERANGE, "{ver}");
        assert_eq!(crate::testutil::text(&t), before);
    }
    // RAM one section higher: the candidate 0x10000000 (> size) is tried and is free.
    let mut t = build(&[(0, 0x18000000, 0x3fffffff, "System RAM", RAM, Desc::None)]);
    let mut tr = Trace::new();
    let id = request_free_mem_region(
        &mut t,
        crate::tree::Tree::ROOT,
        0x8000000,
        b"hmm_dmirror",
        30,
        v("6.1"),
        &mut tr,
    )
    .unwrap();
    assert_eq!((t.get(id).start, t.get(id).end), (0x10000000, 0x17ffffff));
    // The decision path names the parent whose children were tested.
    assert!(
        tr.steps.iter().any(|s| s
            .text()
            .ends_with("is DISJOINT from the children of the iomem root")),
        "{:?}",
        tr.steps
    );
}

/// `get_free_mem_region` (6.12): `if (__region_intersects(base, addr, size, 0,
/// IORES_DESC_NONE) != REGION_DISJOINT) continue;` — with flags 0 any child overlapping the
/// candidate counts, even one byte at its last address (`resource_overlaps`: `r1->start <=
/// r2->end && r1->end >= r2->start`). Candidates skipped over one child are counted one by one
/// (`addr = gfr_next(addr, align, flags)`), and the decision path names `base`.
#[test]
fn alloc_free_mem_region_child_on_the_candidates_last_byte() {
    let mk = |cs: u64, ce: u64| {
        let t = build(&[
            (
                0,
                0x100000000,
                0x1ffffffff,
                "CXL Window 0",
                IORESOURCE_MEM,
                Desc::None,
            ),
            (1, cs, ce, "x", MEMB, Desc::None),
        ]);
        let base = t.find_name("CXL Window 0").unwrap();
        (t, base)
    };
    let (mut t, base) = mk(0x10fffffff, 0x10fffffff);
    let mut tr = Trace::new();
    let id = alloc_free_mem_region(
        &mut t,
        base,
        0x10000000,
        0x10000000,
        b"region0",
        46,
        v("6.12"),
        &mut tr,
    )
    .unwrap();
    assert_eq!((t.get(id).start, t.get(id).end), (0x110000000, 0x11fffffff));
    assert!(
        tr.steps
            .iter()
            .any(|s| s.text().contains("the children of \"CXL Window 0\" [")),
        "{:?}",
        tr.steps
    );
    // A child over four candidates: 0x100000000 … 0x130000000 all overlap it.
    let (mut t, base) = mk(0x100000000, 0x13fffffff);
    let mut tr = Trace::new();
    let id = alloc_free_mem_region(
        &mut t,
        base,
        0x10000000,
        0x10000000,
        b"region0",
        46,
        v("6.12"),
        &mut tr,
    )
    .unwrap();
    assert_eq!((t.get(id).start, t.get(id).end), (0x140000000, 0x14fffffff));
    assert!(
        tr.steps
            .iter()
            .any(|s| s.text().ends_with("skip 4 candidate(s)")),
        "{:?}",
        tr.steps
    );
}

/// Size 0 (or a size that the rounding to `align` wraps to 0) is refused before the loop:
/// the kernel's ascending `gfr_continue` (`addr > addr - size`) would loop on an empty
/// window; not modelled, -EINVAL, nothing changes.
#[test]
fn alloc_free_mem_region_size_zero() {
    let mut t = build(&[(
        0,
        0x100000000,
        0x1ffffffff,
        "CXL Window 0",
        IORESOURCE_MEM,
        Desc::None,
    )]);
    let base = t.find_name("CXL Window 0").unwrap();
    let before = crate::testutil::text(&t);
    let e = alloc_free_mem_region(
        &mut t,
        base,
        0,
        0x10000000,
        b"region0",
        46,
        v("6.12"),
        &mut Trace::new(),
    )
    .unwrap_err();
    assert_eq!(e.errno, crate::kernel::Errno::EINVAL);
    assert_eq!(crate::testutil::text(&t), before);
}

/// "kernel/resource: Increment by align value in get_free_mem_region()" in v6.7, and in
/// 6.6-stable from 6.6.11: 6.6.10 steps by size, 6.6.11 by align.
#[test]
fn gfr_step_by_align_both_sides_of_6_6_11() {
    for (ver, want) in [
        ("6.5", false),
        ("6.6.0", false),
        ("6.6.10", false),
        ("6.6.11", true),
        ("6.6", true),
        ("6.7", true),
    ] {
        assert_eq!(gfr_steps_by_align(v(ver)), want, "{ver}");
    }
}

/// `allocate_resource(root, new, …)`: the iomem root itself is never a `new` resource (it is
/// the tree's root, always "allocated"); an already linked `new` goes to
/// `reallocate_resource` (`if (new->parent) { … return reallocate_resource(root, new, size,
/// &constraint); }`, not modelled): both -EINVAL.
#[test]
fn allocate_resource_refuses_the_root_and_a_linked_node() {
    let mut t = build(&[(0, 0x1000, 0x1fff, "a", MEMB, Desc::None)]);
    let before = crate::testutil::text(&t);
    let root = crate::tree::Tree::ROOT;
    let e = allocate_resource(
        &mut t,
        root,
        root,
        0x1000,
        0,
        u64::MAX,
        0x1000,
        &mut Trace::new(),
    )
    .unwrap_err();
    assert_eq!(e.errno, crate::kernel::Errno::EINVAL);
    let a = t.find_name("a").unwrap();
    let e = allocate_resource(
        &mut t,
        root,
        a,
        0x1000,
        0,
        u64::MAX,
        0x1000,
        &mut Trace::new(),
    )
    .unwrap_err();
    assert_eq!(e.errno, crate::kernel::Errno::EINVAL);
    assert_eq!(crate::testutil::text(&t), before);
}

/// The command line's flags words: a hex or a decimal number alone, and the names of
/// include/linux/ioport.h in the decision path (`IORESOURCE_MEM` 0x200, `IORESOURCE_SYSRAM`
/// 0x01000000).
#[test]
fn flags_words_hex_and_names() {
    assert_eq!(parse_flags("0x200"), Some(IORESOURCE_MEM));
    assert_eq!(parse_flags("512"), Some(IORESOURCE_MEM));
    assert_eq!(parse_flags("0x01000200"), Some(IORESOURCE_SYSTEM_RAM));
    let t = build(&[(0, 0x1000, 0x1fff, "System RAM", RAM, Desc::None)]);
    let mut tr = Trace::new();
    region_intersects(&t, 0x1000, 0x1000, SR, Desc::None, v("6.1"), &mut tr);
    assert_eq!(
        tr.steps[0].text(),
        "[0x1000-0x1fff] flags MEM|SYSRAM desc NONE"
    );
}

/// `walk_system_ram_res` / `walk_mem_res` in 5.10.262 (kernel/resource.c): `return
/// __walk_iomem_res_desc(start, end, flags, IORES_DESC_NONE, false, arg, func);` —
/// `first_lvl = false`, the whole tree, as from v5.13 ("kernel/resource: make
/// walk_system_ram_res() find all busy IORESOURCE_SYSTEM_RAM resources", backported to
/// 5.10-stable); 5.10.0 and 5.12 pass `true` (top level only). RAM nested under a non-RAM
/// top-level node is found only by the whole-tree walk; the decision path says which.
#[test]
fn walk_system_ram_res_depth_on_both_sides_incl_5_10_stable() {
    let t = build(&[
        (
            0,
            0x100000000,
            0x13fffffff,
            "Persistent Memory (legacy)",
            IORESOURCE_MEM,
            Desc::PersistentMemoryLegacy,
        ),
        (1, 0x108000000, 0x10fffffff, "System RAM", RAM, Desc::None),
    ]);
    for (ver, whole) in [
        ("5.10.0", false),
        ("5.12", false),
        ("5.10", true),
        ("5.13", true),
        ("6.1", true),
    ] {
        let mut tr = Trace::new();
        let w = crate::kernel::region::walk_system_ram_res(
            &t,
            0x100000000,
            0x13fffffff,
            v(ver),
            &mut tr,
        );
        let want: Vec<(u64, u64)> = if whole {
            vec![(0x108000000, 0x10fffffff)]
        } else {
            vec![]
        };
        assert_eq!(w.ranges, want, "{ver}");
        let depth = if whole {
            "whole tree"
        } else {
            "top level only"
        };
        assert!(
            tr.steps[0].text().starts_with(&format!(
                "[0x100000000-0x13fffffff] SYSTEM_RAM|BUSY, {depth} ("
            )),
            "{ver}: {:?}",
            tr.steps[0]
        );
        let mut tr = Trace::new();
        let w = crate::kernel::region::walk_mem_res(&t, 0x108000000, 0x10fffffff, v(ver), &mut tr);
        assert_eq!(w.ranges.len(), usize::from(whole), "{ver}");
        assert!(
            tr.steps[0].text().contains(&format!(", {depth} (")),
            "{ver}"
        );
    }
}

/// `find_next_iomem_res` with the top-level skip (5.10.262: `bool siblings_only = true; for (p
/// = iomem_resource.child; p; p = next_resource(p, siblings_only)) { if (p->start > end) { p =
/// NULL; break; } if (p->end < start) continue; … siblings_only = first_lvl;`; 6.1.172 the same
/// as `skip_children`; `return p ? 0 : -ENODEV;`): the subtree of a top-level node that ends
/// before `start` is never entered. A dump's child lying outside its parent (B under A) is
/// found by the plain pre-order walk (5.2's flags-first order, 5.10.0's reordered one: `next_resource(p,
/// false)` descends into every node) and not by the skipping one (5.10-stable, 6.1), which
/// returns -ENODEV where the older walk returned -1.
#[test]
fn find_next_iomem_res_skips_children_until_a_top_level_overlap() {
    let t = build(&[
        (0, 0x1000, 0x1fff, "Reserved", IORESOURCE_MEM, Desc::None),
        (1, 0x5000, 0x5fff, "System RAM", RAM, Desc::None),
        (0, 0x8000, 0x8fff, "System RAM", RAM, Desc::None),
    ]);
    let f = |ver: &str, s, e| next_ram(&t, ver, SearchDepth::WholeTree, s, e);
    for (ver, skips) in [
        ("5.2", false),
        ("5.10.0", false),
        ("5.12", false),
        ("5.10", true),
        ("5.13", true),
        ("6.1", true),
        ("6.12", true),
    ] {
        let want = if skips {
            Err(-19)
        } else {
            Ok((0x5000, 0x5fff))
        };
        assert_eq!(f(ver, 0x5000, 0x5fff), want, "{ver}");
        // A's end reaches the query: from A on the walk descends, and B is found.
        assert_eq!(f(ver, 0x1800, 0x5fff), Ok((0x5000, 0x5fff)), "{ver}");
        // Nothing anywhere: the not-found value of each side.
        let none = if skips { -19 } else { -1 };
        assert_eq!(f(ver, 0x9000, 0x9fff), Err(none), "{ver}");
    }
    // Top level only (first_lvl, or before the whole-tree walkers): B is never looked at.
    for ver in ["5.10.0", "6.1"] {
        let r = next_ram(&t, ver, SearchDepth::TopLevel, 0x1800, 0x5fff);
        assert!(r.is_err(), "{ver}");
    }
}

/// In the skipping phase a top-level node starting past `end` stops the search at once (`if
/// (p->start > end) { p = NULL; break; }` comes before `if (p->end < start) continue;`), even
/// when it also ends before `start` (an inverted `9000-0fff` entry of a broken dump) and a
/// later-listed top-level node would match.
#[test]
fn find_next_iomem_res_skip_phase_stops_at_a_start_past_end() {
    let t = build(&[
        (0, 0x9000, 0x0fff, "Reserved", IORESOURCE_MEM, Desc::None),
        (0, 0x5000, 0x5fff, "System RAM", RAM, Desc::None),
    ]);
    for ver in ["5.10", "6.1"] {
        let r = next_ram(&t, ver, SearchDepth::WholeTree, 0x5000, 0x5fff);
        assert_eq!(r, Err(-19), "{ver}");
    }
}
