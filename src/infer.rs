//! Flags and desc inferred from names (kernel-semantics.md §5.6) (issue 2).
//!
//! `/proc/iomem` prints only ranges and names; which nodes are `IORESOURCE_BUSY` decides where
//! `__request_region` may descend (§2.4), so we reconstruct flags from the names the kernel's
//! boot code and drivers use, and record how sure we are in [`Confidence`]. The first matching
//! rule of the §5.6 table applies; the table's row number is noted beside each rule.

use crate::tree::flags::*;
use crate::tree::{Confidence, Desc, NodeId, RootKind, Tree};

/// Which architecture printed the dump, as far as the names tell. It matters for one rule:
/// `Kernel code`/`Kernel data` are `SYSTEM_RAM|BUSY` on x86 (`arch/x86/kernel/setup.c`) but
/// plain `SYSTEM_RAM` on arm64 (`arch/arm64/kernel/setup.c` `request_standard_resources`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Arch {
    X86,
    Arm,
    Unknown,
}

/// Guess the architecture: x86 boot code leaves names nothing else uses (ROM probing, e820
/// types, APICs, HPET, `Kernel bss`); a `Kernel code` without them is an ARM kernel.
pub fn guess_arch(tree: &Tree) -> Arch {
    guess_arch_of(tree, tree.descendants(Tree::ROOT))
}

/// [`guess_arch`] over `nodes` (any order: the answer only asks whether a name occurs).
fn guess_arch_of(tree: &Tree, nodes: impl Iterator<Item = NodeId>) -> Arch {
    let mut kernel = false;
    for id in nodes {
        let n = tree.name_of(id);
        if x86_name(n) {
            return Arch::X86;
        }
        kernel |= n == b"Kernel code";
    }
    if kernel { Arch::Arm } else { Arch::Unknown }
}

/// A name only x86 boot code gives ([`guess_arch`]).
#[inline]
fn x86_name(n: &[u8]) -> bool {
    const X86: &[&str] = &[
        "Video ROM",
        "System ROM",
        "Adapter ROM",
        "Extension ROM",
        "Local APIC",
        "RAM buffer",
        "ACPI Tables",
        "ACPI Non-volatile Storage",
        "Kernel bss",
        "Kernel rodata",
    ];
    const X86_PREFIX: &[&str] = &["IOAPIC", "HPET ", "PCI MMCONFIG", "pnp 00:"];
    X86.iter().any(|x| n == x.as_bytes()) || X86_PREFIX.iter().any(|p| n.starts_with(p.as_bytes()))
}

/// [`infer_flags`] for a tree the parser's fast path builds, decided while the dump is read.
/// The arena holds exactly the linked nodes, each after its parent (dump order is pre-order),
/// so visiting them by id decides parents first without walking the tree. The fast path
/// reports each row's name ([`DumpInference::saw`]) and each moment every row pushed so far
/// is closed, a top-level row having just ended ([`DumpInference::closed`]). The rows are then decided
/// while they are still in cache, instead of in a second pass over the whole arena (a fifth
/// of a million-line dump's parse; issue 12) — but only once no later row can change an
/// answer: a row's rule reads its own name and place, its children (all pushed once it is
/// closed), its parent's desc (decided before it), and the architecture, which is settled as
/// soon as one x86 name was seen ([`guess_arch`] answers X86 whatever follows). Until then
/// (an arm dump has none) the rows wait for [`DumpInference::finish`]. The result is exactly
/// `infer_flags`'s (the fast path's differential tests compare every flag with the general
/// parser's).
pub(crate) struct DumpInference {
    x86: bool,
    kernel_code: bool,
    /// Rows below this id are decided.
    decided: u32,
}

impl DumpInference {
    pub(crate) fn new() -> DumpInference {
        DumpInference {
            x86: false,
            kernel_code: false,
            decided: 1,
        }
    }

    /// The next row is named `n`.
    #[inline]
    pub(crate) fn saw(&mut self, n: &[u8]) {
        if !self.x86 {
            self.x86 = x86_name(n);
            self.kernel_code |= n == b"Kernel code";
        }
    }

