//! The user's tools: `modprobe`, `ndctl`, `daxctl`, `echo WORD > /sys/…` (issue 15) and `cat`
//! of the files they change.
//!
//! Each tool has its own clap parser with the real tool's spellings ([`modprobe`], [`ndctl`],
//! [`daxctl`], [`sysfs`]); [`parse_argv`] is the one entry point (argv[0] names the tool).
//! Running a tool is a sequence of kernel operations on the [`Machine`], in the order the real
//! tool performs them; when one fails part way, the earlier ones stay done (as on the real
//! machine) and [`ToolRun::partial`] says so.

pub mod cat;
pub mod chmem;
pub mod daxctl;
pub mod grep;
pub mod ls;
pub mod modprobe;
pub mod ndctl;
pub mod qemu;
pub mod sysfs;

use crate::kernel::machine::Machine;
use crate::kernel::{KernelError, Trace};
use std::fmt;

/// One parsed tool command line.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub enum ToolCommand {
    Modprobe(modprobe::Modprobe),
    Ndctl(ndctl::Ndctl),
    Daxctl(daxctl::Daxctl),
    Sysfs(sysfs::SysfsWrite),
    /// `cat FILE…`: reads, changes nothing.
    Cat(cat::Cat),
    /// `ls /dev`: the modelled device nodes; changes nothing.
    Ls(ls::Ls),
    /// `chmem -e|-d SIZE|RANGE|-b BLOCKRANGE`: `state` writes, block by block.
    Chmem(chmem::Chmem),
    /// A QEMU monitor line (`device_add pc-dimm,…`): the platform plugs or ejects a DIMM.
    Qemu(qemu::Hmp),
    /// `ndctl --help`, `daxctl create-device -h`, `modprobe --help`: the tool's usage, printed
    /// with exit status 0 as the tool does; nothing runs.
    Help {
        argv: Vec<String>,
        text: String,
    },
}

/// A tool command line that does not parse (the tool's own usage message).
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct ToolParseError(pub String);

/// The tools this module speaks (the first word of their lines).
pub const TOOLS: &[&str] = &[
    "modprobe",
    "ndctl",
    "daxctl",
    "echo",
    "cat",
    "ls",
    "chmem",
    "object_add",
    "object_del",
    "device_add",
    "device_del",
    "info",
];

/// Parse a tool's argv (`argv[0]` = `modprobe|ndctl|daxctl|echo`).
pub fn parse_argv(argv: &[String]) -> Result<ToolCommand, ToolParseError> {
    // `--help`/`-h` before any `--` asks modprobe, ndctl and daxctl for their usage (not echo:
    // `echo -h` prints `-h`). Their clap grammars answer it as an "error" whose text is the
    // help; here it is what the user asked for.
    let asks_help = argv
        .iter()
        .skip(1)
        .take_while(|a| *a != "--")
        .any(|a| a == "--help" || a == "-h");
    if asks_help
        && matches!(
            argv.first().map(String::as_str),
            Some("modprobe" | "ndctl" | "daxctl")
        )
    {
        match parse_tool(argv) {
            // clap's rendered help (a real mistake renders as `error: …`: that stays one).
            Err(e) if !e.0.starts_with("error:") => {
                return Ok(ToolCommand::Help {
                    argv: argv.to_vec(),
                    text: e.0,
                });
            }
            other => return other,
        }
    }
    parse_tool(argv)
}

fn parse_tool(argv: &[String]) -> Result<ToolCommand, ToolParseError> {
    match argv.first().map(String::as_str) {
        Some("modprobe") => modprobe::parse(argv).map(ToolCommand::Modprobe),
        Some("ndctl") => ndctl::parse(argv).map(ToolCommand::Ndctl),
        Some("daxctl") => daxctl::parse(argv).map(ToolCommand::Daxctl),
        Some("echo") => sysfs::parse(argv).map(ToolCommand::Sysfs),
        Some("cat") => cat::parse(argv).map(ToolCommand::Cat),
        Some("ls") => ls::parse(argv).map(ToolCommand::Ls),
        Some("chmem") => chmem::parse(argv).map(|asked| match asked {
            Ok(c) => ToolCommand::Chmem(c),
            // -h and -V print and exit 0, as the tool does.
            Err(a) => ToolCommand::Help {
                argv: argv.to_vec(),
                text: match a {
                    chmem::Asked::Help => chmem::HELP.to_string(),
                    chmem::Asked::Version => chmem::VERSION.to_string(),
                },
            },
        }),
        Some("object_add" | "object_del" | "device_add" | "device_del" | "info") => {
            qemu::parse(argv).map(ToolCommand::Qemu)
        }
        Some(w) => Err(ToolParseError(format!(
            "`{w}` is not one of the modelled tools: {}",
            TOOLS.join(", ")
        ))),
        None => Err(ToolParseError("missing tool name".into())),
    }
}

