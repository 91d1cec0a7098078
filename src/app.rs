//! The binary edge: clap arguments → config → run → exit code (issues 2, 4).
//!
//! `Cli` (clap) is turned into a plain [`Config`] once; nothing below that point sees clap.
//! Command words after the options are a plain word list (`show --flags`, `check`,
//! `hotplug add a0000000 128M`), not clap subcommands, so the REPL, `-e` and `--script` share
//! one command language ([`crate::command`]). anyhow lives here and in `main.rs` only.
//!
//! Output rules (cli.md): data on stdout, errors and warnings on stderr; no color unless
//! `--color` says so or stdout is a terminal (and `NO_COLOR`/`TERM=dumb` allow it), so piped
//! output is deterministic; a closed pipe (`| head`) ends the run quietly with status 0.

use std::ffi::OsString;
use std::io::{IsTerminal, Read, Write};
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{Context, Result, bail};
use clap::{CommandFactory, Parser, ValueEnum};

use crate::check::check;
use crate::command::{parse_args, parse_size};
use crate::examples;
use crate::kernel::KernelVersion;
use crate::kernel::machine::{self, Machine};
use crate::kernel::memory::OnlineType;
use crate::parse::{Dump, parse_dump};
use crate::render::{Palette, TreeOptions, render_json, render_json_text, render_tree};
use crate::repl::{DiffMode, Present, StepRecord, explain_text, present, run_commands_keeping};
use crate::session::{Outcome, Output, Session, StepOutcome};
use crate::tree::{RootKind, Tree};

/// The tree view (`--format tree`) shows at most this many resources; above it the run is
/// refused with a pointer to `--format iomem`, which streams (issue 14 item 8). The tree view
/// costs ~320 bytes per resource (column widths are computed over all rows), so this bounds
/// it to ~320 MiB.
pub const TREE_VIEW_MAX: usize = 1_000_000;

/// Exit status (cli.md): 0 ok; 1 a meaningful "no" (anomalies found, a command refused by the
/// simulated kernel); 2 bad input, bad syntax, I/O or usage error.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Exit {
    Ok = 0,
    Refused = 1,
    Error = 2,
}

impl Exit {
    fn from_code(code: i32) -> Exit {
        match code {
            0 => Exit::Ok,
            1 => Exit::Refused,
            _ => Exit::Error,
        }
    }
}

impl From<Exit> for ExitCode {
    fn from(e: Exit) -> ExitCode {
        ExitCode::from(e as u8)
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum Format {
    /// Readable tree with sizes and depth guides; changes as a diff.
    Tree,
    /// Exactly the kernel's /proc/iomem (or /proc/ioports) text of the resulting tree.
    Iomem,
    /// The tree (and each command's result) as JSON, for scripts.
    Json,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum ColorChoice {
    /// Color when stdout is a terminal, NO_COLOR is unset or empty, and TERM is not "dumb".
    Auto,
    Always,
    Never,
}

/// `--diff`: how a command that changed the tree is shown.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum DiffChoice {
    /// The resulting tree with each change marked beside it.
    Side,
    /// `-`/`+` lines in /proc/iomem format, pasteable into a commit message.
    Unified,
    /// Only the outcome.
    None,
}

impl From<DiffChoice> for DiffMode {
    fn from(d: DiffChoice) -> DiffMode {
        match d {
            DiffChoice::Side => DiffMode::Side,
            DiffChoice::Unified => DiffMode::Unified,
            DiffChoice::None => DiffMode::None,
        }
    }
}

/// Simulate the Linux kernel's /proc/iomem resource tree and memory hotplug, version by version.
///
/// Commands (after the options, or with -e / --script, or in the REPL): hotplug add|remove,
/// memory online|offline, request, release, insert, adjust, dax kmem|devdax, intersects,
/// free-region, show, find, blocks, diff, undo, redo, reset, kernel, explain, save; and on
/// the command line only: repl, check, completions SHELL, man. `iomem-sim help` lists them.
///
/// Exit status: 0 ok; 1 a command was refused by the simulated kernel (the tree is left as it
/// was) or `check` found anomalies; 2 bad input, bad command syntax, I/O or usage error.
#[derive(Debug, Parser)]
#[command(name = "iomem-sim", version, about, long_about, max_term_width = 100)]
pub struct Cli {
    /// A /proc/iomem or /proc/ioports dump ("-" for stdin; /proc/iomem itself works).
    /// Without it, a dump piped on stdin is read, else the built-in example.
    #[arg(short, long, value_name = "FILE")]
    pub input: Option<PathBuf>,

    /// Start from a built-in tree ("list" lists them).
    #[arg(long, value_name = "NAME", conflicts_with = "input")]
    pub example: Option<String>,

    /// Kernel behaviour to mimic (5.0, 5.1, 5.8, 6.1, 6.12, …; default: the newest modelled).
    #[arg(short, long, value_name = "VERSION", value_parser = parse_version)]
    pub kernel: Option<KernelVersion>,

    /// Memory block size (/sys/devices/system/memory/block_size_bytes).
    #[arg(long, value_name = "SIZE", default_value = "128M", value_parser = parse_block_size)]
    pub block_size: u64,

    /// memhp_default_state: offline, online, online_movable, online_kernel.
    #[arg(long, value_name = "POLICY", default_value = "offline", value_parser = parse_online)]
    pub auto_online: OnlineType,

    /// The CPU's physical address width: the iomem root ends at 2^N - 1.
    #[arg(long, value_name = "N", default_value_t = 46,
          value_parser = clap::value_parser!(u32).range(20..=64))]
    pub phys_bits: u32,

