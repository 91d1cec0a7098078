//! Command-layer checks: what `save` writes, `-i` must load to the same tree (issue 14 item 3).
//!
//! The kernel's resource functions do not check their arguments: `request_mem_region(start,
//! 0, name)` builds `[start, start - 1]`, `adjust_resource(res, start, size)` with a size that
//! runs past 2^64 wraps `end = start + size - 1`, and a name is any C string, newlines
//! included. Callers (drivers) never pass those, and the tree they would build cannot be
//! written as `/proc/iomem` and read back (an inverted line is refused by the parser, a
//! newline in a name is read as a second resource). So this tool refuses them **before** the
//! simulated kernel runs, with exit status 2, departing from the kernel's unchecked code:
//!
//! * size 0 where a resource is created or resized (`request`, `request-resource`, `insert`,
//!   `adjust`'s new size, `free-region`): the kernel would build an inverted resource;
//! * a range that runs past the top of the 64-bit address space (`START + SIZE - 1`
//!   overflows), in every command taking a range: the kernel's `end` would wrap;
//! * a `--nid` above `i32::MAX` (`add_memory(int nid, …)` cannot take it);
//! * control characters (C0, DEL) in a resource name (`request`, `request-resource`, `insert`,
//!   `free-region`, `hotplug add --driver-managed`): `/proc/iomem` prints the name raw, so a
//!   newline would forge a line.
//!
//! Size 0 stays allowed where the kernel checks it itself and the tree is never changed
//! (`hotplug add/remove`: `check_hotplug_memory_range` -EINVAL; `release`, `intersects`).
//!
//! One entry point, [`check`], called from the command parser (a one-line hook, so a
//! rewritten parser calls the same function).

use crate::command::{Command, CommandError, MemTarget, Span, split_words};

/// A command the command layer refuses: which word to point at (its text as parsed) and why.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct Invalid {
    /// The offending value as written in canonical form, to find the word (`None`: the whole
    /// command).
    pub word: Option<String>,
    pub message: String,
}

fn invalid(word: Option<String>, message: impl Into<String>) -> Invalid {
    Invalid {
        word,
        message: message.into(),
    }
}

fn no_wrap(span: Span) -> Result<(), Invalid> {
    if span.size > 0 && span.start.checked_add(span.size - 1).is_none() {
        return Err(invalid(
            Some(crate::command::fmt_size_word(span.size)),
            format!(
                "range {:x} + {} runs past the top of the address space \
                 (ffffffffffffffff); the kernel would wrap its end (no driver asks for that)",
                span.start,
                crate::command::fmt_size_word(span.size)
            ),
        ));
    }
    Ok(())
}

fn nonzero(size: u64, what: &str) -> Result<(), Invalid> {
    if size == 0 {
        return Err(invalid(
            Some("0".into()),
            format!(
                "{what} 0: the kernel would build an inverted resource [start, start - 1] \
                 that /proc/iomem cannot show (no driver asks for a 0-byte resource)"
            ),
        ));
    }
    Ok(())
}

fn span_creates(span: Span) -> Result<(), Invalid> {
    nonzero(span.size, "SIZE")?;
    no_wrap(span)
}

fn printable_name(name: &str) -> Result<(), Invalid> {
    if let Some(c) = name.chars().find(|c| c.is_control()) {
        return Err(invalid(
            Some(name.to_string()),
            format!(
                "the name contains the control character {:?}: /proc/iomem prints names raw, \
                 so it would not read back as the same tree",
                c
            ),
        ));
    }
    Ok(())
}

/// Refuse what the kernel would accept unchecked but no saved tree could express (module
/// doc). `Ok` for every other command.
pub fn check(cmd: &Command) -> Result<(), Invalid> {
    match cmd {
        Command::Request { span, name }
        | Command::RequestResource { span, name }
        | Command::Insert { span, name, .. } => {
            span_creates(*span)?;
            printable_name(name)
        }
        Command::Adjust { span, new } => {
            no_wrap(*span)?;
            nonzero(new.size, "NEW_SIZE")?;
            no_wrap(*new)
        }
        Command::FreeRegion { size, name, .. } => {
            nonzero(*size, "SIZE")?;
            printable_name(name)
        }
        Command::HotplugAdd {
            span,
            driver_managed,
            nid,
            ..
        } => {
            if i32::try_from(*nid).is_err() {
                return Err(invalid(
                    Some(nid.to_string()),
                    format!(
                        "--nid {nid} does not fit the kernel's `int nid` of add_memory() (node \
                         ids are 0..={})",
                        i32::MAX
                    ),
                ));
            }
            no_wrap(*span)?;
            driver_managed.as_deref().map_or(Ok(()), printable_name)
        }
        Command::HotplugRemove { span }
        | Command::Release { span }
        | Command::RemoveResource { span }
        | Command::ReleaseResource { span }
        | Command::Intersects { span, .. } => no_wrap(*span),
        Command::MemoryOnline {
            target:
                MemTarget::Range {
                    start,
                    size: Some(size),
                },
            ..
        }
        | Command::MemoryOffline {
            target:
                MemTarget::Range {
                    start,
                    size: Some(size),
                },
        } => no_wrap(Span {
            start: *start,
            size: *size,
        }),
        Command::Explain(inner) => check(inner),
        _ => Ok(()),
    }
}

