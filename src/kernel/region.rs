//! `kernel/resource.c`, the query and allocation half: `resource_union` /
//! `resource_intersection`, `region_intersects`, `find_next_iomem_res` and the walkers,
//! `allocate_resource`, `lookup_resource`, the free-range finders (`request_free_mem_region`,
//! `alloc_free_mem_region`) and `reserve_region_with_split` (kernel-semantics.md §2.10–§2.13).
//!
//! Every function is named after the kernel function it mirrors; version boundaries are written
//! next to the rule they change. Nothing here recurses, and every search loop is bounded by the
//! number of nodes in the tree (the kernel's candidate loops are stepped over whole conflicting
//! nodes at once, with the same result as stepping one candidate at a time).

use super::resource::{__insert_resource, __request_region, __request_resource};
use super::{Errno, KResult, KernelError, KernelVersion, ResRef, Trace};
use crate::tree::flags::*;
use crate::tree::{Desc, NodeId, Resource, Tree};
use std::fmt;

#[cfg(test)]
mod tests;

/// `PAGE_SHIFT` (4 KiB pages; x86_64, arm64 default).
pub const PAGE_SHIFT: u32 = 12;
/// `PAGE_SIZE`.
pub const PAGE_SIZE: u64 = 1 << PAGE_SHIFT;
/// x86_64 memory section size (`SECTION_SIZE_BITS` = 27): `GFR_DEFAULT_ALIGN`, and the
/// rounding unit of `request_free_mem_region`.
pub const SECTION_SIZE: u64 = 1 << 27;
/// x86_64 `MAX_PHYSMEM_BITS` with 4-level paging.
pub const PHYS_BITS_4LEVEL: u32 = 46;
/// x86_64 `MAX_PHYSMEM_BITS` with 5-level paging (la57).
pub const PHYS_BITS_5LEVEL: u32 = 52;

/// The kernel's negative return values that are not in [`Errno`] or are returned as plain ints.
pub mod ret {
    /// `-EINVAL`.
    pub const EINVAL: i32 = -22;
    /// `-ENODEV`.
    pub const ENODEV: i32 = -19;
}

/// `PHYSMEM_END`: `(1 << MAX_PHYSMEM_BITS) - 1` until v6.12, `DIRECT_MAP_PHYSMEM_END` from
/// v6.13 — the same value unless KASLR shrinks the direct map (not modelled).
pub fn physmem_end(max_phys_bits: u32) -> u64 {
    if max_phys_bits >= 64 {
        u64::MAX
    } else {
        (1u64 << max_phys_bits) - 1
    }
}

/// The kernel's `ALIGN(x, a)` (`__ALIGN_KERNEL`): `(x + a - 1) & ~(a - 1)` in 64-bit wrapping
/// arithmetic, exactly as written (a non-power-of-two `a` gives what the kernel gives).
pub fn align_up(x: u64, a: u64) -> u64 {
    let mask = a.wrapping_sub(1);
    x.wrapping_add(mask) & !mask
}

// ------------------------------------------------------------------------------------------
// resource_union / resource_intersection

/// A plain inclusive range, the `start`/`end` part of a `struct resource`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default, serde::Serialize)]
pub struct Span {
    pub start: u64,
    pub end: u64,
}

impl Span {
    pub const fn new(start: u64, end: u64) -> Span {
        Span { start, end }
    }
    /// `[start, start + size - 1]` with the kernel's wrapping arithmetic.
    pub fn sized(start: u64, size: u64) -> Span {
        Span::new(start, start.wrapping_add(size).wrapping_sub(1))
    }
}

impl fmt::Display for Span {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "[{:#x}-{:#x}]", self.start, self.end)
    }
}

/// `resource_overlaps(r1, r2)`: `r1.start <= r2.end && r1.end >= r2.start`.
pub fn resource_overlaps(r1: &Span, r2: &Span) -> bool {
    r1.start <= r2.end && r1.end >= r2.start
}

fn node_span(r: &Resource) -> Span {
    Span::new(r.start, r.end)
}

/// `resource_union(r1, r2, r)` (v5.13+ helper, `include/linux/ioport.h`): when the ranges
/// overlap, `r` becomes their union and the result is true; otherwise false and **`r` is left
/// untouched** (kunit `resource_test_union`).
pub fn resource_union(r1: &Span, r2: &Span, r: &mut Span) -> bool {
    if !resource_overlaps(r1, r2) {
        return false;
    }
    r.start = r1.start.min(r2.start);
    r.end = r1.end.max(r2.end);
    true
}

/// `resource_intersection(r1, r2, r)` (v5.13+ helper): like [`resource_union`] but `r`
/// becomes the intersection; untouched when there is none.
pub fn resource_intersection(r1: &Span, r2: &Span, r: &mut Span) -> bool {
    if !resource_overlaps(r1, r2) {
        return false;
    }
    r.start = r1.start.max(r2.start);
    r.end = r1.end.min(r2.end);
    true
}

// ------------------------------------------------------------------------------------------
// region_intersects

/// `REGION_INTERSECTS` / `REGION_DISJOINT` / `REGION_MIXED` (`include/linux/mm.h`), with the
/// kernel's values.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, serde::Serialize)]
pub enum RegionIntersects {
    Intersects = 0,
    Disjoint = 1,
    Mixed = 2,
}

impl RegionIntersects {
    pub fn value(self) -> i32 {
        self as i32
    }
    pub fn kernel_name(self) -> &'static str {
        match self {
            RegionIntersects::Intersects => "REGION_INTERSECTS",
            RegionIntersects::Disjoint => "REGION_DISJOINT",
            RegionIntersects::Mixed => "REGION_MIXED",
        }
    }
}

impl fmt::Display for RegionIntersects {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} ({})", self.kernel_name(), self.value())
    }
}

/// `is_type_match(p, flags, desc)` (a named helper since ≈v6.12, the same test open-coded
/// before): `(p.flags & flags) == flags` and (`desc == IORES_DESC_NONE` or `p.desc == desc`).
/// `flags = 0` with `desc = NONE` matches every node.
pub fn is_type_match(r: &Resource, flags: u32, desc: Desc) -> bool {
    r.flags & flags == flags && (desc == Desc::None || r.desc == desc)
}

