//! `map`: the physical address space as a picture (issue 11).
//!
//! One line per top-level stretch of the tree, in address order: each top-level resource is
//! one [`RegionClass`] (System RAM, reserved, persistent memory, …), the gaps between them are
//! holes, and when there are more than [`MAX_ROWS`] of those (a phone has 160 top-level device
//! windows) the smallest neighbours are merged until the map fits — same class first, small
//! holes into their neighbours next, anything else last — so it stays within 60 lines.
//!
//! **The scale.** A row's bar grows by one step per doubling of its size
//! ([`weight`]: 4 KiB and less = 1, 8 KiB = 2, 128 MiB = 16, 64 GiB = 25): a 4 KiB ROM stays
//! visible next to 64 GiB of RAM. A hole larger than the largest resource (the empty tail up
//! to `2^46`) is **collapsed**: drawn as long as that resource, with a `~~` break in the bar.
//! The SVG ([`super::svg`]) uses the same weights along its address axis ([`Scale`]).

use crate::diff::diff;
use crate::render::{Palette, Style, fmt_size_wide};
use crate::tree::flags::*;
use crate::tree::{Desc, NodeId, Tree};

/// At most this many stretch rows (plus at most 14 lines of header, legend and changes).
pub const MAX_ROWS: usize = 40;
/// At most this many changes are listed below the map.
const MAX_CHANGE_LINES: usize = 8;
/// `--width` bounds.
pub const MIN_WIDTH: usize = 60;
pub const MAX_WIDTH: usize = 400;
pub const DEFAULT_WIDTH: usize = 80;

/// What a top-level region is, for the picture.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize)]
pub enum RegionClass {
    Ram,
    /// Driver-managed RAM: `System RAM (kmem)`, `System RAM (virtio_mem)`, …
    Kmem,
    Pmem,
    /// `Soft Reserved` (EFI specific-purpose memory) and CXL windows.
    SoftReserved,
    Reserved,
    Pci,
    Firmware,
    Device,
    Hole,
}

impl RegionClass {
    pub const ALL: [RegionClass; 9] = [
        RegionClass::Ram,
        RegionClass::Kmem,
        RegionClass::Pmem,
        RegionClass::SoftReserved,
        RegionClass::Reserved,
        RegionClass::Pci,
        RegionClass::Firmware,
        RegionClass::Device,
        RegionClass::Hole,
    ];
    /// Legend text.
    pub fn label(self) -> &'static str {
        match self {
            RegionClass::Ram => "System RAM",
            RegionClass::Kmem => "kmem/driver-managed RAM",
            RegionClass::Pmem => "persistent memory",
            RegionClass::SoftReserved => "soft reserved/CXL",
            RegionClass::Reserved => "reserved",
            RegionClass::Pci => "PCI window",
            RegionClass::Firmware => "firmware/ROM/ACPI",
            RegionClass::Device => "device MMIO",
            RegionClass::Hole => "free (hole)",
        }
    }
    /// The plain-ASCII bar character (`--color never`, pipes, snapshots).
    pub fn ascii(self) -> char {
        match self {
            RegionClass::Ram => '#',
            RegionClass::Kmem => 'K',
            RegionClass::Pmem => 'P',
            RegionClass::SoftReserved => 'S',
            RegionClass::Reserved => 'x',
            RegionClass::Pci => '=',
            RegionClass::Firmware => 'F',
            RegionClass::Device => '+',
            RegionClass::Hole => '.',
        }
    }
    /// The colored bar character.
    pub fn glyph(self) -> char {
        match self {
            RegionClass::Hole => '·',
            RegionClass::Reserved => '▒',
            _ => '█',
        }
    }
    pub fn style(self) -> Style {
        match self {
            RegionClass::Ram => Style::Ram,
            RegionClass::Kmem => Style::Kmem,
            RegionClass::Pmem => Style::Pmem,
            RegionClass::SoftReserved => Style::SoftReserved,
            RegionClass::Reserved => Style::Reserved,
            RegionClass::Pci => Style::Pci,
            RegionClass::Firmware => Style::Firmware,
            RegionClass::Device => Style::Device,
            RegionClass::Hole => Style::Dim,
        }
    }
    /// SVG fill colour.
    pub fn fill(self) -> &'static str {
        match self {
            RegionClass::Ram => "#4caf50",
            RegionClass::Kmem => "#00bfa5",
            RegionClass::Pmem => "#ab47bc",
            RegionClass::SoftReserved => "#f06292",
            RegionClass::Reserved => "#9e9e9e",
            RegionClass::Pci => "#42a5f5",
            RegionClass::Firmware => "#ffca28",
            RegionClass::Device => "#80deea",
            RegionClass::Hole => "#ffffff",
        }
    }
}

