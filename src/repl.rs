//! The interactive REPL (rustyline) (issue 4).
