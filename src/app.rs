//! The binary edge: clap arguments → config → run → exit code (issues 2, 4).
//!
//! `Cli` (clap) is turned into a plain [`Config`] once; nothing below that point sees clap.
//! Command words after the options are a plain word list (`show --flags`, `check`, later
//! `hotplug add a0000000 128M`), not clap subcommands, so the REPL and scripts can share one
//! command language. anyhow lives here and in `main.rs` only.

use std::ffi::OsString;
use std::io::{IsTerminal, Read, Write};
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{Context, Result, bail};
use clap::{Parser, ValueEnum};

use crate::check::check;
use crate::examples;
use crate::parse::{Dump, parse_dump};
use crate::render::{Palette, TreeOptions, render_iomem, render_json_text, render_tree};
use crate::tree::RootKind;

/// Exit status (cli.md): 0 ok; 1 a meaningful "no" (anomalies found, a command refused by the
/// simulated kernel); 2 bad input, bad syntax, I/O or usage error.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Exit {
    Ok = 0,
    Refused = 1,
    Error = 2,
}

impl From<Exit> for ExitCode {
    fn from(e: Exit) -> ExitCode {
        ExitCode::from(e as u8)
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum Format {
    /// Readable tree with sizes and depth guides.
    Tree,
    /// Exactly the kernel's /proc/iomem (or /proc/ioports) text.
    Iomem,
    /// The tree as JSON, for scripts.
    Json,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum ColorChoice {
    /// Color when stdout is a terminal, NO_COLOR is unset or empty, and TERM is not "dumb".
    Auto,
    Always,
    Never,
}

/// Simulate the Linux kernel's /proc/iomem resource tree and memory hotplug, version by version.
#[derive(Debug, Parser)]
#[command(name = "iomem-sim", version, about, max_term_width = 100)]
pub struct Cli {
    /// A /proc/iomem or /proc/ioports dump ("-" for stdin; /proc/iomem itself works).
    /// Without it, a dump piped on stdin is read, else the built-in example.
    #[arg(short, long, value_name = "FILE")]
    pub input: Option<PathBuf>,

    /// Start from a built-in tree ("list" lists them).
    #[arg(long, value_name = "NAME", conflicts_with = "input")]
    pub example: Option<String>,

    /// Output format.
    #[arg(long, value_enum, default_value_t = Format::Tree)]
    pub format: Format,

    /// When to color the output.
    #[arg(long, value_enum, default_value_t = ColorChoice::Auto, value_name = "WHEN")]
    pub color: ColorChoice,

    /// Command words (put options before them): `show [--flags]`, `check`. Default: show.
    #[arg(
        trailing_var_arg = true,
        allow_hyphen_values = true,
        value_name = "COMMAND"
    )]
    pub command: Vec<String>,
}

/// Where the starting tree comes from.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Source {
    File(PathBuf),
    Stdin,
    /// stdin if it is not a terminal and not empty, else the default example.
    StdinOrDefault,
    Example(String),
}

/// Everything the program needs, free of clap types.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Config {
    pub source: Source,
    pub format: Format,
    pub color: bool,
    pub command: Vec<String>,
}

/// Color decision for `--color` (a pure function: the caller supplies the environment).
/// `NO_COLOR` counts when set and non-empty (no-color.org); `TERM=dumb` means no escapes.
pub fn color_enabled(
    choice: ColorChoice,
    stdout_tty: bool,
    no_color: Option<&OsString>,
    term: Option<&OsString>,
) -> bool {
    match choice {
        ColorChoice::Always => true,
        ColorChoice::Never => false,
        ColorChoice::Auto => {
            stdout_tty && no_color.is_none_or(|v| v.is_empty()) && term.is_none_or(|t| t != "dumb")
        }
    }
}

impl Config {
    /// Resolve the parsed arguments against the environment.
    pub fn from_cli(cli: Cli) -> Config {
        let source = match (cli.input, cli.example) {
            (Some(p), _) if p.as_os_str() == "-" => Source::Stdin,
            (Some(p), _) => Source::File(p),
            (None, Some(e)) => Source::Example(e),
            (None, None) if std::io::stdin().is_terminal() => {
                Source::Example(examples::DEFAULT.to_string())
            }
            (None, None) => Source::StdinOrDefault,
        };
        let color = color_enabled(
            cli.color,
            std::io::stdout().is_terminal(),
            std::env::var_os("NO_COLOR").as_ref(),
            std::env::var_os("TERM").as_ref(),
        );
        Config {
            source,
            format: cli.format,
            color,
            command: cli.command,
        }
    }
}

