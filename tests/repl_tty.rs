//! The REPL on a real terminal (issue 4): the rustyline path that `tests/repl.rs` (piped stdin)
//! cannot reach. The binary runs on a pseudo-terminal: the banner and prompt appear, Tab
//! completes a command word, a hot-add and an undo run, and the history is saved to
//! `$XDG_STATE_HOME/iomem-sim/history` and offered again (Up arrow) in the next run.
//! With no command at all, a terminal gets the REPL too.
#![cfg(unix)]

use rexpect::session::{PtySession, spawn_command};

const TIMEOUT_MS: u64 = 20_000;

/// Send keys now (`send` alone leaves them in rexpect's buffer).
fn type_keys(p: &mut PtySession, keys: &str, what: &str) {
    p.send(keys).expect(what);
    p.flush().expect(what);
}

fn repl(state: &std::path::Path) -> PtySession {
    repl_with(state, &["--kernel", "5.1", "repl"])
}

fn repl_with(state: &std::path::Path, args: &[&str]) -> PtySession {
    let mut cmd = std::process::Command::new(env!("CARGO_BIN_EXE_iomem-sim"));
    cmd.args(args)
        .env("XDG_STATE_HOME", state)
        .env("NO_COLOR", "1")
        .env("TERM", "xterm")
        .env_remove("HOME");
    spawn_command(cmd, Some(TIMEOUT_MS)).expect("spawn iomem-sim on a pty")
}

#[test]
fn terminal_repl_completes_runs_undoes_and_keeps_history() {
    let state = tempfile::tempdir().expect("tempdir");

    let mut p = repl(state.path());
    p.exp_string("simulating Linux 5.1").expect("banner");
    p.exp_string("iomem[5.1]> ").expect("prompt");

    // Tab completes `hotp` to `hotplug` (the only command with that prefix); the rest of the
    // line is typed after it, so the command only runs if the completion happened.
    type_keys(&mut p, "hotp", "type");
    type_keys(&mut p, "\t", "tab");
    type_keys(&mut p, " add a0000000 128M\r", "type");
    // The seed story on 5.1: System RAM nested under the legacy pmem range.
    p.exp_string("a0000000-a7ffffff : System RAM")
        .expect("the hot-add ran and its diff names the new resource");
    p.exp_string("iomem[5.1]> ").expect("prompt after the add");

    p.send_line("undo").expect("undo");
    p.exp_string("undo").expect("undo reported");
    p.exp_string("iomem[5.1]> ").expect("prompt after undo");

    p.send_line("show a0000000").expect("show");
    p.exp_string("Persistent Memory (legacy)")
        .expect("pmem still there");
    p.exp_string("iomem[5.1]> ").expect("prompt after show");
    p.send_control('d').expect("Ctrl-D");
    p.exp_eof().expect("Ctrl-D ends the session");

    let hist = state.path().join("iomem-sim").join("history");
    let saved = std::fs::read_to_string(&hist).expect("history file written");
    assert!(
        saved.contains("hotplug add a0000000 128M"),
        "the completed line is in the history: {saved:?}"
    );
    assert!(saved.contains("undo"), "{saved:?}");

    // Next run: Up arrow recalls the last line (`show a0000000`); Enter runs it again.
    let mut p = repl(state.path());
    p.exp_string("iomem[5.1]> ").expect("prompt");
    type_keys(&mut p, "\x1b[A", "Up arrow");
    type_keys(&mut p, "\r", "Enter");
    p.exp_string("Persistent Memory (legacy)")
        .expect("the recalled `show a0000000` ran");
    p.exp_string("iomem[5.1]> ").expect("prompt");
    p.send_line("quit").expect("quit");
    p.exp_eof().expect("quit ends the session");
}

/// cli.md: with no command, on a terminal, and no dump piped in, iomem-sim starts the REPL.
#[test]
fn no_command_on_a_terminal_starts_the_repl() {
    let state = tempfile::tempdir().expect("tempdir");
    let mut p = repl_with(state.path(), &["--kernel", "6.1"]);
    p.exp_string("iomem[6.1]> ").expect("prompt");
    p.send_line("quit").expect("quit");
    p.exp_eof().expect("quit ends the session");
}

/// Issue 9: Tab walks the clap tree (`hotplug` → its sub-words) and lists the candidates
/// (rustyline's List mode); where an address is expected it offers the live tree's resource
/// boundaries and no resource name; `memory online memory` completes block names.
#[test]
fn terminal_completion_lists_candidates_from_the_grammar_and_the_tree() {
    let state = tempfile::tempdir().expect("tempdir");
    let mut p = repl(state.path());
    p.exp_string("iomem[5.1]> ").expect("prompt");
    // Two candidates: the first Tab completes nothing more, the second lists them.
    type_keys(&mut p, "hotplug ", "type");
    type_keys(&mut p, "\t\t", "tab tab");
    p.exp_regex("add +remove").expect("both sub-words listed");
    // `a` + Tab completes `add` (one candidate); then an address prefix with one boundary.
    type_keys(&mut p, "a\t", "tab");
    type_keys(&mut p, " a0000000-a\t", "tab");
    // The only resource range starting with a0000000- is the legacy pmem's.
    type_keys(&mut p, "\r", "enter");
    p.exp_string("a0000000-afffffff : System RAM")
        .expect("the completed range a0000000-afffffff was hot-added");
    p.exp_string("iomem[5.1]> ").expect("prompt after the add");
    p.send_line("quit").expect("quit");
    p.exp_eof().expect("quit ends the session");
}
