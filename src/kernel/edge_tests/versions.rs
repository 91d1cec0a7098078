//! Edge tests for `src/kernel/version.rs` and `src/kernel/boundaries.rs`: the version grammar
//! (`X.Y[.Z]`, the kernel's top-level Makefile `VERSION`/`PATCHLEVEL`/`SUBLEVEL`), the series
//! that exist (the last minor of each finished major: 2.6, 3.19, 4.20, 5.19 — Linux went
//! 2.6.39 → 3.0, 3.19 → 4.0, 4.20 → 5.0, 5.19 → 6.0) and the boundary table itself, whose rows
//! carry their kernel sources.

use super::v;
use crate::kernel::KernelVersion;
use crate::kernel::boundaries::{
    BOUNDARIES, HOTPLUG_RANGE_BLOCK_ALIGNED, REGION_INTERSECTS_DESCENDANTS, RELEASE_REGION_PA,
    expand_range, list_text, modelled_warning,
};

/// `at_most` is a series comparison (`(major, minor) <= (X, Y)`): 5.1 is at most 5.1 and 5.2,
/// not at most 5.0 or 4.20. Kills `at_most` → `true`.
#[test]
fn at_most_is_inclusive_and_false_below() {
    let x = v("5.1");
    assert!(x.at_most(5, 1) && x.at_most(5, 2) && x.at_most(6, 0));
    assert!(!x.at_most(5, 0) && !x.at_most(4, 20));
    assert!(v("5.1.0").at_most(5, 1), "the patch level is ignored");
}

/// A version part is 1 to 4 decimal digits (`p.len() > 4` refuses a fifth, `!all digits`
/// refuses a sign: `u32::from_str` alone would take `+1`). Kills `> 4` → `>= 4` / `== 4` and
/// both `||` → `&&` of that line.
#[test]
fn version_parts_are_one_to_four_plain_digits() {
    assert_eq!(
        "6.1000".parse::<KernelVersion>().map(|k| k.minor),
        Ok(1000),
        "4 digits are fine"
    );
    for bad in ["6.10000", "6.+1", "+6.1", "6.1.+0", "6.11111"] {
        assert!(bad.parse::<KernelVersion>().is_err(), "{bad}");
    }
    assert!("6.1.9999".parse::<KernelVersion>().is_ok());
}

/// The last minor of each finished major series exists and the next one does not: 3.19 → 4.0,
/// 4.20 → 5.0, 5.19 → 6.0; 2.6 is the only 2.x series modelled as existing (2.6.39 → 3.0).
/// Inside the model (4.16 … 6.18) an existing series has no warning; below it, an existing
/// series gets the "older than" warning, a non-existing one "does not exist". Kills the
/// deletion of each `series_exists` arm and `<=` → `>` in the 3 and 4 arms.
#[test]
fn series_exist_up_to_the_last_minor_of_each_major() {
    let exists_but_older = |s: &str| {
        let w = modelled_warning(v(s)).unwrap_or_default();
        assert!(w.contains("is older than"), "{s}: {w}");
    };
    let missing = |s: &str| {
        let w = modelled_warning(v(s)).unwrap_or_default();
        assert!(w.contains("does not exist"), "{s}: {w}");
    };
    exists_but_older("2.6");
    missing("2.7");
    missing("2.0");
    exists_but_older("3.0");
    exists_but_older("3.19");
    missing("3.20");
    exists_but_older("4.0");
    exists_but_older("4.15");
    missing("4.21");
    assert_eq!(modelled_warning(v("4.20")), None);
    assert_eq!(modelled_warning(v("5.19")), None);
    missing("5.20");
    assert_eq!(modelled_warning(v("6.0")), None);
}

/// The model's ends are inclusive: the oldest boundary (4.16, `__release_region`'s `%pa`
/// format, the first row of the table) and the newest modelled kernel (6.18) have no
/// warning; 4.15 and 6.19 do. The older-than warning names the functions whose boundary is
/// the oldest one, and only those. Kills `v > newest` → `>=`, `v < oldest` → `<=` and the
/// filter's `==` → `!=`.
#[test]
fn model_ends_are_inclusive_and_the_oldest_boundary_is_named() {
    assert_eq!(BOUNDARIES[0], RELEASE_REGION_PA);
    assert_eq!(RELEASE_REGION_PA.since, (4, 16));
    assert_eq!(KernelVersion::NEWEST, v("6.18"));
    assert_eq!(modelled_warning(v("4.16")), None);
    assert_eq!(modelled_warning(v("6.18")), None);
    let w = modelled_warning(v("6.19")).unwrap();
    assert!(
        w.contains("newer than the newest modelled kernel (6.18)"),
        "{w}"
    );
    let w = modelled_warning(v("4.15")).unwrap();
    assert!(w.contains("(4.16: __release_region)"), "{w}");
    assert!(!w.contains(HOTPLUG_RANGE_BLOCK_ALIGNED.function), "{w}");
    // 4.16.0 is the first release the 4.16 boundary holds for (`__release_region` of
    // v4.16 prints `%pa`; the rules test `at_least(4, 16)`), so it is not "older"; the
    // last 4.15 release is.
    assert_eq!(modelled_warning(v("4.16.0")), None);
    assert_eq!(modelled_warning(v("4.16.7")), None);
    assert!(modelled_warning(v("4.15.18")).is_some());
}

/// `A..B` holds A, B and every boundary strictly after A up to B, in order, once each;
/// reversed ends give the same list. 5.10..5.13: MERGE_RESOURCE and RMRA_NEVER_FAILS (5.10,
/// = A), OFFLINE_AND_REMOVE_MANY (5.11), MHP_RANGE_ALLOWED (5.12), WALK_RES_WHOLE_TREE (5.13).
#[test]
fn range_holds_each_boundary_inside_once() {
    let names = |a: &str, b: &str| -> Vec<String> {
        expand_range(v(a), v(b))
            .iter()
            .map(ToString::to_string)
            .collect()
    };
    assert_eq!(names("5.10", "5.13"), ["5.10", "5.11", "5.12", "5.13"]);
    assert_eq!(names("5.13", "5.10"), ["5.10", "5.11", "5.12", "5.13"]);
    assert_eq!(names("5.9", "5.9"), ["5.9"]);
    assert_eq!(
        names("6.13", "6.15"),
        ["6.13", "6.15"],
        "no boundary inside"
    );
}

/// `-k list` shows every row of the table: its version, function, quoted title, effect and
/// source, its backport series, and the modelled span (oldest boundary … NEWEST).
#[test]
fn list_text_shows_every_row() {
    let s = list_text();
    for b in BOUNDARIES {
        assert!(s.contains(&format!("\"{}\"", b.title)), "{}", b.title);
        assert!(s.contains(b.effect) && s.contains(b.source), "{}", b.title);
        let head = format!("{:<6} {}", b.since_version().to_string(), b.function);
        assert!(s.contains(&head), "{head}");
    }
    let b = REGION_INTERSECTS_DESCENDANTS;
    assert!(s.contains(&format!(
        "{} (also 5.10, 5.15, 6.1, 6.6-stable)",
        b.function
    )));
    assert!(s.contains("Modelled: 4.16 … 6.18;"));
}
