//! The `pmemvm` command line.

mod cli;

fn main() {
    // Die quietly when stdout is closed early (`pmemvm ... | head`).
    // SAFETY: restoring the default disposition of SIGPIPE has no preconditions.
    unsafe { libc::signal(libc::SIGPIPE, libc::SIG_DFL) };
    std::process::exit(cli::main());
}
