//! `… | grep [-E|-F] [-v] [-i] [-x] [-w] [-c] [-q] [-e PATTERN]… [PATTERN]` (GNU grep 3.8): the
//! filter a line typed on the machine pipes a tool's output through, as in the captures'
//! `ls /dev | grep -E '^(pmem|dax)'`.
//!
//! Patterns are POSIX basic (the default, `-G`) or extended (`-E`) regular expressions, or
//! fixed strings (`-F`), translated to the `regex` crate's syntax: in a basic expression
//! `\(`, `\)`, `\{`, `\}`, `\|`, `\+`, `\?` are the operators and the bare characters are
//! literal; `\<` and `\>` are word boundaries; a bracket expression keeps its POSIX meaning (a
//! backslash in it is literal). Several patterns match when any does. The exit status is
//! grep's: 0 when a line is selected, 1 when none is.

use super::ToolParseError;
use std::fmt;

/// A parsed `grep`.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct Grep {
    pub syntax: Syntax,
    pub invert: bool,
    pub ignore_case: bool,
    pub line: bool,
    pub word: bool,
    pub count: bool,
    pub quiet: bool,
    pub patterns: Vec<String>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize)]
pub enum Syntax {
    Basic,
    Extended,
    Fixed,
}

/// What grep printed and whether a line was selected (its exit status 0).
pub struct Filtered {
    pub text: String,
    pub selected: bool,
}

pub fn parse(argv: &[String]) -> Result<Grep, ToolParseError> {
    let mut g = Grep {
        syntax: Syntax::Basic,
        invert: false,
        ignore_case: false,
        line: false,
        word: false,
        count: false,
        quiet: false,
        patterns: Vec::new(),
    };
    let mut free = Vec::new();
    let mut it = argv.iter().skip(1);
    let mut options_done = false;
    while let Some(a) = it.next() {
        if options_done || !a.starts_with('-') || a == "-" {
            free.push(a.clone());
            continue;
        }
        if a == "--" {
            options_done = true;
            continue;
        }
        match a.as_str() {
            "--extended-regexp" => g.syntax = Syntax::Extended,
            "--fixed-strings" => g.syntax = Syntax::Fixed,
            "--basic-regexp" => g.syntax = Syntax::Basic,
            "--invert-match" => g.invert = true,
            "--ignore-case" => g.ignore_case = true,
            "--line-regexp" => g.line = true,
            "--word-regexp" => g.word = true,
            "--count" => g.count = true,
            "--quiet" | "--silent" => g.quiet = true,
            "-e" | "--regexp" => match it.next() {
                Some(p) => g.patterns.push(p.clone()),
                None => {
                    return Err(ToolParseError(
                        "grep: option requires an argument -- 'e'".into(),
                    ));
                }
            },
            s if s.starts_with("--regexp=") => g.patterns.push(s["--regexp=".len()..].into()),
            s if s.starts_with("--") => {
                return Err(ToolParseError(format!(
                    "grep: unrecognized option '{s}' (modelled: -E -F -G -v -i -x -w -c -q -e)"
                )));
            }
            s => {
                // Clustered short options; `-e` may end a cluster with its pattern after it.
                let mut chars = s[1..].chars();
                while let Some(c) = chars.next() {
                    match c {
                        'E' => g.syntax = Syntax::Extended,
                        'F' => g.syntax = Syntax::Fixed,
                        'G' => g.syntax = Syntax::Basic,
                        'v' => g.invert = true,
                        'i' | 'y' => g.ignore_case = true,
                        'x' => g.line = true,
                        'w' => g.word = true,
                        'c' => g.count = true,
                        'q' | 's' => g.quiet |= c == 'q',
                        'e' => {
                            let rest: String = chars.by_ref().collect();
                            if !rest.is_empty() {
                                g.patterns.push(rest);
                            } else {
                                match it.next() {
                                    Some(p) => g.patterns.push(p.clone()),
                                    None => {
                                        return Err(ToolParseError(
                                            "grep: option requires an argument -- 'e'".into(),
                                        ));
                                    }
                                }
                            }
                        }
                        other => {
                            return Err(ToolParseError(format!(
                                "grep: invalid option -- '{other}' (modelled: -E -F -G -v -i -x -w -c -q -e)"
                            )));
                        }
                    }
                }
            }
        }
    }
    let mut free = free.into_iter();
    if g.patterns.is_empty() {
        match free.next() {
            Some(p) => g.patterns.push(p),
            None => {
                return Err(ToolParseError(
                    "Usage: grep [OPTION]... PATTERNS [FILE]... (a pattern is needed)".into(),
                ));
            }
        }
    }
    if let Some(f) = free.next() {
        return Err(ToolParseError(format!(
            "grep {f}: reading files is not modelled; grep filters the output piped to it"
        )));
    }
    g.regex()?;
    Ok(g)
}