/// The class of a top-level resource, from its name, flags and desc (the names the kernel and
/// firmware use: `e820_type_to_string`, `PCI Bus`, `Soft Reserved`, …).
pub fn classify(tree: &Tree, id: NodeId) -> RegionClass {
    let r = tree.get(id);
    let name = tree.name_lossy(id).to_ascii_lowercase();
    let words: Vec<&str> = name
        .split(|c: char| !c.is_ascii_alphanumeric())
        .filter(|w| !w.is_empty())
        .collect();
    let has = |w: &str| words.contains(&w);
    if name.starts_with("system ram") {
        if r.flags & IORESOURCE_SYSRAM_DRIVER_MANAGED != 0 || name != "system ram" {
            return RegionClass::Kmem;
        }
        return RegionClass::Ram;
    }
    if name.starts_with("persistent memory")
        || matches!(
            r.desc,
            Desc::PersistentMemory | Desc::PersistentMemoryLegacy
        )
    {
        return RegionClass::Pmem;
    }
    if name.starts_with("soft reserved")
        || has("cxl")
        || matches!(r.desc, Desc::SoftReserved | Desc::Cxl)
    {
        return RegionClass::SoftReserved;
    }
    if has("acpi") || has("rom") || has("bios") || has("efi") || has("uefi") || has("firmware") {
        return RegionClass::Firmware;
    }
    if has("reserved") || name == "ram buffer" || has("crash") || name.starts_with("unknown e820") {
        return RegionClass::Reserved;
    }
    if has("pci") || has("pcie") || has("mmconfig") || has("ecam") {
        return RegionClass::Pci;
    }
    RegionClass::Device
}

/// A row's bar weight: `max(1, 1 + log2(len / 4096))` — one step per doubling.
pub fn weight(len: u128) -> f64 {
    if len <= 4096 {
        1.0
    } else {
        1.0 + (len as f64 / 4096.0).log2()
    }
}

/// The address axis shared by every picture of one or two trees: breakpoints at every top-level
/// start and end + 1 (and the root's ends); each elementary interval between breakpoints gets
/// [`weight`] of its length, except a hole (covered by no top-level resource of any tree)
/// longer than the largest top-level resource: it is collapsed to that resource's weight.
/// Inside an interval positions are linear in the address.
#[derive(Clone, Debug)]
pub struct Scale {
    /// Breakpoints, ascending; `breaks[0]` = root start, last = root end + 1.
    pub breaks: Vec<u128>,
    /// Cumulative weight at each breakpoint.
    pub pos: Vec<f64>,
    /// Per interval: collapsed?
    pub collapsed: Vec<bool>,
}

