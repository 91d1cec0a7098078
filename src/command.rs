//! The command language shared by the command line, `-e`, `--script` and the REPL (issues 3, 4;
//! contract: docs/cli.md "The command language").
//!
//! One grammar, one parser: a line is split into words shell-style (single and double quotes,
//! backslash escapes, `#` starts a comment at the beginning of a word), the leading words pick
//! the command, the rest are positionals and `--options` (anywhere after the command words,
//! `--opt VALUE` or `--opt=VALUE`).
//!
//! Numbers, decided once for every command:
//! * **Addresses** are hexadecimal with or without `0x`, as `/proc/iomem` prints them
//!   (`a0000000`, `0xa0000000`). `_` separators are allowed (`1_0000_0000`).
//! * **Sizes** are a decimal number with a binary unit `K`, `M`, `G`, `T`, `P` (case-insensitive,
//!   optional `iB`/`B`: `128M`, `128MiB`, `1g`), or hexadecimal bytes with `0x` (`0x8000000`),
//!   or `0`. A bare number without unit or `0x` (`4096`) is **refused**: in this tool addresses
//!   are hex without prefix, so `1000` would mean 4096 bytes to one reader and 1000 to another.
//! * Wherever `START SIZE` is taken, one word `START-END` (inclusive, as `/proc/iomem` prints it)
//!   may stand instead.
//! * Block numbers (`memory21`), NUMA node ids, step numbers are decimal, as sysfs prints them.
//!
//! Errors ([`CommandError`]) name the word (index and text) that is wrong and what was expected;
//! their `Display` shows the line with a caret under that word.

use crate::kernel::KernelVersion;
use crate::tree::Desc;
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
    /// `request-resource START SIZE NAME`: `request_resource_conflict()` on the root.
    RequestResource {
        span: Span,
        name: String,
    },
    /// `insert START SIZE NAME [--expand]`: `insert_resource()` / `insert_resource_expand_to_fit()`.
    Insert {
        span: Span,
        name: String,
        expand: bool,
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
    /// `blocks`.
    Blocks,
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
        )
    }
}

fn quote(s: &str) -> String {
    // A bare word starting with `-` would read back as an option.
    if !s.is_empty()
        && !s.starts_with('-')
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"._-:()/+,@".contains(&b))
    {
        s.to_string()
    } else {
        format!("\"{}\"", s.replace('\\', "\\\\").replace('"', "\\\""))
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
            } => {
                write!(f, "hotplug add {span}")?;
                if *nid != 0 {
                    write!(f, " --nid {nid}")?;
                }
                if let Some(n) = driver_managed {
                    write!(f, " --driver-managed {}", quote(n))?;
                }
                if *merge {
                    write!(f, " --merge")?;
                }
                Ok(())
            }
            Command::HotplugRemove { span } => write!(f, "hotplug remove {span}"),
            Command::MemoryOnline { target, zone } => {
                write!(f, "memory online {target}")?;
                match zone {
                    Some(Zone::Normal) => write!(f, " --zone normal"),
                    Some(Zone::Movable) => write!(f, " --zone movable"),
                    None => Ok(()),
                }
            }
            Command::MemoryOffline { target } => write!(f, "memory offline {target}"),
            Command::Request { span, name } => write!(f, "request {span} {}", quote(name)),
            Command::Release { span } => write!(f, "release {span}"),
            Command::RequestResource { span, name } => {
                write!(f, "request-resource {span} {}", quote(name))
            }
            Command::Insert { span, name, expand } => {
                write!(f, "insert {span} {}", quote(name))?;
                if *expand {
                    write!(f, " --expand")?;
                }
                Ok(())
            }
            Command::RemoveResource { span } => write!(f, "remove-resource {span}"),
            Command::ReleaseResource { span } => write!(f, "release-resource {span}"),
            Command::Adjust { span, new } => write!(f, "adjust {span} {new}"),
            Command::Intersects { span, flags, desc } => {
                write!(f, "intersects {span}")?;
                if let Some(fl) = flags {
                    write!(f, " --flags {}", quote(fl))?;
                }
                if let Some(d) = desc {
                    write!(f, " --desc {}", d.kernel_name())?;
                }
                Ok(())
            }
            Command::FreeRegion {
                size,
                name,
                bottom_up,
                align,
            } => {
                write!(f, "free-region {} {}", fmt_size_word(*size), quote(name))?;
                if *bottom_up {
                    write!(f, " --bottom-up")?;
                }
                if let Some(a) = align {
                    write!(f, " --align {}", fmt_size_word(*a))?;
                }
                Ok(())
            }
            Command::DaxKmem { dev } => write!(f, "dax kmem {}", quote(dev)),
            Command::DaxDevdax { dev } => write!(f, "dax devdax {}", quote(dev)),
            Command::Show { target: None } => write!(f, "show"),
            Command::Show {
                target: Some(ShowTarget::Addr(a)),
            } => write!(f, "show {a:x}"),
            // A name that reads as an address (`"110"`) keeps its quotes (fuzz finding 7).
            Command::Show {
                target: Some(ShowTarget::Name(n)),
            } if parse_addr(n).is_some() => write!(f, "show \"{n}\""),
            Command::Show {
                target: Some(ShowTarget::Name(n)),
            } => write!(f, "show {}", quote(n)),
            Command::Find { addr } => write!(f, "find {addr:x}"),
            Command::Blocks => write!(f, "blocks"),
            Command::Diff { step: None } => write!(f, "diff"),
            Command::Diff { step: Some(n) } => write!(f, "diff {n}"),
            Command::Undo => write!(f, "undo"),
            Command::Redo => write!(f, "redo"),
            Command::Reset => write!(f, "reset"),
            Command::Kernel { version } => write!(f, "kernel {version}"),
            Command::Explain(c) => write!(f, "explain {c}"),
            Command::Save { path } => write!(f, "save {}", quote(path)),
            Command::Help { topic: None } => write!(f, "help"),
            Command::Help { topic: Some(t) } => write!(f, "help {}", quote(t)),
            Command::Quit => write!(f, "quit"),
        }
    }
}

