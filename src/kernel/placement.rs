//! `where SIZE`: where the simulated kernel would accept `SIZE` bytes of memory (issue 11).
//!
//! Not a kernel function: a search *over* the kernel functions. For `--for hotplug` a cheap
//! enumeration of free stretches proposes candidates, and each one is then **trial-run** through
//! the very path `hotplug add` takes ([`Machine::add_memory`] on a clone of the machine), so the
//! answer can never disagree with the command it prints. The enumeration mirrors the checks of
//! that path (`mm/memory_hotplug.c` and `kernel/resource.c`, read in linux-source-5.10, -6.1
//! and -6.12):
//!
//! * `check_hotplug_memory_range`: `start` and `size` multiples of
//!   `memory_block_size_bytes()` (`if (!size || !IS_ALIGNED(start, block_size) ||
//!   !IS_ALIGNED(size, block_size))` → -EINVAL);
//! * `mhp_range_allowed` (v5.12+): `start + size - 1 <= PHYSMEM_END` (x86_64
//!   `arch_get_mappable_range` is `[0, (1 << MAX_PHYSMEM_BITS) - 1]`), and the iomem root's
//!   end (`iomem_resource.end`, lowered to `2^x86_phys_bits - 1` by `setup_arch`);
//! * `register_memory_resource`: ≤ v5.0 `request_resource_conflict(&iomem_resource, res)` —
//!   a free stretch **between top-level resources** only; v5.1+ `__request_region`, whose
//!   loop `if (!(conflict->flags & IORESOURCE_BUSY)) { parent = conflict; continue; }`
//!   descends into a non-BUSY conflict, so a free stretch between the children of any
//!   non-BUSY resource (recursively) also works — but only when the whole range lies in that
//!   one stretch (`__request_resource` returns the parent itself as the conflict when the
//!   range leaves it);
//! * `add_memory_resource` → `arch_add_memory` → `sparse_add_section`: no memory block may
//!   already exist in the range (a boot block that covers a partly-RAM 128 MiB section makes
//!   the whole section unusable: -EEXIST).
//!
//! `--for memmap`: the stretches of boot System RAM that `memmap=SIZE!START`
//! (`parse_memmap_one`, arch/x86/kernel/e820.c, 6.1: `e820__range_add(start_at, mem_size,
//! E820_TYPE_PRAM)`) could turn into `Persistent Memory (legacy)`. `e820__update_table` lets
//! the higher e820 type win an overlap, so PRAM (12) takes RAM (1) over wherever it lands; the
//! useful places are the ones that keep the kernel image and other boot claims (the children
//! of System RAM: `Kernel code`, `Kernel data`, `Kernel bss`, `Crash kernel`, …) out of it, and
//! that are block-aligned so `dax kmem` can later hand the namespace to the page allocator
//! (kmem's probe rounds the range in to memory blocks).

use super::machine::{AddOptions, Machine};
use super::{KernelError, ResRef, Trace};
use crate::command::fmt_size_word;
use crate::render::fmt_size;
use crate::tree::flags::*;
use crate::tree::{NodeId, Tree};

/// What the memory is for.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize, clap::ValueEnum)]
pub enum Purpose {
    /// `hotplug add START SIZE` (`add_memory`).
    Hotplug,
    /// A `memmap=SIZE!START` boot option.
    Memmap,
}

impl Purpose {
    pub fn word(self) -> &'static str {
        match self {
            Purpose::Hotplug => "hotplug",
            Purpose::Memmap => "memmap",
        }
    }
}

/// One place: every block-aligned start from `start` to `last_start` works.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct Candidate {
    /// The first (lowest) start that works: the one in [`Candidate::command`].
    pub start: u64,
    /// The last start that works in this stretch.
    pub last_start: u64,
    pub size: u64,
    /// The resource the new one would nest under; `None` = the iomem root (top level).
    pub parent: Option<ResRef>,
    /// Why it works, in kernel terms.
    pub reason: String,
    /// The exact command (or kernel command line word) to use it.
    pub command: String,
    /// Lower is better.
    pub rank: u8,
}

/// The answer of `where`.
#[derive(Clone, Debug, Default, serde::Serialize)]
pub struct Answer {
    /// Best first.
    pub candidates: Vec<Candidate>,
    /// Why nothing (or less than hoped) fits: the limits that bite.
    pub blockers: Vec<String>,
    /// The largest free, block-aligned stretch found (start, length, parent), if any.
    pub largest: Option<(u64, u64, Option<ResRef>)>,
}

