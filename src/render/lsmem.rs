//! Memory blocks as util-linux `lsmem` prints them (sys-utils/lsmem.c, util-linux 2.38, the
//! version installed where this was written and compared: `lsmem --sysroot DIR`).
//!
//! What is mirrored, from lsmem.c and libsmartcols:
//! - columns RANGE SIZE STATE REMOVABLE BLOCK NODE ZONES (`coldescs[]`: RANGE left-aligned,
//!   the rest right-aligned, SIZE at least 5 wide), names case-insensitive, `+LIST` appends to
//!   lsmem's default RANGE,SIZE,STATE,REMOVABLE,BLOCK, a later `-o` replaces an earlier one;
//! - rows: consecutive blocks merge while the split columns are equal (`is_mergeable`); the
//!   split columns are `-S LIST`, else the output columns among STATE, REMOVABLE, NODE, ZONES;
//!   `-a` lists every block;
//! - cells: STATE `online`/`offline`/`on->off`; REMOVABLE `yes`/`no` for an online range and
//!   empty otherwise; ZONES the `valid_zones` words mapped to lsmem's names (`none` → `None`)
//!   joined by `/`; SIZE by `size_to_human_string(SIZE_SUFFIX_1LETTER)` or bytes with `-b`;
//! - output modes: the aligned table, `-r` (space separated, no summary), `-J` (libsmartcols
//!   JSON `{"memory":[…]}` with SIZE-in-bytes and NODE numbers and REMOVABLE a boolean; no
//!   summary), `-P` (`KEY="value"`; no summary), `-n`; `--summary[=never|always|only]`,
//!   processed in command-line order like lsmem's getopt loop (`-J` after `--summary=always`
//!   turns the summary off again).
//!
//! One deliberate difference: iomem-sim's `blocks` without `-o` shows
//! RANGE,SIZE,STATE,REMOVABLE,BLOCK,ZONES,NODE (what a simulation needs to see); `-o
//! RANGE,SIZE,STATE,REMOVABLE,BLOCK` gives lsmem's bare default.

use std::fmt;

use crate::kernel::machine::Machine;
use crate::kernel::memory::BlockState;

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Column {
    Range,
    Size,
    State,
    Removable,
    Block,
    Node,
    Zones,
}

impl Column {
    pub const ALL: [Column; 7] = [
        Column::Range,
        Column::Size,
        Column::State,
        Column::Removable,
        Column::Block,
        Column::Node,
        Column::Zones,
    ];
    /// lsmem's own default columns.
    pub const LSMEM_DEFAULT: [Column; 5] = [
        Column::Range,
        Column::Size,
        Column::State,
        Column::Removable,
        Column::Block,
    ];
    /// `blocks` without `-o`.
    pub const DEFAULT: [Column; 7] = [
        Column::Range,
        Column::Size,
        Column::State,
        Column::Removable,
        Column::Block,
        Column::Zones,
        Column::Node,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Column::Range => "RANGE",
            Column::Size => "SIZE",
            Column::State => "STATE",
            Column::Removable => "REMOVABLE",
            Column::Block => "BLOCK",
            Column::Node => "NODE",
            Column::Zones => "ZONES",
        }
    }
    fn right(self) -> bool {
        self != Column::Range
    }
    /// lsmem's `whint` (5 for SIZE): libsmartcols widens a column to it only when neither the
    /// cells nor the header reach it.
    fn min_width(self) -> usize {
        if self == Column::Size { 5 } else { 0 }
    }
    fn splits(self) -> bool {
        matches!(
            self,
            Column::State | Column::Removable | Column::Node | Column::Zones
        )
    }
    /// `column_name_to_id`: case-insensitive.
    pub fn from_name(s: &str) -> Option<Column> {
        Column::ALL
            .into_iter()
            .find(|c| c.name().eq_ignore_ascii_case(s))
    }
}

/// `-r`, `-J`, `-P` or the aligned table (lsmem makes them mutually exclusive).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum Mode {
    #[default]
    Table,
    Raw,
    Json,
    Pairs,
}