// ------------------------------------------------------------------------------------ errors

/// A command line that does not parse: which word, and what was expected there.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub struct CommandError {
    /// The whole line as given.
    pub line: String,
    /// Index of the offending word (== number of words when a word is missing).
    pub index: usize,
    /// The offending word as written (empty when a word is missing).
    pub word: String,
    /// Byte offset and length of the word in `line` (for the caret).
    pub offset: usize,
    pub len: usize,
    /// What was wrong / expected, e.g. `expected a size like 128M, 1G or 0x8000000`.
    pub expected: String,
}

impl fmt::Display for CommandError {
    /// ```text
    /// hotplug add a0000000 12Q: expected a size ...
    ///   hotplug add a0000000 12Q
    ///                        ^^^
    /// ```
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.word.is_empty() {
            writeln!(f, "{} (word {})", self.expected, self.index + 1)?;
        } else {
            writeln!(
                f,
                "{} (word {}: {:?})",
                self.expected,
                self.index + 1,
                crate::validate::shorten(&self.word)
            )?;
        }
        // Caret line: count chars, not bytes, so a multibyte name does not shift it.
        let pad = self
            .line
            .get(..self.offset.min(self.line.len()))
            .map_or(0, |s| s.chars().count());
        let width = self
            .line
            .get(self.offset.min(self.line.len())..(self.offset + self.len).min(self.line.len()))
            .map_or(0, |s| s.chars().count())
            .max(1);
        // A long line is shown as a window around the word (validate::excerpt).
        let (shown, pad) = crate::validate::excerpt(&self.line, pad);
        let width = width.min(shown.chars().count().saturating_sub(pad).max(1));
        writeln!(f, "  {shown}")?;
        write!(f, "  {}{}", " ".repeat(pad), "^".repeat(width))
    }
}

// --------------------------------------------------------------------------------- tokenizer

/// A word of the line with its byte span in the line.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Word {
    pub text: String,
    pub offset: usize,
    pub len: usize,
    /// Was any part quoted (then it is never an option or a comment).
    pub quoted: bool,
}

/// Split shell-style: whitespace separates, `'…'` literal, `"…"` with `\"` `\\` escapes,
/// backslash escapes outside quotes, `#` at the start of an unquoted word comments out the rest.
/// An unterminated quote is an error at the word it opens.
pub fn split_words(line: &str) -> Result<Vec<Word>, CommandError> {
    let mut words = Vec::new();
    let mut it = line.char_indices().peekable();
    loop {
        while it.next_if(|(_, c)| c.is_whitespace()).is_some() {}
        let Some(&(start, first)) = it.peek() else {
            break;
        };
        if first == '#' {
            break;
        }
        let mut text = String::new();
        let mut quoted = false;
        let mut end = start;
        while let Some(&(i, c)) = it.peek() {
            if c.is_whitespace() {
                break;
            }
            it.next();
            end = i + c.len_utf8();
            match c {
                '\'' | '"' => {
                    quoted = true;
                    let mut closed = false;
                    while let Some((j, d)) = it.next() {
                        end = j + d.len_utf8();
                        if d == c {
                            closed = true;
                            break;
                        }
                        if d == '\\'
                            && c == '"'
                            && let Some(&(k, e)) = it.peek()
                            && (e == '"' || e == '\\')
                        {
                            it.next();
                            end = k + e.len_utf8();
                            text.push(e);
                            continue;
                        }
                        text.push(d);
                    }
                    if !closed {
                        return Err(CommandError {
                            line: line.to_string(),
                            index: words.len(),
                            word: line[start..].to_string(),
                            offset: start,
                            len: line.len() - start,
                            expected: format!("unterminated {c} quote"),
                        });
                    }
                }
                '\\' => {
                    if let Some((j, d)) = it.next() {
                        end = j + d.len_utf8();
                        text.push(d);
                        quoted = true;
                    }
                }
                _ => text.push(c),
            }
        }
        words.push(Word {
            text,
            offset: start,
            len: end - start,
            quoted,
        });
    }
    Ok(words)
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

// ------------------------------------------------------------------------------------ parser

struct P<'a> {
    line: &'a str,
    words: Vec<Word>,
    /// Indexes of positional words (not options, not option values), after the command words.
    pos: Vec<usize>,
    next: usize,
    /// Options seen: (name, index of the option word, value word index).
    opts: Vec<(String, usize, Option<usize>)>,
}

/// Option names each command accepts, and whether they take a value.
fn options_of(cmd: &str) -> &'static [(&'static str, bool)] {
    match cmd {
        "hotplug add" => &[("nid", true), ("driver-managed", true), ("merge", false)],
        "memory online" => &[("zone", true)],
        "insert" => &[("expand", false)],
        "intersects" => &[("flags", true), ("desc", true)],
        "free-region" => &[("bottom-up", false), ("align", true)],
        _ => &[],
    }
}

