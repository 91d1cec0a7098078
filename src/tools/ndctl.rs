//! `ndctl` (ndctl/namespace.c, ndctl/list.c of pmem/ndctl v76): create-namespace (with
//! `-e` reconfiguration), disable-/enable-/destroy-namespace, disable-/enable-region, list.
//!
//! `create-namespace -e NS` is `namespace_reconfig()`: `validate_namespace_options()` (every
//! refusal below happens before anything changes), `namespace_prep_reconfig()` (refuses an
//! active namespace without `--force`; disables it — nd_pmem or dax_pmem unbinds — and zeroes
//! the info block), then `setup_namespace()` (writes the pfn/dax personality, the kernel's
//! `nd_pfn_init()` lays out the info block, and the mode's driver binds).

use super::{J, ToolParseError, ToolRun, clap_error, list_json, size_json, strerror, tool_error};
use crate::kernel::machine::Machine;
use crate::kernel::nvdimm::{Namespace, NsMode, PfnMode, Provider, SUPPORTED_ALIGNMENTS, SZ_2M};
use crate::kernel::{Errno, KernelError, Trace};
use clap::{Parser, Subcommand, ValueEnum};
use std::fmt;

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum, serde::Serialize)]
pub enum Mode {
    Raw,
    /// Also `memory` (ndctl's old name).
    #[value(alias = "memory")]
    Fsdax,
    /// Also `dax`.
    #[value(alias = "dax")]
    Devdax,
    /// btt (`safe`): not modelled.
    #[value(alias = "safe")]
    Sector,
}

impl Mode {
    fn ns_mode(self) -> NsMode {
        match self {
            Mode::Raw | Mode::Sector => NsMode::Raw,
            Mode::Fsdax => NsMode::Fsdax,
            Mode::Devdax => NsMode::Devdax,
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum, serde::Serialize)]
pub enum Map {
    Dev,
    Mem,
}

#[derive(Debug, Parser)]
#[command(name = "ndctl", disable_help_subcommand = true)]
struct Args {
    #[command(subcommand)]
    cmd: Sub,
}

#[derive(Debug, Subcommand)]
enum Sub {
    /// Provision or reconfigure a namespace.
    CreateNamespace {
        /// Reconfigure an existing namespace.
        #[arg(short = 'e', long = "reconfig", value_name = "namespaceX.Y")]
        reconfig: Option<String>,
        #[arg(short = 'm', long = "mode", value_enum)]
        mode: Option<Mode>,
        #[arg(short = 'M', long = "map", value_enum)]
        map: Option<Map>,
        #[arg(short = 's', long = "size")]
        size: Option<String>,
        #[arg(short = 'a', long = "align")]
        align: Option<String>,
        #[arg(short = 'f', long = "force")]
        force: bool,
        #[arg(short = 'r', long = "region")]
        region: Option<String>,
        #[arg(short = 'v', long = "verbose")]
        verbose: bool,
    },
    DisableNamespace {
        namespace: String,
        #[arg(short = 'r', long = "region")]
        region: Option<String>,
        #[arg(short = 'v', long = "verbose")]
        verbose: bool,
    },
    EnableNamespace {
        namespace: String,
        #[arg(short = 'r', long = "region")]
        region: Option<String>,
        #[arg(short = 'v', long = "verbose")]
        verbose: bool,
    },
    DestroyNamespace {
        namespace: String,
        #[arg(short = 'f', long = "force")]
        force: bool,
        #[arg(short = 'r', long = "region")]
        region: Option<String>,
        #[arg(short = 'v', long = "verbose")]
        verbose: bool,
    },
    DisableRegion {
        region: String,
        #[arg(short = 'b', long = "bus")]
        bus: Option<String>,
        #[arg(short = 't', long = "type")]
        region_type: Option<String>,
        #[arg(short = 'v', long = "verbose")]
        verbose: bool,
    },
    EnableRegion {
        region: String,
        #[arg(short = 'b', long = "bus")]
        bus: Option<String>,
        #[arg(short = 't', long = "type")]
        region_type: Option<String>,
        #[arg(short = 'v', long = "verbose")]
        verbose: bool,
    },
    List {
        #[arg(short = 'R', long = "regions")]
        regions: bool,
        #[arg(short = 'N', long = "namespaces")]
        namespaces: bool,
        #[arg(short = 'u', long = "human")]
        human: bool,
        #[arg(short = 'i', long = "idle")]
        idle: bool,
        #[arg(short = 'X', long = "device-dax")]
        dax: bool,
        #[arg(short = 'D', long = "dimms")]
        dimms: bool,
        #[arg(short = 'B', long = "buses")]
        buses: bool,
        #[arg(short = 'v', long = "verbose")]
        verbose: bool,
    },
}

/// A parsed `ndctl` line.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub enum Ndctl {
    CreateNamespace {
        reconfig: Option<String>,
        mode: Option<Mode>,
        map: Option<Map>,
        /// As typed (ndctl's messages repeat it) and in bytes.
        size: Option<(String, u64)>,
        align: Option<(String, u64)>,
        force: bool,
        region: Option<String>,
    },
    DisableNamespace {
        namespace: String,
    },
    EnableNamespace {
        namespace: String,
    },
    DestroyNamespace {
        namespace: String,
        force: bool,
    },
    /// `disable-region REGION` (`regionN`, `N`, `all`, or several, space-separated, as
    /// `util_region_filter` reads them); `-t blk` matches no region here (every simulated
    /// region is pmem).
    DisableRegion {
        region: String,
        region_type: Option<String>,
    },
    EnableRegion {
        region: String,
        region_type: Option<String>,
    },
    List {
        regions: bool,
        namespaces: bool,
        human: bool,
        idle: bool,
        dax: bool,
    },
}

