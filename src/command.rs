//! The command language shared by the command line, `-e`, `--script` and the REPL (issue 9;
//! contract: docs/cli.md "The command language").
//!
//! **One grammar, defined once with clap** ([`Cmd`], a `#[derive(Subcommand)]` enum). The
//! command line embeds it as the subcommands of [`crate::app::Cli`] (`iomem-sim hotplug add
//! a0000000 128M`); a REPL, script or `-e` line is split shell-style by the `shlex` crate and
//! parsed by [`LineGrammar`] (the same enum under a `multicall` root). So `--help` works on
//! every command, `help CMD` prints the same text, options may stand anywhere after the command
//! words, clap suggests the closest word for a typo, and the shell completions and man pages
//! ([`crate::manual`]) are generated from the same definition. clap's structs are turned into
//! [`Command`] (what the session executes; its `Display` is the canonical text, which parses
//! back to the same `Command`).
//!
//! Numbers, decided once for every command:
//! * **Addresses** are hexadecimal with or without `0x`, as `/proc/iomem` prints them
//!   (`a0000000`, `0xa0000000`). `_` separators are allowed (`1_0000_0000`).
//! * **Sizes** are a decimal number with a binary unit `K`, `M`, `G`, `T`, `P` (case-insensitive,
//!   optional `iB`/`B`: `128M`, `128MiB`, `1g`), or hexadecimal bytes with `0x` (`0x8000000`),
//!   or `0`. A bare number without unit or `0x` (`4096`) is **refused**: in this tool addresses
//!   are hex without prefix, so `1000` would mean 4096 bytes to one reader and 1000 to another.
//! * Wherever `START SIZE` is taken (a `SPAN` in the usage), one word `START-END` (inclusive,
//!   as `/proc/iomem` prints it) may stand instead.
//! * Block numbers (`memory21`), NUMA node ids, step numbers are decimal, as sysfs prints them.
//!
//! Single-word values are checked by clap value parsers ([`parse_addr`], [`parse_size`], …);
//! spans and memory targets, whose word count varies, are read after clap by [`SpanWords`].
//! Either way an error names the word and what was expected ([`CommandError`]).
//!
//! # Adding a command
//! 1. Add a variant to [`Command`] (what the session executes), its arm in `Display` (the
//!    canonical text: use [`Canon`] so a word starting with `-` gets a `--` before it) and, if
//!    it changes the machine, in [`Command::is_kernel_op`]; execute it in `session.rs`.
//! 2. Add a variant to [`Cmd`] with a doc comment (first line: the `help` summary, ≤ 60
//!    columns; the rest: the long help) and an `after_help = "Example:\n  …"` (the example is
//!    parsed by a unit test and printed in the man page). Arguments are a struct deriving
//!    `clap::Args`: typed single values with a `value_parser`, spans as [`SpanArg`]. A command
//!    with its own sub-words is `#[command(subcommand)]` over another `Subcommand` enum; a tool
//!    that parses its own argv (`ndctl …`) takes `#[arg(trailing_var_arg = true,
//!    allow_hyphen_values = true)] args: Vec<String>` and hands them to its own clap parser.
//! 3. Convert it in [`Cmd::into_command`].
//! 4. Add its canonical text to `every_form_parses_and_round_trips_through_display` below.
//!
//! Completions (bash/zsh/fish, and the REPL's in [`crate::complete`]) and the man pages follow
//! by themselves; give an argument `value_parser` possible values (or a `value_name` the REPL
//! completer knows: `SPAN`, `ADDR`, `TARGET`, `DEV`, `NAME`) to complete its values.

use crate::kernel::KernelVersion;
use crate::tree::Desc;
use clap::{Args, CommandFactory, FromArgMatches, Parser, Subcommand};
use std::fmt;

/// A physical range given as `START SIZE` or `START-END`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize)]
pub struct Span {
    pub start: u64,
    pub size: u64,
}

impl Span {
    /// Inclusive end (wraps like the kernel's `start + n - 1` for size 0).
    pub fn end(self) -> u64 {
        self.start.wrapping_add(self.size).wrapping_sub(1)
    }
}

impl fmt::Display for Span {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:x} {}", self.start, fmt_size_word(self.size))
    }
}

/// The shortest size word that parses back to `size` (`128M`, `0x1234`).
pub fn fmt_size_word(size: u64) -> String {
    if size == 0 {
        return "0".into();
    }
    for (shift, unit) in [(50, "P"), (40, "T"), (30, "G"), (20, "M"), (10, "K")] {
        if size.trailing_zeros() >= shift {
            return format!("{}{unit}", size >> shift);
        }
    }
    format!("{size:#x}")
}

/// What `memory online|offline` acts on.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub enum MemTarget {
    /// `START [SIZE]`: without SIZE, the one memory block containing START.
    Range { start: u64, size: Option<u64> },
    /// `memoryN` (decimal N, as in `/sys/devices/system/memory/memoryN`).
    Block(u64),
    /// `memoryA-memoryB`: blocks A to B (as lsmem/chmem print a range of blocks).
    Blocks(u64, u64),
}

impl fmt::Display for MemTarget {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            MemTarget::Range { start, size: None } => write!(f, "{start:x}"),
            MemTarget::Range {
                start,
                size: Some(s),
            } => write!(f, "{start:x} {}", fmt_size_word(*s)),
            MemTarget::Block(n) => write!(f, "memory{n}"),
            MemTarget::Blocks(a, b) => write!(f, "memory{a}-memory{b}"),
        }
    }
}

/// `--zone` of `memory online`: which word is written to the block's `state` file.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize)]
pub enum Zone {
    /// `online_kernel` (ZONE_NORMAL).
    Normal,
    /// `online_movable` (ZONE_MOVABLE).
    Movable,
}

impl Zone {
    /// The sysfs word (`OnlineType`'s `FromStr` spelling).
    pub fn state_word(self) -> &'static str {
        match self {
            Zone::Normal => "online_kernel",
            Zone::Movable => "online_movable",
        }
    }
}

/// What `show` displays.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub enum ShowTarget {
    /// The resources containing this address and their subtrees.
    Addr(u64),
    /// Resources with this exact name.
    Name(String),
}

/// One parsed command.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub enum Command {
    /// `hotplug add START SIZE [--nid N] [--driver-managed NAME] [--merge]`: `add_memory()` /
    /// `add_memory_driver_managed()` (`--merge` = `MHP_MERGE_RESOURCE`).
    HotplugAdd {
        span: Span,
        nid: u32,
        driver_managed: Option<String>,
        merge: bool,
    },
    /// `hotplug remove START SIZE`: `remove_memory()`.
    HotplugRemove {
        span: Span,
    },
    /// `memory online ...`: write `online`/`online_kernel`/`online_movable` to `state`.
    MemoryOnline {
        target: MemTarget,
        zone: Option<Zone>,
    },
    /// `memory offline ...`: write `offline` to `state`.
    MemoryOffline {
        target: MemTarget,
    },
    /// `request START SIZE NAME`: `request_mem_region()`.
    Request {
        span: Span,
        name: String,
    },
    /// `release START SIZE`: `release_mem_region()`.
    Release {
        span: Span,
    },
    /// `request-resource START SIZE NAME [--flags F]`: `request_resource_conflict()` on the
    /// root. Without `--flags`, the flags the parser infers for that name (src/infer.rs).
    RequestResource {
        span: Span,
        name: String,
        flags: Option<u32>,
    },
    /// `insert START SIZE NAME [--expand] [--flags F]`: `insert_resource()` /
    /// `insert_resource_expand_to_fit()`; flags as for `request-resource`.
    Insert {
        span: Span,
        name: String,
        expand: bool,
        flags: Option<u32>,
    },
    /// `remove-resource START SIZE`: `remove_resource()`.
    RemoveResource {
        span: Span,
    },
    /// `release-resource START SIZE`: `release_resource()`.
    ReleaseResource {
        span: Span,
    },
    /// `adjust START SIZE NEW_START NEW_SIZE`: `adjust_resource()`.
    Adjust {
        span: Span,
        new: Span,
    },
    /// `intersects START SIZE [--flags F] [--desc D]`: `region_intersects()`. The flags word is
    /// checked when the command runs (`kernel::region::parse_flags`).
    Intersects {
        span: Span,
        flags: Option<String>,
        desc: Option<Desc>,
    },
    /// `free-region SIZE NAME [--bottom-up]`: `request_free_mem_region()` /
    /// `alloc_free_mem_region()`.
    FreeRegion {
        size: u64,
        name: String,
        bottom_up: bool,
        /// `--align A` (bottom-up only): the `align` argument of `alloc_free_mem_region`.
        align: Option<u64>,
    },
    /// `dax kmem DEV`: kmem probe.
    DaxKmem {
        dev: String,
    },
    /// `dax devdax DEV`: kmem unbind.
    DaxDevdax {
        dev: String,
    },
    /// `show [ADDR|NAME]`.
    Show {
        target: Option<ShowTarget>,
    },
    /// `find ADDR`.
    Find {
        addr: u64,
    },
    /// `blocks [lsmem options]`: the memory blocks as util-linux lsmem prints them.
    Blocks(crate::render::lsmem::LsmemOptions),
    /// `blocks --sysfs`: the memory block sysfs values exactly (`render_memory_blocks_txt`).
    BlocksSysfs,
    /// `modprobe …`, `ndctl …`, `daxctl …`, `echo WORD > /sys/…` (issue 15, [`crate::tools`]).
    Tool(crate::tools::ToolCommand),
    /// `map [--width N]`: the address space as a picture (`render::map`).
    Map {
        width: Option<usize>,
    },
    /// `where SIZE [--for hotplug|memmap] [--node N] [--count K]`: where SIZE would be accepted
    /// (`kernel::placement`).
    Where {
        size: u64,
        purpose: crate::kernel::placement::Purpose,
        node: u32,
        count: Option<usize>,
    },
    /// `diff [STEP]` (0 or none = against the start).
    Diff {
        step: Option<usize>,
    },
    Undo,
    Redo,
    Reset,
    /// `kernel VERSION`.
    Kernel {
        version: KernelVersion,
    },
    /// `explain COMMAND…`.
    Explain(Box<Command>),
    /// `COMMAND | grep …`: a tool's (or lsmem's) output through grep, as typed on the
    /// machine (`ls /dev | grep -E '^(pmem|dax)'`); grep's exit status.
    Pipe(Box<Command>, crate::tools::grep::Grep),
    /// `save FILE`.
    Save {
        path: String,
    },
    /// `help [COMMAND…]`.
    Help {
        topic: Option<String>,
    },
    Quit,
}

