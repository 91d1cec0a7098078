//! Every modelled kernel version boundary in one table: the function whose behaviour changes,
//! the version it changed in (plus the stable series that carry it as a backport) and the
//! commit behind it. `-k list` prints this table; `-k A..B` expands to the boundaries inside
//! the range; the rules that moved here ask [`Boundary::applies`] instead of comparing
//! version numbers themselves.
//!
//! Sources: where a row says "read", the function was read in the Debian `linux-source`
//! package of that version (5.10.262, 6.1.172, 6.12.118 under /work/ksrc); other rows come
//! from the upstream git history (commit titles as merged) and say so in `source`.

use super::KernelVersion;

/// One behaviour change.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Boundary {
    /// The kernel function whose behaviour changes.
    pub function: &'static str,
    /// First mainline release with the new behaviour.
    pub since: (u32, u32),
    /// Stable series that carry it as a backport "as shipped today" (`X.Y`; `X.Y.0`, the
    /// original release, does not).
    pub backports: &'static [(u32, u32)],
    /// The upstream commit title.
    pub title: &'static str,
    /// What changes, in a few words.
    pub effect: &'static str,
    /// Where this was checked.
    pub source: &'static str,
}

impl Boundary {
    /// Whether kernel `v` has the new behaviour.
    pub fn applies(&self, v: KernelVersion) -> bool {
        v.at_least(self.since.0, self.since.1)
            || (self.backports.contains(&(v.major, v.minor)) && !v.is_original_release())
    }

    pub fn since_version(&self) -> KernelVersion {
        KernelVersion::new(self.since.0, self.since.1)
    }
}

/// `__release_region`'s "Trying to free nonexistent resource" prints `%pa`-style
/// `0x`-prefixed addresses.
pub const RELEASE_REGION_PA: Boundary = Boundary {
    function: "__release_region",
    since: (4, 16),
    backports: &[],
    title: "kernel/resource: print addresses with %pa in __release_region (log format)",
    effect: "\"Trying to free nonexistent resource <0x…-0x…>\" instead of <%016llx-%016llx>",
    source: "git history (title paraphrased, not verified)",
};

/// `check_hotplug_memory_range()`: block-size alignment instead of section alignment.
pub const HOTPLUG_RANGE_BLOCK_ALIGNED: Boundary = Boundary {
    function: "check_hotplug_memory_range",
    since: (4, 17),
    backports: &[],
    title: "mm/memory_hotplug: enforce block size aligned range check",
    effect: "memory block alignment (\"Block size [%#lx] unaligned hotplug range\"); before: section alignment (\"Section-unaligned hotplug range\")",
    source: "git history (ba325585230e, Pavel Tatashin, 2018)",
};

/// `check_hotplug_memory_range()` compares bytes, not `size >> PAGE_SHIFT` page counts.
pub const HOTPLUG_RANGE_BYTES: Boundary = Boundary {
    function: "check_hotplug_memory_range",
    since: (5, 2),
    backports: &[],
    title: "mm/memory_hotplug: simplify and fix check_hotplug_memory_range()",
    effect: "IS_ALIGNED(size, block size) on bytes; before: on size >> PAGE_SHIFT, so a sub-page tail passed",
    source: "git history from memory (David Hildenbrand, 2019; title and the exact release not verified here); 5.10/6.1/6.12 read: byte comparison",
};

/// `release_mem_region_adjustable()` gains its IORESOURCE_SYSRAM bail-out (removed again by
/// [`RMRA_SYSRAM_BAILOUT_REMOVED`]).
pub const RMRA_SYSRAM_BAILOUT: Boundary = Boundary {
    function: "release_mem_region_adjustable",
    since: (5, 0),
    backports: &[],
    title: "(the IORESOURCE_SYSRAM check in release_mem_region_adjustable; commit title not verified)",
    effect: "a System RAM child of the System RAM being removed stops the release",
    source: "kernel-semantics.md §2.8 and 6.1.172 (where the 6.3 fix removed it); not verified further",
};

/// `release_mem_region_adjustable()`'s IORESOURCE_SYSRAM bail-out (5.0 … 6.2, not in the
/// backport series).
pub const RMRA_SYSRAM_BAILOUT_REMOVED: Boundary = Boundary {
    function: "release_mem_region_adjustable",
    since: (6, 3),
    backports: &[(5, 10), (5, 15), (6, 1)],
    title: "dax/kmem: Fix leak of memory-hotplug resources",
    effect: "a System RAM child of a System RAM resource no longer stops the release (the bail-out existed from 5.0)",
    source: "6.1.172 read; git history",
};