/// [`check`] as the command parser's hook: a refusal becomes a [`CommandError`] with its caret
/// under the offending word of `line` (the last word spelling that value), else under the
/// whole line.
pub fn checked(line: &str, parsed: Result<Command, CommandError>) -> Result<Command, CommandError> {
    let cmd = parsed?;
    let Err(inv) = check(&cmd) else {
        return Ok(cmd);
    };
    let words = split_words(line).unwrap_or_default();
    let hit = inv.word.as_deref().and_then(|w| {
        words
            .iter()
            .enumerate()
            .rev()
            .find(|(_, x)| x.text.eq_ignore_ascii_case(w))
    });
    Err(match hit {
        Some((index, w)) => CommandError {
            line: line.to_string(),
            index,
            word: w.text.clone(),
            offset: w.offset,
            len: w.len,
            expected: inv.message,
        },
        None => CommandError {
            line: line.to_string(),
            index: 0,
            word: String::new(),
            offset: 0,
            len: line.trim_end().len(),
            expected: inv.message,
        },
    })
}

/// Characters of a command line kept on each side of the spot an error points at (as dump
/// errors do, `parse::excerpt`): a 10 MB command line must not be echoed whole (item 11).
pub const CONTEXT: usize = 40;

/// The window of `line` around char-offset `at` (±[`CONTEXT`] chars, `…` where cut), and the
/// spot's char position inside the window.
pub fn excerpt(line: &str, at: usize) -> (String, usize) {
    let n = line.chars().count();
    let from = at.saturating_sub(CONTEXT);
    let to = at.saturating_add(CONTEXT).min(n);
    let mut s = String::new();
    let mut caret = at - from;
    if from > 0 {
        s.push('…');
        caret += 1;
    }
    s.extend(line.chars().skip(from).take(to.saturating_sub(from)));
    if to < n {
        s.push('…');
    }
    (s, caret)
}

/// `text` cut to its first 2×[`CONTEXT`] chars (`…` where cut), for one-line echoes of a
/// command in outcome messages.
pub fn shorten(text: &str) -> std::borrow::Cow<'_, str> {
    if text.chars().nth(2 * CONTEXT).is_none() {
        return text.into();
    }
    let mut s: String = text.chars().take(2 * CONTEXT).collect();
    s.push('…');
    s.into()
}

/// Each line of a multi-line message cut to 8×[`CONTEXT`] chars: messages that embed a
/// command or a name (`… needs real addresses`) stay bounded however long the command was.
pub fn shorten_lines(text: &str) -> String {
    text.split('\n')
        .map(|l| {
            if l.chars().nth(8 * CONTEXT).is_none() {
                l.to_string()
            } else {
                let mut s: String = l.chars().take(8 * CONTEXT).collect();
                s.push('…');
                s
            }
        })
        .collect::<Vec<_>>()
        .join("\n")
}

#[cfg(test)]
mod tests {
    use crate::command::parse_command;

    fn refused(line: &str) -> String {
        match parse_command(line) {
            Err(e) => e.expected,
            Ok(c) => panic!("{line}: accepted as {c}"),
        }
    }

    #[test]
    fn size_zero_wrap_and_control_characters_are_refused() {
        assert!(refused("request a0000000 0 x").contains("inverted"));
        assert!(refused("adjust a0000000 256M a0000000 0").contains("inverted"));
        assert!(refused("adjust a0000000 256M ffffffffffffffff 0x2").contains("wrap"));
        assert!(refused("insert ffffffff00000000 8G x").contains("wrap"));
        assert!(refused("request 10000000 1M \"x\n10000000-1fffffff : FAKE\"").contains("control"));
        assert!(refused("explain request a0000000 0 x").contains("inverted"));
        assert!(refused("free-region 0 x").contains("inverted"));
        assert!(refused("hotplug add 640000000 128M --nid 4294967295").contains("4294967295"));
    }

    #[test]
    fn long_lines_are_cut_around_the_spot() {
        let long = format!("request a0000000 1M {}", "x".repeat(10_000));
        let (w, caret) = super::excerpt(&long, 5000);
        assert_eq!(w.chars().count(), 2 * super::CONTEXT + 2);
        assert_eq!(w.chars().nth(caret), Some('x'));
        assert_eq!(super::excerpt("abc", 1), ("abc".to_string(), 1));
        assert_eq!(
            super::shorten(&long).chars().count(),
            2 * super::CONTEXT + 1
        );
    }

    #[test]
    fn the_range_to_the_top_and_ordinary_commands_pass() {
        for ok in [
            "request fffffffffffff000 0x1000 top",
            "adjust a0000000 256M a0000000 128M",
            "hotplug add 640000000 0",
            "release a0000000 0",
            "request a0000000 1M \"name with spaces\"",
        ] {
            assert!(parse_command(ok).is_ok(), "{ok}");
        }
    }
}