/// A free stretch `[lo, hi]` directly below `parent`.
#[derive(Clone, Copy, Debug)]
struct Slot {
    lo: u64,
    hi: u64,
    parent: NodeId,
}

/// Free stretches a `register_memory_resource` claim can land in: the gaps between the
/// children of `parent`, and (when `descend`, v5.1+) recursively the gaps inside every
/// non-BUSY child (`__request_region` descends into a non-BUSY conflict).
fn free_slots(tree: &Tree, parent: NodeId, descend: bool, out: &mut Vec<Slot>) {
    let r = tree.get(parent);
    if r.end < r.start {
        return;
    }
    let mut kids: Vec<NodeId> = tree.children(parent).collect();
    kids.sort_by_key(|&c| (tree.get(c).start, tree.get(c).end));
    let mut cur = u128::from(r.start);
    for c in kids {
        let cr = tree.get(c);
        if u128::from(cr.start) > cur {
            out.push(Slot {
                lo: cur as u64,
                hi: cr.start - 1,
                parent,
            });
        }
        cur = cur.max(u128::from(cr.end) + 1);
        if descend && !cr.is_busy() && cr.start <= cr.end {
            free_slots(tree, c, descend, out);
        }
    }
    if cur <= u128::from(r.end) {
        out.push(Slot {
            lo: cur as u64,
            hi: r.end,
            parent,
        });
    }
}

fn round_up(x: u64, a: u64) -> Option<u64> {
    x.checked_add(a - 1).map(|v| v / a * a)
}

/// Runs of block-aligned `[lo, hi]` stretches inside `slot` with no existing memory block
/// (`sparse_add_section` refuses a present section): `(first_addr, last_addr)` inclusive.
fn block_free_runs(m: &Machine, lo: u64, hi: u64) -> Vec<(u64, u64)> {
    let bs = m.config.block_size;
    let Some(first) = round_up(lo, bs).map(|a| a / bs) else {
        return Vec::new();
    };
    // Last whole block inside [lo, hi].
    let last_excl = (u128::from(hi) + 1) / u128::from(bs);
    if u128::from(first) >= last_excl {
        return Vec::new();
    }
    let last = (last_excl - 1) as u64;
    let mut runs = Vec::new();
    let mut run_start = first;
    for b in m.blocks.range(first, last) {
        if b.id > run_start {
            runs.push((run_start, b.id - 1));
        }
        run_start = b.id + 1;
    }
    if run_start <= last {
        runs.push((run_start, last));
    }
    runs.into_iter()
        .map(|(a, b)| {
            (
                a * bs,
                (u128::from(b) * u128::from(bs) + u128::from(bs) - 1) as u64,
            )
        })
        .collect()
}

/// Why a top-level place or a nested one is (or is not) a good idea; lower rank is better.
fn judge(m: &Machine, parent: NodeId, start: u64) -> (u8, String) {
    let t = &m.tree;
    if parent == Tree::ROOT {
        let how = if m.config.version.at_least(5, 1) {
            "__request_region claims it at the top level"
        } else {
            "request_resource_conflict finds no top-level conflict"
        };
        return if start >= 1 << 32 {
            (0, format!("free at the top level above 4 GiB: {how}"))
        } else {
            (
                2,
                format!(
                    "free at the top level below 4 GiB: {how} (the PCI hole: firmware may later hand this space to a device BAR)"
                ),
            )
        };
    }
    let p = t.get(parent);
    let name = t.name_lossy(parent);
    let memoryish = matches!(
        p.desc,
        crate::tree::Desc::PersistentMemoryLegacy
            | crate::tree::Desc::PersistentMemory
            | crate::tree::Desc::SoftReserved
            | crate::tree::Desc::Cxl
    ) || name.starts_with("Persistent Memory")
        || name.starts_with("Soft Reserved")
        || name.starts_with("CXL Window");
    let why = format!(
        "inside non-BUSY \"{name}\" [{:x}-{:x}]: __request_region descends into a non-BUSY conflict (v5.1+) and nests the new System RAM under it",
        p.start, p.end
    );
    if memoryish {
        (1, why)
    } else {
        (
            3,
            format!(
                "{why} (device or firmware space: accepted by the kernel, rarely what you want)"
            ),
        )
    }
}

/// Trial-run `hotplug add start size --nid nid` on a clone: the same path as the command.
pub fn trial_add(m: &Machine, start: u64, size: u64, nid: u32) -> Result<(), KernelError> {
    let mut c = m.clone();
    let mut trace = Trace::new();
    c.add_memory(
        i32::try_from(nid).unwrap_or(i32::MAX),
        start,
        size,
        &AddOptions::default(),
        &mut trace,
    )
}