impl Command {
    /// Does this command (possibly) change the machine? Queries and session commands do not
    /// (`kernel`, `undo`, … change the session, not through the kernel).
    pub fn is_kernel_op(&self) -> bool {
        matches!(
            self,
            Command::HotplugAdd { .. }
                | Command::HotplugRemove { .. }
                | Command::MemoryOnline { .. }
                | Command::MemoryOffline { .. }
                | Command::Request { .. }
                | Command::Release { .. }
                | Command::RequestResource { .. }
                | Command::Insert { .. }
                | Command::RemoveResource { .. }
                | Command::ReleaseResource { .. }
                | Command::Adjust { .. }
                | Command::FreeRegion { .. }
                | Command::DaxKmem { .. }
                | Command::DaxDevdax { .. }
        ) || matches!(self, Command::Tool(t) if !t.is_query())
            || matches!(self, Command::Pipe(c, _) if c.is_kernel_op())
    }
}

/// The byte offset of the first `|` outside quotes and not escaped that is followed by the
/// word `grep` (the shell's pipe into grep), if any. Any other `|` stays part of its word, as
/// in `--flags MEM|BUSY`.
fn unquoted_pipe(line: &str) -> Option<usize> {
    let into_grep = |i: usize| {
        let rest = line[i + 1..].trim_start();
        rest.strip_prefix("grep")
            .is_some_and(|r| r.is_empty() || r.starts_with([' ', '\t']))
    };
    let mut quote: Option<u8> = None;
    let mut escaped = false;
    for (i, b) in line.bytes().enumerate() {
        if escaped {
            escaped = false;
            continue;
        }
        match (quote, b) {
            (Some(b'\''), b'\'') => quote = None,
            (Some(b'\''), _) => {}
            (Some(b'"'), b'"') => quote = None,
            (Some(b'"'), b'\\') => escaped = true,
            (Some(_), _) => {}
            (None, b'\\') => escaped = true,
            (None, b'\'' | b'"') => quote = Some(b),
            (None, b'|') if into_grep(i) => return Some(i),
            (None, _) => {}
        }
    }
    None
}

/// `LEFT | grep …`: LEFT must print text a user would pipe (a tool, `blocks`/`lsmem`).
fn parse_pipe(line: &str, at: usize) -> Result<Command, CommandError> {
    let (left, right) = (&line[..at], &line[at + 1..]);
    let words = shlex::split(right).unwrap_or_default();
    if words.first().map(String::as_str) != Some("grep") {
        return Err(CommandError::new(
            line,
            words.first().map(String::as_str),
            "only `| grep …` is modelled after a pipe",
        ));
    }
    let grep = crate::tools::grep::parse(&words)
        .map_err(|e| CommandError::new(line, Some("grep"), e.0))?;
    let inner = match parse_script_line(left)? {
        Some(c) => c,
        None => return Err(CommandError::new(line, None, "nothing before the pipe")),
    };
    if !matches!(inner, Command::Tool(_) | Command::Blocks(_)) {
        return Err(CommandError::new(
            line,
            None,
            "what is piped to grep must print text: a tool (ls, cat, ndctl, daxctl, …) or lsmem",
        ));
    }
    Ok(Command::Pipe(Box::new(inner), grep))
}

fn quote(s: &str) -> String {
    // Bare when shlex reads it back as the same single word; else double quotes, whose `\\`
    // and `\"` escapes shlex undoes.
    if !s.is_empty()
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"._-:()/+,@".contains(&b))
    {
        s.to_string()
    } else {
        format!("\"{}\"", s.replace('\\', "\\\\").replace('"', "\\\""))
    }
}

/// A canonical-text builder: command words, positionals, options. A free word that starts
/// with `-` would read back as an option, so then the options come first and `--` stands
/// right before the free words (`insert --expand f0000 64K -- -odd`).
pub struct Canon<'a> {
    words: &'a str,
    /// (text, is it a free-form word that may start with `-`).
    pos: Vec<(String, bool)>,
    opts: Vec<String>,
}

impl<'a> Canon<'a> {
    pub fn new(words: &'a str) -> Canon<'a> {
        Canon {
            words,
            pos: Vec::new(),
            opts: Vec::new(),
        }
    }
    /// A positional that is already canonical (an address, a span, a number).
    pub fn lit(mut self, s: impl fmt::Display) -> Self {
        self.pos.push((s.to_string(), false));
        self
    }
    /// A free-form positional (a name, a path): quoted as needed.
    pub fn word(mut self, s: &str) -> Self {
        self.pos.push((s.to_string(), true));
        self
    }
    pub fn flag(mut self, name: &str, on: bool) -> Self {
        if on {
            self.opts.push(format!("--{name}"));
        }
        self
    }
    /// `--name VALUE` (`--name=VALUE` when the value starts with `-`).
    pub fn opt(mut self, name: &str, value: Option<impl fmt::Display>) -> Self {
        if let Some(v) = value {
            let v = v.to_string();
            let sep = if v.starts_with('-') { "=" } else { " " };
            self.opts.push(format!("--{name}{sep}{}", quote(&v)));
        }
        self
    }
}

impl fmt::Display for Canon<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.words)?;
        let show = |(s, free): &(String, bool)| if *free { quote(s) } else { s.clone() };
        if self.pos.iter().any(|(s, free)| *free && s.starts_with('-')) {
            // clap reads `--` only right before the free words (the last positionals).
            for o in &self.opts {
                write!(f, " {o}")?;
            }
            let mut ended = false;
            for p in &self.pos {
                if p.1 && !ended {
                    write!(f, " --")?;
                    ended = true;
                }
                write!(f, " {}", show(p))?;
            }
        } else {
            for p in &self.pos {
                write!(f, " {}", show(p))?;
            }
            for o in &self.opts {
                write!(f, " {o}")?;
            }
        }
        Ok(())
    }
}

/// The canonical text of a command (parses back to the same command).
impl fmt::Display for Command {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Command::HotplugAdd {
                span,
                nid,
                driver_managed,
                merge,
            } => Canon::new("hotplug add")
                .lit(span)
                .opt("nid", (*nid != 0).then_some(nid))
                .opt("driver-managed", driver_managed.as_ref())
                .flag("merge", *merge)
                .fmt(f),
            Command::HotplugRemove { span } => write!(f, "hotplug remove {span}"),
            Command::MemoryOnline { target, zone } => Canon::new("memory online")
                .lit(target)
                .opt(
                    "zone",
                    zone.map(|z| match z {
                        Zone::Normal => "normal",
                        Zone::Movable => "movable",
                    }),
                )
                .fmt(f),
            Command::MemoryOffline { target } => write!(f, "memory offline {target}"),
            Command::Request { span, name } => Canon::new("request").lit(span).word(name).fmt(f),
            Command::Release { span } => write!(f, "release {span}"),
            Command::RequestResource { span, name, flags } => Canon::new("request-resource")
                .lit(span)
                .word(name)
                .opt("flags", flags.map(|fl| format!("{fl:#x}")))
                .fmt(f),
            Command::Insert {
                span,
                name,
                expand,
                flags,
            } => Canon::new("insert")
                .lit(span)
                .word(name)
                .flag("expand", *expand)
                .opt("flags", flags.map(|fl| format!("{fl:#x}")))
                .fmt(f),
            Command::RemoveResource { span } => write!(f, "remove-resource {span}"),
            Command::ReleaseResource { span } => write!(f, "release-resource {span}"),
            Command::Adjust { span, new } => write!(f, "adjust {span} {new}"),
            Command::Intersects { span, flags, desc } => Canon::new("intersects")
                .lit(span)
                .opt("flags", flags.as_ref())
                .opt("desc", desc.map(|d| d.kernel_name()))
                .fmt(f),
            Command::FreeRegion {
                size,
                name,
                bottom_up,
                align,
            } => Canon::new("free-region")
                .lit(fmt_size_word(*size))
                .word(name)
                .flag("bottom-up", *bottom_up)
                .opt("align", align.map(fmt_size_word))
                .fmt(f),
            Command::DaxKmem { dev } => Canon::new("dax kmem").word(dev).fmt(f),
            Command::DaxDevdax { dev } => Canon::new("dax devdax").word(dev).fmt(f),
            Command::Show { target: None } => write!(f, "show"),
            Command::Show {
                target: Some(ShowTarget::Addr(a)),
            } => write!(f, "show {a:x}"),
            Command::Show {
                target: Some(ShowTarget::Name(n)),
            } => {
                // A name that reads as an address (`beef`) needs `--name`.
                if parse_addr(n).is_some() {
                    Canon::new("show").opt("name", Some(n)).fmt(f)
                } else {
                    Canon::new("show").word(n).fmt(f)
                }
            }
            Command::Find { addr } => write!(f, "find {addr:x}"),
            Command::Blocks(o) if o.typed_as_lsmem => match o.to_string() {
                opts if opts.is_empty() => write!(f, "lsmem"),
                opts => write!(f, "lsmem {opts}"),
            },
            Command::Blocks(o) if o == &Default::default() => write!(f, "blocks"),
            Command::Blocks(o) => write!(f, "blocks {o}"),
            Command::BlocksSysfs => write!(f, "blocks --sysfs"),
            Command::Tool(t) => write!(f, "{t}"),
            Command::Map { width } => Canon::new("map").opt("width", *width).fmt(f),
            Command::Where {
                size,
                purpose,
                node,
                count,
            } => Canon::new("where")
                .lit(fmt_size_word(*size))
                .opt(
                    "for",
                    (*purpose != crate::kernel::placement::Purpose::Hotplug)
                        .then(|| purpose.word()),
                )
                .opt("node", (*node != 0).then_some(*node))
                .opt("count", *count)
                .fmt(f),
            Command::Diff { step: None } => write!(f, "diff"),
            Command::Diff { step: Some(n) } => write!(f, "diff {n}"),
            Command::Undo => write!(f, "undo"),
            Command::Redo => write!(f, "redo"),
            Command::Reset => write!(f, "reset"),
            Command::Kernel { version } => write!(f, "kernel {version}"),
            Command::Explain(c) => write!(f, "explain {c}"),
            Command::Pipe(c, g) => write!(f, "{c} | {g}"),
            Command::Save { path } => Canon::new("save").word(path).fmt(f),
            Command::Help { topic: None } => write!(f, "help"),
            // `help hotplug add`: plain words read back joined by one space.
            Command::Help { topic: Some(t) }
                if t.split(' ')
                    .all(|w| !w.is_empty() && !w.starts_with('-') && quote(w) == w) =>
            {
                write!(f, "help {t}")
            }
            Command::Help { topic: Some(t) } => Canon::new("help").word(t).fmt(f),
            Command::Quit => write!(f, "quit"),
        }
    }
}

// ------------------------------------------------------------------------------------ errors

/// A command line that does not parse: what was wrong, and the word at fault when known.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub struct CommandError {
    /// The whole line as given.
    pub line: String,
    /// The offending word as written (`None` when a word is missing or clap did not say).
    pub word: Option<String>,
    /// What was wrong / expected (clap's message for grammar errors, several lines).
    pub message: String,
}

/// At most this many characters of the line are quoted around the fault.
pub const EXCERPT: usize = 80;

impl CommandError {
    pub fn new(line: &str, word: Option<&str>, message: impl Into<String>) -> CommandError {
        CommandError {
            line: line.to_string(),
            word: word.map(str::to_string),
            message: message.into(),
        }
    }

