//! Guest RIPs in words: `function (file:line)`.
//!
//! [`Symbols`] is built once from a guest ELF's bytes. It uses the DWARF line
//! tables when the ELF has them (`addr2line`, with the inlined frames), and
//! falls back to the ELF symbol table (function names only) when it has not.
//! Rust names are demangled (without their hash) and file paths shortened
//! (relative to the current directory, or to the crate in the cargo
//! registry or the Rust standard library).

use std::borrow::Cow;
use std::fmt;
use std::ops::Range;
use std::sync::Arc;

use object::read::elf::ElfFile64;
use object::{Object, ObjectSection, ObjectSymbol, SectionKind, SymbolKind};
use serde::Serialize;

use crate::error::VmmError;
use crate::guest::GuestSource;

type Reader = gimli::EndianArcSlice<gimli::RunTimeEndian>;

/// Where an instruction comes from: its function and, with line tables, its
/// source line.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Location {
    /// Demangled function name (`pmemvm_agent::dax::writeback`).
    pub function: String,
    /// Source file, shortened; `None` without line tables.
    pub file: Option<String>,
    /// Line in `file`.
    pub line: Option<u32>,
}

impl fmt::Display for Location {
    /// `function (file:line)`, `function (file)` or `function`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.function)?;
        match (&self.file, self.line) {
            (Some(file), Some(line)) => write!(f, " ({file}:{line})"),
            (Some(file), None) => write!(f, " ({file})"),
            (None, _) => Ok(()),
        }
    }
}

/// A RIP resolved: the innermost (possibly inlined) frame and the function
/// the code was compiled into.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Resolved {
    /// The innermost frame: the inlined function the instruction belongs to,
    /// and the instruction's own file and line.
    pub innermost: Location,
    /// The outermost (non-inlined) function, at the line of the call the
    /// inner frames were inlined from; equal to `innermost` when nothing was
    /// inlined.
    pub outermost: Location,
    /// The innermost frame outside Rust's standard library (`library/...`):
    /// the line of the program that executes the instruction, even when it
    /// did so through an inlined `write_volatile` or `ptr::copy`.
    pub code: Location,
}

impl fmt::Display for Resolved {
    /// `code (file:line)` (the program's frame, not the standard library's),
    /// then `, inlined into outer (file:line)` when it was inlined into
    /// another function.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.code)?;
        if self.outermost.function != self.code.function {
            write!(f, ", inlined into {}", self.outermost)?;
        }
        Ok(())
    }
}

/// One function of the ELF symbol table.
#[derive(Debug, Clone)]
struct TableSymbol {
    address: u64,
    size: u64,
    name: String,
}

/// The symbols and line tables of one guest ELF.
pub struct Symbols {
    /// Address ranges of the code sections: nothing else is resolved (the
    /// line tables of code the linker dropped claim addresses near 0).
    code: Vec<Range<u64>>,
    dwarf: Option<addr2line::Context<Reader>>,
    /// Function symbols sorted by address.
    table: Vec<TableSymbol>,
}

impl fmt::Debug for Symbols {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Symbols")
            .field("code", &self.code)
            .field("line_tables", &self.dwarf.is_some())
            .field("functions", &self.table.len())
            .finish()
    }
}

