//! Text → resources: the nom parser for `/proc/iomem` and `/proc/ioports` dumps (issue 2).
//!
//! The kernel prints each resource as `<indent><start>-<end> : <name>\n` (`r_show` in
//! `kernel/resource.c`, kernel-semantics.md §1.3): 2 spaces per level of depth, capped at
//! `MAX_IORES_LEVEL` = 5 (10 spaces), lowercase hex zero-padded to a *minimum* width of 8 (4 when
//! the root ends below 0x10000, i.e. x86 `/proc/ioports`), the name verbatim.
//!
//! We parse bytes, one line at a time, with an all-consuming per-line nom grammar; the line
//! number is the line's index + 1 and the column is the consumed length + 1, so errors point
//! exactly at the spot without any located-span machinery. Names are kept as bytes so that
//! control bytes and non-UTF-8 survive a round trip.
//!
//! ## Nesting
//! Depth comes from indentation. Lines at the capped depth (10 spaces) are ambiguous: the
//! kernel prints depth 5, 6, 7, … all with 10 spaces, so such a line is attached to the most
//! recent 8- or 10-space line whose range contains it (kernel-semantics.md §1.4). A line indented
//! more than one level deeper than the line before it is an error.
//!
//! ## Normalizations (all of them make `render_iomem` differ from the input)
//! Real copies of dumps pass through mail, web pages and editors. We accept, and list in
//! [`Dump::normalizations`]:
//! - CRLF line ends on every line (rendered as LF; a `\r` ending only some lines is kept as
//!   part of the name);
//! - a missing final newline (rendered with one);
//! - blank lines, trailing or in between (dropped);
//! - a uniform extra indentation of every line (an excerpt that starts below top level, or a
//!   quote prefix of spaces): removed;
//! - 3-space (or 4-space) indentation instead of the kernel's 2: re-indented;
//! - an indented line with no enclosing line above it (an excerpt): placed at top level;
//! - a line indented more than the kernel's 5 levels (never printed by `r_show`): read at the
//!   capped depth, nested by containment like every 10-space line, printed with 10 spaces;
//! - uppercase hex digits, or zero-padding other than the kernel's: printed the kernel's way;
//! - a line ending in ` :` (the trailing space of an empty name stripped by an editor): printed
//!   as ` : `.
//!
//! A dump read without `CAP_SYS_ADMIN` shows every address as 0 (since v4.15); it still loads,
//! with [`Tree::zeroed`] set and a [`ParseWarning::Zeroed`] that says how to get a real one.

use std::fmt;

use nom::bytes::complete::{take, take_while, take_while1};
use nom::combinator::verify;
use nom::{IResult, Parser};

use crate::tree::{Desc, NodeId, RootKind, Tree};

/// `MAX_IORES_LEVEL` in `kernel/resource.c`: deeper nodes print with this many levels of indent.
pub const MAX_IORES_LEVEL: usize = 5;

/// A parsed dump: the tree plus what we noticed on the way.
#[derive(Debug, Clone)]
pub struct Dump {
    pub tree: Tree,
    /// Things the user should know (zeroed dump, lines placed by guesswork).
    pub warnings: Vec<ParseWarning>,
    /// Differences between the input and what `render_iomem` will print for it (see the module
    /// doc). Empty means the render is byte-identical to the input.
    pub normalizations: Vec<String>,
    /// Minimum hex width seen in the text (4 or 8), which decided the root for ioports.
    pub hex_width: usize,
    /// Number of resource lines.
    pub lines: usize,
}

/// Something odd but loadable.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ParseWarning {
    /// Every address is 0: the dump was read without `CAP_SYS_ADMIN`.
    Zeroed { kind: RootKind },
    /// An indented line with no line above it that could be its parent (an excerpt).
    NoParent { line: u32, indent: usize },
    /// A 10-space line (depth ≥ 5) that no candidate parent contains: attached to the nearest
    /// 8-space line anyway.
    DeepUncontained { line: u32 },
}

impl fmt::Display for ParseWarning {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ParseWarning::Zeroed { kind } => {
                let file = match kind {
                    RootKind::Iomem => "/proc/iomem",
                    RootKind::Ioport => "/proc/ioports",
                };
                write!(
                    f,
                    "every address in this dump is 0: it was read without root (CAP_SYS_ADMIN), \
                     so the kernel hid the addresses. The structure is shown, but nothing that \
                     needs addresses can work. Read a real one with `sudo cat {file}`"
                )
            }
            ParseWarning::NoParent { line, indent } => write!(
                f,
                "line {line}: indented {indent} spaces but no line above it encloses it \
                 (an excerpt?); placed at top level"
            ),
            ParseWarning::DeepUncontained { line } => write!(
                f,
                "line {line}: printed at the kernel's maximum indentation but no line above \
                 contains its range; attached to the nearest 8-space line"
            ),
        }
    }
}

/// What went wrong on a line.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ParseErrorKind {
    Empty,
    BadIndent,
    ExpectedHex,
    TooManyDigits,
    ExpectedDash,
    ExpectedSeparator,
    StartAfterEnd,
    DepthJump,
}

/// A malformed dump. Display quotes the line with a caret under the spot.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{}", self.render())]
pub struct ParseError {
    pub kind: ParseErrorKind,
    /// 1-based line number.
    pub line: u32,
    /// 1-based byte column.
    pub column: u32,
    /// The offending line, made printable (control and non-UTF-8 bytes escaped) and cut to a
    /// window around the column when it is long.
    pub text: String,
    /// Position of the caret in `text`, in characters.
    pub caret: usize,
    /// What was expected there, and what was found.
    pub expected: String,
}

impl ParseError {
    fn new(kind: ParseErrorKind, line: u32, raw: &[u8], col0: usize, expected: String) -> Self {
        let (text, caret) = excerpt(raw, col0);
        ParseError {
            kind,
            line,
            column: col0.saturating_add(1).min(u32::MAX as usize) as u32,
            text,
            caret,
            expected,
        }
    }

    fn render(&self) -> String {
        let num = self.line.to_string();
        let pad = " ".repeat(num.len());
        format!(
            "line {}, column {}: {}\n{pad} |\n{num} | {}\n{pad} | {}^",
            self.line,
            self.column,
            self.expected,
            self.text,
            " ".repeat(self.caret)
        )
    }
}

/// Printable window of `raw` around byte `col0` and the caret position inside it.
fn excerpt(raw: &[u8], col0: usize) -> (String, usize) {
    const BEFORE: usize = 40;
    const AFTER: usize = 40;
    let from = col0.saturating_sub(BEFORE);
    let to = col0.saturating_add(AFTER).min(raw.len());
    let mut s = String::new();
    let mut caret = 0;
    if from > 0 {
        s.push('…');
        caret += 1;
    }
    for (i, &b) in raw.get(from..to).unwrap_or(&[]).iter().enumerate() {
        let piece = printable(b);
        if from + i < col0 {
            caret += piece.chars().count();
        }
        s.push_str(&piece);
    }
    if to < raw.len() {
        s.push('…');
    }
    (s, caret)
}

fn printable(b: u8) -> String {
    match b {
        b'\t' => "\\t".to_string(),
        0x20..=0x7e => (b as char).to_string(),
        _ => format!("\\x{b:02x}"),
    }
}

fn found(rest: &[u8]) -> String {
    match rest.first() {
        None => "end of line".to_string(),
        Some(&b) => format!("`{}`", printable(b)),
    }
}

// ------------------------------------------------------------------------ the line grammar

fn spaces(i: &[u8]) -> IResult<&[u8], &[u8]> {
    take_while(|c| c == b' ').parse(i)
}

fn hex_digits(i: &[u8]) -> IResult<&[u8], &[u8]> {
    take_while1(|c: u8| c.is_ascii_hexdigit()).parse(i)
}

// `-` and ` : ` as a `take` of their length and one comparison: `tag` compares byte by byte
// through its generic `Compare`, a twelfth of the parser's instructions (issue 12).
fn dash(i: &[u8]) -> IResult<&[u8], &[u8]> {
    verify(take(1usize), |s: &[u8]| s == b"-").parse(i)
}

fn separator(i: &[u8]) -> IResult<&[u8], &[u8]> {
    verify(take(3usize), |s: &[u8]| s == b" : ").parse(i)
}

/// One parsed line (before nesting).
#[derive(Debug, Clone, PartialEq, Eq)]
struct Line<'a> {
    indent: usize,
    start: u64,
    end: u64,
    name: &'a [u8],
    /// Digits as printed, for the width rules.
    start_digits: usize,
    end_digits: usize,
    uppercase: bool,
    /// The line ended in ` :` with nothing after it.
    bare_colon: bool,
}

/// A parsed line, by position in the input (no per-line allocation).
struct Rec {
    line: u32,
    indent: u32,
    start: u64,
    end: u64,
    line_off: usize,
    line_len: usize,
    name_len: usize,
    digits: (u8, u8),
    /// The line ended in `\r` (stripped before parsing).
    cr: bool,
}

/// Where a line failed: 0-based column, kind, message.
type LineErr = (usize, ParseErrorKind, String);

/// Hex digit values for [`hex_value`]: `0..=15`, `| 0x10` for an uppercase letter, `0xff` for
/// a byte that is not a hex digit (the same set as `u8::is_ascii_hexdigit`).
static HEX: [u8; 256] = {
    let mut t = [0xffu8; 256];
    let mut i = 0;
    while i < 10 {
        t[b'0' as usize + i] = i as u8;
        i += 1;
    }
    let mut i = 0;
    while i < 6 {
        t[b'a' as usize + i] = 10 + i as u8;
        t[b'A' as usize + i] = 0x10 | (10 + i as u8);
        i += 1;
    }
    t
};

/// The value of 8 ASCII bytes (the first in the low byte) that are all `0-9a-f`, else `None`:
/// in the word's lanes, without a lookup or a branch per byte (issue 12: 8 table lookups were
/// 43 instructions an address). A byte's nibble is its low 4 bits, plus 9 for a letter (bit 6:
/// `a` is 0x61); it is a digit of the set exactly when the nibble is below 16 and printing it
/// back (`0` + n, or `a` + n − 10) gives the byte again.
#[inline(always)]
fn eight_lowercase_hex_digits(x: u64) -> Option<u64> {
    const LO: u64 = 0x0101_0101_0101_0101;
    let nib = (x & (0x0f * LO)) + ((x >> 6) & LO) * 9;
    // Lanes are at most 24 and never carry: 24 + 0x76 and 24 + 0x57 fit in a byte.
    let letter = ((nib + 0x76 * LO) >> 7) & LO;
    let printed = nib + 0x30 * LO + letter * 0x27;
    let wide = (nib + 0x70 * LO) & (0x80 * LO);
    if printed != x || wide != 0 {
        return None;
    }
    // Pack the lanes' nibbles, the first byte's as the most significant.
    let t = nib.swap_bytes();
    let t = (t | (t >> 4)) & 0x00ff_00ff_00ff_00ff;
    let t = (t | (t >> 8)) & 0x0000_ffff_0000_ffff;
    Some((t | (t >> 16)) & 0xffff_ffff)
}

