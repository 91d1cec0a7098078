//! Edge tests for `src/kernel/placement.rs` (`where SIZE`). Its contract (module doc) is the
//! hot-add path itself: every start it lists is accepted by `hotplug add START SIZE`
//! ([`Machine::add_memory`], whose rules are pinned against mm/memory_hotplug.c and
//! kernel/resource.c in the other edge tests) and no block-aligned start that is accepted is
//! missing. So the expectations here come from running that path, start by start, never from
//! `where`'s own output; the reasons and ranks come from the checks the module doc quotes.

use super::{add, blk, m, v};
use crate::kernel::Trace;
use crate::kernel::machine::{Config, Machine};
use crate::kernel::memory::BlockState;
use crate::kernel::placement::{Purpose, answer_text, memmap_word, where_hotplug, where_memmap};
use crate::testutil::{MEMB, RAM, build, t0};
use crate::tree::flags::*;
use crate::tree::{Desc, Tree};

const BS: u64 = 128 << 20;

fn accepted(mc: &Machine, start: u64, size: u64) -> bool {
    let mut c = mc.clone();
    add(&mut c, start, size, &mut Trace::new()).is_ok()
}

/// Every block-aligned start from 0 to `scan_end`: listed by `where` exactly when `hotplug add`
/// accepts it.
fn agrees(mc: &Machine, size: u64, scan_end: u64) {
    let ans = where_hotplug(mc, size, 0);
    let bs = mc.config.block_size;
    let mut s = 0;
    while s <= scan_end {
        let listed = ans
            .candidates
            .iter()
            .any(|c| c.start <= s && s <= c.last_start);
        assert_eq!(
            accepted(mc, s, size),
            listed,
            "{} size {size:#x} start {s:#x}: {ans:?}",
            mc.config.version
        );
        s += bs;
    }
    // The enumeration mirrors the path: nothing it proposes is refused by the trial.
    assert!(
        !ans.blockers.iter().any(|b| b.contains("looked free")),
        "{ans:?}"
    );
    for c in &ans.candidates {
        assert_eq!(c.size, size);
        assert!(accepted(mc, c.start, size) && accepted(mc, c.last_start, size));
        assert_eq!(c.start % bs, 0);
        assert_eq!(c.last_start % bs, 0);
    }
}

/// T0 with more shapes: a non-BUSY window holding a BUSY device and a non-BUSY child (nested
/// twice), a hot-added block already present, a BUSY range that is not block-aligned and one
/// that starts one byte before a block boundary and ends one byte after it, and memory blocks
/// present where no resource is.
fn shaped(ver: &str) -> Machine {
    let mut mc = m(ver);
    let t = &mut mc.tree;
    let win = t.alloc(
        0x200000000,
        0x2ffffffff,
        b"PCI Bus 0000:40",
        IORESOURCE_MEM | IORESOURCE_WINDOW,
        Desc::None,
    );
    t.link_sorted(Tree::ROOT, win);
    let dev = t.alloc(0x208000000, 0x20fffffff, b"0000:40:00.0", MEMB, Desc::None);
    t.link_sorted(win, dev);
    let sub = t.alloc(
        0x240000000,
        0x27fffffff,
        b"PCI Bus 0000:41",
        IORESOURCE_MEM | IORESOURCE_WINDOW,
        Desc::None,
    );
    t.link_sorted(win, sub);
    let odd = t.alloc(0x250000000, 0x250000fff, b"0000:41:00.0", MEMB, Desc::None);
    t.link_sorted(sub, odd);
    let busy = t.alloc(0x300001000, 0x300001fff, b"ioapic", MEMB, Desc::None);
    t.link_sorted(Tree::ROOT, busy);
    // Two bytes across a block boundary: the last byte of one block, the first of the next.
    let edge = t.alloc(0x37fffffff, 0x380000000, b"edge", MEMB, Desc::None);
    t.link_sorted(Tree::ROOT, edge);
    add(&mut mc, 0x340000000, BS, &mut Trace::new()).unwrap();
    // Present memory blocks with no resource over them (sections left present: the state
    // sparse_add_section refuses, -EEXIST): one alone, two side by side at the start of a
    // free run, one inside the nested window.
    for addr in [0x3c0000000u64, 0x3d0000000, 0x3d8000000, 0x260000000] {
        mc.blocks.insert(blk(addr / BS, BlockState::Offline, None));
    }
    mc
}

