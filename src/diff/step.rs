//! The diff of one session step, from the step's change set (issue 12): what the step's
//! journal touched, not a walk of both trees.
//!
//! A step's before and after trees are the same arena in two states: the journal flips the
//! tree between them in O(change). From the touched nodes, the nodes a subtree brought in or
//! took out with it, and a few rows of context around each of them (and their ancestors), an
//! **excerpt** of each state is built: a small [`Tree`] holding those nodes with their true
//! depth, and for each of them its true row in `/proc/iomem`. The structural diff of the two
//! excerpts is the full trees' diff (every changed node is in both excerpts, every unchanged
//! node in one is in the other), and the renderers fold by the true rows, so the output is the
//! same as diffing and rendering the whole trees — `tests/prop_session.rs` checks exactly that.

use crate::tree::{NodeId, Tree, TreeJournal};
use rustc_hash::{FxHashMap as HashMap, FxHashSet as HashSet};
use std::collections::BTreeSet;

/// Rows of context kept around each changed row: the renderers' context (3) plus two, so that
/// a fold of exactly one row (which the side renderer prints instead) is inside an excerpt.
pub const EXCERPT_CONTEXT: usize = crate::render::diff::CONTEXT + 2;

/// Where an excerpt's rows sit in the whole tree's `/proc/iomem`.
#[derive(Clone, Debug, Default)]
pub struct Rows {
    /// By excerpt node id (the excerpt allocates ids 1, 2, … in row order): its 0-based row in
    /// the whole tree.
    by_id: Vec<usize>,
    /// Rows of the whole tree.
    pub total: usize,
}

impl Rows {
    /// The whole-tree row of excerpt node `id`.
    pub fn row(&self, id: NodeId) -> Option<usize> {
        self.by_id.get(id.0 as usize).copied()
    }
}

/// The two excerpts of a step and their rows in the whole trees.
#[derive(Clone, Debug)]
pub struct StepView {
    pub before: Tree,
    pub after: Tree,
    pub before_rows: Rows,
    pub after_rows: Rows,
}

fn in_tree(t: &Tree, id: NodeId) -> bool {
    t.in_tree(id)
}

/// `ids` with `w` rows before and after each, each row's ancestors, and the rows right
/// before and after each ancestor (a fold of one row between two shown rows is printed).
fn window(t: &Tree, ids: impl IntoIterator<Item = NodeId>, w: usize) -> BTreeSet<NodeId> {
    let mut out = BTreeSet::new();
    for id in ids {
        if id == Tree::ROOT {
            continue;
        }
        let mut first = id;
        for _ in 0..w {
            match t.prev_row(first) {
                Some(p) => first = p,
                None => break,
            }
        }
        // From `w` rows before `id` to `w` rows after it.
        let mut cur = Some(first);
        let mut past: Option<usize> = None;
        while let Some(c) = cur {
            out.insert(c);
            match &mut past {
                None if c == id => past = Some(0),
                Some(k) => {
                    *k += 1;
                    if *k >= w {
                        break;
                    }
                }
                None => {}
            }
            cur = t.next_row(c);
        }
    }
    close_ancestors(t, &mut out, true);
    out
}

/// Add every ancestor; with `neighbours`, also the rows right before and after each of them
/// (and those rows' ancestors, without going on to their neighbours: a shown ancestor needs
/// its neighbours for the one-row fold, a neighbour's ancestor is not shown).
fn close_ancestors(t: &Tree, ids: &mut BTreeSet<NodeId>, neighbours: bool) {
    let mut seen: HashSet<NodeId> = HashSet::default();
    let mut near: Vec<NodeId> = Vec::new();
    let start: Vec<NodeId> = ids.iter().copied().collect();
    for id in start {
        for a in t.ancestors(id).filter(|&a| a != Tree::ROOT) {
            if !seen.insert(a) {
                break;
            }
            ids.insert(a);
            if neighbours {
                near.extend([t.prev_row(a), t.next_row(a)].into_iter().flatten());
            }
        }
    }
    for n in near {
        if !ids.insert(n) {
            continue;
        }
        for a in t.ancestors(n).filter(|&a| a != Tree::ROOT) {
            if !ids.insert(a) {
                break;
            }
        }
    }
}

