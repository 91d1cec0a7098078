//! Edge tests for `src/kernel/region.rs` (`kernel/resource.c`, the query half: read in
//! /work/ksrc/linux-source-{5.10,6.1,6.12}/kernel/resource.c; `include/linux/mm.h` for the
//! REGION_* values).

use super::v;
use crate::kernel::Trace;
use crate::kernel::region::{
    __walk_iomem_res_desc, SearchDepth, find_next_iomem_res, region_intersects,
    walk_system_ram_range,
};
use crate::testutil::{MEMB, RAM, build};
use crate::tree::Desc;
use crate::tree::flags::*;

const SR: u32 = IORESOURCE_SYSTEM_RAM;

fn found(r: Result<crate::kernel::region::FoundRes, i32>) -> Result<(u64, u64), i32> {
    r.map(|f| (f.start, f.end))
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
        let f = |s, e| {
            found(find_next_iomem_res(
                &t,
                s,
                e,
                SR,
                Desc::None,
                SearchDepth::WholeTree,
                v(ver),
            ))
        };
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
    let texts: Vec<&str> = tr.steps.iter().map(|s| s.text.as_str()).collect();
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
        !tr.steps.iter().any(|s| s.text.contains(">= end")),
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
        !tr.steps.iter().any(|s| s.text.contains("nothing matching")),
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
        !tr.steps.iter().any(|s| s.text.contains("nothing matching")),
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
                .text
                .starts_with(&format!("[{start:#x}-{:#x}] flags ", start + size - 1)),
            "{:?}",
            tr.steps[0]
        );
        assert_eq!(tr.steps.last().unwrap().text, want);
    }
}
