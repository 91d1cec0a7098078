//! `cat FILE…`: the read side of the files `echo` writes, and `/proc/iomem`, printed as the
//! kernel's show functions print them (6.1.172 source):
//!
//! * `/proc/iomem`: `r_show` (kernel/resource.c), as root.
//! * `/sys/devices/system/memory/block_size_bytes`: `block_size_bytes_show`, `"%lx\n"`.
//! * `/sys/devices/system/memory/auto_online_blocks`: `auto_online_blocks_show`, `"%s\n"` of
//!   `online_type_to_str[mhp_default_online_type]`.
//! * `/sys/devices/system/memory/memoryN/` (drivers/base/memory.c): `phys_index` (`"%08lx\n"`),
//!   `state` (`"%s\n"`: online, offline, going-offline), `online` (drivers/base/core.c
//!   `online_show`, `"%u\n"` of `!dev->offline`), `valid_zones` (`valid_zones_show`: the zone
//!   of an online block, `none` when it spans zones; the candidate zones of an offline one),
//!   `removable` (`"%d\n"`), `phys_device` (`"%d\n"` of `arch_get_memory_phys_device()`, 0 on
//!   x86).
//! * `/sys/bus/dax/devices/daxX.Y/` (drivers/dax/bus.c): `size` (`"%llu\n"`), `target_node`
//!   (`"%d\n"`), `resource` (`"%#llx\n"` of the first range's start), `align` (`"%d\n"` of
//!   `dev_dax->align`).
//!
//! Like cat(1), every file is printed in turn; one that does not exist (no such block or dax
//! device) is reported as `cat: PATH: No such file or directory` and makes the exit status 1,
//! the others are still printed. A path outside the modelled files is a usage error.
//!
//! A path with glob characters (`memory*/state`, `memory3?/online`, `dax*/size`) is expanded
//! as the shell would before cat runs: against the files that exist on the machine at that
//! moment, sorted by name (bash sorts matches with strcoll; these names sort the same in the C
//! and the usual UTF-8 locales: `memory10` before `memory2`); no match leaves the word as it
//! is, and cat then cannot open it.

use super::{ToolParseError, ToolRun, strerror, tool_error};
use crate::kernel::Errno;
use crate::kernel::machine::Machine;
use crate::kernel::memory::BlockState;
use std::fmt;

const SYS_MEMORY: &str = "/sys/devices/system/memory/";
const SYS_DAX: &str = "/sys/bus/dax/devices/";

/// One modelled file.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub enum File {
    ProcIomem,
    BlockSizeBytes,
    AutoOnlineBlocks,
    /// `memoryN/<attr>`.
    Block {
        id: u64,
        attr: BlockAttr,
    },
    /// `daxX.Y/<attr>`.
    Dax {
        dev: String,
        attr: DaxAttr,
    },
    /// A glob over the files above (`memory*/state`), expanded when cat runs.
    Glob(String),
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize)]
pub enum BlockAttr {
    PhysIndex,
    State,
    Online,
    ValidZones,
    Removable,
    PhysDevice,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize)]
pub enum DaxAttr {
    Size,
    TargetNode,
    Resource,
    Align,
}

/// A parsed `cat FILE…`.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct Cat {
    /// The paths as typed, with what each names.
    pub files: Vec<(String, File)>,
}

/// The files of a memory block directory and of a dax device directory, by name.
const BLOCK_ATTRS: [(&str, BlockAttr); 6] = [
    ("online", BlockAttr::Online),
    ("phys_device", BlockAttr::PhysDevice),
    ("phys_index", BlockAttr::PhysIndex),
    ("removable", BlockAttr::Removable),
    ("state", BlockAttr::State),
    ("valid_zones", BlockAttr::ValidZones),
];
const DAX_ATTRS: [(&str, DaxAttr); 4] = [
    ("align", DaxAttr::Align),
    ("resource", DaxAttr::Resource),
    ("size", DaxAttr::Size),
    ("target_node", DaxAttr::TargetNode),
];
const MODELLED: &str = "/proc/iomem, /sys/devices/system/memory/{block_size_bytes,auto_online_blocks}, \
     …/memory/memoryN/{phys_index,state,online,valid_zones,removable,phys_device}, \
     /sys/bus/dax/devices/daxX.Y/{size,target_node,resource,align}";

