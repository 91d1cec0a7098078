//! `--format svg`: the map of [`super::map`] as an SVG picture (issue 11), for docs, bug
//! reports and commit messages.
//!
//! The address axis runs **downwards** (low addresses at the top, as `/proc/iomem` reads).
//! Every top-level resource is one `<rect class="res">` whose `y` and `height` come from the
//! shared [`Scale`]: `y = axis_top + axis_height * at(start) / total`, `height` likewise for
//! `end + 1` (the column's `<g>` carries `data-axis-top` / `data-axis-height`). Each rectangle
//! has a `<title>` (the tooltip a browser shows): `start-end : name (size)`. After a command
//! that changed the tree the picture is a before/after pair on one scale, the changes outlined
//! (`class="change"`, nested ones included) and banded across both columns. Labels on the
//! right name the same stretches as the terminal map's rows.

use super::map::{MAX_ROWS, RegionClass, Scale, classify, rows};
use crate::diff::diff;
use crate::render::fmt_size_wide;
use crate::tree::Tree;
use svg::Document;
use svg::node::element::{Group, Line, Path, Rectangle, Text, Title};

/// Top of the address axis, in px.
pub const AXIS_TOP: f64 = 62.0;
const COL_W: f64 = 70.0;
const COL_GAP: f64 = 30.0;
const LEFT: f64 = 16.0;
const LABEL_STEP: f64 = 13.0;

/// XML text must not carry control characters; attribute values must not carry `"` (the `svg`
/// crate escapes `&<>` only).
fn clean(s: &str) -> String {
    s.chars()
        .map(|c| match c {
            '"' => '\'',
            c if c.is_control() => '?',
            c => c,
        })
        .collect()
}

fn hex(v: u128, w: usize) -> String {
    format!("{v:0w$x}")
}