/// Copy `ids` (closed under ancestors) of `t` into a new tree, in row order, keeping each
/// node's range, name, flags and desc; with each copy's true row.
fn excerpt(t: &Tree, ids: &BTreeSet<NodeId>) -> (Tree, Rows) {
    let mut order: Vec<(usize, NodeId)> = Vec::with_capacity(ids.len());
    // Rows of consecutive ids are found by stepping, not by summing siblings again.
    let mut last: Option<(NodeId, usize)> = None;
    for &id in ids {
        let row = match last {
            Some((p, r)) if t.next_row(p) == Some(id) => r + 1,
            _ => t.row_of(id),
        };
        order.push((row, id));
        last = Some((id, row));
    }
    order.sort_unstable();
    let n = order.len();
    copy_rows(t, order.into_iter(), n)
}

/// The whole tree as its own excerpt (a tree the side view shows whole).
fn excerpt_whole(t: &Tree) -> (Tree, Rows) {
    copy_rows(t, t.descendants(Tree::ROOT).enumerate(), t.len())
}

/// Copy `(row, id)` pairs, in row order (parents first), into a new tree.
fn copy_rows(t: &Tree, order: impl Iterator<Item = (usize, NodeId)>, n: usize) -> (Tree, Rows) {
    let mut x = Tree::new(t.kind(), t.get(Tree::ROOT).end);
    x.zeroed = t.zeroed;
    x.reserve(n + 1, n * 24);
    let mut map: HashMap<NodeId, NodeId> = HashMap::default();
    map.reserve(n + 1);
    map.insert(Tree::ROOT, Tree::ROOT);
    let mut rows = Rows {
        by_id: Vec::with_capacity(n + 1),
        total: t.len(),
    };
    rows.by_id.push(0);
    for (row, id) in order {
        let r = t.get(id);
        // Not interned: an excerpt is only read.
        let name = x.intern(t.name_of(id));
        let c = x.alloc_named(r.start, r.end, name, r.flags, r.desc);
        let p = t
            .parent(id)
            .and_then(|p| map.get(&p).copied())
            .unwrap_or(Tree::ROOT);
        x.link_before(p, c, None);
        map.insert(id, c);
        debug_assert_eq!(c.0 as usize, rows.by_id.len());
        rows.by_id.push(row);
    }
    (x, rows)
}

/// The subtree below `top` (a node only this state has) as far as it is only in this state
/// too: an untouched child hangs from the same parent in both states, so it is new with its
/// parent; a touched child is new unless `in_other` has it (a subtree adopted by a new node,
/// as `insert_resource` does, is in both).
fn only_here(
    t: &Tree,
    top: NodeId,
    touched: &BTreeSet<NodeId>,
    in_other: &HashSet<NodeId>,
    out: &mut BTreeSet<NodeId>,
) {
    let mut todo = vec![top];
    while let Some(x) = todo.pop() {
        for c in t.children(x) {
            if touched.contains(&c) && in_other.contains(&c) {
                continue;
            }
            out.insert(c);
            todo.push(c);
        }
    }
}

impl StepView {
    fn swapped(self) -> StepView {
        StepView {
            before: self.after,
            after: self.before,
            before_rows: self.after_rows,
            after_rows: self.before_rows,
        }
    }
}

/// Both states whole: `before` = the tree as it is, `after` = the tree with `j` undone; the
/// tree is left as it was, and the journal that undoes `j`'s undo is returned (the step's
/// journal in the other direction).
fn whole_both(tree: &mut Tree, j: TreeJournal) -> (StepView, TreeJournal) {
    let (before, before_rows) = excerpt_whole(tree);
    let back = tree.undo(j);
    let (after, after_rows) = excerpt_whole(tree);
    let j = tree.undo(back);
    let view = StepView {
        before,
        after,
        before_rows,
        after_rows,
    };
    (view, j)
}