/// The options of `blocks`, lsmem's.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LsmemOptions {
    /// `-o`; `None` = [`Column::DEFAULT`].
    pub columns: Option<Vec<Column>>,
    /// `-S`; `None` = follow the output columns.
    pub split: Option<Vec<Column>>,
    pub mode: Mode,
    pub bytes: bool,
    pub all: bool,
    pub noheadings: bool,
    pub want_table: bool,
    pub want_summary: bool,
    /// Typed as `lsmem` (not `blocks`): its default columns are lsmem's
    /// ([`Column::LSMEM_DEFAULT`]), and it is echoed and saved as typed.
    pub typed_as_lsmem: bool,
}

impl Default for LsmemOptions {
    fn default() -> Self {
        LsmemOptions {
            columns: None,
            split: None,
            mode: Mode::Table,
            bytes: false,
            all: false,
            noheadings: false,
            want_table: true,
            want_summary: true,
            typed_as_lsmem: false,
        }
    }
}

/// A bad `blocks` option: the index of the offending word and what was expected.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LsmemArgError {
    pub index: usize,
    pub expected: String,
}

fn column_list(s: &str) -> Result<Vec<Column>, String> {
    let mut v = Vec::new();
    for n in s.split(',') {
        match Column::from_name(n) {
            Some(c) => v.push(c),
            // lsmem: "unknown column: %s".
            None => {
                return Err(format!(
                    "unknown column: {n} (columns: RANGE, SIZE, STATE, REMOVABLE, BLOCK, NODE, ZONES)"
                ));
            }
        }
    }
    if v.is_empty() {
        return Err("an empty column list".to_string());
    }
    Ok(v)
}

impl LsmemOptions {
    /// lsmem's getopt loop over `words` (the words after `blocks`): short options may be
    /// bundled (`-bJ`), values attached (`-oRANGE`, `--output=RANGE`) or separate.
    pub fn parse(words: &[&str]) -> Result<LsmemOptions, LsmemArgError> {
        let mut o = LsmemOptions::default();
        let mut mode_given: Option<(char, usize)> = None;
        let mut i = 0;
        let err = |index: usize, e: &str| LsmemArgError {
            index,
            expected: e.to_string(),
        };
        let mut set_mode = |o: &mut LsmemOptions, m: Mode, c: char, i: usize| {
            if let Some((prev, _)) = mode_given
                && prev != c
            {
                return Err(err(
                    i,
                    &format!("-{c} cannot be combined with -{prev} (one of -r, -J, -P)"),
                ));
            }
            mode_given = Some((c, i));
            o.mode = m;
            if m != Mode::Table {
                o.want_summary = false;
            }
            Ok(())
        };
        while i < words.len() {
            let w = words[i];
            if let Some(long) = w.strip_prefix("--") {
                let (name, inline) = match long.split_once('=') {
                    Some((n, v)) => (n, Some(v)),
                    None => (long, None),
                };
                let value = |i: &mut usize| -> Result<String, LsmemArgError> {
                    if let Some(v) = inline {
                        return Ok(v.to_string());
                    }
                    *i += 1;
                    words
                        .get(*i)
                        .map(|s| s.to_string())
                        .ok_or_else(|| err(*i, &format!("--{name} needs a value")))
                };
                let no_value = |i: usize| {
                    if inline.is_some() {
                        Err(err(i, &format!("--{name} takes no value")))
                    } else {
                        Ok(())
                    }
                };
                match name {
                    "all" => {
                        no_value(i)?;
                        o.all = true
                    }
                    "bytes" => {
                        no_value(i)?;
                        o.bytes = true
                    }
                    "json" => {
                        no_value(i)?;
                        set_mode(&mut o, Mode::Json, 'J', i)?
                    }
                    "pairs" => {
                        no_value(i)?;
                        set_mode(&mut o, Mode::Pairs, 'P', i)?
                    }
                    "raw" => {
                        no_value(i)?;
                        set_mode(&mut o, Mode::Raw, 'r', i)?
                    }
                    "noheadings" => {
                        no_value(i)?;
                        o.noheadings = true
                    }
                    "output" => {
                        let at = i;
                        let v = value(&mut i)?;
                        o.columns = Some(output_list(&v).map_err(|e| err(at, &e))?);
                    }
                    "output-all" => {
                        no_value(i)?;
                        o.columns = Some(Column::ALL.to_vec());
                    }
                    "split" => {
                        let at = i;
                        let v = value(&mut i)?;
                        o.split = Some(column_list(&v).map_err(|e| err(at, &e))?);
                    }
                    // `--summary[=when]`: optional argument, only attached with `=`.
                    "summary" => match inline {
                        None | Some("only") => o.want_table = false,
                        Some("never") => o.want_summary = false,
                        Some("always") => o.want_summary = true,
                        Some(_) => {
                            return Err(err(
                                i,
                                "unsupported --summary argument (never, always or only)",
                            ));
                        }
                    },
                    _ => {
                        return Err(err(
                            i,
                            "unknown option for `blocks`; it takes lsmem's -o/--output, -S/--split, -a/--all, \
                             -b/--bytes, -J/--json, -P/--pairs, -r/--raw, -n/--noheadings, --output-all, --summary[=when]",
                        ));
                    }
                }
            } else if let Some(shorts) = w.strip_prefix('-').filter(|s| !s.is_empty()) {
                for (k, c) in shorts.char_indices() {
                    match c {
                        'a' => o.all = true,
                        'b' => o.bytes = true,
                        'n' => o.noheadings = true,
                        'J' => set_mode(&mut o, Mode::Json, 'J', i)?,
                        'P' => set_mode(&mut o, Mode::Pairs, 'P', i)?,
                        'r' => set_mode(&mut o, Mode::Raw, 'r', i)?,
                        'o' | 'S' => {
                            let rest = &shorts[k + 1..];
                            let at = i;
                            let v = if rest.is_empty() {
                                i += 1;
                                words
                                    .get(i)
                                    .map(|s| s.to_string())
                                    .ok_or_else(|| err(i, &format!("-{c} needs a column list")))?
                            } else {
                                rest.to_string()
                            };
                            if c == 'o' {
                                o.columns = Some(output_list(&v).map_err(|e| err(at, &e))?);
                            } else {
                                o.split = Some(column_list(&v).map_err(|e| err(at, &e))?);
                            }
                            break;
                        }
                        _ => {
                            return Err(err(
                                i,
                                &format!(
                                    "unknown option -{c} for `blocks` (lsmem's -o, -S, -a, -b, -J, -P, -r, -n)"
                                ),
                            ));
                        }
                    }
                }
            } else {
                return Err(err(
                    i,
                    "unexpected word: `blocks` takes only lsmem's options",
                ));
            }
            i += 1;
        }
        Ok(o)
    }

