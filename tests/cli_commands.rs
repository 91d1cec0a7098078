//! The simulator's command line through the real binary: the seed story, the exit-code
//! table, scripts, JSON results, color, completions and the man page (cli.md).

mod common;

use common::{fixture, run, show};

fn stdout(o: &std::process::Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}
fn stderr(o: &std::process::Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

/// T0 (kernel-semantics.md §6.0) as /proc/iomem text, written out from the spec.
const T0: &str = "\
00000000-00000fff : Reserved
00001000-0009fbff : System RAM
0009fc00-0009ffff : Reserved
000a0000-000bffff : PCI Bus 0000:00
000c0000-000c97ff : Video ROM
000c9800-000ca5ff : Adapter ROM
000f0000-000fffff : Reserved
  000f0000-000fffff : System ROM
00100000-9fffffff : System RAM
  01000000-01e071d0 : Kernel code
  01e071d1-027dfdff : Kernel data
  02dc6000-0305dfff : Kernel bss
a0000000-afffffff : Persistent Memory (legacy)
b0000000-bffdffff : System RAM
bffe0000-bfffffff : Reserved
c0000000-febfffff : PCI Bus 0000:00
";

#[test]
fn seed_story_5_0_refuses_and_keeps_the_tree() {
    let o = run(
        &[
            "--kernel", "5.0", "--format", "iomem", "hotplug", "add", "a0000000", "128M",
        ],
        &[],
        None,
    );
    assert_eq!(o.status.code(), Some(1), "{}", show(&o));
    assert_eq!(stdout(&o), T0, "the tree is unchanged");
    // The first line names the start (issue 13); the refusal follows.
    let e = stderr(&o);
    let (banner, rest) = e.split_once('\n').unwrap_or_default();
    assert_eq!(
        banner,
        "iomem-sim: starting from example t0 (built-in; stdin was empty); kernel 5.0 (--kernel); \
         block size 128M (x86_64 default); auto-online offline"
    );
    assert!(rest.starts_with(
        "hotplug add a0000000 128M: -EEXIST (register_memory_resource: request_resource_conflict found \"Persistent Memory (legacy)\""
    ), "{}", show(&o));
}

#[test]
fn seed_story_5_1_nests_system_ram_like_the_commit_message() {
    let o = run(
        &[
            "--kernel", "5.1", "--format", "iomem", "hotplug", "add", "a0000000", "128M",
        ],
        &[],
        None,
    );
    assert_eq!(o.status.code(), Some(0), "{}", show(&o));
    let want = T0.replace(
        "a0000000-afffffff : Persistent Memory (legacy)\n",
        "a0000000-afffffff : Persistent Memory (legacy)\n  a0000000-a7ffffff : System RAM\n",
    );
    assert_eq!(stdout(&o), want);
    // Only the line naming the start (issue 13) on stderr.
    assert_eq!(
        stderr(&o),
        "iomem-sim: starting from example t0 (built-in; stdin was empty); kernel 5.1 (--kernel); \
         block size 128M (x86_64 default); auto-online offline\n",
        "{}",
        show(&o)
    );
}

#[test]
fn exit_code_table() {
    let cases: &[(&[&str], i32, &str)] = &[
        (&["show"], 0, "show"),
        (
            &["-e", "request c1000000 4K foo"],
            0,
            "a command that succeeds",
        ),
        (
            &["-k", "5.0", "hotplug", "add", "a0000000", "128M"],
            1,
            "refused by the kernel",
        ),
        (
            &["-e", "request c1000000 4K a", "-e", "request c1000800 4K b"],
            1,
            "second refused",
        ),
        (&["hotplug", "add", "zz", "128M"], 2, "bad address"),
        (&["frobnicate"], 2, "unknown command"),
        (&["-e", "undo"], 2, "nothing to undo"),
        (&["--kernel", "five", "show"], 2, "bad --kernel"),
        (&["--block-size", "100M"], 2, "bad --block-size"),
        (&["--script", "/nonexistent/script"], 2, "missing script"),
        (&["-i", "/nonexistent/iomem"], 2, "missing input"),
        (&["completions", "tcsh"], 2, "unknown shell"),
        (&["-e", "save /nonexistent-dir/x.iomem"], 2, "failing save"),
    ];
    for (args, code, what) in cases {
        let o = run(args, &[], None);
        assert_eq!(o.status.code(), Some(*code), "{what}: {}", show(&o));
        if *code == 2 {
            assert!(!o.stderr.is_empty(), "{what}: errors go to stderr");
        }
    }
}

#[test]
fn keep_going_runs_past_a_refusal() {
    let args = [
        "--diff",
        "none",
        "--format",
        "iomem",
        "-e",
        "request c1000800 4K b",
        "-e",
        "hotplug add a4000000 128M",
        "-e",
        "request c2000000 4K c",
    ];
    let o = run(&args, &[], None);
    assert_eq!(o.status.code(), Some(1), "{}", show(&o));
    assert!(!stdout(&o).contains(" : c\n"), "stopped at the refusal");
    let mut k = vec!["--keep-going"];
    k.extend_from_slice(&args);
    let o = run(&k, &[], None);
    assert_eq!(o.status.code(), Some(1), "{}", show(&o));
    assert!(
        stdout(&o).contains("  c2000000-c2000fff : c\n"),
        "{}",
        show(&o)
    );
    assert!(stderr(&o).contains(
        "kernel: Block size [0x8000000] unaligned hotplug range: start 0xa4000000, size 0x8000000"
    ));
}

#[test]
fn script_file_with_comments_and_blank_lines() {
    let dir = tempfile::tempdir().unwrap();
    let script = dir.path().join("seed.iomemsim");
    std::fs::write(
        &script,
        "# the seed story, then back\n\nkernel 5.1\nhotplug add a0000000 128M   # nests\n\nundo\n",
    )
    .unwrap();
    let o = run(
        &["--format", "iomem", "--script", script.to_str().unwrap()],
        &[],
        None,
    );
    assert_eq!(o.status.code(), Some(0), "{}", show(&o));
    assert_eq!(stdout(&o), T0);
    // A syntax error in a script is exit 2 and names the line's words.
    std::fs::write(&script, "hotplug add a0000000 12Q\n").unwrap();
    let o = run(&["--script", script.to_str().unwrap()], &[], None);
    assert_eq!(o.status.code(), Some(2), "{}", show(&o));
    assert!(stderr(&o).contains("12Q"), "{}", show(&o));
}

#[test]
fn explain_flag_prints_the_decision_path() {
    let o = run(
        &[
            "-k",
            "5.1",
            "--explain",
            "--diff",
            "none",
            "hotplug",
            "add",
            "a0000000",
            "128M",
        ],
        &[],
        None,
    );
    assert_eq!(o.status.code(), Some(0), "{}", show(&o));
    insta::assert_snapshot!("explain_seed_5_1", stdout(&o));
    let o = run(
        &["-k", "5.0", "explain", "hotplug", "add", "a0000000", "128M"],
        &[],
        None,
    );
    assert_eq!(o.status.code(), Some(1), "{}", show(&o));
    insta::assert_snapshot!("explain_seed_5_0", show(&o));
}

#[test]
fn json_results_have_command_outcome_errno_changes() {
    let o = run(
        &[
            "--format",
            "json",
            "--keep-going",
            "-k",
            "5.0",
            "-e",
            "hotplug add a0000000 128M",
            "-e",
            "kernel 5.1",
            "-e",
            "hotplug add a0000000 128M",
        ],
        &[],
        None,
    );
    assert_eq!(o.status.code(), Some(1), "{}", show(&o));
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).expect("valid JSON");
    let steps = v["steps"].as_array().unwrap();
    assert_eq!(steps.len(), 3);
    assert_eq!(steps[0]["command"], "hotplug add a0000000 128M");
    assert_eq!(steps[0]["outcome"], "refused");
    assert_eq!(steps[0]["errno"], "-EEXIST");
    assert_eq!(steps[0]["errno_value"], -17);
    assert_eq!(steps[0]["changes"].as_array().unwrap().len(), 0);
    assert_eq!(steps[2]["outcome"], "ok");
    let ch = steps[2]["changes"].as_array().unwrap();
    assert_eq!(ch.len(), 1, "{ch:?}");
    assert_eq!(ch[0]["change"], "added");
    // Issue 9: "kernel" is the version in force at the end (the run switched to 5.1).
    assert_eq!(v["kernel"], "5.1", "the kernel in force");
    assert_eq!(v["schema"], 1);
    assert_eq!(v["outcome"], "refused");
    assert_eq!(v["errno"], "-EEXIST");
    assert!(v["tree"]["resources"].is_array());
}

