//! Reading a dump or a script from a file, a pipe or a device, bounded (issue 14 items 4, 7).
//!
//! Nothing here knows the dump grammar: the caller passes a per-line check, and reading stops
//! right after the first line that fails it (`-i /dev/urandom` ends at its first line instead
//! of reading gigabytes), so the parser that runs next reports that line with its number. A
//! line longer than [`MAX_LINE`] bytes ends the read with a line-numbered error (`/dev/zero`
//! has no newline at all). Memory is therefore bounded by the good prefix plus one line.
//!
//! Line ends: LF and CRLF as before (the parser strips a CR before LF). A **lone CR** that is
//! followed by the next line's text (a classic-Mac `\r`-only file, where no LF came before it)
//! ends the line: it is stored as LF and counted, so the caller can say so in a note. A CR
//! followed by another CR or by LF stays as it was (`a\r\r\n` keeps its `\r` in the name, the
//! parser's fuzz finding 1), and once an LF was seen, a CR inside a line is the line's text.

use std::io::Read;

/// The longest line read (1 MiB): far above any real `/proc/iomem` line (the kernel's names
/// are short) or command, small enough that a line-less device cannot eat memory.
pub const MAX_LINE: usize = 1 << 20;

/// The largest dump or script read (256 MiB). A real `/proc/iomem` is a few KiB to a few
/// hundred KiB; the parsed tree costs about 95 bytes per resource (benches/RESULTS.md; a
/// piped dump is also held as text while it is parsed, ~40 bytes a line), so this bounds a
/// run's memory to well under 1 GiB whatever is piped in (issue 14 item 8).
pub const MAX_INPUT: usize = 256 << 20;

/// A bounded read.
#[derive(Debug, Default)]
pub struct Text {
    /// The bytes read, lone-CR line ends stored as LF.
    pub bytes: Vec<u8>,
    /// Lone CRs read as line ends.
    pub lone_cr: usize,
    /// Reading stopped after a line the check refused (the rest of the input is unread).
    pub stopped_early: bool,
}

#[derive(Debug, thiserror::Error)]
pub enum InputError {
    #[error(
        "line {line} is longer than {MAX_LINE} bytes (1 MiB) without a line end: not a \
         /proc/iomem dump or a command script"
    )]
    LineTooLong { line: u64 },
    #[error(
        "more than {} MiB: refused (a real /proc/iomem is a few hundred KiB at most; the \
         simulator keeps the whole tree in memory)",
        MAX_INPUT >> 20
    )]
    TooBig,
    #[error(transparent)]
    Io(#[from] std::io::Error),
}

/// One `read`, retried when a signal interrupted it (0: the end).
fn read_some(r: &mut impl Read, buf: &mut [u8]) -> std::io::Result<usize> {
    loop {
        match r.read(buf) {
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            other => return other,
        }
    }
}

/// Read `r` to its end, or to just after the first line `ok` refuses, or fail at a line
/// longer than [`MAX_LINE`]. `ok` sees a line without its LF (a CR before the LF is kept).
pub fn read_bounded(
    mut r: impl Read,
    mut ok: impl FnMut(&[u8]) -> bool,
) -> Result<Text, InputError> {
    let mut t = Text::default();
    let mut chunk = vec![0u8; 64 * 1024];
    let mut line_start = 0usize;
    let mut lineno: u64 = 1;
    let mut seen_lf = false;
    // A CR at the end of the previous chunk, not yet decided.
    let mut pending_cr = false;
    loop {
        let n = match read_some(&mut r, &mut chunk)? {
            0 => break,
            n => n,
        };
        if t.bytes.len() + n > MAX_INPUT {
            return Err(InputError::TooBig);
        }
        let data = &chunk[..n];
        if !pending_cr && memchr::memchr(b'\r', data).is_none() {
            // No CR in this chunk (nearly every input): whole lines at a time, the same
            // answers as the byte loop below.
            let mut rest = data;
            while let Some(i) = memchr::memchr(b'\n', rest) {
                if t.bytes.len() - line_start + i > MAX_LINE {
                    return Err(InputError::LineTooLong { line: lineno });
                }
                t.bytes.extend_from_slice(&rest[..=i]);
                seen_lf = true;
                if !ok(&t.bytes[line_start..t.bytes.len() - 1]) {
                    t.stopped_early = true;
                    return Ok(t);
                }
                line_start = t.bytes.len();
                lineno += 1;
                rest = &rest[i + 1..];
            }
            t.bytes.extend_from_slice(rest);
            if t.bytes.len() - line_start > MAX_LINE {
                return Err(InputError::LineTooLong { line: lineno });
            }
            continue;
        }
        for &b in data {
            if pending_cr {
                pending_cr = false;
                if b != b'\r' && b != b'\n' && !seen_lf {
                    // A lone CR followed by the next line's text: a line end.
                    t.lone_cr += 1;
                    t.bytes.push(b'\n');
                    if !ok(&t.bytes[line_start..t.bytes.len() - 1]) {
                        t.stopped_early = true;
                        return Ok(t);
                    }
                    line_start = t.bytes.len();
                    lineno += 1;
                } else {
                    t.bytes.push(b'\r');
                }
            }
            if b == b'\r' {
                pending_cr = true;
                continue;
            }
            t.bytes.push(b);
            if b == b'\n' {
                seen_lf = true;
                if !ok(&t.bytes[line_start..t.bytes.len() - 1]) {
                    t.stopped_early = true;
                    return Ok(t);
                }
                line_start = t.bytes.len();
                lineno += 1;
            } else if t.bytes.len() - line_start > MAX_LINE {
                return Err(InputError::LineTooLong { line: lineno });
            }
        }
    }
    if pending_cr {
        if t.lone_cr > 0 && !seen_lf {
            // The last line of a CR-only file.
            t.lone_cr += 1;
            t.bytes.push(b'\n');
        } else {
            t.bytes.push(b'\r');
        }
    }
    if t.bytes.len() - line_start > MAX_LINE {
        return Err(InputError::LineTooLong { line: lineno });
    }
    Ok(t)
}

