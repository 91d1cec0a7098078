//! Edge tests for `src/kernel/memory.rs` (`drivers/base/memory.c`, `mm/memory_hotplug.c`
//! zone choice, `include/linux/mmzone.h` `zone_intersects`; read in
//! /work/ksrc/linux-source-6.1/).

use super::blk;
use crate::kernel::memory::*;

fn online(bs: &mut MemoryBlocks, ids: impl IntoIterator<Item = u64>, z: Zone) {
    for id in ids {
        bs.insert(blk(id, BlockState::Online, Some(z)));
    }
}

fn offline(bs: &mut MemoryBlocks, id: u64) -> MemoryBlock {
    let b = blk(id, BlockState::Offline, None);
    bs.insert(b.clone());
    b
}

/// `zone_intersects`: `if (start_pfn >= zone_end_pfn(zone) || start_pfn + nr_pages <=
/// zone->zone_start_pfn) return false;` — at block granularity a block right after the span's
/// last block or right before its first does not intersect; the edge blocks do.
#[test]
fn zone_intersection_edges() {
    let mut bs = MemoryBlocks::new();
    online(&mut bs, [40, 44], Zone::Movable);
    assert_eq!(bs.zone_span(0, Zone::Movable), Some((40, 44)));
    // Offline blocks inside the hull: in the Movable span → `online` picks Movable.
    for id in [41, 43] {
        offline(&mut bs, id);
        assert_eq!(bs.default_zone(0, id, id), Zone::Movable, "{id}");
    }
    // Just outside, on either side: neither zone → the kernel zone (Normal, the fallback).
    for id in [39, 45] {
        offline(&mut bs, id);
        assert_eq!(bs.default_zone(0, id, id), Zone::Normal, "{id}");
    }
    // A range reaching the span by one block on either side intersects.
    assert_eq!(
        bs.default_zone(0, 45, 44),
        Zone::Normal,
        "inverted range: empty"
    );
    assert_eq!(bs.default_zone(0, 36, 40), Zone::Movable);
    assert_eq!(bs.default_zone(0, 44, 50), Zone::Movable);
    // Another node's zones do not count.
    assert_eq!(bs.default_zone(1, 41, 41), Zone::Normal);
}

/// `default_zone_for_pfn`: `if (in_kernel ^ in_movable) return (in_kernel) ? kernel_zone :
/// movable_zone; return movable_node_enabled ? movable_zone : kernel_zone;` — both → kernel.
#[test]
fn default_zone_both_and_kernel_only() {
    let mut bs = MemoryBlocks::new();
    online(&mut bs, [30, 50], Zone::Normal);
    online(&mut bs, [40, 44], Zone::Movable);
    assert_eq!(bs.default_zone(0, 42, 42), Zone::Normal);
    assert_eq!(bs.default_zone(0, 35, 35), Zone::Normal);
    assert_eq!(bs.default_zone(0, 51, 51), Zone::Normal);
}

/// `default_kernel_zone_for_pfn`: `for (zid = 0; zid < ZONE_NORMAL; zid++) { if
/// (zone_intersects(zone, start_pfn, nr_pages)) return zone; } return
/// &pgdat->node_zones[ZONE_NORMAL];` — the lowest intersecting kernel zone.
#[test]
fn default_kernel_zone_lowest_first() {
    let mut bs = MemoryBlocks::new();
    online(&mut bs, [0], Zone::Dma);
    online(&mut bs, [1, 31], Zone::Dma32);
    online(&mut bs, [32, 40], Zone::Normal);
    assert_eq!(bs.default_kernel_zone(0, 0, 0), Zone::Dma);
    assert_eq!(bs.default_kernel_zone(0, 0, 1), Zone::Dma);
    assert_eq!(bs.default_kernel_zone(0, 1, 1), Zone::Dma32);
    assert_eq!(bs.default_kernel_zone(0, 31, 32), Zone::Dma32);
    assert_eq!(bs.default_kernel_zone(0, 32, 32), Zone::Normal);
    assert_eq!(bs.default_kernel_zone(0, 41, 41), Zone::Normal, "fallback");
    // zone_for_pfn_range: online_kernel → kernel zone, online_movable → Movable, online →
    // default zone.
    offline(&mut bs, 20);
    assert_eq!(
        bs.zone_for_online(0, 20, OnlineType::OnlineKernel),
        Zone::Dma32
    );
    assert_eq!(
        bs.zone_for_online(0, 20, OnlineType::OnlineMovable),
        Zone::Movable
    );
    assert_eq!(bs.zone_for_online(0, 20, OnlineType::Online), Zone::Dma32);
    online(&mut bs, [60, 62], Zone::Movable);
    offline(&mut bs, 61);
    assert_eq!(bs.zone_for_online(0, 61, OnlineType::Online), Zone::Movable);
    assert_eq!(
        bs.zone_for_online(0, 61, OnlineType::OnlineKernel),
        Zone::Normal
    );
}

