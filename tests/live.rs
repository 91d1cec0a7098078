//! `--live`, `--sysfs-root DIR`, `capture` / `-i BUNDLE` and `blocks` as lsmem (issue 13,
//! issue 9's `blocks` bullet). The expectations are real `lsmem` outputs (util-linux 2.38.1,
//! stored under fixtures/lsmem by its generate.sh, and lsmem run again here when installed) and
//! the real kernels' `*.memory-blocks.txt`, never iomem-sim's own output.

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;

use common::{fixture, run, show};
use iomem_sim::kernel::machine::Config;
use iomem_sim::live::{LiveState, RootDir};
use iomem_sim::render::blocks::render_memory_blocks_txt;

const COLS: &str = "RANGE,SIZE,STATE,REMOVABLE,BLOCK,ZONES,NODE";

fn stdout(o: &std::process::Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

fn stderr(o: &std::process::Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

/// The real lsmem, when installed: its stdout for `args`.
fn lsmem(args: &[&str]) -> Option<String> {
    let o = Command::new("lsmem").args(args).output().ok()?;
    o.status
        .success()
        .then(|| String::from_utf8_lossy(&o.stdout).into_owned())
}

fn lsmem_installed() -> bool {
    lsmem(&["--version"]).is_some()
}

fn root_c() -> String {
    fixture("root-C-pc-6G").display().to_string()
}

/// (expected file, iomem-sim's `blocks` words, lsmem's options): the same question to both.
const ROOT_C_CASES: &[(&str, &str, &str)] = &[
    ("cols", "", "-o RANGE,SIZE,STATE,REMOVABLE,BLOCK,ZONES,NODE"),
    ("default", "-o RANGE,SIZE,STATE,REMOVABLE,BLOCK", ""),
    ("json", "-J -o RANGE,SIZE,STATE,REMOVABLE,BLOCK", "-J"),
    (
        "bytes-raw",
        "-b -r",
        "-b -r -o RANGE,SIZE,STATE,REMOVABLE,BLOCK,ZONES,NODE",
    ),
    (
        "all-noheadings",
        "-a -n -o BLOCK,ZONES",
        "-a -n -o BLOCK,ZONES",
    ),
    ("summary-only", "--summary", "--summary"),
    ("zones-node", "-o ZONES,NODE", "-o ZONES,NODE"),
    (
        "pairs",
        "-P -b -o RANGE,SIZE,STATE,REMOVABLE,BLOCK",
        "-P -b",
    ),
];

#[test]
fn sysfs_root_blocks_equal_real_lsmem() {
    let root = root_c();
    let live_lsmem = lsmem_installed();
    if !live_lsmem {
        eprintln!("lsmem is not installed: comparing with the stored outputs only");
    }
    for (name, ours, theirs) in ROOT_C_CASES {
        let mut args = vec!["--sysfs-root", root.as_str(), "blocks"];
        args.extend(ours.split_whitespace());
        let o = run(&args, &[], None);
        assert_eq!(o.status.code(), Some(0), "{name}: {}", show(&o));
        let want =
            std::fs::read_to_string(fixture(&format!("lsmem/root-C-pc-6G.{name}.txt"))).unwrap();
        assert_eq!(stdout(&o), want, "{name}: blocks {ours} vs lsmem {theirs}");
        if live_lsmem {
            let mut la = vec!["--sysroot", root.as_str()];
            la.extend(theirs.split_whitespace());
            assert_eq!(Some(stdout(&o)), lsmem(&la), "{name}: lsmem {theirs} now");
        }
        // `lsmem` typed with lsmem's own words prints what lsmem printed.
        let mut args = vec!["--sysfs-root", root.as_str(), "lsmem"];
        args.extend(theirs.split_whitespace());
        let o = run(&args, &[], None);
        assert_eq!(o.status.code(), Some(0), "{name}: {}", show(&o));
        assert_eq!(
            stdout(&o),
            want,
            "{name}: iomem-sim lsmem {theirs} vs lsmem {theirs}"
        );
    }
}

#[test]
fn sysfs_root_says_what_it_read_and_names_the_start() {
    let root = root_c();
    let o = run(&["--sysfs-root", &root, "blocks"], &[], None);
    let e = stderr(&o);
    // The facts of the 6.1 root: its release, 40 physical bits, 128M blocks, no dax bus.
    assert!(
        e.contains("proc/sys/kernel/osrelease (6.1.0-56-amd64)"),
        "{e}"
    );
    assert!(e.contains("40 bits physical"), "{e}");
    assert!(
        e.contains("could not read sys/bus/dax/devices: not found"),
        "{e}"
    );
    assert!(
        e.contains("proc/cmdline (memhp_default_state=offline)"),
        "{e}"
    );
    let banner: Vec<&str> = e
        .lines()
        .filter(|l| l.starts_with("iomem-sim: starting from"))
        .collect();
    assert_eq!(banner.len(), 1, "{e}");
    assert!(
        banner[0].contains("kernel 6.1 (6.1.0-56-amd64 from proc/sys/kernel/osrelease)"),
        "{e}"
    );
    assert!(banner[0].contains("block size 128M ("), "{e}");
    // The tree is the dump as read: --format iomem is proc/iomem byte for byte.
    let o = run(&["--sysfs-root", &root, "--format", "iomem"], &[], None);
    let want = std::fs::read(fixture("root-C-pc-6G/proc/iomem")).unwrap();
    assert_eq!(o.stdout, want, "{}", show(&o));
}

/// Every real-kernel step: a root built from its memory-blocks.txt by the committed generator.
fn steps() -> Vec<(String, PathBuf, PathBuf, String)> {
    let mut v = Vec::new();
    for k in ["5.10", "6.1", "6.12"] {
        let dir = fixture(&format!("real-kernel-{k}"));
        let mut cases: Vec<PathBuf> = std::fs::read_dir(&dir)
            .unwrap()
            .map(|e| e.unwrap().path())
            .filter(|p| p.is_dir())
            .collect();
        cases.sort();
        for c in cases {
            let mut files: Vec<PathBuf> = std::fs::read_dir(&c)
                .unwrap()
                .map(|e| e.unwrap().path())
                .filter(|p| p.to_string_lossy().ends_with(".memory-blocks.txt"))
                .collect();
            files.sort();
            for b in files {
                let step = b
                    .file_name()
                    .unwrap()
                    .to_string_lossy()
                    .trim_end_matches(".memory-blocks.txt")
                    .to_string();
                let iomem = c.join(format!("{step}.iomem"));
                let name = format!("{k}/{}/{step}", c.file_name().unwrap().to_string_lossy());
                v.push((name, b, iomem, k.to_string()));
            }
        }
    }
    v
}

fn make_root(blocks: &Path, iomem: &Path, out: &Path, release: &str) {
    let s = Command::new("sh")
        .arg(fixture("make-sysfs-root.sh"))
        .arg(blocks)
        .arg(iomem)
        .arg(out)
        .arg(release)
        .status()
        .expect("run sh");
    assert!(s.success(), "make-sysfs-root.sh {}", blocks.display());
}

#[test]
fn every_real_kernel_step_blocks_equal_lsmem_and_memory_blocks_txt() {
    let tmp = tempfile::tempdir().unwrap();
    let live_lsmem = lsmem_installed();
    let all = steps();
    assert!(all.len() >= 60, "{} steps", all.len());
    for (i, (name, blocks, iomem, k)) in all.iter().enumerate() {
        let d = tmp.path().join(i.to_string());
        make_root(blocks, iomem, &d, k);
        let ds = d.display().to_string();
        let o = run(&["--sysfs-root", &ds, "blocks"], &[], None);
        assert_eq!(o.status.code(), Some(0), "{name}: {}", show(&o));
        let want = std::fs::read_to_string(fixture(&format!("lsmem/{name}.txt"))).unwrap();
        assert_eq!(
            stdout(&o),
            want,
            "{name}: blocks vs the stored lsmem output"
        );
        if live_lsmem {
            assert_eq!(
                Some(stdout(&o)),
                lsmem(&["--sysroot", &ds, "-o", COLS]),
                "{name}: lsmem now"
            );
        }
        // The blocks view in the capture format is the step's memory-blocks.txt.
        let st = LiveState::read(&RootDir::new(&d));
        let lm = st.machine(&Config::default(), false).unwrap();
        let txt: String = std::fs::read_to_string(blocks)
            .unwrap()
            .lines()
            .filter(|l| !l.starts_with("=="))
            .map(|l| format!("{l}\n"))
            .collect();
        assert_eq!(render_memory_blocks_txt(&lm.machine), txt, "{name}");
        assert!(
            lm.notes.iter().all(|n| !n.contains("valid_zones differs")),
            "{name}: {:?}",
            lm.notes
        );
    }
}

#[test]
fn hot_add_follows_the_machines_auto_online_policy_and_dax_its_target_node() {
    let tmp = tempfile::tempdir().unwrap();
    let base = fixture("real-kernel-6.1/B-pmem-legacy-above-4g");
    let d = tmp.path().join("r");
    make_root(
        &base.join("after-devdax.memory-blocks.txt"),
        &base.join("after-devdax.iomem"),
        &d,
        "6.1.0-56-amd64",
    );
    // This machine onlines hot-added memory as movable, and dax0.0 sits on node 1.
    std::fs::write(
        d.join("sys/devices/system/memory/auto_online_blocks"),
        "online_movable\n",
    )
    .unwrap();
    let dax = d.join("sys/bus/dax/devices/dax0.0");
    std::fs::create_dir_all(&dax).unwrap();
    std::fs::write(dax.join("target_node"), "1\n").unwrap();
    std::fs::create_dir_all(d.join("sys/bus/dax/drivers/device_dax")).unwrap();
    std::os::unix::fs::symlink("../../../bus/dax/drivers/device_dax", dax.join("driver")).unwrap();
    let ds = d.display().to_string();
    let o = run(
        &[
            "--sysfs-root",
            &ds,
            "-e",
            "dax kmem dax0.0",
            "blocks",
            "-o",
            "BLOCK,STATE,ZONES,NODE",
        ],
        &[],
        None,
    );
    assert_eq!(o.status.code(), Some(0), "{}", show(&o));
    let s = stdout(&o);
    // kmem's add_memory_driver_managed(target_node …) creates the blocks on node 1, and
    // auto_online_blocks=online_movable onlines them into ZONE_MOVABLE.
    assert!(
        s.lines().any(|l| l.ends_with(" online Movable    1")),
        "{s}\n{}",
        stderr(&o)
    );
    assert!(
        stderr(&o).contains("dax0.0 node 1 device_dax"),
        "{}",
        stderr(&o)
    );
}

#[test]
fn a_zeroed_iomem_is_said_and_the_blocks_still_come_from_sysfs() {
    let tmp = tempfile::tempdir().unwrap();
    let base = fixture("real-kernel-6.1/A-pc-dimm-hotplug");
    let d = tmp.path().join("r");
    make_root(
        &base.join("before.memory-blocks.txt"),
        &base.join("before.nonroot.iomem"),
        &d,
        "6.1.0-56-amd64",
    );
    let ds = d.display().to_string();
    let o = run(&["--sysfs-root", &ds, "blocks"], &[], None);
    assert_eq!(o.status.code(), Some(0), "{}", show(&o));
    let e = stderr(&o);
    assert!(e.contains("every address reads 0"), "{e}");
    assert!(e.contains("without CAP_SYS_ADMIN"), "{e}");
    let want = std::fs::read_to_string(fixture("lsmem/6.1/A-pc-dimm-hotplug/before.txt")).unwrap();
    assert_eq!(stdout(&o), want);
}

#[test]
fn capture_of_a_root_loads_back_with_the_same_answers() {
    let tmp = tempfile::tempdir().unwrap();
    let bundle = tmp.path().join("c6.capture");
    let b = bundle.display().to_string();
    let root = root_c();
    let o = run(&["--sysfs-root", &root, "capture", "-o", &b], &[], None);
    assert_eq!(o.status.code(), Some(0), "{}", show(&o));
    let text = std::fs::read_to_string(&bundle).unwrap();
    assert!(text.starts_with("iomem-sim capture 1\ncaptured "), "{text}");
    assert!(text.contains("\nlink sys/devices/system/memory/memory0/node0 = ../../node/node0\n"));
    for what in [
        vec!["blocks"],
        vec!["--format", "iomem"],
        vec!["blocks", "-J"],
    ] {
        let mut a = vec!["--sysfs-root", root.as_str()];
        a.extend(&what);
        let from_root = run(&a, &[], None);
        let mut a = vec!["-i", b.as_str()];
        a.extend(&what);
        let from_bundle = run(&a, &[], None);
        assert_eq!(from_bundle.status.code(), Some(0), "{}", show(&from_bundle));
        assert_eq!(stdout(&from_bundle), stdout(&from_root), "{what:?}");
    }
    let e = stderr(&run(&["-i", &b, "blocks"], &[], None));
    assert!(e.contains("starting from proc/iomem of capture "), "{e}");
    assert!(e.contains("kernel 6.1 (6.1.0-56-amd64"), "{e}");
    // A newer format is refused with a clear word, exit 2.
    std::fs::write(&bundle, "iomem-sim capture 7\n").unwrap();
    let o = run(&["-i", &b, "blocks"], &[], None);
    assert_eq!(o.status.code(), Some(2));
    assert!(
        stderr(&o).contains("capture format 7 is newer"),
        "{}",
        show(&o)
    );
}

#[test]
fn capture_refuses_a_dump_or_example_as_its_source() {
    for src in [["--example", "t0"], ["-i", "/proc/iomem"]] {
        let o = run(&[src[0], src[1], "capture"], &[], None);
        assert_eq!(o.status.code(), Some(2), "{}", show(&o));
        assert!(
            stderr(&o).contains("capture reads a machine"),
            "{}",
            show(&o)
        );
        assert!(o.stdout.is_empty());
    }
    let o = run(&["capture", "--frob"], &[], None);
    assert_eq!(o.status.code(), Some(2), "{}", show(&o));
    // clap's own words for an unknown option, with the usage of `capture`.
    let e = stderr(&o);
    assert!(e.contains("unexpected argument '--frob'"), "{e}");
    assert!(e.contains("capture [OPTIONS]"), "{e}");
}

fn is_root() -> bool {
    std::fs::read_to_string("/proc/self/status").is_ok_and(|s| {
        s.lines()
            .find(|l| l.starts_with("Uid:"))
            .and_then(|l| l.split_whitespace().nth(2))
            == Some("0")
    })
}

/// None (and a message) where this machine cannot be compared.
fn live_skip() -> Option<&'static str> {
    if !Path::new("/sys/devices/system/memory/block_size_bytes").exists() {
        return Some("/sys/devices/system/memory is missing (no memory block devices here)");
    }
    if !is_root() {
        return Some("not root: /proc/iomem reads all zeros");
    }
    None
}

#[test]
fn live_blocks_equal_lsmem_on_this_machine() {
    if let Some(why) = live_skip() {
        eprintln!("skipped: {why}");
        return;
    }
    let Some(want) = lsmem(&["-o", COLS]) else {
        eprintln!("skipped: lsmem is not installed");
        return;
    };
    let o = run(&["--live", "blocks"], &[], None);
    assert_eq!(o.status.code(), Some(0), "{}", show(&o));
    assert_eq!(stdout(&o), want);
}

#[test]
fn live_capture_then_input_gives_the_same_blocks_and_iomem() {
    if let Some(why) = live_skip() {
        eprintln!("skipped: {why}");
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let bundle = tmp.path().join("host.capture");
    let b = bundle.display().to_string();
    let o = run(&["capture", "-o", &b], &[], None);
    assert_eq!(o.status.code(), Some(0), "{}", show(&o));
    let live = run(&["--live", "blocks"], &[], None);
    let again = run(&["-i", &b, "blocks"], &[], None);
    assert_eq!(stdout(&again), stdout(&live), "{}", show(&again));
    let iomem = run(&["-i", &b, "--format", "iomem"], &[], None);
    assert_eq!(iomem.status.code(), Some(0), "{}", show(&iomem));
    let want = std::fs::read("/proc/iomem").unwrap();
    assert_eq!(iomem.stdout, want);
}
