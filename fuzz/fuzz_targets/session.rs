//! Random command sequences on a parsed real dump (QEMU with legacy pmem, kernel-semantics.md
//! §6). Must not panic; after every command the §1.2 invariants hold, a refused command leaves
//! the tree identical, and `undo` after a recorded step restores the previous tree.
#![no_main]

use iomem_sim::command::{Command, parse_command};
use iomem_sim::parse::parse_dump;
use iomem_sim::session::{Config, Machine, Outcome, Session};
use iomem_sim::tree::{NodeId, Tree};
use libfuzzer_sys::fuzz_target;

const DUMP: &[u8] =
    include_bytes!("../../fixtures/qemu-pmem-legacy-kmem-system-ram-child-dhansen.iomem");
const VERSIONS: [&str; 5] = ["4.19", "5.0", "5.1", "6.1", "6.18"];

fn check(t: &Tree) {
    let mut stack = vec![Tree::ROOT];
    while let Some(p) = stack.pop() {
        let pr = t.get(p);
        let mut prev: Option<NodeId> = None;
        for c in t.children(p) {
            let cr = t.get(c);
            assert!(
                pr.start <= cr.start && cr.end <= pr.end,
                "child outside parent"
            );
            if let Some(q) = prev {
                assert!(t.get(q).end < cr.start, "siblings overlap or unsorted");
            }
            prev = Some(c);
            stack.push(c);
        }
    }
}

fuzz_target!(|data: &[u8]| {
    let Some((&v, rest)) = data.split_first() else {
        return;
    };
    let Ok(text) = std::str::from_utf8(rest) else {
        return;
    };
    let Ok(d) = parse_dump(DUMP, None) else {
        panic!("fixture parses")
    };
    let config = Config {
        version: VERSIONS[usize::from(v) % VERSIONS.len()]
            .parse()
            .expect("literal"),
        ..Config::default()
    };
    let mut s = Session::new(Machine::boot(d.tree, config));
    for line in text.lines().take(64) {
        let Ok(cmd) = parse_command(line) else {
            continue;
        };
        if matches!(cmd, Command::Save { .. }) {
            continue; // writes files
        }
        let before = s.tree().clone();
        let n = s.step_count();
        let out = s.execute(&cmd);
        check(s.tree());
        if matches!(out.outcome, Outcome::Refused(_) | Outcome::Failed(_)) {
            assert!(
                s.tree().same_as(&before),
                "refused command changed the tree"
            );
        } else if s.step_count() == n + 1 && !matches!(cmd, Command::Undo | Command::Redo) {
            let after = s.tree().clone();
            s.execute(&Command::Undo);
            assert!(s.tree().same_as(&before), "undo did not restore the tree");
            s.execute(&Command::Redo);
            assert!(s.tree().same_as(&after), "redo did not restore the tree");
        }
    }
});