/// How [`stream_lines`] ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Streamed {
    /// Every line was taken; `final_newline`: the input ended in LF (false when empty).
    Done { final_newline: bool },
    /// Given up: the caller reads the input again with [`read_bounded`], which decides.
    GaveUp,
}

/// Feed `r`'s lines, without their LF, to `line` as they are read, holding one 256 KiB chunk
/// and one partial line, never the whole input (issue 12: a million-line dump is 40 MB). For
/// inputs that can be read a second time (a regular file): it gives up at anything
/// [`read_bounded`] treats specially — a CR anywhere, a line over [`MAX_LINE`], more than
/// [`MAX_INPUT`] bytes, a read error — and at the first line `line` refuses, so that the
/// second read reports exactly what a single [`read_bounded`] would.
pub fn stream_lines(mut r: impl Read, mut line: impl FnMut(&[u8]) -> bool) -> Streamed {
    // Smaller than MAX_LINE: a line that ends in the chunk it starts in is shorter than
    // MAX_LINE, so only lines carried across reads need the length check.
    const CHUNK: usize = 256 * 1024;
    const _: () = assert!(CHUNK < MAX_LINE);
    let mut chunk = vec![0u8; CHUNK];
    let mut carry: Vec<u8> = Vec::new();
    let mut total = 0usize;
    let mut last = None;
    loop {
        let n = match read_some(&mut r, &mut chunk) {
            Ok(0) => break,
            Ok(n) => n,
            Err(_) => return Streamed::GaveUp,
        };
        total += n;
        let data = &chunk[..n];
        if total > MAX_INPUT || memchr::memchr(b'\r', data).is_some() {
            return Streamed::GaveUp;
        }
        last = data.last().copied();
        let mut rest = data;
        if !carry.is_empty() {
            match memchr::memchr(b'\n', rest) {
                Some(i) => {
                    carry.extend_from_slice(&rest[..i]);
                    if carry.len() > MAX_LINE || !line(&carry) {
                        return Streamed::GaveUp;
                    }
                    carry.clear();
                    rest = &rest[i + 1..];
                }
                None => {
                    carry.extend_from_slice(rest);
                    if carry.len() > MAX_LINE {
                        return Streamed::GaveUp;
                    }
                    continue;
                }
            }
        }
        while let Some(i) = memchr::memchr(b'\n', rest) {
            if !line(&rest[..i]) {
                return Streamed::GaveUp;
            }
            rest = &rest[i + 1..];
        }
        // Shorter than a chunk: checked once the next read makes it longer.
        carry.extend_from_slice(rest);
    }
    if !carry.is_empty() && !line(&carry) {
        return Streamed::GaveUp;
    }
    Streamed::Done {
        final_newline: last == Some(b'\n'),
    }
}

