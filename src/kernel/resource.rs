//! `kernel/resource.c`: the resource-tree operations, each named after the kernel function it
//! mirrors (kernel-semantics.md §2). Where behaviour changed between versions, the version
//! boundary is written next to the rule.
//!
//! The core primitives here are the kernel's conflict rules; they take the tree and return the
//! conflicting node the way the kernel does (`Some(parent)` for "outside the parent").

use super::{Errno, Event, KResult, KernelError, KernelVersion, Place, ResRef, Trace};
use crate::tree::flags::*;
use crate::tree::{Desc, NodeId, Tree};

fn rr(tree: &Tree, id: NodeId) -> ResRef {
    ResRef::of(tree, id)
}

/// `__request_resource(root, new)`: link `new` directly under `root` unless it overlaps one of
/// root's children or lies outside root. Never descends, ignores BUSY. Returns the conflict:
/// `Some(root)` when `new` is out of root's bounds (or `end < start`), `Some(child)` for the
/// lowest-addressed overlapping child, `None` after linking. Unchanged in every version read.
///
/// A sorted, disjoint list (invariant 3) is searched, not scanned: the child starting last by
/// `start` and the one after it are where the kernel's loop stops, and the link reuses their
/// places ([`Tree::link_between`]). An unsorted list (a real dump that broke invariant 3) is
/// scanned as the kernel scans it. `request_resource_stops_where_the_kernels_scan_stops`
/// (tests/prop_resource.rs) holds the search to the kernel's loop.
pub fn __request_resource(tree: &mut Tree, root: NodeId, new: NodeId) -> Option<NodeId> {
    let (start, end) = (tree.get(new).start, tree.get(new).end);
    let r = tree.get(root);
    if end < start || start < r.start || end > r.end {
        return Some(root);
    }
    if !tree.is_unsorted(root) {
        // A sorted, disjoint list: every child before the last one starting by `start` ends
        // before it, so the kernel's scan skips exactly those; its stop is that child (when it
        // reaches `start`) or the next (when it starts by `end`), else `new` goes between the
        // two. The link reuses the two lookups (issue 12).
        let prev = tree.last_starting_by(root, start);
        if let Some((_, c)) = prev
            && tree.get(c).end >= start
        {
            return Some(c);
        }
        let next = tree.entry_after(root, prev.map(|(k, _)| k));
        if let Some((_, c)) = next
            && tree.get(c).start <= end
        {
            return Some(c);
        }
        tree.link_between(root, new, prev, next);
        return None;
    }
    let mut before = None;
    let mut conflict = None;
    for c in tree.scan_from(root, start) {
        let cr = tree.get(c);
        if cr.start > end {
            before = Some(c);
            break;
        }
        if cr.end < start {
            continue;
        }
        conflict = Some(c);
        break;
    }
    if conflict.is_some() {
        return conflict;
    }
    tree.link_before(root, new, before);
    None
}

/// `request_resource_conflict(root, new)`: [`__request_resource`] under the resource lock;
/// returns the conflict (NULL on success).
pub fn request_resource_conflict(tree: &mut Tree, root: NodeId, new: NodeId) -> Option<NodeId> {
    __request_resource(tree, root, new)
}

/// `request_resource(root, new)`: 0 or **-EBUSY** on any conflict (including "outside root").
pub fn request_resource(
    tree: &mut Tree,
    root: NodeId,
    new: NodeId,
    trace: &mut Trace,
) -> KResult<()> {
    match __request_resource(tree, root, new) {
        None => {
            trace.step(
                0,
                "__request_resource",
                format!(
                    "no conflict among the children of {} → linked",
                    rr(tree, root)
                ),
            );
            Ok(())
        }
        Some(c) => {
            let reason = if c == root {
                format!("outside {} (or end < start)", rr(tree, root))
            } else {
                format!("conflict with {}", rr(tree, c))
            };
            trace.step(0, "__request_resource", format!("{reason} → -EBUSY"));
            Err(KernelError::new(Errno::EBUSY, "request_resource", reason)
                .with_conflict(rr(tree, c)))
        }
    }
}