/// The picture of `after` (and of `before`, then a pair with the changes highlighted).
pub fn render_svg(after: &Tree, before: Option<(&Tree, &str)>, title: &str) -> String {
    let trees: Vec<&Tree> = match before {
        Some((b, _)) => vec![b, after],
        None => vec![after],
    };
    let scale = Scale::new(&trees);
    let w = after.hex_width();
    let label_rows = rows(after, MAX_ROWS);
    let axis_h = (label_rows.len() as f64 * 18.0).max(560.0);
    let y = |a: u128| AXIS_TOP + axis_h * scale.at(a) / scale.total().max(1e-9);
    let ncols = trees.len();
    let cols_right = LEFT + ncols as f64 * COL_W + (ncols as f64 - 1.0) * COL_GAP;
    let label_x = cols_right + 40.0;

    let mut doc = Document::new();
    doc = doc.add(
        Text::new(clean(title))
            .set("x", LEFT)
            .set("y", 20)
            .set("font-family", "sans-serif")
            .set("font-size", 14)
            .set("font-weight", "bold"),
    );
    let changes = before.map(|(b, _)| diff(b, after).summaries(b, after));
    for (ci, t) in trees.iter().enumerate() {
        let x = LEFT + ci as f64 * (COL_W + COL_GAP);
        let which = if ncols == 2 && ci == 0 {
            "before"
        } else {
            "after"
        };
        let mut g = Group::new()
            .set("class", "column")
            .set("data-col", which)
            .set("data-axis-top", AXIS_TOP)
            .set("data-axis-height", axis_h);
        if ncols == 2 {
            g = g.add(
                Text::new(which)
                    .set("x", x)
                    .set("y", AXIS_TOP - 5.0)
                    .set("font-family", "sans-serif")
                    .set("font-size", 12),
            );
        }
        // The whole root as the background: what no resource covers is free.
        let root = t.get(Tree::ROOT);
        g = g.add(
            Rectangle::new()
                .set("class", "root")
                .set("x", x)
                .set("y", AXIS_TOP)
                .set("width", COL_W)
                .set("height", axis_h)
                .set("fill", RegionClass::Hole.fill())
                .set("stroke", "#757575")
                .set("stroke-width", 0.5)
                .add(Title::new(format!(
                    "iomem root {}-{} (free where no resource is drawn)",
                    hex(u128::from(root.start), w),
                    hex(u128::from(root.end), w)
                ))),
        );
        for c in t.children(Tree::ROOT) {
            let r = t.get(c);
            if r.end < r.start {
                continue;
            }
            let (s, e) = (u128::from(r.start), u128::from(r.end) + 1);
            let (y0, y1) = (y(s), y(e));
            let class = classify(t, c);
            let name = clean(&t.name_lossy(c));
            g = g.add(
                Rectangle::new()
                    .set("class", "res")
                    .set("data-start", hex(s, 1))
                    .set("data-end", hex(e - 1, 1))
                    .set("data-class", format!("{class:?}"))
                    .set("x", x)
                    .set("y", format!("{y0:.3}"))
                    .set("width", COL_W)
                    .set("height", format!("{:.3}", y1 - y0))
                    .set("fill", class.fill())
                    .set("stroke", "#424242")
                    .set("stroke-width", 0.3)
                    .add(Title::new(format!(
                        "{}-{} : {name} ({})",
                        hex(s, w),
                        hex(e - 1, w),
                        fmt_size_wide(e - s)
                    ))),
            );
        }
        // Collapsed holes: a zigzag across the column.
        for (i, &col) in scale.collapsed.iter().enumerate() {
            if !col {
                continue;
            }
            let ym = (y(scale.breaks[i]) + y(scale.breaks[i + 1])) / 2.0;
            let d = format!(
                "M {x} {ym} l {q} -4 l {q} 8 l {q} -8 l {q} 4",
                q = COL_W / 4.0
            );
            g = g.add(
                Path::new()
                    .set("class", "collapsed")
                    .set("d", d)
                    .set("fill", "none")
                    .set("stroke", "#424242")
                    .set("stroke-width", 1.2)
                    .add(Title::new("hole collapsed: not to scale")),
            );
        }
        // Changes: removed ones in the before column, the rest in the after column.
        if let Some(ch) = &changes {
            for c in ch {
                let removed = c.change == "removed";
                if removed != (which == "before") {
                    continue;
                }
                let (s, e) = (u128::from(c.start), u128::from(c.end) + 1);
                let (y0, y1) = (y(s), y(e).max(y(s) + 1.5));
                g = g.add(
                    Rectangle::new()
                        .set("class", "change")
                        .set("x", x + 2.0)
                        .set("y", format!("{y0:.3}"))
                        .set("width", COL_W - 4.0)
                        .set("height", format!("{:.3}", y1 - y0))
                        .set("fill", if removed { "#e53935" } else { "#ff6f00" })
                        .set("fill-opacity", 0.35)
                        .set("stroke", if removed { "#b71c1c" } else { "#e65100" })
                        .set("stroke-width", 2)
                        .add(Title::new(format!(
                            "{}: {}-{} : {} ({})",
                            c.change,
                            hex(s, w),
                            hex(e - 1, w),
                            clean(&c.name),
                            fmt_size_wide(e - s)
                        ))),
                );
            }
        }
        doc = doc.add(g);
    }
    if let (Some(ch), Some((_, cmd))) = (&changes, before) {
        // A band across both columns at each change, under the command that made it.
        for c in ch {
            let (s, e) = (u128::from(c.start), u128::from(c.end) + 1);
            let (y0, y1) = (y(s), y(e).max(y(s) + 1.5));
            doc = doc.add(
                Rectangle::new()
                    .set("class", "band")
                    .set("x", LEFT - 4.0)
                    .set("y", format!("{y0:.3}"))
                    .set("width", cols_right - LEFT + 8.0)
                    .set("height", format!("{:.3}", y1 - y0))
                    .set("fill", "#ffeb3b")
                    .set("fill-opacity", 0.3)
                    .set("pointer-events", "none"),
            );
        }
        doc = doc.add(
            Text::new(format!("changed by: {}", clean(cmd)))
                .set("x", LEFT)
                .set("y", 36)
                .set("font-family", "sans-serif")
                .set("font-size", 12)
                .set("fill", "#e65100"),
        );
    }
    // Labels: one per terminal row, pushed down so they never overlap, with a leader line.
    let mut next_y = AXIS_TOP + 4.0;
    let mut labels = Group::new()
        .set("class", "labels")
        .set("font-family", "monospace")
        .set("font-size", 11);
    for r in &label_rows {
        let target = (y(r.start) + y(r.end)) / 2.0;
        let ly = target.max(next_y);
        next_y = ly + LABEL_STEP;
        let name = if r.members.is_empty() {
            "free".to_string()
        } else if r.members.len() == 1 {
            after.name_lossy(r.members[0]).into_owned()
        } else {
            format!("{} resources", r.members.len())
        };
        let text = format!(
            "{}-{}  {:>9}  {}",
            hex(r.start, w),
            hex(r.end - 1, w),
            fmt_size_wide(r.end - r.start),
            clean(&name)
        );
        labels = labels
            .add(
                Line::new()
                    .set("x1", cols_right)
                    .set("y1", format!("{target:.3}"))
                    .set("x2", label_x - 4.0)
                    .set("y2", format!("{:.3}", ly - 3.5))
                    .set("stroke", "#9e9e9e")
                    .set("stroke-width", 0.6),
            )
            .add(
                Text::new(text)
                    .set("x", label_x)
                    .set("y", format!("{ly:.3}"))
                    .set("xml:space", "preserve"),
            );
    }
    doc = doc.add(labels);
    // Legend of the classes present.
    let mut present: Vec<RegionClass> = trees
        .iter()
        .flat_map(|t| t.children(Tree::ROOT).map(|c| classify(t, c)))
        .collect();
    present.push(RegionClass::Hole);
    present.sort();
    present.dedup();
    let legend_y = (AXIS_TOP + axis_h).max(next_y) + 24.0;
    let mut lg = Group::new()
        .set("class", "legend")
        .set("font-family", "sans-serif")
        .set("font-size", 11);
    let mut lx = LEFT;
    for c in present {
        lg = lg
            .add(
                Rectangle::new()
                    .set("x", lx)
                    .set("y", legend_y - 9.0)
                    .set("width", 10)
                    .set("height", 10)
                    .set("fill", c.fill())
                    .set("stroke", "#424242")
                    .set("stroke-width", 0.5),
            )
            .add(Text::new(c.label()).set("x", lx + 14.0).set("y", legend_y));
        lx += 24.0 + 6.5 * c.label().len() as f64;
    }
    doc = doc.add(lg);
    let width = (label_x + 560.0).max(lx + 16.0);
    let height = legend_y + 16.0;
    doc = doc
        .set("width", width)
        .set("height", height)
        .set("viewBox", (0, 0, width, height))
        .set("font-family", "sans-serif");
    let mut s = doc.to_string();
    s.push('\n');
    s
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testutil::t0;

    #[test]
    fn names_cannot_break_the_xml() {
        let mut t = t0();
        let id = t.children(Tree::ROOT).next().unwrap();
        let n = t.intern(b"a\"b<c>&d\x01");
        t.get_mut(id).name = n;
        let s = render_svg(&t, None, "x");
        let doc = roxmltree::Document::parse(&s).expect("well-formed");
        assert!(
            doc.descendants()
                .any(|n| n.has_tag_name("title") && n.text().unwrap_or("").contains("a'b<c>&d?"))
        );
    }
}
