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
use crate::command::{Cmd, CommandError, Offer, parse_size};
use crate::examples;
use crate::kernel::KernelVersion;
use crate::kernel::machine::{self, Machine};
use crate::kernel::memory::OnlineType;
use crate::parse::{Dump, parse_dump};
use crate::render::{Palette, TreeOptions, render_json, render_json_text, render_tree};
use crate::repl::{
    DiffMode, Present, SourceLine, StepRecord, explain_text, present, run_commands_keeping,
};
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
    /// The address-space map as an SVG picture (a before/after pair when the last command
    /// changed the tree).
    Svg,
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
/// --live starts from this machine (its /proc/iomem, memory blocks, dax devices, CPU address
/// width and kernel release); `capture -o FILE` saves all of that in one file that `-i FILE`
/// loads anywhere.
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

    /// Start from this machine: /proc/iomem, /sys/devices/system/memory, /sys/bus/dax,
    /// /proc/cpuinfo, the kernel release and command line (what is read is said on stderr).
    #[arg(long, conflicts_with_all = ["input", "example", "sysfs_root"])]
    pub live: bool,

    /// Like --live, reading DIR/proc/… and DIR/sys/… (a copy of a machine's /, as
    /// `lsmem --sysroot DIR`).
    #[arg(long, value_name = "DIR", conflicts_with_all = ["input", "example"])]
    pub sysfs_root: Option<PathBuf>,

    /// Kernel behaviour to mimic (5.0, 5.1, 5.8, 6.1, 6.12, …; default: the newest modelled).
    /// Several (`5.0,5.1,6.1`) or a range (`5.0..6.12`, every modelled boundary in it) run
    /// side by side; `list` lists the modelled boundaries.
    #[arg(short, long, value_name = "VERSION", value_parser = kernel_arg_parser(), global = true)]
    pub kernel: Option<crate::compare::KernelArg>,

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

    /// memory_hotplug.online_policy (5.16+): contig-zones, or auto-movable (`online` picks
    /// ZONE_MOVABLE while the MOVABLE:KERNEL ratio allows).
    #[arg(long, value_name = "POLICY", default_value = "contig-zones",
          value_parser = |s: &str| s.parse::<crate::kernel::online_policy::OnlinePolicy>().map_err(|e| e.to_string()))]
    pub online_policy: crate::kernel::online_policy::OnlinePolicy,

    /// memory_hotplug.auto_movable_ratio: the MOVABLE:KERNEL ratio in percent (auto-movable).
    #[arg(long, value_name = "PERCENT", default_value_t = 301)]
    pub auto_movable_ratio: u32,

    /// The movable_node kernel parameter: `online` of memory in no zone yet picks ZONE_MOVABLE.
    #[arg(long)]
    pub movable_node: bool,
    /// Declare a NUMA node as the SRAT would, NID:START-END in hex (repeatable), e.g.
    /// 0:0-13fffffff. Without it: one node over [0, end of the last boot System RAM].
    #[arg(long, value_name = "NID:START-END")]
    pub numa_node: Vec<crate::kernel::nvdimm::NumaNode>,

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

fn parse_version(s: &str) -> Result<crate::compare::KernelArg, String> {
    crate::compare::parse_kernel_arg(s).map_err(|_| {
        format!(
            "expected a kernel version like 5.0, 5.1 or 6.1, several (5.0,5.1), a range (5.0..6.12) or `list`, not {s:?}"
        )
    })
}