impl<'a> P<'a> {
    fn err_at(&self, index: usize, expected: impl Into<String>) -> CommandError {
        match self.words.get(index) {
            Some(w) => CommandError {
                line: self.line.to_string(),
                index,
                word: w.text.clone(),
                offset: w.offset,
                len: w.len,
                expected: expected.into(),
            },
            None => CommandError {
                line: self.line.to_string(),
                index: self.words.len(),
                word: String::new(),
                offset: self.line.trim_end().len() + 1,
                len: 1,
                expected: expected.into(),
            },
        }
    }

    /// Separate options from positionals for the words from `from` on.
    fn classify(&mut self, cmd: &str, from: usize) -> Result<(), CommandError> {
        let known = options_of(cmd);
        let mut i = from;
        while i < self.words.len() {
            let w = &self.words[i];
            if !w.quoted && w.text.starts_with("--") && w.text.len() > 2 {
                let body = &w.text[2..];
                let (name, inline) = match body.split_once('=') {
                    Some((n, v)) => (n.to_string(), Some(v.to_string())),
                    None => (body.to_string(), None),
                };
                let Some(&(_, takes)) = known.iter().find(|(n, _)| *n == name) else {
                    let list = if known.is_empty() {
                        format!("`{cmd}` takes no options")
                    } else {
                        let names: Vec<String> =
                            known.iter().map(|(n, _)| format!("--{n}")).collect();
                        format!("unknown option for `{cmd}`; it takes {}", names.join(", "))
                    };
                    return Err(self.err_at(i, list));
                };
                if self.opts.iter().any(|(n, _, _)| *n == name) {
                    return Err(self.err_at(i, format!("--{name} given twice")));
                }
                if takes {
                    if let Some(v) = inline {
                        // `--nid=1`: the value is part of this word; record it by replacing
                        // the word text (the caret still points at the whole word).
                        self.words[i].text = v;
                        self.opts.push((name, i, Some(i)));
                    } else if i + 1 < self.words.len() {
                        self.opts.push((name, i, Some(i + 1)));
                        i += 1;
                    } else {
                        return Err(self.err_at(i + 1, format!("--{name} needs a value")));
                    }
                } else {
                    if inline.is_some() {
                        return Err(self.err_at(i, format!("--{name} takes no value")));
                    }
                    self.opts.push((name, i, None));
                }
            } else {
                self.pos.push(i);
            }
            i += 1;
        }
        Ok(())
    }

    fn opt(&self, name: &str) -> Option<(usize, Option<usize>)> {
        self.opts
            .iter()
            .find(|(n, _, _)| n == name)
            .map(|&(_, i, v)| (i, v))
    }
    fn opt_value(&self, name: &str) -> Option<(usize, &str)> {
        let (_, v) = self.opt(name)?;
        let v = v?;
        Some((v, self.words[v].text.as_str()))
    }
    fn flag(&self, name: &str) -> bool {
        self.opt(name).is_some()
    }

    /// Index of the next positional word, or the "missing" index.
    fn peek_index(&self) -> usize {
        self.pos.get(self.next).copied().unwrap_or(self.words.len())
    }
    fn take(&mut self, what: &str) -> Result<(usize, String), CommandError> {
        match self.pos.get(self.next) {
            Some(&i) => {
                self.next += 1;
                Ok((i, self.words[i].text.clone()))
            }
            None => Err(self.err_at(self.words.len(), format!("missing {what}"))),
        }
    }
    fn has_more(&self) -> bool {
        self.next < self.pos.len()
    }
    fn done(&self, hint: &str) -> Result<(), CommandError> {
        match self.pos.get(self.next) {
            None => Ok(()),
            Some(&i) => Err(self.err_at(i, format!("unexpected word{hint}"))),
        }
    }

    fn addr(&mut self, what: &str) -> Result<u64, CommandError> {
        let (i, w) = self.take(what)?;
        parse_addr(&w).ok_or_else(|| {
            self.err_at(
                i,
                format!("expected {what}: a hex address like a0000000 or 0xa0000000"),
            )
        })
    }
    fn size(&mut self, what: &str) -> Result<u64, CommandError> {
        let (i, w) = self.take(what)?;
        parse_size(&w).map_err(|e| self.err_at(i, format!("{what}: {e}")))
    }
    /// `START SIZE` or `START-END`.
    fn span(&mut self) -> Result<Span, CommandError> {
        let i = self.peek_index();
        let (_, w) = self.take("START SIZE (or START-END)")?;
        if let Some((a, b)) = w.split_once('-') {
            let (Some(s), Some(e)) = (parse_addr(a), parse_addr(b)) else {
                return Err(self.err_at(
                    i,
                    "expected a range START-END in hex, like a0000000-a7ffffff",
                ));
            };
            if e < s {
                return Err(self.err_at(i, "range END is below START"));
            }
            let size = (e - s).checked_add(1).ok_or_else(|| {
                self.err_at(i, "range covers all 2^64 addresses: size does not fit")
            })?;
            return Ok(Span { start: s, size });
        }
        let start = parse_addr(&w).ok_or_else(|| {
            self.err_at(
                i,
                "expected START: a hex address like a0000000 (or a range a0000000-a7ffffff)",
            )
        })?;
        let size = self.size("SIZE")?;
        Ok(Span { start, size })
    }
    fn name(&mut self, what: &str) -> Result<String, CommandError> {
        Ok(self.take(what)?.1)
    }
}