impl Scale {
    pub fn new(trees: &[&Tree]) -> Scale {
        let mut breaks: Vec<u128> = Vec::new();
        let mut spans: Vec<(u128, u128)> = Vec::new();
        let mut largest: u128 = 0;
        let (mut lo, mut hi) = (u128::MAX, 0u128);
        for t in trees {
            let root = t.get(Tree::ROOT);
            lo = lo.min(u128::from(root.start));
            hi = hi.max(u128::from(root.end) + 1);
            for c in t.children(Tree::ROOT) {
                let r = t.get(c);
                if r.end < r.start {
                    continue;
                }
                let (s, e) = (u128::from(r.start), u128::from(r.end) + 1);
                breaks.push(s);
                breaks.push(e);
                spans.push((s, e));
                largest = largest.max(e - s);
            }
        }
        if lo > hi {
            lo = 0;
            hi = 1;
        }
        breaks.push(lo);
        breaks.push(hi);
        breaks.sort_unstable();
        breaks.dedup();
        spans.sort_unstable();
        let mut pos = vec![0.0];
        let mut collapsed = Vec::new();
        let mut si = 0;
        let mut reach: u128 = 0; // max end of the spans starting at or before the interval
        for w in breaks.windows(2) {
            let (a, b) = (w[0], w[1]);
            while si < spans.len() && spans[si].0 <= a {
                reach = reach.max(spans[si].1);
                si += 1;
            }
            let covered = reach > a;
            let len = b - a;
            let c = !covered && len > largest.max(1);
            let wt = if c {
                weight(largest.max(1))
            } else {
                weight(len)
            };
            collapsed.push(c);
            pos.push(pos.last().copied().unwrap_or(0.0) + wt);
        }
        Scale {
            breaks,
            pos,
            collapsed,
        }
    }
    /// Total weight of the axis.
    pub fn total(&self) -> f64 {
        self.pos.last().copied().unwrap_or(0.0)
    }
    /// Position of an address (or end + 1) on the axis, in weight units.
    pub fn at(&self, addr: u128) -> f64 {
        let i = match self.breaks.binary_search(&addr) {
            Ok(i) => return self.pos[i],
            Err(0) => return 0.0,
            Err(i) if i >= self.breaks.len() => return self.total(),
            Err(i) => i - 1,
        };
        let (a, b) = (self.breaks[i], self.breaks[i + 1]);
        let f = (addr - a) as f64 / (b - a) as f64;
        self.pos[i] + (self.pos[i + 1] - self.pos[i]) * f
    }
}

/// One line of the map: a top-level resource, a hole, or a merged stretch of them.
#[derive(Clone, Debug)]
pub struct Row {
    pub start: u128,
    /// End + 1.
    pub end: u128,
    /// The class drawn (the one with the most bytes among the resources in the row).
    pub class: RegionClass,
    /// Top-level resources in the row.
    pub members: Vec<NodeId>,
    /// Bytes of holes merged into the row.
    pub hole_bytes: u128,
    /// More than one class of resource.
    pub mixed: bool,
}

impl Row {
    fn len(&self) -> u128 {
        self.end - self.start
    }
    fn is_hole(&self) -> bool {
        self.members.is_empty()
    }
    fn class_bytes(&self, tree: &Tree) -> Vec<(RegionClass, u128)> {
        let mut v: Vec<(RegionClass, u128)> = Vec::new();
        for &m in &self.members {
            let r = tree.get(m);
            let len = u128::from(r.end.saturating_sub(r.start)) + 1;
            let c = classify(tree, m);
            match v.iter_mut().find(|(k, _)| *k == c) {
                Some(e) => e.1 += len,
                None => v.push((c, len)),
            }
        }
        v
    }
}