/// The excerpts of the step whose undo journal is `undo`, `tree` being the state after it.
/// The tree is flipped to the state before and back (four times the step's change); the
/// returned journal undoes the step as `undo` did.
pub fn step_view(tree: &mut Tree, undo: TreeJournal) -> (StepView, TreeJournal) {
    // A tree the side view shows whole is taken whole (both states).
    let small = |t: &Tree| t.len() <= crate::render::diff::FOLD_ABOVE;
    if small(tree) {
        let (view, undo) = whole_both(tree, undo);
        return (view.swapped(), undo);
    }
    let touched: BTreeSet<NodeId> = undo.touched().collect();
    let w = EXCERPT_CONTEXT;
    // After: which touched nodes are in the tree.
    let in_a: HashSet<NodeId> = touched
        .iter()
        .copied()
        .filter(|&t| in_tree(tree, t))
        .collect();
    let depth_a: HashMap<NodeId, usize> = in_a.iter().map(|&t| (t, tree.depth(t))).collect();

    // Before: the touched nodes in it, the subtrees the step took out, and their windows.
    let redo = tree.undo(undo);
    let in_b: HashSet<NodeId> = touched
        .iter()
        .copied()
        .filter(|&t| in_tree(tree, t))
        .collect();
    let mut cand_b: BTreeSet<NodeId> = in_b.iter().copied().collect();
    for &t in &in_b {
        if !in_a.contains(&t) {
            only_here(tree, t, &touched, &in_a, &mut cand_b);
        }
    }
    if small(tree) {
        // Back to the state after the step first: the tree is left there.
        let undo = tree.undo(redo);
        let (view, undo) = whole_both(tree, undo);
        return (view.swapped(), undo);
    }
    // A node moved to another depth re-indents its whole subtree: every line of it differs in
    // the text (the unified view), so the subtree is in both excerpts.
    let deeper: Vec<NodeId> = in_b
        .iter()
        .copied()
        .filter(|t| depth_a.get(t).is_some_and(|&d| d != tree.depth(*t)))
        .collect();
    let mut win_b: BTreeSet<NodeId> = window(tree, cand_b.iter().copied(), w);
    for &t in &deeper {
        win_b.extend(tree.descendants(t));
        // Context after the subtree's last line, the last line that differs.
        if let Some(last) = tree.descendants(t).last() {
            win_b.extend(window(tree, [last], w));
        }
    }

    // After again: the subtrees the step brought in, windows, the after excerpt.
    let undo = tree.undo(redo);
    let mut cand_a: BTreeSet<NodeId> = in_a.iter().copied().collect();
    for &t in &in_a {
        if !in_b.contains(&t) {
            only_here(tree, t, &touched, &in_b, &mut cand_a);
        }
    }
    let mut ids_a: BTreeSet<NodeId> = window(tree, cand_a.iter().copied(), w);
    for &t in &deeper {
        ids_a.extend(tree.descendants(t));
        if let Some(last) = tree.descendants(t).last() {
            ids_a.extend(window(tree, [last], w));
        }
    }
    // Nodes of the before windows that are in this tree too: untouched ones are (their
    // parent did not change and no subtree above them moved in or out — that would have put
    // them among the candidates), touched ones when `in_a` says so.
    let in_both = |id: &NodeId| {
        if touched.contains(id) {
            in_a.contains(id) && in_b.contains(id)
        } else {
            !cand_a.contains(id) && !cand_b.contains(id)
        }
    };
    ids_a.extend(win_b.iter().filter(|id| in_both(id)).copied());
    close_ancestors(tree, &mut ids_a, false);
    let (after, after_rows) = excerpt(tree, &ids_a);

    // Before again: the same untouched nodes, the before excerpt.
    let redo = tree.undo(undo);
    let mut ids_b = win_b;
    ids_b.extend(ids_a.iter().filter(|id| in_both(id)).copied());
    close_ancestors(tree, &mut ids_b, false);
    let (before, before_rows) = excerpt(tree, &ids_b);
    let undo = tree.undo(redo);
    (
        StepView {
            before,
            after,
            before_rows,
            after_rows,
        },
        undo,
    )
}

#[cfg(test)]
mod tests {
    //! The module's rule: a step's excerpt diff is the whole trees' diff (same changes, same
    //! side view with the same folds, same unified hunks), the row totals are the whole
    //! trees', and the returned journal still undoes the step exactly.
    use super::*;
    use crate::diff::diff;
    use crate::render::Palette;
    use crate::render::diff::{render_side, render_side_rows, render_unified, render_unified_rows};
    use crate::testutil::{MEMB, RAM};
    use crate::tree::Desc;
    use crate::tree::flags::*;

