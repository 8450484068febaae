//! The C memory functions the compiler calls; the host target's
//! `compiler_builtins` does not provide them.
//!
//! They may write persistent memory (a user's `copy_from_slice` into the
//! NVDIMM calls `memcpy`), where every store is one exit and one trace
//! event, so they move aligned 8-byte words with plain integer `mov`s and
//! store single bytes only at the unaligned head and tail: no `rep movs`
//! (one exit per byte on the NVDIMM), no SSE or AVX (AVX stores to the
//! NVDIMM fail under PVM). The stores are volatile so that the compiler
//! cannot turn these loops back into calls to these very functions.

/// Word size of the copies and fills.
const WORD: usize = 8;

/// Bytes from `addr` to the next multiple of [`WORD`], at most `n`.
fn head_len(addr: usize, n: usize) -> usize {
    (addr.wrapping_neg() % WORD).min(n)
}

/// Copies `n` bytes from the lowest address up; correct when `dst` does not
/// start inside `src` (`dst <= src` or no overlap): every word is read
/// before the store that may overwrite it.
///
/// # Safety
/// `src` readable and `dst` writable for `n` bytes.
unsafe fn copy_forward(dst: *mut u8, src: *const u8, n: usize) {
    let head = head_len(dst as usize, n);
    let mut i = 0;
    while i < head {
        // SAFETY: i < n; the caller guarantees both ranges.
        unsafe { dst.add(i).write_volatile(src.add(i).read_volatile()) };
        i += 1;
    }
    while n - i >= WORD {
        // SAFETY: i + WORD <= n; dst + i is 8-byte aligned after the head.
        unsafe {
            let w = src.add(i).cast::<u64>().read_unaligned();
            dst.add(i).cast::<u64>().write_volatile(w);
        }
        i += WORD;
    }
    while i < n {
        // SAFETY: i < n.
        unsafe { dst.add(i).write_volatile(src.add(i).read_volatile()) };
        i += 1;
    }
}

/// Copies `n` bytes from the highest address down; correct when `dst`
/// starts inside `src` (`src < dst`).
///
/// # Safety
/// `src` readable and `dst` writable for `n` bytes.
unsafe fn copy_backward(dst: *mut u8, src: *const u8, n: usize) {
    // The tail: bytes above the last 8-byte boundary of dst's range.
    let tail = ((dst as usize).wrapping_add(n) % WORD).min(n);
    let mut i = n;
    while i > n - tail {
        i -= 1;
        // SAFETY: i < n.
        unsafe { dst.add(i).write_volatile(src.add(i).read_volatile()) };
    }
    while i >= WORD {
        i -= WORD;
        // SAFETY: i + WORD <= n; dst + i is 8-byte aligned below the tail.
        unsafe {
            let w = src.add(i).cast::<u64>().read_unaligned();
            dst.add(i).cast::<u64>().write_volatile(w);
        }
    }
    while i > 0 {
        i -= 1;
        // SAFETY: i < n.
        unsafe { dst.add(i).write_volatile(src.add(i).read_volatile()) };
    }
}

/// Copies `n` bytes.
///
/// # Safety
/// The C contract of `memcpy`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn memcpy(dst: *mut u8, src: *const u8, n: usize) -> *mut u8 {
    // SAFETY: the caller upholds memcpy's contract (no overlap).
    unsafe { copy_forward(dst, src, n) };
    dst
}

/// Copies `n` bytes between possibly overlapping buffers.
///
/// # Safety
/// The C contract of `memmove`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn memmove(dst: *mut u8, src: *const u8, n: usize) -> *mut u8 {
    if (dst as usize) <= (src as usize) || (dst as usize) >= (src as usize) + n {
        // SAFETY: forward copy is correct when dst does not start inside src.
        unsafe { copy_forward(dst, src, n) };
    } else {
        // SAFETY: dst starts inside src: copy from the end.
        unsafe { copy_backward(dst, src, n) };
    }
    dst
}

/// Fills `n` bytes with `c`.
///
/// # Safety
/// The C contract of `memset`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn memset(dst: *mut u8, c: i32, n: usize) -> *mut u8 {
    let byte = c as u8;
    let word = u64::from_ne_bytes([byte; WORD]);
    let head = head_len(dst as usize, n);
    let mut i = 0;
    while i < head {
        // SAFETY: i < n; the caller guarantees dst.
        unsafe { dst.add(i).write_volatile(byte) };
        i += 1;
    }
    while n - i >= WORD {
        // SAFETY: i + WORD <= n; dst + i is 8-byte aligned after the head.
        unsafe { dst.add(i).cast::<u64>().write_volatile(word) };
        i += WORD;
    }
    while i < n {
        // SAFETY: i < n.
        unsafe { dst.add(i).write_volatile(byte) };
        i += 1;
    }
    dst
}

/// Compares `n` bytes.
///
/// # Safety
/// The C contract of `memcmp`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn memcmp(a: *const u8, b: *const u8, n: usize) -> i32 {
    // Whole words first, up to the first that differs; then bytes, read
    // volatile so that the compiler cannot turn the loop into a call to
    // this very function.
    let mut i = 0;
    while i + 8 <= n {
        // SAFETY: i + 8 <= n and the caller guarantees n readable bytes.
        let (x, y) = unsafe {
            (
                (a.add(i) as *const u64).read_unaligned(),
                (b.add(i) as *const u64).read_unaligned(),
            )
        };
        if x != y {
            break;
        }
        i += 8;
    }
    while i < n {
        // SAFETY: i < n and the caller guarantees n readable bytes.
        let (x, y) = unsafe { (a.add(i).read_volatile(), b.add(i).read_volatile()) };
        if x != y {
            return x as i32 - y as i32;
        }
        i += 1;
    }
    0
}

/// Compares `n` bytes for equality.
///
/// # Safety
/// The C contract of `bcmp`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn bcmp(a: *const u8, b: *const u8, n: usize) -> i32 {
    // SAFETY: same contract.
    unsafe { memcmp(a, b, n) }
}
