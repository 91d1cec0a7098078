//! A session: the machine, its steps (undo/redo), command execution (issue 4).
//!
//! [`Session::execute`] runs one [`Command`] and returns a [`StepOutcome`]: data, never text
//! on a terminal. Every kernel operation runs on a **clone** of the machine; the clone replaces
//! the machine only when the operation succeeded, so a refused command leaves the tree
//! byte-identical even where the kernel path claims a resource and then releases it
//! ("nothing lost", issue 3 item 6).
//!
//! The timeline: successful kernel operations, `kernel X.Y` and `reset` are **steps** (numbered
//! from 1). `undo` moves the cursor back one step, `redo` forward; a new step after an `undo`
//! discards the undone ones (like an editor). Refused commands and queries are not steps.
//! `diff` compares against the start, `diff N` against the state after step N.

use crate::command::{Command, MemTarget, ShowTarget, Span, Zone as ZoneArg};
use crate::diff::step::{Rows, step_view};
use crate::diff::{TreeDiff, diff};
use crate::kernel::machine::MachineUndo;
use crate::kernel::{Errno, KResult, KernelError, KernelVersion, ResRef, Trace, region, resource};
use crate::tree::flags::*;
use crate::tree::{Desc, NodeId, Tree};
use std::path::Path;

pub use crate::kernel::machine::{AddOptions, Config, Machine};
pub use crate::kernel::memory::OnlineType;

/// A problem of the session itself (bad request, I/O): exit status 2, not a kernel refusal.
#[derive(Debug, thiserror::Error)]
pub enum SessionError {
    #[error(
        "`{0}` needs real addresses, but this dump was read without root (every address is 0): \
         read /proc/iomem as root (sudo cat /proc/iomem) and try again"
    )]
    Zeroed(String),
    #[error("nothing to undo")]
    NothingToUndo,
    /// `undo` at the oldest kept step while older steps are still applied (issue 14 item 10).
    #[error(
        "nothing more to undo: the history holds the last {MAX_KEPT_STEPS} steps; the {0} \
         step(s) before them are still applied and can no longer be undone (`reset` goes back \
         to the start)"
    )]
    HistoryLimit(usize),
    /// A memory command on a `/proc/ioports` dump (issue 14 item 5).
    #[error(
        "`{0}` needs a /proc/iomem dump: this is a /proc/ioports dump (I/O port space has no \
         memory to hot-plug, online or allocate)"
    )]
    NeedsIomem(String),
    /// What the simulator cannot model (not the kernel's answer; issue 14 item 6).
    #[error("simulator limit, not the kernel's answer: {0}")]
    SimulatorLimit(String),
    #[error("nothing to redo")]
    NothingToRedo,
    #[error("no step {0}: the session has {1} step(s)")]
    NoSuchStep(usize, usize),
    #[error("step {0} is no longer kept: only the last {MAX_KEPT_STEPS} steps are ({1} forgotten)")]
    StepForgotten(usize, usize),
    #[error("bad --flags {0:?}: expected names like SYSTEM_RAM, MEM|BUSY or 0x200")]
    BadFlags(String),
    #[error("cannot save to {path}: {source}")]
    Save {
        path: String,
        #[source]
        source: std::io::Error,
    },
    #[error("no resource named {0:?}")]
    NoSuchName(String),
    #[error("{0}")]
    Syntax(#[from] crate::command::CommandError),
}

/// What a command produced, for the presentation layer.
#[derive(Debug)]
pub enum Output {
    /// Nothing to show beyond the outcome line.
    None,
    /// The tree (or part of it): `focus` empty = the whole tree; otherwise these nodes and
    /// their subtrees.
    Tree { tree: Tree, focus: Vec<NodeId> },
    /// `find ADDR`: the containing resources from the top.
    Path { addr: u64, path: Vec<ResRef> },
    /// Before and after (kernel operations that changed the tree, `diff`, `undo`…). After a
    /// step these are excerpts of the two trees ([`crate::diff::step`]) and `rows` places their
    /// rows in the whole trees (before's, after's); `None`: whole trees.
    Diff {
        before: Tree,
        after: Tree,
        rows: Option<Box<(Rows, Rows)>>,
        /// `diff(before, after)`, computed once for every consumer.
        diff: Box<TreeDiff>,
    },
    /// Plain text (help, blocks, intersects, notes).
    Text(String),
    /// `map`: rendered by the presentation layer, which knows the palette.
    Map(Box<crate::render::map::MapView>),
}

impl Output {
    /// A diff output: the structural diff of `before` → `after` computed once.
    pub fn diff_of(before: Tree, after: Tree, rows: Option<Box<(Rows, Rows)>>) -> Output {
        let diff = Box::new(diff(&before, &after));
        Output::Diff {
            before,
            after,
            rows,
            diff,
        }
    }
}

/// Result of one command.
#[derive(Debug)]
pub enum Outcome {
    /// Done (for kernel operations: the kernel returned 0).
    Ok,
    /// The simulated kernel refused; the machine is unchanged.
    Refused(KernelError),
    /// A tool's step failed after earlier steps were done: they stay done (as on the real
    /// machine) and are recorded as a step; exit 1.
    Partial(KernelError),
    /// A session-level failure (exit 2).
    Failed(SessionError),
    /// `quit`.
    Quit,
    /// A query found nothing (`where` with no candidate): exit status 1, the tree unchanged.
    Nothing(String),
}

/// Everything [`Session::execute`] returns.
#[derive(Debug)]
pub struct StepOutcome {
    /// The command's canonical text.
    pub command: String,
    pub outcome: Outcome,
    /// The kernel's decision path (for `explain` / `--explain`).
    pub trace: Trace,
    /// `explain` was asked for.
    pub explain: bool,
    /// The tree changed (a new step was recorded or the cursor moved).
    pub changed: bool,
    pub output: Output,
    /// What a tool (ndctl, daxctl, …) printed, shown after the output.
    pub notes: String,
    /// What the kernel left behind although the command succeeded (e.g. kmem unbound while
    /// its memory is online: `daxX.Y` and `System RAM (kmem)` stay until reboot).
    pub left_behind: Vec<String>,
    /// A query's answer as data (`intersects`, `blocks`), for `--format json`.
    pub answer: Option<serde_json::Value>,
}

impl StepOutcome {
    /// `CMD: -ERRNO (func: reason)`, the errno line with what became of the machine, and the
    /// kernel's log lines (the step's, then the error's own if it is not among them).
    fn kernel_failure(&self, e: &KernelError, after: &str) -> String {
        let mut s = format!(
            "{}: -{} ({}: {})\n  errno -{} = {}; {after}",
            crate::validate::shorten(&self.command),
            e.errno.name(),
            e.func,
            e.reason,
            e.errno.name(),
            -e.errno.value()
        );
        let mut logs: Vec<&str> = self.trace.log.iter().map(String::as_str).collect();
        if let Some(l) = &e.log
            && !logs.contains(&l.as_str())
        {
            logs.push(l);
        }
        for l in logs {
            s.push_str(&format!("\n  kernel: {l}"));
        }
        s
    }