/// A recognised command line.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Command {
    Show { flags: bool },
    Check,
}

/// Parse the command words. Later issues add the kernel commands here.
pub fn parse_command(words: &[String]) -> Result<Command> {
    let w: Vec<&str> = words.iter().map(String::as_str).collect();
    match w.as_slice() {
        [] | ["show"] => Ok(Command::Show { flags: false }),
        ["show", "--flags"] => Ok(Command::Show { flags: true }),
        ["check"] => Ok(Command::Check),
        _ => bail!(
            "unknown command `{}` (this build knows `show [--flags]` and `check`; options go \
             before the command)",
            words.join(" ")
        ),
    }
}

/// Which root a file name suggests.
fn hint_for(name: &str) -> Option<RootKind> {
    if name.contains("ioports") {
        Some(RootKind::Ioport)
    } else if name.contains("iomem") {
        Some(RootKind::Iomem)
    } else {
        None
    }
}

fn read_stdin() -> Result<Vec<u8>> {
    let mut buf = Vec::new();
    std::io::stdin()
        .lock()
        .read_to_end(&mut buf)
        .context("reading the dump from stdin")?;
    Ok(buf)
}

/// Load the starting tree named by `source`.
pub fn load(source: &Source) -> Result<Dump> {
    let (bytes, hint, what): (Vec<u8>, Option<RootKind>, String) = match source {
        Source::File(p) => {
            let bytes = std::fs::read(p).with_context(|| format!("reading {}", p.display()))?;
            let name = p.file_name().map(|n| n.to_string_lossy().into_owned());
            (
                bytes,
                name.as_deref().and_then(hint_for),
                p.display().to_string(),
            )
        }
        Source::Stdin => (read_stdin()?, None, "stdin".to_string()),
        Source::StdinOrDefault => {
            let bytes = read_stdin()?;
            if bytes.is_empty() {
                // stdin is /dev/null or an empty pipe (cron, CI, ssh without a tty): show the
                // built-in example rather than fail on an empty dump.
                return load(&Source::Example(examples::DEFAULT.to_string()));
            }
            (bytes, None, "stdin".to_string())
        }
        Source::Example(name) => {
            let Some(e) = examples::find(name) else {
                let names: Vec<&str> = examples::names().collect();
                bail!(
                    "no built-in example `{name}` (there are: {})",
                    names.join(", ")
                );
            };
            (
                e.text.as_bytes().to_vec(),
                Some(e.kind),
                format!("example {name}"),
            )
        }
    };
    parse_dump(&bytes, hint).with_context(|| format!("parsing {what}"))
}

fn list_examples() -> String {
    let w = examples::names().map(str::len).max().unwrap_or(0);
    examples::EXAMPLES
        .iter()
        .map(|e| {
            let def = if e.name == examples::DEFAULT {
                " (default)"
            } else {
                ""
            };
            format!("{:w$}  {}{def}\n", e.name, e.about)
        })
        .collect()
}

