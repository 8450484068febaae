//! What the CLI tests share. (Each test crate includes this module and uses
//! part of it.)
#![allow(dead_code)]

use std::process::{Command, Output};

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