    /// 5-level paging: mhp_range_allowed allows up to 2^52 - 1 instead of 2^46 - 1.
    #[arg(long)]
    pub la57: bool,

    /// Output format.
    #[arg(long, value_enum, default_value_t = Format::Tree)]
    pub format: Format,

    /// How a change is shown (default: side for --format tree; none for --format iomem, which
    /// prints the resulting tree).
    #[arg(long, value_enum, value_name = "STYLE")]
    pub diff: Option<DiffChoice>,

    /// When to color the output.
    #[arg(long, value_enum, default_value_t = ColorChoice::Auto, value_name = "WHEN")]
    pub color: ColorChoice,

    /// Run one command (repeatable, in order, before the command words).
    #[arg(short = 'e', long = "exec", value_name = "CMD")]
    pub exec: Vec<String>,

    /// Run the commands in FILE, one per line (`#` comments, blank lines ignored).
    #[arg(short = 'f', long = "script", value_name = "FILE")]
    pub script: Option<PathBuf>,

    /// Do not stop at the first refused or failing command.
    #[arg(long)]
    pub keep_going: bool,

    /// Print the kernel's decision path for every command.
    #[arg(long)]
    pub explain: bool,

    /// One command, e.g. `hotplug add a0000000 128M`, `show --flags`, `check`, `repl`,
    /// `completions bash`, `man` (put options before it). Default: show.
    #[arg(
        trailing_var_arg = true,
        allow_hyphen_values = true,
        value_name = "COMMAND"
    )]
    pub command: Vec<String>,
}

fn parse_version(s: &str) -> Result<KernelVersion, String> {
    s.parse()
        .map_err(|_| format!("expected a kernel version like 5.0, 5.1 or 6.1, not {s:?}"))
}

fn parse_block_size(s: &str) -> Result<u64, String> {
    let n = parse_size(s).map_err(|e| format!("{e}, not {s:?}"))?;
    // memory_block_size_bytes() is a power of two and at least one 128 MiB section on x86_64.
    if !n.is_power_of_two() || n < machine::DEFAULT_BLOCK_SIZE {
        return Err(format!(
            "the memory block size must be a power of two of at least 128M, not {s:?}"
        ));
    }
    Ok(n)
}

fn parse_online(s: &str) -> Result<OnlineType, String> {
    s.parse()
        .map_err(|e: crate::kernel::memory::BadOnlineType| e.to_string())
}

/// Where the starting tree comes from.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Source {
    File(PathBuf),
    Stdin,
    /// stdin if it is not a terminal and not empty, else the default example.
    StdinOrDefault,
    Example(String),
}

/// What the command words ask for.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Action {
    /// No words, `show` or `show --flags`: print the (resulting) tree in `--format`.
    Show { flags: bool },
    /// `check`: the anomaly report.
    Check,
    /// `repl`: the interactive session (or a piped one).
    Repl,
    /// `completions SHELL`.
    Completions(clap_complete::Shell),
    /// `man`.
    Man,
    /// One command of the command language.
    Run(Vec<String>),
}

