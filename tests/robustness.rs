//! Issue 14: nothing lost, nothing hangs, never a wrong machine. One test (or a few) per
//! numbered item, end to end through the binary. Each failed on the code before its fix.

use assert_cmd::Command;
use std::io::{Read, Write};
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::{Duration, Instant};

fn bin() -> Command {
    // stdin is /dev/null unless a test writes one (an inherited empty pipe is an error now).
    let mut std = std::process::Command::new(bin_path());
    std.env_clear().stdin(Stdio::null());
    let mut c = Command::from_std(std);
    c.timeout(Duration::from_secs(20));
    c
}

fn bin_path() -> PathBuf {
    assert_cmd::cargo::cargo_bin("iomem-sim")
}

fn fixture(rel: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("fixtures")
        .join(rel)
}

fn out(o: &std::process::Output) -> (Option<i32>, String, String) {
    (
        o.status.code(),
        String::from_utf8_lossy(&o.stdout).into_owned(),
        String::from_utf8_lossy(&o.stderr).into_owned(),
    )
}

const TWO: &str = "00000000-00000fff : Reserved\n00001000-0009ffff : System RAM\n";

// ------------------------------------------------------------------------ 1. save PATH

#[test]
fn item1_save_through_a_symlink_replaces_the_target_and_keeps_its_mode() {
    let d = tempfile::tempdir().unwrap();
    std::fs::create_dir(d.path().join("real")).unwrap();
    let target = d.path().join("real/t.iomem");
    std::fs::write(&target, "old\n").unwrap();
    std::fs::set_permissions(&target, std::fs::Permissions::from_mode(0o600)).unwrap();
    let link = d.path().join("link.iomem");
    std::os::unix::fs::symlink("real/t.iomem", &link).unwrap();
    let o = bin()
        .args(["--example", "t0", "-e"])
        .arg(format!("save {}", link.display()))
        .output()
        .unwrap();
    let (code, _, err) = out(&o);
    assert_eq!(code, Some(0), "{err}");
    assert!(
        std::fs::symlink_metadata(&link)
            .unwrap()
            .file_type()
            .is_symlink(),
        "the symlink was replaced by a regular file"
    );
    let text = std::fs::read_to_string(&target).unwrap();
    assert!(
        text.contains("Persistent Memory (legacy)"),
        "target kept the old text: {text}"
    );
    let mode = std::fs::metadata(&target).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode, 0o600, "a 0600 file became {mode:o}");
    let names: Vec<_> = std::fs::read_dir(d.path().join("real")).unwrap().collect();
    assert_eq!(names.len(), 1, "a temporary file was left");
}

/// A named pipe `name` in `dir`.
fn mkfifo(dir: &Path, name: &str) -> PathBuf {
    let fifo = dir.join(name);
    assert!(
        std::process::Command::new("mkfifo")
            .arg(&fifo)
            .status()
            .unwrap()
            .success()
    );
    fifo
}

#[test]
fn item1_save_refuses_fifos_and_directories() {
    let d = tempfile::tempdir().unwrap();
    let fifo = mkfifo(d.path(), "fifo");
    for (path, kind) in [
        (fifo.clone(), "a FIFO"),
        (d.path().to_path_buf(), "a directory"),
    ] {
        let o = bin()
            .args(["--example", "t0", "-e"])
            .arg(format!("save {}", path.display()))
            .output()
            .unwrap();
        let (code, _, err) = out(&o);
        assert_eq!(code, Some(2), "{err}");
        assert!(
            err.contains(kind) && err.contains("regular files only"),
            "{err}"
        );
    }
    let ft = std::fs::symlink_metadata(&fifo).unwrap().file_type();
    assert!(
        std::os::unix::fs::FileTypeExt::is_fifo(&ft),
        "the FIFO was replaced"
    );
}

