//! Issue 15, "Done when": the real-kernel captures `B-pmem-legacy-above-4g` of
//! `fixtures/real-kernel-{5.10,6.1,6.12}` replayed through the binary from `before.iomem`
//! with only the commands the guest typed (read from each capture's `steps.txt`), every
//! `after-*.iomem` byte for byte and every `*.memory-blocks.txt` row through `blocks --sysfs`.
//!
//! Also the sysfs-only variant of the flow and the refusals (pmem beyond RAM, too small after
//! alignment, the auto-online abort), their expectations from the kernel and daxctl sources.

use assert_cmd::Command;
use std::path::{Path, PathBuf};

fn case_dir(kernel: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("fixtures")
        .join(format!("real-kernel-{kernel}"))
        .join("B-pmem-legacy-above-4g")
}

fn read(p: &Path) -> String {
    std::fs::read_to_string(p).unwrap_or_else(|e| panic!("{}: {e}", p.display()))
}

/// One checkpoint of steps.txt: the guest commands since the previous one, then the name
/// of the state captured (`after-devdax`).
struct Checkpoint {
    commands: Vec<String>,
    state: String,
}

/// The guest's commands from steps.txt (`guest# CMD`), every one as typed (`ls /dev | grep …`
/// included), cut at each `[state captured as X.iomem`.
fn checkpoints(steps: &str) -> Vec<Checkpoint> {
    let mut out = Vec::new();
    let mut cur = Vec::new();
    for line in steps.lines() {
        let l = line.trim();
        if let Some(cmd) = l.strip_prefix("guest# ") {
            cur.push(cmd.to_string());
        } else if let Some(rest) = l.strip_prefix("[state captured as ") {
            let state = rest
                .split(".iomem")
                .next()
                .expect("a state name")
                .to_string();
            out.push(Checkpoint {
                commands: std::mem::take(&mut cur),
                state,
            });
        }
    }
    out
}

/// The `blocks --sysfs` listings in stdout, in order (each runs from `block_size_bytes=` over
/// its header and `memoryN` rows).
fn listings(stdout: &str) -> Vec<String> {
    let mut out = Vec::new();
    let lines: Vec<&str> = stdout.lines().collect();
    let mut i = 0;
    while i < lines.len() {
        if lines[i].starts_with("block_size_bytes=") {
            let mut s = String::new();
            s.push_str(lines[i]);
            s.push('\n');
            i += 1;
            while i < lines.len()
                && (lines[i].starts_with("auto_online_blocks=")
                    || lines[i].starts_with("block\t")
                    || lines[i].starts_with("memory"))
            {
                s.push_str(lines[i]);
                s.push('\n');
                i += 1;
            }
            out.push(s);
        } else {
            i += 1;
        }
    }
    out
}

fn replay(kernel: &str) {
    let dir = case_dir(kernel);
    let cps = checkpoints(&read(&dir.join("steps.txt")));
    assert_eq!(cps.first().map(|c| c.state.as_str()), Some("before"));
    assert!(cps.len() >= 8, "{kernel}: {} checkpoints", cps.len());
    let tmp = tempfile::tempdir().unwrap();
    let mut script = String::new();
    for cp in &cps {
        for c in &cp.commands {
            script.push_str(c);
            script.push('\n');
        }
        let out = tmp.path().join(format!("{}.iomem", cp.state));
        script.push_str(&format!("save \"{}\"\nblocks --sysfs\n", out.display()));
    }
    let sp = tmp.path().join("script");
    std::fs::write(&sp, &script).unwrap();
    // The capture's machine (README/VERSIONS.txt): 128 MiB blocks, memhp_default_state=offline,
    // 40 physical address bits (the root line `fd00000000-ffffffffff`).
    let o = Command::cargo_bin("iomem-sim")
        .unwrap()
        .args(["-i"])
        .arg(dir.join("before.iomem"))
        .args([
            "--kernel",
            kernel,
            "--block-size",
            "128M",
            "--auto-online",
            "offline",
            "--phys-bits",
            "40",
            "--color",
            "never",
            "-f",
        ])
        .arg(&sp)
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&o.stdout);
    assert!(
        o.status.success(),
        "{kernel}: exit {:?}\n{}\n{stdout}",
        o.status,
        String::from_utf8_lossy(&o.stderr)
    );
    let lists = listings(&stdout);
    assert_eq!(
        lists.len(),
        cps.len(),
        "{kernel}: one listing per checkpoint"
    );
    for (cp, list) in cps.iter().zip(&lists) {
        let got = read(&tmp.path().join(format!("{}.iomem", cp.state)));
        let want = read(&dir.join(format!("{}.iomem", cp.state)));
        assert_eq!(got, want, "{kernel} {}.iomem", cp.state);
        let want = read(&dir.join(format!("{}.memory-blocks.txt", cp.state)));
        assert_eq!(list, &want, "{kernel} {}.memory-blocks.txt", cp.state);
    }
    // daxctl's words as the capture's steps.txt shows them (5.10 and 6.12 record the output).
    let steps = read(&dir.join("steps.txt"));
    for want in [
        "onlined memory for 1 device",
        "offlined memory for 1 device",
        "reconfigured 1 device",
    ] {
        if steps.contains(want) {
            assert!(stdout.contains(want), "{kernel}: {want:?} missing");
        }
    }
    if steps.contains("\"total_memblocks\":3") {
        assert!(stdout.contains("\"total_memblocks\":3"));
        assert!(stdout.contains("\"size\":\"502.00 MiB (526.39 MB)\""));
    }
}

