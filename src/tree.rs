//! The resource tree: the kernel's `struct resource` hierarchy (`kernel/resource.c`,
//! `include/linux/ioport.h`) as an arena.
//!
//! The kernel links resources as `parent`/`sibling`/`child` pointers and scans sibling lists
//! linearly. We keep each node's children as an ordered map keyed by start address (a sorted
//! vector for short lists, a `BTreeMap` past 32) so that the operations in
//! [`crate::kernel::resource`] find "the first child that could overlap X" in O(log n) instead
//! of O(n) — with the same result as the kernel's scan, because in a valid tree siblings are
//! sorted and disjoint (invariant 3, kernel-semantics.md §1.2).
//!
//! Real dumps break that invariant (overlapping or out-of-order siblings, `0-0` entries). Their
//! order must survive a round trip, so a child's key is `(max(start, previous key), seq)`: in a
//! sorted list the key's first half *is* the start; in an anomalous list the keys still follow
//! the list order, and the parent is marked `unsorted` so that operations fall back to the
//! kernel's plain linear scan ([`Tree::scan_from`]). Keys live only in the lists, not in the
//! nodes (a node is 48 bytes; issue 12): a child's key is found in its parent's list, by its
//! start in a long sorted list, by a scan otherwise.
//!
//! Nothing here recurses on input-controlled depth: every walk is iterative.

use std::collections::BTreeMap;
use std::ops::Bound;
use std::ops::RangeBounds;

/// `include/linux/ioport.h` flag bits (values stable for many years).
pub mod flags {
    pub const IORESOURCE_IO: u32 = 0x0000_0100;
    pub const IORESOURCE_MEM: u32 = 0x0000_0200;
    pub const IORESOURCE_TYPE_BITS: u32 = 0x0000_1f00;
    pub const IORESOURCE_PREFETCH: u32 = 0x0000_2000;
    pub const IORESOURCE_READONLY: u32 = 0x0000_4000;
    pub const IORESOURCE_MEM_64: u32 = 0x0010_0000;
    pub const IORESOURCE_WINDOW: u32 = 0x0020_0000;
    pub const IORESOURCE_MUXED: u32 = 0x0040_0000;
    pub const IORESOURCE_EXT_TYPE_BITS: u32 = 0x0100_0000;
    pub const IORESOURCE_SYSRAM: u32 = 0x0100_0000;
    pub const IORESOURCE_SYSRAM_DRIVER_MANAGED: u32 = 0x0200_0000;
    pub const IORESOURCE_SYSRAM_MERGEABLE: u32 = 0x0400_0000;
    pub const IORESOURCE_EXCLUSIVE: u32 = 0x0800_0000;
    pub const IORESOURCE_DISABLED: u32 = 0x1000_0000;
    pub const IORESOURCE_UNSET: u32 = 0x2000_0000;
    pub const IORESOURCE_AUTO: u32 = 0x4000_0000;
    pub const IORESOURCE_BUSY: u32 = 0x8000_0000;
    /// `IORESOURCE_MEM | IORESOURCE_SYSRAM`.
    pub const IORESOURCE_SYSTEM_RAM: u32 = IORESOURCE_MEM | IORESOURCE_SYSRAM;

    /// Names for `show --flags` and JSON, in bit order.
    pub const NAMES: &[(u32, &str)] = &[
        (IORESOURCE_IO, "IO"),
        (IORESOURCE_MEM, "MEM"),
        (IORESOURCE_PREFETCH, "PREFETCH"),
        (IORESOURCE_READONLY, "READONLY"),
        (IORESOURCE_MEM_64, "MEM_64"),
        (IORESOURCE_WINDOW, "WINDOW"),
        (IORESOURCE_MUXED, "MUXED"),
        (IORESOURCE_SYSRAM, "SYSRAM"),
        (IORESOURCE_SYSRAM_DRIVER_MANAGED, "SYSRAM_DRIVER_MANAGED"),
        (IORESOURCE_SYSRAM_MERGEABLE, "SYSRAM_MERGEABLE"),
        (IORESOURCE_EXCLUSIVE, "EXCLUSIVE"),
        (IORESOURCE_DISABLED, "DISABLED"),
        (IORESOURCE_UNSET, "UNSET"),
        (IORESOURCE_AUTO, "AUTO"),
        (IORESOURCE_BUSY, "BUSY"),
    ];

    /// `MEM|SYSRAM|BUSY` style text; `0` for no flags.
    pub fn describe(f: u32) -> String {
        let parts: Vec<&str> = NAMES
            .iter()
            .filter(|(bit, _)| f & bit != 0)
            .map(|(_, n)| *n)
            .collect();
        if parts.is_empty() {
            "0".to_string()
        } else {
            parts.join("|")
        }
    }
}

/// `IORES_DESC_*` from `include/linux/ioport.h`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Default, serde::Serialize)]
#[repr(u8)]
pub enum Desc {
    #[default]
    None = 0,
    CrashKernel = 1,
    AcpiTables = 2,
    AcpiNvStorage = 3,
    PersistentMemory = 4,
    PersistentMemoryLegacy = 5,
    DevicePrivateMemory = 6,
    Reserved = 7,
    SoftReserved = 8,
    Cxl = 9,
}

impl Desc {
    pub const ALL: [Desc; 10] = [
        Desc::None,
        Desc::CrashKernel,
        Desc::AcpiTables,
        Desc::AcpiNvStorage,
        Desc::PersistentMemory,
        Desc::PersistentMemoryLegacy,
        Desc::DevicePrivateMemory,
        Desc::Reserved,
        Desc::SoftReserved,
        Desc::Cxl,
    ];

    /// The kernel's name without the `IORES_DESC_` prefix.
    pub fn kernel_name(self) -> &'static str {
        match self {
            Desc::None => "NONE",
            Desc::CrashKernel => "CRASH_KERNEL",
            Desc::AcpiTables => "ACPI_TABLES",
            Desc::AcpiNvStorage => "ACPI_NV_STORAGE",
            Desc::PersistentMemory => "PERSISTENT_MEMORY",
            Desc::PersistentMemoryLegacy => "PERSISTENT_MEMORY_LEGACY",
            Desc::DevicePrivateMemory => "DEVICE_PRIVATE_MEMORY",
            Desc::Reserved => "RESERVED",
            Desc::SoftReserved => "SOFT_RESERVED",
            Desc::Cxl => "CXL",
        }
    }

    /// Accepts `PERSISTENT_MEMORY_LEGACY`, `IORES_DESC_PERSISTENT_MEMORY_LEGACY`, any case.
    pub fn from_kernel_name(s: &str) -> Option<Desc> {
        let s = s.to_ascii_uppercase();
        let s = s.strip_prefix("IORES_DESC_").unwrap_or(&s);
        Desc::ALL.into_iter().find(|d| d.kernel_name() == s)
    }
}

/// How sure we are of flags/desc that were inferred from a name (kernel-semantics.md §5.6).
/// Nodes created by simulated kernel operations carry `Exact`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Default, serde::Serialize)]
pub enum Confidence {
    Low,
    Medium,
    High,
    #[default]
    Exact,
}

/// Index of a node in the arena. `NodeId(0)` is always the root.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct NodeId(pub u32);

/// Which of the kernel's two roots a tree hangs from.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize)]
pub enum RootKind {
    /// `iomem_resource`, "PCI mem".
    Iomem,
    /// `ioport_resource`, "PCI IO".
    Ioport,
}

/// A name: a span of the tree's byte arena. Names are bytes, not `str`: `/proc/iomem` prints
/// whatever the driver passed, and non-UTF-8 bytes must survive a round trip.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Name {
    off: u32,
    len: u32,
}

type ChildKey = (u64, u64);

/// A child's place in its parent's list ([`Tree::scan_keyed_from`]), valid until the list
/// changes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ListPos(ChildKey);

/// One `struct resource`.
#[derive(Clone, Debug)]
pub struct Resource {
    pub start: u64,
    pub end: u64,
    pub name: Name,
    pub flags: u32,
    pub desc: Desc,
    pub confidence: Confidence,
    /// 1-based line of the dump this node came from; 0: none ([`Resource::line`]).
    line: u32,
    /// The parent's id, [`NO_NODE`] when unlinked ([`Resource::up`]). (Plain `u32`s, not
    /// `Option`s: a node is 48 bytes, a million-line dump's tree under 100 bytes a resource.)
    parent: u32,
    /// Index of the child list in [`Tree::kid_lists`], [`NO_NODE`] while the node never had
    /// children: most nodes are leaves, and a leaf pays 4 bytes for its list, not 32.
    /// [`ARENA_KIDS`] while the list is the node's run of the parsed arena, not built.
    kids: u32,
    /// Linked nodes in the subtree below this one (its rows in `/proc/iomem` after its own):
    /// kept by every change of a child list, so a row's line number and the tree's length
    /// cost the path's siblings, not a walk of the tree (issue 12).
    rows_below: u32,
    /// The child list is not sorted and disjoint (a real dump broke invariant 3): operations
    /// must scan it linearly, as the kernel does.
    unsorted: bool,
    /// Still in the arena but unlinked and released (slot kept so ids stay stable).
    freed: bool,
}

/// Ask Linux to back `v`'s buffer with 2 MiB pages (`madvise(MADV_HUGEPAGE)`; the default
/// `transparent_hugepage=madvise` gives them only to regions that ask). A million-line dump's
/// arena is ~80 MB: in 4 KiB pages that is 20,000 page faults, which were a third of
/// `--format iomem show`'s time in a VM (issue 12). Only advice: nothing changes where the
/// kernel says no, and small buffers (under 4 MiB) are left alone.
fn advise_huge_pages<T>(v: &Vec<T>) {
    #[cfg(target_os = "linux")]
    {
        const HUGE: usize = 2 << 20;
        let bytes = v.capacity() * std::mem::size_of::<T>();
        if bytes < 2 * HUGE {
            return;
        }
        let start = (v.as_ptr() as usize).next_multiple_of(HUGE);
        let end = (v.as_ptr() as usize + bytes) / HUGE * HUGE;
        if end > start {
            // SAFETY: the range lies inside `v`'s own allocation, and MADV_HUGEPAGE is
            // advice about how to back it: it never changes the memory's contents.
            unsafe {
                libc::madvise(start as *mut libc::c_void, end - start, libc::MADV_HUGEPAGE);
            }
        }
    }
    #[cfg(not(target_os = "linux"))]
    let _ = v;
}

/// "No node" in [`Resource`]'s `u32` links.
const NO_NODE: u32 = u32::MAX;
/// [`Resource::kids`] of a parsed node whose child list is not built: the node's subtree is
/// still the run of the arena the parser pushed ([`Tree::push_dump_row`]), so its children
/// are that run's top rows ([`ArenaKids`]) and each child's key is `(start, id)` (a list
/// built at parse time is sorted and disjoint, or it is built then, [`Tree::close_dump_row`]).
const ARENA_KIDS: u32 = u32::MAX - 1;

impl Resource {
    /// 1-based line of the dump this node came from, if any.
    pub fn line(&self) -> Option<u32> {
        (self.line != 0).then_some(self.line)
    }
    pub fn set_line(&mut self, line: Option<u32>) {
        self.line = line.unwrap_or(0);
    }
    fn up(&self) -> Option<NodeId> {
        (self.parent != NO_NODE).then_some(NodeId(self.parent))
    }
    fn set_up(&mut self, p: Option<NodeId>) {
        self.parent = p.map_or(NO_NODE, |p| p.0);
    }
    pub fn size(&self) -> u64 {
        self.end.wrapping_sub(self.start).wrapping_add(1)
    }
    pub fn is_busy(&self) -> bool {
        self.flags & flags::IORESOURCE_BUSY != 0
    }
    pub fn contains(&self, start: u64, end: u64) -> bool {
        self.start <= start && end <= self.end
    }
    pub fn overlaps(&self, start: u64, end: u64) -> bool {
        self.start <= end && start <= self.end
    }
}

/// The whole tree: an arena of resources plus the name bytes.
#[derive(Clone, Debug)]
pub struct Tree {
    nodes: Vec<Resource>,
    /// Child lists, by [`Resource`]'s `kids` index. A node keeps its slot here for as long as
    /// its arena slot lives (a reused arena slot reuses it).
    kid_lists: Vec<Kids>,
    names: Vec<u8>,
    /// Slots of released nodes, reused by the next allocations: the arena stays as large as the
    /// most nodes ever linked at once, however long a session runs.
    free_slots: Vec<u32>,
    /// Names interned by operations ([`Tree::intern_shared`]), so that requesting the same name
    /// again does not grow the name arena.
    shared_names: BTreeMap<Box<[u8]>, Name>,
    /// Size of the name arena after the last [`Tree::compact_names`].
    names_compacted: usize,
    seq: u64,
    kind: RootKind,
    /// Every address in the source dump was zero (read without CAP_SYS_ADMIN).
    pub zeroed: bool,
    /// While a session step runs: the inverse of every change made so far, oldest first
    /// ([`Tree::begin_journal`]). `None` outside steps (the parser, benches), where nothing is
    /// recorded.
    journal: Option<Vec<TreeUndo>>,
    /// The arena is the tree in pre-order: ids `1..` are exactly the linked nodes, each
    /// subtree a run of consecutive ids, as the parser builds them ([`Tree::finish_dump_rows`]).
    /// Then a walk reads the arena front to back instead of chasing child lists (issue 12:
    /// printing a million-line dump was a third list-chasing). Any change of a child list
    /// clears it ([`Tree::kids_mut`]); a step's undo puts it back with the lists.
    dump_order: bool,
    /// Nodes whose child list is [`ARENA_KIDS`], not built (issue 12: building every list
    /// was a fifth of a million-line dump's load, and printing it reads none). A list is
    /// built when its node's subtree first changes, with the lists above it
    /// ([`Tree::build_path`]): a command pays for the lists on its path, not for the tree's.
    /// Reads of an unbuilt list walk its arena run ([`KidsRef::Arena`]).
    arena_lists: u32,
}

impl Tree {
    /// An empty tree under `iomem_resource` (`[0, end]`, "PCI mem", MEM) or `ioport_resource`
    /// (`[0, end]`, "PCI IO", IO).
    pub fn new(kind: RootKind, root_end: u64) -> Tree {
        let mut t = Tree {
            nodes: Vec::new(),
            kid_lists: Vec::new(),
            names: Vec::new(),
            free_slots: Vec::new(),
            shared_names: BTreeMap::new(),
            names_compacted: 0,
            seq: 0,
            kind,
            zeroed: false,
            journal: None,
            dump_order: false,
            arena_lists: 0,
        };
        let (name, fl) = match kind {
            RootKind::Iomem => ("PCI mem", flags::IORESOURCE_MEM),
            RootKind::Ioport => ("PCI IO", flags::IORESOURCE_IO),
        };
        let name = t.intern(name.as_bytes());
        t.nodes.push(Resource {
            start: 0,
            end: root_end,
            name,
            flags: fl,
            desc: Desc::None,
            confidence: Confidence::Exact,
            line: 0,
            parent: NO_NODE,
            kids: NO_NODE,
            rows_below: 0,
            unsorted: false,
            freed: false,
        });
        t
    }

    /// `iomem_resource` with `end = 2^phys_bits - 1` (x86 lowers it from all-ones in
    /// `setup_arch`; 64 keeps all-ones).
    pub fn new_iomem(phys_bits: u32) -> Tree {
        let end = if phys_bits >= 64 {
            u64::MAX
        } else {
            (1u64 << phys_bits) - 1
        };
        Tree::new(RootKind::Iomem, end)
    }

    pub const ROOT: NodeId = NodeId(0);

    pub fn root(&self) -> NodeId {
        Self::ROOT
    }
    pub fn kind(&self) -> RootKind {
        self.kind
    }
    /// Minimum hex width of `r_show`: 4 when the root ends below 0x10000, else 8.
    pub fn hex_width(&self) -> usize {
        if self.nodes[0].end < 0x10000 { 4 } else { 8 }
    }

    pub fn get(&self, id: NodeId) -> &Resource {
        &self.nodes[id.0 as usize]
    }
    /// The node to change. Under a journal its fields (not its child list, which only this
    /// module changes) are recorded first, so the step can be undone.
    pub fn get_mut(&mut self, id: NodeId) -> &mut Resource {
        // A change of a row of an unbuilt list's arena run (its start is its key, its
        // parent what the run is read by) would make the list differ from the run: the
        // lists above `id` are built first. A node outside every run (one a command
        // allocated) changes no unbuilt list, whatever its parent field says while an undo
        // puts it back.
        if self.arena_lists > 0
            && self.in_arena_run(id)
            && let Some(p) = self.get(id).up()
        {
            self.build_path(p);
        }
        self.fields_mut(id)
    }

    /// Whether `id` is a row of the arena run of an unbuilt list above it.
    fn in_arena_run(&self, id: NodeId) -> bool {
        let mut cur = self.nodes[id.0 as usize].parent;
        while cur != NO_NODE {
            let a = &self.nodes[cur as usize];
            if a.kids == ARENA_KIDS && cur < id.0 && id.0 <= cur + a.rows_below {
                return true;
            }
            cur = a.parent;
        }
        false
    }

