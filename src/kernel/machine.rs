//! The simulated machine: tree + memory blocks + dax devices + kernel config (issue 3).
