//! Structural before/after diff of two trees (issue 4): which resources were added, removed,
//! resized, moved under a new parent, renamed, or had their flags/desc changed — in address
//! order. Not a text diff: a resized parent does not make its unchanged children "changed".
//!
//! ## Matching rule
//! A node of `after` is paired with at most one node of `before`, in this order:
//! 1. **Same range and name** `(start, end, name)`: the k-th such node of `before` (pre-order)
//!    pairs with the k-th of `after`. If the paired nodes' parents are not paired with each
//!    other, the node **moved** (e.g. `insert_resource` adopted it, `remove_resource` lifted it).
//! 2. Walking `after` in pre-order (so a node's parent is already decided), an unpaired node
//!    pairs with an unpaired `before` node **of the same name under the paired parent** whose
//!    range shares its start, else shares its end, else overlaps it: that node was **resized**
//!    (a split by `release_mem_region_adjustable` shows as the lower piece resized plus the
//!    upper piece added, or the upper piece resized when the lower part went).
//! 3. An unpaired node pairs with an unpaired `before` node **with the same range under the
//!    paired parent** but another name: **renamed**.
//! 4. What is left is **added** (in `after`) or **removed** (in `before`).
//!
//! Every pair also compares flags and desc (`flags changed`, e.g. kmem turning `dax0.0` from
//! MEM|BUSY into non-busy SYSTEM_RAM). Pairs with no difference are not changes.
//! The root is always paired with the root (a different root end, i.e. `--phys-bits`, is not
//! reported: it is not part of `/proc/iomem`).

use crate::tree::{NodeId, Tree};

pub mod step;
// FxHash: node ids and short keys, no untrusted-input DoS concern inside one process; SipHash
// was a fifth of a long script's time.
use rustc_hash::FxHashMap as HashMap;

/// What happened to one resource.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Change {
    /// Only in `after`.
    Added { after: NodeId },
    /// Only in `before`.
    Removed { before: NodeId },
    /// In both, with at least one difference.
    Changed {
        before: NodeId,
        after: NodeId,
        what: What,
    },
}

/// The differences of a paired node.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, serde::Serialize)]
pub struct What {
    pub resized: bool,
    pub moved: bool,
    pub renamed: bool,
    pub flags: bool,
}

impl What {
    pub fn any(self) -> bool {
        self.resized || self.moved || self.renamed || self.flags
    }
    /// `resized, moved` — the words for humans and JSON.
    pub fn words(self) -> Vec<&'static str> {
        let mut v = Vec::new();
        if self.resized {
            v.push("resized");
        }
        if self.moved {
            v.push("moved");
        }
        if self.renamed {
            v.push("renamed");
        }
        if self.flags {
            v.push("flags");
        }
        v
    }
}

/// The changes between two trees, in address order, and the node pairing.
#[derive(Clone, Debug, Default)]
pub struct TreeDiff {
    pub changes: Vec<Change>,
    /// after-node → before-node for every paired node (changed or not).
    pub pairs: HashMap<NodeId, NodeId>,
}

impl TreeDiff {
    pub fn is_empty(&self) -> bool {
        self.changes.is_empty()
    }
    pub fn len(&self) -> usize {
        self.changes.len()
    }
    /// The change of a node of `after`, if any.
    pub fn of_after(&self, id: NodeId) -> Option<&Change> {
        self.changes.iter().find(|c| match c {
            Change::Added { after } | Change::Changed { after, .. } => *after == id,
            Change::Removed { .. } => false,
        })
    }
    /// Removed nodes of `before`, in address order.
    pub fn removed(&self) -> impl Iterator<Item = NodeId> + '_ {
        self.changes.iter().filter_map(|c| match c {
            Change::Removed { before } => Some(*before),
            _ => None,
        })
    }
    /// One serializable record per change (for `--format json` and tests).
    pub fn summaries(&self, before: &Tree, after: &Tree) -> Vec<ChangeSummary> {
        self.changes
            .iter()
            .map(|c| ChangeSummary::of(c, before, after))
            .collect()
    }
}