    /// The line (at most [`EXCERPT`] characters around the word at fault) and a caret line
    /// under that word, or `None` when the word is not found in the line.
    pub fn excerpt(&self) -> Option<(String, String)> {
        let w = self.word.as_deref().filter(|w| !w.is_empty())?;
        let at = self.line.find(w)?;
        let chars: Vec<char> = self.line.chars().collect();
        let pos = self.line[..at].chars().count();
        let len = w.chars().count().clamp(1, EXCERPT);
        // A window of EXCERPT characters with the word in it, a little context before.
        let from = pos.saturating_sub(EXCERPT.saturating_sub(len) / 3);
        let to = (from + EXCERPT).min(chars.len());
        let from = to.saturating_sub(EXCERPT).min(from);
        let mut text: String = chars[from..to].iter().collect();
        let mut pad = pos - from;
        if from > 0 {
            text.insert(0, '…');
            pad += 1;
        }
        if to < chars.len() {
            text.push('…');
        }
        let caret = format!("{}{}", " ".repeat(pad), "^".repeat(len.min(to - pos)));
        Some((text, caret))
    }
}

impl fmt::Display for CommandError {
    /// ```text
    /// hotplug add: SIZE: expected a size like 128M, 1G, 4K or 0x8000000 (`12Q`)
    ///   hotplug add a0000000 12Q
    ///                        ^^^
    /// ```
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // The excerpt goes under the first line; clap's tips and usage follow.
        let msg = self.message.trim_end();
        let (first, rest) = msg.split_once('\n').unwrap_or((msg, ""));
        write!(f, "{first}")?;
        if let Some((text, caret)) = self.excerpt() {
            write!(f, "\n  {text}\n  {caret}")?;
        }
        if !rest.is_empty() {
            write!(f, "\n{rest}")?;
        }
        Ok(())
    }
}

impl CommandError {
    /// A clap error as ours: its text without the `error: ` prefix, the word it names.
    fn from_clap(line: &str, e: &clap::Error) -> CommandError {
        use clap::error::{ContextKind, ContextValue};
        let text = e.render().to_string();
        let text = text.strip_prefix("error: ").unwrap_or(&text).to_string();
        let word = [
            ContextKind::InvalidValue,
            ContextKind::InvalidSubcommand,
            ContextKind::InvalidArg,
        ]
        .into_iter()
        .find_map(|k| match e.get(k) {
            Some(ContextValue::String(s)) if !s.starts_with('<') && !s.starts_with('[') => {
                Some(s.clone())
            }
            _ => None,
        });
        CommandError {
            line: line.to_string(),
            word,
            message: text,
        }
    }
}

// ----------------------------------------------------------------------------------- numbers

fn strip_sep(s: &str) -> String {
    s.chars().filter(|&c| c != '_').collect()
}

/// A hexadecimal address with or without `0x`.
pub fn parse_addr(s: &str) -> Option<u64> {
    let t = s
        .strip_prefix("0x")
        .or_else(|| s.strip_prefix("0X"))
        .unwrap_or(s);
    let t = strip_sep(t);
    if t.is_empty() || t.len() > 16 || !t.bytes().all(|b| b.is_ascii_hexdigit()) {
        return None;
    }
    u64::from_str_radix(&t, 16).ok()
}

/// A size: `128M`, `1G`, `4K`, `2T`, `0x8000000`, `0`. See the module doc for why bare
/// numbers are refused.
pub fn parse_size(s: &str) -> Result<u64, &'static str> {
    const WHAT: &str = "expected a size like 128M, 1G, 4K or 0x8000000";
    if let Some(h) = s.strip_prefix("0x").or_else(|| s.strip_prefix("0X")) {
        let h = strip_sep(h);
        if h.is_empty() || !h.bytes().all(|b| b.is_ascii_hexdigit()) {
            return Err(WHAT);
        }
        return u64::from_str_radix(&h, 16).map_err(|_| "size does not fit in 64 bits");
    }
    let digits_end = s.find(|c: char| !c.is_ascii_digit() && c != '_');
    let (num, unit) = match digits_end {
        Some(i) => s.split_at(i),
        None => (s, ""),
    };
    let num = strip_sep(num);
    if num.is_empty() {
        return Err(WHAT);
    }
    let n: u64 = num.parse().map_err(|_| "size does not fit in 64 bits")?;
    let unit_l = unit.to_ascii_lowercase();
    let unit_l = unit_l
        .strip_suffix("ib")
        .or_else(|| unit_l.strip_suffix('b').filter(|u| !u.is_empty()))
        .unwrap_or(&unit_l);
    let shift = match unit_l {
        "" if n == 0 => 0,
        "" => {
            return Err(
                "a bare number is ambiguous here (addresses are hex): add a unit (K, M, G, T) or write 0x… bytes",
            );
        }
        "k" => 10,
        "m" => 20,
        "g" => 30,
        "t" => 40,
        "p" => 50,
        _ => return Err(WHAT),
    };
    n.checked_mul(1u64 << shift)
        .ok_or("size does not fit in 64 bits")
}

// ----------------------------------------------------------------------------------- grammar

/// clap value parser: a hex address.
pub fn addr_arg(s: &str) -> Result<u64, String> {
    parse_addr(s).ok_or_else(|| "expected a hex address like a0000000 or 0xa0000000".to_string())
}

/// clap value parser: a size with a unit.
pub fn size_arg(s: &str) -> Result<u64, String> {
    parse_size(s).map_err(str::to_string)
}

fn align_arg(s: &str) -> Result<u64, String> {
    parse_size(s)
        .ok()
        .filter(|a| a.is_power_of_two())
        .ok_or_else(|| "expected a power-of-two size like 256M".to_string())
}

fn version_arg(s: &str) -> Result<KernelVersion, String> {
    s.parse::<KernelVersion>().map_err(|e| e.to_string())
}

fn desc_arg(s: &str) -> Result<Desc, String> {
    Desc::from_kernel_name(s).ok_or_else(|| {
        let names: Vec<&str> = Desc::ALL.iter().map(|d| d.kernel_name()).collect();
        format!("expected an IORES_DESC_* name: {}", names.join(", "))
    })
}

/// Kernel versions offered by completion and help: the version boundaries of the modelled
/// rules (src/kernel/*), and the newest. Any X.Y is accepted.
/// The modelled versions (every boundary of [`crate::kernel::boundaries`] and the newest),
/// offered to completion and help.
pub fn kernel_values() -> Vec<&'static str> {
    static V: std::sync::OnceLock<Vec<&'static str>> = std::sync::OnceLock::new();
    V.get_or_init(|| {
        let mut v: Vec<crate::kernel::KernelVersion> = crate::kernel::boundaries::BOUNDARIES
            .iter()
            .map(|b| b.since_version())
            .chain([crate::kernel::KernelVersion::NEWEST])
            .collect();
        v.sort();
        v.dedup();
        v.into_iter()
            .map(|k| &*Box::leak(k.to_string().into_boxed_str()))
            .collect()
    })
    .clone()
}

/// A value parser `P` that also offers `values` to completion and help, while `P` decides
/// what is accepted (kernel versions beyond the list, policies, …).
#[derive(Clone)]
pub struct Offer<P> {
    pub parser: P,
    pub values: fn() -> Vec<&'static str>,
    /// Accept only `values` (clap's "invalid value … tip: a similar value exists").
    pub strict: bool,
}

impl<P> clap::builder::TypedValueParser for Offer<P>
where
    P: clap::builder::TypedValueParser,
{
    type Value = P::Value;
    fn parse_ref(
        &self,
        cmd: &clap::Command,
        arg: Option<&clap::Arg>,
        value: &std::ffi::OsStr,
    ) -> Result<Self::Value, clap::Error> {
        if self.strict {
            // Built here, not with the grammar: the values may come from the grammar itself.
            clap::builder::PossibleValuesParser::new((self.values)()).parse_ref(cmd, arg, value)?;
        }
        self.parser.parse_ref(cmd, arg, value)
    }
    fn possible_values(
        &self,
    ) -> Option<Box<dyn Iterator<Item = clap::builder::PossibleValue> + '_>> {
        Some(Box::new(
            (self.values)()
                .into_iter()
                .map(clap::builder::PossibleValue::new),
        ))
    }
}

/// A plain value-parsing function, as [`Offer`] wraps it.
pub type ParseFn<T> = fn(&str) -> Result<T, String>;

pub fn kernel_parser() -> Offer<ParseFn<KernelVersion>> {
    Offer {
        parser: version_arg,
        values: || kernel_values(),
        strict: false,
    }
}

fn desc_parser() -> Offer<ParseFn<Desc>> {
    Offer {
        parser: desc_arg,
        values: || Desc::ALL.iter().map(|d| d.kernel_name()).collect(),
        strict: false,
    }
}

const SPAN_HELP: &str = "START SIZE (a0000000 128M) or START-END (a0000000-a7ffffff)";

/// `START SIZE` or `START-END`, read after clap by [`SpanWords`].
#[derive(Debug, Clone, Args)]
pub struct SpanArg {
    #[arg(value_name = "SPAN", required = true, help = SPAN_HELP)]
    pub span: Vec<String>,
}

/// `SPAN NAME`.
#[derive(Debug, Clone, Args)]
pub struct SpanName {
    #[arg(value_name = "SPAN", required = true, help = SPAN_HELP)]
    pub span: Vec<String>,
    /// The resource name (quote it when it has spaces: "my dev").
    #[arg(value_name = "NAME")]
    pub name: String,
}

/// `memoryN`, `START [SIZE]` or `START-END`.
#[derive(Debug, Clone, Args)]
pub struct TargetArg {
    /// memoryN (a block, as in /sys/devices/system/memory), START [SIZE] or START-END; without
    /// SIZE, the one block containing START.
    #[arg(value_name = "TARGET", required = true)]
    pub target: Vec<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum ZoneArg {
    /// ZONE_NORMAL (writes online_kernel).
    #[value(alias = "kernel")]
    Normal,
    /// ZONE_MOVABLE (writes online_movable).
    Movable,
}

/// Hot-add or hot-remove memory.
#[derive(Debug, Clone, Subcommand)]
pub enum HotplugCmd {
    /// Hot-add memory: add_memory() / add_memory_driver_managed()
    ///
    /// What a driver (ACPI memory device, virtio-mem, dax kmem) does to add RAM:
    /// register_memory_resource() claims the range as "System RAM" (or the driver-managed
    /// name), then the memory blocks are created (offline, unless --auto-online says).
    #[command(after_help = "Example:\n  hotplug add a0000000 128M")]
    Add {
        #[command(flatten)]
        span: SpanArg,
        /// NUMA node id.
        #[arg(long, value_name = "N", default_value_t = 0)]
        nid: u32,
        /// Name the resource NAME: add_memory_driver_managed() (e.g. "System RAM (kmem)").
        #[arg(long, value_name = "NAME")]
        driver_managed: Option<String>,
        /// MHP_MERGE_RESOURCE: merge with an adjacent System RAM resource (virtio-mem).
        #[arg(long)]
        merge: bool,
    },
    /// Hot-remove memory: remove_memory() (its blocks must be offline)
    #[command(after_help = "Example:\n  hotplug remove 100000000 128M")]
    Remove {
        #[command(flatten)]
        span: SpanArg,
    },
}

/// Online or offline memory blocks.
#[derive(Debug, Clone, Subcommand)]
pub enum MemoryCmd {
    /// Online blocks: write online* to memoryN/state
    ///
    /// Writes online (or online_kernel / online_movable with --zone) to
    /// /sys/devices/system/memory/memoryN/state of each block in TARGET.
    #[command(
        after_help = "Example:\n  memory online memory20\n  memory online a0000000 256M --zone movable"
    )]
    Online {
        #[command(flatten)]
        target: TargetArg,
        /// Which zone: normal (online_kernel) or movable (online_movable).
        #[arg(long, value_enum, ignore_case = true, value_name = "ZONE")]
        zone: Option<ZoneArg>,
    },
    /// Offline blocks: write offline to memoryN/state
    #[command(after_help = "Example:\n  memory offline a0000000 128M")]
    Offline {
        #[command(flatten)]
        target: TargetArg,
    },
}