/// `__insert_resource(parent, new)`: descend through every containing node (busy or not),
/// then adopt the run of existing children that `new` fully covers. An identical range makes
/// `new` the parent of the existing node. Returns the conflict, `None` on success.
pub fn __insert_resource(
    tree: &mut Tree,
    parent: NodeId,
    new: NodeId,
    trace: &mut Trace,
) -> Option<NodeId> {
    let (ns, ne) = (tree.get(new).start, tree.get(new).end);
    let mut parent = parent;
    let first = loop {
        let first = __request_resource(tree, parent, new)?;
        if first == parent {
            trace.step(
                1,
                "__insert_resource",
                format!("outside {} → conflict", rr(tree, parent)),
            );
            return Some(first);
        }
        if first == new {
            return Some(first);
        }
        let f = tree.get(first);
        if f.start > ns || f.end < ne {
            trace.step(
                1,
                "__insert_resource",
                format!(
                    "{} does not contain the new range → try to adopt",
                    rr(tree, first)
                ),
            );
            break first;
        }
        if f.start == ns && f.end == ne {
            trace.step(
                1,
                "__insert_resource",
                format!(
                    "{} has the identical range → the new node becomes its parent",
                    rr(tree, first)
                ),
            );
            break first;
        }
        trace.step(
            1,
            "__insert_resource",
            format!(
                "{} contains the new range → descend (BUSY is not consulted)",
                rr(tree, first)
            ),
        );
        parent = first;
    };
    // Adopt `first` and the siblings after it that start inside `new`.
    let mut run = vec![first];
    let mut next = first;
    loop {
        let n = tree.get(next);
        if n.start < ns || n.end > ne {
            trace.step(
                1,
                "__insert_resource",
                format!(
                    "partial overlap with {} is unfixable → conflict",
                    rr(tree, next)
                ),
            );
            return Some(next);
        }
        match tree.next_sibling(next) {
            Some(s) if tree.get(s).start <= ne => {
                run.push(s);
                next = s;
            }
            _ => break,
        }
    }
    tree.adopt_run(parent, new, &run);
    trace.step(
        1,
        "__insert_resource",
        format!(
            "inserted under {} adopting {} node(s)",
            rr(tree, parent),
            run.len()
        ),
    );
    None
}

/// `insert_resource_conflict(parent, new)`: [`__insert_resource`] under the lock.
pub fn insert_resource_conflict(
    tree: &mut Tree,
    parent: NodeId,
    new: NodeId,
    trace: &mut Trace,
) -> Option<NodeId> {
    __insert_resource(tree, parent, new, trace)
}

/// `insert_resource(parent, new)`: 0 or **-EBUSY**.
pub fn insert_resource(
    tree: &mut Tree,
    parent: NodeId,
    new: NodeId,
    trace: &mut Trace,
) -> KResult<()> {
    match __insert_resource(tree, parent, new, trace) {
        None => Ok(()),
        Some(c) => {
            let reason = if c == parent {
                format!("outside {}", rr(tree, c))
            } else {
                format!("partial overlap with {}", rr(tree, c))
            };
            Err(KernelError::new(Errno::EBUSY, "insert_resource", reason)
                .with_conflict(rr(tree, c)))
        }
    }
}

/// `insert_resource_expand_to_fit(root, new)` (void in the kernel): retry
/// [`__insert_resource`], widening `new` over each conflict, until it fits; gives up silently
/// (leaving `new` unlinked) when the conflict is the root. Logs
/// `Expanded resource <new> due to conflict with <conflict>` for each widening.
/// Returns whether `new` ended up linked.
pub fn insert_resource_expand_to_fit(
    tree: &mut Tree,
    root: NodeId,
    new: NodeId,
    trace: &mut Trace,
) -> bool {
    if tree.parent(new).is_some() {
        return true;
    }
    loop {
        let Some(conflict) = __insert_resource(tree, root, new, trace) else {
            return true;
        };
        if conflict == root || conflict == new {
            trace.step(
                0,
                "insert_resource_expand_to_fit",
                "conflict with the root → give up, left unlinked",
            );
            return false;
        }
        let (cs, ce) = (tree.get(conflict).start, tree.get(conflict).end);
        let n = tree.get_mut(new);
        n.start = n.start.min(cs);
        n.end = n.end.max(ce);
        let line = format!(
            "Expanded resource {} due to conflict with {}",
            tree.name_lossy(new),
            tree.name_lossy(conflict)
        );
        trace.step(
            0,
            "insert_resource_expand_to_fit",
            format!(
                "{line} → now [{:x}-{:x}], retry",
                tree.get(new).start,
                tree.get(new).end
            ),
        );
        trace.log(line);
    }
}

/// Why `__request_region` gave up.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RegionRefusal {
    /// The range leaves the node being searched (or `n == 0`): conflict = that parent.
    OutOfParent(NodeId),
    /// A BUSY node overlaps at the level where the overlap was found.
    Busy(NodeId),
    /// Both the conflict and the request are `IORESOURCE_MUXED`: the kernel would sleep until
    /// the holder releases it. The simulator cannot wait, so it reports this.
    WouldBlock(NodeId),
}

impl RegionRefusal {
    pub fn node(self) -> NodeId {
        match self {
            RegionRefusal::OutOfParent(n)
            | RegionRefusal::Busy(n)
            | RegionRefusal::WouldBlock(n) => n,
        }
    }
}

/// `__request_region(parent, start, n, name, flags)`: the consumer claim behind
/// `request_mem_region`, `request_region`, `request_muxed_region` and (v5.1+) memory hotplug.
/// Descends into a conflicting node that is not BUSY and retries there; the new node takes
/// `type | ext_type` of the node it ends up under, `BUSY | flags`, and that node's `desc`
/// (checked in v5.3+ sources). Never adopts existing nodes. On failure nothing changes.
#[allow(clippy::too_many_arguments)]
pub fn __request_region(
    tree: &mut Tree,
    parent: NodeId,
    start: u64,
    n: u64,
    name: &[u8],
    req_flags: u32,
    trace: &mut Trace,
) -> Result<NodeId, RegionRefusal> {
    let name = tree.intern_shared(name);
    __request_region_named(tree, parent, start, n, name, req_flags, trace)
}