/// A change in plain data: `{"change":"added","start":..,"end":..,"name":..}`.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct ChangeSummary {
    /// `added`, `removed`, or the [`What`] words joined with `+` (`resized+flags`).
    pub change: String,
    #[serde(serialize_with = "crate::render::json::ser_hex::u64")]
    pub start: u64,
    #[serde(serialize_with = "crate::render::json::ser_hex::u64")]
    pub end: u64,
    pub name: String,
    /// Depth in the tree it is in (after, or before for removed).
    pub depth: usize,
    #[serde(
        skip_serializing_if = "Option::is_none",
        serialize_with = "crate::render::json::ser_hex::opt"
    )]
    pub old_start: Option<u64>,
    #[serde(
        skip_serializing_if = "Option::is_none",
        serialize_with = "crate::render::json::ser_hex::opt"
    )]
    pub old_end: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub old_name: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub old_flags: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub flags: Option<u32>,
}

impl ChangeSummary {
    fn of(c: &Change, before: &Tree, after: &Tree) -> ChangeSummary {
        let base = |t: &Tree, id: NodeId, change: String| ChangeSummary {
            change,
            start: t.get(id).start,
            end: t.get(id).end,
            name: t.name_lossy(id).into_owned(),
            depth: t.depth(id),
            old_start: None,
            old_end: None,
            old_name: None,
            old_flags: None,
            flags: None,
        };
        match *c {
            Change::Added { after: a } => base(after, a, "added".into()),
            Change::Removed { before: b } => base(before, b, "removed".into()),
            Change::Changed {
                before: b,
                after: a,
                what,
            } => {
                let mut s = base(after, a, what.words().join("+"));
                let (rb, ra) = (before.get(b), after.get(a));
                if what.resized {
                    s.old_start = Some(rb.start);
                    s.old_end = Some(rb.end);
                }
                if what.renamed {
                    s.old_name = Some(before.name_lossy(b).into_owned());
                }
                if what.flags {
                    s.old_flags = Some(rb.flags);
                    s.flags = Some(ra.flags);
                }
                s
            }
        }
    }
}

type Key<'a> = (u64, u64, &'a [u8]);

