//! Built-in example trees (`--example NAME`); the default is T0 of kernel-semantics.md §6.0 (issue 2).