/// `register_memory_resource()` nests under a non-busy parent.
pub const MEMORY_RESOURCE_CHILDREN: Boundary = Boundary {
    function: "register_memory_resource",
    since: (5, 1),
    backports: &[],
    title: "mm/memory-hotplug: Allow memory resources to be children",
    effect: "__request_region (descends into non-BUSY parents) instead of request_resource_conflict at top level (-EEXIST)",
    source: "git history (Dave Hansen, 2019); 5.10 read",
};

/// The resource walkers return `-EINVAL` when nothing was found.
pub const WALK_REAL_ERRORS: Boundary = Boundary {
    function: "walk_system_ram_range / walk_iomem_res_desc",
    since: (5, 1),
    backports: &[],
    title: "mm/resource: Return real error codes from walk failures",
    effect: "-EINVAL instead of -1 when nothing matched",
    source: "git history (Dave Hansen, 2019)",
};

/// `walk_system_ram_range()` searches child resources.
pub const WALK_RAM_RANGE_CHILDREN: Boundary = Boundary {
    function: "walk_system_ram_range",
    since: (5, 1),
    backports: &[],
    title: "mm/resource: Let walk_system_ram_range() search child resources",
    effect: "whole tree instead of top level",
    source: "git history (Dave Hansen, 2019)",
};

/// dax/kmem exists.
pub const DAX_KMEM: Boundary = Boundary {
    function: "dev_dax_kmem_probe",
    since: (5, 1),
    backports: &[],
    title: "device-dax: \"Hotplug\" persistent memory for use like normal RAM",
    effect: "dax kmem exists",
    source: "git history (Dave Hansen, 2019)",
};

/// `remove_memory()` returns an error instead of BUG()ing; kmem can hot-remove.
pub const REMOVE_MEMORY_INT: Boundary = Boundary {
    function: "remove_memory / dev_dax_kmem_remove",
    since: (5, 3),
    backports: &[],
    title: "mm/hotplug: make remove_memory() interface usable",
    effect: "-EBUSY on online memory instead of BUG(); kmem unbind removes the memory",
    source: "git history (Pavel Tatashin, 2019)",
};

/// Zones shrink when memory is offlined (not only when removed).
pub const SHRINK_ZONES_ON_OFFLINE: Boundary = Boundary {
    function: "offline_pages / shrink_zone_span",
    since: (5, 5),
    backports: &[(4, 19), (5, 4)],
    title: "mm/memory_hotplug: shrink zones when offlining memory",
    effect: "an offlined block leaves its zone's span; before, it stays spanned until removed",
    source: "git history (feee6b298916, David Hildenbrand, 2019; Cc stable 4.19+, not in 5.0–5.2 which were EOL)",
};

/// `add_memory_driver_managed()` exists.
pub const ADD_MEMORY_DRIVER_MANAGED: Boundary = Boundary {
    function: "add_memory_driver_managed",
    since: (5, 8),
    backports: &[],
    title: "mm/memory_hotplug: introduce add_memory_driver_managed()",
    effect: "driver-managed System RAM (kmem: \"System RAM (kmem)\")",
    source: "git history (David Hildenbrand, 2020)",
};

/// `auto_online_blocks` takes an online type.
pub const AUTO_ONLINE_TYPE: Boundary = Boundary {
    function: "auto_online_blocks_store",
    since: (5, 8),
    backports: &[],
    title: "mm/memory_hotplug: allow to specify a default online_type",
    effect: "online_kernel/online_movable accepted; before, a bool (online)",
    source: "git history (David Hildenbrand, 2020)",
};

/// `offline_and_remove_memory()` exists.
pub const OFFLINE_AND_REMOVE: Boundary = Boundary {
    function: "offline_and_remove_memory",
    since: (5, 8),
    backports: &[],
    title: "mm/memory_hotplug: introduce offline_and_remove_memory()",
    effect: "exists (virtio-mem)",
    source: "git history (David Hildenbrand, 2020)",
};

