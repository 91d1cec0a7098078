//! `chmem` (util-linux 2.38.1, sys-utils/chmem.c): set a size or a range of memory online or
//! offline by writing each memory block's `state` file, as the real tool does.
//!
//! What it mirrors, function by function:
//! - `main`'s getopt loop (`"bdehvVz:"`, `-d`/`-e` mutually exclusive), then "bad usage"
//!   unless exactly one parameter and `-e` or `-d` were given;
//! - `parse_parameter`: `SIZE` (`strtosize_or_err`, MiB when it ends in a digit, a multiple of
//!   the block size), `0xSTART-0xEND` (both aligned: start and end + 1), or with `-b` a block
//!   number or `FIRST-LAST`; then `start > end` is an invalid range;
//! - the zone name (`zone_name_to_id`, case-insensitive) is checked after the parameter;
//! - `chmem_size`: the first SIZE/blocksize blocks not already in the wanted state, lowest
//!   first to enable, highest first to disable, skipping blocks whose `valid_zones` does not
//!   name the zone; `chmem_range`: every block of the range, "Zone mismatch" for the others;
//! - without `-z`, enabling writes `online_movable` where `valid_zones` names Movable, else
//!   `online` (the "By default, use zone Movable" branch); `-z Movable` writes
//!   `online_movable`, any other zone `online_kernel`;
//! - messages: `warn` (`chmem: … enable failed: <strerror>`), `warnx`, `-v` lines on stdout;
//!   exit status 0, 1 when nothing was done, 64 (`CHMEM_EXIT_SOMEOK`) when part was.
//!
//! Every `state` write is [`super::sysfs`]'s `echo WORD > …/memoryN/state`: the kernel's
//! `state_store` decides, exactly as for a write typed by hand.
//!
//! The argument parser is getopt's grammar by hand (bundled short options, `--opt=value`,
//! `-zNAME`) because chmem's error words are glibc getopt's ("invalid option -- 'x'"), which
//! clap does not print. `strtosize` takes an integer (strtoumax base 0) with an optional
//! K/M/G/T/P/E suffix, a decimal fraction (`1.5G`) and optional `iB`/`B`, computed as
//! util-linux computes it (`parse_size`).

use super::sysfs::{SysfsWrite, Target};
use super::{ToolParseError, ToolRun, strerror, tool_error};
use crate::kernel::machine::Machine;
use crate::kernel::{Errno, Trace};
use crate::render::lsmem::size_to_human_string;
use std::fmt;

/// `CHMEM_EXIT_SOMEOK`: part of the request was done.
pub const EXIT_SOMEOK: i32 = 64;

const TRY_HELP: &str = "Try 'chmem --help' for more information.";

/// `zone_names[]` in `enum zone_id` order.
const ZONE_NAMES: [&str; 6] = ["DMA", "DMA32", "Normal", "Highmem", "Movable", "Device"];

/// `usage()` with util-linux's USAGE_* macros, as `chmem --help` prints it (2.38.1).
pub const HELP: &str = "
Usage:
 chmem [options] [SIZE|RANGE|BLOCKRANGE]

Set a particular size or range of memory online or offline.

Options:
 -e, --enable       enable memory
 -d, --disable      disable memory
 -b, --blocks       use memory blocks
 -z, --zone <name>  select memory zone (see below)
 -v, --verbose      verbose output
 -h, --help         display this help
 -V, --version      display version

Supported zones:
 DMA
 DMA32
 Normal
 Highmem
 Movable
 Device

For more details see chmem(8).";

/// `print_version`.
pub const VERSION: &str = "chmem from util-linux 2.38.1";

/// A parsed `chmem` command line (the parameter is read against the block size when it runs,
/// as the real tool reads `block_size_bytes` first).
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct Chmem {
    pub argv: Vec<String>,
    pub enable: bool,
    pub blocks: bool,
    pub verbose: bool,
    pub zone: Option<String>,
    pub param: String,
}

/// What `parse` found instead of a command to run.
pub enum Asked {
    Help,
    Version,
}

fn usage_error(first: impl Into<String>) -> ToolParseError {
    ToolParseError(format!("chmem: {}\n{TRY_HELP}", first.into()))
}

