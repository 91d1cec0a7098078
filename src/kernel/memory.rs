//! Memory blocks (`drivers/base/memory.c`) and the zone choice of onlining
//! (`mm/memory_hotplug.c`: `zone_for_pfn_range`, `default_zone_for_pfn`), kernel-semantics.md
//! §3.1–§3.3.
//!
//! A memory block is `block_size` bytes at `id * block_size`; its sysfs name is decimal
//! (`memory32`) while `phys_index` is 8 hex digits (`00000020`). Boot memory blocks are created
//! online; hot-added blocks are created offline and then auto-onlined per `auto_online_blocks`.
//!
//! Zone spans are not stored: the kernel grows a zone's span when a range is onlined into it
//! (`resize_zone_range`) and shrinks it again when the range at its edge is offlined
//! (`shrink_zone_span`, v5.x), so at block granularity a zone's span is the hull of the blocks
//! online in it — which is what [`MemoryBlocks::zone_span`] computes.
//!
//! Before "mm/memory_hotplug: shrink zones when offlining memory" (feee6b298916, v5.5; in
//! 4.19- and 5.4-stable, never in 5.0–5.2) the span shrank only when the memory was
//! *removed* (`__remove_pages` → `__remove_zone` → `shrink_zone_span`), so an offlined block
//! stays in its zone's span until it is removed: [`MemoryBlocks::keep_spanned`].

use std::collections::BTreeMap;
use std::fmt;
use std::str::FromStr;

/// `auto_online_blocks` / the value written to a block's `state` (`mhp_online_type_from_str`,
/// v5.8+: `offline`, `online`, `online_kernel`, `online_movable`; v4.4–v5.7 only the first two).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Default, serde::Serialize)]
pub enum OnlineType {
    #[default]
    Offline,
    Online,
    OnlineKernel,
    OnlineMovable,
}

impl OnlineType {
    /// The sysfs spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            OnlineType::Offline => "offline",
            OnlineType::Online => "online",
            OnlineType::OnlineKernel => "online_kernel",
            OnlineType::OnlineMovable => "online_movable",
        }
    }
}

impl fmt::Display for OnlineType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("bad online type {0:?}: expected offline, online, online_kernel or online_movable")]
pub struct BadOnlineType(pub String);

impl FromStr for OnlineType {
    type Err = BadOnlineType;
    /// Exactly the strings `state_store` accepts (anything else is -EINVAL in the kernel).
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.trim() {
            "offline" => Ok(OnlineType::Offline),
            "online" => Ok(OnlineType::Online),
            "online_kernel" => Ok(OnlineType::OnlineKernel),
            "online_movable" => Ok(OnlineType::OnlineMovable),
            other => Err(BadOnlineType(other.to_string())),
        }
    }
}

/// A block's `state` attribute.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, serde::Serialize)]
pub enum BlockState {
    Online,
    Offline,
    /// Only seen during an offline attempt (`MEM_GOING_OFFLINE`).
    GoingOffline,
}

impl BlockState {
    pub fn as_str(self) -> &'static str {
        match self {
            BlockState::Online => "online",
            BlockState::Offline => "offline",
            BlockState::GoingOffline => "going-offline",
        }
    }
}

impl fmt::Display for BlockState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// x86_64 zones: DMA below 16 MiB, DMA32 below 4 GiB, Normal above, Movable only by onlining.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize)]
pub enum Zone {
    Dma,
    Dma32,
    Normal,
    Movable,
}

impl Zone {
    /// The kernel's zone name (`valid_zones`, `/proc/zoneinfo`).
    pub fn name(self) -> &'static str {
        match self {
            Zone::Dma => "DMA",
            Zone::Dma32 => "DMA32",
            Zone::Normal => "Normal",
            Zone::Movable => "Movable",
        }
    }

    /// The boot (kernel) zones of x86_64 and their fixed limits `[lo, hi)`.
    pub const KERNEL_ZONES: [(Zone, u64, u64); 3] = [
        (Zone::Dma, 0, 16 << 20),
        (Zone::Dma32, 16 << 20, 1 << 32),
        (Zone::Normal, 1 << 32, u64::MAX),
    ];
}

impl fmt::Display for Zone {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// One `/sys/devices/system/memory/memoryN`.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct MemoryBlock {
    pub id: u64,
    pub state: BlockState,
    /// The zone of an online block; `None` while offline, or for an online block whose pages
    /// span several zones (`valid_zones` then reads `none`, and the block cannot be offlined).
    pub zone: Option<Zone>,
    pub nid: i32,
    /// `removable`: always 1 with CONFIG_MEMORY_HOTREMOVE in current kernels.
    pub removable: bool,
    /// Created at boot (its memory came from the firmware map) rather than hot-added.
    pub boot: bool,
}