/// The rows of `tree`: top-level resources and holes in address order, merged down to
/// `max_rows`.
pub fn rows(tree: &Tree, max_rows: usize) -> Vec<Row> {
    let root = tree.get(Tree::ROOT);
    let mut kids: Vec<NodeId> = tree
        .children(Tree::ROOT)
        .filter(|&c| tree.get(c).start <= tree.get(c).end)
        .collect();
    kids.sort_by_key(|&c| (tree.get(c).start, tree.get(c).end));
    let mut rows: Vec<Row> = Vec::new();
    let mut cur = u128::from(root.start);
    for c in kids {
        let r = tree.get(c);
        let (s, e) = (u128::from(r.start), u128::from(r.end) + 1);
        if s > cur {
            rows.push(Row {
                start: cur,
                end: s,
                class: RegionClass::Hole,
                members: Vec::new(),
                hole_bytes: s - cur,
                mixed: false,
            });
        }
        rows.push(Row {
            start: s,
            end: e.max(s + 1),
            class: classify(tree, c),
            members: vec![c],
            hole_bytes: 0,
            mixed: false,
        });
        cur = cur.max(e);
    }
    let root_end = u128::from(root.end) + 1;
    if cur < root_end {
        rows.push(Row {
            start: cur,
            end: root_end,
            class: RegionClass::Hole,
            members: Vec::new(),
            hole_bytes: root_end - cur,
            mixed: false,
        });
    }
    // Merge the cheapest neighbours until the map fits: (penalty, bytes) — same class 0,
    // a hole with a resource stretch 1, two different classes 2.
    while rows.len() > max_rows.max(1) {
        let mut best: Option<(u8, u128, usize)> = None;
        for i in 0..rows.len() - 1 {
            let (a, b) = (&rows[i], &rows[i + 1]);
            let pen = if a.class == b.class && a.is_hole() == b.is_hole() {
                0
            } else if a.is_hole() != b.is_hole() {
                1
            } else {
                2
            };
            // A collapsed-size hole (the tail) is merged only as a last resort.
            let bytes = a.len().saturating_add(b.len());
            let key = (pen, bytes, i);
            if best.is_none_or(|k| (key.0, key.1) < (k.0, k.1)) {
                best = Some(key);
            }
        }
        let Some((_, _, i)) = best else { break };
        let b = rows.remove(i + 1);
        let a = &mut rows[i];
        a.end = a.end.max(b.end);
        a.members.extend(b.members);
        a.hole_bytes += b.hole_bytes;
        let cb = a.class_bytes(tree);
        a.mixed = cb.len() > 1;
        a.class = cb
            .iter()
            .max_by_key(|(_, n)| *n)
            .map_or(RegionClass::Hole, |(c, _)| *c);
    }
    rows
}

/// What `map` shows: a tree and, after a command that changed it, the tree before.
#[derive(Clone, Debug)]
pub struct MapView {
    pub tree: Tree,
    /// The tree before the last step, and the step's command.
    pub before: Option<(Tree, String)>,
    pub width: usize,
}

fn hex(v: u128, w: usize) -> String {
    format!("{v:0w$x}")
}

fn truncate(s: &str, max: usize, ascii: bool) -> String {
    if s.chars().count() <= max {
        return s.to_string();
    }
    let ell = if ascii { "..." } else { "…" };
    let keep = max.saturating_sub(ell.chars().count());
    let mut t: String = s.chars().take(keep).collect();
    t.push_str(ell);
    t
}

fn row_label(tree: &Tree, row: &Row) -> String {
    if row.is_hole() {
        return "free".to_string();
    }
    let mut names: Vec<String> = Vec::new();
    for &m in &row.members {
        let n = tree.name_lossy(m).into_owned();
        if !names.contains(&n) {
            names.push(n);
        }
    }
    let gaps = if row.hole_bytes > 0 { " + gaps" } else { "" };
    if row.members.len() == 1 {
        names.remove(0)
    } else if names.len() == 1 {
        format!("{} x{}{gaps}", names[0], row.members.len())
    } else {
        format!(
            "{} resources{gaps}: {}",
            row.members.len(),
            names.join(", ")
        )
    }
}

/// Make a name safe for a terminal line: control characters become `?`.
fn printable(s: &str) -> String {
    s.chars()
        .map(|c| if c.is_control() { '?' } else { c })
        .collect()
}

