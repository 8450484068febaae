//! The one encoding of every structure the guest and the VMM exchange
//! through guest memory.
//!
//! Both sides are x86-64, so a structure's bytes in guest memory are its
//! `repr(C)` in-memory representation (little-endian, no padding). The guest
//! reads and writes these types in place; the VMM copies their bytes out of
//! and into guest memory with [`Plain::from_bytes`] and [`Plain::as_bytes`],
//! never by word index. Each type's size and field offsets are asserted at
//! compile time next to its definition, so a change to a structure changes
//! both sides or fails to build.
//!
//! ```
//! use pmemvm_abi::{Plain, PromiseArgs};
//!
//! let p = PromiseArgs { file: 1, offset: 0, len: 4096, op: 7, range_offset: 0x2000, range_len: 4096 };
//! let bytes = p.as_bytes();
//! assert_eq!(bytes.len(), 48);
//! assert_eq!(PromiseArgs::from_bytes(bytes), Some(p));
//! assert_eq!(PromiseArgs::from_bytes(&bytes[..47]), None);
//! ```

/// Plain data: a `Copy` type whose bytes are its whole value.
///
/// # Safety
/// Implement only for `repr(C)` (or primitive integer) types made of
/// integers and arrays of them, with no padding bytes, for which every bit
/// pattern is a valid value.
pub unsafe trait Plain: Copy + 'static {
    /// Size of the encoding in bytes.
    const SIZE: usize = core::mem::size_of::<Self>();

    /// The value's bytes, as they lie in guest memory.
    fn as_bytes(&self) -> &[u8] {
        // SAFETY: `Self: Plain` has no padding, so all `SIZE` bytes from
        // `self` are initialised; the slice borrows `self`.
        unsafe { core::slice::from_raw_parts((self as *const Self).cast::<u8>(), Self::SIZE) }
    }

    /// The value `bytes` encode, when there are exactly [`Plain::SIZE`] of them.
    fn from_bytes(bytes: &[u8]) -> Option<Self> {
        if bytes.len() != Self::SIZE {
            return None;
        }
        // SAFETY: `bytes` holds `SIZE` bytes; every bit pattern is a valid
        // `Self` (`Plain`'s contract); the read needs no alignment.
        Some(unsafe { bytes.as_ptr().cast::<Self>().read_unaligned() })
    }
}

// SAFETY: primitive integers: no padding, every bit pattern valid.
unsafe impl Plain for u32 {}
// SAFETY: as above.
unsafe impl Plain for u64 {}

/// Size of a field, named by a projection (for [`plain!`]'s assertions).
pub(crate) const fn field_size<T, F>(_: fn(&T) -> &F) -> usize {
    core::mem::size_of::<F>()
}

/// Implements [`Plain`] for `$t` after asserting at compile time its size
/// and the offset of every one of its fields: the fields listed must be all
/// of them (their sizes add up to the size: no padding) and lie where given.
macro_rules! plain {
    ($t:ty, $size:expr, { $($field:ident: $off:expr),* $(,)? }) => {
        const _: () = {
            assert!(core::mem::size_of::<$t>() == $size);
            $(assert!(core::mem::offset_of!($t, $field) == $off);)*
            assert!(0 $(+ $crate::codec::field_size(|v: &$t| &v.$field))* == $size);
        };
        // SAFETY: `repr(C)`, integers and integer arrays only; the asserts
        // above show every field listed and no padding between them.
        unsafe impl $crate::codec::Plain for $t {}
    };
}
pub(crate) use plain;
