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
    use super::*;
    use crate::tree::Desc;
    use crate::tree::flags::*;

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
