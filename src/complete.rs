//! Completion in the REPL (issue 9): the same clap tree as the parser ([`line_command`])
//! gives the command words, options and option values; the live session gives the values no
//! definition can know: resource boundaries where an address is expected (`SPAN`, `ADDR`,
//! `TARGET`), memory blocks (`memoryN`), dax devices (`daxX.Y`), resource names (`show`).
//! A resource name is never offered where an address is expected.

use crate::command::{CLI_ONLY, line_command};
use crate::kernel::machine::Machine;
use crate::tree::Tree;

/// Values of the current session, refreshed after every command.
#[derive(Clone, Debug, Default)]
pub struct Live {
    /// Resource starts (`a0000000`).
    pub starts: Vec<String>,
    /// Resource ranges (`a0000000-afffffff`).
    pub ranges: Vec<String>,
    /// Resource names.
    pub names: Vec<String>,
    /// `memoryN` of every memory block.
    pub blocks: Vec<String>,
    /// dax devices (`dax0.0`).
    pub dax: Vec<String>,
}

impl Live {
    pub fn of(m: &Machine) -> Live {
        let t = &m.tree;
        let mut l = Live::default();
        for id in t.descendants(Tree::ROOT) {
            let r = t.get(id);
            l.starts.push(format!("{:x}", r.start));
            l.ranges.push(format!("{:x}-{:x}", r.start, r.end));
            l.names.push(t.name_lossy(id).into_owned());
        }
        l.blocks = m.blocks.iter().map(|b| format!("memory{}", b.id)).collect();
        l.dax = m.dax.keys().cloned().collect();
        for v in [&mut l.starts, &mut l.ranges, &mut l.names, &mut l.dax] {
            v.sort();
            v.dedup();
        }
        l
    }
}

/// Candidates for the word ending at byte `pos` of `line`: (start of that word, candidates).
pub fn candidates(line: &str, pos: usize, live: &Live) -> (usize, Vec<String>) {
    let head = line.get(..pos).unwrap_or(line);
    let start = head
        .rfind(|c: char| c.is_whitespace() || c == '"' || c == '\'')
        .map_or(0, |i| i + 1);
    let word = &head[start..];
    let quoted = matches!(head[..start].chars().last(), Some('"' | '\''));
    let before = &head[..start];
    let before = if quoted {
        &before[..before.len() - 1]
    } else {
        before
    };
    let words: Vec<String> = shlex::split(before)
        .unwrap_or_else(|| before.split_whitespace().map(String::from).collect());
    let mut v = words_for(&words, word, quoted, live);
    v.retain(|c| c.starts_with(word) || c.trim_start_matches('"').starts_with(word));
    v.sort();
    v.dedup();
    (start, v)
}

