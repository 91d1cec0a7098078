//! Tree → text: `/proc/iomem` (`r_show`), the readable tree view, JSON (issue 2).
//!
//! Every renderer is a pure function returning bytes or a string; styling goes through
//! [`Palette`].

pub mod blocks;
pub mod diff;
pub mod json;
pub mod lsmem;
pub mod map;
pub mod palette;
pub mod svg;
pub mod tree;

pub use json::{render_json, render_json_text};
pub use palette::{Palette, Style};
pub use tree::{TreeOptions, render_tree};

use crate::parse::MAX_IORES_LEVEL;
use crate::tree::{NodeId, Tree};

/// Exactly what the kernel's `r_show` prints for `tree` (`kernel/resource.c`,
/// kernel-semantics.md §1.3): pre-order from the root's first child, 2 spaces per level capped
/// at `MAX_IORES_LEVEL` (10 spaces), lowercase hex zero-padded to at least 8 digits (4 when
/// the root ends below 0x10000), wider values in full, ` : `, the name bytes, `\n`.
pub fn render_iomem(tree: &Tree) -> Vec<u8> {
    render_iomem_below(tree, Tree::ROOT)
}

/// Like [`render_iomem`] for the subtree below `top` (its children at depth 0), with the
/// tree's width.
pub fn render_iomem_below(tree: &Tree, top: NodeId) -> Vec<u8> {
    let width = tree.hex_width();
    // Every row below `top`, at a typical row's length (untouched capacity costs nothing).
    let mut out = Vec::with_capacity(tree.rows_below(top) * 48);
    for (id, depth) in tree.walk(top) {
        let r = tree.get(id);
        let indent = 2 * depth.min(MAX_IORES_LEVEL);
        out.resize(out.len() + indent, b' ');
        push_hex(&mut out, r.start, width);
        out.push(b'-');
        push_hex(&mut out, r.end, width);
        out.extend_from_slice(b" : ");
        out.extend_from_slice(tree.name_of(id));
        out.push(b'\n');
    }
    out
}

/// [`render_iomem`] written to `w` in 64 KiB pieces: the text of a big tree is never held
/// whole (issue 14 item 8).
pub fn write_iomem(tree: &Tree, w: &mut dyn std::io::Write) -> std::io::Result<()> {
    let width = tree.hex_width();
    let mut out = Vec::with_capacity(64 * 1024 + 256);
    for (id, depth) in tree.walk(Tree::ROOT) {
        let r = tree.get(id);
        let indent = 2 * depth.min(MAX_IORES_LEVEL);
        out.resize(out.len() + indent, b' ');
        push_hex(&mut out, r.start, width);
        out.push(b'-');
        push_hex(&mut out, r.end, width);
        out.extend_from_slice(b" : ");
        out.extend_from_slice(tree.name_of(id));
        out.push(b'\n');
        if out.len() >= 64 * 1024 {
            w.write_all(&out)?;
            out.clear();
        }
    }
    w.write_all(&out)
}

/// `%0*llx`: lowercase hex, zero-padded to at least `width` digits. Two digits a table
/// lookup, written once into the output (a million-line dump prints two million of these).
#[inline]
pub fn push_hex(out: &mut Vec<u8>, v: u64, width: usize) {
    static PAIRS: [[u8; 2]; 256] = {
        const D: &[u8; 16] = b"0123456789abcdef";
        let mut t = [[0u8; 2]; 256];
        let mut i = 0;
        while i < 256 {
            t[i] = [D[i >> 4], D[i & 0xf]];
            i += 1;
        }
        t
    };
    let digits = ((64 - v.leading_zeros() as usize).div_ceil(4)).max(1);
    let n = digits.max(width);
    let mut buf = [b'0'; 32];
    // Fill 16 digits from the right; the zero padding is already there.
    let mut x = v;
    let mut i = 32;
    while i > 16 {
        i -= 2;
        buf[i..i + 2].copy_from_slice(&PAIRS[(x & 0xff) as usize]);
        x >>= 8;
    }
    if n <= 32 {
        out.extend_from_slice(&buf[32 - n..]);
    } else {
        out.resize(out.len() + (n - 16), b'0');
        out.extend_from_slice(&buf[16..]);
    }
}

/// `start-end` the way `/proc/iomem` prints it for this tree.
pub fn fmt_range(tree: &Tree, start: u64, end: u64) -> String {
    let w = tree.hex_width();
    format!("{start:0w$x}-{end:0w$x}")
}

/// Human size with binary units: exact multiples print whole (`128 MiB`), others with one
/// rounded decimal (`2.5 GiB`, `1.0 MiB` for one byte short of 1 MiB).
pub fn fmt_size(bytes: u64) -> String {
    fmt_size_wide(u128::from(bytes))
}