    /// The columns shown.
    pub fn columns(&self) -> Vec<Column> {
        self.columns
            .clone()
            .unwrap_or_else(|| Column::DEFAULT.to_vec())
    }
}

/// `-o LIST`: `+LIST` appends to lsmem's default columns.
fn output_list(s: &str) -> Result<Vec<Column>, String> {
    match s.strip_prefix('+') {
        Some(rest) => {
            let mut v = Column::LSMEM_DEFAULT.to_vec();
            v.extend(column_list(rest)?);
            Ok(v)
        }
        None => column_list(s),
    }
}

impl fmt::Display for LsmemOptions {
    /// The canonical spelling (after `blocks`), which parses back to the same options.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let list = |v: &[Column]| v.iter().map(|c| c.name()).collect::<Vec<_>>().join(",");
        let mut parts: Vec<String> = Vec::new();
        if let Some(c) = &self.columns
            && !(self.typed_as_lsmem && c[..] == Column::LSMEM_DEFAULT[..])
        {
            parts.push(format!("-o {}", list(c)));
        }
        if let Some(c) = &self.split {
            parts.push(format!("-S {}", list(c)));
        }
        if self.all {
            parts.push("-a".into());
        }
        if self.bytes {
            parts.push("-b".into());
        }
        if self.noheadings {
            parts.push("-n".into());
        }
        let mode_summary = match self.mode {
            Mode::Table => true,
            Mode::Raw => {
                parts.push("-r".into());
                false
            }
            Mode::Json => {
                parts.push("-J".into());
                false
            }
            Mode::Pairs => {
                parts.push("-P".into());
                false
            }
        };
        if self.want_summary != mode_summary {
            parts.push(
                if self.want_summary {
                    "--summary=always"
                } else {
                    "--summary=never"
                }
                .into(),
            );
        }
        if !self.want_table {
            parts.push("--summary=only".into());
        }
        f.write_str(&parts.join(" "))
    }
}