/// `offline_and_remove_memory()` takes more than one memory block.
pub const OFFLINE_AND_REMOVE_MANY: Boundary = Boundary {
    function: "offline_and_remove_memory",
    since: (5, 11),
    backports: &[(5, 10)],
    title: "mm/memory_hotplug: extend offline_and_remove_memory() to handle more than one memory block",
    effect: "any block-aligned range, re-onlining on failure; before, exactly one block (size != memory_block_size_bytes() → -EINVAL), no rollback",
    source: "5.10.262 and 6.1.172 read (both have the multi-block walk: 5.10-stable carries it, 5.10.0 does not); the v5.8 single-block version from git history",
};

/// MHP_MERGE_RESOURCE.
pub const MERGE_RESOURCE: Boundary = Boundary {
    function: "add_memory_resource",
    since: (5, 10),
    backports: &[],
    title: "mm/memory_hotplug: MEMHP_MERGE_RESOURCE to specify merging of System RAM resources",
    effect: "--merge merges adjacent System RAM",
    source: "5.10.262 read",
};

/// `release_mem_region_adjustable()` never fails.
pub const RMRA_NEVER_FAILS: Boundary = Boundary {
    function: "release_mem_region_adjustable / dax_kmem_range",
    since: (5, 10),
    backports: &[],
    title: "kernel/resource: make release_mem_region_adjustable() never fail",
    effect: "void; before, -EINVAL logged as \"Unable to release resource\"",
    source: "5.10.262 read",
};

/// `mhp_range_allowed()`.
pub const MHP_RANGE_ALLOWED: Boundary = Boundary {
    function: "mhp_range_allowed",
    since: (5, 12),
    backports: &[],
    title: "mm/memory_hotplug: prevalidate the address range being added with platform",
    effect: "-E2BIG above the direct map's reach",
    source: "6.1.172 read; git history (Anshuman Khandual, 2021)",
};

/// The walkers of System RAM search the whole tree.
pub const WALK_RES_WHOLE_TREE: Boundary = Boundary {
    function: "find_next_iomem_res / walk_system_ram_res",
    since: (5, 13),
    backports: &[(5, 10)],
    title: "kernel/resource: make walk_system_ram_res() find all busy IORESOURCE_SYSTEM_RAM resources",
    effect: "whole tree, -ENODEV when nothing found; before, top level only and -1",
    source: "git history (David Hildenbrand, 2021); 5.10.262 read: walk_system_ram_res and walk_mem_res pass first_lvl = false (the 5.10-stable backport)",
};

/// `alloc_free_mem_region()` / `__region_intersects(parent, …)`.
pub const ALLOC_FREE_MEM_REGION: Boundary = Boundary {
    function: "alloc_free_mem_region / get_free_mem_region",
    since: (6, 1),
    backports: &[],
    title: "resource: Introduce alloc_free_mem_region()",
    effect: "exists (CXL); get_free_mem_region gains its descending/align loop",
    source: "6.1.172 read",
};

/// `get_free_mem_region()` steps by `align`.
pub const GFR_STEP_BY_ALIGN: Boundary = Boundary {
    function: "get_free_mem_region",
    since: (6, 7),
    backports: &[(6, 6)],
    title: "kernel/resource: Increment by align value in get_free_mem_region()",
    effect: "candidates advance by align instead of size (6.6-stable from 6.6.11)",
    source: "git history (Alison Schofield, 2023)",
};

/// `__region_intersects()` looks into the descendants of a non-matching resource.
///
/// Read in 6.1.172 and 5.10.262 `kernel/resource.c`: both have the walk
/// (`covered = false; for_each_resource(p, dp, false) { … }`), so the fix (Cc: stable) reached
/// those stable series; 5.15 and 6.6 are newer maintained series, which get every fix 5.10
/// gets. The original releases (`5.10.0`, `6.1.0`) do not have it.
pub const REGION_INTERSECTS_DESCENDANTS: Boundary = Boundary {
    function: "__region_intersects",
    since: (6, 12),
    backports: &[(5, 10), (5, 15), (6, 1), (6, 6)],
    title: "resource: fix region_intersects() vs add_memory_driver_managed()",
    effect: "matching descendants of a non-matching resource count (CXL window over System RAM → INTERSECTS)",
    source: "6.12.118, 6.1.172 and 5.10.262 read (Huang Ying, 2024)",
};