/// `where SIZE --for hotplug [--node N]`: every stretch of block-aligned starts at which
/// `hotplug add START SIZE` succeeds, best first.
pub fn where_hotplug(m: &Machine, size: u64, nid: u32) -> Answer {
    let v = m.config.version;
    let bs = m.config.block_size;
    let mut ans = Answer::default();
    if size == 0 || !size.is_multiple_of(bs) {
        ans.blockers.push(format!(
            "check_hotplug_memory_range: SIZE {} is not a non-zero multiple of the memory block size {} (round it up to {})",
            fmt_size(size),
            fmt_size(bs),
            fmt_size_word(size.div_ceil(bs).max(1).saturating_mul(bs))
        ));
        return ans;
    }
    if nid >= 1024 {
        ans.blockers.push(format!(
            "add_memory_resource: node {nid} is not a possible node"
        ));
        return ans;
    }
    let mut slots = Vec::new();
    free_slots(&m.tree, Tree::ROOT, v.at_least(5, 1), &mut slots);
    let limit = if v.at_least(5, 12) {
        m.config.physmem_end()
    } else {
        u64::MAX
    };
    let root_end = m.tree.get(Tree::ROOT).end;
    let mut biggest: Option<(u64, u64, NodeId)> = None;
    let mut cut_by_limit = false;
    for s in slots {
        let hi = s.hi.min(limit);
        if s.hi > limit {
            cut_by_limit = true;
        }
        if hi < s.lo {
            continue;
        }
        for (a, b) in block_free_runs(m, s.lo, hi) {
            let len = b - a + 1;
            if biggest.is_none_or(|(_, l, _)| len > l) {
                biggest = Some((a, len, s.parent));
            }
            if len < size {
                continue;
            }
            let last_start = b - (size - 1);
            let last_start = last_start / bs * bs;
            // Check both ends of the stretch with the real path; the enumeration mirrors it,
            // the trial makes sure.
            let first_ok = trial_add(m, a, size, nid);
            let last_ok = trial_add(m, last_start, size, nid);
            match (first_ok, last_ok) {
                (Ok(()), Ok(())) => {
                    let (rank, reason) = judge(m, s.parent, a);
                    ans.candidates.push(Candidate {
                        start: a,
                        last_start,
                        size,
                        parent: (s.parent != Tree::ROOT).then(|| ResRef::of(&m.tree, s.parent)),
                        reason,
                        command: hotplug_command(a, size, nid),
                        rank,
                    });
                }
                (Err(e), _) | (_, Err(e)) => ans.blockers.push(format!(
                    "[{a:x}-{b:x}] looked free but hotplug add refuses it: {e}"
                )),
            }
        }
    }
    ans.candidates.sort_by_key(|c| (c.rank, c.start));
    ans.largest =
        biggest.map(|(a, l, p)| (a, l, (p != Tree::ROOT).then(|| ResRef::of(&m.tree, p))));
    if ans.candidates.is_empty() {
        match &ans.largest {
            Some((a, l, p)) => ans.blockers.push(format!(
                "the largest free block-aligned stretch is {} at {a:x}-{:x} ({}), smaller than {}",
                fmt_size(*l),
                a + (l - 1),
                p.as_ref()
                    .map_or("top level".to_string(), |p| format!("under {p}")),
                fmt_size(size)
            )),
            None => ans.blockers.push(format!(
                "no free block-aligned stretch of {} at all (every {} block is taken or holds a memory block)",
                fmt_size(bs),
                fmt_size(bs)
            )),
        }
        if !v.at_least(5, 1) {
            ans.blockers.push(format!(
                "≤ v5.0 request_resource_conflict looks at the top level only: v5.1+ would also nest under non-BUSY resources (this is {v})"
            ));
        }
        if cut_by_limit {
            ans.blockers.push(format!(
                "mhp_range_allowed: nothing may end above PHYSMEM_END {limit:#x} (--la57 raises it to 2^52 - 1)"
            ));
        }
        if size > root_end {
            ans.blockers.push(format!(
                "the iomem root ends at {root_end:#x} (--phys-bits)"
            ));
        }
    }
    ans
}

fn hotplug_command(start: u64, size: u64, nid: u32) -> String {
    let mut c = format!("hotplug add {start:x} {}", fmt_size_word(size));
    if nid != 0 {
        c.push_str(&format!(" --nid {nid}"));
    }
    c
}