/// `where` lists exactly the starts `hotplug add` accepts, below 16 GiB, on T0 and on the shaped
/// tree, on both sides of v5.1 (`__request_region` descends into non-BUSY conflicts) and of
/// v5.12, for sizes of one, two and three blocks.
#[test]
fn where_lists_exactly_the_accepted_starts() {
    for ver in ["5.0", "5.1", "6.1"] {
        for blocks in [1, 2, 3] {
            agrees(&m(ver), blocks * BS, 0x3ffffffff);
            agrees(&shaped(ver), blocks * BS, 0x3ffffffff);
        }
    }
}

/// The rank and reason follow the path that would take the range (module doc): at the top level
/// `__request_region` (v5.1+) or `request_resource_conflict` (≤ v5.0) claims it, rank 0 from
/// 4 GiB up (`start >= 1 << 32`) and 2 below (the PCI hole); nested under a non-BUSY
/// persistent-memory, Soft Reserved or CXL window resource rank 1 (by descriptor or by name);
/// under any other non-BUSY resource rank 3.
#[test]
fn ranks_and_reasons_by_parent() {
    let nonbusy = IORESOURCE_MEM;
    let t = build(&[
        (0, 0x1000, 0x3fffffff, "System RAM", RAM, Desc::None),
        (
            0,
            0x80000000,
            0x87ffffff,
            "hmem0",
            nonbusy,
            Desc::SoftReserved,
        ),
        (
            0,
            0x88000000,
            0x8fffffff,
            "Soft Reserved",
            nonbusy,
            Desc::None,
        ),
        (
            0,
            0x90000000,
            0x97ffffff,
            "CXL Window 0",
            nonbusy,
            Desc::None,
        ),
        (
            0,
            0x98000000,
            0x9fffffff,
            "Persistent Memory",
            nonbusy,
            Desc::None,
        ),
        (
            0,
            0xa0000000,
            0xa7ffffff,
            "nfit0",
            nonbusy,
            Desc::PersistentMemory,
        ),
        (0, 0xa8000000, 0xafffffff, "cxl0", nonbusy, Desc::Cxl),
        (
            0,
            0xb0000000,
            0xb7ffffff,
            "PCI Bus 0000:00",
            nonbusy,
            Desc::None,
        ),
        (0, 0xb8000000, 0xffffffff, "Reserved", MEMB, Desc::Reserved),
        (
            0,
            0x100000000,
            0x13fffffff,
            "PCI Bus 0000:80",
            MEMB,
            Desc::None,
        ),
    ]);
    let mc = Machine::boot(
        t,
        Config {
            version: v("6.1"),
            ..Config::default()
        },
    );
    let a = where_hotplug(&mc, BS, 0);
    let got: Vec<(u64, u8)> = a.candidates.iter().map(|c| (c.start, c.rank)).collect();
    assert_eq!(
        got,
        [
            (0x140000000, 0),
            (0x80000000, 1),
            (0x88000000, 1),
            (0x90000000, 1),
            (0x98000000, 1),
            (0xa0000000, 1),
            (0xa8000000, 1),
            (0x40000000, 2),
            (0xb0000000, 3),
        ],
        "best first: rank, then start"
    );
    let by = |s: u64| a.candidates.iter().find(|c| c.start == s).unwrap();
    assert!(by(0x140000000).reason.starts_with(
        "free at the top level above 4 GiB: __request_region claims it at the top level"
    ));
    assert!(by(0x40000000).reason.contains("below 4 GiB"));
    assert!(by(0x40000000).reason.contains("PCI hole"));
    assert_eq!(by(0x40000000).last_start, 0x78000000);
    assert!(by(0xb0000000).reason.contains("rarely what you want"));
    assert!(!by(0x80000000).reason.contains("rarely what you want"));
    assert!(
        by(0x80000000)
            .reason
            .starts_with("inside non-BUSY \"hmem0\" [80000000-87ffffff]")
    );
    assert_eq!(
        by(0xa8000000).parent.as_ref().map(|p| p.name.as_str()),
        Some("cxl0")
    );
    assert_eq!(by(0x140000000).parent, None);
    // ≤ v5.0: only the top level, in request_resource_conflict's words.
    let mut old = mc.clone();
    old.config.version = v("5.0");
    let a = where_hotplug(&old, BS, 0);
    let got: Vec<(u64, u8)> = a.candidates.iter().map(|c| (c.start, c.rank)).collect();
    assert_eq!(got, [(0x140000000, 0), (0x40000000, 2)]);
    assert!(
        a.candidates[0]
            .reason
            .contains("request_resource_conflict finds no top-level conflict")
    );
}