#[test]
fn b_pmem_legacy_5_10() {
    replay("5.10");
}

#[test]
fn b_pmem_legacy_6_1() {
    replay("6.1");
}

#[test]
fn b_pmem_legacy_6_12() {
    replay("6.12");
}

/// Run `lines` (each one `-e`) on the 6.1 capture's boot dump with the capture's machine.
fn run_61(extra: &[&str], lines: &[&str]) -> std::process::Output {
    let mut c = Command::cargo_bin("iomem-sim").unwrap();
    c.arg("-i")
        .arg(case_dir("6.1").join("before.iomem"))
        .args(["--kernel", "6.1", "--phys-bits", "40", "--color", "never"])
        .args(extra);
    for l in lines {
        c.args(["-e", l]);
    }
    c.arg("show").output().unwrap()
}

const TO_DEVDAX: &[&str] = &[
    "modprobe -a nd_e820 nd_pmem dax_pmem device_dax",
    "ndctl create-namespace -f -e namespace0.0 -m devdax",
];

#[test]
fn sysfs_only_flow_and_unbind_while_online() {
    // The same flow by sysfs writes:
    // * device_dax unbind: unbind_store → device_driver_detach → devres releases
    //   dev_dax_probe's devm_request_mem_region: dax0.0 110a00000-12fffffff goes.
    // * kmem new_id: do_id_store → driver_attach → dev_dax_kmem_probe: range rounded inward to
    //   blocks (dax_kmem_range: start ALIGN up, end ALIGN_DOWN → 118000000-12fffffff),
    //   request_mem_region(…, "dax0.0") then `res->flags = IORESOURCE_SYSTEM_RAM`, then
    //   add_memory_driver_managed(…, "System RAM (kmem)"), blocks 35-37 offline
    //   (memhp_default_state=offline).
    // * `echo online > memoryN/state` per block: online_type MMOP_ONLINE → the default zone
    //   (zone_for_pfn_range: above 4 GiB with no Movable overlap → Normal).
    // * kmem unbind while online: dev_dax_kmem_remove → remove_memory fails (-EBUSY, blocks
    //   online) → "mapping0: … cannot be hotremoved until the next reboot"; the driver
    //   unbinds anyway (remove returns void) and dax0.0 + System RAM (kmem) stay.
    let dir = tempfile::tempdir().unwrap();
    let save = dir.path().join("after.iomem");
    let mut lines: Vec<String> = TO_DEVDAX.iter().map(|s| s.to_string()).collect();
    lines.push("modprobe kmem".into());
    lines.push("echo dax0.0 > /sys/bus/dax/drivers/device_dax/unbind".into());
    lines.push("echo dax0.0 > /sys/bus/dax/drivers/kmem/new_id".into());
    for b in 35..=37 {
        lines.push(format!(
            "echo online > /sys/devices/system/memory/memory{b}/state"
        ));
    }
    lines.push("blocks --sysfs".into());
    lines.push("echo dax0.0 > /sys/bus/dax/drivers/kmem/unbind".into());
    lines.push(format!("save \"{}\"", save.display()));
    let refs: Vec<&str> = lines.iter().map(String::as_str).collect();
    let o = run_61(&[], &refs);
    let stdout = String::from_utf8_lossy(&o.stdout);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    for b in 35u64..=37 {
        let row = format!(
            "memory{b}\t{:08x}\t{:#x}\tonline\t1\tNormal\t1\t0\tnode0",
            b,
            b * 0x8000000
        );
        assert!(stdout.contains(&row), "missing {row}\n{stdout}");
    }
    assert!(
        stdout.contains("left behind: kmem unbound, but remove_memory failed (memory online): dax0.0 [0x118000000-0x12fffffff] and its System RAM (kmem) stay until reboot"),
        "{stdout}"
    );
    let after = read(&save);
    assert!(
        after.contains(
            "  118000000-12fffffff : dax0.0\n    118000000-12fffffff : System RAM (kmem)\n"
        )
    );
    // The same flow after boot-time kmem (after-kmem-bind) matches the real capture.
    let want_bind = read(&case_dir("6.1").join("after-kmem-bind.iomem"));
    assert_eq!(
        after, want_bind,
        "the tree is the kmem-bound tree: nothing was removed"
    );

    // JSON: the outcome says so too.
    let mut c = Command::cargo_bin("iomem-sim").unwrap();
    c.arg("-i").arg(case_dir("6.1").join("before.iomem")).args([
        "--kernel",
        "6.1",
        "--phys-bits",
        "40",
        "--format",
        "json",
    ]);
    for l in &lines[..lines.len() - 2] {
        if !l.starts_with("blocks") {
            c.args(["-e", l]);
        }
    }
    c.args(["-e", "echo dax0.0 > /sys/bus/dax/drivers/kmem/unbind"]);
    let o = c.output().unwrap();
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    let last = v["steps"].as_array().unwrap().last().unwrap().clone();
    assert_eq!(last["outcome"], "ok-left-behind");
    assert!(
        last["left_behind"][0]
            .as_str()
            .unwrap()
            .contains("stay until reboot")
    );
}