const COMMAND_WORDS: &[&str] = &[
    "hotplug",
    "memory",
    "request",
    "release",
    "request-resource",
    "insert",
    "remove-resource",
    "release-resource",
    "adjust",
    "intersects",
    "free-region",
    "dax",
    "show",
    "find",
    "blocks",
    "diff",
    "undo",
    "redo",
    "reset",
    "kernel",
    "explain",
    "save",
    "help",
    "quit",
];

/// The first words of every command (for completion and "did you mean").
pub fn command_words() -> &'static [&'static str] {
    COMMAND_WORDS
}

/// Parse one line of the command language. Blank lines and comments are an error here
/// ("missing command"); scripts use [`parse_script_line`].
pub fn parse_command(line: &str) -> Result<Command, CommandError> {
    let words = split_words(line)?;
    crate::validate::checked(line, parse_words_at(line, words, 0))
}

/// Like [`parse_command`] but `Ok(None)` for a blank line or a `#` comment.
pub fn parse_script_line(line: &str) -> Result<Option<Command>, CommandError> {
    let words = split_words(line)?;
    if words.is_empty() {
        return Ok(None);
    }
    crate::validate::checked(line, parse_words_at(line, words, 0)).map(Some)
}

/// Parse already-split words (the trailing command words of the command line). The words are
/// joined with quoting so that error carets still point at the right word.
pub fn parse_args(args: &[String]) -> Result<Command, CommandError> {
    let line = args
        .iter()
        .map(|a| quote_arg(a))
        .collect::<Vec<_>>()
        .join(" ");
    parse_command(&line)
}

fn quote_arg(a: &str) -> String {
    if !a.is_empty() && !a.chars().any(|c| c.is_whitespace() || "'\"\\#".contains(c)) {
        a.to_string()
    } else {
        format!("'{}'", a.replace('\'', "'\\''"))
    }
}