/// A stretch starting exactly at 4 GiB is "above 4 GiB" (`start >= 1 << 32`). On T0 (v6.1) the
/// largest free block-aligned stretch is the top one, from 4 GiB (the first block boundary
/// after the PCI window's end febfffff) to PHYSMEM_END 2^46 − 1.
#[test]
fn a_stretch_at_exactly_4g_is_above_4g() {
    let a = where_hotplug(&m("6.1"), BS, 0);
    let c = a
        .candidates
        .iter()
        .find(|c| c.start == 0x100000000)
        .unwrap();
    assert_eq!(c.rank, 0);
    assert!(c.reason.contains("above 4 GiB"));
    assert_eq!(a.largest, Some((0x100000000, (1 << 46) - (1 << 32), None)));
}

/// `check_hotplug_memory_range`: `if (!size || !IS_ALIGNED(size, block_size))` → -EINVAL; the
/// blocker names the size rounded up to a block (`ALIGN(size, block_size)`, one block for 0).
/// add_memory_resource's node check (`nid` must be a possible node, MAX_NUMNODES = 1 <<
/// CONFIG_NODES_SHIFT = 1024 on the Debian x86_64 kernels): node 1024 is refused before any
/// trial, node 1023 works and its command says so.
#[test]
fn size_and_node_blockers() {
    let mc = m("6.1");
    for (size, up) in [(0, "128M"), (100 << 20, "128M"), (BS + 1, "256M")] {
        let a = where_hotplug(&mc, size, 0);
        assert!(a.candidates.is_empty());
        assert_eq!(a.blockers.len(), 1, "{a:?}");
        assert!(a.blockers[0].starts_with("check_hotplug_memory_range"));
        assert!(
            a.blockers[0].ends_with(&format!("(round it up to {up})")),
            "{a:?}"
        );
    }
    let a = where_hotplug(&mc, BS, 1024);
    assert!(a.candidates.is_empty());
    assert_eq!(
        a.blockers,
        ["add_memory_resource: node 1024 is not a possible node"]
    );
    let a = where_hotplug(&mc, BS, 1023);
    let c = &a.candidates[0];
    assert_eq!(c.command, "hotplug add 100000000 128M --nid 1023");
    assert!(accepted_on_node(&mc, c.start, BS, 1023));
}

fn accepted_on_node(mc: &Machine, start: u64, size: u64, nid: i32) -> bool {
    let mut c = mc.clone();
    c.add_memory(
        nid,
        start,
        size,
        &crate::kernel::machine::AddOptions::default(),
        &mut Trace::new(),
    )
    .is_ok()
}

