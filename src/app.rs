//! The binary edge: clap arguments → config → run → exit code (issues 2, 4).