#[test]
fn item1_a_fifo_input_is_read_once_whole() {
    // `--input FIFO` (a named pipe): a regular file is parsed as it is read and may be read
    // again; a pipe must be opened once. A writer of more than a pipe buffer (64 KiB) is still
    // writing when the reader opens: opening and closing the FIFO to look at it would leave
    // that writer with EPIPE and the next open waiting for a writer that never comes.
    let d = tempfile::tempdir().unwrap();
    let fifo = mkfifo(d.path(), "iomem");
    let mut dump = String::new();
    for i in 0..8000u64 {
        dump.push_str(&format!(
            "{:08x}-{:08x} : r{i}\n",
            i * 0x1000,
            i * 0x1000 + 0xfff
        ));
    }
    assert!(dump.len() > 200_000);
    let child = std::process::Command::new(bin_path())
        .args(["--format", "iomem", "--input"])
        .arg(&fifo)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let writer = {
        let (fifo, dump) = (fifo.clone(), dump.clone());
        std::thread::spawn(move || {
            let mut f = std::fs::OpenOptions::new().write(true).open(&fifo)?;
            f.write_all(dump.as_bytes())
        })
    };
    let pid = child.id();
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || tx.send(child.wait_with_output()));
    let Ok(o) = rx.recv_timeout(Duration::from_secs(60)) else {
        let _ = std::process::Command::new("kill")
            .arg(pid.to_string())
            .status();
        panic!("iomem-sim still waits on the FIFO after 60 s");
    };
    let o = o.unwrap();
    assert!(
        writer.join().unwrap().is_ok(),
        "the writer got an error (EPIPE)"
    );
    assert_eq!(
        o.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
    assert_eq!(String::from_utf8_lossy(&o.stdout), dump);
}

// ---------------------------------------------------------------------- 2. empty stdin

#[test]
fn item2_an_empty_pipe_is_an_error_dev_null_the_example() {
    let o = bin()
        .args(["hotplug", "add", "640000000", "1G"])
        .write_stdin("")
        .output()
        .unwrap();
    let (code, outp, err) = out(&o);
    assert_eq!(code, Some(2), "{outp}{err}");
    assert!(
        err.contains("stdin is empty: nothing was piped in"),
        "{err}"
    );
    assert!(outp.is_empty(), "{outp}");

    // An empty regular file on stdin: the same.
    let f = tempfile::NamedTempFile::new().unwrap();
    let o = std::process::Command::new(bin_path())
        .stdin(std::fs::File::open(f.path()).unwrap())
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(2));
    assert!(out(&o).2.contains("stdin is empty"));

    // /dev/null (cron, CI): the built-in example, as before.
    let o = std::process::Command::new(bin_path())
        .stdin(Stdio::null())
        .output()
        .unwrap();
    let (code, outp, _) = out(&o);
    assert_eq!(code, Some(0));
    assert!(outp.contains("Persistent Memory (legacy)"), "{outp}");
}

// ------------------------------------------------------- 3. whatever save writes, -i loads

#[test]
fn item3_trees_that_cannot_be_saved_are_refused_at_the_command_layer() {
    for (cmd, word) in [
        ("adjust a0000000 256M a0000000 0", "inverted"),
        ("adjust a0000000 256M ffffffffffffffff 0x2", "past the top"),
        ("request a0000000 0 x", "inverted"),
        (
            "request 10000000 1M \"x\n10000000-1fffffff : FAKE\"",
            "control character",
        ),
    ] {
        let o = bin()
            .args(["--example", "t0", "--format", "iomem", "-e", cmd])
            .output()
            .unwrap();
        let (code, outp, err) = out(&o);
        assert_eq!(code, Some(2), "{cmd}: {err}");
        assert!(err.contains(word), "{cmd}: {err}");
        assert!(!outp.contains("FAKE"), "{outp}");
    }
}

#[test]
fn item3_a_tree_emptied_by_release_resource_saves_and_loads() {
    let d = tempfile::tempdir().unwrap();
    let dump = d.path().join("two.iomem");
    std::fs::write(&dump, TWO).unwrap();
    let saved = d.path().join("empty.iomem");
    let o = bin()
        .arg("-i")
        .arg(&dump)
        .args([
            "-e",
            "release-resource 0 4K",
            "-e",
            "release-resource 1000-9ffff",
        ])
        .arg("-e")
        .arg(format!("save {}", saved.display()))
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(0), "{}", out(&o).2);
    let o = bin()
        .arg("-i")
        .arg(&saved)
        .args(["--format", "iomem"])
        .output()
        .unwrap();
    let (code, outp, err) = out(&o);
    assert_eq!(code, Some(0), "{err}");
    assert_eq!(outp, "");
    assert!(
        err.contains("is empty: read as a tree with no resources"),
        "{err}"
    );
}

// --------------------------------------------------------------------- 4. lone CR line ends