fn parse_words_at(line: &str, words: Vec<Word>, first: usize) -> Result<Command, CommandError> {
    let mut p = P {
        line,
        words,
        pos: Vec::new(),
        next: 0,
        opts: Vec::new(),
    };
    let Some(w0) = p.words.get(first).map(|w| w.text.clone()) else {
        return Err(p.err_at(first, "missing command (try `help`)".to_string()));
    };
    let sub = p.words.get(first + 1).map(|w| w.text.clone());
    let two = |p: &P, allowed: &[&str]| -> Result<String, CommandError> {
        match &sub {
            Some(s) if allowed.contains(&s.as_str()) => Ok(format!("{w0} {s}")),
            _ => Err(p.err_at(
                first + 1,
                format!("expected one of: {}", allowed.join(", ")).replacen(
                    "expected",
                    &format!("`{w0}` expects"),
                    1,
                ),
            )),
        }
    };
    let cmd: String = match w0.as_str() {
        "hotplug" => two(&p, &["add", "remove"])?,
        "memory" => two(&p, &["online", "offline"])?,
        "dax" => two(&p, &["kmem", "devdax"])?,
        "exit" | "q" => "quit".into(),
        "?" => "help".into(),
        "explain" => {
            if p.words.len() <= first + 1 {
                return Err(p.err_at(first + 1, "missing COMMAND to explain"));
            }
            if p.words[first + 1].text == "explain" {
                return Err(p.err_at(first + 1, "explain cannot explain itself"));
            }
            let inner = parse_words_at(line, p.words, first + 1)?;
            if !inner.is_kernel_op() && !matches!(inner, Command::Intersects { .. }) {
                // Only kernel operations have a decision path to show.
                return Err(CommandError {
                    expected: "explain takes a kernel operation (hotplug, memory, request, …)"
                        .into(),
                    ..parse_error_at_word(line, first + 1)?
                });
            }
            return Ok(Command::Explain(Box::new(inner)));
        }
        w if COMMAND_WORDS.contains(&w) => w.to_string(),
        _ => {
            let hint = suggest(&w0)
                .map(|s| format!("; did you mean `{s}`?"))
                .unwrap_or_default();
            return Err(p.err_at(first, format!("unknown command `{w0}`{hint} (try `help`)")));
        }
    };
    let nwords = cmd.split(' ').count();
    p.classify(&cmd, first + nwords)?;
    let names_hint = "; names with spaces must be quoted: \"my dev\"";
    let c = match cmd.as_str() {
        "hotplug add" => {
            let span = p.span()?;
            p.done("")?;
            let nid = match p.opt_value("nid") {
                None => 0,
                Some((i, v)) => v
                    .parse::<u32>()
                    .map_err(|_| p.err_at(i, "expected a NUMA node id (decimal)"))?,
            };
            Command::HotplugAdd {
                span,
                nid,
                driver_managed: p.opt_value("driver-managed").map(|(_, v)| v.to_string()),
                merge: p.flag("merge"),
            }
        }
        "hotplug remove" => {
            let span = p.span()?;
            p.done("")?;
            Command::HotplugRemove { span }
        }
        "memory online" | "memory offline" => {
            let target = mem_target(&mut p)?;
            p.done("")?;
            if cmd == "memory offline" {
                Command::MemoryOffline { target }
            } else {
                let zone = match p.opt_value("zone") {
                    None => None,
                    Some((_, "normal" | "kernel")) => Some(Zone::Normal),
                    Some((_, "movable")) => Some(Zone::Movable),
                    Some((i, _)) => return Err(p.err_at(i, "expected --zone normal|movable")),
                };
                Command::MemoryOnline { target, zone }
            }
        }
        "request" | "request-resource" | "insert" => {
            let span = p.span()?;
            let name = p.name("NAME")?;
            p.done(names_hint)?;
            match cmd.as_str() {
                "request" => Command::Request { span, name },
                "request-resource" => Command::RequestResource { span, name },
                _ => Command::Insert {
                    span,
                    name,
                    expand: p.flag("expand"),
                },
            }
        }
        "release" | "remove-resource" | "release-resource" => {
            let span = p.span()?;
            p.done("")?;
            match cmd.as_str() {
                "release" => Command::Release { span },
                "remove-resource" => Command::RemoveResource { span },
                _ => Command::ReleaseResource { span },
            }
        }
        "adjust" => {
            let span = p.span()?;
            let new = p.span()?;
            p.done("")?;
            Command::Adjust { span, new }
        }
        "intersects" => {
            let span = p.span()?;
            p.done("")?;
            let desc = match p.opt_value("desc") {
                None => None,
                Some((i, v)) => Some(Desc::from_kernel_name(v).ok_or_else(|| {
                    let names: Vec<&str> = Desc::ALL.iter().map(|d| d.kernel_name()).collect();
                    p.err_at(
                        i,
                        format!("expected an IORES_DESC_* name: {}", names.join(", ")),
                    )
                })?),
            };
            Command::Intersects {
                span,
                flags: p.opt_value("flags").map(|(_, v)| v.to_string()),
                desc,
            }
        }
        "free-region" => {
            let size = p.size("SIZE")?;
            let name = p.name("NAME")?;
            p.done(names_hint)?;
            let align = match p.opt_value("align") {
                None => None,
                Some((i, v)) => Some(
                    parse_size(v)
                        .ok()
                        .filter(|a| a.is_power_of_two())
                        .ok_or_else(|| {
                            p.err_at(i, "--align: expected a power-of-two size like 256M")
                        })?,
                ),
            };
            Command::FreeRegion {
                size,
                name,
                bottom_up: p.flag("bottom-up"),
                align,
            }
        }
        "dax kmem" | "dax devdax" => {
            let dev = p.name("DEV (a dax device like dax0.0)")?;
            p.done("")?;
            if cmd == "dax kmem" {
                Command::DaxKmem { dev }
            } else {
                Command::DaxDevdax { dev }
            }
        }
        "show" => {
            if !p.has_more() {
                Command::Show { target: None }
            } else if p.pos.len() - p.next == 1
                && let Some(a) = parse_addr(&p.words[p.peek_index()].text)
                && !p.words[p.peek_index()].quoted
            {
                Command::Show {
                    target: Some(ShowTarget::Addr(a)),
                }
            } else {
                // `show System RAM` works unquoted: the remaining words are one name.
                let rest: Vec<String> = p.pos[p.next..]
                    .iter()
                    .map(|&i| p.words[i].text.clone())
                    .collect();
                Command::Show {
                    target: Some(ShowTarget::Name(rest.join(" "))),
                }
            }
        }
        "find" => {
            let addr = p.addr("ADDR")?;
            p.done("")?;
            Command::Find { addr }
        }
        "diff" => {
            let step = if p.has_more() {
                let (i, w) = p.take("STEP")?;
                Some(
                    w.parse::<usize>()
                        .map_err(|_| p.err_at(i, "expected a step number (0 = the start)"))?,
                )
            } else {
                None
            };
            p.done("")?;
            Command::Diff { step }
        }
        "kernel" => {
            let (i, w) = p.take("VERSION (e.g. 5.1)")?;
            let version = w
                .parse::<KernelVersion>()
                .map_err(|e| p.err_at(i, e.to_string()))?;
            p.done("")?;
            Command::Kernel { version }
        }
        "save" => {
            let path = p.name("FILE")?;
            p.done("; quote a file name with spaces")?;
            Command::Save { path }
        }
        "help" => {
            let rest: Vec<String> = p.pos[p.next..]
                .iter()
                .map(|&i| p.words[i].text.clone())
                .collect();
            Command::Help {
                topic: (!rest.is_empty()).then(|| rest.join(" ")),
            }
        }
        other => {
            p.done("")?;
            match other {
                "blocks" => Command::Blocks,
                "undo" => Command::Undo,
                "redo" => Command::Redo,
                "reset" => Command::Reset,
                _ => Command::Quit,
            }
        }
    };
    Ok(c)
}

fn parse_error_at_word(line: &str, index: usize) -> Result<CommandError, CommandError> {
    let words = split_words(line)?;
    let w = words.get(index);
    Ok(CommandError {
        line: line.to_string(),
        index,
        word: w.map(|w| w.text.clone()).unwrap_or_default(),
        offset: w.map_or(line.len(), |w| w.offset),
        len: w.map_or(1, |w| w.len),
        expected: String::new(),
    })
}

fn mem_target(p: &mut P) -> Result<MemTarget, CommandError> {
    let i = p.peek_index();
    let (_, w) = p.take("START [SIZE] or memoryN")?;
    if let Some(n) = w.strip_prefix("memory") {
        return n.parse::<u64>().map(MemTarget::Block).map_err(|_| {
            p.err_at(
                i,
                "expected memoryN with a decimal block number, like memory21",
            )
        });
    }
    if let Some((a, b)) = w.split_once('-') {
        let (Some(s), Some(e)) = (parse_addr(a), parse_addr(b)) else {
            return Err(p.err_at(i, "expected a range START-END in hex"));
        };
        if e < s {
            return Err(p.err_at(i, "range END is below START"));
        }
        if e - s == u64::MAX {
            return Err(p.err_at(
                i,
                "range covers all 2^64 addresses: its size does not fit in 64 bits",
            ));
        }
        return Ok(MemTarget::Range {
            start: s,
            size: Some(e - s + 1),
        });
    }
    let start = parse_addr(&w)
        .ok_or_else(|| p.err_at(i, "expected START (hex address), START-END or memoryN"))?;
    let size = if p.has_more() {
        Some(p.size("SIZE")?)
    } else {
        None
    };
    Ok(MemTarget::Range { start, size })
}