    fn new(command: String) -> StepOutcome {
        StepOutcome {
            command,
            outcome: Outcome::Ok,
            trace: Trace::new(),
            explain: false,
            changed: false,
            output: Output::None,
            notes: String::new(),
            left_behind: Vec::new(),
            answer: None,
        }
    }
    /// A line that did not parse, as an outcome (exit 2).
    pub fn syntax_error(line: String, e: crate::command::CommandError) -> StepOutcome {
        let mut o = StepOutcome::new(line);
        o.outcome = Outcome::Failed(SessionError::Syntax(e));
        o
    }
    /// The exit status this outcome calls for: 0 ok, 1 refused by the kernel, 2 other failure.
    pub fn exit_code(&self) -> i32 {
        match self.outcome {
            Outcome::Ok | Outcome::Quit => 0,
            Outcome::Refused(_) | Outcome::Partial(_) | Outcome::Nothing(_) => 1,
            Outcome::Failed(_) => 2,
        }
    }
    /// The errno of a refusal.
    pub fn errno(&self) -> Option<Errno> {
        match &self.outcome {
            Outcome::Refused(e) | Outcome::Partial(e) => Some(e.errno),
            _ => None,
        }
    }
    /// The outcome line(s) as cli.md shows them:
    /// `hotplug add a0000000 128M: -EEXIST (register_memory_resource: …)` then the errno value
    /// and the kernel log line(s). `None` when the command succeeded.
    pub fn message(&self) -> Option<String> {
        match &self.outcome {
            Outcome::Ok | Outcome::Quit => None,
            Outcome::Refused(e) => Some(self.kernel_failure(e, "the tree is unchanged")),
            Outcome::Partial(e) => Some(self.kernel_failure(
                e,
                "the steps before the failure stay done (recorded as a step: `undo` reverts them)",
            )),
            // A syntax error quotes its own excerpt of the line.
            Outcome::Failed(e @ SessionError::Syntax(_)) => Some(e.to_string()),
            Outcome::Failed(e) => Some(format!(
                "{}: {}",
                crate::validate::shorten(&self.command),
                crate::validate::shorten_lines(&e.to_string())
            )),
            // `| grep` selecting nothing: silent, as grep is.
            Outcome::Nothing(why) if why.is_empty() => None,
            Outcome::Nothing(why) => Some(format!(
                "{}: {why}",
                crate::validate::shorten(&self.command)
            )),
        }
    }
}

/// How a step is undone (or, once undone, redone).
#[derive(Clone, Debug)]
enum StepUndo {
    /// The tree's journal and the rest of the machine as it was: the step's own size.
    Journal(MachineUndo),
    /// The whole other machine (`reset`, which replaces everything at once).
    Whole(Box<Machine>),
}

impl StepUndo {
    /// Apply to `m`; returns the record that goes the other way.
    fn apply(self, m: &mut Machine) -> StepUndo {
        match self {
            StepUndo::Journal(u) => StepUndo::Journal(m.undo(u)),
            StepUndo::Whole(mut other) => {
                std::mem::swap(m, &mut *other);
                StepUndo::Whole(other)
            }
        }
    }
}

/// One step of the timeline.
#[derive(Clone, Debug)]
pub struct Step {
    /// The command's canonical text.
    pub text: String,
    pub trace: Trace,
    /// While the step is applied: the record that undoes it; once undone: the one that redoes
    /// it. A step holds what it changed, not a machine (issue 12).
    undo: Option<StepUndo>,
}

/// A simulation session.
#[derive(Clone, Debug)]
pub struct Session {
    /// The starting machine, once it cannot be rebuilt from the kept steps (the first step
    /// was forgotten). Until then it is the current machine with every kept step undone.
    start: Option<Box<Machine>>,
    /// The current machine.
    pub machine: Machine,
    /// The most recent steps (at most [`MAX_KEPT_STEPS`]); `steps[0]` is step `dropped + 1`.
    steps: std::collections::VecDeque<Step>,
    /// Number of kept steps applied (`steps[..cursor]`); undo/redo move it.
    cursor: usize,
    /// Steps forgotten to bound memory (a script of millions of commands), oldest first.
    dropped: usize,
    /// Build each step's diff ([`Output::Diff`]); off when nothing shows it (`--format iomem`
    /// after a script), so a step costs its change only.
    step_views: bool,
}

/// How many steps `undo`/`diff STEP` can reach back. Each kept step holds its undo record (its
/// change and the machine's small non-tree state), so memory is bounded however many commands
/// run.
pub const MAX_KEPT_STEPS: usize = 1000;

impl Session {
    pub fn new(machine: Machine) -> Session {
        Session {
            start: None,
            machine,
            steps: std::collections::VecDeque::new(),
            cursor: 0,
            dropped: 0,
            step_views: true,
        }
    }

