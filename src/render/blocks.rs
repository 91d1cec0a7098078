//! Memory blocks → text: lsmem's table ([`super::lsmem`]) and the sysfs listing format of the real-kernel
//! captures (`fixtures/real-kernel-6.1/*.memory-blocks.txt`).

use crate::kernel::machine::Machine;
use crate::kernel::memory::BlockState;

/// `blocks` with no options: lsmem's table of RANGE,SIZE,STATE,REMOVABLE,BLOCK,ZONES,NODE and
/// its summary (see [`super::lsmem`]).
pub fn render_lsmem(m: &Machine) -> String {
    super::lsmem::render_lsmem_with(m, &super::lsmem::LsmemOptions::default())
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
}
