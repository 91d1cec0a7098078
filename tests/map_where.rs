//! `map`, `--format svg` and `where` through the real binary (issue 11).

mod common;

use common::{fixture, run};
use iomem_sim::parse::parse_dump;
use iomem_sim::tree::Tree;

fn stdout(o: &std::process::Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

fn map_of(args: &[&str]) -> String {
    let o = run(args, &[], None);
    assert_eq!(
        o.status.code(),
        Some(0),
        "{args:?}: {}",
        String::from_utf8_lossy(&o.stderr)
    );
    stdout(&o)
}

const PHONE: &str = "arm64-android-qcom-sm7150-sweet.iomem";
const SERVER: &str = "x86_64-ryzen7pro-asrockrack-server-debian-report.iomem";
const CXL: &str = "cxl-qemu-soft-reserved-parent-excerpt.iomem";

fn input(name: &str) -> String {
    fixture(name).display().to_string()
}

#[test]
fn map_of_the_built_in_example() {
    insta::assert_snapshot!("map_t0", map_of(&["map"]));
}

#[test]
fn map_of_a_phone() {
    insta::assert_snapshot!(
        "map_phone",
        map_of(&["-i", &input(PHONE), "map", "--width", "100"])
    );
}

#[test]
fn map_of_the_server() {
    insta::assert_snapshot!("map_server", map_of(&["-i", &input(SERVER), "map"]));
}

#[test]
fn map_of_a_cxl_excerpt() {
    insta::assert_snapshot!("map_cxl", map_of(&["-i", &input(CXL), "map"]));
}

#[test]
fn map_marks_what_the_last_command_changed() {
    let out = map_of(&["-k", "5.1", "-e", "hotplug add a0000000 128M", "map"]);
    insta::assert_snapshot!("map_t0_after_hotplug", out);
}

#[test]
fn every_fixture_map_fits_in_60_lines_of_width_columns() {
    for e in std::fs::read_dir(fixture("")).unwrap() {
        let p = e.unwrap().path();
        if p.extension().and_then(|x| x.to_str()) != Some("iomem") {
            continue;
        }
        let o = run(&["-i", &p.display().to_string(), "map"], &[], None);
        let text = stdout(&o);
        if o.status.code() != Some(0) {
            // A dump read without root (every address 0) is refused by commands: fine.
            assert!(
                String::from_utf8_lossy(&o.stderr).contains("without root"),
                "{p:?}"
            );
            continue;
        }
        assert!(
            text.lines().count() <= 60,
            "{p:?}: {} lines",
            text.lines().count()
        );
        for l in text.lines() {
            assert!(l.chars().count() <= 80, "{p:?}: {l:?}");
            assert!(l.is_ascii(), "plain output is ASCII: {l:?}");
        }
    }
}

#[test]
fn colour_only_when_asked_and_ascii_otherwise() {
    let c = stdout(&run(&["--color", "always", "map"], &[], None));
    assert!(c.contains("\x1b[") && c.contains('█'), "{c}");
    let n = stdout(&run(
        &["--color", "always", "map"],
        &[("NO_COLOR", "1")],
        None,
    ));
    // --color always wins over NO_COLOR (cli.md); auto with NO_COLOR or TERM=dumb is plain.
    assert!(n.contains("\x1b["));
    for env in [[("NO_COLOR", "1")], [("TERM", "dumb")]] {
        let p = stdout(&run(&["--color", "auto", "map"], &env, None));
        assert!(p.is_ascii() && !p.contains("\x1b["), "{p}");
    }
    assert!(stdout(&run(&["--color", "never", "map"], &[], None)).is_ascii());
}

#[test]
fn bad_width_names_the_word() {
    let o = run(&["map", "--width", "7"], &[], None);
    assert_eq!(o.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&o.stderr).contains("--width"));
}

// ------------------------------------------------------------------------------- svg