    /// Every row pushed so far is closed: decide them if the answers are settled.
    #[inline]
    pub(crate) fn closed(&mut self, tree: &mut Tree) {
        if self.x86 || tree.kind() == RootKind::Ioport {
            self.decide(tree);
        }
    }

    /// The last row is closed: decide the rest.
    pub(crate) fn finish(mut self, tree: &mut Tree) {
        self.decide(tree);
    }

    fn decide(&mut self, tree: &mut Tree) {
        let n = tree.arena_len() as u32;
        let arch = if self.x86 {
            Arch::X86
        } else if self.kernel_code {
            Arch::Arm
        } else {
            Arch::Unknown
        };
        debug_assert!((self.decided..n).all(|i| tree.parent(NodeId(i)).is_some_and(|p| p.0 < i)));
        infer_each(tree, arch, (self.decided..n).map(NodeId));
        self.decided = n;
    }
}

const BELOW_1M: u64 = 0x10_0000;

/// `<prefix><digits>` exactly.
#[inline(always)]
fn numbered(n: &[u8], prefix: &[u8]) -> bool {
    n.strip_prefix(prefix)
        .is_some_and(|d| !d.is_empty() && d.iter().all(u8::is_ascii_digit))
}

/// `<prefix><digits>.<digits>` exactly (`dax0.0`, `namespace1.2`).
#[inline(always)]
fn numbered_pair(n: &[u8], prefix: &[u8]) -> bool {
    let Some(rest) = n.strip_prefix(prefix) else {
        return false;
    };
    let mut parts = rest.splitn(2, |&b| b == b'.');
    let ok =
        |p: Option<&[u8]>| p.is_some_and(|d| !d.is_empty() && d.iter().all(u8::is_ascii_digit));
    ok(parts.next()) && ok(parts.next())
}

/// A PCI device address `DDDD:BB:DD.F` (BAR nodes).
#[inline(always)]
fn pci_address(n: &[u8]) -> bool {
    let hex = |s: &[u8]| !s.is_empty() && s.iter().all(u8::is_ascii_hexdigit);
    n.len() == 12
        && n[4] == b':'
        && n[7] == b':'
        && n[10] == b'.'
        && hex(&n[0..4])
        && hex(&n[5..7])
        && hex(&n[8..10])
        && hex(&n[11..12])
}

/// What a rule decided for one node.
struct Guess {
    flags: u32,
    desc: Desc,
    confidence: Confidence,
}

fn g(flags: u32, desc: Desc, confidence: Confidence) -> Guess {
    Guess {
        flags,
        desc,
        confidence,
    }
}

/// Set `flags`, `desc` and `confidence` of every node from its name, position and children
/// (kernel-semantics.md §5.6). Parents are decided before their children (pre-order), so
/// inherited descs are available.
pub fn infer_flags(tree: &mut Tree) {
    let arch = guess_arch(tree);
    let ids: Vec<NodeId> = tree.descendants(Tree::ROOT).collect();
    infer_each(tree, arch, ids.into_iter());
}

/// The flags, desc and confidence the parser would give node `id` where it now sits (its
/// name, position and children): what `insert`/`request-resource` use without `--flags`.
pub fn infer_node(tree: &mut Tree, id: NodeId) {
    let arch = guess_arch(tree);
    infer_each(tree, arch, std::iter::once(id));
}

/// Decide each of `ids` in turn (parents must come before their children).
fn infer_each(tree: &mut Tree, arch: Arch, ids: impl Iterator<Item = NodeId>) {
    let kind = tree.kind();
    for id in ids {
        let guess = match kind {
            RootKind::Iomem => iomem_rule(tree, id, arch),
            RootKind::Ioport => ioport_rule(tree, id),
        };
        tree.set_inferred(id, guess.flags, guess.desc, guess.confidence);
        // MERGEABLE comes with a driver's literal name (virtio_mem.c: `vm->resource_name =
        // kstrdup_const("System RAM (virtio_mem)", …)`): one name object for all of them.
        if guess.flags & IORESOURCE_SYSRAM_MERGEABLE != 0 {
            tree.share_name(id);
        }
    }
}

