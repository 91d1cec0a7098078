//! Kernels side by side (issue 10): the same start and the same commands, one [`Session`] per
//! kernel version, then one report — a table command × version → outcome (with the deciding
//! kernel function), a note on the rows where the versions disagree, and the final trees of
//! the versions that differ as a diff between them (side and unified).
//!
//! `--kernel A,B,…` or `--kernel A..B` (every modelled boundary in the range, from
//! [`boundaries`]) on the command line; `kernel A,B` in the REPL, after which every command
//! runs in every version and prints its row. The binary calls [`run`] from one place.

use crate::command::{Command, parse_script_line};
use crate::diff::diff;
use crate::kernel::boundaries;
use crate::kernel::machine::Machine;
use crate::kernel::{KernelVersion, version::BadVersion};
use crate::render::diff::{DiffPalette as Palette, render_side, render_unified};
use crate::render::{render_iomem, render_json};
use crate::repl::{DiffMode, StepRecord};
use crate::session::{Outcome, Output, Session, StepOutcome};
use crate::tree::Tree;
use std::fmt;

/// What `--kernel` names.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum KernelArg {
    /// One version (the usual single session).
    One(KernelVersion),
    /// Several: run side by side.
    Many(Vec<KernelVersion>),
    /// `-k list`: print the boundary table.
    List,
}

impl KernelArg {
    /// The version a single session uses (the first of several).
    pub fn first(&self) -> KernelVersion {
        match self {
            KernelArg::One(v) => *v,
            KernelArg::Many(vs) => vs.first().copied().unwrap_or(KernelVersion::NEWEST),
            KernelArg::List => KernelVersion::NEWEST,
        }
    }
    /// Every version named.
    pub fn versions(&self) -> Vec<KernelVersion> {
        match self {
            KernelArg::One(v) => vec![*v],
            KernelArg::Many(vs) => vs.clone(),
            KernelArg::List => Vec::new(),
        }
    }
}

impl fmt::Display for KernelArg {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            KernelArg::One(v) => write!(f, "{v}"),
            KernelArg::Many(vs) => {
                let s: Vec<String> = vs.iter().map(ToString::to_string).collect();
                write!(f, "{}", s.join(","))
            }
            KernelArg::List => write!(f, "list"),
        }
    }
}

/// Parse `list`, `X.Y`, `A,B,…` or `A..B`.
pub fn parse_kernel_arg(s: &str) -> Result<KernelArg, BadVersion> {
    let t = s.trim();
    if t == "list" {
        return Ok(KernelArg::List);
    }
    if let Some((a, b)) = t.split_once("..") {
        let (a, b): (KernelVersion, KernelVersion) = (a.parse()?, b.parse()?);
        return Ok(KernelArg::Many(boundaries::expand_range(a, b)));
    }
    if t.contains(',') {
        let mut vs = Vec::new();
        for p in t.split(',') {
            let v: KernelVersion = p.parse()?;
            if !vs.contains(&v) {
                vs.push(v);
            }
        }
        return Ok(if vs.len() == 1 {
            KernelArg::One(vs[0])
        } else {
            KernelArg::Many(vs)
        });
    }
    Ok(KernelArg::One(t.parse()?))
}

/// One command's result in one version.
#[derive(Clone, Debug, serde::Serialize)]
pub struct Cell {
    /// `ok`, `-EEXIST`, … , `error`, or `not run` (an earlier command stopped this version).
    pub outcome: String,
    /// The deciding kernel function of a refusal.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub func: Option<&'static str>,
    /// What happened, in one line: the refusal's reason, the answer of a query, or the
    /// changes to the tree.
    pub detail: String,
    #[serde(skip)]
    code: i32,
}

