//! The interactive REPL (rustyline) and the presentation of command outcomes shared with the
//! command line (issue 4).
//!
//! On a terminal: a line editor with history saved across runs (`$XDG_STATE_HOME/iomem-sim/
//! history` or `~/.local/state/iomem-sim/history`, best effort) and tab completion of command
//! words, resource names and addresses in the current tree. Without a terminal: commands are
//! read line by line with no prompt, so `printf 'hotplug add a0000000 128M\nundo\n' |
//! iomem-sim repl` replays a session and prints a transcript.

use crate::command::{Command, CommandError, parse_script_line};
use crate::render::diff::{DiffPalette as Palette, render_side_rows, render_unified_rows};
use crate::session::{Outcome, Output, Session, StepOutcome, iomem_text};
use crate::tree::{NodeId, Tree};
use std::io::{BufRead, Write};

/// How `--diff` shows a change.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default, serde::Serialize)]
pub enum DiffMode {
    #[default]
    Side,
    Unified,
    None,
}

/// Presentation choices (from `--diff`, `--color`, `--explain`).
#[derive(Clone, Copy, Debug)]
pub struct Present {
    pub palette: Palette,
    pub diff: DiffMode,
    /// Unchanged lines kept around each change.
    pub context: usize,
    /// Print the decision path of every kernel operation (`--explain`).
    pub explain_all: bool,
    /// The side view shows the whole resulting tree when it has at most this many lines (it
    /// fits on a screen); bigger trees are folded to `context` lines around each change.
    pub fold_above: usize,
}

impl Present {
    pub fn plain() -> Present {
        Present {
            palette: Palette::plain(),
            diff: DiffMode::Side,
            context: 3,
            explain_all: false,
            fold_above: crate::render::diff::FOLD_ABOVE,
        }
    }
}

/// What to print for an outcome: (stdout text, stderr text).
pub fn present(o: &StepOutcome, p: &Present) -> (String, String) {
    let (mut out, err) = present_output(o, p);
    // A tool's own words (ndctl/daxctl JSON, "reconfigured 1 device"), then what the kernel
    // left behind: both belong to the normal output, not only to --explain.
    out.push_str(&o.notes);
    for l in &o.left_behind {
        out.push_str(&format!("left behind: {l}\n"));
    }
    (out, err)
}

fn present_output(o: &StepOutcome, p: &Present) -> (String, String) {
    let mut out = String::new();
    let mut err = String::new();
    if (o.explain || p.explain_all) && !o.trace.steps.is_empty() {
        out.push_str(&explain_text(o));
    }
    if let Some(m) = o.message() {
        err.push_str(&m);
        err.push('\n');
    } else {
        // What the kernel would have logged (dmesg), on every run, not only under --explain
        // (issue 14 item 14). A refusal's message() already carries its log lines.
        for l in &o.trace.log {
            err.push_str(&format!("kernel: {l}\n"));
        }
    }
    match &o.output {
        Output::None => {}
        Output::Text(t) => {
            out.push_str(t);
            if !t.ends_with('\n') {
                out.push('\n');
            }
        }
        Output::Tree { tree, focus } => out.push_str(&tree_text(tree, focus)),
        Output::Map(view) => out.push_str(&crate::render::map::render_map(view, &p.palette)),
        Output::Path { addr, path } => {
            if path.is_empty() {
                out.push_str(&format!("{addr:x}: no resource contains it\n"));
            } else {
                out.push_str(&format!("{addr:x} is in:\n"));
                for (d, r) in path.iter().enumerate() {
                    out.push_str(&format!(
                        "{}{:08x}-{:08x} : {}\n",
                        "  ".repeat(d + 1),
                        r.start,
                        r.end,
                        r.name
                    ));
                }
            }
        }
        Output::Diff {
            before,
            after,
            rows,
            diff: d,
        } => {
            if d.is_empty() {
                // e.g. `undo memory online memory20`: the step changed blocks, not the tree.
                if o.command.starts_with("undo ") || o.command.starts_with("redo ") {
                    out.push_str(&format!("{}: no change to the tree\n", o.command));
                } else {
                    out.push_str("no change\n");
                }
            } else {
                let rows = rows.as_deref();
                match p.diff {
                    DiffMode::Side => {
                        let lines = match rows {
                            Some((b, a)) => b.total.max(a.total),
                            None => before.len().max(after.len()),
                        };
                        // Context as long as the tree: nothing folds.
                        let ctx = if lines <= p.fold_above {
                            lines
                        } else {
                            p.context
                        };
                        out.push_str(&render_side_rows(
                            before,
                            after,
                            d,
                            &p.palette,
                            ctx,
                            rows.map(|r| &r.1),
                        ))
                    }
                    DiffMode::Unified => out.push_str(&render_unified_rows(
                        before,
                        after,
                        p.context,
                        rows.map(|(b, a)| (b, a)),
                    )),
                    DiffMode::None => {}
                }
            }
        }
    }
    (out, err)
}