/// `--kernel` values: what [`parse_version`] accepts, the modelled versions offered to completion.
fn kernel_arg_parser() -> Offer<crate::command::ParseFn<crate::compare::KernelArg>> {
    Offer {
        parser: parse_version,
        values: crate::command::kernel_values,
        strict: false,
    }
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
    /// `--live` (`/`) or `--sysfs-root DIR`: the machine's own state ([`crate::live`]).
    Root(PathBuf),
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
    /// `capture [-o FILE]`: write the live state as a bundle ([`crate::capture`]).
    Capture(Option<PathBuf>),
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
    /// `--kernel` was given (it wins over a live machine's release).
    pub kernel_given: bool,
    /// `--kernel` as given (several versions: side by side; `list`).
    pub kernel_arg: Option<crate::compare::KernelArg>,
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
        let default_source =
            cli.input.is_none() && cli.example.is_none() && !cli.live && cli.sysfs_root.is_none();
        let kernel_given = cli.kernel.is_some();
        // `repl` reads its commands from stdin, so stdin cannot also be the dump.
        let wants_repl = matches!(cli.command, Some(Cmd::Repl));
        // `capture` reads the machine (--live implied) unless a dump or example was named,
        // which `capture` then refuses.
        let capture_here = cli.input.is_none()
            && cli.example.is_none()
            && matches!(cli.command, Some(Cmd::Capture { .. }));
        let source = match (cli.input, cli.example) {
            _ if cli.sysfs_root.is_some() => Source::Root(cli.sysfs_root.unwrap_or_default()),
            // `capture` reads the machine: --live is implied.
            _ if cli.live || capture_here => Source::Root(PathBuf::from("/")),
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
            version: cli
                .kernel
                .as_ref()
                .map_or(KernelVersion::NEWEST, |k| k.first()),
            block_size: cli.block_size,
            auto_online: cli.auto_online,
            phys_bits: cli.phys_bits,
            la57: cli.la57,
            online_policy: cli.online_policy,
            auto_movable_ratio: cli.auto_movable_ratio,
            movable_node: cli.movable_node,
            numa_nodes: cli.numa_node,
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
            kernel_given,
            kernel_arg: cli.kernel,
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
        Some(Cmd::Capture { output }) => Action::Capture(output.clone()),
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

/// A regular file printed as the kernel prints it, parsed while it is read
/// ([`crate::input::stream_lines`] into [`crate::parse::KernelPrinted`]), so its text is never
/// held whole. `None` for anything else, or any trouble: the caller reads the file again and
/// [`parse_dump`] decides, with its errors and notes (a file can be read twice; a pipe cannot,
/// so stdin always takes the other way).
fn parse_file_as_read(p: &std::path::Path, hint: Option<RootKind>) -> Option<Dump> {
    // stat before open: opening a FIFO would wait for a writer, and closing it again would
    // leave that writer writing into a pipe nobody reads.
    let meta = std::fs::metadata(p).ok()?;
    if !meta.is_file() {
        return None;
    }
    let f = std::fs::File::open(p).ok()?;
    // Capacity hints (procfs files report size 0): a kernel-printed line is 30 to 60 bytes.
    let size = usize::try_from(meta.len())
        .unwrap_or(0)
        .min(crate::input::MAX_INPUT);
    let mut b = crate::parse::KernelPrinted::new(hint, size / 32, size / 2);
    match crate::input::stream_lines(f, |l| b.line(l)) {
        crate::input::Streamed::Done { final_newline } => b.finish(final_newline),
        crate::input::Streamed::GaveUp => None,
    }
}

/// Load the starting tree named by `source`.
pub fn load(source: &Source) -> Result<Dump> {
    load_named(source).map(|(d, _)| d)
}

/// [`load`], and how to name what was loaded in the banner.
pub fn load_named(source: &Source) -> Result<(Dump, String)> {
    let (text, hint, what): (crate::input::Text, Option<RootKind>, String) = match source {
        Source::File(p) => {
            let name = p.file_name().map(|n| n.to_string_lossy().into_owned());
            if let Some(d) = parse_file_as_read(p, name.as_deref().and_then(hint_for)) {
                return Ok((d, p.display().to_string()));
            }
            let f = std::fs::File::open(p).with_context(|| format!("reading {}", p.display()))?;
            let text = read_dump_bounded(f, &p.display().to_string())?;
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
                return Ok((
                    Dump {
                        tree: Tree::new(kind, end),
                        warnings: Vec::new(),
                        normalizations: vec![format!(
                            "{} is empty: read as a tree with no resources (what `save` writes \
                         after every resource was released)",
                            p.display()
                        )],
                        hex_width: if kind == RootKind::Ioport { 4 } else { 8 },
                        lines: 0,
                    },
                    p.display().to_string(),
                ));
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
                let (d, _) = load_named(&Source::Example(examples::DEFAULT.to_string()))?;
                return Ok((
                    d,
                    format!("example {} (built-in; stdin was empty)", examples::DEFAULT),
                ));
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
        Source::Root(r) => bail!("{} is a root directory, not a dump", r.display()),
    };
    let named = if matches!(source, Source::Example(_)) {
        format!("{what} (built-in)")
    } else {
        what.clone()
    };
    let mut d = parse_dump(&text.bytes, hint).with_context(|| format!("parsing {what}"))?;
    if let Some(n) = crate::input::lone_cr_note(&text) {
        d.normalizations.insert(0, n);
    }
    Ok((d, named))
}

/// The starting point of a run: the dump, the machine when it was built from live state, the
/// stderr report of what was read, and the one-line banner naming it all.
struct Start {
    dump: Dump,
    machine: Option<Machine>,
    report: String,
    banner: String,
    live: bool,
}

/// Load the start: a dump or example as before; `--live`/`--sysfs-root` or a capture bundle
/// through [`crate::live`], whose facts override the command line's machine options.
fn start(cfg: &Config, source: &Source) -> Result<Start> {
    let state = match source {
        Source::Root(r) => Some(crate::live::LiveState::read(&crate::live::RootDir::new(r))),
        Source::File(p) => {
            // Only a regular file that starts like a bundle is read whole here; anything else
            // goes to the bounded dump reader (`-i /dev/zero` must not be slurped, and a pipe
            // cannot be peeked at and reopened).
            let mut head = Vec::new();
            if std::fs::metadata(p).is_ok_and(|m| m.is_file()) {
                std::fs::File::open(p)
                    .and_then(|f| {
                        std::io::Read::read_to_end(&mut std::io::Read::take(f, 64), &mut head)
                    })
                    .with_context(|| format!("reading {}", p.display()))?;
            }
            if crate::capture::looks_like_capture(&head) {
                let f =
                    std::fs::File::open(p).with_context(|| format!("reading {}", p.display()))?;
                let bytes = crate::input::read_bounded(f, |l| std::str::from_utf8(l).is_ok())
                    .with_context(|| format!("reading the capture {}", p.display()))?
                    .bytes;
                let text = String::from_utf8_lossy(&bytes);
                let b = crate::capture::parse(&text, &p.display().to_string())
                    .with_context(|| format!("reading the capture {}", p.display()))?;
                Some(crate::live::LiveState::read(&b))
            } else {
                None
            }
        }
        _ => None,
    };
    let Some(state) = state else {
        let (dump, what) = load_named(source)?;
        let m = &cfg.machine;
        let kernel = if cfg.kernel_given {
            "--kernel"
        } else {
            "default: the newest modelled"
        };
        let bs = if m.block_size == machine::DEFAULT_BLOCK_SIZE {
            "x86_64 default"
        } else {
            "--block-size"
        };
        let banner = format!(
            "iomem-sim: starting from {what}; kernel {} ({kernel}); block size {} ({bs}); auto-online {}",
            m.version,
            crate::render::lsmem::size_to_human_string(m.block_size),
            m.auto_online
        );
        return Ok(Start {
            dump,
            machine: None,
            report: String::new(),
            banner,
            live: false,
        });
    };
    let mut report = state.report();
    let lm = state
        .machine(&cfg.machine, cfg.kernel_given)
        .with_context(|| format!("starting from {}", state.root))?;
    for n in &lm.notes {
        report.push_str(&format!("live: {n}\n"));
    }
    let c = &lm.machine.config;
    let kernel = match (&state.release, cfg.kernel_given) {
        (_, true) => "--kernel".to_string(),
        (Some((r, from)), false) => format!("{r} from {from}"),
        (None, false) => "default: the release could not be read".to_string(),
    };
    let what = if state.iomem_zeroed || state.iomem.is_none() {
        format!(
            "the System RAM of the memory blocks of {} (no readable proc/iomem)",
            state.root
        )
    } else {
        format!("proc/iomem of {}", state.root)
    };
    let banner = format!(
        "iomem-sim: starting from {what}; kernel {} ({kernel}); block size {} ({}); auto-online {}",
        c.version,
        crate::render::lsmem::size_to_human_string(c.block_size),
        state.block_size_source(),
        c.auto_online
    );
    Ok(Start {
        dump: lm.dump,
        machine: Some(lm.machine),
        report,
        banner,
        live: true,
    })
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

/// The lines of `--script FILE` (`-`: stdin), each named `FILE:LINE` for error messages.
/// Read bounded ([`crate::input`]): a line over 1 MiB is an error, reading stops at the first
/// line holding a NUL byte (binary data, not a script); LF, CRLF and lone-CR line ends all
/// end a line (a note says so for lone CRs). A line that is not UTF-8 is an error on that
/// line only ([`SourceLine::parse`]).
fn script_lines(path: &std::path::Path) -> Result<(Vec<SourceLine>, Option<String>)> {
    let (what, name) = if path.as_os_str() == "-" {
        ("script from stdin".to_string(), "stdin".to_string())
    } else {
        (
            format!("script {}", path.display()),
            path.display().to_string(),
        )
    };
    let not_binary = |l: &[u8]| !l.contains(&0);
    let text = if path.as_os_str() == "-" {
        crate::input::read_bounded(std::io::stdin().lock(), not_binary)
    } else {
        let f = std::fs::File::open(path).with_context(|| format!("reading {what}"))?;
        crate::input::read_bounded(f, not_binary)
    }
    .with_context(|| format!("reading {what}"))?;
    if text.stopped_early {
        let n = text
            .bytes
            .split(|&b| b == b'\n')
            .position(|l| l.contains(&0));
        bail!(
            "{what}: line {} holds a NUL byte: not a script (a binary file?)",
            n.map_or(0, |n| n + 1)
        );
    }
    let note = crate::input::lone_cr_note(&text).map(|n| format!("{what}: {n}"));
    Ok((SourceLine::lines_of(&name, &text.bytes), note))
}

/// Run with a resolved config; returns the exit status or an error (exit 2).
pub fn run(cfg: &Config) -> Result<Exit> {
    let mut out = StdoutWriter(std::io::stdout().lock());
    let pal = Palette::new(cfg.color);
    if cfg.source == Source::Example("list".to_string()) {
        out.write_all(list_examples().as_bytes())?;
        return Ok(Exit::Ok);
    }
    if cfg.kernel_arg == Some(crate::compare::KernelArg::List) {
        out.write_all(crate::kernel::boundaries::list_text().as_bytes())?;
        return Ok(Exit::Ok);
    }
    for v in cfg.kernel_arg.iter().flat_map(|k| k.versions()) {
        if let Some(w) = crate::kernel::boundaries::modelled_warning(v) {
            writeln!(std::io::stderr(), "{} {w}", pal.warn("warning:"))?;
        }
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
    if let Action::Capture(path) = &action {
        return run_capture(&mut out, cfg, path.as_deref());
    }
    let start = start(cfg, &source)?;
    let dump = start.dump;
    {
        let mut err = std::io::stderr().lock();
        err.write_all(start.report.as_bytes())?;
        // The starting tree is always named (issue 13): for a session, and for a live start.
        if start.live || !lines.is_empty() || matches!(action, Action::Repl | Action::Run(_)) {
            writeln!(err, "{}", pal.dim(&start.banner))?;
        }
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
    if let Action::Run(cmd) = &action {
        lines.push(SourceLine::plain(&cmd.to_string()));
    }
    let present_opts = Present {
        palette: pal,
        diff: cfg
            .diff
            .unwrap_or(match cfg.format {
                Format::Tree => DiffChoice::Side,
                Format::Iomem | Format::Json | Format::Svg => DiffChoice::None,
            })
            .into(),
        explain_all: cfg.explain,
        ..Present::plain()
    };
    if let Some(crate::compare::KernelArg::Many(vs)) = &cfg.kernel_arg
        && action != Action::Repl
    {
        let machine = match start.machine {
            Some(m) => m,
            None => Machine::boot(dump.tree, cfg.machine.clone()),
        };
        let texts: Vec<String> = lines.iter().map(|l| l.text.clone()).collect();
        return run_compare(&mut out, cfg, &pal, &machine, vs, &texts, &action);
    }
    if lines.is_empty() && !matches!(action, Action::Repl) {
        // Nothing simulated: print the dump as read (the root as the text implies it).
        let kernel = cfg.machine.version.to_string();
        let r = show_or_check(&mut out, cfg, &kernel, &pal, &dump.tree, &action, &[]);
        // As at the end of a session: the exit frees the tree.
        std::mem::forget(dump);
        return r;
    }
    let machine = match start.machine {
        Some(m) => m,
        None => Machine::boot(dump.tree, cfg.machine.clone()),
    };
    let mut session = Session::new(machine);
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
        // Nothing shows a step's diff under `--format iomem|svg` (JSON records its changes):
        // do not build it.
        session.set_step_views(!data_only || keep_all);
        run_commands_keeping(&mut session, &lines, cfg.keep_going, keep_all, &mut emit)
    };
    if let Some(e) = io_error {
        return Err(e.into());
    }
    let quit = records.last().is_some_and(|r| r.command == "quit");
    let mut exit = Exit::from_code(code);
    if action == Action::Repl && !quit && (code == 0 || cfg.keep_going) {
        drop(out);
        session.set_step_views(true);
        let mut side = crate::compare::ReplCompare::default();
        if let Some(crate::compare::KernelArg::Many(vs)) = &cfg.kernel_arg {
            let arg = crate::compare::KernelArg::Many(vs.clone());
            if let Some((o, _, _)) = side.handle(
                &mut session,
                &format!("kernel {arg}"),
                &pal,
                present_opts.diff,
            ) {
                print!("{o}");
            }
        }
        let c = crate::repl::run_from(&mut session, &present_opts, side)?;
        // As below: the exit frees the session faster than its destructor.
        std::mem::forget(session);
        return Ok(Exit::from_code(code.max(c)));
    }
    let tree = session.tree();
    match action {
        Action::Show { .. } | Action::Check => {
            let kernel = session.version().to_string();
            let e = show_or_check(&mut out, cfg, &kernel, &pal, tree, &action, &records)?;
            exit = Exit::from_code((exit as i32).max(e as i32));
        }
        _ => match cfg.format {
            Format::Iomem => crate::render::write_iomem(tree, &mut out)?,
            Format::Json => write_json(&mut out, &session.version().to_string(), tree, &records)?,
            Format::Svg => write_svg(&mut out, &session)?,
            Format::Tree => {}
        },
    }
    out.flush()?;
    // The process ends here: freeing a million-node arena node by node is a tenth of a big
    // run's time and frees nothing the exit would not.
    std::mem::forget(session);
    Ok(exit)
}

/// `--kernel A,B,…`: the commands side by side (src/compare.rs); `check` is not a command
/// the versions can disagree on, so it is refused.
fn run_compare(
    out: &mut dyn Write,
    cfg: &Config,
    pal: &Palette,
    start: &Machine,
    versions: &[KernelVersion],
    lines: &[String],
    action: &Action,
) -> Result<Exit> {
    if *action == Action::Check {
        bail!("`check` looks at one tree: give one --kernel");
    }
    let format = match cfg.format {
        Format::Tree => crate::compare::Format::Text,
        Format::Json => crate::compare::Format::Json,
        Format::Iomem => crate::compare::Format::Iomem,
        Format::Svg => bail!("--format svg draws one tree: give one --kernel"),
    };
    let (so, se, code) = crate::compare::run(
        start,
        versions,
        lines,
        cfg.keep_going,
        format,
        pal,
        cfg.diff.map(DiffMode::from),
    );
    out.write_all(so.as_bytes())?;
    out.flush()?;
    if !se.is_empty() {
        write!(std::io::stderr(), "{se}")?;
    }
    Ok(Exit::from_code(code))
}

/// One command's outcome: its presentation on stdout (unless JSON collects it) and its error
/// on stderr.
/// `capture [-o FILE]`: the live state as a bundle, on stdout or written atomically to FILE.
fn run_capture(out: &mut dyn Write, cfg: &Config, path: Option<&std::path::Path>) -> Result<Exit> {
    let Source::Root(root) = &cfg.source else {
        bail!(
            "capture reads a machine: use it alone (this host) or with --sysfs-root DIR, not with --input/--example"
        );
    };
    let files = crate::live::RootDir::new(root);
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    let (text, state) = crate::capture::capture(&files, &crate::capture::rfc3339_utc(now));
    std::io::stderr().write_all(state.report().as_bytes())?;
    match path {
        Some(p) if p.as_os_str() != "-" => {
            crate::session::save_atomic(p, text.as_bytes())
                .with_context(|| format!("writing the capture to {}", p.display()))?;
            eprintln!("capture: wrote {} ({} bytes)", p.display(), text.len());
        }
        _ => {
            out.write_all(text.as_bytes())?;
            out.flush()?;
        }
    }
    Ok(Exit::Ok)
}

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
        } else {
            // A tool's words and what the kernel left behind still reach the user.
            err.write_all(o.notes.as_bytes())?;
            for l in &o.left_behind {
                writeln!(err, "left behind: {l}")?;
            }
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
            Outcome::Nothing(_) => write!(err, "{se}")?,
            _ => match origin {
                Some(at) if !matches!(o.outcome, Outcome::Ok) => write!(err, "{at}: {se}")?,
                _ => write!(err, "{se}")?,
            },
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

/// `--format svg` after commands: the map of the resulting tree, paired with the tree before
/// the last step when that step changed it.
fn write_svg(out: &mut dyn Write, session: &Session) -> Result<()> {
    let after = session.tree();
    let last = session.last_change().filter(|(_, b)| !b.same_as(after));
    let before = last.as_ref().map(|(cmd, b)| (b, *cmd));
    let title = match before {
        Some((_, cmd)) => format!("iomem-sim -k {}: {cmd}", session.version()),
        None => format!("iomem-sim -k {}: address space map", session.version()),
    };
    out.write_all(crate::render::svg::render_svg(after, before, &title).as_bytes())?;
    Ok(())
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
                Format::Iomem => crate::render::write_iomem(tree, out)?,
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
                Format::Svg => out.write_all(
                    crate::render::svg::render_svg(tree, None, "iomem-sim: address space map")
                        .as_bytes(),
                )?,
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