/// Hand dax devices to kmem and back.
#[derive(Debug, Clone, Subcommand)]
pub enum DaxCmd {
    /// Hand a dax device to kmem (drivers/dax/kmem.c probe)
    ///
    /// What `daxctl reconfigure-device --mode=system-ram DEV` does: dev_dax_kmem_probe() adds
    /// the device's range as driver-managed "System RAM (kmem)".
    #[command(after_help = "Example:\n  dax kmem dax0.0")]
    Kmem {
        /// The dax device (dax0.0).
        #[arg(value_name = "DEV")]
        dev: String,
    },
    /// Give it back to device-dax (kmem unbind)
    #[command(after_help = "Example:\n  dax devdax dax0.0")]
    Devdax {
        /// The dax device (dax0.0).
        #[arg(value_name = "DEV")]
        dev: String,
    },
}

/// The words after a tool's name (`modprobe`, `ndctl`, `daxctl`, `echo`), handed whole to the
/// tool's own grammar ([`crate::tools::parse_argv`]).
#[derive(Debug, Clone, Args)]
pub struct ToolArgs {
    /// The tool's own arguments, as typed on the real machine.
    #[arg(
        value_name = "ARGS",
        trailing_var_arg = true,
        allow_hyphen_values = true
    )]
    pub args: Vec<String>,
}

