//! `iomem-sim capture`: one self-describing text file holding every answer the live reader
//! ([`crate::live`]) got from a machine, so that `-i FILE` on any other machine reads exactly
//! the same state (the bundle answers the same questions with the same bytes). The format is
//! documented in `docs/capture.md`; this module is its only reader and writer.
//!
//! ```text
//! iomem-sim capture 1
//! captured 2026-12-01T21:40:12Z
//! host vm
//! root /
//! tool iomem-sim 0.1.0
//!
//! file proc/iomem
//! | 00000000-00000fff : Reserved
//! file sys/devices/system/memory/block_size_bytes = 8000000
//! dir sys/devices/system/memory/memory0 = node0 online phys_device phys_index …
//! link sys/devices/system/memory/memory0/node0 = ../../node/node0
//! error read sys/bus/dax/devices = not found
//! ```

use std::cell::RefCell;
use std::collections::{BTreeMap, HashSet};
use std::fmt::Write as _;

use crate::live::{Files, LiveState};

/// The format version this build writes and the newest it reads.
pub const FORMAT: u32 = 1;
/// The first line's words before the version.
pub const MAGIC: &str = "iomem-sim capture";

/// One answer of [`Files`].
#[derive(Clone, Debug, PartialEq, Eq)]
enum Answer {
    Read(Result<Vec<u8>, String>),
    List(Result<Vec<String>, String>),
    Link(Result<String, String>),
    Uname(Result<String, String>),
}

/// A [`Files`] that passes every question to `inner` and keeps the answers, in order.
pub struct Recorder<'a> {
    inner: &'a dyn Files,
    log: RefCell<Vec<(String, Answer)>>,
    seen: RefCell<HashSet<(u8, String)>>,
}

impl<'a> Recorder<'a> {
    pub fn new(inner: &'a dyn Files) -> Recorder<'a> {
        Recorder {
            inner,
            log: RefCell::new(Vec::new()),
            seen: RefCell::new(HashSet::new()),
        }
    }
    fn keep(&self, kind: u8, rel: &str, a: Answer) {
        if self.seen.borrow_mut().insert((kind, rel.to_string())) {
            self.log.borrow_mut().push((rel.to_string(), a));
        }
    }
}

impl Files for Recorder<'_> {
    fn read(&self, rel: &str) -> Result<Vec<u8>, String> {
        let r = self.inner.read(rel);
        self.keep(0, rel, Answer::Read(r.clone()));
        r
    }
    fn list(&self, rel: &str) -> Result<Vec<String>, String> {
        let r = self.inner.list(rel);
        self.keep(1, rel, Answer::List(r.clone()));
        r
    }
    fn link(&self, rel: &str) -> Result<String, String> {
        let r = self.inner.link(rel);
        self.keep(2, rel, Answer::Link(r.clone()));
        r
    }
    fn uname_release(&self) -> Result<String, String> {
        let r = self.inner.uname_release();
        self.keep(3, "", Answer::Uname(r.clone()));
        r
    }
    fn describe(&self) -> String {
        self.inner.describe()
    }
}

/// The header of a bundle.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Header {
    pub version: u32,
    pub captured: String,
    pub host: String,
    pub root: String,
    pub tool: String,
}

/// A loaded capture: the answers, by question.
#[derive(Clone, Debug, Default)]
pub struct Bundle {
    pub header: Header,
    /// Where it was loaded from (for messages).
    pub path: String,
    files: BTreeMap<String, Result<Vec<u8>, String>>,
    dirs: BTreeMap<String, Result<Vec<String>, String>>,
    links: BTreeMap<String, Result<String, String>>,
    uname: Option<Result<String, String>>,
}

const NOT_CAPTURED: &str = "not in the capture";

impl Files for Bundle {
    fn read(&self, rel: &str) -> Result<Vec<u8>, String> {
        self.files
            .get(rel)
            .cloned()
            .unwrap_or_else(|| Err(NOT_CAPTURED.to_string()))
    }
    fn list(&self, rel: &str) -> Result<Vec<String>, String> {
        self.dirs
            .get(rel)
            .cloned()
            .unwrap_or_else(|| Err(NOT_CAPTURED.to_string()))
    }
    fn link(&self, rel: &str) -> Result<String, String> {
        self.links
            .get(rel)
            .cloned()
            .unwrap_or_else(|| Err(NOT_CAPTURED.to_string()))
    }
    fn uname_release(&self) -> Result<String, String> {
        self.uname
            .clone()
            .unwrap_or_else(|| Err(NOT_CAPTURED.to_string()))
    }
    fn describe(&self) -> String {
        format!(
            "capture {} (root {} of host {} at {})",
            self.path, self.header.root, self.header.host, self.header.captured
        )
    }
}