/// The `memmap=` word: `memmap=4G!0x100000000` (memparse reads `0x…` and K/M/G suffixes).
pub fn memmap_word(start: u64, size: u64) -> String {
    format!("memmap={}!{start:#x}", fmt_size_word(size))
}

/// `where SIZE --for memmap`: block-aligned stretches of boot System RAM (top-level
/// `System RAM` that was not hot-added) clear of its children (kernel image, crash kernel, …)
/// where `memmap=SIZE!START` can carve legacy pmem, best first (above 4 GiB, then below; lowest
/// first).
pub fn where_memmap(m: &Machine, size: u64) -> Answer {
    let t = &m.tree;
    let bs = m.config.block_size;
    let mut ans = Answer::default();
    if size == 0 || !size.is_multiple_of(bs) {
        ans.blockers.push(format!(
            "SIZE {} is not a multiple of the memory block size {}: kmem could not online all of it (dax kmem rounds the range in to blocks)",
            fmt_size(size),
            fmt_size(bs)
        ));
        return ans;
    }
    let mut biggest: Option<(u64, u64, NodeId)> = None;
    for id in t.children(Tree::ROOT) {
        let r = t.get(id);
        let boot_ram = t.name_is(id, "System RAM")
            && r.flags & IORESOURCE_SYSTEM_RAM == IORESOURCE_SYSTEM_RAM
            && r.flags & IORESOURCE_SYSRAM_DRIVER_MANAGED == 0
            && !m.firmware_memmap.contains_key(&r.start);
        if !boot_ram || r.end < r.start {
            continue;
        }
        // Free stretches of this RAM range: between its children (the kernel image etc.).
        let mut slots = Vec::new();
        free_slots(t, id, false, &mut slots);
        for s in slots {
            // Keep the first MiB (real-mode trampoline, BIOS data) out of it.
            let lo = s.lo.max(1 << 20);
            if lo > s.hi {
                continue;
            }
            let Some(a) = round_up(lo, bs) else { continue };
            let end_excl = (u128::from(s.hi) + 1) / u128::from(bs) * u128::from(bs);
            if u128::from(a) >= end_excl {
                continue;
            }
            let len = (end_excl - u128::from(a)) as u64;
            if biggest.is_none_or(|(_, l, _)| len > l) {
                biggest = Some((a, len, id));
            }
            if len < size {
                continue;
            }
            let last_start = a + (len - size);
            let kids = if t.has_children(id) {
                " clear of its children (kernel image, crash kernel, …)"
            } else {
                ""
            };
            ans.candidates.push(Candidate {
                start: a,
                last_start,
                size,
                parent: Some(ResRef::of(t, id)),
                reason: format!(
                    "boot System RAM [{:x}-{:x}]{kids}: e820__range_add(E820_TYPE_PRAM) takes it over at boot and it shows as \"Persistent Memory (legacy)\"",
                    r.start, r.end
                ),
                command: memmap_word(a, size),
                rank: if a >= 1 << 32 { 0 } else { 1 },
            });
        }
    }
    ans.candidates.sort_by_key(|c| (c.rank, c.start));
    ans.largest = biggest.map(|(a, l, p)| (a, l, Some(ResRef::of(t, p))));
    if ans.candidates.is_empty() {
        ans.blockers.push(match &ans.largest {
            Some((a, l, _)) => format!(
                "the largest block-aligned stretch of boot System RAM clear of the kernel image is {} at {a:x}-{:x}, smaller than {}",
                fmt_size(*l),
                a + (l - 1),
                fmt_size(size)
            ),
            None => "no block-aligned stretch of boot System RAM above 1 MiB".to_string(),
        });
    }
    ans
}