/// `get_free_mem_region()` starts at `max(base, align)`.
pub const GFR_START_ALIGN: Boundary = Boundary {
    function: "get_free_mem_region",
    since: (6, 12),
    backports: &[],
    title: "resource: make alloc_free_mem_region() works for iomem_resource",
    effect: "the first candidate is ALIGN(max(base->start, align), align)",
    source: "6.12.118 read (Huang Ying, 2024)",
};

/// kmem logs the alignment truncation.
pub const KMEM_TRUNCATION_LOG: Boundary = Boundary {
    function: "dev_dax_kmem_probe",
    since: (6, 16),
    backports: &[],
    title: "dax/kmem: report the truncation of a DAX region to memory-block alignment (log line)",
    effect: "\"DAX region truncated by … due to alignment\"",
    source: "git history (Gregory Price, 2025; version approximate, title paraphrased)",
};

/// `memory_hotplug.online_policy=auto-movable` and memory groups.
pub const ONLINE_POLICY_AUTO_MOVABLE: Boundary = Boundary {
    function: "auto_movable_zone_for_pfn / memory_group_register_static",
    since: (5, 16),
    backports: &[],
    title: "mm/memory_hotplug: memory group aware \"auto-movable\" online policy",
    effect: "--online-policy auto-movable: `online` picks ZONE_MOVABLE within auto_movable_ratio; static groups per ACPI device / kmem",
    source: "6.1.172 read (David Hildenbrand, 2021)",
};

/// `kstrtobool()` (the `online` attribute's `strtobool`) takes `t`/`T`/`f`/`F`.
pub const KSTRTOBOOL_TRUE_FALSE: Boundary = Boundary {
    function: "kstrtobool",
    since: (6, 1),
    backports: &[],
    title: "kstrtobool() accepts \"true\"/\"false\" (t, T, f, F as the first character)",
    effect: "`echo true > memoryN/online` onlines; before, -EINVAL",
    source: "read: lib/kstrtox.c has `case 't': case 'T':` in 6.1.172 and 6.12.118, not in 5.10.262; the release between is not pinned (modelled from 6.1), title paraphrased",
};

/// The table, oldest first.
pub const BOUNDARIES: &[Boundary] = &[
    RELEASE_REGION_PA,
    HOTPLUG_RANGE_BLOCK_ALIGNED,
    RMRA_SYSRAM_BAILOUT,
    MEMORY_RESOURCE_CHILDREN,
    WALK_REAL_ERRORS,
    WALK_RAM_RANGE_CHILDREN,
    DAX_KMEM,
    HOTPLUG_RANGE_BYTES,
    REMOVE_MEMORY_INT,
    SHRINK_ZONES_ON_OFFLINE,
    ADD_MEMORY_DRIVER_MANAGED,
    AUTO_ONLINE_TYPE,
    OFFLINE_AND_REMOVE,
    MERGE_RESOURCE,
    RMRA_NEVER_FAILS,
    OFFLINE_AND_REMOVE_MANY,
    MHP_RANGE_ALLOWED,
    WALK_RES_WHOLE_TREE,
    ONLINE_POLICY_AUTO_MOVABLE,
    ALLOC_FREE_MEM_REGION,
    KSTRTOBOOL_TRUE_FALSE,
    RMRA_SYSRAM_BAILOUT_REMOVED,
    GFR_STEP_BY_ALIGN,
    REGION_INTERSECTS_DESCENDANTS,
    GFR_START_ALIGN,
    KMEM_TRUNCATION_LOG,
];

/// The oldest behaviour modelled: kernels before the first boundary act as the series just
/// before it.
pub fn oldest() -> KernelVersion {
    BOUNDARIES
        .iter()
        .map(Boundary::since_version)
        .min()
        .unwrap_or(KernelVersion::NEWEST)
}

/// Last minor of each finished major series (`3.19`, `4.20`, `5.19`); 2.6 is the only 2.x.
fn series_exists(v: KernelVersion) -> bool {
    match v.major {
        2 => v.minor == 6,
        3 => v.minor <= 19,
        4 => v.minor <= 20,
        5 => v.minor <= 19,
        _ => true,
    }
}

