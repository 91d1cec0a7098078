//! Man pages (clap_mangen), one per command, from the same clap definition as the parser
//! (issue 9): `iomem-sim man [PAGE]` prints one, `iomem-sim man --dir DIR` writes them all.
//!
//! clap_mangen renders NAME, SYNOPSIS, DESCRIPTION, OPTIONS and SUBCOMMANDS; the sections a
//! man page is expected to have beyond those (EXAMPLES, EXIT STATUS, ENVIRONMENT, FILES, SEE
//! ALSO, as man-pages(7) lists them) are written here.

use clap_mangen::roff::{Roff, bold, roman};
use std::io::Write;
use std::path::Path;
use std::sync::OnceLock;

/// The page names: `iomem-sim` and `hotplug-add`, `show`, … (the command words joined by `-`).
pub fn page_names() -> Vec<&'static str> {
    static NAMES: OnceLock<Vec<&'static str>> = OnceLock::new();
    NAMES
        .get_or_init(|| {
            let mut v = vec!["iomem-sim"];
            // The unbuilt tree: building it would ask this function for the values of
            // `man PAGE` (a re-entrant init).
            use clap::CommandFactory;
            for (words, _) in leaves(&crate::command::LineGrammar::command()) {
                v.push(Box::leak(words.join("-").into_boxed_str()));
            }
            v
        })
        .clone()
}

/// Every runnable command of `root` with its command words (`["hotplug", "add"]`).
fn leaves(root: &clap::Command) -> Vec<(Vec<String>, clap::Command)> {
    let mut v = Vec::new();
    for c in root.get_subcommands() {
        if c.has_subcommands() {
            for s in c.get_subcommands() {
                v.push((
                    vec![c.get_name().to_string(), s.get_name().to_string()],
                    s.clone(),
                ));
            }
        } else {
            v.push((vec![c.get_name().to_string()], c.clone()));
        }
    }
    v
}

fn examples_of(c: &clap::Command) -> Vec<String> {
    c.get_after_help()
        .map(|h| h.to_string())
        .unwrap_or_default()
        .lines()
        .skip(1)
        .map(|l| l.trim().to_string())
        .filter(|l| !l.is_empty())
        .collect()
}

fn section(roff: &mut Roff, title: &str, paras: &[&str]) {
    roff.control("SH", [title]);
    for (i, p) in paras.iter().enumerate() {
        if i > 0 {
            roff.control("PP", []);
        }
        roff.text([roman(*p)]);
    }
}

fn tail_sections(roff: &mut Roff, examples: &[String], subpages: &[String]) {
    roff.control("SH", ["EXAMPLES"]);
    for e in examples {
        let line = if e.starts_with("iomem-sim") {
            e.clone()
        } else {
            format!("iomem-sim {e}")
        };
        roff.control("TP", []);
        roff.text([bold(line)]);
    }
    section(
        roff,
        "EXIT STATUS",
        &[
            "0: success.",
            "1: a command was refused by the simulated kernel (the tree is left as it was), or check found anomalies.",
            "2: bad input, bad command syntax, an I/O or usage error.",
        ],
    );
    section(
        roff,
        "ENVIRONMENT",
        &[
            "NO_COLOR: when set and not empty, --color auto does not color (no-color.org).",
            "TERM: when dumb, --color auto does not color.",
            "XDG_STATE_HOME, HOME: where the REPL keeps its history (see FILES).",
        ],
    );
    section(
        roff,
        "FILES",
        &[
            "$XDG_STATE_HOME/iomem-sim/history, else ~/.local/state/iomem-sim/history: the REPL's line history, saved when it ends.",
            "/proc/iomem, /proc/ioports: the kernel's resource trees, read with --input.",
        ],
    );
    let mut see: Vec<String> = subpages.iter().map(|p| format!("{p}(1)")).collect();
    see.extend(["lsmem(1)", "chmem(8)", "daxctl(1)", "ndctl(1)", "proc(5)"].map(String::from));
    section(roff, "SEE ALSO", &[&see.join(", ")]);
}

/// One page: `iomem-sim` (the program and its options) or a command's (`hotplug-add`).
/// `cli` is the command line's clap tree (`Cli::command()`).
pub fn render(cli: &clap::Command, page: &str, out: &mut dyn Write) -> std::io::Result<()> {
    let mut cli = cli.clone();
    cli.build();
    let all = leaves(&cli);
    let (cmd, title, examples, subpages) = if page == "iomem-sim" {
        let ex: Vec<String> = all.iter().flat_map(|(_, c)| examples_of(c)).collect();
        let pages = all
            .iter()
            .map(|(w, _)| format!("iomem-sim-{}", w.join("-")))
            .collect();
        (cli.clone(), "iomem-sim".to_string(), ex, pages)
    } else {
        let Some((w, c)) = all.iter().find(|(w, _)| w.join("-") == page) else {
            return Err(std::io::Error::new(
                std::io::ErrorKind::NotFound,
                format!("no man page `{page}`"),
            ));
        };
        (
            c.clone(),
            format!("iomem-sim-{}", w.join("-")),
            examples_of(c),
            vec!["iomem-sim".to_string()],
        )
    };
    let man = clap_mangen::Man::new(cmd.clone()).title(title.clone());
    man.render_title(out)?;
    man.render_name_section(out)?;
    man.render_synopsis_section(out)?;
    man.render_description_section(out)?;
    if cmd.get_arguments().any(|a| !a.is_hide_set()) {
        man.render_options_section(out)?;
    }
    if cmd.has_subcommands() {
        man.render_subcommands_section(out)?;
    }
    let mut roff = Roff::new();
    tail_sections(&mut roff, &examples, &subpages);
    roff.to_writer(out)?;
    if cmd.get_version().is_some() {
        man.render_version_section(out)?;
    }
    Ok(())
}

/// Write every page into `dir` (`iomem-sim.1`, `iomem-sim-hotplug-add.1`, …); returns the
/// file names.
pub fn write_all(cli: &clap::Command, dir: &Path) -> std::io::Result<Vec<String>> {
    std::fs::create_dir_all(dir)?;
    let mut names = Vec::new();
    for page in page_names() {
        let file = if page == "iomem-sim" {
            "iomem-sim.1".to_string()
        } else {
            format!("iomem-sim-{page}.1")
        };
        let mut buf = Vec::new();
        render(cli, page, &mut buf)?;
        std::fs::write(dir.join(&file), buf)?;
        names.push(file);
    }
    Ok(names)
}
