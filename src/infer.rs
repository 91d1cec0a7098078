//! Flags and desc inferred from names (kernel-semantics.md §5.6) (issue 2).
