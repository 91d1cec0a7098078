//! Semantic styles for every renderer. Renderers ask for "addr" or "added", never for "green".
//!
//! `Palette::plain()` never calls into the `colored` crate, so plain output (snapshots, pipes)
//! does not depend on its process-global override. A colored palette paints through `colored`,
//! whose override the app sets once from `--color`/`NO_COLOR`/`TERM`.

use colored::Colorize;

/// What a piece of text is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Style {
    Addr,
    Size,
    Name,
    /// System RAM (the thing memory hotplug is about).
    Ram,
    /// Depth guides.
    Guide,
    Dim,
    Flags,
    Heading,
    Warn,
    Error,
    Added,
    Removed,
    Changed,
    /// Address-space classes of `map` (System RAM is [`Style::Ram`], holes [`Style::Dim`]).
    Kmem,
    Pmem,
    SoftReserved,
    Reserved,
    Pci,
    Firmware,
    Device,
}

/// Plain or colored styling.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Palette {
    color: bool,
}

impl Palette {
    /// No escapes at all; never touches `colored`'s global state.
    pub const fn plain() -> Palette {
        Palette { color: false }
    }
    /// ANSI colors through `colored`.
    pub const fn colored() -> Palette {
        Palette { color: true }
    }
    pub const fn new(color: bool) -> Palette {
        Palette { color }
    }
    pub fn is_colored(&self) -> bool {
        self.color
    }

    /// `s` styled as `style`.
    pub fn paint(&self, style: Style, s: &str) -> String {
        if !self.color || s.is_empty() {
            return s.to_string();
        }
        let c = match style {
            Style::Addr => s.cyan(),
            Style::Size => s.yellow(),
            Style::Name => return s.to_string(),
            Style::Ram => s.green().bold(),
            Style::Guide | Style::Dim => s.dimmed(),
            Style::Flags => s.magenta(),
            Style::Heading => s.bold(),
            Style::Warn => s.yellow().bold(),
            Style::Error => s.red().bold(),
            Style::Added => s.green(),
            Style::Removed => s.red(),
            Style::Changed => s.yellow(),
            Style::Kmem => s.bright_green(),
            Style::Pmem => s.magenta(),
            Style::SoftReserved => s.bright_magenta(),
            Style::Reserved => s.bright_black(),
            Style::Pci => s.blue(),
            Style::Firmware => s.yellow(),
            Style::Device => s.cyan(),
        };
        c.to_string()
    }

    pub fn addr(&self, s: &str) -> String {
        self.paint(Style::Addr, s)
    }
    pub fn size(&self, s: &str) -> String {
        self.paint(Style::Size, s)
    }
    pub fn name(&self, s: &str) -> String {
        self.paint(Style::Name, s)
    }
    pub fn ram(&self, s: &str) -> String {
        self.paint(Style::Ram, s)
    }
    pub fn guide(&self, s: &str) -> String {
        self.paint(Style::Guide, s)
    }
    pub fn dim(&self, s: &str) -> String {
        self.paint(Style::Dim, s)
    }
    pub fn flags(&self, s: &str) -> String {
        self.paint(Style::Flags, s)
    }
    pub fn heading(&self, s: &str) -> String {
        self.paint(Style::Heading, s)
    }
    pub fn warn(&self, s: &str) -> String {
        self.paint(Style::Warn, s)
    }
    pub fn error(&self, s: &str) -> String {
        self.paint(Style::Error, s)
    }
    pub fn added(&self, s: &str) -> String {
        self.paint(Style::Added, s)
    }
    pub fn removed(&self, s: &str) -> String {
        self.paint(Style::Removed, s)
    }
    pub fn changed(&self, s: &str) -> String {
        self.paint(Style::Changed, s)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plain_is_identity() {
        let p = Palette::plain();
        assert_eq!(p.error("x"), "x");
        assert_eq!(p.paint(Style::Added, "+ a"), "+ a");
    }
}