/// The hex number at the start of `i` (a suffix of `line`): value, digits, any uppercase.
/// The first 8 lowercase digits in a word's lanes ([`eight_lowercase_hex_digits`]), then one
/// table lookup per digit, each read once (issue 12: this was a sixth of a dump's load time
/// as nom's `take_while1` followed by a second loop).
#[inline(always)]
fn hex_value(line: &[u8], i: &[u8], what: &str) -> Result<(u64, usize, bool), LineErr> {
    let mut v: u64 = 0;
    let mut n = 0usize;
    let mut upper = 0u8;
    // `r_show` pads to at least 8 digits: take 8 lowercase digits in one go, without a
    // branch per digit (issue 12: the digit loop was a sixth of the parser's instructions).
    // Anything else in the first 8 bytes (uppercase, the `-`, the end) is the loop's.
    if let Some(x) = i
        .first_chunk::<8>()
        .and_then(|c| eight_lowercase_hex_digits(u64::from_le_bytes(*c)))
    {
        v = x;
        n = 8;
    }
    while let Some(&d) = i.get(n) {
        let x = HEX[d as usize];
        if x == 0xff {
            break;
        }
        // Past 16 digits the high ones fall off; that is an error below anyway.
        v = (v << 4) | u64::from(x & 0xf);
        upper |= x;
        n += 1;
    }
    if n == 0 || n > 16 {
        return Err(hex_error(line, i, what));
    }
    Ok((v, n, upper & 0x10 != 0))
}

/// Why [`hex_value`] refused `i`: no digit, or more than 16 (checked by the nom grammar).
#[cold]
fn hex_error(line: &[u8], i: &[u8], what: &str) -> LineErr {
    let col = line.len() - i.len();
    match hex_digits(i) {
        Ok((_, digits)) => (
            col + 16,
            ParseErrorKind::TooManyDigits,
            format!(
                "the {what} address has {} hex digits; at most 16 fit in 64 bits",
                digits.len()
            ),
        ),
        Err(_) => {
            let extra = if i.first() == Some(&b'\t') {
                " (/proc/iomem indents with spaces, not tabs)"
            } else {
                ""
            };
            (
                col,
                ParseErrorKind::ExpectedHex,
                format!("expected a hex {what} address, found {}{extra}", found(i)),
            )
        }
    }
}

/// Would [`parse_dump`] accept this line on its own (blank, or one resource line; one
/// trailing `\r` stripped as the parser does)? The incremental reader (`crate::input`) stops
/// at the first line that is not, so `-i /dev/urandom` ends at its first line instead of
/// reading forever; the parser then reports that line as usual.
pub fn line_is_ok(line: &[u8]) -> bool {
    let line = line.strip_suffix(b"\r").unwrap_or(line);
    line.iter().all(|&b| b == b' ') || parse_line(line).is_ok()
}

/// `<indent><start>-<end> : <name>` — the whole line, nothing left over.
#[inline]
fn parse_line(line: &[u8]) -> Result<Line<'_>, LineErr> {
    let h = line_head(line)?;
    Ok(h.line(line.get(h.name_at..).unwrap_or_default()))
}

/// [`parse_line`] of the line at the start of `text` (a suffix of the input, the lines after it
/// included), and the line's length up to its LF or the end: the fast path's one read of a
/// line, which finds the LF in the name alone instead of searching the whole line first.
#[inline]
fn parse_line_in(text: &[u8]) -> Result<(Line<'_>, usize), LineErr> {
    let h = line_head(text)?;
    let from = text.get(h.name_at..).unwrap_or_default();
    let n = find_lf(from).unwrap_or(from.len());
    Ok((h.line(from.get(..n).unwrap_or_default()), h.name_at + n))
}

/// Everything of a line before its name, and where the name begins.
#[derive(Clone, Copy)]
struct Head {
    indent: usize,
    start: u64,
    end: u64,
    start_digits: usize,
    end_digits: usize,
    uppercase: bool,
    bare_colon: bool,
    name_at: usize,
}

impl Head {
    fn line(self, name: &[u8]) -> Line<'_> {
        Line {
            indent: self.indent,
            start: self.start,
            end: self.end,
            name,
            start_digits: self.start_digits,
            end_digits: self.end_digits,
            uppercase: self.uppercase,
            bare_colon: self.bare_colon,
        }
    }
}

/// The grammar of a line up to its name: `<indent><start>-<end> : `, or the bare ` :` that
/// ends a line. `line` may go on past its LF (none of these bytes is an LF, so each part
/// stops where it would at the line's end); error columns count from its start.
#[inline]
fn line_head(line: &[u8]) -> Result<Head, LineErr> {
    let (i, ind) = spaces(line).unwrap_or((line, &[]));
    let indent = ind.len();
    let (start, start_digits, up1) = hex_value(line, i, "start")?;
    let i = &i[start_digits..];
    let i = match dash(i) {
        Ok((rest, _)) => rest,
        Err(_) => {
            return Err((
                line.len() - i.len(),
                ParseErrorKind::ExpectedDash,
                format!(
                    "expected a hex digit or `-` after the start address, found {}",
                    found(i)
                ),
            ));
        }
    };
    let (end, end_digits, up2) = hex_value(line, i, "end")?;
    let i = &i[end_digits..];
    let (name, bare_colon) = match separator(i) {
        Ok((rest, _)) => (rest, false),
        Err(_) if i.starts_with(b" :") && matches!(i.get(2), None | Some(b'\n')) => (&i[2..], true),
        Err(_) => {
            return Err((
                line.len() - i.len(),
                ParseErrorKind::ExpectedSeparator,
                format!(
                    "expected a hex digit or ` : ` after the end address, found {}",
                    found(i)
                ),
            ));
        }
    };
    if start > end {
        return Err((
            indent,
            ParseErrorKind::StartAfterEnd,
            format!("start {start:x} is above end {end:x} (the end is inclusive)"),
        ));
    }
    Ok(Head {
        indent,
        start,
        end,
        start_digits,
        end_digits,
        uppercase: up1 || up2,
        bare_colon,
        name_at: line.len() - name.len(),
    })
}

/// Offset of the first LF in `s`, a word at a time for the first 32 bytes, then `memchr`. A
/// name is about 15 bytes: a `memchr` call's setup (dispatch, alignment) cost more than its
/// search, 74 instructions a line against about 20 here (issue 12, callgrind).
#[inline]
fn find_lf(s: &[u8]) -> Option<usize> {
    const LO: u64 = 0x0101_0101_0101_0101;
    const HI: u64 = 0x8080_8080_8080_8080;
    const LF: u64 = LO * b'\n' as u64;
    let mut off = 0;
    while off < 32 {
        let Some(w) = s.get(off..).and_then(|t| t.first_chunk::<8>()) else {
            return s
                .get(off..)?
                .iter()
                .position(|&b| b == b'\n')
                .map(|p| off + p);
        };
        // A zero byte of `x` is an LF of `w`; the lowest set bit marks the first one (a
        // borrow can only mark bytes above a zero).
        let x = u64::from_le_bytes(*w) ^ LF;
        let hit = x.wrapping_sub(LO) & !x & HI;
        if hit != 0 {
            return Some(off + (hit.trailing_zeros() / 8) as usize);
        }
        off += 8;
    }
    memchr::memchr(b'\n', s.get(off..)?).map(|p| off + p)
}

fn hex_len(v: u64) -> usize {
    (((64 - v.leading_zeros()) as usize).div_ceil(4)).max(1)
}

fn gcd(a: usize, b: usize) -> usize {
    if b == 0 { a } else { gcd(b, a % b) }
}

// ------------------------------------------------------------------------ the public entry

/// Parse a `/proc/iomem` or `/proc/ioports` dump.
///
/// `hint` names the root when the caller knows it (a file called `ioports`); otherwise a dump
/// printed with 4-digit addresses is an x86 `/proc/ioports` (`ioport_resource`, `[0, 0xffff]`)
/// and anything else `/proc/iomem` (`iomem_resource`, `[0, u64::MAX]`). Flags and desc are
/// inferred from names ([`crate::infer::infer_flags`]).
///
/// An empty dump is an error for iomem (every machine has System RAM) but a valid, empty tree
/// for ioports (arm boards without port I/O print nothing).
pub fn parse_dump(input: &[u8], hint: Option<RootKind>) -> Result<Dump, ParseError> {
    match parse_kernel_printed(input, hint) {
        Some(d) => Ok(d),
        None => parse_general(input, hint),
    }
}

/// [`parse_dump`] without its fast path: the general parser alone. For differential tests and
/// the `parse_dump` fuzz target, which check that the fast path never changes an answer.
#[doc(hidden)]
pub fn parse_dump_general(input: &[u8], hint: Option<RootKind>) -> Result<Dump, ParseError> {
    parse_general(input, hint)
}

