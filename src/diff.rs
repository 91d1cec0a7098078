//! Structural before/after diff of two trees (issue 4).