    /// Whether steps build their diff output (default on). Off, a changing step's output is
    /// `Output::None` with `changed` set.
    pub fn set_step_views(&mut self, on: bool) {
        self.step_views = on;
    }
    pub fn tree(&self) -> &Tree {
        &self.machine.tree
    }
    /// The starting machine (rebuilt by undoing the kept steps on a copy while none was
    /// forgotten).
    pub fn start(&self) -> std::borrow::Cow<'_, Machine> {
        match &self.start {
            Some(m) => std::borrow::Cow::Borrowed(m),
            None => std::borrow::Cow::Owned(self.rewound(0)),
        }
    }
    /// Steps currently applied (the kept ones: at most [`MAX_KEPT_STEPS`]).
    pub fn steps(&self) -> impl DoubleEndedIterator<Item = &Step> + '_ {
        self.steps.range(..self.cursor)
    }
    /// Number of kept steps currently applied.
    pub fn step_count(&self) -> usize {
        self.cursor
    }
    pub fn version(&self) -> KernelVersion {
        self.machine.config.version
    }

    /// A copy of the machine as it was before kept step `k` (0-based): the current one with
    /// the applied steps from `k` on undone. Costs one machine copy plus those steps' changes.
    fn rewound(&self, k: usize) -> Machine {
        let mut m = self.machine.clone();
        for i in (k..self.cursor).rev() {
            if let Some(u) = &self.steps[i].undo {
                let _ = u.clone().apply(&mut m);
            }
        }
        m
    }

    /// Begin a step on the current machine: what `end_step` turns into its undo record.
    fn begin(&mut self) -> Box<crate::kernel::machine::MachineRest> {
        self.machine.begin_step()
    }

    /// Undo what was done since `begin` (a refused command: the machine exactly as it was).
    fn abandon(&mut self, rest: Box<crate::kernel::machine::MachineRest>) {
        let u = self.machine.end_step(rest);
        let _ = self.machine.undo(u);
    }

    /// The diff a step's journal stands for, from the change set: excerpts of the trees
    /// before and after it ([`step_view`]); `None` when the tree did not change.
    fn view(tree: &mut Tree, j: &mut crate::tree::TreeJournal) -> Option<Output> {
        if j.is_empty() {
            return None;
        }
        let (v, back) = step_view(tree, std::mem::take(j));
        *j = back;
        let out = Output::diff_of(
            v.before,
            v.after,
            Some(Box::new((v.before_rows, v.after_rows))),
        );
        match &out {
            Output::Diff { diff, .. } if diff.is_empty() => None,
            _ => Some(out),
        }
    }

    /// Keep what was done since `begin` as a step; returns its diff (`None`: no change to the
    /// tree).
    fn commit_viewed(
        &mut self,
        text: String,
        rest: Box<crate::kernel::machine::MachineRest>,
        trace: Trace,
    ) -> Option<Output> {
        self.machine.tree.compact_names();
        let mut u = self.machine.end_step(rest);
        let out = if self.step_views {
            Self::view(&mut self.machine.tree, &mut u.tree)
        } else if u.tree.is_empty() {
            None
        } else {
            // Changed (the journal holds a change); not shown, so not built.
            Some(Output::None)
        };
        self.push_step(text, StepUndo::Journal(u), trace);
        out
    }

    /// The diff of flipping step `k` (undo or redo), the tree being in its new state.
    fn flip_viewed(&mut self, k: usize) -> Output {
        let before = match &self.steps[k].undo {
            Some(StepUndo::Whole(_)) => Some(self.machine.tree.clone()),
            _ => None,
        };
        self.flip(k);
        match (before, &mut self.steps[k].undo) {
            (None, Some(StepUndo::Journal(u))) => Self::view(&mut self.machine.tree, &mut u.tree)
                .unwrap_or_else(|| {
                    let empty = || {
                        Tree::new(
                            self.machine.tree.kind(),
                            self.machine.tree.get(Tree::ROOT).end,
                        )
                    };
                    Output::diff_of(empty(), empty(), None)
                }),
            (before, _) => Output::diff_of(
                before.unwrap_or_else(|| self.machine.tree.clone()),
                self.machine.tree.clone(),
                None,
            ),
        }
    }

    /// Keep what was done since `begin` as a step.
    fn commit(
        &mut self,
        text: String,
        rest: Box<crate::kernel::machine::MachineRest>,
        trace: Trace,
    ) {
        // Between commands no `Name` is held: names no node uses any more can go (journaled:
        // undo needs them back).
        self.machine.tree.compact_names();
        let u = self.machine.end_step(rest);
        self.push_step(text, StepUndo::Journal(u), trace);
    }

    fn push_step(&mut self, text: String, undo: StepUndo, trace: Trace) {
        self.steps.truncate(self.cursor);
        self.steps.push_back(Step {
            text,
            trace,
            undo: Some(undo),
        });
        self.cursor = self.steps.len();
        if self.steps.len() > MAX_KEPT_STEPS {
            if self.start.is_none() {
                // The oldest step is about to go: keep the start it leads back to.
                self.start = Some(Box::new(self.rewound(0)));
            }
            self.steps.pop_front();
            self.dropped += 1;
        }
        self.cursor = self.steps.len();
    }

    /// Undo the step at `k` if it is applied, redo it if not, in place (the caller moves the
    /// cursor).
    fn flip(&mut self, k: usize) {
        if let Some(u) = self.steps[k].undo.take() {
            self.steps[k].undo = Some(u.apply(&mut self.machine));
        }
    }

    /// The tree after step `n` (numbered from 1 over the whole session; 0 = the start).
    fn tree_after(&self, n: usize) -> Result<std::borrow::Cow<'_, Tree>, SessionError> {
        use std::borrow::Cow;
        let applied = self.dropped + self.cursor;
        if n > applied {
            return Err(SessionError::NoSuchStep(n, applied));
        }
        if n == applied {
            return Ok(Cow::Borrowed(&self.machine.tree));
        }
        if n == 0
            && let Some(s) = &self.start
        {
            return Ok(Cow::Borrowed(&s.tree));
        }
        match n.checked_sub(self.dropped) {
            Some(local) => Ok(Cow::Owned(self.rewound(local).tree)),
            None => Err(SessionError::StepForgotten(n, self.dropped)),
        }
    }

    /// `COMMAND | grep …`: the command runs as typed alone; what it prints (a query's text, or
    /// a changing tool's words) goes through grep. Exit status 1 when grep selects no line and
    /// the command itself succeeded, as the shell's pipeline reports grep's status.
    fn execute_piped(
        &mut self,
        cmd: &Command,
        inner: &Command,
        grep: &crate::tools::grep::Grep,
    ) -> StepOutcome {
        let mut o = self.execute(inner);
        o.command = cmd.to_string();
        let f = if let Output::Text(t) = &o.output {
            let f = grep.filter(t);
            o.output = if f.text.is_empty() {
                Output::None
            } else {
                Output::Text(f.text.clone())
            };
            f
        } else {
            let f = grep.filter(&o.notes);
            o.notes = f.text.clone();
            f
        };
        if matches!(o.outcome, Outcome::Ok) && !f.selected {
            // grep says nothing when no line is selected: status 1 only.
            o.outcome = Outcome::Nothing(String::new());
        }
        o
    }

    /// A tool command: its kernel operations on a clone; kept when all succeeded, or when a
    /// step failed after earlier ones changed the machine ([`Outcome::Partial`]).
    fn run_tool(&mut self, t: &crate::tools::ToolCommand, out: &mut StepOutcome) {
        let rest = self.begin();
        let mut trace = Trace::new();
        let r = crate::tools::run(&mut self.machine, t, &mut trace);
        out.notes = r.output;
        out.left_behind = r.left_behind;
        let keep = match r.error {
            None => true,
            Some(e) if r.partial => {
                out.outcome = Outcome::Partial(e);
                true
            }
            Some(e) => {
                out.outcome = Outcome::Refused(e);
                false
            }
        };
        if keep {
            if let Some(d) = self.commit_viewed(out.command.clone(), rest, trace.clone()) {
                out.output = d;
                out.changed = true;
            }
        } else {
            self.abandon(rest);
        }
        out.trace = trace;
    }

    /// Run one command.
    pub fn execute(&mut self, cmd: &Command) -> StepOutcome {
        if let Command::Pipe(inner, grep) = cmd {
            return self.execute_piped(cmd, inner, grep);
        }
        let mut out = StepOutcome::new(cmd.to_string());
        let (cmd, explain) = match cmd {
            Command::Explain(inner) => (inner.as_ref(), true),
            c => (c, false),
        };
        out.explain = explain;
        if explain {
            // The outcome line names the command that ran (cli.md's refusal format), not the
            // `explain` wrapper; `explain` is a way of looking at it.
            out.command = cmd.to_string();
        }
        if self.machine.tree.zeroed && needs_addresses(cmd) {
            out.outcome = Outcome::Failed(SessionError::Zeroed(cmd.to_string()));
            return out;
        }
        if self.machine.tree.kind() == crate::tree::RootKind::Ioport && needs_memory(cmd) {
            out.outcome = Outcome::Failed(SessionError::NeedsIomem(cmd.to_string()));
            return out;
        }
        match cmd {
            Command::Tool(t) if t.is_query() => {
                let r = match t {
                    // Reads the machine as it is: no copy to throw away.
                    crate::tools::ToolCommand::Cat(c) => crate::tools::cat::run(&self.machine, c),
                    _ => {
                        let mut m = self.machine.clone();
                        crate::tools::run(&mut m, t, &mut out.trace)
                    }
                };
                // An empty list prints nothing (as ndctl/daxctl do).
                if !r.output.is_empty() {
                    out.output = Output::Text(r.output);
                }
                // A query that fails (cat of a missing file) exits 1, its output still shown.
                if let Some(e) = r.error {
                    out.outcome = Outcome::Refused(e);
                }
            }
            Command::Tool(t) => self.run_tool(t, &mut out),
            c if c.is_kernel_op() => {
                let rest = self.begin();
                let mut trace = Trace::new();
                let r = kernel_op(&mut self.machine, c, &mut trace);
                match r {
                    Ok(note) => {
                        out.left_behind = left_behind(&rest, &self.machine, c);
                        match self.commit_viewed(out.command.clone(), rest, trace.clone()) {
                            Some(d) => {
                                out.output = d;
                                out.changed = true;
                            }
                            None => out.output = note.map_or(Output::None, Output::Text),
                        }
                    }
                    // The simulator's own bound (MAX_BLOCKS) is raised inside the kernel model
                    // as a KernelError; it is not the kernel's answer, so it is not a refusal.
                    Err(e) if e.reason.contains("simulator's limit") => {
                        self.abandon(rest);
                        out.outcome = Outcome::Failed(SessionError::SimulatorLimit(format!(
                            "{}: {}",
                            e.func, e.reason
                        )))
                    }
                    Err(e) => {
                        self.abandon(rest);
                        out.outcome = Outcome::Refused(e)
                    }
                }
                out.trace = trace;
            }
            Command::Intersects { span, flags, desc } => {
                match intersects(
                    &self.machine,
                    *span,
                    flags.as_deref(),
                    *desc,
                    &mut out.trace,
                ) {
                    Ok((t, a)) => {
                        out.output = Output::Text(t);
                        out.answer = Some(a);
                    }
                    Err(e) => out.outcome = Outcome::Failed(e),
                }
            }
            Command::Show { target } => match self.show(target.as_ref()) {
                Ok(o) => out.output = o,
                Err(e) => out.outcome = Outcome::Failed(e),
            },
            Command::Find { addr } => {
                let t = &self.machine.tree;
                out.output = Output::Path {
                    addr: *addr,
                    path: t
                        .path_to(*addr)
                        .into_iter()
                        .map(|id| ResRef::of(t, id))
                        .collect(),
                };
            }
            Command::Blocks(o) => {
                out.output =
                    Output::Text(crate::render::lsmem::render_lsmem_with(&self.machine, o));
                out.answer = Some(blocks_json(&self.machine));
            }
            Command::BlocksSysfs => {
                out.output = Output::Text(crate::render::blocks::render_memory_blocks_txt(
                    &self.machine,
                ))
            }
            Command::Map { width } => {
                let before = self
                    .last_change()
                    .map(|(cmd, before)| (before, cmd.to_string()));
                out.output = Output::Map(Box::new(crate::render::map::MapView {
                    tree: self.machine.tree.clone(),
                    before,
                    width: width.unwrap_or(crate::render::map::DEFAULT_WIDTH),
                }));
            }
            Command::Where {
                size,
                purpose,
                node,
                count,
            } => {
                use crate::kernel::placement::{Purpose, answer_text, where_hotplug, where_memmap};
                let ans = match purpose {
                    Purpose::Hotplug => where_hotplug(&self.machine, *size, *node),
                    Purpose::Memmap => where_memmap(&self.machine, *size),
                };
                out.output = Output::Text(answer_text(
                    &self.machine,
                    *purpose,
                    *size,
                    count.unwrap_or(5),
                    &ans,
                ));
                // The answer as data, addresses as "0x…" strings like every JSON address.
                let res = |r: &Option<ResRef>| {
                    r.as_ref().map(|r| {
                        serde_json::json!({"start": hex(r.start), "end": hex(r.end), "name": r.name})
                    })
                };
                out.answer = Some(serde_json::json!({
                    "for": purpose.word(),
                    "size": hex(*size),
                    "candidates": ans.candidates.iter().take(count.unwrap_or(5)).map(|c| serde_json::json!({
                        "start": hex(c.start),
                        "last_start": hex(c.last_start),
                        "size": hex(c.size),
                        "nests_under": res(&c.parent),
                        "reason": c.reason,
                        "command": c.command,
                    })).collect::<Vec<_>>(),
                    "blockers": ans.blockers,
                    "largest": ans.largest.as_ref().map(|(s, l, p)| serde_json::json!({
                        "start": hex(*s), "size": hex(*l), "under": res(p),
                    })),
                }));
                if ans.candidates.is_empty() {
                    out.outcome = Outcome::Nothing(format!(
                        "no place for {} (see above)",
                        crate::render::fmt_size(*size)
                    ));
                }
            }
            Command::Diff { step } => {
                let base = self.tree_after(step.unwrap_or(0));
                match base {
                    Ok(b) => {
                        out.output =
                            Output::diff_of(b.into_owned(), self.machine.tree.clone(), None)
                    }
                    Err(e) => out.outcome = Outcome::Failed(e),
                }
            }
            Command::Undo => {
                if self.cursor == 0 && self.dropped > 0 {
                    out.outcome = Outcome::Failed(SessionError::HistoryLimit(self.dropped));
                } else if self.cursor == 0 {
                    out.outcome = Outcome::Failed(SessionError::NothingToUndo);
                } else {
                    self.cursor -= 1;
                    out.output = self.flip_viewed(self.cursor);
                    out.command = format!("undo {}", self.steps[self.cursor].text);
                    out.changed = true;
                }
            }
            Command::Redo => {
                if self.cursor == self.steps.len() {
                    out.outcome = Outcome::Failed(SessionError::NothingToRedo);
                } else {
                    out.output = self.flip_viewed(self.cursor);
                    out.command = format!("redo {}", self.steps[self.cursor].text);
                    self.cursor += 1;
                    out.changed = true;
                }
            }
            Command::Reset => {
                let before = self.machine.tree.clone();
                let mut m = self.start().into_owned();
                // Reset the tree, keep the kernel the user chose last.
                m.set_version(self.machine.config.version);
                let old = std::mem::replace(&mut self.machine, m);
                self.push_step("reset".into(), StepUndo::Whole(Box::new(old)), Trace::new());
                out.changed = !before.same_as(&self.machine.tree);
                out.output = Output::diff_of(before, self.machine.tree.clone(), None);
            }
            Command::Kernel { version } => {
                let rest = self.begin();
                self.machine.set_version(*version);
                self.commit(format!("kernel {version}"), rest, Trace::new());
                let mut text = format!("now simulating Linux {version}");
                // A version outside the modelled boundaries is accepted, with the behaviour
                // it gets named (issue 9).
                if let Some(w) = crate::kernel::boundaries::modelled_warning(*version) {
                    text.push_str(&format!("\nwarning: {w}"));
                }
                out.output = Output::Text(text);
            }
            Command::Save { path } => {
                match save_atomic(Path::new(path), &iomem_text(&self.machine.tree)) {
                    Ok(()) => out.output = Output::Text(format!("saved to {path}")),
                    Err(source) => {
                        out.outcome = Outcome::Failed(SessionError::Save {
                            path: path.clone(),
                            source,
                        })
                    }
                }
            }
            Command::Help { topic } => {
                out.output = Output::Text(crate::command::help_text(topic.as_deref()))
            }
            Command::Quit => out.outcome = Outcome::Quit,
            // Kernel ops are handled above; `Explain` was unwrapped.
            _ => {}
        }
        out
    }

    /// The last applied step's command and the tree before it (what `map` marks; the tree
    /// after it is [`Session::tree`]).
    pub fn last_change(&self) -> Option<(&str, Tree)> {
        let k = self.cursor.checked_sub(1)?;
        let step = self.steps.get(k)?;
        Some((step.text.as_str(), self.rewound(k).tree))
    }

    /// Diff of the start and the current tree.
    pub fn diff_from_start(&self) -> TreeDiff {
        diff(&self.start().tree, &self.machine.tree)
    }

    fn show(&self, target: Option<&ShowTarget>) -> Result<Output, SessionError> {
        let t = &self.machine.tree;
        let focus = match target {
            None => Vec::new(),
            Some(ShowTarget::Addr(a)) => {
                // The resources containing ADDR are shown with their path; none contains it:
                // say so, as `find` does (not the whole tree).
                let path = t.path_to(*a);
                if path.is_empty() {
                    return Ok(Output::Path {
                        addr: *a,
                        path: Vec::new(),
                    });
                }
                path.first().copied().into_iter().collect()
            }
            Some(ShowTarget::Name(n)) => {
                let v: Vec<NodeId> = t
                    .descendants(Tree::ROOT)
                    .filter(|&id| t.name_is(id, n))
                    .collect();
                if v.is_empty() {
                    return Err(SessionError::NoSuchName(n.clone()));
                }
                v
            }
        };
        Ok(Output::Tree {
            tree: t.clone(),
            focus,
        })
    }
}