/// ndctl's `parse_size64`: a number (decimal or `0x` hex) with an optional K/M/G/T suffix.
pub fn parse_size64(s: &str) -> Option<u64> {
    let t = s.trim();
    let (num, shift) = match t.chars().last()? {
        'k' | 'K' => (&t[..t.len() - 1], 10),
        'm' | 'M' => (&t[..t.len() - 1], 20),
        'g' | 'G' => (&t[..t.len() - 1], 30),
        't' | 'T' => (&t[..t.len() - 1], 40),
        _ => (t, 0),
    };
    let n = if let Some(h) = num.strip_prefix("0x").or_else(|| num.strip_prefix("0X")) {
        u64::from_str_radix(h, 16).ok()?
    } else {
        num.parse::<u64>().ok()?
    };
    n.checked_mul(1u64 << shift)
}

fn size_arg(opt: &str, v: Option<String>) -> Result<Option<(String, u64)>, ToolParseError> {
    match v {
        None => Ok(None),
        Some(s) => match parse_size64(&s) {
            Some(n) => Ok(Some((s, n))),
            None => Err(ToolParseError(format!(
                "ndctl: {opt}: expected a size like 2M, 1G or 0x200000, not {s:?}"
            ))),
        },
    }
}

/// `parse_region_options` (ndctl/region.c): `-t` is `pmem` or `blk`.
fn region_type_arg(t: Option<String>) -> Result<Option<String>, ToolParseError> {
    match t.as_deref() {
        None | Some("pmem" | "blk") => Ok(t),
        Some(other) => Err(ToolParseError(format!(
            "Error: unknown region type '{other}', should be 'pmem' or 'blk'"
        ))),
    }
}

/// `util_region_filter` (util/filter.c): IDENT is space-separated names, each `all`, the
/// region's id in decimal, or its device name.
pub fn region_matches(ident: &str, id: u32) -> bool {
    ident
        .split(' ')
        .filter(|w| !w.is_empty())
        .any(|w| w == "all" || w.parse::<u32>().ok() == Some(id) || w == format!("region{id}"))
}