/// Whether `__region_intersects` looks into the descendants of a non-matching top-level node:
/// v6.12+ ("resource: fix region_intersects() vs add_memory_driver_managed()", Huang Ying)
/// and the stable series that took the backport — read in 6.1.172 and 5.10.262
/// `kernel/resource.c` (`covered = false; for_each_resource(p, dp, false) { … }`), so `6.1`
/// and `5.10` (the series today) have it and `6.1.0` / `5.10.0` do not. See
/// [`boundaries::REGION_INTERSECTS_DESCENDANTS`](super::boundaries::REGION_INTERSECTS_DESCENDANTS).
pub fn region_intersects_is_descendant_aware(v: KernelVersion) -> bool {
    super::boundaries::REGION_INTERSECTS_DESCENDANTS.applies(v)
}

/// `region_intersects(start, size, flags, desc)`: how `[start, start+size-1]` relates to the
/// resources matching `flags`/`desc` under the iomem root. See [`__region_intersects`].
pub fn region_intersects(
    tree: &Tree,
    start: u64,
    size: u64,
    flags: u32,
    desc: Desc,
    version: KernelVersion,
    trace: &mut Trace,
) -> RegionIntersects {
    trace.step(
        0,
        "region_intersects",
        format!(
            "{} flags {} desc {}",
            Span::sized(start, size),
            describe(flags),
            desc.kernel_name()
        ),
    );
    __region_intersects(tree, Tree::ROOT, start, size, flags, desc, version, trace)
}

/// `__region_intersects(parent, start, size, flags, desc)` (the `parent` argument since v6.1;
/// before it was always the iomem root). Counts, over `parent`'s **direct children** that
/// overlap the query, those matching ([`is_type_match`]) as `type` and the others as `other`:
/// `type == 0` → DISJOINT, `other == 0` → INTERSECTS, else MIXED. Holes never count.
///
/// * v4.6 … v6.11: a non-matching child is simply `other`.
/// * **v6.12+, and 5.10/5.15/6.1/6.6-stable** (not their `.0` releases): a non-matching child P is looked into: its descendants are walked in pre-order;
///   each one overlapping the query and matching counts as `type`; if they cover P's overlap
///   with the query without a gap (walked from its low end), P does not count as `other`.
///   (The kernel's first 6.12 walk could run past P's subtree; a later fix bounded it to the
///   subtree. In a sorted tree both give the same answer; this is the bounded walk.)
/// * Before v4.6 the test was the name "System RAM" (not modelled).
#[allow(clippy::too_many_arguments)]
pub fn __region_intersects(
    tree: &Tree,
    parent: NodeId,
    start: u64,
    size: u64,
    flags: u32,
    desc: Desc,
    version: KernelVersion,
    trace: &mut Trace,
) -> RegionIntersects {
    let res = Span::sized(start, size);
    let deep = region_intersects_is_descendant_aware(version);
    let (mut ty, mut other) = (0usize, 0usize);
    for p in tree.children(parent) {
        let pr = tree.get(p);
        let mut o = Span::default();
        if !resource_intersection(&node_span(pr), &res, &mut o) {
            continue;
        }
        if is_type_match(pr, flags, desc) {
            ty += 1;
            trace.step(
                1,
                "__region_intersects",
                format!("{} overlaps and matches → type", ResRef::of(tree, p)),
            );
            continue;
        }
        if !deep {
            other += 1;
            trace.step(
                1,
                "__region_intersects",
                format!(
                    "{} overlaps, does not match → other (≤ v6.11: children not examined)",
                    ResRef::of(tree, p)
                ),
            );
            continue;
        }
        let mut covered = false;
        for dp in tree.descendants(p) {
            let d = tree.get(dp);
            if !resource_overlaps(&node_span(d), &res) || !is_type_match(d, flags, desc) {
                continue;
            }
            ty += 1;
            if d.start > o.start {
                trace.step(
                    2,
                    "__region_intersects",
                    format!(
                        "matching descendant {} leaves a gap at {:#x}",
                        ResRef::of(tree, dp),
                        o.start
                    ),
                );
                break;
            }
            if d.end >= o.end {
                covered = true;
                trace.step(
                    2,
                    "__region_intersects",
                    format!(
                        "matching descendant {} covers the rest of the overlap",
                        ResRef::of(tree, dp)
                    ),
                );
                break;
            }
            o.start = o.start.max(d.end.saturating_add(1));
        }
        if covered {
            trace.step(1, "__region_intersects", format!("{} does not match but its overlap is covered by matching descendants → not other (v6.12+ and its stable backports)", ResRef::of(tree, p)));
        } else {
            other += 1;
            trace.step(1, "__region_intersects", format!("{} does not match and its overlap is not covered by matching descendants → other", ResRef::of(tree, p)));
        }
    }
    let result = if ty == 0 {
        RegionIntersects::Disjoint
    } else if other == 0 {
        RegionIntersects::Intersects
    } else {
        RegionIntersects::Mixed
    };
    trace.step(
        1,
        "__region_intersects",
        format!("type {ty}, other {other} → {result}"),
    );
    result
}

// ------------------------------------------------------------------------------------------
// find_next_iomem_res and the walkers

/// Which nodes `find_next_iomem_res` looks at.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize)]
pub enum SearchDepth {
    /// The iomem root's direct children only (`first_lvl` / `siblings_only` = true).
    TopLevel,
    /// The whole tree in pre-order.
    WholeTree,
}

/// What `find_next_iomem_res` copies out: the matching node's range clipped to the query,
/// its flags and desc (newer kernels: also its parent), and which node it was.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct FoundRes {
    pub start: u64,
    pub end: u64,
    pub flags: u32,
    pub desc: Desc,
    pub node: NodeId,
}

