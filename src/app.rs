//! The binary edge: clap arguments → config → run → exit code (issues 2, 4).
//!
//! `Cli` (clap) is turned into a plain [`Config`] once. Its subcommands are the command
//! language's [`Cmd`] (one definition shared with the REPL, `-e` and `--script`, see
//! [`crate::command`]); its options are `global`, so they may also follow the command words
//! (`hotplug add a0000000 128M --diff none`). anyhow lives here and in `main.rs` only.
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
use crate::command::{Cmd, CommandError, Offer, kernel_parser, parse_size};
use crate::examples;
use crate::kernel::KernelVersion;
use crate::kernel::machine::{self, Machine};
use crate::kernel::memory::OnlineType;
use crate::parse::{Dump, parse_dump};
use crate::render::{
    Palette, TreeOptions, render_iomem, render_json, render_json_text, render_tree,
};
use crate::repl::{
    DiffMode, Present, SourceLine, StepRecord, explain_text, present, run_commands_keeping,
};
use crate::session::{Outcome, Output, Session, StepOutcome};
use crate::tree::{RootKind, Tree};

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
/// One command on the command line (`iomem-sim hotplug add a0000000 128M`), several with -e or
/// --script, or a session with `repl`. `iomem-sim help` lists the commands, `iomem-sim help
/// CMD` or `iomem-sim CMD --help` shows one. Without a command: show the tree (on a terminal
/// with no input named: the REPL).
///
/// Exit status: 0 ok; 1 a command was refused by the simulated kernel (the tree is left as it
/// was) or `check` found anomalies; 2 bad input, bad command syntax, I/O or usage error.
#[derive(Debug, Parser)]
#[command(
    name = "iomem-sim",
    version,
    about,
    long_about,
    max_term_width = 100,
    disable_help_subcommand = true,
    next_help_heading = "Global options"
)]
pub struct Cli {
    /// A /proc/iomem or /proc/ioports dump ("-" for stdin; /proc/iomem itself works).
    /// Without it, a dump piped on stdin is read, else the built-in example.
    #[arg(short, long, value_name = "FILE", global = true, value_hint = clap::ValueHint::FilePath)]
    pub input: Option<PathBuf>,

    /// Start from a built-in tree ("list" lists them).
    #[arg(long, value_name = "NAME", conflicts_with = "input", global = true,
          value_parser = Offer { parser: clap::builder::NonEmptyStringValueParser::new(), values: example_names, strict: false })]
    pub example: Option<String>,

    /// Kernel behaviour to mimic (5.0, 5.1, 5.8, 6.1, 6.12, …; default: the newest modelled).
    #[arg(short, long, value_name = "VERSION", value_parser = kernel_parser(), global = true)]
    pub kernel: Option<KernelVersion>,

    /// Memory block size (/sys/devices/system/memory/block_size_bytes).
    #[arg(long, value_name = "SIZE", default_value = "128M", value_parser = parse_block_size,
          global = true)]
    pub block_size: u64,

    /// memhp_default_state: offline, online, online_movable, online_kernel.
    #[arg(long, value_name = "POLICY", default_value = "offline", global = true,
          value_parser = Offer { parser: parse_online, values: || vec!["offline", "online", "online_kernel", "online_movable"],
                            strict: false })]
    pub auto_online: OnlineType,

    /// The CPU's physical address width: the iomem root ends at 2^N - 1.
    #[arg(long, value_name = "N", default_value_t = 46,
          value_parser = clap::value_parser!(u32).range(20..=64), global = true)]
    pub phys_bits: u32,

    /// 5-level paging: mhp_range_allowed allows up to 2^52 - 1 instead of 2^46 - 1.
    #[arg(long, global = true)]
    pub la57: bool,

    /// Output format.
    #[arg(long, value_enum, default_value_t = Format::Tree, global = true)]
    pub format: Format,

    /// How a change is shown (default: side for --format tree; none for --format iomem, which
    /// prints the resulting tree).
    #[arg(long, value_enum, value_name = "STYLE", global = true)]
    pub diff: Option<DiffChoice>,

    /// When to color the output.
    #[arg(long, value_enum, default_value_t = ColorChoice::Auto, value_name = "WHEN", global = true)]
    pub color: ColorChoice,

    /// Run one command (repeatable, in order, before the command words).
    #[arg(short = 'e', long = "exec", value_name = "CMD", global = true)]
    pub exec: Vec<String>,

    /// Run the commands in FILE, one per line (`#` comments, blank lines ignored).
    #[arg(short = 'f', long = "script", value_name = "FILE", global = true,
          value_hint = clap::ValueHint::FilePath)]
    pub script: Option<PathBuf>,

    /// Do not stop at the first refused or failing command.
    #[arg(long, global = true)]
    pub keep_going: bool,

    /// Print the kernel's decision path for every command.
    #[arg(long, global = true)]
    pub explain: bool,

    #[command(subcommand)]
    pub command: Option<Cmd>,
}