pub fn parse(argv: &[String]) -> Result<Ndctl, ToolParseError> {
    let a = Args::try_parse_from(argv).map_err(clap_error)?;
    Ok(match a.cmd {
        Sub::CreateNamespace {
            reconfig,
            mode,
            map,
            size,
            align,
            force,
            region,
            verbose: _,
        } => {
            if mode == Some(Mode::Sector) {
                return Err(ToolParseError(
                    "ndctl create-namespace -m sector: btt (sector mode) is not modelled".into(),
                ));
            }
            Ndctl::CreateNamespace {
                reconfig,
                mode,
                map,
                size: size_arg("--size", size)?,
                align: size_arg("--align", align)?,
                force,
                region,
            }
        }
        Sub::DisableNamespace { namespace, .. } => Ndctl::DisableNamespace { namespace },
        Sub::EnableNamespace { namespace, .. } => Ndctl::EnableNamespace { namespace },
        Sub::DestroyNamespace {
            namespace, force, ..
        } => Ndctl::DestroyNamespace { namespace, force },
        Sub::DisableRegion {
            region,
            region_type,
            ..
        } => Ndctl::DisableRegion {
            region,
            region_type: region_type_arg(region_type)?,
        },
        Sub::EnableRegion {
            region,
            region_type,
            ..
        } => Ndctl::EnableRegion {
            region,
            region_type: region_type_arg(region_type)?,
        },
        Sub::List {
            regions,
            namespaces,
            human,
            idle,
            dax,
            dimms: _,
            buses: _,
            verbose: _,
        } => Ndctl::List {
            regions,
            namespaces,
            human,
            idle,
            dax,
        },
    })
}

impl Ndctl {
    pub fn is_query(&self) -> bool {
        matches!(self, Ndctl::List { .. })
    }
}

impl fmt::Display for Ndctl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Ndctl::CreateNamespace {
                reconfig,
                mode,
                map,
                size,
                align,
                force,
                region,
            } => {
                write!(f, "ndctl create-namespace")?;
                if *force {
                    write!(f, " -f")?;
                }
                if let Some(e) = reconfig {
                    write!(f, " -e {e}")?;
                }
                if let Some(r) = region {
                    write!(f, " -r {r}")?;
                }
                if let Some(m) = mode {
                    let m = m.to_possible_value().map(|v| v.get_name().to_string());
                    write!(f, " -m {}", m.unwrap_or_default())?;
                }
                if let Some(m) = map {
                    write!(f, " --map {}", if *m == Map::Dev { "dev" } else { "mem" })?;
                }
                if let Some((s, _)) = size {
                    write!(f, " -s {s}")?;
                }
                if let Some((a, _)) = align {
                    write!(f, " -a {a}")?;
                }
                Ok(())
            }
            Ndctl::DisableNamespace { namespace } => {
                write!(
                    f,
                    "ndctl disable-namespace {}",
                    super::positional(namespace)
                )
            }
            Ndctl::EnableNamespace { namespace } => {
                write!(f, "ndctl enable-namespace {}", super::positional(namespace))
            }
            Ndctl::DestroyNamespace { namespace, force } => write!(
                f,
                "ndctl destroy-namespace{} {}",
                if *force { " -f" } else { "" },
                super::positional(namespace)
            ),
            Ndctl::DisableRegion {
                region,
                region_type,
            }
            | Ndctl::EnableRegion {
                region,
                region_type,
            } => {
                let verb = if matches!(self, Ndctl::DisableRegion { .. }) {
                    "disable"
                } else {
                    "enable"
                };
                write!(f, "ndctl {verb}-region")?;
                if let Some(t) = region_type {
                    write!(f, " -t {t}")?;
                }
                write!(f, " {}", super::positional(region))
            }
            Ndctl::List {
                regions,
                namespaces,
                human,
                idle,
                dax,
            } => {
                let mut fl = String::new();
                for (b, c) in [
                    (*regions, 'R'),
                    (*namespaces, 'N'),
                    (*dax, 'X'),
                    (*idle, 'i'),
                    (*human, 'u'),
                ] {
                    if b {
                        fl.push(c);
                    }
                }
                if fl.is_empty() {
                    write!(f, "ndctl list")
                } else {
                    write!(f, "ndctl list -{fl}")
                }
            }
        }
    }
}

/// Why a namespace is missing, for a user coming from a boot dump.
fn no_namespace_hint(m: &Machine) -> &'static str {
    if m.nvdimm.regions.is_empty() {
        "\n  (no nvdimm region yet: load the bus provider first, `modprobe nd_e820` for \"Persistent Memory (legacy)\", `modprobe nfit` for \"Persistent Memory\")"
    } else {
        ""
    }
}

