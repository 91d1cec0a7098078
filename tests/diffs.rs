//! Before/after diffs through the real binary (issue 4 "Tests that must exist"): the side and
//! unified views of the seed hot-add, a refused command, a removal that splits System RAM
//! (SC-14), a kmem flow on a real 6.1 capture, and a change deep inside a large real dump.
//!
//! Every snapshot holds the exit status, stdout and stderr of one run, so a reader sees the
//! whole user-visible result.

mod common;

use common::{fixture, run, show};

/// Run with `args` in both diff styles and snapshot each.
fn both(name: &str, args: &[&str]) {
    for style in ["side", "unified"] {
        let mut a: Vec<&str> = vec!["--diff", style];
        a.extend_from_slice(args);
        let o = run(&a, &[("NO_COLOR", "1")], None);
        // The start banner names the dump by the path given: keep the snapshot portable.
        let text = show(&o).replace(env!("CARGO_MANIFEST_DIR"), "[crate]");
        insta::assert_snapshot!(format!("{name}_{style}"), text);
    }
}

#[test]
fn diff_seed_hot_add() {
    // SC-02: v5.1 nests the new System RAM under the non-BUSY PMEM node.
    both(
        "seed_hot_add",
        &["-k", "5.1", "hotplug", "add", "a0000000", "128M"],
    );
}

#[test]
fn diff_refused_command_shows_no_diff() {
    // SC-01: v5.0 refuses with -EEXIST; nothing on stdout, the refusal on stderr, exit 1.
    both(
        "refused_5_0",
        &["-k", "5.0", "hotplug", "add", "a0000000", "128M"],
    );
}

#[test]
fn diff_partial_remove_splits_system_ram() {
    // SC-14: add 1 GiB at 4 GiB, then remove memory34 out of its middle.
    both(
        "sc14_split",
        &[
            "-k",
            "6.1",
            "-e",
            "hotplug add 100000000 1G",
            "hotplug",
            "remove",
            "110000000",
            "128M",
        ],
    );
}

#[test]
fn diff_kmem_on_the_real_6_1_capture() {
    // Capture B step 4: `daxctl reconfigure-device --mode=system-ram --no-online dax0.0`.
    let before = fixture("real-kernel-6.1/B-pmem-legacy-above-4g/after-devdax.iomem");
    let args = [
        "-i",
        before.to_str().unwrap(),
        "-k",
        "6.1",
        "--phys-bits",
        "40",
        "dax",
        "kmem",
        "dax0.0",
    ];
    both("kmem_capture_b", &args);
    // And the resulting /proc/iomem is the real kernel's, byte for byte.
    let mut a = vec!["--format", "iomem"];
    a.extend_from_slice(&args);
    let o = run(&a, &[], None);
    assert_eq!(o.status.code(), Some(0), "{}", show(&o));
    let want = std::fs::read(fixture(
        "real-kernel-6.1/B-pmem-legacy-above-4g/after-kmem-bind.iomem",
    ))
    .unwrap();
    assert_eq!(
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&want)
    );
}

#[test]
fn diff_deep_inside_a_large_real_dump() {
    // 255 lines: the side view folds far-away lines around the change (a node released with
    // its child, release_resource, SC-21).
    let big = fixture("arm64-android-qcom-sm7150-sweet.iomem");
    both(
        "deep_in_sm7150",
        &[
            "-i",
            big.to_str().unwrap(),
            "release-resource",
            "6b02000",
            "4K",
        ],
    );
}