/// The decision path, one kernel decision per line, indented by call depth.
pub fn explain_text(o: &StepOutcome) -> String {
    let mut s = format!("explain {}:\n", o.command.trim_start_matches("explain "));
    for st in &o.trace.steps {
        s.push_str(&format!(
            "{}{}: {}\n",
            "  ".repeat(st.depth + 1),
            st.func,
            st.event
        ));
    }
    for l in &o.trace.log {
        s.push_str(&format!("  kernel: {l}\n"));
    }
    s
}

/// The tree (or the focus nodes with their ancestors and subtrees) as `/proc/iomem` lines.
pub fn tree_text(t: &Tree, focus: &[NodeId]) -> String {
    if focus.is_empty() {
        return String::from_utf8_lossy(&iomem_text(t)).into_owned();
    }
    let mut keep = std::collections::HashSet::new();
    for &f in focus {
        keep.extend(t.ancestors(f));
        keep.insert(f);
        keep.extend(t.descendants(f));
    }
    let w = t.hex_width();
    let mut s = String::new();
    for (id, d) in t.walk(Tree::ROOT) {
        if keep.contains(&id) {
            let r = t.get(id);
            s.push_str(&format!(
                "{}{:0w$x}-{:0w$x} : {}\n",
                "  ".repeat(d.min(crate::parse::MAX_IORES_LEVEL)),
                r.start,
                r.end,
                t.name_lossy(id)
            ));
        }
    }
    s
}

/// One command's result as data (`--format json`: each step's command, outcome, errno,
/// changes).
#[derive(Clone, Debug, serde::Serialize)]
pub struct StepRecord {
    pub command: String,
    /// Where the line came from (`FILE:LINE`, `-e N`), when not the command words.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub origin: Option<String>,
    /// `ok`, `refused` (by the simulated kernel), `error` (syntax, I/O, session).
    pub outcome: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub errno: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub errno_value: Option<i32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
    pub changes: Vec<crate::diff::ChangeSummary>,
    /// What the kernel left behind although the command succeeded (issue 15).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub left_behind: Vec<String>,
    /// A tool's own output (ndctl/daxctl JSON and messages).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub output: Option<String>,
    /// A query's answer as data (`find`, `intersects`, `blocks`); docs/json.md.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub answer: Option<serde_json::Value>,
    pub trace: Vec<String>,
    pub log: Vec<String>,
}