/// Everything the program needs, free of clap types.
#[derive(Clone, Debug)]
pub struct Config {
    pub source: Source,
    pub format: Format,
    pub color: bool,
    pub machine: machine::Config,
    pub diff: Option<DiffChoice>,
    pub exec: Vec<String>,
    pub script: Option<PathBuf>,
    pub keep_going: bool,
    pub explain: bool,
    pub command: Vec<String>,
    /// stdin and stdout are both terminals (the REPL is interactive; no words → REPL).
    pub interactive: bool,
    /// No `--input`/`--example` was given.
    pub default_source: bool,
}

/// Color decision for `--color` (a pure function: the caller supplies the environment).
/// `NO_COLOR` counts when set and non-empty (no-color.org); `TERM=dumb` means no escapes.
pub fn color_enabled(
    choice: ColorChoice,
    stdout_tty: bool,
    no_color: Option<&OsString>,
    term: Option<&OsString>,
) -> bool {
    match choice {
        ColorChoice::Always => true,
        ColorChoice::Never => false,
        ColorChoice::Auto => {
            stdout_tty && no_color.is_none_or(|v| v.is_empty()) && term.is_none_or(|t| t != "dumb")
        }
    }
}

impl Config {
    /// Resolve the parsed arguments against the environment.
    pub fn from_cli(cli: Cli) -> Config {
        let stdin_tty = std::io::stdin().is_terminal();
        let stdout_tty = std::io::stdout().is_terminal();
        let default_source = cli.input.is_none() && cli.example.is_none();
        // `repl` reads its commands from stdin, so stdin cannot also be the dump.
        let wants_repl = cli.command.first().is_some_and(|w| w == "repl");
        let source = match (cli.input, cli.example) {
            (Some(p), _) if p.as_os_str() == "-" => Source::Stdin,
            (Some(p), _) => Source::File(p),
            (None, Some(e)) => Source::Example(e),
            (None, None) if stdin_tty || wants_repl => {
                Source::Example(examples::DEFAULT.to_string())
            }
            (None, None) => Source::StdinOrDefault,
        };
        let color = color_enabled(
            cli.color,
            stdout_tty,
            std::env::var_os("NO_COLOR").as_ref(),
            std::env::var_os("TERM").as_ref(),
        );
        let machine = machine::Config {
            version: cli.kernel.unwrap_or(KernelVersion::NEWEST),
            block_size: cli.block_size,
            auto_online: cli.auto_online,
            phys_bits: cli.phys_bits,
            la57: cli.la57,
        };
        Config {
            source,
            format: cli.format,
            color,
            machine,
            diff: cli.diff,
            exec: cli.exec,
            script: cli.script,
            keep_going: cli.keep_going,
            explain: cli.explain,
            command: cli.command,
            interactive: stdin_tty && stdout_tty,
            default_source,
        }
    }
}

/// Classify the command words. Session commands are parsed later by the command language
/// (errors there point at the wrong word).
pub fn parse_action(words: &[String]) -> Result<Action> {
    let w: Vec<&str> = words.iter().map(String::as_str).collect();
    Ok(match w.as_slice() {
        [] | ["show"] => Action::Show { flags: false },
        ["show", "--flags"] => Action::Show { flags: true },
        ["check"] => Action::Check,
        ["repl"] => Action::Repl,
        ["man"] => Action::Man,
        ["completions", shell] => {
            match <clap_complete::Shell as ValueEnum>::from_str(shell, true) {
                Ok(s) => Action::Completions(s),
                Err(_) => bail!(
                    "completions: unknown shell `{shell}` (bash, zsh, fish, elvish, powershell)"
                ),
            }
        }
        ["completions", ..] => {
            bail!("usage: iomem-sim completions <bash|zsh|fish|elvish|powershell>")
        }
        _ => Action::Run(words.to_vec()),
    })
}

/// Which root a file name suggests.
fn hint_for(name: &str) -> Option<RootKind> {
    if name.contains("ioports") {
        Some(RootKind::Ioport)
    } else if name.contains("iomem") {
        Some(RootKind::Iomem)
    } else {
        None
    }
}

/// Read a dump bounded ([`crate::input`]): stop after the first line that is not a resource
/// line, refuse a line over 1 MiB.
fn read_dump_bounded(r: impl Read, what: &str) -> Result<crate::input::Text> {
    crate::input::read_bounded(r, crate::parse::line_is_ok)
        .with_context(|| format!("reading the dump from {what}"))
}

fn read_stdin() -> Result<crate::input::Text> {
    read_dump_bounded(std::io::stdin().lock(), "stdin")
}