/// Every command, on the command line and in a line.
#[derive(Debug, Clone, Subcommand)]
pub enum Cmd {
    /// Hot-add or hot-remove memory
    #[command(subcommand)]
    Hotplug(HotplugCmd),
    /// Online or offline memory blocks
    #[command(subcommand)]
    Memory(MemoryCmd),
    /// Claim a busy region: request_mem_region()
    ///
    /// request_mem_region() → __request_region(): descends into non-BUSY conflicting
    /// resources and nests the new one there; a BUSY conflict refuses with -EBUSY.
    #[command(after_help = "Example:\n  request c1000000 4K \"my dev\"")]
    Request(SpanName),
    /// Release a busy region: release_mem_region()
    #[command(after_help = "Example:\n  release c1000000 4K")]
    Release(SpanArg),
    /// request_resource_conflict() on the root (top level only)
    ///
    /// Without --flags, the resource gets the flags the dump parser infers for its name.
    #[command(after_help = "Example:\n  request-resource 100000000 1G extra --flags MEM")]
    RequestResource {
        #[command(flatten)]
        span: SpanName,
        /// IORESOURCE_* flags: hex (0x200, 0x80000200) or names joined by | (MEM, MEM|BUSY).
        #[arg(long, value_name = "FLAGS", value_parser = flags_arg)]
        flags: Option<u32>,
    },
    /// insert_resource(): adopt the children it covers
    ///
    /// With --expand: insert_resource_expand_to_fit() (grows to cover what it overlaps).
    /// Without --flags, the flags the dump parser infers for NAME (so "Persistent Memory"
    /// is not BUSY, as the driver that inserts it makes it).
    #[command(
        after_help = "Example:\n  insert f0000 64K Reserved\n  insert 100000000 512M \"Persistent Memory\" --flags MEM"
    )]
    Insert {
        #[command(flatten)]
        span: SpanName,
        /// insert_resource_expand_to_fit().
        #[arg(long)]
        expand: bool,
        /// IORESOURCE_* flags: hex (0x200, 0x80000200) or names joined by | (MEM, MEM|BUSY).
        #[arg(long, value_name = "FLAGS", value_parser = flags_arg)]
        flags: Option<u32>,
    },
    /// remove_resource(): the resource goes, its children move up
    #[command(after_help = "Example:\n  remove-resource f0000-fffff")]
    RemoveResource(SpanArg),
    /// release_resource(): the resource goes with its children
    #[command(after_help = "Example:\n  release-resource a0000000-afffffff")]
    ReleaseResource(SpanArg),
    /// adjust_resource(): move or resize a resource
    ///
    /// SPAN is the resource as it is, then its new START SIZE (each may be START-END); it must
    /// stay within its parent and cover its children.
    #[command(after_help = "Example:\n  adjust c1000000 4K c1000000 8K")]
    Adjust(SpanArg),
    /// region_intersects(): INTERSECTS, DISJOINT or MIXED
    #[command(after_help = "Example:\n  intersects a0000000 128M --flags SYSTEM_RAM")]
    Intersects {
        #[command(flatten)]
        span: SpanArg,
        /// IORESOURCE_* flags to match: SYSTEM_RAM, MEM|BUSY, 0x200.
        #[arg(long, value_name = "FLAGS")]
        flags: Option<String>,
        /// IORES_DESC_* to match.
        #[arg(long, value_name = "DESC", value_parser = desc_parser())]
        desc: Option<Desc>,
    },
    /// Find free room: request_free_mem_region()
    ///
    /// Top down, as request_free_mem_region() does; --bottom-up: alloc_free_mem_region().
    #[command(after_help = "Example:\n  free-region 1G \"device private\"")]
    FreeRegion {
        /// The size to allocate.
        #[arg(value_name = "SIZE", value_parser = size_arg)]
        size: u64,
        /// The resource name.
        #[arg(value_name = "NAME")]
        name: String,
        /// alloc_free_mem_region(): search from the bottom.
        #[arg(long)]
        bottom_up: bool,
        /// The align argument of alloc_free_mem_region() (with --bottom-up).
        #[arg(long, value_name = "SIZE", value_parser = align_arg, requires = "bottom_up")]
        align: Option<u64>,
    },
    /// dax devices to kmem and back
    #[command(subcommand)]
    Dax(DaxCmd),
    /// Print the tree, or what contains ADDR, or NAME
    #[command(after_help = "Example:\n  show \"Persistent Memory (legacy)\"\n  show a0000000")]
    Show {
        /// A hex address, or a resource name (several words are one name).
        #[arg(value_name = "ADDR|NAME")]
        target: Vec<String>,
        /// A resource name that would read as an address (show --name beef).
        #[arg(long, value_name = "NAME", conflicts_with = "target")]
        name: Option<String>,
        /// Show each resource's flags (command line only).
        #[arg(long)]
        flags: bool,
    },
    /// Which resources contain ADDR, from the top
    #[command(after_help = "Example:\n  find a0001000")]
    Find {
        /// A hex address.
        #[arg(value_name = "ADDR", value_parser = addr_arg)]
        addr: u64,
    },
    /// Memory blocks, as lsmem prints them
    ///
    /// Takes lsmem's options: -o/--output COLS (RANGE, SIZE, STATE, REMOVABLE, BLOCK, NODE,
    /// ZONES; +COL adds), -S/--split COLS, -a/--all, -b/--bytes, -n/--noheadings, -J/--json,
    /// -r/--raw, -P/--pairs, --output-all, --summary[=never|always|only]. Default columns:
    /// RANGE,SIZE,STATE,REMOVABLE,BLOCK,ZONES,NODE. --sysfs instead prints each block's sysfs
    /// values (state, valid_zones, removable, node) exactly as sysfs does.
    #[command(
        after_help = "Example:\n  blocks\n  blocks -o RANGE,STATE,ZONES -b\n  blocks --sysfs",
        disable_help_flag = true
    )]
    Blocks {
        /// lsmem's options, or --sysfs.
        #[arg(
            value_name = "LSMEM_OPTIONS",
            trailing_var_arg = true,
            allow_hyphen_values = true
        )]
        options: Vec<String>,
    },
    /// util-linux lsmem as typed on the machine
    ///
    /// `blocks` with lsmem's own default columns (sys-utils/lsmem.c: RANGE, SIZE, STATE,
    /// REMOVABLE, BLOCK) when -o is not given; the same options.
    #[command(
        after_help = "Example:\n  lsmem\n  lsmem -o +ZONES,NODE",
        disable_help_flag = true
    )]
    Lsmem {
        /// lsmem's options.
        #[arg(
            value_name = "LSMEM_OPTIONS",
            trailing_var_arg = true,
            allow_hyphen_values = true
        )]
        options: Vec<String>,
    },
    /// Load kernel modules: nd_e820, nfit, nd_pmem, dax_pmem, device_dax, kmem
    ///
    /// Drivers bind when bus and driver are both there, as in the kernel: nd_e820 makes a
    /// region of every "Persistent Memory (legacy)", nfit of every "Persistent Memory".
    #[command(
        after_help = "Example:\n  modprobe nd_e820\n  modprobe -a dax_pmem device_dax kmem",
        disable_help_flag = true
    )]
    Modprobe(ToolArgs),
    /// libnvdimm namespaces, as ndctl configures them
    ///
    /// create-namespace [-f] [-e NS] -m raw|fsdax|devdax [--map dev|mem] [-a ALIGN] [-s SIZE],
    /// disable-namespace NS, enable-namespace NS, destroy-namespace -f NS, disable-region R,
    /// enable-region R (R: regionN, N or all), list [-R -N -i -u].
    #[command(
        after_help = "Example:\n  ndctl create-namespace -f -e namespace0.0 -m devdax",
        disable_help_flag = true
    )]
    Ndctl(ToolArgs),
    /// device-dax to System RAM (kmem) and back, in daxctl's own sequence
    ///
    /// reconfigure-device -m system-ram|devdax [--no-online] [--no-movable] [-f] DEV,
    /// online-memory DEV [--no-movable], offline-memory DEV, disable-device DEV|all,
    /// enable-device DEV|all, list [-u] [-i].
    #[command(
        after_help = "Example:\n  daxctl reconfigure-device --mode=system-ram dax0.0",
        disable_help_flag = true
    )]
    Daxctl(ToolArgs),
    /// A sysfs write as typed: echo WORD > /sys/…
    ///
    /// /sys/bus/dax/drivers/{device_dax,kmem}/{bind,unbind,new_id,remove_id},
    /// /sys/devices/system/memory/memoryN/state (online, offline, online_movable,
    /// online_kernel), memoryN/online (1, 0), /sys/devices/system/memory/probe. Quote it on a
    /// shell command line.
    #[command(
        after_help = "Example:\n  echo online_movable > /sys/devices/system/memory/memory35/state",
        disable_help_flag = true
    )]
    Echo(ToolArgs),
    /// Read a file as the kernel prints it: cat /proc/iomem, /sys/…
    ///
    /// /proc/iomem, /sys/devices/system/memory/{block_size_bytes,auto_online_blocks},
    /// /sys/devices/system/memory/memoryN/{phys_index,state,online,valid_zones,removable,
    /// phys_device}, /sys/bus/dax/devices/daxX.Y/{size,target_node,resource,align}. Changes
    /// nothing.
    #[command(
        after_help = "Example:\n  cat /sys/devices/system/memory/memory35/state /sys/devices/system/memory/memory35/valid_zones",
        disable_help_flag = true
    )]
    Cat(ToolArgs),
    /// List the modelled device nodes: ls /dev (pmemN, daxX.Y)
    ///
    /// pmemN while nd_pmem holds a raw or fsdax namespace, daxX.Y while device_dax is bound;
    /// nothing else of /dev is modelled. `ls /dev/dax0.0` and globs (`/dev/pmem*`) name nodes.
    #[command(
        after_help = "Example:\n  ls /dev\n  ls /dev | grep -E '^(pmem|dax)'",
        disable_help_flag = true
    )]
    Ls(ToolArgs),
    /// Set memory online or offline by size, address range or block (util-linux chmem)
    ///
    /// chmem -e|-d [-b] [-v] [-z ZONE] SIZE|0xSTART-0xEND|BLOCK[-BLOCK]: writes each memory
    /// block's `state` as the real tool does (Movable by default when valid_zones allows it);
    /// its messages and exit status (0, 1, 64 for part) are util-linux 2.38.1's.
    #[command(
        after_help = "Example:\n  chmem -v -e 0x100000000-0x107ffffff",
        disable_help_flag = true
    )]
    Chmem(ToolArgs),
    /// QEMU monitor: a memory backend for a DIMM
    ///
    /// The host object a pc-dimm maps; nothing changes in the guest. object_del ID removes one
    /// no DIMM uses.
    #[command(
        name = "object_add",
        after_help = "Example:\n  object_add memory-backend-ram,id=mem1,size=256M",
        disable_help_flag = true
    )]
    ObjectAdd(ToolArgs),
    /// QEMU monitor: delete a memory backend no DIMM uses
    #[command(
        name = "object_del",
        after_help = "Example:\n  object_del mem1",
        disable_help_flag = true
    )]
    ObjectDel(ToolArgs),
    /// QEMU monitor: plug a pc-dimm (the guest adds its RAM)
    ///
    /// device_add pc-dimm,id=ID,memdev=ID[,addr=A][,slot=N][,node=N].
    ///
    /// QEMU picks the address (the lowest free, 2 MiB aligned, in the device-memory region
    /// between the RAM above 4 GiB and the 64-bit PCI window) and the slot; the guest's ACPI
    /// driver then adds the memory (acpi_memory_enable_device → add_memory), or logs
    /// "add_memory failed" and the DIMM stays plugged without memory.
    #[command(
        name = "device_add",
        after_help = "Example:\n  object_add memory-backend-ram,id=mem1,size=256M\n  device_add pc-dimm,id=dimm1,memdev=mem1\n  device_add pc-dimm,id=dimm2,memdev=mem2,addr=0x180000000",
        disable_help_flag = true
    )]
    DeviceAdd(ToolArgs),
    /// QEMU monitor: unplug a DIMM (the guest's ACPI eject)
    ///
    /// A block that will not go offline makes the guest refuse: its blocks are onlined again
    /// and the DIMM stays plugged, as on the machine.
    #[command(
        name = "device_del",
        after_help = "Example:\n  device_del dimm1",
        disable_help_flag = true
    )]
    DeviceDel(ToolArgs),
    /// QEMU monitor: info memory-devices
    #[command(
        after_help = "Example:\n  info memory-devices",
        disable_help_flag = true
    )]
    Info(ToolArgs),
    /// The address space as a picture
    ///
    /// One line per top-level stretch (System RAM, reserved, persistent memory, kmem, PCI,
    /// firmware, holes), sizes on a log scale, a legend; marks what the last step changed.
    /// With --format svg: the same picture as an SVG.
    #[command(after_help = "Example:\n  map --width 100")]
    Map {
        /// Columns of the picture.
        #[arg(long, value_name = "N", value_parser = map_width_arg)]
        width: Option<usize>,
    },
    /// Where SIZE would be accepted, best first
    ///
    /// --for hotplug (default): add_memory()'s checks, each candidate trial-run, with the
    /// command to run. --for memmap: a memmap=SIZE!START boot option carved out of boot
    /// System RAM. Exit status 1 when SIZE fits nowhere (what blocks it is said).
    #[command(after_help = "Example:\n  where 1G\n  where 1G --for memmap --count 3")]
    Where {
        /// The size to place.
        #[arg(value_name = "SIZE", value_parser = size_arg)]
        size: u64,
        /// hotplug or memmap.
        #[arg(long = "for", value_name = "PURPOSE", value_enum, default_value_t = crate::kernel::placement::Purpose::Hotplug)]
        purpose: crate::kernel::placement::Purpose,
        /// NUMA node id.
        #[arg(long, value_name = "N", default_value_t = 0)]
        node: u32,
        /// How many candidates (default 5).
        #[arg(long, value_name = "K", value_parser = count_arg)]
        count: Option<usize>,
    },
    /// What changed since the start (or since STEP)
    #[command(after_help = "Example:\n  diff 1")]
    Diff {
        /// Step number (0 = the start).
        #[arg(value_name = "STEP")]
        step: Option<usize>,
    },
    /// Undo the last step
    ///
    /// The history holds the last 1000 steps: older steps stay applied and cannot be undone.
    #[command(after_help = "Example:\n  undo")]
    Undo,
    /// Redo the step undone last
    #[command(after_help = "Example:\n  redo")]
    Redo,
    /// Back to the starting tree (a step: undo undoes it)
    #[command(after_help = "Example:\n  reset")]
    Reset,
    /// Simulate another kernel version from now on
    ///
    /// Several (kernel 5.0,5.1) or a range (kernel 5.0..6.12) run each later command in all
    /// of them, side by side; kernel list lists the modelled boundaries.
    #[command(after_help = "Example:\n  kernel 5.0")]
    Kernel {
        /// X.Y (the series today) or X.Y.0 (the original release).
        #[arg(value_name = "VERSION", value_parser = kernel_parser())]
        version: KernelVersion,
    },
    /// Run a kernel operation and show the decision path
    ///
    /// Every word after `explain` belongs to COMMAND, so on the command line put the global
    /// options (--diff, --format, …) before `explain`.
    #[command(after_help = "Example:\n  explain hotplug add a0000000 128M")]
    Explain {
        /// The command to run.
        #[arg(
            value_name = "COMMAND",
            required = true,
            trailing_var_arg = true,
            allow_hyphen_values = true
        )]
        command: Vec<String>,
    },
    /// Write the tree as /proc/iomem text to FILE
    ///
    /// Atomically: a temporary file beside FILE, then rename.
    #[command(after_help = "Example:\n  save after.iomem")]
    Save {
        #[arg(value_name = "FILE", value_hint = clap::ValueHint::FilePath)]
        path: String,
    },
    /// The list of commands, or one command's help
    #[command(alias = "?", after_help = "Example:\n  help hotplug add")]
    Help {
        /// A command (its words: hotplug add).
        #[arg(value_name = "COMMAND")]
        topic: Vec<String>,
    },
    /// Leave the REPL (also: exit, Ctrl-D)
    #[command(alias = "exit", alias = "q", after_help = "Example:\n  quit")]
    Quit,
    /// Write this machine's state as one bundle file (command line only)
    ///
    /// Everything --live reads (/proc/iomem, memory blocks, dax devices, cpuinfo, the kernel
    /// release and command line), for `-i FILE` on any machine (docs/capture.md).
    #[command(after_help = "Example:\n  sudo iomem-sim capture -o this-machine.capture")]
    Capture {
        /// Write to FILE (default: stdout).
        #[arg(short = 'o', long = "output", value_name = "FILE", value_hint = clap::ValueHint::FilePath)]
        output: Option<std::path::PathBuf>,
    },
    /// Report anomalies in the tree (command line only)
    #[command(after_help = "Example:\n  iomem-sim -i /proc/iomem check")]
    Check,
    /// Start the interactive session (command line only)
    #[command(after_help = "Example:\n  iomem-sim -k 5.0 repl")]
    Repl,
    /// Print a shell completion script (command line only)
    #[command(
        after_help = "Example:\n  iomem-sim completions bash > ~/.local/share/bash-completion/completions/iomem-sim"
    )]
    Completions {
        /// The shell.
        #[arg(value_name = "SHELL")]
        shell: clap_complete::Shell,
    },
    /// Print a man page, or write all of them (command line only)
    #[command(
        after_help = "Example:\n  iomem-sim man hotplug-add | man -l -\n  iomem-sim man --dir ~/.local/share/man/man1"
    )]
    Man {
        /// The page: iomem-sim (default) or a command (hotplug-add, show, …).
        #[arg(value_name = "PAGE", value_parser = Offer {
            parser: clap::builder::NonEmptyStringValueParser::new(),
            values: crate::manual::page_names,
            strict: true,
        })]
        page: Option<String>,
        /// Write every page into DIR (iomem-sim.1, iomem-sim-hotplug-add.1, …).
        #[arg(long, value_name = "DIR", value_hint = clap::ValueHint::DirPath, conflicts_with = "page")]
        dir: Option<std::path::PathBuf>,
    },
}

/// Commands that only the command line runs (they are about the process, not a session).
pub const CLI_ONLY: &[&str] = &["check", "repl", "completions", "man", "capture"];

/// The grammar of one line (REPL, script, `-e`): [`Cmd`] under a `multicall` root, so the
/// first word is the command.
#[derive(Debug, Parser)]
#[command(
    name = "iomem-sim",
    multicall = true,
    disable_help_subcommand = true,
    override_usage = "COMMAND [ARGS] (`help` lists the commands)",
    max_term_width = 100
)]
pub struct LineGrammar {
    #[command(subcommand)]
    pub cmd: Cmd,
}

/// The line grammar as clap builds it (names, usage, help; for `help` and completion).
pub fn line_command() -> clap::Command {
    let mut c = LineGrammar::command();
    c.build();
    c
}

/// Reads `START SIZE | START-END` spans and memory targets from a command's positional words.
pub struct SpanWords<'a> {
    line: &'a str,
    cmd: &'static str,
    words: &'a [String],
    next: usize,
}

