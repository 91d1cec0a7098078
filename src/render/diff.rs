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
}

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
        });
    }
    for b in removed {
        push_removed(&mut rows, b);
    }

    // Which rows to show: changes, `context` rows around them, ancestors of changes.
    let n = rows.len();
    let mut show = vec![false; n];
    for (i, r) in rows.iter().enumerate() {
        if r.mark != Mark::Same {
            for s in show
                .iter_mut()
                .take((i + context + 1).min(n))
                .skip(i.saturating_sub(context))
            {
                *s = true;
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
    let mut i = 0;
    while i < n {
        if !show[i] {
            let j = (i..n).find(|&k| show[k]).unwrap_or(n);
            let k = j - i;
            // Folding a single line saves nothing: print it.
            if k == 1 {
                show[i] = true;
                continue;
            }
            out.push_str(&pal.dim(&format!("  … {k} unchanged lines …")));
            out.push('\n');
            i = j;
            continue;
        }
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
    out
}

/// `-`/`+` lines in exact `/proc/iomem` format with `context` lines around each change and
/// `@@ -l,n +l,n @@` hunk headers (a line diff of the two `/proc/iomem` texts). Empty when the
/// texts are equal.
pub fn render_unified(before: &Tree, after: &Tree, context: usize) -> String {
    let a = iomem_lines(before);
    let b = iomem_lines(after);
    let ops = line_diff(&a, &b);
    // Each op: (' ' | '-' | '+', index in a or b).
    let n = ops.len();
    let mut keep = vec![false; n];
    for (i, (k, _)) in ops.iter().enumerate() {
        if *k != ' ' {
            for s in keep
                .iter_mut()
                .take((i + context + 1).min(n))
                .skip(i.saturating_sub(context))
            {
                *s = true;
            }
        }
    }
    let mut out = String::new();
    let mut i = 0;
    // Line numbers (1-based) before op i in a and b.
    let mut la = vec![1usize; n + 1];
    let mut lb = vec![1usize; n + 1];
    for (j, (k, _)) in ops.iter().enumerate() {
        la[j + 1] = la[j] + usize::from(*k != '+');
        lb[j + 1] = lb[j] + usize::from(*k != '-');
    }
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
        for (k, idx) in &ops[i..j] {
            let text = if *k == '+' { &b[*idx] } else { &a[*idx] };
            out.push(*k);
            out.push_str(text);
            out.push('\n');
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
