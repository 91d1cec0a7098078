//! Anomalies of real dumps: invariants of kernel-semantics.md §1.2 that a dump breaks (issue 2).