fn file_of(path: &str) -> Option<File> {
    if path == "/proc/iomem" {
        return Some(File::ProcIomem);
    }
    if let Some(rest) = path
        .strip_prefix(SYS_MEMORY)
        .or_else(|| path.strip_prefix("/sys/bus/memory/devices/"))
    {
        return match rest {
            "block_size_bytes" => Some(File::BlockSizeBytes),
            "auto_online_blocks" => Some(File::AutoOnlineBlocks),
            _ => {
                let (blk, attr) = rest.split_once('/')?;
                let digits = blk.strip_prefix("memory")?;
                // sysfs names are `memory%u`: no sign, no leading zeros but for memory0.
                if digits.is_empty()
                    || !digits.bytes().all(|b| b.is_ascii_digit())
                    || (digits.len() > 1 && digits.starts_with('0'))
                {
                    return None;
                }
                let id = digits.parse().ok()?;
                let (_, attr) = *BLOCK_ATTRS.iter().find(|(n, _)| *n == attr)?;
                Some(File::Block { id, attr })
            }
        };
    }
    let rest = path.strip_prefix(SYS_DAX)?;
    let (dev, attr) = rest.split_once('/')?;
    if !dev.starts_with("dax") || dev.contains('/') {
        return None;
    }
    let (_, attr) = *DAX_ATTRS.iter().find(|(n, _)| *n == attr)?;
    Some(File::Dax {
        dev: dev.to_string(),
        attr,
    })
}

/// Whether `path` has characters a shell expands.
fn is_glob(path: &str) -> bool {
    path.contains(['*', '?', '['])
}

fn glob_matcher(pat: &str) -> Option<globset::GlobMatcher> {
    globset::GlobBuilder::new(pat)
        .literal_separator(true)
        .backslash_escape(true)
        .build()
        .ok()
        .map(|g| g.compile_matcher())
}

/// Every modelled file that exists on `m`, by path.
fn existing_files(m: &Machine) -> Vec<(String, File)> {
    let mut v = vec![
        ("/proc/iomem".to_string(), File::ProcIomem),
        (
            format!("{SYS_MEMORY}block_size_bytes"),
            File::BlockSizeBytes,
        ),
        (
            format!("{SYS_MEMORY}auto_online_blocks"),
            File::AutoOnlineBlocks,
        ),
    ];
    for b in m.blocks.iter() {
        for (a, attr) in BLOCK_ATTRS {
            v.push((
                format!("{SYS_MEMORY}memory{}/{a}", b.id),
                File::Block { id: b.id, attr },
            ));
        }
    }
    for d in m.dax.keys() {
        for (a, attr) in DAX_ATTRS {
            v.push((
                format!("{SYS_DAX}{d}/{a}"),
                File::Dax {
                    dev: d.clone(),
                    attr,
                },
            ));
        }
    }
    v
}

/// The shell's expansion of `pat` on `m`: matching files sorted by path; none → `None`.
fn expand(m: &Machine, pat: &str) -> Option<Vec<(String, File)>> {
    let g = glob_matcher(pat)?;
    let mut hits: Vec<(String, File)> = existing_files(m)
        .into_iter()
        .filter(|(p, _)| g.is_match(p))
        .collect();
    hits.sort_by(|a, b| a.0.cmp(&b.0));
    (!hits.is_empty()).then_some(hits)
}

/// A glob is accepted when it lies inside a modelled directory (its part before the first
/// wildcard starts with `/sys/devices/system/memory/`, `/sys/bus/dax/devices/` or `/proc/`)
/// and compiles; what it matches is decided when cat runs.
fn glob_ok(pat: &str) -> bool {
    let lit = &pat[..pat.find(['*', '?', '[']).unwrap_or(pat.len())];
    [SYS_MEMORY, SYS_DAX, "/proc/"]
        .iter()
        .any(|d| lit.starts_with(d))
        && glob_matcher(pat).is_some()
}