impl Symbols {
    /// Reads the symbols of the ELF `bytes`, read from `name` (used in
    /// errors). An ELF without symbols or debug information gives a
    /// `Symbols` that resolves nothing; bytes that are not a 64-bit ELF give
    /// an error.
    pub fn from_elf(name: &str, bytes: &[u8]) -> Result<Symbols, VmmError> {
        let file = ElfFile64::<object::Endianness>::parse(bytes).map_err(|e| VmmError::Elf {
            path: name.to_string(),
            reason: format!("cannot read its symbols: {e}"),
        })?;
        let mut table: Vec<TableSymbol> = file
            .symbols()
            .filter(|s| {
                // Functions, and the labels of assembly code (`_start`).
                let in_code = s
                    .section_index()
                    .and_then(|i| file.section_by_index(i).ok())
                    .is_some_and(|section| section.kind() == SectionKind::Text);
                in_code && matches!(s.kind(), SymbolKind::Text | SymbolKind::Unknown)
            })
            .filter_map(|s| {
                Some(TableSymbol {
                    address: s.address(),
                    size: s.size(),
                    name: demangle(s.name().ok()?),
                })
            })
            .collect();
        table.sort_by_key(|s| s.address);
        let code = file
            .sections()
            .filter(|s| s.kind() == SectionKind::Text && s.address() != 0)
            .map(|s| s.address()..s.address().saturating_add(s.size()))
            .collect();
        Ok(Symbols {
            code,
            dwarf: line_tables(&file),
            table,
        })
    }

    /// Reads the symbols of the guest of `source` (its file, or the bundled
    /// guest's).
    pub fn from_source(source: &GuestSource) -> Result<Symbols, VmmError> {
        Symbols::from_elf(&source.name(), &source.bytes()?)
    }

    /// True when the ELF has DWARF line tables (file and line are known).
    pub fn has_line_tables(&self) -> bool {
        self.dwarf.is_some()
    }

    /// The function, file and line of `rip`; `None` outside the code or
    /// when neither the line tables nor the symbol table cover it.
    pub fn resolve(&self, rip: u64) -> Option<Resolved> {
        if !self.code.iter().any(|r| r.contains(&rip)) {
            return None;
        }
        let from_table = || self.function_at(rip).map(str::to_string);
        let Some(ctx) = &self.dwarf else {
            let only = Location {
                function: from_table()?,
                file: None,
                line: None,
            };
            return Some(Resolved {
                innermost: only.clone(),
                outermost: only.clone(),
                code: only,
            });
        };
        let mut frames = Vec::new();
        if let Ok(mut iter) = ctx.find_frames(rip).skip_all_loads() {
            while let Ok(Some(frame)) = iter.next() {
                let function = frame
                    .function
                    .as_ref()
                    .and_then(|f| f.demangle().ok())
                    .map(|n| n.into_owned());
                let (file, line) = frame
                    .location
                    .map_or((None, None), |l| (l.file.map(short_path), l.line));
                frames.push((function, file, line));
            }
        }
        let location = |(function, file, line): (Option<String>, Option<String>, Option<u32>)| {
            Some(Location {
                function: function.or_else(from_table)?,
                file,
                line,
            })
        };
        let innermost = location(frames.first().cloned().unwrap_or_default())?;
        let code = match frames
            .iter()
            .find(|(_, file, _)| !file.as_deref().is_some_and(|f| f.starts_with("library/")))
        {
            Some(frame) => location(frame.clone())?,
            None => innermost.clone(),
        };
        let outermost = match frames.len() {
            0 | 1 => innermost.clone(),
            _ => location(frames.pop().unwrap_or_default())?,
        };
        Some(Resolved {
            innermost,
            outermost,
            code,
        })
    }

    /// `function (file:line)` of `rip` (the innermost frame, even when it
    /// was inlined; [`Symbols::resolve`] and [`Resolved`]'s `Display` give
    /// the function it was inlined into too), or `None`.
    pub fn describe(&self, rip: u64) -> Option<String> {
        self.resolve(rip).map(|r| r.innermost.to_string())
    }

    /// The symbol-table function containing `rip`.
    fn function_at(&self, rip: u64) -> Option<&str> {
        let i = self
            .table
            .partition_point(|s| s.address <= rip)
            .checked_sub(1)?;
        let s = &self.table[i];
        // A symbol without a size covers up to the next one.
        let covers = rip - s.address < s.size
            || s.size == 0 && self.table.get(i + 1).is_none_or(|n| rip < n.address);
        covers.then_some(s.name.as_str())
    }
}