/// What stdin is, for the empty-stdin rule (issue 14 item 2): an empty pipe, socket or
/// regular file means something was meant to be piped in and nothing came (`sudo cat
/// /proc/iomem | iomem-sim` where sudo failed); a terminal, a character device such as
/// `/dev/null`, or a closed stdin (how cron and CI runners start commands) means nothing was.
fn stdin_was_meant_to_carry_data() -> bool {
    use std::os::unix::fs::FileTypeExt;
    // /dev/stdin is the kernel's link to fd 0: stat follows it to whatever stdin is.
    match std::fs::metadata("/dev/stdin") {
        Ok(m) => {
            let t = m.file_type();
            t.is_fifo() || t.is_socket() || t.is_file()
        }
        Err(_) => false,
    }
}

/// Load the starting tree named by `source`.
pub fn load(source: &Source) -> Result<Dump> {
    let (text, hint, what): (crate::input::Text, Option<RootKind>, String) = match source {
        Source::File(p) => {
            let f = std::fs::File::open(p).with_context(|| format!("reading {}", p.display()))?;
            let text = read_dump_bounded(f, &p.display().to_string())?;
            let name = p.file_name().map(|n| n.to_string_lossy().into_owned());
            if text.bytes.is_empty() && std::fs::metadata(p).is_ok_and(|m| m.is_file()) {
                // What `save` writes for a tree emptied by release-resource: /proc/iomem with
                // no resource prints nothing. An empty *file* is that tree (issue 14 item 3);
                // an empty pipe is an error (nothing was piped in).
                let kind = name
                    .as_deref()
                    .and_then(hint_for)
                    .unwrap_or(RootKind::Iomem);
                let end = if kind == RootKind::Ioport {
                    0xffff
                } else {
                    u64::MAX
                };
                return Ok(Dump {
                    tree: Tree::new(kind, end),
                    warnings: Vec::new(),
                    normalizations: vec![format!(
                        "{} is empty: read as a tree with no resources (what `save` writes \
                         after every resource was released)",
                        p.display()
                    )],
                    hex_width: if kind == RootKind::Ioport { 4 } else { 8 },
                    lines: 0,
                });
            }
            (
                text,
                name.as_deref().and_then(hint_for),
                p.display().to_string(),
            )
        }
        Source::Stdin => (read_stdin()?, None, "stdin".to_string()),
        Source::StdinOrDefault => {
            let text = read_stdin()?;
            if text.bytes.is_empty() {
                if stdin_was_meant_to_carry_data() {
                    bail!(
                        "stdin is empty: nothing was piped in (to start from the built-in \
                         example, run without a pipe or with --example {})",
                        examples::DEFAULT
                    );
                }
                // stdin is /dev/null, a terminal or closed (cron, CI): the built-in example.
                return load(&Source::Example(examples::DEFAULT.to_string()));
            }
            (text, None, "stdin".to_string())
        }
        Source::Example(name) => {
            let Some(e) = examples::find(name) else {
                let names: Vec<&str> = examples::names().collect();
                bail!(
                    "no built-in example `{name}` (there are: {})",
                    names.join(", ")
                );
            };
            (
                crate::input::Text {
                    bytes: e.text.as_bytes().to_vec(),
                    ..Default::default()
                },
                Some(e.kind),
                format!("example {name}"),
            )
        }
    };
    let mut d = parse_dump(&text.bytes, hint).with_context(|| format!("parsing {what}"))?;
    if let Some(n) = crate::input::lone_cr_note(&text) {
        d.normalizations.insert(0, n);
    }
    Ok(d)
}

fn list_examples() -> String {
    let w = examples::names().map(str::len).max().unwrap_or(0);
    examples::EXAMPLES
        .iter()
        .map(|e| {
            let def = if e.name == examples::DEFAULT {
                " (default)"
            } else {
                ""
            };
            format!("{:w$}  {}{def}\n", e.name, e.about)
        })
        .collect()
}

/// Is `path` a name for this process's stdin (`-`, `/dev/stdin`, `/dev/fd/0`, …)?
fn names_stdin(path: &std::path::Path) -> bool {
    let s = path.as_os_str();
    s == "-" || s == "/dev/stdin" || s == "/dev/fd/0" || s == "/proc/self/fd/0"
}