/// Diff two trees (see the module doc for the matching rule).
pub fn diff(before: &Tree, after: &Tree) -> TreeDiff {
    let b_nodes: Vec<NodeId> = before.descendants(Tree::ROOT).collect();
    let a_nodes: Vec<NodeId> = after.descendants(Tree::ROOT).collect();

    // after → before, and before → after.
    let mut a2b: HashMap<NodeId, NodeId> = HashMap::default();
    let mut b2a: HashMap<NodeId, NodeId> = HashMap::default();
    a2b.insert(Tree::ROOT, Tree::ROOT);
    b2a.insert(Tree::ROOT, Tree::ROOT);

    // Rule 1: same (start, end, name), k-th with k-th.
    let mut by_key: HashMap<Key, std::collections::VecDeque<NodeId>> = HashMap::default();
    for &b in &b_nodes {
        let r = before.get(b);
        by_key
            .entry((r.start, r.end, before.name_of(b)))
            .or_default()
            .push_back(b);
    }
    for &a in &a_nodes {
        let r = after.get(a);
        if let Some(q) = by_key.get_mut(&(r.start, r.end, after.name_of(a)))
            && let Some(b) = q.pop_front()
        {
            a2b.insert(a, b);
            b2a.insert(b, a);
        }
    }

    // Unpaired before nodes grouped by parent (for rules 2 and 3).
    let mut by_parent: HashMap<NodeId, Vec<NodeId>> = HashMap::default();
    for &b in &b_nodes {
        if !b2a.contains_key(&b)
            && let Some(p) = before.parent(b)
        {
            by_parent.entry(p).or_default().push(b);
        }
    }

    // Rules 2 and 3, top-down so parents are settled first.
    for &a in &a_nodes {
        if a2b.contains_key(&a) {
            continue;
        }
        let Some(pa) = after.parent(a) else { continue };
        let Some(&pb) = a2b.get(&pa) else { continue };
        let Some(cands) = by_parent.get_mut(&pb) else {
            continue;
        };
        let ra = after.get(a);
        let name = after.name_of(a);
        let pick = |pred: &dyn Fn(&crate::tree::Resource) -> bool, same_name: bool| {
            cands
                .iter()
                .position(|&b| (before.name_of(b) == name) == same_name && pred(before.get(b)))
        };
        let found = pick(&|rb| rb.start == ra.start, true)
            .or_else(|| pick(&|rb| rb.end == ra.end, true))
            .or_else(|| pick(&|rb| rb.overlaps(ra.start, ra.end), true))
            .or_else(|| pick(&|rb| rb.start == ra.start && rb.end == ra.end, false));
        if let Some(i) = found {
            let b = cands.remove(i);
            a2b.insert(a, b);
            b2a.insert(b, a);
        }
    }

    let mut changes: Vec<(SortKey, Change)> = Vec::new();
    for &a in &a_nodes {
        let ra = after.get(a);
        let key = (ra.start, std::cmp::Reverse(ra.end), after.depth(a), 1u8);
        match a2b.get(&a) {
            None => changes.push((key, Change::Added { after: a })),
            Some(&b) => {
                let rb = before.get(b);
                let moved = match (after.parent(a), before.parent(b)) {
                    (Some(pa), Some(pb)) => a2b.get(&pa) != Some(&pb),
                    _ => false,
                };
                let what = What {
                    resized: ra.start != rb.start || ra.end != rb.end,
                    moved,
                    renamed: after.name_of(a) != before.name_of(b),
                    flags: ra.flags != rb.flags || ra.desc != rb.desc,
                };
                if what.any() {
                    changes.push((
                        key,
                        Change::Changed {
                            before: b,
                            after: a,
                            what,
                        },
                    ));
                }
            }
        }
    }
    for &b in &b_nodes {
        if !b2a.contains_key(&b) {
            let rb = before.get(b);
            // Removed before added at the same place (0) so `-` reads before `+`.
            let key = (rb.start, std::cmp::Reverse(rb.end), before.depth(b), 0u8);
            changes.push((key, Change::Removed { before: b }));
        }
    }
    changes.sort_by_key(|(k, _)| *k);
    a2b.remove(&Tree::ROOT);
    TreeDiff {
        changes: changes.into_iter().map(|(_, c)| c).collect(),
        pairs: a2b,
    }
}

