//! The readable tree view (`--format tree`, `show`, `show --flags`).
//!
//! ```text
//! 00000000-00000fff      4 KiB  Reserved
//! 000f0000-000fffff     64 KiB  Reserved
//! 000f0000-000fffff     64 KiB  └─ System ROM
//! ```
//! Addresses first (aligned, as `/proc/iomem` prints them), then the size, then depth guides
//! and the name, so that the columns stay aligned however deep a node sits.

use super::{Palette, fmt_size_wide, size_of};
use crate::tree::flags::{self, IORESOURCE_BUSY, IORESOURCE_SYSRAM};
use crate::tree::{Confidence, Desc, NodeId, RootKind, Tree};

/// What to show besides ranges, sizes and names.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct TreeOptions {
    /// A column with each node's flags, desc and how sure the inference is (`show --flags`).
    pub flags: bool,
    /// Leave out the summary line.
    pub no_summary: bool,
}

/// Guides are drawn for this many levels; deeper nodes get a `[depth N]` marker instead, so a
/// pathological chain cannot make the output quadratic.
const MAX_GUIDES: usize = 24;

/// Name made safe for a terminal: invalid UTF-8 replaced, control characters escaped (a name
/// is whatever a driver passed; escape bytes must not reach the terminal).
pub fn display_name(tree: &Tree, id: NodeId) -> String {
    let raw = tree.name_lossy(id);
    if !raw.chars().any(char::is_control) {
        return raw.into_owned();
    }
    raw.chars()
        .map(|c| {
            if c.is_control() {
                format!("\\x{:02x}", c as u32)
            } else {
                c.to_string()
            }
        })
        .collect()
}

fn confidence_word(c: Confidence) -> &'static str {
    match c {
        Confidence::Exact => "exact",
        Confidence::High => "high",
        Confidence::Medium => "medium",
        Confidence::Low => "low (guess)",
    }
}

fn is_ram(tree: &Tree, id: NodeId) -> bool {
    tree.name_of(id).starts_with(b"System RAM")
}

/// The tree as a readable, optionally colored listing with a summary line.
pub fn render_tree(tree: &Tree, pal: &Palette, opts: &TreeOptions) -> String {
    let rows: Vec<(NodeId, usize)> = tree.walk(Tree::ROOT).collect();
    let zeroed = tree.zeroed;
    let ranges: Vec<String> = rows
        .iter()
        .map(|&(id, _)| super::fmt_range(tree, tree.get(id).start, tree.get(id).end))
        .collect();
    let sizes: Vec<String> = rows
        .iter()
        .map(|&(id, _)| {
            if zeroed {
                "?".to_string()
            } else {
                fmt_size_wide(size_of(tree, id))
            }
        })
        .collect();
    // With the header line, columns are at least as wide as their titles.
    let title = |w: usize| if opts.flags { w } else { 0 };
    let aw = ranges
        .iter()
        .map(String::len)
        .max()
        .unwrap_or(0)
        .max(title(5));
    let sw = sizes
        .iter()
        .map(String::len)
        .max()
        .unwrap_or(0)
        .max(title(4));
    let flag_cols: Vec<(String, String, &str)> = if opts.flags {
        rows.iter()
            .map(|&(id, _)| {
                let r = tree.get(id);
                let desc = if r.desc == Desc::None {
                    "-".to_string()
                } else {
                    r.desc.kernel_name().to_string()
                };
                (
                    flags::describe(r.flags),
                    desc,
                    confidence_word(r.confidence),
                )
            })
            .collect()
    } else {
        Vec::new()
    };
    let fw = flag_cols
        .iter()
        .map(|c| c.0.len())
        .max()
        .unwrap_or(0)
        .max(5);
    let dw = flag_cols
        .iter()
        .map(|c| c.1.len())
        .max()
        .unwrap_or(0)
        .max(4);
    let cw = flag_cols
        .iter()
        .map(|c| c.2.len())
        .max()
        .unwrap_or(0)
        .max(4);

    let mut out = String::new();
    if opts.flags && !rows.is_empty() {
        let head = format!(
            "{:aw$}  {:>sw$}  {:fw$}  {:dw$}  {:cw$}  name",
            "range", "size", "flags", "desc", "sure",
        );
        out.push_str(&pal.heading(head.trim_end()));
        out.push('\n');
    }
    // `last[k]`: the ancestor at depth k (on the current path) is the last of its siblings.
    let mut last: Vec<bool> = Vec::new();
    for (i, &(id, depth)) in rows.iter().enumerate() {
        last.truncate(depth);
        let is_last = tree.next_sibling(id).is_none();
        let mut guide = String::new();
        if depth > MAX_GUIDES {
            guide.push_str(&format!("[depth {depth}] "));
        } else if depth > 0 {
            for &l in last.iter().skip(1) {
                guide.push_str(if l { "   " } else { "│  " });
            }
            guide.push_str(if is_last { "└─ " } else { "├─ " });
        }
        if depth <= MAX_GUIDES {
            last.push(is_last);
        }
        let name = display_name(tree, id);
        let name = if is_ram(tree, id) {
            pal.ram(&name)
        } else {
            pal.name(&name)
        };
        let range = format!("{:aw$}", ranges[i]);
        let size = format!("{:>sw$}", sizes[i]);
        out.push_str(&pal.addr(&range));
        out.push_str("  ");
        out.push_str(&pal.size(&size));
        out.push_str("  ");
        if let Some((f, d, c)) = flag_cols.get(i) {
            out.push_str(&pal.flags(&format!("{f:fw$}  {d:dw$}")));
            out.push_str("  ");
            out.push_str(&pal.dim(&format!("{c:cw$}")));
            out.push_str("  ");
        }
        out.push_str(&pal.guide(&guide));
        out.push_str(&name);
        out.push('\n');
    }
    if !opts.no_summary {
        out.push_str(&pal.dim(&summary(tree)));
        out.push('\n');
    }
    out
}