impl Cell {
    fn of(o: &StepOutcome) -> Cell {
        let rec = StepRecord::of(o);
        let (outcome, func, detail) = match &o.outcome {
            Outcome::Refused(e) => (
                format!("-{}", e.errno.name()),
                Some(e.func),
                format!("{}: {}", e.func, e.reason),
            ),
            // A tool's sequence failed part way: what ran before stays done.
            Outcome::Partial(e) => (
                format!("-{} (partial)", e.errno.name()),
                Some(e.func),
                format!("{}: {}", e.func, e.reason),
            ),
            Outcome::Failed(e) => ("error".to_string(), None, e.to_string()),
            // `where` found no place: an answer, not a kernel refusal.
            Outcome::Nothing(why) => ("none".to_string(), None, why.clone()),
            Outcome::Ok | Outcome::Quit => {
                let detail = match &o.output {
                    Output::Text(t) => t.lines().collect::<Vec<_>>().join("; "),
                    _ if !rec.changes.is_empty() => rec
                        .changes
                        .iter()
                        .map(|c| {
                            format!(
                                "{} \"{}\" [{:x}-{:x}] at depth {}",
                                c.change, c.name, c.start, c.end, c.depth
                            )
                        })
                        .collect::<Vec<_>>()
                        .join("; "),
                    _ => "no change".to_string(),
                };
                // What the kernel left although the command succeeded (a DIMM plugged without
                // memory, kmem unbound with its memory still there).
                let detail = if o.left_behind.is_empty() {
                    detail
                } else {
                    format!("{detail}; left behind: {}", o.left_behind.join("; "))
                };
                ("ok".to_string(), None, detail)
            }
        };
        Cell {
            outcome,
            func,
            detail,
            code: o.exit_code(),
        }
    }
    fn not_run() -> Cell {
        Cell {
            outcome: "not run".into(),
            func: None,
            detail: "an earlier command was refused (--keep-going runs on)".into(),
            code: 0,
        }
    }
    /// The table's text: `ok`, `-EEXIST (register_memory_resource)`.
    pub fn short(&self) -> String {
        match self.func {
            Some(f) => format!("{} ({f})", self.outcome),
            None => self.outcome.clone(),
        }
    }
}

/// The sessions of a comparison, one per version.
pub struct Compare {
    pub sessions: Vec<(KernelVersion, Session)>,
    /// Versions that stopped at a refusal (without `--keep-going`).
    stopped: Vec<bool>,
    keep_going: bool,
}

/// The rows run so far and the sessions they ran in.
pub struct Report<'a> {
    pub versions: Vec<KernelVersion>,
    pub rows: &'a [(String, Vec<Cell>)],
    pub trees: Vec<&'a Tree>,
}

impl Compare {
    /// One session per version, all from `start` with the same configuration.
    /// One session per version, each from the same booted machine (a dump, an example or a
    /// live machine's state) with that version's rules.
    pub fn new(start: &Machine, versions: &[KernelVersion], keep_going: bool) -> Compare {
        let sessions = versions
            .iter()
            .map(|&v| {
                let mut m = start.clone();
                m.set_version(v);
                (v, Session::new(m))
            })
            .collect::<Vec<_>>();
        Compare {
            stopped: vec![false; sessions.len()],
            sessions,
            keep_going,
        }
    }

    /// From a running session (the REPL's `kernel A,B`): each version continues from its
    /// current machine.
    pub fn from_session(s: &Session, versions: &[KernelVersion]) -> Compare {
        let sessions = versions
            .iter()
            .map(|&v| {
                let mut m = s.machine.clone();
                m.set_version(v);
                (v, Session::new(m))
            })
            .collect::<Vec<_>>();
        Compare {
            stopped: vec![false; sessions.len()],
            sessions,
            keep_going: true,
        }
    }

    /// Run one parsed command in every version.
    pub fn execute(&mut self, cmd: &Command) -> Vec<Cell> {
        let mut cells = Vec::new();
        for (i, (_, s)) in self.sessions.iter_mut().enumerate() {
            if self.stopped[i] {
                cells.push(Cell::not_run());
                continue;
            }
            let o = s.execute(cmd);
            let c = Cell::of(&o);
            if c.code != 0 && !self.keep_going {
                self.stopped[i] = true;
            }
            cells.push(c);
        }
        cells
    }

    pub fn versions(&self) -> Vec<KernelVersion> {
        self.sessions.iter().map(|(v, _)| *v).collect()
    }

    pub fn report<'a>(&'a self, rows: &'a [(String, Vec<Cell>)]) -> Report<'a> {
        Report {
            versions: self.versions(),
            rows,
            trees: self.sessions.iter().map(|(_, s)| s.tree()).collect(),
        }
    }
}

/// Exit status of the rows: 0 every version accepted every command, 1 any refused, 2 an error.
pub fn exit_code(rows: &[(String, Vec<Cell>)]) -> i32 {
    rows.iter()
        .flat_map(|(_, cs)| cs.iter().map(|c| c.code))
        .max()
        .unwrap_or(0)
}

