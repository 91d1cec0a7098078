//! A session: the machine, its steps (undo/redo), command execution (issue 4).