/// `find_next_iomem_res(start, end, flags, desc, [first_lvl])`: the first node (pre-order, or
/// among the top level) overlapping `[start, end]` and matching `flags`/`desc`, clipped.
/// `start >= end` → `-EINVAL` (a one-byte query is rejected). Nothing found → `-1` before
/// [`WALK_RES_WHOLE_TREE`](super::boundaries::WALK_RES_WHOLE_TREE) (v5.13, and 5.10-stable:
/// 5.10.262 ends with `return p ? 0 : -ENODEV;`), `-ENODEV` with it (only visible inside the
/// kernel, the walkers map it).
///
/// The same change made the whole-tree search skip the subtrees of top-level resources until
/// the first one that overlaps `[start, end]` (5.10.262: `bool siblings_only = true; … if
/// (p->end < start) continue; … siblings_only = first_lvl;`, 6.1.172: `bool skip_children =
/// true; … skip_children = false;`): a child lying outside a top-level parent that ends before
/// `start` (a dump's anomaly) is not found, where the plain pre-order walk before it found it.
///
/// The scan order of the checks changed with Nadav Amit's "resource: avoid unnecessary lookups
/// in find_next_iomem_res()" (756398750e11, posted against v5.2-rc3, merged for v5.3; the
/// 5.10.262 source has it: `if (p->start > end) { p = NULL; break; }` before `if ((p->flags &
/// flags) != flags) continue;`): since then a node starting after `end` stops the search
/// before flags are looked at; before, only a *matching* node starting after `end` did. Equal
/// results on sorted trees; mirrored for dumps whose sibling lists are not sorted.
#[allow(clippy::too_many_arguments)]
pub fn find_next_iomem_res(
    tree: &Tree,
    start: u64,
    end: u64,
    flags: u32,
    desc: Desc,
    depth: SearchDepth,
    version: KernelVersion,
) -> Result<FoundRes, i32> {
    if start >= end {
        return Err(ret::EINVAL);
    }
    let skip_children = super::boundaries::WALK_RES_WHOLE_TREE.applies(version);
    let not_found = if skip_children { ret::ENODEV } else { -1 };
    let new_order = version.at_least(5, 3);
    let mut check = |p: NodeId| -> Option<Option<NodeId>> {
        // Some(Some(p)) found, Some(None) stop, None continue.
        let r = tree.get(p);
        if new_order {
            if r.start > end {
                return Some(None);
            }
            if r.end < start || !is_type_match(r, flags, desc) {
                return None;
            }
            Some(Some(p))
        } else {
            if !is_type_match(r, flags, desc) {
                return None;
            }
            if r.start > end {
                return Some(None);
            }
            if r.end >= start && r.start <= end {
                return Some(Some(p));
            }
            None
        }
    };
    let found = match depth {
        SearchDepth::TopLevel => tree.children(Tree::ROOT).find_map(&mut check),
        SearchDepth::WholeTree if skip_children => {
            // `for_each_resource(&iomem_resource, p, skip_children)`: top-level siblings only
            // until one reaches `start` (a start past `end` still stops), then pre-order from
            // it, children included.
            let mut tops = tree.children(Tree::ROOT).peekable();
            while let Some(&c) = tops.peek() {
                let r = tree.get(c);
                if r.start > end {
                    return Err(not_found);
                }
                if r.end >= start {
                    break;
                }
                tops.next();
            }
            tops.flat_map(|c| std::iter::once(c).chain(tree.descendants(c)))
                .find_map(&mut check)
        }
        SearchDepth::WholeTree => tree.descendants(Tree::ROOT).find_map(&mut check),
    };
    match found.flatten() {
        Some(p) => {
            let r = tree.get(p);
            Ok(FoundRes {
                start: start.max(r.start),
                end: end.min(r.end),
                flags: r.flags,
                desc: r.desc,
                node: p,
            })
        }
        None => Err(not_found),
    }
}

/// The outcome of a walker: the ranges its callback was given, in order, and its return value.
/// The simulated callback returns 0 ("continue"), like the kunit counter callback.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct WalkResult {
    /// `[start, end]` byte ranges (`walk_*_res*`) or `(pfn, nr_pages)` (`walk_system_ram_range`).
    pub ranges: Vec<(u64, u64)>,
    /// 0 when the callback ran at least once; otherwise the walker's "nothing found" value.
    pub ret: i32,
}

/// The walkers' "nothing found" return value: `-1` before v5.1, `-EINVAL` from v5.1
/// ("mm/resource: return real error codes from walk failures", Dave Hansen).
pub fn walk_nothing_found(v: KernelVersion) -> i32 {
    if v.at_least(5, 1) { ret::EINVAL } else { -1 }
}

/// `__walk_iomem_res_desc(start, end, flags, desc, [first_lvl], arg, func)`: repeat
/// [`find_next_iomem_res`], call `func` on each clipped range, stop on a non-zero return,
/// continue after the range's end. Returns the last callback value or the "nothing found"
/// value ([`walk_nothing_found`]). Because the search resumes after the found node's end,
/// matching descendants of a matching node are never reported separately.
#[allow(clippy::too_many_arguments)]
pub fn __walk_iomem_res_desc(
    tree: &Tree,
    start: u64,
    end: u64,
    flags: u32,
    desc: Desc,
    depth: SearchDepth,
    version: KernelVersion,
    trace: &mut Trace,
    func: &mut dyn FnMut(&FoundRes) -> i32,
) -> i32 {
    let mut ret = walk_nothing_found(version);
    let mut start = start;
    if start >= end {
        trace.step(
            1,
            "find_next_iomem_res",
            format!("start {start:#x} >= end {end:#x} → -EINVAL, no callback"),
        );
    }
    while start < end {
        let res = match find_next_iomem_res(tree, start, end, flags, desc, depth, version) {
            Ok(r) => r,
            Err(_) => {
                trace.step(
                    1,
                    "find_next_iomem_res",
                    format!("nothing matching in [{start:#x}-{end:#x}] → stop"),
                );
                break;
            }
        };
        trace.step(
            1,
            "find_next_iomem_res",
            format!(
                "{} → callback with [{:#x}-{:#x}]",
                ResRef::of(tree, res.node),
                res.start,
                res.end
            ),
        );
        ret = func(&res);
        if ret != 0 {
            break;
        }
        // The kernel would wrap to 0 and loop; a node ending at the top of the space ends the walk.
        let Some(next) = res.end.checked_add(1) else {
            break;
        };
        start = next;
    }
    ret
}