/// A POSIX basic or extended expression in the `regex` crate's syntax.
fn translate(p: &str, syntax: Syntax) -> String {
    let ere = syntax == Syntax::Extended;
    let chars: Vec<char> = p.chars().collect();
    let mut out = String::new();
    let mut i = 0;
    // Where a `*` is literal: at the start of the expression or of a group, after `^` or `|`.
    let mut at_start = true;
    while i < chars.len() {
        let c = chars[i];
        let was_start = at_start;
        at_start = false;
        match c {
            '\\' if i + 1 < chars.len() => {
                let n = chars[i + 1];
                i += 2;
                match n {
                    '(' | ')' | '{' | '}' | '|' | '+' | '?' if !ere => {
                        out.push(n);
                        at_start = n == '(' || n == '|';
                    }
                    '<' | '>' => out.push_str("\\b"),
                    'w' | 'W' | 's' | 'S' | 'b' | 'B' => {
                        out.push('\\');
                        out.push(n);
                    }
                    d if d.is_ascii_digit() => {
                        // Back-references are not in the regex crate: match the digit.
                        out.push_str(&regex::escape(&d.to_string()));
                    }
                    other => out.push_str(&regex::escape(&other.to_string())),
                }
                continue;
            }
            '\\' => out.push_str("\\\\"),
            '[' => {
                // A bracket expression: `]` first (after an optional `^`) is a member, a
                // backslash is literal, `[:class:]` is kept.
                let mut j = i + 1;
                let mut class = String::from("[");
                if j < chars.len() && chars[j] == '^' {
                    class.push('^');
                    j += 1;
                }
                if j < chars.len() && chars[j] == ']' {
                    class.push_str("\\]");
                    j += 1;
                }
                let mut closed = false;
                while j < chars.len() {
                    let d = chars[j];
                    if d == ']' {
                        closed = true;
                        break;
                    }
                    if d == '['
                        && j + 1 < chars.len()
                        && chars[j + 1] == ':'
                        && let Some(end) = (j + 2..chars.len().saturating_sub(1))
                            .find(|&k| chars[k] == ':' && chars[k + 1] == ']')
                    {
                        class.extend(&chars[j..end + 2]);
                        j = end + 2;
                        continue;
                    }
                    match d {
                        '\\' | '[' | '&' | '~' => {
                            class.push('\\');
                            class.push(d);
                        }
                        _ => class.push(d),
                    }
                    j += 1;
                }
                if closed {
                    class.push(']');
                    out.push_str(&class);
                    i = j + 1;
                } else {
                    // An unmatched `[` is an error to grep too: left for the regex to refuse.
                    out.push('[');
                    i += 1;
                }
                continue;
            }
            '*' if was_start => out.push_str("\\*"),
            '(' | ')' | '{' | '}' | '|' | '+' | '?' if !ere => {
                out.push('\\');
                out.push(c);
            }
            '(' | '|' if ere => {
                out.push(c);
                at_start = true;
            }
            '^' => {
                out.push('^');
                at_start = true;
            }
            _ => {
                let mut b = [0u8; 4];
                let s: &str = c.encode_utf8(&mut b);
                if ".$*)+?{}".contains(c) || c.is_alphanumeric() || c == ' ' || !c.is_ascii() {
                    out.push_str(s);
                } else {
                    out.push_str(&regex::escape(s));
                }
            }
        }
        i += 1;
    }
    out
}

impl Grep {
    /// The one expression every pattern is part of.
    pub fn regex(&self) -> Result<regex::Regex, ToolParseError> {
        let parts: Vec<String> = self
            .patterns
            .iter()
            .flat_map(|p| p.split('\n'))
            .map(|p| match self.syntax {
                Syntax::Fixed => regex::escape(p),
                s => translate(p, s),
            })
            .map(|p| {
                if self.line {
                    format!("^(?:{p})$")
                } else if self.word {
                    format!("\\b(?:{p})\\b")
                } else {
                    format!("(?:{p})")
                }
            })
            .collect();
        let mut b = regex::RegexBuilder::new(&parts.join("|"));
        b.case_insensitive(self.ignore_case).size_limit(1 << 20);
        b.build().map_err(|e| {
            let first = e
                .to_string()
                .lines()
                .last()
                .unwrap_or("")
                .trim()
                .to_string();
            ToolParseError(format!("grep: invalid pattern: {first}"))
        })
    }

    /// Filter `text` as grep filters its standard input.
    pub fn filter(&self, text: &str) -> Filtered {
        let Ok(re) = self.regex() else {
            return Filtered {
                text: String::new(),
                selected: false,
            };
        };
        let mut out = String::new();
        let mut n = 0usize;
        for l in text.lines() {
            if re.is_match(l) != self.invert {
                n += 1;
                if !self.count && !self.quiet {
                    out.push_str(l);
                    out.push('\n');
                }
            }
        }
        if self.count && !self.quiet {
            out = format!("{n}\n");
        }
        Filtered {
            text: out,
            selected: n > 0,
        }
    }
}