/// Parse `chmem …` (`argv[0]` = "chmem"). `Err` holds the tool's usage message; `-h`/`-V`
/// come back as `Ok(Err(Asked))` so that the caller prints them with status 0.
pub fn parse(argv: &[String]) -> Result<Result<Chmem, Asked>, ToolParseError> {
    const LONG: [(&str, char); 7] = [
        ("blocks", 'b'),
        ("disable", 'd'),
        ("enable", 'e'),
        ("help", 'h'),
        ("verbose", 'v'),
        ("version", 'V'),
        ("zone", 'z'),
    ];
    // getopt's pass: options in order (a refusal is an event too, so that an earlier `-h`
    // still wins), parameters anywhere (GNU getopt permutes them to the end).
    enum Ev {
        Opt(char, Option<String>),
        Refused(String),
    }
    let mut events = Vec::new();
    let mut positional: Vec<String> = Vec::new();
    let mut i = 1;
    while let Some(a) = argv.get(i) {
        i += 1;
        if a == "--" {
            positional.extend(argv[i..].iter().cloned());
            break;
        }
        if let Some(long) = a.strip_prefix("--") {
            let (name, inline) = match long.split_once('=') {
                Some((n, v)) => (n, Some(v.to_string())),
                None => (long, None),
            };
            // getopt_long: an exact name, else any unambiguous prefix.
            let hits: Vec<&(&str, char)> = match LONG.iter().find(|(l, _)| *l == name) {
                Some(exact) => vec![exact],
                None => LONG.iter().filter(|(l, _)| l.starts_with(name)).collect(),
            };
            let ev = match hits.as_slice() {
                [] => Ev::Refused(format!("unrecognized option '{a}'")),
                [(full, 'z')] => match inline.or_else(|| {
                    let v = argv.get(i).cloned();
                    i += usize::from(v.is_some());
                    v
                }) {
                    Some(v) => Ev::Opt('z', Some(v)),
                    None => Ev::Refused(format!("option '--{full}' requires an argument")),
                },
                [(full, c)] if inline.is_none() => Ev::Opt(*c, None),
                [(full, _)] => Ev::Refused(format!("option '--{full}' doesn't allow an argument")),
                many => {
                    let names: Vec<String> = many.iter().map(|(l, _)| format!("'--{l}'")).collect();
                    Ev::Refused(format!(
                        "option '{a}' is ambiguous; possibilities: {}",
                        names.join(" ")
                    ))
                }
            };
            events.push(ev);
        } else if a.len() > 1 && a.starts_with('-') {
            let chars: Vec<char> = a[1..].chars().collect();
            for (k, &c) in chars.iter().enumerate() {
                if c == 'z' {
                    let rest: String = chars[k + 1..].iter().collect();
                    let value = if rest.is_empty() {
                        let v = argv.get(i).cloned();
                        i += usize::from(v.is_some());
                        v
                    } else {
                        Some(rest)
                    };
                    events.push(match value {
                        Some(v) => Ev::Opt('z', Some(v)),
                        None => Ev::Refused("option requires an argument -- 'z'".into()),
                    });
                    break;
                }
                events.push(if "bdehvV".contains(c) {
                    Ev::Opt(c, None)
                } else {
                    Ev::Refused(format!("invalid option -- '{c}'"))
                });
            }
        } else {
            positional.push(a.clone());
        }
    }

    let (mut enable, mut disable) = (false, false);
    let (mut blocks, mut verbose, mut zone) = (false, false, None);
    for ev in events {
        match ev {
            Ev::Refused(why) => return Err(usage_error(why)),
            // err_exclusive_options: the second of -d/-e names both (longopts order).
            Ev::Opt('e', _) if disable => return Err(exclusive()),
            Ev::Opt('d', _) if enable => return Err(exclusive()),
            Ev::Opt('e', _) => enable = true,
            Ev::Opt('d', _) => disable = true,
            Ev::Opt('b', _) => blocks = true,
            Ev::Opt('v', _) => verbose = true,
            Ev::Opt('z', v) => zone = v,
            Ev::Opt('h', _) => return Ok(Err(Asked::Help)),
            Ev::Opt(_, _) => return Ok(Err(Asked::Version)),
        }
    }
    if positional.len() != 1 || !(enable || disable) {
        return Err(usage_error("bad usage"));
    }
    Ok(Ok(Chmem {
        argv: argv.to_vec(),
        enable,
        blocks,
        verbose,
        zone,
        param: positional.remove(0),
    }))
}

fn exclusive() -> ToolParseError {
    ToolParseError("chmem: mutually exclusive arguments: --disable --enable".into())
}

impl fmt::Display for Chmem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&super::shell_words(&self.argv))
    }
}

/// What the parameter asks for, in memory blocks.
#[derive(Debug, PartialEq, Eq)]
enum Param {
    /// `chmem_size`: this many blocks.
    Size(u64),
    /// `chmem_range`: blocks `first..=last`.
    Range(u64, u64),
}

