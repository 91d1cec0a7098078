//! `ls /dev` (coreutils) over the device nodes the simulator models — the ones the captures
//! look for with `ls /dev | grep -E '^(pmem|dax)'`:
//!
//! * `pmemN` (`pmemN.M`): the disk nd_pmem makes of a raw or fsdax namespace it holds
//!   (`pmem_attach_disk` → `device_add_disk`, named by `nvdimm_namespace_disk_name`).
//! * `daxX.Y`: the character device of a dax device while device_dax is bound to it
//!   (`dev_dax_probe` → `cdev_device_add`); bound to kmem, or to nothing, it has none.
//!
//! Nothing else in `/dev` is modelled, so nothing else is listed. `ls /dev/NAME` (or a glob,
//! `/dev/dax*`, expanded as the shell would) prints the path of each node that exists; one
//! that does not is `ls: cannot access 'PATH': No such file or directory` (exit status 1
//! here, 2 from ls), the others still printed. Output is one name a line, as ls prints into a
//! pipe, sorted by name.

use super::{ToolParseError, ToolRun, tool_error};
use crate::kernel::Errno;
use crate::kernel::dax::DaxDriver;
use crate::kernel::machine::Machine;
use crate::kernel::nvdimm::NsMode;
use std::fmt;

/// A parsed `ls` line: its paths as typed (`/dev`, `/dev/pmem0`, `/dev/dax*`).
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct Ls {
    pub paths: Vec<String>,
}

pub fn parse(argv: &[String]) -> Result<Ls, ToolParseError> {
    let mut paths = Vec::new();
    let mut options_done = false;
    for a in argv.iter().skip(1) {
        if !options_done && a == "--" {
            options_done = true;
        } else if !options_done && a.starts_with('-') && a.len() > 1 {
            // -1 is what ls does into a pipe anyway.
            if a != "-1" {
                return Err(ToolParseError(format!(
                    "ls {a}: only `ls /dev` (one name a line) is modelled"
                )));
            }
        } else {
            let p = a.trim_end_matches('/');
            if p != "/dev" && !p.starts_with("/dev/") {
                return Err(ToolParseError(format!(
                    "ls {a}: only /dev is modelled (the pmem and dax device nodes)"
                )));
            }
            paths.push(a.clone());
        }
    }
    if paths.is_empty() {
        return Err(ToolParseError(
            "ls: name /dev (the current directory is not modelled)".into(),
        ));
    }
    Ok(Ls { paths })
}

impl fmt::Display for Ls {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("ls")?;
        for p in &self.paths {
            write!(f, " {}", super::shell_word(p))?;
        }
        Ok(())
    }
}

/// The modelled nodes of `/dev`, sorted.
pub fn dev_nodes(m: &Machine) -> Vec<String> {
    let mut v: Vec<String> = m
        .nvdimm
        .namespaces
        .iter()
        .filter(|n| n.enabled && matches!(n.mode, NsMode::Raw | NsMode::Fsdax))
        .map(|n| n.blockdev_name())
        .chain(
            m.dax
                .values()
                .filter(|d| d.driver == DaxDriver::DeviceDax)
                .map(|d| d.name.clone()),
        )
        .collect();
    v.sort();
    v
}

pub fn run(m: &Machine, c: &Ls) -> ToolRun {
    let mut r = ToolRun::default();
    let nodes = dev_nodes(m);
    let mut missing = Vec::new();
    for p in &c.paths {
        let name = p.trim_end_matches('/');
        if name == "/dev" {
            if c.paths.len() > 1 {
                r.say(format!("{p}:"));
            }
            for n in &nodes {
                r.say(n);
            }
            continue;
        }
        let leaf = &name["/dev/".len()..];
        let hits: Vec<&String> = if leaf.contains(['*', '?', '[']) {
            match globset::Glob::new(leaf) {
                Ok(g) => {
                    let g = g.compile_matcher();
                    nodes.iter().filter(|n| g.is_match(n.as_str())).collect()
                }
                Err(_) => Vec::new(),
            }
        } else {
            nodes.iter().filter(|n| n.as_str() == leaf).collect()
        };
        if hits.is_empty() {
            missing.push(format!(
                "ls: cannot access '{p}': No such file or directory"
            ));
        }
        for h in hits {
            r.say(format!("/dev/{h}"));
        }
    }
    if !missing.is_empty() {
        r.error = Some(tool_error(Errno::ENOENT, "ls", missing.join("\n")));
    }
    r
}
