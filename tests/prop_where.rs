//! `where` against the command it prints (issue 11): on real dumps and kernel versions, every
//! candidate succeeds when run as `hotplug add`, and a brute-force scan of block-aligned starts
//! finds no start `hotplug add` accepts that `where` missed.

mod common;

use common::fixture;
use iomem_sim::command::parse_command;
use iomem_sim::kernel::KernelVersion;
use iomem_sim::kernel::Trace;
use iomem_sim::kernel::machine::{AddOptions, Config, Machine};
use iomem_sim::kernel::placement::where_hotplug;
use iomem_sim::parse::parse_dump;
use iomem_sim::session::{Outcome, Session};
use iomem_sim::tree::Tree;
use proptest::prelude::*;

const DUMPS: &[&str] = &[
    "real-kernel-6.1/B-pmem-legacy-above-4g/before.iomem",
    "real-kernel-6.1/A-pc-dimm-hotplug/before.iomem",
    "x86_64-ryzen7pro-asrockrack-server-debian-report.iomem",
    "qemu-pmem-legacy-kmem-system-ram-child-dhansen.iomem",
    "cxl-qemu-soft-reserved-parent-excerpt.iomem",
    "x86_64-optane-1lm-kmem-dax-system-ram-excerpt.iomem",
    "arm64-android-qcom-sm7150-sweet.iomem",
];
const VERSIONS: &[&str] = &["5.0", "5.1", "6.1", "6.12"];

fn machine(dump: &str, ver: &str) -> Machine {
    let bytes = std::fs::read(fixture(dump)).unwrap();
    let tree = parse_dump(&bytes, None).unwrap().tree;
    let cfg = Config {
        version: ver.parse::<KernelVersion>().unwrap(),
        ..Config::default()
    };
    Machine::boot(tree, cfg)
}

fn accepted(m: &Machine, start: u64, size: u64) -> bool {
    let mut c = m.clone();
    c.add_memory(0, start, size, &AddOptions::default(), &mut Trace::new())
        .is_ok()
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 12, ..ProptestConfig::default() })]
    #[test]
    fn where_agrees_with_hotplug_add(
        d in 0..DUMPS.len(),
        v in 0..VERSIONS.len(),
        blocks in prop::sample::select(vec![1u64, 2, 3, 8, 32]),
    ) {
        let m = machine(DUMPS[d], VERSIONS[v]);
        let bs = m.config.block_size;
        let size = blocks * bs;
        let ans = where_hotplug(&m, size, 0);
        // Every candidate, run as its command in a session, succeeds (both ends of its stretch).
        for c in &ans.candidates {
            for start in [c.start, c.last_start] {
                let mut s = Session::new(m.clone());
                let text = if start == c.start { c.command.clone() } else {
                    c.command.replacen(&format!("{:x}", c.start), &format!("{start:x}"), 1)
                };
                let o = s.execute(&parse_command(&text).unwrap());
                prop_assert!(matches!(o.outcome, Outcome::Ok), "{text}: {:?}", o.outcome);
            }
        }
        // Brute force over block-aligned starts up to a bit beyond the highest resource.
        let top = m.tree.children(Tree::ROOT).map(|c| m.tree.get(c).end).max().unwrap_or(0);
        // Bounded: at most 600 starts (64 GiB with 128 MiB blocks) beyond address 0.
        let scan_end = top.saturating_add(16 * bs).min(600 * bs).min(m.tree.get(Tree::ROOT).end);
        let mut s = 0u64;
        while s <= scan_end {
            let ok = accepted(&m, s, size);
            let listed = ans.candidates.iter().any(|c| c.start <= s && s <= c.last_start);
            prop_assert_eq!(ok, listed, "{} {} start {:#x} size {:#x}", DUMPS[d], VERSIONS[v], s, size);
            s += bs;
        }
    }
}