/// `strtoumax(s, &end, 0)` as glibc reads it: leading blanks, an optional sign, then `0x` hex,
/// `0` octal or decimal digits. `(value, end)`; `end == 0` when no digit was read; a value
/// past `u64::MAX` is `Err(ERANGE)` (glibc: `UINTMAX_MAX`, errno `ERANGE`).
fn strtoumax0(b: &[u8]) -> Result<(u64, usize), Errno> {
    let mut i = 0;
    while b.get(i).is_some_and(|c| c.is_ascii_whitespace()) {
        i += 1;
    }
    if matches!(b.get(i), Some(b'+' | b'-')) {
        i += 1;
    }
    let (radix, mut j) = match (b.get(i), b.get(i + 1), b.get(i + 2)) {
        (Some(b'0'), Some(b'x' | b'X'), Some(c)) if c.is_ascii_hexdigit() => (16, i + 2),
        (Some(b'0'), _, _) => (8, i),
        _ => (10, i),
    };
    let first = j;
    let mut v: u64 = 0;
    let mut overflow = false;
    while let Some(d) = b.get(j).and_then(|&c| (c as char).to_digit(radix)) {
        match v
            .checked_mul(u64::from(radix))
            .and_then(|x| x.checked_add(u64::from(d)))
        {
            Some(x) => v = x,
            None => overflow = true,
        }
        j += 1;
    }
    if j == first {
        return Ok((0, 0));
    }
    if overflow {
        return Err(Errno::ERANGE);
    }
    Ok((v, j))
}

/// `parse_size` (util-linux 2.38.1 lib/strutils.c), what chmem's `strtosize_or_err` calls:
/// a number as `strtoumax(…, 0)` reads it (decimal, `0x` hex, `0` octal), an optional decimal
/// fraction (`1.5G`, the C locale's `.`), then K M G T P E Z Y (either case), then nothing
/// (powers of 1024), `iB` (1024) or `B` (1000). The fraction is added digit by digit as the C
/// adds it, with its integer divisions and its divisor (`0.25G` is 268435455 bytes, `0.10G`
/// is 1 GiB): what the tool computes, not what the words mean. `Err` is the errno
/// `strtosize_or_err` reports (EINVAL, ERANGE).
fn parse_size(s: &str) -> Result<u64, Errno> {
    const SUF: &[u8] = b"KMGTPEZY";
    const SUF2: &[u8] = b"kmgtpezy";
    let b = s.as_bytes();
    // Past the end reads as NUL, as the C's `*(p + 1)` does within its string.
    let at = |k: usize| b.get(k).copied().unwrap_or(0);
    if b.is_empty() {
        return Err(Errno::EINVAL);
    }
    let lead = b.iter().take_while(|c| c.is_ascii_whitespace()).count();
    if at(lead) == b'-' {
        return Err(Errno::EINVAL);
    }
    let (mut x, end) = strtoumax0(b)?;
    if end == 0 {
        return Err(Errno::EINVAL);
    }
    if end == b.len() {
        return Ok(x);
    }
    let mut p = end;
    let mut frac: u64 = 0;
    let mut frac_zeros = 0u32;
    let mut base: u64 = 1024;
    loop {
        // check_suffix:
        if at(p + 1) == b'i' && matches!(at(p + 2), b'B' | b'b') && at(p + 3) == 0 {
            base = 1024;
        } else if matches!(at(p + 1), b'B' | b'b') && at(p + 2) == 0 {
            base = 1000;
        } else if at(p + 1) != 0 {
            if frac == 0 && at(p) == b'.' {
                let mut q = p + 1;
                while at(q) == b'0' {
                    frac_zeros += 1;
                    q += 1;
                }
                let fend = if at(q).is_ascii_digit() {
                    let (f, e) = strtoumax0(&b[q..])?;
                    if e == 0 {
                        return Err(Errno::EINVAL);
                    }
                    frac = f;
                    q + e
                } else {
                    q
                };
                if fend >= b.len() {
                    // "without suffix, but with frac" (-EINVAL). With a zero fraction (`1.0`)
                    // the C reads the byte past the string's NUL, which in argv is the next
                    // word's first: -EINVAL too, as the built tool answers.
                    return Err(Errno::EINVAL);
                }
                p = fend;
                continue;
            }
            return Err(Errno::EINVAL);
        }
        break;
    }
    // strchr(suf, *p): a NUL matches the terminator (power 9).
    let c = at(p);
    let pwr = match SUF.iter().position(|&u| u == c) {
        Some(k) => k as u32 + 1,
        None if c == 0 => SUF.len() as u32 + 1,
        None => match SUF2.iter().position(|&u| u == c) {
            Some(k) => k as u32 + 1,
            None => return Err(Errno::EINVAL),
        },
    };
    // do_scale_by_power
    let scale = |v: &mut u64| -> Result<(), Errno> {
        for _ in 0..pwr {
            *v = v.checked_mul(base).ok_or(Errno::ERANGE)?;
        }
        Ok(())
    };
    let rc = scale(&mut x);
    if frac != 0 {
        let mut frac_base: u64 = 1;
        let _ = scale(&mut frac_base);
        let (mut frac_div, mut frac_poz): (u64, u64) = (10, 1);
        while frac_div < frac {
            if frac_div <= u64::MAX / 10 {
                frac_div *= 10;
            } else {
                frac /= 10;
            }
        }
        for _ in 0..frac_zeros {
            if frac_div <= u64::MAX / 10 {
                frac_div *= 10;
            } else {
                frac /= 10;
            }
        }
        loop {
            let seg = frac % 10;
            let seg_div = frac_div / frac_poz;
            frac /= 10;
            frac_poz = frac_poz.saturating_mul(10);
            if seg != 0 && seg_div / seg != 0 {
                x = x.wrapping_add(frac_base / (seg_div / seg));
            }
            if frac == 0 {
                break;
            }
        }
    }
    rc.map(|()| x)
}