/// `valid_zones_show`: online → `mem->zone->name` or `"none"` (spans zones); offline → the
/// default zone, then `print_allowed_zone` for online_kernel and online_movable, each only
/// `if (zone != default_zone)`.
#[test]
fn valid_zones_text() {
    let mut bs = MemoryBlocks::new();
    online(&mut bs, [32], Zone::Normal);
    online(&mut bs, [40, 42], Zone::Movable);
    let b = offline(&mut bs, 33);
    assert_eq!(bs.valid_zones(&b), "Normal Movable");
    let b = offline(&mut bs, 41);
    assert_eq!(bs.valid_zones(&b), "Movable Normal");
    assert_eq!(
        bs.valid_zones(&blk(32, BlockState::Online, Some(Zone::Normal))),
        "Normal"
    );
    assert_eq!(bs.valid_zones(&blk(7, BlockState::Online, None)), "none");
    assert_eq!(
        bs.valid_zones(&blk(7, BlockState::GoingOffline, Some(Zone::Dma32))),
        "DMA32"
    );
}

/// The online-zone index follows every change: offlining an edge block shrinks the span
/// (`shrink_zone_span`), re-inserting a block replaces its old index entry; emptying the zone
/// makes it empty (`zone_is_empty`).
#[test]
fn zone_span_follows_set_state_insert_remove() {
    let mut bs = MemoryBlocks::new();
    assert!(bs.is_empty());
    online(&mut bs, [40, 41, 42], Zone::Movable);
    assert!(!bs.is_empty());
    assert_eq!(bs.len(), 3);
    assert!(bs.set_state(42, BlockState::Offline, None));
    assert_eq!(bs.zone_span(0, Zone::Movable), Some((40, 41)));
    assert!(!bs.set_state(99, BlockState::Online, Some(Zone::Normal)));
    assert!(!bs.contains(99));
    bs.insert(blk(40, BlockState::Online, Some(Zone::Normal)));
    assert_eq!(bs.zone_span(0, Zone::Movable), Some((41, 41)));
    assert_eq!(bs.zone_span(0, Zone::Normal), Some((40, 40)));
    assert_eq!(bs.remove(41).map(|b| b.id), Some(41));
    assert_eq!(bs.zone_span(0, Zone::Movable), None);
    assert_eq!(bs.remove(41), None);
    assert_eq!(bs.get(40).unwrap().zone, Some(Zone::Normal));
    let b = bs.get(42).unwrap();
    assert_eq!((b.state, b.zone), (BlockState::Offline, None));
}

/// `range(first, last)` is inclusive at both ends and empty when inverted (no panic).
#[test]
fn range_inclusive_and_inverted() {
    let mut bs = MemoryBlocks::new();
    for id in [1, 2, 3, 5] {
        offline(&mut bs, id);
    }
    let ids = |a, b| bs.range(a, b).map(|b| b.id).collect::<Vec<_>>();
    assert_eq!(ids(2, 3), [2, 3]);
    assert_eq!(ids(1, 5), [1, 2, 3, 5]);
    assert_eq!(ids(3, 3), [3]);
    assert_eq!(ids(4, 4), Vec::<u64>::new());
    assert_eq!(ids(3, 2), Vec::<u64>::new());
    assert_eq!(ids(5, u64::MAX), [5]);
    assert_eq!(bs.iter().next_back().map(|b| b.id), Some(5));
}

/// `phys_index_show`: `sysfs_emit(buf, "%08lx\n", phys_index)`; the sysfs names of the types
/// and states (`online_type_to_str`, `state_show`).
#[test]
fn sysfs_spellings() {
    assert_eq!(blk(32, BlockState::Offline, None).phys_index(), "00000020");
    assert_eq!(
        blk(0x123456789, BlockState::Offline, None).phys_index(),
        "123456789"
    );
    for (s, t) in [
        ("offline", OnlineType::Offline),
        ("online", OnlineType::Online),
        ("online_kernel", OnlineType::OnlineKernel),
        ("online_movable", OnlineType::OnlineMovable),
    ] {
        assert_eq!(s.parse::<OnlineType>().unwrap(), t);
        assert_eq!(t.to_string(), s);
        // `echo online > state` writes a trailing newline (`sysfs_streq`).
        assert_eq!(format!("{s}\n").parse::<OnlineType>().unwrap(), t);
    }
    for bad in ["", "Online", "online_", "movable"] {
        let e = bad.parse::<OnlineType>().unwrap_err();
        assert_eq!(e, BadOnlineType(bad.to_string()));
    }
    assert_eq!(BlockState::Online.to_string(), "online");
    assert_eq!(BlockState::Offline.to_string(), "offline");
    assert_eq!(BlockState::GoingOffline.to_string(), "going-offline");
    for (z, n) in [
        (Zone::Dma, "DMA"),
        (Zone::Dma32, "DMA32"),
        (Zone::Normal, "Normal"),
        (Zone::Movable, "Movable"),
    ] {
        assert_eq!(z.to_string(), n);
    }
}
