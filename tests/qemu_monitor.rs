//! The `A-pc-dimm-hotplug` captures of 5.10, 6.1 and 6.12 replayed through the binary with
//! only what was typed: the QEMU monitor lines (`host QEMU monitor (HMP): …` in `steps.txt`)
//! and the guest's commands, in order. Every `after-*.iomem` byte for byte, every
//! `*.memory-blocks.txt` through `blocks --sysfs`, and `info memory-devices` as QEMU printed
//! it (the capture's `-> OK "…"` text).
//!
//! Also QEMU's own refusals (hw/mem/pc-dimm.c, hw/mem/memory-device.c of QEMU 7.2) and the
//! guest's refusal of an eject, which leave the tree as it was.

use assert_cmd::Command;
use std::path::{Path, PathBuf};

fn case_dir(kernel: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("fixtures")
        .join(format!("real-kernel-{kernel}"))
        .join("A-pc-dimm-hotplug")
}

fn read(p: &Path) -> String {
    std::fs::read_to_string(p).unwrap_or_else(|e| panic!("{}: {e}", p.display()))
}

/// What was typed, in order: `Cmd(line)` for a monitor or guest command, `Out(text)` for what
/// QEMU answered (`-> OK "…"`, unescaped), `State(name)` at each capture.
enum Step {
    Cmd(String),
    Out(String),
    State(String),
}

fn steps(text: &str) -> Vec<Step> {
    let mut out = Vec::new();
    for line in text.lines() {
        let l = line.trim();
        if let Some(c) = l.strip_prefix("host QEMU monitor (HMP): ") {
            out.push(Step::Cmd(c.to_string()));
        } else if let Some(c) = l.strip_prefix("guest# ") {
            out.push(Step::Cmd(c.to_string()));
        } else if let Some(o) = l.strip_prefix("-> OK \"") {
            let o = o.strip_suffix('"').expect("a quoted answer");
            out.push(Step::Out(o.replace("\\r\\n", "\n").replace("\\\"", "\"")));
        } else if let Some(rest) = l.strip_prefix("[state captured as ") {
            let s = rest.split(".iomem").next().expect("a state name");
            out.push(Step::State(s.to_string()));
        }
    }
    out
}

fn replay(kernel: &str) {
    let dir = case_dir(kernel);
    let steps = steps(&read(&dir.join("steps.txt")));
    let tmp = tempfile::tempdir().unwrap();
    let mut script = String::new();
    let mut states = Vec::new();
    let mut answers = Vec::new();
    for s in &steps {
        match s {
            Step::Cmd(c) => {
                script.push_str(c);
                script.push('\n');
            }
            Step::Out(o) => answers.push(o.clone()),
            Step::State(n) => {
                let p = tmp.path().join(format!("{n}.iomem"));
                script.push_str(&format!("save \"{}\"\nblocks --sysfs\n", p.display()));
                states.push(n.clone());
            }
        }
    }
    assert!(states.len() >= 12, "{kernel}: {} states", states.len());
    assert!(
        script.contains("device_add pc-dimm,id=dimm2,memdev=mem2,addr=0x180000000"),
        "{kernel}: the monitor lines are replayed"
    );
    let sp = tmp.path().join("script");
    std::fs::write(&sp, &script).unwrap();
    let o = Command::cargo_bin("iomem-sim")
        .unwrap()
        .arg("-i")
        .arg(dir.join("before.iomem"))
        .args(["--kernel", kernel, "--phys-bits", "40", "--color", "never"])
        .args(["--diff", "none", "-f"])
        .arg(&sp)
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&o.stdout);
    assert!(
        o.status.success(),
        "{kernel}: {}\n{stdout}",
        String::from_utf8_lossy(&o.stderr)
    );
    for n in &states {
        let got = read(&tmp.path().join(format!("{n}.iomem")));
        assert_eq!(
            got,
            read(&dir.join(format!("{n}.iomem"))),
            "{kernel} {n}.iomem"
        );
        let blocks = read(&dir.join(format!("{n}.memory-blocks.txt")));
        assert!(
            stdout.contains(&blocks),
            "{kernel} {n}.memory-blocks.txt:\n{blocks}\nnot in\n{stdout}"
        );
    }
    assert!(
        !answers.is_empty(),
        "{kernel}: QEMU's answers are in steps.txt"
    );
    for a in &answers {
        assert!(
            stdout.contains(&format!("> info memory-devices\n{a}")),
            "{kernel}: `info memory-devices` should print\n{a}\nin\n{stdout}"
        );
    }
    // The 64 MiB DIMM: QEMU plugged it, the guest kernel refused its memory.
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(
        err.contains("kernel: acpi PNP0C80:02: add_memory failed\n"),
        "{kernel}: {err}"
    );
}