/// The lines of `--script FILE` (`-`: stdin), numbered for error messages by the command
/// parser itself. Read bounded ([`crate::input`]): a line over 1 MiB is an error, reading
/// stops at the first line that is not UTF-8 text (or holds a NUL byte: binary data, not a
/// script); LF, CRLF and lone-CR line ends all end a line (a note says so for lone CRs).
fn script_lines(path: &std::path::Path) -> Result<(Vec<String>, Option<String>)> {
    let what = if path.as_os_str() == "-" {
        "script from stdin".to_string()
    } else {
        format!("script {}", path.display())
    };
    let is_text = |l: &[u8]| std::str::from_utf8(l).is_ok() && !l.contains(&0);
    let text = if path.as_os_str() == "-" {
        crate::input::read_bounded(std::io::stdin().lock(), is_text)
    } else {
        let f = std::fs::File::open(path).with_context(|| format!("reading {what}"))?;
        crate::input::read_bounded(f, is_text)
    }
    .with_context(|| format!("reading {what}"))?;
    let note = crate::input::lone_cr_note(&text).map(|n| format!("{what}: {n}"));
    let mut lines = Vec::new();
    for (i, l) in text.bytes.split(|&b| b == b'\n').enumerate() {
        let l = l.strip_suffix(b"\r").unwrap_or(l);
        match std::str::from_utf8(l) {
            Ok(s) if !s.contains('\0') => lines.push(s.to_string()),
            _ => bail!("{what}: line {} is not UTF-8 text (a binary file?)", i + 1),
        }
    }
    if text.bytes.ends_with(b"\n") {
        lines.pop();
    }
    Ok((lines, note))
}

/// Run with a resolved config; returns the exit status or an error (exit 2).
pub fn run(cfg: &Config) -> Result<Exit> {
    let mut out = StdoutWriter(std::io::stdout().lock());
    let pal = Palette::new(cfg.color);
    if cfg.source == Source::Example("list".to_string()) {
        out.write_all(list_examples().as_bytes())?;
        return Ok(Exit::Ok);
    }
    let mut action = parse_action(&cfg.command)?;
    match action {
        Action::Completions(shell) => {
            clap_complete::generate(shell, &mut Cli::command(), "iomem-sim", &mut out);
            out.flush()?;
            return Ok(Exit::Ok);
        }
        Action::Man => {
            clap_mangen::Man::new(Cli::command()).render(&mut out)?;
            out.flush()?;
            return Ok(Exit::Ok);
        }
        _ => {}
    }
    // Nothing to do on a terminal with nothing named: start the REPL (cli.md "Invocation").
    if action == (Action::Show { flags: false })
        && cfg.command.is_empty()
        && cfg.exec.is_empty()
        && cfg.script.is_none()
        && cfg.interactive
        && cfg.default_source
    {
        action = Action::Repl;
    }
    if action == Action::Repl && cfg.source == Source::Stdin && !std::io::stdin().is_terminal() {
        bail!(
            "`repl` reads commands from stdin, so the dump cannot come from stdin too: use --input FILE"
        );
    }
    let mut lines: Vec<String> = cfg.exec.clone();
    let mut script_note = None;
    let mut source = cfg.source.clone();
    if let Some(p) = &cfg.script {
        if names_stdin(p) {
            match source {
                Source::Stdin => bail!(
                    "the script ({}) and the dump (-i -) both want stdin: give one of them as a file",
                    p.display()
                ),
                // The script is on stdin, so the dump cannot be: the built-in example.
                Source::StdinOrDefault => source = Source::Example(examples::DEFAULT.to_string()),
                _ => {}
            }
        }
        let (l, note) = script_lines(p)?;
        lines.extend(l);
        script_note = note;
    }
    let dump = load(&source)?;
    {
        let mut err = std::io::stderr().lock();
        if let Some(n) = &script_note {
            writeln!(err, "{} {n}", pal.dim("note:"))?;
        }
        for w in &dump.warnings {
            writeln!(err, "{} {w}", pal.warn("warning:"))?;
        }
        for n in &dump.normalizations {
            writeln!(err, "{} {n}", pal.dim("note:"))?;
        }
    }
    if let Action::Run(words) = &action {
        // One command from the words; a syntax error is reported like a script line's.
        match parse_args(words) {
            Ok(cmd) => lines.push(cmd.to_string()),
            Err(e) => {
                let mut err = std::io::stderr().lock();
                writeln!(err, "{} {e}", pal.error("error:"))?;
                return Ok(Exit::Error);
            }
        }
    }
    let present_opts = Present {
        palette: pal,
        diff: cfg
            .diff
            .unwrap_or(match cfg.format {
                Format::Tree => DiffChoice::Side,
                Format::Iomem | Format::Json => DiffChoice::None,
            })
            .into(),
        explain_all: cfg.explain,
        ..Present::plain()
    };
    if lines.is_empty() && !matches!(action, Action::Repl) {
        // Nothing simulated: print the dump as read (the root as the text implies it).
        return show_or_check(&mut out, cfg, &pal, &dump.tree, &action, &[]);
    }
    let mut session = Session::new(Machine::boot(dump.tree, cfg.machine.clone()));
    {
        let mut err = std::io::stderr().lock();
        for n in &session.machine.notes {
            writeln!(err, "{} {n}", pal.dim("note:"))?;
        }
    }
    let mut io_error: Option<std::io::Error> = None;
    let (code, records) = {
        // `--format iomem|json`: stdout is exactly the resulting tree (or the JSON document),
        // so per-command output stays off it.
        let data_only = cfg.format != Format::Tree;
        // Several commands read like a session transcript: each output under its command.
        let echo = lines.len() > 1 && !data_only;
        let mut emit = |o: &StepOutcome| {
            if io_error.is_some() {
                return;
            }
            let r = if echo {
                writeln!(out, "> {}", o.command)
            } else {
                Ok(())
            }
            .and_then(|()| emit_outcome(&mut out, o, &present_opts, data_only));
            if let Err(e) = r {
                io_error = Some(e);
            }
        };
        let keep_all = cfg.format == Format::Json;
        run_commands_keeping(&mut session, &lines, cfg.keep_going, keep_all, &mut emit)
    };
    if let Some(e) = io_error {
        return Err(e.into());
    }
    let quit = records.last().is_some_and(|r| r.command == "quit");
    let mut exit = Exit::from_code(code);
    if action == Action::Repl && !quit && (code == 0 || cfg.keep_going) {
        drop(out);
        let c = crate::repl::run(&mut session, &present_opts)?;
        return Ok(Exit::from_code(code.max(c)));
    }
    let tree = session.tree().clone();
    match action {
        Action::Show { .. } | Action::Check => {
            let e = show_or_check(&mut out, cfg, &pal, &tree, &action, &records)?;
            exit = Exit::from_code((exit as i32).max(e as i32));
        }
        _ => match cfg.format {
            Format::Iomem => crate::render::write_iomem(&tree, &mut out)?,
            Format::Json => write_json(&mut out, cfg, &tree, &records)?,
            Format::Tree => {}
        },
    }
    out.flush()?;
    Ok(exit)
}