fn depth_name(d: SearchDepth) -> &'static str {
    match d {
        SearchDepth::TopLevel => "top level only",
        SearchDepth::WholeTree => "whole tree",
    }
}

#[allow(clippy::too_many_arguments)]
fn collect_walk(
    tree: &Tree,
    start: u64,
    end: u64,
    flags: u32,
    desc: Desc,
    depth: SearchDepth,
    version: KernelVersion,
    trace: &mut Trace,
) -> WalkResult {
    let mut ranges = Vec::new();
    let ret = __walk_iomem_res_desc(
        tree,
        start,
        end,
        flags,
        desc,
        depth,
        version,
        trace,
        &mut |r| {
            ranges.push((r.start, r.end));
            0
        },
    );
    WalkResult { ranges, ret }
}

/// `walk_iomem_res_desc(desc, flags, start, end, arg, func)`: caller's flags/desc, the
/// **whole tree** in every version modelled (v4.6+).
#[allow(clippy::too_many_arguments)]
pub fn walk_iomem_res_desc(
    tree: &Tree,
    desc: Desc,
    flags: u32,
    start: u64,
    end: u64,
    version: KernelVersion,
    trace: &mut Trace,
) -> WalkResult {
    trace.step(
        0,
        "walk_iomem_res_desc",
        format!(
            "[{start:#x}-{end:#x}] flags {} desc {}, whole tree",
            describe(flags),
            desc.kernel_name()
        ),
    );
    collect_walk(
        tree,
        start,
        end,
        flags,
        desc,
        SearchDepth::WholeTree,
        version,
        trace,
    )
}

/// Search depth of `walk_system_ram_res` and `walk_mem_res`: top level before v5.13, whole
/// tree from v5.13 ("kernel/resource: make walk_system_ram_res() find all busy
/// IORESOURCE_SYSTEM_RAM resources" / removal of `first_lvl`) and in 5.10-stable (5.10.262
/// passes `first_lvl = false`; `5.10.0` does not), see
/// [`boundaries::WALK_RES_WHOLE_TREE`](super::boundaries::WALK_RES_WHOLE_TREE).
pub fn walk_res_depth(v: KernelVersion) -> SearchDepth {
    if super::boundaries::WALK_RES_WHOLE_TREE.applies(v) {
        SearchDepth::WholeTree
    } else {
        SearchDepth::TopLevel
    }
}

/// Search depth of `walk_system_ram_range`: top level before v5.1, whole tree from v5.1 (Dave
/// Hansen's 2019 series, so `page_is_ram()` sees hot-added RAM nested under PMEM).
pub fn walk_system_ram_range_depth(v: KernelVersion) -> SearchDepth {
    if v.at_least(5, 1) {
        SearchDepth::WholeTree
    } else {
        SearchDepth::TopLevel
    }
}

/// `walk_system_ram_res(start, end, arg, func)`: flags `SYSTEM_RAM|BUSY`; depth per
/// [`walk_res_depth`] (top level before v5.13).
pub fn walk_system_ram_res(
    tree: &Tree,
    start: u64,
    end: u64,
    version: KernelVersion,
    trace: &mut Trace,
) -> WalkResult {
    let depth = walk_res_depth(version);
    trace.step(
        0,
        "walk_system_ram_res",
        format!(
            "[{start:#x}-{end:#x}] SYSTEM_RAM|BUSY, {} ({version})",
            depth_name(depth)
        ),
    );
    collect_walk(
        tree,
        start,
        end,
        IORESOURCE_SYSTEM_RAM | IORESOURCE_BUSY,
        Desc::None,
        depth,
        version,
        trace,
    )
}

/// `walk_mem_res(start, end, arg, func)`: flags `MEM|BUSY`; depth per [`walk_res_depth`].
pub fn walk_mem_res(
    tree: &Tree,
    start: u64,
    end: u64,
    version: KernelVersion,
    trace: &mut Trace,
) -> WalkResult {
    let depth = walk_res_depth(version);
    trace.step(
        0,
        "walk_mem_res",
        format!(
            "[{start:#x}-{end:#x}] MEM|BUSY, {} ({version})",
            depth_name(depth)
        ),
    );
    collect_walk(
        tree,
        start,
        end,
        IORESOURCE_MEM | IORESOURCE_BUSY,
        Desc::None,
        depth,
        version,
        trace,
    )
}