/// Commands about memory (hotplug, memory blocks, free memory regions, dax kmem): meaningless
/// on a `/proc/ioports` tree.
fn needs_memory(c: &Command) -> bool {
    match c {
        Command::Explain(inner) => needs_memory(inner),
        _ => matches!(
            c,
            Command::HotplugAdd { .. }
                | Command::HotplugRemove { .. }
                | Command::MemoryOnline { .. }
                | Command::MemoryOffline { .. }
                | Command::FreeRegion { .. }
                | Command::DaxKmem { .. }
                | Command::DaxDevdax { .. }
                | Command::Blocks(_)
        ),
    }
}

fn needs_addresses(c: &Command) -> bool {
    c.is_kernel_op()
        || matches!(
            c,
            Command::Intersects { .. }
                // Memory blocks are derived from System RAM addresses: on a zeroed dump every
                // range is 0-0 and `blocks` would invent memory0.
                | Command::Blocks(_)
                | Command::Find { .. }
                | Command::Where { .. }
                | Command::Show {
                    target: Some(ShowTarget::Addr(_))
                }
        )
}

/// The node with exactly this range (what `remove-resource`/`release-resource`/`adjust` act on:
/// the kernel functions take a `struct resource *` the caller holds).
fn node_at(tree: &Tree, span: Span, func: &'static str) -> KResult<NodeId> {
    tree.find_range(span.start, span.end()).ok_or_else(|| {
        KernelError::new(
            Errno::EINVAL,
            func,
            format!(
                "no resource [{:x}-{:x}] in the tree (the caller must hold the resource)",
                span.start,
                span.end()
            ),
        )
    })
}