#[test]
fn item4_lone_cr_ends_a_line_in_dumps_and_scripts() {
    let o = bin()
        .args(["--format", "iomem"])
        .write_stdin(TWO.replace('\n', "\r"))
        .output()
        .unwrap();
    let (code, outp, err) = out(&o);
    assert_eq!(code, Some(0), "{err}");
    assert_eq!(outp, TWO);
    assert!(err.contains("lone CR line end"), "{err}");
    assert!(!err.contains("CRLF"), "a false CRLF note: {err}");

    let d = tempfile::tempdir().unwrap();
    let script = d.path().join("s.txt");
    std::fs::write(
        &script,
        "request a0000000 1M one\rrequest a0100000 1M two\r",
    )
    .unwrap();
    let o = bin()
        .args(["--example", "t0", "--format", "iomem", "-f"])
        .arg(&script)
        .output()
        .unwrap();
    let (code, outp, err) = out(&o);
    assert_eq!(code, Some(0), "{err}");
    assert!(
        outp.contains(" : one\n") && outp.contains(" : two\n"),
        "{outp}"
    );
}

// ------------------------------------------------------------------- 5. ioports dumps

#[test]
fn item5_memory_commands_on_an_ioports_dump_need_iomem() {
    let ports = fixture("vmware-jc-fixture.ioports");
    for cmd in [
        "hotplug add 1000 128M",
        "free-region 1M x",
        "blocks",
        "memory online memory1",
    ] {
        let o = bin()
            .arg("-i")
            .arg(&ports)
            .arg("-e")
            .arg(cmd)
            .output()
            .unwrap();
        let (code, _, err) = out(&o);
        assert_eq!(code, Some(2), "{cmd}: {err}");
        assert!(err.contains("needs a /proc/iomem dump"), "{cmd}: {err}");
    }
}

// ------------------------------------------------------- 6. silent wrong answers

#[test]
fn item6_blocks_on_a_zeroed_dump_invents_nothing() {
    let o = bin()
        .arg("-i")
        .arg(fixture("qemu-q35-debian11-nonroot-zeroed.iomem"))
        .arg("blocks")
        .output()
        .unwrap();
    let (code, outp, err) = out(&o);
    assert_eq!(code, Some(2), "{outp}{err}");
    assert!(!outp.contains("memory0"), "{outp}");
    assert!(err.contains("needs real addresses"), "{err}");
}

#[test]
fn item6_show_of_an_address_nothing_contains() {
    let o = bin()
        .args(["--example", "t0", "show", "ffffffffffffffff"])
        .output()
        .unwrap();
    let (code, outp, _) = out(&o);
    assert_eq!(code, Some(0));
    assert_eq!(outp, "ffffffffffffffff: no resource contains it\n");
}

#[test]
fn item6_removing_never_added_memory_prints_the_kernels_warn() {
    let o = bin()
        .args(["--example", "t0", "hotplug", "remove", "640000000", "128M"])
        .output()
        .unwrap();
    let (code, _, err) = out(&o);
    // try_remove_memory returns 0; __remove_section: WARN_ON_ONCE(!valid_section(ms)).
    assert_eq!(code, Some(0), "{err}");
    assert!(
        err.contains("kernel: WARNING: at mm/memory_hotplug.c __remove_section"),
        "{err}"
    );
}

#[test]
fn item6_nid_and_simulator_limits() {
    let o = bin()
        .args([
            "--example",
            "t0",
            "hotplug",
            "add",
            "640000000",
            "128M",
            "--nid",
            "4294967295",
        ])
        .output()
        .unwrap();
    let (code, _, err) = out(&o);
    assert_eq!(code, Some(2), "{err}");
    assert!(
        err.contains("4294967295") && !err.contains("2147483647 is not"),
        "{err}"
    );

    // 1 PiB = 2^23 blocks of 128 MiB: past MAX_BLOCKS, the simulator's bound, not -ENOMEM.
    let o = bin()
        .args(["--example", "t0", "--la57", "--phys-bits", "57"])
        .args(["hotplug", "add", "4000000000000", "1P"])
        .output()
        .unwrap();
    let (code, _, err) = out(&o);
    assert_eq!(code, Some(2), "{err}");
    assert!(
        err.contains("simulator limit") && !err.contains("-ENOMEM"),
        "{err}"
    );
}

// ------------------------------------------------------- 7. endless and binary inputs

#[test]
fn item7_devices_without_end_fail_fast() {
    for args in [
        ["-i", "/dev/urandom"],
        ["-i", "/dev/zero"],
        ["-f", "/dev/zero"],
    ] {
        let t = Instant::now();
        let o = std::process::Command::new(bin_path())
            .args(args)
            .stdin(Stdio::null())
            .output()
            .unwrap();
        let (code, _, err) = out(&o);
        assert_eq!(code, Some(2), "{args:?}: {err}");
        // /dev/urandom may begin with a newline (1 run in 256): the error is then on a
        // later line, still within the first MiB.
        let first_line_ok = if args[1] == "/dev/urandom" {
            err.contains(": line ")
        } else {
            err.contains("line 1")
        };
        assert!(first_line_ok, "{args:?}: {err}");
        // Milliseconds when it works (it stops at the first line, 1 MiB at most); reading
        // the device on would never end. 30 s, not 5: the 5 s bound failed once while the
        // machine's two cores were fully loaded.
        assert!(
            t.elapsed() < Duration::from_secs(30),
            "{args:?} took {:?}",
            t.elapsed()
        );
    }
}

