//! Issue 9 end to end: one clap grammar for the command line, the REPL/script lines, the
//! completions and the man pages; the JSON envelope; script and REPL errors. Each test pins
//! one example of the issue's "Why".

mod common;
use common::{run, show};

fn out(o: &std::process::Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}
fn err(o: &std::process::Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}
fn json(o: &std::process::Output) -> serde_json::Value {
    serde_json::from_slice(&o.stdout).unwrap_or_else(|e| panic!("not JSON ({e}):\n{}", show(o)))
}

/// "`iomem-sim hotplug add --help` → unknown option": now clap's help, exit 0, and `help CMD`
/// prints the same text.
#[test]
fn help_on_every_command_and_help_cmd_is_the_same_text() {
    let o = run(&["hotplug", "add", "--help"], &[], None);
    assert_eq!(o.status.code(), Some(0), "{}", show(&o));
    let help = out(&o);
    insta::assert_snapshot!("hotplug_add_help", help);
    let o = run(&["help", "hotplug", "add"], &[], None);
    assert_eq!(out(&o), help, "help CMD = CMD --help");
    // In a line (REPL/script) too: `help CMD` and `CMD --help` are one text.
    let o = run(
        &["-e", "hotplug add --help", "-e", "help hotplug add"],
        &[],
        None,
    );
    assert_eq!(o.status.code(), Some(0), "{}", show(&o));
    let s = out(&o);
    let parts: Vec<&str> = s.split("> help hotplug add\n").collect();
    assert_eq!(parts.len(), 3, "{s}");
    // (After the commands the tree is shown, as always without a command word.)
    assert!(parts[2].starts_with(parts[1]), "{s}");
    assert!(parts[1].contains("--driver-managed"), "{s}");
}

/// "`iomem-sim repl --help` → unknown command `repl`; did you mean `redo`?"
#[test]
fn repl_help() {
    let o = run(&["repl", "--help"], &[], None);
    assert_eq!(o.status.code(), Some(0), "{}", show(&o));
    assert!(out(&o).contains("Usage: iomem-sim repl"), "{}", show(&o));
}

/// "`iomem-sim man extra` → did you mean `dax`?": clap names the pages there are.
#[test]
fn man_with_an_unknown_page() {
    let o = run(&["man", "extra"], &[], None);
    assert_eq!(o.status.code(), Some(2), "{}", show(&o));
    let e = err(&o);
    assert!(e.contains("invalid value 'extra'"), "{e}");
    assert!(e.contains("hotplug-add"), "{e}");
    // A near miss gets clap's tip.
    let o = run(&["man", "hotplug-ad"], &[], None);
    assert!(
        err(&o).contains("tip: a similar value exists: 'hotplug-add'"),
        "{}",
        show(&o)
    );
}

/// "`iomem-sim --kernal 5.1 …` → unknown command `--kernal`": clap's tip.
#[test]
fn misspelt_option_gets_a_tip() {
    let o = run(
        &["--kernal", "5.1", "hotplug", "add", "a0000000", "128M"],
        &[],
        None,
    );
    assert_eq!(o.status.code(), Some(2), "{}", show(&o));
    insta::assert_snapshot!("kernal_tip", err(&o));
    let o = run(&["hotplg", "add", "a0000000", "128M"], &[], None);
    assert!(
        err(&o).contains("tip: a similar subcommand exists: 'hotplug'"),
        "{}",
        show(&o)
    );
}

/// "`hotplug add a0000000 128M --diff none` → unknown option": options anywhere.
#[test]
fn top_level_options_after_the_command_words() {
    let o = run(
        &[
            "hotplug", "add", "a0000000", "128M", "--diff", "unified", "-k", "5.1",
        ],
        &[],
        None,
    );
    assert_eq!(o.status.code(), Some(0), "{}", show(&o));
    assert!(
        out(&o).contains("+  a0000000-a7ffffff : System RAM"),
        "{}",
        show(&o)
    );
    let o = run(
        &[
            "hotplug", "add", "a0000000", "128M", "--diff", "none", "--format", "iomem",
        ],
        &[],
        None,
    );
    assert_eq!(o.status.code(), Some(0), "{}", show(&o));
    assert!(
        out(&o).contains("  a0000000-a7ffffff : System RAM\n"),
        "{}",
        show(&o)
    );
}

/// The precise value errors survive the move to clap (bare numbers, hex, spans).
#[test]
fn value_errors_name_the_word() {
    let o = run(&["hotplug", "add", "a0000000", "4096"], &[], None);
    assert_eq!(o.status.code(), Some(2), "{}", show(&o));
    assert!(
        err(&o).contains("a bare number is ambiguous"),
        "{}",
        show(&o)
    );
    let o = run(&["hotplug", "add", "a7ffffff-a0000000"], &[], None);
    assert!(err(&o).contains("range END is below START"), "{}", show(&o));
    let o = run(&["find", "zz"], &[], None);
    assert!(err(&o).contains("expected a hex address"), "{}", show(&o));
}