    /// `n` top-level System RAM rows, each with `kids` children: a tree that folds.
    fn wide(n: u64, kids: u64) -> Tree {
        let mut t = Tree::new_iomem(46);
        for i in 0..n {
            let s = 0x1_0000_0000 + i * 0x100_0000;
            let top = t.alloc(s, s + 0xff_ffff, b"System RAM", RAM, Desc::None);
            t.link_before(Tree::ROOT, top, None);
            for k in 0..kids {
                let cs = s + k * 0x10_0000;
                let c = t.alloc(cs, cs + 0xf_ffff, b"dev", MEMB, Desc::None);
                t.link_before(top, c, None);
            }
        }
        t
    }

    fn nth_top(t: &Tree, i: usize) -> NodeId {
        t.children(Tree::ROOT).nth(i).unwrap()
    }

    /// Do `op` as a journaled step on `t` and check the step view against the whole trees.
    fn check(mut t: Tree, op: impl FnOnce(&mut Tree)) -> StepView {
        let before = t.clone();
        t.begin_journal();
        op(&mut t);
        let undo = t.end_journal();
        let after = t.clone();
        let (v, back) = step_view(&mut t, undo);
        assert!(
            t.same_as(&after),
            "step_view left the tree in the after state"
        );
        assert_eq!(v.before_rows.total, before.len());
        assert_eq!(v.after_rows.total, after.len());
        let full = diff(&before, &after);
        let part = diff(&v.before, &v.after);
        assert!(!full.is_empty());
        assert_eq!(
            full.summaries(&before, &after),
            part.summaries(&v.before, &v.after)
        );
        let pal = Palette::plain();
        let lines = before.len().max(after.len());
        let ctx = if lines <= 40 { lines } else { 3 };
        assert_eq!(
            render_side(&before, &after, &full, &pal, ctx),
            render_side_rows(&v.before, &v.after, &part, &pal, ctx, Some(&v.after_rows)),
            "side view"
        );
        assert_eq!(
            render_unified(&before, &after, 3),
            render_unified_rows(
                &v.before,
                &v.after,
                3,
                Some((&v.before_rows, &v.after_rows))
            ),
            "unified view"
        );
        // Each excerpt row is at its true row of the whole tree.
        for (x, whole, rows) in [
            (&v.before, &before, &v.before_rows),
            (&v.after, &after, &v.after_rows),
        ] {
            let all: Vec<NodeId> = whole.descendants(Tree::ROOT).collect();
            for id in x.descendants(Tree::ROOT) {
                let w = all[rows.row(id).unwrap()];
                assert_eq!(x.get(id).start, whole.get(w).start);
                assert_eq!(x.get(id).end, whole.get(w).end);
                assert_eq!(x.name_of(id), whole.name_of(w));
                assert_eq!(x.depth(id), whole.depth(w));
            }
        }
        // The journal handed back still undoes the step.
        let _redo = t.undo(back);
        assert!(t.same_as(&before), "the returned journal undoes the step");
        v
    }

    #[test]
    fn added_leaf_in_a_big_tree_is_an_excerpt() {
        let v = check(wide(60, 1), |t| {
            let p = nth_top(t, 30);
            let s = t.get(p).start + 0x80_0000;
            let n = t.alloc(s, s + 0xfff, b"new", MEMB, Desc::None);
            t.link_sorted(p, n);
        });
        // An excerpt, not the whole tree. Top-level node i is at row 2i, its child at 2i+1;
        // the new leaf is row 62 of after, the touched parent (top 30) row 60 of before.
        // Before: rows 60 ± EXCERPT_CONTEXT (55..=65), top 27 (54, parent of 55) with its
        // neighbours 53 and 55, and 53's parent top 26 (52): 52..=65.
        // After: 62 ± 5 (57..=67; 67 is a top-level row, no one's ancestor, so its
        // neighbours are not added), 56 (parent of 57) with 55 (and its parent 54), plus the
        // rows of the before excerpt that are in both (52, 53): 52..=67.
        // Back in before, the after rows in both (before 65, 66): 52..=66.
        assert_eq!((v.before.len(), v.after.len()), (15, 16));
        let first = v.after.descendants(Tree::ROOT).next().unwrap();
        assert_eq!(v.after_rows.row(first), Some(52));
        assert_eq!(v.before_rows.row(NodeId(15)), Some(66));
        assert_eq!(v.before_rows.row(NodeId(16)), None);
    }