/// [`__request_region`] with an already interned name (drivers pass one name object).
pub fn __request_region_named(
    tree: &mut Tree,
    parent: NodeId,
    start: u64,
    n: u64,
    name: crate::tree::Name,
    req_flags: u32,
    trace: &mut Trace,
) -> Result<NodeId, RegionRefusal> {
    let end = start.wrapping_add(n).wrapping_sub(1);
    let new = tree.alloc_named(start, end, name, 0, Desc::None);
    let mut parent = parent;
    loop {
        let p = tree.get(parent);
        let (pf, pd) = (p.flags, p.desc);
        let r = tree.get_mut(new);
        r.flags =
            (pf & (IORESOURCE_TYPE_BITS | IORESOURCE_EXT_TYPE_BITS)) | IORESOURCE_BUSY | req_flags;
        r.desc = pd;
        let Some(conflict) = __request_resource(tree, parent, new) else {
            trace.event(
                1,
                "__request_region",
                Event::RegionInserted(Place::of(tree, parent)),
            );
            return Ok(new);
        };
        if tree.get(conflict).desc == Desc::DevicePrivateMemory {
            let line = format!(
                "Unaddressable device {} [mem {:#010x}-{:#010x}] conflicts with [mem {:#010x}-{:#010x}]",
                tree.name_lossy(conflict),
                tree.get(conflict).start,
                tree.get(conflict).end,
                start,
                end
            );
            trace.log(line);
        }
        if conflict != parent && !tree.get(conflict).is_busy() {
            trace.event(
                1,
                "__request_region",
                Event::RegionDescend(ResRef::of(tree, conflict)),
            );
            parent = conflict;
            continue;
        }
        tree.free(new);
        if conflict == parent {
            trace.event(
                1,
                "__request_region",
                Event::RegionLeaves(Place::of(tree, parent)),
            );
            return Err(RegionRefusal::OutOfParent(conflict));
        }
        if tree.get(conflict).flags & req_flags & IORESOURCE_MUXED != 0 {
            trace.event(
                1,
                "__request_region",
                Event::RegionMuxed(ResRef::of(tree, conflict)),
            );
            return Err(RegionRefusal::WouldBlock(conflict));
        }
        trace.event(
            1,
            "__request_region",
            Event::RegionBusy(ResRef::of(tree, conflict)),
        );
        return Err(RegionRefusal::Busy(conflict));
    }
}

/// `request_mem_region(start, n, name)` / `request_region` (ioports) /
/// `request_muxed_region` / `request_mem_region_exclusive`: [`__request_region`] on the root;
/// NULL becomes **-EBUSY** for the command line.
pub fn request_region(
    tree: &mut Tree,
    start: u64,
    n: u64,
    name: &[u8],
    req_flags: u32,
    trace: &mut Trace,
) -> KResult<NodeId> {
    let func = if tree.kind() == crate::tree::RootKind::Ioport {
        "request_region"
    } else {
        "request_mem_region"
    };
    trace.event(
        0,
        func,
        Event::RootCall {
            release: false,
            start,
            n,
        },
    );
    __request_region(tree, Tree::ROOT, start, n, name, req_flags, trace).map_err(|refusal| {
        let c = refusal.node();
        let reason = match refusal {
            RegionRefusal::OutOfParent(p) if n == 0 => {
                format!(
                    "size 0 gives end < start: rejected by {}",
                    Place::of(tree, p)
                )
            }
            RegionRefusal::OutOfParent(p) => format!("range leaves {}", Place::of(tree, p)),
            RegionRefusal::Busy(c) => format!("conflict with BUSY {}", rr(tree, c)),
            RegionRefusal::WouldBlock(c) => format!(
                "MUXED {} is held: the caller would sleep until it is released",
                rr(tree, c)
            ),
        };
        KernelError::new(Errno::EBUSY, "__request_region", reason).with_conflict(rr(tree, c))
    })
}

