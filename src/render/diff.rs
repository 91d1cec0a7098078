//! Before/after rendering of a [`TreeDiff`] (issue 4, cli.md `--diff side|unified`).
//!
//! * [`render_side`]: the resulting tree in `/proc/iomem` layout with a marker column (`+` added,
//!   `-` removed, `~` resized/moved/renamed/flags) and a note beside each change (old → new
//!   range, size). Far-away unchanged lines are folded (`… 37 unchanged lines …`) but the
//!   ancestors of every change stay visible, so a change deep inside a 300-line dump reads on
//!   one screen with its nesting.
//! * [`render_unified`]: `-`/`+`/` ` lines in exact `/proc/iomem` format with a little context
//!   and `@@` hunk headers — a line diff of the two `/proc/iomem` texts, pasteable into a kernel
//!   commit message and applicable with `patch`.

use crate::diff::step::Rows;
use crate::diff::{Change, TreeDiff};
pub use crate::render::Palette as DiffPalette;
use crate::render::{Palette, fmt_size, render_iomem};
use crate::tree::{NodeId, Tree};

/// One `/proc/iomem` line of a node (`r_show`: `depth*2` spaces, `%0*llx-%0*llx : %s`).
fn iomem_line(t: &Tree, id: NodeId, depth: usize) -> String {
    let r = t.get(id);
    let w = t.hex_width();
    format!(
        "{}{:0w$x}-{:0w$x} : {}",
        // r_show caps the indentation at MAX_IORES_LEVEL levels.
        "  ".repeat(depth.min(crate::parse::MAX_IORES_LEVEL)),
        r.start,
        r.end,
        t.name_lossy(id),
    )
}

/// `/proc/iomem` lines of a whole tree.
fn iomem_lines(t: &Tree) -> Vec<String> {
    let text = String::from_utf8_lossy(&render_iomem(t)).into_owned();
    text.lines().map(str::to_string).collect()
}