// ------------------------------------------------------------- 8. big dumps

#[test]
fn item8_the_tree_view_refuses_above_its_documented_size() {
    // More lines than the tree view's limit; --format iomem streams them.
    let n = iomem_sim::app::TREE_VIEW_MAX + 1;
    let mut dump = String::with_capacity(n * 40);
    for i in 0..n as u64 {
        dump.push_str(&format!("{:08x}-{:08x} : r\n", i * 16, i * 16 + 15));
    }
    let o = bin().write_stdin(dump.clone()).output().unwrap();
    let (code, outp, err) = out(&o);
    assert_eq!(code, Some(2), "{err}");
    assert!(err.contains("--format iomem"), "{err}");
    assert!(outp.is_empty());
    let o = bin()
        .args(["--format", "iomem"])
        .write_stdin(dump.clone())
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(0));
    assert_eq!(o.stdout, dump.as_bytes());
}

#[test]
fn item8_input_above_the_documented_size_is_refused_while_reading() {
    // Blank lines only (cheap to check), one chunk past the 256 MiB cap.
    let big = vec![b'\n'; iomem_sim::input::MAX_INPUT + (64 << 10)];
    let o = bin()
        .args(["--format", "iomem"])
        .timeout(Duration::from_secs(60))
        .write_stdin(big)
        .output()
        .unwrap();
    let (code, _, err) = out(&o);
    assert_eq!(code, Some(2), "{err}");
    assert!(err.contains("more than 256 MiB: refused"), "{err}");
}

// ----------------------------------------------------------------------- 9. stdout