/// `parse_parameter` against the machine's block size: `Err` is the tool's message.
fn parse_parameter(c: &Chmem, block_size: u64) -> Result<Param, String> {
    let human_bs = size_to_human_string(block_size);
    let split: Vec<&str> = c.param.split('-').collect();
    let p = match split.as_slice() {
        [one] if c.blocks => {
            let n = ul_strtou64(one).ok_or(format!("Failed to parse block number: '{one}'"))?;
            Param::Range(n, n)
        }
        [one] => {
            let mut size = parse_size(one)
                .map_err(|e| format!("Failed to parse size: '{one}': {}", strerror(e)))?;
            if one.ends_with(|ch: char| ch.is_ascii_digit()) {
                size = size.wrapping_mul(1024 * 1024);
            }
            if !size.is_multiple_of(block_size) {
                return Err(format!(
                    "Size must be aligned to memory block size ({human_bs})"
                ));
            }
            Param::Size(size / block_size)
        }
        [a, b] if c.blocks => {
            let s = ul_strtou64(a).ok_or(format!("Failed to parse start: '{a}'"))?;
            let e = ul_strtou64(b).ok_or(format!("Failed to parse end: '{b}'"))?;
            Param::Range(s, e)
        }
        [a, b] => {
            if a.len() < 2 || a.as_bytes()[1] != b'x' {
                return Err(format!("Invalid start address format: {a}"));
            }
            if b.len() < 2 || b.as_bytes()[1] != b'x' {
                return Err(format!("Invalid end address format: {b}"));
            }
            let s = strtox64(a).ok_or(format!("Failed to parse start address: '{a}'"))?;
            let e = strtox64(b).ok_or(format!("Failed to parse end address: '{b}'"))?;
            if !s.is_multiple_of(block_size) || !e.wrapping_add(1).is_multiple_of(block_size) {
                return Err(format!(
                    "Start address and (end address + 1) must be aligned to memory block size \
                     ({human_bs})"
                ));
            }
            Param::Range(s / block_size, e / block_size)
        }
        _ => return Err(format!("Invalid parameter: {}", c.param)),
    };
    match p {
        Param::Range(s, e) if s > e => Err(format!("Invalid range: {}", c.param)),
        p => Ok(p),
    }
}

/// `ul_strtou64(s, base 10)`: digits only (a leading `-` is refused).
fn ul_strtou64(s: &str) -> Option<u64> {
    // u64's parse takes digits with an optional `+`, as strtoumax does after the blanks.
    s.trim_start().parse().ok()
}

/// `strtox64_or_err`: hex, with or without `0x`.
fn strtox64(s: &str) -> Option<u64> {
    let t = s
        .strip_prefix("0x")
        .or_else(|| s.strip_prefix("0X"))
        .unwrap_or(s);
    u64::from_str_radix(t, 16).ok()
}

/// `idxtostr`.
fn idxtostr(idx: u64, block_size: u64) -> String {
    let start = idx.wrapping_mul(block_size);
    let end = start.wrapping_add(block_size).wrapping_sub(1);
    format!("Memory Block {idx} (0x{start:016x}-0x{end:016x})")
}

/// `c_strcasestr` of a zone name in a `valid_zones` line.
fn names_zone(line: &str, zone: &str) -> bool {
    line.to_ascii_lowercase()
        .contains(&zone.to_ascii_lowercase())
}

