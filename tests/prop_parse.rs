//! render → parse is the identity on well-formed trees (issue 5, part 2), and nothing recurses
//! on input depth (part 4: a 10,000-deep dump parses, renders, walks, diffs and drops on a
//! 256 KiB stack).

use iomem_sim::diff::diff;
use iomem_sim::parse::parse_dump;
use iomem_sim::render::render_iomem;
use iomem_sim::tree::flags::IORESOURCE_MEM;
use iomem_sim::tree::{Desc, NodeId, RootKind, Tree};
use proptest::prelude::*;

/// Names as drivers print them, including the awkward ones (spaces, ` : `, UTF-8, empty).
const NAMES: &[&str] = &[
    "System RAM",
    "Reserved",
    "PCI Bus 0000:00",
    "0000:00:02.0",
    "Kernel code",
    "dax0.0",
    "System RAM (kmem)",
    "Persistent Memory (legacy)",
    "",
    "a : b",
    "  leading spaces",
    "ünïcödé",
    "x",
];

/// A well-formed tree from a seed: children inside their parent, siblings sorted and
/// disjoint, identical-range nesting now and then, depth up to 8 (past the printed cap of 5).
fn gen_tree(seed: u64, max_nodes: usize) -> Tree {
    let mut x = seed | 1;
    let mut rnd = move |n: u64| {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        x % n.max(1)
    };
    let mut t = Tree::new_iomem(64);
    // Work list of (parent, lo, hi, depth): fill [lo, hi] with children of parent.
    let mut work: Vec<(NodeId, u64, u64, usize)> = vec![(Tree::ROOT, 0, 0xffff_ffff_ffff, 0)];
    let mut count = 0usize;
    // Pre-order matters only for readability; link order within a parent is address order.
    while let Some((p, lo, hi, depth)) = work.pop() {
        if count >= max_nodes || depth > 8 {
            continue;
        }
        let k = if p == Tree::ROOT { 1 + rnd(5) } else { rnd(5) };
        let mut cur = lo;
        for _ in 0..k {
            if cur > hi || count >= max_nodes {
                break;
            }
            let room = hi - cur;
            let gap = rnd(room / 4 + 1);
            let s = cur.saturating_add(gap);
            if s > hi {
                break;
            }
            let len = rnd((hi - s) / 2 + 1);
            let e = if rnd(6) == 0 { hi } else { s + len };
            let (s, e) = if rnd(8) == 0 { (lo, hi) } else { (s, e) };
            let name = NAMES[rnd(NAMES.len() as u64) as usize];
            let id = t.alloc(s, e, name.as_bytes(), IORESOURCE_MEM, Desc::None);
            t.link_before(p, id, None);
            count += 1;
            work.push((id, s, e, depth + 1));
            if e == u64::MAX || e >= hi {
                break;
            }
            cur = e + 1;
        }
    }
    t
}

fn shape(t: &Tree) -> Vec<(usize, u64, u64, Vec<u8>)> {
    t.walk(Tree::ROOT)
        .map(|(id, d)| (d, t.get(id).start, t.get(id).end, t.name_of(id).to_vec()))
        .collect()
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 300, ..ProptestConfig::default() })]

    #[test]
    fn render_then_parse_is_the_identity(seed in any::<u64>(), max in 1usize..120) {
        let t = gen_tree(seed, max);
        // An empty iomem dump is refused by design (every machine has System RAM).
        prop_assume!(!t.is_empty());
        let text = render_iomem(&t);
        let d = match parse_dump(&text, Some(RootKind::Iomem)) {
            Ok(d) => d,
            Err(e) => return Err(TestCaseError::fail(format!("{e}\n{}", String::from_utf8_lossy(&text)))),
        };
        prop_assert_eq!(shape(&d.tree), shape(&t), "{}", String::from_utf8_lossy(&text));
        prop_assert!(d.normalizations.is_empty(), "{:?}", d.normalizations);
        prop_assert_eq!(render_iomem(&d.tree), text);
        prop_assert!(diff(&d.tree, &d.tree).is_empty());
    }
}

