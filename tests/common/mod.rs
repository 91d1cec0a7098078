//! Helpers shared by the integration tests.
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

use iomem_sim::tree::RootKind;

/// `fixtures/<rel>` in the crate.
pub fn fixture(rel: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("fixtures")
        .join(rel)
}

/// The root a fixture's file name promises (`*.ioports` → ioport root).
pub fn hint(path: &Path) -> Option<RootKind> {
    match path.extension().and_then(|e| e.to_str()) {
        Some("ioports") => Some(RootKind::Ioport),
        Some("iomem") => Some(RootKind::Iomem),
        _ => None,
    }
}

/// The real binary with a cleared environment (hermetic: no NO_COLOR, TERM, CLICOLOR from
/// the caller), plus `env`.
pub fn bin(env: &[(&str, &str)]) -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_iomem-sim"));
    c.env_clear();
    for (k, v) in env {
        c.env(k, v);
    }
    c
}

/// Run with `args`, feeding `stdin` (None = stdin is /dev/null: non-terminal and empty, as
/// cron and CI runners start commands; an empty *pipe* is an error, issue 14 item 2).
pub fn run(args: &[&str], env: &[(&str, &str)], stdin: Option<&[u8]>) -> Output {
    use std::io::Write;
    let mut c = bin(env);
    c.args(args)
        .stdin(if stdin.is_some() {
            Stdio::piped()
        } else {
            Stdio::null()
        })
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let mut child = c.spawn().expect("spawn iomem-sim");
    if let Some(mut sin) = child.stdin.take() {
        // A child that exits early closes the pipe; that is fine here.
        let _ = sin.write_all(stdin.unwrap_or(b""));
    }
    child.wait_with_output().expect("wait for iomem-sim")
}

/// Exit code, stdout and stderr, for assertion messages.
pub fn show(o: &Output) -> String {
    format!(
        "exit: {:?}\n--- stdout\n{}\n--- stderr\n{}",
        o.status.code(),
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}