/// A bad capture file: the line (1-based) and what was expected.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CaptureError {
    #[error("not an iomem-sim capture: the first line must be `{MAGIC} N`")]
    NotACapture,
    #[error(
        "capture format {0} is newer than this iomem-sim reads (format {FORMAT}): upgrade iomem-sim"
    )]
    TooNew(u32),
    #[error("line {line}: {expected}")]
    Line { line: usize, expected: String },
}

/// Paths and names are written with `%`, blanks and control characters percent-encoded, so
/// a line always splits at its first ` = `.
fn enc(s: &str) -> String {
    let mut o = String::with_capacity(s.len());
    for c in s.chars() {
        if c == '%' || c == ' ' || c == '=' || c.is_control() {
            let mut b = [0u8; 4];
            for x in c.encode_utf8(&mut b).bytes() {
                let _ = write!(o, "%{x:02X}");
            }
        } else {
            o.push(c);
        }
    }
    o
}

fn dec(s: &str) -> Option<String> {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'%' {
            let h = s.get(i + 1..i + 3)?;
            out.push(u8::from_str_radix(h, 16).ok()?);
            i += 3;
        } else {
            out.push(b[i]);
            i += 1;
        }
    }
    String::from_utf8(out).ok()
}

/// `1970-01-01T00:00:00Z` for a Unix time (days → civil date, Howard Hinnant's algorithm).
pub fn rfc3339_utc(secs: u64) -> String {
    let days = (secs / 86_400) as i64;
    let rem = secs % 86_400;
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = if m <= 2 { y + 1 } else { y };
    format!(
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}Z",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60
    )
}

/// Read `files` (as `--live` would) and write the bundle text. Returns the state read too.
pub fn capture(files: &dyn Files, captured: &str) -> (String, LiveState) {
    let rec = Recorder::new(files);
    let state = LiveState::read(&rec);
    let host = files
        .read("proc/sys/kernel/hostname")
        .map(|b| String::from_utf8_lossy(&b).trim().to_string())
        .unwrap_or_else(|_| "unknown".to_string());
    let mut out = String::new();
    let _ = writeln!(out, "{MAGIC} {FORMAT}");
    let _ = writeln!(out, "captured {captured}");
    let _ = writeln!(out, "host {}", enc(&host));
    let _ = writeln!(out, "root {}", enc(&files.describe()));
    let _ = writeln!(out, "tool iomem-sim {}", env!("CARGO_PKG_VERSION"));
    out.push('\n');
    for (rel, a) in rec.log.borrow().iter() {
        let p = enc(rel);
        match a {
            Answer::Read(Ok(bytes)) => write_file(&mut out, &p, bytes),
            Answer::Read(Err(e)) => {
                let _ = writeln!(out, "error read {p} = {}", one_line(e));
            }
            Answer::List(Ok(names)) => {
                let names: Vec<String> = names.iter().map(|n| enc(n)).collect();
                let _ = writeln!(out, "dir {p} = {}", names.join(" "));
            }
            Answer::List(Err(e)) => {
                let _ = writeln!(out, "error list {p} = {}", one_line(e));
            }
            Answer::Link(Ok(t)) => {
                let _ = writeln!(out, "link {p} = {}", enc(t));
            }
            Answer::Link(Err(e)) => {
                let _ = writeln!(out, "error link {p} = {}", one_line(e));
            }
            Answer::Uname(Ok(r)) => {
                let _ = writeln!(out, "uname-r = {}", one_line(r));
            }
            Answer::Uname(Err(e)) => {
                let _ = writeln!(out, "error uname-r = {}", one_line(e));
            }
        }
    }
    (out, state)
}

fn one_line(s: &str) -> String {
    s.replace(['\n', '\r'], " ")
}

