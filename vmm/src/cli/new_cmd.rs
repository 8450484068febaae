//! `pmemvm new DIR`: a ready guest project on the SDK (a persistent
//! append-only log with three variants), outside any pmemvm checkout.
//!
//! The project depends on the SDK by path, at the checkout this `pmemvm`
//! was built from; its files are the templates in
//! `guest-tests/sdk/template`, with the names filled in.

use anyhow::Context;
use std::path::{Path, PathBuf};

/// The checkout's guest SDK, where this `pmemvm` was built.
const SDK: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../guest-tests/sdk");
/// The SDK's link helper.
const SDK_BUILD: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../guest-tests/sdk-build");

/// The project's files: path, template.
const FILES: [(&str, &str); 4] = [
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

/// Arguments of `pmemvm new`.
#[derive(Debug, clap::Args)]
pub struct NewArgs {
    /// Directory of the new project (must not exist, or be empty); its name
    /// is the crate's.
    #[arg(value_name = "DIR")]
    dir: PathBuf,
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
    let sdk = checkout_dir(SDK)?;
    let sdk_build = checkout_dir(SDK_BUILD)?;
    let pmemvm = std::env::current_exe()
        .map(|p| p.display().to_string())
        .unwrap_or_else(|_| "pmemvm".into());
    let fill = |template: &str| {
        template
            .replace("{name}", &name)
            .replace("{sdk}", &sdk.display().to_string())
            .replace("{sdk_build}", &sdk_build.display().to_string())
            .replace("{guide}", &sdk.join("GUIDE.md").display().to_string())
            .replace("{pmemvm}", &pmemvm)
    };
    for (path, template) in FILES {
        let file = dir.join(path);
        if let Some(parent) = file.parent() {
            std::fs::create_dir_all(parent)
                .with_context(|| format!("{}: cannot create", parent.display()))?;
        }
        std::fs::write(&file, fill(template))
            .with_context(|| format!("{}: cannot write", file.display()))?;
    }
    println!(
        "created {} (crate {name}, a persistent log with variants correct, no-fence, commit-first)\n\
         next: cd {} && cargo build --release && {pmemvm} crashtest --guest target/release/{name} --variant no-fence",
        dir.display(),
        dir.display()
    );
    Ok(0)
}

/// The crate name `dir`'s last component makes: ASCII letters, digits,
/// `-` and `_`, starting with a letter.
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
            "{}: the directory's name is the crate's: use ASCII letters, digits, `-` and `_`, starting with a letter",
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
