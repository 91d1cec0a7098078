//! The REPL driven through a pipe (no terminal: no prompt, each command echoed after `> `),
//! so a session replays as a transcript (issue 4).

mod common;

use common::{fixture, run, show};
use iomem_sim::parse::parse_dump;
use iomem_sim::render::render_iomem;

#[test]
fn repl_transcript_undo_redo_diff_kernel_switch() {
    let script = b"\
# the seed story, interactively
kernel 5.0
hotplug add a0000000 128M
explain hotplug add a0000000 128M
kernel 5.1
hotplug add a0000000 128M
find a0000010
undo
redo
diff
diff 2
memory online memory20
blocks
bogus command
quit
show
";
    let o = run(
        &["repl", "--diff", "side"],
        &[("NO_COLOR", "1")],
        Some(script),
    );
    // `--diff` after `repl` is a word of the command, so this run is a usage error…
    assert_eq!(o.status.code(), Some(2), "{}", show(&o));
    // …options go first.
    let o = run(
        &["--diff", "unified", "repl"],
        &[("NO_COLOR", "1")],
        Some(script),
    );
    // The refusal (1) and the syntax error (2) are remembered; the worst wins.
    assert_eq!(o.status.code(), Some(2), "{}", show(&o));
    insta::assert_snapshot!("repl_transcript_unified", show(&o));
}

#[test]
fn repl_transcript_side_view() {
    let script = b"request c1000000 4K foo\nundo\nredo\nreset\nundo\n";
    let o = run(&["repl"], &[("NO_COLOR", "1")], Some(script));
    assert_eq!(o.status.code(), Some(0), "{}", show(&o));
    insta::assert_snapshot!("repl_transcript_side", show(&o));
}

#[test]
fn save_round_trips_and_a_failing_save_keeps_the_old_file() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("after.iomem");
    std::fs::write(&out, "old content\n").unwrap();
    let before = fixture("real-kernel-6.1/B-pmem-legacy-above-4g/after-devdax.iomem");
    let script = format!("dax kmem dax0.0\nsave {}\n", out.display());
    let o = run(
        &[
            "-i",
            before.to_str().unwrap(),
            "-k",
            "6.1",
            "--phys-bits",
            "40",
            "--diff",
            "none",
            "repl",
        ],
        &[],
        Some(script.as_bytes()),
    );
    assert_eq!(o.status.code(), Some(0), "{}", show(&o));
    let saved = std::fs::read(&out).unwrap();
    // The saved text is the real kernel's /proc/iomem after the kmem bind…
    assert_eq!(
        saved,
        std::fs::read(fixture(
            "real-kernel-6.1/B-pmem-legacy-above-4g/after-kmem-bind.iomem"
        ))
        .unwrap()
    );
    // …and parses back to a tree that prints the same bytes.
    let back = parse_dump(&saved, None).unwrap();
    assert_eq!(render_iomem(&back.tree), saved);
    assert!(back.warnings.is_empty(), "{:?}", back.warnings);

    // A save that cannot complete (the target is a directory) fails with exit 2 and leaves
    // what is there untouched, with no temporary file left behind.
    let target = dir.path().join("sub");
    std::fs::create_dir(&target).unwrap();
    std::fs::write(target.join("keep"), "x").unwrap();
    let script = format!("request c1000000 4K foo\nsave {}\n", target.display());
    let o = run(&["repl"], &[], Some(script.as_bytes()));
    assert_eq!(o.status.code(), Some(2), "{}", show(&o));
    assert!(
        String::from_utf8_lossy(&o.stderr).contains("cannot save to"),
        "{}",
        show(&o)
    );
    assert_eq!(std::fs::read_to_string(target.join("keep")).unwrap(), "x");
    let names: Vec<String> = std::fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    assert_eq!(names.len(), 2, "no temporary file left: {names:?}");
}