/// The first bytes of every name rules 1 to 21 of [`iomem_rule`] match, literal or prefix:
/// `System RAM`, `System ROM`, `Soft Reserved`, `Kernel …`, `Crash kernel`, `CXL Window`,
/// `Reserved`, `RAM buffer`, `ACPI …`, `Adapter ROM`, `Unusable memory`, `Unknown E820 type`,
/// `Persistent Memory…`, `PCI …`, `Video ROM`, `Extension ROM`, `IOAPIC`, `Local APIC`,
/// `HPET`, `pnp `, `reserved`, `region`, `dax`, `namespace`, `virtio`.
const RULE_FIRST_BYTE: [bool; 256] = {
    let mut t = [false; 256];
    let firsts = b"SKCRAUPVEIHLprdnv";
    let mut i = 0;
    while i < firsts.len() {
        t[firsts[i] as usize] = true;
        i += 1;
    }
    t
};

fn iomem_rule(t: &Tree, id: NodeId, arch: Arch) -> Guess {
    use Confidence::*;
    let r = t.get(id);
    let n = t.name_of(id);
    let parent = t.parent(id).unwrap_or(Tree::ROOT);
    let top = parent == Tree::ROOT;
    // `__request_region` copies the parent's desc into the new node (v4.6+), which is how RAM
    // hot-added inside pmem or CXL carries PERSISTENT_MEMORY(_LEGACY)/CXL (era b/c).
    let inherited = if top { Desc::None } else { t.get(parent).desc };
    let low = r.start < BELOW_1M;
    // e820's do_mark_busy: everything below 1 MiB is busy; above it Reserved, PMEM, PRAM and
    // Soft Reserved are not (arch/x86/kernel/e820.c).
    let busy_if_low = if low { IORESOURCE_BUSY } else { 0 };
    let parent_is_ram = || !top && t.name_of(parent).starts_with(b"System RAM");
    let has_children = t.has_children(id);
    let child_named = |p: &[u8]| t.children(id).any(|c| t.name_of(c).starts_with(p));
    const MEMB: u32 = IORESOURCE_MEM | IORESOURCE_BUSY;
    const RAMB: u32 = IORESOURCE_SYSTEM_RAM | IORESOURCE_BUSY;

    match n {
        // No rule from 1 to 21 can match: straight to 22 and 23 (most of a big machine's rows
        // are drivers' names and PCI addresses; issue 12).
        _ if !n.first().is_some_and(|&b| RULE_FIRST_BYTE[b as usize]) => {
            rules_22_23(n, has_children, inherited)
        }
        // 1
        b"System RAM" => g(RAMB, inherited, High),
        // 2: add_memory_driver_managed (v5.10+ flag name); virtio-mem also sets MERGEABLE.
        _ if n.starts_with(b"System RAM (") => {
            let merge = if n == b"System RAM (virtio_mem)" {
                IORESOURCE_SYSRAM_MERGEABLE
            } else {
                0
            };
            g(
                RAMB | IORESOURCE_SYSRAM_DRIVER_MANAGED | merge,
                inherited,
                High,
            )
        }
        // 3
        b"Kernel code" | b"Kernel rodata" | b"Kernel data" | b"Kernel bss" => match arch {
            Arch::Arm => g(IORESOURCE_SYSTEM_RAM, Desc::None, High),
            Arch::X86 => g(RAMB, Desc::None, High),
            Arch::Unknown => g(RAMB, Desc::None, Medium),
        },
        // 4
        b"Crash kernel" => g(RAMB, Desc::CrashKernel, High),
        // 5: e820 Reserved (desc RESERVED since v5.x).
        b"Reserved" => g(IORESOURCE_MEM | busy_if_low, Desc::Reserved, High),
        // 6
        b"ACPI Tables" => g(MEMB, Desc::AcpiTables, High),
        b"ACPI Non-volatile Storage" => g(MEMB, Desc::AcpiNvStorage, High),
        b"Unusable memory" | b"Unknown E820 type" => g(MEMB, Desc::None, High),
        // 7, 8, 9
        b"Persistent Memory (legacy)" => g(
            IORESOURCE_MEM | busy_if_low,
            Desc::PersistentMemoryLegacy,
            High,
        ),
        b"Persistent Memory" => g(
            IORESOURCE_MEM | busy_if_low,
            Desc::PersistentMemory,
            if top { High } else { Medium },
        ),
        b"Soft Reserved" => g(IORESOURCE_MEM | busy_if_low, Desc::SoftReserved, High),
        // 10
        b"RAM buffer" => g(MEMB, Desc::None, High),
        // 11: probe_roms
        b"Video ROM" | b"Adapter ROM" | b"System ROM" | b"Extension ROM" => {
            g(MEMB | IORESOURCE_READONLY, Desc::None, High)
        }
        // 12
        _ if n.starts_with(b"PCI Bus ") => g(IORESOURCE_MEM | IORESOURCE_WINDOW, Desc::None, High),
        // 13
        _ if n.starts_with(b"PCI MMCONFIG ") || n.starts_with(b"PCI ECAM ") => {
            g(MEMB, Desc::None, High)
        }
        // 14
        _ if n.starts_with(b"IOAPIC") || n == b"Local APIC" => g(MEMB, Desc::None, High),
        // 15: insert_resource with MEM only — a common wrong guess is "busy".
        _ if n.starts_with(b"HPET") => g(IORESOURCE_MEM, Desc::None, High),
        // 16: drivers/pnp/system.c clears BUSY after claiming.
        _ if n.starts_with(b"pnp ") => g(IORESOURCE_MEM, Desc::None, High),
        // 17: arm64 no-map memblock regions (top level) vs reserve_region_with_split children.
        b"reserved" => {
            if top {
                let c = if arch == Arch::Arm { High } else { Medium };
                match arch {
                    // Old x86 kernels spelled the e820 type in lowercase: rule 5 applies.
                    Arch::X86 => g(IORESOURCE_MEM | busy_if_low, Desc::Reserved, Medium),
                    _ => g(IORESOURCE_MEM, Desc::None, c),
                }
            } else if parent_is_ram() {
                g(MEMB, Desc::None, High)
            } else {
                heuristic(has_children, inherited)
            }
        }
        // 18: kmem overwrites the dax resource's flags with exactly SYSTEM_RAM.
        _ if numbered_pair(n, b"dax") => {
            if child_named(b"System RAM") {
                g(IORESOURCE_SYSTEM_RAM, inherited, Medium)
            } else {
                g(MEMB, inherited, Medium)
            }
        }
        // 19
        _ if numbered_pair(n, b"namespace") => g(MEMB, inherited, Medium),
        // 20
        _ if n.starts_with(b"CXL Window ") => g(IORESOURCE_MEM, Desc::Cxl, Medium),
        _ if numbered(n, b"region") => g(IORESOURCE_MEM, inherited, Medium),
        // 21
        _ if numbered(n, b"virtio") && child_named(b"System RAM (virtio_mem)") => {
            g(IORESOURCE_SYSTEM_RAM, Desc::None, Medium)
        }
        _ => rules_22_23(n, has_children, inherited),
    }
}

