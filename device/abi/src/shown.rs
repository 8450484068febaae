//! How a value that came from outside (an option, a file, the guest) is
//! shown in a message: control characters escaped, cut after
//! [`Shown::MAX_CHARS`] characters with the length of what was left out,
//! so a message stays one readable line whatever the value holds.

use core::fmt;

/// `value` as a message shows it (see the module documentation).
pub struct Shown<'a>(pub &'a str);

impl Shown<'_> {
    /// Characters shown before the value is cut.
    pub const MAX_CHARS: usize = 120;
}

impl fmt::Display for Shown<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, (at, c)) in self.0.char_indices().enumerate() {
            if i == Self::MAX_CHARS {
                return write!(f, "... ({} more bytes)", self.0.len() - at);
            }
            if c.is_control() {
                write!(f, "{}", c.escape_default())?;
            } else {
                write!(f, "{c}")?;
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    extern crate std;
    use super::Shown;
    use std::format;
    use std::string::String;

    #[test]
    fn control_characters_are_escaped_and_long_values_cut() {
        assert_eq!(format!("{}", Shown("a\nb\x1b[31m")), "a\\nb\\u{1b}[31m");
        let long: String = core::iter::repeat_n('x', 1000).collect();
        let shown = format!("{}", Shown(&long));
        assert_eq!(shown.len(), Shown::MAX_CHARS + "... (880 more bytes)".len());
        assert!(shown.ends_with("... (880 more bytes)"), "{shown}");
        assert_eq!(format!("{}", Shown("fine")), "fine");
    }
}