impl MemoryBlock {
    /// `phys_index`: the id in 8 hex digits (`%08lx`).
    pub fn phys_index(&self) -> String {
        format!("{:08x}", self.id)
    }
}

/// All memory block devices, ordered by id.
#[derive(Clone, Debug, Default)]
pub struct MemoryBlocks {
    /// Shared until changed: a session step keeps the machine's state before it, and most
    /// steps change no block, so copying the blocks is a reference count (issue 12).
    maps: std::sync::Arc<BlockMaps>,
    /// `movable_node` on the kernel command line (`movable_node_enabled`).
    pub movable_node: bool,
}

#[derive(Clone, Debug, Default)]
struct BlockMaps {
    map: BTreeMap<u64, MemoryBlock>,
    /// Ids of the online blocks of each (node, zone): `zone_span` is asked once per block
    /// when onlining or listing, so it must not scan every block (terabytes of hot-added
    /// memory are hundreds of thousands of blocks; found by a property test).
    online: BTreeMap<(i32, Zone), std::collections::BTreeSet<u64>>,
    /// Offline blocks still inside a zone's span (kernels before the shrink-on-offline fix).
    spanned: BTreeMap<(i32, Zone), std::collections::BTreeSet<u64>>,
}

impl BlockMaps {
    fn index(m: &mut BlockMaps, b: &MemoryBlock) {
        if let (BlockState::Online, Some(z)) = (b.state, b.zone) {
            m.online.entry((b.nid, z)).or_default().insert(b.id);
        }
    }
    fn unindex(m: &mut BlockMaps, b: &MemoryBlock) {
        if let (BlockState::Online, Some(z)) = (b.state, b.zone)
            && let Some(set) = m.online.get_mut(&(b.nid, z))
        {
            set.remove(&b.id);
            if set.is_empty() {
                m.online.remove(&(b.nid, z));
            }
        }
    }
    fn unspan(m: &mut BlockMaps, id: u64) {
        m.spanned.retain(|_, set| {
            set.remove(&id);
            !set.is_empty()
        });
    }
}