impl StepRecord {
    pub fn of(o: &StepOutcome) -> StepRecord {
        let changes = match &o.output {
            Output::Diff {
                before,
                after,
                diff,
                ..
            } if o.changed => diff.summaries(before, after),
            _ => Vec::new(),
        };
        StepRecord {
            command: o.command.clone(),
            origin: None,
            outcome: match (&o.outcome, o.exit_code()) {
                (crate::session::Outcome::Partial(_), _) => "partial",
                (_, 0) if !o.left_behind.is_empty() => "ok-left-behind",
                (_, 0) => "ok",
                (_, 1) => "refused",
                _ => "error",
            },
            left_behind: o.left_behind.clone(),
            output: (!o.notes.is_empty()).then(|| o.notes.clone()),
            errno: o.errno().map(|e| format!("-{}", e.name())),
            errno_value: o.errno().map(|e| -e.value()),
            message: o.message(),
            changes,
            answer: match &o.output {
                Output::Path { addr, path } => Some(serde_json::json!({
                    "addr": crate::render::json::hex(*addr),
                    "path": path
                        .iter()
                        .map(|r| serde_json::json!({
                            "start": crate::render::json::hex(r.start),
                            "end": crate::render::json::hex(r.end),
                            "name": r.name,
                        }))
                        .collect::<Vec<_>>(),
                })),
                _ => o.answer.clone(),
            },
            trace: o
                .trace
                .steps
                .iter()
                .map(|s| format!("{}{}: {}", "  ".repeat(s.depth), s.func, s.event))
                .collect(),
            log: o.trace.log.clone(),
        }
    }
}

/// A line to run and where it came from, for error messages.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SourceLine {
    /// `FILE:LINE` (a script), `-e N`, or `None` (the command words, an API caller).
    pub origin: Option<String>,
    pub text: String,
    /// The bytes were not UTF-8 (`text` is their lossy reading): an error on this line.
    pub bad_utf8: bool,
}

impl SourceLine {
    pub fn plain(text: &str) -> SourceLine {
        SourceLine {
            origin: None,
            text: text.to_string(),
            bad_utf8: false,
        }
    }

    /// The lines of a file's bytes, each named `NAME:N`; a line that is not UTF-8 is kept
    /// (as an error on that line), so the lines around it still run.
    pub fn lines_of(name: &str, bytes: &[u8]) -> Vec<SourceLine> {
        let mut v: Vec<SourceLine> = bytes
            .split(|&b| b == b'\n')
            .enumerate()
            .map(|(i, l)| {
                let l = l.strip_suffix(b"\r").unwrap_or(l);
                let (text, bad_utf8) = match std::str::from_utf8(l) {
                    Ok(t) => (t.to_string(), false),
                    Err(_) => (String::from_utf8_lossy(l).into_owned(), true),
                };
                SourceLine {
                    origin: Some(format!("{name}:{}", i + 1)),
                    text,
                    bad_utf8,
                }
            })
            .collect();
        if bytes.ends_with(b"\n") || bytes.is_empty() {
            v.pop();
        }
        v
    }

    /// Parse this line: `Ok(None)` for a blank line or a comment; errors carry the origin.
    pub fn parse(&self) -> Result<Option<Command>, CommandError> {
        let r = if self.bad_utf8 {
            Err(CommandError::new(
                &self.text,
                None,
                "not UTF-8 text (the line is skipped)",
            ))
        } else {
            parse_script_line(&self.text)
        };
        r.map_err(|mut e| {
            if let Some(o) = &self.origin {
                e.message = format!("{o}: {}", e.message);
            }
            e
        })
    }
}

/// Run a script's commands in order (`-e`, `--script`, trailing words): stop at the first
/// refused command (exit 1) or error (exit 2) unless `keep_going`. Returns the worst status
/// and one [`StepRecord`] per command run; `emit` is called after each command (for printing).
pub fn run_commands(
    session: &mut Session,
    lines: &[String],
    keep_going: bool,
    mut emit: impl FnMut(&StepOutcome),
) -> (i32, Vec<StepRecord>) {
    let lines: Vec<SourceLine> = lines.iter().map(|l| SourceLine::plain(l)).collect();
    run_commands_keeping(session, &lines, keep_going, true, &mut |o, _| emit(o))
}