/// The note for lone-CR line ends (`None` when there were none).
pub fn lone_cr_note(t: &Text) -> Option<String> {
    (t.lone_cr > 0).then(|| {
        format!(
            "{} lone CR line end(s) (a CR-only file, as classic Mac OS wrote them): read as line ends",
            t.lone_cr
        )
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A reader that hands out at most `n` bytes a call (lines split across chunks).
    struct Dribble<'a>(&'a [u8], usize);
    impl Read for Dribble<'_> {
        fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
            let n = self.1.min(buf.len()).min(self.0.len());
            buf[..n].copy_from_slice(&self.0[..n]);
            self.0 = &self.0[n..];
            Ok(n)
        }
    }

    fn streamed(input: &[u8], step: usize) -> (Streamed, Vec<Vec<u8>>) {
        let mut lines = Vec::new();
        let s = stream_lines(Dribble(input, step), |l| {
            lines.push(l.to_vec());
            true
        });
        (s, lines)
    }

    #[test]
    fn stream_lines_gives_the_lines_split_at_lf_however_the_reads_fall() {
        let text = b"00000000-00000fff : Reserved\n  00001000-0009fbff : System RAM\n\nlast";
        let want: Vec<Vec<u8>> = text.split(|&b| b == b'\n').map(<[u8]>::to_vec).collect();
        for step in [1, 2, 3, 7, 29, 30, 31, 64, 1 << 20] {
            let (s, lines) = streamed(text, step);
            assert_eq!(
                s,
                Streamed::Done {
                    final_newline: false
                },
                "step {step}"
            );
            assert_eq!(lines, want, "step {step}");
        }
        let (s, lines) = streamed(b"a\nb\n", 1);
        assert_eq!(
            (s, lines.len()),
            (
                Streamed::Done {
                    final_newline: true
                },
                2
            )
        );
        let (s, lines) = streamed(b"", 1);
        assert_eq!(
            (s, lines.len()),
            (
                Streamed::Done {
                    final_newline: false
                },
                0
            )
        );
    }

    /// A reader that is interrupted by a signal before each piece, or fails for good.
    struct Flaky<'a> {
        data: &'a [u8],
        interrupt_next: bool,
        broken: bool,
    }
    impl Read for Flaky<'_> {
        fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
            if self.broken {
                return Err(std::io::Error::other("device gone"));
            }
            if std::mem::take(&mut self.interrupt_next) {
                return Err(std::io::ErrorKind::Interrupted.into());
            }
            self.interrupt_next = true;
            let n = buf.len().min(self.data.len()).min(5);
            buf[..n].copy_from_slice(&self.data[..n]);
            self.data = &self.data[n..];
            Ok(n)
        }
    }

    #[test]
    fn reads_are_retried_when_interrupted_and_fail_on_any_other_error() {
        // read(2) fails with EINTR when a signal lands first: try again (std's own
        // read_to_end does). Any other error is the read's answer.
        let text = b"a\nbb\nccc\n";
        let flaky = |broken| Flaky {
            data: text,
            interrupt_next: true,
            broken,
        };
        let mut lines = 0;
        let s = stream_lines(flaky(false), |_| {
            lines += 1;
            true
        });
        assert_eq!(
            (s, lines),
            (
                Streamed::Done {
                    final_newline: true
                },
                3
            )
        );
        let t = read_bounded(flaky(false), |_| true).expect("interrupted reads are retried");
        assert_eq!(t.bytes, text);
        assert_eq!(stream_lines(flaky(true), |_| true), Streamed::GaveUp);
        assert!(matches!(
            read_bounded(flaky(true), |_| true),
            Err(InputError::Io(_))
        ));
    }

    /// `n` bytes of 1 MiB lines ("aaa…a\n"), generated as they are read.
    struct Lines(usize, usize);
    impl Read for Lines {
        fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
            const LINE: usize = 1 << 20;
            let n = buf.len().min(self.0 - self.1);
            buf[..n].fill(b'a');
            // Byte k (0-based, from the start) is a line end when k + 1 is a multiple of LINE.
            let mut k = (self.1 / LINE + 1) * LINE - 1;
            while k < self.1 + n {
                buf[k - self.1] = b'\n';
                k += LINE;
            }
            self.1 += n;
            Ok(n)
        }
    }

    #[test]
    fn stream_lines_gives_up_past_max_input_and_not_at_it() {
        // MAX_INPUT bytes are read; one byte more is refused (read_bounded then says so).
        assert_eq!(
            stream_lines(Lines(MAX_INPUT, 0), |_| true),
            Streamed::Done {
                final_newline: true
            }
        );
        assert_eq!(
            stream_lines(Lines(MAX_INPUT + 7, 0), |_| true),
            Streamed::GaveUp
        );
        assert!(matches!(
            read_bounded(Lines(MAX_INPUT + 7, 0), |_| true),
            Err(InputError::TooBig)
        ));
    }

    #[test]
    fn stream_lines_gives_up_where_read_bounded_decides() {
        // A CR anywhere: read_bounded's lone-CR and CRLF rules decide, not this reader.
        for text in [&b"a\r\nb\n"[..], b"a\rb\n", b"a\nb\r"] {
            assert_eq!(streamed(text, 2).0, Streamed::GaveUp, "{text:?}");
        }
        // A refused line stops the read there: no later line is offered.
        let mut seen = 0;
        let s = stream_lines(&b"ok\nbad\nok\n"[..], |l| {
            seen += 1;
            l == b"ok"
        });
        assert_eq!((s, seen), (Streamed::GaveUp, 2));
        // A line over MAX_LINE, with or without its LF, whole or in pieces.
        let mut long = vec![b'a'; MAX_LINE + 1];
        assert_eq!(streamed(&long, 4096).0, Streamed::GaveUp);
        long.push(b'\n');
        assert_eq!(streamed(&long, 1 << 20).0, Streamed::GaveUp);
        let mut exact = vec![b'a'; MAX_LINE];
        exact.push(b'\n');
        assert_eq!(
            streamed(&exact, 4096).0,
            Streamed::Done {
                final_newline: true
            }
        );
    }

    #[test]
    fn the_line_at_a_time_path_answers_as_the_byte_loop() {
        // A CR anywhere in a chunk sends it through the byte loop; without one, whole lines
        // are copied. Same bytes, same line calls, same limit at exactly MAX_LINE.
        let run = |input: &[u8]| {
            let mut lines = Vec::new();
            let r = read_bounded(input, |l| {
                lines.push(l.len());
                true
            });
            (r.map(|t| t.bytes.len()).map_err(|e| e.to_string()), lines)
        };
        for len in [MAX_LINE - 1, MAX_LINE, MAX_LINE + 1] {
            let mut plain = vec![b'a'; len];
            plain.extend_from_slice(b"\nnext\n");
            // The same line with a CR LF ending of the second line: the slow path.
            let mut crlf = vec![b'a'; len];
            crlf.extend_from_slice(b"\nnext\r\n");
            let (p, pl) = run(&plain);
            let (c, cl) = run(&crlf);
            assert_eq!(p.is_ok(), c.is_ok(), "line of {len}");
            assert_eq!(p.is_ok(), len <= MAX_LINE, "line of {len}: {p:?}");
            if p.is_ok() {
                assert_eq!(pl[0], len);
                assert_eq!(cl[0], len);
            }
        }
        // Chunk boundaries inside lines: 100k short lines.
        let many: Vec<u8> = (0..100_000)
            .flat_map(|i| format!("{i:08x}-{i:08x} : x\n").into_bytes())
            .collect();
        let (r, lines) = run(&many);
        assert_eq!(r, Ok(many.len()));
        assert_eq!(lines.len(), 100_000);
        assert!(lines.iter().all(|&l| l == 21));
    }

    fn all(b: &[u8]) -> Text {
        read_bounded(b, |_| true).unwrap()
    }

    #[test]
    fn lf_and_crlf_are_kept_as_they_are() {
        let t = all(b"a\r\nb\n");
        assert_eq!(t.bytes, b"a\r\nb\n");
        assert_eq!(t.lone_cr, 0);
    }

    #[test]
    fn lone_cr_ends_a_line() {
        let t = all(b"a\rb\rc\r");
        assert_eq!(t.bytes, b"a\nb\nc\n");
        assert_eq!(t.lone_cr, 3);
        // One line ending in CR is not a CR-only file: the parser strips the CR (CRLF rule).
        assert_eq!(all(b"a\r").bytes, b"a\r");
    }

    #[test]
    fn cr_cr_lf_keeps_the_name_cr() {
        assert_eq!(all(b"a\r\r\n").bytes, b"a\r\r\n");
        // After an LF, a CR inside a line is text.
        assert_eq!(all(b"a\nb\rc\n").bytes, b"a\nb\rc\n");
    }

    #[test]
    fn stops_after_the_first_refused_line() {
        let t = read_bounded(&b"ok\nbad\nnever\n"[..], |l| l != b"bad").unwrap();
        assert_eq!(t.bytes, b"ok\nbad\n");
        assert!(t.stopped_early);
    }

    #[test]
    fn a_line_without_end_is_cut_at_the_limit() {
        let zeros = std::io::repeat(0).take(4 * MAX_LINE as u64);
        match read_bounded(zeros, |_| true) {
            Err(InputError::LineTooLong { line: 1 }) => {}
            other => panic!("{other:?}"),
        }
        let mut two = b"x\n".to_vec();
        two.extend(std::iter::repeat_n(b'y', MAX_LINE + 1));
        assert!(matches!(
            read_bounded(&two[..], |_| true),
            Err(InputError::LineTooLong { line: 2 })
        ));
    }
}