/// One command's outcome: its presentation on stdout (unless JSON collects it) and its error
/// on stderr.
fn emit_outcome(
    out: &mut dyn Write,
    o: &StepOutcome,
    p: &Present,
    data_only: bool,
) -> std::io::Result<()> {
    let (so, se) = present(o, p);
    if !data_only {
        out.write_all(so.as_bytes())?;
    } else {
        // Answers of queries (`intersects`, `find`, `blocks`, notes) and an asked-for decision
        // path still reach the user, on stderr, where they cannot corrupt the data on stdout.
        let mut err = std::io::stderr().lock();
        if (o.explain || p.explain_all) && !o.trace.steps.is_empty() {
            err.write_all(explain_text(o).as_bytes())?;
        }
        if matches!(o.output, Output::Text(_) | Output::Path { .. }) {
            err.write_all(so.as_bytes())?;
        }
    }
    if !se.is_empty() {
        out.flush()?;
        let mut err = std::io::stderr().lock();
        // A refusal reads exactly as cli.md shows it (`CMD: -EEXIST (func: reason)`); other
        // failures get the usual `error:` prefix.
        match o.outcome {
            Outcome::Failed(_) => write!(err, "{} {se}", p.palette.error("error:"))?,
            // A refusal, or the kernel's log lines of a step that ran (`kernel: …`).
            _ => write!(err, "{se}")?,
        }
    }
    Ok(())
}

fn write_json(
    out: &mut dyn Write,
    cfg: &Config,
    tree: &Tree,
    records: &[StepRecord],
) -> Result<()> {
    let v = serde_json::json!({
        "kernel": cfg.machine.version.to_string(),
        "steps": records,
        "tree": render_json(tree),
    });
    writeln!(out, "{}", serde_json::to_string_pretty(&v)?)?;
    Ok(())
}

