//! Every real dump in `fixtures/` parses and prints back byte for byte (except the
//! normalizations listed per file below), and every file in `fixtures/bad/` is refused with a
//! line, a column and a caret.

mod common;

use std::time::{Duration, Instant};

use iomem_sim::check::check;
use iomem_sim::parse::{ParseErrorKind, parse_dump};
use iomem_sim::render::{Palette, TreeOptions, render_iomem, render_tree};

/// Files whose render differs from the input, with what we expect instead.
fn expected_render(name: &str, input: &[u8]) -> (Vec<u8>, usize) {
    let text = String::from_utf8_lossy(input);
    match name {
        // Every line is indented by 2 (the root-bus parent was not posted): shifted left.
        "qemu-igb-sriov-vf-excerpt-indented-start.iomem" => {
            let out: String = text.lines().map(|l| format!("{}\n", &l[2..])).collect();
            (out.into_bytes(), 1)
        }
        // The first line sits at depth 4 with no parent in the excerpt: printed at top level.
        "power8-powernv-sriov-mlx5-diff-excerpt.iomem" => {
            let out: String = text
                .lines()
                .enumerate()
                .map(|(i, l)| format!("{}\n", if i == 0 { l.trim_start() } else { l }))
                .collect();
            (out.into_bytes(), 1)
        }
        _ => (input.to_vec(), 0),
    }
}

#[test]
fn real_dumps_round_trip() {
    insta::glob!("../fixtures", "*.{iomem,ioports}", |path| {
        let name = path.file_name().unwrap().to_str().unwrap();
        let input = std::fs::read(path).unwrap();
        let dump =
            parse_dump(&input, common::hint(path)).unwrap_or_else(|e| panic!("{name}:\n{e}"));
        let (want, n_norm) = expected_render(name, &input);
        assert_eq!(
            dump.normalizations.len(),
            n_norm,
            "{name}: {:?}",
            dump.normalizations
        );
        let got = render_iomem(&dump.tree);
        assert!(
            got == want,
            "{name} does not round-trip:\n{}",
            String::from_utf8_lossy(&got)
        );
    });
}

#[test]
fn real_kernel_captures_round_trip() {
    insta::glob!("../fixtures", "real-kernel-6.1/**/*.iomem", |path| {
        let input = std::fs::read(path).unwrap();
        let dump = parse_dump(&input, common::hint(path)).unwrap();
        assert!(dump.normalizations.is_empty());
        assert_eq!(render_iomem(&dump.tree), input, "{}", path.display());
    });
}

/// The readable view of every fixture, with what the parser and `check` noticed.
#[test]
fn tree_view_snapshots() {
    insta::glob!("../fixtures", "*.{iomem,ioports}", |path| {
        let input = std::fs::read(path).unwrap();
        let dump = parse_dump(&input, common::hint(path)).unwrap();
        let mut s = String::new();
        for w in &dump.warnings {
            s += &format!("warning: {w}\n");
        }
        for n in &dump.normalizations {
            s += &format!("note: {n}\n");
        }
        for a in check(&dump.tree) {
            s += &format!("anomaly: {a}\n");
        }
        let opts = TreeOptions {
            flags: true,
            no_summary: false,
        };
        s += &render_tree(&dump.tree, &Palette::plain(), &opts);
        insta::assert_snapshot!("tree", s);
    });
}

#[test]
fn bad_dumps_are_refused_with_a_caret() {
    insta::glob!("../fixtures", "bad/*", |path| {
        let input = std::fs::read(path).unwrap();
        let err = parse_dump(&input, common::hint(path)).expect_err("must be refused");
        assert!(err.line >= 1 && err.column >= 1);
        insta::assert_snapshot!("error", err.to_string());
    });
}

/// A 10 MB line: refused (or accepted) fast, and the error quotes only a window of it.
#[test]
fn ten_megabyte_lines() {
    let ten = 10 << 20;
    let mut garbage = b"00000000-".to_vec();
    garbage.resize(ten, b'f');
    let t = Instant::now();
    let err = parse_dump(&garbage, None).unwrap_err();
    assert_eq!(
        (err.line, err.column, err.kind),
        (1, 26, ParseErrorKind::TooManyDigits)
    );
    assert!(err.to_string().len() < 400);
    insta::assert_snapshot!("ten_megabyte_hex_error", err.to_string());

    let mut name = b"00000000-00000fff : ".to_vec();
    name.resize(ten, b'x');
    name.push(b'\n');
    let dump = parse_dump(&name, None).unwrap();
    assert_eq!(render_iomem(&dump.tree), name);

    let mut sep = b"00000000-00000fff".to_vec();
    sep.resize(ten, b' ');
    let err = parse_dump(&sep, None).unwrap_err();
    assert_eq!(err.kind, ParseErrorKind::ExpectedSeparator);
    // Generous even for a debug build on a shared 2-core machine; quadratic would take hours.
    assert!(t.elapsed() < Duration::from_secs(20), "{:?}", t.elapsed());
}
