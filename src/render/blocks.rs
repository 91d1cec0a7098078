//! Memory blocks → text: an `lsmem`-like table and the sysfs listing format of the real-kernel
//! captures (`fixtures/real-kernel-6.1/*.memory-blocks.txt`).

use crate::kernel::machine::Machine;
use crate::kernel::memory::{BlockState, MemoryBlock};

/// `lsmem`'s one-letter size: `128M`, `1G`, `1.5G`, `0B`.
fn human(size: u64) -> String {
    const UNITS: [(&str, u32); 6] = [
        ("E", 60),
        ("P", 50),
        ("T", 40),
        ("G", 30),
        ("M", 20),
        ("K", 10),
    ];
    for (u, shift) in UNITS {
        let unit = 1u64 << shift;
        if size >= unit {
            if size.is_multiple_of(unit) {
                return format!("{}{u}", size / unit);
            }
            // One decimal, rounded like lsmem's size_to_human_string.
            let tenths = (u128::from(size) * 10 + u128::from(unit) / 2) / u128::from(unit);
            return format!("{}.{}{u}", tenths / 10, tenths % 10);
        }
    }
    format!("{size}B")
}

/// `/sys/devices/system/memory/memoryN/state` of a block.
fn state(b: &MemoryBlock) -> &'static str {
    b.state.as_str()
}

/// An `lsmem --output RANGE,SIZE,STATE,REMOVABLE,BLOCK,NODE,ZONES` table: consecutive blocks
/// with the same state, removability, node and zones are merged into one row (as lsmem does),
/// followed by lsmem's summary.
pub fn render_lsmem(m: &Machine) -> String {
    struct Row {
        first: u64,
        last: u64,
        state: &'static str,
        removable: bool,
        nid: i32,
        zones: String,
    }
    let mut rows: Vec<Row> = Vec::new();
    let (mut online, mut offline) = (0u64, 0u64);
    let bs = m.config.block_size;
    for b in m.blocks.iter() {
        if b.state == BlockState::Offline {
            offline = offline.saturating_add(bs);
        } else {
            online = online.saturating_add(bs);
        }
        let zones = m.blocks.valid_zones(b);
        if let Some(r) = rows.last_mut()
            && r.last.checked_add(1) == Some(b.id)
            && r.state == state(b)
            && r.removable == b.removable
            && r.nid == b.nid
            && r.zones == zones
        {
            r.last = b.id;
            continue;
        }
        rows.push(Row {
            first: b.id,
            last: b.id,
            state: state(b),
            removable: b.removable,
            nid: b.nid,
            zones,
        });
    }
    let header = [
        "RANGE",
        "SIZE",
        "STATE",
        "REMOVABLE",
        "BLOCK",
        "NODE",
        "ZONES",
    ];
    let mut table: Vec<[String; 7]> = vec![header.map(String::from)];
    for r in &rows {
        let (s, _) = m.block_range(r.first);
        let (_, e) = m.block_range(r.last);
        let size = (r.last - r.first + 1).saturating_mul(bs);
        let block = if r.first == r.last {
            r.first.to_string()
        } else {
            format!("{}-{}", r.first, r.last)
        };
        table.push([
            format!("{s:#018x}-{e:#018x}"),
            human(size),
            r.state.to_string(),
            if r.removable { "yes" } else { "no" }.to_string(),
            block,
            r.nid.to_string(),
            r.zones.clone(),
        ]);
    }
    let mut width = [0usize; 7];
    for row in &table {
        for (w, c) in width.iter_mut().zip(row.iter()) {
            *w = (*w).max(c.len());
        }
    }
    let mut out = String::new();
    for row in &table {
        let mut line = String::new();
        for (i, c) in row.iter().enumerate() {
            if i > 0 {
                line.push(' ');
            }
            // RANGE and ZONES are left-aligned, the rest right-aligned (lsmem's layout).
            if i == 0 || i == 6 {
                line.push_str(&format!("{c:<w$}", w = width[i]));
            } else {
                line.push_str(&format!("{c:>w$}", w = width[i]));
            }
        }
        out.push_str(line.trim_end());
        out.push('\n');
    }
    out.push('\n');
    out.push_str(&format!("Memory block size:    {:>8}\n", human(bs)));
    out.push_str(&format!("Total online memory:  {:>8}\n", human(online)));
    out.push_str(&format!("Total offline memory: {:>8}\n", human(offline)));
    out
}

