//! Console output, line-buffered and sent by hypercall.

use crate::global::Global;
use pmemvm_abi::hc;

const BUF: usize = 512;

struct Line {
    buf: [u8; BUF],
    len: usize,
}

static LINE: Global<Line> = Global::new(Line {
    buf: [0; BUF],
    len: 0,
});

/// Sends whatever is buffered to the VMM.
pub fn flush() {
    // SAFETY: single vCPU, no concurrent access (see `Global`).
    let line = unsafe { &mut *LINE.get() };
    if line.len > 0 {
        crate::io::hypercall(
            hc::CONSOLE_WRITE,
            &[line.buf.as_ptr() as u64, line.len as u64],
        );
        line.len = 0;
    }
}

/// Appends bytes to the console, flushing at each newline.
pub fn write_bytes(bytes: &[u8]) {
    for &b in bytes {
        // SAFETY: single vCPU, no concurrent access (see `Global`).
        let line = unsafe { &mut *LINE.get() };
        line.buf[line.len] = b;
        line.len += 1;
        if b == b'\n' || line.len == BUF {
            flush();
        }
    }
}

/// The console as a `core::fmt::Write`.
pub struct Console;

impl core::fmt::Write for Console {
    fn write_str(&mut self, s: &str) -> core::fmt::Result {
        write_bytes(s.as_bytes());
        Ok(())
    }
}

/// Prints to the guest console.
#[macro_export]
macro_rules! print {
    ($($arg:tt)*) => {{
        let _ = core::fmt::Write::write_fmt(&mut $crate::console::Console, format_args!($($arg)*));
    }};
}

/// Prints a line to the guest console.
#[macro_export]
macro_rules! println {
    () => { $crate::print!("\n") };
    ($($arg:tt)*) => {{
        $crate::print!($($arg)*);
        $crate::print!("\n");
    }};
}