/// The closest command word within edit distance 2.
fn suggest(w: &str) -> Option<&'static str> {
    COMMAND_WORDS
        .iter()
        .map(|c| (edit_distance(w, c), *c))
        .filter(|(d, _)| *d <= 2)
        .min_by_key(|(d, _)| *d)
        .map(|(_, c)| c)
}

fn edit_distance(a: &str, b: &str) -> usize {
    let a: Vec<char> = a.chars().take(64).collect();
    let b: Vec<char> = b.chars().collect();
    let mut prev: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.iter().enumerate() {
        let mut cur = vec![i + 1];
        for (j, cb) in b.iter().enumerate() {
            let v = (prev[j] + usize::from(ca != cb))
                .min(prev[j + 1] + 1)
                .min(cur[j] + 1);
            cur.push(v);
        }
        prev = cur;
    }
    prev[b.len()]
}

// -------------------------------------------------------------------------------------- help

/// Help for one command: used by `help` and by the REPL.
#[derive(Clone, Copy, Debug)]
pub struct CommandHelp {
    /// The command words (`hotplug add`).
    pub name: &'static str,
    pub usage: &'static str,
    /// What it does and which kernel function it mirrors.
    pub about: &'static str,
    pub example: &'static str,
}

pub const HELP: &[CommandHelp] = &[
    CommandHelp {
        name: "hotplug add",
        usage: "hotplug add START SIZE [--nid N] [--driver-managed NAME] [--merge]",
        about: "hot-add memory: add_memory() / add_memory_driver_managed() (--merge = MHP_MERGE_RESOURCE)",
        example: "hotplug add a0000000 128M",
    },
    CommandHelp {
        name: "hotplug remove",
        usage: "hotplug remove START SIZE",
        about: "hot-remove memory: remove_memory() (its blocks must be offline)",
        example: "hotplug remove 100000000 128M",
    },
    CommandHelp {
        name: "memory online",
        usage: "memory online START [SIZE] [--zone normal|movable] | memory online memoryN",
        about: "online memory blocks: write online/online_kernel/online_movable to /sys/devices/system/memory/memoryN/state",
        example: "memory online memory20",
    },
    CommandHelp {
        name: "memory offline",
        usage: "memory offline START [SIZE] | memory offline memoryN",
        about: "offline memory blocks: write offline to memoryN/state",
        example: "memory offline a0000000 128M",
    },
    CommandHelp {
        name: "request",
        usage: "request START SIZE NAME",
        about: "claim a busy region: request_mem_region() -> __request_region() (descends into non-BUSY conflicts)",
        example: "request c1000000 4K \"my dev\"",
    },
    CommandHelp {
        name: "release",
        usage: "release START SIZE",
        about: "release a busy region: release_mem_region() -> __release_region()",
        example: "release c1000000 4K",
    },
    CommandHelp {
        name: "request-resource",
        usage: "request-resource START SIZE NAME",
        about: "request_resource_conflict() on the root: top level only, never descends",
        example: "request-resource 100000000 1G extra",
    },
    CommandHelp {
        name: "insert",
        usage: "insert START SIZE NAME [--expand]",
        about: "insert_resource() (adopts the children it covers) / insert_resource_expand_to_fit()",
        example: "insert f0000 64K Reserved",
    },
    CommandHelp {
        name: "remove-resource",
        usage: "remove-resource START SIZE",
        about: "remove_resource(): the resource goes, its children move up",
        example: "remove-resource f0000-fffff",
    },
    CommandHelp {
        name: "release-resource",
        usage: "release-resource START SIZE",
        about: "release_resource(): the resource goes with its children",
        example: "release-resource a0000000-afffffff",
    },
    CommandHelp {
        name: "adjust",
        usage: "adjust START SIZE NEW_START NEW_SIZE",
        about: "adjust_resource(): move/resize a resource within its parent and around its children",
        example: "adjust c1000000 4K c1000000 8K",
    },
    CommandHelp {
        name: "intersects",
        usage: "intersects START SIZE [--flags F] [--desc D]",
        about: "region_intersects() query: INTERSECTS, DISJOINT or MIXED (changes nothing)",
        example: "intersects a0000000 128M --flags SYSTEM_RAM",
    },
    CommandHelp {
        name: "free-region",
        usage: "free-region SIZE NAME [--bottom-up [--align A]]",
        about: "request_free_mem_region() (top down) / alloc_free_mem_region() (--bottom-up)",
        example: "free-region 1G \"device private\"",
    },
    CommandHelp {
        name: "dax kmem",
        usage: "dax kmem DEV",
        about: "hand a dax device to kmem (daxctl reconfigure-device --mode=system-ram; drivers/dax/kmem.c probe)",
        example: "dax kmem dax0.0",
    },
    CommandHelp {
        name: "dax devdax",
        usage: "dax devdax DEV",
        about: "give it back to device-dax (kmem unbind / remove)",
        example: "dax devdax dax0.0",
    },
    CommandHelp {
        name: "show",
        usage: "show [ADDR|NAME]",
        about: "print the tree, or the resources containing ADDR, or those named NAME",
        example: "show \"Persistent Memory (legacy)\"",
    },
    CommandHelp {
        name: "find",
        usage: "find ADDR",
        about: "which resources contain ADDR, as a path from the top",
        example: "find a0001000",
    },
    CommandHelp {
        name: "blocks",
        usage: "blocks",
        about: "memory blocks, like lsmem (RANGE SIZE STATE REMOVABLE BLOCK NODE ZONES)",
        example: "blocks",
    },
    CommandHelp {
        name: "diff",
        usage: "diff [STEP]",
        about: "what changed since the start (or since step STEP)",
        example: "diff 1",
    },
    CommandHelp {
        name: "undo",
        usage: "undo",
        about: "undo the last step (the history holds the last 1000 steps; older ones stay applied)",
        example: "undo",
    },
    CommandHelp {
        name: "redo",
        usage: "redo",
        about: "redo the step undone last",
        example: "redo",
    },
    CommandHelp {
        name: "reset",
        usage: "reset",
        about: "back to the starting tree (recorded as a step: undo brings the work back)",
        example: "reset",
    },
    CommandHelp {
        name: "kernel",
        usage: "kernel VERSION",
        about: "switch the simulated kernel's behaviour from now on",
        example: "kernel 5.0",
    },
    CommandHelp {
        name: "explain",
        usage: "explain COMMAND...",
        about: "run COMMAND and show the kernel's decision path",
        example: "explain hotplug add a0000000 128M",
    },
    CommandHelp {
        name: "save",
        usage: "save FILE",
        about: "write the current tree as /proc/iomem text (atomically: temp file, then rename)",
        example: "save after.iomem",
    },
    CommandHelp {
        name: "help",
        usage: "help [COMMAND]",
        about: "this list, or one command's help",
        example: "help hotplug add",
    },
    CommandHelp {
        name: "quit",
        usage: "quit",
        about: "leave the REPL (also: exit, Ctrl-D)",
        example: "quit",
    },
];