/// The answer as text: the first `count` candidates, or what blocks SIZE.
pub fn answer_text(m: &Machine, purpose: Purpose, size: u64, count: usize, ans: &Answer) -> String {
    let t = &m.tree;
    let w = t.hex_width();
    let bs = m.config.block_size;
    let v = m.config.version;
    let mut s = match purpose {
        Purpose::Hotplug => format!(
            "where {} can be hot-added on Linux {v} (block size {}, iomem root ends {:x}{}):\n",
            fmt_size(size),
            fmt_size(bs),
            t.get(Tree::ROOT).end,
            if v.at_least(5, 12) {
                format!(", mhp_range_allowed up to {:x}", m.config.physmem_end())
            } else {
                String::new()
            }
        ),
        Purpose::Memmap => format!(
            "where memmap={}!START can carve legacy pmem out of boot System RAM (x86 e820; block size {}):\n",
            fmt_size_word(size),
            fmt_size(bs)
        ),
    };
    if ans.candidates.is_empty() {
        s.push_str(&format!("  nothing: {} fits nowhere\n", fmt_size(size)));
        for b in &ans.blockers {
            s.push_str(&format!("  - {b}\n"));
        }
        return s;
    }
    for (i, c) in ans.candidates.iter().take(count).enumerate() {
        let end = c.last_start + (c.size - 1);
        let starts = if c.last_start == c.start {
            "exactly this start".to_string()
        } else {
            format!(
                "any {}-aligned START from {:0w$x} to {:0w$x}",
                fmt_size_word(bs),
                c.start,
                c.last_start
            )
        };
        let under = match &c.parent {
            None => "the iomem root (top level)".to_string(),
            Some(p) => p.to_string(),
        };
        s.push_str(&format!(
            "{:>3}. {:0w$x}-{:0w$x} ({} free): {starts}\n      under {under}\n      {}\n      {}\n",
            i + 1,
            c.start,
            end,
            fmt_size(end - c.start + 1),
            c.reason,
            c.command
        ));
    }
    let more = ans.candidates.len().saturating_sub(count);
    if more > 0 {
        s.push_str(&format!(
            "  ({more} more; --count {} shows them)\n",
            ans.candidates.len()
        ));
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::kernel::KernelVersion;
    use crate::kernel::machine::Config;
    use crate::testutil::t0;

    fn m(ver: &str) -> Machine {
        let cfg = Config {
            version: ver.parse::<KernelVersion>().unwrap(),
            ..Config::default()
        };
        Machine::boot(t0(), cfg)
    }

    #[test]
    fn v5_0_does_not_offer_the_pmem_range_v5_1_does() {
        // T0: "Persistent Memory (legacy)" [a0000000-afffffff] is not BUSY. ≤ 5.0
        // request_resource_conflict finds it at the top level (-EEXIST); 5.1's __request_region
        // `parent = conflict; continue;` nests under it.
        let a50 = where_hotplug(&m("5.0"), 128 << 20, 0);
        assert!(
            a50.candidates
                .iter()
                .all(|c| !(c.start..=c.last_start).contains(&0xa0000000))
        );
        let a51 = where_hotplug(&m("5.1"), 128 << 20, 0);
        let pmem = a51
            .candidates
            .iter()
            .find(|c| c.start == 0xa0000000)
            .expect("5.1 nests under the pmem");
        assert_eq!(pmem.last_start, 0xa8000000);
        assert_eq!(
            pmem.parent.as_ref().map(|p| p.name.as_str()),
            Some("Persistent Memory (legacy)")
        );
        assert_eq!(pmem.command, "hotplug add a0000000 128M");
    }

    #[test]
    fn best_first_is_top_level_above_4g() {
        // T0 ends at febfffff: [fec00000, 2^46-1] is free at the top level; the first aligned
        // start above 4 GiB is 0x100000000.
        let a = where_hotplug(&m("6.1"), 4 << 30, 0);
        let c = &a.candidates[0];
        assert_eq!((c.start, c.parent.is_none()), (0x1_0000_0000, true));
        // mhp_range_allowed (6.1): end ≤ 2^46 - 1.
        assert_eq!(c.last_start + c.size - 1, (1 << 46) - 1);
    }

    #[test]
    fn unaligned_or_huge_sizes_say_what_blocks_them() {
        let a = where_hotplug(&m("6.1"), 100 << 20, 0);
        assert!(a.candidates.is_empty());
        assert!(
            a.blockers[0].contains("check_hotplug_memory_range"),
            "{a:?}"
        );
        let a = where_hotplug(&m("6.1"), 1 << 46, 0);
        assert!(a.candidates.is_empty());
        assert!(
            a.blockers.iter().any(|b| b.contains("largest free")),
            "{a:?}"
        );
    }

    #[test]
    fn memmap_avoids_the_kernel_image() {
        // T0 System RAM 00100000-9fffffff has Kernel code/data/bss at 01000000-0305dfff: the
        // first 128M-aligned start clear of them is 0x08000000.
        let a = where_memmap(&m("6.1"), 512 << 20);
        let low = a
            .candidates
            .iter()
            .find(|c| c.start < 0xa0000000)
            .expect("room in the low RAM");
        assert_eq!(low.start, 0x0800_0000);
        assert_eq!(low.command, "memmap=512M!0x8000000");
        assert_eq!(low.last_start + low.size - 1, 0x9fffffff);
    }
}