    #[test]
    fn removed_subtree_is_in_the_before_excerpt() {
        let v = check(wide(60, 3), |t| {
            let p = nth_top(t, 20);
            t.unlink(p);
            t.free(p);
        });
        // The removed subtree (4 rows) with context; none of it in the after excerpt.
        assert_eq!(v.before.len(), v.after.len() + 4);
    }

    #[test]
    fn added_subtree_with_children_is_in_the_after_excerpt() {
        check(wide(60, 1), |t| {
            let s = 0x9_0000_0000;
            let top = t.alloc(
                s,
                s + 0xff_ffff,
                b"Soft Reserved",
                IORESOURCE_MEM,
                Desc::SoftReserved,
            );
            t.link_sorted(Tree::ROOT, top);
            for k in 0..8u64 {
                let c = t.alloc(
                    s + k * 0x1000,
                    s + k * 0x1000 + 0xfff,
                    b"dax",
                    MEMB,
                    Desc::None,
                );
                t.link_before(top, c, None);
            }
        });
    }

    #[test]
    fn adopting_a_run_reindents_it_in_both_excerpts() {
        // insert_resource: a new parent adopts existing top-level rows (they move deeper).
        check(wide(60, 2), |t| {
            let run: Vec<NodeId> = (10..14).map(|i| nth_top(t, i)).collect();
            let (s, e) = (t.get(run[0]).start, t.get(run[3]).end);
            let n = t.alloc(s, e, b"Reserved", IORESOURCE_MEM, Desc::Reserved);
            t.adopt_run(Tree::ROOT, n, &run);
        });
    }

    #[test]
    fn lifting_children_reindents_them_in_both_excerpts() {
        // remove_resource: the children move up a level.
        check(wide(60, 5), |t| {
            let p = nth_top(t, 25);
            t.unlink_lifting_children(p);
        });
    }

    #[test]
    fn resized_renamed_and_flag_changes() {
        check(wide(60, 2), |t| {
            let a = nth_top(t, 5);
            let e = t.get(a).end;
            t.set_range(a, t.get(a).start, e - 0x1000);
            let b = nth_top(t, 40);
            let name = t.intern(b"renamed");
            t.get_mut(b).name = name;
            let c = nth_top(t, 59);
            t.get_mut(c).flags |= IORESOURCE_SYSRAM_DRIVER_MANAGED;
            let d = t.first_child(nth_top(t, 0)).unwrap();
            t.get_mut(d).desc = Desc::Reserved;
        });
    }

    #[test]
    fn first_and_last_rows_change() {
        check(wide(60, 0), |t| {
            let f = nth_top(t, 0);
            t.unlink(f);
            let l = nth_top(t, 58);
            let s = t.get(l).end + 1;
            let n = t.alloc(s, s + 0xfff, b"last", MEMB, Desc::None);
            t.link_before(Tree::ROOT, n, None);
        });
    }

    #[test]
    fn a_small_tree_is_taken_whole() {
        // At most FOLD_ABOVE rows after: both excerpts are the whole trees.
        let v = check(wide(10, 1), |t| {
            let p = nth_top(t, 3);
            t.unlink(p);
        });
        assert_eq!((v.before.len(), v.after.len()), (20, 18));
    }

    #[test]
    fn a_step_growing_a_small_tree_past_the_fold_takes_both_whole() {
        // Before: 40 rows (whole); after: 46.
        let v = check(wide(20, 1), |t| {
            let s = 0x9_0000_0000;
            let top = t.alloc(s, s + 0xff_ffff, b"new", IORESOURCE_MEM, Desc::None);
            t.link_sorted(Tree::ROOT, top);
            for k in 0..5u64 {
                let c = t.alloc(
                    s + k * 0x1000,
                    s + k * 0x1000 + 0xfff,
                    b"k",
                    MEMB,
                    Desc::None,
                );
                t.link_before(top, c, None);
            }
        });
        assert_eq!((v.before.len(), v.after.len()), (40, 46));
    }