impl<'a> SpanWords<'a> {
    pub fn new(line: &'a str, cmd: &'static str, words: &'a [String]) -> SpanWords<'a> {
        SpanWords {
            line,
            cmd,
            words,
            next: 0,
        }
    }
    fn err(&self, word: Option<&str>, what: impl fmt::Display) -> CommandError {
        let msg = match word {
            Some(w) if w.chars().count() <= 24 => format!("{}: {what} (`{w}`)", self.cmd),
            _ => format!("{}: {what}", self.cmd),
        };
        CommandError::new(self.line, word, msg)
    }
    fn take(&mut self, what: &str) -> Result<&'a str, CommandError> {
        let w = self
            .words
            .get(self.next)
            .ok_or_else(|| self.err(None, format!("missing {what}")))?;
        self.next += 1;
        Ok(w)
    }
    fn range(&self, w: &str) -> Result<Option<(u64, u64)>, CommandError> {
        let Some((a, b)) = w.split_once('-') else {
            return Ok(None);
        };
        let (Some(s), Some(e)) = (parse_addr(a), parse_addr(b)) else {
            return Err(self.err(
                Some(w),
                "expected a range START-END in hex, like a0000000-a7ffffff",
            ));
        };
        if e < s {
            return Err(self.err(Some(w), "range END is below START"));
        }
        let size = (e - s)
            .checked_add(1)
            .ok_or_else(|| self.err(Some(w), "range covers all 2^64 addresses: too big"))?;
        Ok(Some((s, size)))
    }
    pub fn span(&mut self) -> Result<Span, CommandError> {
        let w = self.take("START SIZE (or START-END)")?;
        if let Some((start, size)) = self.range(w)? {
            return Ok(Span { start, size });
        }
        let start = parse_addr(w).ok_or_else(|| {
            self.err(
                Some(w),
                "START: expected a hex address like a0000000 (or a range a0000000-a7ffffff)",
            )
        })?;
        let s = self.take("SIZE")?;
        let size = parse_size(s).map_err(|e| self.err(Some(s), format!("SIZE: {e}")))?;
        Ok(Span { start, size })
    }
    pub fn target(&mut self) -> Result<MemTarget, CommandError> {
        let w = self.take("memoryN, START [SIZE] or START-END")?;
        if let Some((a, b)) = w.split_once('-')
            && let (Some(a), Some(b)) = (a.strip_prefix("memory"), b.strip_prefix("memory"))
        {
            // `memory24576-memory24583`, as lsmem's BLOCK column reads `24576-24583`.
            let (Ok(a), Ok(b)) = (a.parse::<u64>(), b.parse::<u64>()) else {
                return Err(self.err(
                    Some(w),
                    "expected memoryA-memoryB with decimal block numbers, like memory32-memory33",
                ));
            };
            if b < a {
                return Err(self.err(Some(w), "the last block is below the first"));
            }
            return Ok(MemTarget::Blocks(a, b));
        }
        if let Some(n) = w.strip_prefix("memory") {
            return n.parse::<u64>().map(MemTarget::Block).map_err(|_| {
                self.err(
                    Some(w),
                    "expected memoryN with a decimal block number, like memory21",
                )
            });
        }
        if let Some((start, size)) = self.range(w)? {
            return Ok(MemTarget::Range {
                start,
                size: Some(size),
            });
        }
        let start = parse_addr(w)
            .ok_or_else(|| self.err(Some(w), "expected memoryN, START (hex) or START-END"))?;
        let size = match self.words.get(self.next) {
            Some(s) => {
                self.next += 1;
                Some(parse_size(s).map_err(|e| self.err(Some(s), format!("SIZE: {e}")))?)
            }
            None => None,
        };
        Ok(MemTarget::Range { start, size })
    }
    pub fn done(&self) -> Result<(), CommandError> {
        match self.words.get(self.next) {
            None => Ok(()),
            Some(w) => Err(self.err(
                Some(w),
                "unexpected word (names with spaces must be quoted: \"my dev\")",
            )),
        }
    }
}

/// A tool's command line (`ndctl create-namespace …`), parsed by the tool's own clap grammar
/// ([`crate::tools::parse_argv`]).
fn tool(line: &str, name: &str, args: Vec<String>) -> Result<Command, CommandError> {
    let mut argv = vec![name.to_string()];
    argv.extend(args);
    crate::tools::parse_argv(&argv)
        .map(Command::Tool)
        .map_err(|e| CommandError::new(line, Some(name), e.0))
}

/// `where --count`: a positive number.
fn count_arg(s: &str) -> Result<usize, String> {
    s.parse::<usize>()
        .ok()
        .filter(|&k| k > 0)
        .ok_or_else(|| "expected a positive number".to_string())
}

/// `map --width`: columns the picture can be drawn in.
fn map_width_arg(s: &str) -> Result<usize, String> {
    use crate::render::map::{MAX_WIDTH, MIN_WIDTH};
    s.parse::<usize>()
        .ok()
        .filter(|w| (MIN_WIDTH..=MAX_WIDTH).contains(w))
        .ok_or_else(|| format!("expected a number of columns from {MIN_WIDTH} to {MAX_WIDTH}"))
}

/// `--flags`: hex or `|`-joined IORESOURCE_* names ([`crate::kernel::region::parse_flags`]).
fn flags_arg(s: &str) -> Result<u32, String> {
    crate::kernel::region::parse_flags(s).ok_or_else(|| {
        "expected hex (0x200, 0x80000200) or names joined by | (MEM, MEM|BUSY, SYSTEM_RAM)"
            .to_string()
    })
}

fn one_span(line: &str, cmd: &'static str, a: &SpanArg) -> Result<Span, CommandError> {
    let mut w = SpanWords::new(line, cmd, &a.span);
    let s = w.span()?;
    w.done()?;
    Ok(s)
}

impl Cmd {
    /// The command the session executes. `line` is the text the words came from (for errors).
    pub fn into_command(self, line: &str) -> Result<Command, CommandError> {
        let typed_lsmem = matches!(self, Cmd::Lsmem { .. });
        Ok(match self {
            Cmd::Hotplug(HotplugCmd::Add {
                span,
                nid,
                driver_managed,
                merge,
            }) => Command::HotplugAdd {
                span: one_span(line, "hotplug add", &span)?,
                nid,
                driver_managed,
                merge,
            },
            Cmd::Hotplug(HotplugCmd::Remove { span }) => Command::HotplugRemove {
                span: one_span(line, "hotplug remove", &span)?,
            },
            Cmd::Memory(MemoryCmd::Online { target, zone }) => {
                let mut w = SpanWords::new(line, "memory online", &target.target);
                let target = w.target()?;
                w.done()?;
                Command::MemoryOnline {
                    target,
                    zone: zone.map(|z| match z {
                        ZoneArg::Normal => Zone::Normal,
                        ZoneArg::Movable => Zone::Movable,
                    }),
                }
            }
            Cmd::Memory(MemoryCmd::Offline { target }) => {
                let mut w = SpanWords::new(line, "memory offline", &target.target);
                let target = w.target()?;
                w.done()?;
                Command::MemoryOffline { target }
            }
            Cmd::Request(a) => Command::Request {
                span: one_span(line, "request", &SpanArg { span: a.span })?,
                name: a.name,
            },
            Cmd::Release(a) => Command::Release {
                span: one_span(line, "release", &a)?,
            },
            Cmd::RequestResource { span, flags } => Command::RequestResource {
                span: one_span(line, "request-resource", &SpanArg { span: span.span })?,
                name: span.name,
                flags,
            },
            Cmd::Insert {
                span,
                expand,
                flags,
            } => Command::Insert {
                span: one_span(line, "insert", &SpanArg { span: span.span })?,
                name: span.name,
                expand,
                flags,
            },
            Cmd::RemoveResource(a) => Command::RemoveResource {
                span: one_span(line, "remove-resource", &a)?,
            },
            Cmd::ReleaseResource(a) => Command::ReleaseResource {
                span: one_span(line, "release-resource", &a)?,
            },
            Cmd::Adjust(a) => {
                let mut w = SpanWords::new(line, "adjust", &a.span);
                let span = w.span()?;
                let new = w.span()?;
                w.done()?;
                Command::Adjust { span, new }
            }
            Cmd::Intersects { span, flags, desc } => Command::Intersects {
                span: one_span(line, "intersects", &span)?,
                flags,
                desc,
            },
            Cmd::FreeRegion {
                size,
                name,
                bottom_up,
                align,
            } => Command::FreeRegion {
                size,
                name,
                bottom_up,
                align,
            },
            Cmd::Dax(DaxCmd::Kmem { dev }) => Command::DaxKmem { dev },
            Cmd::Dax(DaxCmd::Devdax { dev }) => Command::DaxDevdax { dev },
            Cmd::Show { flags: true, .. } => {
                return Err(CommandError::new(
                    line,
                    Some("--flags"),
                    "show --flags works on the command line only (iomem-sim show --flags)",
                ));
            }
            Cmd::Show { target, name, .. } => Command::Show {
                target: match (name, target.as_slice()) {
                    (Some(n), _) => Some(ShowTarget::Name(n)),
                    (None, []) => None,
                    (None, [w]) if parse_addr(w).is_some() => parse_addr(w).map(ShowTarget::Addr),
                    // `show System RAM` works unquoted: the words are one name.
                    (None, words) => Some(ShowTarget::Name(words.join(" "))),
                },
            },
            Cmd::Find { addr } => Command::Find { addr },
            Cmd::Blocks { options } if options == ["--sysfs"] => Command::BlocksSysfs,
            Cmd::Blocks { options } | Cmd::Lsmem { options } => {
                // lsmem's own option rules (short options bundled, `-o +COL`, …).
                let ws: Vec<&str> = options.iter().map(String::as_str).collect();
                if ws.iter().any(|w| *w == "-h" || *w == "--help") {
                    return Ok(Command::Help {
                        topic: Some(if typed_lsmem { "lsmem" } else { "blocks" }.into()),
                    });
                }
                // Typed as `lsmem`, no `-o`: lsmem's own default columns (sys-utils/lsmem.c
                // "Default columns": RANGE, SIZE, STATE, REMOVABLE, BLOCK), as on the machine;
                // `blocks` keeps the simulator's wider default.
                crate::render::lsmem::LsmemOptions::parse(&ws)
                    .map(|mut o| {
                        if typed_lsmem && o.columns.is_none() {
                            o.columns = Some(crate::render::lsmem::Column::LSMEM_DEFAULT.to_vec());
                        }
                        o.typed_as_lsmem = typed_lsmem;
                        o
                    })
                    .map(Command::Blocks)
                    .map_err(|e| {
                        CommandError::new(
                            line,
                            ws.get(e.index).copied(),
                            format!("blocks: {}", e.expected),
                        )
                    })?
            }
            Cmd::Modprobe(a) => tool(line, "modprobe", a.args)?,
            Cmd::Ndctl(a) => tool(line, "ndctl", a.args)?,
            Cmd::Daxctl(a) => tool(line, "daxctl", a.args)?,
            Cmd::Echo(a) => tool(line, "echo", a.args)?,
            Cmd::Cat(a) => tool(line, "cat", a.args)?,
            Cmd::Ls(a) => tool(line, "ls", a.args)?,
            Cmd::Chmem(a) => tool(line, "chmem", a.args)?,
            Cmd::ObjectAdd(a) => tool(line, "object_add", a.args)?,
            Cmd::ObjectDel(a) => tool(line, "object_del", a.args)?,
            Cmd::DeviceAdd(a) => tool(line, "device_add", a.args)?,
            Cmd::DeviceDel(a) => tool(line, "device_del", a.args)?,
            Cmd::Info(a) => tool(line, "info", a.args)?,
            Cmd::Map { width } => Command::Map { width },
            Cmd::Where {
                size,
                purpose,
                node,
                count,
            } => Command::Where {
                size,
                purpose,
                node,
                count,
            },
            Cmd::Diff { step } => Command::Diff { step },
            Cmd::Undo => Command::Undo,
            Cmd::Redo => Command::Redo,
            Cmd::Reset => Command::Reset,
            Cmd::Kernel { version } => Command::Kernel { version },
            Cmd::Explain { command } => {
                if command.first().is_some_and(|w| w == "explain") {
                    return Err(CommandError::new(
                        line,
                        None,
                        "explain cannot explain itself",
                    ));
                }
                let inner = parse_words_in(line, &command)?;
                if !inner.is_kernel_op() && !matches!(inner, Command::Intersects { .. }) {
                    // Only kernel operations have a decision path to show.
                    return Err(CommandError::new(
                        line,
                        command.first().map(String::as_str),
                        "explain takes a kernel operation (hotplug, memory, request, …)",
                    ));
                }
                Command::Explain(Box::new(inner))
            }
            Cmd::Save { path } => Command::Save { path },
            Cmd::Help { topic } => Command::Help {
                topic: (!topic.is_empty()).then(|| topic.join(" ")),
            },
            Cmd::Quit => Command::Quit,
            Cmd::Check
            | Cmd::Repl
            | Cmd::Completions { .. }
            | Cmd::Man { .. }
            | Cmd::Capture { .. } => {
                let w = line.split_whitespace().next().unwrap_or("");
                return Err(CommandError::new(
                    line,
                    Some(w),
                    format!("`{w}` works on the command line only (iomem-sim {w})"),
                ));
            }
        })
    }
}

