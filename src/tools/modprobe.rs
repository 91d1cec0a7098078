//! `modprobe [-a] MODULE...` (kmod): load modules; the drivers bind as the driver core binds
//! them ([`crate::kernel::nvdimm`]).

use super::{ToolParseError, ToolRun, clap_error, tool_error};
use crate::kernel::machine::Machine;
use crate::kernel::nvdimm::{MODULES, UNMODELLED, module_name};
use crate::kernel::{Errno, Trace};
use clap::Parser;
use std::fmt;

#[derive(Debug, Parser)]
#[command(name = "modprobe", no_binary_name = false, disable_help_flag = true)]
struct Args {
    /// Load every MODULE named (without it, the words after the first are module parameters).
    #[arg(short = 'a', long = "all")]
    all: bool,
    /// Print what is done (accepted, no effect here).
    #[arg(short = 'v', long = "verbose")]
    verbose: bool,
    /// Quiet (accepted).
    #[arg(short = 'q', long = "quiet")]
    quiet: bool,
    /// Remove modules: not modelled.
    #[arg(short = 'r', long = "remove")]
    remove: bool,
    #[arg(required = true, value_name = "MODULE")]
    words: Vec<String>,
}

/// A parsed `modprobe` line.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct Modprobe {
    /// Canonical names (`nd-e820` → `nd_e820`).
    pub modules: Vec<String>,
}

pub fn parse(argv: &[String]) -> Result<Modprobe, ToolParseError> {
    let a = Args::try_parse_from(argv).map_err(clap_error)?;
    let _ = (a.verbose, a.quiet);
    if a.remove {
        return Err(ToolParseError(
            "modprobe -r: unloading modules is not modelled".into(),
        ));
    }
    if !a.all && a.words.len() > 1 {
        return Err(ToolParseError(format!(
            "modprobe {}: module parameters ({}) are not modelled; use -a to load several modules",
            a.words[0],
            a.words[1..].join(" ")
        )));
    }
    let mut modules = Vec::new();
    for w in &a.words {
        let m = module_name(w);
        if !MODULES.contains(&m.as_str()) {
            let why = if UNMODELLED.contains(&m.as_str()) || m.starts_with("cxl") {
                format!("modprobe {m}: the {m} module is not modelled by iomem-sim")
            } else {
                format!(
                    "modprobe: FATAL: Module {m} not found (modelled: {})",
                    MODULES.join(", ")
                )
            };
            return Err(ToolParseError(why));
        }
        modules.push(m);
    }
    Ok(Modprobe { modules })
}

impl fmt::Display for Modprobe {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.modules.len() > 1 {
            write!(f, "modprobe -a {}", self.modules.join(" "))
        } else {
            write!(f, "modprobe {}", self.modules.join(" "))
        }
    }
}

pub fn run(m: &mut Machine, c: &Modprobe, trace: &mut Trace) -> ToolRun {
    let mut r = ToolRun::default();
    for (i, module) in c.modules.iter().enumerate() {
        if let Err(e) = m.modprobe(module, trace) {
            r.partial = i > 0;
            let mut te = tool_error(e.errno, "modprobe", format!("{module}: {}", e.reason));
            te.log = e.log.clone();
            r.error = Some(te);
            return r;
        }
    }
    if c.modules.is_empty() {
        r.error = Some(tool_error(Errno::EINVAL, "modprobe", "no module"));
    }
    r
}