/// Help for a topic: exact command words, or every command starting with the first word
/// (`help hotplug` lists `hotplug add` and `hotplug remove`).
pub fn help_for(topic: &str) -> Vec<&'static CommandHelp> {
    let topic = topic.trim();
    if let Some(h) = HELP.iter().find(|h| h.name == topic) {
        return vec![h];
    }
    let first = topic.split_whitespace().next().unwrap_or("");
    HELP.iter()
        .filter(|h| h.name.split(' ').next() == Some(first))
        .collect()
}

/// The text `help` prints: one line per command, or the details of one topic.
pub fn help_text(topic: Option<&str>) -> String {
    let mut s = String::new();
    match topic {
        None => {
            s.push_str("Commands (addresses are hex; sizes 128M, 1G, 0x8000000; START-END works for START SIZE):\n");
            for h in HELP {
                s.push_str(&format!("  {:<70} {}\n", h.usage, first_clause(h.about)));
            }
            s.push_str("`help COMMAND` shows one command with an example.\n");
        }
        Some(t) => {
            let hs = help_for(t);
            if hs.is_empty() {
                s.push_str(&format!("no command `{t}`; `help` lists them\n"));
            }
            for h in hs {
                s.push_str(&format!(
                    "{}\n    {}\n    example: {}\n",
                    h.usage, h.about, h.example
                ));
            }
        }
    }
    s
}

