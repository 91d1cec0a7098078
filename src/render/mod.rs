//! Tree → text: `/proc/iomem` (`r_show`), the readable tree view, JSON (issue 2).
pub mod blocks;
pub mod diff;