/// [`fmt_size`] for sizes up to 2^64 (the size of a full `[0, u64::MAX]` range).
pub fn fmt_size_wide(bytes: u128) -> String {
    const UNITS: [&str; 7] = ["B", "KiB", "MiB", "GiB", "TiB", "PiB", "EiB"];
    let mut i = 0;
    while i + 1 < UNITS.len() && bytes >= 1u128 << (10 * (i + 1)) {
        i += 1;
    }
    let unit = 1u128 << (10 * i);
    if bytes.is_multiple_of(unit) {
        return format!("{} {}", bytes / unit, UNITS[i]);
    }
    let mut tenths = (bytes * 10 + unit / 2) / unit;
    if tenths >= 10240 && i + 1 < UNITS.len() {
        i += 1;
        tenths = (bytes * 10 + (unit << 10) / 2) / (unit << 10);
    }
    format!("{}.{} {}", tenths / 10, tenths % 10, UNITS[i])
}

/// A node's size as a wide integer (`end - start + 1`; 2^64 for the full range, 0 if the range
/// is inverted).
pub fn size_of(tree: &Tree, id: NodeId) -> u128 {
    let r = tree.get(id);
    if r.end < r.start {
        0
    } else {
        u128::from(r.end - r.start) + 1
    }
}

#[cfg(test)]
mod push_hex_tests {
    #[test]
    fn push_hex_is_printf_0_star_llx() {
        // r_show: `%0*llx` with width 4 or 8; other widths for the general contract.
        let mut vals = vec![
            0u64,
            1,
            0xf,
            0x10,
            0xfff,
            0x1000,
            0xffff_ffff,
            0x1_0000_0000,
            u64::MAX,
        ];
        vals.extend((0..64).map(|b| 1u64 << b));
        vals.extend((0..64).map(|b| (1u64 << b).wrapping_sub(1)));
        vals.push(0x0123_4567_89ab_cdef);
        for &v in &vals {
            for w in [0usize, 1, 4, 8, 15, 16, 17, 31, 32, 33, 40] {
                let mut out = b"x".to_vec();
                super::push_hex(&mut out, v, w);
                assert_eq!(out, format!("x{v:0w$x}").into_bytes(), "{v:#x} width {w}");
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tree::{Desc, RootKind};

    #[test]
    fn sizes() {
        assert_eq!(fmt_size(0), "0 B");
        assert_eq!(fmt_size(1000), "1000 B");
        assert_eq!(fmt_size(4096), "4 KiB");
        assert_eq!(fmt_size(128 << 20), "128 MiB");
        assert_eq!(fmt_size(0x9fc00 - 0x1000), "635 KiB");
        assert_eq!(fmt_size((1 << 20) - 1), "1.0 MiB");
        assert_eq!(fmt_size(0x9fffffff - 0x100000 + 1), "2.5 GiB");
        assert_eq!(fmt_size_wide(1 << 64), "16 EiB");
    }

    #[test]
    fn widths_follow_the_root() {
        // SC-25: x86 ioports print 4 digits, iomem at least 8, wider values in full.
        let mut t = Tree::new(RootKind::Ioport, 0xffff);
        let a = t.alloc(0xcf8, 0xcff, b"PCI conf1", 0, Desc::None);
        t.link_before(Tree::ROOT, a, None);
        assert_eq!(render_iomem(&t), b"0cf8-0cff : PCI conf1\n");
        let mut t = Tree::new(RootKind::Ioport, 0xff_ffff);
        let a = t.alloc(0xcf8, 0xcff, b"PCI conf1", 0, Desc::None);
        t.link_before(Tree::ROOT, a, None);
        assert_eq!(render_iomem(&t), b"00000cf8-00000cff : PCI conf1\n");
        let mut t = Tree::new_iomem(64);
        let a = t.alloc(0x490000000, 0x50fffffff, b"CXL Window 0", 0, Desc::None);
        t.link_before(Tree::ROOT, a, None);
        assert_eq!(render_iomem(&t), b"490000000-50fffffff : CXL Window 0\n");
    }

    #[test]
    fn depth_is_capped_at_ten_spaces() {
        let mut t = Tree::new_iomem(64);
        let mut p = Tree::ROOT;
        for i in 0..7u64 {
            let id = t.alloc(
                0,
                0xffff_ffff >> i,
                format!("L{i}").as_bytes(),
                0,
                Desc::None,
            );
            t.link_before(p, id, None);
            p = id;
        }
        let text = String::from_utf8(render_iomem(&t)).unwrap();
        let indents: Vec<usize> = text
            .lines()
            .map(|l| l.len() - l.trim_start().len())
            .collect();
        assert_eq!(indents, vec![0, 2, 4, 6, 8, 10, 10]);
    }
}