#[test]
fn kmem_refuses_pmem_beyond_ram_with_invalid_node() {
    // Without SRAT, dummy_numa_init: numa_add_memblk(0, 0, PFN_PHYS(max_pfn)); pmem above
    // the last RAM → phys_to_target_node = NUMA_NO_NODE → nd_e820's target_node -1 →
    // kmem.c: `if (numa_node < 0) { dev_warn(dev, "rejecting DAX region with invalid node:
    // %d\n", numa_node); return -EINVAL; }`. daxctl had already unbound device_dax: the
    // device is left disabled and its dax0.0 claim is gone (a partial step, exit 1).
    let dump = "00000000-00000fff : Reserved\n00001000-0009fbff : System RAM\n00100000-3fffffff : System RAM\n100000000-13fffffff : Persistent Memory (legacy)\n";
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("in.iomem");
    std::fs::write(&p, dump).unwrap();
    let o = Command::cargo_bin("iomem-sim")
        .unwrap()
        .arg("-i")
        .arg(&p)
        .args(["--kernel", "6.1", "--color", "never", "--format", "iomem"])
        .args(["-e", "modprobe -a nd_e820 nd_pmem dax_pmem device_dax kmem"])
        .args(["-e", "ndctl create-namespace -f -e namespace0.0 -m devdax"])
        .args(["-e", "daxctl reconfigure-device --mode=system-ram dax0.0"])
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(1));
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(
        err.contains("kernel: kmem dax0.0: rejecting DAX region with invalid node: -1"),
        "{err}"
    );
    assert!(err.contains("dax0.0: failed to enable"), "{err}");
    assert!(err.contains("reconfigured 0 devices"), "{err}");
    assert!(err.contains("steps before the failure stay done"), "{err}");
    let out = String::from_utf8_lossy(&o.stdout);
    // nd_pfn_init: npfns = (1G - 8K) / 4K = 262142; offset = ALIGN(start + 8K + 64 * npfns, 2M)
    // - start = 0x1200000.
    assert!(
        out.contains("  100000000-1011fffff : namespace0.0\n"),
        "{out}"
    );
    assert!(!out.contains("dax0.0"), "device_dax's claim is gone: {out}");

    // Declaring the node (as an SRAT would) makes the same flow work.
    let o = Command::cargo_bin("iomem-sim")
        .unwrap()
        .arg("-i")
        .arg(&p)
        .args([
            "--kernel",
            "6.1",
            "--numa-node",
            "0:0-13fffffff",
            "--format",
            "iomem",
        ])
        .args(["-e", "modprobe -a nd_e820 nd_pmem dax_pmem device_dax kmem"])
        .args(["-e", "ndctl create-namespace -f -e namespace0.0 -m devdax"])
        .args(["-e", "daxctl reconfigure-device --mode=system-ram dax0.0"])
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let out = String::from_utf8_lossy(&o.stdout);
    assert!(
        out.contains(
            "  108000000-13fffffff : dax0.0\n    108000000-13fffffff : System RAM (kmem)\n"
        ),
        "{out}"
    );
}

#[test]
fn kmem_refuses_a_range_too_small_after_alignment() {
    // 64 MiB of legacy pmem: nd_pfn_init gives dataoff = ALIGN(8K + 64 * 16382, 2M) = 2M, so
    // dax0.0 is 0x100200000-0x103ffffff, inside one 128 MiB block. kmem.c (5.10+): `if (range.start >= range.end) { dev_info(dev, "mapping%d: %#llx-%#llx
    // too small after alignment\n", …); continue; }` … `if (!total_len) { dev_warn(dev,
    // "rejecting DAX region without any memory after alignment\n"); return -EINVAL; }`
    let dump = "00000000-00000fff : Reserved\n00001000-0009fbff : System RAM\n00100000-bfffffff : System RAM\n100000000-103ffffff : Persistent Memory (legacy)\n104000000-13fffffff : System RAM\n";
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("in.iomem");
    std::fs::write(&p, dump).unwrap();
    let o = Command::cargo_bin("iomem-sim")
        .unwrap()
        .arg("-i")
        .arg(&p)
        .args(["--kernel", "6.1", "--color", "never"])
        .args(["-e", "modprobe -a nd_e820 nd_pmem dax_pmem device_dax kmem"])
        .args(["-e", "ndctl create-namespace -f -e namespace0.0 -m devdax"])
        .args(["-e", "daxctl reconfigure-device --mode=system-ram dax0.0"])
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(1));
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(
        err.contains("kmem dax0.0: mapping0: 0x100200000-0x103ffffff too small after alignment"),
        "{err}"
    );
    assert!(
        err.contains("rejecting DAX region without any memory after alignment"),
        "{err}"
    );
    assert!(err.contains("-EINVAL") || err.contains("-ENXIO"), "{err}");

    // 5.10's kmem.c has no `if (!total_len)` check: the too-small range is skipped
    // (`continue`) and the probe ends in `return 0` — kmem binds with no memory.
    let o = Command::cargo_bin("iomem-sim")
        .unwrap()
        .arg("-i")
        .arg(&p)
        .args(["--kernel", "5.10", "--color", "never", "--format", "iomem"])
        .args(["-e", "modprobe -a nd_e820 nd_pmem dax_pmem device_dax kmem"])
        .args(["-e", "ndctl create-namespace -f -e namespace0.0 -m devdax"])
        .args([
            "-e",
            "daxctl reconfigure-device --mode=system-ram --no-online dax0.0",
        ])
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let out = String::from_utf8_lossy(&o.stdout);
    assert!(out.contains("100000000-103ffffff : Persistent Memory (legacy)\n  100000000-1001fffff : namespace0.0\n104000000"), "{out}");
}