#[test]
fn color_always_with_readable_escapes() {
    let o = run(
        &[
            "--color", "always", "-k", "5.1", "hotplug", "add", "a0000000", "128M",
        ],
        &[("NO_COLOR", "1")],
        None,
    );
    assert_eq!(o.status.code(), Some(0), "{}", show(&o));
    let s = stdout(&o);
    assert!(s.contains('\x1b'), "--color always beats NO_COLOR");
    insta::with_settings!({filters => vec![(r"\x1b\[([0-9;]*)m", "<$1>")]}, {
        insta::assert_snapshot!("color_always_seed_side", s);
    });
    // Not a terminal and no --color: no escapes at all.
    let o = run(
        &["-k", "5.1", "hotplug", "add", "a0000000", "128M"],
        &[],
        None,
    );
    assert!(!o.stdout.contains(&0x1b), "{}", show(&o));
}

#[test]
fn completions_and_man() {
    for shell in ["bash", "zsh", "fish"] {
        let o = run(&["completions", shell], &[], None);
        assert_eq!(o.status.code(), Some(0), "{}", show(&o));
        assert!(stdout(&o).contains("iomem-sim"), "{shell}");
        assert!(stdout(&o).contains("block-size"), "{shell}");
    }
    let o = run(&["man"], &[], None);
    assert_eq!(o.status.code(), Some(0), "{}", show(&o));
    let s = stdout(&o);
    assert!(s.contains(".TH"), "{s}");
    assert!(s.contains("block\\-size"), "{s}");
}