// ------------------------------------------------------------------------------- parsing

/// Parse one line of the command language. Blank lines and comments are an error here
/// ("missing command"); scripts use [`parse_script_line`].
pub fn parse_command(line: &str) -> Result<Command, CommandError> {
    parse_script_line(line)?
        .ok_or_else(|| CommandError::new(line, None, "missing command (try `help`)"))
}

/// Like [`parse_command`] but `Ok(None)` for a blank line or a `#` comment.
pub fn parse_script_line(line: &str) -> Result<Option<Command>, CommandError> {
    if line.contains('\0') {
        return Err(CommandError::new(line, None, "a NUL byte in the line"));
    }
    let Some(words) = shlex::split(line) else {
        return Err(CommandError::new(
            line,
            None,
            "unterminated quote (or a backslash at the end of the line)",
        ));
    };
    if let Some(at) = unquoted_pipe(line)
        && !words.first().is_some_and(|w| w.starts_with('#'))
    {
        return parse_pipe(line, at).map(Some);
    }
    if words.is_empty() {
        return Ok(None);
    }
    crate::validate::checked(line, parse_words_in(line, &words)).map(Some)
}

/// Parse already-split words (the command words of the command line).
pub fn parse_words(words: &[String]) -> Result<Command, CommandError> {
    let line = words.iter().map(|w| quote(w)).collect::<Vec<_>>().join(" ");
    crate::validate::checked(&line, parse_words_in(&line, words))
}

/// The command words at the front of `words` (`hotplug add` of `hotplug add a0000000 128M`).
pub fn command_path(words: &[String]) -> Vec<String> {
    let root = line_command();
    let mut cur = &root;
    let mut path = Vec::new();
    for w in words {
        match cur.find_subcommand(w) {
            Some(sc) => {
                path.push(sc.get_name().to_string());
                cur = sc;
            }
            None => break,
        }
    }
    path
}

fn parse_words_in(line: &str, words: &[String]) -> Result<Command, CommandError> {
    if matches!(words.first().map(String::as_str), Some("-h" | "--help")) {
        return Ok(Command::Help { topic: None });
    }
    // Building the clap tree costs more than parsing a line with it (a 100k-line script spent
    // a third of its time there): build it once per thread and reuse it, as a REPL does.
    thread_local! {
        static LINE: std::cell::RefCell<clap::Command> = std::cell::RefCell::new(line_command());
    }
    let parsed = LINE
        .with(|c| c.borrow_mut().try_get_matches_from_mut(words))
        .and_then(|m| LineGrammar::from_arg_matches(&m));
    match parsed {
        Ok(g) => g.cmd.into_command(line),
        // `hotplug add --help` is `help hotplug add`: one text.
        Err(e) if e.kind() == clap::error::ErrorKind::DisplayHelp => {
            let path = command_path(words);
            Ok(Command::Help {
                topic: (!path.is_empty()).then(|| path.join(" ")),
            })
        }
        Err(e) => Err(CommandError::from_clap(line, &e)),
    }
}

/// The first words of every line command (for completion).
pub fn command_words() -> Vec<String> {
    line_command()
        .get_subcommands()
        .map(|c| c.get_name().to_string())
        .filter(|n| !CLI_ONLY.contains(&n.as_str()))
        .collect()
}

// -------------------------------------------------------------------------------------- help

/// The text `help` prints: every line command with its summary, or one command's long help
/// (what `CMD --help` prints).
pub fn help_text(topic: Option<&str>) -> String {
    help_from(&line_command(), topic, true)
}