impl serde::Serialize for LsmemOptions {
    /// As its canonical spelling (`-o RANGE,NODE -b`).
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.to_string())
    }
}

/// `size_to_human_string(SIZE_SUFFIX_1LETTER, bytes)` (util-linux lib/strutils.c): the
/// integer part, then one rounded decimal when it is not 0 (`2.9G`, `1.5G`, `128M`, `0B`).
pub fn size_to_human_string(bytes: u64) -> String {
    // get_exp: the largest multiple of 10 with 2^exp <= bytes (0 below 1 KiB).
    let mut exp = 0u32;
    for shft in (10..=60).step_by(10) {
        if bytes < (1u64 << shft) {
            break;
        }
        exp = shft;
    }
    let letter = b"BKMGTPE"[(exp / 10) as usize] as char;
    let (mut dec, mut frac) = if exp == 0 {
        (bytes, 0)
    } else {
        (bytes >> exp, bytes & ((1u64 << exp) - 1))
    };
    if frac != 0 {
        frac = if frac >= u64::MAX / 1000 {
            ((frac / 1024) * 1000) / (1u64 << (exp - 10))
        } else {
            (frac * 1000) / (1u64 << exp)
        };
        frac = (frac + 50) / 100 * 10;
        if frac == 100 {
            dec += 1;
            frac = 0;
        }
    }
    if frac != 0 {
        // "%d.%02d" with the trailing 0 dropped: always one decimal here.
        format!("{dec}.{}{letter}", frac / 10)
    } else {
        format!("{dec}{letter}")
    }
}

/// One block as lsmem reads it (`memory_block_read_attrs`).
struct Blk {
    index: u64,
    count: u64,
    state: BlockState,
    removable: bool,
    node: i32,
    /// lsmem zone names; `None` for a word lsmem does not know (ZONE_UNKNOWN, never merged).
    zones: Vec<Option<&'static str>>,
}

/// lsmem's `zone_names[]`, matched case-insensitively as `valid_zones` words.
fn lsmem_zone(word: &str) -> Option<&'static str> {
    [
        "DMA", "DMA32", "Normal", "Highmem", "Movable", "Device", "None",
    ]
    .into_iter()
    .find(|z| z.eq_ignore_ascii_case(word))
}

