//! Kernels side by side (issue 10) and the version rules of `-k` (issue 9), through the
//! binary. Expectations come from the kernel source each rule names (see the comments), not
//! from the simulator's own output; the snapshot was read against them.

mod common;
use common::{fixture, run, show};

fn stdout(o: &std::process::Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}
fn stderr(o: &std::process::Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

/// The 2019 patch: 5.0's `register_memory_resource` uses `request_resource_conflict` on the
/// root, which meets the non-busy "Persistent Memory (legacy)" → -EEXIST; 5.1+ uses
/// `__request_region`, which descends into it ("mm/memory-hotplug: Allow memory resources to
/// be children"): the new System RAM nests under the pmem range.
#[test]
fn seed_story_side_by_side() {
    let o = run(
        &["-k", "5.0,5.1,6.1", "hotplug", "add", "a0000000", "128M"],
        &[],
        None,
    );
    assert_eq!(o.status.code(), Some(1), "{}", show(&o));
    let out = stdout(&o);
    assert!(out.contains("-EEXIST (register_memory_resource)"), "{out}");
    assert!(
        out.contains("+   a0000000-a7ffffff : System RAM  added"),
        "{out}"
    );
    assert!(out.contains("+  a0000000-a7ffffff : System RAM\n"), "{out}");
    insta::assert_snapshot!("seed_5_0_5_1_6_1", out);
}

#[test]
fn json_gives_the_same_per_version() {
    let o = run(
        &[
            "--format",
            "json",
            "-k",
            "5.0,5.1,6.1",
            "hotplug",
            "add",
            "a0000000",
            "128M",
        ],
        &[],
        None,
    );
    assert_eq!(o.status.code(), Some(1), "{}", show(&o));
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).expect("JSON");
    let k = v["kernels"].as_array().unwrap();
    assert_eq!(k.len(), 3);
    assert_eq!(k[0]["kernel"], "5.0");
    assert_eq!(k[0]["exit"], 1);
    assert_eq!(k[0]["steps"][0]["errno"], "-EEXIST");
    assert_eq!(k[1]["steps"][0]["outcome"], "ok");
    assert_eq!(k[2]["steps"][0]["changes"][0]["depth"], 1);
    assert_eq!(v["rows"][0]["agree"], false);
    assert_eq!(
        v["rows"][0]["outcomes"]["5.0"]["func"],
        "register_memory_resource"
    );
    assert_eq!(
        v["identical_trees"],
        serde_json::json!([["5.0"], ["5.1", "6.1"]])
    );
}