    /// [`Tree::get_mut`] for a change that no child list depends on (flags, desc, name):
    /// leaves unbuilt lists unbuilt.
    fn fields_mut(&mut self, id: NodeId) -> &mut Resource {
        let node = &mut self.nodes[id.0 as usize];
        if let Some(j) = &mut self.journal {
            j.push(TreeUndo::Fields(id, Box::new(Fields::of(node))));
        }
        node
    }
    pub fn parent(&self, id: NodeId) -> Option<NodeId> {
        self.get(id).up()
    }
    pub fn is_linked(&self, id: NodeId) -> bool {
        id == Self::ROOT || self.get(id).up().is_some()
    }
    pub fn is_unsorted(&self, id: NodeId) -> bool {
        self.get(id).unsorted
    }

    /// Add name bytes to the arena.
    pub fn intern(&mut self, bytes: &[u8]) -> Name {
        let off = self.names.len() as u32;
        if let Some(j) = &mut self.journal {
            j.push(TreeUndo::NamesLen(self.names.len()));
        }
        self.names.extend_from_slice(bytes);
        Name {
            off,
            len: bytes.len() as u32,
        }
    }
    pub fn name_bytes(&self, n: Name) -> &[u8] {
        &self.names[n.off as usize..(n.off + n.len) as usize]
    }
    /// The node's name as raw bytes.
    pub fn name_of(&self, id: NodeId) -> &[u8] {
        self.name_bytes(self.get(id).name)
    }
    /// The node's name for display (non-UTF-8 bytes replaced).
    pub fn name_lossy(&self, id: NodeId) -> std::borrow::Cow<'_, str> {
        String::from_utf8_lossy(self.name_of(id))
    }
    pub fn name_is(&self, id: NodeId, s: &str) -> bool {
        self.name_of(id) == s.as_bytes()
    }
    /// Pre-reserve arena space (parsers know the input size).
    pub fn reserve(&mut self, nodes: usize, name_bytes: usize) {
        self.reserve_rows(nodes, name_bytes);
        // Most nodes with children have one or two: about one list per two nodes.
        self.kid_lists.reserve(nodes / 2);
        advise_huge_pages(&self.kid_lists);
    }

    /// [`Tree::reserve`] for rows pushed by [`Tree::push_dump_row`], whose lists stay unbuilt.
    pub(crate) fn reserve_rows(&mut self, nodes: usize, name_bytes: usize) {
        self.nodes.reserve(nodes);
        self.names.reserve(name_bytes);
        advise_huge_pages(&self.nodes);
        advise_huge_pages(&self.names);
    }

    /// Create an unlinked node (the kernel's `alloc_resource` + field setup).
    pub fn alloc(&mut self, start: u64, end: u64, name: &[u8], fl: u32, desc: Desc) -> NodeId {
        let name = self.intern_shared(name);
        self.alloc_named(start, end, name, fl, desc)
    }

    /// Like [`Tree::alloc`] but sharing an existing name (the kernel passes name pointers;
    /// `merge_system_ram_resource` compares them).
    pub fn alloc_named(&mut self, start: u64, end: u64, name: Name, fl: u32, desc: Desc) -> NodeId {
        let mut node = Resource {
            start,
            end,
            name,
            flags: fl,
            desc,
            confidence: Confidence::Exact,
            line: 0,
            parent: NO_NODE,
            kids: NO_NODE,
            rows_below: 0,
            unsorted: false,
            freed: false,
        };
        match self.free_slots.pop() {
            Some(slot) => {
                // The released node's child list (emptied by `free`) serves the new one.
                node.kids = self.nodes[slot as usize].kids;
                let old = std::mem::replace(&mut self.nodes[slot as usize], node);
                if let Some(j) = &mut self.journal {
                    j.push(TreeUndo::FreeSlotPopped(slot));
                    j.push(TreeUndo::Slot(NodeId(slot), Box::new(old)));
                }
                NodeId(slot)
            }
            None => {
                let id = NodeId(self.nodes.len() as u32);
                self.nodes.push(node);
                if let Some(j) = &mut self.journal {
                    j.push(TreeUndo::Pushed);
                }
                id
            }
        }
    }

    /// Release an unlinked node and the subtree still hanging from it (`free_resource`; a
    /// subtree released with its parent is gone from the tree too). Their slots are reused by
    /// later allocations, so a released id must not be used after the next `alloc`.
    pub fn free(&mut self, id: NodeId) {
        debug_assert!(self.get(id).up().is_none());
        if id == Self::ROOT || self.get(id).freed {
            return;
        }
        let below: Vec<NodeId> = self.descendants(id).collect();
        for n in below.into_iter().chain(std::iter::once(id)) {
            self.get_mut(n).freed = true;
            self.kids_replace(n, Kids::new());
            self.free_slots.push(n.0);
            if let Some(j) = &mut self.journal {
                j.push(TreeUndo::FreeSlotPushed);
            }
        }
    }

    /// Drop the bytes of names no live node uses any more, once the arena has doubled since the
    /// last time (so the cost is amortised O(1) per byte interned). Call it only between
    /// operations: it moves names, so a [`Name`] held across the call would be stale. Nodes
    /// sharing a name still share it afterwards.
    pub fn compact_names(&mut self) {
        if self.names.len() < 2 * self.names_compacted + 4096 {
            return;
        }
        if self.journal.is_some() {
            // Under a journal the old arena is kept whole (with every node's old name) in
            // one record: compaction runs once per doubling, so this stays amortised O(1).
            let old = NamesState {
                names: self.names.clone(),
                shared: self.shared_names.clone(),
                compacted: self.names_compacted,
                of_nodes: self.nodes.iter().map(|r| r.name).collect(),
            };
            if let Some(j) = &mut self.journal {
                j.push(TreeUndo::Names(Box::new(old)));
            }
        }
        let mut remap: std::collections::HashMap<Name, Name> = std::collections::HashMap::new();
        let mut names = Vec::with_capacity(self.names.len() / 2);
        for i in 0..self.nodes.len() {
            if self.nodes[i].freed {
                continue;
            }
            let old = self.nodes[i].name;
            let new = *remap.entry(old).or_insert_with(|| {
                let off = names.len() as u32;
                names
                    .extend_from_slice(&self.names[old.off as usize..(old.off + old.len) as usize]);
                Name { off, len: old.len }
            });
            self.nodes[i].name = new;
        }
        self.shared_names.retain(|_, n| match remap.get(n) {
            Some(new) => {
                *n = *new;
                true
            }
            None => false,
        });
        self.names = names;
        self.names_compacted = self.names.len();
    }

    /// Intern a name an operation passes (a driver's name string): the same bytes give the same
    /// [`Name`], as a driver passes the same pointer. The parser uses [`Tree::intern`] instead
    /// (no lookup per line).
    pub fn intern_shared(&mut self, bytes: &[u8]) -> Name {
        if let Some(n) = self.shared_names.get(bytes) {
            return *n;
        }
        let n = self.intern(bytes);
        self.shared_names.insert(bytes.into(), n);
        if let Some(j) = &mut self.journal {
            j.push(TreeUndo::SharedName(bytes.into()));
        }
        n
    }

    /// Make `id`'s name *the* shared object for its bytes, the one [`Tree::intern_shared`]
    /// hands out: a dump's resource whose name the kernel passes as a string literal (virtio-mem's
    /// `kstrdup_const("System RAM (virtio_mem)")`, which returns the literal itself) has the
    /// same name pointer as the ones a driver adds later, which `system_ram_resources_mergeable`
    /// compares. The node's own bytes become the shared copy when there is none yet.
    pub fn share_name(&mut self, id: NodeId) {
        let bytes: Box<[u8]> = self.name_of(id).into();
        match self.shared_names.get(&bytes) {
            Some(&n) => {
                if self.get(id).name != n {
                    self.fields_mut(id).name = n;
                }
            }
            None => {
                let n = self.get(id).name;
                if let Some(j) = &mut self.journal {
                    j.push(TreeUndo::SharedName(bytes.clone()));
                }
                self.shared_names.insert(bytes, n);
            }
        }
    }

    /// Number of linked resources below the root (the root itself not counted).
    pub fn len(&self) -> usize {
        self.get(Self::ROOT).rows_below as usize
    }

    /// Is `id` in the tree: each node on the way up is in its parent's child list, up to the
    /// root? (A released node may still point at a parent whose slot was reused.)
    pub fn in_tree(&self, id: NodeId) -> bool {
        let mut cur = id;
        loop {
            if cur == Self::ROOT {
                return true;
            }
            let Some(r) = self.nodes.get(cur.0 as usize) else {
                return false;
            };
            let Some(p) = r.up().filter(|_| !r.freed) else {
                return false;
            };
            if self.key_in(p, cur).is_none() {
                return false;
            }
            cur = p;
        }
    }

    /// Linked nodes below `id` (its subtree's rows after its own).
    pub fn rows_below(&self, id: NodeId) -> usize {
        self.get(id).rows_below as usize
    }

    /// The 0-based row of a linked node in `/proc/iomem` (pre-order, the root not counted):
    /// along the path up, each earlier sibling's subtree plus each ancestor's own row. The
    /// earlier siblings' rows are summed from whichever side of the node is shorter (the
    /// parent's count gives the other side), so a node near either end of a long list — a
    /// block hot-added above the last one — costs a few siblings, one in the middle half the
    /// list (a binary search would need sums kept per list entry).
    pub fn row_of(&self, id: NodeId) -> usize {
        let mut row = 0usize;
        let mut cur = id;
        while let Some(p) = self.get(cur).up() {
            let Some(key) = self.key_in(p, cur) else {
                break;
            };
            let kids = self.kids(p);
            let rows = |(_, c): (ChildKey, NodeId)| 1 + self.get(c).rows_below as usize;
            let mut before = kids.range(..key).rev();
            let mut after = kids.range((Bound::Excluded(key), Bound::Unbounded));
            let (mut sb, mut sa) = (0usize, 0usize);
            let earlier = loop {
                match before.next() {
                    None => break sb,
                    Some(e) => sb += rows(e),
                }
                match after.next() {
                    None => {
                        // Everything after is counted: the rest is before.
                        let own = 1 + self.get(cur).rows_below as usize;
                        break self.get(p).rows_below as usize - own - sa;
                    }
                    Some(e) => sa += rows(e),
                }
            };
            row += earlier;
            if p != Self::ROOT {
                row += 1;
            }
            cur = p;
        }
        row
    }

    /// The row after `id` in `/proc/iomem` order (`r_next`): its first child, else the next
    /// sibling of it or of its nearest ancestor that has one.
    pub fn next_row(&self, id: NodeId) -> Option<NodeId> {
        if let Some(c) = self.first_child(id) {
            return Some(c);
        }
        let mut cur = id;
        loop {
            if cur == Self::ROOT {
                return None;
            }
            if let Some(s) = self.next_sibling(cur) {
                return Some(s);
            }
            cur = self.get(cur).up()?;
        }
    }

    /// The row before `id`: the last row of the previous sibling's subtree, else the parent
    /// (none for the first row).
    pub fn prev_row(&self, id: NodeId) -> Option<NodeId> {
        match self.prev_sibling(id) {
            Some(mut s) => {
                while let Some(l) = self.kids(s).values().next_back() {
                    s = l;
                }
                Some(s)
            }
            None => self.get(id).up().filter(|&p| p != Self::ROOT),
        }
    }

    /// Every linked node's row count equals its subtree (the invariant `row_of` and `len`
    /// rely on; for tests).
    pub fn rows_consistent(&self) -> bool {
        let mut ok = true;
        for (id, _) in self
            .walk_lists(Self::ROOT)
            .chain(std::iter::once((Self::ROOT, 0)))
        {
            ok &= self.walk_lists(id).count() == self.get(id).rows_below as usize;
        }
        ok
    }
    pub fn is_empty(&self) -> bool {
        self.kids(Self::ROOT).is_empty()
    }

    // ---------------------------------------------------------------- child lists

    /// Children in list order (the order `/proc/iomem` prints them).
    pub fn children(&self, p: NodeId) -> impl DoubleEndedIterator<Item = NodeId> + '_ {
        self.kids(p).values()
    }
    pub fn child_count(&self, p: NodeId) -> usize {
        self.kids(p).len()
    }
    pub fn first_child(&self, p: NodeId) -> Option<NodeId> {
        self.children(p).next()
    }
    pub fn has_children(&self, p: NodeId) -> bool {
        !self.kids(p).is_empty()
    }
    /// The next sibling in list order (`res->sibling`).
    pub fn next_sibling(&self, id: NodeId) -> Option<NodeId> {
        let p = self.get(id).up()?;
        let key = self.key_in(p, id)?;
        self.kids(p)
            .range((Bound::Excluded(key), Bound::Unbounded))
            .next()
            .map(|(_, v)| v)
    }
    /// The previous sibling in list order.
    pub fn prev_sibling(&self, id: NodeId) -> Option<NodeId> {
        let p = self.get(id).up()?;
        let key = self.key_in(p, id)?;
        self.kids(p).range(..key).next_back().map(|(_, v)| v)
    }

    /// Children of `p` in list order, starting at the first one the kernel's linear scan for a
    /// range beginning at `start` would not skip with `child.end < start`. In a sorted list that
    /// is found by binary search; in an unsorted one it is the first child (the caller's scan
    /// then skips exactly what the kernel would).
    pub fn scan_from(&self, p: NodeId, start: u64) -> impl Iterator<Item = NodeId> + '_ {
        self.scan_keyed_from(p, start).map(|(_, c)| c)
    }

    /// [`Tree::scan_from`] with each child's place in the list, for [`Tree::unlink_at`].
    pub fn scan_keyed_from(
        &self,
        p: NodeId,
        start: u64,
    ) -> impl Iterator<Item = (ListPos, NodeId)> + '_ {
        let kids = self.kids(p);
        // `first`: the child the scan begins with, when the search found it already; `rest`:
        // where the entries after it begin, searched only if the caller reads on (a release,
        // or a conflict, stops at the first: one B-tree descent instead of two).
        let (first, rest) = if self.get(p).unsorted {
            (None, Bound::Unbounded)
        } else {
            // The last child starting at or before `start` may still reach it.
            match kids.range(..=(start, u64::MAX)).next_back() {
                Some((k, c)) if self.get(c).end >= start => (Some((k, c)), Bound::Excluded(k)),
                Some((k, _)) => (None, Bound::Excluded(k)),
                None => (None, Bound::Unbounded),
            }
        };
        first
            .into_iter()
            .chain(std::iter::once_with(move || kids.range((rest, Bound::Unbounded))).flatten())
            .map(|(k, v)| (ListPos(k), v))
    }

    /// Link unlinked `new` into `p`'s list right before `before` (or at the end). The caller
    /// (a kernel operation) decided the position by the kernel's rules.
    pub fn link_before(&mut self, p: NodeId, new: NodeId, before: Option<NodeId>) {
        debug_assert!(self.get(new).up().is_none() && !self.get(new).freed);
        // The list is about to change: its lookups below are the built list's.
        self.build_path(p);
        let (before_key, prev) = self.key_and_previous(p, before);
        self.link_keyed(p, new, before, before_key, prev);
    }

    /// The child of `p` starting last at or before `start`, with its place: in a sorted list
    /// ([`Tree::is_unsorted`] false), where the kernel's scan for a range beginning at `start`
    /// stops skipping (every child before it ends before it starts). One B-tree descent.
    pub fn last_starting_by(&self, p: NodeId, start: u64) -> Option<(ListPos, NodeId)> {
        debug_assert!(!self.get(p).unsorted);
        self.kids(p)
            .range(..=(start, u64::MAX))
            .next_back()
            .map(|(k, v)| (ListPos(k), v))
    }

    /// The child after `pos` in `p`'s list (the first child for `None`), with its place.
    pub fn entry_after(&self, p: NodeId, pos: Option<ListPos>) -> Option<(ListPos, NodeId)> {
        let lo = pos.map_or(Bound::Unbounded, |ListPos(k)| Bound::Excluded(k));
        self.kids(p)
            .range((lo, Bound::Unbounded))
            .next()
            .map(|(k, v)| (ListPos(k), v))
    }

    /// [`Tree::link_before`] `next` when the caller has just found both neighbours of the new
    /// child's place ([`Tree::last_starting_by`], [`Tree::entry_after`]; `None`: the list's
    /// start or end), with no change to the list since: the link takes one B-tree descent
    /// (the insert), not three (issue 12).
    pub fn link_between(
        &mut self,
        p: NodeId,
        new: NodeId,
        prev: Option<(ListPos, NodeId)>,
        next: Option<(ListPos, NodeId)>,
    ) {
        debug_assert!(self.get(new).up().is_none() && !self.get(new).freed);
        // Building an arena list keeps its keys (`(start, id)` in a sorted run), so the places
        // found before the build are the built list's.
        self.build_path(p);
        let prev = prev.map(|(ListPos(k), v)| (k, v));
        debug_assert_eq!(
            self.key_and_previous(p, next.map(|(_, v)| v)),
            (next.map(|(ListPos(k), _)| k), prev),
            "link_between: the neighbours are not adjacent in the list"
        );
        let before_key = next.map(|(ListPos(k), _)| k);
        self.link_keyed(p, new, next.map(|(_, v)| v), before_key, prev);
    }

    /// Link `new` into `p` before `before` (key `before_key` when listed) and after `prev`.
    fn link_keyed(
        &mut self,
        p: NodeId,
        new: NodeId,
        before: Option<NodeId>,
        before_key: Option<ChildKey>,
        prev: Option<(ChildKey, NodeId)>,
    ) {
        let prev_key = prev.map(|(k, _)| k);
        let start = self.get(new).start;
        self.seq += 1;
        let key0 = prev_key.map_or(start, |k| k.0.max(start));
        let key = (key0, self.seq);
        let fits = match before_key {
            Some(bk) => key < bk,
            None => true,
        };
        self.get_mut(new).set_up(Some(p));
        if fits && prev_key.is_none_or(|k| k < key) {
            self.kids_insert(p, key, new);
            // The mark `set_children` would give this list (its start behind the list's keys,
            // an overlap with either neighbour, or an inverted range): the rules then scan it
            // as the kernel does instead of trusting a binary search. The neighbours are
            // `prev` and `before` (the new key sorts right between theirs), without a lookup.
            let end = self.get(new).end;
            let prev_end = prev.map(|(_, v)| self.get(v).end);
            let next_start = before_key.and(before).map(|b| self.get(b).start);
            if (key0 != start
                || end < start
                || prev_end.is_some_and(|pe| start <= pe)
                || next_start.is_some_and(|ns| ns <= end))
                && !self.get(p).unsorted
            {
                self.get_mut(p).unsorted = true;
            }
        } else {
            // Only reachable in unsorted lists: renumber the whole list.
            let mut order: Vec<NodeId> = self.children(p).collect();
            let pos = match before {
                Some(b) => order.iter().position(|&c| c == b).unwrap_or(order.len()),
                None => order.len(),
            };
            order.insert(pos, new);
            self.set_children(p, &order);
        }
    }

    /// `before`'s key in `p`'s list and the entry before it (the last entry when `before` is
    /// `None` or not listed). Both come from one range query ending at `before`'s start when
    /// `before` is the last entry there (a sorted list; a million-entry top level pays each
    /// B-tree descent in cache misses), else through [`Tree::key_in`].
    fn key_and_previous(
        &self,
        p: NodeId,
        before: Option<NodeId>,
    ) -> (Option<ChildKey>, Option<(ChildKey, NodeId)>) {
        let kids = self.kids(p);
        let Some(b) = before else {
            return (None, kids.last());
        };
        let s = self.get(b).start;
        let mut it = kids.range(..=(s, u64::MAX)).rev();
        if let Some((k, v)) = it.next()
            && v == b
        {
            return (Some(k), it.next());
        }
        match self.key_in(p, b) {
            Some(bk) => (Some(bk), kids.range(..bk).next_back()),
            None => (None, kids.last()),
        }
    }

    /// Link `new` into `p` at the position its start sorts to (end of the run of equal starts).
    pub fn link_sorted(&mut self, p: NodeId, new: NodeId) {
        let start = self.get(new).start;
        let before = if self.get(p).unsorted {
            self.children(p).find(|&c| self.get(c).start > start)
        } else {
            self.kids(p)
                .range((start, u64::MAX)..)
                .next()
                .map(|(_, v)| v)
        };
        self.link_before(p, new, before);
    }

    /// Replace `p`'s child list with `order` (exactly that order), re-keying every child and
    /// recomputing whether the list is sorted and disjoint.
    pub fn set_children(&mut self, p: NodeId, order: &[NodeId]) {
        let old: Vec<NodeId> = self.children(p).collect();
        for c in old {
            self.get_mut(c).set_up(None);
        }
        self.kids_replace(p, Kids::new());
        self.fill_children(p, order);
    }

    /// Key `order` as `p`'s list (keys strictly increase, so the entries are built already
    /// sorted, in one allocation of the exact size) and recompute whether it is sorted and
    /// disjoint.
    fn fill_children(&mut self, p: NodeId, order: &[NodeId]) {
        if let [c] = *order {
            // One child (most parents): no entry vector to build and drop.
            self.seq += 1;
            let r = self.get(c);
            let unsorted = r.end < r.start;
            let key = (r.start, self.seq);
            self.get_mut(c).set_up(Some(p));
            self.kids_replace(p, Kids::One((key, c)));
            self.get_mut(p).unsorted = unsorted;
            return;
        }
        let mut entries: Vec<(ChildKey, NodeId)> = Vec::with_capacity(order.len());
        let mut unsorted = false;
        let mut prev: Option<(u64, u64)> = None; // (key0, end of previous)
        for &c in order {
            self.seq += 1;
            let (s, e) = (self.get(c).start, self.get(c).end);
            let key0 = match prev {
                Some((k0, pend)) => {
                    if s < k0 || s <= pend {
                        unsorted = true;
                    }
                    k0.max(s)
                }
                None => s,
            };
            if e < s {
                unsorted = true;
            }
            prev = Some((key0, e));
            let key = (key0, self.seq);
            self.get_mut(c).set_up(Some(p));
            entries.push((key, c));
        }
        self.kids_replace(p, Kids::from_sorted(entries));
        self.get_mut(p).unsorted = unsorted;
    }

    // ------------------------------------------------ the parser's pre-order rows

    /// Append the next row of a dump, below `parent` (the root or an open row: one whose
    /// subtree [`Tree::close_dump_row`] has not closed), for a builder that reads the rows in
    /// `/proc/iomem` order into a fresh tree (the parser's fast path). The row is linked
    /// without a child list: its parent's list is unbuilt ([`ARENA_KIDS`]) until a change
    /// below it builds it ([`Tree::build_path`]). The `unsorted` mark is the one [`Tree::set_children`] would give.
    pub(crate) fn push_dump_row(
        &mut self,
        start: u64,
        end: u64,
        name: Name,
        line: u32,
        parent: NodeId,
    ) -> NodeId {
        debug_assert!(self.journal.is_none());
        let id = self.nodes.len() as u32;
        let last = id - 1;
        let prev = if last == parent.0 {
            None
        } else {
            // The previous sibling is the child of `parent` holding the row just before.
            Some(self.up_to(last, parent.0))
        };
        let unsorted = end < start
            || prev.is_some_and(|s| {
                let s = &self.nodes[s as usize];
                start <= s.end || start < s.start
            });
        let p = &mut self.nodes[parent.0 as usize];
        if p.kids == NO_NODE {
            p.kids = ARENA_KIDS;
            self.arena_lists += 1;
        }
        // Once a list is unsorted the keys run ahead of the starts; the mark stays.
        p.unsorted |= unsorted;
        self.nodes.push(Resource {
            start,
            end,
            name,
            flags: 0,
            desc: Desc::None,
            confidence: Confidence::Exact,
            line,
            parent: parent.0,
            kids: NO_NODE,
            rows_below: 0,
            unsorted: false,
            freed: false,
        });
        NodeId(id)
    }

    /// Every row of `id`'s subtree has been pushed: its row count is the rows since. A list
    /// that is not sorted and disjoint is built now (rare: a dump that broke invariant 3), so
    /// an unbuilt list's keys are its children's starts.
    pub(crate) fn close_dump_row(&mut self, id: NodeId) {
        let last = self.nodes.len() as u32 - 1;
        let r = &mut self.nodes[id.0 as usize];
        r.rows_below = last - id.0;
        if r.unsorted && r.kids == ARENA_KIDS {
            self.build_arena_list(id);
        }
    }

    /// The last row was pushed: close the root and mark the arena as the tree in pre-order;
    /// the child lists stay unbuilt ([`ARENA_KIDS`]). Built, a list's keys are
    /// `(max(start, previous key), id)`: the ids of a list increase along it, as the seqs of
    /// [`Tree::set_children`] do, and `seq` starts above every id, so every later key is fresh.
    pub(crate) fn finish_dump_rows(&mut self) {
        self.close_dump_row(Self::ROOT);
        self.seq = self.nodes.len() as u64;
        self.dump_order = true;
        debug_assert!(
            self.walk_lists(Self::ROOT)
                .map(|(id, _)| id.0)
                .eq(1..self.nodes.len() as u32),
            "finish_dump_rows on rows that are not in pre-order"
        );
    }

    /// Flags, desc and confidence decided by the inference rules: no list depends on them,
    /// so unbuilt lists stay unbuilt.
    pub(crate) fn set_inferred(&mut self, id: NodeId, fl: u32, desc: Desc, c: Confidence) {
        let r = self.fields_mut(id);
        r.flags = fl;
        r.desc = desc;
        r.confidence = c;
    }

    /// The ancestor of `x` (or `x` itself) whose parent is `p`, which must be above it.
    fn up_to(&self, mut x: u32, p: u32) -> u32 {
        loop {
            let up = self.nodes[x as usize].parent;
            if up == p {
                return x;
            }
            x = up;
        }
    }

    /// Build `p`'s list (and those above it) now, for a caller about to search it many
    /// times: an unbuilt list is read child after child down its arena run, each step waiting
    /// on the last one's row count; a built list's children are read independently.
    pub fn build_list(&mut self, p: NodeId) {
        self.build_path(p);
    }

    /// Build the unbuilt lists of `p` and of every node above it, before a change below them
    /// (the lists off the path stay unbuilt: their subtrees are still their arena runs).
    #[inline]
    fn build_path(&mut self, p: NodeId) {
        if self.arena_lists == 0 {
            return;
        }
        let mut cur = p.0;
        while cur != NO_NODE {
            let r = &self.nodes[cur as usize];
            let up = r.parent;
            if r.kids == ARENA_KIDS {
                self.build_arena_list(NodeId(cur));
            }
            cur = up;
        }
    }

    /// Build `p`'s unbuilt list from its arena run: its children in id order (which is list
    /// order), keyed `(max(start, previous key), id)`, as [`Tree::finish_dump_rows`] says.
    /// Under a journal the build is recorded, and undone by putting the run back.
    #[cold]
    fn build_arena_list(&mut self, p: NodeId) {
        debug_assert_eq!(self.nodes[p.0 as usize].kids, ARENA_KIDS);
        let mut key0 = 0;
        let entries: Vec<(ChildKey, NodeId)> = ArenaKids::new(self, p)
            .enumerate()
            .map(|(i, c)| {
                let start = self.nodes[c.0 as usize].start;
                key0 = if i == 0 { start } else { key0.max(start) };
                ((key0, u64::from(c.0)), c)
            })
            .collect();
        let k = self.kid_lists.len() as u32;
        self.kid_lists.push(Kids::from_sorted(entries));
        self.nodes[p.0 as usize].kids = k;
        self.arena_lists -= 1;
        if let Some(j) = &mut self.journal {
            j.push(TreeUndo::Built(p));
        }
    }

    /// Build every unbuilt list (for tests: a tree with each list built, to compare with).
    #[cfg(test)]
    pub(crate) fn build_all_lists(&mut self) {
        for i in 0..self.nodes.len() {
            if self.nodes[i].kids == ARENA_KIDS {
                self.build_arena_list(NodeId(i as u32));
            }
        }
    }

    /// How many lists are unbuilt (for tests).
    #[cfg(test)]
    pub(crate) fn unbuilt_lists(&self) -> usize {
        self.arena_lists as usize
    }

    /// Number of arena slots (linked, unlinked and released nodes, the root included): ids
    /// `0..arena_len()` are valid for [`Tree::get`].
    pub fn arena_len(&self) -> usize {
        self.nodes.len()
    }

    /// Unlink `id` from its parent; its subtree stays attached to it (`__release_resource`
    /// with `release_child = true`). Returns false when it was not linked.
    pub fn unlink(&mut self, id: NodeId) -> bool {
        let Some(p) = self.get(id).up() else {
            return false;
        };
        if let Some(key) = self.key_in(p, id) {
            self.kids_remove(p, key);
        }
        self.get_mut(id).set_up(None);
        true
    }

    /// [`Tree::unlink`] of `id` at `pos`, its place in its parent's list as a scan of the
    /// unchanged list gave it: no search for its key (issue 12: in a million-entry list each
    /// search is a B-tree descent in cache misses).
    pub fn unlink_at(&mut self, id: NodeId, pos: ListPos) -> bool {
        let Some(p) = self.get(id).up() else {
            return false;
        };
        debug_assert_eq!(self.key_in(p, id), Some(pos.0));
        self.kids_remove(p, pos.0);
        self.get_mut(id).set_up(None);
        true
    }

    /// Move `id`'s children into its parent's list at `id`'s position and unlink `id`
    /// (`__release_resource` with `release_child = false`, i.e. `remove_resource`). The
    /// children are linked one by one before `id`'s next sibling, so a long parent list is
    /// not re-keyed (issue 12); [`Tree::link_before`] marks the list unsorted if a lifted
    /// child overlaps its new neighbours. A mark `id` had caused stays: it costs the kernel's
    /// linear scan, never a different answer.
    pub fn unlink_lifting_children(&mut self, id: NodeId) -> bool {
        let Some(p) = self.get(id).up() else {
            return false;
        };
        let kids: Vec<NodeId> = self.children(id).collect();
        if kids.is_empty() {
            return self.unlink(id);
        }
        let before = self.next_sibling(id);
        self.kids_replace(id, Kids::new());
        for &k in &kids {
            self.get_mut(k).set_up(None);
        }
        self.unlink(id);
        for &k in &kids {
            self.link_before(p, k, before);
        }
        true
    }

    /// Replace the run `run` (consecutive children of `p`, in list order) by `new`, which
    /// adopts them as its children (the adoption step of `__insert_resource`).
    pub fn adopt_run(&mut self, p: NodeId, new: NodeId, run: &[NodeId]) {
        debug_assert!(!run.is_empty());
        let before = self.next_sibling(*run.last().unwrap_or(&new));
        for &c in run {
            self.unlink(c);
        }
        self.link_before(p, new, before);
        self.set_children(new, run);
    }

    /// Change a linked node's range in place (`__adjust_resource` after its checks passed:
    /// the list position is unchanged).
    pub fn set_range(&mut self, id: NodeId, start: u64, end: u64) {
        match self.get(id).up() {
            None => {
                // Unlinked (or the root): in no list, so unbuilt lists stay unbuilt.
                let n = self.fields_mut(id);
                n.start = start;
                n.end = end;
            }
            Some(p) => {
                let before = self.next_sibling(id);
                self.unlink(id);
                let n = self.get_mut(id);
                n.start = start;
                n.end = end;
                self.link_before(p, id, before);
            }
        }
    }

    // ---------------------------------------------------------------- walks

    /// Depth-first pre-order over the subtree below `top` (not including `top`), in the order
    /// `r_next` prints `/proc/iomem`, with each node's depth (top's children have depth 0).
    pub fn walk(&self, top: NodeId) -> Walk<'_> {
        if self.dump_order || self.get(top).kids == ARENA_KIDS {
            // `top`'s subtree is the run of ids after it, `rows_below` long.
            Walk::run(self, top)
        } else {
            // Down the lists, and along the arena below each list still unbuilt.
            Walk {
                runs: true,
                ..self.walk_lists(top)
            }
        }
    }

    /// [`Tree::walk`] by the child lists only, whatever the arena's order.
    fn walk_lists(&self, top: NodeId) -> Walk<'_> {
        Walk {
            tree: self,
            stack: vec![self.kids(top).values()],
            runs: false,
            next: 1,
            last: 0,
            path: Vec::new(),
            base: 0,
        }
    }

    /// Whether [`Tree::walk`] reads the arena, and whether it then agrees, below every node,
    /// with the walk down the child lists (for tests).
    #[cfg(test)]
    pub(crate) fn arena_walk_agrees(&self) -> (bool, bool) {
        let agree = std::iter::once(Self::ROOT)
            .chain(self.walk_lists(Self::ROOT).map(|(id, _)| id))
            .all(|top| {
                self.walk(top).eq(self.walk_lists(top))
                    && self
                        .descendants(top)
                        .eq(self.walk_lists(top).map(|(id, _)| id))
            });
        (self.dump_order, agree)
    }

    /// All linked nodes below `top`, pre-order. Where [`Tree::walk`] would read one arena run
    /// (a parsed, unchanged subtree), the ids are just the run's, without the depth that
    /// the walk keeps track of (issue 12: booting a million-line dump walks it once).
    pub fn descendants(&self, top: NodeId) -> Descendants<'_> {
        if self.dump_order || self.get(top).kids == ARENA_KIDS {
            Descendants::Run(top.0 + 1..=top.0 + self.get(top).rows_below)
        } else {
            Descendants::Walk(self.walk(top))
        }
    }

    /// Ancestors from the parent up to (and including) the root.
    pub fn ancestors(&self, id: NodeId) -> impl Iterator<Item = NodeId> + '_ {
        std::iter::successors(self.get(id).up(), move |&p| self.get(p).up())
    }

    /// Depth below the root (top-level nodes are 0).
    pub fn depth(&self, id: NodeId) -> usize {
        self.ancestors(id).count().saturating_sub(1)
    }

    /// Linked nodes whose range contains `addr`, outermost first, following the tree (the path
    /// from the top, as `find ADDR` prints it).
    pub fn path_to(&self, addr: u64) -> Vec<NodeId> {
        let mut path = Vec::new();
        let mut p = Self::ROOT;
        loop {
            let next = self
                .scan_from(p, addr)
                .take_while(|&c| self.get(p).unsorted || self.get(c).start <= addr)
                .find(|&c| self.get(c).start <= addr && addr <= self.get(c).end);
            match next {
                Some(c) => {
                    path.push(c);
                    p = c;
                }
                None => return path,
            }
        }
    }

    /// First linked node (pre-order) with exactly this range.
    pub fn find_range(&self, start: u64, end: u64) -> Option<NodeId> {
        self.descendants(Self::ROOT)
            .find(|&id| self.get(id).start == start && self.get(id).end == end)
    }

    /// First linked node (pre-order) with this name.
    pub fn find_name(&self, name: &str) -> Option<NodeId> {
        self.descendants(Self::ROOT)
            .find(|&id| self.name_is(id, name))
    }

    /// Structural equality: same shape, ranges, names, flags and desc (ids may differ).
    pub fn same_as(&self, other: &Tree) -> bool {
        let a = self.walk(Self::ROOT);
        let mut b = other.walk(Self::ROOT);
        for (x, dx) in a {
            let Some((y, dy)) = b.next() else {
                return false;
            };
            let (rx, ry) = (self.get(x), other.get(y));
            if dx != dy
                || rx.start != ry.start
                || rx.end != ry.end
                || rx.flags != ry.flags
                || rx.desc != ry.desc
                || self.name_of(x) != other.name_of(y)
            {
                return false;
            }
        }
        b.next().is_none() && self.get(Self::ROOT).end == other.get(Self::ROOT).end
    }
}