/// `__release_region(parent, start, n)` (void): free the BUSY node with exactly this range,
/// descending through non-BUSY nodes that contain it. A non-BUSY exact match is descended
/// into, never freed; a BUSY node that contains the range but is not equal stops the search.
/// Otherwise logs `Trying to free nonexistent resource <…>` and changes nothing.
/// The log uses `%pa` (`0x` + 16 digits) since v4.x; older kernels printed 16 digits bare.
pub fn __release_region(
    tree: &mut Tree,
    parent: NodeId,
    start: u64,
    n: u64,
    version: KernelVersion,
    trace: &mut Trace,
) -> KResult<()> {
    let end = start.wrapping_add(n).wrapping_sub(1);
    let mut p = parent;
    'levels: loop {
        let mut found = None;
        for (pos, c) in tree.scan_keyed_from(p, start) {
            let r = tree.get(c);
            if !tree.is_unsorted(p) && r.start > start {
                break;
            }
            if r.start <= start && r.end >= end {
                found = Some((pos, c));
                break;
            }
        }
        let Some((pos, res)) = found else {
            break 'levels;
        };
        if !tree.get(res).is_busy() {
            trace.event(
                1,
                "__release_region",
                Event::ReleaseDescend(ResRef::of(tree, res)),
            );
            p = res;
            continue;
        }
        if tree.get(res).start != start || tree.get(res).end != end {
            trace.event(
                1,
                "__release_region",
                Event::ReleaseNotEqual(ResRef::of(tree, res)),
            );
            break;
        }
        trace.event(
            1,
            "__release_region",
            Event::ReleaseMatched(ResRef::of(tree, res)),
        );
        tree.unlink_at(res, pos);
        tree.free(res);
        return Ok(());
    }
    let line = if version.at_least(4, 16) {
        format!("Trying to free nonexistent resource <{start:#018x}-{end:#018x}>")
    } else {
        format!("Trying to free nonexistent resource <{start:016x}-{end:016x}>")
    };
    trace.log(line.clone());
    Err(KernelError::new(
        Errno::ENOENT,
        "__release_region",
        "no BUSY resource with exactly this range (the kernel only warns)",
    )
    .with_log(line))
}

/// `__release_resource(old, release_child)`: unlink `old`. With `release_child`
/// (`release_resource`) its children go with it; without (`remove_resource`, the inverse of
/// `insert_resource`) they are spliced into the parent at its position. **-EINVAL** when `old`
/// is not linked.
pub fn __release_resource(tree: &mut Tree, old: NodeId, release_child: bool) -> KResult<()> {
    let func = if release_child {
        "release_resource"
    } else {
        "remove_resource"
    };
    let ok = if release_child {
        tree.unlink(old)
    } else {
        tree.unlink_lifting_children(old)
    };
    if ok {
        Ok(())
    } else {
        Err(KernelError::new(
            Errno::EINVAL,
            func,
            "resource is not in the tree",
        ))
    }
}

/// `release_resource(old)`: unlink with the whole subtree.
pub fn release_resource(tree: &mut Tree, old: NodeId) -> KResult<()> {
    __release_resource(tree, old, true)
}

/// `remove_resource(old)`: unlink, lifting the children one level up.
pub fn remove_resource(tree: &mut Tree, old: NodeId) -> KResult<()> {
    __release_resource(tree, old, false)
}

/// `__adjust_resource(res, start, size)`: move/resize in place. **-EBUSY** if (with a parent)
/// the new range leaves the parent or touches the next or previous sibling, or if any child
/// of `res` would fall outside. Unchanged in all versions read.
pub fn __adjust_resource(tree: &mut Tree, res: NodeId, start: u64, size: u64) -> KResult<()> {
    let end = start.wrapping_add(size).wrapping_sub(1);
    let fail = |why: String, c: Option<NodeId>, tree: &Tree| {
        let mut e = KernelError::new(Errno::EBUSY, "__adjust_resource", why);
        if let Some(c) = c {
            e = e.with_conflict(rr(tree, c));
        }
        Err(e)
    };
    if let Some(parent) = tree.parent(res) {
        let p = tree.get(parent);
        if start < p.start || end > p.end {
            return fail(
                format!("new range leaves the parent {}", rr(tree, parent)),
                Some(parent),
                tree,
            );
        }
        if let Some(s) = tree.next_sibling(res)
            && tree.get(s).start <= end
        {
            return fail(
                format!("new range reaches the next sibling {}", rr(tree, s)),
                Some(s),
                tree,
            );
        }
        if let Some(s) = tree.prev_sibling(res)
            && start <= tree.get(s).end
        {
            return fail(
                format!("new range reaches the previous sibling {}", rr(tree, s)),
                Some(s),
                tree,
            );
        }
    }
    if let Some(c) = tree
        .children(res)
        .find(|&c| tree.get(c).start < start || tree.get(c).end > end)
    {
        return fail(
            format!("child {} would fall outside", rr(tree, c)),
            Some(c),
            tree,
        );
    }
    tree.set_range(res, start, end);
    Ok(())
}

/// `adjust_resource(res, start, size)`: [`__adjust_resource`] under the lock.
pub fn adjust_resource(tree: &mut Tree, res: NodeId, start: u64, size: u64) -> KResult<()> {
    __adjust_resource(tree, res, start, size)
}

/// The `IORESOURCE_SYSRAM` bail-out of `release_mem_region_adjustable`: added in v5.0, removed
/// in v6.3 by "dax/kmem: Fix leak of memory-hotplug resources" (Cc: stable). The stable series
/// maintained when the fix landed (5.10, 5.15, 6.1) carry the backport as shipped today
/// (checked on a real 6.1.192); their original releases (`X.Y.0`) and the other 5.x/6.0/6.2
/// series do not.
pub fn rmra_has_sysram_bailout(v: KernelVersion) -> bool {
    super::boundaries::RMRA_SYSRAM_BAILOUT.applies(v)
        && !super::boundaries::RMRA_SYSRAM_BAILOUT_REMOVED.applies(v)
}