/// Run a kernel operation on `m` (a clone; the caller keeps it only on success). Returns a
/// note to show when the tree did not change.
fn kernel_op(m: &mut Machine, c: &Command, trace: &mut Trace) -> KResult<Option<String>> {
    let v = m.config.version;
    match c {
        Command::HotplugAdd {
            span,
            nid,
            driver_managed,
            merge,
        } => {
            let opts = AddOptions {
                driver_managed: driver_managed.clone(),
                merge_resource: *merge,
            };
            // `--nid` above i32::MAX is refused by the command layer (validate.rs): the
            // kernel's `int nid` cannot hold it.
            let nid = i32::try_from(*nid).unwrap_or(i32::MAX);
            m.add_memory(nid, span.start, span.size, &opts, trace)?;
        }
        Command::HotplugRemove { span } => m.remove_memory(span.start, span.size, trace)?,
        Command::MemoryOnline { target, zone } => {
            let (s, n) = mem_range(m, target);
            // `--zone` picks the word written to `state` (memory_block_online's online_type).
            let ty = match zone {
                None => OnlineType::Online,
                Some(ZoneArg::Normal) => OnlineType::OnlineKernel,
                Some(ZoneArg::Movable) => OnlineType::OnlineMovable,
            };
            m.online_memory(s, n, ty, trace)?;
            // Onlining changes no resource, only block state: say what happened.
            return Ok(Some(block_states(m, s, n)));
        }
        Command::MemoryOffline { target } => {
            let (s, n) = mem_range(m, target);
            m.offline_memory(s, n, trace)?;
            return Ok(Some(block_states(m, s, n)));
        }
        Command::Request { span, name } => {
            resource::request_region(
                &mut m.tree,
                span.start,
                span.size,
                name.as_bytes(),
                0,
                trace,
            )?;
        }
        Command::Release { span } => {
            trace.event(
                0,
                "release_mem_region",
                crate::kernel::Event::RootCall {
                    release: true,
                    start: span.start,
                    n: span.size,
                },
            );
            resource::__release_region(&mut m.tree, Tree::ROOT, span.start, span.size, v, trace)?;
        }
        Command::RequestResource { span, name, flags } => {
            let t = &mut m.tree;
            let id = t.alloc(
                span.start,
                span.end(),
                name.as_bytes(),
                flags.unwrap_or(IORESOURCE_MEM | IORESOURCE_BUSY),
                Desc::None,
            );
            if let Some(conflict) = resource::request_resource_conflict(t, Tree::ROOT, id) {
                let reason = if conflict == Tree::ROOT {
                    "outside the iomem root (or end < start)".to_string()
                } else {
                    format!(
                        "request_resource_conflict found {} at top level",
                        ResRef::of(t, conflict)
                    )
                };
                trace.step(0, "request_resource_conflict", format!("{reason} → -EBUSY"));
                return Err(KernelError::new(Errno::EBUSY, "request_resource", reason)
                    .with_conflict(ResRef::of(t, conflict)));
            }
            trace.step(
                0,
                "request_resource_conflict",
                "no conflict at top level → linked under the root",
            );
            if flags.is_none() {
                crate::infer::infer_node(t, id);
                trace.step(
                    0,
                    "request-resource",
                    format!(
                        "flags inferred from the name: {}",
                        describe(t.get(id).flags)
                    ),
                );
            }
        }
        Command::Insert {
            span,
            name,
            expand,
            flags,
        } => {
            let t = &mut m.tree;
            let id = t.alloc(
                span.start,
                span.end(),
                name.as_bytes(),
                flags.unwrap_or(IORESOURCE_MEM | IORESOURCE_BUSY),
                Desc::None,
            );
            if *expand {
                if !resource::insert_resource_expand_to_fit(t, Tree::ROOT, id, trace) {
                    return Err(KernelError::new(
                        Errno::EBUSY,
                        "insert_resource_expand_to_fit",
                        "the expanded range conflicts with the root: left unlinked",
                    ));
                }
            } else {
                resource::insert_resource(t, Tree::ROOT, id, trace)?;
            }
            if flags.is_none() {
                // The flags (and desc) a dump with this line would be read with.
                crate::infer::infer_node(t, id);
                trace.step(
                    0,
                    "insert",
                    format!(
                        "flags inferred from the name: {}",
                        describe(t.get(id).flags)
                    ),
                );
            }
        }
        Command::RemoveResource { span } => {
            let id = node_at(&m.tree, *span, "remove_resource")?;
            trace.step(
                0,
                "remove_resource",
                format!("{} goes, its children move up", ResRef::of(&m.tree, id)),
            );
            resource::remove_resource(&mut m.tree, id)?;
        }
        Command::ReleaseResource { span } => {
            let id = node_at(&m.tree, *span, "release_resource")?;
            trace.step(
                0,
                "release_resource",
                format!("{} goes with its children", ResRef::of(&m.tree, id)),
            );
            resource::release_resource(&mut m.tree, id)?;
        }
        Command::Adjust { span, new } => {
            let id = node_at(&m.tree, *span, "adjust_resource")?;
            trace.step(
                0,
                "adjust_resource",
                format!(
                    "{} → [{:x}-{:x}]",
                    ResRef::of(&m.tree, id),
                    new.start,
                    new.end()
                ),
            );
            resource::adjust_resource(&mut m.tree, id, new.start, new.size)?;
        }
        Command::FreeRegion {
            size,
            name,
            bottom_up,
            align,
        } => {
            // PHYSMEM_END: 2^46 - 1, or 2^52 - 1 with 5-level paging (kernel-semantics §2.12).
            let bits = if m.config.la57 {
                region::PHYS_BITS_5LEVEL
            } else {
                region::PHYS_BITS_4LEVEL
            };
            let id = if *bottom_up {
                // CXL's caller passes SZ_256M (the region granularity); kunit passes SZ_1M.
                let align = align.unwrap_or(256 << 20);
                region::alloc_free_mem_region(
                    &mut m.tree,
                    Tree::ROOT,
                    *size,
                    align,
                    name.as_bytes(),
                    bits,
                    v,
                    trace,
                )?
            } else {
                region::request_free_mem_region(
                    &mut m.tree,
                    Tree::ROOT,
                    *size,
                    name.as_bytes(),
                    bits,
                    v,
                    trace,
                )?
            };
            return Ok(Some(format!("claimed {}", ResRef::of(&m.tree, id))));
        }
        Command::DaxKmem { dev } => m.dax_kmem(dev, trace)?,
        Command::DaxDevdax { dev } => m.dax_devdax(dev, trace)?,
        _ => {}
    }
    Ok(None)
}