// ------------------------------------------------------------------- the undo journal

/// A node's fields apart from its child list: what [`Tree::get_mut`] records before a change.
#[derive(Clone, Debug)]
struct Fields {
    start: u64,
    end: u64,
    name: Name,
    flags: u32,
    desc: Desc,
    confidence: Confidence,
    line: u32,
    parent: u32,
    unsorted: bool,
    freed: bool,
}

impl Fields {
    fn of(r: &Resource) -> Fields {
        Fields {
            start: r.start,
            end: r.end,
            name: r.name,
            flags: r.flags,
            desc: r.desc,
            confidence: r.confidence,
            line: r.line,
            parent: r.parent,
            unsorted: r.unsorted,
            freed: r.freed,
        }
    }
    fn put(self, r: &mut Resource) {
        let Fields {
            start,
            end,
            name,
            flags,
            desc,
            confidence,
            line,
            parent,
            unsorted,
            freed,
        } = self;
        (r.start, r.end, r.name, r.flags, r.desc) = (start, end, name, flags, desc);
        (r.confidence, r.line, r.parent) = (confidence, line, parent);
        (r.unsorted, r.freed) = (unsorted, freed);
    }
}

/// The name arena as it was before [`Tree::compact_names`] moved it.
#[derive(Clone, Debug)]
struct NamesState {
    names: Vec<u8>,
    shared: BTreeMap<Box<[u8]>, Name>,
    compacted: usize,
    of_nodes: Vec<Name>,
}

