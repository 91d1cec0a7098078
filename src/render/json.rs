//! `--format json`: the tree for scripts.
//!
//! ```json
//! { "kind": "iomem", "root_end": "0xffffffffffffffff", "zeroed": false,
//!   "resources": [ { "start": "0x0", "end": "0xfff", "size": 4096,
//!                    "name": "Reserved", "flags": "MEM|BUSY", "desc": "RESERVED",
//!                    "confidence": "high", "line": 1, "children": [] }, … ] }
//! ```
//! Addresses are `"0x…"` hex strings, the one address format of every JSON output (JSON
//! numbers lose precision above 2^53; see docs/json.md); `size` is a number, or a hex string for the one size that does not fit in 64 bits.
//! A name that is not UTF-8 is given lossily in `name` and exactly in `name_hex`.
//!
//! Both functions are iterative: the depth of a dump is input-controlled.

use serde_json::{Map, Value, json};

use super::size_of;
use crate::tree::{Confidence, NodeId, RootKind, Tree, flags};

/// An address (or size) as every JSON output writes it: `"0xa0000000"`.
pub fn hex(v: u64) -> String {
    format!("{v:#x}")
}

/// serde helpers writing `u64` fields with [`hex`].
pub mod ser_hex {
    pub fn u64<S: serde::Serializer>(v: &u64, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&super::hex(*v))
    }
    pub fn opt<S: serde::Serializer>(v: &Option<u64>, s: S) -> Result<S::Ok, S::Error> {
        match v {
            Some(v) => s.serialize_str(&super::hex(*v)),
            None => s.serialize_none(),
        }
    }
}

/// Fields in display order (a `Map` would sort them).
fn node_fields(tree: &Tree, id: NodeId) -> Vec<(&'static str, Value)> {
    let r = tree.get(id);
    let size = size_of(tree, id);
    let size = match u64::try_from(size) {
        Ok(s) => json!(s),
        Err(_) => json!(format!("{size:#x}")),
    };
    let raw = tree.name_of(id);
    let mut m = vec![
        ("start", json!(hex(r.start))),
        ("end", json!(hex(r.end))),
        ("size", size),
        ("name", json!(tree.name_lossy(id))),
    ];
    if std::str::from_utf8(raw).is_err() {
        let hex: String = raw.iter().map(|b| format!("{b:02x}")).collect();
        m.push(("name_hex", json!(hex)));
    }
    m.push(("flags", json!(flags::describe(r.flags))));
    m.push(("desc", json!(r.desc.kernel_name())));
    let conf = match r.confidence {
        Confidence::Exact => "exact",
        Confidence::High => "high",
        Confidence::Medium => "medium",
        Confidence::Low => "low",
    };
    m.push(("confidence", json!(conf)));
    if let Some(l) = r.line() {
        m.push(("line", json!(l)));
    }
    m
}

fn header(tree: &Tree) -> Vec<(&'static str, Value)> {
    let kind = match tree.kind() {
        RootKind::Iomem => "iomem",
        RootKind::Ioport => "ioports",
    };
    vec![
        ("kind", json!(kind)),
        ("root_end", json!(hex(tree.get(Tree::ROOT).end))),
        ("zeroed", json!(tree.zeroed)),
    ]
}

/// The tree as a JSON value, built bottom-up without recursion. (Dropping or serializing a
/// `Value` recurses in serde_json; for untrusted, arbitrarily deep dumps print with
/// [`render_json_text`].)
pub fn render_json(tree: &Tree) -> Value {
    let rows: Vec<(NodeId, usize)> = tree.walk(Tree::ROOT).collect();
    // Reverse pre-order: a node's children are exactly the entries of depth + 1 on top of the
    // stack when we reach it, already in list order.
    let mut stack: Vec<(usize, Value)> = Vec::new();
    for &(id, depth) in rows.iter().rev() {
        let mut kids = Vec::new();
        while stack.last().is_some_and(|(d, _)| *d == depth + 1) {
            if let Some((_, v)) = stack.pop() {
                kids.push(v);
            }
        }
        let mut m: Map<String, Value> = node_fields(tree, id)
            .into_iter()
            .map(|(k, v)| (k.to_string(), v))
            .collect();
        m.insert("children".into(), Value::Array(kids));
        stack.push((depth, Value::Object(m)));
    }
    let top: Vec<Value> = stack.into_iter().rev().map(|(_, v)| v).collect();
    let mut m: Map<String, Value> = header(tree)
        .into_iter()
        .map(|(k, v)| (k.to_string(), v))
        .collect();
    m.insert("resources".into(), Value::Array(top));
    Value::Object(m)
}

