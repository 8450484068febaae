//! `pmemvm new DIR [--lang rust|c]`: a ready guest project on the SDK (a
//! persistent append-only log with three variants), outside any pmemvm
//! checkout.
//!
//! A Rust project depends on the SDK by path, at the checkout this `pmemvm`
//! was built from; its files are the templates in
//! `guest-tests/sdk/template`, with the names filled in. A C project needs
//! no checkout: the C SDK (headers, the C part of its libc, the linker
//! script, and the static library `vmm/build.rs` built) is embedded in
//! `pmemvm` and written into the project's `pmemvm/`, next to the templates
//! of `guest-tests/sdk-c/template`.

use anyhow::Context;
use std::path::{Path, PathBuf};

/// The checkout's guest SDK, where this `pmemvm` was built.
const SDK: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../guest-tests/sdk");
/// The SDK's link helper.
const SDK_BUILD: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../guest-tests/sdk-build");

/// A file of a project: its path and its template (`{name}`, `{sdk}`,
/// `{sdk_build}`, `{guide}` and `{pmemvm}` filled in).
type Template = (&'static str, &'static str);

/// The Rust project's files.
const RUST_FILES: [Template; 4] = [
    (
        "Cargo.toml",
        include_str!("../../../guest-tests/sdk/template/Cargo.toml"),
    ),
    (
        "build.rs",
        include_str!("../../../guest-tests/sdk/template/build.rs"),
    ),
    (
        "src/main.rs",
        include_str!("../../../guest-tests/sdk/template/src/main.rs"),
    ),
    (
        "README.md",
        include_str!("../../../guest-tests/sdk/template/README.md"),
    ),
];

/// The C project's own files.
const C_FILES: [Template; 3] = [
    (
        "Makefile",
        include_str!("../../../guest-tests/sdk-c/template/Makefile"),
    ),
    (
        "log.c",
        include_str!("../../../guest-tests/sdk-c/template/log.c"),
    ),
    (
        "README.md",
        include_str!("../../../guest-tests/sdk-c/template/README.md"),
    ),
];

/// The C SDK, written verbatim under the C project's `pmemvm/`.
const C_SDK: [(&str, &[u8]); 12] = [
    (
        "libpmemvm.a",
        include_bytes!(concat!(env!("OUT_DIR"), "/libpmemvm_sdk_c.a")),
    ),
    (
        "guest.ld",
        include_bytes!("../../../guest-tests/sdk-build/guest.ld"),
    ),
    (
        "libc.c",
        include_bytes!("../../../guest-tests/sdk-c/c/libc.c"),
    ),
    (
        "include/pmemvm.h",
        include_bytes!("../../../guest-tests/sdk-c/c/include/pmemvm.h"),
    ),
    (
        "include/pmemvm/intrin.h",
        include_bytes!("../../../guest-tests/sdk-c/c/include/pmemvm/intrin.h"),
    ),
    (
        "include/libpmem.h",
        include_bytes!("../../../guest-tests/sdk-c/c/include/libpmem.h"),
    ),
    (
        "include/string.h",
        include_bytes!("../../../guest-tests/sdk-c/c/include/string.h"),
    ),
    (
        "include/stdio.h",
        include_bytes!("../../../guest-tests/sdk-c/c/include/stdio.h"),
    ),
    (
        "include/stdlib.h",
        include_bytes!("../../../guest-tests/sdk-c/c/include/stdlib.h"),
    ),
    (
        "include/assert.h",
        include_bytes!("../../../guest-tests/sdk-c/c/include/assert.h"),
    ),
    (
        "include/errno.h",
        include_bytes!("../../../guest-tests/sdk-c/c/include/errno.h"),
    ),
    (
        "README.md",
        include_bytes!("../../../guest-tests/sdk-c/c/README.md"),
    ),
];

/// The language of a new project.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Lang {
    /// A cargo crate on the Rust SDK of this checkout.
    Rust,
    /// A Makefile project for the system C compiler, with the C SDK in it.
    C,
}

/// Arguments of `pmemvm new`.
#[derive(Debug, clap::Args)]
pub struct NewArgs {
    /// Directory of the new project (must not exist, or be empty); its name
    /// is the crate's (Rust) or the guest's (C).
    #[arg(value_name = "DIR")]
    dir: PathBuf,
    /// The project's language: `rust` (a cargo crate) or `c` (a Makefile
    /// for `cc`, with the C SDK written into it).
    #[arg(long, value_enum, default_value = "rust")]
    lang: Lang,
}