/// Groups of versions with identical trees, in the order of the versions.
fn tree_groups(r: &Report) -> Vec<Vec<usize>> {
    let mut groups: Vec<Vec<usize>> = Vec::new();
    for (i, t) in r.trees.iter().enumerate() {
        match groups.iter_mut().find(|g| r.trees[g[0]].same_as(t)) {
            Some(g) => g.push(i),
            None => groups.push(vec![i]),
        }
    }
    groups
}

fn names(r: &Report, idx: &[usize]) -> String {
    idx.iter()
        .map(|&i| r.versions[i].to_string())
        .collect::<Vec<_>>()
        .join(", ")
}

/// Rows whose versions disagree: a different outcome or a different result.
fn disagrees(cells: &[Cell]) -> bool {
    cells
        .windows(2)
        .any(|w| w[0].outcome != w[1].outcome || w[0].detail != w[1].detail)
}

/// The text report: table, disagreement notes, tree diffs (`diff`: side, unified or both).
pub fn render_text(r: &Report, pal: &Palette, diff_mode: Option<DiffMode>) -> String {
    let mut out = String::new();
    let vs: Vec<String> = r.versions.iter().map(ToString::to_string).collect();
    let cw = r
        .rows
        .iter()
        .map(|(c, _)| c.chars().count())
        .chain(["command".len()])
        .max()
        .unwrap_or(7)
        .min(60);
    let widths: Vec<usize> = (0..vs.len())
        .map(|i| {
            r.rows
                .iter()
                .map(|(_, cs)| cs[i].short().chars().count())
                .chain([vs[i].len()])
                .max()
                .unwrap_or(2)
        })
        .collect();
    let mut line = format!("{:cw$}", "command");
    for (i, v) in vs.iter().enumerate() {
        line.push_str(&format!("  {:w$}", v, w = widths[i]));
    }
    out.push_str(line.trim_end());
    out.push('\n');
    for (cmd, cells) in r.rows {
        let mut line = format!("{cmd:cw$}");
        for (i, c) in cells.iter().enumerate() {
            line.push_str(&format!("  {:w$}", c.short(), w = widths[i]));
        }
        let mark = if disagrees(cells) { "  *" } else { "" };
        out.push_str(line.trim_end());
        out.push_str(mark);
        out.push('\n');
    }
    let differing: Vec<&(String, Vec<Cell>)> =
        r.rows.iter().filter(|(_, cs)| disagrees(cs)).collect();
    if differing.is_empty() {
        out.push_str(&format!(
            "\nAll {} versions agree on every command.\n",
            vs.len()
        ));
    } else {
        out.push_str("\n* where the versions disagree:\n");
        for (cmd, cells) in differing {
            out.push_str(&format!("  {cmd}\n"));
            // Versions with the same cell, together.
            let mut seen: Vec<usize> = Vec::new();
            for i in 0..cells.len() {
                if seen.contains(&i) {
                    continue;
                }
                let same: Vec<usize> = (i..cells.len())
                    .filter(|&j| {
                        cells[j].outcome == cells[i].outcome && cells[j].detail == cells[i].detail
                    })
                    .collect();
                seen.extend(&same);
                out.push_str(&format!(
                    "    {}: {} — {}\n",
                    names(r, &same),
                    cells[i].outcome,
                    cells[i].detail
                ));
            }
        }
    }
    // A command that failed the same way everywhere (syntax, `nothing to undo`) is not a
    // disagreement, but its message must still reach the user.
    for (cmd, cells) in r.rows.iter().filter(|(_, cs)| !disagrees(cs)) {
        if let Some(c) = cells.first().filter(|c| c.code == 2) {
            out.push_str(&format!("{cmd}: {} (every version)\n", c.detail));
        }
    }
    let groups = tree_groups(r);
    if groups.len() == 1 {
        out.push_str("The final trees are identical.\n");
        return out;
    }
    out.push_str(&format!(
        "\nThe final trees differ ({} distinct: {}):\n",
        groups.len(),
        groups
            .iter()
            .map(|g| format!("[{}]", names(r, g)))
            .collect::<Vec<_>>()
            .join(" ")
    ));
    let base = &groups[0];
    let before = r.trees[base[0]];
    for g in &groups[1..] {
        let after = r.trees[g[0]];
        let d = diff(before, after);
        let ctx = before.len().max(after.len());
        let head = format!("{} → {}", names(r, base), names(r, g));
        if diff_mode != Some(DiffMode::Unified) && diff_mode != Some(DiffMode::None) {
            out.push_str(&format!("\n--- {head} (side)\n"));
            let ctx = if ctx <= 40 { ctx } else { 3 };
            out.push_str(&render_side(before, after, &d, pal, ctx));
        }
        if diff_mode != Some(DiffMode::Side) && diff_mode != Some(DiffMode::None) {
            out.push_str(&format!(
                "\n--- Linux {}\n+++ Linux {}\n",
                names(r, base),
                names(r, g)
            ));
            out.push_str(&render_unified(before, after, 3));
        }
    }
    out
}