fn words_for(words: &[String], word: &str, quoted: bool, live: &Live) -> Vec<String> {
    let root = line_command();
    let mut cur = &root;
    let mut i = 0;
    while i < words.len() {
        match cur.find_subcommand(&words[i]) {
            Some(sc) => {
                cur = sc;
                i += 1;
                // `explain CMD…` and `help CMD…` take a command: start over from the top.
                if matches!(cur.get_name(), "explain" | "help") {
                    cur = &root;
                }
            }
            None => break,
        }
    }
    let rest = &words[i..];
    if cur.has_subcommands() {
        if !rest.is_empty() {
            return Vec::new();
        }
        return cur
            .get_subcommands()
            .map(|c| c.get_name().to_string())
            .filter(|n| !CLI_ONLY.contains(&n.as_str()))
            .collect();
    }
    // An option's value?
    if let Some(prev) = rest.last()
        && let Some(name) = prev.strip_prefix("--")
        && let Some(a) = cur.get_arguments().find(|a| a.get_long() == Some(name))
        && a.get_action().takes_values()
    {
        return a
            .get_possible_values()
            .iter()
            .map(|p| p.get_name().to_string())
            .collect();
    }
    if word.starts_with('-') {
        return cur
            .get_arguments()
            .filter(|a| !a.is_hide_set())
            .filter_map(|a| a.get_long())
            .map(|l| format!("--{l}"))
            .collect();
    }
    // A positional: which one, by the value names of the command's positionals.
    let mut skip_value = false;
    let mut n = 0;
    for w in rest {
        if skip_value {
            skip_value = false;
            continue;
        }
        if let Some(name) = w.strip_prefix("--") {
            skip_value = cur
                .get_arguments()
                .find(|a| a.get_long() == Some(name))
                .is_some_and(|a| a.get_action().takes_values());
            continue;
        }
        n += 1;
    }
    let Some(first) = cur.get_positionals().next() else {
        return Vec::new();
    };
    let kind = first
        .get_value_names()
        .and_then(|v| v.first())
        .map(|s| s.to_string())
        .unwrap_or_default();
    let addresses = |with_ranges: bool| -> Vec<String> {
        let mut v = live.starts.clone();
        if with_ranges {
            v.extend(live.ranges.iter().cloned());
        }
        v
    };
    match kind.as_str() {
        // The first word of a span, or of the second span of `adjust` (after START SIZE or
        // START-END).
        "SPAN" => {
            let at_start = n == 0
                || (cur.get_name() == "adjust" && (n == 2 && !rest[0].contains('-'))
                    || (n == 1 && rest[0].contains('-')));
            if at_start && !quoted {
                addresses(true)
            } else {
                Vec::new()
            }
        }
        "TARGET" if n == 0 && !quoted => {
            let mut v = addresses(true);
            v.extend(live.blocks.iter().cloned());
            v
        }
        "ADDR" if n == 0 && !quoted => addresses(false),
        "DEV" if n == 0 => live.dax.clone(),
        "ADDR|NAME" if n == 0 => {
            let mut v = Vec::new();
            if !quoted && word.starts_with(|c: char| c.is_ascii_hexdigit()) {
                v.extend(live.starts.iter().cloned());
            }
            for name in &live.names {
                if quoted || !name.contains(' ') {
                    v.push(name.clone());
                } else {
                    v.push(format!("\"{name}\""));
                }
            }
            v
        }
        _ => cur
            .get_positionals()
            .nth(n)
            .map(|a| {
                a.get_possible_values()
                    .iter()
                    .map(|p| p.get_name().to_string())
                    .collect()
            })
            .unwrap_or_default(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::kernel::machine::Config;
    use crate::testutil::t0;

    fn live() -> Live {
        Live::of(&Machine::boot(t0(), Config::default()))
    }

    #[test]
    fn command_words_subcommands_and_options() {
        let l = live();
        assert_eq!(candidates("hot", 3, &l), (0, vec!["hotplug".to_string()]));
        assert_eq!(candidates("hotplug a", 9, &l).1, ["add"]);
        assert_eq!(candidates("dax ", 4, &l).1, ["devdax", "kmem"]);
        // Command-line-only commands are not offered in a line.
        assert!(!candidates("re", 2, &l).1.contains(&"repl".to_string()));
        let (_, v) = candidates("hotplug add a0000000 128M --", 28, &l);
        assert!(
            v.contains(&"--nid".to_string()) && v.contains(&"--merge".to_string()),
            "{v:?}"
        );
        let (_, v) = candidates("memory online memory20 --zone ", 30, &l);
        assert_eq!(v, ["movable", "normal"]);
        let (_, v) = candidates("kernel 5.", 9, &l);
        assert!(
            v.contains(&"5.0".to_string()) && v.contains(&"5.1".to_string()),
            "{v:?}"
        );
        let (_, v) = candidates("explain hotplug ", 16, &l);
        assert_eq!(v, ["add", "remove"]);
        let (_, v) = candidates("help dax k", 10, &l);
        assert_eq!(v, ["kmem"]);
    }

    #[test]
    fn addresses_where_addresses_names_where_names() {
        let l = live();
        let (_, v) = candidates("hotplug add a00000", 18, &l);
        assert!(
            v.contains(&"a0000000".to_string()) && v.contains(&"a0000000-afffffff".to_string()),
            "{v:?}"
        );
        // Where an address is expected, never a resource name.
        let (_, v) = candidates("hotplug add ", 12, &l);
        assert!(
            !v.is_empty()
                && v.iter()
                    .all(|c| c.chars().next().unwrap().is_ascii_hexdigit()),
            "{v:?}"
        );
        let (_, v) = candidates("request c1000000 4K ", 20, &l);
        assert!(v.is_empty(), "{v:?}");
        let (st, v) = candidates("show Pers", 9, &l);
        assert_eq!(
            (st, v),
            (5, vec!["\"Persistent Memory (legacy)\"".to_string()])
        );
        let (st, v) = candidates("show \"Pers", 10, &l);
        assert_eq!((st, v), (6, vec!["Persistent Memory (legacy)".to_string()]));
        let (_, v) = candidates("memory online memory", 20, &l);
        assert!(
            v.iter().all(|b| b.starts_with("memory")) && !v.is_empty(),
            "{v:?}"
        );
    }
}