/// `16 resources; System RAM 3.0 GiB in 3 ranges`: System RAM is what the kernel counts as
/// RAM (`walk_system_ram_res`: `IORESOURCE_SYSTEM_RAM|IORESOURCE_BUSY`), outermost nodes only,
/// so Kernel code inside System RAM is not counted twice.
pub fn summary(tree: &Tree) -> String {
    let n = tree.len();
    let noun = if n == 1 { "resource" } else { "resources" };
    if tree.kind() == RootKind::Ioport {
        return format!("{n} {noun} (I/O ports)");
    }
    if tree.zeroed {
        return format!(
            "{n} {noun}; addresses hidden (dump read without root: use `sudo cat /proc/iomem`)"
        );
    }
    let want = IORESOURCE_SYSRAM | IORESOURCE_BUSY;
    let mut total: u128 = 0;
    let mut ranges = 0usize;
    // Pre-order with depths: skip everything below a counted node.
    let mut skip_below: Option<usize> = None;
    for (id, depth) in tree.walk(Tree::ROOT) {
        if let Some(d) = skip_below {
            if depth > d {
                continue;
            }
            skip_below = None;
        }
        if tree.get(id).flags & want == want {
            total += size_of(tree, id);
            ranges += 1;
            skip_below = Some(depth);
        }
    }
    if ranges == 0 {
        return format!("{n} {noun}; no System RAM");
    }
    let rnoun = if ranges == 1 { "range" } else { "ranges" };
    format!(
        "{n} {noun}; System RAM {} in {ranges} {rnoun}",
        fmt_size_wide(total)
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::parse::parse_dump;

    #[test]
    fn t0_view() {
        let d = parse_dump(crate::examples::T0.as_bytes(), None).unwrap();
        let s = render_tree(&d.tree, &Palette::plain(), &TreeOptions::default());
        let want = "\
00000000-00000fff      4 KiB  Reserved
00001000-0009fbff    635 KiB  System RAM
0009fc00-0009ffff      1 KiB  Reserved
000a0000-000bffff    128 KiB  PCI Bus 0000:00
000c0000-000c97ff     38 KiB  Video ROM
000c9800-000ca5ff    3.5 KiB  Adapter ROM
000f0000-000fffff     64 KiB  Reserved
000f0000-000fffff     64 KiB  └─ System ROM
00100000-9fffffff    2.5 GiB  System RAM
01000000-01e071d0   14.0 MiB  ├─ Kernel code
01e071d1-027dfdff    9.8 MiB  ├─ Kernel data
02dc6000-0305dfff    2.6 MiB  └─ Kernel bss
a0000000-afffffff    256 MiB  Persistent Memory (legacy)
b0000000-bffdffff  255.9 MiB  System RAM
bffe0000-bfffffff    128 KiB  Reserved
c0000000-febfffff   1004 MiB  PCI Bus 0000:00
16 resources; System RAM 2.7 GiB in 3 ranges
";
        assert_eq!(s, want);
    }

    #[test]
    fn guides_for_nested_lists() {
        let d = parse_dump(
            b"0-ff : a\n  0-f : b\n    0-1 : c\n  10-1f : d\n100-1ff : e\n",
            None,
        )
        .unwrap();
        let s = render_tree(
            &d.tree,
            &Palette::plain(),
            &TreeOptions {
                flags: false,
                no_summary: true,
            },
        );
        let names: Vec<&str> = s
            .lines()
            .filter_map(|l| l.split_once(" B  "))
            .map(|(_, n)| n)
            .collect();
        assert_eq!(names, vec!["a", "├─ b", "│  └─ c", "└─ d", "e"]);
    }

    #[test]
    fn control_bytes_do_not_reach_the_terminal() {
        let d = parse_dump(b"0-ff : a\x1b[31mred\n", None).unwrap();
        let s = render_tree(&d.tree, &Palette::plain(), &TreeOptions::default());
        assert!(s.contains("a\\x1b[31mred"), "{s}");
    }
}
