//! What the CLI tests share. (Each test crate includes this module and uses
//! part of it.)
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

/// A fresh directory `pmemvm-new-{name}-{pid}` under the system's temporary
/// directory (outside the workspace), as a new user's project would be.
pub fn outside(name: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("pmemvm-new-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).expect("dir");
    d
}

/// A path as the `&str` an argument list takes.
pub fn utf8(p: &Path) -> &str {
    p.to_str().expect("UTF-8 path")
}

/// Runs `pmemvm` with `args` (warnings only on stderr) to its end.
pub fn pmemvm(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_pmemvm"))
        .args(args)
        .env("RUST_LOG", "warn")
        .output()
        .expect("pmemvm starts")
}

/// Bytes of an output stream as text.
pub fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

/// True when the test may use KVM; false (after saying so) when it must skip.
/// Fails loudly without KVM unless `PMEMVM_SKIP_KVM=1`.
pub fn kvm() -> bool {
    pmemvm::testing::kvm_or_skip(std::thread::current().name().unwrap_or("test"))
}

/// Splits a command line the way a POSIX shell splits the ones pmemvm
/// prints: plain words and single-quoted words.
pub fn shell_words(cmd: &str) -> Vec<String> {
    let mut words = Vec::new();
    let mut cur = String::new();
    let (mut quoted, mut started) = (false, false);
    for c in cmd.chars() {
        match c {
            '\'' => {
                quoted = !quoted;
                started = true;
            }
            ' ' if !quoted => {
                if started {
                    words.push(std::mem::take(&mut cur));
                }
                started = false;
            }
            c => {
                cur.push(c);
                started = true;
            }
        }
    }
    if started {
        words.push(cur);
    }
    words
}

/// Runs a command line the report printed (`pmemvm ...`), with `--json`,
/// and with the value of option `set.0` replaced by `set.1` if given.
pub fn run_printed(cmd: &str, set: Option<(&str, &str)>) -> (Option<i32>, serde_json::Value) {
    let mut args = shell_words(cmd);
    assert_eq!(args.remove(0), "pmemvm", "{cmd}");
    if let Some((option, value)) = set {
        let at = args.iter().position(|a| a == option).expect("the option");
        args[at + 1] = value.into();
    }
    args.push("--json".into());
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let out = pmemvm(&args);
    let report = serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
        panic!("{cmd}: not JSON ({e}): {}", text(&out.stderr));
    });
    (out.status.code(), report)
}

/// A directory `pmemvm-{name}-{pid}` under the system's temporary
/// directory, removed when dropped.
pub struct TempDir(PathBuf);

impl TempDir {
    /// Creates it (empty).
    pub fn new(name: &str) -> TempDir {
        let p = std::env::temp_dir().join(format!("pmemvm-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&p);
        std::fs::create_dir_all(&p).expect("temp dir");
        TempDir(p)
    }

    /// `name` inside it.
    pub fn path(&self, name: &str) -> PathBuf {
        self.0.join(name)
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}
