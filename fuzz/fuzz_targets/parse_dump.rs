//! Bytes → `parse_dump` → tree → `render_iomem`. Must not panic. When the bytes parse:
//! the rendering parses again and renders to the same bytes (rendering is a fixed point after
//! one round), and — unless the dump has overlapping or unsorted siblings below the printed
//! depth cap, where the kernel's own format is ambiguous — to the same tree. And the fast
//! path for kernel-printed dumps never changes an answer: the general parser alone gives the
//! same error, or the same tree, warnings and normalizations.
#![no_main]

use iomem_sim::parse::{parse_dump, parse_dump_general};
use iomem_sim::render::render_iomem;
use iomem_sim::tree::Tree;
use libfuzzer_sys::fuzz_target;

/// Some list whose children print at the capped indentation (depth ≥ 5) is not sorted and
/// disjoint: those lines attach by containment, which cannot recover overlapping siblings.
fn ambiguous_below_cap(t: &Tree) -> bool {
    t.walk(Tree::ROOT)
        .any(|(id, d)| d >= 3 && t.is_unsorted(id))
}

fuzz_target!(|data: &[u8]| {
    let parsed = parse_dump(data, None);
    match (&parsed, parse_dump_general(data, None)) {
        (Err(a), Err(b)) => assert_eq!(a, &b, "fast path changed the error"),
        (Ok(a), Ok(b)) => {
            assert!(a.tree.same_as(&b.tree), "fast path changed the tree");
            assert_eq!(
                (
                    &a.warnings,
                    &a.normalizations,
                    a.hex_width,
                    a.lines,
                    a.tree.zeroed
                ),
                (
                    &b.warnings,
                    &b.normalizations,
                    b.hex_width,
                    b.lines,
                    b.tree.zeroed
                ),
                "fast path changed what the parse reports"
            );
        }
        (a, b) => panic!(
            "fast path and general parser disagree: {:?} vs {:?}",
            a.is_ok(),
            b.is_ok()
        ),
    }
    let Ok(d) = parsed else {
        return;
    };
    let text = render_iomem(&d.tree);
    let again = match parse_dump(&text, Some(d.tree.kind())) {
        Ok(a) => a,
        Err(e) => panic!("rendering of a parsed dump does not parse: {e}"),
    };
    assert_eq!(render_iomem(&again.tree), text, "rendering is not stable");
    if !ambiguous_below_cap(&d.tree) {
        assert!(
            again.tree.same_as(&d.tree),
            "render → parse changed the tree"
        );
    }
});