type SortKey = (u64, std::cmp::Reverse<u64>, usize, u8);

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testutil::{MEMB, RAM, build, t0};
    use crate::tree::Desc;
    use crate::tree::flags::*;

    fn summary(before: &Tree, after: &Tree) -> Vec<String> {
        diff(before, after)
            .summaries(before, after)
            .into_iter()
            .map(|s| format!("{} {:x}-{:x} {}", s.change, s.start, s.end, s.name))
            .collect()
    }

    #[test]
    fn diff_of_a_tree_with_itself_is_empty() {
        let t = t0();
        assert!(diff(&t, &t).is_empty());
        assert!(diff(&t, &t.clone()).is_empty());
        let e = Tree::new_iomem(46);
        assert!(diff(&e, &e).is_empty());
    }

    #[test]
    fn seed_hot_add_is_one_added_child() {
        // SC-02: System RAM nested under the PMEM node.
        let before = t0();
        let mut after = t0();
        let pmem = after.find_name("Persistent Memory (legacy)").unwrap();
        let n = after.alloc(
            0xa0000000,
            0xa7ffffff,
            b"System RAM",
            RAM,
            Desc::PersistentMemoryLegacy,
        );
        after.link_sorted(pmem, n);
        let d = diff(&before, &after);
        assert_eq!(d.changes, vec![Change::Added { after: n }]);
        assert_eq!(
            summary(&before, &after),
            ["added a0000000-a7ffffff System RAM"]
        );
        assert_eq!(d.summaries(&before, &after)[0].depth, 1);
    }

    #[test]
    fn split_is_resized_plus_added() {
        // SC-14 op 1: 100000000-13fffffff → 100000000-10fffffff + 118000000-13fffffff.
        let before = build(&[(0, 0x100000000, 0x13fffffff, "System RAM", RAM, Desc::None)]);
        let after = build(&[
            (0, 0x100000000, 0x10fffffff, "System RAM", RAM, Desc::None),
            (0, 0x118000000, 0x13fffffff, "System RAM", RAM, Desc::None),
        ]);
        assert_eq!(
            summary(&before, &after),
            [
                "resized 100000000-10fffffff System RAM",
                "added 118000000-13fffffff System RAM"
            ]
        );
        let s = &diff(&before, &after).summaries(&before, &after)[0];
        assert_eq!(
            (s.old_start, s.old_end),
            (Some(0x100000000), Some(0x13fffffff))
        );
        // SC-14 op 2: start moved → resized (same end).
        let after2 = build(&[(0, 0x108000000, 0x13fffffff, "System RAM", RAM, Desc::None)]);
        assert_eq!(
            summary(&before, &after2),
            ["resized 108000000-13fffffff System RAM"]
        );
    }

    #[test]
    fn removal_with_children_lists_each_removed_node() {
        let before = build(&[
            (0, 0x1000, 0x1fff, "a", MEMB, Desc::None),
            (0, 0x2000, 0x2fff, "p", IORESOURCE_MEM, Desc::None),
            (1, 0x2000, 0x20ff, "k", MEMB, Desc::None),
        ]);
        let after = build(&[(0, 0x1000, 0x1fff, "a", MEMB, Desc::None)]);
        assert_eq!(
            summary(&before, &after),
            ["removed 2000-2fff p", "removed 2000-20ff k"]
        );
    }

    #[test]
    fn insert_over_existing_moves_it_and_lifting_moves_back() {
        // SC-17: Reserved inserted with System ROM's exact range; System ROM becomes its child.
        let before = build(&[(0, 0xf0000, 0xfffff, "System ROM", MEMB, Desc::None)]);
        let after = build(&[
            (0, 0xf0000, 0xfffff, "Reserved", MEMB, Desc::Reserved),
            (1, 0xf0000, 0xfffff, "System ROM", MEMB, Desc::None),
        ]);
        assert_eq!(
            summary(&before, &after),
            ["added f0000-fffff Reserved", "moved f0000-fffff System ROM"]
        );
        assert_eq!(
            summary(&after, &before),
            [
                "removed f0000-fffff Reserved",
                "moved f0000-fffff System ROM"
            ]
        );
    }

    #[test]
    fn resized_parent_keeps_children_unchanged() {
        let before = build(&[
            (0, 0x1000, 0x1fff, "p", IORESOURCE_MEM, Desc::None),
            (1, 0x1000, 0x10ff, "k", MEMB, Desc::None),
        ]);
        let after = build(&[
            (0, 0x1000, 0x2fff, "p", IORESOURCE_MEM, Desc::None),
            (1, 0x1000, 0x10ff, "k", MEMB, Desc::None),
        ]);
        assert_eq!(summary(&before, &after), ["resized 1000-2fff p"]);
    }

    #[test]
    fn renamed_and_flags() {
        // kmem: dax0.0 goes from MEM|BUSY to non-busy SYSTEM_RAM (SC-11) and gains a child.
        let before = build(&[(0, 0xa8000000, 0xafffffff, "dax0.0", MEMB, Desc::None)]);
        let after = build(&[
            (
                0,
                0xa8000000,
                0xafffffff,
                "dax0.0",
                IORESOURCE_SYSTEM_RAM,
                Desc::None,
            ),
            (
                1,
                0xa8000000,
                0xafffffff,
                "System RAM (kmem)",
                RAM | IORESOURCE_SYSRAM_DRIVER_MANAGED,
                Desc::None,
            ),
        ]);
        assert_eq!(
            summary(&before, &after),
            [
                "flags a8000000-afffffff dax0.0",
                "added a8000000-afffffff System RAM (kmem)"
            ]
        );
        let renamed = build(&[(0, 0xa8000000, 0xafffffff, "dax0.1", MEMB, Desc::None)]);
        assert_eq!(
            summary(&before, &renamed),
            ["renamed a8000000-afffffff dax0.1"]
        );
    }

    #[test]
    fn duplicates_pair_in_order() {
        let before = build(&[
            (0, 0x0, 0xfff, "reserved", MEMB, Desc::None),
            (0, 0x0, 0xfff, "reserved", MEMB, Desc::None),
        ]);
        let after = build(&[(0, 0x0, 0xfff, "reserved", MEMB, Desc::None)]);
        assert_eq!(summary(&before, &after), ["removed 0-fff reserved"]);
    }

    fn m(s: u64, e: u64, n: &str) -> (usize, u64, u64, &str, u32, Desc) {
        (0, s, e, n, MEMB, Desc::None)
    }

    #[test]
    fn what_words_and_any_follow_each_field() {
        // Module doc: "Pairs with no difference are not changes"; the words are in the order
        // resized, moved, renamed, flags.
        assert!(!What::default().any());
        assert!(What::default().words().is_empty());
        let one = [
            (
                What {
                    resized: true,
                    ..What::default()
                },
                "resized",
            ),
            (
                What {
                    moved: true,
                    ..What::default()
                },
                "moved",
            ),
            (
                What {
                    renamed: true,
                    ..What::default()
                },
                "renamed",
            ),
            (
                What {
                    flags: true,
                    ..What::default()
                },
                "flags",
            ),
        ];
        for (w, word) in one {
            assert!(w.any(), "{word}");
            assert_eq!(w.words(), [word]);
        }
        let all = What {
            resized: true,
            moved: true,
            renamed: true,
            flags: true,
        };
        assert_eq!(all.words(), ["resized", "moved", "renamed", "flags"]);
    }

    #[test]
    fn accessors_of_a_diff() {
        let before = build(&[m(0x1000, 0x1fff, "a"), m(0x2000, 0x2fff, "b")]);
        let after = build(&[m(0x2000, 0x2fff, "c"), m(0x3000, 0x3fff, "d")]);
        let d = diff(&before, &after);
        assert!(!d.is_empty());
        assert_eq!(d.len(), 3);
        let a_b = before.find_name("a").unwrap();
        assert_eq!(d.removed().collect::<Vec<_>>(), [a_b]);
        let c = after.find_name("c").unwrap();
        let dd = after.find_name("d").unwrap();
        assert_eq!(d.of_after(dd), Some(&Change::Added { after: dd }));
        assert!(matches!(d.of_after(c), Some(Change::Changed { after, .. }) if *after == c));
        assert_eq!(d.of_after(Tree::ROOT), None);
        // Every paired after-node is in `pairs` (c with b), the root is not.
        assert_eq!(d.pairs.get(&c), before.find_name("b").as_ref());
        assert_eq!(d.pairs.len(), 1);
        assert_eq!(d.summaries(&before, &after).len(), 3);
        assert_eq!(
            summary(&before, &after),
            [
                "removed 1000-1fff a",
                "renamed 2000-2fff c",
                "added 3000-3fff d"
            ]
        );
        let e = diff(&before, &before);
        assert_eq!((e.is_empty(), e.len()), (true, 0));
        assert_eq!(e.removed().count(), 0);
    }

    #[test]
    fn summaries_carry_the_old_values_of_what_changed() {
        let before = build(&[(0, 0x1000, 0x1fff, "a", MEMB, Desc::None)]);
        let after = build(&[(0, 0x1000, 0x1fff, "b", RAM, Desc::None)]);
        let s = &diff(&before, &after).summaries(&before, &after)[0];
        assert_eq!(s.change, "renamed+flags");
        assert_eq!(
            (s.start, s.end, s.name.as_str(), s.depth),
            (0x1000, 0x1fff, "b", 0)
        );
        assert_eq!(s.old_name.as_deref(), Some("a"));
        assert_eq!((s.old_flags, s.flags), (Some(MEMB), Some(RAM)));
        assert_eq!((s.old_start, s.old_end), (None, None));
        let after = build(&[(0, 0x1000, 0x17ff, "a", MEMB, Desc::None)]);
        let s = &diff(&before, &after).summaries(&before, &after)[0];
        assert_eq!(s.change, "resized");
        assert_eq!((s.old_start, s.old_end), (Some(0x1000), Some(0x1fff)));
        assert_eq!(
            (s.old_name.as_deref(), s.old_flags, s.flags),
            (None, None, None)
        );
    }

    #[test]
    fn a_desc_change_alone_is_flags() {
        // Module doc: "Every pair also compares flags and desc".
        let before = build(&[(0, 0x1000, 0x1fff, "a", MEMB, Desc::None)]);
        let after = build(&[(0, 0x1000, 0x1fff, "a", MEMB, Desc::Reserved)]);
        assert_eq!(summary(&before, &after), ["flags 1000-1fff a"]);
    }

    #[test]
    fn resize_pairs_the_same_start_first() {
        // Rule 2: "whose range shares its start, else shares its end, else overlaps it".
        let before = build(&[m(0x3000, 0x4fff, "x"), m(0x1000, 0x1fff, "x")]);
        let after = build(&[m(0x1000, 0x4fff, "x")]);
        assert_eq!(
            summary(&before, &after),
            ["resized 1000-4fff x", "removed 3000-4fff x"]
        );
        let s = &diff(&before, &after).summaries(&before, &after)[0];
        assert_eq!(s.old_end, Some(0x1fff));
    }

    #[test]
    fn resize_pairs_the_same_end_before_an_overlap() {
        // Rule 2: no candidate shares the start; the one sharing the end wins over an
        // earlier one that only overlaps.
        let before = build(&[m(0x0, 0x1fff, "x"), m(0x3000, 0x3fff, "x")]);
        let after = build(&[m(0x1000, 0x3fff, "x")]);
        let d = diff(&before, &after);
        let s = &d.summaries(&before, &after);
        assert_eq!(s[0].change, "removed");
        assert_eq!((s[0].start, s[0].end), (0x0, 0x1fff));
        assert_eq!(s[1].change, "resized");
        assert_eq!((s[1].old_start, s[1].old_end), (Some(0x3000), Some(0x3fff)));
    }

    #[test]
    fn resize_falls_back_to_an_overlap_and_not_a_disjoint_node() {
        let before = build(&[m(0x5000, 0x5fff, "x"), m(0x0, 0x1fff, "x")]);
        let after = build(&[m(0x1000, 0x2fff, "x")]);
        let s = diff(&before, &after).summaries(&before, &after);
        assert_eq!(s.len(), 2);
        assert_eq!(s[0].change, "resized");
        assert_eq!((s[0].old_start, s[0].old_end), (Some(0x0), Some(0x1fff)));
        assert_eq!((s[1].change.as_str(), s[1].start), ("removed", 0x5000));
        // Nothing overlaps: added and removed, never "resized".
        let after = build(&[m(0x8000, 0x8fff, "x")]);
        let before = build(&[m(0x5000, 0x5fff, "x")]);
        assert_eq!(
            summary(&before, &after),
            ["removed 5000-5fff x", "added 8000-8fff x"]
        );
    }

    #[test]
    fn a_resize_needs_the_same_name_and_a_rename_the_same_range() {
        // Rule 2 pairs the same name only; rule 3 needs start and end both equal.
        let before = build(&[m(0x1000, 0x1fff, "a"), m(0x2000, 0x2fff, "b")]);
        let after = build(&[m(0x1000, 0x2fff, "c")]);
        assert_eq!(
            summary(&before, &after),
            [
                "added 1000-2fff c",
                "removed 1000-1fff a",
                "removed 2000-2fff b"
            ]
        );
        let after = build(&[m(0x2000, 0x2fff, "c")]);
        assert_eq!(
            summary(&before, &after),
            ["removed 1000-1fff a", "renamed 2000-2fff c"]
        );
        // Same start, other name, other end: not a rename, not a resize.
        let after = build(&[m(0x1000, 0x17ff, "c")]);
        assert_eq!(
            summary(&before, &after),
            // Address order, the wider range first (as /proc/iomem prints a container).
            [
                "removed 1000-1fff a",
                "added 1000-17ff c",
                "removed 2000-2fff b"
            ]
        );
        // A same-named candidate wins over a same-range one of another name.
        let before = build(&[m(0x1000, 0x1fff, "b"), m(0x1000, 0x1fff, "a")]);
        let after = build(&[m(0x1000, 0x17ff, "a")]);
        let s = diff(&before, &after).summaries(&before, &after);
        assert_eq!(s[0].change, "removed");
        assert_eq!(s[0].name, "b");
        assert_eq!(s[1].change, "resized");
    }

    #[test]
    fn rules_two_and_three_look_under_the_paired_parent_only() {
        // A resized child under a different (unpaired) parent is not paired across parents.
        let before = build(&[
            (0, 0x1000, 0x1fff, "p", IORESOURCE_MEM, Desc::None),
            (1, 0x1000, 0x17ff, "k", MEMB, Desc::None),
        ]);
        let after = build(&[
            (0, 0x1000, 0x1fff, "p", IORESOURCE_MEM, Desc::None),
            (1, 0x1000, 0x1bff, "k", MEMB, Desc::None),
            (0, 0x2000, 0x2fff, "q", IORESOURCE_MEM, Desc::None),
            (1, 0x2000, 0x27ff, "k", MEMB, Desc::None),
        ]);
        assert_eq!(
            summary(&before, &after),
            [
                "resized 1000-1bff k",
                "added 2000-2fff q",
                "added 2000-27ff k"
            ]
        );
        // An already paired node (rule 1) is not a candidate again.
        let before = build(&[m(0x1000, 0x1fff, "x")]);
        let after = build(&[m(0x1000, 0x1fff, "x"), m(0x1000, 0x1fff, "x")]);
        assert_eq!(summary(&before, &after), ["added 1000-1fff x"]);
        let after = build(&[m(0x1000, 0x1fff, "x"), m(0x1000, 0x17ff, "x")]);
        assert_eq!(summary(&before, &after), ["added 1000-17ff x"]);
    }

    #[test]
    fn a_node_moved_to_the_top_level_is_moved() {
        // remove_resource lifts a child to its grandparent (the root).
        let before = build(&[
            (0, 0x1000, 0x1fff, "p", IORESOURCE_MEM, Desc::None),
            (1, 0x1000, 0x17ff, "k", MEMB, Desc::None),
        ]);
        let after = build(&[
            (0, 0x1000, 0x1fff, "p", IORESOURCE_MEM, Desc::None),
            (0, 0x1000, 0x17ff, "k", MEMB, Desc::None),
        ]);
        assert_eq!(summary(&before, &after), ["moved 1000-17ff k"]);
        // Unmoved children of a paired parent are not moved.
        assert!(diff(&before, &before.clone()).is_empty());
    }
}