/// `walk_system_ram_range(start_pfn, nr_pages, arg, func)` with a callback returning `cb`'s
/// value: bytes `[start_pfn << PAGE_SHIFT, ((start_pfn + nr_pages) << PAGE_SHIFT) - 1]`, flags
/// `SYSTEM_RAM|BUSY`, depth per [`walk_system_ram_range_depth`]; each clipped range is turned
/// into whole pages (`PFN_UP(start)` … `PFN_DOWN(end + 1)`) and skipped when it holds none.
/// Quirk kept: `ret` starts non-zero (`-EINVAL`) and the loop breaks on any non-zero `ret`,
/// so a range holding no whole page met *before* the first callback ends the walk.
pub fn walk_system_ram_range_with(
    tree: &Tree,
    start_pfn: u64,
    nr_pages: u64,
    version: KernelVersion,
    trace: &mut Trace,
    func: &mut dyn FnMut(u64, u64) -> i32,
) -> i32 {
    let depth = walk_system_ram_range_depth(version);
    let mut start = start_pfn.wrapping_mul(PAGE_SIZE);
    let end = start_pfn
        .wrapping_add(nr_pages)
        .wrapping_mul(PAGE_SIZE)
        .wrapping_sub(1);
    trace.step(
        0,
        "walk_system_ram_range",
        format!(
            "pfn {start_pfn:#x} + {nr_pages:#x} pages = [{start:#x}-{end:#x}], {} ({version})",
            depth_name(depth)
        ),
    );
    let mut ret = walk_nothing_found(version);
    let flags = IORESOURCE_SYSTEM_RAM | IORESOURCE_BUSY;
    while start < end {
        let Ok(res) = find_next_iomem_res(tree, start, end, flags, Desc::None, depth, version)
        else {
            trace.step(
                1,
                "find_next_iomem_res",
                format!("nothing matching in [{start:#x}-{end:#x}] → stop"),
            );
            break;
        };
        let pfn = res.start.wrapping_add(PAGE_SIZE - 1) >> PAGE_SHIFT;
        let end_pfn = res.end.wrapping_add(1) >> PAGE_SHIFT;
        if end_pfn > pfn {
            trace.step(
                1,
                "walk_system_ram_range",
                format!(
                    "{} → callback (pfn {pfn:#x}, {:#x} pages)",
                    ResRef::of(tree, res.node),
                    end_pfn - pfn
                ),
            );
            ret = func(pfn, end_pfn - pfn);
        } else {
            trace.step(
                1,
                "walk_system_ram_range",
                format!(
                    "{} holds no whole page → skipped",
                    ResRef::of(tree, res.node)
                ),
            );
        }
        if ret != 0 {
            break;
        }
        let Some(next) = res.end.checked_add(1) else {
            break;
        };
        start = next;
    }
    ret
}

/// `walk_system_ram_range(start_pfn, nr_pages, …)` with a counting callback (returns 0): the
/// `(pfn, nr_pages)` pairs it was called with and the return value.
pub fn walk_system_ram_range(
    tree: &Tree,
    start_pfn: u64,
    nr_pages: u64,
    version: KernelVersion,
    trace: &mut Trace,
) -> WalkResult {
    let mut ranges = Vec::new();
    let ret = walk_system_ram_range_with(tree, start_pfn, nr_pages, version, trace, &mut |p, n| {
        ranges.push((p, n));
        0
    });
    WalkResult { ranges, ret }
}

/// `page_is_ram(pfn)` (generic `__weak` version): `walk_system_ram_range(pfn, 1, __is_ram) == 1`.
pub fn page_is_ram(tree: &Tree, pfn: u64, version: KernelVersion, trace: &mut Trace) -> bool {
    walk_system_ram_range_with(tree, pfn, 1, version, trace, &mut |_, _| 1) == 1
}

// ------------------------------------------------------------------------------------------
// allocate_resource / lookup_resource

/// `__find_resource(root, NULL, new, size, constraint)` (`__find_resource_space` since v6.9)
/// with the default `alignf` (`simple_align_resource`: the aligned gap start): first fit,
/// ascending, among the gaps between `root`'s **direct** children, each gap clipped to
/// `[min, max]`, its start rounded up to `align`. A first child starting exactly at
/// `root.start` is skipped before the search (underflow guard).
pub fn __find_resource(
    tree: &Tree,
    root: NodeId,
    size: u64,
    min: u64,
    max: u64,
    align: u64,
) -> Option<Span> {
    let r = tree.get(root);
    let kids: Vec<NodeId> = tree.children(root).collect();
    let mut i = 0;
    let mut tmp_start = r.start;
    if let Some(&first) = kids.first()
        && tree.get(first).start == r.start
    {
        tmp_start = tree.get(first).end.wrapping_add(1);
        i = 1;
    }
    loop {
        let this = kids.get(i).copied();
        let tmp_end = match this {
            Some(t) => tree.get(t).start.wrapping_sub(1),
            None => r.end,
        };
        if tmp_end >= tmp_start {
            // resource_clip, then ALIGN with the overflow check.
            let s = tmp_start.max(min);
            let e = tmp_end.min(max);
            let avail_start = align_up(s, align);
            if avail_start >= s {
                let alloc = Span::sized(avail_start, size);
                if alloc.start <= alloc.end && alloc.end <= e {
                    return Some(alloc);
                }
            }
        }
        match this {
            None => return None,
            Some(t) => {
                if tree.get(t).end == r.end {
                    return None;
                }
                tmp_start = tree.get(t).end.wrapping_add(1);
                i += 1;
            }
        }
    }
}

/// `allocate_resource(root, new, size, min, max, align, NULL, NULL)`: place the unlinked node
/// `new` in the first fitting gap ([`__find_resource`]) and link it under `root` with
/// `__request_resource`. No gap → **-EBUSY**. Never descends. (`new` already linked would
/// go to `reallocate_resource`, which is not modelled: -EINVAL here.)
#[allow(clippy::too_many_arguments)]
pub fn allocate_resource(
    tree: &mut Tree,
    root: NodeId,
    new: NodeId,
    size: u64,
    min: u64,
    max: u64,
    align: u64,
    trace: &mut Trace,
) -> KResult<()> {
    if tree.parent(new).is_some() || new == Tree::ROOT {
        return Err(KernelError::new(
            Errno::EINVAL,
            "allocate_resource",
            "the resource is already linked: reallocate_resource is not modelled",
        ));
    }
    let Some(slot) = __find_resource(tree, root, size, min, max, align) else {
        trace.step(0, "allocate_resource", format!("no gap of {size:#x} bytes aligned to {align:#x} in [{min:#x}-{max:#x}] among the children of {} → -EBUSY", ResRef::of(tree, root)));
        return Err(KernelError::new(
            Errno::EBUSY,
            "allocate_resource",
            format!(
                "no free {size:#x}-byte slot aligned to {align:#x} between the children of {}",
                ResRef::of(tree, root)
            ),
        ));
    };
    let n = tree.get_mut(new);
    n.start = slot.start;
    n.end = slot.end;
    if let Some(c) = __request_resource(tree, root, new) {
        return Err(KernelError::new(
            Errno::EBUSY,
            "allocate_resource",
            "__request_resource refused the slot",
        )
        .with_conflict(ResRef::of(tree, c)));
    }
    trace.step(
        0,
        "allocate_resource",
        format!("first fit {slot} under {}", ResRef::of(tree, root)),
    );
    Ok(())
}