#[test]
fn blocks_and_online_through_the_cli() {
    let o = run(
        &[
            "-k",
            "6.1",
            "--diff",
            "none",
            "-e",
            "hotplug add a0000000 128M",
            "-e",
            "memory online memory20 --zone movable",
            "blocks",
        ],
        &[],
        None,
    );
    assert_eq!(o.status.code(), Some(0), "{}", show(&o));
    insta::assert_snapshot!("blocks_after_seed_online_movable", stdout(&o));
}

#[test]
fn real_capture_a_unaligned_dimm_is_refused() {
    // Capture A step 5: a 64 MiB DIMM (not a multiple of the block) is refused by 6.1 (-EINVAL)
    // and /proc/iomem stays as it was.
    let before = fixture("real-kernel-6.1/A-pc-dimm-hotplug/before.iomem");
    let o = run(
        &[
            "-i",
            before.to_str().unwrap(),
            "-k",
            "6.1",
            "--phys-bits",
            "40",
            "--format",
            "iomem",
            "hotplug",
            "add",
            "110000000",
            "64M",
        ],
        &[],
        None,
    );
    assert_eq!(o.status.code(), Some(1), "{}", show(&o));
    assert_eq!(o.stdout, std::fs::read(&before).unwrap());
    assert!(stderr(&o).contains("-EINVAL"), "{}", show(&o));
}

/// SC-09 through the binary: the same query on the SC-02 tree answers differently before and
/// after the v6.12 descendant-aware `region_intersects` (expected values from the spec table).
#[test]
fn intersects_changes_meaning_at_6_12_sc09() {
    for (kernel, first, second) in [
        ("6.11", "REGION_DISJOINT (1)", "REGION_MIXED (2)"),
        ("6.12", "REGION_INTERSECTS (0)", "REGION_INTERSECTS (0)"),
    ] {
        let o = run(
            &[
                "--kernel",
                kernel,
                "--diff",
                "none",
                "--format",
                "iomem",
                "-e",
                "hotplug add a0000000 128M",
                "-e",
                "intersects a0000000 128M",
                "-e",
                "intersects 9ff00000 2M --flags SYSTEM_RAM",
                "-e",
                "intersects a0000000 4K --flags MEM --desc PERSISTENT_MEMORY_LEGACY",
            ],
            &[],
            None,
        );
        assert_eq!(o.status.code(), Some(0), "{}", show(&o));
        let err = stderr(&o);
        let answers: Vec<&str> = err
            .lines()
            .filter(|l| l.starts_with("REGION_"))
            .map(|l| l.split(':').next().unwrap_or(""))
            .collect();
        assert_eq!(
            answers,
            [first, second, "REGION_INTERSECTS (0)"],
            "{kernel}: {}",
            show(&o)
        );
    }
}