/// Every dump: blank lines, CRLF, any indentation unit and base, errors. Three passes over a
/// per-line record vector; [`parse_kernel_printed`] is the one-pass fast path for dumps as the
/// kernel prints them, and gives up (to this function) on anything else.
fn parse_general(input: &[u8], hint: Option<RootKind>) -> Result<Dump, ParseError> {
    // Pass 1: split lines, parse each one, collect the global facts.
    let est_lines = input.len() / 32 + 1;
    let mut recs: Vec<Rec> = Vec::with_capacity(est_lines);
    let mut crlf = 0usize;
    let mut cr_in_name = false;
    let mut blank_inside = 0usize;
    let mut blank_pending = 0usize;
    let mut uppercase = 0usize;
    let mut bare_colons = 0usize;
    let mut min_digits = usize::MAX;
    let mut max_digits = 0usize;
    let mut all_zero = true;
    let mut max_end = 0u64;
    let mut pos = 0usize;
    let mut lineno: u32 = 0;
    while pos < input.len() {
        lineno = lineno.saturating_add(1);
        let rest = &input[pos..];
        let (mut line, next) = match rest.iter().position(|&b| b == b'\n') {
            Some(n) => (&rest[..n], pos + n + 1),
            None => (rest, input.len()),
        };
        let line_off = pos;
        pos = next;
        let mut cr = false;
        if let [head @ .., b'\r'] = line {
            line = head;
            cr = true;
        }
        if line.iter().all(|&b| b == b' ') {
            blank_pending += 1;
            continue;
        }
        if !recs.is_empty() {
            blank_inside += blank_pending;
        }
        blank_pending = 0;
        let l = parse_line(line)
            .map_err(|(col, kind, msg)| ParseError::new(kind, lineno, line, col, msg))?;
        uppercase += usize::from(l.uppercase);
        bare_colons += usize::from(l.bare_colon);
        min_digits = min_digits.min(l.start_digits).min(l.end_digits);
        max_digits = max_digits.max(l.start_digits).max(l.end_digits);
        all_zero &= l.start == 0 && l.end == 0;
        max_end = max_end.max(l.end);
        crlf += usize::from(cr);
        // A name that would still end in `\r` after stripping one (`a\r\r\n`) means the
        // `\r`s are the name's own: printing it with LF then reads back as CRLF again and
        // loses one more (found by fuzzing). Such a file is not treated as CRLF.
        cr_in_name |= cr && l.name.last() == Some(&b'\r');
        recs.push(Rec {
            cr,
            line: lineno,
            indent: l.indent as u32,
            start: l.start,
            end: l.end,
            line_off,
            line_len: line.len(),
            name_len: l.name.len(),
            digits: (l.start_digits as u8, l.end_digits as u8),
        });
    }
    let trailing_blank = blank_pending;
    // CRLF only when every resource line has it (a file that went through Windows); a lone
    // `\r` before the newline is part of that line's name and is kept.
    let crlf_file = crlf > 0 && crlf == recs.len() && !cr_in_name;

    if recs.is_empty() && hint != Some(RootKind::Ioport) {
        return Err(ParseError::new(
            ParseErrorKind::Empty,
            1,
            b"",
            0,
            "expected a resource line `<start>-<end> : <name>`, found an empty dump \
             (/proc/iomem always lists at least System RAM)"
                .to_string(),
        ));
    }

    // Which root, and the minimum hex width `r_show` used.
    let looks_ioports = min_digits == 4 && max_digits == 4;
    let (kind, width) = match hint {
        Some(RootKind::Iomem) => (RootKind::Iomem, 8),
        Some(RootKind::Ioport) if recs.is_empty() || min_digits < 8 => (RootKind::Ioport, 4),
        Some(RootKind::Ioport) => (RootKind::Ioport, 8),
        None if looks_ioports => (RootKind::Ioport, 4),
        None => (RootKind::Iomem, 8),
    };
    let root_end = match (kind, width) {
        (RootKind::Iomem, _) => u64::MAX,
        (RootKind::Ioport, 4) => 0xffff,
        // arm64's IO_SPACE_LIMIT; anything wider keeps the whole range.
        (RootKind::Ioport, _) if max_end <= 0xff_ffff => 0xff_ffff,
        (RootKind::Ioport, _) => u64::MAX,
    };
    let mut tree = Tree::new(kind, root_end);
    let width = tree.hex_width();
    tree.reserve(recs.len() + 1, input.len());

    // Pass 2: indentation unit and base.
    let base = recs.iter().map(|r| r.indent).min().unwrap_or(0);
    let unit_gcd = recs
        .iter()
        .map(|r| (r.indent - base) as usize)
        .fold(0, |g, x| if x == 0 { g } else { gcd(g, x) });
    let unit = match unit_gcd {
        3 | 9 => 3,
        4 | 8 => 4,
        _ => 2,
    };

    // Digits printed the kernel's way? (minimum width, every longer value in full)
    let mut odd_width = 0usize;

    // Pass 3: nodes and nesting.
    let mut warnings = Vec::new();
    let mut parents: Vec<u32> = Vec::with_capacity(recs.len());
    // Open ancestors: (level, node).
    let mut stack: Vec<(usize, NodeId)> = Vec::new();
    let mut no_parent_lines = 0usize;
    let mut too_deep = 0usize;
    for (idx, r) in recs.iter().enumerate() {
        let (ln, ind, start, end) = (r.line, r.indent, r.start, r.end);
        let rel = (ind - base) as usize;
        let line_text = input
            .get(r.line_off..r.line_off + r.line_len)
            .unwrap_or(&[]);
        if !rel.is_multiple_of(unit) {
            return Err(ParseError::new(
                ParseErrorKind::BadIndent,
                ln,
                line_text,
                ind as usize,
                format!(
                    "indentation of {rel} space(s) is not a multiple of {unit} (the kernel \
                     indents 2 spaces per level)"
                ),
            ));
        }
        // The kernel never prints more than MAX_IORES_LEVEL levels of indent; a deeper line
        // (hand-edited, or re-indented) is read as the capped depth it would print at, so that
        // it nests the way its rendering will parse back.
        let level = rel / unit;
        too_deep += usize::from(level > MAX_IORES_LEVEL);
        let level = level.min(MAX_IORES_LEVEL);
        let keep_cr = usize::from(r.cr && !crlf_file);
        let name = input
            .get(r.line_off + r.line_len - r.name_len..r.line_off + r.line_len + keep_cr)
            .unwrap_or(&[]);
        // Each line's name is its own (no de-duplication lookup per line).
        let name = tree.intern(name);
        let id = tree.alloc_named(start, end, name, 0, Desc::None);
        tree.get_mut(id).set_line(Some(ln));
        debug_assert_eq!(id.0 as usize, idx + 1);
        let (sd, ed) = (usize::from(r.digits.0), usize::from(r.digits.1));
        if sd != width.max(hex_len(start)) || ed != width.max(hex_len(end)) {
            odd_width += 1;
        }

        let parent = if level == MAX_IORES_LEVEL {
            // Depth ≥ 5 all print with 10 spaces: attach by containment to the most recent
            // 8- or 10-space line (kernel-semantics.md §1.4).
            match stack.last() {
                Some(&(l, _)) if l + 1 < MAX_IORES_LEVEL => {
                    return Err(depth_jump(ln, line_text, ind, l, rel / unit, unit));
                }
                None => None,
                Some(_) => {
                    while let Some(&(l, p)) = stack.last() {
                        if l == MAX_IORES_LEVEL && !tree.get(p).contains(start, end) {
                            stack.pop();
                        } else {
                            break;
                        }
                    }
                    match stack.last() {
                        Some(&(_, p)) => {
                            if !tree.get(p).contains(start, end) {
                                warnings.push(ParseWarning::DeepUncontained { line: ln });
                            }
                            Some(p)
                        }
                        None => None,
                    }
                }
            }
        } else {
            while stack.last().is_some_and(|&(l, _)| l >= level) {
                stack.pop();
            }
            match stack.last() {
                Some(&(l, _)) if level > l + 1 => {
                    return Err(depth_jump(ln, line_text, ind, l, level, unit));
                }
                Some(&(_, p)) => Some(p),
                None => None,
            }
        };
        let parent = match parent {
            Some(p) => p,
            None => {
                if level > 0 {
                    no_parent_lines += 1;
                    warnings.push(ParseWarning::NoParent {
                        line: ln,
                        indent: ind as usize,
                    });
                }
                Tree::ROOT
            }
        };
        parents.push(parent.0);
        stack.push((level, id));
    }

    link_in_dump_order(&mut tree, &parents);

    // Zeroed: the kernel hides addresses from readers without CAP_SYS_ADMIN (v4.15+).
    if all_zero && recs.len() > 1 {
        tree.zeroed = true;
        warnings.insert(0, ParseWarning::Zeroed { kind });
    }

    let normalizations = normalizations_of(&Facts {
        crlf: if crlf_file { crlf } else { 0 },
        final_newline: input.is_empty() || input.last() == Some(&b'\n'),
        blank_inside,
        trailing_blank,
        base,
        unit,
        no_parent_lines,
        too_deep,
        uppercase,
        odd_width,
        width,
        bare_colons,
    });

    crate::infer::infer_flags(&mut tree);
    Ok(Dump {
        tree,
        warnings,
        normalizations,
        hex_width: width,
        lines: recs.len(),
    })
}

/// The fast path of [`parse_dump`] for dumps printed the way the kernel prints them: one pass
/// straight into the arena, no per-line record: each line's row is pushed in pre-order below
/// its parent ([`Tree::push_dump_row`]), and each child list is left unbuilt until a change
/// below it builds it from the arena (reads, printing included, walk the arena).
///
/// It assumes what `r_show` output always satisfies — LF line ends, no blank lines, no
/// malformed line, top level at column 1, 2 spaces per level, and (without a hint) 8-digit
/// iomem addresses rather than 4-digit ioports — and returns `None` as soon as one of them
/// turns out false, so that [`parse_general`] parses the input from scratch: errors, warnings,
/// normalizations and the tree are always exactly the general parser's.
fn parse_kernel_printed(input: &[u8], hint: Option<RootKind>) -> Option<Dump> {
    if input.is_empty() {
        return None;
    }
    // A capacity hint, not a count (counting the lines cost a pass over the input): a
    // kernel-printed line is at least 22 bytes; capacity never touched costs no memory.
    let mut b = KernelPrinted::new(hint, input.len() / 22 + 1, input.len());
    let mut pos = 0usize;
    while pos < input.len() {
        let Ok((l, len)) = parse_line_in(input.get(pos..)?) else {
            return None;
        };
        if !b.take(l) {
            return None;
        }
        pos += len + 1;
    }
    b.finish(input.last() == Some(&b'\n'))
}

/// [`parse_dump`]'s fast path fed one line at a time, so that a dump read from a file need not
/// be held whole while its tree is built (issue 12: the input was 40 of the 180 bytes per
/// resource a million-line dump cost). Feed every line without its LF to [`KernelPrinted::line`]; when it answers
/// false, or [`KernelPrinted::finish`] answers `None`, the dump is not as the kernel prints it
/// and the caller parses the whole input with [`parse_dump`] instead. When it succeeds the
/// result is exactly `parse_dump`'s on the same bytes.
pub struct KernelPrinted {
    hint: Option<RootKind>,
    kind: RootKind,
    tree: Tree,
    warnings: Vec<ParseWarning>,
    /// Open ancestors: (level, node).
    stack: Vec<(usize, NodeId)>,
    ln: u32,
    count: usize,
    uppercase: usize,
    bare_colons: usize,
    min_digits: usize,
    max_digits: usize,
    all_zero: bool,
    max_end: u64,
    min_indent: usize,
    odd8: usize,
    odd4: usize,
    inference: crate::infer::DumpInference,
}

impl KernelPrinted {
    /// A builder for a dump of about `lines` lines and `bytes` bytes (capacity hints only).
    pub fn new(hint: Option<RootKind>, lines: usize, bytes: usize) -> KernelPrinted {
        let kind = match hint {
            Some(RootKind::Ioport) => RootKind::Ioport,
            _ => RootKind::Iomem,
        };
        // The ioports root's end depends on the digits seen: set at the end.
        let mut tree = Tree::new(kind, u64::MAX);
        tree.reserve_rows(lines + 1, bytes);
        KernelPrinted {
            hint,
            kind,
            tree,
            warnings: Vec::new(),
            stack: Vec::new(),
            ln: 0,
            count: 0,
            uppercase: 0,
            bare_colons: 0,
            min_digits: usize::MAX,
            max_digits: 0,
            all_zero: true,
            max_end: 0,
            min_indent: usize::MAX,
            odd8: 0,
            odd4: 0,
            inference: crate::infer::DumpInference::new(),
        }
    }