#[test]
fn a_pc_dimm_hotplug_typed_5_10() {
    replay("5.10");
}

#[test]
fn a_pc_dimm_hotplug_typed_6_1() {
    replay("6.1");
}

#[test]
fn a_pc_dimm_hotplug_typed_6_12() {
    replay("6.12");
}

/// The lines on the A machine of 6.1 (`--diff none`), printing the final tree as /proc/iomem.
fn run(lines: &[&str]) -> std::process::Output {
    run_with(&["--format", "iomem"], lines)
}

/// The lines on the A machine of 6.1 (`--diff none`), with `extra` options.
fn run_with(extra: &[&str], lines: &[&str]) -> std::process::Output {
    let mut c = Command::cargo_bin("iomem-sim").unwrap();
    c.arg("-i")
        .arg(case_dir("6.1").join("before.iomem"))
        .args(["--kernel", "6.1", "--phys-bits", "40", "--color", "never"])
        .args(["--diff", "none"])
        .args(extra);
    for l in lines {
        c.args(["-e", l]);
    }
    c.output().unwrap()
}

/// QEMU refuses before the guest sees anything: exit status 1, QEMU's words, the tree and
/// the platform as they were (a later command still finds the backend free).
#[test]
fn qemu_refusals_change_nothing() {
    let before = read(&case_dir("6.1").join("before.iomem"));
    for (lines, words) in [
        (
            &["device_add pc-dimm,id=d1,memdev=nope"][..],
            "Error: Device 'nope' not found",
        ),
        (
            &["device_add pc-dimm,id=d1"][..],
            "Error: 'memdev' property is not set",
        ),
        (
            &[
                "object_add memory-backend-ram,id=m1,size=256M",
                "device_add pc-dimm,id=d1,memdev=m1,addr=0x100100000",
            ][..],
            "Error: address must be aligned to 0x200000 bytes",
        ),
        (
            &[
                "object_add memory-backend-ram,id=m1,size=256M",
                "device_add pc-dimm,id=d1,memdev=m1,addr=0x3bfe00000",
            ][..],
            "Error: can't add memory device [0x3bfe00000:0x3cfdfffff], usable range for memory devices [0x100000000:0x3bfffffff]",
        ),
        (
            &[
                "object_add memory-backend-ram,id=m1,size=3M",
                "device_add pc-dimm,id=d1,memdev=m1",
            ][..],
            "Error: backend memory size must be multiple of 0x200000",
        ),
        (
            &[
                "object_add memory-backend-ram,id=m1,size=256M",
                "device_add pc-dimm,id=d1,memdev=m1,node=1",
            ][..],
            "Error: 'DIMM property node has value 1' which exceeds the number of numa nodes: 1",
        ),
        (
            &["object_add memory-backend-ram,id=m1"][..],
            "Error: can't create backend with size 0",
        ),
        (&["device_del dimm1"][..], "Error: Device 'dimm1' not found"),
        (&["object_del m9"][..], "Error: object 'm9' not found"),
    ] {
        let o = run(lines);
        assert_eq!(o.status.code(), Some(1), "{lines:?}");
        let err = String::from_utf8_lossy(&o.stderr);
        assert!(err.contains(words), "{lines:?}: {err}");
        assert_eq!(String::from_utf8_lossy(&o.stdout), before, "{lines:?}");
    }
}