/// Source the generated bash completion and run its function on COMP_WORDS: command words,
/// sub-words, option values (kernel versions, examples, policies, zones) complete.
#[test]
fn bash_completion_completes_words_options_and_values() {
    if std::process::Command::new("bash")
        .arg("--version")
        .output()
        .is_err()
    {
        eprintln!("skipped: bash is not installed");
        return;
    }
    let o = run(&["completions", "bash"], &[], None);
    assert_eq!(o.status.code(), Some(0), "{}", show(&o));
    let dir = tempfile::tempdir().expect("tempdir");
    let script = dir.path().join("iomem-sim.bash");
    std::fs::write(&script, &o.stdout).expect("write");
    let probe = format!(
        r#"source '{}'
complete -p iomem-sim
comp() {{ COMP_WORDS=("$@"); COMP_CWORD=$((${{#COMP_WORDS[@]}}-1)); COMP_LINE="${{COMP_WORDS[*]}}"; COMP_POINT=${{#COMP_LINE}}; COMPREPLY=(); _iomem__sim iomem-sim "${{COMP_WORDS[-1]}}" "${{COMP_WORDS[-2]}}"; echo "[$*] ${{COMPREPLY[*]}}"; }}
comp iomem-sim ho
comp iomem-sim hotplug a
comp iomem-sim --kernel 5.1
comp iomem-sim --example pmem
comp iomem-sim --auto-online online_
comp iomem-sim memory online memory1 --zone ''
comp iomem-sim hotplug add a0000000 128M --d
"#,
        script.display()
    );
    let b = std::process::Command::new("bash")
        .args(["--norc", "--noprofile", "-c", &probe])
        .output()
        .expect("bash runs");
    let s = String::from_utf8_lossy(&b.stdout);
    assert!(s.contains("-F _iomem__sim iomem-sim"), "{s}");
    for want in [
        "[iomem-sim ho] hotplug\n",
        "[iomem-sim hotplug a] add\n",
        // The modelled boundaries from 5.1 on (src/kernel/boundaries.rs).
        "[iomem-sim --kernel 5.1] 5.1 5.10 5.11 5.12 5.13 5.16\n",
        "[iomem-sim --example pmem] pmem-legacy-6.1\n",
        "[iomem-sim --auto-online online_] online_kernel online_movable\n",
        "[iomem-sim memory online memory1 --zone ] normal movable\n",
        "[iomem-sim hotplug add a0000000 128M --d] --driver-managed --diff\n",
    ] {
        assert!(
            s.contains(want),
            "missing {want:?} in\n{s}\n{}",
            String::from_utf8_lossy(&b.stderr)
        );
    }
}

/// zsh and fish scripts come from the same definition: command words and values.
#[test]
fn zsh_and_fish_completions_know_commands_and_values() {
    for shell in ["zsh", "fish"] {
        let o = run(&["completions", shell], &[], None);
        assert_eq!(o.status.code(), Some(0), "{}", show(&o));
        let s = out(&o);
        for want in [
            "hotplug",
            "free-region",
            "online_movable",
            "pmem-legacy-6.1",
            "5.10",
        ] {
            assert!(s.contains(want), "{shell}: no {want}");
        }
    }
}

/// Man pages per command, with the sections a man page is expected to have.
#[test]
fn man_pages_have_examples_exit_status_environment_files_see_also() {
    for page in [None, Some("hotplug-add")] {
        let mut args = vec!["man"];
        args.extend(page);
        let o = run(&args, &[], None);
        assert_eq!(o.status.code(), Some(0), "{}", show(&o));
        let s = out(&o);
        for sec in [
            ".SH NAME",
            ".SH SYNOPSIS",
            ".SH EXAMPLES",
            ".SH \"EXIT STATUS\"",
            ".SH ENVIRONMENT",
            ".SH FILES",
            ".SH \"SEE ALSO\"",
            "NO_COLOR",
            "TERM",
            "history",
            "lsmem(1)",
            "chmem(8)",
            "daxctl(1)",
            "ndctl(1)",
        ] {
            assert!(s.contains(sec), "{page:?}: no {sec}\n{s}");
        }
    }
    let o = run(&["man", "hotplug-add"], &[], None);
    assert!(
        out(&o).contains("iomem\\-sim hotplug add a0000000 128M"),
        "{}",
        show(&o)
    );
    let dir = tempfile::tempdir().expect("tempdir");
    let d = dir.path().to_str().unwrap();
    let o = run(&["man", "--dir", d], &[], None);
    assert_eq!(o.status.code(), Some(0), "{}", show(&o));
    for f in [
        "iomem-sim.1",
        "iomem-sim-hotplug-add.1",
        "iomem-sim-dax-kmem.1",
    ] {
        assert!(dir.path().join(f).exists(), "{f}");
    }
}

/// "`--format json blocks|find|intersects` answer in text": structured answers.
#[test]
fn json_queries_answer_in_data() {
    let o = run(&["--format", "json", "find", "a0001000"], &[], None);
    assert_eq!(o.status.code(), Some(0), "{}", show(&o));
    let v = json(&o);
    assert_eq!(v["schema"], 1);
    assert_eq!(v["answer"]["addr"], "0xa0001000");
    assert_eq!(v["answer"]["path"][0]["name"], "Persistent Memory (legacy)");
    assert_eq!(v["answer"]["path"][0]["start"], "0xa0000000");

    let o = run(
        &[
            "--format",
            "json",
            "-k",
            "6.12",
            "intersects",
            "a0000000",
            "128M",
        ],
        &[],
        None,
    );
    let v = json(&o);
    assert_eq!(v["answer"]["result"], "REGION_DISJOINT", "{v}");
    assert_eq!(v["answer"]["start"], "0xa0000000");

    let o = run(
        &[
            "--format",
            "json",
            "-k",
            "5.1",
            "-e",
            "hotplug add a0000000 128M",
            "blocks",
        ],
        &[],
        None,
    );
    assert_eq!(o.status.code(), Some(0), "{}", show(&o));
    let v = json(&o);
    assert_eq!(v["command"], "blocks");
    let blocks = v["answer"]["blocks"].as_array().expect("blocks array");
    let b = blocks
        .iter()
        .find(|b| b["start"] == "0xa0000000")
        .expect("the hot-added block");
    assert_eq!(b["block"], "memory20");
    assert_eq!(b["state"], "offline");
    assert_eq!(b["end"], "0xa7ffffff");
}

/// "`check --format json` is a bare array": the envelope, anomalies under `answer`.
#[test]
fn json_check_is_the_envelope() {
    let o = run(&["--format", "json", "check"], &[], None);
    let v = json(&o);
    assert_eq!(v["command"], "check");
    assert_eq!(v["schema"], 1);
    assert!(v["answer"]["anomalies"].is_array(), "{v}");
    assert_eq!(
        v["answer"]["count"],
        v["answer"]["anomalies"].as_array().unwrap().len()
    );
}

/// "tree addresses are hex strings without 0x while steps[].changes uses decimal integers":
/// `"0x…"` everywhere; "`kernel` stays 6.18 after `kernel 5.0`": the version in force.
#[test]
fn json_addresses_one_way_and_kernel_in_force() {
    let o = run(
        &[
            "--format",
            "json",
            "-e",
            "kernel 5.1",
            "hotplug",
            "add",
            "a0000000",
            "128M",
        ],
        &[],
        None,
    );
    assert_eq!(o.status.code(), Some(0), "{}", show(&o));
    let v = json(&o);
    assert_eq!(v["kernel"], "5.1");
    assert_eq!(v["changes"][0]["start"], "0xa0000000");
    assert_eq!(v["changes"][0]["end"], "0xa7ffffff");
    assert_eq!(v["steps"][1]["changes"][0]["start"], "0xa0000000");
    assert_eq!(v["tree"]["resources"][0]["start"], "0x0");
    assert_eq!(v["tree"]["root_end"], "0x3fffffffffff");
    let o = run(&["--format", "json", "-e", "kernel 5.0", "show"], &[], None);
    assert_eq!(json(&o)["kernel"], "5.0");
}

/// "`--format json hotplug add a0000000 12Q` prints no JSON".
#[test]
fn json_parse_errors_are_json() {
    let o = run(
        &["--format", "json", "hotplug", "add", "a0000000", "12Q"],
        &[],
        None,
    );
    assert_eq!(o.status.code(), Some(2), "{}", show(&o));
    let v = json(&o);
    assert_eq!(v["outcome"], "error");
    assert!(v["message"].as_str().unwrap().contains("12Q"), "{v}");
    // A clap-level error too.
    let o = run(
        &[
            "--format", "json", "hotplug", "add", "--nid", "x", "a0000000", "128M",
        ],
        &[],
        None,
    );
    assert_eq!(o.status.code(), Some(2), "{}", show(&o));
    assert_eq!(json(&o)["outcome"], "error");
}

/// "A failing `--script` names neither file nor line": FILE:LINE, an excerpt of ≤ 80
/// characters, and a line that is not UTF-8 is an error on that line.
#[test]
fn script_errors_name_file_and_line() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("s.txt");
    let long = "x".repeat(200);
    let mut text = b"# a script\nrequest c1000000 4K foo\n".to_vec();
    text.extend(format!("request c2000000 4K \"{long}\" 12Q\n").as_bytes());
    text.extend(b"request c3000000 4K \xff\xfe\n");
    text.extend(b"request c4000000 4K bar\n");
    std::fs::write(&path, &text).expect("write");
    let p = path.to_str().unwrap();
    let o = run(&["--keep-going", "--script", p], &[], None);
    assert_eq!(o.status.code(), Some(2), "{}", show(&o));
    let e = err(&o);
    assert!(
        e.contains(&format!("{p}:3: request: unexpected word")),
        "{e}"
    );
    assert!(e.contains(&format!("{p}:4: not UTF-8 text")), "{e}");
    // The start banner (issue 13) names the dump in full; every error line is short.
    for l in e
        .lines()
        .filter(|l| !l.starts_with("iomem-sim: starting from"))
    {
        assert!(l.chars().count() <= 100 + p.len(), "long line: {l}");
    }
    // The lines around the bad ones ran.
    assert!(out(&o).contains("c4000000-c4000fff : bar"), "{}", show(&o));
}

/// The piped REPL names the line number; bad UTF-8 does not end the session.
#[test]
fn piped_repl_errors_name_the_line() {
    let o = run(
        &["repl"],
        &[],
        Some(b"request c1000000 4K foo\nhotplug add a0000000 12Q\n\xff\nundo\n"),
    );
    assert_eq!(o.status.code(), Some(2), "{}", show(&o));
    let e = err(&o);
    assert!(e.contains("error: line 2: hotplug add: SIZE"), "{e}");
    assert!(e.contains("error: line 3: not UTF-8 text"), "{e}");
    assert!(
        out(&o).contains("> undo"),
        "the session went on: {}",
        show(&o)
    );
}

/// "help lines are cut at a `:`; lines of `help` run to 170 columns".
#[test]
fn help_lines_are_whole_and_at_most_100_columns() {
    let o = run(&["-e", "help"], &[], None);
    assert_eq!(o.status.code(), Some(0), "{}", show(&o));
    let s = out(&o);
    insta::assert_snapshot!("line_help", s);
    assert!(
        s.contains("Back to the starting tree (a step: undo undoes it)"),
        "{s}"
    );
    for l in s.lines() {
        assert!(l.chars().count() <= 100, "{l}");
    }
    let o = run(&["--help"], &[], None);
    for l in out(&o).lines() {
        assert!(l.chars().count() <= 100, "{l}");
    }
}

/// "README cites shared/docs/cli.md and kernel-semantics.md, which are not in the
/// repository": every link of the README resolves inside it.
#[test]
fn readme_links_stay_in_the_repository() {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
    let readme = std::fs::read_to_string(root.join("README.md")).expect("README");
    assert!(!readme.contains("shared/"), "README cites shared/");
    assert!(!readme.contains("kernel-semantics.md"));
    for doc in ["docs/cli.md", "docs/kernel.md", "docs/json.md"] {
        assert!(readme.contains(doc), "README does not link {doc}");
        assert!(root.join(doc).exists(), "{doc} missing");
    }
}

/// A tool's own `--help` (`ndctl --help`, `daxctl reconfigure-device -h`) prints the tool's
/// usage and succeeds, as the real tools do; a mistake next to `-h` stays a usage error.
#[test]
fn tool_help_is_help_not_an_error() {
    let o = run(&["--format", "iomem", "-e", "ndctl --help"], &[], None);
    assert_eq!(o.status.code(), Some(0), "{}", show(&o));
    assert!(!err(&o).contains("error"), "{}", show(&o));
    let o = run(&["-e", "ndctl --help"], &[], None);
    assert!(
        out(&o).starts_with("Usage: ndctl <COMMAND>"),
        "{}",
        show(&o)
    );
    assert!(out(&o).contains("create-namespace"), "{}", show(&o));
    let o = run(&["-e", "daxctl reconfigure-device -h"], &[], None);
    assert_eq!(o.status.code(), Some(0), "{}", show(&o));
    assert!(out(&o).contains("--mode <MODE>"), "{}", show(&o));
    let o = run(&["-e", "daxctl create-device -h"], &[], None);
    assert_eq!(o.status.code(), Some(2), "{}", show(&o));
    assert!(
        err(&o).contains("unrecognized subcommand 'create-device'"),
        "{}",
        show(&o)
    );
}