/// Render clap's error as plain text (no colours), first lines only.
pub(crate) fn clap_error(e: clap::Error) -> ToolParseError {
    let s = e.render().to_string();
    ToolParseError(s.trim_end().to_string())
}

impl ToolCommand {
    /// Lists change nothing.
    pub fn is_query(&self) -> bool {
        match self {
            ToolCommand::Help { .. } | ToolCommand::Cat(_) | ToolCommand::Ls(_) => true,
            ToolCommand::Ndctl(n) => n.is_query(),
            ToolCommand::Daxctl(d) => d.is_query(),
            ToolCommand::Qemu(q) => q.is_query(),
            _ => false,
        }
    }
}

impl fmt::Display for ToolCommand {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ToolCommand::Modprobe(m) => m.fmt(f),
            ToolCommand::Ndctl(n) => n.fmt(f),
            ToolCommand::Daxctl(d) => d.fmt(f),
            ToolCommand::Sysfs(s) => s.fmt(f),
            ToolCommand::Cat(c) => c.fmt(f),
            ToolCommand::Ls(c) => c.fmt(f),
            ToolCommand::Chmem(c) => c.fmt(f),
            ToolCommand::Qemu(q) => q.fmt(f),
            ToolCommand::Help { argv, .. } => f.write_str(&shell_words(argv)),
        }
    }
}

/// One word as typed when a shell would read it back as itself (`memory-backend-ram,id=m,size=1G`),
/// else quoted by shlex (`'a b'`, `'^(pmem|dax)'`).
pub(crate) fn shell_word(w: &str) -> String {
    const META: &[char] = &[
        '|', '&', ';', '<', '>', '(', ')', '$', '`', '\\', '"', '\'', '*', '?', '[', ']', '#', '~',
        '{', '}', '!',
    ];
    if !w.is_empty()
        && !w.contains(META)
        && shlex::split(w).is_some_and(|v| v.len() == 1 && v[0] == w)
    {
        w.to_string()
    } else {
        shlex::try_quote(w).map_or_else(|_| w.to_string(), |q| q.into_owned())
    }
}

/// An unsigned number in base 0, as the kernel's `kstrtoull(s, 0, …)` and QEMU's
/// `qemu_strtou64(s, …, 0, …)` read one: `0x` hex, `0` octal, else decimal; nothing after it.
pub(crate) fn strtou64_base0(s: &str) -> Option<u64> {
    if let Some(h) = s.strip_prefix("0x").or_else(|| s.strip_prefix("0X")) {
        u64::from_str_radix(h, 16).ok()
    } else if s.len() > 1 && s.starts_with('0') {
        u64::from_str_radix(&s[1..], 8).ok()
    } else {
        s.parse().ok()
    }
}

/// A positional word as typed, with `--` before it when it would read as an option.
pub(crate) fn positional(w: &str) -> String {
    if w.starts_with('-') {
        format!("-- {}", shell_word(w))
    } else {
        shell_word(w)
    }
}

/// `argv` as a shell line that splits back into it (quoted where needed; a word shlex cannot
/// quote, such as one with a NUL, leaves the words joined by spaces).
pub(crate) fn shell_words(argv: &[String]) -> String {
    shlex::try_join(argv.iter().map(String::as_str)).unwrap_or_else(|_| argv.join(" "))
}

/// What running a tool did.
#[derive(Debug, Default)]
pub struct ToolRun {
    /// What the tool prints (stdout and stderr, in the order a terminal shows them).
    pub output: String,
    /// The failure, with the tool's words in `reason` and the kernel's in `log`.
    pub error: Option<KernelError>,
    /// Some steps were done before the failure: the machine keeps them.
    pub partial: bool,
    /// Things the kernel leaves behind although the command succeeded (unbind while online).
    pub left_behind: Vec<String>,
}

impl ToolRun {
    pub(crate) fn say(&mut self, line: impl AsRef<str>) {
        self.output.push_str(line.as_ref());
        if !self.output.ends_with('\n') {
            self.output.push('\n');
        }
    }
}