/// What `release_mem_region_adjustable` did.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Adjusted {
    Removed(NodeId),
    StartMoved(NodeId),
    EndMoved(NodeId),
    /// The node kept the lower part; the new node holds the upper part.
    Split(NodeId, NodeId),
    /// Nothing suitable found, or a bail-out / failed adjustment (the kernel warns or is silent).
    Nothing,
}

/// `release_mem_region_adjustable(start, size)`: on hot-remove, drop `[start, end]` from the
/// BUSY memory resource that contains it — delete it (exact), move its start or end, or split
/// it into two nodes with the same name, flags and desc (children stay in the lower piece).
/// Walks from the root's children, descending through non-BUSY containers; stops at a node
/// starting at or after `end`, or lacking `IORESOURCE_MEM`. v5.0–v6.2 (see
/// [`rmra_has_sysram_bailout`]) also stop, doing nothing, at any containing node without
/// `IORESOURCE_SYSRAM`. A failed `__adjust_resource` (a child in the way) is a one-time warning
/// and no change. Never fails since v5.10 (returned -EINVAL/-ENOMEM before; the hotplug caller
/// only logged it).
pub fn release_mem_region_adjustable(
    tree: &mut Tree,
    start: u64,
    size: u64,
    version: KernelVersion,
    trace: &mut Trace,
) -> Adjusted {
    const F: &str = "release_mem_region_adjustable";
    let end = start.wrapping_add(size).wrapping_sub(1);
    let root = tree.get(Tree::ROOT);
    if start < root.start || end > root.end {
        trace.step(1, F, "range outside the iomem root → WARN, nothing done");
        return Adjusted::Nothing;
    }
    let bailout = rmra_has_sysram_bailout(version);
    let mut p = Tree::ROOT;
    loop {
        let mut target = None;
        let unsorted = tree.is_unsorted(p);
        for c in tree.scan_from(p, start) {
            let r = tree.get(c);
            if r.start >= end {
                break;
            }
            if r.start > start || r.end < end {
                if !unsorted && r.start > start {
                    break;
                }
                continue;
            }
            target = Some(c);
            break;
        }
        let Some(res) = target else {
            trace.step(
                1,
                F,
                format!(
                    "no resource under {} contains the range → nothing done",
                    Place::of(tree, p)
                ),
            );
            return Adjusted::Nothing;
        };
        let r = tree.get(res);
        if bailout && r.flags & IORESOURCE_SYSRAM == 0 {
            trace.step(1, F, format!("{} lacks IORESOURCE_SYSRAM → back off, nothing done (v5.0–v6.2 without the stable fix)", rr(tree, res)));
            return Adjusted::Nothing;
        }
        if r.flags & IORESOURCE_MEM == 0 {
            trace.step(
                1,
                F,
                format!("{} is not IORESOURCE_MEM → stop", rr(tree, res)),
            );
            return Adjusted::Nothing;
        }
        if !r.is_busy() {
            trace.step(
                1,
                F,
                format!("{} contains the range, not BUSY → descend", rr(tree, res)),
            );
            p = res;
            continue;
        }
        let (rs, re) = (r.start, r.end);
        if rs == start && re == end {
            trace.step(1, F, format!("{} matches exactly → freed", rr(tree, res)));
            tree.unlink(res);
            tree.free(res);
            return Adjusted::Removed(res);
        }
        if rs == start {
            return match __adjust_resource(tree, res, end + 1, re - end) {
                Ok(()) => {
                    trace.step(
                        1,
                        F,
                        format!("same start → start moved: now {}", rr(tree, res)),
                    );
                    Adjusted::StartMoved(res)
                }
                Err(e) => {
                    trace.step(
                        1,
                        F,
                        format!(
                            "__adjust_resource failed ({}) → WARN, nothing done",
                            e.reason
                        ),
                    );
                    Adjusted::Nothing
                }
            };
        }
        if re == end {
            return match __adjust_resource(tree, res, rs, start - rs) {
                Ok(()) => {
                    trace.step(1, F, format!("same end → end moved: now {}", rr(tree, res)));
                    Adjusted::EndMoved(res)
                }
                Err(e) => {
                    trace.step(
                        1,
                        F,
                        format!(
                            "__adjust_resource failed ({}) → WARN, nothing done",
                            e.reason
                        ),
                    );
                    Adjusted::Nothing
                }
            };
        }
        // Split: the kernel fills new_res from res, then shrinks res; on failure frees new_res.
        let (name, fl, desc) = (r.name, r.flags, r.desc);
        if let Err(e) = __adjust_resource(tree, res, rs, start - rs) {
            trace.step(
                1,
                F,
                format!(
                    "split: __adjust_resource failed ({}) → WARN, nothing done",
                    e.reason
                ),
            );
            return Adjusted::Nothing;
        }
        let upper = tree.alloc_named(end + 1, re, name, fl, desc);
        let parent = tree.parent(res).unwrap_or(Tree::ROOT);
        let before = tree.next_sibling(res);
        tree.link_before(parent, upper, before);
        trace.step(
            1,
            F,
            format!(
                "range strictly inside {} → split, upper part {}",
                rr(tree, res),
                rr(tree, upper)
            ),
        );
        return Adjusted::Split(res, upper);
    }
}

