//! iomem-sim: the Linux kernel's physical address space (`/proc/iomem`) and its memory-hotplug
//! code, simulated version by version.
//!
//! Data flows one way: text → [`parse`] → [`tree`] → [`kernel`] operations → [`session`]
//! (steps, undo) → [`diff`] → [`render`]. Each module owns one step and knows nothing of the
//! ones after it. [`app`] is the binary edge (clap in, exit code out).

pub mod app;
pub mod capture;
pub mod check;
pub mod command;
pub mod compare;
pub mod complete;
pub mod diff;
pub mod examples;
pub mod infer;
pub mod input;
pub mod kernel;
pub mod live;
pub mod manual;
pub mod parse;
pub mod render;
pub mod repl;
pub mod save;
pub mod session;
pub mod tools;
pub mod tree;
pub mod validate;

#[cfg(test)]
pub(crate) mod testutil;