/// What a successful command left behind: kmem ranges a `dax devdax` could not remove
/// (memory online) stay, with `daxX.Y` and `System RAM (kmem)`.
fn left_behind(
    before: &crate::kernel::machine::MachineRest,
    after: &Machine,
    c: &Command,
) -> Vec<String> {
    let Command::DaxDevdax { dev } = c else {
        return Vec::new();
    };
    let was = Machine::dax_before(before)
        .get(dev)
        .map(|d| d.kmem_ranges.clone())
        .unwrap_or_default();
    match after.dax.get(dev) {
        Some(d) if !d.kmem_ranges.is_empty() && !was.is_empty() => d
            .kmem_ranges
            .iter()
            .map(|(s, e)| {
                format!(
                    "kmem unbound, but remove_memory failed (memory online): {dev} [{s:#x}-{e:#x}] and its System RAM (kmem) stay until reboot"
                )
            })
            .collect(),
        _ => Vec::new(),
    }
}

/// `memory20: online (Movable)` for each block of `[start, start + size)`, one per line.
fn block_states(m: &Machine, start: u64, size: u64) -> String {
    let first = m.block_id(start);
    let last = m.block_id(start.saturating_add(size.max(1) - 1));
    m.blocks
        .range(first, last)
        .map(|b| match b.zone {
            Some(z) => format!("memory{}: {} ({})\n", b.id, b.state, z.name()),
            None => format!("memory{}: {}\n", b.id, b.state),
        })
        .collect()
}

/// `memory online|offline` target → (start, size). Without SIZE: the block containing START.
fn mem_range(m: &Machine, t: &MemTarget) -> (u64, u64) {
    let bs = m.config.block_size.max(1);
    match *t {
        MemTarget::Block(n) => {
            let (s, e) = m.block_range(n);
            (s, e.wrapping_sub(s).wrapping_add(1))
        }
        MemTarget::Range {
            start,
            size: Some(n),
        } => (start, n),
        MemTarget::Range { start, size: None } => (start - start % bs, bs),
        MemTarget::Blocks(a, b) => {
            let (s, _) = m.block_range(a);
            let (_, e) = m.block_range(b);
            (s, e.wrapping_sub(s).wrapping_add(1))
        }
    }
}

/// `intersects START SIZE [--flags F] [--desc D]`: `region_intersects()`. Without `--flags`
/// the question is the common one, "is this System RAM?" (`IORESOURCE_SYSTEM_RAM`, as
/// `page_is_ram`-style callers ask).
fn intersects(
    m: &Machine,
    span: Span,
    flags: Option<&str>,
    desc: Option<Desc>,
    trace: &mut Trace,
) -> Result<(String, serde_json::Value), SessionError> {
    let fl = match flags {
        None => IORESOURCE_SYSTEM_RAM,
        Some(f) => region::parse_flags(f).ok_or_else(|| SessionError::BadFlags(f.to_string()))?,
    };
    let desc = desc.unwrap_or(Desc::None);
    let v = m.config.version;
    let r = region::region_intersects(&m.tree, span.start, span.size, fl, desc, v, trace);
    let algo = if region::region_intersects_is_descendant_aware(v) {
        "descendant-aware: v6.12+ and 5.10/5.15/6.1/6.6-stable"
    } else {
        "top level only: before v6.12 and its stable backports"
    };
    let text = format!(
        "{} ({}): region_intersects({:#x}, {:#x}, {}, {}) on Linux {v} ({algo})",
        r.kernel_name(),
        r.value(),
        span.start,
        span.size,
        describe(fl),
        desc.kernel_name(),
    );
    let answer = serde_json::json!({
        "result": r.kernel_name(),
        "value": r.value(),
        "start": hex(span.start),
        "size": hex(span.size),
        "flags": describe(fl),
        "desc": desc.kernel_name(),
        "algorithm": algo,
    });
    Ok((text, answer))
}

/// `blocks` as data: one object per memory block, as sysfs names and prints its attributes.
fn blocks_json(m: &Machine) -> serde_json::Value {
    let blocks: Vec<serde_json::Value> = m
        .blocks
        .iter()
        .map(|b| {
            let (start, end) = m.block_range(b.id);
            serde_json::json!({
                "block": format!("memory{}", b.id),
                "start": hex(start),
                "end": hex(end),
                "state": b.state.as_str(),
                "zone": b.zone.map(|z| z.name()),
                "valid_zones": m.blocks.valid_zones(b),
                "node": b.nid,
                "removable": b.removable,
            })
        })
        .collect();
    serde_json::json!({
        "block_size": hex(m.config.block_size),
        "blocks": blocks,
    })
}

use crate::render::json::hex;

/// `/proc/iomem` text of a tree.
pub fn iomem_text(t: &Tree) -> Vec<u8> {
    crate::render::render_iomem(t)
}