#[test]
fn script_and_exec_forms_and_exit_status() {
    let dir = std::env::temp_dir().join(format!("iomem-sim-compare-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let script = dir.join("s.txt");
    std::fs::write(
        &script,
        "# two adds\nhotplug add 100000000 128M\nhotplug add 108000000 128M\n",
    )
    .unwrap();
    // Every version accepts every command: 0.
    let o = run(
        &["-k", "5.0,6.12", "-f", script.to_str().unwrap()],
        &[],
        None,
    );
    assert_eq!(o.status.code(), Some(0), "{}", show(&o));
    assert!(stdout(&o).contains("All 2 versions agree"), "{}", show(&o));
    // A syntax error is a usage error: 2, nothing run.
    let o = run(&["-k", "5.0,6.12", "-e", "hotplug add zz 1G"], &[], None);
    assert_eq!(o.status.code(), Some(2), "{}", show(&o));
    assert!(stdout(&o).is_empty());
    let o = run(&["-k", "5.0,", "show"], &[], None);
    assert_eq!(o.status.code(), Some(2), "{}", show(&o));
    std::fs::remove_dir_all(&dir).ok();
}

#[test]
fn repl_kernel_list_then_commands() {
    let o = run(
        &["repl"],
        &[],
        Some(b"kernel 5.0,5.1\nhotplug add a0000000 128M\nkernel 5.1\nshow a0000000\n"),
    );
    let out = stdout(&o);
    assert!(
        out.contains("now simulating Linux 5.0,5.1 side by side"),
        "{}",
        show(&o)
    );
    assert!(out.contains("-EEXIST (register_memory_resource)"), "{out}");
    assert!(out.contains("[5.0] [5.1]"), "{out}");
    // Back to one version: 5.1's session continues, with the nested System RAM.
    assert!(out.contains("System RAM"), "{out}");
    assert_eq!(o.status.code(), Some(1), "{}", show(&o));
    // `-k A,B repl` starts side by side.
    let o = run(
        &["-k", "5.0,5.1", "repl"],
        &[],
        Some(b"hotplug add a0000000 128M\n"),
    );
    assert!(
        stdout(&o).contains("-EEXIST (register_memory_resource)"),
        "{}",
        show(&o)
    );
}

#[test]
fn ranges_expand_to_the_boundaries() {
    // 5.0..5.2: 5.1 (three 2019 changes) and 5.2 (check_hotplug_memory_range) lie inside.
    let o = run(
        &[
            "-k", "5.0..5.2", "--diff", "none", "hotplug", "add", "a0000000", "128M",
        ],
        &[],
        None,
    );
    let out = stdout(&o);
    let header = out.lines().next().unwrap_or("");
    assert_eq!(
        header.split_whitespace().collect::<Vec<_>>(),
        ["command", "5.0", "5.1", "5.2"],
        "{out}"
    );
}

#[test]
fn k_list_names_every_fix() {
    let o = run(&["-k", "list"], &[], None);
    assert_eq!(o.status.code(), Some(0), "{}", show(&o));
    let out = stdout(&o);
    for want in [
        "__region_intersects (also 5.10, 5.15, 6.1, 6.6-stable)",
        "mm/memory_hotplug: shrink zones when offlining memory",
        "extend offline_and_remove_memory() to handle more than one memory block",
        "mm/memory_hotplug: enforce block size aligned range check",
        "simplify and fix check_hotplug_memory_range()",
        "mm/memory-hotplug: Allow memory resources to be children",
    ] {
        assert!(out.contains(want), "{want}\n{out}");
    }
}

#[test]
fn versions_outside_the_model_warn_and_5_01_is_an_error() {
    let o = run(&["-k", "9.9", "show"], &[], None);
    assert_eq!(o.status.code(), Some(0));
    assert!(
        stderr(&o).contains("newer than the newest modelled kernel (6.18): simulating 6.18"),
        "{}",
        show(&o)
    );
    let o = run(&["-k", "2.6", "show"], &[], None);
    assert!(
        stderr(&o).contains("simulating the behaviour before 4.16"),
        "{}",
        show(&o)
    );
    let o = run(&["repl"], &[], Some(b"kernel 99.1\n"));
    assert!(
        stdout(&o).contains("warning: Linux 99.1 is newer"),
        "{}",
        show(&o)
    );
    let o = run(&["-k", "5.01", "show"], &[], None);
    assert_eq!(o.status.code(), Some(2), "{}", show(&o));
    let o = run(&["repl"], &[], Some(b"kernel 5.01\n"));
    assert!(stderr(&o).contains("5.01"), "{}", show(&o));
    assert!(!stdout(&o).contains("now simulating"), "{}", show(&o));
}

/// Fix 1: 6.1.172's `__region_intersects` (read: `covered = false; for_each_resource(p, dp,
/// false) { … }`) counts the "System RAM (kmem)" under the CXL window: INTERSECTS. 6.1.0 has
/// only the top-level loop: the window does not match → DISJOINT. 5.10.262 has the walk too.
#[test]
fn cxl_intersects_on_6_1_stable() {
    let q = ["intersects", "c080000000", "1G", "--flags", "SYSTEM_RAM"];
    for (k, want) in [
        ("6.1", "REGION_INTERSECTS"),
        ("6.1.0", "REGION_DISJOINT"),
        ("5.10", "REGION_INTERSECTS"),
        ("6.2", "REGION_DISJOINT"),
        ("6.12", "REGION_INTERSECTS"),
    ] {
        let mut args = vec!["--example", "cxl", "-k", k];
        args.extend(q);
        let o = run(&args, &[], None);
        assert!(stdout(&o).starts_with(want), "{k}: {}", show(&o));
    }
}

/// Fix 4 through the binary: 4.19 compares page counts (`nr_pages = size >> PAGE_SHIFT`).
#[test]
fn sub_page_tail_passes_on_4_19() {
    let o = run(
        &[
            "-k",
            "4.19,5.2",
            "--diff",
            "none",
            "hotplug",
            "add",
            "100000000",
            "0x8000800",
        ],
        &[],
        None,
    );
    let out = stdout(&o);
    let row = out.lines().nth(1).unwrap_or("");
    assert!(
        row.contains("ok") && row.contains("-EINVAL (check_hotplug_memory_range)"),
        "{out}"
    );
}

/// Fix 2 through the binary: before feee6b298916 the offlined block stays in ZONE_MOVABLE's
/// span, so `online` (default_zone_for_pfn) picks Movable again.
#[test]
fn offline_then_online_lands_in_movable_before_the_shrink_fix() {
    let o = run(
        &[
            "-k",
            "5.0,5.4",
            "--diff",
            "none",
            "-e",
            "hotplug add 100000000 128M",
            "-e",
            "memory online 100000000 --zone movable",
            "-e",
            "memory offline 100000000",
            "memory",
            "online",
            "100000000",
        ],
        &[],
        None,
    );
    let out = stdout(&o);
    assert!(
        out.contains("5.0: ok — memory32: online (Movable)"),
        "{}",
        show(&o)
    );
    assert!(
        out.contains("5.4: ok — memory32: online (Normal)"),
        "{}",
        show(&o)
    );
}

/// The A-pc-dimm-hotplug steps (fixtures/real-kernel-6.1/A-pc-dimm-hotplug/steps.txt) from
/// 6.1's boot tree, under 5.10, 6.1 and 6.12 in one report: the three real kernels did the
/// same at every step (their captures differ only in kernel image addresses), DIMM3's 64 MiB
/// add is refused by `check_hotplug_memory_range` in each, and the final tree is 6.1's
/// `after-dimm4-del.iomem`.
#[test]
fn a_pc_dimm_hotplug_steps_under_three_kernels() {
    let before = fixture("real-kernel-6.1/A-pc-dimm-hotplug/before.iomem");
    let steps = [
        "hotplug add 100000000 256M",
        "memory online memory32 --zone movable",
        "memory online memory33 --zone movable",
        "hotplug add 180000000 256M",
        "hotplug add 110000000 64M",
        // device_del dimm2: the ACPI eject offlines (nothing online) and __remove_memory.
        "hotplug remove 180000000 256M",
        "memory offline memory32",
        "memory offline memory33",
        "hotplug remove 100000000 256M",
        "hotplug add 100000000 128M",
        "memory online memory32 --zone movable",
        // device_del dimm4 while online: acpi_scan offlines the block, then __remove_memory.
        "memory offline memory32",
        "hotplug remove 100000000 128M",
    ];
    let mut args: Vec<&str> = vec![
        "-i",
        before.to_str().unwrap(),
        "--phys-bits",
        "40",
        "-k",
        "5.10,6.1,6.12",
        "--keep-going",
    ];
    for s in &steps {
        args.extend(["-e", s]);
    }
    let o = run(&args, &[], None);
    assert_eq!(o.status.code(), Some(1), "{}", show(&o));
    let out = stdout(&o);
    assert!(
        out.contains("All 3 versions agree on every command"),
        "{out}"
    );
    assert_eq!(
        out.matches("-EINVAL (check_hotplug_memory_range)").count(),
        3,
        "{out}"
    );
    args.extend(["--format", "iomem"]);
    let o = run(&args, &[], None);
    let want = std::fs::read_to_string(fixture(
        "real-kernel-6.1/A-pc-dimm-hotplug/after-dimm4-del.iomem",
    ))
    .unwrap();
    assert_eq!(stdout(&o), format!("# Linux 5.10, 6.1, 6.12\n{want}"));
}

/// `memory_hotplug.online_policy=auto-movable` exists from v5.16 (6.1.172
/// `zone_for_pfn_range`: `if (online_policy == ONLINE_POLICY_AUTO_MOVABLE) return
/// auto_movable_zone_for_pfn(…)`); 256 MiB against ~2.7 GiB of boot RAM is within the 301 %
/// ratio → Movable on 6.1, while 5.15's `default_zone_for_pfn` picks Normal.
#[test]
fn auto_movable_online_policy_side_by_side() {
    let o = run(
        &[
            "--online-policy",
            "auto-movable",
            "-k",
            "5.15,6.1",
            "--diff",
            "none",
            "-e",
            "hotplug add 100000000 256M",
            "memory",
            "online",
            "100000000",
            "256M",
        ],
        &[],
        None,
    );
    assert_eq!(o.status.code(), Some(0), "{}", show(&o));
    let out = stdout(&o);
    assert!(
        out.contains("5.15: ok — memory32: online (Normal); memory33: online (Normal)"),
        "{out}"
    );
    assert!(
        out.contains("6.1: ok — memory32: online (Movable); memory33: online (Movable)"),
        "{out}"
    );
    let o = run(&["--online-policy", "sometimes", "show"], &[], None);
    assert_eq!(o.status.code(), Some(2), "{}", show(&o));
}