/// `show [--flags]` / `check` of `tree` (after any commands).
fn show_or_check(
    out: &mut dyn Write,
    cfg: &Config,
    pal: &Palette,
    tree: &Tree,
    action: &Action,
    records: &[StepRecord],
) -> Result<Exit> {
    match action {
        Action::Check => {
            let found = check(tree);
            match cfg.format {
                Format::Json => {
                    let v: Vec<serde_json::Value> = found
                        .iter()
                        .map(|a| {
                            serde_json::json!({
                                "kind": a.kind,
                                "line": a.line,
                                "other_line": a.other_line,
                                "message": a.message,
                            })
                        })
                        .collect();
                    writeln!(out, "{}", serde_json::to_string_pretty(&v)?)?;
                }
                _ => {
                    for a in &found {
                        writeln!(out, "{} {a}", pal.warn("anomaly:"))?;
                    }
                    let n = found.len();
                    if n == 0 {
                        writeln!(
                            out,
                            "no anomalies: {} resources, every invariant holds",
                            tree.len()
                        )?;
                    } else {
                        let noun = if n == 1 { "anomaly" } else { "anomalies" };
                        writeln!(out, "{n} {noun} in {} resources", tree.len())?;
                    }
                }
            }
            out.flush()?;
            Ok(if found.is_empty() {
                Exit::Ok
            } else {
                Exit::Refused
            })
        }
        _ => {
            let flags = matches!(action, Action::Show { flags: true });
            match cfg.format {
                Format::Iomem => crate::render::write_iomem(tree, out)?,
                Format::Json if !records.is_empty() => write_json(out, cfg, tree, records)?,
                Format::Json => out.write_all(render_json_text(tree).as_bytes())?,
                Format::Tree if tree.len() > TREE_VIEW_MAX => bail!(
                    "the tree view shows at most {TREE_VIEW_MAX} resources and this tree has {}: \
                     use --format iomem (streamed) or --format json",
                    tree.len()
                ),
                Format::Tree => {
                    let opts = TreeOptions {
                        flags,
                        ..TreeOptions::default()
                    };
                    out.write_all(render_tree(tree, pal, &opts).as_bytes())?;
                }
            }
            out.flush()?;
            Ok(Exit::Ok)
        }
    }
}

/// stdout, with every write error saying it was stdout (`error: writing stdout: No space left
/// on device`, issue 14 item 9). The error kind is kept, so a broken pipe stays quiet.
struct StdoutWriter<'a>(std::io::StdoutLock<'a>);

fn stdout_error(e: std::io::Error) -> std::io::Error {
    std::io::Error::new(e.kind(), format!("writing stdout: {e}"))
}

impl Write for StdoutWriter<'_> {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.write(buf).map_err(stdout_error)
    }
    fn flush(&mut self) -> std::io::Result<()> {
        self.0.flush().map_err(stdout_error)
    }
}

/// Is fd 1 open? Rust's stdout silently discards writes to a closed fd 1 (EBADF), so a run
/// under `>&-` would print nothing and exit 0.
///
/// Rust's runtime reopens a closed fd 0/1/2 on `/dev/null` before `main` (read-write), so a
/// closed stdout shows as fd 1 = `/dev/null` opened `O_RDWR`; a shell's `>/dev/null` opens it
/// write-only. That difference is what is checked (Linux: /proc/self/fdinfo).
fn stdout_is_open() -> bool {
    use std::os::unix::fs::{FileTypeExt, MetadataExt};
    let Ok(m) = std::fs::metadata("/dev/stdout") else {
        return false;
    };
    // /dev/null is character device 1:3.
    let is_dev_null = m.file_type().is_char_device() && m.rdev() == 0x103;
    if !is_dev_null {
        return true;
    }
    let Ok(info) = std::fs::read_to_string("/proc/self/fdinfo/1") else {
        return true;
    };
    let flags = info
        .lines()
        .find_map(|l| l.strip_prefix("flags:"))
        .and_then(|v| u32::from_str_radix(v.trim(), 8).ok());
    // O_ACCMODE = 3, O_RDWR = 2.
    flags.is_none_or(|f| f & 3 != 2)
}

fn is_broken_pipe(e: &anyhow::Error) -> bool {
    e.chain().any(|c| {
        c.downcast_ref::<std::io::Error>()
            .is_some_and(|io| io.kind() == std::io::ErrorKind::BrokenPipe)
    })
}