/// `lookup_resource(root, start)`: the direct child of `root` starting exactly at `start`.
pub fn lookup_resource(tree: &Tree, root: NodeId, start: u64) -> Option<NodeId> {
    tree.children(root).find(|&c| tree.get(c).start == start)
}

// ------------------------------------------------------------------------------------------
// free-range finders

/// Whether the candidate step of `get_free_mem_region` is `align` rather than `size`:
/// v6.7+ ("kernel/resource: Increment by align value in get_free_mem_region()", Alison
/// Schofield), also backported to 6.6-stable in 6.6.11 (so `6.6` = the series today has it,
/// `6.6.0`–`6.6.10` do not). Other stable series are assumed not to carry it.
pub fn gfr_steps_by_align(v: KernelVersion) -> bool {
    let b = super::boundaries::GFR_STEP_BY_ALIGN;
    // The backport landed in 6.6.11: 6.6.1–6.6.10 are stable releases without it.
    b.applies(v) && !((v.major, v.minor) == (6, 6) && v.patch.is_some_and(|p| p < 11))
}

/// The direct children of `base` overlapping `q`, summarised as (lowest start, highest end);
/// `None` when there is none (the `__region_intersects(base, …, 0, IORES_DESC_NONE)` ==
/// DISJOINT test: with flags 0 every node matches, so it is DISJOINT iff no child overlaps —
/// identical in every version of `__region_intersects`).
fn overlapping_children(tree: &Tree, base: NodeId, q: Span) -> Option<(u64, u64)> {
    let mut acc: Option<(u64, u64)> = None;
    let mut add = |r: &Resource| {
        acc = Some(match acc {
            None => (r.start, r.end),
            Some((s, e)) => (s.min(r.start), e.max(r.end)),
        });
    };
    if tree.is_unsorted(base) {
        for c in tree.children(base) {
            let r = tree.get(c);
            if resource_overlaps(&node_span(r), &q) {
                add(r);
            }
        }
    } else {
        for c in tree.scan_from(base, q.start) {
            let r = tree.get(c);
            if r.start > q.end {
                break;
            }
            if resource_overlaps(&node_span(r), &q) {
                add(r);
            }
        }
    }
    acc
}

/// Descending candidate loop shared by both eras of `request_free_mem_region`: candidates
/// `addr, addr - step, …` while `addr > step && addr >= base.start`; a candidate is usable when
/// no direct child of `check_parent` overlaps it. Returns the first usable candidate.
/// Candidates overlapping the same conflicting node are stepped over at once (same result).
fn descend_candidates(
    tree: &Tree,
    check_parent: NodeId,
    base_start: u64,
    first: u64,
    size: u64,
    step: u64,
    trace: &mut Trace,
) -> Option<u64> {
    let mut addr = first;
    loop {
        if !(addr > step && addr >= base_start) {
            trace.step(
                1,
                "gfr_continue",
                format!(
                    "candidate {addr:#x} fails `addr > {step:#x} && addr >= base.start` → stop"
                ),
            );
            return None;
        }
        let cand = Span::sized(addr, size);
        let Some((lo, _)) = overlapping_children(tree, check_parent, cand) else {
            trace.step(
                1,
                "__region_intersects",
                format!(
                    "candidate {cand} is DISJOINT from the children of {}",
                    crate::kernel::Place::of(tree, check_parent)
                ),
            );
            return Some(addr);
        };
        // Every candidate whose end is still >= lo overlaps the same node: the next one that
        // can be free is the first with addr' + size - 1 < lo, i.e. addr' <= lo - size.
        let Some(limit) = lo.checked_sub(size) else {
            trace.step(1, "__region_intersects", format!("candidate {cand} overlaps a node starting at {lo:#x}; no lower candidate fits → stop"));
            return None;
        };
        let k = addr.saturating_sub(limit).div_ceil(step).max(1);
        trace.step(
            1,
            "__region_intersects",
            format!(
                "candidate {cand} overlaps a child of {} → skip {k} candidate(s)",
                crate::kernel::Place::of(tree, check_parent)
            ),
        );
        match k.checked_mul(step).and_then(|d| addr.checked_sub(d)) {
            Some(next) => addr = next,
            None => return None,
        }
    }
}

fn erange(func: &'static str, why: impl Into<String>) -> KernelError {
    KernelError::new(Errno::ERANGE, func, why)
}