/// The inverse of one change to the tree. A journal is a list of them; undoing applies them
/// newest first, each putting back exactly what its change replaced.
#[derive(Clone, Debug)]
enum TreeUndo {
    /// The tree's counters when the journal began (restored last).
    Scalars {
        seq: u64,
        compacted: usize,
        zeroed: bool,
        dump_order: bool,
    },
    /// Put back a node's fields.
    Fields(NodeId, Box<Fields>),
    /// Take out the child entry that was inserted.
    KidInserted(NodeId, ChildKey),
    /// Put back the child entry that was removed.
    KidRemoved(NodeId, ChildKey, NodeId),
    /// Put back a whole child list that was replaced.
    Kids(NodeId, Kids),
    /// Take back the child-list slot given to a node ([`Tree::kids_mut`]).
    KidsSlotPushed(NodeId),
    /// Put back the unbuilt list that was built ([`Tree::build_arena_list`]): by then every
    /// later change is undone, so the list is its arena run again. Its redo needs no record:
    /// the redone change builds it again.
    Built(NodeId),
    /// Give the node back the child-list slot an undo took (redo of `KidsSlotPushed`).
    KidsSlotPopped(NodeId, Kids),
    /// Drop the node pushed onto the arena.
    Pushed,
    /// Put back what a reused arena slot held.
    Slot(NodeId, Box<Resource>),
    /// Cut the name arena back to this length.
    NamesLen(usize),
    /// Put back the arena [`Tree::compact_names`] replaced.
    Names(Box<NamesState>),
    /// Forget the name interned for an operation.
    SharedName(Box<[u8]>),
    /// Pop the slot pushed onto the free list.
    FreeSlotPushed,
    /// Push back the slot taken from the free list.
    FreeSlotPopped(u32),
    /// Push back the node an undo dropped from the arena (redo of [`TreeUndo::Pushed`]).
    Repush(Box<Resource>),
    /// Append back the name bytes an undo cut (redo of [`TreeUndo::NamesLen`]).
    NamesCut(Vec<u8>),
    /// Put back the interned name an undo forgot (redo of [`TreeUndo::SharedName`]).
    SharedNameBack(Box<[u8]>, Name),
}

/// What one session step changed in a tree, as the list of inverse changes: applying it
/// ([`Tree::undo`]) gives the tree before the step back, and returns the journal that redoes
/// the step. Its size is the step's change, not the tree's (issue 12).
#[derive(Clone, Debug, Default)]
pub struct TreeJournal {
    ops: Vec<TreeUndo>,
}

impl TreeJournal {
    /// Number of recorded inverse changes.
    pub fn len(&self) -> usize {
        self.ops.len()
    }
    pub fn is_empty(&self) -> bool {
        self.ops.len() <= 1
    }
    /// Nodes whose fields or child list the step changed (ids of this tree; a node may appear
    /// more than once). A node added by the step shows up through its parent's child list.
    pub fn touched(&self) -> impl Iterator<Item = NodeId> + '_ {
        self.ops.iter().filter_map(|op| match op {
            TreeUndo::Fields(id, _)
            | TreeUndo::KidInserted(id, _)
            | TreeUndo::KidRemoved(id, _, _)
            | TreeUndo::Kids(id, _)
            | TreeUndo::Slot(id, _) => Some(*id),
            _ => None,
        })
    }
    /// Approximate heap bytes the journal holds (for the history bound).
    pub fn heap_bytes(&self) -> usize {
        let per = std::mem::size_of::<TreeUndo>();
        self.ops
            .iter()
            .map(|op| match op {
                TreeUndo::Fields(..) => per + std::mem::size_of::<Fields>(),
                TreeUndo::Kids(_, k) | TreeUndo::KidsSlotPopped(_, k) => per + k.len() * 24,
                TreeUndo::Slot(..) => per + std::mem::size_of::<Resource>(),
                TreeUndo::Names(n) => {
                    per + n.names.len() + n.of_nodes.len() * 8 + n.shared.len() * 48
                }
                TreeUndo::SharedName(b) => per + b.len(),
                _ => per,
            })
            .sum()
    }
}

impl Tree {
    /// Start recording the inverse of every change (a session step begins). A journal
    /// already running is kept: nested steps record into the outer one.
    pub fn begin_journal(&mut self) {
        if self.journal.is_none() {
            self.journal = Some(vec![TreeUndo::Scalars {
                seq: self.seq,
                compacted: self.names_compacted,
                zeroed: self.zeroed,
                dump_order: self.dump_order,
            }]);
            // A parsed tree holds no dead names: count compaction's doubling from here, or
            // the first step would copy the whole arena into its journal.
            if self.names_compacted == 0 {
                self.names_compacted = self.names.len();
            }
        }
    }

    /// Take `p`'s list slot back (the last one, as every slot pushed since was taken back
    /// first) and mark `p`'s list `kids` ([`NO_NODE`] or [`ARENA_KIDS`]); returns the list.
    fn take_slot(&mut self, p: NodeId, kids: u32) -> Kids {
        let k = std::mem::replace(&mut self.nodes[p.0 as usize].kids, kids) as usize;
        debug_assert_eq!(
            k + 1,
            self.kid_lists.len(),
            "slots are taken back newest first"
        );
        if k + 1 == self.kid_lists.len() {
            self.kid_lists.pop().unwrap_or_default()
        } else {
            // Out of order (not reached): leave an empty list in the slot, nothing points at it.
            self.kid_lists
                .get_mut(k)
                .map(std::mem::take)
                .unwrap_or_default()
        }
    }

    /// Stop recording and hand over what was recorded.
    pub fn end_journal(&mut self) -> TreeJournal {
        TreeJournal {
            ops: self.journal.take().unwrap_or_default(),
        }
    }

    /// Undo a journal's changes, newest first, and return the journal that redoes them
    /// (undoing that gives this tree back, exactly: same arena, ids, names and keys).
    pub fn undo(&mut self, j: TreeJournal) -> TreeJournal {
        let outer = self.journal.take();
        self.begin_journal();
        for op in j.ops.into_iter().rev() {
            match op {
                TreeUndo::Scalars {
                    seq,
                    compacted,
                    zeroed,
                    dump_order,
                } => {
                    self.seq = seq;
                    self.names_compacted = compacted;
                    self.zeroed = zeroed;
                    self.dump_order = dump_order;
                }
                TreeUndo::Fields(id, f) => f.put(self.get_mut(id)),
                TreeUndo::KidInserted(p, key) => {
                    self.kids_remove(p, key);
                }
                TreeUndo::KidRemoved(p, key, id) => self.kids_insert(p, key, id),
                TreeUndo::Kids(p, k) => self.kids_replace(p, k),
                TreeUndo::KidsSlotPushed(p) => {
                    self.dump_order = false;
                    let k = self.take_slot(p, NO_NODE);
                    if let Some(j) = &mut self.journal {
                        j.push(TreeUndo::KidsSlotPopped(p, k));
                    }
                }
                TreeUndo::Built(p) => {
                    self.take_slot(p, ARENA_KIDS);
                    self.arena_lists += 1;
                }
                TreeUndo::KidsSlotPopped(p, k) => {
                    self.dump_order = false;
                    self.nodes[p.0 as usize].kids = self.kid_lists.len() as u32;
                    self.kid_lists.push(k);
                    if let Some(j) = &mut self.journal {
                        j.push(TreeUndo::KidsSlotPushed(p));
                    }
                }
                TreeUndo::Pushed => {
                    if let Some(r) = self.nodes.pop()
                        && let Some(j) = &mut self.journal
                    {
                        j.push(TreeUndo::Repush(Box::new(r)));
                    }
                }
                TreeUndo::Repush(r) => {
                    self.nodes.push(*r);
                    if let Some(j) = &mut self.journal {
                        j.push(TreeUndo::Pushed);
                    }
                }
                TreeUndo::Slot(id, r) => {
                    self.dump_order = false;
                    let old = std::mem::replace(&mut self.nodes[id.0 as usize], *r);
                    if let Some(j) = &mut self.journal {
                        j.push(TreeUndo::Slot(id, Box::new(old)));
                    }
                }
                TreeUndo::NamesLen(len) => {
                    let cut = self.names.split_off(len.min(self.names.len()));
                    if let Some(j) = &mut self.journal {
                        j.push(TreeUndo::NamesCut(cut));
                    }
                }
                TreeUndo::NamesCut(bytes) => {
                    if let Some(j) = &mut self.journal {
                        j.push(TreeUndo::NamesLen(self.names.len()));
                    }
                    self.names.extend_from_slice(&bytes);
                }
                TreeUndo::Names(st) => {
                    let NamesState {
                        names,
                        shared,
                        compacted,
                        of_nodes,
                    } = *st;
                    let now = NamesState {
                        names: std::mem::replace(&mut self.names, names),
                        shared: std::mem::replace(&mut self.shared_names, shared),
                        compacted: std::mem::replace(&mut self.names_compacted, compacted),
                        of_nodes: self.nodes.iter().map(|r| r.name).collect(),
                    };
                    for (r, n) in self.nodes.iter_mut().zip(of_nodes) {
                        r.name = n;
                    }
                    if let Some(j) = &mut self.journal {
                        j.push(TreeUndo::Names(Box::new(now)));
                    }
                }
                TreeUndo::SharedName(bytes) => {
                    if let Some(n) = self.shared_names.remove(&bytes)
                        && let Some(j) = &mut self.journal
                    {
                        j.push(TreeUndo::SharedNameBack(bytes, n));
                    }
                }
                TreeUndo::SharedNameBack(bytes, n) => {
                    self.shared_names.insert(bytes.clone(), n);
                    if let Some(j) = &mut self.journal {
                        j.push(TreeUndo::SharedName(bytes));
                    }
                }
                TreeUndo::FreeSlotPushed => {
                    if let Some(s) = self.free_slots.pop()
                        && let Some(j) = &mut self.journal
                    {
                        j.push(TreeUndo::FreeSlotPopped(s));
                    }
                }
                TreeUndo::FreeSlotPopped(s) => {
                    self.free_slots.push(s);
                    if let Some(j) = &mut self.journal {
                        j.push(TreeUndo::FreeSlotPushed);
                    }
                }
            }
        }
        let redo = self.end_journal();
        self.journal = outer;
        redo
    }

    /// Add `delta` to the row counts of `from` and its ancestors.
    fn adjust_rows(&mut self, from: NodeId, delta: i64) {
        if delta == 0 {
            return;
        }
        let mut cur = Some(from);
        while let Some(c) = cur {
            let r = &mut self.nodes[c.0 as usize];
            r.rows_below = (i64::from(r.rows_below) + delta) as u32;
            cur = r.up();
        }
    }

    /// Rows a child list stands for: each child and its subtree.
    fn rows_of(&self, kids: KidsRef<'_>) -> i64 {
        kids.values()
            .map(|c| 1 + i64::from(self.nodes[c.0 as usize].rows_below))
            .sum()
    }

    /// `p`'s child list (an empty one for a node that never had children), or its arena run
    /// while it is unbuilt.
    fn kids(&self, p: NodeId) -> KidsRef<'_> {
        static NONE: Kids = Kids::Small(Vec::new());
        match self.nodes[p.0 as usize].kids {
            NO_NODE => KidsRef::List(&NONE),
            ARENA_KIDS => KidsRef::Arena(self, p),
            k => KidsRef::List(&self.kid_lists[k as usize]),
        }
    }

    /// `p`'s child list to change (built first, with the lists above it), given a slot in
    /// [`Tree::kid_lists`] the first time.
    fn kids_mut(&mut self, p: NodeId) -> &mut Kids {
        self.build_path(p);
        self.dump_order = false;
        let mut k = self.nodes[p.0 as usize].kids;
        if k == NO_NODE {
            k = self.kid_lists.len() as u32;
            self.kid_lists.push(Kids::new());
            self.nodes[p.0 as usize].kids = k;
            if let Some(j) = &mut self.journal {
                j.push(TreeUndo::KidsSlotPushed(p));
            }
        }
        &mut self.kid_lists[k as usize]
    }

    /// The key of `c` in `p`'s child list, if it is listed there. Keys are not stored in the
    /// node (16 bytes a resource): in a sorted list a key's first half is the child's start,
    /// so a long list finds it by range; a short or unsorted one is scanned, as the kernel
    /// scans every list.
    fn key_in(&self, p: NodeId, c: NodeId) -> Option<ChildKey> {
        let kids = match self.kids(p) {
            // An unbuilt list is sorted: a child's key is its start and id.
            KidsRef::Arena(..) => {
                let r = &self.nodes[c.0 as usize];
                return (r.parent == p.0 && !r.freed).then(|| arena_key(r, c));
            }
            KidsRef::List(k) => k,
        };
        if let Kids::Big(m) = kids
            && !self.get(p).unsorted
        {
            let s = self.get(c).start;
            if let Some((k, _)) = m.range((s, 0)..=(s, u64::MAX)).find(|(_, v)| **v == c) {
                return Some(*k);
            }
        }
        kids.range(..).find(|&(_, v)| v == c).map(|(k, _)| k)
    }

    fn kids_insert(&mut self, p: NodeId, key: ChildKey, id: NodeId) {
        // Keys are unique (`seq`): an insert never replaces an entry.
        debug_assert!(self.kids(p).range(key..=key).next().is_none());
        self.kids_mut(p).insert(key, id);
        self.adjust_rows(p, 1 + i64::from(self.nodes[id.0 as usize].rows_below));
        if let Some(j) = &mut self.journal {
            j.push(TreeUndo::KidInserted(p, key));
        }
    }

    fn kids_remove(&mut self, p: NodeId, key: ChildKey) -> Option<NodeId> {
        let id = self.kids_mut(p).remove(&key);
        if let Some(c) = id {
            self.adjust_rows(p, -1 - i64::from(self.nodes[c.0 as usize].rows_below));
        }
        if let (Some(id), Some(j)) = (id, &mut self.journal) {
            j.push(TreeUndo::KidRemoved(p, key, id));
        }
        id
    }

    fn kids_replace(&mut self, p: NodeId, kids: Kids) {
        if kids.is_empty() && self.get(p).kids == NO_NODE {
            // Nothing to replace (a leaf that never had children).
            return;
        }
        let delta = self.rows_of(KidsRef::List(&kids)) - self.rows_of(self.kids(p));
        let old = std::mem::replace(self.kids_mut(p), kids);
        self.adjust_rows(p, delta);
        if let Some(j) = &mut self.journal {
            j.push(TreeUndo::Kids(p, old));
        }
    }
}

/// A node's child list, keyed by [`ChildKey`] in list order. Most nodes of a real tree have
/// a handful of children (a device and its driver name), so small lists are a sorted `Vec`
/// (one small allocation, binary search); a list that grows past [`Kids::SMALL_MAX`] (the
/// top level of a machine with thousands of hot-added memory blocks) becomes a `BTreeMap`.
/// Both answer the same ordered-map queries with the same results: the representation is
/// invisible to the tree's users. (A `BTreeMap` leaf is ~230 bytes even for one entry; with a
/// `BTreeMap` per parent, parsing a 1M-line dump spent about a third of its time page-faulting
/// those leaves in.)
#[derive(Clone)]
enum Kids {
    Small(Vec<(ChildKey, NodeId)>),
    /// A list of one, without an allocation: most parents of a real tree have one child (a
    /// device and its driver's name).
    One((ChildKey, NodeId)),
    Big(BTreeMap<ChildKey, NodeId>),
}

