//! The real binary: where the tree comes from, output formats, color, exit codes.

mod common;

use common::{fixture, run, show};

fn stdout(o: &std::process::Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

#[test]
fn default_is_the_built_in_example() {
    // Empty, non-terminal stdin (cron, CI): the built-in T0 tree, not an error.
    let o = run(&[], &[], None);
    assert_eq!(o.status.code(), Some(0), "{}", show(&o));
    let s = stdout(&o);
    assert!(
        s.contains("a0000000-afffffff    256 MiB  Persistent Memory (legacy)"),
        "{s}"
    );
    assert!(
        s.ends_with("16 resources; System RAM 2.7 GiB in 3 ranges\n"),
        "{s}"
    );
    assert!(o.stderr.is_empty(), "{}", show(&o));
}

#[test]
fn stdin_dump_round_trips_as_iomem() {
    let input = std::fs::read(fixture("vmware-jc-fixture.iomem")).unwrap();
    let o = run(&["--format", "iomem"], &[], Some(&input));
    assert_eq!(o.status.code(), Some(0), "{}", show(&o));
    assert_eq!(o.stdout, input);
    let o = run(&["-i", "-", "--format", "iomem"], &[], Some(&input));
    assert_eq!(o.stdout, input);
}

#[test]
fn input_file_and_ioports() {
    let path = fixture("vmware-jc-fixture.ioports");
    let o = run(
        &["--input", path.to_str().unwrap(), "--format", "iomem"],
        &[],
        None,
    );
    assert_eq!(o.status.code(), Some(0), "{}", show(&o));
    assert_eq!(o.stdout, std::fs::read(&path).unwrap());
    // The empty /proc/ioports of an ARM phone is a valid, empty tree.
    let path = fixture("android-qcom-jmr540.ioports");
    let o = run(
        &["-i", path.to_str().unwrap(), "--format", "iomem"],
        &[],
        None,
    );
    assert_eq!(
        (o.status.code(), o.stdout.len()),
        (Some(0), 0),
        "{}",
        show(&o)
    );
}

#[test]
fn proc_iomem_itself() {
    let o = run(&["-i", "/proc/iomem", "--format", "iomem"], &[], None);
    assert_eq!(o.status.code(), Some(0), "{}", show(&o));
    assert!(!o.stdout.is_empty());
}

#[test]
fn json_output() {
    let o = run(&["--format", "json"], &[], None);
    assert_eq!(o.status.code(), Some(0), "{}", show(&o));
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).expect("valid JSON");
    // Issue 9: the one envelope, addresses as "0x…" strings.
    assert_eq!(v["schema"], 1);
    assert_eq!(v["command"], "show");
    let pmem = &v["tree"]["resources"][8];
    assert_eq!(pmem["name"], "Persistent Memory (legacy)");
    assert_eq!(pmem["start"], "0xa0000000");
    assert_eq!(pmem["size"], 0x1000_0000);
    assert_eq!(pmem["flags"], "MEM");
    assert_eq!(pmem["desc"], "PERSISTENT_MEMORY_LEGACY");
}

#[test]
fn show_flags() {
    let o = run(&["show", "--flags"], &[], None);
    assert_eq!(o.status.code(), Some(0), "{}", show(&o));
    let s = stdout(&o);
    assert!(
        s.lines()
            .any(|l| l.contains("MEM  ") && l.contains("PERSISTENT_MEMORY_LEGACY")),
        "{s}"
    );
}

#[test]
fn examples_by_name() {
    let o = run(&["--example", "list"], &[], None);
    assert_eq!(o.status.code(), Some(0), "{}", show(&o));
    assert!(stdout(&o).starts_with("t0 "), "{}", show(&o));
    let o = run(
        &["--example", "pmem-legacy-6.1", "--format", "iomem"],
        &[],
        None,
    );
    let want = std::fs::read(fixture(
        "real-kernel-6.1/B-pmem-legacy-above-4g/before.iomem",
    ))
    .unwrap();
    assert_eq!(o.stdout, want, "{}", show(&o));
    let o = run(&["--example", "nope"], &[], None);
    assert_eq!(o.status.code(), Some(2), "{}", show(&o));
}