/// 10,000 nested lines, each one level deeper (2 spaces per level, uncapped as a generator
/// would write it) and, separately, as the kernel prints them (capped at 10 spaces). Both parse
/// into a chain of depth 10,000 and everything after that is iterative: run on a 256 KiB stack,
/// where any recursion per level would overflow.
#[test]
fn depth_10000_needs_no_stack() {
    const DEPTH: usize = 10_000;
    let run = || {
        let mut uncapped = Vec::new();
        let mut capped = Vec::new();
        for d in 0..DEPTH {
            let (s, e) = (d as u64 * 16, 0xffff_ffff_u64 - d as u64 * 16);
            let line = format!("{s:08x}-{e:08x} : level {d}\n");
            uncapped.extend(std::iter::repeat_n(b' ', 2 * d));
            uncapped.extend_from_slice(line.as_bytes());
            capped.extend(std::iter::repeat_n(b' ', 2 * d.min(5)));
            capped.extend_from_slice(line.as_bytes());
        }
        let a = parse_dump(&uncapped, None).expect("uncapped deep dump parses");
        let b = parse_dump(&capped, None).expect("capped deep dump parses");
        let depth = |t: &Tree| t.walk(Tree::ROOT).map(|(_, d)| d).max();
        assert_eq!(depth(&a.tree), Some(DEPTH - 1));
        assert_eq!(depth(&b.tree), Some(DEPTH - 1));
        assert!(a.tree.same_as(&b.tree));
        assert_eq!(render_iomem(&a.tree), capped);
        assert!(diff(&a.tree, &b.tree).is_empty());
        let last = a.tree.descendants(Tree::ROOT).last().expect("nodes");
        assert_eq!(a.tree.depth(last), DEPTH - 1);
        assert_eq!(a.tree.path_to(0x1000).len(), 0x1000 / 16 + 1);
        drop(a);
        drop(b);
    };
    std::thread::Builder::new()
        .stack_size(256 * 1024)
        .spawn(run)
        .expect("spawn")
        .join()
        .expect("no stack overflow at depth 10,000");
}

/// The `parse_dump` fuzz target's checks, as a bounded stable test: a real dump with random
/// byte edits never panics the parser; when it parses, the rendering parses again, renders to
/// the same bytes, and (unless siblings overlap below the depth cap, or the CRLF rule applied —
/// tests/fuzz_regressions.rs) gives the same tree.
fn edited_dump() -> impl Strategy<Value = Vec<u8>> {
    const BASE: &[u8] =
        include_bytes!("../fixtures/qemu-pmem-legacy-kmem-system-ram-child-dhansen.iomem");
    let edit = (any::<prop::sample::Index>(), 0u8..4, any::<u8>());
    proptest::collection::vec(edit, 0..12).prop_map(|edits| {
        let mut b = BASE.to_vec();
        for (at, kind, byte) in edits {
            let i = at.index(b.len().max(1));
            match kind {
                0 if !b.is_empty() => {
                    b.remove(i.min(b.len() - 1));
                }
                1 => b.insert(i.min(b.len()), byte),
                2 if !b.is_empty() => {
                    let j = i.min(b.len() - 1);
                    b[j] = byte;
                }
                _ => b.insert(
                    i.min(b.len()),
                    b"\n  -: 0123456789abcdef\r"[usize::from(byte) % 22],
                ),
            }
        }
        b
    })
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 300, ..ProptestConfig::default() })]

    #[test]
    fn edited_real_dumps_never_panic_and_render_stably(bytes in edited_dump()) {
        let Ok(d) = parse_dump(&bytes, None) else { return Ok(()) };
        let text = render_iomem(&d.tree);
        let again = parse_dump(&text, Some(d.tree.kind()));
        prop_assert!(again.is_ok(), "rendering does not parse: {:?}", again.err().map(|e| e.to_string()));
        let again = again.expect("checked");
        if d.normalizations.iter().any(|n| n.contains("CRLF")) {
            return Ok(());
        }
        prop_assert_eq!(render_iomem(&again.tree), text);
        let ambiguous = d.tree.walk(Tree::ROOT).any(|(id, depth)| depth >= 3 && d.tree.is_unsorted(id));
        if !ambiguous {
            prop_assert!(again.tree.same_as(&d.tree));
        }
    }
}