/// SC-23 and SC-24 through the binary: the top-down search (hmm's 256 MiB chunk) and the
/// bottom-up one of the kunit test (7 MiB, 1 MiB aligned) on T0, both at the spec's addresses.
#[test]
fn free_region_top_down_and_bottom_up_sc23_sc24() {
    let o = run(
        &[
            "--kernel",
            "6.12",
            "--format",
            "iomem",
            "-e",
            "free-region 256M hmm_dmirror",
            "-e",
            "free-region 7M \"test resources\" --bottom-up --align 1M",
        ],
        &[],
        None,
    );
    assert_eq!(o.status.code(), Some(0), "{}", show(&o));
    let want = format!(
        "{T0}fec00000-ff2fffff : test resources\n3ffff0000000-3fffffffffff : hmm_dmirror\n"
    );
    assert_eq!(stdout(&o), want, "{}", show(&o));
}

/// `lsmem` as typed on the machine is `blocks` with lsmem's own default columns when no `-o`
/// is given (sys-utils/lsmem.c "Default columns": RANGE, SIZE, STATE, REMOVABLE, BLOCK), the
/// same table as `blocks` for the same `-o`.
#[test]
fn lsmem_is_blocks_with_lsmems_default_columns() {
    let out = |args: &[&str]| {
        let mut a = vec!["--example", "t0", "--color", "never"];
        a.extend(args);
        let o = run(&a, &[], None);
        assert!(o.status.success(), "{}", stderr(&o));
        stdout(&o)
    };
    let bare = out(&["lsmem"]);
    assert!(
        bare.starts_with("RANGE                                  SIZE  STATE REMOVABLE BLOCK\n"),
        "{bare}"
    );
    assert_eq!(
        bare,
        out(&["blocks", "-o", "RANGE,SIZE,STATE,REMOVABLE,BLOCK"])
    );
    assert_ne!(bare, out(&["blocks"]));
    for opts in [
        &["-o", "+ZONES"][..],
        &["-b", "-n", "-r", "-o", "RANGE,NODE"][..],
    ] {
        let mut a = vec!["lsmem"];
        a.extend(opts);
        let mut b = vec!["blocks"];
        b.extend(opts);
        assert_eq!(out(&a), out(&b), "{opts:?}");
    }
    assert!(out(&["lsmem", "--help"]).contains("lsmem"));
}

/// `chmem` as typed on a machine (util-linux 2.38.1): `-v` lines on stdout, each block's
/// `state` written through the kernel's `state_store`, "Could only …" and status 1 when part
/// of a size could not be done (the part done is kept), usage errors with status 2.
#[test]
fn chmem_onlines_blocks_as_util_linux_does() {
    let o = run(
        &[
            "--diff",
            "none",
            "--kernel",
            "6.1",
            "-e",
            "hotplug add 100000000 512M",
            "-e",
            "chmem -v -e 0x100000000-0x10fffffff",
            "-e",
            "cat /sys/devices/system/memory/memory32/valid_zones",
            "-e",
            "chmem -e 1G",
        ],
        &[],
        None,
    );
    assert_eq!(o.status.code(), Some(1), "{}", show(&o));
    let out = stdout(&o);
    assert!(
        out.contains(
            "Memory Block 32 (0x0000000100000000-0x0000000107ffffff) enabled\n\
             Memory Block 33 (0x0000000108000000-0x000000010fffffff) enabled\n"
        ),
        "{}",
        show(&o)
    );
    // valid_zones of an online block names its zone: Movable, chmem's default.
    assert!(out.contains("Movable\n"), "{}", show(&o));
    assert!(
        show(&o).contains("chmem: Could only enable 256M of memory"),
        "{}",
        show(&o)
    );

    let o = run(&["-e", "chmem --v"], &[], None);
    assert_eq!(o.status.code(), Some(2), "{}", show(&o));
    assert!(
        stderr(&o).contains("chmem: option '--v' is ambiguous"),
        "{}",
        show(&o)
    );
}