/// Rule 22, a PCI device address (a BAR node), else rule 23: what [`iomem_rule`] decides for
/// a name no earlier rule matches.
fn rules_22_23(n: &[u8], has_children: bool, inherited: Desc) -> Guess {
    if pci_address(n) {
        g(IORESOURCE_MEM, Desc::None, Confidence::Medium)
    } else {
        heuristic(has_children, inherited)
    }
}

/// Row 23: driver claims are busy leaves; bus/bridge/container nodes are non-busy parents.
fn heuristic(has_children: bool, inherited: Desc) -> Guess {
    let busy = if has_children { 0 } else { IORESOURCE_BUSY };
    g(IORESOURCE_MEM | busy, inherited, Confidence::Low)
}

/// `/proc/ioports` (kernel-semantics.md §5.5): `reserve_standard_io_resources` names are
/// IO|BUSY, host-bridge windows IO|WINDOW, pnp claims have BUSY cleared.
fn ioport_rule(t: &Tree, id: NodeId) -> Guess {
    use Confidence::*;
    let n = t.name_of(id);
    const IOB: u32 = IORESOURCE_IO | IORESOURCE_BUSY;
    match n {
        b"dma1" | b"pic1" | b"timer0" | b"timer1" | b"keyboard" | b"dma page reg" | b"pic2"
        | b"dma2" | b"fpu" | b"PCI conf1" => g(IOB, Desc::None, High),
        _ if n.starts_with(b"PCI Bus ") => g(IORESOURCE_IO | IORESOURCE_WINDOW, Desc::None, High),
        _ if n.starts_with(b"pnp ") => g(IORESOURCE_IO, Desc::None, High),
        _ if pci_address(n) => g(IORESOURCE_IO, Desc::None, Medium),
        _ => {
            let busy = if t.has_children(id) {
                0
            } else {
                IORESOURCE_BUSY
            };
            g(IORESOURCE_IO | busy, Desc::None, Low)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::parse::parse_dump;

    fn infer(text: &str) -> Tree {
        parse_dump(text.as_bytes(), None).expect("parses").tree
    }

    fn at(t: &Tree, name: &str, nth: usize) -> (u32, Desc, Confidence) {
        let id = t
            .descendants(Tree::ROOT)
            .filter(|&id| t.name_is(id, name))
            .nth(nth)
            .expect("node");
        let r = t.get(id);
        (r.flags, r.desc, r.confidence)
    }

    const RAMB: u32 = IORESOURCE_SYSTEM_RAM | IORESOURCE_BUSY;
    const MEMB: u32 = IORESOURCE_MEM | IORESOURCE_BUSY;

    /// T0 of kernel-semantics.md §6.0 gets exactly the flags the spec lists for it.
    #[test]
    fn t0_flags_match_the_spec() {
        let t = infer(crate::examples::T0);
        let want = crate::testutil::t0();
        let got: Vec<(u32, Desc)> = t
            .descendants(Tree::ROOT)
            .map(|id| (t.get(id).flags, t.get(id).desc))
            .collect();
        let exp: Vec<(u32, Desc)> = want
            .descendants(Tree::ROOT)
            .map(|id| (want.get(id).flags, want.get(id).desc))
            .collect();
        assert_eq!(got, exp);
        assert!(t.same_as(&want));
    }

    #[test]
    fn reserved_is_busy_only_below_1m() {
        let t = infer("0009fc00-0009ffff : Reserved\nbffe0000-bfffffff : Reserved\n");
        assert_eq!(at(&t, "Reserved", 0).0, MEMB);
        assert_eq!(at(&t, "Reserved", 1).0, IORESOURCE_MEM);
        assert_eq!(at(&t, "Reserved", 1).1, Desc::Reserved);
    }

    #[test]
    fn hpet_and_pnp_are_not_busy() {
        let t = infer(
            "fed00000-fed003ff : HPET 0\n  fed00000-fed003ff : PNP0103:00\nfed1c000-fed1ffff : pnp 00:05\n",
        );
        assert_eq!(at(&t, "HPET 0", 0).0, IORESOURCE_MEM);
        assert_eq!(at(&t, "pnp 00:05", 0).0, IORESOURCE_MEM);
        // An unknown leaf is a driver claim: busy, but we say we are guessing.
        assert_eq!(at(&t, "PNP0103:00", 0), (MEMB, Desc::None, Confidence::Low));
    }

    #[test]
    fn kmem_dax_and_inherited_desc() {
        let t = infer(
            "110000000-12fffffff : Persistent Memory (legacy)\n  110000000-1101fffff : namespace0.0\n  110200000-12fffffff : dax0.0\n    110200000-12fffffff : System RAM (kmem)\n",
        );
        let legacy = Desc::PersistentMemoryLegacy;
        assert_eq!(
            at(&t, "dax0.0", 0),
            (IORESOURCE_SYSTEM_RAM, legacy, Confidence::Medium)
        );
        assert_eq!(
            at(&t, "namespace0.0", 0),
            (MEMB, legacy, Confidence::Medium)
        );
        assert_eq!(
            at(&t, "System RAM (kmem)", 0),
            (
                RAMB | IORESOURCE_SYSRAM_DRIVER_MANAGED,
                legacy,
                Confidence::High
            )
        );
        let t = infer(
            "a0000000-afffffff : Persistent Memory (legacy)\n  a0000000-a7ffffff : System RAM\n",
        );
        assert_eq!(at(&t, "System RAM", 0).1, legacy);
        let t = infer("c080000000-17dbfffffff : CXL Window 0\n  c080000000-c47fffffff : dax2.0\n");
        assert_eq!(at(&t, "dax2.0", 0), (MEMB, Desc::Cxl, Confidence::Medium));
    }

    #[test]
    fn kernel_code_busy_bit_depends_on_arch() {
        let x86 = infer(
            "00100000-9fffffff : System RAM\n  01000000-01e071d0 : Kernel code\n  02dc6000-0305dfff : Kernel bss\n",
        );
        assert_eq!(at(&x86, "Kernel code", 0).0, RAMB);
        let arm = infer(
            "40000000-bfffffff : System RAM\n  40210000-40ffffff : Kernel code\n  41000000-411fffff : reserved\n",
        );
        assert_eq!(at(&arm, "Kernel code", 0).0, IORESOURCE_SYSTEM_RAM);
        assert_eq!(at(&arm, "reserved", 0).0, MEMB);
    }

    #[test]
    fn arm64_top_level_reserved_is_not_busy() {
        let t = infer(
            "00000000-001fffff : reserved\n40000000-bfffffff : System RAM\n  40210000-40ffffff : Kernel code\n",
        );
        assert_eq!(
            at(&t, "reserved", 0),
            (IORESOURCE_MEM, Desc::None, Confidence::High)
        );
    }

    #[test]
    fn unknown_containers_are_not_busy_and_name_matchers_are_exact() {
        let t = infer("e0000000-efffffff : /soc\n  e0001000-e0001fff : serial\n");
        assert_eq!(
            at(&t, "/soc", 0),
            (IORESOURCE_MEM, Desc::None, Confidence::Low)
        );
        assert!(numbered_pair(b"dax10.2", b"dax") && !numbered_pair(b"dax1", b"dax"));
        assert!(pci_address(b"0000:00:1f.3") && !pci_address(b"0000:00:1f"));
        assert!(numbered(b"region3", b"region") && !numbered(b"regions", b"region"));
    }

    /// The shortcut to rules 22–23 must not hide a rule: every name literal in
    /// `iomem_rule`'s source begins with a byte of `RULE_FIRST_BYTE`, and no other byte is
    /// there without a reason (checked to fail with `d` taken out of the table, and with a
    /// rule for `foo` added).
    #[test]
    fn every_rule_name_begins_with_a_byte_of_the_shortcut_table() {
        let src = include_str!("infer.rs");
        let body = &src[src.find("fn iomem_rule(").expect("iomem_rule")..];
        let body = &body[..body.find("fn heuristic(").expect("heuristic")];
        let mut firsts = std::collections::BTreeSet::new();
        for lit in body.split("b\"").skip(1) {
            let b = lit.as_bytes()[0];
            assert!(
                RULE_FIRST_BYTE[b as usize],
                "a rule name begins with {:?}",
                b as char
            );
            firsts.insert(b);
        }
        let table: std::collections::BTreeSet<u8> = (0..=255u8)
            .filter(|&b| RULE_FIRST_BYTE[b as usize])
            .collect();
        assert_eq!(firsts, table);
        // And the shortcut answers as the rules would: a PCI address, a driver's claim, a
        // container.
        let t = infer(
            "f0000000-f0ffffff : 0000:00:02.0\n  f0000000-f0ffffff : mlx5_core\nf1000000-f1ffffff : soc\n  f1000000-f1000fff : x\n",
        );
        assert_eq!(
            at(&t, "0000:00:02.0", 0),
            (IORESOURCE_MEM, Desc::None, Confidence::Medium)
        );
        assert_eq!(at(&t, "mlx5_core", 0), (MEMB, Desc::None, Confidence::Low));
        assert_eq!(
            at(&t, "soc", 0),
            (IORESOURCE_MEM, Desc::None, Confidence::Low)
        );
    }

    #[test]
    fn ioports_use_the_io_type() {
        let t = infer(
            "0000-0cf7 : PCI Bus 0000:00\n  0000-001f : dma1\n  0070-0077 : rtc0\n0cf8-0cff : PCI conf1\n",
        );
        assert_eq!(at(&t, "dma1", 0).0, IORESOURCE_IO | IORESOURCE_BUSY);
        assert_eq!(
            at(&t, "PCI Bus 0000:00", 0).0,
            IORESOURCE_IO | IORESOURCE_WINDOW
        );
        assert_eq!(at(&t, "rtc0", 0).2, Confidence::Low);
    }
}
