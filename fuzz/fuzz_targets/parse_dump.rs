//! Bytes → `parse_dump` → tree → `render_iomem`. Must not panic. When the bytes parse:
//! the rendering parses again and renders to the same bytes (rendering is a fixed point after
//! one round), and — unless the dump has overlapping or unsorted siblings below the printed
//! depth cap, where the kernel's own format is ambiguous — to the same tree. And the fast
//! path for kernel-printed dumps never changes an answer: the general parser alone gives the
//! same error, or the same tree, warnings and normalizations. Nor does the way a file is read
//! (`input::stream_lines` into `parse::KernelPrinted`, in small reads): when it takes the
//! bytes, its `Dump` is `parse_dump`'s, `Debug`-equal.
#![no_main]

use iomem_sim::input::{Streamed, stream_lines};
use iomem_sim::parse::{KernelPrinted, parse_dump, parse_dump_general};
use iomem_sim::render::render_iomem;
use iomem_sim::tree::Tree;
use libfuzzer_sys::fuzz_target;

/// Some list whose children print at the capped indentation (depth ≥ 5) is not sorted and
/// disjoint: those lines attach by containment, which cannot recover overlapping siblings.
fn ambiguous_below_cap(t: &Tree) -> bool {
    t.walk(Tree::ROOT)
        .any(|(id, d)| d >= 3 && t.is_unsorted(id))
}

/// Reads of at most 7 bytes: lines cut across reads.
struct Dribble<'a>(&'a [u8]);
impl std::io::Read for Dribble<'_> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = buf.len().min(self.0.len()).min(7);
        buf[..n].copy_from_slice(&self.0[..n]);
        self.0 = &self.0[n..];
        Ok(n)
    }
}

fuzz_target!(|data: &[u8]| {
    let parsed = parse_dump(data, None);
    let mut b = KernelPrinted::new(None, data.len() / 22 + 1, data.len());
    if let Streamed::Done { final_newline } = stream_lines(Dribble(data), |l| b.line(l))
        && let Some(streamed) = b.finish(final_newline)
    {
        match &parsed {
            Ok(d) => assert_eq!(format!("{streamed:?}"), format!("{d:?}"), "streamed parse differs"),
            Err(e) => panic!("streamed parse took what parse_dump refuses: {e}"),
        }
    }
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