    /// Take the next line (without its LF). False: not a dump as the kernel prints it.
    #[inline]
    pub fn line(&mut self, line: &[u8]) -> bool {
        // The one line grammar (nom); anything it refuses, the general parser reports.
        parse_line(line).is_ok_and(|l| self.take(l))
    }

    /// Take the next line, parsed. False: not a dump as the kernel prints it.
    #[inline]
    fn take(&mut self, l: Line<'_>) -> bool {
        self.ln = self.ln.saturating_add(1);
        let ln = self.ln;
        let Line {
            indent,
            start,
            end,
            name,
            start_digits: sd,
            end_digits: ed,
            uppercase: up,
            bare_colon: bare,
        } = l;
        if name.last() == Some(&b'\r') || indent % 2 != 0 {
            return false;
        }

        self.count += 1;
        self.uppercase += usize::from(up);
        self.bare_colons += usize::from(bare);
        self.min_digits = self.min_digits.min(sd).min(ed);
        self.max_digits = self.max_digits.max(sd).max(ed);
        self.all_zero &= start == 0 && end == 0;
        self.max_end = self.max_end.max(end);
        self.min_indent = self.min_indent.min(indent);
        let (sl, el) = (hex_len(start), hex_len(end));
        self.odd8 += usize::from(sd != sl.max(8) || ed != el.max(8));
        self.odd4 += usize::from(sd != sl.max(4) || ed != el.max(4));

        let tree = &mut self.tree;
        let stack = &mut self.stack;

        // The nesting rules of `parse_general`, with unit 2 and base 0; the kernel never
        // prints deeper than the cap. A row is closed (its subtree complete) when it leaves
        // the stack, before the new row is pushed.
        let level = indent / 2;
        if level > MAX_IORES_LEVEL {
            return false;
        }
        let parent = if level == MAX_IORES_LEVEL {
            match stack.last() {
                Some(&(l, _)) if l + 1 < MAX_IORES_LEVEL => return false,
                None => None,
                Some(_) => {
                    while let Some(&(l, p)) = stack.last() {
                        if l == MAX_IORES_LEVEL && !tree.get(p).contains(start, end) {
                            stack.pop();
                            tree.close_dump_row(p);
                        } else {
                            break;
                        }
                    }
                    match stack.last() {
                        Some(&(_, p)) => {
                            if !tree.get(p).contains(start, end) {
                                self.warnings
                                    .push(ParseWarning::DeepUncontained { line: ln });
                            }
                            Some(p)
                        }
                        None => None,
                    }
                }
            }
        } else {
            while let Some(&(l, p)) = stack.last() {
                if l < level {
                    break;
                }
                stack.pop();
                tree.close_dump_row(p);
                if l == 0 {
                    // A top-level row ended: every row so far is closed.
                    self.inference.closed(tree);
                }
            }
            match stack.last() {
                Some(&(l, _)) if level > l + 1 => return false,
                Some(&(_, p)) => Some(p),
                None => None,
            }
        };
        let parent = match parent {
            Some(p) => p,
            // An indented line before the first top-level one: the kernel never prints it, and
            // the indentation unit is then the general parser's to decide (a first line
            // indented 4 makes it 4, not 2).
            None if level > 0 => return false,
            None => Tree::ROOT,
        };
        self.inference.saw(name);
        let name = tree.intern(name);
        let id = tree.push_dump_row(start, end, name, ln, parent);
        stack.push((level, id));
        true
    }

    /// The dump, once every line was taken; `final_newline`: the input ended in LF. `None`
    /// when the dump is not as the kernel prints it after all (no line, an indented top,
    /// 4-space indentation, ioports digits without a hint).
    pub fn finish(mut self, final_newline: bool) -> Option<Dump> {
        let tree = &mut self.tree;
        while let Some((_, p)) = self.stack.pop() {
            tree.close_dump_row(p);
        }
        // Every row was pushed as its line came: the arena is the tree in pre-order.
        tree.finish_dump_rows();

        // Assumptions the general parser would decide otherwise. (Its indentation unit is 2
        // here without a check: a line can only be one level below an open line, so an
        // indented dump starting at column 1 has a 2-space line, and 2 divides every indent.)
        let looks_ioports = self.min_digits == 4 && self.max_digits == 4;
        if self.count == 0 || self.min_indent != 0 || (self.hint.is_none() && looks_ioports) {
            return None;
        }

        // The root and minimum hex width, as `parse_general` decides them.
        let kind = self.kind;
        if kind == RootKind::Ioport {
            let root_end = if self.min_digits < 8 {
                0xffff
            } else if self.max_end <= 0xff_ffff {
                0xff_ffff
            } else {
                u64::MAX
            };
            tree.set_range(Tree::ROOT, 0, root_end);
        }
        let width = tree.hex_width();
        let mut warnings = self.warnings;
        if self.all_zero && self.count > 1 {
            tree.zeroed = true;
            warnings.insert(0, ParseWarning::Zeroed { kind });
        }
        let normalizations = normalizations_of(&Facts {
            crlf: 0,
            final_newline,
            blank_inside: 0,
            trailing_blank: 0,
            base: 0,
            unit: 2,
            no_parent_lines: 0,
            too_deep: 0,
            uppercase: self.uppercase,
            odd_width: if width == 4 { self.odd4 } else { self.odd8 },
            width,
            bare_colons: self.bare_colons,
        });
        self.inference.finish(tree);
        Some(Dump {
            tree: self.tree,
            warnings,
            normalizations,
            hex_width: width,
            lines: self.count,
        })
    }
}

/// What `parse_dump` noticed that makes the render differ from the input.
struct Facts {
    /// CRLF line ends stripped (0 when the file is not read as CRLF).
    crlf: usize,
    final_newline: bool,
    blank_inside: usize,
    trailing_blank: usize,
    base: u32,
    unit: usize,
    no_parent_lines: usize,
    /// Lines indented more than `MAX_IORES_LEVEL` levels (read and printed at the cap).
    too_deep: usize,
    uppercase: usize,
    odd_width: usize,
    width: usize,
    bare_colons: usize,
}

/// The normalization messages of [`Dump::normalizations`], in their fixed order.
fn normalizations_of(f: &Facts) -> Vec<String> {
    let mut out = Vec::new();
    if f.crlf > 0 {
        out.push(format!(
            "{} CRLF line end(s): printed as LF (the kernel writes LF)",
            f.crlf
        ));
    }
    if !f.final_newline {
        out.push("no newline at the end of the last line: printed with one".into());
    }
    if f.blank_inside > 0 {
        out.push(format!(
            "{} blank line(s) between resources: dropped",
            f.blank_inside
        ));
    }
    if f.trailing_blank > 0 {
        out.push(format!(
            "{} trailing blank line(s): dropped",
            f.trailing_blank
        ));
    }
    if f.base > 0 {
        out.push(format!(
            "every line is indented by {} extra space(s): removed (top level starts at \
             column 1)",
            f.base
        ));
    }
    if f.unit != 2 {
        out.push(format!(
            "indented {} spaces per level: printed with the kernel's 2",
            f.unit
        ));
    }
    if f.no_parent_lines > 0 {
        out.push(format!(
            "{} indented line(s) with nothing above to nest in: printed at top level",
            f.no_parent_lines
        ));
    }
    if f.too_deep > 0 {
        out.push(format!(
            "{} line(s) indented more than the kernel's {MAX_IORES_LEVEL} levels: read at the \
             capped depth (nested by containment) and printed with {} spaces",
            f.too_deep,
            2 * MAX_IORES_LEVEL
        ));
    }
    if f.uppercase > 0 {
        out.push(format!(
            "{} line(s) with uppercase hex digits: printed in lowercase",
            f.uppercase
        ));
    }
    if f.odd_width > 0 {
        out.push(format!(
            "{} line(s) whose addresses are not zero-padded to the kernel's minimum width of \
             {}: printed padded",
            f.odd_width, f.width
        ));
    }
    if f.bare_colons > 0 {
        out.push(format!(
            "{} line(s) ending in ` :` (the empty name's trailing space was stripped): printed \
             as ` : `",
            f.bare_colons
        ));
    }
    out
}

fn depth_jump(
    ln: u32,
    line: &[u8],
    ind: u32,
    prev: usize,
    level: usize,
    unit: usize,
) -> ParseError {
    ParseError::new(
        ParseErrorKind::DepthJump,
        ln,
        line,
        ind as usize,
        format!(
            "indentation jumps from depth {prev} to depth {level}: a line can be at most one \
             level ({unit} spaces) deeper than the line above it"
        ),
    )
}