/// `mhp_range_allowed` (v5.12+): `start + size - 1 <= PHYSMEM_END` (2^46 − 1 without LA57),
/// under an iomem root that reaches 2^52 − 1 (`--phys-bits 52`). v5.11 has no such check: the
/// last start of the top stretch ends at the root's end. When nothing fits, the blocker names
/// the limit only if it cut a stretch (a root ending at 2^46 − 1 is not cut by it).
#[test]
fn physmem_end_limits_the_top_stretch_from_5_12() {
    let wide = |ver: &str| {
        Machine::boot(
            t0(),
            Config {
                version: v(ver),
                phys_bits: 52,
                ..Config::default()
            },
        )
    };
    let top = |mc: &Machine| {
        let a = where_hotplug(mc, BS, 0);
        let c = a
            .candidates
            .iter()
            .find(|c| c.start == 0x100000000)
            .unwrap();
        c.last_start + c.size - 1
    };
    assert_eq!(top(&wide("5.11")), (1 << 52) - 1);
    assert_eq!(top(&wide("5.12")), (1 << 46) - 1);
    // 2^46 bytes do not fit below PHYSMEM_END.
    let a = where_hotplug(&wide("6.1"), 1 << 46, 0);
    assert!(a.candidates.is_empty());
    assert!(
        a.blockers.iter().any(|b| b
            .starts_with("mhp_range_allowed: nothing may end above PHYSMEM_END 0x3fffffffffff")),
        "{a:?}"
    );
    assert!(!a.blockers.iter().any(|b| b.contains("iomem root ends")));
    let a = where_hotplug(&m("6.1"), 1 << 46, 0);
    assert!(
        !a.blockers.iter().any(|b| b.contains("mhp_range_allowed")),
        "{a:?}"
    );
    // Larger than the whole root: the root's end is a blocker too.
    let a = where_hotplug(&m("6.1"), 1 << 47, 0);
    assert!(
        a.blockers
            .iter()
            .any(|b| b == "the iomem root ends at 0x3fffffffffff (--phys-bits)"),
        "{a:?}"
    );
    assert!(!a.blockers.iter().any(|b| b.starts_with("≤ v5.0")));
    let a = where_hotplug(&m("5.0"), 1 << 47, 0);
    assert!(
        a.blockers
            .iter()
            .any(|b| b.starts_with("≤ v5.0 request_resource_conflict"))
    );
}

