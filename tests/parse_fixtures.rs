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

mod properties {
    use iomem_sim::parse::parse_dump;
    use iomem_sim::render::{Palette, TreeOptions, render_iomem, render_json_text, render_tree};
    use proptest::prelude::*;

    /// Lines shaped like a dump: kernel-style indentation, canonical hex, names with the
    /// awkward bytes real dumps carry (` : `, control bytes, non-UTF-8).
    fn dumpish() -> impl Strategy<Value = Vec<u8>> {
        let line = (
            0usize..7,
            any::<u64>(),
            any::<u64>(),
            proptest::collection::vec(
                prop_oneof![
                    Just(b' '),
                    Just(b':'),
                    Just(0x01u8),
                    Just(0xffu8),
                    Just(b'\r'),
                    b'a'..=b'z'
                ],
                0..12,
            ),
        )
            .prop_map(|(depth, a, b, name)| {
                let (s, e) = if a <= b { (a, b) } else { (b, a) };
                let mut l = "  ".repeat(depth.min(5)).into_bytes();
                l.extend_from_slice(format!("{s:08x}-{e:08x} : ").as_bytes());
                l.extend_from_slice(&name);
                l.push(b'\n');
                l
            });
        proptest::collection::vec(line, 0..20).prop_map(|ls| ls.concat())
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(300))]

        /// Any bytes: an error or a tree, never a panic; every renderer copes.
        #[test]
        fn never_panics(input in proptest::collection::vec(any::<u8>(), 0..400)) {
            if let Ok(d) = parse_dump(&input, None) {
                let _ = render_iomem(&d.tree);
                let _ = render_tree(&d.tree, &Palette::plain(), &TreeOptions::default());
                let _ = render_json_text(&d.tree);
                let _ = iomem_sim::check::check(&d.tree);
            }
        }

        /// Whatever parses without a normalization prints back byte for byte.
        #[test]
        fn dumps_round_trip(input in dumpish()) {
            match parse_dump(&input, None) {
                Ok(d) if d.normalizations.is_empty() => {
                    prop_assert_eq!(render_iomem(&d.tree), input);
                }
                // Every line ending in `\r\r\n` is CRLF plus names ending in `\r`, which a
                // second pass cannot tell from CRLF again: the one ambiguity we accept.
                Ok(_) if input.windows(3).any(|w| w == b"\r\r\n") => {}
                Ok(d) => {
                    // A normalized dump is stable: printing it and parsing again changes nothing.
                    let once = render_iomem(&d.tree);
                    let again = parse_dump(&once, None).expect("own output parses");
                    prop_assert!(again.normalizations.is_empty(), "{:?}", again.normalizations);
                    prop_assert_eq!(render_iomem(&again.tree), once);
                }
                Err(e) => prop_assert!(e.line >= 1 && e.column >= 1),
            }
        }
    }
}