/// The entries in order, whatever the representation (an undone step may leave a `Big` list
/// where a `Small` one was: they answer every query alike, so they print alike).
impl std::fmt::Debug for Kids {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_list().entries(self.values()).finish()
    }
}

impl Default for Kids {
    fn default() -> Kids {
        Kids::new()
    }
}

impl Kids {
    const SMALL_MAX: usize = 32;

    fn values(&self) -> KidsValues<'_> {
        KidsValues(self.range(..))
    }

    fn new() -> Kids {
        Kids::Small(Vec::new())
    }
    /// From entries with strictly increasing keys (what inserting them one by one gives).
    fn from_sorted(entries: Vec<(ChildKey, NodeId)>) -> Kids {
        debug_assert!(entries.windows(2).all(|w| w[0].0 < w[1].0));
        if let [one] = entries[..] {
            Kids::One(one)
        } else if entries.len() <= Self::SMALL_MAX {
            Kids::Small(entries)
        } else {
            Kids::Big(entries.into_iter().collect())
        }
    }
    fn len(&self) -> usize {
        match self {
            Kids::Small(v) => v.len(),
            Kids::One(_) => 1,
            Kids::Big(m) => m.len(),
        }
    }
    /// The entries of a short list (`Small` or `One`) as one slice.
    fn short(&self) -> Option<&[(ChildKey, NodeId)]> {
        match self {
            Kids::Small(v) => Some(v),
            Kids::One(e) => Some(std::slice::from_ref(e)),
            Kids::Big(_) => None,
        }
    }
    fn is_empty(&self) -> bool {
        self.len() == 0
    }
    fn last(&self) -> Option<(ChildKey, NodeId)> {
        match self {
            Kids::Small(v) => v.last().copied(),
            Kids::One(e) => Some(*e),
            Kids::Big(m) => m.iter().next_back().map(|(k, v)| (*k, *v)),
        }
    }
    fn insert(&mut self, key: ChildKey, id: NodeId) {
        match self {
            Kids::Small(v) if v.is_empty() => *self = Kids::One((key, id)),
            Kids::One((k, v)) => {
                if *k == key {
                    *v = id;
                } else {
                    let old = (*k, *v);
                    *self = Kids::Small(if old.0 < key {
                        vec![old, (key, id)]
                    } else {
                        vec![(key, id), old]
                    });
                }
            }
            Kids::Small(v) => match v.binary_search_by(|(k, _)| k.cmp(&key)) {
                Ok(i) => v[i].1 = id,
                Err(i) => {
                    if v.len() < Self::SMALL_MAX {
                        // Appending in key order (the parser, hot-add) is the common case.
                        v.insert(i, (key, id));
                    } else {
                        let mut m: BTreeMap<ChildKey, NodeId> = v.drain(..).collect();
                        m.insert(key, id);
                        *self = Kids::Big(m);
                    }
                }
            },
            Kids::Big(m) => {
                m.insert(key, id);
            }
        }
    }
    fn remove(&mut self, key: &ChildKey) -> Option<NodeId> {
        match self {
            Kids::Small(v) => match v.binary_search_by(|(k, _)| k.cmp(key)) {
                Ok(i) => Some(v.remove(i).1),
                Err(_) => None,
            },
            Kids::One((k, v)) => {
                if k == key {
                    let id = *v;
                    *self = Kids::new();
                    Some(id)
                } else {
                    None
                }
            }
            Kids::Big(m) => m.remove(key),
        }
    }
    /// Entries with keys in `r`, in key order (like `BTreeMap::range`, but an empty or
    /// inverted range is simply empty).
    fn range<R: RangeBounds<ChildKey>>(&self, r: R) -> KidsRange<'_> {
        match self.short() {
            Some(v) => {
                let lo = match r.start_bound() {
                    Bound::Included(k) => v.partition_point(|(x, _)| x < k),
                    Bound::Excluded(k) => v.partition_point(|(x, _)| x <= k),
                    Bound::Unbounded => 0,
                };
                let hi = match r.end_bound() {
                    Bound::Included(k) => v.partition_point(|(x, _)| x <= k),
                    Bound::Excluded(k) => v.partition_point(|(x, _)| x < k),
                    Bound::Unbounded => v.len(),
                };
                KidsRange::Small(v.get(lo..hi.max(lo)).unwrap_or(&[]).iter())
            }
            None => {
                let Kids::Big(m) = self else {
                    return KidsRange::Small([].iter());
                };
                let (a, b) = (r.start_bound().cloned(), r.end_bound().cloned());
                let empty = match (a, b) {
                    (Bound::Included(x), Bound::Included(y)) => x > y,
                    (Bound::Included(x) | Bound::Excluded(x), Bound::Excluded(y))
                    | (Bound::Excluded(x), Bound::Included(y)) => x >= y,
                    _ => false,
                };
                if empty {
                    KidsRange::Small([].iter())
                } else {
                    KidsRange::Big(m.range((a, b)))
                }
            }
        }
    }
}

/// The key of `c` (node `r`) in its parent's unbuilt list ([`ARENA_KIDS`]).
fn arena_key(r: &Resource, c: NodeId) -> ChildKey {
    (r.start, u64::from(c.0))
}

/// A child list as [`Tree::kids`] reads it: a built list, or the arena run of a node whose
/// list is unbuilt ([`ARENA_KIDS`]). Both answer the same ordered-map queries alike; the
/// run's cost is a walk of its children (the kernel's own sibling walk), so a list that a
/// change will search is built first ([`Tree::build_path`]).
#[derive(Clone, Copy)]
enum KidsRef<'a> {
    List(&'a Kids),
    Arena(&'a Tree, NodeId),
}

impl<'a> KidsRef<'a> {
    fn len(self) -> usize {
        match self {
            KidsRef::List(k) => k.len(),
            KidsRef::Arena(t, p) => ArenaKids::new(t, p).count(),
        }
    }
    fn is_empty(self) -> bool {
        match self {
            KidsRef::List(k) => k.is_empty(),
            // In an arena run a node's rows are its subtree.
            KidsRef::Arena(t, p) => t.nodes[p.0 as usize].rows_below == 0,
        }
    }
    fn last(self) -> Option<(ChildKey, NodeId)> {
        match self {
            KidsRef::List(k) => k.last(),
            KidsRef::Arena(t, p) => {
                let c = ArenaKids::new(t, p).next_back()?;
                Some((arena_key(t.get(c), c), c))
            }
        }
    }
    /// Entries with keys in `r`, in key order (as [`Kids::range`]).
    fn range<R: RangeBounds<ChildKey>>(self, r: R) -> KidsRange<'a> {
        match self {
            KidsRef::List(k) => k.range(r),
            KidsRef::Arena(t, p) => KidsRange::Arena(ArenaRange {
                kids: ArenaKids::new(t, p),
                lo: r.start_bound().cloned(),
                hi: r.end_bound().cloned(),
            }),
        }
    }
    fn values(self) -> KidsValues<'a> {
        KidsValues(self.range(..))
    }
}

/// Iterator of [`KidsRef::range`]: `(key, id)` in key order, both ends.
#[derive(Clone)]
enum KidsRange<'a> {
    Small(std::slice::Iter<'a, (ChildKey, NodeId)>),
    Big(std::collections::btree_map::Range<'a, ChildKey, NodeId>),
    Arena(ArenaRange<'a>),
}

impl Iterator for KidsRange<'_> {
    type Item = (ChildKey, NodeId);
    #[inline]
    fn next(&mut self) -> Option<Self::Item> {
        match self {
            KidsRange::Small(it) => it.next().copied(),
            KidsRange::Big(it) => it.next().map(|(k, v)| (*k, *v)),
            KidsRange::Arena(it) => it.next(),
        }
    }
}

impl DoubleEndedIterator for KidsRange<'_> {
    #[inline]
    fn next_back(&mut self) -> Option<Self::Item> {
        match self {
            KidsRange::Small(it) => it.next_back().copied(),
            KidsRange::Big(it) => it.next_back().map(|(k, v)| (*k, *v)),
            KidsRange::Arena(it) => it.next_back(),
        }
    }
}

/// The children of an unbuilt list whose keys are in `lo..hi`: keys increase along the run,
/// so each end skips what lies beyond its own bound and stops at the other's.
#[derive(Clone)]
struct ArenaRange<'a> {
    kids: ArenaKids<'a>,
    lo: Bound<ChildKey>,
    hi: Bound<ChildKey>,
}

impl ArenaRange<'_> {
    fn below_lo(&self, k: ChildKey) -> bool {
        match self.lo {
            Bound::Included(x) => k < x,
            Bound::Excluded(x) => k <= x,
            Bound::Unbounded => false,
        }
    }
    fn above_hi(&self, k: ChildKey) -> bool {
        match self.hi {
            Bound::Included(x) => k > x,
            Bound::Excluded(x) => k >= x,
            Bound::Unbounded => false,
        }
    }
    fn entry(&self, c: NodeId) -> (ChildKey, NodeId) {
        (arena_key(self.kids.tree.get(c), c), c)
    }
}

impl Iterator for ArenaRange<'_> {
    type Item = (ChildKey, NodeId);
    fn next(&mut self) -> Option<Self::Item> {
        loop {
            let c = self.kids.next()?;
            let (k, c) = self.entry(c);
            if self.above_hi(k) {
                self.kids.ends = None;
                return None;
            }
            if !self.below_lo(k) {
                return Some((k, c));
            }
        }
    }
}

impl DoubleEndedIterator for ArenaRange<'_> {
    fn next_back(&mut self) -> Option<Self::Item> {
        loop {
            let c = self.kids.next_back()?;
            let (k, c) = self.entry(c);
            if self.below_lo(k) {
                self.kids.ends = None;
                return None;
            }
            if !self.above_hi(k) {
                return Some((k, c));
            }
        }
    }
}

/// Iterator of [`KidsRef::values`] (and [`Tree::children`]).
#[derive(Clone)]
pub struct KidsValues<'a>(KidsRange<'a>);

impl Iterator for KidsValues<'_> {
    type Item = NodeId;
    #[inline]
    fn next(&mut self) -> Option<NodeId> {
        self.0.next().map(|(_, v)| v)
    }
}

impl DoubleEndedIterator for KidsValues<'_> {
    #[inline]
    fn next_back(&mut self) -> Option<NodeId> {
        self.0.next_back().map(|(_, v)| v)
    }
}

/// The children of `p` in a pre-order arena: the first is `p + 1`, each next one right after
/// its predecessor's subtree; the last is the ancestor of `p`'s last row that `p` holds, each
/// one before it the ancestor of the row just before it.
#[derive(Clone)]
struct ArenaKids<'a> {
    tree: &'a Tree,
    p: u32,
    /// The next child from the front, and from the back; `None` when they have met.
    ends: Option<(u32, u32)>,
}

impl<'a> ArenaKids<'a> {
    fn new(tree: &'a Tree, p: NodeId) -> ArenaKids<'a> {
        let rows = tree.nodes[p.0 as usize].rows_below;
        let ends = (rows > 0).then(|| (p.0 + 1, tree.up_to(p.0 + rows, p.0)));
        ArenaKids { tree, p: p.0, ends }
    }
}

impl Iterator for ArenaKids<'_> {
    type Item = NodeId;
    fn next(&mut self) -> Option<NodeId> {
        let (front, back) = self.ends?;
        self.ends =
            (front != back).then(|| (front + 1 + self.tree.nodes[front as usize].rows_below, back));
        Some(NodeId(front))
    }
}

impl DoubleEndedIterator for ArenaKids<'_> {
    fn next_back(&mut self) -> Option<NodeId> {
        let (front, back) = self.ends?;
        self.ends = (front != back).then(|| (front, self.tree.up_to(back - 1, self.p)));
        Some(NodeId(back))
    }
}

/// Iterator of [`Tree::walk`].
pub struct Walk<'a> {
    tree: &'a Tree,
    /// Open levels of built lists, a list iterator per level.
    stack: Vec<KidsValues<'a>>,
    /// Read a subtree whose list is unbuilt as its arena run (not for the pure list walk).
    runs: bool,
    /// The arena run being read, ids `next..=last`, with `path` its open ancestors (the
    /// run's top first), so a node's depth is `base` plus how many of them are open when
    /// its parent is on top.
    next: u32,
    last: u32,
    path: Vec<NodeId>,
    base: usize,
}

/// [`Tree::descendants`].
pub enum Descendants<'a> {
    /// `top`'s subtree is the arena run of these ids, in pre-order.
    Run(std::ops::RangeInclusive<u32>),
    Walk(Walk<'a>),
}

impl Iterator for Descendants<'_> {
    type Item = NodeId;
    #[inline]
    fn next(&mut self) -> Option<NodeId> {
        match self {
            Descendants::Run(ids) => ids.next().map(NodeId),
            Descendants::Walk(w) => w.next().map(|(id, _)| id),
        }
    }
}