/// The DWARF context of `file`, or `None` without usable line tables.
fn line_tables(file: &ElfFile64<'_, object::Endianness>) -> Option<addr2line::Context<Reader>> {
    let endian = if file.is_little_endian() {
        gimli::RunTimeEndian::Little
    } else {
        gimli::RunTimeEndian::Big
    };
    let has_debug_info = file
        .section_by_name(".debug_info")
        .is_some_and(|s| s.size() > 0);
    if !has_debug_info {
        return None;
    }
    let load = |id: gimli::SectionId| -> Result<Reader, object::Error> {
        let data = match file.section_by_name(id.name()) {
            Some(section) => section.uncompressed_data()?,
            None => Cow::Borrowed(&[][..]),
        };
        Ok(gimli::EndianArcSlice::new(Arc::from(&*data), endian))
    };
    let dwarf = gimli::Dwarf::load(load).ok()?;
    addr2line::Context::from_dwarf(dwarf).ok()
}

/// A Rust (or C++) symbol demangled, without the Rust hash.
fn demangle(name: &str) -> String {
    addr2line::demangle_auto(Cow::Borrowed(name), None).into_owned()
}

/// `path` made short: relative to the current directory, or from the crate
/// directory in the cargo registry, or from `library/` for the standard
/// library (`/rustc/HASH/library/...`).
fn short_path(path: &str) -> String {
    if let Some(rel) = std::env::current_dir().ok().and_then(|cwd| {
        path.strip_prefix(&format!("{}/", cwd.display()))
            .map(str::to_string)
    }) {
        return rel;
    }
    if let Some((_, after)) = path.split_once("/registry/src/") {
        // `index.crates.io-HASH/CRATE-VERSION/src/lib.rs`
        if let Some((_, in_crate)) = after.split_once('/') {
            return in_crate.to_string();
        }
    }
    if let Some(rest) = path.strip_prefix("/rustc/")
        && let Some((_, in_library)) = rest.split_once('/')
    {
        return in_library.to_string();
    }
    path.to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bad_bytes_are_an_error_not_a_panic() {
        for bytes in [
            &b""[..],
            b"not an ELF",
            &[0x7f, b'E', b'L', b'F', 2, 1, 1][..],
        ] {
            let e = Symbols::from_elf("x", bytes).expect_err("not an ELF");
            assert!(e.to_string().contains("guest ELF x"), "{e}");
        }
    }

    #[test]
    fn paths_are_shortened() {
        let cwd = std::env::current_dir().expect("cwd");
        assert_eq!(
            short_path(&format!("{}/src/log.rs", cwd.display())),
            "src/log.rs"
        );
        assert_eq!(
            short_path(
                "/home/u/.cargo/registry/src/index.crates.io-1949cf8c6b5b557f/foo-1.2.3/src/lib.rs"
            ),
            "foo-1.2.3/src/lib.rs"
        );
        assert_eq!(
            short_path(
                "/rustc/17067e9ac6d7e98f18d4f4bbd5a6d6bd3bca7c3a/library/core/src/ptr/mod.rs"
            ),
            "library/core/src/ptr/mod.rs"
        );
        assert_eq!(short_path("/elsewhere/x.rs"), "/elsewhere/x.rs");
    }

    #[test]
    fn the_bundled_guest_resolves_its_entry_point() {
        let elf = GuestSource::Bundled.load().expect("bundled guest parses");
        let symbols = Symbols::from_source(&GuestSource::Bundled).expect("bundled guest's symbols");
        assert!(symbols.has_line_tables());
        let start = symbols
            .resolve(elf.entry)
            .expect("the entry point has a symbol");
        assert!(start.outermost.function.contains("_start"), "{start:?}");
        // The line tables of code the linker dropped claim addresses near 0.
        assert_eq!(symbols.describe(0), None, "nothing at address 0");
        let (_, end) = elf.extent();
        assert_eq!(symbols.describe(end), None, "nothing after the image");
    }
}