/// The blocks of `m` as lsmem would list them with `opts`.
pub fn render_lsmem_with(m: &Machine, opts: &LsmemOptions) -> String {
    let columns = opts.columns();
    let split: Vec<Column> = match &opts.split {
        Some(s) => s.clone(),
        None => columns.iter().copied().filter(|c| c.splits()).collect(),
    };
    let by = |c: Column| split.contains(&c);
    let bs = m.config.block_size;
    let mut rows: Vec<Blk> = Vec::new();
    let (mut online, mut offline) = (0u64, 0u64);
    for b in m.blocks.iter() {
        let zones: Vec<Option<&'static str>> = m
            .blocks
            .valid_zones(b)
            .split_whitespace()
            .map(lsmem_zone)
            .collect();
        let blk = Blk {
            index: b.id,
            count: 1,
            state: b.state,
            removable: b.removable,
            node: b.nid,
            zones,
        };
        if b.state == BlockState::Online {
            online = online.saturating_add(bs);
        } else {
            offline = offline.saturating_add(bs);
        }
        // is_mergeable().
        if let Some(cur) = rows.last_mut()
            && !opts.all
            && cur.index.checked_add(cur.count) == Some(blk.index)
            && !(by(Column::State) && cur.state != blk.state)
            && !(by(Column::Removable) && cur.removable != blk.removable)
            && !(by(Column::Node) && cur.node != blk.node)
            && !(by(Column::Zones)
                && (cur.zones.len() != blk.zones.len()
                    || cur
                        .zones
                        .iter()
                        .zip(&blk.zones)
                        .any(|(a, b)| a.is_none() || a != b)))
        {
            cur.count += 1;
            continue;
        }
        rows.push(blk);
    }
    let cell = |r: &Blk, c: Column| -> String {
        match c {
            Column::Range => {
                let start = r.index.wrapping_mul(bs);
                let end = start.wrapping_add(r.count.wrapping_mul(bs)).wrapping_sub(1);
                format!("0x{start:016x}-0x{end:016x}")
            }
            Column::Size => {
                let n = r.count.saturating_mul(bs);
                if opts.bytes {
                    n.to_string()
                } else {
                    size_to_human_string(n)
                }
            }
            Column::State => match r.state {
                BlockState::Online => "online",
                BlockState::Offline => "offline",
                BlockState::GoingOffline => "on->off",
            }
            .to_string(),
            Column::Removable if r.state == BlockState::Online => {
                if r.removable { "yes" } else { "no" }.to_string()
            }
            Column::Removable => String::new(),
            Column::Block if r.count == 1 => r.index.to_string(),
            Column::Block => format!("{}-{}", r.index, r.index + r.count - 1),
            Column::Node => r.node.to_string(),
            Column::Zones => r
                .zones
                .iter()
                .flatten()
                .copied()
                .collect::<Vec<_>>()
                .join("/"),
        }
    };
    let table: Vec<Vec<String>> = rows
        .iter()
        .map(|r| columns.iter().map(|&c| cell(r, c)).collect())
        .collect();
    let mut out = String::new();
    if opts.want_table {
        match opts.mode {
            Mode::Table => {
                // libsmartcols `count_column_width`: the widest cell; enlarged to the header
                // (`width_min`, counted even with -n); else to the width hint when both the
                // cells and the header are narrower than it (SIZE's 5).
                let width: Vec<usize> = columns
                    .iter()
                    .enumerate()
                    .map(|(i, c)| {
                        let cells = table.iter().map(|r| r[i].len()).max().unwrap_or(0);
                        let header = c.name().len();
                        if cells < header {
                            header
                        } else if cells < c.min_width() && header < c.min_width() {
                            c.min_width()
                        } else {
                            cells
                        }
                    })
                    .collect();
                let line = |cells: Vec<&str>, out: &mut String| {
                    let n = cells.len();
                    for (i, (s, &c)) in cells.into_iter().zip(&columns).enumerate() {
                        if i > 0 {
                            out.push(' ');
                        }
                        let w = width[i];
                        if c.right() {
                            out.push_str(&format!("{s:>w$}"));
                        } else if i + 1 == n {
                            // libsmartcols does not pad a left-aligned last column.
                            out.push_str(s);
                        } else {
                            out.push_str(&format!("{s:<w$}"));
                        }
                    }
                    out.push('\n');
                };
                if !opts.noheadings {
                    line(columns.iter().map(|c| c.name()).collect(), &mut out);
                }
                for row in &table {
                    line(row.iter().map(String::as_str).collect(), &mut out);
                }
            }
            Mode::Raw => {
                let mut line = |cells: Vec<String>| {
                    out.push_str(&cells.join(" "));
                    out.push('\n');
                };
                if !opts.noheadings {
                    line(columns.iter().map(|c| c.name().to_string()).collect());
                }
                for row in &table {
                    line(row.iter().map(|s| raw_escape(s)).collect());
                }
            }
            Mode::Pairs => {
                for row in &table {
                    let cells: Vec<String> = columns
                        .iter()
                        .zip(row)
                        .map(|(c, s)| format!("{}=\"{}\"", c.name(), s.replace('"', "\\x22")))
                        .collect();
                    out.push_str(&cells.join(" "));
                    out.push('\n');
                }
            }
            Mode::Json => {
                out.push_str("{\n   \"memory\": [\n");
                for (k, row) in table.iter().enumerate() {
                    out.push_str(if k == 0 { "      {\n" } else { "},{\n" });
                    for (i, (c, s)) in columns.iter().zip(row).enumerate() {
                        let v = match c {
                            Column::Size if opts.bytes => s.clone(),
                            Column::Node => s.clone(),
                            Column::Removable => (s == "yes").to_string(),
                            _ => serde_json::Value::String(s.clone()).to_string(),
                        };
                        let comma = if i + 1 < row.len() { "," } else { "" };
                        out.push_str(&format!(
                            "         \"{}\": {v}{comma}\n",
                            c.name().to_ascii_lowercase()
                        ));
                    }
                    out.push_str("      ");
                }
                if !table.is_empty() {
                    out.push_str("}\n");
                }
                out.push_str("   ]\n}\n");
            }
        }
        if opts.want_summary {
            out.push('\n');
        }
    }
    if opts.want_summary {
        let lines = [
            ("Memory block size:", bs),
            ("Total online memory:", online),
            ("Total offline memory:", offline),
        ];
        for (label, n) in lines {
            if opts.bytes {
                out.push_str(&format!("{label:<23} {n:>15}\n"));
            } else {
                out.push_str(&format!("{label:<23} {:>5}\n", size_to_human_string(n)));
            }
        }
    }
    out
}