/// [`run_commands`], keeping every step's record only when `keep_all` (the JSON output needs
/// them); otherwise only the last one, so a script of millions of commands runs in memory
/// bounded by the session's kept steps. `emit` also gets the line's origin.
pub fn run_commands_keeping(
    session: &mut Session,
    lines: &[SourceLine],
    keep_going: bool,
    keep_all: bool,
    emit: &mut dyn FnMut(&StepOutcome, Option<&str>),
) -> (i32, Vec<StepRecord>) {
    let mut worst = 0;
    let mut records = Vec::new();
    for l in lines {
        let o = match l.parse() {
            Ok(None) => continue,
            Ok(Some(cmd)) => session.execute(&cmd),
            Err(e) => {
                let mut o = StepOutcome::syntax_error(l.text.trim().to_string(), e);
                o.explain = false;
                o
            }
        };
        emit(&o, l.origin.as_deref());
        if !keep_all {
            records.clear();
        }
        let mut r = StepRecord::of(&o);
        r.origin = l.origin.clone();
        records.push(r);
        let code = o.exit_code();
        worst = worst.max(code);
        if matches!(o.outcome, Outcome::Quit) || (code != 0 && !keep_going) {
            break;
        }
    }
    (worst, records)
}

/// Run commands from `input` (one per line, `#` comments) against `session`, writing a
/// transcript: each command echoed after `> ` (so a piped run reads like a session), then its
/// output; errors go to `err`, named by line number. Syntax errors, refusals and lines that
/// are not UTF-8 do not stop the loop (it is a REPL). Returns the worst exit status seen.
pub fn run_lines(
    session: &mut Session,
    input: &mut dyn BufRead,
    out: &mut dyn Write,
    err: &mut dyn Write,
    p: &Present,
) -> std::io::Result<i32> {
    let mut side = crate::compare::ReplCompare::default();
    run_lines_from(session, input, out, err, p, &mut side)
}

/// [`run_lines`] with the side-by-side state (`kernel A,B`, src/compare.rs).
pub fn run_lines_from(
    session: &mut Session,
    input: &mut dyn BufRead,
    out: &mut dyn Write,
    err: &mut dyn Write,
    p: &Present,
    side: &mut crate::compare::ReplCompare,
) -> std::io::Result<i32> {
    let mut worst = 0;
    let mut buf = Vec::new();
    let mut n = 0usize;
    loop {
        buf.clear();
        if input.read_until(b'\n', &mut buf)? == 0 {
            break;
        }
        n += 1;
        let mut lines = SourceLine::lines_of("line", &buf);
        let Some(mut line) = lines.pop() else {
            continue;
        };
        line.origin = Some(format!("line {n}"));
        let l = line.text.clone();
        if let Some((so, se, code)) = side.handle(session, &l, &p.palette, p.diff) {
            if !l.trim().is_empty() && !l.trim_start().starts_with('#') {
                writeln!(out, "> {l}")?;
            }
            out.write_all(so.as_bytes())?;
            err.write_all(se.as_bytes())?;
            worst = worst.max(code);
            continue;
        }
        match line.parse() {
            Ok(None) => continue,
            Ok(Some(cmd)) => {
                writeln!(out, "> {l}")?;
                let o = session.execute(&cmd);
                let (so, se) = present(&o, p);
                out.write_all(so.as_bytes())?;
                err.write_all(se.as_bytes())?;
                worst = worst.max(o.exit_code());
                if matches!(o.outcome, Outcome::Quit) {
                    break;
                }
            }
            Err(e) => {
                writeln!(out, "> {l}")?;
                writeln!(err, "error: {e}")?;
                worst = 2;
            }
        }
    }
    Ok(worst)
}

// ------------------------------------------------------------------------- interactive

/// Completion from the clap tree and the live session ([`crate::complete`]).
#[derive(Default)]
pub struct ReplHelper {
    live: crate::complete::Live,
}