/// `system_ram_resources_mergeable(r1, r2)` (v5.10+): identical flags word, `r1` directly
/// followed by `r2`, the same name *object* (the kernel compares pointers; here: the same
/// interned [`crate::tree::Name`]), the same desc, and neither has children.
fn system_ram_resources_mergeable(tree: &Tree, r1: NodeId, r2: NodeId) -> bool {
    let (a, b) = (tree.get(r1), tree.get(r2));
    a.flags == b.flags
        && a.end.checked_add(1) == Some(b.start)
        && a.name == b.name
        && a.desc == b.desc
        && !tree.has_children(r1)
        && !tree.has_children(r2)
}

/// `merge_system_ram_resource(res)` (v5.10+, called by `add_memory_resource` for
/// `MHP_MERGE_RESOURCE`): mark `res` `IORESOURCE_SYSRAM_MERGEABLE`, let it absorb its next
/// sibling if mergeable, then let its previous sibling absorb it if mergeable. Requires
/// SYSTEM_RAM|BUSY (else a one-time warning and nothing). Only immediate siblings are
/// considered. Returns the node that now holds `res`'s range.
pub fn merge_system_ram_resource(tree: &mut Tree, res: NodeId, trace: &mut Trace) -> NodeId {
    const F: &str = "merge_system_ram_resource";
    let need = IORESOURCE_SYSTEM_RAM | IORESOURCE_BUSY;
    if tree.get(res).flags & need != need || !tree.is_linked(res) {
        trace.step(
            1,
            F,
            format!(
                "{} is not linked busy System RAM → WARN_ON_ONCE, nothing done",
                rr(tree, res)
            ),
        );
        return res;
    }
    tree.get_mut(res).flags |= IORESOURCE_SYSRAM_MERGEABLE;
    if let Some(next) = tree.next_sibling(res)
        && system_ram_resources_mergeable(tree, res, next)
    {
        let (s, e) = (tree.get(res).start, tree.get(next).end);
        trace.step(1, F, format!("absorbs the next sibling {}", rr(tree, next)));
        tree.unlink(next);
        tree.free(next);
        tree.set_range(res, s, e);
    }
    if let Some(prev) = tree.prev_sibling(res)
        && system_ram_resources_mergeable(tree, prev, res)
    {
        let (s, e) = (tree.get(prev).start, tree.get(res).end);
        trace.step(
            1,
            F,
            format!("the previous sibling {} absorbs it", rr(tree, prev)),
        );
        tree.unlink(res);
        tree.free(res);
        tree.set_range(prev, s, e);
        return prev;
    }
    res
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testutil::{MEMB, RAM, build, t0, text};

    fn v(s: &str) -> KernelVersion {
        s.parse().unwrap()
    }

    #[test]
    fn request_resource_is_top_level_only_sc01() {
        // SC-01's primitive: the PMEM node at top level is the conflict; nothing changes.
        let mut t = t0();
        let before = text(&t);
        let new = t.alloc(0xa0000000, 0xa7ffffff, b"System RAM", RAM, Desc::None);
        let c = request_resource_conflict(&mut t, Tree::ROOT, new).unwrap();
        assert_eq!(t.name_lossy(c), "Persistent Memory (legacy)");
        assert_eq!(text(&t), before);
    }

    #[test]
    fn request_region_descends_into_non_busy_sc02() {
        let mut t = t0();
        let id = __request_region(
            &mut t,
            Tree::ROOT,
            0xa0000000,
            0x8000000,
            b"System RAM",
            RAM,
            &mut Trace::new(),
        )
        .unwrap();
        let r = t.get(id);
        assert_eq!(r.flags, RAM);
        assert_eq!(
            r.desc,
            Desc::PersistentMemoryLegacy,
            "desc inherited from the final parent"
        );
        assert!(text(&t).contains("a0000000-afffffff : Persistent Memory (legacy)\n  a0000000-a7ffffff : System RAM\nb0000000"));
    }

    #[test]
    fn request_region_stops_at_busy_sc05_and_sc20() {
        let mut t = t0();
        let before = text(&t);
        let e = request_region(&mut t, 0x10000000, 0x1000, b"x", 0, &mut Trace::new()).unwrap_err();
        assert_eq!(e.errno, Errno::EBUSY);
        assert_eq!(e.conflict.unwrap().start, 0x100000);
        assert_eq!(text(&t), before);
        // SC-20: foo lands under the PCI window, bar overlaps busy foo.
        request_region(&mut t, 0xc1000000, 0x1000, b"foo", 0, &mut Trace::new()).unwrap();
        assert!(
            text(&t).ends_with("c0000000-febfffff : PCI Bus 0000:00\n  c1000000-c1000fff : foo\n")
        );
        let foo = t.find_name("foo").unwrap();
        assert_eq!(t.get(foo).flags, MEMB);
        assert!(request_region(&mut t, 0xc1000800, 0x1000, b"bar", 0, &mut Trace::new()).is_err());
        let mut tr = Trace::new();
        assert!(
            __release_region(&mut t, Tree::ROOT, 0xc1000000, 0x800, v("6.1"), &mut tr).is_err()
        );
        assert_eq!(
            tr.log,
            vec!["Trying to free nonexistent resource <0x00000000c1000000-0x00000000c10007ff>"]
        );
        __release_region(
            &mut t,
            Tree::ROOT,
            0xc1000000,
            0x1000,
            v("6.1"),
            &mut Trace::new(),
        )
        .unwrap();
        assert_eq!(text(&t), before);
        // A non-busy exact match is descended into, never freed.
        assert!(
            __release_region(
                &mut t,
                Tree::ROOT,
                0xa0000000,
                0x10000000,
                v("6.1"),
                &mut Trace::new()
            )
            .is_err()
        );
        assert_eq!(text(&t), before);
    }

    #[test]
    fn request_region_zero_size_and_straddling_fail() {
        let mut t = t0();
        assert!(matches!(
            __request_region(
                &mut t,
                Tree::ROOT,
                0xa0000000,
                0,
                b"z",
                RAM,
                &mut Trace::new()
            ),
            Err(RegionRefusal::OutOfParent(Tree::ROOT))
        ));
        // Straddles PMEM and the next System RAM: descends into PMEM, then leaves it.
        let r = __request_region(
            &mut t,
            Tree::ROOT,
            0xa8000000,
            0x10000000,
            b"z",
            RAM,
            &mut Trace::new(),
        );
        assert_eq!(
            r.map_err(|e| t.name_lossy(e.node()).into_owned()),
            Err("Persistent Memory (legacy)".into())
        );
    }

    #[test]
    fn muxed_requests_would_block() {
        let mut t = Tree::new(crate::tree::RootKind::Ioport, 0xffff);
        request_region(&mut t, 0x2e, 2, b"a", IORESOURCE_MUXED, &mut Trace::new()).unwrap();
        let e = __request_region(
            &mut t,
            Tree::ROOT,
            0x2e,
            2,
            b"b",
            IORESOURCE_MUXED,
            &mut Trace::new(),
        );
        assert!(matches!(e, Err(RegionRefusal::WouldBlock(_))));
        let e = __request_region(&mut t, Tree::ROOT, 0x2e, 2, b"c", 0, &mut Trace::new());
        assert!(matches!(e, Err(RegionRefusal::Busy(_))));
    }

    #[test]
    fn insert_identical_range_becomes_parent_sc17() {
        let mut t = build(&[(0, 0xf0000, 0xfffff, "System ROM", MEMB, Desc::None)]);
        let res = t.alloc(0xf0000, 0xfffff, b"Reserved", MEMB, Desc::None);
        insert_resource(&mut t, Tree::ROOT, res, &mut Trace::new()).unwrap();
        assert_eq!(
            text(&t),
            "000f0000-000fffff : Reserved\n  000f0000-000fffff : System ROM\n"
        );
        // The same via request_resource: -EBUSY, unchanged.
        let mut t = build(&[(0, 0xf0000, 0xfffff, "System ROM", MEMB, Desc::None)]);
        let res = t.alloc(0xf0000, 0xfffff, b"Reserved", MEMB, Desc::None);
        let e = request_resource(&mut t, Tree::ROOT, res, &mut Trace::new()).unwrap_err();
        assert_eq!(e.errno, Errno::EBUSY);
        assert_eq!(text(&t), "000f0000-000fffff : System ROM\n");
    }

    #[test]
    fn insert_descends_into_busy_request_does_not_sc19() {
        let mut t = build(&[
            (0, 0x100000, 0x9fffffff, "System RAM", RAM, Desc::None),
            (
                0,
                0xa0000000,
                0xafffffff,
                "Persistent Memory (legacy)",
                IORESOURCE_MEM,
                Desc::PersistentMemoryLegacy,
            ),
        ]);
        let code = t.alloc(0x1000000, 0x1e071d0, b"Kernel code", RAM, Desc::None);
        insert_resource(&mut t, Tree::ROOT, code, &mut Trace::new()).unwrap();
        assert_eq!(t.parent(code).map(|p| t.get(p).start), Some(0x100000));
        assert!(
            request_region(
                &mut t,
                0x1000000,
                0xe071d1,
                b"Kernel code",
                0,
                &mut Trace::new()
            )
            .is_err()
        );
    }

    #[test]
    fn insert_partial_overlap_is_a_conflict() {
        let mut t = t0();
        let before = text(&t);
        let x = t.alloc(0x9fff0000, 0xa0000fff, b"x", MEMB, Desc::None);
        let e = insert_resource(&mut t, Tree::ROOT, x, &mut Trace::new()).unwrap_err();
        assert_eq!(e.conflict.unwrap().start, 0x100000);
        assert_eq!(text(&t), before);
    }

    #[test]
    fn expand_to_fit_swallows_the_window_d12() {
        let mut t = t0();
        let r = t.alloc(
            0xfe000000,
            0xffffffff,
            b"Reserved",
            IORESOURCE_MEM,
            Desc::Reserved,
        );
        let mut tr = Trace::new();
        assert!(insert_resource_expand_to_fit(
            &mut t,
            Tree::ROOT,
            r,
            &mut tr
        ));
        assert!(
            text(&t)
                .ends_with("c0000000-ffffffff : Reserved\n  c0000000-febfffff : PCI Bus 0000:00\n")
        );
        assert_eq!(
            tr.log,
            vec!["Expanded resource Reserved due to conflict with PCI Bus 0000:00"]
        );
    }

    #[test]
    fn release_vs_remove_resource_sc21() {
        let mut t = t0();
        let res = t.path_to(0xf0000)[0];
        remove_resource(&mut t, res).unwrap();
        assert!(
            text(&t).contains(
                "000c9800-000ca5ff : Adapter ROM\n000f0000-000fffff : System ROM\n00100000"
            )
        );
        assert_eq!(
            remove_resource(&mut t, res).unwrap_err().errno,
            Errno::EINVAL
        );
        let mut t = t0();
        let res = t.path_to(0xf0000)[0];
        release_resource(&mut t, res).unwrap();
        assert!(text(&t).contains("000c9800-000ca5ff : Adapter ROM\n00100000"));
        assert_eq!(
            release_resource(&mut t, res).unwrap_err().errno,
            Errno::EINVAL
        );
    }

    #[test]
    fn adjust_resource_rules() {
        let mut t = t0();
        let pmem = t.path_to(0xa0000000)[0];
        // Touching the previous sibling (System RAM ends at 9fffffff).
        assert!(adjust_resource(&mut t, pmem, 0x9ffff000, 0x1000).is_err());
        // Touching the next sibling.
        assert!(adjust_resource(&mut t, pmem, 0xa0000000, 0x10000001).is_err());
        adjust_resource(&mut t, pmem, 0xa0000000, 0x8000000).unwrap();
        assert!(text(&t).contains("a0000000-a7ffffff : Persistent Memory (legacy)\n"));
        // A child outside the new range.
        let ram = t.path_to(0x100000)[0];
        assert!(adjust_resource(&mut t, ram, 0x2000000, 0x1000000).is_err());
    }

    /// SC-14: T0 + one 1 GiB System RAM at 4 GiB, then four removals (v5.10+).
    #[test]
    fn release_mem_region_adjustable_split_and_shrink_sc14() {
        let mut t = t0();
        let ram = t.alloc(0x100000000, 0x13fffffff, b"System RAM", RAM, Desc::None);
        t.link_sorted(Tree::ROOT, ram);
        let k = v("6.1");
        let tail = |t: &Tree| {
            text(t)
                .split("PCI Bus 0000:00\n")
                .last()
                .unwrap()
                .to_string()
        };
        let r = release_mem_region_adjustable(&mut t, 0x110000000, 0x8000000, k, &mut Trace::new());
        assert!(matches!(r, Adjusted::Split(..)));
        assert_eq!(
            tail(&t),
            "100000000-10fffffff : System RAM\n118000000-13fffffff : System RAM\n"
        );
        release_mem_region_adjustable(&mut t, 0x100000000, 0x8000000, k, &mut Trace::new());
        assert_eq!(
            tail(&t),
            "108000000-10fffffff : System RAM\n118000000-13fffffff : System RAM\n"
        );
        release_mem_region_adjustable(&mut t, 0x138000000, 0x8000000, k, &mut Trace::new());
        assert_eq!(
            tail(&t),
            "108000000-10fffffff : System RAM\n118000000-137ffffff : System RAM\n"
        );
        release_mem_region_adjustable(&mut t, 0x108000000, 0x8000000, k, &mut Trace::new());
        assert_eq!(tail(&t), "118000000-137ffffff : System RAM\n");
        // D10: spanning two nodes → nothing.
        let r =
            release_mem_region_adjustable(&mut t, 0x110000000, 0x10000000, k, &mut Trace::new());
        assert_eq!(r, Adjusted::Nothing);
        assert_eq!(tail(&t), "118000000-137ffffff : System RAM\n");
    }

    #[test]
    fn release_mem_region_adjustable_sysram_bailout_by_version() {
        let mut t = t0();
        __request_region(
            &mut t,
            Tree::ROOT,
            0xa0000000,
            0x8000000,
            b"System RAM",
            RAM,
            &mut Trace::new(),
        )
        .unwrap();
        let with_child = text(&t);
        for (ver, removed) in [
            ("5.4", false),
            ("6.1.0", false),
            ("6.1", true),
            ("6.3", true),
            ("4.19", true),
        ] {
            let mut t2 = t.clone();
            release_mem_region_adjustable(
                &mut t2,
                0xa0000000,
                0x8000000,
                v(ver),
                &mut Trace::new(),
            );
            assert_eq!(text(&t2) != with_child, removed, "{ver}");
        }
    }
}