fn fail(r: &mut ToolRun, errno: Errno, words: Vec<String>, what: &str, partial: bool) {
    let mut text = words.join("\n");
    if !what.is_empty() {
        if !text.is_empty() {
            text.push('\n');
        }
        text.push_str(&format!("{what}: {}", strerror(errno)));
    }
    r.error = Some(tool_error(errno, "ndctl", text));
    r.partial = partial;
}

fn kfail(r: &mut ToolRun, e: KernelError, what: &str, partial: bool) {
    let mut te = tool_error(
        e.errno,
        "ndctl",
        format!(
            "{what}: {}\n  (kernel: {}: {})",
            strerror(e.errno),
            e.func,
            e.reason
        ),
    );
    te.log = e.log;
    r.error = Some(te);
    r.partial = partial;
}

pub fn run(m: &mut Machine, c: &Ndctl, trace: &mut Trace) -> ToolRun {
    let mut r = ToolRun::default();
    match c {
        Ndctl::List {
            regions,
            namespaces,
            human,
            idle,
            dax,
        } => {
            if let Some(j) = list(m, *regions, *namespaces, *human, *idle, *dax) {
                r.say(j.render());
            }
        }
        Ndctl::CreateNamespace {
            reconfig,
            mode,
            map,
            size,
            align,
            force,
            region,
        } => create(
            m,
            &mut r,
            reconfig.as_deref(),
            *mode,
            *map,
            size,
            align,
            *force,
            region.as_deref(),
            trace,
        ),
        Ndctl::DisableNamespace { namespace } => {
            match m
                .nvdimm
                .namespaces
                .iter()
                .position(|n| &n.name == namespace && m.nd_namespace_registered(n))
            {
                None => {
                    r.say("disabled 0 namespaces");
                    fail(
                        &mut r,
                        Errno::ENXIO,
                        vec![format!(
                            "error disabling namespaces: {}",
                            strerror(Errno::ENXIO)
                        )],
                        "",
                        false,
                    );
                }
                Some(i) => {
                    if let Err(e) = m.nd_namespace_disable(namespace, trace) {
                        kfail(&mut r, e, &format!("{namespace}: failed to disable"), false);
                        return r;
                    }
                    m.nvdimm.namespaces[i].user_disabled = true;
                    r.say("disabled 1 namespace");
                }
            }
        }
        Ndctl::EnableNamespace { namespace } => {
            match m
                .nvdimm
                .namespaces
                .iter()
                .position(|n| &n.name == namespace && m.nd_namespace_registered(n))
            {
                None => fail(
                    &mut r,
                    Errno::ENXIO,
                    vec!["enabled 0 namespaces".into()],
                    "",
                    false,
                ),
                Some(i) => {
                    m.nvdimm.namespaces[i].user_disabled = false;
                    if !m.nvdimm.namespaces[i].enabled
                        && let Err(e) = enable(m, namespace, trace)
                    {
                        kfail(&mut r, e, &format!("{namespace}: failed to enable"), false);
                        return r;
                    }
                    r.say("enabled 1 namespace");
                }
            }
        }
        Ndctl::DisableRegion {
            region,
            region_type,
        }
        | Ndctl::EnableRegion {
            region,
            region_type,
        } => {
            let disable = matches!(c, Ndctl::DisableRegion { .. });
            // do_xable_region: every region the filter matches; one that refuses is not
            // counted, and the command still exits 0 ("disabled 0 regions").
            let ids: Vec<u32> = m
                .nvdimm
                .regions
                .iter()
                .filter(|g| region_type.as_deref() != Some("blk") && region_matches(region, g.id))
                .map(|g| g.id)
                .collect();
            let mut done = 0;
            for id in ids {
                let res = if disable {
                    m.nd_region_disable(id, trace)
                } else {
                    m.nd_region_enable(id, trace)
                };
                match res {
                    Ok(()) => done += 1,
                    Err(e) => trace.step(
                        0,
                        "ndctl",
                        format!(
                            "region{id} not counted: {}: {} ({})",
                            e.func,
                            e.reason,
                            strerror(e.errno)
                        ),
                    ),
                }
            }
            r.say(format!(
                "{}abled {done} region{}",
                if disable { "dis" } else { "en" },
                if done == 1 { "" } else { "s" }
            ));
        }
        Ndctl::DestroyNamespace { namespace, force } => {
            let Some(i) = m
                .nvdimm
                .namespaces
                .iter()
                .position(|n| &n.name == namespace && m.nd_namespace_registered(n))
            else {
                fail(
                    &mut r,
                    Errno::ENXIO,
                    vec!["destroyed 0 namespaces".into()],
                    "",
                    false,
                );
                return r;
            };
            let ns = m.nvdimm.namespaces[i].clone();
            if ns.enabled && !force {
                fail(
                    &mut r,
                    Errno::EBUSY,
                    vec![
                        format!(
                            "Error: {namespace} is active, specify --force for re-configuration"
                        ),
                        "destroyed 0 namespaces".into(),
                    ],
                    "",
                    false,
                );
                return r;
            }
            if let Err(e) = m.nd_namespace_disable(namespace, trace) {
                kfail(&mut r, e, &format!("{namespace}: failed to disable"), false);
                return r;
            }
            // zero_info_block: the personality is gone; a legacy namespace stays, disabled.
            let _ = m.nd_namespace_set_mode(namespace, NsMode::Raw, PfnMode::Ram, 4096, trace);
            m.nvdimm.namespaces[i].user_disabled = true;
            m.nvdimm.namespaces[i].uuid = None;
            r.say(if ns.mode == NsMode::Raw {
                "destroyed 0 namespaces"
            } else {
                "destroyed 1 namespace"
            });
        }
    }
    if let Some(e) = r.error.as_mut()
        && e.errno == Errno::ENXIO
        && !r.partial
    {
        e.reason.push_str(no_namespace_hint(m));
    }
    r
}