/// Run `chmem` on `m`: each block's `state` written in the tool's order.
pub fn run(m: &mut Machine, c: &Chmem, trace: &mut Trace) -> ToolRun {
    let mut r = ToolRun::default();
    let bs = m.config.block_size;
    let refuse = |r: &mut ToolRun, words: String| {
        r.error = Some(tool_error(Errno::EINVAL, "chmem", words));
    };
    let param = match parse_parameter(c, bs) {
        Ok(p) => p,
        Err(words) => {
            refuse(&mut r, words);
            return r;
        }
    };
    // valid_zones exists on every kernel modelled (since 3.18): have_zones.
    let zone_id = match &c.zone {
        None => None,
        Some(z) => match ZONE_NAMES.iter().position(|n| n.eq_ignore_ascii_case(z)) {
            Some(i) => Some(i),
            None => {
                refuse(&mut r, format!("unknown memory zone: {z}\n{TRY_HELP}"));
                return r;
            }
        },
    };
    let mut onoff = match (c.enable, zone_id) {
        (false, _) => "offline",
        (true, Some(4)) => "online_movable",
        (true, Some(_)) => "online_kernel",
        (true, None) => "online",
    };
    let ids: Vec<u64> = m.blocks.iter().map(|b| b.id).collect();
    let (what, done_word) = if c.enable {
        ("enable", "enabled")
    } else {
        ("disable", "disabled")
    };
    let mut last_errno = Errno::EINVAL;
    let mut logs = Vec::new();
    let mut done = 0u64;
    let (wanted, order): (u64, Vec<u64>) = match param {
        Param::Size(n) if c.enable => (n, ids),
        Param::Size(n) => (n, ids.into_iter().rev().collect()),
        // Saturating where the C's uint64_t `end - start + 1` would wrap (0-UINT64_MAX).
        Param::Range(s, e) => (
            (e - s).saturating_add(1),
            ids.into_iter().filter(|&i| i >= s && i <= e).collect(),
        ),
    };
    let is_size = matches!(param, Param::Size(_));
    let mut todo = wanted;
    for idx in order {
        if is_size && todo == 0 {
            break;
        }
        let Some(b) = m.blocks.get(idx) else { continue };
        let state = b.state.as_str();
        let line = m.blocks.valid_zones(b);
        let str = idxtostr(idx, bs);
        // strncmp(onoff, state, 6): "online…" matches any online state.
        if state.as_bytes().get(..6) == onoff.as_bytes().get(..6) {
            if !is_size {
                if c.verbose {
                    r.say(format!("{str} already {done_word}"));
                }
                todo -= 1;
            }
            continue;
        }
        if let Some(z) = zone_id {
            let zn = ZONE_NAMES[z];
            let mismatch = if c.enable {
                !names_zone(&line, zn)
            } else {
                !line
                    .to_ascii_lowercase()
                    .starts_with(&zn.to_ascii_lowercase())
            };
            if mismatch {
                if !is_size {
                    r.say(format!("chmem: {str} {what} failed: Zone mismatch"));
                }
                continue;
            }
        } else if c.enable {
            onoff = if names_zone(&line, "Movable") {
                "online_movable"
            } else {
                "online"
            };
        }
        let write = SysfsWrite {
            word: onoff.to_string(),
            path: format!("/sys/devices/system/memory/memory{idx}/state"),
            target: Target::MemoryState(idx),
        };
        let w = super::sysfs::run(m, &write, trace);
        match w.error {
            Some(e) => {
                last_errno = e.errno;
                r.say(format!("chmem: {str} {what} failed: {}", strerror(e.errno)));
                logs.extend(e.log);
            }
            None => {
                if c.verbose {
                    r.say(format!("{str} {done_word}"));
                }
                todo -= 1;
                done += 1;
            }
        }
    }
    if is_size && todo > 0 {
        let bytes = (wanted - todo) * bs;
        r.say(format!(
            "chmem: Could only {what} {} of memory",
            size_to_human_string(bytes)
        ));
    }
    if todo == 0 {
        r.error = None;
    } else {
        let status = if todo == wanted { 1 } else { EXIT_SOMEOK };
        let mut e = tool_error(
            last_errno,
            "chmem",
            format!("exit status {status}: {todo} of {wanted} memory block(s) not {done_word}"),
        );
        e.log = (!logs.is_empty()).then(|| logs.join("\n"));
        r.error = Some(e);
        r.partial = done > 0;
    }
    r
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::kernel::machine::{AddOptions, Config};
    use crate::kernel::memory::{BlockState, Zone};
    use crate::testutil::t0;

    fn argv(line: &str) -> Vec<String> {
        shlex::split(line).expect("words")
    }
    fn parsed(line: &str) -> Chmem {
        match parse(&argv(line)) {
            Ok(Ok(c)) => c,
            _ => panic!("{line} did not parse"),
        }
    }

    #[test]
    fn usage_errors_are_the_real_tools_words() {
        // Each message is what util-linux 2.38.1's chmem printed on this project's build
        // machine for the same argv (Debian bookworm, `chmem from util-linux 2.38.1`).
        let try_help = "\nTry 'chmem --help' for more information.";
        for (line, want) in [
            ("chmem", format!("chmem: bad usage{try_help}")),
            ("chmem -e", format!("chmem: bad usage{try_help}")),
            ("chmem -e -b", format!("chmem: bad usage{try_help}")),
            ("chmem -e 5 6", format!("chmem: bad usage{try_help}")),
            (
                "chmem -e -d 1",
                "chmem: mutually exclusive arguments: --disable --enable".into(),
            ),
            (
                "chmem -e -e 128M -v -d",
                "chmem: mutually exclusive arguments: --disable --enable".into(),
            ),
            (
                "chmem -x",
                format!("chmem: invalid option -- 'x'{try_help}"),
            ),
            (
                "chmem --v",
                format!(
                    "chmem: option '--v' is ambiguous; possibilities: '--verbose' '--version'{try_help}"
                ),
            ),
            (
                "chmem --foo",
                format!("chmem: unrecognized option '--foo'{try_help}"),
            ),
            (
                "chmem --zone",
                format!("chmem: option '--zone' requires an argument{try_help}"),
            ),
            (
                "chmem -z",
                format!("chmem: option requires an argument -- 'z'{try_help}"),
            ),
            (
                "chmem -ebz",
                format!("chmem: option requires an argument -- 'z'{try_help}"),
            ),
            (
                "chmem --enable=1",
                format!("chmem: option '--enable' doesn't allow an argument{try_help}"),
            ),
        ] {
            match parse(&argv(line)) {
                Err(e) => assert_eq!(e.0, want, "{line}"),
                Ok(_) => panic!("{line} parsed"),
            }
        }
        // `--dis 5` is `--disable 5` (a getopt_long prefix); `-zMovable`, `-evb`, `--zone=x`.
        let c = parsed("chmem --dis 5");
        assert!(!c.enable && c.param == "5");
        let c = parsed("chmem -evb -zMovable 3");
        assert!(c.enable && c.verbose && c.blocks && c.zone.as_deref() == Some("Movable"));
        assert_eq!(
            parsed("chmem -e --zone=normal 1G").zone.as_deref(),
            Some("normal")
        );
        // `--zone NAME` takes the next word; `-` alone is a parameter, as getopt has it.
        let c = parsed("chmem -e --zone Movable 1G");
        assert_eq!(
            (c.zone.as_deref(), c.param.as_str()),
            (Some("Movable"), "1G")
        );
        assert_eq!(parsed("chmem -e -").param, "-");
        // -d then -e: the same message, both names in longopts order.
        match parse(&argv("chmem -d -e 1")) {
            Err(e) => assert_eq!(
                e.0,
                "chmem: mutually exclusive arguments: --disable --enable"
            ),
            Ok(_) => panic!("-d -e parsed"),
        }
        assert!(matches!(parse(&argv("chmem -h -x")), Ok(Err(Asked::Help))));
        assert!(matches!(parse(&argv("chmem -V")), Ok(Err(Asked::Version))));
    }

    #[test]
    fn parameters_as_parse_parameter_reads_them() {
        // Real 2.38.1 words for the refusals (block size 128M, as on the build machine).
        let bs = 128 << 20;
        let p = |line: &str| parse_parameter(&parsed(line), bs);
        let aligned = "Size must be aligned to memory block size (128M)";
        for (line, want) in [
            (
                "chmem -e xyz",
                "Failed to parse size: 'xyz': Invalid argument",
            ),
            ("chmem -e 100M", aligned),
            // `--dis 5`: a bare number is MiB (`isdigit(str[strlen(str) - 1])`).
            ("chmem --dis 5", aligned),
            ("chmem -b -e abc", "Failed to parse block number: 'abc'"),
            (
                "chmem -e 0x10-0x20",
                "Start address and (end address + 1) must be aligned to memory block size (128M)",
            ),
            ("chmem -e 1-2-3", "Invalid parameter: 1-2-3"),
            (
                "chmem -e 0x100000000-0xfffffff",
                "Invalid range: 0x100000000-0xfffffff",
            ),
            ("chmem -b -e 5-3", "Invalid range: 5-3"),
            ("chmem -e 0-0x7ffffff", "Invalid start address format: 0"),
            ("chmem -e 0x0-f", "Invalid end address format: f"),
            (
                "chmem -e 0x-0x7ffffff",
                "Failed to parse start address: '0x'",
            ),
            (
                "chmem -e 0x0-0x100",
                "Start address and (end address + 1) must be aligned to memory block size (128M)",
            ),
            (
                "chmem -e 100000000-10fffffff",
                "Invalid start address format: 100000000",
            ),
        ] {
            assert_eq!(p(line), Err(want.to_string()), "{line}");
        }
        // What they ask for.
        assert_eq!(p("chmem -e 256"), Ok(Param::Size(2)));
        assert_eq!(p("chmem -e 1G"), Ok(Param::Size(8)));
        assert_eq!(p("chmem -e 1GiB"), Ok(Param::Size(8)));
        // A hex size ending in a digit is MiB too: 0x8000000 MiB (the C tests the last char).
        assert_eq!(p("chmem -e 0x8000000"), Ok(Param::Size(1 << 20)));
        assert_eq!(
            p("chmem -e 0x100000000-0x10fffffff"),
            Ok(Param::Range(32, 33))
        );
        assert_eq!(p("chmem -b -d 7"), Ok(Param::Range(7, 7)));
        assert_eq!(p("chmem -b -d 7-9"), Ok(Param::Range(7, 9)));
        // parse_size: base-0 numbers, K…E suffixes, iB (1024) or B (1000).
        assert_eq!(parse_size("0x10K"), Ok(16 << 10));
        assert_eq!(parse_size("010"), Ok(8));
        assert_eq!(parse_size("0"), Ok(0));
        assert_eq!(parse_size("2MB"), Ok(2_000_000));
        assert_eq!(parse_size("2mb"), Ok(2_000_000));
        assert_eq!(parse_size("3m"), Ok(3 << 20));
        assert_eq!(parse_size("3MiB"), Ok(3 << 20));
        assert_eq!(parse_size("1Q"), Err(Errno::EINVAL));
        assert_eq!(parse_size(""), Err(Errno::EINVAL));
        assert_eq!(parse_size("-1M"), Err(Errno::EINVAL));
        assert_eq!(parse_size("16E"), Err(Errno::ERANGE));
        assert_eq!(parse_size("99999999999999999999"), Err(Errno::ERANGE));
    }

    /// The fraction as parse_size adds it (each value worked by hand through the C, then
    /// checked against util-linux 2.38.1's lib/strutils.c built with `HAVE_LOCALE_H` and run
    /// on these words):
    /// `frac_base / (seg_div / seg)` per digit from the last, integer divisions throughout,
    /// `frac_div` the first power of ten not below the digits (so `0.10` is read as `1.0`).
    #[test]
    fn fractions_as_util_linux_computes_them() {
        const G: u64 = 1 << 30;
        assert_eq!(parse_size("1.5G"), Ok(G + G / 2));
        assert_eq!(parse_size("0.5G"), Ok(G / 2));
        assert_eq!(parse_size("0.25G"), Ok(G / 20 + G / 5));
        assert_eq!(
            parse_size("0.25G"),
            Ok(268_435_455),
            "one byte short of 256 MiB"
        );
        assert_eq!(parse_size("0.10G"), Ok(G));
        assert_eq!(parse_size("0.05G"), Ok(G / 20));
        assert_eq!(parse_size("0.3G"), Ok(G / 3));
        assert_eq!(parse_size("1.5MiB"), Ok((1 << 20) + (1 << 19)));
        assert_eq!(parse_size("1.5GB"), Ok(1_500_000_000));
        assert_eq!(
            parse_size("1.5"),
            Err(Errno::EINVAL),
            "a fraction needs a suffix"
        );
        assert_eq!(parse_size("1.0"), Err(Errno::EINVAL));
        assert_eq!(parse_size("0.0"), Err(Errno::EINVAL));
        assert_eq!(
            parse_size("0x1.8G"),
            Ok(2 * G),
            "the fraction's 8 read as one unit"
        );
        assert_eq!(parse_size("0.125G"), Ok(134_217_727));
        assert_eq!(parse_size("2.75M"), Ok(3_198_156));
        assert_eq!(parse_size("1.5.5G"), Err(Errno::EINVAL));
        assert_eq!(parse_size("1,5G"), Err(Errno::EINVAL));
    }

    /// T0 with four hot-added, offline blocks at 4 GiB (32–35; valid_zones "Normal Movable").
    fn machine() -> Machine {
        let mut m = Machine::boot(t0(), Config::default());
        m.add_memory(
            0,
            0x1_0000_0000,
            512 << 20,
            &AddOptions::default(),
            &mut Trace::new(),
        )
        .expect("hot-add");
        m
    }
    fn run_line(m: &mut Machine, line: &str) -> ToolRun {
        run(m, &parsed(line), &mut Trace::new())
    }
    fn state(m: &Machine, n: u64) -> (BlockState, Option<Zone>) {
        let b = m.blocks.get(n).expect("block");
        (b.state, b.zone)
    }

    #[test]
    fn a_range_onlines_movable_by_default_and_says_what_it_did() {
        // chmem_range: "By default, use zone Movable for online, if valid"; `-v` prints
        // "%s enabled" with idxtostr's "Memory Block %lu (0x%016lx-0x%016lx)".
        let mut m = machine();
        let r = run_line(&mut m, "chmem -v -e 0x100000000-0x10fffffff");
        assert!(r.error.is_none(), "{:?}", r.error);
        assert_eq!(
            r.output,
            "Memory Block 32 (0x0000000100000000-0x0000000107ffffff) enabled\n\
             Memory Block 33 (0x0000000108000000-0x000000010fffffff) enabled\n"
        );
        assert_eq!(state(&m, 32), (BlockState::Online, Some(Zone::Movable)));
        assert_eq!(state(&m, 34).0, BlockState::Offline);
        // Again: "already enabled", no write, status 0.
        let r = run_line(&mut m, "chmem -v -b -e 32-33");
        assert!(r.error.is_none());
        assert_eq!(
            r.output,
            "Memory Block 32 (0x0000000100000000-0x0000000107ffffff) already enabled\n\
             Memory Block 33 (0x0000000108000000-0x000000010fffffff) already enabled\n"
        );
        // -z Normal writes online_kernel; -z DMA32 does not match valid_zones: a warnx.
        let r = run_line(&mut m, "chmem -z Normal -b -e 34");
        assert!(r.error.is_none(), "{:?}", r.error);
        assert_eq!(state(&m, 34), (BlockState::Online, Some(Zone::Normal)));
        let r = run_line(&mut m, "chmem -z dma32 -b -e 35");
        assert_eq!(
            r.output,
            "chmem: Memory Block 35 (0x0000000118000000-0x000000011fffffff) enable failed: Zone mismatch\n"
        );
        assert!(r.error.is_some() && !r.partial);
        assert_eq!(state(&m, 35).0, BlockState::Offline);
    }

    #[test]
    fn a_size_takes_the_lowest_blocks_to_enable_and_the_highest_to_disable() {
        // chmem_size: `i = enable ? 0 : desc->ndirs - 1`, skipping blocks already in the state,
        // until `size` blocks were changed; "Could only %s %s of memory" when it ran out.
        let mut m = machine();
        let r = run_line(&mut m, "chmem -e 256M");
        assert!(r.error.is_none() && r.output.is_empty(), "{r:?}");
        assert_eq!(
            (state(&m, 32).0, state(&m, 33).0),
            (BlockState::Online, BlockState::Online)
        );
        assert_eq!(state(&m, 34).0, BlockState::Offline);
        // Disable 128M: the highest-numbered block not already offline (33; 34 and 35 are).
        let r = run_line(&mut m, "chmem -v -d 128M");
        assert!(r.error.is_none(), "{r:?}");
        assert_eq!(
            r.output,
            "Memory Block 33 (0x0000000108000000-0x000000010fffffff) disabled\n"
        );
        // 1G = 8 blocks, but only 35, 34, 33 are offline: 384M, status 64, kept.
        let r = run_line(&mut m, "chmem -e 1G");
        assert_eq!(r.output, "chmem: Could only enable 384M of memory\n");
        let e = r.error.expect("status 64");
        assert!(e.reason.starts_with("exit status 64"), "{}", e.reason);
        assert!(r.partial);
        assert!((32..=35).all(|n| state(&m, n).0 == BlockState::Online));
    }

    #[test]
    fn a_refused_state_write_is_warned_with_strerror_and_nothing_done_is_status_1() {
        // Block 0 spans DMA and DMA32 (valid_zones "none"): offline_pages refuses it, and
        // chmem_range says `warn("%s disable failed")`, errno's words after the colon.
        let mut m = machine();
        let r = run_line(&mut m, "chmem -b -d 0");
        let e = r.error.expect("refused");
        assert!(e.reason.starts_with("exit status 1"), "{}", e.reason);
        assert!(!r.partial);
        // The kernel's own line for the failed write is kept (offline_pages' reason).
        assert!(
            e.log
                .as_deref()
                .is_some_and(|l| l.contains("failed due to multizone range")),
            "{:?}",
            e.log
        );
        assert!(
            r.output.starts_with(
                "chmem: Memory Block 0 (0x0000000000000000-0x0000000007ffffff) disable failed: "
            ),
            "{}",
            r.output
        );
        assert_eq!(state(&m, 0).0, BlockState::Online);
        // With -z, a block whose valid_zones does not start with the zone is not written:
        // `c_strncasecmp(line, zn, strlen(zn)) != 0` → "disable failed: Zone mismatch".
        let r = run_line(&mut m, "chmem -z Movable -b -d 0");
        assert_eq!(
            r.output,
            "chmem: Memory Block 0 (0x0000000000000000-0x0000000007ffffff) disable failed: Zone mismatch\n"
        );
        // A block online in Movable is offlined by -z movable (case does not matter).
        run_line(&mut m, "chmem -b -e 32");
        let r = run_line(&mut m, "chmem -z movable -b -d 32");
        assert!(r.error.is_none(), "{r:?}");
        assert_eq!(state(&m, 32).0, BlockState::Offline);
    }

    use proptest::prelude::*;

    proptest::proptest! {
        /// Any argv of chmem-like words parses or is refused, and runs without a panic.
        #[test]
        fn any_words_parse_or_are_refused_and_run_without_panicking(
            words in proptest::collection::vec(
                proptest::prop_oneof![
                    proptest::sample::select(vec![
                        "-e", "-d", "-b", "-v", "-z", "-zMovable", "--zone=dma", "--en", "--",
                        "-", "-evb", "0", "32", "35-32", "0-18446744073709551615", "1G", "0x0-0x",
                        "0x100000000-0x11fffffff", "-1", "18446744073709551615M", "0x-0x1", "7E",
                    ]).prop_map(String::from),
                    "[-0-9a-zA-Z=x]{0,6}",
                ],
                0..6,
            )
        ) {
            let mut argv = vec!["chmem".to_string()];
            argv.extend(words);
            if let Ok(Ok(c)) = parse(&argv) {
                let mut m = machine();
                let _ = run(&mut m, &c, &mut Trace::new());
            }
        }
    }

    #[test]
    fn the_widest_block_range_neither_overflows_nor_changes_what_is_done() {
        let mut m = machine();
        let r = run_line(&mut m, "chmem -b -e 0-18446744073709551615");
        // Blocks 32-35 onlined, the rest were online; the range names absent blocks: status 64.
        assert!(r.partial, "{r:?}");
        assert!((32..=35).all(|n| state(&m, n).0 == BlockState::Online));
    }
}