/// The listing format of `fixtures/real-kernel-6.1/*.memory-blocks.txt`: `block_size_bytes=`
/// (hex, no `0x`), `auto_online_blocks=`, then one tab-separated row per block: name,
/// phys_index, start, state, online (1/0), valid_zones, removable, phys_device, node.
pub fn render_memory_blocks_txt(m: &Machine) -> String {
    let mut out = format!(
        "block_size_bytes={:x}\nauto_online_blocks={}\n",
        m.config.block_size, m.config.auto_online
    );
    out.push_str(
        "block\tphys_index\tstart\tstate\tonline\tvalid_zones\tremovable\tphys_device\tnode\n",
    );
    for b in m.blocks.iter() {
        let (start, _) = m.block_range(b.id);
        out.push_str(&format!(
            "memory{}\t{}\t{:#x}\t{}\t{}\t{}\t{}\t0\tnode{}\n",
            b.id,
            b.phys_index(),
            start,
            b.state,
            u8::from(b.state == BlockState::Online),
            m.blocks.valid_zones(b),
            u8::from(b.removable),
            b.nid
        ));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::kernel::machine::Config;
    use crate::testutil::t0;

    #[test]
    fn human_sizes_like_lsmem() {
        assert_eq!(human(128 << 20), "128M");
        assert_eq!(human(1 << 30), "1G");
        assert_eq!(human(3 << 29), "1.5G");
        assert_eq!(human(0), "0B");
    }

    #[test]
    fn memory_blocks_txt_rows_match_the_capture_format() {
        // Rows as in real-kernel-6.1/*/before.memory-blocks.txt (memory0 spans DMA and DMA32).
        let m = Machine::boot(t0(), Config::default());
        let txt = render_memory_blocks_txt(&m);
        let lines: Vec<&str> = txt.lines().collect();
        assert_eq!(lines[0], "block_size_bytes=8000000");
        assert_eq!(lines[1], "auto_online_blocks=offline");
        assert_eq!(
            lines[2],
            "block\tphys_index\tstart\tstate\tonline\tvalid_zones\tremovable\tphys_device\tnode"
        );
        assert_eq!(
            lines[3],
            "memory0\t00000000\t0x0\tonline\t1\tnone\t1\t0\tnode0"
        );
        assert_eq!(
            lines[4],
            "memory1\t00000001\t0x8000000\tonline\t1\tDMA32\t1\t0\tnode0"
        );
    }

    #[test]
    fn lsmem_merges_equal_neighbours() {
        let m = Machine::boot(t0(), Config::default());
        let t = render_lsmem(&m);
        let lines: Vec<&str> = t.lines().collect();
        assert!(lines[0].starts_with("RANGE"), "{t}");
        // memory0 (none), memory1-19 (DMA32), memory22-23 (DMA32, not adjacent to 19).
        assert!(
            lines[1].starts_with("0x0000000000000000-0x0000000007ffffff")
                && lines[1].ends_with("none"),
            "{t}"
        );
        assert!(
            lines[2].contains("1-19") && lines[2].contains("2.4G"),
            "{t}"
        );
        assert!(
            lines[3].contains("22-23") && lines[3].contains("256M"),
            "{t}"
        );
        assert!(t.contains("Memory block size:        128M\n"), "{t}");
        assert!(t.contains("Total offline memory:       0B\n"), "{t}");
    }
}