/// `--format json`: the same per version, plus the table.
pub fn render_json_report(r: &Report, records: &[Vec<StepRecord>]) -> serde_json::Value {
    let kernels: Vec<serde_json::Value> = r
        .versions
        .iter()
        .enumerate()
        .map(|(i, v)| {
            let code = r.rows.iter().map(|(_, cs)| cs[i].code).max().unwrap_or(0);
            serde_json::json!({
                "kernel": v.to_string(),
                "exit": code,
                "steps": records.get(i).cloned().unwrap_or_default(),
                "tree": render_json(r.trees[i]),
            })
        })
        .collect();
    let rows: Vec<serde_json::Value> = r
        .rows
        .iter()
        .map(|(cmd, cells)| {
            let per: serde_json::Map<String, serde_json::Value> = r
                .versions
                .iter()
                .zip(cells)
                .map(|(v, c)| (v.to_string(), serde_json::to_value(c).unwrap_or_default()))
                .collect();
            serde_json::json!({
                "command": cmd,
                "agree": !disagrees(cells),
                "outcomes": per,
            })
        })
        .collect();
    let groups: Vec<Vec<String>> = tree_groups(r)
        .iter()
        .map(|g| g.iter().map(|&i| r.versions[i].to_string()).collect())
        .collect();
    serde_json::json!({
        "kernels": kernels,
        "rows": rows,
        "identical_trees": groups,
    })
}

/// The output format of a batch comparison.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Format {
    Text,
    Json,
    Iomem,
}

/// A batch comparison: parse every line first (a syntax error runs nothing: exit 2), run them
/// in every version, print the report. Returns (stdout text, stderr text, exit status).
#[allow(clippy::too_many_arguments)]
pub fn run(
    start: &Machine,
    versions: &[KernelVersion],
    lines: &[String],
    keep_going: bool,
    format: Format,
    pal: &Palette,
    diff_mode: Option<DiffMode>,
) -> (String, String, i32) {
    let mut cmds = Vec::new();
    for (n, l) in lines.iter().enumerate() {
        match parse_script_line(l) {
            Ok(None) => {}
            Ok(Some(c)) => cmds.push(c),
            Err(e) => {
                return (String::new(), format!("error: command {}: {e}\n", n + 1), 2);
            }
        }
    }
    let mut cmp = Compare::new(start, versions, keep_going);
    let mut rows: Vec<(String, Vec<Cell>)> = Vec::new();
    let mut records: Vec<Vec<StepRecord>> = vec![Vec::new(); versions.len()];
    for c in &cmds {
        if matches!(c, Command::Quit) {
            break;
        }
        let mut cells = Vec::new();
        for (i, (_, s)) in cmp.sessions.iter_mut().enumerate() {
            if cmp.stopped[i] {
                cells.push(Cell::not_run());
                continue;
            }
            let o = s.execute(c);
            records[i].push(StepRecord::of(&o));
            let cell = Cell::of(&o);
            if cell.code != 0 && !keep_going {
                cmp.stopped[i] = true;
            }
            cells.push(cell);
        }
        rows.push((c.to_string(), cells));
    }
    let code = exit_code(&rows);
    let r = cmp.report(&rows);
    let mut err = String::new();
    for (cmd, cells) in &rows {
        for (v, c) in r.versions.iter().zip(cells) {
            if c.code == 2 {
                err.push_str(&format!("error: [{v}] {cmd}: {}\n", c.detail));
            }
        }
    }
    let out = match format {
        Format::Text => render_text(&r, pal, diff_mode),
        Format::Json => match serde_json::to_string_pretty(&render_json_report(&r, &records)) {
            Ok(s) => s + "\n",
            Err(e) => {
                err.push_str(&format!("error: JSON: {e}\n"));
                return (String::new(), err, 2);
            }
        },
        Format::Iomem => {
            let mut s = String::new();
            for g in tree_groups(&r) {
                s.push_str(&format!("# Linux {}\n", names(&r, &g)));
                s.push_str(&String::from_utf8_lossy(&render_iomem(r.trees[g[0]])));
            }
            s
        }
    };
    (out, err, code)
}