impl fmt::Display for Grep {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("grep")?;
        let mut flags = String::new();
        match self.syntax {
            Syntax::Basic => {}
            Syntax::Extended => flags.push('E'),
            Syntax::Fixed => flags.push('F'),
        }
        for (b, c) in [
            (self.invert, 'v'),
            (self.ignore_case, 'i'),
            (self.line, 'x'),
            (self.word, 'w'),
            (self.count, 'c'),
            (self.quiet, 'q'),
        ] {
            if b {
                flags.push(c);
            }
        }
        if !flags.is_empty() {
            write!(f, " -{flags}")?;
        }
        if let [p] = self.patterns.as_slice()
            && !p.starts_with('-')
        {
            return write!(f, " {}", super::shell_word(p));
        }
        for p in &self.patterns {
            write!(f, " -e {}", super::shell_word(p))?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn g(line: &str) -> Grep {
        let argv = shlex::split(line).expect("balanced");
        parse(&argv).unwrap_or_else(|e| panic!("{line}: {e}"))
    }

    fn selects(line: &str, input: &str) -> Vec<String> {
        g(line)
            .filter(input)
            .text
            .lines()
            .map(String::from)
            .collect()
    }

    /// The captures' own filter, and what POSIX says of each syntax: in a basic expression
    /// `(`, `|`, `+`, `?` are literal and `\(` `\|` the operators (GNU); in an extended one
    /// the reverse; `-F` is literal throughout.
    #[test]
    fn basic_extended_and_fixed_as_posix_reads_them() {
        let nodes = "dax0.0\npmem0\nnull\ntty1\n";
        assert_eq!(selects("grep -E '^(pmem|dax)'", nodes), ["dax0.0", "pmem0"]);
        assert!(selects("grep '^(pmem|dax)'", nodes).is_empty());
        assert_eq!(
            selects(r"grep '^\(pmem\|dax\)'", nodes),
            ["dax0.0", "pmem0"]
        );
        assert_eq!(selects("grep 'a+b'", "a+b\naab\n"), ["a+b"]);
        assert_eq!(selects("grep -E 'a+b'", "a+b\naab\n"), ["aab"]);
        assert_eq!(selects("grep -F 'a.b'", "a.b\naxb\n"), ["a.b"]);
        assert_eq!(selects("grep 'a.b'", "a.b\naxb\n"), ["a.b", "axb"]);
        assert_eq!(
            selects("grep '*x'", "*x\nx\n"),
            ["*x"],
            "a leading * is literal"
        );
        assert_eq!(selects(r"grep 'a\{2\}'", "a\naa\n"), ["aa"]);
        assert_eq!(selects("grep -E 'a{2}'", "a\naa\n"), ["aa"]);
        assert_eq!(selects("grep '[]x]'", "]\nx\ny\n"), ["]", "x"]);
        assert_eq!(
            selects(r"grep '[\]'", "\\\nx\n"),
            ["\\"],
            "a backslash in [] is literal"
        );
        assert_eq!(selects("grep '[[:digit:]]'", "a1\nb\n"), ["a1"]);
        assert_eq!(selects(r"grep '\<dax'", "dax0\nmydax\n"), ["dax0"]);
    }

    #[test]
    fn options_as_gnu_grep_takes_them() {
        let t = "System RAM\nReserved\nsystem ram (kmem)\n";
        assert_eq!(selects("grep -v RAM", t), ["Reserved", "system ram (kmem)"]);
        assert_eq!(selects("grep -i 'system ram'", t).len(), 2);
        assert_eq!(selects("grep -x Reserved", t), ["Reserved"]);
        assert!(selects("grep -x Reserv", t).is_empty());
        assert_eq!(selects("grep -w RAM", "RAM x\nRAMS\n"), ["RAM x"]);
        assert_eq!(g("grep -c RAM").filter(t).text, "1\n");
        let q = g("grep -q RAM").filter(t);
        assert!(q.selected && q.text.is_empty());
        assert_eq!(selects("grep -e RAM -e Res", t), ["System RAM", "Reserved"]);
        assert_eq!(selects("grep -vie ram", t), ["Reserved"]);
        assert!(!g("grep nothing").filter(t).selected);
        for bad in [
            "grep",
            "grep -P x",
            "grep --color x",
            "grep x file",
            "grep -E '('",
        ] {
            let argv = shlex::split(bad).unwrap();
            assert!(parse(&argv).is_err(), "{bad}");
        }
    }

    #[test]
    fn grep_lines_print_back_as_they_parse() {
        for l in [
            "grep -E '^(pmem|dax)'",
            "grep -vi ram",
            "grep -F a.b",
            "grep -e -x -e y",
            "grep -cq 'a b'",
        ] {
            let once = g(l);
            let again = g(&once.to_string());
            assert_eq!(once, again, "{l} → {once}");
        }
    }
}