/// `request_free_mem_region(base, size, name)` / `devm_request_free_mem_region` (device-private
/// memory, e.g. `lib/test_hmm.c`'s "hmm_dmirror"): claim the **highest** free window of
/// `ALIGN(size, SECTION_SIZE)` bytes below `PHYSMEM_END` (from `max_phys_bits`: 46 default,
/// 52 with la57), as a BUSY `MEM` node with desc `DEVICE_PRIVATE_MEMORY`.
///
/// * v5.3 … v6.0 (`__request_free_mem_region`; v4.14–v5.2 the same loop lived in `mm/hmm.c`):
///   first candidate `min(base.end, PHYSMEM_END) - size + 1`, then `addr -= size` while
///   `addr > size && addr >= base.start`; usable when `region_intersects(addr, size, 0, NONE)`
///   over the iomem root's top level is DISJOINT; claimed with `request_mem_region`
///   (`__request_region` on the root, which may descend); a refused claim → **-ENOMEM**;
///   nothing found → **-ERANGE**.
/// * v6.1+ (`get_free_mem_region`, `GFR_DESCENDING | GFR_REQUEST_REGION`, align =
///   `GFR_DEFAULT_ALIGN` = section size): same walk but the step is `size` before v6.7 and
///   `align` from v6.7 (and 6.6.11+, see [`gfr_steps_by_align`]); the test is against `base`'s
///   children; any failure → **-ERANGE**.
#[allow(clippy::too_many_arguments)]
pub fn request_free_mem_region(
    tree: &mut Tree,
    base: NodeId,
    size: u64,
    name: &[u8],
    max_phys_bits: u32,
    version: KernelVersion,
    trace: &mut Trace,
) -> KResult<NodeId> {
    const F: &str = "request_free_mem_region";
    let align = SECTION_SIZE;
    let size = align_up(size, align);
    if size == 0 {
        return Err(KernelError::new(
            Errno::EINVAL,
            F,
            "size 0 (or one that wraps when rounded to the section size): the kernel's candidate loop never terminates or never starts; not modelled",
        ));
    }
    let modern = version.at_least(6, 1);
    let step = if modern && gfr_steps_by_align(version) {
        align
    } else {
        size
    };
    let b = tree.get(base);
    let (base_start, base_end) = (b.start, b.end);
    let end = base_end.min(physmem_end(max_phys_bits));
    let first = end.wrapping_sub(size).wrapping_add(1);
    let func = if modern {
        "get_free_mem_region"
    } else {
        "__request_free_mem_region"
    };
    trace.step(0, func, format!("size rounded to {size:#x}; top-down from {first:#x} (PHYSMEM_END {:#x}), step {step:#x} ({})", physmem_end(max_phys_bits), if step == align && step != size { "align, v6.7+" } else { "size" }));
    // Before v6.1 the test is the global region_intersects (the iomem root), after it is
    // against `base`; every caller passes the iomem root.
    let check_parent = if modern { base } else { Tree::ROOT };
    let Some(addr) = descend_candidates(tree, check_parent, base_start, first, size, step, trace)
    else {
        return Err(erange(
            F,
            format!("no free {size:#x}-byte window below {end:#x}"),
        ));
    };
    match __request_region(tree, Tree::ROOT, addr, size, name, 0, trace) {
        Ok(id) => {
            tree.get_mut(id).desc = Desc::DevicePrivateMemory;
            trace.step(
                0,
                func,
                format!(
                    "claimed {} with desc DEVICE_PRIVATE_MEMORY",
                    ResRef::of(tree, id)
                ),
            );
            Ok(id)
        }
        Err(refusal) => {
            let c = ResRef::of(tree, refusal.node());
            let e = if modern {
                erange(
                    F,
                    format!(
                        "__request_region_locked refused {}",
                        Span::sized(addr, size)
                    ),
                )
            } else {
                KernelError::new(
                    Errno::ENOMEM,
                    F,
                    format!("request_mem_region refused {}", Span::sized(addr, size)),
                )
            };
            Err(e.with_conflict(c))
        }
    }
}

/// `alloc_free_mem_region(base, size, align, name)` (v6.1+, CXL and the kunit test):
/// `get_free_mem_region` ascending without `GFR_REQUEST_REGION`: size rounded up to `align`;
/// first candidate `ALIGN(max(base.start, align), align)` from v6.12 (before: `ALIGN(base.start,
/// align)`, which is 0 for the iomem root, and 0 fails the wrap check — so on the iomem root it
/// finds nothing before v6.12); candidates step by `size` (before v6.7) or `align` (v6.7+) while
/// the step did not wrap and `addr <= min(base.end, PHYSMEM_END)` (only the *start* is bounded);
/// usable when no child of `base` overlaps; claimed as a non-busy `MEM` node, desc NONE, with
/// `__insert_resource(base, …)`, which must not adopt children. Any failure → **-ERANGE**.
#[allow(clippy::too_many_arguments)]
pub fn alloc_free_mem_region(
    tree: &mut Tree,
    base: NodeId,
    size: u64,
    align: u64,
    name: &[u8],
    max_phys_bits: u32,
    version: KernelVersion,
    trace: &mut Trace,
) -> KResult<NodeId> {
    const F: &str = "alloc_free_mem_region";
    if !version.at_least(6, 1) {
        return Err(KernelError::new(
            Errno::EINVAL,
            F,
            format!("alloc_free_mem_region does not exist before v6.1 (kernel {version})"),
        ));
    }
    let size = align_up(size, align);
    if size == 0 || align == 0 {
        return Err(KernelError::new(
            Errno::EINVAL,
            F,
            "size or align 0: the kernel's candidate loop would not advance; not modelled",
        ));
    }
    let step = if gfr_steps_by_align(version) {
        align
    } else {
        size
    };
    let b = tree.get(base);
    let (base_start, base_end) = (b.start, b.end);
    let first = if version.at_least(6, 12) {
        align_up(base_start.max(align), align)
    } else {
        align_up(base_start, align)
    };
    let limit = base_end.min(physmem_end(max_phys_bits));
    trace.step(
        0,
        "get_free_mem_region",
        format!("size {size:#x}; bottom-up from {first:#x} to at most {limit:#x}, step {step:#x}"),
    );
    let mut addr = first;
    let found = loop {
        // gfr_continue, ascending: `addr > addr - step` (the last step did not wrap past 0,
        // which also rejects addr 0) && addr <= limit.
        if !(addr >= step && addr <= limit) {
            trace.step(
                1,
                "gfr_continue",
                format!("candidate {addr:#x} fails the wrap/limit check → stop"),
            );
            break None;
        }
        let cand = Span::sized(addr, size);
        let Some((_, hi)) = overlapping_children(tree, base, cand) else {
            trace.step(
                1,
                "__region_intersects",
                format!(
                    "candidate {cand} is DISJOINT from the children of {}",
                    crate::kernel::Place::of(tree, base)
                ),
            );
            break Some(addr);
        };
        // Every candidate starting at or below `hi` overlaps the same node.
        let k = (hi - addr) / step + 1;
        trace.step(
            1,
            "__region_intersects",
            format!(
                "candidate {cand} overlaps a child of {} → skip {k} candidate(s)",
                crate::kernel::Place::of(tree, base)
            ),
        );
        match k.checked_mul(step).and_then(|d| addr.checked_add(d)) {
            Some(next) => addr = next,
            None => break None,
        }
    };
    let Some(addr) = found else {
        return Err(erange(
            F,
            format!(
                "no free {size:#x}-byte window aligned to {align:#x} under {}",
                crate::kernel::Place::of(tree, base)
            ),
        ));
    };
    let res = tree.alloc(
        addr,
        addr.wrapping_add(size).wrapping_sub(1),
        name,
        IORESOURCE_MEM,
        Desc::None,
    );
    if let Some(c) = __insert_resource(tree, base, res, trace) {
        let c = ResRef::of(tree, c);
        tree.free(res);
        return Err(erange(
            F,
            format!("__insert_resource refused {}", Span::sized(addr, size)),
        )
        .with_conflict(c));
    }
    if tree.has_children(res) {
        // The kernel breaks out here with the node still inserted (unreachable after the
        // DISJOINT test, kept for fidelity).
        return Err(erange(F, "the inserted node adopted children"));
    }
    trace.step(
        0,
        "get_free_mem_region",
        format!("inserted {} (MEM, not busy)", ResRef::of(tree, res)),
    );
    Ok(res)
}