fn example_names() -> Vec<&'static str> {
    let mut v: Vec<&'static str> = examples::names().collect();
    v.push("list");
    v
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
    /// No command, `show` or `show --flags`: print the (resulting) tree in `--format`.
    Show { flags: bool },
    /// `check`: the anomaly report.
    Check,
    /// `repl`: the interactive session (or a piped one).
    Repl,
    /// `completions SHELL`.
    Completions(clap_complete::Shell),
    /// `man [PAGE]` or `man --dir DIR`.
    Man {
        page: Option<String>,
        dir: Option<PathBuf>,
    },
    /// `help [COMMAND]` on the command line: the command line's own help texts.
    Help(Option<String>),
    /// One command of the command language.
    Run(crate::command::Command),
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
    pub command: Option<Cmd>,
    /// The command-line words after the program name (quoted), for error messages.
    pub argv_line: String,
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
        let wants_repl = matches!(cli.command, Some(Cmd::Repl));
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
            argv_line: std::env::args()
                .skip(1)
                .map(|a| shlex::try_quote(&a).map_or(a.clone(), |q| q.into_owned()))
                .collect::<Vec<_>>()
                .join(" "),
            interactive: stdin_tty && stdout_tty,
            default_source,
        }
    }
}

/// Classify the command. Session commands become a [`crate::command::Command`]; span errors
/// point at the word in `line`.
pub fn parse_action(cmd: Option<&Cmd>, line: &str) -> Result<Action, CommandError> {
    Ok(match cmd {
        None => Action::Show { flags: false },
        Some(Cmd::Show {
            target,
            name: None,
            flags,
        }) if target.is_empty() => Action::Show { flags: *flags },
        Some(Cmd::Check) => Action::Check,
        Some(Cmd::Repl) => Action::Repl,
        Some(Cmd::Completions { shell }) => Action::Completions(*shell),
        Some(Cmd::Man { page, dir }) => Action::Man {
            page: page.clone(),
            dir: dir.clone(),
        },
        Some(Cmd::Help { topic }) => Action::Help((!topic.is_empty()).then(|| topic.join(" "))),
        Some(c) => Action::Run(c.clone().into_command(line)?),
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

fn read_stdin() -> Result<Vec<u8>> {
    let mut buf = Vec::new();
    std::io::stdin()
        .lock()
        .read_to_end(&mut buf)
        .context("reading the dump from stdin")?;
    Ok(buf)
}

/// Load the starting tree named by `source`.
pub fn load(source: &Source) -> Result<Dump> {
    let (bytes, hint, what): (Vec<u8>, Option<RootKind>, String) = match source {
        Source::File(p) => {
            let bytes = std::fs::read(p).with_context(|| format!("reading {}", p.display()))?;
            let name = p.file_name().map(|n| n.to_string_lossy().into_owned());
            (
                bytes,
                name.as_deref().and_then(hint_for),
                p.display().to_string(),
            )
        }
        Source::Stdin => (read_stdin()?, None, "stdin".to_string()),
        Source::StdinOrDefault => {
            let bytes = read_stdin()?;
            if bytes.is_empty() {
                // stdin is /dev/null or an empty pipe (cron, CI, ssh without a tty): show the
                // built-in example rather than fail on an empty dump.
                return load(&Source::Example(examples::DEFAULT.to_string()));
            }
            (bytes, None, "stdin".to_string())
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
                e.text.as_bytes().to_vec(),
                Some(e.kind),
                format!("example {name}"),
            )
        }
    };
    parse_dump(&bytes, hint).with_context(|| format!("parsing {what}"))
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

/// The lines of `--script FILE`, each named `FILE:LINE` for error messages.
fn script_lines(path: &std::path::Path) -> Result<Vec<SourceLine>> {
    let bytes =
        std::fs::read(path).with_context(|| format!("reading script {}", path.display()))?;
    Ok(SourceLine::lines_of(&path.display().to_string(), &bytes))
}

/// Run with a resolved config; returns the exit status or an error (exit 2).
pub fn run(cfg: &Config) -> Result<Exit> {
    let stdout = std::io::stdout();
    let mut out = stdout.lock();
    let pal = Palette::new(cfg.color);
    if cfg.source == Source::Example("list".to_string()) {
        out.write_all(list_examples().as_bytes())?;
        return Ok(Exit::Ok);
    }
    let mut action = match parse_action(cfg.command.as_ref(), &cfg.argv_line) {
        Ok(a) => a,
        Err(e) => return report_syntax_error(&mut out, cfg, &pal, &e),
    };
    match &action {
        Action::Completions(shell) => {
            out.write_all(completion_script(*shell).as_bytes())?;
            out.flush()?;
            return Ok(Exit::Ok);
        }
        Action::Man { page, dir } => {
            match dir {
                Some(d) => {
                    for f in crate::manual::write_all(&Cli::command(), d)? {
                        writeln!(out, "{}", d.join(f).display())?;
                    }
                }
                None => crate::manual::render(
                    &Cli::command(),
                    page.as_deref().unwrap_or("iomem-sim"),
                    &mut out,
                )?,
            }
            out.flush()?;
            return Ok(Exit::Ok);
        }
        Action::Help(topic) => {
            let mut cli = Cli::command();
            cli.build();
            let text = match topic {
                Some(t) => crate::command::help_from(&cli, Some(t), false),
                None => cli.render_long_help().to_string(),
            };
            out.write_all(text.as_bytes())?;
            out.flush()?;
            return Ok(Exit::Ok);
        }
        _ => {}
    }
    // Nothing to do on a terminal with nothing named: start the REPL (cli.md "Invocation").
    if action == (Action::Show { flags: false })
        && cfg.command.is_none()
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
    let mut lines: Vec<SourceLine> = cfg
        .exec
        .iter()
        .enumerate()
        .map(|(i, e)| SourceLine {
            origin: Some(format!("-e {}", i + 1)),
            ..SourceLine::plain(e)
        })
        .collect();
    if let Some(p) = &cfg.script {
        lines.extend(script_lines(p)?);
    }
    let dump = load(&cfg.source)?;
    {
        let mut err = std::io::stderr().lock();
        for w in &dump.warnings {
            writeln!(err, "{} {w}", pal.warn("warning:"))?;
        }
        for n in &dump.normalizations {
            writeln!(err, "{} {n}", pal.dim("note:"))?;
        }
    }
    if let Action::Run(cmd) = &action {
        lines.push(SourceLine::plain(&cmd.to_string()));
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
        let kernel = cfg.machine.version.to_string();
        return show_or_check(&mut out, cfg, &kernel, &pal, &dump.tree, &action, &[]);
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
        let mut emit = |o: &StepOutcome, origin: Option<&str>| {
            if io_error.is_some() {
                return;
            }
            let r = if echo {
                writeln!(out, "> {}", o.command)
            } else {
                Ok(())
            }
            .and_then(|()| emit_outcome(&mut out, o, origin, &present_opts, data_only));
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
            let kernel = session.version().to_string();
            let e = show_or_check(&mut out, cfg, &kernel, &pal, &tree, &action, &records)?;
            exit = Exit::from_code((exit as i32).max(e as i32));
        }
        _ => match cfg.format {
            Format::Iomem => out.write_all(&render_iomem(&tree))?,
            Format::Json => write_json(&mut out, &session.version().to_string(), &tree, &records)?,
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
    origin: Option<&str>,
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
            Outcome::Refused(_) => match origin {
                Some(at) => write!(err, "{at}: {se}")?,
                None => write!(err, "{se}")?,
            },
            _ => write!(err, "{} {se}", p.palette.error("error:"))?,
        }
    }
    Ok(())
}

/// The version of the one JSON envelope every `--format json` output is (docs/json.md).
pub const JSON_SCHEMA: u32 = 1;

/// The JSON envelope: schema, kernel in force, the command (the last one run, or `show` /
/// `check`), its outcome and errno, every change, each step, a query's answer, the tree.
pub fn envelope(
    kernel: Option<&str>,
    command: &str,
    records: &[StepRecord],
    answer: Option<serde_json::Value>,
    tree: Option<serde_json::Value>,
) -> serde_json::Value {
    let rank = |o: &str| match o {
        "ok" => 0,
        "refused" => 1,
        _ => 2,
    };
    let outcome = records
        .iter()
        .map(|r| r.outcome)
        .max_by_key(|o| rank(o))
        .unwrap_or("ok");
    let failed = records.iter().find(|r| r.outcome != "ok");
    let changes: Vec<&crate::diff::ChangeSummary> =
        records.iter().flat_map(|r| r.changes.iter()).collect();
    let answer = answer.or_else(|| records.last().and_then(|r| r.answer.clone()));
    serde_json::json!({
        "schema": JSON_SCHEMA,
        "kernel": kernel,
        "command": records.last().map_or(command, |r| r.command.as_str()),
        "outcome": outcome,
        "errno": failed.and_then(|r| r.errno.clone()),
        "errno_value": failed.and_then(|r| r.errno_value),
        "message": failed.and_then(|r| r.message.clone()),
        "changes": changes,
        "answer": answer,
        "steps": records,
        "tree": tree,
    })
}

fn write_json(
    out: &mut dyn Write,
    kernel: &str,
    tree: &Tree,
    records: &[StepRecord],
) -> Result<()> {
    let v = envelope(Some(kernel), "show", records, None, Some(render_json(tree)));
    writeln!(out, "{}", serde_json::to_string_pretty(&v)?)?;
    Ok(())
}

/// A command that does not parse: on stderr, or (`--format json`) as the envelope on stdout
/// too. Exit 2.
fn report_syntax_error(
    out: &mut dyn Write,
    cfg: &Config,
    pal: &Palette,
    e: &CommandError,
) -> Result<Exit> {
    if cfg.format == Format::Json {
        writeln!(out, "{}", syntax_error_json(&cfg.argv_line, &e.to_string()))?;
    }
    eprintln!("{} {e}", pal.error("error:"));
    Ok(Exit::Error)
}

/// The envelope of a command line that did not parse.
pub fn syntax_error_json(line: &str, message: &str) -> String {
    let v = serde_json::json!({
        "schema": JSON_SCHEMA,
        "kernel": null,
        "command": line,
        "outcome": "error",
        "errno": null,
        "errno_value": null,
        "message": message,
        "changes": [],
        "answer": null,
        "steps": [],
        "tree": null,
    });
    serde_json::to_string_pretty(&v).unwrap_or_default()
}

/// `show [--flags]` / `check` of `tree` (after any commands).
fn show_or_check(
    out: &mut dyn Write,
    cfg: &Config,
    kernel: &str,
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
                    let answer = serde_json::json!({
                        "resources": tree.len(),
                        "count": v.len(),
                        "anomalies": v,
                    });
                    let mut env = envelope(
                        Some(kernel),
                        "check",
                        records,
                        Some(answer),
                        Some(render_json(tree)),
                    );
                    env["command"] = serde_json::json!("check");
                    writeln!(out, "{}", serde_json::to_string_pretty(&env)?)?;
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
                Format::Iomem => out.write_all(&render_iomem(tree))?,
                Format::Json if !records.is_empty() => write_json(out, kernel, tree, records)?,
                Format::Json => {
                    // Deep untrusted dumps: the tree is printed iteratively, inside the envelope.
                    let env = envelope(Some(kernel), "show", records, None, None);
                    let head = serde_json::to_string_pretty(&env)?;
                    let head = head
                        .strip_suffix("\n  \"tree\": null\n}")
                        .unwrap_or(&head)
                        .to_string();
                    let tree_text = render_json_text(tree);
                    let tree_text = tree_text.trim_end().replace('\n', "\n  ");
                    writeln!(out, "{head}\n  \"tree\": {tree_text}\n}}")?;
                }
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

/// The completion script for `shell`, from the same clap definition as the parser.
pub fn completion_script(shell: clap_complete::Shell) -> String {
    let mut buf = Vec::new();
    clap_complete::generate(shell, &mut Cli::command(), "iomem-sim", &mut buf);
    let text = String::from_utf8_lossy(&buf).into_owned();
    // clap_complete 4.6 names the bash case arms of a program whose name has a `-` with
    // `iomem__subcmd__sim__…` but sets `cmd=iomem__sim__…`, so no subcommand ever matched
    // (`iomem-sim hotplug a<TAB>` gave nothing). Spell them one way.
    match shell {
        clap_complete::Shell::Bash => text.replace("iomem__subcmd__sim", "iomem__sim"),
        _ => text,
    }
}

/// Does the (unparsed) command line ask for `--format json`?
fn wants_json(args: impl Iterator<Item = String>) -> bool {
    let args: Vec<String> = args.collect();
    args.windows(2)
        .any(|w| w[0] == "--format" && w[1] == "json")
        || args.iter().any(|a| a == "--format=json")
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
        Err(e) => {
            // clap prints help/version (exit 0) and usage errors (exit 2) itself; under
            // `--format json` a usage error is also the JSON envelope on stdout.
            if e.use_stderr() && wants_json(std::env::args().skip(1)) {
                let line: Vec<String> = std::env::args().skip(1).collect();
                let msg = e.render().to_string();
                let msg = msg.strip_prefix("error: ").unwrap_or(&msg);
                println!("{}", syntax_error_json(&line.join(" "), msg.trim_end()));
            }
            let _ = e.print();
            return ExitCode::from(e.exit_code().clamp(0, 255) as u8);
        }
    };
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

    fn action(args: &str) -> Result<Action, CommandError> {
        let argv = std::iter::once("iomem-sim").chain(args.split_whitespace());
        let cli = Cli::try_parse_from(argv).unwrap();
        parse_action(cli.command.as_ref(), args)
    }

    #[test]
    fn actions() {
        assert_eq!(action("").unwrap(), Action::Show { flags: false });
        assert_eq!(
            action("show --flags").unwrap(),
            Action::Show { flags: true }
        );
        assert_eq!(action("check").unwrap(), Action::Check);
        assert_eq!(action("repl").unwrap(), Action::Repl);
        assert_eq!(
            action("completions zsh").unwrap(),
            Action::Completions(clap_complete::Shell::Zsh)
        );
        assert!(Cli::try_parse_from(["iomem-sim", "completions", "tcsh"]).is_err());
        assert_eq!(
            action("hotplug add a0000000 128M").unwrap(),
            Action::Run(crate::command::parse_command("hotplug add a0000000 128M").unwrap())
        );
        // Global options after the command words.
        let cli = Cli::try_parse_from(
            "iomem-sim hotplug add a0000000 128M --diff none -k 5.0".split(' '),
        )
        .unwrap();
        assert_eq!(cli.diff, Some(DiffChoice::None));
        assert_eq!(cli.kernel.map(|k| k.to_string()).as_deref(), Some("5.0"));
        assert!(action("hotplug add a0000000 12Q").is_err());
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
        assert!(matches!(cli.command, Some(Cmd::Show { flags: true, .. })));
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