/// Bind the namespace's driver, loading it first as libndctl does (`ndctl_*_enable` inserts
/// the device's module); the dax device's driver (device_dax) arrives the same way.
fn enable(m: &mut Machine, ns: &str, trace: &mut Trace) -> Result<(), KernelError> {
    let mode = m
        .nvdimm
        .namespaces
        .iter()
        .find(|n| n.name == ns)
        .map(|n| n.mode);
    let modules: &[&str] = match mode {
        Some(NsMode::Devdax) => &["dax_pmem", "device_dax"],
        _ => &["nd_pmem"],
    };
    for module in modules {
        if !m.module_loaded(module) {
            trace.step(0, "ndctl", format!("libndctl loads {module} for {ns}"));
            m.nvdimm.modules.insert((*module).to_string());
        }
    }
    m.nd_namespace_probe(ns, trace)
}

#[allow(clippy::too_many_arguments)]
fn create(
    m: &mut Machine,
    r: &mut ToolRun,
    reconfig: Option<&str>,
    mode: Option<Mode>,
    map: Option<Map>,
    size: &Option<(String, u64)>,
    align: &Option<(String, u64)>,
    force: bool,
    region: Option<&str>,
    trace: &mut Trace,
) {
    let verb = if reconfig.is_some() {
        "reconfigure"
    } else {
        "create"
    };
    let what = format!("failed to {verb} namespace");
    // Which namespace: -e, or the idle namespace 0 of a region (legacy regions have one,
    // already holding the whole region: never idle unless disabled and raw).
    let ns: Namespace = match reconfig {
        Some(name) => match m
            .nvdimm
            .namespaces
            .iter()
            .find(|n| n.name == name && m.nd_namespace_registered(n))
        {
            Some(n) => n.clone(),
            None => {
                fail(r, Errno::ENXIO, vec![], &what, false);
                return;
            }
        },
        None => {
            let cand = m.nvdimm.namespaces.iter().find(|n| {
                region.is_none_or(|want| {
                    want == format!("region{}", n.region) || want == n.region.to_string()
                }) && !n.enabled
                    && n.mode == NsMode::Raw
                    && m.nd_namespace_registered(n)
            });
            match cand {
                Some(n) => n.clone(),
                None => {
                    // validate_available_capacity / region_get_namespace: -EAGAIN on every region.
                    fail(r, Errno::ENXIO, vec![], &what, false);
                    if let Some(e) = r.error.as_mut() {
                        e.reason = format!(
                            "{what}: Resource temporarily unavailable\n  (no idle namespace: a legacy region's namespace is reconfigured with -f -e namespaceX.Y)"
                        );
                    }
                    return;
                }
            }
        }
    };
    let reg = m.nvdimm.regions.iter().find(|g| g.id == ns.region).cloned();
    let region_name = format!("region{}", ns.region);
    // validate_namespace_options()
    let psize = size.as_ref().map_or(ns.size(), |s| s.1);
    if psize != ns.size() {
        fail(
            r,
            Errno::EINVAL,
            vec![
                "Error: Legacy / label-less namespaces do not support sub-dividing a region".into(),
                "Error: Retry without -s/--size=".into(),
            ],
            &what,
            false,
        );
        return;
    }
    let target = mode.map_or(ns.mode, Mode::ns_mode);
    let p_align = match (align, target) {
        (Some((txt, a)), NsMode::Fsdax | NsMode::Devdax) => {
            if !SUPPORTED_ALIGNMENTS.contains(a) {
                fail(
                    r,
                    Errno::ENXIO,
                    vec![format!("Error: unsupported align: {txt}")],
                    &what,
                    false,
                );
                return;
            }
            *a
        }
        (Some(_), NsMode::Raw) => {
            fail(
                r,
                Errno::ENXIO,
                vec!["Error: raw mode does not support setting an alignment".into()],
                &what,
                false,
            );
            return;
        }
        (None, NsMode::Raw) => 4096,
        (None, _) => {
            // Same mode: the namespace's own align; else the seed's default (2M on x86_64
            // with THP: nd_pfn_default_alignment). A region start not aligned to it → page.
            let a = match ns.info {
                Some(i) if ns.mode == target => i.align,
                _ => SZ_2M,
            };
            if !ns.start.is_multiple_of(a) { 4096 } else { a }
        }
    };
    // region align (16 MiB for these regions) and `p->size % (size_align * ways)`.
    let region_align = 16u64 << 20;
    if !psize.is_multiple_of(region_align) {
        fail(
            r,
            Errno::EINVAL,
            vec![format!(
                "{region_name}: align setting is {region_align:#x} size {psize:#x} is misaligned"
            )],
            &what,
            false,
        );
        return;
    }
    if !psize.is_multiple_of(p_align) {
        let units = 1u64;
        let sa = units.max(p_align);
        let suggest = (psize / sa + 1) * sa / units;
        fail(
            r,
            Errno::EINVAL,
            vec![format!(
                "'--size=' must align to interleave-width: 1 and alignment: {p_align}\ndid you intend --size={suggest}?"
            )],
            &what,
            false,
        );
        return;
    }
    if map.is_some() && target == NsMode::Raw {
        fail(
            r,
            Errno::EINVAL,
            vec![format!(
                "{}: --map= only valid for fsdax mode namespace",
                ns.name
            )],
            &what,
            false,
        );
        return;
    }
    let pfn_mode = match map {
        Some(Map::Mem) => PfnMode::Ram,
        _ => PfnMode::Pmem,
    };
    // The kernel's layout is checked before anything changes too (the simulator can: the
    // info block is pure arithmetic), so a refused nd_pfn_init leaves the namespace alone.
    if target != NsMode::Raw
        && let Err((errno, log)) = crate::kernel::nvdimm::nd_pfn_init(
            &ns.name,
            ns.start,
            ns.size(),
            pfn_mode,
            p_align,
            m.config.version,
        )
    {
        let mut e = tool_error(
            errno,
            "ndctl",
            format!("{}: failed to enable\n{what}: {}", ns.name, strerror(errno)),
        );
        let l = format!("nd_pfn_init: {log}");
        trace.log(l.clone());
        e.log = Some(l);
        r.error = Some(e);
        return;
    }
    // namespace_prep_reconfig()
    if ns.enabled && !force {
        fail(
            r,
            Errno::EBUSY,
            vec![format!(
                "Error: {} is active, specify --force for re-configuration",
                ns.name
            )],
            &what,
            false,
        );
        return;
    }
    if let Err(e) = m.nd_namespace_disable(&ns.name, trace) {
        kfail(r, e, &what, false);
        return;
    }
    // setup_namespace(): the personality, then enable.
    if let Err(e) = m.nd_namespace_set_mode(&ns.name, target, pfn_mode, p_align, trace) {
        kfail(r, e, &what, true);
        return;
    }
    if let Some(n) = m.nvdimm.namespaces.iter_mut().find(|n| n.name == ns.name) {
        n.uuid = (target != NsMode::Raw).then(|| pseudo_uuid(ns.start, ns.region));
    }
    if let Err(e) = enable(m, &ns.name, trace) {
        kfail(
            r,
            e,
            &format!("{}: failed to enable\n{what}", ns.name),
            true,
        );
        return;
    }
    let _ = reg;
    if let Some(n) = m
        .nvdimm
        .namespaces
        .iter()
        .find(|n| n.name == ns.name)
        .cloned()
    {
        r.say(namespace_json(m, &n, false).render());
    }
}