impl ReplHelper {
    /// Refresh the live values (after every command).
    pub fn update(&mut self, m: &crate::kernel::machine::Machine) {
        self.live = crate::complete::Live::of(m);
    }

    /// Candidates for the word ending at `pos`: (start of the word, replacements).
    pub fn candidates(&self, line: &str, pos: usize) -> (usize, Vec<String>) {
        crate::complete::candidates(line, pos, &self.live)
    }
}

impl rustyline::completion::Completer for ReplHelper {
    type Candidate = String;
    fn complete(
        &self,
        line: &str,
        pos: usize,
        _ctx: &rustyline::Context<'_>,
    ) -> rustyline::Result<(usize, Vec<String>)> {
        Ok(self.candidates(line, pos))
    }
}
impl rustyline::hint::Hinter for ReplHelper {
    type Hint = String;
}
impl rustyline::highlight::Highlighter for ReplHelper {}
impl rustyline::validate::Validator for ReplHelper {}
impl rustyline::Helper for ReplHelper {}

/// `$XDG_STATE_HOME/iomem-sim/history`, else `~/.local/state/iomem-sim/history`.
pub fn history_path() -> Option<std::path::PathBuf> {
    let base = std::env::var_os("XDG_STATE_HOME")
        .filter(|v| !v.is_empty())
        .map(std::path::PathBuf::from)
        .or_else(|| {
            std::env::var_os("HOME")
                .filter(|v| !v.is_empty())
                .map(|h| std::path::PathBuf::from(h).join(".local/state"))
        })?;
    Some(base.join("iomem-sim").join("history"))
}

/// Run the REPL: interactive on a terminal, a plain line loop otherwise. Returns the exit
/// status (worst outcome seen in a piped run; 0 interactively unless I/O fails).
pub fn run(session: &mut Session, p: &Present) -> anyhow::Result<i32> {
    run_from(session, p, crate::compare::ReplCompare::default())
}