/// A file's bytes: `file P = TEXT` for one line ending in a newline, else `file P` and one
/// `| ` line per line, `\ no newline at end of file` after a last line without one.
/// Bytes that are not UTF-8 are written as `file P base16` and hex lines.
fn write_file(out: &mut String, p: &str, bytes: &[u8]) {
    let Ok(text) = std::str::from_utf8(bytes) else {
        let _ = writeln!(out, "file {p} base16");
        for chunk in bytes.chunks(32) {
            out.push_str("| ");
            for b in chunk {
                let _ = write!(out, "{b:02x}");
            }
            out.push('\n');
        }
        return;
    };
    // (An empty line keeps the `| ` form: `file P = ` would lose its meaning to an editor
    // that trims trailing blanks.)
    if let Some(body) = text.strip_suffix('\n')
        && !body.is_empty()
        && !body.contains(['\n', '\r'])
    {
        let _ = writeln!(out, "file {p} = {body}");
        return;
    }
    let _ = writeln!(out, "file {p}");
    let mut rest = text;
    while !rest.is_empty() {
        match rest.split_once('\n') {
            Some((line, tail)) => {
                let _ = writeln!(out, "| {line}");
                rest = tail;
            }
            None => {
                let _ = writeln!(out, "| {rest}");
                out.push_str("\\ no newline at end of file\n");
                rest = "";
            }
        }
    }
}

/// True when `bytes` start like a capture (for `-i FILE`).
pub fn looks_like_capture(bytes: &[u8]) -> bool {
    bytes.starts_with(MAGIC.as_bytes())
}