    #[test]
    fn a_step_shrinking_past_the_fold_takes_after_whole() {
        // Before: 46 rows; after: 40 (the after state is shown whole).
        let v = check(wide(23, 1), |t| {
            for _ in 0..3 {
                let p = nth_top(t, 0);
                t.unlink(p);
            }
        });
        assert_eq!((v.before.len(), v.after.len()), (46, 40));
    }

    #[test]
    fn window_keeps_w_rows_each_side_and_the_ancestors_neighbours() {
        // Top-level node i is at row 3i, its two children at 3i+1, 3i+2.
        let t = wide(30, 2);
        let mid = t.first_child(nth_top(&t, 15)).unwrap();
        assert_eq!(t.row_of(mid), 46);
        let rows = |set: BTreeSet<NodeId>| {
            let mut v: Vec<usize> = set.iter().map(|&id| t.row_of(id)).collect();
            v.sort();
            v
        };
        // Rows 44..=48 (2 each side of 46); their ancestors: top 14 (42), top 15 (45);
        // those ancestors' neighbours: 41, 43 and 44, 46; the neighbours' ancestors: top 13
        // (39) for 41, 42 for 43 — and no neighbours of those.
        assert_eq!(
            rows(window(&t, [mid], 2)),
            [39, 41, 42, 43, 44, 45, 46, 47, 48]
        );
        // At the first row nothing comes before it.
        let first = nth_top(&t, 0);
        assert_eq!(rows(window(&t, [first], 2)), [0, 1, 2]);
        // The root is never a window's row.
        assert!(window(&t, [Tree::ROOT], 2).is_empty());
    }

    #[test]
    fn a_step_emptying_a_small_tree() {
        let v = check(wide(1, 0), |t| {
            let p = nth_top(t, 0);
            t.unlink(p);
        });
        assert_eq!((v.before.len(), v.after.len()), (1, 0));
        assert_eq!(v.after_rows.total, 0);
    }

    #[test]
    fn a_removed_subtree_longer_than_the_window_is_whole_in_before() {
        // Only the top of the subtree is touched (unlinked); its 30 rows below are removed
        // with it and every one is a removed row of the diff.
        check(wide(50, 1), |t| {
            let p = nth_top(t, 20);
            let s = t.get(p).start;
            for k in 1..30u64 {
                let c = t.alloc(
                    s + k * 0x1000,
                    s + k * 0x1000 + 0xfff,
                    b"x",
                    MEMB,
                    Desc::None,
                );
                t.link_before(p, c, None);
            }
        });
        let mut t = wide(50, 1);
        let p = nth_top(&t, 20);
        let s = t.get(p).start + 0x10_0000;
        for k in 0..30u64 {
            let c = t.alloc(
                s + k * 0x1000,
                s + k * 0x1000 + 0xfff,
                b"x",
                MEMB,
                Desc::None,
            );
            t.link_before(p, c, None);
        }
        let v = check(t.clone(), |t| {
            t.unlink(p);
        });
        assert_eq!(v.before.len(), v.after.len() + 32);
        // And brought back in one step: the after excerpt holds it whole.
        let mut gone = t.clone();
        gone.unlink(p);
        let v = check(gone, |t| t.link_sorted(Tree::ROOT, p));
        assert_eq!(v.after.len(), v.before.len() + 32);
    }