/// The REPL's side-by-side mode: `kernel A,B` enters it, `kernel X` leaves it.
#[derive(Default)]
pub struct ReplCompare {
    active: Option<Compare>,
}

impl ReplCompare {
    /// Handle `line` if it belongs to the side-by-side mode; `None` means the ordinary REPL
    /// runs it. Returns (stdout, stderr, exit status).
    pub fn handle(
        &mut self,
        session: &mut Session,
        line: &str,
        pal: &Palette,
        diff_mode: DiffMode,
    ) -> Option<(String, String, i32)> {
        let t = line.trim();
        if let Some(arg) = t.strip_prefix("kernel ").map(str::trim) {
            match parse_kernel_arg(arg) {
                Ok(KernelArg::Many(vs)) => {
                    let mut out = format!(
                        "now simulating Linux {} side by side: each command runs in every version (`kernel X` ends it)\n",
                        KernelArg::Many(vs.clone())
                    );
                    for v in &vs {
                        if let Some(w) = boundaries::modelled_warning(*v) {
                            out.push_str(&format!("warning: {w}\n"));
                        }
                    }
                    self.active = Some(Compare::from_session(session, &vs));
                    return Some((out, String::new(), 0));
                }
                Ok(KernelArg::List) => {
                    return Some((boundaries::list_text(), String::new(), 0));
                }
                Ok(KernelArg::One(v)) => {
                    // Leaving: continue with that version's session if it ran, else the
                    // first's machine under the new version.
                    if let Some(c) = self.active.take() {
                        let pick = c
                            .sessions
                            .iter()
                            .find(|(x, _)| *x == v)
                            .or(c.sessions.first())
                            .map(|(_, s)| s.machine.clone());
                        if let Some(m) = pick {
                            *session = Session::new(m);
                        }
                    }
                    return None;
                }
                Err(_) => return None,
            }
        }
        let c = self.active.as_mut()?;
        let cmd = match parse_script_line(line) {
            Ok(None) => return Some((String::new(), String::new(), 0)),
            Ok(Some(Command::Quit)) => {
                return None;
            }
            Ok(Some(cmd)) => cmd,
            Err(_) => return None,
        };
        let cells = c.execute(&cmd);
        let rows = vec![(cmd.to_string(), cells)];
        let code = exit_code(&rows);
        let text = render_text(&c.report(&rows), pal, Some(diff_mode));
        Some((text, String::new(), code))
    }

    pub fn is_active(&self) -> bool {
        self.active.is_some()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testutil::t0;

    fn v(s: &str) -> KernelVersion {
        s.parse().unwrap()
    }

    #[test]
    fn kernel_args() {
        assert_eq!(parse_kernel_arg("5.1").unwrap(), KernelArg::One(v("5.1")));
        assert_eq!(parse_kernel_arg("list").unwrap(), KernelArg::List);
        assert_eq!(
            parse_kernel_arg("5.0,5.1,6.1").unwrap(),
            KernelArg::Many(vec![v("5.0"), v("5.1"), v("6.1")])
        );
        assert_eq!(
            parse_kernel_arg("5.0..5.2").unwrap(),
            KernelArg::Many(vec![v("5.0"), v("5.1"), v("5.2")])
        );
        for bad in ["5.0,", "5.0..", "5.01,5.1", ",", "5.0,x"] {
            assert!(parse_kernel_arg(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn the_2019_patch_side_by_side() {
        // register_memory_resource: ≤ 5.0 request_resource_conflict at the top level finds the
        // non-busy "Persistent Memory (legacy)" → -EEXIST; 5.1+ __request_region descends into
        // it (kernel-semantics SC-01).
        let lines = vec!["hotplug add a0000000 128M".to_string()];
        let (out, _, code) = run(
            &Machine::boot(t0(), crate::kernel::machine::Config::default()),
            &[v("5.0"), v("5.1"), v("6.1")],
            &lines,
            false,
            Format::Text,
            &Palette::plain(),
            None,
        );
        assert_eq!(code, 1);
        assert!(out.contains("-EEXIST (register_memory_resource)"), "{out}");
        assert!(out.contains("5.1, 6.1: ok"), "{out}");
        assert!(out.contains("[5.0] [5.1, 6.1]"), "{out}");
    }
}