/// The whole program: parse arguments, run, print any error, map to an exit code.
pub fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(c) => c,
        Err(e) if e.exit_code() == 0 => {
            // --help / --version: on stdout, and a failed write is an error (`--help
            // >/dev/full`), a broken pipe is quiet.
            if !stdout_is_open() {
                eprintln!("error: writing stdout: stdout is closed");
                return Exit::Error.into();
            }
            let mut out = StdoutWriter(std::io::stdout().lock());
            return match write!(out, "{}", e.render()).and_then(|()| out.flush()) {
                Ok(()) => Exit::Ok.into(),
                Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => Exit::Ok.into(),
                Err(e) => {
                    eprintln!("error: {e}");
                    Exit::Error.into()
                }
            };
        }
        Err(e) => {
            // clap prints usage errors (exit 2) itself, on stderr.
            let _ = e.print();
            return ExitCode::from(e.exit_code().clamp(0, 255) as u8);
        }
    };
    if !stdout_is_open() {
        eprintln!("error: writing stdout: stdout is closed (started with >&-?)");
        return Exit::Error.into();
    }
    let cfg = Config::from_cli(cli);
    colored::control::set_override(cfg.color);
    match run(&cfg) {
        Ok(code) => code.into(),
        Err(e) if is_broken_pipe(&e) => Exit::Ok.into(),
        Err(e) => {
            eprintln!("{} {e:#}", Palette::new(cfg.color).error("error:"));
            Exit::Error.into()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn words(s: &str) -> Vec<String> {
        s.split_whitespace().map(String::from).collect()
    }

    #[test]
    fn actions() {
        assert_eq!(parse_action(&[]).unwrap(), Action::Show { flags: false });
        assert_eq!(
            parse_action(&words("show --flags")).unwrap(),
            Action::Show { flags: true }
        );
        assert_eq!(parse_action(&words("check")).unwrap(), Action::Check);
        assert_eq!(parse_action(&words("repl")).unwrap(), Action::Repl);
        assert_eq!(
            parse_action(&words("completions zsh")).unwrap(),
            Action::Completions(clap_complete::Shell::Zsh)
        );
        assert!(parse_action(&words("completions tcsh")).is_err());
        assert_eq!(
            parse_action(&words("hotplug add a0000000 128M")).unwrap(),
            Action::Run(words("hotplug add a0000000 128M"))
        );
    }

    #[test]
    fn color_rules() {
        let empty = OsString::new();
        let one = OsString::from("1");
        let dumb = OsString::from("dumb");
        assert!(color_enabled(ColorChoice::Auto, true, None, None));
        assert!(!color_enabled(ColorChoice::Auto, false, None, None));
        assert!(!color_enabled(ColorChoice::Auto, true, Some(&one), None));
        assert!(color_enabled(ColorChoice::Auto, true, Some(&empty), None));
        assert!(!color_enabled(ColorChoice::Auto, true, None, Some(&dumb)));
        assert!(color_enabled(
            ColorChoice::Always,
            false,
            Some(&one),
            Some(&dumb)
        ));
        assert!(!color_enabled(ColorChoice::Never, true, None, None));
    }

    #[test]
    fn options_then_words() {
        let cli = Cli::try_parse_from([
            "iomem-sim",
            "-k",
            "5.0",
            "--block-size",
            "256M",
            "--auto-online",
            "online_movable",
            "--phys-bits",
            "40",
            "--la57",
            "--diff",
            "unified",
            "-e",
            "undo",
            "-e",
            "redo",
            "--keep-going",
            "--explain",
            "--format",
            "iomem",
            "show",
            "--flags",
        ])
        .unwrap();
        assert_eq!(cli.format, Format::Iomem);
        assert_eq!(cli.kernel.map(|k| k.to_string()).as_deref(), Some("5.0"));
        assert_eq!(cli.block_size, 256 << 20);
        assert_eq!(cli.auto_online, OnlineType::OnlineMovable);
        assert_eq!((cli.phys_bits, cli.la57), (40, true));
        assert_eq!(cli.diff, Some(DiffChoice::Unified));
        assert_eq!(cli.exec, ["undo", "redo"]);
        assert!(cli.keep_going && cli.explain);
        assert_eq!(cli.command, words("show --flags"));
        assert_eq!(hint_for("x-ioports.txt"), Some(RootKind::Ioport));
        for bad in [
            ["iomem-sim", "--block-size", "100M"],
            ["iomem-sim", "--kernel", "five"],
            ["iomem-sim", "--auto-online", "sometimes"],
            ["iomem-sim", "--phys-bits", "99"],
        ] {
            assert!(Cli::try_parse_from(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn clap_definition_is_consistent() {
        Cli::command().debug_assert();
    }
}