/// The same document as [`render_json`], pretty-printed (serde_json's layout, 2-space
/// indent), written iteratively so any depth is safe.
pub fn render_json_text(tree: &Tree) -> String {
    let mut out = String::from("{\n");
    for (k, v) in header(tree) {
        out.push_str(&format!("  {}: {},\n", json!(k), v));
    }
    out.push_str("  \"resources\": [");
    let rows: Vec<(NodeId, usize)> = tree.walk(Tree::ROOT).collect();
    if rows.is_empty() {
        out.push_str("]\n}\n");
        return out;
    }
    out.push('\n');
    // Each resource object sits at indent level 2 + 2*depth.
    let pad = |lvl: usize| "  ".repeat(lvl);
    for (i, &(id, depth)) in rows.iter().enumerate() {
        let lvl = 2 + 2 * depth;
        out.push_str(&pad(lvl));
        out.push_str("{\n");
        for (k, v) in node_fields(tree, id) {
            out.push_str(&format!("{}{}: {},\n", pad(lvl + 1), json!(k), v));
        }
        out.push_str(&pad(lvl + 1));
        out.push_str("\"children\": [");
        let next_depth = rows.get(i + 1).map(|&(_, d)| d);
        match next_depth {
            Some(d) if d > depth => {
                // Children follow.
                out.push('\n');
                continue;
            }
            _ => out.push(']'),
        }
        out.push('\n');
        out.push_str(&pad(lvl));
        out.push('}');
        // Close the lists and objects of the ancestors we climb out of.
        let to = next_depth.unwrap_or(0);
        let mut d = depth;
        while d > to {
            d -= 1;
            let l = 2 + 2 * d;
            out.push('\n');
            out.push_str(&pad(l + 1));
            out.push(']');
            out.push('\n');
            out.push_str(&pad(l));
            out.push('}');
        }
        if next_depth.is_some() {
            out.push(',');
        }
        out.push('\n');
    }
    out.push_str("  ]\n}\n");
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::parse::parse_dump;

    #[test]
    fn text_and_value_agree() {
        for text in [
            crate::examples::T0,
            "0-ff : a\n  0-f : b\n    0-1 : c\n  10-1f : d\n100-1ff : e\n",
        ] {
            let d = parse_dump(text.as_bytes(), None).unwrap();
            let v = render_json(&d.tree);
            let s = render_json_text(&d.tree);
            let back: Value = serde_json::from_str(&s).expect(&s);
            assert_eq!(back, v);
        }
    }

    #[test]
    fn fields() {
        let d = parse_dump(
            b"00000000-00000fff : Reserved\n  00000000-000000ff : \xff\n",
            None,
        )
        .unwrap();
        let v = render_json(&d.tree);
        let r = &v["resources"][0];
        assert_eq!(r["size"], json!(4096));
        assert_eq!(r["flags"], json!("MEM|BUSY"));
        assert_eq!(r["desc"], json!("RESERVED"));
        assert_eq!(r["children"][0]["name_hex"], json!("ff"));
        let empty = parse_dump(b"", Some(RootKind::Ioport)).unwrap();
        let s = render_json_text(&empty.tree);
        assert_eq!(
            serde_json::from_str::<Value>(&s).unwrap(),
            render_json(&empty.tree)
        );
    }
}