/// ndctl generates a random uuid; the simulator's is derived from the namespace so that a
/// session replays identically.
fn pseudo_uuid(start: u64, region: u32) -> String {
    format!(
        "00000000-0000-4000-8{region:03x}-{:012x}",
        start & 0xffff_ffff_ffff
    )
}

/// `util_namespace_to_json`.
pub fn namespace_json(m: &Machine, n: &Namespace, human: bool) -> J {
    let reg = m.nvdimm.regions.iter().find(|g| g.id == n.region);
    let pagemap = reg.is_some_and(|g| g.provider == Provider::E820);
    let blockdev = n.blockdev_name();
    let mut o: Vec<(&'static str, J)> = vec![("dev", J::Str(n.name.clone()))];
    match n.mode {
        NsMode::Raw => {
            // mode_show(): a raw io namespace of a region with ND_REGION_PAGEMAP (nd_e820 sets
            // it) reads "memory" — ndctl prints fsdax with its memmap in RAM.
            if pagemap {
                o.push(("mode", J::Str("fsdax".into())));
                o.push(("map", J::Str("mem".into())));
            } else {
                o.push(("mode", J::Str("raw".into())));
            }
            o.push(("size", size_json(n.size(), human)));
            o.push(("sector_size", J::Num(512)));
            if n.enabled {
                o.push(("blockdev", J::Str(blockdev)));
            }
        }
        NsMode::Fsdax | NsMode::Devdax => {
            let info = n.info;
            let data = info.map_or(n.size(), |i| n.size() - i.dataoff - i.end_trunc);
            let align = info.map_or(SZ_2M, |i| i.align);
            o.push(("mode", J::Str(n.mode.as_str().into())));
            let map = match info.map(|i| i.mode) {
                Some(PfnMode::Ram) => "mem",
                _ => "dev",
            };
            o.push(("map", J::Str(map.into())));
            o.push(("size", size_json(data, human)));
            if let Some(u) = &n.uuid {
                o.push(("uuid", J::Str(u.clone())));
            }
            if n.mode == NsMode::Devdax {
                let dax = n.dax_name();
                let devs: Vec<J> = m
                    .dax
                    .get(&dax)
                    .map(|d| super::daxctl::dev_json(m, d, human))
                    .into_iter()
                    .collect();
                o.push((
                    "daxregion",
                    J::Obj(vec![
                        ("id", J::Num(i64::from(n.region))),
                        ("size", size_json(data, human)),
                        ("align", J::Num(align as i64)),
                        ("devices", J::Arr(devs)),
                    ]),
                ));
                o.push(("align", J::Num(align as i64)));
            } else {
                o.push(("sector_size", J::Num(512)));
                o.push(("align", J::Num(align as i64)));
                if n.enabled {
                    o.push(("blockdev", J::Str(blockdev)));
                }
            }
        }
    }
    J::Obj(o)
}

/// `ndctl list`: namespaces (default), regions with `-R` (namespaces nested with `-N`).
fn list(
    m: &Machine,
    regions: bool,
    namespaces: bool,
    human: bool,
    idle: bool,
    _dax: bool,
) -> Option<J> {
    let nss = |rid: Option<u32>| -> Vec<J> {
        m.nvdimm
            .namespaces
            .iter()
            .filter(|n| rid.is_none_or(|r| n.region == r))
            .filter(|n| m.nd_namespace_registered(n))
            .filter(|n| idle || n.enabled)
            .map(|n| namespace_json(m, n, human))
            .collect()
    };
    if regions {
        let rs: Vec<J> = m
            .nvdimm
            .regions
            .iter()
            // filter_region: a disabled region is listed with -i only.
            .filter(|g| idle || g.enabled)
            .map(|g| {
                let size = g.end - g.start + 1;
                let mut o = vec![
                    ("dev", J::Str(format!("region{}", g.id))),
                    ("size", size_json(size, human)),
                    ("align", size_json(16 << 20, human)),
                    ("available_size", J::Num(0)),
                    ("max_available_extent", J::Num(0)),
                    ("type", J::Str("pmem".into())),
                ];
                // region_to_json: "state" after the mappings, before persistence_domain.
                if !g.enabled {
                    o.push(("state", J::Str("disabled".into())));
                }
                o.push((
                    "persistence_domain",
                    J::Str(
                        match g.provider {
                            Provider::E820 => "unknown",
                            Provider::Nfit => "memory_controller",
                        }
                        .into(),
                    ),
                ));
                if namespaces {
                    let n = nss(Some(g.id));
                    if !n.is_empty() {
                        o.push(("namespaces", J::Arr(n)));
                    }
                }
                J::Obj(o)
            })
            .collect();
        if rs.is_empty() {
            return None;
        }
        // list_display: regions and namespaces together make the {"regions":[…]} object only
        // when lfa->jnamespaces is set, and filter_region clears it at each region: so when
        // the last region listed has namespaces.
        let last_has_namespaces = matches!(
            rs.last(),
            Some(J::Obj(o)) if o.iter().any(|(k, _)| *k == "namespaces")
        );
        if namespaces && last_has_namespaces {
            return Some(J::Obj(vec![("regions", J::Arr(rs))]));
        }
        return list_json(rs);
    }
    list_json(nss(None))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_as_ndctl_parses_them() {
        assert_eq!(parse_size64("2M"), Some(2 << 20));
        assert_eq!(parse_size64("1g"), Some(1 << 30));
        assert_eq!(parse_size64("0x200000"), Some(2 << 20));
        assert_eq!(parse_size64("4096"), Some(4096));
        assert_eq!(parse_size64("lots"), None);
    }

    /// util/filter.c `util_region_filter`: space-separated words, each `all`, the id by
    /// `strtol(name, &end, 10)` with nothing after it, or the device name.
    #[test]
    fn region_idents_as_util_region_filter_reads_them() {
        for (ident, id, want) in [
            ("all", 3, true),
            ("0", 0, true),
            ("00", 0, true),
            ("region0", 0, true),
            ("region1", 0, false),
            ("1", 0, false),
            ("0x0", 0, false),
            ("0a", 0, false),
            ("region1 region0", 0, true),
            ("region1 region0", 1, true),
            ("region1 region0", 2, false),
            ("", 0, false),
        ] {
            assert_eq!(region_matches(ident, id), want, "{ident:?} region{id}");
        }
    }

    #[test]
    fn region_types_are_pmem_or_blk() {
        let p = |l: &str| parse(&l.split(' ').map(String::from).collect::<Vec<_>>());
        assert!(p("ndctl disable-region -t pmem all").is_ok());
        assert!(p("ndctl enable-region --type blk 0").is_ok());
        let e = p("ndctl disable-region -t nvme all").unwrap_err();
        assert_eq!(
            e.0,
            "Error: unknown region type 'nvme', should be 'pmem' or 'blk'"
        );
        assert!(p("ndctl disable-region").is_err(), "a region is required");
    }
}