/// Link node `i + 1` under `parents[i]`, each parent's children in dump order (a counting sort
/// by parent, then one `set_children` per parent, which also marks anomalous lists).
fn link_in_dump_order(tree: &mut Tree, parents: &[u32]) {
    let n = parents.len() + 1;
    let mut count = vec![0u32; n + 1];
    for &p in parents {
        count[p as usize + 1] += 1;
    }
    for i in 1..=n {
        count[i] += count[i - 1];
    }
    let mut fill = count.clone();
    let mut order = vec![NodeId(0); parents.len()];
    for (i, &p) in parents.iter().enumerate() {
        let slot = &mut fill[p as usize];
        order[*slot as usize] = NodeId(i as u32 + 1);
        *slot += 1;
    }
    for p in 0..n {
        let (a, b) = (count[p] as usize, count[p + 1] as usize);
        if a < b {
            tree.set_children(NodeId(p as u32), &order[a..b]);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::render::render_iomem;

    fn shape(d: &Dump) -> Vec<(usize, u64, u64, String)> {
        d.tree
            .walk(Tree::ROOT)
            .map(|(id, depth)| {
                let r = d.tree.get(id);
                (depth, r.start, r.end, d.tree.name_lossy(id).into_owned())
            })
            .collect()
    }

    fn err(input: &str) -> ParseError {
        parse_dump(input.as_bytes(), None).expect_err("should fail")
    }

    #[test]
    fn line_grammar() {
        let l = parse_line(b"  000f0000-000fffff : System ROM").unwrap();
        assert_eq!(
            (l.indent, l.start, l.end, l.name),
            (2, 0xf0000, 0xfffff, &b"System ROM"[..])
        );
        // The name is everything after the first ` : `, even more ` : ` and an empty name.
        let l = parse_line(b"0-1 : a : b").unwrap();
        assert_eq!(l.name, b"a : b");
        let l = parse_line(b"0-1 : ").unwrap();
        assert_eq!(l.name, b"");
        // 16 digits fit, 17 do not.
        assert_eq!(
            parse_line(b"ffffffffffffffff-ffffffffffffffff : x")
                .unwrap()
                .end,
            u64::MAX
        );
        let (col, kind, _) = parse_line(b"00000000000000000-1 : x").unwrap_err();
        assert_eq!((col, kind), (16, ParseErrorKind::TooManyDigits));
    }

    #[test]
    fn errors_point_at_the_spot() {
        let e = err("00000000-00000fff : Reserved\n00001000 0009fbff : System RAM\n");
        assert_eq!(
            (e.line, e.column, e.kind),
            (2, 9, ParseErrorKind::ExpectedDash)
        );
        let e = err("0000g000-00000fff : Reserved\n");
        assert_eq!(
            (e.line, e.column, e.kind),
            (1, 5, ParseErrorKind::ExpectedDash)
        );
        let e = err("00001000-00000fff : Reserved\n");
        assert_eq!(e.kind, ParseErrorKind::StartAfterEnd);
        let e = err("00000000-00000fff: Reserved\n");
        assert_eq!((e.column, e.kind), (18, ParseErrorKind::ExpectedSeparator));
        let e = err("\t00000000-00000fff : Reserved\n");
        assert!(e.expected.contains("tabs"), "{}", e.expected);
        assert_eq!(
            e.to_string(),
            "line 1, column 1: expected a hex start address, found `\\t` (/proc/iomem indents \
             with spaces, not tabs)\n  |\n1 | \\t00000000-00000fff : Reserved\n  | ^"
        );
    }

    #[test]
    fn depth_jump_is_an_error() {
        let e = err("00000000-ffffffff : a\n      00000000-0000ffff : b\n");
        assert_eq!((e.line, e.kind), (2, ParseErrorKind::DepthJump));
        // Going back up any number of levels is fine.
        let d = parse_dump(b"0-ff : a\n  0-f : b\n    0-1 : c\n10-1f : d\n", None).unwrap();
        assert_eq!(d.tree.len(), 4);
    }

    #[test]
    fn capped_depth_attaches_by_containment() {
        // L0 ⊃ … ⊃ L6 prints with 0,2,4,6,8,10,10 spaces (SC-25); a second 10-space line that
        // is not inside L6 but inside L5 is L6's sibling.
        let text = "00000000-ffffffff : L0\n  00000000-0fffffff : L1\n    00000000-00ffffff : L2\n      00000000-000fffff : L3\n        00000000-0000ffff : L4\n          00000000-00000fff : L5\n          00000000-000000ff : L6\n          00000800-00000fff : L7\n          00001000-00001fff : L8\n";
        let d = parse_dump(text.as_bytes(), None).unwrap();
        let depths: Vec<(usize, String)> =
            shape(&d).into_iter().map(|(dp, _, _, n)| (dp, n)).collect();
        let want = [
            (0, "L0"),
            (1, "L1"),
            (2, "L2"),
            (3, "L3"),
            (4, "L4"),
            (5, "L5"),
            (6, "L6"),
            (6, "L7"),
            (5, "L8"),
        ];
        assert_eq!(depths.len(), want.len());
        for ((gd, gn), (wd, wn)) in depths.iter().zip(want) {
            assert_eq!((*gd, gn.as_str()), (wd, wn));
        }
        assert_eq!(render_iomem(&d.tree), text.as_bytes());
        assert!(d.warnings.is_empty());
    }

    #[test]
    fn order_of_the_dump_is_kept() {
        let text = "0009ec00-0009ffff : Reserved\n00000000-00000000 : PCI Bus 0000:00\n000a0000-000fffff : Reserved\n";
        let d = parse_dump(text.as_bytes(), None).unwrap();
        assert_eq!(render_iomem(&d.tree), text.as_bytes());
        assert!(d.tree.is_unsorted(Tree::ROOT));
    }

    #[test]
    fn normalizations_are_reported() {
        let d = parse_dump(
            b"00000000-00000fff : a\r\n  00000000-000000ff : b\r\n\r\n",
            None,
        )
        .unwrap();
        assert_eq!(d.normalizations.len(), 2, "{:?}", d.normalizations);
        assert_eq!(
            render_iomem(&d.tree),
            b"00000000-00000fff : a\n  00000000-000000ff : b\n"
        );
        let d = parse_dump(b"00000000-00000fff : a\n   00000000-000000ff : b", None).unwrap();
        assert_eq!(d.normalizations.len(), 2, "{:?}", d.normalizations);
        assert_eq!(shape(&d)[1].0, 1);
        let d = parse_dump(b"  0-fff : a\n    0-FF :\n", None).unwrap();
        assert_eq!(
            render_iomem(&d.tree),
            b"00000000-00000fff : a\n  00000000-000000ff : \n"
        );
        assert_eq!(d.normalizations.len(), 4, "{:?}", d.normalizations);
        let d = parse_dump(b"        0-fff : a\n1000-1fff : b\n", None).unwrap();
        assert_eq!(
            d.warnings,
            vec![ParseWarning::NoParent { line: 1, indent: 8 }]
        );
    }

    #[test]
    fn a_lone_carriage_return_belongs_to_the_name() {
        let text = b"00000000-00000fff : a\r\n00001000-00001fff : b\n";
        let d = parse_dump(text, None).unwrap();
        assert!(d.normalizations.is_empty(), "{:?}", d.normalizations);
        assert_eq!(render_iomem(&d.tree), text);
    }

    #[test]
    fn names_keep_their_bytes() {
        let text = b"00000000-00000fff : caf\xc3\xa9 \xff\x01 : x\n";
        let d = parse_dump(text, None).unwrap();
        assert_eq!(render_iomem(&d.tree), text);
    }

    #[test]
    fn roots_from_hint_and_width() {
        let d = parse_dump(b"0000-0cf7 : PCI Bus 0000:00\n  0000-001f : dma1\n", None).unwrap();
        assert_eq!(
            (d.tree.kind(), d.tree.get(Tree::ROOT).end),
            (RootKind::Ioport, 0xffff)
        );
        let d = parse_dump(
            b"00000000-0000ffff : PCI Bus 0000:00\n",
            Some(RootKind::Ioport),
        )
        .unwrap();
        assert_eq!(
            (d.tree.kind(), d.tree.get(Tree::ROOT).end),
            (RootKind::Ioport, 0xff_ffff)
        );
        assert!(d.normalizations.is_empty());
        let d = parse_dump(b"00000000-0000ffff : x\n", None).unwrap();
        assert_eq!(
            (d.tree.kind(), d.tree.get(Tree::ROOT).end),
            (RootKind::Iomem, u64::MAX)
        );
        let d = parse_dump(b"", Some(RootKind::Ioport)).unwrap();
        assert!(d.tree.is_empty());
        assert_eq!(err("").kind, ParseErrorKind::Empty);
        assert_eq!(err("\n\n").kind, ParseErrorKind::Empty);
    }

    #[test]
    fn zeroed_dump_is_detected() {
        let d = parse_dump(
            b"00000000-00000000 : Reserved\n  00000000-00000000 : System ROM\n",
            None,
        )
        .unwrap();
        assert!(d.tree.zeroed);
        assert!(d.warnings[0].to_string().contains("sudo cat /proc/iomem"));
        // A single 0-0 line is not enough to tell.
        let d = parse_dump(b"00000000-00000000 : Crash kernel\n", None).unwrap();
        assert!(!d.tree.zeroed);
    }

    #[test]
    fn the_caret_points_at_the_spot_far_into_a_line() {
        // The caret stands under the byte the error is about (a non-hex digit in the start
        // address of line 2, after a 60-byte line 1).
        let mut line = b"00000000-00000fff : ".to_vec();
        line.extend(std::iter::repeat_n(b'x', 40));
        let text = format!(
            "{}\n  0000zzzz-00000fff : b\n",
            String::from_utf8(line).unwrap()
        );
        let e = parse_dump(text.as_bytes(), None).unwrap_err();
        assert_eq!((e.line, e.column), (2, 7));
        assert_eq!(e.text.chars().nth(e.caret), Some('z'));
    }

    /// The dump says one line's addresses were not padded as `r_show` pads them.
    fn assert_odd_width_noted(d: &Dump) {
        assert!(
            d.normalizations
                .iter()
                .any(|n| n.starts_with("1 line(s) whose addresses")),
            "{:?}",
            d.normalizations
        );
    }

    #[test]
    fn an_end_padded_oddly_is_a_normalization_on_the_general_path_too() {
        // r_show pads both `%0*llx` to the minimum width; a 4-digit end in an 8-digit dump is
        // not the kernel's (CRLF sends the dump to the general parser).
        let d = parse_dump(b"00000000-0fff : a\r\n00001000-00001fff : b\r\n", None).unwrap();
        assert_odd_width_noted(&d);
        let d = parse_dump(b"0000-00000fff : a\r\n00001000-00001fff : b\r\n", None).unwrap();
        assert_odd_width_noted(&d);
    }

    #[test]
    fn line_is_ok_accepts_blank_and_resource_lines_only() {
        assert!(line_is_ok(b""));
        assert!(line_is_ok(b"   "));
        assert!(line_is_ok(b"00000000-00000fff : a"));
        assert!(line_is_ok(b"  00000000-00000fff : a\r"));
        assert!(!line_is_ok(b"garbage"));
        assert!(!line_is_ok(b"0000zzzz-00000fff : a"));
    }

    #[test]
    fn one_zero_line_is_not_a_zeroed_dump() {
        // Without CAP_SYS_ADMIN every line reads 0-0; one `00000000-00000000` line alone can be
        // a real empty-range entry, so two lines are needed (general path: CRLF).
        let d = parse_dump(b"00000000-00000000 : Reserved\r\n", None).unwrap();
        assert!(!d.tree.zeroed);
        let d = parse_dump(b"00000000-00000000 : a\r\n00000000-00000000 : b\r\n", None).unwrap();
        assert!(d.tree.zeroed);
        let d = parse_dump(b"00000000-00000000 : Reserved\n", None).unwrap();
        assert!(!d.tree.zeroed);
    }

    #[test]
    fn an_end_padded_oddly_is_a_normalization_on_the_fast_path() {
        let text: &[u8] = b"00000000-0fff : a\n00001000-00001fff : b\n";
        let d = parse_dump(text, None).unwrap();
        assert_odd_width_noted(&d);
        let d = parse_dump(b"0000-00000fff : a\n00001000-00001fff : b\n", None).unwrap();
        assert_odd_width_noted(&d);
        // /proc/ioports (width 4): an 8-digit end of a small port number is not r_show's.
        let d = parse_dump(
            b"0000-00000cf7 : a\n0cf8-0cff : b\n",
            Some(RootKind::Ioport),
        )
        .unwrap();
        assert_eq!(d.hex_width, 4);
        assert_odd_width_noted(&d);
    }

    #[test]
    fn long_lines_are_linear_and_excerpted() {
        let mut big = b"00000000-".to_vec();
        big.extend(std::iter::repeat_n(b'f', 1 << 20));
        let e = parse_dump(&big, None).unwrap_err();
        assert_eq!(
            (e.line, e.column, e.kind),
            (1, 26, ParseErrorKind::TooManyDigits)
        );
        assert!(e.text.len() < 200);
        let mut name = b"00000000-00000fff : ".to_vec();
        name.extend(std::iter::repeat_n(b'x', 1 << 20));
        assert!(parse_dump(&name, None).is_ok());
    }

    #[test]
    fn four_and_eight_space_gcds_mean_a_four_space_unit() {
        // `match unit_gcd { 3 | 9 => 3, 4 | 8 => 4, _ => 2 }`: a dump indented 4 spaces per
        // level nests one level per 4 spaces (read with unit 2, its child would be two levels
        // below the parent: a depth jump, refused).
        let text = "00000000-0000ffff : A\n    00001000-00001fff : B\n        \
                    00001000-000010ff : C\n    00002000-00002fff : D\n";
        let d = parse_dump(text.as_bytes(), None).expect("parses");
        let got: Vec<usize> = d.tree.walk(Tree::ROOT).map(|(_, depth)| depth).collect();
        assert_eq!(got, vec![0, 1, 2, 1]);
        assert!(
            d.normalizations
                .iter()
                .any(|n| n == "indented 4 spaces per level: printed with the kernel's 2"),
            "{:?}",
            d.normalizations
        );
        // Indents of 8 and 16 only (gcd 8) are also read in 4-space levels: an 8-space child is
        // a jump of two levels, and the refusal says so in 4-space units.
        let text = "00000000-0000ffff : A\n        00001000-00001fff : B\n";
        let e = parse_dump(text.as_bytes(), None).unwrap_err();
        assert_eq!(e.kind, ParseErrorKind::DepthJump);
        assert!(
            e.expected
                .contains("from depth 0 to depth 2: a line can be at most one level (4 spaces)"),
            "{}",
            e.expected
        );
    }

    #[test]
    fn an_error_far_into_a_line_is_shown_from_40_bytes_before_it() {
        // `excerpt`: the window starts BEFORE = 40 bytes before the error's byte; when that
        // cuts the line, a leading `…` is shown and the caret moves one character right for
        // it. Here the bad `z` is byte 69 (column 70), so the window starts at byte 29.
        let mut text = b"00000000-00000fff : Reserved\n".to_vec();
        text.extend(std::iter::repeat_n(b' ', 56));
        text.extend(b"00001000-0000zfff : X\n");
        let e = parse_dump(&text, None).unwrap_err();
        assert_eq!((e.line, e.column), (2, 70));
        assert_eq!(
            e.text,
            format!("…{}00001000-0000zfff : X", " ".repeat(56 - 29))
        );
        assert_eq!(
            e.caret,
            1 + 40,
            "one for the `…`, forty for the bytes before `z`"
        );
        assert_eq!(e.text.chars().nth(e.caret), Some('z'));
    }
}

/// The fast path ([`parse_kernel_printed`]) must be invisible: whenever it accepts an input, the
/// general parser accepts it too and reports exactly the same tree, flags, confidences, dump
/// lines, warnings and normalizations. Checked on every real dump we have and on random edits
/// of them (edits that keep a dump kernel-shaped, so that the fast path mostly does accept).
#[cfg(test)]
mod fast_path_tests {
    use super::*;
    use crate::render::render_iomem;
    use proptest::prelude::*;

    fn shape(d: &Dump) -> Vec<(usize, u64, u64, String)> {
        d.tree
            .walk(Tree::ROOT)
            .map(|(id, depth)| {
                let r = d.tree.get(id);
                (depth, r.start, r.end, d.tree.name_lossy(id).into_owned())
            })
            .collect()
    }

    /// Everything a user of a [`Dump`] can observe, ids aside.
    fn observable(d: &Dump) -> String {
        let t = &d.tree;
        let mut out = format!(
            "kind {:?} root {:x}-{:x} zeroed {} width {} lines {}\n{:?}\n{:?}\n",
            t.kind(),
            t.get(Tree::ROOT).start,
            t.get(Tree::ROOT).end,
            t.zeroed,
            d.hex_width,
            d.lines,
            d.warnings,
            d.normalizations
        );
        for (id, depth) in t.walk(Tree::ROOT) {
            let r = t.get(id);
            out.push_str(&format!(
                "{depth} {:x}-{:x} {:?} {:#x} {:?} {:?} {:?} unsorted={} children={} last={:?}\n",
                r.start,
                r.end,
                t.name_of(id),
                r.flags,
                r.desc,
                r.confidence,
                r.line(),
                t.is_unsorted(id),
                // The fast path's tree answers these from its arena, the general one from lists.
                t.child_count(id),
                t.children(id).next_back().map(|c| t.get(c).start),
            ));
        }
        out
    }

    /// `Some(true)` when the fast path took the input (and agreed), `Some(false)` when it handed
    /// it over; panics on any disagreement.
    fn agree(input: &[u8], hint: Option<RootKind>) -> bool {
        let general = parse_general(input, hint);
        match parse_kernel_printed(input, hint) {
            None => false,
            Some(fast) => {
                let general = general.unwrap_or_else(|e| {
                    panic!("fast path accepted what the general parser refuses: {e}")
                });
                assert_eq!(observable(&fast), observable(&general));
                true
            }
        }
    }

    /// [`KernelPrinted`] fed line by line (as `app` feeds it from a file) answers exactly
    /// what `parse_dump` answers on the same bytes, or hands over where the fast path does.
    fn fed_line_by_line(input: &[u8], hint: Option<RootKind>) -> Option<Dump> {
        let mut b = KernelPrinted::new(hint, 0, 0);
        let mut lines: Vec<&[u8]> = input.split(|&c| c == b'\n').collect();
        let final_newline = input.last() == Some(&b'\n');
        if final_newline || input.is_empty() {
            lines.pop();
        }
        for l in lines {
            if !b.line(l) {
                return None;
            }
        }
        b.finish(final_newline)
    }

    #[test]
    fn the_line_fed_builder_is_the_fast_path() {
        let mut inputs: Vec<(Vec<u8>, Option<RootKind>)> = fixtures()
            .into_iter()
            .map(|(name, bytes)| {
                let hint = name.ends_with("ioports").then_some(RootKind::Ioport);
                (bytes, hint)
            })
            .collect();
        // Handed over: a blank line, CRLF, 4-space indents, an indented first line, no
        // final newline (taken, with its normalization), nothing at all.
        for t in [
            &b"00000000-00000fff : a\n\n00001000-00001fff : b\n"[..],
            b"00000000-00000fff : a\r\n",
            b"00000000-0000ffff : a\n    00000000-00000fff : b\n",
            b"  00000000-00000fff : a\n",
            b"00000000-00000fff : a",
            b"",
        ] {
            inputs.push((t.to_vec(), None));
        }
        let mut taken = 0;
        for (bytes, hint) in &inputs {
            let fed = fed_line_by_line(bytes, *hint);
            let fast = parse_kernel_printed(bytes, *hint);
            assert_eq!(
                fed.is_some(),
                fast.is_some(),
                "{:?}",
                String::from_utf8_lossy(bytes)
            );
            if let (Some(a), Some(b)) = (fed, fast) {
                assert_eq!(format!("{a:?}"), format!("{b:?}"));
                taken += 1;
            }
        }
        assert!(taken >= 10, "only {taken} inputs took the fast path");
    }

    fn fixtures() -> Vec<(String, Vec<u8>)> {
        let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/fixtures");
        let mut out = Vec::new();
        let mut dirs = vec![std::path::PathBuf::from(dir)];
        while let Some(d) = dirs.pop() {
            for e in std::fs::read_dir(&d).expect("fixtures dir") {
                let p = e.expect("entry").path();
                if p.is_dir() {
                    dirs.push(p);
                } else if p
                    .extension()
                    .is_some_and(|x| x == "iomem" || x == "ioports")
                {
                    out.push((p.display().to_string(), std::fs::read(&p).expect("read")));
                }
            }
        }
        out.sort();
        out
    }

    #[test]
    fn fast_path_takes_what_r_show_prints_and_hands_over_the_rest() {
        // kernel/resource.c r_show (6.12): `seq_printf(m, "%*s%0*llx-%0*llx : %s\n",
        // depth * 2, "", width, start, width, end, r->name ...)` with
        // `int width = root->end < 0x10000 ? 4 : 8;` and `depth < MAX_IORES_LEVEL` (5).
        // Text printed that way is the fast path's (and agrees with the general parser);
        // anything else is handed over (the module doc of `parse_kernel_printed`).
        let kernel: &[(&str, Option<RootKind>)] = &[
            (
                "00000000-00000fff : Reserved\n00001000-0009fbff : System RAM\n",
                None,
            ),
            (
                "00100000-bfffffff : System RAM\n  01000000-01e071d0 : Kernel code\n  01e071d1-027dfdff : Kernel data\n100000000-13fffffff : System RAM\n",
                None,
            ),
            // Six levels: the 6th prints with 10 spaces, nested by containment.
            (
                "00000000-ffffffff : L0\n  00000000-0fffffff : L1\n    00000000-00ffffff : L2\n      00000000-000fffff : L3\n        00000000-0000ffff : L4\n          00000000-00000fff : L5\n          00000000-000000ff : L6\n          00000800-00000fff : L7\n          00001000-00001fff : L8\n",
                None,
            ),
            // Back from deep to the top level.
            (
                "00000000-0fffffff : a\n  00000000-00ffffff : b\n    00000000-000fffff : c\n10000000-1fffffff : d\n",
                None,
            ),
            // /proc/ioports (root end 0xffff: width 4), told so.
            (
                "0000-0cf7 : PCI Bus 0000:00\n  0000-001f : dma1\n  0020-0021 : pic1\n0cf8-0cff : PCI conf1\n",
                Some(RootKind::Ioport),
            ),
            // Read without CAP_SYS_ADMIN: every address 0.
            (
                "00000000-00000000 : Reserved\n00000000-00000000 : System RAM\n  00000000-00000000 : Kernel code\n",
                None,
            ),
            // An empty name: `%s` of "" after " : ".
            ("00000000-00000fff : \n", None),
            // Wider than 8 digits: `%0*llx` is a minimum width.
            (
                "1000000000-10ffffffff : System RAM\n",
                Some(RootKind::Iomem),
            ),
        ];
        for (text, hint) in kernel {
            assert!(agree(text.as_bytes(), *hint), "fast path refused:\n{text}");
            let d = parse_dump(text.as_bytes(), *hint).unwrap();
            assert_eq!(
                render_iomem(&d.tree),
                text.as_bytes(),
                "round trip:\n{text}"
            );
        }
        let zeroed = parse_kernel_printed(kernel[5].0.as_bytes(), None).unwrap();
        assert!(zeroed.tree.zeroed);
        assert!(matches!(zeroed.warnings[0], ParseWarning::Zeroed { .. }));
        let io = parse_kernel_printed(kernel[4].0.as_bytes(), Some(RootKind::Ioport)).unwrap();
        assert_eq!((io.tree.get(Tree::ROOT).end, io.hex_width), (0xffff, 4));
        let d = parse_kernel_printed(kernel[2].0.as_bytes(), None).unwrap();
        let depths: Vec<usize> = shape(&d).iter().map(|x| x.0).collect();
        assert_eq!(depths, [0, 1, 2, 3, 4, 5, 6, 6, 5]);
        assert_eq!(d.lines, 9);
        assert!(d.warnings.is_empty() && d.normalizations.is_empty());
        // Taken, with the general parser's normalization: a name-less line whose trailing
        // space an editor stripped (` :`), and a flat dump with no indent at all.
        let bare = b"00000000-00000fff :\n00001000-00001fff : b\n";
        assert!(agree(bare, None), "fast path refused a bare colon");
        let d = parse_kernel_printed(bare, None).unwrap();
        assert_eq!(d.normalizations.len(), 1, "{:?}", d.normalizations);
        assert!(agree(
            b"00000000-00000fff : a\n00001000-00001fff : b\n",
            None
        ));

        let other: &[(&str, Option<RootKind>)] = &[
            ("", None),
            // CRLF line ends.
            (
                "00000000-00000fff : Reserved\r\n00001000-0009fbff : System RAM\r\n",
                None,
            ),
            // A blank line.
            ("00000000-00000fff : a\n\n00001000-0009fbff : b\n", None),
            // An excerpt: the top level indented.
            ("  00000000-00000fff : a\n  00001000-0009fbff : b\n", None),
            // 4 spaces per level.
            ("00000000-0000ffff : a\n    00000000-00000fff : b\n", None),
            // An odd indentation.
            ("00000000-0000ffff : a\n   00000000-00000fff : b\n", None),
            // Two levels deeper at once.
            (
                "00000000-0000ffff : a\n    00000000-00000fff : b\n  00001000-00001fff : c\n",
                None,
            ),
            // Deeper than the kernel's cap (12 spaces).
            (
                "00000000-ffffffff : L0\n  00000000-0fffffff : L1\n    00000000-00ffffff : L2\n      00000000-000fffff : L3\n        00000000-0000ffff : L4\n            00000000-00000fff : L5\n",
                None,
            ),
            // 10 spaces right after 6: a jump to the cap.
            (
                "00000000-ffffffff : L0\n  00000000-0fffffff : L1\n    00000000-00ffffff : L2\n      00000000-000fffff : L3\n          00000000-0000ffff : L4\n",
                None,
            ),
            // A malformed line.
            ("00000000-00000fff : a\nnot a line\n", None),
            // 4-digit addresses without a hint: ioports, decided by the general parser.
            ("0000-0cf7 : PCI Bus 0000:00\n", None),
            // An indented line before any top-level one: the general parser decides the unit
            // from it (4 here), so the fast path must not assume 2 (found by the edited-dumps
            // property test: the normalizations differed).
            (
                "    a90000000-b4fffffff : dax1.0\na90000000-b4fffffff : Soft Reserved\n",
                None,
            ),
        ];
        for (text, hint) in other {
            assert!(
                parse_kernel_printed(text.as_bytes(), *hint).is_none(),
                "fast path took:\n{text}"
            );
        }
    }

    /// Lanes do not carry into each other, so one byte at a time in each of the eight lanes,
    /// the others `0`, covers every byte the eight-lane read can see: it is accepted exactly
    /// when the table ([`HEX`]) says it is a lowercase digit, with the table's value.
    #[test]
    fn every_byte_in_every_lane_reads_as_the_table_says() {
        for lane in 0..8 {
            for b in 0..=255u8 {
                let mut w = [b'0'; 8];
                w[lane] = b;
                let t = HEX[usize::from(b)];
                let want = (t < 0x10).then(|| u64::from(t) << (4 * (7 - lane)));
                assert_eq!(
                    eight_lowercase_hex_digits(u64::from_le_bytes(w)),
                    want,
                    "byte {b:#x} in lane {lane}"
                );
            }
        }
    }

    /// The fast path decides flags while it reads, but a row whose rule reads the
    /// architecture waits until it is known: `Kernel code` closes before the first x86 name
    /// (`HPET 0`) is read, and is still SYSTEM_RAM|BUSY as on x86 (arch/x86/kernel/setup.c
    /// `kernel_code` is `IORESOURCE_BUSY | IORESOURCE_SYSTEM_RAM`), with the general parser's
    /// confidence. Without an x86 name it is arm64's plain SYSTEM_RAM
    /// (arch/arm64/kernel/setup.c `request_standard_resources`).
    /// Once an x86 name was read, the rows are decided as each top-level row closes, not at
    /// the end (what keeps them in cache): after `Video ROM` (probe_roms: MEM|BUSY|READONLY)
    /// closes, its flags are set before the dump is finished. Rows not yet closed wait.
    #[test]
    fn rows_are_decided_as_their_top_level_row_closes() {
        use crate::tree::flags::{IORESOURCE_BUSY, IORESOURCE_MEM, IORESOURCE_READONLY};
        let mut b = KernelPrinted::new(None, 4, 128);
        for l in [
            &b"00000000-00000fff : Reserved"[..],
            b"000c0000-000c7fff : Video ROM",
            b"00100000-7fffffff : System RAM",
        ] {
            assert!(b.line(l));
        }
        let t = &b.tree;
        let rom = NodeId(2);
        assert!(t.name_is(rom, "Video ROM"));
        assert_eq!(
            t.get(rom).flags,
            IORESOURCE_MEM | IORESOURCE_BUSY | IORESOURCE_READONLY
        );
        // System RAM is still open (a child may follow): undecided.
        assert_eq!(t.get(NodeId(3)).flags, 0);
        let d = b.finish(true).expect("as the kernel prints it");
        assert_ne!(d.tree.get(NodeId(3)).flags, 0);
    }

    /// With neither an x86 name nor `Kernel code` the architecture is unknown, and a top-level
    /// `reserved` is read with medium confidence, not arm64's high (infer.rs rule 17: only
    /// arm64's memblock no-map regions are top-level `reserved` for sure). Both parsers.
    #[test]
    fn no_x86_name_and_no_kernel_code_is_an_unknown_architecture() {
        use crate::tree::Confidence;
        let text = b"40000000-4fffffff : reserved\n50000000-5fffffff : System RAM\n";
        for d in [
            parse_kernel_printed(text, None).expect("fast path"),
            parse_general(text, None).expect("general"),
        ] {
            let t = &d.tree;
            assert!(t.name_is(NodeId(1), "reserved"));
            assert_eq!(t.get(NodeId(1)).confidence, Confidence::Medium);
        }
        assert_eq!(
            crate::infer::guess_arch(&parse_general(text, None).expect("general").tree),
            crate::infer::Arch::Unknown
        );
    }

    #[test]
    fn rows_read_before_the_architecture_is_known_are_decided_by_it() {
        use crate::tree::flags::{IORESOURCE_BUSY, IORESOURCE_SYSTEM_RAM};
        let x86 = b"00001000-0009ffff : System RAM\n\
                    00100000-1fffffff : System RAM\n\
                    \x20 01000000-01ffffff : Kernel code\n\
                    20000000-2fffffff : reserved\n\
                    fed00000-fed003ff : HPET 0\n";
        let arm = b"40000000-7fffffff : System RAM\n\
                    \x20 40200000-40ffffff : Kernel code\n\
                    80000000-8fffffff : reserved\n";
        for (text, flags, arch) in [
            (&x86[..], IORESOURCE_SYSTEM_RAM | IORESOURCE_BUSY, "x86"),
            (&arm[..], IORESOURCE_SYSTEM_RAM, "arm"),
        ] {
            let fast = parse_kernel_printed(text, None).expect("as the kernel prints it");
            let t = &fast.tree;
            let k = t
                .descendants(Tree::ROOT)
                .find(|&id| t.name_is(id, "Kernel code"))
                .expect("Kernel code");
            assert_eq!(t.get(k).flags, flags, "{arch}");
            assert_eq!(t.get(k).confidence, crate::tree::Confidence::High, "{arch}");
            assert!(agree(text, None), "{arch}");
        }
    }

    #[test]
    fn fast_path_agrees_on_every_fixture() {
        let mut taken = 0;
        let all = fixtures();
        for (path, bytes) in &all {
            let hint = path.ends_with(".ioports").then_some(RootKind::Ioport);
            for h in [hint, None, Some(RootKind::Iomem), Some(RootKind::Ioport)] {
                taken += usize::from(agree(bytes, h));
            }
        }
        // The fast path's trees are walked along their arenas, and that walk is the lists'.
        for (path, bytes) in &all {
            if let Some(d) = parse_kernel_printed(bytes, None) {
                assert_eq!(d.tree.arena_walk_agrees(), (true, true), "{path}");
            }
        }
        // Most real dumps are exactly as the kernel printed them: the fast path must see use.
        assert!(taken > all.len(), "fast path taken {taken} times");
    }

    /// The fast path leaves the child lists unbuilt; the arena's answers to every list query
    /// are the built lists' answers (from both ends, meeting in the middle, and by key
    /// range); a change builds the lists on its path and no others, after which the tree
    /// answers as the general parser's tree does under the same change; and undoing the
    /// change puts the unbuilt lists back exactly.
    #[test]
    fn unbuilt_lists_answer_as_the_built_ones_and_a_change_builds_only_its_path() {
        let mut seen = 0;
        for (path, bytes) in &fixtures() {
            let hint = path.ends_with(".ioports").then_some(RootKind::Ioport);
            let Some(d) = parse_kernel_printed(bytes, hint) else {
                continue;
            };
            seen += 1;
            let t = &d.tree;
            // Every parent's list is unbuilt except those not sorted and disjoint.
            let parents = std::iter::once(Tree::ROOT)
                .chain(t.walk(Tree::ROOT).map(|(id, _)| id))
                .filter(|&id| t.has_children(id));
            let sorted_parents = parents.filter(|&id| !t.is_unsorted(id)).count();
            assert_eq!(t.unbuilt_lists(), sorted_parents, "{path}");
            let mut built = t.clone();
            built.build_all_lists();
            assert_eq!(built.unbuilt_lists(), 0);
            assert!(built.rows_consistent(), "{path}");
            let ids = std::iter::once(Tree::ROOT).chain(t.walk(Tree::ROOT).map(|(id, _)| id));
            for id in ids {
                let lazy: Vec<NodeId> = t.children(id).collect();
                let listed: Vec<NodeId> = built.children(id).collect();
                assert_eq!(lazy, listed, "{path}: children of {id:?}");
                let back: Vec<NodeId> = t.children(id).rev().collect();
                assert!(back.iter().rev().eq(listed.iter()), "{path}: reversed");
                // Alternating ends meet without skipping or repeating a child.
                let mut it = t.children(id);
                let (mut front, mut rear) = (Vec::new(), Vec::new());
                while let Some(c) = it.next() {
                    front.push(c);
                    match it.next_back() {
                        Some(c) => rear.push(c),
                        None => break,
                    }
                }
                front.extend(rear.into_iter().rev());
                assert_eq!(front, listed, "{path}: both ends");
                assert_eq!(t.has_children(id), built.has_children(id));
                assert_eq!(t.child_count(id), built.child_count(id));
                assert_eq!(t.first_child(id), built.first_child(id));
                // The queries by key: siblings, rows, and the kernel's scan from an address
                // (at, inside, just past and just before each child).
                assert_eq!(t.next_sibling(id), built.next_sibling(id), "{path}");
                assert_eq!(t.prev_sibling(id), built.prev_sibling(id), "{path}");
                assert_eq!(t.next_row(id), built.next_row(id), "{path}");
                assert_eq!(t.prev_row(id), built.prev_row(id), "{path}");
                if id != Tree::ROOT {
                    assert_eq!(t.row_of(id), built.row_of(id), "{path}");
                }
                for &c in &listed {
                    let r = t.get(c);
                    for a in [
                        r.start,
                        r.end,
                        r.end.wrapping_add(1),
                        r.start.wrapping_sub(1),
                    ] {
                        assert!(
                            t.scan_from(id, a).eq(built.scan_from(id, a)),
                            "{path}: scan of {id:?} from {a:#x}"
                        );
                    }
                }
            }
            assert_eq!(t.is_empty(), built.is_empty());
            // The same change on the general parser's tree and on the fast path's.
            let mut general = parse_general(bytes, hint)
                .expect("the fast path took it")
                .tree;
            let mut fast = d.tree.clone();
            let before = format!("{fast:?}");
            fast.begin_journal();
            for tree in [&mut general, &mut fast] {
                let top = tree.get(Tree::ROOT).end;
                let new = tree.alloc(top, top, b"probe", 0, Desc::None);
                tree.link_sorted(Tree::ROOT, new);
                if let Some(c) = tree.first_child(Tree::ROOT) {
                    tree.unlink_lifting_children(c);
                }
            }
            let journal = fast.end_journal();
            // The root's list and the lifted node's, no others.
            let first = t.first_child(Tree::ROOT);
            let on_path = [Some(Tree::ROOT), first]
                .into_iter()
                .flatten()
                .filter(|&id| t.has_children(id) && !t.is_unsorted(id))
                .count();
            assert_eq!(fast.unbuilt_lists(), t.unbuilt_lists() - on_path, "{path}");
            let changed = crate::render::render_iomem(&fast);
            assert_eq!(changed, crate::render::render_iomem(&general), "{path}");
            assert!(fast.rows_consistent(), "{path}");
            assert!(fast.arena_walk_agrees().1, "{path}");
            let redo = fast.undo(journal);
            assert_eq!(format!("{fast:?}"), before, "{path}: undo");
            assert_eq!(fast.unbuilt_lists(), t.unbuilt_lists());
            fast.undo(redo);
            assert_eq!(crate::render::render_iomem(&fast), changed, "{path}: redo");
        }
        assert!(seen > 10, "fast path took {seen} fixtures");
    }

    /// Line-level edits that keep the text kernel-shaped: drop, duplicate or swap lines, move a
    /// line a level in or out, zero or bump a digit, uppercase it, drop the final newline.
    fn edited() -> impl Strategy<Value = (usize, Vec<u8>)> {
        let all = fixtures();
        let n = all.len();
        let edit = (
            0u8..8,
            any::<prop::sample::Index>(),
            any::<prop::sample::Index>(),
        );
        (0..n, proptest::collection::vec(edit, 0..6)).prop_map(move |(f, edits)| {
            let text = &all[f].1;
            let mut lines: Vec<Vec<u8>> = text.split(|&b| b == b'\n').map(<[u8]>::to_vec).collect();
            if lines.last().is_some_and(Vec::is_empty) {
                lines.pop();
            }
            let mut final_nl = true;
            for (kind, a, b) in edits {
                if lines.is_empty() {
                    break;
                }
                let i = a.index(lines.len());
                let j = b.index(lines.len());
                match kind {
                    0 => {
                        lines.remove(i);
                    }
                    1 => lines.insert(i, lines[j].clone()),
                    2 => lines.swap(i, j),
                    3 => {
                        lines[i].splice(0..0, *b"  ");
                    }
                    4 if lines[i].starts_with(b"  ") => {
                        lines[i].drain(0..2);
                    }
                    5 => {
                        let k = j % lines[i].len().max(1);
                        if let Some(c) = lines[i].get_mut(k)
                            && c.is_ascii_hexdigit()
                        {
                            *c = if *c == b'0' { b'f' } else { b'0' };
                        }
                    }
                    6 => {
                        let k = j % lines[i].len().max(1);
                        if let Some(c) = lines[i].get_mut(k) {
                            c.make_ascii_uppercase();
                        }
                    }
                    7 => final_nl = false,
                    _ => {}
                }
            }
            let mut out = lines.join(&b'\n');
            if final_nl && !out.is_empty() {
                out.push(b'\n');
            }
            (f, out)
        })
    }

    /// `hex_value` against the plain reading of its contract: the longest run of hex digits,
    /// its value, its length, whether a letter was uppercase; refused when empty or longer
    /// than 16. Digits drawn so that the 8-at-once step meets every case: runs shorter and
    /// longer than 8, an uppercase letter or a stop byte at each of the first 8 places.
    fn hex_reference(i: &[u8]) -> Option<(u64, usize, bool)> {
        let n = i.iter().take_while(|c| c.is_ascii_hexdigit()).count();
        if n == 0 || n > 16 {
            return None;
        }
        let d = std::str::from_utf8(&i[..n]).ok()?;
        let v = u64::from_str_radix(d, 16).ok()?;
        Some((v, n, i[..n].iter().any(u8::is_ascii_uppercase)))
    }

    proptest! {
        #![proptest_config(ProptestConfig { cases: 2000, ..ProptestConfig::default() })]

        #[test]
        fn hex_value_reads_what_the_reference_reads(
            bytes in proptest::collection::vec(
                prop_oneof![
                    8 => proptest::sample::select(b"0123456789abcdef".to_vec()),
                    1 => proptest::sample::select(b"ABCDEF".to_vec()),
                    1 => proptest::sample::select(b"- :gG\x00\xff".to_vec()),
                    // Bytes whose low bits and bit 6 look like a digit's or a letter's.
                    1 => proptest::sample::select(b"jotz:;@`/JOZ\x8a\xe6\xb0\x7f".to_vec()),
                ],
                0..20,
            )
        ) {
            let got = hex_value(&bytes, &bytes, "start").ok();
            prop_assert_eq!(got, hex_reference(&bytes));
        }

        /// The eight-lane read accepts exactly eight `0-9a-f` bytes and reads their value
        /// (every byte value in every lane: [`every_byte_in_every_lane_reads_as_the_table_says`]).
        #[test]
        fn eight_lanes_read_what_the_reference_reads(x in any::<u64>(), digits in any::<[u8; 8]>()) {
            let sets = b"0123456789abcdef";
            let d: [u8; 8] = std::array::from_fn(|k| sets[usize::from(digits[k] & 15)]);
            for w in [x, u64::from_le_bytes(d), u64::from_le_bytes(d) ^ (x & 0x0101_0101_0101_0101 & (x >> 8))] {
                let b = w.to_le_bytes();
                let want = b.iter().all(|c| sets.contains(c))
                    .then(|| u64::from_str_radix(std::str::from_utf8(&b).unwrap_or("x"), 16).ok())
                    .flatten();
                prop_assert_eq!(eight_lowercase_hex_digits(w), want, "{:?}", b);
            }
        }

        /// The word-at-a-time LF search answers as `memchr` does, at every alignment and
        /// length, before, at and past its 32-byte handover.
        #[test]
        fn find_lf_finds_the_first_lf(
            bytes in proptest::collection::vec(
                prop_oneof![6 => any::<u8>(), 1 => Just(b'\n'), 1 => Just(0x8a_u8), 1 => Just(0x0b_u8)],
                0..80,
            ),
            skip in 0usize..8,
        ) {
            let s = bytes.get(skip..).unwrap_or_default();
            prop_assert_eq!(find_lf(s), memchr::memchr(b'\n', s));
        }

        /// Reading a line where it starts in the text (the fast path) reads what `parse_line`
        /// reads in that line cut at its LF: the same fields, or a refusal both times.
        #[test]
        fn parse_line_in_reads_the_line_parse_line_reads(
            bytes in proptest::collection::vec(
                prop_oneof![
                    6 => proptest::sample::select(b"0123456789abcdef".to_vec()),
                    3 => proptest::sample::select(b"- : ".to_vec()),
                    1 => proptest::sample::select(b"\n\rxA".to_vec()),
                ],
                0..60,
            ),
            shaped in any::<bool>(),
        ) {
            // Half the cases start with a well-formed head, so that names and LFs are reached.
            let mut text = if shaped { b"  00001000-0009ffff : ".to_vec() } else { Vec::new() };
            text.extend_from_slice(&bytes);
            let len = memchr::memchr(b'\n', &text).unwrap_or(text.len());
            let want = parse_line(&text[..len]).ok();
            let got = parse_line_in(&text).ok();
            prop_assert_eq!(got.as_ref().map(|(_, n)| *n).unwrap_or(len), len);
            prop_assert_eq!(got.map(|(l, _)| l), want);
        }
    }

    proptest! {
        #![proptest_config(ProptestConfig { cases: 400, ..ProptestConfig::default() })]

        #[test]
        fn fast_path_agrees_on_edited_dumps((_f, bytes) in edited(), h in 0u8..3) {
            let hint = [None, Some(RootKind::Iomem), Some(RootKind::Ioport)][usize::from(h)];
            agree(&bytes, hint);
        }
    }
}