/// `help` over any built clap tree (the line grammar, or the command line's `Cli`).
pub fn help_from(root: &clap::Command, topic: Option<&str>, line: bool) -> String {
    let Some(t) = topic.map(str::trim).filter(|t| !t.is_empty()) else {
        let mut rows: Vec<(String, String)> = Vec::new();
        for c in root.get_subcommands() {
            if line && CLI_ONLY.contains(&c.get_name()) {
                continue;
            }
            let about =
                |c: &clap::Command| c.get_about().map(|a| a.to_string()).unwrap_or_default();
            if c.has_subcommands() {
                for s in c.get_subcommands() {
                    rows.push((format!("{} {}", c.get_name(), s.get_name()), about(s)));
                }
            } else {
                rows.push((c.get_name().to_string(), about(c)));
            }
        }
        let w = rows.iter().map(|(n, _)| n.len()).max().unwrap_or(0);
        let mut s = String::from(
            "Commands (addresses hex; sizes 128M, 1G, 0x8000000; START-END for START SIZE):\n",
        );
        for (n, a) in rows {
            s.push_str(&format!("  {n:w$}  {a}\n"));
        }
        s.push_str("`help COMMAND` (or COMMAND --help) shows one command with an example.\n");
        return s;
    };
    let mut cur = root;
    for w in t.split_whitespace() {
        match cur.find_subcommand(w) {
            Some(sc) => cur = sc,
            None => return format!("no command `{t}`; `help` lists them\n"),
        }
    }
    let mut cur = cur.clone();
    cur.render_long_help().to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ok(s: &str) -> Command {
        match parse_command(s) {
            Ok(c) => c,
            Err(e) => panic!("{s:?} did not parse:\n{e}"),
        }
    }
    fn err(s: &str) -> CommandError {
        match parse_command(s) {
            Ok(c) => panic!("{s:?} parsed as {c:?}"),
            Err(e) => e,
        }
    }
    const M128: u64 = 128 << 20;

    #[test]
    fn grammar_is_consistent() {
        LineGrammar::command().debug_assert();
    }

    #[test]
    fn sizes() {
        assert_eq!(parse_size("128M"), Ok(M128));
        assert_eq!(parse_size("128MiB"), Ok(M128));
        assert_eq!(parse_size("128mb"), Ok(M128));
        assert_eq!(parse_size("1G"), Ok(1 << 30));
        assert_eq!(parse_size("4K"), Ok(4096));
        assert_eq!(parse_size("2T"), Ok(2 << 40));
        assert_eq!(parse_size("0x8000000"), Ok(0x8000000));
        assert_eq!(parse_size("0"), Ok(0));
        assert!(parse_size("4096").unwrap_err().contains("ambiguous"));
        assert!(parse_size("12Q").is_err());
        assert!(parse_size("M").is_err());
        assert!(parse_size("0x").is_err());
        assert!(parse_size("99999999999999999999").is_err());
        assert!(parse_size("16777216T").is_err(), "overflow");
    }

    #[test]
    fn addresses() {
        assert_eq!(parse_addr("a0000000"), Some(0xa0000000));
        assert_eq!(parse_addr("0xA0000000"), Some(0xa0000000));
        assert_eq!(parse_addr("1_0000_0000"), Some(0x1_0000_0000));
        assert_eq!(parse_addr("ffffffffffffffff"), Some(u64::MAX));
        assert_eq!(parse_addr("1ffffffffffffffff"), None);
        assert_eq!(parse_addr("g"), None);
        assert_eq!(parse_addr(""), None);
    }

    #[test]
    fn hotplug_add_forms() {
        let want = Command::HotplugAdd {
            span: Span {
                start: 0xa0000000,
                size: M128,
            },
            nid: 0,
            driver_managed: None,
            merge: false,
        };
        assert_eq!(ok("hotplug add a0000000 128M"), want);
        assert_eq!(ok("  hotplug   add 0xa0000000 0x8000000  "), want);
        assert_eq!(ok("hotplug add a0000000-a7ffffff"), want);
        assert_eq!(ok("hotplug add a0000000 128M # the seed story"), want);
        let want1 = Command::HotplugAdd {
            span: Span {
                start: 0x140000000,
                size: M128,
            },
            nid: 1,
            driver_managed: Some("System RAM (virtio_mem)".into()),
            merge: true,
        };
        assert_eq!(
            ok(
                "hotplug add 140000000 128M --merge --nid=1 --driver-managed 'System RAM (virtio_mem)'"
            ),
            want1
        );
        // Options anywhere: before, between and after the positionals.
        assert_eq!(
            ok(
                "hotplug add --nid 1 140000000 --merge 128M --driver-managed='System RAM (virtio_mem)'"
            ),
            want1
        );
    }

    #[test]
    fn every_form_parses_and_round_trips_through_display() {
        let lines = [
            "hotplug add a0000000 128M",
            "hotplug add a0000000 128M --nid 2 --driver-managed \"System RAM (kmem)\" --merge",
            "hotplug add a0000000 128M --driver-managed=-odd",
            "hotplug remove 110000000 128M",
            "memory online a0000000",
            "memory online a0000000 256M --zone movable",
            "memory online memory20 --zone normal",
            "memory online memory20 --zone Movable",
            "memory offline memory20",
            "memory offline a0000000-a7ffffff",
            "request c1000000 4K \"my dev\"",
            "request c1000000 4K -- -dash",
            "free-region 1G --bottom-up -- -x",
            "release c1000000 4K",
            "request-resource 100000000 1G extra",
            "insert f0000 64K Reserved --expand",
            "insert --expand f0000 64K -- --odd",
            "remove-resource f0000-fffff",
            "release-resource a0000000 256M",
            "adjust c1000000 4K c1000000-c1001fff",
            "intersects a0000000 128M --flags SYSTEM_RAM --desc PERSISTENT_MEMORY_LEGACY",
            "intersects a0000000 128M --flags=-1",
            "free-region 1G \"device private\" --bottom-up --align 256M",
            "dax kmem dax0.0",
            "dax devdax dax0.0",
            "dax kmem -- --reset,mmo.2",
            "show",
            "show a0000000",
            "show System RAM",
            "show --name beef",
            "show \"Persistent Memory (legacy)\"",
            "find a0001000",
            "blocks",
            // Typed as lsmem, echoed and saved as lsmem (its own default columns).
            "lsmem",
            "lsmem -o RANGE -b",
            "chmem -v -e 0x100000000-0x10fffffff",
            "chmem -b -d 7",
            "ndctl disable-region region0",
            "ndctl enable-region 'region0 region1'",
            "daxctl disable-device dax0.0",
            "daxctl enable-device all",
            "object_add memory-backend-ram,id=mem1,size=256M",
            "object_add 'memory-backend-file,id=m 2,size=1G,mem-path=/dev/shm/a b'",
            "object_del mem1",
            "device_add pc-dimm,id=dimm2,memdev=mem2,addr=0x180000000",
            "device_del dimm1",
            "info memory-devices",
            "ls /dev",
            "ls /dev/pmem0 '/dev/dax*'",
            "ls /dev | grep -E '^(pmem|dax)'",
            "cat /proc/iomem | grep -v 'System RAM'",
            "ndctl list -N | grep -c mode",
            "lsmem | grep -i online",
            "diff",
            "diff 2",
            "undo",
            "redo",
            "reset",
            "kernel 5.0",
            "kernel 6.1.0",
            "explain hotplug add a0000000 128M",
            "explain dax kmem -- -x",
            "save \"out dir/after.iomem\"",
            "help",
            "help hotplug add",
            "quit",
        ];
        for l in lines {
            let c = ok(l);
            let again = ok(&c.to_string());
            assert_eq!(c, again, "{l:?} → {c} did not round-trip");
        }
        // What the user typed is what is echoed (lsmem is not shown as `blocks -o …`).
        assert_eq!(ok("lsmem").to_string(), "lsmem");
        assert_eq!(ok("lsmem -b -o RANGE").to_string(), "lsmem -o RANGE -b");
        assert_eq!(ok("exit"), Command::Quit);
        assert_eq!(ok("?"), Command::Help { topic: None });
        assert_eq!(
            ok("show System RAM"),
            Command::Show {
                target: Some(ShowTarget::Name("System RAM".into()))
            }
        );
        assert_eq!(
            ok("show --name beef"),
            Command::Show {
                target: Some(ShowTarget::Name("beef".into()))
            }
        );
        assert_eq!(
            ok("memory online memory21 --zone MOVABLE"),
            Command::MemoryOnline {
                target: MemTarget::Block(21),
                zone: Some(Zone::Movable)
            }
        );
        assert_eq!(
            ok("memory online a0000000"),
            Command::MemoryOnline {
                target: MemTarget::Range {
                    start: 0xa0000000,
                    size: None
                },
                zone: None
            }
        );
        assert_eq!(
            ok("request c1000000 4K \"my dev\""),
            Command::Request {
                span: Span {
                    start: 0xc1000000,
                    size: 4096
                },
                name: "my dev".into()
            }
        );
        assert_eq!(
            ok("explain hotplug add a0000000-a7ffffff"),
            Command::Explain(Box::new(ok("hotplug add a0000000 128M")))
        );
        // `CMD --help` is `help CMD`.
        assert_eq!(
            ok("hotplug add --help"),
            Command::Help {
                topic: Some("hotplug add".into())
            }
        );
    }

    #[test]
    fn errors_name_the_word() {
        let e = err("hotplug add a0000000 12Q");
        assert_eq!(e.word.as_deref(), Some("12Q"));
        assert!(e.message.contains("size"), "{}", e.message);
        let shown = e.to_string();
        let caret = format!(
            "  hotplug add a0000000 12Q\n  {}^^^",
            " ".repeat("hotplug add a0000000 ".len())
        );
        assert!(shown.ends_with(&caret), "{shown}");

        let e = err("hotplug add a0000000");
        assert!(e.message.contains("missing SIZE"), "{}", e.message);
        let e = err("hotplug add zz 128M");
        assert_eq!(e.word.as_deref(), Some("zz"));
        let e = err("hotplug ad a0000000 128M");
        assert_eq!(e.word.as_deref(), Some("ad"));
        assert!(e.message.contains("'add'"), "{}", e.message);
        let e = err("hotplg add a0000000 128M");
        assert!(e.message.contains("'hotplug'"), "{}", e.message);
        let e = err("hotplug add a0000000 128M --node 1");
        assert_eq!(e.word.as_deref(), Some("--node"));
        assert!(e.message.contains("--nid"), "{}", e.message);
        let e = err("hotplug add a0000000 128M --nid");
        assert!(e.message.contains("value is required"), "{}", e.message);
        let e = err("hotplug add a0000000 128M --nid x");
        assert_eq!(e.word.as_deref(), Some("x"));
        let e = err("request c1000000 4K my dev");
        assert_eq!(e.word.as_deref(), Some("my"));
        assert!(e.message.contains("quoted"), "{}", e.message);
        let e = err("request c1000000 4K \"my dev");
        assert!(e.message.contains("unterminated"));
        let e = err("hotplug remove a7ffffff-a0000000");
        assert!(e.message.contains("below START"));
        let e = err("memory online memoryX");
        assert_eq!(e.word.as_deref(), Some("memoryX"));
        let e = err("memory online memory20 --zone dma");
        assert_eq!(e.word.as_deref(), Some("dma"));
        let e = err("kernel five");
        assert_eq!(e.word.as_deref(), Some("five"));
        let e = err("diff x");
        assert_eq!(e.word.as_deref(), Some("x"));
        let e = err("undo 2");
        assert_eq!(e.word.as_deref(), Some("2"));
        let e = err("explain show");
        assert!(e.message.contains("kernel operation"), "{}", e.message);
        let e = err("explain");
        assert!(e.message.contains("required"), "{}", e.message);
        let e = err("intersects 0 4K --desc WHAT");
        assert_eq!(e.word.as_deref(), Some("WHAT"));
        let e = err("insert 0 4K x --expand=yes");
        assert!(e.message.contains("--expand"), "{}", e.message);
        let e = err("");
        assert!(e.message.contains("missing command"));
        let e = err("hotplug add 0-ffffffffffffffff");
        assert!(e.message.contains("2^64"));
        let e = err("hotplug add a0000000 4096");
        assert!(e.message.contains("ambiguous"));
        let e = err("repl");
        assert!(e.message.contains("command line only"), "{}", e.message);
        let e = err("dax kmem --reset,mmo.2");
        assert_eq!(e.word.as_deref(), Some("--reset,mmo.2"));
    }

    #[test]
    fn excerpt_is_at_most_80_characters_and_counts_characters() {
        let long = format!(
            "hotplug add --driver-managed \"{}\" a0000000 12Q --nid 1 {}",
            "é".repeat(300),
            "# ".repeat(100)
        );
        let e = err(&long);
        assert_eq!(e.word.as_deref(), Some("12Q"));
        let (text, caret) = e.excerpt().expect("word found");
        assert!(text.chars().count() <= EXCERPT + 2, "{text}");
        assert!(text.starts_with('…') && text.ends_with('…'), "{text}");
        let at = text.chars().position(|c| c == 'Q').unwrap() - 2;
        assert_eq!(caret.find('^'), Some(at), "{text}\n{caret}");
    }

    #[test]
    fn script_lines_and_words() {
        assert_eq!(parse_script_line("   # comment"), Ok(None));
        assert_eq!(parse_script_line(""), Ok(None));
        assert_eq!(parse_script_line("undo"), Ok(Some(Command::Undo)));
        let words: Vec<String> = ["request", "c1000000", "4K", "it's #1"]
            .iter()
            .map(|s| s.to_string())
            .collect();
        assert!(
            matches!(parse_words(&words), Ok(Command::Request { name, .. }) if name == "it's #1")
        );
    }

    #[test]
    fn every_command_has_help_and_its_examples_parse() {
        let root = line_command();
        let mut n = 0;
        let mut check = |c: &clap::Command| {
            let after = c
                .get_after_help()
                .map(|s| s.to_string())
                .unwrap_or_default();
            assert!(
                after.starts_with("Example:"),
                "{} has no example",
                c.get_name()
            );
            for ex in after.lines().skip(1) {
                let ex = ex.trim();
                if !CLI_ONLY.contains(&c.get_name()) {
                    ok(ex);
                }
                n += 1;
            }
        };
        for c in root.get_subcommands() {
            if c.has_subcommands() {
                c.get_subcommands().for_each(&mut check);
            } else {
                check(c);
            }
        }
        assert!(n > 30);
        let all = help_text(None);
        assert!(
            all.contains("hotplug remove") && all.contains("dax kmem"),
            "{all}"
        );
        assert!(!all.contains("completions"), "{all}");
        for l in all.lines() {
            assert!(l.chars().count() <= 100, "{l}");
        }
        let one = help_text(Some("reset"));
        assert!(one.contains("(a step: undo undoes it)"), "{one}");
        assert!(help_text(Some("hotplug add")).contains("--driver-managed"));
        assert!(help_text(Some("nope")).contains("no command"));
    }

    /// A `|` is the shell's pipe only when `grep` follows it; inside quotes, or in a word such
    /// as `MEM|BUSY`, it is part of the word. Only text can be piped.
    #[test]
    fn pipes_into_grep_and_bars_that_are_not_pipes() {
        let c = parse_command("ls /dev | grep -E '^(pmem|dax)'").unwrap();
        assert!(matches!(&c, Command::Pipe(inner, _) if matches!(**inner, Command::Tool(_))));
        assert_eq!(c.to_string(), "ls /dev | grep -E '^(pmem|dax)'");
        for not_a_pipe in [
            "intersects a0000000 128M --flags MEM|BUSY",
            "ls '/dev/a | grep b'",
            "ls /dev/a\\|grep",
        ] {
            let c = parse_command(not_a_pipe);
            assert!(!matches!(c, Ok(Command::Pipe(..))), "{not_a_pipe}: {c:?}");
        }
        for (bad, why) in [
            ("hotplug add a0000000 128M | grep x", "must print text"),
            ("| grep x", "nothing before the pipe"),
            ("ls /dev | grep", "a pattern is needed"),
            ("ls /dev | grep -P x", "invalid option"),
        ] {
            let e = parse_command(bad).unwrap_err();
            assert!(e.to_string().contains(why), "{bad}: {e}");
        }
    }

    #[test]
    fn size_words() {
        assert_eq!(fmt_size_word(M128), "128M");
        assert_eq!(fmt_size_word(0x1234), "0x1234");
        assert_eq!(fmt_size_word(1 << 30), "1G");
        assert_eq!(fmt_size_word(0), "0");
    }
}
