//! The `pmemvm` command line.

mod cli;

fn main() {
    // Die quietly when stdout is closed early (`pmemvm ... | head`).
    // SAFETY: restoring the default disposition of SIGPIPE has no preconditions.
    unsafe { libc::signal(libc::SIGPIPE, libc::SIG_DFL) };
    // A panic, in any thread, is pmemvm's own fault: one line, exit 2
    // (before `panic = "abort"` would abort).
    std::panic::set_hook(Box::new(|info| {
        let message = info
            .payload()
            .downcast_ref::<&str>()
            .copied()
            .or_else(|| info.payload().downcast_ref::<String>().map(String::as_str))
            .unwrap_or("(no message)");
        let at = info
            .location()
            .map(|l| format!(" at {}:{}", l.file(), l.line()))
            .unwrap_or_default();
        eprintln!(
            "pmemvm: internal error: panic{at}: {} (please report it)",
            pmemvm_abi::shown::Shown(message)
        );
        std::process::exit(2);
    }));
    std::process::exit(cli::main());
}