/// The scale as `render::map` documents it, written again here: breakpoints at every
/// top-level start and end + 1 and the root's ends; an interval weighs max(1, 1 + log2(len /
/// 4096)); an interval no resource covers that is longer than the largest top-level resource
/// weighs what that resource weighs; linear inside an interval.
fn expected_pos(trees: &[&Tree], addr: u128) -> (f64, f64) {
    let w = |len: u128| {
        if len <= 4096 {
            1.0
        } else {
            1.0 + (len as f64 / 4096.0).log2()
        }
    };
    let mut br: Vec<u128> = Vec::new();
    let mut spans = Vec::new();
    let mut largest = 0u128;
    for t in trees {
        let r = t.get(Tree::ROOT);
        br.push(r.start.into());
        br.push(u128::from(r.end) + 1);
        for c in t.children(Tree::ROOT) {
            let r = t.get(c);
            let (s, e) = (u128::from(r.start), u128::from(r.end) + 1);
            br.extend([s, e]);
            spans.push((s, e));
            largest = largest.max(e - s);
        }
    }
    br.sort_unstable();
    br.dedup();
    let (mut at, mut total) = (None, 0.0);
    for win in br.windows(2) {
        let (a, b) = (win[0], win[1]);
        let covered = spans.iter().any(|&(s, e)| s <= a && a < e);
        let wt = if !covered && b - a > largest {
            w(largest)
        } else {
            w(b - a)
        };
        if at.is_none() && addr < b && addr >= a {
            at = Some(total + wt * (addr - a) as f64 / (b - a) as f64);
        }
        total += wt;
    }
    (at.unwrap_or(total), total)
}

fn check_svg(svg: &str, trees: &[&Tree], col: &str) {
    let doc = roxmltree::Document::parse(svg).expect("the SVG is well-formed XML");
    let g = doc
        .descendants()
        .find(|n| n.attribute("data-col") == Some(col))
        .expect("column");
    let top: f64 = g.attribute("data-axis-top").unwrap().parse().unwrap();
    let height: f64 = g.attribute("data-axis-height").unwrap().parse().unwrap();
    let rects: Vec<_> = g
        .children()
        .filter(|n| n.attribute("class") == Some("res"))
        .collect();
    let t = if col == "before" {
        trees[0]
    } else {
        trees[trees.len() - 1]
    };
    assert_eq!(
        rects.len(),
        t.child_count(Tree::ROOT),
        "one rectangle per top-level resource"
    );
    for (rect, id) in rects.iter().zip(t.children(Tree::ROOT)) {
        let r = t.get(id);
        let (s, _) = expected_pos(trees, r.start.into());
        let (e, total) = expected_pos(trees, u128::from(r.end) + 1);
        let y: f64 = rect.attribute("y").unwrap().parse().unwrap();
        let h: f64 = rect.attribute("height").unwrap().parse().unwrap();
        assert!(
            (y - (top + height * s / total)).abs() < 0.01,
            "{} y {y}",
            t.name_lossy(id)
        );
        assert!(
            (h - height * (e - s) / total).abs() < 0.02,
            "{} h {h}",
            t.name_lossy(id)
        );
        let title = rect.children().find(|n| n.has_tag_name("title")).unwrap();
        let text = title.text().unwrap();
        assert!(text.contains(&*t.name_lossy(id)), "{text}");
        assert!(
            text.starts_with(&format!("{:08x}-{:08x}", r.start, r.end)),
            "{text}"
        );
    }
}

fn dump(name: &str) -> Tree {
    parse_dump(&std::fs::read(fixture(name)).unwrap(), None)
        .unwrap()
        .tree
}

#[test]
fn svg_rectangles_sit_on_the_scale() {
    for name in [
        PHONE,
        SERVER,
        CXL,
        "qemu-pmem-legacy-kmem-system-ram-child-dhansen.iomem",
    ] {
        let svg = stdout(&run(&["-i", &input(name), "--format", "svg"], &[], None));
        let t = dump(name);
        check_svg(&svg, &[&t], "after");
    }
}