#[test]
fn no_online_is_refused_when_the_kernel_auto_onlines() {
    // daxctl reconfig_mode_system_ram: `if (param.no_online && !param.force &&
    // daxctl_dev_will_auto_online_memory(dev))` → "kernel policy will auto-online memory,
    // aborting", -EBUSY, before anything is done: the tree stays as it was.
    let o = run_61(
        &["--auto-online", "online", "--format", "iomem"],
        &[
            TO_DEVDAX[0],
            TO_DEVDAX[1],
            "daxctl reconfigure-device --mode=system-ram --no-online dax0.0",
        ],
    );
    assert_eq!(o.status.code(), Some(1));
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(
        err.contains("dax0.0: error: kernel policy will auto-online memory, aborting"),
        "{err}"
    );
    assert!(err.contains("the tree is unchanged"), "{err}");
    assert_eq!(
        String::from_utf8_lossy(&o.stdout),
        read(&case_dir("6.1").join("after-devdax.iomem"))
    );
}

#[test]
fn memory_operations_refused_in_devdax_mode_and_ndctl_align_refused_before_changes() {
    let o = run_61(
        &[],
        &[TO_DEVDAX[0], TO_DEVDAX[1], "daxctl online-memory dax0.0"],
    );
    assert_eq!(o.status.code(), Some(1));
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(
        err.contains("dax0.0: memory operations are not applicable in devdax mode"),
        "{err}"
    );

    // validate_namespace_options: p->size % (size_align * ways) → "'--size=' must align to
    // interleave-width: 1 and alignment: 1073741824 / did you intend --size=1073741824?", -EINVAL.
    let o = run_61(
        &["--format", "iomem"],
        &[
            "modprobe -a nd_e820 nd_pmem",
            "ndctl create-namespace -f -e namespace0.0 -m devdax -a 1G",
        ],
    );
    assert_eq!(o.status.code(), Some(1));
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(
        err.contains("'--size=' must align to interleave-width: 1 and alignment: 1073741824"),
        "{err}"
    );
    assert!(err.contains("did you intend --size=1073741824?"), "{err}");
    assert_eq!(
        String::from_utf8_lossy(&o.stdout),
        read(&case_dir("6.1").join("after-nd-bus.iomem")),
        "nothing changed"
    );
    // "unsupported align: %s" → -ENXIO.
    let o = run_61(
        &[],
        &[
            "modprobe -a nd_e820 nd_pmem",
            "ndctl create-namespace -f -e namespace0.0 -m devdax -a 64K",
        ],
    );
    assert!(String::from_utf8_lossy(&o.stderr).contains("Error: unsupported align: 64K"));
    // An active namespace without -f: "namespace0.0 is active, specify --force for re-configuration".
    let o = run_61(
        &[],
        &[
            "modprobe -a nd_e820 nd_pmem",
            "ndctl create-namespace -e namespace0.0 -m devdax",
        ],
    );
    assert!(
        String::from_utf8_lossy(&o.stderr)
            .contains("namespace0.0 is active, specify --force for re-configuration")
    );
}

#[test]
fn unmodelled_modules_exit_2_and_dump_state_is_understood() {
    let o = run_61(&[], &["modprobe dax_hmem"]);
    assert_eq!(o.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&o.stderr).contains("not modelled"));
    let o = run_61(&[], &["modprobe cxl_acpi"]);
    assert_eq!(o.status.code(), Some(2));

    // A dump already in system-ram mode: daxctl sees dax0.0 bound to kmem. (A dump cannot
    // say whether a block is online; boot takes every System RAM block as online.)
    let o = Command::cargo_bin("iomem-sim")
        .unwrap()
        .arg("-i")
        .arg(case_dir("6.1").join("after-kmem-bind.iomem"))
        .args(["--kernel", "6.1", "--phys-bits", "40", "--color", "never"])
        .args([
            "-e",
            "daxctl offline-memory dax0.0",
            "-e",
            "daxctl online-memory dax0.0",
        ])
        .args(["-e", "blocks --sysfs"])
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let out = String::from_utf8_lossy(&o.stdout);
    assert!(out.contains("offlined memory for 1 device"), "{out}");
    assert!(out.contains("onlined memory for 1 device"), "{out}");
    assert!(
        out.contains("memory35\t00000023\t0x118000000\tonline\t1\tMovable\t1\t0\tnode0"),
        "{out}"
    );
}