/// Run `t` on `m`. A refused command with `partial == false` has left `m` as it was only if
/// the caller discards `m` (the session runs tools on a clone).
pub fn run(m: &mut Machine, t: &ToolCommand, trace: &mut Trace) -> ToolRun {
    match t {
        ToolCommand::Modprobe(c) => modprobe::run(m, c, trace),
        ToolCommand::Ndctl(c) => ndctl::run(m, c, trace),
        ToolCommand::Daxctl(c) => daxctl::run(m, c, trace),
        ToolCommand::Sysfs(c) => sysfs::run(m, c, trace),
        ToolCommand::Cat(c) => cat::run(m, c),
        ToolCommand::Ls(c) => ls::run(m, c),
        ToolCommand::Chmem(c) => chmem::run(m, c, trace),
        ToolCommand::Qemu(c) => qemu::run(m, c, trace),
        ToolCommand::Help { text, .. } => ToolRun {
            output: format!("{}\n", text.trim_end()),
            ..ToolRun::default()
        },
    }
}

/// A tool's refusal as a [`KernelError`]: `func` is the tool, `reason` its words.
pub(crate) fn tool_error(
    errno: crate::kernel::Errno,
    func: &'static str,
    reason: impl Into<String>,
) -> KernelError {
    KernelError::new(errno, func, reason)
}

/// `strerror(errno)` as glibc words it.
pub fn strerror(e: crate::kernel::Errno) -> &'static str {
    use crate::kernel::Errno::*;
    match e {
        ENOENT => "No such file or directory",
        ENXIO => "No such device or address",
        E2BIG => "Argument list too long",
        ENOMEM => "Cannot allocate memory",
        EBUSY => "Device or resource busy",
        EEXIST => "File exists",
        ENODEV => "No such device",
        EINVAL => "Invalid argument",
        ERANGE => "Numerical result out of range",
    }
}

// ------------------------------------------------------------------ json-c style output