#[test]
fn item9_closed_or_full_stdout_is_an_error_a_broken_pipe_is_quiet() {
    let b = bin_path();
    let o = std::process::Command::new("sh")
        .arg("-c")
        .arg("exec \"$0\" --example t0 >&-")
        .arg(&b)
        .output()
        .unwrap();
    let (code, _, err) = out(&o);
    assert_eq!(code, Some(2), "{err}");
    assert!(err.contains("writing stdout"), "{err}");

    for args in [&["--help"][..], &["--example", "t0"][..]] {
        let o = std::process::Command::new(&b)
            .args(args)
            .stdout(std::fs::File::create("/dev/full").unwrap())
            .output()
            .unwrap();
        let (code, _, err) = out(&o);
        assert_eq!(code, Some(2), "{args:?}: {err}");
        assert!(
            err.contains("writing stdout: No space left on device"),
            "{err}"
        );
    }

    // `| head`: read a little, close the pipe; the run ends quietly.
    let mut dump = String::new();
    for i in 0..200_000u64 {
        dump.push_str(&format!("{:08x}-{:08x} : r\n", i * 16, i * 16 + 15));
    }
    let path = tempfile::NamedTempFile::new().unwrap();
    std::fs::write(path.path(), &dump).unwrap();
    let mut child = std::process::Command::new(&b)
        .args(["--format", "iomem", "-i"])
        .arg(path.path())
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut first = [0u8; 64];
    child
        .stdout
        .as_mut()
        .unwrap()
        .read_exact(&mut first)
        .unwrap();
    drop(child.stdout.take());
    let o = child.wait_with_output().unwrap();
    assert_eq!(o.status.code(), Some(0));
    assert!(
        o.stderr.is_empty(),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
}

// ---------------------------------------------------------------------- 10. undo history

#[test]
fn item10_undo_past_the_history_says_so() {
    let mut script = String::new();
    for i in 0..1005u64 {
        script.push_str(&format!("request {:x} 4K r{i}\n", 0xc000_0000 + i * 0x1000));
    }
    for _ in 0..1001 {
        script.push_str("undo\n");
    }
    let d = tempfile::tempdir().unwrap();
    let p = d.path().join("s");
    std::fs::write(&p, script).unwrap();
    // 2006 commands take seconds in a debug build (a machine per step: issue 12), more on a
    // loaded 2-core CI machine: this test is about the message, not the speed.
    let o = bin()
        .timeout(Duration::from_secs(180))
        .args(["--example", "t0", "--diff", "none", "-f"])
        .arg(&p)
        .output()
        .unwrap();
    let (code, _, err) = out(&o);
    assert_eq!(code, Some(2));
    assert!(
        err.contains("the history holds the last 1000 steps"),
        "{err}"
    );
    assert!(!err.contains("nothing to undo"), "{err}");
    let o = std::process::Command::new(bin_path())
        .args(["help", "undo"])
        .stdin(Stdio::null())
        .output()
        .unwrap();
    assert!(out(&o).1.contains("last 1000 steps"), "{}", out(&o).1);
}

// ------------------------------------------------------------------ 11. long command lines

#[test]
fn item11_a_long_command_line_is_cut_in_errors() {
    let long = "x".repeat(100_000);
    let o = bin()
        .args(["--example", "t0", "hotplug", "add", "1", &long])
        .output()
        .unwrap();
    let (code, _, err) = out(&o);
    assert_eq!(code, Some(2));
    assert!(err.len() < 2000, "{} bytes of error", err.len());
    assert!(err.contains('…'), "{err}");
}

// ------------------------------------------------------------------------ 12. stdin scripts

#[test]
fn item12_script_from_stdin_and_clear_messages() {
    let o = bin()
        .args(["--format", "iomem", "-f", "-"])
        .write_stdin("request a0000000 1M from-stdin\n")
        .output()
        .unwrap();
    let (code, outp, err) = out(&o);
    assert_eq!(code, Some(0), "{err}");
    assert!(outp.contains(" : from-stdin\n"), "{outp}");

    let o = bin()
        .args(["-f", "/dev/stdin", "-i", "-"])
        .write_stdin(TWO)
        .output()
        .unwrap();
    let (code, _, err) = out(&o);
    assert_eq!(code, Some(2));
    assert!(err.contains("both want stdin"), "{err}");

    let o = bin()
        .args(["--example", "t0", "memory", "online", "0-ffffffffffffffff"])
        .output()
        .unwrap();
    let (code, _, err) = out(&o);
    assert_eq!(code, Some(2));
    assert!(
        !err.contains("below START") && err.contains("2^64"),
        "{err}"
    );
}

// ------------------------------------------------------------- 14. the kernel's own words

#[test]
fn item14_kernel_log_lines_are_printed_without_explain() {
    let o = bin()
        .args([
            "--example",
            "t0",
            "--diff",
            "none",
            "insert",
            "0",
            "0x2000",
            "x",
            "--expand",
        ])
        .output()
        .unwrap();
    let (code, _, err) = out(&o);
    assert_eq!(code, Some(0), "{err}");
    // kernel/resource.c insert_resource_expand_to_fit():
    //   printk("Expanded resource %s due to conflict with %s\n", new->name, conflict->name);
    assert!(
        err.contains("kernel: Expanded resource x due to conflict with System RAM"),
        "{err}"
    );
    // __release_region: printk(KERN_WARNING "Trying to free nonexistent resource <%pa-%pa>\n")
    // for a range that is no busy resource (here: part of System RAM).
    let o = bin()
        .args([
            "--example",
            "t0",
            "--diff",
            "none",
            "release",
            "100000",
            "4K",
        ])
        .output()
        .unwrap();
    let (_, _, err) = out(&o);
    assert!(
        err.contains("kernel: Trying to free nonexistent resource <"),
        "{err}"
    );
}

#[test]
fn item14_stdin_helpers_do_not_leak_into_other_tests() {
    // Sanity: a script on stdin and a dump file together work (the dump is not stdin).
    let d = tempfile::tempdir().unwrap();
    let dump = d.path().join("two.iomem");
    std::fs::File::create(&dump)
        .unwrap()
        .write_all(TWO.as_bytes())
        .unwrap();
    let o = bin()
        .arg("-i")
        .arg(&dump)
        .args(["--format", "iomem", "-f", "-"])
        .write_stdin("release-resource 0 4K\n")
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(0), "{}", out(&o).2);
    assert_eq!(out(&o).1, "00001000-0009ffff : System RAM\n");
}

// ------------------------------------------------- 13. fuzz findings (fuzz/fuzz_targets)

#[test]
fn item13_command_fuzz_finding_a_name_that_reads_as_an_address_keeps_its_quotes() {
    use iomem_sim::command::parse_command;
    let cmd = parse_command("show \"110\"").unwrap();
    assert_eq!(parse_command(&cmd.to_string()).unwrap(), cmd, "{cmd}");
}