fn first_clause(s: &str) -> &str {
    s.split(':').next().unwrap_or(s)
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
        let c = ok(
            "hotplug add 140000000 128M --merge --nid=1 --driver-managed 'System RAM (virtio_mem)'",
        );
        assert_eq!(
            c,
            Command::HotplugAdd {
                span: Span {
                    start: 0x140000000,
                    size: M128
                },
                nid: 1,
                driver_managed: Some("System RAM (virtio_mem)".into()),
                merge: true,
            }
        );
        // Options may come before positionals too.
        assert_eq!(ok("hotplug add --nid 1 140000000 128M"), {
            let Command::HotplugAdd {
                span,
                driver_managed,
                merge,
                ..
            } = c
            else {
                unreachable!()
            };
            let _ = (driver_managed, merge);
            Command::HotplugAdd {
                span,
                nid: 1,
                driver_managed: None,
                merge: false,
            }
        });
    }

    #[test]
    fn every_form_parses_and_round_trips_through_display() {
        let lines = [
            "hotplug add a0000000 128M",
            "hotplug add a0000000 128M --nid 2 --driver-managed \"System RAM (kmem)\" --merge",
            "hotplug remove 110000000 128M",
            "memory online a0000000",
            "memory online a0000000 256M --zone movable",
            "memory online memory20 --zone normal",
            "memory offline memory20",
            "memory offline a0000000-a7ffffff",
            "request c1000000 4K \"my dev\"",
            "release c1000000 4K",
            "request-resource 100000000 1G extra",
            "insert f0000 64K Reserved --expand",
            "remove-resource f0000-fffff",
            "release-resource a0000000 256M",
            "adjust c1000000 4K c1000000-c1001fff",
            "intersects a0000000 128M --flags SYSTEM_RAM --desc PERSISTENT_MEMORY_LEGACY",
            "free-region 1G \"device private\" --bottom-up",
            "dax kmem dax0.0",
            "dax devdax dax0.0",
            "show",
            "show a0000000",
            "show System RAM",
            "show \"Persistent Memory (legacy)\"",
            "find a0001000",
            "blocks",
            "diff",
            "diff 2",
            "undo",
            "redo",
            "reset",
            "kernel 5.0",
            "explain hotplug add a0000000 128M",
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
        assert_eq!(ok("exit"), Command::Quit);
        assert_eq!(
            ok("show System RAM"),
            Command::Show {
                target: Some(ShowTarget::Name("System RAM".into()))
            }
        );
        assert_eq!(
            ok("memory online memory21"),
            Command::MemoryOnline {
                target: MemTarget::Block(21),
                zone: None
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
    }

    #[test]
    fn errors_name_the_word() {
        let e = err("hotplug add a0000000 12Q");
        assert_eq!((e.index, e.word.as_str()), (3, "12Q"));
        assert!(e.expected.contains("size"), "{}", e.expected);
        let shown = e.to_string();
        let caret = format!(
            "  hotplug add a0000000 12Q\n  {}^^^",
            " ".repeat("hotplug add a0000000 ".len())
        );
        assert!(shown.ends_with(&caret), "{shown}");

        let e = err("hotplug add a0000000");
        assert_eq!((e.index, e.word.as_str()), (3, ""));
        assert!(e.expected.contains("missing SIZE"), "{}", e.expected);

        let e = err("hotplug add zz 128M");
        assert_eq!((e.index, e.word.as_str()), (2, "zz"));

        let e = err("hotplug ad a0000000 128M");
        assert_eq!(e.index, 1);
        assert!(e.expected.contains("add, remove"), "{}", e.expected);

        let e = err("hotplg add a0000000 128M");
        assert_eq!(e.index, 0);
        assert!(
            e.expected.contains("did you mean `hotplug`"),
            "{}",
            e.expected
        );

        let e = err("hotplug add a0000000 128M --node 1");
        assert_eq!((e.index, e.word.as_str()), (4, "--node"));
        assert!(e.expected.contains("--nid"), "{}", e.expected);

        let e = err("hotplug add a0000000 128M --nid");
        assert!(e.expected.contains("needs a value"));
        let e = err("hotplug add a0000000 128M --nid x");
        assert_eq!((e.index, e.word.as_str()), (5, "x"));

        let e = err("request c1000000 4K my dev");
        assert_eq!((e.index, e.word.as_str()), (4, "dev"));
        assert!(e.expected.contains("quoted"));

        let e = err("request c1000000 4K \"my dev");
        assert!(e.expected.contains("unterminated"));

        let e = err("hotplug remove a7ffffff-a0000000");
        assert!(e.expected.contains("below START"));

        let e = err("memory online memoryX");
        assert_eq!(e.word, "memoryX");
        let e = err("memory online memory20 --zone dma");
        assert_eq!(e.word, "dma");

        let e = err("kernel five");
        assert_eq!(e.word, "five");
        let e = err("diff x");
        assert_eq!(e.word, "x");
        let e = err("undo 2");
        assert_eq!(e.word, "2");
        let e = err("explain show");
        assert_eq!(e.index, 1);
        let e = err("explain");
        assert!(e.expected.contains("missing"));
        let e = err("intersects 0 4K --desc WHAT");
        assert_eq!(e.word, "WHAT");
        let e = err("insert 0 4K x --expand=yes");
        assert!(e.expected.contains("takes no value"));
        let e = err("blocks --all");
        assert!(e.expected.contains("takes no options"));
        let e = err("");
        assert!(e.expected.contains("missing command"));
        let e = err("hotplug add 0-ffffffffffffffff");
        assert!(e.expected.contains("2^64"));
        let e = err("hotplug add a0000000 4096");
        assert!(e.expected.contains("ambiguous"));
    }

    #[test]
    fn caret_counts_characters_not_bytes() {
        let e = err("request 0 4K \"é\" extra");
        assert_eq!(e.word, "extra");
        let shown = e.to_string();
        let mut lines = shown.lines().rev();
        let caret = lines.next().unwrap();
        let line = lines.next().unwrap();
        assert_eq!(
            caret.find('^'),
            Some(line.chars().position(|c| c == 'x').unwrap() - 1)
        );
    }

    #[test]
    fn script_lines_and_args() {
        assert_eq!(parse_script_line("   # comment"), Ok(None));
        assert_eq!(parse_script_line(""), Ok(None));
        assert_eq!(parse_script_line("undo"), Ok(Some(Command::Undo)));
        let args: Vec<String> = ["request", "c1000000", "4K", "my dev"]
            .iter()
            .map(|s| s.to_string())
            .collect();
        assert_eq!(
            parse_args(&args),
            Ok(Command::Request {
                span: Span {
                    start: 0xc1000000,
                    size: 4096
                },
                name: "my dev".into()
            })
        );
        let args: Vec<String> = ["request", "c1000000", "4K", "it's #1"]
            .iter()
            .map(|s| s.to_string())
            .collect();
        assert!(
            matches!(parse_args(&args), Ok(Command::Request { name, .. }) if name == "it's #1")
        );
    }

    #[test]
    fn help_covers_every_command_word_and_examples_parse() {
        for w in COMMAND_WORDS {
            assert!(!help_for(w).is_empty(), "no help for {w}");
        }
        for h in HELP {
            ok(h.example);
        }
        assert!(help_text(Some("hotplug")).contains("hotplug remove"));
        assert!(help_text(None).contains("dax kmem DEV"));
    }

    #[test]
    fn size_words() {
        assert_eq!(fmt_size_word(M128), "128M");
        assert_eq!(fmt_size_word(0x1234), "0x1234");
        assert_eq!(fmt_size_word(1 << 30), "1G");
        assert_eq!(fmt_size_word(0), "0");
    }
}