/// After a DIMM is plugged: its backend is busy, its id and slot are taken, an `addr=` on it
/// conflicts, and the backend cannot be deleted; without `addr=` the next DIMM goes right
/// after it (first fit, memory_device_get_free_addr).
#[test]
fn a_plugged_dimm_holds_its_backend_id_slot_and_range() {
    let plugged = [
        "object_add memory-backend-ram,id=m1,size=256M",
        "object_add memory-backend-ram,id=m2,size=128M",
        "device_add pc-dimm,id=d1,memdev=m1",
    ];
    for (extra, words) in [
        (
            "device_add pc-dimm,id=d2,memdev=m1",
            "Error: can't use already busy memdev: m1",
        ),
        (
            "device_add pc-dimm,id=d1,memdev=m2",
            "Error: Duplicate device ID 'd1' for device",
        ),
        (
            "device_add pc-dimm,id=d2,memdev=m2,slot=0",
            "Error: slot 0 is busy",
        ),
        (
            "device_add pc-dimm,id=d2,memdev=m2,addr=0x108000000",
            "Error: address range conflicts with memory device id='d1'",
        ),
        (
            "object_del m1",
            "Error: object 'm1' is in use, can not be deleted",
        ),
        (
            "object_add memory-backend-ram,id=m1,size=1G",
            "Error: attempt to add duplicate property 'm1' to object (type 'container')",
        ),
    ] {
        let mut lines = plugged.to_vec();
        lines.push(extra);
        let o = run(&lines);
        assert_eq!(o.status.code(), Some(1), "{extra}");
        assert!(
            String::from_utf8_lossy(&o.stderr).contains(words),
            "{extra}: {}",
            String::from_utf8_lossy(&o.stderr)
        );
    }
    let mut lines = plugged.to_vec();
    lines.extend([
        "device_add pc-dimm,id=d2,memdev=m2",
        "info memory-devices",
        "cat /proc/iomem",
    ]);
    let o = run_with(&[], &lines);
    assert!(o.status.success());
    let out = String::from_utf8_lossy(&o.stdout);
    assert!(
        out.contains("Memory device [dimm]: \"d2\"\n  addr: 0x110000000\n  slot: 1\n"),
        "{out}"
    );
    assert!(out.contains("100000000-10fffffff : System RAM\n"));
    assert!(out.contains("110000000-117ffffff : System RAM\n"));
}

/// The B machine was started without maxmem: its RAM above 4 GiB runs up to the 64-bit PCI
/// window, so there is no device-memory region (QEMU: "memory devices … are not enabled").
#[test]
fn no_device_memory_without_room_below_the_pci_window() {
    let dir = case_dir("6.1").join("../B-pmem-legacy-above-4g/before.iomem");
    let o = Command::cargo_bin("iomem-sim")
        .unwrap()
        .arg("-i")
        .arg(dir)
        .args(["--kernel", "6.1", "--phys-bits", "40"])
        .args(["-e", "object_add memory-backend-ram,id=m1,size=256M"])
        .args(["-e", "device_add pc-dimm,id=d1,memdev=m1"])
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(1));
    assert!(
        String::from_utf8_lossy(&o.stderr)
            .contains("memory devices (e.g. for memory hotplug) are not enabled")
    );
}

/// A plugged DIMM is part of the step: `undo` unplugs it (the tree, the blocks and the
/// platform as they were: the id and the backend free again), `redo` plugs it back.
#[test]
fn undo_and_redo_cover_the_platform() {
    let o = run_with(
        &[],
        &[
            "object_add memory-backend-ram,id=m1,size=256M",
            "device_add pc-dimm,id=d1,memdev=m1",
            "undo",
            "info memory-devices",
            "cat /proc/iomem",
            "redo",
            "info memory-devices",
            "undo",
            "device_add pc-dimm,id=d1,memdev=m1,addr=0x180000000",
            "info memory-devices",
        ],
    );
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let out = String::from_utf8_lossy(&o.stdout);
    let before = read(&case_dir("6.1").join("before.iomem"));
    assert!(
        out.contains(&format!(
            "> info memory-devices\n> cat /proc/iomem\n{before}"
        )),
        "{out}"
    );
    assert!(
        out.contains("> info memory-devices\nMemory device [dimm]: \"d1\"\n  addr: 0x100000000\n")
    );
    assert!(
        out.contains("> info memory-devices\nMemory device [dimm]: \"d1\"\n  addr: 0x180000000\n")
    );
}
