//! Findings of the fuzzers and the property tests, kept as regressions (issue 5).

use iomem_sim::command::parse_command;

/// prop_session found: `?\v"\t"` parses as `help` with the topic `"\t"`, but the canonical
/// text `help \t` (Display does not quote the topic) parses back as plain `help`.
/// Ignored until `Command::Help`'s Display quotes its topic (src/command.rs, not owned here).
#[test]
#[ignore = "known: Command::Help Display does not quote the topic"]
fn help_topic_with_blanks_round_trips_through_canonical_text() {
    let cmd = parse_command("?\u{b}\"\t\"").expect("parses");
    let canon = cmd.to_string();
    assert_eq!(parse_command(&canon).ok(), Some(cmd), "canonical {canon:?}");
}