/// `--for memmap`: boot System RAM only (top-level `System RAM`, IORESOURCE_SYSTEM_RAM, not
/// driver-managed, not hot-added: no `/sys/firmware/memmap` entry of `firmware_map_add_hotplug`),
/// between its children, the first MiB kept out, whole blocks; rank 0 from 4 GiB up. A stretch
/// with no whole block says so.
#[test]
fn memmap_takes_boot_ram_only() {
    let t = build(&[
        (0, 0x1000, 0x9fbff, "System RAM", RAM, Desc::None),
        (0, 0x100000, 0x7ffffff, "System RAM", RAM, Desc::None),
        (0, 0x8000000, 0xfffffff, "System RAM", RAM, Desc::None),
        (0, 0x100000000, 0x10fffffff, "System RAM", RAM, Desc::None),
        (
            0,
            0x110000000,
            0x11fffffff,
            "System RAM (kmem)",
            RAM | IORESOURCE_SYSRAM_DRIVER_MANAGED,
            Desc::None,
        ),
        (
            0,
            0x120000000,
            0x12fffffff,
            "System RAM",
            RAM | IORESOURCE_SYSRAM_DRIVER_MANAGED,
            Desc::None,
        ),
        (0, 0x130000000, 0x13fffffff, "System RAM", MEMB, Desc::None),
        (
            0,
            0x140000000,
            0x14fffffff,
            "System RAM (virtio_mem)",
            RAM,
            Desc::None,
        ),
    ]);
    let mut mc = Machine::boot(
        t,
        Config {
            version: v("6.1"),
            ..Config::default()
        },
    );
    add(&mut mc, 0x200000000, BS, &mut Trace::new()).unwrap();
    let a = where_memmap(&mc, BS);
    let got: Vec<(u64, u64, u8)> = a
        .candidates
        .iter()
        .map(|c| (c.start, c.last_start, c.rank))
        .collect();
    assert_eq!(
        got,
        [(0x100000000, 0x108000000, 0), (0x8000000, 0x8000000, 1)]
    );
    let c = &a.candidates[0];
    assert_eq!(c.command, "memmap=128M!0x100000000");
    assert!(
        a.candidates[1]
            .reason
            .starts_with("boot System RAM [8000000-fffffff]:")
    );
    assert!(!c.reason.contains("clear of its children"), "{}", c.reason);
    assert!(
        c.reason
            .starts_with("boot System RAM [100000000-10fffffff]:")
    );
    assert_eq!(
        a.largest.as_ref().map(|l| (l.0, l.1)),
        Some((0x100000000, 0x10000000))
    );
    // An exact fit: one start.
    let a = where_memmap(&mc, 2 * BS);
    let got: Vec<(u64, u64)> = a
        .candidates
        .iter()
        .map(|c| (c.start, c.last_start))
        .collect();
    assert_eq!(got, [(0x100000000, 0x100000000)]);
    // Nothing of 512 MiB: the largest stretch (256 MiB, after a 128 MiB one) is named.
    let a = where_memmap(&mc, 4 * BS);
    assert!(a.candidates.is_empty());
    assert_eq!(a.blockers.len(), 1);
    assert!(
        a.blockers[0].contains("is 256 MiB at 100000000-10fffffff, smaller than 512 MiB"),
        "{a:?}"
    );
    // Only RAM below 128 MiB: no block-aligned stretch at all.
    let t = build(&[
        (0, 0x1000, 0x9fbff, "System RAM", RAM, Desc::None),
        (0, 0x100000, 0x7ffffff, "System RAM", RAM, Desc::None),
    ]);
    let small = Machine::boot(t, Config::default());
    let a = where_memmap(&small, BS);
    assert_eq!(a.largest, None);
    assert_eq!(
        a.blockers,
        ["no block-aligned stretch of boot System RAM above 1 MiB"]
    );
    for size in [0, BS / 2] {
        let a = where_memmap(&mc, size);
        assert!(a.candidates.is_empty() && a.largest.is_none());
        assert!(a.blockers[0].starts_with("SIZE "), "{a:?}");
    }
}

/// The first MiB stays out of a memmap= stretch (real-mode trampoline, BIOS data), even with
/// blocks small enough to fit below it; T0's low RAM with children yields a stretch "clear of
/// its children", below 4 GiB rank 1.
#[test]
fn memmap_keeps_the_first_mib_and_names_the_children() {
    let t = build(&[
        (0, 0x1000, 0x9fbff, "System RAM", RAM, Desc::None),
        (0, 0x100000, 0x3fffffff, "System RAM", RAM, Desc::None),
        (1, 0x1000000, 0x1ffffff, "Kernel code", RAM, Desc::None),
    ]);
    let mc = Machine::boot(
        t,
        Config {
            block_size: 64 << 10,
            ..Config::default()
        },
    );
    let a = where_memmap(&mc, 64 << 10);
    assert!(a.candidates.iter().all(|c| c.start >= 1 << 20), "{a:?}");
    let got: Vec<(u64, u64, u8)> = a
        .candidates
        .iter()
        .map(|c| (c.start, c.last_start + c.size - 1, c.rank))
        .collect();
    assert_eq!(got, [(0x100000, 0xffffff, 1), (0x2000000, 0x3fffffff, 1)]);
    assert!(a.candidates[0].reason.contains("clear of its children"));
    assert_eq!(memmap_word(0x100000000, 4 << 30), "memmap=4G!0x100000000");
}