pub fn parse(argv: &[String]) -> Result<Cat, ToolParseError> {
    let mut files = Vec::new();
    let mut options_end = false;
    for a in argv.iter().skip(1) {
        if !options_end && a == "--" {
            options_end = true;
            continue;
        }
        if !options_end && a.starts_with('-') && a.len() > 1 {
            return Err(ToolParseError(format!(
                "cat {a}: options are not modelled (cat FILE…: {MODELLED})"
            )));
        }
        let f = if is_glob(a) && glob_ok(a) {
            File::Glob(a.clone())
        } else {
            file_of(a).ok_or_else(|| {
                ToolParseError(format!("cat {a}: not a modelled file ({MODELLED})"))
            })?
        };
        files.push((a.clone(), f));
    }
    if files.is_empty() {
        return Err(ToolParseError(format!(
            "expected `cat FILE…` ({MODELLED}); cat without a file reads stdin, which a \
             simulated machine does not have"
        )));
    }
    Ok(Cat { files })
}

impl fmt::Display for Cat {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("cat")?;
        for (p, _) in &self.files {
            write!(f, " {p}")?;
        }
        Ok(())
    }
}

/// The file's text, `None` when it does not exist on this machine.
fn read(m: &Machine, file: &File) -> Option<String> {
    Some(match file {
        File::ProcIomem => {
            let mut out = Vec::new();
            // Writing into a Vec cannot fail.
            crate::render::write_iomem(&m.tree, &mut out).ok()?;
            String::from_utf8_lossy(&out).into_owned()
        }
        File::BlockSizeBytes => format!("{:x}\n", m.config.block_size),
        File::AutoOnlineBlocks => format!("{}\n", m.config.auto_online),
        File::Block { id, attr } => {
            let b = m.blocks.get(*id)?;
            match attr {
                BlockAttr::PhysIndex => format!("{}\n", b.phys_index()),
                BlockAttr::State => format!("{}\n", b.state),
                BlockAttr::Online => format!("{}\n", u8::from(b.state == BlockState::Online)),
                BlockAttr::ValidZones => format!("{}\n", m.blocks.valid_zones(b)),
                BlockAttr::Removable => format!("{}\n", u8::from(b.removable)),
                BlockAttr::PhysDevice => "0\n".to_string(),
            }
        }
        File::Glob(_) => return None,
        File::Dax { dev, attr } => {
            let d = m.dax.get(dev)?;
            match attr {
                DaxAttr::Size => format!("{}\n", d.end.wrapping_sub(d.start).wrapping_add(1)),
                DaxAttr::TargetNode => format!("{}\n", d.nid),
                DaxAttr::Resource => format!("{:#x}\n", d.start),
                DaxAttr::Align => format!("{}\n", d.align),
            }
        }
    })
}

