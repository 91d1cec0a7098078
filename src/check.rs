//! Anomalies of real dumps: invariants of kernel-semantics.md §1.2 that a dump breaks (issue 2).
//!
//! The kernel keeps every child inside its parent and siblings sorted and disjoint — as long as
//! all insertions go through `kernel/resource.c`. Real dumps still break this: PCI bridge
//! windows that are not assigned yet print as `00000000-00000000` wherever they sit in the list,
//! and some drivers link resources by hand. We load such trees as they are (the operations scan
//! unsorted lists linearly, like the kernel) and list what is off, each with its dump line.

use std::fmt;

use crate::tree::{NodeId, Tree};

/// Which invariant is broken.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize)]
pub enum AnomalyKind {
    /// Invariant 2: `parent.start <= child.start && child.end <= parent.end`.
    ChildOutsideParent,
    /// Invariant 3: siblings never overlap.
    OverlappingSiblings,
    /// Invariant 3: siblings are sorted by start.
    OutOfOrderSiblings,
    /// A `0-0` entry among real addresses (an unassigned resource, e.g. a bridge window).
    ZeroLength,
    /// Every address is 0: read without `CAP_SYS_ADMIN`; nothing else can be checked.
    ZeroedDump,
}

/// One broken invariant, naming the node(s) and their dump lines.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Anomaly {
    pub kind: AnomalyKind,
    /// The node at fault (the child, the later sibling, the 0-0 entry); the root for a zeroed
    /// dump.
    pub node: NodeId,
    /// The other party: the parent, or the earlier sibling.
    pub other: Option<NodeId>,
    pub line: Option<u32>,
    pub other_line: Option<u32>,
    /// A one-line explanation with ranges, names and lines.
    pub message: String,
}

impl fmt::Display for Anomaly {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

fn label(t: &Tree, id: NodeId) -> String {
    let r = t.get(id);
    let w = t.hex_width();
    let line = match r.line() {
        Some(l) => format!("line {l}: "),
        None => String::new(),
    };
    format!(
        "{line}{:0w$x}-{:0w$x} \"{}\"",
        r.start,
        r.end,
        t.name_lossy(id).escape_debug()
    )
}

/// Every broken invariant of `tree`, in dump order.
pub fn check(tree: &Tree) -> Vec<Anomaly> {
    let mut out = Vec::new();
    if tree.zeroed {
        let file = match tree.kind() {
            crate::tree::RootKind::Iomem => "/proc/iomem",
            crate::tree::RootKind::Ioport => "/proc/ioports",
        };
        out.push(Anomaly {
            kind: AnomalyKind::ZeroedDump,
            node: Tree::ROOT,
            other: None,
            line: None,
            other_line: None,
            message: format!(
                "every address is 0: the dump was read without root (CAP_SYS_ADMIN), so ranges \
                 cannot be checked; read a real one with `sudo cat {file}`"
            ),
        });
        return out;
    }
    let any_real = tree
        .descendants(Tree::ROOT)
        .any(|id| tree.get(id).start != 0 || tree.get(id).end != 0);
    let mk = |kind, node: NodeId, other: Option<NodeId>, message: String| Anomaly {
        kind,
        node,
        other,
        line: tree.get(node).line(),
        other_line: other.and_then(|o| tree.get(o).line()),
        message,
    };
    // Pre-order: each node is checked against its parent and its list predecessor(s).
    for id in tree.descendants(Tree::ROOT) {
        let r = tree.get(id);
        let zero = r.start == 0 && r.end == 0;
        if zero && any_real {
            out.push(mk(
                AnomalyKind::ZeroLength,
                id,
                None,
                format!(
                    "{} is a 0-0 entry among real addresses (an unassigned resource)",
                    label(tree, id)
                ),
            ));
        }
        if let Some(p) = tree.parent(id).filter(|&p| p != Tree::ROOT)
            && !tree.get(p).contains(r.start, r.end)
        {
            out.push(mk(
                AnomalyKind::ChildOutsideParent,
                id,
                Some(p),
                format!(
                    "{} lies outside its parent {}",
                    label(tree, id),
                    label(tree, p)
                ),
            ));
        }
        // Siblings: compare with the previous one in list order for order, and with the
        // earlier sibling reaching furthest for overlap.
        if let Some(prev) = tree.prev_sibling(id) {
            let pr = tree.get(prev);
            if r.start < pr.start {
                out.push(mk(
                    AnomalyKind::OutOfOrderSiblings,
                    id,
                    Some(prev),
                    format!(
                        "{} starts before its previous sibling {}",
                        label(tree, id),
                        label(tree, prev)
                    ),
                ));
            } else if let Some(reach) = furthest_earlier(tree, id)
                && r.start <= tree.get(reach).end
                && !zero
            {
                out.push(mk(
                    AnomalyKind::OverlappingSiblings,
                    id,
                    Some(reach),
                    format!(
                        "{} overlaps its sibling {}",
                        label(tree, id),
                        label(tree, reach)
                    ),
                ));
            }
        }
    }
    out
}

/// The earlier sibling (list order) with the highest end, ignoring 0-0 entries.
fn furthest_earlier(t: &Tree, id: NodeId) -> Option<NodeId> {
    // Walk back only while it can matter: in a sorted list the previous sibling decides.
    let mut best: Option<NodeId> = None;
    let mut cur = t.prev_sibling(id);
    let mut steps = 0;
    while let Some(c) = cur {
        let r = t.get(c);
        if !(r.start == 0 && r.end == 0) && best.is_none_or(|b| r.end > t.get(b).end) {
            best = Some(c);
        }
        steps += 1;
        // Bound the walk: long sorted lists would make this quadratic.
        if steps >= 8 {
            break;
        }
        cur = t.prev_sibling(c);
    }
    best
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::parse::parse_dump;

    fn kinds(text: &str) -> Vec<(AnomalyKind, Option<u32>, Option<u32>)> {
        let d = parse_dump(text.as_bytes(), None).unwrap();
        check(&d.tree)
            .into_iter()
            .map(|a| (a.kind, a.line, a.other_line))
            .collect()
    }

    #[test]
    fn a_sound_tree_has_none() {
        assert!(kinds(crate::examples::T0).is_empty());
    }

    #[test]
    fn zero_length_child_outside_and_out_of_order() {
        // The shape of x86_64-intel-desktop-64g-zero-len-pci-child.iomem.
        let got = kinds(
            "00000000-00000fff : Reserved\n000a0000-000fffff : Reserved\n  000f0000-000fffff : System ROM\n  00000000-00000000 : PCI Bus 0000:00\n",
        );
        assert_eq!(
            got,
            vec![
                (AnomalyKind::ZeroLength, Some(4), None),
                (AnomalyKind::ChildOutsideParent, Some(4), Some(2)),
                (AnomalyKind::OutOfOrderSiblings, Some(4), Some(3)),
            ]
        );
    }

    #[test]
    fn overlapping_siblings() {
        let got = kinds("f6000000-f6ffffff : 0000:22:00.0\nf6000000-f60effff : vesafb\n");
        assert_eq!(
            got,
            vec![(AnomalyKind::OverlappingSiblings, Some(2), Some(1))]
        );
    }

    #[test]
    fn zeroed_dump_is_one_anomaly() {
        let got = kinds("00000000-00000000 : Reserved\n00000000-00000000 : System RAM\n");
        assert_eq!(got, vec![(AnomalyKind::ZeroedDump, None, None)]);
    }
}