#[test]
fn insert_infers_flags_from_the_name_and_takes_flags() {
    // Without --flags: the dump parser's inference ("Persistent Memory" above 1 MiB is
    // IORESOURCE_MEM, not BUSY), so a request inside it nests (__request_region descends
    // into a non-busy conflict).
    let dump = "00000000-00000fff : Reserved\n00001000-0009fbff : System RAM\n00100000-3fffffff : System RAM\n";
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("in.iomem");
    std::fs::write(&p, dump).unwrap();
    let run = |lines: &[&str]| {
        let mut c = Command::cargo_bin("iomem-sim").unwrap();
        c.arg("-i").arg(&p).args(["--format", "iomem"]);
        for l in lines {
            c.args(["-e", l]);
        }
        c.output().unwrap()
    };
    let o = run(&[
        "insert 100000000 512M \"Persistent Memory\"",
        "request 100000000 256M namespace0.0",
    ]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    assert!(String::from_utf8_lossy(&o.stdout).contains(
        "100000000-11fffffff : Persistent Memory\n  100000000-10fffffff : namespace0.0\n"
    ));
    // --flags MEM|BUSY: a BUSY node: the request is refused (-EBUSY).
    let o = run(&[
        "insert 100000000 512M \"Persistent Memory\" --flags MEM|BUSY",
        "request 100000000 256M namespace0.0",
    ]);
    assert_eq!(o.status.code(), Some(1));
    let o = run(&[
        "insert 100000000 512M foo --flags 0x200",
        "request 100000000 256M bar",
    ]);
    assert!(o.status.success());
    let o = run(&["insert 100000000 512M foo --flags NOPE"]);
    assert_eq!(o.status.code(), Some(2));
}

/// `cat` reads what the real kernel's sysfs showed: each memory block attribute of the 6.1
/// capture's `after-kmem-bind` and `after-kmem-online` listings (phys_index, state, online,
/// valid_zones, removable, phys_device — read off the real /sys), the dax device's size and
/// target_node as `daxctl list` printed them in steps.txt (526385152, 0), and `/proc/iomem`
/// byte for byte as the capture's after-kmem-online.iomem.
#[test]
fn cat_reads_the_files_as_the_real_kernel_showed_them() {
    const ATTRS: [&str; 6] = [
        "phys_index",
        "state",
        "online",
        "valid_zones",
        "removable",
        "phys_device",
    ];
    // (block, its row's columns 1,3,4,5,6,7 of the listing).
    let rows = |file: &str| -> Vec<(String, Vec<String>)> {
        read(&case_dir("6.1").join(file))
            .lines()
            .filter(|l| l.starts_with("memory3") && l.split('\t').count() == 9)
            .map(|l| {
                let c: Vec<&str> = l.split('\t').collect();
                let vals = [c[1], c[3], c[4], c[5], c[6], c[7]]
                    .iter()
                    .map(|s| s.to_string())
                    .collect();
                (c[0].to_string(), vals)
            })
            .filter(|(b, _)| {
                matches!(
                    b.as_str(),
                    "memory35" | "memory36" | "memory37" | "memory38"
                )
            })
            .collect()
    };
    let cat_line = |rows: &[(String, Vec<String>)]| -> (String, String) {
        let mut paths = Vec::new();
        let mut want = String::new();
        for (b, vals) in rows {
            for (a, v) in ATTRS.iter().zip(vals) {
                paths.push(format!("/sys/devices/system/memory/{b}/{a}"));
                want.push_str(v);
                want.push('\n');
            }
        }
        (format!("cat {}", paths.join(" ")), want)
    };
    let bind = rows("after-kmem-bind.memory-blocks.txt");
    let online = rows("after-kmem-online.memory-blocks.txt");
    assert_eq!((bind.len(), online.len()), (4, 4));
    let (cat_bind, want_bind) = cat_line(&bind);
    let (cat_online, want_online) = cat_line(&online);
    let mut lines: Vec<&str> = TO_DEVDAX.to_vec();
    lines.extend([
        "modprobe kmem",
        "cat /sys/bus/dax/devices/dax0.0/size /sys/bus/dax/devices/dax0.0/target_node",
        "daxctl reconfigure-device --mode=system-ram --no-online dax0.0",
        &cat_bind,
        "daxctl online-memory dax0.0",
        &cat_online,
        "cat /proc/iomem",
    ]);
    let o = run_61(&[], &lines);
    let stdout = String::from_utf8_lossy(&o.stdout);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    // The text between the last `> CMD` line and the next `> ` line (the two block listings
    // are the same command line: the second is the one after onlining).
    let out_of = |cmd: &str| -> String {
        let start = stdout
            .rfind(&format!("> {cmd}\n"))
            .unwrap_or_else(|| panic!("no `{cmd}` in\n{stdout}"))
            + cmd.len()
            + 3;
        let rest = &stdout[start..];
        rest[..rest.find("\n> ").map_or(rest.len(), |i| i + 1)].to_string()
    };
    assert_eq!(
        out_of("cat /sys/bus/dax/devices/dax0.0/size /sys/bus/dax/devices/dax0.0/target_node"),
        "526385152\n0\n"
    );
    assert_eq!(cat_bind, cat_online);
    let first = stdout.find(&format!("> {cat_bind}\n")).unwrap() + cat_bind.len() + 3;
    assert!(
        stdout[first..].starts_with(&want_bind),
        "{}",
        &stdout[first..]
    );
    assert_eq!(out_of(&cat_online), want_online);
    let iomem = out_of("cat /proc/iomem");
    let want = read(&case_dir("6.1").join("after-kmem-online.iomem"));
    assert!(iomem.starts_with(&want), "{iomem}");
}

/// Every output a tool printed in the capture's steps.txt (`| ` lines under `guest# CMD`) is
/// what the simulator prints for that command, line for line (5.10 and 6.12 recorded them; 6.1
/// did not). The namespace uuid is random on the real machine: it is masked on both sides.
fn tool_outputs_match_steps(kernel: &str) {
    let dir = case_dir(kernel);
    let steps = read(&dir.join("steps.txt"));
    let mut cmds: Vec<(String, Vec<String>)> = Vec::new();
    for line in steps.lines() {
        let l = line.trim();
        if let Some(cmd) = l.strip_prefix("guest# ") {
            cmds.push((cmd.to_string(), Vec::new()));
        } else if let Some(out) = l.strip_prefix('|')
            && let Some((_, o)) = cmds.last_mut()
        {
            o.push(out.strip_prefix(' ').unwrap_or(out).to_string());
        }
    }
    assert!(
        cmds.iter()
            .any(|(c, o)| c.starts_with("ls /dev | grep") && !o.is_empty()),
        "{kernel}: the device-node listings are among the outputs"
    );
    let recorded = cmds.iter().filter(|(_, o)| !o.is_empty()).count();
    assert!(recorded >= 8, "{kernel}: {recorded} recorded outputs");
    let mut c = Command::cargo_bin("iomem-sim").unwrap();
    c.arg("-i").arg(dir.join("before.iomem")).args([
        "--kernel",
        kernel,
        "--phys-bits",
        "40",
        "--color",
        "never",
        "--diff",
        "none",
    ]);
    let o = c
        .args(
            cmds.iter()
                .flat_map(|(cmd, _)| ["-e".to_string(), cmd.clone()]),
        )
        // A last command, so that the tree printed at the end follows it, not a tool's output.
        .args(["-e", "cat /sys/devices/system/memory/block_size_bytes"])
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let uuid = |s: &str| match s.find("\"uuid\":\"") {
        Some(i) => format!("{}\"uuid\":\"…\",", &s[..i]),
        None => s.to_string(),
    };
    // `--diff none`: `> CMD`, then what the command printed, for each command in turn.
    let stdout = String::from_utf8_lossy(&o.stdout);
    let mut printed: Vec<(String, Vec<String>)> = Vec::new();
    for l in stdout.lines() {
        if let Some(cmd) = l.strip_prefix("> ") {
            printed.push((cmd.to_string(), Vec::new()));
        } else if let Some((_, out)) = printed.last_mut() {
            out.push(uuid(l));
        }
    }
    assert_eq!(
        printed.len(),
        cmds.len() + 1,
        "{kernel}: one `> ` per command"
    );
    assert_eq!(printed[cmds.len()].1[0], "8000000");
    for ((cmd, want), (got_cmd, got)) in cmds.iter().zip(&printed) {
        let want: Vec<String> = want.iter().map(|w| uuid(w)).collect();
        assert_eq!(got_cmd, cmd);
        assert_eq!(got, &want, "{kernel}: `{cmd}`");
    }
}

#[test]
fn tool_outputs_match_the_5_10_capture() {
    tool_outputs_match_steps("5.10");
}

#[test]
fn tool_outputs_match_the_6_12_capture() {
    tool_outputs_match_steps("6.12");
}

/// `ndctl create-namespace -m devdax -a 4K` (6.1 source): the layout is computed with `align =
/// max(nd_pfn->align, memremap_compat_align())` (pfn_devs.c `nd_pfn_init`; SUBSECTION_SIZE,
/// 2 MiB, with CONFIG_ZONE_DEVICE, mm/memremap.c), so the data starts 10 MiB in as with 2 MiB
/// (size 526385152, the capture's); but the info block stores the asked align (`pfn_sb->align =
/// cpu_to_le32(nd_pfn->align);`), dax_pmem makes it the region's (`alloc_dax_region(…,
/// le32_to_cpu(pfn_sb->align), …)`) and the device takes the region's (bus.c
/// `dev_dax->align = dax_region->align;`): 4096 in ndctl's JSON and in sysfs.
#[test]
fn devdax_with_a_4k_align_keeps_the_2m_layout_and_reports_4k() {
    let o = run_61(
        &["--diff", "none"],
        &[
            TO_DEVDAX[0],
            "ndctl create-namespace -f -e namespace0.0 -m devdax -a 4K",
            "cat /sys/bus/dax/devices/dax0.0/align /sys/bus/dax/devices/dax0.0/size",
        ],
    );
    let stdout = String::from_utf8_lossy(&o.stdout);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let json_start = stdout.find("> ndctl create-namespace").unwrap();
    let json = &stdout[json_start..stdout.find("> cat").unwrap()];
    assert!(json.contains("\"size\":526385152"), "{json}");
    assert_eq!(json.matches("\"align\":4096").count(), 3, "{json}");
    assert!(!json.contains("2097152"), "{json}");
    assert!(stdout.contains("> cat /sys/bus/dax/devices/dax0.0/align /sys/bus/dax/devices/dax0.0/size\n4096\n526385152\n"), "{stdout}");
}

/// `daxctl disable-device` / `enable-device` and `ndctl disable-region` / `enable-region` on
/// the devdax namespace of each capture, every tree derived from the captures and the code:
/// * `daxctl_dev_disable` unbinds device_dax: dev_dax_probe's devm claim goes, so the tree is
///   `after-devdax` without its `dax0.0` row; `daxctl_dev_enable_devdax` binds it again and
///   the tree is `after-devdax` (daxctl/device.c `do_xble`, libdaxctl `daxctl_dev_enable`).
/// * `ndctl disable-region` disables each namespace (`region_action`): dax_pmem's unbind takes
///   dax0.0 and the metadata claim, then `nd_region_remove` unregisters the namespace: the tree
///   is the boot tree, `before.iomem`. `enable-region`: `nd_region_probe` registers the
///   namespace again, its dax info block makes it devdax (`nd_pmem_probe` → `nd_dax_probe`),
///   dax_pmem and device_dax bind: `after-devdax` again, byte for byte.
fn disable_and_enable_round_trip(kernel: &str) {
    let dir = case_dir(kernel);
    let tmp = tempfile::tempdir().unwrap();
    let save = |n: &str| tmp.path().join(format!("{n}.iomem"));
    let mut lines: Vec<String> = TO_DEVDAX.iter().map(|s| s.to_string()).collect();
    for (cmd, state) in [
        ("daxctl disable-device dax0.0", "dev-off"),
        ("daxctl list -i", "dev-off-list"),
        ("daxctl enable-device all", "dev-on"),
        ("ndctl disable-region region0", "region-off"),
        ("ndctl list -RNi", "region-off-list"),
        ("ndctl enable-region 0", "region-on"),
    ] {
        lines.push(cmd.into());
        lines.push(format!("save \"{}\"", save(state).display()));
    }
    let mut c = Command::cargo_bin("iomem-sim").unwrap();
    c.arg("-i")
        .arg(dir.join("before.iomem"))
        .args(["--kernel", kernel, "--phys-bits", "40", "--color", "never"])
        .args(["--diff", "none"]);
    for l in &lines {
        c.args(["-e", l]);
    }
    let o = c.output().unwrap();
    let stdout = String::from_utf8_lossy(&o.stdout);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let devdax = read(&dir.join("after-devdax.iomem"));
    let without_dax: String = devdax
        .lines()
        .filter(|l| !l.ends_with(" : dax0.0"))
        .map(|l| format!("{l}\n"))
        .collect();
    assert_ne!(
        without_dax, devdax,
        "{kernel}: the capture has a dax0.0 row"
    );
    assert_eq!(
        read(&save("dev-off")),
        without_dax,
        "{kernel} disable-device"
    );
    assert_eq!(read(&save("dev-on")), devdax, "{kernel} enable-device");
    assert_eq!(
        read(&save("region-off")),
        read(&dir.join("before.iomem")),
        "{kernel} disable-region"
    );
    assert_eq!(read(&save("region-on")), devdax, "{kernel} enable-region");
    for words in [
        "disabled 1 device\n",
        "\"state\":\"disabled\"\n}\n",
        "enabled 1 device\n",
        "disabled 1 region\n",
        "enabled 1 region\n",
    ] {
        assert!(
            stdout.contains(words),
            "{kernel}: no {words:?} in\n{stdout}"
        );
    }
    // region_to_json: "state" before "persistence_domain"; no namespace device while the
    // region is disabled, so no "namespaces" and no {"regions":…} wrapper (list_display).
    assert!(
        stdout.contains(
            "> ndctl list -RNi\n{\n  \"dev\":\"region0\",\n  \"size\":536870912,\n  \"align\":16777216,\n  \"available_size\":0,\n  \"max_available_extent\":0,\n  \"type\":\"pmem\",\n  \"state\":\"disabled\",\n  \"persistence_domain\":\"unknown\"\n}\n"
        ),
        "{kernel}: {stdout}"
    );
}

#[test]
fn disable_and_enable_round_trip_5_10() {
    disable_and_enable_round_trip("5.10");
}

#[test]
fn disable_and_enable_round_trip_6_1() {
    disable_and_enable_round_trip("6.1");
}

#[test]
fn disable_and_enable_round_trip_6_12() {
    disable_and_enable_round_trip("6.12");
}

/// The refusals: `do_xble` on a device in system-ram mode ("status operations are only
/// applicable in devdax mode", -ENXIO, the tree as it was); a device that does not exist
/// (`do_xaction_device` starts from -ENXIO); a namespace of a disabled region is no device
/// (`enable-namespace` finds none); `disable-region` of a region whose namespace refuses
/// (`ndctl_namespace_disable_safe`: memory online as system-ram, -EBUSY) counts 0 and exits 0,
/// changing nothing — with that memory offline, it goes through.
#[test]
fn disable_refusals_leave_the_tree_as_it_was() {
    let run = |lines: &[&str]| {
        let mut all: Vec<&str> = TO_DEVDAX.to_vec();
        all.push("daxctl reconfigure-device --mode=system-ram --no-online dax0.0");
        all.extend_from_slice(lines);
        run_61(&["--diff", "none", "--format", "iomem"], &all)
    };
    let bound = read(&case_dir("6.1").join("after-kmem-bind.iomem"));
    let o = run(&["daxctl disable-device dax0.0"]);
    assert_eq!(o.status.code(), Some(1));
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(
        err.contains("dax0.0: status operations are only applicable in devdax mode\nerror disabling device: No such device or address\ndisabled 0 devices"),
        "{err}"
    );
    assert!(String::from_utf8_lossy(&o.stdout).ends_with(&bound));

    let o = run(&["daxctl enable-device dax9.0"]);
    assert_eq!(o.status.code(), Some(1));
    assert!(
        String::from_utf8_lossy(&o.stderr)
            .contains("error enabling device: No such device or address\nenabled 0 devices")
    );

    // kmem holds dax0.0 with its memory online: libndctl's ndctl_namespace_disable_safe
    // refuses (ndctl_dax_has_active_memory, -EBUSY), so the region is not counted and nothing
    // changes. Offline, the disable goes through: kmem's remove takes the memory, and the
    // tree is the boot tree (before.iomem), as after disabling a devdax region.
    let tmp = tempfile::tempdir().unwrap();
    let saved = tmp.path().join("after.iomem");
    let save = format!("save \"{}\"", saved.display());
    let online = read(&case_dir("6.1").join("after-kmem-online.iomem"));
    let mut all: Vec<&str> = TO_DEVDAX.to_vec();
    all.push("daxctl reconfigure-device --mode=system-ram dax0.0");
    all.extend_from_slice(&["ndctl disable-region all", &save]);
    let o = run_61(&["--diff", "none"], &all);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let out = String::from_utf8_lossy(&o.stdout);
    assert!(
        out.contains("> ndctl disable-region all\ndisabled 0 regions\n"),
        "{out}"
    );
    assert_eq!(read(&saved), online);
    let mut all: Vec<&str> = TO_DEVDAX.to_vec();
    all.push("daxctl reconfigure-device --mode=system-ram --no-online dax0.0");
    all.extend_from_slice(&["ndctl disable-region all", &save]);
    let o = run_61(&["--diff", "none"], &all);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let out = String::from_utf8_lossy(&o.stdout);
    assert!(
        out.contains("> ndctl disable-region all\ndisabled 1 region\n"),
        "{out}"
    );
    assert_eq!(read(&saved), read(&case_dir("6.1").join("before.iomem")));
    // The same for `create-namespace -e … -m raw` (namespace_prep_reconfig disables first):
    // online, refused with nothing changed; offline, the raw namespace of after-raw.iomem.
    let mut all: Vec<&str> = TO_DEVDAX.to_vec();
    all.push("daxctl reconfigure-device --mode=system-ram dax0.0");
    all.push("ndctl create-namespace -f -e namespace0.0 -m raw");
    let o = run_61(&["--diff", "none"], &all);
    assert_eq!(o.status.code(), Some(1));
    assert!(
        String::from_utf8_lossy(&o.stderr).contains(
            "failed to reconfigure namespace: Device or resource busy\n  (kernel: ndctl_namespace_disable_safe: namespace0.0: dax0.0 is active as system-ram (3 memory blocks online), refusing to disable)"
        ),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
    let mut all: Vec<&str> = TO_DEVDAX.to_vec();
    all.push("daxctl reconfigure-device --mode=system-ram --no-online dax0.0");
    all.extend_from_slice(&["ndctl create-namespace -f -e namespace0.0 -m raw", &save]);
    let o = run_61(&["--diff", "none"], &all);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    assert_eq!(read(&saved), read(&case_dir("6.1").join("after-raw.iomem")));

    let o = run_61(
        &["--diff", "none"],
        &[
            "modprobe -a nd_e820 nd_pmem",
            "ndctl disable-region region0",
            "ndctl enable-namespace namespace0.0",
        ],
    );
    assert_eq!(o.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&o.stderr).contains("enabled 0 namespaces"));
}

/// `ls /dev` lists the nodes the drivers made: pmem0 while nd_pmem holds the raw namespace,
/// dax0.0 while device_dax holds the dax device, neither once kmem holds it (kmem makes no
/// character device). Piped into grep, the line exits with grep's status: 1 and silent when
/// no line is selected. A missing node is ls's own message.
#[test]
fn ls_dev_lists_the_nodes_the_drivers_made() {
    let out = |lines: &[&str]| {
        let o = run_61(&["--diff", "none", "--keep-going"], lines);
        (
            o.status.code(),
            String::from_utf8_lossy(&o.stdout).into_owned(),
            String::from_utf8_lossy(&o.stderr).into_owned(),
        )
    };
    let pick = "ls /dev | grep -E '^(pmem|dax)'";
    let (code, stdout, _) = out(&["modprobe -a nd_e820 nd_pmem", pick]);
    assert_eq!(code, Some(0));
    assert!(stdout.contains(&format!("> {pick}\npmem0\n")), "{stdout}");
    let (code, stdout, _) = out(&[TO_DEVDAX[0], TO_DEVDAX[1], pick, "ls /dev/dax0.0"]);
    assert_eq!(code, Some(0));
    assert!(stdout.contains(&format!("> {pick}\ndax0.0\n")), "{stdout}");
    assert!(
        stdout.contains("> ls /dev/dax0.0\n/dev/dax0.0\n"),
        "{stdout}"
    );
    let (code, stdout, stderr) = out(&[
        TO_DEVDAX[0],
        TO_DEVDAX[1],
        "daxctl reconfigure-device --mode=system-ram --no-online dax0.0",
        pick,
        "ls /dev/pmem0",
    ]);
    assert_eq!(code, Some(1));
    assert!(
        stdout.contains(&format!("> {pick}\n> ls /dev/pmem0\n")),
        "{stdout}"
    );
    assert!(
        stderr.contains("ls: cannot access '/dev/pmem0': No such file or directory"),
        "{stderr}"
    );
    assert!(!stderr.contains("grep"), "grep is silent: {stderr}");
}