/// Parse a bundle.
pub fn parse(text: &str, path: &str) -> Result<Bundle, CaptureError> {
    let mut lines = text.split('\n').enumerate().peekable();
    let first = lines.next().map(|(_, l)| l).unwrap_or("");
    let version: u32 = first
        .strip_prefix(MAGIC)
        .and_then(|v| v.trim().parse().ok())
        .ok_or(CaptureError::NotACapture)?;
    if version > FORMAT {
        return Err(CaptureError::TooNew(version));
    }
    let mut b = Bundle {
        path: path.to_string(),
        header: Header {
            version,
            ..Header::default()
        },
        ..Bundle::default()
    };
    let bad = |n: usize, e: &str| CaptureError::Line {
        line: n + 1,
        expected: e.to_string(),
    };
    let path_of = |n: usize, p: &str| dec(p).ok_or_else(|| bad(n, "a bad %-escape in the path"));
    while let Some((n, line)) = lines.next() {
        let line = line.strip_suffix('\r').unwrap_or(line);
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let (head, value) = match line.split_once(" = ") {
            Some((h, v)) => (h, Some(v)),
            None => (line, None),
        };
        let (kw, rest) = head.split_once(' ').unwrap_or((head, ""));
        match (kw, value) {
            ("captured", None) => b.header.captured = rest.to_string(),
            ("host", None) => b.header.host = dec(rest).unwrap_or_default(),
            ("root", None) => b.header.root = dec(rest).unwrap_or_default(),
            ("tool", None) => b.header.tool = rest.to_string(),
            ("uname-r", Some(v)) if rest.is_empty() => b.uname = Some(Ok(v.to_string())),
            ("file", Some(v)) => {
                b.files
                    .insert(path_of(n, rest)?, Ok(format!("{v}\n").into_bytes()));
            }
            ("file", None) => {
                let (p, hex) = match rest.strip_suffix(" base16") {
                    Some(p) => (p, true),
                    None => (rest, false),
                };
                let p = path_of(n, p)?;
                let mut bytes = Vec::new();
                while let Some((m, l)) = lines.peek() {
                    let l = l.strip_suffix('\r').unwrap_or(l);
                    if let Some(c) = l
                        .strip_prefix("| ")
                        .or(if l == "|" { Some("") } else { None })
                    {
                        if hex {
                            let ok = c.len() % 2 == 0
                                && (0..c.len()).step_by(2).all(|i| {
                                    u8::from_str_radix(&c[i..i + 2], 16)
                                        .map(|x| bytes.push(x))
                                        .is_ok()
                                });
                            if !ok {
                                return Err(bad(*m, "hex digits after `| ` (a base16 file)"));
                            }
                        } else {
                            bytes.extend_from_slice(c.as_bytes());
                            bytes.push(b'\n');
                        }
                        lines.next();
                    } else if l == "\\ no newline at end of file" {
                        bytes.pop();
                        lines.next();
                    } else {
                        break;
                    }
                }
                b.files.insert(p, Ok(bytes));
            }
            ("dir", Some(v)) => {
                let mut names = Vec::new();
                for w in v.split(' ').filter(|w| !w.is_empty()) {
                    names.push(dec(w).ok_or_else(|| bad(n, "a bad %-escape in a name"))?);
                }
                b.dirs.insert(path_of(n, rest)?, Ok(names));
            }
            ("dir", None) if !rest.is_empty() => {
                // `dir P = ` with nothing after it, trimmed by an editor: an empty directory.
                let p = rest.strip_suffix(" =").unwrap_or(rest);
                b.dirs.insert(path_of(n, p)?, Ok(Vec::new()));
            }
            ("link", Some(v)) => {
                let t = dec(v).ok_or_else(|| bad(n, "a bad %-escape in the link target"))?;
                b.links.insert(path_of(n, rest)?, Ok(t));
            }
            ("error", Some(v)) => {
                let (what, p) = rest.split_once(' ').unwrap_or((rest, ""));
                let e = v.to_string();
                match what {
                    "read" => {
                        b.files.insert(path_of(n, p)?, Err(e));
                    }
                    "list" => {
                        b.dirs.insert(path_of(n, p)?, Err(e));
                    }
                    "link" => {
                        b.links.insert(path_of(n, p)?, Err(e));
                    }
                    "uname-r" => b.uname = Some(Err(e)),
                    _ => {
                        return Err(bad(
                            n,
                            "`error read|list|link PATH = REASON` or `error uname-r = REASON`",
                        ));
                    }
                }
            }
            _ => {
                return Err(bad(
                    n,
                    "a section line: `file PATH`, `file PATH = TEXT`, `| LINE`, `dir PATH = NAMES`, \
                     `link PATH = TARGET`, `error read|list|link PATH = REASON`, `uname-r = RELEASE`",
                ));
            }
        }
    }
    Ok(b)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::live::RootDir;

    #[test]
    fn a_capture_reads_back_to_the_same_state() {
        let root = RootDir::new(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/fixtures/root-C-pc-6G"
        ));
        let (text, st) = capture(&root, "2026-12-01T00:00:00Z");
        assert!(text.starts_with("iomem-sim capture 1\ncaptured 2026-12-01T00:00:00Z\n"));
        assert!(text.contains("\nfile sys/devices/system/memory/block_size_bytes = 8000000\n"));
        assert!(text.contains("\nfile proc/iomem\n| 00000000-00000fff : Reserved\n"));
        let b = parse(&text, "x.capture").unwrap();
        let again = LiveState::read(&b);
        assert_eq!(again.memory, st.memory);
        assert_eq!(again.iomem, st.iomem);
        assert_eq!(again.read, st.read);
        assert_eq!(again.missing, st.missing);
        assert_eq!((again.phys_bits, again.release), (st.phys_bits, st.release));
    }

    #[test]
    fn odd_bytes_and_names_survive() {
        let mut out = String::new();
        write_file(&mut out, "a", b"x\ny");
        write_file(&mut out, "b", b"\xff\x00");
        write_file(&mut out, "c", b"");
        write_file(&mut out, "e", b"\n");
        let text = format!("{MAGIC} 1\n{out}dir d%20e = x%20y z\n");
        let b = parse(&text, "t").unwrap();
        assert_eq!(b.read("a").unwrap(), b"x\ny");
        assert_eq!(b.read("b").unwrap(), b"\xff\x00");
        assert_eq!(b.read("c").unwrap(), b"");
        assert_eq!(b.read("e").unwrap(), b"\n");
        let t = parse(&format!("{MAGIC} 1\ndir x =\n"), "t").unwrap();
        assert_eq!(t.list("x").unwrap(), Vec::<String>::new());
        assert_eq!(b.list("d e").unwrap(), ["x y", "z"]);
        assert_eq!(b.read("zz").unwrap_err(), NOT_CAPTURED);
        assert_eq!(
            parse("iomem-sim capture 9\n", "t").unwrap_err(),
            CaptureError::TooNew(9)
        );
        assert_eq!(
            parse("hello\n", "t").unwrap_err(),
            CaptureError::NotACapture
        );
        assert!(matches!(
            parse("iomem-sim capture 1\nbogus line\n", "t").unwrap_err(),
            CaptureError::Line { line: 2, .. }
        ));
        assert_eq!(rfc3339_utc(0), "1970-01-01T00:00:00Z");
        // 2024-02-29 12:34:56 UTC.
        assert_eq!(rfc3339_utc(1_709_210_096), "2024-02-29T12:34:56Z");
    }
}