/// Write `bytes` to `path` atomically: see [`crate::save::save_atomic`] (symlinks followed,
/// non-regular files refused, mode and owner kept, the temporary file removed on SIGINT).
pub fn save_atomic(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    crate::save::save_atomic(path, bytes)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::command::parse_command;
    use crate::testutil::{t0, text};

    /// T0 as the booted machine holds it (the root's end lowered to 2^46 − 1, x86 setup_arch).
    fn t0_booted() -> Tree {
        Machine::boot(t0(), Config::default()).tree
    }
    fn session() -> Session {
        Session::new(Machine::boot(t0(), Config::default()))
    }
    fn run(s: &mut Session, line: &str) -> StepOutcome {
        s.execute(&parse_command(line).unwrap())
    }

    /// A long script keeps only the last MAX_KEPT_STEPS steps: undo reaches back that far,
    /// `diff` against the start still works, a forgotten step is a clear error.
    #[test]
    fn history_is_bounded() {
        let mut s = session();
        let n = MAX_KEPT_STEPS + 5;
        for i in 0..n {
            let line = if i % 2 == 0 {
                "request c1000000 4K foo"
            } else {
                "release c1000000 4K"
            };
            assert_eq!(run(&mut s, line).exit_code(), 0, "{line}");
        }
        // n is odd: foo is held.
        assert!(text(s.tree()).contains("  c1000000-c1000fff : foo"));
        assert_eq!(s.step_count(), MAX_KEPT_STEPS);
        // The start kept when the first step was forgotten is the start (it was rebuilt from
        // the steps' undo records once: a wrong rewind there went unnoticed before).
        assert!(s.start().tree.same_as(&t0_booted()));
        assert_eq!(run(&mut s, "diff 0").exit_code(), 0);
        assert_eq!(run(&mut s, &format!("diff {n}")).exit_code(), 0);
        let o = run(&mut s, "diff 3");
        assert!(matches!(
            o.outcome,
            Outcome::Failed(SessionError::StepForgotten(3, 5))
        ));
        for _ in 0..MAX_KEPT_STEPS {
            assert_eq!(run(&mut s, "undo").exit_code(), 0);
        }
        // Back at the state after step 5 (foo held); one more undo has nothing left.
        assert!(text(s.tree()).contains("  c1000000-c1000fff : foo"));
        assert_eq!(run(&mut s, "undo").exit_code(), 2);
    }

    #[test]
    fn request_then_undo_redo() {
        // SC-20: request_mem_region(0xc1000000, 0x1000, "foo") nests under the PCI window.
        let mut s = session();
        let o = run(&mut s, "request c1000000 4K foo");
        assert_eq!(o.exit_code(), 0, "{:?}", o.message());
        assert!(o.changed);
        assert!(
            text(s.tree())
                .contains("c0000000-febfffff : PCI Bus 0000:00\n  c1000000-c1000fff : foo\n")
        );
        assert_eq!(s.step_count(), 1);
        run(&mut s, "undo");
        assert!(s.tree().same_as(&t0_booted()));
        run(&mut s, "redo");
        assert!(text(s.tree()).contains("  c1000000-c1000fff : foo"));
        assert_eq!(run(&mut s, "redo").exit_code(), 2);
    }

    #[test]
    fn refused_command_leaves_the_tree_and_timeline_alone() {
        // SC-20: a second request overlapping busy foo fails.
        let mut s = session();
        run(&mut s, "request c1000000 4K foo");
        let before = s.tree().clone();
        let o = run(&mut s, "request c1000800 4K bar");
        assert_eq!(o.exit_code(), 1);
        assert_eq!(o.errno(), Some(Errno::EBUSY));
        assert!(s.tree().same_as(&before));
        assert_eq!(text(s.tree()), text(&before));
        assert_eq!(s.step_count(), 1);
        let msg = o.message().unwrap();
        assert!(
            msg.starts_with(
                "request c1000800 4K bar: -EBUSY (__request_region: conflict with BUSY \"foo\""
            ),
            "{msg}"
        );
    }

    #[test]
    fn release_of_a_partial_range_warns_and_changes_nothing() {
        // SC-20: release_mem_region(0xc1000000, 0x800) → "Trying to free nonexistent resource".
        let mut s = session();
        run(&mut s, "request c1000000 4K foo");
        let o = run(&mut s, "release c1000000 0x800");
        assert_eq!(o.exit_code(), 1);
        assert!(o.message().unwrap().contains(
            "kernel: Trying to free nonexistent resource <0x00000000c1000000-0x00000000c10007ff>"
        ));
        let o = run(&mut s, "release c1000000 4K");
        assert_eq!(o.exit_code(), 0);
        assert!(s.tree().same_as(&t0_booted()));
    }

    #[test]
    fn new_step_after_undo_drops_the_undone_ones_and_diff_steps() {
        let mut s = session();
        run(&mut s, "request c1000000 4K a");
        run(&mut s, "request c2000000 4K b");
        run(&mut s, "undo");
        run(&mut s, "kernel 5.0");
        assert_eq!(s.step_count(), 2);
        assert_eq!(s.version().to_string(), "5.0");
        assert_eq!(run(&mut s, "redo").exit_code(), 2);
        let o = run(&mut s, "diff 1");
        assert!(matches!(o.output, Output::Diff { ref diff, .. } if diff.is_empty()));
        let o = run(&mut s, "diff");
        assert!(matches!(o.output, Output::Diff { ref diff, .. } if diff.len() == 1));
        assert_eq!(run(&mut s, "diff 9").exit_code(), 2);
        run(&mut s, "reset");
        assert!(s.tree().same_as(&t0_booted()));
        assert_eq!(
            s.version().to_string(),
            "5.0",
            "reset keeps the chosen kernel"
        );
        run(&mut s, "undo");
        assert!(text(s.tree()).contains(" : a\n"));
    }

    #[test]
    fn zeroed_dump_refuses_address_commands() {
        let mut t = t0();
        t.zeroed = true;
        let mut s = Session::new(Machine::boot(t, Config::default()));
        let o = run(&mut s, "request c1000000 4K foo");
        assert_eq!(o.exit_code(), 2);
        assert!(o.message().unwrap().contains("without root"));
        assert_eq!(run(&mut s, "show").exit_code(), 0);
    }

    #[test]
    fn find_gives_the_path_from_the_top() {
        let mut s = session();
        let o = run(&mut s, "find 1000010");
        let Output::Path { path, .. } = o.output else {
            panic!()
        };
        let names: Vec<&str> = path.iter().map(|r| r.name.as_str()).collect();
        assert_eq!(names, ["System RAM", "Kernel code"]);
    }

    #[test]
    fn explain_returns_the_trace() {
        let mut s = session();
        let o = run(&mut s, "explain request a0001000 4K x");
        assert!(o.explain);
        assert_eq!(o.exit_code(), 0);
        let t: Vec<String> = o
            .trace
            .steps
            .iter()
            .map(|s| format!("{}: {}", s.func, s.text()))
            .collect();
        assert!(t.iter().any(|l| l.contains("not BUSY → descend")), "{t:?}");
    }

    #[test]
    fn remove_and_release_resource_by_range() {
        let mut s = session();
        assert_eq!(run(&mut s, "remove-resource f0000-fffff").exit_code(), 0);
        assert!(text(s.tree()).contains("000f0000-000fffff : System ROM\n00100000"));
        assert_eq!(
            run(&mut s, "release-resource 100000-9fffffff").exit_code(),
            0
        );
        assert!(!text(s.tree()).contains("Kernel code"));
        let o = run(&mut s, "remove-resource 123000 4K");
        assert_eq!((o.exit_code(), o.errno()), (1, Some(Errno::EINVAL)));
    }

    #[test]
    fn save_is_atomic_and_keeps_old_file_on_failure() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("out.iomem");
        std::fs::write(&p, "old\n").unwrap();
        save_atomic(&p, b"new\n").unwrap();
        assert_eq!(std::fs::read_to_string(&p).unwrap(), "new\n");
        // A directory where the file should be: the rename fails, the old content survives.
        let q = dir.path().join("sub");
        std::fs::create_dir(&q).unwrap();
        std::fs::write(q.join("keep"), "x").unwrap();
        assert!(save_atomic(&q, b"new\n").is_err());
        assert_eq!(std::fs::read_to_string(q.join("keep")).unwrap(), "x");
        assert_eq!(
            std::fs::read_dir(dir.path()).unwrap().count(),
            2,
            "no temp file left"
        );
        assert!(save_atomic(&dir.path().join("missing/x"), b"").is_err());
    }

    // ----------------------------------------------------------- the seed story (SC-01/02)

    fn session_at(v: &str) -> Session {
        let config = Config {
            version: v.parse().unwrap(),
            ..Config::default()
        };
        Session::new(Machine::boot(t0(), config))
    }

    /// T0 with the commit message's nested line (SC-02), written out from the spec.
    const SEED_PMEM: &str = "a0000000-afffffff : Persistent Memory (legacy)\n  a0000000-a7ffffff : System RAM\nb0000000-bffdffff : System RAM\n";

    #[test]
    fn seed_5_0_refuses_with_eexist_and_leaves_the_tree_identical() {
        // SC-01: ≤ v5.0 register_memory_resource uses request_resource_conflict (top level only).
        let mut s = session_at("5.0");
        let o = run(&mut s, "hotplug add a0000000 128M");
        assert_eq!((o.exit_code(), o.errno()), (1, Some(Errno::EEXIST)));
        assert!(!o.changed);
        let msg = o.message().unwrap();
        assert!(
            msg.starts_with(
                "hotplug add a0000000 128M: -EEXIST (register_memory_resource: \
                 request_resource_conflict found \"Persistent Memory (legacy)\""
            ),
            "{msg}"
        );
        assert!(msg.contains("at top level)"), "{msg}");
        assert!(s.tree().same_as(&t0_booted()));
        assert_eq!(text(s.tree()), text(&t0()));
        assert!(s.step_count() == 0, "a refusal is not a step");
        assert!(
            s.machine.blocks.get(20).is_none(),
            "no memory block created"
        );
    }

    #[test]
    fn seed_5_1_nests_system_ram_under_the_pmem_node() {
        // SC-02: v5.1+ __request_region descends into the non-BUSY PMEM node.
        let mut s = session_at("5.1");
        let o = run(&mut s, "hotplug add a0000000 128M");
        assert_eq!(o.exit_code(), 0, "{:?}", o.message());
        assert!(o.changed);
        assert!(text(s.tree()).contains(SEED_PMEM), "{}", text(s.tree()));
        assert!(matches!(o.output, Output::Diff { .. }));
        // memory20 (phys_index 0x14) exists, offline (auto_online_blocks = offline).
        let b = s.machine.blocks.get(20).expect("memory20");
        assert_eq!(b.state.as_str(), "offline");
    }

    #[test]
    fn kernel_switch_mid_session_and_undo_restores_exactly() {
        let mut s = session_at("5.0");
        assert_eq!(run(&mut s, "hotplug add a0000000 128M").exit_code(), 1);
        assert_eq!(run(&mut s, "kernel 5.1").exit_code(), 0);
        assert_eq!(s.version().to_string(), "5.1");
        assert_eq!(run(&mut s, "hotplug add a0000000 128M").exit_code(), 0);
        assert!(text(s.tree()).contains(SEED_PMEM));
        let o = run(&mut s, "undo");
        assert_eq!(o.exit_code(), 0);
        assert!(s.tree().same_as(&t0_booted()));
        assert_eq!(text(s.tree()), text(&t0()));
        assert!(
            s.machine.blocks.get(20).is_none(),
            "undo drops memory20 too"
        );
        assert_eq!(s.version().to_string(), "5.1", "undo of the add keeps 5.1");
        run(&mut s, "undo");
        assert_eq!(s.version().to_string(), "5.0", "undo of `kernel 5.1`");
        run(&mut s, "redo");
        run(&mut s, "redo");
        assert!(text(s.tree()).contains(SEED_PMEM));
    }

    #[test]
    fn unaligned_add_is_einval_with_the_kernels_log_line() {
        // check_hotplug_memory_range: 0xa4000000 is not a multiple of the 128 MiB block.
        let mut s = session_at("6.1");
        let o = run(&mut s, "hotplug add a4000000 128M");
        assert_eq!((o.exit_code(), o.errno()), (1, Some(Errno::EINVAL)));
        let msg = o.message().unwrap();
        assert!(
            msg.starts_with("hotplug add a4000000 128M: -EINVAL ("),
            "{msg}"
        );
        assert!(
            msg.contains(
                "kernel: Block size [0x8000000] unaligned hotplug range: start 0xa4000000, size 0x8000000"
            ),
            "{msg}"
        );
        assert_eq!(
            msg.matches("unaligned hotplug range").count(),
            1,
            "the log line is printed once: {msg}"
        );
        assert_eq!(text(s.tree()), text(&t0()), "claimed, then released again");
    }

    #[test]
    fn explain_shows_the_decision_path() {
        let mut s = session_at("5.1");
        let o = run(&mut s, "explain hotplug add a0000000 128M");
        assert!(o.explain);
        assert_eq!(o.command, "hotplug add a0000000 128M");
        let lines: Vec<String> = o
            .trace
            .steps
            .iter()
            .map(|st| format!("{}: {}", st.func, st.text()))
            .collect();
        let pos = |needle: &str| {
            lines
                .iter()
                .position(|l| l.contains(needle))
                .unwrap_or_else(|| panic!("{needle:?} not in {lines:#?}"))
        };
        let a = pos("register_memory_resource: ");
        let b = pos(
            "__request_region: conflict \"Persistent Memory (legacy)\" [a0000000-afffffff] not BUSY → descend",
        );
        let c = pos("__request_region: no conflict among the children");
        assert!(a < b && b < c, "{lines:#?}");
        // And the 5.0 path ends at the top-level conflict.
        let mut s = session_at("5.0");
        let o = run(&mut s, "explain hotplug add a0000000 128M");
        assert!(
            o.trace
                .steps
                .iter()
                .any(|st| st.func == "register_memory_resource"
                    && st.text().contains("at top level → -EEXIST")),
            "{:#?}",
            o.trace.steps
        );
    }

    #[test]
    fn online_offline_remove_through_the_session() {
        let mut s = session_at("6.1");
        run(&mut s, "hotplug add a0000000 128M");
        let o = run(&mut s, "memory online memory20 --zone movable");
        assert_eq!(o.exit_code(), 0, "{:?}", o.message());
        let b = s.machine.blocks.get(20).unwrap();
        assert_eq!(b.state.as_str(), "online");
        assert_eq!(b.zone.map(|z| z.name()), Some("Movable"));
        // state_store: a second `online` is -EINVAL.
        let o = run(&mut s, "memory online a0000000");
        assert_eq!(o.errno(), Some(Errno::EINVAL));
        // remove_memory refuses online blocks (-EBUSY), tree unchanged.
        let before = text(s.tree());
        let o = run(&mut s, "hotplug remove a0000000 128M");
        assert_eq!(o.errno(), Some(Errno::EBUSY), "{:?}", o.message());
        assert_eq!(text(s.tree()), before);
        assert_eq!(run(&mut s, "memory offline a0000000 128M").exit_code(), 0);
        assert_eq!(
            run(&mut s, "hotplug remove a0000000-a7ffffff").exit_code(),
            0
        );
        assert_eq!(text(s.tree()), text(&t0()));
        let o = run(&mut s, "blocks");
        let Output::Text(t) = o.output else { panic!() };
        assert!(t.contains("RANGE") && t.contains("STATE"), "{t}");
    }

    #[test]
    fn driver_managed_add_next_to_the_seed() {
        // SC-03: add_memory_driver_managed with a "System RAM (…)" name (v5.8+).
        let mut s = session_at("5.8");
        run(&mut s, "hotplug add a0000000 128M");
        let o = run(
            &mut s,
            "hotplug add a8000000 128M --driver-managed \"System RAM (kmem)\"",
        );
        assert_eq!(o.exit_code(), 0, "{:?}", o.message());
        assert!(text(s.tree()).contains(
            "a0000000-afffffff : Persistent Memory (legacy)\n  a0000000-a7ffffff : System RAM\n  a8000000-afffffff : System RAM (kmem)\n"
        ));
        // SC-03 op B: a bad name is -EINVAL before any resource work.
        let mut s = session_at("5.8");
        let o = run(&mut s, "hotplug add a8000000 128M --driver-managed kmem");
        assert_eq!(o.errno(), Some(Errno::EINVAL));
        assert_eq!(text(s.tree()), text(&t0()));
    }

    #[test]
    fn partial_remove_splits_system_ram() {
        // SC-14 op 1: remove memory34 out of a 1 GiB add.
        let mut s = session_at("6.1");
        assert_eq!(run(&mut s, "hotplug add 100000000 1G").exit_code(), 0);
        let o = run(&mut s, "hotplug remove 110000000 128M");
        assert_eq!(o.exit_code(), 0, "{:?}", o.message());
        assert!(text(s.tree()).ends_with(
            "c0000000-febfffff : PCI Bus 0000:00\n100000000-10fffffff : System RAM\n118000000-13fffffff : System RAM\n"
        ));
    }

    #[test]
    fn a_tool_failing_part_way_keeps_the_earlier_steps_and_undo_reverts_them() {
        // daxctl unbinds device_dax, then kmem refuses (node -1: pmem beyond boot RAM):
        // the unbind stays done, as on the real machine.
        let dump = "00000000-00000fff : Reserved\n00001000-0009fbff : System RAM\n00100000-3fffffff : System RAM\n100000000-13fffffff : Persistent Memory (legacy)\n";
        let t = crate::parse::parse_dump(dump.as_bytes(), None)
            .unwrap()
            .tree;
        let mut s = Session::new(Machine::boot(t, Config::default()));
        for l in [
            "modprobe -a nd_e820 nd_pmem dax_pmem device_dax kmem",
            "ndctl create-namespace -f -e namespace0.0 -m devdax",
        ] {
            assert_eq!(run(&mut s, l).exit_code(), 0, "{l}");
        }
        let before = s.tree().clone();
        let o = run(&mut s, "daxctl reconfigure-device --mode=system-ram dax0.0");
        assert!(matches!(o.outcome, Outcome::Partial(_)), "{:?}", o.outcome);
        assert_eq!(o.exit_code(), 1);
        assert!(o.changed);
        assert_eq!(
            s.tree().find_name("dax0.0"),
            None,
            "device_dax's claim is gone"
        );
        assert_eq!(
            s.machine.dax["dax0.0"].driver,
            crate::kernel::dax::DaxDriver::None
        );
        run(&mut s, "undo");
        assert!(s.tree().same_as(&before));
    }
}