/// A JSON value with ordered keys, printed as json-c's `JSON_C_TO_STRING_PRETTY` does
/// (two-space indent, no space after `:`), which is what ndctl and daxctl print.
#[derive(Clone, Debug, PartialEq)]
pub enum J {
    Num(i64),
    Str(String),
    Bool(bool),
    Obj(Vec<(&'static str, J)>),
    Arr(Vec<J>),
}

impl J {
    pub fn render(&self) -> String {
        let mut s = String::new();
        self.write(&mut s, 0);
        s.push('\n');
        s
    }
    fn write(&self, s: &mut String, ind: usize) {
        let pad = |n: usize| "  ".repeat(n);
        match self {
            J::Num(n) => s.push_str(&n.to_string()),
            J::Bool(b) => s.push_str(if *b { "true" } else { "false" }),
            J::Str(t) => s.push_str(&serde_json::to_string(t).unwrap_or_default()),
            J::Obj(kv) => {
                s.push_str("{\n");
                for (i, (k, v)) in kv.iter().enumerate() {
                    s.push_str(&format!("{}\"{k}\":", pad(ind + 1)));
                    v.write(s, ind + 1);
                    if i + 1 < kv.len() {
                        s.push(',');
                    }
                    s.push('\n');
                }
                s.push_str(&pad(ind));
                s.push('}');
            }
            J::Arr(a) => {
                s.push_str("[\n");
                for (i, v) in a.iter().enumerate() {
                    s.push_str(&pad(ind + 1));
                    v.write(s, ind + 1);
                    if i + 1 < a.len() {
                        s.push(',');
                    }
                    s.push('\n');
                }
                s.push_str(&pad(ind));
                s.push(']');
            }
        }
    }
}

/// A list as ndctl/daxctl `list` print it: one element alone, several as an array.
pub fn list_json(mut v: Vec<J>) -> Option<J> {
    match v.len() {
        0 => None,
        1 => v.pop(),
        _ => Some(J::Arr(v)),
    }
}

/// ndctl's `util_json_object_size` / daxctl's with `-u`: `"512.00 MiB (536.87 MB)"`;
/// without `-u` the byte count.
pub fn size_json(size: u64, human: bool) -> J {
    if !human {
        return J::Num(i64::try_from(size).unwrap_or(i64::MAX));
    }
    let units = ["", "KiB", "MiB", "GiB", "TiB", "PiB", "EiB"];
    let dunits = ["", "kB", "MB", "GB", "TB", "PB", "EB"];
    let mut i = 0;
    while i + 1 < units.len() && size >= 1u64 << (10 * (i + 1)) {
        i += 1;
    }
    let mut d = 0;
    while d + 1 < dunits.len() && size >= 1000u64.pow(d as u32 + 1) {
        d += 1;
    }
    if i == 0 {
        return J::Num(i64::try_from(size).unwrap_or(i64::MAX));
    }
    let b = size as f64 / (1u64 << (10 * i)) as f64;
    let dec = size as f64 / 1000f64.powi(d as i32);
    J::Str(format!("{b:.2} {} ({dec:.2} {})", units[i], dunits[d]))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn argv(s: &str) -> Vec<String> {
        shlex::split(s).unwrap_or_else(|| panic!("{s}: unbalanced quotes"))
    }

    #[test]
    fn human_sizes_as_ndctl_prints_them() {
        // The real captures: "512.00 MiB (536.87 MB)", "502.00 MiB (526.39 MB)", "16.00 MiB (16.78 MB)".
        assert_eq!(
            size_json(512 << 20, true),
            J::Str("512.00 MiB (536.87 MB)".into())
        );
        assert_eq!(
            size_json(526385152, true),
            J::Str("502.00 MiB (526.39 MB)".into())
        );
        assert_eq!(
            size_json(16 << 20, true),
            J::Str("16.00 MiB (16.78 MB)".into())
        );
        assert_eq!(size_json(526385152, false), J::Num(526385152));
    }

    #[test]
    fn json_c_pretty_format() {
        let j = J::Obj(vec![
            ("chardev", J::Str("dax0.0".into())),
            ("size", J::Num(1)),
            ("devices", J::Arr(vec![J::Obj(vec![("id", J::Num(0))])])),
        ]);
        assert_eq!(
            j.render(),
            "{\n  \"chardev\":\"dax0.0\",\n  \"size\":1,\n  \"devices\":[\n    {\n      \"id\":0\n    }\n  ]\n}\n"
        );
    }

    #[test]
    fn every_tool_round_trips_through_display() {
        for line in [
            "modprobe nd_e820",
            "modprobe -a dax_pmem device_dax kmem",
            "ndctl create-namespace -f -e namespace0.0 -m devdax",
            "ndctl create-namespace -e namespace0.0 -m fsdax --map mem -a 1G",
            "ndctl create-namespace --force --reconfig=namespace0.0 --mode=raw",
            "ndctl disable-namespace namespace0.0",
            "ndctl enable-namespace namespace0.0",
            "ndctl destroy-namespace -f namespace0.0",
            "ndctl disable-region region0",
            "ndctl enable-region -t pmem all",
            "ndctl disable-region 'region0 region1'",
            "ndctl list -RNu",
            "daxctl reconfigure-device --mode=system-ram --no-online dax0.0",
            "daxctl reconfigure-device -m devdax -f dax0.0",
            "daxctl reconfigure-device -m system-ram --no-movable dax0.0",
            "daxctl online-memory dax0.0 --no-movable",
            "daxctl offline-memory dax0.0",
            "daxctl disable-device dax0.0",
            "daxctl enable-device all",
            "daxctl list -u",
            "echo dax0.0 > /sys/bus/dax/drivers/kmem/new_id",
            "echo online_movable > /sys/devices/system/memory/memory35/state",
            "echo 0x140000000 > /sys/devices/system/memory/probe",
            "object_add memory-backend-ram,id=mem1,size=256M",
            "device_add pc-dimm,id=dimm1,memdev=mem1,addr=0x100000000",
            "device_del dimm1",
            "info memory-devices",
        ] {
            let t = parse_argv(&argv(line)).unwrap_or_else(|e| panic!("{line}: {e}"));
            let again = parse_argv(&argv(&t.to_string())).unwrap();
            assert_eq!(t, again, "{line} → {t}");
        }
    }

    #[test]
    fn bad_lines_are_refused_with_the_tools_words() {
        assert!(parse_argv(&argv("daxctl reconfigure-device dax0.0")).is_err());
        assert!(parse_argv(&argv("ndctl create-namespace -m bogus")).is_err());
        assert!(parse_argv(&argv("echo 1 > /sys/kernel/mm/foo")).is_err());
        assert!(parse_argv(&argv("modprobe")).is_err());
    }
}
