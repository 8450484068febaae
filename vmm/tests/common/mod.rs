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
    match std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .open("/dev/kvm")
    {
        Ok(_) => true,
        Err(e) if std::env::var("PMEMVM_SKIP_KVM").as_deref() == Ok("1") => {
            eprintln!("SKIPPED: /dev/kvm not usable ({e}) and PMEMVM_SKIP_KVM=1");
            false
        }
        Err(e) => panic!("/dev/kvm is not usable ({e}); set PMEMVM_SKIP_KVM=1 to skip KVM tests"),
    }
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