fn cand(start: u64, last_start: u64, size: u64) -> crate::kernel::placement::Candidate {
    crate::kernel::placement::Candidate {
        start,
        last_start,
        size,
        parent: None,
        reason: "why".into(),
        command: format!("hotplug add {start:x} 128M"),
        rank: 0,
    }
}

/// `answer_text` (its doc: the first `count` candidates, or what blocks SIZE): the header names
/// the version and, from v5.12, mhp_range_allowed's upper end; each shown candidate is
/// numbered from 1 and spans `start` to `last_start + size - 1`; a stretch with one start
/// says so; the rest are counted.
#[test]
fn answer_text_shows_count_candidates_and_counts_the_rest() {
    use crate::kernel::placement::Answer;
    let mc = m("6.1");
    let ans = Answer {
        candidates: vec![
            cand(0x100000000, 0x100000000, BS),
            cand(0x200000000, 0x280000000, BS),
            cand(0x300000000, 0x300000000, BS),
        ],
        blockers: vec![],
        largest: None,
    };
    let s = answer_text(&mc, Purpose::Hotplug, BS, 2, &ans);
    let wide = crate::render::fmt_size(0x88000000);
    assert_eq!(
        s,
        format!(
            "where 128 MiB can be hot-added on Linux 6.1 (block size 128 MiB, iomem root ends 3fffffffffff, mhp_range_allowed up to 3fffffffffff):\n\
         \x20 1. 100000000-107ffffff (128 MiB free): exactly this start\n      under the iomem root (top level)\n      why\n      hotplug add 100000000 128M\n\
         \x20 2. 200000000-287ffffff ({wide} free): any 128M-aligned START from 200000000 to 280000000\n      under the iomem root (top level)\n      why\n      hotplug add 200000000 128M\n\
         \x20 (1 more; --count 3 shows them)\n"
        )
    );
    let s = answer_text(&mc, Purpose::Hotplug, BS, 3, &ans);
    assert!(
        s.contains("  3. 300000000-307ffffff") && !s.contains("more;"),
        "{s}"
    );
    let old = m("5.11");
    let s = answer_text(&old, Purpose::Hotplug, BS, 3, &ans);
    assert!(!s.contains("mhp_range_allowed"), "{s}");
    let none = Answer {
        candidates: vec![],
        blockers: vec!["b1".into(), "b2".into()],
        largest: None,
    };
    let s = answer_text(&mc, Purpose::Memmap, BS, 3, &none);
    assert_eq!(
        s,
        "where memmap=128M!START can carve legacy pmem out of boot System RAM (x86 e820; block size 128 MiB):\n  nothing: 128 MiB fits nowhere\n  - b1\n  - b2\n"
    );
    assert_eq!(Purpose::Hotplug.word(), "hotplug");
    assert_eq!(Purpose::Memmap.word(), "memmap");
}

/// The trial is the last word: a stretch the enumeration finds free but `hotplug add` refuses
/// is no candidate, and the refusal is a blocker. Here the simulator's own limit on memory
/// blocks made in one go (`MAX_BLOCKS`, -ENOMEM in add_memory_resource) refuses 2^22 + 1
/// blocks, which fit under a 2^52 root on v5.11 (no mhp_range_allowed).
#[test]
fn a_stretch_the_trial_refuses_is_a_blocker() {
    use crate::kernel::machine::MAX_BLOCKS;
    let mc = Machine::boot(
        t0(),
        Config {
            version: v("5.11"),
            phys_bits: 52,
            ..Config::default()
        },
    );
    let size = (MAX_BLOCKS + 1) * BS;
    assert!(!accepted(&mc, 0x100000000, size));
    let a = where_hotplug(&mc, size, 0);
    assert!(a.candidates.is_empty());
    assert!(
        a.blockers.iter().any(|b| b
            .starts_with("[100000000-fffffffffffff] looked free but hotplug add refuses it:")
            && b.contains("beyond the simulator's limit")),
        "{a:?}"
    );
}