#[test]
fn color_never_always_and_no_color() {
    let esc = |o: &std::process::Output| o.stdout.contains(&0x1b);
    // stdout is a pipe here, so auto means no color.
    assert!(!esc(&run(&[], &[], None)));
    assert!(!esc(&run(&["--color", "never"], &[], None)));
    assert!(esc(&run(&["--color", "always"], &[], None)));
    // NO_COLOR does not override an explicit --color always (no-color.org: it sets the default).
    assert!(esc(&run(
        &["--color", "always"],
        &[("NO_COLOR", "1")],
        None
    )));
    assert!(!esc(&run(&["--color", "auto"], &[("NO_COLOR", "1")], None)));
    // --format iomem is the kernel's text: never any escapes.
    assert!(!esc(&run(
        &["--color", "always", "--format", "iomem"],
        &[],
        None
    )));
}

#[test]
fn check_exit_codes() {
    let o = run(&["check"], &[], None);
    assert_eq!(o.status.code(), Some(0), "{}", show(&o));
    let bad = fixture("x86_64-intel-desktop-64g-zero-len-pci-child.iomem");
    let o = run(&["-i", bad.to_str().unwrap(), "check"], &[], None);
    assert_eq!(o.status.code(), Some(1), "{}", show(&o));
    let s = stdout(&o);
    assert!(
        s.contains("line 7: 00000000-00000000 \"PCI Bus 0000:00\" lies outside its parent line 5"),
        "{s}"
    );
    assert!(s.ends_with("7 anomalies in 141 resources\n"), "{s}");
}

#[test]
fn zeroed_dump_explains_itself() {
    let p = fixture("real-kernel-6.1/A-pc-dimm-hotplug/before.nonroot.iomem");
    let o = run(&["-i", p.to_str().unwrap()], &[], None);
    assert_eq!(o.status.code(), Some(0), "{}", show(&o));
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(err.contains("read without root (CAP_SYS_ADMIN)"), "{err}");
    assert!(err.contains("sudo cat /proc/iomem"), "{err}");
    assert!(stdout(&o).contains("addresses hidden"), "{}", show(&o));
    let o = run(&["-i", p.to_str().unwrap(), "check"], &[], None);
    assert_eq!(o.status.code(), Some(1), "{}", show(&o));
}

#[test]
fn bad_input_exits_2_with_a_caret() {
    let p = fixture("bad/missing-separator.iomem");
    let o = run(&["-i", p.to_str().unwrap()], &[], None);
    assert_eq!(o.status.code(), Some(2), "{}", show(&o));
    assert!(o.stdout.is_empty());
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(err.starts_with("error: parsing "), "{err}");
    assert!(
        err.contains("line 2, column 18: expected a hex digit or ` : `"),
        "{err}"
    );
    assert!(err.contains("  |                  ^"), "{err}");
    let o = run(&["-i", "/nonexistent/iomem"], &[], None);
    assert_eq!(o.status.code(), Some(2), "{}", show(&o));
}

#[test]
fn usage_errors_exit_2() {
    let o = run(&["frobnicate"], &[], None);
    assert_eq!(o.status.code(), Some(2), "{}", show(&o));
    assert!(String::from_utf8_lossy(&o.stderr).contains("unrecognized subcommand 'frobnicate'"));
    let o = run(&["--format", "yaml"], &[], None);
    assert_eq!(o.status.code(), Some(2), "{}", show(&o));
    let o = run(&["--help"], &[], None);
    assert_eq!(o.status.code(), Some(0), "{}", show(&o));
}

#[test]
fn broken_pipe_is_quiet() {
    use std::io::Read;
    use std::process::Stdio;
    // A big dump, and a reader that closes after a few bytes.
    let mut big = Vec::new();
    for i in 0..200_000u64 {
        big.extend_from_slice(format!("{:08x}-{:08x} : r\n", i * 16, i * 16 + 15).as_bytes());
    }
    let tmp = tempfile::NamedTempFile::new().unwrap();
    std::fs::write(tmp.path(), &big).unwrap();
    let mut child = common::bin(&[])
        .args(["-i", tmp.path().to_str().unwrap(), "--format", "iomem"])
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut out = child.stdout.take().unwrap();
    let mut buf = [0u8; 16];
    out.read_exact(&mut buf).unwrap();
    drop(out);
    let o = child.wait_with_output().unwrap();
    assert_eq!(o.status.code(), Some(0), "{}", show(&o));
    assert!(o.stderr.is_empty(), "{}", show(&o));
}