/// Human size for notes: `128 MiB`, `4 KiB`, `1.5 GiB`, `300 B`.
fn human(size: u64) -> String {
    fmt_size(size)
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Mark {
    Same,
    Added,
    Removed,
    Changed,
}

struct Row {
    text: String,
    mark: Mark,
    note: String,
    /// For unchanged rows of `after`: its node (to keep ancestors of changes visible).
    after: Option<NodeId>,
    /// Position in the whole merged listing (after's rows with the removed rows among them).
    pos: usize,
}

/// Rows of context around a change (`--diff side|unified`).
pub const CONTEXT: usize = 3;

/// A tree of at most this many rows is shown whole in the side view (nothing folds).
pub const FOLD_ABOVE: usize = 40;

/// The resulting tree with each change marked beside it. `context` unchanged lines are kept
/// around each change; longer unchanged runs are folded. `before` is needed for removed nodes
/// and old ranges.
pub fn render_side(
    before: &Tree,
    after: &Tree,
    diff: &TreeDiff,
    pal: &Palette,
    context: usize,
) -> String {
    render_side_rows(before, after, diff, pal, context, None)
}

/// [`render_side`] of a step's excerpts ([`crate::diff::step`]): `rows` gives each row of the
/// `after` excerpt its row in the whole tree, so folds count the whole tree's rows.
pub fn render_side_rows(
    before: &Tree,
    after: &Tree,
    diff: &TreeDiff,
    pal: &Palette,
    context: usize,
    rows_of: Option<&Rows>,
) -> String {
    // Rows of `after` in pre-order, removed rows of `before` merged in by address.
    let mut rows: Vec<Row> = Vec::new();
    let mut removed = diff.removed().peekable();
    let key =
        |t: &Tree, id: NodeId, d: usize| (t.get(id).start, std::cmp::Reverse(t.get(id).end), d);
    let push_removed = |rows: &mut Vec<Row>, b: NodeId| {
        let r = before.get(b);
        rows.push(Row {
            text: iomem_line(before, b, before.depth(b)),
            mark: Mark::Removed,
            note: format!("removed ({})", human(r.size())),
            after: None,
            pos: 0,
        });
    };
    let mut ancestors_needed: std::collections::HashSet<NodeId> = Default::default();
    // Keep the (paired) parent of each removed node visible, with its ancestors.
    let b2a: std::collections::HashMap<NodeId, NodeId> =
        diff.pairs.iter().map(|(&a, &b)| (b, a)).collect();
    for b in diff.removed() {
        if let Some(&pa) = before.parent(b).and_then(|pb| b2a.get(&pb)) {
            ancestors_needed.insert(pa);
            ancestors_needed.extend(after.ancestors(pa));
        }
    }
    for (a, d) in after.walk(Tree::ROOT) {
        while let Some(&b) = removed.peek() {
            if key(before, b, before.depth(b)) <= key(after, a, d) {
                push_removed(&mut rows, b);
                removed.next();
            } else {
                break;
            }
        }
        let ra = after.get(a);
        let (mark, note) = match diff.of_after(a) {
            None => (Mark::Same, String::new()),
            Some(Change::Added { .. }) => (Mark::Added, format!("added ({})", human(ra.size()))),
            Some(Change::Changed {
                before: b, what, ..
            }) => {
                let rb = before.get(*b);
                let mut parts = Vec::new();
                if what.resized {
                    parts.push(format!(
                        "was {:x}-{:x} ({} → {})",
                        rb.start,
                        rb.end,
                        human(rb.size()),
                        human(ra.size())
                    ));
                }
                if what.moved {
                    let old_parent = before
                        .parent(*b)
                        .filter(|&p| p != Tree::ROOT)
                        .map_or("the top level".to_string(), |p| {
                            format!("\"{}\"", before.name_lossy(p))
                        });
                    parts.push(format!("moved from under {old_parent}"));
                }
                if what.renamed {
                    parts.push(format!("was \"{}\"", before.name_lossy(*b)));
                }
                if what.flags {
                    parts.push(format!(
                        "flags {} → {}",
                        crate::tree::flags::describe(rb.flags),
                        crate::tree::flags::describe(ra.flags)
                    ));
                    if rb.desc != ra.desc {
                        parts.push(format!(
                            "desc {} → {}",
                            rb.desc.kernel_name(),
                            ra.desc.kernel_name()
                        ));
                    }
                }
                (Mark::Changed, parts.join("; "))
            }
            Some(Change::Removed { .. }) => (Mark::Same, String::new()),
        };
        if mark != Mark::Same {
            ancestors_needed.extend(after.ancestors(a));
        }
        rows.push(Row {
            text: iomem_line(after, a, d),
            mark,
            note,
            after: Some(a),
            pos: 0,
        });
    }
    for b in removed {
        push_removed(&mut rows, b);
    }
    // Positions in the whole listing: an after row's own row plus the removed rows before it;
    // a removed row sits right before the next after row (or at the end).
    let after_total = rows_of.map_or(after.len(), |r| r.total);
    let row_in_whole = |a: NodeId, i: usize| rows_of.and_then(|r| r.row(a)).unwrap_or(i);
    let mut next_after = after_total;
    let mut after_seen = rows.iter().filter(|r| r.after.is_some()).count();
    for r in rows.iter_mut().rev() {
        if let Some(a) = r.after {
            after_seen -= 1;
            next_after = row_in_whole(a, after_seen);
        }
        r.pos = next_after;
    }
    let mut removed_before = 0usize;
    for r in rows.iter_mut() {
        r.pos += removed_before;
        if r.after.is_none() {
            removed_before += 1;
        }
    }
    let total = after_total + diff.removed().count();

    // Which rows to show: changes, `context` rows around them, ancestors of changes.
    let n = rows.len();
    let mut show = vec![false; n];
    for (i, r) in rows.iter().enumerate() {
        if r.mark != Mark::Same {
            show[i] = true;
            let p = r.pos;
            for j in (0..i).rev().take_while(|&j| p - rows[j].pos <= context) {
                show[j] = true;
            }
            for j in (i + 1..n).take_while(|&j| rows[j].pos - p <= context) {
                show[j] = true;
            }
        }
        if let Some(a) = r.after
            && ancestors_needed.contains(&a)
        {
            show[i] = true;
        }
    }
    if diff.is_empty() {
        show.iter_mut().for_each(|s| *s = true);
    }
    let width = rows
        .iter()
        .zip(&show)
        .filter(|(r, s)| **s && r.mark != Mark::Same)
        .map(|(r, _)| r.text.chars().count())
        .max()
        .unwrap_or(0);

    let mut out = String::new();
    let fold = |out: &mut String, k: usize| {
        out.push_str(&pal.dim(&format!("  … {k} unchanged lines …")));
        out.push('\n');
    };
    // Rows of the whole listing already printed or folded.
    let mut done = 0usize;
    let mut i = 0;
    while i < n {
        if !show[i] {
            i += 1;
            continue;
        }
        let hidden = rows[i].pos - done;
        // Folding a single line saves nothing: print it (it is in the excerpt: the row right
        // before a shown one).
        if hidden == 1 && i > 0 && rows[i - 1].pos == done {
            show[i - 1] = true;
            i -= 1;
            continue;
        }
        if hidden > 0 {
            fold(&mut out, hidden);
        }
        done = rows[i].pos + 1;
        let r = &rows[i];
        let line = match r.mark {
            Mark::Same => format!("  {}", r.text),
            Mark::Added => {
                let pad = " ".repeat(width.saturating_sub(r.text.chars().count()));
                format!(
                    "{} {}{}  {}",
                    pal.added("+"),
                    pal.added(&r.text),
                    pad,
                    pal.added(&r.note)
                )
            }
            Mark::Removed => {
                let pad = " ".repeat(width.saturating_sub(r.text.chars().count()));
                format!(
                    "{} {}{}  {}",
                    pal.removed("-"),
                    pal.removed(&r.text),
                    pad,
                    pal.removed(&r.note)
                )
            }
            Mark::Changed => {
                let pad = " ".repeat(width.saturating_sub(r.text.chars().count()));
                format!(
                    "{} {}{}  {}",
                    pal.changed("~"),
                    pal.changed(&r.text),
                    pad,
                    pal.changed(&r.note)
                )
            }
        };
        out.push_str(line.trim_end());
        out.push('\n');
        i += 1;
    }
    if total > done {
        if total - done == 1 && n > 0 && rows[n - 1].pos == done {
            // The one row left: print it rather than fold it.
            let r = &rows[n - 1];
            out.push_str(format!("  {}", r.text).trim_end());
            out.push('\n');
        } else {
            fold(&mut out, total - done);
        }
    }
    out
}

/// `-`/`+` lines in exact `/proc/iomem` format with `context` lines around each change and
/// `@@ -l,n +l,n @@` hunk headers (a line diff of the two `/proc/iomem` texts). Empty when the
/// texts are equal.
pub fn render_unified(before: &Tree, after: &Tree, context: usize) -> String {
    render_unified_rows(before, after, context, None)
}

/// One line of the whole diff: a line of either text, or a run of lines common to both that
/// no excerpt holds.
enum Op<'a> {
    Line(char, &'a str),
    Common(usize),
}

/// [`render_unified`] of a step's excerpts: `rows` = (before's, after's) rows in the whole
/// trees; the lines between excerpt rows are common to both texts and far from any change.
pub fn render_unified_rows(
    before: &Tree,
    after: &Tree,
    context: usize,
    rows_of: Option<(&Rows, &Rows)>,
) -> String {
    let a = iomem_lines(before);
    let b = iomem_lines(after);
    // The whole-tree row of each excerpt line.
    let whole = |t: &Tree, r: Option<&Rows>| -> Vec<usize> {
        t.descendants(Tree::ROOT)
            .enumerate()
            .map(|(i, id)| r.and_then(|r| r.row(id)).unwrap_or(i))
            .collect()
    };
    let (wa, wb) = (
        whole(before, rows_of.map(|r| r.0)),
        whole(after, rows_of.map(|r| r.1)),
    );
    let line_ops = line_diff(&a, &b);
    // The whole diff: excerpt lines, with the common runs between them.
    let mut ops: Vec<Op> = Vec::with_capacity(line_ops.len() + 4);
    let (mut ia, mut ib) = (0usize, 0usize); // next whole row of each text
    let (mut xb, mut lens) = (0usize, Vec::with_capacity(line_ops.len() + 4));
    for &(k, idx) in &line_ops {
        let (ra, rb) = match k {
            ' ' => {
                let r = (Some(wa[idx]), Some(wb[xb]));
                xb += 1;
                r
            }
            '-' => (Some(wa[idx]), None),
            _ => {
                xb += 1;
                (None, Some(wb[idx]))
            }
        };
        let gap = ra.map(|r| r - ia).or(rb.map(|r| r - ib)).unwrap_or(0);
        if gap > 0 {
            ops.push(Op::Common(gap));
            lens.push(gap);
            ia += gap;
            ib += gap;
        }
        let text = if k == '+' { &b[idx] } else { &a[idx] };
        ops.push(Op::Line(k, text));
        lens.push(1);
        ia += usize::from(k != '+');
        ib += usize::from(k != '-');
    }
    let n = ops.len();
    // Position of each op in the whole diff (a common run counts its lines).
    let mut pos = vec![0usize; n + 1];
    for i in 0..n {
        pos[i + 1] = pos[i] + lens[i];
    }
    let changed = |i: usize| matches!(ops[i], Op::Line(k, _) if k != ' ');
    let mut keep = vec![false; n];
    for i in (0..n).filter(|&i| changed(i)) {
        keep[i] = true;
        for j in (0..i)
            .rev()
            .take_while(|&j| pos[i] - pos[j] <= context && matches!(ops[j], Op::Line(..)))
        {
            keep[j] = true;
        }
        for j in
            (i + 1..n).take_while(|&j| pos[j] - pos[i] <= context && matches!(ops[j], Op::Line(..)))
        {
            keep[j] = true;
        }
    }
    let mut out = String::new();
    // Line numbers (1-based) before op i in a and b.
    let mut la = vec![1usize; n + 1];
    let mut lb = vec![1usize; n + 1];
    for (j, op) in ops.iter().enumerate() {
        let (da, db) = match op {
            Op::Line(k, _) => (usize::from(*k != '+'), usize::from(*k != '-')),
            Op::Common(c) => (*c, *c),
        };
        la[j + 1] = la[j] + da;
        lb[j + 1] = lb[j] + db;
    }
    let mut i = 0;
    while i < n {
        if !keep[i] {
            i += 1;
            continue;
        }
        let j = (i..n).find(|&k| !keep[k]).unwrap_or(n);
        let (ca, cb) = (la[j] - la[i], lb[j] - lb[i]);
        let start = |l: usize, c: usize| if c == 0 { l - 1 } else { l };
        out.push_str(&format!(
            "@@ -{},{} +{},{} @@\n",
            start(la[i], ca),
            ca,
            start(lb[i], cb),
            cb
        ));
        for op in &ops[i..j] {
            if let Op::Line(k, text) = op {
                out.push(*k);
                out.push_str(text);
                out.push('\n');
            }
        }
        i = j;
    }
    out
}

/// Line diff: common prefix and suffix trimmed, LCS on the middle (changes are local, so the
/// middle is small; a bound keeps a pathological input from taking quadratic memory — beyond
/// it the middle is shown as all `-` then all `+`, still a correct diff).
fn line_diff(a: &[String], b: &[String]) -> Vec<(char, usize)> {
    let pre = a.iter().zip(b).take_while(|(x, y)| x == y).count();
    let suf = a[pre..]
        .iter()
        .rev()
        .zip(b[pre..].iter().rev())
        .take_while(|(x, y)| x == y)
        .count();
    let (ma, mb) = (&a[pre..a.len() - suf], &b[pre..b.len() - suf]);
    let mut ops: Vec<(char, usize)> = (0..pre).map(|i| (' ', i)).collect();
    if ma.len().saturating_mul(mb.len()) <= 4_000_000 {
        // lcs[i][j] = LCS length of ma[i..], mb[j..].
        let (n, m) = (ma.len(), mb.len());
        let mut lcs = vec![0u32; (n + 1) * (m + 1)];
        for i in (0..n).rev() {
            for j in (0..m).rev() {
                lcs[i * (m + 1) + j] = if ma[i] == mb[j] {
                    lcs[(i + 1) * (m + 1) + j + 1] + 1
                } else {
                    lcs[(i + 1) * (m + 1) + j].max(lcs[i * (m + 1) + j + 1])
                };
            }
        }
        let (mut i, mut j) = (0, 0);
        while i < n || j < m {
            if i < n && j < m && ma[i] == mb[j] {
                ops.push((' ', pre + i));
                i += 1;
                j += 1;
            } else if i < n && (j == m || lcs[(i + 1) * (m + 1) + j] >= lcs[i * (m + 1) + j + 1]) {
                ops.push(('-', pre + i));
                i += 1;
            } else {
                ops.push(('+', pre + j));
                j += 1;
            }
        }
    } else {
        ops.extend((0..ma.len()).map(|i| ('-', pre + i)));
        ops.extend((0..mb.len()).map(|j| ('+', pre + j)));
    }
    ops.extend((0..suf).map(|k| (' ', a.len() - suf + k)));
    ops
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::diff::diff;
    use crate::testutil::{RAM, t0};
    use crate::tree::Desc;

    fn seed_after() -> Tree {
        let mut t = t0();
        let pmem = t.find_name("Persistent Memory (legacy)").unwrap();
        let n = t.alloc(
            0xa0000000,
            0xa7ffffff,
            b"System RAM",
            RAM,
            Desc::PersistentMemoryLegacy,
        );
        t.link_sorted(pmem, n);
        t
    }

    #[test]
    fn unified_seed_hot_add_matches_the_commit_message() {
        let got = render_unified(&t0(), &seed_after(), 1);
        assert_eq!(
            got,
            "@@ -13,2 +13,3 @@\n a0000000-afffffff : Persistent Memory (legacy)\n+  a0000000-a7ffffff : System RAM\n b0000000-bffdffff : System RAM\n"
        );
        assert_eq!(render_unified(&t0(), &t0(), 3), "");
    }

    #[test]
    fn side_marks_and_folds() {
        let (b, a) = (t0(), seed_after());
        let d = diff(&b, &a);
        let got = render_side(&b, &a, &d, &Palette::plain(), 1);
        let want = "  … 12 unchanged lines …\n  a0000000-afffffff : Persistent Memory (legacy)\n+   a0000000-a7ffffff : System RAM  added (128 MiB)\n  b0000000-bffdffff : System RAM\n  … 2 unchanged lines …\n";
        // With no context the parent still shows, so the nesting is visible.
        let bare = render_side(&b, &a, &d, &Palette::plain(), 0);
        assert_eq!(
            bare,
            "  … 12 unchanged lines …\n  a0000000-afffffff : Persistent Memory (legacy)\n+   a0000000-a7ffffff : System RAM  added (128 MiB)\n  … 3 unchanged lines …\n"
        );
        assert_eq!(got, want, "\n{got}");
    }
}
