//! Kernel versions: `--kernel X.Y[.Z]`.
//!
//! A key `X.Y` means *that series as shipped today* (latest stable, backports included);
//! `X.Y.0` means the original release, where a stable backport changed behaviour
//! (kernel-semantics.md §2.8: the v6.3 `release_mem_region_adjustable` fix reached 6.1-stable).

use std::fmt;
use std::str::FromStr;

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, serde::Serialize)]
pub struct KernelVersion {
    pub major: u32,
    pub minor: u32,
    /// `Some(0)` for an original release (`6.1.0`); `None` for "the series today".
    pub patch: Option<u32>,
}

impl KernelVersion {
    /// The newest behaviour modelled (the default of `--kernel`).
    pub const NEWEST: KernelVersion = KernelVersion::new(6, 18);

    pub const fn new(major: u32, minor: u32) -> KernelVersion {
        KernelVersion {
            major,
            minor,
            patch: None,
        }
    }

    /// `self >= major.minor` (series comparison; the patch level is ignored).
    pub fn at_least(self, major: u32, minor: u32) -> bool {
        (self.major, self.minor) >= (major, minor)
    }

    /// `self <= major.minor` (series comparison).
    pub fn at_most(self, major: u32, minor: u32) -> bool {
        (self.major, self.minor) <= (major, minor)
    }

    /// True for `X.Y.0`: the original release, without later stable backports.
    pub fn is_original_release(self) -> bool {
        self.patch == Some(0)
    }
}

/// Series order; within a series the original release (`X.Y.0`) and its stable updates
/// (`X.Y.Z`) come before "the series today" (`X.Y`), which has every backport.
impl Ord for KernelVersion {
    fn cmp(&self, o: &Self) -> std::cmp::Ordering {
        let key = |v: &KernelVersion| (v.major, v.minor, v.patch.unwrap_or(u32::MAX));
        key(self).cmp(&key(o))
    }
}

impl PartialOrd for KernelVersion {
    fn partial_cmp(&self, o: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(o))
    }
}

impl Default for KernelVersion {
    fn default() -> Self {
        KernelVersion::NEWEST
    }
}

impl fmt::Display for KernelVersion {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.patch {
            Some(p) => write!(f, "{}.{}.{}", self.major, self.minor, p),
            None => write!(f, "{}.{}", self.major, self.minor),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "bad kernel version {0:?}: expected X.Y or X.Y.Z without leading zeros (e.g. 5.1, 6.1, 6.1.0), from 2.6 up"
)]
pub struct BadVersion(pub String);

impl FromStr for KernelVersion {
    type Err = BadVersion;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let bad = || BadVersion(s.to_string());
        let t = s.trim().trim_start_matches(['v', 'V']);
        let mut it = t.split('.');
        let num = |p: Option<&str>| -> Result<u32, BadVersion> {
            let p = p.ok_or_else(bad)?;
            if p.is_empty() || p.len() > 4 || !p.bytes().all(|b| b.is_ascii_digit()) {
                return Err(bad());
            }
            // `5.01` is not 5.1: kernel versions never have leading zeros (issue 14 item 12).
            if p.len() > 1 && p.starts_with('0') {
                return Err(bad());
            }
            p.parse().map_err(|_| bad())
        };
        let major = num(it.next())?;
        let minor = num(it.next())?;
        let patch = match it.next() {
            Some(p) => Some(num(Some(p))?),
            None => None,
        };
        if it.next().is_some() || !(2..=99).contains(&major) {
            return Err(bad());
        }
        Ok(KernelVersion {
            major,
            minor,
            patch,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_and_compares() {
        let v: KernelVersion = "5.1".parse().unwrap();
        assert!(v.at_least(5, 1) && !v.at_least(5, 2) && v.at_most(5, 1));
        let v: KernelVersion = "6.1.0".parse().unwrap();
        assert!(v.is_original_release() && v.at_least(6, 1));
        assert_eq!(v.to_string(), "6.1.0");
        assert!("v6.12".parse::<KernelVersion>().unwrap().at_least(6, 12));
        for bad in [
            "", "6", "6.", "6.x", "6.1.2.3", "1.0", "100.1", "6.-1", "5.01", "05.1", "6.1.00",
        ] {
            assert!(bad.parse::<KernelVersion>().is_err(), "{bad}");
        }
    }
}