impl<'a> Walk<'a> {
    /// A walk that begins with `top`'s subtree as an arena run.
    fn run(tree: &'a Tree, top: NodeId) -> Walk<'a> {
        Walk {
            tree,
            stack: Vec::new(),
            runs: true,
            next: top.0 + 1,
            last: top.0 + tree.get(top).rows_below,
            path: vec![top],
            base: 0,
        }
    }
}

impl Iterator for Walk<'_> {
    type Item = (NodeId, usize);
    fn next(&mut self) -> Option<(NodeId, usize)> {
        loop {
            if self.next <= self.last {
                let id = NodeId(self.next);
                self.next += 1;
                let parent = self.tree.nodes[id.0 as usize].parent;
                while self.path.last().is_some_and(|p| p.0 != parent) {
                    self.path.pop();
                }
                // An empty path would mean the run was not in pre-order after all.
                let depth = self.base + self.path.len().checked_sub(1)?;
                self.path.push(id);
                return Some((id, depth));
            }
            let depth = self.stack.len().checked_sub(1)?;
            match self.stack.last_mut()?.next() {
                Some(id) => {
                    let r = &self.tree.nodes[id.0 as usize];
                    if self.runs && r.kids == ARENA_KIDS {
                        // An unbuilt list's subtree is as parsed: its arena run, in pre-order.
                        (self.next, self.last) = (id.0 + 1, id.0 + r.rows_below);
                        self.path.clear();
                        self.path.push(id);
                        self.base = depth + 1;
                    } else {
                        let kids = self.tree.kids(id);
                        if !kids.is_empty() {
                            self.stack.push(kids.values());
                        }
                    }
                    return Some((id, depth));
                }
                None => {
                    self.stack.pop();
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use flags::*;

    /// One random change through the tree's public operations (what kernel code calls).
    fn random_op(t: &mut Tree, rng: &mut u64) {
        let mut next = |n: u64| {
            *rng ^= *rng << 13;
            *rng ^= *rng >> 7;
            *rng ^= *rng << 17;
            *rng % n.max(1)
        };
        let linked: Vec<NodeId> = t.descendants(Tree::ROOT).collect();
        let pick = |k: u64| linked.get(k as usize).copied();
        match next(10) {
            0..=3 => {
                let s = next(256) * 0x1000;
                let n = format!("name-{}", next(100_000));
                let id = t.alloc(s, s + 0xfff, n.as_bytes(), IORESOURCE_MEM, Desc::None);
                let p = pick(next(4 * linked.len() as u64 + 1)).unwrap_or(Tree::ROOT);
                t.link_sorted(p, id);
            }
            4 => {
                if let Some(id) = pick(next(linked.len() as u64)) {
                    t.unlink(id);
                    t.free(id);
                }
            }
            5 => {
                if let Some(id) = pick(next(linked.len() as u64)) {
                    t.unlink_lifting_children(id);
                }
            }
            6 => {
                if let Some(id) = pick(next(linked.len() as u64)) {
                    let s = t.get(id).start;
                    t.set_range(id, s, s + next(4) * 0x1000 + 0xfff);
                }
            }
            7 => {
                let kids: Vec<NodeId> = t
                    .children(Tree::ROOT)
                    .skip(next(8) as usize)
                    .take(2)
                    .collect();
                if !kids.is_empty() {
                    let (s, e) = (t.get(kids[0]).start, t.get(kids[kids.len() - 1]).end);
                    let id = t.alloc(s, e, b"adopter", IORESOURCE_MEM, Desc::None);
                    t.adopt_run(Tree::ROOT, id, &kids);
                }
            }
            _ => {
                if let Some(id) = pick(next(linked.len() as u64)) {
                    t.get_mut(id).flags ^= IORESOURCE_BUSY;
                    t.compact_names();
                }
            }
        }
    }

    #[test]
    fn journal_undo_and_redo_are_exact_and_row_counts_hold() {
        // Past Kids::SMALL_MAX children (Small → Big), slot reuse, name compaction: undoing a
        // step's journal gives the tree before it back field for field, and undoing the
        // returned journal gives the tree after it.
        let mut rng = 0x9e3779b97f4a7c15u64;
        let mut t = Tree::new_iomem(46);
        for step in 0..300 {
            let before = format!("{t:?}");
            t.begin_journal();
            for _ in 0..(1 + step % 9) {
                random_op(&mut t, &mut rng);
            }
            let j = t.end_journal();
            assert!(t.rows_consistent(), "rows after step {step}");
            let after = format!("{t:?}");
            let redo = t.undo(j);
            assert_eq!(format!("{t:?}"), before, "undo of step {step}");
            assert!(t.rows_consistent(), "rows after undo {step}");
            let _ = t.undo(redo);
            assert_eq!(format!("{t:?}"), after, "redo of step {step}");
        }
        assert!(
            t.len() > 32,
            "the top level went past SMALL_MAX: {}",
            t.len()
        );
    }

    #[test]
    fn rows_navigate_like_the_walk() {
        let mut rng = 7u64;
        let mut t = Tree::new_iomem(46);
        for _ in 0..400 {
            random_op(&mut t, &mut rng);
        }
        let rows: Vec<NodeId> = t.descendants(Tree::ROOT).collect();
        assert_eq!(rows.len(), t.len());
        for (i, &id) in rows.iter().enumerate() {
            assert_eq!(t.row_of(id), i);
            assert_eq!(t.next_row(id), rows.get(i + 1).copied());
            assert_eq!(t.prev_row(id), i.checked_sub(1).map(|k| rows[k]));
        }
    }

    fn leaf(t: &mut Tree, p: NodeId, s: u64, e: u64, n: &str) -> NodeId {
        let id = t.alloc(s, e, n.as_bytes(), IORESOURCE_MEM, Desc::None);
        t.link_sorted(p, id);
        id
    }

    /// `remove_resource`'s lift: `old`'s children take its place, in their order, in a short
    /// and in a long (B-tree) list; the row counts follow; undo gives the tree back.
    #[test]
    fn lifting_children_puts_them_at_the_nodes_place() {
        for n in [5u64, 40] {
            let mut t = Tree::new_iomem(46);
            let top: Vec<NodeId> = (0..n)
                .map(|i| leaf(&mut t, Tree::ROOT, i * 0x1000, i * 0x1000 + 0xfff, "t"))
                .collect();
            let mid = top[2];
            let a = leaf(&mut t, mid, 0x2000, 0x23ff, "a");
            let b = leaf(&mut t, mid, 0x2400, 0x2fff, "b");
            leaf(&mut t, b, 0x2400, 0x24ff, "b0");
            let before = format!("{t:?}");
            assert_eq!(t.rows_below(Tree::ROOT), n as usize + 3);
            t.begin_journal();
            assert!(t.unlink_lifting_children(mid));
            let mut want = top.clone();
            want.splice(2..3, [a, b]);
            assert_eq!(t.children(Tree::ROOT).collect::<Vec<_>>(), want, "{n}");
            assert_eq!(t.rows_below(Tree::ROOT), n as usize + 2);
            assert_eq!(
                (t.parent(a), t.parent(b), t.parent(mid)),
                (Some(Tree::ROOT), Some(Tree::ROOT), None)
            );
            assert!(!t.is_unsorted(Tree::ROOT));
            assert_eq!(t.next_sibling(b), Some(top[3]));
            assert_eq!(t.prev_sibling(a), Some(top[1]));
            let j = t.end_journal();
            t.undo(j);
            assert_eq!(format!("{t:?}"), before);
            assert!(t.rows_consistent());
        }
    }

    #[test]
    fn a_parsed_tree_is_walked_along_its_arena_until_a_list_changes_and_again_after_undo() {
        let text = crate::examples::T0;
        let mut t = crate::parse::parse_dump(text.as_bytes(), None)
            .expect("example")
            .tree;
        assert_eq!(t.arena_walk_agrees(), (true, true));
        let before: Vec<(NodeId, usize)> = t.walk(Tree::ROOT).collect();
        // A step links a node deep in the tree: the arena is no longer pre-order.
        t.begin_journal();
        let (p, _) = before[before.len() / 2];
        let (s, e) = (t.get(p).start, t.get(p).start);
        let id = t.alloc(s, e, b"new", flags::IORESOURCE_MEM, Desc::None);
        t.link_sorted(p, id);
        let j = t.end_journal();
        assert_eq!(t.arena_walk_agrees(), (false, true));
        assert!(t.walk(Tree::ROOT).any(|(n, _)| n == id));
        // Undone, the lists are as parsed: the arena walk is back, and gives the same rows.
        let redo = t.undo(j);
        assert_eq!(t.arena_walk_agrees(), (true, true));
        assert!(t.walk(Tree::ROOT).eq(before.iter().copied()));
        t.undo(redo);
        assert_eq!(t.arena_walk_agrees(), (false, true));
        // A node allocated but never linked lies past the root's rows: not walked.
        let mut t = crate::parse::parse_dump(text.as_bytes(), None)
            .expect("example")
            .tree;
        let lone = t.alloc(0, 0xfff, b"lone", flags::IORESOURCE_MEM, Desc::None);
        assert_eq!(t.arena_walk_agrees(), (true, true));
        assert!(!t.walk(Tree::ROOT).any(|(n, _)| n == lone));
    }

    #[test]
    fn a_leaf_pays_no_child_list_and_a_first_child_is_undone_exactly() {
        // Issue 12's budget: <= 100 bytes a resource with its name and list entry.
        assert!(std::mem::size_of::<Resource>() <= 48);
        let mut t = Tree::new_iomem(64);
        let a = leaf(&mut t, Tree::ROOT, 0x1000, 0x1fff, "a");
        let lists = t.kid_lists.len();
        assert_eq!(t.get(a).kids, NO_NODE, "a leaf has no child list");
        let before = format!("{t:?}");
        t.begin_journal();
        let b = leaf(&mut t, a, 0x1000, 0x17ff, "b");
        assert_eq!(t.kid_lists.len(), lists + 1);
        assert_eq!(t.children(a).collect::<Vec<_>>(), [b]);
        let j = t.end_journal();
        let redo = t.undo(j);
        assert_eq!(format!("{t:?}"), before, "undo takes the list slot back");
        t.undo(redo);
        assert_eq!(t.children(a).collect::<Vec<_>>(), [b]);
        assert_eq!(t.kid_lists.len(), lists + 1);
    }

    #[test]
    fn a_child_whose_start_moved_behind_the_lists_back_is_still_found() {
        // In a long sorted list a key is looked up by the child's start; a start changed in
        // place (not through set_range) falls back to the scan.
        let mut t = Tree::new_iomem(64);
        let ids: Vec<NodeId> = (0..40u64)
            .map(|i| leaf(&mut t, Tree::ROOT, i * 0x1000, i * 0x1000 + 0xfff, "k"))
            .collect();
        t.get_mut(ids[7]).start = 0x7800;
        assert!(t.in_tree(ids[7]));
        assert_eq!(t.next_sibling(ids[7]), Some(ids[8]));
        assert_eq!(t.prev_sibling(ids[7]), Some(ids[6]));
        assert!(t.unlink(ids[7]));
        assert_eq!(t.child_count(Tree::ROOT), 39);
        assert!(!t.children(Tree::ROOT).any(|c| c == ids[7]));
    }

    #[test]
    fn released_slots_and_dead_names_are_reclaimed() {
        let mut t = Tree::new_iomem(64);
        let keep = t.alloc(0x1000, 0x1fff, b"System RAM", IORESOURCE_MEM, Desc::None);
        t.link_sorted(Tree::ROOT, keep);
        let twin_name = t.get(keep).name;
        let twin = t.alloc_named(0x3000, 0x3fff, twin_name, IORESOURCE_MEM, Desc::None);
        t.link_sorted(Tree::ROOT, twin);
        for i in 0..2000u64 {
            let id = t.alloc(0x2000, 0x2fff, format!("tmp{i}").as_bytes(), 0, Desc::None);
            t.link_sorted(Tree::ROOT, id);
            assert!(t.unlink(id));
            t.free(id);
        }
        // One slot was reused 2000 times.
        assert_eq!(t.nodes.len(), 4);
        t.compact_names();
        assert!(t.names.len() < 64, "dead names dropped: {}", t.names.len());
        assert_eq!(t.name_of(keep), b"System RAM");
        assert_eq!(
            t.get(keep).name,
            t.get(twin).name,
            "shared names stay shared"
        );
        assert_eq!(t.intern_shared(b"System RAM"), t.get(keep).name);
    }

    #[test]
    fn walk_is_preorder_with_depths() {
        let mut t = Tree::new_iomem(64);
        let a = leaf(&mut t, Tree::ROOT, 0x1000, 0x1fff, "a");
        leaf(&mut t, Tree::ROOT, 0x3000, 0x3fff, "c");
        leaf(&mut t, a, 0x1100, 0x11ff, "a1");
        leaf(&mut t, Tree::ROOT, 0x2000, 0x2fff, "b");
        let got: Vec<(String, usize)> = t
            .walk(Tree::ROOT)
            .map(|(id, d)| (t.name_lossy(id).into_owned(), d))
            .collect();
        let want = [("a", 0), ("a1", 1), ("b", 0), ("c", 0)];
        assert_eq!(got.len(), want.len());
        for ((gn, gd), (wn, wd)) in got.iter().zip(want) {
            assert_eq!((gn.as_str(), *gd), (wn, wd));
        }
    }

    #[test]
    fn unsorted_list_keeps_its_order_and_scans_from_the_start() {
        let mut t = Tree::new_iomem(64);
        let x = t.alloc(0x9000, 0x9fff, b"x", IORESOURCE_MEM, Desc::None);
        let y = t.alloc(0, 0, b"zero", IORESOURCE_MEM, Desc::None);
        let z = t.alloc(0xa000, 0xafff, b"z", IORESOURCE_MEM, Desc::None);
        t.set_children(Tree::ROOT, &[x, y, z]);
        assert!(t.is_unsorted(Tree::ROOT));
        assert_eq!(t.children(Tree::ROOT).collect::<Vec<_>>(), vec![x, y, z]);
        assert_eq!(t.scan_from(Tree::ROOT, 0xa000).next(), Some(x));
        let w = t.alloc(0x5000, 0x5fff, b"w", IORESOURCE_MEM, Desc::None);
        t.link_before(Tree::ROOT, w, Some(y));
        assert_eq!(t.children(Tree::ROOT).collect::<Vec<_>>(), vec![x, w, y, z]);
    }

    #[test]
    fn scan_from_skips_what_the_kernel_skips() {
        let mut t = Tree::new_iomem(64);
        let a = leaf(&mut t, Tree::ROOT, 0x1000, 0x1fff, "a");
        let b = leaf(&mut t, Tree::ROOT, 0x2000, 0x2fff, "b");
        let c = leaf(&mut t, Tree::ROOT, 0x4000, 0x4fff, "c");
        assert_eq!(t.scan_from(Tree::ROOT, 0).next(), Some(a));
        assert_eq!(t.scan_from(Tree::ROOT, 0x1fff).next(), Some(a));
        assert_eq!(t.scan_from(Tree::ROOT, 0x2000).next(), Some(b));
        assert_eq!(t.scan_from(Tree::ROOT, 0x3000).next(), Some(c));
        assert_eq!(t.scan_from(Tree::ROOT, 0x5000).next(), None);
    }

    #[test]
    fn lifting_children_keeps_position() {
        let mut t = Tree::new_iomem(64);
        let a = leaf(&mut t, Tree::ROOT, 0x1000, 0x1fff, "a");
        let p = leaf(&mut t, Tree::ROOT, 0x2000, 0x2fff, "p");
        let c = leaf(&mut t, Tree::ROOT, 0x4000, 0x4fff, "c");
        let k1 = leaf(&mut t, p, 0x2000, 0x20ff, "k1");
        let k2 = leaf(&mut t, p, 0x2100, 0x21ff, "k2");
        assert!(t.unlink_lifting_children(p));
        assert_eq!(
            t.children(Tree::ROOT).collect::<Vec<_>>(),
            vec![a, k1, k2, c]
        );
        assert!(!t.is_unsorted(Tree::ROOT));
        assert!(!t.unlink(p));
    }

    #[test]
    fn path_to_follows_containment() {
        let mut t = Tree::new_iomem(64);
        let a = leaf(&mut t, Tree::ROOT, 0x1000, 0x1fff, "a");
        let a1 = leaf(&mut t, a, 0x1100, 0x11ff, "a1");
        leaf(&mut t, Tree::ROOT, 0x2000, 0x2fff, "b");
        assert_eq!(t.path_to(0x1150), vec![a, a1]);
        assert_eq!(t.path_to(0x3000), Vec::<NodeId>::new());
    }

    /// `Kids` answers every ordered-map query like a `BTreeMap`, across the small → big switch.
    #[test]
    fn kids_behave_like_a_btreemap() {
        let mut x: u64 = 0x9e37_79b9_7f4a_7c15;
        let mut rnd = move |n: u64| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x % n
        };
        for round in 0..40u64 {
            let mut k = Kids::new();
            let mut m: BTreeMap<ChildKey, NodeId> = BTreeMap::new();
            let span = 8 + round * 4; // some rounds stay small, others grow past SMALL_MAX
            for step in 0..400u32 {
                let key = (rnd(span), rnd(4));
                if rnd(3) == 0 {
                    assert_eq!(k.remove(&key), m.remove(&key));
                } else {
                    k.insert(key, NodeId(step));
                    m.insert(key, NodeId(step));
                }
                assert_eq!(k.len(), m.len());
                assert_eq!(k.last(), m.iter().next_back().map(|(k, v)| (*k, *v)));
                let (a, b) = ((rnd(span), rnd(4)), (rnd(span), rnd(4)));
                let (lo, hi) = (a.min(b), a.max(b));
                let kv = |it: KidsRange<'_>| it.collect::<Vec<_>>();
                let mv = |it: std::collections::btree_map::Range<'_, ChildKey, NodeId>| {
                    it.map(|(k, v)| (*k, *v)).collect::<Vec<_>>()
                };
                assert_eq!(kv(k.range(lo..)), mv(m.range(lo..)));
                assert_eq!(kv(k.range(..lo)), mv(m.range(..lo)));
                assert_eq!(kv(k.range(..=hi)), mv(m.range(..=hi)));
                assert_eq!(kv(k.range(lo..=hi)), mv(m.range(lo..=hi)));
                assert_eq!(
                    kv(k.range((Bound::Excluded(lo), Bound::Unbounded))),
                    mv(m.range((Bound::Excluded(lo), Bound::Unbounded)))
                );
                assert_eq!(
                    k.range(..=hi).next_back().map(|(k, _)| k),
                    m.range(..=hi).next_back().map(|(k, _)| *k)
                );
                assert!(k.values().eq(m.values().copied()));
                assert!(k.values().rev().eq(m.values().rev().copied()));
            }
        }
    }

    #[test]
    fn resource_predicates_at_their_boundaries() {
        // include/linux/ioport.h (6.12): resource_size `return res->end - res->start + 1;`,
        // resource_overlaps `return r1->start <= r2->end && r1->end >= r2->start;`,
        // resource_contains `return r1->start <= r2->start && r1->end >= r2->end;`.
        let mut t = Tree::new_iomem(46);
        let id = t.alloc(0x1000, 0x1fff, b"x", IORESOURCE_MEM, Desc::None);
        let r = t.get(id).clone();
        assert_eq!(r.size(), 0x1000);
        assert!(!r.is_busy());
        t.get_mut(id).flags |= IORESOURCE_BUSY;
        assert!(t.get(id).is_busy());
        assert!(r.contains(0x1000, 0x1fff));
        assert!(r.contains(0x1800, 0x1800));
        assert!(!r.contains(0x0fff, 0x1fff));
        assert!(!r.contains(0x1000, 0x2000));
        assert!(r.overlaps(0x1fff, 0x3000));
        assert!(r.overlaps(0x0, 0x1000));
        assert!(!r.overlaps(0x2000, 0x3000));
        assert!(!r.overlaps(0x0, 0x0fff));
    }

    #[test]
    fn root_end_and_hex_width() {
        // kernel/resource.c r_show (6.12): `int width = root->end < 0x10000 ? 4 : 8;`
        assert_eq!(Tree::new(RootKind::Ioport, 0xffff).hex_width(), 4);
        assert_eq!(Tree::new(RootKind::Ioport, 0x10000).hex_width(), 8);
        assert_eq!(Tree::new_iomem(46).hex_width(), 8);
        // iomem_resource.end = (1ULL << boot_cpu_data.x86_phys_bits) - 1 (x86 setup_arch).
        assert_eq!(Tree::new_iomem(46).get(Tree::ROOT).end, (1u64 << 46) - 1);
        assert_eq!(Tree::new_iomem(63).get(Tree::ROOT).end, (1u64 << 63) - 1);
        assert_eq!(Tree::new_iomem(64).get(Tree::ROOT).end, u64::MAX);
        assert_eq!(Tree::new_iomem(46).kind(), RootKind::Iomem);
        assert_eq!(Tree::new_iomem(46).root(), Tree::ROOT);
    }

    #[test]
    fn describe_names_the_bits() {
        assert_eq!(flags::describe(0), "0");
        assert_eq!(flags::describe(IORESOURCE_MEM), "MEM");
        assert_eq!(
            flags::describe(IORESOURCE_SYSTEM_RAM | IORESOURCE_BUSY),
            "MEM|SYSRAM|BUSY"
        );
    }

    fn two_level() -> (Tree, NodeId, NodeId, NodeId) {
        let mut t = Tree::new_iomem(46);
        let a = leaf(&mut t, Tree::ROOT, 0x1000, 0x1fff, "a");
        let a1 = leaf(&mut t, a, 0x1000, 0x10ff, "k");
        let b = leaf(&mut t, Tree::ROOT, 0x2000, 0x2fff, "k");
        (t, a, a1, b)
    }

    #[test]
    fn same_as_compares_every_printed_field_and_the_shape() {
        let (t, a, a1, b) = two_level();
        assert!(t.same_as(&t.clone()));
        type Edit<'a> = Box<dyn Fn(&mut Tree) + 'a>;
        let changed: Vec<Edit> = vec![
            Box::new(|t| t.get_mut(a1).start = 0x1001),
            Box::new(|t| t.get_mut(a1).end = 0x10fe),
            Box::new(|t| t.get_mut(b).flags ^= IORESOURCE_BUSY),
            Box::new(|t| t.get_mut(b).desc = Desc::Reserved),
            Box::new(|t| {
                let n = t.intern(b"z");
                t.get_mut(a).name = n;
            }),
            Box::new(|t| t.get_mut(Tree::ROOT).end -= 1),
            Box::new(|t| {
                let n = t.alloc(0x3000, 0x3fff, b"c", IORESOURCE_MEM, Desc::None);
                t.link_before(Tree::ROOT, n, None);
            }),
            Box::new(|t| {
                // Same rows in the same order, another depth.
                t.unlink(b);
                t.link_before(a, b, None);
            }),
        ];
        for (i, f) in changed.iter().enumerate() {
            let mut u = t.clone();
            f(&mut u);
            assert!(!t.same_as(&u), "change {i}");
            assert!(!u.same_as(&t), "change {i} (other side)");
        }
    }

    #[test]
    fn lookups_find_the_first_in_preorder() {
        let (t, a, a1, b) = two_level();
        assert_eq!(t.find_name("k"), Some(a1));
        assert_eq!(t.find_name("a"), Some(a));
        assert_eq!(t.find_name("nope"), None);
        assert_eq!(t.find_range(0x2000, 0x2fff), Some(b));
        assert_eq!(t.find_range(0x1000, 0x10ff), Some(a1));
        assert_eq!(t.find_range(0x1000, 0x2fff), None);
        assert_eq!(t.find_range(0x2000, 0x2ffe), None);
        assert_eq!((t.depth(a), t.depth(a1), t.depth(b)), (0, 1, 0));
        assert_eq!(t.ancestors(a1).collect::<Vec<_>>(), [a, Tree::ROOT]);
        assert_eq!(t.descendants(a).collect::<Vec<_>>(), [a1]);
        assert_eq!(t.path_to(0x10ff), [a, a1]);
        assert_eq!(t.path_to(0x1100), [a]);
        assert_eq!(t.path_to(0x2fff), [b]);
        assert_eq!((t.len(), t.rows_below(a), t.rows_below(b)), (3, 1, 0));
        assert!(t.has_children(a) && !t.has_children(b));
        assert_eq!((t.child_count(Tree::ROOT), t.first_child(a)), (2, Some(a1)));
        assert_eq!((t.next_sibling(a), t.prev_sibling(b)), (Some(b), Some(a)));
        assert_eq!((t.next_sibling(b), t.prev_sibling(a)), (None, None));
        assert_eq!(t.arena_len(), 4);
    }

    #[test]
    fn linked_and_in_tree_after_unlink_free_and_reuse() {
        let (mut t, a, a1, b) = two_level();
        assert!(t.is_linked(Tree::ROOT) && t.is_linked(a1));
        assert!(t.in_tree(a1) && t.in_tree(Tree::ROOT));
        assert!(!t.in_tree(NodeId(99)));
        assert!(t.unlink(a));
        assert!(!t.is_linked(a));
        assert!(!t.in_tree(a));
        // a1 still hangs from a, which is out of the tree.
        assert!(t.is_linked(a1));
        assert!(!t.in_tree(a1));
        t.free(a);
        // The slots are reused: a new node in a's old slot is not a1's parent.
        let n = t.alloc(0x5000, 0x5fff, b"n", IORESOURCE_MEM, Desc::None);
        t.link_before(Tree::ROOT, n, None);
        assert!(t.in_tree(n) && t.in_tree(b));
        // a1 (released) still points at its old parent's slot, now n's, and n has no such
        // child: not in the tree ("A released node may still point at a parent whose slot
        // was reused").
        assert_eq!((n, t.parent(a1)), (a, Some(a)));
        assert!(!t.in_tree(a1));
        assert!(t.rows_consistent());
        assert_eq!(t.len(), 2);
    }

    #[test]
    fn rows_consistent_sees_a_wrong_count() {
        let (mut t, a, _, _) = two_level();
        assert!(t.rows_consistent());
        t.nodes[a.0 as usize].rows_below = 2;
        assert!(!t.rows_consistent());
        t.nodes[a.0 as usize].rows_below = 1;
        t.nodes[0].rows_below = 4;
        assert!(!t.rows_consistent());
    }

    #[test]
    fn journal_heap_bytes_count_what_it_holds() {
        // "Approximate heap bytes the journal holds": at least each record, each saved
        // node's fields, each saved child entry (a ChildKey and a NodeId) and each saved
        // name's bytes; not more than a few times that.
        fn held(j: &TreeJournal) -> usize {
            let per = std::mem::size_of::<TreeUndo>();
            let entry = std::mem::size_of::<(ChildKey, NodeId)>();
            j.ops
                .iter()
                .map(|op| match op {
                    TreeUndo::Fields(..) => per + std::mem::size_of::<Fields>(),
                    TreeUndo::Kids(_, k) | TreeUndo::KidsSlotPopped(_, k) => per + k.len() * entry,
                    TreeUndo::Slot(..) => per + std::mem::size_of::<Resource>(),
                    TreeUndo::Names(n) => per + n.names.len() + n.of_nodes.len() * 8,
                    TreeUndo::SharedName(b) => per + b.len(),
                    _ => per,
                })
                .sum()
        }
        let mut t = Tree::new_iomem(46);
        let p = leaf(&mut t, Tree::ROOT, 0, 0xfff, "p");
        leaf(&mut t, p, 0, 0x7ff, "k");
        for i in 1..1000u64 {
            leaf(&mut t, Tree::ROOT, i * 0x1000, i * 0x1000 + 0xfff, "k");
        }
        let biggest_list_saved = |j: &TreeJournal| {
            j.ops
                .iter()
                .filter_map(|op| match op {
                    TreeUndo::Kids(_, k) => Some(k.len()),
                    _ => None,
                })
                .max()
        };
        // remove_resource's lift links the child into the top level, which is not re-keyed:
        // only `p`'s own list (of one) is saved.
        t.begin_journal();
        t.unlink_lifting_children(p);
        assert_eq!(biggest_list_saved(&t.end_journal()), Some(1));
        // Re-keying the top level saves its old list of 1000 entries.
        let order: Vec<NodeId> = t.children(Tree::ROOT).collect();
        t.begin_journal();
        t.set_children(Tree::ROOT, &order);
        let j = t.end_journal();
        assert_eq!(biggest_list_saved(&j), Some(1000));
        let (got, low) = (j.heap_bytes(), held(&j));
        assert!(got >= low && got <= 3 * low, "{got} vs {low}");
        // A slot reused under a journal saves the released node; a name interned saves it.
        t.free(p);
        t.begin_journal();
        let n = t.alloc(
            0x10_0000_0000,
            0x10_0000_0fff,
            b"a new name",
            IORESOURCE_MEM,
            Desc::None,
        );
        t.link_before(Tree::ROOT, n, None);
        let name = t.intern(&[b'x'; 5000]);
        t.get_mut(n).name = name;
        let j = t.end_journal();
        let (got, low) = (j.heap_bytes(), held(&j));
        assert!(got >= low && got <= 3 * low, "{got} vs {low}");
        // A journal of one field change: one record and its saved fields.
        t.begin_journal();
        t.get_mut(n).flags |= IORESOURCE_BUSY;
        let j = t.end_journal();
        assert_eq!(j.len(), 2);
        let (got, low) = (j.heap_bytes(), held(&j));
        assert!(got >= low && got <= 3 * low, "{got} vs {low}");
        assert_eq!(j.touched().collect::<Vec<_>>(), [n]);
        assert!(!j.is_empty());
        t.begin_journal();
        assert!(t.end_journal().is_empty());
    }

    #[test]
    fn names_are_compacted_once_the_arena_doubled_since_the_last_time() {
        // compact_names: "once the arena has doubled since the last time" (plus 4 KiB).
        let mut t = Tree::new_iomem(64);
        let live = t.alloc(0x1000, 0x1fff, &[b'L'; 3000], IORESOURCE_MEM, Desc::None);
        t.link_sorted(Tree::ROOT, live);
        let dead = |t: &mut Tree, bytes: usize| {
            let id = t.alloc(0x2000, 0x2fff, &vec![b'd'; bytes], 0, Desc::None);
            t.free(id);
        };
        dead(&mut t, 2000);
        t.compact_names();
        // The live names: the 3000-byte one and the root's.
        let c = t.names.len();
        assert!((3000..3100).contains(&c), "{c}");
        // Nothing happens below twice the last compaction's size plus 4096.
        dead(&mut t, c + 4095);
        assert_eq!(t.names.len(), 2 * c + 4095);
        t.compact_names();
        assert_eq!(t.names.len(), 2 * c + 4095);
        dead(&mut t, 1);
        t.compact_names();
        assert_eq!(t.names.len(), c);
        assert_eq!(t.name_of(live), &[b'L'; 3000][..]);
        // Under a journal: the old arena is kept in the journal (and counted), and undo puts
        // it back.
        dead(&mut t, 20000);
        let before = t.names.len();
        t.begin_journal();
        t.compact_names();
        let j = t.end_journal();
        assert_eq!(t.names.len(), c);
        assert!(j.heap_bytes() >= before, "{} < {before}", j.heap_bytes());
        t.undo(j);
        assert_eq!(t.names.len(), before);
        assert_eq!(t.name_of(live), &[b'L'; 3000][..]);
    }

    #[test]
    fn a_child_list_turns_big_past_small_max() {
        // The doc of `Kids`: "a list that grows past Kids::SMALL_MAX ... becomes a BTreeMap".
        let mut k = Kids::new();
        for i in 0..Kids::SMALL_MAX as u64 {
            k.insert((i, i), NodeId(i as u32 + 1));
        }
        assert!(matches!(k, Kids::Small(_)));
        let n = Kids::SMALL_MAX as u64;
        k.insert((n, n), NodeId(n as u32 + 1));
        assert!(matches!(k, Kids::Big(_)));
        assert_eq!(k.len(), Kids::SMALL_MAX + 1);
    }

    #[test]
    fn path_to_in_an_unsorted_list_needs_containment() {
        // An out-of-order list is scanned whole; a child that starts below the address but
        // ends before it does not contain it.
        let mut t = Tree::new_iomem(46);
        let mut add = |s: u64, e: u64| {
            let id = t.alloc(s, e, b"r", IORESOURCE_MEM, Desc::None);
            t.link_before(Tree::ROOT, id, None);
            id
        };
        let (x, y, z) = (add(0x5000, 0x5fff), add(0x1000, 0x1fff), add(0x0, 0x0fff));
        assert!(t.is_unsorted(Tree::ROOT));
        assert_eq!(t.path_to(0x1800), [y]);
        assert_eq!(t.path_to(0x5800), [x]);
        assert_eq!(t.path_to(0x800), [z]);
        assert_eq!(t.path_to(0x3000), Vec::<NodeId>::new());
    }

    // ------------------------------------------------------------ issue 16, round h5

    #[test]
    fn desc_names_are_the_kernels() {
        // include/linux/ioport.h (6.12): `IORES_DESC_NONE = 0, IORES_DESC_CRASH_KERNEL = 1,
        // IORES_DESC_ACPI_TABLES = 2, IORES_DESC_ACPI_NV_STORAGE = 3,
        // IORES_DESC_PERSISTENT_MEMORY = 4, IORES_DESC_PERSISTENT_MEMORY_LEGACY = 5,
        // IORES_DESC_DEVICE_PRIVATE_MEMORY = 6, IORES_DESC_RESERVED = 7,
        // IORES_DESC_SOFT_RESERVED = 8, IORES_DESC_CXL = 9,`
        let kernel = [
            "NONE",
            "CRASH_KERNEL",
            "ACPI_TABLES",
            "ACPI_NV_STORAGE",
            "PERSISTENT_MEMORY",
            "PERSISTENT_MEMORY_LEGACY",
            "DEVICE_PRIVATE_MEMORY",
            "RESERVED",
            "SOFT_RESERVED",
            "CXL",
        ];
        for (i, d) in Desc::ALL.into_iter().enumerate() {
            assert_eq!(d as u8 as usize, i);
            assert_eq!(d.kernel_name(), kernel[i]);
            assert_eq!(Desc::from_kernel_name(kernel[i]), Some(d));
            let prefixed = format!("iores_desc_{}", kernel[i].to_ascii_lowercase());
            assert_eq!(Desc::from_kernel_name(&prefixed), Some(d), "{prefixed}");
        }
        assert_eq!(Desc::from_kernel_name("PERSISTENT"), None);
        assert_eq!(Desc::from_kernel_name(""), None);
    }

    #[test]
    fn is_empty_and_len_count_the_linked_rows() {
        let mut t = Tree::new_iomem(46);
        assert!(t.is_empty());
        assert_eq!(t.len(), 0);
        let a = leaf(&mut t, Tree::ROOT, 0x1000, 0x1fff, "a");
        assert!(!t.is_empty());
        leaf(&mut t, a, 0x1000, 0x17ff, "a1");
        assert_eq!(t.len(), 2);
        assert!(t.unlink(a));
        assert!(t.is_empty());
        assert_eq!(t.len(), 0);
    }

    #[test]
    fn free_leaves_the_root_and_a_released_node_alone() {
        // free: the root is never released; a released node released again changes nothing
        // (its slot is on the free list once, so two allocations get two slots).
        let (mut t, a, _, b) = two_level();
        let before = format!("{t:?}");
        t.free(Tree::ROOT);
        assert_eq!(format!("{t:?}"), before, "free(ROOT) is a no-op");
        assert!(t.unlink(b));
        t.free(b);
        t.free(b);
        assert_eq!(t.free_slots, [b.0]);
        let x = t.alloc(0x5000, 0x5fff, b"x", IORESOURCE_MEM, Desc::None);
        let y = t.alloc(0x6000, 0x6fff, b"y", IORESOURCE_MEM, Desc::None);
        assert_eq!(x, b);
        assert_ne!(x, y);
        assert_eq!(y.0 as usize, t.arena_len() - 1);
        assert!(t.in_tree(a));
    }

    #[test]
    fn link_before_marks_a_list_as_set_children_would() {
        // An overlap with the entry before, one with the entry after, a start behind the
        // list's keys, and a clean link: each as `set_children` of the same order decides.
        let mut t = Tree::new_iomem(46);
        let a = t.alloc(0x1000, 0x2fff, b"a", IORESOURCE_MEM, Desc::None);
        t.link_before(Tree::ROOT, a, None);
        let b = t.alloc(0x2000, 0x3fff, b"b", IORESOURCE_MEM, Desc::None);
        t.link_before(Tree::ROOT, b, None);
        assert!(t.is_unsorted(Tree::ROOT), "overlap with the previous entry");

        let mut t = Tree::new_iomem(46);
        let a = t.alloc(0x4000, 0x4fff, b"a", IORESOURCE_MEM, Desc::None);
        t.link_before(Tree::ROOT, a, None);
        let b = t.alloc(0x1000, 0x4000, b"b", IORESOURCE_MEM, Desc::None);
        t.link_before(Tree::ROOT, b, Some(a));
        assert!(t.is_unsorted(Tree::ROOT), "overlap with the next entry");

        let mut t = Tree::new_iomem(46);
        let a = t.alloc(0x1000, 0x1fff, b"a", IORESOURCE_MEM, Desc::None);
        t.link_before(Tree::ROOT, a, None);
        let b = t.alloc(0x2000, 0x2fff, b"b", IORESOURCE_MEM, Desc::None);
        t.link_before(Tree::ROOT, b, None);
        assert!(!t.is_unsorted(Tree::ROOT), "touching is not overlapping");

        // An inverted range alone in its list is marked (set_children: `if e < s`); a
        // one-byte range (end == start) is not.
        let mut t = Tree::new_iomem(46);
        let a = t.alloc(0x3000, 0x2fff, b"inverted", IORESOURCE_MEM, Desc::None);
        t.link_before(Tree::ROOT, a, None);
        assert!(t.is_unsorted(Tree::ROOT), "end below start");
        let mut t = Tree::new_iomem(46);
        let a = t.alloc(0x3000, 0x3000, b"one byte", IORESOURCE_MEM, Desc::None);
        t.link_before(Tree::ROOT, a, None);
        assert!(!t.is_unsorted(Tree::ROOT), "a one-byte range is a range");

        // Random links (no removals, so the mark never had a reason to go stale): the mark is
        // always the one `set_children` computes for the resulting order.
        let mut rng = 0x2545_f491_4f6c_dd1du64;
        let mut next = |n: u64| {
            rng ^= rng << 13;
            rng ^= rng >> 7;
            rng ^= rng << 17;
            rng % n
        };
        for _ in 0..200 {
            let mut t = Tree::new_iomem(46);
            for _ in 0..1 + next(6) {
                let s = next(16) * 0x1000;
                let e = s + next(3) * 0x1000 + 0xfff;
                let id = t.alloc(s, e, b"x", IORESOURCE_MEM, Desc::None);
                let kids: Vec<NodeId> = t.children(Tree::ROOT).collect();
                let at = next(kids.len() as u64 + 1) as usize;
                t.link_before(Tree::ROOT, id, kids.get(at).copied());
            }
            let order: Vec<NodeId> = t.children(Tree::ROOT).collect();
            let mut again = t.clone();
            again.set_children(Tree::ROOT, &order);
            assert_eq!(
                t.is_unsorted(Tree::ROOT),
                again.is_unsorted(Tree::ROOT),
                "{order:?}"
            );
        }
    }

    #[test]
    fn link_sorted_goes_to_the_end_of_the_run_of_equal_starts() {
        // "Link `new` into `p` at the position its start sorts to (end of the run of equal
        // starts)", in a sorted list and in an unsorted one (scanned in list order).
        let mut t = Tree::new_iomem(46);
        let a = leaf(&mut t, Tree::ROOT, 0x1000, 0x1fff, "a");
        let b = leaf(&mut t, Tree::ROOT, 0x2000, 0x2fff, "b");
        let c = leaf(&mut t, Tree::ROOT, 0x1000, 0x10ff, "c");
        assert_eq!(t.children(Tree::ROOT).collect::<Vec<_>>(), [a, c, b]);
        let mut u = Tree::new_iomem(46);
        let x = u.alloc(0x9000, 0x9fff, b"x", IORESOURCE_MEM, Desc::None);
        let y = u.alloc(0x1000, 0x1fff, b"y", IORESOURCE_MEM, Desc::None);
        let z = u.alloc(0xa000, 0xafff, b"z", IORESOURCE_MEM, Desc::None);
        u.set_children(Tree::ROOT, &[x, y, z]);
        assert!(u.is_unsorted(Tree::ROOT));
        let w = leaf(&mut u, Tree::ROOT, 0x9000, 0x90ff, "w");
        assert_eq!(u.children(Tree::ROOT).collect::<Vec<_>>(), [x, y, w, z]);
    }

    /// Every entry of `p`'s list in list order, read from the list itself.
    fn entries(t: &Tree, p: NodeId) -> Vec<(ChildKey, NodeId)> {
        t.kids(p)
            .range::<(Bound<ChildKey>, Bound<ChildKey>)>((Bound::Unbounded, Bound::Unbounded))
            .collect()
    }

    #[test]
    fn key_and_previous_and_key_in_read_the_list() {
        // key_and_previous: "`before`'s key in `p`'s list and the entry before it
        // (the last entry when `before` is `None` or not listed)"; key_in: "the key of `c` in
        // `p`'s list, if it is listed there". Short and long (Big) lists, with runs of equal
        // starts (the fast path must not take another child of the same start), unsorted.
        let mut shapes: Vec<(Tree, NodeId)> = Vec::new();
        for n in [3u64, 40] {
            let mut t = Tree::new_iomem(46);
            for i in 0..n {
                let s = (i / 3) * 0x1000; // three children to a start
                leaf(&mut t, Tree::ROOT, s, s + 0xfff - i % 3, "k");
            }
            shapes.push((t, Tree::ROOT));
        }
        let mut u = Tree::new_iomem(46);
        let order: Vec<NodeId> = (0..40u64)
            .map(|i| {
                let s = ((i * 7) % 40) * 0x1000;
                u.alloc(s, s + 0xfff, b"u", IORESOURCE_MEM, Desc::None)
            })
            .collect();
        u.set_children(Tree::ROOT, &order);
        assert!(u.is_unsorted(Tree::ROOT));
        shapes.push((u, Tree::ROOT));
        for (t, p) in &shapes {
            let list = entries(t, *p);
            assert!(list.windows(2).all(|w| w[0].0 < w[1].0), "keys increase");
            let last = list.last().copied();
            for (i, &(k, c)) in list.iter().enumerate() {
                let prev = i.checked_sub(1).map(|j| list[j]);
                assert_eq!(t.key_in(*p, c), Some(k));
                assert_eq!(
                    t.key_and_previous(*p, Some(c)),
                    (Some(k), prev),
                    "entry {i}"
                );
                assert_eq!(t.next_sibling(c), list.get(i + 1).map(|e| e.1));
                assert_eq!(t.prev_sibling(c), i.checked_sub(1).map(|j| list[j].1));
            }
            assert_eq!(t.key_and_previous(*p, None), (None, last));
            let mut t2 = t.clone();
            let s = t2.alloc(0x2000, 0x2fff, b"stray", 0, Desc::None);
            assert_eq!(t2.key_in(*p, s), None);
            assert_eq!(t2.key_and_previous(*p, Some(s)), (None, last));
        }
    }

    #[test]
    fn fill_children_marks_what_is_not_sorted_and_disjoint() {
        // set_children, and push_dump_row for the parser ("The `unsorted` mark is the one
        // [`Tree::set_children`] would give"): "recomputing whether the list is sorted and
        // disjoint" (invariant 3: siblings sorted by start and not overlapping; a range with
        // end < start is not a range).
        let cases: &[(&[(u64, u64)], bool)] = &[
            (&[(0x5, 0x5)], false),
            (&[(0x6, 0x5)], true),
            (&[(0x10, 0x10), (0x20, 0x2f)], false),
            (&[(0x10, 0x1f), (0x20, 0x20)], false),
            (&[(0x1000, 0x1fff), (0x2000, 0x2fff)], false),
            (&[(0x30, 0x2f), (0x40, 0x4f)], true),
            (&[(0x10, 0x1f), (0x30, 0x2f)], true),
            (&[(0x1000, 0x1fff), (0x1800, 0x27ff)], true),
            (&[(0x1000, 0x1fff), (0x1fff, 0x27ff)], true),
            (&[(0x5000, 0x5fff), (0x1000, 0x1fff)], true),
            (&[(0x1000, 0x1fff), (0x1000, 0x1fff)], true),
        ];
        for (i, (ranges, unsorted)) in cases.iter().enumerate() {
            for bulk in [false, true] {
                let mut t = Tree::new_iomem(46);
                let ids: Vec<NodeId> = if bulk {
                    // The parser's rows, pushed one by one at top level.
                    let name = t.intern(b"c");
                    let ids = ranges
                        .iter()
                        .map(|&(s, e)| t.push_dump_row(s, e, name, 1, Tree::ROOT))
                        .collect();
                    t.finish_dump_rows();
                    ids
                } else {
                    let ids: Vec<NodeId> = ranges
                        .iter()
                        .map(|&(s, e)| t.alloc(s, e, b"c", IORESOURCE_MEM, Desc::None))
                        .collect();
                    t.set_children(Tree::ROOT, &ids);
                    ids
                };
                assert_eq!(t.is_unsorted(Tree::ROOT), *unsorted, "case {i} bulk {bulk}");
                assert_eq!(t.children(Tree::ROOT).collect::<Vec<_>>(), ids, "case {i}");
                let list = entries(&t, Tree::ROOT);
                assert!(list.windows(2).all(|w| w[0].0 < w[1].0), "case {i}");
                assert_eq!(t.len(), ids.len());
            }
        }
    }

    #[test]
    fn a_first_journal_counts_compaction_from_the_arena_it_finds() {
        // begin_journal: "A parsed tree holds no dead names: count compaction's doubling from
        // here, or the first step would copy the whole arena into its journal."
        let mut t = Tree::new_iomem(46);
        for i in 0..4u64 {
            let id = t.alloc(
                i << 16,
                (i << 16) + 0xfff,
                &[b'a' + i as u8; 3000],
                0,
                Desc::None,
            );
            t.link_before(Tree::ROOT, id, None);
        }
        let len = t.names.len();
        assert!(len > 4096 && t.names_compacted == 0);
        t.begin_journal();
        t.compact_names();
        let j = t.end_journal();
        assert_eq!(t.names.len(), len, "nothing to compact yet");
        assert!(!j.ops.iter().any(|op| matches!(op, TreeUndo::Names(_))));
        assert_eq!(t.names_compacted, len);
    }

    #[test]
    fn journal_heap_bytes_count_saved_arenas_and_names() {
        // heap_bytes, "approximate heap bytes the journal holds": at least each record, a
        // saved arena's bytes, 8 bytes per saved node name (a Name) and 24 per saved shared
        // name entry (its boxed key and Name); not more than 3 times that.
        fn held(j: &TreeJournal) -> usize {
            let per = std::mem::size_of::<TreeUndo>();
            j.ops
                .iter()
                .map(|op| match op {
                    TreeUndo::Names(n) => {
                        per + n.names.len() + n.of_nodes.len() * 8 + n.shared.len() * 24
                    }
                    TreeUndo::SharedName(b) => per + b.len(),
                    TreeUndo::Fields(..) => per + std::mem::size_of::<Fields>(),
                    TreeUndo::Slot(..) => per + std::mem::size_of::<Resource>(),
                    TreeUndo::Kids(_, k) => per + k.len() * 24,
                    _ => per,
                })
                .sum()
        }
        let check = |j: &TreeJournal| {
            let (got, low) = (j.heap_bytes(), held(j));
            assert!(got >= low && got <= 3 * low, "{got} vs {low}");
        };
        // Many nodes, one shared name; then many shared names.
        for distinct in [false, true] {
            let mut t = Tree::new_iomem(46);
            for i in 0..2000u64 {
                let name = if distinct {
                    format!("n{i:04}")
                } else {
                    "k".into()
                };
                let id = t.alloc(i << 12, (i << 12) + 0xfff, name.as_bytes(), 0, Desc::None);
                t.link_before(Tree::ROOT, id, None);
            }
            // A first journal counts compaction's doubling from here (all names live).
            t.begin_journal();
            let _ = t.end_journal();
            let live = t.names.len();
            let d = t.alloc(0, 0, &vec![b'd'; live + 4096], 0, Desc::None);
            t.free(d);
            t.begin_journal();
            t.compact_names();
            let j = t.end_journal();
            assert_eq!(t.names.len(), live);
            assert!(j.ops.iter().any(|op| matches!(op, TreeUndo::Names(_))));
            check(&j);
        }
        // One allocation with a new 1000-byte name: its SharedName record holds the bytes.
        let mut t = Tree::new_iomem(46);
        t.begin_journal();
        let id = t.alloc(0x1000, 0x1fff, &[b'q'; 1000], 0, Desc::None);
        t.link_before(Tree::ROOT, id, None);
        let j = t.end_journal();
        assert!(j.heap_bytes() >= 1000);
        check(&j);
    }

    #[test]
    fn kids_take_the_documented_shape() {
        // Kids: "A list of one, without an allocation" (`One`), "small lists are a sorted
        // `Vec`", "a list that grows past SMALL_MAX ... becomes a BTreeMap" — built in bulk
        // (from_sorted) or one insert at a time.
        let e = |n: u64| {
            (0..n)
                .map(|i| ((i, i), NodeId(i as u32)))
                .collect::<Vec<_>>()
        };
        assert!(matches!(Kids::from_sorted(e(1)), Kids::One(_)));
        assert!(matches!(Kids::from_sorted(e(2)), Kids::Small(_)));
        assert!(matches!(Kids::from_sorted(e(32)), Kids::Small(_)));
        assert!(matches!(Kids::from_sorted(e(33)), Kids::Big(_)));
        let mut k = Kids::new();
        k.insert((5, 1), NodeId(1));
        assert!(matches!(k, Kids::One(((5, 1), NodeId(1)))));
        k.insert((4, 2), NodeId(2));
        assert!(matches!(k, Kids::Small(ref v) if v.len() == 2));
        assert_eq!(k.values().collect::<Vec<_>>(), [NodeId(2), NodeId(1)]);
    }

    #[test]
    fn an_inverted_or_empty_range_is_empty_in_either_shape() {
        // Kids::range: "like `BTreeMap::range`, but an empty or inverted range is simply
        // empty" (BTreeMap panics on those).
        for n in [3u64, 40] {
            let mut k = Kids::new();
            for i in 0..n {
                k.insert((i, 0), NodeId(i as u32));
            }
            let (a, b) = ((2u64, 0u64), (1u64, 0u64));
            let count = |r: KidsRange<'_>| r.count();
            assert_eq!(count(k.range(a..=b)), 0, "{n}: inverted ..=");
            assert_eq!(count(k.range(a..b)), 0, "{n}: inverted ..");
            assert_eq!(count(k.range(a..a)), 0, "{n}: empty ..");
            assert_eq!(count(k.range(a..=a)), 1, "{n}: one ..=");
            use Bound::{Excluded, Included};
            assert_eq!(count(k.range((Excluded(a), Excluded(a)))), 0, "{n}");
            assert_eq!(count(k.range((Excluded(a), Included(a)))), 0, "{n}");
            assert_eq!(count(k.range((Excluded(a), Included(b)))), 0, "{n}");
            assert_eq!(count(k.range((Excluded(a), Excluded(b)))), 0, "{n}");
            assert_eq!(count(k.range((Excluded(b), Included(a)))), 1, "{n}");
            // and a range that is not empty gives its entries
            let c = (3u64, 0u64); // keys (1, 0) and (2, 0) below it; (3, 0) only when n = 40
            let with_c = if n > 3 { 1 } else { 0 };
            assert_eq!(count(k.range(b..a)), 1, "{n}: b..a");
            assert_eq!(count(k.range(b..c)), 2, "{n}: b..c");
            assert_eq!(count(k.range((Excluded(b), Excluded(c)))), 1, "{n}");
            assert_eq!(
                count(k.range((Excluded(b), Included(c)))),
                1 + with_c,
                "{n}"
            );
        }
    }

    #[test]
    fn share_name_makes_the_nodes_name_the_shared_one_and_undoes() {
        let mut t = Tree::new(RootKind::Iomem, u64::MAX);
        let a = t.alloc_named(0x1000, 0x1fff, Name { off: 0, len: 0 }, 0, Desc::None);
        let own = t.intern(b"System RAM (virtio_mem)");
        t.get_mut(a).name = own;
        t.begin_journal();
        t.share_name(a);
        // The node's own bytes became the shared copy: no new bytes, the same object.
        assert_eq!(t.intern_shared(b"System RAM (virtio_mem)"), own);
        let j = t.end_journal();
        t.undo(j);
        // Undone: the map forgot it; the next intern_shared makes a fresh copy.
        assert_ne!(t.intern_shared(b"System RAM (virtio_mem)"), own);
        // A second node with the same text takes the shared object.
        let copy = t.intern(b"System RAM (virtio_mem)");
        let b = t.alloc_named(0x2000, 0x2fff, copy, 0, Desc::None);
        let shared = t.intern_shared(b"System RAM (virtio_mem)");
        assert_ne!(t.get(b).name, shared);
        t.share_name(b);
        assert_eq!(t.get(b).name, shared);
    }

    #[test]
    fn every_key_takes_a_fresh_seq() {
        // Module doc: "a child's key is `(max(start, previous key), seq)`"; kids_insert: "Keys
        // are unique (`seq`)". Every key made — by link_before / link_sorted, by a list of
        // one or of many — takes its own seq, whatever list it lands in.
        let mut t = Tree::new_iomem(46);
        let a = leaf(&mut t, Tree::ROOT, 0x1000, 0x1fff, "a");
        let b = leaf(&mut t, Tree::ROOT, 0x2000, 0x2fff, "b");
        leaf(&mut t, a, 0x1000, 0x10ff, "a1");
        let one = t.alloc(0x2000, 0x20ff, b"b1", IORESOURCE_MEM, Desc::None);
        t.set_children(b, &[one]);
        let two: Vec<NodeId> = (0..2u64)
            .map(|i| t.alloc(0x3000 + i * 0x100, 0x30ff + i * 0x100, b"c", 0, Desc::None))
            .collect();
        let c = leaf(&mut t, Tree::ROOT, 0x3000, 0x3fff, "c");
        t.set_children(c, &two);
        leaf(&mut t, Tree::ROOT, 0x4000, 0x4fff, "d");
        let mut seqs: Vec<u64> = [Tree::ROOT, a, b, c]
            .iter()
            .flat_map(|&p| entries(&t, p).into_iter().map(|(k, _)| k.1))
            .collect();
        assert_eq!(seqs.len(), 8);
        seqs.sort_unstable();
        seqs.dedup();
        assert_eq!(seqs.len(), 8, "a seq used twice");
    }

    #[test]
    fn a_child_list_prints_its_entries_whatever_its_shape() {
        // Kids' Debug: "The entries in order, whatever the representation (...): they answer
        // every query alike, so they print alike" — what the undo tests compare.
        let e: Vec<(ChildKey, NodeId)> = (0..40u64).map(|i| ((i, i), NodeId(i as u32))).collect();
        let want = format!("{:?}", e.iter().map(|(_, v)| v).collect::<Vec<_>>());
        let big = Kids::from_sorted(e.clone());
        assert!(matches!(big, Kids::Big(_)));
        let mut small = Kids::Small(e.clone());
        assert_eq!(format!("{big:?}"), want);
        assert_eq!(format!("{small:?}"), want);
        small.remove(&(0, 0));
        assert_ne!(format!("{small:?}"), want);
        assert_eq!(format!("{:?}", Kids::One(e[3])), "[NodeId(3)]");
        assert_eq!(format!("{:?}", Kids::new()), "[]");
    }
}