impl MemoryBlocks {
    pub fn new() -> MemoryBlocks {
        MemoryBlocks::default()
    }
    /// The blocks of a booting machine, given in increasing id order, each id once: built in
    /// one pass (`BTreeMap::from_iter` on sorted keys), not inserted one by one (issue 12: a
    /// million-line dump boots with 50k blocks, and inserting them was a third of booting).
    pub fn from_sorted(blocks: Vec<MemoryBlock>, movable_node: bool) -> MemoryBlocks {
        debug_assert!(blocks.windows(2).all(|w| w[0].id < w[1].id));
        let mut online: BTreeMap<(i32, Zone), Vec<u64>> = BTreeMap::new();
        for b in &blocks {
            if let (BlockState::Online, Some(z)) = (b.state, b.zone) {
                online.entry((b.nid, z)).or_default().push(b.id);
            }
        }
        let maps = BlockMaps {
            map: blocks.into_iter().map(|b| (b.id, b)).collect(),
            online: online
                .into_iter()
                .map(|(k, ids)| (k, ids.into_iter().collect()))
                .collect(),
            spanned: BTreeMap::new(),
        };
        MemoryBlocks {
            maps: std::sync::Arc::new(maps),
            movable_node,
        }
    }
    pub fn get(&self, id: u64) -> Option<&MemoryBlock> {
        self.maps.map.get(&id)
    }
    /// Change a block's state and zone (the only mutation, so the zone index stays right).
    /// Returns false when there is no such block.
    pub fn set_state(&mut self, id: u64, state: BlockState, zone: Option<Zone>) -> bool {
        // Copied only when shared and there is something to change.
        let Some(b) = self.maps.map.get(&id).cloned() else {
            return false;
        };
        let m = std::sync::Arc::make_mut(&mut self.maps);
        BlockMaps::unindex(m, &b);
        // Onlining does not take the block out of a span it was kept in: `resize_zone_range`
        // only grows the zone it onlines into (see `keep_spanned`).
        let b = MemoryBlock { state, zone, ..b };
        BlockMaps::index(m, &b);
        m.map.insert(id, b);
        true
    }
    pub fn contains(&self, id: u64) -> bool {
        self.maps.map.contains_key(&id)
    }
    pub fn insert(&mut self, b: MemoryBlock) {
        let m = std::sync::Arc::make_mut(&mut self.maps);
        if let Some(old) = m.map.remove(&b.id) {
            BlockMaps::unindex(m, &old);
        }
        BlockMaps::index(m, &b);
        m.map.insert(b.id, b);
    }
    pub fn remove(&mut self, id: u64) -> Option<MemoryBlock> {
        if !self.maps.map.contains_key(&id) {
            return None;
        }
        let m = std::sync::Arc::make_mut(&mut self.maps);
        let old = m.map.remove(&id)?;
        BlockMaps::unindex(m, &old);
        // Removal shrinks the zone in every version (`shrink_zone_span`).
        BlockMaps::unspan(m, id);
        Some(old)
    }
    /// An offlined block stays in `zone`'s span (kernels before feee6b298916, see the module
    /// comment) until it is removed — also when it is onlined into another zone meanwhile:
    /// `move_pfn_range_to_zone` → `resize_zone_range` only ever grows the zone it onlines
    /// into (5.10.262: `zone->spanned_pages = max(start_pfn + nr_pages, old_end_pfn) -
    /// zone->zone_start_pfn;`), nothing shrinks the old one.
    pub fn keep_spanned(&mut self, id: u64, nid: i32, zone: Zone) {
        let m = std::sync::Arc::make_mut(&mut self.maps);
        m.spanned.entry((nid, zone)).or_default().insert(id);
    }
    pub fn len(&self) -> usize {
        self.maps.map.len()
    }
    pub fn is_empty(&self) -> bool {
        self.maps.map.is_empty()
    }
    /// All blocks in id order.
    pub fn iter(&self) -> impl DoubleEndedIterator<Item = &MemoryBlock> + '_ {
        self.maps.map.values()
    }
    /// Existing blocks with ids in `[first, last]`, in id order.
    pub fn range(
        &self,
        first: u64,
        last: u64,
    ) -> impl DoubleEndedIterator<Item = &MemoryBlock> + '_ {
        // `BTreeMap::range` panics on an inverted range: clamp it and filter instead.
        self.maps
            .map
            .range(first..=last.max(first))
            .filter(move |(k, _)| first <= last && **k <= last)
            .map(|(_, b)| b)
    }

    /// The span `[first_id, last_id]` of `zone` on node `nid`: the hull of the blocks online in
    /// it (see the module comment), `None` for an empty zone (`zone_is_empty`).
    pub fn zone_span(&self, nid: i32, zone: Zone) -> Option<(u64, u64)> {
        let hull = |m: &BTreeMap<(i32, Zone), std::collections::BTreeSet<u64>>| {
            let ids = m.get(&(nid, zone))?;
            Some((*ids.first()?, *ids.last()?))
        };
        match (hull(&self.maps.online), hull(&self.maps.spanned)) {
            (Some((a, b)), Some((c, d))) => Some((a.min(c), b.max(d))),
            (x, y) => x.or(y),
        }
    }

    /// `zone_intersects(zone, start_pfn, nr_pages)` at block granularity.
    fn zone_intersects(&self, nid: i32, zone: Zone, first: u64, last: u64) -> bool {
        self.zone_span(nid, zone)
            .is_some_and(|(zs, ze)| first <= ze && zs <= last)
    }

    /// `default_kernel_zone_for_pfn`: the first kernel zone (DMA, DMA32, Normal) whose span
    /// intersects the blocks, else ZONE_NORMAL.
    pub fn default_kernel_zone(&self, nid: i32, first: u64, last: u64) -> Zone {
        Zone::KERNEL_ZONES
            .iter()
            .map(|z| z.0)
            .find(|&z| self.zone_intersects(nid, z, first, last))
            .unwrap_or(Zone::Normal)
    }

    /// `default_zone_for_pfn` (the `online` keyword under the default `contig-zones` policy):
    /// the kernel zone or ZONE_MOVABLE, whichever the range already touches; when it touches
    /// both or neither, the kernel zone (ZONE_MOVABLE only with `movable_node`, not modelled).
    pub fn default_zone(&self, nid: i32, first: u64, last: u64) -> Zone {
        let kernel = self.default_kernel_zone(nid, first, last);
        let in_kernel = self.zone_intersects(nid, kernel, first, last);
        let in_movable = self.zone_intersects(nid, Zone::Movable, first, last);
        // 5.10.262 / 6.1.172 / 6.12.118 default_zone_for_pfn:
        //   if (in_kernel ^ in_movable) return (in_kernel) ? kernel_zone : movable_zone;
        //   return movable_node_enabled ? movable_zone : kernel_zone;
        if in_kernel != in_movable {
            if in_kernel { kernel } else { Zone::Movable }
        } else if self.movable_node {
            Zone::Movable
        } else {
            kernel
        }
    }

    /// `zone_for_pfn_range(online_type, …)`: the zone an offline block goes to when onlined.
    pub fn zone_for_online(&self, nid: i32, id: u64, t: OnlineType) -> Zone {
        match t {
            OnlineType::OnlineKernel => self.default_kernel_zone(nid, id, id),
            OnlineType::OnlineMovable => Zone::Movable,
            OnlineType::Online | OnlineType::Offline => self.default_zone(nid, id, id),
        }
    }

    /// `valid_zones_show`: an online block prints its zone (`none` if it spans zones); an
    /// offline one the default zone first, then the kernel zone and ZONE_MOVABLE where they
    /// differ from it (`Normal Movable` on a machine without a Movable zone there).
    pub fn valid_zones(&self, b: &MemoryBlock) -> String {
        match b.state {
            BlockState::Online | BlockState::GoingOffline => {
                b.zone.map_or("none".to_string(), |z| z.name().to_string())
            }
            BlockState::Offline => {
                let def = self.default_zone(b.nid, b.id, b.id);
                let mut s = def.name().to_string();
                for z in [self.default_kernel_zone(b.nid, b.id, b.id), Zone::Movable] {
                    if z != def {
                        s.push(' ');
                        s.push_str(z.name());
                    }
                }
                s
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn blk(id: u64, state: BlockState, zone: Option<Zone>) -> MemoryBlock {
        MemoryBlock {
            id,
            state,
            zone,
            nid: 0,
            removable: true,
            boot: false,
        }
    }

    #[test]
    fn online_type_parses_exactly_the_sysfs_words() {
        assert_eq!(
            "online_movable".parse::<OnlineType>().unwrap(),
            OnlineType::OnlineMovable
        );
        assert_eq!(
            "online_kernel".parse::<OnlineType>().unwrap(),
            OnlineType::OnlineKernel
        );
        assert_eq!("online".parse::<OnlineType>().unwrap(), OnlineType::Online);
        assert_eq!(
            "offline".parse::<OnlineType>().unwrap(),
            OnlineType::Offline
        );
        assert!("movable".parse::<OnlineType>().is_err());
        assert_eq!(OnlineType::OnlineMovable.to_string(), "online_movable");
    }

    #[test]
    fn phys_index_is_eight_hex_digits_sc25() {
        // SC-25: memory32 → phys_index 00000020; §3.1: memory20 → 00000014.
        assert_eq!(blk(32, BlockState::Offline, None).phys_index(), "00000020");
        assert_eq!(blk(20, BlockState::Offline, None).phys_index(), "00000014");
    }

    #[test]
    fn offline_block_valid_zones_normal_movable_when_normal_is_empty_sc25() {
        // SC-25: on a box whose Normal zone is empty, an offline block reads `Normal Movable`.
        let mut bs = MemoryBlocks::new();
        for id in 1..8 {
            bs.insert(blk(id, BlockState::Online, Some(Zone::Dma32)));
        }
        bs.insert(blk(32, BlockState::Offline, None));
        assert_eq!(bs.valid_zones(bs.get(32).unwrap()), "Normal Movable");
        assert_eq!(bs.valid_zones(bs.get(1).unwrap()), "DMA32");
        bs.set_state(1, BlockState::Online, None);
        assert_eq!(bs.valid_zones(bs.get(1).unwrap()), "none");
    }

    #[test]
    fn default_zone_follows_the_zone_the_range_touches() {
        // contig-zones: an offline block between two Movable blocks defaults to Movable.
        let mut bs = MemoryBlocks::new();
        bs.insert(blk(32, BlockState::Online, Some(Zone::Movable)));
        bs.insert(blk(33, BlockState::Offline, None));
        bs.insert(blk(34, BlockState::Online, Some(Zone::Movable)));
        assert_eq!(bs.default_zone(0, 33, 33), Zone::Movable);
        assert_eq!(bs.valid_zones(bs.get(33).unwrap()), "Movable Normal");
        assert_eq!(
            bs.zone_for_online(0, 33, OnlineType::OnlineKernel),
            Zone::Normal
        );
        // Outside the Movable span: Normal first.
        bs.insert(blk(40, BlockState::Offline, None));
        assert_eq!(bs.valid_zones(bs.get(40).unwrap()), "Normal Movable");
        assert_eq!(
            bs.range(33, 40).map(|b| b.id).collect::<Vec<_>>(),
            vec![33, 34, 40]
        );
        assert_eq!(bs.range(41, 40).count(), 0);
    }
}