/// SIZE = the root's end in bytes still fits in the root (`[0, end]` holds end + 1 bytes): the
/// root is a blocker only for a larger SIZE. (A 1-byte block size makes such a SIZE a valid
/// multiple; the empty tree keeps the machine small.)
#[test]
fn a_size_equal_to_the_root_end_is_not_blocked_by_the_root() {
    let mc = Machine::boot(
        build(&[]),
        Config {
            block_size: 1,
            ..Config::default()
        },
    );
    let end = mc.tree.get(Tree::ROOT).end;
    assert_eq!(end, (1 << 46) - 1);
    let a = where_hotplug(&mc, end, 0);
    assert!(
        !a.blockers.iter().any(|b| b.contains("iomem root ends")),
        "{a:?}"
    );
    let a = where_hotplug(&mc, end + 1, 0);
    assert!(
        a.blockers.iter().any(|b| b.contains("iomem root ends")),
        "{a:?}"
    );
}

/// One-byte stretches with a one-byte block size (any power of two is a block size the
/// machine accepts): a one-byte non-BUSY resource holds a one-byte free stretch that v5.1+
/// nests in (`__request_region` descends into it), and a one-byte gap between the children
/// of boot RAM, or a one-byte boot RAM range, is a memmap= place. `hotplug add` agrees.
#[test]
fn one_byte_stretches_with_one_byte_blocks() {
    let mc = Machine::boot(
        build(&[
            (0, 0x1000, 0x1000, "x", IORESOURCE_MEM, Desc::None),
            (0, 0x100000, 0x100fff, "System RAM", RAM, Desc::None),
            (1, 0x100000, 0x1007ff, "Kernel code", RAM, Desc::None),
            (1, 0x100801, 0x100fff, "Kernel data", RAM, Desc::None),
            (0, 0x200000, 0x200000, "System RAM", RAM, Desc::None),
        ]),
        Config {
            version: v("6.1"),
            block_size: 1,
            ..Config::default()
        },
    );
    let a = where_hotplug(&mc, 1, 0);
    let x = a
        .candidates
        .iter()
        .find(|c| c.start == 0x1000)
        .expect("the one byte of x");
    assert_eq!(x.last_start, 0x1000);
    assert_eq!(x.parent.as_ref().map(|p| p.name.as_str()), Some("x"));
    assert!(accepted(&mc, 0x1000, 1));
    let a = where_memmap(&mc, 1);
    let got: Vec<(u64, u64)> = a
        .candidates
        .iter()
        .map(|c| (c.start, c.last_start))
        .collect();
    assert_eq!(got, [(0x100800, 0x100800), (0x200000, 0x200000)]);
}

/// The only free block-aligned stretch holds a present memory block (`sparse_add_section`:
/// -EEXIST): nothing fits and no stretch is free at all. Root of 2^28 bytes (two blocks), the
/// first taken by a BUSY range.
#[test]
fn a_stretch_whose_only_block_is_present_is_not_free() {
    let mut mc = Machine::boot(
        build(&[(0, 0, 0x7ffffff, "Reserved", MEMB, Desc::Reserved)]),
        Config {
            phys_bits: 28,
            ..Config::default()
        },
    );
    mc.blocks.insert(blk(1, BlockState::Offline, None));
    assert!(!accepted(&mc, 0x8000000, BS));
    let a = where_hotplug(&mc, BS, 0);
    assert!(a.candidates.is_empty());
    assert_eq!(a.largest, None);
    assert_eq!(
        a.blockers,
        [
            "no free block-aligned stretch of 128 MiB at all (every 128 MiB block is taken or holds a memory block)"
        ]
    );
}