    #[test]
    fn adopting_a_run_longer_than_the_window_reindents_all_of_it() {
        check(wide(60, 4), |t| {
            let run: Vec<NodeId> = (10..20).map(|i| nth_top(t, i)).collect();
            let (s, e) = (t.get(run[0]).start, t.get(run[9]).end);
            let n = t.alloc(s, e, b"Reserved", IORESOURCE_MEM, Desc::Reserved);
            t.adopt_run(Tree::ROOT, n, &run);
        });
        // Each adopted node has 12 children, untouched, each re-indented: rows further than
        // the window from any touched node are still in both excerpts.
        let v = check(wide(60, 12), |t| {
            let run: Vec<NodeId> = (10..12).map(|i| nth_top(t, i)).collect();
            let (s, e) = (t.get(run[0]).start, t.get(run[1]).end);
            let n = t.alloc(s, e, b"Reserved", IORESOURCE_MEM, Desc::Reserved);
            t.adopt_run(Tree::ROOT, n, &run);
        });
        // Only the moved subtrees (26 rows) and context, not the 780-row tree: a node whose
        // depth did not change (the root, the parent whose list changed) is not re-indented.
        assert!(
            v.after.len() < 60 && v.before.len() < 60,
            "{} {}",
            v.before.len(),
            v.after.len()
        );
        check(wide(60, 12), |t| {
            let p = nth_top(t, 25);
            t.unlink_lifting_children(p);
        });
    }

    #[test]
    fn an_ancestors_deep_neighbour_comes_with_all_its_ancestors() {
        // P > P1 > P2 > P3, then A with 20 children; a change at A's 15th child puts A in the
        // excerpt, with its row before (P3, depth 3) and P3's ancestors at their true depths.
        let mut t = wide(20, 1);
        let mut p = Tree::ROOT;
        for (d, name) in ["P", "P1", "P2", "P3"].iter().enumerate() {
            let s = 0x40_0000_0000 + d as u64 * 0x1000;
            let n = t.alloc(
                s,
                0x40_0000_ffff,
                name.as_bytes(),
                IORESOURCE_MEM,
                Desc::None,
            );
            t.link_before(p, n, None);
            p = n;
        }
        let a = t.alloc(
            0x50_0000_0000,
            0x50_00ff_ffff,
            b"A",
            IORESOURCE_MEM,
            Desc::None,
        );
        t.link_before(Tree::ROOT, a, None);
        for k in 0..20u64 {
            let s = 0x50_0000_0000 + k * 0x1000;
            let c = t.alloc(s, s + 0xfff, b"a", MEMB, Desc::None);
            t.link_before(a, c, None);
        }
        let v = check(t, |t| {
            let a = t.find_name("A").unwrap();
            let c = t.children(a).nth(15).unwrap();
            t.get_mut(c).flags ^= IORESOURCE_BUSY;
        });
        let p3 = v.after.find_name("P3").unwrap();
        assert_eq!(v.after.depth(p3), 3);
    }

    /// A flat tree of `n` rows.
    fn rows(n: u64) -> Tree {
        let mut t = Tree::new_iomem(46);
        for i in 0..n {
            let id = t.alloc(
                i * 0x1000,
                i * 0x1000 + 0xfff,
                b"r",
                IORESOURCE_MEM,
                Desc::None,
            );
            t.link_before(Tree::ROOT, id, None);
        }
        t
    }

    /// Across the side view's whole-tree threshold in both directions: the excerpts are the
    /// whole trees, the tree is left after the step, and the journal still undoes the step.
    #[test]
    fn crossing_the_whole_tree_threshold_both_ways() {
        let fold = crate::render::diff::FOLD_ABOVE as u64;
        for (n, add) in [(fold, true), (fold + 1, false)] {
            let mut t = rows(n);
            let start = t.clone();
            t.begin_journal();
            if add {
                let id = t.alloc(
                    n * 0x1000,
                    n * 0x1000 + 0xfff,
                    b"new",
                    IORESOURCE_MEM,
                    Desc::None,
                );
                t.link_before(Tree::ROOT, id, None);
            } else {
                let last = t.children(Tree::ROOT).last().expect("rows");
                t.unlink(last);
                t.free(last);
            }
            let j = t.end_journal();
            let after = t.clone();
            let (v, j) = step_view(&mut t, j);
            assert!(t.same_as(&after), "left after the step");
            assert!(
                v.before.same_as(&start) && v.after.same_as(&after),
                "n = {n}"
            );
            assert_eq!(
                (v.before_rows.total, v.after_rows.total),
                (start.len(), after.len())
            );
            let _ = t.undo(j);
            assert!(t.same_as(&start), "the journal undoes the step");
        }
    }
}