/// Writes the project.
pub fn run(a: &NewArgs) -> anyhow::Result<i32> {
    let dir = &a.dir;
    let name = crate_name(dir)?;
    if dir.exists()
        && (!dir.is_dir()
            || std::fs::read_dir(dir)
                .with_context(|| format!("{}", dir.display()))?
                .next()
                .is_some())
    {
        anyhow::bail!(
            "{}: already exists and is not an empty directory; choose a new one",
            dir.display()
        );
    }
    let pmemvm = std::env::current_exe()
        .map(|p| p.display().to_string())
        .unwrap_or_else(|_| "pmemvm".into());
    let variants = "a persistent log with variants correct, no-fence, commit-first";
    match a.lang {
        Lang::Rust => {
            let sdk = checkout_dir(SDK)?;
            let sdk_build = checkout_dir(SDK_BUILD)?;
            let fill = |template: &str| {
                template
                    .replace("{name}", &name)
                    .replace("{sdk}", &sdk.display().to_string())
                    .replace("{sdk_build}", &sdk_build.display().to_string())
                    .replace("{guide}", &sdk.join("GUIDE.md").display().to_string())
                    .replace("{pmemvm}", &pmemvm)
            };
            for (path, template) in RUST_FILES {
                write(dir, path, fill(template).as_bytes())?;
            }
            println!(
                "created {} (crate {name}, {variants})\n\
                 next: cd {} && cargo build --release && {pmemvm} crashtest --guest target/release/{name} --variant no-fence",
                dir.display(),
                dir.display()
            );
        }
        Lang::C => {
            let guide = std::fs::canonicalize(format!("{SDK}/GUIDE.md")).map_or_else(
                |_| "guest-tests/sdk/GUIDE.md in the pmemvm checkout".into(),
                |p| p.display().to_string(),
            );
            let fill = |template: &str| {
                template
                    .replace("{name}", &name)
                    .replace("{guide}", &guide)
                    .replace("{pmemvm}", &pmemvm)
            };
            for (path, template) in C_FILES {
                write(dir, path, fill(template).as_bytes())?;
            }
            for (path, bytes) in C_SDK {
                write(&dir.join("pmemvm"), path, bytes)?;
            }
            println!(
                "created {} (a C guest {name}, {variants}; the C SDK in pmemvm/)\n\
                 next: cd {} && make && {pmemvm} crashtest --guest {name} --variant no-fence",
                dir.display(),
                dir.display()
            );
        }
    }
    Ok(0)
}

/// Writes `bytes` to `dir/path`, making its directories.
fn write(dir: &Path, path: &str, bytes: &[u8]) -> anyhow::Result<()> {
    let file = dir.join(path);
    if let Some(parent) = file.parent() {
        std::fs::create_dir_all(parent)
            .with_context(|| format!("{}: cannot create", parent.display()))?;
    }
    std::fs::write(&file, bytes).with_context(|| format!("{}: cannot write", file.display()))
}

/// The name `dir`'s last component makes (the crate's, or the C guest's):
/// ASCII letters, digits, `-` and `_`, starting with a letter.
fn crate_name(dir: &Path) -> anyhow::Result<String> {
    let name = dir
        .file_name()
        .and_then(|n| n.to_str())
        .unwrap_or_default()
        .to_string();
    let valid = name.starts_with(|c: char| c.is_ascii_alphabetic())
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_');
    if !valid {
        anyhow::bail!(
            "{}: the directory's name is the project's: use ASCII letters, digits, `-` and `_`, starting with a letter",
            dir.display()
        );
    }
    Ok(name)
}

/// A directory of the checkout this `pmemvm` was built from.
fn checkout_dir(path: &str) -> anyhow::Result<PathBuf> {
    std::fs::canonicalize(path).map_err(|e| {
        anyhow::anyhow!(
            "{path}: {e}; `pmemvm new` makes projects that use the SDK in the pmemvm checkout this pmemvm was built from"
        )
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_directory_names_the_crate() {
        assert_eq!(
            crate_name(Path::new("/tmp/my-log")).ok().as_deref(),
            Some("my-log")
        );
        for bad in ["/tmp/1log", "/tmp/my log", "/", "/tmp/é"] {
            assert!(crate_name(Path::new(bad)).is_err(), "{bad}");
        }
    }
}
