//! A line → `parse_command`. Must not panic; an accepted command's canonical text parses back
//! to the same command.
#![no_main]

use iomem_sim::command::{parse_command, parse_script_line};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(line) = std::str::from_utf8(data) else {
        return;
    };
    let _ = parse_script_line(line);
    let Ok(cmd) = parse_command(line) else { return };
    let canon = cmd.to_string();
    assert_eq!(
        parse_command(&canon).ok(),
        Some(cmd),
        "canonical text {canon:?}"
    );
});