/// [`run`] starting in the given side-by-side state (`-k 5.0,5.1 repl`).
pub fn run_from(
    session: &mut Session,
    p: &Present,
    mut side: crate::compare::ReplCompare,
) -> anyhow::Result<i32> {
    use std::io::IsTerminal;
    if !std::io::stdin().is_terminal() {
        let stdin = std::io::stdin();
        let mut input = stdin.lock();
        let stdout = std::io::stdout();
        let stderr = std::io::stderr();
        return Ok(run_lines_from(
            session,
            &mut input,
            &mut stdout.lock(),
            &mut stderr.lock(),
            p,
            &mut side,
        )?);
    }
    // List the candidates (bash-like) rather than cycling through them.
    let config = rustyline::Config::builder()
        .completion_type(rustyline::CompletionType::List)
        .build();
    let mut ed: rustyline::Editor<ReplHelper, rustyline::history::DefaultHistory> =
        rustyline::Editor::with_config(config)?;
    let mut helper = ReplHelper::default();
    helper.update(&session.machine);
    ed.set_helper(Some(helper));
    let hist = history_path();
    if let Some(h) = &hist {
        let _ = ed.load_history(h);
    }
    println!(
        "iomem-sim: simulating Linux {} — `help` lists commands, Tab completes, Ctrl-D quits",
        session.version()
    );
    loop {
        let prompt = format!("iomem[{}]> ", session.version());
        match ed.readline(&prompt) {
            Ok(line) => {
                if line.trim().is_empty() {
                    continue;
                }
                let _ = ed.add_history_entry(line.as_str());
                if let Some((so, se, _)) = side.handle(session, &line, &p.palette, p.diff) {
                    print!("{so}");
                    eprint!("{se}");
                    continue;
                }
                match parse_script_line(&line) {
                    Ok(None) => {}
                    Ok(Some(cmd)) => {
                        let o = session.execute(&cmd);
                        let (so, se) = present(&o, p);
                        print!("{so}");
                        eprint!("{se}");
                        if let Some(h) = ed.helper_mut() {
                            h.update(&session.machine);
                        }
                        if matches!(o.outcome, Outcome::Quit) || matches!(cmd, Command::Quit) {
                            break;
                        }
                    }
                    Err(e) => eprintln!("error: {e}"),
                }
            }
            Err(rustyline::error::ReadlineError::Interrupted) => continue,
            Err(rustyline::error::ReadlineError::Eof) => break,
            Err(e) => return Err(e.into()),
        }
    }
    if let Some(h) = &hist {
        if let Some(dir) = h.parent() {
            let _ = std::fs::create_dir_all(dir);
        }
        let _ = ed.save_history(h);
    }
    Ok(0)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::session::{Config, Machine};
    use crate::testutil::t0;

    #[test]
    fn piped_transcript_with_undo_redo_diff_and_kernel_switch() {
        let mut s = Session::new(Machine::boot(t0(), Config::default()));
        let script = "# a session\nrequest c1000000 4K foo\nundo\nredo\nkernel 5.0\ndiff\nrequest c1000800 4K bar\nbogus\n";
        let (mut out, mut err) = (Vec::new(), Vec::new());
        let code = run_lines(
            &mut s,
            &mut script.as_bytes(),
            &mut out,
            &mut err,
            &Present {
                context: 0,
                ..Present::plain()
            },
        )
        .unwrap();
        let out = String::from_utf8(out).unwrap();
        let err = String::from_utf8(err).unwrap();
        assert_eq!(code, 2);
        assert!(out.starts_with("> request c1000000 4K foo\n"), "{out}");
        assert!(
            out.contains("+   c1000000-c1000fff : foo  added (4 KiB)"),
            "{out}"
        );
        assert!(out.contains("> undo\n"), "{out}");
        assert!(
            out.contains("  c0000000-febfffff : PCI Bus 0000:00\n-   c1000000-c1000fff : foo  removed (4 KiB)"),
            "{out}"
        );
        assert!(out.contains("now simulating Linux 5.0"), "{out}");
        assert!(err.contains("request c1000800 4K bar: -EBUSY"), "{err}");
        assert!(
            err.contains("line 8: unrecognized subcommand 'bogus'"),
            "{err}"
        );
    }

    #[test]
    fn scripts_stop_at_the_first_refusal_unless_keep_going() {
        let lines: Vec<String> = [
            "# comment",
            "request c1000000 4K foo",
            "request c1000800 4K bar",
            "request c2000000 4K baz",
        ]
        .map(String::from)
        .to_vec();
        let mut s = Session::new(Machine::boot(t0(), Config::default()));
        let (code, recs) = run_commands(&mut s, &lines, false, |_| {});
        assert_eq!((code, recs.len()), (1, 2));
        assert_eq!(recs[1].outcome, "refused");
        assert_eq!(recs[1].errno.as_deref(), Some("-EBUSY"));
        assert_eq!(recs[1].errno_value, Some(-16));
        assert_eq!(recs[0].changes.len(), 1);
        assert_eq!(recs[0].changes[0].change, "added");
        let mut s = Session::new(Machine::boot(t0(), Config::default()));
        let (code, recs) = run_commands(&mut s, &lines, true, |_| {});
        assert_eq!((code, recs.len()), (1, 3));
        let mut s = Session::new(Machine::boot(t0(), Config::default()));
        let bad = vec!["hotplug add zz 1G".to_string(), "undo".to_string()];
        let (code, recs) = run_commands(&mut s, &bad, false, |_| {});
        assert_eq!((code, recs.len()), (2, 1));
        let json = serde_json::to_string(&recs[0]).unwrap();
        assert!(json.contains("\"outcome\":\"error\""), "{json}");
    }

    #[test]
    fn history_path_prefers_xdg_state() {
        // Only checks the shape; the environment is the test runner's.
        if let Some(p) = history_path() {
            assert!(p.ends_with("iomem-sim/history"));
        }
    }
}