/// The warning for a version outside what is modelled, naming the behaviour used; `None` for
/// a version inside it.
pub fn modelled_warning(v: KernelVersion) -> Option<String> {
    let newest = KernelVersion::NEWEST;
    let oldest = oldest();
    if !series_exists(v) {
        return Some(format!(
            "Linux {v} does not exist (no such series); simulating the behaviour of the nearest modelled boundary at or below it"
        ));
    }
    if v > newest {
        return Some(format!(
            "Linux {v} is newer than the newest modelled kernel ({newest}): simulating {newest} behaviour"
        ));
    }
    // A boundary named by its series (`4.16`) holds from that series' first release on,
    // `4.16.0` included (the rules test `at_least(major, minor)`), though `4.16.0` sorts
    // before `4.16` ("the series today").
    let before_oldest = match oldest.patch {
        None => !v.at_least(oldest.major, oldest.minor),
        Some(_) => v < oldest,
    };
    if before_oldest {
        let first = BOUNDARIES
            .iter()
            .filter(|b| b.since_version() == oldest)
            .map(|b| b.function)
            .collect::<Vec<_>>()
            .join(", ");
        return Some(format!(
            "Linux {v} is older than the oldest modelled boundary ({oldest}: {first}): simulating the behaviour before {oldest}"
        ));
    }
    None
}

/// `A..B`: A, every boundary after A up to B, and B.
pub fn expand_range(a: KernelVersion, b: KernelVersion) -> Vec<KernelVersion> {
    let (lo, hi) = if a <= b { (a, b) } else { (b, a) };
    let mut v: Vec<KernelVersion> = vec![lo];
    for bd in BOUNDARIES {
        let s = bd.since_version();
        if s > lo && s <= hi {
            v.push(s);
        }
    }
    v.push(hi);
    v.sort();
    v.dedup();
    v
}

/// What `-k list` prints.
pub fn list_text() -> String {
    let mut s = String::from(
        "Modelled kernel version boundaries (a version X.Y is that series today, stable backports\nincluded; X.Y.0 is its original release):\n\n",
    );
    for b in BOUNDARIES {
        let back = if b.backports.is_empty() {
            String::new()
        } else {
            let list: Vec<String> = b
                .backports
                .iter()
                .map(|(m, n)| format!("{m}.{n}"))
                .collect();
            format!(" (also {}-stable)", list.join(", "))
        };
        s.push_str(&format!(
            "{:<6} {}{back}\n       \"{}\"\n       {}\n       source: {}\n",
            b.since_version().to_string(),
            b.function,
            b.title,
            b.effect,
            b.source
        ));
    }
    s.push_str(&format!(
        "\nModelled: {} … {}; older versions act as before {}, newer ones as {} (with a warning).\n",
        oldest(),
        KernelVersion::NEWEST,
        oldest(),
        KernelVersion::NEWEST
    ));
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    fn v(s: &str) -> KernelVersion {
        s.parse().unwrap()
    }

    #[test]
    fn table_is_sorted_and_backports_follow_x_y_0() {
        let since: Vec<KernelVersion> = BOUNDARIES.iter().map(Boundary::since_version).collect();
        let mut sorted = since.clone();
        sorted.sort();
        assert_eq!(since, sorted);
        let b = REGION_INTERSECTS_DESCENDANTS;
        assert!(b.applies(v("6.1")) && !b.applies(v("6.1.0")));
        assert!(b.applies(v("5.10")) && !b.applies(v("5.10.0")));
        assert!(!b.applies(v("6.2")) && b.applies(v("6.12.0")));
    }

    #[test]
    fn range_expands_to_boundaries() {
        let r = expand_range(v("5.0"), v("5.3"));
        let names: Vec<String> = r.iter().map(ToString::to_string).collect();
        assert_eq!(names, ["5.0", "5.1", "5.2", "5.3"]);
        assert_eq!(expand_range(v("6.12"), v("6.12")), vec![v("6.12")]);
    }

    #[test]
    fn warnings_outside_the_model() {
        assert!(
            modelled_warning(v("9.9"))
                .unwrap()
                .contains("simulating 6.18")
        );
        assert!(modelled_warning(v("2.6")).unwrap().contains("before 4.16"));
        assert!(
            modelled_warning(v("5.25"))
                .unwrap()
                .contains("does not exist")
        );
        assert_eq!(modelled_warning(v("5.10")), None);
        assert_eq!(modelled_warning(v("6.1.0")), None);
    }
}