// ------------------------------------------------------------------------------------------
// reserve_region_with_split

/// `reserve_region_with_split(root, start, end, name)` (boot only: x86 "RAM buffer", arm64
/// "reserved"): claim `[start, end]` directly under `root` as BUSY nodes named `name`,
/// splitting around the existing direct children of `root` instead of failing (never
/// descends). A request reaching outside `root` logs `requested range … not in root` and is
/// clipped (`fixing request to …`), or dropped when it is disjoint from `root`.
///
/// `__reserve_region_with_split` keeps one piece and at most one pending upper piece: on a
/// conflict starting above the piece, the piece is cut below it and the part above (if any)
/// becomes the pending piece; on a conflict reaching below the piece's start, the piece starts
/// after it; a conflict covering the whole piece drops it (and, with a WARN, a pending piece).
/// Flags of the pieces: `type(root) | BUSY`, desc NONE (older kernels, approx. before v4.6, set
/// only `BUSY`; the type bits are modelled in every version).
/// Returns the nodes created, in address order.
pub fn reserve_region_with_split(
    tree: &mut Tree,
    root: NodeId,
    start: u64,
    end: u64,
    name: &[u8],
    trace: &mut Trace,
) -> Vec<NodeId> {
    let r = tree.get(root);
    let (rs, re, rflags) = (r.start, r.end, r.flags);
    let (mut start, mut end) = (start, end);
    if rs > start || re < end {
        let r = tree.get(root);
        trace.log(format!(
            "requested range [{start:#x}-{end:#x}] not in root {}",
            super::resource_string(r.start, r.end, r.flags, false)
        ));
        if start > re || end < rs {
            trace.step(
                0,
                "reserve_region_with_split",
                "range entirely outside the root → nothing done",
            );
            return Vec::new();
        }
        start = start.max(rs);
        end = end.min(re);
        trace.log(format!("fixing request to [{start:#x}-{end:#x}]"));
    }
    let name = tree.intern(name);
    let fl = (rflags & IORESOURCE_TYPE_BITS) | IORESOURCE_BUSY;
    let mut made = Vec::new();
    let mut piece = Some(Span::new(start, end));
    let mut pending: Option<Span> = None;
    // Each round either links a piece or moves past one conflicting child, so the loop is
    // bounded by the number of root's children (plus the pieces).
    let mut guard = tree.child_count(root).saturating_mul(2).saturating_add(4);
    while let Some(p) = piece {
        guard = guard.saturating_sub(1);
        if guard == 0 {
            break;
        }
        let res = tree.alloc_named(p.start, p.end, name, fl, Desc::None);
        let Some(conflict) = __request_resource(tree, root, res) else {
            trace.step(
                1,
                "__reserve_region_with_split",
                format!("reserved {}", ResRef::of(tree, res)),
            );
            made.push(res);
            piece = pending.take();
            continue;
        };
        tree.free(res);
        let c = tree.get(conflict);
        let (cs, ce) = (c.start, c.end);
        if conflict == root || (cs <= p.start && ce >= p.end) {
            trace.step(
                1,
                "__reserve_region_with_split",
                format!("{} covers {p} → piece dropped", ResRef::of(tree, conflict)),
            );
            if pending.is_some() {
                trace.log("WARNING: reserve_region_with_split dropped a pending piece".to_string());
            }
            break;
        }
        trace.step(
            1,
            "__reserve_region_with_split",
            format!(
                "conflict {} → split {p} around it",
                ResRef::of(tree, conflict)
            ),
        );
        if cs > p.start {
            if ce < p.end {
                pending = Some(Span::new(ce + 1, p.end));
            }
            piece = Some(Span::new(p.start, cs - 1));
        } else {
            piece = Some(Span::new(ce.saturating_add(1), p.end));
        }
    }
    made.sort_by_key(|&id| tree.get(id).start);
    made
}

// ------------------------------------------------------------------------------------------
// command-layer helpers

fn describe(f: u32) -> String {
    crate::tree::flags::describe(f)
}

/// Parse a flags word for the command line: a flag name from [`crate::tree::flags::NAMES`]
/// with or without the `IORESOURCE_` prefix, `SYSTEM_RAM` (= `MEM|SYSRAM`), several joined by
/// `|`, or a number (`0x…` hex or decimal). Case-insensitive. `None` when anything is unknown.
pub fn parse_flags(s: &str) -> Option<u32> {
    let s = s.trim();
    if s.is_empty() {
        return None;
    }
    let mut f = 0u32;
    for part in s.split('|') {
        let p = part.trim().to_ascii_uppercase();
        if let Some(h) = p.strip_prefix("0X") {
            f |= u32::from_str_radix(h, 16).ok()?;
            continue;
        }
        if !p.is_empty() && p.bytes().all(|b| b.is_ascii_digit()) {
            f |= p.parse::<u32>().ok()?;
            continue;
        }
        let p = p.strip_prefix("IORESOURCE_").unwrap_or(&p);
        if p == "SYSTEM_RAM" {
            f |= IORESOURCE_SYSTEM_RAM;
            continue;
        }
        let (bit, _) = NAMES.iter().find(|(_, n)| *n == p)?;
        f |= bit;
    }
    Some(f)
}