#[test]
fn svg_of_a_change_is_a_pair_with_the_change_highlighted() {
    let o = run(
        &[
            "-k", "5.1", "--format", "svg", "hotplug", "add", "a0000000", "128M",
        ],
        &[],
        None,
    );
    assert_eq!(o.status.code(), Some(0));
    let svg = stdout(&o);
    // The machine's root ends at 2^46 - 1 (--phys-bits 46) in both trees.
    let mut before = iomem_sim::examples::find("t0")
        .map(|e| parse_dump(e.text.as_bytes(), None).unwrap().tree)
        .unwrap();
    before.get_mut(Tree::ROOT).end = (1 << 46) - 1;
    check_svg(&svg, &[&before, &before], "before");
    check_svg(&svg, &[&before, &before], "after");
    let doc = roxmltree::Document::parse(&svg).unwrap();
    let change = doc
        .descendants()
        .find(|n| n.attribute("class") == Some("change"))
        .expect("the added System RAM is outlined");
    let title = change.children().find(|n| n.has_tag_name("title")).unwrap();
    assert_eq!(
        title.text(),
        Some("added: a0000000-a7ffffff : System RAM (128 MiB)")
    );
}

// ----------------------------------------------------------------------------- where

#[test]
fn where_answers_with_the_command_and_exit_status() {
    let o = run(&["-k", "5.1", "where", "128M", "--count", "10"], &[], None);
    assert_eq!(o.status.code(), Some(0));
    let out = stdout(&o);
    // 5.1 nests under the non-BUSY legacy pmem (__request_region descends).
    assert!(out.contains("hotplug add a0000000 128M"), "{out}");
    assert!(out.contains("Persistent Memory (legacy)"), "{out}");
    let o = run(&["-k", "5.0", "where", "128M", "--count", "10"], &[], None);
    assert!(
        !stdout(&o).contains("hotplug add a0000000"),
        "5.0: top level only"
    );
    let o = run(&["where", "64T"], &[], None);
    assert_eq!(o.status.code(), Some(1));
    assert!(stdout(&o).contains("largest free block-aligned stretch"));
    let o = run(&["where", "100M"], &[], None);
    assert_eq!(o.status.code(), Some(1));
    assert!(stdout(&o).contains("check_hotplug_memory_range"));
    let o = run(&["where", "1G", "--for", "memmap"], &[], None);
    assert_eq!(o.status.code(), Some(0));
    assert!(stdout(&o).contains("memmap=1G!0x8000000"), "{}", stdout(&o));
    let o = run(&["where", "1G", "--for", "swap"], &[], None);
    assert_eq!(o.status.code(), Some(2));
}

/// `where --format json` answers in data. The legacy pmem range is a candidate from 5.1 on
/// (`register_memory_resource` → `__request_region` descends into the non-BUSY
/// "Persistent Memory (legacy)") and not on 5.0 (`request_resource_conflict` sees it as a
/// top-level conflict: -EEXIST).
#[test]
fn where_json_answer_follows_the_2019_patch() {
    let under_pmem = |k: &str| -> bool {
        let o = run(
            &[
                "--format", "json", "-k", k, "where", "128M", "--count", "10",
            ],
            &[],
            None,
        );
        assert_eq!(o.status.code(), Some(0), "{k}");
        let v: serde_json::Value = serde_json::from_slice(&o.stdout).expect("json");
        let cands = v["answer"]["candidates"]
            .as_array()
            .expect("candidates")
            .clone();
        assert!(!cands.is_empty(), "{k}");
        for c in &cands {
            assert!(
                c["start"].as_str().is_some_and(|s| s.starts_with("0x")),
                "{c}"
            );
        }
        cands
            .iter()
            .any(|c| c["nests_under"]["name"] == "Persistent Memory (legacy)")
    };
    assert!(!under_pmem("5.0"));
    assert!(under_pmem("5.1"));
}