/// libsmartcols raw output escapes blanks and control characters as `\xHH`.
fn raw_escape(s: &str) -> String {
    let mut o = String::with_capacity(s.len());
    for c in s.chars() {
        if c == ' ' || c == '\\' || c == '"' || c.is_control() {
            o.push_str(&format!("\\x{:02x}", c as u32));
        } else {
            o.push(c);
        }
    }
    o
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::kernel::machine::Config;
    use crate::testutil::t0;

    fn p(s: &str) -> Result<LsmemOptions, LsmemArgError> {
        let w: Vec<&str> = s.split_whitespace().collect();
        LsmemOptions::parse(&w)
    }

    #[test]
    fn human_sizes_as_util_linux() {
        // size_to_human_string(SIZE_SUFFIX_1LETTER, …) outputs seen from lsmem 2.38.1:
        // 23 × 128M = 2.875G → "2.9G"; 168 × 128M = 21G; 0 → "0B".
        assert_eq!(size_to_human_string(23 * (128 << 20)), "2.9G");
        assert_eq!(size_to_human_string(168 * (128 << 20)), "21G");
        assert_eq!(size_to_human_string(128 << 20), "128M");
        assert_eq!(size_to_human_string(3 << 29), "1.5G");
        assert_eq!(size_to_human_string(0), "0B");
        assert_eq!(size_to_human_string(1023), "1023B");
        // frac rounds up to 100 → the next integer ("Check for overflow due to rounding").
        assert_eq!(size_to_human_string((3 << 30) - (1 << 20)), "3G");
    }

    #[test]
    fn options_parse_like_getopt_and_print_back() {
        let o = p("-bJ -oRANGE,node --summary=always").unwrap();
        assert_eq!(o.mode, Mode::Json);
        assert!(o.bytes && o.want_summary);
        assert_eq!(o.columns, Some(vec![Column::Range, Column::Node]));
        assert_eq!(p(&o.to_string()).unwrap(), o);
        // -J after --summary=always turns it off again (getopt order).
        let o = p("--summary=always -J").unwrap();
        assert!(!o.want_summary);
        let o = p("--summary").unwrap();
        assert!(!o.want_table && o.want_summary);
        assert_eq!(p(&o.to_string()).unwrap(), o);
        let o = p("-o +NODE").unwrap();
        assert_eq!(o.columns.as_ref().unwrap().len(), 6);
        assert_eq!(p("-o FOO").unwrap_err().index, 0);
        assert!(p("-r -J").is_err());
        assert!(p("--summary=sometimes").is_err());
        assert_eq!(p("-a -x").unwrap_err().index, 1);
        assert_eq!(p("-o").unwrap_err().index, 1);
        assert_eq!(LsmemOptions::default().to_string(), "");
    }

    #[test]
    fn default_merges_by_the_split_columns() {
        let m = Machine::boot(t0(), Config::default());
        let t = render_lsmem_with(&m, &LsmemOptions::default());
        let lines: Vec<&str> = t.lines().collect();
        assert_eq!(
            lines[0],
            "RANGE                                  SIZE  STATE REMOVABLE BLOCK ZONES NODE"
        );
        // memory0 spans DMA and DMA32: valid_zones `none`, lsmem's `None`.
        assert_eq!(
            lines[1],
            "0x0000000000000000-0x0000000007ffffff  128M online       yes     0  None    0"
        );
        assert!(
            lines[2].contains("1-19") && lines[2].contains("2.4G"),
            "{t}"
        );
        assert!(t.ends_with(
            "\nMemory block size:       128M\nTotal online memory:     2.8G\nTotal offline memory:      0B\n"
        ), "{t}");
        // Without ZONES, memory0 merges with 1-19 (lsmem's own default).
        let o = p("-o RANGE,SIZE,STATE,REMOVABLE,BLOCK").unwrap();
        let t = render_lsmem_with(&m, &o);
        assert!(t.lines().nth(1).unwrap().ends_with(" 0-19"), "{t}");
    }
}