/// Run with a resolved config; returns the exit status or an error (exit 2).
pub fn run(cfg: &Config) -> Result<Exit> {
    let mut out = std::io::stdout().lock();
    let pal = Palette::new(cfg.color);
    if cfg.source == Source::Example("list".to_string()) {
        out.write_all(list_examples().as_bytes())?;
        return Ok(Exit::Ok);
    }
    let command = parse_command(&cfg.command)?;
    let dump = load(&cfg.source)?;
    {
        let mut err = std::io::stderr().lock();
        for w in &dump.warnings {
            writeln!(err, "{} {w}", pal_err(cfg).warn("warning:"))?;
        }
        for n in &dump.normalizations {
            writeln!(err, "{} {n}", pal_err(cfg).dim("note:"))?;
        }
    }
    let tree = &dump.tree;
    match command {
        Command::Show { flags } => {
            match cfg.format {
                Format::Iomem => out.write_all(&render_iomem(tree))?,
                Format::Json => out.write_all(render_json_text(tree).as_bytes())?,
                Format::Tree => {
                    let opts = TreeOptions {
                        flags,
                        ..TreeOptions::default()
                    };
                    out.write_all(render_tree(tree, &pal, &opts).as_bytes())?;
                }
            }
            out.flush()?;
            Ok(Exit::Ok)
        }
        Command::Check => {
            let found = check(tree);
            match cfg.format {
                Format::Json => {
                    let v: Vec<serde_json::Value> = found
                        .iter()
                        .map(|a| {
                            serde_json::json!({
                                "kind": a.kind,
                                "line": a.line,
                                "other_line": a.other_line,
                                "message": a.message,
                            })
                        })
                        .collect();
                    writeln!(out, "{}", serde_json::to_string_pretty(&v)?)?;
                }
                _ => {
                    for a in &found {
                        writeln!(out, "{} {a}", pal.warn("anomaly:"))?;
                    }
                    let n = found.len();
                    if n == 0 {
                        writeln!(
                            out,
                            "no anomalies: {} resources, every invariant holds",
                            tree.len()
                        )?;
                    } else {
                        let noun = if n == 1 { "anomaly" } else { "anomalies" };
                        writeln!(out, "{n} {noun} in {} resources", tree.len())?;
                    }
                }
            }
            out.flush()?;
            Ok(if found.is_empty() {
                Exit::Ok
            } else {
                Exit::Refused
            })
        }
    }
}

/// stderr gets color only under `--color always` or a colored auto decision; the same rule
/// as stdout keeps it simple and predictable.
fn pal_err(cfg: &Config) -> Palette {
    Palette::new(cfg.color)
}

fn is_broken_pipe(e: &anyhow::Error) -> bool {
    e.chain().any(|c| {
        c.downcast_ref::<std::io::Error>()
            .is_some_and(|io| io.kind() == std::io::ErrorKind::BrokenPipe)
    })
}

/// The whole program: parse arguments, run, print any error, map to an exit code.
pub fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(c) => c,
        Err(e) => {
            // clap prints help/version (exit 0) and usage errors (exit 2) itself.
            let _ = e.print();
            return ExitCode::from(e.exit_code().clamp(0, 255) as u8);
        }
    };
    let cfg = Config::from_cli(cli);
    colored::control::set_override(cfg.color);
    match run(&cfg) {
        Ok(code) => code.into(),
        Err(e) if is_broken_pipe(&e) => Exit::Ok.into(),
        Err(e) => {
            eprintln!("{} {e:#}", Palette::new(cfg.color).error("error:"));
            Exit::Error.into()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn words(s: &str) -> Vec<String> {
        s.split_whitespace().map(String::from).collect()
    }

    #[test]
    fn commands() {
        assert_eq!(parse_command(&[]).unwrap(), Command::Show { flags: false });
        assert_eq!(
            parse_command(&words("show --flags")).unwrap(),
            Command::Show { flags: true }
        );
        assert_eq!(parse_command(&words("check")).unwrap(), Command::Check);
        let e = parse_command(&words("hotplug add a0000000 128M")).unwrap_err();
        assert!(
            e.to_string()
                .contains("unknown command `hotplug add a0000000 128M`"),
            "{e}"
        );
    }

    #[test]
    fn color_rules() {
        let empty = OsString::new();
        let one = OsString::from("1");
        let dumb = OsString::from("dumb");
        assert!(color_enabled(ColorChoice::Auto, true, None, None));
        assert!(!color_enabled(ColorChoice::Auto, false, None, None));
        assert!(!color_enabled(ColorChoice::Auto, true, Some(&one), None));
        assert!(color_enabled(ColorChoice::Auto, true, Some(&empty), None));
        assert!(!color_enabled(ColorChoice::Auto, true, None, Some(&dumb)));
        assert!(color_enabled(
            ColorChoice::Always,
            false,
            Some(&one),
            Some(&dumb)
        ));
        assert!(!color_enabled(ColorChoice::Never, true, None, None));
    }

    #[test]
    fn options_then_words() {
        let cli =
            Cli::try_parse_from(["iomem-sim", "--format", "iomem", "show", "--flags"]).unwrap();
        assert_eq!(cli.format, Format::Iomem);
        assert_eq!(cli.command, words("show --flags"));
        assert_eq!(hint_for("x-ioports.txt"), Some(RootKind::Ioport));
    }
}
