//! "Whatever `save` writes, `-i` loads to the same tree" (issue 14 item 3) on random command
//! sequences: after every command that the command layer accepts, the tree's /proc/iomem text
//! (what `save` writes) parses back to the same shape, ranges and names, and renders to the
//! same bytes. An empty text is the empty tree (`-i` of an empty file, src/app.rs `load`).
#![no_main]

use iomem_sim::command::{Command, parse_command};
use iomem_sim::parse::parse_dump;
use iomem_sim::render::render_iomem;
use iomem_sim::session::{Config, Machine, Session};
use iomem_sim::tree::{RootKind, Tree};
use libfuzzer_sys::fuzz_target;

const DUMP: &[u8] =
    include_bytes!("../../fixtures/qemu-pmem-legacy-kmem-system-ram-child-dhansen.iomem");
const VERSIONS: [&str; 5] = ["4.19", "5.0", "5.1", "6.1", "6.18"];

/// Same shape, ranges and names (flags are inferred on reload, the root's end from the text).
fn same_text_tree(a: &Tree, b: &Tree) -> bool {
    let mut wb = b.walk(Tree::ROOT);
    for (x, dx) in a.walk(Tree::ROOT) {
        let Some((y, dy)) = wb.next() else {
            return false;
        };
        let (rx, ry) = (a.get(x), b.get(y));
        if dx != dy || rx.start != ry.start || rx.end != ry.end || a.name_of(x) != b.name_of(y) {
            return false;
        }
    }
    wb.next().is_none()
}

fn reloads(t: &Tree) {
    let text = render_iomem(t);
    if text.is_empty() {
        assert_eq!(t.walk(Tree::ROOT).count(), 0, "empty text, non-empty tree");
        return;
    }
    let d = match parse_dump(&text, Some(RootKind::Iomem)) {
        Ok(d) => d,
        Err(e) => panic!(
            "saved text does not load: {e}\n{}",
            String::from_utf8_lossy(&text)
        ),
    };
    assert!(
        same_text_tree(t, &d.tree),
        "reloaded tree differs:\n{}",
        String::from_utf8_lossy(&text)
    );
    assert_eq!(render_iomem(&d.tree), text, "render of the reload differs");
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
    for line in text.lines().take(32) {
        let Ok(cmd) = parse_command(line) else {
            continue;
        };
        if matches!(cmd, Command::Save { .. }) {
            continue; // writes files; the text it would write is checked below
        }
        s.execute(&cmd);
        reloads(s.tree());
    }
});