/// The map as text. Plain palettes draw ASCII only.
pub fn render_map(view: &MapView, pal: &Palette) -> String {
    let tree = &view.tree;
    let ascii = !pal.is_colored();
    let width = view.width.clamp(MIN_WIDTH, MAX_WIDTH);
    let w = tree.hex_width();
    let rows = rows(tree, MAX_ROWS);
    // The range column is as wide as its widest entry (the tail up to a 2^46 root is wider
    // than the rest).
    let range_w = rows
        .iter()
        .map(|r| hex(r.start, w).len() + 1 + hex(r.end - 1, w).len())
        .max()
        .unwrap_or(2 * w + 1);
    let root = tree.get(Tree::ROOT);
    let mut out = String::new();
    let ntop = tree.child_count(Tree::ROOT);
    out.push_str(&pal.heading(&format!(
        "map: {ntop} top-level resources, {} rows; root {}-{} ({})",
        rows.len(),
        hex(u128::from(root.start), w),
        hex(u128::from(root.end), w),
        fmt_size_wide(u128::from(root.end - root.start) + 1)
    )));
    out.push('\n');
    out.push_str(
        &pal.dim("bar: one step per doubling of the size (4 KiB = 1); ~~ = a collapsed hole"),
    );
    out.push('\n');
    // Changes of the last step.
    let mut changed: Vec<(u128, u128)> = Vec::new();
    let mut change_lines: Vec<String> = Vec::new();
    if let Some((before, cmd)) = &view.before {
        let d = diff(before, tree);
        for c in d.summaries(before, tree) {
            changed.push((u128::from(c.start), u128::from(c.end) + 1));
            let (sign, style) = match c.change.as_str() {
                "added" => ("+", Style::Added),
                "removed" => ("-", Style::Removed),
                _ => ("~", Style::Changed),
            };
            change_lines.push(pal.paint(
                style,
                &format!(
                    "  {sign} {}-{} {} ({}, {})",
                    hex(u128::from(c.start), w),
                    hex(u128::from(c.end), w),
                    printable(&c.name),
                    c.change,
                    fmt_size_wide(u128::from(c.end.saturating_sub(c.start)) + 1)
                ),
            ));
        }
        if change_lines.is_empty() {
            change_lines.push(format!("  (`{cmd}` did not change the tree)"));
        } else {
            change_lines.insert(0, format!("* = changed by `{cmd}`:"));
        }
    }
    // Column layout: "* " + range + " " + size(9) + " |" + bar + "| " + label.
    let fixed = 2 + range_w + 1 + 9 + 2 + 2;
    let bar_w = (width.saturating_sub(fixed) * 2 / 5).clamp(10, 48);
    let label_w = width.saturating_sub(fixed + bar_w).max(8);
    let biggest_resource = rows
        .iter()
        .filter(|r| !r.is_hole())
        .map(Row::len)
        .max()
        .unwrap_or(1);
    let is_collapsed = |r: &Row| r.is_hole() && r.len() > biggest_resource;
    let wmax = rows
        .iter()
        .filter(|r| !is_collapsed(r))
        .map(|r| weight(r.len()))
        .fold(1.0f64, f64::max);
    for r in &rows {
        let collapsed = is_collapsed(r);
        let n = if collapsed {
            bar_w
        } else {
            ((weight(r.len()) / wmax * bar_w as f64).round() as usize).clamp(1, bar_w)
        };
        let ch = if ascii {
            r.class.ascii()
        } else {
            r.class.glyph()
        };
        let mut bar: String = std::iter::repeat_n(ch, n).collect();
        if collapsed && n >= 6 {
            let mid = n / 2 - 1;
            let brk = if ascii { "~~" } else { "≈≈" };
            bar = format!(
                "{}{brk}{}",
                std::iter::repeat_n(ch, mid).collect::<String>(),
                std::iter::repeat_n(ch, n - mid - 2).collect::<String>()
            );
        }
        let pad = " ".repeat(bar_w - n);
        let is_changed = changed.iter().any(|&(s, e)| s < r.end && r.start < e);
        let mark = if is_changed {
            pal.changed("* ")
        } else {
            "  ".to_string()
        };
        let mut label = printable(&row_label(tree, r));
        if collapsed {
            label.push_str(" (collapsed)");
        }
        if r.mixed {
            label = format!("[mixed] {label}");
        }
        let label = truncate(&label, label_w, ascii);
        let range = format!("{}-{}", hex(r.start, w), hex(r.end - 1, w));
        let range = format!("{range:<range_w$}");
        out.push_str(&format!(
            "{mark}{} {:>9} |{}{pad}| {}\n",
            pal.addr(&range),
            pal.size(&fmt_size_wide(r.len())),
            pal.paint(r.class.style(), &bar),
            if r.is_hole() { pal.dim(&label) } else { label }
        ));
    }
    // Legend: the classes present, with their totals (top-level bytes).
    let mut totals: Vec<(RegionClass, u128)> = Vec::new();
    for r in &rows {
        let parts = if r.is_hole() {
            vec![(RegionClass::Hole, r.hole_bytes)]
        } else {
            let mut v = r.class_bytes(tree);
            if r.hole_bytes > 0 {
                v.push((RegionClass::Hole, r.hole_bytes));
            }
            v
        };
        for (c, n) in parts {
            match totals.iter_mut().find(|(k, _)| *k == c) {
                Some(e) => e.1 += n,
                None => totals.push((c, n)),
            }
        }
    }
    totals.sort_by_key(|(c, _)| *c);
    let mut line = String::from("legend:");
    let mut line_len = line.len();
    for (c, n) in totals {
        let ch = if ascii { c.ascii() } else { c.glyph() };
        let item = format!("{ch} {} {}", c.label(), fmt_size_wide(n));
        if line_len + 2 + item.chars().count() > width {
            out.push_str(&line);
            out.push('\n');
            line = "       ".to_string();
            line_len = line.len();
        }
        line.push_str("  ");
        line.push_str(&pal.paint(c.style(), &ch.to_string()));
        line.push_str(&item[ch.len_utf8()..]);
        line_len += 2 + item.chars().count();
    }
    out.push_str(&line);
    out.push('\n');
    let more = change_lines.len().saturating_sub(MAX_CHANGE_LINES + 1);
    for l in change_lines.iter().take(MAX_CHANGE_LINES + 1) {
        out.push_str(l);
        out.push('\n');
    }
    if more > 0 {
        out.push_str(&format!("  … and {more} more (`diff` lists them all)\n"));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testutil::t0;

    #[test]
    fn weights_double_per_step() {
        assert_eq!(weight(1), 1.0);
        assert_eq!(weight(4096), 1.0);
        assert_eq!(weight(8192), 2.0);
        assert_eq!(weight(128 << 20), 16.0);
        assert_eq!(weight(64 << 30), 25.0);
    }

    #[test]
    fn classes_of_t0() {
        let t = t0();
        let got: Vec<(String, RegionClass)> = t
            .children(Tree::ROOT)
            .map(|c| (t.name_lossy(c).into_owned(), classify(&t, c)))
            .collect();
        let want = [
            RegionClass::Reserved,
            RegionClass::Ram,
            RegionClass::Reserved,
            RegionClass::Pci,
            RegionClass::Firmware,
            RegionClass::Firmware,
            RegionClass::Reserved,
            RegionClass::Ram,
            RegionClass::Pmem,
            RegionClass::Ram,
            RegionClass::Reserved,
            RegionClass::Pci,
        ];
        assert_eq!(got.iter().map(|g| g.1).collect::<Vec<_>>(), want, "{got:?}");
    }

    #[test]
    fn rows_cover_the_root_in_order_and_merge_to_fit() {
        let t = t0();
        for max in [100, 10, 3] {
            let rs = rows(&t, max);
            assert!(rs.len() <= max.max(1));
            assert_eq!(rs[0].start, 0);
            assert_eq!(
                rs.last().unwrap().end,
                u128::from(t.get(Tree::ROOT).end) + 1
            );
            for w in rs.windows(2) {
                assert_eq!(w[0].end, w[1].start);
            }
            let members: usize = rs.iter().map(|r| r.members.len()).sum();
            assert_eq!(members, t.child_count(Tree::ROOT));
        }
    }

    #[test]
    fn scale_is_monotone_and_collapses_the_tail() {
        let mut t = t0();
        t.get_mut(Tree::ROOT).end = (1 << 46) - 1;
        let s = Scale::new(&[&t]);
        for w in s.pos.windows(2) {
            assert!(w[1] > w[0]);
        }
        // The tail hole [fec00000, 2^46) is longer than the largest resource (System RAM
        // 00100000-9fffffff, 2.5 GiB): collapsed to that resource's weight.
        assert_eq!(s.collapsed.last(), Some(&true));
        let n = s.pos.len();
        let tail = s.pos[n - 1] - s.pos[n - 2];
        assert!((tail - weight(0x9fffffff - 0x100000 + 1)).abs() < 1e-9);
    }
}