pub fn run(m: &Machine, c: &Cat) -> ToolRun {
    let mut r = ToolRun::default();
    let mut missing = Vec::new();
    let mut words: Vec<(String, File)> = Vec::new();
    for (path, file) in &c.files {
        match file {
            File::Glob(pat) => match expand(m, pat) {
                Some(hits) => words.extend(hits),
                None => words.push((path.clone(), file.clone())),
            },
            _ => words.push((path.clone(), file.clone())),
        }
    }
    for (path, file) in &words {
        match read(m, file) {
            Some(text) => r.output.push_str(&text),
            None => {
                r.say(format!("cat: {path}: {}", strerror(Errno::ENOENT)));
                missing.push(path.as_str());
            }
        }
    }
    if !missing.is_empty() {
        r.error = Some(tool_error(
            Errno::ENOENT,
            "cat",
            format!("no such file on this machine: {}", missing.join(", ")),
        ));
    }
    r
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::kernel::machine::Config;
    use crate::testutil::t0;

    fn argv(s: &str) -> Vec<String> {
        shlex::split(s).unwrap()
    }

    fn cat(m: &Machine, s: &str) -> ToolRun {
        run(m, &parse(&argv(s)).unwrap())
    }

    #[test]
    fn memory_block_files_read_as_drivers_base_memory_c_prints_them() {
        // t0 boots with memory0..memory19 online (below the legacy pmem at a0000000);
        // memory0 spans DMA and DMA32 (valid_zones "none", as real-kernel-6.1 before.memory-blocks.txt).
        let m = Machine::boot(t0(), Config::default());
        let r = cat(
            &m,
            "cat /sys/devices/system/memory/memory1/phys_index \
             /sys/devices/system/memory/memory1/state \
             /sys/devices/system/memory/memory1/online \
             /sys/devices/system/memory/memory1/valid_zones \
             /sys/devices/system/memory/memory0/valid_zones \
             /sys/devices/system/memory/memory1/removable \
             /sys/devices/system/memory/memory1/phys_device \
             /sys/devices/system/memory/block_size_bytes \
             /sys/devices/system/memory/auto_online_blocks",
        );
        assert!(r.error.is_none(), "{:?}", r.error);
        assert_eq!(
            r.output,
            "00000001\nonline\n1\nDMA32\nnone\n1\n0\n8000000\noffline\n"
        );
    }

    #[test]
    fn a_missing_block_is_enoent_and_the_other_files_still_print() {
        let m = Machine::boot(t0(), Config::default());
        let r = cat(
            &m,
            "cat /sys/devices/system/memory/memory99/state /sys/devices/system/memory/memory1/state",
        );
        assert_eq!(
            r.output,
            "cat: /sys/devices/system/memory/memory99/state: No such file or directory\nonline\n"
        );
        assert_eq!(r.error.map(|e| e.errno), Some(Errno::ENOENT));
    }

    #[test]
    fn proc_iomem_is_the_tree_as_r_show_prints_it() {
        let m = Machine::boot(t0(), Config::default());
        let r = cat(&m, "cat /proc/iomem");
        let mut want = Vec::new();
        crate::render::write_iomem(&m.tree, &mut want).unwrap();
        assert_eq!(r.output.as_bytes(), &want[..]);
        assert!(r.output.starts_with("00000000-00000fff : Reserved\n"));
    }

    #[test]
    fn globs_expand_like_the_shell_over_the_files_that_exist() {
        // t0: memory0..memory19 and memory22, memory23 online. `memory1*` sorts as bash
        // does (byte order here): memory1, memory10 … memory19.
        let m = Machine::boot(t0(), Config::default());
        let r = cat(&m, "cat /sys/devices/system/memory/memory1*/phys_index");
        let want: String = std::iter::once(1)
            .chain(10..=19)
            .map(|i| format!("{i:08x}\n"))
            .collect();
        assert_eq!(r.output, want);
        assert!(r.error.is_none());
        let all = cat(&m, "cat /sys/devices/system/memory/memory*/state");
        assert_eq!(all.output, "online\n".repeat(m.blocks.iter().count()));
        let two = cat(&m, "cat /sys/devices/system/memory/memory2?/online");
        assert_eq!(two.output, "1\n1\n", "memory22 and memory23");
        // No match: the word stays as typed and cat cannot open it (bash without nullglob).
        let none = cat(&m, "cat /sys/bus/dax/devices/dax*/size");
        assert_eq!(
            none.output,
            "cat: /sys/bus/dax/devices/dax*/size: No such file or directory\n"
        );
        assert_eq!(none.error.map(|e| e.errno), Some(Errno::ENOENT));
        // Outside the modelled directories a glob is a usage error like any other path.
        assert!(parse(&argv("cat /etc/*")).is_err());
    }

    #[test]
    fn unmodelled_paths_options_and_no_file_are_usage_errors() {
        for s in [
            "cat",
            "cat -A /proc/iomem",
            "cat /etc/passwd",
            "cat /sys/devices/system/memory/memory01/state",
            "cat /sys/devices/system/memory/memory1/uevent",
            "cat /sys/devices/system/memory/memory-1/state",
            "cat /sys/bus/dax/devices/dax0.0/mapping",
        ] {
            assert!(parse(&argv(s)).is_err(), "{s}");
        }
        // `--` ends the options; a path may follow.
        assert!(parse(&argv("cat -- /proc/iomem")).is_ok());
    }
}
